"""Scores written to a file with what the format can carry: variable labels naming each scale's
rule, value labels, user-missing codes, measure levels and a file label (SPSS, Stata), and
optionally the cleaned items beside the scores."""

from __future__ import annotations

def output_meta(result, include_items: str | None, fmt: str | None):
    """Labels, value labels, missing values and measure levels for the written file."""
    from ._version import __version__
    from .io import OutputMeta
    from .scoring import item_keys, numeric_codes

    inst = result.instrument
    labels, measure, value_labels, missing = {}, {}, {}, {}
    categories, category_missing, formats = {}, {}, {}
    for c in result.id_columns:
        measure[c] = "nominal"
    if not result.id_columns:
        formats["row"] = "F8.0"
    for s in inst.scales:
        labels[s.name] = f"{s.label} ({s.rule_text()})"
        labels[f"{s.name}_n"] = f"Items answered: {s.label} (of {len(s.items)})"
        measure[s.name] = measure[f"{s.name}_n"] = "scale"
        formats[s.name], formats[f"{s.name}_n"] = "F8.2", "F8.0"  # scores two decimals, counts whole
        if s.name in inst.norms:
            labels[f"{s.name}_t"] = f"{s.label}: T score"
            labels[f"{s.name}_t_se"] = f"{s.label}: SE of T score"
            measure[f"{s.name}_t"] = measure[f"{s.name}_t_se"] = "scale"
            formats[f"{s.name}_t"], formats[f"{s.name}_t_se"] = "F8.1", "F8.2"
        if s.name in inst.bands:
            # numeric in .sav/.dta: codes 1..n in band order with their labels; a blank band is
            # -1, user-missing, so unscored rows are missing, not a valid blank category
            col = f"{s.name}_band"
            on, bands = inst.bands[s.name]
            labels[col] = f"{s.label}: interpretive band"
            measure[col] = "ordinal"
            categories[col] = [b.label for b in bands]
            category_missing[col] = (-1.0, "no band: not scored" if _bands_cover(inst, s, on, bands)
                                     else "no band: not scored, or outside the bands")
            formats[col] = "F8.0"
    if include_items:
        keys = item_keys(inst)
        for iid in result.items.item_ids:
            rs = inst.items[iid].response_scale
            reversed_ = include_items == "keyed" and keys.get(iid, 1) < 0
            labels[iid] = f"{inst.item_text(iid)} [{'reverse-scored' if reversed_ else 'as answered'}]"
            measure[iid] = "ordinal" if rs.codes else "scale"
            if rs.codes:
                value_labels[iid] = ({rs.reverse(k): f"{v} (reversed)" for k, v in rs.codes.items()} if reversed_
                                     else dict(rs.codes))
            num_missing = {value: rs.missing[code] for value, code in numeric_codes(rs.missing).items()}
            if num_missing and fmt in ("sav", "zsav"):
                value_labels.setdefault(iid, {}).update(num_missing)
                missing[iid] = sorted(num_missing)[:3]
    title = f"{inst.name} {inst.version} scores".strip() if inst.version else f"{inst.name} scores"
    return OutputMeta(variable_labels=labels, value_labels=value_labels, missing_values=missing,
                      measure=measure, file_label=f"{title} (peerscale {__version__})", categories=categories,
                      category_missing=category_missing, formats=formats)


def _bands_cover(inst, scale, on: str, bands) -> bool:
    """Do the bands cover every score the scale can take (so a blank band means "not scored")?"""
    from .report.build import score_range

    rng = score_range(inst, scale) if on == "score" else None
    if rng is None:
        return False
    contiguous = all(abs(a.max - b.min) < 1e-9 for a, b in zip(bands, bands[1:]))
    return contiguous and bands[0].min <= rng[0] and bands[-1].max >= rng[1]


def item_columns(result, data, include_items: str, fmt: str | None, mask):
    """Cleaned item responses (keyed with ``include_items="keyed"``); in .sav/.zsav numeric
    missing codes are kept and declared user-missing."""
    import numpy as np
    import pandas as pd

    from .scoring import keyed_values, numeric_codes

    inst, clean = result.instrument, result.items
    values = clean.values
    if include_items == "keyed":
        values = keyed_values(values, clean.item_ids, inst)
    cols = {}
    for j, iid in enumerate(clean.item_ids):
        col = values[:, j]
        rs = inst.items[iid].response_scale
        if fmt in ("sav", "zsav") and rs.missing:
            raw = pd.to_numeric(data[iid], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            keep = np.isnan(col) & np.isin(raw, list(numeric_codes(rs.missing)))
            if mask is not None:
                keep &= mask
            col = np.where(keep, raw, col)
        cols[iid] = col
    return pd.DataFrame(cols)


def write_scores(responses, result, path, *, include_items: str | None = None, format: str | None = None,
                 force: bool = False, protect=()):
    """Write ``result`` (scores of ``responses``) atomically; returns ``(path, frame written)``."""
    import pandas as pd

    from .errors import PeerscaleError
    from .io import write_table
    from .io.write import output_format

    if include_items not in (None, "answered", "keyed"):
        raise PeerscaleError(f"`include_items` must be 'answered' or 'keyed', got {include_items!r}")
    protect = list(protect) + list(responses.inputs)
    mask = None if responses._rows is not None else responses._base.scope
    if format == "redcap-import":  # REDCap's Data Import Tool: record keys and the dictionary's score fields
        from .io.redcap_import import write_redcap_import

        return write_redcap_import(result, path, in_scope=mask, include_items=include_items, force=force,
                                   protect=protect)
    fmt = output_format(path, format)
    out = result.scores
    if include_items:
        data = responses.data.reset_index(drop=True)
        out = pd.concat([out, item_columns(result, data, include_items, fmt, mask)], axis=1)
    written = write_table(out, path, format=format, force=force, protect=protect,
                          meta=output_meta(result, include_items, fmt))
    return written, out
