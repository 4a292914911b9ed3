"""Collect the numbers a report shows: sample, scoring outcome, score distributions, bands,
change between waves, item response distributions and missingness (and, with validation,
the psychometrics of :mod:`peerscale.report.validation`).

Everything here summarises; nothing lists respondents, so the report's size depends on the
number of items and scales, not on the number of rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import PeerscaleError
from ..scoring import BLANK, INVALID, ScoreResult, score_data
from ..spec import Instrument, Scale

HIST_BINS = 16
# item-analysis flag thresholds (itemstats' defaults; Nunnally & Bernstein 1994 for r_drop)
MIN_R_DROP, MAX_FLOOR_PCT, MAX_CEILING_PCT = 0.30, 50.0, 50.0
WAVE_COLUMNS = ("redcap_event_name",)


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
    validation: dict | None = None
    methods: str = ""
    command: str = ""
    notes: list[str] = field(default_factory=list)
    irt: list[dict] = field(default_factory=list)  # scales with a frozen IRT bank (report/irt_section.py)


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


def _histogram(values: np.ndarray, rng: tuple[float, float] | None) -> dict:
    if rng is None:
        rng = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    lo, hi = rng
    if hi <= lo:
        hi = lo + 1.0
    counts, edges = np.histogram(values, bins=HIST_BINS, range=(lo, hi))
    return {"counts": counts.tolist(), "edges": edges.tolist()}


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
        row["histogram"] = _histogram(finite, row["range"])
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
           id_column: str | None) -> dict | None:
    if wave_column is None:
        return None
    waves_col = data[wave_column].astype("string")[mask].reset_index(drop=True)
    scores = result.scores[mask].reset_index(drop=True)
    order = [w for w in pd.unique(waves_col.dropna())]
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


def _respondent_id(result: ScoreResult, data: pd.DataFrame, wave_column: str | None) -> str | None:
    for c in result.id_columns:
        if c != wave_column and not c.startswith("redcap_") and c in data.columns:
            return c
    return None


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


def _item_flags(result: ScoreResult, mask: np.ndarray, items: list[dict], notes: list[str]) -> dict | None:
    """Flags of :func:`peerscale.psychometrics.itemstats.item_analysis` per dimension scale
    (composites repeat their scales' items), stored on each item as ``(scale, flag, message)``;
    returns the rules, or None when no scale could be analysed."""
    from ..psychometrics.itemstats import item_analysis

    inst, clean = result.instrument, result.items
    answered = pd.DataFrame(clean.values[mask], columns=clean.item_ids)
    by_id = {it["id"]: it for it in items}
    rules = None
    for s in inst.scales:
        if s.composite:
            continue
        rss = {i: inst.items[i].response_scale for i in s.items}
        ranges = {i: (rs.min, rs.max) for i, rs in rss.items()} if all(rs.has_range for rs in rss.values()) else None
        try:
            res = item_analysis(answered[list(s.items)], list(s.keys), value_range=ranges, min_r_drop=MIN_R_DROP,
                                max_floor=MAX_FLOOR_PCT, max_ceiling=MAX_CEILING_PCT)
        except PeerscaleError as exc:
            notes.append(f"Item analysis of {s.name} could not be run: {exc.message}")
            continue
        rules = res.rules
        for iid, found in res.flags.items():
            by_id[iid]["flags"].extend((s.name, flag, message) for flag, message in found)
    return rules


# --------------------------------------------------------------------------- entry point

def build_report(data: pd.DataFrame, instrument: Instrument | str, *, id_columns=None, on_invalid: str = "error",
                 min_answered: float | None = None, value_labels: dict | None = None,
                 missing_values: dict | None = None, in_scope=None, wave_column: str | None = None,
                 source: str | None = None, validate: bool = False, validation_options: dict | None = None,
                 quiet: bool = True, command: str = "") -> Report:
    """Score ``data`` with ``instrument`` and collect the report's numbers.

    ``wave_column``: a column naming the measurement occasion (default: ``redcap_event_name``
    when present); changes are paired on the first non-REDCap id column. ``validate`` adds the
    psychometrics (see :func:`peerscale.report.validation.collect_validation`).
    """
    from .. import __version__
    from ..spec import load_instrument

    instrument = instrument if isinstance(instrument, Instrument) else load_instrument(instrument)
    if wave_column is not None and wave_column not in data.columns:
        raise PeerscaleError("wave column not in the data", column=wave_column, file=source,
                             hint="columns are: " + ", ".join(map(str, data.columns[:20])))
    if wave_column is None:
        wave_column = next((c for c in WAVE_COLUMNS if c in data.columns), None)
    ids = list(id_columns or [])
    if wave_column and ids and wave_column not in ids:
        ids.append(wave_column)
    result = score_data(data, instrument, id_columns=ids or None, on_invalid=on_invalid, min_answered=min_answered,
                        value_labels=value_labels, missing_values=missing_values, in_scope=in_scope, file=source)
    instrument = result.instrument
    mask = np.ones(len(data), dtype=bool) if in_scope is None else np.asarray(in_scope, dtype=bool)
    n = int(mask.sum())
    if n == 0:
        raise PeerscaleError("the data have no rows to report on", file=source)
    id_col = _respondent_id(result, data, wave_column)
    sample = {
        "n_rows": len(data), "n_in_scope": n, "n_out_of_scope": len(data) - n,
        "id_columns": result.id_columns, "respondent_id": id_col,
        "n_respondents": int(data[id_col][mask].nunique()) if id_col else None,
        "invalid_values": result.summary["invalid_values"], "invalid_handling": on_invalid,
        "warnings": list(result.summary["warnings"]),
        "n_fully_empty": int(np.isnan(result.items.values[mask]).all(axis=1).sum()),
    }
    items, groups = _items(result, mask)
    report = Report(
        meta={"instrument": instrument.name, "title": instrument.title, "version": instrument.version,
              "status": instrument.status, "source": source, "peerscale": __version__,
              "n_items": len(result.items.item_ids), "dimensions": instrument.dimensions},
        sample=sample, scales=_scale_rows(result, mask), missing_reasons=_missing_reasons(result),
        waves=_waves(result, data, mask, wave_column, id_col), item_groups=groups, items=items,
        command=command,
    )
    # item flags and validation use one wave (the first) so that each respondent counts once
    analysed, note = mask, None
    if report.waves and len(report.waves["waves"]) > 1:
        first = report.waves["waves"][0]
        analysed = mask & (data[wave_column].astype("string") == first).fillna(False).to_numpy(dtype=bool)
        note = f"first wave only, {wave_column} = {first}, so each respondent counts once"
    if instrument.irt:
        from .irt_section import collect_irt

        report.irt = collect_irt(result, instrument, mask)
    report.flag_rules = _item_flags(result, analysed, items, report.notes)
    report.flags_note = note
    if validate:
        from .validation import collect_validation

        responses = pd.DataFrame(result.items.values[mask], columns=result.items.item_ids)
        rows = None if note is None else analysed[mask]
        report.validation = collect_validation(responses, result, quiet=quiet, rows=rows, rows_note=note,
                                               **(validation_options or {}))
    from .methods import methods_paragraph

    report.methods = methods_paragraph(report, instrument)
    return report
