"""`peerscale report`: numbers, structure, accessibility rules and safety of the written files."""

from __future__ import annotations

import json
import re
import shlex
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import peerscale
from peerscale.errors import PeerscaleError
from peerscale.report import svg
from peerscale.report.html import render_html
from peerscale.scoring import score_data
from peerscale.spec import adhoc_instrument, load_instrument

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "youth_export.csv"


# --------------------------------------------------------------------------- helpers

def build_report(data, instrument, *, wave_column=None, validate=False, validation_options=None, quiet=True,
                 command=""):
    """The report of ``data`` through the one pipeline: peerscale.read(...).report(...)."""
    r = peerscale.read(data, instrument, design={"wave": wave_column} if wave_column else None)
    return r.report(validate=validate, quiet=quiet, command=command, **(validation_options or {}))


class Outline(HTMLParser):
    """Headings, tables with/without captions, SVGs and their accessibility attributes, and any
    attribute that would make the browser fetch something."""

    def __init__(self):
        super().__init__()
        self.headings: list[int] = []
        self.tables = 0
        self.captions = 0
        self.svgs: list[dict] = []
        self.svg_children: list[set] = []
        self.fetching: list[tuple] = []
        self.ids: list[str] = []
        self.lang = None
        self._depth_svg = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "html":
            self.lang = a.get("lang")
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "table":
            self.tables += 1
        if tag == "caption":
            self.captions += 1
        if tag == "svg":
            self.svgs.append(a)
            self.svg_children.append(set())
        elif self.svgs and tag in ("title", "desc"):
            self.svg_children[-1].add(tag)
        if tag in ("script", "iframe", "object", "embed", "img", "video", "audio", "source"):
            self.fetching.append((tag, a))
        for key in ("src", "href", "srcset", "poster", "data"):
            v = a.get(key)
            if v and not v.startswith(("#", "data:")):
                self.fetching.append((tag, key, v))


def outline(text: str) -> Outline:
    p = Outline()
    p.feed(text)
    return p


def simulate(n: int, instrument, *, seed: int = 0, waves=None) -> pd.DataFrame:
    """Responses 1–5 from one latent trait per respondent (ids repeat across ``waves``)."""
    rng = np.random.default_rng(seed)
    items = instrument.scale_items()
    theta = rng.normal(size=n)
    frames = []
    for k, wave in enumerate(waves or [None]):
        lat = theta[:, None] + 0.3 * k + rng.normal(scale=0.8, size=(n, len(items)))
        x = np.clip(np.round(3 + lat), 1, 5)
        for j, iid in enumerate(items):
            for s in instrument.scales:
                if iid in s.items and s.keys[s.items.index(iid)] < 0:
                    x[:, j] = 6 - x[:, j]
                    break
        df = pd.DataFrame(x, columns=items)
        df.insert(0, "record_id", [f"R{i:04d}" for i in range(n)])
        if wave is not None:
            df.insert(1, "redcap_event_name", wave)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def pbr():
    return load_instrument("pbr-y")


@pytest.fixture(scope="module")
def example_html():
    rep = peerscale.read(EXAMPLE, "pbr-y").report(command="peerscale report x")
    return rep, render_html(rep)


# --------------------------------------------------------------------------- numbers

def test_scoring_numbers_match_the_scoring_engine(pbr):
    data = simulate(120, pbr, seed=1)
    share_items = list(pbr.scale("share").items)
    data.loc[:6, share_items] = np.nan  # the share items blank for 7 respondents
    data.loc[7:9, share_items[0]] = np.nan  # one share item blank: still scored (5 of 6)
    rep = build_report(data, pbr)
    scored = score_data(data, pbr)
    by = {s["name"]: s for s in rep.scales}
    for s in pbr.scales:
        col = scored.scores[s.name]
        assert by[s.name]["n_scored"] == int(col.notna().sum())
        assert sum(by[s.name]["histogram"]["counts"]) == by[s.name]["n_scored"]
        assert by[s.name]["stats"]["mean"] == pytest.approx(col.mean())
        assert by[s.name]["stats"]["sd"] == pytest.approx(col.std(ddof=1))
        bands = by[s.name]["bands"]["rows"]
        assert sum(b["n"] for b in bands) == int(scored.scores[f"{s.name}_band"].notna().sum())
    share = by["share"]
    first_share = pbr.scale("share").items[0]
    assert share["n_none_answered"] == 7 and share["n_too_few"] == 0
    assert rep.missing_reasons["blank"]["share"] == 7 * len(share_items) + 3
    assert rep.sample["n_in_scope"] == 120 and rep.sample["n_respondents"] == 120
    it = next(i for i in rep.items if i["id"] == first_share)
    assert it["n_missing"] == 10 and it["pct_missing"] == pytest.approx(100 * 10 / 120)
    assert sum(it["counts"]) == it["n_answered"] == 110


def test_paired_change_between_waves_by_hand(pbr):
    data = simulate(60, pbr, seed=2, waves=["baseline_arm_1", "followup_arm_1"])
    data = data.iloc[:-5]  # five respondents lack a follow-up
    rep = build_report(data, pbr)
    w = rep.waves
    assert w["column"] == "redcap_event_name" and w["id_column"] == "record_id"
    assert w["waves"] == ["baseline_arm_1", "followup_arm_1"]
    scores = score_data(data, pbr).scores
    scores["record_id"], scores["wave"] = data["record_id"].to_numpy(), data["redcap_event_name"].to_numpy()
    wide = scores.pivot(index="record_id", columns="wave", values="trust").dropna()
    d = wide["followup_arm_1"] - wide["baseline_arm_1"]
    c = w["changes"][0]["scales"]["trust"]
    assert c["n_paired"] == len(d) == 55
    assert c["mean_change"] == pytest.approx(d.mean())
    assert c["sd_change"] == pytest.approx(d.std(ddof=1))
    assert c["dz"] == pytest.approx(d.mean() / d.std(ddof=1))
    from scipy import stats

    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    assert c["ci"] == pytest.approx([d.mean() - half, d.mean() + half])
    assert w["by_wave"]["followup_arm_1"]["trust"]["n"] == 55


def test_duplicate_ids_within_a_wave_are_not_paired(pbr):
    data = simulate(20, pbr, seed=3, waves=["t1", "t2"]).rename(columns={"record_id": "pid",
                                                                          "redcap_event_name": "visit"})
    data.loc[data.index[1], "pid"] = "R0000"  # two t1 rows share R0000 (a REDCap export could not)
    rep = peerscale.read(data, pbr, design={"respondent": "pid", "wave": "visit"}).report()
    assert rep.waves["changes"][0]["scales"]["share"]["n_paired"] == 18


def test_item_distribution_counts_and_reverse_marks(pbr):
    data = simulate(50, pbr, seed=4)
    rep = build_report(data, pbr)
    rev = {i for s in pbr.scales for i, k in zip(s.items, s.keys) if k < 0}
    for it in rep.items:
        col = data[it["id"]]
        assert it["counts"] == [int((col == c).sum()) for c in (1, 2, 3, 4, 5)]
        assert it["reverse"] == (it["id"] in rev)
    assert {g["group"] for g in rep.item_groups} == set(pbr.dimensions)


def test_item_flags_catch_a_keying_error_without_flipping(pbr):
    data = simulate(300, pbr, seed=8)
    rev = next(i for s in pbr.scales for i, k in zip(s.items, s.keys) if k < 0)
    data[rev] = 6 - data[rev]  # as if the reversed wording had not been reversed
    rep = build_report(data, pbr)
    it = next(i for i in rep.items if i["id"] == rev)
    assert [f for _, f, _ in it["flags"]] == ["negative_r_drop"]
    assert it["counts"] == [int((data[rev] == c).sum()) for c in (1, 2, 3, 4, 5)]  # shown as answered
    assert sum(bool(i["flags"]) for i in rep.items) == 1
    html = render_html(rep)
    assert "possible keying error" in html and "negative_r_drop" in html


def test_missing_codes_are_counted_by_reason():
    inst = load_instrument("act-y")
    data = pd.read_csv(EXAMPLE)
    rep = build_report(data, inst)
    reasons = rep.missing_reasons
    assert "Did not come up" in reasons
    item = inst.scale_items()[0]
    it = next(i for i in rep.items if i["id"] == item)
    assert it["missing_by_reason"].get("Did not come up", 0) == int((data[item] == 9).sum())


def test_adhoc_scales_without_bands_or_waves():
    inst = adhoc_instrument(["A=-A1,A2,A3", "B=B1,B2,B3"], value_range=(1, 6))
    rng = np.random.default_rng(5)
    data = pd.DataFrame(rng.integers(1, 7, size=(40, 6)), columns=["A1", "A2", "A3", "B1", "B2", "B3"])
    rep = build_report(data, inst)
    html = render_html(rep)
    assert rep.waves is None
    assert "defines no interpretive bands" in html
    assert [len(i["counts"]) for i in rep.items] == [6] * 6  # whole numbers of the declared range


def test_bad_inputs(pbr):
    data = simulate(10, pbr)
    with pytest.raises(PeerscaleError, match="wave column"):
        build_report(data, pbr, wave_column="visit")
    with pytest.raises(PeerscaleError, match="missing from the data"):
        build_report(data.drop(columns=[pbr.scale_items()[0]]), pbr)
    with pytest.raises(PeerscaleError, match="no rows"):
        build_report(data.iloc[:0], pbr)


# --------------------------------------------------------------------------- HTML structure

def test_html_is_self_contained_and_accessible(example_html):
    rep, html = example_html
    o = outline(html)
    assert o.lang == "en"
    assert o.fetching == []
    assert not re.search(r"url\(|@import|<script|<link rel=\"stylesheet\"", html)
    assert o.headings[0] == 1 and o.headings.count(1) == 1
    assert all(b - a <= 1 for a, b in zip(o.headings, o.headings[1:])), o.headings
    assert o.tables > 5 and o.captions == o.tables
    assert len(o.svgs) == len(rep.scales) + len(rep.item_groups) + (1 if rep.mediation else 0)  # + the path diagram
    for attrs, children in zip(o.svgs, o.svg_children):
        assert attrs.get("role") == "img" and attrs.get("aria-label")
        assert children == {"title", "desc"}
    assert "@media print" in html
    for sid in ("sample", "scoring", "items", "methods", "distributions", "bands", "waves", "item-distributions",
                "item-missing", "item-flags"):
        assert sid in o.ids
    assert "validation" not in o.ids
    assert len(set(o.ids)) == len(o.ids)


def test_html_has_reverse_marks_draft_notice_and_no_respondent_ids(example_html):
    rep, html = example_html
    assert "(R)</text>" in html
    assert "DRAFT instrument" in html
    ids = pd.read_csv(EXAMPLE)["record_id"].astype(str)
    assert not any(re.search(rf"\b{i}\b", html) for i in ids.iloc[:50])


def test_methods_paragraph_names_what_was_run(example_html):
    rep, html = example_html
    from importlib.metadata import version

    m = rep.methods
    for text in ("pbr-y", "version 0.2.0", "DRAFT", "at least 75%", "reverse-keyed", f"numpy {version('numpy')}",
                 f"pandas {version('pandas')}", "peerscale 0.1.0", "paired on record_id"):
        assert text in m, text


def test_svg_helpers():
    assert svg.nice_ticks(0, 97, 4) == [0, 25, 50, 75]
    assert svg.nice_ticks(1, 5, 8) == [1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5]
    assert svg.diverging_palette(5) == [svg.VERMILLION, svg.ORANGE, svg.NEUTRAL, svg.SKY, svg.BLUE]
    assert len(svg.diverging_palette(11)) == 11 and svg.diverging_palette(2) == [svg.VERMILLION, svg.BLUE]
    chart = svg.diverging_bars([("a", [0, 0, 0], False), ("b", [1, 2, 3], True)], ["lo", "mid", "hi"],
                               label="x", desc="y")
    assert "no answers" in chart and "b (R)" in chart
    empty = svg.histogram([0, 0], [0, 1, 2], label="h", desc="d", xlabel="x", mean=None)
    assert "<rect" not in empty and 'role="img"' in empty


# --------------------------------------------------------------------------- CLI

def test_cli_writes_html_and_refuses_to_overwrite(run_cli, tmp_path):
    out = tmp_path / "r.html"
    code, stdout, err = run_cli("report", EXAMPLE, "-i", "pbr-y", "-o", out, "--json")
    assert code == 0, err
    info = json.loads(stdout)
    # the example's study.yaml names workers and two waves: the design section (issue 9) follows the items
    assert info["bytes"] == out.stat().st_size and info["sections"] == ["findings", "sample", "scoring", "items",
                                                                         "design", "methods"]
    before = out.read_bytes()
    code, _, err = run_cli("report", EXAMPLE, "-i", "pbr-y", "-o", out)
    assert code == 1 and "already exists" in err and "Traceback" not in err
    assert out.read_bytes() == before
    code, _, err = run_cli("report", EXAMPLE, "-i", "pbr-y", "-o", out, "--force", "-q")
    assert code == 0 and err == ""
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_cli_never_overwrites_the_input(run_cli, tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes(EXAMPLE.read_bytes())
    code, _, err = run_cli("report", src, "-i", "pbr-y", "-o", src, "--force")
    assert code == 1 and "input" in err
    assert src.read_bytes() == EXAMPLE.read_bytes()


def test_cli_reproduce_command_is_shell_quoted(run_cli, tmp_path):
    folder = tmp_path / "with space"
    folder.mkdir()
    src = folder / "export file.csv"
    src.write_bytes(EXAMPLE.read_bytes())
    out = folder / "r.html"
    code, _, err = run_cli("report", src, "--instrument", "pbr-y", "-o", out, "--on-invalid", "missing")
    assert code == 0, err
    html = out.read_text()
    cmd = re.search(r"<pre><code>(.*?)</code></pre>", html, re.S).group(1)
    import html as h

    argv = shlex.split(h.unescape(cmd))
    assert argv[:3] == ["peerscale", "report", str(src)]
    assert ["--instrument", "pbr-y"] == argv[argv.index("--instrument"):argv.index("--instrument") + 2]
    assert "--on-invalid" in argv and str(out) in argv


def test_cli_markdown_with_png_figures(run_cli, tmp_path):
    out = tmp_path / "report.md"
    code, stdout, err = run_cli("report", EXAMPLE, "-i", "out-y", "-o", out, "--json")
    assert code == 0, err
    files = tmp_path / "report_files"
    pngs = sorted(files.glob("*.png"))
    assert pngs and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    text = out.read_text()
    assert text.startswith("# ") and "## Scores" in text and "## Items" in text and "## Methods" in text
    for link in re.findall(r"!\[[^\]]+\]\(([^)]+)\)", text):
        assert (tmp_path / link).is_file()
    assert json.loads(stdout)["figures"] == str(files)
    code, _, err = run_cli("report", EXAMPLE, "-i", "out-y", "-o", out)
    assert code == 1 and "exists" in err
    code, _, err = run_cli("report", EXAMPLE, "-i", "out-y", "-o", out, "--force", "--format", "md")
    assert code == 0, err
    assert sorted(files.glob("*.png")) == pngs


def test_cli_bad_inputs(run_cli, tmp_path):
    code, _, err = run_cli("report", EXAMPLE, "-i", "pbr-y", "-o", tmp_path / "r.html", "--wave-column", "visit")
    assert code == 1 and "visit" in err and "Traceback" not in err
    code, _, err = run_cli("report", tmp_path / "nope.csv", "-i", "pbr-y", "-o", tmp_path / "r.html")
    assert code == 1 and "not found" in err
    code, _, err = run_cli("report", EXAMPLE, "-i", "pbr-y", "-o", tmp_path / "missing" / "r.html")
    assert code == 1 and "directory" in err
    bad = tmp_path / "bad.csv"
    data = pd.read_csv(EXAMPLE)
    data.loc[3, "pbr_y_share_01"] = 7
    data.to_csv(bad, index=False)
    code, _, err = run_cli("report", bad, "-i", "pbr-y", "-o", tmp_path / "r.html")
    assert code == 1 and "not valid answers" in err
    code, _, err = run_cli("report", bad, "-i", "pbr-y", "-o", tmp_path / "r.html", "--on-invalid", "missing")
    assert code == 0, err
    html = (tmp_path / "r.html").read_text()
    assert "invalid value (set to missing)" in html
    assert not list(tmp_path.glob("missing"))


def test_cli_format_option_and_input_format_rename(run_cli, tmp_path):
    code, out, _ = run_cli("report", "--help")
    assert code == 0 and "--format [html|md|json]" in out and "--input-format" in out
    src = tmp_path / "small.dat"
    pd.DataFrame({"A1": [1, 2, 3, 4], "A2": [2, 2, 3, 5], "A3": [1, 3, 3, 4]}).to_csv(src, index=False)
    code, _, err = run_cli("report", src, "--scale", "A=A1,A2,A3", "--range", "1:5", "-o", tmp_path / "r.txt",
                           "--format", "md", "--input-format", "csv")
    assert code == 0, err
    assert (tmp_path / "r.txt").read_text().startswith("# ") and (tmp_path / "r_files").is_dir()


# --------------------------------------------------------------------------- validation section

def test_validation_section_on_simulated_two_factor_data(run_cli, tmp_path):
    rng = np.random.default_rng(7)
    n = 400
    f = rng.multivariate_normal([0, 0], [[1, 0.3], [0.3, 1]], size=n)
    cols = {}
    for j in range(5):
        cols[f"A{j + 1}"] = np.clip(np.round(3.5 + 0.8 * f[:, 0] + rng.normal(scale=0.7, size=n)), 1, 6)
        cols[f"B{j + 1}"] = np.clip(np.round(3.5 + 0.8 * f[:, 1] + rng.normal(scale=0.7, size=n)), 1, 6)
    cols["A5"] = 7 - cols["A5"]  # reverse-keyed item
    src = tmp_path / "sim.csv"
    pd.DataFrame(cols).to_csv(src, index=False)
    out = tmp_path / "v.html"
    code, stdout, err = run_cli("report", src, "--scale", "A=A1,A2,A3,A4,-A5", "--scale", "B=B1,B2,B3,B4,B5",
                                "--range", "1:6", "-o", out, "--validate", "--iterations", "5", "--bootstrap", "50",
                                "--json")
    assert code == 0, err
    assert "validation" in json.loads(stdout)["sections"]
    html = out.read_text()
    o = outline(html)
    for sid in ("validation", "reliability", "omega", "item-total", "factorability", "parallel", "efa", "cfa"):
        assert sid in o.ids, sid
    assert o.captions == o.tables and all(b - a <= 1 for a, b in zip(o.headings, o.headings[1:]))
    assert "Parallel analysis suggests 2 factor(s)" in html
    assert "Hu &amp; Bentler" in html and "≥ .95" in html
    assert "omega total, one-factor" in html and "Feldt" in html and "bootstrap interval (50 resamples)" in html
    # every item loads on its own factor in the correlated model, positively after keying
    std_table = html[html.index("Standardized loadings"):]
    std_table = std_table[:std_table.index("</table>")]
    loads = re.findall(r"<th scope=\"row\">([AB]\d)</th><td>([AB])</td><td class=\"num\">([0-9.]+)</td>", std_table)
    assert len(loads) == 10 and all(item[0] == fac and float(x) > 0.5 for item, fac, x in loads)


def test_long_steps_report_progress_and_pass_quiet_through(monkeypatch):
    from contextlib import contextmanager

    from peerscale import progress

    calls = []

    class Bar:
        def __init__(self):
            self.done = 0

        def advance(self, n=1):
            self.done += n

    @contextmanager
    def recording(total, description, quiet=False):
        bar = Bar()
        yield bar
        calls.append((description, total, bar.done, quiet))

    monkeypatch.setattr(progress, "progress", recording)
    inst = adhoc_instrument(["A=A1,A2,A3", "B=B1,B2,B3"], value_range=(1, 5))
    rng = np.random.default_rng(9)
    f = rng.normal(size=(200, 2))
    data = pd.DataFrame({f"{s}{j}": np.clip(np.round(3 + f[:, k] + rng.normal(scale=0.8, size=200)), 1, 5)
                         for k, s in enumerate("AB") for j in (1, 2, 3)})
    build_report(data, inst, validate=True, quiet=True,
                 validation_options={"bootstrap": 30, "iterations": 4, "seed": 3, "n_factors": None})
    by = {c[0]: c for c in calls}
    assert by["bootstrap A"][1:] == by["bootstrap B"][1:] == (30, 30, True)  # every resample advanced
    assert by["parallel analysis"][1:] == (4, 4, True)
    assert by["confirmatory factor analysis"][1] == by["confirmatory factor analysis"][2] == 3


def test_explicit_wave_column_and_a_single_wave(pbr):
    data = simulate(30, pbr, seed=10, waves=["pre", "post"]).rename(columns={"redcap_event_name": "visit"})
    rep = build_report(data, pbr, wave_column="visit")
    assert rep.waves["waves"] == ["pre", "post"] and rep.waves["changes"][0]["scales"]["care"]["n_paired"] == 30
    one = build_report(data[data["visit"] == "pre"], pbr, wave_column="visit")
    assert one.waves["changes"] == [] and "only 1 wave" in one.waves["note"]
    assert "only 1 wave" in render_html(one)


def test_validation_problems_become_notes_not_crashes(run_cli, tmp_path):
    rng = np.random.default_rng(12)
    data = pd.DataFrame(rng.integers(1, 6, size=(40, 6)), columns=["A1", "A2", "A3", "B1", "B2", "B3"])
    data["A1"] = 3  # no variance
    src = tmp_path / "flat.csv"
    data.to_csv(src, index=False)
    code, _, err = run_cli("report", src, "--scale", "A=A1,A2,A3", "--scale", "B=B1,B2,B3", "--range", "1:5",
                           "-o", tmp_path / "r.html", "--validate", "--iterations", "2", "--bootstrap", "10")
    assert code == 0, err
    assert "Warning" not in err and "Traceback" not in err
    html = (tmp_path / "r.html").read_text()
    assert "Reliability of A could not be computed" in html and "no variance" in html
    assert "no_variance" in html  # the item flag
    o = outline(html)
    assert "reliability" in o.ids  # scale B still has its reliability row


def test_markdown_validation_section_with_scree_png(tmp_path):
    from peerscale.report.markdown import write_markdown

    inst = adhoc_instrument(["A=A1,A2,A3", "B=B1,B2,B3"], value_range=(1, 5))
    rng = np.random.default_rng(13)
    f = rng.normal(size=(150, 2))
    data = pd.DataFrame({f"{s}{j}": np.clip(np.round(3 + f[:, k] + rng.normal(scale=0.7, size=150)), 1, 5)
                         for k, s in enumerate("AB") for j in (1, 2, 3)})
    rep = build_report(data, inst, validate=True, validation_options={"bootstrap": 0, "iterations": 2})
    md, files = write_markdown(rep, tmp_path / "v.md")
    text = md.read_text()
    for heading in ("## Validation", "### Reliability", "### Omega", "### Confirmatory factor analysis"):
        assert heading in text
    assert "no bootstrap interval" in text and "| cut-off |" in text
    assert (files / "scree.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(PeerscaleError, match="exists"):
        write_markdown(rep, tmp_path / "v.md")


def test_cli_writes_the_report_as_json_with_the_commands_keys(run_cli, tmp_path):
    out = tmp_path / "r.json"
    code, _, err = run_cli("report", EXAMPLE, "-i", "pbr-y", "-o", out)
    assert code == 0, err
    rep = json.loads(out.read_text())
    assert {"meta", "sample", "scores", "waves", "items", "item_analysis", "reliability", "efa", "cfa",
            "methods"} <= set(rep)
    assert rep["reliability"] is None  # validation was not asked for
    assert rep["sample"]["waves"] == ["baseline_arm_1", "followup_arm_1"]
    assert rep["item_analysis"]["sample"]["waves"] == ["baseline_arm_1"]  # flags: the first wave
    code, items_json, _ = run_cli("items", EXAMPLE, "-i", "pbr-y", "--json")
    assert json.loads(items_json) == rep["item_analysis"]  # the same numbers as `peerscale items --json`
    code, _, err = run_cli("report", EXAMPLE, "-i", "pbr-y", "-o", tmp_path / "r.txt", "--format", "json",
                           "--wave", "followup_arm_1")
    assert code == 0, err
    assert json.loads((tmp_path / "r.txt").read_text())["item_analysis"]["sample"]["waves"] == ["followup_arm_1"]
