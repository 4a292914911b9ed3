"""The robust step of the CFA/SEM engine: Huber–White sandwich standard errors and the
Yuan–Bentler scaled test for MLR, with complete data and under FIML."""

from __future__ import annotations

import numpy as np

from ..errors import PeerscaleError
from .cfa_engine import GroupData, _Engine


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
