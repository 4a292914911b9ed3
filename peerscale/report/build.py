"""Collect the numbers a report shows: sample, scoring outcome, score distributions, bands,
change between waves, item response distributions and missingness, item flags (and, with
validation, the analyses of :mod:`peerscale.analyses`, exactly as the ``reliability``,
``items``, ``efa`` and ``cfa`` commands compute them).

Everything here summarises; nothing lists respondents, so the report's size depends on the
number of items and scales, not on the number of rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import PeerscaleError
from ..scoring import BLANK, INVALID, ScoreResult
from ..spec import Instrument, Scale

HIST_BINS = 16


@dataclass
class Report:
    """Everything the HTML and Markdown renderers need, as plain numbers and text."""

    meta: dict
    sample: dict
    scales: list[dict]
    missing_reasons: dict
    waves: dict | None
    item_groups: list[dict]
    items: list[dict]
    flag_rules: dict | None = None
    flags_note: str | None = None
    item_analysis: dict | None = None
    validation: dict | None = None
    methods: str = ""
    command: str = ""
    notes: list[str] = field(default_factory=list)
    irt: list[dict] = field(default_factory=list)  # scales with a frozen IRT bank (report/irt_section.py)
    scale_alpha: dict = field(default_factory=dict)  # {scale: {"alpha", "n"}} from the item analysis
    design: dict = field(default_factory=dict)  # dyads, nesting, reliable change (report/design_section.py)
    mediation: dict | None = None  # the theory-of-change model (report/mediation_section.py)

    def to_dict(self) -> dict:
        """The report's numbers as plain data (``peerscale report -o report.json``): the same
        numbers as the HTML; ``item_analysis``, ``reliability``, ``efa`` and ``cfa`` are keyed
        exactly as the ``items``, ``reliability``, ``efa`` and ``cfa`` commands' ``--json``."""
        v = self.validation or {}
        return {"meta": self.meta, "sample": self.sample, "scores": self.scales, "missing_reasons": self.missing_reasons,
                "waves": self.waves, "item_groups": self.item_groups, "items": self.items,
                "item_analysis": self.item_analysis, "reliability": v.get("reliability"), "efa": v.get("efa"),
                "cfa": v.get("cfa"), "validation": None if not v else {k: v[k] for k in ("sample", "notes")},
                "methods": self.methods, "command": self.command, "notes": self.notes,
                "mediation": self.mediation,
                **({"design": self.design} if self.design else {})}

    def to_html(self) -> str:
        """The report as one self-contained HTML page."""
        from .html import render_html

        return render_html(self)


# --------------------------------------------------------------------------- helpers

def _num(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def score_range(instrument: Instrument, scale: Scale) -> tuple[float, float] | None:
    """The possible range of a scale score from the items' declared ranges (None if undeclared)."""
    rss = [instrument.items[i].response_scale for i in scale.items]
    if not all(rs.has_range for rs in rss):
        return None
    lo, hi = min(rs.min for rs in rss), max(rs.max for rs in rss)
    if scale.method == "mean":
        return lo, hi
    k = len(scale.items)
    return (k * lo, k * hi) if scale.prorate else (min(0.0, k * lo), k * hi)


MAX_BINS = 40


def score_step(instrument: Instrument, scale: Scale) -> float | None:
    """How far apart the scores a scale can take lie when every item is answered: the step
    between response codes (1 for 1..5) divided by the number of items for a mean (a mean of 7
    items moves in sevenths), the code step for a sum; None when the items have no discrete codes."""
    from fractions import Fraction
    from math import gcd

    num, den = 0, 1
    for iid in scale.items:
        rs = instrument.items[iid].response_scale
        if rs.codes:
            codes = sorted(rs.codes)
        elif rs.has_range and float(rs.min).is_integer() and float(rs.max).is_integer() and rs.max - rs.min <= 100:
            codes = [float(c) for c in range(int(rs.min), int(rs.max) + 1)]
        else:
            return None
        for a, b in zip(codes, codes[1:]):
            f = Fraction(b - a).limit_denominator(1000)
            # gcd of fractions: gcd(n1/d1, n2/d2) = gcd(n1*d2, n2*d1) / (d1*d2)
            num, den = gcd(num * f.denominator, f.numerator * den), den * f.denominator
            g = gcd(num, den) or 1
            num, den = num // g, den // g
    if num == 0:
        return None
    step = num / den
    return step / len(scale.items) if scale.method == "mean" else step


def _histogram(values: np.ndarray, rng: tuple[float, float] | None, step: float | None = None) -> dict:
    """Bins centred on the scores the scale can take (``step`` apart), ``m`` of them per bar so
    that there are at most :data:`MAX_BINS` bars, with ``m`` dividing their number where it
    can: equal bars never hold 1 and 2 possible scores by turns (fixed 0.25-wide bins on means
    of 7 items did, which drew dips beside the mean). Without a step: 16 equal bins."""
    if rng is None:
        rng = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    lo, hi = rng
    if step is not None and hi > lo:
        n_values = int(round((hi - lo) / step)) + 1
        fitting = [m for m in range(1, n_values + 1) if -(-n_values // m) <= MAX_BINS]
        divisors = [m for m in fitting if n_values % m == 0 and n_values // m >= 8]
        per_bin = divisors[0] if divisors else fitting[0]
        n_bins = -(-n_values // per_bin)
        edges = lo - step / 2 + per_bin * step * np.arange(n_bins + 1)
        counts, _ = np.histogram(values, bins=edges)
        return {"counts": counts.tolist(), "edges": edges.tolist(), "step": step, "per_bin": per_bin}
    if hi <= lo:
        hi = lo + 1.0
    counts, edges = np.histogram(values, bins=HIST_BINS, range=(lo, hi))
    return {"counts": counts.tolist(), "edges": edges.tolist(), "step": None, "per_bin": None}


def _describe(values: np.ndarray) -> dict:
    n = values.size
    if not n:
        return {"n": 0, "mean": None, "sd": None, "min": None, "q1": None, "median": None, "q3": None, "max": None}
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return {"n": int(n), "mean": float(values.mean()), "sd": _num(values.std(ddof=1)) if n > 1 else None,
            "min": float(values.min()), "q1": float(q1), "median": float(med), "q3": float(q3),
            "max": float(values.max())}


# --------------------------------------------------------------------------- scoring section

def _scale_rows(result: ScoreResult, mask: np.ndarray) -> list[dict]:
    inst, scores = result.instrument, result.scores
    rows = []
    for scale in inst.scales:
        score = scores[scale.name].to_numpy(dtype="float64", na_value=np.nan)[mask]
        answered = scores[f"{scale.name}_n"].to_numpy(dtype="float64", na_value=np.nan)[mask]
        scored = ~np.isnan(score)
        finite = score[scored]
        row = {
            "name": scale.name, "label": scale.label, "composite": scale.composite, "rule": scale.rule_text(),
            "n_items": len(scale.items), "n_reverse": int(sum(k < 0 for k in scale.keys)),
            "required": scale.required, "method": scale.method, "prorate": scale.prorate,
            "n_scored": int(scored.sum()), "n_none_answered": int(((answered == 0) & ~scored).sum()),
            "n_too_few": int(((answered > 0) & ~scored).sum()),
            "range": score_range(inst, scale), **{"stats": _describe(finite)},
        }
        row["histogram"] = _histogram(finite, row["range"], score_step(inst, scale))
        if scale.name in inst.bands:
            on, bands = inst.bands[scale.name]
            col = scores[f"{scale.name}_band"][mask]
            counts = col.value_counts(dropna=True)
            n_banded = int(counts.sum())
            row["bands"] = {
                "on": on,
                "rows": [{"label": b.label, "min": b.min, "max": b.max, "n": int(counts.get(b.label, 0)),
                          "pct": 100.0 * int(counts.get(b.label, 0)) / n_banded if n_banded else None}
                         for b in bands],
                "n_outside": int(scored.sum()) - n_banded if on == "score" else None,
            }
        rows.append(row)
    return rows


def _missing_reasons(result: ScoreResult) -> dict:
    """{reason: {scale: count of missing answers}} over each scale's items (missing codes by
    reason, blanks, invalid values set to missing)."""
    inst, miss = result.instrument, result.items.missing
    reasons: dict[str, dict[str, int]] = {}
    for scale in inst.scales:
        for iid in scale.items:
            for reason, k in miss.get(iid, {}).items():
                reasons.setdefault(reason, {})[scale.name] = reasons.get(reason, {}).get(scale.name, 0) + k
    order = sorted(reasons, key=lambda r: (r == INVALID, r == BLANK, r))
    return {r: reasons[r] for r in order}


# --------------------------------------------------------------------------- waves

def _paired_change(base: pd.DataFrame, later: pd.DataFrame, id_col: str, scale: str) -> dict:
    """Change from ``base`` to ``later`` for respondents (by ``id_col``) scored at both.

    Mean change with a t-based 95% CI, SD of the change and Cohen's d_z = mean change / SD of
    change (the standardised mean difference for paired data; Cohen 1988; Lakens 2013).
    """
    from scipy import stats

    a = base[[id_col, scale]].dropna()
    b = later[[id_col, scale]].dropna()
    a = a[~a[id_col].duplicated(keep=False)]
    b = b[~b[id_col].duplicated(keep=False)]
    m = a.merge(b, on=id_col, suffixes=("_a", "_b"))
    d = (m[f"{scale}_b"] - m[f"{scale}_a"]).to_numpy(dtype=float)
    n = d.size
    out = {"n_paired": int(n), "mean_before": None, "mean_after": None, "mean_change": None, "sd_change": None,
           "ci": None, "dz": None}
    if n:
        out["mean_before"] = float(m[f"{scale}_a"].mean())
        out["mean_after"] = float(m[f"{scale}_b"].mean())
        out["mean_change"] = float(d.mean())
    if n > 1:
        sd = float(d.std(ddof=1))
        out["sd_change"] = sd
        half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
        out["ci"] = [out["mean_change"] - half, out["mean_change"] + half]
        out["dz"] = out["mean_change"] / sd if sd > 0 else None
    return out


def _waves(result: ScoreResult, data: pd.DataFrame, mask: np.ndarray, wave_column: str | None,
           id_column: str | None, order: list[str]) -> dict | None:
    """Scores by wave (in study order) and paired change from the first wave to each later one."""
    if wave_column is None:
        return None
    from ..design import id_text

    waves_col = id_text(data[wave_column], keep_leading_zeros=True)[mask].reset_index(drop=True)
    scores = result.scores[mask].reset_index(drop=True)
    if len(order) < 2:
        return {"column": wave_column, "waves": order, "id_column": id_column, "by_wave": {}, "changes": [],
                "note": f"only {len(order)} wave in {wave_column!r}: no change to show"}
    names = [s.name for s in result.instrument.scales]
    by_wave = {}
    for w in order:
        part = scores[waves_col == w]
        by_wave[w] = {s: _describe(part[s].to_numpy(dtype=float, na_value=np.nan)[
            ~np.isnan(part[s].to_numpy(dtype=float, na_value=np.nan))]) for s in names}
        by_wave[w]["_rows"] = int(len(part))
    changes = []
    if id_column is not None:
        ids = data[id_column].astype("string")[mask].reset_index(drop=True)
        frame = scores[names].copy()
        frame["_id"] = ids
        for w in order[1:]:
            base, later = frame[waves_col == order[0]], frame[waves_col == w]
            changes.append({"from": order[0], "to": w,
                            "scales": {s: _paired_change(base, later, "_id", s) for s in names}})
    return {"column": wave_column, "waves": order, "id_column": id_column, "by_wave": by_wave, "changes": changes,
            "note": None if id_column else "no respondent id column: waves are described but not paired"}


# --------------------------------------------------------------------------- items

def _categories(rs, values: np.ndarray) -> tuple[list[float], list[str]] | None:
    """Response categories low → high: the declared codes, else whole numbers of the declared
    range (≤ 11), else the observed values when there are at most 11; None otherwise."""
    if rs.codes:
        codes = sorted(rs.codes)
        return codes, [f"{rs.codes[c]}" for c in codes]
    if rs.has_range and float(rs.min).is_integer() and float(rs.max).is_integer() and rs.max - rs.min <= 10:
        codes = [float(c) for c in range(int(rs.min), int(rs.max) + 1)]
        return codes, [f"{c:g}" for c in codes]
    seen = np.unique(values[~np.isnan(values)])
    if 1 < seen.size <= 11:
        return seen.tolist(), [f"{c:g}" for c in seen]
    return None


def _items(result: ScoreResult, mask: np.ndarray) -> tuple[list[dict], list[dict]]:
    inst, clean = result.instrument, result.items
    n = int(mask.sum())
    reverse = {i for s in inst.scales for i, k in zip(s.items, s.keys) if k < 0}
    first_scale = {}
    for s in inst.scales:
        if not s.composite:
            for i in s.items:
                first_scale.setdefault(i, s)
    items = []
    for j, iid in enumerate(clean.item_ids):
        item = inst.items[iid]
        x = clean.values[mask, j]
        answered = ~np.isnan(x)
        cats = _categories(item.response_scale, x)
        counts = None
        if cats is not None:
            codes, _ = cats
            counts = [int(np.count_nonzero(x == c)) for c in codes]
        reasons = dict(clean.missing.get(iid, {}))
        if item.dimension:
            group = item.dimension
            group_label = inst.dimensions.get(item.dimension, {}).get("label", item.dimension)
        elif iid in first_scale:
            group, group_label = first_scale[iid].name, first_scale[iid].label
        else:
            group, group_label = "items", "Items"
        n_answered = int(answered.sum())
        items.append({
            "id": iid, "text": inst.item_text(iid), "dimension": item.dimension, "group": group,
            "group_label": group_label, "reverse": iid in reverse, "response_scale": item.response_scale.name,
            "categories": None if cats is None else cats[1], "codes": None if cats is None else cats[0],
            "counts": counts, "n_answered": n_answered, "n_missing": n - n_answered,
            "pct_missing": 100.0 * (n - n_answered) / n if n else None, "missing_by_reason": reasons,
            "mean": float(x[answered].mean()) if n_answered else None, "flags": [],
        })
    groups: dict[tuple, dict] = {}
    for it in items:
        key = (it["group"], it["response_scale"])
        g = groups.setdefault(key, {"group": it["group"], "label": it["group_label"],
                                    "response_scale": it["response_scale"], "categories": it["categories"],
                                    "items": []})
        g["items"].append(it["id"])
    return items, list(groups.values())


def _item_flags(items: list[dict], analysis) -> None:
    """Store each flag of the item analysis on its item as ``(scale, flag, message)``."""
    by_id = {it["id"]: it for it in items}
    for f in analysis.flags():
        by_id[f["item"]]["flags"].append((f["scale"], f["flag"], f["message"]))


# --------------------------------------------------------------------------- entry point

def build_report(responses, *, validate: bool = False, wave=None, min_answered=None, bootstrap: int = 1000,
                 iterations: int = 20, n_factors: int | None = None, seed: int = 1, missing: str | None = None,
                 quiet: bool = True, command: str = "", partner=None, mediation: bool | None = None) -> Report:
    """Score ``responses`` (a :class:`~peerscale.responses.Responses`) and collect the report's numbers.

    Scores, distributions, missingness and change cover every wave (the design's wave column,
    default ``redcap_event_name``; changes are paired on the respondent column). Item flags
    and the validation analyses (``validate``) use ``wave`` (default the first, so each
    respondent counts once), with the defaults of the ``items``, ``reliability``, ``efa`` and
    ``cfa`` commands (``bootstrap``, ``iterations``, ``seed``, ``n_factors``, ``missing`` as there).
    With a worker column in the design, clustering within workers; with two or more waves,
    reliable change per pair of consecutive waves; with ``partner`` (the other form's
    Responses), the agreement of the two forms (``peerscale dyads``).
    ``mediation`` (default: when the export holds the activity, relationship and outcome forms)
    adds the section "Does the relationship carry the outcomes?" on the same wave.
    """
    from .._version import __version__
    from ..analyses import item_analysis

    if not hasattr(responses, "score"):
        raise PeerscaleError("build_report needs the Responses of peerscale.read(...)",
                             hint="e.g. peerscale.read(path_or_frame, instrument).report()")
    result = responses.score(min_answered=min_answered)
    instrument = result.instrument
    data = responses.data.reset_index(drop=True)
    full = responses.rows if responses._rows is None else np.ones(len(data), dtype=bool)
    mask = np.asarray(full, dtype=bool)
    n = int(mask.sum())
    if n == 0:
        raise PeerscaleError("the data have no rows to report on", file=responses.source)
    design = responses.design
    id_col = design.respondent
    sample = {
        "rows": n, "respondents": int(data[id_col][mask].nunique()) if id_col else n, "waves": responses.waves,
        "n_rows": len(data), "n_in_scope": n, "n_out_of_scope": len(data) - n,
        "id_columns": result.id_columns, "respondent_id": id_col,
        "n_respondents": int(data[id_col][mask].nunique()) if id_col else None,
        "design": design.roles(), "design_source": design.source,
        "invalid_values": result.summary["invalid_values"], "invalid_handling": responses._base.on_invalid,
        "warnings": list(result.summary["warnings"]), "skipped_scales": responses.skipped_scales,
        "n_fully_empty": int(np.isnan(result.items.values[mask]).all(axis=1).sum()),
    }
    items, groups = _items(result, mask)
    report = Report(
        meta={"instrument": instrument.name, "title": instrument.title, "version": instrument.version,
              "status": instrument.status, "source": responses.source, "peerscale": __version__,
              "n_items": len(result.items.item_ids), "dimensions": instrument.dimensions},
        sample=sample, scales=_scale_rows(result, mask), missing_reasons=_missing_reasons(result),
        waves=_waves(result, data, mask, design.wave, id_col, responses.waves), item_groups=groups, items=items,
        command=command,
    )
    if instrument.irt:
        from .irt_section import collect_irt

        report.irt = collect_irt(result, instrument, mask)
    # item flags and validation use one wave (the first by default) so each respondent counts once
    view = responses._view(wave)
    flags = item_analysis(view)
    _item_flags(items, flags)
    for name, msg in flags.errors.items():
        report.notes.append(f"Item analysis of {name} could not be run: {msg}")
    report.item_analysis = flags.to_dict()
    report.flag_rules = flags.rules
    report.flags_note = flags.sample["note"]
    for name, a in (report.item_analysis or {}).get("scales", {}).items():  # for the Findings
        if isinstance(a, dict) and a.get("alpha") is not None:
            report.scale_alpha[name] = {"alpha": float(a["alpha"]), "n": a.get("n_rows")}
    from .design_section import collect_design

    design_notes: list = []
    report.design = {k: v for k, v in collect_design(responses, view, partner, design_notes).items() if v}
    report.notes += design_notes
    if validate:
        from .validation import collect_validation

        report.validation = collect_validation(view, bootstrap=bootstrap, iterations=iterations,
                                               n_factors=n_factors, seed=seed, missing=missing, quiet=quiet)
    if mediation is not False and responses.source is not None:
        from .mediation_section import collect_mediation

        report.mediation, note = collect_mediation(responses, wave=wave, bootstrap=bootstrap, seed=seed, quiet=quiet)
        if note:
            report.notes.append(note)
    from .methods import methods_paragraph

    report.methods = methods_paragraph(report, instrument)
    return report
