"""Issue 12 review: bad inputs to simulate/plan (Python and CLI) get one clear message naming the
parameter or flag; outputs never overwrite inputs; checkpoints never mix runs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import peerscale
from peerscale.errors import PeerscaleError

FIXTURE = str(Path(__file__).resolve().parent / "fixtures" / "simulate" / "two-factor.yaml")


@pytest.mark.parametrize("seed", [-1, 1.5, "abc", True])
def test_simulate_bad_seed_is_a_clear_message(seed):
    with pytest.raises(PeerscaleError, match="`seed` must be a whole number of 0 or more"):
        peerscale.simulate(FIXTURE, n=10, seed=seed)


@pytest.mark.parametrize("seed", [-1, 1.5])
def test_plan_bad_seed_is_a_clear_message(seed):
    with pytest.raises(PeerscaleError, match="`seed` must be a whole number of 0 or more"):
        peerscale.plan(FIXTURE, n=[150], reps=1, seed=seed, truth_n=1000)


@pytest.mark.parametrize("command", [["simulate", "-i", FIXTURE, "--n", "10", "-o", "x.csv"],
                                     ["plan", "-i", FIXTURE, "--n", "150", "--reps", "1"]])
def test_cli_negative_seed_is_a_usage_error_not_an_internal_error(run_cli, tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(*command, "--seed", "-1")
    assert code == 2 and "--seed" in err and "internal error" not in err


def test_plan_svg_report_and_output_never_overwrite_the_scoring_file(run_cli, tmp_path, monkeypatch):
    """Before: `plan -i inst.yaml --svg inst.yaml --force` replaced the user's scoring file with an SVG."""
    monkeypatch.chdir(tmp_path)
    inst = tmp_path / "inst.yaml"
    inst.write_text(Path(FIXTURE).read_text())
    before = inst.read_bytes()
    for flag in ("--svg", "--report"):
        code, out, err = run_cli("plan", "-i", inst, "--n", "150", "--reps", "1", "--truth-n", "1000", "-q",
                                 flag, inst, "--force")
        assert code != 0 and "input of this run" in err, (flag, err)
    assert inst.read_bytes() == before


def test_outputs_must_be_distinct_files(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("plan", "-i", FIXTURE, "--n", "150", "--reps", "1", "--svg", "a.svg", "--report", "a.svg")
    assert code == 2 and "--svg" in err and "--report" in err
    code, out, err = run_cli("simulate", "-i", FIXTURE, "--n", "15", "-o", "a.csv", "--truth", "a.csv")
    assert code == 2 and "--truth" in err and not (tmp_path / "a.csv").exists()


def _interrupted(tmp_path, monkeypatch, inst, ckpt, **kw):
    from peerscale.simulation import plan as planmod

    real, calls = planmod.replicate, []

    def flaky(cfg, ni, rep):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        return real(cfg, ni, rep)

    monkeypatch.setattr(planmod, "replicate", flaky)
    with pytest.raises(KeyboardInterrupt):
        peerscale.plan(inst, processes=1, checkpoint=ckpt, **kw)
    monkeypatch.setattr(planmod, "replicate", real)
    assert len(ckpt.read_text().splitlines()) == 3


def test_resume_refuses_a_checkpoint_of_an_edited_population_or_another_seed(tmp_path, monkeypatch):
    """Before: the checkpoint key held the scoring file's path, not its contents, so resuming after
    editing the population block mixed replications of two different models."""
    inst = tmp_path / "inst.yaml"
    inst.write_text(Path(FIXTURE).read_text())
    ckpt = tmp_path / "c.jsonl"
    kw = dict(n=[120], reps=4, seed=7, truth_n=2000)
    _interrupted(tmp_path, monkeypatch, str(inst), ckpt, **kw)
    with pytest.raises(PeerscaleError, match="different plan"):
        peerscale.plan(str(inst), processes=1, checkpoint=ckpt, resume=True, **{**kw, "seed": 8})
    inst.write_text(Path(FIXTURE).read_text().replace("correlations: {default: 0.40}", "correlations: {default: 0.10}"))
    with pytest.raises(PeerscaleError, match="different plan"):
        peerscale.plan(str(inst), processes=1, checkpoint=ckpt, resume=True, **kw)


@pytest.mark.parametrize("kwargs, message", [
    ({"workers": 2.5, "icc": 0.2}, "`workers` must be a whole number"),
    ({"waves": 2.5}, "`waves` must be a whole number"),
    ({"waves": 2, "stability": 1.0}, "`stability` is a correlation between -1 and 1"),
    ({"waves": 2, "change": float("nan")}, "`change` must be a finite number"),
    ({"mcar": "x"}, "`mcar` must be a finite number"),
    ({"not_relevant": float("nan")}, "`not_relevant` must be a finite number"),
])
def test_simulate_bad_parameters_name_the_parameter(kwargs, message):
    """Before: TypeError/ValueError tracebacks (workers=2.5, waves=2.5, mcar='x'), NaN answers
    from change=nan, and stability=1 called 'a proportion'."""
    with pytest.raises(PeerscaleError, match=message):
        peerscale.simulate(FIXTURE, n=10, seed=1, **kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"mcar": "a"}, "`mcar` must be a finite number"),
    ({"processes": 0}, "`processes` must be a whole number of at least 1"),
    ({"scales": "fa"}, "`scales` is a list of names"),
    ({"groups": 2, "dif_items": "a1"}, "`dif_items` is a list of names"),
    ({"groups": 2, "dif": float("nan")}, "`dif` must be a finite number"),
    ({"n": "150,300"}, "`n` is a whole number or a list"),
    ({"truth_n": 5}, "`truth_n` must be a whole number of at least 1000"),
])
def test_plan_bad_parameters_name_the_parameter(kwargs, message):
    """Before: mcar='a' was a TypeError, processes=0 ran, scales='fa' looked for scale 'f',
    n='150,300' listed its characters, dif=nan ran."""
    kw = {"n": [150], "reps": 1, "seed": 1, "truth_n": 1000, **kwargs}
    with pytest.raises(PeerscaleError, match=message):
        peerscale.plan(FIXTURE, **kw)


def test_cli_plan_dif_nan_names_the_flag(run_cli):
    code, out, err = run_cli("plan", "-i", FIXTURE, "--n", "150", "--reps", "1", "--groups", "2", "--dif", "nan")
    assert code != 0 and "--dif" in err and "`dif`" not in err and "internal error" not in err


def _with_population(tmp_path, population: str) -> str:
    text = Path(FIXTURE).read_text().split("population:")[0] + population
    p = tmp_path / "inst.yaml"
    p.write_text(text)
    return str(p)


def test_a_correlation_pair_given_twice_is_refused(tmp_path):
    """Before: `fa~fb: 0.3` and `fb~fa: 0.9` silently kept the last."""
    path = _with_population(tmp_path, "population:\n  loadings: {default: 0.7}\n  correlations: {fa~fb: 0.3, fb~fa: 0.9}\n"
                                      "  thresholds: {default: [-1.8, -1.1, -0.4, 0.4, 1.1, 1.8]}\n")
    with pytest.raises(PeerscaleError, match="given twice") as exc:
        peerscale.load_instrument(path)
    assert "population.correlations.fb~fa" in str(exc.value)


def test_irt_without_an_irt_block_names_the_flag(run_cli, tmp_path):
    code, out, err = run_cli("simulate", "-i", FIXTURE, "--n", "10", "--irt", "-o", tmp_path / "x.csv")
    assert code == 1 and "leave out --irt" in err


def test_same_seed_gives_byte_identical_sav_and_xlsx(run_cli, tmp_path):
    """Before: .sav headers and .xlsx packages carried the time of writing, so the promise of
    byte-identical files for a seed held only for csv/tsv/parquet/jsonl."""
    import time

    for suffix in ("sav", "xlsx"):
        code, _, err = run_cli("simulate", "-i", FIXTURE, "--n", "20", "--seed", "4", "-q", "-o", tmp_path / f"a.{suffix}")
        assert code == 0, err
    time.sleep(1.1)
    for suffix in ("sav", "xlsx"):
        code, _, err = run_cli("simulate", "-i", FIXTURE, "--n", "20", "--seed", "4", "-q", "-o", tmp_path / f"b.{suffix}")
        assert code == 0, err
        assert (tmp_path / f"a.{suffix}").read_bytes() == (tmp_path / f"b.{suffix}").read_bytes(), suffix
    back = pd.read_excel(tmp_path / "a.xlsx")
    assert back.shape == (20, 9)
    assert pd.read_spss(tmp_path / "a.sav").shape == (20, 9)


def _model(tmp_path, body: str) -> str:
    inst = tmp_path / "inst.yaml"
    inst.write_text(Path(FIXTURE).read_text())
    p = tmp_path / "model.yaml"
    p.write_text("forms: [inst.yaml]\n" + body)
    return str(p)


def test_a_model_file_can_state_the_population(tmp_path):
    """The issue: loadings, correlations and thresholds come "from a population: block of the
    scoring file or a model file". Before, a model file's population: was an unknown key."""
    from peerscale.simulation.generate import simulate_study
    from peerscale.simulation.model import load_model

    model = _model(tmp_path, "n: 4000\npopulation:\n  loadings: {default: 0.5}\n  correlations: {default: 0.1}\n"
                             "  thresholds: {default: [-0.5, -0.4, -0.3, -0.2, -0.1, 0.0]}\n")
    study = simulate_study(load_model(model), seed=2)
    assert set(study.truth["loadings"].values()) == {0.5}
    x = study.data["a1"].to_numpy()
    assert abs((x == 7).mean() - 0.5) < 0.03  # above the last threshold (0): half the answers
    res = peerscale.plan(n=[150], reps=1, seed=1, model=model, truth_n=1000, processes=1)
    assert set(res.generating.values()) == {0.5}


@pytest.mark.parametrize("population, key, message", [
    ("population:\n  loadings: {default: 0.7}\n  thresholds: {default: [-1.8, -1.1, 0.4, -0.4, 1.1, 1.8]}\n",
     "population.thresholds.default", "increase strictly"),
    ("population:\n  loadings: {default: 0.7}\n  thresholds: {default: [-1.8, -1.1, -0.4, 0.4, 1.1]}\n",
     "population.thresholds.default", "need 6 thresholds"),
    ("population:\n  loadings: {default: 1.0}\n  thresholds: {default: [-1.8, -1.1, -0.4, 0.4, 1.1, 1.8]}\n",
     "population.loadings.default", "between 0 and 1"),
    ("population:\n  loadings: {default: 0.7}\n  correlation: 0.3\n  thresholds: {default: [-1, 0, 1, 2, 3, 4]}\n",
     "population.correlation", "unknown key"),
    ("population:\n  loadings: {default: 0.7}\n", "population", "thresholds"),
    ("population:\n  other: {loadings: 0.7, thresholds: [-1, 0, 1, 2, 3, 4]}\n", "population.other", "not one of"),
])
def test_bad_population_in_a_model_file_names_file_and_key(tmp_path, population, key, message):
    model = _model(tmp_path, "n: 50\n" + population)
    with pytest.raises(PeerscaleError, match=message) as exc:
        peerscale.simulate(model=model, seed=1)
    assert exc.value.key == key and exc.value.file == model


def test_model_population_per_form_keys_are_prefixed(tmp_path):
    model = tmp_path / "m.yaml"
    model.write_text("forms: [pbr-y, out-y]\nn: 50\npopulation:\n  pbr-y:\n    loadings: {default: 0.7}\n"
                     "    thresholds: {default: [-1.8, -1.1, 0.4, -0.4]}\n")
    with pytest.raises(PeerscaleError, match="increase strictly") as exc:
        peerscale.simulate(model=str(model), seed=1)
    assert exc.value.key == "population.pbr-y.thresholds.default"


def test_two_indicator_factors_are_identified_and_act_s_plans():
    """Before: the identification check ran at the start values, where factor covariances are 0
    and a two-indicator factor is unidentified, so `plan -i act-s` (seven two-item scales) and
    any CFA of such a form failed with "the model is not identified" (lavaan fits it)."""
    from peerscale.psychometrics.cfa import fit_cfa

    inst = peerscale.load_instrument("act-s")
    dims = [s for s in inst.scales if not s.composite]
    assert all(len(s.items) == 2 for s in dims)
    data = peerscale.simulate("act-s", n=3000, seed=1, not_relevant=0.0)
    syntax = "\n".join(f"{s.name} =~ " + " + ".join(s.items) for s in dims)
    res = fit_cfa(syntax, data[[i for s in dims for i in s.items]], std_lv=True)
    assert res.converged
    t = res.params
    assert len(t[t.op == "=~"]) == 14 and (t[t.op == "=~"].se < 0.1).all()
    plan = peerscale.plan("act-s", n=[150], reps=1, seed=1, truth_n=2000, processes=1)
    assert plan.table()["convergence"].iloc[0] == 1.0


def test_sav_declares_not_relevant_codes_missing_and_labels_items(run_cli, tmp_path):
    """Before: the .sav had no labels and no user-missing codes, so SPSS/PSPP averaged the
    "Did not come up" 9s of the activity forms into every item mean."""
    import pyreadstat

    out = tmp_path / "p.sav"
    code, _, err = run_cli("simulate", "-i", "act-y", "--n", "200", "--not-relevant", "0.1", "--redcap", "-q", "-o", out)
    assert code == 0, err
    raw, meta = pyreadstat.read_sav(str(out), user_missing=True)
    item = "act_y_engage_02"
    assert (raw[item] == 9).any()
    assert meta.missing_ranges[item] == [{"lo": 9.0, "hi": 9.0}]
    assert meta.column_names_to_labels[item].startswith("I met with my peer support worker")
    assert meta.variable_value_labels[item][9.0] == "Did not come up"
    assert "SYNTHETIC" in meta.file_label
    clean, _ = pyreadstat.read_sav(str(out))
    assert clean[item].max() <= 5
    code, _, err = run_cli("score", "-i", "act-y", out, "-o", tmp_path / "s.csv")
    assert code == 0, err


def test_model_mediation_on_constructs_no_form_measures_is_refused(tmp_path):
    """Before: a mediation naming ACT and OUT with only pbr-y among the forms ran silently, and
    --truth reported an effect the data cannot carry."""
    model = tmp_path / "m.yaml"
    model.write_text("forms: [pbr-y]\nn: 50\nlatent:\n  constructs: {PBR: 0.8, ACT: 0.7, OUT: 0.7}\n"
                     "  mediation: {x: ACT, m: PBR, y: OUT, a: 0.5, b: 0.4, c_prime: 0.1}\n")
    with pytest.raises(PeerscaleError, match="measured by none of the forms") as exc:
        peerscale.simulate(model=str(model), seed=1)
    assert exc.value.key == "latent.mediation.x"


def test_model_with_no_forms_names_the_key(tmp_path):
    model = tmp_path / "m.yaml"
    model.write_text("forms: []\n")
    with pytest.raises(PeerscaleError, match="at least one form") as exc:
        peerscale.simulate(model=str(model), seed=1)
    assert exc.value.key == "forms"


def test_plan_refuses_a_sample_size_listed_twice():
    """Before: --n 150,150 ran both and table() merged their rows under one n."""
    with pytest.raises(PeerscaleError, match="`n` lists 150 more than once"):
        peerscale.plan(FIXTURE, n=[150, 150], reps=1, truth_n=1000)
