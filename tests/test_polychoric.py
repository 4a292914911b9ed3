"""Polychoric correlations against psych 2.2.9 (fixtures written by tests/r/reliability.R)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from peerscale.errors import PeerscaleError
from peerscale.psychometrics.polychoric import (bivariate_normal_cdf, polychoric_matrix,
                                                smooth_correlation)

FIX = Path(__file__).parent / "fixtures" / "reliability"


@pytest.fixture(scope="module")
def bfi_poly(bfi):
    return polychoric_matrix(bfi)


def test_bfi_matches_psych(bfi_poly):
    ref = json.loads((FIX / "psych_polychoric.json").read_text())
    assert bfi_poly.columns == ref["columns"]
    # psych's optimize() stops at tol ~1.2e-4; we search to 1e-10, so agreement is to psych's tolerance
    np.testing.assert_allclose(bfi_poly.rho, np.array(ref["rho"]), atol=1e-4)
    np.testing.assert_allclose(np.array(bfi_poly.thresholds), np.array(ref["tau"]), atol=1e-10)
    assert bfi_poly.global_thresholds and not bfi_poly.smoothed
    assert bfi_poly.corrected_pairs == 0


def test_pairwise_counts(bfi, bfi_poly):
    both = bfi["A1"].notna() & bfi["N5"].notna()
    i, j = bfi_poly.columns.index("A1"), bfi_poly.columns.index("N5")
    assert bfi_poly.n[i, j] == both.sum()
    assert bfi_poly.n[i, i] == bfi["A1"].notna().sum()


def test_unequal_categories_use_pairwise_thresholds_and_correction():
    data = pd.read_csv(FIX / "uneven.csv")
    ref = json.loads((FIX / "psych_polychoric_uneven.json").read_text())
    res = polychoric_matrix(data)
    assert not res.global_thresholds
    assert res.corrected_pairs > 0
    np.testing.assert_allclose(res.rho, np.array(ref["rho"]), atol=1e-4)


def test_correction_changes_result_only_in_non_global_regime():
    data = pd.read_csv(FIX / "uneven.csv")
    a = polychoric_matrix(data, correct=0.5).rho
    b = polychoric_matrix(data, correct=0.0).rho
    assert np.abs(a - b).max() > 1e-4


def test_recovers_latent_correlation_from_simulated_data():
    rng = np.random.default_rng(7)
    z = rng.multivariate_normal([0, 0, 0], [[1, .6, -.3], [.6, 1, .2], [-.3, .2, 1]], size=20000)
    cuts = np.array([-1.2, -0.3, 0.5, 1.4])
    codes = np.searchsorted(cuts, z) + 1
    res = polychoric_matrix(codes)
    assert res.columns == ["V1", "V2", "V3"]
    np.testing.assert_allclose(res.rho[np.triu_indices(3, 1)], [.6, -.3, .2], atol=0.03)
    np.testing.assert_allclose(res.thresholds[0], cuts, atol=0.05)


def test_bivariate_normal_cdf_against_scipy():
    from scipy.stats import multivariate_normal
    rng = np.random.default_rng(3)
    for r in (-0.999, -0.95, -0.5, 0.0, 0.3, 0.93, 0.9999):
        h, k = rng.normal(size=6) * 1.5, rng.normal(size=6) * 1.5
        ours = bivariate_normal_cdf(h, k, np.full(6, r))
        ref = [multivariate_normal.cdf([a, b], mean=[0, 0], cov=[[1, r], [r, 1]]) for a, b in zip(h, k)]
        np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_smoothing_makes_matrix_positive_definite():
    r = np.array([[1, .9, -.9], [.9, 1, .9], [-.9, .9, 1]])
    s, changed = smooth_correlation(r)
    assert changed
    assert np.linalg.eigvalsh(s).min() > 0
    np.testing.assert_allclose(np.diag(s), 1)
    same, changed = smooth_correlation(np.eye(3))
    assert not changed and np.array_equal(same, np.eye(3))


@pytest.mark.parametrize("frame, message", [
    (pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}), "numeric"),
    (pd.DataFrame({"a": [1, 2, 3], "b": [1.5, 2, 3]}), "whole-number"),
    (pd.DataFrame({"a": [1, 2, 3], "b": [2, 2, 2]}), "no variance"),
    (pd.DataFrame({"a": [1, 2, 9], "b": [1, 5, 3]}), "at most 8"),
    (pd.DataFrame({"a": [1, 2, 3]}), "at least two"),
    (pd.DataFrame({"a": [1, 2, np.nan, np.nan], "b": [np.nan, np.nan, 1, 2]}), "never answered together"),
])
def test_bad_inputs(frame, message):
    with pytest.raises(PeerscaleError, match=message):
        polychoric_matrix(frame)


def test_negative_correction_rejected():
    with pytest.raises(PeerscaleError, match="correct"):
        polychoric_matrix(np.array([[1, 2], [2, 1], [1, 1]]), correct=-1)
