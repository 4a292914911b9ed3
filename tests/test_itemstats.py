"""Item analysis: descriptives against psych::describe (type 3), flags and their rules."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from peerscale.errors import PeerscaleError
from peerscale.psychometrics.itemstats import item_analysis, kurtosis, skewness

FIX = Path(__file__).parent / "fixtures" / "reliability"
ALPHA = json.loads((FIX / "psych_alpha.json").read_text())


def test_descriptives_match_psych_describe(bfi):
    ref = json.loads((FIX / "psych_describe.json").read_text())
    res = item_analysis(bfi, value_range=(1, 6))
    for stat in ("mean", "sd", "skew", "kurtosis"):
        np.testing.assert_allclose(res.table[stat], ref[stat], atol=1e-9, err_msg=stat)
    np.testing.assert_array_equal(res.table["n"], ref["n"])


@pytest.mark.parametrize("scale", sorted(ALPHA))
def test_item_total_statistics_are_psych_alpha(bfi, scale):
    keys = ALPHA[scale]["keys"]
    items = [k.lstrip("-") for k in keys]
    res = item_analysis(bfi[items], [(-1 if k.startswith("-") else 1) for k in keys], value_range=(1, 6))
    for item in items:
        ref = ALPHA[scale]["pairwise"]["items"][item]
        assert res.table.loc[item, "r_drop"] == pytest.approx(ref["r_drop"], abs=1e-6)
        assert res.table.loc[item, "alpha_if_dropped"] == pytest.approx(ref["alpha_if_dropped"], abs=1e-6)
    assert res.alpha.alpha == pytest.approx(ALPHA[scale]["pairwise"]["alpha"], abs=1e-6)


def test_frequencies_floor_ceiling_and_missing(bfi):
    res = item_analysis(bfi[["A1", "A2"]], value_range=(1, 6))
    a1 = bfi["A1"]
    assert list(res.frequencies.columns) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert res.frequencies.loc["A1", 1.0] == (a1 == 1).sum()
    assert res.frequencies.loc["A1"].sum() == a1.notna().sum()
    assert res.table.loc["A1", "floor_pct"] == pytest.approx(100 * (a1 == 1).sum() / a1.notna().sum())
    assert res.table.loc["A1", "ceiling_pct"] == pytest.approx(100 * (a1 == 6).sum() / a1.notna().sum())
    assert res.table.loc["A1", "missing_pct"] == pytest.approx(100 * a1.isna().mean())


def test_unreversed_item_is_flagged_never_flipped(bfi):
    res = item_analysis(bfi[["A1", "A2", "A3", "A4", "A5"]], value_range=(1, 6))  # A1 should be reversed
    flags = dict(res.flags["A1"])
    assert "negative_r_drop" in flags and "not flipped" in flags["negative_r_drop"]
    assert res.table.loc["A1", "r_drop"] < 0
    assert res.table.loc["A1", "key"] == 1
    assert res.table.loc["A1", "mean"] == pytest.approx(bfi["A1"].mean())


def test_floor_ceiling_and_low_r_flags():
    rng = np.random.default_rng(1)
    t = rng.normal(size=400)
    data = pd.DataFrame({
        "good1": np.clip(np.round(3 + t + rng.normal(0, .7, 400)), 1, 5),
        "good2": np.clip(np.round(3 + t + rng.normal(0, .7, 400)), 1, 5),
        "good3": np.clip(np.round(3 + t + rng.normal(0, .7, 400)), 1, 5),
        "ceil": np.where(rng.random(400) < .7, 5, np.clip(np.round(3 + t), 1, 5)),
        "floor": np.where(rng.random(400) < .7, 1, np.clip(np.round(3 + t), 1, 5)),
        "weak": np.clip(np.round(3 + 0.2 * t + rng.normal(0, 1.2, 400)), 1, 5),
    })
    res = item_analysis(data, value_range=(1, 5))
    assert "ceiling" in dict(res.flags["ceil"])
    assert "floor" in dict(res.flags["floor"])
    assert 0 < res.table.loc["weak", "r_drop"] < .3 and "low_r_drop" in dict(res.flags["weak"])
    assert "good1" not in res.flags
    assert set(res.rules) >= {"negative_r_drop", "low_r_drop", "floor", "ceiling"}
    d = res.to_dict()
    assert d["items"]["ceil"]["frequencies"]["5"] == int((data["ceil"] == 5).sum())
    assert "ceiling" in [f["flag"] for f in d["items"]["ceil"]["flags"]]


def test_constant_item_is_flagged_and_the_rest_analysed():
    data = pd.DataFrame({"a": [1, 2, 3, 4, 5, 2], "b": [2, 2, 3, 5, 4, 1], "c": [1, 3, 3, 4, 5, 1],
                         "k": [3, 3, 3, 3, 3, 3]})
    res = item_analysis(data, value_range=(1, 5))
    assert dict(res.flags["k"])["no_variance"]
    assert np.isnan(res.table.loc["k", "r_drop"])
    assert np.isfinite(res.table.loc["a", "r_drop"])


def test_reverse_keyed_statistics_use_declared_range():
    data = pd.DataFrame({"a": [1, 2, 3, 4, 5, 2], "b": [5, 4, 3, 2, 1, 4], "c": [1, 3, 3, 4, 5, 1]})
    res = item_analysis(data, [1, -1, 1], value_range=(1, 5))
    assert res.table.loc["b", "r_drop"] > 0.5
    assert res.table.loc["b", "mean"] == pytest.approx(data["b"].mean())  # as answered


def test_skew_and_kurtosis_definitions():
    x = np.array([1.0, 2, 2, 3, 3, 3, 4, 10])
    d = x - x.mean()
    s = x.std(ddof=1)
    assert skewness(x) == pytest.approx((d ** 3).mean() / s ** 3)
    assert kurtosis(x) == pytest.approx((d ** 4).mean() / s ** 4 - 3)
    assert np.isnan(skewness(np.array([1.0, 2.0])))


@pytest.mark.parametrize("kwargs, message", [
    ({"keys": [1, -1]}, "declared response range"),
    ({"keys": [1, 2], "value_range": (1, 5)}, "keys must be"),
    ({"value_range": (5, 1)}, "lower to a higher"),
    ({"value_range": (1, 3)}, "outside the declared range"),
])
def test_bad_arguments(kwargs, message):
    data = pd.DataFrame({"a": [1, 2, 5], "b": [2, 4, 3]})
    with pytest.raises(PeerscaleError, match=message):
        item_analysis(data, **kwargs)


def test_non_numeric_rejected():
    with pytest.raises(PeerscaleError, match="numeric"):
        item_analysis(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))


def test_per_item_ranges():
    data = pd.DataFrame({"a": [1, 2, 3, 4, 5, 2], "b": [0, 1, 1, 3, 2, 1], "c": [1, 3, 3, 4, 5, 1]})
    res = item_analysis(data, [1, -1, 1], value_range={"a": (1, 5), "b": (0, 3), "c": (1, 5)})
    assert list(res.frequencies.columns) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert res.table.loc["b", "floor_pct"] == pytest.approx(100 / 6)
    assert res.table.loc["b", "max"] == 3
    with pytest.raises(PeerscaleError, match="no response range"):
        item_analysis(data, value_range={"a": (1, 5)})
