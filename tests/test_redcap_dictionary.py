"""REDCap data dictionaries: written for every bundled instrument in REDCap's exact layout,
read back in all three header styles, calc fields, the instrument zip, field → item mapping,
and the redcap-dictionary / redcap-mapping commands."""

import csv
import io
import zipfile
from pathlib import Path

import pytest

from peerscale.cli import main
from peerscale.errors import PeerscaleError
from peerscale.io import read_table
from peerscale.io.dictionary import (API_HEADERS, HEADERS, build_dictionary, dictionary_csv, map_fields,
                                     parse_choices, read_dictionary, redcap_problems)
from peerscale.spec import adhoc_instrument, bundled_instruments, load_instrument

FIX = Path(__file__).parent / "fixtures" / "redcap"
MINI = FIX / "mini-y.yaml"


def rows_of(text):
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("inst", bundled_instruments(), ids=lambda i: i.name)
def test_bundled_instrument_dictionaries_follow_redcap_rules(inst):
    d = build_dictionary(inst, with_calc=True)
    rows = rows_of(dictionary_csv(d))
    assert rows[0] == HEADERS and len(HEADERS) == 18
    form = inst.name.replace("-", "_")
    assert rows[1][:5] == ["record_id", form, "", "text", "Record ID"]
    names = [r[0] for r in rows[1:]]
    assert len(names) == len(set(names))
    assert all(n == n.lower() and n[0].isalpha() and n.replace("_", "").isalnum() for n in names)
    assert {r[1] for r in rows[1:]} == {form}
    assert rows[2][:4] == [f"{form}_instructions", form, "", "descriptive"]
    items = [r for r in rows[1:] if r[3] == "radio"]
    assert len(items) == len(inst.items)
    screens = set(inst.screening_items())
    for r in items:
        iid = r[0]
        rs = inst.items[iid].response_scale
        choices = parse_choices(r[5])
        assert [float(c) for c in choices][:len(rs.codes)] == list(rs.codes)
        assert all(str(label) in choices.values() for label in rs.missing.values())
        assert r[12] == ""  # not required unless --required
        assert r[15].startswith(form + "_") or inst.items[iid].anchors or iid in screens
        assert r[4] == inst.item_text(iid) and "{" not in r[4]
    # a matrix group is one consecutive run with identical choices
    groups = {}
    for i, r in enumerate(items):
        if r[15]:
            groups.setdefault(r[15], []).append((i, r[5]))
    for members in groups.values():
        idx = [i for i, _ in members]
        assert idx == list(range(idx[0], idx[0] + len(idx)))
        assert len({c for _, c in members}) == 1
    # score fields: per score column a calc field (REDCap computes it) and a read-only field
    # that receives peerscale's score from the import file
    calcs = {r[0]: r for r in rows[1:] if r[3] == "calc"}
    stored = {r[0]: r for r in rows[1:] if r[0].startswith("ps_")}
    for s in inst.scales:
        cols = [s.name, f"{s.name}_n"] + ([f"{s.name}_band"] if s.name in inst.bands else [])
        assert {f"score_{c}" for c in cols} <= set(calcs) and {f"ps_{c}" for c in cols} <= set(stored)
        assert calcs[f"score_{s.name}"][5].startswith(f"if([score_{s.name}_n]>={s.required}, mean(")
        assert "Same rule and result as peerscale" in calcs[f"score_{s.name}"][6]
        assert stored[f"ps_{s.name}"][3] == "text" and stored[f"ps_{s.name}"][7] == "number"
        assert "@READONLY" in stored[f"ps_{s.name}"][17] and "@HIDDEN-SURVEY" in calcs[f"score_{s.name}"][17]
    intros = [r for r in rows[1:] if r[3] == "descriptive" and r[0].endswith("_instructions")]
    assert len(calcs) + len(stored) == len(rows) - 2 - len(items) - len(intros)
    # score fields never show on a survey
    assert all("@HIDDEN-SURVEY" in r[17] and "@READONLY" in r[17] for r in calcs.values())
    assert redcap_problems(d) == []


def test_calc_fields_reverse_key_and_skip_missing_codes():
    inst = load_instrument(MINI)
    d = build_dictionary(inst, with_calc=True)
    calc = {f.field_name: f for f in d.fields if f.field_type == "calc"}
    share = calc["score_share"].select_choices_or_calculations
    gone = "isblankormissingcode([mini_share_{0}]) or [mini_share_{0}]=9"
    assert share == (f"if([score_share_n]>=3, mean(if({gone.format(1)}, '', [mini_share_1]), "
                     f"if({gone.format(2)}, '', [mini_share_2]), if({gone.format(3)}, '', (6-[mini_share_3]))), '')")
    assert calc["score_share_n"].select_choices_or_calculations == (
        f"sum(if({gone.format(1)}, 0, 1), if({gone.format(2)}, 0, 1), if({gone.format(3)}, 0, 1))")
    assert "at least 75% of 3 items answered (3)" in calc["score_share"].field_note
    assert "9 (Not relevant to me yet)" in calc["score_share_n"].field_note
    no_missing = adhoc_instrument(["A=a1,-a2"], value_range=(1, 6))
    bad_name = adhoc_instrument(["A=1bad"], value_range=(1, 6))
    with pytest.raises(PeerscaleError, match="cannot be a REDCap field name"):
        build_dictionary(bad_name)
    d2 = build_dictionary(no_missing, with_calc=True)
    calc2 = {f.field_name: f.select_choices_or_calculations for f in d2.fields if f.field_type == "calc"}
    assert calc2["score_a"] == ("if([score_a_n]>=2, mean(if(isblankormissingcode([a1]), '', [a1]), "
                                "if(isblankormissingcode([a2]), '', (7-[a2]))), '')")
    assert d2.fields[2].field_type == "text" and d2.fields[2].text_validation_type_or_show_slider_number == "integer"
    assert (d2.fields[2].text_validation_min, d2.fields[2].text_validation_max) == ("1", "6")


def test_user_instrument_ids_are_lowercased_and_match_back(tmp_path):
    inst = adhoc_instrument(["A=Q1.a,Q2"], value_range=(1, 5))
    d = build_dictionary(inst)
    assert [f.field_name for f in d.fields] == ["record_id", "ad_hoc_instructions", "q1_a", "q2"]
    (tmp_path / "export.csv").write_text("record_id,q1_a,q2,ad_hoc_complete\n1,2,3,2\n")
    t = read_table(tmp_path / "export.csv", instrument=inst)
    assert t.suggested_map == {"q1_a": "Q1.a", "q2": "Q2"}


def test_dictionary_reads_back_in_all_header_styles(tmp_path):
    inst = load_instrument(MINI)
    d = build_dictionary(inst, with_calc=True)
    text = dictionary_csv(d)
    rows = rows_of(text)
    variants = {
        "redcap.csv": text,
        "api.csv": "\n".join(",".join(f'"{c}"' for c in r) for r in [API_HEADERS] + rows[1:]),
        "old17.csv": "\n".join(",".join(f'"{c}"' for c in r[:17]) for r in rows),
    }
    for name, content in variants.items():
        (tmp_path / name).write_text(content)
        back = read_dictionary(tmp_path / name)
        assert [f.field_name for f in back.fields] == [f.field_name for f in d.fields]
        assert back.record_id == "record_id"
        assert back.fields[2].choices == {"1": "Strongly disagree", "2": "Disagree", "3": "Neither agree nor disagree",
                                          "4": "Agree", "5": "Strongly agree", "9": "Not relevant to me yet"}


def test_choice_parsing_variants():
    assert parse_choices("1, one|2, two") == {"1": "one", "2": "two"}
    assert parse_choices("a, Yes, really | b , No") == {"a": "Yes, really", "b": "No"}
    assert parse_choices("1, x \\n 2, y") == {"1": "x", "2": "y"}


@pytest.mark.parametrize("content,message", [
    ("", "empty"),
    ("a,b,c\n1,2,3\n", "not a REDCap data dictionary"),
    (",".join(f'"{h}"' for h in HEADERS) + "\n", "no fields"),
    (",".join(f'"{h}"' for h in HEADERS) + "\nrecord_id,f,,text,ID\nrecord_id,f,,text,ID\n", "listed twice"),
    (",".join(f'"{h}"' for h in HEADERS) + "\nrecord_id,f,,textbox,ID\n", "unknown field type"),
])
def test_bad_dictionaries(tmp_path, content, message):
    p = tmp_path / "d.csv"
    p.write_text(content)
    with pytest.raises(PeerscaleError, match=message):
        read_dictionary(p)


def test_mapping_by_name_annotation_and_label():
    inst = load_instrument(MINI)
    by_name = map_fields(read_dictionary(FIX / "project_dictionary.csv"), inst)
    assert {h for _, _, h in by_name.matched} == {"name"} and not by_name.unmatched_items
    assert by_name.unmatched_fields == ["age", "contact_date", "contact_minutes"]
    renamed = map_fields(read_dictionary(FIX / "renamed_dictionary.csv"), inst)
    # labels have HTML, numbering and a worker's name in place of the {psw} placeholder
    assert [(f, i) for f, i, _ in renamed.matched] == [(f"q{n + 1}", iid) for n, iid in enumerate(inst.items)]
    assert {h for _, _, h in renamed.matched} == {"label"}
    ours = build_dictionary(inst)
    for f in ours.fields[1:]:
        f.field_name = "renamed_" + f.field_name  # the annotation still identifies the item
    assert {h for _, _, h in map_fields(ours, inst).matched} == {"annotation"}


def test_cli_redcap_dictionary_and_zip(tmp_path, capsys):
    out, z = tmp_path / "dict.csv", tmp_path / "inst.zip"
    assert main(["redcap-dictionary", str(MINI), "-o", str(out), "--with-calc", "--zip", str(z)]) == 0
    rows = rows_of(out.read_text())
    assert rows[0] == HEADERS and rows[1][0] == "record_id" and len(rows) == 1 + 1 + 1 + 6 + 2 * 4  # + instructions
    with zipfile.ZipFile(z) as zf:
        assert zf.namelist() == ["instrument.csv"]
        inner = rows_of(zf.read("instrument.csv").decode())
    assert inner[0] == HEADERS and [r[0] for r in inner[1:]] == [r[0] for r in rows[2:]]  # no record id
    assert read_dictionary(z).fields[0].field_name == "mini_y_instructions"
    assert main(["redcap-dictionary", str(MINI), "-o", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["redcap-dictionary", str(MINI), "-o", str(out), "--force"]) == 0
    assert main(["redcap-dictionary", "no-such-instrument", "-o", str(tmp_path / "x.csv")]) == 1


def test_cli_redcap_mapping_writes_column_item_csv(tmp_path, capsys):
    out = tmp_path / "map.csv"
    assert main(["redcap-mapping", str(FIX / "renamed_dictionary.csv"), "-i", str(MINI), "-o", str(out)]) == 0
    assert out.read_text().splitlines()[:2] == ["column,item", "q1,mini_share_1"]
    err = capsys.readouterr().err
    assert "matched 6 of 6 items (6 by label)" in err and "fields matching no item (3): age" in err
    assert main(["redcap-mapping", str(FIX / "renamed_dictionary.csv"), "-i", str(MINI)]) == 0
    assert capsys.readouterr().out.startswith("column,item\nq1,mini_share_1\n")


def test_export_of_a_project_built_from_our_dictionary_needs_no_mapping(tmp_path):
    """Field names are item ids: a raw export scores with just --instrument."""
    inst = load_instrument("pbr-y")
    d = build_dictionary(inst)
    fields = [f.field_name for f in d.fields]
    header = ["record_id", "redcap_event_name"] + fields[1:] + ["pbr_y_complete"]
    line = ["1", "baseline_arm_1"] + ["4"] * (len(fields) - 1) + ["2"]
    (tmp_path / "export.csv").write_text(",".join(header) + "\n" + ",".join(line) + "\n")
    t = read_table(tmp_path / "export.csv", instrument=inst)
    assert t.suggested_map == {}
    assert all(t.data[i].dtype.kind == "f" for i in inst.items)
    assert t.id_columns == ["record_id", "redcap_event_name"]
    out = tmp_path / "scores.csv"
    assert main(["score", str(tmp_path / "export.csv"), "--instrument", "pbr-y", "-o", str(out), "-q"]) == 0
    scores = read_table(out)
    share = inst.scale("share")
    n_rev = sum(k < 0 for k in share.keys)  # items at 4, reverse-keyed ones reversed to 2
    assert scores.data["share"].tolist() == [pytest.approx((4 * (len(share.items) - n_rev) + 2 * n_rev) / len(share.items))]
