"""Content validity from an expert panel: the rating form, reading the completed forms, and
the statistics.

Each expert rates each item's relevance to what the instrument measures (1 not relevant,
2 somewhat, 3 quite, 4 highly relevant), assigns it to the dimension they think it measures
(or "none"), and may rate clarity and comment. Per item:

- **I-CVI** (Lynn 1986; Polit & Beck 2006): the proportion of experts rating 3 or 4,
  I-CVI = A / N.
- **Modified kappa** (Polit, Beck & Owen 2007): the I-CVI corrected for chance agreement,
  pc = C(N, A) · 0.5^N and k* = (I-CVI − pc) / (1 − pc); rated excellent (> .74), good
  (.60–.74), fair (.40–.59) or poor (< .40) after Cicchetti & Sparrow (1981) and Fleiss (1981).
- **Aiken's V** (Aiken 1980, 1985): V = Σ(r − lo) / (N · k), with lo the lowest rating and
  k = hi − lo, and its **score confidence interval** (Penfield & Giacobbi 2004):
  (2NkV + z² ± z·√(4NkV(1 − V) + z²)) / (2(Nk + z²)), the Wilson interval of V read as a
  proportion of Nk trials.
- **Substantive agreement** of the experts' sorting with the intended dimension (Anderson &
  Gerbing 1991): p_sa = n_c / N and c_sv = (n_c − n_o) / N, with n_c the experts who chose the
  intended dimension, n_o the most experts who chose any one other dimension (or "none"), and
  N the experts who sorted the item.

Per scale (each subscale and composite of the scoring file, and all rated items):
**S-CVI/Ave**, the mean I-CVI of its items, and **S-CVI/UA**, the proportion of its items that
every expert rated 3 or 4 (Polit & Beck 2006).

References
----------
Aiken, L. R. (1980). Content validity and reliability of single items or questionnaires.
*Educational and Psychological Measurement*, 40, 955–959.
Aiken, L. R. (1985). Three coefficients for analyzing the reliability and validity of ratings.
*Educational and Psychological Measurement*, 45, 131–142.
Anderson, J. C., & Gerbing, D. W. (1991). Predicting the performance of measures in a
confirmatory factor analysis with a pretest assessment of their substantive validities.
*Journal of Applied Psychology*, 76, 732–740.
Lynn, M. R. (1986). Determination and quantification of content validity. *Nursing Research*,
35, 382–385.
Penfield, R. D., & Giacobbi, P. R. (2004). Applying a score confidence interval to Aiken's item
content-relevance index. *Measurement in Physical Education and Exercise Science*, 8, 213–225.
Polit, D. F., & Beck, C. T. (2006). The content validity index: are you sure you know what's
being reported? *Research in Nursing & Health*, 29, 489–497.
Polit, D. F., Beck, C. T., & Owen, S. V. (2007). Is the CVI an acceptable indicator of content
validity? *Research in Nursing & Health*, 30, 459–467.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import PeerscaleError

RELEVANCE = {1: "Not relevant", 2: "Somewhat relevant", 3: "Quite relevant", 4: "Highly relevant"}
CLARITY = {1: "Not clear", 2: "Somewhat clear", 3: "Quite clear", 4: "Very clear"}
NONE = "none"
I_CVI_MIN = 0.78      # Polit, Beck & Owen (2007): I-CVI >= .78 with three or more experts
S_CVI_AVE_MIN = 0.90  # Polit & Beck (2006)
S_CVI_UA_MIN = 0.80   # Polit & Beck (2006)
V_LOWER_MIN = 0.50    # lower limit of Aiken's V compared with a criterion (Penfield & Giacobbi 2004)
FORM_SHEET = "Ratings"
FORM_MARK = "peerscale content-validity form"


# --------------------------------------------------------------------------- statistics

def chance_agreement(n_agree: int, n_experts: int) -> float:
    """pc = C(N, A) · 0.5^N: the probability that A of N experts rate an item relevant by chance."""
    return math.comb(n_experts, n_agree) * 0.5 ** n_experts


def modified_kappa(n_agree: int, n_experts: int) -> tuple[float, float]:
    """(pc, k*) of Polit, Beck & Owen (2007) for A of N experts rating an item 3 or 4."""
    if n_experts < 1 or not 0 <= n_agree <= n_experts:
        raise PeerscaleError(f"modified kappa needs 0 <= agreeing <= experts, got {n_agree} of {n_experts}")
    pc = chance_agreement(n_agree, n_experts)
    i_cvi = n_agree / n_experts
    return pc, (i_cvi - pc) / (1 - pc)


def kappa_rating(k: float) -> str:
    """excellent (> .74), good (.60–.74), fair (.40–.59) or poor, as Polit, Beck & Owen (2007)."""
    if k != k:
        return ""
    if k > 0.74:
        return "excellent"
    if k >= 0.60:
        return "good"
    if k >= 0.40:
        return "fair"
    return "poor"


def aiken_v(ratings, lo: float = 1, hi: float = 4, level: float = 0.95) -> tuple[float, float, float]:
    """Aiken's V of one item's ratings with Penfield & Giacobbi's (2004) score interval.

    Parameters
    ----------
    ratings : sequence of numbers
        The experts' ratings of one item (NaN ignored), each from ``lo`` to ``hi``.
    lo, hi : float
        Lowest and highest possible rating (1 and 4 on the relevance scale).
    level : float
        Confidence level of the interval.

    Returns
    -------
    (V, lower, upper)

    Notes
    -----
    V = Σ(r − lo) / (n·k) with k = hi − lo. The interval is the score (Wilson) interval of V
    treated as a proportion of n·k, with z the two-sided normal quantile for ``level``:
    (2nkV + z² ± z·√(4nkV(1 − V) + z²)) / (2(nk + z²)).

    Examples
    --------
    >>> v, lower, upper = aiken_v([4, 4, 3, 4, 3, 4], lo=1, hi=4)
    >>> round(v, 4), round(lower, 4), round(upper, 4)   # R: prop.test(16, 18, correct = FALSE)$conf.int
    (0.8889, 0.672, 0.969)
    """
    from scipy.stats import norm

    r = np.asarray(ratings, dtype=float)
    r = r[~np.isnan(r)]
    if not hi > lo:
        raise PeerscaleError(f"Aiken's V needs hi > lo, got lo={lo:g}, hi={hi:g}")
    if not 0 < level < 1:
        raise PeerscaleError(f"confidence level must be between 0 and 1, got {level}")
    if r.size == 0:
        return (float("nan"),) * 3
    if ((r < lo) | (r > hi)).any():
        raise PeerscaleError(f"Aiken's V: ratings must lie between {lo:g} and {hi:g}")
    k = hi - lo
    n = r.size
    v = float((r - lo).sum() / (n * k))
    z = float(norm.ppf(1 - (1 - level) / 2))
    nk = n * k
    centre = 2 * nk * v + z * z
    half = z * math.sqrt(max(4 * nk * v * (1 - v) + z * z, 0.0))
    denom = 2 * (nk + z * z)
    return v, (centre - half) / denom, (centre + half) / denom


def sorting_agreement(assigned, intended: str) -> tuple[float, float, int, str]:
    """Anderson & Gerbing's (1991) p_sa and c_sv for one item.

    ``assigned``: the dimension each expert chose (``None``/NaN = did not sort it; ``"none"`` =
    fits no dimension, which counts as another choice). Returns (p_sa, c_sv, N sorted, the most
    chosen dimension); p_sa = n_c / N, c_sv = (n_c − n_o) / N.
    """
    chosen = [str(a) for a in assigned if a is not None and a == a and str(a).strip() != ""]
    n = len(chosen)
    if n == 0:
        return float("nan"), float("nan"), 0, ""
    counts: dict[str, int] = {}
    for a in chosen:
        counts[a] = counts.get(a, 0) + 1
    n_c = counts.get(intended, 0)
    n_o = max([c for d, c in counts.items() if d != intended], default=0)
    top = max(counts.items(), key=lambda kv: (kv[1], kv[0] == intended))[0]
    return n_c / n, (n_c - n_o) / n, n, top


# --------------------------------------------------------------------------- the result

@dataclass
class CVIResult:
    """``items``: one row per rated item (see :func:`content_validity`); ``scales``: one row
    per scale (S-CVI/Ave, S-CVI/UA); ``comments``: (expert, item, comment) rows."""

    instrument: str
    items: object            # pandas DataFrame, index = item id
    scales: object           # pandas DataFrame, index = scale name
    experts: list[str]
    thresholds: dict
    comments: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_frame(self):
        return self.items.copy()

    def flagged(self):
        return self.items[self.items["flags"] != ""]

    def to_dict(self) -> dict:
        def clean(v):
            if isinstance(v, (np.floating, float)):
                return None if v != v else float(v)
            if isinstance(v, (np.integer,)):
                return int(v)
            return v

        return {
            "instrument": self.instrument, "n_experts": len(self.experts), "experts": self.experts,
            "thresholds": self.thresholds,
            "items": {iid: {k: clean(v) for k, v in row.items()} for iid, row in self.items.iterrows()},
            "scales": {name: {k: clean(v) for k, v in row.items()} for name, row in self.scales.iterrows()},
            "flagged": list(self.flagged().index),
            "comments": [{"expert": e, "item": i, "comment": c} for e, i, c in self.comments],
            "notes": self.notes,
        }

    def summary(self) -> str:
        t = self.thresholds
        lines = [f"Content validity of {self.instrument}: {len(self.items)} items rated by {len(self.experts)} experts",
                 f"flag rules: I-CVI < {t['i_cvi_min']:.2f}; modified kappa below good (< .60); "
                 f"Aiken's V lower {t['level']:.0%} limit < {t['v_lower_min']:.2f}; experts sort the item elsewhere "
                 f"(c_sv <= 0); scales: S-CVI/Ave < {t['s_cvi_ave_min']:.2f} or S-CVI/UA < {t['s_cvi_ua_min']:.2f}"]
        return "\n".join(lines + self.notes)


# --------------------------------------------------------------------------- computing

def content_validity(ratings, instrument=None, *, relevant_min: int = 3, lo: int = 1, hi: int = 4,
                     level: float = 0.95, i_cvi_min: float = I_CVI_MIN, v_lower_min: float = V_LOWER_MIN,
                     s_cvi_ave_min: float = S_CVI_AVE_MIN, s_cvi_ua_min: float = S_CVI_UA_MIN) -> CVIResult:
    """Content-validity statistics from a panel's ratings.

    Parameters
    ----------
    ratings : pandas.DataFrame
        Long format, one row per expert and item: ``expert``, ``item``, ``relevance`` (``lo`` to
        ``hi``, blank if not rated), and optionally ``dimension`` (the expert's sorting: a
        dimension code, or ``"none"``), ``clarity`` and ``comment``. :func:`read_ratings` builds
        it from completed forms or tables.
    instrument : Instrument, name or path, optional
        Gives each item's intended dimension (for the sorting agreement) and the scales for the
        S-CVIs. Without it, only item statistics and the all-items S-CVI are computed.
    relevant_min : int
        Ratings at or above this count as relevant for the I-CVI (3: "quite" or "highly").
    lo, hi : int
        The rating scale's range, for Aiken's V.
    level : float
        Confidence level of Aiken's V interval.
    i_cvi_min, v_lower_min, s_cvi_ave_min, s_cvi_ua_min : float
        Flag thresholds (defaults: .78, .50, .90, .80).

    Returns
    -------
    CVIResult
        ``items`` columns: ``dimension`` (intended), ``n_experts``, ``n_relevant``, ``i_cvi``,
        ``pc``, ``kappa``, ``kappa_rating``, ``mean_relevance``, ``aiken_v``, ``v_lower``,
        ``v_upper``, ``n_sorted``, ``p_sa``, ``c_sv``, ``most_sorted_to``, ``mean_clarity``,
        ``flags``. ``scales`` columns: ``n_items``, ``s_cvi_ave``, ``s_cvi_ua``, ``flags``.

    Notes
    -----
    Formulas in the module docstring. An expert who left an item's relevance blank is not
    counted for that item (N differs between items); S-CVI/UA counts an item as universally
    agreed when every expert who rated it gave 3 or 4.

    Examples
    --------
    >>> import pandas as pd
    >>> r = pd.DataFrame({"expert": ["a", "b", "c"] * 2, "item": ["q1"] * 3 + ["q2"] * 3,
    ...                   "relevance": [4, 3, 4, 2, 4, 3]})
    >>> res = content_validity(r)
    >>> res.items["i_cvi"].round(2).tolist(), float(res.scales.loc["all items", "s_cvi_ua"])
    ([1.0, 0.67], 0.5)
    """
    import pandas as pd

    from .spec import load_instrument

    inst = None if instrument is None else load_instrument(instrument)
    df = _check_ratings(ratings, inst, lo, hi)
    experts = list(dict.fromkeys(df["expert"]))
    rows = {}
    item_order = [i for i in (inst.items if inst is not None else []) if i in set(df["item"])]
    item_order += [i for i in dict.fromkeys(df["item"]) if i not in item_order]
    for iid in item_order:
        sub = df[df["item"] == iid]
        rel = sub["relevance"].to_numpy(dtype=float)
        rel = rel[~np.isnan(rel)]
        n = int(rel.size)
        a = int((rel >= relevant_min).sum())
        intended = inst.items[iid].dimension if inst is not None else None
        row = {"dimension": intended or "", "n_experts": n, "n_relevant": a}
        if n:
            pc, k = modified_kappa(a, n)
            v, v_lo, v_hi = aiken_v(rel, lo, hi, level)
            row.update(i_cvi=a / n, pc=pc, kappa=k, kappa_rating=kappa_rating(k), mean_relevance=float(rel.mean()),
                       aiken_v=v, v_lower=v_lo, v_upper=v_hi)
        else:
            row.update(i_cvi=np.nan, pc=np.nan, kappa=np.nan, kappa_rating="", mean_relevance=np.nan,
                       aiken_v=np.nan, v_lower=np.nan, v_upper=np.nan)
        if "dimension" in sub and intended:
            p_sa, c_sv, n_sorted, top = sorting_agreement(sub["dimension"].tolist(), intended)
        else:
            p_sa, c_sv, n_sorted, top = np.nan, np.nan, 0, ""
        row.update(n_sorted=n_sorted, p_sa=p_sa, c_sv=c_sv, most_sorted_to=top)
        clarity = sub["clarity"].to_numpy(dtype=float) if "clarity" in sub else np.array([])
        clarity = clarity[~np.isnan(clarity)]
        row["mean_clarity"] = float(clarity.mean()) if clarity.size else np.nan
        flags = []
        if n and row["i_cvi"] < i_cvi_min:
            flags.append(f"I-CVI {row['i_cvi']:.2f} < {i_cvi_min:.2f}")
        if n and row["kappa"] < 0.60:
            flags.append(f"kappa {row['kappa']:.2f} ({row['kappa_rating']})")
        if n and row["v_lower"] < v_lower_min:
            flags.append(f"Aiken's V lower limit {row['v_lower']:.2f} < {v_lower_min:.2f}")
        if n_sorted and c_sv <= 0:
            flags.append(f"sorted elsewhere (most chose {top}; c_sv {c_sv:.2f})")
        if not n:
            flags.append("not rated")
        row["flags"] = "; ".join(flags)
        rows[iid] = row
    items = pd.DataFrame.from_dict(rows, orient="index")
    items.index.name = "item"
    scales = _scale_table(items, df, inst, relevant_min, s_cvi_ave_min, s_cvi_ua_min)
    notes = []
    if len(experts) < 3:
        notes.append(f"note: only {len(experts)} expert(s); Polit, Beck & Owen (2007) recommend at least 3, "
                     "and I-CVIs are very coarse below 6")
    if inst is not None:
        unrated = [i for i in inst.items if i not in rows and i not in inst.screening_items()]
        if unrated:
            notes.append(f"note: {len(unrated)} item(s) of {inst.name} were not rated: " + ", ".join(unrated[:10])
                         + (" ..." if len(unrated) > 10 else ""))
    comments = [(str(r.expert), str(r.item), str(r.comment)) for r in df.itertuples()
                if "comment" in df and isinstance(r.comment, str) and r.comment.strip()]
    thresholds = {"relevant_min": relevant_min, "lo": lo, "hi": hi, "level": level, "i_cvi_min": i_cvi_min,
                  "v_lower_min": v_lower_min, "s_cvi_ave_min": s_cvi_ave_min, "s_cvi_ua_min": s_cvi_ua_min}
    return CVIResult(inst.name if inst is not None else "ratings", items, scales, experts, thresholds, comments, notes)


def _scale_table(items, df, inst, relevant_min, ave_min, ua_min):
    import pandas as pd

    universal = {}
    for iid, sub in df.groupby("item", sort=False):
        rel = sub["relevance"].dropna()
        universal[iid] = bool(len(rel)) and bool((rel >= relevant_min).all())
    groups: dict[str, list[str]] = {}
    if inst is not None:
        for s in inst.scales:
            groups[s.name] = [i for i in s.items if i in items.index]
    groups["all items"] = list(items.index)
    rows = {}
    for name, ids in groups.items():
        rated = [i for i in ids if items.loc[i, "n_experts"] > 0]
        if not rated:
            continue
        ave = float(items.loc[rated, "i_cvi"].mean())
        ua = float(np.mean([universal[i] for i in rated]))
        flags = []
        if ave < ave_min:
            flags.append(f"S-CVI/Ave {ave:.2f} < {ave_min:.2f}")
        if ua < ua_min:
            flags.append(f"S-CVI/UA {ua:.2f} < {ua_min:.2f}")
        rows[name] = {"n_items": len(rated), "s_cvi_ave": ave, "s_cvi_ua": ua, "flags": "; ".join(flags)}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "scale"
    return out


def _check_ratings(ratings, inst, lo, hi):
    """Long ratings checked: known items, ratings in range, one row per expert and item,
    dimension answers that name a dimension (code or label) or "none"."""
    import pandas as pd

    if not isinstance(ratings, pd.DataFrame):
        raise PeerscaleError("ratings must be a table with columns expert, item, relevance")
    df = ratings.copy()
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = [c for c in ("expert", "item", "relevance") if c not in df.columns]
    if missing:
        raise PeerscaleError(f"the ratings have no {', '.join(repr(m) for m in missing)} column",
                             hint="long format: one row per expert and item with columns expert, item, relevance "
                                  "[, dimension, clarity, comment]")
    if df.empty:
        raise PeerscaleError("the ratings table is empty")
    df["expert"] = df["expert"].astype("string").str.strip()
    df["item"] = df["item"].astype("string").str.strip()
    if df["expert"].isna().any() or (df["expert"] == "").any():
        row = int(np.flatnonzero((df["expert"].isna() | (df["expert"] == "")).to_numpy())[0]) + 1
        raise PeerscaleError("a rating has no expert code", row=row, column="expert")
    for col in ("relevance", "clarity"):
        if col not in df:
            continue
        num = pd.to_numeric(df[col], errors="coerce")
        bad = df[col].notna() & (df[col].astype("string").str.strip() != "") & (num.isna() | (num < lo) | (num > hi)
                                                                                 | (num != num.round()))
        if bad.any():
            r = int(np.flatnonzero(bad.to_numpy())[0])
            raise PeerscaleError(f"{col} must be a whole number from {lo} to {hi}", row=r + 1, column=col,
                                 value=str(df[col].iloc[r]),
                                 hint=f"{lo} = {RELEVANCE.get(lo, lo)} ... {hi} = {RELEVANCE.get(hi, hi)}; leave blank if not rated")
        df[col] = num.astype(float)
    dup = df.duplicated(["expert", "item"], keep=False)
    if dup.any():
        r = int(np.flatnonzero(dup.to_numpy())[0])
        raise PeerscaleError(f"expert {df['expert'].iloc[r]!r} rated item {df['item'].iloc[r]!r} twice", row=r + 1)
    if inst is not None:
        unknown = sorted(set(df["item"]) - set(inst.items))
        if unknown:
            raise PeerscaleError(f"{len(unknown)} rated item(s) are not in {inst.name}: {', '.join(unknown[:8])}",
                                 hint="rate the items of the instrument the form was written for (peerscale cvi-form NAME)")
        if "dimension" in df:
            df["dimension"] = [_dimension_code(v, inst, n) for n, v in enumerate(df["dimension"], start=1)]
    elif "dimension" in df:
        df["dimension"] = [None if _blank(v) else str(v).strip() for v in df["dimension"]]
    return df


def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and v != v) or str(v).strip() == "" or str(v) == "<NA>"


def _dimension_code(value, inst, row: int):
    if _blank(value):
        return None
    text = str(value).strip()
    if text.lower() in (NONE, "no dimension", "none of these", "n/a"):
        return NONE
    for code, d in inst.dimensions.items():
        if text.upper() == code.upper() or text.lower() == str(d.get("label", "")).lower():
            return code
        if text.lower().startswith(code.lower() + " ") or text.lower().startswith(code.lower() + ":"):
            return code  # "SHARE: Shared-experience relatability", as the form's drop-down shows
    raise PeerscaleError(f"dimension {text!r} is not a dimension of {inst.name}", row=row, column="dimension",
                         value=text, hint="codes: " + ", ".join(inst.dimensions) + ", or none")


# --------------------------------------------------------------------------- the rating form

def _rated_items(inst) -> list[str]:
    screens = set(inst.screening_items())
    return [i for i, it in inst.items.items() if i not in screens and it.dimension]


def write_rating_form(instrument, path, *, seed: int | None = 1, force: bool = False, protect=()) -> Path:
    """An Excel form for one expert: instructions, the dimensions with their definitions, one
    row per item (in a shuffled order, so the bank's grouping does not give the dimension away)
    with drop-down lists for relevance (1–4), dimension (code or none) and clarity (1–4), a
    comment column, and a sheet asking what each dimension is missing.

    ``seed`` fixes the shuffle (``None`` keeps the bank's order). The item id column lets
    :func:`read_ratings` read the completed form back whatever the row order.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill, Protection
    from openpyxl.worksheet.datavalidation import DataValidation

    from .io.write import atomic_write, escape_formula_text
    from .spec import load_instrument

    inst = load_instrument(instrument)
    ids = _rated_items(inst)
    if not ids:
        raise PeerscaleError(f"{inst.name} has no items with a dimension to rate")
    if seed is not None:
        random.Random(seed).shuffle(ids)
    safe = escape_formula_text
    wb = Workbook()
    ws = wb.active
    ws.title = "Instructions"
    bold = Font(bold=True)
    intro = [
        (f"Expert review of {inst.title} ({inst.name} {inst.version})", bold),
        ("", None),
        ("Thank you for reviewing these draft items. Please work through the Ratings sheet.", None),
        ("1. Relevance: how relevant is the item to what this instrument measures? "
         "1 = not relevant, 2 = somewhat relevant, 3 = quite relevant, 4 = highly relevant.", None),
        ("2. Dimension: which one dimension (see the Dimensions sheet) does the item measure best? "
         "Choose 'none' if it fits none of them.", None),
        ("3. Clarity (optional): how clear is the wording for the people who will answer it? 1 = not clear ... 4 = very clear.", None),
        ("4. Comment: anything about the wording, meaning or fit.", None),
        ("5. On the Missing sheet, say what each dimension is missing, if anything.", None),
        ("", None),
        ("Write your name or code in cell B3 of the Ratings sheet. Items appear in a mixed order on purpose.", None),
        ("", None),
        (FORM_MARK + ": do not change the item column of the Ratings sheet.", Font(italic=True, color="808080")),
    ]
    for n, (text, font) in enumerate(intro, start=1):
        cell = ws.cell(row=n, column=1, value=safe(text))
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if font:
            cell.font = font
    ws.column_dimensions["A"].width = 110

    dims = wb.create_sheet("Dimensions")
    dims.append(["code", "dimension", "definition"])
    for code, d in inst.dimensions.items():
        dims.append([code, safe(d.get("label", code)), safe(d.get("definition", ""))])
    dims.append([NONE, "None of these", "The item measures none of the dimensions above."])
    for col, width in zip("ABC", (12, 40, 100)):
        dims.column_dimensions[col].width = width
    for row in dims.iter_rows(min_row=2):
        row[2].alignment = Alignment(wrap_text=True, vertical="top")

    rs = wb.create_sheet(FORM_SHEET, 1)
    rs["A1"] = FORM_MARK
    rs["A1"].font = Font(italic=True, color="808080")
    rs["C1"] = safe(f"{inst.name} {inst.version}")
    rs["A3"] = "Expert name or code:"
    rs["A3"].font = bold
    rs["B3"].fill = PatternFill("solid", fgColor="FFF2CC")
    header = ["item", "#", "item as respondents read it", "relevance (1-4)", "dimension", "clarity (1-4)", "comment"]
    rs.append([])
    rs.append(header)
    for c in rs[5]:
        c.font = bold
    first = 6
    for n, iid in enumerate(ids, start=1):
        rs.append([iid, n, safe(inst.item_text(iid)), None, None, None, None])
    last = first + len(ids) - 1
    rel = DataValidation(type="whole", operator="between", formula1="1", formula2="4", allow_blank=True,
                         showErrorMessage=True, errorTitle="Relevance", error="Enter 1, 2, 3 or 4.")
    cla = DataValidation(type="whole", operator="between", formula1="1", formula2="4", allow_blank=True,
                         showErrorMessage=True, errorTitle="Clarity", error="Enter 1, 2, 3 or 4.")
    dim_list = DataValidation(type="list", formula1=f"=Dimensions!$A$2:$A${len(inst.dimensions) + 2}",
                              allow_blank=True, showErrorMessage=True, errorTitle="Dimension",
                              error="Choose a code from the Dimensions sheet, or none.")
    for dv, col in ((rel, "D"), (dim_list, "E"), (cla, "F")):
        rs.add_data_validation(dv)
        dv.add(f"{col}{first}:{col}{last}")
    for col, width in zip("ABCDEFG", (20, 5, 70, 15, 14, 13, 50)):
        rs.column_dimensions[col].width = width
    for row in rs.iter_rows(min_row=first, max_row=last):
        row[2].alignment = Alignment(wrap_text=True, vertical="top")
        for cell in row[3:]:
            cell.fill = PatternFill("solid", fgColor="FFF2CC")
            cell.protection = Protection(locked=False)
    rs.freeze_panes = f"D{first}"

    miss = wb.create_sheet("Missing")
    miss.append(["code", "dimension", "What is missing from this dimension? (optional)"])
    for code, d in inst.dimensions.items():
        miss.append([code, safe(d.get("label", code)), None])
    miss.append(["(all)", "The instrument as a whole", None])
    for col, width in zip("ABC", (12, 40, 90)):
        miss.column_dimensions[col].width = width

    return atomic_write(path, lambda tmp: wb.save(tmp), force=force, protect=protect)


def read_ratings(paths, instrument=None):
    """Ratings in long format (expert, item, relevance, dimension, clarity, comment) from one or
    more files: completed forms from :func:`write_rating_form` (one expert each), or tables
    (CSV or Excel) in long format (``expert, item, relevance[, dimension, clarity, comment]``)
    or wide format (``item`` and one relevance column per expert).

    Returns ``(ratings, notes)``; ``notes`` say, e.g., which form had no expert code (its file
    name is used instead).
    """
    import pandas as pd

    frames, notes = [], []
    seen_experts: dict[str, str] = {}
    for p in [Path(x) for x in ([paths] if isinstance(paths, (str, Path)) else paths)]:
        if not p.is_file():
            from .io.source import check_input

            check_input(p, "ratings file")  # says what it is: missing, a directory, a device
            raise PeerscaleError("ratings file not found", file=str(p))  # a pipe: the forms are workbooks
        form = _read_form(p, notes) if p.suffix.lower() in (".xlsx", ".xlsm") else None
        df = form if form is not None else _read_table(p)
        for e in dict.fromkeys(df["expert"]):
            if e in seen_experts and seen_experts[e] != str(p):
                raise PeerscaleError(f"expert {e!r} appears in two files ({seen_experts[e]} and {p})",
                                     hint="give each expert a different code")
            seen_experts[e] = str(p)
        frames.append(df)
    if not frames:
        raise PeerscaleError("no ratings files given")
    return pd.concat(frames, ignore_index=True), notes


def _read_form(path: Path, notes: list[str]):
    import pandas as pd
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise PeerscaleError(f"cannot read the Excel file: {exc}", file=str(path)) from None
    if FORM_SHEET not in wb.sheetnames or wb[FORM_SHEET]["A1"].value != FORM_MARK:
        wb.close()
        return None
    ws = wb[FORM_SHEET]
    expert = ws["B3"].value
    if _blank(expert):
        expert = path.stem
        notes.append(f"note: {path.name} has no expert code in B3; the file name {expert!r} is used")
    rows = list(ws.iter_rows(min_row=6, values_only=True))
    wb.close()
    out = []
    for n, r in enumerate(rows, start=6):
        r = list(r) + [None] * (7 - len(r))
        if _blank(r[0]):
            continue
        out.append({"expert": str(expert).strip(), "item": str(r[0]).strip(), "relevance": r[3],
                    "dimension": r[4], "clarity": r[5], "comment": r[6], "_row": n})
    if not out:
        raise PeerscaleError("the form lists no items", file=str(path))
    return pd.DataFrame(out).drop(columns="_row")


def _read_table(path: Path):
    import pandas as pd

    from .io import read_table

    try:
        data = read_table(path).data
    except PeerscaleError:
        raise
    cols = {str(c).strip().lower(): c for c in data.columns}
    if "item" not in cols:
        raise PeerscaleError("the ratings table has no 'item' column", file=str(path),
                             hint="long format: expert, item, relevance[, dimension, clarity, comment]; "
                                  "wide format: item and one column of relevance ratings per expert")
    if "expert" in cols:
        data = data.rename(columns={v: k for k, v in cols.items()})
        return data
    # wide: item + one column per expert
    experts = [c for c in data.columns if str(c).strip().lower() not in ("item", "text", "#", "dimension")]
    if not experts:
        raise PeerscaleError("the ratings table has an item column but no expert columns", file=str(path))
    long = data.melt(id_vars=[cols["item"]], value_vars=experts, var_name="expert", value_name="relevance")
    long = long.rename(columns={cols["item"]: "item"})
    long["expert"] = long["expert"].astype(str)
    return long[["expert", "item", "relevance"]]


__all__ = ["aiken_v", "chance_agreement", "content_validity", "kappa_rating", "modified_kappa", "read_ratings",
           "sorting_agreement", "write_rating_form", "CVIResult"]
