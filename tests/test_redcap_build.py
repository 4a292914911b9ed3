"""A REDCap build that is safe to field: score fields hidden on surveys, nothing required by
default, respondent-facing section headers, an instructions field with the recall period,
branching logic from ``requires``, formula-safe cells, the upload warning, and a dictionary and
instrument zip that obey REDCap's rules (checked by ``redcap_problems``, itself tested on bad
dictionaries)."""

from __future__ import annotations

import csv
import io
import re
import textwrap
import zipfile

import pandas as pd
import pytest

from peerscale.io.dictionary import (HEADERS, RECALL_SENTENCES, Dictionary, Field, build_dictionary, dictionary_csv,
                                     read_dictionary, redcap_problems)
from peerscale.scoring import score_data
from peerscale.spec import bundled_instruments, load_instrument

BUNDLED = bundled_instruments()


def rows_of(text):
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("inst", BUNDLED, ids=lambda i: i.name)
def test_default_build_is_safe_for_respondents(inst):
    d = build_dictionary(inst)
    assert redcap_problems(d) == []
    assert not [f for f in d.fields if f.field_type == "calc"], "score fields only with --with-calc"
    assert not [f for f in d.fields if f.required_field], "nothing required unless --required"
    # an instructions field opens the form and states the recall period
    intro = d.fields[1]
    assert intro.field_type == "descriptive" and intro.field_name.endswith("_instructions")
    assert intro.field_label.startswith(inst.instructions[:40])
    assert RECALL_SENTENCES[inst.recall] in intro.field_label or re.search(
        {"now": r"\bnow\b", "last_month": "last month"}[inst.recall], intro.field_label)
    # respondents never read construct names; the annotation keeps them for analysts
    labels = {d_["label"] for d_ in inst.dimensions.values()}
    shown = [f.section_header for f in d.fields] + [f.field_label for f in d.fields] + [f.field_note for f in d.fields]
    assert not [t for t in shown if any(lab in t for lab in labels)]
    headers = [f.section_header for f in d.fields if f.section_header]
    assert headers and all(h.startswith("For each") for h in headers)
    items = [f for f in d.fields if f.field_name in inst.items]
    for f in items:
        item = inst.items[f.field_name]
        if item.dimension:
            assert f"dimension={item.dimension}" in f.field_annotation
            assert f'construct="{inst.dimensions[item.dimension]["label"]}"' in f.field_annotation


@pytest.mark.parametrize("inst", BUNDLED, ids=lambda i: i.name)
def test_calc_fields_are_hidden_on_surveys_and_required_is_opt_in(inst):
    d = build_dictionary(inst, with_calc=True, required=True)
    assert redcap_problems(d) == []
    calcs = [f for f in d.fields if f.field_type == "calc"]
    # every scale gets its score (and items-answered count) computed in REDCap
    assert {f"score_{s.name}" for s in inst.scales} | {f"score_{s.name}_n" for s in inst.scales} <= \
        {f.field_name for f in calcs}
    for f in calcs:
        assert "@HIDDEN-SURVEY" in f.field_annotation.split() and "@READONLY" in f.field_annotation.split()
        assert not f.required_field
    items = [f for f in d.fields if f.field_name in inst.items]
    assert all(f.required_field == "y" for f in items)
    assert all(not f.required_field for f in d.fields if f.field_type == "descriptive")


def test_branching_logic_from_requires():
    inst = load_instrument("pbr-y")
    d = build_dictionary(inst)
    by = d.by_name()
    gated = [i.id for i in inst.items.values() if i.requires]
    assert gated and all(by[g].branching_logic == "[pbr_y_story_01] = '1'" for g in gated)
    assert not [f for f in d.fields if f.branching_logic and f.field_name not in gated]
    names = [f.field_name for f in d.fields]
    assert all(names.index("pbr_y_story_01") < names.index(g) for g in gated)
    screen = by["pbr_y_story_01"]
    assert screen.choices == {"1": "Yes", "2": "No", "3": "Not sure"} and not screen.matrix_group_name
    assert "screening-question" in screen.field_annotation


def test_branching_logic_with_several_answers_and_text_codes(tmp_path):
    (tmp_path / "i.yaml").write_text(textwrap.dedent("""
        name: branchy
        response_scales:
          YN: {codes: {1: "Yes", 2: "No"}, missing: {UNK: Unknown}}
          AG: {min: 1, max: 5}
        items:
          - {id: s1, text: "Screen", response_scale: YN}
          - {id: q1, text: "Q1", response_scale: AG, requires: {item: s1, answer: [1, UNK]}}
        scales: [{name: s, items: [q1]}]
    """))
    d = build_dictionary(load_instrument(tmp_path / "i.yaml"))
    assert d.by_name()["q1"].branching_logic == "[s1] = '1' or [s1] = 'UNK'"
    assert redcap_problems(d) == []


def test_observer_anchors_are_in_the_choices_and_label_exports_still_score():
    inst = load_instrument("act-s")
    d = build_dictionary(inst)
    f = d.by_name()["act_s_engage_01"]
    assert not f.matrix_group_name
    choices = f.choices
    assert choices["1"].startswith("Not done when there was a chance: Meetings follow")
    assert "the young person" in choices["2"] and "{yp}" not in choices["2"]
    assert choices["9"] == "No opportunity to observe"
    # a REDCap label export carries the whole choice label; it scores as its code
    row = {iid: d.by_name()[iid].choices["3"] for iid in inst.items}
    row["act_s_voice_01"] = d.by_name()["act_s_voice_01"].choices["9"]
    s = score_data(pd.DataFrame([row]), inst).scores
    assert s["act_total"].iloc[0] == 3.0 and s["act_total_n"].iloc[0] == 13


def test_cli_warns_that_uploading_a_dictionary_replaces_instruments(tmp_path, run_cli):
    code, out, err = run_cli("redcap-dictionary", "pbr-y", "-o", tmp_path / "d.csv")
    assert code == 0, err
    assert "REPLACES all instruments" in err and "--zip" in err and "Online Designer" in err
    rows = rows_of((tmp_path / "d.csv").read_text())
    assert rows[0] == HEADERS and not [r for r in rows[1:] if r[3] == "calc" or r[12]]
    code, _, err = run_cli("redcap-dictionary", "pbr-y", "-o", tmp_path / "d2.csv", "--with-calc", "--required")
    rows = rows_of((tmp_path / "d2.csv").read_text())
    assert [r for r in rows if r[3] == "calc"] and all({"@HIDDEN-SURVEY", "@READONLY"} <= set(r[17].split()) for r in rows if r[3] == "calc")
    assert all(r[12] == "y" for r in rows[1:] if r[3] == "radio")


@pytest.mark.parametrize("inst", BUNDLED, ids=lambda i: i.name)
def test_instrument_zip_obeys_redcap_rules(tmp_path, run_cli, inst):
    z = tmp_path / "inst.zip"
    code, _, err = run_cli("redcap-dictionary", inst.name, "-o", tmp_path / "d.csv", "--zip", z, "--with-calc")
    assert code == 0, err
    with zipfile.ZipFile(z) as zf:
        assert zf.namelist() == ["instrument.csv"]
        rows = rows_of(zf.read("instrument.csv").decode("utf-8"))
    assert rows[0] == HEADERS and len(rows[0]) == 18
    assert "record_id" not in [r[0] for r in rows[1:]] and len({r[1] for r in rows[1:]}) == 1
    assert rows[1][3] == "descriptive" and rows[1][0].endswith("_instructions")
    # the zip's fields, under a project's record id, are a valid dictionary
    back = read_dictionary(z)
    project = Dictionary([Field("record_id", back.fields[0].form_name, field_type="text", field_label="Record ID")]
                         + back.fields)
    assert redcap_problems(project) == []


def test_multi_form_instrument_gets_one_instructions_field_and_zip_per_form(tmp_path, run_cli):
    (tmp_path / "dyad.yaml").write_text(textwrap.dedent("""
        name: dyad
        recall: now
        instructions: "Answer about your peer support now."
        response_scales: {AG: {min: 1, max: 5, codes: {1: a, 2: b, 3: c, 4: d, 5: e}}}
        items:
          - {id: y1, text: "Y one", response_scale: AG, form: Y, dimension: D}
          - {id: p1, text: "P one", response_scale: AG, form: P, dimension: D}
          - {id: y2, text: "Y two", response_scale: AG, form: Y, dimension: D}
        dimensions: {D: {label: Dee}}
        scales: [{name: d, items: [y1, y2]}]
    """))
    d = build_dictionary(load_instrument(tmp_path / "dyad.yaml"), with_calc=True)
    names = [f.field_name for f in d.fields]
    # one instructions field opens each form; the score fields follow the Y form's items, in that form
    score_fields = [n for n in names if n.startswith(("score_d", "ps_d"))]
    assert set(score_fields) == {"score_d", "score_d_n", "ps_d", "ps_d_n"}
    forms = {f.field_name: f.form_name for f in d.fields}
    assert {forms[n] for n in score_fields} == {"dyad_y"}
    assert [n for n in names if n not in score_fields] in (
        ["record_id", "dyad_p_instructions", "p1", "dyad_y_instructions", "y1", "y2"],
        ["record_id", "dyad_y_instructions", "y1", "y2", "dyad_p_instructions", "p1"])
    assert names.index("dyad_y_instructions") < names.index("y1") < min(names.index(n) for n in score_fields)
    assert redcap_problems(d) == []
    code, _, err = run_cli("redcap-dictionary", tmp_path / "dyad.yaml", "-o", tmp_path / "d.csv", "--zip",
                           tmp_path / "z.zip")
    assert code == 0, err
    assert (tmp_path / "z_dyad_y.zip").exists() and (tmp_path / "z_dyad_p.zip").exists()


def test_cells_cannot_start_a_spreadsheet_formula(tmp_path):
    (tmp_path / "evil.yaml").write_text(textwrap.dedent("""
        name: evil
        instructions: "=HYPERLINK(\\"http://x\\", \\"click\\")"
        response_scales:
          R: {min: -1, max: 1, codes: {-1: "=cmd|' /C calc'!A0", 0: "+zero", 1: "@one"}}
        dimensions: {D: {label: "-minus construct"}}
        items:
          - {id: q1, text: "=1+1", response_scale: R, dimension: D}
          - {id: q2, text: "+plus first", response_scale: R, dimension: D}
          - {id: q3, text: "-dash first", response_scale: R, dimension: D}
        scales: [{name: s, items: [q1, q2, q3]}]
    """))
    d = build_dictionary(load_instrument(tmp_path / "evil.yaml"))
    text = dictionary_csv(d)
    rows = rows_of(text)
    for r in rows[1:]:
        for cell in r:
            assert not re.match(r"^[=+\-@\t\r]", cell), (r[0], cell)
    by = {r[0]: r for r in rows[1:]}
    assert by["q1"][4] == "'=1+1" and by["evil_instructions"][4].startswith("'=HYPERLINK")
    assert by["q2"][4] == "'+plus first" and by["q3"][4] == "'-dash first"
    from peerscale.io.dictionary import _safe_cell
    assert _safe_cell("field_label", "\tTab") == "'\tTab" and _safe_cell("field_note", "\rCR") == "'\rCR"
    assert _safe_cell("text_validation_min", "-5") == "-5" and _safe_cell("branching_logic", "[a] = '1'") == "[a] = '1'"
    # the choices keep their codes: a leading space, which REDCap and our reader strip
    assert by["q1"][5].startswith(" -1, =cmd/' /C calc'!A0 | 0, +zero")
    (tmp_path / "d.csv").write_text(text)
    back = read_dictionary(tmp_path / "d.csv")
    assert back.by_name()["q1"].choices == {"-1": "=cmd/' /C calc'!A0", "0": "+zero", "1": "@one"}
    assert back.by_name()["q1"].field_annotation.startswith("peerscale: item=q1")


def _bad(**changes):
    """A valid two-form dictionary with one change applied."""
    fields = [
        Field("record_id", "f1", field_type="text", field_label="ID"),
        Field("s1", "f1", field_type="radio", field_label="Screen", select_choices_or_calculations="1, Yes | 2, No"),
        Field("a1", "f1", field_type="radio", field_label="A1", select_choices_or_calculations="1, x | 2, y",
              matrix_group_name="g", section_header="Part"),
        Field("a2", "f1", field_type="radio", field_label="A2", select_choices_or_calculations="1, x | 2, y",
              matrix_group_name="g", branching_logic="[s1] = '1'"),
        Field("c1", "f1", field_type="calc", field_label="C", select_choices_or_calculations="mean([a1], [a2])",
              field_annotation="@HIDDEN-SURVEY @READONLY"),
        Field("t1", "f2", field_type="text", field_label="T", text_validation_type_or_show_slider_number="integer",
              text_validation_min="1", text_validation_max="5"),
        Field("d1", "f2", field_type="descriptive", field_label="Read this"),
    ]
    for name, change in changes.items():
        for attr, value in (change if isinstance(change, list) else [change]):
            f = next(x for x in fields if x.field_name == name)
            setattr(f, attr, value)
    return Dictionary(fields)


def test_the_valid_base_passes():
    assert redcap_problems(_bad()) == []


@pytest.mark.parametrize("changes, words", [
    ({"a1": ("field_name", "A1")}, "a field name is lowercase"),
    ({"a1": ("field_name", "a__x___y")}, "has no '___'"),
    ({"a1": ("field_name", "s1")}, "listed twice"),
    ({"a1": ("field_name", "redcap_event_name")}, "reserved by REDCap"),
    ({"a1": ("field_name", "f2_complete")}, "reserved by REDCap"),
    ({"s1": ("form_name", "f2")}, "are not all together"),
    ({"a1": ("form_name", "2form")}, "form name '2form'"),
    ({"record_id": ("field_type", "radio")}, "must be a text field"),
    ({"a1": ("field_type", "textbox")}, "unknown field type"),
    ({"s1": ("select_choices_or_calculations", "")}, "needs choices"),
    ({"s1": ("select_choices_or_calculations", "1, Yes | 1, No")}, "choice codes repeat"),
    ({"s1": ("select_choices_or_calculations", "1 Yes | 2, No")}, "is not 'code, label'"),
    ({"s1": ("select_choices_or_calculations", "a b, Yes | 2, No")}, "choice code 'a b'"),
    ({"c1": ("select_choices_or_calculations", "mean([a1], [zz])")}, "uses [zz], which is not a field"),
    ({"c1": ("select_choices_or_calculations", "mean([a1], [a2]")}, "unbalanced parentheses"),
    ({"c1": ("select_choices_or_calculations", "")}, "needs an expression"),
    ({"t1": ("select_choices_or_calculations", "1, x")}, "takes no choices"),
    ({"d1": ("required_field", "y")}, "descriptive field cannot be required"),
    ({"a1": ("required_field", "yes")}, "required_field must be 'y' or blank"),
    ({"t1": ("text_validation_type_or_show_slider_number", "integr")}, "unknown text validation"),
    ({"t1": ("text_validation_min", "one")}, "is not a number"),
    ({"c1": ("field_annotation", "@HIDDEN-SURVEYS")}, "unknown action tag @HIDDEN-SURVEYS"),
    ({"a2": ("branching_logic", "[s1] == '1'")}, "is not REDCap syntax"),
    ({"a2": ("branching_logic", "[s1] = '1' and")}, "is not REDCap syntax"),
    ({"a2": ("branching_logic", "([s1] = '1'")}, "is not REDCap syntax"),
    ({"a2": ("branching_logic", "s1 = 1")}, "is not REDCap syntax"),
    ({"a2": ("branching_logic", "[zz] = '1'")}, "uses [zz], which is not an earlier field"),
    ({"a2": ("branching_logic", "[a2] = '1'")}, "uses [a2], which is not an earlier field"),
    ({"a2": ("branching_logic", "[s1] = '3'")}, "compares [s1] with '3', which is not one of its codes"),
    ({"a2": ("select_choices_or_calculations", "1, x | 2, z")}, "do not share the same choices"),
    ({"a2": ("section_header", "Another header")}, "only its first field may have a section header"),
    ({"t1": [("field_type", "radio"), ("select_choices_or_calculations", "1, x | 2, y"),
             ("text_validation_type_or_show_slider_number", ""), ("text_validation_min", ""), ("text_validation_max", ""),
             ("matrix_group_name", "g")]}, "not one consecutive run"),
    ({"c1": ("matrix_group_name", "g")}, "all fields must be radio, or all checkbox"),
    ({"a1": ("matrix_group_name", "G-1"), "a2": ("matrix_group_name", "G-1")}, "name is not lowercase"),
])
def test_rule_checker_finds_each_broken_rule(changes, words):
    problems = redcap_problems(_bad(**changes))
    assert any(words in p for p in problems), problems


def test_valid_branching_forms():
    for logic in ("[s1] = '1' or [s1] = '2'", "([s1] = '1') and [s1] <> '2'", '[s1]="1"', "[s1] = 1"):
        assert redcap_problems(_bad(a2=("branching_logic", logic))) == [], logic
