"""Render a :class:`~peerscale.report.build.Report` as one self-contained HTML page.

Styles are inline, charts are inline SVG (:mod:`peerscale.report.svg`), there are no
scripts, fonts, images or links to fetch: the page makes no network request. Headings go
h1 > h2 > h3 without skipping, every table has a ``<caption>``, every chart a title,
description and ``aria-label``; sizes are in rem so the page reflows at 200% zoom; a print
stylesheet hides navigation and keeps tables and figures whole.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from html import escape

from . import svg

CSS = """
:root { --ink: #222; --muted: #555; --line: #c8c8c8; --accent: #0072B2; --warn: #D55E00; }
html { font-size: 100%; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       line-height: 1.5; color: var(--ink); background: #fff; margin: 0; }
header, main, footer, nav { max-width: 64rem; margin: 0 auto; padding: 0 1rem; }
header { padding-top: 1.5rem; }
h1 { font-size: 1.9rem; line-height: 1.2; margin: 0 0 .5rem; }
h2 { font-size: 1.45rem; margin: 2.5rem 0 .75rem; padding-bottom: .2rem; border-bottom: .15rem solid var(--accent); }
h3 { font-size: 1.15rem; margin: 1.75rem 0 .5rem; }
p, li { max-width: 48rem; }
.lead { color: var(--muted); margin: 0; }
.draft { border-left: .35rem solid var(--warn); background: #fdf1e8; padding: .6rem 1rem; margin: 1rem 0; }
.note { color: var(--muted); font-size: .95rem; }
.skip { position: absolute; left: -100rem; }
.skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .5rem; }
nav ol { columns: 2 16rem; padding-left: 1.25rem; }
.table-wrap { overflow-x: auto; margin: .75rem 0 1.25rem; }
table { border-collapse: collapse; font-size: .92rem; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: .3rem 0; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { border-bottom: .12rem solid var(--ink); }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.muted { color: var(--muted); }
.flag { color: #A63D00; font-weight: 600; }
.ok { font-weight: 600; }
figure { margin: 1rem 0 1.5rem; }
figcaption { font-size: .92rem; color: var(--muted); margin-top: .25rem; }
svg.chart { width: 100%; height: auto; display: block; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 26rem), 1fr)); gap: 0 1.5rem; }
pre { white-space: pre-wrap; word-break: break-all; background: #f3f3f3; padding: .75rem 1rem; font-size: .9rem; }
.methods { background: #f7f7f7; padding: .75rem 1rem; border-left: .35rem solid var(--accent); }
footer { color: var(--muted); font-size: .9rem; margin-top: 3rem; padding-bottom: 2rem; }
@media print {
  nav, .skip { display: none; }
  body { font-size: 10pt; }
  header, main, footer { max-width: none; }
  h2 { break-before: page; }
  h2, h3 { break-after: avoid; }
  figure, table, tr, .methods { break-inside: avoid; }
  .table-wrap { overflow: visible; }
  .grid { display: block; }
}
"""

DASH = "–"
SCREE_MAX = 24


# --------------------------------------------------------------------------- small helpers

def f2(x, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return DASH
    return f"{x:.{digits}f}"


def pct(x) -> str:
    return DASH if x is None else f"{x:.1f}%"


def count(x) -> str:
    return DASH if x is None else f"{int(x):,}"


def table(caption: str, header: list[str], rows: list[list], numeric: set[int] = frozenset(),
          row_headers: bool = True, cls: str = "") -> str:
    """A captioned table; cells are pre-escaped strings; column indices in ``numeric`` align right.

    The first cell of each body row is a row header (``<th scope="row">``) when ``row_headers``.
    """
    attr = f' class="{cls}"' if cls else ""
    out = [f'<div class="table-wrap"><table{attr}><caption>{escape(caption)}</caption><thead><tr>']
    for j, h in enumerate(header):
        c = ' class="num"' if j in numeric else ""
        out.append(f'<th scope="col"{c}>{h}</th>')
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>")
        for j, cell in enumerate(row):
            c = ' class="num"' if j in numeric else ""
            if j == 0 and row_headers:
                out.append(f'<th scope="row"{c}>{cell}</th>')
            else:
                out.append(f"<td{c}>{cell}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def figure(svg_text: str, caption: str) -> str:
    return f"<figure>{svg_text}<figcaption>{escape(caption)}</figcaption></figure>"


def e(x) -> str:
    return escape(str(x))


# --------------------------------------------------------------------------- sections

def _header(r) -> str:
    m = r.meta
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    src = f" of <code>{e(m['source'])}</code>" if m.get("source") else ""
    out = [f"<header><h1>{e(m['title'])}: report</h1>",
           f'<p class="lead">Instrument <code>{e(m["instrument"])}</code>'
           + (f" version {e(m['version'])}" if m["version"] else "")
           + f"{src}, generated {when} by peerscale {e(m['peerscale'])}.</p>"]
    if (m.get("status") or "").lower() == "draft":
        out.append('<p class="draft"><strong>DRAFT instrument.</strong> These items are being piloted and have '
                   "not been validated; there are no norms. Read scores as descriptions of this sample, not as "
                   "clinical or evaluative judgements.</p>")
    out.append("</header>")
    return "".join(out)


def _nav(sections: list[tuple[str, str]]) -> str:
    links = "".join(f'<li><a href="#{sid}">{e(title)}</a></li>' for sid, title in sections)
    return f'<nav aria-label="Contents"><h2 id="contents">Contents</h2><ol>{links}</ol></nav>'


def _sample(r) -> str:
    s = r.sample
    rows = [["Rows in the file", count(s["n_rows"])]]
    if s["n_out_of_scope"]:
        rows.append(["Rows of other REDCap forms (not scored)", count(s["n_out_of_scope"])])
    rows.append(["Records reported on", count(s["n_in_scope"])])
    if s["respondent_id"]:
        rows.append([f"Distinct respondents (<code>{e(s['respondent_id'])}</code>)", count(s["n_respondents"])])
    if r.waves:
        rows.append([f"Waves (<code>{e(r.waves['column'])}</code>)", e(", ".join(map(str, r.waves["waves"])))])
    rows.append(["Items", count(r.meta["n_items"])])
    rows.append(["Records with no item answered", count(s["n_fully_empty"])])
    rows.append(["Invalid values" + (" (set to missing)" if s["invalid_handling"] == "missing" else ""),
                 count(s["invalid_values"])])
    out = ['<section id="sample" aria-labelledby="sample-h"><h2 id="sample-h">Sample</h2>',
           table("Sample size and data checks", ["", "value"], rows, numeric={1})]
    for w in s["warnings"]:
        out.append(f'<p class="note">Note: {e(w)}</p>')
    if r.validation is None:
        out.append('<p class="note">Validation statistics were not requested (run with <code>--validate</code>).</p>')
    out.append("</section>")
    return "".join(out)


def _scored_table(r) -> str:
    rows = []
    for sc in r.scales:
        name = e(sc["name"]) + (" <span class=\"muted\">(composite)</span>" if sc["composite"] else "")
        rows.append([name, e(sc["label"]), f'{sc["n_items"]}' + (f' ({sc["n_reverse"]} R)' if sc["n_reverse"] else ""),
                     e(sc["rule"]), count(sc["n_scored"]), count(sc["n_too_few"]), count(sc["n_none_answered"])])
    return table("Respondents scored per scale, and why the others were not",
                 ["scale", "label", "items", "rule", "scored", "not scored: too few answered",
                  "not scored: nothing answered"], rows, numeric={2, 4, 5, 6})


def _reasons_table(r) -> str:
    if not r.missing_reasons:
        return "<p>No answers were missing.</p>"
    names = [sc["name"] for sc in r.scales]
    rows = [[e(reason)] + [count(by.get(n, 0)) for n in names] for reason, by in r.missing_reasons.items()]
    return table("Missing answers by reason, counted over each scale's items (an item in a composite is counted "
                 "again there)", ["reason"] + [e(n) for n in names], rows, numeric=set(range(1, len(names) + 1)))


def _summary_table(r) -> str:
    rows = []
    for sc in r.scales:
        st = sc["stats"]
        rng = sc["range"]
        rows.append([e(sc["name"]), count(st["n"]), f2(st["mean"]), f2(st["sd"]), f2(st["min"]), f2(st["q1"]),
                     f2(st["median"]), f2(st["q3"]), f2(st["max"]),
                     DASH if rng is None else f"{rng[0]:g} to {rng[1]:g}"])
    return table("Scale scores: summary of scored respondents",
                 ["scale", "n", "mean", "SD", "min", "25th pct", "median", "75th pct", "max", "possible range"],
                 rows, numeric=set(range(1, 9)))


def _distributions(r) -> str:
    figs = []
    for sc in r.scales:
        h, st = sc["histogram"], sc["stats"]
        cuts = []
        if sc.get("bands") and sc["bands"]["on"] == "score":
            rows = sc["bands"]["rows"]
            cuts = [(b["min"], "") for b in rows[1:]]
        label = f"Histogram of {sc['name']} scores"
        if st["n"]:
            desc = (f"{st['n']} scored respondents, mean {f2(st['mean'])}, SD {f2(st['sd'])}, median "
                    f"{f2(st['median'])}, range {f2(st['min'])} to {f2(st['max'])}. Counts per bin from "
                    f"{h['edges'][0]:g} to {h['edges'][-1]:g}: " + ", ".join(map(str, h["counts"])) + ".")
        else:
            desc = "No respondent was scored on this scale."
        chart = svg.histogram(h["counts"], h["edges"], label=label, desc=desc, xlabel=f"{sc['name']} score",
                              cuts=cuts, mean=st["mean"])
        cap = f"{sc['name']}: {sc['label']} (n = {st['n']:,}); solid line: mean" + (
            "; dashed lines: band boundaries." if cuts else ".")
        figs.append(figure(chart, cap))
    return '<div class="grid">' + "".join(figs) + "</div>"


def _bands_table(r) -> str:
    rows = []
    for sc in r.scales:
        b = sc.get("bands")
        if not b:
            continue
        for k, band in enumerate(b["rows"]):
            last = k == len(b["rows"]) - 1
            rng = f"{band['min']:g} to {'≤' if last else '<'} {band['max']:g}"
            rows.append([e(sc["name"]) if k == 0 else "", e(band["label"]), rng, count(band["n"]), pct(band["pct"])])
        if b.get("n_outside"):
            rows.append(["", "outside every band", "", count(b["n_outside"]), ""])
    if not rows:
        return "<p>The instrument defines no interpretive bands.</p>"
    return ("<p>Bands are the scoring file's descriptive cut-offs on the score's own scale. They are not norms: "
            "no reference data exist for draft items.</p>"
            + table("Respondents per interpretive band", ["scale", "band", "score range", "n", "% of scored"], rows,
                    numeric={3, 4}))


def _waves(r) -> str:
    w = r.waves
    out = [f"<p>Waves from column <code>{e(w['column'])}</code>: {e(', '.join(map(str, w['waves'])))}.</p>"]
    if w.get("note"):
        out.append(f'<p class="note">{e(w["note"])}</p>')
    if w["by_wave"]:
        waves = w["waves"]
        header = ["scale"] + [f"{e(x)}: n / mean (SD)" for x in waves]
        rows = []
        for sc in r.scales:
            cells = [e(sc["name"])]
            for x in waves:
                st = w["by_wave"][x][sc["name"]]
                cells.append(f"{count(st['n'])} / {f2(st['mean'])} ({f2(st['sd'])})")
            rows.append(cells)
        out.append(table("Scores by wave", header, rows, numeric=set(range(1, len(waves) + 1))))
    for ch in w["changes"]:
        rows = []
        for name, c in ch["scales"].items():
            ci = DASH if c["ci"] is None else f"[{f2(c['ci'][0])}, {f2(c['ci'][1])}]"
            rows.append([e(name), count(c["n_paired"]), f2(c["mean_before"]), f2(c["mean_after"]),
                         f2(c["mean_change"]), ci, f2(c["sd_change"]), f2(c["dz"])])
        out.append(table(f"Paired change from {ch['from']} to {ch['to']} (respondents scored at both)",
                         ["scale", "n paired", "mean before", "mean after", "mean change", "95% CI",
                          "SD of change", "d<sub>z</sub>"], rows, numeric=set(range(1, 8))))
    if w["changes"]:
        out.append('<p class="note">d<sub>z</sub> = mean change / SD of change (Cohen 1988; Lakens 2013). '
                   "Respondents whose id occurs twice within a wave are left out of the pairing.</p>")
    return "".join(out)


def _scoring(r) -> str:
    out = ['<section id="scoring" aria-labelledby="scoring-h"><h2 id="scoring-h">Scores</h2>',
           '<h3 id="scored">Who was scored</h3>', _scored_table(r),
           '<h3 id="missing-reasons">Missing answers by reason</h3>', _reasons_table(r),
           '<h3 id="score-summary">Score summary</h3>', _summary_table(r),
           '<h3 id="distributions">Score distributions</h3>', _distributions(r),
           '<h3 id="bands">Interpretive bands</h3>', _bands_table(r)]
    if r.waves:
        out += ['<h3 id="waves">Change between waves</h3>', _waves(r)]
    out.append("</section>")
    return "".join(out)


def _item_charts(r) -> str:
    by_id = {it["id"]: it for it in r.items}
    out = []
    for g in r.item_groups:
        its = [by_id[i] for i in g["items"]]
        if g["categories"] is None:
            out.append(f'<p class="note">{e(g["label"])}: items have no fixed response categories, so no '
                       "distribution bars are drawn.</p>")
            continue
        rows = [(it["id"], it["counts"], it["reverse"]) for it in its]
        parts = []
        for it in its:
            n = sum(it["counts"])
            dist = ", ".join(f"{c} {100 * k / n:.0f}%" for c, k in zip(g["categories"], it["counts"])) if n else "none"
            parts.append(f"{it['id']}{' (reverse-keyed)' if it['reverse'] else ''}: {dist}")
        label = f"Response distribution of the {g['label']} items"
        chart = svg.diverging_bars(rows, g["categories"], label=label, desc="; ".join(parts) + ".")
        n_r = sum(it["reverse"] for it in its)
        cap = (f"{g['label']}: percentage of answers per category, as answered (not reversed), missing answers "
               "excluded; disagreement to the left of zero, agreement to the right, the middle category split."
               + (f" (R) marks the {n_r} reverse-keyed item{'s' if n_r > 1 else ''}, where agreement means a "
                  "lower score." if n_r else ""))
        out.append(figure(chart, cap))
    return "".join(out)


def _item_text_table(r) -> str:
    rows = [[e(it["id"]), e(it["group_label"]), "yes" if it["reverse"] else "", e(it["text"])] for it in r.items]
    return table("Item wording", ["item", "dimension", "reverse-keyed", "text"], rows)


def _item_missing_table(r) -> str:
    reasons = []
    for it in r.items:
        for k in it["missing_by_reason"]:
            if k not in reasons:
                reasons.append(k)
    rows = []
    for it in r.items:
        rows.append([e(it["id"]), count(it["n_answered"]), count(it["n_missing"]), pct(it["pct_missing"])]
                    + [count(it["missing_by_reason"].get(k, 0)) for k in reasons])
    return table("Missing answers per item, by reason", ["item", "answered", "missing", "% missing"]
                 + [e(k) for k in reasons], rows, numeric=set(range(1, 4 + len(reasons))))


def _flags_table(r) -> str:
    rows = []
    for it in r.items:
        for fl in it["flags"]:
            rows.append([e(it["id"]), e(fl)])
    rule = r.validation.get("flag_rules") if r.validation else None
    intro = f"<p>{e(rule)}</p>" if rule else ""
    if r.validation is None or r.validation.get("item_flags") is None:
        return ('<p class="note">Item flags need the item analysis: run with <code>--validate</code>.</p>')
    if not rows:
        return intro + "<p>No item was flagged.</p>"
    return intro + table("Flagged items (flagged, never changed: check wording and keying)", ["item", "flag"], rows)


def _items(r) -> str:
    return "".join([
        '<section id="items" aria-labelledby="items-h"><h2 id="items-h">Items</h2>',
        '<h3 id="item-distributions">Response distributions by dimension</h3>', _item_charts(r),
        '<h3 id="item-missing">Missing answers per item</h3>', _item_missing_table(r),
        '<h3 id="item-flags">Item flags</h3>', _flags_table(r),
        '<h3 id="item-text">Item wording</h3>', _item_text_table(r),
        "</section>"])


# --------------------------------------------------------------------------- validation

def _factorability_html(v) -> str:
    f = v.get("factorability")
    if not f:
        return ""
    out = []
    if "kmo" in f:
        low = sorted(f["kmo_items"].items(), key=lambda kv: kv[1])[:5]
        out.append(f"<p>Kaiser–Meyer–Olkin measure of sampling adequacy: <strong>{f2(f['kmo'])}</strong> "
                   f"(lowest items: {e(', '.join(f'{k} {x:.2f}' for k, x in low))}).")
    if "bartlett" in f:
        b = f["bartlett"]
        pv = "< .001" if b["pvalue"] < 0.001 else f"= {b['pvalue']:.3f}"
        out.append(f" Bartlett's test of sphericity: χ²({b['df']}) = {b['chisq']:.1f}, p {pv}, n = {b['n']}.")
    out.append("</p>")
    return "".join(out)


def _parallel_html(v) -> str:
    p = v.get("parallel")
    if not p:
        return ""
    shown = min(len(p["observed_fa"]), SCREE_MAX)
    obs, ref = p["observed_fa"][:shown], p["simulated_fa"][:shown]
    desc = ("Eigenvalues of the reduced correlation matrix by factor number. Observed: "
            + ", ".join(f"{x:.2f}" for x in obs[:12]) + ". Parallel-analysis 95th percentile: "
            + ", ".join(f"{x:.2f}" for x in ref[:12])
            + f". The first {p['n_factors']} observed eigenvalues lie above the reference line.")
    chart = svg.scree(obs, ref, label="Scree plot with parallel analysis", desc=desc,
                      observed_name="observed (factors)", reference_name="parallel analysis, 95th percentile")
    return (figure(chart, f"Scree plot: observed factor eigenvalues against the 95th percentile of "
                          f"{p['iterations']} simulated data sets. Parallel analysis suggests {p['n_factors']} "
                          f"factor(s) and {p['n_components']} component(s)."
                          + (f" The first {shown} of {len(p['observed_fa'])} positions are shown."
                             if shown < len(p["observed_fa"]) else "")))


def _efa_html(v) -> str:
    from .validation import SMALL_LOADING

    f = v.get("efa")
    if not f:
        return ""
    k = f["n_factors"]
    names = [f"F{j + 1}" for j in range(k)]
    rows = []
    for item, lam, h2 in zip(f["columns"], f["loadings"], f["communalities"]):
        best = max(range(k), key=lambda j: abs(lam[j]))
        cells = []
        for j, x in enumerate(lam):
            if abs(x) < SMALL_LOADING:
                cells.append("")
            else:
                cells.append(f"<strong>{x:.2f}</strong>" if j == best else f"{x:.2f}")
        rows.append([e(item)] + cells + [f2(h2)])
    rows.append(["SS loadings"] + [f2(x) for x in f["ss_loadings"]] + [""])
    rows.append(["proportion of variance"] + [f2(x) for x in f["proportion"]] + [""])
    out = [f"<p>{k} factor{'s' if k > 1 else ''} ({e(f['chosen_by'])}), {e(f['method'])} extraction, "
           f"{e(f['rotation'])} rotation{'' if f['converged'] else '; <strong>did not converge</strong>'}. "
           f"Loadings below {SMALL_LOADING:.2f} in absolute value are left blank; each item's largest loading "
           "is in bold.</p>",
           table(f"EFA pattern loadings ({k} factors), communalities h²", ["item"] + names + ["h²"], rows,
                 numeric=set(range(1, k + 2)))]
    if k > 1:
        phi = [[e(names[i])] + [f2(x) for x in row] for i, row in enumerate(f["phi"])]
        out.append(table("EFA factor correlations", [""] + names, phi, numeric=set(range(1, k + 1))))
    return "".join(out)


def _cfa_html(v) -> str:
    from .validation import CUTOFFS

    c = v.get("cfa")
    if not c:
        return ""
    fit = c["fit"]
    lo, hi = fit["rmsea_ci"]
    pv = "< .001" if fit["pvalue"] < 0.001 else f"{fit['pvalue']:.3f}"

    def verdict(key):
        ok = c["meets"].get(key)
        return DASH if ok is None else ('<span class="ok">✓ meets</span>' if ok else
                                        '<span class="flag">✗ does not meet</span>')

    rows = [["χ² (df)", f"{fit['chisq']:.2f} ({fit['df']})", "", ""], ["p", pv, "", ""]]
    for key, label in (("cfi", "CFI"), ("tli", "TLI"), ("rmsea", "RMSEA"), ("srmr", "SRMR")):
        op, cut = CUTOFFS[key]
        value = f2(fit[key], 3) + (f" [{f2(lo, 3)}, {f2(hi, 3)}]" if key == "rmsea" else "")
        rows.append([label, value, f"{'≥' if op == '>=' else '≤'} {cut:.2f}", verdict(key)])
    rows += [["AIC", f"{fit['aic']:.1f}", "", ""], ["BIC", f"{fit['bic']:.1f}", "", ""]]
    factors = len({x["factor"] for x in c["loadings_std"]})
    out = [f"<p>Correlated {factors}-factor model of the instrument, {e(c['estimator'])} estimation, listwise "
           f"deletion, n = {c['n']:,}{'' if c['converged'] else '; <strong>did not converge</strong>'}.</p>",
           table("CFA fit against conventional cut-offs (Hu & Bentler 1999); RMSEA with 90% CI",
                 ["index", "value", "cut-off", "verdict"], rows, numeric={1})]
    lrows = [[e(x["item"]), e(x["factor"]), f2(x["est"]), f2(x["se"], 3)] for x in c["loadings_std"]]
    out.append(table("CFA standardized loadings (std.all) with delta-method SEs", ["item", "factor", "λ", "SE"],
                     lrows, numeric={2, 3}))
    if c["factor_correlations"]:
        crow = [[e(f"{x['a']} ~~ {x['b']}"), f2(x["est"]), f2(x["se"], 3)] for x in c["factor_correlations"]]
        out.append(table("CFA factor correlations", ["factors", "r", "SE"], crow, numeric={1, 2}))
    out.append("<details><summary>Model syntax (lavaan)</summary><pre><code>" + e(c["model"]) + "</code></pre></details>")
    return "".join(out)


def _reliability_html(v) -> str:
    return ""


def _omega_html(v) -> str:
    return ""


def _itemtotal_html(v) -> str:
    return ""


def _validation(r) -> str:
    v = r.validation
    where = f" ({e(v['rows_note'])})" if v.get("rows_note") else ""
    out = ['<section id="validation" aria-labelledby="validation-h"><h2 id="validation-h">Validation</h2>',
           f"<p>{v['n']:,} records{where}; {v['n_complete']:,} answered every item. Reverse-keyed items are "
           "reversed before analysis.</p>"]
    out += [f'<p class="note">{e(n)}</p>' for n in v["notes"]]
    for sid, title, body in (
            ("reliability", "Reliability", _reliability_html(v)),
            ("omega", "Omega", _omega_html(v)),
            ("item-total", "Item-total statistics", _itemtotal_html(v)),
            ("factorability", "Factorability", _factorability_html(v)),
            ("parallel", "Number of factors: scree plot and parallel analysis", _parallel_html(v)),
            ("efa", "Exploratory factor analysis", _efa_html(v)),
            ("cfa", "Confirmatory factor analysis", _cfa_html(v))):
        if body:
            out += [f'<h3 id="{sid}">{title}</h3>', body]
    out.append("</section>")
    return "".join(out)


def _methods(r) -> str:
    return "".join([
        '<section id="methods" aria-labelledby="methods-h"><h2 id="methods-h">Methods</h2>',
        f'<p class="methods">{e(r.methods)}</p>',
        '<h3 id="reproduce">Reproduce this report</h3>',
        f"<pre><code>{e(r.command)}</code></pre>" if r.command else
        '<p class="note">Made from the Python API; no command line to show.</p>',
        "</section>"])


def render_html(r) -> str:
    """The whole page as a string."""
    sections = [("sample", "Sample"), ("scoring", "Scores"), ("items", "Items")]
    if r.validation is not None:
        sections.append(("validation", "Validation"))
    sections.append(("methods", "Methods"))
    notes = "".join(f'<p class="note">{e(n)}</p>' for n in r.notes)
    body = [_header(r), '<a class="skip" href="#main">Skip to the report</a>', _nav(sections),
            f'<main id="main">{notes}', _sample(r), _scoring(r), _items(r)]
    if r.validation is not None:
        body.append(_validation(r))
    body += [_methods(r), "</main>",
             f"<footer><p>peerscale {e(r.meta['peerscale'])}. This file is self-contained: it loads nothing "
             "from the network and holds summaries only, no individual responses.</p></footer>"]
    title = f"{r.meta['title']}: report"
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="icon" href="data:,">'
            f"<title>{e(title)}</title><style>{CSS}</style></head><body>" + "".join(body) + "</body></html>\n")
