"""Benchmark peerscale.io: read a 1,000,000-row REDCap-style CSV and a 100,000-row .sav,
write 1,000,000 rows of scores to CSV. Each case runs in a fresh process so its peak RSS
(resource.getrusage ru_maxrss) is its own; times are wall-clock, best of --repeat runs,
including imports. Data are generated into benchmarks/data/ (git-ignored).

    python benchmarks/bench_io.py            # all cases, prints a markdown table
    python benchmarks/bench_io.py --case csv # one case (used internally)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
CSV = DATA / "redcap_1m.csv"
SAV = DATA / "scores_100k.sav"
N_CSV, N_SAV = 1_000_000, 100_000


def instrument():
    from peerscale.spec import load_instrument
    return load_instrument("pbr-y")


def make_data():
    import numpy as np
    import pandas as pd
    import pyreadstat

    DATA.mkdir(exist_ok=True)
    items = list(instrument().items)[:27]
    rng = np.random.default_rng(2026)
    if not CSV.exists():
        n = N_CSV
        df = pd.DataFrame({"record_id": np.char.zfill((np.arange(n) // 2 + 1).astype(str), 6),
                           "redcap_event_name": np.where(np.arange(n) % 2 == 0, "baseline_arm_1", "followup_arm_1")})
        for iid in items:
            x = rng.integers(1, 6, n).astype(float)
            x[rng.random(n) < 0.03] = np.nan
            df[iid] = x
        df["pbr_y_complete"] = 2
        df.to_csv(CSV, index=False, float_format="%g")
    if not SAV.exists():
        n = N_SAV
        df = pd.DataFrame({"record_id": np.char.zfill(np.arange(n).astype(str), 6)})
        for iid in items:
            df[iid] = rng.integers(1, 6, n).astype(float)
        pyreadstat.write_sav(df, str(SAV), column_labels={i: f"item {i}" for i in items},
                             variable_value_labels={i: {1.0: "Strongly disagree", 5.0: "Strongly agree"} for i in items},
                             missing_ranges={i: [9.0] for i in items})


def _timed_read(path, inst):
    import pandas  # noqa: F401  (imports are timed separately: "read s" is the call alone)
    import pyarrow.csv  # noqa: F401
    import pyreadstat  # noqa: F401

    from peerscale.io import read_table
    t1, c1 = time.perf_counter(), time.process_time()
    t = read_table(path, instrument=inst)
    return t, round(time.perf_counter() - t1, 3), round(time.process_time() - c1, 3)


def run_case(case: str) -> dict:
    t0 = time.perf_counter()
    if case in ("csv", "sav"):
        t, read_s, cpu = _timed_read(CSV if case == "csv" else SAV, instrument())
        info = {"rows": len(t.data), "cols": t.data.shape[1], "read_s": read_s, "cpu_s": cpu}
    elif case == "csv-noinst":
        t, read_s, cpu = _timed_read(CSV, None)
        info = {"rows": len(t.data), "cols": t.data.shape[1], "read_s": read_s, "cpu_s": cpu}
    elif case == "pandas-csv":
        import pandas as pd
        t1, c1 = time.perf_counter(), time.process_time()
        df = pd.read_csv(CSV, dtype={"record_id": str})
        info = {"rows": len(df), "cols": df.shape[1], "read_s": round(time.perf_counter() - t1, 3),
                "cpu_s": round(time.process_time() - c1, 3)}
    elif case == "write-csv":
        import numpy as np
        import pandas as pd
        from peerscale.io import write_table
        rng = np.random.default_rng(1)
        df = pd.DataFrame({"record_id": np.char.zfill(np.arange(N_CSV).astype(str), 7)})
        for s in ["share", "valid", "trust", "auth", "mutual", "auton", "hope", "care"]:
            df[s] = rng.integers(5, 26, N_CSV) / 5
            df[s + "_n"] = 7
        t1, c1 = time.perf_counter(), time.process_time()
        out = DATA / "scores_1m.csv"
        write_table(df, out, force=True)
        info = {"rows": len(df), "cols": df.shape[1], "read_s": round(time.perf_counter() - t1, 3),
                "cpu_s": round(time.process_time() - c1, 3)}
    else:
        raise SystemExit(f"unknown case {case}")
    info["seconds"] = round(time.perf_counter() - t0, 3)
    info["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return info


def fread_seconds() -> tuple[float, float] | None:
    if not shutil.which("Rscript"):
        return None
    code = (f"suppressMessages(library(data.table)); t <- system.time(d <- fread('{CSV}', colClasses=list(character='record_id')));"
            " cat(t[['elapsed']], t[['user.self']] + t[['sys.self']] + t[['user.child']] + t[['sys.child']])")
    out = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True)
    try:
        wall, cpu = (float(x) for x in out.stdout.split())
        return wall, cpu
    except ValueError:
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case)))
        return
    make_data()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}")
    print(f"CSV: {CSV.name}, {CSV.stat().st_size / 1e6:.1f} MB; SAV: {SAV.name}, {SAV.stat().st_size / 1e6:.1f} MB\n")
    print(f"load average before: {os.getloadavg()[0]:.2f} (other processes share the cores)\n")
    print("| case | rows x cols | call alone: wall s best / median | call alone: CPU s best | whole process wall s (best) | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    for case in ["csv", "csv-noinst", "pandas-csv", "sav", "write-csv"]:
        runs = [json.loads(subprocess.run([sys.executable, __file__, "--case", case], capture_output=True, text=True,
                                          check=True).stdout) for _ in range(args.repeat)]
        calls = sorted(r["read_s"] for r in runs)
        best = min(runs, key=lambda r: r["seconds"])
        print(f"| {case} | {best['rows']} x {best['cols']} | {calls[0]} / {calls[len(calls) // 2]} | "
              f"{min(r['cpu_s'] for r in runs)} | {best['seconds']} | {max(r['peak_rss_mb'] for r in runs)} |")
    f = fread_seconds()
    if f is not None:
        print(f"\nR data.table::fread of the same CSV (inside R, excluding R start-up): wall {f[0]} s, CPU {f[1]} s")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
