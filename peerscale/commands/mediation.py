"""``peerscale mediation``: does the relationship carry the effect of the activities on the
outcomes? A thin shell over :func:`peerscale.analyses_mediation.mediation`."""

from __future__ import annotations

import click

from ..cli_common import INPUT_FORMATS, console, emit_json, fmt as _fmt, p_cell, parse_pairs


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(readable=False), metavar="INPUT...")
@click.option("--x", "x", required=True, metavar="SCALE", help="The activities (cause): a scale name, e.g. act_total.")
@click.option("--m", "m", required=True, metavar="SCALE", help="The relationship (mediator), e.g. pbr_core.")
@click.option("--y", "y", required=True, metavar="SCALE", help="The outcome, e.g. out_total.")
@click.option("--x-instrument", metavar="NAME", help="Instrument of --x when the scale is in several forms (act-y, act-p).")
@click.option("--m-instrument", metavar="NAME", help="Instrument of --m (e.g. pbr-y or pbr-p).")
@click.option("--y-instrument", metavar="NAME", help="Instrument of --y.")
@click.option("--covariate", "covariates", multiple=True, metavar="COLUMN",
              help="A covariate in both regressions (a numeric column of the export). Repeatable.")
@click.option("--baseline", is_flag=True,
              help="Two waves: X and M at the first wave (or --wave), Y at the next, adjusted for Y at the first.")
@click.option("--latent", type=click.Choice(["items", "subscales"]), is_flag=False, flag_value="items", default=None,
              metavar="[items|subscales]",
              help="Each construct a latent factor of its items (instead of scale scores); 'subscales': a composite "
                   "(pbr_core, act_total, out_total) a factor of its subscale scores (parcels). Items are often "
                   "missing: add --missing fiml.")
@click.option("--cluster", is_flag=False, flag_value="__worker__", default=None, metavar="[COLUMN]",
              help="Cluster-robust SEs (as lavaan's cluster=) by COLUMN; without COLUMN, the design's worker column.")
@click.option("--wave", default="first", show_default=True, metavar="NAME|first|all", help="Wave to analyse.")
@click.option("--link", metavar="COLUMN",
              help="Id column linking records across files (default: the design's dyad column, else the respondent).")
@click.option("--missing", type=click.Choice(["listwise", "fiml"]), default="listwise", show_default=True,
              help="listwise: rows missing a model variable are left out (and counted); fiml: full-information ML.")
@click.option("--bootstrap", default=0, show_default=True, type=click.IntRange(0, 1_000_000), metavar="N",
              help="Bootstrap resamples for percentile and bias-corrected intervals of the indirect effect (e.g. 5000).")
@click.option("--seed", type=int, default=None, help="Seed of the bootstrap (a seed is drawn and reported when not given).")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Processes for the bootstrap (default: up to 2). The result does not depend on it.")
@click.option("--ci", "level", default=0.95, show_default=True, type=click.FloatRange(0.5, 0.999),
              help="Confidence level of the bootstrap intervals.")
@click.option("--map", "maps", multiple=True, metavar="COLUMN=ITEM|FILE", help="Rename export columns to item ids.")
@click.option("--format", "input_format", type=click.Choice(INPUT_FORMATS), help="Input format.")
@click.option("--missing-code", "missing_codes", multiple=True, metavar="CODE=REASON", help="A project missing-data code.")
@click.option("--respondent-column", metavar="COLUMN", help="Design: the respondent id column.")
@click.option("--wave-column", metavar="COLUMN", help="Design: the wave column.")
@click.option("--worker-column", metavar="COLUMN", help="Design: the worker column.")
@click.option("--dyad-column", metavar="COLUMN", help="Design: the dyad column.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result on stdout.")
def mediation(inputs, x, m, y, x_instrument, m_instrument, y_instrument, covariates, baseline, latent, cluster, wave,
              link, missing, bootstrap, seed, workers, level, maps, input_format, missing_codes, respondent_column,
              wave_column, worker_column, dyad_column, quiet, as_json):
    """The mediation model of the theory of change, as lavaan::sem() with := :
    M ~ a*X; Y ~ b*M + c*X; indirect := a*b; total := c + a*b.

    X, M and Y are scale scores of the instruments scored in the export(s) (or, with --latent,
    latent factors of their items). Estimates, SEs, z and p (ML); the indirect effect with its
    delta-method SE and, with --bootstrap, seeded percentile and bias-corrected intervals.
    Listwise by default: every row left out is counted and its reason given.

    \b
    Examples:
      peerscale mediation youth_export.csv --x act_total --m pbr_core --y out_total --bootstrap 5000 --seed 1
      peerscale mediation youth_export.csv --x act_total --m pbr_core --y out_total --baseline --cluster
      peerscale mediation youth_export.csv worker_export.csv --x act_total --m pbr_core --y out_total \\
          --x-instrument act-y --m-instrument pbr-p
    """
    from ..responses import mediation as analyse

    design = {role: v for role, v in (("respondent", respondent_column), ("wave", wave_column),
                                       ("worker", worker_column), ("dyad", dyad_column)) if v}
    read_options = {"map": list(maps) or None, "input_format": input_format, "design": design or None,
                    "missing_codes": parse_pairs(missing_codes, "--missing-code") or None}
    res = analyse(list(inputs), x, m, y, x_instrument=x_instrument, m_instrument=m_instrument,
                  y_instrument=y_instrument, covariates=list(covariates), baseline=baseline, latent=latent or False,
                  cluster=True if cluster == "__worker__" else cluster, wave=wave, link=link, missing=missing,
                  bootstrap=bootstrap, seed=seed, workers=workers, level=level, quiet=quiet or as_json,
                  **{k: v for k, v in read_options.items() if v is not None})
    out = res.to_dict()
    if as_json:
        emit_json(out)
        return
    _print(out, quiet)


def _print(out, quiet):
    from rich.table import Table

    con = console(quiet=quiet)
    src = out["sources"]
    con.print(f"Mediation: {out['x']} ({src['instruments']['x']}) → {out['m']} ({src['instruments']['m']}) → "
              f"{out['y']} ({src['instruments']['y']})" + ("; latent variables" if out["latent"] else ""))
    if src.get("design"):
        con.print(f"Waves: {src['design']}; records linked by {src['link']}")
    left = "; ".join(f"{k}: {v}" for k, v in out["excluded"].items())
    con.print(f"N used = {out['n']}; left out = {out['n_excluded']}" + (f" ({left})" if left else "")
              + f"; missing data: {out['missing']}")
    if out["cluster"]:
        con.print(f"Cluster-robust standard errors by {out['cluster']} ({out['n_clusters']} clusters), as lavaan's cluster=")
    if out["covariates"] or out["baseline"]:
        con.print("Adjusted for: " + ", ".join(out["covariates"] + ([out["baseline"]] if out["baseline"] else [])))
    t = Table(title="Paths (ML, as lavaan sem())")
    for c in ("effect", "estimate", "SE", "z", "p", "std"):
        t.add_column(c, justify="left" if c == "effect" else "right")
    std = out["standardized"]
    rows = [("a: M ~ X", out["paths"]["a"], std["a"]), ("b: M → Y (given X)", out["paths"]["b"], std["b"]),
            ("c′: X → Y direct", out["paths"]["c_prime"], std["c_prime"]),
            ("indirect a·b", out["indirect"], std["indirect"]), ("total c′ + a·b", out["total"], std["total"])]
    for name, p, s in rows:
        t.add_row(name, _fmt(p["est"]), _fmt(p["se"]), _fmt(p["z"], 2), p_cell(p["p"]), _fmt(s))
    con.print(t)
    ind = out["indirect"]
    if ind.get("ci_percentile"):
        b = out["bootstrap"]
        con.print(f"Indirect effect {out['level']:.0%} bootstrap intervals ({b['n_ok']} resamples of {b['resampled']}, "
                  f"seed {b['seed']}): percentile [{_fmt(ind['ci_percentile'][0])}, {_fmt(ind['ci_percentile'][1])}], "
                  f"bias-corrected [{_fmt(ind['ci_bc'][0])}, {_fmt(ind['ci_bc'][1])}]")
    else:
        con.print("Indirect effect: delta-method SE only; add --bootstrap 5000 --seed 1 for intervals.")
    con.print(f"R²: {out['m']} {_fmt(out['r2']['m'])}, {out['y']} {_fmt(out['r2']['y'])}")
    for note in out["notes"]:
        con.print(f"[yellow]note:[/yellow] {note}")
    con.print("Cross-sectional mediation is an association pattern under the model's assumptions, not proof "
              "that the activities cause the outcomes through the relationship.")
