"""Render a :class:`~peerscale.report.build.Report` as one self-contained HTML page.

Styles are inline, charts are inline SVG (:mod:`peerscale.report.svg`), there are no
scripts, fonts, images or links to fetch: the page makes no network request. Headings go
h1 > h2 > h3 without skipping, every table has a ``<caption>``, every chart a title,
description and ``aria-label``; sizes are in rem so the page reflows at 200% zoom; a print
stylesheet hides navigation and keeps tables and figures whole.
"""

from __future__ import annotations

import re
from html import escape

from . import svg
from .blocks import Bullets, Code, Figure, Heading, Para, Table
from .document import document

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
table { border-collapse: collapse; font-size: .92rem; min-width: min(100%, 30rem); }
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
figure.diverging svg.chart, figure.scree svg.chart { max-width: 50rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 26rem), 1fr)); gap: 0 1.5rem; }
pre { white-space: pre-wrap; word-break: break-all; background: #f3f3f3; padding: .75rem 1rem; font-size: .9rem; }
ul.findings { padding-left: 1.25rem; max-width: 48rem; }
ul.findings li { margin: .4rem 0; }
.methods { background: #f7f7f7; padding: .75rem 1rem; border-left: .35rem solid var(--accent); }
footer { color: var(--muted); font-size: .9rem; margin-top: 3rem; padding-bottom: 2rem; }
@media print {
  @page { size: A4; margin: 14mm 12mm; }
  nav, .skip { display: none; }
  html { font-size: 9.5pt; }
  body { line-height: 1.35; }
  header, main, footer { max-width: none; padding: 0; }
  header { padding-top: 0; }
  h1 { font-size: 17pt; }
  h2 { font-size: 13pt; margin: 1.2rem 0 .4rem; }
  h3 { font-size: 11pt; margin: .9rem 0 .3rem; }
  h2, h3, caption { break-after: avoid; page-break-after: avoid; }
  figure, tr, .methods, .draft { break-inside: avoid; page-break-inside: avoid; }
  .table-wrap { overflow: visible; margin: .4rem 0 .8rem; }
  table { font-size: 8.5pt; }
  th, td { padding: .1rem .35rem; }
  figure { margin: .4rem 0 .8rem; }
  .grid { grid-template-columns: 1fr 1fr; gap: 0 .8rem; }
  .grid figure { break-inside: avoid; }
  svg.chart { max-height: 7cm; }
  pre { white-space: pre-wrap; }
}
"""

def inline(text: str) -> str:
    """Escape ``text`` and turn ```code``` and ``**bold**`` into HTML."""
    out = escape(str(text), quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)


def table_html(t: Table) -> str:
    """A captioned table; the first cell of a row is its row header; numeric columns align right."""
    out = [f'<div class="table-wrap"><table><caption>{inline(t.caption)}</caption><thead><tr>']
    for j, h in enumerate(t.header):
        c = ' class="num"' if j in t.numeric else ""
        out.append(f'<th scope="col"{c}>{inline(h)}</th>')
    out.append("</tr></thead><tbody>")
    for row in t.rows:
        out.append("<tr>")
        for j, cell in enumerate(row):
            c = ' class="num"' if j in t.numeric else ""
            tag = 'th scope="row"' if j == 0 else "td"
            out.append(f"<{tag}{c}>{inline(cell)}</{tag.split()[0]}>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def figure_svg(f: Figure) -> str:
    d = f.data
    if f.kind == "histogram":
        chart = svg.histogram(d["counts"], d["edges"], label=f.label, desc=f.desc, xlabel=d["xlabel"],
                              cuts=[(c, "") for c in d["cuts"]], mean=d["mean"])
    elif f.kind == "diverging":
        chart = svg.diverging_bars(d["rows"], d["categories"], label=f.label, desc=f.desc)
    elif f.kind == "scree":
        chart = svg.scree(d["observed"], d["reference"], label=f.label, desc=f.desc,
                          observed_name=d["observed_name"], reference_name=d["reference_name"])
    elif f.kind == "irt_information":
        from ..irt.plots import information_lines
        chart = information_lines(d["theta"], d["test"], d["se"], label=f.label, desc=f.desc)
    elif f.kind == "path_diagram":
        from .mediation_section import path_svg
        chart = path_svg(d, f.label, f.desc)
    else:
        raise ValueError(f"unknown figure kind {f.kind!r}")
    return f'<figure class="{f.kind}">{chart}<figcaption>{inline(f.caption)}</figcaption></figure>'


def block_html(b) -> str:
    if isinstance(b, Heading):
        return f'<h{b.level} id="{escape(b.id)}">{inline(b.text)}</h{b.level}>'
    if isinstance(b, Para):
        cls = f' class="{b.style}"' if b.style else ""
        return f"<p{cls}>{inline(b.text)}</p>"
    if isinstance(b, Table):
        return table_html(b)
    if isinstance(b, Bullets):
        return '<ul class="findings">' + "".join(f"<li>{inline(x)}</li>" for x in b.items) + "</ul>"
    if isinstance(b, Figure):
        return figure_svg(b)
    if isinstance(b, Code):
        pre = f"<pre><code>{escape(b.text, quote=False)}</code></pre>"
        return f"<details><summary>{inline(b.summary)}</summary>{pre}</details>" if b.summary else pre
    raise TypeError(f"unknown block {type(b).__name__}")


def blocks_html(blocks) -> str:
    """Blocks in order; consecutive grid figures (small multiples) share one grid."""
    out, grid = [], []
    for b in blocks:
        if isinstance(b, Figure) and b.grid:
            grid.append(figure_svg(b))
            continue
        if grid:
            out.append('<div class="grid">' + "".join(grid) + "</div>")
            grid = []
        out.append(block_html(b))
    if grid:
        out.append('<div class="grid">' + "".join(grid) + "</div>")
    return "".join(out)


def render_html(r) -> str:
    """The whole report as one self-contained HTML page."""
    from .._version import __version__

    title, head, sections = document(r)
    nav = "".join(f'<li><a href="#{s.id}">{escape(s.title)}</a></li>' for s in sections)
    body = [f"<header><h1>{inline(title)}</h1>{blocks_html(head)}</header>",
            '<a class="skip" href="#main">Skip to the report</a>',
            f'<nav aria-label="Contents"><h2 id="contents">Contents</h2><ol>{nav}</ol></nav><main id="main">']
    for s in sections:
        body.append(f'<section id="{s.id}" aria-labelledby="{s.id}-h"><h2 id="{s.id}-h">{escape(s.title)}</h2>'
                    + blocks_html(s.blocks) + "</section>")
    body.append(f"</main><footer><p>peerscale {escape(__version__)}. This file is self-contained: it loads nothing "
                "from the network and holds summaries only, no individual responses.</p></footer>")
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<link rel="icon" href="data:,">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>" + "".join(body) + "</body></html>\n")
