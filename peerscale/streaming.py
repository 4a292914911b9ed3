"""Score a file larger than memory: read, clean, score and write it chunk by chunk.

:func:`score_file` reads the export in chunks (:func:`peerscale.io.chunks.ChunkReader`),
runs each chunk through exactly the steps of :func:`peerscale.read` and
:meth:`~peerscale.responses.Responses.score` (the same cleaning and scoring kernel), and
appends each chunk's scores to a temporary file beside the output, which is renamed into
place only when every row is written. An error, Ctrl-C or SIGTERM leaves no output (and the
old one, if any, untouched). Every input row is written, in input order; validation errors
name the row of the file.

Output formats written incrementally: CSV, TSV, Parquet (one row group per chunk), JSON
lines. SPSS ``.sav``/``.zsav``, Stata ``.dta`` and Excel cannot be appended to by pyreadstat
and openpyxl, so for those the scores (only: ids and scores, not the input) are gathered and
written once at the end; memory then grows with the number of rows (about 100 bytes a row for
five scales), not with the input.

The summary (rows, scored, too few answered, mean, SD, min, max, missing answers by reason)
is merged across chunks: counts exactly, mean and SD by Chan et al.'s pairwise update, equal
to the whole-file values to about 1e-13.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from .errors import PeerscaleError

# inputs at least this large are scored in chunks by default: text and Parquet from 16 MB (reading
# ahead while scoring and writing behind is faster than reading whole, and touches less fresh
# memory: on 1M x 25 items, 1.8 vs 2.4 s of CPU), SPSS and Stata from 256 MB
STREAM_BYTES = 16 << 20
STREAM_BYTES_STAT = 256 << 20
APPENDABLE = ("csv", "tsv", "parquet", "jsonl")


def should_stream(source, input_format=None, chunk_rows=None, output_format=None) -> bool:
    """Score ``source`` in chunks? Always with ``chunk_rows``; otherwise when it is a regular
    file of a format read in chunks and at least :data:`STREAM_BYTES` (CSV, TSV, Parquet, JSON
    lines) or :data:`STREAM_BYTES_STAT` (SPSS, Stata) (environment variable
    ``PEERSCALE_STREAM_BYTES`` overrides both), or too large for the memory left."""
    import os

    from .io.chunks import STREAMED_FORMATS
    from .io.read import detect_format

    if output_format == "redcap-import":
        return False
    if chunk_rows is not None:
        return True
    try:
        p = Path(str(source)).expanduser()
        if str(source) == "-" or not p.is_file():
            return False
        fmt = detect_format(p, input_format)
        size = p.stat().st_size
    except (OSError, PeerscaleError):
        return False
    if fmt not in STREAMED_FORMATS:
        return False
    default = STREAM_BYTES_STAT if fmt in ("sav", "zsav", "dta") else STREAM_BYTES
    limit = int(os.environ.get("PEERSCALE_STREAM_BYTES", default))
    if size >= limit:
        return True
    from .io.source import MEMORY_FACTOR, memory_room

    room, _what, _virtual = memory_room()
    return room is not None and MEMORY_FACTOR.get(fmt, 12) * size > room


class _Summary:
    """The scoring summary of a whole file, merged from its chunks."""

    def __init__(self):
        self.s: dict | None = None
        self.moments: dict[str, tuple[int, float, float]] = {}

    def add(self, summary: dict) -> None:
        for name, sc in summary["scales"].items():
            n_b = sc["n_scored"]
            if n_b:
                mean_b = sc["mean"]
                m2_b = sc["sd"] ** 2 * (n_b - 1) if n_b > 1 else 0.0
                n_a, mean_a, m2_a = self.moments.get(name, (0, 0.0, 0.0))
                n = n_a + n_b
                delta = mean_b - mean_a
                self.moments[name] = (n, mean_a + delta * n_b / n, m2_a + m2_b + delta * delta * n_a * n_b / n)
        if self.s is None:
            self.s = {k: (dict(v) if isinstance(v, dict) else v) for k, v in summary.items()}
            self.s["scales"] = {k: dict(v) for k, v in summary["scales"].items()}
            self.s["missing_by_item"] = {k: dict(v) for k, v in summary["missing_by_item"].items()}
            self.s["missing_by_reason"] = dict(summary["missing_by_reason"])
            return
        s = self.s
        for key in ("n_rows", "n_in_scope", "invalid_values", "n_out_of_scope"):
            if key in summary:
                s[key] = s.get(key, 0) + summary[key]
        for name, sc in summary["scales"].items():
            t = s["scales"][name]
            t["n_scored"] += sc["n_scored"]
            t["n_too_few_answered"] += sc["n_too_few_answered"]
            for key, pick in (("min", min), ("max", max)):
                vals = [v for v in (t[key], sc[key]) if v is not None]
                t[key] = pick(vals) if vals else None
        for reason, k in summary["missing_by_reason"].items():
            s["missing_by_reason"][reason] = s["missing_by_reason"].get(reason, 0) + k
        for item, counts in summary["missing_by_item"].items():
            into = s["missing_by_item"].setdefault(item, {})
            for reason, k in counts.items():
                into[reason] = into.get(reason, 0) + k
        s["warnings"] = list(summary["warnings"])

    def result(self) -> dict:
        s = self.s
        for name, t in s["scales"].items():
            n, mean, m2 = self.moments.get(name, (0, 0.0, 0.0))
            t["mean"] = mean if n else None
            t["sd"] = math.sqrt(m2 / (n - 1)) if n > 1 else None
        return s


def _detect(source, opts) -> object:
    from .io.chunks import ChunkReader
    from .responses import _detect_instrument, read_mapping

    reader = ChunkReader(source, None, chunk_rows=1000, input_format=opts.get("input_format"),
                         encoding=opts.get("encoding"), sheet=opts.get("sheet"))
    _first, df = next(iter(reader.raw()))
    mapped = read_mapping(opts.get("map"))
    return _detect_instrument([mapped.get(str(c), str(c)) for c in df.columns], str(source))


def score_file(source, output, instrument=None, *, chunk_rows: int | None = None, include_items: str | None = None,
               format: str | None = None, force: bool = False, min_answered=None, id_columns=None, scales=None,
               map=None, redcap_dictionary=None, missing_codes=None, design=None, encoding=None, sheet=None,
               input_format=None, on_invalid: str = "error", protect=(), on_start=None, on_chunk=None):
    """Score ``source`` chunk by chunk and write the scores to ``output`` atomically.

    Parameters
    ----------
    source : str or pathlib.Path
        The export (any format :func:`peerscale.read` reads; CSV/TSV, Parquet, JSON lines,
        SPSS and Stata are read in bounded memory).
    output : str or pathlib.Path
        The scores file; its format from the extension or ``format``.
    instrument, scales, map, redcap_dictionary, missing_codes, design, encoding, sheet, input_format, on_invalid
        As :func:`peerscale.read`.
    chunk_rows : int, optional
        Rows per chunk (default: up to 250,000 rows and about 32 MiB of input).
    include_items, format, force, min_answered, id_columns, protect
        As :meth:`peerscale.Responses.write_scores`.
    on_start : callable, optional
        Called with the first chunk's :class:`~peerscale.responses.Responses` (its warnings
        and skipped scales) before anything is written.
    on_chunk : callable, optional
        Called with the number of rows written so far after each chunk.

    Returns
    -------
    (pathlib.Path, dict)
        The file written and the summary (as :attr:`ScoreResult.summary`, merged over chunks).

    Notes
    -----
    Row ``i`` of the output is ``peerscale.read(source, ...).score().scores`` row ``i``: the
    same kernel runs per chunk. The summary's mean and SD are merged over chunks (Chan, Golub
    & LeVeque 1983): ``n = n_a + n_b``, ``mean = mean_a + d n_b / n``,
    ``M2 = M2_a + M2_b + d² n_a n_b / n`` with ``d = mean_b − mean_a``.

    References
    ----------
    Chan, T. F., Golub, G. H., & LeVeque, R. J. (1983). Algorithms for computing the sample
    variance. *The American Statistician*, 37(3), 242-247.

    Examples
    --------
    >>> from peerscale.streaming import score_file
    >>> from peerscale.examples import path
    >>> score_file(path("youth_export.csv"), "scores.csv", "pbr-y", chunk_rows=100)  # doctest: +SKIP
    """
    from .io.chunks import ChunkReader
    from .io.write import atomic_write, check_output, output_format
    from .output import item_columns, output_meta
    from .responses import input_files, responses_from_table, study_design
    from .spec import Instrument, load_instrument

    if on_invalid not in ("error", "missing"):
        raise PeerscaleError(f"`on_invalid` must be 'error' or 'missing', got {on_invalid!r}")
    if include_items not in (None, "answered", "keyed"):
        raise PeerscaleError(f"`include_items` must be 'answered' or 'keyed', got {include_items!r}")
    fmt = output_format(output, format)
    file = str(source)
    if instrument is None:
        instrument = _detect(source, {"input_format": input_format, "encoding": encoding, "sheet": sheet, "map": map})
    inst = instrument if isinstance(instrument, Instrument) else load_instrument(instrument)
    given = study_design(design, source)
    inputs = list(protect) + list(input_files(file, inst, None, map, redcap_dictionary, given))
    check_output(output, force=force, protect=inputs)
    reader = ChunkReader(source, inst, chunk_rows=chunk_rows, input_format=input_format, encoding=encoding,
                         sheet=sheet, map=map, redcap_dictionary=redcap_dictionary, missing_codes=missing_codes,
                         key_columns=[given.wave])
    summary = _Summary()
    state = {"rows": 0, "columns": 0, "first": None}

    def frames():
        for table in prefetch(reader.tables()):
            r = responses_from_table(table, inst, file, given, scales=scales, id_columns=id_columns,
                                     on_invalid=on_invalid, map=map, redcap_dictionary=redcap_dictionary,
                                     row_offset=table.first_row)
            if state["first"] is None:
                state["first"] = r
                if on_start is not None:
                    on_start(r)
            try:
                result = r.score(min_answered=min_answered, id_columns=id_columns)
            except PeerscaleError as exc:
                raise _read_no_further(exc, table.first_row + len(table.data)) from None
            out = result.scores
            if include_items:
                import pandas as pd

                mask = r._base.scope
                out = pd.concat([out, item_columns(result, r.data.reset_index(drop=True), include_items, fmt, mask)],
                                axis=1)
            summary.add(result.summary)
            state["rows"] += len(out)
            state["columns"] = out.shape[1]
            yield out, output_meta(result, include_items, fmt) if state["rows"] == len(out) else None
            if on_chunk is not None:
                on_chunk(state["rows"])

    written = atomic_write(output, lambda tmp: _write_chunks(frames(), tmp, fmt), force=force, protect=inputs)
    s = summary.result()
    s.update({"output": str(written), "n_columns": state["columns"], "items_included": include_items,
              "chunks": "streamed" if reader.streamed else "read whole, scored in chunks"})
    return written, s


def prefetch(iterable, depth: int = 1):
    """Iterate ``iterable`` in a background thread, ``depth`` items ahead: the next chunk is
    parsed (pyarrow releases the GIL) while this one is scored and written. Exceptions reach
    the consumer in order; a consumer that stops (an error, Ctrl-C, SIGTERM) stops the thread
    at its next item."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def run():
        try:
            for item in iterable:
                while not stop.is_set():
                    try:
                        q.put((True, item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((True, done))
        except BaseException as exc:  # handed to the consumer
            q.put((False, exc))

    thread = threading.Thread(target=run, name="peerscale-read", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = q.get()
            if not ok:
                raise item
            if item is done:
                return
            yield item
    finally:
        stop.set()


def _read_no_further(exc: PeerscaleError, last_row: int) -> PeerscaleError:
    """An invalid-values error from one chunk says how far the file was read."""
    m = re.match(r"^(\d+) value\(s\) are not valid answers", exc.message or "")
    if m:
        exc.message = exc.message.replace(m.group(0), f"{m.group(1)} value(s) in rows 1 to {last_row} are not valid "
                                                       "answers", 1) + " (scoring stopped there)"
    return exc


def _write_chunks(frames, tmp, fmt: str) -> None:
    """Append each chunk's frame to ``tmp`` in ``fmt`` (gathered and written once for formats
    that cannot be appended to)."""
    from .io import write as w

    if fmt in ("csv", "tsv"):
        from concurrent.futures import ThreadPoolExecutor

        delimiter = "," if fmt == "csv" else "\t"

        def put(fh, frame, header):
            for buf in w.render_delimited(frame, delimiter, header=header):
                fh.write(buf)

        # one chunk is formatted and written while the next is scored
        with open(tmp, "wb") as fh, ThreadPoolExecutor(1, thread_name_prefix="peerscale-write") as pool:
            pending = None
            for frame, _meta in frames:
                job = pool.submit(put, fh, frame, pending is None)
                if pending is not None:
                    pending.result()
                pending = job
            if pending is not None:
                pending.result()
        return
    if fmt == "jsonl":
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            for frame, _meta in frames:
                w.jsonl_lines(frame, fh)
        return
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        writer = schema = None
        try:
            for frame, meta in frames:
                table = w.parquet_table(frame, meta) if writer is None else w._arrow_table(frame)
                if writer is None:
                    # a column blank in the first chunk is typed null there: text it is
                    schema = pa.schema([pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f
                                        for f in table.schema], metadata=table.schema.metadata)
                    writer = pq.ParquetWriter(str(tmp), schema)
                writer.write_table(table.cast(schema))
        finally:
            if writer is not None:
                writer.close()
        return
    import pandas as pd

    parts, first_meta = [], None
    for frame, meta in frames:
        parts.append(frame)
        first_meta = first_meta or meta
    whole = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    del parts
    w._check_columns(whole, tmp)
    {"sav": w._write_sav, "zsav": w._write_zsav, "dta": w._write_dta, "xlsx": w._write_xlsx}[fmt](whole, tmp, first_meta)
