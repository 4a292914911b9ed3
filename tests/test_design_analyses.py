"""Issue 9, parts 1-3: dyads (young person vs worker), nesting in workers, change between waves.

Parity: tests/r/design.R writes tests/fixtures/design/ with psych::ICC (psych 2.2.9) and
lme4::lmer (REML) on data it generates; R is not needed to run these tests.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from conftest import FIXTURES, ROOT

import peerscale
from peerscale.errors import PeerscaleError
from peerscale.psychometrics.agreement import agreement
from peerscale.psychometrics.change import reliable_change, se_difference
from peerscale.psychometrics.nesting import nesting_icc, reml_criterion

DESIGN = FIXTURES / "design"
EXAMPLES = ROOT / "examples"
YOUTH, WORKER = EXAMPLES / "youth_export.csv", EXAMPLES / "worker_export.csv"
NEST = json.loads((DESIGN / "lme4_nesting.json").read_text())
DYADS = json.loads((DESIGN / "psych_icc_dyads.json").read_text())


# --------------------------------------------------------------------------- parity with R

@pytest.mark.parametrize("name", sorted(NEST))
def test_nesting_matches_lme4_reml(name):
    """ICC(1) = tau^2 / (tau^2 + sigma^2) of lmer(score ~ 1 + (1 | worker), REML = TRUE) to 1e-4
    (measured: 1.6e-8), unbalanced clusters with singletons, and a singular fit (tau^2 = 0)."""
    r = NEST[name]
    d = pd.read_csv(DESIGN / f"nest_{name}.csv")
    res = nesting_icc(d["score"], d["worker"])
    assert abs(res.icc1 - r["icc1"]) < 1e-4
    assert abs(res.tau2 - r["tau2"]) < 1e-4 and abs(res.sigma2 - r["sigma2"]) < 1e-4
    assert abs(res.intercept - r["intercept"]) < 1e-4
    assert abs(res.reml_criterion - r["reml_criterion"]) < 1e-6  # the same criterion lme4 minimises
    assert abs(res.icc1_anova - r["icc1_anova"]) < 1e-10
    assert abs(res.design_effect - r["design_effect"]) < 1e-4
    assert res.n == r["n"] and res.n_clusters == r["n_clusters"]
    assert abs(res.mean_cluster_size - r["mean_cluster_size"]) < 1e-12
    assert res.singular == r["singular"]
    assert abs(res.effective_n - r["n"] / r["design_effect"]) < 1e-2


def test_reml_fit_is_the_minimum():
    """The fitted ratio minimises the REML criterion (neighbours are not lower)."""
    d = pd.read_csv(DESIGN / "nest_moderate.csv")
    res = nesting_icc(d["score"], d["worker"])
    codes, _ = pd.factorize(d["worker"])
    n_j = np.bincount(codes).astype(float)
    ybar = np.bincount(codes, weights=d["score"]) / n_j
    ssw = float(((d["score"] - ybar[codes]) ** 2).sum())
    lam = res.tau2 / res.sigma2
    best = reml_criterion(lam, n_j, ybar, ssw)[0]
    assert best <= reml_criterion(lam * 1.01, n_j, ybar, ssw)[0]
    assert best <= reml_criterion(lam * 0.99, n_j, ybar, ssw)[0]


@pytest.mark.parametrize("name", sorted(DYADS))
def test_dyad_agreement_matches_psych_icc(name):
    """ICC(A,1) (psych's ICC2) and ICC(C,1) (ICC3) with their limits as psych::ICC(x, lmer = FALSE)
    (to 1e-10), psych's default lmer = TRUE (to 1e-4: lme4's tolerance), r, t.test's paired
    interval and Bland-Altman limits."""
    r = DYADS[name]
    d = pd.read_csv(DESIGN / f"dyad_{name}.csv")
    res = agreement(d["y"], d["p"])
    assert res.n_pairs == r["n_pairs"]
    assert abs(res.icc_a1 - r["icc_a1"]) < 1e-10 and abs(res.icc_c1 - r["icc_c1"]) < 1e-10
    assert np.allclose(res.icc_a1_ci, r["icc_a1_ci"], atol=1e-10)
    assert np.allclose(res.icc_c1_ci, r["icc_c1_ci"], atol=1e-10)
    assert abs(res.icc_a1_reml - r["icc_a1_lmer"]) < 1e-4 and abs(res.icc_c1_reml - r["icc_c1_lmer"]) < 1e-4
    assert abs(res.r - r["r"]) < 1e-12
    assert abs(res.mean_diff - r["mean_diff"]) < 1e-12
    assert np.allclose(res.mean_diff_ci, r["mean_diff_ci"], atol=1e-12)
    assert np.allclose(res.loa, r["loa"], atol=1e-12)


def test_dyad_agreement_equals_the_icc_module():
    """The two-rater ICCs equal peerscale.psychometrics.icc (pingouin) on the same pairs."""
    from peerscale.psychometrics import icc_wide

    d = pd.read_csv(DESIGN / "dyad_shifted.csv")
    full = icc_wide(d).table
    res = agreement(d["y"], d["p"])
    assert abs(full.loc["ICC(2,1)", "icc"] - res.icc_a1) < 1e-10
    assert abs(full.loc["ICC(3,1)", "icc"] - res.icc_c1) < 1e-10


# --------------------------------------------------------------------------- reliable change

def test_jacobson_truax_standard_error_of_difference():
    """S_diff = SD1 * sqrt(2) * sqrt(1 - r_xx): SD 7.5 and r_xx .88 give 3.67 (the numbers of the
    issue's worked example after Jacobson & Truax 1991); 1.96 * S_diff = 7.20 points is reliable."""
    s = se_difference(7.5, 0.88)
    assert round(s, 2) == 3.67
    assert abs(s - 7.5 * math.sqrt(2 * (1 - 0.88))) < 1e-12
    assert round(1.96 * s, 2) == 7.20
    res = reliable_change([30, 40, 50, 20], [40, 47, 40, 20], rxx=0.88, sd1=7.5)
    assert np.allclose(res.rci, np.array([10, 7, -10, 0]) / s)
    assert (res.rci_improved, res.rci_unchanged, res.rci_deteriorated) == (1, 2, 1)
    flipped = reliable_change([30, 40, 50, 20], [40, 47, 40, 20], rxx=0.88, sd1=7.5, higher_is_better=False)
    assert (flipped.rci_improved, flipped.rci_deteriorated) == (1, 1)
    assert flipped.rci_improved == res.rci_deteriorated


def test_change_statistics_by_hand():
    rng = np.random.default_rng(3)
    a = rng.normal(3, 0.6, 80)
    b = a + rng.normal(0.3, 0.4, 80)
    res = reliable_change(a, b, rxx=0.8)
    d = b - a
    from scipy import stats

    assert abs(res.mean_change - d.mean()) < 1e-12
    assert abs(res.dz - d.mean() / d.std(ddof=1)) < 1e-12
    lo, hi = stats.t.interval(0.95, 79, loc=d.mean(), scale=d.std(ddof=1) / math.sqrt(80))
    assert np.allclose(res.ci, (lo, hi), atol=1e-12)
    assert abs(res.se_diff - a.std(ddof=1) * math.sqrt(2) * math.sqrt(0.2)) < 1e-12
    assert res.rci_improved + res.rci_unchanged + res.rci_deteriorated == 80


def test_reliability_must_be_below_one():
    with pytest.raises(PeerscaleError, match="reliability"):
        se_difference(7.5, 1.0)


# --------------------------------------------------------------------------- the bundled example

@pytest.fixture(scope="module")
def youth():
    return peerscale.read(YOUTH, "pbr-y")


@pytest.fixture(scope="module")
def worker():
    return peerscale.read(WORKER, "pbr-p")


def test_dyads_on_the_example(youth, worker):
    res = youth.dyads(worker)
    out = res.to_dict()
    assert out["link"]["columns"] == ["dyad_id"] and out["link"]["wave_y"] == "baseline_arm_1"
    # 300 young people at baseline, 291 worker ratings: 9 young people without a partner, listed
    assert out["link"]["n_linked"] == 291 and len(out["unmatched"]["y"]) == 9 and out["unmatched"]["p"] == []
    e = out["scales"]["share"]
    assert e["basis"] == "paired items" and len(e["pairs"]) == 6
    assert set(e) >= {"n_pairs", "icc_a1", "icc_c1", "r", "mean_diff", "mean_diff_ci", "loa"}
    assert e["mean_diff"] > 0  # the generator's workers rate the relationship higher
    assert "pbr_all" not in out["scales"]  # same paired items as pbr_core: said once in the notes
    assert any("pbr_all" in n for n in out["notes"])
    # recomputed by hand from the scores of the linked pairs
    ys = youth.wave("first").score().scores.set_index("dyad_id")["share"]
    ps = worker.wave("first").score().scores.set_index("dyad_id")["share"]
    both = pd.concat([ys, ps], axis=1, join="inner").dropna()
    ref = agreement(both.iloc[:, 0], both.iloc[:, 1])
    assert e["n_pairs"] == ref.n_pairs and abs(e["icc_a1"] - ref.icc_a1) < 1e-12


def test_nesting_on_the_example(youth):
    res = youth.nesting()
    e = res.to_dict()["scales"]["pbr_core"]
    assert {"icc1", "icc1_anova", "design_effect", "n_clusters", "mean_cluster_size"} <= set(e)
    assert e["n_clusters"] == 40 and 0 < e["icc1"] < 0.5
    assert abs(e["design_effect"] - (1 + (e["mean_cluster_size"] - 1) * e["icc1"])) < 1e-12
    assert res.sample["waves"] == ["baseline_arm_1"]


def test_change_on_the_example(youth, tmp_path):
    res = youth.change("baseline_arm_1", "followup_arm_1")
    out = res.to_dict()
    assert out["people"]["both"] == 262 and out["people"]["from_only"] == 38 and out["people"]["to_only"] == 0
    e = out["scales"]["pbr_core"]
    assert {"n", "mean_change", "ci", "dz", "se_diff", "rci_improved", "rci_unchanged", "rci_deteriorated"} <= set(e)
    assert e["rci_improved"] + e["rci_unchanged"] + e["rci_deteriorated"] == e["n"]
    alpha = peerscale.read(YOUTH, "pbr-y").wave("baseline_arm_1").reliability(scales=["pbr_core"])
    assert abs(e["rxx"] - alpha.scales["pbr_core"]["alpha"]) < 1e-12 and "alpha" in e["rxx_source"]
    frame = res.per_respondent()
    assert len(frame) == 300 and (frame["present"] == "both").sum() == 262  # one-wave people kept, marked
    given = youth.change("baseline_arm_1", "followup_arm_1", reliability=0.9, scales=["share"]).to_dict()
    assert given["scales"]["share"]["rxx"] == 0.9 and "given" in given["scales"]["share"]["rxx_source"]


# --------------------------------------------------------------------------- bad input

def _frame(n_workers=6, per=5, seed=1):
    rng = np.random.default_rng(seed)
    rows = []
    for w in range(n_workers):
        u = rng.normal(0, 0.5)
        for j in range(per):
            t = rng.normal(u, 1)
            rows.append({"id": f"Y{w}{j}", "worker": f"W{w}", **{f"q{i}": int(np.clip(round(3 + t + rng.normal(0, .7)), 1, 5))
                                                                 for i in range(1, 4)}})
    return pd.DataFrame(rows)


ADHOC = peerscale.adhoc_instrument(["S=q1,q2,q3"], value_range=(1, 5))


def test_nesting_worker_with_one_young_person_is_named_and_kept():
    df = pd.concat([_frame(), pd.DataFrame([{"id": "Z1", "worker": "W99", "q1": 2, "q2": 3, "q3": 2}])])
    res = peerscale.read(df, ADHOC, design={"respondent": "id", "worker": "worker"}).nesting()
    out = res.to_dict()
    assert out["clusters"]["singletons"] == ["W99"]
    assert any("W99" in n and "one young person" in n for n in out["notes"])
    assert out["scales"]["S"]["n"] == 31 and out["scales"]["S"]["n_clusters"] == 7  # kept, not dropped


def test_nesting_all_singletons_and_constant_scale_give_reasons():
    df = _frame(n_workers=8, per=1)
    res = peerscale.read(df, ADHOC, design={"respondent": "id", "worker": "worker"}).nesting().to_dict()
    e = res["scales"]["S"]
    assert e["icc1"] is None and "one person" in e["reason"]
    df = _frame()
    df[["q1", "q2", "q3"]] = 3
    e = peerscale.read(df, ADHOC, design={"respondent": "id", "worker": "worker"}).nesting().to_dict()["scales"]["S"]
    assert e["icc1"] is None and "same" in e["reason"]


def test_nesting_without_worker_column_is_a_clear_error(run_cli):
    df = _frame()
    with pytest.raises(PeerscaleError, match="worker"):
        peerscale.read(df, ADHOC, design={"respondent": "id"}).nesting()
    code, out, err = run_cli("nesting", YOUTH, "-i", "pbr-y", "--worker-column", "no_such_column")
    assert code == 1 and "no_such_column" in err and "Traceback" not in err


def test_nesting_rows_without_worker_are_counted():
    df = _frame()
    df.loc[0, "worker"] = ""
    res = peerscale.read(df, ADHOC, design={"respondent": "id", "worker": "worker"}).nesting().to_dict()
    assert res["clusters"]["rows_without_worker"] == 1
    assert any("without a worker" in n for n in res["notes"]) and res["scales"]["S"]["n"] == 29


def test_dyads_mismatched_ids_are_listed(tmp_path, run_cli):
    w = pd.read_csv(WORKER)
    w.loc[0, "dyad_id"] = "D999"          # a worker record whose young person is not in the youth file
    w.loc[1, "dyad_id"] = ""              # a worker record without a dyad id
    path = tmp_path / "worker.csv"
    w.to_csv(path, index=False)
    code, out, err = run_cli("dyads", YOUTH, path, "-y", "pbr-y", "-p", "pbr-p", "--dyad-column", "dyad_id",
                             "--wave-column", "redcap_event_name", "--respondent-column", "record_id", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert "D999" in res["unmatched"]["p"] and "(row 2: no dyad_id)" in res["unmatched"]["p"]  # data rows from 1
    assert "D001" in res["unmatched"]["y"] and "D002" in res["unmatched"]["y"]
    assert res["link"]["n_linked"] == 289
    code, out, err = run_cli("dyads", YOUTH, path, "-y", "pbr-y", "-p", "pbr-p", "--dyad-column", "dyad_id",
                             "--wave-column", "redcap_event_name", "--respondent-column", "record_id")
    assert code == 0 and "D999" in out and "Unmatched pbr-p records (2)" in out


def test_dyads_duplicate_or_no_link_is_an_error(tmp_path, run_cli):
    w = pd.read_csv(WORKER)
    w.loc[1, "dyad_id"] = w.loc[0, "dyad_id"]
    path = tmp_path / "worker.csv"
    w.to_csv(path, index=False)
    code, out, err = run_cli("dyads", YOUTH, path, "-y", "pbr-y", "-p", "pbr-p", "--dyad-column", "dyad_id",
                             "--wave-column", "redcap_event_name", "--respondent-column", "record_id")
    assert code == 1 and "more than once" in err and "D001" in err
    w = pd.read_csv(WORKER)
    w["dyad_id"] = "X" + w["dyad_id"]
    w.to_csv(path, index=False)
    code, out, err = run_cli("dyads", YOUTH, path, "-y", "pbr-y", "-p", "pbr-p", "--dyad-column", "dyad_id",
                             "--wave-column", "redcap_event_name", "--respondent-column", "record_id")
    assert code == 1 and "no record links" in err


def test_dyads_link_by_respondent_and_worker(youth, worker):
    res = youth.dyads(worker, link=["record_id", "worker_id"]).to_dict()
    assert res["link"]["columns"] == ["record_id", "worker_id"] and res["link"]["n_linked"] == 291


def test_change_bad_waves(youth, tmp_path, run_cli):
    with pytest.raises(PeerscaleError, match="not a wave"):
        youth.change("baseline_arm_1", "week_52")
    with pytest.raises(PeerscaleError, match="same wave"):
        youth.change("baseline_arm_1", "baseline_arm_1")
    # a wave the design lists but no row has: no second measurement
    y = pd.read_csv(YOUTH)
    y = y[y["redcap_event_name"] == "baseline_arm_1"]
    (tmp_path / "study.yaml").write_text("respondent: record_id\nwave: redcap_event_name\n"
                                         "waves: [baseline_arm_1, followup_arm_1]\n")
    y.to_csv(tmp_path / "y.csv", index=False)
    code, out, err = run_cli("change", tmp_path / "y.csv", "-i", "pbr-y", "--from", "baseline_arm_1",
                             "--to", "followup_arm_1")
    assert code == 1 and "no rows" in err and "Traceback" not in err
    # two waves, nobody at both
    y2 = y.copy()
    y2["redcap_event_name"] = "followup_arm_1"
    y2["record_id"] = "Z" + y2["record_id"]
    pd.concat([y, y2]).to_csv(tmp_path / "y.csv", index=False)
    code, out, err = run_cli("change", tmp_path / "y.csv", "-i", "pbr-y", "--from", "baseline_arm_1",
                             "--to", "followup_arm_1")
    assert code == 1 and "no respondent has rows at both" in err


def test_change_cli_json_and_output(tmp_path, run_cli):
    out_path = tmp_path / "change.csv"
    code, out, err = run_cli("change", YOUTH, "-i", "out-y", "--from", "baseline_arm_1", "--to", "followup_arm_1",
                             "-o", out_path, "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["people"]["from_only"] == 38 and len(res["people"]["from_only_ids"]) == 38
    frame = pd.read_csv(out_path)
    assert len(frame) == 300 and {"out_total_change", "out_total_rci", "out_total_reliable_change"} <= set(frame)
    assert set(frame["out_total_reliable_change"].dropna()) <= {"improved", "unchanged", "deteriorated"}
    code, out, err = run_cli("change", YOUTH, "-i", "out-y", "--from", "baseline_arm_1", "--to", "followup_arm_1",
                             "-o", out_path)
    assert code == 1 and "--force" in err  # never overwritten silently
    sav = tmp_path / "change.sav"
    code, out, err = run_cli("change", YOUTH, "-i", "out-y", "--from", "baseline_arm_1", "--to", "followup_arm_1",
                             "-o", sav, "-q")
    assert code == 0, err
    import pyreadstat

    df, meta = pyreadstat.read_sav(str(sav))
    assert meta.variable_value_labels["out_total_reliable_change"] == {1.0: "deteriorated", 2.0: "unchanged",
                                                                       3.0: "improved"}
    assert "Jacobson-Truax" in meta.column_names_to_labels["out_total_rci"]
    assert (df["out_total_reliable_change"] == 3).sum() == (frame["out_total_reliable_change"] == "improved").sum()
    code, out, err = run_cli("change", YOUTH, "-i", "out-y", "--from", "baseline_arm_1", "--to", "followup_arm_1",
                             "--reliability", "0.8")
    assert code == 0 and "given (--reliability)" in out


def test_higher_is_better_in_the_scoring_file(tmp_path):
    spec = (ROOT / "scoring" / "out-y.yaml").read_text()
    items = str(ROOT / "items" / "out-y.yaml")
    text = spec.replace("items: ../items/out-y.yaml", f"items: {items}")
    first = text.index("  - name: ")
    bad = text[:first] + text[first:].replace("    method:", "    higher_is_better: yes\n    method:", 1)
    (tmp_path / "bad.yaml").write_text(bad)
    with pytest.raises(PeerscaleError, match="higher_is_better"):
        peerscale.load_instrument(tmp_path / "bad.yaml")
    good = text[:first] + text[first:].replace("    method:", "    higher_is_better: false\n    method:", 1)
    (tmp_path / "good.yaml").write_text(good)
    inst = peerscale.load_instrument(tmp_path / "good.yaml")
    assert inst.scales[0].higher_is_better is False and inst.scales[1].higher_is_better is True
    r = peerscale.read(YOUTH, inst)
    name = inst.scales[0].name
    flipped = r.change("baseline_arm_1", "followup_arm_1", scales=[name]).to_dict()["scales"][name]
    plain = peerscale.read(YOUTH, "out-y").change("baseline_arm_1", "followup_arm_1",
                                                  scales=[name]).to_dict()["scales"][name]
    assert flipped["rci_improved"] == plain["rci_deteriorated"]
    assert flipped["rci_deteriorated"] == plain["rci_improved"]


def test_cli_json_keys(run_cli):
    code, out, err = run_cli("dyads", YOUTH, WORKER, "-y", "pbr-y", "-p", "pbr-p", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert set(res["unmatched"]) == {"y", "p"}
    assert {"n_pairs", "icc_a1", "icc_c1", "r", "mean_diff", "mean_diff_ci", "loa"} <= set(res["scales"]["trust"])
    code, out, err = run_cli("nesting", YOUTH, "-i", "out-y", "--json")
    assert code == 0, err
    e = json.loads(out)["scales"]["out_total"]
    assert {"icc1", "icc1_anova", "design_effect", "n_clusters", "mean_cluster_size"} <= set(e)


def test_dyads_item_pairs(youth, worker):
    """Every pair of twin items, with what agreement means (kind) and the keyed answers' agreement."""
    pairs = youth.dyads(worker).item_pairs
    assert len(pairs) == 36 and pairs["pbr_y_share_03"]["worker_item"] == "pbr_p_share_06"
    assert {e["kind"] for e in pairs.values()} <= {"shared", "self-other", "same-view", "unspecified"}
    ya = youth.wave("first").items(keyed=True).set_index(youth.wave("first").column("dyad_id"))
    pa = worker.wave("first").items(keyed=True).set_index(worker.wave("first").column("dyad_id"))
    both = pd.concat([ya["pbr_y_share_03"], pa["pbr_p_share_06"]], axis=1, join="inner").dropna()
    ref = agreement(both.iloc[:, 0], both.iloc[:, 1])
    assert pairs["pbr_y_share_03"]["n_pairs"] == ref.n_pairs and abs(pairs["pbr_y_share_03"]["r"] - ref.r) < 1e-12


@pytest.mark.slow
def test_report_and_reliability_carry_the_design(youth, worker, run_cli):
    full = youth.report(partner=worker)
    rep = full.to_dict()["design"]
    assert rep["dyads"]["link"]["n_linked"] == 291 and rep["nesting"]["worker_column"] == "worker_id"
    assert [(c["waves"]["from"], c["waves"]["to"]) for c in rep["change"]] == [("baseline_arm_1", "followup_arm_1")]
    hint = youth.report().to_dict()["design"]
    assert "dyads" not in hint and hint["dyad_hint"] == "dyad_id"  # the section asks for --partner
    from peerscale.report.document import document

    _, _, sections = document(full)
    design = next(s for s in sections if s.id == "design")
    titles = [b.text for b in design.blocks if type(b).__name__ == "Heading"]
    assert titles[0].startswith("Young person and worker") and "Young people within workers" in titles
    code, out, err = run_cli("reliability", YOUTH, "-i", "out-y", "--json")
    assert code == 0 and json.loads(out)["nesting"]["scales"]["out_total"]["n_clusters"] == 40
    assert json.loads(out)["nesting"] == _jsonable(peerscale.read(YOUTH, "out-y").reliability().nesting.to_dict())


def _jsonable(obj):
    from peerscale.cli_common import _jsonable as j

    return j(obj)


def test_change_constant_scale_and_bad_alpha_give_reasons_not_a_crash(run_cli, tmp_path):
    rng = np.random.default_rng(1)
    rows = [{"id": f"P{i}", "wave": w, "q1": 3, "q2": 3, "q3": 3,
             **{f"r{k}": int(rng.integers(1, 6)) for k in (1, 2, 3)}} for i in range(30) for w in ("t1", "t2")]
    df = pd.DataFrame(rows)
    inst = peerscale.adhoc_instrument(["S=q1,q2,q3", "R=r1,r2,r3"], value_range=(1, 5))
    out = peerscale.read(df, inst, design={"respondent": "id", "wave": "wave"}).change("t1", "t2").to_dict()
    s = out["scales"]["S"]
    assert s["n"] == 30 and s["se_diff"] is None and "no variance" in s["reason"]
    assert s["rci_improved"] is s["rci_unchanged"] is s["rci_deteriorated"] is None  # not 0: nobody classified
    assert out["scales"]["R"]["se_diff"] is not None  # the other scale is still analysed
    path = tmp_path / "c.csv"
    df.to_csv(path, index=False)
    code, stdout, err = run_cli("change", path, "--scale", "S=q1,q2,q3", "--scale", "R=r1,r2,r3", "--range", "1:5",
                                "--respondent-column", "id", "--wave-column", "wave", "--from", "t1", "--to", "t2")
    assert code == 0 and "no variance" in stdout


def test_dyads_constant_rater_gives_a_reason():
    res = agreement([3, 3, 3, 3], [2, 4, 3, 5])
    assert math.isnan(res.icc_a1) and "same" in res.reason and res.n_pairs == 4
    assert "at least 3" in agreement([1, 2], [2, 3]).reason


def test_dyads_without_item_pairs_compare_whole_scales():
    """Banks that record no pairs: scales of the same name are compared whole, and said so."""
    rng = np.random.default_rng(5)
    t = rng.normal(3, 0.7, 40)

    def form(prefix, shift):
        return pd.DataFrame({"dyad": [f"D{i}" for i in range(40)],
                             **{f"{prefix}{k}": np.clip(np.round(t + shift + rng.normal(0, .6, 40)), 1, 5)
                                for k in (1, 2, 3)}})

    a = peerscale.read(form("a", 0), peerscale.adhoc_instrument(["S=a1,a2,a3"], value_range=(1, 5)),
                       design={"dyad": "dyad", "respondent": "dyad"})
    b = peerscale.read(form("b", .3).iloc[5:], peerscale.adhoc_instrument(["S=b1,b2,b3"], value_range=(1, 5)),
                       design={"dyad": "dyad", "respondent": "dyad"})
    res = a.dyads(b).to_dict()
    assert res["scales"]["S"]["basis"] == "whole scales" and res["scales"]["S"]["n_pairs"] == 35
    assert res["unmatched"]["y"] == ["D0", "D1", "D2", "D3", "D4"] and res["item_pairs"] == {}
    assert res["link"]["how_y"].startswith("no wave column")


def test_nesting_from_cluster_stats_equals_the_rows():
    """The summaries a chunked reader can merge (n, mean, within SS per cluster) give the same fit."""
    from peerscale.psychometrics.nesting import nesting_from_cluster_stats

    d = pd.read_csv(DESIGN / "nest_moderate.csv")
    g = d.groupby("worker")["score"]
    ss = g.apply(lambda x: float(((x - x.mean()) ** 2).sum()))
    a = nesting_icc(d["score"], d["worker"])
    b = nesting_from_cluster_stats(g.size(), g.mean(), ss)
    for key in ("icc1", "icc1_anova", "tau2", "sigma2", "intercept", "design_effect"):
        assert abs(getattr(a, key) - getattr(b, key)) < 1e-12, key
    assert (a.n, a.n_clusters, a.n_singletons) == (b.n, b.n_clusters, b.n_singletons)
    assert "same" in nesting_from_cluster_stats([2, 3], [3.0, 3.0], [0.0, 0.0]).reason
