"""``peerscale reliability`` and ``peerscale items``: scale reliability and item analysis.

Thin shells over :mod:`peerscale.analyses` (the same functions the report and notebooks use):
options in, one call, tables or JSON out.
"""

from __future__ import annotations

import click

from ..cli_common import (analyse_in_chunks, chunk_option, console, data_options, emit_json, fmt as _fmt, note_skipped,
                          print_sample, read_chunked_responses, read_responses, wave_option)
from ..errors import PeerscaleError


# ------------------------------------------------------------------------------ reliability

@click.command()
@data_options
@wave_option
@click.option("--bootstrap", "n_boot", default=0, show_default=True, type=click.IntRange(0, 1_000_000),
              metavar="N", help="Bootstrap resamples for a percentile interval of alpha (psych's n.iter); 0 = none.")
@click.option("--seed", type=int, default=None, help="Seed for the bootstrap resamples (reproducible intervals).")
@click.option("--ci", "level", default=0.95, show_default=True, type=click.FloatRange(0.5, 0.999),
              help="Confidence level of the Feldt and bootstrap intervals (and the ICC's).")
@click.option("--listwise", is_flag=True, help="Use only rows that answered every item of the scale (default: pairwise, as psych).")
@click.option("--ordinal", is_flag=True, help="Also ordinal alpha and ordinal omega from polychoric correlations.")
@click.option("--omega", "sl_omega", is_flag=True,
              help="Also Schmid-Leiman omega (hierarchical and total) of each composite, with one group factor "
                   "per subscale; without composites, of all scales together.")
@click.option("--omega-method", type=click.Choice(["minres", "ml", "pa"]), default="minres", show_default=True,
              help="Factor extraction for omega (psych's fm).")
@click.option("--icc", "retest_icc", is_flag=True,
              help="Test-retest ICC across the waves of the design (people matched by the respondent column).")
@click.option("--retest", type=click.Path(readable=False), metavar="FILE",
              help="Test-retest ICC: a second wave in its own file (same layout), people matched by the respondent column.")
@click.option("--rater-column", metavar="COLUMN",
              help="Inter-rater ICC: COLUMN names the rater, targets matched by the respondent column "
                   "(alpha and omega are then computed on the first rater).")
@chunk_option
def reliability(wave, n_boot, seed, level, listwise, ordinal, sl_omega, omega_method, retest_icc, retest,
                rater_column, **opts):
    """Cronbach's alpha (raw and standardized), Guttman's lambda 6, average r, Feldt and bootstrap
    intervals, item-total statistics and McDonald's omega, per scale (as psych::alpha and psych::omega).

    Scales are the instrument's, composites included (a composite's alpha and one-factor omega pool
    its subscales' items; --omega adds Schmid-Leiman omega with one group factor per subscale), or
    ad-hoc --scale ones. Computed on the first wave unless --wave says otherwise, so each
    respondent counts once.
    Omega labelled "one-factor" is omega total from a one-factor model; "Schmid-Leiman" gives omega
    hierarchical and omega total from a general factor plus one group factor per subscale.

    Test-retest or inter-rater reliability (ICC of the scale scores, via pingouin; ICC(2,1) is the
    primary one, all six Shrout-Fleiss types are listed): --icc (across the design's waves),
    --retest FILE (second wave in its own file) or --rater-column COLUMN.

    \b
    Examples:
      peerscale reliability bfi.csv --scale A=-A1,A2,A3,A4,A5 --range 1:6 --bootstrap 2000 --seed 1
      peerscale reliability export.csv --instrument pbr-y --omega --ordinal --json
      peerscale reliability export.csv --instrument pbr-y --icc
      peerscale reliability wave1.csv --instrument pbr-y --retest wave2.csv
    """
    from ..analyses import inter_rater, reliability as analyse, retest as retest_iccs

    modes = [m for m in (retest_icc, retest, rater_column) if m]
    if len(modes) > 1:
        raise click.UsageError("give only one of --icc, --retest and --rater-column")
    if seed is not None and not n_boot:
        raise click.UsageError("--seed is for the bootstrap: give --bootstrap N as well")
    needs_rows = next((flag for flag, given in (("--bootstrap", n_boot), ("--icc", retest_icc), ("--retest", retest),
                                                 ("--rater-column", rater_column)) if given), None)
    if analyse_in_chunks(opts, needs_rows):
        chunked = read_chunked_responses(opts)
        res = chunked.reliability(wave=wave, listwise=listwise, level=level, ordinal=ordinal, omega=sl_omega,
                                  omega_method=omega_method)
        note_skipped(chunked, opts.get("quiet"))
        _report_reliability(res, chunked.instrument, opts)
        return
    responses = read_responses(opts)
    quiet = opts.get("quiet")
    view = responses.wave(wave)
    alpha_view = view
    if rater_column:
        first = next(iter(view.column(rater_column).dropna().astype("string").str.strip().unique()), None)
        if first is None:
            raise PeerscaleError("the rater column is empty", column=rater_column)
        alpha_view = view.where(rater_column, first)
    res = analyse(alpha_view, listwise=listwise, n_boot=n_boot, seed=seed, level=level, ordinal=ordinal,
                  omega=sl_omega, omega_method=omega_method, quiet=quiet)
    out = res.to_dict()
    if rater_column:
        out["computed_on"] = {"column": rater_column, "value": str(first)}
        out["icc"] = inter_rater(view, rater_column, level=level).to_dict()
    elif retest_icc:
        out["icc"] = retest_iccs(responses, level=level).to_dict()
    elif retest:
        second = read_responses(opts, retest)
        out["computed_on"] = {"file": str(opts["input"])}
        out["icc"] = retest_iccs(view, second, level=level).to_dict()
    _report_reliability(res, responses.instrument, opts, out)


def _report_reliability(res, instrument, opts, out=None):
    out = res.to_dict() if out is None else out
    nested = getattr(res, "nesting", None)  # with a worker column in the design: ICC(1) within workers (issue 9)
    if opts.get("as_json"):
        emit_json(out)
    else:
        _print_reliability(out, instrument, opts.get("quiet"))
        if nested is not None and out.get("nesting"):
            from .design import print_nesting

            print_nesting(out["nesting"], opts.get("quiet"), sample=False)
    if res.failed:
        raise PeerscaleError(f"{len(res.failed)} scale(s) could not be analysed (the others are reported above): "
                             + "; ".join(f"{name}: {msg}" for name, msg in res.failed.items()))


def _print_reliability(out, instrument, quiet):
    from rich import box
    from rich.table import Table

    con = console(quiet=quiet)
    print_sample(con, out["sample"])
    on = out.get("computed_on")
    if on and "file" in on:
        con.print(f"Alpha and omega computed on the first wave ({on['file']}); ICC on both")
    elif on:
        con.print(f"Alpha and omega computed on {on['column']} = {on['value']!r}")
    level = next((e["level"] for e in out["scales"].values() if "level" in e), 0.95)
    t = Table(title="Reliability (as psych::alpha and psych::omega)", box=box.SIMPLE_HEAD, collapse_padding=True)
    t.add_column("scale", no_wrap=True)
    for col in ("n", "k", "alpha", f"{level:.0%} CI", "std alpha", "G6", "avg r", "omega t"):
        t.add_column(col, justify="right")
    extra = Table(title="Intervals, signal/noise and ordinal versions", box=box.SIMPLE_HEAD, collapse_padding=True)
    extra.add_column("scale", no_wrap=True)
    for col in ("S/N", "median r", "bootstrap CI", "ordinal alpha", "ordinal omega t"):
        extra.add_column(col, justify="right")
    show_extra = False
    notes = []
    for name, e in out["scales"].items():
        if "error" in e:
            t.add_row(name, "", "", "[red]error[/red]", *(["—"] * 5))
            continue
        if "alpha" not in e:
            t.add_row(name, "", "1", *(["—"] * 6))
            continue
        lo, hi = e["alpha_ci"]
        t.add_row(name, str(e["n"]), str(e["n_items"]), _fmt(e["alpha"]), f"{_fmt(lo, 2)}–{_fmt(hi, 2)}",
                  _fmt(e["alpha_std"]), _fmt(e["g6"]), _fmt(e["average_r"]), _fmt(e["omega_total"]))
        boot = "—"
        if "bootstrap_ci" in e:
            b = e["bootstrap_ci"]
            boot = f"{_fmt(b['lower'], 2)}–{_fmt(b['upper'], 2)}"
            notes.append(f"bootstrap: percentile interval of {b['n_boot']} resamples, seed {b['seed']}")
            show_extra = True
        o = e.get("ordinal", {})
        show_extra = show_extra or bool(o)
        extra.add_row(name, _fmt(e["s_n"], 2), _fmt(e["median_r"]), boot, _fmt(o.get("alpha")),
                      _fmt(o.get("omega_total")))
    con.print(t)
    missing = next((e["missing"] for e in out["scales"].values() if "missing" in e), "pairwise")
    con.print(f"CI: Feldt (1987) {level:.0%} interval. omega t: omega total of a one-factor model. "
              f"Missing data: {missing}.")
    if show_extra:
        con.print(extra)
        for note in dict.fromkeys(notes):
            con.print(note)
    composites = {s.name for s in instrument.scales if s.composite}
    for name, e in out["scales"].items():
        if "items" not in e or name in composites:  # a composite's items are shown under its subscales
            continue
        it = Table(title=f"{name}: item-total statistics", box=box.SIMPLE_HEAD, collapse_padding=True)
        it.add_column("item", no_wrap=True)
        for col in ("n", "mean", "sd", "raw r", "r.cor", "r drop", "alpha if dropped"):
            it.add_column(col, justify="right")
        for item, st in e["items"].items():
            label = ("-" if st["key"] < 0 else "") + item
            r_drop = _fmt(st["r_drop"])
            if st["r_drop"] is not None and st["r_drop"] < 0:
                r_drop = f"[red]{r_drop}[/red]"
            it.add_row(label, str(st["n"]), _fmt(st["mean"], 2), _fmt(st["sd"], 2), _fmt(st["raw_r"]),
                       _fmt(st["r_cor"]), r_drop, _fmt(st["alpha_if_dropped"]))
        con.print(it)
    for name, om in out.get("omega", {}).items():
        ot = Table(title=f"{name}: {om['label']}" + (" (polychoric)" if om["correlations"] == "polychoric" else ""))
        ot.add_column("")
        ot.add_column("omega total", justify="right")
        ot.add_column("omega (general)", justify="right")
        ot.add_column("omega (group)", justify="right")
        labels = om.get("group_labels", {})
        for g, row in om["groups"].items():
            label = "general (whole scale)" if g == "g" else (f"{g} {labels[g]}" if g in labels else g)
            ot.add_row(label, _fmt(row["total"]), _fmt(row["general"]), _fmt(row["group"]))
        con.print(ot)
        con.print(f"omega hierarchical = {_fmt(om['omega_hierarchical'])}, omega total = {_fmt(om['omega_total'])}, "
                  f"omega limit = {_fmt(om['omega_limit'])}, ECV = {_fmt(om['ecv'])}"
                  + (f"; reversed for a positive general factor: {', '.join(om['flipped'])}" if om["flipped"] else ""))
        if om.get("note"):
            con.print(f"note: {om['note']}")
    if out.get("icc"):
        first = next(iter(out["icc"].values()))
        kind = "inter-rater" if first["design"] == "raters" else "test-retest"
        tt = Table(title=f"ICC, {kind} ({first['k']} {'raters' if kind == 'inter-rater' else 'waves'}; "
                         f"scale scores; people missing a score left out)")
        tt.add_column("scale", no_wrap=True)
        tt.add_column("n", justify="right")
        for typ in ("ICC(2,1) *", "ICC(3,1)", "ICC(2,k)"):
            tt.add_column(typ, justify="right", no_wrap=True)
        for name, ic in out["icc"].items():
            cells = []
            for typ in ("ICC(2,1)", "ICC(3,1)", "ICC(2,k)"):
                row = ic["types"][typ]
                cells.append(f"{_fmt(row['icc'], 2)} ({_fmt(row['ci_lower'], 2)}–{_fmt(row['ci_upper'], 2)})")
            tt.add_row(name, str(ic["n"]), *cells)
        con.print(tt)
        types = first["types"]
        con.print("; ".join(f"{t}: {types[t]['description']}" for t in ("ICC(2,1)", "ICC(3,1)", "ICC(2,k)")))
        con.print(f"* primary: ICC(2,1), absolute agreement of single measurements (Koo & Li 2016); "
                  f"{first['level']:.0%} intervals. All six types with F tests are in --json.")


# ------------------------------------------------------------------------------ items

@click.command("items")
@data_options
@wave_option
@click.option("--listwise", is_flag=True, help="Item-total statistics on rows that answered every item of the scale.")
@click.option("--min-r", default=0.30, show_default=True, type=float,
              help="Flag items whose corrected item-total r (r_drop) is below this.")
@click.option("--max-floor", default=50.0, show_default=True, type=click.FloatRange(0, 100),
              help="Flag items with more than this percentage of answers at the lowest code.")
@click.option("--max-ceiling", default=50.0, show_default=True, type=click.FloatRange(0, 100),
              help="Flag items with more than this percentage of answers at the highest code.")
@chunk_option
def items_cmd(wave, listwise, min_r, max_floor, max_ceiling, **opts):
    """Item analysis per scale: response frequencies, mean, SD, skew (type 3, as psych::describe),
    floor and ceiling %, missing %, corrected item-total r and alpha if dropped, with flags.

    Flags, each with its rule: r_drop < --min-r; more than --max-floor / --max-ceiling % at the
    lowest / highest code; a negative r_drop ("possible keying error: check wording; not flipped").
    Items are flagged, never re-keyed. Distributions are of the codes as answered; the item-total
    statistics use the scale's keys. Computed on the first wave unless --wave says otherwise.

    \b
    Examples:
      peerscale items export.csv --instrument pbr-y
      peerscale items bfi.csv --scale A=-A1,A2,A3,A4,A5 --range 1:6 --json
    """
    from ..analyses import item_analysis

    if analyse_in_chunks(opts):
        chunked = read_chunked_responses(opts)
        res = chunked.item_analysis(wave=wave, listwise=listwise, min_r_drop=min_r, max_floor=max_floor,
                                    max_ceiling=max_ceiling)
        note_skipped(chunked, opts.get("quiet"))
    else:
        responses = read_responses(opts)
        res = item_analysis(responses.wave(wave), listwise=listwise, min_r_drop=min_r, max_floor=max_floor,
                            max_ceiling=max_ceiling)
    if res.errors:
        name, msg = next(iter(res.errors.items()))
        raise PeerscaleError(f"scale {name!r} could not be analysed: {msg}")
    out = res.to_dict()
    if opts.get("as_json"):
        emit_json(out)
        return
    _print_items(out, opts.get("quiet"))


def _print_items(out, quiet):
    from rich import box
    from rich.table import Table

    con = console(quiet=quiet)
    print_sample(con, out["sample"])
    for name, sc in out["scales"].items():
        t = Table(title=f"{name}: item analysis ({sc['n_rows']} rows; alpha = {_fmt(sc['alpha'])}; "
                        f"α drop = alpha if item dropped)", box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True)
        t.add_column("item", no_wrap=True)
        for col in ("n", "miss%", "mean", "sd", "skew", "floor%", "ceil%", "r.drop", "α drop"):
            t.add_column(col, justify="right", no_wrap=True)
        for item, st in sc["items"].items():
            label = ("-" if st["key"] < 0 else "") + item + (" [yellow]![/yellow]" if st["flags"] else "")
            t.add_row(label, str(st["n"]), _fmt(st["missing_pct"], 1), _fmt(st["mean"], 2), _fmt(st["sd"], 2),
                      _fmt(st["skew"], 2), _fmt(st["floor_pct"], 0), _fmt(st["ceiling_pct"], 0),
                      _fmt(st["r_drop"], 2), _fmt(st["alpha_if_dropped"], 2))
        con.print(t)
        codes = list(next(iter(sc["items"].values()))["frequencies"])
        f = Table(title=f"{name}: response frequencies (% of answers)")
        f.add_column("item", no_wrap=True)
        for c in codes:
            f.add_column(c, justify="right")
        for item, st in sc["items"].items():
            n = max(st["n"], 1)
            f.add_row(item, *[f"{100 * st['frequencies'].get(c, 0) / n:.0f}" for c in codes])
        con.print(f)
        for item, st in sc["items"].items():
            for fl in st["flags"]:
                con.print(f"  [yellow]![/yellow] {item}: {fl['flag']}: {fl['message']}")
    if out["rules"]:
        con.print("Flag rules: " + "; ".join(f"{k}: {v}" for k, v in out["rules"].items()))
