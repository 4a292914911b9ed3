"""``peerscale redcap-dictionary`` and ``peerscale redcap-mapping``."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import click

from ..errors import PeerscaleError


@click.command("redcap-dictionary")
@click.argument("instrument", metavar="NAME|PATH")
@click.option("--output", "-o", required=True, type=click.Path(readable=False), help="Data dictionary CSV to write.")
@click.option("--with-calc", is_flag=True,
              help="Add score fields: calc fields that apply the scoring rules in REDCap (score_<column>, "
                   "hidden on surveys) and read-only fields for peerscale's scores (ps_<column>; "
                   "score --output-format redcap-import).")
@click.option("--required", is_flag=True,
              help="Make every item required. Off by default: respondents may skip items, and the scoring "
                   "file's missing-data rule then decides whether a scale is scored.")
@click.option("--zip", "zip_path", type=click.Path(readable=False),
              help="Also write an instrument zip (instrument.csv inside) for REDCap's 'Upload instrument ZIP'. "
                   "An instrument with several respondent forms gets one zip per form (<name>_<form>.zip).")
@click.option("--force", is_flag=True, help="Overwrite existing output files.")
def redcap_dictionary(instrument, output, with_calc, required, zip_path, force):
    """Write a REDCap data dictionary for an instrument (bundled NAME or scoring-file PATH).

    Each form starts with an instructions field (with the recall period); section headers are
    reminders for respondents (construct names go to the Field Annotation); items asked only
    after a screening answer get branching logic. Uploading a data dictionary (Project Setup >
    Data Dictionary) REPLACES all of a project's instruments: to add these forms to a project
    that already has others, upload the instrument zip (--zip) in the Online Designer instead.
    A raw or label export of the project then scores with no mapping:
    `peerscale score export.csv --instrument NAME`.
    """
    from ..io.dictionary import build_dictionary, write_dictionary, write_instrument_zip
    from ..spec import load_instrument

    inst = load_instrument(instrument)
    dictionary = build_dictionary(inst, with_calc=with_calc, required=required)
    forms = dictionary.forms
    zips = []
    if zip_path:
        zp = Path(zip_path)
        zips = [(zp, forms[0])] if len(forms) == 1 else [
            (zp.with_name(f"{zp.stem}_{form}{zp.suffix or '.zip'}"), form) for form in forms]
    from ..io.write import check_output

    for z, _form in zips:  # all refusals before the first file is written
        check_output(z, force=force, protect=inst.files)
    written = write_dictionary(dictionary, output, force=force, protect=inst.files)
    lines = [f"wrote {written}: {len(dictionary.fields)} fields on form(s) {', '.join(forms)}"]
    for z, form in zips:
        lines.append(f"wrote {write_instrument_zip(dictionary, z, form, force=force, protect=inst.files)} (form {form})")
    lines.append(UPLOAD_WARNING)
    click.echo("\n".join(lines), err=True)


UPLOAD_WARNING = ("warning: uploading a data dictionary in REDCap (Project Setup > Data Dictionary) REPLACES all "
                  "instruments of the project (fields it leaves out lose their data). To add these forms to a "
                  "project that already has instruments, upload the instrument zip (--zip) in the Online Designer "
                  "instead.")


@click.command("redcap-mapping")
@click.argument("dictionary", type=click.Path(readable=False))
@click.option("--instrument", "-i", required=True, metavar="NAME|PATH", help="Bundled instrument name or scoring-file path.")
@click.option("--output", "-o", type=click.Path(readable=False),
              help="Mapping CSV to write (header 'column,item'; give it to `score --map FILE`). Default: stdout.")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
def redcap_mapping(dictionary, instrument, output, force):
    """Map a REDCap project's fields to an instrument's items.

    Matches by a 'peerscale: item=ID' Field Annotation, then field name, then label text
    (case, whitespace, punctuation and placeholders ignored). Unmatched fields and items are
    reported on stderr; edit the mapping file by hand if needed.
    """
    from ..io.dictionary import map_fields, read_dictionary
    from ..spec import load_instrument

    inst = load_instrument(instrument)
    dic = read_dictionary(dictionary)
    result = map_fields(dic, inst)
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["column", "item"])
    from ..io.write import escape_formula_text

    for field, iid, _how in result.matched:
        w.writerow([escape_formula_text(field), iid])
    text = buf.getvalue()
    if output:
        from ..io.write import atomic_write
        atomic_write(output, lambda tmp: Path(tmp).write_text(text, encoding="utf-8", newline=""),
                     force=force, protect=[dictionary, *inst.files])
    else:
        click.echo(text, nl=False)
    hows = {}
    for _f, _i, how in result.matched:
        hows[how] = hows.get(how, 0) + 1
    msg = [f"matched {len(result.matched)} of {len(inst.items)} items"
           + (" (" + ", ".join(f"{n} by {h}" for h, n in hows.items()) + ")" if hows else "")]
    if result.unmatched_items:
        msg.append(f"items with no field ({len(result.unmatched_items)}): " + ", ".join(result.unmatched_items))
    if result.unmatched_fields:
        msg.append(f"fields matching no item ({len(result.unmatched_fields)}): " + ", ".join(result.unmatched_fields))
    msg += result.ambiguous
    if output:
        msg.append(f"wrote {output}")
    click.echo("\n".join(msg), err=True)
