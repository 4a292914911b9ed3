"""Item response functions of the graded response model (and 2PL/Rasch as its two-category
case), their derivatives, and the quadrature grid.

Slope-intercept form, as mirt's ``coef()``::

    P(X >= k | theta) = F(a * theta + d_k),   k = 1 .. K-1,   d_1 > d_2 > ... > d_{K-1}
    P(X = k | theta)  = P(X >= k) - P(X >= k+1)

with ``F`` the logistic function (``link="logistic"``, mirt's default) or the standard normal
CDF (``link="probit"``, the normal-ogive model of lavaan's categorical factor model). The IRT
form has thresholds ``b_k = -d_k / a``. Parameters are held padded: ``d`` is a J x (Kmax-1)
array with ``-inf`` beyond an item's own K-1 thresholds, so that every item's cumulative
probabilities past its top category are exactly 0 and its padded category probabilities 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LINKS = ("logistic", "probit")
FLOOR = 1e-300  # category probabilities are floored here before logs (never reached in practice)


def _cdf(z: np.ndarray, link: str) -> tuple[np.ndarray, np.ndarray]:
    """F(z) and its density f(z); ``-inf`` gives (0, 0)."""
    if link == "logistic":
        with np.errstate(over="ignore"):
            p = 1.0 / (1.0 + np.exp(-z))
        return p, p * (1.0 - p)
    from scipy.special import ndtr

    p = ndtr(z)
    with np.errstate(invalid="ignore"):
        f = np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
    return p, np.nan_to_num(f, nan=0.0)


def _dens_slope(z: np.ndarray, link: str, p: np.ndarray, f: np.ndarray) -> np.ndarray:
    """f'(z): logistic f(1-2F); normal -z f."""
    if link == "logistic":
        return f * (1.0 - 2.0 * p)
    with np.errstate(invalid="ignore"):
        out = -z * f
    return np.nan_to_num(out, nan=0.0)


@dataclass
class Grid:
    """Quadrature nodes on an equally spaced grid with normal prior weights normalised to sum 1
    (mirt's default for EM: 61 points on [-6, 6]; ``fscores`` uses 121 points on [-6, 6])."""

    nodes: np.ndarray

    @classmethod
    def make(cls, points: int = 61, lo: float = -6.0, hi: float = 6.0) -> "Grid":
        return cls(np.linspace(lo, hi, int(points)))

    def log_weights(self, mean: float = 0.0, var: float = 1.0) -> np.ndarray:
        """log of N(mean, var) density at the nodes, normalised over the grid."""
        lw = -0.5 * (self.nodes - mean) ** 2 / var
        lw -= lw.max()
        return lw - np.log(np.exp(lw).sum())


def cumulative(a: np.ndarray, d: np.ndarray, theta: np.ndarray, link: str = "logistic"):
    """z, P(X >= k) and its density for k = 1..Kmax-1: arrays J x (Kmax-1) x Q."""
    z = a[:, None, None] * theta[None, None, :] + d[:, :, None]
    p, f = _cdf(z, link)
    return z, p, f


def category_probs(a: np.ndarray, d: np.ndarray, theta, link: str = "logistic") -> np.ndarray:
    """P(X = k | theta): J x Kmax x Q (0 for an item's padded categories)."""
    theta = np.atleast_1d(np.asarray(theta, dtype=float))
    _, p, _ = cumulative(a, d, theta, link)
    J, _, Q = p.shape
    star = np.concatenate([np.ones((J, 1, Q)), p, np.zeros((J, 1, Q))], axis=1)
    return np.clip(star[:, :-1] - star[:, 1:], 0.0, 1.0)


def prob_derivatives(a, d, theta, link="logistic"):
    """Category probabilities P (J x K x Q) and dP/dparam (J x K x npar x Q) with params
    ordered (a, d_1 .. d_{Kmax-1}); padded params have zero derivatives."""
    theta = np.asarray(theta, dtype=float)
    _, p, f = cumulative(a, d, theta, link)
    J, Km1, Q = p.shape
    K = Km1 + 1
    zeros = np.zeros((J, 1, Q))
    star = np.concatenate([np.ones((J, 1, Q)), p, zeros], axis=1)
    w = np.concatenate([zeros, f, zeros], axis=1)  # dP*_k/dz_k, k = 0..K
    P = np.clip(star[:, :-1] - star[:, 1:], 0.0, 1.0)
    dP = np.zeros((J, K, K, Q))
    dP[:, :, 0, :] = (w[:, :-1] - w[:, 1:]) * theta  # d/da
    for m in range(1, K):  # d/d d_m: P*_m enters category m with +, category m-1 with -
        dP[:, m - 1, m, :] -= w[:, m]
        dP[:, m, m, :] += w[:, m]
    return P, dP


def expected_score(a, d, theta, link="logistic") -> np.ndarray:
    """E[X | theta] on the 0..K-1 category scale: J x Q (sum of P(X >= k))."""
    _, p, _ = cumulative(a, d, np.atleast_1d(np.asarray(theta, float)), link)
    return p.sum(axis=1)


def item_information(a, d, theta, link="logistic") -> np.ndarray:
    """Fisher information of each item at theta: J x Q, sum_k (dP_k/dtheta)^2 / P_k."""
    theta = np.atleast_1d(np.asarray(theta, dtype=float))
    _, p, f = cumulative(a, d, theta, link)
    J, Km1, Q = p.shape
    zeros = np.zeros((J, 1, Q))
    star = np.concatenate([np.ones((J, 1, Q)), p, zeros], axis=1)
    w = np.concatenate([zeros, f, zeros], axis=1)
    P = star[:, :-1] - star[:, 1:]
    dP = a[:, None, None] * (w[:, :-1] - w[:, 1:])
    with np.errstate(divide="ignore", invalid="ignore"):
        info = np.where(P > 1e-300, dP * dP / np.maximum(P, 1e-300), 0.0)
    return info.sum(axis=1)


def theta_derivatives(a, d, theta, link="logistic"):
    """For each item and person-level theta (n,): P (J x K x n), dP/dtheta, d2P/dtheta2."""
    z, p, f = cumulative(a, d, theta, link)
    fp = _dens_slope(z, link, p, f)
    J, Km1, n = p.shape
    zeros = np.zeros((J, 1, n))
    star = np.concatenate([np.ones((J, 1, n)), p, zeros], axis=1)
    d1 = np.concatenate([zeros, a[:, None, None] * f, zeros], axis=1)
    d2 = np.concatenate([zeros, (a * a)[:, None, None] * fp, zeros], axis=1)
    return star[:, :-1] - star[:, 1:], d1[:, :-1] - d1[:, 1:], d2[:, :-1] - d2[:, 1:]
