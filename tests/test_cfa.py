"""CFA against lavaan 0.6-14 on HolzingerSwineford1939 (fixtures from tests/r/factor.R)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from peerscale import adhoc_instrument
from peerscale.errors import PeerscaleError
from peerscale.psychometrics.cfa import (fit_cfa, instrument_model, modification_indices,
                                         residual_correlations, standardized_solution)
from peerscale.psychometrics.fit import fit_measures
from peerscale.psychometrics.invariance import compare_models
from peerscale.psychometrics.lavaan_syntax import parse_model

from conftest import BFI_CSV as BFI, BFI_ITEMS, HS_MODEL

FIX = Path(__file__).parent / "fixtures" / "factor"


@pytest.fixture(scope="module")
def ml(hs):
    return fit_cfa(HS_MODEL, hs)


@pytest.fixture(scope="module")
def mlr(hs):
    return fit_cfa(HS_MODEL, hs, estimator="MLR")


def lavaan_fit(name):
    return dict(pd.read_csv(FIX / name).values)


FIT_KEYS = ["npar", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "cfi", "tli", "logl",
            "unrestricted.logl", "aic", "bic", "rmsea", "srmr"]


def test_ml_fit_measures_match_lavaan(ml):
    ref = lavaan_fit("cfa_hs_ml_fit.csv")
    fm = fit_measures(ml)
    for key in FIT_KEYS:
        assert fm[key.replace(".", "_")] == pytest.approx(ref[key], abs=1e-6, rel=1e-7), key
    assert fm["rmsea_ci"] == pytest.approx([ref["rmsea.ci.lower"], ref["rmsea.ci.upper"]], abs=1e-6)
    assert ml.converged


def test_ml_estimates_and_ses_match_lavaan(ml):
    ref = pd.read_csv(FIX / "cfa_hs_ml_est.csv", index_col=0)
    ours = ml.params.merge(ref, on=["lhs", "op", "rhs"], suffixes=("", "_r"))
    assert len(ours) == len(ref) == 24
    np.testing.assert_allclose(ours.est, ours.est_r, atol=1e-5)
    free = ours.free > 0
    np.testing.assert_allclose(ours.se[free], ours.se_r[free], atol=1e-5)


def test_standardized_solution_matches_lavaan(ml):
    ref = pd.read_csv(FIX / "cfa_hs_ml_std.csv", index_col=0)
    ours = standardized_solution(ml).merge(ref, on=["lhs", "op", "rhs"], suffixes=("", "_r"))
    assert len(ours) == 24
    np.testing.assert_allclose(ours.est_std, ours["est.std"], atol=1e-5)
    np.testing.assert_allclose(ours.se, ours.se_r, atol=1e-5)


def test_modification_indices_match_lavaan(ml):
    ref = pd.read_csv(FIX / "cfa_hs_ml_mi.csv", index_col=0)
    ours = modification_indices(ml)
    both = ours.merge(ref, on=["lhs", "op", "rhs"], suffixes=("", "_r"))
    assert len(both) == len(ref) == len(ours) == 54
    np.testing.assert_allclose(both.mi, both.mi_r, atol=1e-3)
    np.testing.assert_allclose(both.epc, both.epc_r, atol=1e-4)
    np.testing.assert_allclose(both.sepc_all, both["sepc.all"], atol=1e-4)
    top = modification_indices(ml, top=2)
    assert list(top.lhs + top.op + top.rhs) == ["visual=~x9", "x7~~x8"]


def test_residual_correlations_match_lavaan(ml):
    ref = pd.read_csv(FIX / "cfa_hs_ml_rescor.csv", index_col=0)
    np.testing.assert_allclose(residual_correlations(ml).to_numpy(), ref.to_numpy(), atol=1e-6)


def test_mlr_matches_lavaan(mlr):
    ref = lavaan_fit("cfa_hs_mlr_fit.csv")
    fm = fit_measures(mlr)
    assert fm["scaling_factor"] == pytest.approx(ref["chisq.scaling.factor"], abs=1e-5)
    for key in ["chisq.scaled", "pvalue.scaled", "baseline.chisq.scaled", "cfi.scaled", "tli.scaled",
                "cfi.robust", "tli.robust", "rmsea.scaled", "rmsea.robust", "srmr"]:
        assert fm[key.replace(".", "_")] == pytest.approx(ref[key], abs=1e-4), key
    assert fm["rmsea_ci_scaled"] == pytest.approx([ref["rmsea.ci.lower.scaled"], ref["rmsea.ci.upper.scaled"]], abs=1e-5)
    assert fm["rmsea_ci_robust"] == pytest.approx([ref["rmsea.ci.lower.robust"], ref["rmsea.ci.upper.robust"]], abs=1e-5)
    est = pd.read_csv(FIX / "cfa_hs_mlr_est.csv", index_col=0)
    ours = mlr.params.merge(est, on=["lhs", "op", "rhs"], suffixes=("", "_r"))
    free = ours.free > 0
    np.testing.assert_allclose(ours.se[free], ours.se_r[free], atol=1e-5)


def test_one_factor_and_nested_comparison_match_lavaan(hs, ml):
    one = fit_cfa("g =~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9", hs)
    ref = lavaan_fit("cfa_hs_one_fit.csv")
    fm = fit_measures(one)
    for key in ("chisq", "cfi", "tli", "rmsea", "srmr"):
        assert fm[key] == pytest.approx(ref[key], abs=1e-6)
    lrt = pd.read_csv(FIX / "cfa_hs_lrt_three_vs_one.csv", index_col=0)
    ours = compare_models(one, ml, names=["one", "three"])  # sorted by df like lavTestLRT
    assert list(ours.index) == ["three", "one"]
    row = ours.loc["one"]
    assert row.chisq_diff == pytest.approx(lrt.loc["fit_one", "Chisq diff"], abs=1e-6)
    assert row.rmsea_diff == pytest.approx(lrt.loc["fit_one", "RMSEA"], abs=1e-6)
    assert row.pvalue == pytest.approx(lrt.loc["fit_one", "Pr(>Chisq)"], rel=1e-4)


def simulate_cfa(n, seed):
    rng = np.random.default_rng(seed)
    lam = {"F1": [1.0, 0.8, 1.2, 0.9], "F2": [1.0, 1.1, 0.7, 0.9]}
    phi = np.array([[0.8, 0.3], [0.3, 0.6]])
    f = rng.multivariate_normal([0, 0], phi, size=n)
    cols = {}
    for k, (name, ls) in enumerate(lam.items()):
        for j, l_ in enumerate(ls):
            cols[f"{name.lower()}_{j + 1}"] = l_ * f[:, k] + rng.normal(0, 0.6, n)
    return pd.DataFrame(cols), lam, phi


def test_recovers_simulated_loadings():
    data, lam, phi = simulate_cfa(4000, seed=7)
    res = fit_cfa("F1 =~ f1_1 + f1_2 + f1_3 + f1_4\nF2 =~ f2_1 + f2_2 + f2_3 + f2_4", data)
    p = res.params
    for name, ls in lam.items():
        est = p[(p.op == "=~") & (p.lhs == name)].est.to_numpy()
        np.testing.assert_allclose(est, ls, atol=0.06)
    cov = p[(p.op == "~~") & (p.lhs == "F1") & (p.rhs == "F2")].est.iloc[0]
    assert cov == pytest.approx(phi[0, 1], abs=0.05)
    fm = fit_measures(res)
    assert fm["pvalue"] > 0.001 and fm["cfi"] > 0.99 and fm["rmsea"] < 0.03


def test_syntax_features_fixed_labels_and_std_lv(hs):
    # equal loadings by label, a fixed loading, a free first loading with a fixed variance
    m = "visual =~ NA*x1 + a*x2 + a*x3\nvisual ~~ 1*visual\ntextual =~ x4 + x5 + x6; x1 ~~ x4"
    res = fit_cfa(m, hs)
    p = res.params
    x2, x3 = p[(p.op == "=~") & p.rhs.isin(["x2", "x3"])].est
    assert x2 == pytest.approx(x3)
    assert p[(p.lhs == "visual") & (p.op == "~~") & (p.rhs == "visual")].est.iloc[0] == 1.0
    assert ((p.lhs == "x1") & (p.rhs == "x4")).any()
    a = fit_measures(fit_cfa(HS_MODEL, hs, std_lv=True))
    b = fit_measures(fit_cfa(HS_MODEL, hs))
    assert a["chisq"] == pytest.approx(b["chisq"], abs=1e-6)  # same model, other scaling


def test_regression_between_factors(hs):
    m = HS_MODEL + "\ntextual ~ visual\nspeed ~ visual"
    res = fit_cfa(m, hs)
    # saturated structural part: same fit as correlated factors
    assert res.chisq == pytest.approx(85.3055217699727, abs=1e-5)
    assert res.df == 24


def test_parse_model_forms():
    terms = parse_model("""
        # comment
        f1 =~ 1*a + b +
              c          ! continued
        f2 =~ c(1, NA)*d + e; f2 ~ f1
        a ~~ start(0.5)*b
    """)
    assert [(t.lhs, t.op, t.rhs) for t in terms] == [
        ("f1", "=~", "a"), ("f1", "=~", "b"), ("f1", "=~", "c"), ("f2", "=~", "d"), ("f2", "=~", "e"),
        ("f2", "~", "f1"), ("a", "~~", "b")]
    assert terms[0].modifier(0).fixed == 1.0
    assert terms[3].modifier(0).fixed == 1.0 and terms[3].modifier(1).free
    assert terms[6].modifier(0).start == 0.5


@pytest.mark.parametrize("text,match", [
    ("", "empty"),
    ("f1 <~ a + b", "not supported"),
    ("f1 =~ a + + b", "empty term"),
    ("f1 =~ 2a", "not a variable"),
    ("just words", "no operator"),
])
def test_bad_syntax(text, match):
    with pytest.raises(PeerscaleError, match=match):
        parse_model(text)


def test_bad_models_and_data(hs):
    with pytest.raises(PeerscaleError, match="not a data column"):
        fit_cfa("f =~ x1 + x2 + nope", hs)
    with pytest.raises(PeerscaleError, match="not identified"):
        fit_cfa("f =~ NA*x1 + x2 + x3", hs)
    with pytest.raises(PeerscaleError, match="estimator"):
        fit_cfa(HS_MODEL, hs, estimator="GLS")
    with pytest.raises(PeerscaleError, match="complete rows"):
        fit_cfa(HS_MODEL, hs.head(5))


def test_instrument_structures():
    inst = adhoc_instrument(["A=a1,a2,a3", "B=b1,b2,b3"], value_range=(1, 5))
    text, opts = instrument_model(inst, "correlated")
    assert text.splitlines() == ["A =~ a1 + a2 + a3", "B =~ b1 + b2 + b3"] and opts == {}
    assert instrument_model(inst, "one-factor")[0] == "g =~ a1 + a2 + a3 + b1 + b2 + b3"
    text, opts = instrument_model(inst, "bifactor")
    assert text.startswith("g =~") and opts == {"std_lv": True, "orthogonal": True}
    with pytest.raises(PeerscaleError):
        instrument_model(inst, "hierarchical")


def test_bifactor_fit_on_simulated_data():
    rng = np.random.default_rng(4)
    n = 3000
    g = rng.standard_normal(n)
    s = rng.standard_normal((n, 3))
    cols = {}
    for k in range(3):
        for j in range(4):
            cols[f"i{k}{j}"] = 0.6 * g + 0.5 * s[:, k] + rng.normal(0, 0.6, n)
    data = pd.DataFrame(cols)
    inst = adhoc_instrument([f"S{k}=" + ",".join(f"i{k}{j}" for j in range(4)) for k in range(3)])
    text, opts = instrument_model(inst, "bifactor")
    res = fit_cfa(text, data, **opts)
    std = standardized_solution(res)
    gl = std[(std.op == "=~") & (std.lhs == "g")].est_std.to_numpy()
    true_g = 0.6 / np.sqrt(0.36 + 0.25 + 0.36)
    np.testing.assert_allclose(gl, true_g, atol=0.06)
    assert fit_measures(res)["cfi"] > 0.99


def test_fiml_matches_lavaan_missing_ml():
    data = pd.read_csv(FIX / "hs1939_missing.csv")
    res = fit_cfa(HS_MODEL, data, missing="fiml")
    ref = lavaan_fit("cfa_hs_fiml_fit.csv")
    fm = fit_measures(res)
    for key in FIT_KEYS:
        assert fm[key.replace(".", "_")] == pytest.approx(ref[key], abs=1e-5), key
    assert fm["rmsea_ci"] == pytest.approx([ref["rmsea.ci.lower"], ref["rmsea.ci.upper"]], abs=1e-6)
    est = pd.read_csv(FIX / "cfa_hs_fiml_est.csv", index_col=0)
    est["rhs"] = est["rhs"].fillna("")
    ours = res.params.merge(est, on=["lhs", "op", "rhs"], suffixes=("", "_r"))
    assert len(ours) == len(est) == 30 + 6  # 30 free incl. 9 intercepts, 3 fixed markers, 3 latent means
    np.testing.assert_allclose(ours.est, ours.est_r, atol=1e-5)
    free = ours.free > 0
    np.testing.assert_allclose(ours.se[free], ours.se_r[free], atol=1e-5)
    assert fit_cfa(HS_MODEL, data).n < res.n  # listwise loses rows, FIML keeps them


def test_ordinal_dwls_matches_lavaan_wlsmv():
    bfi = pd.read_csv(BFI, usecols=BFI_ITEMS)
    res = fit_cfa("A =~ A2 + A1 + A3 + A4 + A5\nC =~ C1 + C2 + C3 + C4 + C5", bfi, estimator="DWLS")
    ref = lavaan_fit("cfa_bfi_wlsmv_fit.csv")
    fm = fit_measures(res)
    names = {"chisq.scaling.factor": "scaling_factor", "chisq.shift.parameters": "shift_parameter"}
    for key in ("npar", "chisq", "df", "chisq.scaled", "chisq.scaling.factor", "baseline.chisq",
                "baseline.chisq.scaled", "cfi", "tli", "rmsea", "cfi.scaled", "tli.scaled", "rmsea.scaled", "srmr"):
        assert fm[names.get(key, key.replace(".", "_"))] == pytest.approx(ref[key], abs=1e-3, rel=1e-6), key
    est = pd.read_csv(FIX / "cfa_bfi_wlsmv_est.csv", index_col=0)
    est["rhs"] = est["rhs"].fillna("")
    ours = res.params.merge(est, on=["lhs", "op", "rhs"], suffixes=("", "_r"))
    # loadings, thresholds, intercepts, (residual) variances, covariance, scales
    assert len(ours) == len(est) == 95
    np.testing.assert_allclose(ours.est, ours.est_r, atol=1e-5)
    free = ours.free > 0
    np.testing.assert_allclose(ours.se[free], ours.se_r[free], atol=1e-5)
    std = standardized_solution(res).merge(pd.read_csv(FIX / "cfa_bfi_wlsmv_std.csv", index_col=0),
                                           on=["lhs", "op", "rhs"], suffixes=("", "_r"))
    np.testing.assert_allclose(std.est_std, std["est.std"], atol=1e-5)
    np.testing.assert_allclose(std.se, std.se_r, atol=1e-5)
    with pytest.raises(PeerscaleError, match="fewer than two groups"):
        fit_cfa("A =~ A1 + A2 + A3", bfi.assign(g=1), estimator="DWLS", group="g")


def test_fiml_mlr_matches_lavaan():
    data = pd.read_csv(FIX / "hs1939_missing.csv")
    res = fit_cfa(HS_MODEL, data, missing="fiml", estimator="MLR")
    ref = lavaan_fit("cfa_hs_fiml_mlr_fit.csv")
    fm = fit_measures(res)
    assert fm["scaling_factor"] == pytest.approx(ref["chisq.scaling.factor"], abs=1e-5)
    for key in ("chisq", "chisq.scaled", "baseline.chisq.scaled", "cfi.scaled", "tli.scaled", "rmsea.scaled", "srmr"):
        assert fm[key.replace(".", "_")] == pytest.approx(ref[key], abs=1e-4), key
    assert fm["rmsea_ci_scaled"] == pytest.approx([ref["rmsea.ci.lower.scaled"], ref["rmsea.ci.upper.scaled"]], abs=1e-5)
    # lavaan's missing-data corrected robust indices (lav_fit_fiml_corrected)
    for key in ("cfi.robust", "tli.robust", "rmsea.robust"):
        assert fm[key.replace(".", "_")] == pytest.approx(ref[key], abs=1e-6), key
    assert fm["rmsea_ci_robust"] == pytest.approx([ref["rmsea.ci.lower.robust"], ref["rmsea.ci.upper.robust"]], abs=1e-6)
    est = pd.read_csv(FIX / "cfa_hs_fiml_mlr_est.csv", index_col=0)
    est["rhs"] = est["rhs"].fillna("")
    ours = res.params.merge(est, on=["lhs", "op", "rhs"], suffixes=("", "_r"))
    free = ours.free > 0
    np.testing.assert_allclose(ours.se[free], ours.se_r[free], atol=1e-5)
