"""``peerscale report``: a self-contained HTML (or Markdown) report of an export."""

from __future__ import annotations

from pathlib import Path

import click

from ..cli_common import data_options, emit_json, input_files, read_responses, to_json, wave_option
from ..errors import PeerscaleError


def _report_options(func):
    """The shared data options, with the input-format option renamed ``--input-format`` so
    that ``--format`` names the report's format (html or md), as the issue specifies."""
    func = data_options(func)
    for param in func.__click_params__:
        if param.name == "input_format":
            param.opts = ["--input-format"]
    return func


def output_kind(output: str, fmt: str | None) -> str:
    """``--format`` if given, else ``md`` for a ``.md`` output path, ``json`` for ``.json``, else ``html``."""
    if fmt:
        return fmt
    suffix = Path(output).suffix.lower()
    return "md" if suffix in (".md", ".markdown") else "json" if suffix == ".json" else "html"


@click.command()
@_report_options
@wave_option
@click.option("-o", "--output", required=True, type=click.Path(readable=False),
              help="Where to write the report (.html; .md with its figures in <name>_files/; or .json: the same "
                   "numbers, keyed as the reliability, items, efa and cfa commands' --json).")
@click.option("--format", "report_format", type=click.Choice(["html", "md", "json"]),
              help="Report format (default: md for a .md output, json for .json, else html).")
@click.option("--validate", is_flag=True,
              help="Add the validation section: reliability, omega, item analysis, parallel analysis, EFA and CFA.")
@click.option("--bootstrap", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Bootstrap resamples for the alpha interval (with --validate; 0 = Feldt interval only).")
@click.option("--iterations", type=click.IntRange(min=1), default=20, show_default=True,
              help="Parallel-analysis iterations (with --validate).")
@click.option("--missing", type=click.Choice(["fiml", "listwise"]), default=None,
              help="Missing data in the CFAs (with --validate), as `peerscale cfa`: default fiml when answers are "
                   "missing; listwise is much faster on very large files.")
@click.option("--factors", type=click.IntRange(min=1), default=None,
              help="EFA factors (default: the parallel-analysis suggestion).")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed for bootstrap and parallel analysis.")
@click.option("--force", is_flag=True, help="Overwrite an existing report.")
@click.option("--partner", type=click.Path(readable=False), metavar="FILE",
              help="The other form of the same relationships (e.g. the worker's export for a young person's "
                   "report): adds the dyad section (as `peerscale dyads`), linked by the dyad column.")
@click.option("--partner-instrument", metavar="NAME|PATH",
              help="The --partner file's instrument (default: the bank's pairs_with, e.g. pbr-p for pbr-y).")
def report(**opts):
    """Write a self-contained report of INPUT scored with an instrument.

    Sections: sample, scores (who was scored and why not, distributions, bands, change
    between waves), items (response distributions, missingness, flags), validation
    (--validate) and a methods paragraph with the command that reproduces the report.
    Scores cover every wave; item flags and validation use --wave (default the first wave,
    so each respondent counts once), with the numbers the items, reliability, efa and cfa
    commands give.

    \b
    Examples:
      peerscale report examples/youth_export.csv -i pbr-y -o pbr-report.html
      peerscale report export.csv -i pbr-y -o report.html --validate
      peerscale report export.csv -i pbr-y -o report.md
      peerscale report export.csv -i pbr-y -o report.json --validate
    """
    from ..io.write import atomic_write, check_output
    from ..report.methods import reproduce_command

    kind = output_kind(opts["output"], opts["report_format"])
    out = Path(opts["output"])
    check_output(out, force=opts["force"], protect=input_files(opts))  # before the work; again when written
    responses = read_responses(opts)
    partner = _partner(opts, responses)
    rep = responses.report(validate=opts["validate"], wave=opts["wave"],
                           min_answered=opts["min_answered"] if opts.get("instrument") else None,
                           bootstrap=opts["bootstrap"], iterations=opts["iterations"], n_factors=opts["factors"],
                           seed=opts["seed"], missing=opts["missing"], quiet=opts["quiet"],
                           command=reproduce_command(click.get_current_context()), partner=partner)
    figures = None
    if kind in ("html", "json"):
        text = rep.to_html() if kind == "html" else to_json(rep.to_dict())
        written = atomic_write(out, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"), force=opts["force"],
                               protect=responses.inputs)
    else:
        from ..report.markdown import write_markdown

        written, figures = write_markdown(rep, out, force=opts["force"], protect=responses.inputs)
    size = written.stat().st_size
    result = {"output": str(written), "format": kind, "bytes": size, "figures": None if figures is None else str(figures),
              "sections": ["findings", "sample", "scoring", "items"] + (["validation"] if rep.validation is not None else [])
              + (["design"] if rep.design else []) + ["methods"], "n_records": rep.sample["n_in_scope"], "notes": rep.notes}
    if opts["as_json"]:
        emit_json(result)
    elif not opts["quiet"]:
        click.echo(f"Wrote {written} ({size / 1024:.0f} KiB)" + (f" and figures in {figures}" if figures else ""),
                   err=True)
        for note in rep.notes:
            click.echo(f"note: {note}", err=True)


def _partner(opts, responses):
    """The --partner export read with its instrument (--partner-instrument, else the bank's
    ``pairs_with``) and the same design options; None without --partner."""
    if not opts.get("partner"):
        if opts.get("partner_instrument"):
            raise click.UsageError("--partner-instrument is for the --partner file: give --partner FILE as well")
        return None
    name = opts.get("partner_instrument") or responses.instrument.pairs_with
    if not name:
        raise click.UsageError(f"instrument {responses.instrument.name!r} names no paired form (pairs_with): "
                               "give --partner-instrument")
    keep = {k: opts.get(k) for k in ("respondent_column", "wave_column", "worker_column", "dyad_column",
                                     "group_column", "on_invalid", "quiet")}
    return read_responses({**keep, "input": opts["partner"], "instrument": name}, partner=True)
