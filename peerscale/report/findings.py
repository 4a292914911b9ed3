"""The report's "Findings": what the numbers say, in sentences an evaluator can paste.

Each finding is built from numbers the report already holds (nothing is computed twice):
who was scored, how reliable each scale is (alpha from the item analysis, or with
``--validate`` alpha with its interval and omega), which items are flagged and why, what the
structure checks say (parallel analysis, CFA fit against the conventional cut-offs) and, with
several waves, the paired change. Thresholds are stated where they are used:

* alpha ≥ .70 is "adequate for comparing groups", ≥ .80 "good", ≥ .90 high enough for
  decisions about individuals (Nunnally & Bernstein 1994); below .70 scores are noisy even
  for group means;
* CFA: CFI and TLI ≥ .95, RMSEA ≤ .06, SRMR ≤ .08 (Hu & Bentler 1999).
"""

from __future__ import annotations

ADEQUATE, GOOD, HIGH = 0.70, 0.80, 0.90


def _n(x) -> str:
    return f"{int(x):,}"


def _r(x) -> str:
    """.85 (reliabilities and fit indices as reports write them)."""
    return f"{x:.2f}".replace("0.", ".", 1) if x is not None and x >= 0 else f"{x:.2f}"


def _r3(x) -> str:
    return f"{x:.3f}".replace("0.", ".", 1)


def _list(names: list[str]) -> str:
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


def _who(r) -> str:
    s = r.sample
    n = s["n_in_scope"]
    who = f"{_n(n)} record{'s' if n != 1 else ''}"
    if s.get("respondent_id") and s.get("n_respondents") is not None:
        who += f" from {_n(s['n_respondents'])} respondent{'s' if s['n_respondents'] != 1 else ''}"
    if r.waves and len(r.waves.get("waves", [])) > 1:
        who += f" over {len(r.waves['waves'])} waves ({', '.join(map(str, r.waves['waves']))})"
    scored = [sc for sc in r.scales if not sc["composite"]] or r.scales
    lo = min(scored, key=lambda sc: sc["n_scored"])
    hi = max(scored, key=lambda sc: sc["n_scored"])
    span = (f"{_pct(lo['n_scored'], n)}" if lo["n_scored"] == hi["n_scored"]
            else f"{_pct(lo['n_scored'], n)} ({lo['name']}) to {_pct(hi['n_scored'], n)} ({hi['name']})")
    text = (f"**Who was scored.** The report covers {who}. Each scale was scored for {span} of them; the others "
            "answered too few of its items under the scoring file's rule.")
    if s.get("n_fully_empty"):
        text += f" {_n(s['n_fully_empty'])} record(s) answered no item at all."
    if s.get("invalid_values"):
        text += (f" {_n(s['invalid_values'])} answer(s) were not valid codes and were set to missing."
                 if s.get("invalid_handling") == "missing" else "")
    return text


def _reliability(r) -> str | None:
    v = r.validation or {}
    rel = v.get("reliability") or {}
    rel = rel.get("scales", rel)  # keyed like `reliability --json` (scales.<name>.alpha)
    alphas = {name: d["alpha"] for name, d in rel.items() if isinstance(d, dict) and d.get("alpha") is not None}
    source = "Cronbach's alpha" + (" (with its 95% interval and omega in Validation)" if alphas else "")
    if not alphas:
        alphas = {name: d["alpha"] for name, d in (getattr(r, "scale_alpha", None) or {}).items()
                  if d.get("alpha") is not None}
    if not alphas:
        return None
    alphas = {n: round(a, 2) for n, a in alphas.items()}  # judged as shown: .795 reads .80, and is good
    names = [sc["name"] for sc in r.scales if sc["name"] in alphas]
    good = [n for n in names if alphas[n] >= GOOD]
    adequate = [n for n in names if ADEQUATE <= alphas[n] < GOOD]
    low = [n for n in names if alphas[n] < ADEQUATE]
    parts = []
    if good:
        parts.append(f"good (alpha .80 or more) for {_list([f'{n} ({_r(alphas[n])})' for n in good])}")
    if adequate:
        parts.append(f"adequate for comparing groups (.70 to .79) for "
                     f"{_list([f'{n} ({_r(alphas[n])})' for n in adequate])}")
    text = f"**How reliable the scales are.** By {source}, reliability is " + "; ".join(parts) + "." if parts else \
        f"**How reliable the scales are.** By {source}, no scale reaches alpha .70."
    if low:
        text += (f" {_list([f'{n} ({_r(alphas[n])})' for n in low])} "
                 f"{'is' if len(low) == 1 else 'are'} below .70: {'its' if len(low) == 1 else 'their'} scores are "
                 "too noisy to compare groups with confidence; read them with caution.")
    high = [n for n in names if alphas[n] >= HIGH]
    text += (" Only " + _list(high) + f" reach{'es' if len(high) == 1 else ''} .90, the level usually asked for "
             "decisions about individuals." if high and len(high) < len(names) else
             " Every scale reaches .90, the level usually asked for decisions about individuals." if high else
             " No scale reaches .90, the level usually asked for decisions about individuals: use the scores to "
             "describe groups, not to judge one person.")
    return text


def _why(flag: str, message: str) -> str:
    """A flag in words, with its number (the item analysis's message holds it)."""
    import re

    pct = re.match(r"\s*(\d+(?:\.\d+)?)%", message)
    r = re.search(r"=\s*(-?\d*\.\d+)", message)
    if flag == "floor" and pct:
        return f"more than half chose the lowest answer ({pct.group(1)}%)"
    if flag == "ceiling" and pct:
        return f"more than half chose the highest answer ({pct.group(1)}%)"
    if flag == "low_r_drop":
        return "it goes along only weakly with the rest of its scale" + (
            f" (corrected item-total r {_r(float(r.group(1)))}, below .30)" if r else "")
    if flag == "negative_r_drop":
        return ("it runs against the rest of its scale, a possible keying or wording problem"
                + (f" (corrected item-total r {float(r.group(1)):.2f})" if r else ""))
    if flag == "no_variance":
        return "almost everyone gave the same answer"
    return f"{flag}: {message}"


def _flags(r) -> str:
    flagged = [it for it in r.items if it["flags"]]
    if r.flag_rules is None:
        return "**Items.** No item analysis could be run on these data, so no item is flagged."
    if not flagged:
        return ("**Items.** No item is flagged: every item goes along with the rest of its scale and no answer "
                "option takes more than half of the answers.")
    parts = []
    for it in flagged[:8]:
        why = "; ".join(dict.fromkeys(_why(flag, message) for _s, flag, message in it["flags"]))
        text = it["text"] if len(it["text"]) <= 90 else it["text"][:89].rstrip() + "…"
        parts.append(f"{it['id']} (“{text}”): {why}")
    more = f" and {len(flagged) - 8} more (see Items)" if len(flagged) > 8 else ""
    return (f"**Items to look at.** {len(flagged)} of {len(r.items)} items are flagged by the item analysis — "
            + "; ".join(parts) + more + ". Flags are prompts to check wording and keying with respondents; "
            "no item was changed or dropped.")


def _structure(r) -> str | None:
    v = r.validation
    if not v:
        return ("**Structure.** Not checked in this report: run it with `--validate` for reliability intervals, "
                "omega, parallel analysis, EFA and CFA.")
    out = []
    p = v.get("parallel") or (v.get("efa") or {}).get("parallel")
    dims = [sc for sc in r.scales if not sc["composite"]]
    if p:
        out.append(f"parallel analysis suggests {p['n_factors']} factor{'s' if p['n_factors'] != 1 else ''} for "
                   f"the {len(dims)} dimension scale{'s' if len(dims) != 1 else ''}")
    c = v.get("cfa") or {}
    primary = c.get("primary") or c.get("structure")
    rows = c.get("comparison") or c.get("fit") or {}
    if primary and isinstance(rows.get(primary), dict) and "cfi" in rows[primary]:
        f = rows[primary]
        n_factors = len({key.split("=~")[0] for key in c.get("loadings_std") or {}})
        if primary == "correlated" and n_factors == 1:
            primary = "one-factor"
        meets = f.get("meets") or {}
        judged = {k: m for k, m in meets.items() if m is not None}
        which = ("the correlated-factors model of the instrument's dimensions" if primary == "correlated"
                 else "the one-factor model")
        values = (f"CFI {_r(f['cfi'])}, TLI {_r(f['tli'])}, RMSEA {_r3(f['rmsea'])}, SRMR {_r3(f['srmr'])}"
                  if None not in (f.get("cfi"), f.get("tli"), f.get("rmsea"), f.get("srmr")) else "see Validation")
        if judged and all(judged.values()):
            out.append(f"{which} fits well by the conventional cut-offs ({values})")
        elif judged:
            missed = [k.upper() for k, m in judged.items() if not m]
            out.append(f"{which} misses the conventional cut-off on {_list(missed)} ({values}): the items may not "
                       "group into the dimensions as intended, see Validation")
    if not out:
        return None
    sentence = "; ".join(out)
    return "**Structure.** " + sentence[0].upper() + sentence[1:] + "."


def _change(r) -> str | None:
    w = r.waves
    if not w or not w.get("changes"):
        return None
    ch = w["changes"][0]
    parts = []
    for name, c in ch["scales"].items():
        if not c.get("n_paired") or c.get("ci") is None:
            continue
        lo, hi = c["ci"]
        direction = "rose" if lo > 0 else ("fell" if hi < 0 else "did not change clearly")
        parts.append(f"{name} {direction} ({c['mean_change']:+.2f}, 95% CI {lo:+.2f} to {hi:+.2f}, n = {c['n_paired']})")
    if not parts:
        return None
    return (f"**Change from {ch['from']} to {ch['to']}** (respondents scored at both): " + "; ".join(parts[:6])
            + (f"; {len(parts) - 6} more in Scores" if len(parts) > 6 else "")
            + ". Without a comparison group, change cannot be credited to peer support alone.")


def findings(r) -> list[str]:
    """The findings, in order: who, reliability, items, structure, change, and the draft caveat."""
    out = [_who(r)]
    for part in (_reliability(r), _flags(r), _structure(r), _change(r)):
        if part:
            out.append(part)
    from .design_section import design_findings  # dyads, workers, reliable change (issue 9)

    out += design_findings(r)
    if (r.meta.get("status") or "").lower() == "draft":
        out.append("**Keep in mind.** The instrument is a draft: its items have not been validated and there are "
                   "no norms, so the scores describe this sample only.")
    return out
