"""``peerscale dyads``, ``peerscale nesting`` and ``peerscale change``: analyses of the study
design (young person and worker forms, young people within workers, waves).

Thin shells over :mod:`peerscale.design_analyses` (the same functions the report and
notebooks use): options in, one call, tables or JSON out.
"""

from __future__ import annotations

import click

from ..cli_common import (INPUT_FORMATS, console, data_options, emit_json, fmt as _fmt, print_sample, read_responses,
                          wave_option)


def _count(k) -> str:
    return "—" if k is None else str(k)


def _notes(con, notes):
    from ..cli_common import flag_text

    for note in notes:  # library notes name parameters (`wave`): show the flags
        con.print(f"note: {flag_text(note)}", markup=False)


# ------------------------------------------------------------------------------ dyads

@click.command()
@click.argument("y_input", type=click.Path(readable=False))
@click.argument("p_input", type=click.Path(readable=False))
@click.option("-y", "--y-instrument", required=True, metavar="NAME|PATH",
              help="The young person form's instrument (bundled name or scoring file), e.g. pbr-y.")
@click.option("-p", "--p-instrument", required=True, metavar="NAME|PATH",
              help="The worker form's instrument, e.g. pbr-p.")
@click.option("--dyad-column", metavar="COLUMN",
              help="The column naming the dyad in both files (default: dyad in study.yaml).")
@click.option("--link", "link", multiple=True, metavar="COLUMN",
              help="Link the files by these columns instead (repeat: e.g. --link record_id --link worker_id for "
                   "the young person's id and the worker's id). Default: the dyad column; without one, the "
                   "respondent and worker columns.")
@click.option("--respondent-column", metavar="COLUMN", help="Design: the respondent column (both files).")
@click.option("--worker-column", metavar="COLUMN", help="Design: the worker column (both files).")
@click.option("--wave-column", metavar="COLUMN", help="Design: the wave column (both files).")
@click.option("--wave", default="first", show_default=True, metavar="NAME|first",
              help="Wave to compare: a wave name, or first (each file's first wave in study order).")
@click.option("--ci", "level", default=0.95, show_default=True, type=click.FloatRange(0.5, 0.999),
              help="Confidence level of the intervals.")
@click.option("--format", "input_format", type=click.Choice(INPUT_FORMATS), help="Input format of both files.")
@click.option("--on-invalid", type=click.Choice(["error", "missing"]), default="error", show_default=True,
              help="Values outside a response scale: stop with a list of them, or set them missing and count them.")
@click.option("--items", "show_items", is_flag=True,
              help="Also a table of every pair of twin items: pairs, ICC(A,1), r, mean difference.")
@click.option("--quiet", "-q", is_flag=True, help="No summaries on stderr.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result on stdout.")
def dyads(y_input, p_input, y_instrument, p_instrument, dyad_column, link, respondent_column, worker_column,
          wave_column, wave, level, input_format, on_invalid, show_items, quiet, as_json):
    """Agreement of the young person's and the worker's ratings of the same relationship.

    Links Y_INPUT (young person form) and P_INPUT (worker form) by the dyad column (or --link
    columns) and lists every record without a partner. Per relationship dimension: ICC(A,1) and
    ICC(C,1) (as psych::ICC), Pearson's r, the mean difference (worker - young person) with its
    interval, Bland-Altman limits of agreement and the number of pairs, on the items the banks
    pair (pair: in the item bank) or else on whole scales of the same name; the table says which.

    \b
    Examples:
      peerscale dyads youth.csv worker.csv -y pbr-y -p pbr-p --dyad-column dyad_id
      peerscale dyads youth.csv worker.csv -y pbr-y -p pbr-p --link record_id --link worker_id --json
    """
    from ..design_analyses import dyads as analyse

    base = {"respondent_column": respondent_column, "worker_column": worker_column, "wave_column": wave_column,
            "dyad_column": dyad_column, "input_format": input_format, "on_invalid": on_invalid, "quiet": quiet}
    young = read_responses({**base, "input": y_input, "instrument": y_instrument})
    worker = read_responses({**base, "input": p_input, "instrument": p_instrument}, partner=True)
    res = analyse(young, worker, wave=wave, link=list(link) or None, level=level)
    if as_json:
        emit_json(res.to_dict())
        return
    _print_dyads(res.to_dict(), quiet, show_items)


def _print_dyads(out, quiet, show_items=False):
    from rich import box
    from rich.table import Table

    con = console(quiet=quiet)
    lk, forms = out["link"], out["forms"]
    a, b = forms["a"]["instrument"], forms["b"]["instrument"]
    con.print(f"Linked by {', '.join(lk['columns'])}: {lk['n_linked']} relationships. {a}: {lk['how_y']}; "
              f"{b}: {lk['how_p']}.")
    t = Table(title=f"Agreement: {b} (worker) vs {a} (young person); differences are worker - young person",
              box=box.SIMPLE_HEAD, collapse_padding=True)
    t.add_column("scale", no_wrap=True)
    t.add_column("compared on")
    for col in ("pairs", "ICC(A,1)", "ICC(C,1)", "r", "mean diff", f"{out['level']:.0%} CI", "limits of agreement"):
        t.add_column(col, justify="right")
    for name, e in out["scales"].items():
        basis = e["basis"] + (f" ({e['n_items'][0]} of {e['of_items'][0]})" if e["basis"] == "paired items" else "")
        ci, loa = e["mean_diff_ci"], e["loa"]
        t.add_row(name, basis, str(e["n_pairs"]), _fmt(e["icc_a1"]), _fmt(e["icc_c1"]), _fmt(e["r"], 2),
                  _fmt(e["mean_diff"], 2), f"{_fmt(ci[0], 2)} to {_fmt(ci[1], 2)}",
                  f"{_fmt(loa[0], 2)} to {_fmt(loa[1], 2)}")
    con.print(t)
    if show_items and out["item_pairs"]:
        it = Table(title="Twin items (keyed answers): worker - young person", box=box.SIMPLE_HEAD,
                   collapse_padding=True)
        for col in ("young person item", "worker item", "kind"):
            it.add_column(col, no_wrap=True)
        for col in ("pairs", "ICC(A,1)", "r", "mean diff"):
            it.add_column(col, justify="right")
        for item, e in out["item_pairs"].items():
            it.add_row(item, e["worker_item"], e["kind"], str(e["n_pairs"]), _fmt(e["icc_a1"]), _fmt(e["r"], 2),
                       _fmt(e["mean_diff"], 2))
        con.print(it)
    con.print("ICC(A,1): absolute agreement, ICC(C,1): consistency (two-way, single rating; psych::ICC). "
              "Limits of agreement: mean difference +/- 1.96 SD (Bland & Altman 1986).")
    for side, form in (("y", a), ("p", b)):
        keys = out["unmatched"][side]
        if keys:
            con.print(f"Unmatched {form} records ({len(keys)}): " + ", ".join(keys), markup=False)
        else:
            con.print(f"Unmatched {form} records: none")
    _notes(con, [n for n in out["notes"] if "without a partner" not in n])
    for name, e in out["scales"].items():
        if e.get("reason"):
            con.print(f"note: {name}: {e['reason']}", markup=False)
    _per_scale_counts(con, out["scales"], "pair(s) with a missing score",
                      "linked pairs left out because a score is missing on either side")


def _per_scale_counts(con, scales, marker, text):
    """One line for a count that every scale's notes carry (e.g. rows without a score)."""
    import re

    counts = []
    for name, e in scales.items():
        for n in e.get("notes", []):
            if marker in n:
                m = re.match(r"(\d+)", n)
                counts.append(f"{name} {m.group(1) if m else n}")
    if counts:
        con.print(f"note: {text}: " + ", ".join(counts), markup=False)


# ------------------------------------------------------------------------------ nesting

@click.command()
@data_options
@wave_option
def nesting(wave, **opts):
    """How much scale scores cluster within workers, and what that does to the sample size.

    Per scale: ICC(1) from a random-intercept model (REML, as lme4::lmer(score ~ 1 + (1|worker)))
    and from one-way ANOVA, the number of workers, the mean number of young people per worker,
    the design effect 1 + (m - 1) ICC(1) and the effective n = n / design effect. The worker
    column comes from --worker-column or study.yaml. Computed on the first wave unless --wave
    says otherwise.

    \b
    Examples:
      peerscale nesting youth.csv -i pbr-y --worker-column worker_id
      peerscale nesting youth.csv -i out-y --wave followup_arm_1 --json
    """
    from ..design_analyses import nesting as analyse

    responses = read_responses(opts)
    res = analyse(responses.wave(wave), worker_column=opts.get("worker_column"))
    if opts.get("as_json"):
        emit_json(res.to_dict())
        return
    print_nesting(res.to_dict(), opts.get("quiet"))


def print_nesting(out, quiet=False, con=None, sample=True):
    from rich import box
    from rich.table import Table

    con = con or console(quiet=quiet)
    if sample:
        print_sample(con, out["sample"])
    c = out["clusters"]
    con.print(f"Workers ({out['worker_column']}): {c['n_clusters']}, with {c['min']} to {c['max']} young people each "
              f"(mean {_fmt(c['mean'], 2)}, median {_fmt(c['median'], 1)}).")
    t = Table(title="Nesting in workers: ICC(1) (REML as lme4::lmer, and one-way ANOVA)", box=box.SIMPLE_HEAD,
              collapse_padding=True)
    t.add_column("scale", no_wrap=True)
    for col in ("n", "workers", "mean size", "ICC(1)", "ICC(1) ANOVA", "design effect", "effective n"):
        t.add_column(col, justify="right")
    reasons = []
    for name, e in out["scales"].items():
        if e.get("reason"):
            reasons.append(f"{name}: ICC not estimated: {e['reason']}")
        t.add_row(name, str(e["n"]), str(e["n_clusters"]), _fmt(e["mean_cluster_size"], 2), _fmt(e["icc1"]),
                  _fmt(e["icc1_anova"]), _fmt(e["design_effect"], 2), _fmt(e["effective_n"], 0))
    con.print(t)
    con.print("Design effect = 1 + (mean size - 1) x ICC(1) (REML); effective n = n / design effect.")
    _notes(con, reasons + list(out["notes"]))
    _per_scale_counts(con, out["scales"], "without a score", "rows without a score, left out")
    singular = [name for name, e in out["scales"].items() if e.get("singular")]
    if singular:
        con.print("note: worker variance estimated at its bound 0 (a singular fit, as lme4 reports it): "
                  + ", ".join(singular), markup=False)


# ------------------------------------------------------------------------------ change

@click.command()
@data_options
@click.option("--from", "from_wave", required=True, metavar="WAVE", help="The first wave (e.g. baseline_arm_1).")
@click.option("--to", "to_wave", required=True, metavar="WAVE", help="The second wave (e.g. followup_arm_1).")
@click.option("--reliability", "rxx", type=click.FloatRange(0, 1, max_open=True), metavar="R",
              help="r_xx for the reliable change index, for every scale (default: each scale's alpha at --from).")
@click.option("--ci", "level", default=0.95, show_default=True, type=click.FloatRange(0.5, 0.999),
              help="Confidence level of the mean change's interval.")
@click.option("-o", "--output", type=click.Path(readable=False),
              help="Also write per-respondent scores at both waves, change, RCI and category (any output format).")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
def change(from_wave, to_wave, rxx, level, output, force, **opts):
    """Change between two waves, and for whom it exceeds measurement error.

    Per scale: people with both scores, mean change (--to minus --from) with its interval, d_z,
    and the Jacobson-Truax reliable change index RCI = change / S_diff with
    S_diff = SD1 x sqrt(2) x sqrt(1 - r_xx) (SD1: first-wave SD of the people seen at both waves;
    r_xx: the scale's alpha at the first wave unless --reliability gives one). People with
    |RCI| > 1.96 changed reliably; improvement is up unless the scoring file says
    higher_is_better: false. People seen at one wave only are counted and listed.

    \b
    Examples:
      peerscale change youth.csv -i out-y --from baseline_arm_1 --to followup_arm_1
      peerscale change youth.csv -i pbr-y --from baseline_arm_1 --to followup_arm_1 -o change.csv
    """
    from ..design_analyses import change as analyse, write_change

    if output:
        from ..cli_common import input_files
        from ..io.write import check_output

        check_output(output, force=force, protect=input_files(opts))
    responses = read_responses(opts)
    res = analyse(responses, from_wave=from_wave, to_wave=to_wave, reliability=rxx, level=level)
    written = None
    if output:
        written = write_change(res, output, force=force, protect=responses.inputs)
    out = res.to_dict()
    if written is not None:
        out["output"] = str(written)
    if opts.get("as_json"):
        emit_json(out)
        return
    print_change(out, opts.get("quiet"))


def print_change(out, quiet=False, con=None):
    from rich import box
    from rich.table import Table

    con = con or console(quiet=quiet)
    w, p = out["waves"], out["people"]
    con.print(f"People ({w['respondent_column']}): {p['both']} at both waves, {p['from_only']} at {w['from']} only, "
              f"{p['to_only']} at {w['to']} only.")
    t = Table(title=f"Change from {w['from']} to {w['to']} (Jacobson-Truax reliable change)", box=box.SIMPLE_HEAD,
              collapse_padding=True)
    t.add_column("scale", no_wrap=True)
    for col in ("n", "mean change", f"{out['level']:.0%} CI", "d_z", "r_xx", "S_diff", "improved", "unchanged",
                "deteriorated"):
        t.add_column(col, justify="right")
    sources, reasons = set(), []
    for name, e in out["scales"].items():
        ci = e["ci"]
        sources.add(e["rxx_source"])
        if e.get("reason"):
            reasons.append(f"{name}: {e['reason']}")
        arrow = "" if e["higher_is_better"] else " (lower is better)"
        t.add_row(name + arrow, str(e["n"]), _fmt(e["mean_change"]), f"{_fmt(ci[0])} to {_fmt(ci[1])}",
                  _fmt(e["dz"], 2), _fmt(e["rxx"], 2), _fmt(e["se_diff"]), _count(e["rci_improved"]),
                  _count(e["rci_unchanged"]), _count(e["rci_deteriorated"]))
    con.print(t)
    con.print("r_xx: " + "; ".join(sorted(sources)) + ". S_diff = SD1 x sqrt(2) x sqrt(1 - r_xx) (Jacobson & "
              "Truax 1991); reliable change: |RCI| > 1.96.", markup=False)
    _notes(con, reasons + list(out["notes"]))
    _per_scale_counts(con, out["scales"], "pair(s) with a missing score",
                      "people at both waves left out because a score is missing at either wave")
    if out.get("output"):
        con.print(f"Wrote {out['output']}", markup=False)
