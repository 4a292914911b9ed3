"""Internal consistency of one scale, as ``psych::alpha`` (psych 2.2.9) computes it.

Input is a scale's items already keyed (reverse-keyed items scored as (min + max) − x).
With k items, C the item covariance matrix and R = cov2cor(C):

- ``alpha`` (raw, Cronbach 1951): ``k/(k−1) · (1 − tr C / 1'C1)``
- ``alpha_std`` (standardized): ``k/(k−1) · (1 − k / 1'R1)``
- ``g6`` (Guttman's lambda 6 from squared multiple correlations, psych's ``G6(smc)``):
  ``1 − (k − Σ smc_i) / 1'R1``, with ``smc_i = 1 − 1/(R⁻¹)_ii``
- ``average_r = (1'R1 − k)/(k(k−1))``, ``median_r`` and ``var_r`` (sample variance) of the
  k(k−1)/2 distinct inter-item correlations
- ``s_n`` (signal/noise, Cronbach & Gleser 1964): ``k · average_r / (1 − average_r)``
- ``ase``: psych's asymptotic standard error ``sqrt(Q/n)`` (Duhachek & Iacobucci 2004)
- Feldt interval (Feldt, Woodruff & Salih 1987; ``psych::alpha.ci``):
  ``1 − (1 − alpha) · F_{1−p/2}`` to ``1 − (1 − alpha) · F_{p/2}``, F with ``n − 1`` and
  ``(n − 1)(k − 1)`` degrees of freedom
- bootstrap interval (as ``psych::alpha(n.iter=)``): percentiles of raw alpha over rows
  resampled with replacement, each resample's C computed pairwise

Per item: ``raw_r`` = correlation of the item with the person's mean of answered items
(pairwise), ``std_r = (R1)_i / sqrt(1'R1)``, ``r_cor`` (psych's item-whole correlation
corrected for item overlap and reliability: ``std_r`` with the diagonal of R replaced by the
SMCs), ``r_drop`` (corrected item-total r: the item against the sum of the other items,
from C) and every scale statistic recomputed without the item (``*_if_dropped``).

Missing data: by default pairwise as psych (``use="pairwise"``): each covariance uses the
rows that answered both items, each variance the rows that answered that item; ``n`` counts
rows that answered at least one item (psych counts every row; they agree when no row is
wholly empty). ``listwise=True`` first drops every row with a missing item.

References: Revelle, W. (2022). psych 2.2.9, ``alpha``, ``alpha.ci``. Cronbach, L. J.
(1951). Psychometrika, 16, 297-334. Guttman, L. (1945). Psychometrika, 10, 255-282.
Feldt, L. S., Woodruff, D. J., & Salih, F. A. (1987). Applied Psychological Measurement,
11, 93-103.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from ..errors import PeerscaleError
from .blas import single_threaded, single_threaded_blas
from .data import Summarised, check_items as _check_items, fmt, smc, table_text

DROP_COLUMNS = ["alpha_if_dropped", "alpha_std_if_dropped", "g6_if_dropped", "average_r_if_dropped",
                "s_n_if_dropped", "alpha_se_if_dropped", "var_r_if_dropped", "median_r_if_dropped"]


@dataclass
class BootstrapCI:
    """Percentile bootstrap interval of raw alpha: ``n_boot`` resamples drawn with ``seed``."""

    lower: float
    upper: float
    median: float
    n_boot: int
    seed: int | None
    level: float
    failed: int = 0  # resamples whose alpha was undefined (an item left with < 2 answers)


@dataclass(repr=False)
class AlphaResult(Summarised):
    """Scale-level statistics (attributes) and per-item statistics (``items`` DataFrame,
    one row per item: ``n, raw_r, std_r, r_cor, r_drop, mean, sd`` and the ``*_if_dropped``
    columns; the latter are NaN for two-item scales, where one item would remain)."""

    n: int
    n_items: int
    alpha: float
    alpha_std: float
    g6: float
    average_r: float
    median_r: float
    var_r: float
    s_n: float
    ase: float
    alpha_ci: tuple[float, float]
    level: float
    total_mean: float
    total_sd: float
    items: pd.DataFrame
    missing: str = "pairwise"
    bootstrap: BootstrapCI | None = None

    def to_frame(self) -> pd.DataFrame:
        """Per-item statistics (psych's ``item.stats`` and ``alpha.drop``), one row per item."""
        return self.items.copy()

    def summary(self) -> str:
        """As ``print(psych::alpha(x))``: scale statistics, interval, and reliability if an item is dropped."""
        lo, hi = self.alpha_ci
        head = pd.DataFrame([[self.alpha, self.alpha_std, self.g6, self.average_r, self.s_n, self.ase,
                              self.total_mean, self.total_sd, self.median_r]],
                            columns=["raw_alpha", "std.alpha", "G6(smc)", "average_r", "S/N", "ase", "mean", "sd",
                                     "median_r"], index=[""])
        lines = [f"Reliability analysis ({self.n_items} items, n = {self.n}, {self.missing} missing data)",
                 table_text(head),
                 f"\n    {self.level:.0%} confidence boundaries (Feldt): lower {fmt(lo)}, alpha {fmt(self.alpha)}, "
                 f"upper {fmt(hi)}"]
        if self.bootstrap is not None:
            b = self.bootstrap
            lines.append(f"    bootstrap ({b.n_boot} resamples, seed {b.seed}): lower {fmt(b.lower)}, "
                         f"upper {fmt(b.upper)}")
        drop = self.items[["alpha_if_dropped", "alpha_std_if_dropped", "g6_if_dropped", "average_r_if_dropped",
                           "s_n_if_dropped", "alpha_se_if_dropped"]]
        drop.columns = ["raw_alpha", "std.alpha", "G6(smc)", "average_r", "S/N", "alpha se"]
        stats = self.items[["n", "raw_r", "std_r", "r_cor", "r_drop", "mean", "sd"]]
        stats.columns = ["n", "raw.r", "std.r", "r.cor", "r.drop", "mean", "sd"]
        lines += ["", " Reliability if an item is dropped:", table_text(drop), "", " Item statistics", table_text(stats)]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        out = {"n": self.n, "n_items": self.n_items, "missing": self.missing, "alpha": self.alpha,
               "alpha_std": self.alpha_std, "g6": self.g6, "average_r": self.average_r,
               "median_r": self.median_r, "var_r": self.var_r, "s_n": self.s_n, "ase": self.ase,
               "alpha_ci": list(self.alpha_ci), "alpha_ci_method": "feldt", "level": self.level,
               "total_mean": self.total_mean, "total_sd": self.total_sd}
        if self.bootstrap is not None:
            b = self.bootstrap
            out["bootstrap_ci"] = {"lower": b.lower, "upper": b.upper, "median": b.median,
                                   "n_boot": b.n_boot, "seed": b.seed, "level": b.level, "failed": b.failed}
        out["items"] = {str(i): {k: _num(v) for k, v in row.items()}
                        for i, row in self.items.to_dict(orient="index").items()}
        return out


def _num(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return float(v)
    return v


# ------------------------------------------------------------------------------ matrices

def cov_to_cor(c: np.ndarray) -> np.ndarray:
    d = np.sqrt(np.diag(c))
    r = c / np.outer(d, d)
    np.fill_diagonal(r, 1.0)
    return r


def _pair_products(values: np.ndarray, centre: np.ndarray | None = None) -> np.ndarray:
    """n × 3k² per-row terms whose (weighted) column sums give every pairwise covariance:
    o_i o_j, x_i o_j and x_i x_j, with x centred (at the item means unless ``centre`` is
    given; for numerical stability, covariances do not depend on the centre) and 0 where
    missing."""
    obs = np.isfinite(values)
    if centre is None:
        with np.errstate(invalid="ignore", divide="ignore"):  # an unanswered item has no mean: unused
            centre = np.where(obs, values, 0.0).sum(axis=0) / obs.sum(axis=0)
    centred = values - np.where(np.isfinite(centre), centre, 0.0)
    x0 = np.where(obs, centred, 0.0)
    o = obs.astype(float)
    n, k = values.shape
    return np.concatenate([(o[:, :, None] * o[:, None, :]).reshape(n, k * k),
                           (x0[:, :, None] * o[:, None, :]).reshape(n, k * k),
                           (x0[:, :, None] * x0[:, None, :]).reshape(n, k * k)], axis=1)


def _cov_from_sums(sums: np.ndarray, k: int) -> np.ndarray:
    """B × 3k² weighted sums of :func:`_pair_products` → B × k × k pairwise covariances."""
    n_pair, sx, sxy = (sums[:, j * k * k:(j + 1) * k * k].reshape(-1, k, k) for j in range(3))
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = (sxy - sx * sx.transpose(0, 2, 1) / n_pair) / (n_pair - 1.0)
    cov[n_pair < 2] = np.nan
    return cov


def pairwise_cov(values: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Pairwise-complete covariance matrices (n − 1 denominator).

    Parameters
    ----------
    values : numpy.ndarray
        n × k with NaN for missing.
    weights : numpy.ndarray, optional
        B × n row counts (a bootstrap resample is a vector of counts), giving B × k × k.

    Returns
    -------
    numpy.ndarray
        k × k (or B × k × k): each entry over the rows where both items are answered, with
        those rows' own means, ``(Σ w x_i x_j − Σ w x_i · Σ w x_j / N_ij) / (N_ij − 1)``.

    Examples
    --------
    As ``cov(x, use = "pairwise")`` in R:

    >>> import numpy as np
    >>> from peerscale.psychometrics.reliability import pairwise_cov
    >>> pairwise_cov(np.array([[1.0, 2.0], [2.0, np.nan], [3.0, 5.0]])).round(2).tolist()
    [[1.0, 3.0], [3.0, 4.5]]
    """
    n, k = values.shape
    if weights is None:
        return _cov_from_sums(_pairwise_sums(values), k)[0]
    return _cov_from_sums(np.asarray(weights, float) @ _pair_products(values), k)


def _pairwise_sums(values: np.ndarray) -> np.ndarray:
    """The column sums of :func:`_pair_products` (1 × 3k²) as three k × k matrix products,
    in O(k²) memory instead of O(n k²) (100,000 × 54 items: 7 GB otherwise)."""
    obs = np.isfinite(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = np.where(obs, values, 0.0).sum(axis=0) / obs.sum(axis=0)
    x0 = np.where(obs, values - np.where(np.isfinite(centre), centre, 0.0), 0.0)
    o = obs.astype(float)
    return np.concatenate([(o.T @ o).ravel(), (x0.T @ o).ravel(), (x0.T @ x0).ravel()])[None, :]


def _matrix_alpha(c: np.ndarray, r: np.ndarray) -> dict:
    """psych's ``alpha.1``: the scale statistics of one covariance/correlation pair."""
    k = c.shape[0]
    sum_c, tr_c = c.sum(), np.trace(c)
    sum_r = r.sum()
    lower = r[np.tril_indices(k, -1)]
    av_r = (sum_r - k) / (k * (k - 1))
    q = (2 * k ** 2 / ((k - 1) ** 2 * sum_c ** 3)) * (
        sum_c * (np.trace(c @ c) + tr_c ** 2) - 2 * tr_c * (c @ c).sum())
    with np.errstate(divide="ignore", invalid="ignore"):  # degenerate scales give inf/NaN, as in psych
        return {"alpha": (1 - tr_c / sum_c) * k / (k - 1),
                "alpha_std": (1 - k / sum_r) * k / (k - 1),
                "g6": 1 - (k - smc(r).sum()) / sum_r,
                "average_r": av_r,
                "s_n": k * av_r / (1 - av_r),
                "q": q,
                "var_r": float(np.var(lower, ddof=1)) if lower.size > 1 else np.nan,
                "median_r": float(np.median(lower))}


def feldt_ci(alpha: float, n: int, k: int, level: float = 0.95) -> tuple[float, float]:
    """Feldt et al. (1987) confidence interval for alpha.

    Parameters
    ----------
    alpha : float
        Raw alpha.
    n, k : int
        Number of respondents and of items.
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    (float, float)
        Lower and upper limits: ``1 − (1 − alpha)·F_{1−p/2}`` and ``1 − (1 − alpha)·F_{p/2}``
        with F on (n − 1, (n − 1)(k − 1)) degrees of freedom, p = 1 − level.

    Examples
    --------
    As ``psych::alpha.ci(0.70, n.obs = 300, n.var = 7)``:

    >>> from peerscale.psychometrics import feldt_ci
    >>> [round(x, 3) for x in feldt_ci(0.70, 300, 7)]
    [0.645, 0.749]
    """
    from scipy.special import fdtri  # F quantile; scipy.stats takes a second to import

    p = 1 - level
    df1, df2 = n - 1, (n - 1) * (k - 1)
    return (float(1 - (1 - alpha) * fdtri(df1, df2, 1 - p / 2)), float(1 - (1 - alpha) * fdtri(df1, df2, p / 2)))


def _covariance(x: np.ndarray, cols: list[str]) -> np.ndarray:
    c = pairwise_cov(x)
    if not np.isfinite(c).all():
        i, j = np.argwhere(~np.isfinite(c))[0]
        raise PeerscaleError(f"items {cols[i]!r} and {cols[j]!r} are answered together by fewer than two people",
                             hint="pairwise statistics need overlap; use more data or `listwise=True`")
    return c


# ------------------------------------------------------------------------------ alpha

@single_threaded
def cronbach_alpha(data: pd.DataFrame | np.ndarray, *, listwise: bool = False, n_boot: int = 0,
                   seed: int | None = None, level: float = 0.95,
                   progress: Callable[[int], None] | None = None) -> AlphaResult:
    """Cronbach's alpha and psych's companion statistics for one keyed scale.

    Parameters
    ----------
    data : pandas.DataFrame or numpy.ndarray
        The items of one scale, already keyed (reverse-keyed items as (min + max) − x), one
        column per item, NaN = missing.
    listwise : bool, default False
        Drop rows with any missing item first (default: pairwise, as psych).
    n_boot : int, default 0
        Bootstrap resamples for a percentile interval of raw alpha (psych's ``n.iter``); 0 = none.
    seed : int, optional
        Seed of ``numpy.random.default_rng`` for the resamples (reproducible intervals).
    level : float, default 0.95
        Confidence level of the Feldt and bootstrap intervals.
    progress : callable, optional
        Called with the number of resamples just finished (for a progress bar).

    Returns
    -------
    AlphaResult
        ``alpha``, ``alpha_std``, ``g6``, ``average_r``, ``median_r``, ``s_n``, ``ase``, the
        Feldt interval ``alpha_ci``, the ``bootstrap`` interval and per-item statistics
        (``to_frame()``); printing it shows psych's layout.

    Notes
    -----
    With C the item covariances and R = cov2cor(C): ``alpha = k/(k−1)·(1 − tr C / 1'C1)``,
    ``alpha_std = k/(k−1)·(1 − k / 1'R1)``, ``G6 = 1 − (k − Σ smc) / 1'R1``; Feldt interval
    ``1 − (1 − alpha)·F`` with F quantiles on (n − 1, (n − 1)(k − 1)) degrees of freedom. See the
    module docstring for the item statistics.

    References
    ----------
    Cronbach, L. J. (1951). Psychometrika, 16, 297-334. Feldt, L. S., Woodruff, D. J., &
    Salih, F. A. (1987). Applied Psychological Measurement, 11, 93-103. Revelle, W. (2022).
    psych 2.2.9, ``alpha``.

    Examples
    --------
    As ``psych::alpha(bfi[, c("A1", "A2", "A3", "A4", "A5")], keys = "A1")``:

    >>> import pandas as pd, peerscale
    >>> from peerscale.psychometrics import cronbach_alpha
    >>> keys = peerscale.adhoc_instrument(["A=-A1,A2,A3,A4,A5"], value_range=(1, 6))
    >>> agree = peerscale.keyed_items(pd.read_csv("bfi.csv"), keys, "A")  # doctest: +SKIP
    >>> round(cronbach_alpha(agree).alpha, 3)  # doctest: +SKIP
    0.703
    """
    if not 0 < level < 1:
        raise PeerscaleError(f"`level` (the confidence level) must lie between 0 and 1, got {level}")
    if n_boot < 0:
        raise PeerscaleError(f"`n_boot` (bootstrap resamples) must be 0 or more, got {n_boot}")
    x, cols = _check_items(data)
    if listwise:
        x = x[np.isfinite(x).all(axis=1)]
        if x.shape[0] < 3:
            raise PeerscaleError(f"only {x.shape[0]} row(s) answered every item; listwise analysis needs at least 3",
                                 hint="use the pairwise default")
        x, cols = _check_items(pd.DataFrame(x, columns=cols))
    else:
        x = x[np.isfinite(x).any(axis=1)]
    from .moments import ItemMoments

    res = alpha_from_moments(ItemMoments.from_array(x, cols, total=True), level=level, listwise=listwise)
    if n_boot:
        res.bootstrap = _bootstrap(x, n_boot, seed, level, progress)
    return res


def check_moments(m, listwise: bool = False) -> None:
    """The checks of :func:`~peerscale.psychometrics.data.check_items` on merged statistics:
    at least two items, each answered at least twice and not constant (and, listwise, at least
    three complete rows)."""
    if m.k < 2:
        raise PeerscaleError(f"reliability needs at least two items, got {m.k}",
                             hint="a one-item scale has no internal consistency")
    if listwise and m.n_any < 3:
        raise PeerscaleError(f"only {m.n_any} row(s) answered every item; listwise analysis needs at least 3",
                             hint="use the pairwise default")
    n = m.counts_answered()
    flat = m.no_variance()
    for j, c in enumerate(m.columns):
        if n[j] < 2:
            raise PeerscaleError("item has fewer than two answers", column=c,
                                 hint="drop the item or check the column mapping")
        if flat[j]:
            raise PeerscaleError(f"item {c!r} has no variance (everyone gave the same answer)", column=c,
                                 hint="leave it out of the reliability analysis (an ad-hoc scale without it)")


@single_threaded
def alpha_from_moments(m, *, level: float = 0.95, listwise: bool | None = None) -> AlphaResult:
    """:func:`cronbach_alpha` from merged :class:`~peerscale.psychometrics.moments.ItemMoments`
    (with the total column), e.g. of a file read in chunks: the same numbers as in memory.

    Parameters
    ----------
    m : ItemMoments
        Statistics of the keyed items (``total=True``); listwise ones if ``m.listwise``.
    level : float, default 0.95
        Confidence level of the Feldt interval.

    Returns
    -------
    AlphaResult
        As :func:`cronbach_alpha` without a bootstrap interval (that needs the rows).

    Examples
    --------
    >>> import numpy as np
    >>> from peerscale.psychometrics.moments import ItemMoments
    >>> from peerscale.psychometrics.reliability import alpha_from_moments, cronbach_alpha
    >>> x = np.random.default_rng(1).integers(1, 6, size=(200, 4)).astype(float)
    >>> parts = [ItemMoments.from_array(x[i:i + 50], total=True) for i in range(0, 200, 50)]
    >>> merged = parts[0].merge(parts[1]).merge(parts[2].merge(parts[3]))
    >>> bool(abs(alpha_from_moments(merged).alpha - cronbach_alpha(x).alpha) < 1e-12)
    True
    """
    if not 0 < level < 1:
        raise PeerscaleError(f"`level` (the confidence level) must lie between 0 and 1, got {level}")
    listwise = m.listwise if listwise is None else listwise
    check_moments(m, listwise)
    cols = list(m.columns)
    n, k = m.n_any, m.k
    c = m.covariance()
    if not np.isfinite(c).all():
        i, j = np.argwhere(~np.isfinite(c))[0]
        raise PeerscaleError(f"items {cols[i]!r} and {cols[j]!r} are answered together by fewer than two people",
                             hint="pairwise statistics need overlap; use more data or `listwise=True`")
    r = cov_to_cor(c)
    s = _matrix_alpha(c, r)
    raw_r = m.total_correlations()
    r_drop = np.empty(k)
    drop = np.full((k, len(DROP_COLUMNS)), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):  # negative sums (badly keyed scales) give NaN
        std_r = r.sum(axis=0) / np.sqrt(r.sum())
        rc = r.copy()
        np.fill_diagonal(rc, smc(r))
        r_cor = rc.sum(axis=0) / np.sqrt(rc.sum())
        for i in range(k):
            keep = np.arange(k) != i
            c_rest = c[np.ix_(keep, keep)]
            r_drop[i] = (c[:, i].sum() - c[i, i]) / np.sqrt(c[i, i] * c_rest.sum())
            if k > 2:
                d = _matrix_alpha(c_rest, r[np.ix_(keep, keep)])
                drop[i] = [d["alpha"], d["alpha_std"], d["g6"], d["average_r"], d["s_n"],
                           np.sqrt(d["q"] / n), d["var_r"], d["median_r"]]
        ase = float(np.sqrt(s["q"] / n))
    items = pd.DataFrame({"n": m.counts_answered(), "raw_r": raw_r, "std_r": std_r, "r_cor": r_cor,
                          "r_drop": r_drop, "mean": m.means(), "sd": m.sds()}, index=cols)
    items[DROP_COLUMNS] = drop
    total_mean, total_sd = m.total_mean_sd()
    return AlphaResult(n=n, n_items=k, alpha=s["alpha"], alpha_std=s["alpha_std"], g6=s["g6"],
                       average_r=s["average_r"], median_r=s["median_r"], var_r=s["var_r"], s_n=s["s_n"],
                       ase=ase, alpha_ci=feldt_ci(s["alpha"], n, k, level), level=level,
                       total_mean=total_mean, total_sd=total_sd, items=items,
                       missing="listwise" if listwise else "pairwise", bootstrap=None)


def bootstrap_alphas(x: np.ndarray, n_boot: int, seed: int | None = None, chunk: int = 200,
                     progress: Callable[[int], None] | None = None, max_bytes: float = 2 ** 28) -> np.ndarray:
    """Raw alpha of ``n_boot`` row resamples (with replacement) of keyed item data ``x``.

    Parameters
    ----------
    x : numpy.ndarray
        n × k keyed items, NaN = missing.
    n_boot : int
        Number of resamples.
    seed : int, optional
        Seed of ``numpy.random.default_rng`` (row indices are drawn from it).
    chunk : int, default 200
        Resamples computed together as one matrix product.
    progress : callable, optional
        Called with the number of resamples finished.
    max_bytes : float
        Memory for the per-row terms kept whole; beyond it they are rebuilt in blocks.

    Returns
    -------
    numpy.ndarray
        The ``n_boot`` alphas (NaN where a resample left an item with fewer than two answers).

    Examples
    --------
    The resamples of ``psych::alpha(x, n.iter = 1000)`` (not R's random stream):

    >>> import numpy as np
    >>> from peerscale.psychometrics.reliability import bootstrap_alphas
    >>> x = np.random.default_rng(1).integers(1, 6, size=(50, 4)).astype(float)
    >>> bootstrap_alphas(x, 10, seed=1).shape
    (10,)
    """
    rng = np.random.default_rng(seed)
    n, k = x.shape
    # n × 3k² per-row terms: each resample's covariances are one product with its counts.
    # Kept whole up to max_bytes; beyond that they are rebuilt in row blocks for every chunk.
    block = max(1, int(max_bytes // (3 * k * k * 8)))
    products = _pair_products(x) if block >= n else None
    out = np.empty(n_boot)
    done = 0
    with single_threaded_blas():  # the products are small; BLAS threads cost more than they save
        while done < n_boot:
            b = min(chunk, n_boot - done)
            rows = rng.integers(0, n, size=(b, n))  # like R's sample.int(n, replace = TRUE)
            counts = np.bincount((rows + n * np.arange(b)[:, None]).ravel(), minlength=b * n).reshape(b, n)
            counts = counts.astype(float)
            if products is not None:
                sums = counts @ products
            else:
                with np.errstate(invalid="ignore", divide="ignore"):
                    centre = np.where(np.isfinite(x), x, 0.0).sum(axis=0) / np.isfinite(x).sum(axis=0)
                sums = sum(counts[:, i:i + block] @ _pair_products(x[i:i + block], centre)
                           for i in range(0, n, block))
            cov = _cov_from_sums(sums, k)
            tr = np.trace(cov, axis1=1, axis2=2)
            out[done:done + b] = (1 - tr / cov.sum(axis=(1, 2))) * k / (k - 1)
            done += b
            if progress is not None:
                progress(b)
    return out


def _bootstrap(x, n_boot, seed, level, progress) -> BootstrapCI:
    alphas = bootstrap_alphas(x, n_boot, seed, progress=progress)
    ok = np.isfinite(alphas)
    if ok.sum() < 2:
        raise PeerscaleError("the bootstrap failed: too few resamples gave a defined alpha",
                             hint="the scale has too little data for a bootstrap interval")
    p = (1 - level) / 2
    lo, med, hi = np.quantile(alphas[ok], [p, 0.5, 1 - p])  # R's default type 7
    return BootstrapCI(float(lo), float(hi), float(med), n_boot, seed, level, int((~ok).sum()))


# ------------------------------------------------------------------------------ matrix input

@dataclass(repr=False)
class MatrixAlpha(Summarised):
    """Alpha statistics of a correlation matrix (e.g. polychoric: ordinal alpha).

    On a correlation matrix raw and standardized alpha coincide; ``items`` holds
    ``std_r, r_cor, r_drop`` and the ``*_if_dropped`` columns (``alpha_se_if_dropped``
    needs ``n_obs``).
    """

    n_items: int
    alpha: float
    g6: float
    average_r: float
    median_r: float
    s_n: float
    items: pd.DataFrame
    n_obs: int | None = None

    def to_frame(self) -> pd.DataFrame:
        """Per-item statistics of the matrix, one row per item."""
        return self.items.copy()

    def summary(self) -> str:
        """As ``print(psych::alpha(R))`` on a correlation matrix."""
        return (f"Reliability analysis of a correlation matrix ({self.n_items} items)\n"
                f" std.alpha {fmt(self.alpha)}  G6(smc) {fmt(self.g6)}  average_r {fmt(self.average_r)}  "
                f"S/N {fmt(self.s_n)}  median_r {fmt(self.median_r)}\n\n"
                + table_text(self.items[["std_r", "r_cor", "r_drop", "alpha_if_dropped"]]))

    def to_dict(self) -> dict:
        return {"n_items": self.n_items, "alpha": self.alpha, "g6": self.g6, "average_r": self.average_r,
                "median_r": self.median_r, "s_n": self.s_n, "n_obs": self.n_obs,
                "items": {str(i): {k: _num(v) for k, v in row.items()}
                          for i, row in self.items.to_dict(orient="index").items()}}


@single_threaded
def alpha_from_correlation(r: np.ndarray, columns: list | None = None, n_obs: int | None = None) -> MatrixAlpha:
    """Standardized alpha, G6, average r and item statistics of a correlation matrix.

    Parameters
    ----------
    r : array-like
        A correlation matrix (unit diagonal, symmetric), e.g. polychoric.
    columns : list, optional
        Item names (default V1, V2, ...).
    n_obs : int, optional
        Number of observations, for the standard errors of alpha if an item is dropped.

    Returns
    -------
    MatrixAlpha

    Notes
    -----
    On a correlation matrix raw and standardized alpha coincide: ``k/(k−1)·(1 − k / 1'R1)``.
    Ordinal alpha (Zumbo, Gadermann & Zeisser 2007) is this applied to the polychoric matrix.

    Examples
    --------
    As ``psych::alpha(R)`` on a matrix:

    >>> import numpy as np
    >>> from peerscale.psychometrics import alpha_from_correlation
    >>> r = np.array([[1, .5, .4], [.5, 1, .3], [.4, .3, 1]])
    >>> round(float(alpha_from_correlation(r).alpha), 4)
    0.6667
    """
    r = np.asarray(r, float)
    k = r.shape[0]
    if r.ndim != 2 or r.shape[1] != k or k < 2:
        raise PeerscaleError("expected a square correlation matrix of at least two items")
    if not np.allclose(np.diag(r), 1.0) or not np.allclose(r, r.T):
        raise PeerscaleError("not a correlation matrix (needs unit diagonal and symmetry)")
    cols = [str(c) for c in columns] if columns is not None else [f"V{j + 1}" for j in range(k)]
    s = _matrix_alpha(r, r)
    rc = r.copy()
    np.fill_diagonal(rc, smc(r))
    items = pd.DataFrame({"std_r": r.sum(axis=0) / np.sqrt(r.sum()), "r_cor": rc.sum(axis=0) / np.sqrt(rc.sum())},
                         index=cols)
    r_drop = np.empty(k)
    drop = np.full((k, len(DROP_COLUMNS)), np.nan)
    for i in range(k):
        keep = np.arange(k) != i
        rest = r[np.ix_(keep, keep)]
        r_drop[i] = (r[:, i].sum() - 1.0) / np.sqrt(rest.sum())
        if k > 2:
            d = _matrix_alpha(rest, rest)
            drop[i] = [d["alpha"], d["alpha_std"], d["g6"], d["average_r"], d["s_n"],
                       np.sqrt(d["q"] / n_obs) if n_obs else np.nan, d["var_r"], d["median_r"]]
    items["r_drop"] = r_drop
    items[DROP_COLUMNS] = drop
    return MatrixAlpha(k, s["alpha_std"], s["g6"], s["average_r"], s["median_r"], s["s_n"], items, n_obs)


def ordinal_alpha(data: pd.DataFrame | np.ndarray, *, correct: float = 0.5) -> tuple[MatrixAlpha, object]:
    """Ordinal alpha: :func:`alpha_from_correlation` of the polychoric matrix of keyed items.

    Parameters
    ----------
    data : pandas.DataFrame or numpy.ndarray
        Keyed ordinal item responses (NaN = missing).
    correct : float, default 0.5
        psych's continuity correction for empty cells (uneven categories only).

    Returns
    -------
    (MatrixAlpha, PolychoricResult)

    Examples
    --------
    As ``psych::alpha(psych::polychoric(x)$rho)`` (Zumbo, Gadermann & Zeisser 2007):

    >>> from peerscale.psychometrics import ordinal_alpha
    >>> oa, poly = ordinal_alpha(agree)  # doctest: +SKIP
    """
    from .polychoric import polychoric_matrix

    poly = polychoric_matrix(data, correct=correct)
    return alpha_from_correlation(poly.rho, poly.columns, poly.n_obs), poly
