"""Six-factor CFA benchmark: the relationship bank (pbr-y) on 2,000 simulated respondents.

The model is the instrument's own correlated-factors structure over its six core dimension
scales (``instrument_model(load_instrument("pbr-y"), "correlated")``: 42 items, 99 free
parameters). Data: six correlated factors (r = .45), loadings .55-.80, 5-point answers by
cutting the continuous responses at fixed thresholds (``numpy.random.default_rng(SEED)``),
written to ``benchmarks/data/pbr_y_2000.csv`` (git-ignored) and read by both tools.

Timed (fresh process each run, best of ``--runs``): ``fit_cfa`` + ``fit_measures`` +
``standardized_solution`` against ``lavaan::cfa`` + ``fitMeasures`` + ``standardizedSolution``
(listwise, defaults) for each estimator of ``--estimators``: ML, MLR (robust) and DWLS
(items as ordinal; lavaan's ``ordered=TRUE, estimator="WLSMV"``). Peak RSS from
``/usr/bin/time -v``. The fit measures of both are printed so the parity on this larger
model is recorded too.

Usage: ``python benchmarks/bench_cfa.py [--runs 3] [--n 2000] [--estimators ml,mlr,dwls] [--skip-r]``.
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
SEED = 20261127

PY = """
import json, time, pandas as pd
from peerscale.psychometrics.cfa import fit_cfa, standardized_solution
from peerscale.psychometrics.fit import fit_measures
x = pd.read_csv({data!r})
model = open({model!r}).read()
t = time.perf_counter()
res = fit_cfa(model, x, estimator={est!r})
fm = fit_measures(res)
std = standardized_solution(res)
sec = time.perf_counter() - t
print(json.dumps({{"seconds": sec, "chisq": fm["chisq"], "df": fm["df"], "cfi": fm["cfi"], "tli": fm["tli"],
                  "rmsea": fm["rmsea"], "rmsea_lo": fm["rmsea_ci"][0], "rmsea_hi": fm["rmsea_ci"][1],
                  "srmr": fm["srmr"], "chisq_scaled": fm.get("chisq_scaled"), "iterations": res.iterations}}))
"""


def make_data(n: int) -> tuple[Path, Path]:
    import peerscale
    from peerscale.psychometrics.cfa import instrument_model

    inst = peerscale.load_instrument("pbr-y")
    model, _ = instrument_model(inst, "correlated")
    scales = [line.split("=~")[0].strip() for line in model.splitlines()]
    items = [[i.strip() for i in line.split("=~")[1].split("+")] for line in model.splitlines()]
    rng = np.random.default_rng(SEED)
    k = len(scales)
    phi = np.full((k, k), 0.45) + np.eye(k) * 0.55
    f = rng.multivariate_normal(np.zeros(k), phi, size=n)
    cols = {}
    cuts = np.array([-1.6, -0.8, 0.1, 1.0])
    for j, its in enumerate(items):
        for it in its:
            lam = rng.uniform(0.55, 0.80)
            y = lam * f[:, j] + np.sqrt(1 - lam ** 2) * rng.standard_normal(n)
            cols[it] = 1 + np.searchsorted(cuts, y)
    DATA.mkdir(exist_ok=True)
    data_path, model_path = DATA / f"pbr_y_{n}.csv", DATA / "pbr_y_correlated.lav"
    pd.DataFrame(cols).to_csv(data_path, index=False)
    model_path.write_text(model + "\n")
    return data_path, model_path


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--skip-r", action="store_true")
    ap.add_argument("--estimators", default="ml,mlr,dwls")
    a = ap.parse_args(argv)
    data, model = make_data(a.n)
    lavaan_name = {"ml": "ML", "mlr": "MLR", "dwls": "WLSMV"}
    rows = []
    for est in a.estimators.split(","):
        rows.append((f"peerscale {est.upper()}", best([sys.executable, "-c", PY.format(data=str(data), model=str(model),
                                                                                     est=est.upper())], a.runs)))
        if not a.skip_r:
            rows.append((f"lavaan {lavaan_name[est]}", best(["Rscript", str(HERE / "bench_cfa.R"), str(data), str(model),
                                                             lavaan_name[est]], a.runs)))
    print(f"| tool | call (s, best of {a.runs}) | process wall (s) | peak RSS (MB) | iterations |")
    print("|---|---:|---:|---:|---:|")
    for name, r in rows:
        print(f"| {name} | {r['seconds']:.2f} | {r['wall']:.2f} | {r['rss_mb']:.0f} | {r['iterations']} |")
    print()
    keys = ["chisq", "df", "cfi", "tli", "rmsea", "rmsea_lo", "rmsea_hi", "srmr", "chisq_scaled"]
    print("| measure | " + " | ".join(n for n, _ in rows) + " |")
    print("|---|" + "---:|" * len(rows))
    for k in keys:
        cells = []
        for _, r in rows:
            v = r.get(k)
            cells.append("—" if v is None or (isinstance(v, float) and v != v) else
                         (f"{v:.6f}" if isinstance(v, float) else str(v)))
        print(f"| {k} | " + " | ".join(cells) + " |")

if __name__ == "__main__":
    main()
