"""Analyses that use the study design: dyads (young person and worker rate the same
relationship), nesting (young people share a worker) and change (the same people at two
waves). Written once for the command line (``peerscale dyads``, ``nesting``, ``change``), the
report and notebooks; :class:`~peerscale.responses.Responses` calls them.

- :func:`dyads`: links two forms (e.g. pbr-y and pbr-p) by the dyad column (or by the
  young person's id and the worker's id), lists every record without a partner, and per
  relationship dimension gives ICC(A,1), ICC(C,1) (as ``psych::ICC``), Pearson's r, the mean
  difference (second form − first) with its interval and Bland–Altman limits of agreement, on
  the items the banks pair (``pair``) or else on whole scales.
- :func:`nesting`: ICC(1) of each scale within workers (REML as ``lme4::lmer``, and one-way
  ANOVA), the design effect and the effective sample size.
- :func:`change`: per scale the paired change between two waves, d_z and the Jacobson–Truax
  reliable change index, with the people seen at one wave only counted and listed.

Every result has ``to_dict()`` (what ``--json`` prints), ``to_frame()`` and ``summary()``.
"""

from __future__ import annotations

import math
from dataclasses import replace

from .errors import PeerscaleError
from .spec import chosen_scales as _chosen


def _fmt(x, nd: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:.{nd}f}"


def _count(k) -> str:
    return "—" if k is None else str(k)


def _listed(values, limit: int = 10) -> str:
    values = list(values)
    text = ", ".join(str(v) for v in values[:limit])
    return text + (f" and {len(values) - limit} more" if len(values) > limit else "")


def _natural(key: str):
    """Sort key for ids: numbers inside compare as numbers (2 before 10, Y2 before Y10)."""
    import re

    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", str(key)) if t]


def _case_twins(a_only, b_only) -> list[str]:
    """Unmatched ids of one side that equal an unmatched id of the other side apart from letter
    case (``Y001`` and ``y001``): ids are compared as written, so these are said, not merged."""
    folded = {}
    for k in b_only:
        folded.setdefault(str(k).casefold(), k)
    return [f"{k} ~ {folded[str(k).casefold()]}" for k in a_only if str(k).casefold() in folded]


def _blank_wave_note(responses) -> str | None:
    """A note on the rows (in scope) whose wave cell is blank: no wave view holds them, so they
    would leave every per-wave analysis unseen."""
    values = responses._base.wave_values()
    if values is None:
        return None
    blank = responses._base.scope_mask() & values.isna().to_numpy()
    if not blank.any():
        return None
    rows = [int(i) + 1 for i in blank.nonzero()[0]]
    d = responses.design
    who = ""
    if d.respondent:
        ids = responses._base.table.data[d.respondent][blank].astype("string").tolist()
        who = " (" + _listed([i for i in ids if i is not None and i == i]) + ")"
    return (f"{len(rows)} row(s) without a wave in column {d.wave!r} (rows {_listed(rows)}){who}: in no wave, so "
            "not analysed")


FEW_PAIRS = 10  # below this many pairs a scale's agreement / change statistics get a note


def _few_pairs_note(counts: dict, what: str) -> str | None:
    """A note naming the scales whose statistics rest on fewer than :data:`FEW_PAIRS` pairs."""
    few = {name: k for name, k in counts.items() if 0 < k < FEW_PAIRS}
    if not few:
        return None
    named = ", ".join(f"{name} ({k} pair{'s' if k != 1 else ''})" for name, k in few.items())
    return (f"{named}: {what} rest on very few pairs (fewer than {FEW_PAIRS}) and are unstable; "
            "read them with caution")


class _Result:
    def summary(self) -> str:  # pragma: no cover - every result overrides it
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.summary()


def scale_scores_of(view, scale):
    """The scores of ``scale`` (a :class:`~peerscale.spec.Scale`, possibly restricted to some
    of its items) for ``view``'s rows, under the scale's rule."""
    from .scoring import keyed_matrix, scale_scores

    score, _ = scale_scores(keyed_matrix(view._base.clean, view.instrument, scale)[view.rows], scale)
    return score


def _restricted(scale, items):
    """``scale`` on a subset of its items (paired items), its missing-data rule kept (a count
    larger than the subset becomes the subset's size)."""
    keys = dict(zip(scale.items, scale.keys))
    ma = scale.min_answered if scale.min_answered < 1 else min(scale.min_answered, len(items))
    return replace(scale, items=tuple(items), keys=tuple(keys[i] for i in items), min_answered=ma)


def _wave_view(responses, wave, role: str):
    """``(view, wave used, how)``: the rows of ``wave`` (default the design's first wave)."""
    if not responses.waves:
        if wave not in (None, "first", "all"):
            raise PeerscaleError(f"`wave` {wave!r}: the {role} data have no wave column", file=responses.source,
                                 hint="name the wave column in the design (study.yaml wave:, --wave-column)")
        return responses.wave("all"), None, "no wave column: every row"
    view = responses.wave(wave or "first")
    used = view.waves[0] if len(view.waves) == 1 else None
    how = (f"wave {used} (the design's first)" if (wave or "first") == "first" else f"wave {used}") if used \
        else "all waves pooled"
    return view, used, how


def _keys(view, columns, role: str):
    """Text keys (columns joined by '/') of ``view``'s rows; None where a key column is blank.
    Ids are compared as :func:`peerscale.design.id_text` writes them: ``7``, ``7.0`` (a numeric
    column from SPSS, Excel or a CSV column with a blank) and ``"007"`` are one id."""
    import pandas as pd

    from .design import id_text

    parts = []
    for col in columns:
        if col not in view.data.columns:
            raise PeerscaleError(f"the link column {col!r} is not in the {role} data", file=view.source,
                                 column=col, hint="columns are: " + ", ".join(map(str, view.data.columns[:20])))
        parts.append(id_text(view.column(col)))
    key = parts[0]
    for p in parts[1:]:
        key = key + "/" + p
    return pd.Series(key.to_numpy(), index=key.index, dtype="string")


# --------------------------------------------------------------------------- dyads

class DyadAnalysis(_Result):
    """Agreement of two forms on the same relationships. ``scales[name]`` is the JSON entry,
    ``results[name]`` the :class:`~peerscale.psychometrics.agreement.AgreementResult`,
    ``unmatched`` the records without a partner on each side, ``link`` how they were linked."""

    def __init__(self, scales, results, unmatched, link, forms, notes, level):
        self.scales, self.results, self.unmatched, self.link = scales, results, unmatched, link
        self.forms, self.notes, self.level = forms, notes, level

    item_pairs: dict = {}

    def to_dict(self) -> dict:
        return {"link": self.link, "forms": self.forms, "scales": self.scales, "unmatched": self.unmatched,
                "item_pairs": self.item_pairs, "level": self.level, "notes": list(self.notes)}

    def to_frame(self):
        """One row per compared scale: n pairs, ICCs, r, mean difference, its interval and the
        limits of agreement."""
        import pandas as pd

        rows = {}
        for name, e in self.scales.items():
            rows[name] = {"basis": e["basis"], "n_pairs": e["n_pairs"], "icc_a1": e["icc_a1"], "icc_c1": e["icc_c1"],
                          "r": e["r"], "mean_diff": e["mean_diff"], "ci_lower": e["mean_diff_ci"][0],
                          "ci_upper": e["mean_diff_ci"][1], "loa_lower": e["loa"][0], "loa_upper": e["loa"][1]}
        return pd.DataFrame.from_dict(rows, orient="index")

    def summary(self) -> str:
        a, b = self.forms["a"]["instrument"], self.forms["b"]["instrument"]
        lines = [f"Dyads: {a} vs {b}, linked by {', '.join(self.link['columns'])}; "
                 f"{self.link['n_linked']} linked, unmatched {len(self.unmatched['y'])} ({a}) and "
                 f"{len(self.unmatched['p'])} ({b})",
                 f"{'scale':<12}{'basis':<15}{'n':>5}{'ICC(A,1)':>10}{'ICC(C,1)':>10}{'r':>7}{'diff':>8}"
                 f"{'95% CI':>16}{'LoA':>16}"]
        for name, e in self.scales.items():
            ci, loa = e["mean_diff_ci"], e["loa"]
            lines.append(f"{name:<12}{e['basis']:<15}{e['n_pairs']:>5}{_fmt(e['icc_a1']):>10}{_fmt(e['icc_c1']):>10}"
                         f"{_fmt(e['r'], 2):>7}{_fmt(e['mean_diff'], 2):>8}"
                         f"{_fmt(ci[0], 2) + ' to ' + _fmt(ci[1], 2):>16}{_fmt(loa[0], 2) + ' to ' + _fmt(loa[1], 2):>16}")
        return "\n".join(lines + self.notes)


def paired_scales(a_instrument, b_instrument) -> list[dict]:
    """Which scales of two forms compare, and on which items.

    For each scale of ``a_instrument`` (composites too): when its items name twins (``pair``)
    in ``b_instrument``, the scale of ``b_instrument`` holding most twins (the same name
    preferred) is compared on the paired items only (``basis`` "paired items"); otherwise a scale
    of the same name is compared whole ("whole scales"). Returns ``[{"name", "a", "b", "basis",
    "pairs"}]`` with the (restricted) scales."""
    from .spec import item_pairs

    out = []
    b_scales = {s.name: s for s in b_instrument.scales}
    all_twins = {p.a: p.b for p in item_pairs(a_instrument, b_instrument)}  # a pair declared on either side
    seen: dict[frozenset, str] = {}
    for sa in a_instrument.scales:
        twins = {i: all_twins[i] for i in sa.items if i in all_twins}
        paired = frozenset(twins)
        if twins and paired in seen:  # e.g. a composite whose only paired items are another's
            out.append({"name": sa.name, "same_as": seen[paired]})
            continue
        seen.setdefault(paired, sa.name)
        if twins:
            candidates = [s for s in b_instrument.scales if s.composite == sa.composite]
            best = max(candidates, key=lambda s: (len(set(twins.values()) & set(s.items)), s.name == sa.name),
                       default=None)
            if best is not None and set(twins.values()) & set(best.items):
                a_items = [i for i in sa.items if twins.get(i) in best.items]
                b_items = [twins[i] for i in a_items]
                out.append({"name": sa.name, "a": _restricted(sa, a_items), "b": _restricted(best, b_items),
                            "basis": "paired items", "pairs": [[i, twins[i]] for i in a_items],
                            "b_name": best.name, "of": [len(sa.items), len(best.items)]})
                continue
        if sa.name in b_scales:
            sb = b_scales[sa.name]
            out.append({"name": sa.name, "a": sa, "b": sb, "basis": "whole scales", "pairs": [], "b_name": sb.name,
                        "of": [len(sa.items), len(sb.items)]})
    return out


def dyads(young, worker, *, wave=None, link=None, level: float = 0.95) -> DyadAnalysis:
    """Agreement between two forms rating the same relationship (young person and worker).

    Parameters
    ----------
    young, worker : Responses
        The two exports (e.g. ``peerscale.read(y_file, "pbr-y")`` and ``peerscale.read(p_file, "pbr-p")``).
        Differences are worker − young person.
    wave : str, optional
        The wave to compare (a name, or ``"first"``: each file's first wave in study order, the
        default). A file without a wave column uses every row (said in ``link``).
    link : list of str, optional
        The columns that link a young person's record to the worker's record of the same
        relationship, in both files. Default: the design's dyad column; without one, the
        respondent and the worker columns.
    level : float, default 0.95
        Confidence level of the intervals.

    Returns
    -------
    DyadAnalysis
        ``to_dict()``: ``scales.<name>.{n_pairs, icc_a1, icc_c1, r, mean_diff, mean_diff_ci, loa,
        basis, pairs, ...}``, ``unmatched.{y, p}`` (the link keys of records without a partner,
        and of records without a key), ``link``.

    Notes
    -----
    Records are never dropped silently: a record whose link columns are blank, or whose partner
    is not in the other file (at that wave), is listed in ``unmatched``; a key given twice on one
    side is an error. Scales are compared on the items the banks pair (the ``pair`` field of
    the item bank), else on whole scales of the same name (``basis``); see
    :func:`paired_scales`. Statistics per scale: :func:`peerscale.psychometrics.agreement.agreement`.

    Examples
    --------
    As ``psych::ICC(cbind(y, p), lmer = FALSE)`` per dimension:

    >>> import peerscale
    >>> from peerscale.examples import path
    >>> y = peerscale.read(path("youth_export.csv"), "pbr-y")
    >>> p = peerscale.read(path("worker_export.csv"), "pbr-p")
    >>> res = peerscale.design_analyses.dyads(y, p)
    >>> res.scales["share"]["basis"], len(res.unmatched["y"])
    ('paired items', 11)
    """
    import pandas as pd

    from .psychometrics.agreement import agreement

    if not 0 < level < 1:
        raise PeerscaleError(f"`level` (the confidence level) must lie between 0 and 1, got {level}")
    if link is None:
        dy, dp = young.design, worker.design
        if dy.dyad and dp.dyad:
            link = [dy.dyad] if dy.dyad == dp.dyad else None
            if link is None:
                raise PeerscaleError(f"the two files name different dyad columns ({dy.dyad!r}, {dp.dyad!r})",
                                     hint="give the link columns with `link` (--dyad-column)")
        elif dy.dyad or dp.dyad:  # one file's study.yaml names it (the other file lies elsewhere)
            link = [dy.dyad or dp.dyad]
        elif dy.respondent and dy.worker and dp.worker:
            link = [dy.respondent, dy.worker]
        else:
            raise PeerscaleError("no column links the two forms: the design names no dyad column, nor the young "
                                 "person's and the worker's id columns",
                                 key="design.dyad", hint="name the dyad column (study.yaml dyad:, --dyad-column), or "
                                                         "the respondent and worker columns")
    link = [link] if isinstance(link, str) else list(link)
    vy, wave_y, how_y = _wave_view(young, wave, "young person")
    vp, wave_p, how_p = _wave_view(worker, wave, "worker")
    ky, kp = _keys(vy, link, "young person"), _keys(vp, link, "worker")
    for keys, view, role in ((ky, vy, "young person"), (kp, vp, "worker")):
        doubled = keys[keys.duplicated(keep=False) & keys.notna()]
        if len(doubled):
            raise PeerscaleError(f"{len(doubled.unique())} link key(s) appear more than once in the {role} data "
                                 f"({how_y if view is vy else how_p}): {_listed(doubled.unique())}",
                                 file=view.source, column=", ".join(link),
                                 hint="each relationship needs one record per form and wave; choose a wave "
                                      "(--wave) or check the ids")
    set_y, set_p = set(ky.dropna()), set(kp.dropna())
    mixed = wave_y is not None and wave_p is not None and wave_y != wave_p
    unmatched = {"y": sorted(set_y - set_p, key=_natural), "p": sorted(set_p - set_y, key=_natural)}
    notes = []
    if mixed:
        notes.append(f"the young person's records are of wave {wave_y} and the worker's of wave {wave_p} (each "
                     "file's first): ratings from different waves are compared; give `wave` to choose one")
    for role, keys, side in (("young person", ky, "y"), ("worker", kp, "p")):
        blank = int(keys.isna().sum())
        if blank:
            rows = [int(i) + 1 for i in keys.index[keys.isna()]]  # data rows from 1, as every message names rows
            unmatched[side] += [f"(row {r}: no {'/'.join(link)})" for r in rows]
            notes.append(f"{blank} {role} record(s) without a link key (rows {_listed(rows)}): not linked")
    for side, role in (("y", young.instrument.name), ("p", worker.instrument.name)):
        if unmatched[side]:
            notes.append(f"{len(unmatched[side])} {role} record(s) without a partner: {_listed(unmatched[side])}")
    common = sorted(set_y & set_p, key=_natural)
    twins = _case_twins(unmatched["y"], [k for k in unmatched["p"] if not k.startswith("(row ")])
    if twins:
        notes.append(f"{len(twins)} unmatched id(s) differ from an id of the other file only in letter case (ids "
                     f"are compared as written): {_listed(twins)}")
    if not common:
        raise PeerscaleError(f"no record links the two forms by {', '.join(link)} ({how_y}; {how_p})"
                             + (f"; {len(twins)} id(s) differ only in letter case, e.g. {twins[0]}" if twins else ""),
                             hint="check the link columns and the waves of the two files")
    pos_y = {k: i for i, k in enumerate(ky.tolist()) if not pd.isna(k)}
    pos_p = {k: i for i, k in enumerate(kp.tolist()) if not pd.isna(k)}
    iy = [pos_y[k] for k in common]
    ip = [pos_p[k] for k in common]
    pairs = paired_scales(vy.instrument, vp.instrument)
    if not pairs:
        raise PeerscaleError(f"instruments {young.instrument.name!r} and {worker.instrument.name!r} share no "
                             "paired items and no scale names: nothing to compare")
    scales, results = {}, {}
    for entry in pairs:
        if "same_as" in entry:
            notes.append(f"{entry['name']}: its paired items are those of {entry['same_as']}; not compared again")
            continue
        sy, sp = scale_scores_of(vy, entry["a"])[iy], scale_scores_of(vp, entry["b"])[ip]
        res = agreement(sy, sp, level=level)
        results[entry["name"]] = res
        d = res.to_dict()
        d.update({"label": entry["a"].label, "basis": entry["basis"], "worker_scale": entry["b_name"],
                  "n_items": [len(entry["a"].items), len(entry["b"].items)], "of_items": entry["of"],
                  "pairs": entry["pairs"], "composite": entry["a"].composite})
        scales[entry["name"]] = d
    few = _few_pairs_note({k: int(e["n_pairs"]) for k, e in scales.items()},
                          "the ICC and limits of agreement")
    if few:
        notes.append(few)
    item_pairs = _item_agreement(vy, vp, iy, ip, level)
    basis = sorted({e["basis"] for e in scales.values()})
    link_info = {"columns": link, "n_linked": len(common), "wave_y": wave_y, "wave_p": wave_p,
                 "how_y": how_y, "how_p": how_p, "basis": basis}
    forms = {"a": {"instrument": young.instrument.name, "file": young.source, "role": "young person"},
             "b": {"instrument": worker.instrument.name, "file": worker.source, "role": "worker"}}
    res = DyadAnalysis(scales, results, unmatched, link_info, forms, notes, level)
    res.item_pairs = item_pairs
    return res


def _item_agreement(vy, vp, iy, ip, level) -> dict:
    """Agreement of each pair of twin items (keyed answers) over the linked records:
    ``{young person item: {worker item, kind, n_pairs, icc_a1, icc_c1, r, mean_diff}}``; ``kind``
    says what agreement means (:attr:`peerscale.spec.ItemPair.kind`: shared, self-other...)."""
    from .psychometrics.agreement import agreement
    from .spec import item_pairs

    pairs = [p for p in item_pairs(vy.instrument, vp.instrument)
             if p.a in vy.instrument.scale_items() and p.b in vp.instrument.scale_items()]
    if not pairs:
        return {}
    ya, pa = vy.items(keyed=True), vp.items(keyed=True)
    out = {}
    for p in pairs:
        if p.a not in ya.columns or p.b not in pa.columns:
            continue
        res = agreement(ya[p.a].to_numpy()[iy], pa[p.b].to_numpy()[ip], level=level)
        d = res.to_dict()
        out[p.a] = {"worker_item": p.b, "kind": p.kind, "dimension": p.dimension_a, "n_pairs": d["n_pairs"],
                    "icc_a1": d["icc_a1"], "icc_c1": d["icc_c1"], "r": d["r"], "mean_diff": d["mean_diff"],
                    "reason": d["reason"]}
    return out


# --------------------------------------------------------------------------- nesting

class NestingAnalysis(_Result):
    """ICC(1) of each scale within workers. ``scales[name]`` is the JSON entry, ``results[name]``
    the :class:`~peerscale.psychometrics.nesting.NestingResult`."""

    def __init__(self, sample, worker_column, scales, results, clusters, notes):
        self.sample, self.worker_column, self.scales, self.results = sample, worker_column, scales, results
        self.clusters, self.notes = clusters, notes

    def to_dict(self) -> dict:
        return {"sample": self.sample, "worker_column": self.worker_column, "clusters": self.clusters,
                "scales": self.scales, "notes": list(self.notes)}

    def to_frame(self):
        """One row per scale: n, clusters, mean cluster size, ICC(1) (REML and ANOVA), design
        effect and effective n."""
        import pandas as pd

        cols = ("n", "n_clusters", "mean_cluster_size", "icc1", "icc1_anova", "design_effect", "effective_n")
        return pd.DataFrame.from_dict({n: {c: e.get(c) for c in cols} for n, e in self.scales.items()},
                                      orient="index")

    def summary(self) -> str:
        c = self.clusters
        lines = [f"Nesting in workers ({self.worker_column}): {c['n_clusters']} workers, "
                 f"{c['min']}–{c['max']} young people each (mean {_fmt(c['mean'], 2)}). Sample: {self.sample['note']}",
                 f"{'scale':<12}{'n':>6}{'ICC(1)':>9}{'ANOVA':>9}{'deff':>7}{'eff. n':>8}"]
        for name, e in self.scales.items():
            if e.get("reason"):
                lines.append(f"{name:<12}{e['n']:>6}  not estimated: {e['reason']}")
                continue
            lines.append(f"{name:<12}{e['n']:>6}{_fmt(e['icc1']):>9}{_fmt(e['icc1_anova']):>9}"
                         f"{_fmt(e['design_effect'], 2):>7}{_fmt(e['effective_n'], 0):>8}")
        return "\n".join(lines + self.notes)


def nesting(view, *, worker_column: str | None = None, scales=None) -> NestingAnalysis:
    """ICC(1) of each scale score within workers, the design effect and the effective n.

    Parameters
    ----------
    view : Responses
        The rows to analyse (the first wave by default, as every analysis: see
        :meth:`~peerscale.responses.Responses.wave`).
    worker_column : str, optional
        The column naming the worker (default: the design's ``worker``).
    scales : list of str, optional
        Scales to analyse (default: every scored scale, composites too).

    Returns
    -------
    NestingAnalysis
        ``to_dict()``: ``scales.<name>.{icc1, icc1_anova, design_effect, effective_n, n_clusters,
        mean_cluster_size, n, tau2, sigma2, reason, notes}``, ``clusters`` (sizes and the
        workers with one young person).

    Notes
    -----
    Per scale :func:`peerscale.psychometrics.nesting.nesting_icc`: REML ICC(1) of
    ``score ~ 1 + (1 | worker)`` as ``lme4::lmer``, one-way ANOVA ICC(1), design effect
    1 + (m − 1)·ICC(1) with m the mean cluster size. Rows without a worker or without a score
    are counted in the notes; workers with one young person are named and kept.

    Examples
    --------
    >>> import peerscale
    >>> from peerscale.examples import path
    >>> res = peerscale.read(path("youth_export.csv"), "pbr-y").nesting()
    >>> res.worker_column, res.scales["share"]["n_clusters"]
    ('worker_id', 40)
    """
    from .psychometrics.nesting import nesting_icc

    col = worker_column or view.design.worker
    if not col:
        raise PeerscaleError("nesting needs the column naming each young person's worker",
                             key="design.worker", hint="name it with `worker_column` (--worker-column) or "
                                                       "worker: in study.yaml")
    from .design import id_text

    workers = id_text(view.column(col))
    sizes = workers.dropna().value_counts()
    blank_wave = [n for n in (_blank_wave_note(view),) if n and view._selection not in (None, "all")]
    clusters, notes = _cluster_info(sizes, int(workers.isna().sum()), col, view.source, blank_wave)
    sample = view.sample()
    _pooled_note(sample, view.design, notes)
    inst = view.instrument
    chosen = _chosen(inst, list(inst.scales), scales)
    entries, results = {}, {}
    for scale in chosen:
        res = nesting_icc(scale_scores_of(view, scale), workers.to_numpy())
        results[scale.name] = res
        entries[scale.name] = {"label": scale.label, "composite": scale.composite, **res.to_dict()}
    return NestingAnalysis(sample, col, entries, results, clusters, notes)


def _cluster_info(sizes, rows_without_worker: int, col, source, first_notes=()):
    """The ``clusters`` entry and notes of a nesting analysis from the rows per worker."""
    if sizes.empty:
        raise PeerscaleError(f"the worker column {col!r} is empty in the rows analysed", column=col, file=source)
    singles = sorted(str(w) for w in sizes.index[sizes == 1])
    clusters = {"n_clusters": int(len(sizes)), "min": int(sizes.min()), "max": int(sizes.max()),
                "mean": float(sizes.mean()), "median": float(sizes.median()), "singletons": singles,
                "rows_without_worker": int(rows_without_worker)}
    notes = list(first_notes)
    folded: dict = {}
    for w in sizes.index:
        folded.setdefault(str(w).casefold(), []).append(str(w))
    alike = [" ~ ".join(v) for v in folded.values() if len(v) > 1]
    if alike:
        notes.append(f"{len(alike)} worker id(s) differ only in letter case and count as different workers: "
                     f"{_listed(alike)}")
    if singles:
        notes.append(f"{len(singles)} worker(s) with one young person (kept; they add nothing to the "
                     f"within-worker variance): {_listed(singles)}")
    if clusters["rows_without_worker"]:
        notes.append(f"{clusters['rows_without_worker']} row(s) without a worker id are left out")
    return clusters, notes


def _pooled_note(sample, design, notes) -> None:
    if sample.get("respondents", 0) < sample["rows"] and design.respondent:
        notes.append("some people have more than one row here (waves pooled?): the model treats rows as "
                     "independent within workers; analyse one wave (--wave) instead")


def nesting_from_stats(sample, design, inst, stats, *, scales=None, source=None) -> NestingAnalysis:
    """:func:`nesting` from per-worker statistics merged over chunks (``stats``: rows per worker,
    rows without a worker, and per scale the workers' score counts, means and within sums of
    squares; see :mod:`peerscale.chunked`): the same ICCs as from the rows in memory."""
    from .psychometrics.nesting import nesting_from_cluster_stats

    col = design.worker
    clusters, notes = _cluster_info(stats["sizes"], stats["no_worker"], col, source)
    _pooled_note(sample, design, notes)
    entries, results = {}, {}
    for scale in _chosen(inst, list(inst.scales), scales):
        per = stats["scales"][scale.name]
        scale_notes = []
        if stats["no_worker"]:
            scale_notes.append(f"{stats['no_worker']} row(s) without a cluster id left out")
        if per["no_score"]:
            scale_notes.append(f"{per['no_score']} row(s) without a score left out")
        c = per["clusters"]
        res = nesting_from_cluster_stats(c["n"].to_numpy(), c["mean"].to_numpy(), c["m2"].to_numpy(),
                                         notes=scale_notes)
        results[scale.name] = res
        entries[scale.name] = {"label": scale.label, "composite": scale.composite, **res.to_dict()}
    return NestingAnalysis(sample, col, entries, results, clusters, notes)


# --------------------------------------------------------------------------- change

class ChangeAnalysis(_Result):
    """Change of each scale between two waves. ``scales[name]`` is the JSON entry,
    ``results[name]`` the :class:`~peerscale.psychometrics.change.ChangeResult`, ``people`` who
    was seen at which wave, ``frame`` the per-respondent table (see :meth:`per_respondent`)."""

    def __init__(self, waves, people, scales, results, frame, notes, level):
        self.waves, self.people, self.scales, self.results = waves, people, scales, results
        self.frame, self.notes, self.level = frame, notes, level

    def to_dict(self) -> dict:
        return {"waves": self.waves, "people": self.people, "scales": self.scales, "level": self.level,
                "notes": list(self.notes)}

    def to_frame(self):
        """One row per scale: n, mean change with its interval, d_z, S_diff, r_xx and the counts."""
        import pandas as pd

        cols = ("n", "mean_change", "dz", "se_diff", "rxx", "rci_improved", "rci_unchanged", "rci_deteriorated")
        rows = {}
        for n, e in self.scales.items():
            rows[n] = {c: e.get(c) for c in cols}
            rows[n]["ci_lower"], rows[n]["ci_upper"] = e["ci"]
        return pd.DataFrame.from_dict(rows, orient="index")

    def per_respondent(self):
        """One row per respondent seen at either wave (``present``: both, or which wave only):
        per scale the two scores, the change, the RCI and the reliable-change category."""
        return self.frame.copy()

    def summary(self) -> str:
        w, p = self.waves, self.people
        lines = [f"Change from {w['from']} to {w['to']}: {p['both']} people at both waves, {p['from_only']} at "
                 f"{w['from']} only, {p['to_only']} at {w['to']} only",
                 f"{'scale':<12}{'n':>5}{'change':>9}{'95% CI':>18}{'d_z':>7}{'S_diff':>8}{'r_xx':>7}"
                 f"{'better':>8}{'same':>6}{'worse':>7}"]
        for name, e in self.scales.items():
            ci = e["ci"]
            lines.append(f"{name:<12}{e['n']:>5}{_fmt(e['mean_change']):>9}"
                         f"{_fmt(ci[0]) + ' to ' + _fmt(ci[1]):>18}{_fmt(e['dz'], 2):>7}{_fmt(e['se_diff']):>8}"
                         f"{_fmt(e['rxx'], 2):>7}{_count(e['rci_improved']):>8}{_count(e['rci_unchanged']):>6}"
                         f"{_count(e['rci_deteriorated']):>7}")
        return "\n".join(lines + self.notes)


def _wave_tags(from_wave, to_wave, scale_names) -> tuple[str, str]:
    """The wave parts of the per-respondent table's column names (``<scale>_<tag>``): the wave
    names made into names SPSS and Stata accept (``Baseline (Arm 1: Arm 1)`` ->
    ``Baseline_Arm_1_Arm_1``), or ``t1``/``t2`` when those are alike or a name would pass Stata's
    32 characters; the variable labels keep the wave names."""
    import re

    tags = [re.sub(r"[^0-9A-Za-z]+", "_", str(w)).strip("_") for w in (from_wave, to_wave)]
    longest = max((len(n) for n in scale_names), default=0) + 1
    if not all(tags) or tags[0] == tags[1] or longest + max(len(t) for t in tags) > 32:
        return "t1", "t2"
    return tags[0], tags[1]


def _reliability_for(reliability, name):
    if reliability is None:
        return None
    if isinstance(reliability, dict):
        return reliability.get(name)
    return reliability


def change(responses, *, from_wave: str, to_wave: str, reliability=None, scales=None,
           level: float = 0.95) -> ChangeAnalysis:
    """Change of each scale from one wave to another, with the Jacobson–Truax reliable change index.

    Parameters
    ----------
    responses : Responses
        An export with a wave column and a respondent column.
    from_wave, to_wave : str
        The two waves (names in the wave column).
    reliability : float or dict, optional
        r_xx for the RCI: one value for every scale, or ``{scale: value}``. Default: each
        scale's Cronbach's alpha at ``from_wave`` (all rows of that wave, as
        ``psych::alpha``); ``rxx_source`` says which was used.
    scales : list of str, optional
        Scales to analyse (default: every scored scale, composites too).
    level : float, default 0.95
        Confidence level of the mean change's interval.

    Returns
    -------
    ChangeAnalysis
        ``to_dict()``: ``scales.<name>.{n, mean_change, ci, dz, se_diff, rxx, rxx_source,
        rci_improved, rci_unchanged, rci_deteriorated, higher_is_better}``, ``people`` (seen at
        both waves, at one only, with their ids). ``per_respondent()`` is the table
        ``peerscale change -o`` writes.

    Notes
    -----
    People are matched by the respondent column. Those seen at one wave only are counted and
    listed (``people``), and kept in the per-respondent table with ``present`` saying which
    wave; they take no part in the statistics. Per scale
    :func:`peerscale.psychometrics.change.reliable_change`: S_diff = SD1·√2·√(1 − r_xx) with
    SD1 the SD of the first-wave scores of the people seen at both waves; improvement follows
    the scale's direction (``higher_is_better`` in the scoring file, default true).

    References
    ----------
    Jacobson, N. S., & Truax, P. (1991). Journal of Consulting and Clinical Psychology, 59, 12-19.

    Examples
    --------
    >>> import peerscale
    >>> from peerscale.examples import path
    >>> res = peerscale.read(path("youth_export.csv"), "pbr-y").change("baseline_arm_1", "followup_arm_1")
    >>> res.people["both"], res.people["from_only"]
    (259, 41)
    """
    import numpy as np
    import pandas as pd

    from .psychometrics.change import RCI_CUT, reliable_change
    from .psychometrics.reliability import cronbach_alpha

    d = responses.design
    if not d.wave:
        raise PeerscaleError("change needs a wave column", file=responses.source,
                             hint="name it in the design (study.yaml wave:, --wave-column)")
    if not d.respondent:
        raise PeerscaleError("change needs the respondent id column to match people across waves",
                             file=responses.source, key="design.respondent",
                             hint="name it with --respondent-column or respondent: in study.yaml")
    waves = list(responses.waves)
    declared = list(d.waves or [])
    shown = ", ".join(responses._base.wave_labels(waves))
    resolved = []
    for name, which in ((from_wave, "from_wave"), (to_wave, "to_wave")):
        if name is None:
            raise PeerscaleError(f"`{which}` is required", hint="waves: " + shown)
        found = responses._base.wave_name(name, waves)
        if found is None:
            if str(name).strip() in declared:
                raise PeerscaleError(f"wave {name!r} has no rows in the data: there is no measurement to compare",
                                     file=responses.source, column=d.wave, hint="waves with data: " + shown)
            raise PeerscaleError(f"`{which}` {name!r} is not a wave of column {d.wave!r}", file=responses.source,
                                 hint="waves: " + shown)
        resolved.append(found)
    from_wave, to_wave = resolved
    if str(from_wave) == str(to_wave):
        raise PeerscaleError(f"`from_wave` and `to_wave` are the same wave ({from_wave!r})",
                             hint="waves: " + ", ".join(waves))
    v1, v2 = responses.wave(str(from_wave)), responses.wave(str(to_wave))
    k1, k2 = _keys(v1, [d.respondent], "first-wave"), _keys(v2, [d.respondent], "second-wave")
    notes = [n for n in (_blank_wave_note(responses),) if n]
    for keys, view, w in ((k1, v1, from_wave), (k2, v2, to_wave)):
        doubled = keys[keys.duplicated(keep=False) & keys.notna()]
        if len(doubled):
            raise PeerscaleError(f"{len(doubled.unique())} respondent(s) have more than one row at wave {w}: "
                                 f"{_listed(doubled.unique())}", file=view.source, column=d.respondent,
                                 hint="each person needs one row per wave")
        blank = int(keys.isna().sum())
        if blank:
            notes.append(f"{blank} row(s) at wave {w} without a respondent id: not matched")
    ids1, ids2 = [k for k in k1.tolist() if not pd.isna(k)], [k for k in k2.tolist() if not pd.isna(k)]
    s1, s2 = set(ids1), set(ids2)
    both = [k for k in ids1 if k in s2]
    from_only = [k for k in ids1 if k not in s2]
    to_only = [k for k in ids2 if k not in s1]
    people = {"both": len(both), "from_only": len(from_only), "to_only": len(to_only),
              "from_only_ids": from_only, "to_only_ids": to_only}
    twins = _case_twins(from_only, to_only)
    if not both:
        raise PeerscaleError(f"no respondent has rows at both {from_wave} and {to_wave}: there is no second "
                             "measurement to compare"
                             + (f"; {len(twins)} id(s) differ only in letter case, e.g. {twins[0]}" if twins else ""),
                             file=responses.source, column=d.respondent,
                             hint="check the waves and that the respondent ids match across waves")
    if twins:
        notes.append(f"{len(twins)} id(s) seen at one wave only differ from an id at the other wave only in letter "
                     f"case (ids are compared as written): {_listed(twins)}")
    if from_only:
        notes.append(f"{len(from_only)} respondent(s) at {from_wave} only (no second measurement; not in the "
                     f"statistics, kept in the per-respondent table): {_listed(from_only)}")
    if to_only:
        notes.append(f"{len(to_only)} respondent(s) at {to_wave} only (not in the statistics, kept in the "
                     f"per-respondent table): {_listed(to_only)}")
    pos1 = {k: i for i, k in enumerate(k1.tolist()) if not pd.isna(k)}
    pos2 = {k: i for i, k in enumerate(k2.tolist()) if not pd.isna(k)}
    order = both + from_only + to_only
    frame = pd.DataFrame({d.respondent: order,
                          "present": ["both"] * len(both) + [f"{from_wave} only"] * len(from_only)
                                     + [f"{to_wave} only"] * len(to_only)})
    tags = _wave_tags(from_wave, to_wave, [s.name for s in _chosen(responses.instrument,
                                                                   list(responses.instrument.scales), scales)])
    i1 = np.array([pos1.get(k, -1) for k in order])
    i2 = np.array([pos2.get(k, -1) for k in order])
    inst = responses.instrument
    chosen = _chosen(inst, list(inst.scales), scales)
    entries, results = {}, {}
    for scale in chosen:
        a_all, b_all = scale_scores_of(v1, scale), scale_scores_of(v2, scale)
        a = np.where(i1 >= 0, a_all[np.maximum(i1, 0)], np.nan)
        b = np.where(i2 >= 0, b_all[np.maximum(i2, 0)], np.nan)
        given = _reliability_for(reliability, scale.name)
        why = None
        if given is not None:
            rxx, source = float(given), "given (--reliability)"
            if not 0 <= rxx < 1:
                raise PeerscaleError(f"`reliability` for {scale.name!r} is {rxx:g}; the RCI needs a value in [0, 1)")
        elif len(scale.items) < 2:
            rxx, source = math.nan, "none: a one-item scale has no alpha"
            why = "a one-item scale has no alpha: give `reliability` for the reliable change index"
        else:
            source = f"each scale's Cronbach's alpha at {from_wave}"
            try:
                rxx = float(cronbach_alpha(v1.keyed(scale.name)).alpha)
            except PeerscaleError as exc:
                rxx, why = math.nan, f"no alpha at {from_wave} ({exc.message}): no reliable change index"
            if math.isfinite(rxx) and not 0 <= rxx < 1:
                why = (f"alpha at {from_wave} is {rxx:.3f}, outside [0, 1): no reliable change index; give "
                       "`reliability`")
                rxx = math.nan
        n_pairs = len(both)
        if why is None and math.isfinite(rxx):
            res = reliable_change(a[:n_pairs], b[:n_pairs], rxx=rxx, higher_is_better=scale.higher_is_better,
                                  level=level)
        else:
            res = reliable_change(a[:n_pairs], b[:n_pairs], rxx=0.0, higher_is_better=scale.higher_is_better,
                                  level=level)
            res.se_diff, res.rxx = math.nan, math.nan
            res.rci[:] = np.nan
            res.rci_improved = res.rci_unchanged = res.rci_deteriorated = 0
            res.reason = why or source
        results[scale.name] = res
        entry = {"label": scale.label, "composite": scale.composite, **res.to_dict(), "rxx_source": source}
        entries[scale.name] = entry
        rci = np.full(len(order), np.nan)
        rci[:n_pairs] = res.rci
        better = rci > RCI_CUT if scale.higher_is_better else rci < -RCI_CUT
        worse = rci < -RCI_CUT if scale.higher_is_better else rci > RCI_CUT
        category = np.where(np.isnan(rci), "", np.where(better, "improved", np.where(worse, "deteriorated",
                                                                                      "unchanged")))
        frame[f"{scale.name}_{tags[0]}"] = a
        frame[f"{scale.name}_{tags[1]}"] = b
        frame[f"{scale.name}_change"] = b - a
        frame[f"{scale.name}_rci"] = rci
        frame[f"{scale.name}_reliable_change"] = pd.Series(category, dtype=object).replace("", None)
    few = _few_pairs_note({k: int(e["n"]) for k, e in entries.items()},
                          "the mean change, d_z and the alpha-based reliable change index (RCI)")
    if few:
        notes.append(few)
    waves_info = {"from": str(from_wave), "to": str(to_wave), "column": d.wave, "respondent_column": d.respondent,
                  "column_tags": list(tags)}
    return ChangeAnalysis(waves_info, people, entries, results, frame, notes, level)


def write_change(analysis: ChangeAnalysis, path, *, force: bool = False, protect=(), format: str | None = None):
    """Write the per-respondent change table atomically (any output format of
    :func:`peerscale.io.write_table`); the inputs in ``protect`` are never overwritten."""
    from .io import write_table
    from .io.table import OutputMeta

    w = analysis.waves
    labels = {w["respondent_column"]: "Respondent",
              "present": f"Seen at both waves or at one only ({w['from']}, {w['to']})"}
    categories, measure = {"present": ["both", f"{w['from']} only", f"{w['to']} only"]}, {}
    t1, t2 = w.get("column_tags") or (w["from"], w["to"])
    for name, e in analysis.scales.items():
        labels[f"{name}_{t1}"] = f"{name} at {w['from']}"
        labels[f"{name}_{t2}"] = f"{name} at {w['to']}"
        labels[f"{name}_change"] = f"{name}: change, {w['to']} minus {w['from']}"
        labels[f"{name}_rci"] = f"{name}: reliable change index (Jacobson-Truax), S_diff = {e['se_diff'] or 0:.4f}"
        labels[f"{name}_reliable_change"] = (f"{name}: reliable change (|RCI| > 1.96; "
                                             f"{'higher' if e['higher_is_better'] else 'lower'} is better)")
        categories[f"{name}_reliable_change"] = ["deteriorated", "unchanged", "improved"]
        for col in (f"{name}_{t1}", f"{name}_{t2}", f"{name}_change", f"{name}_rci"):
            measure[col] = "scale"
    meta = OutputMeta(variable_labels=labels, categories=categories, measure=measure,
                      file_label=f"Change from {w['from']} to {w['to']} (peerscale change)")
    return write_table(analysis.per_respondent(), path, format=format, force=force, protect=protect, meta=meta)


__all__ = ["dyads", "nesting", "change", "write_change", "paired_scales", "DyadAnalysis", "NestingAnalysis",
           "ChangeAnalysis"]
