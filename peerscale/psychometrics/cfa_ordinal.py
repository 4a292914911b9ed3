"""Sample statistics of ordinal items for DWLS (lavaan's ``estimator="WLSMV"``), per group.

As lavaan 0.6-14's ``muthen1984`` on complete cases: thresholds ``τ_c = Φ⁻¹(P(X ≤ c))`` from
each item's marginal proportions; each polychoric correlation by maximum likelihood with
those thresholds fixed (two-step; in a 2×2 table with one empty cell ½ is moved into it,
keeping the margins, lavaan's ``zero.add``); and their asymptotic covariance
``NACOV = N·B⁻¹ (Σ_i s_i s_i') B⁻ᵀ`` from the casewise scores ``s_i`` of thresholds and
correlations (Muthén 1984), with ``B = [[A11, 0], [A21, A22]]``: A11 the per-item threshold
information, ``A21 = Σ_i s_ρ (∂ log π/∂τ)'`` and A22 the diagonal of ``Σ_i s_ρ²``.

The statistics vector is lavaan's ``WLS.obs``: the thresholds item by item, then the
correlations in column-major lower-triangle order (``(2,1), (3,1), ..., (3,2), ...``); DWLS
weights are ``1/diag(NACOV)``.

References: Muthén, B. (1984). A general structural equation model with dichotomous,
ordered categorical, and continuous latent variable indicators. Psychometrika, 49,
115-132. Olsson, U. (1979). Psychometrika, 44, 443-460.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from ..errors import PeerscaleError
from .polychoric import _BIG, _max_likelihood_rho, bivariate_normal_cdf


@dataclass
class OrdinalStats:
    """One group's ordinal statistics (see module docstring); ``vi, vj`` index the
    correlations (``vi > vj``) in ``wls_obs`` after the ``n_th`` thresholds."""

    n: int
    thresholds: list[np.ndarray]
    rho: np.ndarray
    nacov: np.ndarray
    wls_obs: np.ndarray
    wls_vd: np.ndarray
    vi: np.ndarray
    vj: np.ndarray

    @property
    def n_th(self) -> int:
        return int(sum(len(t) for t in self.thresholds))


def _phi(z):
    return np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)


def ordinal_statistics(codes: np.ndarray, ncat: list[int], columns: list[str], group=None) -> OrdinalStats:
    """``codes``: n × p complete integer category indices 0..ncat_j − 1 (pooled over groups)."""
    n, p = codes.shape
    where = "" if group is None else f" in group {group!r}"
    taus, s_tau, a11_inv, props_all = [], [], [], []
    for j in range(p):
        counts = np.bincount(codes[:, j], minlength=ncat[j]).astype(float)
        if (counts == 0).any():
            empty = int(np.argmin(counts > 0))
            raise PeerscaleError(f"category {empty + 1} of the ordinal item is empty{where}",
                                 column=columns[j],
                                 hint="merge rare answer categories, or drop the item, so that every group uses every category")
        props = counts / n
        tau = ndtri(np.cumsum(props)[:-1])
        k = np.arange(len(tau))
        c = codes[:, j]
        sc = _phi(tau)[None, :] * ((c[:, None] == k[None, :]) * 1.0 - (c[:, None] == k[None, :] + 1)) \
            / props[c][:, None]
        taus.append(tau)
        s_tau.append(sc)
        a11_inv.append(np.linalg.inv(sc.T @ sc))
        props_all.append(props)
    # correlation pairs in lavaan's order: column-major lower triangle
    vj, vi = np.triu_indices(p, 1)  # (j < i) pairs ordered by j then i
    npair = len(vi)
    rho = np.eye(p)
    th_start = np.concatenate([[0], np.cumsum([len(t) for t in taus])])
    n_th = int(th_start[-1])
    influence = np.zeros((n, n_th + npair))
    for j in range(p):
        influence[:, th_start[j]:th_start[j + 1]] = s_tau[j] @ a11_inv[j]
    mmax = max(ncat)
    # batched two-step ML of all pairs, thresholds fixed
    rc = np.full((npair, mmax - 1), _BIG)
    cc = np.full((npair, mmax - 1), _BIG)
    tabs = np.zeros((npair, mmax, mmax))
    for m_, (i, j) in enumerate(zip(vi, vj)):
        t = np.zeros((ncat[i], ncat[j]))
        np.add.at(t, (codes[:, i], codes[:, j]), 1.0)
        if t.shape == (2, 2) and (t == 0).sum() == 1:
            # lavaan's zero.add = 0.5 with zero.keep.margins: move half a count into the empty cell
            z = np.argwhere(t == 0)[0]
            d = 0.5 if (z[0] == z[1]) else -0.5
            t += np.array([[d, -d], [-d, d]])
        tabs[m_, :ncat[i], :ncat[j]] = t / n
        rc[m_, :ncat[i] - 1] = np.clip(taus[i], -_BIG, _BIG)
        cc[m_, :ncat[j] - 1] = np.clip(taus[j], -_BIG, _BIG)
    if npair:
        r_pairs = _max_likelihood_rho(rc, cc, tabs, tol=1e-12)
        rho[vi, vj] = rho[vj, vi] = r_pairs
    if npair:
        influence[:, n_th:] = _correlation_influence(codes, taus, s_tau, a11_inv, rho, vi, vj, mmax)
    nacov = n * (influence.T @ influence)
    diag = np.diag(nacov)
    if not np.all(np.isfinite(diag)) or (diag <= 0).any():
        raise PeerscaleError(f"the asymptotic covariance of the polychoric correlations is degenerate{where}",
                             hint="some item pairs have too few respondents in some categories; merge rare categories")
    wls_obs = np.concatenate(taus + [rho[vi, vj]]) if p > 1 else np.concatenate(taus)
    return OrdinalStats(n, taus, rho, nacov, wls_obs, 1.0 / diag, vi, vj)


def _correlation_influence(codes, taus, s_tau, a11_inv, rho, vi, vj, mmax) -> np.ndarray:
    """Per case and pair, ``(s_ρ − A21 A11⁻¹ s_τ)/Σ s_ρ²`` for all pairs at once (thresholds
    padded to the largest number of categories; padded cells have probability 0)."""
    n, p = codes.shape
    npair = len(vi)
    m1 = mmax - 1
    tpad = np.full((p, mmax + 1), _BIG)
    tpad[:, 0] = -_BIG
    s_all = np.zeros((p, n, m1))
    ainv_all = np.zeros((p, m1, m1))
    for j in range(p):
        k = len(taus[j])
        tpad[j, 1:k + 1] = np.clip(taus[j], -_BIG, _BIG)
        s_all[j, :, :k] = s_tau[j]
        ainv_all[j, :k, :k] = a11_inv[j]
    r = rho[vi, vj]
    sr = np.sqrt(1 - r * r)
    ti, tj = tpad[vi], tpad[vj]  # (B, m+1)
    hh = np.broadcast_to(ti[:, :, None], (npair, mmax + 1, mmax + 1))
    kk = np.broadcast_to(tj[:, None, :], (npair, mmax + 1, mmax + 1))
    rr = np.broadcast_to(r[:, None, None], hh.shape)
    big = bivariate_normal_cdf(hh.ravel(), kk.ravel(), rr.ravel()).reshape(hh.shape)
    pi = big[:, 1:, 1:] - big[:, :-1, 1:] - big[:, 1:, :-1] + big[:, :-1, :-1]
    s2 = (sr * sr)[:, None, None]
    dens2 = np.exp(-(hh ** 2 - 2 * rr * hh * kk + kk ** 2) / (2 * s2)) / (2 * np.pi * sr[:, None, None])
    dpr = dens2[:, 1:, 1:] - dens2[:, :-1, 1:] - dens2[:, 1:, :-1] + dens2[:, :-1, :-1]
    pi_safe = np.maximum(pi, 1e-300)
    bidx = np.arange(npair)[None, :]
    ci, cj = codes[:, vi], codes[:, vj]  # (n, B)
    p_case = pi_safe[bidx, ci, cj]
    s_rho = (dpr / pi_safe)[bidx, ci, cj]
    out = s_rho.copy()
    kidx = np.arange(m1)
    for t_own, t_oth, c_own, c_oth, own, transpose in ((ti, tj, ci, cj, vi, False), (tj, ti, cj, ci, vj, True)):
        tk = t_own[:, 1:-1]  # (B, m−1) thresholds of the own item
        # d[b, k, c] = φ(τ_k) [Φ((t_oth[c+1] − ρτ_k)/s) − Φ((t_oth[c] − ρτ_k)/s)]
        z = (t_oth[:, None, :] - r[:, None, None] * tk[:, :, None]) / sr[:, None, None]
        d = _phi(tk)[:, :, None] * np.diff(ndtr(z), axis=2)  # (B, m−1, m)
        dsel = d[bidx[:, :, None], kidx[None, None, :], c_oth[:, :, None]]  # (n, B, m−1)
        ind = (c_own[:, :, None] == kidx[None, None, :]) * 1.0 - (c_own[:, :, None] == kidx[None, None, :] + 1)
        dth = dsel * ind / p_case[:, :, None]
        a21 = np.einsum("nb,nbk->bk", s_rho, dth)
        coef = np.einsum("bkl,bl->bk", ainv_all[own], a21)
        out -= np.einsum("bnk,bk->nb", s_all[own], coef)
    return out / np.sum(s_rho ** 2, axis=0)[None, :]
