"""Issue 9 against R on fresh data (tests/r/design_review.R writes tests/fixtures/design_review/):
psych::ICC (psych 2.2.9) for dyads, lme4::lmer REML for ICC(1) within workers, lavaan 0.6-14
cfa(cluster=). The shapes the first fixtures lack: tiny samples, a negative rater variance,
integer ties, negative ICCs, one huge caseload beside singletons, two clusters, numeric worker
ids with blanks read from a file by the command line, a clustered CFA with missing answers.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import FIXTURES

from peerscale.psychometrics.agreement import agreement
from peerscale.psychometrics.nesting import nesting_icc

FIX = FIXTURES / "design_review"
DYADS = json.loads((FIX / "psych_icc.json").read_text())
NEST = json.loads((FIX / "lme4_nesting.json").read_text())


@pytest.mark.parametrize("name", sorted(DYADS))
def test_dyads_match_psych_icc(name):
    r = DYADS[name]
    d = pd.read_csv(FIX / f"dyad_{name}.csv")
    res = agreement(d["y"], d["p"])
    assert res.n_pairs == r["n_pairs"] and res.reason is None
    for key in ("icc_a1", "icc_c1", "r", "mean_diff"):
        assert abs(getattr(res, key) - r[key]) < 1e-10, key
    for key in ("icc_a1_ci", "icc_c1_ci", "mean_diff_ci", "loa"):
        assert np.allclose(getattr(res, key), r[key], atol=1e-8), key
    if name == "constant_shift":  # lmer cannot fit a residual variance of 0 (it gives ICC(A,1) = .42): ANOVA only
        assert "differ by a constant" in res.notes[-1] and res.icc_c1 == 1
        return
    assert abs(res.icc_a1_reml - r["icc_a1_lmer"]) < 1e-4  # psych's default, lmer = TRUE
    assert abs(res.icc_c1_reml - r["icc_c1_lmer"]) < 1e-4


@pytest.mark.parametrize("name", ["huge_caseload", "two_clusters", "mostly_singletons"])
def test_nesting_matches_lme4(name):
    r = NEST[name]
    d = pd.read_csv(FIX / f"nest_{name}.csv")
    res = nesting_icc(d["score"], d["worker"])
    assert (res.n, res.n_clusters) == (r["n"], r["n_clusters"])
    assert abs(res.icc1 - r["icc1"]) < 1e-4 and abs(res.icc1_anova - r["icc1_anova"]) < 1e-10
    assert abs(res.tau2 - r["tau2"]) < 1e-4 and abs(res.sigma2 - r["sigma2"]) < 1e-4
    assert abs(res.design_effect - r["design_effect"]) < 1e-4
    assert res.singular == r["singular"]


def test_nesting_cli_on_items_with_numeric_worker_ids_and_blanks(run_cli):
    """End to end: read, score an ad-hoc scale (3 of 4 answered), leave out rows without a worker
    or a score (counted), fit REML: equal to lmer on R's own scores."""
    r = NEST["items"]
    code, out, err = run_cli("nesting", FIX / "nest_items.csv", "--scale", "S=q1,q2,q3,q4", "--range", "1:5",
                             "--worker-column", "worker", "--respondent-column", "id", "--json")
    assert code == 0, err
    res = json.loads(out)
    s = res["scales"]["S"]
    assert s["n"] == r["n"] and s["n_clusters"] == r["n_clusters"]
    assert abs(s["icc1"] - r["icc1"]) < 1e-4 and abs(s["icc1_anova"] - r["icc1_anova"]) < 1e-8
    assert abs(s["design_effect"] - r["design_effect"]) < 1e-4
    assert res["clusters"]["rows_without_worker"] == r["rows_without_worker"]
    # no row dropped silently: used + without worker + without score = rows read
    assert s["n"] + r["rows_without_worker"] + r["rows_without_score"] == res["sample"]["rows"] == r["rows"]
    assert any(f"{r['rows_without_score']} row(s) without a score" in n for n in s["notes"])


def test_cfa_cluster_matches_lavaan_with_missing_and_singletons():
    from peerscale.psychometrics.cfa import fit_cfa
    from peerscale.psychometrics.fit import fit_measures

    d = pd.read_csv(FIX / "cfa_cluster.csv")
    ref = json.loads((FIX / "cfa_cluster_fit.json").read_text())
    fit = fit_cfa("A =~ a1 + a2 + a3\nB =~ b1 + b2 + b3", d, cluster="worker", missing="listwise")
    est = pd.read_csv(FIX / "cfa_cluster_est.csv")
    mine = fit.parameters if hasattr(fit, "parameters") else fit.to_frame()
    key = ["lhs", "op", "rhs"]
    both = est.merge(mine[key + ["est", "se"]], on=key, suffixes=("_r", "_py"))
    assert len(both) == 15  # loadings, (co)variances; lavaan adds the intercepts (the sample means)
    assert np.abs(both["est_r"] - both["est_py"]).max() < 1e-4
    assert np.abs(both["se_r"] - both["se_py"]).max() < 1e-4
    fm = fit_measures(fit)
    for ours, theirs in (("chisq", "chisq"), ("chisq_scaled", "chisq.scaled"), ("scaling_factor", "chisq.scaling.factor"),
                         ("pvalue_scaled", "pvalue.scaled"), ("cfi_robust", "cfi.robust"),
                         ("rmsea_robust", "rmsea.robust"), ("srmr", "srmr")):
        assert abs(fm[ours] - ref[theirs]) < 1e-4, ours
    assert fit.n == ref["nobs"]  # listwise: 195 of 200 rows


@pytest.mark.parametrize("ids,expected", [("each", "every cluster of 'worker' has one row"),
                                          ("five", "only 5 clusters of 'worker'")])
def test_cfa_cluster_says_when_clusters_cannot_carry_it(tmp_path, run_cli, ids, expected):
    """Defect: with every row its own cluster (lavaan refuses) or 5 clusters, `cfa --cluster`
    printed cluster-robust results with no word of warning; the CFA's notes were never printed."""
    d = pd.read_csv(FIX / "cfa_cluster.csv")
    d["worker"] = range(len(d)) if ids == "each" else d["worker"] % 5
    path = tmp_path / "d.csv"
    d.to_csv(path, index=False)
    args = ("cfa", path, "--model", "A =~ a1 + a2 + a3; B =~ b1 + b2 + b3", "--cluster", "worker")
    code, out, err = run_cli(*args, "--json")
    assert code == 0, err
    assert any(expected in n for n in json.loads(out)["notes"])
    code, out, err = run_cli(*args)
    assert code == 0 and f"note: {expected}" in out


def test_cfa_cluster_fiml_matches_lavaan(run_cli):
    """`peerscale cfa --cluster` (FIML by default) on the same data: lavaan cfa(missing = "ml",
    cluster = "worker"); every row with an answer is used (200), not the 195 complete ones."""
    from peerscale.psychometrics.cfa import fit_cfa
    from peerscale.psychometrics.fit import fit_measures

    d = pd.read_csv(FIX / "cfa_cluster.csv")
    ref = json.loads((FIX / "cfa_cluster_fiml_fit.json").read_text())
    fit = fit_cfa("A =~ a1 + a2 + a3\nB =~ b1 + b2 + b3", d, cluster="worker", missing="fiml")
    both = pd.read_csv(FIX / "cfa_cluster_fiml_est.csv").merge(fit.to_frame()[["lhs", "op", "rhs", "est", "se"]],
                                                              on=["lhs", "op", "rhs"], suffixes=("_r", "_py"))
    assert len(both) >= 15
    assert np.abs(both["est_r"] - both["est_py"]).max() < 1e-4
    assert np.abs(both["se_r"] - both["se_py"]).max() < 1e-4
    fm = fit_measures(fit)
    for ours, theirs in (("chisq", "chisq"), ("chisq_scaled", "chisq.scaled"), ("scaling_factor", "chisq.scaling.factor")):
        assert abs(fm[ours] - ref[theirs]) < 1e-4, ours
    code, out, err = run_cli("cfa", FIX / "cfa_cluster.csv", "--model", "A =~ a1 + a2 + a3; B =~ b1 + b2 + b3",
                             "--cluster", "worker", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["n"] == ref["nobs"] and abs(res["fit_robust"]["chisq_scaled"] - ref["chisq.scaled"]) < 1e-4
