"""Shared test helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
BFI_CSV = FIXTURES / "scoring" / "bfi.csv"  # psych's bfi (id, 25 items, demographics), from tests/r/scoring.R
BFI_ITEMS = [f"{trait}{i}" for trait in "ACENO" for i in range(1, 6)]
HS_CSV = FIXTURES / "factor" / "hs1939.csv"  # lavaan's HolzingerSwineford1939, from tests/r/factor.R
HS_MODEL = "visual =~ x1 + x2 + x3; textual =~ x4 + x5 + x6; speed =~ x7 + x8 + x9"


@pytest.fixture(scope="module")
def bfi():
    """The 25 bfi items, in psych's row order."""
    import pandas as pd

    return pd.read_csv(BFI_CSV, usecols=BFI_ITEMS)


@pytest.fixture
def run_cli(capsys):
    """Run ``peerscale ARGS`` in-process; returns (exit code, stdout, stderr)."""
    from peerscale.cli import main

    def run(*args):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(scope="module")
def hs():
    """HolzingerSwineford1939, the lavaan parity data."""
    import pandas as pd

    return pd.read_csv(HS_CSV)
