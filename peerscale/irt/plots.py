"""SVG figures of a bank: test information with its SE, and category response curves.

Same conventions as :mod:`peerscale.report.svg`: inline ``<svg role="img">`` with a title and a
description in words, Okabe–Ito colours, series told apart by dash pattern as well as colour.
"""

from __future__ import annotations

from html import escape

from ..report.svg import BLUE, GREEN, INK, ORANGE, PURPLE, SKY, VERMILLION, _fmt, _open, nice_ticks

COLOURS = [BLUE, VERMILLION, GREEN, ORANGE, PURPLE, SKY, INK]
DASHES = ["", "6 4", "2 3", "8 3 2 3", "1 2", "10 4", "4 2 1 2"]


def _lines(series, *, label, desc, xlabel, ylabel, names) -> str:
    """series: list of (xs, ys) sharing one x range; names: legend text per series."""
    w, h, left, right, top, bottom = 640, 280, 56, 150, 24, 46
    pw, ph = w - left - right, h - top - bottom
    xs_all = [x for xs, _ in series for x in xs]
    ys_all = [y for _, ys in series for y in ys if y == y and abs(y) != float("inf")]
    lo, hi = min(xs_all), max(xs_all)
    ytop = max(ys_all) if ys_all else 1.0
    yt = nice_ticks(0, ytop, 4)
    ytop = max(yt[-1], ytop) or 1.0
    x = lambda v: left + (v - lo) / ((hi - lo) or 1) * pw  # noqa: E731
    y = lambda v: top + ph - min(max(v, 0), ytop) / ytop * ph  # noqa: E731
    head, _ = _open(w, h, label, desc, "irt")
    out = [head]
    for t in yt:
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#DDDDDD"/>'
                   f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    for t in nice_ticks(lo, hi, 8):
        out.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top + ph}" y2="{top + ph + 4}" stroke="{INK}"/>'
                   f'<text x="{x(t):.1f}" y="{top + ph + 16}" text-anchor="middle">{_fmt(t)}</text>')
    out.append(f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" stroke="{INK}"/>')
    out.append(f'<text x="{left + pw / 2}" y="{h - 8}" text-anchor="middle">{escape(xlabel)}</text>')
    out.append(f'<text x="14" y="{top + ph / 2}" text-anchor="middle" transform="rotate(-90 14 {top + ph / 2})">'
               f'{escape(ylabel)}</text>')
    for k, (xs, ys) in enumerate(series):
        pts = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in zip(xs, ys) if b == b)
        dash = DASHES[k % len(DASHES)]
        out.append(f'<polyline points="{pts}" fill="none" stroke="{COLOURS[k % len(COLOURS)]}" stroke-width="2"'
                   + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
        ly = top + 8 + 18 * k
        out.append(f'<line x1="{left + pw + 12}" x2="{left + pw + 40}" y1="{ly}" y2="{ly}" '
                   f'stroke="{COLOURS[k % len(COLOURS)]}" stroke-width="2"' + (f' stroke-dasharray="{dash}"' if dash else "")
                   + f'/><text x="{left + pw + 46}" y="{ly + 4}">{escape(str(names[k]))}</text>')
    out.append("</svg>")
    return "".join(out)


def information_lines(theta, test, se, *, label: str, desc: str) -> str:
    return _lines([(list(theta), list(test)), (list(theta), list(se))], label=label, desc=desc, xlabel="theta",
                  ylabel="information / SE", names=["information", "SE of theta"])


def information_svg(info, scale: str) -> str:
    """Test information and the SE of theta (1 / sqrt(information)) across theta."""
    th = info["theta"].tolist()
    test = info["test"].tolist()
    se = info["se"].tolist()
    peak = max(range(len(test)), key=lambda i: test[i])
    desc = (f"Test information of {scale} peaks at {test[peak]:.2f} at theta {th[peak]:.2f}, where the SE of "
            f"theta is {se[peak]:.2f}; at theta {th[0]:.1f} the information is {test[0]:.2f} and at "
            f"{th[-1]:.1f} it is {test[-1]:.2f}.")
    return _lines([(th, test), (th, se)], label=f"{scale}: test information and SE", desc=desc,
                  xlabel="theta", ylabel="information / SE", names=["information", "SE of theta"])


def curves_svg(curves, item: str) -> str:
    """Category response curves P(X = k | theta) of one item."""
    sub = curves[curves["item"] == item]
    series, names, words = [], [], []
    for lab, grp in sub.groupby("category", sort=False):
        th = grp["theta"].tolist()
        p = grp["probability"].tolist()
        series.append((th, p))
        names.append(f"category {lab}")
        i = max(range(len(p)), key=lambda k: p[k])
        words.append(f"{lab} most likely near theta {th[i]:.1f}")
    return _lines(series, label=f"{item}: category response curves", desc="; ".join(words) + ".",
                  xlabel="theta", ylabel="probability", names=names)
