"""Hand-written inline SVG charts for the HTML report: histograms, diverging stacked bars and
a scree plot. No plotting library, no scripts, no external resources.

Every chart is an ``<svg role="img">`` with an ``aria-label``, a ``<title>`` and a ``<desc>``
that states the numbers in words, so a screen reader gets what the picture shows. Colours
are from the Okabe–Ito palette (Okabe & Ito 2008, "Color Universal Design"), which stays
distinguishable with the common colour-vision deficiencies; series also differ by dash and
marker shape, never by colour alone. Sizes are in viewBox units and the SVG scales with the
page (``width: 100%``), so zooming keeps it readable.
"""

from __future__ import annotations

import itertools
import math
from html import escape

# Okabe–Ito
BLUE = "#0072B2"
SKY = "#56B4E9"
ORANGE = "#E69F00"
VERMILLION = "#D55E00"
GREEN = "#009E73"
PURPLE = "#CC79A7"
GREY = "#999999"
NEUTRAL = "#DDDDDD"
INK = "#222222"

_ids = itertools.count(1)


def _uid(prefix: str) -> str:
    return f"{prefix}{next(_ids)}"


def _fmt(x: float) -> str:
    if abs(x - round(x)) < 1e-9:
        return str(int(round(x)))
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _open(width: int, height: int, label: str, desc: str, prefix: str) -> tuple[str, str]:
    uid = _uid(prefix)
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{escape(label)}" aria-labelledby="{uid}-t {uid}-d" class="chart" '
            f'font-family="system-ui, sans-serif" font-size="12">'
            f'<title id="{uid}-t">{escape(label)}</title><desc id="{uid}-d">{escape(desc)}</desc>')
    return head, uid


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick positions covering [lo, hi] (1, 2, 2.5 or 5 × a power of ten apart)."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    ticks = []
    t = start
    while t <= hi + 1e-9 * step:
        ticks.append(round(t, 10))
        t += step
    return ticks


def histogram(counts, edges, *, label: str, desc: str, xlabel: str, cuts=(), mean: float | None = None) -> str:
    """Bars of ``counts`` over bin ``edges``; ``cuts`` are (value, text) band boundaries drawn as
    dashed lines; ``mean`` as a solid line."""
    w, h, left, right, top, bottom = 640, 250, 52, 16, 24, 46
    pw, ph = w - left - right, h - top - bottom
    lo, hi = float(edges[0]), float(edges[-1])
    span = hi - lo or 1.0
    ymax = max(max(counts), 1)
    yt = nice_ticks(0, ymax, 4)
    ytop = max(yt[-1], ymax)
    x = lambda v: left + (v - lo) / span * pw  # noqa: E731
    y = lambda c: top + ph - c / ytop * ph  # noqa: E731
    head, _ = _open(w, h, label, desc, "hist")
    out = [head]
    for t in yt:
        out.append(f'<line x1="{left}" x2="{w - right}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#e5e5e5"/>'
                   f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end" fill="{INK}">{_fmt(t)}</text>')
    for c, a, b in zip(counts, edges[:-1], edges[1:]):
        if c:
            x0, x1 = x(a), x(b)
            out.append(f'<rect x="{x0 + 0.5:.1f}" y="{y(c):.1f}" width="{max(x1 - x0 - 1, 0.5):.1f}" '
                       f'height="{y(0) - y(c):.1f}" fill="{BLUE}"/>')
    for t in nice_ticks(lo, hi, 8):
        out.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top + ph}" y2="{top + ph + 5}" stroke="{INK}"/>'
                   f'<text x="{x(t):.1f}" y="{top + ph + 18}" text-anchor="middle" fill="{INK}">{_fmt(t)}</text>')
    out.append(f'<line x1="{left}" x2="{w - right}" y1="{top + ph}" y2="{top + ph}" stroke="{INK}"/>')
    for k, (v, text) in enumerate(cuts):
        if lo < v < hi:
            out.append(f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="{top}" y2="{top + ph}" stroke="{VERMILLION}" '
                       f'stroke-width="1.5" stroke-dasharray="5 4"/>'
                       f'<text x="{x(v) + 3:.1f}" y="{top - 8 + 0 * k}" fill="{VERMILLION}">{escape(text)}</text>')
    if mean is not None and math.isfinite(mean):
        out.append(f'<line x1="{x(mean):.1f}" x2="{x(mean):.1f}" y1="{top}" y2="{top + ph}" stroke="{INK}" '
                   f'stroke-width="2"/><text x="{x(mean) - 3:.1f}" y="{top + 12}" text-anchor="end" '
                   f'fill="{INK}">mean {mean:.2f}</text>')
    out.append(f'<text x="{left + pw / 2:.1f}" y="{h - 8}" text-anchor="middle" fill="{INK}">{escape(xlabel)}</text>'
               f'<text transform="translate(14 {top + ph / 2:.1f}) rotate(-90)" text-anchor="middle" '
               f'fill="{INK}">respondents</text></svg>')
    return "".join(out)


def diverging_palette(n: int) -> list[str]:
    """``n`` colours for ordered categories: vermillion→orange below the middle, light grey for
    a middle category, sky→blue above (Okabe–Ito hues, interpolated when a side has more
    than two categories; strongest at the extremes)."""
    half = n // 2
    middle = [NEUTRAL] if n % 2 else []
    if half == 1:
        return [VERMILLION] + middle + [BLUE]
    return _ramp(VERMILLION, ORANGE, half) + middle + _ramp(SKY, BLUE, half)


def _ramp(a: str, b: str, k: int) -> list[str]:
    ca = [int(a[i:i + 2], 16) for i in (1, 3, 5)]
    cb = [int(b[i:i + 2], 16) for i in (1, 3, 5)]
    out = []
    for j in range(k):
        t = j / (k - 1) if k > 1 else 0.0
        out.append("#" + "".join(f"{round(u + (v - u) * t):02X}" for u, v in zip(ca, cb)))
    return out


def wrap_label(text: str, width: int, max_lines: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters (on spaces), at most ``max_lines``, the
    last cut with ``…`` if the text is longer."""
    import textwrap

    lines = textwrap.wrap(" ".join(str(text).split()), width, break_long_words=True) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(width - 1, 1)].rstrip() + "…"
    return lines


LABEL_CHARS, LABEL_LINES = 46, 3


def diverging_bars(rows, categories, *, label: str, desc: str) -> str:
    """Diverging stacked bars: one row per item, percentages of answers per category, the
    categories below the middle to the left of zero, those above to the right, a middle
    category split across zero (Robbins & Heiberger 2011).

    ``rows``: (item id, counts per category, marked[, wording]) where marked rows (reverse-keyed
    items) get an "(R)" badge; with wording, each row is labelled with the item's words (wrapped,
    at most three lines) and its id below them, so a reader sees what was asked.
    ``categories``: category labels, low to high.
    """
    n = len(categories)
    colours = diverging_palette(n)
    worded = any(len(r) > 3 and r[3] for r in rows)
    label_w = 330 if worded else 170
    right, top, bar_h, line_h = 16, 58, 16, 13
    w = 720 + (label_w - 170)
    pw = w - label_w - right
    labels = []
    for r in rows:
        name, marked = r[0], r[2]
        tag = f"{name} (R)" if marked else name
        lines = wrap_label(r[3], LABEL_CHARS, LABEL_LINES) if worded and len(r) > 3 and r[3] else []
        labels.append((lines, tag))
    heights = [max(24, line_h * (len(lines) + 1) + 8) if worded else 24 for lines, _ in labels]
    h = top + sum(heights) + 30
    cx = label_w + pw / 2
    scale = pw / 2 / 100.0
    head, _ = _open(w, h, label, desc, "div")
    out = [head]
    # legend, wrapped over two lines when long
    lx0 = max(label_w - 150, 8)
    lx, ly = lx0, 14
    for text, col in zip(categories, colours):
        item_w = 18 + 6.5 * len(text) + 14
        if lx + item_w > w - right:
            lx, ly = lx0, ly + 18
        out.append(f'<rect x="{lx:.1f}" y="{ly - 10}" width="12" height="12" fill="{col}" stroke="#666" '
                   f'stroke-width="0.5"/><text x="{lx + 16:.1f}" y="{ly}" fill="{INK}">{escape(text)}</text>')
        lx += item_w
    mid = n // 2
    y0 = top
    for r, ((name, counts, marked, *_), (lines, tag), row_h) in enumerate(zip(rows, labels, heights)):
        total = sum(counts)
        by = y0 + (row_h - bar_h) / 2 - (2 if worded else 0)
        weight = ' font-weight="bold"' if marked else ""
        if lines:
            for k, line in enumerate(lines):
                out.append(f'<text x="{label_w - 8}" y="{y0 + 12 + k * line_h:.1f}" text-anchor="end" '
                           f'fill="{INK}">{escape(line)}</text>')
            out.append(f'<text x="{label_w - 8}" y="{y0 + 12 + len(lines) * line_h:.1f}" text-anchor="end" '
                       f'font-size="10" fill="#555"{weight}>{escape(tag)}</text>')
        else:
            out.append(f'<text x="{label_w - 8}" y="{by + bar_h - 3:.1f}" text-anchor="end" fill="{INK}"{weight}>'
                       f'{escape(tag)}</text>')
        if not total:
            out.append(f'<text x="{cx + 4:.1f}" y="{by + bar_h - 3:.1f}" fill="{INK}">no answers</text>')
            y0 += row_h
            continue
        pct = [100.0 * c / total for c in counts]
        below = sum(pct[:mid]) + (pct[mid] / 2 if n % 2 else 0.0)
        pos = cx - below * scale
        for j, p in enumerate(pct):
            if p <= 0:
                continue
            wd = p * scale
            out.append(f'<rect x="{pos:.1f}" y="{by:.1f}" width="{wd:.1f}" height="{bar_h}" fill="{colours[j]}">'
                       f'<title>{escape(name)}: {escape(categories[j])} {p:.0f}% ({counts[j]})</title></rect>')
            if wd >= 22:
                text_col = "#FFFFFF" if colours[j] == BLUE else INK  # the higher-contrast choice per fill
                out.append(f'<text x="{pos + wd / 2:.1f}" y="{by + bar_h - 4:.1f}" text-anchor="middle" '
                           f'font-size="10" fill="{text_col}">{p:.0f}</text>')
            pos += wd
        if worded and r < len(rows) - 1:
            out.append(f'<line x1="8" x2="{w - right}" y1="{y0 + row_h:.1f}" y2="{y0 + row_h:.1f}" stroke="#eeeeee"/>')
        y0 += row_h
    base = y0
    out.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{top - 4}" y2="{base}" stroke="{INK}"/>')
    for t in (-100, -50, 0, 50, 100):
        xt = cx + t * scale
        out.append(f'<line x1="{xt:.1f}" x2="{xt:.1f}" y1="{base}" y2="{base + 4}" stroke="{INK}"/>'
                   f'<text x="{xt:.1f}" y="{base + 16}" text-anchor="middle" fill="{INK}">{abs(t)}%</text>')
    out.append("</svg>")
    return "".join(out)


def scree(observed, reference, *, label: str, desc: str, observed_name: str = "observed",
          reference_name: str = "parallel analysis (95th percentile)") -> str:
    """Eigenvalues by position: observed (solid line, circles) against the parallel-analysis
    reference (dashed line, triangles); factors to retain are where observed lies above."""
    w, h, left, right, top, bottom = 640, 270, 52, 16, 40, 46
    pw, ph = w - left - right, h - top - bottom
    p = len(observed)
    vals = [v for v in list(observed) + list(reference) if v is not None and math.isfinite(v)]
    lo = min(0.0, min(vals) if vals else 0.0)
    hi = max(vals) if vals else 1.0
    yt = nice_ticks(lo, hi, 5)
    ytop = max(yt[-1], hi)
    ybot = min(yt[0], lo)
    x = lambda k: left + (k - 0.5) / p * pw  # noqa: E731
    y = lambda v: top + ph - (v - ybot) / ((ytop - ybot) or 1.0) * ph  # noqa: E731
    head, _ = _open(w, h, label, desc, "scree")
    out = [head]
    for t in yt:
        out.append(f'<line x1="{left}" x2="{w - right}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#e5e5e5"/>'
                   f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end" fill="{INK}">{_fmt(t)}</text>')
    step = max(1, math.ceil(p / 20))
    for k in range(1, p + 1):
        if k == 1 or k % step == 0:
            out.append(f'<text x="{x(k):.1f}" y="{top + ph + 18}" text-anchor="middle" fill="{INK}">{k}</text>')
    out.append(f'<line x1="{left}" x2="{w - right}" y1="{top + ph}" y2="{top + ph}" stroke="{INK}"/>')
    pts_o = " ".join(f"{x(k + 1):.1f},{y(v):.1f}" for k, v in enumerate(observed))
    pts_r = " ".join(f"{x(k + 1):.1f},{y(v):.1f}" for k, v in enumerate(reference))
    out.append(f'<polyline points="{pts_r}" fill="none" stroke="{VERMILLION}" stroke-width="2" stroke-dasharray="6 4"/>')
    for k, v in enumerate(reference):
        cx, cy = x(k + 1), y(v)
        out.append(f'<path d="M{cx:.1f},{cy - 5:.1f} L{cx + 4.5:.1f},{cy + 3:.1f} L{cx - 4.5:.1f},{cy + 3:.1f} Z" '
                   f'fill="{VERMILLION}"/>')
    out.append(f'<polyline points="{pts_o}" fill="none" stroke="{BLUE}" stroke-width="2"/>')
    for k, v in enumerate(observed):
        out.append(f'<circle cx="{x(k + 1):.1f}" cy="{y(v):.1f}" r="3.5" fill="{BLUE}"/>')
    # legend
    out.append(f'<line x1="{left + 10}" x2="{left + 40}" y1="14" y2="14" stroke="{BLUE}" stroke-width="2"/>'
               f'<circle cx="{left + 25}" cy="14" r="3.5" fill="{BLUE}"/>'
               f'<text x="{left + 46}" y="18" fill="{INK}">{escape(observed_name)}</text>'
               f'<line x1="{left + 300}" x2="{left + 330}" y1="14" y2="14" stroke="{VERMILLION}" stroke-width="2" '
               f'stroke-dasharray="6 4"/><path d="M{left + 315},9 L{left + 319.5},17 L{left + 310.5},17 Z" '
               f'fill="{VERMILLION}"/><text x="{left + 336}" y="18" fill="{INK}">{escape(reference_name)}</text>')
    out.append(f'<text x="{left + pw / 2:.1f}" y="{h - 8}" text-anchor="middle" fill="{INK}">factor number</text>'
               f'<text transform="translate(14 {top + ph / 2:.1f}) rotate(-90)" text-anchor="middle" '
               f'fill="{INK}">eigenvalue</text></svg>')
    return "".join(out)
