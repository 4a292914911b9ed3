"""``peerscale reliability`` and ``peerscale items``: scale reliability and item analysis."""

from __future__ import annotations

import math

import click

from ..cli_common import console, data_options, emit_json, load_analysis_data
from ..errors import PeerscaleError


def _fmt(x, nd=3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:.{nd}f}"


def _analysed_scales(ad) -> list:
    """Scales that are not composites (their items are analysed together)."""
    return [s for s in ad.scales if not s.composite]


def _scale_scores(ad, scale):
    from ..scoring import scale_scores

    score, _ = scale_scores(ad.keyed(scale.name).to_numpy(dtype=float, copy=True), scale)
    return score


# ------------------------------------------------------------------------------ ICC input

def _icc_frames(opts: dict, ad, ids: list[str], retest: str | None, wave_column: str | None,
                rater_column: str | None):
    """Long frames (person, occasion, score) per scale, and the design label; ``ids`` name the person."""
    import pandas as pd

    design = "raters" if rater_column else "waves"
    if retest:
        second = load_analysis_data({**opts, "input": retest})
        parts = [(ad, "wave 1"), (second, "wave 2")]
    else:
        column = wave_column or rater_column
        if ad.ids is None or column not in ad.ids.columns:
            raise PeerscaleError(f"column {column!r} not found in the input", column=column)
        parts = [(ad, None)]
    frames = {}
    for scale in ad.scales:
        rows = []
        for data, label in parts:
            if data.ids is None or any(c not in data.ids.columns for c in ids):
                raise PeerscaleError("an id column is missing from one of the inputs", column=ids[0])
            frame = data.ids.copy()
            person = frame[ids].astype(str).agg(" / ".join, axis=1)
            occasion = frame[wave_column or rater_column] if label is None else label
            rows.append(pd.DataFrame({"person": person, "occasion": occasion,
                                      "score": _scale_scores(data, scale)}))
        frames[scale.name] = pd.concat(rows, ignore_index=True).dropna(subset=["occasion"])
    return frames, design


def _first_occasion(ad, column: str):
    """Restrict the analysis data to the rows of the first wave or rater (sorted order)."""
    values = ad.ids[column]
    first = sorted(values.dropna().unique(), key=str)[0]
    keep = (values == first).to_numpy()
    return keep, first


# ------------------------------------------------------------------------------ reliability

@click.command()
@data_options
@click.option("--bootstrap", "n_boot", default=0, show_default=True, type=click.IntRange(0, 1_000_000),
              metavar="N", help="Bootstrap resamples for a percentile interval of alpha (psych's n.iter); 0 = none.")
@click.option("--seed", type=int, default=None, help="Seed for the bootstrap resamples (reproducible intervals).")
@click.option("--ci", "level", default=0.95, show_default=True, type=click.FloatRange(0.5, 0.999),
              help="Confidence level of the Feldt and bootstrap intervals (and the ICC's).")
@click.option("--listwise", is_flag=True, help="Use only rows that answered every item of the scale (default: pairwise, as psych).")
@click.option("--ordinal", is_flag=True, help="Also ordinal alpha and ordinal omega from polychoric correlations.")
@click.option("--omega", "sl_omega", is_flag=True,
              help="Also Schmid-Leiman omega (hierarchical and total) of each composite, with one group factor "
                   "per subscale; without composites, of all scales together.")
@click.option("--omega-method", type=click.Choice(["minres", "ml", "pa"]), default="minres", show_default=True,
              help="Factor extraction for omega (psych's fm).")
@click.option("--retest", type=click.Path(readable=False), metavar="FILE",
              help="ICC: a second wave in its own file (same layout), people matched by --id-column.")
@click.option("--wave-column", metavar="COLUMN",
              help="ICC: long data, COLUMN names the wave; people matched by --id-column.")
@click.option("--rater-column", metavar="COLUMN",
              help="ICC: long data, COLUMN names the rater; targets matched by --id-column.")
def reliability(n_boot, seed, level, listwise, ordinal, sl_omega, omega_method, retest, wave_column,
                rater_column, **opts):
    """Cronbach's alpha (raw and standardized), Guttman's lambda 6, average r, Feldt and bootstrap
    intervals, item-total statistics and McDonald's omega, per scale (as psych::alpha and psych::omega).

    Scales are the instrument's, composites included (a composite's alpha and one-factor omega pool
    its subscales' items; --omega adds Schmid-Leiman omega with one group factor per subscale), or
    ad-hoc --scale ones.
    Omega labelled "one-factor" is omega total from a one-factor model; "Schmid-Leiman" gives omega
    hierarchical and omega total from a general factor plus one group factor per subscale.

    Test-retest or inter-rater reliability (ICC of the scale scores, via pingouin; ICC(2,1) is the
    primary one, all six Shrout-Fleiss types are listed): give --id-column and one of --retest FILE
    (second wave in its own file), --wave-column COLUMN or --rater-column COLUMN (long data; alpha
    and omega are then computed on the first wave or rater only).

    \b
    Examples:
      peerscale reliability bfi.csv --scale A=-A1,A2,A3,A4,A5 --range 1:6 --bootstrap 2000 --seed 1
      peerscale reliability export.csv --instrument pbr-y --omega --ordinal --json
      peerscale reliability wave1.csv --instrument pbr-y --id-column record_id --retest wave2.csv
      peerscale reliability long.csv --instrument pbr-y --id-column record_id --wave-column redcap_event_name
    """
    icc_modes = [m for m in (retest, wave_column, rater_column) if m]
    if len(icc_modes) > 1:
        raise click.UsageError("give only one of --retest, --wave-column and --rater-column")
    if seed is not None and not n_boot:
        raise click.UsageError("--seed is for the bootstrap: give --bootstrap N as well")
    occasion_column = wave_column or rater_column
    person_ids = list(opts.get("id_columns") or ())
    if icc_modes and not person_ids:
        raise click.UsageError("an ICC needs --id-column naming the person (repeat it for several columns), "
                               "to match people across waves or raters")
    if occasion_column:
        if occasion_column in person_ids:
            raise click.UsageError(f"{occasion_column!r} is both an --id-column and the wave/rater column")
        opts = {**opts, "id_columns": tuple(person_ids) + (occasion_column,)}
    ad = load_analysis_data(opts)
    quiet = opts.get("quiet")
    out: dict = {"scales": {}}
    rows_kept = None
    if occasion_column:
        rows_kept, first = _first_occasion(ad, occasion_column)
        out["computed_on"] = {"column": occasion_column, "value": str(first)}
    elif retest:
        out["computed_on"] = {"file": str(opts["input"])}
    elif ad.ids is not None and "redcap_event_name" in ad.ids.columns and ad.ids["redcap_event_name"].nunique() > 1:
        out["notes"] = [f"the data hold {ad.ids['redcap_event_name'].nunique()} REDCap events; alpha and omega pool "
                        "them, counting people once per event (give --id-column record_id --wave-column "
                        "redcap_event_name to analyse the first event and get test-retest ICCs)"]
    scales = list(ad.scales)  # composites too: their alpha pools the subscales' items
    failed = {}
    for scale in scales:
        try:
            out["scales"][scale.name] = _scale_entry(ad, scale, rows_kept, listwise, n_boot, seed, level, ordinal,
                                                     omega_method, quiet)
        except PeerscaleError as exc:
            if len(scales) == 1:
                raise
            failed[scale.name] = str(exc)  # the other scales are still worth reporting
            out["scales"][scale.name] = {"error": str(exc)}
    if sl_omega:
        out["omega"] = _structure_omegas(ad, rows_kept, listwise, omega_method, ordinal)
    if icc_modes:
        from ..psychometrics.icc import icc

        frames, design = _icc_frames(opts, ad, person_ids, retest, wave_column, rater_column)
        out["icc"] = {}
        for name, frame in frames.items():
            out["icc"][name] = icc(frame, targets="person", raters="occasion", ratings="score",
                                   level=level, design=design).to_dict()
    if opts.get("as_json"):
        emit_json(out)
    else:
        _print_reliability(out, ad, quiet)
    for note in out.get("notes", []):
        console(quiet=quiet, stderr=True).print(f"note: {note}")
    if failed:
        raise PeerscaleError(f"{len(failed)} scale(s) could not be analysed (the others are reported above): "
                             + "; ".join(f"{name}: {msg}" for name, msg in failed.items()))


def _scale_entry(ad, scale, rows_kept, listwise, n_boot, seed, level, ordinal, omega_method, quiet) -> dict:
    """Alpha, item statistics, one-factor omega (and ordinal versions) of one scale."""
    from ..progress import progress
    from ..psychometrics.omega import omega
    from ..psychometrics.reliability import cronbach_alpha, ordinal_alpha

    data = ad.keyed(scale.name)
    if rows_kept is not None:
        data = data[rows_kept]
    if len(scale.items) < 2:
        return {"n_items": 1, "note": "one item: no internal consistency"}
    if n_boot:
        with progress(n_boot, f"bootstrap {scale.name}", quiet=quiet) as bar:
            res = cronbach_alpha(data, listwise=listwise, n_boot=n_boot, seed=seed, ci=level, progress=bar.advance)
    else:
        res = cronbach_alpha(data, listwise=listwise, ci=level)
    entry = res.to_dict()
    entry["label"] = scale.label
    entry["items"] = {item: {"r_drop": st["r_drop"], "alpha_if_dropped": st["alpha_if_dropped"],
                             "raw_r": st["raw_r"], "std_r": st["std_r"], "r_cor": st["r_cor"],
                             "n": st["n"], "mean": st["mean"], "sd": st["sd"], "key": -1 if k < 0 else 1}
                      for (item, st), k in zip(entry["items"].items(), scale.keys)}
    omega_input = data.dropna() if listwise else data
    if len(scale.items) >= 3:
        om = omega(omega_input, 1, method=omega_method)
        entry["omega_total"] = om.omega_total
        entry["omega_kind"] = om.label
    else:
        entry["omega_total"] = None
        entry["omega_kind"] = "not estimated: omega needs at least three items"
    if ordinal:
        oa, poly = ordinal_alpha(omega_input)
        entry["ordinal"] = {"alpha": oa.alpha, "g6": oa.g6, "average_r": oa.average_r,
                            "omega_total": omega(poly, 1, method=omega_method).omega_total
                            if len(scale.items) >= 3 else None,
                            "omega_kind": f"omega total, one-factor ({omega_method}), polychoric",
                            "smoothed": poly.smoothed}
    return entry


def _structure_omegas(ad, rows_kept, listwise, method, ordinal) -> dict:
    """Schmid-Leiman omega of each composite (one group factor per subscale), or of all scales."""
    import pandas as pd

    from ..psychometrics.omega import omega

    targets = []
    for s in ad.scales:
        if s.composite and len(s.of_scales) >= 2:
            targets.append((s.name, s.items, len(s.of_scales), s.of_scales))
    plain = _analysed_scales(ad)
    if not targets and len(plain) >= 2:
        items = [i for s in plain for i in s.items]
        if len(set(items)) == len(items):
            targets.append(("all_scales", tuple(items), len(plain), tuple(s.name for s in plain)))
    if not targets:
        raise PeerscaleError("--omega needs a structure: a composite of subscales, or at least two scales",
                             hint="use an instrument with subscales, or give two or more --scale options")
    result = {}
    for name, items, k, parts in targets:
        keyed = {}
        for part in parts:
            frame = ad.keyed(part)
            for col in frame.columns:
                keyed[col] = frame[col]
        data = pd.DataFrame(keyed)[list(items)]
        if rows_kept is not None:
            data = data[rows_kept]
        if listwise:
            data = data.dropna()
        om = omega(data, k, method=method, ordinal=ordinal)
        entry = om.to_dict()
        entry["group_factors_for"] = list(parts)
        entry["group_labels"] = _group_labels(om, ad, parts)
        result[name] = entry
    return result


def _group_labels(om, ad, parts) -> dict:
    """Name each group factor after the subscale most of whose items load highest on it."""
    import numpy as np

    names = [c for c in om.loadings.columns if c.endswith("*")]
    home = {i: part for part in parts for i in ad.instrument.scale(part).items}
    best = np.abs(om.loadings[names].to_numpy()).argmax(axis=1)
    labels = {}
    for f, name in enumerate(names):
        members = [home.get(item) for item, b in zip(om.loadings.index, best) if b == f]
        if members:
            top = max(set(members), key=members.count)
            labels[name] = f"{top} ({members.count(top)}/{len(members)} items)"
    return labels


def _print_reliability(out, ad, quiet):
    from rich import box
    from rich.table import Table

    con = console(quiet=quiet)
    on = out.get("computed_on")
    if on and "file" in on:
        con.print(f"Alpha and omega computed on the first wave ({on['file']}); ICC on both")
    elif on:
        con.print(f"Alpha and omega computed on {on['column']} = {on['value']!r}")
    level = next((e["ci_level"] for e in out["scales"].values() if "ci_level" in e), 0.95)
    t = Table(title="Reliability (as psych::alpha and psych::omega)", box=box.SIMPLE_HEAD, collapse_padding=True)
    t.add_column("scale", no_wrap=True)
    for col in ("n", "k", "alpha", f"{level:.0%} CI", "std alpha", "G6", "avg r", "omega t"):
        t.add_column(col, justify="right")
    extra = Table(title="Intervals, signal/noise and ordinal versions", box=box.SIMPLE_HEAD, collapse_padding=True)
    extra.add_column("scale", no_wrap=True)
    for col in ("S/N", "median r", "bootstrap CI", "ordinal alpha", "ordinal omega t"):
        extra.add_column(col, justify="right")
    show_extra = False
    notes = []
    for name, e in out["scales"].items():
        if "error" in e:
            t.add_row(name, "", "", "[red]error[/red]", *(["—"] * 5))
            continue
        if "alpha" not in e:
            t.add_row(name, "", "1", *(["—"] * 6))
            continue
        lo, hi = e["alpha_ci"]
        t.add_row(name, str(e["n"]), str(e["n_items"]), _fmt(e["alpha"]), f"{_fmt(lo, 2)}–{_fmt(hi, 2)}",
                  _fmt(e["alpha_std"]), _fmt(e["g6"]), _fmt(e["average_r"]), _fmt(e["omega_total"]))
        boot = "—"
        if "bootstrap_ci" in e:
            b = e["bootstrap_ci"]
            boot = f"{_fmt(b['lower'], 2)}–{_fmt(b['upper'], 2)}"
            notes.append(f"bootstrap: percentile interval of {b['n_boot']} resamples, seed {b['seed']}")
            show_extra = True
        o = e.get("ordinal", {})
        show_extra = show_extra or bool(o)
        extra.add_row(name, _fmt(e["s_n"], 2), _fmt(e["median_r"]), boot, _fmt(o.get("alpha")),
                      _fmt(o.get("omega_total")))
    con.print(t)
    missing = next((e["missing"] for e in out["scales"].values() if "missing" in e), "pairwise")
    con.print(f"CI: Feldt (1987) {level:.0%} interval. omega t: omega total of a one-factor model. "
              f"Missing data: {missing}.")
    if show_extra:
        con.print(extra)
        for note in dict.fromkeys(notes):
            con.print(note)
    composites = {s.name for s in ad.scales if s.composite}
    for name, e in out["scales"].items():
        if "items" not in e or name in composites:  # a composite's items are shown under its subscales
            continue
        it = Table(title=f"{name}: item-total statistics", box=box.SIMPLE_HEAD, collapse_padding=True)
        it.add_column("item", no_wrap=True)
        for col in ("n", "mean", "sd", "raw r", "r.cor", "r drop", "alpha if dropped"):
            it.add_column(col, justify="right")
        for item, st in e["items"].items():
            label = ("-" if st["key"] < 0 else "") + item
            r_drop = _fmt(st["r_drop"])
            if st["r_drop"] is not None and st["r_drop"] < 0:
                r_drop = f"[red]{r_drop}[/red]"
            it.add_row(label, str(st["n"]), _fmt(st["mean"], 2), _fmt(st["sd"], 2), _fmt(st["raw_r"]),
                       _fmt(st["r_cor"]), r_drop, _fmt(st["alpha_if_dropped"]))
        con.print(it)
    for name, om in out.get("omega", {}).items():
        ot = Table(title=f"{name}: {om['label']}" + (" (polychoric)" if om["correlations"] == "polychoric" else ""))
        ot.add_column("")
        ot.add_column("omega total", justify="right")
        ot.add_column("omega (general)", justify="right")
        ot.add_column("omega (group)", justify="right")
        labels = om.get("group_labels", {})
        for g, row in om["groups"].items():
            label = "general (whole scale)" if g == "g" else (f"{g} {labels[g]}" if g in labels else g)
            ot.add_row(label, _fmt(row["total"]), _fmt(row["general"]), _fmt(row["group"]))
        con.print(ot)
        con.print(f"omega hierarchical = {_fmt(om['omega_hierarchical'])}, omega total = {_fmt(om['omega_total'])}, "
                  f"omega limit = {_fmt(om['omega_limit'])}, ECV = {_fmt(om['ecv'])}"
                  + (f"; reversed for a positive general factor: {', '.join(om['flipped'])}" if om["flipped"] else ""))
        if om.get("note"):
            con.print(f"note: {om['note']}")
    if out.get("icc"):
        first = next(iter(out["icc"].values()))
        kind = "inter-rater" if first["design"] == "raters" else "test-retest"
        tt = Table(title=f"ICC, {kind} ({first['k']} {'raters' if kind == 'inter-rater' else 'waves'}; "
                         f"scale scores; people missing a score left out)")
        tt.add_column("scale", no_wrap=True)
        tt.add_column("n", justify="right")
        for typ in ("ICC(2,1) *", "ICC(3,1)", "ICC(2,k)"):
            tt.add_column(typ, justify="right", no_wrap=True)
        for name, ic in out["icc"].items():
            cells = []
            for typ in ("ICC(2,1)", "ICC(3,1)", "ICC(2,k)"):
                row = ic["types"][typ]
                cells.append(f"{_fmt(row['icc'], 2)} ({_fmt(row['ci_lower'], 2)}–{_fmt(row['ci_upper'], 2)})")
            tt.add_row(name, str(ic["n"]), *cells)
        con.print(tt)
        types = first["types"]
        con.print("; ".join(f"{t}: {types[t]['description']}" for t in ("ICC(2,1)", "ICC(3,1)", "ICC(2,k)")))
        con.print(f"* primary: ICC(2,1), absolute agreement of single measurements (Koo & Li 2016); "
                  f"{first['ci_level']:.0%} intervals. All six types with F tests are in --json.")


# ------------------------------------------------------------------------------ items

@click.command("items")
@data_options
@click.option("--listwise", is_flag=True, help="Item-total statistics on rows that answered every item of the scale.")
@click.option("--min-r", default=0.30, show_default=True, type=float,
              help="Flag items whose corrected item-total r (r_drop) is below this.")
@click.option("--max-floor", default=50.0, show_default=True, type=click.FloatRange(0, 100),
              help="Flag items with more than this percentage of answers at the lowest code.")
@click.option("--max-ceiling", default=50.0, show_default=True, type=click.FloatRange(0, 100),
              help="Flag items with more than this percentage of answers at the highest code.")
def items_cmd(listwise, min_r, max_floor, max_ceiling, **opts):
    """Item analysis per scale: response frequencies, mean, SD, skew (type 3, as psych::describe),
    floor and ceiling %, missing %, corrected item-total r and alpha if dropped, with flags.

    Flags, each with its rule: r_drop < --min-r; more than --max-floor / --max-ceiling % at the
    lowest / highest code; a negative r_drop ("possible keying error: check wording; not flipped").
    Items are flagged, never re-keyed. Distributions are of the codes as answered; the item-total
    statistics use the scale's keys.

    \b
    Examples:
      peerscale items export.csv --instrument pbr-y
      peerscale items bfi.csv --scale A=-A1,A2,A3,A4,A5 --range 1:6 --json
    """
    from ..psychometrics.itemstats import item_analysis

    ad = load_analysis_data(opts)
    out: dict = {"scales": {}, "rules": None}
    for scale in _analysed_scales(ad):
        answered = ad.responses[list(scale.items)]
        ranges = {}
        for iid in scale.items:
            rs = ad.instrument.items[iid].response_scale
            if rs.has_range:
                ranges[iid] = (rs.min, rs.max)
        if len(ranges) != len(scale.items):
            if any(k < 0 for k in scale.keys):
                raise PeerscaleError(f"scale {scale.name!r} has reverse-keyed items but no declared range",
                                     hint="give --range MIN:MAX")
            ranges = None
        codes = None
        declared = [c for iid in scale.items for c in ad.instrument.items[iid].response_scale.codes]
        if declared:
            codes = sorted(set(declared))
        res = item_analysis(answered, scale.keys, value_range=ranges, codes=codes, listwise=listwise,
                            min_r_drop=min_r, max_floor=max_floor, max_ceiling=max_ceiling)
        d = res.to_dict()
        out["rules"] = d.pop("rules")
        d["label"] = scale.label
        out["scales"][scale.name] = d
    if opts.get("as_json"):
        emit_json(out)
        return
    _print_items(out, opts.get("quiet"))


def _print_items(out, quiet):
    from rich import box
    from rich.table import Table

    con = console(quiet=quiet)
    for name, sc in out["scales"].items():
        t = Table(title=f"{name}: item analysis ({sc['n_rows']} rows; alpha = {_fmt(sc['alpha'])}; "
                        f"α drop = alpha if item dropped)", box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True)
        t.add_column("item", no_wrap=True)
        for col in ("n", "miss%", "mean", "sd", "skew", "floor%", "ceil%", "r.drop", "α drop"):
            t.add_column(col, justify="right", no_wrap=True)
        for item, st in sc["items"].items():
            label = ("-" if st["key"] < 0 else "") + item + (" [yellow]![/yellow]" if st["flags"] else "")
            t.add_row(label, str(st["n"]), _fmt(st["missing_pct"], 1), _fmt(st["mean"], 2), _fmt(st["sd"], 2),
                      _fmt(st["skew"], 2), _fmt(st["floor_pct"], 0), _fmt(st["ceiling_pct"], 0),
                      _fmt(st["r_drop"], 2), _fmt(st["alpha_if_dropped"], 2))
        con.print(t)
        codes = list(next(iter(sc["items"].values()))["frequencies"])
        f = Table(title=f"{name}: response frequencies (% of answers)")
        f.add_column("item", no_wrap=True)
        for c in codes:
            f.add_column(c, justify="right")
        for item, st in sc["items"].items():
            n = max(st["n"], 1)
            f.add_row(item, *[f"{100 * st['frequencies'].get(c, 0) / n:.0f}" for c in codes])
        con.print(f)
        for item, st in sc["items"].items():
            for fl in st["flags"]:
                con.print(f"  [yellow]![/yellow] {item}: {fl['flag']}: {fl['message']}")
    if out["rules"]:
        con.print("Flag rules: " + "; ".join(f"{k}: {v}" for k, v in out["rules"].items()))
