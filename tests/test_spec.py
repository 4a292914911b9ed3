"""Instrument spec loading: valid files load, invalid ones fail with file, key path and problem."""

from __future__ import annotations

import textwrap

import pytest

from peerscale import PeerscaleError, load_instrument
from peerscale.spec import adhoc_instrument, bundled_instruments, package_dir, parse_min_answered, parse_range

GOOD = """
name: mini
title: Mini test instrument
version: "1.0"
response_scales:
  AG4:
    min: 1
    max: 4
    codes: {1: No, 2: A little, 3: Mostly, 4: Yes}
    missing: {9: Not relevant to me yet, UNK: Unknown}
items:
  - {id: q1, text: "I like {psw}.", response_scale: AG4, dimension: D1}
  - {id: q2, text: "Q two", response_scale: AG4, dimension: D1, reverse: true}
  - {id: q3, text: "Q three", response_scale: AG4, dimension: D2}
  - {id: q4, text: "Q four", response_scale: AG4, dimension: D2}
placeholders: {psw: my worker}
scales:
  - {name: d1, label: Dimension one, items: [q1, q2], min_answered: 1}
  - {name: d2, label: Dimension two, items: [q3, q4], method: sum}
composites:
  - {name: total, label: Total, scales: [d1, d2]}
"""


def write(tmp_path, text, name="spec.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_inline_spec_loads(tmp_path):
    inst = load_instrument(write(tmp_path, GOOD))
    assert inst.name == "mini" and inst.version == "1.0"
    assert [s.name for s in inst.scales] == ["d1", "d2", "total"]
    assert inst.scale("d1").keys == (1, -1)  # item-level reverse flag
    assert inst.scale("total").items == ("q1", "q2", "q3", "q4") and inst.scale("total").composite
    assert inst.scale("total").required == 3  # ceil(0.75 * 4)
    assert inst.item_text("q1") == "I like my worker."
    assert inst.items["q1"].response_scale.missing["UNK"] == "Unknown"


def test_bank_referenced_by_path(tmp_path):
    (tmp_path / "bank.yaml").write_text(textwrap.dedent("""
        bank: MINI
        form: Y
        response_scales: {R: {min: 0, max: 3}}
        items:
          - {id: a, text: A, response_scale: R}
          - {id: b, text: B, response_scale: R, reverse: true}
    """))
    inst = load_instrument(write(tmp_path, "name: m\nitems: bank.yaml\nscales: [{name: s, items: [a, b]}]\n"))
    assert inst.forms == ["Y"] and inst.bank_path.endswith("bank.yaml")
    assert inst.items["b"].response_scale.reverse(0) == 3


@pytest.mark.parametrize("change, key, words", [
    ("  - {name: d1, label: Dimension one, items: [q1, qX], min_answered: 1}", "scales[0].items[1]", "not in the item bank"),
    ("  - {name: d1, label: Dimension one, items: [q1, q1], min_answered: 1}", "scales[0].items[1]", "listed twice"),
    ("  - {name: d1, label: Dimension one, items: [q1, -q2], min_answered: 1}", "scales[0].items[1]", "already reverse-keyed"),
    ("  - {name: d1, label: Dimension one, items: [q1, q2], min_answered: 3}", "scales[0].min_answered", "whole number from 1 to 2"),
    ("  - {name: d1, label: Dimension one, items: [q1, q2], method: median}", "scales[0].method", "mean' or 'sum"),
    ("  - {name: d1, label: Dimension one, items: [q1, q2], min_answered: 0}", "scales[0].min_answered", "above 0"),
    ("  - {name: d2, label: Dimension one, items: [q1, q2]}", "scales[1].name", "used twice"),
    ("  - {name: d1, label: Dimension one, itemz: [q1, q2]}", "scales[0]", "unknown key"),
])
def test_invalid_scales(tmp_path, change, key, words):
    text = GOOD.replace("  - {name: d1, label: Dimension one, items: [q1, q2], min_answered: 1}", change)
    with pytest.raises(PeerscaleError) as err:
        load_instrument(write(tmp_path, text))
    assert err.value.file.endswith("spec.yaml")
    assert err.value.key.startswith(key), err.value.key
    assert words in str(err.value)


@pytest.mark.parametrize("old, new, key, words", [
    ("  - {id: q3,", "  - {id: q1,", "items[2].id", "duplicate item id"),
    ("  - {id: q3,", "  - {id: 3q,", "items[2].id", "must start with a letter"),
    ("response_scale: AG4, dimension: D2}\n  - {id: q4", "response_scale: AG5, dimension: D2}\n  - {id: q4",
     "items[2].response_scale", "unknown response scale"),
    ("    min: 1\n    max: 4\n", "    min: 4\n    max: 1\n", "response_scales.AG4", "must be below max"),
    ("    codes: {1: No,", "    codes: {0: Zero, 1: No,", "response_scales.AG4.codes.0", "outside the declared range"),
    ("    missing: {9:", "    missing: {4:", "response_scales.AG4.missing.4", "both a scored code and a missing code"),
    ("composites:\n  - {name: total, label: Total, scales: [d1, d2]}",
     "composites:\n  - {name: total, label: Total, scales: [d1, d9]}", "composites[0].scales[1]", "not defined"),
    ("version: \"1.0\"", "version: \"1.0\"\nnorms:\n  d9: {table: [[1, 40]]}", "norms.d9", "unknown scale"),
    ("version: \"1.0\"", "version: \"1.0\"\nnorms:\n  d2: {table: [[2, 40], [1, 50]]}", "norms.d2.table", "increasing"),
    ("version: \"1.0\"", "version: \"1.0\"\nbands:\n  d1: {cuts: [{label: lo, min: 1, max: 3}, {label: hi, min: 2, max: 4}]}",
     "bands.d1.cuts[1]", "overlap"),
    ("version: \"1.0\"", "version: \"1.0\"\ncolour: blue", "colour", "unknown key"),
])
def test_invalid_specs(tmp_path, old, new, key, words):
    assert old in GOOD
    with pytest.raises(PeerscaleError) as err:
        load_instrument(write(tmp_path, GOOD.replace(old, new, 1)))
    assert err.value.key == key
    assert words in str(err.value)


def test_reverse_item_needs_declared_range(tmp_path):
    text = """
    response_scales: {FREE: {label: any number}}
    items:
      - {id: a, text: A, response_scale: FREE, reverse: true}
    scales: [{name: s, items: [a]}]
    """
    with pytest.raises(PeerscaleError) as err:
        load_instrument(write(tmp_path, text))
    assert err.value.key == "items[0].reverse" and "declares no min and max" in str(err.value)
    text2 = text.replace(", reverse: true", "").replace("items: [a]", "items: [-a]")
    with pytest.raises(PeerscaleError, match="no declared range"):
        load_instrument(write(tmp_path, text2))


def test_yaml_errors_and_unsafe_yaml(tmp_path):
    with pytest.raises(PeerscaleError, match=r"not valid YAML \(line"):
        load_instrument(write(tmp_path, "name: [unclosed\n"))
    # safe loader: python object tags are refused, never executed
    with pytest.raises(PeerscaleError, match="not valid YAML"):
        load_instrument(write(tmp_path, "name: !!python/object/apply:os.system ['echo hi']\n"))
    with pytest.raises(PeerscaleError, match="not a mapping of keys"):
        load_instrument(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(PeerscaleError, match="instrument file not found"):
        load_instrument(tmp_path / "nope.yaml")
    with pytest.raises(PeerscaleError, match="no bundled instrument called 'nope'"):
        load_instrument("nope")


def test_bundled_instruments_found_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    names = {i.name for i in bundled_instruments()}
    assert {"pbr-y", "pbr-p", "act-y", "act-p", "act-s", "out-y"} <= names
    assert load_instrument("PBR-Y").name == "pbr-y"
    assert (package_dir("items") / "pbr-y.yaml").is_file()


def test_adhoc_keys():
    inst = adhoc_instrument(["A=-A1,A2,A3", "B=B1,B2"], value_range=(1, 6), min_answered=2)
    assert inst.scale("A").keys == (-1, 1, 1) and inst.scale("A").required == 2
    with pytest.raises(PeerscaleError, match="no `value_range` was given"):
        adhoc_instrument(["A=-A1,A2"])
    with pytest.raises(PeerscaleError, match="NAME=ITEM"):
        adhoc_instrument(["A1,A2"])
    with pytest.raises(PeerscaleError, match="given twice"):
        adhoc_instrument(["A=A1", "A=A2"])


def test_parse_options():
    assert parse_range("1:6") == (1.0, 6.0)
    for bad in ("6:1", "1-6", "a:b"):
        with pytest.raises(PeerscaleError):
            parse_range(bad)
    assert parse_min_answered("0.75") == 0.75 and parse_min_answered("3") == 3
    for bad in ("0", "-1", "2.5", "x"):
        with pytest.raises(PeerscaleError):
            parse_min_answered(bad)


def test_bank_stem_beside_scoring_file_of_the_same_name(tmp_path):
    """`items: mine` in scoring/mine.yaml must find items/mine.yaml-style banks, not itself."""
    (tmp_path / "banks").mkdir()
    (tmp_path / "banks" / "mine.yaml").write_text(
        "response_scales: {R: {min: 1, max: 3}}\nitems: [{id: a, text: A, response_scale: R}]\n")
    (tmp_path / "mine.yaml").write_text("name: mine\nitems: mine\nscales: [{name: s, items: [a]}]\n")
    with pytest.raises(PeerscaleError, match="item bank 'mine' not found"):
        load_instrument(tmp_path / "mine.yaml")
    (tmp_path / "mine.yaml").write_text("name: mine\nitems: banks/mine.yaml\nscales: [{name: s, items: [a]}]\n")
    assert load_instrument(tmp_path / "mine.yaml").scale("s").items == ("a",)
    # a bundled stem resolves to the bundled bank
    (tmp_path / "pbr.yaml").write_text("name: p\nitems: pbr-y\nscales: [{name: s, items: [pbr_y_share_01]}]\n")
    assert load_instrument(tmp_path / "pbr.yaml").bank_path.endswith("pbr-y.yaml")
