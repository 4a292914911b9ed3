"""A 100,000-respondent export (two waves, so 200,000 rows) gives a report in under a minute
and under 20 MB: figures and tables summarise, they never list respondents.

The time bound is the issue's explicit requirement; it is kept generous (60 s) because the
test machine is shared.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from peerscale.spec import load_instrument

N = 100_000
MAX_SECONDS = 60.0
MAX_BYTES = 20 * 1024 * 1024


def write_export(path, n: int, seed: int = 11) -> None:
    """A REDCap-style pbr-y export: record_id, redcap_event_name, items 1–5 with ~3% blanks."""
    inst = load_instrument("pbr-y")
    items = inst.scale_items()
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=n)
    cols = {"record_id": np.tile(np.char.add("Y", np.arange(n).astype(str)), 2),
            "redcap_event_name": np.repeat(["baseline_arm_1", "followup_arm_1"], n)}
    for j, iid in enumerate(items):
        lat = np.concatenate([theta, theta + 0.2]) + rng.normal(scale=0.9, size=2 * n)
        x = np.clip(np.round(3.4 + lat), 1, 5)
        x[rng.random(2 * n) < 0.03] = np.nan
        cols[iid] = x
    pacsv.write_csv(pa.table(cols), str(path))


def test_report_of_100k_respondents_is_fast_and_small(run_cli, tmp_path):
    src = tmp_path / "big.csv"
    write_export(src, N)
    out = tmp_path / "big.html"
    start = time.perf_counter()
    code, stdout, err = run_cli("report", src, "--instrument", "pbr-y", "-o", out, "--json")
    elapsed = time.perf_counter() - start
    assert code == 0, err
    info = json.loads(stdout)
    assert info["n_records"] == 2 * N
    size = out.stat().st_size
    assert size < MAX_BYTES, size
    assert elapsed < MAX_SECONDS, elapsed
    html = out.read_text()
    assert "Y12345" not in html and "Y99999" not in html  # no respondent is listed
    assert f"{2 * N:,}" in html and "Paired change from baseline_arm_1 to followup_arm_1" in html
