"""Mergeable statistics (issue 15 part 3): statistics per chunk merged = statistics of the whole,
and reliability / item analysis / polychoric on files read in chunks = in memory.

Tolerances: everything computed in closed form from the merged statistics (alpha and its
companions, item statistics, frequencies, skew, kurtosis, polychoric correlations) agrees to
1e-10 (measured: below 1e-13); omega needs a factor fit (L-BFGS-B, gtol 1e-9), so omega agrees to
that optimiser's tolerance (measured: below 1e-9; asserted 1e-8). The ICC(1) of nesting within
workers is a REML fit whose criterion is flat at its optimum: sums that differ in the last bit
move the maximiser by about sqrt(machine epsilon), so those agree to 1e-6 (relative, or absolute
below 1; measured: icc1 within 3e-8, design effect within 2e-7).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import peerscale
from peerscale import adhoc_instrument
from peerscale.errors import PeerscaleError
from peerscale.examples import path
from peerscale.psychometrics.moments import ItemMoments, merge_all, moments_of_chunks
from peerscale.psychometrics.polychoric import polychoric_from_moments, polychoric_matrix
from peerscale.psychometrics.reliability import alpha_from_moments, cronbach_alpha

EXACT = 1e-10
OMEGA_TOL = 1e-8
REML_REL = 1e-6
EXAMPLE = path("youth_export.csv")


def _generated(n=1500, k=6, seed=3, missing=0.15):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, 1))
    x = np.clip(np.round(3 + f + rng.normal(size=(n, k))), 1, 5)
    x[rng.random(x.shape) < missing] = np.nan
    x[5] = np.nan  # a row nobody answered
    return pd.DataFrame(x, columns=[f"i{j + 1}" for j in range(k)])


def _splits(n, sizes):
    out, i = [], 0
    for s in sizes:
        out.append((i, min(n, i + s)))
        i += s
    if i < n:
        out.append((i, n))
    return out


def _flat(d, pre=""):
    out = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(_flat(v, f"{pre}/{k}"))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            out.update(_flat(v, f"{pre}[{i}]"))
    else:
        out[pre] = d
    return out


def assert_same(chunked: dict, whole: dict, tol=EXACT, omega_tol=OMEGA_TOL):
    """Every value of two result dicts equal: numbers within tol (omega within omega_tol)."""
    a, b = _flat(chunked), _flat(whole)
    b.pop("/notes[0]", None)
    a = {k: v for k, v in a.items() if not k.startswith("/notes")}
    assert set(a) == set(b)
    for key, want in b.items():
        got = a[key]
        if isinstance(want, float) and not isinstance(want, bool):
            if np.isnan(want):
                assert np.isnan(got), key
            else:
                if key.startswith("/nesting"):  # a REML fit: flat at its maximum, so ~sqrt(eps) relative
                    assert got == pytest.approx(want, rel=REML_REL, abs=REML_REL), key
                else:
                    assert got == pytest.approx(want, abs=omega_tol if "omega" in key else tol), key
        else:
            assert got == want, key


# --------------------------------------------------------------------------- the statistics

@pytest.mark.parametrize("sizes", [[1] * 40 + [500], [97] * 20, [0, 750, 0, 750], [1499, 1]])
def test_merged_statistics_equal_the_whole(sizes):
    x = _generated().to_numpy()
    opts = dict(total=True, joint=True)
    whole = ItemMoments.from_array(x, **opts)
    parts = [ItemMoments.from_array(x[a:b], **opts) for a, b in _splits(len(x), sizes)]
    for merged in (merge_all(parts), parts[0].merge(merge_all(parts[1:])) if len(parts) > 1 else parts[0]):
        assert merged.n_rows == whole.n_rows and merged.n_any == whole.n_any
        np.testing.assert_array_equal(merged.N, whole.N)
        np.testing.assert_array_equal(merged.counts, whole.counts)
        np.testing.assert_array_equal(merged.joint, whole.joint)
        for name in ("MU", "S", "C", "M3", "M4"):
            np.testing.assert_allclose(getattr(merged, name), getattr(whole, name), rtol=1e-12, atol=1e-9,
                                       err_msg=name)
        np.testing.assert_allclose(merged.correlation(), pd.DataFrame(x).corr().to_numpy(), atol=EXACT)
        np.testing.assert_allclose(merged.covariance(), pd.DataFrame(x).cov().to_numpy(), atol=EXACT)


def test_chunks_with_different_codes_and_an_empty_chunk_merge_their_tables():
    a = np.array([[1.0, 2.0], [1.0, np.nan]])
    b = np.array([[np.nan, np.nan]])
    c = np.array([[5.0, 4.0], [3.0, 4.0]])
    merged = merge_all([ItemMoments.from_array(p, joint=True) for p in (a, b, c)])
    whole = ItemMoments.from_array(np.vstack([a, b, c]), joint=True)
    np.testing.assert_array_equal(merged.values, [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(merged.counts, whole.counts)
    np.testing.assert_array_equal(merged.joint, whole.joint)


def test_skew_and_kurtosis_from_merged_moments_match_psych_type_3():
    from peerscale.psychometrics import kurtosis, skewness

    x = _generated(n=400, seed=8).to_numpy()
    m = moments_of_chunks([x[i:i + 33] for i in range(0, 400, 33)])
    skew, kurt = m.skew_kurtosis()
    for j in range(x.shape[1]):
        assert skew[j] == pytest.approx(skewness(x[:, j]), abs=EXACT)
        assert kurt[j] == pytest.approx(kurtosis(x[:, j]), abs=EXACT)


@pytest.mark.parametrize("listwise", [False, True])
def test_alpha_from_merged_statistics_equals_in_memory(listwise):
    x = _generated()
    merged = moments_of_chunks((x.iloc[i:i + 211] for i in range(0, len(x), 211)), total=True, listwise=listwise)
    chunked = alpha_from_moments(merged)
    whole = cronbach_alpha(x, listwise=listwise)
    assert (chunked.n, chunked.missing) == (whole.n, whole.missing)
    for stat in ("alpha", "alpha_std", "g6", "average_r", "median_r", "var_r", "s_n", "ase", "total_mean", "total_sd"):
        assert getattr(chunked, stat) == pytest.approx(getattr(whole, stat), abs=EXACT), stat
    np.testing.assert_allclose(chunked.alpha_ci, whole.alpha_ci, atol=EXACT)
    np.testing.assert_allclose(chunked.items.to_numpy(float), whole.items.to_numpy(float), atol=EXACT)


def test_polychoric_from_merged_tables_equals_in_memory():
    x = _generated(n=900, seed=5)
    merged = moments_of_chunks((x.iloc[i:i + 128] for i in range(0, len(x), 128)), joint=True)
    chunked, whole = polychoric_from_moments(merged), polychoric_matrix(x)
    np.testing.assert_allclose(chunked.rho, whole.rho, atol=EXACT)
    np.testing.assert_array_equal(chunked.n, whole.n)
    assert chunked.n_obs == whole.n_obs and chunked.global_thresholds == whole.global_thresholds
    for a, b in zip(chunked.thresholds, whole.thresholds):
        np.testing.assert_allclose(a, b, atol=EXACT)


def test_statistics_without_tables_say_so():
    m = ItemMoments.from_array(np.arange(200.0).reshape(100, 2) / 7)
    with pytest.raises(PeerscaleError, match="no contingency tables"):
        m.contingency()
    with pytest.raises(PeerscaleError, match="different items"):
        m.merge(ItemMoments.from_array(np.ones((3, 3))))


# --------------------------------------------------------------------------- files and frames

@pytest.fixture(scope="module")
def whole():
    r = peerscale.read(EXAMPLE, "pbr-y")
    return {w: (r.reliability(wave=w, ordinal=True, omega=True).to_dict(), r.item_analysis(wave=w).to_dict())
            for w in ("first", "all")}


@pytest.mark.slow
@pytest.mark.parametrize("chunk_rows", [37, 301])
def test_example_read_in_chunks_equals_in_memory(whole, chunk_rows):
    """Chunk edges inside a wave (37) and just past the end of the baseline wave's 300 rows (301)."""
    big = peerscale.read_chunked(EXAMPLE, "pbr-y", chunk_rows=chunk_rows)
    for w in ("first", "all"):
        rel, items = whole[w]
        assert_same(big.reliability(wave=w, ordinal=True, omega=True).to_dict(), rel)
        assert_same(big.item_analysis(wave=w).to_dict(), items)
    assert big.n_chunks == -(-562 // chunk_rows)


def test_dataframe_chunks_with_missing_values_equal_in_memory():
    inst = adhoc_instrument(["A=i1,i2,-i3", "B=i4,i5,i6"], value_range=(1, 5))
    x = _generated(n=700, seed=11)
    frames = [x.iloc[i:i + 64] for i in range(0, len(x), 64)]
    r = peerscale.read(x, inst)
    big = peerscale.read_chunked(frames, inst)
    for listwise in (False, True):
        assert_same(big.reliability(listwise=listwise, ordinal=True).to_dict(),
                    r.reliability(listwise=listwise, ordinal=True).to_dict())
        assert_same(big.item_analysis(listwise=listwise).to_dict(), r.item_analysis(listwise=listwise).to_dict())


def test_a_constant_item_takes_a_second_pass_and_a_generator_cannot():
    inst = adhoc_instrument(["A=i1,i2,i3,i4"], value_range=(1, 5))
    x = _generated(n=300, k=4, seed=2)
    x["i4"] = np.where(x["i4"].notna(), 3.0, np.nan)  # constant: left out of the item-total statistics
    frames = [x.iloc[i:i + 50] for i in range(0, 300, 50)]
    want = peerscale.read(x, inst).item_analysis().to_dict()
    assert_same(peerscale.read_chunked(frames, inst).item_analysis().to_dict(), want)
    assert_same(peerscale.read_chunked(lambda: iter(frames), inst).item_analysis().to_dict(), want)
    once = peerscale.read_chunked(iter(frames), inst).item_analysis()
    assert "a second pass" in once.errors["A"]


def test_bad_value_in_the_last_row_of_a_chunk_names_the_file_row(tmp_path):
    src = pd.read_csv(EXAMPLE, dtype=str)
    src.loc[49, "pbr_y_share_01"] = "9"  # file row 50 = the last row of the first chunk of 50
    f = tmp_path / "bad.csv"
    src.to_csv(f, index=False)
    with pytest.raises(PeerscaleError, match="row 50, column 'pbr_y_share_01'"):
        peerscale.read_chunked(f, "pbr-y", chunk_rows=50).reliability()


def test_the_bootstrap_needs_the_rows():
    with pytest.raises(PeerscaleError, match="bootstrap interval needs every row"):
        peerscale.read_chunked(EXAMPLE, "pbr-y", chunk_rows=100).reliability(n_boot=10)


def test_moments_give_efa_and_polychoric_inputs():
    big = peerscale.read_chunked(EXAMPLE, "pbr-y", chunk_rows=90)
    r = peerscale.read(EXAMPLE, "pbr-y").wave("first")
    items = ["pbr_y_share_01", "pbr_y_share_02", "pbr_y_share_06"]
    m = big.moments(items, joint=True)
    keyed = r.items(keyed=True)[items]
    np.testing.assert_allclose(m.correlation(), keyed.corr().to_numpy(), atol=EXACT)
    np.testing.assert_allclose(polychoric_from_moments(m).rho, polychoric_matrix(keyed).rho, atol=EXACT)


def test_efa_on_merged_correlations_equals_efa_on_the_rows():
    from peerscale.analyses import pearson_frame
    from peerscale.psychometrics import fit_efa

    x = _generated(n=800, k=6, seed=4)
    m = moments_of_chunks(x.iloc[i:i + 90] for i in range(0, 800, 90))
    chunked = fit_efa(pearson_frame(m), 2, n_obs=m.n_rows)
    whole = fit_efa(x, 2)
    np.testing.assert_allclose(chunked.loadings, whole.loadings, atol=OMEGA_TOL)  # a factor fit: its tolerance


# --------------------------------------------------------------------------- command line

def test_cli_chunked_reliability_and_items_equal_in_memory(run_cli):
    for cmd in ("reliability", "items"):
        code, out, _ = run_cli(cmd, EXAMPLE, "-i", "pbr-y", "--json", "--wave", "all")
        code2, out2, _ = run_cli(cmd, EXAMPLE, "-i", "pbr-y", "--json", "--wave", "all", "--chunk-size", "120")
        assert code == code2 == 0
        assert_same(json.loads(out2), json.loads(out))


def test_cli_large_files_are_read_in_chunks_unless_rows_are_needed(run_cli, monkeypatch):
    monkeypatch.setenv("PEERSCALE_STREAM_BYTES", "1000")
    code, out, _ = run_cli("reliability", EXAMPLE, "-i", "pbr-y", "--json")
    assert code == 0 and "statistics merged over 1 chunk(s)" in json.loads(out)["notes"][0]
    code, out, _ = run_cli("reliability", EXAMPLE, "-i", "pbr-y", "--json", "--bootstrap", "20", "--seed", "1")
    assert code == 0 and "notes" not in json.loads(out)
    code, _, err = run_cli("reliability", EXAMPLE, "-i", "pbr-y", "--bootstrap", "20", "--chunk-size", "100")
    assert code == 2 and "--bootstrap needs every row in memory" in err
