"""Mediation (issue 9, part 4) and cluster-robust SEs (part 2's --cluster) against lavaan 0.6-14
fixtures written by tests/r/mediation.R; bootstrap reproducibility; simulation recovery;
bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import FIXTURES, ROOT
from peerscale.errors import PeerscaleError
from peerscale.psychometrics.mediation import bootstrap_ci, fit_mediation

FIX = FIXTURES / "mediation"
TOL = 1e-4
ITEMS = {"X": ["x1", "x2", "x3"], "M": ["m1", "m2", "m3"], "Y": ["y1", "y2", "y3"]}
EXAMPLE = ROOT / "examples" / "youth_export.csv"
WORKER = ROOT / "examples" / "worker_export.csv"


@pytest.fixture(scope="module")
def data():
    return pd.read_csv(FIX / "data.csv")


def _key(lhs, op, rhs):
    rhs = "" if rhs is None or (isinstance(rhs, float) and np.isnan(rhs)) else str(rhs)
    return (str(lhs), op, rhs.replace(" ", ""))


def max_dev(fit, csv) -> dict:
    """Max |Δ| of est and se over every row of lavaan's parameterEstimates (free and fixed)."""
    ref = pd.read_csv(FIX / csv, keep_default_na=False, na_values=["NA"])
    ours = {_key(r.lhs, r.op, r.rhs): r for r in fit.params.itertuples()}
    dev = {"est": 0.0, "se": 0.0}
    for r in ref.itertuples():
        k = _key(r.lhs, r.op, r.rhs)
        assert k in ours, f"lavaan row {k} missing"
        o = ours[k]
        dev["est"] = max(dev["est"], abs(o.est - r.est))
        if np.isfinite(r.se):
            dev["se"] = max(dev["se"], abs(o.se - r.se))
    return dev


VARIANTS = [  # fixture, covariates, latent, cluster
    ("obs.csv", [], False, None),
    ("obs_cluster.csv", [], False, "worker"),
    ("obs_cov.csv", ["z"], False, None),
    ("obs_cov_cluster.csv", ["z"], False, "worker"),
    ("latent.csv", [], True, None),
    ("latent_cluster.csv", [], True, "worker"),
]


@pytest.mark.parametrize("csv,cov,latent,cluster", VARIANTS)
def test_lavaan_parity(data, csv, cov, latent, cluster):
    names = ("X", "M", "Y") if latent else ("x", "m", "y")
    res = fit_mediation(data, *names, covariates=cov, latent=ITEMS if latent else None, cluster=cluster)
    dev = max_dev(res.fit, csv)
    assert dev["est"] < TOL and dev["se"] < TOL, dev
    ref = pd.read_csv(FIX / csv).fillna({"label": ""}).set_index("label")
    assert res.indirect["est"] == pytest.approx(ref.loc["indirect", "est"], abs=TOL)
    assert res.indirect["se"] == pytest.approx(ref.loc["indirect", "se"], abs=TOL)
    assert res.total["se"] == pytest.approx(ref.loc["total", "se"], abs=TOL)
    assert res.paths["c_prime"]["p"] == pytest.approx(ref.loc["c", "pvalue"], abs=TOL)
    assert res.n == 300 and res.n_excluded == 0


@pytest.mark.parametrize("csv,latent,cluster", [("obs_fiml.csv", False, None), ("obs_fiml_cluster.csv", False, "worker"),
                                                 ("latent_fiml_cluster.csv", True, "worker")])
def test_lavaan_parity_fiml(csv, latent, cluster):
    """Missing answers, lavaan's missing = "ml" (FIML), with and without cluster=."""
    from peerscale.psychometrics.fit import fit_measures

    d = pd.read_csv(FIX / "data_missing.csv")
    names = ("X", "M", "Y") if latent else ("x", "m", "y")
    res = fit_mediation(d, *names, latent=ITEMS if latent else None, cluster=cluster, missing="fiml")
    dev = max_dev(res.fit, csv)
    assert dev["est"] < TOL and dev["se"] < TOL, dev
    assert res.n == 300 and res.missing == "fiml"
    if latent:
        fm = fit_measures(res.fit)
        ref = pd.read_csv(FIX / "latent_fiml_cluster_fit.csv").set_index("measure")["value"]
        assert fm["scaling_factor"] == pytest.approx(ref["chisq.scaling.factor"], abs=TOL)
        assert fm["chisq_scaled"] == pytest.approx(ref["chisq.scaled"], abs=TOL)
        assert fm["baseline_chisq_scaled"] == pytest.approx(ref["baseline.chisq.scaled"], abs=1e-3)
    listwise = fit_mediation(d, *names, latent=ITEMS if latent else None, cluster=cluster)
    assert listwise.n < 300 and listwise.n + listwise.n_excluded == 300


def test_latent_cluster_scaled_test(data):
    from peerscale.psychometrics.fit import fit_measures

    res = fit_mediation(data, "X", "M", "Y", latent=ITEMS, cluster="worker")
    fm = fit_measures(res.fit)
    ref = pd.read_csv(FIX / "latent_cluster_fit.csv").set_index("measure")["value"]
    assert fm["chisq_scaled"] == pytest.approx(ref["chisq.scaled"], abs=TOL)
    assert fm["scaling_factor"] == pytest.approx(ref["chisq.scaling.factor"], abs=TOL)
    assert fm["baseline_chisq_scaled"] == pytest.approx(ref["baseline.chisq.scaled"], abs=1e-3)


def test_cfa_cluster_parity(data):
    from peerscale.psychometrics.cfa import fit_cfa
    from peerscale.psychometrics.fit import fit_measures

    fit = fit_cfa("X =~ x1 + x2 + x3\nM =~ m1 + m2 + m3\nY =~ y1 + y2 + y3", data, cluster="worker")
    dev = max_dev(fit, "cfa_cluster.csv")
    assert dev["est"] < TOL and dev["se"] < TOL, dev
    fm = fit_measures(fit)
    ref = pd.read_csv(FIX / "cfa_cluster_fit.csv").set_index("measure")["value"]
    for ours, theirs in (("chisq", "chisq"), ("chisq_scaled", "chisq.scaled"), ("scaling_factor", "chisq.scaling.factor"),
                         ("pvalue_scaled", "pvalue.scaled"), ("baseline_scaling_factor", "baseline.chisq.scaling.factor"),
                         ("cfi_scaled", "cfi.scaled"), ("tli_scaled", "tli.scaled"), ("rmsea_scaled", "rmsea.scaled"),
                         ("cfi_robust", "cfi.robust"), ("tli_robust", "tli.robust"), ("rmsea_robust", "rmsea.robust")):
        assert fm[ours] == pytest.approx(ref[theirs], abs=TOL), ours
    assert "robust.cluster" in fit.summary()


@pytest.mark.parametrize("csv,cluster", [("example.csv", None), ("example_cluster.csv", True)])
def test_bundled_example_parity(csv, cluster):
    """The bundled youth export through the whole pipeline (read, score, link) equals lavaan on
    the same scores."""
    import peerscale

    res = peerscale.mediation(EXAMPLE, x="act_total", m="pbr_core", y="out_total", cluster=cluster)
    scores = pd.read_csv(FIX / "example_scores.csv").dropna(subset=["act_total", "pbr_core", "out_total"])
    used = res.fit.data[0].raw[:, res.fit.spec.observed.index("pbr_core")]
    assert np.allclose(np.sort(used), np.sort(scores["pbr_core"]), atol=1e-9), \
        "the bundled example changed: rerun tests/r/mediation_example_scores.py and tests/r/mediation.R"
    dev = max_dev(res.fit, csv)
    assert dev["est"] < TOL and dev["se"] < TOL, dev
    assert res.n == 289 and res.n_excluded == 11
    assert sum(res.excluded.values()) == 11


def test_fiml_matches_listwise_when_complete(data):
    a = fit_mediation(data, "x", "m", "y")
    b = fit_mediation(data, "x", "m", "y", missing="fiml")
    assert b.indirect["est"] == pytest.approx(a.indirect["est"], abs=1e-6)


def test_bootstrap_identical_for_any_worker_count(data):
    one = fit_mediation(data, "x", "m", "y", bootstrap=600, seed=7, workers=1)
    two = fit_mediation(data, "x", "m", "y", bootstrap=600, seed=7, workers=2)
    assert one.indirect["ci_percentile"] == two.indirect["ci_percentile"]
    assert one.indirect["ci_bc"] == two.indirect["ci_bc"]
    other = fit_mediation(data, "x", "m", "y", bootstrap=600, seed=8, workers=1)
    assert other.indirect["ci_percentile"] != one.indirect["ci_percentile"]
    lo, hi = one.indirect["ci_percentile"]
    assert lo < one.indirect["est"] < hi
    # the bootstrap SD is close to the delta-method SE on normal data
    assert one.bootstrap["se"] == pytest.approx(one.indirect["se"], rel=0.2)
    clus = fit_mediation(data, "x", "m", "y", bootstrap=300, seed=7, cluster="worker", workers=2)
    assert clus.bootstrap["resampled"] == "clusters"


def test_latent_bootstrap_small(data):
    res = fit_mediation(data, "X", "M", "Y", latent=ITEMS, bootstrap=100, seed=3, workers=1)
    assert res.bootstrap["n_ok"] >= 95
    lo, hi = res.indirect["ci_bc"]
    assert lo < res.indirect["est"] < hi


def test_bootstrap_ci_formulas():
    rng = np.random.default_rng(1)
    stats = rng.normal(1.0, 0.1, 20000)
    perc, bc = bootstrap_ci(stats, 1.0)
    assert perc == pytest.approx([1 - 1.96 * 0.1, 1 + 1.96 * 0.1], abs=0.01)
    assert bc == pytest.approx(perc, abs=0.01)  # no bias: z0 ≈ 0
    _, bc_shift = bootstrap_ci(stats, 1.05)  # the estimate above the median: interval moves up
    assert bc_shift[0] > perc[0] and bc_shift[1] > perc[1]


def test_simulation_recovery():
    """A known indirect effect a·b = 0.5 × 0.4 = 0.2 is recovered within Monte Carlo error: the
    mean over 40 samples of 300 lies within 3 Monte Carlo SEs of 0.2, and the mean delta-method
    SE matches the spread of the estimates."""
    rng = np.random.default_rng(20241201)
    est, ses = [], []
    for _ in range(40):
        n = 300
        x = rng.normal(size=n)
        m = 0.5 * x + rng.normal(size=n)
        y = 0.4 * m + 0.2 * x + rng.normal(size=n)
        r = fit_mediation(pd.DataFrame({"x": x, "m": m, "y": y}), "x", "m", "y")
        est.append(r.indirect["est"])
        ses.append(r.indirect["se"])
    est = np.array(est)
    mc_se = est.std(ddof=1) / np.sqrt(len(est))
    assert abs(est.mean() - 0.2) < 3 * mc_se
    assert np.mean(ses) == pytest.approx(est.std(ddof=1), rel=0.25)


# ------------------------------------------------------------------ the exports and the CLI

def test_api_result_object():
    import peerscale

    res = peerscale.read(EXAMPLE, "pbr-y").mediation(x="act_total", m="pbr_core", y="out_total")
    frame = res.to_frame()
    assert list(frame.index) == ["a", "b", "c_prime", "indirect", "total"]
    assert "indirect := a*b" in res.summary()
    assert res.sources["instruments"] == {"x": "act-y", "m": "pbr-y", "y": "out-y"}


def test_two_files_linked_by_dyad():
    import peerscale

    res = peerscale.mediation([EXAMPLE, WORKER], x="act_total", m="pbr_core", y="out_total", x_instrument="act-y",
                              m_instrument="pbr-p")
    assert res.sources["link"] == "dyad_id"
    unmatched = [k for k in res.excluded if k.startswith("no matching record")]
    assert unmatched and res.n + res.n_excluded == 300 + 0 or res.n_excluded >= sum(res.excluded[k] for k in unmatched)


def test_ambiguous_scale_names_the_forms():
    import peerscale

    with pytest.raises(PeerscaleError, match="more than one form") as e:
        peerscale.mediation([EXAMPLE, WORKER], x="act_total", m="pbr_core", y="out_total")
    assert "instrument" in e.value.hint


def test_baseline_two_waves():
    import peerscale

    res = peerscale.mediation(EXAMPLE, x="act_total", m="pbr_core", y="out_total", baseline=True)
    assert res.baseline and res.sources["outcome_wave"] == "followup_arm_1"
    assert any(k.startswith("no followup_arm_1") for k in res.excluded)
    assert res.n + res.n_excluded == 300


def test_cli_json(run_cli):
    code, out, err = run_cli("mediation", EXAMPLE, "--x", "act_total", "--m", "pbr_core", "--y", "out_total",
                             "--bootstrap", "200", "--seed", "1", "--json", "--cluster")
    assert code == 0, err
    d = json.loads(out)
    for k in ("a", "b", "c_prime"):
        assert set(d["paths"][k]) == {"est", "se", "z", "p"}
    assert {"est", "se", "ci_percentile", "ci_bc"} <= set(d["indirect"])
    assert {"est", "se"} <= set(d["total"]) and d["n"] == 289
    assert d["cluster"] == "worker_id" and d["n_clusters"] == 40
    ref = pd.read_csv(FIX / "example_cluster.csv").fillna({"label": ""}).set_index("label")
    assert d["indirect"]["se"] == pytest.approx(ref.loc["indirect", "se"], abs=TOL)


def test_cli_tables(run_cli):
    code, out, err = run_cli("mediation", EXAMPLE, "--x", "act_total", "--m", "pbr_core", "--y", "out_total")
    assert code == 0, err
    assert "indirect" in out and "N used = 289" in out and "not proof" in out


# ------------------------------------------------------------------ bad input

def test_mismatched_ids_across_files(tmp_path):
    import peerscale

    w = pd.read_csv(WORKER, dtype=str)
    w["dyad_id"] = "Z" + w["dyad_id"]
    f = tmp_path / "worker.csv"
    w.to_csv(f, index=False)
    design = {"respondent": "record_id", "wave": "redcap_event_name", "dyad": "dyad_id", "worker": "worker_id"}
    with pytest.raises(PeerscaleError, match="no dyad_id matches"):
        peerscale.mediation([EXAMPLE, f], x="act_total", m="pbr_core", y="out_total", x_instrument="act-y",
                            m_instrument="pbr-p", design=design)


def test_unknown_scale(run_cli):
    code, _, err = run_cli("mediation", EXAMPLE, "--x", "act_total", "--m", "nonsense", "--y", "out_total")
    assert code == 1 and "unknown scale 'nonsense'" in err and "pbr_core" in err
    assert "Traceback" not in err


def test_constant_scale(data):
    d = data.assign(m=2.0)
    with pytest.raises(PeerscaleError, match="'m' is constant"):
        fit_mediation(d, "x", "m", "y")


def test_too_few_rows(data):
    with pytest.raises(PeerscaleError, match="only 6 usable rows"):
        fit_mediation(data.head(6), "x", "m", "y")
    d = data.copy()
    d.loc[5:, "m"] = np.nan
    with pytest.raises(PeerscaleError, match="left out: m missing: 295"):
        fit_mediation(d, "x", "m", "y")


def test_cluster_column_missing_or_single(data, run_cli):
    with pytest.raises(PeerscaleError, match="cluster column 'site' is not in the data"):
        fit_mediation(data, "x", "m", "y", cluster="site")
    with pytest.raises(PeerscaleError, match="single cluster"):
        fit_mediation(data.assign(worker="W01"), "x", "m", "y", cluster="worker")
    from peerscale.psychometrics.cfa import fit_cfa
    with pytest.raises(PeerscaleError, match="single cluster"):
        fit_cfa("X =~ x1 + x2 + x3", data.assign(worker="W01"), cluster="worker")
    with pytest.raises(PeerscaleError, match="not in the data"):
        fit_cfa("X =~ x1 + x2 + x3", data, cluster="nope")
    code, _, err = run_cli("mediation", EXAMPLE, "--x", "act_total", "--m", "pbr_core", "--y", "out_total",
                           "--cluster", "nope")
    assert code == 1 and "'nope' is not in the data" in err


def test_same_variable_twice_and_bad_options(data):
    with pytest.raises(PeerscaleError, match="three different"):
        fit_mediation(data, "x", "x", "y")
    with pytest.raises(PeerscaleError, match="too few"):
        fit_mediation(data, "x", "m", "y", bootstrap=10)


def test_baseline_needs_two_waves(tmp_path):
    import peerscale

    d = pd.read_csv(EXAMPLE, dtype=str)
    f = tmp_path / "one_wave.csv"
    d[d["redcap_event_name"] == "baseline_arm_1"].to_csv(f, index=False)
    with pytest.raises(PeerscaleError, match="two waves"):
        peerscale.mediation(f, x="act_total", m="pbr_core", y="out_total", baseline=True)


def test_cli_cfa_cluster(run_cli):
    code, out, err = run_cli("cfa", EXAMPLE, "-i", "out-y", "--cluster", "--top-mi", "0", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["cluster"] == {"column": "worker_id", "n_clusters": 40} and d["missing"] == "fiml"
    assert d["fit_robust"]["scaling_factor"] > 0 and d["n"] > 290
    code, out, err = run_cli("cfa", EXAMPLE, "-i", "out-y", "--cluster", "--missing", "listwise", "--top-mi", "0",
                             "--json")
    assert code == 0 and json.loads(out)["missing"] == "listwise" and json.loads(out)["n"] < 290
    code, out, err = run_cli("cfa", EXAMPLE, "-i", "out-y", "--cluster", "--top-mi", "0")
    assert code == 0 and "cluster-robust" in out


def test_latent_subscales_on_the_example():
    import peerscale

    res = peerscale.mediation(EXAMPLE, x="act_total", m="pbr_core", y="out_total", latent="subscales", missing="fiml")
    assert res.latent and res.n == 300 and res.n_excluded == 0
    assert len(res.fit.spec.observed) == 7 + 6 + 5  # activity, relationship and outcome subscale scores
    assert "pbr_core =~ pbr_core.share" in res.model
    assert 0 < res.indirect["est"] < 1
    with pytest.raises(PeerscaleError, match="missing='fiml'"):
        peerscale.mediation(EXAMPLE, x="act_total", m="pbr_core", y="out_total", latent="items")


@pytest.mark.slow
def test_report_section(tmp_path):
    import peerscale
    from peerscale.report.document import document
    from peerscale.report.markdown import write_markdown

    rep = peerscale.read(EXAMPLE, "pbr-y").report(bootstrap=1000, seed=1)
    assert rep.mediation["n"] == 289 and rep.mediation["cluster"] == "worker_id"
    _, _, sections = document(rep)
    sec = next(s for s in sections if s.id == "mediation")
    assert sec.title == "Does the relationship carry the outcomes?"
    html = rep.to_html()
    assert "Does the relationship carry the outcomes?" in html and "cross-sectional" in html
    assert "drafts under validation" in html and "a = 0.34 (SE 0.05)" in html  # coefficient on the arrow
    assert "indirect effect a·b) is 0.11 points" in html.replace("**", "")
    assert "mediation model" in rep.methods
    md, files = write_markdown(rep, tmp_path / "r.md")
    assert (files / "mediation-paths.png").exists()
    # an export without the three forms has no section and no note
    from peerscale.report.mediation_section import collect_mediation
    assert collect_mediation(peerscale.read(WORKER, "pbr-p")) == (None, None)


def test_same_scale_name_from_two_forms_and_shared_items():
    import peerscale

    res = peerscale.mediation([EXAMPLE, WORKER], x="pbr-p:pbr_core", m="pbr-y:pbr_core", y="out_total",
                              latent="subscales", missing="fiml")
    assert res.x == "pbr_p__pbr_core" and res.m == "pbr_y__pbr_core"
    assert "pbr_p__pbr_core.share" in res.model and "pbr_y__pbr_core.share" in res.model
    with pytest.raises(PeerscaleError, match="share the item"):
        peerscale.mediation(EXAMPLE, x="share", m="pbr_core", y="out_total", latent="items", missing="fiml")
