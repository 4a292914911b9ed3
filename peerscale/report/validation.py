"""The validation section's numbers, computed by :mod:`peerscale.psychometrics` (this module
only chooses the data and the models, calls the psychometrics and keeps plain numbers).

Data: the instrument's scale items keyed (reverse-keyed items as ``(min + max) − x``), so
loadings and item-total correlations of well-behaved items are positive. With several waves
only the first wave is analysed, so each respondent counts once.

Analyses: per scale reliability (:func:`~peerscale.psychometrics.reliability.cronbach_alpha`
with Feldt and bootstrap intervals; :func:`~peerscale.psychometrics.omega.omega`, one-factor
for a dimension scale, Schmid–Leiman for a composite over its scales); on the items of all non-composite scales: KMO and Bartlett's test,
parallel analysis (Horn 1965), an EFA (minres, oblimin; psych's defaults) with as many
factors as parallel analysis suggests unless told, and CFAs of the instrument's one-factor,
correlated-factors and bifactor structures (:func:`~peerscale.psychometrics.cfa.instrument_model`;
ML, listwise).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import PeerscaleError
from ..progress import progress

# Hu & Bentler (1999) conventional cut-offs
CUTOFFS = {"cfi": (">=", 0.95), "tli": (">=", 0.95), "rmsea": ("<=", 0.06), "srmr": ("<=", 0.08)}
SMALL_LOADING = 0.30


def keyed_frame(values: np.ndarray, item_ids: list[str], instrument) -> pd.DataFrame:
    """Item responses with reverse-keyed items reversed from the declared range."""
    x = pd.DataFrame(values, columns=item_ids).copy()
    for s in instrument.scales:
        for iid, k in zip(s.items, s.keys):
            if k < 0 and iid in x:
                x[iid] = instrument.items[iid].response_scale.reverse(values[:, item_ids.index(iid)])
    return x


def _reliability(keyed: pd.DataFrame, instrument, bootstrap: int, seed: int, quiet: bool,
                 notes: list[str]) -> dict:
    """Per scale (composites too): psych::alpha statistics with Feldt and bootstrap intervals."""
    from ..psychometrics.reliability import cronbach_alpha

    out = {}
    with progress(bootstrap * len(instrument.scales) or None, "bootstrap alpha", quiet) as bar:
        for s in instrument.scales:
            try:
                res = cronbach_alpha(keyed[list(s.items)], n_boot=bootstrap, seed=seed, progress=bar.advance)
            except PeerscaleError as exc:
                notes.append(f"Reliability of {s.name} could not be computed: {exc.message}")
                continue
            b = res.bootstrap
            out[s.name] = {
                "composite": s.composite, "n": res.n, "n_items": res.n_items, "alpha": res.alpha,
                "alpha_std": res.alpha_std, "g6": res.g6, "average_r": res.average_r, "median_r": res.median_r,
                "s_n": res.s_n, "alpha_ci": list(res.alpha_ci), "ci_level": res.ci_level,
                "bootstrap_ci": None if b is None else [b.lower, b.upper], "n_boot": 0 if b is None else b.n_boot,
                "items": {str(i): {k: float(row[k]) for k in ("mean", "sd", "raw_r", "r_cor", "r_drop",
                                                                "alpha_if_dropped")}
                          for i, row in res.items.iterrows()},
            }
    return out


def _omega(keyed: pd.DataFrame, instrument, notes: list[str]) -> dict:
    """One-factor omega total per dimension scale; Schmid–Leiman omega (total, hierarchical)
    for each composite over its scales, with one group factor per scale."""
    from ..psychometrics.omega import omega

    out = {}
    for s in instrument.scales:
        k = len(s.of_scales) if s.composite and len(s.of_scales) >= 2 else 1
        try:
            res = omega(keyed[list(s.items)], n_factors=k)
        except PeerscaleError as exc:
            notes.append(f"Omega of {s.name} could not be computed: {exc.message}")
            continue
        out[s.name] = {"kind": res.kind, "label": res.label, "n_factors": res.n_factors,
                       "omega_total": res.omega_total, "omega_hierarchical": res.omega_hierarchical,
                       "omega_limit": res.omega_limit, "ecv": res.ecv, "flipped": list(res.flipped)}
    return out


def _factorability(x: pd.DataFrame) -> dict:
    from ..psychometrics.factorability import bartlett_sphericity, kmo

    out: dict = {}
    try:
        k = kmo(x)
        out["kmo"] = k.msa
        out["kmo_items"] = {c: float(v) for c, v in k.msa_items.items()}
    except PeerscaleError as exc:
        out["kmo_error"] = exc.message
    try:
        b = bartlett_sphericity(x)
        out["bartlett"] = {"chisq": b.chisq, "df": b.df, "pvalue": b.pvalue, "n": b.n}
    except PeerscaleError as exc:
        out["bartlett_error"] = exc.message
    return out


def _parallel(x: pd.DataFrame, iterations: int, seed: int, quiet: bool) -> dict:
    from ..psychometrics.parallel import parallel_analysis

    with progress(iterations, "parallel analysis", quiet) as bar:
        # resampled replicates would double the time and the report shows only the simulated reference
        pa = parallel_analysis(x, iterations=iterations, seed=seed, resample=False, progress=bar.advance)
    return {"n_factors": pa.n_factors, "n_components": pa.n_components, "iterations": pa.iterations,
            "quantile": pa.quantile, "observed_fa": pa.observed_fa.tolist(), "simulated_fa": pa.simulated_fa.tolist(),
            "observed_pc": pa.observed_pc.tolist(), "simulated_pc": pa.simulated_pc.tolist()}


def _efa(x: pd.DataFrame, n_factors: int) -> dict:
    from ..psychometrics.efa import fit_efa

    res = fit_efa(x, n_factors, method="minres", rotation="oblimin")
    return {"n_factors": res.n_factors, "method": res.method, "rotation": res.rotation, "n": res.n_obs,
            "columns": res.columns, "loadings": res.loadings.tolist(), "communalities": res.communalities.tolist(),
            "phi": res.phi.tolist(), "ss_loadings": res.variance_explained.loc["ss_loadings"].tolist(),
            "proportion": res.variance_explained.loc["proportion"].tolist(),
            "cumulative": res.variance_explained.loc["cumulative"].tolist(), "converged": res.converged}


def _fit_row(res, fit) -> dict:
    row = {k: fit[k] for k in ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea_ci", "srmr", "aic", "bic")}
    row.update(n=res.n, converged=res.converged)
    meets = {}
    for key, (op, cut) in CUTOFFS.items():
        v = fit.get(key)
        meets[key] = None if v is None or not np.isfinite(v) else bool(v >= cut if op == ">=" else v <= cut)
    row["meets"] = meets
    return row


def _cfa(x: pd.DataFrame, instrument, quiet: bool, notes: list[str]) -> dict | None:
    """The instrument's one-factor, correlated-factors and bifactor models (ML, listwise); fit of
    each, the nested χ² test one-factor vs correlated, and the primary model's standardized
    loadings and factor correlations. An instrument with one dimension scale has one model
    only (the correlated and one-factor models are the same, a bifactor model does not exist)."""
    from ..psychometrics.cfa import STRUCTURES, fit_cfa, instrument_model, standardized_solution
    from ..psychometrics.fit import fit_measures
    from ..psychometrics.invariance import compare_models

    try:
        n_dims = instrument_model(instrument, "correlated")[0].count("=~")
    except PeerscaleError as exc:
        notes.append(f"CFA could not be set up: {exc.message}")
        return None
    structures = STRUCTURES if n_dims >= 2 else ("one-factor",)
    if n_dims < 2:
        notes.append("The instrument has one dimension scale, so the CFA fits the one-factor model only "
                     "(correlated factors and a bifactor model need two or more).")
    models, fits, rows = {}, {}, {}
    with progress(len(structures), "confirmatory factor analysis", quiet) as bar:
        for structure in structures:
            try:
                text, extra = instrument_model(instrument, structure)
                models[structure] = text
                fits[structure] = fit_cfa(text, x, estimator="ML", missing="listwise", **extra)
                rows[structure] = _fit_row(fits[structure], fit_measures(fits[structure]))
            except PeerscaleError as exc:
                notes.append(f"CFA {structure} model could not be fitted: {exc.message}")
            bar.advance()
    if not fits:
        return None
    out: dict = {"estimator": "ML", "models": models, "fit": rows, "primary": None, "comparison": None}
    primary = "correlated" if "correlated" in fits else ("one-factor" if "one-factor" in fits else None)
    if primary is not None:
        res = fits[primary]
        std = standardized_solution(res)
        loads = std[std["op"] == "=~"]
        covs = std[(std["op"] == "~~") & (std["lhs"] != std["rhs"]) & std["lhs"].isin(res.spec.latent)]
        out["primary"] = primary
        out["loadings_std"] = [{"factor": r.lhs, "item": r.rhs, "est": float(r.est_std), "se": float(r.se)}
                               for r in loads.itertuples()]
        out["factor_correlations"] = [{"a": r.lhs, "b": r.rhs, "est": float(r.est_std), "se": float(r.se)}
                                      for r in covs.itertuples()]
        out["n_factors"] = len(res.spec.latent)
    if "correlated" in fits and "one-factor" in fits:
        tab = compare_models(fits["correlated"], fits["one-factor"], names=["correlated", "one-factor"])
        row = tab.loc["one-factor"]
        df_diff, chisq_diff, pvalue = row["df_diff"], row["chisq_diff"], row["pvalue"]
        if all(np.isfinite(float(v)) for v in (df_diff, chisq_diff, pvalue)) and float(df_diff) > 0:
            out["comparison"] = {"chisq_diff": float(chisq_diff), "df_diff": int(df_diff), "pvalue": float(pvalue)}
    return out


def _guard(name: str, func, notes: list[str]):
    """Run one analysis; a data problem (e.g. a singular matrix) becomes a note in the report."""
    try:
        return func()
    except PeerscaleError as exc:
        notes.append(f"{name} could not be computed: {exc.message}")
        return None


def collect_validation(responses: pd.DataFrame, result, *, bootstrap: int = 1000, iterations: int = 20,
                       n_factors: int | None = None, seed: int = 1, quiet: bool = True,
                       rows: np.ndarray | None = None, rows_note: str | None = None) -> dict:
    """The validation numbers for ``responses`` (cleaned item codes as answered, one column per
    item) scored with ``result.instrument``. ``rows`` optionally limits the analysis to some
    rows (e.g. the first wave), described by ``rows_note``."""
    # degenerate data (constant items, tiny samples) give NaNs the analyses report as notes
    with np.errstate(divide="ignore", invalid="ignore"):
        return _collect(responses, result, bootstrap, iterations, n_factors, seed, quiet, rows, rows_note)


def _collect(responses, result, bootstrap, iterations, n_factors, seed, quiet, rows, rows_note) -> dict:
    inst = result.instrument
    values = responses.to_numpy(dtype=float, copy=True)
    if rows is not None:
        values = values[np.asarray(rows, dtype=bool)]
    ids = list(responses.columns)
    keyed = keyed_frame(values, ids, inst)
    structural = [s for s in inst.scales if not s.composite]
    items = list(dict.fromkeys(i for s in structural for i in s.items))
    x = keyed[items]
    notes: list[str] = []
    out: dict = {"n": int(len(x)), "n_complete": int(x.notna().all(axis=1).sum()), "rows_note": rows_note,
                 "notes": notes, "software": [], "methods": []}
    out["reliability"] = _guard("Reliability", lambda: _reliability(keyed, inst, bootstrap, seed, quiet, notes),
                                notes)
    out["omega"] = _guard("Omega", lambda: _omega(keyed, inst, notes), notes)
    out["factorability"] = _guard("KMO and Bartlett's test", lambda: _factorability(x), notes)
    out["parallel"] = _guard("Parallel analysis", lambda: _parallel(x, iterations, seed, quiet), notes)
    k = n_factors or (out["parallel"] or {}).get("n_factors") or len(structural)
    k = max(1, min(int(k), len(items) - 1))
    out["efa"] = _guard("The EFA", lambda: _efa(x, k), notes)
    if out["efa"] is not None:
        out["efa"]["chosen_by"] = "given" if n_factors else ("parallel analysis" if out["parallel"] and
                                                             out["parallel"]["n_factors"] else "number of scales")
    out["cfa"] = _guard("The CFA", lambda: _cfa(x, inst, quiet, notes), notes)
    out["methods"] = _methods_sentences(out, len(structural))
    return out


def _methods_sentences(v: dict, n_scales: int) -> list[str]:
    s = []
    where = f" ({v['rows_note']})" if v.get("rows_note") else ""
    s.append(f"Validation analyses used {v['n']} records{where}, with reverse-keyed items reversed.")
    if v.get("reliability"):
        r = next(iter(v["reliability"].values()))
        boot = (f" and a percentile bootstrap interval ({r['n_boot']} resamples)" if r["n_boot"] else "")
        s.append("Internal consistency was estimated per scale with Cronbach's alpha (raw and standardized), "
                 f"Guttman's lambda 6 and the average inter-item correlation from pairwise covariances, with a "
                 f"{r['ci_level']:.0%} Feldt confidence interval{boot}, and corrected item-total correlations, "
                 "as psych::alpha (psych 2.2.9) computes them.")
    if v.get("omega"):
        s.append("McDonald's omega total was computed from a one-factor minres solution for each dimension scale; "
                 "for each composite, omega total and omega hierarchical came from a Schmid–Leiman transformation "
                 "of an oblimin solution with one group factor per dimension, as psych::omega.")
    if v.get("factorability"):
        s.append("Factorability was checked with the Kaiser–Meyer–Olkin measure and Bartlett's test of sphericity.")
    if v.get("parallel"):
        p = v["parallel"]
        s.append(f"The number of factors was examined by parallel analysis (Horn, 1965; {p['iterations']} simulated "
                 f"normal data sets, {p['quantile']:.0%} quantile of the simulated eigenvalues, as "
                 "psych::fa.parallel).")
    if v.get("efa"):
        e = v["efa"]
        s.append(f"An exploratory factor analysis extracted {e['n_factors']} factor{'s' if e['n_factors'] > 1 else ''} "
                 f"({e['chosen_by']}) by minimum residual ({e['method']}) from pairwise Pearson correlations "
                 f"with {e['rotation']} rotation, as psych::fa; loadings below {SMALL_LOADING:.2f} are not shown.")
    if v.get("cfa"):
        c = v["cfa"]
        k = c.get("n_factors")
        parts = []
        if "one-factor" in c["models"]:
            parts.append("a one-factor model")
        if "correlated" in c["models"]:
            parts.append(f"the correlated {k}-factor model of the instrument's dimensions (first loading fixed to 1)")
        if "bifactor" in c["models"]:
            parts.append("a bifactor model (a general factor plus one specific factor per dimension, orthogonal, "
                         "variances fixed to 1)")
        models = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        s.append(f"Confirmatory factor {'analyses' if len(parts) > 1 else 'analysis'} of {models} "
                 f"{'were' if len(parts) > 1 else 'was'} estimated by maximum likelihood with listwise deletion, "
                 "with fit measures computed as lavaan 0.6-14 computes them, and judged against the conventional "
                 "cut-offs CFI and TLI ≥ .95, RMSEA ≤ .06 and SRMR ≤ .08 (Hu & Bentler, 1999).")
    return s
