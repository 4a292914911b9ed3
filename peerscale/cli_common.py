"""What every data command shares: the input and design options, one call to
:func:`peerscale.read`, the ``--wave`` option, JSON output, and the one table that maps the
library's parameter names to the command line's flags.

Commands are thin shells: they turn options into library arguments, call
:class:`~peerscale.responses.Responses` and :mod:`peerscale.analyses`, and print.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import click

# The library names its parameters in messages as `name` (or `name='value'`); the command line
# shows the flag instead. One table, used for every error the CLI prints.
PARAMETER_FLAGS = {
    "instrument": "--instrument", "scales": "--scales", "map": "--map", "redcap_dictionary": "--redcap-dictionary",
    "missing_codes": "--missing-code", "encoding": "--encoding", "sheet": "--sheet", "input_format": "--format",
    "on_invalid": "--on-invalid", "id_columns": "--id-column", "min_answered": "--min-answered",
    "value_range": "--range", "format": "--output-format", "force": "--force", "include_items": "--include-items",
    "wave": "--wave", "design": "--wave-column/--respondent-column", "design.respondent": "--respondent-column",
    "design.wave": "--wave-column", "design.worker": "--worker-column", "design.dyad": "--dyad-column",
    "design.group": "--group-column", "listwise": "--listwise", "n_boot": "--bootstrap", "seed": "--seed",
    "level": "--ci", "ordinal": "--ordinal", "omega": "--omega", "omega_method": "--omega-method",
    "min_r_drop": "--min-r", "max_floor": "--max-floor", "max_ceiling": "--max-ceiling", "items": "--items",
    "n_factors": "--factors", "method": "--method", "rotation": "--rotation", "iterations": "--iterations",
    "polychoric": "--polychoric", "model": "--model", "structure": "--structure", "compare": "--compare",
    "estimator": "--estimator", "missing": "--missing", "std_lv": "--std-lv", "group": "--group",
    "top_mi": "--top-mi", "bootstrap": "--bootstrap", "mirt_compatible": "--mirt-compatible", "link": "--link",
    "tol": "--tol", "collapse": "--collapse", "allow_absent": "--allow-absent",
    "n": "--n", "mcar": "--mcar", "page_skip": "--page-skip", "not_relevant": "--not-relevant", "workers": "--workers",
    "icc": "--icc", "waves": "--waves", "change": "--change", "stability": "--stability", "follow_up": "--follow-up",
    "leniency": "--model", "returned": "--model", "unverified": "--model", "not_opened": "--model",
    "reps": "--reps", "groups": "--groups", "processes": "--processes", "resume": "--resume",
}
# where a command spells a parameter differently
COMMAND_FLAGS = {
    "report": {"input_format": "--input-format", "n_factors": "--factors"},
    "reliability": {"method": "--omega-method"},
    "change": {"from_wave": "--from", "to_wave": "--to", "reliability": "--reliability", "level": "--ci"},
    "dyads": {"link": "--link/--dyad-column", "level": "--ci"},
    "nesting": {"worker_column": "--worker-column"},
    "mediation": {"x": "--x", "m": "--m", "y": "--y", "baseline": "--baseline", "latent": "--latent",
                  "cluster": "--cluster", "workers": "--workers", "x_instrument": "--x-instrument",
                  "m_instrument": "--m-instrument", "y_instrument": "--y-instrument", "covariates": "--covariate"},
}
_PARAM = re.compile(r"`([a-z_][a-z_.]*)(?:=(?:'([^'`]*)'|([^`'\s]+)))?`")


def flag_text(text: str | None, command: str | None = None) -> str | None:
    """``text`` with every `parameter` (and `parameter='value'`) the table knows shown as its flag."""
    if not text:
        return text
    table = {**PARAMETER_FLAGS, **COMMAND_FLAGS.get(command or "", {})}

    def swap(m):
        name, value = m.group(1), m.group(2) if m.group(2) is not None else m.group(3)
        flag = table.get(name)
        if flag is None:
            return m.group(0)
        if value is None or value == "True":
            return flag
        return f"{flag} {value}"

    return _PARAM.sub(swap, text)


def cli_error(exc, command: str | None = None):
    """A copy of a library :class:`~peerscale.errors.PeerscaleError` whose message, hint and key
    name the command line's flags."""
    from .errors import PeerscaleError

    key = exc.key
    if key and exc.file is None:
        key = PARAMETER_FLAGS.get(key, key)
    return PeerscaleError(flag_text(exc.message, command), file=exc.file, key=key, row=exc.row, column=exc.column,
                          value=exc.value, hint=flag_text(exc.hint, command))


INPUT_FORMATS = ["csv", "tsv", "sav", "zsav", "dta", "sas7bdat", "xlsx", "parquet", "jsonl", "redcap-sps"]


def data_options(func):
    """Shared input and design options of the data commands (score, validate, reliability,
    items, efa, cfa, report)."""
    options = [
        click.argument("input", type=click.Path(readable=False)),
        click.option("--instrument", "-i", metavar="NAME|PATH", help="Bundled instrument name or path to a scoring file."),
        click.option("--scale", "scales", multiple=True, metavar="NAME=ITEMS",
                     help="Ad-hoc scale in psych's keys convention, e.g. A=-A1,A2,A3 (leading '-' = reverse-keyed). Repeatable."),
        click.option("--scales", "chosen_scales", metavar="A,B,...",
                     help="Score or analyse only these scales of the instrument (default: every scale whose items "
                          "are in the data; scales with none of their items, e.g. optional forms, are skipped)."),
        click.option("--range", "value_range", metavar="MIN:MAX", help="Declared response range for ad-hoc scales, e.g. 1:6."),
        click.option("--min-answered", metavar="N|P",
                     help="Minimum answered per scale: a count (3) or a proportion below 1 (0.75). "
                          "Default: the scoring file's rule; 0.75 for ad-hoc scales."),
        click.option("--id-column", "id_columns", multiple=True, metavar="COLUMN",
                     help="Identifier column(s) to keep first in the output (the first names the respondent when "
                          "--respondent-column is not given). Repeatable. Default: the REDCap ids, the instrument's "
                          "id columns and the design's columns present, else a 'row' number."),
        click.option("--map", "maps", multiple=True, metavar="COLUMN=ITEM|FILE",
                     help="Rename export columns to item ids: COLUMN=ITEM pairs, or a CSV file with header "
                          "'column,item' (see `peerscale redcap-mapping`). Repeatable."),
        click.option("--format", "input_format", type=click.Choice(INPUT_FORMATS), help="Input format (default: from extension and content)."),
        click.option("--sheet", help="Excel sheet name or 1-based number (default: the first sheet)."),
        click.option("--encoding", help="Text encoding of a CSV input (default: UTF-8, falling back to cp1252 with a warning)."),
        click.option("--redcap-dictionary", type=click.Path(readable=False),
                     help="REDCap data dictionary of the project the export came from: maps fields and labels to items."),
        click.option("--missing-code", "missing_codes", multiple=True, metavar="CODE=REASON",
                     help="A project missing-data code, e.g. -999='Not asked' or UNK=Unknown. Repeatable."),
        click.option("--on-invalid", type=click.Choice(["error", "missing"]), default="error", show_default=True,
                     help="Values outside a response scale: stop with a list of them, or set them missing and count them."),
        click.option("--respondent-column", metavar="COLUMN",
                     help="Design: the column identifying the respondent (default: REDCap's record id, else the "
                          "instrument's first id column present). Also read from a study.yaml beside the input."),
        click.option("--wave-column", metavar="COLUMN",
                     help="Design: the column naming the wave (default: redcap_event_name when present)."),
        click.option("--worker-column", metavar="COLUMN", help="Design: the column identifying the peer support worker."),
        click.option("--dyad-column", metavar="COLUMN", help="Design: the column identifying the young person–worker dyad."),
        click.option("--group-column", metavar="COLUMN", help="Design: a grouping column (e.g. site)."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bars or summaries on stderr."),
        click.option("--json", "as_json", is_flag=True, help="Machine-readable result on stdout."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def wave_option(func):
    """``--wave NAME|first|all``: which wave the analyses use; one default for every command."""
    return click.option("--wave", default="first", show_default=True, metavar="NAME|first|all",
                        help="Wave to analyse: a wave name, first (so each respondent counts once), or all (waves "
                             "pooled: people are counted once per wave). Waves come from --wave-column or "
                             "study.yaml (default: redcap_event_name).")(func)


def parse_pairs(values, what: str) -> dict[str, str]:
    out = {}
    for text in values:
        if "=" not in text:
            raise click.BadParameter(f"{text!r} is not of the form A=B", param_hint=what)
        a, _, b = text.partition("=")
        out[a.strip()] = b.strip().strip("'\"")
    return out


def input_files(opts: dict) -> list[str]:
    """The input files a data command's options name (data, scoring file, ``--map`` files,
    ``--redcap-dictionary``), for refusing an output before any work is done. The write itself
    protects every file the reading took (:attr:`peerscale.responses.Responses.inputs`: the item
    bank, REDCap's CSV beside a .sps, a ``study.yaml`` too)."""
    files = [opts.get("input")]
    inst = opts.get("instrument")
    if inst and (Path(inst).suffix.lower() in (".yaml", ".yml", ".json") or Path(inst).exists()):
        files.append(inst)
    files += [m for m in opts.get("maps") or () if not ("=" in m and not Path(m).exists())]
    files.append(opts.get("redcap_dictionary"))
    return [str(f) for f in files if f]


def choose_instrument(opts: dict):
    """An instrument from --instrument or ad-hoc --scale options (and --range, --min-answered)."""
    from .spec import adhoc_instrument

    if opts.get("instrument") and opts.get("scales"):
        raise click.UsageError("give --instrument or --scale, not both")
    if opts.get("instrument"):
        if opts.get("value_range"):
            raise click.UsageError("--range is for ad-hoc --scale definitions; an instrument declares its own ranges")
        return opts["instrument"]
    if opts.get("scales"):
        if opts.get("chosen_scales"):
            raise click.UsageError("--scales chooses among an instrument's scales; with --scale give only the ones you want")
        return adhoc_instrument(list(opts["scales"]), value_range=opts.get("value_range"),
                                min_answered=opts.get("min_answered") or 0.75)
    raise click.UsageError("give --instrument NAME|PATH or at least one --scale NAME=ITEMS")


def design_from(opts: dict) -> dict:
    return {role: opts.get(f"{role}_column") for role in ("respondent", "wave", "worker", "dyad", "group")
            if opts.get(f"{role}_column")}


def read_options(opts: dict) -> dict:
    """The data options as keyword arguments of :func:`peerscale.read` (and of
    :func:`peerscale.validation.validate_export`)."""
    return {"map": list(opts.get("maps") or ()) or None, "redcap_dictionary": opts.get("redcap_dictionary"),
            "missing_codes": parse_pairs(opts.get("missing_codes") or (), "--missing-code") or None,
            "design": design_from(opts) or None, "encoding": opts.get("encoding"), "sheet": opts.get("sheet"),
            "input_format": opts.get("input_format"), "id_columns": list(opts.get("id_columns") or ()) or None}


def read_responses(opts: dict, input_path: str | None = None, *, partner: bool = False):
    """:func:`peerscale.read` with the command's options; reader warnings and skipped scales
    are printed on stderr unless --quiet.

    ``partner=True`` reads the other form of a dyad (the worker's export): the design options
    are given once for both files, and a worker file often has no wave (or worker, respondent,
    group) column of its own, so a design column it lacks is left out with a note (every row
    is then one wave), instead of stopping; a missing dyad column is still an error."""
    from .responses import read

    if partner:
        return _read_partner(opts, input_path)
    responses = read(input_path or opts["input"], choose_instrument(opts), scales=opts.get("chosen_scales"),
                     on_invalid=opts.get("on_invalid") or "error", **read_options(opts))
    if opts.get("min_answered") and opts.get("instrument"):
        from .spec import with_min_answered
        with_min_answered(responses.instrument, opts["min_answered"])  # checked before any work is done
    if not opts.get("quiet"):
        for w in responses.warnings:
            click.echo(f"warning: {w}", err=True)
        for name, why in responses.skipped_scales.items():
            click.echo(f"note: scale {name} skipped: {flag_text(why)}", err=True)
    return responses


def _read_partner(opts: dict, input_path: str | None = None):
    from dataclasses import replace

    from .responses import load_export, responses_from_table

    options = read_options(opts)
    source = input_path or opts["input"]
    id_columns = options.pop("id_columns")
    table, inst, file, given = load_export(source, choose_instrument(opts), **options)
    columns = {str(c) for c in table.data.columns}
    dropped = {}
    for role in ("wave", "worker", "respondent", "group"):
        col = getattr(given, role)
        if col and col not in columns:
            dropped[role] = col
    if dropped:
        given = replace(given, **{r: None for r in dropped}, file_roles=given.file_roles - set(dropped),
                        waves=None if "wave" in dropped else given.waves)
    responses = responses_from_table(table, inst, file, given, scales=opts.get("chosen_scales"), id_columns=id_columns,
                                     on_invalid=opts.get("on_invalid") or "error", map=options.get("map"),
                                     redcap_dictionary=options.get("redcap_dictionary"))
    if not opts.get("quiet"):
        for role, col in dropped.items():
            click.echo(f"note: {Path(str(source)).name} has no {role} column {col!r}"
                       + (": every row of it is used (one wave)" if role == "wave" else ": not used for this file"),
                       err=True)
        for w in responses.warnings:
            click.echo(f"warning: {w}", err=True)
        for name, why in responses.skipped_scales.items():
            click.echo(f"note: scale {name} skipped: {flag_text(why)}", err=True)
    return responses


def chunk_option(func):
    """``--chunk-size ROWS`` of the analyses that run on statistics merged over chunks."""
    return click.option("--chunk-size", type=click.IntRange(min=1), metavar="ROWS",
                        help="Read ROWS rows at a time and analyse statistics merged over the chunks (files larger "
                             "than memory; same numbers). Default: files of 256 MB or more (or too large for the "
                             "memory left) are read in chunks of up to 1,000,000 rows.")(func)


def analyse_in_chunks(opts: dict, needs_rows: str | None = None) -> bool:
    """Whether an analysis command reads its input in chunks: with --chunk-size, or for a large
    file (as ``score`` decides). ``needs_rows`` names an option given that needs every row in
    memory: with --chunk-size that is a usage error, for a large file the file is read whole."""
    from .streaming import should_stream

    if not should_stream(opts["input"], opts.get("input_format"), opts.get("chunk_size")):
        return False
    if needs_rows:
        if opts.get("chunk_size"):
            raise click.UsageError(f"{needs_rows} needs every row in memory: it cannot be combined with --chunk-size")
        return False
    return True


def read_chunked_responses(opts: dict):
    """:func:`peerscale.read_chunked` with the command's options (skipped scales noted on stderr)."""
    from .chunked import read_chunked

    chunked = read_chunked(opts["input"], choose_instrument(opts), chunk_rows=opts.get("chunk_size"),
                           scales=opts.get("chosen_scales"), on_invalid=opts.get("on_invalid") or "error",
                           **read_options(opts))
    return chunked


def note_skipped(chunked, quiet) -> None:
    if not quiet:
        for name, why in chunked.context.skipped.items():
            click.echo(f"note: scale {name} skipped: {flag_text(why)}", err=True)


def _jsonable(obj):
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def to_json(obj) -> str:
    """``obj`` as indented JSON (NaN and infinities become null)."""
    return json.dumps(_jsonable(obj), indent=2, ensure_ascii=False) + "\n"


def emit_json(obj) -> None:
    """Print ``obj`` as JSON on stdout."""
    sys.stdout.write(to_json(obj))


def p_text(p) -> str:
    """``p < .001`` or ``p = .012`` (a p-value printed as 0 reads as impossible)."""
    if p is None or not math.isfinite(float(p)):
        return "p = —"
    p = float(p)
    return "p < .001" if p < 0.001 else f"p = {p:.3f}".replace("0.", ".", 1)


def p_cell(p) -> str:
    """A p-value for a table cell: ``< .001`` or ``.012``."""
    return p_text(p)[2:].lstrip("= ").strip()


def console(quiet: bool = False, stderr: bool = False):
    """A rich Console for result tables: stdout by default (so `> out.txt` keeps them).

    Commands print tables only when ``--json`` is not given, so stdout is either readable
    tables or JSON, never both. Summaries and notes for a person go to ``stderr=True``.
    ``quiet`` makes it write nothing.

    Nothing is cut: a table wider than the terminal is printed at its own width (the terminal
    wraps it) instead of truncating item names and numbers to ``pbr…``, and output to a file
    or pipe is not squeezed into 80 columns. Text from the data that looks like rich markup
    (``[/x]``) is printed as it is, never as a crash.
    """
    from rich.console import Console
    from rich.errors import MarkupError
    from rich.table import Table

    class _Console(Console):
        def print(self, *objects, **kwargs):
            if "width" not in kwargs:
                need = max((self.measure(o).maximum for o in objects if isinstance(o, Table)), default=0)
                if need > self.width:
                    kwargs["width"] = need
            try:
                super().print(*objects, **kwargs)
            except MarkupError:
                super().print(*objects, **{**kwargs, "markup": False})

    stream = sys.stderr if stderr else sys.stdout
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return _Console(stderr=stderr, quiet=quiet, highlight=False, width=None if tty else 1000)


def fmt(x, nd=3) -> str:
    """A number for a table: ``nd`` decimals, a dash when missing."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:.{nd}f}"


def print_sample(con, sample: dict) -> None:
    """The sample block in words, as every analysis table states it."""
    con.print(f"Sample: {sample['note']}")
