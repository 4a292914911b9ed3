"""Confirmatory factor analysis (and small SEMs) by maximum likelihood, the lavaan way.

The model is a RAM (reticular action model; McArdle & McDonald 1984) over the observed
variables (first p) and the latent ones: ``A`` holds loadings and regressions (``A[i, j]``
= effect of j on i), ``S`` variances and covariances, ``m`` intercepts/means. With
``B = (I − A)^{-1}``, the implied moments are ``Σ = [B S B']_{obs}`` and ``μ = [B m]_{obs}``.

Defaults follow ``lavaan::cfa`` (lavaan 0.6-14): the first loading of each factor fixed to 1
(or all latent variances fixed to 1 with ``std_lv=True``), residual variances of observed
and variances of latent variables free, exogenous factors correlated (``orthogonal=False``),
residual covariances among dependent variables of ``~`` regressions free, a mean structure
(free intercepts, latent means 0) only with several groups, and ``group_equal`` constraining
``"loadings"`` (with ``std_lv``, factor variances are then free beyond the first group),
``"intercepts"`` (then latent means are free in every group but the first) and
``"residuals"``.

Estimation minimises lavaan's ML discrepancy (twice lavaan's ``fmin``), with ``S_g`` the
sample covariance with divisor ``n_g`` (lavaan's ``likelihood="normal"``)::

    F(θ) = Σ_g (n_g/N) [ log|Σ_g| + tr(S_g Σ_g^{-1}) − log|S_g| − p + (x̄_g − μ_g)' Σ_g^{-1} (x̄_g − μ_g) ]

by Fisher scoring with step halving from covariance-based start values; ``χ² = N·F``.
Variances are not bounded (a Heywood case shows as a negative variance, as in lavaan).
Standard errors use the expected information ``I = Σ_g (n_g/N) Δ_g' W_g Δ_g``
(``W = diag(Σ^{-1}, ½ D'(Σ^{-1}⊗Σ^{-1})D)``, Δ the Jacobian of ``(μ, vech Σ)``),
``vcov = I^{-1}/N``.

- ``missing="fiml"``: the discrepancy is ``2(ℓ_h1 − ℓ)/N`` with ℓ the casewise normal
  log-likelihood over each case's answered items and ℓ_h1 that of the saturated model
  fitted by EM; the model gets a mean structure and SEs use the observed information
  (lavaan's ``missing="ml"`` defaults). Patterns, EM and the casewise likelihood are in
  :mod:`peerscale.psychometrics.fiml`.
- ``estimator="MLR"``: Huber–White SEs with the observed information and the Yuan–Bentler
  (2000) scaled test in lavaan's ``"yuan.bentler.mplus"`` form (complete data here; FIML
  in :mod:`peerscale.psychometrics.fiml`).
- ``estimator="DWLS"``: items treated as ordinal, see
  :func:`peerscale.psychometrics.cfa_ordinal.fit_dwls` (lavaan's WLSMV).

Fit indices are in :mod:`peerscale.psychometrics.fit`, model comparison and invariance in
:mod:`peerscale.psychometrics.invariance`.

Reference: Rosseel, Y. (2012). lavaan: An R package for structural equation modeling.
Journal of Statistical Software, 48(2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import PeerscaleError
from .blas import single_threaded
from .fiml import PatternBatch, _batch_loglik, _pattern_stats, _robust_fiml, em_saturated, sandwich
from .lavaan_syntax import Term, parse_model

ESTIMATORS = ("ML", "MLR", "DWLS")
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


# ---------------------------------------------------------------------------------------
# sample statistics
# ---------------------------------------------------------------------------------------

@dataclass
class GroupData:
    """One group's data. Complete data: sample mean and covariance (divisor n). FIML: the
    EM estimates of the saturated (h1) model, and the rows split by missingness pattern as
    ``(observed index array, n_p, pattern mean, pattern covariance)``."""

    name: object
    n: int
    mean: np.ndarray
    cov: np.ndarray  # divisor n
    raw: np.ndarray  # the rows used, for robust corrections
    patterns: list | None = None
    h1_loglik: float = 0.0
    baseline_loglik: float = 0.0
    batch: PatternBatch | None = None
    h1_trace: float | None = None


def sample_statistics(data: pd.DataFrame, observed: list[str], group: str | None = None,
                      missing: str = "listwise") -> list[GroupData]:
    missing_cols = [v for v in observed if v not in data.columns]
    if missing_cols:
        raise PeerscaleError(f"the model names {missing_cols[0]!r}, which is not a data column",
                             column=missing_cols[0],
                             hint="check the spelling, or map the column with --map")
    if missing not in ("listwise", "fiml"):
        raise PeerscaleError(f"missing={missing!r} is not supported", value=missing,
                             hint="use listwise or fiml")
    cols = observed + ([group] if group else [])
    if group and group not in data.columns:
        raise PeerscaleError("grouping column not found", column=group)
    if missing == "fiml":
        df = data[cols].dropna(how="all", subset=observed)
        if group:
            df = df.dropna(subset=[group])
    else:
        df = data[cols].dropna()
    groups = [(None, df)] if not group else list(df.groupby(group, sort=True))
    out = []
    for name, sub in groups:
        x = sub[observed].to_numpy(dtype=float, copy=True)
        n = x.shape[0]
        if missing == "fiml":
            out.append(_fiml_group(name, x, observed))
            continue
        if n <= len(observed):
            raise PeerscaleError(f"only {n} complete rows{'' if name is None else f' in group {name!r}'}"
                                 f" for {len(observed)} observed variables",
                                 hint="a CFA needs many more respondents than items")
        mean = x.mean(axis=0)
        xc = x - mean
        cov = xc.T @ xc / n
        sd = np.sqrt(np.diag(cov))
        if (sd == 0).any():
            raise PeerscaleError("item has no variance", column=observed[int(np.argmin(sd))])
        p = len(observed)
        h1 = -n / 2 * (p * np.log(2 * np.pi) + np.linalg.slogdet(cov)[1] + p)
        base = -n / 2 * (p * np.log(2 * np.pi) + np.sum(np.log(np.diag(cov))) + p)
        out.append(GroupData(name, n, mean, cov, x, None, float(h1), float(base)))
    if group and len(out) < 2:
        raise PeerscaleError("the grouping column has fewer than two groups", column=group)
    return out


def _fiml_group(name, x: np.ndarray, observed: list[str]) -> GroupData:
    n, p = x.shape
    counts = np.isfinite(x).sum(axis=0)
    if counts.min() < 2:
        raise PeerscaleError("item has fewer than two answers", column=observed[int(np.argmin(counts))])
    patterns = _pattern_stats(x)
    mu, sigma, ll = em_saturated(x, patterns)
    sd = np.sqrt(np.diag(sigma))
    if (sd < 1e-12).any():
        raise PeerscaleError("item has no variance", column=observed[int(np.argmin(sd))])
    # independence baseline: each item's own normal likelihood over its answers
    base = 0.0
    for j in range(p):
        v = x[np.isfinite(x[:, j]), j]
        base += -len(v) / 2 * (np.log(2 * np.pi) + np.log(v.var()) + 1)
    return GroupData(name, n, mu, sigma, x, patterns, ll, float(base), PatternBatch.from_data(x))


# ---------------------------------------------------------------------------------------
# implied moments and derivatives
# ---------------------------------------------------------------------------------------

def vech_indices(p: int):
    return np.tril_indices(p)


class _Engine:
    """Evaluates implied moments, the discrepancy, its gradient and information for θ."""

    def __init__(self, spec: ModelSpec, data: list[GroupData]):
        self.spec = spec
        self.data = data
        self.p = len(spec.observed)
        self.q = len(spec.variables)
        self.ntot = sum(d.n for d in data)
        self.w = np.array([d.n / self.ntot for d in data])
        self.vi, self.vj = vech_indices(self.p)
        self.by_group = [[pr for pr in spec.params if pr.group == g] for g in range(spec.n_groups)]
        diag = (self.vi == self.vj)
        self.f = np.where(diag, 1.0, 2.0)
        self.delta_parameterization = False

    def matrices(self, theta, g):
        q = self.q
        a = np.zeros((q, q))
        s = np.zeros((q, q))
        m = np.zeros(q)
        for pr in self.by_group[g]:
            v = theta[pr.free] if pr.free >= 0 else pr.value
            if pr.mat == "A":
                a[pr.i, pr.j] = v
            elif pr.mat == "S":
                s[pr.i, pr.j] = v
                s[pr.j, pr.i] = v
            else:
                m[pr.i] = v
        if self.delta_parameterization:
            # ordinal items: residual variances are 1 − communality, so diag Σ* = 1
            p = self.p
            s[np.arange(p), np.arange(p)] = 0.0
            b = np.linalg.inv(np.eye(q) - a)
            common = np.einsum("ij,jk,ik->i", b[:p], s, b[:p])
            s[np.arange(p), np.arange(p)] = 1.0 - common
        return a, s, m

    def implied(self, theta, g):
        a, s, m = self.matrices(theta, g)
        b = np.linalg.inv(np.eye(self.q) - a)
        c = b @ s @ b.T
        p = self.p
        mu = (b @ m)[:p] if self.spec.meanstructure else self.data[g].mean
        return c[:p, :p], mu, b, c, m

    def delta(self, theta, g, extra: list[Param] | None = None):
        """Jacobian of (μ, vech Σ) (μ only with a mean structure) w.r.t. θ, and w.r.t.
        the ``extra`` fixed parameters (for modification indices) as extra columns."""
        sigma, mu, b, c, m = self.implied(theta, g)
        p = self.p
        bm = b @ m
        npx = self.spec.n_free + (len(extra) if extra else 0)
        nm = p if self.spec.meanstructure else 0
        d = np.zeros((nm + len(self.vi), npx))
        bo = b[:p]
        co = c[:, :p]
        rows = [(pr, pr.free) for pr in self.by_group[g] if pr.free >= 0]
        if extra:
            rows += [(pr, self.spec.n_free + k) for k, pr in enumerate(extra)]
        for pr, k in rows:
            if pr.mat == "A":
                dc = np.outer(bo[:, pr.i], co[pr.j, :])
                dc = dc + dc.T
                if nm:
                    d[:nm, k] += bo[:, pr.i] * bm[pr.j]
            elif pr.mat == "S":
                dc = np.outer(bo[:, pr.i], bo[:, pr.j])
                if pr.i != pr.j:
                    dc = dc + dc.T
            else:
                if nm:
                    d[:nm, k] += bo[:, pr.i]
                continue
            d[nm:, k] += dc[self.vi, self.vj]
        return d

    def weight(self, sigma_inv):
        """½-scaled expected information of one observation for (μ, vech Σ): W."""
        si = sigma_inv
        vi, vj = self.vi, self.vj
        ww = (si[np.ix_(vi, vi)] * si[np.ix_(vj, vj)] + si[np.ix_(vi, vj)] * si[np.ix_(vj, vi)])
        ww *= 0.25 * np.outer(self.f, self.f)
        if self.spec.meanstructure:
            p = self.p
            out = np.zeros((p + len(vi), p + len(vi)))
            out[:p, :p] = si
            out[p:, p:] = ww
            return out
        return ww

    def discrepancy(self, theta) -> tuple[float, list[float]]:
        total, parts = 0.0, []
        for g, d in enumerate(self.data):
            sigma, mu, *_ = self.implied(theta, g)
            sign, logdet = np.linalg.slogdet(sigma)
            if sign <= 0:
                return np.inf, []
            if d.patterns is not None:
                fg = 2.0 * (d.h1_loglik - _batch_loglik(d.batch, mu, sigma)) / d.n
                if not np.isfinite(fg):
                    return np.inf, []
                parts.append(float(fg))
                total += self.w[g] * fg
                continue
            si = np.linalg.inv(sigma)
            diff = d.mean - mu
            _, logdet_s = np.linalg.slogdet(d.cov)
            fg = logdet + np.sum(si * d.cov) - logdet_s - self.p + diff @ si @ diff
            parts.append(float(fg))
            total += self.w[g] * fg
        return float(total), parts

    def gradient_info(self, theta, extra=None, info: bool = True):
        """Gradient of F and the unit expected information Σ_g w_g Δ'WΔ (including any
        ``extra`` parameters as trailing entries); ``info=False`` skips the information."""
        k = self.spec.n_free + (len(extra) if extra else 0)
        grad = np.zeros(k)
        out_info = np.zeros((k, k)) if info else None
        for g, d in enumerate(self.data):
            sigma, mu, *_ = self.implied(theta, g)
            si = np.linalg.inv(sigma)
            gv = self.moment_gradient(d, sigma, mu, si)
            dl = self.delta(theta, g, extra)
            grad += self.w[g] * (dl.T @ gv)
            if info:
                out_info += self.w[g] * self._info(dl, si)
        return grad, out_info

    def moment_gradient(self, d: GroupData, sigma, mu, si):
        """∂F_g/∂(μ, vech Σ). Complete data: ``G = Σ⁻¹ − Σ⁻¹(S + dd')Σ⁻¹``, ``−2Σ⁻¹d``; FIML:
        the same per missingness pattern on its observed block, weighted by n_p/n."""
        if d.patterns is None:
            diff = d.mean - mu
            gm = si - si @ (d.cov + np.outer(diff, diff)) @ si
            gmu = -2.0 * si @ diff
        else:
            # Σ_p (n_p/n) Σ_oo⁻¹ − (1/n) Σ_i u_i u_i', with u_i = Σ_oo⁻¹ (x_i − μ)_o
            b = d.batch
            inv, _ = b.inverses(sigma, logdet=False)
            if inv is None:
                raise np.linalg.LinAlgError("implied covariance not positive definite for a pattern")
            u = b.residual_scores(mu, inv)
            gm = np.einsum("a,aij->ij", b.n / d.n, inv) - u.T @ u / d.n
            gmu = -2.0 * u.sum(axis=0) / d.n
        gv = self.f * gm[self.vi, self.vj]
        if self.spec.meanstructure:
            gv = np.concatenate([gmu, gv])
        return gv

    def _info(self, dl, si):
        """Δ'WΔ without forming W: ½ tr(Σ⁻¹ ∂Σ_k Σ⁻¹ ∂Σ_l) for the covariance part (plus
        ∂μ_k' Σ⁻¹ ∂μ_l with a mean structure)."""
        p = self.p
        nm = p if self.spec.meanstructure else 0
        k = dl.shape[1]
        full = np.zeros((k, p, p))
        full[:, self.vi, self.vj] = dl[nm:].T
        full[:, self.vj, self.vi] = dl[nm:].T
        a = si @ full
        out = 0.5 * a.reshape(k, -1) @ a.transpose(0, 2, 1).reshape(k, -1).T
        if nm:
            dm = dl[:nm]
            out += dm.T @ si @ dm
        return out

    def observed_information(self, theta) -> np.ndarray:
        """Observed information per observation, ½·∂²F/∂θ², by central differences of the
        analytic gradient (lavaan's ``observed.information="hessian"``)."""
        k = self.spec.n_free
        h = np.zeros((k, k))
        eps = 1e-5
        for a in range(k):
            e = np.zeros(k)
            e[a] = eps
            gp, _ = self.gradient_info(theta + e, info=False)
            gm, _ = self.gradient_info(theta - e, info=False)
            h[:, a] = (gp - gm) / (2 * eps)
        return 0.25 * (h + h.T)


# ---------------------------------------------------------------------------------------
# fitting
# ---------------------------------------------------------------------------------------

def _start_values(spec: ModelSpec, data: list[GroupData]) -> np.ndarray:
    theta = np.full(spec.n_free, np.nan)
    p = len(spec.observed)
    for pr in spec.params:
        if pr.free < 0 or not np.isnan(theta[pr.free]):
            continue
        if not np.isnan(pr.value):
            theta[pr.free] = pr.value
            continue
        d = data[pr.group]
        if pr.mat == "S" and pr.i == pr.j:
            theta[pr.free] = 0.5 * d.cov[pr.i, pr.i] if pr.i < p else 0.05
        elif pr.mat == "A" and pr.op == "=~":
            theta[pr.free] = 1.0 if pr.j >= p else 0.0
        elif pr.mat == "m":
            theta[pr.free] = d.mean[pr.i] if pr.i < p else 0.0
        else:
            theta[pr.free] = 0.0
    return theta


def _fabin_like_start(spec: ModelSpec, data: list[GroupData], theta: np.ndarray) -> np.ndarray:
    """Improve loading/factor-variance starts from the covariances of each factor's
    indicators (a simple version of lavaan's fabin3): with marker m, λ_i ≈ mean_o s_io / s_mo."""
    p = len(spec.observed)
    d = data[0]
    for lv_idx in range(p, p + len(spec.latent)):
        loads = [pr for pr in spec.params if pr.group == 0 and pr.mat == "A" and pr.op == "=~"
                 and pr.j == lv_idx]
        inds = [pr.i for pr in loads if pr.i < p]
        if len(inds) < 3:
            continue
        marker = next((pr for pr in loads if pr.free < 0 and pr.value != 0), None)
        s = d.cov
        if marker is not None:
            m = marker.i
            others = [i for i in inds if i != m]
            # var(ξ) = λ_m² var(ξ) with λ_m = 1: s_mo s_mr / s_or for each pair of other indicators
            var_lv = float(np.median([s[m, o] * s[m, r] / s[o, r] for a, o in enumerate(others)
                                      for r in others[a + 1:] if s[o, r] != 0] or [0.05]))
            for pr in loads:
                if pr.free >= 0 and pr.i < p:
                    rest = [o for o in inds if o not in (pr.i, m)]
                    num = np.mean([s[pr.i, o] for o in rest]) if rest else s[pr.i, m]
                    den = np.mean([s[m, o] for o in rest]) if rest else var_lv
                    if den != 0 and np.isfinite(num / den):
                        theta[pr.free] = num / den
            var_pr = next((pr for pr in spec.params if pr.group == 0 and pr.mat == "S"
                           and pr.i == lv_idx and pr.j == lv_idx), None)
            if var_pr is not None and var_pr.free >= 0 and var_lv > 0:
                theta[var_pr.free] = var_lv
        else:
            for pr in loads:
                if pr.free >= 0 and pr.i < p:
                    rest = [o for o in inds if o != pr.i]
                    prods = [s[pr.i, o] * s[pr.i, r] / s[o, r] for a, o in enumerate(rest)
                             for r in rest[a + 1:] if s[o, r] != 0]
                    val = np.median(prods) if prods else 0.5 * s[pr.i, pr.i]
                    theta[pr.free] = np.sqrt(val) if val > 0 else 0.5 * np.sqrt(s[pr.i, pr.i])
    return theta


def _optimise(engine: _Engine, theta: np.ndarray, max_iter: int = 500, tol: float = 1e-9):
    f, _ = engine.discrepancy(theta)
    if not np.isfinite(f):
        raise PeerscaleError("the start values give a non-positive-definite implied covariance",
                             hint="give start values with start(x)* in the model syntax")
    converged = False
    for it in range(max_iter):
        grad, info = engine.gradient_info(theta)
        try:
            step = np.linalg.solve(2.0 * info, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(2.0 * info, grad, rcond=None)[0]
        t = 1.0
        for _ in range(40):
            cand = theta - t * step
            fc, _ = engine.discrepancy(cand)
            if np.isfinite(fc) and fc <= f + 1e-14:
                break
            t /= 2.0
        else:
            break
        df = f - fc
        theta, f = cand, fc
        if np.max(np.abs(grad)) < tol or (df < 1e-14 and np.max(np.abs(t * step)) < 1e-9):
            converged = True
            break
    grad, _ = engine.gradient_info(theta, info=False)
    if np.max(np.abs(grad)) < 1e-5:
        converged = True
    return theta, f, converged, it + 1


@dataclass
class CFAResult:
    """A fitted model. ``params`` is lavaan's ``parameterEstimates()``-like table (lhs, op,
    rhs, group, label, est, se, z, pvalue), ``fmin2`` the ML discrepancy F (twice lavaan's
    fmin), ``chisq = N·F``."""

    spec: ModelSpec
    data: list[GroupData]
    theta: np.ndarray
    vcov: np.ndarray
    fmin2: float
    group_f: list[float]
    estimator: str
    converged: bool
    iterations: int
    group_names: list = field(default_factory=list)
    scaling: dict | None = None
    _engine: _Engine | None = None

    @property
    def n(self) -> int:
        return sum(d.n for d in self.data)

    @property
    def chisq(self) -> float:
        return self.n * self.fmin2

    @property
    def npar(self) -> int:
        return self.spec.n_free

    @property
    def df(self) -> int:
        p = len(self.spec.observed)
        per = p * (p + 1) // 2 + (p if self.spec.meanstructure else 0)
        return self.spec.n_groups * per - self.npar

    def implied(self, group: int = 0):
        sigma, mu, *_ = self._engine.implied(self.theta, group)
        return sigma, mu

    @property
    def params(self) -> pd.DataFrame:
        from scipy.special import ndtr
        se = np.sqrt(np.clip(np.diag(self.vcov), 0, None))
        rows = []
        for pr in self.spec.params:
            est = self.theta[pr.free] if pr.free >= 0 else pr.value
            s = se[pr.free] if pr.free >= 0 else np.nan
            z = est / s if pr.free >= 0 and s > 0 else np.nan
            rows.append(dict(lhs=pr.lhs, op=pr.op, rhs=pr.rhs, group=pr.group + 1,
                             label=pr.label or "", free=pr.free + 1 if pr.free >= 0 else 0,
                             est=est, se=s, z=z,
                             pvalue=2 * ndtr(-abs(z)) if np.isfinite(z) else np.nan))
        return pd.DataFrame(rows)

    def loglik(self) -> float:
        """Log-likelihood: the saturated (h1) log-likelihood minus ``n_g F_g / 2`` per group,
        i.e. ``Σ_g −n_g/2 (p log 2π + log|Σ_g| + tr(S_g Σ_g^{-1}) + d'Σ_g^{-1}d)`` for complete
        data and the casewise (pattern) likelihood under FIML."""
        return float(sum(d.h1_loglik - d.n * f / 2.0 for d, f in zip(self.data, self.group_f)))

    def loglik_unrestricted(self) -> float:
        return float(sum(d.h1_loglik for d in self.data))


def _robust(engine: _Engine, theta: np.ndarray, df: int) -> tuple[np.ndarray, dict]:
    """Huber–White sandwich ``vcov = H^{-1} B0 H^{-1} / N`` (H the observed information, B0 the
    first-order information ``Σ_g w_g Δ'WΓ₀WΔ``, Γ₀ the casewise moments centred at the
    implied moments) and the Yuan–Bentler scaling factor in lavaan's
    ``"yuan.bentler.mplus"`` form: ``c = [Σ_g tr(Γ_g W_g^{(S)}) − tr(H^{-1} B0)] / df``, with the
    h1 part from the unstructured (sample) information and Γ the 4th-moment matrix."""
    k = engine.spec.n_free
    hobs = engine.observed_information(theta)
    b0 = np.zeros((k, k))
    trace_h1 = 0.0
    for g, d in enumerate(engine.data):
        sigma, mu, *_ = engine.implied(theta, g)
        wg = engine.weight(np.linalg.inv(sigma))
        dl = engine.delta(theta, g)
        trace_h1 += float(np.sum(_gamma(d, engine) * engine.weight(np.linalg.inv(d.cov))))
        gamma0 = _gamma(d, engine, sigma, mu if engine.spec.meanstructure else None)
        b0 += engine.w[g] * dl.T @ wg @ gamma0 @ wg @ dl
    return sandwich(hobs, b0, trace_h1, engine.ntot, df, "check the model's identification, or use the ML estimator")


def _gamma(d: GroupData, engine: _Engine, sigma: np.ndarray | None = None,
           mu: np.ndarray | None = None) -> np.ndarray:
    """Mean cross-product of the casewise moment deviations ``z_i − E z`` with
    ``z_i = (x_i, vech((x_i − μ)(x_i − μ)'))`` (divisor n). Without ``sigma`` it is centred at
    the sample moments (Γ, the 4th-moment matrix); with the model's ``sigma``/``mu`` it is
    centred at the implied moments, which is what the casewise model scores need when a
    group's scores do not sum to zero (equality constraints across groups)."""
    center = d.mean if mu is None else mu
    xc = d.raw - center
    z = xc[:, engine.vi] * xc[:, engine.vj]
    ez = (d.cov if sigma is None else sigma)[engine.vi, engine.vj]
    if sigma is None:
        ez = z.mean(axis=0)
    if engine.spec.meanstructure:
        z = np.concatenate([xc, z], axis=1)
        ez = np.concatenate([xc.mean(axis=0) if sigma is None else np.zeros(len(center)), ez])
    zc = z - ez
    return zc.T @ zc / d.n


@single_threaded
def fit_cfa(model: str | list[Term], data: pd.DataFrame, *, group: str | None = None,
            estimator: str = "ML", missing: str = "listwise", std_lv: bool = False,
            orthogonal: bool = False, group_equal=(), meanstructure: bool | None = None) -> CFAResult:
    """Fit a CFA/SEM given in lavaan syntax to item data, as ``lavaan::cfa`` (see module
    docstring). ``group`` names a column for a multigroup model; ``group_equal`` as lavaan."""
    if estimator.upper() == "DWLS":
        if group or missing != "listwise" or group_equal:
            raise PeerscaleError("the ordinal (DWLS) estimator supports one group with listwise deletion",
                                 hint="use --estimator ml or mlr for groups or FIML")
        from .cfa_ordinal import fit_dwls  # it builds on this module
        return fit_dwls(model, data, std_lv=std_lv, orthogonal=orthogonal)
    return _fit_cfa(model, data, group=group, estimator=estimator, missing=missing, std_lv=std_lv,
                    orthogonal=orthogonal, group_equal=group_equal, meanstructure=meanstructure)


def _fit_cfa(model, data, *, group, estimator, missing, std_lv, orthogonal, group_equal, meanstructure):
    estimator = estimator.upper()
    if estimator not in ESTIMATORS:
        raise PeerscaleError(f"unknown estimator {estimator!r}", value=estimator,
                             hint=f"use one of {', '.join(e.lower() for e in ESTIMATORS)}")
    terms = parse_model(model) if isinstance(model, str) else model
    observed, _ = _order_variables(terms)
    if missing == "fiml":
        meanstructure = True
    groups = sample_statistics(data, observed, group, missing)
    spec = build_model(terms, n_groups=len(groups), std_lv=std_lv, orthogonal=orthogonal,
                       meanstructure=meanstructure, group_equal=group_equal)
    engine = _Engine(spec, groups)
    theta = _fabin_like_start(spec, groups, _start_values(spec, groups))
    theta, f, converged, iters = _optimise(engine, theta)
    p = len(observed)
    df = spec.n_groups * (p * (p + 1) // 2 + (p if spec.meanstructure else 0)) - spec.n_free
    if df < 0:
        raise PeerscaleError(f"the model is not identified: {spec.n_free} free parameters for "
                             f"{df + spec.n_free} sample moments",
                             hint="add indicators, or fix more parameters")
    _, parts = engine.discrepancy(theta)
    _, info = engine.gradient_info(theta)
    try:
        vcov = np.linalg.inv(info) / engine.ntot
    except np.linalg.LinAlgError:
        raise PeerscaleError("the model is not identified (singular information matrix)",
                             hint="fix a loading to 1 per factor, or use std_lv") from None
    if np.linalg.cond(info) > 1e12:
        raise PeerscaleError("the model appears not identified (near-singular information matrix)",
                             hint="fix a loading to 1 per factor, or use std_lv")
    if any(d.patterns is not None for d in groups):
        # lavaan's default for missing="ml": observed information
        try:
            vcov = np.linalg.inv(engine.observed_information(theta)) / engine.ntot
        except np.linalg.LinAlgError:
            raise PeerscaleError("the observed information matrix is singular",
                                 hint="check the model's identification") from None
    scaling = None
    if estimator == "MLR":
        vcov, scaling = (_robust_fiml if missing == "fiml" else _robust)(engine, theta, df)
    return CFAResult(spec=spec, data=groups, theta=theta, vcov=vcov, fmin2=f, group_f=parts,
                     estimator=estimator, converged=converged, iterations=iters,
                     group_names=[d.name for d in groups], scaling=scaling, _engine=engine)


# ---------------------------------------------------------------------------------------
# results beyond the estimates
# ---------------------------------------------------------------------------------------

def _standardize(res: CFAResult, theta: np.ndarray) -> np.ndarray:
    """lavaan's ``std.all`` for every row of the parameter table: loadings and regressions
    ``b·sd(x)/sd(y)``; variances ``v/var(y)``; covariances ``c/√(v_ii v_jj)`` with the (residual)
    variances of the same two variables (``cov.std=TRUE``); intercepts ``m/sd(y)``; the sds
    are model-implied total standard deviations."""
    eng = res._engine
    out = np.zeros(len(res.spec.params))
    cache = {}
    for k, pr in enumerate(res.spec.params):
        if pr.group not in cache:
            a, s, m = eng.matrices(theta, pr.group)
            b = np.linalg.inv(np.eye(eng.q) - a)
            cache[pr.group] = (np.sqrt(np.clip(np.diag(b @ s @ b.T), 1e-300, None)), a, s, m)
        sd, a, s, m = cache[pr.group]
        # from the matrices, so derived values (ordinal residual variances) vary with θ
        est = a[pr.i, pr.j] if pr.mat == "A" else (s[pr.i, pr.j] if pr.mat == "S" else m[pr.i])
        if pr.mat == "A":
            out[k] = est * sd[pr.j] / sd[pr.i]
        elif pr.mat == "S":
            if pr.i == pr.j:
                out[k] = est / sd[pr.i] ** 2
            else:
                den = np.sqrt(abs(s[pr.i, pr.i] * s[pr.j, pr.j]))
                out[k] = est / den if den > 0 else np.nan
        else:
            out[k] = est / sd[pr.i]
    return out


def standardized_solution(res: CFAResult) -> pd.DataFrame:
    """Standardised estimates (``std.all``) with delta-method standard errors, as
    ``lavaan::standardizedSolution``: ``se = √diag(J V J')`` with J the Jacobian of the
    standardisation (central differences) and V the estimates' covariance."""
    from scipy.special import ndtr
    est = _standardize(res, res.theta)
    k = res.spec.n_free
    jac = np.zeros((len(est), k))
    for a in range(k):
        h = 1e-6 * max(1.0, abs(res.theta[a]))
        e = np.zeros(k)
        e[a] = h
        jac[:, a] = (_standardize(res, res.theta + e) - _standardize(res, res.theta - e)) / (2 * h)
    se = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", jac, res.vcov, jac), 0, None))
    se[np.abs(se) < 1e-10] = 0.0
    z = np.where(se > 0, est / np.where(se > 0, se, 1), np.nan)
    base = res.params[["lhs", "op", "rhs", "group"]].copy()
    base["est_std"] = est
    base["se"] = se
    base["z"] = z
    base["pvalue"] = np.where(np.isfinite(z), 2 * ndtr(-np.abs(z)), np.nan)
    return base


def residual_correlations(res: CFAResult, group: int = 0) -> pd.DataFrame:
    """Observed minus model-implied correlations (lavaan's ``residuals(type="cor")``,
    i.e. ``cor.bollen``)."""
    d = res.data[group]
    sigma, _ = res.implied(group)
    sd_s = np.sqrt(np.diag(d.cov))
    sd_m = np.sqrt(np.diag(sigma))
    r = d.cov / np.outer(sd_s, sd_s) - sigma / np.outer(sd_m, sd_m)
    return pd.DataFrame(r, index=res.spec.observed, columns=res.spec.observed)


def modification_indices(res: CFAResult, top: int | None = None) -> pd.DataFrame:
    """Univariate score tests for the parameters lavaan's ``modindices()`` considers: every
    missing loading (``lv =~ ov``) and every missing residual covariance between observed
    variables, per group. With unit information I over (θ, ω) and g = ∂F/∂ω,
    ``MI = N g² / (4 V)`` and ``EPC = −g / (2V)``, ``V = I_ωω − I_ωθ I_θθ^{-1} I_θω``
    (Sörbom 1989); ``sepc_all`` is the EPC standardised like ``std.all``. Sorted by MI.
    Under FIML the gradient is the casewise one but I is the complete-data expected
    information, so the indices are approximate there; releases of equality constraints
    (lavaan's score tests for ``==``) are not computed."""
    if res.estimator == "DWLS":
        raise PeerscaleError("modification indices are implemented for ML fits only")
    spec = res.spec
    eng = res._engine
    p = len(spec.observed)
    rows = []
    for g in range(spec.n_groups):
        present = {(pr.mat, pr.i, pr.j) for pr in spec.params if pr.group == g}
        extra: list[Param] = []
        for j, lv in enumerate(spec.latent):
            for i, ov in enumerate(spec.observed):
                if ("A", i, p + j) not in present:
                    extra.append(Param(lv, "=~", ov, g, "A", i, p + j, -1, 0.0))
        for i in range(p):
            for j in range(i + 1, p):
                if ("S", i, j) not in present and ("S", j, i) not in present:
                    extra.append(Param(spec.observed[i], "~~", spec.observed[j], g, "S", j, i, -1, 0.0))
        if not extra:
            continue
        grad_all = np.zeros(spec.n_free + len(extra))
        info_all = np.zeros((len(grad_all),) * 2)
        # only this group's moments carry the extra parameters
        for gg, d in enumerate(eng.data):
            sigma, mu, *_ = eng.implied(res.theta, gg)
            si = np.linalg.inv(sigma)
            gv = eng.moment_gradient(d, sigma, mu, si)
            dl = eng.delta(res.theta, gg, extra)
            if gg != g:
                dl[:, spec.n_free:] = 0.0
            grad_all += eng.w[gg] * dl.T @ gv
            info_all += eng.w[gg] * eng._info(dl, si)
        k = spec.n_free
        i_tt = info_all[:k, :k]
        i_wt = info_all[k:, :k]
        v = np.diag(info_all[k:, k:]) - np.einsum("ij,ji->i", i_wt, np.linalg.solve(i_tt, i_wt.T))
        gw = grad_all[k:]
        with np.errstate(divide="ignore", invalid="ignore"):
            mi = np.where(v > 1e-12, res.n * gw ** 2 / (4 * v), np.nan)
            epc = np.where(v > 1e-12, -gw / (2 * v), np.nan)
        a, s, _ = eng.matrices(res.theta, g)
        b = np.linalg.inv(np.eye(eng.q) - a)
        sd = np.sqrt(np.diag(b @ s @ b.T))
        for e, m_, ep in zip(extra, mi, epc):
            if e.mat == "A":
                sepc = ep * sd[e.j] / sd[e.i]
            else:
                sepc = ep / np.sqrt(s[e.i, e.i] * s[e.j, e.j])
            rows.append(dict(lhs=e.lhs, op=e.op, rhs=e.rhs, group=g + 1, mi=m_, epc=ep,
                             sepc_all=sepc))
    out = pd.DataFrame(rows, columns=["lhs", "op", "rhs", "group", "mi", "epc", "sepc_all"])
    out = out.sort_values("mi", ascending=False, kind="stable").reset_index(drop=True)
    return out.head(top) if top else out


STRUCTURES = ("correlated", "one-factor", "bifactor")


def instrument_model(instrument, structure: str = "correlated", scales: list[str] | None = None,
                     ) -> tuple[str, dict]:
    """lavaan syntax for an instrument's own structure, and the fit options it needs.

    ``scales`` picks the dimension scales (default: the scales of the first composite, e.g.
    pbr-y's six core dimensions in ``pbr_core``, else every non-composite scale).
    ``"correlated"``: one factor per scale, factors correlated (marker-variable scaling);
    ``"one-factor"``: one factor ``g`` over all their items; ``"bifactor"``: ``g`` plus one
    specific factor per scale, all orthogonal, variances fixed to 1 (``std_lv=True``)."""
    if structure not in STRUCTURES:
        raise PeerscaleError(f"unknown structure {structure!r}", value=structure,
                             hint=f"use one of {', '.join(STRUCTURES)}")
    if scales is None:
        composite = next((s for s in instrument.scales if s.composite and s.of_scales), None)
        chosen = ([instrument.scale(n) for n in composite.of_scales] if composite
                  else [s for s in instrument.scales if not s.composite])
    else:
        chosen = [instrument.scale(n) for n in scales]
    chosen = [s for s in chosen if not s.composite]
    if not chosen:
        raise PeerscaleError(f"instrument {instrument.name!r} has no dimension scales to model")
    items = [i for s in chosen for i in s.items]
    if structure == "one-factor":
        return f"g =~ {' + '.join(items)}", {}
    if len(chosen) < 2 and structure == "bifactor":
        raise PeerscaleError("a bifactor model needs at least two dimension scales")
    lines = [f"{s.name} =~ {' + '.join(s.items)}" for s in chosen]
    if structure == "correlated":
        return "\n".join(lines), {}
    return "\n".join([f"g =~ {' + '.join(items)}"] + lines), {"std_lv": True, "orthogonal": True}
