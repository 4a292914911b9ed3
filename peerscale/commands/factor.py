"""``peerscale efa`` and ``peerscale cfa``: factor analysis from the command line.

Thin shells over :mod:`peerscale.analyses` (the same functions the report and notebooks use).
"""

from __future__ import annotations

from pathlib import Path

import click

from ..cli_common import (console, data_options, emit_json, fmt as _fmt, p_cell, p_text, print_sample, read_responses,
                          wave_option)
from ..errors import PeerscaleError


def _items_option(opts: dict, items: str | None) -> list[str] | None:
    """``--items A1,A2`` alone stands for an ad-hoc scale of those items."""
    chosen = [x.strip() for x in items.split(",") if x.strip()] if items else None
    if chosen and not opts.get("instrument") and not opts.get("scales"):
        opts["scales"] = ("items=" + ",".join(chosen),)
    return chosen


# ---------------------------------------------------------------------------------------- efa

@click.command()
@data_options
@wave_option
@click.option("--items", metavar="A1,A2,...", help="Items to analyse (default: every item of the instrument's "
                                                    "dimension scales, reverse-keyed items reversed).")
@click.option("--factors", default="parallel", show_default=True, metavar="K|parallel",
              help="Number of factors, or 'parallel' for Horn's parallel analysis.")
@click.option("--method", type=click.Choice(["minres", "ml", "pa"]), default="minres", show_default=True,
              help="Extraction (psych's fm).")
@click.option("--rotation", type=click.Choice(["oblimin", "geomin", "promax", "varimax", "none"]),
              default="oblimin", show_default=True)
@click.option("--iterations", default=20, show_default=True, type=click.IntRange(1, 100000),
              help="Parallel-analysis replicates (psych's n.iter).")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed for the parallel-analysis replicates.")
@click.option("--polychoric", is_flag=True, help="Factor polychoric instead of Pearson correlations (ordinal items).")
def efa(wave, items, factors, method, rotation, iterations, seed, polychoric, **opts):
    """KMO, Bartlett's test, parallel analysis and exploratory factor analysis (as psych::fa).

    Computed on the first wave unless --wave says otherwise.

    \b
    Examples:
      peerscale efa bfi.csv --items A1,A2,A3,A4,A5,C1,C2,C3,C4,C5 --factors 2 --method ml
      peerscale efa export.csv --instrument pbr-y --factors parallel --iterations 100 --seed 1
    """
    from ..analyses import efa as analyse

    chosen = _items_option(opts, items)
    k = factors
    if factors != "parallel":
        try:
            k = int(factors)
        except ValueError:
            raise click.BadParameter("give a whole number or 'parallel'", param_hint="--factors") from None
        if k < 1:
            raise click.BadParameter("must be at least 1", param_hint="--factors")
    responses = read_responses(opts)
    res = analyse(responses.wave(wave), items=chosen, n_factors=k, method=method, rotation=rotation,
                  iterations=iterations, seed=seed, polychoric=polychoric, quiet=opts.get("quiet"))
    out = res.to_dict()
    if opts.get("as_json"):
        emit_json(out)
        return
    _print_efa(out, [f"F{i + 1}" for i in range(res.n_factors)], res.fit, opts.get("quiet"))


def _print_efa(out, names, res, quiet):
    from rich.table import Table

    con = console(quiet=quiet)
    print_sample(con, out["sample"])
    line = f"n = {out['n']} (rows with an answer)"
    if out["kmo"]:
        line += f"; KMO = {out['kmo']['overall']:.3f}"
    if out["bartlett"]:
        line += (f"; Bartlett χ²({out['bartlett']['df']}) = {out['bartlett']['chisq']:.1f}, "
                 f"{p_text(out['bartlett']['pvalue'])}")
    con.print(line)
    for note in out.get("notes", []):
        con.print(f"note: {note}")
    if "parallel" in out:
        pa = out["parallel"]
        con.print(f"Parallel analysis ({pa['iterations']} iterations, {pa['quantile']:.0%} quantile of simulated "
                  f"eigenvalues): {pa['n_factors']} factors, {pa['n_components']} components")
    t = Table(title=f"EFA: {out['factors']} factor(s), {out['method']} extraction, {out['rotation']} rotation, "
                    f"{out['correlations']} correlations")
    t.add_column("item")
    for n in names:
        t.add_column(n, justify="right")
    t.add_column("h2", justify="right")
    t.add_column("KMO", justify="right")
    for c, row in out["loadings"].items():
        cells = [(f"[bold]{x:.2f}[/bold]" if abs(x) >= 0.30 else f"[dim]{x:.2f}[/dim]") for x in row]
        t.add_row(c, *cells, _fmt(out["communalities"][c], 2), _fmt((out["kmo"] or {}).get("items", {}).get(c), 2))
    t.add_row("SS loadings", *[_fmt(out["variance_explained"][n]["ss_loadings"], 2) for n in names], "", "")
    t.add_row("proportion", *[_fmt(out["variance_explained"][n]["proportion"], 2) for n in names], "", "")
    con.print(t)
    fit = out["fit"]
    if "chisq" in fit:
        con.print(f"Fit (as psych::fa): χ²({fit['df']:.0f}) = {fit['chisq']:.1f}, {p_text(fit['pvalue'])}; "
                  f"TLI = {_fmt(fit.get('tli'))}; RMSEA = {_fmt(fit.get('rmsea'))} "
                  f"[{_fmt((fit.get('rmsea_ci') or [None])[0])}, {_fmt((fit.get('rmsea_ci') or [None, None])[1])}]; "
                  f"RMSR = {_fmt(fit['rms'])}; BIC = {_fmt(fit.get('bic'), 1)}")
    if res.n_factors > 1 and out["rotation"] in ("oblimin", "geomin", "promax"):
        p = Table(title="Factor correlations")
        p.add_column("")
        for n in names:
            p.add_column(n, justify="right")
        for n, row in zip(names, out["factor_correlations"]):
            p.add_row(n, *[f"{x:.2f}" for x in row])
        con.print(p)
    if not out["converged"]:
        con.print("[yellow]warning: the extraction or rotation did not converge[/yellow]")


# ---------------------------------------------------------------------------------------- cfa

@click.command()
@data_options
@wave_option
@click.option("--model", "model_text", metavar="SYNTAX", help="lavaan model syntax; statements separated by newlines or ';'.")
@click.option("--model-file", type=click.Path(readable=False), help="A file with lavaan model syntax.")
@click.option("--structure", type=click.Choice(["correlated", "one-factor", "bifactor"]), default=None,
              help="With --instrument: the instrument's own structure (default correlated).")
@click.option("--compare", is_flag=True, help="With --instrument: also fit the other structures and compare them.")
@click.option("--estimator", type=click.Choice(["ml", "mlr", "dwls"]), default="ml", show_default=True,
              help="ML; MLR (robust SEs, Yuan–Bentler scaled χ², robust CFI/TLI/RMSEA); or dwls for Likert "
                   "items as ordinal (polychoric correlations, lavaan's WLSMV).")
@click.option("--missing", type=click.Choice(["fiml", "listwise"]), default=None,
              help="Default: fiml (full-information ML: every respondent with an answer is used) when answers are "
                   "missing and the estimator is ml or mlr; listwise for dwls. listwise: drop rows with any "
                   "missing model item. The N used and the method are stated in the output.")
@click.option("--invariance", type=click.Choice(["configural", "thresholds", "metric", "scalar", "strict"]),
              is_flag=False, flag_value="scalar", default=None, metavar="[LEVEL]",
              help="Test invariance across the design's group column (--group-column), up to LEVEL (default scalar: "
                   "configural, metric, scalar; strict adds residuals). Ordinal items (--estimator dwls) follow "
                   "Wu & Estabrook: configural, thresholds, metric, scalar.")
@click.option("--group", metavar="COLUMN", help="Short for --group-column COLUMN --invariance.")
@click.option("--partial", "partial", metavar="auto|PARAMS",
              help="With invariance: 'auto' searches for partial invariance (frees the constrained parameter with the "
                   "largest score test until the step fits); or parameters to leave free, lavaan-style: x3~1,visual=~x2.")
@click.option("--criterion", type=click.Choice(["fit", "chisq"]), default="fit", show_default=True,
              help="With --partial auto: ΔCFI ≤ .01 and ΔRMSEA ≤ .015 (fit), or p of the χ² difference > .05 (chisq).")
@click.option("--parameterization", type=click.Choice(["delta", "theta"]), default="delta", show_default=True,
              help="Ordinal items (--estimator dwls): scale of the latent responses.")
@click.option("--starts", default=0, show_default=True, type=click.IntRange(0, 1000),
              help="Extra random starts (the best solution is kept); see --seed.")
@click.option("--seed", "start_seed", type=int, default=None, help="Seed for --starts.")
@click.option("--std-lv", is_flag=True, help="Fix factor variances to 1 instead of the first loading.")
@click.option("--cluster", is_flag=False, flag_value="__worker__", default=None, metavar="[COLUMN]",
              help="Cluster-robust SEs and Yuan–Bentler scaled χ² as lavaan's cluster= (ML), by COLUMN; "
                   "without COLUMN, the design's worker column.")
@click.option("--top-mi", default=10, show_default=True, type=click.IntRange(0, 10000),
              help="How many modification indices to show.")
def cfa(wave, model_text, model_file, structure, compare, estimator, missing, invariance, group, partial, criterion,
        parameterization, starts, start_seed, std_lv, top_mi, cluster=None, **opts):
    """Confirmatory factor analysis with lavaan's fit measures; measurement invariance with --group.

    Uses every respondent of the first wave (unless --wave says otherwise): FIML when answers are
    missing (ml, mlr), with the N used and the missing-data method stated.

    \b
    Examples:
      peerscale cfa hs.csv --model "visual =~ x1+x2+x3; textual =~ x4+x5+x6; speed =~ x7+x8+x9"
      peerscale cfa export.csv --instrument pbr-y --structure bifactor --estimator mlr
      peerscale cfa hs.csv --model-file hs.lav --group school
      peerscale cfa hs.csv --model-file hs.lav --group school --invariance scalar --partial auto
    """
    from ..analyses import cfa as analyse
    from ..psychometrics.lavaan_syntax import model_variables, parse_model

    if sum(x is not None for x in (model_text, model_file)) > 1:
        raise click.UsageError("give --model or --model-file, not both")
    if model_file:
        from ..io.source import read_bytes

        try:
            model_text = read_bytes(model_file, "model file", limit=1 << 20).decode("utf-8")
        except UnicodeDecodeError:
            raise PeerscaleError("the model file is not UTF-8 text", file=model_file) from None
    if model_text is not None and structure is not None:
        raise click.UsageError("--structure builds the model from --instrument; do not combine it with --model")
    if model_text is None and not opts.get("instrument") and not opts.get("scales"):
        raise click.UsageError("give --model, --model-file, or --instrument (with --structure)")
    if compare and model_text is not None:
        raise click.UsageError("--compare compares the instrument's structures; use it with --instrument")
    if group:
        if opts.get("group_column") and opts["group_column"] != group:
            raise click.UsageError("--group and --group-column name different columns")
        opts["group_column"], invariance = group, invariance or "scalar"
    if partial and not invariance:
        raise click.UsageError("--partial needs invariance: give --group COLUMN (or --group-column and --invariance)")
    if model_text is not None and not opts.get("instrument") and not opts.get("scales"):
        observed, _ = model_variables(parse_model(model_text))
        opts["scales"] = ("model=" + ",".join(observed),)
    responses = read_responses(opts)
    if cluster == "__worker__":
        cluster = responses.design.worker
        if not cluster:
            raise click.UsageError("--cluster without a column needs the design's worker column (--worker-column)")
    if invariance and not responses.design.group:
        raise click.UsageError("--invariance needs a group column: give --group-column COLUMN (or group: in study.yaml)")
    res = analyse(responses.wave(wave), model=model_text, structure=structure, compare=compare, estimator=estimator,
                  missing=missing, std_lv=std_lv, group=responses.design.group if invariance else None, top_mi=top_mi,
                  invariance=invariance or "scalar", partial=partial, criterion=criterion,
                  parameterization=parameterization, starts=starts, seed=start_seed, cluster=cluster)
    out = res.to_dict()
    if opts.get("as_json"):
        emit_json(out)
        return
    _print_cfa(out, opts.get("quiet"))


def _print_cfa(out, quiet):
    from rich.table import Table

    con = console(quiet=quiet)
    print_sample(con, out["sample"])
    f = out["fit"]
    how = {"fiml": "FIML (full-information ML: every respondent with an answer)",
           "listwise": "listwise (rows missing any model item dropped)",
           "none": "none missing"}[out["missing"]]
    est_label = "ML, cluster-robust" if out.get("cluster") else out["estimator"]
    con.print(f"CFA ({est_label}), N used = {out['n']} of {out['n_rows']} rows; missing data: {how}"
              + ("" if out["converged"] else "  [yellow]did not converge[/yellow]"))
    t = Table(title="Fit (computed as lavaan)")
    t.add_column("measure")
    t.add_column("DWLS" if out["estimator"] == "DWLS" else "ML", justify="right")
    robust = out.get("fit_robust")
    if robust:
        t.add_column("scaled (WLSMV)" if out["estimator"] == "DWLS" else "robust (MLR)", justify="right")
    ci = lambda a, b: f"[{_fmt(a)}, {_fmt(b)}]"  # noqa: E731
    import math
    kind = "robust" if robust and isinstance(robust.get("cfi_robust"), float) and math.isfinite(robust["cfi_robust"]) \
        else "scaled"
    rows = [("χ²", _fmt(f["chisq"], 2), robust and _fmt(robust["chisq_scaled"], 2) + " scaled"),
            ("df", str(f["df"]), robust and str(f["df"])),
            ("p", p_cell(f["pvalue"]), robust and p_cell(robust["pvalue_scaled"])),
            ("CFI", _fmt(f["cfi"]), robust and _fmt(robust[f"cfi_{kind}"])),
            ("TLI", _fmt(f["tli"]), robust and _fmt(robust[f"tli_{kind}"])),
            ("RMSEA", _fmt(f["rmsea"]), robust and _fmt(robust[f"rmsea_{kind}"])),
            ("RMSEA 90% CI", ci(*f["rmsea_ci"]), robust and ci(*robust[f"rmsea_ci_{kind}"])),
            ("SRMR", _fmt(f["srmr"]), robust and ""),
            ("AIC", _fmt(f["aic"], 1), robust and ""),
            ("BIC", _fmt(f["bic"], 1), robust and "")]
    for name, a, b in rows:
        t.add_row(name, a, *([b] if robust else []))
    con.print(t)
    if robust and out["estimator"] == "DWLS":
        con.print(f"Items treated as ordinal: DWLS on polychoric correlations; mean-and-variance adjusted χ² "
                  f"(scaling {robust['scaling_factor']:.3f}, shift {robust['shift_parameter']:.2f}), as lavaan's WLSMV.")
    elif robust:
        which = ("robust CFI/TLI/RMSEA as lavaan's *.robust (Brosseau-Liard & Savalei)" if kind == "robust" else
                 "scaled CFI/TLI/RMSEA (lavaan's *.scaled)")
        if out.get("missing") == "fiml" and kind == "robust":
            which += ", corrected for missing data as lavaan (Zhang & Savalei 2020)"
        con.print(f"Yuan–Bentler scaling factor {robust['scaling_factor']:.3f}; {which}.")
        if out.get("cluster"):
            con.print(f"Cluster-robust SEs and scaled χ² by {out['cluster']['column']} "
                      f"({out['cluster']['n_clusters']} clusters), as lavaan's cluster=.")
    for note in out.get("notes", []):  # e.g. a one-dimension instrument, clusters of one row
        con.print(f"note: {note}", markup=False)
    lt = Table(title="Standardized loadings (std.all) with delta-method SEs")
    for c in ("factor", "item", "loading", "SE"):
        lt.add_column(c, justify="right" if c in ("loading", "SE") else "left")
    for key, v in out["loadings_std"].items():
        lv, item = key.split("=~")
        lt.add_row(lv, item, _fmt(v), _fmt(out["loadings_std_se"][key]))
    con.print(lt)
    if out["factor_correlations"]:
        ft = Table(title="Factor correlations")
        ft.add_column("pair")
        ft.add_column("r", justify="right")
        for k, v in out["factor_correlations"].items():
            ft.add_row(k, _fmt(v))
        con.print(ft)
    if out.get("modification_indices"):
        mt = Table(title="Largest modification indices")
        for c in ("parameter", "MI", "EPC", "std EPC"):
            mt.add_column(c, justify="left" if c == "parameter" else "right")
        for r in out["modification_indices"]:
            mt.add_row(f"{r['lhs']} {r['op']} {r['rhs']}", _fmt(r["mi"], 2), _fmt(r["epc"]), _fmt(r["sepc_all"]))
        con.print(mt)
    rt = Table(title="Largest residual correlations (observed − implied)")
    rt.add_column("pair")
    rt.add_column("residual r", justify="right")
    for r in out["largest_residual_correlations"][:5]:
        rt.add_row(f"{r['lhs']} ~~ {r['rhs']}", _fmt(r["residual_r"]))
    con.print(rt)
    if "comparison" in out:
        ct = Table(title="Competing structures")
        for c in ("structure", "χ²", "df", "CFI", "TLI", "RMSEA", "SRMR", "AIC", "BIC"):
            ct.add_column(c, justify="left" if c == "structure" else "right")
        for name, r in out["comparison"].items():
            if "error" in r:
                ct.add_row(name, r["error"], *[""] * 7)
                continue
            ct.add_row(name, _fmt(r["chisq"], 2), str(r["df"]), _fmt(r["cfi"]), _fmt(r["tli"]), _fmt(r["rmsea"]),
                       _fmt(r["srmr"]), _fmt(r["aic"], 1), _fmt(r["bic"], 1))
        con.print(ct)
        vs = out["comparison"].get("one-factor", {}).get("vs_correlated")
        if vs:
            con.print(f"one factor vs correlated factors: Δχ²({vs['df_diff']:.0f}) = {vs['chisq_diff']:.2f}, "
                      f"{p_text(vs['pvalue'])}")
    if "invariance" in out:
        it = Table(title="Measurement invariance" + (" (scaled χ², robust differences)" if "fit_robust" in out else ""))
        for c in ("level", "χ²", "df", "CFI", "RMSEA", "SRMR"):
            it.add_column(c, justify="left" if c == "level" else "right")
        for lv, r in out["invariance"].items():
            it.add_row(lv, _fmt(r["chisq"], 2), str(r["df"]), _fmt(r["cfi"]), _fmt(r["rmsea"]), _fmt(r["srmr"]))
        con.print(it)
        dt = Table(title="Invariance steps (each against the previous level)")
        for c in ("step", "Δχ²", "Δdf", "p", "ΔCFI", "ΔRMSEA"):
            dt.add_column(c, justify="left" if c == "step" else "right")
        levels = list(out["invariance"])
        for prev, lv in zip(levels, levels[1:]):
            r = out["invariance"][lv]
            dt.add_row(f"{prev} → {lv}", _fmt(r.get("chisq_diff"), 2), _fmt(r.get("df_diff"), 0),
                       p_cell(r.get("pvalue_diff")) if r.get("pvalue_diff") is not None else "—",
                       _fmt(r.get("delta_cfi")), _fmt(r.get("delta_rmsea")))
        con.print(dt)
        con.print("Guides: ΔCFI ≤ −0.010 (Cheung & Rensvold 2002) or ΔRMSEA ≥ 0.015 (Chen 2007) suggest non-invariance.")
        if out.get("partial"):
            con.print("Partial invariance: left free across groups: " + ", ".join(out["partial"]))
    if out.get("partial_search"):
        pt = Table(title="Partial invariance search (score tests, lavaan's lavTestScore)")
        for c in ("level", "freed", "score", "χ²", "df", "CFI", "RMSEA", "ΔCFI", "ΔRMSEA", "ok"):
            pt.add_column(c, justify="left" if c in ("level", "freed") else "right")
        for r in out["partial_search"]:
            pt.add_row(r["level"], r.get("freed") or "", _fmt(r.get("score_X2"), 1),
                       _fmt(r["chisq"], 1), str(r["df"]), _fmt(r["cfi"]), _fmt(r["rmsea"]),
                       _fmt(r.get("delta_cfi")), _fmt(r.get("delta_rmsea")), "yes" if r["criterion_met"] else "no")
        con.print(pt)
    for w in out.get("warnings", []):
        con.print(f"[yellow]warning: {w}[/yellow]")
