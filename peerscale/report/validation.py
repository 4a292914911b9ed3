"""The validation section's numbers: the analyses of :mod:`peerscale.analyses`, run exactly as
the ``reliability``, ``efa`` and ``cfa`` commands run them (this module only chooses which,
turns data problems into notes, and writes the methods sentences).

- reliability of every scale (composites too), with Feldt and bootstrap intervals, one-factor
  omega total per scale and Schmid–Leiman omega of each composite (``reliability --omega``);
- KMO, Bartlett's test, parallel analysis and an EFA of the dimension scales' items
  (``efa``; only the simulated parallel-analysis replicates are drawn, which decide the
  suggestion, so the factor count equals ``efa``'s);
- CFAs of the instrument's correlated-factors, one-factor and bifactor structures, FIML when
  answers are missing (``cfa --compare``).

Data: the wave the report analyses (the first by default), so each respondent counts once.
"""

from __future__ import annotations

import numpy as np

from ..analyses import structure_omega
from ..errors import PeerscaleError

SMALL_LOADING = 0.30


def _guard(name: str, func, notes: list[str]):
    """Run one analysis; a data problem (e.g. a singular matrix) becomes a note in the report."""
    try:
        return func()
    except PeerscaleError as exc:
        notes.append(f"{name} could not be computed: {exc.message}")
        return None


def collect_validation(view, *, bootstrap: int = 1000, iterations: int = 20, n_factors: int | None = None,
                       seed: int = 1, missing: str | None = None, quiet: bool = True) -> dict:
    """The validation numbers for the rows of ``view`` (a :class:`~peerscale.responses.Responses`)."""
    # degenerate data (constant items, tiny samples) give NaNs the analyses report as notes
    with np.errstate(divide="ignore", invalid="ignore"):
        return _collect(view, bootstrap, iterations, n_factors, seed, missing, quiet)


def _collect(view, bootstrap, iterations, n_factors, seed, missing, quiet) -> dict:
    from .. import analyses

    notes: list[str] = []
    items = analyses.dimension_items(view.instrument)
    x = view.items()[items]
    out: dict = {"sample": view.sample(), "n_complete": int(x.notna().all(axis=1).sum()), "notes": notes,
                 "software": [], "methods": []}
    rel = _guard("Reliability", lambda: analyses.reliability(view, n_boot=bootstrap, seed=seed, quiet=quiet), notes)
    if rel is not None:
        for name, msg in rel.failed.items():
            notes.append(f"Reliability of {name} could not be computed: {msg}")
        rel.omega = _guard("Schmid–Leiman omega", lambda: structure_omega(view), notes) or {}
        out["reliability"] = rel.to_dict()
    else:
        out["reliability"] = None
    k = n_factors or "parallel"
    efa = _guard("The EFA", lambda: analyses.efa(view, n_factors=k, iterations=iterations, seed=seed,
                                                 resample=False, quiet=quiet), notes)
    out["efa"] = None if efa is None else efa.to_dict()
    if efa is not None:
        notes.extend(efa.notes)
    cfa = _guard("The CFA", lambda: analyses.cfa(view, structure="correlated", compare=True, missing=missing,
                                                 top_mi=0, quiet=quiet), notes)
    out["cfa"] = None if cfa is None else cfa.to_dict()
    if cfa is not None:
        notes.extend(cfa.notes)
        for name, row in (cfa.comparison or {}).items():
            if "error" in row:
                notes.append(f"CFA {name} model could not be fitted: {row['error']}")
    out["methods"] = _methods_sentences(out)
    return out


def _methods_sentences(v: dict) -> list[str]:
    s = [f"Validation analyses used {v['sample']['note']}, with reverse-keyed items reversed."]
    rel = v.get("reliability")
    entries = [e for e in (rel or {}).get("scales", {}).values() if "alpha" in e]
    if entries:
        r = entries[0]
        n_boot = (r.get("bootstrap_ci") or {}).get("n_boot", 0)
        boot = f" and a percentile bootstrap interval ({n_boot} resamples)" if n_boot else ""
        s.append("Internal consistency was estimated per scale with Cronbach's alpha (raw and standardized), "
                 f"Guttman's lambda 6 and the average inter-item correlation from pairwise covariances, with a "
                 f"{r['level']:.0%} Feldt confidence interval{boot}, and corrected item-total correlations, "
                 "as psych::alpha (psych 2.2.9) computes them.")
        s.append("McDonald's omega total was computed from a one-factor minres solution for each scale"
                 + ("; for each composite, omega total and omega hierarchical came from a Schmid–Leiman "
                    "transformation of an oblimin solution with one group factor per dimension, as psych::omega."
                    if rel.get("omega") else ", as psych::omega."))
    e = v.get("efa")
    if e:
        if e.get("kmo") or e.get("bartlett"):
            s.append("Factorability was checked with the Kaiser–Meyer–Olkin measure and Bartlett's test of sphericity.")
        p = e.get("parallel")
        if p:
            s.append(f"The number of factors was examined by parallel analysis (Horn, 1965; {p['iterations']} simulated "
                     f"normal data sets, {p['quantile']:.0%} quantile of the simulated eigenvalues, as "
                     "psych::fa.parallel).")
        k = e["factors"]
        s.append(f"An exploratory factor analysis extracted {k} factor{'s' if k > 1 else ''} ({e['chosen_by']}) by "
                 f"{e['method']} from pairwise Pearson correlations with {e['rotation']} rotation, as psych::fa; "
                 f"loadings below {SMALL_LOADING:.2f} are not shown.")
    c = v.get("cfa")
    if c:
        k = len({key.split("=~")[0] for key in c["loadings_std"]})
        how = {"fiml": "full-information maximum likelihood (FIML: every respondent with an answer)",
               "listwise": "maximum likelihood with listwise deletion",
               "none": "maximum likelihood (no answers were missing)"}[c["missing"]]
        fitted = list((c.get("comparison") or {c.get("structure") or "correlated": {}}).keys())
        parts = []
        if "one-factor" in fitted or (k == 1 and "correlated" in fitted):
            parts.append("a one-factor model")
        if "correlated" in fitted and k > 1:
            parts.append(f"the correlated {k}-factor model of the instrument's dimensions (first loading fixed to 1)")
        if "bifactor" in fitted:
            parts.append("a bifactor model (a general factor plus one specific factor per dimension, orthogonal, "
                         "variances fixed to 1)")
        models = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        s.append(f"Confirmatory factor {'analyses' if len(parts) > 1 else 'analysis'} of {models} "
                 f"{'were' if len(parts) > 1 else 'was'} estimated by {how} (N = {c['n']}), with fit "
                 "measures computed as lavaan 0.6-14 computes them, and judged against the conventional cut-offs "
                 "CFI and TLI ≥ .95, RMSEA ≤ .06 and SRMR ≤ .08 (Hu & Bentler, 1999).")
    return s
