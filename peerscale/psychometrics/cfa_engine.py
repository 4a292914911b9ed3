"""The engine step of the CFA/SEM engine: sample statistics, implied moments and their
derivatives, start values, the constrained optimiser and the solution checks. See
:mod:`peerscale.psychometrics.cfa` for the model and the estimators.

The model is a RAM (McArdle & McDonald 1984) over the observed variables (first p) and the
latent ones: ``A`` holds loadings and regressions, ``S`` (co)variances, ``m`` intercepts and
means; with ``B = (I − A)⁻¹`` the implied moments are ``Σ = [B S B']_obs``, ``μ = [B m]_obs``.
Ordinal items add thresholds τ and scaling factors δ: their implied statistics (lavaan's
``WLS.est``) are the thresholds ``(τ − μ*)·δ`` and the correlations ``δ_i δ_j Σ*_ij`` of the
latent responses; in the delta parameterisation δ are parameters (1 unless freed) and the
residual variances of the latent responses follow from ``diag Σ* = 1/δ²``; in the theta
parameterisation the residual variances are parameters and ``δ = 1/√diag Σ*``.

Every free row of the parameter table is one entry of x; equality constraints (shared
labels, ``group_equal``, linear ``==``) are removed by ``x = K z + x0`` with K spanning the
null space of their Jacobian (lavaan's ``eq.constraints.K``); nonlinear ``==`` and active
``<``/``>`` constraints are handled by sequential quadratic programming with an active set.
The step is Fisher scoring (Gauss–Newton for DWLS) with step halving.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import PeerscaleError
from .cfa_model import ModelSpec, Param
from .cfa_ordinal import OrdinalStats, ordinal_statistics
from .fiml import PatternBatch, _batch_loglik, _pattern_stats, em_saturated

# ---------------------------------------------------------------------------------------
# sample statistics
# ---------------------------------------------------------------------------------------


@dataclass
class GroupData:
    """One group's data. Complete data: sample mean and covariance (divisor n). FIML: the
    EM estimates of the saturated (h1) model, and the rows split by missingness pattern as
    ``(observed index array, n_p, pattern mean, pattern covariance)``. Ordinal items: the
    thresholds, polychoric correlations and their asymptotic covariance (``ordinal``), with
    ``cov`` the polychoric matrix."""

    name: object
    n: int
    mean: np.ndarray
    cov: np.ndarray  # divisor n
    raw: np.ndarray  # the rows used, for robust corrections
    patterns: list | None = None
    h1_loglik: float = 0.0
    baseline_loglik: float = 0.0
    batch: PatternBatch | None = None
    h1_trace: float | None = None
    ordinal: OrdinalStats | None = None
    dropped: int = 0
    cluster: np.ndarray | None = None  # cluster id of each row of ``raw`` (lavaan's ``cluster=``)


def _group_order(values: pd.Series) -> list:
    """Group labels in order of first appearance, as lavaan (``unique(data[[group]])``)."""
    return list(pd.unique(values.dropna()))


_STATS_CACHE: dict = {}


def sample_statistics(data: pd.DataFrame, observed: list[str], group: str | None = None,
                      missing: str = "listwise", ordinal=(), exogenous=()) -> list[GroupData]:
    """Per-group sample statistics of the ``observed`` columns (see :class:`GroupData`).

    The last few results are kept, keyed by a hash of the columns used, so that the fits of
    an invariance sequence or a partial-invariance search compute them (polychoric
    correlations and their asymptotic covariance, EM estimates) only once."""
    key = None
    if isinstance(data, pd.DataFrame) and all(c in data.columns for c in observed) and \
            (not group or group in data.columns):
        cols = list(observed) + ([group] if group else [])
        try:
            digest = int(pd.util.hash_pandas_object(data[cols], index=False).sum())
        except TypeError:
            digest = None
        if digest is not None:
            key = (tuple(observed), group, missing, tuple(ordinal), tuple(exogenous), data.shape[0], digest)
            if key in _STATS_CACHE:
                return _STATS_CACHE[key]
    out = _sample_statistics(data, observed, group, missing, ordinal, exogenous)
    if key is not None:
        if len(_STATS_CACHE) >= 4:
            _STATS_CACHE.pop(next(iter(_STATS_CACHE)))
        _STATS_CACHE[key] = out
    return out


def _sample_statistics(data, observed, group, missing, ordinal, exogenous) -> list[GroupData]:
    if not isinstance(data, pd.DataFrame):
        raise PeerscaleError("data must be a pandas DataFrame with one column per variable")
    missing_cols = [v for v in observed if v not in data.columns]
    if missing_cols:
        raise PeerscaleError(f"the model names {missing_cols[0]!r}, which is not a data column",
                             column=missing_cols[0],
                             hint="check the spelling, or map the column with --map")
    if missing not in ("listwise", "fiml"):
        raise PeerscaleError(f"missing={missing!r} is not supported", value=missing,
                             hint="use listwise or fiml")
    if group and group not in data.columns:
        raise PeerscaleError("grouping column not found", column=group)
    if group in observed:
        raise PeerscaleError("the grouping column is also a model variable", column=group)
    cols = observed + ([group] if group else [])
    frame = data[cols]
    nonnum = [c for c in observed if not pd.api.types.is_numeric_dtype(frame[c])]
    if nonnum:
        try:
            frame = frame.assign(**{c: pd.to_numeric(frame[c]) for c in nonnum})
        except (ValueError, TypeError):
            raise PeerscaleError("model variables must be numeric", column=nonnum[0],
                                 hint="recode text answers to numbers first") from None
    dropped_x = 0
    if missing == "fiml":
        df = frame.dropna(how="all", subset=observed)
        if exogenous:
            # lavaan (fixed.x = TRUE): cases with a missing exogenous covariate are deleted
            keep = df[list(exogenous)].notna().all(axis=1)
            dropped_x = int((~keep).sum())
            df = df[keep]
        if group:
            df = df.dropna(subset=[group])
    else:
        df = frame.dropna()
    if group:
        labels = _group_order(df[group])
        groups = [(lab, df[df[group] == lab]) for lab in labels]
    else:
        groups = [(None, df)]
    if group and len(groups) < 2:
        raise PeerscaleError("the grouping column has fewer than two groups", column=group)
    ordinal = list(ordinal)
    ncat, levels = {}, {}
    if ordinal:
        if missing == "fiml":
            raise PeerscaleError("ordinal items are analysed with listwise deletion (DWLS)",
                                 hint="use missing='listwise' with ordinal items")
        for v in ordinal:
            vals = df[v].to_numpy(dtype=float)
            if not np.all(vals == np.round(vals)):
                raise PeerscaleError("ordinal items need whole-number answer codes", column=v)
            levels[v] = np.unique(vals)
            ncat[v] = len(levels[v])
            if ncat[v] < 2:
                raise PeerscaleError("ordinal item has a single answer category", column=v)
    out = []
    p = len(observed)
    for name, sub in groups:
        x = sub[observed].to_numpy(dtype=float, copy=True)
        n = x.shape[0]
        where = "" if name is None else f" in group {name!r}"
        if missing == "fiml":
            gd = _fiml_group(name, x, observed, [observed.index(v) for v in exogenous])
            gd.dropped = dropped_x
            out.append(gd)
            continue
        if n <= p:
            raise PeerscaleError(f"only {n} complete rows{where} for {p} observed variables",
                                 hint="a CFA needs many more respondents than items")
        mean = x.mean(axis=0)
        xc = x - mean
        cov = xc.T @ xc / n
        sd = np.sqrt(np.diag(cov))
        if (sd == 0).any():
            raise PeerscaleError(f"item has no variance{where}", column=observed[int(np.argmin(sd))])
        if ordinal:
            codes = np.column_stack([np.searchsorted(levels[v], x[:, k]) for k, v in enumerate(observed)])
            st = ordinal_statistics(codes, [ncat[v] for v in observed], observed, name)
            out.append(GroupData(name, n, np.zeros(p), st.rho, x, ordinal=st))
            continue
        h1 = -n / 2 * (p * np.log(2 * np.pi) + np.linalg.slogdet(cov)[1] + p)
        base = _baseline_loglik(cov, n, [observed.index(v) for v in exogenous])
        out.append(GroupData(name, n, mean, cov, x, None, float(h1), float(base)))
    return out


def _baseline_loglik(cov, n, exo_idx) -> float:
    """Log-likelihood of the independence model: every non-exogenous variable on its own,
    the exogenous block saturated (lavaan's baseline with fixed.x)."""
    p = cov.shape[0]
    y_idx = [k for k in range(p) if k not in exo_idx]
    logdet = np.sum(np.log(np.diag(cov)[y_idx]))
    if exo_idx:
        logdet += np.linalg.slogdet(cov[np.ix_(exo_idx, exo_idx)])[1]
    return float(-n / 2 * (p * np.log(2 * np.pi) + logdet + p))


def _fiml_group(name, x: np.ndarray, observed: list[str], exo_idx=()) -> GroupData:
    n, p = x.shape
    counts = np.isfinite(x).sum(axis=0)
    where = "" if name is None else f" in group {name!r}"
    if counts.min() < 2:
        raise PeerscaleError(f"item has fewer than two answers{where}", column=observed[int(np.argmin(counts))])
    patterns = _pattern_stats(x)
    mu, sigma, ll = em_saturated(x, patterns)
    sd = np.sqrt(np.diag(sigma))
    if (sd < 1e-12).any():
        raise PeerscaleError(f"item has no variance{where}", column=observed[int(np.argmin(sd))])
    # independence baseline: each item's own normal likelihood over its answers; fixed
    # exogenous covariates (complete by then) keep their joint likelihood
    base = 0.0
    for j in range(p):
        if j in exo_idx:
            continue
        v = x[np.isfinite(x[:, j]), j]
        base += -len(v) / 2 * (np.log(2 * np.pi) + np.log(v.var()) + 1)
    if len(exo_idx):
        xs = x[:, list(exo_idx)]
        c = np.cov(xs, rowvar=False, bias=True).reshape(len(exo_idx), len(exo_idx))
        base += -n / 2 * (len(exo_idx) * np.log(2 * np.pi) + np.linalg.slogdet(c)[1] + len(exo_idx))
    return GroupData(name, n, mu, sigma, x, patterns, ll, float(base), PatternBatch.from_data(x))


# ---------------------------------------------------------------------------------------
# implied moments and derivatives
# ---------------------------------------------------------------------------------------

def vech_indices(p: int):
    return np.tril_indices(p)


@dataclass
class _GroupIndex:
    """The rows of one group as index arrays: for each matrix the free rows (positions, x
    indices) and the fixed rows (positions, values)."""

    a_free: tuple = ()
    a_fix: tuple = ()
    s_free: tuple = ()
    s_fix: tuple = ()
    m_free: tuple = ()
    m_fix: tuple = ()
    t_free: tuple = ()
    t_fix: tuple = ()
    d_free: tuple = ()
    d_fix: tuple = ()
    columns: np.ndarray = field(default_factory=lambda: np.zeros(0, int))


def _split(rows: list[Param], pos) -> tuple[tuple, tuple]:
    free = [r for r in rows if r.free >= 0]
    fix = [r for r in rows if r.free < 0]
    fp = tuple(np.array([pos(r)[k] for r in free], dtype=int) for k in range(2)) + \
        (np.array([r.free for r in free], dtype=int),)
    xp = tuple(np.array([pos(r)[k] for r in fix], dtype=int) for k in range(2)) + \
        (np.array([r.value for r in fix], dtype=float),)
    return fp, xp


def _fill(vec: np.ndarray, x: np.ndarray, free: tuple, fix: tuple) -> np.ndarray:
    """Set the free (from x) and fixed entries of a parameter vector."""
    if len(free[2]):
        vec[free[0]] = x[free[2]]
    if len(fix[2]):
        vec[fix[0]] = fix[2]
    return vec


class _Engine:
    """Evaluates implied moments, the discrepancy, its gradient and information at x (one
    entry per free row of the parameter table)."""

    def __init__(self, spec: ModelSpec, data: list[GroupData]):
        self.spec = spec
        self.data = data
        self.p = len(spec.observed)
        self.q = len(spec.variables)
        self.ntot = sum(d.n for d in data)
        self.w = np.array([d.n / self.ntot for d in data])
        self.vi, self.vj = vech_indices(self.p)
        diag = (self.vi == self.vj)
        self.f = np.where(diag, 1.0, 2.0)
        self.categorical = spec.categorical
        self.by_group = [[pr for pr in spec.params if pr.group == g] for g in range(spec.n_groups)]
        self._fill_exogenous()
        self.index = [self._compile(g) for g in range(spec.n_groups)]
        if self.categorical:
            p = self.p
            self.ord_idx = np.array([spec.observed.index(v) for v in spec.ordinal], dtype=int)
            nth = [spec.nthresholds.get(v, 0) for v in spec.observed]
            self.th_var = np.repeat(np.arange(p), nth)
            self.th_start = np.concatenate([[0], np.cumsum(nth)])
            self.n_th = int(self.th_start[-1])
            self.cj, self.ci = np.triu_indices(p, 1)  # correlations (ci > cj), lavaan's order

    # -- setup -------------------------------------------------------------------------
    def _fill_exogenous(self) -> None:
        """Fixed-x rows take their group's sample (co)variances and means."""
        idx = {v: k for k, v in enumerate(self.spec.observed)}
        for pr in self.spec.params:
            if pr.exo and pr.free < 0:
                d = self.data[pr.group]
                if pr.op == "~1":
                    pr.value = float(d.mean[idx[pr.lhs]])
                else:
                    pr.value = float(d.cov[idx[pr.lhs], idx[pr.rhs]])

    def _compile(self, g: int) -> _GroupIndex:
        rows = self.by_group[g]
        gi = _GroupIndex()
        gi.a_free, gi.a_fix = _split([r for r in rows if r.mat == "A"], lambda r: (r.i, r.j))
        gi.s_free, gi.s_fix = _split([r for r in rows if r.mat == "S"], lambda r: (r.i, r.j))
        gi.m_free, gi.m_fix = _split([r for r in rows if r.mat == "m"], lambda r: (r.i, 0))
        if self.spec.categorical:
            nth = [self.spec.nthresholds.get(v, 0) for v in self.spec.observed]
            start = np.concatenate([[0], np.cumsum(nth)])
            gi.t_free, gi.t_fix = _split([r for r in rows if r.mat == "t"], lambda r: (start[r.i] + r.j, 0))
            gi.d_free, gi.d_fix = _split([r for r in rows if r.mat == "d"], lambda r: (r.i, 0))
        gi.columns = np.array(sorted(r.free for r in rows if r.free >= 0), dtype=int)
        return gi

    # -- model matrices --------------------------------------------------------------------
    def matrices(self, theta, g):
        q = self.q
        gi = self.index[g]
        a = np.zeros((q, q))
        s = np.zeros((q, q))
        m = np.zeros(q)
        x = np.asarray(theta, dtype=float)
        if len(gi.a_free[2]):
            a[gi.a_free[0], gi.a_free[1]] = x[gi.a_free[2]]
        if len(gi.a_fix[2]):
            a[gi.a_fix[0], gi.a_fix[1]] = gi.a_fix[2]
        if len(gi.s_free[2]):
            s[gi.s_free[0], gi.s_free[1]] = x[gi.s_free[2]]
            s[gi.s_free[1], gi.s_free[0]] = x[gi.s_free[2]]
        if len(gi.s_fix[2]):
            s[gi.s_fix[0], gi.s_fix[1]] = gi.s_fix[2]
            s[gi.s_fix[1], gi.s_fix[0]] = gi.s_fix[2]
        if len(gi.m_free[2]):
            m[gi.m_free[0]] = x[gi.m_free[2]]
        if len(gi.m_fix[2]):
            m[gi.m_fix[0]] = gi.m_fix[2]
        if self.categorical and self.spec.parameterization == "delta":
            s = self._delta_residuals(a, s, self.scaling(x, g))
        return a, s, m

    def _ordinal_residual_system(self, a):
        b = np.linalg.inv(np.eye(self.q) - a)
        bo = b[self.ord_idx]
        return b, (bo[:, self.ord_idx] ** 2)

    def _delta_residuals(self, a, s, dlt):
        """Delta parameterisation: residual variances of the latent responses such that
        ``diag Σ* = 1/δ²`` (solves ``M θ = 1/δ² − c`` with ``M_ki = B_ki²``)."""
        oi = self.ord_idx
        s = s.copy()
        s[oi, oi] = 0.0
        b, mm = self._ordinal_residual_system(a)
        bo = b[oi]
        common = np.einsum("ij,jk,ik->i", bo, s, bo)
        target = 1.0 / dlt[oi] ** 2 - common
        s[oi, oi] = target if np.allclose(mm, np.eye(len(oi))) else np.linalg.solve(mm, target)
        return s

    def scaling(self, x, g) -> np.ndarray:
        """δ of the delta parameterisation (the ``~*~`` rows), 1 for continuous variables."""
        gi = self.index[g]
        return _fill(np.ones(self.p), x, gi.d_free, gi.d_fix)

    def thresholds(self, x, g) -> np.ndarray:
        gi = self.index[g]
        return _fill(np.zeros(self.n_th), x, gi.t_free, gi.t_fix)

    def implied(self, theta, g):
        a, s, m = self.matrices(theta, g)
        b = np.linalg.inv(np.eye(self.q) - a)
        c = b @ s @ b.T
        p = self.p
        mu = (b @ m)[:p] if self.spec.meanstructure else self.data[g].mean
        return c[:p, :p], mu, b, c, m

    def delta(self, theta, g, extra: list[Param] | None = None, full_vech: bool = True):
        """Jacobian of (μ, vech Σ) (μ only with a mean structure) w.r.t. x (all n_free
        columns; only this group's are non-zero), and w.r.t. the ``extra`` fixed parameters
        (for modification indices) as extra columns."""
        sigma, mu, b, c, m = self.implied(theta, g)
        p = self.p
        nm = p if self.spec.meanstructure else 0
        npx = self.spec.n_free + (len(extra) if extra else 0)
        d = np.zeros((nm + len(self.vi), npx))
        gi = self.index[g]
        self._raw_delta(d, b, c, m, nm, gi.a_free, gi.s_free, gi.m_free)
        if extra:
            base = self.spec.n_free
            for mat in ("A", "S", "m"):
                rows = [(k, e) for k, e in enumerate(extra) if e.mat == mat]
                if not rows:
                    continue
                pos = (np.array([e.i for _, e in rows]), np.array([e.j for _, e in rows]),
                       np.array([base + k for k, _ in rows]))
                self._raw_delta(d, b, c, m, nm, pos if mat == "A" else ((), (), np.zeros(0, int)),
                                pos if mat == "S" else ((), (), np.zeros(0, int)),
                                pos if mat == "m" else ((), (), np.zeros(0, int)))
        return d

    def _raw_delta(self, d, b, c, m, nm, a_pos, s_pos, m_pos, vi=None, vj=None):
        """Add the columns of ∂(μ, vech Σ)/∂ for the A, S and m positions given (vectorised)."""
        p = self.p
        vi = self.vi if vi is None else vi
        vj = self.vj if vj is None else vj
        bo = b[:p]
        co = c[:, :p]
        if len(a_pos[2]):
            ai, aj, cols = a_pos
            dc = bo[vi][:, ai] * co[aj][:, vj].T + bo[vj][:, ai] * co[aj][:, vi].T
            d[nm:, cols] += dc
            if nm:
                d[:nm, cols] += bo[:, ai] * (b @ m)[aj][None, :]
        if len(s_pos[2]):
            si, sj, cols = s_pos
            dc = bo[vi][:, si] * bo[vj][:, sj] + np.where(si != sj, 1.0, 0.0)[None, :] * bo[vj][:, si] * bo[vi][:, sj]
            d[nm:, cols] += dc
        if len(m_pos[2]) and nm:
            mi, _, cols = m_pos
            d[:nm, cols] += bo[:, mi]
        return d

    def weight(self, sigma_inv):
        """½-scaled expected information of one observation for (μ, vech Σ): W."""
        si = sigma_inv
        vi, vj = self.vi, self.vj
        ww = (si[np.ix_(vi, vi)] * si[np.ix_(vj, vj)] + si[np.ix_(vi, vj)] * si[np.ix_(vj, vi)])
        ww *= 0.25 * np.outer(self.f, self.f)
        if self.spec.meanstructure:
            p = self.p
            out = np.zeros((p + len(vi), p + len(vi)))
            out[:p, :p] = si
            out[p:, p:] = ww
            return out
        return ww

    # -- ordinal (DWLS) -------------------------------------------------------------------
    def wls_est(self, x, g) -> np.ndarray:
        """lavaan's ``WLS.est``: model thresholds ``(τ − μ*)δ`` and correlations ``δ_iδ_jΣ*_ij``."""
        sigma, mu, *_ = self.implied(x, g)
        dlt = self._deltas(x, g, sigma)
        tau = self.thresholds(x, g)
        th = (tau - mu[self.th_var]) * dlt[self.th_var]
        corr = dlt[self.ci] * dlt[self.cj] * sigma[self.ci, self.cj]
        return np.concatenate([th, corr])

    def _deltas(self, x, g, sigma) -> np.ndarray:
        if self.spec.parameterization == "delta":
            return self.scaling(x, g)
        dg = np.diag(sigma)
        if (dg <= 0).any():
            return np.full(self.p, np.nan)
        return 1.0 / np.sqrt(dg)

    def wls_delta(self, x, g) -> np.ndarray:
        """Jacobian of :meth:`wls_est` w.r.t. x (analytic; see module docstring)."""
        p, k = self.p, self.spec.n_free
        a, s, m = self.matrices(x, g)
        b = np.linalg.inv(np.eye(self.q) - a)
        c = b @ s @ b.T
        sigma, mu = c[:p, :p], (b @ m)[:p]
        gi = self.index[g]
        vi_all, vj_all = np.tril_indices(p)
        raw = np.zeros((p + len(vi_all), k))
        self._raw_delta(raw, b, c, m, p, gi.a_free, gi.s_free, gi.m_free, vi_all, vj_all)
        dmu = raw[:p]
        dsig = raw[p:]
        pos = np.full((p, p), -1)
        pos[vi_all, vj_all] = np.arange(len(vi_all))
        diag_rows = pos[np.arange(p), np.arange(p)]
        oi = self.ord_idx
        if self.spec.parameterization == "delta":
            dlt = self.scaling(x, g)
            ddlt = np.zeros((p, k))
            if len(gi.d_free[2]):
                ddlt[gi.d_free[0], gi.d_free[2]] = 1.0
            # residual variances follow the constraint diag Σ* = 1/δ²
            _, mm = self._ordinal_residual_system(a)
            jtheta = np.zeros((len(vi_all), len(oi)))
            bo = b[:p]
            for r, kk in enumerate(oi):
                jtheta[:, r] = bo[vi_all, kk] * bo[vj_all, kk]
            target = -2.0 * ddlt[oi] / dlt[oi, None] ** 3 - dsig[diag_rows[oi]]
            dtheta = np.linalg.solve(mm, target)
            dsig = dsig + jtheta @ dtheta
        else:
            dg = np.diag(sigma)
            dlt = 1.0 / np.sqrt(dg)
            ddlt = -0.5 * dg[:, None] ** -1.5 * dsig[diag_rows]
        tau = self.thresholds(x, g)
        dtau = np.zeros((self.n_th, k))
        if len(gi.t_free[2]):
            dtau[gi.t_free[0], gi.t_free[2]] = 1.0
        tv = self.th_var
        dth = (dtau - dmu[tv]) * dlt[tv, None] + (tau - mu[tv])[:, None] * ddlt[tv]
        ci, cj = self.ci, self.cj
        sc = sigma[ci, cj]
        dcorr = (ddlt[ci] * dlt[cj, None] + dlt[ci, None] * ddlt[cj]) * sc[:, None] \
            + (dlt[ci] * dlt[cj])[:, None] * dsig[pos[ci, cj]]
        return np.vstack([dth, dcorr])

    # -- objective -------------------------------------------------------------------------
    def discrepancy(self, theta) -> tuple[float, list[float]]:
        """F = Σ_g (n_g/N) F_g with χ² = N·F: the ML discrepancy (twice lavaan's fmin) or, for
        DWLS, ``(n_g − 1)/n_g`` times the weighted sum of squares per group."""
        total, parts = 0.0, []
        for g, d in enumerate(self.data):
            if self.categorical:
                try:
                    est = self.wls_est(theta, g)
                except np.linalg.LinAlgError:
                    return np.inf, []
                if not np.all(np.isfinite(est)):
                    return np.inf, []
                st = d.ordinal
                fg = float(np.sum(st.wls_vd * (st.wls_obs - est) ** 2)) * (d.n - 1) / d.n
                parts.append(fg)
                total += self.w[g] * fg
                continue
            try:
                sigma, mu, *_ = self.implied(theta, g)
            except np.linalg.LinAlgError:
                return np.inf, []
            sign, logdet = np.linalg.slogdet(sigma)
            if sign <= 0 or not np.isfinite(logdet):
                return np.inf, []
            if d.patterns is not None:
                fg = 2.0 * (d.h1_loglik - _batch_loglik(d.batch, mu, sigma)) / d.n
                if not np.isfinite(fg):
                    return np.inf, []
                parts.append(float(fg))
                total += self.w[g] * fg
                continue
            si = np.linalg.inv(sigma)
            diff = d.mean - mu
            _, logdet_s = np.linalg.slogdet(d.cov)
            fg = logdet + np.sum(si * d.cov) - logdet_s - self.p + diff @ si @ diff
            parts.append(float(fg))
            total += self.w[g] * fg
        return float(total), parts

    def gradient_info(self, theta, extra=None, info: bool = True):
        """Gradient of F and the unit information Σ_g w_g Δ'WΔ (the Hessian of F/2 to first
        order; for DWLS with the (n_g − 1)/n_g factor of F), including any ``extra``
        parameters as trailing entries; ``info=False`` skips the information."""
        k = self.spec.n_free + (len(extra) if extra else 0)
        grad = np.zeros(k)
        out_info = np.zeros((k, k)) if info else None
        for g, d in enumerate(self.data):
            if self.categorical:
                st = d.ordinal
                cols = self.index[g].columns
                dl = self.wls_delta(theta, g)[:, cols]
                fac = self.w[g] * (d.n - 1) / d.n
                resid = st.wls_obs - self.wls_est(theta, g)
                grad[cols] += -2.0 * fac * (dl.T @ (st.wls_vd * resid))
                if info:
                    out_info[np.ix_(cols, cols)] += fac * (dl.T @ (st.wls_vd[:, None] * dl))
                continue
            sigma, mu, *_ = self.implied(theta, g)
            si = np.linalg.inv(sigma)
            gv = self.moment_gradient(d, sigma, mu, si)
            dl = self.delta(theta, g, extra)
            grad += self.w[g] * (dl.T @ gv)
            if info:
                out_info += self.w[g] * self._info(dl, si)
        return grad, out_info

    def expected_information(self, theta) -> np.ndarray:
        """lavaan's unit expected information: ``Σ_g (n_g/N) Δ'WΔ`` (ML: W the normal-theory
        weight at the implied moments; DWLS: the diagonal weights)."""
        k = self.spec.n_free
        out = np.zeros((k, k))
        for g, d in enumerate(self.data):
            if self.categorical:
                cols = self.index[g].columns
                dl = self.wls_delta(theta, g)[:, cols]
                out[np.ix_(cols, cols)] += self.w[g] * (dl.T @ (d.ordinal.wls_vd[:, None] * dl))
                continue
            sigma, *_ = self.implied(theta, g)
            out += self.w[g] * self._info(self.delta(theta, g), np.linalg.inv(sigma))
        return out

    def moment_gradient(self, d: GroupData, sigma, mu, si):
        """∂F_g/∂(μ, vech Σ). Complete data: ``G = Σ⁻¹ − Σ⁻¹(S + dd')Σ⁻¹``, ``−2Σ⁻¹d``; FIML:
        the same per missingness pattern on its observed block, weighted by n_p/n."""
        if d.patterns is None:
            diff = d.mean - mu
            gm = si - si @ (d.cov + np.outer(diff, diff)) @ si
            gmu = -2.0 * si @ diff
        else:
            b = d.batch
            inv, _ = b.inverses(sigma, logdet=False)
            if inv is None:
                raise np.linalg.LinAlgError("implied covariance not positive definite for a pattern")
            u = b.residual_scores(mu, inv)
            gm = np.einsum("a,aij->ij", b.n / d.n, inv) - u.T @ u / d.n
            gmu = -2.0 * u.sum(axis=0) / d.n
        gv = self.f * gm[self.vi, self.vj]
        if self.spec.meanstructure:
            gv = np.concatenate([gmu, gv])
        return gv

    def _info(self, dl, si):
        """Δ'WΔ without forming W: ½ tr(Σ⁻¹ ∂Σ_k Σ⁻¹ ∂Σ_l) for the covariance part (plus
        ∂μ_k' Σ⁻¹ ∂μ_l with a mean structure)."""
        p = self.p
        nm = p if self.spec.meanstructure else 0
        nz = np.flatnonzero(np.any(dl != 0, axis=0))
        k = dl.shape[1]
        sub = dl[:, nz]
        kk = len(nz)
        full = np.zeros((kk, p, p))
        full[:, self.vi, self.vj] = sub[nm:].T
        full[:, self.vj, self.vi] = sub[nm:].T
        a = si @ full
        small = 0.5 * a.reshape(kk, -1) @ a.transpose(0, 2, 1).reshape(kk, -1).T
        if nm:
            dm = sub[:nm]
            small += dm.T @ si @ dm
        out = np.zeros((k, k))
        out[np.ix_(nz, nz)] = small
        return out

    def observed_information(self, theta) -> np.ndarray:
        """Observed information per observation, ½·∂²F/∂x², by central differences of the
        analytic gradient (lavaan's ``observed.information="hessian"``)."""
        k = self.spec.n_free
        h = np.zeros((k, k))
        eps = 1e-5
        for a in range(k):
            e = np.zeros(k)
            e[a] = eps
            gp, _ = self.gradient_info(theta + e, info=False)
            gm, _ = self.gradient_info(theta - e, info=False)
            h[:, a] = (gp - gm) / (2 * eps)
        return 0.25 * (h + h.T)


# ---------------------------------------------------------------------------------------
# start values
# ---------------------------------------------------------------------------------------

def _fabin(cov: np.ndarray, std_lv: bool) -> tuple[np.ndarray, float]:
    """One-factor start values as lavaan's ``lav_cfa_1fac_fabin`` (fabin3; three-indicator
    closed form below four): loadings with the first fixed to 1, and the factor variance."""
    nv = cov.shape[0]
    if nv < 4:
        s = cov
        if nv == 1:
            return np.ones(1), max(float(s[0, 0]) * 0.5, 0.05)
        if nv == 2:
            extra = np.array([np.mean(np.diag(s)), s[1, 0]])
            s = np.block([[s, extra[:, None]], [extra[None, :], np.array([[np.max(np.diag(cov))]])]])
        s21, s31, s32 = s[1, 0], s[2, 0], s[2, 1]
        if s21 * s31 * s32 <= 0 or s32 == 0 or s31 == 0 or s21 == 0:
            lam = np.full(3, 1.0)
            psi = 0.5 * s[0, 0]
        else:
            psi = s21 * s31 / s32
            lower = 0.1 * s[0, 0]
            psi = min(max(psi, lower), s[0, 0])
            lam = np.array([1.0, s32 / s31, s32 / s21])
            for k in (1, 2):
                bound = np.sqrt(s[k, k] / lower)
                lam[k] = min(max(-bound, lam[k]), bound)
        lam = lam[:nv]
        if nv == 2:
            psi = psi / 2
        return lam, float(psi)
    lam = np.ones(nv)
    for i in range(1, nv):
        idx3 = [k for k in range(nv) if k not in (0, i)]
        s31 = cov[idx3, 0]
        try:
            tmp = np.linalg.solve(cov[np.ix_(idx3, idx3)], s31)
            lam[i] = float(cov[i, idx3] @ tmp) / float(s31 @ tmp)
        except np.linalg.LinAlgError:
            lam[i] = float(cov[i, idx3] @ s31) / float(s31 @ s31)
    lower = 0.1 * cov[0, 0]
    for i in range(1, nv):
        bound = np.sqrt(cov[i, i] / lower)
        lam[i] = min(max(-bound, lam[i]), bound)
    lam[~np.isfinite(lam)] = 1.0
    d = np.outer(lam, lam) / np.sum(lam ** 2)
    try:
        theta = np.linalg.solve(np.eye(nv) - d * d, np.diag(cov - d @ cov @ d))
        s1 = cov - np.diag(theta)
        l2 = np.sum(lam ** 2)
        psi = float(lam @ s1 @ lam) / (l2 * l2)
    except np.linalg.LinAlgError:
        psi = 0.5 * cov[0, 0]
    return lam, psi


def start_values(spec: ModelSpec, data: list[GroupData], method: str = "default") -> np.ndarray:
    """Start values per group, as lavaan's ``lav_start``: loadings by fabin3 on each factor's
    indicators in that group's covariances, residual variances half the item variances,
    latent variances from the same one-factor fits, intercepts and thresholds at their
    sample values, the rest 0 (``method="simple"``: loadings 1, variances 1). User
    ``start()`` values win."""
    x = np.full(spec.n_free, np.nan)
    p = len(spec.observed)
    cat = spec.categorical
    by_group = [[pr for pr in spec.params if pr.group == g] for g in range(spec.n_groups)]
    for g, rows in enumerate(by_group):
        d = data[g]
        cov = d.cov
        load = {}
        lv_var = {}
        if method == "default":
            for lv_idx in range(p, p + len(spec.latent)):
                lrows = [pr for pr in rows if pr.mat == "A" and pr.op == "=~" and pr.j == lv_idx]
                if not lrows or any(pr.i >= p for pr in lrows):
                    continue
                inds = [pr.i for pr in lrows]
                fv = next((pr for pr in rows if pr.mat == "S" and pr.i == lv_idx and pr.j == lv_idx), None)
                std = fv is not None and fv.free < 0 and fv.value == 1.0
                lam, psi = _fabin(cov[np.ix_(inds, inds)], std)
                if std:
                    lam = lam * np.sign(psi) * np.sqrt(abs(psi))
                    psi = 1.0
                for pr, val in zip(lrows, lam):
                    load[(pr.i, pr.j)] = val if np.isfinite(val) else 1.0
                lv_var[lv_idx] = max(psi, 0.05) if np.isfinite(psi) else 0.05
        for pr in rows:
            if pr.free < 0:
                continue
            k = pr.free
            if np.isfinite(pr.start):
                x[k] = pr.start
                continue
            if pr.mat == "A":
                if pr.op == "=~":
                    x[k] = load.get((pr.i, pr.j), 0.7 if cat else 1.0)
                else:
                    x[k] = 0.0
            elif pr.mat == "S":
                if pr.i == pr.j:
                    if pr.i < p:
                        if cat:
                            x[k] = 1.0
                        elif pr.exo:
                            x[k] = cov[pr.i, pr.i]
                        else:
                            x[k] = (0.5 if method == "default" else 1.0) * cov[pr.i, pr.i]
                    else:
                        x[k] = lv_var.get(pr.i, 0.05 if method == "default" else 1.0)
                else:
                    both_x = pr.lhs in spec.exogenous and pr.rhs in spec.exogenous
                    x[k] = cov[pr.i, pr.j] if both_x and pr.i < p and pr.j < p else 0.0
            elif pr.mat == "m":
                x[k] = d.mean[pr.i] if pr.i < p and not cat else 0.0
            elif pr.mat == "t":
                x[k] = d.ordinal.thresholds[pr.i][pr.j]
            elif pr.mat == "d":
                x[k] = 1.0
    x[~np.isfinite(x)] = 0.5
    return x


def random_start(spec: ModelSpec, base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A perturbed start: loadings, regressions and (co)variances scaled by U(0.5, 1.5) (variances
    by U(0.5, 2)), intercepts and thresholds kept."""
    x = base.copy()
    for pr in spec.params:
        if pr.free < 0 or np.isfinite(pr.start):
            continue
        if pr.mat == "A":
            x[pr.free] = x[pr.free] * rng.uniform(0.5, 1.5) + (rng.normal(0, 0.2) if x[pr.free] == 0 else 0)
        elif pr.mat == "S":
            x[pr.free] *= rng.uniform(0.5, 2.0) if pr.i == pr.j else rng.uniform(0.5, 1.5)
    return x


# ---------------------------------------------------------------------------------------
# constraints
# ---------------------------------------------------------------------------------------

def _jacobian(func, x: np.ndarray, cols) -> np.ndarray:
    """Central differences with one Richardson step, over the columns ``cols`` of x."""
    f0 = np.atleast_1d(func(x))
    jac = np.zeros((len(f0), len(x)))
    for c in cols:
        h = 1e-4 * max(1.0, abs(x[c]))
        vals = []
        for hh in (h, h / 2):
            e = np.zeros(len(x))
            e[c] = hh
            vals.append((np.atleast_1d(func(x + e)) - np.atleast_1d(func(x - e))) / (2 * hh))
        jac[:, c] = (4 * vals[1] - vals[0]) / 3
    return jac


class Constraints:
    """The constraints of a model over x: linear equalities (``R x = r``), nonlinear
    equalities and inequalities (``c(x) ≥ 0``), in lavaan's order (``==`` rows, then
    ``<``/``>``)."""

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self.names = spec.names()
        n = spec.n_free
        lin_rows, lin_rhs, self.eq_rows = [], [], []
        self.nonlin_eq, self.ineq = [], []
        rng = np.random.default_rng(12345)
        self.eq_constraints = [c for c in spec.constraints if c.op == "=="]
        for c in self.eq_constraints:
            if c.pair is not None:
                row = np.zeros(n)
                row[c.pair[0]] += 1.0
                row[c.pair[1]] -= 1.0
                lin_rows.append(row)
                lin_rhs.append(0.0)
                self.eq_rows.append(("lin", len(lin_rows) - 1))
                continue
            lin = self._linear(c, rng)
            if lin is not None:
                lin_rows.append(lin[0])
                lin_rhs.append(lin[1])
                self.eq_rows.append(("lin", len(lin_rows) - 1))
            else:
                self.nonlin_eq.append(c)
                self.eq_rows.append(("nl", len(self.nonlin_eq) - 1))
        for c in spec.constraints:
            if c.op in ("<", ">"):
                lin = self._linear(c, rng)
                self.ineq.append((c, lin))
        self.R = np.array(lin_rows).reshape(len(lin_rows), n)
        self.r = np.array(lin_rhs, dtype=float)
        self.simple = all(c.pair is not None for c in self.eq_constraints)

    def func(self, c):
        names = self.names
        return lambda x: c.residual(self.spec.values(x, names))

    def cols(self, c) -> list[int]:
        out = set()
        defined = {d.name: d for d in self.spec.defined}

        def visit(nm):
            if nm in defined:
                for n2 in defined[nm].expr.names:
                    visit(n2)
            elif nm in self.names and self.names[nm][0] == "x":
                out.add(self.names[nm][1])
        for nm in c._lhs.names + c._rhs.names:
            visit(nm)
        return sorted(out)

    def _linear(self, c, rng):
        f = self.func(c)
        cols = self.cols(c)
        n = self.spec.n_free
        if not cols:
            val = f(np.zeros(n))
            raise PeerscaleError(f"the constraint '{c.lhs} {c.op} {c.rhs}' involves no free parameter"
                                 + (" and does not hold" if (c.op == "==" and abs(val) > 1e-10) or
                                    (c.op != "==" and val < 0) else ""),
                                 hint="constrain labels of free parameters")
        pts = [rng.uniform(0.3, 1.7, n) for _ in range(2)]
        try:
            with np.errstate(all="ignore"):
                jacs = [_jacobian(f, x0, cols)[0] for x0 in pts]
                vals = [f(x0) for x0 in pts]
        except (ZeroDivisionError, FloatingPointError):
            return None
        if not all(np.all(np.isfinite(j)) for j in jacs):
            return None
        if np.allclose(jacs[0], jacs[1], atol=1e-8, rtol=1e-8) and \
                abs(vals[1] - vals[0] - jacs[0] @ (pts[1] - pts[0])) < 1e-8 * max(1.0, abs(vals[0])):
            row = jacs[0]
            return row, float(row @ pts[0] - vals[0])
        return None

    @property
    def any(self) -> bool:
        return bool(len(self.R) or self.nonlin_eq or self.ineq)

    def eq_jacobian(self, x) -> np.ndarray:
        """Jacobian of all ``==`` constraints (lavaan's ``ceq.JAC``), rows in lavaan's order."""
        n = self.spec.n_free
        out = np.zeros((len(self.eq_rows), n))
        for k, (kind, idx) in enumerate(self.eq_rows):
            if kind == "lin":
                out[k] = self.R[idx]
            else:
                c = self.nonlin_eq[idx]
                out[k] = _jacobian(self.func(c), x, self.cols(c))[0]
        return out

    def ineq_values(self, x) -> np.ndarray:
        return np.array([self.func(c)(x) for c, _ in self.ineq])

    def ineq_jacobian(self, x, which) -> np.ndarray:
        n = self.spec.n_free
        out = np.zeros((len(which), n))
        for k, i in enumerate(which):
            c, lin = self.ineq[i]
            out[k] = lin[0] if lin is not None else _jacobian(self.func(c), x, self.cols(c))[0]
        return out

    def active_jacobian(self, x, active=()) -> np.ndarray:
        """Rows of the equality constraints and the active inequalities (lavaan's ``con.jac``
        without the inactive rows)."""
        parts = [self.eq_jacobian(x)]
        if active:
            parts.append(self.ineq_jacobian(x, sorted(active)))
        return np.vstack(parts) if parts else np.zeros((0, self.spec.n_free))


def null_space(r: np.ndarray, n: int) -> np.ndarray:
    """Orthonormal basis of {x: R x = 0} (n × (n − rank R))."""
    if r.shape[0] == 0:
        return np.eye(n)
    u, s, vt = np.linalg.svd(r)
    rank = int(np.sum(s > s.max() * max(r.shape) * np.finfo(float).eps * 10)) if len(s) else 0
    return vt[rank:].T


def _simple_k(r: np.ndarray, n: int) -> np.ndarray:
    """K for pairwise equalities only: one column per class of equal parameters."""
    parent = list(range(n))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a
    for row in r:
        a, b = np.flatnonzero(row)
        parent[find(a)] = find(b)
    roots = {}
    k = np.zeros((n, 0))
    cols = []
    for i in range(n):
        rt = find(i)
        if rt not in roots:
            roots[rt] = len(cols)
            cols.append([])
        cols[roots[rt]].append(i)
    k = np.zeros((n, len(cols)))
    for c, members in enumerate(cols):
        k[members, c] = 1.0
    return k


def reparameterisation(cons: Constraints, extra_rows=None, extra_rhs=None) -> tuple[np.ndarray, np.ndarray]:
    """(K, x0) with every x = K z + x0 satisfying the linear equalities (and ``extra_rows``)."""
    n = cons.spec.n_free
    r, rhs = cons.R, cons.r
    if extra_rows is not None and len(extra_rows):
        r = np.vstack([r, extra_rows])
        rhs = np.concatenate([rhs, extra_rhs])
    if cons.simple and (extra_rows is None or not len(extra_rows)) and np.all(rhs == 0):
        return _simple_k(r, n), np.zeros(n)
    k = null_space(r, n)
    x0 = np.linalg.lstsq(r, rhs, rcond=None)[0] if r.shape[0] else np.zeros(n)
    return k, x0


# ---------------------------------------------------------------------------------------
# the optimiser
# ---------------------------------------------------------------------------------------

@dataclass
class Solution:
    x: np.ndarray
    f: float
    converged: bool
    iterations: int
    grad_norm: float
    active: tuple = ()
    multipliers: np.ndarray | None = None
    start: str = "default"


def _scoring(engine: _Engine, k: np.ndarray, x0: np.ndarray, z: np.ndarray, max_iter: int = 500,
             tol: float = 1e-9):
    """Fisher scoring (Gauss–Newton for DWLS) in z with step halving and Levenberg damping
    when the information is singular."""
    x = k @ z + x0
    f, _ = engine.discrepancy(x)
    if not np.isfinite(f):
        return x, np.inf, False, 0, np.inf
    it = 0
    converged = False
    lam = 0.0
    bfgs = None  # Hessian approximation once Fisher scoring slows down (misfitting models)
    prev_df = None
    g_new = None
    for it in range(1, max_iter + 1):
        try:
            if bfgs is None or g_new is None:
                g_x, info = engine.gradient_info(x)
                g = k.T @ g_x
                h = 2.0 * (k.T @ info @ k)
            else:
                g, h = g_new, bfgs
        except np.linalg.LinAlgError:
            break
        if np.max(np.abs(g)) < tol:
            converged = True
            break
        try:
            step = np.linalg.solve(h + lam * np.diag(np.diag(h) + 1e-12), g)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(h, g, rcond=None)[0]
        t = 1.0
        ok = False
        for _ in range(40):
            cand = z - t * step
            fc, _ = engine.discrepancy(k @ cand + x0)
            if np.isfinite(fc) and fc <= f + 1e-14:
                ok = True
                break
            t /= 2.0
        if not ok:
            if bfgs is not None:
                bfgs, g_new = None, None  # back to Fisher scoring
                continue
            if lam < 1e6:
                lam = max(1e-4, lam * 10)
                continue
            break
        lam = lam / 10 if lam > 1e-8 else 0.0
        df = f - fc
        s_step = cand - z
        z, f = cand, fc
        x = k @ z + x0
        if df < 1e-15 and np.max(np.abs(t * step)) < 1e-10:
            converged = True
            break
        slow = prev_df is not None and df > 0.3 * prev_df
        prev_df = df
        if bfgs is not None or slow:
            # structured quasi-Newton: start from the Fisher matrix, correct with secant updates
            try:
                g_x2, _ = engine.gradient_info(x, info=False)
            except np.linalg.LinAlgError:
                break
            g2 = k.T @ g_x2
            y = g2 - g
            base = h if bfgs is None else bfgs
            sy = float(s_step @ y)
            if sy > 1e-16:
                hs = base @ s_step
                bfgs = base - np.outer(hs, hs) / float(s_step @ hs) + np.outer(y, y) / sy
                g_new = g2
            else:
                bfgs, g_new = None, None
    try:
        g_x, _ = engine.gradient_info(x, info=False)
        gn = float(np.max(np.abs(k.T @ g_x))) if k.shape[1] else 0.0
    except np.linalg.LinAlgError:
        gn = np.inf
    converged = converged or gn < 1e-6
    return x, f, converged and gn < 1e-4, it, gn


def _sqp(engine: _Engine, cons: Constraints, k: np.ndarray, x0: np.ndarray, z: np.ndarray,
         nonlin: list, max_iter: int = 300):
    """Equality-constrained SQP in z for the nonlinear constraints ``nonlin`` (functions of
    x with their Jacobians), Fisher information as the Hessian, L1 merit with step halving.
    Returns x, F, converged, iterations, the multipliers and the projected gradient norm."""
    def cvals(x):
        return np.array([fn(x) for fn, _ in nonlin])

    def cjac(x):
        return np.vstack([jf(x) for _, jf in nonlin]) @ k
    x = k @ z + x0
    f, _ = engine.discrepancy(x)
    mu = 10.0
    nu = np.zeros(len(nonlin))
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        g_x, info = engine.gradient_info(x)
        g = k.T @ g_x
        h = 2.0 * (k.T @ info @ k)
        c = cvals(x)
        jc = cjac(x)
        m = len(c)
        kkt = np.block([[h, jc.T], [jc, np.zeros((m, m))]])
        rhs = -np.concatenate([g, c])
        try:
            sol = np.linalg.solve(kkt, rhs)
        except np.linalg.LinAlgError:
            sol = np.linalg.lstsq(kkt, rhs, rcond=None)[0]
        d, nu = sol[:len(z)], sol[len(z):]
        mu = max(mu, 2.0 * float(np.max(np.abs(nu))) + 1.0) if m else mu
        merit = f + mu * np.sum(np.abs(c))
        if np.max(np.abs(d)) < 1e-10 and np.max(np.abs(c), initial=0) < 1e-10:
            converged = True
            break
        t = 1.0
        ok = False
        for _ in range(40):
            cand = z + t * d
            xc = k @ cand + x0
            fc, _ = engine.discrepancy(xc)
            if np.isfinite(fc):
                mc = fc + mu * np.sum(np.abs(cvals(xc)))
                if mc <= merit + 1e-14:
                    ok = True
                    break
            t /= 2.0
        if not ok:
            break
        z, f, x = cand, fc, k @ cand + x0
    g_x, _ = engine.gradient_info(x, info=False)
    g = k.T @ g_x
    jc = cjac(x)
    # projected gradient: the part of g not explained by the constraint normals
    lam = np.linalg.lstsq(jc.T, -g, rcond=None)[0] if len(nonlin) else np.zeros(0)
    gn = float(np.max(np.abs(g + jc.T @ lam))) if len(g) else 0.0
    feas = float(np.max(np.abs(cvals(x)), initial=0))
    return x, f, (converged or gn < 1e-6) and gn < 1e-4 and feas < 1e-8, it, lam, gn


def optimise(engine: _Engine, cons: Constraints, x_start: np.ndarray, max_iter: int = 500) -> Solution:
    """Minimise F subject to the constraints from ``x_start`` (active-set loop over the
    inequalities; see module docstring)."""
    active: set = set()
    x = x_start.copy()
    total_it = 0
    for _ in range(2 * len(cons.ineq) + 2):
        lin_extra = [i for i in active if cons.ineq[i][1] is not None]
        nl_active = [i for i in active if cons.ineq[i][1] is None]
        rows = np.array([cons.ineq[i][1][0] for i in lin_extra]).reshape(len(lin_extra), cons.spec.n_free)
        rhs = np.array([cons.ineq[i][1][1] for i in lin_extra])
        k, x0 = reparameterisation(cons, rows, rhs)
        z = np.linalg.lstsq(k, x - x0, rcond=None)[0]
        nonlin = [(cons.func(c), (lambda c_: (lambda xx: _jacobian(cons.func(c_), xx, cons.cols(c_))[0]))(c))
                  for c in cons.nonlin_eq]
        nonlin += [(cons.func(cons.ineq[i][0]),
                    (lambda c_: (lambda xx: _jacobian(cons.func(c_), xx, cons.cols(c_))[0]))(cons.ineq[i][0]))
                   for i in nl_active]
        if nonlin:
            x, f, conv, it, _, gn = _sqp(engine, cons, k, x0, z, nonlin, max_iter)
        else:
            x, f, conv, it, gn = _scoring(engine, k, x0, z, max_iter)
        total_it += it
        if not cons.ineq:
            return Solution(x, f, conv, total_it, gn)
        # multipliers of the active linear inequalities: g = Σ λ_i ∇c_i on the active set
        mult = {}
        if active:
            g_x, _ = engine.gradient_info(x, info=False)
            jac_all = cons.active_jacobian(x, active)
            coef = np.linalg.lstsq(jac_all.T, g_x, rcond=None)[0]
            ne = len(cons.eq_rows)
            for pos, i in enumerate(sorted(active)):
                mult[i] = coef[ne + pos]
        vals = cons.ineq_values(x)
        viol = [i for i in range(len(cons.ineq)) if i not in active and vals[i] < -1e-9]
        if viol:
            active.add(min(viol, key=lambda i: vals[i]))
            continue
        # λ ≥ 0 for c(x) ≥ 0 at a minimum: g = Σ λ ∇c, ∇c pointing into the feasible side
        wrong = [i for i in active if mult.get(i, 0.0) < -1e-8]
        if wrong:
            active.discard(min(wrong, key=lambda i: mult[i]))
            continue
        return Solution(x, f, conv, total_it, gn, tuple(sorted(active)),
                        np.array([mult.get(i, 0.0) for i in sorted(active)]))
    return Solution(x, f, False, total_it, np.inf, tuple(sorted(active)))


# ---------------------------------------------------------------------------------------
# the covariance of the estimates under constraints
# ---------------------------------------------------------------------------------------

def constrained_inverse(info: np.ndarray, cons: Constraints, x: np.ndarray, active=()) -> np.ndarray:
    """The inverse of the information on the constraint surface: ``K(K'IK)⁻¹K'`` for linear
    equalities, else lavaan's augmented form (the top-left block of the generalised inverse
    of ``[[I + H'H, H'], [H, 0]]``, H the Jacobian of the active constraints)."""
    if not cons.any:
        return np.linalg.inv(info)
    nonlinear = bool(cons.nonlin_eq) or bool(active)
    if not nonlinear:
        k, _ = reparameterisation(cons)
        return k @ np.linalg.inv(k.T @ info @ k) @ k.T
    h = cons.active_jacobian(x, active)
    n = info.shape[0]
    m = h.shape[0]
    e = np.block([[info + h.T @ h, h.T], [h, np.zeros((m, m))]])
    return np.linalg.pinv(e, rcond=np.finfo(float).eps ** 0.75)[:n, :n]


def unidentified_parameters(info: np.ndarray, cons: Constraints, spec: ModelSpec, x, active=()) -> list[str]:
    """Names of the parameters in the direction the information cannot determine (the
    eigenvector of the smallest eigenvalue of the information on the constraint surface)."""
    if cons.any and not (cons.nonlin_eq or active):
        k, _ = reparameterisation(cons)
    elif cons.any:
        h = cons.active_jacobian(x, active)
        k = null_space(h, spec.n_free)
    else:
        k = np.eye(spec.n_free)
    w, v = np.linalg.eigh(k.T @ info @ k)
    null = v[:, w <= 1e-9 * max(1.0, abs(w[-1]))]
    if null.shape[1] == 0:
        null = v[:, :1]
    weight = np.sqrt(np.sum((k @ null) ** 2, axis=1))
    big = np.argsort(-weight)
    top = [i for i in big if weight[i] > 0.2 * weight[big[0]]][:6]
    out = []
    for i in top:
        pr = next(pr for pr in spec.params if pr.free == i)
        out.append(f"{pr.lhs} {pr.op} {pr.rhs}".strip() + (f" (group {pr.group + 1})" if spec.n_groups > 1 else ""))
    return out
