"""peerscale simulate and peerscale plan (issue 12): data from a population model recover it;
missingness, design and layout are as requested; bad populations are refused clearly; the
Monte Carlo plan is reproducible across process counts, resumable, and its CIs cover."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import peerscale
from peerscale.cli import main
from peerscale.errors import PeerscaleError
from peerscale.simulation.generate import simulate_study
from peerscale.simulation.study import Design

FIXTURE = str(Path(__file__).resolve().parent / "fixtures" / "simulate" / "two-factor.yaml")
POP = """
population:
  loadings: {default: 0.7}
  correlations: {default: 0.4}
  thresholds: {default: [-1.8, -1.1, -0.4, 0.4, 1.1, 1.8]}
"""


def _fixture_with(tmp_path, population: str) -> str:
    text = Path(FIXTURE).read_text().split("population:")[0] + population
    p = tmp_path / "inst.yaml"
    p.write_text(text)
    return str(p)


def _keyed(df, inst):
    out = df[list(inst.items)].astype(float).copy()
    for i, it in inst.items.items():
        if it.reverse:
            out[i] = it.response_scale.reverse(out[i])
    return out


# ------------------------------------------------------------------ simulate: recovery

def test_large_sample_recovers_loadings_and_correlation_by_wlsmv():
    """WLSMV on polychorics estimates the generating loadings and factor correlation (delta, std_lv)."""
    from peerscale.psychometrics.cfa import fit_cfa

    inst = peerscale.load_instrument(FIXTURE)
    df = peerscale.simulate(FIXTURE, n=6000, seed=11)
    fit = fit_cfa("fa =~ a1 + a2 + a3 + a4\nfb =~ b1 + b2 + b3 + b4", _keyed(df, inst), estimator="DWLS",
                  std_lv=True)
    t = fit.params
    load = t[t.op == "=~"]
    for _, r in load.iterrows():
        truth = inst.population.loadings[r.rhs]
        assert abs(r.est - truth) < 4 * r.se, (r.rhs, r.est, truth, r.se)
    r = t[(t.op == "~~") & (t.lhs == "fa") & (t.rhs == "fb")].iloc[0]
    assert abs(r.est - 0.40) < 4 * r.se


def test_thresholds_and_reverse_keying_are_as_requested():
    inst = peerscale.load_instrument(FIXTURE)
    n = 20000
    df = peerscale.simulate(FIXTURE, n=n, seed=3)
    for item in ("a1", "b1", "a3"):
        cuts = np.array(inst.population.thresholds[item])
        expected = np.diff(np.r_[0, norm.cdf(cuts), 1])  # keyed categories 1..7
        x = df[item].to_numpy()
        if inst.items[item].reverse:  # written reversed, as a respondent answers it
            x = 8 - x
        observed = np.array([(x == c).mean() for c in range(1, 8)])
        se = np.sqrt(expected * (1 - expected) / n)
        assert np.all(np.abs(observed - expected) < 4.5 * se), (item, observed, expected)
    # a reverse-keyed item correlates negatively with its factor's other items as written
    assert df["a3"].corr(df["a1"]) < 0 < df["a2"].corr(df["a1"])


def test_missingness_rates_are_as_requested():
    n = 4000
    df = peerscale.simulate(FIXTURE, n=n, seed=5, mcar=0.10, not_relevant=0.05)
    items = df[["a1", "a2", "a3", "a4", "b1", "b2", "b3", "b4"]]
    cells = items.size
    blank = items.isna().to_numpy().mean()
    assert abs(blank - 0.10) < 4 * np.sqrt(0.1 * 0.9 / cells)
    nine = (items == 9).to_numpy().sum() / items.notna().to_numpy().sum()
    assert abs(nine - 0.05) < 0.01
    # whole pages: each skipped form has one dimension's items all blank
    paged = peerscale.simulate(FIXTURE, n=n, seed=6, page_skip=0.2)
    a_blank = paged[["a1", "a2", "a3", "a4"]].isna().all(axis=1)
    b_blank = paged[["b1", "b2", "b3", "b4"]].isna().all(axis=1)
    share = (a_blank | b_blank).mean()
    assert abs(share - 0.2) < 4 * np.sqrt(0.2 * 0.8 / n)
    assert not (a_blank & b_blank).any()


def test_worker_icc_and_wave_change_are_as_requested():
    design = Design(n=6000, forms=[FIXTURE], workers=200, icc={"*": 0.20}, waves=2, gain={"*": 0.5},
                    follow_up=0.8)
    study = simulate_study(design, seed=2)
    lat = study.latent
    first = (study.data["wave"] == 1).to_numpy()
    w = study.data["worker_id"][first].to_numpy()
    for col in lat.columns:
        y = lat[col].to_numpy()[first]
        frame = pd.DataFrame({"y": y, "w": w})
        between = frame.groupby("w")["y"].mean().var()
        within = frame.groupby("w")["y"].var().mean()
        m = frame.groupby("w").size().mean()
        icc = (between - within / m) / (between - within / m + within)
        assert abs(icc - 0.20) < 0.05, (col, icc)
    second = ~first
    assert abs(second.sum() / first.sum() - 0.8) < 0.03
    gain = lat[second].mean() - lat[first].mean()
    assert np.all(np.abs(gain - 0.5) < 0.06)


def test_same_seed_same_data_and_redcap_layout():
    a = peerscale.simulate(FIXTURE, n=50, seed=9, waves=2, redcap=True, workers=5, icc=0.1)
    b = peerscale.simulate(FIXTURE, n=50, seed=9, waves=2, redcap=True, workers=5, icc=0.1)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns[:3]) == ["record_id", "redcap_event_name", "worker_id"]
    assert set(a.redcap_event_name) == {"baseline_arm_1", "followup_arm_1"}
    assert "two_factor_complete" in a.columns
    assert not a.equals(peerscale.simulate(FIXTURE, n=50, seed=10, waves=2, redcap=True, workers=5, icc=0.1))


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".sav", ".xlsx"])
def test_cli_writes_any_output_format(tmp_path, suffix):
    out = tmp_path / f"sim{suffix}"
    assert main(["simulate", "-i", "pbr-p", "--n", "40", "--seed", "1", "--workers", "4", "--icc", "0.1",
                 "--waves", "2", "--redcap", "-o", str(out), "-q"]) == 0
    back = peerscale.read(str(out), "pbr-p")
    assert back.n_rows == 80


def test_cli_dyads_and_truth(tmp_path):
    y, p, truth = tmp_path / "y.csv", tmp_path / "p.csv", tmp_path / "t.json"
    assert main(["simulate", "-i", "pbr-y", "--dyad-instrument", "pbr-p", "--workers", "10", "--n", "60",
                 "--seed", "4", "-o", str(y), "--dyad-output", str(p), "--truth", str(truth), "-q"]) == 0
    yy, pp = pd.read_csv(y, dtype=str), pd.read_csv(p, dtype=str)
    assert set(pp.dyad_id) <= set(yy.dyad_id) and len(pp) == 60
    assert json.loads(truth.read_text())["loadings"]["pbr_y_share_01"] > 0


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("population,message", [
    ("population:\n  loadings: 0.7\n  correlations: {default: 0.4, fa~fb: 1.2}\n  thresholds: [-1, 0, 1, 1.5, 2, 2.5]\n",
     "between -1 and 1"),
    ("population:\n  loadings: 1.2\n  thresholds: [-1, 0, 1, 1.5, 2, 2.5]\n", "between 0 and 1"),
    ("population:\n  loadings: 0.7\n  thresholds: [-1, 0, 1, 0.5, 2, 2.5]\n", "must increase strictly"),
    ("population:\n  loadings: 0.7\n  thresholds: [-1, 0, 1]\n", "7 response categories need 6 thresholds"),
    ("population:\n  loadings: {fa: [0.7, 0.7]}\n  thresholds: [-1, 0, 1, 1.5, 2, 2.5]\n", "give one loading or 4"),
    ("population:\n  model: irt\n  loadings: 0.7\n  thresholds: [-1, 0, 1, 1.5, 2, 2.5]\n", "this file has none"),
    ("population:\n  loadings: -0.5\n  thresholds: [-1, 0, 1, 1.5, 2, 2.5]\n", "keyed direction"),
])
def test_bad_population_blocks_are_refused_with_the_key(tmp_path, population, message):
    path = _fixture_with(tmp_path, population)
    with pytest.raises(PeerscaleError) as err:
        peerscale.load_instrument(path)
    assert message in str(err.value) and "population" in str(err.value)


def test_population_not_positive_definite(tmp_path):
    text = Path(FIXTURE).read_text().split("\nscales:")[0] + """
scales:
  - {name: fa, label: A, items: [a1, a2]}
  - {name: fb, label: B, items: [a3, a4]}
  - {name: fc, label: C, items: [b1, b2, b3, b4]}
population:
  loadings: 0.7
  correlations: {fa~fb: 0.9, fa~fc: 0.9, fb~fc: -0.5}
  thresholds: [-1, 0, 1, 1.5, 2, 2.5]
"""
    p = tmp_path / "npd.yaml"
    p.write_text(text)
    with pytest.raises(PeerscaleError, match="not positive definite"):
        peerscale.load_instrument(str(p))


def test_cli_bad_inputs_are_one_message(tmp_path, capsys):
    out = tmp_path / "x.csv"
    assert main(["simulate", "-i", "no-such-form", "--n", "10", "-o", str(out)]) == 1
    assert "no bundled instrument called 'no-such-form'" in capsys.readouterr().err
    assert main(["plan", "-i", "pbr-y", "--n", "30,300", "--reps", "2", "-q"]) == 1
    err = capsys.readouterr().err
    assert "n = 30 is not more than the 36 items" in err and "Traceback" not in err
    assert main(["simulate", "-i", "pbr-p", "--n", "10", "--icc", "0.2", "-o", str(out)]) == 1
    assert "ICC needs workers" in capsys.readouterr().err
    assert not out.exists()


def test_model_file_mediation_not_positive_definite(tmp_path):
    model = Path(peerscale.examples.folder()) / "population.yaml"
    text = model.read_text().replace("b: 0.45, c_prime: 0.15", "b: 0.95, c_prime: 0.60")
    p = tmp_path / "m.yaml"
    p.write_text(text)
    with pytest.raises(PeerscaleError, match="not positive definite"):
        peerscale.simulate(model=str(p), seed=1)


# ------------------------------------------------------------------ plan

def test_plan_same_results_whatever_the_process_count_and_resume(tmp_path, monkeypatch):
    from peerscale.simulation import plan as planmod

    kw = dict(n=[120, 200], reps=3, seed=7, truth_n=5000)
    one = peerscale.plan(FIXTURE, processes=1, **kw)
    two = peerscale.plan(FIXTURE, processes=2, **kw)
    pd.testing.assert_frame_equal(one.to_frame(), two.to_frame())
    # an interrupted run keeps its finished replications; --resume completes it identically
    ckpt = tmp_path / "plan.ckpt.jsonl"
    real, calls = planmod.replicate, []

    def flaky(cfg, ni, rep):
        if len(calls) == 4:
            raise KeyboardInterrupt
        calls.append((ni, rep))
        return real(cfg, ni, rep)

    monkeypatch.setattr(planmod, "replicate", flaky)
    with pytest.raises(KeyboardInterrupt):
        peerscale.plan(FIXTURE, processes=1, checkpoint=ckpt, **kw)
    assert len(ckpt.read_text().splitlines()) == 1 + 4
    with pytest.raises(PeerscaleError, match="checkpoint of an earlier run"):
        peerscale.plan(FIXTURE, processes=1, checkpoint=ckpt, **kw)
    calls.clear()
    monkeypatch.setattr(planmod, "replicate", lambda cfg, ni, rep: calls.append(1) or real(cfg, ni, rep))
    resumed = peerscale.plan(FIXTURE, processes=1, checkpoint=ckpt, resume=True, **kw)
    assert len(calls) == 2  # only the replications the interrupted run had not finished
    pd.testing.assert_frame_equal(one.to_frame(), resumed.to_frame())
    assert not ckpt.exists()


def test_plan_result_frame_summary_and_power():
    res = peerscale.plan(FIXTURE, n=[150], reps=4, seed=1, processes=1, truth_n=5000)
    t = res.to_frame()
    assert {"convergence", "cfi_ok", "rmsea_ok", "srmr_ok", "bias", "rmse", "coverage", "power",
            "alpha_ci_width", "omega_ci_width"} <= set(t.measure)
    assert t.loc[t.measure == "convergence", "value"].iloc[0] == 1.0
    power = t[(t.measure == "power") & (t.parameter == "fa ~~ fb")]
    assert power["value"].iloc[0] == 1.0  # r = .40 with n = 150
    assert "Monte Carlo plan: two-factor" in res.summary()
    assert res.svg().startswith("<svg") and "Coverage" in res.svg()
    assert set(res.table().columns) >= {"n", "convergence", "loading_coverage", "alpha_ci_width"}


def test_plan_cli_writes_table_svg_report_and_json(tmp_path, capsys):
    out, svg, rep = tmp_path / "plan.csv", tmp_path / "plan.svg", tmp_path / "plan.html"
    assert main(["plan", "-i", FIXTURE, "--n", "150", "--reps", "2", "--processes", "1", "--truth-n", "5000",
                 "-o", str(out), "--svg", str(svg), "--report", str(rep), "--json", "-q"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["config"]["n"] == [150] and data["by_n"][0]["convergence"] == 1.0
    assert pd.read_csv(out).columns.tolist() == ["n", "measure", "parameter", "value", "mc_se", "replications"]
    assert svg.read_text().startswith("<svg") and "<svg" in rep.read_text()


def test_plan_invariance_power_with_dif():
    res = peerscale.plan(FIXTURE, n=[600], reps=3, seed=2, groups=2, dif=0.8, processes=1, truth_n=5000)
    t = res.to_frame()
    scalar = t[(t.measure == "invariance_reject_chisq") & (t.parameter == "scalar")]["value"].iloc[0]
    assert scalar == 1.0


@pytest.mark.slow
def test_coverage_of_loading_intervals_at_n_500():
    """Well-behaved model (7-point symmetric items), ML, n = 500, 200 replications: the 95%
    Wald intervals of the loadings cover the pseudo-true values 93-97% of the time."""
    res = peerscale.plan(FIXTURE, n=[500], reps=200, seed=1, processes=2, truth_n=100_000)
    t = res.to_frame()
    cov = t[(t.measure == "coverage") & t.parameter.str.contains("=~")]["value"]
    assert len(cov) == 8
    assert 0.93 <= cov.mean() <= 0.97, cov.mean()


def test_plan_from_the_example_model_file_has_mediation_power():
    res = peerscale.plan(model=str(Path(peerscale.examples.folder()) / "population.yaml"), n=[200], reps=2, seed=3,
                         processes=1, truth_n=5000, complete=True)
    t = res.to_frame()
    power = t[t.measure == "power"].set_index("parameter")["value"]
    assert {"pbr_core ~ act_total", "out_total ~ pbr_core", "out_total ~ act_total", "indirect := ",
            "total := "} <= set(power.index)
    assert power["indirect := "] == 1.0  # a*b about .17 on the totals with n = 200
    assert 0.10 < res.truth["indirect := "] < 0.25


def test_irt_block_graded_response_model_is_recovered(tmp_path):
    """--irt draws the scales with an irt: bank from the GRM; a fit recovers the bank's slopes,
    and a reverse-keyed item (codes listed high to low in the bank) is written reversed."""
    from peerscale.irt import fit_grm

    d = [2.5, 1.5, 0.5, -0.5, -1.5, -2.5]
    bank = "\n".join(f"      - {{id: {i}, a: {a}, d: {d}, codes: {codes}}}" for i, a, codes in (
        ("a1", 1.2, [1, 2, 3, 4, 5, 6, 7]), ("a2", 1.8, [1, 2, 3, 4, 5, 6, 7]),
        ("a3", 1.5, [7, 6, 5, 4, 3, 2, 1]), ("a4", 1.0, [1, 2, 3, 4, 5, 6, 7])))
    text = Path(FIXTURE).read_text() + f"irt:\n  fa:\n    model: graded\n    items:\n{bank}\n"
    p = tmp_path / "irt.yaml"
    p.write_text(text)
    inst = peerscale.load_instrument(str(p))
    df = peerscale.simulate(str(p), n=5000, seed=8, irt=True)
    assert df["a3"].corr(df["a1"]) < 0
    keyed = _keyed(df, inst)[["a1", "a2", "a3", "a4"]]
    res = fit_grm(keyed)
    slopes = res.to_frame()["a"].to_numpy()
    assert np.allclose(slopes, [1.2, 1.8, 1.5, 1.0], atol=0.15), slopes


@pytest.mark.slow
def test_example_model_indirect_effect_is_recovered_within_monte_carlo_error():
    """The example model's indirect effect on the total scores: the mean over replications of
    n = 300 lies within 3 Monte Carlo SEs of its pseudo-true value (one sample of 30,000), and
    that value is the attenuated version of the stated latent a·b = .225."""
    res = peerscale.plan(model=str(Path(peerscale.examples.folder()) / "population.yaml"), n=[300], reps=16,
                         seed=5, processes=2, truth_n=30_000, complete=True)
    t = res.to_frame()
    bias = t[(t.measure == "bias") & (t.parameter == "indirect := ")].iloc[0]
    assert abs(bias["value"]) < 3 * bias["mc_se"], bias
    assert 0.12 < res.truth["indirect := "] < 0.225


def test_plan_with_missing_answers_uses_fiml_and_mlr():
    res = peerscale.plan(FIXTURE, n=[200], reps=2, seed=4, mcar=0.05, estimator="mlr", processes=1, truth_n=5000)
    t = res.to_frame()
    assert t.loc[t.measure == "convergence", "value"].iloc[0] == 1.0
    assert (t.measure == "alpha_ci_width").sum() == 2 and (t.measure == "omega_ci_width").sum() == 2
    assert res.config.estimator == "MLR" and "MLR" in res.summary()
