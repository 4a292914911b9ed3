"""The report's section "Does the relationship carry the outcomes?": the theory-of-change
mediation model (activities → relationship → outcomes) when the export holds the three forms,
with a path diagram (SVG, coefficients on the arrows), the indirect effect in plain words
with its interval, and the caveats said plainly."""

from __future__ import annotations

from html import escape

from ..errors import PeerscaleError
from .blocks import Figure, Para, Section, Table, f2, p_is, pvalue
from .svg import _uid

THEORY = {"x": "act_total", "m": "pbr_core", "y": "out_total"}


def collect_mediation(responses, *, wave=None, bootstrap: int = 1000, seed: int = 1, quiet: bool = True):
    """``(numbers, note)``: the mediation result as a dict when the export holds the activity,
    relationship and outcome forms (None when it does not), and a note when it does but the
    model could not be fitted."""
    try:
        res = responses.mediation(**THEORY, wave=wave, cluster=True if responses.design.worker else None,
                        bootstrap=max(int(bootstrap or 0), 1000), seed=seed, quiet=quiet, workers=1)
    except PeerscaleError as exc:
        msg = exc.message
        if "none of its items" in msg or "unknown scale" in msg or "cannot be scored" in msg:
            return None, None  # the export does not hold the three forms: nothing to say
        return None, f"The mediation model (activities → relationship → outcomes) could not be fitted: {msg}"
    return res.to_dict(), None


def path_svg(d: dict, label: str, desc: str) -> str:
    """Three boxes (X left, M top, Y right) and the arrows a, b and c′ with their estimates."""
    w, h = 560, 230
    box_w, box_h = 150, 46
    pos = {"x": (20, 150), "m": (205, 20), "y": (390, 150)}
    names = {"x": d["x"], "m": d["m"], "y": d["y"]}
    roles = {"x": "activities", "m": "relationship", "y": "outcome"}
    uid = _uid("pd")
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img" aria-label="{escape(label)}" '
           f'aria-labelledby="{uid}-t {uid}-d" class="chart" font-family="system-ui, sans-serif" font-size="12">'
           f'<title id="{uid}-t">{escape(label)}</title><desc id="{uid}-d">{escape(desc)}</desc>']
    for k, (x0, y0) in pos.items():
        out.append(f'<rect x="{x0}" y="{y0}" width="{box_w}" height="{box_h}" rx="4" fill="#ffffff" '
                   f'stroke="#222222" stroke-width="1.5"/>')
        out.append(f'<text x="{x0 + box_w / 2}" y="{y0 + 19}" text-anchor="middle" font-weight="bold">'
                   f'{escape(str(names[k]))}</text>')
        out.append(f'<text x="{x0 + box_w / 2}" y="{y0 + 36}" text-anchor="middle" fill="#555555">'
                   f'{roles[k]}</text>')

    def arrow(x1, y1, x2, y2, text, tx, ty, dashed=False):
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        # the arrowhead as a polygon (no url() references: the report loads nothing, even by id)
        import math
        ang = math.atan2(y2 - y1, x2 - x1)
        hx, hy = x2 - 11 * math.cos(ang), y2 - 11 * math.sin(ang)
        px, py = 5 * math.sin(ang), -5 * math.cos(ang)
        out.append(f'<line x1="{x1}" y1="{y1}" x2="{hx:.1f}" y2="{hy:.1f}" stroke="#222222" stroke-width="1.6"{dash}/>')
        out.append(f'<polygon points="{x2},{y2} {hx + px:.1f},{hy + py:.1f} {hx - px:.1f},{hy - py:.1f}" '
                   f'fill="#222222"/>')
        out.append(f'<text x="{tx}" y="{ty}" text-anchor="middle">{escape(text)}</text>')

    def coef(key, sym):
        p = d["paths"][key]
        return f"{sym} = {p['est']:.2f} (SE {p['se']:.2f})"
    arrow(95, 150, 230, 68, coef("a", "a"), 100, 95)
    arrow(330, 68, 465, 150, coef("b", "b"), 462, 95)
    arrow(172, 175, 388, 175, coef("c_prime", "c′"), 280, 168, dashed=d["paths"]["c_prime"]["p"] >= 0.05)
    ind = d["indirect"]
    ci = ind.get("ci_bc") or ind.get("ci_percentile")
    lv = d.get("level", 0.95)
    text = f"indirect a·b = {ind['est']:.2f}" + (f", {lv:.0%} CI [{ci[0]:.2f}, {ci[1]:.2f}] (bootstrap)" if ci else "")
    out.append(f'<text x="{w / 2}" y="{h - 8}" text-anchor="middle" font-weight="bold">{escape(text)}</text>')
    out.append("</svg>")
    return "".join(out)


def _words(d: dict) -> str:
    ind, tot, level = d["indirect"], d["total"], d.get("level", 0.95)
    ci = ind.get("ci_bc")
    share = ind["est"] / tot["est"] if tot["est"] and abs(tot["est"]) > 1e-12 else None
    ci_text = (f"({level:.0%} bias-corrected bootstrap interval {f2(ci[0])} to {f2(ci[1])}"
               f"{', which excludes 0' if ci[0] > 0 or ci[1] < 0 else ', which includes 0'})") if ci else \
        f"(delta-method SE {f2(ind['se'])}, {p_is(ind['p'])})"
    s = (f"Young people one point higher on **{d['x']}** were on average {f2(d['paths']['a']['est'])} points higher "
         f"on **{d['m']}**; and, at the same {d['x']}, one point higher on {d['m']} went with "
         f"{f2(d['paths']['b']['est'])} points higher on **{d['y']}**. The part of the activities' association "
         f"with the outcome that runs through the relationship (the indirect effect a·b) is {f2(ind['est'])} points "
         f"{ci_text}")
    if share is not None and 0 < share <= 1.5:
        s += f", about {share:.0%} of the total association of {f2(tot['est'])}."
    else:
        s += f"; the total association is {f2(tot['est'])}."
    return s


def mediation_section(r) -> Section:
    d = r.mediation
    src = d["sources"]
    where = src.get("design") or ""
    fig_desc = (f"Path diagram: {d['x']} to {d['m']} a = {f2(d['paths']['a']['est'])}, {d['m']} to {d['y']} "
                f"b = {f2(d['paths']['b']['est'])}, {d['x']} to {d['y']} direct c′ = "
                f"{f2(d['paths']['c_prime']['est'])}; indirect effect {f2(d['indirect']['est'])}.")
    left = "; ".join(f"{k}: {v}" for k, v in d["excluded"].items())
    blocks = [
        Para("The theory of change is a chain: the activities of the peer support role build a peerness-based "
             "relationship, and the relationship carries the outcomes. This section fits that chain as a "
             "mediation model (as lavaan `sem()`): "
             f"`{d['m']} ~ a*{d['x']}`, `{d['y']} ~ b*{d['m']} + c*{d['x']}`, `indirect := a*b`.", "lead"),
        Figure("path_diagram", d, "Mediation path diagram", fig_desc,
               "Path coefficients (unstandardized, with SEs); a dashed arrow is not different from 0 at .05.",
               "mediation-paths"),
        Para(_words(d)),
        Table("Mediation paths (ML" + (", cluster-robust SEs by " + d["cluster"] if d["cluster"] else "") + ")",
              ["effect", "estimate", "SE", "p", "standardized"],
              [[name, f2(p["est"], 3), f2(p["se"], 3), pvalue(p["p"]), f2(s, 2)] for name, p, s in (
                  ("a: activities → relationship", d["paths"]["a"], d["standardized"]["a"]),
                  ("b: relationship → outcome", d["paths"]["b"], d["standardized"]["b"]),
                  ("c′: direct", d["paths"]["c_prime"], d["standardized"]["c_prime"]),
                  ("indirect a·b", d["indirect"], d["standardized"]["indirect"]),
                  ("total", d["total"], d["standardized"]["total"]))], {1, 2, 3, 4}),
        Para(f"N = {d['n']} young people ({where}); {d['n_excluded']} left out (listwise"
             + (f": {left}" if left else "") + ")."
             + (f" Standard errors allow for young people sharing a worker ({d['n_clusters']} workers)." if d["cluster"]
                else "")
             + (f" Bootstrap: {d['bootstrap']['n_ok']} resamples of {d['bootstrap']['resampled']}, seed "
                f"{d['bootstrap']['seed']}." if d.get("bootstrap") else ""), "note"),
        Para("**Read this with care.** These data are cross-sectional: activities, relationship and outcomes were "
             "measured at the same time, so the model cannot show that the activities cause a better relationship "
             "or that the relationship causes better outcomes. The indirect effect is a pattern of associations "
             "that fits the theory; it also fits other orderings (e.g. young people doing well may rate the "
             "relationship higher) and unmeasured common causes. Effects are on scale scores that contain "
             "measurement error, which biases the paths. The items are drafts under validation. Treat the result "
             "as a check that the data are consistent with the theory, not as evidence of effect.", "draft"),
    ]
    for note in d.get("notes", []):
        blocks.append(Para(note, "note"))
    return Section("mediation", "Does the relationship carry the outcomes?", blocks)


def path_png(d: dict, path) -> None:
    """The path diagram as a PNG (Markdown reports), drawn with matplotlib."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 2.7), dpi=110)
    ax.set_xlim(0, 560)
    ax.set_ylim(230, 0)
    ax.axis("off")
    pos = {"x": (95, 173), "m": (280, 43), "y": (465, 173)}
    for k, (cx, cy) in pos.items():
        ax.text(cx, cy, d[k], ha="center", va="center", fontsize=9, fontweight="bold",
                bbox={"boxstyle": "round,pad=0.6", "fc": "white", "ec": "#222222"})
    kw = {"arrowstyle": "-|>", "color": "#222222", "lw": 1.4, "shrinkA": 0, "shrinkB": 0}
    ends = {"a": ((120, 155), (250, 62)), "b": ((310, 62), (440, 155)), "c_prime": ((165, 180), (395, 180))}
    for key, sym, (tx, ty) in (("a", "a", (120, 95)), ("b", "b", (440, 95)), ("c_prime", "c′", (280, 168))):
        p = d["paths"][key]
        ls = "--" if key == "c_prime" and p["p"] >= 0.05 else "-"
        start, end = ends[key]
        ax.annotate("", xy=end, xytext=start, arrowprops={**kw, "linestyle": ls})
        ax.text(tx, ty, f"{sym} = {p['est']:.2f} (SE {p['se']:.2f})", ha="center", fontsize=8)
    ind = d["indirect"]
    ci = ind.get("ci_bc")
    lv = d.get("level", 0.95)
    ax.text(280, 222, f"indirect a·b = {ind['est']:.2f}" + (f", {lv:.0%} CI [{ci[0]:.2f}, {ci[1]:.2f}] (bootstrap)" if ci else ""),
            ha="center", fontsize=9, fontweight="bold")
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)
