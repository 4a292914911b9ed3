"""`peerscale efa` and `peerscale cfa`: JSON contract, parity through the CLI, errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import BFI_CSV as BFI, BFI_ITEMS, FIXTURES, HS_CSV as HS, HS_MODEL, ROOT

FIX = FIXTURES / "factor"
YOUTH = ROOT / "examples" / "youth_export.csv"


def test_efa_json_contract_and_parity(run_cli):
    items = ",".join(BFI_ITEMS)
    code, out, err = run_cli("efa", BFI, "--items", items, "--factors", "5", "--method", "ml",
                             "--rotation", "oblimin", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert {"n", "factors", "loadings", "communalities", "factor_correlations"} <= set(res)
    assert res["n"] == 2800 and res["factors"] == 5
    ours = np.array([res["loadings"][c] for c in res["loadings"]])
    ref = pd.read_csv(FIX / "efa_ml_oblimin_loadings.csv", index_col=0).to_numpy()
    assert np.abs(np.abs(ours) - np.abs(ref)).max() < 1e-2  # same order as psych, signs may differ
    assert np.array(res["factor_correlations"]).shape == (5, 5)
    assert res["kmo"]["overall"] == pytest.approx(
        pd.read_csv(FIX / "kmo_bfi.csv", index_col=0).loc["overall", "msa"], abs=1e-8)


def test_efa_parallel_with_seed_is_reproducible(run_cli):
    args = ("efa", BFI, "--items", "A1,A2,A3,A4,A5,C1,C2,C3,C4,C5", "--iterations", "5", "--seed", "3", "--json")
    code, out1, err = run_cli(*args)
    assert code == 0, err
    code, out2, _ = run_cli(*args)
    a, b = json.loads(out1), json.loads(out2)
    assert a["parallel"] == b["parallel"]
    assert a["factors"] == a["parallel"]["n_factors"] >= 1


def test_efa_table_output(run_cli):
    code, out, err = run_cli("efa", BFI, "--items", "A1,A2,A3,A4,A5,C1,C2,C3,C4,C5", "--factors", "2",
                             "--rotation", "promax")
    assert code == 0, err
    assert "Factor correlations" in out and "KMO" in out and "A1" in out


def test_efa_on_instrument_reverse_keys_items(run_cli):
    code, out, err = run_cli("efa", YOUTH, "--instrument", "pbr-y", "--factors", "2", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert len(res["loadings"]) > 10


def test_cfa_json_contract_and_parity(run_cli):
    code, out, err = run_cli("cfa", HS, "--model", HS_MODEL, "--json")
    assert code == 0, err
    res = json.loads(out)
    assert {"n", "fit", "loadings_std"} <= set(res)
    assert {"chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea_ci", "srmr", "aic", "bic"} <= set(res["fit"])
    ref = dict(pd.read_csv(FIX / "cfa_hs_ml_fit.csv").values)
    for key in ("chisq", "cfi", "tli", "rmsea", "srmr", "aic", "bic"):
        assert res["fit"][key] == pytest.approx(ref[key], abs=1e-3)
    assert res["fit"]["rmsea_ci"] == pytest.approx([ref["rmsea.ci.lower"], ref["rmsea.ci.upper"]], abs=1e-3)
    std = pd.read_csv(FIX / "cfa_hs_ml_std.csv", index_col=0)
    x1 = std[(std.lhs == "visual") & (std.rhs == "x1")]["est.std"].iloc[0]
    assert res["loadings_std"]["visual=~x1"] == pytest.approx(x1, abs=1e-4)
    assert len(res["loadings_std"]) == 9 and res["n"] == 301


def test_cfa_model_file_mlr_and_invariance(run_cli, tmp_path):
    f = tmp_path / "hs.lav"
    f.write_text(HS_MODEL.replace("; ", "\n"))
    code, out, err = run_cli("cfa", HS, "--model-file", f, "--estimator", "mlr", "--group", "school", "--json")
    assert code == 0, err
    res = json.loads(out)
    ref = dict(pd.read_csv(FIX / "cfa_hs_mlr_fit.csv").values)
    assert res["fit_robust"]["cfi_robust"] == pytest.approx(ref["cfi.robust"], abs=1e-3)
    assert list(res["invariance"]) == ["configural", "metric", "scalar"]
    assert res["invariance"]["metric"]["chisq_diff"] == pytest.approx(6.567, abs=1e-2)


def test_cfa_tables_and_instrument_comparison(run_cli):
    # listwise keeps this table test quick; the FIML default is tested in test_responses/test_consistency
    code, out, err = run_cli("cfa", YOUTH, "--instrument", "pbr-y", "--compare", "--top-mi", "3", "--missing", "listwise")
    assert code == 0, err
    for text in ("Fit (computed as lavaan)", "Standardized loadings", "Competing structures", "bifactor",
                 "one factor vs correlated factors"):
        assert text in out


@pytest.mark.parametrize("args,code,msg", [
    (("cfa", HS, "--model", "visual =~ x1 + x2 + nope"), 1, "nope"),
    (("cfa", HS, "--model", "f1 <~ x1 + x2"), 1, "not supported"),
    (("cfa", HS, "--model", HS_MODEL, "--group", "nope"), 1, "nope"),
    (("cfa", HS, "--model", HS_MODEL, "--structure", "bifactor"), 2, "--structure"),
    (("cfa", HS), 2, "--model"),
    (("cfa", HS, "--model", HS_MODEL, "--estimator", "gls"), 2, "gls"),
    (("efa", BFI, "--items", "A1,A2,A3", "--factors", "many"), 2, "--factors"),
    (("efa", BFI, "--items", "A1,A2,A3,A4", "--factors", "4"), 1, "factors need more"),
    (("efa", BFI, "--items", "A1,A2"), 1, "at least three"),
])
def test_errors(run_cli, args, code, msg):
    got, out, err = run_cli(*args)
    assert got == code
    assert msg in err
    assert "Traceback" not in err


def test_cfa_fiml_through_cli(run_cli):
    code, out, err = run_cli("cfa", FIX / "hs1939_missing.csv", "--model", HS_MODEL, "--missing", "fiml", "--json")
    assert code == 0, err
    res = json.loads(out)
    ref = dict(pd.read_csv(FIX / "cfa_hs_fiml_fit.csv").values)
    assert res["n"] == 301
    assert res["fit"]["chisq"] == pytest.approx(ref["chisq"], abs=1e-3)
    code, out, err = run_cli("cfa", FIX / "hs1939_missing.csv", "--model", HS_MODEL, "--missing", "fiml",
                             "--estimator", "mlr")
    assert code == 0, err
    assert "corrected for missing data" in out


def test_cfa_ordinal_dwls_through_cli(run_cli):
    code, out, err = run_cli("cfa", BFI, "--model", "A =~ A2 + A1 + A3 + A4 + A5; C =~ C1 + C2 + C3 + C4 + C5",
                             "--estimator", "dwls", "--json")
    assert code == 0, err
    res = json.loads(out)
    ref = dict(pd.read_csv(FIX / "cfa_bfi_wlsmv_fit.csv").values)
    assert res["fit"]["chisq"] == pytest.approx(ref["chisq"], abs=1e-3)
    assert res["fit_robust"]["cfi_scaled"] == pytest.approx(ref["cfi.scaled"], abs=1e-3)
    assert res["fit"]["aic"] is None  # no likelihood for DWLS
    code, out, err = run_cli("cfa", BFI, "--model", "A =~ A2 + A1 + A3 + A4 + A5", "--estimator", "dwls")
    assert code == 0, err
    assert "scaled (WLSMV)" in out


def test_efa_polychoric_option(run_cli):
    items = "A1,A2,A3,A4,A5,C1,C2,C3,C4,C5"
    code, out, err = run_cli("efa", BFI, "--items", items, "--factors", "2", "--polychoric", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["correlations"] == "polychoric"
    ref = pd.read_csv(FIX / "efa_poly_minres_oblimin_loadings.csv", index_col=0).to_numpy()
    ours = np.array([res["loadings"][c] for c in items.split(",")])
    assert np.abs(np.abs(ours) - np.abs(ref)).max() < 1e-2


SEM = FIXTURES / "sem"


def test_cfa_partial_invariance_search_through_cli(run_cli):
    code, out, err = run_cli("cfa", HS, "--model", HS_MODEL, "--group", "school", "--invariance", "scalar",
                             "--partial", "auto", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["partial"] == ["x3~1", "x7~1"]
    steps = res["partial_search"]
    assert [s["freed"] for s in steps if s["level"] == "scalar"] == ["", "x3~1", "x7~1"]
    assert steps[-1]["criterion_met"] is True
    assert res["invariance"]["scalar"]["chisq"] == pytest.approx(129.42248, abs=1e-4)
    code, out, err = run_cli("cfa", HS, "--model", HS_MODEL, "--group", "school", "--partial", "x3~1, x7~1")
    assert code == 0, err
    assert "left free across groups: x3~1, x7~1" in out


def test_cfa_ordinal_invariance_through_cli(run_cli):
    code, out, err = run_cli("cfa", SEM / "bfi_gender.csv", "--model", "A =~ A1 + A2 + A3 + A4 + A5",
                             "--estimator", "dwls", "--group", "gender", "--invariance", "metric", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert list(res["invariance"]) == ["configural", "thresholds", "metric"]
    assert res["invariance"]["thresholds"]["df_diff"] == 15


def test_cfa_random_starts_through_cli(run_cli):
    code, out, err = run_cli("cfa", HS, "--model", HS_MODEL, "--starts", "3", "--seed", "7", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["starts"]["tried"] == ["default", "random 1", "random 2", "random 3"]
    assert res["starts"]["reached_best"] == 4


@pytest.mark.parametrize("args,code,msg", [
    (("--invariance", "scalar"), 2, "group"),
    (("--partial", "auto"), 2, "--group"),
    (("--group", "school", "--invariance", "thresholds"), 1, "thresholds"),
])
def test_cfa_invariance_option_errors(run_cli, args, code, msg):
    got, out, err = run_cli("cfa", HS, "--model", HS_MODEL, *args)
    assert got == code and msg in err and "Traceback" not in err
