"""Plan a validation study by Monte Carlo: ``peerscale plan`` and ``peerscale.plan``.

For each sample size ``n`` and replication ``r``, a sample is drawn from the instrument's
population model (:mod:`peerscale.simulation.population`) with its own random stream,
``numpy.random.SeedSequence(seed, spawn_key=(n_index, r))``, so the results do not depend on
how many processes share the work or in which order they finish. Each sample is analysed as the
analysis would be (keyed items; CFA with ``std_lv``; ML, MLR or WLSMV; FIML when answers are
missing under ML/MLR), and the replications give, per n:

* convergence: share of fits that converged (and of those, share with an admissible solution);
* fit: share meeting CFI ≥ .95, RMSEA ≤ .06, SRMR ≤ .08 (Hu & Bentler 1999) and all three;
  robust CFI/RMSEA under MLR, scaled under WLSMV;
* loadings: bias ``mean(θ̂) − θ``, RMSE ``√mean((θ̂ − θ)²)`` and coverage of the Wald 95% CI
  ``θ̂ ± 1.96·SE``, over converged replications. θ is the *pseudo-true* value: the estimate
  from one very large sample of the same population (``truth_n``; ML on 5-point items treats
  them as continuous, so the population loadings of the latent responses are not what ML
  estimates; WLSMV recovers them);
* power: share of replications with p < .05 for each structural parameter (factor
  correlations, regressions) and each defined (``:=``) parameter;
* reliability: mean width of the 95% intervals of alpha (Feldt) and omega (Wald interval of
  ``ω = (Σλ)²/((Σλ)² + Σθ)`` as a defined parameter, as ``semTools::compRelSEM`` with the
  delta method) per scale;
* invariance (``groups``): share of replications in which the metric and scalar steps are
  rejected by the χ² difference test (p < .05) and by ΔCFI < −.01, with ``dif`` shifting the
  thresholds of ``dif_items`` in the last group (0: the type I error rate).

Monte Carlo standard error of a proportion p over R replications: ``√(p(1 − p)/R)``.

References: Muthén, L. K., & Muthén, B. O. (2002). How to use a Monte Carlo study to decide on
sample size and determine power. Structural Equation Modeling, 9(4), 599–620.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import PeerscaleError
from .plot import param_kind as _kind

ESTIMATORS = {"ml": "ML", "mlr": "MLR", "wlsmv": "DWLS", "dwls": "DWLS"}
CUTS = {"cfi": 0.95, "rmsea": 0.06, "srmr": 0.08}
CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class PlanConfig:
    """Everything a worker process needs (picklable; its hash names the checkpoint)."""

    instrument: str
    name: str
    ns: tuple
    reps: int
    seed: int
    estimator: str
    syntax: str
    scales: tuple             # ((scale, (items...)), ...)
    items: tuple
    groups: int = 1
    dif: float = 0.0
    dif_items: tuple = ()
    mcar: float = 0.0
    truth_n: int = 100_000
    model_file: str = ""      # a model file: the study design, and the mediation among composites
    mediation: tuple = ()     # ((x, form), (m, form), (y, form)): composite scores and their forms
    complete: bool = False    # leave out the model file's missing answers (faster: no FIML)
    fingerprint: str = ""     # hash of the input files' contents: a checkpoint of an edited model is refused

    def key(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True, default=list)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def model_syntax(scales: dict, estimator: str, user: str | None = None) -> str:
    """lavaan syntax: one factor per scale with labelled loadings, and ω per scale as ``:=``."""
    if user:
        return user
    lines, defs = [], []
    for s, items in scales.items():
        lab = [f"l_{s}_{k + 1}" for k in range(len(items))]
        lines.append(f"{s} =~ " + " + ".join(f"{a}*{i}" for a, i in zip(lab, items)))
        total = "(" + " + ".join(lab) + ")"
        if estimator == "DWLS":
            resid = " + ".join(f"(1 - {a}^2)" for a in lab)
        else:
            res = [f"e_{s}_{k + 1}" for k in range(len(items))]
            lines += [f"{i} ~~ {e}*{i}" for e, i in zip(res, items)]
            resid = " + ".join(res)
        defs.append(f"omega_{s} := {total}^2 / ({total}^2 + {resid})")
    return "\n".join(lines + defs)


# ------------------------------------------------------------------------------ one replication

_CONTEXT: dict = {}


def _context(cfg: PlanConfig) -> dict:
    """Per-process cache: the instrument's items as the generator sees them."""
    if _CONTEXT.get("key") != cfg.key():
        from ..spec import load_instrument
        from .generate import _form_items, latent_structure
        from .study import Design

        from .study import with_population

        design = None
        if cfg.model_file:
            from .model import load_model

            design = load_model(cfg.model_file)
        inst = with_population(load_instrument(cfg.instrument), design)
        factors, phi = latent_structure([inst])
        index = {k: n for n, k in enumerate(factors)}
        items = {it.id: it for it in _form_items(inst, index, Design(n=1, forms=[inst]))}
        _CONTEXT.clear()
        _CONTEXT.update(key=cfg.key(), inst=inst, chol=np.linalg.cholesky(phi),
                        items=[items[i] for i in cfg.items])
        if cfg.model_file:
            _CONTEXT["design"] = design
            _CONTEXT["forms"] = {f: with_population(load_instrument(f), design) for _, f in cfg.mediation}
    return _CONTEXT


def draw_sample(cfg: PlanConfig, n: int, rng) -> pd.DataFrame:
    """One sample of the keyed items (and ``group`` with ``groups > 1``)."""
    from copy import copy

    from .generate import _answers
    from .study import Design

    ctx = _context(cfg)
    if cfg.model_file:
        return _draw_study(cfg, ctx, n, rng)
    chol, items = ctx["chol"], ctx["items"]
    sizes = [n // cfg.groups + (1 if g < n % cfg.groups else 0) for g in range(cfg.groups)]
    blocks = []
    for g, m in enumerate(sizes):
        eta = rng.standard_normal((m, chol.shape[0])) @ chol.T
        its = items
        if g == cfg.groups - 1 and cfg.groups > 1 and cfg.dif:
            its = []
            for it in items:
                if it.id in cfg.dif_items:
                    it = copy(it)
                    it.cuts = it.cuts + (-cfg.dif if it.reverse else cfg.dif)
                its.append(it)
        x = _answers(its, eta, rng, Design(n=m, forms=[]), 0.0)
        for j, it in enumerate(its):  # keyed, as the analysis scores them
            if it.reverse:
                x[:, j] = it.rs.reverse(x[:, j])
        if cfg.mcar:
            x[rng.random(x.shape) < cfg.mcar] = np.nan
        frame = pd.DataFrame(x, columns=list(cfg.items))
        if cfg.groups > 1:
            frame["group"] = f"g{g + 1}"
        blocks.append(frame)
    return pd.concat(blocks, ignore_index=True) if len(blocks) > 1 else blocks[0]


def _composite(inst, name: str, data: pd.DataFrame) -> np.ndarray:
    """The composite's score as the scoring rules give it: mean of keyed answered items, when
    at least ``required`` are answered (codes outside the response scale, e.g. 9, are missing)."""
    scale = inst.scale(name)
    cols = []
    for item, key in zip(scale.items, scale.keys):
        rs = inst.items[item].response_scale
        x = data[item].to_numpy(dtype=float)
        x = np.where(np.isin(x, list(rs.codes)), x, np.nan) if rs.codes else x
        cols.append(rs.reverse(x) if key < 0 else x)
    x = np.column_stack(cols)
    answered = np.isfinite(x).sum(axis=1)
    total = np.where(np.isfinite(x), x, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(answered >= scale.required, total / np.maximum(answered, 1), np.nan)


def _draw_study(cfg: PlanConfig, ctx: dict, n: int, rng) -> pd.DataFrame:
    """A model file's study of ``n``: the first event's rows, the keyed items of the CFA's form
    and the mediation's composite scores."""
    from dataclasses import replace

    from .generate import simulate_study

    design = replace(ctx["design"], n=n, dyad_forms=[])
    if cfg.complete:
        design = replace(design, mcar=0.0, page_skip=0.0, not_opened=0.0, not_relevant=0.0)
    study = simulate_study(design, rng)
    data = study.data
    if design.waves > 1:
        col = design.event_column or ("redcap_event_name" if design.redcap else "wave")
        data = data[data[col] == data[col].iloc[0]].reset_index(drop=True)
    inst = ctx["inst"]
    out = pd.DataFrame({i: data[i].to_numpy(dtype=float) for i in cfg.items})
    for i in cfg.items:
        rs = inst.items[i].response_scale
        x = out[i].to_numpy()
        x = np.where(np.isin(x, list(rs.codes)), x, np.nan) if rs.codes else x
        out[i] = rs.reverse(x) if inst.items[i].reverse else x
    for name, form in cfg.mediation:
        out[name] = _composite(ctx["forms"][form], name, data)
    if design.workers:  # the mediation's SEs are cluster-robust by worker, as `peerscale mediation --cluster`
        out["__worker"] = data[design.worker_column].to_numpy()
    return out


def mediation_syntax(cfg: PlanConfig) -> str:
    (x, _), (m, _), (y, _) = cfg.mediation
    return f"{m} ~ a*{x}\n{y} ~ b*{m} + c*{x}\nindirect := a*b\ntotal := c + a*b"


def _fit(cfg: PlanConfig, data: pd.DataFrame):
    from ..psychometrics.cfa import fit_cfa

    data = data[list(cfg.items)]
    missing = "listwise"
    if cfg.estimator != "DWLS" and data.isna().to_numpy().any():
        missing = "fiml"
    return fit_cfa(cfg.syntax, data, std_lv=True, estimator=cfg.estimator, missing=missing)


def _fit_mediation(cfg: PlanConfig, data: pd.DataFrame):
    """The theory's path model on the composite scores (ML, complete cases, as ``lavaan::sem``;
    cluster-robust SEs by worker when the study has workers, as lavaan's ``cluster=``)."""
    from ..psychometrics.cfa import fit_cfa

    cols = [name for name, _ in cfg.mediation]
    cluster = "__worker" if "__worker" in data.columns else None
    frame = data[cols + ([cluster] if cluster else [])].dropna()
    return fit_cfa(mediation_syntax(cfg), frame, estimator="ML" if cfg.estimator == "DWLS" else cfg.estimator,
                   cluster=cluster)


def _fit_values(cfg: PlanConfig, res) -> dict:
    from ..psychometrics.fit import fit_measures

    fm = fit_measures(res)
    suffix = {"MLR": "_robust", "DWLS": "_scaled"}.get(cfg.estimator, "")
    return {k: float(fm.get(k + suffix, fm.get(k, np.nan))) if k != "srmr" else float(fm["srmr"]) for k in CUTS}


def _param_table(res) -> pd.DataFrame:
    t = res.params  # parameterEstimates() without the standardized solution (not needed here)
    t = t[(t["free"] > 0) | (t["op"] == ":=")]
    t = t.assign(name=t["lhs"] + " " + t["op"] + " " + np.where(t["op"] == ":=", "", t["rhs"]))
    return t.drop_duplicates("name")


def replicate(cfg: PlanConfig, ni: int, rep: int) -> dict:
    """Draw and analyse replication ``rep`` of sample size ``cfg.ns[ni]``."""
    from ..psychometrics.reliability import feldt_ci

    rng = np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=(ni, rep)))
    n = cfg.ns[ni]
    data = draw_sample(cfg, n, rng)
    out: dict = {"n_index": ni, "rep": rep, "converged": False}
    if len(data):  # WLSMV analyses complete rows only (listwise): the share left out, for the note
        out["incomplete_rows"] = float(data[list(cfg.items)].isna().any(axis=1).mean())
    for s, items in cfg.scales:
        x = data[list(items)].dropna().to_numpy()
        k = len(items)
        if len(x) > 2 and k > 1:
            c = np.cov(x, rowvar=False)
            alpha = k / (k - 1) * (1 - np.trace(c) / c.sum()) if c.sum() > 0 else np.nan
            lo, hi = feldt_ci(alpha, len(x), k) if np.isfinite(alpha) else (np.nan, np.nan)
            out[f"alpha_width:{s}"] = hi - lo
    try:
        res = _fit(cfg, data.drop(columns=["group"], errors="ignore"))
    except (PeerscaleError, np.linalg.LinAlgError, ValueError, FloatingPointError):
        return out
    out["converged"] = bool(res.converged)
    if not res.converged:
        return out
    out["admissible"] = not res.warnings
    out.update({f"fit:{k}": v for k, v in _fit_values(cfg, res).items()})
    t = _param_table(res)
    out["est"] = dict(zip(t["name"], t["est"].astype(float)))
    out["se"] = dict(zip(t["name"], t["se"].astype(float)))
    out["p"] = dict(zip(t["name"], t["pvalue"].astype(float)))
    if cfg.groups > 1:
        out.update(_invariance(cfg, data))
    if cfg.mediation:
        try:
            med = _fit_mediation(cfg, data)
        except (PeerscaleError, np.linalg.LinAlgError, ValueError):
            out["mediation_failed"] = True
            return out
        t = _param_table(med)
        t = t[t["op"].isin(["~", ":="])]
        for key, col in (("est", "est"), ("se", "se"), ("p", "pvalue")):
            out[key].update(dict(zip(t["name"], t[col].astype(float))))
    return out


def _invariance(cfg: PlanConfig, data: pd.DataFrame) -> dict:
    from ..psychometrics.invariance import measurement_invariance

    syntax = "\n".join(line for line in cfg.syntax.splitlines() if ":=" not in line and "~~" not in line)
    syntax = "\n".join(f"{lhs} =~ " + " + ".join(t.split("*")[-1].strip() for t in rhs.split("+"))
                       for lhs, rhs in (line.split("=~") for line in syntax.splitlines() if "=~" in line))
    try:
        table, _ = measurement_invariance(syntax, data, "group", estimator=cfg.estimator, std_lv=False)
    except (PeerscaleError, np.linalg.LinAlgError, ValueError):
        return {"inv_failed": True}
    out = {}
    for level in ("metric", "scalar"):
        if level in table.index:
            row = table.loc[level]
            out[f"inv_p:{level}"] = float(row.get("pvalue_diff", np.nan))
            out[f"inv_dcfi:{level}"] = float(row.get("delta_cfi", np.nan))
    return out


def _run_chunk(cfg: PlanConfig, keys: list) -> list[dict]:
    return [replicate(cfg, ni, rep) for ni, rep in keys]


# ------------------------------------------------------------------------------ the result

@dataclass
class PlanResult:
    """Monte Carlo results: ``records`` (one per replication), ``truth`` (pseudo-true values)."""

    config: PlanConfig
    records: list
    truth: dict
    generating: dict = field(default_factory=dict)
    seconds: float = float("nan")
    processes: int = 1
    truth_seconds: float = float("nan")

    @property
    def latent(self) -> frozenset:
        from ..psychometrics.lavaan_syntax import parse_model

        return frozenset(t.lhs for t in parse_model(self.config.syntax) if t.op == "=~")

    def _by_n(self):
        for ni, n in enumerate(self.config.ns):
            yield n, [r for r in self.records if r["n_index"] == ni]

    def to_frame(self) -> pd.DataFrame:
        """Tidy: one row per (n, measure, parameter) with ``value`` and its Monte Carlo SE."""
        rows = []
        latent = self.latent

        def add(n, measure, parameter, value, mcse=np.nan, reps=np.nan):
            rows.append({"n": n, "measure": measure, "parameter": parameter, "value": value, "mc_se": mcse,
                         "replications": reps})

        def prop(n, measure, flags, parameter=""):
            flags = np.asarray(flags, dtype=float)
            flags = flags[np.isfinite(flags)]
            if len(flags):
                p = flags.mean()
                add(n, measure, parameter, p, math.sqrt(p * (1 - p) / len(flags)), len(flags))

        for n, recs in self._by_n():
            ok = [r for r in recs if r["converged"]]
            prop(n, "convergence", [r["converged"] for r in recs])
            prop(n, "admissible", [r["admissible"] for r in ok])
            for k, cut in CUTS.items():
                prop(n, f"{k}_ok", [(r[f"fit:{k}"] >= cut) if k == "cfi" else (r[f"fit:{k}"] <= cut)
                                    for r in ok if np.isfinite(r[f"fit:{k}"])])
            prop(n, "all_fit_ok", [r["fit:cfi"] >= .95 and r["fit:rmsea"] <= .06 and r["fit:srmr"] <= .08 for r in ok])
            for name, theta in self.truth.items():
                est = np.array([r["est"].get(name, np.nan) for r in ok])
                se = np.array([r["se"].get(name, np.nan) for r in ok])
                p = np.array([r["p"].get(name, np.nan) for r in ok])
                good = np.isfinite(est)
                if not good.any():
                    continue
                kind = _kind(name, latent)
                if kind in ("loading", "structural", "defined"):
                    add(n, "bias", name, float(est[good].mean() - theta), float(est[good].std(ddof=1) / math.sqrt(good.sum())) if good.sum() > 1 else np.nan, int(good.sum()))
                    add(n, "rmse", name, float(np.sqrt(np.mean((est[good] - theta) ** 2))), reps=int(good.sum()))
                    cov = np.abs(est - theta) <= 1.959963984540054 * se
                    prop(n, "coverage", cov[good & np.isfinite(se)], name)
                if kind in ("structural", "defined"):
                    prop(n, "power", (p < 0.05)[np.isfinite(p)], name)
                if name.startswith("omega_"):
                    w = 2 * 1.959963984540054 * se[good & np.isfinite(se)]
                    if len(w):
                        add(n, "omega_ci_width", name.split(" ")[0][6:], float(w.mean()), reps=len(w))
            for s, _ in self.config.scales:
                w = np.array([r.get(f"alpha_width:{s}", np.nan) for r in recs], dtype=float)
                w = w[np.isfinite(w)]
                if len(w):
                    add(n, "alpha_ci_width", s, float(w.mean()), reps=len(w))
            if self.config.groups > 1:
                for level in ("metric", "scalar"):
                    prop(n, "invariance_reject_chisq", [r[f"inv_p:{level}"] < .05 for r in ok if f"inv_p:{level}" in r
                                                        and np.isfinite(r[f"inv_p:{level}"])], level)
                    prop(n, "invariance_reject_dcfi", [r[f"inv_dcfi:{level}"] < -.01 for r in ok
                                                       if f"inv_dcfi:{level}" in r and np.isfinite(r[f"inv_dcfi:{level}"])], level)
        return pd.DataFrame(rows, columns=["n", "measure", "parameter", "value", "mc_se", "replications"])

    def table(self) -> pd.DataFrame:
        """One row per n: the headline numbers of :meth:`summary`."""
        t = self.to_frame()
        latent = self.latent
        kind = t["parameter"].map(lambda p: _kind(p, latent))
        out = []
        for n in self.config.ns:
            d = t[t["n"] == n]

            def one(measure, how="mean", param=None):
                v = d[(d["measure"] == measure) & ((d["parameter"] == param) if param is not None else True)]
                if measure in ("bias", "rmse", "coverage") and param is None:
                    v = v[kind[v.index] == "loading"]
                if v.empty:
                    return np.nan
                vals = v["value"].abs() if how == "absmean" else v["value"]
                return float({"mean": vals.mean(), "min": vals.min(), "max": vals.max(), "absmean": vals.mean()}[how])

            power = d[d["measure"] == "power"]
            structural = power[(kind[power.index] == "structural") & power["parameter"].str.contains(" ~~ ")]
            row = {"n": n, "convergence": one("convergence", param=""), "admissible": one("admissible", param=""),
                   "cfi_ok": one("cfi_ok", param=""), "rmsea_ok": one("rmsea_ok", param=""),
                   "srmr_ok": one("srmr_ok", param=""), "all_fit_ok": one("all_fit_ok", param=""),
                   "loading_abs_bias": one("bias", "absmean"), "loading_rmse": one("rmse"),
                   "loading_coverage": one("coverage"), "loading_coverage_min": one("coverage", "min"),
                   "power_structural_min": float(structural["value"].min()) if len(structural) else np.nan,
                   "alpha_ci_width": one("alpha_ci_width"), "omega_ci_width": one("omega_ci_width")}
            for _, r in power[(kind[power.index] == "structural") & power["parameter"].str.contains(" ~ ")].iterrows():
                row[f"power {r['parameter'].replace(' ', '')}"] = r["value"]
            for _, r in power[kind[power.index] == "defined"].iterrows():
                if not r["parameter"].startswith("omega_"):
                    row[f"power {r['parameter'].split(' ')[0]}"] = r["value"]
            for level in ("metric", "scalar"):
                v = d[(d["measure"] == "invariance_reject_chisq") & (d["parameter"] == level)]
                if len(v):
                    row[f"reject_{level}"] = float(v["value"].iloc[0])
            out.append(row)
        return pd.DataFrame(out)

    @property
    def notes(self) -> list[str]:
        """Notes for the reader: under WLSMV, the mean share of rows left out (listwise) per n."""
        if self.config.estimator != "DWLS":
            return []
        shares = []
        for n, recs in self._by_n():
            v = [r["incomplete_rows"] for r in recs if np.isfinite(r.get("incomplete_rows", np.nan))]
            if v and np.mean(v) > 0:
                shares.append((n, float(np.mean(v))))
        if not shares:
            return []
        (n0, p0), rest = shares[0], shares[1:]
        return [f"WLSMV uses complete rows only: on average {p0:.0%} of rows were left out at n = {n0}"
                + "".join(f", {p:.0%} at n = {n}" for n, p in rest)]

    def to_dict(self) -> dict:
        return {"config": {"instrument": self.config.name, "n": list(self.config.ns), "reps": self.config.reps,
                           "seed": self.config.seed, "estimator": self.config.estimator, "groups": self.config.groups,
                           "dif": self.config.dif, "dif_items": list(self.config.dif_items), "mcar": self.config.mcar,
                           "truth_n": self.config.truth_n},
                "truth": self.truth, "seconds": self.seconds, "truth_seconds": self.truth_seconds,
                "processes": self.processes,
                "by_n": _records(self.table()), "results": _records(self.to_frame()), "notes": self.notes}

    def summary(self) -> str:
        """A short text table per n (as simsem's summary)."""
        t = self.table()
        cfg = self.config
        lines = [f"Monte Carlo plan: {cfg.name}, {cfg.estimator if cfg.estimator != 'DWLS' else 'WLSMV'}, "
                 f"{cfg.reps} replications per n, seed {cfg.seed}"
                 + (f", {cfg.groups} groups" + (f" (threshold shift {cfg.dif:g} on {len(cfg.dif_items)} items)"
                                                  if cfg.dif else "") if cfg.groups > 1 else "")]
        cols = [("n", "n", "{:.0f}"), ("convergence", "conv", "{:.3f}"), ("cfi_ok", "CFI>=.95", "{:.3f}"),
                ("rmsea_ok", "RMSEA<=.06", "{:.3f}"), ("srmr_ok", "SRMR<=.08", "{:.3f}"),
                ("loading_abs_bias", "|bias| l", "{:.3f}"), ("loading_rmse", "RMSE l", "{:.3f}"),
                ("loading_coverage", "cover l", "{:.3f}"), ("power_structural_min", "min power", "{:.3f}"),
                ("alpha_ci_width", "alpha CI w", "{:.3f}"), ("omega_ci_width", "omega CI w", "{:.3f}")]
        cols += [(c, c.replace("power ", "power "), "{:.3f}") for c in t.columns if c.startswith("power ")]
        cols += [(c, c, "{:.3f}") for c in t.columns if c.startswith("reject_")]
        cols = [c for c in cols if c[0] in t.columns]
        width = [max(len(h), 6) for _, h, _ in cols]
        lines.append("  ".join(h.rjust(w) for (_, h, _), w in zip(cols, width)))
        for _, r in t.iterrows():
            lines.append("  ".join(("—" if not np.isfinite(r[c]) else f.format(r[c])).rjust(w)
                                   for (c, _, f), w in zip(cols, width)))
        lines.append("conv: share converged; fit columns: share of converged fits meeting the cut-off; l: loadings "
                     "(bias and RMSE against the pseudo-true values, coverage of the 95% Wald CI); min power: the "
                     "weakest factor correlation at p < .05; CI w: mean width of the 95% interval.")
        lines += [f"note: {note} (rows with any missing answer are dropped, as the analysis does; low "
                  "convergence can come from the smaller sample)" for note in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def svg(self) -> str:
        """Power and coverage by n, as an SVG line chart."""
        from .plot import plan_svg

        return plan_svg(self)


def _records(frame: pd.DataFrame) -> list:
    out = []
    for rec in frame.to_dict("records"):
        out.append({k: (None if isinstance(v, float) and not math.isfinite(v) else
                        (v.item() if hasattr(v, "item") else v)) for k, v in rec.items()})
    return out


# ------------------------------------------------------------------------------ the driver

def _checkpoint_read(path: Path, cfg: PlanConfig) -> dict:
    done = {}
    if not path.exists():
        return done
    with open(path, encoding="utf-8") as fh:
        header = fh.readline()
        try:
            head = json.loads(header)
        except json.JSONDecodeError:
            raise PeerscaleError("the checkpoint file is not a peerscale plan checkpoint", file=str(path),
                                 hint="delete it, or give another --checkpoint") from None
        if head.get("peerscale_plan") != CHECKPOINT_VERSION or head.get("key") != cfg.key():
            raise PeerscaleError("the checkpoint is from a different plan (instrument, n, reps, seed or options differ)",
                                 file=str(path), hint="run with the same options, or delete the checkpoint")
        for line in fh:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:  # a line cut by the interruption
                continue
            done[(rec["n_index"], rec["rep"])] = rec
    return done


def _jsonable(rec: dict) -> dict:
    def fix(v):
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if hasattr(v, "item"):
            return fix(v.item())
        return v
    return fix(rec)


def _restore(rec: dict) -> dict:
    def fix(v):
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        return np.nan if v is None else v
    return fix(rec)


def plan(instrument=None, n=(150, 300, 500), reps: int = 500, seed: int = 1, *, estimator: str = "ml",
         scales: list | None = None, syntax: str | None = None, model=None, groups: int = 1, dif: float = 0.0,
         dif_items: list | None = None, mcar: float = 0.0, processes: int | None = None,
         checkpoint: str | Path | None = None, resume: bool = False, quiet: bool = True,
         truth_n: int = 100_000, complete: bool = False) -> PlanResult:
    """Monte Carlo planning of a validation study from an instrument's population model.

    Parameters
    ----------
    instrument : str or Instrument
        Bundled name or scoring file with a ``population:`` block (with ``model``: default the
        model file's first form).
    n : int or sequence of int
        Sample sizes (with ``groups``: in total, split equally).
    reps : int
        Replications per sample size.
    seed : int
        Replication ``r`` of the ``k``-th n uses ``SeedSequence(seed, spawn_key=(k, r))``: the
        same seed gives the same results with any number of processes.
    estimator : {"ml", "mlr", "wlsmv"}
        As the analysis (``peerscale cfa --estimator``); WLSMV treats the items as ordinal.
    scales : list of str, optional
        The dimension scales to model (default: those of the first composite, as ``cfa``).
    syntax : str, optional
        lavaan syntax instead of one factor per scale (``~`` regressions and ``:=`` parameters
        get power; variables are the keyed items).
    model : str or Path, optional
        A model file (as ``simulate(model=)``): each replication is the study it describes, with
        n young people; the CFA is fitted to the first event's answers to ``instrument``, and
        when the file states a mediation, the theory's path model on the forms' composite
        scores (``m ~ a*x; y ~ b*m + c*x; indirect := a*b; total := c + a*b``, ML, complete
        cases, SEs cluster-robust by worker when the study has workers, as ``peerscale
        mediation --cluster``) gives the power of a, b, c', the indirect and the total effect.
    groups, dif, dif_items : int, float, list
        Invariance: ``groups`` equal groups, the last with thresholds of ``dif_items`` (default:
        the first item of each scale) shifted by ``dif`` latent SDs (0 gives the type I error).
    mcar : float
        Share of answers missing completely at random (FIML under ML/MLR, listwise under WLSMV).
    processes : int, optional
        Worker processes (default: every core).
    checkpoint : path, optional
        File that keeps finished replications; with ``resume`` a run continues from it.
    truth_n : int
        Size of the one large sample whose estimates are the pseudo-true values.
    complete : bool
        With ``model``: leave out the model file's missing answers (no FIML; several times faster).

    Returns
    -------
    PlanResult
        ``to_frame()`` (tidy: n, measure, parameter, value, mc_se), ``table()`` (one row per
        n), ``summary()``, ``svg()``.

    Notes
    -----
    See the module docstring for every measure and its formula.

    References
    ----------
    Muthén & Muthén (2002), Structural Equation Modeling 9(4), 599–620.

    Examples
    --------
    >>> import peerscale
    >>> res = peerscale.plan("pbr-p", n=[200], reps=2, seed=1, truth_n=20000)  # doctest: +SKIP
    >>> res.table()[["n", "convergence"]]  # doctest: +SKIP
    >>> # R: lavaan::simulateData + cfa in a loop (simsem::sim)
    """
    import time

    from ..spec import load_instrument

    from .generate import check_seed
    from .study import with_population

    t0 = time.perf_counter()
    if seed is None:
        raise PeerscaleError("`seed` is required: replication r of the k-th n uses SeedSequence(seed, (k, r))",
                             hint="give a whole number of 0 or more")
    seed = check_seed(seed)
    design = None
    mediation: tuple = ()
    if model is not None:
        from .model import load_model

        design = load_model(model)
        if groups > 1:
            raise PeerscaleError("`groups` (invariance) is planned from an instrument, not a model file",
                                 hint="leave out `model`, or `groups`")
        if instrument is None:
            instrument = design.forms[0]
        forms = {f: with_population(load_instrument(f), design) for f in design.forms}
        med = design.latent.mediation if design.latent is not None else None
        if med:
            picked = []
            for role in ("x", "m", "y"):
                form = next((f for f, i in forms.items() if i.bank == med[role]), None)
                comp = next((c for c in forms[form].scales if c.composite), None) if form else None
                if comp is None:
                    raise PeerscaleError(f"no form of the main file measures construct {med[role]!r} with a total score",
                                         file=str(model), key="latent.mediation")
                picked.append((comp.name, forms[form].path or form))
            mediation = tuple(picked)
    if instrument is None:
        raise PeerscaleError("give `instrument` (or `model`, a model file)")
    inst = with_population(load_instrument(instrument), design)
    if inst.population is None:
        raise PeerscaleError(f"instrument {inst.name!r} has no population: block to plan from", file=inst.path,
                             hint="add a population: block to its scoring file")
    est = ESTIMATORS.get(str(estimator).lower())
    if est is None:
        raise PeerscaleError(f"unknown `estimator` {estimator!r}", hint="use ml, mlr or wlsmv")
    if isinstance(n, str):
        raise PeerscaleError(f"`n` is a whole number or a list of them, got the text {n!r}", hint="e.g. n=[150, 300, 500]")
    ns = (n,) if isinstance(n, (int, np.integer)) else tuple(n)
    if not ns or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in ns):
        raise PeerscaleError(f"`n` must be whole numbers of at least 1, got {list(ns)!r}")
    dup = sorted({v for v in ns if list(ns).count(v) > 1})
    if dup:
        raise PeerscaleError(f"`n` lists {dup[0]} more than once", hint="give each sample size once")
    if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) or reps < 1:
        raise PeerscaleError(f"`reps` must be a whole number of at least 1, got {reps!r}")
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise PeerscaleError(f"`groups` must be a whole number of at least 1, got {groups!r}")
    def finite(name, v):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v):
            raise PeerscaleError(f"`{name}` must be a finite number, got {v!r}")

    finite("mcar", mcar)
    if not 0 <= mcar < 1:
        raise PeerscaleError(f"`mcar` is a share in [0, 1), got {mcar!r}")
    finite("dif", dif)
    if processes is not None and (isinstance(processes, bool) or not isinstance(processes, (int, np.integer))
                                  or processes < 1):
        raise PeerscaleError(f"`processes` must be a whole number of at least 1 (or None: every core), got {processes!r}")
    if isinstance(truth_n, bool) or not isinstance(truth_n, (int, np.integer)) or truth_n < 1000:
        raise PeerscaleError(f"`truth_n` must be a whole number of at least 1000, got {truth_n!r}",
                             hint="the pseudo-true values come from one sample this large")
    for name, value in (("scales", scales), ("dif_items", dif_items)):
        if isinstance(value, str):
            raise PeerscaleError(f"`{name}` is a list of names, got the text {value!r}", hint=f"use [{value!r}]")
    dims = [s for s in inst.scales if not s.composite and s.name in inst.population.factors]
    if scales is None:
        composite = next((s for s in inst.scales if s.composite and s.of_scales), None)
        chosen = [s for s in dims if composite is None or s.name in composite.of_scales]
    else:
        names = {s.name: s for s in dims}
        bad = [s for s in scales if s not in names]
        if bad:
            raise PeerscaleError(f"no dimension scale {bad[0]!r} in {inst.name!r}", hint="scales: " + ", ".join(names))
        chosen = [names[s] for s in scales]
    scale_items = {s.name: tuple(s.items) for s in chosen}
    if syntax:
        from ..psychometrics.lavaan_syntax import model_variables, parse_model

        observed, _ = model_variables(parse_model(syntax))
        unknown = [v for v in observed if v not in inst.items or v not in inst.population.factor_of]
        if unknown:
            raise PeerscaleError(f"the model's variable {unknown[0]!r} is not a modelled item of {inst.name!r}")
        items = tuple(i for i in inst.items if i in observed)
    else:
        items = tuple(i for s in chosen for i in s.items)
    per_group = min(ns) // groups
    if per_group <= len(items):
        raise PeerscaleError(f"n = {min(ns)}{f' ({per_group} per group)' if groups > 1 else ''} is not more than the "
                             f"{len(items)} items: the sample covariance matrix is singular and the CFA cannot be fitted",
                             hint=f"plan with n above {len(items) * groups} (several times more for stable estimates)")
    syntax = model_syntax(scale_items, est, syntax)
    if groups > 1:
        if dif_items is None:
            dif_items = [s.items[0] for s in chosen]
        bad = [i for i in dif_items if i not in items]
        if bad:
            raise PeerscaleError(f"`dif_items`: {bad[0]!r} is not a modelled item")
    files = list(inst.files)
    if model is not None:
        files.append(str(model))
        files += [f for form in forms.values() for f in form.files]
    digest = hashlib.sha256()
    for f in files:
        try:
            digest.update(Path(f).read_bytes())
        except OSError:
            digest.update(str(f).encode())
    cfg = PlanConfig(fingerprint=digest.hexdigest()[:16], instrument=inst.path or inst.name, name=inst.name, ns=ns, reps=int(reps), seed=int(seed), estimator=est,
                     syntax=syntax, scales=tuple(scale_items.items()), items=items, groups=int(groups),
                     dif=float(dif), dif_items=tuple(dif_items or ()), mcar=float(mcar), truth_n=int(truth_n),
                     model_file=str(model) if model is not None else "", mediation=mediation,
                     complete=bool(complete))
    t_truth = time.perf_counter()
    truth = _truth(cfg)
    t_truth = time.perf_counter() - t_truth
    generating = {f"{f} =~ {i}": inst.population.loadings[i] for f, its in scale_items.items() for i in its}

    ckpt = Path(checkpoint) if checkpoint else None
    done = {}
    if ckpt is not None:
        if resume:
            done = _checkpoint_read(ckpt, cfg)
        elif ckpt.exists():
            raise PeerscaleError("a checkpoint of an earlier run exists", file=str(ckpt),
                                 hint="continue it with `resume`, or delete it to start again")
    todo = [(ni, r) for ni in range(len(ns)) for r in range(cfg.reps) if (ni, r) not in done]
    procs = processes or os.cpu_count() or 1
    records = dict(done)
    fh = None
    if ckpt is not None:
        if not done:
            fh = open(ckpt, "w", encoding="utf-8")
            fh.write(json.dumps({"peerscale_plan": CHECKPOINT_VERSION, "key": cfg.key()}) + "\n")
        else:
            fh = open(ckpt, "a", encoding="utf-8")
    from ..progress import progress

    try:
        with progress(len(todo), f"plan {inst.name}: {len(ns)} n x {cfg.reps} replications", quiet=quiet) as bar:
            def keep(recs):
                for rec in recs:
                    records[(rec["n_index"], rec["rep"])] = rec
                    if fh is not None:
                        fh.write(json.dumps(_jsonable(rec)) + "\n")
                if fh is not None:
                    fh.flush()
                bar.advance(len(recs))

            chunk = max(1, min(10, len(todo) // (procs * 8) or 1))
            chunks = [todo[k:k + chunk] for k in range(0, len(todo), chunk)]
            if procs <= 1 or len(chunks) <= 1:
                for c in chunks:
                    keep(_run_chunk(cfg, c))
            else:
                import multiprocessing as mp
                from concurrent.futures import ProcessPoolExecutor, as_completed

                from ..psychometrics.blas import single_threaded  # noqa: F401  (workers fit one model at a time)

                ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
                with ProcessPoolExecutor(max_workers=min(procs, len(chunks)), mp_context=ctx) as pool:
                    futures = [pool.submit(_run_chunk, cfg, c) for c in chunks]
                    try:
                        for fut in as_completed(futures):
                            keep(fut.result())
                    except BaseException:
                        for fut in futures:
                            fut.cancel()
                        raise
    finally:
        if fh is not None:
            fh.close()
    ordered = [_restore(_jsonable(records[(ni, r)])) for ni in range(len(ns)) for r in range(cfg.reps)]
    res = PlanResult(cfg, ordered, truth, generating, time.perf_counter() - t0, procs, t_truth)
    if ckpt is not None and ckpt.exists():
        ckpt.unlink()
    return res


def _truth(cfg: PlanConfig) -> dict:
    """Pseudo-true values: the estimates from one sample of ``truth_n`` (its own seed stream)."""
    rng = np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=(2 ** 32 - 1, 0)))
    big = PlanConfig(**{**asdict(cfg), "groups": 1, "mcar": 0.0, "complete": True,
                        "estimator": "ML" if cfg.estimator == "MLR" else cfg.estimator})
    big = PlanConfig(**{**asdict(big), "ns": tuple(big.ns), "scales": tuple((s, tuple(i)) for s, i in big.scales),
                        "items": tuple(big.items), "dif_items": tuple(big.dif_items),
                        "mediation": tuple((a, b) for a, b in big.mediation)})
    data = draw_sample(big, cfg.truth_n, rng)
    try:
        res = _fit(big, data)
    except PeerscaleError as exc:
        raise PeerscaleError(f"the population model could not be fitted to a large sample: {exc.message}",
                             hint="check the population: block (loadings, correlations)") from None
    t = _param_table(res)
    truth = dict(zip(t["name"], t["est"].astype(float)))
    if cfg.mediation:
        m = _param_table(_fit_mediation(big, data))
        m = m[m["op"].isin(["~", ":="])]
        truth.update(dict(zip(m["name"], m["est"].astype(float))))
    return truth
