"""Read a data file in chunks of bounded size: :func:`iter_chunks`.

Every chunk is a pandas DataFrame of consecutive rows, in input order, typed and finished as
the whole-file reader (:func:`peerscale.io.read_table`) types and finishes them (REDCap ids,
label mode, missing-data codes, column mapping), with the index holding each row's absolute
position in the file (0-based; the row number a message names is ``index + 1``). So a chunk
can go through the same cleaning and scoring kernel as a whole file, and errors name the row
of the file, not of the chunk.

Formats read in bounded memory:

* CSV/TSV: pyarrow's streaming CSV reader (multi-threaded), column types decided from the
  first 256 KiB as :mod:`peerscale.io.csv` does; a later value that does not fit (text in a
  numeric item column, bytes that are not UTF-8) restarts the reader with a wider type and
  skips the rows already given out. Quoted newlines across chunk boundaries are handled by
  the reader (``newlines_in_values`` whenever the file holds a quote).
* Parquet: ``ParquetFile.iter_batches``.
* JSON lines: the file read line by line, each group of lines parsed as
  :func:`peerscale.io.columnar.read_jsonl` parses a file.
* SPSS ``.sav``/``.zsav`` and Stata ``.dta``: ``pyreadstat.read_file_in_chunks``.

Anything else (Excel, SAS, REDCap's .sps pair, standard input and pipes, UTF-16 text, an
explicit non-UTF-8 ``encoding``) is read whole and handed out in slices: the same chunks,
without the memory bound.

REDCap conventions that need the whole file are kept across chunks: a record that occurs
twice (per event and repeat instance) is found even when the two rows fall in different
chunks, and whether the instrument's form is a repeating one (which decides whether a
record's non-repeating row is scored) is decided from the whole file by a first pass over
the ``redcap_repeat_instrument`` column only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..errors import PeerscaleError

DEFAULT_CHUNK_ROWS = 250_000
CHUNK_BYTES = 32 << 20  # at most about this much input text per chunk
STREAMED_FORMATS = ("csv", "tsv", "parquet", "jsonl", "sav", "zsav", "dta")


def chunk_rows_for(bytes_per_row: float, chunk_rows: int | None) -> int:
    """Rows per chunk: ``chunk_rows`` if given, else at most :data:`DEFAULT_CHUNK_ROWS` and
    about :data:`CHUNK_BYTES` of input."""
    if chunk_rows is not None:
        if int(chunk_rows) < 1:
            raise PeerscaleError(f"`chunk_rows` must be 1 or more, got {chunk_rows}")
        return int(chunk_rows)
    return max(1000, min(DEFAULT_CHUNK_ROWS, int(CHUNK_BYTES / max(bytes_per_row, 1.0))))


# --------------------------------------------------------------------------- raw readers

@dataclass
class _Meta:
    """What a reader learns about the file beside its rows (labels, warnings)."""

    fmt: str = "csv"
    warnings: list = field(default_factory=list)
    variable_labels: dict = field(default_factory=dict)
    value_labels: dict = field(default_factory=dict)
    missing_values: dict = field(default_factory=dict)
    file_label: str | None = None
    bytes_per_row: float = 60.0
    drop_last: bool = False  # CSV: a trailing delimiter on every line makes an empty last column


def _has_quote(path: Path, block: int = 16 << 20) -> bool:
    """Does a quote occur after the header line (the header is parsed apart: a quoted header
    with a quoted newline is handled by the sample parser)?"""
    with open(path, "rb") as fh:
        first = fh.readline()
        if first.count(b'"') % 2:  # a header cell holds a newline: be safe
            return True
        while True:
            b = fh.read(block)
            if not b:
                return False
            if b'"' in b:
                return True


def _csv_batches(path: Path, fmt: str, instrument, codes: dict, encoding, chunk_rows, meta: _Meta,
                 columns=None):
    """Yield ``(first_row, pyarrow.Table)`` slices of at most ``chunk_rows`` rows, typed as
    :func:`peerscale.io.csv.read_delimited` types a whole file."""
    import re

    import pyarrow as pa
    import pyarrow.csv as pacsv

    from .csv import NULL_VALUES, SAMPLE_BYTES, _NUMBER, _column_names, sample_rows, sniff_delimiter
    from .table import is_id_name, item_columns

    file = str(path)
    with open(path, "rb") as fh:
        head = fh.read(SAMPLE_BYTES + 1)
    sample_bytes = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    if not sample_bytes.strip():
        raise PeerscaleError("the file is empty", file=file)
    delimiter = "\t" if fmt == "tsv" or file.lower().endswith((".tsv", ".tab")) else sniff_delimiter(sample_bytes)
    sample = sample_rows(sample_bytes, delimiter)
    if not sample:
        raise PeerscaleError("the file is empty", file=file)
    header, body = sample[0], sample[1:]
    names = _column_names(header, file, meta.warnings, instrument)
    size = path.stat().st_size
    if body:
        meta.bytes_per_row = max(1.0, min(len(sample_bytes), size) / (len(body) + 1))
    elif size <= len(head) or not head.split(b"\n", 1)[1:] or not head.split(b"\n", 1)[1].strip():
        raise PeerscaleError("the file has a header but no data rows", file=file)
    nulls = [v for v in NULL_VALUES if v not in codes]
    items = item_columns(names, instrument)
    width = len(names)
    cols_ = list(zip(*(r[:width] + [""] * (width - len(r)) for r in body))) if body else [()] * width
    sample_cols = {n: set(cols_[i]) for i, n in enumerate(names)}
    decimal_point = "."
    if delimiter == ";":
        values = [v for vs in sample_cols.values() for v in vs]
        if any(re.match(r"^[+-]?\d+,\d+$", v) for v in values) and not any(re.match(r"^[+-]?\d*\.\d+$", v) for v in values):
            decimal_point = ","
            meta.warnings.append(f"{file}: semicolon-separated with decimal commas (1,5); read ',' as the decimal point")
    types: dict[str, object] = {}
    for name in names:
        vals = sample_cols.get(name, [])
        if instrument is not None:
            if name in items:
                vv = [v.replace(",", ".") if decimal_point == "," else v for v in vals]
                numeric = all(v.strip() in nulls or _NUMBER.match(v) for v in vv)
                types[name] = pa.float64() if numeric else pa.string()
            else:
                types[name] = pa.string()
        elif is_id_name(name) or any(re.match(r"^[+-]?0\d", v.strip()) for v in vals):
            types[name] = pa.string()
    drop_last = (names[-1] == f"column_{len(names)}" and body
                 and all(not (r[width - 1] if len(r) >= width else "").strip() for r in body))
    meta.drop_last = bool(drop_last)  # known from the sample, before the first slice is given out
    quoted = _has_quote(path)
    chunk = chunk_rows_for(meta.bytes_per_row, chunk_rows)
    block = int(min(64 << 20, max(1 << 20, chunk * meta.bytes_per_row / 2)))
    enc = encoding or "utf8"
    emitted = 0
    for _attempt in range(len(names) + 3):
        bad_rows: list = []

        def on_bad_row(row, bad_rows=bad_rows):
            bad_rows.append(row)
            return "skip"

        read_opts = pacsv.ReadOptions(use_threads=True, block_size=block, skip_rows=1, column_names=names,
                                      encoding=enc)
        parse_opts = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=quoted,
                                        invalid_row_handler=on_bad_row, ignore_empty_lines=len(names) > 1)
        conv = pacsv.ConvertOptions(column_types=types, null_values=nulls, strings_can_be_null=True,
                                    quoted_strings_can_be_null=True, decimal_point=decimal_point,
                                    true_values=["true", "TRUE", "True"], false_values=["false", "FALSE", "False"],
                                    include_columns=columns)
        seen = 0
        pending: list = []
        n_pending = 0
        try:
            reader = pacsv.open_csv(path, read_options=read_opts, parse_options=parse_opts, convert_options=conv)
            for batch in reader:
                if bad_rows:
                    _bad_row_error(path, delimiter, names, bad_rows, file)
                if seen + batch.num_rows <= emitted:  # given out before a restart
                    seen += batch.num_rows
                    continue
                if seen < emitted:
                    batch = batch.slice(emitted - seen)
                    seen = emitted
                seen += batch.num_rows
                pending.append(batch)
                n_pending += batch.num_rows
                while n_pending >= chunk:
                    t = pa.Table.from_batches(pending)
                    out, rest = t.slice(0, chunk), t.slice(chunk)
                    yield emitted, out
                    emitted += chunk
                    pending = rest.to_batches() if rest.num_rows else []
                    n_pending = rest.num_rows
            if bad_rows:
                _bad_row_error(path, delimiter, names, bad_rows, file)
            if n_pending:
                yield emitted, pa.Table.from_batches(pending)
                emitted += n_pending
            if emitted == 0:
                raise PeerscaleError("the file has a header but no data rows", file=file)
            return
        except pa.ArrowInvalid as exc:
            text = str(exc)
            m = re.search(r"In CSV column #(\d+): CSV conversion error", text)
            if m:
                col = names[int(m.group(1))]
                if types.get(col) != pa.string():
                    types[col] = pa.float64() if types.get(col) == pa.int64() else pa.string()
                    continue
            if "UTF8" in text or "UTF-8" in text or "utf8" in text.lower():
                if enc == "utf8" and encoding is None:
                    # as the whole-file reader falls back; rows already given out were valid UTF-8
                    enc = "cp1252"
                    meta.warnings.append(f"{file}: not valid UTF-8; decoded as cp1252")
                    continue
            raise PeerscaleError(f"cannot be read as delimited text: {exc}", file=file) from None
    raise PeerscaleError("cannot be read as delimited text", file=file)  # pragma: no cover


def _bad_row_error(path, delimiter, names, bad_rows, file):
    import csv as _csv

    first = bad_rows[0]
    row = None
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        for n, r in enumerate(_csv.reader(fh, delimiter=delimiter)):
            if n >= 1 and r and len(r) != len(names):
                row = n
                break
    raise PeerscaleError(
        f"a row has {first.actual_columns} fields where the header has {first.expected_columns}",
        file=file, row=row,
        hint=f"check the delimiter ({delimiter!r} was used) and quoting; a field holding the delimiter must be quoted")


def _csv_frame(t, names_items, instrument, meta: _Meta):
    """An Arrow chunk → the pandas frame the whole-file CSV reader gives for these rows."""
    from .csv import arrow_column_types
    from .table import numeric_or_text

    items = names_items
    t = arrow_column_types(t, items, instrument)
    df = t.to_pandas(split_blocks=True)
    if meta.drop_last and len(df.columns) and df.columns[-1] == f"column_{t.num_columns}":
        df = df.drop(columns=df.columns[-1])  # trailing delimiter on every line
    for col in items:
        if col in df.columns and df[col].dtype.kind not in "biuf":
            df[col] = numeric_or_text(df[col])
    return df


def _raw_frames(path: Path, fmt: str, instrument, codes: dict, encoding, chunk_rows, meta: _Meta,
                columns=None) -> Iterator:
    """Yield ``(first_row, DataFrame)`` per chunk: the rows as the whole-file reader of ``fmt``
    reads them, before REDCap conventions and mapping."""
    import pandas as pd

    from .table import item_columns

    file = str(path)
    if fmt in ("csv", "tsv"):
        for first, t in _csv_batches(path, fmt, instrument, codes, encoding, chunk_rows, meta, columns):
            items = item_columns(t.column_names, instrument)
            df = _csv_frame(t, items, instrument, meta)
            df.index = pd.RangeIndex(first, first + len(df))
            yield first, df
        return
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        from .columnar import _finish as col_finish

        try:
            pf = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise PeerscaleError(f"cannot be read as Parquet ({exc})", file=file) from None
        from .columnar import apply_stored_labels

        apply_stored_labels(meta, pf.schema_arrow.metadata)
        n = pf.metadata.num_rows
        if n == 0:
            raise PeerscaleError("the file has columns but no data rows", file=file)
        meta.bytes_per_row = max(1.0, path.stat().st_size / n * 4)
        chunk = chunk_rows_for(meta.bytes_per_row, chunk_rows)
        first = 0
        for batch in pf.iter_batches(batch_size=chunk, columns=columns):
            df = batch.to_pandas()
            table = col_finish(df, path, "parquet", instrument, codes)
            df = table.data
            df.index = pd.RangeIndex(first, first + len(df))
            yield first, df
            first += len(df)
        return
    if fmt == "jsonl":
        yield from _jsonl_frames(path, instrument, codes, chunk_rows, meta)
        return
    if fmt in ("sav", "zsav", "dta"):
        yield from _stat_frames(path, fmt, instrument, codes, encoding, chunk_rows, meta)
        return
    raise AssertionError(fmt)  # pragma: no cover


def _jsonl_frames(path: Path, instrument, codes, chunk_rows, meta: _Meta):
    import pandas as pd

    from .columnar import read_jsonl

    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
    lines = head.count(b"\n") or 1
    meta.bytes_per_row = max(1.0, min(len(head), size) / lines)
    chunk = chunk_rows_for(meta.bytes_per_row, chunk_rows)
    columns: list[str] = []
    first = 0
    line0 = 0  # lines before this group

    def emit(buf, nlines):
        nonlocal first
        try:
            table = read_jsonl(path, instrument=instrument, missing_codes=codes, data=b"".join(buf))
        except PeerscaleError as exc:
            if exc.row is not None and isinstance(exc.row, int):
                exc.row += line0
                exc.message = exc.message.replace(f"line {exc.row - line0} ", f"line {exc.row} ")
            raise
        meta.warnings.extend(w for w in table.warnings if w not in meta.warnings)
        df = table.data
        for c in df.columns:
            if c not in columns:
                columns.append(c)
        if list(df.columns) != columns:
            df = df.reindex(columns=columns)
        df.index = pd.RangeIndex(first, first + len(df))
        first += len(df)
        return df

    buf: list[bytes] = []
    nrec = nlines = 0
    with open(path, "rb") as fh:
        for line in fh:
            buf.append(line)
            nlines += 1
            if line.strip():
                nrec += 1
            if nrec >= chunk:
                yield first, emit(buf, nlines)
                line0 += nlines
                buf, nrec, nlines = [], 0, 0
    if nrec:
        yield first, emit(buf, nlines)
    elif first == 0:
        raise PeerscaleError("the file is empty", file=str(path))


def _stat_frames(path: Path, fmt: str, instrument, codes, encoding, chunk_rows, meta: _Meta):
    import pandas as pd
    import pyreadstat

    from .spss import stat_table

    reader = pyreadstat.read_sav if fmt in ("sav", "zsav") else pyreadstat.read_dta
    kwargs = {"user_missing": True}
    if encoding:
        kwargs["encoding"] = encoding
    try:
        _, m = reader(str(path), metadataonly=True, **kwargs)
    except Exception as exc:
        raise PeerscaleError(f"cannot be read as a {'SPSS' if fmt != 'dta' else 'Stata'} file ({exc})",
                             file=str(path)) from None
    n = m.number_rows or 1
    meta.bytes_per_row = max(1.0, path.stat().st_size / n * 4)
    chunk = chunk_rows_for(meta.bytes_per_row, chunk_rows)
    first = 0
    try:
        for df, m in pyreadstat.read_file_in_chunks(reader, str(path), chunksize=chunk, **kwargs):
            table = stat_table(df, m, path, fmt, instrument, codes)
            meta.variable_labels, meta.file_label = table.variable_labels, table.file_label
            meta.value_labels, meta.missing_values = table.value_labels, table.missing_values
            df = table.data
            df.index = pd.RangeIndex(first, first + len(df))
            yield first, df
            first += len(df)
    except PeerscaleError:
        raise
    except Exception as exc:
        raise PeerscaleError(f"cannot be read as a {'SPSS' if fmt != 'dta' else 'Stata'} file ({exc})",
                             file=str(path)) from None
    if first == 0:
        raise PeerscaleError("the file has variables but no cases (rows)", file=str(path))


def _whole_frames(source, fmt, instrument, codes, encoding, sheet, chunk_rows, meta: _Meta):
    """Formats without a chunked reader: read whole, hand out in slices."""
    from .read import read_table

    table = read_table(source, format=fmt, sheet=sheet, instrument=instrument, missing_codes=codes,
                       encoding=encoding, check_duplicates=False)
    # read_table applied REDCap conventions already; they are applied again per chunk (idempotent)
    meta.warnings.extend(table.warnings)
    meta.variable_labels, meta.value_labels = table.variable_labels, table.value_labels
    meta.missing_values, meta.file_label = table.missing_values, table.file_label
    df = table.data
    n = len(df)
    chunk = chunk_rows_for(200.0, chunk_rows)
    for first in range(0, n, chunk):
        yield first, df.iloc[first:first + chunk]


# --------------------------------------------------------------------------- chunks as tables

class ChunkReader:
    """State shared by the chunks of one file: format, instrument, mapping, REDCap keys seen.

    ``tables()`` yields :class:`~peerscale.io.table.Table` objects, one per chunk, finished as
    :func:`peerscale.responses.load_table` finishes a whole file; their ``data`` index is the
    absolute row position.
    """

    def __init__(self, source, instrument=None, *, chunk_rows: int | None = None, input_format=None,
                 encoding=None, sheet=None, map=None, redcap_dictionary=None, missing_codes=None, key_columns=(),
                 check_duplicates: bool = True):
        from ..spec import Instrument, load_instrument
        from .read import _check_missing_codes, _dictionary, detect_format
        from .source import check_input

        src = check_input(source, "data file")
        self.file = str(source)
        self.stream = src.kind == "stream"
        self.fmt = "csv" if self.stream else detect_format(Path(src.path).expanduser(), input_format)
        self.path = None if self.stream else Path(src.path).expanduser()
        self.input_format = input_format
        self.sheet = sheet
        self.encoding = encoding
        self.chunk_rows = chunk_rows
        if chunk_rows is not None:
            chunk_rows_for(1.0, chunk_rows)  # checks it
        self.codes = {str(k): str(v) for k, v in (missing_codes or {}).items()}
        self.map = map
        self.dictionary = _dictionary(redcap_dictionary)
        self.key_columns = [c for c in key_columns if c]
        self.check_duplicates = check_duplicates
        if instrument is not None and not isinstance(instrument, Instrument):
            instrument = load_instrument(instrument)
        self.instrument = instrument
        _check_missing_codes(self.codes, instrument)
        self.meta = _Meta(fmt=self.fmt)
        self._seen_keys: dict[str, int] = {}
        self._repeats: bool | None = None
        self.streamed = (not self.stream and self.fmt in STREAMED_FORMATS
                         and not (self.fmt in ("csv", "tsv") and encoding
                                  and encoding.lower().replace("_", "-") not in ("utf-8", "utf8", "utf-8-sig"))
                         and not (self.fmt in ("csv", "tsv") and _starts_utf16(self.path)))

    # raw rows --------------------------------------------------------------
    def raw(self, columns=None) -> Iterator:
        if self.streamed:
            return _raw_frames(self.path, self.fmt, self.instrument, self.codes, self.encoding, self.chunk_rows,
                               self.meta, columns)
        return _whole_frames(self.file, self.input_format, self.instrument, self.codes, self.encoding, self.sheet,
                             self.chunk_rows, self.meta)

    def _form_repeats(self) -> bool | None:
        """Whether any row of the whole file is a repeat instance of the instrument's form (a
        first pass over the repeat-instrument column only); None when there is no such column."""
        if self._repeats is not None:
            return self._repeats
        from .dictionary import form_name, instrument_forms
        from .redcap import REDCAP_ID_LABELS, _blank

        inst = self.instrument
        forms = set(instrument_forms(inst)) | {form_name(inst.title)}
        found = False
        for _first, df in self.raw():
            col = None
            for c in ("redcap_repeat_instrument", *[k for k, v in REDCAP_ID_LABELS.items()
                                                   if v == "redcap_repeat_instrument"]):
                if c in df.columns:
                    col = df[c]
                    break
            if col is None:
                self._repeats = False
                return False
            rep = col.astype("str").str.strip().str.lower().str.replace(r"[^a-z0-9_]", "_", regex=True)
            if (~_blank(col) & rep.isin(forms)).any():
                found = True
                break
        self._repeats = found
        return found

    def tables(self) -> Iterator:
        """One finished :class:`~peerscale.io.table.Table` per chunk."""
        import pandas as pd

        from ..responses import apply_mapping, read_mapping
        from .read import _finish
        from .redcap import REDCAP_ID_LABELS, _blank
        from .table import Table

        mapping_given = read_mapping(self.map)
        for first, df in self.raw():
            table = Table(data=df.reset_index(drop=True), path=self.file, format=self.fmt,
                          warnings=list(self.meta.warnings),
                          variable_labels=dict(self.meta.variable_labels),
                          value_labels={k: dict(v) for k, v in self.meta.value_labels.items()},
                          missing_values={k: dict(v) for k, v in self.meta.missing_values.items()},
                          file_label=self.meta.file_label)
            if self.streamed and self.fmt in ("csv", "tsv"):  # the other readers finish their own rows
                from .items import finish_items

                finish_items(table, self.instrument, self.codes)
            try:
                _finish(table, self.instrument, self.dictionary, self.codes, self.key_columns, check_duplicates=False)
            except PeerscaleError as exc:
                raise _shift(exc, first) from None
            # whole-file REDCap rules
            rep_col = next((c for c in ("redcap_repeat_instrument",
                                        *[k for k, v in REDCAP_ID_LABELS.items() if v == "redcap_repeat_instrument"])
                            if c in table.data.columns), None)
            if rep_col is not None and self.instrument is not None and table.in_scope is not None:
                from .dictionary import form_name, instrument_forms

                forms = set(instrument_forms(self.instrument)) | {form_name(self.instrument.title)}
                col = table.data[rep_col]
                rep = col.astype("str").str.strip().str.lower().str.replace(r"[^a-z0-9_]", "_", regex=True)
                blank = _blank(col)
                mine = ~blank & rep.isin(forms)
                table.in_scope = mine if self._form_repeats() else blank
                table.in_scope.name = "in_scope"
            if self.check_duplicates and table.id_columns:
                self._check_keys(table, first)
            mapping = {**{c: i for c, i in table.suggested_map.items() if c != i}, **mapping_given}
            apply_mapping(table, mapping, self.file)
            table.data.index = pd.RangeIndex(first, first + len(table.data))
            if table.in_scope is not None:
                table.in_scope.index = table.data.index
            table.first_row = first
            yield table

    def _check_keys(self, table, first: int) -> None:
        """A record (per event, instance and study key column) twice: within this chunk or with
        an earlier chunk. The message names both rows of the file."""
        import pyarrow as pa
        import pyarrow.compute as pc

        df = table.data
        ids = list(table.id_columns) + [c for c in self.key_columns if c in df.columns and c not in table.id_columns]
        cols = [pa.array(df[c].astype("str"), from_pandas=True).cast(pa.string()) for c in ids]
        joined = pc.binary_join_element_wise(*cols, "\x1f", null_handling="replace", null_replacement="")
        keys = joined.to_pylist()
        seen = self._seen_keys
        dup_rows: list[tuple[int, int, str]] = []
        for k, key in enumerate(keys):
            prev = seen.get(key)
            if prev is not None:
                dup_rows.append((prev, first + k + 1, key))
                if len(dup_rows) >= 10:
                    break
            else:
                seen[key] = first + k + 1
        if dup_rows:
            listing = "; ".join(", ".join(f"{c}={v}" for c, v in zip(ids, key.split("\x1f")) if v not in ("", "None", "nan"))
                                for _a, _b, key in dup_rows[:10])
            rows = sorted({r for a, b, _k in dup_rows for r in (a, b)})
            where = " within one event/instance" if len(ids) > 1 else ""
            raise PeerscaleError(
                f"duplicate record ids{where}: {listing}", file=self.file, row=", ".join(map(str, rows[:10])),
                column=ids[0],
                hint="each record (per event and repeat instance) must appear once; remove or merge the duplicate rows "
                     "(`peerscale validate` lists them all)")


def _starts_utf16(path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(2) in (b"\xff\xfe", b"\xfe\xff")
    except OSError:
        return False


def _shift(exc: PeerscaleError, first: int) -> PeerscaleError:
    """A chunk-relative row number in ``exc`` made absolute."""
    if first and isinstance(exc.row, int):
        exc.row += first
    return exc


# --------------------------------------------------------------------------- public

def iter_chunks(source, instrument=None, *, chunk_rows: int | None = None, kind: str = "raw", scales=None,
                map=None, redcap_dictionary=None, missing_codes=None, encoding=None, sheet=None,
                input_format=None, on_invalid: str = "error", key_columns=()) -> Iterator:
    """Read ``source`` in chunks of at most ``chunk_rows`` rows, in input order.

    Parameters
    ----------
    source : str or pathlib.Path
        A data file (CSV/TSV, Parquet, JSON lines and SPSS/Stata are read in bounded memory;
        other formats are read whole and sliced).
    instrument : str, pathlib.Path or Instrument, optional
        Types the item columns (and is needed for ``kind="clean"``).
    chunk_rows : int, optional
        Rows per chunk (default: up to 250,000 and about 32 MiB of input).
    kind : {"raw", "clean", "both"}
        ``"raw"``: the rows as read, mapped to item ids (REDCap conventions applied).
        ``"clean"``: the cleaned item codes (float64, NaN = missing) of the scored scales' items
        (:func:`peerscale.scoring.clean_items`), rows out of scope (REDCap rows of other
        repeating forms) all missing. ``"both"``: ``(raw, clean)`` pairs.
    scales, map, redcap_dictionary, missing_codes, encoding, sheet, input_format, on_invalid
        As :func:`peerscale.read`.

    Yields
    ------
    pandas.DataFrame (or a pair of them)
        Index: each row's absolute position in the file (0-based), so a row number is
        ``index + 1``. ``frame.attrs["first_row"]`` is the 1-based number of the first row;
        clean frames also carry ``attrs["missing"]`` (answers missing by reason, per item) and
        ``attrs["in_scope"]`` (a boolean array, or None).

    Notes
    -----
    Validation errors (invalid values, fields per row, duplicate REDCap records) name the
    row of the file, as the whole-file reader does.

    Examples
    --------
    >>> from peerscale.io.chunks import iter_chunks
    >>> from peerscale.examples import path
    >>> sum(len(c) for c in iter_chunks(path("youth_export.csv"), "pbr-y", chunk_rows=100, kind="clean"))
    559
    """
    if kind not in ("raw", "clean", "both"):
        raise PeerscaleError(f"`kind` must be 'raw', 'clean' or 'both', got {kind!r}")
    if kind != "raw" and instrument is None:
        raise PeerscaleError("cleaned chunks need an `instrument`")
    reader = ChunkReader(source, instrument, chunk_rows=chunk_rows, input_format=input_format, encoding=encoding,
                         sheet=sheet, map=map, redcap_dictionary=redcap_dictionary, missing_codes=missing_codes,
                         key_columns=key_columns)
    scored = None
    for table in reader.tables():
        first = table.first_row
        raw = table.data
        raw.attrs["first_row"] = first + 1
        if kind == "raw":
            yield raw
            continue
        import numpy as np
        import pandas as pd

        from ..responses import _by_item, select_scales
        from ..scoring import clean_items

        if scored is None:
            scored, _skipped = select_scales(reader.instrument, raw.columns, scales, file=reader.file)
        scope = None if table.in_scope is None else np.asarray(table.in_scope, dtype=bool)
        clean = clean_items(raw, scored, on_invalid=on_invalid, value_labels=_by_item(table.value_labels, scored),
                            missing_values=_by_item(table.missing_values, scored), file=reader.file,
                            row_mask=scope, row_offset=first)
        frame = pd.DataFrame(clean.columns, index=raw.index, copy=False)
        if scope is not None:
            frame = frame.where(pd.DataFrame(np.repeat(scope[:, None], frame.shape[1], axis=1),
                                             index=frame.index, columns=frame.columns))
        frame.attrs.update({"first_row": first + 1, "missing": clean.missing, "in_scope": scope})
        yield frame if kind == "clean" else (raw, frame)
