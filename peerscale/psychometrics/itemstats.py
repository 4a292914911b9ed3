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
from .reliability import AlphaResult, cronbach_alpha


@dataclass
class ItemAnalysis:
    """``table``: one row per item; ``frequencies``: items × codes counts; ``flags``:
    {item: [(flag, message)]}; ``rules``: {flag: rule text}; ``alpha``: the scale's alpha."""

    table: pd.DataFrame
    frequencies: pd.DataFrame
    flags: dict[str, list[tuple[str, str]]]
    rules: dict[str, str]
    alpha: AlphaResult | None
    n_rows: int

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


def skewness(x: np.ndarray) -> float:
    """Skew, type 3 (psych's default): ``m3 / s³`` with the n − 1 SD."""
    x = x[np.isfinite(x)]
    n = x.size
    if n < 3:
        return float("nan")
    d = x - x.mean()
    s = np.sqrt((d ** 2).sum() / (n - 1))
    return float((d ** 3).mean() / s ** 3) if s > 0 else float("nan")


def kurtosis(x: np.ndarray) -> float:
    """Excess kurtosis, type 3 (psych's default): ``m4 / s⁴ − 3`` with the n − 1 SD."""
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
    """Item analysis of one scale.

    Parameters
    ----------
    answered : the scale's items as answered (not reversed), NaN = missing.
    keys : +1 / −1 per item (−1 = reverse-keyed; reversed as (min + max) − x for the
        item-total statistics only). Default all +1.
    value_range : declared (min, max) of the response scale, or {item: (min, max)} when
        items differ; default the observed range (which cannot reverse-key: give the range
        when any key is −1).
    codes : response codes to tabulate; default every whole number in the range.
    listwise : item-total statistics on complete rows only (default pairwise, as psych).
    min_r_drop, max_floor, max_ceiling : flag thresholds (r; percentages).
    """
    if not isinstance(answered, pd.DataFrame):
        raise PeerscaleError("item analysis expects a table with one column per item")
    cols = [str(c) for c in answered.columns]
    try:
        x = answered.to_numpy(dtype=float, na_value=np.nan, copy=True)
    except (TypeError, ValueError):
        bad = [c for c in answered.columns if not pd.api.types.is_numeric_dtype(answered[c])]
        raise PeerscaleError("item analysis needs numeric item codes", column=str(bad[0]) if bad else None) from None
    x[~np.isfinite(x)] = np.nan
    keys = np.ones(len(cols)) if keys is None else np.asarray(keys, float)
    if keys.shape != (len(cols),) or not np.isin(keys, (-1, 1)).all():
        raise PeerscaleError(f"keys must be one +1 or -1 per item ({len(cols)} items)", value=list(keys))
    if value_range is None:
        if (keys < 0).any():
            raise PeerscaleError("reverse-keyed items need the declared response range",
                                 hint="give value_range=(min, max) (--range MIN:MAX on the command line)")
        if not np.isfinite(x).any():
            raise PeerscaleError("no answered items: every value is missing")
        value_range = (float(np.nanmin(x)), float(np.nanmax(x)))
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
    outside = np.isfinite(x) & ((x < lo) | (x > hi))
    if outside.any():
        r, c = np.argwhere(outside)[0]
        raise PeerscaleError(f"answer lies outside the declared range {lo[c]:g} to {hi[c]:g}", column=cols[c],
                             row=int(r) + 1, value=float(x[r, c]))
    if codes is None:
        whole = all(float(v).is_integer() for v in (*lo, *hi))
        codes = np.arange(lo.min(), hi.max() + 1) if whole else np.unique(x[np.isfinite(x)])
    codes = np.asarray(sorted(codes), float)
    n_rows = x.shape[0]
    n = np.isfinite(x).sum(axis=0)
    freq = pd.DataFrame([[int(np.sum(x[:, j] == c)) for c in codes] for j in range(len(cols))],
                        index=cols, columns=codes)
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame({
            "key": keys.astype(int),
            "n": n,
            "missing_pct": 100.0 * (n_rows - n) / n_rows if n_rows else np.nan,
            "mean": [np.nanmean(x[:, j]) if n[j] else np.nan for j in range(len(cols))],
            "sd": [np.nanstd(x[:, j], ddof=1) if n[j] > 1 else np.nan for j in range(len(cols))],
            "skew": [skewness(x[:, j]) for j in range(len(cols))],
            "kurtosis": [kurtosis(x[:, j]) for j in range(len(cols))],
            "floor_pct": 100.0 * np.sum(x == lo, axis=0) / n,
            "ceiling_pct": 100.0 * np.sum(x == hi, axis=0) / n,
            "min": lo,
            "max": hi,
        }, index=cols)
    keyed = pd.DataFrame(np.where(keys < 0, (lo + hi) - x, x), columns=cols)
    # constant or (almost) unanswered items get no item-total statistics but do not stop the rest
    varies = [c for j, c in enumerate(cols) if n[j] >= 2 and np.nanstd(x[:, j]) > 0]
    alpha = None
    table["r_drop"] = np.nan
    table["alpha_if_dropped"] = np.nan
    if len(varies) >= 2:
        alpha = cronbach_alpha(keyed[varies], listwise=listwise)
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
