"""Parquet (pyarrow) and JSON lines (one JSON object per line) readers.

Parquet written by peerscale carries its labels as schema metadata (key ``peerscale``) and
they are restored. JSON lines: keys become columns in first-seen order; ``null`` is missing.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import PeerscaleError
from .table import Table, is_id_name, item_columns, numeric_or_text


def _finish(df, path, fmt, instrument, missing_codes) -> Table:
    from .items import finish_items
    from .redcap import _as_id_text

    if df.shape[1] == 0:
        raise PeerscaleError("the file has no columns", file=str(path))
    if len(df) == 0:
        raise PeerscaleError("the file has columns but no data rows", file=str(path))
    items = item_columns(df.columns, instrument)
    for col in df.columns:
        if col in items:
            df[col] = numeric_or_text(df[col])
        elif is_id_name(col) and df[col].dtype.kind in "iuf":
            df[col] = _as_id_text(df[col])
    table = Table(data=df, path=str(path), format=fmt)
    finish_items(table, instrument, {str(k): str(v) for k, v in (missing_codes or {}).items()})
    return table


def read_parquet(path: Path, *, instrument=None, missing_codes=None) -> Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        t = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise PeerscaleError(f"cannot be read as Parquet ({exc})", file=str(path)) from None
    table = _finish(t.to_pandas(), path, "parquet", instrument, missing_codes)
    apply_stored_labels(table, t.schema.metadata)
    return table


def apply_stored_labels(target, schema_metadata) -> None:
    """Restore the labels peerscale stores in a Parquet file's schema metadata (key
    ``peerscale``: variable and value labels, user-missing codes, file label) onto ``target``
    (a Table or a chunk reader's metadata: anything with those four attributes)."""
    meta = json.loads((schema_metadata or {}).get(b"peerscale", b"{}") or b"{}")
    target.variable_labels.update(meta.get("variable_labels") or {})
    for col, labels in (meta.get("value_labels") or {}).items():
        target.value_labels[col] = {float(k): v for k, v in labels.items()}
    for col, codes in (meta.get("missing_values") or {}).items():
        entry = target.missing_values.setdefault(col, {})
        for c in codes:
            entry.setdefault(float(c), target.value_labels.get(col, {}).get(float(c), "user-missing"))
    target.file_label = meta.get("file_label")


def read_jsonl(path: Path, *, instrument=None, missing_codes=None, data: bytes | None = None) -> Table:
    import pandas as pd

    from .text import decode, read_bytes

    warnings: list[str] = []
    data = decode(read_bytes(path) if data is None else data, None, str(path), warnings).decode("utf-8")
    if not data.strip():
        raise PeerscaleError("the file is empty", file=str(path))
    records, columns = [], {}
    for n, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except RecursionError:
            raise PeerscaleError(f"line {n} is nested too deeply", file=str(path), row=n,
                                 hint="JSON lines means one flat JSON object per line") from None
        except json.JSONDecodeError as exc:
            raise PeerscaleError(f"line {n} is not valid JSON ({exc.msg})", file=str(path), row=n,
                                 hint="JSON lines means one JSON object per line") from None
        if not isinstance(obj, dict):
            raise PeerscaleError(f"line {n} is a JSON {type(obj).__name__}, not an object", file=str(path), row=n)
        for k, v in obj.items():
            columns.setdefault(k, None)
            if isinstance(v, (dict, list)):
                raise PeerscaleError("nested JSON values are not supported", file=str(path), row=n, column=k)
        records.append(obj)
    df = pd.DataFrame.from_records(records, columns=list(columns))
    for col in df.columns:
        s = df[col]
        if s.dtype == object:
            kinds = {type(v) for v in s if v is not None and v == v}
            if kinds and kinds <= {int, float}:
                df[col] = s.astype("float64")
            elif kinds:
                df[col] = s.map(lambda v: None if v is None or v != v else (json.dumps(v) if isinstance(v, bool) else str(v))).astype("str")
    table = _finish(df, path, "jsonl", instrument, missing_codes)
    table.warnings = warnings
    return table
