"""The bundled draft item banks and scoring files hold the content rules of issue 2.

Rules come from /work/shared/domain/peerness-theory.md (dimensions, activities, outcomes,
response scales, about one reverse-keyed item in five, 75% answered rule) and the issue's
"Draft item banks" section (item counts per form, DRAFT status with a version).
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
from peerscale.spec import bundled_instruments, load_instrument, package_dir

PBR_CORE = ["SHARE", "VALID", "TRUST", "AUTH", "MUTUAL", "AUTON"]
PBR_OPTIONAL = ["HOPE", "CARE"]
ACTIVITIES = ["ENGAGE", "SHARE", "SUPPORT", "GOALS", "NAVIGATE", "VOICE", "CONNECT"]
OUTCOMES = ["CONNECTED", "HOPE", "EFFICACY", "ACCEPT", "VOICE"]
ID_COLUMNS = ("record_id", "redcap_event_name", "redcap_repeat_instrument",
              "redcap_repeat_instance", "dyad_id", "worker_id")
AGREE5 = {1: "Strongly disagree", 2: "Disagree", 3: "Neither agree nor disagree", 4: "Agree", 5: "Strongly agree"}
FREQ5 = {1: "Never", 2: "Rarely", 3: "Sometimes", 4: "Often", 5: "Almost always"}
OBS4 = {1: "Not seen", 2: "Emerging", 3: "Solid", 4: "Strong"}
FORMS = {"pbr-y": "Y", "pbr-p": "P", "act-y": "Y", "act-p": "P", "act-s": "S", "out-y": "Y"}
BANKS = {"pbr-y": "PBR", "pbr-p": "PBR", "act-y": "ACT", "act-p": "ACT", "act-s": "ACT", "out-y": "OUT"}


@pytest.fixture(scope="module")
def inst():
    return {name: load_instrument(name) for name in FORMS}


def by_dimension(instrument):
    groups: dict[str, list] = {}
    for item in instrument.items.values():
        groups.setdefault(item.dimension, []).append(item)
    return groups


def reverse_share(instrument):
    items = list(instrument.items.values())
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
    assert i.status == "draft" and i.version == "0.1.0"
    assert i.id_columns == ID_COLUMNS
    assert "draft" in i.title.lower()
    assert i.instructions
    # the bank file is a separate file in items/, found from the scoring file
    assert Path(i.bank_path).parent.name == "items" and Path(i.bank_path).stem == name


# ----------------------------------------------------------------- PBR

def test_pbr_y_covers_core_and_optional_dimensions(inst):
    i = inst["pbr-y"]
    assert list(i.dimensions) == PBR_CORE + PBR_OPTIONAL
    assert [d for d, v in i.dimensions.items() if v["optional"]] == PBR_OPTIONAL
    assert all(v["definition"] for v in i.dimensions.values())
    groups = by_dimension(i)
    assert set(groups) == set(PBR_CORE + PBR_OPTIONAL)
    for dim, items in groups.items():
        assert len(items) >= (7 if dim in PBR_CORE else 6), dim
        assert any(it.reverse for it in items), f"{dim} has no reverse-keyed item"
        assert not all(it.reverse for it in items), dim


def test_pbr_y_about_one_in_five_reverse_keyed(inst):
    assert 0.15 <= reverse_share(inst["pbr-y"]) <= 0.25


def test_pbr_y_uses_agree5_and_names_the_worker(inst):
    i = inst["pbr-y"]
    assert i.placeholders == {"psw": "my peer support worker"}
    assert {it.response_scale.name for it in i.items.values()} == {"AGREE5"}
    rs = i.response_scales()["AGREE5"]
    assert (rs.min, rs.max) == (1, 5) and rs.codes == AGREE5 and rs.missing == {}
    assert all("{psw}" in it.text for it in i.items.values())


def test_pbr_p_parallels_the_six_core_dimensions(inst):
    i = inst["pbr-p"]
    assert list(i.dimensions) == PBR_CORE
    assert i.placeholders == {"yp": "this young person"}
    groups = by_dimension(i)
    assert set(groups) == set(PBR_CORE)
    for dim, items in groups.items():
        assert len(items) >= 4, dim
        assert any(it.reverse for it in items), dim
    assert 0.15 <= reverse_share(i) <= 0.25
    assert i.response_scales()["AGREE5"].codes == AGREE5
    assert all("{yp}" in it.text for it in i.items.values())


def test_pbr_y_and_p_dimension_definitions_agree(inst):
    y, p = inst["pbr-y"].dimensions, inst["pbr-p"].dimensions
    assert all(p[d] == y[d] for d in PBR_CORE)


# ----------------------------------------------------------------- ACT

@pytest.mark.parametrize("name, not_relevant", [("act-y", "Not relevant to me yet"),
                                                 ("act-p", "Not relevant for this young person yet")])
def test_act_frequency_forms(inst, name, not_relevant):
    i = inst[name]
    assert list(i.dimensions) == ACTIVITIES
    groups = by_dimension(i)
    assert set(groups) == set(ACTIVITIES)
    assert all(len(items) >= 3 for items in groups.values())
    assert not any(it.reverse for it in i.items.values()), "frequency items are not reverse-keyed"
    assert {it.recall_period for it in i.items.values()} == {"over the last month"}
    rs = i.response_scales()["FREQ5"]
    assert (rs.min, rs.max) == (1, 5) and rs.codes == FREQ5
    # 9 is a missing-data code, never a score
    assert rs.missing == {9: not_relevant}
    assert 9 not in rs.codes and not rs.min <= 9 <= rs.max
    assert not_relevant in i.instructions


def test_act_observer_form(inst):
    i = inst["act-s"]
    groups = by_dimension(i)
    assert set(groups) == set(ACTIVITIES)
    assert all(len(items) >= 2 for items in groups.values())
    assert not any(it.reverse for it in i.items.values())
    rs = i.response_scales()["OBS4"]
    assert (rs.min, rs.max) == (1, 4) and rs.codes == OBS4
    assert rs.missing == {9: "Could not observe"}


def test_act_forms_share_activity_definitions(inst):
    y = inst["act-y"].dimensions
    assert inst["act-p"].dimensions == y == inst["act-s"].dimensions


# ----------------------------------------------------------------- OUT

def test_out_y_five_outcomes_as_change_items(inst):
    i = inst["out-y"]
    assert list(i.dimensions) == OUTCOMES
    groups = by_dimension(i)
    for dim in OUTCOMES:
        assert len(groups[dim]) >= 4, dim
        assert sum(it.reverse for it in groups[dim]) == 1, dim
    assert all(it.text.startswith("Since working with {psw}, ") for it in i.items.values())
    assert i.response_scales()["AGREE5"].codes == AGREE5


# ----------------------------------------------------------------- across all banks

def test_every_item_is_draft_with_a_version(inst):
    for i in inst.values():
        for it in i.items.values():
            assert it.status == "draft" and it.version == "0.1.0", it.id


def test_item_ids_are_redcap_field_names_and_unique_across_banks(inst):
    ids = [iid for i in inst.values() for iid in i.items]
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", iid) for iid in ids)
    assert len(ids) == len(set(ids))
    # ids say their bank, form and dimension: pbr_y_share_01
    for name, i in inst.items():
        prefix = name.replace("-", "_") + "_"
        for iid, it in i.items.items():
            assert iid.startswith(prefix + it.dimension.lower() + "_"), iid


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


def test_reverse_keyed_items_carry_no_negation(inst):
    # "disagree" with a negated sentence is a double negative, a known source of misreading
    negation = re.compile(r"\b(not|no|never|nothing|nobody|none)\b|n't\b", re.I)
    offenders = [iid for i in inst.values() for iid, it in i.items.items()
                 if it.reverse and negation.search(it.text)]
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
    assert sorted(covered) == sorted(i.items)
    for c in (s for s in i.scales if s.composite):
        assert c.method == "mean" and c.min_answered == 0.75


def test_pbr_totals(inst):
    y = inst["pbr-y"]
    core = y.scale("pbr_core")
    assert core.of_scales == ("share", "valid", "trust", "auth", "mutual", "auton")
    assert {y.items[x].dimension for x in core.items} == set(PBR_CORE)
    assert set(y.scale("pbr_all").items) == set(y.items)
    p = inst["pbr-p"]
    assert set(p.scale("pbr_core").items) == set(p.items)
    # Y and P use the same scale names, so dyad scores line up column by column
    assert [s.name for s in p.scales] == [s.name for s in y.scales if s.name not in ("hope", "care", "pbr_all")]


@pytest.mark.parametrize("name, total", [("act-y", "act_total"), ("act-p", "act_total"),
                                         ("act-s", "act_total"), ("out-y", "out_total")])
def test_totals_pool_every_item(inst, name, total):
    i = inst[name]
    assert set(i.scale(total).items) == set(i.items)


@pytest.mark.parametrize("name", sorted(FORMS))
def test_bands_are_anchor_based_cover_the_range_and_are_not_norms(inst, name):
    i = inst[name]
    assert i.norms == {}, "no norm tables exist for draft items"
    assert set(i.bands) == {s.name for s in i.scales}
    rs = next(iter(i.response_scales().values()))
    doc = yaml.safe_load(Path(i.path).read_text())
    for sname, (on, bands) in i.bands.items():
        assert on == "score"
        assert "not a norm" in doc["bands"][sname]["source"]
        assert bands[0].min == rs.min and bands[-1].max == rs.max
        assert all(a.max == b.min for a, b in zip(bands, bands[1:])), "bands leave a gap"
        labels = [b.label for b in bands]
        assert len(labels) == len(set(labels))


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
    assert res.summary["missing_by_reason"].get("Not relevant to me yet") == 3
    bands = s["act_engage_band"]
    assert bands.iloc[0] == "Often or almost always" and pd.isna(bands.iloc[1]) and bands.iloc[2] == "Sometimes"


def test_reverse_keyed_pbr_items_score_from_the_declared_range(inst):
    i = inst["pbr-y"]
    share = i.scale("share")
    # a young person who agrees strongly with every positive item and strongly
    # disagrees with every reverse item has the top score
    row = {iid: (1 if i.items[iid].reverse else 5) for iid in i.items}
    s = score_data(pd.DataFrame([row, {k: 6 - v for k, v in row.items()}]), i).scores
    assert s["share"].tolist() == [5.0, 1.0]
    assert s["pbr_core"].tolist() == [5.0, 1.0]
    assert s["share_n"].tolist() == [len(share.items)] * 2
    assert s["pbr_core_band"].tolist() == ["Mostly agree", "Mostly disagree"]


def test_missing_code_9_is_invalid_on_agree5_scales(inst):
    i = inst["pbr-y"]
    data = pd.DataFrame([{iid: 3 for iid in i.items}])
    data.iloc[0, 0] = 9
    with pytest.raises(PeerscaleError):
        score_data(data, i)


def test_observer_could_not_observe_is_missing(inst):
    i = inst["act-s"]
    data = pd.DataFrame([{iid: 4 for iid in i.items}])
    first = i.scale("act_voice").items[0]
    data[first] = 9
    s = score_data(data, i).scores
    # two items per activity: 75% needs both, so one "Could not observe" leaves it unscored
    assert np.isnan(s["act_voice"].iloc[0]) and s["act_voice_n"].iloc[0] == 1
    assert s["act_total"].iloc[0] == 4.0 and s["act_total_n"].iloc[0] == 13


def test_bank_files_are_plain_yaml_in_items_dir():
    for name in FORMS:
        path = package_dir("items") / f"{name}.yaml"
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert doc["status"] == "draft" and doc["version"] == "0.1.0"
