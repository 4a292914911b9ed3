"""ICCs (pingouin estimates, full-precision intervals) against psych::ICC 2.2.9."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from peerscale.errors import PeerscaleError
from peerscale.psychometrics.icc import PRIMARY, TYPES, icc, icc_wide

FIX = Path(__file__).parent / "fixtures" / "reliability"
REF = json.loads((FIX / "psych_icc.json").read_text())


@pytest.fixture(scope="module")
def waves():
    return pd.read_csv(FIX / "icc_waves.csv").set_index("id")


@pytest.mark.parametrize("key, cols", [("two_waves", ["w1", "w2"]), ("three_raters", ["w1", "w2", "w3"])])
def test_matches_psych(waves, key, cols):
    ref = REF[key]
    res = icc_wide(waves[cols])
    assert list(res.table.index) == REF["types"] == list(TYPES)
    assert res.n_targets == ref["n"] and res.dropped_targets == 2 and res.n_raters == len(cols)
    for ours, theirs in [("icc", "icc"), ("F", "F"), ("df1", "df1"), ("df2", "df2"), ("p", "p"),
                         ("ci_lower", "lower"), ("ci_upper", "upper")]:
        np.testing.assert_allclose(res.table[ours], ref[theirs], rtol=1e-9, atol=1e-12, err_msg=ours)


def test_long_input_equals_wide(waves):
    long = waves[["w1", "w2"]].reset_index().melt(id_vars="id", var_name="wave", value_name="score")
    a = icc(long, targets="id", raters="wave", ratings="score", design="raters")
    b = icc_wide(waves[["w1", "w2"]])
    np.testing.assert_allclose(a.table["icc"], b.table["icc"])
    assert a.design == "raters"
    d = a.to_dict()
    assert d["primary"] == PRIMARY and d["types"]["ICC(2,1)"]["mcgraw_wong"] == "ICC(A,1)"
    assert d["n"] == 118 and d["k"] == 2


def test_level_changes_interval(waves):
    a = icc_wide(waves[["w1", "w2"]], level=0.90).table.loc[PRIMARY]
    b = icc_wide(waves[["w1", "w2"]]).table.loc[PRIMARY]
    assert b["ci_lower"] < a["ci_lower"] < a["icc"] < a["ci_upper"] < b["ci_upper"]


def test_bad_inputs(waves):
    long = waves[["w1", "w2"]].reset_index().melt(id_vars="id", var_name="wave", value_name="score")
    with pytest.raises(PeerscaleError, match="not found"):
        icc(long, targets="person", raters="wave", ratings="score")
    with pytest.raises(PeerscaleError, match="more than one row"):
        icc(pd.concat([long, long.iloc[:1]]), targets="id", raters="wave", ratings="score")
    with pytest.raises(PeerscaleError, match="at least two"):
        icc(long[long.wave == "w1"], targets="id", raters="wave", ratings="score")
    with pytest.raises(PeerscaleError, match="needs 3"):
        icc_wide(pd.DataFrame({"a": [1, 2, np.nan, 4], "b": [np.nan, 2, 3, np.nan]}))
    with pytest.raises(PeerscaleError, match="the same"):
        icc_wide(pd.DataFrame({"a": [1, 1, 1], "b": [1, 1, 1]}))
    with pytest.raises(PeerscaleError, match="one column per wave"):
        icc_wide(pd.DataFrame({"a": [1, 2, 3]}))
    with pytest.raises(PeerscaleError, match="confidence level"):
        icc_wide(waves[["w1", "w2"]], level=2)
