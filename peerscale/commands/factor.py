"""``peerscale efa`` and ``peerscale cfa``: factor analysis from the command line."""

from __future__ import annotations

from pathlib import Path

import click

from ..cli_common import console, data_options, emit_json, load_analysis_data
from ..errors import PeerscaleError


def _items_option(opts: dict, items: str | None) -> list[str] | None:
    """``--items A1,A2`` alone stands for an ad-hoc scale of those items."""
    chosen = [x.strip() for x in items.split(",") if x.strip()] if items else None
    if chosen and not opts.get("instrument") and not opts.get("scales"):
        opts["scales"] = ("items=" + ",".join(chosen),)
    return chosen


def _keyed_responses(ad, items: list[str] | None) -> "object":
    """Item responses with reverse-keyed items reversed as (min + max) − x, so that every
    item of a scale points the same way; ``items`` restricts (and orders) the columns."""
    import numpy as np

    inst = ad.instrument
    frame = ad.responses.copy()
    keys: dict[str, int] = {}
    for s in inst.scales:
        for i, k in zip(s.items, s.keys):
            keys.setdefault(i, k)
    for col in frame.columns:
        if keys.get(col, 1) < 0:
            rs = inst.items[col].response_scale
            if not rs.has_range:
                raise PeerscaleError("a reverse-keyed item needs a declared response range",
                                     column=col, hint="give --range MIN:MAX")
            frame[col] = rs.reverse(frame[col].to_numpy(dtype=float, copy=True))
    if items:
        absent = [i for i in items if i not in frame.columns]
        if absent:
            raise PeerscaleError(f"--items names {absent[0]!r}, which is not an item of the instrument",
                                 hint="check the spelling or the --map options")
        frame = frame[items]
    return frame.astype(float) if not isinstance(frame, np.ndarray) else frame


def _fmt(x, nd=3) -> str:
    import math
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:.{nd}f}"


# ---------------------------------------------------------------------------------------- efa

@click.command()
@data_options
@click.option("--items", metavar="A1,A2,...", help="Items to analyse (default: every scale item of the instrument).")
@click.option("--factors", default="parallel", show_default=True, metavar="K|parallel",
              help="Number of factors, or 'parallel' for Horn's parallel analysis.")
@click.option("--method", type=click.Choice(["minres", "ml", "pa"]), default="minres", show_default=True,
              help="Extraction (psych's fm).")
@click.option("--rotation", type=click.Choice(["oblimin", "geomin", "promax", "varimax", "none"]),
              default="oblimin", show_default=True)
@click.option("--iterations", default=20, show_default=True, type=click.IntRange(1, 100000),
              help="Parallel-analysis replicates (psych's n.iter).")
@click.option("--seed", type=int, default=None, help="Seed for the parallel-analysis replicates.")
@click.option("--polychoric", is_flag=True, help="Factor polychoric instead of Pearson correlations (ordinal items).")
def efa(items, factors, method, rotation, iterations, seed, polychoric, **opts):
    """KMO, Bartlett's test, parallel analysis and exploratory factor analysis (as psych::fa).

    \b
    Examples:
      peerscale efa bfi.csv --items A1,A2,A3,A4,A5,C1,C2,C3,C4,C5 --factors 2 --method ml
      peerscale efa export.csv --instrument pbr-y --factors parallel --iterations 100 --seed 1
    """
    from ..progress import progress
    from ..psychometrics.efa import efa_fit, fit_efa
    from ..psychometrics.factorability import bartlett_sphericity, kmo
    from ..psychometrics.parallel import parallel_analysis

    chosen = _items_option(opts, items)
    if factors != "parallel":
        try:
            k = int(factors)
        except ValueError:
            raise click.BadParameter("give a whole number or 'parallel'", param_hint="--factors") from None
        if k < 1:
            raise click.BadParameter("must be at least 1", param_hint="--factors")
    ad = load_analysis_data(opts)
    data = _keyed_responses(ad, chosen)
    if data.shape[1] < 3:
        raise PeerscaleError(f"an EFA needs at least three items, got {data.shape[1]}",
                             hint="list more items with --items")
    source = data
    if polychoric:
        from ..psychometrics.polychoric import polychoric_matrix
        source = polychoric_matrix(data)
    km = kmo(source)  # on the correlations that are factored
    bt = bartlett_sphericity(source, n_obs=len(data))
    pa = None
    if factors == "parallel":
        with progress(iterations, "parallel analysis", quiet=opts.get("quiet")) as bar:
            pa = parallel_analysis(data, iterations=iterations, seed=seed, progress=bar.advance)
        k = max(pa.n_factors, 1)
    res = fit_efa(source, k, method=method, rotation=rotation, n_obs=len(data))
    names = [f"F{i + 1}" for i in range(res.n_factors)]
    out = {
        "n": int(len(data)), "factors": res.n_factors, "method": method, "rotation": rotation,
        "correlations": "polychoric" if polychoric else "pearson",
        "loadings": {c: res.loadings[i].tolist() for i, c in enumerate(res.columns)},
        "communalities": {c: float(res.communalities[i]) for i, c in enumerate(res.columns)},
        "factor_correlations": res.phi.tolist(),
        "variance_explained": {n: {"ss_loadings": float(res.variance_explained.iloc[0, j]),
                                   "proportion": float(res.variance_explained.iloc[1, j])}
                               for j, n in enumerate(names)},
        "kmo": {"overall": km.msa, "items": km.msa_items.to_dict()},
        "bartlett": {"chisq": bt.chisq, "df": bt.df, "pvalue": bt.pvalue},
        "converged": res.converged,
        "fit": efa_fit(res),
    }
    if pa is not None:
        out["parallel"] = {"n_factors": pa.n_factors, "n_components": pa.n_components,
                           "iterations": iterations, "seed": seed, "quantile": pa.quantile,
                           "observed_fa": pa.observed_fa.tolist(), "simulated_fa": pa.simulated_fa.tolist(),
                           "observed_pc": pa.observed_pc.tolist(), "simulated_pc": pa.simulated_pc.tolist()}
    if opts.get("as_json"):
        emit_json(out)
        return
    _print_efa(out, names, res, opts.get("quiet"))


def _print_efa(out, names, res, quiet):
    from rich.table import Table

    con = console(quiet=quiet)
    con.print(f"n = {out['n']}; KMO = {out['kmo']['overall']:.3f}; Bartlett χ²({out['bartlett']['df']}) = "
              f"{out['bartlett']['chisq']:.1f}, p = {out['bartlett']['pvalue']:.3g}")
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
        t.add_row(c, *cells, _fmt(out["communalities"][c], 2), _fmt(out["kmo"]["items"][c], 2))
    t.add_row("SS loadings", *[_fmt(out["variance_explained"][n]["ss_loadings"], 2) for n in names], "", "")
    t.add_row("proportion", *[_fmt(out["variance_explained"][n]["proportion"], 2) for n in names], "", "")
    con.print(t)
    fit = out["fit"]
    if "chisq" in fit:
        con.print(f"Fit (as psych::fa): χ²({fit['df']:.0f}) = {fit['chisq']:.1f}, p = {fit['pvalue']:.3g}; "
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
@click.option("--model", "model_text", metavar="SYNTAX", help="lavaan model syntax; statements separated by newlines or ';'.")
@click.option("--model-file", type=click.Path(dir_okay=False, exists=True), help="A file with lavaan model syntax.")
@click.option("--structure", type=click.Choice(["correlated", "one-factor", "bifactor"]), default=None,
              help="With --instrument: the instrument's own structure (default correlated).")
@click.option("--compare", is_flag=True, help="With --instrument: also fit the other structures and compare them.")
@click.option("--estimator", type=click.Choice(["ml", "mlr", "dwls"]), default="ml", show_default=True,
              help="ML; MLR (robust SEs, Yuan–Bentler scaled χ², robust CFI/TLI/RMSEA); or dwls for Likert "
                   "items as ordinal (polychoric correlations, lavaan's WLSMV).")
@click.option("--missing", type=click.Choice(["listwise", "fiml"]), default="listwise", show_default=True,
              help="listwise: drop rows with any missing model item; fiml: full-information ML (ml or mlr).")
@click.option("--group", metavar="COLUMN", help="Grouping column: test configural, metric and scalar invariance.")
@click.option("--invariance", type=click.Choice(["configural", "thresholds", "metric", "scalar", "strict"]),
              default=None, help="With --group: the last invariance level to test (default scalar). Ordinal items "
                                 "(--estimator dwls) follow Wu & Estabrook: configural, thresholds, metric, scalar.")
@click.option("--partial", "partial", metavar="auto|PARAMS",
              help="With --group: 'auto' searches for partial invariance (frees the constrained parameter with the "
                   "largest score test until the step fits); or parameters to leave free, lavaan-style: x3~1,visual=~x2.")
@click.option("--criterion", type=click.Choice(["fit", "chisq"]), default="fit", show_default=True,
              help="With --partial auto: ΔCFI ≤ .01 and ΔRMSEA ≤ .015 (fit), or p of the χ² difference > .05 (chisq).")
@click.option("--parameterization", type=click.Choice(["delta", "theta"]), default="delta", show_default=True,
              help="Ordinal items (--estimator dwls): scale of the latent responses.")
@click.option("--starts", default=0, show_default=True, type=click.IntRange(0, 1000),
              help="Extra random starts (the best solution is kept); see --seed.")
@click.option("--seed", "start_seed", type=int, default=None, help="Seed for --starts.")
@click.option("--std-lv", is_flag=True, help="Fix factor variances to 1 instead of the first loading.")
@click.option("--top-mi", default=10, show_default=True, type=click.IntRange(0, 10000),
              help="How many modification indices to show.")
def cfa(model_text, model_file, structure, compare, estimator, missing, group, invariance, partial, criterion,
        parameterization, starts, start_seed, std_lv, top_mi, **opts):
    """Confirmatory factor analysis with lavaan's fit measures; measurement invariance with --group.

    \b
    Examples:
      peerscale cfa hs.csv --model "visual =~ x1+x2+x3; textual =~ x4+x5+x6; speed =~ x7+x8+x9"
      peerscale cfa export.csv --instrument pbr-y --structure bifactor --estimator mlr
      peerscale cfa hs.csv --model-file hs.lav --group school
      peerscale cfa hs.csv --model-file hs.lav --group school --invariance scalar --partial auto
    """
    from ..psychometrics.cfa import (fit_cfa, instrument_model, modification_indices,
                                     residual_correlations, standardized_solution)
    from ..psychometrics.fit import fit_measures
    from ..psychometrics.lavaan_syntax import model_variables, parse_model

    if sum(x is not None for x in (model_text, model_file)) > 1:
        raise click.UsageError("give --model or --model-file, not both")
    if model_file:
        model_text = Path(model_file).read_text(encoding="utf-8")
    if model_text is not None and structure is not None:
        raise click.UsageError("--structure builds the model from --instrument; do not combine it with --model")
    if model_text is None and not opts.get("instrument") and not opts.get("scales"):
        raise click.UsageError("give --model, --model-file, or --instrument (with --structure)")
    if (invariance or partial) and not group:
        raise click.UsageError("--invariance and --partial need --group")
    fit_opts: dict = {"std_lv": std_lv, "starts": starts, "seed": start_seed}
    if estimator == "dwls":
        fit_opts["parameterization"] = parameterization
    if model_text is not None:
        terms = parse_model(model_text)
        observed, _ = model_variables(terms)
        if not opts.get("instrument") and not opts.get("scales"):
            opts["scales"] = ("model=" + ",".join(observed),)
    ad = load_analysis_data(opts)
    structures = {}
    if model_text is None:
        structure = structure or "correlated"
        names = [structure] + ([s for s in ("one-factor", "correlated", "bifactor") if s != structure]
                               if compare else [])
        for s in names:
            structures[s] = instrument_model(ad.instrument, s)
        model_text, extra = structures[structure]
        fit_opts.update(extra)
    elif compare:
        raise click.UsageError("--compare compares the instrument's structures; use it with --instrument")
    terms = parse_model(model_text)
    data = _keyed_responses(ad, None)
    if group:
        data = data.copy()
        data[group] = _group_column(ad, group)
    res = fit_cfa(terms, data, estimator=estimator, missing=missing, **fit_opts)
    fm = fit_measures(res)
    std = standardized_solution(res)
    loads = std[std.op == "=~"]
    out = {
        "n": res.n, "missing": res.missing, "estimator": res.estimator, "model": model_text,
        "fit": {k: fm[k] for k in ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea_ci", "srmr",
                                   "aic", "bic", "npar", "baseline_chisq", "baseline_df", "logl")},
        "loadings_std": {f"{r.lhs}=~{r.rhs}": r.est_std for r in loads.itertuples()},
        "loadings_std_se": {f"{r.lhs}=~{r.rhs}": r.se for r in loads.itertuples()},
        "converged": res.converged,
    }
    if res.estimator in ("MLR", "DWLS"):
        out["fit_robust"] = {k: fm[k] for k in fm
                             if k.endswith(("_scaled", "_robust")) or k in ("scaling_factor", "shift_parameter")}
    lv_cov = std[(std.op == "~~") & std.lhs.isin(res.spec.latent) & std.rhs.isin(res.spec.latent)
                 & (std.lhs != std.rhs)]
    out["factor_correlations"] = {f"{r.lhs}~~{r.rhs}": r.est_std for r in lv_cov.itertuples()}
    mi = modification_indices(res, top=top_mi) if top_mi and res.estimator != "DWLS" else None
    if mi is not None:
        out["modification_indices"] = mi.to_dict(orient="records")
    rc = residual_correlations(res)
    out["largest_residual_correlations"] = _largest_residuals(rc, 10)
    if res.starts and len(res.starts["tried"]) > 1:
        out["starts"] = {k: res.starts[k] for k in ("tried", "converged", "best", "reached_best")}
    if res.warnings:
        out["warnings"] = res.warnings
    if len(structures) > 1:
        out["comparison"] = _compare_structures(structures, data, estimator, missing)
    if group:
        out.update(_invariance(model_text, data, group, estimator, missing, invariance, partial, criterion,
                               parameterization, fit_opts))
    if opts.get("as_json"):
        emit_json(out)
        return
    _print_cfa(out, opts.get("quiet"))


def _invariance(model_text, data, group, estimator, missing, level, partial, criterion, parameterization, fit_opts):
    """The invariance sequence (and the partial-invariance search) as JSON-ready dicts."""
    from ..psychometrics.invariance import measurement_invariance, partial_invariance

    ordinal = estimator == "dwls"
    order = ["configural", "thresholds", "metric", "scalar"] if ordinal else ["configural", "metric", "scalar", "strict"]
    level = level or "scalar"
    if level not in order:
        raise click.BadParameter(f"{level!r} is not a level of the {'ordinal' if ordinal else 'continuous'} sequence "
                                 f"({', '.join(order)})", param_hint="--invariance")
    levels = order[:order.index(level) + 1]
    common = dict(estimator=estimator, std_lv=fit_opts.get("std_lv", False), missing=missing,
                  parameterization=parameterization, starts=fit_opts.get("starts", 0), seed=fit_opts.get("seed"))
    out = {}
    if partial == "auto":
        res = partial_invariance(model_text, data, group, level=level, criterion=criterion, **common)
        out["partial_search"] = [{k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
                                 for row in res.table.to_dict(orient="records")]
        out["partial"] = res.partial
        group_partial = res.partial
    else:
        group_partial = [x.strip() for x in partial.split(",") if x.strip()] if partial else []
        if group_partial:
            out["partial"] = group_partial
    tab, _ = measurement_invariance(model_text, data, group, levels=levels, orthogonal=fit_opts.get("orthogonal", False),
                                    group_partial=group_partial, **common)
    out["invariance"] = {lv: {k: v for k, v in row.items()} for lv, row in tab.to_dict(orient="index").items()}
    return out


def _group_column(ad, group):
    import numpy as np

    src = ad.input.data if ad.input is not None else None
    if src is None or group not in src.columns:
        raise PeerscaleError("grouping column not found in the input", column=group)
    values = src[group].reset_index(drop=True)
    mask = ad.input.table.in_scope
    if mask is not None:
        values = values[np.asarray(mask, dtype=bool)].reset_index(drop=True)
    values.index = ad.responses.index
    return values


def _largest_residuals(rc, k):
    import numpy as np

    cols = list(rc.columns)
    vals = rc.to_numpy()
    iu = np.triu_indices(len(cols), 1)
    order = np.argsort(-np.abs(vals[iu]))[:k]
    return [{"lhs": cols[iu[0][o]], "rhs": cols[iu[1][o]], "residual_r": float(vals[iu][o])} for o in order]


def _compare_structures(structures, data, estimator, missing):
    from ..psychometrics.cfa import fit_cfa
    from ..psychometrics.fit import fit_measures
    from ..psychometrics.invariance import compare_models

    fits = {}
    for name, (text, extra) in structures.items():
        try:
            fits[name] = fit_cfa(text, data, estimator=estimator, missing=missing, **extra)
        except PeerscaleError as exc:
            fits[name] = exc
    rows = {}
    for name, f in fits.items():
        if isinstance(f, PeerscaleError):
            rows[name] = {"error": str(f)}
            continue
        fm = fit_measures(f)
        rows[name] = {k: fm[k] for k in ("chisq", "df", "cfi", "tli", "rmsea", "srmr", "aic", "bic")}
    ok = [n for n in ("one-factor", "correlated") if n in fits and not isinstance(fits[n], PeerscaleError)]
    if len(ok) == 2 and estimator != "dwls":
        # one factor is the correlated-factors model with all factor correlations at 1: nested
        tab = compare_models(fits["correlated"], fits["one-factor"], names=["correlated", "one-factor"])
        row = tab.loc["one-factor"]
        rows["one-factor"]["vs_correlated"] = {"chisq_diff": row["chisq_diff"], "df_diff": row["df_diff"],
                                               "pvalue": row["pvalue"]}
    return rows


def _print_cfa(out, quiet):
    from rich.table import Table

    con = console(quiet=quiet)
    f = out["fit"]
    con.print(f"CFA ({out['estimator']}), n = {out['n']} ({out.get('missing', 'listwise')})" + ("" if out["converged"] else
                                                              "  [yellow]did not converge[/yellow]"))
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
            ("p", _fmt(f["pvalue"]), robust and _fmt(robust["pvalue_scaled"])),
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
                      f"p = {vs['pvalue']:.3g}")
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
                       _fmt(r.get("pvalue_diff")), _fmt(r.get("delta_cfi")), _fmt(r.get("delta_rmsea")))
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
