"""Fit measures of a fitted CFA, computed as ``lavaan::fitMeasures`` (lavaan 0.6-14).

With N the total sample size, G the number of groups, T = χ² = N·F_ML (lavaan uses N, not
N − 1), df, and the baseline (independence) model T_b, df_b (all variances and, with a mean
structure, intercepts free; every covariance zero, per group):

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
  with k free parameters.

For ``estimator="MLR"`` (Yuan–Bentler, Mplus variant) with scaling factors c (model) and
c_b (baseline): ``chisq_scaled = T/c``, ``cfi_scaled``/``tli_scaled``/``rmsea_scaled`` are the
formulas above on the scaled statistics, and the *robust* versions follow Brosseau-Liard,
Savalei & Li (2012) and Brosseau-Liard & Savalei (2014) as lavaan:
``RMSEA_robust = √G·√(max(T − c·df, 0)/(N·df))`` with interval ``√c`` times the interval
from T/c; the *scaled* RMSEA interval inverts T on ``c·df`` degrees of freedom (lavaan's
treatment of ``yuan.bentler.mplus``),
``CFI_robust = 1 − max(T − c·df, 0)/max(T − c·df, T_b − c_b·df_b, 0)`` and likewise TLI.
Under FIML the robust (not the scaled) versions are left undefined: lavaan corrects them
further for missing data, which is not implemented here.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, special

from .cfa_engine import _Engine
from .cfa_model import build_model
from .cfa_robust import _robust, _robust_fiml


FIT_KEYS = ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea_ci", "srmr", "aic", "bic")


def rmsea_ci(chisq: float, df: float, n: int, n_groups: int = 1, level: float = 0.90,
             c_hat: float = 1.0) -> tuple[float, float]:
    """Confidence interval for RMSEA by noncentral χ² inversion, as lavaan's
    ``lav_fit_rmsea_ci``: ``√G·√(c·λ/(N·df))`` (df may be fractional)."""
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
        if res.spec.meanstructure:
            sq += list(((d.mean - mu) / sd) ** 2)
        total += d.n * np.sqrt(np.mean(sq))
    return float(total / res.n)


def baseline_model(res) -> str:
    return "\n".join(f"{v} ~~ {v}" for v in res.spec.observed)


def _baseline(res, data=None) -> tuple[float, int, float | None]:
    """Baseline χ², df and (MLR) scaling factor. The independence model has the closed form
    ``T_b = Σ_g n_g (Σ log s_ii − log|S_g|)`` (under FIML: twice the saturated minus the
    per-item normal log-likelihoods); the scaling factor needs a fit."""
    tb = float(sum(2.0 * (d.h1_loglik - d.baseline_loglik) for d in res.data))
    p = len(res.spec.observed)
    dfb = res.spec.n_groups * p * (p - 1) // 2
    cb = None
    if res.estimator == "MLR":
        spec = build_model(baseline_model(res), n_groups=res.spec.n_groups,
                           meanstructure=res.spec.meanstructure)
        engine = _Engine(spec, res.data)
        theta = np.zeros(spec.n_free)
        for pr in spec.params:
            # the independence model's estimates: each item's own (available-case) mean and variance
            col = res.data[pr.group].raw[:, pr.i]
            col = col[np.isfinite(col)]
            theta[pr.free] = col.var() if pr.mat == "S" else col.mean()
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


def fit_measures(res) -> dict:
    """All fit measures of ``res`` as a dict (names follow lavaan with ``_`` for ``.``;
    ``rmsea_ci`` is ``[lower, upper]``)."""
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
        if res.scaling.get("fiml"):
            # lavaan's robust CFI/RMSEA under missing data use a further correction
            # (lav_fit_fiml_corrected) that peerscale does not implement
            out.update({k: np.nan for k in ("cfi_robust", "tli_robust", "rmsea_robust")})
            out["rmsea_ci_robust"] = [np.nan, np.nan]
            return out
        out.update({
            "cfi_robust": _cfi(t, c * df, tb, cb * dfb),
            "tli_robust": 1.0 - ((t - c * df) / df) / ((tb - cb * dfb) / dfb),
            "rmsea_robust": float(np.sqrt(max(t - c * df, 0.0) / (n * df)) * np.sqrt(g)),
            "rmsea_ci_robust": list(rmsea_ci(ts, df, n, g, c_hat=c)),
        })
    return out


def _dwls_measures(res) -> dict:
    """Fit of an ordinal (DWLS/WLSMV) model as lavaan reports it: ``T`` on the polychoric
    correlations (see :func:`peerscale.psychometrics.cfa_ordinal.fit_dwls`), RMSEA with N − 1,
    SRMR over the p(p+1)/2 elements of the correlation matrix (the diagonal residuals are 0), no
    likelihood (AIC, BIC are undefined); ``npar`` counts the thresholds as lavaan does;
    ``*_scaled`` use the mean-and-variance adjusted
    statistics ``a·T + b`` of the model and the baseline (lavaan's ``scaled.shifted``)."""
    sc = res.scaling
    n, t, df, tb, dfb = res.n, sc["chisq"], sc["df"], sc["baseline_chisq"], sc["baseline_df"]
    ts = sc["a"] * t + sc["b"]
    tbs = sc["baseline_a"] * tb + sc["baseline_b"]
    p = len(res.spec.observed)
    srmr_val = float(np.sqrt(np.sum(sc["resid"] ** 2) / (p * (p + 1) / 2)))
    return {
        "npar": res.npar + sc["n_thresholds"], "n": n, "chisq": t, "df": df,
        "pvalue": float(special.chdtrc(df, t)) if df > 0 else np.nan,
        "baseline_chisq": tb, "baseline_df": dfb,
        "cfi": _cfi(t, df, tb, dfb), "tli": _tli(t, df, tb, dfb),
        "logl": np.nan, "unrestricted_logl": np.nan, "aic": np.nan, "bic": np.nan,
        "rmsea": _rmsea(t, df, n - 1, 1), "rmsea_ci": list(rmsea_ci(t, df, n - 1)),
        "srmr": srmr_val,
        "chisq_scaled": ts, "scaling_factor": 1.0 / sc["a"], "shift_parameter": sc["b"],
        "pvalue_scaled": float(special.chdtrc(df, ts)) if df > 0 else np.nan,
        "baseline_chisq_scaled": tbs,
        "cfi_scaled": _cfi(ts, df, tbs, dfb), "tli_scaled": _tli(ts, df, tbs, dfb),
        "rmsea_scaled": _rmsea(ts, df, n - 1, 1), "rmsea_ci_scaled": list(rmsea_ci(ts, df, n - 1)),
    }
