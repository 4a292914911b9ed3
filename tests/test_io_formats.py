"""Binary and spreadsheet readers: SPSS/Stata/SAS through pyreadstat, Excel, Parquet, JSON
lines; damaged and mislabelled files; format detection from content."""

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from peerscale.errors import PeerscaleError
from peerscale.io import detect_format, read_table, write_table
from peerscale.spec import adhoc_instrument

INST = adhoc_instrument(["A=a1,a2"], value_range=(1, 5))


@pytest.fixture
def sav(tmp_path):
    df = pd.DataFrame({"id": [7.0, 8.0, 9.0], "a1": [1.0, 9.0, -99.0], "a2": [2.0, 3.0, 4.0], "name": ["x", "", "z"]})
    p = tmp_path / "in.sav"
    pyreadstat.write_sav(df, str(p), column_labels={"a1": "Item one"},
                         variable_value_labels={"a1": {1.0: "Disagree", 9.0: "Not relevant"}},
                         missing_ranges={"a1": [9.0, {"lo": -99.0, "hi": -90.0}]}, file_label="lab")
    return p


def test_sav_user_missing_codes_listed_with_reasons(sav):
    t = read_table(sav, instrument=INST)
    assert t.data["a1"].tolist() == [1.0, 9.0, -99.0]
    assert t.missing_values["a1"] == {9.0: "Not relevant", -99.0: "user-missing (range -99 to -90)"}
    assert t.variable_labels == {"a1": "Item one"} and t.file_label == "lab"
    assert t.data["id"].tolist() == ["7", "8", "9"]  # numeric ids become text without '.0'
    assert pd.isna(t.data["name"][1])  # SPSS empty string = missing text


def test_truncated_sav_is_a_clear_error(tmp_path, sav):
    cut = tmp_path / "cut.sav"
    cut.write_bytes(sav.read_bytes()[:300])
    with pytest.raises(PeerscaleError, match="cannot be read as a SPSS file"):
        read_table(cut)


def test_csv_named_sav_is_a_clear_error(tmp_path):
    p = tmp_path / "fake.sav"
    p.write_text("id,a1\n1,2\n")
    with pytest.raises(PeerscaleError, match="truncated, damaged, or another format"):
        read_table(p)


def test_content_detection_without_extension(tmp_path, sav):
    for fmt, ext in [("sav", "sav"), ("parquet", "parquet"), ("xlsx", "xlsx"), ("dta", "dta")]:
        p = write_table(pd.DataFrame({"a1": [1.0, 2.0]}), tmp_path / f"x.{ext}")
        bare = tmp_path / f"noext_{ext}"
        bare.write_bytes(p.read_bytes())
        assert detect_format(bare) == fmt
    assert detect_format(tmp_path / "x.sav", "spss") == "sav"


def test_zsav_and_dta_and_sas7bdat(tmp_path):
    df = pd.DataFrame({"id": ["a", "b"], "a1": [1.0, 2.0]})
    for ext in ("zsav", "dta"):
        t = read_table(write_table(df, tmp_path / f"x.{ext}"))
        assert t.data["a1"].tolist() == [1.0, 2.0] and t.format == ext
    bogus = tmp_path / "x.sas7bdat"
    bogus.write_bytes(b"\0" * 2048)
    with pytest.raises(PeerscaleError, match="SAS"):
        read_table(bogus)


def test_excel_sheets_types_and_errors(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "cover"
    ws.append(["nothing here"])
    ws2 = wb.create_sheet("data")
    ws2.append(["record_id", "a1", "a2", "comment"])
    ws2.append([7, 1, "UNK", "fine"])
    ws2.append(["008", 2, 3, None])
    ws2.append([None, None, None, None])
    wb.create_sheet("empty")
    p = tmp_path / "book.xlsx"
    wb.save(p)
    for sheet in ("data", "2"):
        t = read_table(p, sheet=sheet, instrument=INST)
        assert t.data["record_id"].tolist() == ["7", "008"]  # trailing empty row dropped
        assert t.data["a1"].tolist() == [1.0, 2.0]
        assert t.data["a2"].tolist() == ["UNK", "3"]
    with pytest.raises(PeerscaleError, match=r"(?s)no sheet .nope.*cover, data, empty"):
        read_table(p, sheet="nope")
    with pytest.raises(PeerscaleError, match="empty"):
        read_table(p, sheet="empty")
    with pytest.raises(PeerscaleError, match="header but no data rows"):
        read_table(p)  # the cover sheet has a header only


def test_damaged_xlsx(tmp_path):
    p = tmp_path / "bad.xlsx"
    p.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(PeerscaleError, match="Excel"):
        read_table(p)


def test_jsonl_reading_and_errors(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"record_id": "007", "a1": 1, "a2": null}\n\n{"record_id": "008", "a1": 2.5, "a2": "UNK", "x": true}\n')
    t = read_table(p, instrument=INST)
    assert list(t.data.columns) == ["record_id", "a1", "a2", "x"]
    assert t.data["a1"].tolist() == [1.0, 2.5]
    assert t.data["a2"].tolist()[1] == "UNK"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a1": 1}\n{"a1": \n')
    with pytest.raises(PeerscaleError, match="line 2 is not valid JSON"):
        read_table(bad)
    arr = tmp_path / "arr.jsonl"
    arr.write_text("[1, 2]\n")
    with pytest.raises(PeerscaleError, match="not an object"):
        read_table(arr)
    empty = tmp_path / "e.jsonl"
    empty.write_text("\n")
    with pytest.raises(PeerscaleError, match="empty"):
        read_table(empty)


def test_parquet_bad_file(tmp_path):
    p = tmp_path / "x.parquet"
    p.write_bytes(b"PAR1garbage")
    with pytest.raises(PeerscaleError, match="Parquet"):
        read_table(p)


def test_sav_numeric_codes_in_text_item_column(tmp_path):
    df = pd.DataFrame({"a1": ["1", "UNK", "3"], "a2": [1.0, 2.0, np.nan]})
    p = tmp_path / "t.sav"
    pyreadstat.write_sav(df, str(p))
    t = read_table(p, instrument=INST, missing_codes={"UNK": "Unknown"})
    assert t.data["a1"].tolist() == ["1", "UNK", "3"]
    assert t.missing_values["a1"] == {"UNK": "Unknown"}
