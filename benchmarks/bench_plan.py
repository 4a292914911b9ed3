"""Benchmark ``peerscale plan`` (issue 12) against a lavaan ``simulateData`` + ``cfa`` loop in R.

The plan: the six-factor pbr-y model (its six core dimension scales, 36 items; one factor per
scale with labelled loadings and residuals and omega per scale as ``:=``, ``std_lv``), ML,
n = 150, 300, 500, ``--reps`` replications each (default 200), from the ``population:`` block of
``scoring/pbr-y.yaml``. Timed in a fresh process with 1 and with 2 worker processes (wall time;
peak memory is the largest sum of RSS over the process tree, sampled every 50 ms), and the same
work per replication in R: ``simulateData`` from the same population (standardised loadings,
factor correlations, thresholds) + ``cfa(std.lv = TRUE)`` with the same analysis model +
``fitMeasures`` + ``parameterEstimates``, on ``--r-reps`` replications per n (the R loop is
single-process; its per-replication time is what is compared). The machine's load (uptime) is
recorded before and after, since the machine may be shared.

Usage: ``python benchmarks/bench_plan.py [--reps 200] [--r-reps 50] [--skip-r]``; writes the
numbers as JSON to stdout (copied into ``benchmarks/RESULTS-plan.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NS = "150,300,500"

PY = """
import json, sys, time
sys.path.insert(0, {root!r})
import peerscale
t = time.perf_counter()
res = peerscale.plan("pbr-y", n=[150, 300, 500], reps={reps}, seed=1, processes={procs}, estimator="ml")
sec = time.perf_counter() - t
tab = res.table()
print(json.dumps({{"seconds": sec, "truth_seconds": res.truth_seconds,
                  "per_rep": (sec - res.truth_seconds) / (3 * {reps}), "convergence": tab["convergence"].tolist(),
                  "coverage": tab["loading_coverage"].tolist(), "cfi_ok": tab["cfi_ok"].tolist()}}))
"""


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def run_tree(cmd: list[str], env=None) -> dict:
    """Run ``cmd``; wall seconds and the peak of the summed RSS of it and its children."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    parent = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            procs = [parent] + parent.children(recursive=True)
            peak = max(peak, sum(p.memory_info().rss for p in procs if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    out, err = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"{cmd[0]} failed:\n{err[-2000:]}")
    return {**json.loads(out.strip().splitlines()[-1]), "wall": time.perf_counter() - t, "peak_mb": peak / 2 ** 20}


def lavaan_models() -> tuple[str, str]:
    """The population in lavaan syntax (for simulateData) and the analysis model of the plan."""
    import peerscale
    from peerscale.simulation.plan import model_syntax

    inst = peerscale.load_instrument("pbr-y")
    pop = inst.population
    core = [s for s in inst.scales if s.composite][0].of_scales
    lines = []
    for s in core:
        items = inst.scale(s).items
        lines.append(f"{s} =~ " + " + ".join(f"{pop.loadings[i]:.4f}*{i}" for i in items))
    idx = {f: k for k, f in enumerate(pop.factors)}
    for a, fa in enumerate(core):
        for fb in core[a + 1:]:
            lines.append(f"{fa} ~~ {pop.phi[idx[fa]][idx[fb]]:.4f}*{fb}")
    for s in core:
        for i in inst.scale(s).items:
            lines.append(f"{i} | " + " + ".join(f"{t:.4f}*t{k + 1}" for k, t in enumerate(pop.thresholds[i])))
    analysis = model_syntax({s: list(inst.scale(s).items) for s in core}, "ML")
    return "\n".join(lines) + "\n", analysis + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--r-reps", type=int, default=50)
    ap.add_argument("--skip-r", action="store_true")
    args = ap.parse_args(argv)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = {"uptime_before": uptime(), "cores": os.cpu_count(), "reps_per_n": args.reps}
    for procs in (1, 2):
        out[f"peerscale_{procs}"] = run_tree([sys.executable, "-c", PY.format(root=str(ROOT), reps=args.reps,
                                                                              procs=procs)], env)
        print(f"peerscale, {procs} process(es): {out[f'peerscale_{procs}']}", file=sys.stderr)
    if not args.skip_r:
        pop, analysis = lavaan_models()
        with tempfile.TemporaryDirectory() as tmp:
            p, a = Path(tmp) / "pop.lav", Path(tmp) / "model.lav"
            p.write_text(pop)
            a.write_text(analysis)
            out["lavaan"] = run_tree(["Rscript", str(HERE / "bench_plan.R"), str(p), str(a), NS, str(args.r_reps), "1"])
        print(f"lavaan: {out['lavaan']}", file=sys.stderr)
    out["uptime_after"] = uptime()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
