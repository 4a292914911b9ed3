"""What the result objects and the analyses of items share: the readable-summary behaviour and
the checks of a table of item scores (alpha, polychoric r)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import PeerscaleError


def check_items(data, what: str = "reliability") -> tuple[np.ndarray, list[str]]:
    """A table of item scores (DataFrame or 2-D array) as a float matrix (NaN = missing) and
    its column names; at least two items, each answered at least twice and not constant."""
    if isinstance(data, pd.DataFrame):
        cols = [str(c) for c in data.columns]
        try:
            x = data.to_numpy(dtype=float, na_value=np.nan, copy=True)
        except (TypeError, ValueError):
            bad = [c for c in data.columns if not pd.api.types.is_numeric_dtype(data[c])]
            raise PeerscaleError(f"{what} needs numeric item scores",
                                 column=str(bad[0]) if bad else None) from None
    else:
        x = np.array(data, dtype=float, copy=True)
        if x.ndim != 2:
            raise PeerscaleError(f"expected a 2-D table of item scores, got {x.ndim} dimension(s)")
        cols = [f"V{j + 1}" for j in range(x.shape[1])]
    x[~np.isfinite(x)] = np.nan
    if x.shape[1] < 2:
        raise PeerscaleError(f"{what} needs at least two items, got {x.shape[1]}",
                             hint="a one-item scale has no internal consistency")
    answered = np.isfinite(x).sum(axis=0)
    for j, c in enumerate(cols):
        if answered[j] < 2:
            raise PeerscaleError("item has fewer than two answers", column=c,
                                 hint="drop the item or check the column mapping")
        if np.nanstd(x[:, j]) == 0:
            raise PeerscaleError(f"item {c!r} has no variance (everyone gave the same answer)", column=c,
                                 hint="leave it out of the reliability analysis (an ad-hoc scale without it)")
    return x, cols


def smc(r: np.ndarray) -> np.ndarray:
    """Squared multiple correlations ``1 − 1/diag(R⁺)`` with the Moore–Penrose inverse (as
    ``psych::smc``, which also handles a singular R), clipped to [0, 1]. Used by alpha's G6,
    omega and the EFA's starting communalities."""
    inv = np.linalg.pinv(r)
    return np.clip(1.0 - 1.0 / np.diag(inv), 0.0, 1.0)


class Summarised:
    """Results print as their short readable summary (as psych's ``print`` and lavaan's
    ``summary()``); ``to_frame()`` gives the table behind it."""

    def summary(self) -> str:  # pragma: no cover - every result overrides it
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.summary()

    def _repr_pretty_(self, p, cycle) -> None:  # IPython
        p.text(self.summary())


def fmt(x, nd: int = 2) -> str:
    """A number as psych prints it: ``nd`` decimals, NA when missing."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "NA"
    return "NA" if not np.isfinite(x) else f"{x:.{nd}f}"


def table_text(frame: pd.DataFrame, nd: int = 2) -> str:
    """A DataFrame rounded for reading."""
    return frame.to_string(float_format=lambda v: fmt(v, nd))


def finite_or_none(x) -> float | None:
    """``x`` as a float for JSON, or None when it is missing, NaN or infinite."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None
