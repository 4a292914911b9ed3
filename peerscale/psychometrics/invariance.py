"""Comparing nested models, multigroup measurement invariance and the partial invariance search.

- :func:`compare_models` is ``lavaan::lavTestLRT``: models sorted by df, each compared with
  the previous (less constrained) one. ML: the χ² difference ``ΔT = T_1 − T_0`` on
  ``Δdf = df_1 − df_0`` with ``RMSEA_Δ = √G·√(max(ΔT − Δdf, 0)/(N·Δdf))``. MLR: Satorra &
  Bentler's (2001) scaled difference, lavaan's default ``method="satorra.bentler.2001"``:
  ``c_Δ = (df_1 c_1 − df_0 c_0)/Δdf``, ``ΔT = (T_1 − T_0)/c_Δ``. DWLS (WLSMV): lavaan's
  ``method="satorra.2000"`` with the scaled-shifted form: A spans the restrictions of the
  smaller model in the larger one's parameters (``A.method="delta"``: rows orthogonal to
  ``Δ_1⁺Δ_0``), ``P = E⁻¹A'(AE⁻¹A')⁺AE⁻¹`` with E the larger model's information,
  ``U = VΔ_1PΔ_1'V``; ``a = √(m/tr((UΓ)²))``, ``b = m − a·tr(UΓ)`` and
  ``ΔT = a(T_0 − T_1) + b`` on m = Δdf (Satorra 2000; Asparouhov & Muthén 2010).
- :func:`measurement_invariance` fits the sequence of increasingly constrained models. With
  continuous items (ML, MLR): configural, metric (equal loadings), scalar (and intercepts;
  latent means free beyond the first group) and optionally strict (and residual variances),
  with lavaan's ``group.equal`` as ``semTools::measurementInvariance`` did. With ordinal items
  (DWLS): the sequence of Wu & Estabrook (2016) as ``semTools::measEq.syntax(ID.fac =
  "std.lv", ID.cat = "Wu.Estabrook.2016")`` builds it — configural, thresholds, thresholds +
  loadings ("metric"), + intercepts ("scalar") — in the delta or theta parameterisation
  (see :func:`measeq_syntax`). Each step is reported with its fit, the scaled difference
  test against the previous step and ΔCFI, ΔRMSEA (Cheung & Rensvold 2002: ΔCFI ≤ −.01
  signals non-invariance; Chen 2007 adds ΔRMSEA ≥ .015).
- :func:`partial_invariance` automates the search for partial invariance: at a step that
  fails its criterion it frees, one at a time, the newly constrained parameter with the
  largest score test for releasing its equality constraints (lavaan's ``lavTestScore``),
  until the step meets the criterion (ΔCFI ≤ .01 and ΔRMSEA ≤ .015 against the previous
  accepted step by default, or p of the χ² difference above ``alpha``), and reports every
  step. Freed parameters stay free in the later steps (as ``group.partial``).

References: Satorra, A. (2000). Scaled and adjusted restricted tests in multi-sample
analysis of moment structures. Wu, H., & Estabrook, R. (2016). Identification of confirmatory
factor analysis models of different levels of invariance for ordered categorical outcomes.
Psychometrika, 81, 1014-1045. Byrne, B. M., Shavelson, R. J., & Muthén, B. (1989). Testing for
the equivalence of factor covariance and mean structures. Psychological Bulletin, 105, 456-466.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special

from ..errors import PeerscaleError
from .blas import single_threaded
from .cfa import CFAResult, fit_cfa
from .cfa_engine import constrained_inverse, null_space
from .cfa_model import variable_sets
from .cfa_results import constraint_labels, score_tests
from .fit import fit_measures
from .lavaan_syntax import parse_model

LEVELS = {"configural": (), "metric": ("loadings",), "scalar": ("loadings", "intercepts"),
          "strict": ("loadings", "intercepts", "residuals")}
ORDINAL_LEVELS = {"configural": (), "thresholds": ("thresholds",), "metric": ("thresholds", "loadings"),
                  "scalar": ("thresholds", "loadings", "intercepts")}
# the parameters each step adds to the constraints (operator, observed lhs only for ~1)
_STEP_OPS = {"metric": "=~", "scalar": "~1", "strict": "~~", "thresholds": "|"}


# ---------------------------------------------------------------------------------------
# nested model comparison
# ---------------------------------------------------------------------------------------

@single_threaded
def compare_models(*fits: CFAResult, names: list[str] | None = None) -> pd.DataFrame:
    """χ² difference tests between nested models, as ``lavaan::lavTestLRT`` (see module
    docstring).

    Examples
    --------
    >>> compare_models(configural, metric, scalar)  # lavTestLRT(configural, metric, scalar)  # doctest: +SKIP
    """
    if len(fits) < 2:
        raise PeerscaleError("compare at least two models")
    kinds = {f.estimator for f in fits}
    if len(kinds) > 1:
        raise PeerscaleError(f"the models use different estimators ({', '.join(sorted(kinds))})",
                             hint="compare models fitted with the same estimator")
    names = names or [f"model{i + 1}" for i in range(len(fits))]
    order = sorted(range(len(fits)), key=lambda i: fits[i].df)
    rows = []
    prev = None
    for i in order:
        f = fits[i]
        fm = fit_measures(f)
        row = {"model": names[i], "df": f.df, "aic": fm["aic"], "bic": fm["bic"],
               "chisq": f.chisq, "chisq_diff": np.nan, "df_diff": np.nan,
               "pvalue": np.nan, "rmsea_diff": np.nan}
        if prev is not None:
            ddf = f.df - prev.df
            dt = f.chisq - prev.chisq
            if f.estimator == "MLR" and ddf > 0:
                c1, c0 = f.scaling["c"], prev.scaling["c"]
                cd = (f.df * c1 - prev.df * c0) / ddf
                dt = dt / cd
                row["scaling_diff"] = cd
            elif f.estimator == "DWLS" and ddf > 0:
                a, b = _satorra2000(prev, f, ddf)
                dt = (f.chisq - prev.chisq) * a + b
                row["a"], row["b"] = a, b
            if ddf > 0:
                row.update(chisq_diff=dt, df_diff=ddf, pvalue=float(special.chdtrc(ddf, dt)))
                if f.estimator == "ML":
                    row["rmsea_diff"] = float(np.sqrt(max(dt - ddf, 0) / (f.n * ddf)) * np.sqrt(f.spec.n_groups))
        rows.append(row)
        prev = f
    return pd.DataFrame(rows).set_index("model")


def _orthogonal_complement(h: np.ndarray) -> np.ndarray:
    """Columns spanning the orthogonal complement of the column space of h."""
    q, r = np.linalg.qr(h, mode="complete")
    d = np.abs(np.diag(r)) if r.size else np.zeros(0)
    rank = int(np.sum(d > max(h.shape) * np.finfo(float).eps * (d.max() if d.size else 1)))
    return q[:, rank:]


def _satorra2000(m1: CFAResult, m0: CFAResult, m: int) -> tuple[float, float]:
    """a and b of the scaled-shifted difference test of m0 (restricted) against m1."""
    e1, e0 = m1._engine, m0._engine
    d1_list = [e1.wls_delta(m1.theta, g) for g in range(len(e1.data))]
    d1 = np.vstack(d1_list)
    d0 = np.vstack([e0.wls_delta(m0.theta, g) for g in range(len(e0.data))])
    # orthonormal null-space bases (lavaan's eq.constraints.K): the orthogonal complement below
    # depends on the metric of the reduced parameters
    k1 = null_space(m1.constraints.R, d1.shape[1])
    k0 = null_space(m0.constraints.R, d0.shape[1])
    h = np.linalg.pinv(d1 @ k1) @ (d0 @ k0)
    a_mat = _orthogonal_complement(h).T @ k1.T
    info = e1.expected_information(m1.theta)
    pinv = constrained_inverse(info, m1.constraints, m1.theta, m1.active) if m1.constraints.any else np.linalg.inv(info)
    apa = a_mat @ pinv @ a_mat.T
    keep = ~((np.abs(apa.sum(axis=0)) < np.sqrt(np.finfo(float).eps)) &
             (np.abs(apa.sum(axis=1)) < np.sqrt(np.finfo(float).eps)))
    a_mat = a_mat[keep]
    paap = pinv @ a_mat.T @ np.linalg.pinv(a_mat @ pinv @ a_mat.T) @ a_mat @ pinv
    # tr(UΓ) and tr((UΓ)²) with U = VΔPΔ'V of rank ≤ k, without forming U
    fg = e1.w
    tr1 = 0.0
    mm = np.zeros_like(paap)
    for f, dl, d in zip(fg, d1_list, e1.data):
        b = d.ordinal.wls_vd[:, None] * dl
        bgb = b.T @ d.ordinal.nacov @ b
        tr1 += f * float(np.sum(paap * bgb.T))
        mm += f * bgb
    pm = paap @ mm
    tr2 = float(np.sum(pm * pm.T))
    a = np.sqrt(m / tr2)
    return float(a), float(m - a * tr1)


# ---------------------------------------------------------------------------------------
# measEq.syntax for ordinal items (Wu & Estabrook 2016)
# ---------------------------------------------------------------------------------------

def measeq_syntax(model: str, n_groups: int, nthresholds: dict, *, group_equal=(), group_partial=(),
                  parameterization: str = "delta") -> str:
    """lavaan syntax for a multigroup model of ordinal items, identified as
    ``semTools::measEq.syntax(ID.fac="std.lv", ID.cat="Wu.Estabrook.2016")`` does.

    ``model`` is the configural measurement model (``=~`` and optional residual ``~~``);
    ``nthresholds`` the number of thresholds per item. In group 1 latent means are 0,
    variances 1, item intercepts 0 and scaling factors (delta) or residual variances (theta)
    1. In later groups, for each item with k equal thresholds: the intercept is free if
    k ≥ 1 and intercepts are not equal; the scaling factor (residual variance) is free if
    k ≥ 2, or k ≥ 1 with equal intercepts, unless residuals are equal; a latent variance is
    free if any of its loadings is equal; a latent mean is free if an item measuring only
    that factor has an equal intercept. Equal parameters share a label.

    Examples
    --------
    >>> print(measeq_syntax("f =~ y1 + y2 + y3", 2, {"y1": 4, "y2": 4, "y3": 4},
    ...                     group_equal=("thresholds",)))  # doctest: +SKIP
    """
    if parameterization not in ("delta", "theta"):
        raise PeerscaleError(f"unknown parameterization {parameterization!r}", hint="use delta or theta")
    terms = parse_model(model)
    bad = [t for t in terms if t.op not in ("=~", "~~")]
    if bad:
        raise PeerscaleError(f"the invariance sequence needs a measurement model ('=~' and '~~'); "
                             f"'{bad[0].lhs} {bad[0].op} {bad[0].rhs}' is not allowed here",
                             hint="fit structural parts after establishing invariance")
    ge = set(group_equal)
    partial = {str(p).replace(" ", "") for p in group_partial}
    lvs = list(dict.fromkeys(t.lhs for t in terms if t.op == "=~"))
    loads = [(t.lhs, t.rhs) for t in terms if t.op == "=~"]
    items = list(dict.fromkeys(r for _, r in loads))
    factors_of = {i: [f for f, r in loads if r == i] for i in items}
    rescov = [(t.lhs, t.rhs) for t in terms if t.op == "~~" and t.lhs != t.rhs]
    G = n_groups

    def labels(base, equal):
        return [base if equal else f"{base}.g{g + 1}" for g in range(G)]

    lines = ["## LOADINGS:"]
    load_eq = {}
    for f, i in loads:
        eq = "loadings" in ge and f"{f}=~{i}" not in partial
        load_eq[(f, i)] = eq
        labs = labels(f"lambda.{items.index(i) + 1}_{lvs.index(f) + 1}", eq)
        lines.append(f"{f} =~ c({', '.join(['NA'] * G)})*{i} + c({', '.join(labs)})*{i}")
    lines.append("## THRESHOLDS:")
    n_eq_thr = {}
    for i in items:
        if i not in nthresholds:
            raise PeerscaleError(f"{i!r} is not an ordinal item with known thresholds", column=i)
        n_eq_thr[i] = 0
        for k in range(1, nthresholds[i] + 1):
            eq = "thresholds" in ge and f"{i}|t{k}" not in partial
            n_eq_thr[i] += int(eq)
            labs = labels(f"{i}.thr{k}", eq)
            lines.append(f"{i} | c({', '.join(['NA'] * G)})*t{k} + c({', '.join(labs)})*t{k}")
    lines.append("## INTERCEPTS:")
    int_eq = {i: "intercepts" in ge and f"{i}~1" not in partial for i in items}
    res_eq = {i: "residuals" in ge and f"{i}~~{i}" not in partial for i in items}
    for i in items:
        vals = ["0"] + ["NA" if n_eq_thr[i] >= 1 and not int_eq[i] else "0" for _ in range(G - 1)]
        labs = labels(f"nu.{items.index(i) + 1}", int_eq[i])
        lines.append(f"{i} ~ c({', '.join(vals)})*1 + c({', '.join(labs)})*1")
    lines.append("## SCALING FACTORS:" if parameterization == "delta" else "## UNIQUE-FACTOR VARIANCES:")
    for i in items:
        free = (n_eq_thr[i] >= 2 or (n_eq_thr[i] >= 1 and int_eq[i])) and not res_eq[i]
        vals = ["1"] + ["NA" if free else "1" for _ in range(G - 1)]
        if parameterization == "delta":
            lines.append(f"{i} ~*~ c({', '.join(vals)})*{i}")
        else:
            labs = labels(f"theta.{items.index(i) + 1}_{items.index(i) + 1}", res_eq[i])
            lines.append(f"{i} ~~ c({', '.join(vals)})*{i} + c({', '.join(labs)})*{i}")
    if rescov:
        lines.append("## UNIQUE-FACTOR COVARIANCES:")
        for a, b in rescov:
            eq = "residual.covariances" in ge and f"{a}~~{b}" not in partial and f"{b}~~{a}" not in partial
            labs = labels(f"theta.{a}_{b}", eq)
            lines.append(f"{a} ~~ c({', '.join(['NA'] * G)})*{b} + c({', '.join(labs)})*{b}")
    lines.append("## LATENT MEANS:")
    for f in lvs:
        eq = "means" in ge and f"{f}~1" not in partial
        free = any(int_eq[i] and factors_of[i] == [f] for i in items)
        vals = ["0"] + ["NA" if free and not eq else "0" for _ in range(G - 1)]
        labs = labels(f"alpha.{lvs.index(f) + 1}", eq)
        lines.append(f"{f} ~ c({', '.join(vals)})*1 + c({', '.join(labs)})*1")
    lines.append("## COMMON-FACTOR VARIANCES:")
    for f in lvs:
        eq = "lv.variances" in ge and f"{f}~~{f}" not in partial
        free = any(load_eq[(ff, i)] for ff, i in loads if ff == f)
        vals = ["1"] + ["NA" if free and not eq else "1" for _ in range(G - 1)]
        labs = labels(f"psi.{lvs.index(f) + 1}_{lvs.index(f) + 1}", eq)
        lines.append(f"{f} ~~ c({', '.join(vals)})*{f} + c({', '.join(labs)})*{f}")
    if len(lvs) > 1:
        lines.append("## COMMON-FACTOR COVARIANCES:")
        for a_ in range(len(lvs)):
            for b_ in range(a_ + 1, len(lvs)):
                fa, fb = lvs[a_], lvs[b_]
                eq = "lv.covariances" in ge and f"{fa}~~{fb}" not in partial
                labs = labels(f"psi.{b_ + 1}_{a_ + 1}", eq)
                lines.append(f"{fa} ~~ c({', '.join(['NA'] * G)})*{fb} + c({', '.join(labs)})*{fb}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------
# the invariance sequence
# ---------------------------------------------------------------------------------------

def _is_ordinal(model, estimator: str, ordered) -> bool:
    return str(estimator).upper() in ("DWLS", "WLSMV") or bool(ordered)


def _fit_level(model, data, group, level, *, ordinal, estimator, std_lv, orthogonal, missing, partial,
               parameterization, ordered, starts, seed, nthr=None) -> CFAResult:
    if ordinal:
        syntax = measeq_syntax(model if isinstance(model, str) else _terms_text(model), nthr["groups"],
                               nthr["thresholds"], group_equal=ORDINAL_LEVELS[level], group_partial=partial,
                               parameterization=parameterization)
        fit = fit_cfa(syntax, data, group=group, estimator="DWLS", parameterization=parameterization,
                      ordered=ordered if ordered not in (None, False) else True, starts=starts, seed=seed)
        fit.syntax = syntax
        return fit
    return fit_cfa(model, data, group=group, estimator=estimator, std_lv=std_lv, missing=missing,
                   orthogonal=orthogonal, group_equal=LEVELS[level], group_partial=partial, starts=starts, seed=seed)


def _terms_text(terms) -> str:
    return "\n".join(f"{t.lhs} {t.op} {t.rhs}" for t in terms)


def _thresholds_info(model, data, group, ordered) -> dict:
    """Number of groups and thresholds per item for the ordinal sequence (from a configural fit's data)."""
    terms = parse_model(model) if isinstance(model, str) else model
    vs = variable_sets(terms, ordered=True if ordered in (None, False, True) else ordered)
    cols = [v for v in vs.observed]
    missing_cols = [v for v in cols if v not in data.columns]
    if missing_cols:
        raise PeerscaleError(f"the model names {missing_cols[0]!r}, which is not a data column", column=missing_cols[0])
    if group not in data.columns:
        raise PeerscaleError("grouping column not found", column=group)
    df = data[cols + [group]].dropna()
    groups = pd.unique(df[group])
    return {"groups": len(groups), "thresholds": {v: int(df[v].nunique()) - 1 for v in cols}}


def _row(level, fm, robust, prev=None, cmp=None) -> dict:
    sfx = "_scaled" if robust else ""
    row = {"level": level, "npar": fm["npar"], "chisq": fm["chisq" + sfx], "df": fm["df"],
           "pvalue": fm["pvalue" + sfx], "cfi": fm["cfi" + sfx], "tli": fm["tli" + sfx],
           "rmsea": fm["rmsea" + sfx], "rmsea_ci_lower": fm["rmsea_ci" + sfx][0],
           "rmsea_ci_upper": fm["rmsea_ci" + sfx][1], "srmr": fm["srmr"],
           "aic": fm["aic"], "bic": fm["bic"]}
    if prev is not None and cmp is not None:
        row.update(chisq_diff=cmp["chisq_diff"], df_diff=cmp["df_diff"], pvalue_diff=cmp["pvalue"],
                   delta_cfi=row["cfi"] - prev["cfi"], delta_rmsea=row["rmsea"] - prev["rmsea"])
    return row


@single_threaded
def measurement_invariance(model, data: pd.DataFrame, group: str, *, estimator: str = "ML",
                           levels=None, std_lv: bool = False, orthogonal: bool = False,
                           missing: str = "listwise", group_partial=(), parameterization: str = "delta",
                           ordered=None, starts: int = 0, seed: int | None = None,
                           ) -> tuple[pd.DataFrame, dict[str, CFAResult]]:
    """Fit the invariance sequence and return ``(table, fits)`` (see module docstring).

    The table has one row per level with npar, chisq, df, pvalue, cfi, tli, rmsea (+ CI),
    srmr, aic, bic and, from the second level on, ``chisq_diff``, ``df_diff``,
    ``pvalue_diff``, ``delta_cfi`` and ``delta_rmsea`` against the previous level. With MLR
    and DWLS, chisq/cfi/tli/rmsea are the scaled versions and the differences are the
    scaled difference tests of :func:`compare_models`.

    Examples
    --------
    >>> table, fits = measurement_invariance(model, data, "school")  # doctest: +SKIP
    >>> # lavaan: cfa(model, data, group = "school", group.equal = c("loadings", "intercepts")), ...
    >>> table, fits = measurement_invariance(model, items, "gender", estimator="DWLS")  # doctest: +SKIP
    >>> # semTools: measEq.syntax(model, ordered = TRUE, group = "gender", ID.cat = "Wu.Estabrook.2016", ...)
    """
    ordinal = _is_ordinal(model, estimator, ordered)
    allowed = ORDINAL_LEVELS if ordinal else LEVELS
    levels = tuple(levels) if levels is not None else (("configural", "thresholds", "metric", "scalar") if ordinal
                                                       else ("configural", "metric", "scalar"))
    unknown = [lv for lv in levels if lv not in allowed]
    if unknown:
        raise PeerscaleError(f"unknown invariance level {unknown[0]!r}", value=unknown[0],
                             hint=f"use {', '.join(allowed)}")
    nthr = _thresholds_info(model, data, group, ordered) if ordinal else None
    opts = dict(ordinal=ordinal, estimator=estimator, std_lv=std_lv, orthogonal=orthogonal, missing=missing,
                partial=tuple(group_partial), parameterization=parameterization, ordered=ordered, starts=starts,
                seed=seed, nthr=nthr)
    fits = {lv: _fit_level(model, data, group, lv, **opts) for lv in levels}
    robust = fits[levels[0]].estimator in ("MLR", "DWLS")
    rows = []
    for k, lv in enumerate(levels):
        fm = fit_measures(fits[lv])
        cmp = None
        if k > 0:
            cmp = compare_models(fits[levels[k - 1]], fits[lv], names=[levels[k - 1], lv]).loc[lv]
        rows.append(_row(lv, fm, robust, rows[-1] if rows else None, cmp))
    return pd.DataFrame(rows).set_index("level"), fits


# ---------------------------------------------------------------------------------------
# the partial invariance search
# ---------------------------------------------------------------------------------------

@dataclass
class PartialInvarianceResult:
    """The search: ``table`` (one row per fitted model: level, parameter freed, its score
    test, fit, differences against the previous accepted level and whether the criterion
    is met), ``partial`` (the freed parameters, lavaan's ``group.partial``), ``fits`` (the
    accepted model per level)."""

    table: pd.DataFrame
    partial: list[str]
    fits: dict = field(default_factory=dict)
    criterion: str = "fit"

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def __repr__(self) -> str:
        freed = ", ".join(self.partial) if self.partial else "none"
        return f"PartialInvarianceResult(levels: {', '.join(self.fits)}; freed: {freed})"


def _step_constraint_groups(fit: CFAResult, level: str, ordinal: bool) -> dict[str, list[int]]:
    """The ``==`` constraint rows added by ``level``, grouped by the parameter they tie (in
    group_partial form, e.g. ``x3~1``)."""
    if level == "configural":
        return {}
    op = _STEP_OPS.get(level)
    out: dict[str, list[int]] = {}
    observed = set(fit.spec.observed)
    for k, c in enumerate(constraint_labels(fit)):
        name = c["parameter"]
        if c["groups"] is None:
            continue
        if op == "=~" and "=~" in name:
            pass
        elif op == "|" and "|" in name:
            pass
        elif op == "~1" and name.endswith("~1") and name[:-2] in observed:
            pass
        elif op == "~~" and "~~" in name:
            a, b = name.split("~~")
            if a != b or a not in observed:
                continue
        else:
            continue
        out.setdefault(name, []).append(k)
    return out


@single_threaded
def partial_invariance(model, data: pd.DataFrame, group: str, *, level: str = "scalar", estimator: str = "ML",
                       criterion: str = "fit", delta_cfi: float = 0.01, delta_rmsea: float = 0.015,
                       alpha: float = 0.05, std_lv: bool = False, missing: str = "listwise",
                       parameterization: str = "delta", ordered=None, max_free: int | None = None,
                       starts: int = 0, seed: int | None = None) -> PartialInvarianceResult:
    """Search for partial invariance up to ``level`` (see module docstring).

    Parameters
    ----------
    criterion : ``"fit"`` (ΔCFI ≤ ``delta_cfi`` and ΔRMSEA ≤ ``delta_rmsea`` against the last
        accepted level) or ``"chisq"`` (p of the scaled χ² difference > ``alpha``).
    max_free : stop after freeing this many parameters in one step (default: all).

    Notes
    -----
    The score test of a parameter releases all its equality constraints together (G − 1 of
    them with G groups; with two groups it is lavaan's univariate ``lavTestScore``). The
    parameter with the largest statistic is freed; ties keep the parameter table's order.

    Examples
    --------
    >>> res = partial_invariance(model, data, "school", level="scalar")  # doctest: +SKIP
    >>> res.partial  # e.g. ['x3~1', 'x7~1'] -> cfa(..., group.partial = c("x3~1", "x7~1"))  # doctest: +SKIP
    """
    if criterion not in ("fit", "chisq"):
        raise PeerscaleError(f"unknown criterion {criterion!r}", value=criterion, hint="use fit or chisq")
    ordinal = _is_ordinal(model, estimator, ordered)
    allowed = ORDINAL_LEVELS if ordinal else LEVELS
    if level not in allowed:
        raise PeerscaleError(f"unknown invariance level {level!r}", value=level, hint=f"use {', '.join(allowed)}")
    order = list(allowed)
    levels = order[:order.index(level) + 1]
    nthr = _thresholds_info(model, data, group, ordered) if ordinal else None
    partial: list[str] = []
    opts = dict(ordinal=ordinal, estimator=estimator, std_lv=std_lv, orthogonal=False, missing=missing,
                parameterization=parameterization, ordered=ordered, starts=starts, seed=seed, nthr=nthr)
    rows, accepted = [], {}
    prev_fit, prev_row = None, None
    for lv in levels:
        freed_here = 0
        freed_name, score = "", None
        while True:
            fit = _fit_level(model, data, group, lv, partial=tuple(partial), **opts)
            fm = fit_measures(fit)
            robust = fit.estimator in ("MLR", "DWLS")
            cmp = None
            if prev_fit is not None:
                cmp = compare_models(prev_fit, fit, names=["previous", lv]).loc[lv]
            row = _row(lv, fm, robust, prev_row, cmp)
            if prev_fit is None:
                ok = True
            elif criterion == "fit":
                ok = (-row["delta_cfi"] <= delta_cfi + 1e-12) and (row["delta_rmsea"] <= delta_rmsea + 1e-12)
            else:
                ok = not (row["pvalue_diff"] <= alpha)
            row.update(freed=freed_name, score_X2=None if score is None else score["X2"],
                       score_df=None if score is None else score["df"],
                       score_pvalue=None if score is None else score["pvalue"], criterion_met=bool(ok))
            rows.append(row)
            if ok:
                break
            cands = _step_constraint_groups(fit, lv, ordinal)
            cands = {k: v for k, v in cands.items() if k not in partial}
            if not cands or (max_free is not None and freed_here >= max_free):
                break
            tests = {name: score_tests(fit, release=idx)[0] for name, idx in cands.items()}
            freed_name = max(tests, key=lambda k: tests[k]["X2"])
            score = tests[freed_name]
            partial.append(freed_name)
            freed_here += 1
        accepted[lv] = fit
        prev_fit, prev_row = fit, row
    table = pd.DataFrame(rows)
    return PartialInvarianceResult(table, partial, accepted, criterion)
