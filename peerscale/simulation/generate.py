"""Draw ordinal answers from an instrument's population model, with a study design around them.

:func:`simulate` is the entry point (``peerscale.simulate``); :func:`simulate_study` also
returns the worker (dyad) file and the true values. The latent model, per respondent and wave:

* factors ``η ~ N(0, Φ)``, one per (bank, dimension): from each instrument's ``population:``
  block, or, in a model file's ``latent:`` block, a second-order model with the theory of change
  (``x → m → y``) among the banks' constructs (see :mod:`peerscale.simulation.model`);
* workers: ``η = √ICC·w + √(1 − ICC)·t`` with one standardised effect ``w`` per worker (so the
  worker's share of the latent variance is the ICC), caseloads uneven (Gamma(4) weights, at least
  ``min_caseload`` each);
* waves: ``t_w = s·t_{w−1} + √(1 − s²)·t'`` (``s`` = stability) plus ``gain·(w − 1)``; each later
  wave is present with probability ``follow_up``;
* dyads: the worker's view of the same relationship, ``η_P = √L·l + √(1 − L)·(ρ·η_Y + √(1 − ρ²)·t'')
  + shift`` (ρ = agreement, L = the worker's leniency share, ``l`` one effect per worker);
* answers: ``x* = λ·η + √(1 − λ²)·ε`` cut at the thresholds (or the GRM of an ``irt:`` bank),
  reverse-keyed items written reversed, screening questions and the items behind them as
  REDCap's branching logic leaves them;
* missing answers: blank with a per-respondent propensity (a constant rate, or Beta(a, b)),
  a whole page (one dimension's items) skipped, forms never opened, the response scale's own
  "not relevant" code (at the requested rate on average: 1.6 times it when the latent score is
  below 0, 0.4 times it above).

Everything is drawn from one ``numpy.random.default_rng(seed)`` in a fixed order, so a seed
gives byte-identical files on every run and machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import PeerscaleError
from .population import item_codes
from .study import Design, with_population

DEFAULT_EVENTS = ("baseline_arm_1", "followup_arm_1")


@dataclass
class Study:
    """What :func:`simulate_study` returns: the main file, the worker (dyad) file, and the truth."""

    data: pd.DataFrame
    dyads: pd.DataFrame | None
    truth: dict
    latent: pd.DataFrame | None = None   # the latent scores behind each row of ``data`` (factors as columns)
    notes: list = field(default_factory=list)  # e.g. fewer respondents than items (no factor analysis)


def _small_n_notes(n: int, forms) -> list[str]:
    """Notes for forms with more items than respondents: such data cannot support a factor analysis
    (the items' correlation matrix is singular); the data are still simulated."""
    return [f"n = {n} is smaller than the {len(f.items)} items of {f.name}: data of fewer respondents than "
            "items cannot support a factor analysis (the item correlation matrix is singular)"
            for f in forms if n < len(f.items)]


def _by_bank(values: dict, bank: str, default: float = 0.0) -> float:
    return float(values.get(bank, values.get("*", default)))


@dataclass
class _Item:
    id: str
    kind: str               # "cfa" | "irt" | "screen"
    factor: int = -1
    loading: float = 0.0
    cuts: np.ndarray | None = None
    codes: np.ndarray | None = None
    reverse: bool = False
    rs: object = None
    missing_code: float | None = None
    a: float = 1.0
    d: np.ndarray | None = None
    cat_codes: np.ndarray | None = None
    logistic: bool = True
    mean: float = 0.0
    sd: float = 1.0
    shares: tuple = ()
    follows: float = 0.0
    page: str | None = None


def factor_key(inst, scale) -> tuple[str, str]:
    """(bank, dimension) of a dimension scale: forms of one bank share their factors."""
    dim = inst.items[scale.items[0]].dimension or scale.name
    return (inst.bank or inst.name, str(dim).upper())


def _population(inst):
    if inst.population is None:
        raise PeerscaleError(f"instrument {inst.name!r} has no population: block to simulate from",
                             file=inst.path, hint="add a population: block to its scoring file (see "
                                                  "peerscale/simulation/population.py), or give a model file (--model)")
    return inst.population


def _form_items(inst, factor_index: dict, design: Design) -> list[_Item]:
    pop = _population(inst)
    key_of = {s.name: factor_key(inst, s) for s in inst.scales if not s.composite}
    irt_of = {}
    if design.irt or pop.model == "irt":
        if not inst.irt:
            raise PeerscaleError(f"instrument {inst.name!r} has no irt: block to simulate from", file=inst.path,
                                 hint="simulate from the CFA form (leave out `irt`)")
        for sname, bank in inst.irt.items():
            for it in bank.items:
                irt_of[it.id] = (bank, it)
    out = []
    for iid, item in inst.items.items():
        rs = item.response_scale
        nums = [float(c) for c in rs.missing if isinstance(c, (int, float)) and not isinstance(c, bool)]
        if iid in pop.screening:
            shares, follows, gated = pop.screening[iid]
            out.append(_Item(iid, "screen", factor=factor_index[key_of[gated]] if gated else -1,
                             codes=np.array(item_codes(rs)), shares=shares, follows=follows, rs=rs))
            continue
        sname = pop.factor_of[iid]
        f = factor_index[key_of[sname]]
        if iid in irt_of:
            bank, bi = irt_of[iid]
            out.append(_Item(iid, "irt", factor=f, a=bi.a, d=np.array(bi.d), rs=rs,
                             cat_codes=np.array([g[0] for g in bi.categories]), logistic=bank.link == "logistic",
                             mean=bank.mean, sd=bank.sd, missing_code=nums[0] if nums else None, page=sname))
            continue
        out.append(_Item(iid, "cfa", factor=f, loading=pop.loadings[iid], cuts=np.array(pop.thresholds[iid]),
                         codes=np.array(item_codes(rs)), reverse=item.reverse, rs=rs,
                         missing_code=nums[0] if nums else None, page=sname))
    return out


def latent_structure(forms: list, latent=None) -> tuple[list[tuple[str, str]], np.ndarray]:
    """The factors of ``forms`` (bank, dimension) and their correlation matrix: from ``latent``
    (a model file's second-order structure) or block-diagonal from the population blocks."""
    factors: list[tuple[str, str]] = []
    for inst in forms:
        pop = _population(inst)
        for s in inst.scales:
            if not s.composite and s.name in pop.factors:
                k = factor_key(inst, s)
                if k not in factors:
                    factors.append(k)
    if latent is not None:
        return factors, latent.correlations(factors)
    phi = np.eye(len(factors))
    index = {k: n for n, k in enumerate(factors)}
    done = set()
    for inst in forms:
        pop = inst.population
        keys = {s.name: factor_key(inst, s) for s in inst.scales if not s.composite}
        for a, fa in enumerate(pop.factors):
            for b, fb in enumerate(pop.factors):
                ka, kb = keys[fa], keys[fb]
                if a != b and (ka, kb) not in done:
                    phi[index[ka], index[kb]] = pop.phi[a][b]
        done |= {(keys[fa], keys[fb]) for fa in pop.factors for fb in pop.factors}
    if np.linalg.eigvalsh(phi)[0] <= 1e-10:
        raise PeerscaleError("the factor correlations of the forms together are not positive definite",
                             hint="give the forms' shared dimensions the same correlations, or a latent: block")
    return factors, phi


def _answers(items: list[_Item], eta: np.ndarray, rng, design: Design, not_relevant: float) -> np.ndarray:
    """Answers (codes, NaN blank) to ``items`` given latent scores ``eta`` (n × factors)."""
    from scipy.stats import norm

    n = eta.shape[0]
    out = np.full((n, len(items)), np.nan)
    for j, it in enumerate(items):
        if it.kind == "screen":
            shares = np.asarray(it.shares, dtype=float)
            score = eta[:, it.factor] if it.factor >= 0 else np.zeros(n)
            z = it.follows * score + np.sqrt(1 - it.follows ** 2) * rng.standard_normal(n)
            cuts = norm.ppf(1 - np.cumsum(shares)[:-1])  # descending: above the first cut -> first code
            out[:, j] = it.codes[np.searchsorted(-cuts, -z)]
            continue
        score = eta[:, it.factor]
        if it.kind == "irt":
            theta = it.mean + it.sd * score
            lin = it.a * theta[:, None] + it.d[None, :]
            p = 1 / (1 + np.exp(-lin)) if it.logistic else norm.cdf(lin)
            u = rng.random(n)
            out[:, j] = it.cat_codes[(u[:, None] < p).sum(axis=1)]
        else:
            xstar = it.loading * score + np.sqrt(1 - it.loading ** 2) * rng.standard_normal(n)
            keyed = it.codes[np.searchsorted(it.cuts, xstar)]
            out[:, j] = it.rs.reverse(keyed) if it.reverse else keyed
        if it.missing_code is not None and not_relevant > 0:
            p = np.where(score < 0, 1.6 * not_relevant, 0.4 * not_relevant)  # mean: the rate; 4 times as often below 0
            out[rng.random(n) < p, j] = it.missing_code
    return out


def _messiness(inst, items: list[_Item], out: np.ndarray, rng, design: Design) -> np.ndarray:
    """Blanks, skipped pages, branching logic, forms never opened; returns the `_complete` codes."""
    n = out.shape[0]
    if isinstance(design.mcar, tuple):
        propensity = rng.beta(*design.mcar, size=n)
    else:
        propensity = np.full(n, float(design.mcar))
    if propensity.any():
        out[rng.random(out.shape) < propensity[:, None]] = np.nan
    position = {it.id: j for j, it in enumerate(items)}
    for j, it in enumerate(items):
        req = inst.items[it.id].requires
        if req is not None:  # branching logic: not asked unless the screen allowed it
            shown = np.isin(out[:, position[req.item]], [float(a) for a in req.answers])
            out[~shown, j] = np.nan
    complete = np.where(rng.random(n) < design.unverified, 1.0, 2.0)
    pages = sorted({it.page for it in items if it.page})
    skipped = rng.random(n) < design.page_skip
    for r in np.flatnonzero(skipped):
        page = pages[rng.integers(len(pages))]
        out[r, [j for j, it in enumerate(items) if it.page == page]] = np.nan
    complete[skipped | (np.isnan(out).mean(axis=1) > 0.2)] = 0.0
    never = rng.random(n) < design.not_opened
    out[never] = np.nan
    complete[never] = np.nan
    return complete


def _caseloads(rng, n: int, k: int, minimum: int) -> np.ndarray:
    """Worker index of each respondent: uneven caseloads (Gamma(4) weights), at least ``minimum``."""
    if k * minimum > n:
        raise PeerscaleError(f"{k} workers with at least {minimum} young people each need n >= {k * minimum}, got {n}",
                             hint="lower the number of workers")
    weights = rng.gamma(4.0, size=k)
    extra = rng.multinomial(n - minimum * k, weights / weights.sum())
    return rng.permutation(np.repeat(np.arange(k), extra + minimum))


def _standardised(x: np.ndarray) -> np.ndarray:
    """Mean 0, SD 1: with few workers, keeps the realised worker variance at its target."""
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else x - x.mean()


def _ids(prefix: str, n: int) -> list[str]:
    width = max(3, len(str(n)))
    return [f"{prefix}{i + 1:0{width}d}" for i in range(n)]


def check_seed(seed, name: str = "seed"):
    """``seed`` as ``numpy.random.default_rng`` takes it: None, a whole number >= 0 (or a Generator)."""
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise PeerscaleError(f"`{name}` must be a whole number of 0 or more, got {seed!r}",
                             hint="use the same whole number again to get the same data")
    return int(seed)


def _check_design(d: Design) -> None:
    def number(name, v):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not np.isfinite(v):
            raise PeerscaleError(f"`{name}` must be a finite number, got {v!r}")
        return v

    def share(name, v, upper_open=False):
        number(name, v)
        if not 0 <= v <= 1 or (upper_open and v >= 1):
            raise PeerscaleError(f"`{name}` is a proportion between 0 and 1, got {v!r}")

    def whole(name, v, low):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
            raise PeerscaleError(f"`{name}` must be a whole number of at least {low}, got {v!r}")

    if isinstance(d.n, bool) or not isinstance(d.n, (int, np.integer)) or d.n < 1:
        raise PeerscaleError(f"`n` must be a whole number of at least 1, got {d.n!r}")
    if not d.forms:
        raise PeerscaleError("name at least one instrument to simulate", hint="give `instrument` or a model file")
    whole("waves", d.waves, 1)
    whole("workers", d.workers, 0)
    for name in ("follow_up", "returned", "page_skip", "not_opened", "unverified"):
        share(name, getattr(d, name))
    number("stability", d.stability)
    if not -1 < d.stability < 1:
        raise PeerscaleError(f"`stability` is a correlation between -1 and 1 (exclusive), got {d.stability!r}")
    for name, values in (("change", d.gain), ("shift", d.shift)):
        for v in values.values():
            number(name, v)
    share("leniency", d.leniency, upper_open=True)
    for name in ("icc", "agreement"):
        for bank, v in getattr(d, name).items():
            share(name, v, upper_open=True)
    if isinstance(d.mcar, tuple):
        if len(d.mcar) != 2 or min(d.mcar) <= 0:
            raise PeerscaleError(f"`mcar` as a Beta propensity is two positive numbers (a, b), got {d.mcar!r}")
    else:
        share("mcar", d.mcar, upper_open=True)
    if d.not_relevant is not None:
        number("not_relevant", d.not_relevant)
    if d.not_relevant is not None and not 0 <= d.not_relevant < 0.5:
        raise PeerscaleError(f"`not_relevant` is a share in [0, 0.5), got {d.not_relevant!r}")
    if d.workers < 0:
        raise PeerscaleError(f"`workers` must be 0 or more, got {d.workers!r}")
    if d.icc and not d.workers and any(v > 0 for v in d.icc.values()):
        raise PeerscaleError("an ICC needs workers to cluster in", hint="give `workers` (the number of workers)")
    if d.dyad_forms and not d.workers:
        raise PeerscaleError("dyad forms (the worker's view) need workers", hint="give `workers`")
    if d.events is not None and len(d.events) < d.waves:
        raise PeerscaleError(f"{d.waves} waves need {d.waves} event names, got {len(d.events)}")


def simulate_study(design: Design, seed: int | None = None) -> Study:
    """Simulate the main file and (with ``dyad_forms``) the worker file of ``design``."""
    from ..spec import load_instrument

    _check_design(design)
    rng = np.random.default_rng(check_seed(seed))
    forms = [with_population(load_instrument(f), design) for f in design.forms]
    dyad_forms = [with_population(load_instrument(f), design) for f in design.dyad_forms]
    names = [f.name for f in forms + dyad_forms]
    if len(set(names)) != len(names):
        raise PeerscaleError("an instrument is named twice", hint="each form once")
    factors, phi = latent_structure(forms + dyad_forms, design.latent)
    index = {k: n for n, k in enumerate(factors)}
    banks = [b for b, _ in factors]
    icc = np.array([_by_bank(design.icc, b) for b in banks]) if design.workers else np.zeros(len(factors))
    gain = np.array([_by_bank(design.gain, b) for b in banks])
    chol = np.linalg.cholesky(phi)
    n = int(design.n)

    def draw(m):
        return rng.standard_normal((m, len(factors))) @ chol.T

    worker_of = _caseloads(rng, n, design.workers, design.min_caseload) if design.workers else None
    worker_effect = (_standardised(rng.standard_normal(design.workers))[worker_of][:, None]
                     if design.workers else np.zeros((n, 1)))
    trait = draw(n)
    etas = [np.sqrt(icc) * worker_effect + np.sqrt(1 - icc) * trait]
    present = [np.ones(n, bool)]
    s = design.stability
    for w in range(1, design.waves):
        trait = s * trait + np.sqrt(1 - s ** 2) * draw(n)
        etas.append(np.sqrt(icc) * worker_effect + np.sqrt(1 - icc) * trait + gain * w)
        present.append(rng.random(n) < design.follow_up)

    record = _ids(design.record_prefix, n)
    dyad = _ids(design.dyad_prefix, n)
    wid = ([f"{design.worker_prefix}{w + 1:0{max(2, len(str(design.workers)))}d}" for w in worker_of]
           if design.workers else None)
    events = design.events or (list(DEFAULT_EVENTS[:design.waves]) if design.redcap and design.waves <= 2
                               else [f"wave_{w + 1}_arm_1" if design.redcap else w + 1 for w in range(design.waves)])
    event_column = design.event_column or ("redcap_event_name" if design.redcap else "wave")
    rows = sorted((i, w) for w in range(design.waves) for i in np.flatnonzero(present[w]))
    eta = np.vstack([etas[w][i] for i, w in rows]) if rows else np.zeros((0, len(factors)))
    ids = {design.record_column: [record[i] for i, _ in rows]}
    if design.waves > 1 or design.redcap:
        ids[event_column] = [events[w] for _, w in rows]
    if dyad_forms:
        ids[design.dyad_column] = [dyad[i] for i, _ in rows]
    if wid is not None:
        ids[design.worker_column] = [wid[i] for i, _ in rows]
    frame = _frame(ids, forms, eta, index, rng, design)

    dyad_frame = None
    if dyad_forms:
        base = etas[0]
        leniency = _standardised(rng.standard_normal(design.workers))[worker_of][:, None]
        agreement = np.array([_by_bank(design.agreement, b) for b in banks])
        shift = np.array([_by_bank(design.shift, b) for b in banks])
        own = agreement * base + np.sqrt(1 - agreement ** 2) * draw(n)
        lam = design.leniency
        eta_w = np.sqrt(lam) * leniency + np.sqrt(1 - lam) * own + shift
        returned = np.flatnonzero(rng.random(n) < design.returned)
        ids_w = {design.record_column: [record[i] for i in returned]}
        if design.waves > 1 or design.redcap:
            ids_w[event_column] = [events[0]] * len(returned)
        ids_w[design.dyad_column] = [dyad[i] for i in returned]
        ids_w[design.worker_column] = [wid[i] for i in returned]
        dyad_frame = _frame(ids_w, dyad_forms, eta_w[returned], index, rng, design)
    truth = {"factors": [f"{b}.{d}" for b, d in factors], "correlations": phi.round(6).tolist(),
             "loadings": {it: float(v) for inst in forms + dyad_forms for it, v in inst.population.loadings.items()},
             "icc": dict(zip([f"{b}.{d}" for b, d in factors], icc.tolist()))}
    if design.latent is not None:
        truth["mediation"] = design.latent.effects()
    latent = pd.DataFrame(eta, columns=truth["factors"])
    return Study(frame, dyad_frame, truth, latent, _small_n_notes(n, forms + dyad_forms))


def _frame(ids: dict, forms: list, eta: np.ndarray, index: dict, rng, design: Design) -> pd.DataFrame:
    cols = {k: pd.array(v, dtype="string") if v and isinstance(v[0], str) else v for k, v in ids.items()}
    blocks = [pd.DataFrame(cols)]
    for inst in forms:
        items = _form_items(inst, index, design)
        rate = design.not_relevant if design.not_relevant is not None else inst.population.not_relevant
        out = _answers(items, eta, rng, design, rate)
        complete = _messiness(inst, items, out, rng, design)
        block = pd.DataFrame(out, columns=[it.id for it in items])
        if design.redcap:
            block[f"{inst.name.replace('-', '_')}_complete"] = complete
        blocks.append(block)
    frame = pd.concat(blocks, axis=1)
    return frame


def simulate(instrument=None, n: int | None = None, seed: int | None = None, *, model=None, mcar: float = 0.0,
             page_skip: float = 0.0, not_relevant: float | None = None, workers: int = 0, icc: float = 0.0,
             waves: int = 1, change: float = 0.0, stability: float = 0.6, follow_up: float = 1.0,
             redcap: bool = False, irt: bool = False) -> pd.DataFrame:
    """Simulate answers to an instrument from its population model.

    Parameters
    ----------
    instrument : str, Instrument or list of them
        Bundled name (``"pbr-y"``) or scoring file; its ``population:`` block is the model.
    n : int
        Respondents (young people); with ``model``, default the model file's ``n``.
    seed : int
        Seed of ``numpy.random.default_rng``: the same seed gives the same data.
    model : str or Path, optional
        A model file (see :mod:`peerscale.simulation.model`): the forms, the design, the latent
        structure with the mediation paths and the messiness; the options below then override it
        only where given.
    mcar : float
        Share of answers left blank completely at random.
    page_skip : float
        Share of forms with one dimension's page of items skipped.
    not_relevant : float, optional
        Share of answers given as the response scale's "not relevant" code (e.g. 9), where it has one.
    workers, icc : int, float
        Number of workers the respondents are nested in, and the share of latent variance due to them.
    waves, change, stability, follow_up : int, float, float, float
        Measurement waves, the latent gain per wave (SD units), the correlation of a person's
        latent scores between waves, and the share present at each later wave.
    redcap : bool
        REDCap layout: ``redcap_event_name`` (``baseline_arm_1``, ...) and ``<form>_complete``.
    irt : bool
        Draw the scales that have an ``irt:`` bank from the graded response model.

    Returns
    -------
    pandas.DataFrame
        One row per respondent and wave: the id columns, then every item of the instrument(s)
        as the respondent answered it (reverse-keyed items reversed), NaN for blank. With ``n``
        below an instrument's number of items a :class:`~peerscale.errors.PeerscaleWarning` says such
        data cannot support a factor analysis (kept in ``attrs["notes"]``); the data are still made.

    Notes
    -----
    ``x*_j = λ_j·η_f + √(1 − λ_j²)·ε_j``, answer = the category whose thresholds bracket ``x*``
    (see :mod:`peerscale.simulation.population` and :mod:`peerscale.simulation.generate`).
    The R analogue is ``lavaan::simulateData`` with ``ordered`` thresholds (which has no design).

    Examples
    --------
    >>> import peerscale
    >>> df = peerscale.simulate("pbr-y", n=200, seed=1)
    >>> df.shape
    (200, 57)
    >>> # lavaan: simulateData(model, sample.nobs = 200, seed = 1)
    """
    if model is not None:
        from .model import load_model

        design = load_model(model)
        design = _override(design, n=n, mcar=mcar or None, page_skip=page_skip or None, not_relevant=not_relevant,
                           workers=workers or None, icc=icc or None, waves=None if waves == 1 else waves,
                           change=change or None, redcap=redcap or None, irt=irt or None)
        if instrument is not None:
            design.forms = list(instrument) if isinstance(instrument, (list, tuple)) else [instrument]
        return _noted(simulate_study(design, seed))
    if instrument is None:
        raise PeerscaleError("give `instrument` (a bundled name or scoring file) or `model` (a model file)")
    if n is None:
        raise PeerscaleError("give `n`, the number of respondents to simulate")
    forms = list(instrument) if isinstance(instrument, (list, tuple)) else [instrument]
    design = Design(n=n, forms=forms, waves=waves, redcap=redcap, follow_up=follow_up, stability=stability,
                    gain={"*": change}, workers=workers, icc={"*": icc} if icc else {}, mcar=mcar,
                    page_skip=page_skip, not_relevant=not_relevant, irt=irt)
    return _noted(simulate_study(design, seed))


def _noted(study: Study) -> pd.DataFrame:
    """The study's data, its notes issued as :class:`~peerscale.errors.PeerscaleWarning` and kept
    in ``data.attrs["notes"]``."""
    import warnings

    from ..errors import PeerscaleWarning

    for note in study.notes:
        warnings.warn(note, PeerscaleWarning, stacklevel=3)
    study.data.attrs["notes"] = list(study.notes)
    return study.data


def _override(design: Design, **values) -> Design:
    """``design`` with the options that were given (not None) replacing the model file's values."""
    for key, value in values.items():
        if value is None:
            continue
        if key == "icc":
            design.icc = {"*": value}
        elif key == "change":
            design.gain = {"*": value}
        else:
            setattr(design, key, value)
    return design
