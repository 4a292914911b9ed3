"""Is a correlation matrix worth factoring? KMO and Bartlett's sphericity test, as psych.

- Kaiser–Meyer–Olkin measure of sampling adequacy (Kaiser 1970; Kaiser & Rice 1974), as
  ``psych::KMO``: with R the correlations and Q the partial (anti-image) correlations
  ``Q = -cov2cor(R^{-1})`` (sign irrelevant, only squares are used), off-diagonals only,
  ``MSA = ΣΣ r_ij² / (ΣΣ r_ij² + ΣΣ q_ij²)``, and per item ``MSA_j`` the same over column j.
- Bartlett's (1951) test that R is an identity matrix, as ``psych::cortest.bartlett``:
  ``χ² = −ln|R| · (n − 1 − (2p + 5)/6)``, ``df = p(p − 1)/2``.

Data frames are correlated pairwise-complete (psych's ``cor(x, use="pairwise")``) and n is
the number of rows, as psych does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from ..errors import PeerscaleError
from .data import Summarised, fmt
from .efa import correlation_input


@dataclass(repr=False)
class KMOResult(Summarised):
    """Overall ``msa`` and per-item ``msa_items`` (psych's ``MSA`` and ``MSAi``)."""

    msa: float
    msa_items: pd.Series

    def to_frame(self) -> pd.DataFrame:
        return self.msa_items.to_frame("msa")

    def summary(self) -> str:
        return (f"Kaiser-Meyer-Olkin factor adequacy\nOverall MSA = {fmt(self.msa)}\nMSA for each item = "
                + "  ".join(f"{k} {fmt(v)}" for k, v in self.msa_items.items()))


@dataclass(repr=False)
class BartlettResult(Summarised):
    """Bartlett's χ², its degrees of freedom, p value and the n used."""

    chisq: float
    df: int
    pvalue: float
    n: int

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"chisq": self.chisq, "df": self.df, "pvalue": self.pvalue, "n": self.n}])

    def summary(self) -> str:
        return f"Bartlett's test of sphericity: chisq({self.df}) = {self.chisq:.2f}, p = {self.pvalue:.3g}, n = {self.n}"


def kmo(data_or_corr) -> KMOResult:
    """Kaiser–Meyer–Olkin measure of sampling adequacy, overall and per item.

    Parameters
    ----------
    data_or_corr : pandas.DataFrame or array-like
        Item responses (pairwise correlations) or a correlation matrix.

    Returns
    -------
    KMOResult
        ``msa`` and ``msa_items``.

    Notes
    -----
    ``MSA = ΣΣ r_ij² / (ΣΣ r_ij² + ΣΣ q_ij²)`` over the off-diagonal correlations r and partial
    correlations q (``−cov2cor(R⁻¹)``).

    References
    ----------
    Kaiser, H. F. (1970). Psychometrika, 35, 401-415.

    Examples
    --------
    As ``psych::KMO(x)``:

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(2)
    >>> f = rng.normal(size=(400, 2))
    >>> x = pd.DataFrame(np.column_stack([f[:, [0]] + rng.normal(size=(400, 3)), f[:, [1]] + rng.normal(size=(400, 3))]),
    ...                  columns=["a1", "a2", "a3", "b1", "b2", "b3"])
    >>> from peerscale.psychometrics import kmo
    >>> 0 < kmo(x).msa < 1
    True
    """
    r, cols, _ = correlation_input(data_or_corr)
    try:
        inv = np.linalg.inv(r)
        if np.linalg.cond(r) > 1e12 or np.any(np.diag(inv) <= 0):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        raise PeerscaleError("the correlation matrix is singular, so partial correlations "
                             "are undefined", hint="drop items that duplicate others") from None
    d = 1.0 / np.sqrt(np.diag(inv))
    q = inv * np.outer(d, d)
    np.fill_diagonal(q, 0.0)
    r0 = r.copy()
    np.fill_diagonal(r0, 0.0)
    r2, q2 = r0 ** 2, q ** 2
    msa = float(r2.sum() / (r2.sum() + q2.sum()))
    items = r2.sum(axis=0) / (r2.sum(axis=0) + q2.sum(axis=0))
    return KMOResult(msa=msa, msa_items=pd.Series(items, index=cols, name="msa"))


def bartlett_sphericity(data_or_corr, n_obs: int | None = None) -> BartlettResult:
    """Bartlett's test that the correlation matrix is an identity matrix.

    Parameters
    ----------
    data_or_corr : pandas.DataFrame or array-like
        Item responses (pairwise correlations; n = rows) or a correlation matrix.
    n_obs : int, optional
        Number of observations; required with a matrix.

    Returns
    -------
    BartlettResult
        ``chisq = −ln|R|·(n − 1 − (2p + 5)/6)`` on ``p(p − 1)/2`` degrees of freedom, its p value, n.

    References
    ----------
    Bartlett, M. S. (1951). Journal of the Royal Statistical Society B, 13, 1-24.

    Examples
    --------
    As ``psych::cortest.bartlett(x)``:

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(2)
    >>> f = rng.normal(size=(400, 2))
    >>> x = pd.DataFrame(np.column_stack([f[:, [0]] + rng.normal(size=(400, 3)), f[:, [1]] + rng.normal(size=(400, 3))]),
    ...                  columns=["a1", "a2", "a3", "b1", "b2", "b3"])
    >>> from peerscale.psychometrics import bartlett_sphericity
    >>> bartlett_sphericity(x).df
    15
    """
    r, _, n = correlation_input(data_or_corr, n_obs)
    if n is None:
        raise PeerscaleError("Bartlett's test needs the number of observations",
                             hint="pass n_obs with a correlation matrix")
    p = r.shape[0]
    sign, logdet = np.linalg.slogdet(r)
    if sign <= 0:
        raise PeerscaleError("the correlation matrix is singular or not positive definite",
                             hint="drop items that duplicate others")
    chisq = float(-logdet * (n - 1 - (2 * p + 5) / 6.0))
    df = p * (p - 1) // 2
    return BartlettResult(chisq=chisq, df=df, pvalue=float(special.chdtrc(df, chisq)), n=int(n))
