"""`peerscale irt ...`, the frozen bank (irt: block) and `peerscale score` with it."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from peerscale.errors import PeerscaleError
from peerscale.irt import fit_grm
from peerscale.spec import load_instrument

FIX = Path(__file__).parent / "fixtures" / "irt"
SCI = "sci=Comfort,Work,Future,Benefit"


@pytest.fixture(scope="module")
def bank_file(tmp_path_factory):
    from peerscale.cli import main

    d = tmp_path_factory.mktemp("bank")
    out = d / "bank.yaml"
    assert main(["irt", "calibrate", str(FIX / "Science.csv"), "--scale", SCI, "--range", "1:4", "-o", str(out),
                 "--sample", "Euro-Barometer 38.1", "-q"]) == 0
    return out


def test_calibrate_json_and_bank(run_cli, tmp_path, bank_file):
    code, out, err = run_cli("irt", "calibrate", FIX / "Science.csv", "--scale", SCI, "--json", "--no-se")
    assert code == 0, err
    res = json.loads(out)
    assert res["n"] == 392 and res["model"] == "graded"
    assert res["items"]["Future"]["slope_intercept"]["a"] == pytest.approx(2.3006, abs=1e-3)
    assert res["itemfit"][0]["item"] == "Comfort"
    doc = yaml.safe_load(bank_file.read_text())
    blk = doc["irt"]["sci"]
    assert blk["calibration"]["n"] == 392 and blk["calibration"]["sample"] == "Euro-Barometer 38.1"
    assert blk["items"][0]["codes"] == [1, 2, 3, 4]
    inst = load_instrument(bank_file)
    assert inst.irt["sci"].item_ids == ["Comfort", "Work", "Future", "Benefit"]


def test_calibrate_mirt_compatible(run_cli):
    code, out, err = run_cli("irt", "calibrate", FIX / "Science.csv", "--scale", SCI, "--json", "--no-se", "--no-fit",
                             "--mirt-compatible")
    assert code == 0, err
    res = json.loads(out)
    # mirt(Science, 1), mirt 1.43: Future a = 2.2933717 (the maximum is 2.3006)
    assert res["items"]["Future"]["slope_intercept"]["a"] == pytest.approx(2.2933717, abs=1e-6)
    assert res["mirt_compatible"] and res["iterations"] == 36
    code, _, err = run_cli("irt", "calibrate", FIX / "Science.csv", "--scale", SCI, "--mirt-compatible", "--link", "probit")
    assert code == 1 and "--mirt-compatible" in err and "--link logistic" in err and "Traceback" not in err


def test_score_adds_theta_columns(run_cli, tmp_path, bank_file):
    out = tmp_path / "s.csv"
    code, _, err = run_cli("score", FIX / "Science.csv", "-i", bank_file, "-o", out, "-q")
    assert code == 0, err
    s = pd.read_csv(out)
    assert {"sci_theta", "sci_theta_se", "sci_t"} <= set(s.columns)
    ref = fit_grm(pd.read_csv(FIX / "Science.csv"), se=False).scores()
    assert np.abs(s["sci_theta"] - ref["theta"]).max() < 1e-5  # the bank keeps 6 decimals
    assert np.allclose(s["sci_t"], 50 + 10 * s["sci_theta"])


def test_subset_scoring_and_min_answered(run_cli, tmp_path, bank_file):
    data = pd.read_csv(FIX / "Science.csv").astype(float)
    data.loc[0, ["Comfort", "Work"]] = np.nan  # 2 of 4 answered: below the 75% rule (3)
    data.loc[1, "Comfort"] = np.nan  # 3 of 4: scored from the 3 it has
    p = tmp_path / "d.csv"
    data.to_csv(p, index=False)
    out = tmp_path / "s.csv"
    assert run_cli("score", p, "-i", bank_file, "-o", out, "-q")[0] == 0
    s = pd.read_csv(out)
    assert np.isnan(s["sci_theta"].iloc[0]) and np.isfinite(s["sci_theta"].iloc[1])
    short = data.drop(columns=["Benefit"])
    p2 = tmp_path / "short.csv"
    short.to_csv(p2, index=False)
    code, _, err = run_cli("irt", "score", p2, "-i", bank_file, "-o", tmp_path / "x.csv")
    assert code == 1 and "Benefit" in err and "not columns" in err
    code, _, err = run_cli("irt", "score", p2, "-i", bank_file, "--allow-absent", "-o", tmp_path / "x.csv", "-q")
    assert code == 0, err
    x = pd.read_csv(tmp_path / "x.csv")
    assert x["sci_n"].max() == 3


def test_bank_items_absent_from_data(run_cli, tmp_path, bank_file):
    other = pd.DataFrame({"q1": [1, 2], "q2": [2, 3]})
    p = tmp_path / "other.csv"
    other.to_csv(p, index=False)
    code, out, err = run_cli("score", p, "-i", bank_file, "-o", tmp_path / "o.csv")
    assert code == 1 and "Traceback" not in err and "has its items in the data" in err


def test_info_json_and_svg(run_cli, tmp_path, bank_file):
    code, out, err = run_cli("irt", "info", "-i", bank_file, "--theta", "-3:3:1", "--svg", tmp_path / "fig", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert len(res["theta"]) == 7 and len(res["test_information"]) == 7
    assert np.allclose(np.array(res["se"]), 1 / np.sqrt(res["test_information"]))
    assert set(res["curves"]["Comfort"]) == {"1", "2", "3", "4"}
    assert res["sum_score_table"][0]["raw_sum"] == 4
    svg = (tmp_path / "fig" / "sci-information.svg").read_text()
    assert svg.startswith("<svg") and "<desc" in svg and "peaks" in svg
    assert (tmp_path / "fig" / "sci-Future-curves.svg").exists()


def _write_bank(tmp_path, bank_file, edit):
    doc = yaml.safe_load(bank_file.read_text())
    edit(doc["irt"]["sci"], doc)
    p = tmp_path / "edited.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


@pytest.mark.parametrize("edit,message", [
    (lambda b, d: b["items"][0].update(d=[1.0, 2.0, 3.0]), "decrease strictly"),
    (lambda b, d: b["items"][0].update(a=-1.0), "slope must be positive"),
    (lambda b, d: b["items"][0].update(id="Nope"), "not in the item bank"),
    (lambda b, d: b["items"][0].update(codes=[1, 2, 3]), "intercepts"),
    (lambda b, d: b["items"][0].update(codes=[1, 2, 3, 7]), "outside the range"),
    (lambda b, d: b.update(model="3pl"), "model must be"),
    (lambda b, d: b.update(link="cloglog"), "link must be"),
    (lambda b, d: b["latent"].update(sd=0), "latent SD"),
    (lambda b, d: b.update(parameterization="irt"), "slope-intercept"),
    (lambda b, d: b["items"].append(dict(b["items"][0])), "listed twice"),
    (lambda b, d: d["irt"].update(other=b), "unknown key"),
])
def test_bank_validated_on_load(tmp_path, bank_file, edit, message):
    p = _write_bank(tmp_path, bank_file, edit)
    with pytest.raises(PeerscaleError, match=message):
        load_instrument(p)


def test_reverse_keyed_item_bank(run_cli, tmp_path):
    data = pd.read_csv(FIX / "Science.csv")
    rev = data.copy()
    rev["Work"] = 5 - rev["Work"]  # stored reversed, scored with a '-' key
    p = tmp_path / "rev.csv"
    rev.to_csv(p, index=False)
    out = tmp_path / "bank.yaml"
    code, _, err = run_cli("irt", "calibrate", p, "--scale", "sci=Comfort,-Work,Future,Benefit", "--range", "1:4",
                           "-o", out, "-q", "--no-fit")
    assert code == 0, err
    inst = load_instrument(out)
    work = inst.irt["sci"].items[1]
    assert work.categories == ((4.0,), (3.0,), (2.0,), (1.0,))
    ref = fit_grm(data, se=False)
    assert work.a == pytest.approx(ref.a[1], abs=1e-4)
    s = tmp_path / "s.csv"
    assert run_cli("score", p, "-i", out, "-o", s, "-q")[0] == 0
    assert np.abs(pd.read_csv(s)["sci_theta"] - ref.scores()["theta"]).max() < 1e-5


def test_calibrate_bad_input_messages(run_cli, tmp_path):
    d = pd.DataFrame({"a": [1, 2, 2.5, 1, 2], "b": [1, 2, 1, 2, 1], "c": [2, 1, 1, 2, 2]})
    p = tmp_path / "frac.csv"
    d.to_csv(p, index=False)
    code, _, err = run_cli("irt", "calibrate", p, "--scale", "s=a,b,c")
    assert code == 1 and "whole-number" in err and "Traceback" not in err
    d = pd.DataFrame({"a": [1, 1, 1, 1], "b": [1, 2, 1, 2], "c": [2, 1, 1, 2]})
    d.to_csv(p, index=False)
    code, _, err = run_cli("irt", "calibrate", p, "--scale", "s=a,b,c")
    assert code == 1 and "single category" in err
    code, _, err = run_cli("irt", "calibrate", FIX / "Science.csv", "--scale", SCI, "--range", "1:5")
    assert code == 1 and "chosen by nobody" in err and "--collapse" in err
    code, out, err = run_cli("irt", "calibrate", FIX / "Science.csv", "--scale", SCI, "--range", "1:5", "--collapse",
                             "--json", "--no-se", "--no-fit")
    assert code == 0 and any("merged" in n for n in json.loads(out)["notes"])
    code, _, err = run_cli("irt", "calibrate", FIX / "Science.csv", "--scale", "share")
    assert code == 2 and "--instrument" in err


def _dif_data(seed=5, n=1200, J=8, G=3):
    rng = np.random.default_rng(seed)
    a = rng.uniform(1, 2, J)
    d = -a[:, None] * np.sort(rng.normal(0, 1, (J, 3)), axis=1)
    g = rng.integers(0, G, n)
    th = rng.normal(size=n) + 0.3 * (g == 1)
    dd = np.repeat(d[None], n, axis=0)
    dd[g == 2, 2] += 1.2  # uniform DIF on item I2 for group C
    z = a[None, :, None] * th[:, None, None] + dd
    x = (rng.uniform(size=(n, J, 1)) < 1 / (1 + np.exp(-z))).sum(axis=2) + 1
    df = pd.DataFrame(x, columns=[f"I{j}" for j in range(J)])
    df["site"] = np.array(["A", "B", "C"])[g]
    return df


def test_dif_cli_three_groups(run_cli, tmp_path):
    df = _dif_data()
    p = tmp_path / "dif.csv"
    df.to_csv(p, index=False)
    items = ",".join(f"I{j}" for j in range(8))
    code, out, err = run_cli("irt", "dif", p, "--scale", f"s={items}", "--group", "site", "--json")
    assert code == 0, err
    res = json.loads(out)
    lordif, lrt = res["results"]
    assert lordif["flagged"] == ["I2"] and lrt["flagged"] == ["I2"]
    assert lordif["groups"] == ["A", "B", "C"]
    row = next(r for r in lordif["items"] if r["item"] == "I2")
    assert row["df12"] == 2 and row["df13"] == 4 and "chisqr" in row["meets"]
    code, out, err = run_cli("irt", "dif", p, "--scale", f"s={items}", "--group", "site", "--method", "lrt",
                             "--anchor", "I0", "--anchor", "I1", "--json")
    assert code == 0, err
    r = json.loads(out)["results"][0]
    assert r["flagged"] == ["I2"] and {x["item"] for x in r["items"]} == {f"I{j}" for j in range(2, 8)}
    code, _, err = run_cli("irt", "dif", p, "--scale", f"s={items}", "--group", "nope")
    assert code == 1 and "not in the data" in err


def test_dif_needs_two_groups():
    from peerscale.irt import dif_lordif

    df = _dif_data(n=200)
    with pytest.raises(PeerscaleError, match="at least two groups"):
        dif_lordif(df[[f"I{j}" for j in range(8)]], ["A"] * len(df))


def test_dif_group_with_one_or_unused_categories():
    # a group that answered an item with one category: the item cannot be freed across groups, so
    # the LR test does not test it (and keeps it free in every fit, so it biases nothing); a group
    # that left a category unused: the free model has no threshold for it, df one less
    from peerscale.irt import dif_lordif, dif_lrt

    df = _dif_data(seed=8, n=900, J=6)
    items = [f"I{j}" for j in range(6)]
    df.loc[df["site"] == "C", "I0"] = 3
    df.loc[(df["site"] == "B") & (df["I1"] == 4), "I1"] = 3
    r = dif_lrt(df[items], df["site"])
    t = r.table
    assert np.isnan(t.loc["I0", "X2"]) and not t.loc["I0", "flag"]
    assert any(n.startswith("I0 not tested: group C used only 3 (1 of 4 categories)") for n in r.notes)
    assert t.loc["I1", "df"] == 8 - 1 and t.loc["I1", "flag"]  # B never used 4: real DIF, 7 df
    assert t.loc["I2", "flag"]  # the simulated DIF is still found
    assert not t.loc[["I3", "I4", "I5"], "flag"].any()
    ra = dif_lrt(df[items], df["site"], anchors=["I4", "I5"])
    assert np.isnan(ra.table.loc["I0", "X2"]) and ra.table.loc["I2", "flag"]
    assert "I0" in dif_lordif(df[items], df["site"]).flagged  # lordif's regression still tests it
    df.loc[df["site"] == "B", items] = 2
    with pytest.raises(PeerscaleError, match="no item can be tested"):
        dif_lrt(df[items], df["site"])


def test_dif_many_small_groups_message(run_cli, tmp_path):
    df = _dif_data(n=300)
    df["person"] = [f"P{i}" for i in range(len(df))]
    p = tmp_path / "d.csv"
    df.to_csv(p, index=False)
    code, _, err = run_cli("irt", "dif", p, "--scale", "s=I0,I1,I2,I3", "--group", "person", "--method", "lrt")
    assert code == 1 and "300 of the 300 groups have fewer than 10" in err and "and 292 more" in err


def test_calibrate_new_user_files(run_cli, tmp_path):
    rng = np.random.default_rng(4)
    th = rng.normal(size=300)
    x = np.column_stack([np.clip(np.round(2.5 + 1.2 * th + rng.normal(size=300)), 1, 5) for _ in range(5)])
    df = pd.DataFrame(x.astype(int), columns=[f"Q{j}" for j in range(1, 6)])
    df.loc[3, "Q2"] = 9  # a "don't know" code nobody declared
    p = tmp_path / "u.csv"
    df.to_csv(p, index=False)
    scale = "s=Q1,Q2,Q3,Q4,Q5"
    code, out, err = run_cli("irt", "calibrate", p, "--scale", scale, "--json", "--no-se", "--no-fit")
    assert code == 0, err
    notes = json.loads(out)["notes"]
    assert any("Q2: the codes 1, 2, 3, 4, 5, 9 are taken as 6 ordered categories; 6, 7, 8 never occur" in n
               for n in notes)
    code, _, err = run_cli("irt", "calibrate", p, "--scale", scale, "--range", "1:5")
    assert code == 1 and "row 4, column 'Q2': 9" in err  # the value as written, not np.float64(9.0)
    code, out, err = run_cli("irt", "calibrate", p, "--scale", scale, "--missing-code", "9=Don't know", "--no-fit",
                             "--no-se", "--json")
    assert code == 0 and json.loads(out)["items"]["Q2"]["categories"] == [[1], [2], [3], [4], [5]]
    pd.DataFrame({f"Q{j}": [1, 2, 1, 2] for j in range(1, 6)}).to_csv(p, index=False)
    code, _, err = run_cli("irt", "calibrate", p, "--scale", scale)
    assert code == 1 and "4 respondents with answers for 10 item parameters: too few to calibrate" in err
    df.iloc[:40].to_csv(p, index=False)
    code, out, err = run_cli("irt", "calibrate", p, "--scale", scale, "--no-se")
    assert code == 0 and "fewer than 5 per parameter" in out and "RuntimeWarning" not in err
    assert "…" not in out  # tables written to a file are not cut to 80 columns


def test_help_lists_irt(run_cli):
    code, out, _ = run_cli("--help")
    assert code == 0 and "irt" in out
    code, out, _ = run_cli("irt", "--help")
    assert code == 0 and "calibrate" in out and "dif" in out


def test_report_has_irt_section(run_cli, tmp_path, bank_file):
    out = tmp_path / "r.html"
    code, _, err = run_cli("report", FIX / "Science.csv", "-i", bank_file, "-o", out)
    assert code == 0, err
    html = out.read_text()
    i = html.index('id="irt"')
    assert "sci: test information and SE" in html[i:] and "<svg" in html[i:]
    assert "EAP theta and T for each summed score" in html[i:]
