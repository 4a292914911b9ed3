"""The engine step of the CFA/SEM engine: sample statistics, implied moments and their
derivatives, start values and the optimiser. See :mod:`peerscale.psychometrics.cfa`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import PeerscaleError
from .cfa_model import ModelSpec, Param
from .fiml import PatternBatch, _batch_loglik, _pattern_stats, em_saturated


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

