"""A cognitive-interview protocol for an instrument, written from its bank: think-aloud,
the four standard probes for every item (comprehension, retrieval, judgement, response
mapping; Tourangeau, Rips & Rasinski 2000; Willis 2005), and targeted probes the item's
metadata calls for (reverse keying, a screening question, the items it gates, whose view the
item asks for, described levels, idioms, candidate items), with an issue log per item.
"""

from __future__ import annotations

from .errors import PeerscaleError
from .spec import code_text as _code

# Phrases a young reader (or a translator) may take literally; probed item by item.
IDIOMS = ("on the same level", "set the pace", "sets the pace", "lean on", "goes both ways", "talks down",
          "talking down", "put on an act", "own up", "owns up", "mess up", "messes up", "gets what i mean",
          "gets what my life is like", "get what life is like",
          "stick with", "let me down", "let them down", "open mind", "where i come from", "put myself down",
          "cut off", "backs me up", "back them up", "views to myself", "turned the talk back", "hard times",
          "just themselves", "just myself", "lived through", "way forward")

ISSUE_CODES = [
    ("CL", "Clarity", "wording unclear, vague or read in different ways"),
    ("AS", "Assumptions", "the item assumes something that is not true for this person (e.g. that the worker shared their story)"),
    ("KN", "Knowledge or memory", "the person cannot know or remember the answer"),
    ("JU", "Judgement", "two ideas in one item, or the answer needs a judgement the person cannot make"),
    ("SE", "Sensitivity", "the item feels intrusive, or the person worries about who sees the answer"),
    ("RC", "Response categories", "the answer options do not fit, or the person is between two options"),
    ("IN", "Instructions", "the instructions or the time period were missed or misread"),
    ("TR", "Translation", "an idiom or phrase that will not translate or that this person does not use"),
]

PROBES = {
    "comprehension": "In your own words, what is this sentence asking you?",
    "retrieval": "What came to mind when you answered? Can you tell me about a time that made you think of it?",
    "judgement": "How sure are you about your answer? Was it easy or hard to decide?",
    "response": "You chose \u201c{answer}\u201d. Why that one, and not the answer next to it?",
}


def _respondent_word(inst) -> str:
    forms = set(inst.forms)
    if forms == {"Y"}:
        return "young people"
    if forms == {"P"}:
        return "peer support workers"
    if forms == {"S"}:
        return "supervisors or observers"
    return "respondents"


def _targeted(inst, iid: str) -> list[str]:
    item = inst.items[iid]
    out = []
    rs = item.response_scale
    screens = set(inst.screening_items())
    if iid in screens:
        gated = [i for i, it in inst.items.items() if it.requires and it.requires.item == iid]
        out.append("Screening question: how did you decide between the answers? What would count as a "
                   "\u201cyes\u201d for you? (It decides whether the next "
                   f"{len(gated)} questions are asked.)")
    if item.requires is not None:
        screen = inst.items[item.requires.item]
        answers = ", ".join(str(screen.response_scale.codes.get(a, a)) for a in item.requires.answers)
        out.append(f"Asked only after \u201c{answers}\u201d to the screening question. Did this question fit "
                   "what you had said? Was anything about it missing or wrong for you?")
    if item.reverse:
        out.append("This sentence describes something that would be a problem. What would it mean if you chose "
                   f"\u201c{rs.codes.get(rs.min, 'the lowest answer')}\u201d? (Listen for double negatives.)")
    if item.viewpoint == "other" and item.form == "P":
        out.append("How can you tell what this young person thinks or feels about this? What have you seen or heard?")
    elif item.viewpoint == "other":
        out.append("What has this person done or said that made you answer this way?")
    elif item.viewpoint == "shared":
        out.append("Were you thinking about yourself, the other person, or both of you together?")
    if item.anchors:
        out.append("Which description fitted best? What did you see that matched it? "
                   "Was what you saw between two levels?")
    if item.status == "candidate":
        out.append("This is a new, candidate question. Does it describe something that matters in a relationship "
                   "with a peer support worker? Is it the same as another question you answered?")
    low = item.text.lower()
    for idiom in IDIOMS:
        if idiom in low:
            out.append(f"What does \u201c{idiom}\u201d mean to you? How would you say it in your own words? (TR)")
    if item.note:
        out.append(f"Interviewer note: {inst.fill(item.note)}")
    return out


def interview_guide(instrument, *, items: list[str] | None = None) -> str:
    """A cognitive-interview protocol (Markdown) for an instrument.

    Parameters
    ----------
    instrument : Instrument, bundled name or scoring-file path
    items : list of item ids, optional
        Only these items (in bank order); default all.

    Returns
    -------
    str
        Markdown: method, introduction script, think-aloud practice, the instructions and answer
        options with their probes, then per item the item as read, its answer options, the
        four standard probes, targeted probes from its metadata, and an issue-log table;
        finally the issue codes and the decision rule for revising, dropping or keeping.
    """
    from .spec import RECALL, load_instrument

    inst = load_instrument(instrument)
    ids = list(inst.items)
    if items:
        unknown = [i for i in items if i not in inst.items]
        if unknown:
            raise PeerscaleError(f"{len(unknown)} item(s) are not in {inst.name}: {', '.join(unknown)}",
                                 hint="item ids: see `peerscale show " + inst.name + "`")
        ids = [i for i in ids if i in set(items)]
    who = _respondent_word(inst)
    recall = RECALL.get(inst.recall or "", inst.recall_period or "")
    out = [f"# Cognitive interview protocol: {inst.title}", "",
           f"`{inst.name}` version {inst.version}, status {inst.status.upper()}: {len(ids)} item(s). "
           f"Written by peerscale from the item bank; the items are drafts, not validated.", "",
           "## Method", "",
           "- One-to-one interviews of about 45–60 minutes. The person answers each question as they would on "
           "the real form, thinking aloud, and the interviewer asks the probes below (concurrent think-aloud "
           "with scripted probes; Willis 2005). The probes follow the four steps of answering a question: "
           "understanding it (comprehension), remembering (retrieval), deciding (judgement) and choosing an "
           "answer (response mapping; Tourangeau, Rips & Rasinski 2000).",
           f"- Who: {who}. Plan 2–3 rounds of 8–10 people, with the items revised between rounds. Include "
           "different ages (16–17 and 18–25), programme types, reading levels and backgrounds.",
           "- Use the form as respondents will see it (the REDCap survey from `peerscale redcap-dictionary`, "
           "or a printout), this guide, and one issue log per interview.",
           "- Do not promise that what people say stays private. Explain who will read the notes, and what the "
           "service must do if someone may be at risk of harm (mandated reporting). Explain that the worker "
           "they talk about will not see their individual answers, if that is true for the study.", "",
           "## Introduction (read aloud)", "",
           "> Thank you for helping us. We are testing new questions, not testing you. There are no right or "
           "wrong answers. I want to hear how the questions sound to you and what you think about as you "
           "answer. Please think out loud as you go. If a question is confusing or does not fit you, that "
           "is exactly what we need to know. You can skip any question or stop at any time.", "",
           "## Think-aloud practice", "",
           "> Let's practise. How many windows are there in the place where you live? Please tell me "
           "everything you think about as you work it out.", "",
           "Praise the thinking aloud, not the answer. Remind the person to keep talking if they go quiet.", "",
           "## Instructions and answer options", "", f"> {inst.fill(inst.instructions)}" if inst.instructions else
           "> (This instrument has no instructions text.)", ""]
    probes = ["In your own words, what are these instructions asking you to do?"]
    if recall:
        probes.append(f"What time did you think about when answering? (Intended: {recall}.)")
    for rs in inst.response_scales().values():
        labels = "; ".join(f"{_code(c)} = {v}" for c, v in rs.codes.items())
        out.append(f"- **{rs.label}**: {labels}" + "".join(f"; {_code(c)} = {v} (recorded, not scored)"
                                                        for c, v in rs.missing.items()))
        for label in rs.missing.values():
            probes.append(f"When would you choose \u201c{label}\u201d? How is that different from "
                          f"\u201c{next(iter(rs.codes.values()))}\u201d?")
        if len(rs.codes) >= 4:
            vals = list(rs.codes.values())
            probes.append(f"What is the difference between \u201c{vals[-2]}\u201d and \u201c{vals[-1]}\u201d?")
    out += ["", "Probes:", ""] + [f"- {p}" for p in probes] + ["", "## Items", ""]
    for n, iid in enumerate(ids, start=1):
        item = inst.items[iid]
        dim = inst.dimensions.get(item.dimension or "", {}).get("label", item.dimension or "screening question")
        tags = [t for t in (dim, "reverse-keyed" if item.reverse else "", "candidate" if item.status == "candidate" else "",
                            f"viewpoint {item.viewpoint}" if item.viewpoint else "",
                            f"twin on the other form: `{item.pair}`" if item.pair else "") if t]
        rs = item.response_scale
        options = [f"{_code(c)} {v}" for c, v in rs.codes.items()] + [f"{_code(c)} {v}" for c, v in rs.missing.items()]
        out += [f"### {n}. `{iid}` ({'; '.join(tags)})", "", f"> {inst.item_text(iid)}", "",
                "Answer options: " + " / ".join(options)]
        if item.anchors:
            out += ["", "Levels:"] + [f"- {_code(c)} {rs.codes[c]}: {t}" for c, t in inst.anchor_texts(iid).items()]
        out += ["", "Standard probes:", "",
                f"- Comprehension: {PROBES['comprehension']}",
                f"- Retrieval: {PROBES['retrieval']}",
                f"- Judgement: {PROBES['judgement']}",
                f"- Response mapping: {PROBES['response'].format(answer='…')}"]
        targeted = _targeted(inst, iid)
        if targeted:
            out += ["", "Targeted probes:", ""] + [f"- {t}" for t in targeted]
        out += ["", "| participant | issue code | what happened (their words) | suggested change |",
                "|---|---|---|---|", "| | | | |", ""]
    out += ["## Issue codes", "", "| code | problem | look for |", "|---|---|---|"]
    out += [f"| {c} | {name} | {what} |" for c, name, what in ISSUE_CODES]
    out += ["", "## Deciding what to change", "",
            "- After each round, list every item with an issue, the codes and how many people showed it.",
            "- **Revise** an item when the same problem appears in 2 or more interviews of a round, or once if "
            "it reverses the meaning of the answer (e.g. a double negative, or answering about the wrong person).",
            "- **Drop** an item when revisions in two rounds do not fix it, or when people cannot know the "
            "answer (KN).",
            "- **Keep** an item with no issues, or with issues seen once that do not change the answer; note why.",
            "- Retest every revised item in the next round. Record each decision, with its reason, in the bank's "
            "CHANGELOG (new item version, or a new id if the meaning changed; retired ids are never reused).", ""]
    return "\n".join(out)


__all__ = ["interview_guide", "ISSUE_CODES", "PROBES"]
