"""The report's study-design section: agreement of the young person's and the worker's forms
(dyads, when the other form is given), clustering within workers (nesting, when the design
names a worker column) and reliable change for each pair of consecutive waves. The numbers
are those of ``peerscale dyads``, ``nesting`` and ``change`` (:mod:`peerscale.design_analyses`).
"""

from __future__ import annotations

import re

from .blocks import DASH, Heading, Para, Section, Table, count, f2


def _main_scale(scales: dict) -> str | None:
    """The scale a sentence speaks of: the first composite (e.g. pbr_core), else the first scale."""
    return next((k for k, v in scales.items() if v.get("composite")), next(iter(scales), None))


def _wave_pairs(waves: list) -> list[tuple]:
    pairs = list(zip(waves, waves[1:]))
    if len(waves) > 2:
        pairs.append((waves[0], waves[-1]))
    return pairs


def collect_design(responses, view, partner=None, notes=None) -> dict:
    """``{"dyads", "nesting", "change", "dyad_hint"}``: what the design allows, as the commands'
    ``--json``. A piece that cannot be computed is None and its reason goes to ``notes``."""
    from ..design_analyses import change, dyads, nesting
    from ..errors import PeerscaleError

    notes = notes if notes is not None else []
    out: dict = {"dyads": None, "nesting": None, "change": [], "dyad_hint": None}
    d = responses.design
    if partner is not None:
        try:
            out["dyads"] = dyads(responses, partner).to_dict()
        except PeerscaleError as exc:
            notes.append(f"Agreement with the other form could not be computed: {exc.message}")
    elif d.dyad:
        out["dyad_hint"] = d.dyad
    if d.worker:
        try:
            out["nesting"] = nesting(view).to_dict()
        except PeerscaleError as exc:
            notes.append(f"Clustering within workers could not be computed: {exc.message}")
    if d.wave and d.respondent and len(responses.waves) > 1:
        for a, b in _wave_pairs(list(responses.waves)):
            try:
                out["change"].append(change(responses, from_wave=a, to_wave=b).to_dict())
            except PeerscaleError as exc:
                notes.append(f"Reliable change from {a} to {b} could not be computed: {exc.message}")
    return out


def _dyad_blocks(dy: dict) -> list:
    lk, a, b = dy["link"], dy["forms"]["a"]["instrument"], dy["forms"]["b"]["instrument"]
    basis = " and ".join(lk["basis"])
    out = [Para(f"The young person ({a}) and the worker ({b}) rate the same relationship. Records were linked by "
                f"`{'`, `'.join(lk['columns'])}`: {count(lk['n_linked'])} relationships ({a}: {lk['how_y']}; {b}: "
                f"{lk['how_p']}). Scales are compared on {basis}. Differences are worker minus young person.")]
    rows = []
    for name, e in dy["scales"].items():
        ci, loa = e["mean_diff_ci"], e["loa"]
        rows.append([name, e["basis"], count(e["n_pairs"]), f2(e["icc_a1"]), f2(e["icc_c1"]), f2(e["r"]),
                     f2(e["mean_diff"]), f"[{f2(ci[0])}, {f2(ci[1])}]", f"{f2(loa[0])} to {f2(loa[1])}"])
    out.append(Table("Agreement of young person and worker per relationship dimension",
                     ["scale", "compared on", "pairs", "ICC(A,1)", "ICC(C,1)", "r", "mean difference", "95% CI",
                      "limits of agreement"], rows, {2, 3, 4, 5, 6}))
    name = _main_scale(dy["scales"])
    core = dy["scales"].get(name)
    if core and core.get("icc_a1") is not None:
        side = "higher" if core["mean_diff"] > 0 else "lower"
        out.append(Para(f"On {name}, workers rate the relationship {side} than young people by "
                        f"{f2(abs(core['mean_diff']))} points on average (95% CI {f2(core['mean_diff_ci'][0])} to "
                        f"{f2(core['mean_diff_ci'][1])}); absolute agreement ICC(A,1) = {f2(core['icc_a1'])}. For one "
                        f"relationship, the worker's score may lie {f2(core['loa'][0])} to {f2(core['loa'][1])} "
                        "points from the young person's (95% limits of agreement)."))
    for side, form in (("y", a), ("p", b)):
        keys = dy["unmatched"][side]
        if keys:
            shown = ", ".join(keys[:30]) + (f" and {len(keys) - 30} more" if len(keys) > 30 else "")
            out.append(Para(f"{len(keys)} {form} record(s) have no partner on the other form and are not compared: "
                            f"{shown}.", "note"))
    out.append(Para("ICC(A,1): two-way random effects, absolute agreement, single rating; ICC(C,1): consistency "
                    "(Shrout & Fleiss 1979; McGraw & Wong 1996; as psych::ICC). Limits of agreement: mean "
                    "difference ± 1.96 SD of the differences (Bland & Altman 1986).", "note"))
    return out


def _nesting_blocks(ne: dict) -> list:
    c = ne["clusters"]
    out = [Para(f"Young people share workers (`{ne['worker_column']}`): {count(c['n_clusters'])} workers with "
                f"{c['min']} to {c['max']} young people each (mean {f2(c['mean'])}). Scores of young people who "
                f"share a worker can be alike; ICC(1) is the share of score variance between workers. "
                f"Sample: {ne['sample']['note']}.")]
    rows = []
    for name, e in ne["scales"].items():
        rows.append([name, count(e["n"]), count(e["n_clusters"]), f2(e["mean_cluster_size"]), f2(e["icc1"], 3),
                     f2(e["icc1_anova"], 3), f2(e["design_effect"]), DASH if e["effective_n"] is None
                     else f"{e['effective_n']:.0f}"])
    out.append(Table("Clustering of scores within workers",
                     ["scale", "n", "workers", "mean per worker", "ICC(1)", "ICC(1) ANOVA", "design effect",
                      "effective n"], rows, set(range(1, 8))))
    main = _main_scale(ne["scales"])
    core = ne["scales"].get(main)
    if core and core.get("icc1") is not None:
        out.append(Para(f"For {main}, ICC(1) = {f2(core['icc1'], 3)}: with {f2(core['mean_cluster_size'])} young "
                        f"people per worker the design effect is {f2(core['design_effect'])}, so the {core['n']} "
                        f"young people carry about as much information as {core['effective_n']:.0f} independent "
                        "ones. Standard errors that ignore the workers are too small by a factor of about "
                        f"{core['design_effect'] ** 0.5:.2f}."))
    for e_name, e in ne["scales"].items():
        if e.get("reason"):
            out.append(Para(f"{e_name}: ICC(1) not estimated: {e['reason']}.", "note"))
    out += [Para(n, "note") for n in ne["notes"]]
    out.append(Para("ICC(1) from a random-intercept model fitted by REML (as lme4::lmer(score ~ 1 + (1 | worker))) "
                    "and from one-way ANOVA with n0 for unequal cluster sizes; design effect 1 + (m − 1)·ICC(1) "
                    "(Kish 1965), effective n = n / design effect.", "note"))
    return out


def _change_blocks(ch: dict) -> list:
    w, p = ch["waves"], ch["people"]
    out = [Para(f"From {w['from']} to {w['to']}: {count(p['both'])} people answered at both waves; "
                f"{count(p['from_only'])} at {w['from']} only and {count(p['to_only'])} at {w['to']} only, who "
                "are counted here and take no part in the change statistics.")]
    rows = []
    for name, e in ch["scales"].items():
        n = e["n"] or 0

        def share(k):
            return f"{count(k)} ({100 * k / n:.0f}%)" if n and k is not None and e["se_diff"] is not None else DASH

        ci = e["ci"]
        rows.append([name + ("" if e["higher_is_better"] else " (lower is better)"), count(n), f2(e["mean_change"]),
                     f"[{f2(ci[0])}, {f2(ci[1])}]", f2(e["dz"]), f2(e["rxx"]), f2(e["se_diff"]),
                     share(e["rci_improved"]), share(e["rci_unchanged"]), share(e["rci_deteriorated"])])
    out.append(Table(f"Reliable change from {w['from']} to {w['to']} (Jacobson & Truax 1991)",
                     ["scale", "n", "mean change", "95% CI", "dz", "r_xx", "S_diff", "reliably improved",
                      "no reliable change", "reliably deteriorated"], rows, set(range(1, 10))))
    sources = sorted({e["rxx_source"] for e in ch["scales"].values()})
    out.append(Para("RCI = change / S_diff with S_diff = SD1 · √2 · √(1 − r_xx) (SD1: the first-wave SD of the "
                    f"people seen at both waves; r_xx: {'; '.join(sources)}); |RCI| > 1.96 is change larger than "
                    "measurement error alone would give 95% of the time. Improvement is a higher score unless the "
                    "scoring file says otherwise.", "note"))
    return out


def design_section(r) -> Section:
    """The section, for a report whose ``design`` holds what :func:`collect_design` found."""
    d = r.design
    blocks: list = []
    if d.get("dyads"):
        blocks += [Heading(3, "Young person and worker: do they see the relationship alike?", "dyads"),
                   *_dyad_blocks(d["dyads"])]
    elif d.get("dyad_hint"):
        blocks += [Heading(3, "Young person and worker", "dyads"),
                   Para(f"The design names a dyad column (`{d['dyad_hint']}`). Give the worker form's export "
                        "(`--partner FILE`) to add the agreement of young person and worker.", "note")]
    if d.get("nesting"):
        blocks += [Heading(3, "Young people within workers", "nesting"), *_nesting_blocks(d["nesting"])]
    for ch in d.get("change") or []:
        w = ch["waves"]
        anchor = re.sub(r"[^0-9A-Za-z_-]+", "-", f"rci-{w['from']}-{w['to']}").strip("-")  # an HTML id: no spaces
        blocks += [Heading(3, f"Reliable change, {w['from']} to {w['to']}", anchor),
                   *_change_blocks(ch)]
    return Section("design", "Relationships, workers and change", blocks)


def _agreement_words(icc: float) -> str:
    """Koo & Li's (2016) reading of an ICC."""
    if icc < 0.5:
        return "poor agreement (below .50; Koo & Li 2016): one form cannot stand in for the other"
    if icc < 0.75:
        return "moderate agreement (.50 to .75; Koo & Li 2016): the forms are not interchangeable"
    if icc < 0.9:
        return "good agreement (.75 to .90; Koo & Li 2016)"
    return "excellent agreement (above .90; Koo & Li 2016)"


def design_findings(r) -> list[str]:
    """Plain-language findings from the design section (one sentence each), for the report's
    Findings: the two forms' agreement, clustering within workers, reliable change."""
    d = getattr(r, "design", None) or {}
    out = []
    dy = d.get("dyads")
    name = _main_scale(dy["scales"]) if dy else None
    e = dy["scales"].get(name) if name else None
    if e and e.get("icc_a1") is not None:
        lo, hi = e["mean_diff_ci"]
        side = "higher" if lo > 0 else ("lower" if hi < 0 else "about the same as")
        out.append(f"**Young person and worker.** On {name}, workers rated the relationship {side}"
                   f"{' than' if side != 'about the same as' else ''} young people ({e['mean_diff']:+.2f}, 95% CI "
                   f"{lo:+.2f} to {hi:+.2f}, {e['n_pairs']} pairs); absolute agreement ICC(A,1) = {e['icc_a1']:.2f}, "
                   f"{_agreement_words(e['icc_a1'])}. {len(dy['unmatched']['y'])} young person and "
                   f"{len(dy['unmatched']['p'])} worker record(s) had no partner.")
    ne = d.get("nesting")
    name = _main_scale(ne["scales"]) if ne else None
    e = ne["scales"].get(name) if name else None
    if e and e.get("icc1") is not None:
        out.append(f"**Workers.** {e['icc1'] * 100:.0f}% of the variance of {name} lies between workers (ICC(1) = "
                   f"{e['icc1']:.3f}); with {e['mean_cluster_size']:.1f} young people per worker the "
                   f"{e['n']} young people count as about {e['effective_n']:.0f} independent ones (design effect "
                   f"{e['design_effect']:.2f}). Analyses that ignore workers understate their uncertainty.")
    for ch in d.get("change") or []:
        name = _main_scale(ch["scales"])
        e = ch["scales"].get(name) if name else None
        if not e or not e["n"] or e.get("se_diff") is None or e.get("rci_improved") is None:
            continue
        w = ch["waves"]
        out.append(f"**Reliable change, {w['from']} to {w['to']}.** On {name}, {e['rci_improved']} of {e['n']} "
                   f"respondents ({100 * e['rci_improved'] / e['n']:.0f}%) improved by more than measurement error "
                   f"allows (Jacobson–Truax), {e['rci_deteriorated']} ({100 * e['rci_deteriorated'] / e['n']:.0f}%) "
                   f"got reliably worse; {ch['people']['from_only']} seen at {w['from']} only are not counted.")
    return out
