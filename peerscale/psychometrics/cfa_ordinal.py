"""CFA of ordinal items: DWLS on polychoric correlations, lavaan's ``estimator="WLSMV"``.

As ``lavaan::cfa(ordered=TRUE, estimator="WLSMV")`` (lavaan 0.6-14): thresholds and
polychoric correlations of complete cases by the two-step method, their asymptotic
covariance Γ from casewise scores (Muthén 1984; lavaan's ``muthen1984``), then a DWLS fit
of the correlations with the diagonal of Γ as weights (delta parameterisation), robust
sandwich standard errors and the mean-and-variance adjusted test (Asparouhov & Muthén 2010).
The model specification and result are those of :mod:`peerscale.psychometrics.cfa`.

References: Muthén, B. (1984). Psychometrika, 49, 115-132. Asparouhov, T. & Muthén, B.
(2010). Simple second order chi-square correction. Mplus technical appendix. Rosseel, Y.
(2012). lavaan. Journal of Statistical Software, 48(2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import PeerscaleError
from .cfa_engine import GroupData, _Engine, _fabin_like_start, _start_values
from .cfa_model import ModelSpec, Param, _order_variables, build_model
from .cfa_results import CFAResult
from .lavaan_syntax import parse_model

_BIG = 12.0  # stands in for ±∞ thresholds in bivariate normal probabilities


@dataclass
class OrdinalMoments:
    """Two-step polychoric correlations of complete cases with their asymptotic
    covariance ``gamma`` (m × m over the p(p−1)/2 correlations, ``vi > vj`` order)."""

    rho: np.ndarray
    thresholds: list[np.ndarray]
    gamma: np.ndarray
    n: int
    vi: np.ndarray
    vj: np.ndarray


def ordinal_moments(x: np.ndarray, columns: list[str]) -> OrdinalMoments:
    """Thresholds ``τ_c = Φ⁻¹(P(X ≤ c))``, polychoric ρ (two-step ML, via
    :func:`peerscale.psychometrics.polychoric.polychoric_matrix`) and their asymptotic
    covariance as lavaan's ``muthen1984`` (Muthén 1984), which uses outer products of the
    casewise scores in place of expected information: per case
    ``IF_ρ = N (s_ρ − A21 A11⁻¹ s_τ) / Σ s_ρ²`` with ``s_ρ = ∂log π_ab/∂ρ``, ``s_τ`` the
    univariate threshold scores of both items, ``A11 = Σ s_τ s_τ'`` (per item) and
    ``A21 = Σ s_ρ (∂log π_ab/∂τ)'``; ``Γ = Σ IF IF'/(N − 1)`` (lavaan's divisor, so that its
    ``T = N·F`` is in effect ``(N − 1)·F`` with unit-scaled weights)."""
    from scipy.special import ndtr, ndtri

    from .polychoric import bivariate_normal_cdf, polychoric_matrix

    n, p = x.shape
    phi1 = lambda z: np.exp(-z ** 2 / 2) / np.sqrt(2 * np.pi)  # noqa: E731
    codes, taus, s_tau, a11_inv = [], [], [], []
    for j in range(p):
        cats, c = np.unique(x[:, j], return_inverse=True)
        if len(cats) < 2:
            raise PeerscaleError("ordinal item has a single answer category", column=columns[j])
        props = np.bincount(c, minlength=len(cats)) / n
        tau = ndtri(np.cumsum(props)[:-1])
        k = np.arange(len(tau))
        sc = phi1(tau)[None, :] * ((c[:, None] == k[None, :]) * 1.0 - (c[:, None] == k[None, :] + 1)) \
            / props[c][:, None]
        codes.append(c)
        taus.append(tau)
        s_tau.append(sc)
        a11_inv.append(np.linalg.inv(sc.T @ sc))
    poly = polychoric_matrix(pd.DataFrame(x, columns=columns), correct=0.0)
    rho = np.array(poly.rho, dtype=float)
    vi, vj = np.tril_indices(p, -1)
    influence = np.zeros((n, len(vi)))
    for m_, (i, j) in enumerate(zip(vi, vj)):
        r = rho[i, j]
        s = np.sqrt(1 - r * r)
        ti = np.concatenate([[-_BIG], np.clip(taus[i], -_BIG, _BIG), [_BIG]])
        tj = np.concatenate([[-_BIG], np.clip(taus[j], -_BIG, _BIG), [_BIG]])
        hh, kk = np.meshgrid(ti, tj, indexing="ij")
        big_phi = bivariate_normal_cdf(hh.ravel(), kk.ravel(), np.full(hh.size, r)).reshape(hh.shape)
        pi = big_phi[1:, 1:] - big_phi[:-1, 1:] - big_phi[1:, :-1] + big_phi[:-1, :-1]
        pi = np.maximum(pi, 1e-300)
        dens2 = np.exp(-(hh ** 2 - 2 * r * hh * kk + kk ** 2) / (2 * s * s)) / (2 * np.pi * s)
        dpr = dens2[1:, 1:] - dens2[:-1, 1:] - dens2[1:, :-1] + dens2[:-1, :-1]
        s_rho = (dpr / pi)[codes[i], codes[j]]
        inf = s_rho.copy()
        # ∂log π_ab/∂τ_k for item i's thresholds: D_kb ([a = k] − [a = k+1]) / π_ab
        for t_own, t_oth, c_own, c_oth, st, ainv, transpose in (
                (ti, tj, codes[i], codes[j], s_tau[i], a11_inv[i], False),
                (tj, ti, codes[j], codes[i], s_tau[j], a11_inv[j], True)):
            tk = t_own[1:-1]
            d = phi1(tk)[:, None] * np.diff(ndtr((t_oth[None, :] - r * tk[:, None]) / s), axis=1)
            pig = pi.T if transpose else pi
            k = np.arange(len(tk))
            dth = d[:, c_oth].T * ((c_own[:, None] == k[None, :]) * 1.0 - (c_own[:, None] == k[None, :] + 1)) \
                / pig[c_own, c_oth][:, None]
            a21 = s_rho @ dth
            inf -= st @ (ainv @ a21)
        influence[:, m_] = n * inf / np.sum(s_rho ** 2)
    gamma = influence.T @ influence / (n - 1)  # lavaan's scaling (its tests then use N − 1)
    return OrdinalMoments(rho, taus, gamma, n, vi, vj)


def _fix_ov_variances(spec: ModelSpec) -> ModelSpec:
    """Delta parameterisation: observed residual variances are ``1 − communality`` (not free)."""
    p = len(spec.observed)
    mapping, params = {}, []
    for pr in spec.params:
        if pr.mat == "S" and pr.i == pr.j and pr.i < p:
            params.append(Param(pr.lhs, pr.op, pr.rhs, pr.group, pr.mat, pr.i, pr.j, -1, 1.0, pr.label))
            continue
        if pr.free >= 0:
            mapping.setdefault(pr.free, len(mapping))
            pr = Param(pr.lhs, pr.op, pr.rhs, pr.group, pr.mat, pr.i, pr.j, mapping[pr.free], pr.value, pr.label)
        params.append(pr)
    return ModelSpec(spec.observed, spec.latent, params, spec.n_groups, False, len(mapping))


def fit_dwls(model, data: pd.DataFrame, *, std_lv: bool = False, orthogonal: bool = False) -> CFAResult:
    """CFA of ordinal items as ``lavaan::cfa(ordered=TRUE, estimator="WLSMV")``: DWLS on the
    polychoric correlations, ``F = Σ_{i<j} (r_ij − σ_ij)²/γ_ij`` with γ the diagonal of Γ
    (complete cases, delta parameterisation), robust sandwich SEs
    ``(Δ'WΔ)⁻¹Δ'WΓWΔ(Δ'WΔ)⁻¹/N``, ``T = N·F`` and the mean-and-variance adjusted
    ("scaled.shifted", Asparouhov & Muthén 2010) statistic ``a·T + b`` with
    ``a = √(df/tr((UΓ)²))``, ``b = df − a·tr(UΓ)``, ``U = W − WΔ(Δ'WΔ)⁻¹Δ'W``."""
    terms = parse_model(model) if isinstance(model, str) else model
    observed, _ = _order_variables(terms)
    missing_cols = [v for v in observed if v not in data.columns]
    if missing_cols:
        raise PeerscaleError(f"the model names {missing_cols[0]!r}, which is not a data column",
                             column=missing_cols[0])
    x = data[observed].dropna().to_numpy(dtype=float, copy=True)
    if x.shape[0] <= len(observed):
        raise PeerscaleError(f"only {x.shape[0]} complete rows for {len(observed)} ordinal items")
    mom = ordinal_moments(x, observed)
    spec = _fix_ov_variances(build_model(terms, std_lv=std_lv, orthogonal=orthogonal, meanstructure=False))
    gd = GroupData(None, mom.n, np.zeros(len(observed)), mom.rho, x)
    engine = _Engine(spec, [gd])
    engine.delta_parameterization = True
    # off-diagonal rows of the vech Jacobian, in (vi > vj) order
    lower = {(a, b): k for k, (a, b) in enumerate(zip(engine.vi, engine.vj))}
    rows = np.array([lower[(a, b)] for a, b in zip(mom.vi, mom.vj)])
    r_vec = mom.rho[mom.vi, mom.vj]
    w = 1.0 / np.diag(mom.gamma)

    def sigma_vec(theta):
        s, *_ = engine.implied(theta, 0)
        return s[mom.vi, mom.vj]

    theta = _fabin_like_start(spec, [gd], _start_values(spec, [gd]))
    f_old = np.inf
    converged = False
    for it in range(200):
        resid = r_vec - sigma_vec(theta)
        f = float(np.sum(w * resid ** 2))
        dl = engine.delta(theta, 0)[rows]
        step = np.linalg.solve(dl.T @ (w[:, None] * dl), dl.T @ (w * resid))
        t = 1.0
        while t > 1e-8:
            cand = theta + t * step
            if np.sum(w * (r_vec - sigma_vec(cand)) ** 2) <= f + 1e-15:
                break
            t /= 2
        theta = cand
        if abs(f_old - f) < 1e-14 and np.max(np.abs(t * step)) < 1e-9:
            converged = True
            break
        f_old = f
    resid = r_vec - sigma_vec(theta)
    f = float(np.sum(w * resid ** 2))
    dl = engine.delta(theta, 0)[rows]
    a_inv = np.linalg.inv(dl.T @ (w[:, None] * dl))
    wd = w[:, None] * dl
    vcov = a_inv @ (wd.T @ mom.gamma @ wd) @ a_inv / mom.n
    u = np.diag(w) - wd @ a_inv @ wd.T
    ug = u @ mom.gamma
    df = len(r_vec) - spec.n_free
    t_stat = mom.n * f
    tr1, tr2 = float(np.trace(ug)), float(np.sum(ug * ug.T))
    a = np.sqrt(df / tr2) if df > 0 else np.nan
    b = df - a * tr1 if df > 0 else np.nan
    wg = w[:, None] * mom.gamma
    tb = mom.n * float(np.sum(w * r_vec ** 2))
    dfb = len(r_vec)
    ab = np.sqrt(dfb / float(np.sum(wg * wg.T)))
    bb = dfb - ab * float(np.trace(wg))
    # residual variances for the report: 1 − communality
    _, s_mat, _ = engine.matrices(theta, 0)
    p = len(observed)
    spec.params = [Param(pr.lhs, pr.op, pr.rhs, pr.group, pr.mat, pr.i, pr.j, -1, s_mat[pr.i, pr.i], pr.label)
                   if pr.mat == "S" and pr.i == pr.j and pr.i < p else pr for pr in spec.params]
    engine = _Engine(spec, [gd])
    engine.delta_parameterization = True
    res = CFAResult(spec=spec, data=[gd], theta=theta, vcov=vcov, fmin2=f, group_f=[f], estimator="DWLS",
                    converged=converged, iterations=it + 1, group_names=[None], _engine=engine)
    res.scaling = {"a": a, "b": b, "df": df, "chisq": t_stat, "baseline_chisq": tb, "baseline_df": dfb,
                   "baseline_a": ab, "baseline_b": bb, "resid": resid,
                   "n_thresholds": int(sum(len(t) for t in mom.thresholds)), "thresholds": mom.thresholds}
    return res
