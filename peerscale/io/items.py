"""Which columns hold an instrument's items: matched by id, by REDCap's field naming, or by the
item's text (label-header exports, data dictionaries), and the per-column missing codes of item
columns. Shared by every reader and by the REDCap data dictionary."""

from __future__ import annotations

import html
import re
import unicodedata

from .table import Table, item_columns, numeric_or_text


def strip_label(text: str) -> str:
    """Field label as plain text (REDCap labels may hold HTML and entities)."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text or ""))).strip()


def normalise_text(text: str) -> str:
    """Lowercase, HTML and punctuation removed, curly quotes straightened, whitespace collapsed,
    leading question numbers (``3.``, ``Q3)``) dropped: for matching labels to item texts."""
    t = unicodedata.normalize("NFKC", strip_label(text)).lower()
    t = t.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    t = re.sub(r"^\s*(q\s*)?\d+[.):]\s*", "", t)
    t = re.sub(r"[^\w\s]", "", t)
    return re.sub(r"\s+", " ", t).strip()


def _item_patterns(instrument) -> dict[str, tuple[str, list[str] | None]]:
    """Per item: the normalised text with placeholders filled, and (for texts with placeholders)
    the normalised literal pieces between them, so a placeholder can match any words (a project
    may have written a worker's name instead)."""
    out = {}
    for iid in instrument.items:
        filled = normalise_text(instrument.item_text(iid))
        raw = instrument.items[iid].text
        pieces = [normalise_text(p) for p in re.split(r"\{[^}]+\}", raw)] if "{" in raw else None
        out[iid] = (filled, pieces)
    return out


def _fits(pieces: list[str], label: str) -> bool:
    """True if ``label`` is the pieces in order with at least one word in each gap."""
    pos = 0
    last = len(pieces) - 1
    for n, piece in enumerate(pieces):
        if n == 0:
            if not label.startswith(piece):
                return False
            pos = len(piece)
            continue
        if n == last:
            end = len(label) - len(piece)
            return label.endswith(piece) and label[pos:end].strip() != "" and end >= pos
        found = label.find(piece, pos + 1) if piece else pos + 1
        if found < 0 or not label[pos:found].strip():
            return False
        pos = found + len(piece)
    return True


def match_label(label: str, instrument, patterns=None) -> str | None:
    """The one item whose text matches ``label`` (normalised; placeholders filled or as any
    words), else None."""
    label = normalise_text(label)
    if not label:
        return None
    patterns = patterns or _item_patterns(instrument)
    hits = [i for i, (text, _p) in patterns.items() if text == label]
    if not hits:
        hits = [i for i, (_t, pieces) in patterns.items() if pieces is not None and _fits(pieces, label)]
    return hits[0] if len(hits) == 1 else None


def finish_items(table: Table, instrument, codes: dict[str, str]) -> None:
    """Fill ``suggested_map`` (columns named as REDCap names fields, or headed by the item's text
    as in REDCap's label-header exports) and per-column missing codes for item columns."""
    columns = list(table.data.columns)
    items = item_columns(columns, instrument)
    if instrument is not None and len(items) < len(instrument.items):
        patterns = _item_patterns(instrument)
        taken = set(items.values())
        for col in columns:
            if col in items or col in instrument.items:
                continue
            iid = match_label(str(col), instrument, patterns)
            if iid is not None and iid not in taken:
                items[col] = iid
                taken.add(iid)
                table.data[col] = numeric_or_text(table.data[col])
    for col, iid in items.items():
        if col != iid:
            table.suggested_map.setdefault(col, iid)
    if not codes:
        return
    targets = items.keys() if instrument is not None else table.data.columns
    for col in targets:
        numeric = table.data[col].dtype.kind in "biuf"
        entry = table.missing_values.setdefault(col, {})
        for code, reason in codes.items():
            if numeric:
                try:
                    entry.setdefault(float(code), reason)
                except ValueError:
                    continue
            else:
                entry.setdefault(code, reason)
        if not entry:
            del table.missing_values[col]
