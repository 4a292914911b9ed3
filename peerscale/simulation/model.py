"""Model files for ``peerscale simulate --model``: the forms, the study design, the latent
structure with the theory of change, and the messiness of real exports, in one YAML file.

Layout (every block optional but ``forms``; ``examples/population.yaml`` is a full example)::

    description: "..."
    n: 300                                   # young people
    forms: [pbr-y, act-y, out-y]             # the main file (instruments, bundled or paths)
    redcap: true                             # redcap_event_name and <form>_complete columns
    record: {column: record_id, prefix: Y}
    events: {column: redcap_event_name, names: [baseline_arm_1, followup_arm_1],
             follow_up: 0.85, stability: 0.60, gain: {PBR: 0.25, ACT: 0.15, OUT: 0.35}}
    workers: {n: 40, column: worker_id, prefix: W, icc: {PBR: 0.05}, min_caseload: 2}
    dyads: {forms: [pbr-p, act-p], column: dyad_id, prefix: D, returned: 0.96,
            agreement: {PBR: 0.45, ACT: 0.55}, leniency: 0.20, shift: {"*": 0.50}}
    latent:
      constructs: {ACT: 0.70, PBR: 0.80, OUT: 0.75}   # each bank's dimension factors load on it
      dimensions: {PBR.HOPE: 0.75}                     # a dimension's own loading
      mediation: {x: ACT, m: PBR, y: OUT, a: 0.50, b: 0.45, c_prime: 0.15}
      residual_correlations: {PBR.HOPE~PBR.TRUST: 0.44}
    missing: {mcar: [0.6, 32], page_skip: 0.02, not_opened: 0.01, unverified: 0.03, not_relevant: 0.02}
    population:                              # optional: replaces a form's own population: block
      pbr-y: {loadings: {default: 0.7}, correlations: {default: 0.5}, thresholds: {default: [-2, -1.3, -0.6, 0.4]}}

``population:`` maps a form (its name, or the path as written in ``forms``) to a block in the
scoring file's layout (:mod:`peerscale.simulation.population`); with a single form the block
may be given directly.

Item loadings and thresholds come from each form's ``population:`` block. The ``latent`` block
replaces the blocks' factor correlations with a second-order model: the dimension factor
``η_d = γ_d·C_bank + √(1 − γ_d²)·u_d`` (``u`` correlated only as ``residual_correlations``
says), and the constructs follow the mediation model (standardised)::

    C_x ~ N(0, 1);  C_m = a·C_x + e_m;  C_y = b·C_m + c'·C_x + e_y

so ``corr(C_x, C_m) = a``, ``corr(C_m, C_y) = b + a·c'``, ``corr(C_x, C_y) = c' + a·b``,
the indirect effect is ``a·b`` and the total ``c' + a·b`` (all in construct SD units).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import PeerscaleError
from ..spec import _Checker, _read_yaml
from .study import Design

MODEL_KEYS = {"description", "n", "forms", "redcap", "irt", "record", "events", "workers", "dyads", "latent",
              "missing", "population"}


@dataclass
class Latent:
    """Second-order latent structure with the mediation model among the constructs."""

    constructs: dict[str, float]
    dimensions: dict[str, float] = field(default_factory=dict)
    mediation: dict | None = None
    residual: dict = field(default_factory=dict)
    file: str | None = None

    def construct_correlations(self) -> tuple[list[str], np.ndarray]:
        names = list(self.constructs)
        c = np.eye(len(names))
        med = self.mediation
        if med:
            a, b, cp = med["a"], med["b"], med["c_prime"]
            ix, im, iy = (names.index(med[k]) for k in ("x", "m", "y"))
            c[ix, im] = c[im, ix] = a
            c[im, iy] = c[iy, im] = b + a * cp
            c[ix, iy] = c[iy, ix] = cp + a * b
        return names, c

    def correlations(self, factors: list[tuple[str, str]]) -> np.ndarray:
        names, cc = self.construct_correlations()
        missing = sorted({b for b, _ in factors} - set(names))
        if missing:
            raise PeerscaleError(f"the latent block has no construct for bank {missing[0]!r}", file=self.file,
                                 key="latent.constructs", hint="constructs: " + ", ".join(names))
        labels = [f"{b}.{d}" for b, d in factors]
        if self.mediation:
            measured = {b for b, _ in factors}
            for role in ("x", "m", "y"):
                if self.mediation[role] not in measured:
                    raise PeerscaleError(f"the mediation's {role} ({self.mediation[role]!r}) is measured by none of the "
                                         "forms, so the data would not carry the stated effect", file=self.file,
                                         key=f"latent.mediation.{role}",
                                         hint="add a form of that bank to forms (e.g. act-y, out-y), or drop the "
                                              "mediation")
        for label in self.dimensions:
            if label not in labels:
                raise PeerscaleError(f"no dimension {label!r} among the forms' factors", file=self.file,
                                     key="latent.dimensions", hint="factors: " + ", ".join(labels))
        gamma = np.array([self.dimensions.get(lab, self.constructs[b]) for lab, (b, _) in zip(labels, factors)])
        g = np.zeros((len(factors), len(names)))
        for k, (b, _) in enumerate(factors):
            g[k, names.index(b)] = gamma[k]
        ru = np.eye(len(factors))
        for (p, q), r in self.residual.items():
            if p not in labels or q not in labels:
                bad = p if p not in labels else q
                raise PeerscaleError(f"no dimension {bad!r} among the forms' factors", file=self.file,
                                     key="latent.residual_correlations", hint="factors: " + ", ".join(labels))
            ru[labels.index(p), labels.index(q)] = ru[labels.index(q), labels.index(p)] = r
        if np.linalg.eigvalsh(ru)[0] <= 1e-10:
            raise PeerscaleError("the residual correlations of the dimensions are not positive definite",
                                 file=self.file, key="latent.residual_correlations",
                                 hint="lower the largest residual correlations")
        u = np.sqrt(1 - gamma ** 2)
        phi = g @ cc @ g.T + np.outer(u, u) * ru
        np.fill_diagonal(phi, 1.0)
        return phi

    def effects(self) -> dict:
        """The true (standardised, construct-level) mediation effects."""
        if not self.mediation:
            return {}
        m = self.mediation
        return {"x": m["x"], "m": m["m"], "y": m["y"], "a": m["a"], "b": m["b"], "c_prime": m["c_prime"],
                "indirect": round(m["a"] * m["b"], 10), "total": round(m["c_prime"] + m["a"] * m["b"], 10)}


def _share(chk, raw, key, open_top=True) -> float:
    v = chk.number(raw, key)
    if not 0 <= v <= 1 or (open_top and v >= 1):
        chk.fail(key, f"expected a proportion between 0 and 1, got {v:g}")
    return v


def _numbers_by_bank(chk, value, key: str) -> dict:
    """A number per bank (``{bank: number}``) or one number for every bank (``{"*": number}``);
    nothing is ``{}``."""
    value = value or {}
    if not isinstance(value, dict):
        value = {"*": value}
    chk.mapping(value, key, set(value))
    return {str(b): chk.number(v, f"{key}.{b}") for b, v in value.items()}


def _by_bank(chk, raw, key) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        return {"*": _share(chk, raw, key)}
    chk.mapping(raw, key, set(raw))
    return {str(b): _share(chk, v, f"{key}.{b}") for b, v in raw.items()}


def _form(ref, base: Path) -> str:
    text = str(ref)
    p = base / text
    return str(p) if text.endswith((".yaml", ".yml")) and p.is_file() else text


def load_model(path) -> Design:
    """Read and validate a model file; returns the :class:`~peerscale.simulation.generate.Design`."""
    if isinstance(path, Design):
        return path
    path = Path(path)
    if not path.is_file():
        raise PeerscaleError("model file not found", file=str(path))
    doc = _read_yaml(path)
    chk = _Checker(path)
    chk.mapping(doc, "", MODEL_KEYS, required=("forms",))
    base = path.parent
    forms = [_form(f, base) for f in chk.seq(doc["forms"], "forms")]
    if not forms:
        chk.fail("forms", "list at least one form (a bundled name or a scoring file) to simulate")
    n = doc.get("n", 100)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        chk.fail("n", f"n is a whole number of at least 1, got {n!r}")
    d = Design(n=n, forms=forms, redcap=chk.boolean(doc.get("redcap", False), "redcap"),
               irt=chk.boolean(doc.get("irt", False), "irt"))
    rec = doc.get("record") or {}
    chk.mapping(rec, "record", {"column", "prefix"})
    d.record_column = chk.text(rec.get("column", d.record_column), "record.column")
    d.record_prefix = chk.text(rec.get("prefix", d.record_prefix), "record.prefix")
    ev = doc.get("events")
    if ev is not None:
        chk.mapping(ev, "events", {"column", "names", "follow_up", "stability", "gain"}, required=("names",))
        d.events = [chk.text(e, "events.names") for e in chk.seq(ev["names"], "events.names")]
        if len(d.events) < 1 or len(set(d.events)) != len(d.events):
            chk.fail("events.names", "list each event once")
        d.waves = len(d.events)
        d.event_column = chk.text(ev.get("column", "redcap_event_name"), "events.column")
        d.follow_up = _share(chk, ev.get("follow_up", 1.0), "events.follow_up", open_top=False)
        d.stability = _share(chk, ev.get("stability", 0.6), "events.stability")
        d.gain = _numbers_by_bank(chk, ev.get("gain"), "events.gain")
    wk = doc.get("workers")
    if wk is not None:
        chk.mapping(wk, "workers", {"n", "column", "prefix", "icc", "min_caseload"}, required=("n",))
        k = wk["n"]
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            chk.fail("workers.n", f"the number of workers is a whole number of at least 1, got {k!r}")
        d.workers = k
        d.worker_column = chk.text(wk.get("column", d.worker_column), "workers.column")
        d.worker_prefix = chk.text(wk.get("prefix", d.worker_prefix), "workers.prefix")
        d.icc = _by_bank(chk, wk.get("icc"), "workers.icc")
        mc = wk.get("min_caseload", 2)
        if isinstance(mc, bool) or not isinstance(mc, int) or mc < 1:
            chk.fail("workers.min_caseload", f"expected a whole number of at least 1, got {mc!r}")
        d.min_caseload = mc
    dy = doc.get("dyads")
    if dy is not None:
        chk.mapping(dy, "dyads", {"forms", "column", "prefix", "returned", "agreement", "leniency", "shift"},
                    required=("forms",))
        if wk is None:
            chk.fail("dyads", "dyads (the worker's view) need a workers: block")
        d.dyad_forms = [_form(f, base) for f in chk.seq(dy["forms"], "dyads.forms")]
        d.dyad_column = chk.text(dy.get("column", d.dyad_column), "dyads.column")
        d.dyad_prefix = chk.text(dy.get("prefix", d.dyad_prefix), "dyads.prefix")
        d.returned = _share(chk, dy.get("returned", 1.0), "dyads.returned", open_top=False)
        d.agreement = _by_bank(chk, dy.get("agreement"), "dyads.agreement")
        d.leniency = _share(chk, dy.get("leniency", 0.0), "dyads.leniency")
        d.shift = _numbers_by_bank(chk, dy.get("shift"), "dyads.shift")
    ms = doc.get("missing")
    if ms is not None:
        chk.mapping(ms, "missing", {"mcar", "page_skip", "not_opened", "unverified", "not_relevant"})
        mcar = ms.get("mcar", 0.0)
        if isinstance(mcar, list):
            if len(mcar) != 2:
                chk.fail("missing.mcar", "a Beta propensity per respondent is [a, b]")
            d.mcar = tuple(chk.number(v, "missing.mcar") for v in mcar)
            if min(d.mcar) <= 0:
                chk.fail("missing.mcar", f"Beta parameters must be above 0, got {list(d.mcar)}")
        else:
            d.mcar = _share(chk, mcar, "missing.mcar")
        for key in ("page_skip", "not_opened", "unverified"):
            setattr(d, key, _share(chk, ms.get(key, 0.0), f"missing.{key}"))
        if "not_relevant" in ms:
            d.not_relevant = _share(chk, ms["not_relevant"], "missing.not_relevant")
    lt = doc.get("latent")
    if lt is not None:
        d.latent = _latent(chk, lt, str(path))
    if doc.get("population") is not None:
        d.populations = _populations(chk, doc["population"], d.forms + d.dyad_forms)
    return d


def _populations(chk, raw, refs: list) -> dict:
    """``population:`` of a model file: per form (name or path as in ``forms``), or one block."""
    from ..spec import load_instrument
    from .population import POPULATION_KEYS, parse_population_block

    forms = {}
    for ref in refs:
        inst = load_instrument(ref)
        forms[str(ref)] = forms[inst.name] = inst
    chk.mapping(raw, "population", set(raw) if isinstance(raw, dict) else set())
    single = bool(set(raw) & POPULATION_KEYS)
    if single:  # one block, for the only form
        names = {i.name for i in forms.values()}
        if len(names) != 1:
            chk.fail("population", "with several forms, give a population: block per form (population: {FORM: {...}})",
                     hint="forms: " + ", ".join(sorted(names)))
        raw = {next(iter(names)): raw}
    out = {}
    for key, block in raw.items():
        inst = forms.get(str(key))
        if inst is None:
            chk.fail(f"population.{key}", f"{key!r} is not one of the model's forms",
                     hint="forms: " + ", ".join(sorted({i.name for i in forms.values()})))
        try:
            out[inst.name] = parse_population_block(chk, block, inst.items, inst.scales, inst.irt)
        except PeerscaleError as exc:  # the block's keys, as they stand in the model file
            if exc.key and exc.key.startswith("population") and not single:
                exc.key = f"population.{key}" + exc.key[len("population"):]
            raise
    return out


def _latent(chk, raw, file: str) -> Latent:
    chk.mapping(raw, "latent", {"constructs", "dimensions", "mediation", "residual_correlations"},
                required=("constructs",))
    cons = raw["constructs"]
    chk.mapping(cons, "latent.constructs", set(cons) if isinstance(cons, dict) else set())
    constructs = {}
    for b, v in cons.items():
        g = chk.number(v, f"latent.constructs.{b}")
        if not 0 < g < 1:
            chk.fail(f"latent.constructs.{b}", f"a second-order loading lies between 0 and 1, got {g:g}")
        constructs[str(b)] = g
    dims = raw.get("dimensions") or {}
    chk.mapping(dims, "latent.dimensions", set(dims))
    dimensions = {}
    for k, v in dims.items():
        g = chk.number(v, f"latent.dimensions.{k}")
        if not 0 <= g < 1:
            chk.fail(f"latent.dimensions.{k}", f"a second-order loading lies between 0 and 1, got {g:g}")
        dimensions[str(k)] = g
    med = raw.get("mediation")
    mediation = None
    if med is not None:
        chk.mapping(med, "latent.mediation", {"x", "m", "y", "a", "b", "c_prime"},
                    required=("x", "m", "y", "a", "b", "c_prime"))
        mediation = {k: chk.text(med[k], f"latent.mediation.{k}") for k in ("x", "m", "y")}
        for k in ("x", "m", "y"):
            if mediation[k] not in constructs:
                chk.fail(f"latent.mediation.{k}", f"{mediation[k]!r} is not a construct",
                         hint="constructs: " + ", ".join(constructs))
        if len({mediation["x"], mediation["m"], mediation["y"]}) < 3:
            chk.fail("latent.mediation", "x, m and y are three different constructs")
        for k in ("a", "b", "c_prime"):
            mediation[k] = chk.number(med[k], f"latent.mediation.{k}")
        a, b, cp = mediation["a"], mediation["b"], mediation["c_prime"]
        if not -1 < a < 1:
            chk.fail("latent.mediation.a", f"a standardised path lies between -1 and 1, got {a:g}")
        resid = 1 - (b ** 2 + cp ** 2 + 2 * a * b * cp)
        if resid <= 0:
            chk.fail("latent.mediation", f"b and c_prime explain {1 - resid:.3g} of the outcome's variance (must "
                                         "be below 1): the population is not positive definite",
                     hint="lower b or c_prime")
    res = raw.get("residual_correlations") or {}
    chk.mapping(res, "latent.residual_correlations", set(res))
    residual = {}
    for pair, v in res.items():
        k = f"latent.residual_correlations.{pair}"
        parts = [p.strip() for p in str(pair).split("~")]
        if len(parts) != 2 or parts[0] == parts[1]:
            chk.fail(k, f"name two dimensions as 'BANK.DIM~BANK.DIM', got {pair!r}")
        r = chk.number(v, k)
        if not -1 < r < 1:
            chk.fail(k, f"a correlation lies between -1 and 1, got {r:g}")
        residual[tuple(parts)] = r
    return Latent(constructs, dimensions, mediation, residual, file)
