"""Wording lint for the bundled item banks: the construction problems of the 0.1.0 review
(item-review.md §3.2) must not come back.

Each pattern below flags a sign of an item that asks two things, or asks them in a way that
makes "disagree" ambiguous:

- ``contrast``: "X, not Y" and "but" clauses (two claims: X is true and Y is false);
- ``negation``: not, n't, never, no, without (disagreeing gives a double negative);
- ``causal``: because, so that, since, due to (a state joined to an attribution);
- ``and`` / ``or``: two predicates or alternatives in one item;
- ``two sentences``: a semicolon or a second sentence;
- ``frequency``: how-often words in an item answered on an agreement scale (two response
  dimensions: does it happen x how much do I agree).

A pattern can be legitimate (a compound subject, "{psw} and I", asks one thing). Those items
were read by hand and are listed in ``ALLOWED`` with the reason; the list is checked both ways,
so an entry that no longer matches must be removed.
"""

from __future__ import annotations

import re

import pytest

from peerscale.spec import bundled_instruments

PATTERNS = {
    "contrast": re.compile(r",\s*not\b|\bbut\b|\brather than\b|\binstead of\b", re.I),
    "negation": re.compile(r"\b(not|never|no|nothing|nobody|none|without)\b|n't\b", re.I),
    "causal": re.compile(r"\b(because|so that|since|due to|thanks to)\b|\bbecause of\b", re.I),
    "and": re.compile(r"\band\b", re.I),
    "or": re.compile(r"\bor\b", re.I),
    "two sentences": re.compile(r";|[.!?]\s+\S"),
    "frequency": re.compile(r"\b(always|often|sometimes|usually|rarely|seldom|ever|every time|most of the time|"
                            r"right away|again and again|from time to time|now and then)\b", re.I),
}
AGREEMENT_ONLY = {"frequency"}

COMPOUND_SUBJECT = "compound subject ('… and I'): one predicate about the pair, reviewed by hand"
ALLOWED = {
    "pbr_y_share_08": {"and": COMPOUND_SUBJECT},
    "pbr_y_mutual_01": {"and": COMPOUND_SUBJECT},
    "pbr_y_mutual_03": {"and": COMPOUND_SUBJECT},
    "pbr_y_auton_01": {"and": COMPOUND_SUBJECT},
    "pbr_y_auton_03": {"and": COMPOUND_SUBJECT},
    "pbr_p_share_07": {"and": COMPOUND_SUBJECT},
    "pbr_p_mutual_01": {"and": COMPOUND_SUBJECT},
    "pbr_p_mutual_03": {"and": COMPOUND_SUBJECT},
    "act_y_engage_06": {"and": COMPOUND_SUBJECT},
    "act_y_engage_02": {"and": "'places and times that suited me' is one idea (meetings that suit me), reviewed by hand"},
    "act_p_engage_02": {"and": "'places and times that suited them' is one idea (meetings that suit them), reviewed by hand"},
    "act_s_engage_01": {"and": "'times and places that suit' is one idea (meetings that suit the young person), reviewed by hand"},
    "act_s_navigate_01": {"and": "'services and systems' is one noun phrase (the service world), reviewed by hand"},
}


def lint(text: str, agreement: bool) -> set[str]:
    """Names of the patterns a text shows."""
    return {name for name, rx in PATTERNS.items()
            if rx.search(text) and (agreement or name not in AGREEMENT_ONLY)}


def is_agreement(rs) -> bool:
    return any("agree" in str(label).lower() for label in rs.codes.values())


def _items():
    return [(inst.name, it) for inst in bundled_instruments() for it in inst.items.values()]


@pytest.mark.parametrize("name, item", _items(), ids=lambda x: getattr(x, "id", x))
def test_item_wording_has_no_unreviewed_double_barrel(name, item):
    found = lint(item.text, is_agreement(item.response_scale))
    unreviewed = found - set(ALLOWED.get(item.id, {}))
    assert not unreviewed, f"{name} {item.id}: {sorted(unreviewed)} in {item.text!r}"


def test_allow_list_is_current_and_every_entry_has_a_reason():
    items = {it.id: it for _, it in _items()}
    for iid, reasons in ALLOWED.items():
        assert iid in items, f"{iid} is allow-listed but no longer in a bank"
        found = lint(items[iid].text, is_agreement(items[iid].response_scale))
        for pattern, reason in reasons.items():
            assert pattern in found, f"{iid}: {pattern!r} no longer matches; remove it from ALLOWED"
            assert len(reason) > 20


@pytest.mark.parametrize("text, agreement, expected", [
    # the review's examples from the 0.1.0 banks (item-review.md §3.2, §3.3)
    ("I feel that {psw} listens to understand me, not to fix me.", True, {"contrast", "negation"}),
    ("I don't have to explain it all to {psw}, because they have been there too.", True, {"negation", "causal"}),
    ("Because of {psw}, I can picture a better future for myself.", True, {"causal"}),
    ("Sometimes {psw} seems fake, like they are just doing a job.", True, {"frequency"}),
    ("Most of the time, {psw} decides what we talk about.", True, {"frequency"}),
    ("Talking with {psw} goes both ways; we both share and we both listen.", True, {"two sentences", "and"}),
    ("Things worked out for {psw}, but I doubt they will for me.", True, {"contrast"}),
    ("I had help from {psw} with forms, phone calls or appointments.", False, {"or"}),
    ("The worker listens closely and says back what {yp} has said.", False, {"and"}),
    ("I can say how I really feel without {psw} judging me.", True, {"negation"}),
    # frequency words are the answer scale's job on FREQ5, so they are only flagged on agreement scales
    ("{psw} often replied when I reached out.", False, set()),
    ("{psw} replied when I reached out.", True, set()),
])
def test_lint_flags_the_reviews_examples(text, agreement, expected):
    assert lint(text, agreement) == expected
