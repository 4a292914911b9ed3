"""IRT engine against mirt: published estimates (tests/fixtures/irt, from the oracle README and
mirt's own test suite) and the Python mirt package on a bank-sized simulated set."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from peerscale.errors import PeerscaleError
from peerscale.irt import fit_grm, fit_irt
from peerscale.irt.model import Grid

FIX = Path(__file__).parent / "fixtures" / "irt"


def expand(name, freq):
    t = pd.read_csv(FIX / name)
    items = [c for c in t.columns if c != freq]
    return pd.DataFrame(np.repeat(t[items].to_numpy(), t[freq].to_numpy(), axis=0), columns=items), t[items]


@pytest.fixture(scope="module")
def science():
    return pd.read_csv(FIX / "Science.csv")


@pytest.fixture(scope="module")
def science_fit(science):
    return fit_grm(science)


@pytest.fixture(scope="module")
def lsat7():
    data, patterns = expand("LSAT7.csv", "freq")
    return data, patterns, fit_irt(data, model="2pl")


# ------------------------------------------------------------------------------ Science (GRM)

SCIENCE_MIRT = np.array([[1.0417547, 4.8641542, 2.6399417, -1.4660135],
                         [1.2259618, 2.9240027, 0.9011651, -2.2665647],
                         [2.2933717, 5.2339928, 2.2137728, -1.9637062],
                         [1.0949151, 3.3479196, 0.9916289, -1.6882599]])


def test_science_grm_parameters(science, science_fit):
    est = science_fit.to_frame()[["a", "d1", "d2", "d3"]].to_numpy()
    # the default finds the maximum; mirt's published estimates are its EM's stopping point, with
    # a log-likelihood 1.2e-4 below it (same grid, same likelihood): Comfort, Work and Benefit
    # agree to 1.5e-3, Future (the flattest direction) to 1.2e-2. mirt_compatible=True (next
    # test) reproduces mirt's stopping point instead.
    assert np.abs(est[[0, 1, 3]] - SCIENCE_MIRT[[0, 1, 3]]).max() < 2e-3
    assert np.abs(est[2] - SCIENCE_MIRT[2]).max() < 1.2e-2
    from peerscale.irt.em import EMEngine
    eng = EMEngine(science_fit.data.codes, science_fit.data.n_cat)
    ll_mirt = eng.estep(SCIENCE_MIRT[:, 0], SCIENCE_MIRT[:, 1:], np.zeros(1), np.ones(1))[0]
    assert science_fit.loglik >= ll_mirt
    assert science_fit.loglik - ll_mirt < 2e-4
    assert science_fit.loglik == pytest.approx(-1608.8694, abs=1e-3)
    assert science_fit.n_par == 16
    assert science_fit.aic == pytest.approx(-2 * science_fit.loglik + 32)


def test_science_grm_mirt_compatible_equals_mirt(science):
    # mirt_compatible follows mirt's EM path (BFGS M-steps, Ramsay, TOL 1e-4): every item, Future
    # included, equals the published estimates; mirt 1.43 reports 36 EM cycles for this fit
    res = fit_grm(science, mirt_compatible=True, se=False)
    est = res.to_frame(se=False)[["a", "d1", "d2", "d3"]].to_numpy()
    assert np.abs(est - SCIENCE_MIRT).max() < 1e-6
    assert res.iterations == 36 and res.converged and res.mirt_compatible
    assert res.loglik == pytest.approx(-1608.86954, abs=1e-5)  # AIC 3249.739 as mirt prints
    assert res.aic == pytest.approx(3249.739, abs=1e-3)
    assert any("mirt's EM path" in n for n in res.notes)
    assert "mirt's EM path" in res.to_bank("sci").calibration["estimation"]
    # the default stops at the maximum, above mirt's stopping point
    assert fit_grm(science, se=False).loglik > res.loglik


# mirt 1.43, mirt(expand.table(LSAT7), 1): 28 EM cycles; the PLCI.mirt example prints 7 digits
LSAT7_MIRT_A = [0.9879254, 1.0808847, 1.7058006, 0.7651853, 0.7357980]
LSAT7_MIRT_D = [1.8560605, 0.8079786, 1.8042187, 0.4859966, 1.8545127]


def test_lsat7_2pl_mirt_compatible_equals_mirt(lsat7):
    data, _, _ = lsat7
    res = fit_irt(data, model="2pl", mirt_compatible=True, se=False)
    assert np.abs(res.a - LSAT7_MIRT_A).max() < 1e-6
    assert np.abs(res.d[:, 0] - LSAT7_MIRT_D).max() < 1e-6
    assert res.iterations == 28
    assert res.loglik == pytest.approx(-2658.805, abs=1e-3)


def test_mirt_compatible_mixed_items_and_missing(science):
    # binary and four-category items together, missing answers, an empty row: runs to mirt's
    # stopping rule and stays within its tolerance's reach of the maximum
    df = science.astype(float).copy()
    rng = np.random.default_rng(3)
    df["Bin"] = ((df["Benefit"] >= 3) ^ (rng.random(len(df)) < 0.2)).astype(float)
    df = df.mask(rng.random(df.shape) < 0.05)
    df.loc[7] = np.nan
    res = fit_grm(df, mirt_compatible=True, se=False)
    best = fit_grm(df, se=False)
    assert res.converged and list(res.n_cat) == [4, 4, 4, 4, 2]
    assert 0 <= best.loglik - res.loglik < 1e-2
    assert np.abs(res.a - best.a).max() < 5e-2


def test_mirt_compatible_limits(science):
    with pytest.raises(PeerscaleError, match="logistic"):
        fit_grm(science, link="probit", mirt_compatible=True)
    data, _ = expand("LSAT6.csv", "Freq")
    with pytest.raises(PeerscaleError, match="nlminb"):
        fit_irt(data, model="rasch", mirt_compatible=True)
    with pytest.raises(PeerscaleError, match="tol"):
        fit_grm(science, tol=0)


def test_bfgs_equals_r_optim():
    # tests/r/irt_optim_bfgs.R: R's optim(method = "BFGS"), the M-step optimiser of mirt's EM
    from peerscale.irt.mirt_em import bfgs

    w = np.array([0.5, 1.5, 2.5, 0.8, 1.2, 3])

    def rosen(x):
        return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))

    def rosen_gr(x):
        g = np.zeros_like(x)
        g[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
        g[1:] += 200 * (x[1:] - x[:-1] ** 2)
        return g

    def chain(x):
        return float(np.sum(np.exp(x) - w * x) + 0.5 * np.sum(np.diff(x) ** 2))

    def chain_gr(x):
        g = np.exp(x) - w
        dx = np.diff(x)
        g[:-1] -= dx
        g[1:] += dx
        return g

    funcs = {"rosen": (rosen, rosen_gr), "chain": (chain, chain_gr)}
    cases = pd.read_csv(FIX / "optim_bfgs.csv")
    assert len(cases) == 5
    for r in cases.itertuples():
        f, g = funcs[r.fn]
        x, value, fc, gc = bfgs(np.array(r.start.split(), float), f, g, r.maxit)
        assert np.abs(x - np.array(r.par.split(), float)).max() < 1e-8, r.id
        assert value == pytest.approx(r.value, rel=1e-8, abs=1e-20), r.id
        assert (fc, gc) == (r.fncount, r.grcount), r.id


def test_science_oakes_se_close_to_mirt_louis(science_fit):
    # mirt(Science, 1, SE = TRUE, SE.type = "Louis") (mirt tests, at its slightly earlier stop)
    louis = np.array([0.18838, 0.49088, 0.22267, 0.15868, 0.18189, 0.23928, 0.14289, 0.20308,
                      0.48269, 0.72817, 0.3564, 0.32209, 0.18336, 0.27659, 0.14053, 0.16864]).reshape(4, 4)
    f = science_fit.to_frame()
    ours = f[["a_se", "d1_se", "d2_se", "d3_se"]].to_numpy()
    assert np.abs(ours - louis).max() < 1.5e-2
    assert np.abs(ours[[0, 1, 3]] - louis[[0, 1, 3]]).max() < 3e-3


def test_science_irt_form_and_scores(science_fit):
    f = science_fit.to_frame("irt")
    assert np.allclose(f["b1"], -science_fit.d[:, 0] / science_fit.a)
    pat = pd.DataFrame([[1, 2, 3, 4]], columns=science_fit.item_ids)
    s = science_fit.scores(pat)
    # mirt: fscores(mod, response.pattern = c(1,2,3,4)) -0.3494903 (SE 0.6004922) at its own estimates
    assert s["theta"].iloc[0] == pytest.approx(-0.3494903, abs=3e-3)
    assert s["se"].iloc[0] == pytest.approx(0.6004922, abs=2e-3)
    assert s["t"].iloc[0] == pytest.approx(50 + 10 * s["theta"].iloc[0])


# ------------------------------------------------------------------------------ LSAT7 (2PL)

LSAT7_A = [0.988, 1.081, 1.706, 0.7651, 0.7358]
LSAT7_D = [1.8561, 0.808, 1.8043, 0.486, 1.8545]


def test_lsat7_2pl_parameters(lsat7):
    _, _, res = lsat7
    assert np.abs(res.a - LSAT7_A).max() < 2e-3
    assert np.abs(res.d[:, 0] - LSAT7_D).max() < 2e-3
    assert res.n == 1000


def test_lsat7_eap_map_published_patterns(lsat7):
    _, patterns, res = lsat7
    pats = patterns.iloc[:6]
    # published values: older fscores grid, reproduced by 41 points on [-4, 4] (oracle README)
    eap = res.scores(pats, points=41, theta_range=(-4, 4))["theta"].to_numpy()
    assert np.abs(eap - [-1.8665957, -1.5266920, -1.5134024, -1.1852276, -1.0946830, -0.7666992]).max() < 1e-3
    map_ = res.scores(pats, method="MAP")["theta"].to_numpy()
    assert np.abs(map_ - [-1.8165552, -1.4946906, -1.4822982, -1.1789899, -1.0958928, -0.7951026]).max() < 1e-3
    # current mirt default grid (121 points on [-6, 6]): EAP of 00000 is -1.86979 (mirt tests)
    assert res.scores(pats.iloc[:1])["theta"].iloc[0] == pytest.approx(-1.86979, abs=1e-4)


def test_lsat7_eapsum_table(lsat7):
    _, _, res = lsat7
    old = res.sum_score_table(points=41, theta_range=(-4, 4))
    assert np.abs(old["theta"] - [-1.86658, -1.43146, -0.94877, -0.41320, 0.15169, 0.72698]).max() < 1e-3
    assert np.abs(old["se"] - [0.68727, 0.68315, 0.69419, 0.72109, 0.75875, 0.80046]).max() < 1e-3
    cur = res.sum_score_table()  # mirt 1.4x test values, default grid
    assert np.abs(cur["theta"] - [-1.86979, -1.431861, -0.9488463, -0.4131963, 0.1517289, 0.7271877]).max() < 1e-4
    assert np.abs(cur["se"] - [0.6927032, 0.6838697, 0.6942298, 0.7210951, 0.758772, 0.8009335]).max() < 1e-4
    assert list(cur["observed"]) == [12, 40, 114, 205, 321, 308]
    assert np.abs(cur["expected"] - [10.08994, 44.65882, 109.773, 207.7391, 319.1854, 308.5536]).max() < 2e-3


def test_lsat7_m2_sx2_ld(lsat7):
    _, _, res = lsat7
    m2 = res.m2()
    assert m2["M2"] == pytest.approx(11.93841, abs=1e-2)
    assert m2["df"] == 5
    fit = res.itemfit()
    assert np.abs(fit["S_X2"] - [4.749440, 14.451071, 1.270381, 5.237400, 0.941125]).max() < 1e-2
    assert list(fit["df"]) == [2] * 5
    ld = res.local_dependence()
    # mirt residuals(mod, type = "LD"): lower triangle X2, upper signed Cramer's V
    x2 = {(r.item1, r.item2): r.LD_X2 for r in ld.itertuples()}
    v = {(r.item1, r.item2): r.cramer_v for r in ld.itertuples()}
    names = res.item_ids
    assert x2[(names[0], names[1])] == pytest.approx(0.451213, abs=1e-2)
    assert x2[(names[0], names[3])] == pytest.approx(2.577395, abs=1e-2)
    assert x2[(names[3], names[4])] == pytest.approx(9.962506e-06, abs=1e-3)
    assert v[(names[0], names[1])] == pytest.approx(-0.02124177, abs=1e-3)
    assert v[(names[1], names[2])] == pytest.approx(0.03246269, abs=1e-3)
    assert ld["Q3"].between(-1, 1).all()


def test_lsat7_ml_extremes(lsat7):
    _, patterns, res = lsat7
    ml = res.scores(patterns, method="ML")
    assert ml["theta"].iloc[0] == -np.inf and ml["theta"].iloc[-1] == np.inf
    assert np.isinf(ml["se"].iloc[0])
    assert np.isfinite(ml["theta"].iloc[1:-1]).all()


def test_lsat7_missing_answers_stay_in_likelihood(lsat7):
    data, _, res = lsat7
    d2 = data.astype(float).copy()
    d2.iloc[0, 0] = np.nan
    d2.iloc[1, 1] = np.nan
    r2 = fit_irt(d2, model="2pl")
    assert r2.n == 1000
    # mirt tests: data[1,1] <- data[2,2] <- NA gives a = 0.969, 1.074, 1.717, 0.763, 0.731 (tolerance 1e-2)
    assert np.abs(r2.a - [0.969, 1.074, 1.717, 0.763, 0.731]).max() < 2.5e-2
    assert np.abs(r2.a - res.a).max() < 2e-2


# ------------------------------------------------------------------------------ LSAT6 (Rasch)

def test_lsat6_rasch():
    data, _ = expand("LSAT6.csv", "Freq")
    res = fit_irt(data, model="rasch")
    assert np.allclose(res.a, 1)
    assert np.abs(res.d[:, 0] - [2.73, 0.999, 0.24, 1.306, 2.099]).max() < 2e-3
    assert res.latent_var == pytest.approx(0.57, abs=2e-3)
    assert res.n_par == 6
    m2 = res.m2()
    assert m2["M2"] == pytest.approx(5.291576, abs=1e-2) and m2["df"] == 9
    # mirt SEM interval for the variance 0.371-0.770: SE about 0.10
    assert res.se_var == pytest.approx(0.1049, abs=0.01)


# ------------------------------------------------------------------------------ Python mirt cross-check

@pytest.fixture(scope="module")
def sim():
    x = pd.read_csv(FIX / "sim_grm.csv")
    return x, fit_grm(x)


def test_sim_against_python_mirt(sim):
    x, res = sim
    m = pd.read_csv(FIX / "sim_grm_mirt_params.csv")
    ours = res.to_frame()
    assert np.abs(ours["a"].to_numpy() - m["a"].to_numpy()).max() < 1e-2
    for k in range(1, 5):
        assert np.abs(ours[f"d{k}"].to_numpy() - m[f"d{k}"].to_numpy()).max() < 1e-2
    e = pd.read_csv(FIX / "sim_grm_mirt_eap.csv")
    # same parameters, same posterior: EAP to 1e-3
    from peerscale.irt.data import recode
    from peerscale.irt.scores import eap
    md = m[[f"d{k}" for k in range(1, 5)]].to_numpy()
    codes = recode(x.iloc[:200].to_numpy(float), list(x.columns), [[[c] for c in (1, 2, 3, 4, 5)]] * 42)
    th, se = eap(codes, m["a"].to_numpy(), md, np.full(42, 5), grid=Grid.make(601))
    assert np.abs(th - e["eap"]).max() < 1e-3 and np.abs(se - e["se"]).max() < 1e-3
    # and end to end (our estimates, our default grid)
    ours_eap = res.scores()["theta"].to_numpy()[:200]
    assert np.abs(ours_eap - e["eap"]).max() < 1e-2


def test_sim_parameter_recovery(sim):
    _, res = sim
    gen = pd.read_csv(FIX / "sim_grm_generating.csv")
    f = res.to_frame()
    z = [(f["a"].to_numpy() - gen["a"].to_numpy()) / f["a_se"].to_numpy()]
    for k in range(1, 5):
        z.append((f[f"d{k}"].to_numpy() - gen[f"d{k}"].to_numpy()) / f[f"d{k}_se"].to_numpy())
    z = np.concatenate([np.asarray(v) for v in z])
    assert np.mean(np.abs(z) < 1.96) > 0.9  # about 95% within the Monte Carlo interval
    assert 0.7 < np.mean(z ** 2) < 1.4  # the SEs describe the Monte Carlo error
    assert res.n == 2000 and res.converged


@pytest.mark.slow
def test_sim_live_python_mirt(sim):
    mirt = pytest.importorskip("mirt")
    x, res = sim
    r = mirt.fit_mirt(x.to_numpy(float)[:600] - 1, model="GRM", n_categories=5, n_quadpts=121, tol=1e-6,
                      compute_standard_errors=False)
    ours = fit_grm(x.iloc[:600], se=False)
    ma = np.asarray(r.model.parameters["discrimination"])
    assert np.abs(ours.a - ma).max() < 1e-2


# ------------------------------------------------------------------------------ bad input

def test_non_integer_codes():
    df = pd.DataFrame({"a": [1, 2, 2.5, 1], "b": [1, 2, 1, 2]})
    with pytest.raises(PeerscaleError, match="whole-number") as e:
        fit_grm(df)
    assert "row 3" in str(e.value) and "'a'" in str(e.value)


def test_single_category_observed():
    df = pd.DataFrame({"a": [3, 3, 3, np.nan], "b": [1, 2, 1, 2], "c": [1, 2, 2, 1]})
    with pytest.raises(PeerscaleError, match="single category"):
        fit_grm(df)


def test_text_codes():
    df = pd.DataFrame({"a": ["1", "2", "agree"], "b": [1, 2, 1]})
    with pytest.raises(PeerscaleError, match="numeric category codes"):
        fit_grm(df)


def test_all_missing_rows_left_out_and_scored_missing(science):
    df = science.astype(float).copy()
    df.loc[5] = np.nan
    res = fit_grm(df, se=False)
    assert res.n == len(df) - 1 and any("none of the items" in n for n in res.notes)
    s = res.scores()
    assert len(s) == len(df) and np.isnan(s["theta"].iloc[5]) and s["n_answered"].iloc[5] == 0


def test_unobserved_category_message_and_collapse(science):
    declared = {c: [1, 2, 3, 4, 5] for c in science.columns}
    with pytest.raises(PeerscaleError, match="chosen by nobody") as e:
        fit_grm(science, declared=declared)
    assert "collapse" in str(e.value)
    res = fit_grm(science, declared=declared, collapse=True, se=False)
    assert list(res.n_cat) == [4, 4, 4, 4]
    assert res.categories[0][-1] == [4.0, 5.0]
    assert any("merged" in n for n in res.notes)
    assert res.loglik == pytest.approx(-1608.8694, abs=1e-3)


def test_2pl_needs_binary(science):
    with pytest.raises(PeerscaleError, match="binary"):
        fit_irt(science, model="2pl")


def test_probit_link_runs(science):
    res = fit_grm(science, link="probit", se=False)
    logistic = fit_grm(science, se=False)
    assert res.converged and res.loglik < 0
    assert np.allclose(res.a * 1.702, logistic.a, rtol=0.15)


def test_information_and_curves(science_fit):
    info = science_fit.information(np.linspace(-4, 4, 9))
    assert np.allclose(info["test"], info[science_fit.item_ids].sum(axis=1))
    assert np.allclose(info["se"], 1 / np.sqrt(info["test"]))
    cr = science_fit.curves([0.0, 1.0])
    sums = cr.groupby(["item", "theta"])["probability"].sum()
    assert np.allclose(sums, 1)
    assert "Graded response model" in science_fit.summary()


# ------------------------------------------------------------------------------ fast EAP and recoding

def _random_bank(rng, J, kmax):
    a = rng.uniform(0.4, 3.5, J)
    n_cat = rng.integers(2, kmax + 1, J)
    d = np.full((J, kmax - 1), -np.inf)
    for j in range(J):
        d[j, :n_cat[j] - 1] = np.sort(rng.uniform(-3, 3, n_cat[j] - 1))[::-1] * a[j]
    return a, d, n_cat


def _simulate(rng, a, d, n_cat, n, missing):
    from peerscale.irt.model import category_probs

    th = rng.normal(size=n)
    P = category_probs(a, d, th)  # J x K x n
    cum = np.cumsum(P, axis=1)
    u = rng.random((len(a), 1, n))
    codes = (u > cum).sum(axis=1).T.astype(np.int16)
    codes = np.minimum(codes, (n_cat - 1)[None, :])
    codes[rng.random(codes.shape) < missing] = -1
    return codes


def test_eap_single_precision_equals_double():
    # the float32 path (the default, used for a million rows) against float64, on a bank unlike
    # the test data: 60 items, slopes to 3.5, 2-7 categories, 10% missing, all-missing rows
    from peerscale.irt.scores import eap

    rng = np.random.default_rng(11)
    a, d, n_cat = _random_bank(rng, 60, 7)
    codes = _simulate(rng, a, d, n_cat, 8000, 0.10)
    codes[:3] = -1
    e32, s32 = eap(codes, a, d, n_cat)
    e64, s64 = eap(codes, a, d, n_cat, dtype=np.float64)
    assert np.isnan(e32[:3]).all() and np.isnan(s32[:3]).all()
    assert np.nanmax(np.abs(e32 - e64)) < 1e-6 and np.nanmax(np.abs(s32 - s64)) < 1e-6
    # the float64 path is the plain posterior mean over the grid
    from peerscale.irt.model import Grid, category_probs
    g = Grid.make(121)
    P = category_probs(a, d, g.nodes)
    i = 5
    ll = sum(np.log(P[j, codes[i, j]]) for j in range(60) if codes[i, j] >= 0) + g.log_weights()
    w = np.exp(ll - ll.max())
    assert e64[i] == pytest.approx(w @ g.nodes / w.sum(), abs=1e-12)
    # chunking does not matter
    e_small, _ = eap(codes[:700], a, d, n_cat, chunk=64)
    assert np.array_equal(np.isnan(e_small), np.isnan(e32[:700]))
    assert np.nanmax(np.abs(e_small - e32[:700])) < 1e-6


def test_recode_lookup_and_unknown_codes():
    from peerscale.irt.data import recode

    x = np.array([[1, 5, np.nan], [2, 4, 3], [5, 1, 1]], float)
    fwd = [[c] for c in (1, 2, 3, 4, 5)]
    rev = [[c] for c in (5, 4, 3, 2, 1)]
    codes = recode(x, ["A", "B", "C"], [fwd, rev, fwd])
    assert codes.tolist() == [[0, 0, -1], [1, 1, 2], [4, 4, 0]]
    # a merged category (collapse) and a reverse-keyed item in one table
    merged = [[1, 2], [3], [4, 5]]
    assert recode(x, ["A", "B", "C"], [merged, rev, fwd])[:, 0].tolist() == [0, 0, 2]
    for bad, row, col in ((7, 2, "B"), (2.5, 3, "C"), (-1, 1, "C")):
        y = x.copy()
        y[row - 1, ["A", "B", "C"].index(col)] = bad
        with pytest.raises(PeerscaleError, match="not one of the bank's categories") as e:
            recode(y, ["A", "B", "C"], [fwd, rev, fwd], chunk=2)
        assert e.value.row == row and e.value.column == col
    lenient = recode(np.array([[7.0, 1.0]]), ["A", "B"], [fwd, fwd], strict=False)
    assert lenient.tolist() == [[-1, 0]]
    # codes that are not whole numbers go item by item
    half = [[c] for c in (0.5, 1.5, 2.5)]
    assert recode(np.array([[0.5, 2.5], [np.nan, 1.5]]), ["A", "B"], [half, half]).tolist() == [[0, 2], [-1, 1]]
    with pytest.raises(PeerscaleError, match="code 2 is not one"):
        recode(np.array([[0.5, 2.0]]), ["A", "B"], [half, half])


# ------------------------------------------------------------------------------ probit link: lavaan EBM

def _lavaan_bank(parameterization):
    """tests/r/irt_probit.R: lavaan's thresholds and loadings as a probit bank. The fitted model
    is P(y >= k | eta) = Phi((lambda eta - tau_k) / sqrt(theta)) with theta the residual
    variance of y* (1 under parameterization = "theta", 1 - lambda^2 under "delta"), so
    a = lambda / sqrt(theta), d_k = -tau_k / sqrt(theta)."""
    from peerscale.irt.bank import BankItem, IRTBank

    p = pd.read_csv(FIX / "probit_lavaan_params.csv").rename(columns={"lambda": "loading"})
    p = p[p["parameterization"] == parameterization]
    items = []
    for r in p.itertuples():
        tau = np.array(r.thresholds.split(), float)
        s = np.sqrt(r.residual)
        items.append(BankItem(r.item, r.loading / s, tuple(-tau / s), tuple((c,) for c in range(1, len(tau) + 2))))
    return IRTBank("probit", "graded", "probit", tuple(items), method="MAP")


def test_probit_map_equals_lavaan_ebm():
    from peerscale.irt import score_bank

    data = pd.read_csv(FIX / "probit_data.csv")
    ebm = pd.read_csv(FIX / "probit_lavaan_ebm.csv")
    delta = score_bank(data, _lavaan_bank("delta"))
    theta = score_bank(data, _lavaan_bank("theta"))
    # the two parameterisations are one model: the same MAP scores
    assert np.abs(delta["theta"] - theta["theta"]).max() < 1e-5
    # lavPredict(method = "EBM", optim.method = "nlminb"): the posterior mode to 1e-4 (measured 2.1e-6)
    assert np.abs(delta["theta"] - ebm["ebm_delta_nlminb"]).max() < 1e-5
    # lavPredict's default BFGS (numerical gradient, reltol 1e-8) stops early on some rows
    dev = np.abs(delta["theta"] - ebm["ebm_delta"])
    assert np.mean(dev < 1e-4) > 0.95 and dev.max() < 2e-3 and np.median(dev) < 1e-5
    # under parameterization = "theta", lavaan 0.6-14's EBM evaluates Phi(D (lambda eta - tau))
    # with D = 1 / sqrt(lambda^2 + theta): thresholds and y* rescaled to unit variance but the
    # residual SD left at 1, not the fitted model's posterior mode; with that rescaling ours agree
    from peerscale.irt.bank import BankItem, IRTBank
    p = pd.read_csv(FIX / "probit_lavaan_params.csv").rename(columns={"lambda": "loading"})
    p = p[p["parameterization"] == "theta"]
    items = []
    for r in p.itertuples():
        tau = np.array(r.thresholds.split(), float)
        D = 1 / np.sqrt(r.loading ** 2 + r.residual)
        items.append(BankItem(r.item, r.loading * D, tuple(-tau * D), tuple((c,) for c in range(1, len(tau) + 2))))
    quirk = score_bank(data, IRTBank("probit", "graded", "probit", tuple(items), method="MAP"))
    assert np.abs(quirk["theta"] - ebm["ebm_theta_nlminb"]).max() < 1e-5
    assert np.abs(theta["theta"] - ebm["ebm_theta_nlminb"]).max() > 0.1  # the difference is real
