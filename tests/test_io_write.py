"""Writers: atomic, no overwrite without force, inputs protected, formula injection
neutralised, exact float round trips, and every format read back."""

import math
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peerscale.errors import PeerscaleError
from peerscale.io import OutputMeta, read_table, write_table
from peerscale.io.write import escape_formula_text, escape_formulas

META = OutputMeta(
    variable_labels={"share": "Shared experience", "a1": "I feel understood"},
    value_labels={"a1": {1.0: "Disagree", 2.0: "Agree", 9.0: "Not relevant to me yet"}},
    missing_values={"a1": [9.0]},
    measure={"share": "scale", "a1": "ordinal", "record_id": "nominal"},
    file_label="mini-y 0.0.1 scores (peerscale 0.1.0)",
)


def frame():
    return pd.DataFrame({"record_id": ["007", "008", "009"], "share": [1.5, np.nan, 1 / 3],
                         "a1": [1.0, 9.0, 2.0], "n_answered": [3, 0, 2]})


def leftovers(d):
    return [p.name for p in d.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]


@pytest.mark.parametrize("ext", ["csv", "tsv", "sav", "zsav", "dta", "xlsx", "parquet", "jsonl"])
def test_round_trip_every_format(tmp_path, ext):
    df = frame()
    p = write_table(df, tmp_path / f"out.{ext}", meta=META)
    t = read_table(p)
    assert t.data["record_id"].tolist() == ["007", "008", "009"]
    got = t.data["share"].to_numpy(dtype=float)
    assert got[0] == 1.5 and math.isnan(got[1]) and got[2] == 1 / 3  # exact, NaN stays missing
    assert t.data["a1"].astype(float).tolist() == [1.0, 9.0, 2.0]
    assert t.data["n_answered"].astype(float).tolist() == [3.0, 0.0, 2.0]
    if ext in ("sav", "zsav", "dta", "parquet"):
        assert t.variable_labels["share"] == "Shared experience"
        assert t.value_labels["a1"][9.0] == "Not relevant to me yet"
        assert t.file_label == META.file_label
    if ext in ("sav", "zsav", "parquet"):
        assert t.missing_values["a1"] == {9.0: "Not relevant to me yet"}
    assert leftovers(tmp_path) == []


def test_sav_measure_levels(tmp_path):
    import pyreadstat

    p = write_table(frame(), tmp_path / "o.sav", meta=META)
    _, meta = pyreadstat.read_sav(str(p), metadataonly=True)
    assert meta.variable_measure["share"] == "scale" and meta.variable_measure["a1"] == "ordinal"


def test_csv_nan_is_empty_and_floats_shortest(tmp_path):
    p = write_table(pd.DataFrame({"x": [0.1, np.nan, 1e-300, 2.0]}), tmp_path / "o.csv")
    assert p.read_text().splitlines() == ['"x"', "0.1", "", "1e-300", "2"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=False), min_size=1, max_size=20))
def test_csv_floats_round_trip_exactly(tmp_path_factory, values):
    d = tmp_path_factory.mktemp("rt")
    write_table(pd.DataFrame({"id": [f"r{i}" for i in range(len(values))], "score": values}), d / "o.csv")
    got = read_table(d / "o.csv").data["score"].astype(float).tolist()
    for a, b in zip(values, got):
        assert (math.isnan(a) and math.isnan(b)) or a == b


def test_single_column_csv_keeps_missing_rows(tmp_path):
    write_table(pd.DataFrame({"score": [1.0, np.nan, 2.0]}), tmp_path / "o.csv")
    got = read_table(tmp_path / "o.csv").data["score"].tolist()
    assert got[0] == 1.0 and math.isnan(got[1]) and got[2] == 2.0


def test_formula_injection_is_escaped_in_csv_and_xlsx_but_numbers_are_not(tmp_path):
    df = pd.DataFrame({"note": ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "ok", "-1.5"],
                       "value": [-1.5, 1, 2, 3, 4, 5, 6, 7]})
    p = write_table(df, tmp_path / "o.csv")
    back = pd.read_csv(p, dtype=str, keep_default_na=False)
    assert back["note"].tolist() == ["'=HYPERLINK(\"http://x\")", "'+1+1", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx", "ok", "-1.5"]
    assert back["value"].tolist()[0] == "-1.5"
    import openpyxl

    x = write_table(df, tmp_path / "o.xlsx")
    ws = openpyxl.load_workbook(x).active
    cells = [ws.cell(row=r, column=1) for r in range(2, 10)]
    assert all(c.data_type == "s" for c in cells)  # no formulas
    assert cells[0].value.startswith("'=")
    assert ws.cell(row=2, column=2).value == -1.5


def test_escape_helpers():
    assert escape_formula_text("=1") == "'=1" and escape_formula_text("-1e3") == "-1e3"
    out = escape_formulas(pd.DataFrame({"=bad": ["a"]}))
    assert list(out.columns) == ["'=bad"]


def test_refuses_to_overwrite_without_force(tmp_path):
    p = tmp_path / "o.csv"
    p.write_text("keep me")
    with pytest.raises(PeerscaleError, match="already exists"):
        write_table(frame(), p)
    assert p.read_text() == "keep me"
    write_table(frame(), p, force=True)
    assert p.read_text().startswith('"record_id"')


def test_refuses_to_write_over_an_input_even_with_force(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("a\n1\n")
    link = tmp_path / "link.csv"
    link.symlink_to(src)
    for target in (src, link):
        with pytest.raises(PeerscaleError, match="over an input"):
            write_table(frame(), target, force=True, protect=[src])
    assert src.read_text() == "a\n1\n"


def test_failed_write_leaves_no_partial_file(tmp_path):
    bad = pd.DataFrame({"has space": [1.0]})  # not a valid SPSS name
    with pytest.raises(PeerscaleError, match="SPSS"):
        write_table(bad, tmp_path / "o.sav")
    too_many = OutputMeta(missing_values={"a1": [7.0, 8.0, 9.0, 10.0]})
    with pytest.raises(PeerscaleError, match="at most 3"):
        write_table(frame(), tmp_path / "o2.sav", meta=too_many)
    assert sorted(os.listdir(tmp_path)) == []


def test_existing_file_untouched_when_forced_write_fails(tmp_path):
    p = tmp_path / "o.sav"
    p.write_bytes(b"old")
    with pytest.raises(PeerscaleError):
        write_table(pd.DataFrame({"has space": [1.0]}), p, force=True)
    assert p.read_bytes() == b"old" and leftovers(tmp_path) == []


@pytest.mark.parametrize("path,message", [("o.docx", "extension"), ("nodir/o.csv", "directory does not exist")])
def test_bad_output_paths(tmp_path, path, message):
    with pytest.raises(PeerscaleError, match=message):
        write_table(frame(), tmp_path / path)


def test_format_option_overrides_extension(tmp_path):
    p = write_table(frame(), tmp_path / "scores.out", format="jsonl")
    assert p.read_text().splitlines()[0].startswith('{"record_id": "007"')
    with pytest.raises(PeerscaleError, match="cannot write format"):
        write_table(frame(), tmp_path / "x.out", format="pdf")


def test_duplicate_output_columns_are_refused(tmp_path):
    df = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(PeerscaleError, match="duplicate column"):
        write_table(df, tmp_path / "o.csv")


def test_xlsx_variables_sheet_holds_labels(tmp_path):
    import openpyxl

    p = write_table(frame(), tmp_path / "o.xlsx", meta=META)
    wb = openpyxl.load_workbook(p)
    assert wb.sheetnames == ["data", "variables"]
    rows = list(wb["variables"].iter_rows(values_only=True))
    assert ("share", "Shared experience", None, None) in rows or any(r[0] == "share" and r[1] == "Shared experience" for r in rows)
    assert read_table(p, sheet="variables").data["variable"].tolist()[:2] == ["share", "a1"]


def test_xlsx_size_limit_is_checked_before_writing(tmp_path):
    wide = pd.DataFrame(np.zeros((1, 16_385)))
    wide.columns = [f"c{i}" for i in range(16_385)]
    with pytest.raises(PeerscaleError, match="do not fit an Excel sheet"):
        write_table(wide, tmp_path / "o.xlsx")
    assert list(tmp_path.iterdir()) == []
