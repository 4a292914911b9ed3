"""Item metadata of banks 0.2: pair, viewpoint, requires, recall, anchors and retired ids,
checked on load (one test per bad case), and the pair API the dyad analyses use."""

from __future__ import annotations

import textwrap

import pytest

from peerscale import PeerscaleError, load_instrument
from peerscale.spec import RECALL, Requirement, item_pairs, paired_scale_items

Y_BANK = """
bank: T
form: Y
recall: now
pairs_with: bank-p
response_scales:
  AG: {min: 1, max: 5, codes: {1: No, 2: a, 3: b, 4: c, 5: Yes}}
  YN: {codes: {1: "Yes", 2: "No"}, missing: {3: Not sure}}
dimensions: {D1: One, D2: Two}
items:
  - {id: y1, text: "{psw} listens.", response_scale: AG, dimension: D1, viewpoint: other, pair: p1}
  - {id: y2, text: "I feel safe.", response_scale: AG, dimension: D1, viewpoint: self, pair: p2}
  - {id: y3, text: "We are equals.", response_scale: AG, dimension: D2, viewpoint: shared, pair: p3}
  - {id: screen, text: "{psw} has told me their story.", response_scale: YN}
  - {id: y4, text: "Their story feels true.", response_scale: AG, dimension: D2, requires: {item: screen, answer: 1}}
placeholders: {psw: my worker}
"""

P_BANK = """
bank: T
form: P
recall: now
pairs_with: bank-y
response_scales:
  AG: {min: 1, max: 5, codes: {1: No, 2: a, 3: b, 4: c, 5: Yes}}
dimensions: {D1: One, D2: Two}
items:
  - {id: p1, text: "I listen.", response_scale: AG, dimension: D1, viewpoint: self, pair: y1}
  - {id: p2, text: "They feel safe.", response_scale: AG, dimension: D1, viewpoint: other, pair: "bank-y:y2"}
  - {id: p3, text: "We are equals.", response_scale: AG, dimension: D2, viewpoint: shared}
"""


def build(tmp_path, y=Y_BANK, p=P_BANK):
    (tmp_path / "bank-y.yaml").write_text(textwrap.dedent(y))
    (tmp_path / "bank-p.yaml").write_text(textwrap.dedent(p))
    (tmp_path / "y.yaml").write_text("name: y\nitems: bank-y.yaml\nscales:\n"
                                     "  - {name: d1, items: [y1, y2]}\n  - {name: d2, items: [y3, y4]}\n")
    (tmp_path / "p.yaml").write_text("name: p\nitems: bank-p.yaml\nscales:\n"
                                     "  - {name: d1, items: [p1, p2]}\n  - {name: d2, items: [p3]}\n")
    return tmp_path / "y.yaml", tmp_path / "p.yaml"


def fails(tmp_path, key, words, y=Y_BANK, p=P_BANK, which="y"):
    paths = build(tmp_path, y, p)
    with pytest.raises(PeerscaleError) as err:
        load_instrument(paths[0] if which == "y" else paths[1])
    assert err.value.key == key, (err.value.key, str(err.value))
    assert words in str(err.value), str(err.value)
    return err.value


def test_metadata_loads(tmp_path):
    y_path, p_path = build(tmp_path)
    y = load_instrument(y_path)
    assert y.recall == "now" and y.recall_text() == RECALL["now"]
    assert y.items["y1"].viewpoint == "other" and y.items["y1"].pair == "p1" and y.items["y1"].pair_bank == "bank-p"
    assert y.items["y4"].requires == Requirement("screen", (1.0,))
    assert y.items["y4"].requires.redcap_logic() == "[screen] = '1'"
    assert y.screening_items() == ["screen"]
    assert y.items["y1"].recall == "now"
    # a first letter supplied by a placeholder is capitalised
    assert y.item_text("y1") == "My worker listens."
    p = load_instrument(p_path)
    assert p.items["p2"].pair == "y2" and p.items["p2"].pair_bank == "bank-y"


def test_item_pairs_from_either_side_with_kind(tmp_path):
    y_path, p_path = build(tmp_path)
    pairs = item_pairs(p_path, y_path)
    assert [(x.a, x.b) for x in pairs] == [("p1", "y1"), ("p2", "y2"), ("p3", "y3")]  # p3 declared on y's side only
    kinds = {x.a: (x.kind, x.target) for x in pairs}
    assert kinds == {"p1": ("self-other", "P"), "p2": ("self-other", "Y"), "p3": ("shared", None)}
    assert [(x.a, x.b) for x in item_pairs(y_path, p_path)] == [("y1", "p1"), ("y2", "p2"), ("y3", "p3")]
    grouped = paired_scale_items(y_path, p_path)
    assert {k: [x.a for x in v] for k, v in grouped.items()} == {"d1": ["y1", "y2"], "d2": ["y3"]}
    assert item_pairs(y_path, "act-s") == []


@pytest.mark.parametrize("old, new, key, words", [
    ("viewpoint: other, pair: p1", "viewpoint: others, pair: p1", "items[0].viewpoint", "viewpoint must be one of"),
    ("recall: now", "recall: yesterday", "recall", "recall must be one of"),
    ("dimension: D1, viewpoint: other, pair: p1}", "dimension: D1, recall: ever, pair: p1}", "items[0].recall",
     "recall must be one of"),
    ("requires: {item: screen, answer: 1}", "requires: {item: nope, answer: 1}", "items[4].requires.item",
     "is not in the item bank"),
    ("requires: {item: screen, answer: 1}", "requires: {item: y4, answer: 1}", "items[4].requires.item",
     "cannot require itself"),
    ("requires: {item: screen, answer: 1}", "requires: {item: screen, answer: 7}", "items[4].requires.answer",
     "not a code of response scale 'YN'"),
    ("requires: {item: screen, answer: 1}", "requires: {item: screen}", "items[4].requires", "missing required key 'answer'"),
    ("requires: {item: screen, answer: 1}", "requires: screen", "items[4].requires", "names no answer"),
    ("response_scale: AG, dimension: D1, viewpoint: other, pair: p1}",
     "response_scale: AG, dimension: D1, viewpoint: other, pair: p1, requires: {item: screen, answer: 1}}",
     "items[0].requires.item", "comes after this item"),
    ("pair: p1}", "pair: p9}", "items[0].pair", "'p9' is not an item of bank 'bank-p'"),
    ("pair: p1}", "pair: y1}", "items[0].pair", "'y1' is not an item of bank 'bank-p'"),
    ("pair: p1}", "pair: \"nobank:p1\"}", "items[0].pair", "paired bank 'nobank' not found"),
    ("pairs_with: bank-p", "pairs_with: missing-bank", "items[0].pair", "paired bank 'missing-bank' not found"),
    ("pair: p2}", "pair: p1}", "items[1].pair", "names 'p1' as its pair, but 'p1' names 'y1'"),
    ("pair: p3}", "pair: \"a b\"}", "items[2].pair", "is not an item id"),
])
def test_bad_metadata_on_the_young_person_bank(tmp_path, old, new, key, words):
    assert old in Y_BANK
    fails(tmp_path, key, words, y=Y_BANK.replace(old, new, 1))


def test_pair_one_to_one_and_same_range(tmp_path):
    # two items naming one twin (the twin names neither)
    y = Y_BANK.replace("pair: p3}", "pair: p3}\n  - {id: y5, text: x, response_scale: AG, dimension: D2, pair: p3}")
    fails(tmp_path, "items[3].pair", "both name 'p3' as their pair", y=y)
    # a twin on another range cannot be compared
    p = P_BANK.replace("  AG: {min: 1, max: 5", "  AG7: {min: 1, max: 7, codes: {1: a, 7: b}}\n  AG: {min: 1, max: 5") \
        .replace("viewpoint: shared}", "viewpoint: shared}").replace(
        "{id: p3, text: \"We are equals.\", response_scale: AG,", "{id: p3, text: \"We are equals.\", response_scale: AG7,")
    fails(tmp_path, "items[2].pair", "scored on different ranges", p=p)


def test_pair_within_one_bank(tmp_path):
    text = """
    name: both
    response_scales: {AG: {min: 1, max: 5}}
    items:
      - {id: a, text: A, response_scale: AG, form: Y, pair: b}
      - {id: b, text: B, response_scale: AG, form: P, pair: a}
      - {id: c, text: C, response_scale: AG, form: Y, pair: c}
    scales: [{name: s, items: [a, b]}]
    """
    (tmp_path / "both.yaml").write_text(textwrap.dedent(text).replace("  - {id: c, text: C, response_scale: AG, form: Y, pair: c}\n", ""))
    inst = load_instrument(tmp_path / "both.yaml")
    assert [(p.a, p.b) for p in item_pairs(inst, inst)][:1] == [("a", "b")]
    (tmp_path / "both.yaml").write_text(textwrap.dedent(text))
    with pytest.raises(PeerscaleError, match="cannot be its own pair") as err:
        load_instrument(tmp_path / "both.yaml")
    assert err.value.key == "items[2].pair"


def test_anchors_describe_every_code(tmp_path):
    good = Y_BANK.replace("viewpoint: other, pair: p1}",
                          "viewpoint: other, pair: p1, anchors: {1: n1, 2: n2, 3: n3, 4: n4, 5: n5}}")
    y_path, _ = build(tmp_path, y=good)
    assert load_instrument(y_path).items["y1"].anchors[5.0] == "n5"
    fails(tmp_path, "items[0].anchors", "none for 5",
          y=good.replace("anchors: {1: n1, 2: n2, 3: n3, 4: n4, 5: n5}", "anchors: {1: n1, 2: n2, 3: n3, 4: n4}"))
    fails(tmp_path, "items[0].anchors.9", "not a code of response scale",
          y=good.replace("5: n5}", "5: n5, 9: n9}"))
    fails(tmp_path, "items[0].anchors", "need a response scale with codes",
          y=good.replace("  AG: {min: 1, max: 5, codes: {1: No, 2: a, 3: b, 4: c, 5: Yes}}", "  AG: {min: 1, max: 5}"),
          p=P_BANK.replace("  AG: {min: 1, max: 5, codes: {1: No, 2: a, 3: b, 4: c, 5: Yes}}", "  AG: {min: 1, max: 5}"))


def test_retired_ids_are_never_reused(tmp_path):
    y = Y_BANK.replace("pairs_with: bank-p", "pairs_with: bank-p\nretired: {old1: \"0.2.0: dropped\", y3: \"0.2.0: reworded\"}")
    err = fails(tmp_path, "items[2].id", "was retired (0.2.0: reworded)", y=y)
    assert "never reused" in str(err)
    y_path, _ = build(tmp_path, y=y.replace(", y3: \"0.2.0: reworded\"", ""))
    assert load_instrument(y_path).retired == {"old1": "0.2.0: dropped"}


def test_requires_accepts_labels_lists_and_short_form(tmp_path):
    y = Y_BANK.replace("requires: {item: screen, answer: 1}", "requires: {item: screen, answer: [\"yes\", 3]}")
    y_path, _ = build(tmp_path, y=y)
    req = load_instrument(y_path).items["y4"].requires
    assert req.answers == (1.0, 3)
    assert req.redcap_logic() == "[screen] = '1' or [screen] = '3'"
    y_path, _ = build(tmp_path, y=Y_BANK.replace("requires: {item: screen, answer: 1}", "requires: \"screen=2\""))
    assert load_instrument(y_path).items["y4"].requires.answers == (2.0,)
    y_path, _ = build(tmp_path, y=Y_BANK.replace("recall: now", "recall: last month"))
    assert load_instrument(y_path).recall == "last_month"


def test_show_lists_pairs_and_screens(tmp_path, run_cli):
    y_path, _ = build(tmp_path)
    code, out, err = run_cli("show", y_path)
    assert code == 0, err
    assert "Pairs (twin item on the other form)" in out
    assert "y1 <-> p1 (bank-p; viewpoint other)" in out
    assert "no pair: screen, y4" in out
    assert "[asked if [screen] = '1']" in out
    code, out, _ = run_cli("show", y_path, "--format", "markdown")
    assert "## Pairs (twin item on the other form)" in out and "- y2 <-> p2 (bank-p; viewpoint self)" in out
    code, out, _ = run_cli("show", y_path, "--format", "json")
    import json
    items = {i["id"]: i for i in json.loads(out)["items"]}
    assert items["y4"]["requires"] == {"item": "screen", "answers": [1], "redcap": "[screen] = '1'"}
    assert items["y1"]["pair"] == "p1" and items["y1"]["viewpoint"] == "other"
