"""The CFA/SEM engine against lavaan 0.6-14 and semTools 0.5-6 (fixtures from tests/r/sem.R):
convergence over many groupings, higher-order factors, := defined parameters, ==/</>
constraints, group.equal/group.partial, ordinal multigroup invariance (Wu & Estabrook,
delta and theta) with scaled difference tests, FIML + MLR robust indices and score tests."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from peerscale.errors import PeerscaleError
from peerscale.psychometrics.cfa import fit_cfa, score_tests, standardized_solution
from peerscale.psychometrics.fit import fit_measures
from peerscale.psychometrics.invariance import (compare_models, measeq_syntax, measurement_invariance,
                                                partial_invariance)

from conftest import HS_MODEL

FIX = Path(__file__).parent / "fixtures" / "sem"
HS2 = HS_MODEL + "; g =~ visual + textual + speed"
PD_MODEL = (FIX / "political_democracy.lav").read_text()  # written by tests/r/sem.R
FIT_KEYS = ["npar", "chisq", "df", "pvalue", "baseline.chisq", "baseline.df", "cfi", "tli", "logl",
            "unrestricted.logl", "aic", "bic", "rmsea", "srmr"]
ORD_KEYS = {"npar": "npar", "chisq": "chisq", "df": "df", "chisq.scaled": "chisq_scaled",
            "chisq.scaling.factor": "scaling_factor", "chisq.shift.parameters": "shift_parameter",
            "baseline.chisq": "baseline_chisq", "baseline.chisq.scaled": "baseline_chisq_scaled", "cfi": "cfi",
            "tli": "tli", "rmsea": "rmsea", "cfi.scaled": "cfi_scaled", "tli.scaled": "tli_scaled",
            "rmsea.scaled": "rmsea_scaled", "srmr": "srmr"}


def ref_fit(name):
    return dict(pd.read_csv(FIX / name).values)


def ref_est(name):
    ref = pd.read_csv(FIX / name)
    ref["rhs"] = ref["rhs"].fillna("")
    return ref


def check_fit(res, name, keys=FIT_KEYS, tol=1e-6):
    ref, fm = ref_fit(name), fit_measures(res)
    for key in keys:
        if key in ref and not (np.isnan(ref[key]) and np.isnan(fm[key.replace(".", "_")])):
            assert fm[key.replace(".", "_")] == pytest.approx(ref[key], abs=tol, rel=tol), key
    if "rmsea.ci.lower" in ref:
        assert fm["rmsea_ci"] == pytest.approx([ref["rmsea.ci.lower"], ref["rmsea.ci.upper"]], abs=tol)


def check_est(res, name, tol=5e-5, se_tol=None, std=True):
    """Every row of lavaan's parameterEstimates (defined parameters included) matched.

    lavaan's estimates carry its optimiser's error even with rel.tol = 1e-15 (nlminb stops
    with gradients of ~1e-6, estimates ~1e-5 from the optimum); peerscale converges further,
    so the test also checks that its discrepancy is not above the one at lavaan's estimates."""
    ref = ref_est(name)
    _not_worse_than_lavaan(res, ref)
    ours = res.to_frame()
    ours.loc[ours.op == ":=", "group"] = 1 if res.spec.n_groups == 1 else 0
    both = ours.merge(ref, on=["lhs", "op", "rhs", "group"], suffixes=("", "_r"))
    assert len(both) == len(ref), set(map(tuple, ref[["lhs", "op", "rhs"]].values)) - set(map(tuple, both[["lhs", "op", "rhs"]].values))
    np.testing.assert_allclose(both.est, both.est_r, atol=tol)
    np.testing.assert_allclose(both.se, both.se_r, atol=se_tol or tol)
    if std:
        np.testing.assert_allclose(both.std_all, both["std.all"], atol=tol)
    return both


def _not_worse_than_lavaan(res, ref):
    lookup = {(r.lhs, r.op, r.rhs, r.group): r.est for r in ref.itertuples()}
    x = res.theta.copy()
    for pr in res.spec.params:
        if pr.free >= 0:
            x[pr.free] = lookup[(pr.lhs, pr.op, pr.rhs, pr.group + 1)]
    if res.constraints.any:  # lavaan's estimates satisfy the constraints to its own precision only
        return
    f_lavaan, _ = res._engine.discrepancy(x)
    assert res.fmin2 <= f_lavaan + 1e-10


@pytest.fixture(scope="module")
def hsg():
    return pd.read_csv(FIX / "hs_groupings.csv")


@pytest.fixture(scope="module")
def poldem():
    return pd.read_csv(FIX / "political_democracy.csv")


# ---- convergence -------------------------------------------------------------------------------

@pytest.mark.slow
def test_converges_to_lavaan_on_every_grouping_lavaan_fits(hsg):
    """Every split of HS by sex, grade, school, age (median, tertiles, quartiles) and their
    crossings, configural/metric/scalar, marker and std.lv scaling: lavaan's χ² to 1e-6."""
    conv = pd.read_csv(FIX / "convergence_hs.csv")
    fitted = conv[conv.converged]
    assert len(fitted) >= 70
    levels = {"configural": (), "metric": ("loadings",), "scalar": ("loadings", "intercepts")}
    for r in fitted.itertuples():
        res = fit_cfa(HS_MODEL, hsg, group=r.grouping, group_equal=levels[r.level], std_lv=r.std_lv)
        assert res.converged
        assert res.spec.n_groups == r.ngroups
        assert res.df == r.df, (r.grouping, r.level)
        assert res.chisq == pytest.approx(r.chisq, abs=1e-6), (r.grouping, r.level, r.std_lv)


@pytest.mark.parametrize("grouping", ["sex", "school", "grade"])
def test_hs_by_group_matches_lavaan(hsg, grouping):
    res = fit_cfa(HS_MODEL, hsg, group=grouping)
    check_fit(res, f"hs_{grouping}_fit.csv")
    check_est(res, f"hs_{grouping}_est.csv")
    assert res.starts["tried"] == ["default"]  # per-group starts: no fallback needed


def test_random_starts_are_seeded_and_reach_the_same_optimum(hsg):
    a = fit_cfa(HS_MODEL, hsg, group="sex", starts=4, seed=3)
    b = fit_cfa(HS_MODEL, hsg, group="sex", starts=4, seed=3)
    assert a.starts == b.starts
    assert a.starts["reached_best"] == 5 and len(a.starts["tried"]) == 5
    assert a.chisq == pytest.approx(105.795218267385, abs=1e-6)
    with pytest.raises(PeerscaleError, match="starts"):
        fit_cfa(HS_MODEL, hsg, starts=-1)


def test_not_identified_names_the_parameters(hs):
    # a free first loading and a free factor variance: only their product is determined
    with pytest.raises(PeerscaleError, match=r"not identified.*visual") as e:
        fit_cfa("visual =~ NA*x1 + x2 + x3 + x4\n textual =~ x4 + x5 + x6", hs)
    assert "visual =~ x1" in str(e.value) or "visual ~~ visual" in str(e.value)
    with pytest.raises(PeerscaleError, match="df = -"):
        fit_cfa("f =~ NA*x1 + x2 + x3", hs)


def test_nonconvergence_says_what_was_tried(hs):
    with pytest.raises(PeerscaleError, match="did not converge.*default.*simple") as e:
        fit_cfa(HS_MODEL, hs, max_iter=1)
    assert "--starts" in str(e.value)


def test_heywood_case_is_kept_with_a_warning():
    rng = np.random.default_rng(5)
    f = rng.normal(size=300)
    data = pd.DataFrame({"a": f + rng.normal(0, 0.05, 300), "b": 0.3 * f + rng.normal(0, 1, 300),
                         "c": 0.3 * f + rng.normal(0, 1, 300)})
    res = fit_cfa("f =~ a + b + c", data)
    assert res.converged
    if (res.params.query("op == '~~' and lhs == 'a'").est < 0).any():
        assert any("negative" in w for w in res.warnings)


# ---- syntax ------------------------------------------------------------------------------------

def test_second_order_factor_matches_lavaan(hs):
    res = fit_cfa(HS2, hs)
    check_fit(res, "hs_second_order_fit.csv")
    check_est(res, "hs_second_order_est.csv")
    check_est(fit_cfa(HS2, hs, std_lv=True), "hs_second_order_stdlv_est.csv")
    # no covariances among the first-order factors (they are indicators of g)
    assert not ((res.params.op == "~~") & (res.params.lhs == "visual") & (res.params.rhs == "textual")).any()


def test_sem_with_defined_indirect_effects_matches_lavaan(poldem):
    res = fit_cfa(PD_MODEL, poldem)
    check_fit(res, "pd_fit.csv")
    both = check_est(res, "pd_est.csv")
    defined = both[both.op == ":="]
    assert list(defined.lhs) == ["indirect", "total", "ratio"]
    np.testing.assert_allclose(defined.se, defined.se_r, atol=5e-5)  # delta method
    np.testing.assert_allclose(defined.std_all, defined["std.all"], atol=5e-5)
    assert "Defined Parameters" in res.summary()


def test_sem_mlr_with_defined_parameters_matches_lavaan(poldem):
    res = fit_cfa(PD_MODEL, poldem, estimator="MLR")
    check_fit(res, "pd_mlr_fit.csv", keys=["chisq", "df", "cfi", "rmsea"])
    ref, fm = ref_fit("pd_mlr_fit.csv"), fit_measures(res)
    assert fm["scaling_factor"] == pytest.approx(ref["chisq.scaling.factor"], abs=1e-4)
    for key in ("chisq.scaled", "cfi.robust", "tli.robust", "rmsea.robust"):
        assert fm[key.replace(".", "_")] == pytest.approx(ref[key], abs=1e-4), key
    check_est(res, "pd_mlr_est.csv", se_tol=1e-4, std=False)


def test_observed_mediation_with_exogenous_covariate(hs):
    res = fit_cfa("x4 ~ a*x1\n x7 ~ b*x4 + c*x1\n ab := a*b\n total := c + a*b", hs)
    check_fit(res, "mediation_fit.csv")
    check_est(res, "mediation_est.csv")
    assert res.spec.exogenous == ["x1"]


def test_mlr_mediation_leaves_fixed_x_moments_out_of_the_scaling(hs):
    res = fit_cfa("x4 ~ a*x1 + x2\n x7 ~ b*x4 + c*x1\n ab := a*b", hs, estimator="MLR")
    check_fit(res, "mediation_mlr_fit.csv")
    ref, fm = ref_fit("mediation_mlr_fit.csv"), fit_measures(res)
    for key, ours in (("chisq.scaling.factor", "scaling_factor"), ("chisq.scaled", "chisq_scaled"),
                      ("cfi.robust", "cfi_robust"), ("tli.robust", "tli_robust"), ("rmsea.robust", "rmsea_robust"),
                      ("baseline.chisq.scaled", "baseline_chisq_scaled")):
        assert fm[ours] == pytest.approx(ref[key], abs=1e-6), key
    check_est(res, "mediation_mlr_est.csv", std=False)


def test_intercepts_switch_the_mean_structure_on(hs):
    res = fit_cfa("visual =~ x1 + x2 + x3\n x1 ~ 1\n x2 ~ 1", hs)
    assert res.spec.meanstructure
    check_fit(res, "hs_intercepts_fit.csv")
    check_est(res, "hs_intercepts_est.csv")


CONSTRAINTS = {
    "eq_linear": "visual =~ x1 + a*x2 + b*x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9\n a == b",
    "eq_nonlinear": "visual =~ x1 + a*x2 + b*x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9\n a*b == 0.5",
    "eq_affine": "visual =~ x1 + a*x2 + b*x3\n textual =~ x4 + c*x5 + d*x6\n speed =~ x7 + x8 + x9\n a + b == 2*c - d",
    "less": "visual =~ x1 + x2 + x3\n textual =~ x4 + c*x5 + x6\n speed =~ x7 + x8 + x9\n c < 1",
    "greater": "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9\n x3 ~~ v3*x3\n v3 > 0.9",
    "inactive": "visual =~ x1 + x2 + x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9\n x3 ~~ v3*x3\n v3 > 0.1",
    "nl_ineq": "visual =~ x1 + a*x2 + b*x3\n textual =~ x4 + x5 + x6\n speed =~ x7 + x8 + x9\n a^2 + b^2 < 0.7",
}


@pytest.mark.parametrize("name", list(CONSTRAINTS))
def test_constraints_match_lavaan(hs, name):
    res = fit_cfa(CONSTRAINTS[name], hs)
    ref = pd.read_csv(FIX / "constraints_fit.csv").set_index("name").loc[name]
    fm = fit_measures(res)
    # lavaan's augmented-Lagrangian optimiser (nlminb.constr) stops within ~1e-7 of the
    # constraints of the nonlinear and inequality models (its estimates violate them by that
    # much, so its χ² can be lower by ~1e-7): χ² to 1e-5 there; peerscale's estimates satisfy
    # every constraint to 1e-9
    tol = 1e-6 if name in ("eq_linear", "eq_affine", "inactive") else 1e-5
    assert fm["chisq"] == pytest.approx(ref["chisq"], abs=tol)
    vals = res.spec.values(res.theta)
    for c in res.spec.constraints:
        assert (abs(c.residual(vals)) if c.op == "==" else -c.residual(vals)) < 1e-9
    assert fm["df"] == ref["df"] and fm["npar"] == ref["npar"]
    assert fm["aic"] == pytest.approx(ref["aic"], abs=tol)
    check_est(res, f"constraint_{name}_est.csv", std=False)


def test_constraint_errors(hs):
    with pytest.raises(PeerscaleError, match="not a parameter label"):
        fit_cfa(HS_MODEL + "\n ab := a*b", hs)
    with pytest.raises(PeerscaleError, match="not a parameter label"):
        fit_cfa(HS_MODEL + "\n a == 1", hs)
    with pytest.raises(PeerscaleError, match="function"):
        fit_cfa("visual =~ x1 + a*x2 + x3\n d := foo(a)", hs)
    with pytest.raises(PeerscaleError, match="lower"):
        fit_cfa("visual =~ x1 + lower(0)*x2 + x3", hs)


# ---- multigroup: group.equal, group.partial ------------------------------------------------------

VARIANTS = {
    "residuals": (HS_MODEL + "; x7 ~~ x8", ("loadings", "intercepts", "residuals"), ()),
    "residual_covariances": (HS_MODEL + "; x7 ~~ x8", ("loadings", "residual.covariances"), ()),
    "lv_variances": (HS_MODEL, ("loadings", "lv.variances"), ()),
    "lv_covariances": (HS_MODEL, ("loadings", "lv.covariances"), ()),
    "means": (HS_MODEL, ("loadings", "intercepts", "means"), ()),
    "regressions": ("visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6; speed =~ x7 + x8 + x9; "
                    "textual ~ visual; speed ~ visual + textual", ("loadings", "regressions"), ()),
    "partial_intercepts": (HS_MODEL, ("loadings", "intercepts"), ("x3~1", "x7~1")),
    "partial_loadings": (HS_MODEL, ("loadings", "intercepts"), ("visual=~x2", "x7 ~ 1")),
    "all": (HS_MODEL + "; x7 ~~ x8", ("loadings", "intercepts", "residuals", "residual.covariances",
                                      "lv.variances", "lv.covariances", "means"), ()),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_group_equal_and_partial_match_lavaan(hs, name):
    model, ge, gp = VARIANTS[name]
    ref = pd.read_csv(FIX / "group_equal_fit.csv").set_index("name")
    for std_lv in (False, True):
        res = fit_cfa(model, hs, group="school", group_equal=ge, group_partial=gp, std_lv=std_lv)
        r = ref.loc[name + ("_stdlv" if std_lv else "")]
        fm = fit_measures(res)
        for key in ("npar", "chisq", "df", "cfi", "rmsea", "srmr", "aic", "bic"):
            assert fm[key] == pytest.approx(r[key], abs=1e-6), (name, std_lv, key)
        if not std_lv:
            check_est(res, f"group_equal_{name}_est.csv")


def test_group_options_are_checked(hs):
    with pytest.raises(PeerscaleError, match="unknown group_equal"):
        fit_cfa(HS_MODEL, hs, group="school", group_equal=("slopes",))
    with pytest.raises(PeerscaleError, match="group_partial"):
        fit_cfa(HS_MODEL, hs, group="school", group_equal=("loadings",), group_partial=("x1 x2",))


# ---- FIML + MLR robust indices, score tests ------------------------------------------------------

def test_fiml_mlr_two_groups_matches_lavaan():
    data = pd.read_csv(Path(__file__).parent / "fixtures" / "factor" / "hs1939_missing.csv")
    res = fit_cfa(HS_MODEL, data, group="school", missing="fiml", estimator="MLR", group_equal=("loadings",))
    check_fit(res, "fiml_mlr_school_fit.csv", keys=["npar", "chisq", "df", "cfi", "logl", "aic"], tol=1e-5)
    ref, fm = ref_fit("fiml_mlr_school_fit.csv"), fit_measures(res)
    assert fm["scaling_factor"] == pytest.approx(ref["chisq.scaling.factor"], abs=1e-4)
    for key in ("chisq.scaled", "cfi.scaled", "cfi.robust", "tli.robust", "rmsea.robust",
                "rmsea.ci.lower.robust", "rmsea.ci.upper.robust"):
        ours = fm[key.replace(".", "_")] if "ci." not in key else \
            fm["rmsea_ci_robust"][0 if "lower" in key else 1]
        assert ours == pytest.approx(ref[key], abs=1e-4), key
    check_est(res, "fiml_mlr_school_est.csv", tol=1e-5, se_tol=1e-4, std=False)


def test_score_tests_match_lavTestScore(hs):
    res = fit_cfa(HS_MODEL, hs, group="school", group_equal=("loadings", "intercepts"))
    total, uni = score_tests(res)
    ref_t = pd.read_csv(FIX / "score_hs_school_scalar_total.csv")
    ref_u = pd.read_csv(FIX / "score_hs_school_scalar_uni.csv")
    # score statistics are evaluated at the estimates, so lavaan's optimiser error (~1e-5 in
    # the estimates) carries over: relative 1e-4
    assert total["X2"] == pytest.approx(ref_t.X2[0], rel=1e-4) and total["df"] == ref_t.df[0]
    assert list(uni.lhs) == list(ref_u.lhs) and list(uni.rhs) == list(ref_u.rhs)
    np.testing.assert_allclose(uni.X2, ref_u.X2, rtol=1e-4, atol=1e-5)
    assert uni.parameter.iloc[0] == "visual=~x2" and uni.groups.iloc[0] == (1, 2)
    rel = score_tests(res, release=[0, 1, 2])[0]
    assert rel["X2"] == pytest.approx(pd.read_csv(FIX / "score_hs_school_scalar_release123.csv").X2[0], rel=1e-4)
    with pytest.raises(PeerscaleError, match="no equality constraints"):
        score_tests(fit_cfa(HS_MODEL, hs))


def test_partial_invariance_search_matches_the_lavaan_search(hs):
    ref = pd.read_csv(FIX / "partial_search_hs_school.csv")
    res = partial_invariance(HS_MODEL, hs, "school", level="scalar")
    assert res.partial == ["x3~1", "x7~1"] == list(ref.freed.dropna())
    scalar = res.table[res.table.level == "scalar"]
    np.testing.assert_allclose(scalar.chisq, ref.chisq, atol=1e-6)
    np.testing.assert_allclose(scalar.cfi, ref.cfi, atol=1e-8)
    assert list(scalar.criterion_met) == list(ref.ok)
    np.testing.assert_allclose(scalar.score_X2.iloc[1:].astype(float), ref.next_X2.iloc[:2], rtol=1e-4)
    # the chi-square criterion frees until the scaled difference is not significant
    chi = partial_invariance(HS_MODEL, hs, "school", level="scalar", criterion="chisq")
    assert chi.partial[:2] == ["x3~1", "x7~1"] and chi.table.criterion_met.iloc[-1]


# ---- ordinal multigroup invariance (Wu & Estabrook 2016) ----------------------------------------

@pytest.fixture(scope="module")
def bfi_gender():
    return pd.read_csv(FIX / "bfi_gender.csv")


ORD_MODEL = "A =~ A1 + A2 + A3 + A4 + A5\nC =~ C1 + C2 + C3 + C4 + C5"


@pytest.mark.slow
@pytest.mark.parametrize("parameterization", ["delta", "theta"])
def test_wu_estabrook_sequence_matches_semtools(bfi_gender, parameterization):
    tab, fits = measurement_invariance(ORD_MODEL, bfi_gender, "gender", estimator="DWLS",
                                       parameterization=parameterization)
    ref = pd.read_csv(FIX / f"wu_{parameterization}_fit.csv")
    ref.index = ["configural", "thresholds", "metric", "scalar"]
    for level, fit in fits.items():
        fm = fit_measures(fit)
        for theirs, ours in ORD_KEYS.items():
            if theirs not in ref.columns:
                continue
            # polychoric correlations: lavaan's optimiser is good to ~1e-8, so χ² to 1e-4 (relative 3e-7)
            assert fm[ours] == pytest.approx(ref.loc[level, theirs], rel=1e-6, abs=1e-4), (level, theirs)
    lrt = pd.read_csv(FIX / f"wu_{parameterization}_lrt.csv")
    np.testing.assert_allclose(tab.chisq_diff.iloc[1:], lrt["Chisq diff"].iloc[1:], atol=1e-4)
    np.testing.assert_array_equal(tab.df_diff.iloc[1:], lrt["Df diff"].iloc[1:])
    for level, tag in (("thresholds", "thresholds"), ("scalar", "intercepts")):
        est = ref_est(f"wu_{parameterization}_{tag}_est.csv")
        ours = fits[level].to_frame()
        both = ours.merge(est, on=["lhs", "op", "rhs", "group"], suffixes=("", "_r"))
        assert len(both) == len(est)
        np.testing.assert_allclose(both.est, both.est_r, atol=1e-4)
        free = both.free > 0
        np.testing.assert_allclose(both.se[free], both.se_r[free], atol=1e-4)


def test_measeq_syntax_is_semtools_for_the_metric_step(bfi_gender):
    """Same model as semTools' syntax: the fit of our generated syntax equals that of theirs."""
    theirs = (FIX / "wu_delta_loadings_syntax.txt").read_text()
    nth = {v: 5 for v in ["A1", "A2", "A3", "A4", "A5", "C1", "C2", "C3", "C4", "C5"]}
    ours = measeq_syntax(ORD_MODEL, 2, nth, group_equal=("thresholds", "loadings"))
    a = fit_cfa(theirs, bfi_gender, group="gender", estimator="DWLS")
    b = fit_cfa(ours, bfi_gender, group="gender", estimator="DWLS")
    assert a.chisq == pytest.approx(b.chisq, abs=1e-8) and a.df == b.df == 106


def test_ordinal_invariance_with_binary_and_three_category_items():
    data = pd.read_csv(FIX / "ordinal_mixed_categories.csv")
    ref = pd.read_csv(FIX / "wu_mixed_fit.csv")
    model = "f =~ y1 + y2 + y3 + y4 + y5 + y6"
    for pz in ("delta", "theta"):
        _, fits = measurement_invariance(model, data, "grp", estimator="DWLS", parameterization=pz)
        r = ref[ref.parameterization == pz].set_index("level")
        r.index = ["configural", "thresholds", "metric", "scalar"]
        for level, fit in fits.items():
            fm = fit_measures(fit)
            assert fm["df"] == r.loc[level, "df"] and fm["npar"] == r.loc[level, "npar"], (pz, level)
            assert fm["chisq"] == pytest.approx(r.loc[level, "chisq"], abs=1e-4), (pz, level)
            assert fm["chisq_scaled"] == pytest.approx(r.loc[level, "chisq.scaled"], abs=1e-4), (pz, level)


def test_lavaan_group_equal_on_ordinal_items(bfi_gender):
    res = fit_cfa(ORD_MODEL, bfi_gender, group="gender", estimator="DWLS", group_equal=("thresholds", "loadings"))
    ref = ref_fit("ordinal_group_equal_fit.csv")
    fm = fit_measures(res)
    for theirs, ours in ORD_KEYS.items():
        if theirs in ref:
            assert fm[ours] == pytest.approx(ref[theirs], rel=1e-6, abs=1e-4), theirs
    est = ref_est("ordinal_group_equal_est.csv")
    both = res.to_frame().merge(est, on=["lhs", "op", "rhs", "group"], suffixes=("", "_r"))
    assert len(both) == len(est)
    np.testing.assert_allclose(both.est, both.est_r, atol=1e-4)


def test_ordinal_score_tests_match_lavTestScore(bfi_gender):
    nth = {v: 5 for v in ["A1", "A2", "A3", "A4", "A5", "C1", "C2", "C3", "C4", "C5"]}
    res = fit_cfa(measeq_syntax(ORD_MODEL, 2, nth, group_equal=("thresholds", "loadings")), bfi_gender,
                  group="gender", estimator="DWLS")
    total, uni = score_tests(res)
    ref_u = pd.read_csv(FIX / "wu_delta_loadings_score_uni.csv")
    ref_t = pd.read_csv(FIX / "wu_delta_loadings_score_total.csv")
    assert total["X2"] == pytest.approx(ref_t.X2[0], rel=1e-4)
    np.testing.assert_allclose(uni.X2, ref_u.X2, rtol=1e-4, atol=1e-4)


# ---- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,match", [
    (dict(model=HS_MODEL + "; visual =~ x1"), "duplicate model element"),
    (dict(model="visual =~ x1 + c(a, b, c)*x2 + x3", group="school"), "3 c\\(\\) modifiers for 2 group"),
    (dict(model=HS_MODEL, group="x1"), "grouping column is also a model variable"),
    (dict(model=HS_MODEL, estimator="ULS"), "unknown estimator"),
    (dict(model=HS_MODEL, estimator="dwls", missing="fiml"), "listwise"),
    (dict(model="x4 ~ x1:x2"), "interaction terms"),
    (dict(model="f =~ x1 + x2 + x3; x1 ~~ -1*x1"), "not positive definite at any start"),
    (dict(model="f =~ x1 + x2 + x3", estimator="dwls"), "whole-number"),
])
def test_bad_models_are_refused_clearly(hs, kwargs, match):
    model = kwargs.pop("model")
    with pytest.raises(PeerscaleError, match=match):
        fit_cfa(model, hs, **kwargs)


def test_bad_data_is_refused_clearly(hs):
    with pytest.raises(PeerscaleError, match="only 5 complete rows in group 'a'"):
        fit_cfa(HS_MODEL, hs.assign(g=["a"] * 5 + ["b"] * (len(hs) - 5)), group="g")
    with pytest.raises(PeerscaleError, match="must be numeric"):
        fit_cfa(HS_MODEL, hs.assign(x1="a"))
    ordinal = hs.assign(x1=np.round(hs.x1), x2=np.round(hs.x2), x3=np.round(hs.x3))
    with pytest.raises(PeerscaleError, match="exogenous covariates with ordinal items"):
        fit_cfa("f =~ x1 + x2 + x3; f ~ ageyr", ordinal, estimator="dwls")
    # a category used in one group only
    two = ordinal.assign(x1=np.where((ordinal.school == "Pasteur") & (ordinal.x1 == ordinal.x1.max()),
                                     ordinal.x1 - 1, ordinal.x1))
    with pytest.raises(PeerscaleError, match="category .* is empty in group 'Pasteur'"):
        fit_cfa("f =~ x1 + x2 + x3", two, group="school", estimator="dwls")
    # rows without a group are left out, as lavaan does
    res = fit_cfa(HS_MODEL, hs.assign(g=[np.nan] * 100 + ["b"] * 100 + ["c"] * (len(hs) - 200)), group="g")
    assert res.n == 201
    miss = hs.assign(x1=np.where(np.arange(len(hs)) < 10, np.nan, hs.x1))
    res = fit_cfa("x4 ~ x1 + x2", miss, missing="fiml")
    assert res.n == len(hs) - 10 and "fixed.x" in res.warnings[-1]


def test_summary_and_frame_read_like_lavaan(hs):
    res = fit_cfa(HS_MODEL, hs, group="school", group_equal=("loadings",))
    text = res.summary()
    for part in ("Estimator", "Number of observations per group", "Pasteur", "Grant-White", "Missing data",
                 "Model Test User Model", "Latent Variables:", "Std.all", "Intercepts:", "Variances:",
                 "Number of equality constraints"):
        assert part in text, part
    frame = res.to_frame()
    assert {"lhs", "op", "rhs", "group", "group_label", "est", "se", "z", "pvalue", "std_all"} <= set(frame.columns)
    assert "chisq = 124.044" in repr(res)


def test_readme_sem_example_runs(monkeypatch, capsys):
    import re
    from conftest import ROOT
    text = (ROOT / "README.md").read_text()
    block = re.search(r"### CFA and SEM in lavaan syntax\n.*?```python\n(.*?)```", text, re.S).group(1)
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "45  indirect  0.173  0.062" in out and "['y3~1']" in out
    assert "Missing data                                            fiml" in out


def test_auto_fix_first_and_std_lv_are_lavaans(hs):
    with pytest.raises(PeerscaleError, match="scale of visual, textual, speed is not set"):
        fit_cfa(HS_MODEL, hs, auto_fix_first=False)
    manual = fit_cfa(HS_MODEL + "; visual ~~ 1*visual; textual ~~ 1*textual; speed ~~ 1*speed", hs,
                     auto_fix_first=False)
    auto = fit_cfa(HS_MODEL, hs, std_lv=True)
    assert manual.chisq == pytest.approx(auto.chisq, abs=1e-8) and manual.df == auto.df == 24
    both = manual.params.merge(auto.params, on=["lhs", "op", "rhs"])
    assert len(both) == 24
    np.testing.assert_allclose(both.est_x, both.est_y, atol=1e-6)
    # std_lv also fixes the residual variance of an endogenous factor, as lavaan does
    sem = fit_cfa(HS_MODEL + "; speed ~ visual", hs, std_lv=True)
    row = sem.params.query("lhs == 'speed' and op == '~~' and rhs == 'speed'")
    assert row.free.iloc[0] == 0 and row.est.iloc[0] == 1.0


def test_fiml_with_fixed_exogenous_covariates():
    data = pd.read_csv(FIX / "hs_missing_exo.csv")
    res = fit_cfa("x4 ~ x1 + x2; x7 ~ x4 + x5; x5 ~ x1", data, missing="fiml")
    check_fit(res, "fiml_exo_fit.csv")
    res = fit_cfa("visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6; visual ~ ageyr", data, missing="fiml",
                  estimator="MLR")
    check_fit(res, "fiml_exo_mlr_fit.csv", keys=["chisq", "df", "cfi", "logl"])
    ref, fm = ref_fit("fiml_exo_mlr_fit.csv"), fit_measures(res)
    for key in ("chisq.scaled", "chisq.scaling.factor", "cfi.robust", "tli.robust", "rmsea.robust"):
        ours = fm["scaling_factor" if key == "chisq.scaling.factor" else key.replace(".", "_")]
        assert ours == pytest.approx(ref[key], abs=1e-4), key
