"""Core commands: ``instruments``, ``show``, ``score`` and ``validate``."""

from __future__ import annotations

from pathlib import Path

import click

from ..cli_common import console, data_options, emit_json, input_files, read_responses
from ..errors import PeerscaleError
from ..spec import Instrument, bundled_instruments, load_instrument

OUTPUT_FORMATS = ["csv", "tsv", "sav", "zsav", "dta", "xlsx", "parquet", "jsonl", "redcap-import"]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="A JSON list of {name, title, version, forms, n_items, ...}.")
def instruments(as_json):
    """List the bundled instruments (all DRAFT)."""
    found = [i.summary() for i in bundled_instruments()]
    if as_json:
        emit_json(found)
        return
    from rich.table import Table

    table = Table(title="Bundled instruments (draft: not yet validated)")
    for col in ("name", "title", "version", "forms", "items", "scales"):
        table.add_column(col)
    for s in found:
        table.add_row(s["name"], s["title"], s["version"], ",".join(s["forms"]), str(s["n_items"]),
                      ", ".join(s["scales"] + s["composites"]))
    console().print(table)


# --------------------------------------------------------------------------- codebook

def codebook(inst: Instrument) -> dict:
    """Everything a reader needs to administer and score the instrument, as plain data."""
    return {
        **inst.summary(),
        "description": inst.description,
        "instructions": inst.instructions,
        "placeholders": inst.placeholders,
        "dimensions": inst.dimensions,
        "response_scales": {
            name: {"label": rs.label, "min": rs.min, "max": rs.max,
                   "codes": {_code(k): v for k, v in rs.codes.items()},
                   "missing": {str(k): v for k, v in rs.missing.items()}}
            for name, rs in inst.response_scales().items()},
        "items": [{"id": i.id, "dimension": i.dimension, "form": i.form, "text": i.text,
                   "text_filled": inst.item_text(i.id), "response_scale": i.response_scale.name,
                   "reverse": i.reverse, "status": i.status, "version": i.version,
                   "recall_period": i.recall_period, "recall": i.recall, "viewpoint": i.viewpoint,
                   "pair": i.pair, "pair_bank": i.pair_bank,
                   "requires": None if i.requires is None else {
                       "item": i.requires.item, "answers": [_code(a) if isinstance(a, float) else a
                                                            for a in i.requires.answers],
                       "redcap": i.requires.redcap_logic()},
                   "anchors": {_code(k): v for k, v in i.anchors.items()}} for i in inst.items.values()],
        "pairs_with": inst.pairs_with,
        "retired": inst.retired,
        "scales": [{"name": s.name, "label": s.label, "description": s.description, "composite": s.composite,
                    "of_scales": list(s.of_scales),
                    "items": [("-" if k < 0 else "") + i for i, k in zip(s.items, s.keys)],
                    "method": s.method, "prorate": s.prorate, "min_answered": s.min_answered,
                    "required": s.required, "rule": s.rule_text()} for s in inst.scales],
        "bands": {name: {"on": on, "cuts": [{"label": b.label, "min": b.min, "max": b.max} for b in cuts]}
                  for name, (on, cuts) in inst.bands.items()},
        "norms": {name: {"raw": list(t.raw), "t": list(t.t), "se": list(t.se), "interpolate": t.interpolate,
                         "source": t.source} for name, t in inst.norms.items()},
    }


def _code(value: float):
    return int(value) if float(value).is_integer() else value


def codebook_markdown(cb: dict) -> str:
    out = [f"# {cb['title']}", "", f"`{cb['name']}` version {cb['version']}, status **{cb['status'].upper()}**, "
           f"forms {', '.join(cb['forms'])}, {cb['n_items']} items.", ""]
    if cb["instructions"]:
        out += [f"Instructions: {cb['instructions']}", ""]
    out += ["## Response scales", ""]
    for name, rs in cb["response_scales"].items():
        codes = "; ".join(f"{k} = {v}" for k, v in rs["codes"].items())
        miss = "; ".join(f"{k} = {v} (missing)" for k, v in rs["missing"].items())
        rng = f"range {rs['min']:g} to {rs['max']:g}" if rs["min"] is not None else "no declared range"
        out.append(f"- **{name}** ({rng}): {codes}" + (f"; {miss}" if miss else ""))
    out += ["", "## Items", "", "| id | dimension | reverse | scale | text |", "|---|---|---|---|---|"]
    for i in cb["items"]:
        out.append(f"| {i['id']} | {i['dimension'] or ''} | {'yes' if i['reverse'] else ''} | "
                   f"{i['response_scale']} | {i['text_filled'].replace('|', '/')} |")
    out += _pair_lines(cb, "- ", "## Pairs (twin item on the other form)", blank=True)
    out += ["", "## Scales and rules", "", "| scale | label | items (− = reverse-keyed) | rule |", "|---|---|---|---|"]
    for s in cb["scales"]:
        kind = " (composite)" if s["composite"] else ""
        items = ", ".join(i.replace("-", "−", 1) if i.startswith("-") else i for i in s["items"])
        out.append(f"| {s['name']}{kind} | {s['label']} | {items} | {s['rule']} |")
    if cb["bands"]:
        out += ["", "## Interpretive bands", ""]
        for name, b in cb["bands"].items():
            cuts = "; ".join(f"{c['label']} {c['min']:g}–{c['max']:g}" for c in b["cuts"])
            out.append(f"- **{name}** (on {b['on']}): {cuts}")
    if cb["norms"]:
        out += ["", "## Norm tables", ""]
        for name, t in cb["norms"].items():
            out.append(f"- **{name}**: {len(t['raw'])} rows, raw {t['raw'][0]:g} to {t['raw'][-1]:g}"
                       + (f" ({t['source']})" if t["source"] else ""))
    return "\n".join(out) + "\n"


def _pair_lines(cb: dict, bullet: str, title: str, blank: bool = False) -> list[str]:
    """The pairs section of a codebook: ``id <-> twin (bank; viewpoint)``, one line each."""
    paired = [i for i in cb["items"] if i["pair"]]
    if not paired:
        return []
    out = ["", title] + ([""] if blank else [])
    for i in paired:
        where = i["pair_bank"] or "this bank"
        view = f"; viewpoint {i['viewpoint']}" if i["viewpoint"] else ""
        out.append(f"{bullet}{i['id']} <-> {i['pair']} ({where}{view})")
    unpaired = [i["id"] for i in cb["items"] if not i["pair"]]
    if unpaired:
        out.append(f"{bullet}no pair: {', '.join(unpaired)}")
    return out


_CONTROL = __import__("re").compile(r"\x1b\[[0-?]*[ -/]*[@-~]|[\x00-\x08\x0b-\x1f\x7f]")


def plain_text(text: str) -> str:
    """Text for a terminal: control characters and ANSI escape sequences a spec could carry
    (colours, cursor moves, a bell) are removed."""
    return _CONTROL.sub("", text)


def wrap_lines(text: str, width: int) -> str:
    """Every line cut at ``width`` (on spaces) with a hanging indent: the item table's text
    column stays aligned (the codebook had 820-character lines)."""
    import re
    import textwrap

    out = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        m = re.match(r"^(  \S+\s+\S*\s+[R ]  )(?=\S)", line) if line.startswith("  ") else None
        hang = len(m.group(1)) if m and len(m.group(1)) >= 30 else len(line) - len(line.lstrip()) + 4
        hang = min(hang, width // 2)
        out.extend(textwrap.wrap(line, width, subsequent_indent=" " * hang, break_long_words=False,
                                 break_on_hyphens=False) or [line])
    return "\n".join(out)


def terminal_width(default: int = 100) -> int:
    import shutil
    import sys

    try:
        if sys.stdout.isatty():
            return max(40, shutil.get_terminal_size((default, 24)).columns)
    except (AttributeError, ValueError, OSError):
        pass
    return default


def codebook_text(cb: dict) -> str:
    out = [f"{cb['title']}", f"{cb['name']} {cb['version']} [{cb['status'].upper()}]  forms: {', '.join(cb['forms'])}  "
           f"items: {cb['n_items']}", ""]
    out.append("Response scales")
    for name, rs in cb["response_scales"].items():
        out.append(f"  {name}: " + ", ".join(f"{k}={v}" for k, v in rs["codes"].items())
                   + "".join(f", {k}={v} (missing)" for k, v in rs["missing"].items()))
    out += ["", "Items (R = reverse-keyed)"]
    for i in cb["items"]:
        out.append(f"  {i['id']:<22} {i['dimension'] or '':<9} {'R' if i['reverse'] else ' '}  {i['text_filled']}"
                   + (f"  [asked if {i['requires']['redcap']}]" if i["requires"] else ""))
    out += _pair_lines(cb, "  ", "Pairs (twin item on the other form)")
    out += ["", "Scales"]
    for s in cb["scales"]:
        out.append(f"  {s['name']}{' (composite)' if s['composite'] else ''}: {s['label']}")
        out.append(f"    items: {' '.join(s['items'])}")
        out.append(f"    rule:  {s['rule']}")
    for name, b in cb["bands"].items():
        last = len(b["cuts"]) - 1  # bands are [min, max) except the last, which includes max
        out.append(f"  bands for {name}: " + "; ".join(
            f"{c['label']} [{c['min']:g}, {c['max']:g}{']' if k == last else ')'}" for k, c in enumerate(b["cuts"])))
    return "\n".join(out) + "\n"


@click.command()
@click.argument("name", metavar="NAME|PATH")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True)
def show(name, fmt):
    """Print the codebook of an instrument: items, keys, scales and rules."""
    cb = codebook(load_instrument(name))
    if fmt == "json":
        emit_json(cb)
    else:
        text = plain_text(codebook_markdown(cb) if fmt == "markdown" else codebook_text(cb))
        click.echo(text if fmt == "markdown" else wrap_lines(text, terminal_width()), nl=False)


# --------------------------------------------------------------------------- score

def _check_output(opts) -> None:
    """Before any work: the output may not be an input, a device or a directory, and needs
    --force to replace a file (checked again, with every input, when it is written)."""
    from ..cli_common import input_files
    from ..io.write import check_output

    check_output(opts["output"], force=opts.get("force", False), protect=input_files(opts))


def print_summary(summary: dict, path: str | None) -> None:
    from rich.table import Table

    con = console(stderr=True)
    table = Table(title=f"{summary['instrument']} {summary['version']}: {summary['n_rows']} rows")
    for col in ("scale", "scored", "too few answered", "mean", "sd", "rule"):
        table.add_column(col, justify="left" if col in ("scale", "rule") else "right")
    for name, s in summary["scales"].items():
        table.add_row(name, str(s["n_scored"]), str(s["n_too_few_answered"]),
                      "" if s["mean"] is None else f"{s['mean']:.2f}", "" if s["sd"] is None else f"{s['sd']:.2f}",
                      s["rule"])
    con.print(table)
    if summary.get("skipped_scales"):
        con.print("Not scored: " + "; ".join(f"{k} ({v})" for k, v in summary["skipped_scales"].items()))
    if summary["missing_by_reason"]:
        con.print("Missing answers by reason: " + ", ".join(f"{r}: {k}" for r, k in summary["missing_by_reason"].items()))
    if summary["invalid_values"]:
        con.print(f"[bold]{summary['invalid_values']} invalid value(s) were set to missing[/bold] (--on-invalid missing)")
    if summary.get("n_out_of_scope"):
        con.print(f"{summary['n_out_of_scope']} row(s) belong to other REDCap forms: kept with their ids, not scored")
    for w in summary["warnings"]:
        con.print(f"warning: {w}", markup=False)
    if path:
        con.print(f"Wrote {path}")


@click.command()
@data_options
@click.option("-o", "--output", required=True, type=click.Path(readable=False), help="Where to write the scores.")
@click.option("--output-format", type=click.Choice(OUTPUT_FORMATS), help="Output format (default: from the extension).")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--include-items", type=click.Choice(["answered", "keyed"]), is_flag=False, flag_value="answered",
              default=None, help="Also write the cleaned item responses: as answered (default) or keyed "
                                 "(reverse-keyed items reversed). Variable labels say which.")
@click.option("--chunk-size", type=click.IntRange(min=1), metavar="ROWS",
              help="Read, score and write ROWS rows at a time (memory bounded by the chunk). Default: CSV, TSV, "
                   "Parquet and JSON lines of 16 MB or more, SPSS and Stata of 256 MB or more (or any file too "
                   "large for the memory left) are scored in chunks of up to 250,000 rows.")
def score(**opts):
    """Score INPUT with an instrument (--instrument) or ad-hoc scales (--scale) and write OUTPUT.

    Scales none of whose items are in INPUT (optional forms) are skipped and named; --scales
    chooses the scales to score.

    \b
    Examples:
      peerscale score export.csv --instrument pbr-y -o scores.csv
      peerscale score export.sav -i pbr-y -o scores.sav --include-items
      peerscale score bfi.csv --scale A=-A1,A2,A3,A4,A5 --range 1:6 --min-answered 1 -o s.csv
    """
    _check_output(opts)
    from ..streaming import should_stream

    if opts.get("chunk_size") and opts.get("output_format") == "redcap-import":
        raise click.UsageError("--chunk-size cannot be used with --output-format redcap-import")
    if should_stream(opts["input"], opts.get("input_format"), opts.get("chunk_size"), opts.get("output_format")):
        _score_in_chunks(opts)
        return
    responses = read_responses(opts)
    written, result = responses.write_scores(
        opts["output"], include_items=opts["include_items"], format=opts.get("output_format"), force=opts["force"],
        min_answered=opts["min_answered"] if opts.get("instrument") else None)
    result.summary.update({"input": opts["input"]})
    if opts["as_json"]:
        emit_json(result.summary)
    if not opts["quiet"]:
        print_summary(result.summary, f"{result.summary['n_rows']} rows x {result.summary['n_columns']} columns "
                                      f"to {written}")


def _score_in_chunks(opts) -> None:
    """``score`` on a file read, scored and written chunk by chunk (see :mod:`peerscale.streaming`)."""
    from ..cli_common import choose_instrument, flag_text, read_options
    from ..streaming import score_file

    def on_start(responses):
        if not opts["quiet"]:
            for w in responses.warnings:
                click.echo(f"warning: {w}", err=True)
            for name, why in responses.skipped_scales.items():
                click.echo(f"note: scale {name} skipped: {flag_text(why)}", err=True)

    written, summary = score_file(
        opts["input"], opts["output"], choose_instrument(opts), chunk_rows=opts.get("chunk_size"),
        include_items=opts["include_items"], format=opts.get("output_format"), force=opts["force"],
        min_answered=opts["min_answered"] if opts.get("instrument") else None, scales=opts.get("chosen_scales"),
        on_invalid=opts.get("on_invalid") or "error", on_start=on_start, **read_options(opts))
    summary.update({"input": opts["input"]})
    if opts["as_json"]:
        emit_json(summary)
    if not opts["quiet"]:
        print_summary(summary, f"{summary['n_rows']} rows x {summary['n_columns']} columns to {written} "
                               f"(in chunks)")


# --------------------------------------------------------------------------- validate

@click.command()
@data_options
def validate(**opts):
    """Check INPUT against an instrument without scoring.

    Reports missing item columns (scales with none of their items are optional and only
    noted), values outside the response scales, duplicate ids and fully empty rows (a note,
    not a problem). Exit 0 when there are no problems, 1 otherwise.
    """
    from ..cli_common import choose_instrument, read_options
    from ..validation import validate_export

    report = validate_export(opts["input"], choose_instrument(opts), scales=opts.get("chosen_scales"),
                             **read_options(opts))
    if opts["as_json"]:
        emit_json(report)
    if not opts["quiet"] and not opts["as_json"]:
        con = console()
        con.print(f"{report['input']}: {report['n_rows']} rows checked against {report['instrument']} "
                  f"{report['version']}")
        con.print(f"  missing item columns: {len(report['missing_columns'])}"
                  + (f" ({', '.join(report['missing_columns'][:10])})" if report["missing_columns"] else ""))
        for name, why in report["skipped_scales"].items():
            con.print(f"  scale {name} not scored (note): {why}")
        iv = report["invalid_values"]
        con.print(f"  values outside the response scales: {iv['count']}"
                  + ("".join(f"\n    row {e['row']}, column {e['column']!r}: {e['shown']}" for e in iv["examples"])),
                  markup=False)
        d = report["duplicate_ids"]
        ids = report["id_columns"]
        con.print(f"  duplicate ids ({', '.join(ids) or 'no id columns'}): {d['count']} rows"
                  + (f" with {d['n_ids']} identifier(s) given more than once" if d["count"] else ""), markup=False)
        for g in d.get("groups", []):
            con.print("    " + ", ".join(f"{c}={v}" for c, v in g["ids"].items()) + ": rows "
                      + ", ".join(map(str, g["rows"])), markup=False)
        con.print(f"  fully empty rows (note): {report['empty_rows']['count']}"
                  + (f" (rows {', '.join(map(str, report['empty_rows']['rows']))})" if report["empty_rows"]["count"] else ""))
        if report["missing_by_reason"]:
            con.print("  missing answers by reason: " + ", ".join(f"{r}: {k}" for r, k in report["missing_by_reason"].items()))
        con.print("OK: no problems found" if report["ok"] else f"{report['problems']} kind(s) of problem found")
    if not report["ok"]:
        raise click.exceptions.Exit(1)
