"""Scoring rules that travel: an instrument's scoring written as SPSS syntax, a base-R
function, or REDCap calc fields, all from one description.

:func:`describe` turns an :class:`~peerscale.spec.Instrument` into :class:`Rules`, plain data
that says, per response scale, which answers count and, per score, its items and keys, its
method, the fewest answered items it needs, its norm table and its bands. :func:`rule_words`
states that description in words; :func:`spss_syntax`, :func:`r_script` and
:func:`redcap_fields` translate it. None of them reads the instrument, so the three cannot
drift apart, and the tests run each one (PSPP, Rscript, a REDCap calc evaluator) against
:func:`peerscale.scoring.score_data`.

Semantics mirrored from :mod:`peerscale.scoring`
------------------------------------------------
* An answer is a scored code of the item's response scale (or, for a scale with a range and
  no codes, a number in the declared range). Missing-data codes and blanks are not answered;
  any other value is invalid (an error in R by default, missing in SPSS, impossible in REDCap).
* Reverse-keyed items are scored as ``(min + max) - x`` from the *declared* range.
* ``<scale>_n`` = number of answered items; the score is missing when ``<scale>_n <
  required`` (``required = ceil(p * k)`` for a proportion ``p``, or the count).
* ``mean``: sum of answered keyed items / ``n``; ``sum`` with ``prorate``: that mean times
  ``k``; ``sum`` without: the plain sum. Sums run item by item in scale order, as peerscale's.
* Composites list their items (a composite of scales pools the scales' items and keys).
* Norms: exact lookup (the first table row within 1e-9 of the score) or, with
  ``interpolate: true``, numpy.interp within the table (a score equal to a table raw gets
  that row; between rows, ``slope * (x - raw_j) + t_j``); missing outside the table.
* Bands: ``[min, max)`` except the last band, which includes its max; on the score or the T.
"""

from __future__ import annotations

import math
import re
import textwrap
from dataclasses import dataclass, field
from decimal import Decimal

from .errors import PeerscaleError
from .spec import Instrument

NORM_TOLERANCE = 1e-9  # peerscale.scoring.NORM_TOLERANCE (kept equal by a test)
TARGETS = ("spss", "r", "redcap")
# SPSS reserved words cannot be variable names
_SPSS_RESERVED = {"ALL", "AND", "BY", "EQ", "GE", "GT", "LE", "LT", "NE", "NOT", "OR", "TO", "WITH"}
_SPSS_NAME = re.compile(r"^[A-Za-z@][A-Za-z0-9_.@#$]*$")


# --------------------------------------------------------------------------- the description

@dataclass(frozen=True)
class Answers:
    """What counts as an answer to one response scale."""

    name: str
    label: str
    codes: tuple[float, ...]                 # scored codes; empty: any number (in the range)
    code_labels: tuple[str, ...]
    lo: float | None
    hi: float | None
    missing_numeric: tuple[tuple[float, str], ...]   # (code, meaning)
    missing_text: tuple[tuple[str, str], ...]

    @property
    def has_range(self) -> bool:
        return self.lo is not None and self.hi is not None

    @property
    def reverse_sum(self) -> float:
        """``min + max``: a reverse-keyed answer x scores ``min + max - x``."""
        return self.lo + self.hi


@dataclass(frozen=True)
class Norms:
    raw: tuple[float, ...]
    t: tuple[float, ...]
    se: tuple[float | None, ...]
    interpolate: bool
    source: str = ""

    @property
    def has_se(self) -> bool:
        return any(s is not None for s in self.se)


@dataclass(frozen=True)
class Bands:
    on: str                                  # "score" or "t"
    cuts: tuple[tuple[str, float, float], ...]   # (label, min, max); last band includes max


@dataclass(frozen=True)
class ScoreRule:
    """One scale or composite: its items (in scoring order), keys and rule."""

    name: str
    label: str
    items: tuple[str, ...]
    reverse: tuple[bool, ...]
    method: str                              # "mean", "prorated sum" or "sum"
    required: int
    min_answered: float
    rule_text: str
    composite: bool = False
    of_scales: tuple[str, ...] = ()
    norms: Norms | None = None
    bands: Bands | None = None

    @property
    def k(self) -> int:
        return len(self.items)

    def columns(self) -> list[tuple[str, str]]:
        """(column, role) in peerscale's output order; role: score, n, t, t_se, band."""
        out = [(self.name, "score"), (f"{self.name}_n", "n")]
        if self.norms is not None:
            out += [(f"{self.name}_t", "t"), (f"{self.name}_t_se", "t_se")]
        if self.bands is not None:
            out.append((f"{self.name}_band", "band"))
        return out

    def column_label(self, role: str) -> str:
        """Variable labels as in peerscale's .sav output."""
        return {"score": f"{self.label} ({self.rule_text})",
                "n": f"Items answered: {self.label} (of {self.k})",
                "t": f"{self.label}: T score", "t_se": f"{self.label}: SE of T score",
                "band": f"{self.label}: interpretive band"}[role]


@dataclass
class Rules:
    """An instrument's scoring as plain data (see the module docstring for the semantics)."""

    name: str
    title: str
    version: str
    status: str
    answers: dict[str, Answers]              # item id -> its response scale's answers
    scores: list[ScoreRule]
    id_columns: tuple[str, ...] = ()
    source: str | None = None
    scales: dict[str, Answers] = field(default_factory=dict)   # response scale name -> answers

    @property
    def items(self) -> list[str]:
        """Item ids used by at least one score, in the order they are first used."""
        return list(dict.fromkeys(i for s in self.scores for i in s.items))

    @property
    def function_name(self) -> str:
        return "score_" + re.sub(r"[^A-Za-z0-9_]", "_", self.name)

    def column_names(self) -> list[str]:
        return [c for s in self.scores for c, _ in s.columns()]


def describe(instrument: Instrument) -> Rules:
    """The scoring rules of an instrument as plain data: what every exporter reads.

    Parameters
    ----------
    instrument : Instrument
        A loaded instrument (:func:`peerscale.load_instrument`).

    Returns
    -------
    Rules
        Per item the answers that count (:class:`Answers`), per scale and composite a
        :class:`ScoreRule` (items in scoring order, reverse flags, method, ``required``, norms,
        bands) in :func:`peerscale.score`'s column order.

    Notes
    -----
    ``required = max(1, ceil(p * k))`` for a proportion ``p`` of ``k`` items, else the count;
    a reverse-keyed answer ``x`` scores ``min + max - x`` from the declared range.

    Examples
    --------
    >>> rules = describe(load_instrument("pbr-y"))         # doctest: +SKIP
    >>> rules.scores[0].required, rules.scores[0].method   # doctest: +SKIP
    (6, 'mean')
    """
    from .scoring import numeric_codes

    scales: dict[str, Answers] = {}
    answers: dict[str, Answers] = {}
    for iid, item in instrument.items.items():
        rs = item.response_scale
        if rs.name not in scales:
            numeric = numeric_codes(rs.missing)
            scales[rs.name] = Answers(
                rs.name, rs.label, tuple(float(c) for c in rs.codes), tuple(str(v) for v in rs.codes.values()),
                rs.min, rs.max, tuple((v, str(rs.missing[c])) for v, c in numeric.items()),
                tuple((str(c), str(m)) for c, m in rs.missing.items() if c not in numeric.values()))
        answers[iid] = scales[rs.name]
    scores = []
    for s in instrument.scales:
        norms = instrument.norms.get(s.name)
        bands = instrument.bands.get(s.name)
        scores.append(ScoreRule(
            s.name, s.label, tuple(s.items), tuple(k < 0 for k in s.keys),
            s.method if s.method == "mean" else ("prorated sum" if s.prorate else "sum"),
            s.required, s.min_answered, s.rule_text(), s.composite, tuple(s.of_scales),
            None if norms is None else Norms(tuple(norms.raw), tuple(norms.t), tuple(norms.se),
                                             norms.interpolate, norms.source),
            None if bands is None else Bands(bands[0], tuple((b.label, b.min, b.max) for b in bands[1]))))
    used = {i for s in scores for i in s.items}
    return Rules(instrument.name, instrument.title, instrument.version, instrument.status,
                 {i: a for i, a in answers.items() if i in used}, scores, tuple(instrument.id_columns),
                 instrument.path, {a.name: a for i, a in answers.items() if i in used})


# --------------------------------------------------------------------------- the rules in words

def num(x: float) -> str:
    """A number as a literal every target reads: shortest round-trip digits, never an exponent."""
    x = float(x)
    if not math.isfinite(x):
        raise PeerscaleError(f"cannot write {x!r} as a number in scoring syntax")
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    text = format(Decimal(repr(x)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _interval(lo: float, hi: float, last: bool) -> str:
    return f"[{num(lo)}, {num(hi)}{']' if last else ')'}"


def _list(names, limit: int = 8) -> str:
    names = list(names)
    return ", ".join(names) if len(names) <= limit else ", ".join(names[:limit]) + f", ... ({len(names)} in all)"


def answers_words(a: Answers, items: list[str]) -> str:
    if a.codes:
        codes = "; ".join(f"{num(c)} = {lab}" for c, lab in zip(a.codes, a.code_labels))
        what = f"scored codes {codes}"
    elif a.has_range:
        what = f"any number from {num(a.lo)} to {num(a.hi)}"
    else:
        what = "any number"
    miss = [f"{num(c)} = {m}" for c, m in a.missing_numeric] + [f"{c} = {m}" for c, m in a.missing_text]
    out = f"Response scale {a.name} ({_list(items, 4)}): {what}."
    if miss:
        out += f" Missing-data codes (never scored, not answered): {'; '.join(miss)}."
    if a.has_range:
        out += f" Reverse-keyed answers score {num(a.reverse_sum)} - x (min + max of the declared range {num(a.lo)} to {num(a.hi)})."
    return out


def score_words(s: ScoreRule) -> list[str]:
    rev = [i for i, r in zip(s.items, s.reverse) if r]
    what = {"mean": "mean of the answered items",
            "prorated sum": f"sum of the answered items prorated to all {s.k} (mean of the answered items x {s.k})",
            "sum": "plain sum of the answered items (not prorated)"}[s.method]
    rule = (f"at least {s.required} of the {s.k} items answered"
            + (f" ({s.min_answered:.0%}, rounded up)" if s.min_answered < 1 else ""))
    kind = f"composite pooling the items of {', '.join(s.of_scales)}" if s.of_scales else (
        "composite" if s.composite else "scale")
    limit = 8 if s.of_scales else len(s.items)   # a pooled composite's items are its scales' items
    out = [f"{s.name} ({kind}): {s.label}. Items: {_list(s.items, limit)}"
           + (f"; reverse-keyed: {_list(rev, limit)}" if rev else "; none reverse-keyed") + ".",
           f"  {s.name} = {what}, when {rule}; otherwise missing. {s.name}_n = number of items answered."]
    if s.norms is not None:
        n = s.norms
        how = ("linear interpolation between table rows (a score equal to a table raw gets that row)"
               if n.interpolate else f"the table row whose raw score is within {NORM_TOLERANCE:g} of the score")
        out.append(f"  {s.name}_t, {s.name}_t_se = T score and its standard error from a norm table of {len(n.raw)} rows "
                   f"(raw {num(n.raw[0])} to {num(n.raw[-1])}): {how}; missing outside the table"
                   + (f". Source: {n.source}" if n.source else "") + ".")
    if s.bands is not None:
        cuts = "; ".join(f"{j + 1} = {lab} {_interval(lo, hi, j == len(s.bands.cuts) - 1)}"
                         for j, (lab, lo, hi) in enumerate(s.bands.cuts))
        on = "T score" if s.bands.on == "t" else "score"
        out.append(f"  {s.name}_band = band of the {on}: {cuts}; missing outside the bands.")
    return out


def rule_words(rules: Rules) -> list[str]:
    """The whole rule in words, one paragraph per response scale and per score."""
    from . import __version__

    out = [f"{rules.title}: instrument {rules.name}, version {rules.version or '(none)'}, status {rules.status}.",
           f"Scoring rules written by peerscale {__version__} (peerscale export-rules); "
           "the same rules as `peerscale score`.", ""]
    for a in rules.scales.values():
        out.append(answers_words(a, [i for i, x in rules.answers.items() if x is a]))
    out.append("Blanks are not answered. Any other value is not a valid answer.")
    out.append("")
    for s in rules.scores:
        out += score_words(s)
    return out


def _wrap(lines: list[str], width: int) -> list[str]:
    out = []
    for line in lines:
        indent = len(line) - len(line.lstrip(" "))
        out += textwrap.wrap(line, width, subsequent_indent=" " * (indent + 2), break_on_hyphens=False) or [""]
    return out


def _ascii(text: str) -> str:
    """Comment text in ASCII (a C-locale R session or an old SPSS reads it unharmed)."""
    import unicodedata

    text = text.replace("\u2212", "-").replace("\u2013", "-").replace("\u2014", "-")
    text = text.replace("\u2018", "'").replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    return text.encode("ascii", "replace").decode("ascii")


# --------------------------------------------------------------------------- SPSS

def _spss_str(text: str, limit: int = 255) -> str:
    text = " ".join(str(text).split())
    while len(text.encode("utf-8")) > limit:
        text = text[:-1]
    return "'" + text.replace("'", "''") + "'"


def _spss_check_name(name: str, what: str) -> None:
    if (not _SPSS_NAME.match(name) or name.endswith(".") or name.upper() in _SPSS_RESERVED
            or len(name.encode("utf-8")) > 64):
        raise PeerscaleError(f"{what} {name!r} cannot be an SPSS variable name",
                             hint="SPSS names start with a letter, hold letters, digits, '_' or '.', do not end "
                                  "with '.', have at most 64 bytes and are not ALL, AND, BY, EQ, GE, GT, LE, LT, "
                                  "NE, NOT, OR, TO or WITH; rename it in the scoring file")


def _spss_command(head: str, parts: list[str], end: str = ".", width: int = 78) -> list[str]:
    """``head part part ... end`` wrapped; continuation lines indented (batch and interactive mode)."""
    lines, line = [], head
    for p in parts:
        if len(line) + 1 + len(p) > width and line.strip() != head.strip():
            lines.append(line)
            line = "  " + p
        else:
            line = f"{line}{'' if line.endswith('(') else ' '}{p}"
    lines.append(line + end)
    return lines


def _spss_comment(lines: list[str]) -> list[str]:
    """A comment block: every line starts with '*', the last ends with '.' (a comment ends at a
    line ending in a period; a line starting with '*' is a comment either way)."""
    out = [f"* {line}".rstrip() for line in _wrap([_ascii(x) for x in lines], 76)]
    if not out[-1].endswith("."):
        out[-1] += "."
    return out


def _spss_keyed_names(rules: Rules) -> dict[tuple[str, bool], str]:
    """Scratch variable per (item, reversed): ``#k_<item>`` as answered, ``#r_<item>`` reversed."""
    names = {}
    pairs = list(dict.fromkeys((i, r) for s in rules.scores for i, r in zip(s.items, s.reverse)))
    for j, (iid, rev) in enumerate(pairs, start=1):
        name = f"#{'r' if rev else 'k'}_{iid}"
        names[(iid, rev)] = name if len(name.encode("utf-8")) <= 64 and "." not in iid else f"#{'r' if rev else 'k'}{j}"
    return names


def _spss_recode(iid: str, a: Answers, rev: bool, target: str) -> list[str]:
    specs = ["(MISSING = SYSMIS)"]
    if a.missing_numeric:
        specs.append(f"({', '.join(num(c) for c, _ in a.missing_numeric)} = SYSMIS)")
    if a.codes:
        if rev:
            specs += [f"({num(c)} = {num(a.reverse_sum - c)})" for c in a.codes]
        else:
            specs.append(f"({', '.join(num(c) for c in a.codes)} = COPY)")
        specs.append("(ELSE = SYSMIS)")
    elif a.has_range:
        specs += [f"({num(a.lo)} THRU {num(a.hi)} = COPY)", "(ELSE = SYSMIS)"]
    else:
        specs.append("(ELSE = COPY)")
    lines = _spss_command(f"RECODE {iid}", specs + ["INTO", target])
    if rev and not a.codes:
        lines.append(f"COMPUTE {target} = {num(a.reverse_sum)} - {target}.")
    return lines


def _spss_norms(s: ScoreRule) -> list[str]:
    n, x, t, se = s.norms, s.name, f"{s.name}_t", f"{s.name}_t_se"

    def assign(tv, sv):
        return [f"  COMPUTE {t} = {tv}.", f"  COMPUTE {se} = {sv}."]

    def val(v):
        return "$SYSMIS" if v is None else num(v)

    out = [f"DO IF MISSING({x})."] + assign("$SYSMIS", "$SYSMIS")
    if n.interpolate:
        for j in range(len(n.raw)):
            out.append(f"ELSE IF {x} = {num(n.raw[j])}.")
            out += assign(num(n.t[j]), val(n.se[j]))
            if j + 1 < len(n.raw):
                r0, r1 = num(n.raw[j]), num(n.raw[j + 1])
                out.append(f"ELSE IF {x} > {r0} AND {x} < {r1}.")
                out += assign(_lerp(n.t[j], n.t[j + 1], n.raw[j], n.raw[j + 1], x, "$SYSMIS"),
                              _lerp(n.se[j], n.se[j + 1], n.raw[j], n.raw[j + 1], x, "$SYSMIS"))
    else:
        for j in range(len(n.raw)):
            out.append(f"ELSE IF ABS({x} - {_paren(n.raw[j])}) <= {num(NORM_TOLERANCE)}.")
            out += assign(num(n.t[j]), val(n.se[j]))
    out.append("ELSE.")
    out += assign("$SYSMIS", "$SYSMIS")
    out.append("END IF.")
    return out


def _paren(v: float) -> str:
    return f"({num(v)})" if v < 0 else num(v)


def _lerp(y0, y1, x0, x1, ref: str, missing: str) -> str:
    """numpy.interp's formula, in its order of operations: slope * (x - x0) + y0."""
    if y0 is None or y1 is None:
        return missing
    return f"({_paren(y1)} - {_paren(y0)}) / ({_paren(x1)} - {_paren(x0)}) * ({ref} - {_paren(x0)}) + {_paren(y0)}"


def _spss_check_names(rules: Rules) -> None:
    for iid in rules.items:
        _spss_check_name(iid, "item id")
    for c in rules.column_names():
        _spss_check_name(c, "score column")
    seen: dict[str, str] = {}
    for name in rules.items + rules.column_names():
        if name.upper() in seen:
            raise PeerscaleError(f"{seen[name.upper()]!r} and {name!r} are one variable in SPSS, which ignores case",
                                 hint="rename one of them in the scoring file")
        seen[name.upper()] = name


def _spss_missing_values(rules: Rules) -> list[str]:
    """MISSING VALUES for each response scale's numeric missing codes (SPSS declares at most three)."""
    by_scale: dict[Answers, list[str]] = {}
    for iid in rules.items:
        by_scale.setdefault(rules.answers[iid], []).append(iid)
    out = []
    for a, items in by_scale.items():
        if a.missing_numeric:
            codes = [num(c) for c, _ in a.missing_numeric]
            if len(codes) <= 3:
                out += _spss_command("MISSING VALUES", items + [f"({', '.join(codes)})"])
            else:
                out += _spss_comment([f"More than three missing-data codes ({', '.join(codes)}): SPSS "
                                      "declares at most three, so they are not declared; the RECODE "
                                      "commands below still treat every one as missing"])
        if a.missing_text:
            out += _spss_comment([f"Text missing-data codes ({', '.join(c for c, _ in a.missing_text)}) "
                                  "cannot be held by a numeric variable; read as system-missing, they "
                                  "are missing here as in peerscale"])
    return _spss_comment(["Missing-data codes of the response scales"]) + out + [""] if out else []


def _spss_score(s: ScoreRule, args: list[str]) -> list[str]:
    """COMPUTE <scale>_n and <scale> from the keyed scratch variables, then norms and bands."""
    lines = _spss_comment([f"{s.name}: {s.rule_text}"])
    arglist = [a + "," for a in args[:-1]] + [args[-1] + ")"]
    lines += _spss_command(f"COMPUTE {s.name}_n = NVALID(", arglist)
    fn = f"SUM.{s.required}(" if s.method == "sum" else f"MEAN.{s.required}("
    tail = arglist[:-1] + [args[-1] + (f") * {s.k}" if s.method == "prorated sum" else ")")]
    lines += _spss_command(f"COMPUTE {s.name} = {fn}", tail)
    if s.norms is not None:
        lines += _spss_norms(s)
    if s.bands is not None:
        v = f"{s.name}_t" if s.bands.on == "t" else s.name
        b = f"{s.name}_band"
        lines.append(f"COMPUTE {b} = $SYSMIS.")
        last = len(s.bands.cuts) - 1
        for j, (_label, lo, hi) in enumerate(s.bands.cuts):
            upper = "<=" if j == last else "<"
            lines.append(f"IF ({v} >= {_paren(lo)} AND {v} {upper} {_paren(hi)}) {b} = {j + 1}.")
    return lines


def _spss_slashed(head: str, entries: list[str]) -> list[str]:
    """``HEAD a ... /b ... /c ... .``, one entry per line."""
    lines = [f"{head} {entries[0]}"] + [f"  /{e}" for e in entries[1:]]
    lines[-1] += "."
    return lines


def _spss_dictionary(rules: Rules) -> list[str]:
    """Variable labels, band value labels, measurement levels and display formats."""
    lines = _spss_slashed("VARIABLE LABELS", [f"{col} {_spss_str(s.column_label(role))}"
                                              for s in rules.scores for col, role in s.columns()])
    banded = [s for s in rules.scores if s.bands is not None]
    bands = [f"{s.name}_band" for s in banded]
    if banded:
        lines += _spss_slashed("VALUE LABELS", [
            f"{s.name}_band " + " ".join(f"{j + 1} {_spss_str(c[0], 120)}" for j, c in enumerate(s.bands.cuts))
            for s in banded])
    numeric = [c for s in rules.scores for c, role in s.columns() if role != "band"]
    lines += _spss_command("VARIABLE LEVEL", numeric + ["(SCALE)"] + (["/"] + bands + ["(ORDINAL)"] if bands else []))
    lines += _spss_command("FORMATS", [f"{s.name}_n" for s in rules.scores] + ["(F3.0)"]
                           + (["/"] + bands + ["(F2.0)"] if bands else []))
    return lines


def spss_syntax(rules: Rules) -> str:
    """SPSS syntax (SPSS Statistics or GNU PSPP, batch or interactive) that adds the scores to
    the active dataset.

    Parameters
    ----------
    rules : Rules
        From :func:`describe`.

    Returns
    -------
    str
        A header comment with the rules in words; MISSING VALUES for the numeric missing codes;
        per item a RECODE into a scratch variable (codes kept or reversed from the declared
        range, anything else system-missing); per score ``COMPUTE <scale>_n = NVALID(...)`` and
        ``COMPUTE <scale> = MEAN.r(...)`` (``MEAN.r(...) * k`` prorated, ``SUM.r(...)`` plain sum,
        ``r`` the fewest answered items); norms as a DO IF chain; bands as codes with VALUE
        LABELS; VARIABLE LABELS as in peerscale's .sav output.

    Notes
    -----
    PSPP's ``MEAN`` adds the valid values in order and divides by their number, as
    :func:`peerscale.scoring.scale_scores` does, so the scores agree to the last bit.
    """
    _spss_check_names(rules)
    keyed = _spss_keyed_names(rules)
    lines = ["* Encoding: UTF-8."]
    lines += _spss_comment(rule_words(rules) + [
        "",
        "How to run: open the data (one numeric variable per item, named by its item id, holding the "
        "codes: a REDCap raw or SPSS export, or peerscale's .sav), then run this file, e.g.",
        f"  GET FILE='export.sav'.  INSERT FILE='{rules.name}.sps'.  SAVE OUTFILE='scores.sav'.",
        "It adds the score variables and leaves the item values as they are (it declares the "
        "instrument's numeric missing-data codes as the items' user-missing values, replacing "
        "earlier declarations). A value that is not an answer (a project code such as -888, "
        "a typo such as 7, or a text code such as UNK, which SPSS reads as system-missing) counts "
        "as missing, as with `peerscale score --on-invalid missing`.",
    ])
    lines += [""] + _spss_missing_values(rules)
    lines += _spss_comment(["Scored answers, in scratch variables (dropped after the next procedure):",
                            "#k_ = as answered, #r_ = reverse-keyed from the declared range;",
                            "missing-data codes, blanks and values that are not answers are system-missing"])
    for (iid, rev), target in keyed.items():
        lines += _spss_recode(iid, rules.answers[iid], rev, target)
    for s in rules.scores:
        lines += [""] + _spss_score(s, [keyed[(i, r)] for i, r in zip(s.items, s.reverse)])
    lines += [""] + _spss_dictionary(rules)
    lines.append("EXECUTE.")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- R

def _r_str(text: str) -> str:
    out = []
    for ch in str(text):
        o = ord(ch)
        if ch in "\\\"":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif o < 32 or o == 127:
            out.append(f"\\x{o:02x}")
        elif o > 127:
            out.append(f"\\u{o:04x}" if o <= 0xFFFF else f"\\U{{{o:x}}}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _r_vec(values, fmt=num, empty="numeric(0)") -> str:
    values = list(values)
    return f"c({', '.join(fmt(v) for v in values)})" if values else empty


def _r_num_or_na(v) -> str:
    return "NA_real_" if v is None else num(v)


def _r_name(name: str) -> str:
    return _r_str(name)


_R_HELPERS = '''
  norm_text <- function(x) tolower(gsub("[[:space:]]+", " ", trimws(x)))
  # project missing-data codes (peerscale score --missing-code CODE=REASON)
  extra_codes <- if (is.null(names(missing_codes))) as.character(missing_codes) else names(missing_codes)
  extra_keys <- norm_text(c(extra_codes, if (is.null(names(missing_codes))) character(0) else missing_codes))
  extra_numeric <- suppressWarnings(as.numeric(extra_codes))
  extra_numeric <- extra_numeric[!is.na(extra_numeric)]
  n_rows <- nrow(data)
  problems <- character(0)
  n_invalid <- 0L
  # an item column as scored codes (NA = not answered); codes, their labels, missing codes
  answers <- function(item, scale) {
    x <- data[[item]]
    if (is.factor(x)) x <- as.character(x)
    unknown <- logical(length(x))
    if (is.character(x)) {
      text <- trimws(x)
      blank <- is.na(text) | text == ""
      value <- suppressWarnings(as.numeric(ifelse(blank, NA_character_, text)))
      todo <- which(!blank & is.na(value))
      if (length(todo) > 0) {
        key <- norm_text(text[todo])
        is_missing <- key %in% c(scale$missing_keys, extra_keys)
        code <- scale$codes[match(key, norm_text(scale$labels))]
        value[todo] <- ifelse(is_missing, NA_real_, code)
        unknown[todo] <- !is_missing & is.na(code)
      }
    } else {
      value <- as.numeric(x)
    }
    value[value %in% c(scale$missing, extra_numeric)] <- NA_real_
    valid <- if (length(scale$codes) > 0) {
      value %in% scale$codes
    } else if (!is.na(scale$min)) {
      !is.na(value) & value >= scale$min & value <= scale$max
    } else {
      is.finite(value)
    }
    invalid <- which((!valid & !is.na(value)) | unknown)
    if (length(invalid) > 0) {
      n_invalid <<- n_invalid + length(invalid)
      problems <<- c(problems, sprintf("row %d, column '%s': '%s'", invalid, item, as.character(x[invalid])))
      value[invalid] <- NA_real_
    }
    value
  }
  # score and number answered: sums run item by item, as in peerscale
  score_items <- function(columns, required, method) {
    total <- numeric(n_rows)
    n <- integer(n_rows)
    for (col in columns) {
      ok <- !is.na(col)
      total[ok] <- total[ok] + col[ok]
      n <- n + ok
    }
    value <- switch(method, mean = total / n, prorated = total / n * length(columns), sum = total)
    value[n < required] <- NA_real_
    list(score = value, n = n)
  }
  # exact norm lookup: the first table row within @TOL@ of the score
  norm_exact <- function(value, raw, result) {
    out <- rep(NA_real_, length(value))
    for (j in rev(seq_along(raw))) out[which(abs(value - raw[j]) <= @TOL@)] <- result[j]
    out
  }
  # linear interpolation within the table, as numpy.interp: slope * (x - raw_j) + result_j
  norm_interpolate <- function(value, raw, result) {
    out <- rep(NA_real_, length(value))
    for (j in seq_len(length(raw) - 1)) {
      inside <- which(value > raw[j] & value < raw[j + 1])
      out[inside] <- (result[j + 1] - result[j]) / (raw[j + 1] - raw[j]) * (value[inside] - raw[j]) + result[j]
    }
    for (j in seq_along(raw)) out[which(value == raw[j])] <- result[j]
    out
  }
  # bands: [min, max) except the last, which includes its max
  band <- function(value, lower, upper, labels) {
    out <- rep(NA_character_, length(value))
    for (j in seq_along(labels)) {
      below <- if (j == length(labels)) value <= upper[j] else value < upper[j]
      out[which(value >= lower[j] & below)] <- labels[j]
    }
    out
  }
'''


def r_script(rules: Rules) -> str:
    """A base-R script (no packages) defining ``score_<name>(data, on_invalid, missing_codes)``.

    Parameters
    ----------
    rules : Rules
        From :func:`describe`.

    Returns
    -------
    str
        The script: the rules in words as comments, then the function. It reads codes, code
        labels (case and spacing ignored), numeric and text missing codes and their meanings,
        and returns the id columns found in ``data`` (else ``row``) and the columns of
        :func:`peerscale.score`, equal to them (tests/test_rules_export.py runs it).
    """
    fname = rules.function_name
    lines = [f"# {x}" if x else "#" for x in _wrap([_ascii(x) for x in rule_words(rules)], 96)]
    lines += [
        "#",
        f"# Usage (base R, no packages): source(\"{rules.name}.R\"); scores <- {fname}(read.csv(\"export.csv\"))",
        "# `data` has one column per item, named by its item id: codes (numbers or text), labels of codes,",
        "# missing-data codes or blanks. on_invalid = \"error\" stops on values that are not answers (listing",
        "# them); \"missing\" sets them missing with a warning (peerscale score --on-invalid missing).",
        "# missing_codes: the project's own missing-data codes, e.g. c(\"-999\", \"UNK\") or",
        "# c(\"-999\" = \"Not asked\", UNK = \"Unknown\") (peerscale score --missing-code CODE=REASON).",
        "# Returns the id columns found in `data` (else `row`), then per scale <scale>, <scale>_n",
        "# (and <scale>_t, <scale>_t_se, <scale>_band where the scoring file has norms or bands).",
        "",
        f"{fname} <- function(data, on_invalid = c(\"error\", \"missing\"), missing_codes = character(0)) {{",
        "  on_invalid <- match.arg(on_invalid)",
        "  if (!is.data.frame(data)) stop(\"data must be a data frame\")",
    ]
    lines += _r_wrap("  items <- c(", [_r_str(i) for i in rules.items], ")")
    lines += [
        "  absent <- setdiff(items, names(data))",
        "  if (length(absent) > 0) {",
        f"    stop(sprintf(\"%d item column(s) of instrument '%s' are not in the data: %s\", length(absent), "
        f"{_r_str(rules.name)}, paste(absent, collapse = \", \")), call. = FALSE)",
        "  }",
    ]
    lines += _R_HELPERS.replace("@TOL@", num(NORM_TOLERANCE)).rstrip("\n").split("\n")[1:]
    lines.append("  # response scales: scored codes and their labels, declared range, missing-data codes")
    scale_var = {}
    for j, a in enumerate(rules.scales.values(), start=1):
        var = f"rs{j}"
        scale_var[a.name] = var
        keys = [c for c, _ in a.missing_numeric] + [c for c, _ in a.missing_text]
        key_text = [num(c) for c in keys if isinstance(c, float)] + [c for c in keys if isinstance(c, str)]
        key_text += [m for _, m in a.missing_numeric] + [m for _, m in a.missing_text]
        lines += [
            f"  {var} <- list(  # {_ascii(a.name)}",
            f"    codes = {_r_vec(a.codes)},",
            f"    labels = {_r_vec(a.code_labels, _r_str, 'character(0)')},",
            f"    min = {'NA_real_' if a.lo is None else num(a.lo)}, max = {'NA_real_' if a.hi is None else num(a.hi)},",
            f"    missing = {_r_vec([c for c, _ in a.missing_numeric])},",
            f"    missing_keys = norm_text({_r_vec(key_text, _r_str, 'character(0)')}))",
        ]
    lines.append("  x <- list()")
    for iid in rules.items:
        lines.append(f"  x[[{_r_str(iid)}]] <- answers({_r_str(iid)}, {scale_var[rules.answers[iid].name]})")
    lines += [
        "  if (n_invalid > 0) {",
        "    shown <- paste(head(problems, 5), collapse = \"; \")",
        "    more <- if (n_invalid > 5) sprintf(\" (and %d more)\", n_invalid - 5) else \"\"",
        "    message_text <- sprintf(\"%d value(s) are not valid answers: %s%s\", n_invalid, shown, more)",
        "    if (on_invalid == \"error\") stop(message_text, call. = FALSE)",
        "    warning(paste(message_text, \"(set to missing)\"), call. = FALSE)",
        "  }",
        "  ids <- intersect(c(" + ", ".join(_r_str(c) for c in rules.id_columns) + "), names(data))",
        "  out <- if (length(ids) > 0) data[ids] else data.frame(row = seq_len(n_rows))",
        "  rownames(out) <- NULL",
    ]
    method = {"mean": "mean", "prorated sum": "prorated", "sum": "sum"}
    for s in rules.scores:
        cols = []
        for iid, rev in zip(s.items, s.reverse):
            ref = f"x[[{_r_str(iid)}]]"
            cols.append(f"{num(rules.answers[iid].reverse_sum)} - {ref}" if rev else ref)
        lines.append(f"  # {s.name}: {_ascii(s.rule_text)}")
        head = "  s <- score_items(list("
        lines += _r_wrap(head, cols, f"), required = {s.required}, method = {_r_str(method[s.method])})")
        lines += [f"  out[[{_r_str(s.name)}]] <- s$score", f"  out[[{_r_str(s.name + '_n')}]] <- s$n"]
        if s.norms is not None:
            n = s.norms
            fn = "norm_interpolate" if n.interpolate else "norm_exact"
            raw = _r_vec(n.raw)
            lines += [f"  out[[{_r_str(s.name + '_t')}]] <- {fn}(s$score, {raw}, {_r_vec(n.t)})",
                      f"  out[[{_r_str(s.name + '_t_se')}]] <- {fn}(s$score, {raw}, "
                      f"{_r_vec(n.se, _r_num_or_na)})"]
        if s.bands is not None:
            on = f"out[[{_r_str(s.name + '_t')}]]" if s.bands.on == "t" else "s$score"
            cuts = s.bands.cuts
            lines.append(f"  out[[{_r_str(s.name + '_band')}]] <- band({on}, {_r_vec([c[1] for c in cuts])}, "
                         f"{_r_vec([c[2] for c in cuts])}, {_r_vec([c[0] for c in cuts], _r_str)})")
    lines += ["  out", "}"]
    return "\n".join(lines) + "\n"


def _r_wrap(head: str, parts: list[str], tail: str, width: int = 100) -> list[str]:
    lines, line = [], head
    for j, p in enumerate(parts):
        piece = p + ("," if j < len(parts) - 1 else "")
        if len(line) + len(piece) + 1 > width and line != head:
            lines.append(line.rstrip())
            line = "    " + piece
        else:
            line = line + piece if line == head else f"{line} {piece}"
    lines.append(line + tail)
    return lines


# --------------------------------------------------------------------------- REDCap

def _rc_str(text: str) -> str:
    return "'" + str(text).replace("'", "") + "'"


def _rc_num(v: float) -> str:
    return f"({num(v)})" if v < 0 else num(v)


def redcap_names(rules: Rules) -> dict[str, tuple[str, str]]:
    """Per score column: (calc field, imported score field), e.g. share -> (score_share, ps_share)."""
    out = {}
    for col in rules.column_names():
        base = re.sub(r"[^a-z0-9_]", "_", col.lower())
        out[col] = (f"score_{base}", f"ps_{base}")
    return out


def band_codes(rule: ScoreRule) -> dict[str, int]:
    """Band label -> its code (1, 2, ... in cut order), as in the REDCap and SPSS exports."""
    return {label: j + 1 for j, (label, _lo, _hi) in enumerate(rule.bands.cuts)} if rule.bands else {}


def _rc_not_answered(ref: str, a: Answers) -> str:
    parts = [f"isblankormissingcode({ref})"]
    parts += [f"{ref}={_rc_num(c)}" for c, _ in a.missing_numeric]
    parts += [f"{ref}={_rc_str(c)}" for c, _ in a.missing_text]
    return " or ".join(parts)


def _rc_norm_chain(n: Norms, values, ref: str) -> str:
    """Nested if() that looks up (or interpolates) ``values`` by the score in ``ref``."""
    conds: list[tuple[str, str]] = []
    for j, r in enumerate(n.raw):
        v = "''" if values[j] is None else _rc_num(values[j])
        if n.interpolate:
            conds.append((f"{ref}={_rc_num(r)}", v))
            if j + 1 < len(n.raw):
                conds.append((f"{ref}>{_rc_num(r)} and {ref}<{_rc_num(n.raw[j + 1])}",
                              _lerp(values[j], values[j + 1], r, n.raw[j + 1], ref, "''").replace(" ", "")))
        else:
            conds.append((f"abs({ref}-{_rc_num(r)})<={num(NORM_TOLERANCE)}", v))
    expr = "''"
    for cond, value in reversed(conds):
        expr = f"if({cond}, {value}, {expr})"
    return f"if({ref}='', '', {expr})"


def redcap_fields(rules: Rules, field_name, form_of) -> list[dict]:
    """Data dictionary rows (as dicts of :class:`~peerscale.io.dictionary.Field` attributes) for
    every score column: a calc field computed by REDCap (``score_<column>``) and a field that
    receives peerscale's own score from the import file (``ps_<column>``).

    ``field_name(item_id)`` gives an item's REDCap field name; ``form_of(item_id)`` its form.
    """
    names = redcap_names(rules)
    taken = {field_name(i): i for i in rules.answers}
    seen: dict[str, str] = {}
    for col, pair in names.items():
        for fname in pair:
            if fname in taken:
                raise PeerscaleError(f"score field name {fname!r} clashes with the field of item {taken[fname]!r}")
            if fname in seen:
                raise PeerscaleError(f"score columns {seen[fname]!r} and {col!r} give the same REDCap field name {fname!r}",
                                     hint="REDCap field names are lowercase; rename one of the scales")
            seen[fname] = col
    out: list[dict] = []
    for s in rules.scores:
        form = form_of(s.items[0])
        calc = {c: names[c][0] for c, _ in s.columns()}
        stored = {c: names[c][1] for c, _ in s.columns()}
        n_field, score_field = calc[f"{s.name}_n"], calc[s.name]
        terms, counts, rev = [], [], []
        for iid, r in zip(s.items, s.reverse):
            a = rules.answers[iid]
            ref = f"[{field_name(iid)}]"
            missing = _rc_not_answered(ref, a)
            value = f"({num(a.reverse_sum)}-{ref})" if r else ref
            if r:
                rev.append(f"{field_name(iid)} as {num(a.reverse_sum)} - x")
            terms.append(f"if({missing}, '', {value})")
            counts.append(f"if({missing}, 0, 1)")
        excluded = sorted({f"{num(c)} ({m})" for i in s.items for c, m in rules.answers[i].missing_numeric}
                          | {f"{c} ({m})" for i in s.items for c, m in rules.answers[i].missing_text})
        not_counted = "blanks, REDCap missing-data codes" + (f" and {', '.join(excluded)}" if excluded else "")
        agg = {"mean": f"mean({', '.join(terms)})", "prorated sum": f"mean({', '.join(terms)})*{s.k}",
               "sum": f"sum({', '.join(terms)})"}[s.method]
        what = {"mean": "Mean", "prorated sum": f"Prorated sum (mean of the answered items x {s.k})",
                "sum": "Sum (not prorated)"}[s.method]
        imported = f" REDCap cannot import into calc fields: peerscale's own score is imported into {stored[s.name]}."
        tag = f"@HIDDEN-SURVEY peerscale: scale={s.name}"
        out.append(_row(n_field, form, "calc", f"Items answered: {s.label} (of {s.k})",
                        f"sum({', '.join(counts)})",
                        f"Number of the {s.k} items answered; {not_counted} are not answered.",
                        f"{tag} column={s.name}_n"))
        out.append(_row(score_field, form, "calc", s.label,
                        f"if([{n_field}]>={s.required}, {agg}, '')",
                        f"{what} of the answered items of {s.k}" + (f" (reverse-keyed: {', '.join(rev)})" if rev else "")
                        + f"; blank when fewer than {s.required} are answered. Rule: {s.rule_text}. "
                        "Same rule and result as peerscale (tested)." + imported, f"{tag} column={s.name}"))
        if s.norms is not None:
            n = s.norms
            how = ("linear interpolation between rows" if n.interpolate
                   else f"the row within {NORM_TOLERANCE:g} of the score")
            ref = f"[{score_field}]"
            note = (f"From the norm table ({len(n.raw)} rows, raw {num(n.raw[0])} to {num(n.raw[-1])}; {how}), "
                    "written as nested if(); blank outside the table.")
            out.append(_row(calc[f"{s.name}_t"], form, "calc", f"{s.label}: T score",
                            _rc_norm_chain(n, n.t, ref), note, f"{tag} column={s.name}_t"))
            if n.has_se:
                out.append(_row(calc[f"{s.name}_t_se"], form, "calc", f"{s.label}: SE of T score",
                                _rc_norm_chain(n, n.se, ref), note, f"{tag} column={s.name}_t_se"))
        if s.bands is not None:
            ref = f"[{calc[s.name + '_t']}]" if s.bands.on == "t" else f"[{score_field}]"
            last = len(s.bands.cuts) - 1
            expr = "''"
            for j in range(last, -1, -1):
                _label, lo, hi = s.bands.cuts[j]
                expr = f"if({ref}>={_rc_num(lo)} and {ref}{'<=' if j == last else '<'}{_rc_num(hi)}, {j + 1}, {expr})"
            codes = "; ".join(f"{j + 1} = {lab} {_interval(lo, hi, j == last)}"
                              for j, (lab, lo, hi) in enumerate(s.bands.cuts))
            out.append(_row(calc[f"{s.name}_band"], form, "calc", f"{s.label}: interpretive band (code)",
                            f"if({ref}='', '', {expr})",
                            f"Band code of the {'T score' if s.bands.on == 't' else 'score'}: {codes}. A calc field "
                            f"holds numbers, not labels: the labelled band is imported into {stored[s.name + '_band']}.",
                            f"{tag} column={s.name}_band"))
        source = f"Imported from peerscale (peerscale score EXPORT -i {rules.name} --output-format redcap-import)"
        for col, role in s.columns():
            if role == "t_se" and not s.norms.has_se:
                continue
            row = _row(stored[col], form, "text", f"{s.column_label(role)} [peerscale]",
                       "", f"{source}; {s.rule_text}." if role == "score" else f"{source}.",
                       f"@READONLY @HIDDEN-SURVEY peerscale: scale={s.name} column={col}")
            if role == "n":
                row.update(text_validation_type_or_show_slider_number="integer", text_validation_min="0",
                           text_validation_max=str(s.k))
            elif role == "band":
                row.update(field_type="dropdown", select_choices_or_calculations=" | ".join(
                    f"{j + 1}, {lab}" for j, (lab, _lo, _hi) in enumerate(s.bands.cuts)))
            else:
                row["text_validation_type_or_show_slider_number"] = "number"
            out.append(row)
    return out


def _row(name, form, ftype, label, calc, note, annotation) -> dict:
    return {"field_name": name, "form_name": form, "field_type": ftype, "field_label": label,
            "select_choices_or_calculations": calc, "field_note": note, "field_annotation": annotation}


def import_columns(rules: Rules) -> list[tuple[str, str, ScoreRule, str]]:
    """(score column, imported field, its scale, role) for the REDCap import file, in dictionary order."""
    names = redcap_names(rules)
    return [(col, names[col][1], s, role) for s in rules.scores for col, role in s.columns()
            if not (role == "t_se" and not s.norms.has_se)]


# --------------------------------------------------------------------------- entry point

def export_text(instrument: Instrument, to: str) -> str:
    """The scoring rules of an instrument as SPSS syntax or an R script.

    Parameters
    ----------
    instrument : Instrument
        A loaded instrument.
    to : {"spss", "r"}
        The target. REDCap calc fields are rows of a data dictionary:
        ``peerscale.io.dictionary.build_dictionary(instrument, with_calc=True)``.

    Returns
    -------
    str
        The file's text (what ``peerscale export-rules NAME --to spss|r`` writes).

    Examples
    --------
    >>> from peerscale import load_instrument
    >>> text = export_text(load_instrument("pbr-y"), "r")
    >>> "score_pbr_y <- function(data" in text
    True
    """
    rules = describe(instrument)
    if to == "spss":
        return spss_syntax(rules)
    if to == "r":
        return r_script(rules)
    raise PeerscaleError(f"to must be one of {', '.join(TARGETS[:2])} (REDCap calc fields are rows of a data "
                         f"dictionary: see peerscale.io.dictionary.build_dictionary(with_calc=True)), got {to!r}")
