"""Alpha and companions against psych 2.2.9 (fixtures written by tests/r/reliability.R)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from peerscale.errors import PeerscaleError
from peerscale.psychometrics.reliability import (alpha_from_correlation, bootstrap_alphas, cronbach_alpha,
                                                 feldt_ci, ordinal_alpha, pairwise_cov)

FIX = Path(__file__).parent / "fixtures" / "reliability"
ALPHA = json.loads((FIX / "psych_alpha.json").read_text())
OMEGA = json.loads((FIX / "psych_omega.json").read_text())
SCALE_STATS = ["alpha", "alpha_std", "g6", "average_r", "s_n", "ase", "median_r", "var_r", "total_mean", "total_sd"]


def keyed(bfi, keys):
    """psych keys → keyed frame, reverse as (1 + 6) - x."""
    return pd.DataFrame({k.lstrip("-"): (7 - bfi[k[1:]]) if k.startswith("-") else bfi[k] for k in keys})


@pytest.mark.parametrize("scale", sorted(ALPHA))
@pytest.mark.parametrize("missing", ["pairwise", "listwise"])
def test_alpha_matches_psych(bfi, scale, missing):
    ref = ALPHA[scale][missing]
    res = cronbach_alpha(keyed(bfi, ALPHA[scale]["keys"]), listwise=missing == "listwise")
    assert res.n == ref["n"] and res.missing == missing
    for stat in SCALE_STATS:
        assert getattr(res, stat) == pytest.approx(ref[stat], abs=1e-6), stat
    np.testing.assert_allclose(res.alpha_ci, ref["feldt"], atol=1e-6)
    for item, stats in ref["items"].items():
        for stat, value in stats.items():
            assert res.items.loc[item, stat] == pytest.approx(value, abs=1e-6), (item, stat)


def test_listwise_uses_complete_rows_only(bfi):
    x = keyed(bfi, ALPHA["agree"]["keys"])
    res = cronbach_alpha(x, listwise=True)
    assert res.n == x.dropna().shape[0] < x.shape[0]
    assert (res.items["n"] == res.n).all()


def test_to_dict_has_contract_keys(bfi):
    d = cronbach_alpha(keyed(bfi, ALPHA["openness"]["keys"]), n_boot=50, seed=1).to_dict()
    for key in ("n", "alpha", "alpha_std", "g6", "average_r", "alpha_ci", "items", "bootstrap_ci"):
        assert key in d
    assert set(d["items"]["O1"]) >= {"r_drop", "alpha_if_dropped", "r_cor", "raw_r"}
    assert d["alpha_ci_method"] == "feldt" and len(d["alpha_ci"]) == 2


def test_bootstrap_is_seeded_and_brackets_alpha(bfi):
    x = keyed(bfi, ALPHA["agree"]["keys"])
    calls = []
    a = cronbach_alpha(x, n_boot=600, seed=11, progress=calls.append)
    b = cronbach_alpha(x, n_boot=600, seed=11)
    c = cronbach_alpha(x, n_boot=600, seed=12)
    assert sum(calls) == 600 and len(calls) >= 2
    assert (a.bootstrap.lower, a.bootstrap.upper) == (b.bootstrap.lower, b.bootstrap.upper)
    assert a.bootstrap.lower != c.bootstrap.lower
    assert a.bootstrap.lower < a.alpha < a.bootstrap.upper
    # the percentile interval and Feldt's agree roughly on 2,800 rows
    assert abs(a.bootstrap.lower - a.alpha_ci[0]) < 0.02 and abs(a.bootstrap.upper - a.alpha_ci[1]) < 0.02


def test_bootstrap_resample_equals_explicit_resample():
    rng = np.random.default_rng(5)
    x = rng.integers(1, 6, size=(40, 4)).astype(float)
    x[rng.random(x.shape) < 0.1] = np.nan
    alphas = bootstrap_alphas(x, 3, seed=9)
    rows = np.random.default_rng(9).integers(0, 40, size=(3, 40))
    for b in range(3):
        c = pd.DataFrame(x[rows[b]]).cov().to_numpy()
        expected = (1 - np.trace(c) / c.sum()) * 4 / 3
        assert alphas[b] == pytest.approx(expected, abs=1e-12)


def test_pairwise_cov_equals_pandas():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(60, 5))
    x[rng.random(x.shape) < 0.2] = np.nan
    np.testing.assert_allclose(pairwise_cov(x), pd.DataFrame(x).cov().to_numpy(), atol=1e-12)


def test_feldt_interval_is_psych_alpha_ci():
    lo, hi = feldt_ci(ALPHA["agree"]["pairwise"]["alpha"], ALPHA["agree"]["pairwise"]["n"], 5)
    np.testing.assert_allclose([lo, hi], ALPHA["agree"]["pairwise"]["feldt"], atol=1e-12)


@pytest.mark.parametrize("scale", sorted(ALPHA))
def test_ordinal_alpha_matches_psych_on_polychoric(bfi, scale):
    ref = OMEGA[scale]["ordinal_alpha"]
    res, poly = ordinal_alpha(keyed(bfi, ALPHA[scale]["keys"]))
    assert poly.rho.shape == (5, 5)
    # polychoric estimates agree with psych to its optimiser tolerance (~1e-4)
    assert res.alpha == pytest.approx(ref["alpha"], abs=1e-4)
    assert res.g6 == pytest.approx(ref["g6"], abs=1e-4)
    np.testing.assert_allclose(res.items["r_drop"], ref["r_drop"], atol=2e-4)
    np.testing.assert_allclose(res.items["alpha_if_dropped"], ref["alpha_if_dropped"], atol=2e-4)


def test_alpha_from_correlation_equals_std_alpha_of_data(bfi):
    x = keyed(bfi, ALPHA["neuroticism"]["keys"]).dropna()
    data_res = cronbach_alpha(x)
    mat_res = alpha_from_correlation(x.corr().to_numpy(), list(x.columns))
    assert mat_res.alpha == pytest.approx(data_res.alpha_std, abs=1e-12)
    assert mat_res.g6 == pytest.approx(data_res.g6, abs=1e-12)


def test_simulated_parallel_items_recover_known_alpha():
    # four parallel items with inter-item correlation .5 have alpha = 4*.5/(1+3*.5) = .8
    rng = np.random.default_rng(0)
    t = rng.normal(size=(20000, 1))
    x = t + rng.normal(size=(20000, 4))
    res = cronbach_alpha(x)
    assert res.alpha == pytest.approx(0.8, abs=0.01)
    assert res.average_r == pytest.approx(0.5, abs=0.01)
    assert list(res.items.index) == ["V1", "V2", "V3", "V4"]


def test_two_item_scale_has_no_alpha_if_dropped():
    x = pd.DataFrame({"a": [1, 2, 3, 4, 5, 2], "b": [2, 2, 3, 5, 4, 1]})
    res = cronbach_alpha(x)
    assert res.items["alpha_if_dropped"].isna().all()
    assert np.isfinite(res.items["r_drop"]).all()


def test_negatively_keyed_item_gives_negative_r_drop(bfi):
    x = bfi[["A1", "A2", "A3", "A4", "A5"]]  # A1 not reversed
    res = cronbach_alpha(x)
    assert res.items.loc["A1", "r_drop"] < 0


@pytest.mark.parametrize("frame, kwargs, message", [
    (pd.DataFrame({"a": [1, 2, 3]}), {}, "at least two items"),
    (pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}), {}, "numeric"),
    (pd.DataFrame({"a": [1, 2, 3], "b": [4, 4, 4]}), {}, "no variance"),
    (pd.DataFrame({"a": [1, np.nan, np.nan], "b": [4, 5, 3]}), {}, "fewer than two answers"),
    (pd.DataFrame({"a": [1, 2, np.nan, np.nan], "b": [np.nan, np.nan, 1, 2]}), {}, "fewer than two people"),
    (pd.DataFrame({"a": [1, 2, np.nan, 3], "b": [np.nan, 1, 1, 2]}), {"listwise": True}, "listwise"),
    (pd.DataFrame({"a": [1, 2, 3], "b": [1, 3, 2]}), {"level": 1.5}, "confidence level"),
    (pd.DataFrame({"a": [1, 2, 3], "b": [1, 3, 2]}), {"n_boot": -1}, "bootstrap"),
])
def test_bad_inputs(frame, kwargs, message):
    with pytest.raises(PeerscaleError, match=message):
        cronbach_alpha(frame, **kwargs)


def test_not_a_correlation_matrix():
    with pytest.raises(PeerscaleError, match="correlation matrix"):
        alpha_from_correlation(np.array([[2.0, 0.1], [0.1, 1.0]]))


def test_bootstrap_in_row_blocks_equals_whole(bfi):
    x = keyed(bfi, ALPHA["openness"]["keys"]).to_numpy(dtype=float)
    whole = bootstrap_alphas(x, 30, seed=3)
    blocks = bootstrap_alphas(x, 30, seed=3, max_bytes=3 * 25 * 8 * 700)  # 700-row blocks
    np.testing.assert_allclose(blocks, whole, atol=1e-12)


from hypothesis import given, settings, strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(arrays(float, st.tuples(st.integers(3, 30), st.integers(2, 5)),
              elements=st.one_of(st.integers(1, 7).map(float), st.just(np.nan))),
       st.floats(-1e4, 1e4))
def test_pairwise_cov_is_pandas_cov_and_shift_invariant(x, shift):
    ref = pd.DataFrame(x).cov().to_numpy()
    ours = pairwise_cov(x)
    np.testing.assert_allclose(ours, ref, atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(pairwise_cov(x + shift), ours, atol=1e-6, equal_nan=True)
