"""Render the report as Markdown with PNG figures in a ``<name>_files/`` folder beside it.

The blocks are those of the HTML report (:mod:`peerscale.report.document`); figures are
drawn with matplotlib (imported here, only when a Markdown report is asked for) in the same
Okabe–Ito colours, dashes and markers as the SVG charts.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote

from ..errors import PeerscaleError
from . import svg
from .blocks import Bullets, Code, Figure, Heading, Para, Table
from .document import document

_MARKUP = re.compile(r"`([^`]+)`|\*\*(.+?)\*\*")
_PUNCT = re.compile(r"([\\`*\[\]|~])")
_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


def _escape(text: str) -> str:
    """Text as Markdown shows it literally: HTML characters as entities (no tag survives),
    Markdown punctuation backslash-escaped (no link, image, emphasis or code from data);
    an underscore inside a word (``pbr_y_share_01``) is left alone, as CommonMark does."""
    text = re.sub(r"\s*\n\s*", " ", str(text))
    text = re.sub(r"&(?=#?\w+;)", "&amp;", text).replace("<", "&lt;").replace(">", "&gt;")
    text = _PUNCT.sub(r"\\\1", text)
    return _UNDERSCORE.sub(r"\\_", text)


def _code_span(text: str, in_table: bool) -> str:
    text = re.sub(r"\s*\n\s*", " ", text)
    if in_table:
        text = text.replace("|", "\\|")
    fence = "`" * (max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_inline(text, in_table: bool = False) -> str:
    """A block's text (which may use ```code``` and ``**bold**``, see :mod:`.document`) as safe
    Markdown: everything else, including the labels, event names and file names the data
    brought, is escaped, so ``<script>`` prints as text."""
    text = str(text)
    out, pos = [], 0
    for m in _MARKUP.finditer(text):
        out.append(_escape(text[pos:m.start()]))
        if m.group(1) is not None:
            out.append(_code_span(m.group(1), in_table))
        else:
            out.append("**" + _escape(m.group(2)) + "**")
        pos = m.end()
    out.append(_escape(text[pos:]))
    return "".join(out)


def _para(text: str) -> str:
    """A paragraph that cannot start a heading, list, quote or HTML block."""
    body = md_inline(text)
    return "\\" + body if re.match(r"^(#|>|[-+=]|\d+[.)])", body) else body


def _cell(text: str) -> str:
    return md_inline(text, in_table=True)


def _fence(text: str) -> str:
    return "`" * max(3, max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)


def table_md(t: Table) -> str:
    head = [_cell(h) or " " for h in t.header]
    align = ["---:" if j in t.numeric else "---" for j in range(len(head))]
    lines = [f"*{md_inline(t.caption)}*", "", "| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in t.rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------- PNG figures

def _png(f: Figure, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    d = f.data
    if f.kind == "path_diagram":
        from .mediation_section import path_png
        path_png(d, path)
        return
    if f.kind == "histogram":
        fig, ax = plt.subplots(figsize=(6.4, 2.6), dpi=110)
        edges = d["edges"]
        ax.bar(edges[:-1], d["counts"], width=[b - a for a, b in zip(edges[:-1], edges[1:])], align="edge",
               color=svg.BLUE, edgecolor="white", linewidth=0.6)
        for c in d["cuts"]:
            ax.axvline(c, color=svg.VERMILLION, linestyle="--", linewidth=1.2)
        if d["mean"] is not None:
            ax.axvline(d["mean"], color=svg.INK, linewidth=1.8, label=f"mean {d['mean']:.2f}")
            ax.legend(frameon=False, fontsize=8, loc="upper left")
        ax.set_xlabel(d["xlabel"])
        ax.set_ylabel("respondents")
        ax.set_xlim(edges[0], edges[-1])
    elif f.kind == "diverging":
        rows, cats = d["rows"], d["categories"]
        colours = svg.diverging_palette(len(cats))
        labels = [svg.wrap_label(r[3], svg.LABEL_CHARS, svg.LABEL_LINES) + [f"{r[0]} (R)" if r[2] else r[0]]
                  if len(r) > 3 and r[3] else [f"{r[0]} (R)" if r[2] else r[0]] for r in rows]
        lines = max(len(x) for x in labels)
        fig, ax = plt.subplots(figsize=(9.6 if lines > 1 else 7.2, 0.9 + 0.16 * lines * len(rows) + 0.14 * len(rows)),
                               dpi=110)
        n, mid = len(cats), len(cats) // 2
        for k, (name, counts, *_) in enumerate(rows):
            total = sum(counts) or 1
            p = [100.0 * c / total for c in counts]
            left = -(sum(p[:mid]) + (p[mid] / 2 if n % 2 else 0.0))
            y = len(rows) - 1 - k
            for j, v in enumerate(p):
                ax.barh(y, v, left=left, color=colours[j], edgecolor="white", linewidth=0.4,
                        label=cats[j] if k == 0 else None, height=0.7)
                left += v
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels(["\n".join(x) for x in labels][::-1], fontsize=7 if lines > 1 else 8)
        ax.axvline(0, color=svg.INK, linewidth=0.8)
        ax.set_xlim(-100, 100)
        ax.set_xticks([-100, -50, 0, 50, 100])
        ax.set_xticklabels(["100%", "50%", "0", "50%", "100%"])
        ax.legend(ncol=min(n, 5), fontsize=7, frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    elif f.kind == "scree":
        fig, ax = plt.subplots(figsize=(6.4, 2.8), dpi=110)
        xs = range(1, len(d["observed"]) + 1)
        ax.plot(xs, d["observed"], color=svg.BLUE, marker="o", markersize=3.5, label=d["observed_name"])
        ax.plot(xs, d["reference"], color=svg.VERMILLION, linestyle="--", marker="^", markersize=4,
                label=d["reference_name"])
        ax.set_xlabel("factor number")
        ax.set_ylabel("eigenvalue")
        ax.legend(frameon=False, fontsize=8)
    elif f.kind == "irt_information":
        fig, ax = plt.subplots(figsize=(6.4, 2.8), dpi=110)
        ax.plot(d["theta"], d["test"], color=svg.BLUE, label="information")
        ax.plot(d["theta"], d["se"], color=svg.VERMILLION, linestyle="--", label="SE of theta")
        ax.set_xlabel("theta")
        ax.legend(frameon=False, fontsize=8)
    else:
        raise ValueError(f"unknown figure kind {f.kind!r}")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)


# --------------------------------------------------------------------------- document

def render_markdown(r, files_dir: Path, files_ref: str) -> str:
    """The Markdown text; figures are written into ``files_dir`` and linked as ``files_ref/NAME.png``."""
    title, head, sections = document(r)
    out = [f"# {md_inline(title)}", ""]
    used: set[str] = set()

    def emit(b):
        if isinstance(b, Heading):
            out.extend(["#" * b.level + " " + md_inline(b.text), ""])
        elif isinstance(b, Para):
            out.extend([("> " if b.style in ("draft", "methods") else "") + _para(b.text), ""])
        elif isinstance(b, Table):
            out.extend([table_md(b), ""])
        elif isinstance(b, Bullets):
            out.extend([f"- {md_inline(x)}" for x in b.items] + [""])
        elif isinstance(b, Figure):
            name = b.name
            k = 2
            while name in used:
                name, k = f"{b.name}_{k}", k + 1
            used.add(name)
            _png(b, files_dir / f"{name}.png")
            # an HTML block: Markdown is not parsed inside it; brackets as entities all the same
            desc = html.escape(" ".join(str(b.desc).split())).replace("[", "&#91;").replace("]", "&#93;")
            out.extend([f"![{_escape(b.label)}]({quote(files_ref)}/{quote(name)}.png)", "",
                        f"*{md_inline(b.caption)}*", "",
                        f"<details><summary>Figure data</summary>{desc}</details>", ""])
        elif isinstance(b, Code):
            if b.summary:
                out.append(f"{md_inline(b.summary)}:")
                out.append("")
            fence = _fence(b.text)
            out.extend([fence + ("sh" if b.text.startswith("peerscale ") else ""), b.text, fence, ""])

    for b in head:
        emit(b)
    out += ["## Contents", ""] + [f"{k}. [{md_inline(s.title)}](#{s.title.lower()})" for k, s in enumerate(sections, 1)] + [""]
    for s in sections:
        out.extend([f"## {md_inline(s.title)}", ""])
        for b in s.blocks:
            emit(b)
    return "\n".join(out).rstrip() + "\n"


def write_markdown(r, path, *, force: bool = False, protect=()) -> tuple[Path, Path]:
    """Write ``path`` (Markdown) and its figures in ``<stem>_files/`` beside it, atomically:
    figures go to a temporary folder that replaces the old one only once everything is drawn."""
    from ..io.write import atomic_write

    target = Path(path).expanduser()
    files = target.with_name(f"{target.stem}_files")
    if files.exists() and not force:
        raise PeerscaleError("the figures folder already exists", file=str(files),
                             hint="use --force to overwrite it, or choose another path")
    if target.exists() and not force:
        raise PeerscaleError("the output file already exists", file=str(target),
                             hint="use --force to overwrite it, or choose another path")
    if not target.parent.is_dir():
        raise PeerscaleError("the output directory does not exist", file=str(target))
    for p in protect or ():
        try:
            inside = Path(str(p)).expanduser().resolve().is_relative_to(files.resolve())
        except (OSError, ValueError):
            inside = False
        if inside:
            raise PeerscaleError(f"the figures folder holds an input of this run ({p}); refusing to replace it, even "
                                 "with --force", file=str(files), hint="choose another output name")
    if files.exists() and not files.is_dir():
        raise PeerscaleError("the figures folder's name is taken by a file", file=str(files),
                             hint="choose another output name")
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{files.name}.", dir=target.parent))
    try:
        text = render_markdown(r, tmp_dir, files.name)
        written = atomic_write(target, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"), force=force,
                               protect=protect)
        if files.exists():
            shutil.rmtree(files)
        os.chmod(tmp_dir, 0o777 & ~_umask())
        os.replace(tmp_dir, files)
    finally:
        if tmp_dir.exists():
            shutil.rmtree(tmp_dir)
    return written, files


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
