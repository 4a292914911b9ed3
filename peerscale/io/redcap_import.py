"""Scores as a REDCap Data Import Tool file (``score --output-format redcap-import``).

The columns are the record id, then ``redcap_event_name``, ``redcap_repeat_instrument`` and
``redcap_repeat_instance`` where the scored export had them (REDCap's import template has
exactly these), then the ``ps_<column>`` score fields of the dictionary that
``peerscale redcap-dictionary NAME --with-calc`` writes: no other columns. Values are written
as REDCap validates them: numbers in plain decimal notation (never an exponent), item counts as
whole numbers, bands as their dropdown codes (1, 2, ... in the order of the scoring file's cuts),
and missing scores blank. Record ids are written exactly as read (no spreadsheet escaping: a
changed id would import into another record).

Rows of other repeating forms (out of scope when scoring) and rows that answer no item of the
instrument (nothing to import; their event may not even hold the form) are left out, and said
so; rows whose record id is blank, label-mode event or form names, and repeated record keys are errors, since
REDCap would reject or misfile them.
"""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path

from ..errors import PeerscaleError
from .redcap import REDCAP_ID_COLUMNS, form_name, instrument_forms

_UNIQUE_NAME = re.compile(r"^[a-z0-9_]+$")


def _number(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    from ..rules_export import num

    return num(float(v))


def _text(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    try:
        import pandas as pd

        if pd.isna(v):
            return ""
    except (TypeError, ValueError):
        pass
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def redcap_import_rows(result, in_scope=None) -> tuple[list[str], list[list[str]], list[str]]:
    """(header, rows, notes) of the import file for a :class:`~peerscale.scoring.ScoreResult`."""
    from ..rules_export import band_codes, describe, import_columns

    scores = result.scores
    ids = list(result.id_columns)
    if not ids:
        raise PeerscaleError("a REDCap import file needs the record id, and the scored data has no id column",
                             hint="score a REDCap export (its first column is the record id), or name the record id "
                                  "column with --id-column")
    record_id = ids[0]
    redcap_cols = [c for c in REDCAP_ID_COLUMNS if c in scores.columns]
    rules = describe(result.instrument)
    fields = import_columns(rules)
    header = [record_id] + redcap_cols + [f for _c, f, _s, _r in fields]
    if len(set(header)) != len(header):
        raise PeerscaleError(f"the record id column {record_id!r} has the name of a REDCap column or score field")
    forms = instrument_forms(result.instrument)
    known_forms = set(forms) | {form_name(result.instrument.title)}
    keep = [True] * len(scores) if in_scope is None else [bool(x) for x in in_scope]
    notes = []
    if not all(keep):
        notes.append(f"{keep.count(False)} row(s) of other REDCap forms are not in the import file")
    # a row that answers no item has nothing to import, and its event may not hold the form
    # (REDCap refuses fields of a form not designated for the event)
    counts = [scores[f"{s.name}_n"].tolist() for s in rules.scores]
    empty = [keep[j] and not any(_text(c[j]) not in ("", "0") for c in counts) for j in range(len(scores))]
    if any(empty):
        notes.append(f"{sum(empty)} row(s) that answer no item of {result.instrument.name} are not in the import file")
        keep = [k and not e for k, e in zip(keep, empty)]
    columns = {c: scores[c].tolist() for c in [record_id] + redcap_cols}
    values = {}
    for col, _f, s, role in fields:
        data = scores[col].tolist()
        if role == "band":
            codes = band_codes(s)
            values[col] = ["" if _text(v) == "" else str(codes[str(v)]) for v in data]
        elif role == "n":
            values[col] = [_text(v) for v in data]
        else:
            values[col] = [_number(v) for v in data]
    rows, seen = [], {}
    for j in range(len(scores)):
        if not keep[j]:
            continue
        rid = _text(columns[record_id][j])
        if rid == "":
            raise PeerscaleError("a scored row has a blank record id: REDCap cannot import it", row=j + 1,
                                 column=record_id, hint="fill in or remove the row, or name the record id column "
                                                        "with --id-column")
        row = [rid]
        for c in redcap_cols:
            v = _text(columns[c][j])
            if c == "redcap_repeat_instrument" and v:
                folded = re.sub(r"[^a-z0-9_]", "_", v.lower())
                if folded not in known_forms:
                    raise PeerscaleError(f"row of repeating form {v!r} was scored with instrument "
                                         f"{result.instrument.name!r}", row=j + 1, column=c)
                if len(forms) > 1:
                    raise PeerscaleError("repeating rows of an instrument whose items span several REDCap forms "
                                         "cannot be imported in one file", row=j + 1, column=c,
                                         hint="score and import each form's instrument separately")
                v = forms[0]
            elif c == "redcap_event_name" and v and not _UNIQUE_NAME.match(v):
                raise PeerscaleError(f"event {v!r} is an event label, not the unique event name REDCap imports",
                                     row=j + 1, column=c, value=v,
                                     hint="score a raw export (Export Data > CSV / Microsoft Excel (raw data)), whose "
                                          "events are unique names such as baseline_arm_1")
            elif c == "redcap_repeat_instance" and v and not v.isdigit():
                raise PeerscaleError(f"repeat instance {v!r} is not a whole number", row=j + 1, column=c, value=v)
            row.append(v)
        key = tuple(row)
        if key in seen:
            raise PeerscaleError(f"record {', '.join(x for x in key if x)} appears twice (rows {seen[key]} and {j + 1}): "
                                 "REDCap would keep only one of them", column=record_id)
        seen[key] = j + 1
        row += [values[col][j] for col, _f, _s, _r in fields]
        rows.append(row)
    return header, rows, notes


def write_redcap_import(result, path, *, in_scope=None, include_items=None, force: bool = False,
                        protect=()):
    """Write the import file; returns (path, the rows written as a DataFrame of text). Notes
    go to ``result.summary["warnings"]``."""
    import pandas as pd

    from .write import atomic_write

    if include_items:
        raise PeerscaleError("`include_items` cannot go in a REDCap import file (it holds the score fields only)",
                             hint="write the items to another format, e.g. a .csv")
    header, rows, notes = redcap_import_rows(result, in_scope)
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    text = buf.getvalue()
    written = atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8", newline=""),
                           force=force, protect=protect)
    result.summary.setdefault("warnings", []).extend(notes)
    return written, pd.DataFrame(rows, columns=header, dtype=object)
