"""Writes tests/fixtures/irt/sim_*.csv: a bank-sized simulated graded-response data set and the
Python mirt package's estimates for it (the independent-implementation cross-check of
tests/test_irt.py). Run from the repository root: ``python tests/py/irt_mirt.py``.

Data: 42 items, 2,000 respondents, 5 categories, 3% of answers missing completely at random;
generating slopes U(0.8, 2.5), thresholds sorted N(0, 1), theta ~ N(0, 1), seed 20240610.
mirt 1.2.0 (pip install mirt==1.2.0): ``fit_mirt(model="GRM", n_quadpts=121, tol=1e-6)``;
EAP scores of the first 200 respondents from mirt's own estimates with ``n_quadpts=601``
(its default 49 Gauss-Hermite nodes are too coarse for posteriors this sharp).
"""

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "irt"


def simulate(seed=20240610, n=2000, J=42, K=5, missing=0.03):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.8, 2.5, J)
    b = np.sort(rng.normal(0, 1, (J, K - 1)), axis=1)
    d = -a[:, None] * b
    theta = rng.normal(size=n)
    z = a[:, None, None] * theta[None, None, :] + d[:, :, None]  # J x K-1 x n
    pstar = 1 / (1 + np.exp(-z))
    u = rng.uniform(size=(J, n))
    x = (u[:, None, :] < pstar).sum(axis=1).T.astype(float) + 1  # codes 1..K
    x[rng.uniform(size=x.shape) < missing] = np.nan
    return x, a, d, theta


def main():
    import mirt

    x, a, d, theta = simulate()
    J = x.shape[1]
    names = [f"I{j + 1:02d}" for j in range(J)]
    pd.DataFrame(x, columns=names).to_csv(OUT / "sim_grm.csv", index=False, na_rep="", float_format="%.0f")
    gen = pd.DataFrame({"item": names, "a": a, **{f"d{k + 1}": d[:, k] for k in range(d.shape[1])}})
    gen.to_csv(OUT / "sim_grm_generating.csv", index=False)
    res = mirt.fit_mirt(x - 1, model="GRM", n_categories=5, n_quadpts=121, tol=1e-6, compute_standard_errors=False)
    ma = np.asarray(res.model.parameters["discrimination"], float)
    mb = np.asarray(res.model.parameters["thresholds"], float)
    md = -ma[:, None] * mb
    est = pd.DataFrame({"item": names, "a": ma, **{f"d{k + 1}": md[:, k] for k in range(md.shape[1])}})
    est.to_csv(OUT / "sim_grm_mirt_params.csv", index=False, float_format="%.8f")
    sc = mirt.fscores(res, x[:200] - 1, method="EAP", n_quadpts=601)
    pd.DataFrame({"row": np.arange(1, 201), "eap": np.ravel(sc.theta), "se": np.ravel(sc.standard_error)}).to_csv(
        OUT / "sim_grm_mirt_eap.csv", index=False, float_format="%.8f")
    print(f"mirt {mirt.__version__}: loglik {res.log_likelihood:.4f}, {res.n_iterations} iterations")


if __name__ == "__main__":
    main()
