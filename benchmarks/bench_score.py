"""End-to-end scoring benchmark: `peerscale score` on 1M and 10M rows × 25 items against R.

What is timed (each job a fresh process, one after another in one run, wall clock and CPU
(user + system, all threads); peak memory is the "Maximum resident set size" that
``/usr/bin/time -v`` reports; the load average and ``uptime`` before each job are recorded):

* ``peerscale score big.csv --scale A=-A1,A2,... (the five bfi scales, psych's keys)
  --range 1:6 --min-answered 1 --id-column id -o out.csv``: read, validate (every value a code of 1..6 or
  blank), key, score (mean of the answered keyed items, plus ``<scale>_n``)
  and write. Files of 256 MB or more are scored in chunks (bounded memory) automatically.
* ``bench_score_psych_base.R``: ``psych::scoreItems(keys, impute = "none", min = 1, max = 6)``
  as psych users run it, with read.csv and write.csv (the issue's "psych::scoreItems" baseline;
  1M rows only: at 10M it needs more memory than this machine should give one helper).
* ``bench_score_psych.R``: the same scoring with data.table::fread and fwrite, to show the
  scoring step apart from base R's slow input and output.
* ``bench_score_datatable.R``: fread, reverse ``7 - x``, ``rowMeans(na.rm = TRUE)`` per
  scale, fwrite: the fastest plain R a user would write.
* ``peerscale --help`` (start-up cost of the CLI), best of 5.

The data files (``benchmarks/data/bfi_1m.csv``, ``bfi_10000000.csv``, git-ignored) are bfi-like:
an ``id`` column and items A1..O5 coded 1-6 from a five-factor model with psych's keying, about
1% blanks (``numpy.random.default_rng(SEED)``; above 1M rows written in blocks of 1M rows with
``default_rng([SEED, block])``, so memory stays small). After timing, the peerscale scores are
compared with psych's on every row (``--min-answered 1`` is psych's rule: any answered item
gives a score).

Usage: ``python benchmarks/bench_score.py [--rows 1000000 10000000] [--runs 1] [--skip-r]``;
prints the results as Markdown (recorded in benchmarks/RESULTS-score.md).
``--hundred`` instead writes a 100M-row file (about 5.7 GB; ``df -h`` is checked first),
scores it once in chunks (time, CPU, peak RSS) and deletes the file and the output.
``--phases`` times the steps of scoring the 1M file in this process (start-up, parse, clean,
arithmetic, format, write) to say where the time goes. ``--profile`` runs the same
``peerscale score`` once in this process under cProfile.
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


BLOCK = 1_000_000


def _block(rng, rows: int) -> dict:
    phi = np.full((5, 5), 0.2) + 0.8 * np.eye(5)
    eta = rng.standard_normal((rows, 5)) @ np.linalg.cholesky(phi).T
    cuts = np.array([-1.6, -0.9, -0.3, 0.4, 1.1])
    columns = {}
    for f, (scale, keys) in enumerate(KEYS.items()):
        for key in keys:
            lam = rng.uniform(0.5, 0.75)
            xstar = lam * eta[:, f] + np.sqrt(1 - lam ** 2) * rng.standard_normal(rows)
            code = (np.searchsorted(cuts, xstar) + 1).astype(np.int8)
            if key.startswith("-"):
                code = 7 - code
            blank = rng.random(rows) < BLANK_RATE
            columns[key.lstrip("-")] = (code, blank)
    return columns


def make_data(path: Path, rows: int) -> None:
    """bfi-like items from five correlated factors, cut into 1..6, ~1% blanks; written by pyarrow
    (in blocks of 1M rows above 1M, each with its own seeded generator)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    writer = None
    for start in range(0, rows, BLOCK):
        n = min(BLOCK, rows - start)
        rng = np.random.default_rng(SEED) if rows <= BLOCK else np.random.default_rng([SEED, start // BLOCK])
        columns = {"id": pa.array(np.arange(start + 1, start + n + 1, dtype=np.int64))}
        for name, (code, blank) in _block(rng, n).items():
            columns[name] = pa.array(code, mask=blank)
        table = pa.table(columns)
        if writer is None:
            writer = pacsv.CSVWriter(tmp, table.schema, write_options=pacsv.WriteOptions(quoting_style="none"))
        writer.write_table(table)
    writer.close()
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


def bench(name: str, cmd: list[str], runs: int, cwd: Path, cleanup: Path | None = None, rows: int = 0) -> dict:
    walls, cpus, peaks, loads, uptimes = [], [], [], [], []
    for _ in range(runs):
        if cleanup is not None:
            cleanup.unlink(missing_ok=True)
        loads.append(os.getloadavg()[0])
        uptimes.append(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
        wall, cpu, peak = timed(cmd, cwd)
        walls.append(wall)
        cpus.append(cpu)
        peaks.append(peak)
        print(f"  {name} ({rows:,} rows): {wall:.2f} s wall, {cpu:.2f} s CPU, {peak / 2**20:.0f} MiB "
              f"(load {loads[-1]:.1f})", file=sys.stderr)
    return {"name": name, "rows": rows, "cmd": " ".join(cmd), "walls": walls, "cpus": cpus, "loads": loads,
            "uptimes": uptimes, "best": min(walls), "best_cpu": min(cpus), "peak": max(peaks)}


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


def data_file(rows: int) -> Path:
    return DATA / ("bfi_1m.csv" if rows == 1_000_000 else f"bfi_{rows}.csv")


def score_args(big: Path, out: Path) -> list[str]:
    scales = [a for scale, keys in KEYS.items() for a in ("--scale", f"{scale}={','.join(keys)}")]
    # --min-answered 1 computes what psych::scoreItems(impute = "none") does, so every row is compared
    return ["score", str(big), *scales, "--range", "1:6", "--min-answered", "1", "--id-column", "id",
            "-o", str(out), "--quiet"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--skip-r", action="store_true", help="time peerscale only")
    parser.add_argument("--psych-base-max", type=int, default=1_000_000,
                        help="run psych with read.csv/write.csv up to this many rows")
    parser.add_argument("--profile", action="store_true", help="cProfile one in-process run instead of timing")
    parser.add_argument("--phases", action="store_true", help="time the steps of one in-process run")
    parser.add_argument("--hundred", action="store_true", help="score a 100M-row file once, then delete it")
    parser.add_argument("--keep", action="store_true", help="keep the 10M and 100M data files")
    args = parser.parse_args(argv)

    exe = peerscale_exe()
    if args.hundred:
        print(markdown_hundred(hundred(exe, args.keep)))
        return
    if args.phases:
        print(markdown_phases(phases(data_file(args.rows[0]))))
        return
    results, agreements, sizes = [], {}, {}
    for rows in args.rows:
        big = data_file(rows)
        if not big.exists():
            print(f"writing {big}", file=sys.stderr)
            make_data(big, rows)
        sizes[rows] = big.stat().st_size / 1e6
        out_ps, out_psych, out_dt = (DATA / f"out_{n}.csv" for n in ("peerscale", "psych", "datatable"))
        if args.profile:
            profile(score_args(big, out_ps), out_ps)
            return
        results.append(bench("peerscale score", [exe, *score_args(big, out_ps)], args.runs, HERE, cleanup=out_ps,
                             rows=rows))
        if not args.skip_r:
            if rows <= args.psych_base_max:
                results.append(bench("R psych::scoreItems (read.csv/write.csv)",
                                     ["Rscript", str(HERE / "bench_score_psych_base.R"), str(big),
                                      str(DATA / "out_psych_base.csv")], args.runs, HERE, rows=rows))
            results.append(bench("R psych::scoreItems (fread/fwrite)", ["Rscript", str(HERE / "bench_score_psych.R"),
                                                                      str(big), str(out_psych)], args.runs, HERE,
                                 rows=rows))
            results.append(bench("R data.table rowMeans", ["Rscript", str(HERE / "bench_score_datatable.R"), str(big),
                                                           str(out_dt)], args.runs, HERE, rows=rows))
            agreements[rows] = agreement(out_ps, out_psych)
        if rows > 1_000_000 and not args.keep:
            big.unlink()
    helps = help_time()
    report = {"machine": versions(), "rows": args.rows, "file_mb": sizes, "results": results, "help_walls": helps,
              "agreement_with_psych": agreements}
    (DATA / "bench_score.json").write_text(json.dumps(report, indent=2))
    print(markdown(report))


def phases(big: Path) -> dict:
    """Wall and CPU seconds of each step of scoring ``big`` (CSV → CSV) in this process, chunk
    by chunk as ``peerscale score`` does (default chunks), but one step after another (the
    command overlaps reading the next chunk and writing the last with scoring)."""
    import resource

    steps = ["imports (numpy, pandas, pyarrow, peerscale)",
             "parse (pyarrow CSV reader, 2 threads) and Arrow → pandas",
             "clean (codes checked 1..6, blanks counted)", "arithmetic (keying, means, counts, summary)",
             "format (CSV text, 11 fields a row)", "write (and fsync)"]
    out = {k: [0.0, 0.0] for k in steps}

    def clock():
        return time.perf_counter(), time.process_time()

    def lap(name, t):
        w, c = clock()
        out[name][0] += w - t[0]
        out[name][1] += c - t[1]
        return clock()

    t = clock()
    import pandas  # noqa: F401
    import pyarrow.csv  # noqa: F401

    from peerscale.io.chunks import ChunkReader
    from peerscale.io.write import render_delimited
    from peerscale.responses import responses_from_table, study_design
    from peerscale.spec import adhoc_instrument

    t = lap(steps[0], t)
    inst = adhoc_instrument([f"{s}={','.join(k)}" for s, k in KEYS.items()], value_range=(1, 6), min_answered=1)
    reader = ChunkReader(big, inst)
    design = study_design(None, big)
    target = DATA / "out_phases.csv"
    rows = chunks = 0
    with open(target, "wb") as fh:
        tables = reader.tables()
        while True:
            try:
                table = next(tables)
            except StopIteration:
                break
            t = lap(steps[1], t)
            r = responses_from_table(table, inst, str(big), design, id_columns=["id"], row_offset=table.first_row)
            t = lap(steps[2], t)
            res = r.score()
            t = lap(steps[3], t)
            bufs = render_delimited(res.scores, ",", header=chunks == 0)
            t = lap(steps[4], t)
            for b in bufs:
                fh.write(b)
            t = lap(steps[5], t)
            rows += len(res.scores)
            chunks += 1
        fh.flush()
        os.fsync(fh.fileno())
        t = lap(steps[5], t)
    target.unlink()
    floor = "floor: read the input bytes (page cache)"
    out[floor] = [0.0, 0.0]
    with open(big, "rb") as fh:
        while fh.read(1 << 24):
            pass
    lap(floor, t)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss << 10
    return {"file": str(big), "rows": rows, "chunks": chunks, "steps": {k: tuple(v) for k, v in out.items()},
            "peak": rss, "uptime": _uptime()}


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def hundred(exe: str, keep: bool) -> dict:
    """Write 100M rows, score them once (in chunks), delete both; time, CPU and peak RSS."""
    rows = 100_000_000
    big = data_file(rows)
    need = 5.7e9 * 1.25 + 1.5e9  # input + output (scores are about a fifth of it) + room
    free = shutil.disk_usage(DATA.parent).free
    df = subprocess.run(["df", "-h", str(DATA.parent)], capture_output=True, text=True).stdout.strip()
    if free < need:
        sys.exit(f"not enough disk for the 100M-row run: {free / 1e9:.0f} GB free\n{df}")
    if not big.exists():
        start = time.perf_counter()
        print(f"writing {big}", file=sys.stderr)
        make_data(big, rows)
        print(f"  written in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    out = DATA / "out_peerscale_100m.csv"
    try:
        res = bench("peerscale score", [exe, *score_args(big, out)], 1, HERE, cleanup=out, rows=rows)
        n_out = sum(1 for _ in open(out, "rb")) - 1
        size_in, size_out = big.stat().st_size, out.stat().st_size
    finally:
        out.unlink(missing_ok=True)
        if not keep:
            big.unlink(missing_ok=True)
    return {"machine": versions(), "df": df, "result": res, "rows_out": n_out, "size_in": size_in,
            "size_out": size_out}


def markdown_hundred(rep: dict) -> str:
    r = rep["result"]
    return "\n".join([
        f"Run {rep['machine']['date']}; `{r['uptimes'][0]}`", "", "```", rep["df"], "```", "",
        f"Input: 100,000,000 rows × 25 items + id, {rep['size_in'] / 1e9:.2f} GB CSV; output "
        f"{rep['rows_out']:,} rows, {rep['size_out'] / 1e9:.2f} GB.", "",
        "| job | wall (s) | CPU user+sys (s) | peak RSS (MiB) | rows/s |", "|---|---|---|---|---|",
        f"| {r['name']} (in chunks) | {r['best']:.1f} | {r['best_cpu']:.1f} | {r['peak'] / 2**20:.0f} | "
        f"{100_000_000 / r['best']:,.0f} |"])


def markdown_phases(rep: dict) -> str:
    lines = [f"In-process steps on {rep['rows']:,} rows in {rep['chunks']} chunks, one after another "
             f"(`{rep['uptime']}`):", "",
             "| step | wall (s) | CPU (s) |", "|---|---|---|"]
    for name, (w, c) in rep["steps"].items():
        lines.append(f"| {name} | {w:.3f} | {c:.3f} |")
    lines += ["", f"Peak RSS of the process: {rep['peak'] / 2**20:.0f} MiB."]
    return "\n".join(lines)


def markdown(rep: dict) -> str:
    m = rep["machine"]
    lines = [f"Run {m['date']}; {m['nproc']} CPUs ({m['cpu']}); Python {m['python']}, numpy {m['numpy']}, "
             f"pandas {m['pandas']}, pyarrow {m['pyarrow']}; {m['r']}.", "",
             "```", m["free"], "```", ""]
    for rows in rep["rows"]:
        mine = [r for r in rep["results"] if r["rows"] == rows]
        if not mine:
            continue
        lines += [f"Input: {rows:,} rows × 25 items + id, {rep['file_mb'][rows] if isinstance(rep['file_mb'], dict) else rep['file_mb']:.0f} MB CSV.", "",
                  "| job | wall (s) | CPU user+sys (s) | peak RSS (MiB) | uptime before the job |",
                  "|---|---|---|---|---|"]
        for r in mine:
            lines.append(f"| {r['name']} | {r['best']:.2f} | {r['best_cpu']:.2f} | {r['peak'] / 2**20:.0f} | "
                         f"`{r['uptimes'][0].split('load average:')[-1].strip()}` |")
        ps = mine[0]
        lines.append("")
        for r in mine[1:]:
            lines.append(f"- {r['name']} ÷ peerscale: wall {r['best'] / ps['best']:.2f}×, "
                         f"CPU {r['best_cpu'] / ps['best_cpu']:.2f}×")
        agree = (rep.get("agreement_with_psych") or {}).get(rows) or (rep.get("agreement_with_psych") or {}).get(str(rows))
        if agree:
            lines += ["", "| scale | rows scored by both | max abs diff vs psych |", "|---|---|---|"]
            for scale, a in agree.items():
                lines.append(f"| {scale} | {a['rows_compared']:,} | {a['max_abs_diff']:.1e} |")
        lines.append("")
    h = rep["help_walls"]
    lines += [f"`peerscale --help`: best of {len(h)} {min(h):.3f} s (all: {', '.join(f'{w:.3f}' for w in h)})"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
