"""Delimited text: encodings, delimiters, quoting, typing from the instrument, bad input."""

import numpy as np
import pandas as pd
import pytest

from peerscale.errors import PeerscaleError
from peerscale.io import read_table
from peerscale.spec import adhoc_instrument

INST = adhoc_instrument(["A=a1,a2,-a3"], value_range=(1, 5))


def write(tmp_path, name, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_utf8_bom_semicolon_and_quoted_newlines(tmp_path):
    p = write(tmp_path, "x.csv", '\ufeffid;a1;note\n1;3;"two\nlines; with ; delimiters"\n2;4;"say ""hi"""\n'.encode())
    t = read_table(p)
    assert list(t.data.columns) == ["id", "a1", "note"]  # BOM not glued to the first name
    assert t.data["note"].tolist() == ["two\nlines; with ; delimiters", 'say "hi"']
    assert t.data["a1"].tolist() == [3, 4]
    assert t.warnings == []


def test_tab_delimited_is_sniffed(tmp_path):
    t = read_table(write(tmp_path, "x.txt", b"id\ta1\ta2\n1\t1\t2\n2\t3\t4\n"))
    assert list(t.data.columns) == ["id", "a1", "a2"]


def test_cp1252_falls_back_with_a_warning(tmp_path):
    t = read_table(write(tmp_path, "x.csv", "id,name\n1,Zoë – café\n".encode("cp1252")))
    assert t.data["name"].tolist() == ["Zoë – café"]
    assert len(t.warnings) == 1 and "cp1252" in t.warnings[0] and "line 2" in t.warnings[0]


def test_bytes_cp1252_cannot_map_fall_back_to_latin1(tmp_path):
    t = read_table(write(tmp_path, "x.csv", b"id,name\n1,a\x81b\n"))
    assert "latin-1" in t.warnings[0]


def test_explicit_encoding_and_utf16(tmp_path):
    t = read_table(write(tmp_path, "x.csv", "id,name\n1,Zoë\n".encode("latin-1")), encoding="latin-1")
    assert t.data["name"].tolist() == ["Zoë"] and t.warnings == []
    t = read_table(write(tmp_path, "u.csv", "id,name\n1,Zoë\n".encode("utf-16")))
    assert t.data["name"].tolist() == ["Zoë"]
    with pytest.raises(PeerscaleError, match="not valid UTF-8"):
        read_table(write(tmp_path, "y.csv", b"id,name\n1,\xe9\n"), encoding="utf-8")
    with pytest.raises(PeerscaleError, match="unknown encoding"):
        read_table(write(tmp_path, "z.csv", b"id\n1\n"), encoding="klingon")


def test_instrument_types_items_numeric_and_everything_else_text(tmp_path):
    p = write(tmp_path, "x.csv", b"site,id,a1,a2,a3,age\n01,007,1,2,3,19\n02,008,4,,5,20\n")
    t = read_table(p, instrument=INST)
    assert t.data["id"].tolist() == ["007", "008"] and t.data["site"].tolist() == ["01", "02"]
    assert t.data["age"].tolist() == ["19", "20"]
    for c in ("a1", "a2", "a3"):
        assert t.data[c].dtype == np.float64
    assert np.isnan(t.data["a2"][1])


def test_leading_zero_columns_stay_text_without_instrument(tmp_path):
    t = read_table(write(tmp_path, "x.csv", b"code,a1\n007,1\n010,2\n"))
    assert t.data["code"].tolist() == ["007", "010"]


def test_missing_codes_keep_item_columns_readable(tmp_path):
    p = write(tmp_path, "x.csv", b"id,a1,a2,a3\n1,-999,UNK,NA\n2,2,3,4\n")
    t = read_table(p, instrument=INST, missing_codes={"-999": "Not asked", "UNK": "Unknown", "NA": "Not applicable"})
    assert t.data["a1"].tolist() == [-999.0, 2.0]
    assert t.missing_values["a1"] == {-999.0: "Not asked"}
    assert t.data["a2"].tolist() == ["UNK", "3"]  # raw strings: the engine converts them
    assert t.data["a3"].tolist() == ["NA", "4"]   # NA is a declared code here, so not blank
    assert t.missing_values["a2"] == {"-999": "Not asked", "UNK": "Unknown", "NA": "Not applicable"}


def test_na_is_blank_unless_declared(tmp_path):
    t = read_table(write(tmp_path, "x.csv", b"id,a1,a2,a3\n1,NA,,3\n2,2,3,4\n"), instrument=INST)
    assert np.isnan(t.data["a1"][0]) and t.data["a1"].dtype == np.float64


def test_padded_numbers_in_items_are_numbers(tmp_path):
    t = read_table(write(tmp_path, "x.csv", b'id,a1,a2,a3\n1," 3 ",2,1\n'), instrument=INST)
    assert t.data["a1"].tolist() == [3.0]


def test_decimal_commas_in_semicolon_files(tmp_path):
    t = read_table(write(tmp_path, "x.csv", b"id;score\n1;2,5\n2;3,75\n"))
    assert t.data["score"].tolist() == [2.5, 3.75]
    assert "decimal" in t.warnings[0]


def test_trailing_delimiter_column_is_dropped(tmp_path):
    t = read_table(write(tmp_path, "x.csv", b"id,a1,\n1,2,\n3,4,\n"))
    assert list(t.data.columns) == ["id", "a1"]


@pytest.mark.parametrize("content,message", [
    (b"", "empty"),
    (b"  \n\n", "empty"),
    (b"id,a1,a2\n", "header but no data rows"),
    (b"id,a1,a2\r\n\r\n", "header but no data rows"),
    (b"id,a1\n1,2\n3,4,5\n", "3 fields where the header has 2"),
    (b"id,a1,a1\n1,2,3\n", "more than once"),
    (b"$FL2\x00\x00\x00\x02binary", "binary"),
])
def test_bad_files_are_clear_errors(tmp_path, content, message):
    with pytest.raises(PeerscaleError, match=message):
        read_table(write(tmp_path, "bad.csv", content), instrument=INST)


def test_bad_row_error_names_the_row(tmp_path):
    with pytest.raises(PeerscaleError) as err:
        read_table(write(tmp_path, "x.csv", b"id,a1\n1,2\n2,3\n3,4,5\n"))
    assert "row 3" in str(err.value) and "delimiter" in str(err.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(PeerscaleError, match="not found"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(PeerscaleError, match="directory"):
        read_table(tmp_path)


def test_unknown_format_and_xls(tmp_path):
    p = write(tmp_path, "x.csv", b"id\n1\n")
    with pytest.raises(PeerscaleError, match="unknown input format"):
        read_table(p, format="foo")
    with pytest.raises(PeerscaleError, match=r"\.xls"):
        read_table(write(tmp_path, "old.xls", b"\xd0\xcf\x11\xe0rest"))
    with pytest.raises(PeerscaleError, match="`sheet`"):
        read_table(p, sheet="2")


def test_case_only_renames_are_suggested(tmp_path):
    inst = adhoc_instrument(["A=A1,A2"], value_range=(1, 5))
    t = read_table(write(tmp_path, "x.csv", b"record_id,a1,a2\n1,1,2\n"), instrument=inst)
    assert t.suggested_map == {"a1": "A1", "a2": "A2"}
    assert t.data["a1"].dtype == np.float64


def test_large_file_typing_beyond_the_sample(tmp_path):
    """A text value far past the sniffing sample still turns the item column into raw strings."""
    n = 60_000
    df = pd.DataFrame({"id": range(n), "a1": [1] * n, "a2": [2] * n, "a3": [3] * n})
    df["a2"] = df["a2"].astype(object)
    df.loc[n - 1, "a2"] = "UNK"
    df.to_csv(tmp_path / "big.csv", index=False)
    t = read_table(tmp_path / "big.csv", instrument=INST)
    assert t.data["a1"].dtype == np.float64
    assert t.data["a2"].iloc[-1] == "UNK" and t.data["a2"].iloc[0] == "2"
    assert len(t.data) == n


def test_fraction_far_past_the_sample_keeps_item_numeric(tmp_path):
    n = 60_000
    lines = ["id,a1,a2,a3"] + [f"{i},1,2,3" for i in range(n - 1)] + [f"{n},2.5,2,3"]
    (tmp_path / "big.csv").write_text("\n".join(lines) + "\n")
    t = read_table(tmp_path / "big.csv", instrument=INST)
    assert t.data["a1"].dtype == np.float64 and t.data["a1"].iloc[-1] == 2.5
    assert t.data["a2"].dtype == np.float64
