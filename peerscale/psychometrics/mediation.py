"""Simple mediation as a structural equation model, the way ``lavaan::sem()`` fits it.

The theory of change of the seed paper (Walker et al., 2024) is a chain: the activities of the
peer support role (X) build a peerness-based relationship (M), and the relationship carries
the outcomes for the young person (Y). :func:`fit_mediation` fits

.. code-block:: text

    M ~ a*X + covariates
    Y ~ b*M + c*X + covariates
    indirect := a*b
    total    := c + a*b

by maximum likelihood with the CFA/SEM engine (:func:`~peerscale.psychometrics.cfa.fit_cfa`),
on observed scale scores or, with ``latent=``, with X, M and Y each a latent factor of its
items. The indirect effect gets a delta-method standard error (lavaan's ``:=``) and a seeded
nonparametric bootstrap interval (percentile and bias-corrected).
"""

from __future__ import annotations

import os
import re
import secrets
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import PeerscaleError

__all__ = ["MediationResult", "fit_mediation", "mediation_syntax", "bootstrap_ci"]

_NAME = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")
ROLES = ("x", "m", "y")
MIN_ROWS = 10


@dataclass
class MediationResult:
    """A fitted simple mediation model.

    Attributes
    ----------
    paths : ``{"a", "b", "c_prime"}`` → ``{"est", "se", "z", "p"}`` (ML, delta/sandwich SEs).
    indirect : ``{"est", "se", "z", "p", "ci_percentile", "ci_bc"}`` (intervals None without bootstrap).
    total : ``{"est", "se", "z", "p"}``.
    n : rows used; ``n_excluded`` rows left out, ``excluded`` the reasons with counts.
    fit : the :class:`~peerscale.psychometrics.cfa_results.CFAResult` (lavaan ``sem()`` object).
    """

    x: str
    m: str
    y: str
    paths: dict
    indirect: dict
    total: dict
    n: int
    n_excluded: int
    excluded: dict
    fit: object
    model: str
    covariates: list = field(default_factory=list)
    baseline: str | None = None
    latent: bool = False
    cluster: str | None = None
    n_clusters: int | None = None
    missing: str = "listwise"
    bootstrap: dict | None = None
    level: float = 0.95
    notes: list = field(default_factory=list)
    r2: dict = field(default_factory=dict)
    std: dict = field(default_factory=dict)
    sources: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The JSON of ``peerscale mediation --json``."""
        return {"x": self.x, "m": self.m, "y": self.y, "paths": self.paths, "indirect": self.indirect,
                "total": self.total, "n": self.n, "n_excluded": self.n_excluded, "excluded": self.excluded,
                "covariates": list(self.covariates), "baseline": self.baseline, "latent": self.latent,
                "cluster": self.cluster, "n_clusters": self.n_clusters, "missing": self.missing,
                "estimator": "ML" + (" (robust.cluster SEs)" if self.cluster else ""),
                "bootstrap": self.bootstrap, "level": self.level, "r2": self.r2, "standardized": self.std,
                "model": self.model, "sources": self.sources, "notes": list(self.notes)}

    def to_frame(self) -> pd.DataFrame:
        """One row per effect: a, b, c′ (direct), indirect (a·b), total; est, se, z, p and the
        bootstrap interval of the indirect effect.

        Examples
        --------
        >>> res.to_frame()  # parameterEstimates(fit)[c("a", "b", "c", "ind", "tot"), ]  # doctest: +SKIP
        """
        rows = []
        for key, label in (("a", f"a: {self.m} ~ {self.x}"), ("b", f"b: {self.y} ~ {self.m}"),
                           ("c_prime", f"c′ (direct): {self.y} ~ {self.x}")):
            rows.append({"effect": key, "path": label, **self.paths[key]})
        ind = self.indirect
        rows.append({"effect": "indirect", "path": "a·b", **{k: ind[k] for k in ("est", "se", "z", "p")},
                     "ci_percentile_lower": (ind["ci_percentile"] or [np.nan])[0],
                     "ci_percentile_upper": (ind["ci_percentile"] or [np.nan, np.nan])[1],
                     "ci_bc_lower": (ind["ci_bc"] or [np.nan])[0], "ci_bc_upper": (ind["ci_bc"] or [np.nan, np.nan])[1]})
        rows.append({"effect": "total", "path": "c′ + a·b", **self.total})
        return pd.DataFrame(rows).set_index("effect")

    def summary(self) -> str:
        """A short text in the manner of lavaan's ``summary()`` for the regressions and ``:=``."""
        lines = [f"Mediation (ML{', cluster-robust SEs by ' + self.cluster if self.cluster else ''}): "
                 f"{self.x} -> {self.m} -> {self.y}" + (" (latent variables)" if self.latent else ""),
                 f"  N used = {self.n}" + (f", {self.n_excluded} rows left out ({self.missing})" if self.n_excluded else
                                           f" ({self.missing})")
                 + (f"; {self.n_clusters} clusters" if self.cluster else "")]
        if self.covariates:
            lines.append("  covariates: " + ", ".join(self.covariates))
        if self.baseline:
            lines.append(f"  baseline outcome controlled: {self.baseline}")
        lines.append(f"  {'':<24}{'Estimate':>10}{'Std.Err':>10}{'z-value':>10}{'P(>|z|)':>10}")
        for key, label in (("a", "a  (M ~ X)"), ("b", "b  (Y ~ M)"), ("c_prime", "c' (Y ~ X, direct)")):
            p = self.paths[key]
            lines.append(f"  {label:<24}{p['est']:>10.3f}{p['se']:>10.3f}{p['z']:>10.3f}{p['p']:>10.3f}")
        for label, p in (("indirect := a*b", self.indirect), ("total := c + a*b", self.total)):
            lines.append(f"  {label:<24}{p['est']:>10.3f}{p['se']:>10.3f}{p['z']:>10.3f}{p['p']:>10.3f}")
        if self.indirect.get("ci_percentile"):
            lo, hi = self.indirect["ci_percentile"]
            blo, bhi = self.indirect["ci_bc"]
            b = self.bootstrap
            lines.append(f"  indirect {self.level:.0%} bootstrap CI ({b['n_ok']} resamples, seed {b['seed']}): "
                         f"percentile [{lo:.3f}, {hi:.3f}], bias-corrected [{blo:.3f}, {bhi:.3f}]")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()


def mediation_syntax(x: str, m: str, y: str, covariates=(), latent: dict | None = None) -> str:
    """The lavaan model: ``m ~ a*x (+ covariates); y ~ b*m + c*x (+ covariates);
    indirect := a*b; total := c + a*b``, with ``lv =~ items`` lines when ``latent`` maps a
    role's name to its items."""
    lines = []
    for name in (x, m, y):
        if latent and name in latent:
            lines.append(f"{name} =~ " + " + ".join(latent[name]))
    cov = "".join(f" + {c}" for c in covariates)
    lines += [f"{m} ~ a*{x}{cov}", f"{y} ~ b*{m} + c*{x}{cov}", "indirect := a*b", "total := c + a*b"]
    return "\n".join(lines)


def _safe_names(names) -> dict:
    """Map each column name to a name lavaan syntax accepts (``v1``, ``v2``... when not)."""
    out, k = {}, 0
    for n in names:
        if _NAME.match(str(n)) and str(n) not in ("a", "b", "c", "indirect", "total"):
            out[n] = str(n)
        else:
            k += 1
            while f"v{k}" in names:
                k += 1
            out[n] = f"v{k}"
    return out


def _effect(row) -> dict:
    return {"est": float(row["est"]), "se": float(row["se"]), "z": float(row["z"]), "p": float(row["pvalue"])}


def fit_mediation(data: pd.DataFrame, x: str, m: str, y: str, *, covariates=(), baseline: str | None = None,
                  latent: dict | None = None, cluster: str | None = None, missing: str = "listwise",
                  bootstrap: int = 0, seed: int | None = None, workers: int | None = None, level: float = 0.95,
                  quiet: bool = True) -> MediationResult:
    """Fit the simple mediation model X → M → Y as ``lavaan::sem()`` with ``:=``.

    Parameters
    ----------
    data : one row per person; columns ``x``, ``m``, ``y`` (scale scores), the covariates,
        ``baseline``, ``cluster``, and with ``latent`` the items.
    x, m, y : the cause (activities), the mediator (relationship) and the outcome.
    covariates : observed covariates, each in both regressions.
    baseline : the outcome at the earlier wave; enters both regressions as a covariate, so
        ``b`` and ``c′`` are effects on the outcome adjusted for where it started
        (``y_t2 ~ b*m_t1 + c*x_t1 + y_t1``).
    latent : ``{role name: [items]}``: that construct is a latent factor of its items
        (first loading fixed to 1) instead of an observed score; give all three for the
        fully latent model.
    cluster : column of cluster ids (the worker): cluster-robust standard errors as
        lavaan's ``cluster=`` (``se="robust.cluster"``); the bootstrap then resamples whole
        clusters.
    missing : ``"listwise"`` (rows with any model variable missing are left out and counted)
        or ``"fiml"`` (every row with an answer; rows missing X or a covariate are still left
        out, as lavaan's ``fixed.x``).
    bootstrap : number of resamples for the percentile and bias-corrected intervals of the
        indirect effect (0: none). ``seed`` makes them reproducible (a seed is drawn and
        reported when none is given); ``workers`` processes share the resamples (default:
        up to 2); the result does not depend on their number.
    level : confidence level of the intervals.
    quiet : no progress bar.

    Returns
    -------
    MediationResult

    Notes
    -----
    ML with fixed exogenous covariates (``fixed.x``), a mean structure, listwise deletion by
    default. The indirect effect ``a·b`` has the delta-method SE
    ``√(b²·var(a) + a²·var(b) + 2ab·cov(a, b))`` (Sobel's first-order SE when cov = 0). The
    bootstrap refits the model on each resample (on observed scores the ML estimates are the
    ordinary least-squares coefficients of the two regressions, which it uses directly);
    percentile interval: the α/2 and 1 − α/2 quantiles of the resampled a·b; bias-corrected:
    the quantiles at ``Φ(2z₀ ± z_{1−α/2})`` with ``z₀ = Φ⁻¹(#{a·b* < a·b}/B)`` (Efron 1987).
    Cross-sectional data cannot show that X causes M or M causes Y: the indirect effect is a
    decomposition of associations under the model's assumptions (no unmeasured confounding
    of X–M, M–Y and X–Y; correct ordering; no measurement error in the observed variant).

    References
    ----------
    MacKinnon, D. P. (2008). *Introduction to statistical mediation analysis*. Erlbaum.
    Rosseel, Y. (2012). lavaan: An R package for structural equation modeling. JSS 48(2).
    Efron, B. (1987). Better bootstrap confidence intervals. JASA 82, 171–185.

    Examples
    --------
    >>> res = fit_mediation(df, "act_total", "pbr_core", "out_total")  # doctest: +SKIP
    >>> # lavaan: sem("pbr_core ~ a*act_total; out_total ~ b*pbr_core + c*act_total;
    >>> #              indirect := a*b; total := c + a*b", data = df)
    >>> res.indirect["est"], res.indirect["se"]  # doctest: +SKIP
    """
    from .cfa import fit_cfa

    if not isinstance(data, pd.DataFrame):
        raise PeerscaleError("data must be a pandas DataFrame")
    covariates = list(dict.fromkeys(covariates or ()))
    if len({x, m, y}) < 3:
        raise PeerscaleError(f"x, m and y must be three different variables (got {x!r}, {m!r}, {y!r})",
                             hint="choose the activities, the relationship and the outcome")
    for c in covariates + ([baseline] if baseline else []):
        if c in (x, m, y):
            raise PeerscaleError(f"{c!r} is x, m or y and cannot also be a covariate", column=c)
    if missing not in ("listwise", "fiml"):
        raise PeerscaleError(f"missing={missing!r} is not supported", value=missing, hint="use listwise or fiml")
    if not 0 < level < 1:
        raise PeerscaleError("level must be between 0 and 1", value=level)
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)) or bootstrap < 0:
        raise PeerscaleError("bootstrap must be a whole number of 0 or more", value=bootstrap)
    if 0 < bootstrap < 100:
        raise PeerscaleError(f"{bootstrap} bootstrap resamples are too few for an interval",
                             hint="use 1000 or more (5000 for a final analysis), or 0 for none")
    latent = dict(latent or {})
    unknown = [k for k in latent if k not in (x, m, y)]
    if unknown:
        raise PeerscaleError(f"latent names {unknown[0]!r}, which is not x, m or y")
    seen: dict = {}
    for role, inds in latent.items():
        for i in inds:
            if i in seen and seen[i] != role:
                raise PeerscaleError(f"{role!r} and {seen[i]!r} share the indicator {i!r}", column=i,
                                     hint="x, m and y must be measured by different items (e.g. not a composite "
                                          "and one of its own subscales)")
            seen[i] = role
    extra = covariates + ([baseline] if baseline else [])
    observed_roles = [v for v in (x, m, y) if v not in latent]
    items = [i for v in (x, m, y) if v in latent for i in latent[v]]
    used = list(dict.fromkeys(observed_roles + items + extra))
    need = used + ([cluster] if cluster else [])
    absent = [c for c in need if c not in data.columns]
    if absent:
        if cluster and absent[0] == cluster:
            raise PeerscaleError(f"cluster column {cluster!r} is not in the data", column=cluster,
                                 hint="name the column of worker ids (--cluster COLUMN), or set worker: in study.yaml")
        raise PeerscaleError(f"column {absent[0]!r} is not in the data", column=absent[0])
    frame = data[need].copy()
    for c in used:
        if not pd.api.types.is_numeric_dtype(frame[c]):
            conv = pd.to_numeric(frame[c], errors="coerce")
            bad = frame[c].notna() & conv.isna()
            if bad.any():
                raise PeerscaleError(f"{c!r} must be numeric", column=c, row=int(np.flatnonzero(bad.to_numpy())[0]) + 1,
                                     value=frame[c][bad].iloc[0], hint="recode text to numbers first")
            frame[c] = conv
    n_rows = len(frame)
    # -- who is used, who is left out and why (never silently) --------------------------------
    excluded: dict[str, int] = {}
    keep = np.ones(n_rows, dtype=bool)

    def drop(mask, why):
        nonlocal keep
        k = int((keep & mask).sum())
        if k:
            excluded[why] = excluded.get(why, 0) + k
        keep &= ~mask

    if cluster:
        drop(frame[cluster].isna().to_numpy(), f"no cluster id ({cluster})")
    if missing == "listwise":
        for c in observed_roles + extra:
            drop(frame[c].isna().to_numpy(), f"{c} missing")
        if items:
            drop(frame[items].isna().any(axis=1).to_numpy(), "an indicator of a latent variable missing")
    else:
        for c in ([x] if x not in latent else []) + extra:  # fixed.x: exogenous variables must be present
            drop(frame[c].isna().to_numpy(), f"{c} missing (exogenous)")
        drop(frame[observed_roles + items].isna().all(axis=1).to_numpy(), "nothing answered")
    sub = frame[keep].reset_index(drop=True)
    n = len(sub)
    n_vars = len(observed_roles) + len(items) + len(extra)
    if n < max(MIN_ROWS, n_vars + 2):
        raise PeerscaleError(f"only {n} usable rows (of {n_rows}) for {n_vars} variables: too few for a mediation "
                             "model" + (f" (left out: {_reasons(excluded)})" if excluded else ""),
                             hint=(f"a mediation model needs at least {max(MIN_ROWS, n_vars + 2)} complete rows "
                                   "(and far more, 100+, for stable estimates)"
                                   + ("; with latent variables, missing='fiml' (--missing fiml) uses every row "
                                      "with an answer" if items and missing == "listwise" else "")))
    for c in used:
        col = sub[c].dropna()
        if col.nunique() < 2:
            raise PeerscaleError(f"{c!r} is constant in the rows used (every value {col.iloc[0] if len(col) else 'missing'})",
                                 column=c, hint="a variable that does not vary cannot predict or be predicted; "
                                                "check the scale and the rows selected")
    n_clusters = None
    if cluster:
        from ..design import id_text

        ids = id_text(sub[cluster]).astype(str)  # ' W1' and 'W1', 7 and 7.0: one cluster
        n_clusters = int(ids.nunique())
        if n_clusters < 2:
            raise PeerscaleError(f"the cluster column {cluster!r} has a single cluster in the rows used",
                                 column=cluster, hint="cluster-robust SEs need many clusters (20+); leave out --cluster")
        sub[cluster] = ids
    # -- the model ---------------------------------------------------------------------------
    alias = _safe_names(list(dict.fromkeys([x, m, y] + used)))
    ax, am, ay = alias[x], alias[m], alias[y]
    lat = {alias[k]: [alias[i] for i in v] for k, v in latent.items()}
    acov = [alias[c] for c in extra]
    model = mediation_syntax(ax, am, ay, acov, lat)
    fdata = sub.rename(columns={k: v for k, v in alias.items() if k in sub.columns})
    fit = fit_cfa(model, fdata, missing=missing, cluster=cluster, estimator="ML")
    pe = fit.params
    labelled = pe.set_index("label")
    paths = {"a": _effect(labelled.loc["a"]), "b": _effect(labelled.loc["b"]), "c_prime": _effect(labelled.loc["c"])}
    indirect = {**_effect(labelled.loc["indirect"]), "ci_percentile": None, "ci_bc": None}
    total = _effect(labelled.loc["total"])
    notes = []
    if fit.warnings:
        notes += list(fit.warnings)
    if excluded:
        share = sum(excluded.values()) / n_rows
        if missing == "listwise" and share > 0.10:
            notes.append(f"{share:.0%} of rows were left out by listwise deletion; missing='fiml' (--missing fiml) "
                         "uses every row with an answer")
    if cluster:
        # as cfa --cluster: clusters of one row (lavaan refuses them) and too few clusters
        from ..analyses import _cluster_notes

        notes += _cluster_notes(sub, cluster, [])
    if n < 100:
        notes.append(f"N = {n} is small for mediation: the indirect effect's interval is wide and its "
                     "normal-theory (delta) p-value is optimistic; prefer the bootstrap interval")
    r2 = _r_squared(fit, am, ay)
    std = _standardized(fit)
    boot = None
    if bootstrap:
        seed = int(secrets.randbits(31)) if seed is None else int(seed)
        est = indirect["est"]
        t0 = time.perf_counter()
        stats, failed = _bootstrap(fdata, model, (ax, am, ay), acov, lat, cluster, missing, bootstrap, seed, workers,
                                   quiet)
        ok = stats[np.isfinite(stats)]
        if len(ok) < 0.5 * bootstrap:
            raise PeerscaleError(f"the model could be fitted on only {len(ok)} of {bootstrap} bootstrap resamples",
                                 hint="the model is unstable in this sample: use observed scores or more data")
        perc, bc = bootstrap_ci(ok, est, level)
        indirect["ci_percentile"], indirect["ci_bc"] = perc, bc
        boot = {"n": int(bootstrap), "n_ok": int(len(ok)), "n_failed": int(failed), "seed": seed,
                "resampled": "clusters" if cluster else "rows", "se": float(np.std(ok, ddof=1)),
                "seconds": round(time.perf_counter() - t0, 3),
                "workers": 1 if not lat and missing == "listwise" else _n_workers(workers, bootstrap)}
        if failed:
            notes.append(f"{failed} of {bootstrap} bootstrap resamples did not converge and were left out of the intervals")
    return MediationResult(x=x, m=m, y=y, paths=paths, indirect=indirect, total=total, n=int(fit.n),
                           n_excluded=int(n_rows - fit.n), excluded=_fiml_excluded(excluded, n_rows, fit.n),
                           fit=fit, model=mediation_syntax(x, m, y, extra, latent), covariates=covariates,
                           baseline=baseline, latent=bool(latent), cluster=cluster, n_clusters=n_clusters,
                           missing=missing, bootstrap=boot, level=level, notes=notes, r2=r2, std=std)


def _fiml_excluded(excluded, n_rows, n_used):
    out = dict(excluded)
    other = n_rows - n_used - sum(out.values())
    if other > 0:  # e.g. the engine's own fixed.x deletion
        out["other"] = other
    return out


def _reasons(excluded: dict) -> str:
    return "; ".join(f"{k}: {v}" for k, v in excluded.items())


def _r_squared(fit, m, y) -> dict:
    """R² of M and Y: 1 − residual variance / implied variance (lavaan's ``inspect(fit, "r2")``)."""
    spec = fit.spec
    sigma_all = None
    out = {}
    eng = fit._engine
    a, s, _ = eng.matrices(fit.theta, 0)
    q = a.shape[0]
    inv = np.linalg.inv(np.eye(q) - a)
    sigma_all = inv @ s @ inv.T
    names = spec.variables
    for key, v in (("m", m), ("y", y)):
        i = names.index(v)
        out[key] = float(1.0 - s[i, i] / sigma_all[i, i])
    return out


def _standardized(fit) -> dict:
    """Standardized (std.all) a, b, c′, indirect and total."""
    from .cfa_results import standardized_solution

    std = standardized_solution(fit)
    pe = fit.params
    out = {}
    for lab, key in (("a", "a"), ("b", "b"), ("c", "c_prime")):
        k = int(np.flatnonzero(pe["label"].to_numpy() == lab)[0])
        out[key] = float(std["est_std"].iloc[k])
    out["indirect"] = out["a"] * out["b"]
    out["total"] = out["c_prime"] + out["indirect"]
    return out


# ---------------------------------------------------------------------------------------
# bootstrap
# ---------------------------------------------------------------------------------------

def bootstrap_ci(stats: np.ndarray, est: float, level: float = 0.95) -> tuple[list, list]:
    """Percentile and bias-corrected intervals of a bootstrap distribution ``stats`` of an
    estimate ``est``: quantiles (R's type 7) at ``α/2, 1 − α/2`` and at
    ``Φ(2z₀ + z_{α/2}), Φ(2z₀ + z_{1−α/2})`` with ``z₀ = Φ⁻¹(#{stats < est}/B)``."""
    from scipy.special import ndtr, ndtri

    alpha = 1.0 - level
    stats = np.asarray(stats, dtype=float)
    perc = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    prop = float(np.mean(stats < est))
    prop = min(max(prop, 0.5 / len(stats)), 1 - 0.5 / len(stats))
    z0 = ndtri(prop)
    probs = ndtr(2 * z0 + ndtri(np.array([alpha / 2, 1 - alpha / 2])))
    bc = np.quantile(stats, probs)
    return [float(perc[0]), float(perc[1])], [float(bc[0]), float(bc[1])]


def _n_workers(workers, n) -> int:
    if workers is None:
        workers = min(2, os.cpu_count() or 1)
    return max(1, min(int(workers), max(1, n // 50)))


BLOCK = 10  # resamples per generator; chunks of work are whole blocks


def _resamples(lo: int, hi: int, seed: int, n: int, groups) -> list[np.ndarray]:
    """Row indices of resamples ``lo..hi-1`` (``lo`` a multiple of BLOCK). Block ``k`` (resamples
    10k..10k+9) draws from its own generator seeded by (seed, k), so a resample does not depend
    on which process draws it or on how the resamples are shared out."""
    out = []
    for start in range(lo, hi, BLOCK):
        rng = np.random.default_rng([seed, start // BLOCK])
        for _ in range(start, min(start + BLOCK, hi)):
            if groups is None:
                out.append(rng.integers(0, n, n))
            else:
                pick = rng.integers(0, len(groups), len(groups))
                out.append(np.concatenate([groups[k] for k in pick]))
    return out


def _ols_indirect(arrs: np.ndarray) -> np.ndarray:
    """a·b of each resample in ``arrs`` (resamples × rows × [x, m, y, covariates]) from the two
    least-squares regressions, which are the ML estimates of the saturated observed-variable
    model, solved for all resamples at once from their centred cross-products."""
    c = arrs - arrs.mean(axis=1, keepdims=True)  # centring replaces the intercept
    cov = np.matmul(c.transpose(0, 2, 1), c)
    k = arrs.shape[2]
    pm = [0] + list(range(3, k))  # m ~ x + covariates
    py = [1, 0] + list(range(3, k))  # y ~ m + x + covariates
    out = np.full(arrs.shape[0], np.nan)
    try:
        a = np.linalg.solve(cov[:, pm][:, :, pm], cov[:, pm, 1][..., None])[:, 0, 0]
        b = np.linalg.solve(cov[:, py][:, :, py], cov[:, py, 2][..., None])[:, 0, 0]
        out = a * b
    except np.linalg.LinAlgError:  # a singular resample: solve them one by one
        for r in range(arrs.shape[0]):
            try:
                out[r] = _ols_indirect(arrs[r:r + 1])[0] if arrs.shape[0] > 1 else np.nan
            except np.linalg.LinAlgError:
                pass
    return out


def _chunk(job) -> np.ndarray:
    """Indirect effects of resamples ``lo..hi`` (run in a worker process or in-process)."""
    (lo, hi, seed, payload) = job
    kind, arr, columns, model, groups, missing = payload
    out = np.full(hi - lo, np.nan)
    n = arr.shape[0]
    draws = _resamples(lo, hi, seed, n, groups)
    if kind == "ols":
        if groups is None:
            return _ols_indirect(arr[np.stack(draws)])
        for k, idx in enumerate(draws):  # cluster resamples differ in size
            out[k] = _ols_indirect(arr[idx][None])[0]
        return out
    import warnings

    from .cfa import fit_cfa
    frame = pd.DataFrame(arr, columns=columns)
    for k, idx in enumerate(draws):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = fit_cfa(model, frame.iloc[idx].reset_index(drop=True), missing=missing, estimator="ML")
            if fit.converged:
                out[k] = float(fit.defined_values(fit.theta)[0])
        except (PeerscaleError, np.linalg.LinAlgError, ValueError):
            pass
    return out


def _bootstrap(fdata, model, xmy, acov, lat, cluster, missing, n_boot, seed, workers, quiet):
    from ..progress import progress

    groups = None
    if cluster:
        codes, _ = pd.factorize(fdata[cluster])
        order = np.argsort(codes, kind="stable")
        bounds = np.flatnonzero(np.diff(codes[order])) + 1
        groups = np.split(order, bounds)
    if not lat and missing == "listwise":
        cols = list(xmy) + list(acov)
        payload = ("ols", fdata[cols].to_numpy(dtype=float), cols, None, groups, missing)
    else:
        cols = [c for c in fdata.columns if c != cluster]
        payload = ("sem", fdata[cols].to_numpy(dtype=float), cols, model, groups, missing)
    size = 500 if payload[0] == "ols" else 10
    jobs = [(lo, min(lo + size, n_boot), seed, payload) for lo in range(0, n_boot, size)]
    # least squares on all resamples at once takes milliseconds: a process pool would only add
    # its start-up; refitting the SEM (latent variables, FIML) shares the resamples out
    nw = 1 if payload[0] == "ols" else _n_workers(workers, n_boot)
    results = [None] * len(jobs)
    with progress(n_boot, "bootstrap", quiet=quiet) as bar:
        if nw == 1 or len(jobs) == 1:
            for k, job in enumerate(jobs):
                results[k] = _chunk(job)
                bar.advance(job[1] - job[0])
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor, as_completed

            ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
            with ProcessPoolExecutor(max_workers=nw, mp_context=ctx) as pool:
                futs = {pool.submit(_chunk, job): k for k, job in enumerate(jobs)}
                for f in as_completed(futs):
                    k = futs[f]
                    results[k] = f.result()
                    bar.advance(jobs[k][1] - jobs[k][0])
    stats = np.concatenate(results)
    return stats, int(np.sum(~np.isfinite(stats)))
