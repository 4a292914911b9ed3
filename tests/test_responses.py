"""One pipeline: `peerscale.read` → `Responses` is what the command line runs.

- parity: the notebook path gives the CLI's scores byte for byte on every bundled fixture;
- optional scales: pbr-y without HOPE and CARE scores the six core scales and pbr_core;
- the study design (study.yaml, flags, REDCap events), `--wave` and the sample block;
- the Responses API itself and bad inputs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pyreadstat
import pytest

import peerscale
from conftest import FIXTURES, ROOT
from peerscale.errors import PeerscaleError
from peerscale.io import write_table

YOUTH = ROOT / "examples" / "youth_export.csv"
WORKER = ROOT / "examples" / "worker_export.csv"
_RAW = pd.read_csv(YOUTH, dtype=str)
N_ROWS = len(_RAW)                                                   # both waves
N_FIRST = int((_RAW.redcap_event_name == "baseline_arm_1").sum())   # 300 young people at baseline
REDCAP = FIXTURES / "redcap"
MINI = REDCAP / "mini-y.yaml"
CODES = {"-999": "Not asked", "UNK": "Unknown"}
CODE_ARGS = ["--missing-code", "-999=Not asked", "--missing-code", "UNK=Unknown"]


@pytest.fixture(scope="module")
def binaries(tmp_path_factory):
    """The youth example written as .sav (with user-missing 9s), .xlsx and Parquet."""
    folder = tmp_path_factory.mktemp("formats")
    data = pd.read_csv(YOUTH, dtype={"record_id": str, "redcap_event_name": str, "dyad_id": str, "worker_id": str})
    act = list(peerscale.load_instrument("act-y").items)
    sav = folder / "youth.sav"
    pyreadstat.write_sav(data, str(sav), missing_ranges={c: [9.0] for c in act})
    out = {"sav": sav}
    for fmt in ("xlsx", "parquet"):
        out[fmt] = write_table(data, folder / f"youth.{fmt}")
    return out


# (id, input, instrument, read() keywords, CLI options)
CASES = [
    ("redcap-raw", REDCAP / "export_raw.csv", MINI, {"missing_codes": CODES}, CODE_ARGS),
    ("redcap-label", REDCAP / "export_labels.csv", MINI,
     {"missing_codes": CODES, "redcap_dictionary": REDCAP / "project_dictionary.csv"},
     CODE_ARGS + ["--redcap-dictionary", REDCAP / "project_dictionary.csv"]),
    ("redcap-label-headers", REDCAP / "export_labels_headers.csv", MINI, {"missing_codes": CODES}, CODE_ARGS),
    ("spss-pair", REDCAP / "MiniProject_SPSS_2026-01-10_1200.sps", MINI, {"missing_codes": CODES}, CODE_ARGS),
    ("sav", "sav", "act-y", {}, []),
    ("xlsx", "xlsx", "pbr-y", {}, []),
    ("parquet", "parquet", "out-y", {}, []),
    ("youth-pbr-y", YOUTH, "pbr-y", {}, []),
    ("youth-act-y", YOUTH, "act-y", {}, []),
    ("youth-out-y", YOUTH, "out-y", {}, []),
    ("worker-pbr-p", WORKER, "pbr-p", {}, []),
    ("worker-act-p", WORKER, "act-p", {}, []),
]


@pytest.mark.parametrize("name,source,instrument,kwargs,args", CASES, ids=[c[0] for c in CASES])
def test_notebook_scores_equal_the_cli_byte_for_byte(run_cli, tmp_path, binaries, name, source, instrument, kwargs,
                                                     args):
    source = binaries.get(source, source)
    cli_out, api_out = tmp_path / "cli.csv", tmp_path / "api.csv"
    code, _, err = run_cli("score", source, "-i", instrument, *args, "-o", cli_out, "-q")
    assert code == 0, err
    scores = peerscale.read(source, instrument, **kwargs).score().scores
    write_table(scores, api_out)
    assert api_out.read_bytes() == cli_out.read_bytes()
    assert len(scores) > 0 and scores.filter(regex="_n$").notna().any().any()


def test_notebook_path_scores_a_redcap_raw_export_with_project_codes():
    """The case that failed before: read_table + score_data by hand lost the -999/UNK codes."""
    r = peerscale.read(REDCAP / "export_raw.csv", MINI, missing_codes=CODES)
    res = r.score()
    assert res.summary["missing_by_reason"]["Not asked"] >= 1 and res.summary["missing_by_reason"]["Unknown"] >= 1
    assert res.summary["n_out_of_scope"] == 3  # contact-log rows: kept with their ids, not scored
    assert res.scores["record_id"].tolist()[0] == "007"
    frame = pd.read_csv(REDCAP / "export_raw.csv", dtype=str)
    same = peerscale.read(frame, MINI, missing_codes=CODES).score().scores  # a DataFrame goes the same way
    pd.testing.assert_frame_equal(same, res.scores)


# --------------------------------------------------------------------------- optional scales

def _without_hope_and_care(tmp_path):
    data = pd.read_csv(YOUTH, dtype=str)
    drop = [c for c in data.columns if c.startswith(("pbr_y_hope_", "pbr_y_care_"))]
    src = tmp_path / "no_hope_care.csv"
    data.drop(columns=drop).to_csv(src, index=False)
    return src


def test_pbr_y_without_hope_and_care_scores_the_six_core_scales_and_pbr_core(run_cli, tmp_path):
    src = _without_hope_and_care(tmp_path)
    out = tmp_path / "s.csv"
    code, stdout, err = run_cli("score", src, "-i", "pbr-y", "-o", out, "--json")
    assert code == 0, err
    scores = pd.read_csv(out)
    core = ["share", "valid", "trust", "auth", "mutual", "auton"]
    assert all(s in scores for s in core + ["pbr_core"])
    assert not any(s in scores for s in ("hope", "care", "pbr_all", "hope_n"))
    assert scores["pbr_core"].notna().mean() > 0.9
    skipped = json.loads(stdout)["skipped_scales"]
    k = {s.name: len(s.items) for s in peerscale.load_instrument("pbr-y").scales}
    assert skipped == {"hope": f"none of its {k['hope']} items are in the data",
                       "care": f"none of its {k['care']} items are in the data",
                       "pbr_all": "needs the skipped scale(s) hope, care"}
    assert "scale hope skipped" in err and "pbr_all skipped: needs the skipped scale(s) hope, care" in err
    # the same scores as the full export's core scales
    full = peerscale.read(YOUTH, "pbr-y").score().scores
    pd.testing.assert_series_equal(peerscale.read(src, "pbr-y").score().scores["pbr_core"], full["pbr_core"])
    # the report and the analyses work on what is there
    r = peerscale.read(src, "pbr-y")
    assert list(r.skipped_scales) == ["hope", "care", "pbr_all"]
    assert {"hope", "care", "pbr_all"}.isdisjoint(r.reliability().scales) and set(core + ["pbr_core"]) <= set(
        r.reliability().scales)
    rep = r.report()
    assert "Scale <code>hope</code> was not scored: none of its" in rep.to_html()


def test_a_missing_item_of_a_present_scale_is_still_an_error(run_cli, tmp_path):
    data = pd.read_csv(YOUTH, dtype=str).drop(columns=["pbr_y_trust_03"])
    src = tmp_path / "x.csv"
    data.to_csv(src, index=False)
    code, _, err = run_cli("score", src, "-i", "pbr-y", "-o", tmp_path / "s.csv")
    assert code == 1 and "scale 'trust'" in err and "pbr_y_trust_03" in err and "--map" in err
    assert not (tmp_path / "s.csv").exists()
    with pytest.raises(PeerscaleError, match="pbr_y_trust_03") as exc:
        peerscale.read(src, "pbr-y")
    assert "`map`" in exc.value.hint  # the library names its parameter


def test_scales_option_chooses(run_cli, tmp_path):
    out = tmp_path / "s.csv"
    code, _, err = run_cli("score", YOUTH, "-i", "pbr-y", "--scales", "share,valid", "-o", out)
    assert code == 0, err
    assert [c for c in pd.read_csv(out).columns if not c.startswith(("record_id", "redcap", "dyad", "worker"))] == \
        ["share", "share_n", "share_band", "valid", "valid_n", "valid_band"]
    src = _without_hope_and_care(tmp_path)
    code, _, err = run_cli("score", src, "-i", "pbr-y", "--scales", "share,hope", "-o", tmp_path / "t.csv")
    assert code == 1 and "scale 'hope'" in err  # chosen explicitly, so its items must be there
    code, _, err = run_cli("score", YOUTH, "-i", "pbr-y", "--scales", "share,nope", "-o", tmp_path / "u.csv")
    assert code == 1 and "--scales names 'nope'" in err
    code, _, err = run_cli("score", WORKER, "-i", "pbr-y", "-o", tmp_path / "v.csv")
    assert code == 1 and "none of the scales of instrument 'pbr-y'" in err


# --------------------------------------------------------------------------- design and waves

def test_study_yaml_beside_the_export_and_flags_over_it(tmp_path):
    src = tmp_path / "export.csv"
    shutil.copy(YOUTH, src)
    r = peerscale.read(src, "pbr-y")  # no study.yaml: REDCap defaults
    assert r.design.roles() == {"respondent": "record_id", "wave": "redcap_event_name"}
    (tmp_path / "study.yaml").write_text("worker: worker_id\ndyad: dyad_id\nwaves: [followup_arm_1, baseline_arm_1]\n")
    r = peerscale.read(src, "pbr-y")
    assert r.design.worker == "worker_id" and r.design.dyad == "dyad_id"
    assert r.waves == ["followup_arm_1", "baseline_arm_1"]  # study order from the file
    assert r.wave("first").sample()["waves"] == ["followup_arm_1"]
    s = r.reliability().sample
    assert s["workers"] == 40 and s["rows"] == s["respondents"] == s["dyads"]
    r = peerscale.read(src, "pbr-y", design={"worker": "dyad_id"})  # what is given wins
    assert r.design.worker == "dyad_id" and r.design.dyad == "dyad_id"
    # the bundled example ships one
    assert peerscale.read(YOUTH, "pbr-y").design.source.endswith("study.yaml")


@pytest.mark.parametrize("text,message", [
    ("wave: visit\n", "the wave column 'visit' is not in the data"),
    ("waves: [baseline_arm_1]\n", "are not listed in the design's waves"),
    ("worker: [a, b]\n", "expected a column name"),
    ("workers: worker_id\n", "unknown key 'workers'"),
    ("waves: [a, a]\n", "listed twice"),
    ("- just a list\n", "a study file is a mapping"),
    ("wave: [unclosed\n", "not valid YAML"),
])
def test_bad_study_files_are_named(tmp_path, text, message):
    src = tmp_path / "export.csv"
    shutil.copy(YOUTH, src)
    (tmp_path / "study.yaml").write_text(text)
    with pytest.raises(PeerscaleError, match=message) as exc:
        peerscale.read(src, "pbr-y").reliability()
    assert exc.value.file.endswith("study.yaml")


def test_wave_option_and_sample_block_in_every_analysis(run_cli):
    first = {"rows": N_FIRST, "respondents": N_FIRST, "waves": ["baseline_arm_1"]}
    for cmd, extra in (("reliability", []), ("items", []), ("efa", ["--iterations", "2"]),
                       ("cfa", ["--missing", "listwise", "--top-mi", "0"])):
        code, out, err = run_cli(cmd, YOUTH, "-i", "pbr-y", "--json", *extra)
        assert code == 0, (cmd, err)
        sample = json.loads(out)["sample"]
        assert {k: sample[k] for k in first} == first, cmd
        assert "the first wave baseline_arm_1" in sample["note"]
    code, out, err = run_cli("reliability", YOUTH, "-i", "pbr-y", "--wave", "all", "--json")
    sample = json.loads(out)["sample"]
    assert sample["rows"] == N_ROWS and sample["respondents"] == N_FIRST and "counted once per wave" in sample["note"]
    code, out, _ = run_cli("items", YOUTH, "-i", "pbr-y", "--wave", "followup_arm_1", "--json")
    assert json.loads(out)["sample"]["waves"] == ["followup_arm_1"]
    code, out, err = run_cli("items", YOUTH, "-i", "pbr-y", "--wave", "week_9")
    assert code == 1 and "--wave 'week_9' is not a wave" in err and "baseline_arm_1" in err
    code, out, err = run_cli("reliability", YOUTH, "-i", "pbr-y", "--scales", "share")
    assert code == 0 and "Sample: 300 rows from 300 respondents" in out  # the table says it in words


def test_wave_column_flag_and_a_file_without_waves(run_cli, tmp_path):
    data = pd.read_csv(YOUTH, dtype=str).rename(columns={"redcap_event_name": "visit", "record_id": "pid"})
    src = tmp_path / "long.csv"
    data.to_csv(src, index=False)
    code, out, err = run_cli("reliability", src, "-i", "pbr-y", "--wave-column", "visit", "--respondent-column", "pid",
                             "--json", "--scales", "share")
    assert code == 0, err
    assert json.loads(out)["sample"]["waves"] == ["baseline_arm_1"]
    code, _, err = run_cli("reliability", src, "-i", "pbr-y", "--scales", "share")
    assert code == 1 and "duplicate record ids" in err  # the waves must be named to tell the rows apart
    one = tmp_path / "one.csv"
    data[data.visit == "baseline_arm_1"].drop(columns="visit").to_csv(one, index=False)
    code, out, err = run_cli("reliability", one, "-i", "pbr-y", "--json", "--scales", "share")
    assert code == 0, err  # no wave column: every row, and the sample says so
    sample = json.loads(out)["sample"]
    assert sample["rows"] == N_FIRST and sample["waves"] == [] and "no wave column" in sample["note"]


def test_fiml_is_the_cfa_default_and_says_so(run_cli):
    code, out, err = run_cli("cfa", YOUTH, "-i", "pbr-y", "--top-mi", "0", "--json")
    assert code == 0, err
    fiml = json.loads(out)
    code, out, err = run_cli("cfa", YOUTH, "-i", "pbr-y", "--top-mi", "0", "--missing", "listwise", "--json")
    listwise = json.loads(out)
    assert fiml["missing"] == "fiml" and listwise["missing"] == "listwise"
    assert fiml["n_rows"] == listwise["n_rows"] == N_FIRST
    core = [i for s in ("share", "valid", "trust", "auth", "mutual", "auton")
            for i in peerscale.load_instrument("pbr-y").scale(s).items]
    first = _RAW[_RAW.redcap_event_name == "baseline_arm_1"][core]
    assert fiml["n"] == int(first.notna().any(axis=1).sum())  # every respondent with an answer
    assert listwise["n"] == int(first.notna().all(axis=1).sum()) < fiml["n"]
    code, out, err = run_cli("cfa", YOUTH, "-i", "pbr-y", "--top-mi", "0", "--estimator", "dwls", "--scales",
                             "share,valid", "--json")
    assert code == 0, err
    assert json.loads(out)["missing"] == "listwise"  # DWLS has no FIML: stated, not hidden


# --------------------------------------------------------------------------- the API

def test_responses_api():
    r = peerscale.read(YOUTH, "pbr-y")
    assert r.n_rows == N_ROWS and r.waves == ["baseline_arm_1", "followup_arm_1"]
    items = r.items()
    assert items.shape == (N_ROWS, len(r.instrument.scale_items())) and items.index[0] == 0
    share = r.wave("first").keyed("share")
    assert share.shape == (N_FIRST, len(r.instrument.scale("share").items))
    raw = r.wave("first").items()["pbr_y_share_06"]  # a reverse-keyed item of share
    assert peerscale.load_instrument("pbr-y").items["pbr_y_share_06"].reverse
    assert np.allclose(share["pbr_y_share_06"].dropna(), 6 - raw.dropna())
    assert np.allclose(r.items(keyed=True)["pbr_y_share_06"].dropna(), 6 - items["pbr_y_share_06"].dropna())
    w = r.where("worker_id", "W07")
    assert w.n_rows == int((_RAW.worker_id == "W07").sum()) and set(w.ids()["worker_id"]) == {"W07"}
    assert f"Responses: {N_ROWS} rows" in repr(r) and "worker = worker_id" in repr(r)
    follow = r.wave("followup_arm_1")
    assert follow.score().scores.shape[0] == follow.n_rows == N_ROWS - N_FIRST
    assert follow.reliability().sample["waves"] == ["followup_arm_1"]  # a view keeps its wave
    assert r.wave("all").reliability(scales=["share"]).sample["rows"] == N_ROWS
    rel = r.reliability(scales=["share", "valid"])
    assert list(rel.to_frame().index) == ["share", "valid"] and "psych::alpha" in rel.summary()
    assert rel.alpha["share"].alpha == rel.scales["share"]["alpha"]
    flags = r.item_analysis()
    assert {f["item"] for f in flags.flags()} <= set(items.columns)
    assert flags.to_frame().index.names == ["scale", "item"]


def test_instrument_found_when_not_given():
    data = pd.read_csv(WORKER, dtype=str)
    only_pbr = data[[c for c in data.columns if not c.startswith("act_p")]]
    assert peerscale.read(only_pbr).instrument.name == "pbr-p"
    with pytest.raises(PeerscaleError, match="several bundled instruments: act-p, pbr-p"):
        peerscale.read(WORKER)  # both forms in one file: say which


def test_read_errors_name_parameters(tmp_path):
    with pytest.raises(PeerscaleError, match="data file not found"):
        peerscale.read(tmp_path / "nope.csv", "pbr-y")
    with pytest.raises(PeerscaleError, match="several bundled instruments"):
        peerscale.read(YOUTH)
    with pytest.raises(PeerscaleError, match="`on_invalid`"):
        peerscale.read(YOUTH, "pbr-y", on_invalid="skip")
    with pytest.raises(PeerscaleError, match="`source` must be a file path or a pandas DataFrame"):
        peerscale.read(42, "pbr-y")
    with pytest.raises(PeerscaleError, match="`design` has an unknown role 'site'"):
        peerscale.read(YOUTH, "pbr-y", design={"site": "x"})
    with pytest.raises(PeerscaleError, match="`min_answered` 99 is more than the 6 items"):
        peerscale.read(YOUTH, "pbr-y").score(min_answered=99)
    with pytest.raises(PeerscaleError, match="`min_answered` 2.5 must be a whole count"):
        peerscale.read(YOUTH, "pbr-y").score(min_answered=2.5)
    with pytest.raises(PeerscaleError, match="`wave` 'x': the data have no wave column"):
        base = pd.read_csv(YOUTH).query("redcap_event_name == 'baseline_arm_1'")
        peerscale.read(base.drop(columns="redcap_event_name"), "pbr-y").wave("x")
    with pytest.raises(PeerscaleError, match="`map` names column"):
        peerscale.read(YOUTH, "pbr-y", map={"no_such": "pbr_y_share_01"})


def test_cli_shows_flags_where_the_library_names_parameters(run_cli, tmp_path):
    code, _, err = run_cli("score", YOUTH, "-i", "pbr-y", "--min-answered", "9", "-o", tmp_path / "s.csv")
    assert code == 1 and "--min-answered 9 is more than the 6 items" in err and "`" not in err.splitlines()[0]
    code, _, err = run_cli("score", YOUTH, "-i", "pbr-y", "--min-answered", "2.5", "-o", tmp_path / "s.csv")
    assert code == 1 and "--min-answered '2.5' must be a whole count" in err
    code, _, err = run_cli("reliability", YOUTH, "-i", "pbr-y", "--min-answered", "0")
    assert code == 1 and "--min-answered" in err  # checked by the library in every command
    from peerscale.cli_common import flag_text

    assert flag_text("pass `on_invalid='missing'` or `listwise=True`") == "pass --on-invalid missing or --listwise"
    assert flag_text("`input_format`", "report") == "--input-format" and flag_text("`unknown_thing`") == "`unknown_thing`"


def test_examples_are_found_through_the_package_from_anywhere(tmp_path):
    code = ("import peerscale; from peerscale.examples import path, files; "
            "print(files()); print(peerscale.read(path('youth_export.csv'), 'pbr-y').n_rows)")
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr
    assert "youth_export.csv" in res.stdout and res.stdout.split()[-1] == str(N_ROWS)
    with pytest.raises(PeerscaleError, match="no example file"):
        peerscale.examples.path("nope.csv")


@pytest.mark.parametrize("call,message", [
    (lambda r: r.reliability(level=1.5), "`level`"),
    (lambda r: r.reliability(n_boot=-1, scales=["share"]), "`n_boot`"),
    (lambda r: r.reliability(omega_method="magic"), "`omega_method`"),
    (lambda r: r.reliability(scales=["nope"]), "`scales` names 'nope'"),
    (lambda r: r.item_analysis(max_floor=150), "`max_floor` is a percentage"),
    (lambda r: r.item_analysis(min_r_drop=2), "`min_r_drop`"),
    (lambda r: r.efa(n_factors=0), "`n_factors`"),
    (lambda r: r.efa(n_factors=2, items=["pbr_y_share_01", "x"]), "`items` names 'x'"),
    (lambda r: r.efa(iterations=0), "`iterations`"),
    (lambda r: r.efa(method="magic", n_factors=2), "unknown extraction method"),
    (lambda r: r.cfa(estimator="gls"), "`estimator`"),
    (lambda r: r.cfa(missing="pairwise"), "`missing`"),
    (lambda r: r.cfa(top_mi=-1), "`top_mi`"),
    (lambda r: r.cfa("f =~ pbr_y_share_01 + pbr_y_share_02", structure="bifactor"), "not both"),
    (lambda r: r.cfa(structure="two-level"), "unknown `structure`"),
    (lambda r: r.cfa(group="no_such"), "no_such"),
    (lambda r: r.where("no_such", 1), "column not found"),
])
def test_analysis_arguments_are_checked_by_the_library(call, message):
    r = peerscale.read(YOUTH, "pbr-y", scales=["share", "valid", "trust"])
    with pytest.raises(PeerscaleError, match=message):
        call(r)


def test_instrument_structures_are_written_once():
    from peerscale.structures import dimension_scales, instrument_structure

    inst = peerscale.load_instrument("pbr-y")
    core = ["share", "valid", "trust", "auth", "mutual", "auton"]
    assert [s.name for s in dimension_scales(inst)] == core  # pbr_core's scales, not the optional ones
    text, opts = instrument_structure(inst, "correlated")
    assert text.splitlines()[0].startswith("share =~ pbr_y_share_01 + ") and len(text.splitlines()) == 6 and opts == {}
    one, _ = instrument_structure(inst, "one-factor")
    assert one.startswith("g =~ ") and one.count("+") == sum(len(inst.scale(s).items) for s in core) - 1
    bi, opts = instrument_structure(inst, "bifactor")
    assert bi.splitlines()[0] == one and opts == {"std_lv": True, "orthogonal": True}
    three = peerscale.read(YOUTH, "pbr-y", scales=["share", "valid", "trust"]).instrument  # no composite left
    assert [s.name for s in dimension_scales(three)] == ["share", "valid", "trust"]
    with pytest.raises(PeerscaleError, match="unknown `structure`"):
        instrument_structure(inst, "higher-order")
    with pytest.raises(PeerscaleError, match="bifactor model needs at least two"):
        instrument_structure(peerscale.read(YOUTH, "pbr-y", scales=["share"]).instrument, "bifactor")


def test_redcap_event_column_is_the_default_wave_in_raw_and_label_header_exports():
    raw = peerscale.read(REDCAP / "export_raw.csv", MINI, missing_codes=CODES)
    lab = peerscale.read(REDCAP / "export_labels_headers.csv", MINI, missing_codes=CODES)
    assert raw.design.roles() == {"respondent": "record_id", "wave": "redcap_event_name"}
    assert lab.design.roles() == {"respondent": "Record ID", "wave": "Event Name"}
    assert raw.waves == ["baseline_arm_1", "followup_arm_1"] and len(lab.waves) == 2
    assert raw.wave("first").sample()["rows"] == lab.wave("first").sample()["rows"]  # contact-log rows are out
