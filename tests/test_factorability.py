"""KMO and Bartlett's test against psych::KMO / psych::cortest.bartlett (tests/r/factor.R)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from peerscale.errors import PeerscaleError
from peerscale.psychometrics.factorability import bartlett_sphericity, kmo

FIX = Path(__file__).parent / "fixtures" / "factor"


def test_kmo_matches_psych(bfi):
    ref = pd.read_csv(FIX / "kmo_bfi.csv", index_col=0)["msa"]
    res = kmo(bfi)
    assert res.msa == pytest.approx(ref["overall"], abs=1e-10)
    np.testing.assert_allclose(res.msa_items.to_numpy(), ref.drop("overall").to_numpy(), atol=1e-10)
    assert list(res.msa_items.index) == list(bfi.columns)


def test_bartlett_matches_psych(bfi):
    ref = pd.read_csv(FIX / "bartlett_bfi.csv", index_col=0).iloc[0]
    res = bartlett_sphericity(bfi)
    assert res.chisq == pytest.approx(ref["chisq"], rel=1e-10)
    assert res.df == ref["df"] == 300
    assert res.n == 2800


def test_bartlett_of_independent_items_is_not_significant():
    rng = np.random.default_rng(3)
    res = bartlett_sphericity(pd.DataFrame(rng.standard_normal((500, 6))))
    assert res.pvalue > 0.001


def test_correlation_matrix_input_needs_n():
    r = np.array([[1, .5, .4], [.5, 1, .3], [.4, .3, 1]])
    with pytest.raises(PeerscaleError, match="number of observations"):
        bartlett_sphericity(r)
    assert bartlett_sphericity(r, n_obs=100).df == 3
    assert 0 < kmo(r).msa < 1


def test_singular_matrix_is_a_user_error():
    x = np.random.default_rng(1).standard_normal((50, 3))
    df = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 0] + x[:, 1]})
    with pytest.raises(PeerscaleError, match="singular"):
        kmo(df)


def test_constant_item_is_a_user_error():
    df = pd.DataFrame({"a": [1, 2, 3, 4.0], "b": [2, 2, 2, 2.0], "c": [1, 3, 2, 4.0]})
    with pytest.raises(PeerscaleError, match="undefined"):
        kmo(df)
