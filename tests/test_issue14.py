"""The defects of issue 14 that are not a class of hostile input (those are in
tests/test_gauntlet.py): the report, the .sav output, the command-level checks and the
README. Each test names the defect it pins down."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peerscale
from peerscale.report.build import _histogram, score_step
from peerscale.spec import adhoc_instrument, load_instrument

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "youth_export.csv"

def one_scale_data(path: Path, n: int = 150, seed: int = 2) -> Path:
    rng = np.random.default_rng(seed)
    t = rng.normal(size=n)
    cols = {f"q{k}": np.clip(np.round(2.5 + t + rng.normal(scale=0.7, size=n)), 1, 4) for k in (1, 2, 3)}
    cols["q2"] = 5 - cols["q2"]
    pd.DataFrame({"record_id": np.arange(1, n + 1), **cols}).astype({"q1": int, "q2": int, "q3": int}).to_csv(
        path, index=False)
    return path


# --------------------------------------------------------------------------- defect 6: one scale

@pytest.mark.parametrize("with_composite, fmt", [(True, "md"), (False, "html")])
def test_report_validate_with_one_scale(run_cli, tmp_path, with_composite, fmt):
    """`report --validate` raised `cannot convert float NaN to integer` for any instrument with
    one scale, the README's example too: the one-factor model is the only CFA model then."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8").split("## Writing your own instrument", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", readme, re.S).group(1)  # the README's own example
    spec_text = block if with_composite else block.split("composites:")[0]  # one scale, nothing else
    spec = tmp_path / "my-scale.yaml"
    spec.write_text(spec_text)
    data = one_scale_data(tmp_path / "d.csv")
    out = tmp_path / f"r.{fmt}"
    code, _, err = run_cli("report", data, "-i", spec, "-o", out, "--validate", "--bootstrap", "50",
                           "--iterations", "3", "-q")
    assert code == 0, err
    text = out.read_text(encoding="utf-8")
    assert "one dimension scale" in text and "one-factor model" in text
    assert "bifactor model (a general factor" not in text  # the methods say what was fitted, no more


# --------------------------------------------------------------------------- defect 18: histogram bins

def test_histogram_bins_are_the_scores_a_mean_can_take():
    """Means of 7 items on 1..5 move in sevenths: one bar per possible mean, each centred on it
    (fixed 0.25 bins held one or two possible means by turns and drew dips)."""
    seven = adhoc_instrument(["s=" + ",".join(f"i{k}" for k in range(7))], value_range=(1, 5))
    step = score_step(seven, seven.scale("s"))
    assert step == pytest.approx(1 / 7)
    possible = 1 + np.arange(29) / 7
    h = _histogram(possible, (1.0, 5.0), step)
    assert h["counts"] == [1] * 29
    centres = (np.array(h["edges"][:-1]) + np.array(h["edges"][1:])) / 2
    assert np.allclose(centres, possible)
    # 42 items: bars of 13 possible means each, every bar the same number of them
    many = adhoc_instrument(["s=" + ",".join(f"i{k}" for k in range(42))], value_range=(1, 5))
    h = _histogram(1 + np.arange(169) / 42, (1.0, 5.0), score_step(many, many.scale("s")))
    assert h["per_bin"] == 13 and h["counts"] == [13] * 13
    # sums step by the code step; a scale without codes keeps equal-width bins
    summed = adhoc_instrument(["s=a,b,c"], value_range=(0, 4), method="sum")
    assert score_step(summed, summed.scale("s")) == 1
    free = adhoc_instrument(["f=a,b"])
    assert score_step(free, free.scale("f")) is None


def test_example_histograms_have_no_alternating_dips():
    data = pd.read_csv(EXAMPLE)
    rep = peerscale.read(data, "pbr-y").report()
    k = len(load_instrument("pbr-y").scale("share").items)
    share = next(s for s in rep.scales if s["name"] == "share")
    assert len(share["histogram"]["counts"]) == 4 * k + 1 and share["histogram"]["per_bin"] == 1


# --------------------------------------------------------------------------- defect 19: report wording

def test_flags_above_50_percent_do_not_read_50_percent():
    """A ceiling flag ("more than 50%") showed "50% at the highest code"."""
    from peerscale.report.html import render_html

    html = render_html(peerscale.read(EXAMPLE, "pbr-y").report())
    flagged = re.findall(r"<td>(\d+(?:\.\d+)?)% at the (?:highest|lowest) code", html)
    assert flagged
    for pct in flagged:
        assert float(pct) > 50 and pct != "50", pct


def test_omega_table_has_no_empty_column():
    """The "items flipped" column was empty for every scale (and the Schmid–Leiman columns are
    empty when there is no composite): a column with nothing in it is left out."""
    from peerscale.report.validation_section import _omega

    one = {"alpha": 0.8, "omega_kind": "omega total, one-factor (minres)", "omega_total": 0.8}
    sl = {"label": "Schmid-Leiman omega", "omega_total": 0.9, "omega_hierarchical": 0.7, "omega_limit": 0.75,
          "ecv": 0.5, "flipped": []}
    for scales, structure, header in (
            ({"a": one, "b": one}, {}, ["scale", "which omega", "omega total"]),
            ({"a": one, "total": one}, {"total": sl},
             ["scale", "which omega", "omega total", "omega hierarchical", "omega limit", "ECV"]),
            ({"a": one, "total": one}, {"total": {**sl, "flipped": ["x3"]}}, None)):
        table = _omega({"reliability": {"scales": scales, "omega": structure}})[-1]
        if header is None:
            assert table.header[-1] == "items flipped" and table.rows[-1][-1] == "x3"
        else:
            assert table.header == header
        for j in range(len(table.header)):
            assert any(r[j] not in ("", "–") for r in table.rows), table.header[j]


def test_item_plots_show_the_wording():
    """The response-distribution charts named items by id only."""
    from peerscale.report.html import render_html

    data = pd.read_csv(EXAMPLE)
    rep = peerscale.read(data, "pbr-y").report()
    html = render_html(rep)
    inst = load_instrument("pbr-y")
    words = inst.item_text("pbr_y_share_02")
    chart = re.search(r'<figure class="diverging">.*?</figure>', html, re.S).group(0)
    assert "pbr_y_share_02" in chart
    assert " ".join(words.split()[:5]) in chart  # the first line of the wrapped wording


def test_print_stylesheet_does_not_force_page_breaks():
    """Printed to PDF, the first two pages were nearly blank: every section started a new page."""
    from peerscale.report.html import CSS

    print_css = CSS.split("@media print")[1]
    assert "break-before: page" not in print_css and "page-break-before" not in print_css
    assert "@page" in print_css


# --------------------------------------------------------------------------- defect 17: .sav bands and formats

def test_sav_bands_are_numeric_with_labels_and_user_missing(run_cli, tmp_path):
    """Bands were strings in the .sav: unscored rows counted as a valid blank and bands sorted
    alphabetically. Now codes 1..n in band order with value labels, -1 "not scored" declared
    user-missing; items and counts F8.0, scores F8.2; PSPP counts them so."""
    import shutil
    import subprocess

    import pyreadstat

    out = tmp_path / "s.sav"
    code, _, err = run_cli("score", EXAMPLE, "-i", "pbr-y", "-o", out, "--include-items", "-q")
    assert code == 0, err
    df, meta = pyreadstat.read_sav(str(out), user_missing=True)
    inst = load_instrument("pbr-y")
    bands = [b.label for b in inst.bands["share"][1]]
    assert df["share_band"].dtype.kind == "f"
    assert meta.variable_value_labels["share_band"] == {**{float(k): b for k, b in enumerate(bands, 1)},
                                                        -1.0: "no band: not scored"}
    assert meta.missing_ranges["share_band"] == [{"lo": -1.0, "hi": -1.0}]
    scored = df["share"].notna()
    assert (df.loc[~scored, "share_band"] == -1).all() and (df.loc[scored, "share_band"] >= 1).all()
    fmt = meta.original_variable_types
    assert fmt["share"] == "F8.2" and fmt["share_n"] == "F8.0" and fmt["pbr_y_share_01"] == "F8.0"
    assert fmt["share_band"] == "F8.0" and fmt["record_id"].startswith("A")
    # the CSV keeps the labels as text
    code, _, err = run_cli("score", EXAMPLE, "-i", "pbr-y", "-o", tmp_path / "s.csv", "-q")
    assert set(pd.read_csv(tmp_path / "s.csv")["share_band"].dropna()) <= set(bands)
    if shutil.which("pspp"):
        p = subprocess.run(["pspp", "-o", str(tmp_path / "f.csv"), "-O", "format=csv"], text=True, timeout=60,
                           input=f"GET FILE='{out}'.\nFREQUENCIES share_band.\n", capture_output=True)
        assert p.returncode == 0, p.stdout + p.stderr
        freq = (tmp_path / "f.csv").read_text()
        n_unscored = int((~scored).sum())
        assert f"Missing,no band: not scored,{n_unscored}," in freq
        order = [freq.index(f",{b},") for b in bands if f",{b}," in freq]
        assert order == sorted(order)  # low to high, not alphabetical


# --------------------------------------------------------------------------- defect 21: README

def test_readme_quick_start_and_example_sizes():
    """A venv step before `pip install` (Debian refuses a system install), a note that re-running
    needs --force, and the example sizes as the files are."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = text.split("## Quick start", 1)[1].split("## Command line", 1)[0]
    assert quick.index("python3 -m venv .venv") < quick.index("pip install .")
    assert "--force" in quick and "already exists" in quick
    youth = pd.read_csv(EXAMPLE)
    worker = pd.read_csv(ROOT / "examples" / "worker_export.csv")
    assert f"{len(youth)} rows" in text and f"{len(worker)} dyads" in text
    assert "555 rows" not in text and "284 dyads" not in text
    for code in ("| 0 |", "| 1 |", "| 2 |"):  # the exit-code rule is documented
        assert code in text


# --------------------------------------------------------------------------- defect 20: efa, show, validate

def test_efa_table_keeps_item_names_and_bartlett_p(run_cli, tmp_path):
    """`efa` cut every item name to `pbr_y…` at 80 columns and printed Bartlett's `p = 0`."""
    rng = np.random.default_rng(5)
    f = rng.normal(size=(300, 2))
    names = [f"a_rather_long_item_name_{k:02d}" for k in range(12)]
    x = {n: np.clip(np.round(3 + f[:, k % 2] + rng.normal(scale=0.6, size=300)), 1, 5) for k, n in enumerate(names)}
    pd.DataFrame(x).to_csv(tmp_path / "d.csv", index=False)
    code, out, err = run_cli("efa", tmp_path / "d.csv", "--scale", "A=" + ",".join(names), "--range", "1:5",
                             "--factors", "6", "--iterations", "3")
    assert code == 0, err
    for n in names:
        assert n in out
    assert "…" not in out
    assert "p < .001" in out and "p = 0," not in out and "p = 0\n" not in out


def test_show_wraps_long_lines_and_drops_control_characters(run_cli, tmp_path):
    """`show` printed 820-character lines; a spec's text could also carry terminal escapes."""
    code, out, _ = run_cli("show", "pbr-y")
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 100
    inst = load_instrument("pbr-y")
    words = inst.item_text(next(iter(inst.items))).split()
    assert " ".join(out.split()).count(" ".join(words)) >= 1  # wrapped, not cut
    spec = (ROOT / "README.md").read_text(encoding="utf-8").split("## Writing your own instrument", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", spec, re.S).group(1).replace('"Q two"', '"Q \\e[31mtwo\\a"')
    (tmp_path / "s.yaml").write_text(block)
    code, out, _ = run_cli("show", tmp_path / "s.yaml")
    assert code == 0 and "Q two" in out and "\x1b" not in out and "\a" not in out


def test_validate_lists_every_duplicate_id_with_rows(run_cli, tmp_path):
    """`validate` stopped at the REDCap reader's first duplicate error although the README says
    it reports duplicates: now every duplicated id, with all its rows."""
    import json

    df = pd.read_csv(EXAMPLE)
    extra = [0, 5, 9, 0]
    pd.concat([df, df.iloc[extra]], ignore_index=True).to_csv(tmp_path / "d.csv", index=False)
    code, out, err = run_cli("validate", tmp_path / "d.csv", "-i", "pbr-y", "--json")
    assert code == 1, err
    d = json.loads(out)["duplicate_ids"]
    n = len(df)
    assert d["n_ids"] == 3 and d["count"] == 7
    assert [g["rows"] for g in d["groups"]] == [[1, n + 1, n + 4], [6, n + 2], [10, n + 3]]
    code, out, _ = run_cli("validate", tmp_path / "d.csv", "-i", "pbr-y")
    assert code == 1
    for g in d["groups"]:
        assert f"record_id={g['ids']['record_id']}" in out and ", ".join(map(str, g["rows"])) in out


def test_values_that_look_like_markup_are_printed_as_they_are(run_cli, tmp_path):
    (tmp_path / "d.csv").write_text("a1,a2\n[/x],2\n[bold red]boom,3\n")
    code, out, err = run_cli("validate", tmp_path / "d.csv", "--scale", "A=a1,a2", "--range", "1:5")
    assert code == 1 and "Traceback" not in err and "internal error" not in err
    assert "[/x]" in out and "[bold red]boom" in out


# --------------------------------------------------------------------------- defect 19: Findings

def test_report_opens_with_plain_language_findings():
    """The report had no plain-language findings: now a first section says who was scored,
    which scales are reliable enough, which items are flagged and why, what the structure
    checks say, and the change between waves, in sentences with the numbers."""
    from peerscale.report.findings import findings
    from peerscale.report.html import render_html

    rep = peerscale.read(EXAMPLE, "pbr-y").report()
    text = findings(rep)
    joined = " ".join(text)
    assert text[0].startswith("**Who was scored.**") and f"{rep.sample['n_in_scope']} records" in joined
    for name, a in rep.scale_alpha.items():
        assert f"{name} ({a['alpha']:.2f}".replace("0.", ".", 1) in joined  # every scale's alpha, in words
    flagged = [it for it in rep.items if it["flags"]]
    assert f"{len(flagged)} of {len(rep.items)} items are flagged" in joined
    for it in flagged[:8]:
        assert it["id"] in joined and it["text"][:30] in joined
    assert "--validate" in joined  # structure not checked, and how to get it
    assert "Change from" in joined and "95% CI" in joined
    html = render_html(rep)
    first = re.search(r'<section id="(\w+)"', html).group(1)
    assert first == "findings" and html.index('id="findings"') < html.index('id="sample"')


def test_findings_structure_and_reliability_thresholds():
    from types import SimpleNamespace

    from peerscale.report.findings import findings

    r = SimpleNamespace(
        sample={"n_in_scope": 100, "respondent_id": None, "n_fully_empty": 0, "invalid_values": 0},
        scales=[{"name": n, "composite": False, "n_scored": 100} for n in ("a", "b", "c")],
        waves=None, items=[], flag_rules={}, meta={"status": "draft"}, scale_alpha={},
        validation={"reliability": {"a": {"alpha": 0.91}, "b": {"alpha": 0.74}, "c": {"alpha": 0.5}},
                    "parallel": {"n_factors": 2},
                    "cfa": {"primary": "correlated", "fit": {"correlated": {
                        "cfi": 0.90, "tli": 0.88, "rmsea": 0.09, "srmr": 0.07,
                        "meets": {"cfi": False, "tli": False, "rmsea": False, "srmr": True}}}}})
    joined = " ".join(findings(r))
    assert "good (alpha .80 or more) for a (.91)" in joined and "adequate for comparing groups" in joined
    assert "c (.50) is below .70" in joined and "Only a reaches .90" in joined
    assert "Parallel analysis suggests 2 factors for the 3 dimension scales" in joined
    assert "misses the conventional cut-off on CFI, TLI and RMSEA" in joined
    assert "No item is flagged" in joined and "draft" in joined


def test_values_in_messages_are_printed_plainly(run_cli, tmp_path):
    """Messages printed `np.float64(-99.0)`; validate listed '7.0' for a 7."""
    import json

    (tmp_path / "d.csv").write_text("a1,a2\n7,2\n-99,3\n2.5,1\n")
    code, _, err = run_cli("score", tmp_path / "d.csv", "--scale", "A=a1,a2", "--range", "1:5", "-o", tmp_path / "o.csv")
    assert code == 1 and "column 'a1': 7;" in err and "column 'a1': -99" in err and "np." not in err
    code, out, _ = run_cli("validate", tmp_path / "d.csv", "--scale", "A=a1,a2", "--range", "1:5")
    assert "column 'a1': 7\n" in out and "'7.0'" not in out
    code, out, _ = run_cli("validate", tmp_path / "d.csv", "--scale", "A=a1,a2", "--range", "1:5", "--json")
    assert [e["value"] for e in json.loads(out)["invalid_values"]["examples"]] == [7, -99]
    from peerscale.errors import PeerscaleError, plain

    assert plain(np.float64(-99.0)) == "-99" and plain(np.float64(2.5)) == "2.5" and plain(np.int64(3)) == "3"
    assert str(PeerscaleError("bad", value=np.float64(-99.0))) == "value -99: bad"


# --------------------------------------------------------------------------- defect 7: --missing-code

def test_missing_code_that_is_a_scored_answer_is_refused(run_cli, tmp_path):
    """`--missing-code 3=Oops` turned valid 3s missing; the scoring-file loader refuses the same
    conflict. Codes outside the scored answers (-999, 9 on a 1-5 scale, UNK) stay allowed."""
    df = pd.read_csv(EXAMPLE)
    code, _, err = run_cli("score", EXAMPLE, "-i", "pbr-y", "--missing-code", "3=Oops", "-o", tmp_path / "o.csv")
    assert code == 1 and "--missing-code" in err and "missing-data code 3 (Oops)" in err and "scored code" in err, err
    assert not (tmp_path / "o.csv").exists()
    code, _, err = run_cli("score", EXAMPLE, "-i", "pbr-y", "--missing-code", "-999=Not asked", "--missing-code",
                           "UNK=Unknown", "-o", tmp_path / "o.csv", "-q")
    assert code == 0, err
    items = [c for c in df.columns if c.startswith("a")][:3]
    pd.DataFrame({c: [1, 2, 3] for c in items}).to_csv(tmp_path / "a.csv", index=False)
    code, _, err = run_cli("score", tmp_path / "a.csv", "--scale", "A=" + ",".join(items), "--range", "1:5",
                           "--missing-code", "2=Skipped", "-o", tmp_path / "b.csv")
    assert code == 1 and "inside the declared range 1 to 5" in err, err
    from peerscale.errors import PeerscaleError

    with pytest.raises(PeerscaleError, match="scored code"):  # the library refuses it too
        peerscale.read(df, "pbr-y", missing_codes={"4": "Oops"})
