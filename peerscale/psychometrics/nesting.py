"""Clustering of scores within workers: ICC(1) from a random-intercept model (REML, as
``lme4::lmer(score ~ 1 + (1 | worker))``) and from one-way ANOVA, the design effect and the
effective sample size.

Young people who share a peer support worker are not independent: part of the variance of a
scale score lies between workers. ICC(1) is that share,

    ICC(1) = tau^2 / (tau^2 + sigma^2)

with tau^2 the variance of the worker intercepts and sigma^2 the residual (within-worker)
variance. The design effect (Kish 1965) ``deff = 1 + (m - 1) * ICC(1)`` with ``m`` the mean
cluster size says by how much the variance of a mean is inflated compared with a simple
random sample; the effective sample size is ``n / deff``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import PeerscaleError
from .data import Summarised, finite_or_none


@dataclass(repr=False)
class NestingResult(Summarised):
    """ICC(1) of one score within clusters.

    ``icc1`` (REML), ``icc1_anova``, ``tau2`` and ``sigma2`` (REML variance components),
    ``intercept`` (the REML estimate of the mean), ``design_effect``, ``effective_n``,
    ``n`` (scores used), ``n_clusters``, ``mean_cluster_size``, ``n_singletons`` (clusters of
    one), ``reml_criterion`` (lme4's ``REMLcrit``), ``singular`` (tau^2 at its bound 0) and
    ``reason`` (why the ICC is NaN, when it is), with ``notes``.
    """

    n: int
    n_clusters: int
    mean_cluster_size: float
    n_singletons: int
    icc1: float = math.nan
    icc1_anova: float = math.nan
    tau2: float = math.nan
    sigma2: float = math.nan
    intercept: float = math.nan
    reml_criterion: float = math.nan
    msb: float = math.nan
    msw: float = math.nan
    n0: float = math.nan
    singular: bool = False
    reason: str | None = None
    notes: list = field(default_factory=list)

    @property
    def design_effect(self) -> float:
        """1 + (mean cluster size − 1) · ICC(1) (Kish 1965), with the REML ICC(1)."""
        if not math.isfinite(self.icc1):
            return math.nan
        return 1 + (self.mean_cluster_size - 1) * self.icc1

    @property
    def effective_n(self) -> float:
        """n / design effect: the size of a simple random sample with the same precision."""
        d = self.design_effect
        return self.n / d if math.isfinite(d) and d > 0 else math.nan

    def to_dict(self) -> dict:
        num = finite_or_none
        return {"n": self.n, "n_clusters": self.n_clusters, "mean_cluster_size": num(self.mean_cluster_size),
                "n_singletons": self.n_singletons, "icc1": num(self.icc1), "icc1_anova": num(self.icc1_anova),
                "tau2": num(self.tau2), "sigma2": num(self.sigma2), "intercept": num(self.intercept),
                "design_effect": num(self.design_effect), "effective_n": num(self.effective_n),
                "singular": bool(self.singular), "reason": self.reason, "notes": list(self.notes)}

    def to_frame(self) -> pd.DataFrame:
        """One row: the dictionary of :meth:`to_dict` without the notes."""
        d = self.to_dict()
        d.pop("notes")
        return pd.DataFrame([d])

    def summary(self) -> str:
        """As ``summary(lmer(...))``'s random effects plus the ICCs and the design effect."""
        if self.reason:
            return f"ICC(1): not estimated ({self.reason}); n = {self.n}, clusters = {self.n_clusters}"
        return (f"Random intercept (REML): tau^2 = {self.tau2:.4f}, sigma^2 = {self.sigma2:.4f}, "
                f"intercept = {self.intercept:.4f}\n"
                f"ICC(1) = {self.icc1:.3f} (REML), {self.icc1_anova:.3f} (one-way ANOVA); n = {self.n} in "
                f"{self.n_clusters} clusters (mean size {self.mean_cluster_size:.2f}); design effect "
                f"{self.design_effect:.2f}, effective n {self.effective_n:.0f}")


def _cluster_sums(y: np.ndarray, codes: np.ndarray, k: int):
    n_j = np.bincount(codes, minlength=k).astype(float)
    s_j = np.bincount(codes, weights=y, minlength=k)
    ybar = s_j / n_j
    ssw = float(((y - ybar[codes]) ** 2).sum())
    return n_j, ybar, ssw


def reml_criterion(lam, n_j, ybar, ssw):
    """lme4's REML criterion (−2 × restricted log-likelihood) of ``y ~ 1 + (1 | g)`` profiled
    over the residual variance, at the variance ratio ``lam`` = tau^2 / sigma^2.

    Returns ``(criterion, intercept, sigma2)``. With ``w_j = 1 / (1 + n_j lam)``:
    intercept = sum(n_j w_j ybar_j) / S, S = sum(n_j w_j), Q = SSW + sum(n_j w_j (ybar_j − mu)^2),
    sigma^2 = Q / (N − 1) and criterion = sum log(1 + n_j lam) + log S + (N − 1)(1 + log(2 pi sigma^2)).
    """
    n = float(n_j.sum())
    w = 1.0 / (1.0 + n_j * lam)
    s = float((n_j * w).sum())
    mu = float((n_j * w * ybar).sum() / s)
    q = ssw + float((n_j * w * (ybar - mu) ** 2).sum())
    sigma2 = q / (n - 1)
    crit = float(np.log1p(n_j * lam).sum()) + math.log(s) + (n - 1) * (1 + math.log(2 * math.pi * sigma2))
    return crit, mu, sigma2


def _reml_fit(n_j, ybar, ssw):
    """The variance ratio lam >= 0 minimising the REML criterion: a grid over ICC = lam/(1+lam)
    in [0, 1), then Brent's method (scipy) around the best grid point, and the bound 0."""
    from scipy.optimize import minimize_scalar

    def f(rho):
        return reml_criterion(rho / (1 - rho), n_j, ybar, ssw)[0]

    grid = np.concatenate([[0.0], np.linspace(0.0025, 0.9975, 400)])
    values = np.array([f(r) for r in grid])
    i = int(np.argmin(values))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    if i == len(grid) - 1:
        hi = 1 - 1e-12
    best_rho, best = grid[i], values[i]
    if hi > lo:
        res = minimize_scalar(f, bounds=(lo, hi), method="bounded", options={"xatol": 1e-13, "maxiter": 500})
        if res.fun <= best:
            best_rho, best = float(res.x), float(res.fun)
    return best_rho / (1 - best_rho)


def nesting_icc(scores, clusters) -> NestingResult:
    """ICC(1) of a score within clusters (e.g. young people within workers), by REML and ANOVA.

    Parameters
    ----------
    scores : array-like of float
        One score per person (NaN = no score: left out and counted in ``notes``).
    clusters : array-like
        The cluster (worker) of each person (missing = left out and counted).

    Returns
    -------
    NestingResult
        ``icc1`` (REML), ``icc1_anova``, variance components, ``design_effect``,
        ``effective_n``, ``n_clusters``, ``mean_cluster_size``. When the ICC cannot be
        estimated (fewer than two clusters, every cluster of one person, a score without
        variance) the ICCs are NaN and ``reason`` says why.

    Notes
    -----
    REML: the random-intercept model ``y_ij = mu + u_j + e_ij``, ``u_j ~ N(0, tau^2)``,
    ``e_ij ~ N(0, sigma^2)``, fitted by maximising the restricted likelihood profiled over
    sigma^2 (see :func:`reml_criterion`) over the variance ratio, with tau^2 >= 0 as lme4 does
    (a fit at tau^2 = 0 is ``singular``). Clusters may differ in size; clusters of one person
    stay in the model (they inform the mean and the total variance, not the within-cluster
    variance). ICC(1) = tau^2 / (tau^2 + sigma^2).

    ANOVA: ICC(1) = (MSB − MSW) / (MSB + (n0 − 1) MSW) with n0 = (N − sum n_j^2 / N) / (J − 1)
    for unequal cluster sizes (Snedecor & Cochran 1989; Donner 1986); it can be negative.

    Design effect 1 + (m − 1) ICC(1), m = N / J the mean cluster size (Kish 1965), with the
    REML ICC(1); effective n = N / design effect.

    References
    ----------
    Bates, D., Mächler, M., Bolker, B., & Walker, S. (2015). Fitting linear mixed-effects models
    using lme4. Journal of Statistical Software, 67(1). Donner, A. (1986). A review of inference
    procedures for the intraclass correlation coefficient in the one-way random effects model.
    International Statistical Review, 54, 67-82. Kish, L. (1965). Survey sampling. Wiley.

    Examples
    --------
    As ``lme4::lmer(score ~ 1 + (1 | worker), REML = TRUE)``, ICC(1) = tau^2 / (tau^2 + sigma^2):

    >>> from peerscale.psychometrics.nesting import nesting_icc
    >>> res = nesting_icc([3.1, 3.4, 2.9, 4.2, 4.0, 4.4, 3.0, 3.6, 3.2],
    ...                   ["a", "a", "a", "b", "b", "b", "c", "c", "c"])
    >>> round(res.icc1, 3), res.n_clusters
    (0.828, 3)
    """
    y = pd.to_numeric(pd.Series(np.asarray(scores, dtype=object)), errors="coerce").to_numpy(float)
    g = pd.Series(np.asarray(clusters, dtype=object)).astype("string").str.strip()
    g = g.mask(g == "")
    if len(y) != len(g):
        raise PeerscaleError(f"`scores` ({len(y)}) and `clusters` ({len(g)}) differ in length")
    no_cluster = g.isna().to_numpy()
    no_score = ~np.isfinite(y)
    notes = []
    if no_cluster.any():
        notes.append(f"{int(no_cluster.sum())} row(s) without a cluster id left out")
    if (no_score & ~no_cluster).any():
        notes.append(f"{int((no_score & ~no_cluster).sum())} row(s) without a score left out")
    keep = ~no_cluster & ~no_score
    y = y[keep]
    codes, labels = pd.factorize(g[keep].to_numpy())
    k = len(labels)
    if k == 0:
        return _fit(np.zeros(0), np.zeros(0), 0.0, constant=True, notes=notes)
    n_j, ybar, ssw = _cluster_sums(y, codes, k)
    return _fit(n_j, ybar, ssw, constant=bool(np.ptp(y) == 0), notes=notes)


def nesting_from_cluster_stats(counts, means, within_ss, *, notes=None) -> NestingResult:
    """:func:`nesting_icc` from per-cluster summaries, for data read in chunks or merged from
    parts: each cluster's number of scores, their mean and their sum of squared deviations from
    that mean (mergeable exactly: Chan, Golub & LeVeque 1979). The REML and ANOVA estimates
    depend on the data only through these, so the result equals :func:`nesting_icc` on the rows.

    >>> from peerscale.psychometrics.nesting import nesting_from_cluster_stats
    >>> res = nesting_from_cluster_stats([3, 3, 3], [3.1333, 4.2, 3.2667], [0.1267, 0.08, 0.1867])
    >>> round(res.icc1, 2)
    0.83
    """
    n_j = np.asarray(counts, dtype=float)
    ybar = np.asarray(means, dtype=float)
    m2 = np.asarray(within_ss, dtype=float)
    if not (n_j.shape == ybar.shape == m2.shape) or n_j.ndim != 1:
        raise PeerscaleError("`counts`, `means` and `within_ss` need one value per cluster each")
    if (n_j < 0).any() or (m2 < 0).any() or not np.isfinite(ybar[n_j > 0]).all():
        raise PeerscaleError("cluster counts and sums of squares must be 0 or more, and means finite")
    keep = n_j > 0
    n_j, ybar, m2 = n_j[keep], ybar[keep], m2[keep]
    constant = bool(m2.sum() == 0 and (ybar.size == 0 or np.ptp(ybar) == 0))
    return _fit(n_j, ybar, float(m2.sum()), constant=constant, notes=list(notes or []))


def _fit(n_j, ybar, ssw, *, constant: bool, notes: list) -> NestingResult:
    """REML and ANOVA ICC(1) from cluster sizes, cluster means and the pooled within-cluster
    sum of squares (see :func:`nesting_icc`)."""
    k = len(n_j)
    n = int(n_j.sum())
    singletons = int((n_j == 1).sum())
    res = NestingResult(n=n, n_clusters=k, mean_cluster_size=(n / k) if k else math.nan, n_singletons=singletons,
                        notes=notes)
    if singletons and singletons < k:
        notes.append(f"{singletons} cluster(s) with one person kept: they inform the mean and total variance, "
                     "not the within-cluster variance")
    if k < 2:
        res.reason = f"{k} cluster(s) with a score: an ICC needs at least two"
        return res
    if singletons == k:
        res.reason = "every cluster has one person: within- and between-cluster variance cannot be told apart"
        return res
    if constant:
        res.reason = "every score is the same (no variance)"
        return res
    grand = float((n_j * ybar).sum() / n)
    ssb = float((n_j * (ybar - grand) ** 2).sum())
    res.msb, res.msw = ssb / (k - 1), ssw / (n - k)
    res.n0 = (n - float((n_j ** 2).sum()) / n) / (k - 1)
    denom = res.msb + (res.n0 - 1) * res.msw
    res.icc1_anova = (res.msb - res.msw) / denom if denom > 0 else math.nan
    if ssw == 0:  # every cluster constant inside: all variance between clusters
        res.tau2, res.sigma2, res.icc1 = float(np.var(ybar, ddof=1)), 0.0, 1.0
        res.intercept = float(ybar.mean())
        notes.append("no variance within clusters: ICC(1) = 1")
        return res
    lam = _reml_fit(n_j, ybar, ssw)
    crit, mu, sigma2 = reml_criterion(lam, n_j, ybar, ssw)
    res.reml_criterion, res.intercept, res.sigma2 = crit, mu, sigma2
    res.tau2 = lam * sigma2
    res.icc1 = lam / (1 + lam)
    res.singular = lam < 1e-8
    if res.singular:
        res.tau2, res.icc1 = 0.0, 0.0
        notes.append("the worker variance is estimated at its bound 0 (a singular fit, as lme4 reports it)")
    return res
