"""``peerscale mediation`` under inputs from other tools (issue 9 review, defects M1-M6 of
notes/mediation-defects.md): ids written as numbers by one tool and as text by another, waves by
SPSS value label, worker files without a wave column, degenerate clusters, blank wave cells.

Each test names the defect it guards against. Inputs are the bundled examples rewritten as a
non-REDCap tool writes them (tests/test_design_inputs.py::plain_export).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_design_inputs import WORKER, YOUTH, plain_export

MODEL = ("--x", "act_total", "--m", "pbr_core", "--y", "out_total")
TWO_FILES = (*MODEL, "--x-instrument", "act-y", "--m-instrument", "pbr-p", "--wave-column", "visit",
             "--dyad-column", "pair", "--json", "-q")


@pytest.fixture(scope="module")
def plain():
    return plain_export(YOUTH), plain_export(WORKER)


def _run_json(run_cli, *args):
    code, out, err = run_cli("mediation", *args)
    assert code == 0, err
    return json.loads(out), err


@pytest.fixture(scope="module")
def two_files_reference(plain, tmp_path_factory):
    """The two-file result with ids written the same way in both files."""
    from peerscale import mediation

    d = tmp_path_factory.mktemp("ref")
    plain[0].to_csv(d / "y.csv", index=False)
    plain[1].to_csv(d / "p.csv", index=False)
    return mediation([str(d / "y.csv"), str(d / "p.csv")], "act_total", "pbr_core", "out_total",
                     x_instrument="act-y", m_instrument="pbr-p", design={"wave": "visit", "dyad": "pair"})


def test_m1_ids_007_and_7_0_link_across_files(plain, tmp_path, run_cli):
    """M1: y.csv held pair "001" (text) and p.csv 1.0 (numeric with a blank cell): 'no pair
    matches between the files'. Now they link as in dyads/change/nesting (design.id_text)."""
    y, p = plain[0].copy(), plain[1].copy()
    y["pair"] = y["pair"].map(lambda v: f"{v:03d}")
    p["pair"] = p["pair"].astype(float)
    p.loc[5, "pair"] = np.nan
    y.to_csv(tmp_path / "y.csv", index=False)
    p.to_csv(tmp_path / "p.csv", index=False)
    res, _ = _run_json(run_cli, tmp_path / "y.csv", tmp_path / "p.csv", *TWO_FILES)
    assert res["excluded"].get("no pair in p.csv") == 1
    # every other record links exactly as when both files spell the ids the same way
    plain[0].to_csv(tmp_path / "y_same.csv", index=False)
    plain[1].drop(index=5).to_csv(tmp_path / "p_same.csv", index=False)
    ref, _ = _run_json(run_cli, tmp_path / "y_same.csv", tmp_path / "p_same.csv", *TWO_FILES)
    assert res["n"] == ref["n"] > 0
    assert res["paths"]["a"]["est"] == pytest.approx(ref["paths"]["a"]["est"], abs=1e-12)


def test_m2_wave_by_spss_value_label(plain, tmp_path, run_cli):
    """M2: --wave Baseline on a .sav with visit 1/2 labelled Baseline/Follow-up was refused
    ("not a wave of the data"); now it is the wave coded 1, as change --from Baseline."""
    pyreadstat = pytest.importorskip("pyreadstat")
    y = plain[0].copy()
    y["pair"] = y["pair"].astype(float)
    path = tmp_path / "y.sav"
    pyreadstat.write_sav(y, str(path), variable_value_labels={"visit": {1: "Baseline", 2: "Follow-up"}})
    args = (path, *MODEL, "--wave-column", "visit", "--respondent-column", "pid", "--json", "-q")
    by_label, _ = _run_json(run_cli, *args, "--wave", "Baseline")
    by_code, _ = _run_json(run_cli, *args, "--wave", "1")
    assert by_label["sources"]["wave"] == by_code["sources"]["wave"] == "1"
    assert by_label["paths"] == by_code["paths"]
    later, _ = _run_json(run_cli, *args, "--wave", "follow-up")
    assert later["sources"]["wave"] == "2" and later["n"] != by_code["n"]
    code, out, err = run_cli("mediation", *args, "--wave", "Week 6")
    assert code != 0 and "Traceback" not in err
    assert "1 (Baseline), 2 (Follow-up)" in err  # the hint lists codes with their labels


def test_m3_worker_file_without_wave_column(plain, tmp_path, run_cli, two_files_reference):
    """M3: a worker export without the wave column stopped the run ("the design's wave column
    'visit' (--wave-column) is not in the data"); now every row of it is used, with a note."""
    y, p = plain[0], plain[1]
    p = p[p["visit"] == 1].drop(columns="visit")  # workers rate once: no wave column
    y.to_csv(tmp_path / "y.csv", index=False)
    p.to_csv(tmp_path / "p_nowave.csv", index=False)
    res, _ = _run_json(run_cli, tmp_path / "y.csv", tmp_path / "p_nowave.csv", *TWO_FILES)
    assert any("p_nowave.csv has no wave column 'visit'" in n for n in res["notes"])
    ref = two_files_reference  # the same records as the baseline rows of the full worker file
    assert res["n"] == ref.n
    assert res["paths"]["a"]["est"] == pytest.approx(ref.paths["a"]["est"], abs=1e-9)


def test_m6_blank_wave_rows_are_counted(plain, tmp_path, run_cli):
    """M6: rows with a blank wave cell were in neither 'N used' nor 'left out'; now counted."""
    y = plain[0].copy()
    first = int((y["visit"] == 1).sum())
    y["visit"] = y["visit"].astype(float)
    y.loc[[0, 1, 5], "visit"] = np.nan
    y.to_csv(tmp_path / "y_blankwave.csv", index=False)
    res, _ = _run_json(run_cli, tmp_path / "y_blankwave.csv", *MODEL, "--wave-column", "visit",
                       "--respondent-column", "pid", "--json", "-q")
    assert res["excluded"]["no wave (visit)"] == 3
    blank_first = int((plain[0].loc[[0, 1, 5], "visit"] == 1).sum())
    # every row is counted: used + left out = the first wave's rows + the rows without a wave
    assert res["n"] + res["n_excluded"] == first - blank_first + 3


def test_m4_singleton_and_few_clusters_are_noted(plain, tmp_path, run_cli):
    """M4: --cluster with every row its own cluster (lavaan refuses it) gave no word."""
    y = plain[0].copy()
    y["staff"] = y["pid"]
    y.to_csv(tmp_path / "y_single.csv", index=False)
    res, _ = _run_json(run_cli, tmp_path / "y_single.csv", *MODEL, "--respondent-column", "pid",
                       "--wave-column", "visit", "--cluster", "staff", "--json", "-q")
    assert any("every cluster of 'staff' has one row" in n for n in res["notes"])
    y["staff"] = ["S%d" % (i % 5) for i in range(len(y))]
    y.to_csv(tmp_path / "y_five.csv", index=False)
    res, _ = _run_json(run_cli, tmp_path / "y_five.csv", *MODEL, "--respondent-column", "pid",
                       "--wave-column", "visit", "--cluster", "staff", "--json", "-q")
    assert res["n_clusters"] == 5
    assert any("only 5 clusters of 'staff'" in n for n in res["notes"])
