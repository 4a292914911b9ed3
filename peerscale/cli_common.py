"""What every data command shares: input options, read → map columns → clean, JSON output.

Data flows one way: :func:`read_input` reads the file (:mod:`peerscale.io`), applies the
column mapping and picks the instrument (bundled, a spec path, or ad-hoc ``--scale``);
:func:`load_analysis_data` then cleans the item responses for the analysis commands.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click

from .errors import PeerscaleError
from .spec import Instrument, adhoc_instrument, load_instrument, parse_min_answered, parse_range

INPUT_FORMATS = ["csv", "tsv", "sav", "zsav", "dta", "sas7bdat", "xlsx", "parquet", "jsonl", "redcap-sps"]


def data_options(func):
    """Shared input options for data commands (score, validate, reliability, items, efa, cfa, report)."""
    options = [
        click.argument("input", type=click.Path(readable=False)),
        click.option("--instrument", "-i", metavar="NAME|PATH", help="Bundled instrument name or path to a scoring file."),
        click.option("--scale", "scales", multiple=True, metavar="NAME=ITEMS",
                     help="Ad-hoc scale in psych's keys convention, e.g. A=-A1,A2,A3 (leading '-' = reverse-keyed). Repeatable."),
        click.option("--range", "value_range", metavar="MIN:MAX", help="Declared response range for ad-hoc scales, e.g. 1:6."),
        click.option("--min-answered", metavar="N|P",
                     help="Minimum answered per scale: a count (3) or a proportion below 1 (0.75). "
                          "Default: the scoring file's rule; 0.75 for ad-hoc scales."),
        click.option("--id-column", "id_columns", multiple=True, metavar="COLUMN",
                     help="Identifier column(s) to keep first in the output. Repeatable. "
                          "Default: the instrument's id columns present in the data, else a 'row' number."),
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
        click.option("--quiet", "-q", is_flag=True, help="No progress bars or summaries on stderr."),
        click.option("--json", "as_json", is_flag=True, help="Machine-readable result on stdout."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def parse_pairs(values, what: str) -> dict[str, str]:
    out = {}
    for text in values:
        if "=" not in text:
            raise click.BadParameter(f"{text!r} is not of the form A=B", param_hint=what)
        a, _, b = text.partition("=")
        out[a.strip()] = b.strip().strip("'\"")
    return out


def read_mapping(values) -> dict[str, str]:
    """``--map`` values → {column: item}. Files are CSV with header ``column,item``."""
    import io

    from .io.source import read_bytes

    mapping: dict[str, str] = {}
    for value in values:
        path = Path(value)
        if "=" in value and not (path.exists() or path.is_symlink()):
            mapping.update(parse_pairs([value], "--map"))
            continue
        if not (path.exists() or path.is_symlink()) and value != "-":
            raise PeerscaleError("mapping file not found", file=value, hint="give COLUMN=ITEM or a CSV with header column,item")
        raw = read_bytes(value, "mapping file", limit=16 << 20)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise PeerscaleError("a mapping file must be UTF-8 text (CSV with header 'column,item')", file=value) from None
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if not reader.fieldnames or not {"column", "item"} <= {f.strip() for f in reader.fieldnames if f}:
            raise PeerscaleError("a mapping file needs the header 'column,item'", file=value)
        for k, row in enumerate(reader, start=1):
            col, item = (row.get("column") or "").strip(), (row.get("item") or "").strip()
            if col and item:
                mapping[col] = item
            elif col or item:
                raise PeerscaleError("incomplete mapping row", file=value, row=k)
    return mapping


def apply_mapping(data, mapping: dict[str, str], file: str | None):
    """Rename columns; refuse mappings that would lose or merge a column."""
    if not mapping:
        return data
    absent = [c for c in mapping if c not in data.columns]
    if absent:
        raise PeerscaleError(f"--map names column(s) not in the data: {', '.join(absent[:10])}", file=file)
    targets = list(mapping.values())
    doubled = sorted({t for t in targets if targets.count(t) > 1})
    if doubled:
        raise PeerscaleError(f"two columns are mapped to the same item: {', '.join(doubled)}", file=file)
    clash = [t for c, t in mapping.items() if t in data.columns and t not in mapping and t != c]
    if clash:
        raise PeerscaleError(f"mapping target(s) already exist as columns: {', '.join(clash)}", file=file,
                             hint="map or drop the existing column first")
    return data.rename(columns=mapping)


def input_files(opts: dict, inp=None) -> list[str]:
    """Every file a data command reads: the data (and REDCap's CSV beside a .sps), the scoring
    file and item bank, ``--map`` files and the ``--redcap-dictionary``. No output may be one
    of them, even with ``--force``."""
    files = [opts.get("input")]
    inst = opts.get("instrument")
    if inp is not None:
        files += list(inp.instrument.files) + list(getattr(inp.table, "sources", []) or [])
    elif inst and (Path(inst).suffix.lower() in (".yaml", ".yml", ".json") or Path(inst).exists()):
        files.append(inst)
    files += [m for m in opts.get("maps") or () if not ("=" in m and not Path(m).exists())]
    files.append(opts.get("redcap_dictionary"))
    return [str(f) for f in files if f]


def choose_instrument(opts: dict) -> Instrument:
    if opts.get("instrument") and opts.get("scales"):
        raise click.UsageError("give --instrument or --scale, not both")
    if opts.get("instrument"):
        if opts.get("value_range"):
            raise click.UsageError("--range is for ad-hoc --scale definitions; an instrument declares its own ranges")
        return load_instrument(opts["instrument"])
    if opts.get("scales"):
        ma = parse_min_answered(opts["min_answered"]) if opts.get("min_answered") else 0.75
        return adhoc_instrument(list(opts["scales"]), value_range=parse_range(opts.get("value_range")), min_answered=ma)
    raise click.UsageError("give --instrument NAME|PATH or at least one --scale NAME=ITEMS")


@dataclass
class InputData:
    """A read, column-mapped input and the instrument it is scored with."""

    table: object  # peerscale.io.Table
    instrument: Instrument
    path: str

    @property
    def data(self):
        return self.table.data

    def _by_item(self, attr: str) -> dict:
        return {c: v for c, v in getattr(self.table, attr).items() if c in self.instrument.items}

    @property
    def value_labels(self) -> dict:
        return self._by_item("value_labels")

    @property
    def missing_values(self) -> dict:
        return self._by_item("missing_values")

    def id_columns(self, requested) -> list[str]:
        from .scoring import resolve_id_columns

        if requested:
            return resolve_id_columns(self.data, self.instrument, requested, self.path)
        found = [c for c in list(self.table.id_columns) + list(self.instrument.id_columns) if c in self.data.columns]
        return list(dict.fromkeys(found))


def read_input(opts: dict) -> InputData:
    """Read INPUT (any supported format), apply --map and the dictionary's mapping, pick the instrument."""
    from .io import read_table

    from .io.source import check_input

    path = opts["input"]
    check_input(path, "data file")
    instrument = choose_instrument(opts)
    missing_codes = parse_pairs(opts.get("missing_codes") or (), "--missing-code") or None
    table = read_table(path, format=opts.get("input_format"), sheet=opts.get("sheet"), instrument=instrument,
                       redcap_dictionary=opts.get("redcap_dictionary"), missing_codes=missing_codes,
                       encoding=opts.get("encoding"), check_duplicates=opts.get("check_duplicates", True))
    mapping = {**{c: i for c, i in table.suggested_map.items() if c != i}, **read_mapping(opts.get("maps") or ())}
    if mapping:
        table.data = apply_mapping(table.data, mapping, path)
        for attr in ("variable_labels", "value_labels", "missing_values"):
            meta = getattr(table, attr)
            setattr(table, attr, {mapping.get(k, k): v for k, v in meta.items()})
    if not opts.get("quiet"):
        for w in table.warnings:
            click.echo(f"warning: {w}", err=True)
    return InputData(table, instrument, path)


@dataclass
class AnalysisData:
    """Cleaned responses for the analysis commands (reliability, items, efa, cfa, report)."""

    instrument: Instrument
    responses: "object"  # pandas.DataFrame, float, NaN = missing, as answered (not reversed)
    ids: "object"
    clean: object
    input: InputData | None = None
    summary: dict = field(default_factory=dict)

    @property
    def scales(self):
        return self.instrument.scales

    def keyed(self, scale_name: str):
        """That scale's items, reverse-keyed items scored as (min + max) − x."""
        import pandas as pd

        from .scoring import keyed_matrix

        scale = self.instrument.scale(scale_name)
        return pd.DataFrame(keyed_matrix(self.clean, self.instrument, scale), columns=list(scale.items),
                            index=self.responses.index)


def load_analysis_data(opts: dict) -> AnalysisData:
    import numpy as np

    from .scoring import clean_items

    inp = read_input(opts)
    if opts.get("min_answered") and opts.get("instrument"):
        parse_min_answered(opts["min_answered"])
    mask = None if inp.table.in_scope is None else np.asarray(inp.table.in_scope, dtype=bool)
    clean = clean_items(inp.data, inp.instrument, on_invalid=opts.get("on_invalid") or "error",
                        value_labels=inp.value_labels, missing_values=inp.missing_values, file=inp.path, row_mask=mask)
    ids = inp.id_columns(opts.get("id_columns"))
    responses = clean.frame()
    id_frame = inp.data[ids].reset_index(drop=True) if ids else None
    if mask is not None:
        responses = responses[mask].reset_index(drop=True)
        id_frame = None if id_frame is None else id_frame[mask].reset_index(drop=True)
        clean.values = clean.values[mask]
    return AnalysisData(inp.instrument, responses, id_frame, clean, inp)


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


def emit_json(obj) -> None:
    """Print ``obj`` as JSON on stdout (NaN and infinities become null)."""
    sys.stdout.write(json.dumps(_jsonable(obj), indent=2, ensure_ascii=False) + "\n")


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
