"""Agreement of two raters on the same targets: the young person and the worker rating the same
relationship (a dyad). ICC(A,1) and ICC(C,1) as ``psych::ICC``, Pearson's r, the mean difference
with its confidence interval and Bland–Altman limits of agreement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import PeerscaleError
from .data import Summarised, finite_or_none


@dataclass(repr=False)
class AgreementResult(Summarised):
    """Agreement of rater ``b`` with rater ``a`` (differences are b − a).

    ``n_pairs``; ``icc_a1`` and ``icc_c1`` (two-way ANOVA, ``psych::ICC(x, lmer = FALSE)``) with
    ``icc_a1_ci``, ``icc_c1_ci``; ``icc_a1_reml`` and ``icc_c1_reml`` (``psych::ICC(x)``'s
    default ``lmer = TRUE``: the same unless a variance component is negative, which REML sets
    to 0); ``r`` (Pearson); ``mean_diff`` with ``mean_diff_ci`` (paired t interval);
    ``sd_diff``; ``loa`` (Bland–Altman limits, mean ± 1.96 SD); ``reason`` when nothing could be
    estimated.
    """

    n_pairs: int
    icc_a1: float = math.nan
    icc_c1: float = math.nan
    icc_a1_ci: tuple = (math.nan, math.nan)
    icc_c1_ci: tuple = (math.nan, math.nan)
    icc_a1_reml: float = math.nan
    icc_c1_reml: float = math.nan
    r: float = math.nan
    mean_a: float = math.nan
    mean_b: float = math.nan
    mean_diff: float = math.nan
    mean_diff_ci: tuple = (math.nan, math.nan)
    sd_diff: float = math.nan
    loa: tuple = (math.nan, math.nan)
    level: float = 0.95
    reason: str | None = None
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        num = finite_or_none
        return {"n_pairs": self.n_pairs, "icc_a1": num(self.icc_a1), "icc_c1": num(self.icc_c1),
                "icc_a1_ci": [num(v) for v in self.icc_a1_ci], "icc_c1_ci": [num(v) for v in self.icc_c1_ci],
                "icc_a1_reml": num(self.icc_a1_reml), "icc_c1_reml": num(self.icc_c1_reml), "r": num(self.r),
                "mean_a": num(self.mean_a), "mean_b": num(self.mean_b), "mean_diff": num(self.mean_diff),
                "mean_diff_ci": [num(v) for v in self.mean_diff_ci], "sd_diff": num(self.sd_diff),
                "loa": [num(v) for v in self.loa], "level": self.level, "reason": self.reason,
                "notes": list(self.notes)}

    def to_frame(self) -> pd.DataFrame:
        """One row with the numbers of :meth:`to_dict`."""
        d = self.to_dict()
        d.pop("notes")
        return pd.DataFrame([d])

    def summary(self) -> str:
        if self.reason:
            return f"Agreement: not estimated ({self.reason}); {self.n_pairs} pairs"
        return (f"Agreement of {self.n_pairs} pairs: ICC(A,1) = {self.icc_a1:.3f}, ICC(C,1) = {self.icc_c1:.3f}, "
                f"r = {self.r:.3f}; mean difference {self.mean_diff:+.3f} "
                f"({self.mean_diff_ci[0]:.3f} to {self.mean_diff_ci[1]:.3f}); limits of agreement "
                f"{self.loa[0]:.3f} to {self.loa[1]:.3f}")


def agreement(a, b, *, level: float = 0.95) -> AgreementResult:
    """Agreement of two ratings of the same targets (pairs with both ratings are used).

    Parameters
    ----------
    a, b : array-like of float
        The two raters' scores, one pair per target (e.g. young person ``a``, worker ``b``).
        Pairs with a missing score are left out and counted in ``notes``.
    level : float, default 0.95
        Confidence level of the ICC and mean-difference intervals.

    Returns
    -------
    AgreementResult

    Notes
    -----
    With n targets, k = 2 raters and the two-way ANOVA mean squares MSB (targets), MSJ
    (raters) and MSE (residual) (Shrout & Fleiss 1979; McGraw & Wong 1996):

    ICC(A,1) = (MSB − MSE) / (MSB + (k − 1) MSE + k (MSJ − MSE) / n)
    ICC(C,1) = (MSB − MSE) / (MSB + (k − 1) MSE)

    with ``psych::ICC``'s confidence limits. ``psych::ICC``'s default (``lmer = TRUE``) takes
    the mean squares from REML variance components, which for complete two-rater data equal the
    ANOVA ones unless one is negative; then REML sets it to 0 and pools its sum of squares into
    the residual (``icc_a1_reml``, ``icc_c1_reml``). Mean difference d = mean(b − a) with the
    paired t interval; Bland–Altman limits of agreement d ± 1.96 SD(b − a) (Bland & Altman 1986).

    References
    ----------
    McGraw, K. O., & Wong, S. P. (1996). Forming inferences about some intraclass correlation
    coefficients. Psychological Methods, 1, 30-46. Bland, J. M., & Altman, D. G. (1986).
    Statistical methods for assessing agreement between two methods of clinical measurement.
    The Lancet, 327, 307-310.

    Examples
    --------
    As ``psych::ICC(cbind(y, p), lmer = FALSE)`` (types ICC2 and ICC3) and ``t.test(p, y, paired = TRUE)``:

    >>> from peerscale.psychometrics.agreement import agreement
    >>> res = agreement([3.0, 3.5, 4.0, 2.5, 3.8], [3.4, 3.9, 4.1, 3.2, 4.0])
    >>> round(res.icc_a1, 3), round(res.mean_diff, 2)
    (0.735, 0.36)
    """
    from scipy import stats

    from .icc import _confidence_limits

    if not 0 < level < 1:
        raise PeerscaleError(f"`level` (the confidence level) must lie between 0 and 1, got {level}")
    x = np.column_stack([pd.to_numeric(pd.Series(np.asarray(a, dtype=object)), errors="coerce").to_numpy(float),
                         pd.to_numeric(pd.Series(np.asarray(b, dtype=object)), errors="coerce").to_numpy(float)])
    both = np.isfinite(x).all(axis=1)
    notes = []
    if (~both).any():
        notes.append(f"{int((~both).sum())} pair(s) with a missing score left out")
    x = x[both]
    n, k = x.shape
    res = AgreementResult(n_pairs=n, level=level, notes=notes)
    if n < 3:
        res.reason = f"{n} pair(s) with both scores: agreement needs at least 3"
        return res
    res.mean_a, res.mean_b = float(x[:, 0].mean()), float(x[:, 1].mean())
    d = x[:, 1] - x[:, 0]
    res.mean_diff = float(d.mean())
    res.sd_diff = float(d.std(ddof=1))
    half = stats.t.ppf(0.5 + level / 2, n - 1) * res.sd_diff / math.sqrt(n)
    res.mean_diff_ci = (res.mean_diff - half, res.mean_diff + half)
    res.loa = (res.mean_diff - 1.96 * res.sd_diff, res.mean_diff + 1.96 * res.sd_diff)
    if np.ptp(x[:, 0]) == 0 or np.ptp(x[:, 1]) == 0:
        res.reason = "one rater's scores are all the same: correlations and ICCs are undefined"
        return res
    res.r = float(np.corrcoef(x[:, 0], x[:, 1])[0, 1])
    grand = x.mean()
    ssb = k * float(((x.mean(axis=1) - grand) ** 2).sum())
    ssj = n * float(((x.mean(axis=0) - grand) ** 2).sum())
    total = float(((x - grand) ** 2).sum())
    sse = total - ssb - ssj
    if sse <= 1e-12 * total:  # rounding noise: the two ratings differ by a constant (or not at all)
        sse = 0.0
        notes.append("the two ratings differ by a constant (no residual variance): ICC(C,1) = 1, and ICC(A,1) "
                     "is lowered only by the mean difference; intervals as psych::ICC's limit")
    dfb, dfj, dfe = n - 1, k - 1, (n - 1) * (k - 1)
    msb, msj, mse = ssb / dfb, ssj / dfj, sse / dfe
    res.icc_a1 = (msb - mse) / (msb + (k - 1) * mse + k * (msj - mse) / n)
    res.icc_c1 = (msb - mse) / (msb + (k - 1) * mse)
    msw = (ssj + sse) / (n * (k - 1))
    # with no residual variance the F tests are infinite; psych::ICC's limits are then the limit
    # of its formulas as MSE -> 0 (its floating-point MSE is ~1e-31), reached here with MSE = MSB * 1e-30
    limits = _confidence_limits(msb, msw, msj, mse if mse > 0 else msb * 1e-30, n, k, level)
    res.icc_a1_ci = tuple(float(v) for v in limits["ICC(2,1)"])
    res.icc_c1_ci = tuple(float(v) for v in limits["ICC(3,1)"])
    # psych's default: REML variance components (targets s, raters j, residual e), set to 0 when negative
    s2, j2, e2 = (msb - mse) / k, (msj - mse) / n, mse
    if j2 < 0 and s2 < 0:
        s2 = j2 = 0.0
    elif j2 < 0:
        j2, e2 = 0.0, (ssj + sse) / (dfj + dfe)
        s2 = max((msb - e2) / k, 0.0)
    elif s2 < 0:
        s2, e2 = 0.0, (ssb + sse) / (dfb + dfe)
        j2 = max((msj - e2) / n, 0.0)
    res.icc_a1_reml = s2 / (s2 + j2 + e2)
    res.icc_c1_reml = s2 / (s2 + e2)
    return res
