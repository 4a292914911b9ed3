"""Timing helpers shared by the benchmark scripts that run a child process printing JSON."""

from __future__ import annotations

import json
import re
import subprocess
import time


def timed(cmd: list[str]) -> dict:
    """Run ``cmd`` under ``/usr/bin/time -v``: its last stdout line (JSON) plus wall seconds
    and peak RSS in MB."""
    t = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "wall": wall, "rss_mb": rss / 1024}


def best(cmd: list[str], runs: int) -> dict:
    """The run with the fewest in-call ``seconds``, with the largest peak RSS of all runs."""
    results = [timed(cmd) for _ in range(runs)]
    b = min(results, key=lambda r: r["seconds"])
    b["rss_mb"] = max(r["rss_mb"] for r in results)
    return b
