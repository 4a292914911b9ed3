"""Format-neutral building blocks of the report (headings, paragraphs, tables, figures, code)
and the number formats every section uses. :mod:`peerscale.report.html` and
:mod:`peerscale.report.markdown` render them.

Text in paragraphs and table cells may use two bits of inline markup, ```code``` and
``**bold**``; renderers translate them. Figures carry their data (``kind`` and ``data``),
a short ``label`` (alt text), a ``desc`` that states the numbers in words, and a caption.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

DASH = "–"
SCREE_MAX = 24


@dataclass
class Heading:
    level: int
    text: str
    id: str


@dataclass
class Para:
    text: str
    style: str = ""  # "", "note", "draft", "lead", "methods"


@dataclass
class Table:
    caption: str
    header: list[str]
    rows: list[list[str]]
    numeric: set[int] = field(default_factory=set)


@dataclass
class Figure:
    kind: str  # "histogram", "diverging", "scree"
    data: dict
    label: str
    desc: str
    caption: str
    name: str  # file-name stem for PNG output
    grid: bool = False  # small multiples: HTML lays them out side by side


@dataclass
class Bullets:
    items: list[str]  # each may use the inline markup of Para


@dataclass
class Code:
    text: str
    summary: str | None = None  # collapsible with this summary (HTML <details>)


@dataclass
class Section:
    id: str
    title: str
    blocks: list = field(default_factory=list)


# --------------------------------------------------------------------------- formatting

def f2(x, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return DASH
    return f"{x:.{digits}f}"


def pct(x) -> str:
    return DASH if x is None else f"{x:.1f}%"


def count(x) -> str:
    return DASH if x is None else f"{int(x):,}"


def pvalue(p) -> str:
    if p is None or not math.isfinite(p):
        return DASH
    return "< .001" if p < 0.001 else f"{p:.3f}".lstrip("0")


def p_is(p) -> str:
    """``p < .001`` or ``p = .012``."""
    text = pvalue(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in str(text).lower()).strip("-")
