"""Item responses → category indices 0..K-1 for IRT, with the checks calibration needs.

Responses must be whole-number codes. Each item's categories are its declared codes (from
the response scale, in keyed order) or, when none are declared, the distinct codes observed.
A declared category nobody chose cannot be calibrated (its threshold is not identified): that
is an error naming the item and code, or with ``collapse=True`` it is merged into the adjacent
observed category below it (above it for the lowest), and the merge is recorded. An item with
a single observed category is an error. Rows without any answer carry no information: they
are left out of calibration and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import PeerscaleError


@dataclass
class ItemData:
    """Responses coded 0..K-1 (``-1`` = missing) for the rows that answered something."""

    item_ids: list[str]
    codes: np.ndarray  # n x J int16
    n_cat: np.ndarray  # J
    categories: list[list[list[float]]]  # per item: the raw codes in each category, low to high
    rows: np.ndarray  # positions of these rows in the input
    n_input: int
    notes: list[str] = field(default_factory=list)

    @property
    def n_empty(self) -> int:
        return self.n_input - len(self.rows)


def _num(x: float):
    return int(x) if float(x).is_integer() else float(x)


def as_matrix(frame, items=None) -> tuple[np.ndarray, list[str]]:
    """A DataFrame (or array) → float matrix n x J and item names; text that is not a number
    is an error naming the column."""
    import pandas as pd

    if isinstance(frame, np.ndarray):
        x = np.asarray(frame, dtype=float)
        if x.ndim != 2:
            raise PeerscaleError("responses must be a two-dimensional table (respondents x items)")
        names = list(items) if items is not None else [f"Item_{j + 1}" for j in range(x.shape[1])]
        return x, names
    if not isinstance(frame, pd.DataFrame):
        raise PeerscaleError(f"responses must be a pandas DataFrame or a NumPy array, got {type(frame).__name__}")
    items = list(frame.columns) if items is None else list(items)
    absent = [i for i in items if i not in frame.columns]
    if absent:
        raise PeerscaleError(f"{len(absent)} item(s) are not columns of the data: {', '.join(map(str, absent[:10]))}",
                             hint="check the item ids or map the columns first")
    sub = frame[items]
    if len(set(items)) == len(items) and all(pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t)
                                             for t in sub.dtypes):
        # all numeric: one conversion (a view of a float64 block; read-only use)
        return sub.to_numpy(dtype="float64", na_value=np.nan), [str(i) for i in items]
    cols = []
    for c in items:
        col = frame[c]
        if not (pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype)):
            num = pd.to_numeric(col, errors="coerce")
            bad = num.isna() & col.notna() & (col.astype("string").str.strip() != "")
            if bad.any():
                r = int(np.flatnonzero(bad.to_numpy())[0])
                raise PeerscaleError("IRT needs numeric category codes", column=str(c), row=r + 1,
                                     value=col.iloc[r], hint="recode text answers to their numeric codes first")
            col = num
        cols.append(col.to_numpy(dtype="float64", na_value=np.nan))
    x = np.column_stack(cols) if cols else np.empty((len(frame), 0))
    return x, [str(i) for i in items]


def prepare(x: np.ndarray, item_ids: list[str], *, declared: dict | None = None, collapse: bool = False,
            file: str | None = None) -> ItemData:
    """Check and recode responses (n x J floats, NaN = missing).

    ``declared``: per item, its codes in category order (low → high on the trait; a
    reverse-keyed item lists them high → low). Values outside them are an error.
    """
    n, J = x.shape
    if J == 0:
        raise PeerscaleError("no items to calibrate", file=file)
    finite = np.isfinite(x)
    frac = finite & (x != np.round(np.where(finite, x, 0)))
    if frac.any():
        r, j = np.argwhere(frac)[0]
        raise PeerscaleError(f"{int(frac.sum())} response(s) are not whole-number category codes", file=file,
                             row=int(r) + 1, column=item_ids[j], value=_num(x[r, j]),
                             hint="IRT models ordered categories coded as integers (e.g. 1-5); recode or round the data first")
    answered = finite.any(axis=1)
    rows = np.flatnonzero(answered)
    if len(rows) == 0:
        raise PeerscaleError("no respondent answered any of the items", file=file)
    xs = x[rows]
    codes = np.full(xs.shape, -1, dtype=np.int16)
    n_cat = np.zeros(J, dtype=np.int64)
    categories: list[list[list[float]]] = []
    notes: list[str] = []
    gaps: dict[tuple, list[str]] = {}
    for j, iid in enumerate(item_ids):
        col = xs[:, j]
        ok = np.isfinite(col)
        observed = np.unique(col[ok])
        if declared and iid in declared and declared[iid] is not None:
            order = [float(c) for c in declared[iid]]
            outside = sorted(set(observed.tolist()) - set(order))
            if outside:
                r = int(rows[np.flatnonzero(ok & np.isin(col, outside))[0]])
                raise PeerscaleError(f"item {iid!r} has code(s) {', '.join(str(_num(v)) for v in outside)} outside its "
                                     f"response scale ({', '.join(str(_num(v)) for v in order)})",
                                     file=file, row=r + 1, column=iid, value=_num(outside[0]))
        else:
            order = observed.tolist()
        ascending = sorted(order)
        if len(ascending) >= 2 and all(float(c).is_integer() for c in ascending) \
                and len(ascending) < ascending[-1] - ascending[0] + 1 <= 101:
            gaps.setdefault(tuple(ascending), []).append(iid)
        if len(observed) == 0:
            raise PeerscaleError(f"item {iid!r} has no answers at all", file=file, column=iid,
                                 hint="leave the item out of the calibration")
        if len(observed) == 1:
            raise PeerscaleError(f"item {iid!r}: every answer is {_num(observed[0])}, a single category; an item "
                                 "without variation carries no information about the trait and cannot be calibrated",
                                 file=file, column=iid, hint="leave the item out of the calibration")
        seen = set(observed.tolist())
        groups: list[list[float]] = [[c] for c in order]
        unobserved = [c for c in order if c not in seen]
        if unobserved:
            if not collapse:
                raise PeerscaleError(
                    f"item {iid!r}: category {', '.join(str(_num(c)) for c in unobserved)} of "
                    f"{', '.join(str(_num(c)) for c in order)} was chosen by nobody, so its threshold cannot be estimated",
                    file=file, column=iid,
                    hint="collect more data, or pass `collapse` to merge each empty category "
                         "with the neighbouring category below it (above it for the lowest); the merge is recorded in the bank")
            merged: list[list[float]] = []
            pending: list[float] = []
            for g in groups:
                c = g[0]
                if c in seen:
                    merged.append(pending + [c])
                    pending = []
                elif merged:
                    merged[-1].append(c)
                else:
                    pending.append(c)
            groups = merged
            notes.append(f"{iid}: empty categor{'y' if len(unobserved) == 1 else 'ies'} "
                         f"{', '.join(str(_num(c)) for c in unobserved)} merged into the adjacent category")
        lookup = {c: k for k, g in enumerate(groups) for c in g}
        vals = col[ok]
        uniq, inv = np.unique(vals, return_inverse=True)
        codes[ok, j] = np.array([lookup[v] for v in uniq.tolist()], dtype=np.int16)[inv]
        n_cat[j] = len(groups)
        categories.append(groups)
    for order, iids in gaps.items():
        unused = sorted(set(range(int(order[0]), int(order[-1]) + 1)) - {int(c) for c in order})
        notes.append(f"{', '.join(iids)}: the codes {', '.join(str(_num(c)) for c in order)} are taken as "
                     f"{len(order)} ordered categories; {', '.join(map(str, unused[:10]))} never occur. If a code "
                     "means 'missing' (e.g. 9 = don't know), declare it as a missing-data code; if the scale has "
                     "those categories, declare the response range")
    if len(rows) < n:
        notes.append(f"{n - len(rows)} row(s) answered none of the items and were left out of the calibration")
    return ItemData(list(item_ids), codes, n_cat, categories, rows, n, notes)


def recode(x: np.ndarray, item_ids: list[str], categories: list[list[list[float]]], *, file=None,
           strict: bool = True, chunk: int = 8192) -> np.ndarray:
    """Raw codes → category indices with a bank's category map (``-1`` = missing). Codes the
    bank does not know are an error naming the first such answer (``strict``) or missing.

    Whole-number codes within a span of 1,000 go through one lookup table for all items,
    ``chunk`` rows at a time (a million rows take a fraction of a second); other codes
    (fractions, wide ranges) are matched item by item."""
    n, J = x.shape
    maps = [{float(c): k for k, g in enumerate(categories[j]) for c in g} for j in range(J)]
    known = [c for m in maps for c in m]
    codes = np.full((n, J), -1, dtype=np.int16)
    if not J or not n:
        return codes
    lo, hi = min(known), max(known)
    if all(float(c).is_integer() for c in known) and hi - lo <= 1000:
        span = int(hi - lo) + 1
        lut = np.full((J, span), -2, dtype=np.int16)  # -2: a code the item does not know
        for j, m in enumerate(maps):
            for c, k in m.items():
                lut[j, int(c - lo)] = k
        same = bool((lut == lut[:1]).all())  # one map for every item (the usual case): a 1-D table
        flat = lut[0] if same else lut.ravel()
        item_base = (np.arange(J) * span)[None, :]
        for s0 in range(0, n, chunk):
            xs = x[s0:s0 + chunk]
            fin = np.isfinite(xs)
            v = xs - lo
            inside = (v >= 0) & (v < span)
            np.copyto(v, 0.0, where=~inside)
            iv = v.astype(np.intp)
            out = flat[iv] if same else flat[iv + item_base]
            bad = fin & (~inside | (iv != v) | (out == -2))
            out[~fin] = -1
            if bad.any():
                if strict:
                    r, j = np.argwhere(bad)[0]
                    _unknown_code(x[s0 + r, j], s0 + int(r), item_ids[j], maps[j], file)
                out[bad] = -1
            codes[s0:s0 + chunk] = out
        return codes
    for j, iid in enumerate(item_ids):
        col = x[:, j]
        ok = np.isfinite(col)
        vals = col[ok]
        if not len(vals):
            continue
        uniq, inv = np.unique(vals, return_inverse=True)
        mapped = np.array([maps[j].get(v, -1) for v in uniq.tolist()], dtype=np.int16)[inv]
        if strict and (mapped < 0).any():
            r = int(np.flatnonzero(ok)[np.flatnonzero(mapped < 0)[0]])
            _unknown_code(col[r], r, iid, maps[j], file)
        codes[ok, j] = mapped
    return codes


def _unknown_code(value, row, iid, lookup, file):
    known = sorted(lookup)
    raise PeerscaleError(f"item {iid!r}: code {_num(value)} is not one of the bank's categories "
                         f"({', '.join(str(_num(c)) for c in known)})", file=file, row=int(row) + 1, column=iid,
                         value=_num(value))
