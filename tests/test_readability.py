"""Reading level of the bundled draft items (Flesch-Kincaid grade, own syllable heuristic).

Flesch-Kincaid grade level (Kincaid, Fishburne, Rogers & Chissom, 1975):

    grade = 0.39 * (words / sentences) + 11.8 * (syllables / words) - 15.59

Items are measured as the respondent reads them: placeholders such as ``{psw}`` are
replaced by their bank's text ("my peer support worker") first. Syllables come from a
vowel-group count with the usual English corrections (silent final -e, -es and -ed
endings that add no syllable, consonant + -le). Like every heuristic it is off by one on
some words; the aim is a screen for long or wordy items, not an exact grade. Run with
``-s`` to see the per-bank figures recorded in items/README.md.
"""

from __future__ import annotations

import re
import statistics

import pytest

from peerscale.spec import bundled_instruments

MEDIAN_MAX = 6.0
ITEM_MAX = 9.0

_VOWEL_GROUPS = re.compile(r"[aeiouy]+")
_WORDS = re.compile(r"[A-Za-z][A-Za-z']*")
_SENTENCE_ENDS = re.compile(r"[.!?]+")


def syllables(word: str) -> int:
    """Estimated syllables in one English word (at least 1): vowel groups, corrected for a
    silent final -e, -es/-ed endings that add no syllable, consonant + -le(s), a silent e
    before -ly/-ful/-ment/-ness/-less and inside some/every compounds, and vowel pairs
    usually said as two syllables (be-ing, i-de-a, ex-pe-ri-ence)."""
    w = re.sub(r"[^a-z]", "", word.lower())
    if not w:
        return 0
    if len(w) <= 3:
        return 1
    w = re.sub(r"^some(?=[a-z]{3})", "som", w)
    w = re.sub(r"^every(?=[a-z]{3})", "evry", w)
    w = re.sub(r"([^aeiouy])e(ly|ful|ment|ness|less)$", r"\1\2", w)
    consonant_le = re.search(r"[^aeiouy]les?$", w) is not None
    if consonant_le:
        w = w.rstrip("s")
    elif w.endswith(("es", "ed")) and not w.endswith(("ted", "ded", "ses", "zes", "ces", "ges", "ches", "shes", "xes")):
        w = w[:-2]
    elif w.endswith("e"):
        w = w[:-1]
    n = len(_VOWEL_GROUPS.findall(w))
    n += len(re.findall(r"(?<![tsc])i[ao]|ie(?=n)|eing|oing|ying|ea$|eas$", w))
    return max(1, n)


def fk_grade(text: str) -> float:
    """Flesch-Kincaid grade level of a text (one sentence if it has no end mark)."""
    words = _WORDS.findall(text)
    if not words:
        raise ValueError("text has no words")
    sentences = max(1, len(_SENTENCE_ENDS.findall(text)))
    syl = sum(syllables(w) for w in words)
    return 0.39 * len(words) / sentences + 11.8 * syl / len(words) - 15.59


def _bank_grades() -> dict[str, list[tuple[str, float]]]:
    out: dict[str, list[tuple[str, float]]] = {}
    for inst in bundled_instruments():
        out[inst.name] = [(iid, fk_grade(inst.item_text(iid))) for iid in inst.items]
    return out


@pytest.mark.parametrize("word, expected", [
    ("I", 1), ("the", 1), ("worker", 2), ("support", 2), ("people", 2), ("someone", 2),
    ("themselves", 2), ("goes", 1), ("wanted", 2), ("worked", 1), ("being", 2),
    ("experience", 4), ("relevant", 3), ("really", 2), ("table", 2),
    ("don't", 1), ("appointment", 3), ("closely", 2), ("hopeful", 2), ("something", 2),
    ("sometimes", 2), ("everyday", 3), ("struggles", 2), ("treat", 1), ("treated", 2),
    ("idea", 3), ("ideas", 3), ("seriously", 4), ("community", 4), ("choices", 2),
    ("services", 3), ("encouraged", 3), ("messes", 2), ("needed", 2), ("pushed", 1),
])
def test_syllable_heuristic_on_known_words(word, expected):
    assert syllables(word) == expected


def test_fk_grade_matches_hand_computation():
    # 9 words, 1 sentence, 10 syllables (worker has 2): 0.39*9 + 11.8*10/9 - 15.59
    text = "I can count on my worker to show up."
    assert syllables("worker") == 2
    assert fk_grade(text) == pytest.approx(0.39 * 9 + 11.8 * 10 / 9 - 15.59)
    # two sentences halve the words-per-sentence term
    assert fk_grade("I can go. You can go.") == pytest.approx(0.39 * 3 + 11.8 * 1 - 15.59)


def test_fk_grade_rejects_text_without_words():
    with pytest.raises(ValueError):
        fk_grade(" ... ")


def test_long_wordy_item_would_fail_the_screen():
    wordy = ("My peer support worker demonstrates comprehensive understanding of my "
             "psychological circumstances and consistently validates my emotional experiences.")
    assert fk_grade(wordy) > ITEM_MAX


def test_item_reading_level_is_about_grade_six():
    grades = _bank_grades()
    everything = [g for rows in grades.values() for _, g in rows]
    print()
    for name, rows in grades.items():
        values = [g for _, g in rows]
        worst = max(rows, key=lambda r: r[1])
        print(f"{name:6s} items={len(values):3d} median={statistics.median(values):5.2f} "
              f"max={worst[1]:5.2f} ({worst[0]})")
    print(f"all    items={len(everything):3d} median={statistics.median(everything):5.2f} max={max(everything):5.2f}")
    assert statistics.median(everything) <= MEDIAN_MAX
    for name, rows in grades.items():
        assert statistics.median(g for _, g in rows) <= MEDIAN_MAX, name
    too_hard = [(name, iid, round(g, 1)) for name, rows in grades.items() for iid, g in rows if g > ITEM_MAX]
    assert not too_hard, f"items above grade {ITEM_MAX}: {too_hard}"


def test_instructions_are_plain_too():
    grades = {inst.name: fk_grade(inst.instructions) for inst in bundled_instruments()}
    print("\ninstructions:", {k: round(v, 1) for k, v in grades.items()})
    assert all(g <= MEDIAN_MAX for g in grades.values()), grades
