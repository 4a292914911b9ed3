"""End-to-end scoring benchmark: `peerscale score` on 1,000,000 rows × 25 items against R.

What is timed (each a fresh process, wall clock, best of ``--runs``; peak memory is the
largest "Maximum resident set size" that ``/usr/bin/time -v`` reports over the runs):

* ``peerscale score big.csv --scale A=-A1,A2,... (the five bfi scales, psych's keys)
  --range 1:6 --min-answered 1 --id-column id -o out.csv``: read, validate (every value a code of 1..6 or
  blank), key, score (mean of the answered keyed items, plus ``<scale>_n``)
  and write.
* ``bench_score_psych_base.R``: ``psych::scoreItems(keys, impute = "none", min = 1, max = 6)``
  as psych users run it, with read.csv and write.csv (the issue's "psych::scoreItems" baseline).
* ``bench_score_psych.R``: the same scoring with data.table::fread and fwrite, to show the
  scoring step apart from base R's slow input and output.
* ``bench_score_datatable.R``: fread, reverse ``7 - x``, ``rowMeans(na.rm = TRUE)`` per
  scale, fwrite: the fastest plain R a user would write.
* ``peerscale --help`` (start-up cost of the CLI), best of 5.

The data file (``benchmarks/data/bfi_1m.csv``, git-ignored) is bfi-like: an ``id`` column and
items A1..O5 coded 1-6 from a five-factor model with psych's keying, about 1% blanks
(``numpy.random.default_rng(SEED)``). After timing, the peerscale scores are compared with
psych's on every row (``--min-answered 1`` is psych's rule: any answered item gives a score).

Usage: ``python benchmarks/bench_score.py [--rows N] [--runs 3] [--skip-r]``; prints the
results as Markdown (recorded in benchmarks/RESULTS-score.md). ``--profile`` instead runs the
same ``peerscale score`` once in this process under cProfile and prints the functions that
take the most time (self time), to see where the time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
SEED = 20261127
BLANK_RATE = 0.01
KEYS = {  # psych's bfi keys (psych::bfi.keys)
    "A": ["-A1", "A2", "A3", "A4", "A5"],
    "C": ["C1", "C2", "C3", "-C4", "-C5"],
    "E": ["-E1", "-E2", "E3", "E4", "E5"],
    "N": ["N1", "N2", "N3", "N4", "N5"],
    "O": ["O1", "-O2", "O3", "O4", "-O5"],
}
ITEMS = [i.lstrip("-") for keys in KEYS.values() for i in keys]


def make_data(path: Path, rows: int) -> None:
    """bfi-like items from five correlated factors, cut into 1..6, ~1% blanks; written by pyarrow."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(SEED)
    phi = np.full((5, 5), 0.2) + 0.8 * np.eye(5)
    eta = rng.standard_normal((rows, 5)) @ np.linalg.cholesky(phi).T
    cuts = np.array([-1.6, -0.9, -0.3, 0.4, 1.1])
    columns = {"id": pa.array(np.arange(1, rows + 1, dtype=np.int64))}
    for f, (scale, keys) in enumerate(KEYS.items()):
        for key in keys:
            lam = rng.uniform(0.5, 0.75)
            xstar = lam * eta[:, f] + np.sqrt(1 - lam ** 2) * rng.standard_normal(rows)
            code = (np.searchsorted(cuts, xstar) + 1).astype(np.int8)
            if key.startswith("-"):
                code = 7 - code
            blank = rng.random(rows) < BLANK_RATE
            columns[key.lstrip("-")] = pa.array(code, mask=blank)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    pacsv.write_csv(pa.table(columns), tmp, pacsv.WriteOptions(quoting_style="none"))
    tmp.replace(path)


def timed(cmd: list[str], cwd: Path) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (bytes) of one run under /usr/bin/time -v."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")

    def field(label):
        return float(re.search(label + r": ([\d.]+)", proc.stderr).group(1))

    cpu = field(r"User time \(seconds\)") + field(r"System time \(seconds\)")
    return wall, cpu, int(field(r"Maximum resident set size \(kbytes\)")) * 1024


def bench(name: str, cmd: list[str], runs: int, cwd: Path, cleanup: Path | None = None) -> dict:
    walls, cpus, peaks, loads = [], [], [], []
    for _ in range(runs):
        if cleanup is not None:
            cleanup.unlink(missing_ok=True)
        loads.append(os.getloadavg()[0])
        wall, cpu, peak = timed(cmd, cwd)
        walls.append(wall)
        cpus.append(cpu)
        peaks.append(peak)
        print(f"  {name}: {wall:.2f} s wall, {cpu:.2f} s CPU, {peak / 2**20:.0f} MiB (load {loads[-1]:.1f})",
              file=sys.stderr)
    return {"name": name, "cmd": " ".join(cmd), "walls": walls, "cpus": cpus, "loads": loads,
            "best": min(walls), "best_cpu": min(cpus), "peak": max(peaks)}


def peerscale_exe() -> str:
    """The console script beside this Python (what a venv puts on PATH), not a version-manager
    shim such as pyenv's, which adds its own start-up to every run."""
    beside = Path(sys.executable).with_name("peerscale")
    if beside.exists():
        return str(beside)
    return shutil.which("peerscale") or sys.exit("peerscale is not on PATH (pip install -e .)")


def help_time(runs: int = 5) -> list[float]:
    exe = peerscale_exe()
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([exe, "--help"], capture_output=True, check=True)
        walls.append(time.perf_counter() - start)
    return walls


def agreement(ours: Path, psych: Path) -> dict:
    """Largest |peerscale − psych| per scale over every row (both score any row with an answer)."""
    import pyarrow.csv as pacsv

    a = pacsv.read_csv(ours).to_pandas()
    b = pacsv.read_csv(psych).to_pandas()
    assert len(a) == len(b) and (a["id"].to_numpy() == b["id"].to_numpy()).all(), "row order differs"
    out = {}
    for scale in KEYS:
        x, y = a[scale].to_numpy(dtype=float), b[scale].to_numpy(dtype=float)
        assert (np.isnan(x) == np.isnan(y)).all(), f"{scale}: different rows scored"
        out[scale] = {"rows_compared": int((~np.isnan(x)).sum()), "max_abs_diff": float(np.nanmax(np.abs(x - y)))}
    return out


def profile(score_args: list[str], out: Path, top: int = 25) -> None:
    import cProfile
    import pstats

    from peerscale.cli import main as cli_main

    out.unlink(missing_ok=True)
    prof = cProfile.Profile()
    rc = prof.runcall(cli_main, score_args)
    if rc != 0:
        sys.exit(f"peerscale score failed with exit {rc}")
    stats = pstats.Stats(prof, stream=sys.stdout)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats("peerscale", top)


def versions() -> dict:
    import pandas
    import pyarrow

    r = subprocess.run(["Rscript", "-e", 'cat(R.version.string, "; psych", as.character(packageVersion("psych")),'
                        ' "; data.table", as.character(packageVersion("data.table")))'],
                       capture_output=True, text=True)
    free = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout.rstrip()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "nproc": os.cpu_count(),
            "cpu": cpu, "free": free, "python": platform.python_version(), "numpy": np.__version__,
            "pandas": pandas.__version__, "pyarrow": pyarrow.__version__, "r": r.stdout.strip()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-r", action="store_true", help="time peerscale only")
    parser.add_argument("--profile", action="store_true", help="cProfile one in-process run instead of timing")
    args = parser.parse_args(argv)

    big = DATA / ("bfi_1m.csv" if args.rows == 1_000_000 else f"bfi_{args.rows}.csv")
    if not big.exists():
        print(f"writing {big}", file=sys.stderr)
        make_data(big, args.rows)
    out_ps, out_psych, out_dt = (DATA / f"out_{n}.csv" for n in ("peerscale", "psych", "datatable"))
    exe = peerscale_exe()
    scales = [a for scale, keys in KEYS.items() for a in ("--scale", f"{scale}={','.join(keys)}")]
    # --min-answered 1 computes what psych::scoreItems(impute = "none") does, so every row is compared
    score_args = ["score", str(big), *scales, "--range", "1:6", "--min-answered", "1", "--id-column", "id",
                  "-o", str(out_ps), "--quiet"]
    if args.profile:
        profile(score_args, out_ps)
        return
    results = [bench("peerscale score", [exe, *score_args], args.runs, HERE, cleanup=out_ps)]
    if not args.skip_r:
        results.append(bench("R psych::scoreItems (read.csv/write.csv)",
                             ["Rscript", str(HERE / "bench_score_psych_base.R"), str(big),
                              str(DATA / "out_psych_base.csv")], args.runs, HERE))
        results.append(bench("R psych::scoreItems (fread/fwrite)", ["Rscript", str(HERE / "bench_score_psych.R"),
                                                                  str(big), str(out_psych)], args.runs, HERE))
        results.append(bench("R data.table rowMeans", ["Rscript", str(HERE / "bench_score_datatable.R"), str(big),
                                                       str(out_dt)], args.runs, HERE))
    helps = help_time()
    report = {"machine": versions(), "rows": args.rows, "file_mb": big.stat().st_size / 1e6,
              "results": results, "help_walls": helps,
              "agreement_with_psych": None if args.skip_r else agreement(out_ps, out_psych)}
    (DATA / "bench_score.json").write_text(json.dumps(report, indent=2))
    print(markdown(report))


def markdown(rep: dict) -> str:
    m = rep["machine"]
    lines = [f"Run {m['date']}; {m['nproc']} CPUs ({m['cpu']}); Python {m['python']}, numpy {m['numpy']}, "
             f"pandas {m['pandas']}, pyarrow {m['pyarrow']}; {m['r']}.", "",
             "```", m["free"], "```", "",
             f"Input: {rep['rows']:,} rows × 25 items + id, {rep['file_mb']:.0f} MB CSV.", "",
             "| job | wall, best (s) | wall, all runs (s) | CPU user+sys, best (s) | peak RSS (MiB) | load avg at start |",
             "|---|---|---|---|---|---|"]
    for r in rep["results"]:
        runs = ", ".join(f"{w:.2f}" for w in r["walls"])
        loads = ", ".join(f"{x:.1f}" for x in r["loads"])
        lines.append(f"| {r['name']} | {r['best']:.2f} | {runs} | {r['best_cpu']:.2f} | {r['peak'] / 2**20:.0f} | {loads} |")
    ps = rep["results"][0]
    lines.append("")
    for r in rep["results"][1:]:
        lines.append(f"- {r['name']} ÷ peerscale: wall {r['best'] / ps['best']:.1f}×, CPU {r['best_cpu'] / ps['best_cpu']:.1f}×")
    h = rep["help_walls"]
    lines += ["", f"`peerscale --help`: best of {len(h)} {min(h):.3f} s (all: {', '.join(f'{w:.3f}' for w in h)})"]
    if rep["agreement_with_psych"]:
        lines += ["", "| scale | rows scored by both | max abs diff vs psych |", "|---|---|---|"]
        for scale, a in rep["agreement_with_psych"].items():
            lines.append(f"| {scale} | {a['rows_compared']:,} | {a['max_abs_diff']:.1e} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
