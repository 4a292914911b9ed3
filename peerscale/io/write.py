"""Writers for score files: CSV/TSV, SPSS .sav/.zsav, Stata .dta, Excel .xlsx, Parquet, JSON lines.

Every writer goes through :func:`write_table`, which writes to a temporary file in the target
directory and renames it into place (``os.replace``, or ``os.link`` when overwriting is not
allowed, so a file that appears meanwhile is never clobbered). An error leaves no partial
file. CSV, TSV and Excel outputs neutralise spreadsheet formula injection (OWASP "CSV
Injection"): a text cell that begins with ``=``, ``+``, ``-``, ``@``, tab or carriage return
gets a leading ``'``; numbers, and text that is a plain number such as ``-1.5``, are left alone.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import tempfile
from pathlib import Path

from ..errors import PeerscaleError
from .table import OutputMeta

WRITE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".sav": "sav", ".zsav": "zsav",
                 ".dta": "dta", ".xlsx": "xlsx", ".parquet": "parquet", ".pq": "parquet",
                 ".jsonl": "jsonl", ".ndjson": "jsonl"}
_TRIGGER = re.compile(r"^[=+\-@\t\r]")
_PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


def output_format(path: str | Path, format: str | None = None) -> str:
    if format:
        fmt = format.lower().lstrip(".")
        if fmt not in set(WRITE_FORMATS.values()):
            raise PeerscaleError(f"cannot write format {format!r}",
                                 hint="formats: " + ", ".join(sorted(set(WRITE_FORMATS.values()))))
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in WRITE_FORMATS:
        raise PeerscaleError(f"cannot tell the output format from the extension {suffix or '(none)'!r}",
                             file=str(path), hint="use .csv, .tsv, .sav, .zsav, .dta, .xlsx, .parquet or .jsonl, or `format`")
    return WRITE_FORMATS[suffix]


def escape_formula_text(value: str) -> str:
    """``'=1+1`` for ``=1+1``; plain numbers and harmless text unchanged."""
    if isinstance(value, str) and _TRIGGER.match(value) and not re.match(_PLAIN_NUMBER, value):
        return "'" + value
    return value


def _any_trigger(text) -> bool:
    """Does any cell of a text Series start with a formula trigger character?"""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(text.to_numpy(dtype=object, na_value=None), type=pa.string()) \
        if not hasattr(text.array, "_pa_array") else text.array._pa_array
    return bool(pc.any(pc.match_substring_regex(arr, _TRIGGER.pattern)).as_py())


def escape_formulas(df):
    """Copy of ``df`` whose text cells (and column names) cannot start a spreadsheet formula."""
    import pandas as pd

    out = df.copy(deep=False)  # copy-on-write: columns are shared until replaced
    for col in out.columns:
        s = out[col]
        if s.dtype.kind in "biufcmM":
            continue
        text = s.astype("str")
        if not _any_trigger(text):  # the usual case, checked in one pass by pyarrow
            continue
        hit = s.notna() & text.str.match(_TRIGGER.pattern) & ~text.str.match(_PLAIN_NUMBER)
        if hit.any():
            out[col] = s.astype(object).where(~hit, "'" + text)
    out.columns = pd.Index([escape_formula_text(str(c)) for c in out.columns])
    return out


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.resolve() == b.resolve():
            return True
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


_KIND = ((stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
         (stat.S_ISSOCK, "a socket"))


def check_output(path, *, force: bool = False, protect=()) -> Path:
    """The file to write for output ``path``, checked before any work is done.

    Refused, even with ``force``: an input of the run (``protect``: data, scoring file, item
    bank, mapping, dictionary; compared as files, so links and ``./x`` count), standard
    output (``-``), a directory, a device, a named pipe or a socket (replacing ``/dev/null``
    by a regular file broke the machine it ran on). An existing file needs ``force``. A
    symbolic link is followed: the file it names is replaced, the link stays.
    """
    text = str(path)
    if text == "-":
        raise PeerscaleError("writing to standard output is not supported: give an output file name", file="-")
    target = Path(text).expanduser()
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    for p in protect or ():
        if p is not None and str(p) != "-" and _same_file(target, Path(str(p)).expanduser()):
            raise PeerscaleError(f"refusing to write the output over an input of this run ({p}), even with `force`",
                                 file=text, hint="choose a different output path")
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise PeerscaleError(f"cannot use this output path: {exc.strerror or exc}", file=text) from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise PeerscaleError("the output path is a directory", file=text, hint="give a file name inside it")
        for test, kind in _KIND:
            if test(st.st_mode):
                raise PeerscaleError(f"the output path is {kind}, not a regular file; refusing to replace it, "
                                     "even with `force`", file=text, hint="give the name of a regular file")
        if not force:
            raise PeerscaleError("the output file already exists", file=text,
                                 hint="use `force` to overwrite it (re-running a command needs it), or choose another path")
    if not target.parent.is_dir():
        raise PeerscaleError("the output directory does not exist", file=text,
                             hint=f"create {str(target.parent)!r} first")
    return target


_WRITE_ERRORS = {
    errno.EACCES: ("permission denied", "write into a folder you may write to"),
    errno.EPERM: ("permission denied", "write into a folder you may write to"),
    errno.EROFS: ("the folder is on a read-only file system", "write somewhere else"),
    errno.ENOSPC: ("no space left on the device", "free some space or write somewhere else"),
    errno.EDQUOT: ("the disk quota is exceeded", "free some space or write somewhere else"),
    errno.EFBIG: ("the file would be larger than allowed (a file-size limit such as `ulimit -f`, or the file "
                  "system's maximum)", "raise the limit, or write to another file system"),
    errno.ENAMETOOLONG: ("the file name is too long", "choose a shorter name"),
    errno.EIO: ("an input/output error on the device", "check the disk, or write somewhere else"),
}


def write_error(exc: OSError, target: Path | str) -> PeerscaleError:
    """An OS error while writing ``target`` as one message naming the output (not its temporary file)."""
    code = exc.errno
    if code is None:
        m = re.search(r"errno (\d+)", str(exc), re.IGNORECASE)
        code = int(m.group(1)) if m else None
    what, hint = _WRITE_ERRORS.get(code, (exc.strerror or str(exc).split(". Detail")[0], None))
    return PeerscaleError(f"cannot write the output: {what}", file=str(target), hint=hint)


def atomic_write(path: str | Path, write, *, force: bool = False, protect=()) -> Path:
    """Call ``write(tmp_path)`` then move the temporary file to ``path``.

    Refuses what :func:`check_output` refuses. Any error, Ctrl-C or SIGTERM (the CLI turns
    it into an exception) leaves no temporary file and the old output, if any, untouched.
    """
    target = check_output(path, force=force, protect=protect)
    shown = str(path)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise write_error(exc, shown) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        if force:
            check_output(path, force=True, protect=protect)  # nothing became a device or an input meanwhile
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise PeerscaleError("the output file already exists", file=shown,
                                     hint="use `force` to overwrite it, or choose another path") from None
            except OSError as exc:  # file systems without hard links
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                    raise
                if target.exists():
                    raise PeerscaleError("the output file already exists", file=shown,
                                         hint="use `force` to overwrite it") from None
                os.replace(tmp, target)
    except PeerscaleError as exc:
        if exc.file is None or exc.file == str(tmp):
            exc.file = shown
        exc.message = exc.message.replace(str(tmp), shown)
        raise
    except OSError as exc:
        raise write_error(exc, shown) from None
    finally:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            pass
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_table(df, path, *, format: str | None = None, force: bool = False, protect=(),
                meta: OutputMeta | None = None) -> Path:
    """Write ``df`` to ``path`` atomically in the format its extension (or ``format``) names.

    Raises :class:`PeerscaleError` if ``path`` exists and not ``force``, or if it is one of the
    ``protect`` paths (the inputs). ``meta`` adds labels, missing codes and measure levels where
    the format holds them (.sav/.zsav all of them; .dta labels; .xlsx a "variables" sheet;
    Parquet keeps them as schema metadata).
    """
    fmt = output_format(path, format)
    meta = meta or OutputMeta()
    writer = {"csv": _write_csv, "tsv": _write_tsv, "sav": _write_sav, "zsav": _write_zsav,
              "dta": _write_dta, "xlsx": _write_xlsx, "parquet": _write_parquet, "jsonl": _write_jsonl}[fmt]
    _check_columns(df, path)
    return atomic_write(path, lambda tmp: writer(df, tmp, meta), force=force, protect=protect)


def _check_columns(df, path):
    from collections import Counter

    dups = sorted(c for c, n in Counter(str(c) for c in df.columns).items() if n > 1)
    if dups:
        raise PeerscaleError("the output would hold duplicate column names: " + ", ".join(dups), file=str(path))


# --------------------------------------------------------------------------- text

def _arrow_table(df):
    import pyarrow as pa

    plain = df.copy(deep=False)
    for col in plain.columns:
        if plain[col].dtype == object:
            plain[col] = plain[col].map(lambda v: v if v is None or isinstance(v, str) or v != v else str(v))
    return pa.Table.from_pandas(plain, preserve_index=False)


PARALLEL_ROWS = 200_000  # below this one thread is as fast


def render_delimited(df, delimiter: str, header: bool = True) -> list:
    """``df`` as delimited text (a list of byte buffers, in order): pyarrow's CSV writer
    (shortest round-trip floats, NaN as empty), formula text escaped. Large tables are
    formatted in row chunks on two threads (pyarrow releases the GIL): on 1M rows x 11 columns
    this halves the wall time of formatting numbers. A file scored in chunks renders each
    chunk with this and ``header`` on the first only: the bytes are those of the whole file."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = _arrow_table(escape_formulas(df))
    fast = _fast_render(table, delimiter, header)
    if fast is not None:
        return fast
    n_threads = min(os.cpu_count() or 1, 4)
    if table.num_rows < PARALLEL_ROWS or n_threads < 2:
        sink = pa.BufferOutputStream()
        pacsv.write_csv(table, sink, pacsv.WriteOptions(delimiter=delimiter, include_header=header))
        return [sink.getvalue()]
    from concurrent.futures import ThreadPoolExecutor

    step = -(-table.num_rows // n_threads)

    def render(k):
        sink = pa.BufferOutputStream()
        pacsv.write_csv(table.slice(k * step, step), sink,
                        pacsv.WriteOptions(delimiter=delimiter, include_header=header and k == 0))
        return sink.getvalue()

    with ThreadPoolExecutor(n_threads) as pool:
        return list(pool.map(render, range(n_threads)))


MAX_DISTINCT = 4096  # a numeric column with more distinct values goes through pyarrow's writer
FUSE_LIMIT = 1 << 16  # neighbouring numeric columns share one code while their value pairs are this few
FAST_ROWS = 1 << 20  # rows rendered at once by the fast path (its text stays under 2 GiB)


def _fast_render(table, delimiter: str, header: bool):
    """The bytes pyarrow's CSV writer writes for ``table``, made faster for score files.

    Scores are means of a few integer codes, so a numeric column holds few distinct values:
    each distinct value is formatted once, by pyarrow's CSV writer itself (so the text is
    identical), and the rows take their text from that table (``dictionary_encode`` + ``take``);
    text columns are quoted as pyarrow quotes them (``"..."``, inner quotes doubled, null
    empty). The fields of a row are joined in C++ (``binary_join_element_wise``); the joined
    array's data buffer is the CSV body. On 1M rows x 11 score columns this takes a fifth of the
    CPU time of formatting every number. Returns None (use pyarrow's writer) for a column with
    many distinct numbers or of another type.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    if table.num_columns == 0 or table.num_rows == 0:
        return None
    kinds = []
    for col in table.columns:
        t = col.type
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            kinds.append("text")
        elif pa.types.is_integer(t) or pa.types.is_floating(t):
            kinds.append("number")
        else:
            return None
    out = []
    if header:
        sink = pa.BufferOutputStream()
        pacsv.write_csv(table.slice(0, 0), sink, pacsv.WriteOptions(delimiter=delimiter, include_header=True))
        out.append(sink.getvalue())
    opts = pacsv.WriteOptions(delimiter=delimiter, include_header=False)
    lookups = {}

    def lookup(j, dictionary):
        """Formatted text of each distinct value (and "" for null, last)."""
        key = (j, len(dictionary))
        sink = pa.BufferOutputStream()
        pacsv.write_csv(pa.table({"v": dictionary}), sink, opts)
        lines = sink.getvalue().to_pybytes().split(b"\n")[:-1]
        if len(lines) != len(dictionary):
            return None
        return pa.array([line.decode("ascii") for line in lines] + [""], pa.string())

    try:
        for start in range(0, table.num_rows, FAST_ROWS):
            part = table.slice(start, FAST_ROWS)
            pieces = []  # ("text", array) or ("codes", numpy codes, text of each code)
            for j, (kind, col) in enumerate(zip(kinds, part.columns)):
                col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
                if kind == "text":
                    if pa.types.is_large_string(col.type):
                        col = col.cast(pa.string())
                    if pc.any(pc.match_substring(col, '"')).as_py():
                        col = pc.replace_substring(col, '"', '""')
                    quoted = pc.binary_join_element_wise('"', col, '"', "")
                    pieces.append(("text", pc.fill_null(quoted, "")))
                    continue
                enc = pc.dictionary_encode(col)
                if len(enc.dictionary) > MAX_DISTINCT:
                    return None
                text = lookup(j, enc.dictionary)
                if text is None:
                    return None
                codes = pc.fill_null(enc.indices, len(enc.dictionary)).to_numpy().astype(np.int64)
                prev = pieces[-1] if pieces else None
                if prev is not None and prev[0] == "codes" and len(prev[2]) * len(text) <= FUSE_LIMIT:
                    # neighbouring numbers fused: one code for the pair, its text "a,b" made once
                    left, right = prev[2], text
                    ia = np.repeat(np.arange(len(left)), len(right))
                    ib = np.tile(np.arange(len(right)), len(left))
                    both = pc.binary_join_element_wise(left.take(pa.array(ia)), right.take(pa.array(ib)), delimiter)
                    pieces[-1] = ("codes", prev[1] * len(right) + codes, both)
                else:
                    pieces.append(("codes", codes, text))
            if pieces[-1][0] == "codes":  # the line ends with the last field's text
                kind, codes, text = pieces[-1]
                pieces[-1] = (kind, codes, pc.binary_join_element_wise(text, "\n", ""))
            arrays = [p[1] if p[0] == "text" else p[2].take(pa.array(p[1])) for p in pieces]
            if pieces[-1][0] == "text":
                arrays[-1] = pc.binary_join_element_wise(arrays[-1], "\n", "")
            rows = pc.binary_join_element_wise(*arrays, delimiter) if len(arrays) > 1 else arrays[0]
            if isinstance(rows, pa.ChunkedArray):
                rows = rows.combine_chunks()
            bufs = rows.buffers()
            width = 8 if pa.types.is_large_string(rows.type) else 4
            offsets = memoryview(bufs[1])[rows.offset * width:(rows.offset + len(rows) + 1) * width].cast(
                "q" if width == 8 else "i")
            lo, hi = offsets[0], offsets[-1]
            out.append(bufs[2].slice(lo, hi - lo))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowCapacityError, UnicodeDecodeError):
        return None
    return out


def _write_delimited(df, tmp, delimiter):
    with open(tmp, "wb") as fh:
        for chunk in render_delimited(df, delimiter):
            fh.write(chunk)


def _write_csv(df, tmp, meta):
    _write_delimited(df, tmp, ",")


def _write_tsv(df, tmp, meta):
    _write_delimited(df, tmp, "\t")


def jsonl_lines(df, fh) -> None:
    """Write ``df`` as JSON lines to the open text file ``fh`` (one object per row)."""
    cols = [str(c) for c in df.columns]
    series = []
    for col in df.columns:
        s = df[col]
        values = s.astype(object).where(s.notna(), None).tolist()
        series.append([v.item() if hasattr(v, "item") else v for v in values])
    for row in zip(*series):
        fh.write(json.dumps(dict(zip(cols, row)), ensure_ascii=False, allow_nan=False, default=str))
        fh.write("\n")


def _write_jsonl(df, tmp, meta):
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        jsonl_lines(df, fh)


def parquet_table(df, meta):
    """``df`` as the Arrow table the Parquet writer writes (labels as schema metadata)."""
    import dataclasses

    table = _arrow_table(df)
    extra = dataclasses.asdict(meta)
    if any(extra.values()):
        blob = json.dumps(extra, default=str).encode("utf-8")
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"peerscale": blob})
    return table


def _write_parquet(df, tmp, meta):
    import pyarrow.parquet as pq

    pq.write_table(parquet_table(df, meta), tmp)


def _write_xlsx(df, tmp, meta):
    import pandas as pd

    if len(df) + 1 > 1_048_576 or df.shape[1] > 16_384:
        raise PeerscaleError(f"{len(df)} rows x {df.shape[1]} columns do not fit an Excel sheet "
                             "(1,048,576 rows including the header, 16,384 columns)",
                             hint="write .csv, .parquet or .sav instead")

    _check_excel_cells(df)
    data = escape_formulas(df)
    with pd.ExcelWriter(tmp, engine="openpyxl") as xl:
        data.to_excel(xl, sheet_name="data", index=False)
        labelled = [c for c in df.columns if c in meta.variable_labels or c in meta.value_labels
                    or c in meta.missing_values]
        if labelled or meta.file_label:
            rows = [{"variable": c, "label": meta.variable_labels.get(c, ""),
                     "values": " | ".join(f"{_code(k)} = {v}" for k, v in meta.value_labels.get(c, {}).items()),
                     "missing": ", ".join(_code(v) for v in meta.missing_values.get(c, []))}
                    for c in labelled]
            info = escape_formulas(pd.DataFrame(rows, columns=["variable", "label", "values", "missing"]))
            info.to_excel(xl, sheet_name="variables", index=False)
            if meta.file_label:
                xl.book["variables"].cell(row=len(rows) + 3, column=1, value=escape_formula_text(meta.file_label))


_EXCEL_ILLEGAL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"
EXCEL_MAX_CHARS = 32_767


def _check_excel_cells(df) -> None:
    """Text an .xlsx cell cannot hold (control characters; more than 32,767 characters) is
    refused naming the row, column and value, instead of a damaged workbook or a traceback."""
    for col in df.columns:
        s = df[col]
        if s.dtype.kind in "biufcmM":
            continue
        text = s.astype("str").where(s.notna(), "")
        for bad, what in ((text.str.contains(_EXCEL_ILLEGAL, regex=True), "a control character"),
                          (text.str.len() > EXCEL_MAX_CHARS, f"more than {EXCEL_MAX_CHARS:,} characters")):
            if bad.any():
                row = int(bad.to_numpy().nonzero()[0][0])
                value = text.iloc[row]
                raise PeerscaleError(f"holds {what}, which an Excel cell cannot store", row=row + 1, column=str(col),
                                     value=value,
                                     hint="write .csv, .parquet or .sav instead, or clean the value")
    for col in map(str, df.columns):
        if re.search(_EXCEL_ILLEGAL, col):
            raise PeerscaleError("a column name holds a control character, which an Excel sheet cannot store",
                                 value=col)


def _code(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


# --------------------------------------------------------------------------- SPSS / Stata

def _spss_frame(df):
    """Columns pyreadstat can write: numbers as float64, text as object str (None for missing)."""
    import pandas as pd

    out = pd.DataFrame(index=range(len(df)))
    for col in df.columns:
        s = df[col].reset_index(drop=True)
        if s.dtype.kind == "b":
            out[col] = s.astype("float64")
        elif s.dtype.kind in "iuf":
            out[col] = s.astype("float64")
        elif s.dtype.kind in "mM":
            out[col] = s
        else:
            out[col] = s.astype(object).where(s.notna(), None).map(lambda v: v if v is None else str(v))
    return out


# SPSS limits in bytes (UTF-8): variable label 256, value label 120, file label 64.
SPSS_LABEL_BYTES, SPSS_VALUE_LABEL_BYTES, SPSS_FILE_LABEL_BYTES = 256, 120, 64


def label_text(text, max_bytes: int) -> str:
    """A label as SPSS and Stata can hold it: control characters (newline, tab, NUL...) become
    spaces, runs of spaces one space, and a label too long is cut at a character boundary with
    ``…`` (pyreadstat cut bytes, which could split a character and leave invalid UTF-8)."""
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", str(text))
    text = re.sub(r" {2,}", " ", text).strip()
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    cut = raw[:max_bytes - len("…".encode("utf-8"))].decode("utf-8", "ignore").rstrip()
    return cut + "…"


def _spss_kwargs(df, meta: OutputMeta):
    cols = set(map(str, df.columns))
    numeric = {str(c) for c in df.columns if df[c].dtype.kind in "biuf"}
    labels = {c: label_text(v, SPSS_LABEL_BYTES) for c, v in meta.variable_labels.items() if c in cols}
    values = {c: {float(k): label_text(v, SPSS_VALUE_LABEL_BYTES) for k, v in vl.items()}
              for c, vl in meta.value_labels.items() if c in numeric and vl}
    missing = {}
    for c, codes in meta.missing_values.items():
        if c in numeric and codes:
            codes = sorted({float(x) for x in codes})
            if len(codes) > 3:
                raise PeerscaleError(f"SPSS allows at most 3 discrete user-missing codes per variable; "
                                     f"{c!r} has {len(codes)}", column=c)
            missing[c] = codes
    measure = {c: m for c, m in meta.measure.items() if c in cols}
    bad = {m for m in measure.values()} - {"nominal", "ordinal", "scale"}
    if bad:
        raise PeerscaleError(f"unknown measure level {sorted(bad)[0]!r}", hint="use scale, ordinal or nominal")
    return labels, values, missing, measure


_SPSS_NAME = re.compile(r"^[A-Za-z@][A-Za-z0-9_.@#$]{0,63}$")


def _check_spss_names(df):
    bad = [str(c) for c in df.columns if not _SPSS_NAME.match(str(c)) or str(c).endswith(".")]
    if bad:
        raise PeerscaleError("column names SPSS/Stata cannot hold: " + ", ".join(map(repr, bad[:5])),
                             hint="names must start with a letter, hold letters, digits, '_' or '.', at most 64 bytes")


def encode_categories(df, meta: OutputMeta, user_missing: bool = True):
    """``meta.categories`` columns as numeric codes 1..n with value labels (and the blank code
    of ``meta.category_missing``, user-missing when ``user_missing``); returns (frame, meta)."""
    import dataclasses

    import numpy as np
    import pandas as pd

    cats = {c: labels for c, labels in meta.categories.items() if c in df.columns}
    if not cats:
        return df, meta
    out = df.copy(deep=False)
    value_labels = {k: dict(v) for k, v in meta.value_labels.items()}
    missing = {k: list(v) for k, v in meta.missing_values.items()}
    for col, labels in cats.items():
        s = out[col]
        cat = pd.Categorical(s.astype("object").where(s.notna(), None), categories=list(labels))
        unknown = sorted({str(v) for v in s[(cat.codes < 0) & s.notna().to_numpy()]})
        if unknown:
            raise PeerscaleError(f"holds values that are not among its categories: {', '.join(unknown[:5])}",
                                 column=str(col))
        codes = np.where(cat.codes < 0, np.nan, cat.codes + 1.0)
        value_labels[col] = {float(k): label for k, label in enumerate(labels, start=1)}
        blank = meta.category_missing.get(col)
        if blank is not None and user_missing:
            codes[np.isnan(codes)] = float(blank[0])
            value_labels[col][float(blank[0])] = blank[1]
            missing[col] = sorted(set(missing.get(col, [])) | {float(blank[0])})
        out[col] = pd.Series(codes, index=out.index)
    return out, dataclasses.replace(meta, value_labels=value_labels, missing_values=missing)


def spss_formats(df, meta: OutputMeta) -> dict[str, str]:
    """Print formats: ``meta.formats`` where given, else ``F8.0`` for numeric columns of whole
    numbers and ``F8.2`` otherwise (pyreadstat wrote every number as F8.2); wider when a value
    needs it."""
    import numpy as np

    out = {}
    for col in df.columns:
        s = df[col]
        if s.dtype.kind not in "biuf":
            continue
        x = s.to_numpy(dtype="float64", na_value=np.nan)
        x = x[np.isfinite(x)]
        fmt = meta.formats.get(str(col))
        if fmt is None:
            fmt = "F8.0" if (x.size == 0 or np.all(x == np.round(x))) else "F8.2"
        m = re.match(r"^F(\d+)\.(\d+)$", fmt)
        if m and x.size:
            digits = len(str(int(np.max(np.abs(x))))) + (1 if np.any(x < 0) else 0)
            decimals = int(m.group(2))
            width = max(int(m.group(1)), digits + (decimals + 1 if decimals else 0))
            fmt = f"F{min(width, 40)}.{decimals}"
        out[str(col)] = fmt
    return out


def _write_sav(df, tmp, meta, compress=False):
    import pyreadstat

    _check_spss_names(df)
    df, meta = encode_categories(df, meta)
    labels, values, missing, measure = _spss_kwargs(df, meta)
    frame = _spss_frame(df)
    try:
        pyreadstat.write_sav(frame, str(tmp), file_label=label_text(meta.file_label or "", SPSS_FILE_LABEL_BYTES),
                             column_labels=labels or None, variable_value_labels=values or None,
                             missing_ranges=missing or None, variable_measure=measure or None,
                             variable_format=spss_formats(df, meta) or None, compress=compress)
    except Exception as exc:  # pyreadstat raises plain exceptions for unwritable data
        detail = str(exc)
        if "Unable to write" in detail:
            detail += " (the disk may be full, or a file-size limit such as `ulimit -f` reached)"
        raise PeerscaleError(f"cannot write SPSS file: {detail}") from None


def _write_zsav(df, tmp, meta):
    _write_sav(df, tmp, meta, compress=True)


def _write_dta(df, tmp, meta):
    import pyreadstat

    bad = [str(c) for c in df.columns if not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$", str(c))]
    if bad:
        raise PeerscaleError("column names Stata cannot hold: " + ", ".join(map(repr, bad[:5])),
                             hint="Stata names hold letters, digits and '_', at most 32 characters")
    df, meta = encode_categories(df, meta, user_missing=False)
    labels, values, _missing, _measure = _spss_kwargs(df, meta)
    # Stata value labels attach to integer codes only.
    values = {c: {int(k): v for k, v in vl.items() if float(k).is_integer()} for c, vl in values.items()}
    values = {c: vl for c, vl in values.items() if vl}
    frame = _spss_frame(df)
    try:
        pyreadstat.write_dta(frame, str(tmp), file_label=label_text(meta.file_label or "", 80),
                             column_labels={c: label_text(v, 80) for c, v in labels.items()} or None,
                             variable_value_labels=values or None)
    except Exception as exc:
        raise PeerscaleError(f"cannot write Stata file: {exc}") from None
