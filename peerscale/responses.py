"""One pipeline for the command line, the report and notebooks: :func:`read` and :class:`Responses`.

Data flow one way: read the export (any format :mod:`peerscale.io` reads, or a DataFrame) →
map columns to item ids (``map``, a REDCap data dictionary, REDCap field naming, label
headers) → choose the scales the export can score → clean the answers (codes, labels,
missing-data codes counted by reason, invalid values) → score or analyse. The command line
(``peerscale score``, ``reliability``, ``items``, ``efa``, ``cfa``, ``report``) runs exactly
this, so a notebook gets the same numbers as the CLI.

>>> import peerscale
>>> from peerscale.examples import path
>>> r = peerscale.read(path("youth_export.csv"), "pbr-y")
>>> r.score().scores.shape  # every row: ids, then <scale>, <scale>_n and bands
(562, 43)
>>> round(float(r.reliability().scales["share"]["alpha"]), 2)  # the first wave, as `peerscale reliability`
0.75
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .design import Design
from .errors import PeerscaleError
from .spec import Instrument, load_instrument

if TYPE_CHECKING:  # pandas and numpy are imported when data are read
    import numpy as np
    import pandas as pd

WAVE_CHOICES = ("first", "all")


# --------------------------------------------------------------------------- column mapping

def read_mapping(map) -> dict[str, str]:
    """``map`` as ``{column: item}``: a dict, a ``"COLUMN=ITEM"`` string, the path of a CSV
    with header ``column,item`` (as ``peerscale redcap-mapping`` writes), or a list of these."""
    if map is None:
        return {}
    if isinstance(map, dict):
        return {str(k): str(v) for k, v in map.items()}
    if isinstance(map, (str, Path)):
        map = [map]
    mapping: dict[str, str] = {}
    for value in map:
        if isinstance(value, dict):
            mapping.update(read_mapping(value))
            continue
        text = str(value)
        path = Path(text).expanduser()
        exists = path.exists() or path.is_symlink()
        if "=" in text and not exists:
            a, _, b = text.partition("=")
            if not a.strip() or not b.strip():
                raise PeerscaleError(f"`map` entry {text!r} is not of the form COLUMN=ITEM")
            mapping[a.strip()] = b.strip().strip("'\"")
            continue
        if not exists and text != "-":
            raise PeerscaleError("mapping file not found", file=text,
                                 hint="give COLUMN=ITEM or a CSV with header column,item")
        from .io.source import read_bytes  # a device, a directory, a silent pipe: refused, never read forever

        try:
            body = read_bytes(text, "mapping file", limit=16 << 20).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise PeerscaleError("a mapping file must be UTF-8 text (CSV with header 'column,item')", file=text) from None
        reader = csv.DictReader(io.StringIO(body, newline=""))
        if not reader.fieldnames or not {"column", "item"} <= {f.strip() for f in reader.fieldnames if f}:
            raise PeerscaleError("a mapping file needs the header 'column,item'", file=text)
        for k, row in enumerate(reader, start=1):
            col, item = (row.get("column") or "").strip(), (row.get("item") or "").strip()
            if col and item:
                mapping[col] = item
            elif col or item:
                raise PeerscaleError("incomplete mapping row", file=text, row=k)
    return mapping


def apply_mapping(table, mapping: dict[str, str], file: str | None) -> None:
    """Rename columns of ``table`` (and its labels) in place; refuse mappings that would lose or
    merge a column."""
    if not mapping:
        return
    data = table.data
    absent = [c for c in mapping if c not in data.columns]
    if absent:
        raise PeerscaleError(f"`map` names column(s) not in the data: {', '.join(absent[:10])}", file=file)
    targets = list(mapping.values())
    doubled = sorted({t for t in targets if targets.count(t) > 1})
    if doubled:
        raise PeerscaleError(f"two columns are mapped to the same item: {', '.join(doubled)}", file=file)
    clash = [t for c, t in mapping.items() if t in data.columns and t not in mapping and t != c]
    if clash:
        raise PeerscaleError(f"mapping target(s) already exist as columns: {', '.join(clash)}", file=file,
                             hint="map or drop the existing column first")
    table.data = data.rename(columns=mapping)
    for attr in ("variable_labels", "value_labels", "missing_values"):
        meta = getattr(table, attr)
        setattr(table, attr, {mapping.get(k, k): v for k, v in meta.items()})
    table.id_columns = [mapping.get(c, c) for c in table.id_columns]


# --------------------------------------------------------------------------- scales

def select_scales(instrument: Instrument, columns, scales=None, *, file: str | None = None
                  ) -> tuple[Instrument, dict[str, str]]:
    """The instrument restricted to the scales this export can score, and ``{scale: why skipped}``.

    With ``scales`` (names, or one comma-separated string) exactly those scales are scored and
    each must have all its items. Without it, a scale none of whose items are in the data is
    skipped (optional forms such as pbr-y's HOPE and CARE), as is a composite that needs a
    skipped scale; a scale with only some of its items is an error naming the missing items.
    """
    present = {str(c) for c in columns}
    by_name = {s.name: s for s in instrument.scales}
    skipped: dict[str, str] = {}
    if scales is not None:
        names = [n.strip() for n in (scales.split(",") if isinstance(scales, str) else scales) if str(n).strip()]
        if not names:
            raise PeerscaleError("`scales` names no scale", hint="scales: " + ", ".join(by_name))
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise PeerscaleError(f"`scales` names {unknown[0]!r}, which is not a scale of {instrument.name!r}",
                                 hint="scales: " + ", ".join(by_name))
        kept = [s for s in instrument.scales if s.name in names]
        _check_complete(instrument, kept, present, file)
        return replace(instrument, scales=kept), {}  # chosen: the others are not "skipped"
    kept, partial = [], []
    for s in instrument.scales:
        missing = [i for i in s.items if i not in present]
        if s.composite:
            need = [p for p in s.of_scales if p in skipped]
            if not need and missing:
                homes = {p for p, sc in skipped.items() if sc and any(i in by_name[p].items for i in missing)}
                need = sorted(homes) if all(any(i in by_name[p].items for p in homes) for i in missing) else []
            if need:
                skipped[s.name] = f"needs the skipped scale(s) {', '.join(need)}"
                continue
        if not missing:
            kept.append(s)
        elif len(missing) == len(s.items) and not s.composite:
            skipped[s.name] = ("its item is not in the data" if len(s.items) == 1
                               else f"none of its {len(s.items)} items are in the data")
        else:
            partial.append((s, missing))
    if partial:
        s, missing = partial[0]
        listed = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        more = "" if len(partial) == 1 else f" (and {len(partial) - 1} more scale(s) with missing items: " + \
            ", ".join(p.name for p, _ in partial[1:]) + ")"
        raise PeerscaleError(f"scale {s.name!r} of instrument {instrument.name!r} has {len(missing)} of its "
                             f"{len(s.items)} items missing from the data: {listed}{more}", file=file,
                             hint="map export columns to item ids with `map` (COLUMN=ITEM pairs or a mapping CSV; "
                                  "see `peerscale redcap-mapping`), or choose the scales to score with `scales`")
    if not kept:
        absent = [i for i in instrument.scale_items() if i not in present]
        listed = ", ".join(absent[:10]) + (f" and {len(absent) - 10} more" if len(absent) > 10 else "")
        raise PeerscaleError(f"none of the scales of instrument {instrument.name!r} has its items in the data "
                             f"({len(absent)} item column(s) missing: {listed})", file=file,
                             hint="check that this is the right instrument for the file, or map export columns to "
                                  "item ids with `map` (see `peerscale redcap-mapping`)")
    return replace(instrument, scales=kept), skipped


def _check_complete(instrument, scales, present, file):
    for s in scales:
        missing = [i for i in s.items if i not in present]
        if missing:
            listed = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            raise PeerscaleError(f"scale {s.name!r} of instrument {instrument.name!r} has {len(missing)} of its "
                                 f"{len(s.items)} items missing from the data: {listed}", file=file,
                                 hint="map export columns to item ids with `map` (see `peerscale redcap-mapping`)")


def _detect_instrument(columns, file) -> Instrument:
    """The one bundled instrument with a complete scale among ``columns`` (REDCap field names
    folded as the readers fold them)."""
    from .io.table import item_columns
    from .spec import bundled_instruments

    found = []
    for inst in bundled_instruments():
        have = set(item_columns(columns, inst).values())
        if any(set(s.items) <= have for s in inst.scales if not s.composite):
            found.append(inst)
    if len(found) == 1:
        return found[0]
    if not found:
        raise PeerscaleError("no bundled instrument's items are in the data", file=file,
                             hint="give `instrument` (a bundled name or the path of a scoring file), "
                                  "or map columns with `map`")
    raise PeerscaleError("the data hold items of several bundled instruments: " + ", ".join(i.name for i in found),
                         file=file, hint="say which with `instrument`")


# --------------------------------------------------------------------------- read

def read(source, instrument=None, *, scales=None, map=None, redcap_dictionary=None, missing_codes=None,
         design=None, encoding=None, sheet=None, input_format=None, on_invalid: str = "error",
         id_columns=None) -> "Responses":
    """Read an export, map its columns, choose the scales it can score and clean its answers.

    Parameters
    ----------
    source : str, pathlib.Path or pandas.DataFrame
        A data file in any format :func:`peerscale.io.read_table` reads (CSV/TSV, SPSS ``.sav``,
        Stata, SAS, Excel, Parquet, JSON lines, REDCap raw and label exports and REDCap's SPSS
        pair), or a DataFrame. The source is never modified. (``peerscale.read`` also takes a
        ``dask.dataframe.DataFrame``: see :func:`peerscale.api.read`.)
    instrument : str, pathlib.Path or Instrument, optional
        A bundled instrument name (``"pbr-y"``), the path of a scoring file, or an
        :class:`~peerscale.spec.Instrument` (e.g. :func:`~peerscale.spec.adhoc_instrument`).
        Default: the one bundled instrument whose items are in the data.
    scales : list of str or str, optional
        The scales to score (``["share", "valid"]`` or ``"share,valid"``); each needs all its
        items. Default: every scale whose items are in the data; scales with none of their
        items (optional forms) and composites that need them are skipped and named in
        :attr:`Responses.skipped_scales`.
    map : dict, str or list, optional
        Export columns → item ids: ``{"q1": "pbr_y_share_01"}``, ``"q1=pbr_y_share_01"``, or
        the path of a CSV with header ``column,item``.
    redcap_dictionary : str or Dictionary, optional
        The REDCap data dictionary of the project: maps fields and choice labels to items.
    missing_codes : dict, optional
        Project missing-data codes, e.g. ``{"-999": "Not asked", "UNK": "Unknown"}``; they are
        missing answers counted by reason.
    design : Design, dict or str, optional
        The study design (respondent, wave, worker, dyad, group columns), or a ``study.yaml``
        path. A ``study.yaml`` beside the export is read too; what is given here overrides it.
        Default wave column: REDCap's ``redcap_event_name``.
    encoding, sheet, input_format : optional
        Text encoding of a CSV, Excel sheet (name or 1-based number), and the input format
        when the extension does not tell it.
    on_invalid : {"error", "missing"}
        Values outside a response scale: an error listing them, or missing and counted.
    id_columns : list of str, optional
        Identifier columns written first with the scores (default: the REDCap ids, the
        instrument's id columns and the design's columns present in the data).

    Returns
    -------
    Responses

    Notes
    -----
    The command line does exactly this: ``peerscale score INPUT -i NAME`` is
    ``peerscale.read(INPUT, NAME).score()`` written to a file, byte for byte.

    Examples
    --------
    >>> import peerscale
    >>> from peerscale.examples import path
    >>> r = peerscale.read(path("youth_export.csv"), "pbr-y")
    >>> r.waves
    ['baseline_arm_1', 'followup_arm_1']
    """
    if on_invalid not in ("error", "missing"):
        raise PeerscaleError(f"`on_invalid` must be 'error' or 'missing', got {on_invalid!r}")
    table, inst, file, given = load_export(source, instrument, design=design, map=map,
                                           redcap_dictionary=redcap_dictionary, missing_codes=missing_codes,
                                           encoding=encoding, sheet=sheet, input_format=input_format)
    return responses_from_table(table, inst, file, given, scales=scales, id_columns=id_columns, on_invalid=on_invalid,
                                map=map, redcap_dictionary=redcap_dictionary)


def responses_from_table(table, inst: Instrument, file, given: Design, *, scales=None, id_columns=None,
                         on_invalid: str = "error", map=None, redcap_dictionary=None,
                         row_offset: int = 0) -> "Responses":
    """The steps of :func:`read` after the export is read and mapped: choose the scales, resolve
    the design and ids, clean the answers. A file read in chunks (:mod:`peerscale.io.chunks`)
    runs this per chunk, ``row_offset`` being the rows before the chunk, so messages name the
    file's row."""
    import numpy as np

    from .scoring import clean_items

    data = table.data
    scored, skipped = select_scales(inst, data.columns, scales, file=file)
    resolved = resolve_design(given, table, inst, id_columns, file)

    ids = _id_columns(data, table, scored, resolved, id_columns, file)
    scope = None if table.in_scope is None else np.asarray(table.in_scope, dtype=bool)
    clean = clean_items(data, scored, on_invalid=on_invalid, value_labels=_by_item(table.value_labels, scored),
                        missing_values=_by_item(table.missing_values, scored), file=file, row_mask=scope,
                        row_offset=row_offset)
    base = _Export(table=table, instrument=scored, full_instrument=inst, design=resolved, clean=clean,
                   scope=scope, skipped=skipped, on_invalid=on_invalid, id_columns=ids, file=file,
                   value_labels=_by_item(table.value_labels, scored),
                   missing_values=_by_item(table.missing_values, scored),
                   inputs=input_files(file, inst, table, map, redcap_dictionary, resolved))
    return Responses(base)


def input_files(file, instrument, table, map=None, redcap_dictionary=None, design=None) -> tuple[str, ...]:
    """Every file reading an export took: the data (and REDCap's CSV beside a .sps), the scoring
    file and item bank, mapping files, the REDCap dictionary and a ``study.yaml``. Writers refuse
    them as outputs, even with ``force``."""
    files = [file, *getattr(instrument, "files", ()), *(getattr(table, "sources", None) or [])]
    maps = [map] if isinstance(map, (str, Path)) else (list(map) if isinstance(map, (list, tuple)) else [])
    files += [m for m in maps if isinstance(m, (str, Path)) and (Path(m).expanduser().exists() or "=" not in str(m))]
    if isinstance(redcap_dictionary, (str, Path)):
        files.append(redcap_dictionary)
    files.append(getattr(design, "source", None))
    return tuple(dict.fromkeys(str(f) for f in files if f and str(f) != "-"))


def load_export(source, instrument=None, *, design=None, **options):  # noqa: D417
    """``(table, instrument, file, design)``: the first steps :func:`read` and ``validate``
    share: the export read with its columns mapped, and the design given over a ``study.yaml``
    (its wave column also tells REDCap records apart). ``options`` are :func:`load_table`'s."""
    _check_source(source)
    given = study_design(design, source)
    table, inst, file = load_table(source, instrument, key_columns=[given.wave], **options)
    return table, inst, file, given


def load_table(source, instrument=None, *, map=None, redcap_dictionary=None, missing_codes=None, encoding=None,
               sheet=None, input_format=None, key_columns=(), check_duplicates: bool = True):
    """``(table, instrument, file)``: the export read (or a DataFrame wrapped) with its columns
    mapped to item ids; the first steps of :func:`read`."""

    from .io.source import stream_cache

    with stream_cache():  # standard input or a pipe is read once, even when read twice below
        return _load_table(source, instrument, map=map, redcap_dictionary=redcap_dictionary,
                           missing_codes=missing_codes, encoding=encoding, sheet=sheet, input_format=input_format,
                           key_columns=key_columns, check_duplicates=check_duplicates)


def _load_table(source, instrument, *, map, redcap_dictionary, missing_codes, encoding, sheet, input_format,
                key_columns, check_duplicates):
    from .io import read_table
    from .io.read import table_from_frame

    codes = {str(k): str(v) for k, v in (missing_codes or {}).items()} or None
    is_frame = _check_source(source)
    file = None if is_frame else str(source)
    if instrument is None:
        if is_frame:
            columns = [str(c) for c in source.columns]
        else:
            columns = list(read_table(source, format=input_format, sheet=sheet, encoding=encoding,
                                      redcap_dictionary=redcap_dictionary, check_duplicates=False).data.columns)
        mapped = read_mapping(map)
        instrument = _detect_instrument([mapped.get(c, c) for c in columns], file)
    inst = instrument if isinstance(instrument, Instrument) else load_instrument(instrument)
    keys = [c for c in key_columns if c]
    if is_frame:
        table = table_from_frame(source, instrument=inst, redcap_dictionary=redcap_dictionary, missing_codes=codes,
                                 key_columns=keys, check_duplicates=check_duplicates)
    else:
        table = read_table(source, format=input_format, sheet=sheet, instrument=inst,
                           redcap_dictionary=redcap_dictionary, missing_codes=codes, encoding=encoding, key_columns=keys,
                           check_duplicates=check_duplicates)
    mapping = {**{c: i for c, i in table.suggested_map.items() if c != i}, **read_mapping(map)}
    apply_mapping(table, mapping, file)
    return table, inst, file


def _check_source(source) -> bool:
    """True for a DataFrame; a path must exist."""
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        return True
    if not isinstance(source, (str, Path)):
        raise PeerscaleError(f"`source` must be a file path or a pandas DataFrame, got {type(source).__name__}")
    from .io.source import check_input

    check_input(source, "data file")  # missing, a directory, a device: named before anything is read
    return False


def study_design(design, source) -> Design:
    """The design given (``design``) over a ``study.yaml`` beside the export (see :mod:`peerscale.design`)."""
    import pandas as pd

    explicit = Design.coerce(design)
    found = None if isinstance(source, pd.DataFrame) or str(source) == "-" else Design.beside(source)
    return found.updated(explicit) if found is not None else explicit


def resolve_design(design: Design, table, instrument, id_columns, file) -> Design:
    """``design`` with its defaults filled from the data and its columns checked."""
    from .design import WAVE_DEFAULTS

    candidates = list(id_columns or ()) + list(table.id_columns) + list(instrument.id_columns)
    return design.resolve(table.data.columns, respondent_candidates=candidates,
                          wave_candidates=[table.event_column, *WAVE_DEFAULTS], file=file)


def _by_item(meta: dict, instrument: Instrument) -> dict:
    return {c: v for c, v in meta.items() if c in instrument.items}


def _id_columns(data, table, instrument, design, requested, file) -> list[str]:
    from .scoring import resolve_id_columns

    if requested:
        return resolve_id_columns(data, instrument, list(requested), file)
    found = [c for c in list(table.id_columns) + list(instrument.id_columns) + design.columns()
             if c in data.columns]
    return list(dict.fromkeys(found))


@dataclass
class _Export:
    """What every view of one export shares."""

    table: object
    instrument: Instrument
    full_instrument: Instrument
    design: Design
    clean: object
    scope: "np.ndarray | None"
    skipped: dict[str, str]
    on_invalid: str
    id_columns: list[str]
    file: str | None
    value_labels: dict
    missing_values: dict
    inputs: tuple = ()  # every file read: no output may be one of them
    _wave_values: object = None
    _wave_order: list | None = None

    @property
    def n(self) -> int:
        return len(self.table.data)

    def scope_mask(self):
        import numpy as np

        return np.ones(self.n, dtype=bool) if self.scope is None else self.scope

    def wave_values(self):
        """The wave column as text (missing where blank), or None without a wave column."""
        if self.design.wave is None:
            return None
        if self._wave_values is None:
            from .design import id_text

            self._wave_values = id_text(self.table.data[self.design.wave], keep_leading_zeros=True)
        return self._wave_values

    def wave_name(self, which, waves) -> str | None:
        """The wave of ``waves`` that ``which`` names: the name itself, the same number written
        differently (``1`` for ``1.0``), the wave's value label in the file (SPSS/Stata
        ``Baseline`` for code 1) or the name in another letter case; None when none fits."""
        import pandas as pd

        from .design import id_text

        text = str(which).strip()
        if text in waves:
            return text
        as_id = id_text(pd.Series([text]), keep_leading_zeros=True).iloc[0]
        if as_id in waves:
            return str(as_id)
        labels = self.table.value_labels.get(self.design.wave) or {}
        by_label = {}
        for code, label in labels.items():
            key = id_text(pd.Series([code]), keep_leading_zeros=True).iloc[0]
            if key in waves:
                by_label.setdefault(str(label).strip().casefold(), set()).add(str(key))
        hit = by_label.get(text.casefold())
        if hit and len(hit) == 1:
            return hit.pop()
        folded = [w for w in waves if w.casefold() == text.casefold()]
        if len(folded) == 1:
            return folded[0]
        # a REDCap label export holds 'Baseline (Arm 1: Arm 1)' where the raw export and the
        # study.yaml say baseline_arm_1: compare both as letters and digits only
        event = [w for w in waves if _redcap_event_key(w) == _redcap_event_key(text)]
        return event[0] if len(event) == 1 else None

    def wave_labels(self, waves) -> list[str]:
        """``waves`` with their value labels where the file declares them (``1 (Baseline)``)."""
        import pandas as pd

        from .design import id_text

        labels = self.table.value_labels.get(self.design.wave) or {}
        named = {str(id_text(pd.Series([c]), keep_leading_zeros=True).iloc[0]): str(v) for c, v in labels.items()}
        return [f"{w} ({named[w]})" if w in named and named[w] != w else w for w in waves]

    def wave_order(self) -> list[str]:
        """Waves in study order: the design's ``waves`` if given, else as they first appear
        among the rows in scope."""
        if self._wave_order is None:

            values = self.wave_values()
            if values is None:
                self._wave_order = []
                return self._wave_order
            seen = [str(w) for w in values[self.scope_mask()].dropna().unique().tolist()]
            if self.design.waves:
                extra = [w for w in seen if w not in self.design.waves]
                if extra:
                    raise PeerscaleError(f"wave(s) {', '.join(map(repr, extra[:5]))} of column {self.design.wave!r} "
                                         f"are not listed in the design's waves", file=self.design.source,
                                         key="waves", hint="list every wave, in study order: "
                                                           + ", ".join(list(self.design.waves) + extra))
                self._wave_order = [w for w in self.design.waves if w in seen]
            else:
                self._wave_order = seen
        return self._wave_order


def _redcap_event_key(name: str) -> str:
    """A REDCap event as letters and digits: ``Follow-up (Arm 1: Arm 1)`` (label export) and
    ``followup_arm_1`` (unique event name, raw export) both give ``followuparm1``."""
    import re

    text = str(name).strip()
    m = re.fullmatch(r"(.*?)\s*\(Arm\s*(\d+)\s*:.*\)", text, flags=re.IGNORECASE)
    if m:
        text = f"{m.group(1)} arm {m.group(2)}"
    return re.sub(r"[^0-9a-z]", "", text.casefold())


# --------------------------------------------------------------------------- Responses

class Responses:
    """An export read, mapped and cleaned for one instrument: the front door of the library.

    Holds the cleaned item codes (NaN = missing, reasons counted), the value labels and
    missing-data reasons the file carried, the instrument (restricted to the scales the export
    can score; see :attr:`skipped_scales`) and the study :class:`~peerscale.design.Design`.
    A :meth:`wave` view restricts the rows to one wave (or ``"all"``); the analyses
    (:meth:`reliability`, :meth:`item_analysis`, :meth:`efa`, :meth:`cfa`) use the first wave
    unless a view or ``wave=`` says otherwise, exactly as the command line does.

    Create one with :func:`peerscale.read`.
    """

    def __init__(self, base: _Export, rows=None, selection: str | None = None, wave_label: str | None = None):
        self._base = base
        self._rows = rows            # None: the whole export
        self._selection = selection  # None, "all", "first" or a wave name: what was asked
        self._wave_label = wave_label

    # ------------------------------------------------------------------ what was read

    @property
    def instrument(self) -> Instrument:
        """The instrument, restricted to the scales that are scored."""
        return self._base.instrument

    @property
    def design(self) -> Design:
        """The resolved study design (defaults filled in, columns checked)."""
        return self._base.design

    @property
    def inputs(self) -> tuple[str, ...]:
        """Every file this export was read from (see :func:`input_files`)."""
        return self._base.inputs

    @property
    def source(self) -> str | None:
        """The file read (None for a DataFrame)."""
        return self._base.file

    @property
    def skipped_scales(self) -> dict[str, str]:
        """``{scale: reason}`` for the instrument's scales that are not scored."""
        return dict(self._base.skipped)

    @property
    def warnings(self) -> list[str]:
        """What the reader noticed that loses no data (e.g. a cp1252 file was decoded)."""
        return list(self._base.table.warnings)

    @property
    def table(self):
        """The :class:`peerscale.io.Table` as read (all rows, columns mapped to item ids)."""
        return self._base.table

    @property
    def value_labels(self) -> dict:
        """Per item, the ``{code: label}`` the file declared (SPSS labels, REDCap choices)."""
        return self._base.value_labels

    @property
    def missing_values(self) -> dict:
        """Per item, the ``{code: reason}`` missing-data codes the file or the caller declared."""
        return self._base.missing_values

    @property
    def id_columns(self) -> list[str]:
        """Identifier columns written first with the scores."""
        return list(self._base.id_columns)

    @property
    def rows(self) -> "np.ndarray":
        """Boolean mask over the export's rows that this object analyses (rows in scope, and of
        the chosen wave for a :meth:`wave` view)."""
        return self._base.scope_mask() if self._rows is None else self._rows

    @property
    def n_rows(self) -> int:
        return int(self.rows.sum())

    @property
    def data(self) -> "pd.DataFrame":
        """The export's rows (all of them, or those of this view) with columns mapped to item ids,
        as read: not cleaned."""
        data = self._base.table.data
        return data if self._rows is None else data[self._rows]

    @property
    def waves(self) -> list[str]:
        """The waves among this object's rows, in study order ([] without a wave column)."""
        values = self._base.wave_values()
        if values is None:
            return []
        if self._rows is None:
            return list(self._base.wave_order())
        here = set(values[self.rows].dropna().unique().tolist())
        return [w for w in self._base.wave_order() if w in here]

    # ------------------------------------------------------------------ cleaned data

    def items(self, keyed: bool = False) -> "pd.DataFrame":
        """The cleaned item codes (NaN = missing) of the scored scales' items, one column per
        item, one row per analysed row (index: the row's position in the export, from 0).
        ``keyed=True`` reverses reverse-keyed items as (min + max) − x."""
        import numpy as np
        import pandas as pd

        from .scoring import keyed_values

        clean = self._base.clean
        rows = self.rows
        values = clean.values[rows]
        if keyed:
            values = keyed_values(values, clean.item_ids, self.instrument)
        return pd.DataFrame(values, columns=list(clean.item_ids), index=np.flatnonzero(rows))

    def keyed(self, scale: str) -> "pd.DataFrame":
        """One scale's items, reverse-keyed items scored as (min + max) − x from the declared
        range, ready for :mod:`peerscale.psychometrics` (e.g. ``cronbach_alpha(r.keyed("share"))``)."""
        import numpy as np
        import pandas as pd

        from .scoring import keyed_matrix

        s = self.instrument.scale(scale)
        rows = self.rows
        return pd.DataFrame(keyed_matrix(self._base.clean, self.instrument, s)[rows], columns=list(s.items),
                            index=np.flatnonzero(rows))

    def ids(self) -> "pd.DataFrame":
        """The identifier and design columns of the analysed rows."""
        import numpy as np

        cols = list(dict.fromkeys(self.id_columns + self.design.columns()))
        frame = self._base.table.data[cols][self.rows]
        frame.index = np.flatnonzero(self.rows)
        return frame

    def column(self, name: str) -> "pd.Series":
        """Any column of the export for the analysed rows (e.g. a grouping column)."""
        import numpy as np

        data = self._base.table.data
        if name not in data.columns:
            raise PeerscaleError("column not found in the data", column=name, file=self.source,
                                 hint="columns are: " + ", ".join(map(str, data.columns[:20])))
        col = data[name][self.rows]
        col.index = np.flatnonzero(self.rows)
        return col

    # ------------------------------------------------------------------ waves

    def wave(self, which: str = "first") -> "Responses":
        """The rows of one wave: a wave name, ``"first"`` (the first in study order) or ``"all"``
        (every wave pooled: people are counted once per wave). Without a wave column every row
        is one wave, and a name is an error."""
        which = "first" if which is None else str(which)
        values = self._base.wave_values()
        if which == "all" or values is None and which == "first":
            return Responses(self._base, self.rows.copy(), "all", None)
        if values is None:
            raise PeerscaleError(f"`wave` {which!r}: the data have no wave column", file=self.source,
                                 hint="name the wave column with `design` (--wave-column), or use wave='all'")
        waves = self.waves
        if not waves:
            raise PeerscaleError(f"no row has a wave in column {self.design.wave!r}", file=self.source,
                                 column=self.design.wave)
        name = waves[0] if which == "first" else self._base.wave_name(which, waves)
        if name is None:
            raise PeerscaleError(f"`wave` {which!r} is not a wave of column {self.design.wave!r}", file=self.source,
                                 hint="waves: " + ", ".join(self._base.wave_labels(waves)) + ", or first, or all")
        mask = self.rows & (values == name).fillna(False).to_numpy(dtype=bool)
        return Responses(self._base, mask, which, name)

    def where(self, column: str, value) -> "Responses":
        """The rows whose ``column`` equals ``value`` (compared as text), e.g. one site or one rater."""
        col = self._base.table.data[column] if column in self._base.table.data.columns else None
        if col is None:
            raise PeerscaleError("column not found in the data", column=column, file=self.source)
        mask = self.rows & (col.astype("string").str.strip() == str(value)).fillna(False).to_numpy(dtype=bool)
        return Responses(self._base, mask, self._selection or "all", self._wave_label)

    def _view(self, wave) -> "Responses":
        """The rows an analysis uses: this view if one was chosen, else ``wave`` (default first)."""
        if wave is not None:
            return self.wave(wave)
        if self._selection is not None:
            return self
        return self.wave("first")

    def sample(self) -> dict:
        """``{"rows", "respondents", "waves", ...}``: who this object's analyses count, with a
        sentence (``note``) that says the same in words."""
        rows = self.rows
        d = self.design
        data = self._base.table.data
        n = int(rows.sum())
        respondents = int(data[d.respondent][rows].nunique()) if d.respondent else n
        waves = self.waves
        out = {"rows": n, "respondents": respondents, "waves": waves, "wave_column": d.wave,
               "respondent_column": d.respondent,
               "selection": self._selection or "all"}
        for role in ("worker", "dyad", "group"):
            col = getattr(d, role)
            if col:
                out[f"{role}s"] = int(data[col][rows].nunique())
        out["note"] = sample_note(out, len(self._base.wave_order()) if d.wave else 0)
        return out

    # ------------------------------------------------------------------ scoring

    def score(self, *, min_answered=None, id_columns=None):
        """Scale scores: ids first, then ``<scale>`` and ``<scale>_n`` per scale (and T scores
        and bands where the instrument defines them), one row per row of the export (or of
        this wave view), in input order.

        ``min_answered`` overrides every scale's rule (a count, or a proportion below 1).
        Returns a :class:`~peerscale.scoring.ScoreResult` (``.scores`` is the table).
        """
        from .scoring import resolve_id_columns, score_clean, score_data
        from .spec import with_min_answered

        b = self._base
        inst = with_min_answered(b.instrument, min_answered)
        data = b.table.data
        ids = resolve_id_columns(data, inst, list(id_columns), b.file) if id_columns else b.id_columns
        if self._rows is None:
            result = score_clean(b.clean, inst, data, ids, in_scope=b.scope, on_invalid=b.on_invalid, file=b.file)
        else:  # a wave view: its rows, cleaned again so the missing-answer counts are its own
            result = score_data(data[self._rows].reset_index(drop=True), inst, id_columns=ids or None,
                                on_invalid=b.on_invalid, value_labels=b.value_labels,
                                missing_values=b.missing_values, file=b.file)
        if b.skipped:
            result.summary["skipped_scales"] = dict(b.skipped)
        if b.scope is not None and self._rows is None:
            result.summary["n_out_of_scope"] = int((~b.scope).sum())
        result.summary["warnings"] = list(b.table.warnings)
        return result

    def write_scores(self, path, *, include_items: str | None = None, format: str | None = None,
                     force: bool = False, min_answered=None, id_columns=None, protect=()):
        """Score and write the scores (with labels, value labels and measure levels in formats
        that hold them) atomically to ``path``; ``include_items`` adds the cleaned items
        ``"answered"`` or ``"keyed"``. Returns ``(path written, ScoreResult)``."""
        from .output import write_scores

        result = self.score(min_answered=min_answered, id_columns=id_columns)
        written, frame = write_scores(self, result, path, include_items=include_items, format=format, force=force,
                                      protect=protect)
        result.summary.update({"output": str(written), "n_columns": frame.shape[1], "items_included": include_items})
        return written, result

    # ------------------------------------------------------------------ analyses

    def reliability(self, *, wave=None, scales=None, listwise: bool = False, n_boot: int = 0, seed=None,
                    level: float = 0.95, ordinal: bool = False, omega: bool = False, omega_method: str = "minres",
                    quiet: bool = True):
        """Alpha, G6, omega and item-total statistics per scale (as ``psych::alpha`` and
        ``psych::omega``); see :func:`peerscale.analyses.reliability`."""
        from .analyses import reliability

        return reliability(self._view(wave), scales=scales, listwise=listwise, n_boot=n_boot, seed=seed,
                           level=level, ordinal=ordinal, omega=omega, omega_method=omega_method, quiet=quiet)

    def item_analysis(self, *, wave=None, scales=None, listwise: bool = False, min_r_drop: float = 0.30,
                      max_floor: float = 50.0, max_ceiling: float = 50.0):
        """Distributions, floor and ceiling, item-total statistics and flags per scale; see
        :func:`peerscale.analyses.item_analysis`."""
        from .analyses import item_analysis

        return item_analysis(self._view(wave), scales=scales, listwise=listwise, min_r_drop=min_r_drop,
                             max_floor=max_floor, max_ceiling=max_ceiling)

    def efa(self, *, wave=None, items=None, n_factors="parallel", method: str = "minres",
            rotation: str = "oblimin", iterations: int = 20, seed=1, polychoric: bool = False,
            resample: bool = True, quiet: bool = True):
        """KMO, Bartlett, parallel analysis and an EFA (as ``psych::fa``); see
        :func:`peerscale.analyses.efa`."""
        from .analyses import efa

        return efa(self._view(wave), items=items, n_factors=n_factors, method=method, rotation=rotation,
                   iterations=iterations, seed=seed, polychoric=polychoric, resample=resample, quiet=quiet)

    def cfa(self, model: str | None = None, *, wave=None, structure: str | None = None, compare: bool = False,
            estimator: str = "ml", missing: str | None = None, std_lv: bool = False, group: str | None = None,
            top_mi: int = 10, cluster: str | None = None):
        """A CFA (as ``lavaan::cfa``) of ``model`` or of the instrument's own ``structure``;
        FIML when answers are missing (ML, MLR); ``cluster`` (a column, e.g. the design's
        worker) for cluster-robust SEs as lavaan's ``cluster=``; see :func:`peerscale.analyses.cfa`."""
        from .analyses import cfa

        return cfa(self._view(wave), model=model, structure=structure, compare=compare, estimator=estimator,
                   missing=missing, std_lv=std_lv, group=group, top_mi=top_mi, cluster=cluster)

    def retest(self, other: "Responses | None" = None, *, level: float = 0.95):
        """Test-retest ICCs of the scale scores across the waves (or between this export and
        ``other``, a second wave in its own file); see :func:`peerscale.analyses.retest`."""
        from .analyses import retest

        return retest(self, other, level=level)

    def dyads(self, other: "Responses", *, wave=None, link=None, level: float = 0.95):
        """Agreement with ``other``, the other form of the same relationships (this export is the
        young person's, ``other`` the worker's); see :func:`peerscale.design_analyses.dyads`."""
        from .design_analyses import dyads

        return dyads(self, other, wave=wave, link=link, level=level)

    def nesting(self, *, wave=None, worker_column: str | None = None, scales=None):
        """ICC(1) of each scale within workers (REML as ``lme4::lmer``, and ANOVA), design effect
        and effective n; see :func:`peerscale.design_analyses.nesting`."""
        from .design_analyses import nesting

        return nesting(self._view(wave), worker_column=worker_column, scales=scales)

    def change(self, from_wave: str, to_wave: str, *, reliability=None, scales=None, level: float = 0.95):
        """Change of each scale between two waves with the Jacobson–Truax reliable change index;
        see :func:`peerscale.design_analyses.change`."""
        from .design_analyses import change

        return change(self, from_wave=from_wave, to_wave=to_wave, reliability=reliability, scales=scales,
                      level=level)

    def mediation(self, x: str, m: str, y: str, *, others=(), **options):
        """The mediation model X → M → Y (as ``lavaan::sem()`` with ``:=``) on this export and
        ``others`` (more Responses or paths, linked by dyad or respondent id); the other forms
        of this export's file are read as needed. See :func:`peerscale.analyses_mediation.mediation`."""
        return mediation([self, *others], x, m, y, **options)

    def report(self, *, validate: bool = False, wave=None, min_answered=None, bootstrap: int = 1000,
               iterations: int = 20, n_factors: int | None = None, seed: int = 1, missing: str | None = None,
               quiet: bool = True, command: str = "", partner: "Responses | None" = None):
        """The numbers of ``peerscale report`` (a :class:`~peerscale.report.build.Report`: render
        with ``.to_html()``, ``.to_dict()`` or :func:`~peerscale.report.markdown.write_markdown`).
        ``partner``: the other form of the same relationships (e.g. the worker's pbr-p export),
        for the dyad section."""
        from .report.build import build_report

        return build_report(self, validate=validate, wave=wave, min_answered=min_answered, bootstrap=bootstrap,
                            iterations=iterations, n_factors=n_factors, seed=seed, missing=missing, quiet=quiet,
                            command=command, partner=partner)

    # ------------------------------------------------------------------ display

    def __repr__(self) -> str:
        inst = self.instrument
        where = self.source or "a DataFrame"
        plain = [s.name for s in inst.scales if not s.composite]
        comp = [s.name for s in inst.scales if s.composite]
        lines = [f"Responses: {self.n_rows} rows of {where}, instrument {inst.name} {inst.version}".rstrip(),
                 f"  scales: {', '.join(plain)}" + (f"; composites: {', '.join(comp)}" if comp else "")]
        if self._base.skipped:
            lines.append("  skipped: " + "; ".join(f"{k} ({v})" for k, v in self._base.skipped.items()))
        lines.append(f"  design: {self.design.describe()}")
        if self.waves:
            lines.append(f"  waves: {', '.join(self.waves)}" + (f" (this view: {self._wave_label})"
                                                               if self._wave_label else ""))
        return "\n".join(lines)


def mediation(source, x: str, m: str, y: str, **options):
    """Does the relationship carry the effect of the activities on the outcomes? The mediation
    model ``M ~ a*X; Y ~ b*M + c*X; indirect := a*b; total := c + a*b`` on scored exports,
    as ``lavaan::sem()``.

    Parameters
    ----------
    source : path, DataFrame or Responses, or a list of them (forms linked by dyad or
        respondent id).
    x, m, y : scale names (``"act_total"``, ``"pbr_core"``, ``"out_total"``) or
        ``"instrument:scale"``.
    options : see :func:`peerscale.analyses_mediation.mediation` (``covariates``,
        ``baseline``, ``latent``, ``cluster``, ``bootstrap``, ``seed``, ``missing``...) and
        :func:`read` (``map``, ``design``...).

    Returns
    -------
    MediationResult
        with ``paths``, ``indirect``, ``total``, ``n``, ``to_frame()`` and ``summary()``.

    Examples
    --------
    >>> import peerscale
    >>> from peerscale.examples import path
    >>> res = peerscale.mediation(path("youth_export.csv"), x="act_total", m="pbr_core", y="out_total")
    >>> round(res.indirect["est"], 3), res.n
    (0.114, 289)
    """
    from .analyses_mediation import mediation as analyse

    return analyse(source, x, m, y, reader=read, **options)


def sample_note(sample: dict, n_waves_in_data: int) -> str:
    """The sample in words, as the tables and the report state it."""
    rows, people = sample["rows"], sample["respondents"]
    who = (f"{rows} rows from {people} respondents ({sample['respondent_column']})" if sample["respondent_column"]
           else f"{rows} rows (no respondent id column: each row counted as a respondent)")
    col = sample["wave_column"]
    waves = sample["waves"]
    if not col:
        return f"{who}; no wave column"
    if sample["selection"] == "all" and len(waves) > 1:
        return f"{who}; all {len(waves)} waves of {col} pooled, so people are counted once per wave"
    if len(waves) == 1 and n_waves_in_data > 1:
        kind = "the first wave" if sample["selection"] == "first" else "wave"
        return f"{who}; {kind} {waves[0]} of {col} only (of {n_waves_in_data}), so each respondent counts once"
    return f"{who}; " + (f"one wave ({waves[0]}) in {col}" if waves else f"no wave in {col}")
