"""Bootstrap interval of alpha: 2,000 resamples of 2,800 × 5 items (bfi agreeableness).

Compares ``peerscale.psychometrics.reliability.cronbach_alpha(n_boot=2000)`` with
``psych::alpha(n.iter=2000)`` on the same file (``tests/fixtures/scoring/bfi.csv``, A1
reversed as 7 − x). Both resample rows and compute each resample's covariances pairwise.
Each run is a fresh process; we report the seconds spent in the call (best of ``--runs``,
timed inside the process; for peerscale this first call includes importing the modules it
loads lazily, so a second call with another seed is timed too), the process's CPU time and
wall time, and peak resident memory from ``/usr/bin/time -v``. psych runs its resamples with ``parallel::mclapply``; it is timed
with ``mc.cores`` 1 and 2 (this machine has 2 CPUs). peerscale runs on one core.

Usage: ``python benchmarks/bench_bootstrap.py [--runs 3] [--n-boot 2000] [--skip-r]``;
prints Markdown rows for benchmarks/RESULTS-reliability.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = ROOT / "tests" / "fixtures" / "scoring" / "bfi.csv"

PY = """
import json, time, resource, pandas as pd
from peerscale.psychometrics.reliability import cronbach_alpha
x = pd.read_csv({data!r})[["A1", "A2", "A3", "A4", "A5"]]
x["A1"] = 7 - x["A1"]
c0, t = time.process_time(), time.perf_counter()
r = cronbach_alpha(x, n_boot={n_boot}, seed=1)
seconds, cpu = time.perf_counter() - t, time.process_time() - c0
t = time.perf_counter()
cronbach_alpha(x, n_boot={n_boot}, seed=2)  # again, modules already imported
print(json.dumps({{"seconds": seconds, "cpu": cpu, "warm": time.perf_counter() - t,
                  "lower": r.bootstrap.lower, "upper": r.bootstrap.upper, "alpha": r.alpha}}))
"""


def timed(cmd: list[str], env=None) -> dict:
    t = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, check=True, env=env)
    wall = time.perf_counter() - t
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    user = float(re.search(r"User time \(seconds\): ([\d.]+)", proc.stderr).group(1))
    system = float(re.search(r"System time \(seconds\): ([\d.]+)", proc.stderr).group(1))
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return {**out, "wall": wall, "process_cpu": user + system, "rss_mb": rss / 1024}


def best(cmd, runs, env=None):
    results = [timed(cmd, env) for _ in range(runs)]
    b = dict(min(results, key=lambda r: r["seconds"]))
    b["all"] = [r["seconds"] for r in results]
    b["rss_mb"] = max(r["rss_mb"] for r in results)
    b["load"] = os.getloadavg()[0]
    return b


def row(name, r):
    warm = f"{r['warm']:.2f}" if "warm" in r else "—"
    return (f"| {name} | {r['seconds']:.2f} | {', '.join(f'{s:.2f}' for s in r['all'])} | {r['cpu']:.2f} | {warm} | "
            f"{r['wall']:.2f} | {r['process_cpu']:.2f} | {r['rss_mb']:.0f} | "
            f"{r['lower']:.4f} – {r['upper']:.4f} | {r['load']:.1f} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--n-boot", type=int, default=2000)
    ap.add_argument("--skip-r", action="store_true")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rows = [("peerscale cronbach_alpha", best([sys.executable, "-c", PY.format(data=str(DATA), n_boot=args.n_boot)],
                                              args.runs, env))]
    if not args.skip_r:
        for cores in (1, 2):
            rows.append((f"psych::alpha, mc.cores = {cores}",
                         best(["Rscript", str(HERE / "bench_bootstrap.R"), str(DATA), str(args.n_boot), str(cores)],
                              args.runs)))
    print("| job | in-call s, best | in-call s, all runs | in-call CPU s | 2nd call s | process wall s | process CPU s "
          "| peak RSS MiB | 95% interval | load avg |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, r in rows:
        print(row(name, r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
