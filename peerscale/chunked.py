"""Reliability and item analysis of data larger than memory: statistics per chunk, merged.

:func:`read_chunked` is :func:`peerscale.read` for files too large to hold: it reads the export
in chunks of bounded size (:func:`peerscale.io.chunks.iter_chunks`' reader, or any iterable of
DataFrames), maps, validates and cleans each chunk exactly as :func:`peerscale.read` cleans a
whole file, and keeps per wave only the mergeable statistics of each scale
(:class:`~peerscale.psychometrics.moments.ItemMoments`: pairwise counts, means and co-moments,
higher moments, frequency and contingency tables). ``reliability()`` and ``item_analysis()``
then run on the merged statistics and give the numbers :meth:`Responses.reliability` and
:meth:`Responses.item_analysis` give in memory (to 1e-10; omega to its factor fit's tolerance).

The per-chunk step (:func:`chunk_stats`) is a function of one chunk of rows, and
:class:`ChunkStats` merge exactly, so the same step is the map of a Dask reduction
(:mod:`peerscale.dask_support`).

What needs the rows themselves is not available here: the bootstrap interval of alpha and the
ICCs (read the file whole for them).

>>> import peerscale
>>> from peerscale.examples import path
>>> big = peerscale.read_chunked(path("youth_export.csv"), "pbr-y", chunk_rows=100)
>>> small = peerscale.read(path("youth_export.csv"), "pbr-y")
>>> a, b = big.reliability().scales["share"]["alpha"], small.reliability().scales["share"]["alpha"]
>>> bool(abs(a - b) < 1e-12)
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from .errors import PeerscaleError
from .psychometrics.moments import Spec

if TYPE_CHECKING:
    import numpy as np

ROLES = ("respondent", "worker", "dyad", "group")
ANALYSIS_CHUNK_ROWS = 100_000  # default rows per chunk: the statistics need no more, memory stays small
_NA = "\x00no wave"  # the key of rows without a wave value


# --------------------------------------------------------------------------- what is accumulated

@dataclass(frozen=True)
class NestSpec:
    """Keep what nesting within workers needs (:func:`peerscale.design_analyses.nesting_from_stats`):
    rows per worker, and per scale each worker's score count, mean and within sum of squares."""

    scales: tuple


def _nest_of(data, rows, clean, inst, worker: str, scale_names) -> dict:
    """The nesting statistics of some rows (``rows``: a mask or slice)."""
    import numpy as np
    import pandas as pd

    from .scoring import scale_scores

    from .design import id_text

    codes, labels = pd.factorize(id_text(data[worker][rows]))
    labels = np.asarray(labels, dtype=object)
    has = codes >= 0
    sizes = pd.Series(np.bincount(codes[has], minlength=len(labels)), index=labels, dtype="int64")
    out = {"sizes": sizes, "no_worker": int((~has).sum()), "scales": {}}
    for name in scale_names:
        scale = inst.scale(name)
        cols = (inst.items[i].response_scale.reverse(clean.column(i)[rows]) if k < 0 else clean.column(i)[rows]
                for i, k in zip(scale.items, scale.keys))
        y, _n = scale_scores(cols, scale)
        keep = has & np.isfinite(y)
        c, yk = codes[keep], y[keep]
        n = np.bincount(c, minlength=len(labels)).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.bincount(c, weights=yk, minlength=len(labels)) / n
        m2 = np.bincount(c, weights=(yk - mean[c]) ** 2, minlength=len(labels))
        seen = n > 0
        out["scales"][name] = {
            "clusters": pd.DataFrame({"n": n[seen], "mean": mean[seen], "m2": m2[seen]}, index=labels[seen]),
            "no_score": int((has & ~np.isfinite(y)).sum()),
            "min": float(yk.min()) if yk.size else np.inf, "max": float(yk.max()) if yk.size else -np.inf}
    return out


def _merge_nest(a: dict, b: dict) -> dict:
    """Two nesting statistics of disjoint rows, as one (cluster moments merged as Chan et al.)."""
    import numpy as np

    sizes = a["sizes"].add(b["sizes"], fill_value=0).astype("int64")
    out = {"sizes": sizes, "no_worker": a["no_worker"] + b["no_worker"], "scales": {}}
    for name, pa_ in a["scales"].items():
        pb = b["scales"][name]
        j = pa_["clusters"].join(pb["clusters"], how="outer", suffixes=("_a", "_b")).fillna(0.0)
        na, nb = j["n_a"].to_numpy(), j["n_b"].to_numpy()
        n = na + nb
        delta = j["mean_b"].to_numpy() - j["mean_a"].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = j["mean_a"].to_numpy() + delta * nb / n
            m2 = j["m2_a"].to_numpy() + j["m2_b"].to_numpy() + delta * delta * na * nb / n
        clusters = j[[]].assign(n=n, mean=mean, m2=m2)
        out["scales"][name] = {"clusters": clusters, "no_score": pa_["no_score"] + pb["no_score"],
                               "min": min(pa_["min"], pb["min"]), "max": max(pa_["max"], pb["max"])}
    return out


@dataclass
class WaveStats:
    """The statistics of the rows of one wave: row count, hashed ids per design role, and one
    :class:`ItemMoments` per spec."""

    rows: int = 0
    ids: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)

    def merge(self, other: "WaveStats") -> "WaveStats":

        ids = {role: list(v) for role, v in self.ids.items()}
        for role, h in other.ids.items():
            ids.setdefault(role, []).extend(h)
        ids = {role: _compact(v) for role, v in ids.items()}
        stats = dict(self.stats)
        for name, m in other.stats.items():
            if name not in stats:
                stats[name] = m
            elif isinstance(m, dict):
                stats[name] = _merge_nest(stats[name], m)
            else:
                stats[name] = stats[name].merge(m)
        return WaveStats(self.rows + other.rows, ids, stats)


@dataclass
class ChunkStats:
    """Per wave (in order of first appearance) the :class:`WaveStats` of some rows; merging
    keeps the left operand's rows first, so merging chunks in file order keeps the waves in the
    order they first appear in the file."""

    waves: dict = field(default_factory=dict)
    n_chunks: int = 1
    n_rows: int = 0

    def merge(self, other: "ChunkStats") -> "ChunkStats":
        waves = dict(self.waves)
        for key, w in other.waves.items():
            waves[key] = waves[key].merge(w) if key in waves else w
        return ChunkStats(waves, self.n_chunks + other.n_chunks, self.n_rows + other.n_rows)


@dataclass
class Context:
    """What every chunk of one export shares, decided from the first chunk: the instrument
    restricted to the scored scales, the resolved design, the cleaning options."""

    instrument: object
    full_instrument: object
    design: object
    skipped: dict
    on_invalid: str
    file: str | None
    value_labels: dict = field(default_factory=dict)
    missing_values: dict = field(default_factory=dict)


def make_context(table, instrument, *, scales=None, design=None, source=None, id_columns=None,
                 on_invalid: str = "error", file=None) -> Context:
    """The :class:`Context` of an export from its first chunk (``table``, a
    :class:`~peerscale.io.table.Table`), as :func:`peerscale.read` resolves it for a whole file."""
    from .responses import _by_item, resolve_design, select_scales, study_design

    scored, skipped = select_scales(instrument, table.data.columns, scales, file=file)
    given = study_design(design, source if source is not None else table.data)
    resolved = resolve_design(given, table, instrument, id_columns, file)
    return Context(scored, instrument, resolved, skipped, on_invalid, file,
                   _by_item(table.value_labels, scored), _by_item(table.missing_values, scored))


def chunk_stats(table, ctx: Context, specs: dict, first_row: int = 0) -> ChunkStats:
    """The statistics of one chunk of rows (a finished :class:`~peerscale.io.table.Table` whose
    ``data`` are the rows, ``first_row`` the 0-based position of its first row in the file):
    clean the items as :func:`peerscale.read` does (errors name the file's row), then per wave
    the :class:`ItemMoments` of every :class:`Spec`."""
    import numpy as np
    import pandas as pd

    from .psychometrics.itemstats import check_in_range
    from .psychometrics.moments import ItemMoments
    from .responses import _by_item
    from .scoring import clean_items

    data = table.data
    inst = ctx.instrument
    n = len(data)
    scope = np.ones(n, bool) if table.in_scope is None else np.asarray(table.in_scope, dtype=bool)
    clean = clean_items(data, inst, on_invalid=ctx.on_invalid,
                        value_labels=_by_item(table.value_labels, inst) or ctx.value_labels,
                        missing_values=_by_item(table.missing_values, inst) or ctx.missing_values,
                        file=ctx.file, row_mask=None if table.in_scope is None else scope, row_offset=first_row)
    d = ctx.design
    if d.wave is not None and d.wave in data.columns:
        from .design import id_text

        codes, names = pd.factorize(id_text(data[d.wave], keep_leading_zeros=True), use_na_sentinel=False)
        names = [_NA if pd.isna(v) else str(v) for v in names]
    else:
        codes, names = np.zeros(n, np.int64), [_NA]
    codes = np.where(scope, codes, -1)
    present = [int(c) for c in pd.unique(codes) if c >= 0] if n else []
    out = ChunkStats(n_rows=n)
    for code in present:
        every = len(present) == 1 and bool(scope.all())
        rows = slice(None) if every else codes == code
        n_here = n if every else int(rows.sum())
        key = names[code]
        ws = WaveStats(rows=n_here)
        for role in ROLES:
            c = getattr(d, role)
            if c and c in data.columns:
                ws.ids[role] = [_hashes(data[c] if every else data[c][rows])]
        for name, spec in specs.items():
            if isinstance(spec, NestSpec):
                if d.worker and d.worker in data.columns:
                    ws.stats[name] = _nest_of(data, rows, clean, inst, d.worker, spec.scales)
                continue
            x = np.empty((n_here, len(spec.items)))
            for j, (iid, sign) in enumerate(zip(spec.items, spec.keys)):
                v = clean.column(iid)[rows]
                if spec.keyed and sign < 0:
                    v = inst.items[iid].response_scale.reverse(v)
                x[:, j] = v
            if spec.check_range:
                lo = np.array([inst.items[i].response_scale.min for i in spec.items], float)
                hi = np.array([inst.items[i].response_scale.max for i in spec.items], float)
                pos = np.arange(n) if every else np.flatnonzero(rows)
                outside = np.isfinite(x) & ((x < lo) | (x > hi))
                if outside.any():
                    r = int(np.argwhere(outside)[0][0])
                    check_in_range(x[r:r + 1], lo, hi, list(spec.items), row_offset=first_row + int(pos[r]),
                                   file=ctx.file)
            ws.stats[name] = ItemMoments.from_array(x, spec.items, total=spec.total, tables=spec.tables,
                                                    joint=spec.joint, listwise=spec.listwise)
        out.waves[key] = ws
    return out


def _hashes(col):
    """The distinct non-missing values of an id column, compactly: a float64 NumPy array for a
    numeric column (numbers by value), else a pyarrow string array."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        v = col.to_numpy(dtype="float64", na_value=np.nan)
        return pd.unique(v[~np.isnan(v)] + 0.0)  # -0.0 counts as 0.0
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(col, from_pandas=True)
    if not pa.types.is_string(arr.type) and not pa.types.is_large_string(arr.type):
        arr = pa.array(col.astype("string"), from_pandas=True)
    return pc.unique(arr.cast(pa.large_string()).drop_null())


def count_distinct(parts) -> int:
    """How many distinct ids the per-chunk arrays hold together."""
    return len(_dedupe(parts))


def _dedupe(parts):
    import numpy as np
    import pandas as pd

    numeric = [p for p in parts if isinstance(p, np.ndarray) and len(p)]
    text = [p for p in parts if not isinstance(p, np.ndarray) and len(p)]
    out = []
    if numeric:
        out.append(pd.unique(np.concatenate(numeric)))
    if text:
        import pyarrow as pa

        out.append(pa.chunked_array(text, type=pa.large_string()).unique())
    if len(out) == 2:  # a column typed as numbers in some chunks, text in others: compare as text
        import pyarrow as pa
        import pyarrow.compute as pc

        as_text = pa.array([repr(float(v)) if float(v) != int(v) else str(int(v)) for v in out[0]],
                           type=pa.large_string())
        out = [pc.unique(pa.concat_arrays([as_text, out[1]]))]
    return out[0] if out else []


def _compact(parts: list, limit: int = 64) -> list:
    """Per-chunk distinct ids, deduplicated into one array once there are many."""
    if len(parts) <= limit:
        return parts
    return [_dedupe(parts)]


# --------------------------------------------------------------------------- REDCap repeating forms

def repeat_column(columns):
    """REDCap's repeat-instrument column among ``columns`` (raw or label export), or None."""
    from .io.redcap import REDCAP_ID_LABELS

    names = ("redcap_repeat_instrument", *[k for k, v in REDCAP_ID_LABELS.items() if v == "redcap_repeat_instrument"])
    return next((c for c in names if c in [str(x) for x in columns]), None)


def own_repeats(col, instrument):
    """Rows that are repeat instances of the instrument's own form, and rows with no repeat
    instrument (as the REDCap reader tells them apart)."""
    from .io.dictionary import form_name, instrument_forms
    from .io.redcap import _blank

    forms = set(instrument_forms(instrument)) | {form_name(instrument.title)}
    rep = col.astype("str").str.strip().str.lower().str.replace(r"[^a-z0-9_]", "_", regex=True)
    blank = _blank(col)
    return ~blank & rep.isin(forms), blank


def apply_scope_rule(table, instrument, repeats) -> None:
    """The REDCap scope of a chunk decided for the whole data (``repeats``: does any row of the
    whole export repeat the instrument's form?), not from this chunk alone."""
    if repeats is None or table.in_scope is None:
        return
    col = repeat_column(table.data.columns)
    if col is None:
        return
    mine, blank = own_repeats(table.data[col], instrument)
    table.in_scope = mine if repeats else blank
    table.in_scope.name = "in_scope"


def frames_repeat(frames, instrument) -> bool | None:
    """Whether any of ``frames`` holds a repeat instance of the instrument's form (None: no
    repeat-instrument column)."""
    found = None
    for frame in frames:
        col = repeat_column(frame.columns)
        if col is None:
            continue
        mine, _blank = own_repeats(frame[col], instrument)
        found = bool(found) or bool(mine.any())
        if found:
            return True
    return found


# --------------------------------------------------------------------------- sources of chunks

def _frame_tables(frames: Iterable, instrument, *, map=None, redcap_dictionary=None, missing_codes=None,
                  key_columns=(), repeats=None):
    """``(first_row, Table)`` per DataFrame of an iterable, finished as :func:`peerscale.read`
    finishes a DataFrame."""
    import pandas as pd

    from .io.read import table_from_frame
    from .responses import apply_mapping, read_mapping

    codes = {str(k): str(v) for k, v in (missing_codes or {}).items()} or None
    mapping_given = read_mapping(map)
    first = 0
    for frame in frames:
        if not isinstance(frame, pd.DataFrame):
            raise PeerscaleError(f"chunks must be pandas DataFrames, got {type(frame).__name__}")
        table = table_from_frame(frame, instrument=instrument, redcap_dictionary=redcap_dictionary,
                                 missing_codes=codes, key_columns=key_columns, check_duplicates=False)
        apply_scope_rule(table, instrument, repeats)
        apply_mapping(table, {**{c: i for c, i in table.suggested_map.items() if c != i}, **mapping_given}, None)
        yield first, table
        first += len(frame)


class ChunkedResponses:
    """An export analysed chunk by chunk (create with :func:`read_chunked`): the analyses of
    :class:`~peerscale.responses.Responses` that merged statistics answer exactly."""

    def __init__(self, source, instrument, *, chunk_rows=None, scales=None, map=None, redcap_dictionary=None,
                 missing_codes=None, design=None, encoding=None, sheet=None, input_format=None,
                 on_invalid: str = "error", id_columns=None):
        from .spec import Instrument, load_instrument

        if on_invalid not in ("error", "missing"):
            raise PeerscaleError(f"`on_invalid` must be 'error' or 'missing', got {on_invalid!r}")
        self._source = source
        self._opts = dict(chunk_rows=chunk_rows, map=map, redcap_dictionary=redcap_dictionary,
                          missing_codes=missing_codes, encoding=encoding, sheet=sheet, input_format=input_format)
        self._scales, self._design, self._on_invalid, self._id_columns = scales, design, on_invalid, id_columns
        self._is_path = isinstance(source, (str, Path))
        if instrument is None:
            if not self._is_path:
                raise PeerscaleError("chunks given as DataFrames need the `instrument`")
            from .responses import _detect_instrument

            instrument = _detect_instrument(_header(source, self._opts), str(source))
        self._instrument = instrument if isinstance(instrument, Instrument) else load_instrument(instrument)
        self._ctx: Context | None = None
        self._cache: dict = {}
        self.n_chunks = 0

    # ------------------------------------------------------------------ reading

    def _tables(self):
        if self._is_path:
            from .io.chunks import ChunkReader
            from .responses import study_design

            given = study_design(self._design, self._source)
            o = self._opts
            reader = ChunkReader(self._source, self._instrument, chunk_rows=o["chunk_rows"] or ANALYSIS_CHUNK_ROWS,
                                 input_format=o["input_format"], encoding=o["encoding"], sheet=o["sheet"],
                                 map=o["map"], redcap_dictionary=o["redcap_dictionary"],
                                 missing_codes=o["missing_codes"], key_columns=[given.wave])
            for table in reader.tables():
                yield table.first_row, table
            return
        src = self._source() if callable(self._source) else self._source
        if self._cache.get("consumed") and not isinstance(src, (list, tuple)) and not callable(self._source):
            raise PeerscaleError("the chunks were already read once and this analysis needs a second pass",
                                 hint="give a list of DataFrames or a function returning a fresh iterable")
        self._cache["consumed"] = True
        o = self._opts
        repeats = None
        if isinstance(src, (list, tuple)) or callable(self._source):  # re-readable: decide over every chunk
            repeats = frames_repeat(src if isinstance(src, (list, tuple)) else self._source(), self._instrument)
        yield from _frame_tables(src, self._instrument, map=o["map"], redcap_dictionary=o["redcap_dictionary"],
                                 missing_codes=o["missing_codes"], repeats=repeats)

    def accumulate(self, specs: dict) -> ChunkStats:
        """One pass over the chunks: the merged :class:`ChunkStats` of ``specs``."""
        total = None
        n = 0
        for first, table in self._tables():
            if self._ctx is None:
                self._ctx = make_context(table, self._instrument, scales=self._scales, design=self._design,
                                         source=self._source if self._is_path else table.data,
                                         id_columns=self._id_columns, on_invalid=self._on_invalid,
                                         file=str(self._source) if self._is_path else None)
            if callable(specs):
                specs = specs(self._ctx)
            part = chunk_stats(table, self._ctx, specs, first)
            total = part if total is None else total.merge(part)
            n += 1
        if total is None:
            raise PeerscaleError("no rows were read", file=str(self._source) if self._is_path else None)
        self.n_chunks = n
        return total

    @property
    def context(self) -> Context:
        if self._ctx is None:
            self.accumulate({})
        return self._ctx

    @property
    def instrument(self):
        return self.context.instrument

    # ------------------------------------------------------------------ analyses

    def reliability(self, *, wave=None, scales=None, listwise: bool = False, level: float = 0.95,
                    ordinal: bool = False, omega: bool = False, omega_method: str = "minres", n_boot: int = 0):
        """As :meth:`Responses.reliability <peerscale.responses.Responses.reliability>` (first wave
        by default), from statistics merged over the chunks, nesting within workers included when
        the design names them; no bootstrap interval (``n_boot`` is refused: it needs the rows)."""
        from .analyses import reliability_from_stats, reliability_specs

        if n_boot:
            raise PeerscaleError("the bootstrap interval needs every row in memory; it is not available when the "
                                 "file is read in chunks", hint="leave out `n_boot` (--bootstrap) or read the file whole")
        from .spec import chosen_scales as _chosen

        def specs(ctx):
            out = reliability_specs(ctx.instrument, scales, listwise=listwise, ordinal=ordinal, omega=omega)
            if ctx.design.worker:  # young people share workers: nesting within them, as in memory
                out["nesting"] = NestSpec(tuple(s.name for s in _chosen(ctx.instrument, list(ctx.instrument.scales),
                                                                         scales)))
            return out

        stats = self.accumulate(specs)
        view = select_wave(stats, self._ctx, wave)
        result = reliability_from_stats(view, self._ctx.instrument, scales=scales, listwise=listwise, level=level,
                                        ordinal=ordinal, omega=omega, omega_method=omega_method,
                                        note=f"statistics merged over {self.n_chunks} chunk(s)")
        d = self._ctx.design
        if d.worker:
            from .design_analyses import nesting_from_stats

            try:
                if "nesting" not in view.stats:
                    raise PeerscaleError(f"the worker column {d.worker!r} is empty in the rows analysed",
                                         column=d.worker)
                result.nesting = nesting_from_stats(view.sample, d, self._ctx.instrument, view.stats["nesting"],
                                                    scales=scales, source=self._ctx.file)
            except PeerscaleError as exc:
                result.notes.append(f"nesting within workers not computed: {exc.message}")
        return result

    def item_analysis(self, *, wave=None, scales=None, listwise: bool = False, min_r_drop: float = 0.30,
                      max_floor: float = 50.0, max_ceiling: float = 50.0):
        """As :meth:`Responses.item_analysis <peerscale.responses.Responses.item_analysis>`, from
        statistics merged over the chunks."""
        from .analyses import item_analysis_from_stats, item_specs
        from .psychometrics.itemstats import check_thresholds

        check_thresholds(min_r_drop, max_floor, max_ceiling)
        stats = self.accumulate(lambda ctx: item_specs(ctx.instrument, scales, listwise=listwise))
        view = select_wave(stats, self._ctx, wave)

        def second_pass(scale, items):
            sub = {"again": _subset_spec(self._ctx.instrument, scale, items, listwise)}
            again = select_wave(self.accumulate(sub), self._ctx, wave)
            return again.stats["again"]

        return item_analysis_from_stats(view, self._ctx.instrument, scales=scales, listwise=listwise,
                                        min_r_drop=min_r_drop, max_floor=max_floor, max_ceiling=max_ceiling,
                                        second_pass=second_pass)

    def moments(self, items=None, *, wave=None, keyed: bool = True, joint: bool = False, listwise: bool = False):
        """Merged :class:`~peerscale.psychometrics.moments.ItemMoments` of ``items`` (default the
        dimension scales' items; keyed) for the chosen wave: the input of pairwise
        correlations (:meth:`ItemMoments.correlation`, e.g. for ``fit_efa``) and, with
        ``joint=True``, of polychoric correlations
        (:func:`~peerscale.psychometrics.polychoric.polychoric_from_moments`)."""
        from .scoring import item_keys

        def specs(ctx):
            inst = ctx.instrument
            chosen = list(items) if items is not None else list(dict.fromkeys(
                i for s in inst.scales if not s.composite for i in s.items))
            absent = [i for i in chosen if i not in inst.items]
            if absent:
                raise PeerscaleError(f"`items` names {absent[0]!r}, which is not an item of a scored scale")
            keys = item_keys(inst)
            return {"m": Spec(tuple(chosen), tuple(keys.get(i, 1) for i in chosen), keyed=keyed, joint=joint,
                              tables=joint, listwise=listwise)}

        return select_wave(self.accumulate(specs), self._ctx, wave).stats["m"]


def _subset_spec(inst, scale_name, items, listwise) -> Spec:
    s = inst.scale(scale_name)
    keys = dict(zip(s.items, s.keys))
    return Spec(tuple(items), tuple(keys[i] for i in items), total=True, listwise=listwise)


def _header(source, opts) -> list[str]:
    from .io.chunks import iter_chunks

    first = next(iter_chunks(source, None, chunk_rows=1000, input_format=opts["input_format"],
                             encoding=opts["encoding"], sheet=opts["sheet"],
                             redcap_dictionary=opts["redcap_dictionary"]))
    from .responses import read_mapping

    mapped = read_mapping(opts["map"])
    return [mapped.get(str(c), str(c)) for c in first.columns]


# --------------------------------------------------------------------------- waves

@dataclass
class WaveView:
    """The merged statistics of the rows an analysis uses, and its ``sample`` dict."""

    stats: dict
    sample: dict


def select_wave(stats: ChunkStats, ctx: Context, which=None) -> WaveView:
    """The rows of ``which`` (a wave name, ``"first"`` (default) or ``"all"``), as
    :meth:`Responses.wave` chooses them, with their sample description."""
    from .responses import sample_note

    d = ctx.design
    which = "first" if which is None else str(which)
    seen = [k for k in stats.waves if k != _NA]
    if d.wave is not None and d.waves:
        extra = [w for w in seen if w not in d.waves]
        if extra:
            raise PeerscaleError(f"wave(s) {', '.join(map(repr, extra[:5]))} of column {d.wave!r} are not listed in "
                                 f"the design's waves", file=d.source, key="waves",
                                 hint="list every wave, in study order: " + ", ".join(list(d.waves) + extra))
        order = [w for w in d.waves if w in seen]
    else:
        order = seen
    if which == "all" or d.wave is None and which == "first":
        keys, selection, waves = list(stats.waves), "all", order
    else:
        if d.wave is None:
            raise PeerscaleError(f"`wave` {which!r}: the data have no wave column", file=ctx.file,
                                 hint="name the wave column with `design` (--wave-column), or use wave='all'")
        if not order:
            raise PeerscaleError(f"no row has a wave in column {d.wave!r}", file=ctx.file, column=d.wave)
        name = order[0] if which == "first" else which
        if name not in order:
            raise PeerscaleError(f"`wave` {which!r} is not a wave of column {d.wave!r}", file=ctx.file,
                                 hint="waves: " + ", ".join(order) + ", or first, or all")
        keys, selection, waves = [name], which, [name]
    merged = None
    for k in keys:
        merged = stats.waves[k] if merged is None else merged.merge(stats.waves[k])
    merged = merged or WaveStats()
    rows = merged.rows
    out = {"rows": rows, "respondents": count_distinct(merged.ids.get("respondent", ())) if d.respondent else rows,
           "waves": waves, "wave_column": d.wave, "respondent_column": d.respondent, "selection": selection}
    for role in ("worker", "dyad", "group"):
        if getattr(d, role):
            out[f"{role}s"] = count_distinct(merged.ids.get(role, ()))
    out["note"] = sample_note(out, len(order) if d.wave else 0)
    return WaveView(merged.stats, out)


def read_chunked(source, instrument=None, *, chunk_rows: int | None = None, **options) -> ChunkedResponses:
    """Read an export in chunks for analyses of merged statistics (files larger than memory).

    Parameters
    ----------
    source : str, pathlib.Path, iterable of DataFrames, or a function returning one
        A data file (read by :class:`peerscale.io.chunks.ChunkReader`: CSV/TSV, Parquet, JSON lines
        and SPSS/Stata in bounded memory), or the chunks themselves. An analysis that needs a
        second pass (item analysis of a scale with a constant item) needs a list or a function.
    instrument : str, pathlib.Path or Instrument, optional
        As :func:`peerscale.read` (required for DataFrame chunks).
    chunk_rows : int, optional
        Rows per chunk of a file (default 100,000: merged statistics need no larger chunks, and memory stays near 300 MB).
    **options
        ``scales``, ``map``, ``redcap_dictionary``, ``missing_codes``, ``design``, ``encoding``,
        ``sheet``, ``input_format``, ``on_invalid``, ``id_columns``: as :func:`peerscale.read`.

    Returns
    -------
    ChunkedResponses
        With ``reliability()``, ``item_analysis()`` and ``moments()``.

    Notes
    -----
    Each chunk contributes, per wave and scale, the pairwise counts ``N_ij``, means and
    co-moments ``C_ij = Σ (x_i − x̄_i)(x_j − x̄_j)`` over the rows answering both items, merged
    as ``C = C_a + C_b + δ_i δ_j N_a N_b / N`` (Chan et al. 1979), higher moments (Pébay 2008),
    and frequency and contingency tables (sums). See :mod:`peerscale.psychometrics.moments`.

    Examples
    --------
    >>> import peerscale
    >>> from peerscale.examples import path
    >>> rel = peerscale.read_chunked(path("youth_export.csv"), "pbr-y", chunk_rows=50).reliability()
    >>> rel.sample["rows"]
    300
    """
    return ChunkedResponses(source, instrument, chunk_rows=chunk_rows, **options)
