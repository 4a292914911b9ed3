"""McDonald's omega: total and hierarchical, as ``psych::omega`` (psych 2.2.9) computes them.

The steps follow psych's ``schmid`` and ``omegah`` on the item correlation matrix R
(Pearson, pairwise complete, of keyed items; or polychoric for ordinal omega):

1. extract ``k`` factors (``method``: minres default, ml or pa) and rotate them varimax
   (these orthogonal loadings give the communalities ``h2`` and uniquenesses ``u2 = 1 − h2``);
2. for k ≥ 2, rotate obliquely (oblimin default, as psych) to pattern F and factor
   correlations Φ; a general factor is extracted from Φ (one factor, same method) with
   loadings g. For k = 2 psych's ``option="equal"`` is used: g = (√|φ12|, sign(φ12)√|φ12|);
3. Schmid–Leiman (1957) loadings: general ``F g``, group ``sign(F)·sqrt(F²(1 − g²))``;
4. items whose general loading is negative are flipped (as psych's ``flip=TRUE``), then with
   ``V = 1'R1``:

   - ``omega_total = (V − Σ u2) / V`` (psych's omega.tot; McDonald 1999 ω_t: common variance
     over total variance of the unit-weighted sum, with R's observed total),
   - ``omega_hierarchical = (Σ g_i)² / V`` (ω_h; general-factor variance over total),
   - ``omega_limit = (Σ g_i)² / (V − Σ u2)`` (ω_h of an infinitely long test),
   - ``ecv``: general factor's share of common variance,
   - per group factor (items assigned to the factor with their largest group loading):
     ``total``, ``general`` and ``group`` omegas of that subset.

With ``n_factors=1`` only ``omega_total`` is meaningful (psych warns the same): it is the
one-factor omega total ``1 − Σ(1 − λ_i²) / 1'R1``. We report ``omega_hierarchical`` as
None then.

References: McDonald, R. P. (1999). Test theory: A unified treatment. Zinbarg, R. E.,
Revelle, W., Yovel, I., & Li, W. (2005). Psychometrika, 70, 123-133. Schmid, J., & Leiman,
J. M. (1957). Psychometrika, 22, 53-61. Revelle, W. (2022). psych 2.2.9, ``omega``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import PeerscaleError
from .data import Summarised, fmt, smc, table_text

ROTATIONS = ("oblimin", "geomin", "promax")


@dataclass(repr=False)
class OmegaResult(Summarised):
    """One omega analysis. ``kind`` says which omegas these are: ``"one-factor"`` (only
    omega_total) or ``"schmid-leiman"`` (k group factors plus a general factor).

    ``loadings`` has columns ``g``, ``F1*``..``Fk*`` (Schmid–Leiman), ``h2``, ``u2``, ``p2``
    (g²/h2); for one factor just ``g`` (the factor's loadings), ``h2``, ``u2``.
    ``groups`` has rows ``g``, ``F1*``.. and columns ``total``, ``general``, ``group``.
    ``flipped`` lists items reversed because their general loading was negative.
    """

    kind: str
    n_factors: int
    method: str
    rotation: str | None
    omega_total: float
    omega_hierarchical: float | None
    omega_limit: float | None
    alpha: float
    g6: float
    ecv: float | None
    loadings: pd.DataFrame
    groups: pd.DataFrame | None
    flipped: list[str]
    correlations: str = "pearson"
    n_obs: int | None = None

    @property
    def label(self) -> str:
        if self.kind == "one-factor":
            return f"omega total, one-factor ({self.method})"
        return (f"Schmid-Leiman omega, {self.n_factors} group factor(s), "
                f"{self.method} + {self.rotation}")

    def to_frame(self) -> pd.DataFrame:
        """The loadings: ``g`` (and the group factors), ``h2``, ``u2`` (and ``p2``), one row per item."""
        return self.loadings.copy()

    def summary(self) -> str:
        """As ``print(psych::omega(x))``: alpha, G6, the omegas, and the Schmid–Leiman loadings."""
        lines = [f"Omega: {self.label} ({self.correlations} correlations"
                 + (f", n = {self.n_obs})" if self.n_obs else ")"),
                 f"Alpha:                 {fmt(self.alpha)}", f"G.6:                   {fmt(self.g6)}"]
        if self.omega_hierarchical is not None:
            lines += [f"Omega Hierarchical:    {fmt(self.omega_hierarchical)}",
                      f"Omega H asymptotic:    {fmt(self.omega_limit)}"]
        lines.append(f"Omega Total            {fmt(self.omega_total)}")
        if self.ecv is not None:
            lines.append(f"Explained Common Variance of the general factor = {fmt(self.ecv)}")
        if self.flipped:
            lines.append("Reversed for a positive general factor: " + ", ".join(self.flipped))
        lines += ["", table_text(self.loadings)]
        if self.groups is not None:
            lines += ["", "Omega group statistics", table_text(self.groups)]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        out = {"omega_kind": self.kind, "label": self.label, "n_factors": self.n_factors,
               "method": self.method, "rotation": self.rotation, "correlations": self.correlations,
               "omega_total": self.omega_total, "omega_hierarchical": self.omega_hierarchical,
               "omega_limit": self.omega_limit, "alpha": self.alpha, "g6": self.g6, "ecv": self.ecv,
               "flipped": self.flipped,
               "loadings": {str(i): {k: float(v) for k, v in row.items()}
                            for i, row in self.loadings.to_dict(orient="index").items()}}
        if self.n_factors == 2:
            out["note"] = ("two group factors: the general loadings on them are set equal (psych's "
                           "option='equal'); three or more are needed to identify omega hierarchical")
        if self.groups is not None:
            out["groups"] = {str(i): {k: float(v) for k, v in row.items()}
                             for i, row in self.groups.to_dict(orient="index").items()}
        return out


def _correlations(data_or_corr, ordinal: bool):
    """R, column names, n and which correlations, from data (pairwise Pearson as psych's
    ``cor(use="pairwise")``, or polychoric) or from a correlation matrix."""
    if hasattr(data_or_corr, "rho") and hasattr(data_or_corr, "columns"):
        return np.array(data_or_corr.rho, float), [str(c) for c in data_or_corr.columns], \
            getattr(data_or_corr, "n_obs", None), "polychoric"
    if ordinal:
        from .polychoric import polychoric_matrix

        poly = polychoric_matrix(data_or_corr)
        return poly.rho, [str(c) for c in poly.columns], poly.n_obs, "polychoric"
    from .efa import correlation_input

    r, cols, n = correlation_input(data_or_corr)
    return r, cols, n, "pearson"


def omega(data_or_corr, n_factors: int = 3, *, method: str = "minres", rotation: str = "oblimin",
          ordinal: bool = False) -> OmegaResult:
    """McDonald's omega of keyed items, total and hierarchical (Schmid–Leiman).

    Parameters
    ----------
    data_or_corr : pandas.DataFrame, array-like or PolychoricResult
        Keyed item scores (NaN = missing; pairwise Pearson correlations, as psych), a
        correlation matrix, or a :class:`~peerscale.psychometrics.polychoric.PolychoricResult`.
    n_factors : int, default 3
        Number of group factors (1 = one-factor omega total only).
    method : {"minres", "ml", "pa"}
        Factor extraction (psych's ``fm``).
    rotation : {"oblimin", "geomin", "promax"}
        Oblique rotation before the Schmid–Leiman transformation.
    ordinal : bool, default False
        Use polychoric instead of Pearson correlations of the data (ordinal omega).

    Returns
    -------
    OmegaResult
        ``omega_total``, ``omega_hierarchical`` (None for one factor), ``omega_limit``, ``ecv``,
        the loadings (``to_frame()``) and per-group omegas; ``kind`` says which omegas these are.

    Notes
    -----
    With V = 1'R1 of the (flipped) keyed items and u2 the uniquenesses: ``omega_total =
    (V − Σ u2) / V``, ``omega_hierarchical = (Σ g_i)² / V``, ``omega_limit = (Σ g_i)² / (V − Σ u2)``.

    References
    ----------
    McDonald, R. P. (1999). Test theory: A unified treatment. Zinbarg, R. E., Revelle, W., Yovel,
    I., & Li, W. (2005). Psychometrika, 70, 123-133.

    Examples
    --------
    As ``psych::omega(x, nfactors = 1)`` (one-factor omega total):

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> f = rng.normal(size=(300, 1))
    >>> x = pd.DataFrame(np.clip(np.round(3 + f + rng.normal(size=(300, 4))), 1, 5), columns=list("abcd"))
    >>> from peerscale.psychometrics import omega
    >>> round(omega(x, n_factors=1).omega_total, 2)
    0.76
    """
    from .efa import fit_efa, rotate

    if rotation not in ROTATIONS:
        raise PeerscaleError(f"unknown rotation {rotation!r} for omega", value=rotation,
                             hint=f"use one of {', '.join(ROTATIONS)}")
    r, cols, n_obs, kind_r = _correlations(data_or_corr, ordinal)
    p = r.shape[0]
    if p < 3:
        raise PeerscaleError(f"omega needs at least three items, got {p}")
    if not isinstance(n_factors, (int, np.integer)) or n_factors < 1:
        raise PeerscaleError("number of factors must be a positive whole number", value=n_factors)
    if n_factors > 1 and p < 2 * n_factors:
        raise PeerscaleError(f"{n_factors} group factors need at least {2 * n_factors} items, got {p}",
                             hint="use fewer group factors")
    orth = fit_efa(r, int(n_factors), method=method, rotation="varimax").loadings
    h2 = (orth ** 2).sum(axis=1)
    u2 = 1.0 - h2
    if n_factors == 1:
        g = orth[:, 0]
        group = np.zeros((p, 0))
        phi = np.eye(1)
    else:
        pattern, phi, _ = rotate(orth, rotation)
        if n_factors > 2:
            gl = fit_efa(phi, 1, method=method, rotation="none").loadings[:, 0]
        else:
            s = np.sqrt(abs(phi[0, 1]))
            gl = np.array([s, np.sign(phi[0, 1]) * s])
        g = pattern @ gl
        rest = pattern ** 2 * (1.0 - gl ** 2)
        group = np.sign(pattern) * np.sqrt(np.clip(rest, 0.0, None))
    key = np.where(g < 0, -1.0, 1.0)
    flipped = [c for c, s in zip(cols, key) if s < 0]
    m = r * np.outer(key, key)
    g = g * key
    group = group * key[:, None]
    v = m.sum()
    om_tot = (v - u2.sum()) / v
    alpha = (v - np.trace(m)) / v * p / (p - 1)
    g6 = (v + smc(m).sum() - np.trace(m)) / v
    if n_factors == 1:
        loadings = pd.DataFrame({"g": g, "h2": h2, "u2": u2}, index=cols)
        return OmegaResult("one-factor", 1, method, None, float(om_tot), None, None, float(alpha), float(g6),
                           None, loadings, None, flipped, kind_r, n_obs)
    gsq = g.sum() ** 2
    names = [f"F{i + 1}*" for i in range(n_factors)]
    with np.errstate(divide="ignore", invalid="ignore"):
        p2 = g ** 2 / h2
    loadings = pd.DataFrame(np.column_stack([g, group, h2, u2, p2]), index=cols,
                            columns=["g", *names, "h2", "u2", "p2"])
    ev = (np.column_stack([g, group]) ** 2).sum(axis=0)
    assign = np.argmax(np.abs(group), axis=1)
    rows = [[om_tot, gsq / v, np.nan]]
    grs = 0.0
    for f in range(n_factors):
        idx = np.flatnonzero(assign == f)
        if idx.size == 0:
            rows.append([np.nan, np.nan, np.nan])
            continue
        vgr = m[np.ix_(idx, idx)].sum()
        gr = group[idx, f].sum()
        gg = g[idx].sum()
        grs += gr ** 2
        rows.append([(gr ** 2 + gg ** 2) / vgr, gg ** 2 / vgr, gr ** 2 / vgr])
    rows[0][2] = grs / v
    groups = pd.DataFrame(rows, index=["g", *names], columns=["total", "general", "group"])
    return OmegaResult("schmid-leiman", int(n_factors), method, rotation, float(om_tot), float(gsq / v),
                       float(gsq / (v - u2.sum())), float(alpha), float(g6), float(ev[0] / ev.sum()),
                       loadings, groups, flipped, kind_r, n_obs)
