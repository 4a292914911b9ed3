"""Item analysis of one scale: distributions, floor and ceiling, item-total statistics, flags.

Per item (distribution statistics on the codes as answered, before reverse keying):

- ``frequencies``: count of each response code (the declared codes, else those observed),
- ``n`` answered, ``missing_pct`` = 100 · missing / rows,
- ``mean``, ``sd`` (n − 1 denominator),
- ``skew``: psych's default ``type = 3``, ``b1 = m3 / s³`` with the sample SD s
  (``= g1 · ((n − 1)/n)^{3/2}``; Joanes & Gill 1998), and ``kurtosis`` (type 3, excess):
  ``b2 = m4 / s⁴ − 3``; as ``psych::describe``,
- ``floor_pct`` / ``ceiling_pct``: percentage of answers at the lowest / highest code of the
  declared range (as answered),
- ``r_drop`` (corrected item-total correlation) and ``alpha_if_dropped``, from
  :func:`~peerscale.psychometrics.reliability.cronbach_alpha` on the keyed scale.

Flags (each with the rule that raised it; items are flagged, never re-keyed):

- ``negative_r_drop``: r_drop < 0: "possible keying error: check wording; not flipped",
- ``low_r_drop``: 0 ≤ r_drop < ``min_r_drop`` (default .30; Nunnally & Bernstein 1994),
- ``floor``: floor_pct > ``max_floor`` (default 50%), ``ceiling``: ceiling_pct > ``max_ceiling``,
- ``no_variance``: fewer than two answers or all the same (left out of the item-total
  statistics of the other items).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import PeerscaleError
from .data import Summarised, table_text
from .reliability import AlphaResult, cronbach_alpha


@dataclass(repr=False)
class ItemAnalysis(Summarised):
    """``table``: one row per item; ``frequencies``: items × codes counts; ``flags``:
    {item: [(flag, message)]}; ``rules``: {flag: rule text}; ``alpha``: the scale's alpha."""

    table: pd.DataFrame
    frequencies: pd.DataFrame
    flags: dict[str, list[tuple[str, str]]]
    rules: dict[str, str]
    alpha: AlphaResult | None
    n_rows: int

    def to_frame(self) -> pd.DataFrame:
        """One row per item: key, n, missing %, mean, SD, skew, kurtosis, floor and ceiling %,
        r_drop, alpha if dropped and the flags raised."""
        return self.table.copy()

    def summary(self) -> str:
        shown = self.table[["key", "n", "missing_pct", "mean", "sd", "skew", "floor_pct", "ceiling_pct", "r_drop",
                            "alpha_if_dropped", "flags"]]
        alpha = "" if self.alpha is None else f", alpha = {self.alpha.alpha:.3f}"
        lines = [f"Item analysis ({len(self.table)} items, {self.n_rows} rows{alpha})", table_text(shown)]
        for item, found in self.flags.items():
            lines += [f"  ! {item}: {flag}: {message}" for flag, message in found]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        items = {}
        for item, row in self.table.to_dict(orient="index").items():
            entry = {k: (float(v) if isinstance(v, (float, np.floating)) else
                         int(v) if isinstance(v, (np.integer,)) else v) for k, v in row.items()}
            entry["frequencies"] = {_code(c): int(n) for c, n in self.frequencies.loc[item].items()}
            entry["flags"] = [{"flag": f, "message": m} for f, m in self.flags.get(item, [])]
            items[str(item)] = entry
        return {"n_rows": self.n_rows, "rules": self.rules,
                "alpha": None if self.alpha is None else self.alpha.alpha, "items": items}


def _code(c) -> str:
    c = float(c)
    return str(int(c)) if c.is_integer() else repr(c)


def check_thresholds(min_r_drop: float, max_floor: float, max_ceiling: float) -> None:
    """The flag thresholds must be a correlation and two percentages."""
    if not -1 <= min_r_drop <= 1:
        raise PeerscaleError(f"`min_r_drop` must be a correlation between -1 and 1, got {min_r_drop}")
    for name, value in (("max_floor", max_floor), ("max_ceiling", max_ceiling)):
        if not 0 <= value <= 100:
            raise PeerscaleError(f"`{name}` is a percentage from 0 to 100, got {value}")


def skewness(x: np.ndarray) -> float:
    """Skew of the answered values, type 3 (psych's default): ``m3 / s³`` with the n − 1 SD.

    Parameters
    ----------
    x : numpy.ndarray
        Values, NaN = missing.

    Returns
    -------
    float
        NaN with fewer than three answers or no variance.

    Examples
    --------
    As ``psych::skew(x, type = 3)``:

    >>> import numpy as np
    >>> from peerscale.psychometrics import skewness
    >>> round(skewness(np.array([1.0, 2, 2, 3, 5, np.nan])), 4)
    0.5367
    """
    x = x[np.isfinite(x)]
    n = x.size
    if n < 3:
        return float("nan")
    d = x - x.mean()
    s = np.sqrt((d ** 2).sum() / (n - 1))
    return float((d ** 3).mean() / s ** 3) if s > 0 else float("nan")


def kurtosis(x: np.ndarray) -> float:
    """Excess kurtosis of the answered values, type 3 (psych's default): ``m4 / s⁴ − 3`` with the n − 1 SD.

    Parameters
    ----------
    x : numpy.ndarray
        Values, NaN = missing.

    Returns
    -------
    float
        NaN with fewer than four answers or no variance.

    Examples
    --------
    As ``psych::kurtosi(x, type = 3)``:

    >>> import numpy as np
    >>> from peerscale.psychometrics import kurtosis
    >>> round(kurtosis(np.array([1.0, 2, 2, 3, 5])), 4)
    -1.4871
    """
    x = x[np.isfinite(x)]
    n = x.size
    if n < 4:
        return float("nan")
    d = x - x.mean()
    s2 = (d ** 2).sum() / (n - 1)
    return float((d ** 4).mean() / s2 ** 2 - 3) if s2 > 0 else float("nan")


def item_analysis(answered: pd.DataFrame, keys: Sequence[int] | None = None, *,
                  value_range: tuple[float, float] | None = None, codes: Sequence[float] | None = None,
                  listwise: bool = False, min_r_drop: float = 0.30, max_floor: float = 50.0,
                  max_ceiling: float = 50.0) -> ItemAnalysis:
    """Item analysis of one scale: distributions, floor and ceiling, item-total statistics, flags.

    Parameters
    ----------
    answered : pandas.DataFrame
        The scale's items as answered (not reversed), NaN = missing.
    keys : sequence of int, optional
        +1 / −1 per item (−1 = reverse-keyed; reversed as (min + max) − x for the item-total
        statistics only). Default all +1.
    value_range : (float, float) or dict, optional
        Declared (min, max) of the response scale, or ``{item: (min, max)}``; default the
        observed range (which cannot reverse-key: give the range when any key is −1).
    codes : sequence of float, optional
        Response codes to tabulate; default every whole number in the range.
    listwise : bool, default False
        Item-total statistics on complete rows only (default pairwise, as psych).
    min_r_drop, max_floor, max_ceiling : float
        Flag thresholds: corrected item-total r, and percentages at the lowest / highest code.

    Returns
    -------
    ItemAnalysis
        ``table`` (``to_frame()``), ``frequencies``, ``flags`` ({item: [(flag, message)]}),
        ``rules`` and the scale's ``alpha``.

    Examples
    --------
    Distribution statistics as ``psych::describe(x)``, item-total statistics as ``psych::alpha(x)``:

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> f = rng.normal(size=(300, 1))
    >>> x = pd.DataFrame(np.clip(np.round(3 + f + rng.normal(size=(300, 4))), 1, 5), columns=list("abcd"))
    >>> from peerscale.psychometrics import item_analysis
    >>> res = item_analysis(x, value_range=(1, 5))
    >>> res.table.loc["a", "n"], sorted(res.rules)[0]
    (np.int64(300), 'ceiling')
    """
    if not isinstance(answered, pd.DataFrame):
        raise PeerscaleError("item analysis expects a table with one column per item")
    check_thresholds(min_r_drop, max_floor, max_ceiling)
    cols = [str(c) for c in answered.columns]
    try:
        x = answered.to_numpy(dtype=float, na_value=np.nan, copy=True)
    except (TypeError, ValueError):
        bad = [c for c in answered.columns if not pd.api.types.is_numeric_dtype(answered[c])]
        raise PeerscaleError("item analysis needs numeric item codes", column=str(bad[0]) if bad else None) from None
    x[~np.isfinite(x)] = np.nan
    keys = check_keys(keys, cols)
    if value_range is None and (keys < 0).any():
        raise PeerscaleError("reverse-keyed items need the declared response range",
                             hint="give `value_range` = (min, max)")
    if value_range is None and not np.isfinite(x).any():
        raise PeerscaleError("no answered items: every value is missing")
    lo, hi = response_ranges(cols, value_range, np.nanmin(x) if value_range is None else None,
                             np.nanmax(x) if value_range is None else None)
    check_in_range(x, lo, hi, cols)
    from .moments import ItemMoments

    dist = ItemMoments.from_array(x, cols, tables=True, max_codes=None)

    def alpha_of(varies):
        keyed = pd.DataFrame(np.where(keys < 0, (lo + hi) - x, x), columns=cols)
        return cronbach_alpha(keyed[varies], listwise=listwise)

    return item_analysis_from_moments(dist, keys, lo, hi, alpha_of, codes=codes, min_r_drop=min_r_drop,
                                      max_floor=max_floor, max_ceiling=max_ceiling)


def check_keys(keys, cols) -> np.ndarray:
    """+1 / −1 per item (default all +1)."""
    keys = np.ones(len(cols)) if keys is None else np.asarray(keys, float)
    if keys.shape != (len(cols),) or not np.isin(keys, (-1, 1)).all():
        raise PeerscaleError(f"keys must be one +1 or -1 per item ({len(cols)} items)", value=list(keys))
    return keys


def response_ranges(cols, value_range, observed_min=None, observed_max=None) -> tuple[np.ndarray, np.ndarray]:
    """Per item (lowest, highest) code: the declared ``value_range`` (one pair or a dict per
    item), else the observed range over all the items."""
    if value_range is None:
        value_range = (float(np.nanmin(observed_min)), float(np.nanmax(observed_max)))
    if isinstance(value_range, dict):
        absent = [c for c in cols if c not in value_range]
        if absent:
            raise PeerscaleError("no response range given for the item", column=absent[0])
        ranges = np.array([tuple(map(float, value_range[c])) for c in cols])
    else:
        ranges = np.tile(np.asarray(tuple(map(float, value_range))), (len(cols), 1))
    lo, hi = ranges[:, 0], ranges[:, 1]
    if (lo >= hi).any():
        j = int(np.argmax(lo >= hi))
        raise PeerscaleError(f"the response range must run from a lower to a higher code, got {lo[j]:g}:{hi[j]:g}",
                             column=cols[j])
    return lo, hi


def check_in_range(x, lo, hi, cols, row_offset: int = 0, file: str | None = None) -> None:
    """Refuse an answer outside the declared range, naming its row (1-based, plus ``row_offset``)."""
    outside = np.isfinite(x) & ((x < lo) | (x > hi))
    if outside.any():
        r, c = np.argwhere(outside)[0]
        raise PeerscaleError(f"answer lies outside the declared range {lo[c]:g} to {hi[c]:g}", column=cols[c],
                             row=int(r) + 1 + row_offset, value=float(x[r, c]), file=file)


def item_analysis_from_moments(dist, keys, lo, hi, alpha_of, *, codes=None, min_r_drop: float = 0.30,
                               max_floor: float = 50.0, max_ceiling: float = 50.0) -> ItemAnalysis:
    """:func:`item_analysis` from merged statistics of the items as answered (``dist``, an
    :class:`~peerscale.psychometrics.moments.ItemMoments` with frequency tables), the keys and
    ranges, and ``alpha_of(items)``, which returns the :class:`AlphaResult` of those keyed items
    (in memory, or from statistics merged over chunks)."""
    check_thresholds(min_r_drop, max_floor, max_ceiling)
    cols = list(dist.columns)
    values, counts = dist.frequencies()
    if codes is None:
        whole = all(float(v).is_integer() for v in (*lo, *hi))
        codes = np.arange(lo.min(), hi.max() + 1) if whole else values
    codes = np.asarray(sorted(codes), float)

    def count_of(j, c):
        pos = np.searchsorted(values, c)
        return int(counts[j, pos]) if pos < len(values) and values[pos] == c else 0

    n_rows = dist.n_rows
    n = dist.counts_answered()
    freq = pd.DataFrame([[count_of(j, c) for c in codes] for j in range(len(cols))], index=cols, columns=codes)
    skew, kurt = dist.skew_kurtosis()
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame({
            "key": keys.astype(int),
            "n": n,
            "missing_pct": 100.0 * (n_rows - n) / n_rows if n_rows else np.nan,
            "mean": np.where(n > 0, dist.means(), np.nan),
            "sd": dist.sds(),
            "skew": skew,
            "kurtosis": kurt,
            "floor_pct": 100.0 * np.array([count_of(j, lo[j]) for j in range(len(cols))]) / n,
            "ceiling_pct": 100.0 * np.array([count_of(j, hi[j]) for j in range(len(cols))]) / n,
            "min": lo,
            "max": hi,
        }, index=cols)
    # constant or (almost) unanswered items get no item-total statistics but do not stop the rest
    flat = dist.no_variance()
    varies = [c for j, c in enumerate(cols) if n[j] >= 2 and not flat[j]]
    alpha = None
    table["r_drop"] = np.nan
    table["alpha_if_dropped"] = np.nan
    if len(varies) >= 2:
        alpha = alpha_of(varies)
        table.loc[varies, "r_drop"] = alpha.items["r_drop"].to_numpy()
        table.loc[varies, "alpha_if_dropped"] = alpha.items["alpha_if_dropped"].to_numpy()
    rules = {
        "negative_r_drop": "corrected item-total r below 0: possible keying error: check wording; not flipped",
        "low_r_drop": f"corrected item-total r below {min_r_drop:.2f}",
        "floor": f"more than {max_floor:g}% of answers at the lowest code of the response scale",
        "ceiling": f"more than {max_ceiling:g}% of answers at the highest code of the response scale",
        "no_variance": "fewer than two answers, or every answer the same: no item-total statistics",
    }
    flags: dict[str, list[tuple[str, str]]] = {}
    for item, row in table.iterrows():
        found = []
        if item not in varies:
            found.append(("no_variance", "no variance among the answers" if row["n"] >= 2
                          else f"{int(row['n'])} answer(s)"))
        if row["r_drop"] < 0:
            found.append(("negative_r_drop", f"r_drop = {row['r_drop']:.2f}: possible keying error: "
                                             "check wording; not flipped"))
        elif row["r_drop"] < min_r_drop:
            found.append(("low_r_drop", f"r_drop = {row['r_drop']:.3f} < {min_r_drop:.2f}"))
        if row["floor_pct"] > max_floor:
            found.append(("floor", f"{row['floor_pct']:.1f}% at the lowest code (more than {max_floor:g}%)"))
        if row["ceiling_pct"] > max_ceiling:
            found.append(("ceiling", f"{row['ceiling_pct']:.1f}% at the highest code (more than {max_ceiling:g}%)"))
        if found:
            flags[str(item)] = found
    table["flags"] = [", ".join(f for f, _ in flags.get(c, [])) for c in cols]
    return ItemAnalysis(table, freq, flags, rules, alpha, n_rows)
