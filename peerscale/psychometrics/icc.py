"""Intraclass correlations for test-retest (two or more waves) and inter-rater reliability.

Point estimates, F tests and p values come from ``pingouin.intraclass_corr`` (two-way
ANOVA; Shrout & Fleiss 1979, McGraw & Wong 1996). pingouin rounds its confidence intervals
to two decimals, so the intervals here are recomputed at full precision with the same
formulas as ``psych::ICC`` (Shrout & Fleiss 1979; McGraw & Wong 1996 for ICC(2,1), with
Satterthwaite's degrees of freedom). Targets (persons) with any missing wave or rater are
left out (listwise), as pingouin's ``nan_policy="omit"``.

The six types, in Shrout & Fleiss's names (McGraw & Wong's in brackets):

- ``ICC(1,1)``  one-way random, single measure [ICC(1)]
- ``ICC(2,1)``  two-way random, absolute agreement, single measure [ICC(A,1)]
- ``ICC(3,1)``  two-way mixed, consistency, single measure [ICC(C,1)]
- ``ICC(1,k)``, ``ICC(2,k)``, ``ICC(3,k)``: the same for the mean of k waves or raters.

``primary`` is ICC(2,1): agreement of single measurements, with waves or raters treated as
random, the usual choice for both test-retest and inter-rater reliability (Koo & Li 2016;
Weir 2005). Which to report is the analyst's decision; all six are returned.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import PeerscaleError, columns_hint, plain
from .data import Summarised, table_text

TYPES = {
    "ICC(1,1)": ("ICC(1)", "one-way random effects, single measure"),
    "ICC(2,1)": ("ICC(A,1)", "two-way random effects, absolute agreement, single measure"),
    "ICC(3,1)": ("ICC(C,1)", "two-way mixed effects, consistency, single measure"),
    "ICC(1,k)": ("ICC(k)", "one-way random effects, mean of k measures"),
    "ICC(2,k)": ("ICC(A,k)", "two-way random effects, absolute agreement, mean of k measures"),
    "ICC(3,k)": ("ICC(C,k)", "two-way mixed effects, consistency, mean of k measures"),
}
PRIMARY = "ICC(2,1)"
_PINGOUIN_LABEL = {"ICC(1,1)": "ICC(1,1)", "ICC(2,1)": "ICC(A,1)", "ICC(3,1)": "ICC(C,1)",
                   "ICC(1,k)": "ICC(1,k)", "ICC(2,k)": "ICC(A,k)", "ICC(3,k)": "ICC(C,k)"}


@dataclass(repr=False)
class ICCResult(Summarised):
    """``table``: one row per ICC type (index as in :data:`TYPES`) with ``mcgraw_wong``,
    ``description``, ``icc``, ``F``, ``df1``, ``df2``, ``p``, ``ci_lower``, ``ci_upper``."""

    table: pd.DataFrame
    n_targets: int
    n_raters: int
    raters: list
    dropped_targets: int
    level: float
    design: str = "waves"

    @property
    def primary(self) -> dict:
        return {"type": PRIMARY, **self.table.loc[PRIMARY].to_dict()}

    def to_frame(self) -> pd.DataFrame:
        """The six types: ICC, F, df1, df2, p and the confidence limits."""
        return self.table.copy()

    def summary(self) -> str:
        """As ``print(psych::ICC(x))``."""
        shown = self.table[["icc", "F", "df1", "df2", "p", "ci_lower", "ci_upper"]]
        return (f"Intraclass correlation coefficients ({self.n_targets} targets, {self.n_raters} "
                f"{'raters' if self.design == 'raters' else 'waves'}; {self.level:.0%} limits; primary {PRIMARY})\n"
                + table_text(shown, 3))

    def to_dict(self) -> dict:
        rows = {}
        for name, row in self.table.iterrows():
            rows[name] = {k: (float(v) if isinstance(v, (float, np.floating, np.integer)) else v)
                          for k, v in row.items()}
        return {"design": self.design, "n": self.n_targets, "k": self.n_raters, "raters": [str(r) for r in self.raters],
                "dropped_targets": self.dropped_targets, "level": self.level, "primary": PRIMARY, "types": rows}


def _confidence_limits(msb, msw, msj, mse, n, k, level):
    """Lower and upper limits per type, as psych::ICC (alpha = 1 − level)."""
    from scipy.stats import f

    a = 1 - level
    f11 = msb / msw
    df11n, df11d = n - 1, n * (k - 1)
    f21 = msb / mse
    df21n, df21d = n - 1, (n - 1) * (k - 1)
    f1l = f11 / f.ppf(1 - a / 2, df11n, df11d)
    f1u = f11 * f.ppf(1 - a / 2, df11d, df11n)
    f3l = f21 / f.ppf(1 - a / 2, df21n, df21d)
    f3u = f21 * f.ppf(1 - a / 2, df21d, df21n)
    icc2 = (msb - mse) / (msb + (k - 1) * mse + k * (msj - mse) / n)
    fj = msj / mse
    vn = (k - 1) * (n - 1) * (k * icc2 * fj + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    vd = (n - 1) * k ** 2 * icc2 ** 2 * fj ** 2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    v = vn / vd
    fu = f.ppf(1 - a / 2, n - 1, v)
    fl = f.ppf(1 - a / 2, v, n - 1)
    l2 = n * (msb - fu * mse) / (fu * (k * msj + (k * n - k - n) * mse) + n * msb)
    u2 = n * (fl * msb - mse) / (k * msj + (k * n - k - n) * mse + n * fl * msb)
    return {
        "ICC(1,1)": ((f1l - 1) / (f1l + k - 1), (f1u - 1) / (f1u + k - 1)),
        "ICC(2,1)": (l2, u2),
        "ICC(3,1)": ((f3l - 1) / (f3l + k - 1), (f3u - 1) / (f3u + k - 1)),
        "ICC(1,k)": (1 - 1 / f1l, 1 - 1 / f1u),
        "ICC(2,k)": (l2 * k / (1 + l2 * (k - 1)), u2 * k / (1 + u2 * (k - 1))),
        "ICC(3,k)": (1 - 1 / f3l, 1 - 1 / f3u),
    }


def icc(data: pd.DataFrame, *, targets: str, raters: str, ratings: str, level: float = 0.95,
        design: str = "waves") -> ICCResult:
    """Intraclass correlations (all six Shrout–Fleiss types) from long data.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per target (person) × rater (or wave) with a rating (e.g. a scale score).
    targets, raters, ratings : str
        The columns naming the target, the rater (or wave) and the rating.
    level : float, default 0.95
        Confidence level of the limits.
    design : {"waves", "raters"}
        Labels the output only (test-retest or inter-rater).

    Returns
    -------
    ICCResult
        ``table`` (``to_frame()``) with ICC, F, df1, df2, p and limits per type; ``primary`` is ICC(2,1).

    Notes
    -----
    Point estimates and F tests from ``pingouin.intraclass_corr``; limits at full precision with
    psych::ICC's formulas (Satterthwaite degrees of freedom for ICC(2,1)). Targets missing any
    rater are left out.

    References
    ----------
    Shrout, P. E., & Fleiss, J. L. (1979). Psychological Bulletin, 86, 420-428. Koo, T. K., &
    Li, M. Y. (2016). Journal of Chiropractic Medicine, 15, 155-163.

    Examples
    --------
    As ``psych::ICC(wide)``:

    >>> import pandas as pd
    >>> from peerscale.psychometrics import icc
    >>> long = pd.DataFrame({"person": [1, 1, 2, 2, 3, 3, 4, 4], "wave": ["a", "b"] * 4,
    ...                      "score": [3.0, 3.2, 4.1, 4.0, 2.2, 2.6, 3.5, 3.9]})
    >>> round(icc(long, targets="person", raters="wave", ratings="score").primary["icc"], 2)
    0.92
    """
    import pingouin

    for col in (targets, raters, ratings):
        if col not in data.columns:
            raise PeerscaleError(f"column {col!r} not found", column=col,
                                 hint=columns_hint(data.columns))
    if not 0 < level < 1:
        raise PeerscaleError(f"`level` (the confidence level) must lie between 0 and 1, got {level}")
    long = data[[targets, raters, ratings]].copy()
    long[ratings] = pd.to_numeric(long[ratings], errors="coerce")
    dup = long.duplicated([targets, raters])
    if dup.any():
        row = long[dup].iloc[0]
        raise PeerscaleError(f"{plain(row[targets])} has more than one row for {raters} {plain(row[raters])}",
                             column=raters, hint="each person needs one score per wave or rater")
    wide = long.pivot(index=targets, columns=raters, values=ratings)
    k = wide.shape[1]
    if k < 2:
        raise PeerscaleError(f"an ICC needs at least two waves or raters; found {k}", column=raters)
    complete = wide.dropna()
    n = complete.shape[0]
    if n < 3:
        raise PeerscaleError(f"only {n} person(s) have a score at every wave or from every rater; an ICC needs 3",
                             hint="check that the id column matches people across waves or raters")
    x = complete.to_numpy(float)
    if np.ptp(x) == 0:
        raise PeerscaleError("every score is the same; the ICC is undefined")
    kept = long[long[targets].isin(complete.index)].dropna(subset=[ratings])
    with warnings.catch_warnings():  # pingouin 0.7 uses pandas keywords that pandas 3 deprecates
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        res = pingouin.intraclass_corr(data=kept, targets=targets, raters=raters, ratings=ratings).set_index("Type")
    # two-way ANOVA mean squares for the full-precision intervals
    grand = x.mean()
    ssb = k * ((x.mean(axis=1) - grand) ** 2).sum()
    ssj = n * ((x.mean(axis=0) - grand) ** 2).sum()
    sse = ((x - grand) ** 2).sum() - ssb - ssj
    msb, msj, mse = ssb / (n - 1), ssj / (k - 1), sse / ((n - 1) * (k - 1))
    msw = (ssj + sse) / (n * (k - 1))
    limits = _confidence_limits(msb, msw, msj, mse, n, k, level)
    rows = []
    for name, (mw, description) in TYPES.items():
        r = res.loc[_PINGOUIN_LABEL[name]]
        rows.append({"mcgraw_wong": mw, "description": description, "icc": float(r["ICC"]), "F": float(r["F"]),
                     "df1": float(r["df1"]), "df2": float(r["df2"]), "p": float(r["pval"]),
                     "ci_lower": float(limits[name][0]), "ci_upper": float(limits[name][1])})
    table = pd.DataFrame(rows, index=list(TYPES))
    return ICCResult(table, n, k, list(wide.columns), wide.shape[0] - n, level, design)


def icc_wide(scores: pd.DataFrame, *, level: float = 0.95, design: str = "waves") -> ICCResult:
    """ICCs from wide data: one row per person, one column per wave or rater.

    Parameters
    ----------
    scores : pandas.DataFrame
        At least two columns.
    level : float, default 0.95
    design : {"waves", "raters"}

    Returns
    -------
    ICCResult

    Examples
    --------
    As ``psych::ICC(scores)``:

    >>> import pandas as pd
    >>> from peerscale.psychometrics import icc_wide
    >>> wide = pd.DataFrame({"a": [3.0, 4.1, 2.2, 3.5], "b": [3.2, 4.0, 2.6, 3.9]})
    >>> icc_wide(wide).n_targets
    4
    """
    if not isinstance(scores, pd.DataFrame) or scores.shape[1] < 2:
        raise PeerscaleError("an ICC needs a table with one column per wave or rater (at least two)")
    long = scores.rename_axis("_target").reset_index().melt(id_vars="_target", var_name="_rater",
                                                             value_name="_rating")
    return icc(long, targets="_target", raters="_rater", ratings="_rating", level=level, design=design)
