"""EFA against psych::fa (psych 2.2.9; tests/r/factor.R), parallel analysis, recovery."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linear_sum_assignment

from peerscale.errors import PeerscaleError
from peerscale.psychometrics.efa import fit_efa
from peerscale.psychometrics.parallel import parallel_analysis

FIX = Path(__file__).parent / "fixtures" / "factor"


def align(ours, ref):
    """Match our factors to R's by |congruence| and flip signs; returns aligned loadings."""
    _, cols = linear_sum_assignment(-np.abs(ref.T @ ours))
    out = ours[:, cols]
    return out * np.sign(np.sum(out * ref, axis=0)), cols


@pytest.mark.parametrize("tag,method,rotation", [
    ("ml_oblimin", "ml", "oblimin"),
    ("minres_oblimin", "minres", "oblimin"),
    ("pa_varimax", "pa", "varimax"),
    ("minres_promax", "minres", "promax"),
    ("minres_geomin", "minres", "geomin"),
    ("ml_none", "ml", "none"),
])
def test_loadings_match_psych(bfi, tag, method, rotation):
    ref = pd.read_csv(FIX / f"efa_{tag}_loadings.csv", index_col=0)
    res = fit_efa(bfi, 5, method=method, rotation=rotation)
    got, cols = align(res.loadings, ref.to_numpy())
    np.testing.assert_allclose(got, ref.to_numpy(), atol=1e-2)  # the tolerance
    assert np.abs(got - ref.to_numpy()).max() < 1e-4  # what we actually achieve
    assert list(cols) == list(range(5))  # same factor order as psych (by variance explained)
    h2 = pd.read_csv(FIX / f"efa_{tag}_h2.csv", index_col=0)["h2"].to_numpy()
    np.testing.assert_allclose(res.communalities, h2, atol=1e-4)
    phi_file = FIX / f"efa_{tag}_phi.csv"
    if phi_file.exists():
        s = np.sign(np.sum(res.loadings[:, cols] * ref.to_numpy(), axis=0))
        phi = res.phi[np.ix_(cols, cols)] * np.outer(s, s)
        np.testing.assert_allclose(phi, pd.read_csv(phi_file, index_col=0).to_numpy(), atol=1e-3)
    assert res.converged
    assert res.columns == list(bfi.columns)


def test_variance_explained_and_structure(bfi):
    res = fit_efa(bfi, 5, method="ml", rotation="oblimin")
    ss = res.variance_explained.loc["ss_loadings"].to_numpy()
    assert np.all(np.diff(ss) <= 1e-12)  # sorted like psych
    np.testing.assert_allclose(ss, np.diag(res.phi @ res.loadings.T @ res.loadings))
    np.testing.assert_allclose(res.structure, res.loadings @ res.phi)
    np.testing.assert_allclose(np.diag(res.phi), 1.0)


def test_correlation_matrix_and_polychoric_like_input(bfi):
    r = bfi.corr()
    a = fit_efa(bfi, 3, method="minres")
    b = fit_efa(r, 3, method="minres")
    np.testing.assert_allclose(a.loadings, b.loadings, atol=1e-8)

    class Poly:  # anything with .rho and .columns, as polychoric_matrix returns
        rho = r.to_numpy()
        columns = list(r.columns)
    c = fit_efa(Poly(), 3, method="minres")
    np.testing.assert_allclose(a.loadings, c.loadings, atol=1e-8)


def simulate(loadings, phi, n, seed):
    rng = np.random.default_rng(seed)
    k = loadings.shape[1]
    f = rng.multivariate_normal(np.zeros(k), phi, size=n)
    u = rng.standard_normal((n, loadings.shape[0])) * np.sqrt(1 - np.sum((loadings @ phi) * loadings, axis=1))
    return pd.DataFrame(f @ loadings.T + u, columns=[f"v{i + 1}" for i in range(loadings.shape[0])])


TRUE = np.zeros((12, 3))
TRUE[0:4, 0] = [.8, .7, .6, .7]
TRUE[4:8, 1] = [.6, .7, .8, .5]
TRUE[8:12, 2] = [.7, .6, .7, .8]

PHI = np.array([[1, .3, .2], [.3, 1, .4], [.2, .4, 1]])


@pytest.mark.parametrize("method", ["ml", "minres", "pa"])
def test_recovers_simulated_loadings(method):
    data = simulate(TRUE, PHI, 5000, seed=11)
    res = fit_efa(data, 3, method=method, rotation="oblimin")
    got, cols = align(res.loadings, TRUE)
    assert np.abs(got - TRUE).max() < 0.06
    s = np.sign(np.sum(res.loadings[:, cols] * TRUE, axis=0))
    assert np.abs(res.phi[np.ix_(cols, cols)] * np.outer(s, s) - PHI).max() < 0.08


def test_parallel_analysis_matches_psych_observed_and_suggestion(bfi):
    obs = pd.read_csv(FIX / "parallel_bfi_observed.csv", index_col=0)
    sug = pd.read_csv(FIX / "parallel_bfi_suggest.csv", index_col=0).iloc[0]
    calls = []
    res = parallel_analysis(bfi, iterations=20, seed=1, progress=calls.append)
    np.testing.assert_allclose(res.observed_pc, obs["pc"], atol=1e-10)
    np.testing.assert_allclose(res.observed_fa, obs["fa"], atol=1e-5)
    assert (res.n_factors, res.n_components) == (sug["nfact"], sug["ncomp"]) == (6, 6)
    assert sum(calls) == 20
    again = parallel_analysis(bfi, iterations=20, seed=1)
    np.testing.assert_array_equal(res.simulated_fa, again.simulated_fa)
    assert res.table().shape == (25, 6)


def test_parallel_analysis_on_simulated_structure():
    data = simulate(TRUE, PHI, 1500, seed=5)
    res = parallel_analysis(data, iterations=20, seed=2, resample=False)
    assert res.n_components == 3
    assert res.resampled_pc is None


@pytest.mark.parametrize("kwargs,match", [
    (dict(n_factors=0), "positive"),
    (dict(n_factors=6), "need more than"),
    (dict(n_factors=2, method="wls"), "unknown extraction"),
    (dict(n_factors=2, rotation="quartimax"), "unknown rotation"),
])
def test_bad_options(kwargs, match):
    data = simulate(TRUE[:6, :2], np.eye(2), 200, seed=1)
    with pytest.raises(PeerscaleError, match=match):
        fit_efa(data, **kwargs)


def test_parallel_bad_iterations(bfi):
    with pytest.raises(PeerscaleError):
        parallel_analysis(bfi, iterations=0)


def test_polychoric_efa_matches_psych(bfi):
    from peerscale.psychometrics.polychoric import polychoric_matrix

    items = [f"A{i}" for i in range(1, 6)] + [f"C{i}" for i in range(1, 6)]
    res = fit_efa(polychoric_matrix(bfi[items]), 2, method="minres", rotation="oblimin", n_obs=len(bfi))
    ref = pd.read_csv(FIX / "efa_poly_minres_oblimin_loadings.csv", index_col=0).to_numpy()
    got, _ = align(res.loadings, ref)
    np.testing.assert_allclose(got, ref, atol=1e-3)
    assert res.columns == items


@pytest.mark.parametrize("tag,method", [("ml_oblimin", "ml"), ("minres_oblimin", "minres")])
def test_fit_statistics_match_psych(bfi, tag, method):

    ref = dict(pd.read_csv(FIX / f"efa_{tag}_fit.csv").values)
    fit = fit_efa(bfi, 5, method=method).fit_measures()
    assert fit["df"] == ref["dof"] == 185
    for ours, theirs in [("objective", "objective"), ("chisq", "STATISTIC"), ("tli", "TLI"),
                         ("rmsea", "RMSEA.RMSEA"), ("bic", "BIC"), ("null_chisq", "null.chisq")]:
        assert fit[ours] == pytest.approx(ref[theirs], rel=1e-5), ours
    assert fit["rmsea_ci"] == pytest.approx([ref["RMSEA.lower.lower"], ref["RMSEA.upper.upper"]], abs=1e-6)
    # bfi has missing answers: psych weights the residuals by pairwise n (np.obs)
    assert fit["rms"] == pytest.approx(ref["rms"], abs=1e-7)
    assert fit["crms"] == pytest.approx(ref["crms"], abs=1e-7)
