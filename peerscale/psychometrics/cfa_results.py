"""The results step of the CFA/SEM engine: the fitted model, standardized solution,
residual correlations and modification indices."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import PeerscaleError
from .cfa_engine import GroupData, _Engine
from .cfa_model import ModelSpec, Param


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

