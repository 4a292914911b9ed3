"""Dask: score and analyse data that live in a cluster (``pip install "peerscale[dask]"``).

- :func:`score_dask` (what :func:`peerscale.score` does with a ``dask.dataframe.DataFrame``)
  returns a dask DataFrame of scores, lazily: ``map_partitions`` of the scoring kernel
  (:func:`peerscale.scoring.score_data`, the function ``Responses`` scores with), its ``meta``
  the kernel's output on an empty frame. No second implementation.
- :class:`DaskResponses` (what :func:`peerscale.read` returns for a dask DataFrame) maps,
  cleans and scores each partition through the ``Responses`` path, and runs
  ``reliability()``, ``item_analysis()`` and ``moments()`` as a Dask reduction: per partition
  the mergeable statistics of :mod:`peerscale.chunked` (:func:`~peerscale.chunked.chunk_stats`),
  merged as a balanced tree of ``ChunkStats.merge`` tasks, so the same numbers as in memory.

REDCap exports with repeating forms: whether the instrument's form repeats (which decides
whether a record's non-repeating row is scored) is decided over the whole frame, by one pass
over the repeat-instrument column when :func:`peerscale.read` is called.

Row numbers: when scores have no identifier column, their ``row`` column and error messages
count rows over the whole frame (the partition lengths are computed in the same graph: one
extra pass over the partitions). Otherwise, and in the reductions, an invalid value is named
by its row within its partition and the partition's number.

Dask is imported only when a dask frame is given (``peerscale --help`` does not load it).
"""

from __future__ import annotations

from .chunked import ChunkedResponses, ChunkStats
from .errors import PeerscaleError


def _require_dask():
    try:
        import dask  # noqa: F401
        import dask.dataframe  # noqa: F401
    except ImportError:  # pragma: no cover - the frame itself needs dask
        raise PeerscaleError("Dask support needs the optional extra", hint='pip install "peerscale[dask]"') from None


def _offsets(ddf):
    """A Delayed list of each partition's first row (0-based), computed with the graph."""
    import dask
    import numpy as np

    lengths = ddf.map_partitions(len).to_delayed()
    return dask.delayed(lambda *ls: np.concatenate([[0], np.cumsum(ls)[:-1]]).astype(int).tolist())(*lengths)


def _in_partition(exc: PeerscaleError, number) -> PeerscaleError:
    """The error of one partition, saying which (rows are counted within the partition)."""
    if number is None:
        return exc
    return PeerscaleError(f"{exc.message} (in partition {number} of the dask frame; rows counted within it)",
                          file=exc.file, key=exc.key, row=exc.row, column=exc.column, value=exc.value, hint=exc.hint)


def _score_partition(part, offsets, kernel, partition_info=None):
    """The kernel on one partition, rows numbered over the whole frame."""
    number = partition_info["number"] if partition_info else None
    offset = offsets[number] if offsets is not None and number is not None else 0
    try:
        out = kernel(part, offset)
    except PeerscaleError as exc:
        raise _in_partition(exc, number if offsets is None else None) from None
    out.index = part.index
    if "row" in out.columns and offset:
        out["row"] = out["row"] + offset
    return out


def _map_kernel(ddf, kernel, needs_rows: bool):
    """``ddf.map_partitions`` of ``kernel(frame, first_row)`` with its meta from an empty frame."""
    meta = kernel(ddf._meta.iloc[:0], 0)
    offsets = _offsets(ddf) if needs_rows else None
    return ddf.map_partitions(_score_partition, offsets, kernel, meta=meta, align_dataframes=False)


class _ScoreKernel:
    """``score_data(frame, instrument, ...)`` as a picklable callable (processes receive it)."""

    def __init__(self, kernel, instrument, kwargs):
        self.kernel, self.instrument, self.kwargs = kernel, instrument, kwargs

    def __call__(self, frame, offset):
        return self.kernel(frame, self.instrument, row_offset=offset, **self.kwargs).scores


def score_dask(ddf, instrument, *, kernel=None, **kwargs):
    """Scores of a ``dask.dataframe.DataFrame``, lazily (a dask DataFrame, one partition of
    scores per partition of answers, same index).

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame
        The answers, one row per response.
    instrument : str, pathlib.Path or Instrument
        As :func:`peerscale.score`.
    kernel : callable, optional
        The scoring kernel, default :func:`peerscale.scoring.score_data` (the one ``Responses``
        scores with); tests may pass another function of the same signature.
    **kwargs
        As :func:`peerscale.scoring.score_data` (``id_columns``, ``on_invalid``,
        ``min_answered``, ...).

    Returns
    -------
    dask.dataframe.DataFrame
        ``map_partitions`` of :func:`~peerscale.scoring.score_data`; ``.compute()`` gives what
        ``peerscale.score(ddf.compute(), instrument)`` gives.

    Examples
    --------
    >>> import dask.dataframe as dd, peerscale  # doctest: +SKIP
    >>> scores = peerscale.score(dd.read_csv("export-*.csv"), "pbr-y")  # doctest: +SKIP
    >>> scores.to_parquet("scores/")  # doctest: +SKIP
    """
    _require_dask()
    from .spec import Instrument, load_instrument

    if kernel is None:
        from .scoring import score_data as kernel
    inst = instrument if isinstance(instrument, Instrument) else load_instrument(instrument)
    meta = _ScoreKernel(kernel, inst, kwargs)(ddf._meta.iloc[:0], 0)
    return _map_kernel(ddf, _ScoreKernel(kernel, inst, kwargs), needs_rows="row" in meta.columns)


# --------------------------------------------------------------------------- Responses path

class _ResponsesKernel:
    """One partition through the ``Responses`` path: finished as :func:`peerscale.read` finishes
    a DataFrame (REDCap conventions, mapping), cleaned, scored."""

    def __init__(self, instrument, opts, score_opts):
        self.instrument, self.opts, self.score_opts = instrument, opts, score_opts

    def table(self, frame):
        from .chunked import _frame_tables

        o = self.opts
        return next(_frame_tables([frame], self.instrument, map=o.get("map"),
                                  redcap_dictionary=o.get("redcap_dictionary"),
                                  missing_codes=o.get("missing_codes"), repeats=o.get("repeats")))[1]

    def __call__(self, frame, offset):
        from .responses import responses_from_table, study_design

        o = self.opts
        given = study_design(o.get("design"), frame)
        r = responses_from_table(self.table(frame), self.instrument, None, given, scales=o.get("scales"),
                                 id_columns=o.get("id_columns"), on_invalid=o.get("on_invalid", "error"),
                                 map=o.get("map"), redcap_dictionary=o.get("redcap_dictionary"), row_offset=offset)
        return r.score(**self.score_opts).scores


class _StatsKernel:
    """One partition's :class:`~peerscale.chunked.ChunkStats` (the map step of the reduction)."""

    def __init__(self, tables, ctx, specs):
        self.tables, self.ctx, self.specs = tables, ctx, specs

    def __call__(self, frame, offset, number):
        from .chunked import chunk_stats

        try:
            return chunk_stats(self.tables.table(frame), self.ctx, self.specs, offset or 0)
        except PeerscaleError as exc:
            raise _in_partition(exc, number if offset is None else None) from None


def _tree_merge(parts, split_every: int = 8):
    """Merge Delayed :class:`ChunkStats` as a tree, ``split_every`` at a time, keeping order."""
    import dask

    merge = dask.delayed(lambda *xs: _merge_in_order(xs), pure=True)
    while len(parts) > 1:
        parts = [merge(*parts[i:i + split_every]) for i in range(0, len(parts), split_every)]
    return parts[0]


def _merge_in_order(xs) -> ChunkStats:
    out = xs[0]
    for x in xs[1:]:
        out = out.merge(x)
    return out


def _any_own_repeat(frame, col, instrument) -> bool:
    from .chunked import own_repeats

    return bool(own_repeats(frame[col], instrument)[0].any())


def _form_repeats(ddf, instrument):
    """Does any row of the whole frame repeat the instrument's REDCap form? (One pass over the
    repeat-instrument column only, when there is one: a partition alone cannot tell.)"""
    import dask

    from .chunked import repeat_column

    col = repeat_column(ddf.columns)
    if col is None:
        return None
    parts = ddf[[col]].to_delayed()
    flags = [dask.delayed(_any_own_repeat, pure=True)(p, col, instrument) for p in parts]
    return bool(any(dask.compute(*flags)))


class DaskResponses(ChunkedResponses):
    """A dask DataFrame read for one instrument (create with :func:`peerscale.read`): ``score()``
    is lazy, the analyses are Dask reductions of mergeable statistics (see the module docstring)."""

    def __init__(self, ddf, instrument, *, scales=None, map=None, redcap_dictionary=None, missing_codes=None,
                 design=None, on_invalid: str = "error", id_columns=None, split_every: int = 8):
        _require_dask()
        from .spec import Instrument, load_instrument

        if on_invalid not in ("error", "missing"):
            raise PeerscaleError(f"`on_invalid` must be 'error' or 'missing', got {on_invalid!r}")
        if instrument is None:
            from .responses import _detect_instrument, read_mapping

            mapped = read_mapping(map)
            instrument = _detect_instrument([mapped.get(str(c), str(c)) for c in ddf.columns], None)
        self._ddf = ddf
        self._instrument = instrument if isinstance(instrument, Instrument) else load_instrument(instrument)
        self._opts = {"map": map, "redcap_dictionary": redcap_dictionary, "missing_codes": missing_codes,
                      "design": design, "scales": scales, "on_invalid": on_invalid, "id_columns": id_columns,
                      "repeats": _form_repeats(ddf, self._instrument)}
        self._scales, self._design, self._on_invalid, self._id_columns = scales, design, on_invalid, id_columns
        self._is_path = False
        self._source = ddf
        self._cache = {}
        self._ctx = None
        self.split_every = split_every
        self.n_chunks = ddf.npartitions
        tables = _ResponsesKernel(self._instrument, self._opts, {})
        from .chunked import make_context

        self._ctx = make_context(tables.table(ddf._meta.iloc[:0]), self._instrument, scales=scales, design=design,
                                 source=ddf._meta, id_columns=id_columns, on_invalid=on_invalid)

    @property
    def dask_frame(self):
        """The dask DataFrame read."""
        return self._ddf

    def score(self, *, min_answered=None, id_columns=None):
        """The scores as a lazy dask DataFrame (``map_partitions`` of the ``Responses`` kernel)."""
        kernel = _ResponsesKernel(self._instrument, {**self._opts, "id_columns": id_columns or self._id_columns},
                                  {"min_answered": min_answered})
        meta = kernel(self._ddf._meta.iloc[:0], 0)
        return _map_kernel(self._ddf, kernel, needs_rows="row" in meta.columns)

    def accumulate(self, specs) -> ChunkStats:
        """The Dask reduction: per partition :func:`~peerscale.chunked.chunk_stats`, merged as a tree."""
        import dask

        if callable(specs):
            specs = specs(self._ctx)
        kernel = _StatsKernel(_ResponsesKernel(self._instrument, self._opts, {}), self._ctx, specs)
        parts = self._ddf.to_delayed()
        stats = [dask.delayed(kernel, pure=True)(p, None, i) for i, p in enumerate(parts)]
        (merged,) = dask.compute(_tree_merge(stats, self.split_every))
        return merged
