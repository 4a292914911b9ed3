"""Load and validate instruments: item banks (``items/``) and scoring rules (``scoring/``).

An *instrument* is a scoring file (scales, missing-data rules, composites, norms, bands)
plus the item bank it names. Both are YAML (or JSON), read with ``yaml.safe_load`` and
checked on load; every problem is a :class:`~peerscale.errors.PeerscaleError` naming the
file, the key path (``scales[2].items[3]``) and what is wrong. The file format is
described in README.md, "Writing your own instrument".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import PeerscaleError, plain

FORMS = {"Y": "young person", "P": "peer support worker", "S": "supervisor or observer"}
METHODS = ("mean", "sum")
VIEWPOINTS = {
    "self": "the respondent's own feelings or behaviour",
    "other": "the other member of the dyad, as the respondent sees them (on a worker form: a meta-perception)",
    "shared": "the relationship itself, or something both share",
}
# recall code -> the phrase respondents read (REDCap instructions, interview guides)
RECALL = {"now": "as things are now", "last_month": "over the last month (the past 4 weeks)",
          "since_starting": "since starting peer support"}
ID_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.]*$")
SCALE_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def package_dir(name: str) -> Path:
    """Directory of bundled data (``items`` or ``scoring``), installed or in a source tree."""
    here = Path(__file__).resolve().parent
    for candidate in (here / name, here.parent / name):
        if candidate.is_dir():
            return candidate
    raise PeerscaleError(f"bundled {name!r} directory not found beside {here}",
                         hint="reinstall peerscale")


@dataclass(frozen=True)
class ResponseScale:
    """Allowed answers for an item: scored ``codes`` with labels, a declared range, and
    ``missing`` codes (answers that are recorded but never scored, e.g. 9 = "Not relevant to
    me yet") with their meaning."""

    name: str
    label: str = ""
    min: float | None = None
    max: float | None = None
    codes: dict[float, str] = field(default_factory=dict)
    missing: dict[Any, str] = field(default_factory=dict)

    @property
    def has_range(self) -> bool:
        return self.min is not None and self.max is not None

    def reverse(self, x):
        """Reverse-score as (min + max) − x from the *declared* range, never the observed one."""
        return (self.min + self.max) - x


@dataclass(frozen=True)
class Requirement:
    """An item is shown only when the screening ``item`` was answered with one of ``answers``
    (exported as REDCap branching logic; blank otherwise, so it is missing, never scored)."""

    item: str
    answers: tuple

    def redcap_logic(self) -> str:
        """REDCap branching logic, e.g. ``[pbr_y_story_01] = '1'``."""
        field_name = self.item.lower().replace(".", "_")
        return " or ".join(f"[{field_name}] = '{code_text(a)}'" for a in self.answers)


def code_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class ItemPair:
    """Twin items on two forms of one relationship: ``a`` in the first instrument, ``b`` in the second."""

    a: str
    b: str
    dimension_a: str | None = None
    dimension_b: str | None = None
    viewpoint_a: str | None = None
    viewpoint_b: str | None = None
    form_a: str | None = None
    form_b: str | None = None

    @property
    def kind(self) -> str:
        """What agreement between the two answers means.

        ``self-other``: one respondent reports their own feeling or behaviour (viewpoint
        ``self``), the other reports how they see it (``other``); ``shared``: both describe the
        relationship; ``same-view``: both take the same viewpoint (e.g. both ``self``), so the
        pair compares two people's own experience; ``unspecified``: a viewpoint is missing.
        """
        views = (self.viewpoint_a, self.viewpoint_b)
        if None in views:
            return "unspecified"
        if views == ("shared", "shared"):
            return "shared"
        if set(views) == {"self", "other"}:
            return "self-other"
        return "same-view"

    @property
    def target(self) -> str | None:
        """For a ``self-other`` pair, the form whose respondent the items are about (the one
        answering about themselves): ``"P"`` when both describe the worker's behaviour."""
        if self.kind != "self-other":
            return None
        return self.form_a if self.viewpoint_a == "self" else self.form_b


@dataclass(frozen=True)
class Item:
    id: str
    text: str
    response_scale: ResponseScale
    dimension: str | None = None
    form: str | None = None
    reverse: bool = False
    status: str = "draft"
    version: str = ""
    recall_period: str | None = None
    recall: str | None = None
    viewpoint: str | None = None
    pair: str | None = None
    pair_bank: str | None = None
    requires: Requirement | None = None
    anchors: dict[float, str] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Scale:
    """A scale or composite: items with keys (+1 or −1), scoring method and missing-data rule.

    ``min_answered`` below 1 is a proportion of the scale's items, otherwise a count.
    ``prorate`` (sum only): sum of answered items × k / n answered; otherwise the plain sum.
    """

    name: str
    label: str
    items: tuple[str, ...]
    keys: tuple[int, ...]
    method: str = "mean"
    min_answered: float = 0.75
    prorate: bool = True
    composite: bool = False
    of_scales: tuple[str, ...] = ()
    description: str = ""
    higher_is_better: bool = True  # direction of improvement (reliable change); false for symptom scales

    @property
    def required(self) -> int:
        """Fewest answered items that still give a score."""
        k = len(self.items)
        if self.min_answered < 1:
            return max(1, math.ceil(self.min_answered * k - 1e-9))
        return int(self.min_answered)

    def rule_text(self) -> str:
        k = len(self.items)
        items = f"{k} item{'s' if k != 1 else ''}"
        if self.min_answered < 1:
            rule = f"at least {self.min_answered:.0%} of {items} answered ({self.required})"
        else:
            rule = f"at least {self.required} of {items} answered"
        method = self.method if self.method == "mean" else ("prorated sum" if self.prorate else "sum")
        return f"{method}; {rule}"


@dataclass(frozen=True)
class NormTable:
    """Raw score → T score (mean 50, SD 10) with its standard error, e.g. PROMIS-style."""

    raw: tuple[float, ...]
    t: tuple[float, ...]
    se: tuple[float | None, ...]
    interpolate: bool = False
    source: str = ""


@dataclass(frozen=True)
class Band:
    label: str
    min: float
    max: float


@dataclass
class Instrument:
    name: str
    title: str
    version: str
    items: dict[str, Item]
    scales: list[Scale]
    status: str = "draft"
    bank: str | None = None
    description: str = ""
    id_columns: tuple[str, ...] = ()
    dimensions: dict[str, dict] = field(default_factory=dict)
    placeholders: dict[str, str] = field(default_factory=dict)
    instructions: str = ""
    norms: dict[str, NormTable] = field(default_factory=dict)
    bands: dict[str, tuple[str, tuple[Band, ...]]] = field(default_factory=dict)
    path: str | None = None
    bank_path: str | None = None
    recall: str | None = None
    recall_period: str | None = None
    pairs_with: str | None = None
    retired: dict[str, str] = field(default_factory=dict)
    irt: dict = field(default_factory=dict)  # scale name -> peerscale.irt.bank.IRTBank
    population: Any = None  # peerscale.simulation.population.Population (the `population:` block)

    @property
    def forms(self) -> list[str]:
        return sorted({i.form for i in self.items.values() if i.form})

    def scale(self, name: str) -> Scale:
        for s in self.scales:
            if s.name == name:
                return s
        raise PeerscaleError(f"instrument {self.name!r} has no scale {name!r}",
                             hint="scales: " + ", ".join(s.name for s in self.scales))

    @property
    def files(self) -> tuple[str, ...]:
        """The files this instrument was read from (scoring file, item bank): inputs no command
        may write over, even with ``--force``."""
        return tuple(p for p in (self.path, self.bank_path) if p)

    def scale_items(self) -> list[str]:
        """Item ids used by at least one scale, in bank order."""
        used = {i for s in self.scales for i in s.items}
        return [i for i in self.items if i in used]

    def response_scales(self) -> dict[str, ResponseScale]:
        out: dict[str, ResponseScale] = {}
        for item in self.items.values():
            out.setdefault(item.response_scale.name, item.response_scale)
        return out

    def item_text(self, item_id: str) -> str:
        """The item as the respondent reads it: placeholders filled, and a first letter that a
        placeholder supplied ("{psw} listens" -> "My peer support worker listens") capitalised."""
        return self.fill(self.items[item_id].text)

    def fill(self, text: str) -> str:
        """``text`` with this instrument's placeholders filled in (first letter capitalised when
        a placeholder supplied it), as for item texts."""
        out = text
        for key, value in self.placeholders.items():
            out = out.replace("{" + key + "}", value)
        if text.startswith("{") and out[:1].islower():
            out = out[0].upper() + out[1:]
        return out

    def anchor_texts(self, item_id: str) -> dict[float, str]:
        """The item's described levels (``anchors``) as respondents or raters read them."""
        return {code: self.fill(text) for code, text in self.items[item_id].anchors.items()}

    def screening_items(self) -> list[str]:
        """Items that other items' ``requires`` point to (answers gate later items; not scored)."""
        used = {i.requires.item for i in self.items.values() if i.requires}
        return [i for i in self.items if i in used]

    def recall_text(self) -> str:
        """The recall period as respondents read it ("" when the bank states none)."""
        if self.recall_period:
            return self.recall_period
        return RECALL.get(self.recall or "", "")

    def summary(self) -> dict:
        return {"name": self.name, "title": self.title, "version": self.version,
                "status": self.status, "forms": self.forms, "n_items": len(self.items),
                "scales": [s.name for s in self.scales if not s.composite],
                "composites": [s.name for s in self.scales if s.composite],
                "path": self.path}


# --------------------------------------------------------------------------- loading

MAX_SPEC_BYTES = 16 << 20  # the bundled banks are ~30 KB; a larger "spec" is something else
MAX_DEPTH = 64             # the spec format nests 5 levels; deeper YAML is refused before it recurses
MAX_ALIASES = 1000         # anchors/aliases beyond this are a "billion laughs", not a spec
MAX_NODES = 200_000        # values after aliases are expanded (the bundled banks have ~2,000)
MAX_DIGITS = 100           # a longer integer is no code, range or count


@lru_cache(maxsize=None)
def _yaml_loader():
    """yaml.SafeLoader (no Python tags) with YAML 1.2 booleans (only true/false, so a label like
    ``No`` or ``Yes`` stays text), that refuses duplicate keys (naming the key and both lines),
    integers longer than :data:`MAX_DIGITS` digits, nesting deeper than :data:`MAX_DEPTH` and more
    than :data:`MAX_ALIASES` aliases."""
    import yaml
    from yaml.composer import ComposerError
    from yaml.constructor import ConstructorError

    class Loader(yaml.SafeLoader):
        def __init__(self, stream):
            super().__init__(stream)
            self._depth = 0
            self._aliases = 0

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                self._aliases += 1
                if self._aliases > MAX_ALIASES:
                    raise ComposerError(None, None, f"more than {MAX_ALIASES} aliases (*name)",
                                        self.peek_event().start_mark)
            self._depth += 1
            try:
                if self._depth > MAX_DEPTH:
                    raise ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep",
                                        self.peek_event().start_mark)
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

        def get_single_data(self):
            node = self.get_single_node()
            if node is None:
                return None
            self._check_expansion(node)
            return self.construct_document(node)

        def _check_expansion(self, root):
            """Count the values the document holds once aliases are expanded: nine aliases of
            nine aliases... (a "billion laughs") are refused before anything walks them."""
            sizes: dict[int, int] = {}

            def size(node):
                key = id(node)
                if key not in sizes:
                    sizes[key] = 0  # a recursive alias counts once
                    if isinstance(node, yaml.SequenceNode):
                        n = 1 + sum(size(v) for v in node.value)
                    elif isinstance(node, yaml.MappingNode):
                        n = 1 + sum(size(k) + size(v) for k, v in node.value)
                    else:
                        n = 1
                    sizes[key] = n
                if sizes[key] > MAX_NODES:
                    raise ComposerError(None, None, f"its aliases (*name) expand to more than {MAX_NODES:,} values "
                                        "(a YAML bomb)", node.start_mark)
                return sizes[key]

            size(root)

        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen: dict = {}
                for key_node, _value in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                        continue
                    key = self.construct_object(key_node)
                    try:
                        if key in seen:
                            raise ConstructorError(None, None, f"duplicate key {plain(key)} (first on line "
                                                   f"{seen[key] + 1}); a repeated key would silently replace the first",
                                                   key_node.start_mark)
                        seen[key] = key_node.start_mark.line
                    except TypeError:  # an unhashable key: SafeLoader reports it
                        continue
            return super().construct_mapping(node, deep)

        def construct_yaml_int(self, node):
            digits = sum(ch.isdigit() for ch in str(node.value))
            if digits > MAX_DIGITS:
                raise ConstructorError(None, None, f"a number with {digits} digits is too large", node.start_mark)
            return super().construct_yaml_int(node)

    Loader.add_constructor("tag:yaml.org,2002:int", Loader.construct_yaml_int)
    bool_tag = "tag:yaml.org,2002:bool"
    Loader.yaml_implicit_resolvers = {
        ch: [(tag, rx) for tag, rx in resolvers if tag != bool_tag]
        for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    Loader.add_implicit_resolver(bool_tag, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
    return Loader


def _short_quotes(text: str) -> str:
    """YAML's problem text with long quoted fragments of the file cut (messages never echo a file)."""
    return re.sub(r"(['\"])([^'\"]{21,})\1", lambda m: f"{m.group(1)}{m.group(2)[:20]}…{m.group(1)}", text)


def _read_yaml(path: Path) -> Any:
    import yaml

    from .io.source import read_bytes

    raw = read_bytes(path, "scoring file", limit=MAX_SPEC_BYTES)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PeerscaleError(f"not UTF-8 text (byte {exc.start}): not a scoring file", file=str(path)) from None
    if "\x00" in text:
        raise PeerscaleError("holds NUL bytes: a binary file, not a scoring file", file=str(path))
    try:
        return yaml.load(text, Loader=_yaml_loader())  # a SafeLoader: no python tags
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        if "constructor for the tag" in problem:
            problem = "a tag such as !!python/... that a scoring file may not use (they could run code)"
        raise PeerscaleError(f"not valid YAML{where}: {_short_quotes(problem)}", file=str(path)) from None
    except RecursionError:
        raise PeerscaleError(f"nested too deeply (more than {MAX_DEPTH} levels)", file=str(path)) from None
    except ValueError as exc:  # e.g. a base-60 or binary integer too large to convert
        raise PeerscaleError(f"not a valid scoring file: {_short_quotes(str(exc))[:120]}", file=str(path)) from None


def _looks_like(doc, keys: set, path, what: str) -> None:
    """Refuse a document that shares no top-level key with a scoring file or bank, without
    echoing its content (``peerscale show /etc/passwd`` must not print a line of it)."""
    if isinstance(doc, dict) and doc and not any(isinstance(k, str) and k in keys for k in doc):
        raise PeerscaleError(f"not a peerscale {what}: none of its top-level keys is one a {what} uses",
                             file=str(path), hint=f"a {what} has keys such as " + ", ".join(sorted(keys)[:8]))
    if not isinstance(doc, dict):
        kind = "empty" if doc is None else f"a YAML {type(doc).__name__}, not a mapping of keys"
        raise PeerscaleError(f"not a peerscale {what}: the file is {kind}", file=str(path),
                             hint="a scoring file is YAML with keys such as name, items, scales (see README)")


class _Checker:
    """Small helper that knows the file being checked, so every error names it."""

    def __init__(self, path: Path | str):
        self.file = str(path)

    def fail(self, key: str, message: str, hint: str | None = None):
        raise PeerscaleError(message, file=self.file, key=key or None, hint=hint)

    def mapping(self, obj, key, allowed, required=()):
        if not isinstance(obj, dict):
            self.fail(key, f"expected a mapping of keys, got {type(obj).__name__}")
        unknown = [k for k in obj if k not in allowed]
        if unknown:  # before required keys, so a typo ('itemz') is named as such
            self.fail(f"{key}.{unknown[0]}" if key else plain(unknown[0]).strip("'"), f"unknown key {plain(unknown[0])}",
                      hint="allowed keys: " + ", ".join(sorted(allowed)))
        for k in required:
            if k not in obj or obj[k] is None:
                self.fail(key, f"missing required key {k!r}")
        return obj

    def text(self, obj, key, allow_empty=False) -> str:
        if isinstance(obj, (int, float)) and not isinstance(obj, bool):
            obj = str(obj)
        if not isinstance(obj, str) or (not allow_empty and not obj.strip()):
            self.fail(key, f"expected text, got {obj!r}")
        return obj.strip()

    def number(self, obj, key) -> float:
        if isinstance(obj, bool) or not isinstance(obj, (int, float)) or not math.isfinite(obj):
            self.fail(key, f"expected a number, got {obj!r}")
        return float(obj)

    def boolean(self, obj, key) -> bool:
        if not isinstance(obj, bool):
            self.fail(key, f"expected true or false, got {obj!r}")
        return obj

    def seq(self, obj, key) -> list:
        if not isinstance(obj, list):
            self.fail(key, f"expected a list, got {type(obj).__name__}")
        return obj


BANK_KEYS = {"bank", "form", "title", "version", "status", "respondent", "instructions",
             "placeholders", "dimensions", "response_scales", "items", "recall_period",
             "description", "license", "recall", "pairs_with", "retired"}
SCORING_KEYS = {"name", "title", "version", "status", "description", "items", "id_columns",
                "scales", "composites", "norms", "bands", "license", "irt", "population"}
ITEM_KEYS = {"id", "text", "dimension", "form", "response_scale", "reverse", "status",
             "version", "recall_period", "note", "recall", "viewpoint", "pair", "requires", "anchors"}
SCALE_KEYS = {"name", "label", "items", "scales", "method", "min_answered", "prorate",
              "description", "higher_is_better"}
RSCALE_KEYS = {"label", "min", "max", "codes", "missing"}


def _parse_response_scales(chk: _Checker, raw, key="response_scales") -> dict[str, ResponseScale]:
    chk.mapping(raw, key, allowed=set(raw or {}) if isinstance(raw, dict) else set())
    out = {}
    for name, spec in raw.items():
        k = f"{key}.{name}"
        chk.mapping(spec, k, RSCALE_KEYS)
        lo = None if spec.get("min") is None else chk.number(spec["min"], f"{k}.min")
        hi = None if spec.get("max") is None else chk.number(spec["max"], f"{k}.max")
        if (lo is None) != (hi is None):
            chk.fail(k, "declare both min and max, or neither")
        if lo is not None and lo >= hi:
            chk.fail(k, f"min ({lo:g}) must be below max ({hi:g})")
        codes = {}
        for code, label in (spec.get("codes") or {}).items():
            value = chk.number(code, f"{k}.codes.{code}")
            if lo is not None and not lo <= value <= hi:
                chk.fail(f"{k}.codes.{code}", f"code {code} lies outside the declared range {lo:g} to {hi:g}")
            codes[value] = chk.text(label, f"{k}.codes.{code}")
        if spec.get("codes") is not None and not codes:
            chk.fail(f"{k}.codes", "no codes listed")
        if codes and lo is None:
            lo, hi = min(codes), max(codes)
        missing = {}
        for code, meaning in (spec.get("missing") or {}).items():
            if isinstance(code, (int, float)) and not isinstance(code, bool) and float(code) in codes:
                chk.fail(f"{k}.missing.{code}", f"code {code} is both a scored code and a missing code")
            missing[code] = chk.text(meaning, f"{k}.missing.{code}")
        out[str(name)] = ResponseScale(str(name), chk.text(spec.get("label", name), f"{k}.label"),
                                       lo, hi, codes, missing)
    return out


def _recall_code(chk: _Checker, value, key: str) -> str | None:
    if value is None:
        return None
    code = re.sub(r"[\s-]+", "_", chk.text(value, key).lower())
    if code not in RECALL:
        chk.fail(key, f"recall must be one of {', '.join(RECALL)}, got {value!r}",
                 hint="now: the relationship as it is; last_month: the past 4 weeks; since_starting: since peer support began")
    return code


def _split_pair(ref: str) -> tuple[str | None, str]:
    """``"pbr-y:pbr_y_share_01"`` -> ("pbr-y", "pbr_y_share_01"); ``"pbr_y_share_01"`` -> (None, ...)."""
    bank, sep, iid = ref.rpartition(":")
    return (bank.strip() or None, iid.strip()) if sep else (None, ref.strip())


def _parse_requires(chk: _Checker, raw, key: str):
    if isinstance(raw, str):  # "item=1" or "item = 1,2"
        name, sep, answers = raw.partition("=")
        if not sep:
            chk.fail(key, f"requires {raw!r} names no answer", hint="write requires: {item: SCREEN_ID, answer: 1}")
        raw = {"item": name.strip(), "answer": [a.strip() for a in answers.split(",") if a.strip()]}
    chk.mapping(raw, key, {"item", "answer"}, required=("item", "answer"))
    answers = raw["answer"] if isinstance(raw["answer"], list) else [raw["answer"]]
    if not answers:
        chk.fail(f"{key}.answer", "requires names no answer")
    return chk.text(raw["item"], f"{key}.item"), answers


def _parse_anchors(chk: _Checker, raw, key: str, rs: ResponseScale) -> dict[float, str]:
    chk.mapping(raw, key, allowed=set(raw) if isinstance(raw, dict) else set())
    if not rs.codes:
        chk.fail(key, f"anchors need a response scale with codes; {rs.name!r} has none")
    anchors = {}
    for code, text in raw.items():
        value = chk.number(code, f"{key}.{code}")
        if value not in rs.codes:
            chk.fail(f"{key}.{code}", f"anchor for {code}, which is not a code of response scale {rs.name!r}",
                     hint="codes: " + ", ".join(code_text(c) for c in rs.codes))
        anchors[value] = chk.text(text, f"{key}.{code}")
    missing = [c for c in rs.codes if c not in anchors]
    if missing:
        chk.fail(key, "anchors must describe every code; none for " + ", ".join(code_text(c) for c in missing))
    return anchors


def _code_of(chk: _Checker, rs: ResponseScale, answer, key: str):
    """The response-scale code an answer names (a scored or missing code, or a label)."""
    for code, label in list(rs.codes.items()) + list(rs.missing.items()):
        if isinstance(answer, str) and answer.strip().lower() == str(label).strip().lower():
            return code
        try:
            if float(answer) == float(code):
                return code
        except (TypeError, ValueError):
            if str(answer).strip() == str(code):
                return code
    chk.fail(key, f"answer {answer!r} is not a code of response scale {rs.name!r}",
             hint="codes: " + ", ".join(f"{code_text(c)} = {v}" for c, v in list(rs.codes.items()) + list(rs.missing.items())))


def _parse_bank(chk: _Checker, doc: dict, inline: bool, base: Path | None = None,
                resolve_pairs: bool = True, own: str | None = None) -> dict:
    """Items, response scales, dimensions and bank metadata from a bank document.

    ``base`` is the directory a ``pairs_with`` bank is looked up in (beside this bank, then the
    bundled ``items/``); with ``resolve_pairs`` every ``pair`` must name an item of that bank.
    """
    if not inline:
        chk.mapping(doc, "", BANK_KEYS, required=("items", "response_scales"))
    scales = _parse_response_scales(chk, doc.get("response_scales") or {})
    if not scales:
        chk.fail("response_scales", "no response scales declared")
    dims = doc.get("dimensions") or {}
    chk.mapping(dims, "dimensions", allowed=set(dims) if isinstance(dims, dict) else set())
    dimensions = {}
    for code, d in dims.items():
        if isinstance(d, str):
            d = {"label": d}
        chk.mapping(d, f"dimensions.{code}", {"label", "optional", "definition", "candidate"})
        dimensions[str(code)] = {"label": str(d.get("label", code)), "optional": bool(d.get("optional", False)),
                                 "definition": str(d.get("definition", ""))}
        if "candidate" in d:
            dimensions[str(code)]["candidate"] = chk.boolean(d["candidate"], f"dimensions.{code}.candidate")
    bank_form = doc.get("form")
    if bank_form is not None and bank_form not in FORMS:
        chk.fail("form", f"form must be one of {', '.join(FORMS)}, got {bank_form!r}")
    bank_recall = _recall_code(chk, doc.get("recall"), "recall")
    retired = _parse_retired(chk, doc.get("retired"))
    pairs_with = None if doc.get("pairs_with") is None else chk.text(doc["pairs_with"], "pairs_with")
    items: dict[str, Item] = {}
    raw_items = chk.seq(doc["items"], "items")
    for n, raw in enumerate(raw_items):
        k = f"items[{n}]"
        chk.mapping(raw, k, ITEM_KEYS, required=("id", "text", "response_scale"))
        iid = chk.text(raw["id"], f"{k}.id")
        if not ID_PATTERN.match(iid):
            chk.fail(f"{k}.id", f"item id {iid!r} must start with a letter and hold only letters, digits, '_' or '.'")
        if iid in items:
            chk.fail(f"{k}.id", f"duplicate item id {iid!r}")
        if iid in retired:
            chk.fail(f"{k}.id", f"item id {iid!r} was retired ({retired[iid]}); ids of removed items are never reused",
                     hint="give the item a new id")
        rs = chk.text(raw["response_scale"], f"{k}.response_scale")
        if rs not in scales:
            chk.fail(f"{k}.response_scale", f"unknown response scale {rs!r}",
                     hint="declared: " + ", ".join(scales))
        dim = raw.get("dimension")
        if dim is not None and dimensions and str(dim) not in dimensions:
            chk.fail(f"{k}.dimension", f"unknown dimension {dim!r}", hint="declared: " + ", ".join(dimensions))
        form = raw.get("form", bank_form)
        if form is not None and form not in FORMS:
            chk.fail(f"{k}.form", f"form must be one of {', '.join(FORMS)}, got {form!r}")
        reverse = chk.boolean(raw.get("reverse", False), f"{k}.reverse")
        if reverse and not scales[rs].has_range:
            chk.fail(f"{k}.reverse", f"item {iid!r} is reverse-keyed but response scale {rs!r} declares no min and max",
                     hint="declare min and max on the response scale; reverse scoring uses (min + max) - x")
        viewpoint = raw.get("viewpoint")
        if viewpoint is not None and viewpoint not in VIEWPOINTS:
            chk.fail(f"{k}.viewpoint", f"viewpoint must be one of {', '.join(VIEWPOINTS)}, got {viewpoint!r}",
                     hint="; ".join(f"{v}: {d}" for v, d in VIEWPOINTS.items()))
        requires = None
        if raw.get("requires") is not None:
            screen, answers = _parse_requires(chk, raw["requires"], f"{k}.requires")
            if screen == iid:
                chk.fail(f"{k}.requires.item", f"item {iid!r} cannot require itself")
            if screen not in items:
                later = any(isinstance(r, dict) and r.get("id") == screen for r in raw_items)
                chk.fail(f"{k}.requires.item",
                         f"screening item {screen!r} " + ("comes after this item" if later else "is not in the item bank"),
                         hint="the screening question must be asked first: list it above the items that require it")
            screen_rs = items[screen].response_scale
            codes = tuple(_code_of(chk, screen_rs, a, f"{k}.requires.answer") for a in answers)
            requires = Requirement(screen, tuple(dict.fromkeys(codes)))
        pair = pair_bank = None
        if raw.get("pair") is not None:
            pair_bank, pair = _split_pair(chk.text(raw["pair"], f"{k}.pair"))
            if not ID_PATTERN.match(pair):
                chk.fail(f"{k}.pair", f"pair {raw['pair']!r} is not an item id")
            pair_bank = pair_bank or pairs_with
        anchors = {} if raw.get("anchors") is None else _parse_anchors(chk, raw["anchors"], f"{k}.anchors", scales[rs])
        recall = _recall_code(chk, raw.get("recall"), f"{k}.recall") or bank_recall
        items[iid] = Item(
            id=iid, text=chk.text(raw["text"], f"{k}.text"), response_scale=scales[rs],
            dimension=None if dim is None else str(dim), form=form, reverse=reverse,
            status=str(raw.get("status", doc.get("status", "draft"))),
            version=str(raw.get("version", doc.get("version", ""))),
            recall_period=raw.get("recall_period", doc.get("recall_period")) or RECALL.get(recall or ""),
            recall=recall,
            viewpoint=viewpoint, pair=pair, pair_bank=pair_bank, requires=requires, anchors=anchors,
            note=str(raw.get("note") or ""),
        )
    if not items:
        chk.fail("items", "the item bank lists no items")
    if resolve_pairs:
        _check_pairs(chk, items, base, own)
    placeholders = doc.get("placeholders") or {}
    chk.mapping(placeholders, "placeholders", allowed=set(placeholders) if isinstance(placeholders, dict) else set())
    return {"items": items, "dimensions": dimensions, "bank": doc.get("bank"),
            "placeholders": {str(a): str(b) for a, b in placeholders.items()},
            "instructions": str(doc.get("instructions") or ""), "recall": bank_recall,
            "recall_period": doc.get("recall_period") or RECALL.get(bank_recall or ""), "pairs_with": pairs_with,
            "retired": retired}


def _parse_retired(chk: _Checker, raw) -> dict[str, str]:
    """``retired: {old_id: "0.2.0: reason"}`` (or a list of ids): ids that must never come back."""
    if raw is None:
        return {}
    if isinstance(raw, list):
        raw = {chk.text(x, f"retired[{j}]"): "" for j, x in enumerate(raw)}
    chk.mapping(raw, "retired", allowed=set(raw) if isinstance(raw, dict) else set())
    return {str(k): ("" if v is None else chk.text(v, f"retired.{k}", allow_empty=True)) for k, v in raw.items()}


def _partner_path(ref: str, base: Path | None, own: str | None) -> Path | None:
    """A bank named by ``pairs_with`` or a ``BANK:ID`` pair: a path or stem beside this bank,
    then a bundled bank; None when nothing matches."""
    ref_path = Path(ref)
    candidates = []
    if base is not None:
        candidates += [base / ref_path, base / f"{ref}.yaml"]
    candidates += [package_dir("items") / ref_path, package_dir("items") / f"{ref}.yaml"]
    for c in candidates:
        if c.is_file() and (own is None or c.resolve() != Path(own).resolve()):
            return c
    return None


@lru_cache(maxsize=64)
def _partner_items(path: str, mtime_ns: int) -> dict[str, Item]:
    """The items of a paired bank, parsed without resolving its own pairs (no recursion)."""
    doc = _read_yaml(Path(path))
    _looks_like(doc, BANK_KEYS, path, "item bank")
    return _parse_bank(_Checker(path), doc, inline=False, resolve_pairs=False)["items"]


def _check_pairs(chk: _Checker, items: dict[str, Item], base: Path | None, own: str | None = None) -> None:
    """Every ``pair`` must resolve to an item of the other bank (or this one), one-to-one, on
    the same score range, and must not contradict the twin's own ``pair``."""
    taken: dict[tuple, str] = {}
    keys = {iid: f"items[{n}].pair" for n, iid in enumerate(items)}
    for iid, item in items.items():
        if item.pair is None:
            continue
        key = keys[iid]
        if item.pair_bank is None:
            other_items, where = items, "this bank"
            if item.pair == iid:
                chk.fail(key, f"item {iid!r} cannot be its own pair")
        else:
            path = _partner_path(item.pair_bank, base, own)
            if path is None:
                chk.fail(key, f"paired bank {item.pair_bank!r} not found (looked beside this bank and in the bundled items/)",
                         hint="set pairs_with: to the other form's bank file or bundled name, e.g. pairs_with: pbr-y")
            try:
                other_items = _partner_items(str(path.resolve()), path.stat().st_mtime_ns)
            except PeerscaleError as exc:
                chk.fail(key, f"paired bank {item.pair_bank!r} does not load: {exc}")
            where = f"bank {item.pair_bank!r} ({path})"
        twin = other_items.get(item.pair)
        if twin is None:
            close = [i for i in other_items if i.split("_")[:-1] == item.pair.split("_")[:-1]][:5]
            chk.fail(key, f"pair {item.pair!r} is not an item of {where}",
                     hint=("items of that dimension: " + ", ".join(close)) if close else None)
        if twin.pair is not None and _split_pair(twin.pair)[1] != iid:
            chk.fail(key, f"item {iid!r} names {item.pair!r} as its pair, but {item.pair!r} names {twin.pair!r}",
                     hint="pairs are one-to-one: make the two items name each other")
        target = (item.pair_bank, item.pair)
        if target in taken:
            chk.fail(key, f"items {taken[target]!r} and {iid!r} both name {item.pair!r} as their pair",
                     hint="pairs are one-to-one")
        taken[target] = iid
        a, b = item.response_scale, twin.response_scale
        if (a.min, a.max) != (b.min, b.max):
            chk.fail(key, f"item {iid!r} and its pair {item.pair!r} are scored on different ranges "
                          f"({_range_text(a)} vs {_range_text(b)}), so their answers cannot be compared")


def _range_text(rs: ResponseScale) -> str:
    return f"{rs.name} {code_text(rs.min)}-{code_text(rs.max)}" if rs.has_range else f"{rs.name} (no range)"


def _parse_keys(chk: _Checker, entries, key, items: dict[str, Item]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    ids, keys = [], []
    for j, entry in enumerate(chk.seq(entries, key)):
        text = chk.text(entry, f"{key}[{j}]")
        sign = -1 if text.startswith("-") else 1
        iid = text.lstrip("-+").strip()
        if iid not in items:
            chk.fail(f"{key}[{j}]", f"scale names item {iid!r}, which is not in the item bank")
        if iid in ids:
            chk.fail(f"{key}[{j}]", f"item {iid!r} is listed twice")
        item = items[iid]
        if sign == -1 and item.reverse:
            chk.fail(f"{key}[{j}]", f"item {iid!r} is already reverse-keyed in the bank; remove the '-'")
        if item.reverse:
            sign = -1
        if sign == -1 and not item.response_scale.has_range:
            chk.fail(f"{key}[{j}]", f"reverse-keyed item {iid!r} has no declared range",
                     hint="declare min and max on its response scale (or `value_range` for ad-hoc scales)")
        ids.append(iid)
        keys.append(sign)
    if not ids:
        chk.fail(key, "a scale needs at least one item")
    return tuple(ids), tuple(keys)


def _parse_rule(chk: _Checker, raw: dict, key: str, n_items: int) -> tuple[str, float, bool]:
    method = raw.get("method", "mean")
    if method not in METHODS:
        chk.fail(f"{key}.method", f"method must be 'mean' or 'sum', got {method!r}")
    ma = chk.number(raw.get("min_answered", 0.75), f"{key}.min_answered")
    if ma <= 0:
        chk.fail(f"{key}.min_answered", "must be above 0 (a proportion below 1, or a count)")
    if ma >= 1 and (ma != int(ma) or ma > n_items):
        chk.fail(f"{key}.min_answered", f"a count must be a whole number from 1 to {n_items} (the scale's items), got {ma:g}")
    prorate = chk.boolean(raw.get("prorate", True), f"{key}.prorate")
    return method, ma, prorate


def _parse_scoring(chk: _Checker, doc: dict, items: dict[str, Item]) -> tuple[list[Scale], dict, dict]:
    scales: list[Scale] = []
    names: set[str] = set()

    def check_name(raw, k):
        name = chk.text(raw["name"], f"{k}.name")
        if not SCALE_PATTERN.match(name):
            chk.fail(f"{k}.name", f"scale name {name!r} must start with a letter and hold only letters, digits or '_'")
        if name in names or name in items:
            chk.fail(f"{k}.name", f"name {name!r} is used twice (scale names must differ from each other and from item ids)")
        names.add(name)
        return name

    for n, raw in enumerate(chk.seq(doc.get("scales") or [], "scales")):
        k = f"scales[{n}]"
        chk.mapping(raw, k, SCALE_KEYS - {"scales"}, required=("name", "items"))
        name = check_name(raw, k)
        ids, keys = _parse_keys(chk, raw["items"], f"{k}.items", items)
        method, ma, prorate = _parse_rule(chk, raw, k, len(ids))
        scales.append(Scale(name, str(raw.get("label", name)), ids, keys, method, ma, prorate,
                            description=str(raw.get("description") or ""),
                            higher_is_better=chk.boolean(raw.get("higher_is_better", True), f"{k}.higher_is_better")))
    if not scales:
        chk.fail("scales", "the scoring file defines no scales")
    by_name = {s.name: s for s in scales}
    for n, raw in enumerate(chk.seq(doc.get("composites") or [], "composites")):
        k = f"composites[{n}]"
        chk.mapping(raw, k, SCALE_KEYS, required=("name",))
        name = check_name(raw, k)
        if ("scales" in raw) == ("items" in raw):
            chk.fail(k, "a composite lists either 'scales' (their items are pooled) or 'items'")
        if "scales" in raw:
            parts = [chk.text(s, f"{k}.scales[{j}]") for j, s in enumerate(chk.seq(raw["scales"], f"{k}.scales"))]
            ids, keys, seen = [], [], set()
            for j, part in enumerate(parts):
                if part not in by_name:
                    chk.fail(f"{k}.scales[{j}]", f"composite names scale {part!r}, which is not defined",
                             hint="defined scales: " + ", ".join(by_name))
                for iid, sign in zip(by_name[part].items, by_name[part].keys):
                    if iid in seen:
                        chk.fail(f"{k}.scales[{j}]", f"item {iid!r} would be counted twice in the composite")
                    seen.add(iid)
                    ids.append(iid)
                    keys.append(sign)
            ids, keys = tuple(ids), tuple(keys)
        else:
            parts = []
            ids, keys = _parse_keys(chk, raw["items"], f"{k}.items", items)
        method, ma, prorate = _parse_rule(chk, raw, k, len(ids))
        scales.append(Scale(name, str(raw.get("label", name)), ids, keys, method, ma, prorate,
                            composite=True, of_scales=tuple(parts), description=str(raw.get("description") or ""),
                            higher_is_better=chk.boolean(raw.get("higher_is_better", True), f"{k}.higher_is_better")))
    all_names = {s.name for s in scales}

    norms = {}
    for sname, raw in (doc.get("norms") or {}).items():
        k = f"norms.{sname}"
        if sname not in all_names:
            chk.fail(k, f"norms given for unknown scale {sname!r}")
        chk.mapping(raw, k, {"table", "interpolate", "source"}, required=("table",))
        rows = chk.seq(raw["table"], f"{k}.table")
        parsed = []
        for j, row in enumerate(rows):
            if not isinstance(row, list) or len(row) not in (2, 3):
                chk.fail(f"{k}.table[{j}]", "each row is [raw, T] or [raw, T, SE]")
            r = chk.number(row[0], f"{k}.table[{j}][0]")
            t = chk.number(row[1], f"{k}.table[{j}][1]")
            se = chk.number(row[2], f"{k}.table[{j}][2]") if len(row) == 3 else None
            parsed.append((r, t, se))
        if not parsed:
            chk.fail(f"{k}.table", "norm table is empty")
        raws = [p[0] for p in parsed]
        if any(b <= a for a, b in zip(raws, raws[1:])):
            chk.fail(f"{k}.table", "raw scores must be listed in increasing order without repeats")
        norms[sname] = NormTable(tuple(raws), tuple(p[1] for p in parsed), tuple(p[2] for p in parsed),
                                 chk.boolean(raw.get("interpolate", False), f"{k}.interpolate"),
                                 str(raw.get("source", "")))

    bands = {}
    for sname, raw in (doc.get("bands") or {}).items():
        k = f"bands.{sname}"
        if sname not in all_names:
            chk.fail(k, f"bands given for unknown scale {sname!r}")
        chk.mapping(raw, k, {"on", "cuts", "source"}, required=("cuts",))
        on = raw.get("on", "score")
        if on not in ("score", "t"):
            chk.fail(f"{k}.on", "bands apply to 'score' or 't'")
        if on == "t" and sname not in norms:
            chk.fail(f"{k}.on", f"bands on T scores need a norm table for {sname!r}")
        parsed = []
        for j, cut in enumerate(chk.seq(raw["cuts"], f"{k}.cuts")):
            chk.mapping(cut, f"{k}.cuts[{j}]", {"label", "min", "max"}, required=("label", "min", "max"))
            lo, hi = chk.number(cut["min"], f"{k}.cuts[{j}].min"), chk.number(cut["max"], f"{k}.cuts[{j}].max")
            if lo >= hi:
                chk.fail(f"{k}.cuts[{j}]", "min must be below max")
            if parsed and lo < parsed[-1].max:
                chk.fail(f"{k}.cuts[{j}]", "bands must be in increasing order and must not overlap")
            parsed.append(Band(chk.text(cut["label"], f"{k}.cuts[{j}].label"), lo, hi))
        bands[sname] = (on, tuple(parsed))
    return scales, norms, bands


def _resolve_bank(ref: str, base: Path, scoring_file: Path) -> Path:
    """A bank named by path (relative to the scoring file) or by stem (beside it, then in the
    bundled ``items/``); never the scoring file itself (``items: pbr-y`` in ``pbr-y.yaml``)."""
    ref_path = Path(ref)
    for candidate in (base / ref_path, base / f"{ref}.yaml", package_dir("items") / ref_path,
                      package_dir("items") / f"{ref}.yaml"):
        if candidate.is_file() and candidate.resolve() != scoring_file.resolve():
            return candidate
    raise PeerscaleError(f"item bank {ref!r} not found (looked beside the scoring file and in the bundled items/)")


def load_instrument_file(path: str | Path) -> Instrument:
    """Load one instrument from a scoring file (its ``items`` key names a bank file or lists items inline)."""
    path = Path(path)
    doc = _read_yaml(path)
    _looks_like(doc, SCORING_KEYS | BANK_KEYS, path, "scoring file")
    chk = _Checker(path)
    chk.mapping(doc, "", SCORING_KEYS | BANK_KEYS, required=("items", "scales"))
    bank_path = None
    if isinstance(doc["items"], str):
        try:
            bank_path = _resolve_bank(doc["items"], path.parent, path)
        except PeerscaleError as exc:
            chk.fail("items", exc.message)
        bank_doc = _read_yaml(bank_path)
        _looks_like(bank_doc, BANK_KEYS, bank_path, "item bank")
        bank = _parse_bank(_Checker(bank_path), bank_doc, inline=False, base=bank_path.parent, own=str(bank_path))
    else:
        bank_doc = doc
        bank = _parse_bank(chk, doc, inline=True, base=path.parent, own=str(path))
    extra = set(doc) - SCORING_KEYS - BANK_KEYS
    if extra:
        chk.fail(sorted(extra)[0], "unknown key")
    scales, norms, bands = _parse_scoring(chk, doc, bank["items"])
    id_cols = tuple(str(c) for c in chk.seq(doc.get("id_columns") or [], "id_columns"))
    irt = _parse_irt(chk, doc.get("irt"), bank["items"], scales, norms)
    population = _parse_population(chk, doc.get("population"), bank["items"], scales, irt)
    name = str(doc.get("name") or path.stem)
    return Instrument(
        name=name, title=str(doc.get("title") or bank_doc.get("title") or name),
        version=str(doc.get("version") or bank_doc.get("version") or ""),
        status=str(doc.get("status") or bank_doc.get("status") or "draft"),
        description=str(doc.get("description") or bank_doc.get("description") or ""),
        items=bank["items"], scales=scales, bank=bank["bank"], id_columns=id_cols,
        dimensions=bank["dimensions"], placeholders=bank["placeholders"],
        instructions=bank["instructions"], norms=norms, bands=bands,
        path=str(path), bank_path=None if bank_path is None else str(bank_path),
        recall=bank["recall"], recall_period=bank["recall_period"], pairs_with=bank["pairs_with"],
        retired=bank["retired"], irt=irt, population=population,
    )


def _parse_irt(chk: _Checker, raw, items: dict[str, Item], scales: list[Scale], norms: dict) -> dict:
    """The ``irt:`` block (frozen item parameters per scale), validated on load."""
    if raw is None:
        return {}
    from .irt.bank import parse_irt_block

    banks = parse_irt_block(chk, raw, items, scales)
    for name in banks:
        if name in norms:
            chk.fail(f"irt.{name}", f"scale {name!r} has both a norm table and an irt bank; both would write "
                                    f"{name}_t", hint="keep one of them")
    return banks


def _parse_population(chk: _Checker, raw, items: dict[str, Item], scales: list[Scale], irt: dict):
    """The ``population:`` block (the model ``simulate`` and ``plan`` draw from), validated on load."""
    if raw is None:
        return None
    from .simulation.population import parse_population_block

    return parse_population_block(chk, raw, items, scales, irt)


@lru_cache(maxsize=None)
def _bundled_paths() -> dict[str, Path]:
    return {p.stem.lower(): p for p in sorted(package_dir("scoring").glob("*.yaml"))}


def bundled_instruments() -> list[Instrument]:
    """Every instrument shipped in ``scoring/``."""
    return [load_instrument_file(p) for p in _bundled_paths().values()]


def load_instrument(name_or_path: str | Path) -> Instrument:
    """Load a bundled instrument by name (``pbr-y``) or any instrument file by path."""
    if isinstance(name_or_path, Instrument):
        return name_or_path
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.suffix.lower() in (".yaml", ".yml", ".json") or path.exists() or path.is_symlink():
        from .io.source import check_input

        if not (path.exists() or path.is_symlink()):
            raise PeerscaleError("instrument file not found", file=text,
                                 hint="give a bundled name (see `peerscale instruments`) or a path to a scoring file")
        check_input(path, "scoring file")
        return load_instrument_file(path)
    bundled = _bundled_paths()
    if text.lower() not in bundled:
        raise PeerscaleError(f"no bundled instrument called {text!r}",
                             hint="bundled: " + ", ".join(bundled) + "; or give a path to your own scoring file")
    return load_instrument_file(bundled[text.lower()])


def parse_range(text) -> tuple[float, float] | None:
    """``"1:6"`` (or ``(1, 6)``) → (1.0, 6.0): a declared response range ``value_range``."""
    if text is None:
        return None
    try:
        lo, hi = (float(x) for x in (str(text).split(":") if isinstance(text, str) else text))
    except (TypeError, ValueError):
        raise PeerscaleError(f"`value_range` {text!r} is not of the form MIN:MAX, e.g. 1:6") from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
        raise PeerscaleError(f"`value_range` {text!r}: MIN must be below MAX")
    return lo, hi


def parse_min_answered(value) -> float:
    """A ``min_answered`` rule (a count of 1 or more, or a proportion between 0 and 1), from a
    number or text; anything else is a :class:`~peerscale.errors.PeerscaleError` naming
    ``min_answered``."""
    if isinstance(value, bool):
        value = None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise PeerscaleError(f"`min_answered` {value!r} is not a number",
                             hint="give a count (3) or a proportion below 1 (0.75)") from None
    if not math.isfinite(number) or number <= 0 or (number >= 1 and number != int(number)):
        raise PeerscaleError(f"`min_answered` {value!r} must be a whole count of 1 or more, or a proportion "
                             "between 0 and 1")
    return number


def with_min_answered(instrument: Instrument, min_answered) -> Instrument:
    """The instrument with every scale's rule replaced by ``min_answered`` (validated: a count
    may not exceed any scale's number of items)."""
    from dataclasses import replace

    if min_answered is None:
        return instrument
    value = parse_min_answered(min_answered)
    for s in instrument.scales:
        if value >= 1 and value > len(s.items):
            raise PeerscaleError(f"`min_answered` {value:g} is more than the {len(s.items)} items of scale {s.name!r}",
                                 hint="give a smaller count, or a proportion such as 0.75")
    return replace(instrument, scales=[replace(s, min_answered=value) for s in instrument.scales])


def adhoc_instrument(scales: dict[str, list[str]] | list[str], *, value_range: tuple[float, float] | None = None,
                     min_answered: float = 0.75, method: str = "mean", name: str = "ad-hoc") -> Instrument:
    """Build an instrument from psych-style keys, e.g. ``{"A": ["-A1", "A2", "A3"]}`` or
    ``["A=-A1,A2,A3"]`` (a leading minus marks a reverse-keyed item)."""
    if isinstance(scales, list):
        parsed: dict[str, list[str]] = {}
        for text in scales:
            if "=" not in text:
                raise PeerscaleError(f"ad-hoc scale {text!r} is not of the form NAME=ITEM,ITEM,...",
                                     hint="e.g. A=-A1,A2,A3,A4,A5 (a leading '-' marks a reverse-keyed item)")
            sname, _, rest = text.partition("=")
            if sname.strip() in parsed:
                raise PeerscaleError(f"ad-hoc scale {sname.strip()!r} is given twice")
            parsed[sname.strip()] = [x.strip() for x in rest.split(",") if x.strip()]
        scales = parsed
    value_range = parse_range(value_range)
    min_answered = parse_min_answered(min_answered)
    lo, hi = value_range if value_range else (None, None)
    rs = ResponseScale("RANGE" if value_range else "NUMERIC", "declared range" if value_range else "any number", lo, hi)
    items: dict[str, Item] = {}
    for entries in scales.values():
        for entry in entries:
            iid = entry.lstrip("-+").strip()
            items.setdefault(iid, Item(id=iid, text=iid, response_scale=rs))
    doc = {"scales": [{"name": n, "items": e, "method": method, "min_answered": min_answered}
                      for n, e in scales.items()]}
    chk = _Checker("ad-hoc scales")
    for n, entries in scales.items():
        for entry in entries:
            if entry.startswith("-") and not value_range:
                raise PeerscaleError(f"ad-hoc scale {n}: item {entry[1:]!r} is reverse-keyed but no "
                                     "`value_range` was given", hint="declare the response range, e.g. 1:6")
    parsed_scales, _, _ = _parse_scoring(chk, doc, items)
    return Instrument(name=name, title="ad-hoc scales", version="", status="ad-hoc", items=items,
                      scales=parsed_scales)


# --------------------------------------------------------------------------- item pairs

def item_pairs(first: Instrument | str | Path, second: Instrument | str | Path) -> list[ItemPair]:
    """Twin items of two forms of one relationship (e.g. young person and worker), in the
    first instrument's item order.

    Parameters
    ----------
    first, second : Instrument, bundled name or scoring-file path
        Two instruments whose banks record pairs (``pair:`` on items, resolved through the
        bank's ``pairs_with`` or a ``BANK:ID`` reference). A pair declared on either side counts.

    Returns
    -------
    list of ItemPair
        ``a`` is the item of ``first``, ``b`` its twin in ``second``, with both dimensions and
        viewpoints; ``kind`` says what agreement between the two means. Empty when the banks
        record no pairs between them (compare whole scales instead).

    Notes
    -----
    Item ids are unique across the bundled banks, so a twin is found by id. A pair whose twin is
    not in ``second`` (another bank, or an item a user's copy of the bank dropped) is left out.

    Examples
    --------
    >>> pairs = item_pairs("pbr-p", "pbr-y")
    >>> pairs[0].a, pairs[0].b                                      # doctest: +SKIP
    ('pbr_p_share_01', 'pbr_y_share_01')
    """
    a, b = load_instrument(first), load_instrument(second)
    found: dict[str, str] = {}
    for iid, item in a.items.items():
        if item.pair is not None and item.pair in b.items:
            found[iid] = item.pair
    for iid, item in b.items.items():
        if item.pair is not None and item.pair in a.items:
            if item.pair in found and found[item.pair] != iid:
                raise PeerscaleError(f"items {item.pair!r} and {iid!r} disagree about their pairs: "
                                     f"{item.pair!r} names {found[item.pair]!r}", file=b.bank_path or b.path)
            found.setdefault(item.pair, iid)
    out = []
    for iid in a.items:
        if iid in found:
            x, y = a.items[iid], b.items[found[iid]]
            out.append(ItemPair(iid, y.id, x.dimension, y.dimension, x.viewpoint, y.viewpoint, x.form, y.form))
    return out


def paired_scale_items(first: Instrument | str | Path, second: Instrument | str | Path) -> dict[str, list[ItemPair]]:
    """Item pairs grouped by the subscales (not composites) both instruments define under one
    name, e.g. ``{"share": [...], "valid": [...]}``: the items a dyad comparison of each scale
    should use. A scale appears only if at least one of its items has its twin in the other
    instrument's scale of the same name."""
    a, b = load_instrument(first), load_instrument(second)
    b_scales = {s.name: set(s.items) for s in b.scales if not s.composite}
    out: dict[str, list[ItemPair]] = {}
    pairs = item_pairs(a, b)
    for s in a.scales:
        if s.composite or s.name not in b_scales:
            continue
        members = set(s.items)
        chosen = [p for p in pairs if p.a in members and p.b in b_scales[s.name]]
        if chosen:
            out[s.name] = chosen
    return out


def chosen_scales(instrument, scales, names):
    """``scales`` (of ``instrument``) restricted to ``names`` (all when None); a name that is not
    a scale of the instrument is an error naming the ``scales`` parameter."""
    if names is None:
        return scales
    names = [names] if isinstance(names, str) else list(names)
    known = {s.name for s in instrument.scales}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise PeerscaleError(f"`scales` names {unknown[0]!r}, which is not a scored scale",
                             hint="scales: " + ", ".join(s.name for s in instrument.scales))
    return [s for s in scales if s.name in names]
