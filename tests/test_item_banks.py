"""The bundled draft item banks (0.2.0) and scoring files hold the content rules.

Rules come from /work/shared/domain/peerness-theory.md (dimensions, activities, outcomes,
response scales, about one reverse-keyed item in five, 75% answered rule) and the review of
0.1.0 (item-review.md): six items per core relationship dimension on both forms with every
worker item paired, disclosure items behind a screening question, observable events on the
activity forms, an anchored observer form, outcomes as status items, candidate
characteristics marked as candidates, and a changelog entry for every item.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from peerscale.errors import PeerscaleError
from peerscale.scoring import score_data
from peerscale.spec import (RECALL, bundled_instruments, item_pairs, load_instrument, package_dir,
                            paired_scale_items)

PBR_CORE = ["SHARE", "VALID", "TRUST", "AUTH", "MUTUAL", "AUTON"]
PBR_OPTIONAL = ["HOPE", "CARE"]
PBR_CANDIDATES = ["NORMAL", "INFORMAL", "IDENTITY"]
ACTIVITIES = ["ENGAGE", "SHARE", "SUPPORT", "GOALS", "NAVIGATE", "VOICE", "CONNECT"]
OUTCOMES = ["CONNECTED", "HOPE", "EFFICACY", "ACCEPT", "VOICE"]
ID_COLUMNS = ("record_id", "redcap_event_name", "redcap_repeat_instrument",
              "redcap_repeat_instance", "dyad_id", "worker_id")
AGREE5 = {1: "Strongly disagree", 2: "Disagree", 3: "Neither agree nor disagree", 4: "Agree", 5: "Strongly agree"}
FREQ5 = {1: "Never", 2: "Rarely", 3: "Sometimes", 4: "Often", 5: "Almost always"}
OBS4 = {1: "Not done when there was a chance", 2: "Emerging", 3: "Solid", 4: "Strong"}
FORMS = {"pbr-y": "Y", "pbr-p": "P", "act-y": "Y", "act-p": "P", "act-s": "S", "out-y": "Y"}
BANKS = {"pbr-y": "PBR", "pbr-p": "PBR", "act-y": "ACT", "act-p": "ACT", "act-s": "ACT", "out-y": "OUT"}
RECALLS = {"pbr-y": "now", "pbr-p": "now", "act-y": "last_month", "act-p": "last_month", "act-s": "last_month",
           "out-y": "last_month"}
PAIRS_WITH = {"pbr-y": "pbr-p", "pbr-p": "pbr-y", "act-y": "act-p", "act-p": "act-y"}
VERSION = "0.2.0"
OLD_COUNTS = {"pbr-y": 54, "pbr-p": 30, "act-y": 28, "act-p": 28, "act-s": 14, "out-y": 25}  # 0.1.0 items


@pytest.fixture(scope="module")
def inst():
    return {name: load_instrument(name) for name in FORMS}


def by_dimension(instrument):
    groups: dict[str, list] = {}
    for item in instrument.items.values():
        if item.dimension:  # screening questions have none
            groups.setdefault(item.dimension, []).append(item)
    return groups


def scored(instrument):
    """Items that are scored: everything but screening questions."""
    screens = set(instrument.screening_items())
    return [i for i in instrument.items.values() if i.id not in screens]


def reverse_share(instrument):
    items = scored(instrument)
    return sum(i.reverse for i in items) / len(items)


# ----------------------------------------------------------------- every bank loads

def test_every_bundled_instrument_loads_and_ours_are_all_there():
    names = {i.name for i in bundled_instruments()}
    assert set(FORMS) <= names


@pytest.mark.parametrize("name", sorted(FORMS))
def test_bank_metadata(inst, name):
    i = inst[name]
    assert i.bank == BANKS[name]
    assert i.forms == [FORMS[name]]
    assert i.status == "draft" and i.version == VERSION
    assert i.id_columns == ID_COLUMNS
    assert "draft" in i.title.lower()
    assert i.instructions
    assert i.recall == RECALLS[name] and all(it.recall == RECALLS[name] for it in i.items.values())
    assert i.pairs_with == PAIRS_WITH.get(name)
    # the bank file is a separate file in items/, found from the scoring file
    assert Path(i.bank_path).parent.name == "items" and Path(i.bank_path).stem == name


# ----------------------------------------------------------------- PBR

def test_pbr_y_covers_core_optional_and_candidate_dimensions(inst):
    i = inst["pbr-y"]
    assert list(i.dimensions) == PBR_CORE + PBR_OPTIONAL + PBR_CANDIDATES
    assert [d for d, v in i.dimensions.items() if v["optional"]] == PBR_OPTIONAL + PBR_CANDIDATES
    assert [d for d, v in i.dimensions.items() if v.get("candidate")] == PBR_CANDIDATES
    assert all(v["definition"] for v in i.dimensions.values())
    groups = by_dimension(i)
    assert set(groups) == set(PBR_CORE + PBR_OPTIONAL + PBR_CANDIDATES)
    for dim, items in groups.items():
        assert len(items) == {**dict.fromkeys(PBR_CORE, 6), "HOPE": 5, "CARE": 5}.get(dim, 3), dim
        assert any(it.reverse for it in items) or dim == "IDENTITY", f"{dim} has no reverse-keyed item"
        assert not all(it.reverse for it in items), dim
        # candidate characteristics are draft items marked as candidates
        assert all(it.status == ("candidate" if dim in PBR_CANDIDATES else "draft") for it in items), dim


def test_pbr_y_about_one_in_five_reverse_keyed(inst):
    assert 0.15 <= reverse_share(inst["pbr-y"]) <= 0.25
    core = [it for it in scored(inst["pbr-y"]) if it.dimension in PBR_CORE]
    assert 0.15 <= sum(it.reverse for it in core) / len(core) <= 0.25


def test_pbr_y_uses_agree5_names_the_worker_and_tags_viewpoints(inst):
    i = inst["pbr-y"]
    assert i.placeholders == {"psw": "my peer support worker"}
    assert {it.response_scale.name for it in scored(i)} == {"AGREE5"}
    rs = i.response_scales()["AGREE5"]
    assert (rs.min, rs.max) == (1, 5) and rs.codes == AGREE5 and rs.missing == {}
    assert all("{psw}" in it.text for it in i.items.values())
    assert all(it.viewpoint in ("self", "other", "shared") for it in i.items.values())


def test_disclosure_items_sit_behind_the_story_screen(inst):
    i = inst["pbr-y"]
    assert i.screening_items() == ["pbr_y_story_01"]
    screen = i.items["pbr_y_story_01"]
    assert screen.dimension is None and screen.response_scale.codes == {1: "Yes", 2: "No", 3: "Not sure"}
    gated = [it.id for it in i.items.values() if it.requires]
    assert gated == [it.id for it in by_dimension(i)["HOPE"]]
    assert all(i.items[g].requires.answers == (1,) for g in gated)
    assert i.items[gated[0]].requires.redcap_logic() == "[pbr_y_story_01] = '1'"
    # the screen comes right before the items it gates, and is in no scale
    ids = list(i.items)
    assert ids.index("pbr_y_story_01") + 1 == ids.index(gated[0])
    assert not any("pbr_y_story_01" in s.items for s in i.scales)


def test_pbr_p_parallels_the_six_core_dimensions(inst):
    i = inst["pbr-p"]
    assert list(i.dimensions) == PBR_CORE
    assert i.placeholders == {"yp": "this young person"}
    groups = by_dimension(i)
    assert set(groups) == set(PBR_CORE)
    for dim, items in groups.items():
        assert len(items) == 6, dim
        assert any(it.reverse for it in items), dim
    assert 0.15 <= reverse_share(i) <= 0.25
    assert i.response_scales()["AGREE5"].codes == AGREE5
    assert all("{yp}" in it.text for it in i.items.values())


@pytest.mark.parametrize("worker, young", [("pbr-p", "pbr-y"), ("act-p", "act-y")])
def test_every_worker_item_has_a_young_person_twin(inst, worker, young):
    p, y = inst[worker], inst[young]
    pairs = item_pairs(p, y)
    assert [x.a for x in pairs] == list(p.items)          # every P item is paired ...
    assert len({x.b for x in pairs}) == len(pairs)        # ... one-to-one
    for x in pairs:
        assert x.dimension_a == x.dimension_b, x
        assert p.items[x.a].reverse == y.items[x.b].reverse, x
        # what agreement means is stated: one side about itself, the other seeing it, or shared
        assert x.kind in ("self-other", "shared"), x
    # the pair is recorded on both sides, so `show` lists it for either form
    assert all(y.items[x.b].pair == x.a and p.items[x.a].pair == x.b for x in pairs)
    assert item_pairs(y, p) == [type(x)(x.b, x.a, x.dimension_b, x.dimension_a, x.viewpoint_b, x.viewpoint_a,
                                        x.form_b, x.form_a) for x in sorted(pairs, key=lambda x: list(y.items).index(x.b))]


def test_every_core_young_person_item_has_a_worker_twin(inst):
    y, p = inst["pbr-y"], inst["pbr-p"]
    core = [it.id for it in scored(y) if it.dimension in PBR_CORE]
    assert {x.a for x in item_pairs(y, p)} == set(core)
    assert not any(it.pair for it in scored(y) if it.dimension not in PBR_CORE)
    grouped = paired_scale_items(y, p)
    assert list(grouped) == ["share", "valid", "trust", "auth", "mutual", "auton"]
    assert all(len(v) == 6 for v in grouped.values())


def test_pbr_y_and_p_dimension_definitions_agree(inst):
    y, p = inst["pbr-y"].dimensions, inst["pbr-p"].dimensions
    assert all(p[d] == y[d] for d in PBR_CORE)


# ----------------------------------------------------------------- ACT

@pytest.mark.parametrize("name", ["act-y", "act-p"])
def test_act_frequency_forms(inst, name):
    i = inst[name]
    assert list(i.dimensions) == ACTIVITIES
    groups = by_dimension(i)
    assert set(groups) == set(ACTIVITIES)
    assert all(len(items) == 4 for items in groups.values())
    assert not any(it.reverse for it in i.items.values()), "frequency items are not reverse-keyed"
    assert {it.recall_period for it in i.items.values()} == {RECALL["last_month"]}
    rs = i.response_scales()["FREQ5"]
    assert (rs.min, rs.max) == (1, 5) and rs.codes == FREQ5
    # 9 is a missing-data code, never a score, and the instructions say what it means
    assert rs.missing == {9: "Did not come up"}
    assert 9 not in rs.codes and not rs.min <= 9 <= rs.max
    assert '"Did not come up"' in i.instructions and "last month" in i.instructions


def test_act_observer_form_is_behaviourally_anchored(inst):
    i = inst["act-s"]
    groups = by_dimension(i)
    assert set(groups) == set(ACTIVITIES)
    assert all(len(items) == 2 for items in groups.values())
    assert not any(it.reverse for it in i.items.values())
    rs = i.response_scales()["OBS4"]
    assert (rs.min, rs.max) == (1, 4) and rs.codes == OBS4
    assert rs.missing == {9: "No opportunity to observe"}
    for it in i.items.values():
        assert set(it.anchors) == {1, 2, 3, 4}, it.id
        assert len(set(it.anchors.values())) == 4, it.id


def test_act_forms_share_activity_definitions(inst):
    y = inst["act-y"].dimensions
    assert inst["act-p"].dimensions == y == inst["act-s"].dimensions


# ----------------------------------------------------------------- OUT

def test_out_y_five_outcomes_as_status_items_at_every_wave(inst):
    i = inst["out-y"]
    assert list(i.dimensions) == OUTCOMES
    groups = by_dimension(i)
    for dim in OUTCOMES:
        assert len(groups[dim]) == 5, dim
        assert sum(it.reverse for it in groups[dim]) == 1, dim
    change = re.compile(r"\b(since|more|less|anymore|than before|used to)\b", re.I)
    assert not [it.id for it in i.items.values() if change.search(it.text)], "status items, not change items"
    assert i.recall == "last_month" and "last month" in i.instructions
    assert i.response_scales()["AGREE5"].codes == AGREE5
    # every 0.1.0 change item is retired, so old data can never pass for status answers
    assert len(i.retired) == 25 and all(r.startswith("0.2.0:") for r in i.retired.values())


# ----------------------------------------------------------------- across all banks

def test_every_item_is_draft_with_a_version(inst):
    for i in inst.values():
        for it in i.items.values():
            assert it.status in ("draft", "candidate") and it.version in ("0.1.0", "0.2.0"), it.id


def _changelog_tables() -> dict[str, tuple[dict, dict]]:
    """Per bank: {id: change kind} of its items and {id: replaced by} of its retired ids, from items/CHANGELOG.md."""
    text = (package_dir("items") / "CHANGELOG.md").read_text(encoding="utf-8")
    out = {}
    for block in re.split(r"^### ", text, flags=re.M)[1:]:
        name = block.split(":", 1)[0].strip()
        if name not in FORMS:
            continue
        items_part, _, retired_part = block.partition("Retired (ids never reused)")
        items = dict(re.findall(r"^\| `([a-z0-9_]+)` \| (kept|revised|new) \|", items_part, re.M))
        retired = dict(re.findall(r"^\| `([a-z0-9_]+)` \|[^\n]*\| (`[a-z0-9_]+`|—) \|$", retired_part, re.M))
        out[name] = (items, retired)
    return out


def test_changelog_lists_every_item_and_every_retired_id(inst):
    tables = _changelog_tables()
    assert set(tables) == set(FORMS)
    for name, i in inst.items():
        items, retired = tables[name]
        assert list(items) == list(i.items), name
        for iid, kind in items.items():
            # kept items keep version 0.1.0; revised and new items are 0.2.0
            assert i.items[iid].version == ("0.1.0" if kind == "kept" else "0.2.0"), iid
        assert set(retired) == set(i.retired), name
        # every 0.1.0 item is kept, revised or retired: nothing disappears silently
        assert sum(k != "new" for k in items.values()) + len(retired) == OLD_COUNTS[name], name
        for by in retired.values():
            if by != "—":
                assert any(by.strip("`") in other.items for other in inst.values()), by


def test_retired_ids_are_never_reused_in_any_bank(inst):
    live = {iid for i in inst.values() for iid in i.items}
    retired = [iid for i in inst.values() for iid in i.retired]
    assert len(retired) == len(set(retired)) == 56
    assert not live & set(retired)


def test_item_ids_are_redcap_field_names_and_unique_across_banks(inst):
    ids = [iid for i in inst.values() for iid in i.items]
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", iid) for iid in ids)
    assert len(ids) == len(set(ids))
    # ids say their bank, form and dimension: pbr_y_share_01 (screening questions: pbr_y_story_01)
    for name, i in inst.items():
        prefix = name.replace("-", "_") + "_"
        for iid, it in i.items.items():
            assert iid.startswith(prefix + (it.dimension or "story").lower() + "_"), iid


def test_no_item_text_repeats_within_a_bank(inst):
    for name, i in inst.items():
        norm = Counter(re.sub(r"[^a-z ]", "", it.text.lower()).strip() for it in i.items.values())
        assert [t for t, n in norm.items() if n > 1] == [], name


def test_placeholders_are_all_defined_and_resolve(inst):
    for name, i in inst.items():
        used = {m for it in i.items.values() for m in re.findall(r"\{(\w+)\}", it.text)}
        assert used <= set(i.placeholders), name
        for iid in i.items:
            text = i.item_text(iid)
            assert "{" not in text and "}" not in text
            assert text[0].isupper(), f"{iid} starts with a lower-case placeholder: {text!r}"


def test_wording_is_gender_neutral_and_promises_no_confidentiality(inst):
    gendered = re.compile(r"\b(he|she|him|her|his|hers|himself|herself|boy|girl|guy)\b", re.I)
    secrecy = re.compile(r"confidential|private|secret|between us|won't tell|will not tell|anonymous", re.I)
    for i in inst.values():
        for text in [it.text for it in i.items.values()] + [i.instructions]:
            assert not gendered.search(text), text
            assert not secrecy.search(text), text


def test_no_item_carries_a_negation(inst):
    # "disagree" with a negated sentence is a double negative, a known source of misreading; in
    # 0.2.0 this holds for forward-keyed items too (review §3.2 #1)
    negation = re.compile(r"\b(not|no|never|nothing|nobody|none|without|unsure)\b|n't\b", re.I)
    offenders = [iid for i in inst.values() for iid, it in i.items.items() if negation.search(it.text)]
    assert offenders == []


# ----------------------------------------------------------------- scoring files

@pytest.mark.parametrize("name", sorted(FORMS))
def test_one_mean_subscale_per_dimension_with_the_75_percent_rule(inst, name):
    i = inst[name]
    subscales = [s for s in i.scales if not s.composite]
    assert len(subscales) == len(i.dimensions)
    covered = []
    for dim, items in by_dimension(i).items():
        match = [s for s in subscales if set(s.items) == {it.id for it in items}]
        assert len(match) == 1, dim
        s = match[0]
        assert s.method == "mean" and s.min_answered == 0.75
        assert s.keys == tuple(-1 if i.items[x].reverse else 1 for x in s.items)
        covered += s.items
    # every item is scored exactly once, except screening questions, which are in no scale
    assert sorted(covered) == sorted(it.id for it in scored(i))
    for c in (s for s in i.scales if s.composite):
        assert c.method == "mean" and c.min_answered == 0.75


def test_pbr_totals(inst):
    y = inst["pbr-y"]
    core = y.scale("pbr_core")
    assert core.of_scales == ("share", "valid", "trust", "auth", "mutual", "auton")
    assert {y.items[x].dimension for x in core.items} == set(PBR_CORE)
    assert {y.items[x].dimension for x in y.scale("pbr_all").items} == set(PBR_CORE + PBR_OPTIONAL)
    # candidates are scored on their own, in no total
    for c in ("normal", "informal", "identity"):
        assert "(candidate)" in y.scale(c).label
        assert not set(y.scale(c).items) & set(y.scale("pbr_all").items)
    # pbr_all is documented as exploratory and not the mediator score
    assert "not the mediator" in y.scale("pbr_all").label and "not the mediator" in y.scale("pbr_all").description.replace(
        "Do not use it as the mediator", "not the mediator")
    assert "mediator" in y.scale("pbr_core").description
    p = inst["pbr-p"]
    assert set(p.scale("pbr_core").items) == set(p.items)
    # Y and P use the same scale names, so dyad scores line up column by column
    y_only = ("hope", "care", "normal", "informal", "identity", "pbr_all")
    assert [s.name for s in p.scales] == [s.name for s in y.scales if s.name not in y_only]


@pytest.mark.parametrize("name, total", [("act-y", "act_total"), ("act-p", "act_total"),
                                         ("act-s", "act_total"), ("out-y", "out_total")])
def test_totals_pool_every_item(inst, name, total):
    i = inst[name]
    assert set(i.scale(total).items) == {it.id for it in scored(i)}


@pytest.mark.parametrize("name", sorted(FORMS))
def test_bands_are_anchor_based_cover_the_range_and_are_not_norms(inst, name):
    i = inst[name]
    assert i.norms == {}, "no norm tables exist for draft items"
    assert set(i.bands) == {s.name for s in i.scales}
    rs = scored(i)[0].response_scale
    doc = yaml.safe_load(Path(i.path).read_text())
    for sname, (on, bands) in i.bands.items():
        assert on == "score"
        assert "not a norm" in doc["bands"][sname]["source"]
        assert bands[0].min == rs.min and bands[-1].max == rs.max
        assert all(a.max == b.min for a, b in zip(bands, bands[1:])), "bands leave a gap"
        labels = [b.label for b in bands]
        assert len(labels) == len(set(labels))
        if rs.name == "AGREE5":  # keyed scores of scales with reverse items: not "agree"/"disagree"
            assert labels == ["Low", "Middle", "High"]
            assert "not agreement with every printed sentence" in doc["bands"][sname]["source"]


def test_scale_names_do_not_collide_across_pbr_act_and_out(inst):
    pbr = {s.name for s in inst["pbr-y"].scales}
    act = {s.name for s in inst["act-y"].scales}
    out = {s.name for s in inst["out-y"].scales}
    assert not (pbr & act) and not (pbr & out) and not (act & out)


# ----------------------------------------------------------------- scoring the bundled files

def test_not_relevant_code_is_missing_and_never_scored(inst):
    i = inst["act-y"]
    engage = [x for x in i.scale("act_engage").items]
    data = pd.DataFrame({"record_id": [1, 2, 3]})
    for iid in i.items:
        data[iid] = [5, 1, 3]
    data.loc[0, engage[0]] = 9          # 3 of 4 answered: still scored, 9 ignored
    data.loc[1, engage[:2]] = 9         # 2 of 4 answered: below 75%, missing
    res = score_data(data, i)
    s = res.scores
    assert s["act_engage"].tolist()[0] == 5.0
    assert s["act_engage_n"].tolist()[:2] == [3, 2]
    assert np.isnan(s["act_engage"].iloc[1])
    assert s["act_engage"].iloc[2] == 3.0
    assert res.summary["missing_by_reason"].get("Did not come up") == 3
    bands = s["act_engage_band"]
    assert bands.iloc[0] == "Often or almost always" and pd.isna(bands.iloc[1]) and bands.iloc[2] == "Sometimes"


def test_reverse_keyed_pbr_items_score_from_the_declared_range(inst):
    i = inst["pbr-y"]
    share = i.scale("share")
    # a young person who agrees strongly with every positive item and strongly
    # disagrees with every reverse item has the top score
    row = {it.id: (1 if it.reverse else 5) for it in scored(i)}
    s = score_data(pd.DataFrame([row, {k: 6 - v for k, v in row.items()}]), i).scores
    assert s["share"].tolist() == [5.0, 1.0]
    assert s["pbr_core"].tolist() == [5.0, 1.0]
    assert s["share_n"].tolist() == [len(share.items)] * 2
    assert s["pbr_core_band"].tolist() == ["High", "Low"]


def test_hope_is_missing_not_low_when_the_screen_says_no(inst):
    i = inst["pbr-y"]
    row = {it.id: 3 for it in scored(i)}
    no = {**row, "pbr_y_story_01": 2, **{g: None for g in (it.id for it in i.items.values() if it.requires)}}
    s = score_data(pd.DataFrame([{**row, "pbr_y_story_01": 1}, no]), i).scores
    assert s["hope_n"].tolist() == [5, 0] and np.isnan(s["hope"].iloc[1])
    assert s["pbr_core"].tolist() == [3.0, 3.0]  # the core does not depend on the screen


def test_missing_code_9_is_invalid_on_agree5_scales(inst):
    i = inst["pbr-y"]
    data = pd.DataFrame([{it.id: 3 for it in scored(i)}])
    data.iloc[0, 0] = 9
    with pytest.raises(PeerscaleError):
        score_data(data, i)


def test_observer_could_not_observe_is_missing(inst):
    i = inst["act-s"]
    data = pd.DataFrame([{iid: 4 for iid in i.items}])
    first = i.scale("act_voice").items[0]
    data[first] = 9
    s = score_data(data, i).scores
    # two items per activity: 75% needs both, so one "No opportunity to observe" leaves it unscored
    assert np.isnan(s["act_voice"].iloc[0]) and s["act_voice_n"].iloc[0] == 1
    assert s["act_total"].iloc[0] == 4.0 and s["act_total_n"].iloc[0] == 13


def test_bank_files_are_plain_yaml_in_items_dir():
    for name in FORMS:
        path = package_dir("items") / f"{name}.yaml"
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert doc["status"] == "draft" and doc["version"] == VERSION


def test_readme_pairs_example_runs(capsys):
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = re.search(r"For dyad analyses:\n\n```python\n(.*?)```", text, re.S).group(1)
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "pbr_p_share_01 pbr_y_share_01 self-other"
    assert out[1] == str({s: 6 for s in ("share", "valid", "trust", "auth", "mutual", "auton")})
