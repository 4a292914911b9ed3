"""Content-validity kit: the statistics against published worked examples and R, the rating
form written and read back, bad ratings, and the interview guide."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import FIXTURES
from peerscale.content_validity import (aiken_v, chance_agreement, content_validity, kappa_rating, modified_kappa,
                                        read_ratings, sorting_agreement, write_rating_form)
from peerscale.errors import PeerscaleError
from peerscale.interview_guide import PROBES, interview_guide
from peerscale.spec import load_instrument

# Polit, Beck & Owen (2007), Table 4: number of experts N, number rating 3 or 4 (A), and the
# published I-CVI, pc, k* and evaluation (rounded as printed). The same values are reprinted in
# applications, e.g. BMC Health Services Research 17:472 (2017), Table 10 (N = 9 and 10).
PBO_TABLE = [
    (3, 3, 1.00, 0.125, 1.00, "excellent"), (3, 2, 0.67, 0.375, 0.47, "fair"),
    (4, 4, 1.00, 0.063, 1.00, "excellent"), (4, 3, 0.75, 0.250, 0.67, "good"),
    (5, 5, 1.00, 0.031, 1.00, "excellent"), (5, 4, 0.80, 0.156, 0.76, "excellent"),
    (6, 6, 1.00, 0.016, 1.00, "excellent"), (6, 5, 0.83, 0.094, 0.82, "excellent"),
    (6, 4, 0.67, 0.234, 0.56, "fair"),
    (7, 7, 1.00, 0.008, 1.00, "excellent"), (7, 6, 0.86, 0.055, 0.85, "excellent"),
    (8, 8, 1.00, 0.004, 1.00, "excellent"), (8, 6, 0.75, 0.109, 0.72, "good"),
    (9, 9, 1.00, 0.002, 1.00, "excellent"), (9, 8, 0.89, 0.018, 0.89, "excellent"),
    (9, 7, 0.78, 0.070, 0.76, "excellent"), (9, 6, 0.67, 0.164, 0.60, "good"),
    (10, 8, 0.80, 0.044, 0.79, "excellent"), (10, 7, 0.70, 0.117, 0.66, "good"),
]

# A published worked example of the S-CVIs: 12 items rated by 6 experts on the 4-point scale,
# I-CVIs 1.00 except items 6 and 9 (0.83), S-CVI/Ave = 0.97, S-CVI/UA = 0.83
# (PMC7253559, Table 4, computed as Polit & Beck 2006 define them).
WORKED = [[4, 4, 4, 4, 4, 4], [4, 3, 4, 4, 3, 4], [4, 4, 4, 4, 4, 4], [4, 4, 4, 4, 4, 4], [3, 4, 4, 4, 4, 4],
          [2, 3, 4, 3, 3, 4], [4, 4, 4, 4, 4, 4], [4, 4, 4, 4, 4, 4], [3, 3, 4, 2, 3, 4], [4, 4, 4, 3, 4, 4],
          [4, 4, 4, 3, 4, 4], [4, 4, 4, 3, 4, 4]]


@pytest.mark.parametrize("n, a, icvi, pc, k, rating", PBO_TABLE)
def test_modified_kappa_matches_polit_beck_owen_2007_table_4(n, a, icvi, pc, k, rating):
    got_pc, got_k = modified_kappa(a, n)
    assert round(a / n, 2) == pytest.approx(icvi, abs=0.005)
    assert got_pc == pytest.approx(pc, abs=0.00051)  # printed to 3 decimals, .0625 as .063
    assert got_k == pytest.approx(k, abs=0.006)  # the table rounds k* from rounded I-CVIs
    assert kappa_rating(got_k) == rating
    assert chance_agreement(a, n) == got_pc


def test_kappa_rating_bands_and_bad_counts():
    assert [kappa_rating(x) for x in (0.75, 0.74, 0.60, 0.59, 0.40, 0.39)] == \
        ["excellent", "good", "good", "fair", "fair", "poor"]
    with pytest.raises(PeerscaleError):
        modified_kappa(4, 3)


def test_scvi_worked_example_wide_table(tmp_path):
    wide = pd.DataFrame(WORKED, columns=[f"expert{e}" for e in range(1, 7)])
    wide.insert(0, "item", [f"i{n}" for n in range(1, 13)])
    (tmp_path / "wide.csv").write_text(wide.to_csv(index=False))
    data, notes = read_ratings(tmp_path / "wide.csv")
    assert len(data) == 72 and notes == []
    res = content_validity(data)
    icvi = res.items["i_cvi"].round(2).tolist()
    assert icvi == [1.0] * 5 + [0.83] + [1.0] * 2 + [0.83] + [1.0] * 3
    all_items = res.scales.loc["all items"]
    assert round(all_items["s_cvi_ave"], 2) == 0.97 and round(all_items["s_cvi_ua"], 2) == 0.83
    assert all_items["flags"] == ""


def test_aiken_v_and_its_score_interval_match_r():
    """tests/r/content_validity.R: prop.test(sum(r - lo), n * k, correct = FALSE)$conf.int."""
    oracle = pd.read_csv(FIXTURES / "content" / "aiken_v.csv")
    for row in oracle.itertuples():
        ratings = [float(x) for x in row.ratings.split()]
        v, lower, upper = aiken_v(ratings, row.lo, row.hi, row.level)
        assert v == pytest.approx(row.v, abs=1e-12), row.id
        assert lower == pytest.approx(row.lower, abs=1e-9), row.id
        assert upper == pytest.approx(row.upper, abs=1e-9), row.id


def test_aiken_v_definition_and_bad_input():
    # V = (mean rating - lo) / (hi - lo): six experts, mean 3.5 on 1..4 -> 2.5 / 3
    assert aiken_v([4, 3, 4, 3, 4, 3])[0] == pytest.approx(2.5 / 3)
    assert np.isnan(aiken_v([np.nan, np.nan])[0])
    assert aiken_v([4, np.nan, 2])[0] == pytest.approx((3 + 1) / 6)
    with pytest.raises(PeerscaleError, match="between 1 and 4"):
        aiken_v([5, 4])
    with pytest.raises(PeerscaleError, match="hi > lo"):
        aiken_v([1], lo=2, hi=2)


def test_sorting_agreement_anderson_gerbing():
    # 10 experts: 7 chose the intended dimension, 2 another, 1 a third -> p_sa .7, c_sv (7-2)/10
    assigned = ["TRUST"] * 7 + ["VALID"] * 2 + ["AUTH"]
    assert sorting_agreement(assigned, "TRUST") == (0.7, 0.5, 10, "TRUST")
    # "none" is a choice; a blank is not
    p_sa, c_sv, n, top = sorting_agreement(["VALID", "none", "none", None, "VALID"], "VALID")
    assert (p_sa, c_sv, n, top) == (0.5, 0.0, 4, "VALID")
    assert sorting_agreement(["AUTH", "AUTH", "TRUST"], "TRUST")[1:] == (pytest.approx(-1 / 3), 3, "AUTH")
    assert np.isnan(sorting_agreement([None, float("nan")], "X")[0])


# --------------------------------------------------------------------------- form round trip

def _fill_form(path: Path, expert: str | None, answers: dict):
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb["Ratings"]
    if expert is not None:
        ws["B3"] = expert
    for row in ws.iter_rows(min_row=6):
        iid = row[0].value
        if iid in answers:
            rel, dim, cla, comment = answers[iid]
            row[3].value, row[4].value, row[5].value, row[6].value = rel, dim, cla, comment
    wb.save(path)


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    """Six experts' completed forms for pbr-p: everyone relevant and right except a few planted problems."""
    inst = load_instrument("pbr-p")
    tmp = tmp_path_factory.mktemp("panel")
    paths = []
    for e in range(6):
        p = tmp / f"expert{e + 1}.xlsx"
        write_rating_form(inst, p, seed=e)
        answers = {}
        for iid, item in inst.items.items():
            rel, dim = 4 - (e % 2), item.dimension
            if iid == "pbr_p_mutual_01":                      # half the panel: not relevant
                rel = 2 if e < 3 else rel
            if iid == "pbr_p_auth_05":                        # most sort it into VALID
                dim = "VALID" if e < 4 else dim
            if iid == "pbr_p_share_02" and e == 0:
                dim = "none"
            answers[iid] = (rel, dim, 4, "too long" if (iid == "pbr_p_trust_04" and e == 2) else None)
        answers.pop("pbr_p_auton_07") if e == 5 else None    # one expert skipped one item
        _fill_form(p, None if e == 5 else f"E{e + 1}", answers)
        paths.append(p)
    return inst, paths


def test_form_layout_hides_the_intended_dimension(tmp_path):
    from openpyxl import load_workbook

    inst = load_instrument("pbr-y")
    p = write_rating_form(inst, tmp_path / "f.xlsx")
    wb = load_workbook(p)
    assert wb.sheetnames == ["Instructions", "Ratings", "Dimensions", "Missing"]
    ws = wb["Ratings"]
    header = [c.value for c in ws[5]]
    assert header == ["item", "#", "item as respondents read it", "relevance (1-4)", "dimension", "clarity (1-4)", "comment"]
    ids = [r[0] for r in ws.iter_rows(min_row=6, values_only=True)]
    assert sorted(ids) == sorted(i for i, it in inst.items.items() if it.dimension)  # no screening question
    assert ids != [i for i, it in inst.items.items() if it.dimension]               # shuffled
    texts = [r[2] for r in ws.iter_rows(min_row=6, values_only=True)]
    assert all("{" not in t for t in texts)
    # relevance, dimension and clarity are drop-down validated
    dv = {str(d.sqref): d for d in ws.data_validations.dataValidation}
    assert dv["D6:D60"].formula1 == "1" and dv["F6:F60"].formula2 == "4"
    assert dv["E6:E60"].formula1 == "=Dimensions!$A$2:$A$13"
    dims = [r[0] for r in wb["Dimensions"].iter_rows(min_row=2, values_only=True)]
    assert dims == list(inst.dimensions) + ["none"]
    in_order = write_rating_form(inst, tmp_path / "g.xlsx", seed=None)
    assert [r[0] for r in load_workbook(in_order)["Ratings"].iter_rows(min_row=6, values_only=True)] == \
        [i for i, it in inst.items.items() if it.dimension]
    with pytest.raises(PeerscaleError, match="already exists"):
        write_rating_form(inst, tmp_path / "f.xlsx")


def test_completed_forms_give_the_statistics(panel, run_cli):
    inst, paths = panel
    code, out, err = run_cli("cvi", *paths, "-i", "pbr-p", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["n_experts"] == 6 and res["experts"] == ["E1", "E2", "E3", "E4", "E5", "expert6"]
    assert any("expert6.xlsx has no expert code" in n for n in res["notes"])
    items = res["items"]
    assert set(items) == set(inst.items)
    ok = items["pbr_p_share_01"]
    assert ok["i_cvi"] == 1.0 and ok["kappa"] == 1.0 and ok["p_sa"] == 1.0 and ok["flags"] == ""
    assert ok["aiken_v"] == pytest.approx(aiken_v([4, 3, 4, 3, 4, 3])[0])
    bad = items["pbr_p_mutual_01"]
    assert bad["i_cvi"] == 0.5 and bad["kappa_rating"] == "poor" and "I-CVI 0.50 < 0.78" in bad["flags"]
    sorted_elsewhere = items["pbr_p_auth_05"]
    assert sorted_elsewhere["p_sa"] == pytest.approx(2 / 6) and sorted_elsewhere["most_sorted_to"] == "VALID"
    assert "sorted elsewhere (most chose VALID" in sorted_elsewhere["flags"]
    assert items["pbr_p_share_02"]["p_sa"] == pytest.approx(5 / 6)
    assert items["pbr_p_auton_07"]["n_experts"] == 5
    assert set(res["flagged"]) == {"pbr_p_mutual_01", "pbr_p_auth_05"}
    assert res["scales"]["mutual"]["s_cvi_ua"] == pytest.approx(5 / 6)
    assert res["scales"]["all items"]["n_items"] == 36
    assert res["comments"] == [{"expert": "E3", "item": "pbr_p_trust_04", "comment": "too long"}]
    code, out, err = run_cli("cvi", *paths, "-i", "pbr-p")
    assert code == 0 and "pbr_p_mutual_01" in out and "pbr_p_share_01" not in out and "S-CVI/Ave" in out
    code, out, _ = run_cli("cvi", *paths, "-i", "pbr-p", "--all")
    assert "pbr_p_share_01" in out


def test_cvi_writes_the_item_table(panel, run_cli, tmp_path):
    _, paths = panel
    out = tmp_path / "cvi.csv"
    code, _, err = run_cli("cvi", *paths, "-i", "pbr-p", "-o", out)
    assert code == 0, err
    table = pd.read_csv(out)
    assert len(table) == 36 and {"item", "i_cvi", "kappa", "aiken_v", "v_lower", "p_sa", "c_sv", "flags"} <= set(table)
    code, _, err = run_cli("cvi", *paths, "-i", "pbr-p", "-o", out)
    assert code == 1 and "already exists" in err


def test_long_table_and_bad_ratings(tmp_path, run_cli):
    good = pd.DataFrame({"expert": ["a", "a", "b", "b"], "item": ["pbr_y_share_01", "pbr_y_share_02"] * 2,
                         "relevance": [4, 3, 4, 2], "dimension": ["SHARE", "Shared-experience relatability", "share", ""]})
    path = tmp_path / "long.csv"
    good.to_csv(path, index=False)
    code, out, err = run_cli("cvi", path, "-i", "pbr-y", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["items"]["pbr_y_share_01"]["p_sa"] == 1.0 and res["items"]["pbr_y_share_02"]["n_sorted"] == 1
    assert any("only 2 expert(s)" in n for n in res["notes"])
    assert any("were not rated" in n for n in res["notes"])
    cases = [
        (good.assign(relevance=[4, 5, 4, 2]), "relevance must be a whole number from 1 to 4"),
        (good.assign(relevance=[4, 2.5, 4, 2]), "relevance must be a whole number"),
        (good.assign(item=["pbr_y_share_01", "nope", "pbr_y_share_01", "pbr_y_share_02"]), "not in pbr-y: nope"),
        (good.assign(item=["pbr_y_share_01"] * 2 + ["pbr_y_share_01", "pbr_y_share_02"]), "rated item 'pbr_y_share_01' twice"),
        (good.assign(dimension=["SHARE", "TRUSTY", "SHARE", ""]), "'TRUSTY' is not a dimension of pbr-y"),
        (good.assign(expert=["a", "", "b", "b"]), "has no expert code"),
        (good.drop(columns="relevance"), "no 'relevance' column"),
        (good.iloc[:0], "no data rows"),
    ]
    for n, (df, words) in enumerate(cases):
        p = tmp_path / f"bad{n}.csv"
        df.to_csv(p, index=False)
        code, _, err = run_cli("cvi", p, "-i", "pbr-y")
        assert code == 1 and words in err, (words, err)
    (tmp_path / "noitem.csv").write_text("a,b\n1,2\n")
    code, _, err = run_cli("cvi", tmp_path / "noitem.csv", "-i", "pbr-y")
    assert code == 1 and "no 'item' column" in err
    code, _, err = run_cli("cvi", tmp_path / "missing.csv", "-i", "pbr-y")
    assert code != 0
    good.to_csv(tmp_path / "again.csv", index=False)
    code, _, err = run_cli("cvi", path, tmp_path / "again.csv", "-i", "pbr-y")
    assert code == 1 and "appears in two files" in err
    code, _, err = run_cli("cvi-form", "pbr-y", "-o", tmp_path / "form.csv")
    assert code == 1 and ".xlsx" in err


# --------------------------------------------------------------------------- interview guide

def test_interview_guide_has_the_four_probes_for_every_item_and_targeted_probes(tmp_path, run_cli):
    out = tmp_path / "guide.md"
    code, _, err = run_cli("interview-guide", "pbr-y", "-o", out)
    assert code == 0, err
    text = out.read_text()
    inst = load_instrument("pbr-y")
    sections = text.split("\n### ")[1:]
    assert len(sections) == len(inst.items)
    for section, (iid, item) in zip(sections, inst.items.items()):
        assert f"`{iid}`" in section.splitlines()[0]
        assert f"> {inst.item_text(iid)}" in section
        for stage in ("Comprehension", "Retrieval", "Judgement", "Response mapping"):
            assert f"- {stage}: " in section, (iid, stage)
        assert "| participant | issue code |" in section
        if item.reverse:
            assert "would be a problem" in section, iid
        if item.requires:
            assert "Asked only after \u201cYes\u201d to the screening question" in section, iid
        if item.status == "candidate":
            assert "candidate question" in section, iid
    assert "Screening question: how did you decide" in text
    assert "mandated reporting" in text and "think out loud" in text.lower()
    assert "What time did you think about when answering? (Intended: as things are now.)" in text
    assert "## Issue codes" in text and "**Revise**" in text and "**Drop**" in text and "**Keep**" in text
    assert "set the pace" in text and "Interviewer note:" in text  # an idiom and an item note


def test_interview_guide_for_the_observer_and_worker_forms(run_cli):
    code, text, err = run_cli("interview-guide", "act-s")
    assert code == 0, err
    assert "Which description fitted best?" in text and "- 1 Not done when there was a chance: " in text
    assert "When would you choose \u201cNo opportunity to observe\u201d?" in text
    guide = interview_guide("pbr-p", items=["pbr_p_trust_02", "pbr_p_trust_01"])
    assert guide.count("\n### ") == 2 and "How can you tell what this young person thinks or feels" in guide
    assert PROBES["comprehension"] in guide
    with pytest.raises(PeerscaleError, match="not in pbr-p: nope"):
        interview_guide("pbr-p", items=["nope"])
    code, _, err = run_cli("interview-guide", "pbr-p", "--item", "nope")
    assert code == 1 and "nope" in err
