"""PSPP, a free SPSS-compatible program, as the real client of our .sav files, both ways:
PSPP opens what peerscale writes (dictionary, value labels, user-missing values survive), and
peerscale reads what PSPP writes. Skipped only when `pspp` is not on PATH."""

import csv
import io
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from peerscale.io import OutputMeta, read_table, write_table

pytestmark = pytest.mark.skipif(shutil.which("pspp") is None, reason="pspp is not installed (apt-get install pspp)")


def run_pspp(tmp_path, syntax: str) -> dict[str, list[list[str]]]:
    """Run PSPP syntax; return its output tables (CSV output driver) by title."""
    sps = tmp_path / "run.sps"
    sps.write_text(syntax)
    out = tmp_path / "out.csv"
    proc = subprocess.run(["pspp", str(sps), "-o", str(out)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tables: dict[str, list[list[str]]] = {}
    title = None
    for block in out.read_text().split("\n\n"):
        lines = block.strip().splitlines()
        if lines and lines[0].startswith("Table: "):
            title = lines[0][len("Table: "):]
            tables[title] = list(csv.reader(io.StringIO("\n".join(lines[1:]))))
    return tables


def test_pspp_reads_labels_and_missing_values_peerscale_wrote(tmp_path):
    df = pd.DataFrame({"record_id": ["007", "008", "009", "010"], "share": [1.5, np.nan, 3.25, 4.0],
                       "pbr_y_share_01": [1.0, 9.0, 2.0, 5.0]})
    meta = OutputMeta(
        variable_labels={"share": "Shared-experience relatability", "pbr_y_share_01": "I know they have been there too"},
        value_labels={"pbr_y_share_01": {1.0: "Strongly disagree", 2.0: "Disagree", 5.0: "Strongly agree",
                                         9.0: "Not relevant to me yet"}},
        missing_values={"pbr_y_share_01": [9.0]},
        measure={"share": "scale", "pbr_y_share_01": "ordinal", "record_id": "nominal"},
        file_label="pbr-y 0.1.0 scores (peerscale 0.1.0)")
    sav = write_table(df, tmp_path / "scores.sav", meta=meta)
    t = run_pspp(tmp_path, f"GET FILE='{sav}'.\nDISPLAY DICTIONARY.\nDISPLAY FILE LABEL.\n"
                           "FREQUENCIES VARIABLES=pbr_y_share_01.\n")
    variables = {r[0]: dict(zip(t["Variables"][0], r)) for r in t["Variables"][1:]}
    assert variables["share"]["Label"] == "Shared-experience relatability"
    assert variables["share"]["Measurement Level"] == "Scale"
    assert variables["pbr_y_share_01"]["Measurement Level"] == "Ordinal"
    assert variables["pbr_y_share_01"]["Missing Values"] == "9"
    assert variables["record_id"]["Print Format"].startswith("A")
    labels = [(r[1], r[2]) for r in t["Value Labels"][1:] if len(r) >= 3]
    assert ("1", "Strongly disagree") in labels and ("9[a]", "Not relevant to me yet") in labels  # F8.0 items
    assert t["File Label"][0] == ["Label", "pbr-y 0.1.0 scores (peerscale 0.1.0)"]
    freq = t["I know they have been there too"]
    missing = [r for r in freq if r and r[0] == "Missing"]
    assert missing and missing[0][1] == "Not relevant to me yet" and missing[0][2] == "1"  # 9 counted as missing


def test_peerscale_reads_labels_and_missing_values_pspp_wrote(tmp_path):
    sav = tmp_path / "pspp.sav"
    run_pspp(tmp_path, f"""DATA LIST LIST /record_id (A5) a1 a2 score.
BEGIN DATA
007 1 2 1.5
008 9 3 2.25
009 2 -99 .
END DATA.
VARIABLE LABELS a1 'I feel understood' /score 'Shared experience'.
VALUE LABELS a1 a2 1 'Disagree' 2 'Agree' 9 'Not relevant to me yet' -99 'Refused'.
MISSING VALUES a1 (9) /a2 (-99 THRU -1).
VARIABLE LEVEL a1 a2 (ORDINAL) /score (SCALE).
FILE LABEL 'written by pspp'.
SAVE OUTFILE='{sav}'.
""")
    t = read_table(sav)
    assert t.format == "sav" and t.file_label == "written by pspp"
    assert t.data["record_id"].tolist() == ["007", "008", "009"]
    assert t.data["a1"].tolist() == [1.0, 9.0, 2.0]  # user-missing kept visible, listed below
    assert t.variable_labels == {"a1": "I feel understood", "score": "Shared experience"}
    assert t.value_labels["a1"][9.0] == "Not relevant to me yet"
    assert t.missing_values["a1"] == {9.0: "Not relevant to me yet"}
    assert t.missing_values["a2"] == {-99.0: "Refused"}  # a range: the codes found in it
    assert np.isnan(t.data["score"][2])


def test_pspp_runs_the_redcap_spss_syntax_fixture_and_agrees(tmp_path):
    """The REDCap-style .sps fixture is valid SPSS syntax: PSPP reads the same values we do.

    PSPP's dialect needs three edits SPSS does not: ``/NAME=`` and ``/LRECL=`` on FILE HANDLE,
    and ``DATA LIST LIST (",")`` so that empty CSV fields are missing rather than skipped."""
    from pathlib import Path

    fix = Path(__file__).parent / "fixtures" / "redcap"
    for name in ("MiniProject_SPSS_2026-01-10_1200.sps", "MiniProject_DATA_NOHDRS_2026-01-10_1200.csv"):
        (tmp_path / name).write_bytes((fix / name).read_bytes())
    syntax = (tmp_path / "MiniProject_SPSS_2026-01-10_1200.sps").read_text()
    syntax = syntax.replace("NAME='MiniProject", f"/NAME='{tmp_path}/MiniProject")  # PSPP wants /NAME
    syntax = syntax.replace(" LRECL=90000", " /LRECL=90000")
    syntax = syntax.replace("DATA LIST FREE", "DATA LIST LIST (\",\")")
    sav = tmp_path / "from_pspp.sav"
    run_pspp(tmp_path, syntax + f"SAVE OUTFILE='{sav}'.\n")
    theirs = read_table(sav)
    ours = read_table(tmp_path / "MiniProject_SPSS_2026-01-10_1200.sps")
    for col in ("mini_share_1", "mini_trust_3", "mini_y_complete"):
        a = pd.to_numeric(ours.data[col], errors="coerce").to_numpy(dtype=float)
        np.testing.assert_array_equal(a, theirs.data[col].to_numpy(dtype=float))
    assert ours.variable_labels["mini_trust_2"] == theirs.variable_labels["mini_trust_2"]
    assert ours.value_labels["mini_share_1"] == theirs.value_labels["mini_share_1"]
