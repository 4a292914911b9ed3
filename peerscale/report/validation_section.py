"""The validation section's blocks (tables, scree plot) from the numbers gathered by
:mod:`peerscale.report.validation`."""

from __future__ import annotations

from .blocks import DASH, SCREE_MAX, Code, Figure, Heading, Para, Section, Table, count, f2, p_is, pvalue
from .validation import SMALL_LOADING


def _alpha_entries(v) -> dict:
    """The reliability entries that have an alpha (scales that failed are notes)."""
    rel = v.get("reliability") or {}
    return {name: e for name, e in rel.get("scales", {}).items() if "alpha" in e}


def _reliability(v) -> list:
    rel = _alpha_entries(v)
    if not rel:
        return []
    first = next(iter(rel.values()))
    level = f"{first['level']:.0%}"
    n_boot = (first.get("bootstrap_ci") or {}).get("n_boot", 0)
    rows = []
    for name, r in rel.items():
        b = r.get("bootstrap_ci")
        boot = DASH if not b else f"[{f2(b['lower'])}, {f2(b['upper'])}]"
        rows.append([name + (" (composite)" if r["composite"] else ""), count(r["n"]), str(r["n_items"]),
                     f2(r["alpha"]), f"[{f2(r['alpha_ci'][0])}, {f2(r['alpha_ci'][1])}]", boot, f2(r["alpha_std"]),
                     f2(r["g6"]), f2(r["average_r"]), f2(r["s_n"])])
    boot_note = (f"; bootstrap: percentile interval over {n_boot} resamples" if n_boot else
                 "; no bootstrap interval (--bootstrap 0)")
    return [Table(f"Internal consistency per scale: alpha with {level} intervals (Feldt{boot_note}), "
                  "computed as psych::alpha with pairwise covariances",
                  ["scale", "n", "items", "alpha", f"{level} CI (Feldt)", f"{level} CI (bootstrap)", "alpha std",
                   "G6 (smc)", "average r", "S/N"], rows, {1, 2, 3, 4, 5, 6, 7, 8, 9})]


def _omega(v) -> list:
    rel = _alpha_entries(v)
    structure = (v.get("reliability") or {}).get("omega") or {}
    if not rel and not structure:
        return []
    header = ["scale", "which omega", "omega total", "omega hierarchical", "omega limit", "ECV", "items flipped"]
    rows = []
    for name, e in rel.items():
        if name in structure:
            continue
        rows.append([name, e["omega_kind"], f2(e["omega_total"]), DASH, DASH, DASH, ""])
    for name, o in structure.items():
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
    rel = _alpha_entries(v)
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
    f = v.get("efa")
    if not f or not (f.get("kmo") or f.get("bartlett")):
        return []
    text = []
    if f.get("kmo"):
        low = sorted(f["kmo"]["items"].items(), key=lambda kv: kv[1])[:5]
        text.append(f"Kaiser–Meyer–Olkin measure of sampling adequacy: **{f2(f['kmo']['overall'])}** (lowest items: "
                    + ", ".join(f"{k} {x:.2f}" for k, x in low) + ").")
    if f.get("bartlett"):
        b = f["bartlett"]
        text.append(f"Bartlett's test of sphericity: χ²({b['df']}) = {b['chisq']:.1f}, {p_is(b['pvalue'])}, "
                    f"n = {b['n']}.")
    return [Para(" ".join(text))]


def _parallel(v) -> list:
    p = (v.get("efa") or {}).get("parallel")
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
    k = f["factors"]
    names = [f"F{j + 1}" for j in range(k)]
    rows = []
    for item, lam in f["loadings"].items():
        best = max(range(k), key=lambda j: abs(lam[j]))
        cells = ["" if abs(x) < SMALL_LOADING else (f"**{x:.2f}**" if j == best else f"{x:.2f}")
                 for j, x in enumerate(lam)]
        rows.append([item] + cells + [f2(f["communalities"][item])])
    ve = f["variance_explained"]
    rows.append(["SS loadings"] + [f2(ve[n]["ss_loadings"]) for n in names] + [""])
    rows.append(["proportion of variance"] + [f2(ve[n]["proportion"]) for n in names] + [""])
    out = [Para(f"{k} factor{'s' if k > 1 else ''} ({f['chosen_by']}), {f['method']} extraction, {f['rotation']} "
                f"rotation, n = {count(f['n'])} (rows with an answer){'' if f['converged'] else '; **did not converge**'}."
                f" Loadings below {SMALL_LOADING:.2f} in absolute value are left blank; each item's largest loading is "
                "in bold."),
           Table(f"EFA pattern loadings ({k} factors) and communalities h²", ["item"] + names + ["h²"], rows,
                 set(range(1, k + 2)))]
    if k > 1:
        out.append(Table("EFA factor correlations", [""] + names,
                         [[names[i]] + [f2(x) for x in row] for i, row in enumerate(f["factor_correlations"])],
                         set(range(1, k + 1))))
    return out


def _mark(value: str, ok) -> str:
    return value if ok is None else (f"{value} ✓" if ok else f"**{value} ✗**")


MISSING_WORDS = {"fiml": "full-information maximum likelihood (FIML): every respondent with an answer is used",
                 "listwise": "maximum likelihood with listwise deletion",
                 "none": "maximum likelihood; no answers were missing"}


def _cfa(v) -> list:
    c = v.get("cfa")
    if not c:
        return []
    factors = list(dict.fromkeys(key.split("=~")[0] for key in c["loadings_std"]))
    names = {"one-factor": "one factor", "correlated": f"correlated factors ({len(factors)})", "bifactor": "bifactor"}
    rows = [["cut-off", "", "", "", "≥ .95", "≥ .95", "≤ .06", "≤ .08", "", "", ""]]
    for key, f in c["comparison"].items():
        if "error" in f:
            continue
        m = f["meets"]
        lo, hi = f["rmsea_ci"]
        rows.append([names.get(key, key) + ("" if f["converged"] else " (did not converge)"), f2(f["chisq"], 1),
                     str(f["df"]), pvalue(f["pvalue"]), _mark(f2(f["cfi"], 3), m["cfi"]), _mark(f2(f["tli"], 3), m["tli"]),
                     _mark(f"{f2(f['rmsea'], 3)} [{f2(lo, 3)}, {f2(hi, 3)}]", m["rmsea"]), _mark(f2(f["srmr"], 3), m["srmr"]),
                     f2(f["aic"], 1), f2(f["bic"], 1), count(f["n"])])
    out = [Para(f"Models of the instrument's dimensions, estimated by {MISSING_WORDS[c['missing']]} (N = "
                f"{count(c['n'])} of {count(c['n_rows'])} rows). ✓ marks a value that meets the conventional cut-off "
                "(Hu & Bentler 1999), **✗** one that does not; cut-offs are rules of thumb, not tests."),
           Table("CFA fit of competing structures against the conventional cut-offs; RMSEA with its 90% CI",
                 ["model", "χ²", "df", "p", "CFI", "TLI", "RMSEA [90% CI]", "SRMR", "AIC", "BIC", "n"], rows,
                 set(range(1, 11)))]
    cmp = (c["comparison"].get("one-factor") or {}).get("vs_correlated")
    if cmp:
        out.append(Para(f"Nested test, one factor against correlated factors: Δχ²({cmp['df_diff']}) = "
                        f"{cmp['chisq_diff']:.1f}, {p_is(cmp['pvalue'])}."))
    if c.get("loadings_std"):
        rows = []
        for key, est in c["loadings_std"].items():
            factor, item = key.split("=~")
            rows.append([item, factor, f2(est), f2(c["loadings_std_se"][key], 3)])
        out.append(Table("Standardized loadings (std.all) of the correlated-factors model, delta-method SEs",
                         ["item", "factor", "λ", "SE"], rows, {2, 3}))
    if c.get("factor_correlations"):
        r = {}
        for key, est in c["factor_correlations"].items():
            a, b = key.split("~~")
            r[(a, b)] = r[(b, a)] = est
        rows = [[a] + [("1" if a == b else f2(r.get((a, b)))) if j <= i else "" for j, b in enumerate(factors)]
                for i, a in enumerate(factors)]
        out.append(Table("Factor correlations of the correlated-factors model", [""] + factors, rows,
                         set(range(1, len(factors) + 1))))
    for key, row in c["comparison"].items():
        out.append(Code(row["model"], summary=f"Model syntax, {names.get(key, key)} (lavaan)"))
    return out


def validation_section(r) -> Section:
    v = r.validation
    b: list = [Para(f"Sample: {v['sample']['note']}; {count(v['n_complete'])} answered every item. Reverse-keyed "
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
