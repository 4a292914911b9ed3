"""Scoring engine: item responses → cleaned codes → keyed items → scale scores.

Everything is vectorised over respondents (one NumPy pass per item column and per scale).

* Cleaning: an answer is a scored code, a label of a scored code (REDCap label exports),
  a missing-data code (or its label) that becomes missing *with its reason counted*, a blank,
  or an invalid value. Invalid values are an error listing rows, columns and values, or, with
  ``on_invalid="missing"``, become missing and are counted.
* Keying: reverse-keyed items are scored as ``(min + max) − x`` from the response scale's
  declared range (never the observed range).
* Scale score (``method: mean``): mean of the answered keyed items when at least
  ``Scale.required`` items are answered, else missing. ``method: sum`` with ``prorate`` gives
  ``mean × k`` (PHQ-9 style proration), without it the plain sum of answered items.
  ``<scale>_n`` always gives the number answered. This matches ``psych::scoreItems(keys,
  impute = "none", min, max)`` (Revelle, psych 2.2.9) when the rule is "at least 1 answered".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from .errors import PeerscaleError, plain, columns_hint
from .spec import Instrument, Scale, load_instrument

BLANK = "blank"
INVALID = "invalid value (set to missing)"
MAX_LISTED = 5
NORM_TOLERANCE = 1e-9  # exact norm lookup: a raw score this close to a table row is that row


class CleanItems:
    """Item responses as numeric codes (NaN = missing), one array per item id.

    Columns that needed no change are read-only views of the input (no copy): a million-row
    file spends most of its scoring time faulting in fresh memory otherwise. ``values`` gives
    the n × p matrix, built on first use.
    """

    def __init__(self, columns: dict[str, np.ndarray], missing: dict[str, dict[str, int]],
                 invalid_count: int = 0, invalid_examples: list | None = None):
        self.columns = columns
        self.item_ids = list(columns)
        self.missing = missing
        self.invalid_count = invalid_count
        self.invalid_examples = invalid_examples or []
        self._values = None

    @property
    def values(self) -> np.ndarray:
        if self._values is None:
            n = len(next(iter(self.columns.values()))) if self.columns else 0
            self._values = np.empty((n, len(self.columns)), dtype="float64", order="F")
            for j, col in enumerate(self.columns.values()):
                self._values[:, j] = col
        return self._values

    @values.setter
    def values(self, matrix: np.ndarray) -> None:
        """Replace the responses (e.g. keep only rows in scope), same item order."""
        self._values = np.asarray(matrix, dtype="float64")
        self.columns = {iid: self._values[:, j] for j, iid in enumerate(self.item_ids)}

    def frame(self, index=None) -> pd.DataFrame:
        return pd.DataFrame(self.values, columns=self.item_ids, index=index)

    def column(self, item_id: str) -> np.ndarray:
        return self.columns[item_id]


@dataclass(repr=False)
class ScoreResult:
    """Scores (``scores``: ids, then ``<scale>``, ``<scale>_n`` ... per row), the cleaned
    ``items`` and a ``summary`` dict (per scale: scored, too few answered, mean, SD; missing
    answers by reason; invalid values), which ``--json`` prints."""

    scores: pd.DataFrame
    instrument: Instrument
    id_columns: list[str]
    items: CleanItems
    summary: dict

    def to_frame(self) -> pd.DataFrame:
        """The scores table."""
        return self.scores

    def __repr__(self) -> str:
        s = self.summary
        lines = [f"Scores of {s['n_rows']} rows with {s['instrument']} {s['version']}".rstrip(),
                 f"{'scale':<14}{'scored':>8}{'too few':>9}{'mean':>7}{'sd':>7}  rule"]
        for name, sc in s["scales"].items():
            mean = "" if sc["mean"] is None else f"{sc['mean']:.2f}"
            sd = "" if sc["sd"] is None else f"{sc['sd']:.2f}"
            lines.append(f"{name:<14}{sc['n_scored']:>8}{sc['n_too_few_answered']:>9}{mean:>7}{sd:>7}  {sc['rule']}")
        if s.get("skipped_scales"):
            lines.append("not scored: " + "; ".join(f"{k} ({v})" for k, v in s["skipped_scales"].items()))
        if s["missing_by_reason"]:
            lines.append("missing answers by reason: " + ", ".join(f"{r}: {k}" for r, k in s["missing_by_reason"].items()))
        return "\n".join(lines)


def _norm_label(x: str) -> str:
    return " ".join(str(x).strip().lower().split())


def numeric_codes(codes: Iterable) -> dict[float, Any]:
    """{float(code): code} for the codes that are numbers (``9``, ``"-999"``), skipping ``"UNK"``."""
    out = {}
    for c in codes:
        try:
            out[float(c)] = c
        except (TypeError, ValueError):
            continue
    return out


def _clean_column(col: pd.Series, item, extra_labels: dict | None, extra_missing: dict | None,
                  missing_counts: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """One item column → (codes as float, NaN where missing; mask of invalid values).

    Missing-data codes (numeric like ``9``/``-999`` or text like ``UNK``) and their labels
    are counted by reason in ``missing_counts``; blanks are counted as ``"blank"``.
    """
    rs = item.response_scale
    missing = dict(rs.missing)
    if extra_missing:
        missing.update(extra_missing)
    n = len(col)
    unknown = np.zeros(n, dtype=bool)
    if pd.api.types.is_bool_dtype(col.dtype) or pd.api.types.is_numeric_dtype(col.dtype):
        x = col.to_numpy(dtype="float64", na_value=np.nan, copy=False)  # a view when already float64
        owned = False  # copied before the first write: never write into the caller's data
        blank = np.isnan(x)
    else:
        text = col.astype("string").str.strip()
        blank = (text.isna() | (text == "")).to_numpy(dtype=bool)
        x = pd.to_numeric(text.mask(blank), errors="coerce").to_numpy(dtype="float64", na_value=np.nan, copy=True)
        owned = True
        unparsed = ~blank & np.isnan(x)
        if unparsed.any():
            lookup: dict[str, object] = {}
            labels = dict(rs.codes)
            labels.update(extra_labels or {})
            for code, label in labels.items():
                try:
                    lookup[_norm_label(label)] = float(code)
                except (TypeError, ValueError):
                    continue
            for code, reason in missing.items():
                lookup[_norm_label(code)] = ("missing", reason)
                lookup[_norm_label(reason)] = ("missing", reason)
            idx = np.flatnonzero(unparsed)
            # look up each distinct text once (a label export repeats a handful of labels)
            which, distinct = pd.factorize(text.iloc[idx].to_numpy(dtype=object))
            # a label with its level described after a colon ("Emerging: asks what suits ...",
            # as the REDCap dictionary writes anchored items) counts as the label before the colon
            found = [lookup.get(_norm_label(v)) or (lookup.get(_norm_label(str(v).split(":", 1)[0]))
                                                    if ":" in str(v) else None) for v in distinct]
            code_of = np.array([v if isinstance(v, float) else np.nan for v in found], dtype="float64")
            x[idx] = code_of[which]
            unknown[idx] = np.array([v is None for v in found], dtype=bool)[which]
            per_distinct = np.bincount(which, minlength=len(found))
            for value, count in zip(found, per_distinct):
                if isinstance(value, tuple) and count:
                    missing_counts[value[1]] = missing_counts.get(value[1], 0) + int(count)
    if blank.any():
        missing_counts[BLANK] = missing_counts.get(BLANK, 0) + int(blank.sum())
    for value, code in numeric_codes(missing).items():
        hit = x == value
        if hit.any():
            missing_counts[missing[code]] = missing_counts.get(missing[code], 0) + int(hit.sum())
            if not owned:
                x, owned = x.copy(), True
            x[hit] = np.nan
    if rs.codes:
        valid = np.isin(x, np.fromiter(rs.codes, dtype="float64"))
    elif rs.has_range:
        valid = (x >= rs.min) & (x <= rs.max)
    else:
        valid = np.isfinite(x)
    invalid = (~valid & ~np.isnan(x)) | unknown
    return x, invalid


def _describe_invalid(examples, total, file) -> str:
    shown = "; ".join(f"row {r}, column {c!r}: {plain(v)}" for r, c, v in examples)
    more = f" (and {total - len(examples)} more)" if total > len(examples) else ""
    return f"{total} value(s) are not valid answers: {shown}{more}"


def clean_items(data: pd.DataFrame, instrument: Instrument, items: Sequence[str] | None = None, *,
                on_invalid: str = "error", value_labels: dict | None = None,
                missing_values: dict | None = None, file: str | None = None,
                row_mask: np.ndarray | None = None, row_offset: int = 0) -> CleanItems:
    """Convert the instrument's item columns to numeric codes (NaN = missing).

    ``value_labels`` / ``missing_values``: per item id, extra ``{code: label}`` and
    ``{code: reason}`` from the input file (SPSS labels and user-missing values, REDCap
    dictionary choices and project missing codes). ``row_mask`` limits checking to rows in
    scope (REDCap rows of other repeating forms are ignored). Rows are reported 1-based, counted
    from ``row_offset`` (the rows before this chunk of a file read in chunks).
    """
    if on_invalid not in ("error", "missing"):
        raise PeerscaleError(f"on_invalid must be 'error' or 'missing', got {on_invalid!r}")
    items = list(items if items is not None else instrument.scale_items())
    absent = [i for i in items if i not in data.columns]
    if absent:
        listed = ", ".join(absent[:10]) + (f" and {len(absent) - 10} more" if len(absent) > 10 else "")
        raise PeerscaleError(f"{len(absent)} item column(s) of instrument {instrument.name!r} are not in the data: {listed}",
                             file=file, hint="map export columns to item ids with `map` (COLUMN=ITEM pairs or a "
                                             "mapping CSV; see `peerscale redcap-mapping`)")
    columns: dict[str, np.ndarray] = {}
    missing: dict[str, dict[str, int]] = {}
    examples: list[tuple[int, str, Any]] = []
    total_invalid = 0
    invalid_masks = []
    for j, iid in enumerate(items):
        counts: dict[str, int] = {}
        col = data[iid]
        if row_mask is not None:
            col = col.where(pd.Series(row_mask, index=col.index))
        x, invalid = _clean_column(col, instrument.items[iid], (value_labels or {}).get(iid),
                                   (missing_values or {}).get(iid), counts)
        if row_mask is not None:
            counts[BLANK] = counts.get(BLANK, 0) - int((~row_mask).sum())
            if counts[BLANK] == 0:
                del counts[BLANK]
        if invalid.any():
            bad = np.flatnonzero(invalid)
            total_invalid += len(bad)
            for r in bad[: max(0, MAX_LISTED - len(examples))]:
                examples.append((int(r) + 1 + row_offset, iid, data[iid].iloc[r]))
            invalid_masks.append((j, invalid))
        columns[iid] = x
        missing[iid] = counts
    if total_invalid:
        if on_invalid == "error":
            raise PeerscaleError(_describe_invalid(examples, total_invalid, file), file=file,
                                 hint="correct the data, map labels with `redcap_dictionary`, or pass "
                                      "`on_invalid='missing'` to score them as missing (they are counted)")
        for j, invalid in invalid_masks:
            x = columns[items[j]].copy()
            x[invalid] = np.nan
            columns[items[j]] = x
            counts = missing[items[j]]
            counts[INVALID] = counts.get(INVALID, 0) + int(invalid.sum())
    return CleanItems(columns, missing, total_invalid, examples)


def _keyed_columns(clean: CleanItems, instrument: Instrument, scale: Scale):
    """Yield the scale's item columns, reverse-keyed ones as (min + max) − x (declared range)."""
    for iid, sign in zip(scale.items, scale.keys):
        col = clean.column(iid)
        yield instrument.items[iid].response_scale.reverse(col) if sign < 0 else col


def keyed_matrix(clean: CleanItems, instrument: Instrument, scale: Scale) -> np.ndarray:
    """The scale's items (n × k) with reverse-keyed items scored as (min + max) − x."""
    x = np.empty((clean.values.shape[0], len(scale.items)), dtype="float64", order="F")
    for j, col in enumerate(_keyed_columns(clean, instrument, scale)):
        x[:, j] = col
    return x


def item_keys(instrument: Instrument) -> dict[str, int]:
    """Each scale item's key (+1, or −1 for reverse-keyed), from the first scale that lists it
    (dimension scales come before composites)."""
    keys: dict[str, int] = {}
    for s in instrument.scales:
        for iid, k in zip(s.items, s.keys):
            keys.setdefault(iid, -1 if k < 0 else 1)
    return keys


def keyed_values(values: np.ndarray, item_ids: Sequence[str], instrument: Instrument) -> np.ndarray:
    """A copy of the n × p item matrix with reverse-keyed items scored as (min + max) − x
    (the keys of :func:`item_keys`, the declared ranges): every item of a scale points the same way."""
    keys = item_keys(instrument)
    out = np.array(values, dtype="float64", copy=True)
    for j, iid in enumerate(item_ids):
        if keys.get(iid, 1) < 0:
            out[:, j] = instrument.items[iid].response_scale.reverse(out[:, j])
    return out


def scale_scores(x, scale: Scale) -> tuple[np.ndarray, np.ndarray]:
    """(score, n answered) under the scale's method and missing-data rule.

    ``x`` is the keyed n × k matrix, or an iterable of its k columns. Sums run column by
    column (no n × k temporaries), which keeps a million-row file fast and small.
    """
    columns = x.T if isinstance(x, np.ndarray) else x
    total = n = answered = None
    k = 0
    for col in columns:
        if total is None:
            # counts in 16 bits while summing (a third of the memory traffic of int64), one
            # reused mask: about 30% faster per scale on a million rows
            total, n = np.zeros(len(col)), np.zeros(len(col), dtype=np.uint16)
            answered = np.empty(len(col), dtype=bool)
        np.equal(col, col, out=answered)  # not NaN
        np.add(total, col, out=total, where=answered)
        np.add(n, answered, out=n, casting="unsafe")
        k += 1
        if k == 65535:  # more items than 16 bits count
            n = n.astype(np.int64)
    n = n.astype(np.int64) if n is not None else n
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
    if scale.method == "mean":
        score = mean
    elif scale.prorate:
        score = mean * k
    else:
        score = total
    score[n < scale.required] = np.nan
    return score, n


def apply_norms(raw: np.ndarray, table) -> tuple[np.ndarray, np.ndarray]:
    """Raw score → (T, SE) by exact lookup in the norm table (a row within ``NORM_TOLERANCE``
    of the score), or linear interpolation within the table's range when the table says
    ``interpolate: true``; otherwise missing."""
    raws = np.asarray(table.raw)
    t = np.asarray(table.t)
    se = np.asarray([np.nan if s is None else s for s in table.se], dtype=float)
    if table.interpolate:
        inside = (raw >= raws[0]) & (raw <= raws[-1])
        return (np.where(inside, np.interp(raw, raws, t), np.nan),
                np.where(inside, np.interp(raw, raws, se), np.nan))
    # the first table row within 1e-9 of the score, on either side (a prorated sum such as
    # 8.000000000001 must find the row for 8 just as 7.999999999999 does)
    above = np.clip(np.searchsorted(raws, raw), 0, len(raws) - 1)
    below = np.maximum(above - 1, 0)
    pos = np.where(np.abs(raws[below] - raw) <= NORM_TOLERANCE, below, above)
    hit = np.abs(raws[pos] - raw) <= NORM_TOLERANCE
    return np.where(hit, t[pos], np.nan), np.where(hit, se[pos], np.nan)


def apply_bands(value: np.ndarray, bands) -> pd.Series:
    """Label each value with its band: [min, max) except the last band, which includes max."""
    labels = np.full(value.shape, None, dtype=object)
    for k, band in enumerate(bands):
        upper = value <= band.max if k == len(bands) - 1 else value < band.max
        labels[(value >= band.min) & upper] = band.label
    return pd.Series(labels, dtype="string")


def resolve_id_columns(data: pd.DataFrame, instrument: Instrument, id_columns: Sequence[str] | None,
                       file: str | None = None) -> list[str]:
    """Explicit ids must exist; otherwise the instrument's ``id_columns`` present in the data."""
    if id_columns:
        absent = [c for c in id_columns if c not in data.columns]
        if absent:
            raise PeerscaleError(f"id column(s) not in the data: {', '.join(absent)}", file=file,
                                 hint=columns_hint(data.columns))
        return list(dict.fromkeys(id_columns))
    return [c for c in instrument.id_columns if c in data.columns]


def score_columns(instrument: Instrument) -> dict[str, str]:
    """Every column scoring writes, with the scale it belongs to: ``<scale>``, ``<scale>_n`` and,
    where the scoring file defines them, ``_t``, ``_t_se``, ``_band``, ``_theta``, ``_theta_se``."""
    out: dict[str, str] = {}
    irt = getattr(instrument, "irt", None) or {}
    for s in instrument.scales:
        names = [s.name, f"{s.name}_n"]
        if s.name in instrument.norms or s.name in irt:
            names += [f"{s.name}_t", f"{s.name}_t_se"]
        if s.name in instrument.bands:
            names.append(f"{s.name}_band")
        if s.name in irt:
            names += [f"{s.name}_theta", f"{s.name}_theta_se"]
        for n in names:
            out.setdefault(n, s.name)
    return out


def check_output_names(instrument: Instrument, ids: Sequence[str], file: str | None = None) -> None:
    """Refuse identifier columns named like a score column: the scores would overwrite the ids
    (``--scale id=...`` with ``--id-column id``, ``--id-column A_n`` with scale ``A``, ``pbr-y``
    with ``--id-column share``), and a scale named ``row`` when rows are numbered."""
    written = score_columns(instrument)
    for c in ids:
        if str(c) in written:
            raise PeerscaleError(
                f"the identifier column {str(c)!r} has the name of a score column (scale {written[str(c)]!r}): "
                "the scores would overwrite the identifiers", file=file, column=str(c),
                hint=f"rename the identifier column (`map='{c}={c}_id'` `id_columns='{c}_id'`) or the scale")
    if not ids and "row" in written:
        raise PeerscaleError(f"scale {written['row']!r} would overwrite the row numbers (column 'row', written when "
                             "there is no identifier column)", file=file,
                             hint="rename the scale, or give an identifier column (`id_columns`)")


def duplicate_ids(data: pd.DataFrame, id_columns: Sequence[str], row_mask=None) -> pd.DataFrame:
    """Rows whose id combination occurs more than once (blank ids ignored)."""
    if not id_columns:
        return data.iloc[0:0]
    ids = data[list(id_columns)]
    if row_mask is not None:
        ids = ids[row_mask]
    ids = ids.dropna(subset=[id_columns[0]])
    if len(id_columns) == 1 and ids.iloc[:, 0].is_unique:  # the common case, about 3x cheaper
        return ids.iloc[0:0]
    return ids[ids.duplicated(keep=False)]


def score_data(data: pd.DataFrame, instrument: Instrument | str, *, id_columns: Sequence[str] | None = None,
               on_invalid: str = "error", min_answered: float | None = None, value_labels: dict | None = None,
               missing_values: dict | None = None, in_scope=None, file: str | None = None,
               row_offset: int = 0) -> ScoreResult:
    """Score every row of ``data``; returns ids first, then ``<scale>``, ``<scale>_n`` per scale
    (plus ``<scale>_t``, ``<scale>_t_se`` and ``<scale>_band`` where norms/bands are defined, and
    ``<scale>_theta``, ``<scale>_theta_se``, ``<scale>_t`` from the scale's frozen ``irt:`` bank).

    This is the scoring kernel: a function of a chunk of rows (clean, then score), so a large
    file can be scored chunk by chunk. Every input row is in the output, in input order.
    ``min_answered`` overrides every scale's rule (a count of 1 or more, or a proportion below
    1). Rows with ``in_scope`` False (REDCap rows of other repeating forms) keep their ids and
    get empty scores. :func:`peerscale.read` is the front door: it reads, maps and cleans a
    file once, and :meth:`~peerscale.responses.Responses.score` calls :func:`score_clean`.
    ``row_offset`` (the rows before this chunk) makes error messages name the row of the whole
    file. ``peerscale.score`` of a ``dask.dataframe.DataFrame`` runs this function on every
    partition (:func:`peerscale.dask_support.score_dask`).
    """
    from .spec import with_min_answered

    instrument = load_instrument(instrument) if not isinstance(instrument, Instrument) else instrument
    instrument = with_min_answered(instrument, min_answered)
    ids = resolve_id_columns(data, instrument, id_columns, file)
    mask = None if in_scope is None else np.asarray(in_scope, dtype=bool)
    clean = clean_items(data, instrument, on_invalid=on_invalid, value_labels=value_labels,
                        missing_values=missing_values, file=file, row_mask=mask, row_offset=row_offset)
    return score_clean(clean, instrument, data, ids, in_scope=mask, on_invalid=on_invalid, file=file)


def score_clean(clean: CleanItems, instrument: Instrument, data: pd.DataFrame, ids: Sequence[str], *,
                in_scope: np.ndarray | None = None, on_invalid: str = "error", file: str | None = None) -> ScoreResult:
    """Scores of already cleaned items (see :func:`score_data`); ``data`` supplies the id
    columns ``ids`` (and the row count), ``in_scope`` the rows that are scored."""
    mask = None if in_scope is None else np.asarray(in_scope, dtype=bool)
    check_output_names(instrument, ids, file)
    n_rows = len(data)
    out: dict[str, Any] = {}
    if ids:
        for c in ids:
            out[c] = data[c].to_numpy(copy=True) if not isinstance(data[c].dtype, pd.StringDtype) else data[c].array
    else:
        out["row"] = np.arange(1, n_rows + 1)
    summary_scales = {}
    for scale in instrument.scales:
        score, n = scale_scores(_keyed_columns(clean, instrument, scale), scale)
        n_col = pd.array(n, dtype="Int64")
        if mask is not None:
            score = np.where(mask, score, np.nan)
            n_col[~mask] = pd.NA
        out[scale.name] = score
        out[f"{scale.name}_n"] = n_col
        if scale.name in instrument.norms:
            t, se = apply_norms(score, instrument.norms[scale.name])
            out[f"{scale.name}_t"], out[f"{scale.name}_t_se"] = t, se
        if scale.name in instrument.bands:
            on, bands = instrument.bands[scale.name]
            out[f"{scale.name}_band"] = apply_bands(out[f"{scale.name}_t"] if on == "t" else score, bands)
        if scale.name in instrument.irt:  # frozen IRT bank: theta, its SE and T = 50 + 10 theta
            from .irt.result import score_bank

            bank = instrument.irt[scale.name]
            frame = pd.DataFrame({iid: clean.column(iid) for iid in bank.item_ids}, copy=False)
            th = score_bank(frame, bank, min_answered=min(scale.required, len(bank.items)), file=file)
            for col, src in (("theta", "theta"), ("theta_se", "se"), ("t", "t")):
                v = th[src].to_numpy()
                out[f"{scale.name}_{col}"] = v if mask is None else np.where(mask, v, np.nan)
        scored = ~np.isnan(score)
        in_scope_n = n_rows if mask is None else int(mask.sum())
        finite = score[scored]
        summary_scales[scale.name] = {
            "label": scale.label, "rule": scale.rule_text(), "n_scored": int(scored.sum()),
            "n_too_few_answered": int(in_scope_n - scored.sum()),
            "mean": float(finite.mean()) if finite.size else None,
            "sd": float(finite.std(ddof=1)) if finite.size > 1 else None,
            "min": float(finite.min()) if finite.size else None,
            "max": float(finite.max()) if finite.size else None,
        }
    scores = pd.DataFrame(out, copy=False)  # fresh arrays: consolidating them cost 0.2 s per 1M rows
    # duplicate ids are `peerscale validate`'s job (and the REDCap reader's, per event): hashing
    # a million ids here cost more than scoring them
    warnings: list[str] = []
    reasons: dict[str, int] = {}
    for counts in clean.missing.values():
        for reason, k in counts.items():
            reasons[reason] = reasons.get(reason, 0) + k
    summary = {
        "instrument": instrument.name, "version": instrument.version, "n_rows": n_rows,
        "n_in_scope": n_rows if mask is None else int(mask.sum()), "id_columns": list(ids),
        "scales": summary_scales, "missing_by_reason": reasons, "missing_by_item": clean.missing,
        "invalid_values": clean.invalid_count,
        "invalid_handling": on_invalid, "warnings": warnings,
    }
    return ScoreResult(scores, instrument, list(ids), clean, summary)


def score(data: pd.DataFrame, instrument: Instrument | str, **kwargs) -> pd.DataFrame:
    """Score a DataFrame with a bundled instrument name, a spec path or an :class:`Instrument`.

    (``peerscale.score`` also takes a ``dask.dataframe.DataFrame``: see :func:`peerscale.api.score`.)

    >>> import peerscale
    >>> scores = peerscale.score(df, "pbr-y")            # doctest: +SKIP
    Keyword arguments as :func:`score_data`.
    """
    return score_data(data, instrument, **kwargs).scores


def keyed_items(data: pd.DataFrame, instrument: Instrument | str, scale: str, **kwargs) -> pd.DataFrame:
    """One scale's cleaned item responses with reverse-keyed items reversed ((min + max) − x),
    ready for :mod:`peerscale.psychometrics` (e.g. ``cronbach_alpha(keyed_items(df, "pbr-y", "share"))``).
    Keyword arguments as :func:`clean_items`."""
    instrument = load_instrument(instrument) if not isinstance(instrument, Instrument) else instrument
    s = instrument.scale(scale)
    clean = clean_items(data, instrument, list(s.items), **kwargs)
    return pd.DataFrame(keyed_matrix(clean, instrument, s), columns=list(s.items), index=data.index)
