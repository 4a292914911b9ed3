"""``peerscale irt calibrate | score | info | dif``: item response theory from the command line."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..cli_common import console, data_options, emit_json, p_text, read_responses, wave_option
from ..errors import PeerscaleError


@click.group()
def irt():
    """Item response theory: calibrate a bank, score from it, information, DIF.

    \b
    Examples:
      peerscale irt calibrate data.csv -i pbr-y --scale share -o share-bank.yaml
      peerscale irt score data.csv -i share-bank.yaml --scale share -o theta.csv
      peerscale irt info -i share-bank.yaml --scale share --svg figures/
      peerscale irt dif data.csv -i pbr-y --scale share --group site
    """


# ------------------------------------------------------------------------------------- helpers

def _pick_scale(opts: dict, choose: bool = True) -> str | None:
    """``--scale NAME`` picks an instrument scale; ``--scale NAME=ITEMS`` defines one ad hoc.
    A picked scale is the only one read (``choose``), so its items must be in the data."""
    chosen = [s for s in opts.get("scales") or () if "=" not in s]
    opts["scales"] = tuple(s for s in opts.get("scales") or () if "=" in s)
    if len(chosen) > 1:
        raise click.UsageError("give one --scale NAME to analyse")
    if chosen and not opts.get("instrument"):
        raise click.UsageError(f"--scale {chosen[0]} names a scale of an instrument: add --instrument NAME|PATH, "
                               "or define it ad hoc as --scale NAME=ITEM,ITEM,...")
    if chosen and choose and not opts.get("chosen_scales"):
        opts["chosen_scales"] = chosen[0]
    return chosen[0] if chosen else None


def _resolve_scale(inst, name):
    if name is None:
        plain = [s for s in inst.scales if not s.composite]
        if len(inst.scales) == 1 or len(plain) == 1:
            return (plain or inst.scales)[0]
        raise click.UsageError("the instrument has several scales: choose one with --scale NAME "
                               f"({', '.join(s.name for s in inst.scales)})")
    return inst.scale(name)


def _declared(inst, scale, responses):
    """Each item's codes in category order: the response scale's codes (or whole-number
    range), reversed for reverse-keyed items; None (= the codes observed) when undeclared."""
    import numpy as np

    out = {}
    for iid, key in zip(scale.items, scale.keys):
        rs = inst.items[iid].response_scale
        if rs.codes:
            codes = sorted(rs.codes)
        elif rs.has_range and float(rs.min).is_integer() and float(rs.max).is_integer() and rs.max - rs.min <= 20:
            codes = list(np.arange(rs.min, rs.max + 1))
        else:
            codes = sorted(np.unique(responses[iid].dropna().to_numpy()).tolist())
        out[iid] = list(reversed(codes)) if key < 0 else codes
    return out


def _bank_of(inst, scale_name):
    """(scale name, frozen bank) from the instrument's irt: block (the only one by default)."""
    if not inst.irt:
        raise PeerscaleError("the scoring file has no irt: block", file=inst.path,
                             hint="write one with `peerscale irt calibrate ... -o bank.yaml`")
    if scale_name is None:
        if len(inst.irt) > 1:
            raise click.UsageError(f"choose the bank with --scale ({', '.join(inst.irt)})")
        scale_name = next(iter(inst.irt))
    if scale_name not in inst.irt:
        raise PeerscaleError(f"scale {scale_name!r} has no IRT bank", file=inst.path, hint="banks: " + ", ".join(inst.irt))
    return scale_name, inst.irt[scale_name]


def _fmt(x, nd=3):
    import math
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—" if not (isinstance(x, float) and math.isinf(x)) else ("inf" if x > 0 else "-inf")
    return f"{x:.{nd}f}"


def _console():
    """The result console; written to a file or pipe it is 160 columns wide, so the wide IRT
    tables (slopes, thresholds and their SEs; lordif's statistics) are not cut to 80."""
    con = console()
    if not con.is_terminal:
        con.width = max(con.width, 160)
    return con


def _progress_cb(bar):
    last = [0]

    def cb(it, change=None):
        bar.advance(it - last[0])
        last[0] = it
    return cb


# ------------------------------------------------------------------------------------- calibrate

@irt.command()
@data_options
@wave_option
@click.option("--model", type=click.Choice(["graded", "2pl", "rasch"]), default="graded", show_default=True,
              help="Graded response model (2PL for binary items), 2PL (binary only) or Rasch (slopes 1, variance free).")
@click.option("--link", type=click.Choice(["logistic", "probit"]), default="logistic", show_default=True,
              help="Cumulative link: logistic (mirt) or probit (normal ogive, lavaan's categorical factor model).")
@click.option("--collapse", is_flag=True, help="Merge response categories nobody chose into the adjacent category "
                                               "(default: stop with a message). The merge is recorded in the bank.")
@click.option("--quadpts", type=click.IntRange(5, 1001), default=61, show_default=True, help="EM quadrature nodes on [-6, 6].")
@click.option("--tol", type=click.FloatRange(min=0, min_open=True), default=None,
              help="EM stops when no parameter changes by more (default 1e-6; 1e-4 with --mirt-compatible).")
@click.option("--mirt-compatible", is_flag=True,
              help="Follow R mirt's own EM path and stopping rule (BFGS M-steps, Ramsay acceleration, tol 1e-4) "
                   "so the estimates equal mirt(data, 1)'s digit for digit; default: the maximum of the likelihood. "
                   "Logistic graded/2PL only.")
@click.option("--no-se", is_flag=True, help="Skip the standard errors (Oakes observed information).")
@click.option("--no-fit", is_flag=True, help="Skip M2, S-X2 and local dependence.")
@click.option("-o", "--output", type=click.Path(readable=False), help="Write a scoring file with the frozen bank (irt: block).")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--sample", default="", help="A description of the calibration sample, stored in the bank.")
@click.option("--method", "score_method", type=click.Choice(["EAP", "MAP", "ML", "EAPsum"]), default="EAP",
              show_default=True, help="Scoring method the bank asks `peerscale score` to use.")
def calibrate(wave, model, link, collapse, quadpts, tol, mirt_compatible, no_se, no_fit, output, force, sample,
              score_method, **opts):
    """Calibrate a scale's items (GRM/2PL/Rasch by marginal ML, as mirt) and optionally freeze them.

    Uses the first wave unless --wave says otherwise, so each respondent counts once.

    \b
    Examples:
      peerscale irt calibrate Science.csv --scale sci=Comfort,Work,Future,Benefit
      peerscale irt calibrate export.csv -i pbr-y --scale share -o share-bank.yaml --sample "pilot 2026"
    """
    from ..irt.result import fit_irt
    from ..progress import progress

    scale_name = _pick_scale(opts)
    if output and Path(output).exists() and not force:
        raise PeerscaleError("output file exists", file=output, hint="choose another -o path or add --force")
    responses = read_responses(opts)
    inst = responses.instrument
    scale = _resolve_scale(inst, scale_name)
    frame = responses.wave(wave).items()[list(scale.items)].reset_index(drop=True)
    with progress(None, f"calibrating {scale.name}", quiet=opts.get("quiet")) as bar:
        res = fit_irt(frame, model=model, link=link, declared=_declared(inst, scale, frame), collapse=collapse,
                      quadpts=quadpts, tol=tol, mirt_compatible=mirt_compatible, se=not no_se,
                      progress=_progress_cb(bar), file=responses.source)
    fit = {}
    if not no_fit:
        fit["m2"] = res.m2() if len(scale.items) >= 3 else None
        fit["itemfit"] = res.itemfit()
        fit["ld"] = res.local_dependence()
    written = None
    if output:
        bank = res.to_bank(scale.name, sample=sample, method=score_method)
        written = write_bank_file(responses._base.full_instrument, bank, output, force=force,
                                  protect=responses.inputs)
    result = calibration_json(res, scale, fit, written)
    if opts.get("as_json"):
        emit_json(result)
    elif not opts.get("quiet"):
        print_calibration(res, scale, fit, written)


def calibration_json(res, scale, fit, written) -> dict:
    si = res.to_frame()
    irt_form = res.to_frame("irt")
    out = {"scale": scale.name, "model": res.model, "link": res.link, "n": res.n, "n_left_out": res.data.n_empty,
           "loglik": res.loglik, "aic": res.aic, "bic": res.bic, "n_parameters": res.n_par,
           "iterations": res.iterations, "converged": res.converged, "mirt_compatible": res.mirt_compatible,
           "latent_variance": res.latent_var,
           "se_method": res.se_method, "notes": res.notes,
           "items": {iid: {"slope_intercept": {k: v for k, v in si.loc[iid].items() if k != "categories"},
                           "irt": {k: v for k, v in irt_form.loc[iid].items() if k != "categories"},
                           "categories": [list(g) for g in res.categories[j]]}
                     for j, iid in enumerate(res.item_ids)},
           "output": None if written is None else str(written)}
    if fit:
        out["m2"] = fit.get("m2")
        out["itemfit"] = fit["itemfit"].reset_index().to_dict("records")
        out["local_dependence"] = fit["ld"].to_dict("records")
    return out


def print_calibration(res, scale, fit, written) -> None:
    from rich.table import Table

    con = _console()
    con.print(f"{res._model_name()} for {scale.name} ({res.link} link): {len(res.item_ids)} items, {res.n} respondents"
              + (f", {res.data.n_empty} rows without answers left out" if res.data.n_empty else ""))
    con.print(f"log-likelihood {res.loglik:.3f}   AIC {res.aic:.2f}   BIC {res.bic:.2f}   parameters {res.n_par}   "
              f"EM{' (mirt path)' if res.mirt_compatible else ''} {'converged' if res.converged else 'NOT converged'} "
              f"({res.iterations} cycles)")
    if res.model == "rasch":
        con.print(f"latent variance {res.latent_var:.4f}" + (f" (SE {res.se_var:.4f})" if res.se_var else ""))
    si = res.to_frame()
    irt_form = res.to_frame("irt")
    K1 = res.d.shape[1]
    t = Table(title="Item parameters: slope-intercept (a, d) and IRT form (b = -d/a); SE in brackets")
    t.add_column("item")
    t.add_column("a", justify="right")
    for k in range(K1):
        t.add_column(f"d{k + 1}", justify="right")
    for k in range(K1):
        t.add_column(f"b{k + 1}", justify="right")
    has_se = "a_se" in si.columns
    for iid in res.item_ids:
        row = si.loc[iid]
        cells = [iid, _fmt(row["a"]) + (f" ({_fmt(row['a_se'])})" if has_se and res.model != "rasch" else "")]
        for k in range(K1):
            v = row[f"d{k + 1}"]
            cells.append("" if v != v else _fmt(v) + (f" ({_fmt(row[f'd{k + 1}_se'])})" if has_se else ""))
        for k in range(K1):
            v = irt_form.loc[iid, f"b{k + 1}"]
            cells.append("" if v != v else _fmt(v))
        t.add_row(*cells)
    con.print(t)
    if res.se_method:
        con.print(f"SEs: {res.se_method}")
    if fit:
        m2 = fit.get("m2")
        if m2 and m2.get("df"):
            con.print(f"M2* = {m2['M2']:.3f} on {m2['df']} df ({p_text(m2['p'])}), RMSEA {m2['RMSEA']:.4f}, "
                      f"SRMSR {m2['SRMSR']:.4f}")
        else:
            con.print("M2*: too few degrees of freedom (more parameters than first and second moments)")
        it = fit["itemfit"]
        t = Table(title=f"S-X2 item fit ({int(it['n'].iloc[0])} complete responses)")
        for c in ("item", "S-X2", "df", "RMSEA", "p"):
            t.add_column(c, justify="left" if c == "item" else "right")
        for iid, r in it.iterrows():
            t.add_row(iid, _fmt(r["S_X2"]), str(int(r["df"])), _fmt(r["RMSEA"], 4), _fmt(r["p"], 4))
        con.print(t)
        ld = fit["ld"]
        worst = ld.reindex(ld["Q3"].abs().sort_values(ascending=False).index).head(5)
        t = Table(title="Local dependence: the 5 pairs with the largest |Q3|")
        for c in ("pair", "LD X2", "df", "p", "Cramér V", "Q3"):
            t.add_column(c, justify="left" if c == "pair" else "right")
        for r in worst.itertuples():
            t.add_row(f"{r.item1} - {r.item2}", _fmt(r.LD_X2), str(int(r.df)) if r.df == r.df else "", _fmt(r.p, 4),
                      _fmt(r.cramer_v), _fmt(r.Q3))
        con.print(t)
    for n in res.notes:
        con.print(f"note: {n}")
    if written:
        con.print(f"Wrote the frozen bank to {written} (score with: peerscale score DATA -i {written} -o OUT)")


def write_bank_file(inst, bank, output, *, force=False, protect=()) -> Path:
    """A scoring file with the bank in its ``irt:`` block: the instrument's own scoring file
    (items re-pointed so they resolve from the new location), or an inline one for ad-hoc scales."""
    import yaml

    from ..io.write import atomic_write
    from ..spec import _read_yaml, load_instrument_file, package_dir

    out = Path(output).expanduser()
    if inst.path:
        doc = dict(_read_yaml(Path(inst.path)))
        if isinstance(doc.get("items"), str) and inst.bank_path:
            bank_path = Path(inst.bank_path).resolve()
            if bank_path.parent == package_dir("items").resolve():
                doc["items"] = bank_path.stem
            else:
                doc["items"] = os.path.relpath(bank_path, out.resolve().parent)
    else:
        codes = sorted({c for it in bank.items for g in it.categories for c in g})
        scale = inst.scale(bank.scale)
        doc = {"name": bank.scale, "title": f"{bank.scale} (ad-hoc scale with a frozen IRT bank)", "version": "",
               "response_scales": {"codes": {"min": codes[0], "max": codes[-1]}},
               "items": [{"id": i, "text": i, "response_scale": "codes"} for i in scale.items],
               "scales": [{"name": scale.name, "items": [("-" if k < 0 else "") + i for i, k in zip(scale.items, scale.keys)],
                           "method": scale.method, "min_answered": scale.min_answered}]}
    doc["irt"] = {**(doc.get("irt") or {}), bank.scale: bank.to_dict()}
    text = ("# Written by `peerscale irt calibrate`: the irt block holds frozen item parameters.\n"
            + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=None, width=110))

    def write(tmp):
        Path(tmp).write_text(text, encoding="utf-8")
        load_instrument_file(Path(tmp))  # validated like any scoring file before it replaces anything

    try:
        return atomic_write(out, write, force=force, protect=protect)
    except PeerscaleError as exc:
        if exc.file and exc.file != str(out):
            exc.file = str(out)
        raise


# ------------------------------------------------------------------------------------- score

@irt.command("score")
@data_options
@click.option("--method", type=click.Choice(["EAP", "MAP", "ML", "EAPsum"]), help="Default: the bank's method.")
@click.option("--allow-absent", is_flag=True, help="Score a short form: bank items that are not columns count as unanswered.")
@click.option("-o", "--output", type=click.Path(readable=False), help="Write ids, theta, SE, T and its SE.")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
def score_cmd(method, allow_absent, output, force, **opts):
    """Score INPUT from the frozen bank (irt: block) of a scoring file: theta, SE, T = 50 + 10 theta.

    Any subset of the bank's items gives a score (response-pattern scoring); respondents who
    answered fewer than the scale's minimum get none.

    \b
    Example:
      peerscale irt score new-wave.csv -i share-bank.yaml --scale share --method EAP -o theta.csv
    """
    import numpy as np
    import pandas as pd

    from ..cli_common import choose_instrument, read_options
    from ..io import write_table
    from ..irt.result import score_bank
    from ..responses import _by_item, _id_columns, load_export, resolve_design
    from ..scoring import clean_items

    scale_name = _pick_scale(opts, choose=False)
    if not opts.get("instrument"):
        raise click.UsageError("give --instrument PATH: a scoring file with an irt: block")
    # a short form may lack some bank items (--allow-absent), so the items are cleaned here, not by read()
    options = read_options(opts)
    id_columns = options.pop("id_columns")
    table, inst, path, given = load_export(opts["input"], choose_instrument(opts), **options)
    data = table.data
    scale_name, bank = _bank_of(inst, scale_name)
    scale = inst.scale(scale_name)
    present = [i for i in bank.item_ids if i in data.columns]
    mask = None if table.in_scope is None else np.asarray(table.in_scope, dtype=bool)
    if present:
        clean = clean_items(data, inst, present, on_invalid=opts.get("on_invalid") or "error",
                            value_labels=_by_item(table.value_labels, inst),
                            missing_values=_by_item(table.missing_values, inst), file=path, row_mask=mask)
        responses = clean.frame()
    else:
        responses = pd.DataFrame(index=range(len(data)))
    res = score_bank(responses, bank, method=method, min_answered=min(scale.required, len(bank.items)),
                     file=path, allow_absent=allow_absent)
    if mask is not None:
        res.loc[~mask, ["theta", "se", "t", "t_se"]] = np.nan
    id_cols = _id_columns(data, table, inst, resolve_design(given, table, inst, id_columns, path), id_columns, path)
    ids = data[id_cols].reset_index(drop=True) if id_cols else pd.DataFrame({"row": np.arange(1, len(res) + 1)})
    res.columns = [f"{scale_name}_{c}" if c != "n_answered" else f"{scale_name}_n" for c in res.columns]
    res = res.rename(columns={f"{scale_name}_se": f"{scale_name}_theta_se"})
    out = pd.concat([ids.reset_index(drop=True), res.reset_index(drop=True)], axis=1)
    scored = int(np.isfinite(res[f"{scale_name}_theta"]).sum())
    summary = {"scale": scale_name, "method": method or bank.method, "n_rows": len(out), "n_scored": scored,
               "n_too_few_answered": len(out) - scored, "items_in_bank": len(bank.items),
               "mean_theta": float(np.nanmean(res[f"{scale_name}_theta"].replace([np.inf, -np.inf], np.nan)))
               if scored else None}
    if output:
        from ..responses import input_files as export_inputs

        written = write_table(out, output, force=force,
                              protect=export_inputs(path, inst, table, options.get("map"),
                                                    options.get("redcap_dictionary"), given))
        summary["output"] = str(written)
    if opts.get("as_json"):
        summary["scores"] = None if output else out.to_dict("records")
        emit_json(summary)
    elif not opts.get("quiet"):
        con = console(stderr=bool(output))
        if not output:
            con.print(out.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        con.print(f"{scored} of {len(out)} respondents scored ({summary['method']}); "
                  f"{summary['n_too_few_answered']} answered too few of the {len(bank.items)} bank items"
                  + (f"; wrote {summary['output']}" if output else ""))


# ------------------------------------------------------------------------------------- info

def _parse_grid(text: str):
    import numpy as np
    try:
        parts = [float(v) for v in text.split(":")]
        lo, hi = parts[0], parts[1]
        step = parts[2] if len(parts) > 2 else 0.5
    except (ValueError, IndexError):
        raise click.BadParameter("give LOW:HIGH[:STEP], e.g. -4:4:0.5", param_hint="--theta") from None
    if not lo < hi or step <= 0 or (hi - lo) / step > 10000:
        raise click.BadParameter("LOW must be below HIGH and STEP positive (at most 10,000 points)", param_hint="--theta")
    return np.round(np.arange(lo, hi + step / 2, step), 10)


@irt.command()
@click.option("--instrument", "-i", required=True, metavar="NAME|PATH", help="A scoring file with an irt: block.")
@click.option("--scale", "scale_name", metavar="NAME", help="The bank's scale (default: the only one).")
@click.option("--theta", "theta_grid", default="-4:4:0.5", show_default=True, metavar="LOW:HIGH[:STEP]",
              help="The theta grid for information and curves.")
@click.option("--svg", "svg_dir", type=click.Path(file_okay=False), help="Write test information and category response curve figures (SVG) here.")
@click.option("--json", "as_json", is_flag=True, help="Information, SE, curves and the sum-score table as JSON.")
@click.option("--quiet", "-q", is_flag=True)
def info(instrument, scale_name, theta_grid, svg_dir, as_json, quiet):
    """Item and test information, SE across theta, category response curves and the EAP
    sum-score conversion table of a frozen bank.

    \b
    Examples:
      peerscale irt info -i share-bank.yaml --theta -3:3:0.25
      peerscale irt info -i share-bank.yaml --svg figures/ --json > info.json
    """
    import numpy as np

    from ..irt.model import Grid
    from ..irt.plots import curves_svg, information_svg
    from ..irt.result import curves_frame, information_frame, sum_table
    from ..spec import load_instrument

    inst = load_instrument(instrument)
    scale_name, bank = _bank_of(inst, scale_name)
    a, d, n_cat = bank.arrays()
    theta = _parse_grid(theta_grid)
    ids = bank.item_ids
    cats = [list(i.categories) for i in bank.items]
    infof = information_frame(a, d, bank.link, ids, theta)
    curves = curves_frame(a, d, n_cat, bank.link, ids, cats, theta)
    table = sum_table(a, d, n_cat, bank.link, cats, Grid.make(bank.points, *bank.range), bank.mean, bank.sd ** 2)
    written = []
    if svg_dir:
        folder = Path(svg_dir)
        folder.mkdir(parents=True, exist_ok=True)
        fine = np.linspace(theta[0], theta[-1], 161)
        files = {f"{scale_name}-information.svg": information_svg(information_frame(a, d, bank.link, ids, fine), scale_name)}
        for iid in ids:
            files[f"{scale_name}-{iid}-curves.svg"] = curves_svg(curves_frame(a, d, n_cat, bank.link, ids, cats, fine), iid)
        for name, svg in files.items():
            (folder / name).write_text(svg, encoding="utf-8")
            written.append(str(folder / name))
    if as_json:
        emit_json({"scale": scale_name, "model": bank.model, "link": bank.link, "theta": theta,
                   "item_information": {iid: infof[iid].to_numpy() for iid in ids},
                   "test_information": infof["test"].to_numpy(), "se": infof["se"].to_numpy(),
                   "curves": {iid: {lab: grp["probability"].to_numpy() for lab, grp in
                                    curves[curves["item"] == iid].groupby("category", sort=False)} for iid in ids},
                   "sum_score_table": table.to_dict("records"), "figures": written})
        return
    if quiet:
        return
    from rich.table import Table

    con = _console()
    t = Table(title=f"{scale_name}: information ({bank.model}, {bank.link} link)")
    t.add_column("theta", justify="right")
    for iid in ids:
        t.add_column(iid, justify="right")
    t.add_column("test", justify="right")
    t.add_column("SE", justify="right")
    for _, r in infof.iterrows():
        t.add_row(_fmt(r["theta"], 2), *[_fmt(r[i], 3) for i in ids], _fmt(r["test"], 3), _fmt(r["se"], 3))
    con.print(t)
    t = Table(title=f"{scale_name}: EAP for summed scores (complete form; {bank.points} nodes on "
                    f"[{bank.range[0]:g}, {bank.range[1]:g}])")
    for c in ("raw sum", "theta", "SE", "T", "T SE"):
        t.add_column(c, justify="right")
    for _, r in table.iterrows():
        t.add_row(f"{r['raw_sum']:g}", _fmt(r["theta"]), _fmt(r["se"]), _fmt(r["t"], 1), _fmt(r["t_se"], 1))
    con.print(t)
    for w in written:
        con.print(f"Wrote {w}")


# ------------------------------------------------------------------------------------- dif

@irt.command("dif")
@data_options
@wave_option
@click.option("--group", "group", metavar="COLUMN",
              help="The grouping column (two or more groups); default the design's group (--group-column, study.yaml).")
@click.option("--method", type=click.Choice(["lordif", "lrt", "both"]), default="both", show_default=True,
              help="Ordinal logistic regression with purification (lordif), the IRT LR test, or both.")
@click.option("--criterion", type=click.Choice(["chisqr", "r2", "beta"]), default="chisqr", show_default=True,
              help="lordif flagging criterion.")
@click.option("--alpha", type=float, default=0.01, show_default=True)
@click.option("--r2-change", type=float, default=0.02, show_default=True)
@click.option("--pseudo-r2", type=click.Choice(["mcfadden", "nagelkerke", "coxsnell"]), default="mcfadden", show_default=True)
@click.option("--beta-change", type=float, default=0.1, show_default=True)
@click.option("--anchor", "anchors", multiple=True, metavar="ITEM", help="Anchor item for the IRT LR test. Repeatable.")
@click.option("--max-iter", type=click.IntRange(1, 100), default=10, show_default=True, help="lordif purification iterations.")
def dif(wave, group, method, criterion, alpha, r2_change, pseudo_r2, beta_change, anchors, max_iter, **opts):
    """Differential item functioning of a scale's items across the groups in --group.

    Uses the first wave unless --wave says otherwise, so each respondent counts once.

    \b
    Examples:
      peerscale irt dif export.csv -i pbr-y --scale share --group site
      peerscale irt dif data.csv --scale s=I1,I2,I3,I4,I5 --group sex --method lrt --anchor I1 --anchor I2
    """
    from ..irt.dif import dif_lordif, dif_lrt
    from ..progress import progress

    scale_name = _pick_scale(opts)
    responses = read_responses(opts)
    inst = responses.instrument
    scale = _resolve_scale(inst, scale_name)
    group = group or responses.design.group
    if not group:
        raise click.UsageError("give --group COLUMN (or name the design's group: --group-column, study.yaml)")
    if group not in responses.data.columns:
        raise PeerscaleError(f"--group column {group!r} is not in the data", file=responses.source,
                             hint="columns: " + ", ".join(map(str, list(responses.data.columns)[:20])))
    view = responses.wave(wave)
    g = view.column(group).reset_index(drop=True)
    frame = view.items()[list(scale.items)].reset_index(drop=True)
    declared = _declared(inst, scale, frame)
    results = []
    if method in ("lordif", "both"):
        with progress(max_iter, "lordif purification", quiet=opts.get("quiet")) as bar:
            results.append(dif_lordif(frame, g, declared=declared, criterion=criterion, alpha=alpha, r2_change=r2_change,
                                      pseudo_r2=pseudo_r2, beta_change=beta_change, max_iter=max_iter,
                                      progress=lambda it: bar.advance(1)))
    if method in ("lrt", "both"):
        n_test = len(scale.items) - len(anchors)
        with progress(n_test, "IRT likelihood-ratio tests", quiet=opts.get("quiet")) as bar:
            results.append(dif_lrt(frame, g, anchors=list(anchors), declared=declared, alpha=alpha,
                                   progress=bar.advance))
    if opts.get("as_json"):
        emit_json({"scale": scale.name, "group": group,
                   "results": [{"method": r.method, "criterion": r.criterion, "groups": [str(x) for x in r.groups],
                                "flagged": r.flagged, "iterations": r.iterations, "anchors": r.anchors, "notes": r.notes,
                                "items": r.table.reset_index().to_dict("records")} for r in results]})
        return
    if opts.get("quiet"):
        return
    from rich.table import Table

    con = _console()
    for r in results:
        con.print(f"[bold]{r.method}[/bold]: groups {', '.join(map(str, r.groups))}; flagged: "
                  f"{', '.join(r.flagged) if r.flagged else 'none'}")
        t = Table()
        tab = r.table
        if "chi12" in tab.columns:
            cols = ["flag", "meets", "n", "chi12", "p12", "chi13", "p13", "chi23", "p23",
                    f"R2_12_{pseudo_r2}", f"R2_13_{pseudo_r2}", f"R2_23_{pseudo_r2}", "beta_change"]
        else:
            cols = ["flag", "X2", "df", "p"]
        t.add_column("item")
        for c in cols:
            t.add_column(c.replace(f"_{pseudo_r2}", ""), justify="right")
        for iid, row in tab.iterrows():
            t.add_row(iid, *[("yes" if row[c] else "") if c == "flag" else
                             (str(row[c]) if c in ("meets", "n", "df") else _fmt(float(row[c]), 4)) for c in cols])
        con.print(t)
        for n in r.notes:
            con.print(f"note: {n}")
