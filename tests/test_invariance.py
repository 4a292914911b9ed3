"""Measurement invariance by school on HolzingerSwineford1939 against lavaan 0.6-14."""

from pathlib import Path

import pandas as pd
import pytest

from peerscale.errors import PeerscaleError
from peerscale.psychometrics.fit import fit_measures
from peerscale.psychometrics.invariance import measurement_invariance

from conftest import HS_MODEL

FIX = Path(__file__).parent / "fixtures" / "factor"


@pytest.fixture(scope="module")
def ml(hs):
    return measurement_invariance(HS_MODEL, hs, "school")


def test_each_level_matches_lavaan(ml):
    tab, fits = ml
    ref = pd.read_csv(FIX / "invariance_hs_school_fit.csv", index_col=0)
    for level in ("configural", "metric", "scalar"):
        fm = fit_measures(fits[level])
        for key in ("npar", "chisq", "df", "cfi", "tli", "rmsea", "aic", "bic", "logl"):
            assert fm[key] == pytest.approx(ref.loc[level, key], abs=1e-5), (level, key)
        assert fm["srmr"] == pytest.approx(ref.loc[level, "srmr"], abs=1e-5)
        assert fm["rmsea_ci"] == pytest.approx(list(ref.loc[level, ["rmsea.ci.lower", "rmsea.ci.upper"]]), abs=1e-6)
        assert tab.loc[level, "chisq"] == pytest.approx(ref.loc[level, "chisq"], abs=1e-5)


def test_difference_tests_match_lavTestLRT(ml):
    tab, _ = ml
    lrt = pd.read_csv(FIX / "invariance_hs_school_lrt.csv", index_col=0)
    for ours, theirs in (("metric", "metr"), ("scalar", "scal")):
        assert tab.loc[ours, "chisq_diff"] == pytest.approx(lrt.loc[theirs, "Chisq diff"], abs=1e-5)
        assert tab.loc[ours, "df_diff"] == lrt.loc[theirs, "Df diff"]
        assert tab.loc[ours, "pvalue_diff"] == pytest.approx(lrt.loc[theirs, "Pr(>Chisq)"], rel=1e-4)
    assert tab.loc["metric", "delta_cfi"] == pytest.approx(tab.loc["metric", "cfi"] - tab.loc["configural", "cfi"])
    assert tab.loc["scalar", "delta_cfi"] < -0.01  # the well-known scalar non-invariance by school


def test_mlr_invariance_matches_lavaan(hs):
    tab, fits = measurement_invariance(HS_MODEL, hs, "school", estimator="MLR", levels=("configural", "metric"))
    ref = pd.read_csv(FIX / "invariance_hs_school_mlr_fit.csv", index_col=0)
    for level in ("configural", "metric"):
        fm = fit_measures(fits[level])
        assert fm["scaling_factor"] == pytest.approx(ref.loc[level, "chisq.scaling.factor"], abs=1e-5)
        for key in ("chisq.scaled", "cfi.scaled", "cfi.robust", "tli.robust", "rmsea.robust"):
            assert fm[key.replace(".", "_")] == pytest.approx(ref.loc[level, key], abs=1e-3), (level, key)
    lrt = pd.read_csv(FIX / "invariance_hs_school_mlr_lrt.csv", index_col=0)
    assert tab.loc["metric", "chisq_diff"] == pytest.approx(lrt.loc["metr_r", "Chisq diff"], abs=1e-3)


def test_bad_group_and_level(hs):
    with pytest.raises(PeerscaleError, match="not found"):
        measurement_invariance(HS_MODEL, hs, "nope")
    with pytest.raises(PeerscaleError, match="fewer than two groups"):
        measurement_invariance(HS_MODEL, hs.assign(one="a"), "one")
    with pytest.raises(PeerscaleError, match="unknown invariance level"):
        measurement_invariance(HS_MODEL, hs, "school", levels=("weak",))


def test_std_lv_scaling_gives_the_same_invariance_fits(hs, ml):
    tab, _ = ml
    std, _ = measurement_invariance(HS_MODEL, hs, "school", std_lv=True)
    for level in ("configural", "metric", "scalar"):
        assert std.loc[level, "chisq"] == pytest.approx(tab.loc[level, "chisq"], abs=1e-5)
        assert std.loc[level, "df"] == tab.loc[level, "df"]
