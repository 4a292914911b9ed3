"""REDCap data dictionaries: read (CSV with REDCap's 18 headers, the older 17, or the API's
snake_case names; or an instrument zip), write one for an instrument, and map a project's
fields to an instrument's items.

Written dictionaries follow REDCap's documented conventions: record id field first (text, on
the first form); lowercase field names (item id with '.' → '_'); one radio field per item with
``code, label | code, label`` choices, the response scale's missing codes included (``9, Not
relevant to me yet``); consecutive items of one dimension and response scale share a matrix
group; optional score fields (``--with-calc``): calc fields (``score_<column>``) that apply
peerscale's whole rule in REDCap, and read-only fields (``ps_<column>``) that receive peerscale's
scores from ``score --output-format redcap-import`` (see :mod:`peerscale.rules_export`).
"""

from __future__ import annotations

import csv as _csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import PeerscaleError
from .items import _fits, _item_patterns, normalise_text, strip_label

HEADERS = [
    "Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
    "Choices, Calculations, OR Slider Labels", "Field Note", "Text Validation Type OR Show Slider Number",
    "Text Validation Min", "Text Validation Max", "Identifier?", "Branching Logic (Show field only if...)",
    "Required Field?", "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name",
    "Matrix Ranking?", "Field Annotation",
]
API_HEADERS = [
    "field_name", "form_name", "section_header", "field_type", "field_label", "select_choices_or_calculations",
    "field_note", "text_validation_type_or_show_slider_number", "text_validation_min", "text_validation_max",
    "identifier", "branching_logic", "required_field", "custom_alignment", "question_number",
    "matrix_group_name", "matrix_ranking", "field_annotation",
]
FIELD_TYPES = {"text", "notes", "dropdown", "radio", "checkbox", "yesno", "truefalse", "calc", "slider",
               "file", "descriptive", "sql"}
CHOICE_TYPES = {"dropdown", "radio", "checkbox", "yesno", "truefalse"}
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_DICTIONARY_BYTES = 64 << 20  # REDCap dictionaries are kilobytes; this refuses /dev/zero-like inputs
_ITEM_TAG = re.compile(r"peerscale:\s*item=([A-Za-z][A-Za-z0-9_.]*)")


@dataclass
class Field:
    """One row of a data dictionary (attribute names are the API's snake_case column names)."""

    field_name: str
    form_name: str = ""
    section_header: str = ""
    field_type: str = "text"
    field_label: str = ""
    select_choices_or_calculations: str = ""
    field_note: str = ""
    text_validation_type_or_show_slider_number: str = ""
    text_validation_min: str = ""
    text_validation_max: str = ""
    identifier: str = ""
    branching_logic: str = ""
    required_field: str = ""
    custom_alignment: str = ""
    question_number: str = ""
    matrix_group_name: str = ""
    matrix_ranking: str = ""
    field_annotation: str = ""

    @property
    def choices(self) -> dict[str, str]:
        """``{code: label}`` for choice fields (yesno and truefalse have fixed choices)."""
        if self.field_type == "yesno":
            return {"1": "Yes", "0": "No"}
        if self.field_type == "truefalse":
            return {"1": "True", "0": "False"}
        if self.field_type not in CHOICE_TYPES:
            return {}
        return parse_choices(self.select_choices_or_calculations)

    def row(self) -> list[str]:
        return [getattr(self, a) for a in API_HEADERS]


@dataclass
class Dictionary:
    fields: list[Field]
    path: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def record_id(self) -> str:
        return self.fields[0].field_name

    @property
    def forms(self) -> list[str]:
        return list(dict.fromkeys(f.form_name for f in self.fields))

    def by_name(self) -> dict[str, Field]:
        return {f.field_name: f for f in self.fields}


def parse_choices(text: str) -> dict[str, str]:
    """``"1, Strongly disagree | 2, Disagree"`` → ``{"1": "Strongly disagree", "2": "Disagree"}``.

    Spaces around ``|`` are optional; older exports separate choices with ``\\n``; codes may be letters.
    """
    out: dict[str, str] = {}
    for part in re.split(r"\s*\|\s*|\s*\\n\s*|\n", text or ""):
        part = part.strip()
        if not part:
            continue
        code, sep, label = part.partition(",")
        out[code.strip()] = label.strip() if sep else code.strip()
    return out


# --------------------------------------------------------------------------- reading

def read_dictionary(path: str | Path) -> Dictionary:
    """Read a data dictionary CSV (18 or 17 REDCap headers, or API snake_case) or an instrument zip."""
    from .text import decode, read_bytes

    p = Path(path)
    raw = read_bytes(p, "REDCap data dictionary", limit=MAX_DICTIONARY_BYTES)
    warnings: list[str] = []
    if raw.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as zf:
                names = [n for n in zf.namelist() if n.lower().endswith("instrument.csv")]
                if not names:
                    raise PeerscaleError("the zip holds no instrument.csv", file=str(path),
                                         hint="give REDCap's data dictionary CSV or an instrument zip")
                if zf.getinfo(names[0]).file_size > MAX_DICTIONARY_BYTES:
                    raise PeerscaleError("the zip's instrument.csv unpacks to more than any data dictionary can be",
                                         file=str(path))
                raw = zf.read(names[0])
        except zipfile.BadZipFile:
            raise PeerscaleError("not a readable zip file", file=str(path)) from None
    if not raw.strip():
        raise PeerscaleError("the data dictionary is empty", file=str(path))
    text = decode(raw, None, str(path), warnings).decode("utf-8")
    rows = list(_csv.reader(io.StringIO(text, newline="")))
    rows = [r for r in rows if any(c.strip() for c in r)]
    header = [h.strip() for h in rows[0]]
    if header[:17] == HEADERS[:17]:
        names = API_HEADERS[:len(header)] if len(header) <= 18 else API_HEADERS
    elif [h.lower() for h in header[:17]] == API_HEADERS[:17]:
        names = API_HEADERS[:len(header)]
    else:
        raise PeerscaleError("not a REDCap data dictionary: the header does not match REDCap's columns",
                             file=str(path), hint="expected 'Variable / Field Name, Form Name, Section Header, "
                                                  "Field Type, ...' (REDCap: Project Setup > Data Dictionary > Download)")
    if len(rows) < 2:
        raise PeerscaleError("the data dictionary has a header but no fields", file=str(path))
    fields = []
    seen = set()
    for n, r in enumerate(rows[1:], start=1):
        values = dict(zip(names, (c.strip() for c in r)))
        f = Field(**{k: v for k, v in values.items() if k in API_HEADERS})
        if not f.field_name:
            raise PeerscaleError("a field has no name", file=str(path), row=n)
        if f.field_name in seen:
            raise PeerscaleError(f"field {f.field_name!r} is listed twice", file=str(path), row=n)
        seen.add(f.field_name)
        f.field_type = f.field_type.lower()
        if f.field_type not in FIELD_TYPES:
            raise PeerscaleError(f"unknown field type {f.field_type!r}", file=str(path), row=n,
                                 column="Field Type", hint="REDCap types: " + ", ".join(sorted(FIELD_TYPES)))
        fields.append(f)
    return Dictionary(fields, str(path), warnings)


# --------------------------------------------------------------------------- field → item mapping

def redcap_field_name(item_id: str) -> str:
    """The REDCap field name for an item id: lowercase, '.' → '_'."""
    return item_id.lower().replace(".", "_")


@dataclass
class Mapping:
    matched: list[tuple[str, str, str]]   # (field, item id, how: annotation|name|label)
    unmatched_fields: list[str]           # data fields that match no item
    unmatched_items: list[str]            # items no field matched
    ambiguous: list[str]                  # messages about fields competing for one item


def map_fields(dictionary: Dictionary, instrument) -> Mapping:
    """Match a project's fields to an instrument's items: by a ``peerscale: item=<id>`` tag in the
    Field Annotation, else by field name (item id lowercased), else by label text (normalised;
    placeholders filled or matched as any words)."""
    by_name = {redcap_field_name(i): i for i in instrument.items}
    patterns = _item_patterns(instrument)
    by_text: dict[str, list[str]] = {}
    for iid, (text, _p) in patterns.items():
        by_text.setdefault(text, []).append(iid)
    matched, unmatched, ambiguous = [], [], []
    taken: dict[str, str] = {}
    data_fields = [f for f in dictionary.fields[1:] if f.field_type not in ("descriptive", "calc", "file", "checkbox")]
    for f in data_fields:
        how = iid = None
        tag = _ITEM_TAG.search(f.field_annotation or "")
        if tag and tag.group(1) in instrument.items:
            iid, how = tag.group(1), "annotation"
        elif f.field_name in instrument.items or f.field_name in by_name:
            iid, how = (f.field_name if f.field_name in instrument.items else by_name[f.field_name]), "name"
        else:
            label = normalise_text(f.field_label)
            hits = by_text.get(label, []) if label else []
            if not hits and label:
                hits = [i for i, (_t, pieces) in patterns.items() if pieces is not None and _fits(pieces, label)]
            if len(hits) == 1:
                iid, how = hits[0], "label"
            elif len(hits) > 1:
                ambiguous.append(f"field {f.field_name!r}: label matches several items ({', '.join(hits)})")
        if iid is None:
            unmatched.append(f.field_name)
            continue
        if iid in taken:
            ambiguous.append(f"fields {taken[iid]!r} and {f.field_name!r} both match item {iid!r}; kept {taken[iid]!r}")
            continue
        taken[iid] = f.field_name
        matched.append((f.field_name, iid, how))
    missing = [i for i in instrument.items if i not in taken]
    return Mapping(matched, unmatched, missing, ambiguous)


def apply_dictionary(table, dictionary: Dictionary, instrument=None, missing_codes: dict | None = None) -> None:
    """Labels from the dictionary onto a read table; label-mode values mapped back to codes;
    ``suggested_map`` filled from :func:`map_fields` when an instrument is given."""
    from .table import numeric_or_text

    df = table.data
    fields = dictionary.by_name()
    items: dict[str, str] = {}
    if instrument is not None:
        mapping = map_fields(dictionary, instrument)
        for fname, iid, _how in mapping.matched:
            if fname in df.columns:
                items[fname] = iid
                if fname != iid:
                    table.suggested_map.setdefault(fname, iid)
        table.warnings.extend(f"{dictionary.path}: {m}" for m in mapping.ambiguous)
        for col in items:
            entry = table.missing_values.setdefault(col, {})
            for code, reason in (missing_codes or {}).items():
                if not any(str(k) == code or (isinstance(k, float) and f"{k:g}" == code) for k in entry):
                    entry[code] = reason
            if not entry:
                del table.missing_values[col]
    for col in df.columns:
        f = fields.get(str(col))
        if f is None:
            continue
        if f.field_label:
            table.variable_labels.setdefault(col, strip_label(f.field_label))
        choices = f.choices
        if not choices or f.field_type == "checkbox":
            continue
        numeric_codes = all(_is_number(c) for c in choices)
        s = df[col]
        missing = table.missing_values.get(col, {})
        if s.dtype.kind not in "biuf":
            lookup = {_fold(v): c for c, v in choices.items()}
            lookup.update({_fold(c): c for c in choices})
            lookup.update({_fold(str(reason)): str(code) for code, reason in missing.items()})
            text = s.astype("str").str.strip()
            blank = s.isna() | (text == "")
            mapped = text.map(lambda v: lookup.get(_fold(v)))
            known_missing = [f"{k:g}" if isinstance(k, float) else str(k) for k in missing]
            unknown = ~blank & mapped.isna() & ~text.isin(known_missing)
            if unknown.any() and col in items:
                row = int(unknown.to_numpy().nonzero()[0][0])
                raise PeerscaleError(
                    f"{text.iloc[row]!r} is not one of this field's choices", file=table.path, row=row + 1,
                    column=str(col), value=text.iloc[row],
                    hint="choices: " + " | ".join(f"{c}, {v}" for c, v in choices.items())
                         + (" (or declare it a missing-data code in `missing_codes`)"))
            new = s.astype(object).where(blank | mapped.isna(), mapped.astype(object))
            df[col] = numeric_or_text(new) if numeric_codes else new
        numeric = df[col].dtype.kind in "biuf"
        table.value_labels[col] = {(float(c) if numeric and _is_number(c) else c): v for c, v in choices.items()}


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip().lower()


def _is_number(text) -> bool:
    try:
        float(text)
        return True
    except (TypeError, ValueError):
        return False


# --------------------------------------------------------------------------- writing

def _code(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def form_name(name: str) -> str:
    """REDCap form name for an instrument name: lowercase, '-' and other punctuation → '_'."""
    return re.sub(r"[^a-z0-9_]", "_", str(name).strip().lower())


def instrument_forms(instrument) -> list[str]:
    """REDCap form names of an instrument: one form, or one per respondent form (``<name>_y``...)
    when its items belong to several forms."""
    base = form_name(instrument.name)
    forms = [f for f in instrument.forms]
    if len(forms) <= 1:
        return [base]
    return [f"{base}_{f.lower()}" for f in forms]


def item_form(instrument, iid: str) -> str:
    forms = instrument_forms(instrument)
    if len(forms) == 1:
        return forms[0]
    f = instrument.items[iid].form
    return f"{form_name(instrument.name)}_{f.lower()}" if f else forms[0]


def _group_name(form: str, dim: str, n: int) -> str:
    base = re.sub(r"[^a-z0-9_]", "_", f"{form}_{dim}".lower())
    return base if n == 1 else f"{base}_{n}"


# What the respondent reads at the top of each form and each page: the recall period as a
# sentence, and a reminder of how to answer. Construct names never appear here (they go to the
# Field Annotation, which respondents do not see).
RECALL_SENTENCES = {"now": "Think about how things are now.", "last_month": "Think about the last month.",
                    "since_starting": "Think about the time since you started peer support."}
_RECALL_SEEN = {"now": r"\bnow\b", "last_month": r"last month|past (4|four) weeks",
                "since_starting": r"\bsince\b"}
CALC_TAGS = "@HIDDEN-SURVEY @READONLY"


def _answer_reminder(rs) -> str:
    labels = " ".join(str(v).lower() for v in rs.codes.values())
    if "agree" in labels:
        text = "For each sentence, choose how much you agree."
    elif any(w in labels for w in ("never", "often", "always")):
        text = "For each one, choose how often it happened."
    else:
        text = "For each one, choose the answer that fits best."
    for label in rs.missing.values():
        text += f' You can also choose "{label}".'
    return text


def _recall_of(instrument, item) -> str | None:
    return item.recall or instrument.recall


def _recall_sentence(instrument, item) -> str:
    code = _recall_of(instrument, item)
    if code in RECALL_SENTENCES:
        return RECALL_SENTENCES[code]
    period = item.recall_period or instrument.recall_period
    return f"Think about {period}." if period else ""


def _instructions_field(instrument, form: str, first_item) -> Field:
    """A descriptive field at the top of a form: the bank's instructions, with the recall
    period added when the instructions do not already state it."""
    text = instrument.fill(instrument.instructions.strip()) if instrument.instructions else ""
    if not text:
        text = _answer_reminder(first_item.response_scale)
    code = _recall_of(instrument, first_item)
    recall = _recall_sentence(instrument, first_item)
    seen = re.search(_RECALL_SEEN[code], text, re.I) if code in _RECALL_SEEN else False
    if recall and not seen:
        text = f"{text} {recall}"
    return Field(f"{form}_instructions", form, field_type="descriptive", field_label=text,
                 field_annotation="peerscale: instructions" + (f" recall={code}" if code else ""))


def _choice_label(label: str) -> str:
    """A choice label REDCap can store: no '|' (the choice separator) and no line breaks."""
    return re.sub(r"\s+", " ", str(label).replace("|", "/")).strip()


def build_dictionary(instrument, *, with_calc: bool = False, required: bool = False) -> Dictionary:
    """The data dictionary for an instrument, safe to field as a survey.

    Parameters
    ----------
    instrument : Instrument
    with_calc : bool
        Add one calc field per scale (``score_<scale>``), hidden on surveys and read-only
        (``@HIDDEN-SURVEY @READONLY``) so respondents never see their scores.
    required : bool
        Mark every item required. Off by default: a required item cannot be skipped, so the
        missing-data rule of the scoring file would never apply.

    Notes
    -----
    Each form starts with a descriptive field (``<form>_instructions``) holding the bank's
    instructions and recall period. Section headers are respondent-facing reminders of how to
    answer; the construct (dimension label) of each item is in its Field Annotation. An item
    with ``requires`` gets REDCap branching logic (``[screen] = '1'``). Items whose levels are
    described per item (``anchors``) carry the descriptions in their choice labels and are not
    put in a matrix.
    """
    fields: list[Field] = []
    names: dict[str, str] = {}
    for iid in instrument.items:
        fname = redcap_field_name(iid)
        if not FIELD_NAME.match(fname):
            raise PeerscaleError(f"item id {iid!r} cannot be a REDCap field name ({fname!r})",
                                 hint="REDCap field names start with a letter and hold a-z, 0-9 and '_'")
        if fname in names:
            raise PeerscaleError(f"items {names[fname]!r} and {iid!r} give the same REDCap field name {fname!r}")
        names[fname] = iid
    if "record_id" in names:
        raise PeerscaleError("an item is called 'record_id', which REDCap reserves for the record id field")
    first_form = item_form(instrument, next(iter(instrument.items)))
    fields.append(Field("record_id", first_form, field_type="text", field_label="Record ID"))
    runs: dict[tuple[str, str], int] = {}
    prev_key = prev_section = None
    started: set[str] = set()
    dims = instrument.dimensions
    screens = set(instrument.screening_items())
    for iid, item in instrument.items.items():
        form = item_form(instrument, iid)
        if form not in started:
            intro = _instructions_field(instrument, form, item)
            if intro.field_name in names:
                raise PeerscaleError(f"item {names[intro.field_name]!r} clashes with the instructions field "
                                     f"{intro.field_name!r} peerscale adds to form {form!r}")
            fields.append(intro)
            started.add(form)
        rs = item.response_scale
        f = Field(redcap_field_name(iid), form, field_label=instrument.item_text(iid),
                  required_field="y" if required else "")
        tags = [f"peerscale: item={iid}"]
        if item.dimension:
            tags.append(f"dimension={item.dimension}")
            label = dims.get(item.dimension, {}).get("label")
            if label:
                tags.append(f'construct="{label}"')
        if item.reverse:
            tags.append("reverse-keyed")
        if item.status == "candidate":
            tags.append("candidate")
        if iid in screens:
            tags.append("screening-question")
        f.field_annotation = " ".join(tags)
        if item.requires is not None:
            f.branching_logic = item.requires.redcap_logic()
        section = (form, item.dimension or f"_{rs.name}")
        if section != prev_section:
            # a new page of the survey: remind how to answer (the first section follows the instructions)
            if prev_section is not None and prev_section[0] == form:
                f.section_header = " ".join(x for x in (_answer_reminder(rs), _recall_sentence(instrument, item)) if x)
            prev_section = section
        if rs.codes:
            f.field_type = "radio"
            anchors = instrument.anchor_texts(iid) if item.anchors else {}
            choices = [f"{_code(c)}, {_choice_label(label)}" + (f": {_choice_label(anchors[c])}" if c in anchors else "")
                       for c, label in rs.codes.items()]
            choices += [f"{_code(c)}, {_choice_label(label)}" for c, label in rs.missing.items()]
            f.select_choices_or_calculations = " | ".join(choices)
            if anchors or iid in screens:  # choices differ item by item, or a question on its own: no matrix
                prev_key = None
            else:
                key = (form, item.dimension or "items", rs.name)
                if key != prev_key:
                    runs[key[:2]] = runs.get(key[:2], 0) + 1
                f.matrix_group_name = _group_name(form, item.dimension or "items", runs[key[:2]])
                prev_key = key
        else:
            f.field_type = "text"
            integral = rs.has_range and float(rs.min).is_integer() and float(rs.max).is_integer()
            f.text_validation_type_or_show_slider_number = "integer" if integral else "number"
            if rs.has_range:
                f.text_validation_min, f.text_validation_max = _code(rs.min), _code(rs.max)
            prev_key = None
        fields.append(f)
    if with_calc:
        for calc in _calc_fields(instrument):
            # peerscale's note first, action tags after: a cell starting with '@' would be
            # neutralised as a spreadsheet formula when the dictionary is written
            words = calc.field_annotation.split()
            tags = list(dict.fromkeys([w for w in words if w in ACTION_TAGS] + CALC_TAGS.split()))
            calc.field_annotation = " ".join([w for w in words if w not in ACTION_TAGS] + tags)
            fields.append(calc)
    dictionary = Dictionary(_grouped_by_form(fields))
    problems = redcap_problems(dictionary)
    if problems:
        raise PeerscaleError("the data dictionary would break REDCap's rules: " + "; ".join(problems[:5]),
                             hint="rename the instrument, items or codes named above")
    return dictionary


def _grouped_by_form(fields: list[Field]) -> list[Field]:
    """Fields of one form kept together (REDCap requires it), forms in first-seen order."""
    order = list(dict.fromkeys(f.form_name for f in fields))
    return [f for form in order for f in fields if f.form_name == form]


def _calc_fields(instrument) -> list[Field]:
    """Score fields: REDCap calc fields and the fields peerscale's scores are imported into, written
    by :mod:`peerscale.rules_export` from the rule description the SPSS and R exports use."""
    from ..rules_export import describe, redcap_fields

    return [Field(**row) for row in redcap_fields(describe(instrument), redcap_field_name,
                                                   lambda iid: item_form(instrument, iid))]


# --------------------------------------------------------------------------- REDCap's rules

RESERVED_NAMES = {"redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance",
                  "redcap_data_access_group", "redcap_survey_identifier", "redcap_csrf_token"}
VALIDATION_TYPES = {"", "integer", "number", "date_ymd", "date_mdy", "date_dmy", "datetime_ymd", "datetime_mdy",
                    "datetime_dmy", "datetime_seconds_ymd", "datetime_seconds_mdy", "datetime_seconds_dmy",
                    "time", "time_mm_ss", "email", "phone", "zipcode", "alpha_only", "number_1dp", "number_2dp",
                    "number_3dp", "number_4dp", "number_comma_decimal", "postalcode_canada", "ssn", "vmrn"}
ACTION_TAGS = {"@HIDDEN", "@HIDDEN-SURVEY", "@HIDDEN-FORM", "@HIDDEN-APP", "@HIDDEN-PDF", "@READONLY",
               "@READONLY-SURVEY", "@READONLY-FORM", "@READONLY-APP", "@DEFAULT", "@SETVALUE", "@NOW", "@TODAY",
               "@NOW-SERVER", "@TODAY-SERVER", "@NOW-UTC", "@TODAY-UTC", "@CALCTEXT", "@CALCDATE", "@CHARLIMIT",
               "@WORDLIMIT", "@NONEOFTHEABOVE", "@MAXCHOICE", "@MAXCHECKED", "@RANDOMORDER", "@HIDECHOICE",
               "@SHOWCHOICE", "@PLACEHOLDER", "@PASSWORDMASK", "@LATITUDE", "@LONGITUDE", "@INLINE", "@IF",
               "@USERNAME", "@PREFILL", "@NOMISSING", "@HIDEBUTTON", "@FORCE-MINMAX", "@RICHTEXT",
               "@DOWNLOAD-COUNT", "@SYNC-APP", "@INLINE-PREVIEW", "@CONSENT-VERSION"}
_CHOICE_CODE = re.compile(r"^(-?\d+(\.\d+)?|[A-Za-z0-9_]+)$")
_ACTION_TAG = re.compile(r"(?<![\w@])@[A-Z][A-Z0-9-]*")
_LOGIC_TOKEN = re.compile(r"\s*(?:(\[[a-z][a-z0-9_]*(?:\([A-Za-z0-9_-]+\))?\])|('[^']*'|\"[^\"]*\")|(-?\d+(?:\.\d+)?)"
                          r"|(<>|!=|>=|<=|=|<|>)|(\(|\))|\b(and|or)\b)", re.I)


def _parse_logic(text: str) -> list[tuple[str, str]]:
    """Tokens of REDCap branching logic as (kind, text); raises ValueError on anything else."""
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _LOGIC_TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot read {text[pos:pos + 20]!r}")
        kinds = ("field", "value", "number", "op", "paren", "bool")
        kind = next(k for k, g in zip(kinds, m.groups()) if g is not None)
        tokens.append((kind, m.group(m.lastindex)))
        pos = m.end()
    return tokens


def _check_logic(tokens: list[tuple[str, str]]) -> None:
    """Grammar: expr := term ((and|or) term)*; term := '(' expr ')' | [field] op value."""
    pos = 0

    def term():
        nonlocal pos
        if pos < len(tokens) and tokens[pos] == ("paren", "("):
            pos += 1
            expr()
            if pos >= len(tokens) or tokens[pos] != ("paren", ")"):
                raise ValueError("unbalanced parentheses")
            pos += 1
            return
        kinds = [k for k, _ in tokens[pos:pos + 3]]
        if kinds[:2] != ["field", "op"] or len(kinds) < 3 or kinds[2] not in ("value", "number"):
            raise ValueError("expected [field] = 'value'")
        pos += 3

    def expr():
        nonlocal pos
        term()
        while pos < len(tokens) and tokens[pos][0] == "bool":
            pos += 1
            term()

    expr()
    if pos != len(tokens):
        raise ValueError(f"unexpected {tokens[pos][1]!r}")


def redcap_problems(dictionary: Dictionary) -> list[str]:
    """Ways a data dictionary breaks REDCap's upload rules (empty list: none found).

    Checks field and form names (pattern, reserved names, ``<form>_complete``, uniqueness, each
    form's fields together), the record id field, field types, choices (codes REDCap accepts,
    unique, labels without ``|``), calc expressions (fields that exist, balanced parentheses),
    descriptive fields, the y/blank columns, text validation, matrix groups (radio or checkbox,
    one consecutive run with identical choices, a section header only on the first field),
    branching logic (``[field] = 'code'`` joined by and/or, on existing earlier fields and their
    codes) and action tags in the Field Annotation.
    """
    out: list[str] = []
    fields = dictionary.fields
    if not fields:
        return ["the dictionary has no fields"]
    by_name: dict[str, int] = {}
    forms_seen: list[str] = []
    completes = {f"{f.form_name}_complete" for f in fields}
    if fields[0].field_type != "text":
        out.append(f"the first field ({fields[0].field_name!r}) is the record id and must be a text field")
    for n, f in enumerate(fields):
        where = f"field {f.field_name!r}"
        if not FIELD_NAME.match(f.field_name) or len(f.field_name) > 100 or "___" in f.field_name:
            out.append(f"{where}: a field name is lowercase a-z, 0-9 and '_', starts with a letter, has no '___' "
                       "and at most 100 characters")
        if f.field_name in by_name:
            out.append(f"{where} is listed twice")
        if f.field_name in RESERVED_NAMES or f.field_name in completes:
            out.append(f"{where}: the name is reserved by REDCap")
        by_name[f.field_name] = n
        if not FIELD_NAME.match(f.form_name or ""):
            out.append(f"{where}: form name {f.form_name!r} is not lowercase a-z, 0-9 and '_' starting with a letter")
        if not forms_seen or forms_seen[-1] != f.form_name:
            if f.form_name in forms_seen:
                out.append(f"{where}: the fields of form {f.form_name!r} are not all together")
            forms_seen.append(f.form_name)
        if f.field_type not in FIELD_TYPES:
            out.append(f"{where}: unknown field type {f.field_type!r}")
        for col in ("required_field", "identifier", "matrix_ranking"):
            if getattr(f, col) not in ("", "y"):
                out.append(f"{where}: {col} must be 'y' or blank")
        raw = f.select_choices_or_calculations
        if f.field_type in ("radio", "dropdown", "checkbox"):
            parts = [p.strip() for p in re.split(r"\s*\|\s*", raw or "") if p.strip()]
            if not parts:
                out.append(f"{where}: a {f.field_type} field needs choices")
            codes = []
            for part in parts:
                code, sep, label = part.partition(",")
                code = code.strip()
                if not sep or not label.strip():
                    out.append(f"{where}: choice {part!r} is not 'code, label'")
                if not _CHOICE_CODE.match(code):
                    out.append(f"{where}: choice code {code!r} is not a number or letters, digits and '_'")
                codes.append(code)
            if len(codes) != len(set(codes)):
                out.append(f"{where}: choice codes repeat")
        elif f.field_type == "calc":
            if not raw.strip():
                out.append(f"{where}: a calc field needs an expression")
            if raw.count("(") != raw.count(")"):
                out.append(f"{where}: unbalanced parentheses in the calculation")
            for ref in re.findall(r"\[([a-z][a-z0-9_]*)\]", raw):
                if ref not in {x.field_name for x in fields}:
                    out.append(f"{where}: the calculation uses [{ref}], which is not a field")
        elif f.field_type != "slider" and raw:
            out.append(f"{where}: a {f.field_type} field takes no choices or calculation")
        if f.field_type == "descriptive" and f.required_field:
            out.append(f"{where}: a descriptive field cannot be required")
        vt = f.text_validation_type_or_show_slider_number
        if f.field_type == "text" and vt not in VALIDATION_TYPES:
            out.append(f"{where}: unknown text validation {vt!r}")
        if vt in ("integer", "number"):
            for bound in (f.text_validation_min, f.text_validation_max):
                if bound and not _is_number(bound):
                    out.append(f"{where}: validation bound {bound!r} is not a number")
        for tag in _ACTION_TAG.findall(f.field_annotation or ""):
            if tag not in ACTION_TAGS:
                out.append(f"{where}: unknown action tag {tag}")
        if f.branching_logic:
            try:
                tokens = _parse_logic(f.branching_logic)
                _check_logic(tokens)
            except ValueError as exc:
                out.append(f"{where}: branching logic {f.branching_logic!r} is not REDCap syntax ({exc})")
                continue
            for k, (kind, text) in enumerate(tokens):
                if kind != "field":
                    continue
                ref = re.match(r"\[([a-z0-9_]+)", text).group(1)
                if ref not in by_name or ref == f.field_name:
                    out.append(f"{where}: branching logic uses [{ref}], which is not an earlier field")
                    continue
                target = fields[by_name[ref]]
                value = tokens[k + 2][1].strip("'\"")
                if target.choices and value not in target.choices:
                    out.append(f"{where}: branching logic compares [{ref}] with {value!r}, which is not one of its codes")
    groups: dict[str, list[int]] = {}
    for n, f in enumerate(fields):
        if f.matrix_group_name:
            groups.setdefault(f.matrix_group_name, []).append(n)
    for name, idx in groups.items():
        members = [fields[i] for i in idx]
        if not re.match(r"^[a-z0-9_]+$", name):
            out.append(f"matrix group {name!r}: name is not lowercase a-z, 0-9 and '_'")
        if idx != list(range(idx[0], idx[0] + len(idx))):
            out.append(f"matrix group {name!r}: its fields are not one consecutive run")
        if any(m.field_type not in ("radio", "checkbox") for m in members) or len({m.field_type for m in members}) > 1:
            out.append(f"matrix group {name!r}: all fields must be radio, or all checkbox")
        if len({m.select_choices_or_calculations for m in members}) > 1:
            out.append(f"matrix group {name!r}: the fields do not share the same choices")
        if any(m.section_header for m in members[1:]):
            out.append(f"matrix group {name!r}: only its first field may have a section header")
    return out


def _safe_cell(column: str, value: str) -> str:
    """A dictionary cell a spreadsheet will not run as a formula (OWASP "CSV injection").

    Free text (labels, headers, notes, annotations) that starts with ``=``, ``+``, ``-``, ``@``,
    tab or carriage return gets a leading ``'`` as in peerscale's other CSV outputs. Structured
    cells (choices, calculations, branching logic, validation bounds) cannot take the ``'``
    without changing their meaning; one that starts with a trigger (e.g. choices ``-1, Refused |
    ...``) gets a leading space instead, which REDCap and peerscale's reader strip. Plain numbers
    are left alone.
    """
    from .write import escape_formula_text

    if not value or not value[:1] in "=+-@\t\r":
        return value
    if column in _FREE_TEXT:
        return escape_formula_text(value)
    return value if _is_number(value) else " " + value


_FREE_TEXT = {"section_header", "field_label", "field_note", "field_annotation", "question_number", "custom_alignment"}


def dictionary_csv(dictionary: Dictionary, *, header: bool = True, skip_record_id: bool = False,
                   form: str | None = None) -> str:
    buf = io.StringIO(newline="")
    w = _csv.writer(buf, lineterminator="\n")
    if header:
        w.writerow(HEADERS)
    for i, f in enumerate(dictionary.fields):
        if skip_record_id and i == 0:
            continue
        if form is not None and f.form_name != form:
            continue
        w.writerow([_safe_cell(col, value) for col, value in zip(API_HEADERS, f.row())])
    return buf.getvalue()


def write_dictionary(dictionary: Dictionary, path, *, force: bool = False, protect=()) -> Path:
    from .write import atomic_write

    text = dictionary_csv(dictionary)
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8", newline=""),
                        force=force, protect=protect)


def write_instrument_zip(dictionary: Dictionary, path, form: str, *, force: bool = False, protect=()) -> Path:
    """A zip with ``instrument.csv`` (that form's dictionary rows, without the record id field),
    as REDCap's "Upload instrument ZIP" (Online Designer / instrument library) expects."""
    from .write import atomic_write

    text = dictionary_csv(dictionary, skip_record_id=True, form=form)

    def write(tmp):
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("instrument.csv", text)

    return atomic_write(path, write, force=force, protect=protect)
