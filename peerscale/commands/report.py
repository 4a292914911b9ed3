"""``peerscale report``: a self-contained HTML (or Markdown) report of an export."""

from __future__ import annotations

from pathlib import Path

import click

from ..cli_common import data_options, emit_json, input_files, read_input
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
    """``--format`` if given, else ``md`` for a ``.md`` output path, else ``html``."""
    if fmt:
        return fmt
    return "md" if Path(output).suffix.lower() in (".md", ".markdown") else "html"


@click.command()
@_report_options
@click.option("-o", "--output", required=True, type=click.Path(readable=False),
              help="Where to write the report (.html, or .md with its figures in <name>_files/).")
@click.option("--format", "report_format", type=click.Choice(["html", "md"]),
              help="Report format (default: md for a .md output, else html).")
@click.option("--validate", is_flag=True,
              help="Add the validation section: reliability, omega, item analysis, parallel analysis, EFA and CFA.")
@click.option("--wave-column", metavar="COLUMN",
              help="Column naming the measurement occasion (default: redcap_event_name when present).")
@click.option("--bootstrap", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Bootstrap resamples for the alpha interval (with --validate; 0 = Feldt interval only).")
@click.option("--iterations", type=click.IntRange(min=1), default=20, show_default=True,
              help="Parallel-analysis iterations (with --validate).")
@click.option("--factors", type=click.IntRange(min=1), default=None,
              help="EFA factors (default: the parallel-analysis suggestion).")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed for bootstrap and parallel analysis.")
@click.option("--force", is_flag=True, help="Overwrite an existing report.")
def report(**opts):
    """Write a self-contained report of INPUT scored with an instrument.

    Sections: sample, scores (who was scored and why not, distributions, bands, change
    between waves), items (response distributions, missingness, flags), validation
    (--validate) and a methods paragraph with the command that reproduces the report.

    \b
    Examples:
      peerscale report examples/youth_export.csv -i pbr-y -o pbr-report.html
      peerscale report export.csv -i pbr-y -o report.html --validate
      peerscale report export.csv -i pbr-y -o report.md
    """
    import numpy as np

    from ..io.write import atomic_write
    from ..report.build import build_report
    from ..report.methods import reproduce_command
    from ..spec import parse_min_answered

    kind = output_kind(opts["output"], opts["report_format"])
    out = Path(opts["output"])
    from ..io.write import check_output

    check_output(out, force=opts["force"], protect=input_files(opts))  # before the work; again when written
    inp = read_input(opts)
    mask = None if inp.table.in_scope is None else np.asarray(inp.table.in_scope, dtype=bool)
    min_answered = parse_min_answered(opts["min_answered"]) if opts.get("min_answered") and opts.get("instrument") else None
    rep = build_report(
        inp.data, inp.instrument, id_columns=inp.id_columns(opts["id_columns"]) or None,
        on_invalid=opts["on_invalid"], min_answered=min_answered, value_labels=inp.value_labels,
        missing_values=inp.missing_values, in_scope=mask, wave_column=opts["wave_column"], source=inp.path,
        validate=opts["validate"], quiet=opts["quiet"],
        validation_options={"bootstrap": opts["bootstrap"], "iterations": opts["iterations"],
                            "n_factors": opts["factors"], "seed": opts["seed"]},
        command=reproduce_command(click.get_current_context()))
    if kind == "html":
        from ..report.html import render_html

        text = render_html(rep)
        written = atomic_write(out, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"), force=opts["force"],
                               protect=input_files(opts, inp))
        figures = None
    else:
        from ..report.markdown import write_markdown

        written, figures = write_markdown(rep, out, force=opts["force"], protect=input_files(opts, inp))
    size = written.stat().st_size
    result = {"output": str(written), "format": kind, "bytes": size, "figures": None if figures is None else str(figures),
              "sections": ["sample", "scoring", "items"] + (["validation"] if rep.validation is not None else [])
              + ["methods"], "n_records": rep.sample["n_in_scope"], "notes": rep.notes}
    if opts["as_json"]:
        emit_json(result)
    elif not opts["quiet"]:
        click.echo(f"Wrote {written} ({size / 1024:.0f} KiB)" + (f" and figures in {figures}" if figures else ""),
                   err=True)
        for note in rep.notes:
            click.echo(f"note: {note}", err=True)
