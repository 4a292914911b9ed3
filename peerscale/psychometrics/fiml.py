"""Full-information ML for incomplete item data, lavaan's ``missing="ml"`` (lavaan 0.6-14).

Rows are grouped by missingness pattern (which items are answered). For case i with answered
items o, ``e_i = (x_i − μ)_o``, the casewise normal log-likelihood is

    ℓ = Σ_i −½ [p_i log 2π + log|Σ_oo| + e_i' Σ_oo⁻¹ e_i]

The saturated (h1) model, free means and covariance, is fitted by EM (Dempster, Laird &
Rubin 1977); :mod:`peerscale.psychometrics.cfa` minimises ``2(ℓ_h1 − ℓ)/N``. Robust (MLR)
corrections under FIML are in :mod:`peerscale.psychometrics.cfa_robust`.

References: Rosseel, Y. (2012). lavaan. Journal of Statistical Software, 48(2). Yuan, K.-H.
& Bentler, P. M. (2000). Sociological Methodology, 30, 165-200.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
