"""Issue 9 under inputs from other tools (review branch issue-9c): ids written as numbers by one
tool and as text by another, numeric wave columns with value labels (SPSS), designs given by flags
with no study.yaml, small and degenerate samples, JSON that stays valid.

Each test names the defect it guards against.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

import peerscale

EXAMPLES = ROOT / "examples"
YOUTH, WORKER = EXAMPLES / "youth_export.csv", EXAMPLES / "worker_export.csv"
IDS = ("record_id", "redcap_event_name", "dyad_id", "worker_id")


def plain_export(path, *, n=None, wave=True):
    """An example export as a non-REDCap tool writes it: ids pid / visit (1, 2) / pair (number)
    / staff first, items after, no ``_complete`` columns."""
    df = pd.read_csv(path)
    items = [c for c in df.columns if c not in IDS and not c.endswith("_complete")]
    out = pd.DataFrame({"pid": df["record_id"], "pair": df["dyad_id"].str[1:].astype(int), "staff": df["worker_id"]})
    if wave:
        out.insert(1, "visit", df["redcap_event_name"].map({"baseline_arm_1": 1, "followup_arm_1": 2}))
    out = pd.concat([out, df[items]], axis=1)
    return out if n is None else out.head(n)


def label_events(path, out, baseline="Baseline (Arm 1: Arm 1)", followup="Follow-up (Arm 1: Arm 1)"):
    """The example export with REDCap label-export event names."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df["redcap_event_name"] = df["redcap_event_name"].map({"baseline_arm_1": baseline, "followup_arm_1": followup})
    df.to_csv(out, index=False)
    return out


def people(df, wave_col="visit", id_col="pid", a=1, b=2):
    """(seen at both waves, at the first only) of an export."""
    first, second = set(df.loc[df[wave_col] == a, id_col]), set(df.loc[df[wave_col] == b, id_col])
    return len(first & second), len(first - second)


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    return plain_export(YOUTH), plain_export(WORKER)


# --------------------------------------------------------------------------- ids written differently

def test_dyads_link_ids_written_as_007_and_7_0(plain, tmp_path, run_cli):
    """Defect: the young person file held pair "007" (text, zero-padded) and the worker file 7.0
    (a numeric column with one blank cell): no record linked, or only the ids >= 100 did."""
    y, p = plain[0].copy(), plain[1].copy()
    y["pair"] = y["pair"].map(lambda v: f"{v:03d}")
    p["pair"] = p["pair"].astype(float)
    p.loc[5, "pair"] = np.nan
    y.to_csv(tmp_path / "y.csv", index=False)
    p.to_csv(tmp_path / "p.csv", index=False)
    code, out, err = run_cli("dyads", tmp_path / "y.csv", tmp_path / "p.csv", "-y", "pbr-y", "-p", "pbr-p",
                             "--dyad-column", "pair", "--wave-column", "visit", "--json")
    assert code == 0, err
    res = json.loads(out)
    n_y = int((y["visit"] == 1).sum())
    assert res["link"]["n_linked"] == len(p) - 1  # every worker record with a key links
    assert len(res["unmatched"]["y"]) + res["link"]["n_linked"] == n_y  # counts add up
    assert res["unmatched"]["p"] == ["(row 6: no pair)"]  # the 6th record, as validation and scoring count rows


def test_unmatched_ids_in_natural_order(plain, tmp_path):
    """Unmatched ids were sorted as text (1, 10, 11, ..., 2, 20): listed 2 before 10 now."""
    y, p = plain[0], plain[1]
    p = p[~p["pair"].isin([2, 10, 30])]
    y.to_csv(tmp_path / "y.csv", index=False)
    p.to_csv(tmp_path / "p.csv", index=False)
    d = {"wave": "visit", "dyad": "pair"}
    res = peerscale.read(tmp_path / "y.csv", "pbr-y", design=d).dyads(peerscale.read(tmp_path / "p.csv", "pbr-p",
                                                                                     design=d))
    assert [u for u in res.unmatched["y"] if u in ("2", "10", "30")] == ["2", "10", "30"]


# --------------------------------------------------------------------------- numeric waves, value labels

@pytest.fixture(scope="module")
def youth_sav(plain, tmp_path_factory):
    pyreadstat = pytest.importorskip("pyreadstat")
    y = plain[0].copy()
    y["pair"] = y["pair"].astype(float)
    path = tmp_path_factory.mktemp("sav") / "y.sav"
    pyreadstat.write_sav(y, str(path), variable_value_labels={"visit": {1: "Baseline", 2: "Follow-up"}})
    return path


@pytest.mark.parametrize("frm,to", [("1", "2"), ("Baseline", "follow-up"), ("1.0", "Follow-up")])
def test_change_waves_by_code_or_value_label_in_sav(youth_sav, run_cli, frm, to):
    """Defect: an SPSS file's numeric wave column gave waves '1.0' and '2.0'; --from 1 and
    --from Baseline (the value label) were 'not a wave'."""
    code, out, err = run_cli("change", youth_sav, "-i", "pbr-y", "--wave-column", "visit", "--respondent-column",
                             "pid", "--from", frm, "--to", to, "--scales", "share", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["waves"]["from"] == "1" and res["waves"]["to"] == "2"
    both, first_only = people(plain_export(YOUTH))
    assert res["people"]["both"] == both and res["people"]["from_only"] == first_only


def test_unknown_wave_lists_codes_with_labels(youth_sav, run_cli):
    code, out, err = run_cli("change", youth_sav, "-i", "pbr-y", "--wave-column", "visit", "--respondent-column",
                             "pid", "--from", "1", "--to", "3")
    assert code != 0 and "Traceback" not in err
    assert "--to '3' is not a wave" in err and "1 (Baseline), 2 (Follow-up)" in err


# --------------------------------------------------------------------------- change -o with label waves

@pytest.mark.parametrize("suffix", ["sav", "dta"])
def test_change_output_with_redcap_label_waves(tmp_path, run_cli, suffix):
    """Defect: a REDCap label export's events ('Baseline (Arm 1: Arm 1)') made per-respondent
    columns SPSS/Stata cannot hold, and `change -o out.sav` stopped after the analysis."""
    label_events(YOUTH, tmp_path / "y.csv")
    out = tmp_path / f"change.{suffix}"
    code, _, err = run_cli("change", tmp_path / "y.csv", "-i", "pbr-y", "--scales", "share,pbr_core", "--from",
                           "Baseline (Arm 1: Arm 1)", "--to", "follow-up (arm 1: arm 1)", "-o", out, "-q")
    assert code == 0, err
    back = pd.read_stata(out) if suffix == "dta" else pd.read_spss(out)
    assert "share_Baseline_Arm_1_Arm_1" in back.columns and "pbr_core_Follow_up_Arm_1_Arm_1" in back.columns
    assert len(back) == pd.read_csv(YOUTH)["record_id"].nunique()  # every respondent, both waves or one


def test_change_ids_differing_in_case_are_named(plain, tmp_path, run_cli):
    """Ids differing only in letter case across waves ('Y001' vs ' y001 ') are not merged, but the
    message says so instead of only 'no respondent has rows at both'."""
    y = plain[0].copy()
    y["pid"] = y["pid"].where(y["visit"] == 1, " " + y["pid"].str.lower() + " ")
    y.to_csv(tmp_path / "y.csv", index=False)
    code, _, err = run_cli("change", tmp_path / "y.csv", "-i", "pbr-y", "--scales", "share", "--wave-column",
                           "visit", "--respondent-column", "pid", "--from", "1", "--to", "2")
    assert code != 0 and "Traceback" not in err
    assert "differ only in letter case, e.g. Y001 ~ y001" in err


def test_change_counts_are_null_without_an_rci(tmp_path, run_cli):
    """Defect: a scale with no RCI (constant at the first wave, so S_diff = 0 or no alpha) gave
    0 improved, 0 unchanged, 0 deteriorated of n people: read as 'nobody changed'. Now null (JSON)
    and a dash, and the counts that are given add up to n."""
    rng = np.random.default_rng(3)
    rows = [{"id": f"{i:03d}", "wave": w, "q1": 3 if w == 1 else int(rng.integers(1, 6)),
             **{f"r{k}": int(rng.integers(1, 6)) for k in (1, 2, 3)}} for i in range(25) for w in (1, 2)]
    path = tmp_path / "c.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    args = ("change", path, "--scale", "Q=q1", "--scale", "R=r1,r2,r3", "--range", "1:5", "--respondent-column",
            "id", "--wave-column", "wave", "--from", "1", "--to", "2", "--reliability", "0.8")
    code, out, err = run_cli(*args, "--json")
    assert code == 0, err
    res = json.loads(out, parse_constant=lambda c: pytest.fail(f"JSON holds {c}"))
    q, r = res["scales"]["Q"], res["scales"]["R"]
    assert q["n"] == 25 and q["rci_improved"] is None and q["rci_unchanged"] is None and q["reason"]
    assert r["rci_improved"] + r["rci_unchanged"] + r["rci_deteriorated"] == r["n"] == 25
    code, out, err = run_cli(*args)
    assert code == 0 and "Traceback" not in err
    line = next(x for x in out.splitlines() if x.strip().startswith("Q "))
    assert line.split()[-3:] == ["—", "—", "—"]


# --------------------------------------------------------------------------- a worker file without a wave column

def test_dyads_worker_file_without_the_wave_column(plain, tmp_path, run_cli):
    """Defect: --wave-column applied to both files, and a worker export without a wave column
    (workers rate once) stopped with 'the design's wave column is not in the data'; the library
    already uses every row of such a file. Now the same, with a note."""
    y, p = plain
    y.to_csv(tmp_path / "y.csv", index=False)
    p.drop(columns=["visit"]).to_csv(tmp_path / "p.csv", index=False)
    code, out, err = run_cli("dyads", tmp_path / "y.csv", tmp_path / "p.csv", "-y", "pbr-y", "-p", "pbr-p",
                             "--dyad-column", "pair", "--wave-column", "visit", "--json")
    assert code == 0, err
    assert "p.csv has no wave column 'visit'" in err
    res = json.loads(out)
    linked = len(set(y.loc[y["visit"] == 1, "pair"]) & set(p["pair"]))
    assert res["link"]["n_linked"] == linked and res["link"]["how_p"].startswith("no wave column")
    assert len(res["unmatched"]["y"]) + linked == int((y["visit"] == 1).sum())
    code, out, err = run_cli("dyads", tmp_path / "y.csv", tmp_path / "p.csv", "-y", "pbr-y", "-p", "pbr-p",
                             "--dyad-column", "nosuch", "--wave-column", "visit")
    assert code != 0 and "'nosuch'" in err and "Traceback" not in err


def test_report_change_anchor_is_an_html_id(tmp_path, run_cli):
    """The reliable-change heading's id held the wave names as written ('rci-Baseline (Arm 1...')."""
    label_events(YOUTH, tmp_path / "y.csv", "Baseline (Arm 1)", "Follow-up (Arm 1)")
    out = tmp_path / "r.html"
    code, _, err = run_cli("report", tmp_path / "y.csv", "-i", "pbr-y", "--scales", "share", "--bootstrap", "0",
                           "-o", out, "-q")
    assert code == 0, err
    html = out.read_text()
    import re

    assert re.search(r'id="rci-Baseline-Arm-1-+Follow-up-Arm-1"', html) and 'id="rci-Baseline (' not in html


def test_redcap_label_export_waves_by_unique_event_name(run_cli):
    """A REDCap label export names events 'Baseline (Arm 1: Arm 1)'; the raw export, the
    study.yaml and the user say baseline_arm_1: --from/--to and --wave take either."""
    from conftest import FIXTURES

    f = FIXTURES / "redcap"
    opts = ("-i", f / "mini-y.yaml", "--redcap-dictionary", f / "project_dictionary.csv", "--on-invalid", "missing")
    code, out, err = run_cli("change", f / "export_labels_headers.csv", *opts, "--from", "baseline_arm_1", "--to",
                             "followup_arm_1", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["waves"]["from"] == "Baseline (Arm 1: Arm 1)" and res["people"]["both"] == 2
    r = peerscale.read(f / "export_labels_headers.csv", f / "mini-y.yaml", redcap_dictionary=f / "project_dictionary.csv",
                       on_invalid="missing")
    assert r.wave("followup_arm_1").waves == ["Follow-up (Arm 1: Arm 1)"]
    with pytest.raises(peerscale.PeerscaleError, match="not a wave"):
        r.wave("month6_arm_1")


def test_dyads_dyad_column_from_one_files_study_yaml(tmp_path, run_cli):
    """Defect: the youth export's study.yaml names dyad_id, the worker export (another folder, no
    study.yaml) has the column too: 'no column links the two forms'."""
    import shutil

    shutil.copy(WORKER, tmp_path / "worker.csv")
    code, out, err = run_cli("dyads", YOUTH, tmp_path / "worker.csv", "-y", "pbr-y", "-p", "pbr-p", "--json")
    assert code == 0, err
    res = json.loads(out)
    code, out, err = run_cli("dyads", YOUTH, WORKER, "-y", "pbr-y", "-p", "pbr-p", "--json")  # both beside study.yaml
    assert res["link"]["columns"] == ["dyad_id"] and res["link"]["n_linked"] == json.loads(out)["link"]["n_linked"]


def test_rows_without_a_wave_are_named(plain, tmp_path, run_cli):
    """Defect: rows whose wave cell is blank belong to no wave and vanished from change and
    nesting without a word (Y001 was in neither 'both' nor 'one wave only')."""
    y = plain[0].copy()
    y["visit"] = y["visit"].astype("Int64")
    y.loc[[0, 1], "visit"] = pd.NA
    y.to_csv(tmp_path / "y.csv", index=False)
    common = ("-i", "pbr-y", "--scales", "share", "--wave-column", "visit", "--json")
    code, out, err = run_cli("change", tmp_path / "y.csv", *common, "--respondent-column", "pid", "--from", "1",
                             "--to", "2")
    assert code == 0, err
    notes = json.loads(out)["notes"]
    assert any(n.startswith("2 row(s) without a wave in column 'visit' (rows 1, 2)") and "Y001" in n for n in notes)
    code, out, err = run_cli("nesting", tmp_path / "y.csv", *common, "--worker-column", "staff")
    assert code == 0 and any("2 row(s) without a wave" in n for n in json.loads(out)["notes"])


def test_dyads_first_waves_that_differ_are_said(plain, tmp_path, run_cli):
    """Each file's first wave is compared by default; when those differ (the worker rated at
    follow-up only), the comparison crossed waves without a word."""
    y, p = plain[0], plain[1].copy()
    p["visit"] = 2
    y.to_csv(tmp_path / "y.csv", index=False)
    p.to_csv(tmp_path / "p.csv", index=False)
    code, out, err = run_cli("dyads", tmp_path / "y.csv", tmp_path / "p.csv", "-y", "pbr-y", "-p", "pbr-p",
                             "--dyad-column", "pair", "--wave-column", "visit")
    assert code == 0, err
    assert "young person's records are of wave 1 and the worker's of wave 2" in out and "--wave" in out


def test_nesting_worker_ids_differing_in_case_are_named():
    rng = np.random.default_rng(8)
    df = pd.DataFrame({"id": range(40), "worker": ["W1", "w1", "W2", "W3"] * 10,
                       **{f"q{k}": rng.integers(1, 6, 40) for k in (1, 2, 3)}})
    inst = peerscale.adhoc_instrument(["S=q1,q2,q3"], value_range=(1, 5))
    res = peerscale.read(df, inst, design={"respondent": "id", "worker": "worker"}).nesting()
    assert res.clusters["n_clusters"] == 4
    assert any("differ only in letter case" in n and "W1 ~ w1" in n for n in res.notes)
