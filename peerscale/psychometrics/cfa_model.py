"""The model step of the CFA/SEM engine: lavaan syntax to a parameter table (lavaan's
``lavaanify``), with ``lavaan::cfa``'s defaults. See :mod:`peerscale.psychometrics.cfa`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import PeerscaleError
from .lavaan_syntax import Term, parse_model

GROUP_EQUAL = ("loadings", "intercepts", "residuals")


# ---------------------------------------------------------------------------------------
# parameter table
# ---------------------------------------------------------------------------------------

@dataclass
class Param:
    """One row of the parameter table (lavaan's ``parTable``)."""

    lhs: str
    op: str
    rhs: str
    group: int
    mat: str  # "A", "S" or "m"
    i: int
    j: int
    free: int  # index into θ, or -1 when fixed
    value: float  # fixed value, or the start value of a free parameter
    label: str | None = None


@dataclass
class ModelSpec:
    observed: list[str]
    latent: list[str]
    params: list[Param]
    n_groups: int
    meanstructure: bool
    n_free: int

    @property
    def variables(self) -> list[str]:
        return self.observed + self.latent


def _order_variables(terms: list[Term]) -> tuple[list[str], list[str]]:
    latent = []
    for t in terms:
        if t.op == "=~" and t.lhs not in latent:
            latent.append(t.lhs)
    observed = []
    for t in terms:
        for v in ((t.rhs,) if t.op == "=~" else (t.lhs, t.rhs)):
            if v != "1" and v not in latent and v not in observed:
                observed.append(v)
    return observed, latent


def build_model(terms: list[Term] | str, *, n_groups: int = 1, std_lv: bool = False,
                orthogonal: bool = False, meanstructure: bool | None = None,
                group_equal: tuple[str, ...] | list[str] = ()) -> ModelSpec:
    """Turn parsed syntax into a parameter table with lavaan's ``cfa()`` defaults."""
    if isinstance(terms, str):
        terms = parse_model(terms)
    bad = [g for g in group_equal if g not in GROUP_EQUAL]
    if bad:
        raise PeerscaleError(f"unknown group_equal {bad[0]!r}", hint=f"use {', '.join(GROUP_EQUAL)}")
    observed, latent = _order_variables(terms)
    if not observed:
        raise PeerscaleError("the model has no observed variables")
    index = {v: k for k, v in enumerate(observed + latent)}
    meanstructure = (n_groups > 1) if meanstructure is None else meanstructure
    y_vars = []  # dependent variables of ~ regressions
    for t in terms:
        if t.op == "~" and t.rhs != "1" and t.lhs not in y_vars:
            y_vars.append(t.lhs)
    reg_pairs = {frozenset((t.lhs, t.rhs)) for t in terms if t.op == "~"}

    rows: list[dict] = []  # before free-index assignment

    def add(lhs, op, rhs, g, mat, i, j, mod, default_fixed=None, auto_label=None):
        fixed = mod.fixed if mod is not None else None
        if fixed is None and default_fixed is not None and not (mod is not None and mod.free):
            fixed = default_fixed
        label = (mod.label if mod is not None else None) or auto_label
        start = mod.start if mod is not None else None
        rows.append(dict(lhs=lhs, op=op, rhs=rhs, group=g, mat=mat, i=i, j=j,
                         fixed=fixed, start=start, label=label if fixed is None else None))

    for g in range(n_groups):
        seen = set()
        # loadings
        for lv in latent:
            inds = [t for t in terms if t.op == "=~" and t.lhs == lv]
            for k, t in enumerate(inds):
                mod = t.modifier(g)
                default = 1.0 if (k == 0 and not std_lv) else None
                lab = f".L.{lv}.{t.rhs}" if "loadings" in group_equal else None
                add(lv, "=~", t.rhs, g, "A", index[t.rhs], index[lv], mod, default, lab)
                seen.add(("=~", lv, t.rhs))
        # regressions and intercepts
        for t in terms:
            if t.op == "~" and t.rhs != "1":
                add(t.lhs, "~", t.rhs, g, "A", index[t.lhs], index[t.rhs], t.modifier(g))
        user_int = {t.lhs: t for t in terms if t.op == "~" and t.rhs == "1"}
        # user (co)variances
        user_cov = {}
        for t in terms:
            if t.op == "~~":
                key = frozenset((t.lhs, t.rhs))
                user_cov[key] = t
        for key, t in user_cov.items():
            i, j = sorted((index[t.lhs], index[t.rhs]))
            add(t.lhs, "~~", t.rhs, g, "S", i, j, t.modifier(g))
        # automatic variances
        for v in observed:
            if frozenset((v,)) not in user_cov:
                lab = f".R.{v}" if "residuals" in group_equal else None
                add(v, "~~", v, g, "S", index[v], index[v], None, None, lab)
        for lv in latent:
            if frozenset((lv,)) not in user_cov:
                # as lavaan: with std_lv and equal loadings, factor variances are free beyond group 1
                fix_var = std_lv and not (g > 0 and "loadings" in group_equal)
                add(lv, "~~", lv, g, "S", index[lv], index[lv], None, 1.0 if fix_var else None)
        # automatic covariances: exogenous factors, and dependent variables of regressions
        exo = [lv for lv in latent if lv not in y_vars]
        pairs = [(a, b) for x, a in enumerate(exo) for b in exo[x + 1:]]
        ys_lv = [v for v in y_vars if v in latent]
        ys_ov = [v for v in y_vars if v in observed]
        for group_vars in (ys_lv, ys_ov):
            pairs += [(a, b) for x, a in enumerate(group_vars) for b in group_vars[x + 1:]
                      if frozenset((a, b)) not in reg_pairs]
        for a, b in pairs:
            if frozenset((a, b)) in user_cov:
                continue
            i, j = sorted((index[a], index[b]))
            fixed = 0.0 if (orthogonal and a in exo and b in exo) else None
            add(a, "~~", b, g, "S", i, j, None, fixed)
        # mean structure
        if meanstructure:
            for v in observed:
                t = user_int.get(v)
                lab = f".I.{v}" if "intercepts" in group_equal else None
                add(v, "~1", "", g, "m", index[v], 0, t.modifier(g) if t else None, None, lab)
            for lv in latent:
                t = user_int.get(lv)
                free_mean = "intercepts" in group_equal and g > 0
                add(lv, "~1", "", g, "m", index[lv], 0, t.modifier(g) if t else None,
                    None if free_mean else 0.0)
        elif user_int:
            raise PeerscaleError("intercepts ('~ 1') need a mean structure",
                                 hint="pass meanstructure=True")

    params: list[Param] = []
    labels: dict[str, int] = {}
    n_free = 0
    for r in rows:
        if r["fixed"] is not None:
            free, value = -1, float(r["fixed"])
        elif r["label"] is not None and r["label"] in labels:
            free, value = labels[r["label"]], np.nan
        else:
            free, value = n_free, np.nan
            if r["label"] is not None:
                labels[r["label"]] = n_free
            n_free += 1
        if r["start"] is not None:
            value = float(r["start"])
        params.append(Param(r["lhs"], r["op"], r["rhs"], r["group"], r["mat"], r["i"], r["j"],
                            free, value, r["label"]))
    return ModelSpec(observed, latent, params, n_groups, meanstructure, n_free)

