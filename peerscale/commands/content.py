"""Content-validity kit: ``peerscale cvi-form``, ``peerscale cvi`` and ``peerscale interview-guide``."""

from __future__ import annotations

import math
from pathlib import Path

import click

from ..cli_common import console, emit_json
from ..errors import PeerscaleError


def _fmt(x, nd=2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:.{nd}f}"


@click.command("cvi-form")
@click.argument("instrument", metavar="NAME|PATH")
@click.option("--output", "-o", required=True, type=click.Path(readable=False), help="Excel form to write (.xlsx).")
@click.option("--seed", type=int, default=1, show_default=True,
              help="Seed of the item order (items are shuffled so their grouping does not give the dimension away).")
@click.option("--in-order", is_flag=True, help="Keep the bank's item order instead of shuffling.")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
def cvi_form(instrument, output, seed, in_order, force):
    """Write an expert rating form for content validity (one copy per expert).

    Each expert rates every item's relevance (1-4), sorts it into the dimension it measures best
    (or none), may rate clarity and comment, and says what each dimension is missing. Read the
    completed forms back with `peerscale cvi FORM.xlsx ... -i NAME`.
    """
    from ..content_validity import _rated_items, write_rating_form
    from ..spec import load_instrument

    if not output.lower().endswith((".xlsx", ".xlsm")):
        raise PeerscaleError("the form is an Excel file: give an output path ending in .xlsx", file=output)
    inst = load_instrument(instrument)
    written = write_rating_form(inst, output, seed=None if in_order else seed, force=force, protect=inst.files)
    click.echo(f"wrote {written}: {len(_rated_items(inst))} items of {inst.name} {inst.version}, "
               f"{len(inst.dimensions)} dimensions (+ none)", err=True)


@click.command("cvi")
@click.argument("ratings", nargs=-1, required=True, type=click.Path(readable=False))
@click.option("--instrument", "-i", required=True, metavar="NAME|PATH", help="Bundled instrument name or scoring-file path.")
@click.option("--relevant-min", type=click.IntRange(2, 4), default=3, show_default=True,
              help="Ratings at or above this count as relevant for the I-CVI.")
@click.option("--level", type=click.FloatRange(0.5, 0.999), default=0.95, show_default=True,
              help="Confidence level of Aiken's V interval.")
@click.option("--i-cvi-min", type=click.FloatRange(0, 1), default=0.78, show_default=True, help="Flag items below this I-CVI.")
@click.option("--v-min", type=click.FloatRange(0, 1), default=0.50, show_default=True,
              help="Flag items whose Aiken's V lower limit is below this.")
@click.option("--all", "show_all", is_flag=True, help="List every item, not only the flagged ones.")
@click.option("--output", "-o", type=click.Path(readable=False), help="Also write the item table (CSV or .xlsx).")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result on stdout.")
def cvi(ratings, instrument, relevant_min, level, i_cvi_min, v_min, show_all, output, force, as_json):
    """Content validity from expert ratings: I-CVI, modified kappa, Aiken's V, sorting, S-CVI.

    RATINGS are completed `peerscale cvi-form` files (one per expert) or tables: long format
    (expert, item, relevance[, dimension, clarity, comment]) or wide (item and one relevance
    column per expert). Per item: I-CVI and modified kappa (Polit, Beck & Owen 2007), Aiken's V
    with its score interval (Penfield & Giacobbi 2004), and how many experts sorted it into its
    intended dimension (p_sa, c_sv; Anderson & Gerbing 1991). Per scale: S-CVI/Ave and S-CVI/UA.
    """
    from ..content_validity import content_validity, read_ratings

    if output and Path(output).exists() and not force:
        raise PeerscaleError("the output file already exists", file=output, hint="use --force to overwrite it")
    data, notes = read_ratings(list(ratings), instrument)
    res = content_validity(data, instrument, relevant_min=relevant_min, level=level, i_cvi_min=i_cvi_min,
                           v_lower_min=v_min)
    res.notes = notes + res.notes
    if output:
        from ..io import write_table

        from ..spec import load_instrument

        protect = list(ratings) + list(load_instrument(instrument).files)
        write_table(res.to_frame().reset_index(), output, force=force, protect=protect)
    if as_json:
        emit_json(res.to_dict())
        return
    _print(res, show_all)
    if output:
        click.echo(f"wrote {output}", err=True)


def _print(res, show_all: bool) -> None:
    from rich.table import Table

    con = console()
    t = res.thresholds
    items = res.items if show_all else res.flagged()
    title = (f"{res.instrument}: {len(res.items)} items, {len(res.experts)} experts - "
             + ("all items" if show_all else f"{len(items)} flagged"))
    table = Table(title=title)
    for col in ("item", "dim", "N", "I-CVI", "k*", "V [CI]", "sorted right", "most chose", "flags"):
        table.add_column(col, justify="right" if col in ("N", "I-CVI", "k*") else "left",
                         no_wrap=col == "item", overflow="fold")
    for iid, r in items.iterrows():
        sorted_right = "—" if not r["n_sorted"] else f"{_fmt(r['p_sa'])} (c_sv {_fmt(r['c_sv'])})"
        table.add_row(iid, str(r["dimension"]), str(r["n_experts"]), _fmt(r["i_cvi"]),
                      f"{_fmt(r['kappa'])} {r['kappa_rating']}".strip(),
                      f"{_fmt(r['aiken_v'])} [{_fmt(r['v_lower'])}, {_fmt(r['v_upper'])}]",
                      sorted_right, str(r["most_sorted_to"]), r["flags"])
    con.print(table)
    scales = Table(title=f"Scales (S-CVI/Ave >= {t['s_cvi_ave_min']:.2f}, S-CVI/UA >= {t['s_cvi_ua_min']:.2f})")
    for col in ("scale", "items", "S-CVI/Ave", "S-CVI/UA", "flags"):
        scales.add_column(col)
    for name, r in res.scales.iterrows():
        scales.add_row(name, str(r["n_items"]), _fmt(r["s_cvi_ave"]), _fmt(r["s_cvi_ua"]), r["flags"])
    con.print(scales)
    con.print(res.summary().split("\n", 1)[1])
    if res.comments:
        con.print(f"{len(res.comments)} comment(s): see --json or -o.")


@click.command("interview-guide")
@click.argument("instrument", metavar="NAME|PATH")
@click.option("--output", "-o", type=click.Path(readable=False), help="Markdown file to write (default: stdout).")
@click.option("--item", "items", multiple=True, metavar="ID", help="Only this item (repeatable).")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
def interview_guide_cmd(instrument, output, items, force):
    """Write a cognitive-interview protocol: think-aloud, and per item the standard probes
    (comprehension, retrieval, judgement, response mapping), probes its metadata calls for,
    and an issue log."""
    from ..interview_guide import interview_guide

    text = interview_guide(instrument, items=list(items) or None)
    if not output:
        click.echo(text, nl=False)
        return
    from ..io.write import atomic_write

    from ..spec import load_instrument

    protect = load_instrument(instrument).files
    written = atomic_write(output, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"), force=force,
                           protect=protect)
    click.echo(f"wrote {written}", err=True)
