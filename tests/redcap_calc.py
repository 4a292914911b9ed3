"""A small evaluator for REDCap calc expressions, for the tests: a tokenizer and a
recursive-descent parser (never Python's eval), implementing the subset peerscale writes.

The semantics follow REDCap's documented calc behaviour, taking the cautious reading where
the documentation leaves room:

* ``[field]`` is the record's raw value: a number when it reads as one, ``''`` when blank,
  otherwise text (a choice code such as ``UNK`` or a project missing-data code).
* Arithmetic (``+ - * / ^``, unary minus) on a blank or text operand gives NaN, as REDCap's
  calculations do for blank fields; a NaN result leaves the calc field blank.
* ``=``, ``<>``/``!=`` compare numbers as numbers, anything else as text (``[x] = ''`` is
  true for a blank). ``< <= > >=`` convert both sides as JavaScript's ``Number()`` does, so a
  blank compares as 0: the cautious reading, which is why peerscale guards with ``[x] = ''``.
* ``mean()`` and ``sum()`` skip blank, text and NaN arguments (REDCap: "blank values are
  ignored"); ``mean()`` of nothing is NaN. ``if(c, a, b)``, ``abs(x)``, ``round(x, d)``,
  ``isblankormissingcode(x)`` (blank, or one of the project's missing-data codes).
"""

from __future__ import annotations

import math
import re

TOKEN = re.compile(r"""\s*(?:
    (?P<num>\d+\.\d*|\.\d+|\d+)
  | (?P<str>'[^']*'|"[^"]*")
  | (?P<field>\[[a-z][a-z0-9_]*\])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|<>|!=|=|<|>|\+|-|\*|/|\^|\(|\)|,)
)""", re.X)


class CalcError(ValueError):
    pass


def tokenize(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise CalcError(f"cannot read {text[pos:pos + 20]!r}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def number(v, blank: float = 0.0) -> float:
    """JavaScript Number(): blank -> 0, numeric text -> its value, other text -> NaN."""
    if isinstance(v, (bool, float)):
        return float(v)
    if v == "":
        return blank
    try:
        return float(v)
    except ValueError:
        return math.nan


def arith(v) -> float:
    """An arithmetic operand: blank and text give NaN (a calc with a blank field is blank)."""
    return number(v, blank=math.nan)


def _is_blank(v) -> bool:
    return v == "" or (isinstance(v, float) and math.isnan(v))


class Parser:
    """Expression text -> a tree of tuples: ("num", v), ("str", s), ("field", name),
    ("op", symbol, left, right), ("neg", x), ("call", name, [args])."""

    def __init__(self, tokens):
        self.t, self.i = tokens, 0

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else (None, None)

    def take(self, value=None):
        tok = self.peek()
        if tok[0] is None or (value is not None and tok[1].lower() != value):
            raise CalcError(f"expected {value!r}, found {tok[1]!r}")
        self.i += 1
        return tok

    def parse(self):
        node = self.binary(0)
        if self.i != len(self.t):
            raise CalcError(f"unexpected {self.peek()[1]!r}")
        return node

    LEVELS = [("or",), ("and",), ("=", "<>", "!=", "<", "<=", ">", ">="), ("+", "-"), ("*", "/")]

    def binary(self, level):
        if level == len(self.LEVELS):
            return self.power()
        node = self.binary(level + 1)
        while True:
            kind, text = self.peek()
            if kind in ("op", "name") and text is not None and text.lower() in self.LEVELS[level]:
                self.take()
                node = ("op", text.lower(), node, self.binary(level + 1))
                if level == 2:  # comparisons do not chain
                    return node
            else:
                return node

    def power(self):
        node = self.unary()
        if self.peek() == ("op", "^"):
            self.take()
            node = ("op", "^", node, self.power())
        return node

    def unary(self):
        if self.peek() in (("op", "-"), ("op", "+")):
            sign = self.take()[1]
            inner = self.unary()
            return ("neg", inner) if sign == "-" else ("pos", inner)
        return self.primary()

    def primary(self):
        kind, text = self.peek()
        if kind == "num":
            self.take()
            return ("num", float(text))
        if kind == "str":
            self.take()
            return ("str", text[1:-1])
        if kind == "field":
            self.take()
            return ("field", text[1:-1])
        if kind == "op" and text == "(":
            self.take()
            node = self.binary(0)
            self.take(")")
            return node
        if kind == "name" and text.lower() not in ("and", "or"):
            self.take()
            self.take("(")
            args = []
            if self.peek() != ("op", ")"):
                args.append(self.binary(0))
                while self.peek() == ("op", ","):
                    self.take()
                    args.append(self.binary(0))
            self.take(")")
            fn = text.lower()
            if fn not in FUNCTIONS or (fn == "if" and len(args) != 3):
                raise CalcError(f"unknown function or wrong arguments: {text}({len(args)} arguments)")
            return ("call", fn, args)
        raise CalcError(f"unexpected {text!r}")


FUNCTIONS = {"if", "mean", "sum", "abs", "round", "isblankormissingcode"}


def _truthy(v) -> bool:
    return bool(v) and not (isinstance(v, float) and math.isnan(v))


def _compare(op, a, b) -> bool:
    if op in ("=", "<>", "!="):
        if not _is_blank(a) and not _is_blank(b) and not math.isnan(number(a)) and not math.isnan(number(b)):
            same = number(a) == number(b)
        else:
            same = ("" if _is_blank(a) else str(a)) == ("" if _is_blank(b) else str(b))
        return same if op == "=" else not same
    x, y = number(a), number(b)
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


def _run(node, record: dict, missing: set):
    kind = node[0]
    if kind in ("num", "str"):
        return node[1]
    if kind == "field":
        if node[1] not in record:
            raise CalcError(f"unknown field {node[1]!r}")
        return record[node[1]]
    if kind == "neg":
        return -arith(_run(node[1], record, missing))
    if kind == "pos":
        return arith(_run(node[1], record, missing))
    if kind == "op":
        op = node[1]
        if op == "or":
            return _truthy(_run(node[2], record, missing)) or _truthy(_run(node[3], record, missing))
        if op == "and":
            return _truthy(_run(node[2], record, missing)) and _truthy(_run(node[3], record, missing))
        a, b = _run(node[2], record, missing), _run(node[3], record, missing)
        if op in ("=", "<>", "!=", "<", "<=", ">", ">="):
            return _compare(op, a, b)
        x, y = arith(a), arith(b)
        if op == "+":
            return x + y
        if op == "-":
            return x - y
        if op == "*":
            return x * y
        if op == "/":
            return x / y if y != 0 else math.nan
        return x ** y
    fn, args = node[1], node[2]
    if fn == "if":
        return _run(args[1] if _truthy(_run(args[0], record, missing)) else args[2], record, missing)
    vals = [_run(a, record, missing) for a in args]
    if fn in ("mean", "sum"):
        total, count = 0.0, 0
        for v in vals:
            x = math.nan if _is_blank(v) else arith(v)
            if not math.isnan(x):
                total += x
                count += 1
        if fn == "sum":
            return total
        return total / count if count else math.nan
    if fn == "abs":
        return abs(arith(vals[0]))
    if fn == "round":
        return round(arith(vals[0]), int(arith(vals[1])) if len(vals) > 1 else 0)
    v = vals[0]  # isblankormissingcode
    return _is_blank(v) or (isinstance(v, str) and v in missing)


def parse(expression: str):
    """Parse a calc expression once (evaluate it on many records with :func:`evaluate`)."""
    return Parser(tokenize(expression)).parse()


def evaluate(expression, record: dict, missing_codes=()) -> float | str:
    """The value of a calc expression (text or a :func:`parse` tree) for one record: a float,
    or '' (blank)."""
    tree = parse(expression) if isinstance(expression, str) else expression
    v = _run(tree, record, set(missing_codes))
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if _is_blank(v):
        return ""
    v = arith(v)
    return "" if math.isnan(v) else v


def field_value(raw) -> str:
    """A raw REDCap value as a calc sees it: its text ('' when blank)."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)) or str(raw).strip() == "":
        return ""
    if isinstance(raw, (int, float)):
        return format(float(raw), "g") if float(raw).is_integer() else repr(float(raw))
    return str(raw).strip()


def run_calcs(fields, record: dict, missing_codes=()) -> dict:
    """Evaluate the calc fields in dictionary order (later calcs see earlier results). ``fields``
    are dictionary fields or (name, parsed tree) pairs."""
    rec = {k: field_value(v) for k, v in record.items()}
    for f in fields:
        if isinstance(f, tuple):
            rec[f[0]] = evaluate(f[1], rec, missing_codes)
        elif f.field_type == "calc":
            rec[f.field_name] = evaluate(f.select_choices_or_calculations, rec, missing_codes)
    return rec
