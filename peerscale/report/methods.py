"""The methods paragraph (generated from what was actually run) and the command that
reproduces the report.

The paragraph names the instrument and its version and status, the scoring and
missing-data rules, the estimators and rotation used, and the software versions, so it can
be pasted into a paper's method section and edited there.
"""

from __future__ import annotations

import platform
import shlex
from importlib import metadata

import click

from ..analyses import MAX_CEILING_PCT, MAX_FLOOR_PCT, MIN_R_DROP
from ..spec import Instrument

SOFTWARE = ("numpy", "pandas", "scipy")


def software_versions(extra=()) -> dict[str, str]:
    """Installed versions (read from package metadata, nothing is imported)."""
    from .._version import __version__

    out = {"peerscale": __version__, "Python": platform.python_version()}
    for name in (*SOFTWARE, *extra):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _rules(instrument: Instrument) -> str:
    """"scale scores were the mean of the answered keyed items when at least 75% of a scale's
    items were answered (share: 6 of 7; ...)"."""
    groups: dict[tuple, list[str]] = {}
    for sc in instrument.scales:
        groups.setdefault((sc.method, sc.prorate, sc.min_answered), []).append(f"{sc.name} {sc.required} of {len(sc.items)}")
    parts = []
    for (method, prorate, ma), names in groups.items():
        how = ("the mean of the answered keyed items" if method == "mean" else
               "the prorated sum (mean of the answered keyed items × number of items)" if prorate else
               "the sum of the answered keyed items")
        rule = (f"at least {ma:.0%} of a scale's items were answered" if ma < 1 else
                f"at least {int(ma)} items were answered")
        parts.append(f"{how} when {rule} ({', '.join(names)})")
    return "scale scores were " + "; or ".join(parts)


def methods_paragraph(report, instrument: Instrument) -> str:
    """One paragraph of plain prose describing the data handling and analyses that were run."""
    m, s = report.meta, report.sample
    status = (m["status"] or "").upper()
    title = f"{m['title']} ({m['instrument']}" + (f", version {m['version']}" if m["version"] else "") + ")"
    n_rev = sum(1 for it in report.items if it["reverse"])
    parts = [
        f"Responses of {s['n_in_scope']} records" + (f" from {s['n_respondents']} respondents" if s["n_respondents"] else "")
        + f" were scored on the {title}"
        + (f", a {status} instrument whose items have not yet been validated" if status == "DRAFT" else "") + ".",
        f"Following its scoring file, {_rules(instrument)}; otherwise the "
        "score is missing."
        + (f" {n_rev} reverse-keyed item{'s were' if n_rev != 1 else ' was'} scored as (minimum + maximum) − response using the declared "
           "response range." if n_rev else ""),
        "Missing-data codes were treated as missing and counted by reason"
        + ("; values outside the response scales were set to missing and counted."
           if s["invalid_handling"] == "missing" else "; values outside the response scales were not accepted."),
    ]
    skipped = s.get("skipped_scales") or {}
    if skipped:
        parts.append("Not scored: " + "; ".join(f"{name} ({why.replace('`', '')})" for name, why in skipped.items())
                     + ".")
    if any(sc.get("bands") for sc in report.scales):
        parts.append("Interpretive bands are the scoring file's descriptive cut-offs, not norms.")
    w = report.waves
    if w and w.get("changes"):
        parts.append(f"Change between waves ({_join([str(x) for x in w['waves']])}, column {w['column']}) was "
                     f"estimated for respondents scored at both waves (paired on {w['id_column']}) as the mean "
                     "change with a t-based 95% confidence interval and Cohen's dz (mean change divided by the "
                     "standard deviation of change).")
    if report.flag_rules:
        where = f" ({report.flags_note})" if report.flags_note else ""
        parts.append(f"Items were screened{where} by item analysis: flagged when the corrected item-total "
                     f"correlation of the keyed item was below {MIN_R_DROP:.2f}".replace("0.", ".", 1)
                     + f" or negative (a possible keying error), or when more than {MAX_FLOOR_PCT:g}% of answers lay "
                     f"at the lowest code or more than {MAX_CEILING_PCT:g}% at the highest; flagged items were not "
                     "changed.")
    med = getattr(report, "mediation", None)
    if med:
        b = med.get("bootstrap") or {}
        parts.append(f"The mediation model {med['m']} ~ a·{med['x']}, {med['y']} ~ b·{med['m']} + c′·{med['x']} was "
                     f"fitted by maximum likelihood on observed scale scores (as lavaan sem(); N = {med['n']}, listwise)"
                     + (f" with cluster-robust standard errors by {med['cluster']}" if med.get("cluster") else "")
                     + "; the indirect effect a·b has a delta-method standard error"
                     + (f" and percentile and bias-corrected bootstrap intervals ({b['n_ok']} resamples of "
                        f"{b['resampled']}, seed {b['seed']})" if b else "") + ".")
    extra = []
    v = report.validation
    if v:
        parts.extend(v.get("methods", []))
        extra = v.get("software", [])
    versions = software_versions(extra)
    parts.append("Analyses used " + _join([f"{k} {val}" for k, val in versions.items()]) + ".")
    return " ".join(parts)


def reproduce_command(ctx: click.Context, prog: str = "peerscale") -> str:
    """The shell-quoted command line that reproduces this run, rebuilt from the parsed
    parameters (options left at their defaults are omitted)."""
    argv = [prog, ctx.info_name or ""]
    positional, options = [], []
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if isinstance(param, click.Argument):
            positional.append(str(value))
            continue
        if value is None or value == () or value is False or value == param.default:
            continue
        name = max(param.opts, key=len)
        if getattr(param, "is_flag", False):
            options.append(name)
        elif getattr(param, "multiple", False):
            for v in value:
                options += [name, str(v)]
        else:
            options += [name, str(value)]
    return shlex.join([a for a in argv if a] + positional + options)
