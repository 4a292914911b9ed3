"""CLI: instruments, show, score, validate: exit codes, outputs, safety, parity with psych."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import BFI_CSV as BFI, FIXTURES, ROOT

BFI_KEYS = ["agree=-A1,A2,A3,A4,A5", "conscientious=C1,C2,C3,-C4,-C5", "extraversion=-E1,-E2,E3,E4,E5",
            "neuroticism=N1,N2,N3,N4,N5", "openness=O1,-O2,O3,O4,-O5"]


def bfi_args(out, *extra):
    args = ["score", BFI, "--range", "1:6", "--id-column", "id", "-o", out, *extra]
    for k in BFI_KEYS:
        args += ["--scale", k]
    return args


def test_bfi_parity_with_psych_scoreItems(run_cli, tmp_path):
    """psych::scoreItems(keys, bfi, impute = "none", min = 1, max = 6) vs --min-answered 1."""
    out = tmp_path / "s.csv"
    code, _, err = run_cli(*bfi_args(out, "--min-answered", "1"))
    assert code == 0, err
    ours = pd.read_csv(out, dtype={"id": str})
    theirs = pd.read_csv(FIXTURES / "scoring" / "bfi_scores.csv", dtype={"id": str})
    assert len(ours) == len(theirs) == 2800
    assert list(ours["id"]) == list(theirs["id"])
    for scale in ["agree", "conscientious", "extraversion", "neuroticism", "openness"]:
        a, b = ours[scale].to_numpy(), theirs[scale].to_numpy()
        assert np.array_equal(np.isnan(a), np.isnan(b))
        assert np.nanmax(np.abs(a - b)) <= 1e-9, scale


def test_default_rule_is_75_percent_for_adhoc(run_cli, tmp_path):
    out = tmp_path / "s.csv"
    assert run_cli(*bfi_args(out, "--json"))[0] == 0
    ours = pd.read_csv(out)
    # 4 of 5 items needed: every scored row has at least 4 answered, and rows with 3 are blank
    assert (ours.loc[ours["agree"].notna(), "agree_n"] >= 4).all()
    assert ours.loc[ours["agree_n"] < 4, "agree"].isna().all()


def test_score_json_summary_and_refusals(run_cli, tmp_path):
    out = tmp_path / "s.csv"
    code, stdout, _ = run_cli(*bfi_args(out, "--json", "--quiet"))
    assert code == 0
    summary = json.loads(stdout)
    assert summary["n_rows"] == 2800 and summary["output"] == str(out)
    assert set(summary["scales"]) == {"agree", "conscientious", "extraversion", "neuroticism", "openness"}
    assert summary["missing_by_reason"]["blank"] > 0
    before = out.read_bytes()
    code, _, err = run_cli(*bfi_args(out))
    assert code == 1 and "output file already exists" in err and "--force" in err and "Traceback" not in err
    assert out.read_bytes() == before
    assert run_cli(*bfi_args(out, "--force"))[0] == 0
    # never overwrite the input, even with --force
    copy = tmp_path / "bfi.csv"
    copy.write_bytes(BFI.read_bytes())
    code, _, err = run_cli("score", copy, "--scale", "A=A1,A2", "-o", copy, "--force")
    assert code == 1 and "over an input" in err
    assert copy.read_bytes() == BFI.read_bytes()


def test_usage_errors_exit_2(run_cli, tmp_path):
    out = tmp_path / "s.csv"
    assert run_cli("score", BFI, "-o", out)[0] == 2  # neither --instrument nor --scale
    assert run_cli("score", BFI, "--instrument", "pbr-y", "--scale", "A=A1", "-o", out)[0] == 2
    assert run_cli("score", BFI, "--scale", "A=A1", "--on-invalid", "maybe", "-o", out)[0] == 2
    assert run_cli("nonsense")[0] == 2
    assert not out.exists()


@pytest.mark.parametrize("args, words", [
    (["--scale", "A=-A1,A2"], "no --range was given"),  # the library's `value_range`, shown as its flag
    (["--scale", "A=A1,Z9", "--range", "1:6"], "missing from the data: Z9"),
    (["--scale", "A=A1,A2", "--range", "6:1"], "MIN must be below MAX"),
    (["--scale", "A=A1,A2", "--min-answered", "3"], "whole number from 1 to 2"),
    (["--scale", "A=A1,A2", "--range", "1:5"], "not valid answers"),  # bfi has 6s
    (["--instrument", "pbr-y"], "none of the scales of instrument 'pbr-y' has its items in the data"),
    (["--instrument", "no-such"], "no bundled instrument"),
    (["--scale", "A=A1", "--id-column", "nope"], "id column(s) not in the data: nope"),
])
def test_data_errors_exit_1_without_output(run_cli, tmp_path, args, words):
    out = tmp_path / "s.csv"
    code, _, err = run_cli("score", BFI, *args, "-o", out)
    assert code == 1, err
    assert words in err and err.startswith("error:") and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.iterdir())


def test_missing_input_file(run_cli, tmp_path):
    code, _, err = run_cli("score", tmp_path / "nope.csv", "--scale", "A=A1", "-o", tmp_path / "o.csv")
    assert code == 1 and "data file not found" in err


def test_on_invalid_missing_reports_count(run_cli, tmp_path):
    out = tmp_path / "s.csv"
    code, stdout, _ = run_cli("score", BFI, "--scale", "A=A1,A2", "--range", "1:5", "--on-invalid", "missing",
                              "--json", "-o", out)
    assert code == 0
    summary = json.loads(stdout)
    expected = int((pd.read_csv(BFI)[["A1", "A2"]] == 6).sum().sum())
    assert summary["invalid_values"] == expected > 0
    assert len(pd.read_csv(out)) == 2800


def test_column_mapping(run_cli, tmp_path):
    data = pd.read_csv(BFI).rename(columns={"A1": "q_a1", "A2": "q_a2"})
    src = tmp_path / "renamed.csv"
    data.to_csv(src, index=False)
    out1, out2 = tmp_path / "o1.csv", tmp_path / "o2.csv"
    assert run_cli("score", src, "--scale", "A=-A1,A2", "--range", "1:6", "--map", "q_a1=A1", "--map", "q_a2=A2",
                   "-o", out1)[0] == 0
    mapping = tmp_path / "map.csv"
    mapping.write_text("column,item\nq_a1,A1\nq_a2,A2\n")
    assert run_cli("score", src, "--scale", "A=-A1,A2", "--range", "1:6", "--map", mapping, "-o", out2)[0] == 0
    pd.testing.assert_frame_equal(pd.read_csv(out1), pd.read_csv(out2))
    code, _, err = run_cli("score", src, "--scale", "A=A1", "--range", "1:6", "--map", "q_a1=A3", "-o", out1, "--force")
    assert code == 1 and "already exist" in err


def test_instruments_and_show(run_cli):
    code, out, _ = run_cli("instruments", "--json")
    assert code == 0
    listed = json.loads(out)
    assert {"pbr-y", "pbr-p", "act-y", "act-p", "act-s", "out-y"} <= {i["name"] for i in listed}
    for inst in listed:
        assert {"name", "title", "version", "forms", "n_items"} <= set(inst)
        assert inst["n_items"] > 0 and inst["forms"]
    code, out, _ = run_cli("show", "pbr-y", "--format", "json")
    cb = json.loads(out)
    assert code == 0 and cb["status"] == "draft" and any(i["reverse"] for i in cb["items"])
    assert all("{psw}" not in i["text_filled"] for i in cb["items"])
    code, md, _ = run_cli("show", "pbr-y", "--format", "markdown")
    assert code == 0 and md.startswith("# ") and "| id | dimension |" in md and "## Scales and rules" in md
    code, text, _ = run_cli("show", "act-y")
    assert code == 0 and "Did not come up" in text and "(missing)" in text


def test_validate(run_cli, tmp_path):
    bad = pd.read_csv(BFI, dtype={"id": str}).head(50)
    bad.loc[3, "A1"] = 9
    bad.loc[4, "id"] = bad.loc[5, "id"]
    bad.loc[7, [c for c in bad.columns if c[0] in "ACENO" and c[1:].isdigit()]] = np.nan
    src = tmp_path / "bad.csv"
    bad.to_csv(src, index=False)
    code, out, _ = run_cli("validate", src, "--scale", "A=A1,A2,A3", "--scale", "Z=Z1", "--range", "1:6",
                           "--id-column", "id", "--json")
    assert code == 1
    rep = json.loads(out)
    assert rep["missing_columns"] == [] and rep["skipped_scales"] == {"Z": "its item is not in the data"}
    code, out, _ = run_cli("validate", src, "--scale", "A=A1,A2,Z1", "--range", "1:6", "--id-column", "id", "--json")
    assert code == 1 and json.loads(out)["missing_columns"] == ["Z1"]  # a scale with some of its items
    assert rep["invalid_values"]["count"] == 1 and rep["invalid_values"]["examples"][0]["row"] == 4
    assert rep["duplicate_ids"]["count"] == 2
    assert rep["empty_rows"]["count"] == 1 and rep["empty_rows"]["rows"] == [8]
    code, out, _ = run_cli("validate", BFI, *sum((["--scale", k] for k in BFI_KEYS), []), "--range", "1:6",
                           "--id-column", "id")
    assert code == 0 and "OK: no problems found" in out


def test_help_does_not_import_heavy_modules():
    code = ("import sys; from peerscale.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('pandas', 'scipy', 'pingouin', 'matplotlib') if m in sys.modules]\n"
            "print('HEAVY:' + ','.join(heavy))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0 and res.stdout.strip().splitlines()[-1] == "HEAVY:"


def test_include_items_as_answered_and_keyed(run_cli, tmp_path):
    out1, out2 = tmp_path / "a.csv", tmp_path / "k.csv"
    base = ["score", BFI, "--scale", "A=-A1,A2", "--range", "1:6", "--id-column", "id"]
    assert run_cli(*base, "--include-items", "-o", out1)[0] == 0
    assert run_cli(*base, "--include-items", "keyed", "-o", out2)[0] == 0
    src = pd.read_csv(BFI)
    answered, keyed = pd.read_csv(out1), pd.read_csv(out2)
    assert list(answered.columns) == ["id", "A", "A_n", "A1", "A2"]
    pd.testing.assert_series_equal(answered["A1"], src["A1"].astype(float), check_dtype=False)
    pd.testing.assert_series_equal(keyed["A1"], 7 - src["A1"].astype(float), check_dtype=False)
    pd.testing.assert_series_equal(keyed["A2"], src["A2"].astype(float), check_dtype=False)
