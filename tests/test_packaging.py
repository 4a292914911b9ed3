"""A plain (non-editable) install ships items/ and scoring/ and finds them from any directory."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(out)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{res.stderr[-2000:]}")
    return glob.glob(str(out / "peerscale-*.whl"))[0]


def test_wheel_contains_item_banks_and_scoring_rules(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    banks = {p.name for p in (ROOT / "items").glob("*.yaml")}
    rules = {p.name for p in (ROOT / "scoring").glob("*.yaml")}
    assert banks and rules
    assert {f"peerscale/items/{b}" for b in banks} <= names
    assert {f"peerscale/scoring/{r}" for r in rules} <= names
    assert {"peerscale/example_data/youth_export.csv", "peerscale/example_data/worker_export.csv",
            "peerscale/example_data/study.yaml"} <= names
    assert any(n.endswith("entry_points.txt") for n in names)


def test_installed_copy_finds_instruments_from_elsewhere(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), wheel],
                   check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = ("import peerscale, peerscale.spec as s; i = peerscale.load_instrument('pbr-y');"
            "from peerscale.examples import path;"
            "print(peerscale.__file__); print(s.package_dir('items')); print(len(i.items)); print(path());"
            "print(peerscale.read(path(), 'pbr-y').design.worker)")
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    module, items_dir, n, example, worker = res.stdout.split()
    assert module.startswith(str(target)) and items_dir.startswith(str(target)) and int(n) > 0
    assert example.startswith(str(target)) and worker == "worker_id"  # the example's study.yaml came along
