"""The robust step of the CFA/SEM engine: Huber–White sandwich standard errors and the
Yuan–Bentler scaled test for MLR, with complete data and under FIML."""

from __future__ import annotations

import numpy as np

from ..errors import PeerscaleError
from .cfa_engine import GroupData, _Engine


def _robust(engine: _Engine, theta: np.ndarray, df: int, invert=np.linalg.inv) -> tuple[np.ndarray, dict]:
    """With cluster ids on the data (``cluster=``) this is :func:`_robust_cluster`.

    Huber–White sandwich ``vcov = H^{-1} B0 H^{-1} / N`` (H the observed information, B0 the
    first-order information ``Σ_g w_g Δ'WΓ₀WΔ``, Γ₀ the casewise moments centred at the
    implied moments) and the Yuan–Bentler scaling factor in lavaan's
    ``"yuan.bentler.mplus"`` form: ``c = [Σ_g tr(Γ_g W_g^{(S)}) − tr(H^{-1} B0)] / df``, with the
    h1 part from the unstructured (sample) information and Γ the 4th-moment matrix.
    ``invert`` inverts an information matrix on the constraint surface."""
    def per_group(g, d, sigma, mu):
        wg = engine.weight(np.linalg.inv(sigma))
        dl = engine.delta(theta, g)
        trace = _h1_trace(engine, engine.weight(np.linalg.inv(d.cov)), None, _gamma(d, engine))
        gamma0 = _gamma(d, engine, sigma, mu if engine.spec.meanstructure else None)
        return engine.w[g] * dl.T @ wg @ gamma0 @ wg @ dl, trace
    if any(d.cluster is not None for d in engine.data):
        return _robust_cluster(engine, theta, df, invert)
    return _sandwich_over_groups(engine, theta, df, invert, per_group)


def _cluster_sums(z: np.ndarray, cluster: np.ndarray) -> np.ndarray:
    """Sum the rows of ``z`` within each cluster (R's ``rowsum``)."""
    _, inv = np.unique(cluster, return_inverse=True)
    out = np.zeros((int(inv.max()) + 1, z.shape[1]))
    np.add.at(out, inv.ravel(), z)
    return out


def _h1_observed_structured(engine: _Engine, d: GroupData, sigma: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """lavaan's observed information of the normal model at the implied (μ, Σ) given the
    sample moments (``lav_mvnorm_information_observed_samplestats``), in (μ, vech Σ)
    coordinates: with W̃ = S + (x̄ − μ)(x̄ − μ)', ``I_μμ = Σ⁻¹``,
    ``I_Σμ = D'((Σ⁻¹(x̄ − μ)) ⊗ Σ⁻¹)``, ``I_ΣΣ = ½ D'(Σ⁻¹ ⊗ Σ⁻¹(2W̃ − Σ)Σ⁻¹)D``."""
    si = np.linalg.inv(sigma)
    diff = d.mean - mu
    aaa = si @ (2.0 * (d.cov + np.outer(diff, diff)) - sigma) @ si
    vi, vj = engine.vi, engine.vj
    a_, b_ = vi[:, None], vj[:, None]
    c_, e_ = vi[None, :], vj[None, :]
    diag = vi == vj
    # D'(A ⊗ B)D over the vech pairs (a, b) x (c, e): Σ over both orders of each pair of A[b,e]B[a,c]
    t = si[b_, e_] * aaa[a_, c_] + si[a_, e_] * aaa[b_, c_] + si[b_, c_] * aaa[a_, e_] + si[a_, c_] * aaa[b_, e_]
    mult = np.where(diag, 2.0, 1.0)
    i22 = 0.5 * t / np.outer(mult, mult)
    v = si @ diff
    i21 = (v[vj][:, None] * si[vi, :] + v[vi][:, None] * si[vj, :]) / mult[:, None]
    p = engine.p
    out = np.zeros((p + len(vi), p + len(vi)))
    out[:p, :p] = si
    out[p:, :p] = i21
    out[:p, p:] = i21.T
    out[p:, p:] = i22
    return out


def _robust_cluster(engine: _Engine, theta: np.ndarray, df: int, invert=np.linalg.inv) -> tuple[np.ndarray, dict]:
    """Cluster-robust standard errors and the Yuan–Bentler (Mplus) scaled test of lavaan's
    ``cluster=`` argument for a single-level model (``se="robust.cluster"``,
    ``test="yuan.bentler.mplus"``, lavaan 0.6-14).

    The casewise scores ``s_i = ∂ℓ_i/∂(μ, vech Σ)`` at the implied moments are summed within
    each of the C clusters of a group, ``B1_g = C/(C − 1) Σ_c s_c s_c' / n_g``, and
    ``vcov = H⁻¹ (Σ_g f_g Δ_g'B1_gΔ_g) H⁻¹ / N`` with H the observed information (Hessian).
    The scaling factor is ``c = [Σ_g tr(A1_g⁻¹ B1h_g) − tr(E⁻¹ B0)] / df`` with A1 the
    unstructured h1 information at the sample moments, ``B1h = A1 Γ_cl A1`` where
    ``Γ_cl = C/(C − 1) Σ_c z_c z_c'/n_g`` sums the centred moment deviations within
    clusters (lavaan's clustered NACOV), and E the structured h1
    observed information ``Σ_g f_g Δ_g' I_obs(μ̂, Σ̂; x̄, S) Δ_g`` (lavaan sets
    ``observed.information = "h1"`` for the test when clustered)."""
    if not engine.spec.meanstructure:
        raise PeerscaleError("cluster-robust standard errors need a mean structure")
    k = engine.spec.n_free
    hobs = engine.observed_information(theta)
    hinv = _inverse(invert, hobs)
    b0 = np.zeros((k, k))
    e_test = np.zeros((k, k))
    trace_h1 = 0.0
    n_clusters = []
    for g, d in enumerate(engine.data):
        sigma, mu, *_ = engine.implied(theta, g)
        dl = engine.delta(theta, g)
        b1, nc = _clustered_first_order(d, engine, mu, sigma)
        n_clusters.append(nc)
        b0 += engine.w[g] * dl.T @ b1 @ dl
        e_test += engine.w[g] * dl.T @ _h1_observed_structured(engine, d, sigma, mu) @ dl
        trace_h1 += _h1_trace(engine, engine.weight(np.linalg.inv(d.cov)), None,
                               _gamma(d, engine, cluster=d.cluster) * (nc / (nc - 1.0)))
    vcov = hinv @ b0 @ hinv / engine.ntot
    if df > 0:
        einv = _inverse(invert, e_test)
        trace_h0 = float(np.sum(einv * b0.T))
        c = (trace_h1 - trace_h0) / df
        if c < 0:
            c = np.nan
    else:
        trace_h0, c = np.nan, np.nan
    return vcov, {"c": c, "trace_h1": trace_h1, "trace_h0": trace_h0, "cluster": True, "n_clusters": n_clusters}


def _sandwich_over_groups(engine: _Engine, theta, df, invert, per_group):
    """Sum each group's first-order information B0 and h1 trace (``per_group``), then the
    sandwich and the scaling factor."""
    k = engine.spec.n_free
    hobs = engine.observed_information(theta)
    b0 = np.zeros((k, k))
    trace_h1 = 0.0
    for g, d in enumerate(engine.data):
        sigma, mu, *_ = engine.implied(theta, g)
        b, t = per_group(g, d, sigma, mu)
        b0 += b
        trace_h1 += t
    return sandwich(_inverse(invert, hobs), b0, trace_h1, engine.ntot, df)


def _exo_moments(engine: _Engine) -> np.ndarray:
    """Positions in (μ, vech Σ) of the moments of fixed exogenous covariates (their means and
    their covariances with each other), which lavaan leaves out of the h1 information."""
    spec = engine.spec
    if not spec.exogenous:
        return np.zeros(0, dtype=int)
    x = {spec.observed.index(v) for v in spec.exogenous}
    p = engine.p
    nm = p if spec.meanstructure else 0
    idx = [i for i in range(p) if i in x] if nm else []
    idx += [nm + k for k, (a, b) in enumerate(zip(engine.vi, engine.vj)) if a in x and b in x]
    return np.array(idx, dtype=int)


def _h1_trace(engine: _Engine, a1: np.ndarray, b1: np.ndarray | None, gamma: np.ndarray | None = None) -> float:
    """``tr(A1⁻¹ B1)`` over the moments that are not fixed-x (lavaan's
    ``lav_test_yuan_bentler_mplus_trace``); ``gamma`` gives ``B1 = A1 Γ A1`` (complete data)."""
    if b1 is None:
        b1 = a1 @ gamma @ a1
    drop = _exo_moments(engine)
    if len(drop):
        keep = np.setdiff1d(np.arange(a1.shape[0]), drop)
        a1, b1 = a1[np.ix_(keep, keep)], b1[np.ix_(keep, keep)]
    return float(np.sum(b1 * np.linalg.inv(a1).T))


def _inverse(invert, info):
    try:
        return invert(info)
    except np.linalg.LinAlgError:
        raise PeerscaleError("the information matrix is singular, so robust standard errors are undefined",
                             hint="check the model's identification") from None


def _gamma(d: GroupData, engine: _Engine, sigma: np.ndarray | None = None,
           mu: np.ndarray | None = None, cluster: np.ndarray | None = None) -> np.ndarray:
    """Mean cross-product of the casewise moment deviations ``z_i − E z`` with
    ``z_i = (x_i, vech((x_i − μ)(x_i − μ)'))`` (divisor n). Without ``sigma`` it is centred at
    the sample moments (Γ, the 4th-moment matrix); with the model's ``sigma``/``mu`` it is
    centred at the implied moments, which is what the casewise model scores need when a
    group's scores do not sum to zero (equality constraints across groups). ``cluster``
    sums the deviations within clusters first."""
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
    if cluster is not None:  # deviations summed within clusters (lavaan's cluster.idx)
        zc = _cluster_sums(zc, cluster)
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


def _robust_fiml(engine: _Engine, theta: np.ndarray, df: int, invert=np.linalg.inv) -> tuple[np.ndarray, dict]:
    """With cluster ids on the data this is :func:`_robust_fiml_cluster`.

    MLR with FIML, as lavaan's ``estimator="MLR", missing="ml"``: sandwich
    ``H⁻¹ B0 H⁻¹/N`` with H the observed information and B0 the mean outer product of the
    casewise scores ``Δ' ∂ℓ_i/∂(μ, vech Σ)``; Yuan–Bentler (Mplus variant) scaling
    ``c = [Σ_g tr(A1_g⁻¹ B1_g) − tr(H⁻¹ B0)]/df`` with A1, B1 the observed and first-order
    information of the saturated model at its EM estimates."""
    def per_group(g, d, sigma, mu):
        sc = _casewise_moment_scores(d, engine, mu, sigma) @ engine.delta(theta, g)
        # saturated model at the EM estimates: first-order and observed information (the
        # same for every model of these data, so kept with them)
        if d.h1_trace is None:
            m1 = _casewise_moment_scores(d, engine, d.mean, d.cov)
            a1 = _h1_observed_information(d, engine)
            d.h1_trace = _h1_trace(engine, a1, m1.T @ m1 / d.n)
        return sc.T @ sc / engine.ntot, d.h1_trace
    if any(d.cluster is not None for d in engine.data):
        return _robust_fiml_cluster(engine, theta, df, invert)
    vcov, info = _sandwich_over_groups(engine, theta, df, invert, per_group)
    return vcov, {**info, "fiml": True}


def _clustered_first_order(d: GroupData, engine: _Engine, mu, sigma) -> tuple[np.ndarray, int]:
    """``B1 = C/(C − 1) Σ_c s_c s_c' / n`` from the casewise scores at (mu, sigma) summed within
    the group's C clusters, and C; fewer than two clusters is an error."""
    sc = _cluster_sums(_casewise_moment_scores(d, engine, mu, sigma), d.cluster)
    nc = sc.shape[0]
    if nc < 2:
        raise PeerscaleError("cluster-robust standard errors need at least two clusters"
                             + (f" in group {d.name!r}" if d.name is not None else ""),
                             hint="check the cluster column, or leave out cluster")
    return sc.T @ sc * (nc / (nc - 1.0)) / d.n, nc


def _robust_fiml_cluster(engine: _Engine, theta: np.ndarray, df: int, invert=np.linalg.inv) -> tuple[np.ndarray, dict]:
    """lavaan's ``cluster=`` with ``missing="ml"``: the casewise FIML scores summed within
    clusters, ``B1_g = C/(C − 1) Σ_c s_c s_c' / n_g``, ``vcov = H⁻¹ (Σ_g f_g Δ'B1Δ) H⁻¹ / N``;
    the Yuan–Bentler (Mplus) factor ``c = [Σ_g tr(A1⁻¹ B1h) − tr(E⁻¹ B0)] / df`` with A1 the
    observed h1 information at the EM moments, B1h the clustered first-order h1 information
    there, and E the h1 observed information at the implied moments (``observed.information =
    "h1"``)."""
    k = engine.spec.n_free
    hinv = _inverse(invert, engine.observed_information(theta))
    b0 = np.zeros((k, k))
    e_test = np.zeros((k, k))
    trace_h1 = 0.0
    n_clusters = []
    for g, d in enumerate(engine.data):
        sigma, mu, *_ = engine.implied(theta, g)
        dl = engine.delta(theta, g)
        b1, nc = _clustered_first_order(d, engine, mu, sigma)
        n_clusters.append(nc)
        b0 += engine.w[g] * dl.T @ b1 @ dl
        e_test += engine.w[g] * dl.T @ _h1_observed_information(d, engine, mu, sigma) @ dl
        m1 = _cluster_sums(_casewise_moment_scores(d, engine, d.mean, d.cov), d.cluster)
        trace_h1 += _h1_trace(engine, _h1_observed_information(d, engine), m1.T @ m1 * (nc / (nc - 1.0)) / d.n)
    vcov = hinv @ b0 @ hinv / engine.ntot
    if df > 0:
        trace_h0 = float(np.sum(_inverse(invert, e_test) * b0.T))
        c = (trace_h1 - trace_h0) / df
        c = c if c > 0 else np.nan
    else:
        trace_h0, c = np.nan, np.nan
    return vcov, {"c": c, "trace_h1": trace_h1, "trace_h0": trace_h0, "fiml": True, "cluster": True,
                  "n_clusters": n_clusters}


def sandwich(hinv: np.ndarray, b0: np.ndarray, trace_h1: float, n: int, df: int):
    """Huber–White ``vcov = H⁻¹ B0 H⁻¹ / N`` and the Yuan–Bentler scaling factor
    ``c = (trace_h1 − tr(H⁻¹ B0)) / df``, shared by MLR with complete data and with FIML
    (``hinv``: the inverse of the observed information on the constraint surface)."""
    trace_h0 = float(np.sum(hinv * b0.T))
    c = (trace_h1 - trace_h0) / df if df > 0 else np.nan
    return hinv @ b0 @ hinv / n, {"c": c, "trace_h1": trace_h1, "trace_h0": trace_h0}


def _h1_observed_information(d: GroupData, engine: _Engine, mean=None, cov=None) -> np.ndarray:
    """Observed information per case of the saturated model at its EM estimates (or at
    ``mean``/``cov``, e.g. the implied moments), in
    (μ, vech Σ) coordinates, analytically. With, per pattern, K = Σ_oo⁻¹ (zero-padded),
    u_i = K e_i, M = Σ_i u_i u_i' and s = Σ_i u_i over its cases:
    ``−∂²ℓ/∂μ∂μ' = Σ n_p K``, ``−∂²ℓ/∂μ_r∂Σ_ab = Σ K_ra s_b``,
    ``−∂²ℓ/∂Σ_ab∂Σ_cd = ½ Σ (K_bc M_ad + M_bc K_ad − n_p K_bc K_ad)``, symmetrised over
    (a, b) and (c, d) for the vech parameters, all divided by n."""
    b = d.batch
    p = engine.p
    vi, vj = engine.vi, engine.vj
    k_all, _ = b.inverses(d.cov if cov is None else cov, logdet=False)
    u = b.residual_scores(d.mean if mean is None else mean, k_all)
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


# ---------------------------------------------------------------------------------------
# robust indices under FIML (lavaan's lav_fit_fiml_corrected, version V3)
# ---------------------------------------------------------------------------------------

def _h1_parts(engine: _Engine, d: GroupData):
    """Wm (observed h1 information with missing data), Jm (first-order h1 information) and
    Wc (complete-data h1 information at the EM moments), all at the EM estimates."""
    wm = _h1_observed_information(d, engine)
    m1 = _casewise_moment_scores(d, engine, d.mean, d.cov)
    jm = m1.T @ m1 / d.n
    wc = engine.weight(np.linalg.inv(d.cov))
    return wm, jm, wc


def _complete_chisq(engine: _Engine, d: GroupData, sigma, mu) -> float:
    """n_g·F_ML of implied (Σ, μ) against the EM moments as if they were complete-data
    sample moments."""
    p = engine.p
    si = np.linalg.inv(sigma)
    diff = d.mean - mu
    f = np.linalg.slogdet(sigma)[1] + np.sum(si * d.cov) - np.linalg.slogdet(d.cov)[1] - p + diff @ si @ diff
    return float(d.n * f)


def fiml_corrected(engine: _Engine, theta: np.ndarray, df: int, base_engine: _Engine,
                   base_theta: np.ndarray, base_df: int, invert=np.linalg.inv) -> dict:
    """The FIML-corrected robust statistics behind lavaan's ``cfi.robust``, ``tli.robust`` and
    ``rmsea.robust`` with ``missing="ml"`` and MLR (Zhang & Savalei 2020; lavaan's
    ``lav_fit_fiml_corrected``, V3): ``XX3 = N·F_ML(θ̂; Σ̃, μ̃)`` with the EM moments taken as
    complete-data moments, ``U = Wm − Wm Δ (Δ'WmΔ)⁻¹ Δ'Wm`` (groups stacked with weights
    n_g/N), ``Γ = Wm⁻¹ Jm Wm⁻¹`` and ``c = tr(U Wm⁻¹ Wc Wm⁻¹ U Γ)/df``; the same for the
    independence model gives ``XX3.null`` and ``c_null``."""
    fg = engine.w
    keep = np.setdiff1d(np.arange(engine.p * engine.spec.meanstructure + len(engine.vi)), _exo_moments(engine))

    def sub(m):  # fixed-x moments are left out of the h1 information, as lavaan zeroes them
        return m[np.ix_(keep, keep)]
    parts = [tuple(sub(m) for m in _h1_parts(engine, d)) for d in engine.data]
    wm_all = _bdiag([f * wm for f, (wm, _, _) in zip(fg, parts)])
    wmi_all = _bdiag([np.linalg.inv(wm) / f for f, (wm, _, _) in zip(fg, parts)])
    wc_all = _bdiag([f * wc for f, (_, _, wc) in zip(fg, parts)])
    gamma_all = _bdiag([np.linalg.inv(wm) @ jm @ np.linalg.inv(wm) / f for f, (wm, jm, _) in zip(fg, parts)])
    inner = wmi_all @ wc_all @ wmi_all

    def k_stat(eng, th):
        dl = np.vstack([eng.delta(th, g)[keep] for g in range(len(eng.data))])
        info = dl.T @ wm_all @ dl
        einv = invert(info) if eng is engine else np.linalg.inv(info)
        u = wm_all - wm_all @ dl @ einv @ dl.T @ wm_all
        return float(np.trace(u @ inner @ u @ gamma_all))

    xx3 = sum(_complete_chisq(engine, d, *engine.implied(theta, g)[:2]) for g, d in enumerate(engine.data))
    xx3_null = sum(_complete_chisq(base_engine, d, *base_engine.implied(base_theta, g)[:2])
                   for g, d in enumerate(base_engine.data))
    c3 = k_stat(engine, theta) / df if df > 0 else np.nan
    c3_null = k_stat(base_engine, base_theta) / base_df
    return {"XX3": xx3, "c3": c3, "XX3_null": xx3_null, "c3_null": c3_null}


def _bdiag(blocks):
    n = sum(b.shape[0] for b in blocks)
    out = np.zeros((n, n))
    k = 0
    for b in blocks:
        out[k:k + b.shape[0], k:k + b.shape[0]] = b
        k += b.shape[0]
    return out


# ---------------------------------------------------------------------------------------
# DWLS (WLSMV): robust standard errors and the mean-and-variance adjusted test
# ---------------------------------------------------------------------------------------

def dwls_robust(engine: _Engine, theta: np.ndarray, df: int, invert=np.linalg.inv) -> tuple[np.ndarray, dict]:
    """lavaan's ``se="robust.sem"`` and ``test="scaled.shifted"`` for DWLS:
    ``vcov = E⁻¹ (Σ_g f_g Δ_g'W_gΓ_gW_gΔ_g) E⁻¹ / (N − G)`` with ``E = Σ_g f_g Δ_g'W_gΔ_g``
    (f_g = n_g/N, W_g the diagonal weights, Γ_g the NACOV), and with
    ``U = V − VΔE⁻¹Δ'V`` (V = ⊕ f_g W_g, Γ = ⊕ Γ_g/f_g) the scaled-shifted statistic
    ``a·T + b``, ``a = √(df/tr((UΓ)²))``, ``b = df − a·tr(UΓ)`` (Asparouhov & Muthén 2010)."""
    k = engine.spec.n_free
    fg = engine.w
    dls = [engine.wls_delta(theta, g) for g in range(len(engine.data))]
    e = sum(f * dl.T @ (d.ordinal.wls_vd[:, None] * dl) for f, dl, d in zip(fg, dls, engine.data))
    einv = _inverse(invert, e)
    meat = np.zeros((k, k))
    for f, dl, d in zip(fg, dls, engine.data):
        wd = d.ordinal.wls_vd[:, None] * dl
        meat += f * wd.T @ d.ordinal.nacov @ wd
    n_eff = engine.ntot - len(engine.data)
    vcov = einv @ meat @ einv / n_eff
    tr1, tr2 = _ugamma_traces(engine, dls, einv)
    a = np.sqrt(df / tr2) if df > 0 else np.nan
    b = df - a * tr1 if df > 0 else np.nan
    return vcov, {"a": a, "b": b, "trace_ugamma": tr1, "trace_ugamma2": tr2, "einv": einv, "deltas": dls}


def _ugamma_traces(engine: _Engine, dls, einv) -> tuple[float, float]:
    """tr(UΓ) and tr((UΓ)²) without forming U: with B = VΔ, Q = B'ΓB and R = (ΓB)'V(ΓB),
    ``tr(UΓ) = tr(VΓ) − tr(E⁻¹Q)`` and ``tr((UΓ)²) = tr((VΓ)²) − 2 tr(E⁻¹R) + tr((E⁻¹Q)²)``
    (V = ⊕ f_g W_g, Γ = ⊕ Γ_g/f_g block diagonal)."""
    k = einv.shape[0]
    q = np.zeros((k, k))
    r = np.zeros((k, k))
    tr_vg, tr_vg2 = 0.0, 0.0
    for f, dl, d in zip(engine.w, dls, engine.data):
        v = f * d.ordinal.wls_vd
        gam = d.ordinal.nacov / f
        b = v[:, None] * dl
        gb = gam @ b
        q += b.T @ gb
        r += gb.T @ (v[:, None] * gb)
        vg = v[:, None] * gam
        tr_vg += float(np.trace(vg))
        tr_vg2 += float(np.sum(vg * vg.T))
    eq = einv @ q
    return tr_vg - float(np.trace(eq)), tr_vg2 - 2.0 * float(np.sum(einv * r.T)) + float(np.sum(eq * eq.T))


def dwls_baseline(engine_data, n_groups: int) -> dict:
    """The independence model of ordinal items (thresholds free, correlations 0): its DWLS
    statistic ``Σ_g (n_g − 1) Σ w r²`` and scaled-shifted a, b (U = V on the correlations)."""
    ntot = sum(d.n for d in engine_data)
    t, blocks_v, blocks_g = 0.0, [], []
    for d in engine_data:
        st = d.ordinal
        f = d.n / ntot
        r = st.wls_obs[st.n_th:]
        w = st.wls_vd[st.n_th:]
        t += (d.n - 1) * float(np.sum(w * r ** 2))
        blocks_v.append(f * w)
        blocks_g.append(st.nacov[st.n_th:, st.n_th:] / f)
    v = np.concatenate(blocks_v)
    gam = _bdiag(blocks_g)
    ug = v[:, None] * gam
    tr1, tr2 = float(np.trace(ug)), float(np.sum(ug * ug.T))
    dfb = len(v)
    a = np.sqrt(dfb / tr2)
    return {"chisq": t, "df": dfb, "a": a, "b": dfb - a * tr1}
