"""The plan's figure: power of each structural and defined parameter, and coverage of the
loadings' 95% intervals, by sample size (two panels, one self-contained SVG)."""

from __future__ import annotations

from html import escape

import numpy as np

PALETTE = ["#1b6ca8", "#d1495b", "#2e933c", "#edae49", "#6a4c93", "#00798c", "#8d6a9f", "#c05746",
           "#3d405b", "#81b29a"]


def _panel(x0, y0, w, h, ns, series, title, ylo, yhi, ref=None, ylabel="") -> list[str]:
    out = [f'<text x="{x0 + w / 2:.1f}" y="{y0 - 10:.1f}" text-anchor="middle" font-weight="bold">{escape(title)}</text>',
           f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#999"/>']
    lo, hi = min(ns), max(ns)
    span = hi - lo or 1

    def px(n):
        return x0 + (n - lo) / span * w if hi > lo else x0 + w / 2

    def py(v):
        return y0 + h - (v - ylo) / (yhi - ylo) * h

    for t in np.linspace(ylo, yhi, 5):
        out.append(f'<line x1="{x0 - 4}" x2="{x0}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#999"/>'
                   f'<text x="{x0 - 7}" y="{py(t) + 4:.1f}" text-anchor="end" font-size="11">{t:.2f}</text>')
    for n in ns:
        out.append(f'<text x="{px(n):.1f}" y="{y0 + h + 16}" text-anchor="middle" font-size="11">{n}</text>')
    out.append(f'<text x="{x0 + w / 2:.1f}" y="{y0 + h + 32}" text-anchor="middle" font-size="12">n</text>')
    if ylabel:
        out.append(f'<text transform="translate({x0 - 42},{y0 + h / 2:.1f}) rotate(-90)" text-anchor="middle" '
                   f'font-size="12">{escape(ylabel)}</text>')
    if ref is not None:
        out.append(f'<line x1="{x0}" x2="{x0 + w}" y1="{py(ref):.1f}" y2="{py(ref):.1f}" stroke="#555" '
                   'stroke-dasharray="4 3"/>')
    for k, (label, values) in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        pts = [(px(n), py(min(max(v, ylo), yhi))) for n, v in zip(ns, values) if np.isfinite(v)]
        if not pts:
            continue
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                   + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + f'"><title>{escape(label)}</title></polyline>')
        for a, b in pts:
            out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{colour}"/>')
    return out


def param_kind(name: str, latent=frozenset()) -> str:
    parts = name.split(" ")
    if len(parts) < 2:
        return "other"
    op = parts[1]
    if op == "=~":
        return "loading"
    if op == ":=":
        return "defined"
    if op == "~":
        return "structural"
    if op == "~~" and len(parts) > 2 and parts[0] != parts[2] and parts[0] in latent:
        return "structural"
    return "other"


def plan_svg(res) -> str:
    """SVG: left, power (share p < .05) of each structural/defined parameter (at most ten, the
    weakest first); right, mean, lowest and highest coverage of the loadings' 95% CIs."""
    t = res.to_frame()
    ns = list(res.config.ns)
    latent = res.latent
    power = t[(t["measure"] == "power")]
    power = power[power["parameter"].map(lambda p: param_kind(p, latent)).isin(["structural", "defined"])
                  & ~power["parameter"].str.startswith("omega_")]
    series = []
    if len(power):
        weakest = power.groupby("parameter")["value"].mean().sort_values().index[:10]
        for p in weakest:
            d = power[power["parameter"] == p].set_index("n")["value"]
            series.append((p, [float(d.get(n, np.nan)) for n in ns]))
    cov = t[(t["measure"] == "coverage")]
    cov = cov[cov["parameter"].map(lambda p: param_kind(p, latent)) == "loading"]
    stats = cov.groupby("n")["value"].agg(["mean", "min", "max"]) if len(cov) else None
    cseries = []
    if stats is not None:
        for col, label in (("mean", "mean coverage"), ("min", "lowest item"), ("max", "highest item")):
            cseries.append((label, [float(stats[col].get(n, np.nan)) for n in ns]))
    width, height = 860, 380 + 16 * len(series)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           'role="img" aria-labelledby="plan-title" font-family="sans-serif" font-size="12">',
           f'<title id="plan-title">Power and coverage by n ({escape(res.config.name)}, '
           f'{res.config.reps} replications)</title>']
    out += _panel(70, 40, 320, 250, ns, series, "Power (p < .05)", 0.0, 1.0, ref=0.8, ylabel="share of replications")
    out += _panel(510, 40, 320, 250, ns, cseries, "Coverage of loadings' 95% CI", 0.80, 1.0, ref=0.95,
                  ylabel="coverage")
    y = 345
    for k, (label, _) in enumerate(series):
        out.append(f'<rect x="70" y="{y + 16 * k - 9}" width="10" height="10" fill="{PALETTE[k % len(PALETTE)]}"/>'
                   f'<text x="86" y="{y + 16 * k}" font-size="11">{escape(label)}</text>')
    for k, (label, _) in enumerate(cseries):
        out.append(f'<rect x="510" y="{y + 16 * k - 9}" width="10" height="10" fill="{PALETTE[k % len(PALETTE)]}"/>'
                   f'<text x="526" y="{y + 16 * k}" font-size="11">{escape(label)}</text>')
    if not series:
        out.append('<text x="230" y="165" text-anchor="middle" fill="#777">no structural parameters</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def plan_report(res, fmt: str = "html") -> str:
    """A self-contained HTML (or Markdown) page: the summary table, the figure, the settings."""
    table = res.table()
    cfg = res.config
    head = [c for c in table.columns]
    title = f"Planning the validation study: {cfg.name}"
    note = (f"{cfg.reps} replications per n from the population model, estimator "
            f"{'WLSMV' if cfg.estimator == 'DWLS' else cfg.estimator}, seed {cfg.seed}. Bias, RMSE and coverage are "
            f"against pseudo-true values (one sample of {cfg.truth_n:,}). Power is the share of replications with "
            "p < .05. Monte Carlo SE of a share p over R replications: sqrt(p(1 - p)/R).")

    def cell(v):
        return "—" if v is None or (isinstance(v, float) and not np.isfinite(v)) else (
            f"{v:.0f}" if isinstance(v, (int, np.integer)) or float(v).is_integer() and v > 1 else f"{v:.3f}")

    if fmt == "md":
        lines = [f"# {title}", "", note, "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
        lines += ["", "```", res.summary(), "```", ""]
        return "\n".join(lines)
    rows = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
                   for row in table.itertuples(index=False))
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + escape(title) + "</title>"
            "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}.wide,pre{overflow-x:auto}</style></head><body>"
            f"<h1>{escape(title)}</h1><p>{escape(note)}</p><div class=\"wide\"><table><tr>"
            + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>" + rows + "</table></div>"
            + "<figure>" + plan_svg(res) + "<figcaption>Power and coverage by n.</figcaption></figure>"
            + f"<pre>{escape(res.summary())}</pre></body></html>\n")
