"""Omega total and hierarchical against psych::omega 2.2.9 (fixtures from tests/r/reliability.R)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from peerscale.errors import PeerscaleError
from peerscale.psychometrics.omega import omega
from peerscale.psychometrics.polychoric import polychoric_matrix

from conftest import BFI_CSV as BFI, BFI_ITEMS

FIX = Path(__file__).parent / "fixtures" / "reliability"
ALPHA = json.loads((FIX / "psych_alpha.json").read_text())
OMEGA = json.loads((FIX / "psych_omega.json").read_text())
ITEMS = {name: [k.lstrip("-") for k in spec["keys"]] for name, spec in ALPHA.items()}


@pytest.fixture(scope="module")
def keyed():
    bfi = pd.read_csv(BFI, usecols=BFI_ITEMS)
    out = bfi.copy()
    for spec in ALPHA.values():
        for k in spec["keys"]:
            if k.startswith("-"):
                out[k[1:]] = 7 - bfi[k[1:]]
    return out


@pytest.mark.parametrize("scale", sorted(ITEMS))
@pytest.mark.parametrize("method", ["minres", "ml"])
def test_one_factor_omega_total(keyed, scale, method):
    ref = OMEGA[scale][method]
    res = omega(keyed[ITEMS[scale]], 1, method=method)
    assert res.kind == "one-factor" and res.omega_hierarchical is None
    assert res.omega_total == pytest.approx(ref["omega_total"], abs=1e-3)
    assert res.alpha == pytest.approx(ref["alpha"], abs=1e-9)
    assert res.g6 == pytest.approx(ref["g6"], abs=1e-9)
    np.testing.assert_allclose(res.loadings["h2"], ref["h2"], atol=1e-3)
    assert "one-factor" in res.label and method in res.label


@pytest.mark.parametrize("scale", sorted(ITEMS))
def test_ordinal_omega_total(keyed, scale):
    res = omega(keyed[ITEMS[scale]], 1, ordinal=True)
    assert res.correlations == "polychoric"
    assert res.omega_total == pytest.approx(OMEGA[scale]["ordinal"]["omega_total"], abs=1e-3)


@pytest.mark.parametrize("name, n_factors, items", [
    ("bfi25_5", 5, sum(ITEMS.values(), [])),
    ("bfi25_3", 3, sum(ITEMS.values(), [])),
    ("agree_consc_2", 2, ITEMS["agree"] + ITEMS["conscientious"]),
])
def test_schmid_leiman_omega(keyed, name, n_factors, items):
    ref = OMEGA[name]
    res = omega(keyed[items], n_factors)
    assert res.kind == "schmid-leiman" and res.n_factors == n_factors
    assert res.omega_total == pytest.approx(ref["omega_total"], abs=1e-3)
    assert res.omega_hierarchical == pytest.approx(ref["omega_h"], abs=1e-3)
    assert res.omega_limit == pytest.approx(ref["omega_limit"], abs=1e-3)
    assert res.ecv == pytest.approx(ref["ecv"], abs=1e-3)
    np.testing.assert_allclose(res.loadings["g"], ref["general"], atol=1e-3)
    # group omegas: rows g, F1*..Fk*; columns total, general, group (psych's omega.group)
    np.testing.assert_allclose(res.groups.to_numpy(), np.array(ref["groups"], dtype=float), atol=1e-3)
    assert res.flipped == ref["flipped"]
    d = res.to_dict()
    assert d["omega_kind"] == "schmid-leiman" and "Schmid-Leiman" in d["label"]


def test_polychoric_result_as_input(keyed):
    poly = polychoric_matrix(keyed[ITEMS["agree"]])
    a = omega(poly, 1)
    b = omega(keyed[ITEMS["agree"]], 1, ordinal=True)
    assert a.omega_total == pytest.approx(b.omega_total, abs=1e-12)


def test_simulated_bifactor_recovers_omegas():
    # 3 groups x 4 items; general loading .6, group loading .4: omega_h and omega_t are known
    rng = np.random.default_rng(4)
    n, g_l, s_l = 20000, 0.6, 0.4
    gen = rng.normal(size=(n, 1))
    cols = []
    for f in range(3):
        grp = rng.normal(size=(n, 1))
        cols.append(g_l * gen + s_l * grp + np.sqrt(1 - g_l ** 2 - s_l ** 2) * rng.normal(size=(n, 4)))
    x = pd.DataFrame(np.hstack(cols), columns=[f"i{j}" for j in range(12)])
    v = (12 * g_l) ** 2 + 3 * (4 * s_l) ** 2 + 12 * (1 - g_l ** 2 - s_l ** 2)
    res = omega(x, 3)
    assert res.omega_hierarchical == pytest.approx((12 * g_l) ** 2 / v, abs=0.03)
    assert res.omega_total == pytest.approx(1 - 12 * (1 - g_l ** 2 - s_l ** 2) / v, abs=0.01)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_factors": 0}, "positive whole number"),
    ({"n_factors": 3}, "at least 6 items"),
    ({"n_factors": 1, "rotation": "varimax"}, "unknown rotation"),
    ({"n_factors": 1, "method": "pc"}, "extraction method"),
])
def test_bad_arguments(keyed, kwargs, message):
    with pytest.raises(PeerscaleError, match=message):
        omega(keyed[ITEMS["agree"]], **kwargs)


def test_too_few_items(keyed):
    with pytest.raises(PeerscaleError, match="at least three items"):
        omega(keyed[["A1", "A2"]], 1)
