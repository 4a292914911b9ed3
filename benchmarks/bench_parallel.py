"""Parallel analysis benchmark: 100 iterations on bfi's 25 items × 2,800 respondents.

Compares ``peerscale.psychometrics.parallel.parallel_analysis(iterations=100)`` (resampled and
simulated replicates, as psych's defaults) with ``psych::fa.parallel(n.iter=100)`` on the same
file (the 25 items of ``tests/fixtures/scoring/bfi.csv``). Each run is a fresh process; we report the
seconds spent in the call (best of ``--runs``), the wall time of the whole process, and peak
resident memory from ``/usr/bin/time -v``. psych runs its replicates with
``parallel::mclapply`` (``mc.cores`` defaults to 2), peerscale on one core.

Usage: ``python benchmarks/bench_parallel.py [--runs 3] [--iterations 100] [--skip-r]``;
prints Markdown rows for benchmarks/RESULTS-factor.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from timing import best  # benchmarks/timing.py

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = ROOT / "tests" / "fixtures" / "scoring" / "bfi.csv"  # id + 25 items + demographics

PY = """
import json, time, pandas as pd
from peerscale.psychometrics.parallel import parallel_analysis
x = pd.read_csv({data!r}, usecols=[f"{{t}}{{i}}" for t in "ACENO" for i in range(1, 6)])
t = time.perf_counter()
r = parallel_analysis(x, iterations={iters}, seed=1)
print(json.dumps({{"seconds": time.perf_counter() - t, "nfact": r.n_factors, "ncomp": r.n_components}}))
"""


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--skip-r", action="store_true")
    a = ap.parse_args(argv)
    rows = [("peerscale parallel_analysis", best([sys.executable, "-c", PY.format(data=str(DATA), iters=a.iterations)], a.runs))]
    if not a.skip_r:
        rows.append(("psych::fa.parallel", best(["Rscript", str(HERE / "bench_parallel.R"), str(DATA), str(a.iterations)], a.runs)))
    print(f"| tool | call (s, best of {a.runs}) | process wall (s) | peak RSS (MB) | factors | components |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in rows:
        print(f"| {name} | {r['seconds']:.2f} | {r['wall']:.2f} | {r['rss_mb']:.0f} | {r['nfact']} | {r['ncomp']} |")


if __name__ == "__main__":
    main()
