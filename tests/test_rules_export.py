"""Scoring rules that travel (peerscale.rules_export): the SPSS syntax run in PSPP, the R
function run with Rscript and the REDCap calc fields run by a small evaluator
(tests/redcap_calc.py) give peerscale's scores, to 1e-9, for every bundled instrument and a
user scoring file with sums, proration, norms, bands and composites; on the bundled example
exports and on generated data with missing codes, reverse keys, too-few-answered rows, labels
and invalid values. Also the REDCap import file and the export-rules command."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import FIXTURES, ROOT
from rules_harness import (compare, example_rows, make_responses, peerscale_scores, pspp_scores, r_scores,
                           read_import_file, redcap_scores)
from peerscale import PeerscaleError, adhoc_instrument, load_instrument
from peerscale.io.dictionary import build_dictionary, parse_choices
from peerscale.rules_export import (NORM_TOLERANCE, describe, export_text, num, r_script, redcap_names,
                                    spss_syntax)
from peerscale.scoring import score_data
from peerscale.spec import bundled_instruments

USER = FIXTURES / "rules" / "user-scale.yaml"
# psych-style ad-hoc keys (a declared range, no codes, no missing codes), as `score --scale`
ADHOC = adhoc_instrument(["A=-A1,A2,A3,A4,A5", "C=C1,C2,C3,-C4,-C5"], value_range=(1, 6), min_answered=0.6)
INSTRUMENTS = bundled_instruments() + [load_instrument(USER), ADHOC]
IDS = [i.name for i in INSTRUMENTS]
needs_pspp = pytest.mark.skipif(shutil.which("pspp") is None, reason="pspp is not installed (apt-get install pspp)")
needs_r = pytest.mark.skipif(shutil.which("Rscript") is None,
                             reason="Rscript is not installed (apt-get install r-base-core): the R export is not run")


def with_examples(inst, generated: pd.DataFrame) -> pd.DataFrame:
    ex = example_rows(inst)
    return generated if ex is None else pd.concat([ex, generated], ignore_index=True)


# --------------------------------------------------------------------------- equality, run where they run

@needs_pspp
@pytest.mark.parametrize("inst", INSTRUMENTS, ids=IDS)
def test_spss_syntax_run_in_pspp_gives_peerscale_scores(inst, tmp_path):
    # the bundled example export (when it holds the instrument) and generated data with
    # numeric and text missing codes, blanks, too-few-answered rows and values that are not answers
    data = with_examples(inst, make_responses(inst, 300, seed=11, invalid=True))
    expected = peerscale_scores(inst, data, on_invalid="missing")
    got = pspp_scores(inst, data, tmp_path)
    compare(inst, expected, got, f"PSPP {inst.name}")
    assert expected[describe(inst).scores[0].name].notna().sum() > 50  # not a comparison of empty columns


@needs_r
@pytest.mark.parametrize("inst", INSTRUMENTS, ids=IDS)
def test_r_function_gives_peerscale_scores(inst, tmp_path):
    examples = with_examples(inst, make_responses(inst, 150, seed=21))
    labelled = make_responses(inst, 200, seed=22, labels=True)
    bad = make_responses(inst, 200, seed=23, labels=True, invalid=True)
    project = labelled.copy()   # project missing-data codes, given as missing_codes
    rng = np.random.default_rng(24)
    for iid in inst.scale_items():
        project[iid] = project[iid].astype(object).where(rng.random(len(project)) >= 0.05,
                                                         rng.choice(["NASK", "-888"], len(project)))
    got = r_scores(inst, {"examples": (examples, "error"), "labelled": (labelled, "error"),
                          "bad": (bad, "missing"), "bad_stops": (bad, "error"),
                          "project": (project, "error", ["NASK", "-888"])}, tmp_path)
    extra = {iid: {"NASK": "Not asked", "-888": "Skipped"} for iid in inst.scale_items()}
    compare(inst, peerscale_scores(inst, project, missing_values=extra), got["project"], f"R {inst.name} codes")
    compare(inst, peerscale_scores(inst, examples), got["examples"], f"R {inst.name} examples")
    compare(inst, peerscale_scores(inst, labelled), got["labelled"], f"R {inst.name} labels")
    compare(inst, peerscale_scores(inst, bad, on_invalid="missing"), got["bad"], f"R {inst.name} invalid")
    with pytest.raises(PeerscaleError) as err:
        score_data(bad, inst)
    n_bad = str(err.value).split(" value(s)")[0].split(": ")[-1]
    assert got["bad_stops"].startswith(f"{n_bad} value(s) are not valid answers: row ")  # same count as peerscale
    # the same columns: the instrument's id columns found in the data (else `row`), then the scores
    assert list(got["examples"].columns) == list(peerscale_scores(inst, examples).columns)


@pytest.mark.parametrize("inst", INSTRUMENTS, ids=IDS)
def test_redcap_calc_fields_give_peerscale_scores(inst):
    # what a REDCap project holds: codes, the scale's missing codes, blanks and a project
    # missing-data code (isblankormissingcode), never labels or out-of-range values
    data = make_responses(inst, 300, seed=31)
    items = inst.scale_items()
    rng = np.random.default_rng(32)
    for iid in items:
        data[iid] = data[iid].astype(object).where(rng.random(len(data)) >= 0.03, "NASK")
    ex = example_rows(inst)
    if ex is not None:
        data = pd.concat([ex, data], ignore_index=True)
    project = {iid: {"NASK": "Not asked (project missing-data code)"} for iid in items}
    expected = peerscale_scores(inst, data, missing_values=project)
    got = redcap_scores(inst, data, project_missing={"NASK"})
    compare(inst, expected, got, f"REDCap calc {inst.name}")


def test_rounding_at_norm_rows_and_band_edges_agrees_everywhere(tmp_path):
    """Scores on band edges (2.5, 1, 5), on a norm row after proration (24 from 5 answered of 6)
    and on interpolation anchors (b = 0, 4.5 and 18, the last from 2 answered of 4)."""
    inst = load_instrument(USER)
    rows = [
        {"a1": 2, "a2": 3, "a3": 4, "a4": 2, "a5": 3, "a6": 3},        # reversed 4 -> 2, 3 -> 3: mean 2.5
        {"a1": 4, "a2": 4, "a3": 2, "a4": 4, "a5": 2, "a6": None},     # 5 of 6: mean 4, prorated 24 -> T 59.3
        {"a1": 1, "a2": 1, "a3": 5, "a4": 1, "a5": 5, "a6": 1},        # all 1 after keys: 1, band edge
        {"a1": 5, "a2": 5, "a3": 1, "a4": 5, "a5": 1, "a6": 5},        # 5: the last band includes its max
        {"a1": 2, "a2": 2, "a3": 9, "a4": -999, "a5": "UNK", "a6": 2},  # 3 answered: a missing, a_sum missing
    ]
    data = pd.DataFrame([{**{f"b{j}": v for j, v in zip(range(1, 5), b)}, "c1": c1, "c2": 4, "c3": 4, **r,
                          "record_id": f"x{k}"} for k, (r, b, c1) in enumerate(
        zip(rows, [(0, 6, 0, 0), (1.5, 6, 1.5, 1.5), (6, 0, 6, 6), (4.5, 1.5, None, None), (0, -1, None, None)],
            [1, 2, 3, 4, 8]))], dtype=object)
    expected = peerscale_scores(inst, data)
    assert list(expected["a"][:4]) == [2.5, 4, 1, 5] and pd.isna(expected["a"][4])
    assert list(expected["a_band"][:4]) == ["Middle", "High (it's often)", "Low", "High (it's often)"]
    assert expected["a_sum_t"][1] == 59.3 and expected["b_t"][0] == -10 and expected["b_t"][1] == 20.25
    assert expected["b_t"][3] == 61.1 and expected["b_band"][3] == "Elevated" and pd.isna(expected["b"][4])
    compare(inst, expected, redcap_scores(inst, data), "REDCap edges")
    if shutil.which("pspp"):
        compare(inst, expected, pspp_scores(inst, data, tmp_path), "PSPP edges")
    if shutil.which("Rscript"):
        compare(inst, expected, r_scores(inst, {"edges": (data, "error")}, tmp_path)["edges"], "R edges")


# --------------------------------------------------------------------------- what the files say

def test_spss_syntax_states_the_rules_and_uses_spss_idioms():
    inst = load_instrument(USER)
    sps = spss_syntax(describe(inst))
    assert sps.startswith("* Encoding: UTF-8.\n* User scale with sums, norms, bands and composites")
    assert "user-scale, version 2.1" in sps and "a = mean of the answered items, when at least 5 of the 6" in sps
    assert "MISSING VALUES a1 a2 a3 a4 a5 a6 (9, -999)." in sps
    assert "More than three missing-data codes (8, 9, 98, 99)" in sps  # AG4: stated, not declared
    assert "RECODE a3 (MISSING = SYSMIS) (9, -999 = SYSMIS) (1 = 5) (2 = 4) (3 = 3)\n  (4 = 2) (5 = 1)" in sps
    assert "COMPUTE a = MEAN.5(#k_a1, #k_a2, #r_a3, #k_a4, #r_a5, #k_a6)." in sps
    assert "COMPUTE a_sum = MEAN.4(#k_a1, #k_a2, #r_a3, #k_a4, #r_a5, #k_a6) * 6." in sps
    assert "COMPUTE c = SUM.1(#r_c1, #k_c2, #k_c3)." in sps and "COMPUTE c_n = NVALID(#r_c1, #k_c2, #k_c3)." in sps
    assert "COMPUTE #r_b2 = 6 - #r_b2." in sps  # a range-only scale is reversed arithmetically
    assert "RECODE a2 (MISSING = SYSMIS) (9, -999 = SYSMIS) (1 = 5)" in sps  # reversed in 'mix' only
    assert "VALUE LABELS a_band 1 'Low' 2 'Middle' 3 'High (it''s often)'" in sps
    assert "/c_band 1 'Few' 2 'Many'" in sps and "EXECUTE." in sps
    for line in sps.splitlines():
        assert len(line) <= 120 and (not line.startswith("*") or not line.strip("* "). startswith("'"))


def test_r_script_is_base_r_and_states_the_rules():
    inst = load_instrument(USER)
    script = r_script(describe(inst))
    assert "score_user_scale <- function(data, on_invalid = c(\"error\", \"missing\"), missing_codes = character(0))" in script
    assert "library(" not in script and "require(" not in script and "::" not in script
    assert "#   a = mean of the answered items, when at least 5 of the 6 items answered" in script
    assert script.isascii()


def test_redcap_field_notes_say_what_calc_fields_cannot_do():
    inst = load_instrument(USER)
    fields = {f.field_name: f for f in build_dictionary(inst, with_calc=True).fields}
    assert "REDCap cannot import into calc fields" in fields["score_a"].field_note
    assert "calc field holds numbers, not labels" in fields["score_a_band"].field_note
    assert "nested if()" in fields["score_b_t"].field_note and "interpolation" in fields["score_b_t"].field_note
    assert "score_c_t_se" not in fields and "ps_c_t_se" not in fields  # the c table gives no SEs
    assert parse_choices(fields["ps_a_band"].select_choices_or_calculations) == {
        "1": "Low", "2": "Middle", "3": "High (it's often)"}
    assert fields["ps_a_n"].text_validation_type_or_show_slider_number == "integer"
    assert fields["ps_a"].text_validation_type_or_show_slider_number == "number"
    assert "@READONLY" in fields["ps_a"].field_annotation
    assert "Not asked" in fields["score_c_n"].field_note and "UNK (Unknown)" in fields["score_a_n"].field_note


def test_numbers_are_written_without_exponents():
    assert [num(x) for x in (1e-9, 2.0, -3.5, 0.1, 1e20, 1 / 3)] == [
        "0.000000001", "2", "-3.5", "0.1", "100000000000000000000", "0.3333333333333333"]
    from peerscale.scoring import NORM_TOLERANCE as SCORING_TOLERANCE
    assert NORM_TOLERANCE == SCORING_TOLERANCE


def test_names_spss_cannot_hold_and_clashing_redcap_names_are_refused(tmp_path):
    base = """
    name: bad
    version: "1"
    response_scales: {F: {min: 1, max: 3, codes: {1: a, 2: b, 3: c}}}
    items:
      - {id: q1, text: one, response_scale: F}
      - {id: ITEM, text: two, response_scale: F}
    scales:
      - {name: NAME, items: [q1, ITEM]}
    """
    p = tmp_path / "s.yaml"
    p.write_text(textwrap.dedent(base.replace("ITEM", "to").replace("NAME", "s1")))
    with pytest.raises(PeerscaleError, match="'to' cannot be an SPSS variable name"):
        export_text(load_instrument(p), "spss")
    assert "score_bad" in export_text(load_instrument(p), "r")  # R takes any column name
    p.write_text(textwrap.dedent(base.replace("ITEM", "Q1").replace("NAME", "s1")))
    with pytest.raises(PeerscaleError, match="one variable in SPSS"):
        export_text(load_instrument(p), "spss")
    p.write_text(textwrap.dedent(base.replace("ITEM", "ps_s1").replace("NAME", "s1")))
    with pytest.raises(PeerscaleError, match="clashes|same REDCap field name"):
        build_dictionary(load_instrument(p), with_calc=True)
    two = "{name: s1, items: [q1, q2]}\n      - {name: S1, items: [q1]}"
    p.write_text(textwrap.dedent(base.replace("{name: NAME, items: [q1, ITEM]}", two).replace("ITEM", "q2")))
    with pytest.raises(PeerscaleError, match="same REDCap field name"):
        build_dictionary(load_instrument(p), with_calc=True)
    with pytest.raises(PeerscaleError, match="to must be one of"):
        export_text(load_instrument(p), "stata")


# --------------------------------------------------------------------------- REDCap import file

def test_redcap_import_file_holds_the_dictionary_score_fields_only(run_cli, tmp_path):
    out = tmp_path / "scores_import.csv"
    code, _o, err = run_cli("score", ROOT / "examples" / "youth_export.csv", "-i", "pbr-y",
                            "--output-format", "redcap-import", "-o", out)
    assert code == 0, err
    header, rows = read_import_file(out)
    inst = load_instrument("pbr-y")
    dictionary = {f.field_name: f for f in build_dictionary(inst, with_calc=True).fields}
    stored = [name for name, f in dictionary.items() if name.startswith("ps_")]
    assert header == ["record_id", "redcap_event_name"] + stored  # no extra columns, dictionary order
    expected = peerscale_scores(inst, pd.read_csv(ROOT / "examples" / "youth_export.csv", dtype=str))
    answered = (expected[[f"{s.name}_n" for s in inst.scales]] > 0).any(axis=1)
    assert f"{(~answered).sum()} row(s) that answer no item of pbr-y are not in the import file" in err
    expected = expected[answered].reset_index(drop=True)
    assert len(rows) == len(expected) and 0 < (~answered).sum() < 20
    names = redcap_names(describe(inst))
    for col, (_calc, field) in names.items():
        f = dictionary[field]
        values = [r[field] for r in rows]
        if col.endswith("_band"):
            labels = parse_choices(f.select_choices_or_calculations)
            assert [labels[v] if v else None for v in values] == expected[col].astype(object).where(
                expected[col].notna(), None).tolist()
        elif col.endswith("_n"):
            assert values == [str(v) for v in expected[col]]
        else:
            got = np.array([float(v) if v else np.nan for v in values])
            np.testing.assert_allclose(got, expected[col].to_numpy(dtype=float), rtol=0, atol=1e-12)
            assert all("e" not in v.lower() for v in values)
    assert any(r["ps_pbr_all"] == "" for r in rows)  # too few answered: blank


def test_redcap_import_skips_other_forms_and_refuses_what_redcap_would_reject(run_cli, tmp_path):
    fix = FIXTURES / "redcap"
    mini = fix / "mini-y.yaml"
    out = tmp_path / "imp.csv"
    codes = ["--missing-code", "-999=Not asked", "--missing-code", "UNK=Unknown"]
    code, _o, err = run_cli("score", fix / "export_raw.csv", "-i", mini, *codes, "--output-format",
                            "redcap-import", "-o", out)
    assert code == 0 and "3 row(s) of other REDCap forms are not in the import file" in err
    header, rows = read_import_file(out)
    assert header == ["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance",
                      "ps_share", "ps_share_n", "ps_trust", "ps_trust_n"]
    assert [(r["record_id"], r["redcap_event_name"]) for r in rows][:2] == [("007", "baseline_arm_1"),
                                                                           ("007", "followup_arm_1")]
    assert rows[0]["ps_share"] == "4.333333333333333" and rows[1]["ps_trust"] == "" and rows[1]["ps_trust_n"] == "2"
    assert len(rows) == 4 and "1 row(s) that answer no item of mini-y" in err  # record 103 answered nothing
    # label-mode events cannot be imported
    code, _o, err = run_cli("score", fix / "export_labels.csv", "-i", mini, *codes, "--output-format",
                            "redcap-import", "-o", tmp_path / "x.csv")
    assert code == 1 and "event label" in err and "raw" in err and not (tmp_path / "x.csv").exists()
    # no items in an import file, and the output is protected like any other
    code, _o, err = run_cli("score", fix / "export_raw.csv", "-i", mini, *codes, "--output-format",
                            "redcap-import", "--include-items", "-o", tmp_path / "y.csv")
    assert code == 1 and "--include-items" in err
    code, _o, err = run_cli("score", fix / "export_raw.csv", "-i", mini, *codes, "--output-format",
                            "redcap-import", "-o", out)
    assert code == 1 and "exists" in err


def test_redcap_import_needs_record_ids(tmp_path):
    from peerscale.io.redcap_import import redcap_import_rows

    inst = load_instrument(FIXTURES / "redcap" / "mini-y.yaml")
    data = pd.DataFrame({f"mini_{d}_{k}": [1, 2] for d in ("share", "trust") for k in (1, 2, 3)})
    with pytest.raises(PeerscaleError, match="needs the record id"):
        redcap_import_rows(score_data(data, inst))
    ids = ["record_id"]
    data.insert(0, "record_id", ["a", None])
    with pytest.raises(PeerscaleError, match="blank record id"):
        redcap_import_rows(score_data(data, inst, id_columns=ids))
    data["record_id"] = ["a", "a"]
    with pytest.raises(PeerscaleError, match="appears twice"):
        redcap_import_rows(score_data(data, inst, id_columns=ids))
    data["record_id"] = ["a", "b"]
    header, rows, notes = redcap_import_rows(score_data(data, inst, id_columns=ids))
    assert header[0] == "record_id" and rows[1][0] == "b" and rows[1][2] == "3" and not notes
    assert rows[1][1] == repr((2 + 2 + (6 - 2)) / 3)  # mini_share_3 is reverse-keyed


# --------------------------------------------------------------------------- the command

def test_export_rules_command_writes_each_target(run_cli, tmp_path):
    for target, name in (("spss", "pbr-y.sps"), ("r", "pbr-y.R"), ("redcap", "pbr-y.csv")):
        code, _o, err = run_cli("export-rules", "pbr-y", "--to", target, "-o", tmp_path / name)
        assert code == 0 and f"wrote {tmp_path / name}" in err
    assert (tmp_path / "pbr-y.sps").read_text() == export_text(load_instrument("pbr-y"), "spss")
    assert "score_pbr_y <- function(data" in (tmp_path / "pbr-y.R").read_text()
    inst = load_instrument("pbr-y")  # a calc field per score, items answered and band column
    assert (tmp_path / "pbr-y.csv").read_text().count(",calc,") == sum(2 + (s.name in inst.bands) for s in inst.scales)
    code, _o, err = run_cli("export-rules", "pbr-y", "--to", "spss", "-o", tmp_path / "pbr-y.sps")
    assert code == 1 and "already exists" in err
    assert run_cli("export-rules", "pbr-y", "--to", "spss", "-o", tmp_path / "pbr-y.sps", "--force")[0] == 0
    code, _o, err = run_cli("export-rules", "no-such", "--to", "r", "-o", tmp_path / "x.R")
    assert code == 1 and "no bundled instrument" in err
    assert run_cli("export-rules", "pbr-y", "--to", "stata", "-o", tmp_path / "x")[0] == 2
    assert not Path(tmp_path / "x.R").exists()


def test_readme_commands_for_scoring_outside_python_run(run_cli, tmp_path, monkeypatch):
    import re

    text = (ROOT / "README.md").read_text()
    block = re.search(r"### Scoring outside Python\n.*?```bash\n(.*?)```", text, re.S).group(1)
    commands = [line.split("#")[0].split()[1:] for line in block.splitlines() if line.startswith("peerscale ")]
    assert len(commands) == 4
    monkeypatch.chdir(tmp_path)
    for args in commands:
        args = [str(ROOT / a) if a.startswith("examples/") else a for a in args]
        code, _o, err = run_cli(*args)
        assert code == 0, err
    assert {p.name for p in tmp_path.iterdir()} == {"pbr-y.sps", "pbr-y.R", "pbr-y-dictionary.csv", "scores_import.csv"}
