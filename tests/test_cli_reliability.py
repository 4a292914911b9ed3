"""`peerscale reliability` and `peerscale items`: JSON contract, parity through the CLI, ICC designs, errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import BFI_CSV as BFI, FIXTURES, ROOT

FIX = FIXTURES / "reliability"
ALPHA = json.loads((FIX / "psych_alpha.json").read_text())
OMEGA = json.loads((FIX / "psych_omega.json").read_text())
YOUTH = ROOT / "examples" / "youth_export.csv"
BFI_SCALES = [f"{name}={','.join(spec['keys'])}" for name, spec in ALPHA.items()]


def scale_args():
    return [a for s in BFI_SCALES for a in ("--scale", s)] + ["--range", "1:6"]


def test_reliability_json_contract_and_psych_parity(run_cli):
    code, out, err = run_cli("reliability", BFI, *scale_args(), "--json")
    assert code == 0, err
    res = json.loads(out)
    assert set(res["scales"]) == set(ALPHA)
    for name, ref in ALPHA.items():
        got, want = res["scales"][name], ref["pairwise"]
        assert {"n", "alpha", "alpha_std", "g6", "average_r", "alpha_ci", "omega_total", "items"} <= set(got)
        for key in ("alpha", "alpha_std", "g6", "average_r"):
            assert got[key] == pytest.approx(want[key], abs=1e-6)
        assert got["alpha_ci"] == pytest.approx(want["feldt"], abs=1e-6)
        assert got["omega_total"] == pytest.approx(OMEGA[name]["minres"]["omega_total"], abs=1e-3)
        assert "one-factor" in got["omega_kind"]
        for item, st in want["items"].items():
            assert got["items"][item]["r_drop"] == pytest.approx(st["r_drop"], abs=1e-6)
            assert got["items"][item]["alpha_if_dropped"] == pytest.approx(st["alpha_if_dropped"], abs=1e-6)
        assert got["items"][ref["keys"][0].lstrip("-")]["key"] == (-1 if ref["keys"][0].startswith("-") else 1)


def test_listwise_bootstrap_ordinal_and_omega(run_cli):
    code, out, err = run_cli("reliability", BFI, *scale_args(), "--listwise", "--bootstrap", "200",
                             "--seed", "4", "--ordinal", "--omega", "--json")
    assert code == 0, err
    res = json.loads(out)
    agree = res["scales"]["agree"]
    assert agree["missing"] == "listwise" and agree["n"] == ALPHA["agree"]["listwise"]["n"]
    assert agree["alpha"] == pytest.approx(ALPHA["agree"]["listwise"]["alpha"], abs=1e-6)
    boot = agree["bootstrap_ci"]
    assert boot["n_boot"] == 200 and boot["seed"] == 4 and boot["lower"] < agree["alpha"] < boot["upper"]
    assert agree["ordinal"]["alpha"] > agree["alpha_std"]  # polychoric r exceed Pearson r on 6-point items
    om = res["omega"]["all_scales"]
    assert om["omega_kind"] == "schmid-leiman" and om["n_factors"] == 5
    assert om["group_factors_for"] == list(ALPHA)


def test_bootstrap_is_reproducible_through_the_cli(run_cli):
    args = ("reliability", BFI, "--scale", BFI_SCALES[0], "--range", "1:6", "--bootstrap", "100", "--seed", "9",
            "--json")
    _, out1, _ = run_cli(*args)
    _, out2, _ = run_cli(*args)
    assert json.loads(out1)["scales"]["agree"]["bootstrap_ci"] == json.loads(out2)["scales"]["agree"]["bootstrap_ci"]


def test_omega_of_bfi_structure_matches_psych(run_cli):
    code, out, err = run_cli("reliability", BFI, *scale_args(), "--omega", "--json")
    assert code == 0, err
    om = json.loads(out)["omega"]["all_scales"]
    assert om["omega_total"] == pytest.approx(OMEGA["bfi25_5"]["omega_total"], abs=1e-3)
    assert om["omega_hierarchical"] == pytest.approx(OMEGA["bfi25_5"]["omega_h"], abs=1e-3)


def test_instrument_composites_get_schmid_leiman_omega(run_cli):
    code, out, err = run_cli("reliability", YOUTH, "--instrument", "pbr-y", "--omega", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["scales"]["pbr_core"]["n_items"] == 36  # composites: alpha of the pooled items
    assert res["scales"]["pbr_core"]["omega_kind"].startswith("omega total, one-factor")
    # the first wave by default, so each respondent counts once; the sample block says so
    assert res["sample"]["waves"] == ["baseline_arm_1"] and res["sample"]["rows"] == res["sample"]["respondents"]
    assert "first wave baseline_arm_1" in res["sample"]["note"]
    core = res["omega"]["pbr_core"]
    assert core["n_factors"] == 6 and core["omega_kind"] == "schmid-leiman"
    assert 0 < core["omega_hierarchical"] < core["omega_total"] < 1
    # each group factor is named after the subscale whose items load on it (simulated six-factor data)
    assert {label.split()[0] for label in core["group_labels"].values()} == set(core["group_factors_for"])


def test_readable_tables(run_cli):
    code, out, err = run_cli("reliability", BFI, "--scale", BFI_SCALES[0], "--range", "1:6", "--bootstrap", "50",
                             "--seed", "1", "--ordinal")
    assert code == 0, err
    assert "Reliability" in out and "item-total" in out and "Feldt" in out and "bootstrap" in out
    assert "-A1" in out


def _waves(tmp_path):
    data = pd.read_csv(YOUTH)
    base = data[data.redcap_event_name == "baseline_arm_1"].drop(columns="redcap_event_name")
    follow = data[data.redcap_event_name == "followup_arm_1"].drop(columns="redcap_event_name")
    a, b = tmp_path / "w1.csv", tmp_path / "w2.csv"
    base.to_csv(a, index=False)
    follow.to_csv(b, index=False)
    return a, b


def test_icc_long_and_two_files_agree(run_cli, tmp_path):
    code, out, err = run_cli("reliability", YOUTH, "--instrument", "pbr-y", "--icc", "--json")
    assert code == 0, err
    long = json.loads(out)
    assert long["sample"]["waves"] == ["baseline_arm_1"]  # alpha on the first wave, the ICC on both
    share = long["icc"]["share"]
    assert share["design"] == "waves" and share["k"] == 2 and share["primary"] == "ICC(2,1)"
    assert set(share["types"]) == {"ICC(1,1)", "ICC(2,1)", "ICC(3,1)", "ICC(1,k)", "ICC(2,k)", "ICC(3,k)"}
    w1, w2 = _waves(tmp_path)
    code, out, err = run_cli("reliability", w1, "--instrument", "pbr-y", "--id-column", "record_id",
                             "--retest", w2, "--json")
    assert code == 0, err
    wide = json.loads(out)
    assert wide["computed_on"] == {"file": str(w1)}
    assert wide["icc"]["share"]["types"]["ICC(2,1)"]["icc"] == pytest.approx(share["types"]["ICC(2,1)"]["icc"])
    assert wide["scales"]["share"]["alpha"] == pytest.approx(long["scales"]["share"]["alpha"])
    code, out, err = run_cli("reliability", YOUTH, "--instrument", "pbr-y", "--wave", "all",
                             "--rater-column", "redcap_event_name")
    assert code == 0, err
    assert "inter-rater" in out and "ICC(2,1)" in out


@pytest.mark.parametrize("args, code, message", [
    (["--bootstrap", "10", "--retest", str(BFI)], 1, "respondent id column"),
    (["--seed", "3"], 2, "--bootstrap"),
    (["--icc", "--rater-column", "r"], 2, "only one of"),
    (["--wave-column", "w"], 1, "wave column 'w'"),
    (["--wave", "t9"], 1, "no wave column"),
    (["--ci", "2"], 2, "--ci"),
])
def test_usage_errors(run_cli, args, code, message):
    got, out, err = run_cli("reliability", BFI, "--scale", BFI_SCALES[0], "--range", "1:6", *args)
    assert got == code
    assert message in err


def test_data_errors_are_one_message(run_cli, tmp_path):
    bad = tmp_path / "const.csv"
    pd.DataFrame({"a": [1, 2, 3, 4], "b": [3, 3, 3, 3], "c": [1, 2, 2, 4]}).to_csv(bad, index=False)
    code, out, err = run_cli("reliability", bad, "--scale", "S=a,b,c", "--range", "1:5")
    assert code == 1 and "no variance" in err and "Traceback" not in err
    code, out, err = run_cli("reliability", bad, "--scale", "S=a,b,c", "--scale", "T=a,c", "--range", "1:5", "--json")
    assert code == 1 and "1 scale(s) could not be analysed" in err and "no variance" in err
    partial = json.loads(out)["scales"]
    assert "error" in partial["S"] and partial["T"]["alpha"] > 0
    code, out, err = run_cli("reliability", bad, "--scale", "S=a,c", "--range", "1:5", "--omega")
    assert code == 1 and "(--omega) needs a structure" in err
    code, out, err = run_cli("reliability", YOUTH, "--instrument", "pbr-y", "--wave-column", "no_such_column")
    assert code == 1 and "no_such_column" in err and "--wave-column" in err


def test_items_json_and_flags(run_cli):
    code, out, err = run_cli("items", BFI, "--scale", "agree=A1,A2,A3,A4,A5", "--range", "1:6", "--json")
    assert code == 0, err
    res = json.loads(out)
    a1 = res["scales"]["agree"]["items"]["A1"]
    assert a1["r_drop"] < 0 and a1["flags"][0]["flag"] == "negative_r_drop"
    assert "not flipped" in a1["flags"][0]["message"] and a1["key"] == 1
    assert sum(a1["frequencies"].values()) == a1["n"] and list(a1["frequencies"]) == ["1", "2", "3", "4", "5", "6"]
    for key in ("mean", "sd", "skew", "floor_pct", "ceiling_pct", "missing_pct", "alpha_if_dropped"):
        assert key in a1
    assert "negative_r_drop" in res["rules"]


def test_items_thresholds_and_table(run_cli):
    code, out, err = run_cli("items", YOUTH, "--instrument", "pbr-y", "--max-ceiling", "40", "--min-r", "0.9")
    assert code == 0, err
    assert "ceiling" in out and "low_r_drop" in out and "Flag rules" in out
    code, out, err = run_cli("items", YOUTH, "--instrument", "pbr-y", "--json")
    res = json.loads(out)
    assert set(res["scales"]) == {"share", "valid", "trust", "auth", "mutual", "auton", "hope", "care",
                                  "normal", "informal", "identity"}
    care7 = res["scales"]["care"]["items"]["pbr_y_care_07"]
    assert care7["key"] == -1 and care7["r_drop"] > 0  # reverse keying from the instrument
