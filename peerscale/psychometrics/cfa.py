"""Confirmatory factor analysis (and small SEMs) by maximum likelihood, the lavaan way.

The model is a RAM (reticular action model; McArdle & McDonald 1984) over the observed
variables (first p) and the latent ones: ``A`` holds loadings and regressions (``A[i, j]``
= effect of j on i), ``S`` variances and covariances, ``m`` intercepts/means. With
``B = (I − A)^{-1}``, the implied moments are ``Σ = [B S B']_{obs}`` and ``μ = [B m]_{obs}``.

Defaults follow ``lavaan::cfa`` (lavaan 0.6-14): the first loading of each factor fixed to 1
(or all latent variances fixed to 1 with ``std_lv=True``), residual variances of observed
and variances of latent variables free, exogenous factors correlated (``orthogonal=False``),
residual covariances among dependent variables of ``~`` regressions free, a mean structure
(free intercepts, latent means 0) only with several groups, and ``group_equal`` constraining
``"loadings"`` (with ``std_lv``, factor variances are then free beyond the first group),
``"intercepts"`` (then latent means are free in every group but the first) and
``"residuals"``.

Estimation minimises lavaan's ML discrepancy (twice lavaan's ``fmin``), with ``S_g`` the
sample covariance with divisor ``n_g`` (lavaan's ``likelihood="normal"``)::

    F(θ) = Σ_g (n_g/N) [ log|Σ_g| + tr(S_g Σ_g^{-1}) − log|S_g| − p + (x̄_g − μ_g)' Σ_g^{-1} (x̄_g − μ_g) ]

by Fisher scoring with step halving from covariance-based start values; ``χ² = N·F``.
Variances are not bounded (a Heywood case shows as a negative variance, as in lavaan).
Standard errors use the expected information ``I = Σ_g (n_g/N) Δ_g' W_g Δ_g``
(``W = diag(Σ^{-1}, ½ D'(Σ^{-1}⊗Σ^{-1})D)``, Δ the Jacobian of ``(μ, vech Σ)``),
``vcov = I^{-1}/N``.

- ``missing="fiml"``: the discrepancy is ``2(ℓ_h1 − ℓ)/N`` with ℓ the casewise normal
  log-likelihood over each case's answered items and ℓ_h1 that of the saturated model
  fitted by EM; the model gets a mean structure and SEs use the observed information
  (lavaan's ``missing="ml"`` defaults). Patterns, EM and the casewise likelihood are in
  :mod:`peerscale.psychometrics.fiml`.
- ``estimator="MLR"``: Huber–White SEs with the observed information and the Yuan–Bentler
  (2000) scaled test in lavaan's ``"yuan.bentler.mplus"`` form (complete data here; FIML
  in :mod:`peerscale.psychometrics.fiml`).
- ``estimator="DWLS"``: items treated as ordinal, see
  :func:`peerscale.psychometrics.cfa_ordinal.fit_dwls` (lavaan's WLSMV).

Fit indices are in :mod:`peerscale.psychometrics.fit`, model comparison and invariance in
:mod:`peerscale.psychometrics.invariance`.

Reference: Rosseel, Y. (2012). lavaan: An R package for structural equation modeling.
Journal of Statistical Software, 48(2).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import PeerscaleError
from .blas import single_threaded
from .cfa_engine import GroupData, _Engine, _fabin_like_start, _optimise, _start_values, sample_statistics
from .cfa_model import GROUP_EQUAL, ModelSpec, Param, _order_variables, build_model
from .cfa_ordinal import fit_dwls
from .cfa_results import CFAResult, modification_indices, residual_correlations, standardized_solution
from .cfa_robust import _robust, _robust_fiml
from .lavaan_syntax import Term, parse_model

__all__ = ["CFAResult", "GROUP_EQUAL", "ESTIMATORS", "GroupData", "ModelSpec", "Param", "STRUCTURES", "build_model",
           "fit_cfa", "instrument_model", "modification_indices", "residual_correlations", "sample_statistics",
           "standardized_solution"]

ESTIMATORS = ("ML", "MLR", "DWLS")


@single_threaded
def fit_cfa(model: str | list[Term], data: pd.DataFrame, *, group: str | None = None,
            estimator: str = "ML", missing: str = "listwise", std_lv: bool = False,
            orthogonal: bool = False, group_equal=(), meanstructure: bool | None = None) -> CFAResult:
    """Fit a CFA/SEM given in lavaan syntax to item data, as ``lavaan::cfa`` (see module
    docstring). ``group`` names a column for a multigroup model; ``group_equal`` as lavaan."""
    if estimator.upper() == "DWLS":
        if group or missing != "listwise" or group_equal:
            raise PeerscaleError("the ordinal (DWLS) estimator supports one group with listwise deletion",
                                 hint="use --estimator ml or mlr for groups or FIML")
        return fit_dwls(model, data, std_lv=std_lv, orthogonal=orthogonal)
    return _fit_cfa(model, data, group=group, estimator=estimator, missing=missing, std_lv=std_lv,
                    orthogonal=orthogonal, group_equal=group_equal, meanstructure=meanstructure)


def _fit_cfa(model, data, *, group, estimator, missing, std_lv, orthogonal, group_equal, meanstructure):
    estimator = estimator.upper()
    if estimator not in ESTIMATORS:
        raise PeerscaleError(f"unknown estimator {estimator!r}", value=estimator,
                             hint=f"use one of {', '.join(e.lower() for e in ESTIMATORS)}")
    terms = parse_model(model) if isinstance(model, str) else model
    observed, _ = _order_variables(terms)
    if missing == "fiml":
        meanstructure = True
    groups = sample_statistics(data, observed, group, missing)
    spec = build_model(terms, n_groups=len(groups), std_lv=std_lv, orthogonal=orthogonal,
                       meanstructure=meanstructure, group_equal=group_equal)
    engine = _Engine(spec, groups)
    theta = _fabin_like_start(spec, groups, _start_values(spec, groups))
    theta, f, converged, iters = _optimise(engine, theta)
    p = len(observed)
    df = spec.n_groups * (p * (p + 1) // 2 + (p if spec.meanstructure else 0)) - spec.n_free
    if df < 0:
        raise PeerscaleError(f"the model is not identified: {spec.n_free} free parameters for "
                             f"{df + spec.n_free} sample moments",
                             hint="add indicators, or fix more parameters")
    _, parts = engine.discrepancy(theta)
    _, info = engine.gradient_info(theta)
    try:
        vcov = np.linalg.inv(info) / engine.ntot
    except np.linalg.LinAlgError:
        raise PeerscaleError("the model is not identified (singular information matrix)",
                             hint="fix a loading to 1 per factor, or use std_lv") from None
    if np.linalg.cond(info) > 1e12:
        raise PeerscaleError("the model appears not identified (near-singular information matrix)",
                             hint="fix a loading to 1 per factor, or use std_lv")
    if any(d.patterns is not None for d in groups):
        # lavaan's default for missing="ml": observed information
        try:
            vcov = np.linalg.inv(engine.observed_information(theta)) / engine.ntot
        except np.linalg.LinAlgError:
            raise PeerscaleError("the observed information matrix is singular",
                                 hint="check the model's identification") from None
    scaling = None
    if estimator == "MLR":
        vcov, scaling = (_robust_fiml if missing == "fiml" else _robust)(engine, theta, df)
    return CFAResult(spec=spec, data=groups, theta=theta, vcov=vcov, fmin2=f, group_f=parts,
                     estimator=estimator, converged=converged, iterations=iters,
                     group_names=[d.name for d in groups], scaling=scaling, _engine=engine)


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
