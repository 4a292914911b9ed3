"""The bundled synthetic example exports (examples/): current, linked, and scorable as shipped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from peerscale import load_instrument
from peerscale.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
YOUTH = EXAMPLES / "youth_export.csv"
WORKER = EXAMPLES / "worker_export.csv"
CASES = [(YOUTH, "pbr-y"), (YOUTH, "act-y"), (YOUTH, "out-y"), (WORKER, "pbr-p"), (WORKER, "act-p")]


SIMULATE = ["simulate", "--model", str(EXAMPLES / "population.yaml"), "--seed", "20240111"]


def _read(path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"record_id": str, "redcap_event_name": str, "dyad_id": str, "worker_id": str})


def test_committed_files_are_what_simulate_writes(tmp_path):
    """The bundled exports are `peerscale simulate --model examples/population.yaml` output."""
    written = [tmp_path / "youth_export.csv", tmp_path / "worker_export.csv"]
    assert main(SIMULATE + ["-o", str(written[0]), "--dyad-output", str(written[1]), "-q"]) == 0
    for path in written:
        assert path.read_bytes() == (EXAMPLES / path.name).read_bytes(), (
            f"examples/{path.name} is stale: run `peerscale {' '.join(SIMULATE[:2])} examples/population.yaml "
            "--seed 20240111 -o examples/youth_export.csv --dyad-output examples/worker_export.csv --force` "
            "and commit the CSVs")


def test_layout_is_a_redcap_export_with_linked_files():
    youth, worker = _read(YOUTH), _read(WORKER)
    assert list(youth.columns[:4]) == ["record_id", "redcap_event_name", "dyad_id", "worker_id"]
    for name in ("pbr-y", "act-y", "out-y"):
        assert set(load_instrument(name).items) <= set(youth.columns)
        assert f"{name.replace('-', '_')}_complete" in youth.columns
    for name in ("pbr-p", "act-p"):
        assert set(load_instrument(name).items) <= set(worker.columns)
    assert set(youth.redcap_event_name) == {"baseline_arm_1", "followup_arm_1"}
    assert not youth.duplicated(["record_id", "redcap_event_name"]).any()
    baseline = youth[youth.redcap_event_name == "baseline_arm_1"]
    followed = youth.loc[youth.redcap_event_name == "followup_arm_1", "record_id"]
    assert 250 <= len(baseline) <= 400
    assert 0.05 <= 1 - len(followed) / len(baseline) <= 0.25
    # every worker row is one of the young person's baseline dyads, with the same worker
    keys = ["record_id", "dyad_id", "worker_id"]
    linked = worker[keys].merge(baseline[keys], on=keys, how="left", indicator=True)
    assert (linked["_merge"] == "both").all()
    assert worker.worker_id.nunique() >= 30
    assert (worker.redcap_event_name == "baseline_arm_1").all()
    assert not worker.duplicated("dyad_id").any()


def test_answers_use_only_blanks_and_the_instruments_own_codes():
    youth, worker = _read(YOUTH), _read(WORKER)
    for path, name in CASES:
        data = youth if path == YOUTH else worker
        for item in load_instrument(name).items.values():
            rs = item.response_scale
            allowed = set(rs.codes) | {float(c) for c in rs.missing}
            values = set(data[item.id].dropna().astype(float))
            assert values <= allowed, (name, item.id, values - allowed)
    blank = youth[list(load_instrument("pbr-y").items)].isna().to_numpy().mean()
    assert 0.01 <= blank <= 0.05
    not_relevant = (youth[list(load_instrument("act-y").items)] == 9).to_numpy().mean()
    assert 0.005 <= not_relevant <= 0.05
    # items behind a screening question are blank unless the screen said Yes, as REDCap leaves them
    pbr_y = load_instrument("pbr-y")
    for item in pbr_y.items.values():
        if item.requires:
            hidden = ~youth[item.requires.item].isin(item.requires.answers)
            assert youth.loc[hidden, item.id].isna().all(), item.id
    shares = youth["pbr_y_story_01"].value_counts(normalize=True)
    assert 0.6 < shares[1] < 0.8 and shares[2] > shares[3] > 0.03


@pytest.mark.parametrize("path,instrument", CASES, ids=[c[1] for c in CASES])
def test_scores_through_the_cli_with_no_options(tmp_path, path, instrument):
    out = tmp_path / "scores.csv"
    assert main(["score", str(path), "--instrument", instrument, "-o", str(out), "--quiet"]) == 0
    data, scores = _read(path), _read(out)
    assert len(scores) == len(data)
    assert scores["record_id"].tolist() == data["record_id"].tolist()
    assert scores["redcap_event_name"].tolist() == data["redcap_event_name"].tolist()
    inst = load_instrument(instrument)
    for scale in inst.scales:
        s = scores[scale.name].dropna().to_numpy()
        gates = {inst.items[i].requires.item for i in scale.items if inst.items[i].requires}
        if gates and len(gates) == 1 and all(inst.items[i].requires for i in scale.items):
            # asked only after a screening question (REDCap branching): scored for about the
            # young people who answered Yes, and blank, not low, for the others
            screen = data[gates.pop()]
            assert (screen == 1).sum() * 0.9 < len(s) <= (screen == 1).sum(), scale.name
            assert scores.loc[screen != 1, f"{scale.name}_n"].eq(0).all(), scale.name
            continue
        assert len(s) > 0.9 * len(scores), scale.name
        assert ((s >= 1) & (s <= 5)).all(), scale.name
        n = scores[f"{scale.name}_n"].to_numpy()
        assert ((n >= 0) & (n <= len(scale.items))).all()
        assert np.isnan(scores[scale.name].to_numpy()[n < scale.required]).all()


def test_scores_show_the_designed_effects(tmp_path):
    """Follow-up above baseline; workers rate the relationship higher than young people."""
    y_out, p_out = tmp_path / "y.csv", tmp_path / "p.csv"
    assert main(["score", str(YOUTH), "-i", "pbr-y", "-o", str(y_out), "-q"]) == 0
    assert main(["score", str(WORKER), "-i", "pbr-p", "-o", str(p_out), "-q"]) == 0
    y, p = _read(y_out), _read(p_out)
    by_event = y.groupby("redcap_event_name")["pbr_core"].mean()
    assert by_event["followup_arm_1"] > by_event["baseline_arm_1"]
    dyads = y[y.redcap_event_name == "baseline_arm_1"].merge(p, on="dyad_id", suffixes=("_y", "_p"))
    assert dyads["pbr_core_p"].mean() > dyads["pbr_core_y"].mean()
    assert 0.1 < dyads[["pbr_core_y", "pbr_core_p"]].corr().iloc[0, 1] < 0.8


def test_wrong_form_for_the_file_is_a_data_error(tmp_path, capsys):
    out = tmp_path / "scores.csv"
    assert main(["score", str(WORKER), "--instrument", "pbr-y", "-o", str(out), "-q"]) == 1
    assert "error" in capsys.readouterr().err
    assert not out.exists()


def test_model_file_states_the_true_mediation_effect(tmp_path):
    truth = tmp_path / "truth.json"
    assert main(SIMULATE + ["-o", str(tmp_path / "y.csv"), "--dyad-output", str(tmp_path / "p.csv"),
                            "--truth", str(truth), "-q"]) == 0
    import json

    med = json.loads(truth.read_text())["mediation"]
    assert (med["a"], med["b"], med["c_prime"]) == (0.5, 0.45, 0.15)
    assert med["indirect"] == pytest.approx(0.225) and med["total"] == pytest.approx(0.375)
