"""The validation section's blocks (tables, scree plot) from the numbers gathered by
:mod:`peerscale.report.validation`."""

from __future__ import annotations

from .document import DASH, SCREE_MAX, Code, Figure, Heading, Para, Section, Table, count, f2, p_is, pvalue
from .validation import SMALL_LOADING


def _reliability(v) -> list:
    rel = v.get("reliability")
    if not rel:
        return []
    first = next(iter(rel.values()))
    level = f"{first['ci_level']:.0%}"
    rows = []
    for name, r in rel.items():
        boot = DASH if not r["bootstrap_ci"] else f"[{f2(r['bootstrap_ci'][0])}, {f2(r['bootstrap_ci'][1])}]"
        rows.append([name + (" (composite)" if r["composite"] else ""), count(r["n"]), str(r["n_items"]),
                     f2(r["alpha"]), f"[{f2(r['alpha_ci'][0])}, {f2(r['alpha_ci'][1])}]", boot, f2(r["alpha_std"]),
                     f2(r["g6"]), f2(r["average_r"]), f2(r["s_n"])])
    boot_note = (f"; bootstrap: percentile interval over {first['n_boot']} resamples" if first["n_boot"] else
                 "; no bootstrap interval (--bootstrap 0)")
    return [Table(f"Internal consistency per scale: alpha with {level} intervals (Feldt{boot_note}), "
                  "computed as psych::alpha with pairwise covariances",
                  ["scale", "n", "items", "alpha", f"{level} CI (Feldt)", f"{level} CI (bootstrap)", "alpha std",
                   "G6 (smc)", "average r", "S/N"], rows, {1, 2, 3, 4, 5, 6, 7, 8, 9})]


def _omega(v) -> list:
    om = v.get("omega")
    if not om:
        return []
    header = ["scale", "which omega", "omega total", "omega hierarchical", "omega limit", "ECV", "items flipped"]
    rows = []
    for name, o in om.items():
        rows.append([name, o["label"], f2(o["omega_total"]), f2(o["omega_hierarchical"]), f2(o["omega_limit"]),
                     f2(o["ecv"]), ", ".join(o["flipped"]) or ""])
    # a column with nothing in any row (no composite: no hierarchical omega; no item flipped) is left out
    keep = [j for j in range(len(header)) if j < 3 or any(r[j] not in ("", DASH) for r in rows)]
    header, rows = [header[j] for j in keep], [[r[j] for j in keep] for r in rows]
    numeric = {k for k, j in enumerate(keep) if 2 <= j <= 5}
    return [Para("Which omega: for a dimension scale, **omega total from one factor** (McDonald 1999); for a "
                 "composite, **omega total and omega hierarchical from a Schmid–Leiman solution** with one group "
                 "factor per dimension (Zinbarg et al. 2005), as psych::omega. Omega hierarchical is the share of "
                 "total-score variance due to the general factor; it is undefined for one factor."),
            Table("McDonald's omega per scale", header, rows, numeric)]


def _item_total(v) -> list:
    rel = v.get("reliability")
    if not rel:
        return []
    rows = []
    for name, r in rel.items():
        if r["composite"]:
            continue
        for item, st in r["items"].items():
            higher = st["alpha_if_dropped"] is not None and st["alpha_if_dropped"] > r["alpha"]
            dropped = f"**{f2(st['alpha_if_dropped'])}**" if higher else f2(st["alpha_if_dropped"])
            rows.append([item, name, f2(st["mean"]), f2(st["sd"]), f2(st["raw_r"]), f2(st["r_cor"]),
                         f2(st["r_drop"]), dropped, f2(r["alpha"])])
    return [Table("Item-total statistics within each dimension scale (keyed items): r = item with scale mean, "
                  "r.cor = corrected for overlap and reliability, r.drop = item with the rest of the scale; alpha if "
                  "dropped in bold where dropping the item would raise alpha",
                  ["item", "scale", "mean", "SD", "r", "r.cor", "r.drop", "alpha if dropped", "scale alpha"], rows,
                  set(range(2, 9)))]


def _factorability(v) -> list:
    f = v.get("factorability")
    if not f:
        return []
    text = []
    if "kmo" in f:
        low = sorted(f["kmo_items"].items(), key=lambda kv: kv[1])[:5]
        text.append(f"Kaiser–Meyer–Olkin measure of sampling adequacy: **{f2(f['kmo'])}** (lowest items: "
                    + ", ".join(f"{k} {x:.2f}" for k, x in low) + ").")
    if "bartlett" in f:
        b = f["bartlett"]
        text.append(f"Bartlett's test of sphericity: χ²({b['df']}) = {b['chisq']:.1f}, {p_is(b['pvalue'])}, "
                    f"n = {b['n']}.")
    return [Para(" ".join(text))]


def _parallel(v) -> list:
    p = v.get("parallel")
    if not p:
        return []
    shown = min(len(p["observed_fa"]), SCREE_MAX)
    obs, ref = p["observed_fa"][:shown], p["simulated_fa"][:shown]
    desc = ("Eigenvalues of the reduced correlation matrix by factor number. Observed: "
            + ", ".join(f"{x:.2f}" for x in obs[:12]) + ". Parallel-analysis 95th percentile: "
            + ", ".join(f"{x:.2f}" for x in ref[:12])
            + f". The first {p['n_factors']} observed eigenvalues lie above the reference line.")
    cap = (f"Scree plot: observed factor eigenvalues against the {p['quantile']:.0%} quantile of {p['iterations']} "
           f"simulated data sets. Parallel analysis suggests {p['n_factors']} factor(s) and {p['n_components']} "
           "component(s)." + (f" The first {shown} of {len(p['observed_fa'])} positions are shown."
                              if shown < len(p["observed_fa"]) else ""))
    return [Figure("scree", {"observed": obs, "reference": ref, "observed_name": "observed (factors)",
                             "reference_name": "parallel analysis, 95th percentile"},
                   "Scree plot with parallel analysis", desc, cap, "scree")]


def _efa(v) -> list:
    f = v.get("efa")
    if not f:
        return []
    k = f["n_factors"]
    names = [f"F{j + 1}" for j in range(k)]
    rows = []
    for item, lam, h2 in zip(f["columns"], f["loadings"], f["communalities"]):
        best = max(range(k), key=lambda j: abs(lam[j]))
        cells = ["" if abs(x) < SMALL_LOADING else (f"**{x:.2f}**" if j == best else f"{x:.2f}")
                 for j, x in enumerate(lam)]
        rows.append([item] + cells + [f2(h2)])
    rows.append(["SS loadings"] + [f2(x) for x in f["ss_loadings"]] + [""])
    rows.append(["proportion of variance"] + [f2(x) for x in f["proportion"]] + [""])
    out = [Para(f"{k} factor{'s' if k > 1 else ''} ({f['chosen_by']}), {f['method']} extraction, {f['rotation']} "
                f"rotation{'' if f['converged'] else '; **did not converge**'}. Loadings below {SMALL_LOADING:.2f} in "
                "absolute value are left blank; each item's largest loading is in bold."),
           Table(f"EFA pattern loadings ({k} factors) and communalities h²", ["item"] + names + ["h²"], rows,
                 set(range(1, k + 2)))]
    if k > 1:
        out.append(Table("EFA factor correlations", [""] + names,
                         [[names[i]] + [f2(x) for x in row] for i, row in enumerate(f["phi"])], set(range(1, k + 1))))
    return out


def _mark(value: str, ok) -> str:
    return value if ok is None else (f"{value} ✓" if ok else f"**{value} ✗**")


def _cfa(v) -> list:
    c = v.get("cfa")
    if not c:
        return []
    names = {"one-factor": "one factor", "correlated": f"correlated factors ({c.get('n_factors', '?')})",
             "bifactor": "bifactor"}
    rows = [["cut-off", "", "", "", "≥ .95", "≥ .95", "≤ .06", "≤ .08", "", "", ""]]
    for key, f in c["fit"].items():
        m = f["meets"]
        lo, hi = f["rmsea_ci"]
        rows.append([names.get(key, key) + ("" if f["converged"] else " (did not converge)"), f"{f['chisq']:.1f}",
                     str(f["df"]), pvalue(f["pvalue"]), _mark(f2(f["cfi"], 3), m["cfi"]), _mark(f2(f["tli"], 3), m["tli"]),
                     _mark(f"{f2(f['rmsea'], 3)} [{f2(lo, 3)}, {f2(hi, 3)}]", m["rmsea"]), _mark(f2(f["srmr"], 3), m["srmr"]),
                     f"{f['aic']:.1f}", f"{f['bic']:.1f}", count(f["n"])])
    out = [Para("Models of the instrument's dimensions, maximum likelihood, listwise deletion. ✓ marks a value that "
                "meets the conventional cut-off (Hu & Bentler 1999), **✗** one that does not; cut-offs are rules of "
                "thumb, not tests."),
           Table("CFA fit of competing structures against the conventional cut-offs; RMSEA with its 90% CI",
                 ["model", "χ²", "df", "p", "CFI", "TLI", "RMSEA [90% CI]", "SRMR", "AIC", "BIC", "n"], rows,
                 set(range(1, 11)))]
    cmp = c.get("comparison")
    if cmp:
        out.append(Para(f"Nested test, one factor against correlated factors: Δχ²({cmp['df_diff']}) = "
                        f"{cmp['chisq_diff']:.1f}, {p_is(cmp['pvalue'])}."))
    if c.get("loadings_std"):
        which = "correlated-factors" if c.get("primary") == "correlated" else "one-factor"
        out.append(Table(f"Standardized loadings (std.all) of the {which} model, delta-method SEs",
                         ["item", "factor", "λ", "SE"],
                         [[x["item"], x["factor"], f2(x["est"]), f2(x["se"], 3)] for x in c["loadings_std"]], {2, 3}))
    if c.get("factor_correlations"):
        fac = list(dict.fromkeys(x["factor"] for x in c["loadings_std"]))
        r = {(x["a"], x["b"]): x["est"] for x in c["factor_correlations"]}
        r.update({(b, a): est for (a, b), est in list(r.items())})
        rows = [[a] + [("1" if a == b else f2(r.get((a, b)))) if j <= i else "" for j, b in enumerate(fac)]
                for i, a in enumerate(fac)]
        out.append(Table("Factor correlations of the correlated-factors model", [""] + fac, rows,
                         set(range(1, len(fac) + 1))))
    for key, text in c["models"].items():
        out.append(Code(text, summary=f"Model syntax, {names.get(key, key)} (lavaan)"))
    return out


def validation_section(r) -> Section:
    v = r.validation
    where = f" ({v['rows_note']})" if v.get("rows_note") else ""
    b: list = [Para(f"{count(v['n'])} records{where}; {count(v['n_complete'])} answered every item. Reverse-keyed "
                    "items are reversed before analysis.")]
    b += [Para(n, "note") for n in v["notes"]]
    for sid, title, blocks in (
            ("reliability", "Reliability", _reliability(v)),
            ("omega", "Omega", _omega(v)),
            ("item-total", "Item-total statistics", _item_total(v)),
            ("factorability", "Factorability", _factorability(v)),
            ("parallel", "Number of factors: scree plot and parallel analysis", _parallel(v)),
            ("efa", "Exploratory factor analysis", _efa(v)),
            ("cfa", "Confirmatory factor analysis", _cfa(v))):
        if blocks:
            b += [Heading(3, title, sid), *blocks]
    return Section("validation", "Validation", b)
