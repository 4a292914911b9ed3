"""REDCap record exports (raw or label mode), applied to a table any reader produced.

Conventions (REDCap data export, see docs formats.md): the record id is the first column;
longitudinal projects add ``redcap_event_name``; repeating instruments add
``redcap_repeat_instrument`` and ``redcap_repeat_instance`` (blank on a record's
non-repeating row); checkboxes are ``<field>___<code>`` columns (0/1, or Checked/Unchecked in
label mode); ``<form>_complete`` is 0 Incomplete, 1 Unverified, 2 Complete.
"""

from __future__ import annotations

import re

from ..errors import PeerscaleError
from .dictionary import apply_dictionary, form_name, instrument_forms
from .table import Table, numeric_or_text

REDCAP_ID_COLUMNS = ("redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance")
# The same columns as headed in REDCap's "labels" CSV export (label headers).
REDCAP_ID_LABELS = {"Event Name": "redcap_event_name", "Repeat Instrument": "redcap_repeat_instrument",
                    "Repeat Instance": "redcap_repeat_instance"}
COMPLETE_CODES = {0.0: "Incomplete", 1.0: "Unverified", 2.0: "Complete"}
CHECKBOX_CODES = {0.0: "Unchecked", 1.0: "Checked"}
_CHECKBOX = re.compile(r"^[a-z][a-z0-9_]*___[a-z0-9_]+$")


def is_redcap(columns, dictionary=None) -> bool:
    cols = [str(c) for c in columns]
    return (dictionary is not None or any(c in cols for c in REDCAP_ID_COLUMNS)
            or any(c in cols for c in REDCAP_ID_LABELS) or (bool(cols) and cols[0] in ("record_id", "Record ID"))
            or any(c.endswith("_complete") for c in cols))


def _as_id_text(series):
    """Identifier column as text; whole-number floats lose their '.0' (``12.0`` → ``"12"``)."""
    if series.dtype.kind in "iub":
        return series.astype("str").where(series.notna(), None)
    if series.dtype.kind == "f":
        text = series.map(lambda v: None if v != v else (str(int(v)) if float(v).is_integer() else repr(v)))
        return text.astype("str").where(series.notna(), None)
    return series


def _blank(series):
    return series.isna() | (series.astype("str").str.strip() == "")


def apply_redcap(table: Table, *, instrument=None, dictionary=None, missing_codes: dict | None = None,
                 key_columns=(), check_duplicates: bool = True) -> None:
    """Set REDCap ids, ``in_scope``, label→code mapping and checks on ``table`` in place.
    ``key_columns`` (e.g. a study's own wave column) also tell records apart in the duplicate check;
    ``check_duplicates=False`` leaves duplicates to the caller (``validate`` lists them all)."""
    df = table.data
    if not is_redcap(df.columns, dictionary):
        return
    record_id = dictionary.record_id if dictionary is not None and dictionary.record_id in df.columns else str(df.columns[0])
    role = {c: c for c in REDCAP_ID_COLUMNS if c in df.columns}
    role.update({REDCAP_ID_LABELS[c]: c for c in REDCAP_ID_LABELS if c in df.columns and REDCAP_ID_LABELS[c] not in role})
    ids = [record_id] + [role[c] for c in REDCAP_ID_COLUMNS if c in role]
    for col in ids:
        df[col] = _as_id_text(df[col])
    table.id_columns = ids
    table.event_column = role.get("redcap_event_name")

    if "redcap_repeat_instrument" in role and instrument is not None:
        forms = set(instrument_forms(instrument)) | {form_name(instrument.title)}
        col = df[role["redcap_repeat_instrument"]]
        # label exports show the form's label ("Contact Log"): compare as REDCap derives form names
        rep = col.astype("str").str.strip().str.lower().str.replace(r"[^a-z0-9_]", "_", regex=True)
        blank = _blank(col)
        mine = ~blank & rep.isin(forms)
        table.in_scope = mine if mine.any() else blank
        table.in_scope.name = "in_scope"

    if check_duplicates:
        _check_duplicates(table, ids + [c for c in key_columns if c in df.columns and c not in ids])

    if dictionary is not None:
        apply_dictionary(table, dictionary, instrument, missing_codes)

    for col in df.columns:
        c = str(col)
        if c.endswith("_complete"):
            _labels_to_codes(table, c, COMPLETE_CODES)
        elif _CHECKBOX.match(c):
            _labels_to_codes(table, c, CHECKBOX_CODES)


def _check_duplicates(table: Table, ids: list[str]) -> None:
    import pyarrow as pa

    df = table.data
    import pyarrow.compute as pc

    cols = [pa.array(df[c].astype("str"), from_pandas=True).cast(pa.string()) for c in ids]
    joined = pc.binary_join_element_wise(*cols, "\x1f", null_handling="replace", null_replacement="")
    if len(pc.unique(joined)) == len(df):  # every key once: the usual case, decided in C++
        return
    dup = df.duplicated(subset=ids, keep=False)
    keys = df.loc[dup, ids].astype("str").fillna("")
    shown = keys.drop_duplicates().head(10)
    listing = "; ".join(", ".join(f"{c}={v}" for c, v in zip(ids, row) if v not in ("", "None", "nan"))
                        for row in shown.itertuples(index=False))
    rows = [int(i) + 1 for i in df.index[dup][:10]]
    where = " within one event/instance" if len(ids) > 1 else ""
    raise PeerscaleError(
        f"duplicate record ids{where}: {listing}" + (" ..." if keys.drop_duplicates().shape[0] > 10 else ""),
        file=table.path, row=", ".join(map(str, rows)), column=ids[0],
        hint="each record (per event and repeat instance) must appear once; remove or merge the duplicate rows "
             "(`peerscale validate` lists them all)")


def _labels_to_codes(table: Table, col: str, labels: dict[float, str]) -> None:
    """Map label-mode text (case-insensitive) to codes in one column; unknown text is left as is."""
    s = table.data[col]
    table.value_labels.setdefault(col, dict(labels))
    if s.dtype.kind in "biuf":
        return
    as_numbers = numeric_or_text(s)
    if as_numbers.dtype.kind == "f":  # raw mode: codes only
        table.data[col] = as_numbers
        return
    lookup = {v.strip().lower(): k for k, v in labels.items()}
    lookup.update({f"{k:g}": k for k in labels})
    text = s.astype("str").str.strip()
    mapped = text.str.lower().map(lookup)
    known = mapped.notna()
    if known.any():
        table.data[col] = numeric_or_text(s.astype(object).where(~known, mapped.astype(object)))

