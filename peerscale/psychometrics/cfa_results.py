"""The results step of the CFA/SEM engine: the fitted model (:class:`CFAResult`, with
``to_frame()`` and a lavaan-style ``summary()``), the standardized solution, defined
parameters, residual correlations, modification indices and score tests of equality
constraints (lavaan's ``lavTestScore``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import PeerscaleError
from .blas import single_threaded
from .cfa_engine import Constraints, GroupData, _Engine, _jacobian, constrained_inverse
from .cfa_model import ModelSpec, Param


@dataclass
class CFAResult:
    """A fitted CFA/SEM, as a fitted ``lavaan`` object.

    Attributes
    ----------
    spec : the parameter table and model (:class:`~peerscale.psychometrics.cfa_model.ModelSpec`).
    theta : the estimates of the free rows (lavaan's ``x``).
    vcov : their covariance (standard, robust sandwich for MLR and DWLS).
    fmin2 : the discrepancy F with ``chisq = N·F`` (ML: twice lavaan's fmin).
    estimator : "ML", "MLR" or "DWLS" (WLSMV with the scaled-shifted test).
    missing : "listwise" or "fiml"; ``n`` the respondents used.
    warnings : admissibility notes (negative variances, non-positive-definite matrices).
    """

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
    constraints: Constraints | None = None
    active: tuple = ()
    warnings: list = field(default_factory=list)
    missing: str = "listwise"
    group: str | None = None
    starts: dict | None = None
    n_rows: int | None = None
    cluster: str | None = None

    # -- counts ----------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return sum(d.n for d in self.data)

    @property
    def chisq(self) -> float:
        return self.n * self.fmin2

    @property
    def n_eq(self) -> int:
        """Rank of the equality constraints (each removes one free parameter)."""
        if self.constraints is None or not self.constraints.eq_rows:
            return 0
        if not hasattr(self, "_n_eq"):
            self._n_eq = int(np.linalg.matrix_rank(self.constraints.eq_jacobian(self.theta)))
        return self._n_eq

    @property
    def npar(self) -> int:
        return self.spec.n_free - self.n_eq

    @property
    def df(self) -> int:
        return self.spec.ndat() - self.npar

    def implied(self, group: int = 0):
        """Implied covariance (or, for ordinal items, correlation) matrix and means."""
        sigma, mu, *_ = self._engine.implied(self.theta, group)
        if self.spec.categorical:
            dlt = self._engine._deltas(self.theta, group, sigma)
            return sigma * np.outer(dlt, dlt), mu * dlt
        return sigma, mu

    # -- estimates -------------------------------------------------------------------------
    def _row_index(self):
        """Per group, the parameter-table rows of each matrix as index arrays."""
        if getattr(self, "_rows", None) is None:
            out = []
            for g in range(self.spec.n_groups):
                d = {}
                for mat in ("A", "S", "m", "t", "d"):
                    k = [n for n, pr in enumerate(self.spec.params) if pr.group == g and pr.mat == mat]
                    d[mat] = (np.array(k, dtype=int), np.array([self.spec.params[n].i for n in k], dtype=int),
                              np.array([self.spec.params[n].j for n in k], dtype=int))
                out.append(d)
            self._rows = out
        return self._rows

    def _group_values(self, x: np.ndarray, g: int):
        eng = self._engine
        a, s, m = eng.matrices(x, g)
        extra = None
        if self.spec.categorical:
            sigma, *_ = eng.implied(x, g)
            extra = (eng.thresholds(x, g), eng._deltas(x, g, sigma), eng.th_start)
        return a, s, m, extra

    def _row_values(self, x: np.ndarray, cache: dict | None = None) -> np.ndarray:
        """Value of every row of the parameter table at x (derived rows included: residual
        variances and scaling factors of ordinal items)."""
        out = np.zeros(len(self.spec.params))
        for g, d in enumerate(self._row_index()):
            a, s, m, extra = self._group_values(x, g) if cache is None else cache[g]
            k, i, j = d["A"]
            out[k] = a[i, j]
            k, i, j = d["S"]
            out[k] = s[i, j]
            k, i, _ = d["m"]
            out[k] = m[i]
            if extra is not None:
                k, i, j = d["t"]
                out[k] = extra[0][extra[2][i] + j]
                k, i, _ = d["d"]
                out[k] = extra[1][i]
        return out

    def _at_bound(self) -> list[int]:
        if not self.active or self.constraints is None:
            return []
        jac = self.constraints.ineq_jacobian(self.theta, list(self.active))
        var = np.diag(self.vcov)
        return [int(i) for i in np.flatnonzero(np.any(jac != 0, axis=0)) if var[i] < 1e-12]

    def defined_values(self, x: np.ndarray) -> np.ndarray:
        vals = self.spec.values(x)
        return np.array([vals[d.name] for d in self.spec.defined], dtype=float)

    @property
    def params(self) -> pd.DataFrame:
        """lavaan's ``parameterEstimates()``: lhs, op, rhs, group (1-based), label, free
        (1-based index, 0 fixed), est, se, z, pvalue; defined parameters (``:=``) last with
        delta-method standard errors ``√(J V J')``."""
        from scipy.special import ndtr
        se_x = np.sqrt(np.clip(np.diag(self.vcov), 0, None))
        # a parameter held at an active inequality bound has no standard error (lavaan: NA)
        for x_idx in self._at_bound():
            se_x[x_idx] = np.nan
        est = self._row_values(self.theta)
        rows = []
        for pr, e in zip(self.spec.params, est):
            free = pr.free >= 0
            s = se_x[pr.free] if free else 0.0
            z = e / s if free and np.isfinite(s) and s > 0 else np.nan
            rows.append(dict(lhs=pr.lhs, op=pr.op, rhs=pr.rhs, group=pr.group + 1, label=pr.label or "",
                             free=pr.free + 1 if free else 0, est=e, se=s, z=z,
                             pvalue=2 * ndtr(-abs(z)) if np.isfinite(z) else np.nan))
        if self.spec.defined:
            vals, ses = self.defined_values(self.theta), self.defined_se()
            for d, v, s in zip(self.spec.defined, vals, ses):
                z = v / s if s > 0 else np.nan
                rows.append(dict(lhs=d.name, op=":=", rhs=d.text, group=0, label=d.name, free=0, est=v,
                                 se=s, z=z, pvalue=2 * ndtr(-abs(z)) if np.isfinite(z) else np.nan))
        return pd.DataFrame(rows)

    def defined_se(self) -> np.ndarray:
        """Delta-method standard errors of the ``:=`` parameters: ``√diag(J V J')`` with J
        their Jacobian in x (central differences with a Richardson step)."""
        if not self.spec.defined:
            return np.zeros(0)
        cols = np.flatnonzero(np.diag(self.vcov) > 0) if self.vcov.size else []
        jac = _jacobian(self.defined_values, self.theta, cols)
        return np.sqrt(np.clip(np.einsum("ij,jk,ik->i", jac, self.vcov, jac), 0, None))

    def to_frame(self) -> pd.DataFrame:
        """The estimates as a tidy table: :attr:`params` with the ``std_all`` column of
        :func:`standardized_solution` and the group labels.

        Examples
        --------
        >>> fit.to_frame()  # parameterEstimates(fit, standardized = TRUE)  # doctest: +SKIP
        """
        out = self.params
        std = standardized_solution(self)
        out["std_all"] = std["est_std"].to_numpy()
        if self.spec.n_groups > 1:
            labels = {k + 1: v for k, v in enumerate(self.group_names)}
            out.insert(4, "group_label", out["group"].map(labels))
        return out

    def loglik(self) -> float:
        """Log-likelihood: the saturated (h1) log-likelihood minus ``n_g F_g / 2`` per group,
        i.e. ``Σ_g −n_g/2 (p log 2π + log|Σ_g| + tr(S_g Σ_g^{-1}) + d'Σ_g^{-1}d)`` for complete
        data and the casewise (pattern) likelihood under FIML."""
        if self.estimator == "DWLS":
            return np.nan
        return float(sum(d.h1_loglik - d.n * f / 2.0 for d, f in zip(self.data, self.group_f))) - self._exo_loglik()

    def loglik_unrestricted(self) -> float:
        if self.estimator == "DWLS":
            return np.nan
        return float(sum(d.h1_loglik for d in self.data)) - self._exo_loglik()

    def _exo_loglik(self) -> float:
        """With fixed exogenous covariates lavaan reports the likelihood conditional on them:
        the joint one minus their marginal ``Σ_g −n_g/2 (p_x log 2π + log|S_xx| + p_x)``."""
        if not self.spec.exogenous:
            return 0.0
        idx = [self.spec.observed.index(v) for v in self.spec.exogenous]
        px = len(idx)
        return float(sum(-d.n / 2 * (px * np.log(2 * np.pi) + np.linalg.slogdet(d.cov[np.ix_(idx, idx)])[1] + px)
                         for d in self.data))

    # -- presentation ----------------------------------------------------------------------
    def summary(self, standardized: bool = True) -> str:
        """A text summary in the manner of lavaan's ``summary(fit, fit.measures=TRUE,
        standardized=TRUE)``: estimator, N used, missing-data method, the test statistic(s),
        fit indices, then per group the estimates with SE, z, p and std.all.

        Examples
        --------
        >>> print(fit.summary())  # summary(fit, fit.measures = TRUE, standardized = TRUE)  # doctest: +SKIP
        """
        return _summary_text(self, standardized)

    def __repr__(self) -> str:
        f = self.spec
        head = (f"CFAResult({self.estimator}, {f.n_groups} group(s), n = {self.n}, missing = {self.missing}, "
                f"npar = {self.npar}, chisq = {self.chisq:.3f}, df = {self.df}"
                + ("" if self.converged else ", NOT CONVERGED") + ")")
        return head + "\n  use .summary() for the estimates, .to_frame() for a table"


# ---------------------------------------------------------------------------------------
# standardized solution
# ---------------------------------------------------------------------------------------

def _standardize(res: CFAResult, theta: np.ndarray) -> np.ndarray:
    """lavaan's ``std.all`` for every row of the parameter table (and the ``:=`` rows, computed
    from the standardized free rows): loadings and regressions ``b·sd(x)/sd(y)``; variances
    ``v/var(y)``; covariances ``c/√(v_ii v_jj)`` with the (residual) variances of the same two
    variables (``cov.std=TRUE``); intercepts and thresholds ``m/sd(y)``; scaling factors 1; the
    sds are model-implied total standard deviations (of the latent responses for ordinal
    items)."""
    eng = res._engine
    spec = res.spec
    cache = {g: res._group_values(theta, g) for g in range(spec.n_groups)}
    est = res._row_values(theta, cache)
    out = np.zeros(len(spec.params))
    with np.errstate(all="ignore"):
        for g, d in enumerate(res._row_index()):
            a, s, _, _ = cache[g]
            b = np.linalg.inv(np.eye(eng.q) - a)
            var = np.diag(b @ s @ b.T)
            sd = np.sqrt(np.where(var > 0, var, np.nan))
            k, i, j = d["A"]
            out[k] = est[k] * sd[j] / sd[i]
            k, i, j = d["S"]
            diag = i == j
            out[k[diag]] = np.where(var[i[diag]] != 0, est[k[diag]] / var[i[diag]], np.nan)
            den = np.sqrt(np.abs(s[i, i] * s[j, j]))
            out[k[~diag]] = np.where(den[~diag] > 0, est[k[~diag]] / den[~diag], np.nan)
            for mat in ("m", "t"):
                k, i, _ = d[mat]
                out[k] = est[k] / sd[i]
            out[d["d"][0]] = 1.0
    if spec.defined:
        x_std = np.zeros(spec.n_free)
        for k, pr in enumerate(spec.params):
            if pr.free >= 0:
                x_std[pr.free] = out[k]
        with np.errstate(all="ignore"):
            out = np.concatenate([out, res.defined_values(x_std)])
    return out


@single_threaded
def standardized_solution(res: CFAResult) -> pd.DataFrame:
    """Standardised estimates (``std.all``) with delta-method standard errors, as
    ``lavaan::standardizedSolution``: ``se = √diag(J V J')`` with J the Jacobian of the
    standardisation (central differences) and V the estimates' covariance.

    Examples
    --------
    >>> from peerscale.psychometrics.cfa import fit_cfa, standardized_solution  # doctest: +SKIP
    >>> std = standardized_solution(fit_cfa(model, data))  # standardizedSolution(fit)  # doctest: +SKIP
    """
    from scipy.special import ndtr
    est = _standardize(res, res.theta)
    k = res.spec.n_free
    jac = np.zeros((len(est), k))
    live = np.flatnonzero(np.diag(res.vcov) > 0)
    for a in live:
        h = 1e-6 * max(1.0, abs(res.theta[a]))
        e = np.zeros(k)
        e[a] = h
        with np.errstate(all="ignore"):
            jac[:, a] = (_standardize(res, res.theta + e) - _standardize(res, res.theta - e)) / (2 * h)
    se = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", jac, res.vcov, jac), 0, None))
    se[np.abs(se) < 1e-10] = 0.0
    with np.errstate(all="ignore"):
        z = np.where(se > 0, est / np.where(se > 0, se, 1), np.nan)
    base = res.params[["lhs", "op", "rhs", "group"]].copy()
    base["est_std"] = est
    base["se"] = se
    base["z"] = z
    base["pvalue"] = np.where(np.isfinite(z), 2 * ndtr(-np.abs(z)), np.nan)
    return base


def residual_correlations(res: CFAResult, group: int = 0) -> pd.DataFrame:
    """Observed minus model-implied correlations (lavaan's ``residuals(type="cor")``,
    i.e. ``cor.bollen``) of one group.

    Examples
    --------
    >>> residual_correlations(fit)  # residuals(fit, type = "cor")$cov  # doctest: +SKIP
    """
    d = res.data[group]
    sigma, _ = res.implied(group)
    sd_s = np.sqrt(np.diag(d.cov))
    sd_m = np.sqrt(np.diag(sigma))
    r = d.cov / np.outer(sd_s, sd_s) - sigma / np.outer(sd_m, sd_m)
    return pd.DataFrame(r, index=res.spec.observed, columns=res.spec.observed)


# ---------------------------------------------------------------------------------------
# modification indices and score tests
# ---------------------------------------------------------------------------------------

def _constrained_info_inverse(res: CFAResult, info: np.ndarray) -> np.ndarray:
    if res.constraints is None:
        return np.linalg.inv(info)
    return constrained_inverse(info, res.constraints, res.theta, res.active)


@single_threaded
def modification_indices(res: CFAResult, top: int | None = None) -> pd.DataFrame:
    """Univariate score tests for the parameters lavaan's ``modindices()`` considers: every
    missing loading (``lv =~ ov``) and every missing residual covariance between observed
    variables, per group. With unit information I over (θ, ω) and g = ∂F/∂ω,
    ``MI = N g² / (4 V)`` and ``EPC = −g / (2V)``, ``V = I_ωω − I_ωθ P I_θω`` with P the
    inverse of ``I_θθ`` on the constraint surface (Sörbom 1989); ``sepc_all`` is the EPC
    standardised like ``std.all``. Sorted by MI. Under FIML the gradient is the casewise one
    but I is the complete-data expected information, so the indices are approximate there;
    releases of equality constraints are :func:`score_tests`.

    Examples
    --------
    >>> modification_indices(fit, top=10)  # modindices(fit, sort. = TRUE)  # doctest: +SKIP
    """
    if res.estimator == "DWLS":
        raise PeerscaleError("modification indices are implemented for ML fits only",
                             hint="use score_tests() for the equality constraints of an ordinal model")
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
                if ov_pair_ok(spec, i, j) and ("S", i, j) not in present and ("S", j, i) not in present:
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
        pinv = _constrained_info_inverse(res, info_all[:k, :k])
        i_wt = info_all[k:, :k]
        v = np.diag(info_all[k:, k:]) - np.einsum("ij,jk,ik->i", i_wt, pinv, i_wt)
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
                sepc = ep / np.sqrt(abs(s[e.i, e.i] * s[e.j, e.j]))
            rows.append(dict(lhs=e.lhs, op=e.op, rhs=e.rhs, group=g + 1, mi=m_, epc=ep,
                             sepc_all=sepc))
    out = pd.DataFrame(rows, columns=["lhs", "op", "rhs", "group", "mi", "epc", "sepc_all"])
    out = out.sort_values("mi", ascending=False, kind="stable").reset_index(drop=True)
    return out.head(top) if top else out


def ov_pair_ok(spec: ModelSpec, i: int, j: int) -> bool:
    """lavaan's modindices leave out covariances between exogenous (fixed-x) covariates."""
    return not (spec.observed[i] in spec.exogenous and spec.observed[j] in spec.exogenous)


def constraint_labels(res: CFAResult) -> list[dict]:
    """The ``==`` constraints in lavaan's order, with the parameters they tie in words."""
    by_plabel = {pr.plabel: pr for pr in res.spec.params}
    out = []
    for c in res.constraints.eq_constraints if res.constraints else []:
        a, b = by_plabel.get(c.lhs), by_plabel.get(c.rhs)
        item = dict(lhs=c.lhs, op="==", rhs=c.rhs, origin=c.origin)
        if a is not None and b is not None:
            item["parameter"] = f"{a.lhs}{a.op}{a.rhs}"
            item["groups"] = (a.group + 1, b.group + 1)
        else:
            item["parameter"] = f"{c.lhs} == {c.rhs}"
            item["groups"] = None
        out.append(item)
    return out


@single_threaded
def score_tests(res: CFAResult, release=None) -> tuple[dict, pd.DataFrame]:
    """Score (Lagrange multiplier) tests for releasing equality constraints, as
    ``lavaan::lavTestScore(fit)`` with its defaults (expected information).

    With R the Jacobian of the ``==`` constraints, s the gradient of the log-likelihood (ML;
    of the fit function for DWLS) per observation and I the unit expected information, the
    total test of releasing the constraints ``release`` (default: all) is
    ``X² = N s' Z⁺ s`` on ``len(release)`` df, with Z⁺ the top-left block of the generalised
    inverse of ``[[I, R₁'], [R₁, 0]]`` and R₁ the rows kept (``Z⁺ = I⁺`` when all are
    released); the univariate tests release one row at a time (1 df each).

    Returns ``(total, table)``: the total test as a dict (X2, df, pvalue) and one row per
    constraint (lhs, op, rhs, parameter, groups, X2, df, pvalue).

    Examples
    --------
    >>> total, uni = score_tests(fit)  # lavTestScore(fit)  # doctest: +SKIP
    """
    from scipy.special import chdtrc
    if res.constraints is None or not res.constraints.eq_rows:
        raise PeerscaleError("the model has no equality constraints to release",
                             hint="score tests need labels, group_equal or '==' constraints")
    if res.constraints.ineq:
        raise PeerscaleError("score tests are not available for models with '<' or '>' constraints")
    r = res.constraints.eq_jacobian(res.theta)
    grad, _ = res._engine.gradient_info(res.theta, info=False)
    score = -0.5 * grad
    info = res._engine.expected_information(res.theta)
    n = res.n
    k = info.shape[0]
    tol = np.sqrt(np.finfo(float).eps)

    def stat(drop):
        keep = [i for i in range(r.shape[0]) if i not in set(drop)]
        if not keep:
            zp = np.linalg.pinv(info, rcond=tol)
        else:
            r1 = r[keep]
            z = np.block([[info, r1.T], [r1, np.zeros((len(keep), len(keep)))]])
            zp = np.linalg.pinv(z, rcond=tol)[:k, :k]
        return float(n * score @ zp @ score)

    rel = list(range(r.shape[0])) if release is None else list(release)
    x2 = stat(rel)
    total = {"X2": x2, "df": len(rel), "pvalue": float(chdtrc(len(rel), x2))}
    labels = constraint_labels(res)
    rows = []
    for i in rel:
        v = stat([i])
        rows.append({**labels[i], "X2": v, "df": 1, "pvalue": float(chdtrc(1, v))})
    return total, pd.DataFrame(rows)


def release_test(res: CFAResult, rows: list[int]) -> dict:
    """The multivariate score test of releasing the constraint rows ``rows`` together."""
    total, _ = score_tests(res, release=rows) if rows else ({"X2": 0.0, "df": 0, "pvalue": 1.0}, None)
    return total


# ---------------------------------------------------------------------------------------
# the lavaan-style summary
# ---------------------------------------------------------------------------------------

_SECTIONS = [("=~", "Latent Variables"), ("~", "Regressions"), ("~~cov", "Covariances"),
             ("~1", "Intercepts"), ("|", "Thresholds"), ("~~var", "Variances"), ("~*~", "Scales y*")]


def _fmt(v, nd=3, width=9) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return " " * width
    return f"{v:{width}.{nd}f}"


def _summary_text(res: CFAResult, standardized: bool) -> str:
    from .fit import fit_measures
    lines = []
    spec = res.spec
    est_name = {"ML": "ML", "MLR": "ML (robust: MLR)", "DWLS": "DWLS (WLSMV)"}[res.estimator]
    if res.cluster is not None:
        est_name = "ML (robust.cluster)"
    lines.append(f"peerscale CFA/SEM (estimates as lavaan 0.6-14) {'ended normally' if res.converged else 'did NOT converge'}"
                 f" after {res.iterations} iterations")
    lines.append("")
    lines.append(f"  {'Estimator':<40}{est_name:>20}")
    lines.append(f"  {'Number of model parameters':<40}{spec.n_free:>20}")
    if res.n_eq:
        lines.append(f"  {'Number of equality constraints':<40}{res.n_eq:>20}")
    if spec.n_groups > 1:
        lines.append(f"  {'Number of observations per group':<40}")
        for name, d in zip(res.group_names, res.data):
            lines.append(f"    {str(name):<38}{d.n:>20}")
    else:
        lines.append(f"  {'Number of observations (N used)':<40}{res.n:>20}")
    if res.n_rows is not None and res.n_rows != res.n:
        lines.append(f"  {'Number of rows in the data':<40}{res.n_rows:>20}")
    lines.append(f"  {'Missing data':<40}{res.missing:>20}")
    if res.cluster is not None:
        ncl = ", ".join(str(c) for c in (res.scaling or {}).get("n_clusters", []))
        lines.append(f"  {'Cluster-robust SEs: clusters in ' + str(res.cluster):<40}{ncl:>20}")
    if res.missing == "fiml":
        npat = max(len(d.batch.n) for d in res.data if d.batch is not None)
        lines.append(f"  {'Number of missing patterns':<40}{npat:>20}")
    fm = fit_measures(res)
    robust = res.estimator in ("MLR", "DWLS")
    lines.append("")
    lines.append("Model Test User Model:" + (f"{'Standard':>35}{'Scaled':>15}" if robust else ""))
    rows = [("Test Statistic", fm["chisq"], fm.get("chisq_scaled")), ("Degrees of freedom", fm["df"], fm["df"] if robust else None),
            ("P-value (Chi-square)", fm["pvalue"], fm.get("pvalue_scaled"))]
    if res.estimator == "MLR":
        rows.append(("Scaling correction factor", None, fm.get("scaling_factor")))
    if res.estimator == "DWLS":
        rows += [("Scaling correction factor", None, fm.get("scaling_factor")),
                 ("Shift parameter", None, fm.get("shift_parameter"))]
    for name, a, b in rows:
        nd = 0 if name == "Degrees of freedom" else 3
        lines.append(f"  {name:<40}{_fmt(a, nd, 17) if a is not None else ' ' * 17}"
                     + (_fmt(b, nd, 15) if robust and b is not None else ""))
    lines.append("")
    lines.append("Fit indices:")
    sfx = "_robust" if res.estimator == "MLR" and np.isfinite(fm.get("cfi_robust", np.nan)) else "_scaled"
    for key, name in (("cfi", "Comparative Fit Index (CFI)"), ("tli", "Tucker-Lewis Index (TLI)"),
                      ("rmsea", "RMSEA"), ("srmr", "SRMR")):
        b = fm.get(key + sfx) if robust and key != "srmr" else None
        lines.append(f"  {name:<40}{_fmt(fm[key], 3, 17)}" + (_fmt(b, 3, 15) if b is not None else ""))
    if np.isfinite(fm.get("aic", np.nan)):
        lines.append(f"  {'Akaike (AIC)':<40}{_fmt(fm['aic'], 3, 17)}")
        lines.append(f"  {'Bayesian (BIC)':<40}{_fmt(fm['bic'], 3, 17)}")
    lines.append("")
    lines.append("Parameter Estimates:")
    tab = res.to_frame() if standardized else res.params
    header = f"  {'':<22}{'Estimate':>9}{'Std.Err':>9}{'z-value':>9}{'P(>|z|)':>9}" + (f"{'Std.all':>9}" if standardized else "")
    lv = set(spec.latent)
    for g in range(spec.n_groups):
        sub = tab[tab.group == g + 1]
        if spec.n_groups > 1:
            lines.append("")
            lines.append(f"Group {g + 1} [{res.group_names[g]}]:")
        for key, title in _SECTIONS:
            if key == "~~cov":
                part = sub[(sub.op == "~~") & (sub.lhs != sub.rhs)]
            elif key == "~~var":
                part = sub[(sub.op == "~~") & (sub.lhs == sub.rhs)]
            else:
                part = sub[sub.op == key]
            if part.empty:
                continue
            lines.append("")
            lines.append(f"{title}:")
            lines.append(header)
            last = None
            for r in part.itertuples():
                name = r.rhs
                if key in ("=~", "~", "~~cov"):
                    if r.lhs != last:
                        lines.append(f"  {r.lhs} {r.op}")
                        last = r.lhs
                    shown = f"    {name}"
                elif key == "|":
                    shown = f"    {r.lhs}|{r.rhs}"
                else:
                    shown = f"   {'.' if key == '~~var' and r.lhs not in lv else ''}{r.lhs}"
                if r.label:
                    shown += f" ({r.label})"
                free = r.free > 0
                line = f"{shown:<24}{_fmt(r.est)}" + (f"{_fmt(r.se)}{_fmt(r.z, 3)}{_fmt(r.pvalue)}" if free else " " * 27)
                if standardized:
                    line += _fmt(r.std_all)
                lines.append(line)
    if spec.defined:
        lines.append("")
        lines.append("Defined Parameters:")
        lines.append(header)
        for r in tab[tab.op == ":="].itertuples():
            line = f"    {r.lhs:<20}{_fmt(r.est)}{_fmt(r.se)}{_fmt(r.z, 3)}{_fmt(r.pvalue)}"
            if standardized:
                line += _fmt(r.std_all)
            lines.append(line)
    user_cons = [c for c in spec.constraints if c.origin == "user"]
    if user_cons:
        lines.append("")
        lines.append("Constraints:")
        vals = spec.values(res.theta)
        for c in user_cons:
            lines.append(f"    {c.lhs} {c.op} {c.rhs:<30}{abs(c.residual(vals)):>12.6f}")
    if res.warnings:
        lines.append("")
        lines.append("Warnings:")
        lines.extend(f"  - {w}" for w in res.warnings)
    return "\n".join(lines)
