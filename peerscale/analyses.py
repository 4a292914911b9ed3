"""The analyses of an instrument's export, written once for the command line, the report and
notebooks (:class:`~peerscale.responses.Responses` calls them).

Every function takes a :class:`~peerscale.responses.Responses` whose rows are the sample to
analyse (the first wave by default, see :meth:`Responses.wave`), chooses the items and the
models from the instrument, calls :mod:`peerscale.psychometrics` and returns a result with
``to_dict()`` (what ``--json`` prints, with a top-level ``"sample"``), ``to_frame()`` and a
short readable ``summary()``.

- :func:`reliability`: per scale (composites too) Cronbach's alpha with psych's companion
  statistics, Feldt and bootstrap intervals, item-total statistics and one-factor omega
  total; optionally ordinal versions and Schmid–Leiman omega of each composite.
- :func:`item_analysis`: distributions, floor and ceiling, item-total statistics and flags
  per dimension scale.
- :func:`efa`: KMO and Bartlett's test, Horn's parallel analysis and an EFA of the items of
  the dimension scales (reverse-keyed items reversed).
- :func:`cfa`: a CFA of the instrument's structure (or of a lavaan model), FIML when answers
  are missing under ML and MLR, and optionally the competing structures and invariance.
- :func:`retest` and :func:`inter_rater`: ICCs of the scale scores.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import PeerscaleError
from .spec import chosen_scales as _chosen

# item-analysis flag rules (psychometrics.itemstats' defaults; Nunnally & Bernstein 1994 for r_drop)
MIN_R_DROP, MAX_FLOOR_PCT, MAX_CEILING_PCT = 0.30, 50.0, 50.0
# Hu & Bentler (1999) conventional cut-offs for CFA fit
CUTOFFS = {"cfi": (">=", 0.95), "tli": (">=", 0.95), "rmsea": ("<=", 0.06), "srmr": ("<=", 0.08)}
FIT_KEYS = ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea_ci", "srmr", "aic", "bic")


def _fmt(x, nd: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:.{nd}f}"


class _Result:
    """Shared behaviour: the readable summary is the repr."""

    def summary(self) -> str:  # pragma: no cover - every result overrides it
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.summary()


def _plain_scales(instrument, names=None) -> list:
    scales = [s for s in instrument.scales if not s.composite]
    return _chosen(instrument, scales, names)


def dimension_items(instrument) -> list[str]:
    """Items of the dimension (non-composite) scales, each once, in scale order."""
    return list(dict.fromkeys(i for s in instrument.scales if not s.composite for i in s.items))


# --------------------------------------------------------------------------- reliability

class ReliabilityResults(_Result):
    """Per-scale reliability. ``scales[name]`` is the JSON entry (alpha, intervals, item-total
    statistics, one-factor omega), ``alpha[name]`` the
    :class:`~peerscale.psychometrics.reliability.AlphaResult`, ``omega[name]`` a Schmid–Leiman
    omega (``omega=True``), ``failed`` the scales that could not be analysed, and ``sample``
    who was counted."""

    def __init__(self, sample, scales, alpha, omega, failed, notes, level):
        self.sample, self.scales, self.alpha, self.omega = sample, scales, alpha, omega
        self.failed, self.notes, self.level = failed, notes, level
        self.icc = None
        self.nesting = None  # ICC(1) within workers when the design names them (design_analyses.nesting)

    def to_dict(self) -> dict:
        out = {"sample": self.sample, "scales": self.scales}
        if self.omega:
            out["omega"] = self.omega
        if self.icc is not None:
            out["icc"] = self.icc.to_dict()
        if self.nesting is not None:
            out["nesting"] = self.nesting.to_dict()
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    def to_frame(self):
        """One row per scale: n, items, alpha with its Feldt interval, standardized alpha, G6,
        average r, S/N and one-factor omega total."""
        import pandas as pd

        rows = {}
        for name, e in self.scales.items():
            if "alpha" not in e:
                continue
            boot = e.get("bootstrap_ci") or {}
            rows[name] = {"n": e["n"], "n_items": e["n_items"], "alpha": e["alpha"], "alpha_lower": e["alpha_ci"][0],
                          "alpha_upper": e["alpha_ci"][1], "alpha_std": e["alpha_std"], "g6": e["g6"],
                          "average_r": e["average_r"], "s_n": e["s_n"], "omega_total": e["omega_total"],
                          "boot_lower": boot.get("lower"), "boot_upper": boot.get("upper")}
        return pd.DataFrame.from_dict(rows, orient="index")

    def summary(self) -> str:
        lines = [f"Reliability (as psych::alpha; {self.level:.0%} Feldt intervals). Sample: {self.sample['note']}",
                 f"{'scale':<12}{'n':>6}{'k':>4}{'alpha':>8}{'CI':>15}{'std':>8}{'G6':>8}{'avg r':>8}{'omega t':>9}"]
        for name, e in self.scales.items():
            if "alpha" not in e:
                lines.append(f"{name:<12}  {e.get('error') or e.get('note')}")
                continue
            lo, hi = e["alpha_ci"]
            lines.append(f"{name:<12}{e['n']:>6}{e['n_items']:>4}{_fmt(e['alpha']):>8}"
                         f"{_fmt(lo, 2) + '–' + _fmt(hi, 2):>15}{_fmt(e['alpha_std']):>8}{_fmt(e['g6']):>8}"
                         f"{_fmt(e['average_r']):>8}{_fmt(e['omega_total']):>9}")
        for name, om in self.omega.items():
            lines.append(f"{name}: {om['label']}: omega h = {_fmt(om['omega_hierarchical'])}, "
                         f"omega t = {_fmt(om['omega_total'])}")
        return "\n".join(lines)


def reliability(view, *, scales=None, listwise: bool = False, n_boot: int = 0, seed=None, level: float = 0.95,
                ordinal: bool = False, omega: bool = False, omega_method: str = "minres",
                quiet: bool = True) -> ReliabilityResults:
    """Reliability of every scored scale (composites too: their alpha pools the subscales' items).

    Parameters
    ----------
    view : Responses
        The rows to analyse (e.g. ``responses.wave("first")``).
    scales : list of str, optional
        Scales to analyse (default all).
    listwise : bool
        Use only rows that answered every item of the scale (default pairwise, as psych).
    n_boot, seed : int
        Bootstrap resamples for a percentile interval of alpha, and their seed.
    level : float
        Confidence level of the Feldt and bootstrap intervals.
    ordinal : bool
        Also ordinal alpha and omega from polychoric correlations.
    omega : bool
        Also Schmid–Leiman omega (hierarchical and total) of each composite, with one group
        factor per subscale; without composites, of all scales together.
    omega_method : {"minres", "ml", "pa"}
        Factor extraction for omega (psych's ``fm``).

    Returns
    -------
    ReliabilityResults

    Notes
    -----
    Alpha, G6, average r, S/N, Feldt interval and item-total statistics are those of
    :func:`peerscale.psychometrics.reliability.cronbach_alpha`; omega total of a one-factor
    model and Schmid–Leiman omega those of :func:`peerscale.psychometrics.omega.omega`.

    Examples
    --------
    Matches ``psych::alpha(keyed_items)`` and ``psych::omega(keyed_items, nfactors = 1)`` per scale:

    >>> import peerscale
    >>> from peerscale.examples import path
    >>> rel = peerscale.read(path("youth_export.csv"), "pbr-y").reliability()
    >>> rel.sample["rows"], rel.to_frame().loc["share", ["n", "n_items"]].tolist()  # 2 never opened the form
    (300, [298, 6])
    """
    if not 0 < level < 1:
        raise PeerscaleError(f"`level` (the confidence level) must lie between 0 and 1, got {level}")
    if omega_method not in ("minres", "ml", "pa"):
        raise PeerscaleError(f"unknown `omega_method` {omega_method!r}", hint="use minres, ml or pa")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 0:
        raise PeerscaleError(f"`n_boot` (bootstrap resamples) must be a whole number of 0 or more, got {n_boot!r}")
    inst = view.instrument
    chosen = _chosen(inst, list(inst.scales), scales)
    entries, alphas, failed, notes = {}, {}, {}, []
    for scale in chosen:
        try:
            entries[scale.name], res = _scale_entry(view, scale, listwise, n_boot, seed, level, ordinal,
                                                    omega_method, quiet)
            if res is not None:
                alphas[scale.name] = res
        except PeerscaleError as exc:
            failed[scale.name] = exc.message
            entries[scale.name] = {"label": scale.label, "composite": scale.composite, "error": exc.message}
    structure = structure_omega(view, listwise=listwise, method=omega_method, ordinal=ordinal,
                                scales=scales) if omega else {}
    result = ReliabilityResults(view.sample(), entries, alphas, structure, failed, notes, level)
    if view.design.worker:  # young people share workers: how much each scale clusters within them
        from .design_analyses import nesting

        try:
            result.nesting = nesting(view, scales=scales)
        except PeerscaleError as exc:
            notes.append(f"nesting within workers not computed: {exc.message}")
    return result


def _scale_entry(view, scale, listwise, n_boot, seed, level, ordinal, omega_method, quiet):
    """Alpha, item statistics, one-factor omega (and ordinal versions) of one scale."""
    from .progress import progress
    from .psychometrics.omega import omega
    from .psychometrics.reliability import cronbach_alpha, ordinal_alpha

    if len(scale.items) < 2:
        return {"n_items": 1, "label": scale.label, "composite": scale.composite,
                "note": "one item: no internal consistency"}, None
    data = view.keyed(scale.name)
    if n_boot:
        with progress(n_boot, f"bootstrap {scale.name}", quiet=quiet) as bar:
            res = cronbach_alpha(data, listwise=listwise, n_boot=n_boot, seed=seed, level=level,
                                 progress=bar.advance)
    else:
        res = cronbach_alpha(data, listwise=listwise, level=level)
    entry = _alpha_entry(res, scale)
    omega_input = data.dropna() if listwise else data
    if len(scale.items) >= 3:
        om = omega(omega_input, 1, method=omega_method)
        entry["omega_total"] = om.omega_total
        entry["omega_kind"] = om.label
    else:
        entry["omega_total"] = None
        entry["omega_kind"] = "not estimated: omega needs at least three items"
    if ordinal:
        oa, poly = ordinal_alpha(omega_input)
        entry["ordinal"] = {"alpha": oa.alpha, "g6": oa.g6, "average_r": oa.average_r,
                            "omega_total": omega(poly, 1, method=omega_method).omega_total
                            if len(scale.items) >= 3 else None,
                            "omega_kind": f"omega total, one-factor ({omega_method}), polychoric",
                            "smoothed": poly.smoothed}
    return entry, res


def _alpha_entry(res, scale) -> dict:
    """The JSON entry of one scale's alpha (shared by the in-memory and the merged-statistics paths)."""
    entry = res.to_dict()
    entry["label"] = scale.label
    entry["composite"] = scale.composite
    entry["items"] = {item: {"r_drop": st["r_drop"], "alpha_if_dropped": st["alpha_if_dropped"],
                             "raw_r": st["raw_r"], "std_r": st["std_r"], "r_cor": st["r_cor"],
                             "n": st["n"], "mean": st["mean"], "sd": st["sd"], "key": -1 if k < 0 else 1}
                      for (item, st), k in zip(entry["items"].items(), scale.keys)}
    return entry


# ------------------------------------------------------------------- from merged statistics

def pearson_frame(m):
    """The pairwise Pearson correlations of merged :class:`ItemMoments` as a labelled matrix (what
    :func:`~peerscale.psychometrics.efa.correlation_input` computes from the rows), with its checks."""
    import pandas as pd

    cols = list(m.columns)
    n = m.counts_answered()
    if (n < 2).any():
        raise PeerscaleError("item has fewer than two answers", column=cols[int(np.argmax(n < 2))],
                             hint="drop the item or check the column mapping")
    r = m.correlation()
    if not np.isfinite(r).all():
        i, j = np.argwhere(~np.isfinite(r))[0]
        raise PeerscaleError(f"correlation of {cols[i]!r} and {cols[j]!r} is undefined "
                             "(no variance or no pairs answered together)", column=cols[i],
                             hint="drop constant items or items nobody answered together")
    return pd.DataFrame(r, index=cols, columns=cols)


def _omega_keys(inst, parts) -> dict:
    """Each item's key as :func:`structure_omega` keys it: by the (last) subscale listing it."""
    keys = {}
    for part in parts:
        s = inst.scale(part)
        keys.update(zip(s.items, s.keys))
    return keys


def _omega_targets(inst, names) -> list:
    targets = []
    for s in _chosen(inst, list(inst.scales), names):
        if s.composite and len(s.of_scales) >= 2:
            targets.append((s.name, s.items, len(s.of_scales), s.of_scales))
    plain = _plain_scales(inst, names)
    if not targets and len(plain) >= 2:
        items = [i for s in plain for i in s.items]
        if len(set(items)) == len(items):
            targets.append(("all_scales", tuple(items), len(plain), tuple(s.name for s in plain)))
    return targets


def reliability_specs(inst, scales=None, *, listwise: bool = False, ordinal: bool = False,
                      omega: bool = False) -> dict:
    """The statistics :func:`reliability_from_stats` needs, as
    :class:`~peerscale.chunked.Spec` per scale (and per omega structure)."""
    from .psychometrics.moments import Spec

    specs = {}
    for scale in _chosen(inst, list(inst.scales), scales):
        if len(scale.items) >= 2:
            specs[f"rel:{scale.name}"] = Spec(tuple(scale.items), tuple(scale.keys), total=True, tables=ordinal,
                                              joint=ordinal, listwise=listwise)
    if omega:
        for name, items, _k, parts in _omega_targets(inst, scales):
            keys = _omega_keys(inst, parts)
            specs[f"omega:{name}"] = Spec(tuple(items), tuple(keys[i] for i in items), tables=ordinal,
                                          joint=ordinal, listwise=listwise)
    return specs


def reliability_from_stats(view, inst, *, scales=None, listwise: bool = False, level: float = 0.95,
                           ordinal: bool = False, omega: bool = False, omega_method: str = "minres",
                           note: str | None = None) -> ReliabilityResults:
    """:func:`reliability` from merged statistics (``view``: a :class:`~peerscale.chunked.WaveView`
    of :func:`reliability_specs`): the same entries, without the bootstrap interval."""
    if not 0 < level < 1:
        raise PeerscaleError(f"`level` (the confidence level) must lie between 0 and 1, got {level}")
    if omega_method not in ("minres", "ml", "pa"):
        raise PeerscaleError(f"unknown `omega_method` {omega_method!r}", hint="use minres, ml or pa")
    from .psychometrics.omega import omega as fit_omega
    from .psychometrics.polychoric import polychoric_from_moments
    from .psychometrics.reliability import alpha_from_correlation, alpha_from_moments

    entries, alphas, failed = {}, {}, {}
    for scale in _chosen(inst, list(inst.scales), scales):
        if len(scale.items) < 2:
            entries[scale.name] = {"n_items": 1, "label": scale.label, "composite": scale.composite,
                                   "note": "one item: no internal consistency"}
            continue
        try:
            m = view.stats[f"rel:{scale.name}"]
            res = alpha_from_moments(m, level=level, listwise=listwise)
            entry = _alpha_entry(res, scale)
            if len(scale.items) >= 3:
                om = fit_omega(pearson_frame(m), 1, method=omega_method)
                entry["omega_total"] = om.omega_total
                entry["omega_kind"] = om.label
            else:
                entry["omega_total"] = None
                entry["omega_kind"] = "not estimated: omega needs at least three items"
            if ordinal:
                poly = polychoric_from_moments(m)
                oa = alpha_from_correlation(poly.rho, poly.columns, poly.n_obs)
                entry["ordinal"] = {"alpha": oa.alpha, "g6": oa.g6, "average_r": oa.average_r,
                                    "omega_total": fit_omega(poly, 1, method=omega_method).omega_total
                                    if len(scale.items) >= 3 else None,
                                    "omega_kind": f"omega total, one-factor ({omega_method}), polychoric",
                                    "smoothed": poly.smoothed}
            entries[scale.name] = entry
            alphas[scale.name] = res
        except PeerscaleError as exc:
            failed[scale.name] = exc.message
            entries[scale.name] = {"label": scale.label, "composite": scale.composite, "error": exc.message}
    structure = {}
    if omega:
        targets = _omega_targets(inst, scales)
        if not targets:
            raise PeerscaleError("Schmid-Leiman omega (`omega`) needs a structure: a composite of subscales, or at "
                                 "least two scales", hint="use an instrument with subscales, or two or more scales")
        for name, items, k, parts in targets:
            m = view.stats[f"omega:{name}"]
            src = polychoric_from_moments(m) if ordinal else pearson_frame(m)
            om = fit_omega(src, k, method=omega_method)
            entry = om.to_dict()
            entry["group_factors_for"] = list(parts)
            entry["group_labels"] = _group_labels(om, inst, parts)
            structure[name] = entry
    return ReliabilityResults(view.sample, entries, alphas, structure, failed, [note] if note else [], level)


def structure_omega(view, *, listwise: bool = False, method: str = "minres", ordinal: bool = False,
                    scales=None) -> dict:
    """Schmid–Leiman omega (as ``psych::omega(keyed, nfactors = k)``) of each composite, with one
    group factor per subscale (or of all scales together when there is no composite):
    ``{name: OmegaResult.to_dict() + group_factors_for + group_labels}``."""
    names = scales
    import pandas as pd

    from .psychometrics.omega import omega

    inst = view.instrument
    targets = _omega_targets(inst, names)
    if not targets:
        raise PeerscaleError("Schmid-Leiman omega (`omega`) needs a structure: a composite of subscales, or at "
                             "least two scales", hint="use an instrument with subscales, or two or more scales")
    result = {}
    for name, items, k, parts in targets:
        keyed = {}
        for part in parts:
            frame = view.keyed(part)
            for col in frame.columns:
                keyed[col] = frame[col]
        data = pd.DataFrame(keyed)[list(items)]
        if listwise:
            data = data.dropna()
        om = omega(data, k, method=method, ordinal=ordinal)
        entry = om.to_dict()
        entry["group_factors_for"] = list(parts)
        entry["group_labels"] = _group_labels(om, inst, parts)
        result[name] = entry
    return result


def _group_labels(om, instrument, parts) -> dict:
    """Name each group factor after the subscale most of whose items load highest on it."""
    names = [c for c in om.loadings.columns if c.endswith("*")]
    home = {i: part for part in parts for i in instrument.scale(part).items}
    best = np.abs(om.loadings[names].to_numpy()).argmax(axis=1)
    labels = {}
    for f, name in enumerate(names):
        members = [home.get(item) for item, b in zip(om.loadings.index, best) if b == f]
        if members:
            top = max(set(members), key=members.count)
            labels[name] = f"{top} ({members.count(top)}/{len(members)} items)"
    return labels


# --------------------------------------------------------------------------- items

class ItemAnalyses(_Result):
    """Item analysis per dimension scale: ``scales[name]`` an
    :class:`~peerscale.psychometrics.itemstats.ItemAnalysis`, ``errors`` the scales that could
    not be analysed, ``rules`` the flag rules."""

    def __init__(self, sample, scales, labels, errors, rules):
        self.sample, self.scales, self.labels, self.errors, self.rules = sample, scales, labels, errors, rules

    def to_dict(self) -> dict:
        out = {"sample": self.sample, "scales": {}, "rules": self.rules}
        for name, res in self.scales.items():
            d = res.to_dict()
            d.pop("rules")
            d["label"] = self.labels[name]
            out["scales"][name] = d
        if self.errors:
            out["errors"] = dict(self.errors)
        return out

    def flags(self) -> list[dict]:
        """Every flag: ``{"scale", "item", "flag", "message"}``."""
        return [{"scale": name, "item": item, "flag": f, "message": m}
                for name, res in self.scales.items() for item, found in res.flags.items() for f, m in found]

    def to_frame(self):
        """One row per (scale, item): distribution statistics, item-total statistics, flags."""
        import pandas as pd

        frames = [res.table.assign(scale=name) for name, res in self.scales.items()]
        if not frames:
            return pd.DataFrame()
        out = pd.concat(frames)
        out.index.name = "item"
        return out.set_index("scale", append=True).swaplevel()

    def summary(self) -> str:
        flags = self.flags()
        lines = [f"Item analysis of {len(self.scales)} scale(s). Sample: {self.sample['note']}",
                 f"{len(flags)} flag(s)" + (":" if flags else ".")]
        lines += [f"  {f['scale']}/{f['item']}: {f['flag']}: {f['message']}" for f in flags]
        lines += [f"  {name}: not analysed: {msg}" for name, msg in self.errors.items()]
        return "\n".join(lines)


def item_analysis(view, *, scales=None, listwise: bool = False, min_r_drop: float = MIN_R_DROP,
                  max_floor: float = MAX_FLOOR_PCT, max_ceiling: float = MAX_CEILING_PCT) -> ItemAnalyses:
    """Item analysis of each dimension scale (see :func:`peerscale.psychometrics.itemstats.item_analysis`):
    distributions of the codes as answered, floor and ceiling at the declared range, and
    item-total statistics of the keyed items, with flags that state their rule.

    Examples
    --------
    >>> import peerscale
    >>> from peerscale.examples import path
    >>> items = peerscale.read(path("youth_export.csv"), "pbr-y").item_analysis()
    >>> sorted(items.scales)[:3]
    ['auth', 'auton', 'care']
    """
    from .psychometrics.itemstats import check_thresholds, item_analysis as analyse

    check_thresholds(min_r_drop, max_floor, max_ceiling)  # before the per-scale errors that become notes
    inst = view.instrument
    answered = view.items()
    results, labels, errors, rules = {}, {}, {}, None
    for scale in _plain_scales(inst, scales):
        rss = [inst.items[i].response_scale for i in scale.items]
        ranges = {i: (rs.min, rs.max) for i, rs in zip(scale.items, rss)} if all(rs.has_range for rs in rss) else None
        declared = sorted({c for rs in rss for c in rs.codes})
        try:
            if ranges is None and any(k < 0 for k in scale.keys):
                raise PeerscaleError(f"scale {scale.name!r} has reverse-keyed items but no declared range",
                                     hint="declare the response range (`value_range`)")
            res = analyse(answered[list(scale.items)], scale.keys, value_range=ranges, codes=declared or None,
                          listwise=listwise, min_r_drop=min_r_drop, max_floor=max_floor, max_ceiling=max_ceiling)
        except PeerscaleError as exc:
            errors[scale.name] = exc.message
            continue
        results[scale.name] = res
        labels[scale.name] = scale.label
        rules = res.rules
    return ItemAnalyses(view.sample(), results, labels, errors, rules)


def item_specs(inst, scales=None, *, listwise: bool = False) -> dict:
    """The statistics :func:`item_analysis_from_stats` needs: per dimension scale the items as
    answered (with frequency tables) and keyed (with the total column)."""
    from .psychometrics.moments import Spec

    specs = {}
    for scale in _plain_scales(inst, scales):
        rss = [inst.items[i].response_scale for i in scale.items]
        specs[f"dist:{scale.name}"] = Spec(tuple(scale.items), (1,) * len(scale.items), keyed=False, tables=True,
                                           check_range=all(rs.has_range for rs in rss))
        specs[f"keyed:{scale.name}"] = Spec(tuple(scale.items), tuple(scale.keys), total=True, listwise=listwise)
    return specs


def item_analysis_from_stats(view, inst, *, scales=None, listwise: bool = False, min_r_drop: float = MIN_R_DROP,
                             max_floor: float = MAX_FLOOR_PCT, max_ceiling: float = MAX_CEILING_PCT,
                             second_pass=None) -> ItemAnalyses:
    """:func:`item_analysis` from merged statistics (``view`` of :func:`item_specs`).
    ``second_pass(scale, items)`` returns the keyed statistics of some of a scale's items (a scale
    with a constant item leaves it out of the item-total statistics)."""
    from .psychometrics.itemstats import (check_keys, check_thresholds, item_analysis_from_moments,
                                          response_ranges)
    from .psychometrics.reliability import alpha_from_moments

    check_thresholds(min_r_drop, max_floor, max_ceiling)
    results, labels, errors, rules = {}, {}, {}, None
    for scale in _plain_scales(inst, scales):
        rss = [inst.items[i].response_scale for i in scale.items]
        ranges = {i: (rs.min, rs.max) for i, rs in zip(scale.items, rss)} if all(rs.has_range for rs in rss) else None
        declared = sorted({c for rs in rss for c in rs.codes})
        try:
            if ranges is None and any(k < 0 for k in scale.keys):
                raise PeerscaleError(f"scale {scale.name!r} has reverse-keyed items but no declared range",
                                     hint="declare the response range (`value_range`)")
            dist = view.stats[f"dist:{scale.name}"]
            keyed = view.stats[f"keyed:{scale.name}"]
            cols = list(scale.items)
            keys = check_keys(scale.keys, cols)
            if ranges is None and not (dist.counts_answered() > 0).any():
                raise PeerscaleError("no answered items: every value is missing")
            lo, hi = response_ranges(cols, ranges, dist.vmin.min(), dist.vmax.max())

            def alpha_of(varies, keyed=keyed, scale=scale):
                if list(varies) == list(keyed.columns):
                    return alpha_from_moments(keyed, listwise=listwise)
                if second_pass is None:
                    raise PeerscaleError("a scale with a constant item needs a second pass over the data")
                return alpha_from_moments(second_pass(scale.name, list(varies)), listwise=listwise)

            res = item_analysis_from_moments(dist, keys, lo, hi, alpha_of, codes=declared or None,
                                             min_r_drop=min_r_drop, max_floor=max_floor, max_ceiling=max_ceiling)
        except PeerscaleError as exc:
            errors[scale.name] = exc.message
            continue
        results[scale.name] = res
        labels[scale.name] = scale.label
        rules = res.rules
    return ItemAnalyses(view.sample, results, labels, errors, rules)


# --------------------------------------------------------------------------- EFA

class EFAAnalysis(_Result):
    """KMO, Bartlett's test, parallel analysis and an EFA. ``fit`` is the
    :class:`~peerscale.psychometrics.efa.EFAResult`, ``parallel`` the
    :class:`~peerscale.psychometrics.parallel.ParallelResult` (or None)."""

    def __init__(self, sample, data, fit, kmo, bartlett, parallel, chosen_by, polychoric, settings, notes):
        self.sample, self.data, self.fit, self.kmo, self.bartlett = sample, data, fit, kmo, bartlett
        self.parallel, self.chosen_by, self.polychoric, self.settings, self.notes = (parallel, chosen_by, polychoric,
                                                                                    settings, notes)

    @property
    def n_factors(self) -> int:
        return self.fit.n_factors

    def to_dict(self) -> dict:
        res = self.fit
        names = [f"F{i + 1}" for i in range(res.n_factors)]
        ve = res.variance_explained
        out = {
            "sample": self.sample, "n": int(len(self.data)), "items": list(res.columns), "factors": res.n_factors,
            "chosen_by": self.chosen_by, "method": res.method, "rotation": res.rotation,
            "correlations": "polychoric" if self.polychoric else "pearson",
            "loadings": {c: res.loadings[i].tolist() for i, c in enumerate(res.columns)},
            "communalities": {c: float(res.communalities[i]) for i, c in enumerate(res.columns)},
            "factor_correlations": res.phi.tolist(),
            "variance_explained": {n: {"ss_loadings": float(ve.iloc[0, j]), "proportion": float(ve.iloc[1, j]),
                                       "cumulative": float(ve.iloc[2, j])} for j, n in enumerate(names)},
            "kmo": None if self.kmo is None else {"overall": self.kmo.msa, "items": self.kmo.msa_items.to_dict()},
            "bartlett": None if self.bartlett is None else {"chisq": self.bartlett.chisq, "df": self.bartlett.df,
                                                            "pvalue": self.bartlett.pvalue, "n": self.bartlett.n},
            "converged": res.converged,
            "fit": res.fit_measures(),
        }
        pa = self.parallel
        if pa is not None:
            out["parallel"] = {"n_factors": pa.n_factors, "n_components": pa.n_components,
                               "iterations": pa.iterations, "seed": self.settings["seed"], "quantile": pa.quantile,
                               "observed_fa": pa.observed_fa.tolist(), "simulated_fa": pa.simulated_fa.tolist(),
                               "observed_pc": pa.observed_pc.tolist(), "simulated_pc": pa.simulated_pc.tolist()}
            if pa.resampled_fa is not None:
                out["parallel"]["resampled_fa"] = pa.resampled_fa.tolist()
                out["parallel"]["resampled_pc"] = pa.resampled_pc.tolist()
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    def to_frame(self):
        """Loadings (pattern matrix) with communalities ``h2`` and per-item KMO."""
        frame = self.fit.loadings_frame()
        frame["h2"] = self.fit.communalities
        if self.kmo is not None:
            frame["kmo"] = self.kmo.msa_items.to_numpy()
        return frame

    def summary(self) -> str:
        res = self.fit
        lines = [f"EFA (as psych::fa): {res.n_factors} factor(s) ({self.chosen_by}), {res.method} extraction, "
                 f"{res.rotation} rotation, {'polychoric' if self.polychoric else 'Pearson'} correlations, "
                 f"n = {len(self.data)}. Sample: {self.sample['note']}"]
        if self.kmo is not None:
            lines.append(f"KMO = {self.kmo.msa:.3f}")
        if self.parallel is not None:
            lines.append(f"Parallel analysis: {self.parallel.n_factors} factors, "
                         f"{self.parallel.n_components} components")
        lines.append(self.to_frame().round(2).to_string())
        return "\n".join(lines)


def efa(view, *, items=None, n_factors="parallel", method: str = "minres", rotation: str = "oblimin",
        iterations: int = 20, seed=1, polychoric: bool = False, resample: bool = True,
        quiet: bool = True) -> EFAAnalysis:
    """KMO, Bartlett's test, parallel analysis and an exploratory factor analysis of keyed items.

    Parameters
    ----------
    view : Responses
    items : list of str, optional
        Items to analyse (default: every item of the dimension scales, reverse-keyed items reversed).
    n_factors : int or "parallel"
        Factors to extract, or as many as Horn's parallel analysis suggests (at least 1).
    method, rotation : str
        Extraction (psych's ``fm``: minres, ml, pa) and rotation (oblimin, geomin, promax,
        varimax, none).
    iterations, seed : int
        Parallel-analysis replicates and their seed (the suggestion depends only on the
        simulated replicates, so it is the same with ``resample=False``).
    polychoric : bool
        Factor polychoric instead of Pearson correlations.

    Notes
    -----
    Rows with no answer to any of the items are left out (they carry no correlation); the
    rest enter pairwise, as psych's ``use = "pairwise"``.

    Examples
    --------
    As ``psych::fa.parallel(x)`` then ``psych::fa(x, nfactors, fm = "minres", rotate = "oblimin")``:

    >>> import peerscale
    >>> from peerscale.examples import path
    >>> res = peerscale.read(path("youth_export.csv"), "pbr-y").efa(iterations=5)
    >>> res.chosen_by
    'parallel analysis'
    """
    from .progress import progress
    from .psychometrics.efa import fit_efa
    from .psychometrics.factorability import bartlett_sphericity, kmo
    from .psychometrics.parallel import parallel_analysis

    if n_factors != "parallel":
        if isinstance(n_factors, bool) or not isinstance(n_factors, int) or n_factors < 1:
            raise PeerscaleError(f"`n_factors` must be a whole number of at least 1 or 'parallel', got {n_factors!r}")
    data = view.items(keyed=True)
    if items is None:
        items = dimension_items(view.instrument)
    else:
        items = [items] if isinstance(items, str) else list(items)
        absent = [i for i in items if i not in data.columns]
        if absent:
            raise PeerscaleError(f"`items` names {absent[0]!r}, which is not an item of the scored scales",
                                 hint="check the spelling or the `map` options")
    data = data[items]
    data = data[data.notna().any(axis=1)]
    if data.shape[1] < 3:
        raise PeerscaleError(f"an EFA needs at least three items, got {data.shape[1]}",
                             hint="list more items with `items`")
    source = data
    if polychoric:
        from .psychometrics.polychoric import polychoric_matrix
        source = polychoric_matrix(data)
    notes = []
    km = bt = None
    try:
        km = kmo(source)  # on the correlations that are factored
    except PeerscaleError as exc:
        notes.append(f"KMO could not be computed: {exc.message}")
    try:
        bt = bartlett_sphericity(source, n_obs=len(data))
    except PeerscaleError as exc:
        notes.append(f"Bartlett's test could not be computed: {exc.message}")
    pa = None
    if n_factors == "parallel":
        with progress(iterations, "parallel analysis", quiet=quiet) as bar:
            pa = parallel_analysis(data, iterations=iterations, seed=seed, resample=resample, progress=bar.advance)
        k, chosen_by = max(1, min(pa.n_factors, data.shape[1] - 1)), "parallel analysis"
    else:
        k, chosen_by = int(n_factors), "given"
    res = fit_efa(source, k, method=method, rotation=rotation, n_obs=len(data))
    return EFAAnalysis(view.sample(), data, res, km, bt, pa, chosen_by, polychoric,
                       {"seed": seed, "iterations": iterations}, notes)


# --------------------------------------------------------------------------- CFA

def fit_row(res, fit: dict) -> dict:
    """The fit measures a table shows, with the Hu & Bentler cut-offs each one meets."""
    row = {k: fit[k] for k in FIT_KEYS}
    row.update(n=res.n, converged=res.converged)
    meets = {}
    for key, (op, cut) in CUTOFFS.items():
        v = fit.get(key)
        meets[key] = None if v is None or not math.isfinite(v) else bool(v >= cut if op == ">=" else v <= cut)
    row["meets"] = meets
    return row


class CFAAnalysis(_Result):
    """A fitted CFA with its lavaan-style fit measures, standardized solution, modification
    indices and residual correlations, and optionally competing structures and invariance.
    ``fit`` is the :class:`~peerscale.psychometrics.cfa.CFAResult`."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def to_dict(self) -> dict:
        fm, std, res = self.fit_measures, self.standardized, self.fit
        loads = std[std.op == "=~"]
        out = {
            "sample": self.sample, "n": res.n, "n_rows": self.n_rows, "missing": self.missing,
            "estimator": res.estimator, "structure": self.structure, "model": self.model,
            "fit": {k: fm[k] for k in FIT_KEYS + ("npar", "baseline_chisq", "baseline_df", "logl")},
            "loadings_std": {f"{r.lhs}=~{r.rhs}": r.est_std for r in loads.itertuples()},
            "loadings_std_se": {f"{r.lhs}=~{r.rhs}": r.se for r in loads.itertuples()},
            "converged": res.converged,
        }
        if getattr(res, "cluster", None):
            out["cluster"] = {"column": res.cluster, "n_clusters": sum(res.scaling.get("n_clusters", []))}
        if res.estimator in ("MLR", "DWLS"):
            out["fit_robust"] = {k: fm[k] for k in fm
                                 if k.endswith(("_scaled", "_robust")) or k in ("scaling_factor", "shift_parameter")}
        lv = res.spec.latent
        covs = std[(std.op == "~~") & std.lhs.isin(lv) & std.rhs.isin(lv) & (std.lhs != std.rhs)]
        out["factor_correlations"] = {f"{r.lhs}~~{r.rhs}": r.est_std for r in covs.itertuples()}
        if self.modification_indices is not None:
            out["modification_indices"] = self.modification_indices.to_dict(orient="records")
        out["largest_residual_correlations"] = _largest_residuals(self.residual_correlations, 10)
        if self.comparison is not None:
            out["comparison"] = self.comparison
        if self.invariance is not None:
            out["invariance"] = {lv: dict(row) for lv, row in self.invariance.to_dict(orient="index").items()}
            if self.invariance.attrs.get("partial"):
                out["partial"] = list(self.invariance.attrs["partial"])
        search = getattr(self, "partial_search", None)
        if search is not None:
            out["partial_search"] = [{k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
                                     for row in search.table.to_dict(orient="records")]
        if res.starts and len(res.starts["tried"]) > 1:
            out["starts"] = {k: res.starts[k] for k in ("tried", "converged", "best", "reached_best")}
        if res.warnings:
            out["warnings"] = list(res.warnings)
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    def to_frame(self):
        """The parameter table (lavaan's ``parameterEstimates``: est, se, z, pvalue) with the
        standardized estimates (``std_all``, as lavaan's ``std.all``)."""
        params = self.fit.params.copy()
        params["std_all"] = self.standardized["est_std"].to_numpy()
        return params

    def summary(self) -> str:
        fm, res = self.fit_measures, self.fit
        what = f"the {self.structure} structure of {self.instrument}" if self.structure else "the model"
        lines = [f"CFA of {what} (as lavaan::cfa), estimator {res.estimator}, missing data: {self.missing}; "
                 f"N used = {res.n} of {self.n_rows} rows" + ("" if res.converged else "; did NOT converge"),
                 f"Sample: {self.sample['note']}",
                 f"chisq({fm['df']}) = {_fmt(fm['chisq'], 2)}, p = {_fmt(fm['pvalue'])}; CFI = {_fmt(fm['cfi'])}, "
                 f"TLI = {_fmt(fm['tli'])}, RMSEA = {_fmt(fm['rmsea'])}, SRMR = {_fmt(fm['srmr'])}",
                 "", f"{'':<28}{'est':>8}{'se':>8}{'z':>8}{'p':>8}{'std.all':>9}"]
        frame = self.to_frame()
        for op, title in (("=~", "Loadings"), ("~~", "Variances and covariances")):
            part = frame[frame.op == op]
            if part.empty:
                continue
            lines.append(title)
            for r in part.itertuples():
                lines.append(f"  {r.lhs + ' ' + r.op + ' ' + r.rhs:<26}{_fmt(r.est):>8}{_fmt(r.se):>8}"
                             f"{_fmt(r.z, 2):>8}{_fmt(r.pvalue):>8}{_fmt(r.std_all):>9}")
        return "\n".join(lines)


def _largest_residuals(rc, k):
    cols = list(rc.columns)
    vals = rc.to_numpy()
    iu = np.triu_indices(len(cols), 1)
    order = np.argsort(-np.abs(vals[iu]))[:k]
    return [{"lhs": cols[iu[0][o]], "rhs": cols[iu[1][o]], "residual_r": float(vals[iu][o])} for o in order]


def _missing_method(data, observed, estimator: str, missing: str | None) -> tuple[str, str]:
    """(method to report, method to fit): FIML by default when answers are missing under ML/MLR."""
    answered = data[observed].notna()
    rows = answered.any(axis=1)
    complete = bool(answered[rows].all(axis=None))
    if missing is None:
        if complete:
            return "none", "listwise"
        return ("fiml", "fiml") if estimator in ("ml", "mlr") else ("listwise", "listwise")
    if missing not in ("fiml", "listwise"):
        raise PeerscaleError(f"`missing` must be 'fiml' or 'listwise', got {missing!r}")
    return missing, missing


def cfa(view, *, model: str | None = None, structure: str | None = None, compare: bool = False,
        estimator: str = "ml", missing: str | None = None, std_lv: bool = False, group: str | None = None,
        top_mi: int = 10, quiet: bool = True, invariance: str = "scalar", partial=None, criterion: str = "fit",
        parameterization: str = "delta", starts: int = 0, seed: int | None = None,
        cluster: str | None = None) -> CFAAnalysis:
    """Confirmatory factor analysis of keyed items, as ``lavaan::cfa``.

    Parameters
    ----------
    view : Responses
    model : str, optional
        lavaan model syntax; default: the instrument's ``structure``.
    structure : {"correlated", "one-factor", "bifactor"}, optional
        The instrument's own structure (default correlated; see :mod:`peerscale.structures`).
    compare : bool
        Also fit the other structures and test one factor against correlated factors.
    estimator : {"ml", "mlr", "dwls"}
        ML; MLR (robust SEs, Yuan–Bentler scaled χ²); DWLS on polychoric correlations (WLSMV).
    missing : {"fiml", "listwise"}, optional
        Default: FIML when any answer to the model's items is missing (ML, MLR), listwise for
        DWLS; the method used and N are in the result (``"missing"``, ``"n"``).
    std_lv : bool
        Fix factor variances to 1 instead of the first loading.
    group : str, optional
        A column: measurement invariance (configural, metric, scalar) across its groups.
    top_mi : int
        How many modification indices to keep (0 = none).
    quiet : bool
        No progress bar (one step per model fitted).
    invariance : str
        With ``group``: the last level of the invariance sequence (see
        :func:`~peerscale.psychometrics.invariance.measurement_invariance`; ordinal items follow
        Wu & Estabrook: configural, thresholds, metric, scalar).
    partial : "auto", list of str or str, optional
        With ``group``: ``"auto"`` runs :func:`~peerscale.psychometrics.invariance.partial_invariance`
        (``criterion`` "fit" or "chisq"); parameters (lavaan's ``group.partial``) stay free.
    parameterization : {"delta", "theta"}
        Ordinal items (DWLS).
    starts, seed : int
        Extra random starts of the optimiser and their seed.
    cluster : str, optional
        A column of cluster ids (the worker): cluster-robust SEs and the Yuan–Bentler (Mplus)
        scaled test, as lavaan's ``cluster=`` (ML; FIML or listwise as ``missing``).

    Examples
    --------
    As ``lavaan::cfa(model, data, missing = "fiml")`` on the keyed items:

    >>> import peerscale
    >>> from peerscale.examples import path
    >>> res = peerscale.read(path("youth_export.csv"), "pbr-y").cfa()
    >>> res.missing, res.fit.n
    ('fiml', 298)
    """
    from .progress import progress
    from .psychometrics.cfa import fit_cfa, modification_indices, residual_correlations, standardized_solution
    from .psychometrics.fit import fit_measures
    from .psychometrics.lavaan_syntax import model_variables, parse_model
    from .structures import STRUCTURES, dimension_scales, instrument_structure

    est = str(estimator).lower()
    if est not in ("ml", "mlr", "dwls"):
        raise PeerscaleError(f"unknown `estimator` {estimator!r}", hint="use ml, mlr or dwls")
    if isinstance(top_mi, bool) or not isinstance(top_mi, int) or top_mi < 0:
        raise PeerscaleError(f"`top_mi` must be a whole number of 0 or more, got {top_mi!r}")
    inst = view.instrument
    structures: dict[str, tuple[str, dict]] = {}
    notes: list[str] = []
    if model is None:
        structure = structure or "correlated"
        names = [structure] + ([s for s in STRUCTURES if s != structure] if compare else [])
        if compare and len(dimension_scales(inst)) < 2 and structure != "bifactor":
            # one dimension scale: the correlated-factors model is the one-factor model and a
            # bifactor model does not exist, so there is nothing to compare (the nested test of
            # two identical models has 0 df; the bifactor error used to take the whole CFA down)
            names = [structure]
            notes.append("The instrument has one dimension scale, so the CFA fits one factor only (correlated "
                         "factors and a bifactor model need two or more).")
        for s in names:
            structures[s] = instrument_structure(inst, s)
        model, options = structures[structure]
    else:
        if structure is not None:
            raise PeerscaleError("give `model` or `structure`, not both")
        if compare:
            raise PeerscaleError("`compare` compares the instrument's structures; leave out `model`")
        options = {}
    options = {**options, "std_lv": std_lv or options.get("std_lv", False), "starts": starts, "seed": seed}
    if est == "dwls":
        options["parameterization"] = parameterization
    terms = parse_model(model)
    data = view.items(keyed=True)
    observed, _ = model_variables(terms)
    absent = [v for v in observed if v not in data.columns]
    if absent and all(v in view.data.columns for v in absent):
        raise PeerscaleError(f"the model names {absent[0]!r}, which is not an item of the scored scales",
                             hint="model the instrument's items (or read the data with an instrument that has it)")
    if group:
        data = data.copy()
        data[group] = view.column(group)
    present = [v for v in observed if v in data.columns]
    reported, method = _missing_method(data, present, est, missing)
    if cluster:  # lavaan's cluster=, with FIML or listwise as without it
        if group or compare:
            raise PeerscaleError("`cluster` is not combined with `group` or `compare`")
        data = data.copy()
        data[cluster] = view.column(cluster)
        options["cluster"] = cluster
        notes += _cluster_notes(data, cluster, present, complete=method == "listwise")
    n_answered = int(data[present].notna().any(axis=1).sum()) if present else 0
    if present and n_answered <= len(present):
        raise PeerscaleError(f"only {n_answered} respondents answered any of the model's {len(present)} items; "
                             "a CFA needs many more respondents than items", hint="model fewer items, or use more data")
    with progress(len(structures) or 1, "confirmatory factor analysis", quiet=quiet) as bar:
        try:
            res = fit_cfa(terms, data, estimator=est.upper(), missing=method, **options)
        except np.linalg.LinAlgError as exc:  # a singular sample matrix: a data problem, not a crash
            raise PeerscaleError(f"the CFA could not be estimated ({exc}): the items' covariances are singular",
                                 hint="drop items that duplicate others or have no variance, or use more data") from None
        bar.advance()
        comparison = (_compare_structures(structures, data, est, method, {structure: res}, bar.advance)
                      if compare else None)
    fm = fit_measures(res)
    std = standardized_solution(res)
    mi = modification_indices(res, top=top_mi) if top_mi and res.estimator != "DWLS" else None
    table, search = None, None
    if group:
        table, search = _invariance(model, data, group, est, method, options, invariance, partial, criterion)
    return CFAAnalysis(sample=view.sample(), n_rows=view.n_rows, missing=reported, structure=structure,
                       instrument=inst.name, model=model, fit=res, fit_measures=fm, standardized=std,
                       modification_indices=mi, residual_correlations=residual_correlations(res),
                       comparison=comparison, invariance=table, partial_search=search, notes=notes)


def _cluster_notes(data, cluster, items, complete: bool = True) -> list[str]:
    """What a reader of cluster-robust results should know about the clusters of the rows used
    (complete rows for listwise deletion, rows with any answer for FIML): clusters of one row,
    and too few clusters for the sandwich estimator to be trusted."""
    from .design import id_text

    if items:
        answered = data[items].notna()
        used = data[answered.all(axis=1) if complete else answered.any(axis=1)]
    else:
        used = data
    sizes = id_text(used[cluster]).dropna().value_counts()
    if sizes.empty:
        return []
    notes = []
    if (sizes == 1).all():
        notes.append(f"every cluster of {cluster!r} has one row: the cluster-robust SEs are then the robust "
                     "(MLR, Huber-White) ones and nothing is learnt about clustering (lavaan refuses this case)")
    elif len(sizes) < 20:
        notes.append(f"only {len(sizes)} clusters of {cluster!r}: cluster-robust SEs and the scaled test are "
                     "unreliable with fewer than about 20 to 50 clusters (they tend to be too small)")
    return notes


def _invariance(model, data, group, est, method, options, level, partial, criterion):
    """The invariance table up to ``level`` and, with ``partial="auto"``, the partial-invariance
    search whose freed parameters the table then leaves free."""
    from .psychometrics.invariance import (LEVELS, ORDINAL_LEVELS, measurement_invariance,
                                           partial_invariance)

    order = list(ORDINAL_LEVELS if est == "dwls" else LEVELS)
    if level not in order:
        raise PeerscaleError(f"{level!r} is not a level of the {'ordinal' if est == 'dwls' else 'continuous'} "
                             f"invariance sequence ({', '.join(order)})", value=level)
    common = dict(estimator=est.upper(), std_lv=options["std_lv"], missing=method,
                  parameterization=options.get("parameterization", "delta"), starts=options.get("starts", 0),
                  seed=options.get("seed"))
    search = None
    if isinstance(partial, str) and partial.strip().lower() == "auto":
        search = partial_invariance(model, data, group, level=level, criterion=criterion, **common)
        freed = search.partial
    elif isinstance(partial, str):
        freed = [x.strip() for x in partial.split(",") if x.strip()]
    else:
        freed = list(partial or [])
    table, _ = measurement_invariance(model, data, group, levels=order[:order.index(level) + 1],
                                      orthogonal=options.get("orthogonal", False), group_partial=freed, **common)
    table.attrs["partial"] = freed
    return table, search


def _compare_structures(structures, data, estimator, missing, done, advance) -> dict:
    """Fit rows of every structure (``done`` holds fits already made), and the nested test of
    one factor against correlated factors."""
    from .psychometrics.cfa import fit_cfa
    from .psychometrics.fit import fit_measures
    from .psychometrics.invariance import compare_models

    fits, rows = dict(done), {}
    for name, (text, extra) in structures.items():
        try:
            if name not in fits:
                fits[name] = fit_cfa(text, data, estimator=estimator.upper(), missing=missing, **extra)
                advance()
            rows[name] = {**fit_row(fits[name], fit_measures(fits[name])), "model": text}
        except (PeerscaleError, np.linalg.LinAlgError) as exc:
            advance()
            rows[name] = {"error": getattr(exc, "message", f"singular matrix ({exc})"), "model": text}
    if "one-factor" in fits and "correlated" in fits and estimator != "dwls":
        # one factor is the correlated-factors model with all factor correlations at 1: nested
        tab = compare_models(fits["correlated"], fits["one-factor"], names=["correlated", "one-factor"])
        row = tab.loc["one-factor"]
        rows["one-factor"]["vs_correlated"] = {"chisq_diff": float(row["chisq_diff"]), "df_diff": int(row["df_diff"]),
                                               "pvalue": float(row["pvalue"])}
    return rows


# --------------------------------------------------------------------------- ICC

class ICCAnalysis(_Result):
    """ICCs of the scale scores (``results[scale]`` an
    :class:`~peerscale.psychometrics.icc.ICCResult`)."""

    def __init__(self, results, design, what):
        self.results, self.design, self.what = results, design, what

    def to_dict(self) -> dict:
        return {name: r.to_dict() for name, r in self.results.items()}

    def to_frame(self):
        import pandas as pd

        rows = {name: {"n": r.n_targets, "k": r.n_raters, **{k: v for k, v in r.primary.items() if k != "description"}}
                for name, r in self.results.items()}
        return pd.DataFrame.from_dict(rows, orient="index")

    def summary(self) -> str:
        kind = "inter-rater" if self.design == "raters" else "test-retest"
        lines = [f"ICC, {kind} ({self.what}); primary ICC(2,1)"]
        for name, r in self.results.items():
            p = r.primary
            lines.append(f"  {name:<12} n = {r.n_targets:<5} ICC(2,1) = {_fmt(p['icc'], 2)} "
                         f"({_fmt(p['ci_lower'], 2)}–{_fmt(p['ci_upper'], 2)})")
        return "\n".join(lines)


def _score_frame(view, person_col, occasion):
    """Long (person, occasion, score) frames per scale for ``view``'s rows."""
    import pandas as pd

    from .scoring import keyed_matrix, scale_scores

    if not person_col:
        raise PeerscaleError("an ICC needs the respondent id column to match people",
                             hint="name it in `design` (respondent) or with `id_columns`")
    person = view.column(person_col).astype("string")
    rows = view.rows
    out = {}
    for scale in view.instrument.scales:
        score, _ = scale_scores(keyed_matrix(view._base.clean, view.instrument, scale)[rows], scale)
        out[scale.name] = pd.DataFrame({"person": person.to_numpy(), "occasion": occasion, "score": score})
    return out


def retest(responses, other=None, *, level: float = 0.95) -> ICCAnalysis:
    """Test-retest ICCs of each scale score across the design's waves (people matched by the
    respondent column), or between ``responses`` and ``other`` (a second wave in its own file).
    All six Shrout–Fleiss types; ICC(2,1) is the primary one (see
    :func:`peerscale.psychometrics.icc.icc`, which matches ``psych::ICC``)."""
    import pandas as pd

    from .psychometrics.icc import icc

    if other is None:
        view = responses.wave("all") if responses._selection is None else responses
        if len(view.waves) < 2:
            raise PeerscaleError("test-retest needs at least two waves", column=view.design.wave,
                                 hint="name the wave column (`design`), or give the second wave as its own file")
        frames = _score_frame(view, view.design.respondent, view.column(view.design.wave).to_numpy())
        what = f"{len(view.waves)} waves of {view.design.wave}"
    else:
        first = responses if responses._selection is not None else responses.wave("first")
        second = other if other._selection is not None else other.wave("all")
        a = _score_frame(first, first.design.respondent, "wave 1")
        b = _score_frame(second, second.design.respondent, "wave 2")
        frames = {name: pd.concat([a[name], b[name]], ignore_index=True) for name in a if name in b}
        what = "two files"
    results = {name: icc(f.dropna(subset=["occasion"]), targets="person", raters="occasion", ratings="score",
                         level=level, design="waves") for name, f in frames.items()}
    return ICCAnalysis(results, "waves", what)


def inter_rater(view, rater_column: str, *, level: float = 0.95) -> ICCAnalysis:
    """Inter-rater ICCs of each scale score: ``rater_column`` names the rater, targets are
    matched by the respondent column."""
    from .psychometrics.icc import icc

    frames = _score_frame(view, view.design.respondent, view.column(rater_column).to_numpy())
    results = {name: icc(f.dropna(subset=["occasion"]), targets="person", raters="occasion", ratings="score",
                         level=level, design="raters") for name, f in frames.items()}
    return ICCAnalysis(results, "raters", f"raters in {rater_column}")
