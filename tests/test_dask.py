"""Dask (issue 15 part 4): scores of a dask DataFrame through the same kernel, lazily, and the
mergeable statistics as a Dask reduction, on a LocalCluster of two worker processes: identical
results to pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import peerscale
from peerscale.errors import PeerscaleError
from peerscale.examples import path

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from test_moments import assert_same  # noqa: E402  (same tolerances: 1e-10, omega 1e-8)

EXAMPLE = path("youth_export.csv")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def example():
    return pd.read_csv(EXAMPLE)


def test_score_is_lazy_map_partitions_of_the_kernel(client, example):
    ddf = dd.from_pandas(example, npartitions=4)
    lazy = peerscale.score(ddf, "pbr-y")
    assert isinstance(lazy, dd.DataFrame) and lazy.npartitions == 4
    whole = peerscale.score(ddf.compute(), "pbr-y")
    assert list(lazy.columns) == list(whole.columns) and (lazy.dtypes == whole.dtypes).all()  # meta = the kernel's
    pd.testing.assert_frame_equal(lazy.compute(), whole)


def test_rows_are_numbered_over_the_whole_frame_without_ids(client, example):
    items = example[[c for c in example.columns if c.startswith("pbr_y_")]]
    got = peerscale.score(dd.from_pandas(items, npartitions=3), "pbr-y").compute()
    pd.testing.assert_frame_equal(got, peerscale.score(items, "pbr-y"))
    assert got["row"].tolist() == list(range(1, len(items) + 1))


def test_responses_path_scores_and_analyses_as_a_reduction(client, example):
    ddf = dd.from_pandas(example, npartitions=5)
    lazy = peerscale.read(ddf, "pbr-y")
    whole = peerscale.read(ddf.compute(), "pbr-y")
    pd.testing.assert_frame_equal(lazy.score().compute(), whole.score().scores)
    assert_same(lazy.reliability(omega=True).to_dict(), whole.reliability(omega=True).to_dict())
    assert_same(lazy.item_analysis(wave="all").to_dict(), whole.item_analysis(wave="all").to_dict())
    m = lazy.moments(["pbr_y_share_01", "pbr_y_share_02"], wave="all")
    keyed = whole.wave("all").items(keyed=True)[["pbr_y_share_01", "pbr_y_share_02"]]
    np.testing.assert_allclose(m.correlation(), keyed.corr().to_numpy(), atol=1e-12)


def test_an_invalid_value_names_its_partition_and_row(client, example):
    bad = example.copy()
    bad["pbr_y_share_01"] = bad["pbr_y_share_01"].astype(float)
    bad.loc[150, "pbr_y_share_01"] = 9.0  # row 151 of the frame; row 10 of the second partition of 141
    ddf = dd.from_pandas(bad, npartitions=4, sort=False)
    with pytest.raises(PeerscaleError, match=r"row 10, column 'pbr_y_share_01'.*partition 1"):
        peerscale.read(ddf, "pbr-y").reliability()
    items = bad[[c for c in bad.columns if c.startswith("pbr_y_")]]
    with pytest.raises(PeerscaleError, match=r"row 151, column 'pbr_y_share_01'"):
        peerscale.score(dd.from_pandas(items, npartitions=4, sort=False), "pbr-y").compute()


def _repeating_export():
    """A REDCap export where the form repeats only in the last rows: the non-repeating rows are
    out of scope over the whole export, even in a partition that holds only them."""
    cols = ["record_id", "redcap_repeat_instrument", "redcap_repeat_instance", "age",
            "mini_share_1", "mini_share_2", "mini_share_3", "mini_trust_1", "mini_trust_2", "mini_trust_3",
            "mini_y_complete"]
    rows = [[str(r), None, None, 18 + r, 4, 3, 2, 4, 4, 2, 2] for r in range(1, 7)]
    rows += [["2", "mini_y", 1, None, 4, 4, 2, 4, 4, 2, 2], ["2", "mini_y", 2, None, 5, 5, 1, 5, 5, 1, 2],
             ["3", "mini_y", 1, None, 3, 3, 2, 4, 4, 2, 2], ["4", "mini_y", 1, None, 2, 3, 3, 3, 4, 2, 2]]
    return pd.DataFrame(rows, columns=cols)


def test_repeating_forms_are_decided_over_the_whole_frame(client):
    from conftest import ROOT

    mini = ROOT / "tests" / "fixtures" / "redcap" / "mini-y.yaml"
    df = _repeating_export()
    ddf = dd.from_pandas(df, npartitions=3, sort=False)
    whole = peerscale.read(ddf.compute(), mini)
    got = peerscale.read(ddf, mini).score().compute()
    pd.testing.assert_frame_equal(got, whole.score().scores)
    assert got["share"].notna().tolist() == [False] * 6 + [True] * 4
    frames = [df.iloc[:5], df.iloc[5:]]
    assert peerscale.read_chunked(frames, mini).reliability(wave="all").sample["rows"] == whole.n_rows == 4
