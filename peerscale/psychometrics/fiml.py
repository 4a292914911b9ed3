"""Full-information ML for incomplete item data, lavaan's ``missing="ml"`` (lavaan 0.6-14).

Rows are grouped by missingness pattern (which items are answered). For case i with answered
items o, ``e_i = (x_i − μ)_o``, the casewise normal log-likelihood is

    ℓ = Σ_i −½ [p_i log 2π + log|Σ_oo| + e_i' Σ_oo⁻¹ e_i]

The saturated (h1) model, free means and covariance, is fitted by EM (Dempster, Laird &
Rubin 1977); :mod:`peerscale.psychometrics.cfa` minimises ``2(ℓ_h1 − ℓ)/N``. Robust (MLR)
standard errors and the Yuan–Bentler (2000) scaled test under FIML use the casewise scores
``∂ℓ_i/∂(μ, vech Σ)`` and the analytic observed information of the saturated model, as
lavaan's ``estimator="MLR", missing="ml"`` (Mplus variant of the scaling factor).

References: Rosseel, Y. (2012). lavaan. Journal of Statistical Software, 48(2). Yuan, K.-H.
& Bentler, P. M. (2000). Sociological Methodology, 30, 165-200.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import PeerscaleError

if TYPE_CHECKING:
    from .cfa import GroupData, _Engine


# ---------------------------------------------------------------------------------------
# missingness patterns and the saturated model
# ---------------------------------------------------------------------------------------

@dataclass
class PatternBatch:
    """Missingness patterns as arrays for vectorised FIML: ``mask`` (P × p, observed), ``n``
    per pattern, and per case its pattern index ``case`` and its answers ``x0`` with
    unobserved entries set to 0."""

    mask: np.ndarray
    n: np.ndarray
    case: np.ndarray
    x0: np.ndarray

    @classmethod
    def from_data(cls, x: np.ndarray) -> "PatternBatch":
        miss = np.isnan(x)
        keys, inverse = np.unique(miss, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        return cls(~keys, np.bincount(inverse, minlength=len(keys)).astype(float), inverse,
                   np.where(miss, 0.0, x))

    def inverses(self, sigma: np.ndarray, logdet: bool = True):
        """Per pattern ``Σ_oo⁻¹`` zero-padded to p × p and ``log|Σ_oo|`` (None if not PD):
        the unobserved rows and columns are replaced by the identity, which leaves both
        unchanged and lets one batched LAPACK call do all patterns."""
        p = sigma.shape[0]
        mm = self.mask[:, :, None] & self.mask[:, None, :]
        sb = np.where(mm, sigma[None], 0.0)
        idx = np.arange(p)
        sb[:, idx, idx] = np.where(self.mask, np.diag(sigma)[None], 1.0)
        if not logdet:
            try:
                return np.where(mm, np.linalg.inv(sb), 0.0), None
            except np.linalg.LinAlgError:
                return None, None
        sign, ld = np.linalg.slogdet(sb)
        if np.any(sign <= 0):
            return None, None
        return np.where(mm, np.linalg.inv(sb), 0.0), ld

    def residual_scores(self, mu: np.ndarray, inv: np.ndarray) -> np.ndarray:
        """``u_i = Σ_oo⁻¹ (x_i − μ)_o`` per case (zero where unobserved)."""
        e = np.where(self.mask[self.case], self.x0 - mu[None], 0.0)
        return np.matmul(inv[self.case], e[:, :, None])[:, :, 0]


def _pattern_stats(x: np.ndarray):
    miss = np.isnan(x)
    keys, inverse = np.unique(miss, axis=0, return_inverse=True)
    out = []
    for k, key in enumerate(keys):
        rows = x[inverse.ravel() == k][:, ~key]
        m = rows.mean(axis=0)
        c = (rows - m).T @ (rows - m) / rows.shape[0]
        out.append((np.flatnonzero(~key), rows.shape[0], m, c))
    return out


def _batch_loglik(batch: PatternBatch, mu, sigma) -> float:
    """Casewise normal log-likelihood ``Σ_i −½ [p_i log 2π + log|Σ_oo| + e_i'Σ_oo⁻¹e_i]``."""
    inv, logdet = batch.inverses(sigma)
    if inv is None:
        return -np.inf
    e = np.where(batch.mask[batch.case], batch.x0 - mu[None], 0.0)
    quad = float(np.sum(e * batch.residual_scores(mu, inv)))
    po = batch.mask.sum(axis=1)
    return float(np.sum(-batch.n / 2 * (po * np.log(2 * np.pi) + logdet)) - quad / 2)


def _pattern_loglik(patterns, mu, sigma) -> float:
    """Σ_p −n_p/2 [p_o log 2π + log|Σ_oo| + tr(Σ_oo⁻¹ S_p) + (x̄_p − μ_o)'Σ_oo⁻¹(x̄_p − μ_o)]."""
    total = 0.0
    for o, n_p, m, c in patterns:
        so = sigma[np.ix_(o, o)]
        sign, logdet = np.linalg.slogdet(so)
        if sign <= 0:
            return -np.inf
        si = np.linalg.inv(so)
        d = m - mu[o]
        total += -n_p / 2 * (len(o) * np.log(2 * np.pi) + logdet + np.sum(si * c) + d @ si @ d)
    return float(total)


def em_saturated(x: np.ndarray, patterns, max_iter: int = 10000, tol: float = 1e-10):
    """ML means and covariance of incomplete multivariate-normal data by EM (Dempster,
    Laird & Rubin 1977): lavaan's h1 model for ``missing="ml"``."""
    n, p = x.shape
    mu = np.nanmean(x, axis=0)
    sigma = np.diag(np.nanvar(x, axis=0))
    ll_old = -np.inf
    for _ in range(max_iter):
        t1 = np.zeros(p)
        t2 = np.zeros((p, p))
        for o, n_p, m, c in patterns:
            mis = np.setdiff1d(np.arange(p), o)
            if len(mis) == 0:
                t1 += n_p * m
                t2 += n_p * (c + np.outer(m, m))
                continue
            b = np.linalg.solve(sigma[np.ix_(o, o)], sigma[np.ix_(o, mis)])  # p_o × p_m
            cond_cov = sigma[np.ix_(mis, mis)] - sigma[np.ix_(mis, o)] @ b
            ex = np.empty(p)
            ex[o] = m
            ex[mis] = mu[mis] + (m - mu[o]) @ b
            # E[x x'] over the pattern: observed part exact, missing part via regression
            exx = np.empty((p, p))
            exx[np.ix_(o, o)] = c + np.outer(m, m)
            cross = (c + np.outer(m, m)) @ b - np.outer(m, mu[o] @ b - mu[mis])
            exx[np.ix_(o, mis)] = cross
            exx[np.ix_(mis, o)] = cross.T
            bm = b.T @ c @ b
            exx[np.ix_(mis, mis)] = cond_cov + bm + np.outer(ex[mis], ex[mis])
            t1 += n_p * ex
            t2 += n_p * exx
        mu = t1 / n
        sigma = t2 / n - np.outer(mu, mu)
        ll = _pattern_loglik(patterns, mu, sigma)
        if abs(ll - ll_old) < tol * max(1.0, abs(ll)):
            break
        ll_old = ll
    return mu, sigma, ll


# ---------------------------------------------------------------------------------------
# robust (MLR) corrections
# ---------------------------------------------------------------------------------------

def _casewise_moment_scores(d: GroupData, engine: _Engine, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Per case, ∂ℓ_i/∂(μ, vech Σ) of the casewise normal log-likelihood on the case's observed
    items: ``Σ_oo⁻¹ d`` and ``½(Σ_oo⁻¹ d d' Σ_oo⁻¹ − Σ_oo⁻¹)`` (off-diagonals counted twice)."""
    p = engine.p
    x = d.raw
    miss = np.isnan(x)
    out = np.zeros((x.shape[0], p + len(engine.vi)))
    keys, inverse = np.unique(miss, axis=0, return_inverse=True)
    for k, key in enumerate(keys):
        rows = np.flatnonzero(inverse.ravel() == k)
        o = np.flatnonzero(~key)
        si = np.linalg.inv(sigma[np.ix_(o, o)])
        a = (x[np.ix_(rows, o)] - mu[o]) @ si
        g = np.zeros((len(rows), p))
        g[:, o] = a
        full = np.zeros((len(rows), p, p))
        full[:, o[:, None], o[None, :]] = 0.5 * (a[:, :, None] * a[:, None, :] - si[None, :, :])
        out[rows, :p] = g
        out[rows, p:] = engine.f * full[:, engine.vi, engine.vj]
    return out


def _robust_fiml(engine: _Engine, theta: np.ndarray, df: int) -> tuple[np.ndarray, dict]:
    """MLR with FIML, as lavaan's ``estimator="MLR", missing="ml"``: sandwich
    ``H⁻¹ B0 H⁻¹/N`` with H the observed information and B0 the mean outer product of the
    casewise scores ``Δ' ∂ℓ_i/∂(μ, vech Σ)``; Yuan–Bentler (Mplus variant) scaling
    ``c = [Σ_g tr(A1_g⁻¹ B1_g) − tr(H⁻¹ B0)]/df`` with A1, B1 the observed and first-order
    information of the saturated model at its EM estimates."""
    k = engine.spec.n_free
    hobs = engine.observed_information(theta)
    b0 = np.zeros((k, k))
    trace_h1 = 0.0
    for g, d in enumerate(engine.data):
        sigma, mu, *_ = engine.implied(theta, g)
        sc = _casewise_moment_scores(d, engine, mu, sigma) @ engine.delta(theta, g)
        b0 += sc.T @ sc / engine.ntot
        # saturated model at the EM estimates: first-order and observed information (the
        # same for every model of these data, so kept with them)
        if d.h1_trace is None:
            m1 = _casewise_moment_scores(d, engine, d.mean, d.cov)
            a1 = _h1_observed_information(d, engine)
            d.h1_trace = float(np.sum(np.linalg.inv(a1) * (m1.T @ m1 / d.n).T))
        trace_h1 += d.h1_trace
    vcov, info = sandwich(hobs, b0, trace_h1, engine.ntot, df, "check the model's identification")
    return vcov, {**info, "fiml": True}


def sandwich(hobs: np.ndarray, b0: np.ndarray, trace_h1: float, n: int, df: int, hint: str):
    """Huber–White ``vcov = H⁻¹ B0 H⁻¹ / N`` and the Yuan–Bentler scaling factor
    ``c = (trace_h1 − tr(H⁻¹ B0)) / df``, shared by MLR with complete data and with FIML."""
    try:
        hinv = np.linalg.inv(hobs)
    except np.linalg.LinAlgError:
        raise PeerscaleError("the observed information matrix is singular, so robust standard errors "
                             "are undefined", hint=hint) from None
    trace_h0 = float(np.sum(hinv * b0.T))
    c = (trace_h1 - trace_h0) / df if df > 0 else np.nan
    return hinv @ b0 @ hinv / n, {"c": c, "trace_h1": trace_h1, "trace_h0": trace_h0}


def _h1_observed_information(d: GroupData, engine: _Engine) -> np.ndarray:
    """Observed information per case of the saturated model at its EM estimates, in
    (μ, vech Σ) coordinates, analytically. With, per pattern, K = Σ_oo⁻¹ (zero-padded),
    u_i = K e_i, M = Σ_i u_i u_i' and s = Σ_i u_i over its cases:
    ``−∂²ℓ/∂μ∂μ' = Σ n_p K``, ``−∂²ℓ/∂μ_r∂Σ_ab = Σ K_ra s_b``,
    ``−∂²ℓ/∂Σ_ab∂Σ_cd = ½ Σ (K_bc M_ad + M_bc K_ad − n_p K_bc K_ad)``, symmetrised over
    (a, b) and (c, d) for the vech parameters, all divided by n."""
    b = d.batch
    p = engine.p
    vi, vj = engine.vi, engine.vj
    k_all, _ = b.inverses(d.cov, logdet=False)
    u = b.residual_scores(d.mean, k_all)
    npat = len(b.n)
    m_all = np.zeros((npat, p, p))
    np.add.at(m_all, b.case, u[:, :, None] * u[:, None, :])
    s_all = np.zeros((npat, p))
    np.add.at(s_all, b.case, u)
    kf = k_all.reshape(npat, p * p)
    # T[b, c, a, d] = Σ_p X_p[b, c] Y_p[a, d]
    t = (0.5 * (kf.T @ m_all.reshape(npat, p * p) + m_all.reshape(npat, p * p).T @ kf)
         - 0.5 * (kf * b.n[:, None]).T @ kf).reshape(p, p, p, p)
    a_, b_ = vi[:, None], vj[:, None]
    c_, d_ = vi[None, :], vj[None, :]
    mult = np.where(vi == vj, 2.0, 1.0)
    sym = (t[b_, c_, a_, d_] + t[a_, c_, b_, d_] + t[b_, d_, a_, c_] + t[a_, d_, b_, c_]) \
        / np.outer(mult, mult)
    t3 = np.einsum("pra,pb->rab", k_all, s_all)
    mixed = (t3[:, vi, vj] + t3[:, vj, vi]) / mult[None, :]
    info = np.zeros((p + len(vi), p + len(vi)))
    info[:p, :p] = np.einsum("p,pij->ij", b.n, k_all)
    info[:p, p:] = mixed
    info[p:, :p] = mixed.T
    info[p:, p:] = sym
    return info / d.n
