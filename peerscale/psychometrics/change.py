"""Change between two measurements of the same people: mean change with its interval, d_z, and
the Jacobson–Truax reliable change index (RCI) for each person.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import PeerscaleError
from .data import Summarised, finite_or_none

RCI_CUT = 1.96  # two-sided 5%: change larger than measurement error alone would give 95% of the time


def se_difference(sd1: float, rxx: float) -> float:
    """Jacobson & Truax's (1991) standard error of the difference between two scores:
    S_diff = sqrt(2 SE^2) = SD1 · sqrt(2) · sqrt(1 − r_xx), SE = SD1 · sqrt(1 − r_xx).

    >>> round(se_difference(7.5, 0.88), 2)
    3.67
    """
    if not math.isfinite(sd1) or sd1 < 0:
        raise PeerscaleError(f"the first-wave SD must be a number of 0 or more, got {sd1}")
    if not math.isfinite(rxx) or not 0 <= rxx < 1:
        raise PeerscaleError(f"`reliability` must lie in [0, 1), got {rxx}",
                             hint="a reliability of 1 would make every change reliable")
    return sd1 * math.sqrt(2.0) * math.sqrt(1.0 - rxx)


@dataclass(repr=False)
class ChangeResult(Summarised):
    """Change of one score from the first to the second measurement.

    ``n`` (pairs with both scores), ``mean_change`` (second − first) with ``ci``, ``sd_change``,
    ``dz`` (mean change / SD of the changes), ``sd1`` (SD of the first scores of the pairs),
    ``rxx`` and ``se_diff``, the counts ``rci_improved``, ``rci_unchanged``,
    ``rci_deteriorated`` (|RCI| > 1.96, direction from ``higher_is_better``) and ``rci`` (one
    value per pair, in input order, NaN for incomplete pairs).
    """

    n: int
    mean_change: float = math.nan
    ci: tuple = (math.nan, math.nan)
    sd_change: float = math.nan
    dz: float = math.nan
    mean1: float = math.nan
    mean2: float = math.nan
    sd1: float = math.nan
    rxx: float = math.nan
    se_diff: float = math.nan
    rci_improved: int = 0
    rci_unchanged: int = 0
    rci_deteriorated: int = 0
    higher_is_better: bool = True
    level: float = 0.95
    rci: np.ndarray | None = None
    reason: str | None = None
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        num = finite_or_none
        return {"n": self.n, "mean_change": num(self.mean_change), "ci": [num(v) for v in self.ci],
                "sd_change": num(self.sd_change), "dz": num(self.dz), "mean1": num(self.mean1),
                "mean2": num(self.mean2), "sd1": num(self.sd1), "rxx": num(self.rxx), "se_diff": num(self.se_diff),
                "reliable_change": num(RCI_CUT * self.se_diff), **self._counts(),
                "higher_is_better": self.higher_is_better, "level": self.level, "reason": self.reason,
                "notes": list(self.notes)}

    @property
    def has_rci(self) -> bool:
        """Whether the RCI was computed (S_diff finite and above 0)."""
        return self.n > 0 and math.isfinite(self.se_diff) and self.se_diff > 0

    def _counts(self) -> dict:
        """The three counts (they add up to ``n``), or None each when there is no RCI: zeros
        would read as 'nobody changed reliably' when nobody could be classified."""
        keys = ("rci_improved", "rci_unchanged", "rci_deteriorated")
        return {k: (int(getattr(self, k)) if self.has_rci else None) for k in keys}

    def to_frame(self) -> pd.DataFrame:
        d = self.to_dict()
        d.pop("notes")
        return pd.DataFrame([d])

    def summary(self) -> str:
        if self.reason and not self.n:
            return f"Change: not estimated ({self.reason})"
        if not self.has_rci:
            return (f"Change in {self.n} pairs: mean {self.mean_change:+.3f} ({self.ci[0]:.3f} to {self.ci[1]:.3f}), "
                    f"d_z = {self.dz:.2f}; no reliable change index ({self.reason})")
        return (f"Change in {self.n} pairs: mean {self.mean_change:+.3f} ({self.ci[0]:.3f} to {self.ci[1]:.3f}), "
                f"d_z = {self.dz:.2f}; S_diff = {self.se_diff:.3f} (SD1 {self.sd1:.3f}, r_xx {self.rxx:.3f}): "
                f"{self.rci_improved} reliably improved, {self.rci_unchanged} unchanged, "
                f"{self.rci_deteriorated} deteriorated")


def reliable_change(first, second, *, rxx: float, sd1: float | None = None, higher_is_better: bool = True,
                    level: float = 0.95) -> ChangeResult:
    """Mean change, d_z and the Jacobson–Truax reliable change index of paired scores.

    Parameters
    ----------
    first, second : array-like of float
        The same people's scores at the first and the second measurement (pairs with a missing
        score are left out of the statistics and counted in ``notes``; their RCI is NaN).
    rxx : float
        The reliability of the score (e.g. alpha at the first wave), in [0, 1).
    sd1 : float, optional
        The first-measurement SD for S_diff (default: the SD of the first scores of the pairs).
    higher_is_better : bool, default True
        Direction of improvement: a positive RCI is an improvement unless False.
    level : float, default 0.95
        Confidence level of the mean change's (paired t) interval.

    Returns
    -------
    ChangeResult

    Notes
    -----
    Mean change = mean(second − first), with the paired t interval; d_z = mean change / SD of
    the changes (Cohen 1988; Lakens 2013). RCI = (second − first) / S_diff with
    S_diff = SD1 · sqrt(2) · sqrt(1 − r_xx) (Jacobson & Truax 1991, with Christensen & Mendoza's
    1986 sqrt(2)); |RCI| > 1.96 is reliable change.

    References
    ----------
    Jacobson, N. S., & Truax, P. (1991). Clinical significance: A statistical approach to defining
    meaningful change in psychotherapy research. Journal of Consulting and Clinical Psychology,
    59, 12-19. Christensen, L., & Mendoza, J. L. (1986). Behavior Therapy, 17, 305-308.

    Examples
    --------
    S_diff with SD1 = 7.5 and r_xx = .88 is 3.67, so a change of 10 points is reliable (RCI 2.72):

    >>> from peerscale.psychometrics.change import reliable_change
    >>> res = reliable_change([30, 40, 50], [40, 41, 40], rxx=0.88, sd1=7.5)
    >>> round(res.se_diff, 2), res.rci_improved, res.rci_unchanged, res.rci_deteriorated
    (3.67, 1, 1, 1)
    """
    from scipy import stats

    if not 0 < level < 1:
        raise PeerscaleError(f"`level` (the confidence level) must lie between 0 and 1, got {level}")
    a = pd.to_numeric(pd.Series(np.asarray(first, dtype=object)), errors="coerce").to_numpy(float)
    b = pd.to_numeric(pd.Series(np.asarray(second, dtype=object)), errors="coerce").to_numpy(float)
    if len(a) != len(b):
        raise PeerscaleError(f"`first` ({len(a)}) and `second` ({len(b)}) differ in length")
    both = np.isfinite(a) & np.isfinite(b)
    notes = []
    if (~both).any():
        notes.append(f"{int((~both).sum())} pair(s) with a missing score left out")
    res = ChangeResult(n=int(both.sum()), higher_is_better=higher_is_better, level=level, notes=notes)
    res.rci = np.full(len(a), np.nan)
    if res.n < 2:
        res.reason = f"{res.n} pair(s) with both scores: change needs at least 2"
        return res
    x, y = a[both], b[both]
    d = y - x
    res.mean1, res.mean2 = float(x.mean()), float(y.mean())
    res.mean_change = float(d.mean())
    res.sd_change = float(d.std(ddof=1))
    half = stats.t.ppf(0.5 + level / 2, res.n - 1) * res.sd_change / math.sqrt(res.n)
    res.ci = (res.mean_change - half, res.mean_change + half)
    res.dz = res.mean_change / res.sd_change if res.sd_change > 0 else math.nan
    res.sd1 = float(x.std(ddof=1)) if sd1 is None else float(sd1)
    res.rxx = float(rxx)
    res.se_diff = se_difference(res.sd1, res.rxx)
    if res.se_diff == 0:
        res.reason = "the first-wave scores have no variance: S_diff is 0 and the RCI undefined"
        return res
    rci = d / res.se_diff
    res.rci[both] = rci
    up, down = int((rci > RCI_CUT).sum()), int((rci < -RCI_CUT).sum())
    res.rci_improved, res.rci_deteriorated = (up, down) if higher_is_better else (down, up)
    res.rci_unchanged = res.n - up - down
    return res
