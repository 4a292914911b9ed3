"""IRT benchmarks, peerscale and the Python ``mirt`` package (1.2.0) side by side in one run.

Each task runs in its own child process (``/usr/bin/time -v``: wall time and peak RSS); the
reported ``seconds`` are measured inside the child around the call alone (data loading and
imports excluded). Tasks:

1. calibration of the graded response model, 42 items x 2,000 respondents, 5 categories, 3%
   missing (tests/fixtures/irt/sim_grm.csv): peerscale ``fit_grm`` (61 nodes, SQUAREM EM to
   1e-6, with and without Oakes SEs; and ``mirt_compatible=True``, R mirt's own EM path) and
   mirt ``fit_mirt(model="GRM")`` (its default 21 Gauss-Hermite nodes, tol 1e-4; and 61 nodes);
2. EAP scoring of 1,000,000 respondents x 42 items from frozen parameters (simulated from the
   same generating values, 3% missing): peerscale ``score_bank`` (121 nodes on [-6, 6],
   single-precision log-likelihood blocks of 1,024 rows) and mirt ``fscores(method="EAP")``
   (its default 49 nodes, and 121);
3. DIF with 3 groups and 2,000 respondents, the IRT likelihood-ratio test with every other item
   anchoring the studied one (mirt's ``scheme="drop"``): peerscale ``dif_lrt`` and mirt
   ``multigroup_dif(model="GRM", scheme="drop")`` on the first 10 items (both finish), and on
   all 42 items (peerscale in full; mirt testing 1 and 3 of the 42 items, which separates its
   all-items-equal base fit from the time per tested item, so the full 42-item job is
   base + 42 x per item, an extrapolation stated as such); peerscale ``dif_lordif`` (ordinal
   logistic regression with purification) on 42 items.

Usage: ``python benchmarks/bench_irt.py [--runs N]`` (writes nothing; paste into RESULTS-irt.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
DATA = ROOT / "tests" / "fixtures" / "irt" / "sim_grm.csv"


def _sim_large(n, seed=7):
    import numpy as np
    import pandas as pd

    gen = pd.read_csv(ROOT / "tests" / "fixtures" / "irt" / "sim_grm_generating.csv")
    a = gen["a"].to_numpy()
    d = gen[[f"d{k}" for k in range(1, 5)]].to_numpy()
    rng = np.random.default_rng(seed)
    x = np.empty((n, len(a)), dtype=np.float64)
    for s in range(0, n, 100000):
        th = rng.normal(size=min(100000, n - s))
        z = a[None, :, None] * th[:, None, None] + d[None]
        x[s:s + len(th)] = (rng.uniform(size=(len(th), len(a), 1)) < 1 / (1 + np.exp(-z))).sum(axis=2) + 1
    x[rng.uniform(size=x.shape) < 0.03] = np.nan
    return x, [f"I{j + 1:02d}" for j in range(len(a))]


def child(task: str) -> None:
    import numpy as np
    import pandas as pd

    out = {"task": task}
    if task in ("calib_peerscale", "calib_peerscale_nose"):
        from peerscale.irt import fit_grm

        x = pd.read_csv(DATA)
        t = time.perf_counter()
        res = fit_grm(x, se=task == "calib_peerscale")
        out.update(seconds=time.perf_counter() - t, loglik=res.loglik, iterations=res.iterations)
    elif task.startswith("calib_mirt"):
        import mirt

        x = pd.read_csv(DATA).to_numpy(float) - 1
        q = 61 if task.endswith("61") else 21
        t = time.perf_counter()
        res = mirt.fit_mirt(x, model="GRM", n_categories=5, n_quadpts=q, compute_standard_errors=False)
        out.update(seconds=time.perf_counter() - t, loglik=res.log_likelihood, iterations=res.n_iterations)
    elif task == "eap_peerscale":
        from peerscale.irt import fit_grm, score_bank

        bank = fit_grm(pd.read_csv(DATA), se=False).to_bank("s")
        x, names = _sim_large(1_000_000)
        frame = pd.DataFrame(x, columns=names, copy=False)
        t = time.perf_counter()
        s = score_bank(frame, bank, method="EAP")
        out.update(seconds=time.perf_counter() - t, mean_theta=float(np.nanmean(s["theta"])))
    elif task.startswith("eap_mirt"):
        import mirt

        res = mirt.fit_mirt(pd.read_csv(DATA).to_numpy(float) - 1, model="GRM", n_categories=5,
                            compute_standard_errors=False)
        x, _ = _sim_large(1_000_000)
        x -= 1
        q = 121 if task.endswith("121") else None
        t = time.perf_counter()
        s = mirt.fscores(res, x, method="EAP", n_quadpts=q)
        out.update(seconds=time.perf_counter() - t, mean_theta=float(np.nanmean(s.theta)))
    elif task.startswith("dif_"):
        x = pd.read_csv(DATA)
        rng = np.random.default_rng(3)
        groups = np.array(["A", "B", "C"])[rng.integers(0, 3, len(x))]
        if task.endswith("10"):
            x = x.iloc[:, :10]
        t = time.perf_counter()
        if task == "dif_peerscale_lordif":
            from peerscale.irt import dif_lordif
            r = dif_lordif(x, groups)
            out["flagged"] = len(r.flagged)
            out["iterations"] = r.iterations
        elif task.startswith("dif_peerscale_lrt"):
            from peerscale.irt import dif_lrt
            r = dif_lrt(x, groups)
            out["flagged"] = len(r.flagged)
            out["X2_first3"] = [round(v, 3) for v in r.table["X2"].iloc[:3]]
        else:
            from mirt.multigroup import multigroup_dif
            tested = {"dif_mirt42_k1": [0], "dif_mirt42_k3": [0, 1, 2]}.get(task)
            r = multigroup_dif(x.to_numpy(float) - 1, groups, model="GRM", scheme="drop", n_categories=5,
                               items=tested)
            out["tested"] = len(r)
            out["X2_first3"] = [round(float(v), 3) for v in r["chi2"].iloc[:3]]
        out["seconds"] = time.perf_counter() - t
    elif task == "calib_peerscale_mirtpath":
        from peerscale.irt import fit_grm

        x = pd.read_csv(DATA)
        t = time.perf_counter()
        res = fit_grm(x, se=False, mirt_compatible=True)
        out.update(seconds=time.perf_counter() - t, loglik=res.loglik, iterations=res.iterations)
    print(json.dumps(out))


TASKS = ["calib_peerscale", "calib_peerscale_nose", "calib_peerscale_mirtpath", "calib_mirt", "calib_mirt61",
         "eap_peerscale", "eap_mirt", "eap_mirt121",
         "dif_peerscale_lrt10", "dif_mirt10", "dif_peerscale_lrt", "dif_peerscale_lordif",
         "dif_mirt42_k1", "dif_mirt42_k3"]


def main():
    from timing import best

    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    seconds = {}
    for task in args.only or TASKS:
        r = best([sys.executable, __file__, "--child", task], args.runs)
        seconds[task] = r["seconds"]
        extra = {k: v for k, v in r.items() if k not in ("task", "seconds", "wall", "rss_mb")}
        print(f"{task:26s} {r['seconds']:9.2f} s   wall {r['wall']:8.2f} s   peak RSS {r['rss_mb']:7.0f} MB   {extra}",
              flush=True)
    if "dif_mirt42_k1" in seconds and "dif_mirt42_k3" in seconds:
        per_item = (seconds["dif_mirt42_k3"] - seconds["dif_mirt42_k1"]) / 2
        base = seconds["dif_mirt42_k1"] - per_item
        print(f"mirt multigroup_dif, 42 items, extrapolated: base fit {base:.1f} s + 42 x {per_item:.1f} s per tested "
              f"item = {base + 42 * per_item:.0f} s")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        main()
