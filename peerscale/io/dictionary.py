"""REDCap data dictionaries: read (CSV with REDCap's 18 headers, the older 17, or the API's
snake_case names; or an instrument zip), write one for an instrument, and map a project's
fields to an instrument's items.

Written dictionaries follow REDCap's documented conventions: record id field first (text, on
the first form); lowercase field names (item id with '.' → '_'); one radio field per item with
``code, label | code, label`` choices, the response scale's missing codes included (``9, Not
relevant to me yet``); consecutive items of one dimension and response scale share a matrix
group; optional calc fields (``score_<scale>``) use REDCap's ``mean()``/``sum()``, which skip
blanks, so their Field Note says the missing-data rule is applied by peerscale, not the calc.
"""

from __future__ import annotations

import csv as _csv
import html
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import PeerscaleError

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


def strip_label(text: str) -> str:
    """Field label as plain text (REDCap labels may hold HTML and entities)."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text or ""))).strip()


# --------------------------------------------------------------------------- reading

def read_dictionary(path: str | Path) -> Dictionary:
    """Read a data dictionary CSV (18 or 17 REDCap headers, or API snake_case) or an instrument zip."""
    from .csv import decode, read_bytes

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


def normalise_text(text: str) -> str:
    """Lowercase, HTML and punctuation removed, curly quotes straightened, whitespace collapsed,
    leading question numbers (``3.``, ``Q3)``) dropped: for matching labels to item texts."""
    t = unicodedata.normalize("NFKC", strip_label(text)).lower()
    t = t.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    t = re.sub(r"^\s*(q\s*)?\d+[.):]\s*", "", t)
    t = re.sub(r"[^\w\s]", "", t)
    return re.sub(r"\s+", " ", t).strip()


def _item_patterns(instrument) -> dict[str, tuple[str, list[str] | None]]:
    """Per item: the normalised text with placeholders filled, and (for texts with placeholders)
    the normalised literal pieces between them, so a placeholder can match any words (a project
    may have written a worker's name instead)."""
    out = {}
    for iid in instrument.items:
        filled = normalise_text(instrument.item_text(iid))
        raw = instrument.items[iid].text
        pieces = [normalise_text(p) for p in re.split(r"\{[^}]+\}", raw)] if "{" in raw else None
        out[iid] = (filled, pieces)
    return out


def _fits(pieces: list[str], label: str) -> bool:
    """True if ``label`` is the pieces in order with at least one word in each gap."""
    pos = 0
    last = len(pieces) - 1
    for n, piece in enumerate(pieces):
        if n == 0:
            if not label.startswith(piece):
                return False
            pos = len(piece)
            continue
        if n == last:
            end = len(label) - len(piece)
            return label.endswith(piece) and label[pos:end].strip() != "" and end >= pos
        found = label.find(piece, pos + 1) if piece else pos + 1
        if found < 0 or not label[pos:found].strip():
            return False
        pos = found + len(piece)
    return True


def match_label(label: str, instrument, patterns=None) -> str | None:
    """The one item whose text matches ``label`` (normalised; placeholders filled or as any
    words), else None."""
    label = normalise_text(label)
    if not label:
        return None
    patterns = patterns or _item_patterns(instrument)
    hits = [i for i, (text, _p) in patterns.items() if text == label]
    if not hits:
        hits = [i for i, (_t, pieces) in patterns.items() if pieces is not None and _fits(pieces, label)]
    return hits[0] if len(hits) == 1 else None


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
                         + (" (or declare it a missing-data code with --missing-code CODE=REASON)"))
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


def item_form(instrument, iid: str) -> str:
    from .redcap import form_name, instrument_forms

    forms = instrument_forms(instrument)
    if len(forms) == 1:
        return forms[0]
    f = instrument.items[iid].form
    return f"{form_name(instrument.name)}_{f.lower()}" if f else forms[0]


def _group_name(form: str, dim: str, n: int) -> str:
    base = re.sub(r"[^a-z0-9_]", "_", f"{form}_{dim}".lower())
    return base if n == 1 else f"{base}_{n}"


def build_dictionary(instrument, *, with_calc: bool = False) -> Dictionary:
    """The data dictionary for an instrument (see the module docstring for the conventions)."""
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
    prev_key = None
    dims = instrument.dimensions
    for iid, item in instrument.items.items():
        form = item_form(instrument, iid)
        rs = item.response_scale
        f = Field(redcap_field_name(iid), form, field_label=instrument.item_text(iid), required_field="y")
        tags = [f"peerscale: item={iid}"]
        if item.dimension:
            tags.append(f"dimension={item.dimension}")
        if item.reverse:
            tags.append("reverse-keyed")
        f.field_annotation = " ".join(tags)
        if rs.codes:
            f.field_type = "radio"
            choices = [f"{_code(c)}, {label}" for c, label in rs.codes.items()]
            choices += [f"{_code(c)}, {label}" for c, label in rs.missing.items()]
            f.select_choices_or_calculations = " | ".join(choices)
            key = (form, item.dimension or "items", rs.name)
            if key != prev_key:
                runs[key[:2]] = runs.get(key[:2], 0) + 1
                n = runs[key[:2]]
                label = dims.get(item.dimension, {}).get("label", item.dimension or "") if item.dimension else ""
                f.section_header = label if n == 1 else ""
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
        fields.extend(_calc_fields(instrument))
    return Dictionary(fields)


def _calc_fields(instrument) -> list[Field]:
    out = []
    taken = {redcap_field_name(i) for i in instrument.items}
    for scale in instrument.scales:
        fname = re.sub(r"[^a-z0-9_]", "_", f"score_{scale.name}".lower())
        if fname in taken:
            raise PeerscaleError(f"calc field name {fname!r} clashes with an item's field name")
        terms, reversed_ = [], []
        for iid, key in zip(scale.items, scale.keys):
            item = instrument.items[iid]
            rs = item.response_scale
            ref = f"[{redcap_field_name(iid)}]"
            value = f"({_code(rs.min + rs.max)}-{ref})" if key < 0 else ref
            if key < 0:
                reversed_.append(redcap_field_name(iid))
            numeric_missing = [_code(c) for c in rs.missing if _is_number(c)]
            if numeric_missing:
                cond = " or ".join(f"{ref}={c}" for c in numeric_missing)
                value = f"if({cond}, '', {value})"
            terms.append(value)
        func = "mean" if scale.method == "mean" else "sum"
        rule = scale.rule_text()
        note = (f"{'Mean' if func == 'mean' else 'Sum'} of {len(scale.items)} items"
                + (f", reverse-keyed: {', '.join(reversed_)}" if reversed_ else "")
                + f". REDCap's {func}() skips blank items; peerscale applies the missing-data rule "
                  f"({rule}), so score with peerscale for analysis.")
        if func == "sum" and scale.prorate:
            note += " peerscale prorates the sum; this calc does not."
        out.append(Field(fname, item_form(instrument, scale.items[0]), field_type="calc",
                         field_label=scale.label or scale.name,
                         select_choices_or_calculations=f"{func}({', '.join(terms)})",
                         field_note=note, field_annotation=f"peerscale: scale={scale.name}"))
    return out


def _safe_cells(row: list[str]) -> list[str]:
    """Cells of a written dictionary row that a spreadsheet cannot run: text starting with
    ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading ``'`` (as the score outputs; OWASP "CSV
    Injection"). Dictionaries are often edited in Excel before the upload to REDCap."""
    from .write import escape_formula_text

    return [escape_formula_text(c) for c in row]


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
        w.writerow(_safe_cells(f.row()))
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
