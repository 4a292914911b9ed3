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
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return None
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


def read_table(path, *, format: str | None = None, sheet=None, instrument=None, redcap_dictionary=None,
               missing_codes: dict | None = None, encoding: str | None = None, key_columns=()) -> Table:
    """Read a data file into a :class:`~peerscale.io.table.Table`.

    ``instrument`` (an :class:`~peerscale.spec.Instrument` or a name) types its item columns;
    ``redcap_dictionary`` (path or parsed dictionary) supplies value labels, suggested field→item
    mapping and the project's missing-data codes; ``missing_codes`` (``{"-999": "Not asked"}``)
    adds codes; ``sheet`` picks an Excel sheet (name or 1-based number); ``encoding`` overrides
    text encoding detection; ``key_columns`` (a study's wave column) tell REDCap records apart
    besides REDCap's own ids.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise PeerscaleError("file not found", file=str(path))
    if p.is_dir():
        raise PeerscaleError("is a directory, not a data file", file=str(path))
    if instrument is not None and not hasattr(instrument, "items"):
        from ..spec import load_instrument
        instrument = load_instrument(instrument)
    dictionary = _dictionary(redcap_dictionary)
    codes = {str(k): str(v) for k, v in (missing_codes or {}).items()}
    fmt = detect_format(p, format)
    if sheet is not None and fmt != "xlsx":
        raise PeerscaleError("`sheet` applies to Excel files only", file=str(path))
    if fmt in ("csv", "tsv"):
        from .csv import read_delimited
        table = read_delimited(p, instrument=instrument, missing_codes=codes, encoding=encoding, fmt=fmt)
    elif fmt in ("sav", "zsav", "dta", "sas7bdat"):
        from .spss import read_stat_file
        table = read_stat_file(p, fmt, instrument=instrument, missing_codes=codes, encoding=encoding)
    elif fmt == "redcap-sps":
        from .spss import read_redcap_sps
        table = read_redcap_sps(p, instrument=instrument, missing_codes=codes, encoding=encoding)
    elif fmt == "xlsx":
        from .excel import read_xlsx
        table = read_xlsx(p, sheet=sheet, instrument=instrument, missing_codes=codes)
    elif fmt == "parquet":
        from .columnar import read_parquet
        table = read_parquet(p, instrument=instrument, missing_codes=codes)
    elif fmt == "jsonl":
        from .columnar import read_jsonl
        table = read_jsonl(p, instrument=instrument, missing_codes=codes)
    else:  # pragma: no cover - detect_format only returns the names above
        raise PeerscaleError(f"no reader for format {fmt!r}", file=str(path))
    return _finish(table, instrument, dictionary, codes, key_columns)


def _finish(table: Table, instrument, dictionary, codes: dict[str, str], key_columns=()) -> Table:
    from .redcap import apply_redcap

    apply_redcap(table, instrument=instrument, dictionary=dictionary, missing_codes=codes, key_columns=key_columns)
    normalise_keys(table)
    return table


def _dictionary(redcap_dictionary):
    if redcap_dictionary is None:
        return None
    from .dictionary import Dictionary, read_dictionary

    return redcap_dictionary if isinstance(redcap_dictionary, Dictionary) else read_dictionary(redcap_dictionary)


def table_from_frame(frame, *, instrument=None, redcap_dictionary=None, missing_codes: dict | None = None,
                     name: str | None = None, key_columns=()) -> Table:
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
    table = Table(data=data, path=name, format="dataframe")
    finish_items(table, instrument, codes)
    return _finish(table, instrument, _dictionary(redcap_dictionary), codes, key_columns)
