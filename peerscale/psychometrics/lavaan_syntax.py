"""Parse lavaan model syntax (Rosseel 2012) into a list of :class:`Term` rows.

Supported, as lavaan 0.6-14:

- ``=~`` (measured by; a latent variable may be an indicator: higher-order factors),
  ``~`` (regression), ``~~`` (variance/covariance), ``~ 1`` (intercept or mean),
  ``|`` (thresholds of an ordinal item: ``y1 | t1 + t2 + t3``), ``~*~`` (scaling factor of an
  ordinal item's latent response: ``y1 ~*~ y1``);
- ``:=`` (defined parameter, any arithmetic of labels: ``ab := a*b``), ``==`` (equality),
  ``<`` and ``>`` (inequality constraints between expressions of labels);
- several left-hand variables (``f1 + f2 ~ x``); statements separated by newlines or ``;``,
  continued over lines that end in an operator, ``+`` or ``*`` (or start with ``+``);
  comments after ``#`` or ``!``;
- modifiers before a variable joined by ``*``: a number fixes the parameter (``1*x1``),
  ``NA`` frees it (``NA*x1``), a name labels it (``a*x2``; equal labels mean equal
  parameters), ``label("a")``, ``equal("f1=~x2")`` (equal to the parameter with that label or
  lavaan's automatic ``lhs op rhs`` name), ``start(0.5)`` or ``0.5?x1`` give a start value,
  and ``c(...)`` gives one modifier per group (``c(a, b)*x2``, ``c(1, NA)*x1``).

Expressions in ``:=``, ``==``, ``<`` and ``>`` use ``+ - * / ^``, parentheses, numbers, labels,
earlier defined parameters and the functions ``sqrt exp log log10 abs sin cos tan asin acos
atan tanh pnorm qnorm``. Refused, with the operator named: ``<~`` (composites), ``%``
(group weights), block syntax (``group:``, ``level:``), interaction terms (``x1:x2``) and the
modifiers ``lower()``, ``upper()``, ``prior()``, ``efa()`` and ``rv()``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import PeerscaleError

OPERATORS = ("=~", "~~", "~")  # the model operators (kept for callers of the old parser)
# detection order: longer or more specific operators first
_OPS = ("=~", "<~", "~*~", "~~", "==", ":=", "<", ">", "|", "~", "%", ":")
CONSTRAINT_OPS = ("==", "<", ">", ":=")
_NAME = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_REFUSED = {
    "<~": "composite (formative) variables ('<~') are not supported",
    "%": "free group weights ('%') are not supported",
    ":": "block syntax ('group:', 'level:') is not supported",
}


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
    """One statement row: ``lhs op rhs`` with modifiers (one per group when ``c()`` was used,
    else a single one applying to all groups). ``rhs == "1"`` for an intercept, ``"t1"``...
    for a threshold; for ``:=``, ``==``, ``<`` and ``>`` the two sides are expression texts."""

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

    @property
    def is_constraint(self) -> bool:
        return self.op in CONSTRAINT_OPS


def _find_op(stmt: str) -> str | None:
    for op in _OPS:
        if op in stmt:
            if op == ":" and ":=" in stmt:
                continue
            return op
    return None


def _statements(text: str) -> list[str]:
    lines = []
    for raw in text.replace("\r", "\n").split("\n"):
        line = re.split(r"[#!]", raw, maxsplit=1)[0]
        lines.extend(part.strip() for part in line.split(";"))
    out: list[str] = []
    for line in lines:
        if not line:
            continue
        prev_open = out and (out[-1].endswith(("+", "*", "-", "/", "^", "(", ",")) or
                             out[-1].rstrip().endswith(tuple(_OPS)))
        if out and (prev_open or line.startswith(("+", "*", ")")) or _find_op(line) is None):
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
    m = re.fullmatch(r"(label|equal)\(\s*[\"']([^\"']+)[\"']\s*\)", tok)
    if m:
        return Modifier(label=m.group(2).replace(" ", ""))
    m = re.fullmatch(r"(lower|upper|prior|efa|rv)\(.*\)", tok)
    if m:
        hint = {"lower": "write an inequality constraint instead, e.g. 'a > 0' for a labelled parameter",
                "upper": "write an inequality constraint instead, e.g. 'a < 1' for a labelled parameter"}
        raise PeerscaleError(f"the modifier {m.group(1)}() is not supported: '{stmt}'",
                             hint=hint.get(m.group(1), "remove the modifier"))
    if _NAME.match(tok):
        return Modifier(label=tok)
    raise PeerscaleError(f"cannot read the modifier {tok!r} in '{stmt}'",
                         hint="use a number (fixed), NA (free), a label, start(x) or c(...)")


def _merge(a: Modifier, b: Modifier) -> Modifier:
    return Modifier(fixed=b.fixed if b.fixed is not None else a.fixed, free=a.free or b.free,
                    label=b.label or a.label, start=b.start if b.start is not None else a.start)


def _modifiers(mods: list[tuple[str, str]], stmt: str) -> list[Modifier]:
    """``mods``: (token, joiner) pairs, joiner ``*`` or ``?`` (``?``: the number is a start value)."""
    result = [Modifier()]
    for tok, joiner in mods:
        m = re.fullmatch(r"c\((.*)\)", tok.strip())
        if m:
            per_group = [_one_modifier(t, stmt) for t in _split_top(m.group(1), ",")]
            if joiner == "?":
                per_group = [Modifier(start=g.fixed) if g.fixed is not None else g for g in per_group]
            if len(result) == 1:
                result = [_merge(result[0], g) for g in per_group]
            elif len(result) == len(per_group):
                result = [_merge(a, b) for a, b in zip(result, per_group)]
            else:
                raise PeerscaleError(f"c() modifiers of different lengths in '{stmt}'")
        else:
            one = _one_modifier(tok, stmt)
            if joiner == "?":
                if one.fixed is None:
                    raise PeerscaleError(f"'?' needs a number before it (a start value) in '{stmt}'")
                one = Modifier(start=one.fixed)
            result = [_merge(r, one) for r in result]
    return result


def _split_modifiers(term: str) -> tuple[list[tuple[str, str]], str]:
    """``a*b?x`` → ([("a", "*"), ("b", "?")], "x"), splitting at top-level ``*`` and ``?``."""
    pieces, joiners, depth, cur = [], [], 0, ""
    for ch in term:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch in "*?" and depth == 0:
            pieces.append(cur.strip())
            joiners.append(ch)
            cur = ""
        else:
            cur += ch
    return list(zip(pieces, joiners)), cur.strip()


def parse_model(text: str) -> list[Term]:
    """Parse lavaan model syntax into terms (see module docstring).

    Examples
    --------
    >>> from peerscale.psychometrics.lavaan_syntax import parse_model
    >>> [(t.lhs, t.op, t.rhs) for t in parse_model("f =~ x1 + a*x2; ab := a*2")]
    [('f', '=~', 'x1'), ('f', '=~', 'x2'), ('ab', ':=', 'a*2')]
    """
    if not isinstance(text, str) or not text.strip():
        raise PeerscaleError("the model is empty", hint='write e.g. "F1 =~ x1 + x2 + x3"')
    terms: list[Term] = []
    for stmt in _statements(text):
        op = _find_op(stmt)
        if op is None:
            raise PeerscaleError(f"no operator (=~, ~, ~~, |, :=, ==, < or >) in '{stmt}'",
                                 hint='write e.g. "F1 =~ x1 + x2 + x3"')
        if op in _REFUSED:
            raise PeerscaleError(f"{_REFUSED[op]}: '{stmt}'", hint="see the README for the supported lavaan syntax")
        lhs_text, rhs_text = stmt.split(op, 1)
        if op in CONSTRAINT_OPS:
            terms.append(_constraint(lhs_text, op, rhs_text, stmt))
            continue
        if op == "~" and rhs_text.strip() == "":
            raise PeerscaleError(f"empty right-hand side in '{stmt}'")
        lhs_vars = [v.strip() for v in lhs_text.split("+")]
        for v in lhs_vars:
            if not _NAME.match(v):
                raise PeerscaleError(f"left-hand side {v!r} is not a variable name in '{stmt}'")
        rhs_terms = _split_top(rhs_text, "+")
        if not rhs_terms or any(t == "" for t in rhs_terms):
            raise PeerscaleError(f"empty term on the right of '{op}' in '{stmt}'")
        first_new = len(terms)
        for rt in rhs_terms:
            mods, var = _split_modifiers(rt)
            if op == "~" and var == "1":
                pass
            elif ":" in var and op in ("~", "=~", "~~"):
                raise PeerscaleError(f"interaction terms ({var}) are not supported: '{stmt}'",
                                     hint="compute the product as a data column first")
            elif not _NAME.match(var):
                raise PeerscaleError(f"{var!r} is not a variable name in '{stmt}'")
            if op == "|" and not re.fullmatch(r"t\d+", var):
                raise PeerscaleError(f"thresholds are named t1, t2, ...: {var!r} in '{stmt}'")
            if op == "=~" and var == "1":
                raise PeerscaleError(f"'=~ 1' makes no sense in '{stmt}'")
            parsed = _modifiers(mods, stmt)
            for lv in lhs_vars:
                if op == "~*~" and var != lv:
                    raise PeerscaleError(f"a scaling factor ('~*~') relates a variable to itself: '{stmt}'")
                terms.append(Term(lhs=lv, op=op, rhs=var, modifiers=[Modifier(**vars(m)) for m in parsed]))
        # within one statement a repeated variable merges its modifiers, as lavaan does
        # ("f =~ NA*x1 + a*x1", semTools' measEq.syntax output)
        merged: dict = {}
        for t in terms[first_new:]:
            key = (t.lhs, t.op, t.rhs)
            if key in merged:
                a, b = merged[key].modifiers, t.modifiers
                if len(a) == 1 and len(b) > 1:
                    a = a * len(b)
                if len(b) == 1 and len(a) > 1:
                    b = b * len(a)
                if len(a) != len(b):
                    raise PeerscaleError(f"c() modifiers of different lengths in '{stmt}'")
                merged[key].modifiers = [_merge(x, y) for x, y in zip(a, b)]
            else:
                merged[key] = t
        terms[first_new:] = list(merged.values())
    return terms


def _constraint(lhs_text: str, op: str, rhs_text: str, stmt: str) -> Term:
    lhs, rhs = lhs_text.replace(" ", ""), rhs_text.replace(" ", "")
    if not lhs or not rhs:
        raise PeerscaleError(f"'{op}' needs an expression on both sides: '{stmt}'")
    if op == ":=":
        if not _NAME.match(lhs):
            raise PeerscaleError(f"a defined parameter needs a name on the left of ':=': '{stmt}'")
    else:
        Expression(lhs, stmt)
    Expression(rhs, stmt)
    return Term(lhs=lhs, op=op, rhs=rhs, modifiers=[Modifier()])


def model_variables(terms: list[Term]) -> tuple[list[str], list[str]]:
    """(observed, latent) variable names of parsed syntax, in order of appearance (latent:
    left of ``=~``; observed: every other variable named by a model statement)."""
    latent: list[str] = []
    for t in terms:
        if t.op == "=~" and t.lhs not in latent:
            latent.append(t.lhs)
    observed: list[str] = []
    for t in terms:
        if t.is_constraint:
            continue
        names = (t.rhs,) if t.op == "=~" else ((t.lhs,) if t.op in ("|", "~*~") else (t.lhs, t.rhs))
        for v in names:
            if v != "1" and v not in latent and v not in observed:
                observed.append(v)
    return observed, latent


# ---------------------------------------------------------------------------------------
# expressions of labels (:=, ==, <, >)
# ---------------------------------------------------------------------------------------

def _pnorm(x):
    from scipy.special import ndtr
    return ndtr(x)


def _qnorm(x):
    from scipy.special import ndtri
    return ndtri(x)


FUNCTIONS = {"sqrt": np.sqrt, "exp": np.exp, "log": np.log, "log10": np.log10, "abs": np.abs,
             "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos,
             "atan": np.arctan, "tanh": np.tanh, "pnorm": _pnorm, "qnorm": _qnorm}
_IDENT = re.compile(r"[A-Za-z_.][A-Za-z0-9_.]*")


class Expression:
    """An arithmetic expression of parameter labels in R notation (``^`` is a power), checked
    when read and evaluated with :meth:`__call__` on a mapping of names to values."""

    def __init__(self, text: str, stmt: str | None = None):
        self.text = text
        stmt = stmt or text
        names: dict[str, str] = {}

        def sub(m):
            name = m.group(0)
            end = m.end()
            if end < len(text) and text[end] == "(":
                if name not in FUNCTIONS:
                    raise PeerscaleError(f"the function {name}() is not supported in '{stmt}'",
                                         hint=f"use {', '.join(FUNCTIONS)}")
                return name
            if re.fullmatch(r"\d.*", name):
                return name
            key = names.setdefault(name, f"_v{len(names)}")
            return key

        # numbers such as 1e-3 or .5 must not be read as names
        pieces, pos = [], 0
        for m in re.finditer(r"(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|[A-Za-z_.][A-Za-z0-9_.]*", text):
            pieces.append(text[pos:m.start()])
            tok = m.group(0)
            pieces.append(tok if re.fullmatch(r"(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", tok) else sub(m))
            pos = m.end()
        pieces.append(text[pos:])
        py = "".join(pieces).replace("^", "**")
        try:
            tree = ast.parse(py, mode="eval")
        except SyntaxError:
            raise PeerscaleError(f"cannot read the expression {text!r} in '{stmt}'",
                                 hint="use + - * / ^, parentheses, numbers and labels") from None
        for node in ast.walk(tree):
            if isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Name, ast.Load,
                                 ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd)):
                continue
            if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
                continue
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS \
                    and len(node.args) == 1 and not node.keywords:
                continue
            raise PeerscaleError(f"cannot read the expression {text!r} in '{stmt}'",
                                 hint="use + - * / ^, parentheses, numbers, labels and sqrt(), exp(), log() ...")
        self._tree = tree.body
        self._names = {v: k for k, v in names.items()}
        self.names = list(names)

    def __call__(self, values) -> float:
        return self._eval(self._tree, values)

    def _eval(self, node, values):
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id in FUNCTIONS:
                raise PeerscaleError(f"{node.id} is a function, not a label, in '{self.text}'")
            return values[self._names[node.id]]
        if isinstance(node, ast.UnaryOp):
            v = self._eval(node.operand, values)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.Call):
            return FUNCTIONS[node.func.id](self._eval(node.args[0], values))
        a, b = self._eval(node.left, values), self._eval(node.right, values)
        if isinstance(node.op, ast.Add):
            return a + b
        if isinstance(node.op, ast.Sub):
            return a - b
        if isinstance(node.op, ast.Mult):
            return a * b
        if isinstance(node.op, ast.Div):
            return a / b
        return a ** b

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"
