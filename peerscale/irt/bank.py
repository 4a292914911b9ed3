"""A frozen item bank: the ``irt:`` block of a scoring file.

Light on purpose (no NumPy at import): :mod:`peerscale.spec` validates the block on load with
:func:`parse_irt_block`. Layout, one entry per scale::

    irt:
      share:
        model: graded            # graded | 2pl | rasch
        link: logistic           # logistic | probit
        parameterization: slope-intercept   # P(X >= k) = F(a * theta + d_k)
        latent: {mean: 0, sd: 1}            # prior of the calibration sample's metric
        scoring: {method: EAP, points: 121, range: [-6, 6]}
        calibration: {n: 2000, date: "2026-05-01", sample: "...", software: "peerscale 0.1.0"}
        items:
          - {id: PBR01, a: 1.42, d: [3.1, 1.2, -0.4, -2.2], codes: [1, 2, 3, 4, 5]}
          - {id: PBR07, a: 0.95, d: [2.0, 0.1, -1.7], codes: [5, 4, [3, 2], 1]}

``codes`` lists the response codes of each category from the lowest to the highest trait
level, so a reverse-keyed item lists them high to low, and a merged (collapsed) category is a
list of codes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

MODELS = ("graded", "2pl", "rasch")
LINKS = ("logistic", "probit")
METHODS = ("EAP", "MAP", "ML", "EAPsum")
BANK_KEYS = {"model", "link", "parameterization", "latent", "scoring", "calibration", "items"}
ITEM_KEYS = {"id", "a", "d", "codes", "b"}


@dataclass(frozen=True)
class BankItem:
    id: str
    a: float
    d: tuple[float, ...]
    categories: tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class IRTBank:
    scale: str
    model: str
    link: str
    items: tuple[BankItem, ...]
    mean: float = 0.0
    sd: float = 1.0
    method: str = "EAP"
    points: int = 121
    range: tuple[float, float] = (-6.0, 6.0)
    calibration: dict = field(default_factory=dict)

    @property
    def item_ids(self) -> list[str]:
        return [i.id for i in self.items]

    def arrays(self):
        """(a, d padded with -inf, n_cat) as NumPy arrays."""
        import numpy as np

        n_cat = np.array([len(i.categories) for i in self.items])
        d = np.full((len(self.items), int(n_cat.max()) - 1), -np.inf)
        for j, it in enumerate(self.items):
            d[j, :len(it.d)] = it.d
        return np.array([i.a for i in self.items], dtype=float), d, n_cat

    def to_dict(self) -> dict:
        def code(c):
            return int(c) if float(c).is_integer() else float(c)

        items = []
        for it in self.items:
            codes = [code(g[0]) if len(g) == 1 else [code(c) for c in g] for g in it.categories]
            items.append({"id": it.id, "a": round(it.a, 6), "d": [round(x, 6) for x in it.d], "codes": codes})
        return {"model": self.model, "link": self.link, "parameterization": "slope-intercept",
                "latent": {"mean": self.mean, "sd": self.sd},
                "scoring": {"method": self.method, "points": self.points, "range": list(self.range)},
                "calibration": dict(self.calibration), "items": items}


def _finite(chk, value, key) -> float:
    v = chk.number(value, key)
    if not math.isfinite(v):
        chk.fail(key, f"expected a finite number, got {value!r}")
    return v


def parse_irt_block(chk, raw, items: dict, scales: list) -> dict[str, IRTBank]:
    """Validate ``irt:`` (``chk`` is spec's checker: fail/mapping/number/text/seq)."""
    if raw is None:
        return {}
    by_name = {s.name: s for s in scales}
    chk.mapping(raw, "irt", allowed=set(by_name), required=())
    out = {}
    for sname, spec in raw.items():
        k = f"irt.{sname}"
        scale = by_name[sname]
        chk.mapping(spec, k, BANK_KEYS, required=("model", "items"))
        model = str(spec["model"]).lower()
        if model not in MODELS:
            chk.fail(f"{k}.model", f"model must be one of {', '.join(MODELS)}, got {spec['model']!r}")
        link = str(spec.get("link", "logistic")).lower()
        if link not in LINKS:
            chk.fail(f"{k}.link", f"link must be 'logistic' or 'probit', got {spec.get('link')!r}")
        par = spec.get("parameterization", "slope-intercept")
        if par != "slope-intercept":
            chk.fail(f"{k}.parameterization", "parameters are stored in slope-intercept form (a, d); "
                                              f"got {par!r}", hint="convert IRT thresholds with d_k = -a * b_k")
        latent = spec.get("latent") or {}
        chk.mapping(latent, f"{k}.latent", {"mean", "sd"})
        mean = _finite(chk, latent.get("mean", 0.0), f"{k}.latent.mean")
        sd = _finite(chk, latent.get("sd", 1.0), f"{k}.latent.sd")
        if sd <= 0:
            chk.fail(f"{k}.latent.sd", f"the latent SD must be above 0, got {sd:g}")
        scoring = spec.get("scoring") or {}
        chk.mapping(scoring, f"{k}.scoring", {"method", "points", "range"})
        method = str(scoring.get("method", "EAP"))
        if method not in METHODS:
            chk.fail(f"{k}.scoring.method", f"method must be one of {', '.join(METHODS)}, got {method!r}")
        points = scoring.get("points", 121)
        if isinstance(points, bool) or not isinstance(points, int) or points < 5:
            chk.fail(f"{k}.scoring.points", f"points must be a whole number of at least 5, got {points!r}")
        rng = chk.seq(scoring.get("range", [-6, 6]), f"{k}.scoring.range")
        if len(rng) != 2:
            chk.fail(f"{k}.scoring.range", "range is [low, high]")
        lo, hi = (_finite(chk, v, f"{k}.scoring.range") for v in rng)
        if lo >= hi:
            chk.fail(f"{k}.scoring.range", "range low must be below high")
        calibration = spec.get("calibration") or {}
        chk.mapping(calibration, f"{k}.calibration", allowed=set(calibration) if isinstance(calibration, dict) else set())
        bank_items = []
        seen = set()
        for n, it in enumerate(chk.seq(spec["items"], f"{k}.items")):
            ik = f"{k}.items[{n}]"
            chk.mapping(it, ik, ITEM_KEYS, required=("id", "a", "d", "codes"))
            iid = chk.text(it["id"], f"{ik}.id")
            if iid not in items:
                chk.fail(f"{ik}.id", f"bank item {iid!r} is not in the item bank")
            if iid not in scale.items:
                chk.fail(f"{ik}.id", f"bank item {iid!r} is not an item of scale {sname!r}",
                         hint="scale items: " + ", ".join(scale.items))
            if iid in seen:
                chk.fail(f"{ik}.id", f"item {iid!r} is listed twice")
            seen.add(iid)
            a = _finite(chk, it["a"], f"{ik}.a")
            if a <= 0:
                chk.fail(f"{ik}.a", f"slope must be positive (list a reverse-keyed item's codes high to low), got {a:g}")
            if model == "rasch" and abs(a - 1.0) > 1e-9:
                chk.fail(f"{ik}.a", f"a Rasch bank has every slope 1 (the spread is the latent SD), got {a:g}")
            d = [_finite(chk, v, f"{ik}.d[{m}]") for m, v in enumerate(chk.seq(it["d"], f"{ik}.d"))]
            if any(y >= x for x, y in zip(d, d[1:])):
                chk.fail(f"{ik}.d", "intercepts d_1 > d_2 > ... must decrease strictly (P(X >= k) falls with k)")
            cats = []
            allowed = items[iid].response_scale
            used = set()
            for m, g in enumerate(chk.seq(it["codes"], f"{ik}.codes")):
                group = g if isinstance(g, list) else [g]
                if not group:
                    chk.fail(f"{ik}.codes[{m}]", "an empty category")
                vals = []
                for c in group:
                    v = _finite(chk, c, f"{ik}.codes[{m}]")
                    if allowed.codes and v not in allowed.codes:
                        chk.fail(f"{ik}.codes[{m}]", f"code {c!r} is not a code of response scale {allowed.name!r}")
                    if allowed.has_range and not allowed.min <= v <= allowed.max:
                        chk.fail(f"{ik}.codes[{m}]", f"code {c!r} is outside the range of response scale {allowed.name!r}")
                    if v in used:
                        chk.fail(f"{ik}.codes[{m}]", f"code {c!r} appears twice")
                    used.add(v)
                    vals.append(v)
                cats.append(tuple(vals))
            if len(cats) < 2:
                chk.fail(f"{ik}.codes", "an item needs at least two categories")
            if len(d) != len(cats) - 1:
                chk.fail(f"{ik}.d", f"{len(cats)} categories need {len(cats) - 1} intercepts, got {len(d)}")
            if model == "2pl" and len(cats) != 2:
                chk.fail(f"{ik}.codes", "a 2PL item has exactly two categories")
            bank_items.append(BankItem(iid, a, tuple(d), tuple(cats)))
        if not bank_items:
            chk.fail(f"{k}.items", "the bank lists no items")
        out[sname] = IRTBank(sname, model, link, tuple(bank_items), mean, sd, method, int(points), (lo, hi),
                             dict(calibration))
    return out
