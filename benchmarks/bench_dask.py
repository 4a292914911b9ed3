"""Scaling of the chunked and Dask paths (issue 15 parts 3 and 4): rows per second by chunk
size, cores and Dask workers, and the memory of a file read in chunks.

What is timed (wall clock, one run each: the machine is shared, so the load average is
printed beside every figure; compare figures of one run only):

1. ``peerscale reliability`` and ``peerscale items`` on the bfi-like file of
   ``bench_score.py`` (25 items, five scales with psych's keys, ~1% blanks) read whole and
   with ``--chunk-size`` 10,000 / 100,000 / 1,000,000: wall, peak RSS (``/usr/bin/time -v``),
   rows/s. Statistics merged over chunks give the in-memory numbers (tests/test_moments.py);
   here alpha is compared too.
2. Dask on a ``distributed.LocalCluster`` (processes): ``peerscale.score(dd.read_csv(...))``
   (the scoring kernel via ``map_partitions``; the scores are counted, not gathered) and
   ``peerscale.read(ddf).reliability()`` (the reduction of mergeable statistics), with
   1 worker × 1 thread, 1 worker × 2 threads and 2 workers × 1 thread, at two partition
   sizes; against pandas in one process (``peerscale.score(pd.read_csv(...))``).
3. ``--big N``: a file of N rows is generated on disk, ``reliability`` and ``items`` run on it
   (automatically in chunks: it is over 256 MB), and the file is deleted.

Usage: ``python benchmarks/bench_dask.py [--rows 1000000] [--big 10000000] [--skip-dask]``;
prints Markdown (recorded in the README section "Larger than one machine").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from bench_score import DATA, ITEMS, KEYS, make_data, timed  # noqa: E402

SCALES = [f"{s}={','.join(k)}" for s, k in KEYS.items()]
DTYPES = {"id": str, **{i: "float64" for i in ITEMS}}  # dask infers types from a sample: say them


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def cli(command: str, path: Path, extra=()) -> list[str]:
    args = [sys.executable, "-c", "from peerscale.cli import run; run()", command, str(path)]
    for s in SCALES:
        args += ["--scale", s]
    return args + ["--range", "1:6", "--id-column", "id", "--json", "-q", *extra]


def run_json(cmd, cwd) -> tuple[float, float, int, dict]:
    """Wall, CPU, peak RSS and the JSON printed, of one run."""
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    shell = " ".join(f"'{c}'" for c in cmd) + f" > '{out}'"
    wall, cpu, peak = timed(["sh", "-c", shell], cwd)
    result = json.loads(out.read_text())
    out.unlink()
    return wall, cpu, peak, result


def chunked_table(path: Path, rows: int, sizes) -> list[str]:
    env_cwd = ROOT
    lines = ["| command | read | wall s | rows/s | peak RSS | alpha(A) | load |", "|---|---|---:|---:|---:|---:|---:|"]
    for command in ("reliability", "items"):
        for size in [None, *sizes]:
            extra = [] if size is None else ["--chunk-size", str(size)]
            wall, _cpu, peak, res = run_json(cli(command, path, extra), env_cwd)
            alpha = res["scales"]["A"]["alpha"]
            lines.append(f"| {command} | {'whole' if size is None else f'chunks of {size:,}'} | {wall:.2f} | "
                         f"{rows / wall:,.0f} | {peak / 2**20:,.0f} MB | {alpha:.12f} | {load()} |")
    return lines


def dask_table(path: Path, rows: int) -> list[str]:
    import dask.dataframe as dd
    import pandas as pd
    from distributed import Client, LocalCluster

    import peerscale
    from peerscale.spec import adhoc_instrument

    inst = adhoc_instrument(SCALES, value_range=(1, 6))
    lines = ["| run | partitions | score rows/s | reliability rows/s | load |", "|---|---:|---:|---:|---:|"]
    t = time.perf_counter()
    peerscale.score(pd.read_csv(path, dtype=DTYPES), inst, id_columns=["id"])
    wall = time.perf_counter() - t
    t = time.perf_counter()
    peerscale.read(pd.read_csv(path, dtype=DTYPES), inst, id_columns=["id"]).reliability()
    wall_rel = time.perf_counter() - t
    lines.append(f"| pandas in one process (pd.read_csv, then score / read + reliability) | 1 | {rows / wall:,.0f} | "
                 f"{rows / wall_rel:,.0f} | {load()} |")
    for workers, threads in ((1, 1), (1, 2), (2, 1)):
        with LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True, dashboard_address=None,
                          silence_logs=50) as cluster, Client(cluster) as client:
            warm = dd.from_pandas(pd.read_csv(path, nrows=1000, dtype=DTYPES), npartitions=workers * threads)
            peerscale.read(warm, inst, id_columns=["id"]).reliability()  # workers import peerscale first
            client.run(lambda: None)
            for block in ("16MB", "64MB"):
                ddf = dd.read_csv(path, blocksize=block, dtype=DTYPES)
                t = time.perf_counter()
                scores = peerscale.score(ddf, inst, id_columns=["id"])
                n = int(scores.map_partitions(len).compute().sum())
                w_score = time.perf_counter() - t
                assert n == rows
                t = time.perf_counter()
                peerscale.read(ddf, inst, id_columns=["id"]).reliability()
                w_rel = time.perf_counter() - t
                lines.append(f"| Dask, {workers} worker(s) x {threads} thread(s), blocksize {block} | "
                             f"{ddf.npartitions} | {rows / w_score:,.0f} | {rows / w_rel:,.0f} | {load()} |")
    return lines


def big_run(rows: int) -> list[str]:
    path = DATA / f"bfi_{rows // 1_000_000}m.csv"
    t = time.perf_counter()
    make_data(path, rows)
    made = time.perf_counter() - t
    lines = [f"{rows:,} rows, {path.stat().st_size / 2**20:,.0f} MB on disk (generated in {made:.0f} s; "
             f"`df -h /work`: {shutil.disk_usage('/work').free / 2**30:.0f} GB free)", "",
             "| command | wall s | rows/s | peak RSS | load |", "|---|---:|---:|---:|---:|"]
    try:
        for command in ("reliability", "items"):
            wall, _cpu, peak, res = run_json(cli(command, path), ROOT)
            lines.append(f"| {command} (automatic chunks) | {wall:.1f} | {rows / wall:,.0f} | {peak / 2**20:,.0f} MB | "
                         f"{load()} |")
            lines.append(f"|  sample: {res['sample']['rows']:,} rows, alpha(A) = {res['scales']['A']['alpha']:.6f} "
                         "| | | | |")
    finally:
        path.unlink()
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--big", type=int, default=0, help="also generate, analyse and delete a file of this many rows")
    ap.add_argument("--skip-dask", action="store_true")
    ap.add_argument("--skip-chunked", action="store_true")
    args = ap.parse_args()
    path = DATA / f"bfi_{args.rows // 1000}k.csv"
    if not path.exists():
        make_data(path, args.rows)
    up = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"# bench_dask.py, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores; "
          f"uptime: {up}\n")
    if not args.skip_chunked:
        print(f"## reliability and items of {args.rows:,} rows x 25 items, whole and in chunks\n")
        print("\n".join(chunked_table(path, args.rows, (10_000, 100_000, 1_000_000))), "\n")
    if not args.skip_dask:
        print(f"## scoring and the reliability reduction on Dask, {args.rows:,} rows x 25 items\n")
        print("\n".join(dask_table(path, args.rows)), "\n")
    if args.big:
        print("## a file larger than the chunks\n")
        print("\n".join(big_run(args.big)), "\n")
    print(f"uptime at the end: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")


if __name__ == "__main__":
    main()
