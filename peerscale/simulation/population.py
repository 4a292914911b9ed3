"""The ``population:`` block of a scoring file: the model ``peerscale simulate`` and
``peerscale plan`` draw answers from.

Light on purpose (no NumPy at import): :mod:`peerscale.spec` validates the block on load, with
the same checker as the rest of the file, so a population that is not positive definite,
thresholds out of order or a loading of 1 or more are refused with the file and key named.

Layout (every key optional but ``loadings`` and ``thresholds``)::

    population:
      source: "Planning values for the pilot, not estimates"
      model: cfa                 # cfa (loadings, correlations, thresholds) | irt (the irt: block)
      loadings:                  # standardised, in the keyed direction: 0 < loading < 1
        default: 0.70
        reverse: 0.60            # reverse-keyed items (they usually load lower)
        share: [0.72, 0.66, 0.70, 0.61, 0.58, 0.77]   # a scale: one value, or one per item
        pbr_y_trust_03: 0.55     # an item
      correlations:              # between the factors (one per dimension scale)
        default: 0.60
        valid~trust: 0.70
      thresholds:                # k - 1 increasing cut points on the N(0, 1) response scale
        default: [-2.05, -1.39, -0.69, 0.37]
        STORY3: [-0.6, 0.9]      # a response scale, or an item
      screening:                 # items other items `require`: shares of their codes
        pbr_y_story_01: {shares: [0.72, 0.18, 0.10], follows: 0.5}
      not_relevant: 0.02         # share of answers given as the response scale's missing code

Model: item ``j`` of factor ``f`` is answered ``x*_j = λ_j·η_f + √(1 − λ_j²)·ε_j`` with
``η ~ N(0, Φ)``, ``ε_j ~ N(0, 1)``, and falls in category ``c`` when ``τ_{c−1} < x*_j ≤ τ_c``
(the lowest code below ``τ_1``). Reverse-keyed items are generated in the keyed direction and
written reversed, ``(min + max) − y``, as a respondent answers them. With ``model: irt`` the
scales that have an ``irt:`` bank are drawn from it instead (graded response model,
``P(X ≥ k) = F(a·θ + d_k)`` with θ = mean + sd·η).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

POPULATION_KEYS = {"source", "model", "loadings", "correlations", "thresholds", "screening", "not_relevant"}
MODELS = ("cfa", "irt")


@dataclass(frozen=True)
class Population:
    """A validated ``population:`` block: one factor per dimension scale (``factors``), the
    keyed standardised loading and thresholds of each item, and the factor correlations."""

    factors: tuple[str, ...]
    phi: tuple[tuple[float, ...], ...]
    loadings: dict[str, float]
    factor_of: dict[str, str]
    thresholds: dict[str, tuple[float, ...]]
    screening: dict[str, tuple[tuple[float, ...], float, str | None]] = field(default_factory=dict)
    not_relevant: float = 0.0
    model: str = "cfa"
    source: str = ""

    def to_dict(self) -> dict:
        return {"model": self.model, "factors": list(self.factors), "correlations": [list(r) for r in self.phi],
                "loadings": dict(self.loadings), "thresholds": {k: list(v) for k, v in self.thresholds.items()},
                "screening": {k: {"shares": list(s), "follows": f, "factor": g}
                              for k, (s, f, g) in self.screening.items()},
                "not_relevant": self.not_relevant, "source": self.source}


def cholesky(matrix) -> list[list[float]] | None:
    """Lower Cholesky factor of a small symmetric matrix, or None if it is not positive definite."""
    n = len(matrix)
    low = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            s = matrix[i][j] - sum(low[i][k] * low[j][k] for k in range(j))
            if i == j:
                if s <= 1e-10:
                    return None
                low[i][i] = math.sqrt(s)
            else:
                low[i][j] = s / low[j][j]
    return low


def smallest_eigenvalue(matrix) -> float:
    """Smallest eigenvalue of a small symmetric matrix (Jacobi rotations; no NumPy needed)."""
    a = [list(map(float, r)) for r in matrix]
    n = len(a)
    for _ in range(100):
        off = sum(a[i][j] ** 2 for i in range(n) for j in range(n) if i != j)
        if off < 1e-22:
            break
        for p in range(n):
            for q in range(p + 1, n):
                if abs(a[p][q]) < 1e-300:
                    continue
                theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
                t = (1.0 if theta >= 0 else -1.0) / (abs(theta) + math.sqrt(theta * theta + 1))
                c = 1 / math.sqrt(t * t + 1)
                s = t * c
                for k in range(n):
                    akp, akq = a[k][p], a[k][q]
                    a[k][p], a[k][q] = c * akp - s * akq, s * akp + c * akq
                for k in range(n):
                    apk, aqk = a[p][k], a[q][k]
                    a[p][k], a[q][k] = c * apk - s * aqk, s * apk + c * aqk
    return min(a[i][i] for i in range(n)) if n else 1.0


def item_codes(rs) -> list[float]:
    """The scored codes of a response scale, lowest first (a declared range without codes
    stands for its whole numbers)."""
    if rs.codes:
        return sorted(rs.codes)
    if rs.has_range:
        return [float(v) for v in range(int(math.ceil(rs.min)), int(math.floor(rs.max)) + 1)]
    return []


def _loading(chk, value, key) -> float:
    v = chk.number(value, key)
    if v >= 1 or v <= -1:
        chk.fail(key, f"a standardised loading must lie between 0 and 1, got {v:g}",
                 hint="loadings are on the standardised scale (item variance 1): use a value such as 0.7")
    if v <= 0:
        chk.fail(key, f"give the loading in the keyed direction (above 0), got {v:g}",
                 hint="reverse-keyed items are generated keyed and written reversed; their loading is positive here")
    return v


def _cuts(chk, raw, key, n_cats: int | None) -> tuple[float, ...]:
    values = [chk.number(v, f"{key}[{m}]") for m, v in enumerate(chk.seq(raw, key))]
    if any(b <= a for a, b in zip(values, values[1:])):
        chk.fail(key, f"thresholds must increase strictly (τ1 < τ2 < ...), got {values}",
                 hint="list the cut points from the lowest category to the highest")
    if n_cats is not None and len(values) != n_cats - 1:
        chk.fail(key, f"{n_cats} response categories need {n_cats - 1} thresholds, got {len(values)}")
    return tuple(values)


def parse_population_block(chk, raw, items: dict, scales: list, irt: dict | None = None) -> Population | None:
    """Validate ``population:`` (``chk`` is spec's checker: fail/mapping/number/text/seq)."""
    if raw is None:
        return None
    chk.mapping(raw, "population", POPULATION_KEYS, required=("loadings", "thresholds"))
    model = str(raw.get("model", "cfa")).lower()
    if model not in MODELS:
        chk.fail("population.model", f"model must be cfa or irt, got {raw.get('model')!r}")
    if model == "irt" and not irt:
        chk.fail("population.model", "model: irt draws from the irt: block, and this file has none",
                 hint="add an irt: block, or use model: cfa")
    dims = [s for s in scales if not s.composite]
    factor_of: dict[str, str] = {}
    for s in dims:
        for i in s.items:
            if i in factor_of:
                chk.fail("population", f"item {i!r} is in two dimension scales ({factor_of[i]!r}, {s.name!r}); "
                                       "the population model gives each item one factor")
            factor_of[i] = s.name
    factors = tuple(s.name for s in dims)
    by_scale = {s.name: s for s in dims}

    # loadings
    loadings: dict[str, float] = {}
    lraw = raw["loadings"]
    if not isinstance(lraw, dict):
        lraw = {"default": lraw}
    chk.mapping(lraw, "population.loadings", {"default", "reverse"} | set(by_scale) | set(factor_of))
    default = _loading(chk, lraw["default"], "population.loadings.default") if "default" in lraw else None
    reverse = _loading(chk, lraw["reverse"], "population.loadings.reverse") if "reverse" in lraw else None
    for name, value in lraw.items():
        if name in by_scale:
            ids = by_scale[name].items
            if isinstance(value, list):
                if len(value) != len(ids):
                    chk.fail(f"population.loadings.{name}", f"scale {name!r} has {len(ids)} items; "
                                                            f"give one loading or {len(ids)}, got {len(value)}")
                for m, (i, v) in enumerate(zip(ids, value)):
                    loadings[i] = _loading(chk, v, f"population.loadings.{name}[{m}]")
            else:
                v = _loading(chk, value, f"population.loadings.{name}")
                for i in ids:
                    loadings.setdefault(i, v)
    for name, value in lraw.items():
        if name in factor_of:
            loadings[name] = _loading(chk, value, f"population.loadings.{name}")
    for i in factor_of:
        if i not in loadings:
            v = reverse if items[i].reverse and reverse is not None else default
            if v is None:
                chk.fail("population.loadings", f"no loading for item {i!r}", hint="give a default")
            loadings[i] = v

    # correlations
    craw = raw.get("correlations", 0.0)
    if not isinstance(craw, dict):
        craw = {"default": craw}
    chk.mapping(craw, "population.correlations", set(craw))
    f = len(factors)
    base = craw.get("default", 0.0)
    base = chk.number(base, "population.correlations.default")
    phi = [[1.0 if a == b else base for b in range(f)] for a in range(f)]
    index = {n: k for k, n in enumerate(factors)}
    for pair, value in craw.items():
        if pair == "default":
            continue
        k = f"population.correlations.{pair}"
        names = [p.strip() for p in str(pair).split("~")]
        if len(names) != 2 or any(n not in index for n in names) or names[0] == names[1]:
            chk.fail(k, f"name a pair of dimension scales as 'a~b', got {pair!r}", hint="scales: " + ", ".join(factors))
        a, b = index[names[0]], index[names[1]]
        phi[a][b] = phi[b][a] = chk.number(value, k)
    for a in range(f):
        for b in range(a + 1, f):
            if not -1 < phi[a][b] < 1:
                chk.fail("population.correlations", f"the correlation of {factors[a]!r} and {factors[b]!r} "
                                                    f"must lie between -1 and 1, got {phi[a][b]:g}")
    if f and cholesky(phi) is None:
        chk.fail("population.correlations", "the factor correlation matrix is not positive definite "
                                            f"(smallest eigenvalue {smallest_eigenvalue(phi):.3g})",
                 hint="lower the largest correlations, or make them consistent (r_ab and r_ac high force r_bc high)")

    # thresholds
    traw = raw["thresholds"]
    if not isinstance(traw, dict):
        traw = {"default": traw}
    rscales = {it.response_scale.name for it in items.values()}
    chk.mapping(traw, "population.thresholds", {"default"} | rscales | set(items))
    thresholds: dict[str, tuple[float, ...]] = {}
    screening_ids = {it.requires.item for it in items.values() if it.requires}
    for iid, it in items.items():
        if iid not in factor_of:
            continue
        k_cats = len(item_codes(it.response_scale))
        if iid in traw:
            key, value = f"population.thresholds.{iid}", traw[iid]
        elif it.response_scale.name in traw:
            key, value = f"population.thresholds.{it.response_scale.name}", traw[it.response_scale.name]
        elif "default" in traw:
            key, value = "population.thresholds.default", traw["default"]
        else:
            chk.fail("population.thresholds", f"no thresholds for item {iid!r} (response scale "
                                              f"{it.response_scale.name!r})", hint="give a default")
        thresholds[iid] = _cuts(chk, value, key, k_cats)

    # screening questions
    sraw = raw.get("screening") or {}
    chk.mapping(sraw, "population.screening", set(items))
    screening = {}
    for iid in screening_ids:
        spec = sraw.get(iid)
        codes = item_codes(items[iid].response_scale)
        gated = next((factor_of.get(j) for j, it in items.items() if it.requires and it.requires.item == iid), None)
        if spec is None:
            screening[iid] = (tuple(1 / len(codes) for _ in codes), 0.0, gated)
            continue
        k = f"population.screening.{iid}"
        if isinstance(spec, list):
            spec = {"shares": spec}
        chk.mapping(spec, k, {"shares", "follows"}, required=("shares",))
        shares = [chk.number(v, f"{k}.shares") for v in chk.seq(spec["shares"], f"{k}.shares")]
        if len(shares) != len(codes) or any(s < 0 for s in shares) or abs(sum(shares) - 1) > 1e-6:
            chk.fail(f"{k}.shares", f"give {len(codes)} shares (one per code, lowest code first) that sum to 1, "
                                    f"got {shares}")
        follows = chk.number(spec.get("follows", 0.0), f"{k}.follows")
        if not 0 <= follows < 1:
            chk.fail(f"{k}.follows", f"follows (how far answers follow the gated dimension) lies in [0, 1), got {follows:g}")
        screening[iid] = (tuple(shares), follows, gated)
    for iid in sraw:
        if iid not in screening_ids:
            chk.fail(f"population.screening.{iid}", f"item {iid!r} is not a screening question (no item requires it)")
    unmodelled = [i for i in items if i not in factor_of and i not in screening_ids]
    if unmodelled:
        chk.fail("population", f"item {unmodelled[0]!r} is in no dimension scale, so the population model cannot "
                               "generate it")
    nr = chk.number(raw.get("not_relevant", 0.0), "population.not_relevant")
    if not 0 <= nr < 0.5:
        chk.fail("population.not_relevant", f"not_relevant is a share of answers in [0, 0.5), got {nr:g}")
    source = chk.text(raw.get("source", ""), "population.source", allow_empty=True)
    return Population(factors, tuple(tuple(r) for r in phi), loadings, factor_of, thresholds, screening, nr, model,
                      source)
