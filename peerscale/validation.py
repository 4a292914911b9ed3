"""Check an export against an instrument without scoring (``peerscale validate``).

Problems: item columns missing from scales that are otherwise present, values outside the
response scales, duplicate ids. Notes: scales with none of their items (optional forms, not
scored), fully empty rows, missing answers by reason.
"""

from __future__ import annotations

from .errors import PeerscaleError, plain


def validate_export(source, instrument=None, *, scales=None, map=None, redcap_dictionary=None, missing_codes=None,
                    design=None, encoding=None, sheet=None, input_format=None, id_columns=None) -> dict:
    """Everything :func:`peerscale.read` would stop at or note, as a report (a dict).

    Parameters are those of :func:`peerscale.read`. ``report["ok"]`` is True when nothing
    would stop scoring.
    """
    import numpy as np

    from .responses import _id_columns, load_export, resolve_design, select_scales
    from .scoring import INVALID, clean_items, duplicate_ids

    table, inst, file, given = load_export(source, instrument, design=design, map=map,
                                           redcap_dictionary=redcap_dictionary, missing_codes=missing_codes,
                                           encoding=encoding, sheet=sheet, input_format=input_format,
                                           check_duplicates=False)  # listed below, every one
    data = table.data
    skipped: dict[str, str] = {}
    scored = inst
    try:
        scored, skipped = select_scales(inst, data.columns, scales, file=file)
        absent = []
    except PeerscaleError:
        absent = [i for i in inst.scale_items() if i not in data.columns]
    skipped_items = {i for name in skipped for i in inst.scale(name).items}
    absent = [i for i in absent if i not in skipped_items]
    design_ = resolve_design(given, table, inst, id_columns, file)
    ids = _id_columns(data, table, inst, design_, id_columns, file)
    present = [i for i in scored.scale_items() if i in data.columns]
    mask = None if table.in_scope is None else np.asarray(table.in_scope, dtype=bool)
    report = {"input": file or "a DataFrame", "instrument": inst.name, "version": inst.version, "n_rows": len(data),
              "missing_columns": absent, "skipped_scales": skipped, "id_columns": ids,
              "invalid_values": {"count": 0, "examples": [], "by_item": {}},
              "duplicate_ids": {"count": 0, "examples": []}, "empty_rows": {"count": 0, "rows": []},
              "missing_by_reason": {}}
    if present:
        by_item = lambda meta: {c: v for c, v in meta.items() if c in inst.items}  # noqa: E731
        clean = clean_items(data, inst, present, on_invalid="missing", value_labels=by_item(table.value_labels),
                            missing_values=by_item(table.missing_values), file=file, row_mask=mask)
        report["invalid_values"] = {
            "count": clean.invalid_count,
            "examples": [{"row": r, "column": c, "value": _json_value(v), "shown": plain(v)}
                         for r, c, v in clean.invalid_examples],
            "by_item": {i: c.get(INVALID) for i, c in clean.missing.items() if c.get(INVALID)}}
        reasons: dict[str, int] = {}
        for counts in clean.missing.values():
            for r, k in counts.items():
                if r != INVALID:
                    reasons[r] = reasons.get(r, 0) + k
        report["missing_by_reason"] = reasons
        empty = np.isnan(clean.values).all(axis=1)
        if mask is not None:
            empty &= mask
        rows = (np.flatnonzero(empty) + 1).tolist()
        report["empty_rows"] = {"count": len(rows), "rows": rows[:20]}
    dups = duplicate_ids(data, ids, mask)
    if len(dups):
        groups = duplicate_groups(dups, ids)
        report["duplicate_ids"] = {"count": int(len(dups)), "n_ids": len(groups), "id_columns": ids,
                                   "rows": (np.asarray(dups.index) + 1).tolist(), "groups": groups,
                                   "examples": dups.head(5).to_dict("records")}
    report["problems"] = ((len(absent) > 0) + (report["invalid_values"]["count"] > 0)
                          + (report["duplicate_ids"]["count"] > 0))
    report["ok"] = report["problems"] == 0
    return report


def _json_value(v):
    """A data value as JSON keeps it: numbers as numbers (7, not "7.0"), text as text."""
    if hasattr(v, "item") and type(v).__module__ == "numpy":
        v = v.item()
    if isinstance(v, float):
        return int(v) if v.is_integer() else v
    return v if isinstance(v, (int, str)) or v is None else str(v)


def duplicate_groups(dups, id_columns) -> list[dict]:
    """Every identifier (combination) that occurs more than once, with all its rows (1-based), in
    the order of their first row (``validate`` lists them all; the README says it does)."""
    keys = dups[list(id_columns)].astype("str").agg("\x1f".join, axis=1)
    groups: dict[str, dict] = {}
    for idx, key in zip(dups.index, keys):
        g = groups.setdefault(key, {"ids": {c: str(dups.at[idx, c]) for c in id_columns}, "rows": []})
        g["rows"].append(int(idx) + 1)
    return list(groups.values())
