"""``read_table``: pick the reader from the extension (or the file's first bytes) and apply the
REDCap conventions (ids, repeating forms, label mode, missing-data codes) to whatever it read."""

from __future__ import annotations

from pathlib import Path

from ..errors import PeerscaleError
from .table import Table, normalise_keys

READ_FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv", ".sav": "sav",
                ".zsav": "zsav", ".dta": "dta", ".sas7bdat": "sas7bdat", ".xlsx": "xlsx",
                ".xlsm": "xlsx", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl",
                ".ndjson": "jsonl", ".sps": "redcap-sps"}
FORMAT_NAMES = sorted(set(READ_FORMATS.values()))


def _magic(path: Path) -> str | None:
    """The format the first bytes of a regular file show (never opens a pipe: reading would consume it)."""
    try:
        if not path.is_file():
            return None
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return None
    return _magic_bytes(head)


def detect_format(path: str | Path, format: str | None = None) -> str:
    """The reader for ``path``: ``format`` if given, else the extension, else the first bytes."""
    if format:
        fmt = format.lower().lstrip(".")
        fmt = {"spss": "sav", "stata": "dta", "excel": "xlsx", "sps": "redcap-sps", "redcap": "csv",
               "json": "jsonl"}.get(fmt, fmt)
        if fmt not in FORMAT_NAMES:
            raise PeerscaleError(f"unknown input format {format!r}", hint="formats: " + ", ".join(FORMAT_NAMES))
        return fmt
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".xls" or _magic(p) == "xls":
        raise PeerscaleError("old Excel .xls files are not supported", file=str(path),
                             hint="save the sheet as .xlsx or CSV in Excel or LibreOffice")
    if suffix in READ_FORMATS:
        return READ_FORMATS[suffix]
    return _magic(p) or "csv"


def _magic_bytes(head: bytes) -> str | None:
    if head.startswith((b"$FL2", b"$FL3")):
        return "zsav" if head.startswith(b"$FL3") else "sav"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"<stata_dta>") or (len(head) > 1 and head[0] in (113, 114, 115) and head[1] in (1, 2)):
        return "dta"
    if head[32:48] == b"\xc2\xea\x81\x60\xb3\x14\x11\xcf\xbd\x92\x08\x00\x09\xc7\x31\x8c":
        return "sas7bdat"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    return None


def read_table(path, *, format: str | None = None, sheet=None, instrument=None, redcap_dictionary=None,
               missing_codes: dict | None = None, encoding: str | None = None, key_columns=(),
               check_duplicates: bool = True) -> Table:
    """Read a data file into a :class:`~peerscale.io.table.Table`.

    ``path`` may be ``"-"`` (standard input), a pipe or a named pipe: those are read as a
    stream (see :mod:`peerscale.io.source`). ``instrument`` (an
    :class:`~peerscale.spec.Instrument` or a name) types its item columns;
    ``redcap_dictionary`` (path or parsed dictionary) supplies value labels, suggested field→item
    mapping and the project's missing-data codes; ``missing_codes`` (``{"-999": "Not asked"}``)
    adds codes; ``sheet`` picks an Excel sheet (name or 1-based number); ``encoding`` overrides
    text encoding detection; ``key_columns`` (a study's wave column) tell REDCap records apart
    besides REDCap's own ids; ``check_duplicates=False`` leaves REDCap records that occur twice in
    one event to the caller (``peerscale validate`` lists them all) instead of refusing them.
    """
    from .source import check_input, check_memory, human

    src = check_input(path, "data file")
    if instrument is not None and not hasattr(instrument, "items"):
        from ..spec import load_instrument
        instrument = load_instrument(instrument)
    dictionary = _dictionary(redcap_dictionary)
    codes = {str(k): str(v) for k, v in (missing_codes or {}).items()}
    _check_missing_codes(codes, instrument)
    try:
        if src.kind == "stream":
            table = _read_stream(src, format, sheet, instrument, codes, encoding)
        else:
            p = Path(src.path).expanduser()
            fmt = detect_format(p, format)
            if sheet is not None and fmt != "xlsx":
                raise PeerscaleError("`sheet` applies to Excel files only", file=str(path))
            check_memory(src, fmt)
            table = _read_format(p, fmt, sheet, instrument, codes, encoding)
    except MemoryError:
        size = f" ({human(src.size)})" if src.size else ""
        raise PeerscaleError(f"ran out of memory reading this file{size}", file=str(path),
                             hint="split the file into parts (e.g. by site or wave) and run each, or run where more "
                                  "memory is available") from None
    return _finish(table, instrument, dictionary, codes, key_columns, check_duplicates)


def _finish(table: Table, instrument, dictionary, codes: dict[str, str], key_columns=(),
            check_duplicates: bool = True) -> Table:
    from .redcap import apply_redcap

    apply_redcap(table, instrument=instrument, dictionary=dictionary, missing_codes=codes, key_columns=key_columns,
                 check_duplicates=check_duplicates)
    normalise_keys(table)
    return table


def _check_missing_codes(codes: dict[str, str], instrument) -> None:
    """A project missing-data code may not be an answer the instrument scores (the scoring-file
    loader refuses the same conflict): ``--missing-code 3=Oops`` would turn valid 3s missing."""
    if not codes or instrument is None:
        return
    for code, reason in codes.items():
        try:
            value = float(code)
        except ValueError:
            continue
        for iid in instrument.scale_items() if hasattr(instrument, "scale_items") else instrument.items:
            rs = instrument.items[iid].response_scale
            scored = value in rs.codes if rs.codes else (rs.has_range and rs.min <= value <= rs.max)
            if scored:
                what = (f"a scored code of response scale {rs.name!r} ({rs.codes[value]})" if rs.codes
                        else f"inside the declared range {rs.min:g} to {rs.max:g}")
                raise PeerscaleError(f"missing-data code {code} ({reason}) is {what}, used by item {iid!r}",
                                     key="missing_codes", value=code,
                                     hint="a missing-data code must differ from every answer the instrument scores; "
                                          "drop it, or use the code the project really uses for missing answers")


def _read_format(p: Path, fmt: str, sheet, instrument, codes, encoding) -> Table:
    if fmt in ("csv", "tsv"):
        from .csv import read_delimited
        return read_delimited(p, instrument=instrument, missing_codes=codes, encoding=encoding, fmt=fmt)
    if fmt in ("sav", "zsav", "dta", "sas7bdat"):
        from .spss import read_stat_file
        return read_stat_file(p, fmt, instrument=instrument, missing_codes=codes, encoding=encoding)
    if fmt == "redcap-sps":
        from .spss import read_redcap_sps
        return read_redcap_sps(p, instrument=instrument, missing_codes=codes, encoding=encoding)
    if fmt == "xlsx":
        from .excel import read_xlsx
        return read_xlsx(p, sheet=sheet, instrument=instrument, missing_codes=codes)
    if fmt == "parquet":
        from .columnar import read_parquet
        return read_parquet(p, instrument=instrument, missing_codes=codes)
    if fmt == "jsonl":
        from .columnar import read_jsonl
        return read_jsonl(p, instrument=instrument, missing_codes=codes)
    raise PeerscaleError(f"no reader for format {fmt!r}", file=str(p))  # pragma: no cover


_SUFFIX = {"sav": ".sav", "zsav": ".zsav", "dta": ".dta", "sas7bdat": ".sas7bdat", "xlsx": ".xlsx",
           "parquet": ".parquet"}


def _read_stream(src, format, sheet, instrument, codes, encoding) -> Table:
    """Standard input, a pipe or a FIFO: read the bytes (capped), then parse them. Text formats
    are parsed from memory; binary formats through a private temporary file."""
    import tempfile

    from .source import read_stream, stream_limit

    fmt0 = detect_format("", format) if format else None
    data = read_stream(src, "data file", stream_limit(fmt0))
    fmt = fmt0 or _magic_bytes(data[:64]) or "csv"
    name = "standard input" if src.path == "-" else src.path
    if fmt == "xls":
        raise PeerscaleError("old Excel .xls files are not supported", file=name,
                             hint="save the sheet as .xlsx or CSV in Excel or LibreOffice")
    if sheet is not None and fmt != "xlsx":
        raise PeerscaleError("--sheet applies to Excel files only", file=name)
    if fmt == "redcap-sps":
        raise PeerscaleError("REDCap's SPSS syntax names a data file beside it, so it cannot come from a stream",
                             file=name, hint="give the path of the .sps file")
    if fmt in ("csv", "tsv"):
        from .csv import read_delimited
        return read_delimited(name, instrument=instrument, missing_codes=codes, encoding=encoding, fmt=fmt, data=data)
    if fmt == "jsonl":
        from .columnar import read_jsonl
        return read_jsonl(name, instrument=instrument, missing_codes=codes, data=data)
    with tempfile.TemporaryDirectory(prefix="peerscale-") as tmp:
        spool = Path(tmp) / f"stream{_SUFFIX[fmt]}"
        spool.write_bytes(data)
        del data
        table = _read_format(spool, fmt, sheet, instrument, codes, encoding)
    table.path = name
    table.warnings = [w.replace(str(spool), name) for w in table.warnings]
    return table


def _dictionary(redcap_dictionary):
    if redcap_dictionary is None:
        return None
    from .dictionary import Dictionary, read_dictionary

    return redcap_dictionary if isinstance(redcap_dictionary, Dictionary) else read_dictionary(redcap_dictionary)


def table_from_frame(frame, *, instrument=None, redcap_dictionary=None, missing_codes: dict | None = None,
                     name: str | None = None, key_columns=(), check_duplicates: bool = True) -> Table:
    """A :class:`~peerscale.io.table.Table` from a DataFrame already in memory, with the same
    REDCap conventions, dictionary and missing codes as :func:`read_table` applies to a file.
    The frame is not modified (columns the conventions change are replaced in a shallow copy)."""
    import pandas as pd

    from .items import finish_items

    if not isinstance(frame, pd.DataFrame):
        raise PeerscaleError(f"expected a file path or a pandas DataFrame, got {type(frame).__name__}")
    if instrument is not None and not hasattr(instrument, "items"):
        from ..spec import load_instrument
        instrument = load_instrument(instrument)
    data = frame.copy(deep=False)  # copy-on-write: replacing a column never touches the caller's frame
    data.columns = [str(c) for c in data.columns]
    if data.columns.duplicated().any():
        dup = data.columns[data.columns.duplicated()][0]
        raise PeerscaleError(f"the data have two columns named {dup!r}", column=dup, file=name)
    data = data.reset_index(drop=True)
    codes = {str(k): str(v) for k, v in (missing_codes or {}).items()}
    _check_missing_codes(codes, instrument)
    table = Table(data=data, path=name, format="dataframe")
    finish_items(table, instrument, codes)
    return _finish(table, instrument, _dictionary(redcap_dictionary), codes, key_columns, check_duplicates)
