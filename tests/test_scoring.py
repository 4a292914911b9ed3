"""Scoring engine: hand-computed cases, missing-data rules, invalid values, invariants."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import peerscale
from peerscale import PeerscaleError, adhoc_instrument, load_instrument
from peerscale.scoring import scale_scores, score_data

SPEC = """
name: mini
version: "1.0"
id_columns: [record_id]
response_scales:
  F5:
    min: 1
    max: 5
    codes: {1: Never, 2: Rarely, 3: Sometimes, 4: Often, 5: Almost always}
    missing: {9: Not relevant to me yet, -999: Not asked, UNK: Unknown}
items:
  - {id: a1, text: A1, response_scale: F5}
  - {id: a2, text: A2, response_scale: F5}
  - {id: a3, text: A3, response_scale: F5, reverse: true}
  - {id: a4, text: A4, response_scale: F5}
scales:
  - {name: a, label: Scale A, items: [a1, a2, a3, a4]}
  - {name: a_sum, label: Sum of A, items: [a1, a2, a3, a4], method: sum, min_answered: 2}
  - {name: a_raw, label: Plain sum, items: [a1, a2, a3, a4], method: sum, prorate: false, min_answered: 1}
norms:
  a_sum: {table: [[4, 30, 5], [8, 40, 4], [12, 50, 3], [16, 60, 4], [20, 70, 5]], interpolate: true}
bands:
  a:
    cuts: [{label: low, min: 1, max: 2.5}, {label: mid, min: 2.5, max: 3.5}, {label: high, min: 3.5, max: 5}]
"""


@pytest.fixture
def mini(tmp_path):
    p = tmp_path / "mini.yaml"
    p.write_text(textwrap.dedent(SPEC))
    return load_instrument(p)


def test_hand_computed(mini):
    df = pd.DataFrame({
        "record_id": ["007", "008", "009", "010", "011"],
        "a1": [1, 5, 4, 9, None],
        "a2": [2, 5, 4, 3, None],
        "a3": [5, 1, None, 3, None],   # reverse-keyed: 6 - x
        "a4": [3, 5, 4, -999, 2],
    })
    r = score_data(df, mini)
    s = r.scores
    assert list(s.columns[:3]) == ["record_id", "a", "a_n"]
    assert list(s["record_id"]) == ["007", "008", "009", "010", "011"]  # ids kept as text
    # row 1: 1, 2, (6-5)=1, 3 -> mean 1.75; row 2: 5, 5, 5, 5 -> 5
    assert s["a"][0] == pytest.approx(1.75) and s["a"][1] == 5
    # row 3: 3 answered of 4 = 75% -> scored (4+4+4)/3
    assert s["a"][2] == pytest.approx(4) and s["a_n"][2] == 3
    # row 4: 9 and -999 are missing codes -> 2 answered -> below 75%: missing, n reported
    assert np.isnan(s["a"][3]) and s["a_n"][3] == 2
    # prorated sum: mean x 4 when at least 2 answered
    assert s["a_sum"][0] == pytest.approx(7) and s["a_sum"][3] == pytest.approx((3 + 3) / 2 * 4)
    assert s["a_raw"][4] == 2 and np.isnan(s["a_sum"][4])
    # norms (interpolated) and bands
    assert s["a_sum_t"][0] == pytest.approx(37.5) and s["a_sum_t_se"][0] == pytest.approx(4.25)
    assert list(s["a_band"][:3]) == ["low", "high", "high"] and pd.isna(s["a_band"][3])
    reasons = r.summary["missing_by_reason"]
    assert reasons == {"Not relevant to me yet": 1, "Not asked": 1, "blank": 4}
    assert r.summary["scales"]["a"]["n_scored"] == 3 and r.summary["scales"]["a"]["n_too_few_answered"] == 2


def test_labels_and_text_missing_codes(mini):
    df = pd.DataFrame({"a1": ["Never", " often ", "UNK", "Not relevant to me yet"],
                       "a2": ["2", "4", "3", "-999"], "a3": [1, 2, 3, 4], "a4": ["5", "", None, "1"]})
    r = score_data(df, mini)
    np.testing.assert_array_equal(r.items.column("a1")[:2], [1, 4])
    assert r.summary["missing_by_reason"]["Unknown"] == 1
    assert r.summary["missing_by_reason"]["Not relevant to me yet"] == 1
    assert r.summary["missing_by_reason"]["Not asked"] == 1
    assert list(r.scores.columns[:1]) == ["row"]  # no id column in the data: a row number


def test_invalid_values_listed_then_counted(mini):
    df = pd.DataFrame({"record_id": list("abcdefgh"), "a1": [1, 7, 6, 0, 3, 8, 2.5, "x"],
                       "a2": [1] * 8, "a3": [1] * 8, "a4": [1] * 8})
    with pytest.raises(PeerscaleError) as err:
        score_data(df, mini)
    text = str(err.value)
    assert "6 value(s) are not valid" in text and "row 2, column 'a1': 7" in text and "(and 1 more)" in text
    assert "`on_invalid='missing'`" in text  # the library names its parameter; the CLI shows --on-invalid
    r = score_data(df, mini, on_invalid="missing")
    assert r.summary["invalid_values"] == 6
    assert r.summary["missing_by_item"]["a1"]["invalid value (set to missing)"] == 6
    assert len(r.scores) == 8


def test_missing_item_column_is_an_error(mini):
    with pytest.raises(PeerscaleError, match="not in the data: a4") as err:
        score_data(pd.DataFrame({"a1": [1], "a2": [1], "a3": [1]}), mini)
    assert "`map`" in err.value.hint


def test_min_answered_override_and_out_of_scope_rows(mini):
    df = pd.DataFrame({"a1": [1, 2, None], "a2": [None, 2, None], "a3": [None, None, None], "a4": [None, 2, None]})
    s = score_data(df, mini, min_answered=1, in_scope=[True, True, False]).scores
    assert s["a"][0] == 1 and s["a"][1] == 2
    assert np.isnan(s["a"][2]) and pd.isna(s["a_n"][2])  # other REDCap form: kept, not scored
    with pytest.raises(PeerscaleError, match="more than the 4 items"):
        score_data(df, mini, min_answered=5)


def test_proportion_rule_uses_ceiling():
    inst = adhoc_instrument(["S=a,b,c,d,e,f"], min_answered=0.75)  # 4.5 -> 5 items needed
    assert inst.scale("S").required == 5
    df = pd.DataFrame({c: [1, 1] for c in "abcdef"}).astype(float)
    df.loc[0, ["a", "b"]] = np.nan
    df.loc[1, ["a"]] = np.nan
    s = peerscale.score(df, inst)
    assert np.isnan(s["S"][0]) and s["S"][1] == 1


def test_reverse_uses_declared_not_observed_range():
    inst = adhoc_instrument(["S=-a"], value_range=(1, 6), min_answered=1)
    s = peerscale.score(pd.DataFrame({"a": [2, 3, 4]}), inst)  # 1 and 6 never chosen
    assert list(s["S"]) == [5, 4, 3]


@st.composite
def response_matrix(draw):
    n = draw(st.integers(1, 40))
    k = draw(st.integers(1, 6))
    x = draw(arrays(np.float64, (n, k), elements=st.sampled_from([1.0, 2.0, 3.0, 4.0, 5.0, np.nan])))
    keys = draw(st.lists(st.booleans(), min_size=k, max_size=k))
    return x, keys


@settings(max_examples=60, deadline=None)
@given(response_matrix(), st.sampled_from([1, 0.5, 0.75, 0.99]))
def test_invariants(data, rule):
    x, keys = data
    names = [f"i{j}" for j in range(x.shape[1])]
    spec = "S=" + ",".join(("-" if r else "") + n for n, r in zip(names, keys))
    rule = rule if rule < 1 else 1
    inst = adhoc_instrument([spec], value_range=(1, 5), min_answered=rule)
    ids = [f"id{i:03d}" for i in range(len(x))]
    df = pd.DataFrame(x, columns=names).assign(rid=ids)
    res = peerscale.score_data(df, inst, id_columns=["rid"])
    s = res.scores
    # row count, order and ids preserved
    assert list(s["rid"]) == ids
    # scores stay within the declared range; n answered is exact
    vals = s["S"].to_numpy(dtype=float)
    assert np.all((vals[~np.isnan(vals)] >= 1) & (vals[~np.isnan(vals)] <= 5))
    np.testing.assert_array_equal(s["S_n"].to_numpy(dtype=int), (~np.isnan(x)).sum(axis=1))
    # reversing twice is the identity
    rs = inst.items[names[0]].response_scale
    np.testing.assert_array_equal(rs.reverse(rs.reverse(x)), x)
    # a scale of all reverse-keyed items equals (min+max) minus the all-forward scale
    if all(keys):
        fwd = adhoc_instrument(["S=" + ",".join(names)], value_range=(1, 5), min_answered=rule)
        f = peerscale.score(df, fwd)["S"].to_numpy(dtype=float)
        np.testing.assert_allclose(vals, 6 - f, equal_nan=True)


def test_scale_scores_vectorised_matches_loop():
    rng = np.random.default_rng(1)
    x = rng.integers(1, 6, size=(500, 7)).astype(float)
    x[rng.random(x.shape) < 0.2] = np.nan
    scale = adhoc_instrument(["S=" + ",".join("abcdefg")], min_answered=4).scale("S")
    score, n = scale_scores(x, scale)
    for row, s, k in zip(x, score, n):
        ans = row[~np.isnan(row)]
        assert k == len(ans)
        assert (np.isnan(s) if len(ans) < 4 else s == pytest.approx(ans.mean()))


def test_input_frame_is_never_modified(mini):
    df = pd.DataFrame({"a1": [1.0, 9.0, 7.0], "a2": [-999.0, 2.0, 3.0], "a3": [1.0, 2.0, 3.0], "a4": [4.0, 4.0, 4.0]})
    before = df.copy()
    score_data(df, mini, on_invalid="missing")
    pd.testing.assert_frame_equal(df, before)


def test_exact_norm_lookup_tolerates_rounding_on_both_sides():
    from peerscale.scoring import apply_norms
    from peerscale.spec import NormTable

    table = NormTable((4.0, 8.0, 12.0), (30.0, 40.0, 50.0), (1.0, None, 3.0))
    t, se = apply_norms(np.array([8 - 1e-12, 8 + 1e-12, 8 + 2e-9, 3.0, 13.0, 12.0, np.nan]), table)
    np.testing.assert_array_equal(t, [40, 40, np.nan, np.nan, np.nan, 50, np.nan])
    np.testing.assert_array_equal(se, [np.nan, np.nan, np.nan, np.nan, np.nan, 3, np.nan])
