"""User-visible notes (polish): few pairs in change/dyads, WLSMV listwise in plan, n < items in simulate.

Each test checks the note in the result's ``notes`` / JSON ``notes`` and in the CLI output; the
numbers themselves are unchanged (the notes only add text).
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


# --------------------------------------------------------------------------- few pairs (change, dyads)

def _few_youth(tmp_path, k=8):
    """The youth example with only ``k`` respondents at both waves (the rest at baseline only)."""
    y = pd.read_csv(YOUTH, dtype=str, keep_default_na=False)
    follow = y["redcap_event_name"] == "followup_arm_1"
    keep_ids = list(dict.fromkeys(y.loc[follow, "record_id"]))[:k]
    y = y[~follow | y["record_id"].isin(keep_ids)]
    path = tmp_path / "youth_few.csv"
    y.to_csv(path, index=False)
    return path


def test_change_few_pairs_note(tmp_path, run_cli):
    path = _few_youth(tmp_path)
    res = peerscale.read(path, "out-y").change("baseline_arm_1", "followup_arm_1")
    full = peerscale.read(YOUTH, "out-y").change("baseline_arm_1", "followup_arm_1")
    notes = [n for n in res.notes if "very few pairs" in n]
    scales = res.to_dict()["scales"]
    assert len(notes) == 1 and "RCI" in notes[0]
    assert all(f"{name} ({e['n']} pair" in notes[0] for name, e in scales.items() if 0 < e["n"] < 10)
    assert 0 < scales["out_total"]["n"] <= 8  # numbers kept, only a note added
    assert not [n for n in full.notes if "very few pairs" in n]  # 262 pairs: no note
    code, out, err = run_cli("change", path, "-i", "out-y", "--from", "baseline_arm_1", "--to", "followup_arm_1",
                             "--json")
    assert code == 0, err
    assert any("very few pairs" in n and "out_total" in n for n in json.loads(out)["notes"])
    code, out, err = run_cli("change", path, "-i", "out-y", "--from", "baseline_arm_1", "--to", "followup_arm_1")
    assert code == 0, err
    assert "very few pairs" in " ".join((out + err).split())


def test_dyads_few_pairs_note(tmp_path, run_cli):
    w = pd.read_csv(WORKER, dtype=str, keep_default_na=False).head(6)
    path = tmp_path / "worker_few.csv"
    w.to_csv(path, index=False)
    res = peerscale.read(YOUTH, "pbr-y").dyads(peerscale.read(path, "pbr-p"))
    notes = [n for n in res.notes if "very few pairs" in n]
    assert len(notes) == 1 and "ICC and limits of agreement" in notes[0]
    assert all(f"{name} (6 pairs)" in notes[0] for name, e in res.to_dict()["scales"].items() if e["n_pairs"] == 6)
    args = ("dyads", YOUTH, path, "-y", "pbr-y", "-p", "pbr-p", "--dyad-column", "dyad_id",
            "--wave-column", "redcap_event_name", "--respondent-column", "record_id")
    code, out, err = run_cli(*args, "--json")
    assert code == 0, err
    assert any("very few pairs" in n for n in json.loads(out)["notes"])
    code, out, err = run_cli(*args)
    assert code == 0, err
    assert "very few pairs" in " ".join((out + err).split())


# --------------------------------------------------------------------------- plan: WLSMV drops incomplete rows

PLAN_FIXTURE = str(ROOT / "tests" / "fixtures" / "simulate" / "two-factor.yaml")


def test_plan_wlsmv_notes_rows_left_out(tmp_path, run_cli):
    kw = dict(n=[150], reps=2, seed=1, processes=1, truth_n=5000, mcar=0.05)
    res = peerscale.plan(PLAN_FIXTURE, estimator="wlsmv", **kw)
    share = np.mean([r["incomplete_rows"] for r in res.records])
    assert 0 < share < 1
    note = f"WLSMV uses complete rows only: on average {share:.0%} of rows were left out at n = 150"
    assert res.notes == [note] and res.to_dict()["notes"] == [note] and note in res.summary()
    ml = peerscale.plan(PLAN_FIXTURE, estimator="ml", **kw)  # FIML under ML: nothing left out, no note
    assert ml.notes == [] and ml.to_dict()["notes"] == []
    complete = peerscale.plan(PLAN_FIXTURE, estimator="wlsmv", **{**kw, "mcar": 0.0})
    assert complete.notes == []
    args = ("plan", "-i", PLAN_FIXTURE, "--n", "150", "--reps", "2", "--processes", "1", "--truth-n", "5000",
            "--estimator", "wlsmv", "--mcar", "0.05", "--checkpoint", tmp_path / "ck.jsonl", "-q")
    code, out, err = run_cli(*args, "--json")
    assert code == 0, err
    assert json.loads(out)["notes"] == [note]
    code, out, err = run_cli(*args)
    assert code == 0, err
    assert note in " ".join(out.split())


# --------------------------------------------------------------------------- simulate: n below the items

def test_simulate_small_n_warns_but_simulates(tmp_path, run_cli):
    from peerscale.errors import PeerscaleWarning

    from peerscale.spec import load_instrument

    k = len(load_instrument("pbr-y").items)
    with pytest.warns(PeerscaleWarning, match="cannot support a factor analysis") as rec:
        df = peerscale.simulate("pbr-y", n=20, seed=1)
    assert len(df) == 20 and len(rec) == 1  # not refused
    note = str(rec[0].message)
    assert "n = 20" in note and "pbr-y" in note and df.attrs["notes"] == [note]
    assert f"{k} items" in note
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", PeerscaleWarning)
        big = peerscale.simulate("pbr-y", n=200, seed=1)  # enough respondents: no warning
    assert big.attrs["notes"] == []
    out_path = tmp_path / "small.csv"
    code, out, err = run_cli("simulate", "-i", "pbr-y", "--n", "20", "--seed", "1", "-o", out_path, "-q")
    assert code == 0, err
    assert note in " ".join(err.split()) and len(pd.read_csv(out_path)) == 20
    code, out, err = run_cli("simulate", "-i", "pbr-y", "--n", "200", "--seed", "1", "-o", tmp_path / "b.csv", "-q")
    assert code == 0 and "factor analysis" not in err
