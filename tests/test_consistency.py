"""Same options, same numbers: reliability, items, efa, cfa and the report, run on the bundled
youth export with their defaults, count the same people and give the same alphas, flags,
factor counts and CFA. (Before, `reliability` pooled both waves, the report used the first,
`items`/`efa`/`cfa` pooled silently and `cfa` dropped 40% of respondents listwise.)"""

from __future__ import annotations

import json

import pytest

import peerscale
from conftest import ROOT

YOUTH = ROOT / "examples" / "youth_export.csv"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from peerscale.cli import main

    out = {}
    folder = tmp_path_factory.mktemp("consistency")
    import contextlib
    import io

    for cmd in ("reliability", "items", "efa", "cfa"):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main([cmd, str(YOUTH), "-i", "pbr-y", "--json", "-q"]) == 0
        out[cmd] = json.loads(buf.getvalue())
    report = folder / "report.json"
    assert main(["report", str(YOUTH), "-i", "pbr-y", "--validate", "-o", str(report), "-q"]) == 0
    out["report"] = json.loads(report.read_text())
    return out


@pytest.mark.slow
def test_every_door_counts_the_same_people(runs):
    rep = runs["report"]
    samples = [runs[c]["sample"] for c in ("reliability", "items", "efa", "cfa")]
    samples += [rep[k]["sample"] for k in ("reliability", "item_analysis", "efa", "cfa")]
    assert all(s == samples[0] for s in samples)
    assert samples[0]["waves"] == ["baseline_arm_1"] and samples[0]["rows"] == samples[0]["respondents"] == 300
    assert rep["sample"]["waves"] == ["baseline_arm_1", "followup_arm_1"]  # the scores cover both waves


@pytest.mark.slow
def test_same_alphas_flags_factor_counts_and_cfa(runs):
    rep = runs["report"]
    rel, rrel = runs["reliability"]["scales"], rep["reliability"]["scales"]
    assert set(rel) == set(rrel)
    for name in rel:
        for key in ("n", "alpha", "alpha_std", "g6", "average_r", "alpha_ci", "omega_total"):
            assert rel[name][key] == rrel[name][key], (name, key)
    flags = lambda d: sorted((s, i, f["flag"]) for s, sc in d["scales"].items()  # noqa: E731
                             for i, it in sc["items"].items() for f in it["flags"])
    assert flags(runs["items"]) == flags(rep["item_analysis"])
    assert {(f[0], f[1]) for f in flags(runs["items"])} == {(s, i) for it in rep["items"] for s, _, _ in it["flags"]
                                                           for i in [it["id"]]}
    efa, refa = runs["efa"], rep["efa"]
    assert efa["factors"] == refa["factors"] == efa["parallel"]["n_factors"] == refa["parallel"]["n_factors"]
    assert efa["loadings"] == refa["loadings"] and efa["n"] == refa["n"]
    cfa, rcfa = runs["cfa"], rep["cfa"]
    assert cfa["missing"] == rcfa["missing"] == "fiml" and cfa["n"] == rcfa["n"] and cfa["n_rows"] == 300
    assert cfa["fit"] == rcfa["fit"] and cfa["loadings_std"] == rcfa["loadings_std"]


@pytest.mark.slow
def test_the_notebook_gets_the_same_numbers(runs):
    from peerscale.cli_common import _jsonable

    r = peerscale.read(YOUTH, "pbr-y")
    assert _jsonable(r.reliability().to_dict()) == runs["reliability"]
    assert _jsonable(r.item_analysis().to_dict()) == runs["items"]
    assert r.efa().n_factors == runs["efa"]["factors"]
