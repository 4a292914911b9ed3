"""Ordinal measurement-invariance benchmark: a 42-item six-factor bank (the relationship
bank's six core dimensions, seven items each) in two groups of 1,000 simulated respondents,
peerscale against lavaan + semTools.

The model is a correlated-factors structure over pbr-y's six core dimension scales with
``--items`` items each (default 7: the 42-item bank of issue 11; the bank itself now has six
items per dimension). Data: six correlated factors (r = .45), loadings .55-.80, 5-point
answers; the second group has latent means +0.3, latent variances 1.2, two weaker loadings
and three shifted thresholds (``numpy.random.default_rng(SEED)``), written to
``benchmarks/data/pbr_y_invariance_*.csv`` (git-ignored) and read by both tools.

Timed (fresh process each run, best of ``--runs``): the Wu & Estabrook (2016) sequence —
configural, thresholds, thresholds + loadings, + intercepts, DWLS (WLSMV), delta
parameterisation — with the fit measures of every step and the scaled χ² difference tests:
``measurement_invariance(model, data, "group", estimator="DWLS")`` against
``semTools::measEq.syntax(..., ID.cat = "Wu.Estabrook.2016")`` + ``lavaan::cfa`` +
``fitMeasures`` + ``lavTestLRT`` per step (benchmarks/bench_invariance.R). Peak RSS from
``/usr/bin/time -v``. The statistics of both are printed so the parity on this larger model
is recorded too.

Usage: ``python benchmarks/bench_invariance.py [--runs 3] [--n 1000] [--items 7] [--skip-r]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from timing import best  # benchmarks/timing.py

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
sys.path.insert(0, str(HERE.parent))  # this checkout's peerscale, not an installed one
SEED = 20261201
LEVELS = ("configural", "thresholds", "metric", "scalar")

PY = """
import json, time, pandas as pd
from peerscale.psychometrics.invariance import measurement_invariance
x = pd.read_csv({data!r})
model = open({model!r}).read()
t = time.perf_counter()
tab, fits = measurement_invariance(model, x, "group", estimator="DWLS")
sec = time.perf_counter() - t
print(json.dumps({{"seconds": sec, "chisq": list(map(float, [f.chisq for f in fits.values()])),
                  "df": [int(f.df) for f in fits.values()], "chisq_scaled": list(map(float, tab.chisq)),
                  "cfi_scaled": list(map(float, tab.cfi)), "rmsea_scaled": list(map(float, tab.rmsea)),
                  "diff": list(map(float, tab.chisq_diff.iloc[1:]))}}))
"""


def make_data(n: int, per_factor: int = 7) -> tuple[Path, Path]:
    import peerscale
    from peerscale.psychometrics.cfa import instrument_model

    model, _ = instrument_model(peerscale.load_instrument("pbr-y"), "correlated")
    scales = [line.split("=~")[0].strip() for line in model.splitlines()]
    items = [[f"{sc}_{k + 1}" for k in range(per_factor)] for sc in scales]
    model = "\n".join(f"{sc} =~ {' + '.join(its)}" for sc, its in zip(scales, items))
    rng = np.random.default_rng(SEED)
    k = len(items)
    phi = np.full((k, k), 0.45) + np.eye(k) * 0.55
    lams = {it: rng.uniform(0.55, 0.80) for its in items for it in its}
    cuts = np.array([-1.6, -0.8, 0.1, 1.0])
    flat = [it for its in items for it in its]
    weaker, shifted = set(flat[3:5]), set(flat[10:13])
    frames = []
    for g, (mean, var) in enumerate(((0.0, 1.0), (0.3, 1.2))):
        f = rng.multivariate_normal(np.full(k, mean), phi * var, size=n)
        cols = {}
        for j, its in enumerate(items):
            for it in its:
                lam = lams[it] * (0.7 if g == 1 and it in weaker else 1.0)
                y = lam * f[:, j] + np.sqrt(1 - lams[it] ** 2) * rng.standard_normal(n)
                cols[it] = 1 + np.searchsorted(cuts + (0.3 if g == 1 and it in shifted else 0.0), y)
        frames.append(pd.DataFrame(cols).assign(group="ab"[g]))
    DATA.mkdir(exist_ok=True)
    data_path = DATA / f"pbr_y_invariance_{len(flat)}x{n}.csv"
    model_path = DATA / f"pbr_y_invariance_{len(flat)}.lav"
    pd.concat(frames, ignore_index=True).to_csv(data_path, index=False)
    model_path.write_text(model + "\n")
    return data_path, model_path


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--n", type=int, default=1000, help="respondents per group")
    ap.add_argument("--items", type=int, default=7, help="items per factor (six factors)")
    ap.add_argument("--skip-r", action="store_true")
    args = ap.parse_args(argv)
    data, model = make_data(args.n, args.items)
    root = HERE.parent
    py = best([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(root)!r})\n"
               + PY.format(data=str(data), model=str(model))], args.runs)
    rows = [("peerscale", py)]
    if not args.skip_r:
        rows.append(("lavaan + semTools", best(["Rscript", str(HERE / "bench_invariance.R"), str(data), str(model)],
                                               args.runs)))
    print(f"Ordinal invariance sequence (Wu & Estabrook, DWLS, delta), {6 * args.items} items, six factors, "
          f"2 x {args.n}, "
          f"best of {args.runs}")
    print(f"{'tool':<20}{'seconds':>10}{'peak RSS MB':>14}")
    for name, r in rows:
        print(f"{name:<20}{r['seconds']:>10.2f}{r['rss_mb']:>14.0f}")
    for k, level in enumerate(LEVELS):
        line = f"{level:<12}" + "".join(f"  {name.split()[0]}: chisq {r['chisq'][k]:.6f} df {r['df'][k]}"
                                       f" scaled {r['chisq_scaled'][k]:.6f} CFI {r['cfi_scaled'][k]:.6f}"
                                       f" RMSEA {r['rmsea_scaled'][k]:.6f}" for name, r in rows)
        print(line)
    for k, level in enumerate(LEVELS[1:]):
        print(f"diff {level:<10}" + "".join(f"  {name.split()[0]}: {r['diff'][k]:.6f}" for name, r in rows))


if __name__ == "__main__":
    main()
