"""Horn's (1965) parallel analysis as ``psych::fa.parallel`` (psych 2.2.9) with its defaults
``fa="both"``, ``fm="minres"``, ``nfactors=1``, ``SMC=FALSE``, ``sim=TRUE``, ``quant=.95``.

Observed eigenvalues: of R (components) and of R with its diagonal replaced by the
communalities of a one-factor minres fit (factors; psych's ``fa(...)$values``). Each of
``iterations`` replicates computes the same two sets of eigenvalues for

- *resampled* data: every column bootstrapped independently (breaking the correlations,
  keeping the marginal distributions and missingness), pairwise correlations; and
- *simulated* data: n × p independent standard normal deviates.

The suggested number of components (factors) is the count of leading observed eigenvalues
that exceed the 95th percentile (``quantile`` type 7, numpy's default) of the corresponding
eigenvalues of the *simulated* data, which is the rule psych applies when ``sim=TRUE``
(``which(!(observed > sim.ci))[1] - 1``). The resampled quantiles are reported too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from ..errors import PeerscaleError
from .blas import single_threaded_blas
from .data import Summarised, table_text
from .efa import correlation_input, extract


@dataclass(repr=False)
class ParallelResult(Summarised):
    """Observed and reference eigenvalues (each a length-p array) and the suggestion."""

    n_factors: int
    n_components: int
    observed_pc: np.ndarray
    observed_fa: np.ndarray
    simulated_pc: np.ndarray  # 95th percentile per position
    simulated_fa: np.ndarray
    resampled_pc: np.ndarray | None
    resampled_fa: np.ndarray | None
    iterations: int
    quantile: float
    columns: list[str]

    def to_frame(self) -> pd.DataFrame:
        """Observed and reference eigenvalues by position (factors and components)."""
        return self.table()

    def summary(self) -> str:
        """As ``psych::fa.parallel``'s message, with the eigenvalues."""
        return (f"Parallel analysis suggests that the number of factors = {self.n_factors} and the number of "
                f"components = {self.n_components} ({self.iterations} iterations, {self.quantile:.0%} quantile)\n"
                + table_text(self.table().head(10)))

    def table(self) -> pd.DataFrame:
        data = {"observed_pc": self.observed_pc, "simulated_pc": self.simulated_pc,
                "observed_fa": self.observed_fa, "simulated_fa": self.simulated_fa}
        if self.resampled_pc is not None:
            data["resampled_pc"] = self.resampled_pc
            data["resampled_fa"] = self.resampled_fa
        return pd.DataFrame(data, index=pd.RangeIndex(1, len(self.observed_pc) + 1, name="k"))


def factor_eigenvalues(r: np.ndarray) -> np.ndarray:
    """Eigenvalues of R with communalities of a one-factor minres fit on its diagonal."""
    lam, _ = extract(r, 1, "minres")
    rr = r.copy()
    np.fill_diagonal(rr, np.sum(lam ** 2, axis=1))
    return np.sort(np.linalg.eigvalsh(rr))[::-1]


def _eigs(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.sort(np.linalg.eigvalsh(r))[::-1], factor_eigenvalues(r)


def _pairwise_cor(x: np.ndarray) -> np.ndarray:
    if np.isfinite(x).all():
        return np.corrcoef(x, rowvar=False)
    return pd.DataFrame(x).corr(min_periods=2).to_numpy(copy=True)


def _first_not_above(observed: np.ndarray, reference: np.ndarray) -> int:
    above = observed > reference
    return int(np.argmin(above)) if not above.all() else len(observed)


def parallel_analysis(data: pd.DataFrame, *, iterations: int = 20, seed: int | None = None,
                      resample: bool = True, quantile: float = 0.95,
                      progress: Callable[[int], None] | None = None) -> ParallelResult:
    """Horn's parallel analysis of item responses (factors and components).

    Parameters
    ----------
    data : pandas.DataFrame or array-like
        Item responses, NaN = missing (pairwise correlations).
    iterations : int, default 20
        Simulated (and resampled) replicates (psych's ``n.iter``).
    seed : int, optional
        Seeds two independent numpy streams (``SeedSequence(seed).spawn(2)``), one for the
        simulated and one for the resampled replicates, so the suggestion does not depend on
        ``resample``; reproducible in peerscale, not R's random stream.
    resample : bool, default True
        Also draw resampled replicates (each column bootstrapped independently).
    quantile : float, default 0.95
        Quantile of the simulated eigenvalues the observed ones must exceed.
    progress : callable, optional
        Called with 1 after each replicate.

    Returns
    -------
    ParallelResult
        ``n_factors``, ``n_components`` and the eigenvalues (``to_frame()``).

    Notes
    -----
    The suggestion counts the leading observed eigenvalues above the ``quantile`` of the simulated
    ones (psych's rule with ``sim = TRUE``): of R for components, of R with one-factor minres
    communalities on the diagonal for factors.

    References
    ----------
    Horn, J. L. (1965). Psychometrika, 30, 179-185.

    Examples
    --------
    As ``psych::fa.parallel(x, fm = "minres", fa = "both", n.iter = 20)``:

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(2)
    >>> f = rng.normal(size=(400, 2))
    >>> x = pd.DataFrame(np.column_stack([f[:, [0]] + rng.normal(size=(400, 3)), f[:, [1]] + rng.normal(size=(400, 3))]),
    ...                  columns=["a1", "a2", "a3", "b1", "b2", "b3"])
    >>> from peerscale.psychometrics import parallel_analysis
    >>> parallel_analysis(x, iterations=20, seed=1).n_factors
    2
    """
    if not isinstance(data, pd.DataFrame):
        data = pd.DataFrame(np.asarray(data, dtype=float))
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 1:
        raise PeerscaleError("parallel analysis needs at least one iteration (`iterations`)", value=iterations)
    if not 0 < quantile < 1:
        raise PeerscaleError(f"`quantile` must lie between 0 and 1, got {quantile}")
    r, cols, _ = correlation_input(data)
    x = data.to_numpy(dtype=float, copy=True)
    n = x.shape[0]
    if n < 3:
        raise PeerscaleError("parallel analysis needs at least three respondents", value=n)
    with single_threaded_blas():
        return _replicates(x, r, cols, iterations, seed, resample, quantile, progress)


def _replicates(x, r, cols, iterations, seed, resample, quantile, progress) -> ParallelResult:
    n, p = x.shape
    obs_pc, obs_fa = _eigs(r)
    # two independent streams from one seed: the simulated reference (which decides the
    # suggestion) is the same whether or not the resampled replicates are drawn
    sim_rng, res_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    sim_pc, sim_fa, res_pc, res_fa = [], [], [], []
    for _ in range(iterations):
        if resample:
            idx = res_rng.integers(0, n, size=(n, p))
            xs = np.take_along_axis(x, idx, axis=0)
            c = _pairwise_cor(xs)
            if np.isfinite(c).all():
                a, b = _eigs(c)
                res_pc.append(a)
                res_fa.append(b)
        z = sim_rng.standard_normal((n, p))
        a, b = _eigs(np.corrcoef(z, rowvar=False))
        sim_pc.append(a)
        sim_fa.append(b)
        if progress is not None:
            progress(1)
    q = lambda v: np.quantile(np.asarray(v), quantile, axis=0)  # noqa: E731
    s_pc, s_fa = q(sim_pc), q(sim_fa)
    return ParallelResult(
        n_factors=_first_not_above(obs_fa, s_fa), n_components=_first_not_above(obs_pc, s_pc),
        observed_pc=obs_pc, observed_fa=obs_fa, simulated_pc=s_pc, simulated_fa=s_fa,
        resampled_pc=q(res_pc) if res_pc else None, resampled_fa=q(res_fa) if res_fa else None,
        iterations=iterations, quantile=quantile, columns=cols)
