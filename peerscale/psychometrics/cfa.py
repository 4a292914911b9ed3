"""Confirmatory factor analysis and structural equation models, the lavaan way.

``fit_cfa`` fits a model given in lavaan syntax (:mod:`peerscale.psychometrics.lavaan_syntax`)
as ``lavaan::cfa``/``lavaan::sem`` (lavaan 0.6-14) do, in four steps kept in four modules:

- the model (:mod:`~peerscale.psychometrics.cfa_model`): the parameter table with lavaan's
  defaults, ``group_equal``/``group_partial``, labels, ``==``, ``<``, ``>`` and ``:=``;
- the engine (:mod:`~peerscale.psychometrics.cfa_engine`): sample statistics per group,
  implied moments and their derivatives, per-group start values, the constrained
  optimiser, random restarts and the checks of the solution;
- the robust corrections (:mod:`~peerscale.psychometrics.cfa_robust`): MLR sandwich and
  Yuan–Bentler test with complete data and FIML, FIML-corrected robust indices, the DWLS
  sandwich and scaled-shifted test;
- the results (:mod:`~peerscale.psychometrics.cfa_results`): estimates, ``summary()``,
  standardized solution, defined parameters, modification indices and score tests.

Estimators. ``ML`` minimises ``F(θ) = Σ_g (n_g/N) [log|Σ_g| + tr(S_gΣ_g⁻¹) − log|S_g| − p +
(x̄_g − μ_g)'Σ_g⁻¹(x̄_g − μ_g)]`` (S_g with divisor n_g), ``χ² = N·F``, SEs from the expected
information ``I = Σ_g (n_g/N) Δ_g'W_gΔ_g``, ``vcov = I⁻¹/N`` (on the constraint surface). With
``missing="fiml"`` F is ``2(ℓ_h1 − ℓ)/N`` over each case's answered items and SEs use the
observed information (lavaan's ``missing="ml"``). ``MLR`` adds Huber–White SEs and the
Yuan–Bentler scaled test (lavaan's ``"yuan.bentler.mplus"``). ``DWLS`` (alias ``WLSMV``)
treats ``ordered`` items as ordinal: DWLS on thresholds and polychoric correlations with
robust SEs and the scaled-shifted test, in the delta or theta parameterisation.

Reference: Rosseel, Y. (2012). lavaan: An R package for structural equation modeling.
Journal of Statistical Software, 48(2).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import PeerscaleError
from .blas import single_threaded
from .cfa_engine import (Constraints, GroupData, Solution, _Engine, constrained_inverse, optimise, random_start,
                         sample_statistics, start_values, unidentified_parameters)
from .cfa_model import GROUP_EQUAL, ModelSpec, Param, build_model, variable_sets
from .cfa_results import (CFAResult, modification_indices, residual_correlations, score_tests,
                          standardized_solution)
from .cfa_robust import _robust, _robust_fiml, dwls_robust
from .lavaan_syntax import Term, parse_model

__all__ = ["CFAResult", "ESTIMATORS", "GROUP_EQUAL", "GroupData", "ModelSpec", "Param", "STRUCTURES",
           "build_model", "fit_cfa", "instrument_model", "modification_indices", "residual_correlations",
           "sample_statistics", "score_tests", "standardized_solution"]

ESTIMATORS = ("ML", "MLR", "DWLS")
_ALIASES = {"WLSMV": "DWLS"}


@single_threaded
def fit_cfa(model: str | list[Term], data: pd.DataFrame, *, group: str | None = None,
            estimator: str = "ML", missing: str = "listwise", std_lv: bool = False,
            orthogonal: bool = False, group_equal=(), meanstructure: bool | None = None,
            group_partial=(), ordered=None, parameterization: str = "delta",
            auto_fix_first: bool | None = None, fixed_x: bool = True, starts: int = 0,
            seed: int | None = None, max_iter: int = 500, cluster: str | None = None) -> CFAResult:
    """Fit a CFA/SEM given in lavaan syntax, as ``lavaan::cfa()`` / ``lavaan::sem()``.

    Parameters
    ----------
    model : lavaan model syntax (or parsed terms); see
        :mod:`peerscale.psychometrics.lavaan_syntax` for what is supported.
    data : one row per respondent, one column per observed variable (and ``group``).
    group : column whose values define the groups (order of first appearance, as lavaan).
    estimator : ``"ML"``, ``"MLR"`` or ``"DWLS"`` (``"WLSMV"``: ordinal items).
    missing : ``"listwise"`` or ``"fiml"`` (ML and MLR).
    std_lv : fix latent variances to 1 instead of the first loadings (lavaan's ``std.lv``).
    orthogonal : fix the covariances of exogenous latent variables to 0.
    group_equal : parameters equal across groups: any of ``loadings, intercepts,
        thresholds, means, residuals, residual.covariances, lv.variances, lv.covariances,
        regressions``.
    group_partial : parameters exempt from ``group_equal``, written as lavaan does
        (``"visual=~x2"``, ``"x1~1"``, ``"y1|t2"``).
    meanstructure : force a mean structure (default: with groups, FIML, ordinal items or
        ``~ 1`` in the syntax).
    ordered : ordinal observed variables (``True``: all; default with DWLS: all).
    parameterization : ``"delta"`` or ``"theta"`` for ordinal items.
    auto_fix_first : fix the first loading of each factor to 1 (default: not ``std_lv``).
    fixed_x : exogenous observed covariates keep their sample moments (lavaan's ``fixed.x``).
    starts : number of extra random starts (seeded by ``seed``); the best converged
        solution is kept and the number of starts reaching it is reported.
    max_iter : iterations per start.
    cluster : column of cluster ids (e.g. the worker): cluster-robust standard errors and
        the Yuan–Bentler (Mplus) scaled test, as lavaan's ``cluster=`` argument for a
        single-level model (``se="robust.cluster"``, ``test="yuan.bentler.mplus"``; the
        estimates are the ML ones, a mean structure is added). ML or MLR, listwise or FIML
        (robust CFI/TLI/RMSEA are not computed for FIML with clusters).

    Returns
    -------
    CFAResult
        with ``params``/``to_frame()``, ``summary()``, and the inputs of
        :func:`~peerscale.psychometrics.fit.fit_measures`.

    Notes
    -----
    A fit that does not converge from the default start is retried from lavaan's "simple"
    start and from five random starts before an error says what was tried. A solution whose
    information matrix is singular is reported as not identified, naming the parameters that
    cannot be told apart. Negative variances and non-positive-definite latent covariance
    matrices are kept (as lavaan does) and listed in ``warnings``.

    Examples
    --------
    >>> from peerscale.psychometrics.cfa import fit_cfa  # doctest: +SKIP
    >>> fit = fit_cfa("visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6", hs, group="sex")  # doctest: +SKIP
    >>> # lavaan: cfa(model, data = hs, group = "sex")
    >>> print(fit.summary())  # summary(fit, fit.measures = TRUE, standardized = TRUE)  # doctest: +SKIP
    """
    est = str(estimator).upper()
    est = _ALIASES.get(est, est)
    if est not in ESTIMATORS:
        raise PeerscaleError(f"unknown estimator {estimator!r}", value=estimator,
                             hint=f"use one of {', '.join(e.lower() for e in ESTIMATORS)} (or wlsmv)")
    if missing not in ("listwise", "fiml"):
        raise PeerscaleError(f"missing={missing!r} is not supported", value=missing, hint="use listwise or fiml")
    if not isinstance(starts, (int, np.integer)) or starts < 0:
        raise PeerscaleError("starts must be a whole number of 0 or more", value=starts)
    terms = parse_model(model) if isinstance(model, str) else list(model)
    if ordered is None and est == "DWLS":
        ordered = True
    vs = variable_sets(terms, fixed_x=fixed_x, ordered=ordered or ())
    if vs.ordinal and est != "DWLS":
        raise PeerscaleError("ordinal items (ordered, or '|' thresholds in the model) need the DWLS (WLSMV) estimator",
                             hint="use estimator='DWLS'")
    if est == "DWLS":
        if not vs.ordinal:
            raise PeerscaleError("the DWLS estimator needs ordinal items", hint="pass ordered=True")
        if missing != "listwise":
            raise PeerscaleError("the ordinal (DWLS) estimator uses listwise deletion",
                                 hint="use missing='listwise' with --estimator dwls")
        cont = [v for v in vs.observed if v not in vs.ordinal]
        if cont and all(v in vs.ov_x for v in cont):
            raise PeerscaleError(f"exogenous covariates with ordinal items ({cont[0]!r}; lavaan's conditional.x) "
                                 "are not supported", column=cont[0],
                                 hint="model the covariate as an ordinal indicator, or compare groups instead")
        if cont:
            raise PeerscaleError(f"mixing ordinal and continuous observed variables is not supported ({cont[0]!r} is not ordinal)",
                                 column=cont[0], hint="treat all observed variables as ordinal")
    if missing == "fiml":
        meanstructure = True
    if cluster is not None:
        _check_cluster(data, cluster, vs.observed, group, est, missing)
        meanstructure = True
        est = "MLR"  # ML estimates, robust.cluster SEs and the Yuan–Bentler (Mplus) test
    groups = sample_statistics(data, vs.observed, group, missing, ordinal=vs.ordinal, exogenous=vs.ov_x)
    if cluster is not None:
        groups = _with_clusters(data, cluster, vs.observed, group, groups, missing, vs.ov_x)
    nth = {v: len(groups[0].ordinal.thresholds[k]) for k, v in enumerate(vs.observed)} if vs.ordinal else None
    spec = build_model(terms, n_groups=len(groups), std_lv=std_lv, orthogonal=orthogonal,
                       meanstructure=meanstructure, group_equal=group_equal, group_partial=group_partial,
                       auto_fix_first=auto_fix_first, fixed_x=fixed_x, ordered=vs.ordinal, nthresholds=nth,
                       parameterization=parameterization)
    engine = _Engine(spec, groups)
    cons = Constraints(spec)
    df = spec.ndat() - spec.n_free + (int(np.linalg.matrix_rank(cons.eq_jacobian(np.ones(spec.n_free))))
                                      if cons.eq_rows else 0)
    if df < 0:
        raise PeerscaleError(f"the model is not identified: {spec.ndat() - df} free parameters for "
                             f"{spec.ndat()} sample statistics (df = {df})",
                             hint="add indicators, or fix more parameters (e.g. a loading to 1 per factor)")
    _identified_at_start(engine, cons, spec, groups)
    sol, tried = _estimate(engine, cons, spec, groups, starts, seed, max_iter)
    res = _finish(spec, groups, engine, cons, sol, est, missing, group, tried, len(data))
    res.cluster = cluster
    if cluster is not None:
        ncl = min(res.scaling.get("n_clusters", [0]) or [0])
        if res.npar > ncl - 1:
            res.warnings.append(f"{res.npar} free parameters and {ncl} clusters: the cluster-robust covariance matrix "
                                f"has rank at most {ncl - 1}, so it is singular (lavaan warns that vcov is not positive "
                                "definite); each SE is still computed, but joint tests of many parameters are not "
                                "reliable: more clusters are needed")
    return res


def _check_cluster(data, cluster, observed, group, est, missing) -> None:
    if not isinstance(data, pd.DataFrame) or cluster not in data.columns:
        raise PeerscaleError(f"cluster column {cluster!r} is not in the data", column=cluster,
                             hint="name the column that holds the cluster (worker) ids")
    if cluster in observed:
        raise PeerscaleError("the cluster column is also a model variable", column=cluster)
    if cluster == group:
        raise PeerscaleError("the cluster column is also the grouping column", column=cluster)
    if est == "DWLS":
        raise PeerscaleError("cluster-robust standard errors are available with ML (and MLR), not DWLS",
                             hint="use estimator='ML' with cluster")


def _with_clusters(data, cluster, observed, group, groups, missing="listwise", exogenous=()):
    """Copies of the (cached) group data carrying the cluster id of each row used (the rows
    :func:`~peerscale.psychometrics.cfa_engine.sample_statistics` keeps)."""
    from dataclasses import replace

    from .cfa_engine import _group_order
    if missing == "fiml":
        used = data.dropna(how="all", subset=list(observed))
        if exogenous:
            used = used[used[list(exogenous)].notna().all(axis=1)]
        if group:
            used = used.dropna(subset=[group])
    else:
        cols = list(observed) + ([group] if group else [])
        used = data[data[cols].notna().all(axis=1)]
    ids = used[cluster]
    if ids.isna().any():
        row = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise PeerscaleError(f"{int(ids.isna().sum())} row(s) have no cluster id", column=cluster,
                             row=row + 1, hint="fill in the cluster (worker) id, or drop those rows first")
    parts = [ids] if not group else [ids[used[group] == lab] for lab in _group_order(used[group])]
    out = []
    for d, part in zip(groups, parts):
        if len(part) != d.n:  # pragma: no cover - the rows used are those of sample_statistics
            raise PeerscaleError("internal error: cluster ids do not line up with the rows used")
        arr = part.astype(str).to_numpy()
        if len(np.unique(arr)) < 2:
            where = f" in group {d.name!r}" if d.name is not None else ""
            raise PeerscaleError(f"the cluster column has a single cluster{where}; cluster-robust "
                                 "standard errors need at least two", column=cluster,
                                 hint="check the cluster column, or leave out --cluster")
        out.append(replace(d, cluster=arr, h1_trace=None))
    return out


def _estimate(engine, cons, spec, groups, starts, seed, max_iter) -> tuple[Solution, dict]:
    """Run the optimiser from the default start, then (if needed or asked) from lavaan's
    simple start and from random starts; keep the converged solution with the lowest F."""
    base = start_values(spec, groups)
    tried = []
    sols = []

    def run(name, x0):
        try:
            f0, _ = engine.discrepancy(x0)
            if not np.isfinite(f0):
                tried.append((name, "start not admissible"))
                return None
            s = optimise(engine, cons, x0, max_iter)
        except np.linalg.LinAlgError:
            tried.append((name, "numerical failure"))
            return None
        s.start = name
        tried.append((name, "converged" if s.converged else f"stopped (gradient {s.grad_norm:.2g})"))
        sols.append(s)
        return s

    first = run("default", base)
    rng = np.random.default_rng(seed)
    if starts:
        for k in range(starts):
            run(f"random {k + 1}", random_start(spec, base, rng))
    elif first is None or not first.converged:
        run("simple", start_values(spec, groups, method="simple"))
        if not any(s.converged for s in sols):
            fallback = np.random.default_rng(20240611 if seed is None else seed)
            for k in range(5):
                if run(f"random {k + 1}", random_start(spec, base, fallback)) and sols[-1].converged:
                    break
    good = [s for s in sols if s.converged]
    if not sols and all(w == "start not admissible" for _, w in tried):
        raise PeerscaleError("the implied covariance matrix is not positive definite at any start value",
                             hint="check the fixed values in the model (a fixed negative or zero variance?), "
                                  "or give start values with start(x)*")
    if not good:
        last = min(sols, key=lambda s: s.f) if sols else None
        detail = "; ".join(f"{n}: {w}" for n, w in tried)
        raise PeerscaleError(
            f"the model did not converge ({len(tried)} start(s) tried — {detail})"
            + (f"; best discrepancy {last.f:.6g}" if last is not None and np.isfinite(last.f) else ""),
            hint="try more random starts (--starts 20 / starts=20), --std-lv, or simplify the model "
                 "(factors with two indicators, near-zero item variances and empty groups are common causes)")
    f_min = min(s.f for s in good)
    # the first start (in the order tried) that reaches the lowest discrepancy
    best = next(s for s in good if s.f <= f_min + 1e-10 * max(1.0, abs(f_min)))
    same = sum(1 for s in good if abs(s.f - best.f) <= 1e-6 * max(1.0, abs(best.f)))
    info = {"tried": [n for n, _ in tried], "outcomes": tried, "converged": len(good), "best": best.start,
            "reached_best": same}
    return best, info


def _finish(spec, groups, engine, cons, sol, est, missing, group, tried, n_rows) -> CFAResult:
    x = sol.x
    f, parts = engine.discrepancy(x)
    ntot = engine.ntot
    fiml = missing == "fiml"
    try:
        if est == "DWLS":
            info = engine.expected_information(x)
        elif fiml or est == "MLR":
            info = engine.observed_information(x)
        else:
            info = engine.expected_information(x)
        _check_identified(info, cons, spec, x, sol.active)
        invert = (lambda m: constrained_inverse(m, cons, x, sol.active)) if cons.any else np.linalg.inv
        scaling = None
        df = spec.ndat() - spec.n_free + (int(np.linalg.matrix_rank(cons.eq_jacobian(x))) if cons.eq_rows else 0)
        if est == "DWLS":
            vcov, scaling = dwls_robust(engine, x, df, invert)
        elif est == "MLR":
            vcov, scaling = (_robust_fiml if fiml else _robust)(engine, x, df, invert)
        else:
            vcov = invert(info) / ntot
    except np.linalg.LinAlgError:
        raise PeerscaleError("the model is not identified (singular information matrix)",
                             hint="fix a loading to 1 per factor, or use std_lv") from None
    res = CFAResult(spec=spec, data=groups, theta=x, vcov=vcov, fmin2=f, group_f=parts, estimator=est,
                    converged=sol.converged, iterations=sol.iterations, group_names=[d.name for d in groups],
                    scaling=scaling, _engine=engine, constraints=cons, active=sol.active, missing=missing,
                    group=group, starts=tried, n_rows=n_rows)
    res.warnings = _admissibility(res)
    dropped = sum(d.dropped for d in groups[:1])
    if dropped:
        res.warnings.append(f"{dropped} row(s) with a missing exogenous covariate were left out (fixed.x, as lavaan)")
    return res


def _identified_at_start(engine, cons, spec, groups) -> None:
    """A model whose information matrix is singular at the default start and at a random one
    is structurally not identified: say so (and which parameters) instead of letting the
    optimiser run along the ridge."""
    base = start_values(spec, groups)
    rng = np.random.default_rng(12345)
    for x in (base, random_start(spec, base, rng)):
        try:
            if not np.isfinite(engine.discrepancy(x)[0]):
                return
            _check_identified(engine.expected_information(x), cons, spec, x, ())
        except PeerscaleError:
            continue
        except np.linalg.LinAlgError:
            return
        return
    _check_identified(engine.expected_information(x), cons, spec, x, ())


def _check_identified(info, cons, spec, x, active) -> None:
    if cons.any and not (cons.nonlin_eq or active):
        from .cfa_engine import reparameterisation
        k, _ = reparameterisation(cons)
        m = k.T @ info @ k
    elif cons.any:
        from .cfa_engine import null_space
        k = null_space(cons.active_jacobian(x, active), spec.n_free)
        m = k.T @ info @ k
    else:
        m = info
    if m.size == 0:
        return
    w = np.linalg.eigvalsh((m + m.T) / 2)
    if w[0] <= 1e-9 * max(1.0, abs(w[-1])):
        names = unidentified_parameters(info, cons, spec, x, active)
        unscaled = _unscaled_factors(spec, cons)
        what = (f"the scale of {', '.join(unscaled)} is not set" if unscaled else
                "the data cannot tell apart " + ", ".join(names))
        raise PeerscaleError(f"the model is not identified: {what} (singular information matrix; "
                             f"involved: {', '.join(names)})",
                             hint="fix a loading to 1 or the variance to 1 for each factor (std_lv / --std-lv), "
                                  "or fix or constrain one of the parameters named")


def _unscaled_factors(spec, cons) -> list[str]:
    """Latent variables with neither a fixed non-zero loading nor a fixed variance in some
    group (and no user constraint that could set their scale)."""
    if any(c.origin == "user" for c in spec.constraints):
        return []
    p = len(spec.observed)
    out = []
    for g in range(spec.n_groups):
        for k, lv in enumerate(spec.latent):
            j = p + k
            rows = [pr for pr in spec.params if pr.group == g and ((pr.mat == "A" and pr.op == "=~" and pr.j == j)
                                                                   or (pr.mat == "S" and pr.i == j and pr.j == j))]
            if not any(pr.free < 0 and pr.value != 0 for pr in rows) and lv not in out:
                out.append(lv)
    return out


def _admissibility(res: CFAResult) -> list[str]:
    """lavaan's post-estimation checks: negative (residual) variances, latent covariance
    matrices that are not positive definite, and implied matrices that are not."""
    out = []
    eng = res._engine
    p = len(res.spec.observed)
    for g in range(res.spec.n_groups):
        where = f" in group {res.group_names[g]!r}" if res.spec.n_groups > 1 else ""
        a, s, _ = eng.matrices(res.theta, g)
        neg = [res.spec.variables[i] for i in range(eng.q) if s[i, i] < 0]
        for v in neg:
            kind = "residual variance of" if v in res.spec.observed else "variance of latent variable"
            out.append(f"negative {kind} {v!r}{where} (a Heywood case: check the model or the item)")
        lv = s[p:, p:]
        if lv.size and not neg:
            w = np.linalg.eigvalsh(lv)
            if w[0] < -1e-10:
                out.append(f"the covariance matrix of the latent variables is not positive definite{where}")
        sigma, _ = res.implied(g)
        if np.linalg.eigvalsh(sigma)[0] <= 0:
            out.append(f"the model-implied covariance matrix is not positive definite{where}")
    return out


STRUCTURES = ("correlated", "one-factor", "bifactor")


def instrument_model(instrument, structure: str = "correlated", scales: list[str] | None = None,
                     ) -> tuple[str, dict]:
    """lavaan syntax for an instrument's own structure, and the fit options it needs.

    ``scales`` picks the dimension scales (default: the scales of the first composite, e.g.
    pbr-y's six core dimensions in ``pbr_core``, else every non-composite scale).
    ``"correlated"``: one factor per scale, factors correlated (marker-variable scaling);
    ``"one-factor"``: one factor ``g`` over all their items; ``"bifactor"``: ``g`` plus one
    specific factor per scale, all orthogonal, variances fixed to 1 (``std_lv=True``)."""
    if structure not in STRUCTURES:
        raise PeerscaleError(f"unknown structure {structure!r}", value=structure,
                             hint=f"use one of {', '.join(STRUCTURES)}")
    if scales is None:
        composite = next((s for s in instrument.scales if s.composite and s.of_scales), None)
        chosen = ([instrument.scale(n) for n in composite.of_scales] if composite
                  else [s for s in instrument.scales if not s.composite])
    else:
        chosen = [instrument.scale(n) for n in scales]
    chosen = [s for s in chosen if not s.composite]
    if not chosen:
        raise PeerscaleError(f"instrument {instrument.name!r} has no dimension scales to model")
    items = [i for s in chosen for i in s.items]
    if structure == "one-factor":
        return f"g =~ {' + '.join(items)}", {}
    if len(chosen) < 2 and structure == "bifactor":
        raise PeerscaleError("a bifactor model needs at least two dimension scales")
    lines = [f"{s.name} =~ {' + '.join(s.items)}" for s in chosen]
    if structure == "correlated":
        return "\n".join(lines), {}
    return "\n".join([f"g =~ {' + '.join(items)}"] + lines), {"std_lv": True, "orthogonal": True}
