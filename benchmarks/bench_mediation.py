"""Timing of `peerscale mediation` on the bundled example (issue 9): the 5,000-resample
bootstrap on observed scores (rows and worker clusters), the bootstrap of the latent model
with 1 and 2 worker processes (same intervals), and the latent variants.
Run from the repository root: PYTHONPATH=$PWD python benchmarks/bench_mediation.py [--items]"""

import os
import resource
import sys
import time

import peerscale
from peerscale.examples import path

src = path("youth_export.csv")
args = dict(x="act_total", m="pbr_core", y="out_total")


def cpu() -> float:
    """CPU seconds of this process and its finished children (the pool's workers)."""
    own = time.process_time()
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own + ch.ru_utime + ch.ru_stime


def timed(**kw):
    t, c = time.perf_counter(), cpu()
    r = peerscale.mediation(src, **args, **kw)
    r.cpu = cpu() - c
    return time.perf_counter() - t, r


print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

el, base = timed()
print(f"observed, no bootstrap (read and score 3 forms, fit): {el:.2f} s")
for cluster in (None, True):
    el, r = timed(bootstrap=5000, seed=1, cluster=cluster)
    print(f"observed, bootstrap 5000 resampling {r.bootstrap['resampled']}: {el:.2f} s in the call, of which "
          f"bootstrap {r.bootstrap['seconds']:.2f} s; percentile {r.indirect['ci_percentile']}")
runs = {}
for w in (1, 2):
    el, r = timed(latent="subscales", bootstrap=500, seed=1, workers=w)
    runs[w] = r
    print(f"latent (subscales, listwise), bootstrap 500, {w} process(es): {el:.2f} s wall, {r.cpu:.2f} CPU-s "
          f"(bootstrap {r.bootstrap['seconds']:.2f} s wall; {r.bootstrap['n_ok']} converged)")
print(f"load average at end: {os.getloadavg()[0]:.1f}")
print("  identical intervals for 1 and 2 processes:",
      runs[1].indirect["ci_bc"] == runs[2].indirect["ci_bc"] and
      runs[1].indirect["ci_percentile"] == runs[2].indirect["ci_percentile"])
for latent, missing in (("subscales", "listwise"), ("subscales", "fiml")) + ((("items", "fiml"),) if "--items" in sys.argv else ()):
    el, r = timed(latent=latent, missing=missing)
    print(f"latent {latent} ({missing}): {el:.2f} s, n = {r.n}, {len(r.fit.spec.observed)} indicators, "
          f"indirect {r.indirect['est']:.3f} (SE {r.indirect['se']:.3f})")
