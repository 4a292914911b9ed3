"""Report benchmark: `peerscale report` on a 100,000-respondent export, and with --validate
on the bundled example.

Jobs (each a fresh process under ``/usr/bin/time -v``; best wall and CPU time of ``--runs``,
the largest "Maximum resident set size"; the size of what was written):

* ``html-100k``: ``peerscale report big.csv --instrument pbr-y -o big.html`` on 100,000
  respondents × 2 waves (200,000 rows, 54 items, ~3% blanks): scores, bands, paired change,
  item distributions.
* ``md-100k``: the same as Markdown with PNG figures (matplotlib).
* ``html-validate``: ``peerscale report examples/youth_export.csv -i pbr-y --validate`` with the
  defaults (1,000 bootstrap resamples per scale, 20 parallel-analysis iterations, EFA, three
  CFA structures) on the example (300 respondents at baseline).
* ``html-validate-100k``: ``--validate`` on the 100k file (validation uses the first wave,
  100,000 rows).

The data file (``benchmarks/data/report_100k.csv``, git-ignored) is made by the same
generator as tests/test_report_large.py (seeded). Usage:
``python benchmarks/bench_report.py [--runs 2] [--skip-validate-100k] [--jobs html-100k,md-100k]``;
prints Markdown.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
OUT = DATA / "report_out"


def make_data(path: Path, n: int) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from test_report_large import write_export

    write_export(path, n)


def timed(cmd: list[str]) -> dict:
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    err = proc.stderr

    def grab(pattern, cast=float):
        m = re.search(pattern, err)
        return cast(m.group(1)) if m else None

    wall = grab(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", str)
    parts = [float(x) for x in wall.split(":")]
    seconds = sum(p * 60 ** k for k, p in enumerate(reversed(parts)))
    cpu = grab(r"User time \(seconds\): ([\d.]+)") + grab(r"System time \(seconds\): ([\d.]+)")
    rss = grab(r"Maximum resident set size \(kbytes\): (\d+)", int)
    return {"wall": seconds, "cpu": cpu, "rss_mb": rss / 1024}


def size_of(path: Path) -> int:
    if path.suffix == ".md":
        files = path.with_name(f"{path.stem}_files")
        return path.stat().st_size + sum(p.stat().st_size for p in files.glob("*"))
    return path.stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--respondents", type=int, default=100_000)
    ap.add_argument("--skip-validate-100k", action="store_true")
    ap.add_argument("--jobs", help="comma-separated job names to run (default: all)")
    args = ap.parse_args()
    DATA.mkdir(exist_ok=True)
    OUT.mkdir(exist_ok=True)
    big = DATA / f"report_{args.respondents // 1000}k.csv"
    if not big.exists():
        make_data(big, args.respondents)
    example = ROOT / "examples" / "youth_export.csv"
    exe = [sys.executable, "-m", "peerscale.cli", "report"]
    jobs = {
        "html-100k": ([*exe, str(big), "-i", "pbr-y", "-o", str(OUT / "big.html"), "--force", "-q"], OUT / "big.html"),
        "md-100k": ([*exe, str(big), "-i", "pbr-y", "-o", str(OUT / "big.md"), "--force", "-q"], OUT / "big.md"),
        "html-validate": ([*exe, str(example), "-i", "pbr-y", "-o", str(OUT / "example.html"), "--validate",
                           "--force", "-q"], OUT / "example.html"),
    }
    if not args.skip_validate_100k:
        jobs["html-validate-100k"] = ([*exe, str(big), "-i", "pbr-y", "-o", str(OUT / "big-validate.html"),
                                       "--validate", "--force", "-q"], OUT / "big-validate.html")
    if args.jobs:
        jobs = {k: v for k, v in jobs.items() if k in args.jobs.split(",")}
    results = {}
    for name, (cmd, out) in jobs.items():
        runs = [timed(cmd) for _ in range(args.runs)]
        results[name] = {"wall": min(r["wall"] for r in runs), "cpu": min(r["cpu"] for r in runs),
                         "rss_mb": max(r["rss_mb"] for r in runs), "bytes": size_of(out),
                         "load": os.getloadavg()[0]}
    from importlib.metadata import version

    print(f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. Machine: {os.cpu_count()} CPUs, "
          f"{platform.machine()}, Python {platform.python_version()}, numpy {version('numpy')}, "
          f"pandas {version('pandas')}, scipy {version('scipy')}, matplotlib {version('matplotlib')}. "
          f"Input: {big.name}, {big.stat().st_size / 1e6:.1f} MB.\n")
    print("| job | best wall (s) | best CPU (s) | peak RSS (MB) | output size | 1-min load after |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['rss_mb']:.0f} | {r['bytes'] / 1024:,.0f} KiB | "
              f"{r['load']:.1f} |")


if __name__ == "__main__":
    main()
