"""``peerscale simulate`` and ``peerscale plan``: practice data from a population model, and
Monte Carlo planning of a validation study. Thin shells over :mod:`peerscale.simulation`."""

from __future__ import annotations

import click

from ..cli_common import console, emit_json
from ..errors import PeerscaleError


def _protect(instruments) -> tuple:
    from ..spec import load_instrument

    out = []
    for name in instruments:
        try:
            out.extend(load_instrument(name).files)
        except PeerscaleError:
            pass
    return tuple(out)


def simulated_meta(forms, fmt: str, seed, columns) -> "OutputMeta":
    """What .sav/.dta/.xlsx can carry about simulated answers: item wording, the codes' labels,
    the "not relevant" codes as user-missing (so SPSS/PSPP do not average a 9 in), and a file
    label saying the data are synthetic."""
    from .._version import __version__
    from ..io import OutputMeta
    from ..scoring import numeric_codes
    from ..spec import load_instrument

    labels, values, missing, measure = {}, {}, {}, {}
    names = []
    for ref in forms:
        inst = load_instrument(ref)
        names.append(inst.name)
        for iid, item in inst.items.items():
            if iid not in columns:
                continue
            rs = item.response_scale
            labels[iid] = inst.item_text(iid)[:250]
            measure[iid] = "ordinal" if rs.codes else "scale"
            if rs.codes:
                values[iid] = {float(k): str(v) for k, v in rs.codes.items()}
            num_missing = {value: str(rs.missing[code]) for value, code in numeric_codes(rs.missing).items()}
            if num_missing and fmt in ("sav", "zsav"):
                values.setdefault(iid, {}).update(num_missing)
                missing[iid] = sorted(num_missing)[:3]
        col = f"{inst.name.replace('-', '_')}_complete"
        if col in columns:
            labels[col] = f"{inst.name}: form status (REDCap)"
            values[col] = {0.0: "Incomplete", 1.0: "Unverified", 2.0: "Complete"}
            measure[col] = "ordinal"
    for c in columns:
        if c not in labels:
            measure.setdefault(c, "nominal")
    return OutputMeta(variable_labels=labels, value_labels=values, missing_values=missing, measure=measure,
                      file_label=f"SYNTHETIC: simulated from {', '.join(names)}, seed {seed} (peerscale "
                                 f"{__version__})")


@click.command()
@click.option("-i", "--instrument", "instruments", multiple=True, metavar="NAME",
              help="Instrument to simulate (bundled name or scoring file; repeat for several forms in one file). "
                   "Its population: block is the model.")
@click.option("--model", "model_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="A model file: forms, design, latent structure with the mediation paths, messiness "
                   "(see examples/population.yaml). Options given on the command line override it.")
@click.option("--n", "n", type=click.IntRange(1, 10_000_000), default=None, help="Respondents (young people).")
@click.option("--seed", type=click.IntRange(0), default=1, show_default=True, help="Seed: the same seed gives the same file.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output file (.csv, .sav, .xlsx, ...).")
@click.option("--output-format", "output_format", default=None, help="Output format when the extension does not say.")
@click.option("--dyad-output", type=click.Path(dir_okay=False), default=None,
              help="With dyad forms (--dyad-instrument or the model file): the worker file.")
@click.option("--dyad-instrument", "dyad_instruments", multiple=True, metavar="NAME",
              help="The worker's form of each dyad (e.g. pbr-p), written to --dyad-output; needs --workers.")
@click.option("--mcar", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Share of answers left blank completely at random.")
@click.option("--page-skip", type=click.FloatRange(0, 1), default=None,
              help="Share of forms with one dimension's page of items skipped.")
@click.option("--not-relevant", type=click.FloatRange(0, 0.5, max_open=True), default=None,
              help="Share of answers given as the response scale's 'not relevant' code (e.g. 9), where it has one.")
@click.option("--workers", type=click.IntRange(0, 1_000_000), default=None, help="Number of workers respondents are nested in.")
@click.option("--icc", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Share of latent variance due to the worker (with --workers).")
@click.option("--waves", type=click.IntRange(1, 50), default=None, help="Measurement waves (events).")
@click.option("--change", type=float, default=None, help="Latent gain per wave, in SD units.")
@click.option("--stability", type=click.FloatRange(-1, 1, min_open=True, max_open=True), default=None,
              help="Correlation of a person's latent scores between waves (default 0.6).")
@click.option("--follow-up", "follow_up", type=click.FloatRange(0, 1), default=None,
              help="Share of respondents present at each later wave (default 1).")
@click.option("--agreement", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Latent correlation of the worker's view with the young person's (dyads; default 0.5).")
@click.option("--redcap", is_flag=True, default=None,
              help="REDCap layout: redcap_event_name (baseline_arm_1, ...) and <form>_complete columns.")
@click.option("--irt", is_flag=True, default=None, help="Draw scales that have an irt: bank from the graded response model.")
@click.option("--truth", "truth_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the true values (loadings, correlations, ICCs, mediation effects) as JSON.")
@click.option("--force", is_flag=True, help="Overwrite existing output files.")
@click.option("-q", "--quiet", is_flag=True, help="No summary line.")
def simulate(instruments, model_file, n, seed, output, output_format, dyad_output, dyad_instruments, mcar, page_skip,
             not_relevant, workers, icc, waves, change, stability, follow_up, agreement, redcap, irt, truth_path,
             force, quiet):
    """Simulate ordinal answers from a population model (practice data, or data of known truth).

    \b
    Examples:
      peerscale simulate -i pbr-y --n 300 --seed 1 -o practice.csv
      peerscale simulate -i pbr-y --n 300 --workers 30 --icc 0.1 --waves 2 --change 0.3 --redcap -o p.csv
      peerscale simulate --model examples/population.yaml --seed 20240111 -o youth.csv --dyad-output worker.csv
    """
    from ..io.write import output_format as check_format, write_table
    from ..simulation.generate import _override, simulate_study
    from ..simulation.study import Design

    if not instruments and not model_file:
        raise click.UsageError("give -i/--instrument or --model")
    if model_file:
        from ..simulation.model import load_model

        design = load_model(model_file)
        if instruments:
            design.forms = list(instruments)
        if dyad_instruments:
            design.dyad_forms = list(dyad_instruments)
    else:
        if n is None:
            raise click.UsageError("give --n (the number of respondents), or --model")
        design = Design(n=n, forms=list(instruments), dyad_forms=list(dyad_instruments))
        if dyad_instruments:
            design.agreement = {"*": 0.5}
    _override(design, n=n, mcar=mcar, page_skip=page_skip, not_relevant=not_relevant, workers=workers, icc=icc,
              waves=waves, change=change, stability=stability, follow_up=follow_up, redcap=redcap, irt=irt)
    if agreement is not None:
        design.agreement = {"*": agreement}
    if design.dyad_forms and not dyad_output:
        raise click.UsageError("dyad forms need --dyad-output (the worker file)")
    if dyad_output and not design.dyad_forms:
        raise click.UsageError("--dyad-output needs dyad forms (--dyad-instrument, or dyads: in the model file)")
    check_format(output, output_format)
    if dyad_output:
        check_format(dyad_output, output_format)
    _distinct_outputs([("--output", output), ("--dyad-output", dyad_output), ("--truth", truth_path)])
    study = simulate_study(design, seed)
    protect = _protect(list(design.forms) + list(design.dyad_forms)) + ((model_file,) if model_file else ())
    fmt = check_format(output, output_format)
    write_table(study.data, output, format=output_format, force=force, protect=protect, reproducible=True,
                meta=simulated_meta(design.forms, fmt, seed, set(study.data.columns)))
    written = [output]
    if dyad_output:
        write_table(study.dyads, dyad_output, format=output_format, force=force, protect=protect + (output,),
                    reproducible=True, meta=simulated_meta(design.dyad_forms, check_format(dyad_output, output_format),
                                                           seed, set(study.dyads.columns)))
        written.append(dyad_output)
    if truth_path:
        import json

        from ..io.write import atomic_write

        text = json.dumps(study.truth, indent=1)
        from pathlib import Path

        atomic_write(truth_path, lambda tmp: Path(tmp).write_text(text + "\n", encoding="utf-8"), force=force,
                     protect=protect + tuple(written))
    for note in study.notes:  # not silenced by --quiet: the data are unfit for a factor analysis
        click.echo(f"note: {note}", err=True)
    if not quiet:
        con = console(stderr=True)
        rows = len(study.data) + (len(study.dyads) if study.dyads is not None else 0)
        con.print(f"wrote {', '.join(written)} ({rows} rows, seed {seed})")


def _distinct_outputs(pairs) -> None:
    """Refuse two output options naming the same file (the second would replace the first)."""
    from pathlib import Path

    seen = {}
    for flag, p in pairs:
        if not p:
            continue
        key = Path(p).resolve()
        if key in seen:
            raise click.BadParameter(f"{p} is also given to {seen[key]}; give each output its own file",
                                     param_hint=flag)
        seen[key] = flag


def _sizes(text: str) -> list[int]:
    try:
        out = [int(x) for x in str(text).replace(" ", "").split(",") if x]
    except ValueError:
        raise click.BadParameter(f"give whole numbers separated by commas, e.g. 150,300,500 (got {text!r})",
                                 param_hint="--n") from None
    if not out or min(out) < 1:
        raise click.BadParameter("give sample sizes of at least 1", param_hint="--n")
    return out


@click.command()
@click.option("-i", "--instrument", default=None, metavar="NAME",
              help="Instrument with a population: block (with --model: default the model file's first form).")
@click.option("--model", "model_file", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="A model file (as simulate --model): each replication is its study; with a mediation, the power "
                   "of a, b, c', the indirect and the total effect on the forms' total scores.")
@click.option("--complete", is_flag=True, help="With --model: leave out its missing answers (no FIML; faster).")
@click.option("--n", "sizes", default="150,300,500", show_default=True, metavar="N1,N2,...",
              help="Sample sizes (with --groups: in total, split equally).")
@click.option("--reps", type=click.IntRange(1, 1_000_000), default=500, show_default=True, help="Replications per n.")
@click.option("--seed", type=click.IntRange(0), default=1, show_default=True,
              help="Seed: replication r of the k-th n uses SeedSequence(seed, spawn_key=(k, r)).")
@click.option("--estimator", type=click.Choice(["ml", "mlr", "wlsmv"]), default="ml", show_default=True,
              help="As the analysis: ML, MLR (robust), WLSMV (ordinal).")
@click.option("--scales", "scale_names", metavar="A,B,...", default=None,
              help="Dimension scales to model (default: those of the instrument's first composite).")
@click.option("--syntax", "syntax_file", type=click.Path(dir_okay=False), default=None,
              help="A file with lavaan syntax to fit instead (regressions and := parameters get power).")
@click.option("--groups", type=click.IntRange(1, 20), default=1, show_default=True,
              help="Equal groups for the invariance tests (metric, scalar).")
@click.option("--dif", type=float, default=0.0, show_default=True,
              help="With --groups: threshold shift (latent SD) of --dif-items in the last group (0: type I error).")
@click.option("--dif-items", metavar="A,B,...", default=None, help="Items with DIF (default: the first of each scale).")
@click.option("--mcar", type=click.FloatRange(0, 1, max_open=True), default=0.0, show_default=True,
              help="Share of answers missing completely at random (FIML under ml/mlr).")
@click.option("--processes", type=click.IntRange(1, 512), default=None, help="Worker processes (default: all cores).")
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None,
              help="Keep finished replications here (default: OUTPUT.checkpoint.jsonl with -o, else "
                   "peerscale-plan.checkpoint.jsonl); removed when the run completes.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its checkpoint.")
@click.option("--truth-n", type=click.IntRange(1000, 10_000_000), default=100_000, show_default=True,
              help="Size of the one large sample whose estimates are the pseudo-true values.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the tidy results (n, measure, parameter, value, mc_se) to a table file.")
@click.option("--svg", "svg_path", type=click.Path(dir_okay=False), default=None, help="Power and coverage by n, as SVG.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None,
              help="A report (.html or .md) with the table and the figure.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--force", is_flag=True, help="Overwrite existing output files.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def plan(instrument, model_file, complete, sizes, reps, seed, estimator, scale_names, syntax_file, groups, dif, dif_items, mcar, processes,
         checkpoint, resume, truth_n, output, svg_path, report_path, as_json, force, quiet):
    """Plan a validation study by Monte Carlo: convergence, fit, bias, coverage and power by n.

    \b
    Examples:
      peerscale plan -i pbr-y --n 150,300,500 --reps 500 --seed 1
      peerscale plan -i pbr-p --n 200,400 --reps 200 --estimator wlsmv --groups 2 --dif 0.3 --svg plan.svg
      peerscale plan --model examples/population.yaml --n 150,300 --reps 200 --complete
    """
    if not instrument and not model_file:
        raise click.UsageError("give -i/--instrument or --model")
    from pathlib import Path

    from ..io.write import atomic_write, check_output, output_format as check_format, write_table
    from ..simulation.plan import plan as run_plan
    from ..simulation.plot import plan_report, plan_svg

    ns = _sizes(sizes)
    syntax = None
    if syntax_file:
        from ..io.source import read_bytes

        syntax = read_bytes(syntax_file, "syntax file", limit=1 << 20).decode("utf-8", errors="replace")
    inputs = [instrument] if instrument else []
    if model_file:
        from ..simulation.model import load_model

        inputs += list(load_model(model_file).forms)
    protect = _protect(inputs) + tuple(p for p in (model_file, syntax_file) if p)
    if checkpoint is None:
        checkpoint = f"{output}.checkpoint.jsonl" if output else "peerscale-plan.checkpoint.jsonl"
    # the outputs, one another and the checkpoint: never an input of the run, never the same file twice
    _distinct_outputs([("--output", output), ("--svg", svg_path), ("--report", report_path),
                       ("--checkpoint", checkpoint)])
    for flag, p in (("--checkpoint", checkpoint),):
        for q in protect:
            if Path(p).resolve() == Path(q).resolve():
                raise click.BadParameter(f"{p} is an input of this run", param_hint=flag)
    if output:
        check_format(output)
        check_output(output, force=force, protect=protect)
    for p in (svg_path, report_path):
        if p:
            check_output(p, force=force, protect=protect)
    if report_path and Path(report_path).suffix.lower() not in (".html", ".htm", ".md"):
        raise click.BadParameter("the report is .html or .md", param_hint="--report")
    if resume and not Path(checkpoint).exists():
        raise PeerscaleError("no checkpoint to resume from", file=checkpoint,
                             hint="run without --resume (or give --checkpoint FILE)")
    try:
        res = _run(run_plan, checkpoint, instrument, ns, reps, seed, estimator, scale_names, syntax, model_file,
                   complete, groups, dif, dif_items, mcar, processes, resume, quiet, truth_n)
    except BaseException as exc:
        if not isinstance(exc, Exception) and Path(checkpoint).exists():
            click.echo(f"note: the finished replications are kept in {checkpoint}; add --resume to continue", err=True)
        raise
    if output:
        write_table(res.to_frame(), output, force=force, protect=protect)
    if svg_path:
        text = plan_svg(res)
        atomic_write(svg_path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"), force=force, protect=protect)
    if report_path:
        text = plan_report(res, "md" if report_path.lower().endswith(".md") else "html")
        atomic_write(report_path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"), force=force,
                     protect=protect)
    if as_json:
        emit_json(res.to_dict())
        return
    con = console()
    con.print(res.summary(), markup=False)
    con.print(f"{res.seconds:.1f} s on {res.processes} process(es)", markup=False)


def _run(run_plan, checkpoint, instrument, ns, reps, seed, estimator, scale_names, syntax, model_file, complete,
         groups, dif, dif_items, mcar, processes, resume, quiet, truth_n):
    return run_plan(instrument, ns, reps, seed, estimator=estimator,
                   scales=[s.strip() for s in scale_names.split(",") if s.strip()] if scale_names else None,
                   syntax=syntax, model=model_file, complete=complete, groups=groups, dif=dif,
                   dif_items=[s.strip() for s in dif_items.split(",") if s.strip()] if dif_items else None,
                   mcar=mcar, processes=processes, checkpoint=checkpoint, resume=resume, quiet=quiet, truth_n=truth_n)
