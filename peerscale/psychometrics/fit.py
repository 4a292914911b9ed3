"""Fit measures of a fitted CFA/SEM, computed as ``lavaan::fitMeasures`` (lavaan 0.6-14).

With N the total sample size, G the number of groups, T = χ² = N·F_ML (lavaan uses N, not
N − 1), df, and the baseline (independence) model T_b, df_b (all variances and, with a mean
structure, intercepts free; every covariance zero, per group; exogenous covariates keep
their fixed block):

- ``CFI = 1 − max(T − df, 0) / max(T − df, T_b − df_b, 0)`` (Bentler 1990);
- ``TLI = (T_b/df_b − T/df) / (T_b/df_b − 1)`` (Tucker & Lewis 1973);
- ``RMSEA = √G · √(max(T − df, 0) / (N·df))`` (Steiger 1990); its 90% interval inverts the
  noncentral χ² in λ: ``P(χ²_df(λ_L) ≤ T) = .95``, ``P(χ²_df(λ_U) ≤ T) = .05``,
  ``RMSEA_{L,U} = √G · √(λ/(N·df))`` (0 when ``P(χ²_df ≤ T)`` is already below the level);
- ``SRMR``: lavaan's default ``srmr_bentler``: per group the root mean square of
  ``(s_ij − σ_ij)/√(s_ii s_jj)`` over the p(p+1)/2 unique elements (and, with a mean
  structure, the p standardised mean residuals ``(x̄_i − μ_i)/√s_ii``), combined across groups
  as ``Σ_g n_g SRMR_g / N``;
- ``logl`` (normal log-likelihood), ``AIC = −2 logl + 2k``, ``BIC = −2 logl + k ln N``
  with k free parameters (net of equality constraints).

For ``estimator="MLR"`` (Yuan–Bentler, Mplus variant) with scaling factors c (model) and
c_b (baseline): ``chisq_scaled = T/c``, ``cfi_scaled``/``tli_scaled``/``rmsea_scaled`` are the
formulas above on the scaled statistics, and the *robust* versions follow Brosseau-Liard,
Savalei & Li (2012) and Brosseau-Liard & Savalei (2014) as lavaan:
``RMSEA_robust = √G·√(max(T − c·df, 0)/(N·df))`` with interval ``√c`` times the interval
from T/c; the *scaled* RMSEA interval inverts T on ``c·df`` degrees of freedom (lavaan's
treatment of ``yuan.bentler.mplus``),
``CFI_robust = 1 − max(T − c·df, 0)/max(T − c·df, T_b − c_b·df_b, 0)`` and likewise TLI.
Under FIML (``missing="fiml"``) the robust versions use lavaan's missing-data correction
(Zhang & Savalei 2020, ``lav_fit_fiml_corrected``): the same formulas on ``XX3``, the
complete-data statistic at the estimates against the EM moments, with its own c
(see :func:`peerscale.psychometrics.cfa_robust.fiml_corrected`).

For DWLS (WLSMV) T is ``Σ_g (n_g − 1)·F_g``, N in RMSEA is ``N − G``, the SRMR is over the
correlations only, and the ``*_scaled`` measures use the scaled-shifted statistics of model
and baseline (thresholds free, correlations 0).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, special

from .blas import single_threaded
from .cfa_engine import _Engine, constrained_inverse
from .cfa_model import ModelSpec, Param
from .cfa_robust import _robust, _robust_fiml, dwls_baseline, fiml_corrected


FIT_KEYS = ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea_ci", "srmr", "aic", "bic")


def rmsea_ci(chisq: float, df: float, n: int, n_groups: int = 1, level: float = 0.90,
             c_hat: float = 1.0) -> tuple[float, float]:
    """Confidence interval for RMSEA by noncentral χ² inversion, as lavaan's
    ``lav_fit_rmsea_ci``: ``√G·√(c·λ/(N·df))`` (df may be fractional)."""
    if df == 0 and np.isfinite(chisq):
        return (0.0, 0.0)  # a saturated model, as lavaan reports it
    if df <= 0 or not np.isfinite(chisq):
        return (np.nan, np.nan)
    lo_p, hi_p = 1 - (1 - level) / 2, (1 - level) / 2
    cdf = lambda lam: special.chndtr(chisq, df, lam) if lam > 0 else special.chdtr(df, chisq)  # noqa: E731
    scale = lambda lam: float(np.sqrt(c_hat * lam / (n * df)) * np.sqrt(n_groups))  # noqa: E731
    if cdf(0.0) < lo_p:
        lower = 0.0
    else:
        lower = scale(optimize.brentq(lambda x: cdf(x) - lo_p, 0.0, max(chisq, 1e-8), xtol=1e-12))
    top = max(n, 4 * chisq)
    if cdf(top) - hi_p > 0 or cdf(0.0) < hi_p:
        upper = 0.0
    else:
        upper = scale(optimize.brentq(lambda x: cdf(x) - hi_p, 0.0, top, xtol=1e-12))
    return lower, upper


def srmr(res) -> float:
    """lavaan's ``srmr`` (Bentler's version; see module docstring)."""
    total = 0.0
    for g, d in enumerate(res.data):
        sigma, mu = res.implied(g)
        sd = np.sqrt(np.diag(d.cov))
        r = (d.cov - sigma) / np.outer(sd, sd)
        vi, vj = np.tril_indices(len(sd))
        sq = list(r[vi, vj] ** 2)
        if res.spec.meanstructure and not res.spec.categorical:
            sq += list(((d.mean - mu) / sd) ** 2)
        total += d.n * np.sqrt(np.mean(sq))
    return float(total / res.n)


def baseline_model(res) -> str:
    return "\n".join(f"{v} ~~ {v}" for v in res.spec.observed)


def baseline_spec(spec: ModelSpec) -> ModelSpec:
    """The independence model of ``spec``'s observed variables: free variances (and
    intercepts with a mean structure) of the non-exogenous ones, the exogenous block fixed."""
    p = len(spec.observed)
    params, n_free = [], 0
    for g in range(spec.n_groups):
        for i, v in enumerate(spec.observed):
            exo = v in spec.exogenous
            if not exo:
                params.append(Param(v, "~~", v, g, "S", i, i, n_free, np.nan, plabel=f".b{len(params)}."))
                n_free += 1
        for a in range(p):
            for b in range(a, p):
                va, vb = spec.observed[a], spec.observed[b]
                if va in spec.exogenous and vb in spec.exogenous:
                    params.append(Param(va, "~~", vb, g, "S", b, a, -1, np.nan, exo=True, plabel=f".b{len(params)}."))
        if spec.meanstructure:
            for i, v in enumerate(spec.observed):
                if v in spec.exogenous:
                    params.append(Param(v, "~1", "", g, "m", i, 0, -1, np.nan, exo=True, plabel=f".b{len(params)}."))
                else:
                    params.append(Param(v, "~1", "", g, "m", i, 0, n_free, np.nan, plabel=f".b{len(params)}."))
                    n_free += 1
    return ModelSpec(list(spec.observed), [], params, spec.n_groups, spec.meanstructure, n_free,
                     exogenous=list(spec.exogenous))


def baseline_fit(res):
    """(engine, estimates, df) of the fitted independence model (closed form: each item's own
    mean and variance, over its answers under FIML)."""
    spec = baseline_spec(res.spec)
    engine = _Engine(spec, res.data)
    theta = np.zeros(spec.n_free)
    for pr in spec.params:
        if pr.free < 0:
            continue
        col = res.data[pr.group].raw[:, pr.i]
        col = col[np.isfinite(col)]
        theta[pr.free] = col.var() if pr.mat == "S" else col.mean()
    return engine, theta, spec.ndat() - spec.n_free


def _baseline(res, data=None) -> tuple[float, int, float | None]:
    """Baseline χ², df and (MLR) scaling factor. The independence model has the closed form
    ``T_b = Σ_g n_g (Σ log s_ii − log|S_g|)`` (under FIML: twice the saturated minus the
    per-item normal log-likelihoods); the scaling factor needs a fit."""
    tb = float(sum(2.0 * (d.h1_loglik - d.baseline_loglik) for d in res.data))
    p = len(res.spec.observed)
    py = p - len(res.spec.exogenous)
    dfb = res.spec.n_groups * (py * (py - 1) // 2 + py * (p - py))
    cb = None
    if res.estimator == "MLR":
        engine, theta, _ = baseline_fit(res)
        fiml = bool(res.scaling and res.scaling.get("fiml"))
        _, sc = (_robust_fiml if fiml else _robust)(engine, theta, dfb)
        cb = sc["c"]
    return tb, dfb, cb


def _cfi(t, df, tb, dfb):
    num = max(t - df, 0.0)
    den = max(t - df, tb - dfb, 0.0)
    return 1.0 if den == 0 else 1.0 - num / den


def _tli(t, df, tb, dfb):
    if df == 0:
        return 1.0
    return (tb / dfb - t / df) / (tb / dfb - 1.0)


def _rmsea(t, df, n, g):
    return float(np.sqrt(max(t - df, 0.0) / (n * df)) * np.sqrt(g)) if df > 0 else 0.0


@single_threaded
def fit_measures(res) -> dict:
    """All fit measures of ``res`` as a dict (names follow lavaan with ``_`` for ``.``;
    ``rmsea_ci`` is ``[lower, upper]``).

    Examples
    --------
    >>> fit_measures(fit)["cfi"]  # fitMeasures(fit, "cfi")  # doctest: +SKIP
    """
    if res.estimator == "DWLS":
        return _dwls_measures(res)
    n, g, t, df = res.n, res.spec.n_groups, res.chisq, res.df
    tb, dfb, cb = _baseline(res)
    logl = res.loglik()
    k = res.npar
    out = {
        "npar": k, "n": n, "chisq": t, "df": df,
        "pvalue": float(special.chdtrc(df, t)) if df > 0 else np.nan,
        "baseline_chisq": tb, "baseline_df": dfb,
        "cfi": _cfi(t, df, tb, dfb), "tli": _tli(t, df, tb, dfb),
        "logl": logl, "unrestricted_logl": res.loglik_unrestricted(),
        "aic": -2 * logl + 2 * k, "bic": -2 * logl + k * np.log(n),
        "rmsea": _rmsea(t, df, n, g), "rmsea_ci": list(rmsea_ci(t, df, n, g)),
        "srmr": srmr(res),
    }
    if res.estimator == "MLR" and res.scaling is not None:
        c = res.scaling["c"]
        ts, tbs = t / c, tb / cb
        out.update({
            "scaling_factor": c, "chisq_scaled": ts,
            "pvalue_scaled": float(special.chdtrc(df, ts)) if df > 0 else np.nan,
            "baseline_chisq_scaled": tbs, "baseline_scaling_factor": cb,
            "cfi_scaled": _cfi(ts, df, tbs, dfb), "tli_scaled": _tli(ts, df, tbs, dfb),
            "rmsea_scaled": _rmsea(ts, df, n, g), "rmsea_ci_scaled": list(rmsea_ci(t, c * df, n, g)),
        })
        if res.scaling.get("fiml") and res.scaling.get("cluster"):
            # lavaan's missing-data corrected robust indices are not built for clustered data here
            out.update({k_: np.nan for k_ in ("cfi_robust", "tli_robust", "rmsea_robust")})
            out["rmsea_ci_robust"] = [np.nan, np.nan]
            return out
        if res.scaling.get("fiml"):
            t, tb, c, cb = _fiml_corrected(res, df, dfb)
            out["chisq_fiml_corrected"] = t
            out["scaling_factor_fiml_corrected"] = c
            if not np.isfinite(c) or df <= 0:
                out.update({k_: np.nan for k_ in ("cfi_robust", "tli_robust", "rmsea_robust")})
                out["rmsea_ci_robust"] = [np.nan, np.nan]
                return out
        out.update({
            "cfi_robust": _cfi(t, c * df, tb, cb * dfb),
            "tli_robust": 1.0 - ((t - c * df) / df) / ((tb - cb * dfb) / dfb) if df > 0 else 1.0,
            "rmsea_robust": float(np.sqrt(max(t - c * df, 0.0) / (n * df)) * np.sqrt(g)) if df > 0 else 0.0,
            "rmsea_ci_robust": list(rmsea_ci(t / c, df, n, g, c_hat=c)),
        })
    return out


def _fiml_corrected(res, df, dfb):
    engine, theta, base_df = baseline_fit(res)
    cons = res.constraints
    invert = (lambda info: constrained_inverse(info, cons, res.theta, res.active)) if cons is not None and cons.any \
        else np.linalg.inv
    out = fiml_corrected(res._engine, res.theta, df, engine, theta, base_df, invert=invert)
    return out["XX3"], out["XX3_null"], out["c3"], out["c3_null"]


def _dwls_measures(res) -> dict:
    """Fit of an ordinal (DWLS/WLSMV) model as lavaan reports it: ``T = Σ_g (n_g − 1) F_g``
    on the thresholds and polychoric correlations, RMSEA with N − G, SRMR over the p(p+1)/2
    elements of each group's correlation matrix (the diagonal residuals are 0), no likelihood
    (AIC, BIC are undefined); ``*_scaled`` use the mean-and-variance adjusted statistics
    ``a·T + b`` of the model and the baseline (lavaan's ``scaled.shifted``)."""
    sc = res.scaling
    g = res.spec.n_groups
    n, t, df = res.n, res.chisq, res.df
    base = dwls_baseline(res.data, g)
    tb, dfb = base["chisq"], base["df"]
    ts = sc["a"] * t + sc["b"]
    tbs = base["a"] * tb + base["b"]
    total = 0.0
    for gg, d in enumerate(res.data):
        sigma, _ = res.implied(gg)
        vi, vj = np.tril_indices(len(res.spec.observed))
        total += d.n * np.sqrt(np.mean((d.cov - sigma)[vi, vj] ** 2))
    n_eff = n - g
    return {
        "npar": res.npar, "n": n, "chisq": t, "df": df,
        "pvalue": float(special.chdtrc(df, t)) if df > 0 else np.nan,
        "baseline_chisq": tb, "baseline_df": dfb,
        "cfi": _cfi(t, df, tb, dfb), "tli": _tli(t, df, tb, dfb),
        "logl": np.nan, "unrestricted_logl": np.nan, "aic": np.nan, "bic": np.nan,
        "rmsea": _rmsea(t, df, n_eff, g), "rmsea_ci": list(rmsea_ci(t, df, n_eff, g)),
        "srmr": float(total / n),
        "chisq_scaled": ts, "scaling_factor": 1.0 / sc["a"], "shift_parameter": sc["b"],
        "pvalue_scaled": float(special.chdtrc(df, ts)) if df > 0 else np.nan,
        "baseline_chisq_scaled": tbs,
        "cfi_scaled": _cfi(ts, df, tbs, dfb), "tli_scaled": _tli(ts, df, tbs, dfb),
        "rmsea_scaled": _rmsea(ts, df, n_eff, g), "rmsea_ci_scaled": list(rmsea_ci(ts, df, n_eff, g)),
    }
