"""The report as a sequence of format-neutral blocks (:mod:`peerscale.report.blocks`), built once
from a :class:`~peerscale.report.build.Report` and rendered by :mod:`peerscale.report.html`
(inline SVG) and :mod:`peerscale.report.markdown` (PNG)."""

from __future__ import annotations

from datetime import datetime, timezone

from .blocks import DASH, Bullets, Code, Figure, Heading, Para, Section, Table, _slug, count, f2, pct
from .validation_section import validation_section


# --------------------------------------------------------------------------- sections

def title_blocks(r) -> tuple[str, list]:
    m = r.meta
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    title = f"{m['title']}: report"
    lead = (f"Instrument `{m['instrument']}`" + (f" version {m['version']}" if m["version"] else "")
            + (f" of `{m['source']}`" if m.get("source") else "") + f", generated {when} by peerscale {m['peerscale']}.")
    blocks = [Para(lead, "lead")]
    if (m.get("status") or "").lower() == "draft":
        blocks.append(Para("**DRAFT instrument.** These items are being piloted and have not been validated; there "
                           "are no norms. Read scores as descriptions of this sample, not as clinical or evaluative "
                           "judgements.", "draft"))
    return title, blocks


def sample_section(r) -> Section:
    s = r.sample
    rows = [["Rows in the file", count(s["n_rows"])]]
    if s["n_out_of_scope"]:
        rows.append(["Rows of other REDCap forms (not scored)", count(s["n_out_of_scope"])])
    rows.append(["Records reported on", count(s["n_in_scope"])])
    if s["respondent_id"]:
        rows.append([f"Distinct respondents (`{s['respondent_id']}`)", count(s["n_respondents"])])
    if r.waves:
        rows.append([f"Waves (`{r.waves['column']}`)", ", ".join(map(str, r.waves["waves"]))])
    for role, col in (s.get("design") or {}).items():
        if role in ("worker", "dyad", "group"):
            rows.append([f"Design: {role} column", f"`{col}`"])
    rows.append(["Items", count(r.meta["n_items"])])
    rows.append(["Records with no item answered", count(s["n_fully_empty"])])
    rows.append(["Invalid values" + (" (set to missing)" if s["invalid_handling"] == "missing" else ""),
                 count(s["invalid_values"])])
    sec = Section("sample", "Sample", [Table("Sample size and data checks", ["", "value"], rows, {1})])
    sec.blocks += [Para(f"Note: {w}", "note") for w in s["warnings"]]
    for name, why in (s.get("skipped_scales") or {}).items():
        sec.blocks.append(Para(f"Scale `{name}` was not scored: {why.replace('`', '')}.", "note"))
    if r.flags_note:
        sec.blocks.append(Para(f"Item flags and validation statistics: {r.flags_note}.", "note"))
    if r.validation is None:
        sec.blocks.append(Para("Validation statistics were not requested (run with `--validate`).", "note"))
    return sec


def _scored_table(r) -> Table:
    rows = []
    for sc in r.scales:
        rows.append([sc["name"] + (" (composite)" if sc["composite"] else ""), sc["label"],
                     f'{sc["n_items"]}' + (f' ({sc["n_reverse"]} R)' if sc["n_reverse"] else ""), sc["rule"],
                     count(sc["n_scored"]), count(sc["n_too_few"]), count(sc["n_none_answered"])])
    return Table("Respondents scored per scale, and why the others were not (R = reverse-keyed items)",
                 ["scale", "label", "items", "rule", "scored", "too few answered", "nothing answered"],
                 rows, {2, 4, 5, 6})


def _reasons(r) -> list:
    if not r.missing_reasons:
        return [Para("No answers were missing.")]
    names = [sc["name"] for sc in r.scales]
    rows = [[reason] + [count(by.get(n, 0)) for n in names] for reason, by in r.missing_reasons.items()]
    return [Table("Missing answers by reason, counted over each scale's items (an item in a composite is counted "
                  "again there)", ["reason"] + names, rows, set(range(1, len(names) + 1)))]


def _summary_table(r) -> Table:
    rows = []
    for sc in r.scales:
        st, rng = sc["stats"], sc["range"]
        rows.append([sc["name"], count(st["n"]), f2(st["mean"]), f2(st["sd"]), f2(st["min"]), f2(st["q1"]),
                     f2(st["median"]), f2(st["q3"]), f2(st["max"]), DASH if rng is None else f"{rng[0]:g} to {rng[1]:g}"])
    return Table("Scale scores: summary of scored respondents",
                 ["scale", "n", "mean", "SD", "min", "25th pct", "median", "75th pct", "max", "possible range"],
                 rows, set(range(1, 9)))


def _fraction(x: float) -> str:
    from fractions import Fraction

    f = Fraction(x).limit_denominator(1000)
    return f"{f.numerator}/{f.denominator}" if f.denominator != 1 else str(f.numerator)


def _bins_text(sc, h) -> str:
    """How the bars were binned, in words (the scores a scale can take, not arbitrary widths)."""
    if not h.get("step"):
        return "Bars are equal-width bins."
    kind = f"means of {sc['n_items']} items" if sc["method"] == "mean" else "sums"
    step = _fraction(h["step"])
    if h["per_bin"] == 1:
        return f"One bar per possible score ({kind} move in steps of {step})."
    return (f"Each bar holds {h['per_bin']} neighbouring possible scores ({kind} move in steps of {step}), "
            "so every bar covers the same number of them.")


def _histograms(r) -> list:
    figs = []
    for sc in r.scales:
        h, st = sc["histogram"], sc["stats"]
        cuts = [b["min"] for b in sc["bands"]["rows"][1:]] if sc.get("bands") and sc["bands"]["on"] == "score" else []
        if st["n"]:
            desc = (f"{st['n']} scored respondents, mean {f2(st['mean'])}, SD {f2(st['sd'])}, median "
                    f"{f2(st['median'])}, range {f2(st['min'])} to {f2(st['max'])}. Counts per bin from "
                    f"{h['edges'][0]:g} to {h['edges'][-1]:g}: " + ", ".join(map(str, h["counts"])) + ".")
        else:
            desc = "No respondent was scored on this scale."
        cap = f"{sc['name']}: {sc['label']} (n = {st['n']:,}); solid line: mean" + (
            "; dashed lines: band boundaries" if cuts else "") + f". {_bins_text(sc, h)}"
        figs.append(Figure("histogram", {"counts": h["counts"], "edges": h["edges"], "cuts": cuts,
                                         "mean": st["mean"], "xlabel": f"{sc['name']} score"},
                           f"Histogram of {sc['name']} scores", desc, cap, f"scores_{_slug(sc['name'])}", grid=True))
    return figs


def _bands(r) -> list:
    banded = [sc for sc in r.scales if sc.get("bands")]
    if not banded:
        return [Para("The instrument defines no interpretive bands.")]
    out = [Para("Bands are the scoring file's descriptive cut-offs on the score's own scale. They are not norms: "
                "no reference data exist for draft items.")]
    labels = [[(b["label"], b["min"], b["max"]) for b in sc["bands"]["rows"]] for sc in banded]
    if all(x == labels[0] for x in labels):  # same bands everywhere: one row per scale
        header = ["scale"] + [f"{lab} ({lo:g} to {'≤' if k == len(labels[0]) - 1 else '<'} {hi:g})"
                              for k, (lab, lo, hi) in enumerate(labels[0])]
        rows = [[sc["name"]] + [f"{count(b['n'])} ({pct(b['pct'])})" for b in sc["bands"]["rows"]] for sc in banded]
        out.append(Table("Respondents per interpretive band: n (% of scored)", header, rows,
                         set(range(1, len(header)))))
        return out
    rows = []
    for sc in banded:
        b = sc["bands"]
        for k, band in enumerate(b["rows"]):
            last = k == len(b["rows"]) - 1
            rows.append([sc["name"] if k == 0 else "", band["label"],
                         f"{band['min']:g} to {'≤' if last else '<'} {band['max']:g}", count(band["n"]), pct(band["pct"])])
    out.append(Table("Respondents per interpretive band", ["scale", "band", "score range", "n", "% of scored"], rows,
                     {3, 4}))
    return out


def _waves(r) -> list:
    w = r.waves
    out: list = [Para(f"Waves from column `{w['column']}`: {', '.join(map(str, w['waves']))}.")]
    if w.get("note"):
        out.append(Para(w["note"], "note"))
    if w["by_wave"]:
        rows = [[sc["name"]] + [f"{count(w['by_wave'][x][sc['name']]['n'])} / {f2(w['by_wave'][x][sc['name']]['mean'])}"
                                f" ({f2(w['by_wave'][x][sc['name']]['sd'])})" for x in w["waves"]] for sc in r.scales]
        out.append(Table("Scores by wave: n / mean (SD)", ["scale"] + [str(x) for x in w["waves"]], rows,
                         set(range(1, len(w["waves"]) + 1))))
    for ch in w["changes"]:
        rows = []
        for name, c in ch["scales"].items():
            ci = DASH if c["ci"] is None else f"[{f2(c['ci'][0])}, {f2(c['ci'][1])}]"
            rows.append([name, count(c["n_paired"]), f2(c["mean_before"]), f2(c["mean_after"]), f2(c["mean_change"]),
                         ci, f2(c["sd_change"]), f2(c["dz"])])
        out.append(Table(f"Paired change from {ch['from']} to {ch['to']} (respondents scored at both waves)",
                         ["scale", "n paired", "mean before", "mean after", "mean change", "95% CI", "SD of change",
                          "dz"], rows, set(range(1, 8))))
    if w["changes"]:
        out.append(Para("dz = mean change / SD of change, Cohen's standardised mean difference for paired data "
                        "(Cohen 1988; Lakens 2013). Respondents whose id occurs twice within a wave are left out of "
                        "the pairing.", "note"))
    return out


def scoring_section(r) -> Section:
    b = [Heading(3, "Who was scored", "scored"), _scored_table(r),
         Heading(3, "Missing answers by reason", "missing-reasons"), *_reasons(r),
         Heading(3, "Score summary", "score-summary"), _summary_table(r),
         Heading(3, "Score distributions", "distributions"), *_histograms(r),
         Heading(3, "Interpretive bands", "bands"), *_bands(r)]
    if r.waves:
        b += [Heading(3, "Change between waves", "waves"), *_waves(r)]
    return Section("scoring", "Scores", b)


def _item_figures(r) -> list:
    by_id = {it["id"]: it for it in r.items}
    out = []
    for g in r.item_groups:
        its = [by_id[i] for i in g["items"]]
        if g["categories"] is None:
            out.append(Para(f"{g['label']}: the items have no fixed response categories, so no distribution bars "
                            "are drawn.", "note"))
            continue
        parts = []
        for it in its:
            n = sum(it["counts"])
            dist = ", ".join(f"{c} {100 * k / n:.0f}%" for c, k in zip(g["categories"], it["counts"])) if n else "none"
            parts.append(f"{it['id']} (“{it['text']}”){' (reverse-keyed)' if it['reverse'] else ''}: {dist}")
        n_r = sum(it["reverse"] for it in its)
        cap = (f"{g['label']}: percentage of answers per category, as answered (not reversed), missing answers "
               "excluded; lower categories to the left of zero, higher to the right, a middle category split."
               + (f" (R) marks the {n_r} reverse-keyed item{'s' if n_r > 1 else ''}, where agreement means a lower "
                  "score." if n_r else ""))
        out.append(Figure("diverging", {"rows": [(it["id"], it["counts"], it["reverse"], it["text"]) for it in its],
                                        "categories": g["categories"]},
                          f"Response distribution of the {g['label']} items", "; ".join(parts) + ".", cap,
                          f"items_{_slug(g['group'])}"))
    return out


def _item_missing(r) -> Table:
    reasons: list[str] = []
    for it in r.items:
        reasons += [k for k in it["missing_by_reason"] if k not in reasons]
    rows = [[it["id"], count(it["n_answered"]), count(it["n_missing"]), pct(it["pct_missing"])]
            + [count(it["missing_by_reason"].get(k, 0)) for k in reasons] for it in r.items]
    return Table("Missing answers per item, by reason", ["item", "answered", "missing", "% missing"] + reasons, rows,
                 set(range(1, 4 + len(reasons))))


def _flags(r) -> list:
    if r.flag_rules is None:
        return [Para("No item analysis could be run, so there are no item flags.", "note")]
    rules = "; ".join(f"**{k}**: {v}" for k, v in r.flag_rules.items())
    where = f" ({r.flags_note})" if r.flags_note else ""
    out = [Para(f"Flags from the item analysis of each dimension scale{where}; item-total statistics on keyed items "
                f"(Nunnally & Bernstein 1994 for the .30 rule). Items are flagged, never changed. Rules: {rules}.")]
    rows = [[it["id"], scale, flag, message] for it in r.items for scale, flag, message in it["flags"]]
    if not rows:
        return out + [Para("No item was flagged.")]
    return out + [Table("Flagged items: check their wording and keying", ["item", "scale", "flag", "detail"], rows)]


def items_section(r) -> Section:
    return Section("items", "Items", [
        Heading(3, "Response distributions by dimension", "item-distributions"), *_item_figures(r),
        Heading(3, "Missing answers per item", "item-missing"), _item_missing(r),
        Heading(3, "Item flags", "item-flags"), *_flags(r),
        Heading(3, "Item wording", "item-text"),
        Table("Item wording", ["item", "dimension", "reverse-keyed", "text"],
              [[it["id"], it["group_label"], "yes" if it["reverse"] else "", it["text"]] for it in r.items])])


def findings_section(r) -> Section:
    """Plain-language findings first, for readers who stop after one page (see .findings)."""
    from .findings import findings

    return Section("findings", "Findings", [Bullets(findings(r))])


def methods_section(r) -> Section:
    b = [Para(r.methods, "methods"), Heading(3, "Reproduce this report", "reproduce")]
    b.append(Code(r.command) if r.command else Para("Made from the Python API; no command line to show.", "note"))
    return Section("methods", "Methods", b)


def document(r) -> tuple[str, list, list[Section]]:
    """(title, blocks under the title, sections) of the report."""
    title, head = title_blocks(r)
    head += [Para(n, "note") for n in r.notes]
    sections = [findings_section(r), sample_section(r), scoring_section(r), items_section(r)]
    if getattr(r, "irt", None):
        from .irt_section import irt_section

        sections.append(irt_section(r))
    if getattr(r, "design", None):
        from .design_section import design_section

        sections.append(design_section(r))
    if getattr(r, "mediation", None):
        from .mediation_section import mediation_section

        sections.append(mediation_section(r))
    if r.validation is not None:
        sections.append(validation_section(r))
    sections.append(methods_section(r))
    return title, head, sections
