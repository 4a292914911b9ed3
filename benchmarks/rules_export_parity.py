"""Parity of the exported scoring rules (issue 16): run `peerscale export-rules` output in PSPP,
Rscript and the REDCap calc evaluator on the bundled example exports plus generated data, and
record the largest absolute difference from `peerscale score` per instrument and target.

    python benchmarks/rules_export_parity.py [--rows 2000] [--out benchmarks/RESULTS-rules-export.md]

The tests (tests/test_rules_export.py) assert the same equality on smaller data; this script
writes the numbers down, with the value counts compared and the wall time of each run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import rules_harness as h  # noqa: E402
from peerscale.rules_export import describe  # noqa: E402
from peerscale.spec import adhoc_instrument, bundled_instruments, load_instrument  # noqa: E402


def counted(inst, expected) -> int:
    """Score values compared (non-missing numbers and bands)."""
    cols = describe(inst).column_names()
    return int(expected[cols].notna().to_numpy().sum())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS-rules-export.md"))
    args = ap.parse_args()
    insts = bundled_instruments() + [
        load_instrument(ROOT / "tests" / "fixtures" / "rules" / "user-scale.yaml"),
        adhoc_instrument(["A=-A1,A2,A3,A4,A5", "C=C1,C2,C3,-C4,-C5"], value_range=(1, 6), min_answered=0.6)]
    rows = []
    for inst in insts:
        ex = h.example_rows(inst)
        gen = h.make_responses(inst, args.rows, seed=101, invalid=True)
        data = gen if ex is None else pd.concat([ex, gen], ignore_index=True)
        expected_missing = h.peerscale_scores(inst, data, on_invalid="missing")
        labelled = h.make_responses(inst, args.rows, seed=102, labels=True, invalid=True)
        expected_labels = h.peerscale_scores(inst, labelled, on_invalid="missing")
        clean = h.make_responses(inst, args.rows, seed=103)
        expected_clean = h.peerscale_scores(inst, clean)
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            got = h.pspp_scores(inst, data, Path(tmp))
            rows.append((inst.name, "PSPP (.sps, batch + interactive)", len(data), counted(inst, expected_missing),
                         h.compare(inst, expected_missing, got, "pspp"), time.perf_counter() - t))
            t = time.perf_counter()
            got = h.r_scores(inst, {"a": (data, "missing"), "b": (labelled, "missing")}, Path(tmp))
            wall = time.perf_counter() - t
            worst = max(h.compare(inst, expected_missing, got["a"], "R"),
                        h.compare(inst, expected_labels, got["b"], "R labels"))
            rows.append((inst.name, "R (score_<name>, examples + labels)", len(data) + len(labelled),
                         counted(inst, expected_missing) + counted(inst, expected_labels), worst, wall))
        t = time.perf_counter()
        got = h.redcap_scores(inst, clean)
        rows.append((inst.name, "REDCap calc (evaluator)", len(clean), counted(inst, expected_clean),
                     h.compare(inst, expected_clean, got, "redcap"), time.perf_counter() - t))
        print(rows[-3:], flush=True)
    versions = subprocess.run(["pspp", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    r_version = subprocess.run(["Rscript", "--version"], capture_output=True, text=True)
    r_version = (r_version.stdout + r_version.stderr).strip()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        "# Parity of the exported scoring rules (issue 16)",
        "",
        "`python benchmarks/rules_export_parity.py` runs `peerscale export-rules NAME --to spss|r|redcap` "
        "output on the bundled example export holding the instrument (if any) plus generated data "
        f"({args.rows} rows per set, seeded: blanks, numeric and text missing codes, reverse keys, rows with "
        "100% to 0% answered, values that are not answers, and for R also labels and padded text) and "
        "compares every score column (`<scale>`, `<scale>_n`, `_t`, `_t_se`, `_band`) with `peerscale score` "
        "(`--on-invalid missing` where the data hold invalid values). Bands are compared as labels; counts "
        "must be equal; the table gives the largest absolute difference over all numeric scores.",
        "",
        f"Run {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {load} at the end (machine shared with other engineers; the times are indicative); "
        f"{versions}; {r_version}; Python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}.",
        "",
        "| instrument | target | rows | values compared | largest abs. difference | wall (s) |",
        "|---|---|---|---|---|---|",
    ]
    for name, target, n, k, worst, wall in rows:
        lines.append(f"| {name} | {target} | {n:,} | {k:,} | {worst:.3g} | {wall:.2f} |")
    overall = max(r[4] for r in rows)
    lines += ["", f"Largest difference over every instrument and target: {overall:.3g} (tolerance 1e-9).", ""]
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out}; largest difference {overall:.3g}")


if __name__ == "__main__":
    main()
