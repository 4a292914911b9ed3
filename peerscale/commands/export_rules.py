"""``peerscale export-rules``: an instrument's scoring rules as SPSS syntax, an R function or
REDCap calc fields (:mod:`peerscale.rules_export`)."""

from __future__ import annotations

from pathlib import Path

import click

SUFFIXES = {"spss": ".sps", "r": ".R", "redcap": ".csv"}


@click.command("export-rules")
@click.argument("instrument", metavar="NAME|PATH")
@click.option("--to", "target", required=True, type=click.Choice(["spss", "r", "redcap"]),
              help="spss: syntax for SPSS or PSPP (.sps); r: a base-R script defining score_<name>(data) (.R); "
                   "redcap: the data dictionary with the calc fields and the score fields for imports (.csv).")
@click.option("--output", "-o", required=True, type=click.Path(readable=False), help="File to write.")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
def export_rules(instrument, target, output, force):
    """Write an instrument's scoring rules as code that runs outside Python.

    All three are written from one description of the rules and give peerscale's scores
    (tested against PSPP, Rscript and a REDCap calc evaluator): minimum answered, reverse keys
    from the declared range, missing-data codes, proration, composites, norms and bands. Each
    file starts with the rules in words.

    \b
    Examples:
      peerscale export-rules pbr-y --to spss -o pbr-y.sps
      peerscale export-rules pbr-y --to r -o pbr-y.R
      peerscale export-rules my-scale.yaml --to redcap -o my-scale-dictionary.csv
    """
    from ..io.write import atomic_write
    from ..spec import load_instrument

    inst = load_instrument(instrument)
    if target == "redcap":
        from ..io.dictionary import build_dictionary, dictionary_csv

        dictionary = build_dictionary(inst, with_calc=True)
        text = dictionary_csv(dictionary)
        what = (f"{sum(f.field_type == 'calc' for f in dictionary.fields)} calc fields and "
                f"{sum(f.field_name.startswith('ps_') for f in dictionary.fields)} import fields "
                f"in a {len(dictionary.fields)}-field data dictionary")
    else:
        from ..rules_export import describe, export_text

        text = export_text(inst, target)
        what = (f"{'SPSS syntax' if target == 'spss' else 'R function ' + describe(inst).function_name + '(data)'} "
                f"for {len(inst.scales)} scores")
    suffix = Path(output).suffix
    written = atomic_write(output, lambda tmp: Path(tmp).write_text(text, encoding="utf-8", newline=""), force=force,
                           protect=inst.files)
    note = (f" (usually {SUFFIXES[target]})" if suffix.lower() != SUFFIXES[target].lower() else "")
    click.echo(f"wrote {written}: {what}{note}", err=True)
