"""Mergeable item statistics: computed per chunk of rows, merged exactly, analysed once.

:class:`ItemMoments` holds everything :func:`~peerscale.psychometrics.reliability.cronbach_alpha`,
:func:`~peerscale.psychometrics.itemstats.item_analysis`, pairwise Pearson correlations (omega,
EFA) and :func:`~peerscale.psychometrics.polychoric.polychoric_matrix` need, for k items:

- ``n_rows`` rows seen and ``n_any`` rows that answered at least one item;
- per ordered item pair (i, j), over the rows that answered both (pairwise complete):
  the count ``N[i, j]``, the mean of item i ``MU[i, j]``, its sum of squared deviations
  ``S[i, j]`` and the co-moment ``C[i, j] = Σ (x_i − MU[i, j])(x_j − MU[j, i])``; the diagonal
  holds each item's own count, mean and sum of squares;
- optionally the same for a (k + 1)-th column, each row's mean of its answered items (the
  "total" psych's ``raw.r`` correlates the items with);
- per item the third and fourth central moment sums (skew, kurtosis), minimum and maximum;
- optionally the frequency of every distinct value per item, and the bivariate contingency
  tables of every item pair (the input of polychoric correlations).

Merging two sets of statistics is exact up to rounding (Chan, Golub & LeVeque 1979 for the
co-moments, Pébay 2008 for the third and fourth moments; counts and tables add), so any split
of the rows into chunks, in any order and any tree of merges, gives the statistics of the
whole to about 1e-15 relative; the analyses then run on the merged statistics as they do on
a table in memory (which is computed as one chunk, through the same code).

Example, as ``cov(x, use = "pairwise")`` in R, from two chunks merged:

>>> import numpy as np
>>> from peerscale.psychometrics.moments import ItemMoments
>>> x = np.array([[1.0, 2.0], [2.0, np.nan], [3.0, 5.0], [4.0, 4.0]])
>>> merged = ItemMoments.from_array(x[:2]).merge(ItemMoments.from_array(x[2:]))
>>> merged.covariance().round(4).tolist()
[[1.6667, 1.8333], [1.8333, 2.3333]]
>>> bool(np.allclose(merged.covariance(), ItemMoments.from_array(x).covariance(), atol=1e-15))
True

References: Chan, T. F., Golub, G. H., & LeVeque, R. J. (1979). Updating formulae and a
pairwise algorithm for computing sample variances. Stanford CS-TR-79-773. Pébay, P. (2008).
Formulas for robust, one-pass parallel computation of covariances and arbitrary-order
statistical moments. Sandia Report SAND2008-6212.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from ..errors import PeerscaleError

MAX_TABLE_CODES = 64  # more distinct values than this: no frequency tables (not an item's codes)
MAX_JOINT_CODES = 16  # contingency tables of every pair: (k m)² cells


@dataclass
class ItemMoments:
    """Pairwise moments (and tables) of k items; see the module docstring.

    Build with :meth:`from_array` per chunk, combine with :meth:`merge` (or :func:`merge_all`),
    read with :meth:`covariance`, :meth:`correlation`, :meth:`frequencies` and
    :meth:`contingency`.
    """

    columns: list[str]
    n_rows: int
    n_any: int
    N: np.ndarray
    MU: np.ndarray
    S: np.ndarray
    C: np.ndarray
    M3: np.ndarray
    M4: np.ndarray
    vmin: np.ndarray
    vmax: np.ndarray
    total: bool = False
    values: np.ndarray | None = None       # distinct values (sorted) of the frequency tables
    counts: np.ndarray | None = None       # k × m counts
    joint: np.ndarray | None = None        # k × m × k × m pairwise contingency counts
    tables_dropped: str | None = None      # why the tables are not kept
    listwise: bool = False
    options: dict = field(default_factory=dict)

    # ---------------------------------------------------------------- build

    @classmethod
    def from_array(cls, x, columns: Sequence[str] | None = None, *, total: bool = False, tables: bool = False,
                   joint: bool = False, listwise: bool = False,
                   max_codes: int | None = MAX_TABLE_CODES) -> "ItemMoments":
        """The statistics of one chunk: ``x`` is n × k (NaN = missing).

        ``total`` adds each row's mean of answered items as column k + 1; ``tables`` keeps the
        frequency table of each item, ``joint`` also the contingency table of each pair;
        ``listwise`` first drops rows with a missing item; ``max_codes`` (None = no limit) is
        the most distinct values frequency tables are kept for.
        """
        x = np.asarray(x, dtype=float)
        if x.ndim != 2:
            raise PeerscaleError(f"expected a 2-D table of item scores, got {x.ndim} dimension(s)")
        k = x.shape[1]
        cols = [str(c) for c in columns] if columns is not None else [f"V{j + 1}" for j in range(k)]
        n_rows_seen = x.shape[0]
        obs = np.isfinite(x)
        if not obs.all() and np.isinf(x).any():
            x = np.where(obs, x, np.nan)
        if listwise:
            keep = obs.all(axis=1)
            x, obs = x[keep], obs[keep]
        n_rows = x.shape[0]
        any_obs = obs.any(axis=1)
        full, fobs = x, obs
        if total:
            with np.errstate(invalid="ignore", divide="ignore"):
                t = np.where(obs, x, 0.0).sum(axis=1) / obs.sum(axis=1)
            full = np.column_stack([x, t])
            fobs = np.column_stack([obs, any_obs])
        N, MU, S, C, M3, M4 = _chunk_moments(full, fobs, k)
        if n_rows:
            with np.errstate(invalid="ignore"):
                vmin = np.where(obs.any(axis=0), np.fmin.reduce(x, axis=0), np.inf)
                vmax = np.where(obs.any(axis=0), np.fmax.reduce(x, axis=0), -np.inf)
        else:
            vmin, vmax = np.full(k, np.inf), np.full(k, -np.inf)
        out = cls(cols, n_rows, int(any_obs.sum()), N, MU, S, C, M3, M4, vmin, vmax, total=total,
                  listwise=listwise, options={"tables": tables, "joint": joint, "max_codes": max_codes})
        out.n_rows = n_rows  # listwise: the complete rows; pairwise: every row
        out.options["rows_seen"] = n_rows_seen
        if tables or joint:
            out._add_tables(x, obs, joint)
        return out

    def _add_tables(self, x, obs, joint):
        vals = np.unique(x[obs])
        limit = self.options.get("max_codes")
        if limit is not None and vals.size > limit:
            self.tables_dropped = f"more than {limit} distinct values"
            return
        k = x.shape[1]
        m = vals.size
        if m == 0:  # nothing answered in this chunk
            self.values, self.counts = vals, np.zeros((k, 0), np.int64)
            if joint:
                self.joint = np.zeros((k, 0, k, 0), np.int64)
            return
        idx = np.searchsorted(vals, np.where(obs, x, vals[0] if m else 0.0))
        counts = np.zeros((k, m), np.int64)
        for j in range(k):
            counts[j] = np.bincount(idx[obs[:, j], j], minlength=m)
        self.values, self.counts = vals, counts
        if joint:
            if m > MAX_JOINT_CODES:
                self.tables_dropped = f"more than {MAX_JOINT_CODES} distinct values for contingency tables"
                return
            onehot = np.zeros((x.shape[0], k, m))
            np.put_along_axis(onehot, idx[:, :, None], obs[:, :, None].astype(float), axis=2)
            flat = onehot.reshape(x.shape[0], k * m)
            self.joint = np.rint(flat.T @ flat).astype(np.int64).reshape(k, m, k, m)

    # ---------------------------------------------------------------- merge

    def merge(self, other: "ItemMoments") -> "ItemMoments":
        """The statistics of both chunks' rows together (neither input is changed)."""
        if self.columns != other.columns or self.total != other.total or self.listwise != other.listwise:
            raise PeerscaleError("cannot merge statistics of different items or settings",
                                 hint=f"{self.columns} vs {other.columns}")
        a, b = self, other
        N = a.N + b.N
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = b.MU - a.MU
            wb = np.where(N > 0, b.N / N, 0.0)
            w = np.where(N > 0, a.N * b.N / N, 0.0)
            MU = a.MU + delta * wb
            S = a.S + b.S + delta * delta * w
            C = a.C + b.C + delta * delta.T * w
            na, nb = np.diag(a.N).astype(float)[:len(a.M3)], np.diag(b.N).astype(float)[:len(a.M3)]
            n = na + nb
            d = np.diag(delta)[:len(a.M3)]
            m2a, m2b = np.diag(a.S)[:len(a.M3)], np.diag(b.S)[:len(a.M3)]
            safe = np.where(n > 0, n, 1.0)
            M3 = (a.M3 + b.M3 + d ** 3 * na * nb * (na - nb) / safe ** 2
                  + 3 * d * (na * m2b - nb * m2a) / safe)
            M4 = (a.M4 + b.M4 + d ** 4 * na * nb * (na * na - na * nb + nb * nb) / safe ** 3
                  + 6 * d * d * (na * na * m2b + nb * nb * m2a) / safe ** 2 + 4 * d * (na * b.M3 - nb * a.M3) / safe)
        out = ItemMoments(list(a.columns), a.n_rows + b.n_rows, a.n_any + b.n_any, N, MU, S, C, M3, M4,
                          np.minimum(a.vmin, b.vmin), np.maximum(a.vmax, b.vmax), total=a.total,
                          listwise=a.listwise, options=dict(a.options))
        out.options["rows_seen"] = a.options.get("rows_seen", a.n_rows) + b.options.get("rows_seen", b.n_rows)
        out.tables_dropped = a.tables_dropped or b.tables_dropped
        if out.tables_dropped is None and a.counts is not None and b.counts is not None:
            vals = np.union1d(a.values, b.values)
            limit = a.options.get("max_codes")
            if limit is not None and vals.size > limit:
                out.tables_dropped = f"more than {limit} distinct values"
            else:
                ia, ib = np.searchsorted(vals, a.values), np.searchsorted(vals, b.values)
                counts = np.zeros((len(a.columns), vals.size), np.int64)
                counts[:, ia] += a.counts
                counts[:, ib] += b.counts
                out.values, out.counts = vals, counts
                if a.joint is not None and b.joint is not None:
                    if vals.size > MAX_JOINT_CODES:
                        out.tables_dropped = f"more than {MAX_JOINT_CODES} distinct values for contingency tables"
                    else:
                        k, m = len(a.columns), vals.size
                        j = np.zeros((k, m, k, m), np.int64)
                        r = np.arange(k)
                        j[np.ix_(r, ia, r, ia)] += a.joint
                        j[np.ix_(r, ib, r, ib)] += b.joint
                        out.joint = j
        return out

    def subset(self, columns: Sequence[str]) -> "ItemMoments":
        """The statistics of some of the items (the total column, if any, is dropped: it was the
        mean over all the items)."""
        pos = [self.columns.index(str(c)) for c in columns]
        ix = np.ix_(pos, pos)
        out = ItemMoments([self.columns[p] for p in pos], self.n_rows, self.n_any, self.N[ix], self.MU[ix],
                          self.S[ix], self.C[ix], self.M3[pos], self.M4[pos], self.vmin[pos], self.vmax[pos],
                          total=False, listwise=self.listwise, options=dict(self.options))
        if self.counts is not None:
            out.values, out.counts = self.values, self.counts[pos]
            if self.joint is not None:
                out.joint = self.joint[pos][:, :, pos]
        out.tables_dropped = self.tables_dropped
        out.options["n_any_exact"] = False  # rows answering one of these items: not known from a subset
        return out

    # ---------------------------------------------------------------- read

    @property
    def k(self) -> int:
        return len(self.columns)

    def counts_answered(self) -> np.ndarray:
        return np.diag(self.N)[:self.k].astype(np.int64)

    def means(self) -> np.ndarray:
        return np.diag(self.MU)[:self.k].copy()

    def sds(self) -> np.ndarray:
        n = self.counts_answered()
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 1, np.sqrt(np.diag(self.S)[:self.k] / (n - 1)), np.nan)

    def covariance(self) -> np.ndarray:
        """Pairwise-complete covariances (n − 1 denominator; NaN where fewer than two rows):
        as ``cov(x, use = "pairwise")``."""
        k = self.k
        N = self.N[:k, :k].astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            cov = self.C[:k, :k] / (N - 1.0)
        cov[N < 2] = np.nan
        return cov

    def correlation(self) -> np.ndarray:
        """Pairwise-complete Pearson correlations, each with its own pair's means and SDs (as
        ``cor(x, use = "pairwise")`` and pandas ``DataFrame.corr``)."""
        k = self.k
        with np.errstate(invalid="ignore", divide="ignore"):
            r = self.C[:k, :k] / np.sqrt(self.S[:k, :k] * self.S[:k, :k].T)
        r[self.N[:k, :k] < 2] = np.nan
        np.fill_diagonal(r, np.where(np.diag(self.N)[:k] >= 2, 1.0, np.nan))
        return r

    def total_correlations(self) -> np.ndarray:
        """Each item's correlation with the row mean of answered items, over the rows that
        answered the item (psych's ``raw.r``); needs ``total=True``."""
        if not self.total:
            raise PeerscaleError("these statistics were computed without the total column")
        k = self.k
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.C[:k, k] / np.sqrt(self.S[:k, k] * self.S[k, :k])

    def total_mean_sd(self) -> tuple[float, float]:
        k = self.k
        n = self.N[k, k]
        return float(self.MU[k, k]), float(np.sqrt(self.S[k, k] / (n - 1))) if n > 1 else float("nan")

    def skew_kurtosis(self) -> tuple[np.ndarray, np.ndarray]:
        """psych's type 3 skew ``m3 / s³`` and excess kurtosis ``m4 / s⁴ − 3`` (s with n − 1)."""
        n = self.counts_answered().astype(float)
        m2 = np.diag(self.S)[:self.k]
        with np.errstate(invalid="ignore", divide="ignore"):
            s2 = m2 / (n - 1)
            skew = np.where((n >= 3) & (m2 > 0), (self.M3 / n) / s2 ** 1.5, np.nan)
            kurt = np.where((n >= 4) & (m2 > 0), (self.M4 / n) / s2 ** 2 - 3, np.nan)
        return skew, kurt

    def no_variance(self) -> np.ndarray:
        """Items whose answers are all the same value (from the extremes: exact)."""
        return (self.vmax <= self.vmin)

    def frequencies(self):
        """``(values, k × m counts)`` of each item's distinct values."""
        if self.counts is None:
            raise PeerscaleError("these statistics hold no frequency tables" +
                                 (f" ({self.tables_dropped})" if self.tables_dropped else ""))
        return self.values, self.counts

    def contingency(self):
        """``(values, k × m × k × m)`` bivariate contingency counts of every item pair (the
        diagonal blocks hold each item's frequencies on the diagonal)."""
        if self.joint is None:
            raise PeerscaleError("these statistics hold no contingency tables" +
                                 (f" ({self.tables_dropped})" if self.tables_dropped else ""),
                                 hint="ask for them with `joint=True`")
        return self.values, self.joint


@dataclass(frozen=True)
class Spec:
    """One set of statistics a chunked analysis keeps: ``items`` (reverse-keyed where ``keys``
    says −1 when ``keyed``) and the :meth:`ItemMoments.from_array` options."""

    items: tuple
    keys: tuple
    keyed: bool = True
    total: bool = False
    tables: bool = False
    joint: bool = False
    listwise: bool = False
    check_range: bool = False  # refuse answers outside the declared range (item analysis)



BLOCK_ROWS = 1 << 16  # rows per matrix product (bounds the temporaries: 64 Ki rows × 3 columns per item)


def _chunk_moments(x: np.ndarray, obs: np.ndarray, k: int):
    """N, MU, S, C (all columns) and M3, M4 (the first ``k``) of one chunk: the chunk centred at
    its column means (numerical stability), then one Gram matrix of ``[o, x0, x0²]`` per block
    of rows, whose blocks hold every pairwise count, sum, sum of squares and cross-product."""
    o_all = obs
    with np.errstate(invalid="ignore", divide="ignore"):
        cnt = obs.sum(axis=0)
        centre = np.where(cnt > 0, np.where(obs, x, 0.0).sum(axis=0) / np.where(cnt > 0, cnt, 1), 0.0)
    K = x.shape[1]
    G = np.zeros((3 * K, 3 * K))
    for i in range(0, x.shape[0], BLOCK_ROWS):
        xb, ob = x[i:i + BLOCK_ROWS], o_all[i:i + BLOCK_ROWS]
        x0 = np.where(ob, xb - centre, 0.0)
        a = np.concatenate([ob.astype(float), x0, x0 * x0], axis=1)
        G += a.T @ a
    N = np.rint(G[:K, :K]).astype(np.int64)
    SX = G[K:2 * K, :K]
    SXX = G[2 * K:, :K]
    SXY = G[K:2 * K, K:2 * K]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_dev = np.where(N > 0, SX / np.where(N > 0, N, 1), 0.0)
    MU = np.where(N > 0, centre[:, None] + mean_dev, 0.0)
    S = np.where(N > 0, SXX - SX * mean_dev, 0.0)
    C = np.where(N > 0, SXY - SX * mean_dev.T, 0.0)
    # third and fourth moments about each item's own mean (centre + d): expand (x0 − d)^3, ^4
    n = np.diag(N)[:k].astype(float)
    d = np.diag(mean_dev)[:k]
    s1, s2 = np.diag(SX)[:k], np.diag(SXX)[:k]
    s3 = np.diag(G[2 * K:, K:2 * K])[:k]
    s4 = np.diag(G[2 * K:, 2 * K:])[:k]
    M3 = s3 - 3 * d * s2 + 3 * d * d * s1 - n * d ** 3
    M4 = s4 - 4 * d * s3 + 6 * d * d * s2 - 4 * d ** 3 * s1 + n * d ** 4
    return N, MU, S, C, M3, M4


def merge_all(parts: Iterable[ItemMoments]) -> ItemMoments:
    """Merge any number of chunk statistics pairwise as a balanced tree (the order of a Dask
    reduction); the result does not depend on the order beyond rounding."""
    parts = list(parts)
    if not parts:
        raise PeerscaleError("no statistics to merge (no rows were read)")
    while len(parts) > 1:
        parts = [parts[i].merge(parts[i + 1]) if i + 1 < len(parts) else parts[i] for i in range(0, len(parts), 2)]
    return parts[0]


def moments_of_chunks(chunks: Iterable, columns: Sequence[str] | None = None, **options) -> ItemMoments:
    """Merged :class:`ItemMoments` of an iterable of chunks (DataFrames or arrays of the same
    columns); ``options`` as :meth:`ItemMoments.from_array`."""
    out = None
    for chunk in chunks:
        cols = columns if columns is not None else (list(chunk.columns) if hasattr(chunk, "columns") else None)
        values = chunk.to_numpy(dtype=float, na_value=np.nan) if hasattr(chunk, "to_numpy") else chunk
        part = ItemMoments.from_array(values, cols, **options)
        out = part if out is None else out.merge(part)
    if out is None:
        raise PeerscaleError("no statistics to merge (no rows were read)")
    return out


__all__ = ["ItemMoments", "Spec", "merge_all", "moments_of_chunks"]
