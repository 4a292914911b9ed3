"""Core commands: ``instruments``, ``show``, ``score`` and ``validate``."""

from __future__ import annotations

from pathlib import Path

import click

from ..cli_common import console, data_options, emit_json, read_input
from ..errors import PeerscaleError
from ..spec import Instrument, bundled_instruments, load_instrument, parse_min_answered

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
        click.echo(codebook_markdown(cb) if fmt == "markdown" else codebook_text(cb), nl=False)


# --------------------------------------------------------------------------- score

def _check_output(opts) -> None:
    out = Path(opts["output"])
    if out.resolve() == Path(opts["input"]).resolve():
        raise PeerscaleError("the output would overwrite the input file", file=str(out), hint="choose another -o path")
    if out.exists() and not opts.get("force"):
        raise PeerscaleError("output file exists", file=str(out), hint="choose another -o path or add --force")


def _overrides(opts) -> float | None:
    if opts.get("instrument") and opts.get("min_answered"):
        return parse_min_answered(opts["min_answered"])
    return None


def output_meta(result, include_items: str | None, output_format: str | None):
    """Labels, value labels, missing values and measure levels for the written file."""
    from ..io import OutputMeta
    from ..scoring import numeric_codes

    inst = result.instrument
    labels, measure, value_labels, missing = {}, {}, {}, {}
    for c in result.id_columns:
        measure[c] = "nominal"
    for s in inst.scales:
        labels[s.name] = f"{s.label} ({s.rule_text()})"
        labels[f"{s.name}_n"] = f"Items answered: {s.label} (of {len(s.items)})"
        measure[s.name] = measure[f"{s.name}_n"] = "scale"
        if s.name in inst.norms:
            labels[f"{s.name}_t"] = f"{s.label}: T score"
            labels[f"{s.name}_t_se"] = f"{s.label}: SE of T score"
            measure[f"{s.name}_t"] = measure[f"{s.name}_t_se"] = "scale"
        if s.name in inst.bands:
            labels[f"{s.name}_band"] = f"{s.label}: interpretive band"
            measure[f"{s.name}_band"] = "ordinal"
    if include_items:
        keyed_items = {i for s in inst.scales for i, k in zip(s.items, s.keys) if k < 0}
        for iid in result.items.item_ids:
            item = inst.items[iid]
            rs = item.response_scale
            state = "reverse-scored" if include_items == "keyed" and iid in keyed_items else "as answered"
            labels[iid] = f"{inst.item_text(iid)} [{state}]"
            measure[iid] = "ordinal" if rs.codes else "scale"
            if rs.codes:
                codes = {k: v for k, v in rs.codes.items()}
                if include_items == "keyed" and iid in keyed_items:
                    codes = {rs.reverse(k): f"{v} (reversed)" for k, v in rs.codes.items()}
                value_labels[iid] = codes
            num_missing = {value: rs.missing[code] for value, code in numeric_codes(rs.missing).items()}
            if num_missing and output_format in ("sav", "zsav"):
                value_labels.setdefault(iid, {}).update(num_missing)
                missing[iid] = sorted(num_missing)[:3]
    title = f"{inst.name} {inst.version} scores".strip() if inst.version else f"{inst.name} scores"
    from .. import __version__
    return OutputMeta(variable_labels=labels, value_labels=value_labels, missing_values=missing,
                      measure=measure, file_label=f"{title} (peerscale {__version__})")


def _item_columns(result, inp, include_items: str, output_format: str | None, mask):
    """Cleaned item responses; in .sav/.zsav numeric missing codes are kept and declared user-missing."""
    import numpy as np
    import pandas as pd

    from ..scoring import keyed_matrix, numeric_codes

    inst, clean = result.instrument, result.items
    values = clean.values.copy()
    if include_items == "keyed":
        for s in inst.scales:
            if s.composite:
                continue
            keyed = keyed_matrix(clean, inst, s)
            for j, (iid, k) in enumerate(zip(s.items, s.keys)):
                if k < 0:
                    values[:, clean.item_ids.index(iid)] = keyed[:, j]
    cols = {}
    for j, iid in enumerate(clean.item_ids):
        col = values[:, j]
        rs = inst.items[iid].response_scale
        if output_format in ("sav", "zsav") and rs.missing:
            raw = pd.to_numeric(inp.data[iid], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            keep = np.isnan(col) & np.isin(raw, list(numeric_codes(rs.missing)))
            if mask is not None:
                keep &= mask
            col = np.where(keep, raw, col)
        cols[iid] = col
    return pd.DataFrame(cols)


def _output_format(opts) -> str | None:
    if opts.get("output_format"):
        return opts["output_format"]
    suffix = Path(opts["output"]).suffix.lower().lstrip(".")
    return suffix if suffix in OUTPUT_FORMATS else None


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
    if summary["missing_by_reason"]:
        con.print("Missing answers by reason: " + ", ".join(f"{r}: {k}" for r, k in summary["missing_by_reason"].items()))
    if summary["invalid_values"]:
        con.print(f"[bold]{summary['invalid_values']} invalid value(s) were set to missing[/bold] (--on-invalid missing)")
    if summary.get("n_out_of_scope"):
        con.print(f"{summary['n_out_of_scope']} row(s) belong to other REDCap forms: kept with their ids, not scored")
    for w in summary["warnings"]:
        con.print(f"warning: {w}")
    if path:
        con.print(f"Wrote {path}")


@click.command()
@data_options
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Where to write the scores.")
@click.option("--output-format", type=click.Choice(OUTPUT_FORMATS), help="Output format (default: from the extension).")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--include-items", type=click.Choice(["answered", "keyed"]), is_flag=False, flag_value="answered",
              default=None, help="Also write the cleaned item responses: as answered (default) or keyed "
                                 "(reverse-keyed items reversed). Variable labels say which.")
def score(**opts):
    """Score INPUT with an instrument (--instrument) or ad-hoc scales (--scale) and write OUTPUT.

    \b
    Examples:
      peerscale score export.csv --instrument pbr-y -o scores.csv
      peerscale score export.sav -i pbr-y -o scores.sav --include-items
      peerscale score bfi.csv --scale A=-A1,A2,A3,A4,A5 --range 1:6 --min-answered 1 -o s.csv
    """
    import numpy as np
    import pandas as pd

    from ..io import write_table
    from ..scoring import score_data

    _check_output(opts)
    inp = read_input(opts)
    mask = None if inp.table.in_scope is None else np.asarray(inp.table.in_scope, dtype=bool)
    result = score_data(inp.data, inp.instrument, id_columns=inp.id_columns(opts["id_columns"]) or None,
                        on_invalid=opts["on_invalid"], min_answered=_overrides(opts),
                        value_labels=inp.value_labels, missing_values=inp.missing_values, in_scope=mask, file=inp.path)
    if mask is not None:
        result.summary["n_out_of_scope"] = int((~mask).sum())
    out = result.scores
    fmt = _output_format(opts)
    if opts["include_items"]:
        out = pd.concat([out, _item_columns(result, inp, opts["include_items"], fmt, mask)], axis=1)
    if fmt == "redcap-import":  # REDCap's Data Import Tool: record keys and the dictionary's score fields
        from ..io.redcap_import import write_redcap_import
        written, out = write_redcap_import(result, opts["output"], in_scope=mask, include_items=opts["include_items"],
                                           force=opts["force"], protect=[opts["input"]])
    else:
        written = write_table(out, opts["output"], format=opts.get("output_format"), force=opts["force"],
                              protect=[opts["input"]], meta=output_meta(result, opts["include_items"], fmt))
    result.summary.update({"input": opts["input"], "output": str(written), "n_columns": out.shape[1],
                           "items_included": opts["include_items"]})
    if opts["as_json"]:
        emit_json(result.summary)
    if not opts["quiet"]:
        print_summary(result.summary, f"{len(out)} rows x {out.shape[1]} columns to {written}")


# --------------------------------------------------------------------------- validate

def validate_data(inp, id_columns) -> dict:
    """Problems (missing columns, invalid values, duplicate ids) and notes (fully empty rows)."""
    import numpy as np

    from ..scoring import INVALID, clean_items, duplicate_ids

    inst, data = inp.instrument, inp.data
    needed = inst.scale_items()
    absent = [i for i in needed if i not in data.columns]
    present = [i for i in needed if i in data.columns]
    mask = None if inp.table.in_scope is None else np.asarray(inp.table.in_scope, dtype=bool)
    report = {"input": inp.path, "instrument": inst.name, "version": inst.version, "n_rows": len(data),
              "missing_columns": absent, "invalid_values": {"count": 0, "examples": [], "by_item": {}},
              "duplicate_ids": {"count": 0, "examples": []}, "empty_rows": {"count": 0, "rows": []},
              "missing_by_reason": {}}
    if present:
        clean = clean_items(data, inst, present, on_invalid="missing", value_labels=inp.value_labels,
                            missing_values=inp.missing_values, file=inp.path, row_mask=mask)
        report["invalid_values"] = {
            "count": clean.invalid_count,
            "examples": [{"row": r, "column": c, "value": str(v)} for r, c, v in clean.invalid_examples],
            "by_item": {i: c.get(INVALID) for i, c in clean.missing.items()
                        if c.get(INVALID)}}
        reasons = {}
        for counts in clean.missing.values():
            for r, k in counts.items():
                if r != INVALID:
                    reasons[r] = reasons.get(r, 0) + k
        report["missing_by_reason"] = reasons
        empty = np.isnan(clean.values).all(axis=1)
        if mask is not None:
            empty &= mask
        rows = (np.flatnonzero(empty) + 1).tolist()
        report["empty_rows"] = {"count": len(rows), "rows": rows[:20]}
    dups = duplicate_ids(data, id_columns, mask)
    if len(dups):
        examples = dups.head(5).to_dict("records")
        report["duplicate_ids"] = {"count": int(len(dups)), "id_columns": id_columns,
                                   "rows": (np.asarray(dups.index[:20]) + 1).tolist(),
                                   "examples": examples}
    report["problems"] = (len(absent) > 0) + (report["invalid_values"]["count"] > 0) + (report["duplicate_ids"]["count"] > 0)
    report["ok"] = report["problems"] == 0
    return report


@click.command()
@data_options
def validate(**opts):
    """Check INPUT against an instrument without scoring.

    Reports missing item columns, values outside the response scales, duplicate ids and
    fully empty rows (a note, not a problem). Exit 0 when there are no problems, 1 otherwise.
    """
    inp = read_input(opts)
    ids = inp.id_columns(opts["id_columns"])
    report = validate_data(inp, ids)
    if opts["as_json"]:
        emit_json(report)
    if not opts["quiet"] and not opts["as_json"]:
        con = console()
        con.print(f"{inp.path}: {report['n_rows']} rows checked against {report['instrument']} {report['version']}")
        con.print(f"  missing item columns: {len(report['missing_columns'])}"
                  + (f" ({', '.join(report['missing_columns'][:10])})" if report["missing_columns"] else ""))
        iv = report["invalid_values"]
        con.print(f"  values outside the response scales: {iv['count']}"
                  + ("".join(f"\n    row {e['row']}, column {e['column']!r}: {e['value']!r}" for e in iv["examples"])))
        d = report["duplicate_ids"]
        con.print(f"  duplicate ids ({', '.join(ids) or 'no id columns'}): {d['count']} rows")
        con.print(f"  fully empty rows (note): {report['empty_rows']['count']}"
                  + (f" (rows {', '.join(map(str, report['empty_rows']['rows']))})" if report["empty_rows"]["count"] else ""))
        if report["missing_by_reason"]:
            con.print("  missing answers by reason: " + ", ".join(f"{r}: {k}" for r, k in report["missing_by_reason"].items()))
        con.print("OK: no problems found" if report["ok"] else f"{report['problems']} kind(s) of problem found")
    if not report["ok"]:
        raise click.exceptions.Exit(1)
