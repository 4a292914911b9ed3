"""Parse lavaan model syntax (Rosseel 2012) into a list of :class:`Term` rows.

Supported, as lavaan: ``=~`` (measured by), ``~~`` (variance/covariance), ``~`` (regression)
and ``~ 1`` (intercept); several left-hand variables (``f1 + f2 ~ x``); statements
separated by newlines or ``;``; a statement continued over lines that end in ``+`` or
``*`` (or start with ``+``); comments after ``#`` or ``!``; modifiers before a variable joined
by ``*``: a number fixes the parameter (``1*x1``, ``0*f2``), ``NA`` frees it (``NA*x1``), a
name labels it (``a*x2``; equal labels mean equal parameters), ``start(0.5)`` gives a start
value, and ``c(...)`` gives one modifier per group (``c(a, b)*x2``, ``c(1, NA)*x1``).
Constraints (``==``, ``<``, ``>``, ``:=``) and thresholds (``|``) are rejected with a message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import PeerscaleError

OPERATORS = ("=~", "~~", "~")
_NAME = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


@dataclass
class Modifier:
    """What one group's modifier says: ``fixed`` value, ``free`` forced (``NA``), ``label``,
    ``start`` value. All None means "no modifier"."""

    fixed: float | None = None
    free: bool = False
    label: str | None = None
    start: float | None = None


@dataclass
class Term:
    """One parameter statement: ``lhs op rhs`` with modifiers (one per group when ``c()`` was
    used, else a single one applying to all groups). ``rhs == "1"`` for an intercept."""

    lhs: str
    op: str
    rhs: str
    modifiers: list[Modifier] = field(default_factory=lambda: [Modifier()])

    def modifier(self, group: int) -> Modifier:
        if len(self.modifiers) == 1:
            return self.modifiers[0]
        if group >= len(self.modifiers):
            raise PeerscaleError(f"'{self.lhs} {self.op} {self.rhs}' has {len(self.modifiers)} "
                                 f"c() modifiers but the data have more groups",
                                 hint="give one modifier per group")
        return self.modifiers[group]


def _statements(text: str) -> list[str]:
    lines = []
    for raw in text.replace("\r", "\n").split("\n"):
        line = re.split(r"[#!]", raw, maxsplit=1)[0]
        lines.extend(part.strip() for part in line.split(";"))
    out: list[str] = []
    for line in lines:
        if not line:
            continue
        if out and (out[-1].endswith(("+", "*")) or line.startswith(("+", "*"))
                    or not any(op in line for op in OPERATORS)):
            out[-1] = out[-1] + " " + line
        else:
            out.append(line)
    return out


def _split_top(text: str, sep: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts]


def _one_modifier(tok: str, stmt: str) -> Modifier:
    tok = tok.strip()
    if tok == "NA":
        return Modifier(free=True)
    if _NUMBER.match(tok):
        return Modifier(fixed=float(tok))
    m = re.fullmatch(r"start\(\s*([^)]*)\)", tok)
    if m and _NUMBER.match(m.group(1).strip()):
        return Modifier(start=float(m.group(1)))
    m = re.fullmatch(r"label\(\s*[\"']?([A-Za-z_.][A-Za-z0-9_.]*)[\"']?\s*\)", tok)
    if m:
        return Modifier(label=m.group(1))
    if _NAME.match(tok):
        return Modifier(label=tok)
    raise PeerscaleError(f"cannot read the modifier {tok!r} in '{stmt}'",
                         hint="use a number (fixed), NA (free), a label, start(x) or c(...)")


def _merge(a: Modifier, b: Modifier) -> Modifier:
    return Modifier(fixed=b.fixed if b.fixed is not None else a.fixed, free=a.free or b.free,
                    label=b.label or a.label, start=b.start if b.start is not None else a.start)


def _modifiers(mods: list[str], stmt: str) -> list[Modifier]:
    result = [Modifier()]
    for tok in mods:
        m = re.fullmatch(r"c\((.*)\)", tok.strip())
        if m:
            per_group = [_one_modifier(t, stmt) for t in _split_top(m.group(1), ",")]
            if len(result) == 1:
                result = [_merge(result[0], g) for g in per_group]
            elif len(result) == len(per_group):
                result = [_merge(a, b) for a, b in zip(result, per_group)]
            else:
                raise PeerscaleError(f"c() modifiers of different lengths in '{stmt}'")
        else:
            one = _one_modifier(tok, stmt)
            result = [_merge(r, one) for r in result]
    return result


def parse_model(text: str) -> list[Term]:
    """Parse lavaan model syntax into terms (see module docstring)."""
    if not text or not text.strip():
        raise PeerscaleError("the model is empty", hint='write e.g. "F1 =~ x1 + x2 + x3"')
    terms: list[Term] = []
    for stmt in _statements(text):
        for bad in ("==", ":=", "<", ">", "|"):
            if bad in stmt.replace("=~", ""):
                raise PeerscaleError(f"'{bad}' statements are not supported: '{stmt}'",
                                     hint="express equality with shared labels (a*x1 ... a*x2)")
        op = next((o for o in OPERATORS if o in stmt), None)
        if op is None:
            raise PeerscaleError(f"no operator (=~, ~~ or ~) in '{stmt}'",
                                 hint='write e.g. "F1 =~ x1 + x2 + x3"')
        lhs_text, rhs_text = stmt.split(op, 1)
        lhs_vars = [v.strip() for v in lhs_text.split("+")]
        for v in lhs_vars:
            if not _NAME.match(v):
                raise PeerscaleError(f"left-hand side {v!r} is not a variable name in '{stmt}'")
        rhs_terms = _split_top(rhs_text, "+")
        if not rhs_terms or any(t == "" for t in rhs_terms):
            raise PeerscaleError(f"empty term on the right of '{op}' in '{stmt}'")
        for rt in rhs_terms:
            pieces = _split_top(rt, "*")
            var = pieces[-1].strip()
            if op == "~" and var == "1":
                pass
            elif not _NAME.match(var):
                raise PeerscaleError(f"{var!r} is not a variable name in '{stmt}'")
            mods = _modifiers(pieces[:-1], stmt)
            for lv in lhs_vars:
                if op == "=~" and var == "1":
                    raise PeerscaleError(f"'=~ 1' makes no sense in '{stmt}'")
                terms.append(Term(lhs=lv, op=op, rhs=var,
                                  modifiers=[Modifier(**vars(m)) for m in mods]))
    return terms
