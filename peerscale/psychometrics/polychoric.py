"""Polychoric correlations of ordinal items, two-step as in ``psych::polychoric``.

Each item is taken to be a latent standard normal variable cut at thresholds
``tau_1 < ... < tau_{m-1}``; an item answered in category ``c`` lies between ``tau_{c-1}``
and ``tau_c``. The estimator follows Olsson (1979), two-step version, as psych 2.2.9 does:

1. thresholds from each item's own marginal proportions over every answered case,
   ``tau_c = Phi^-1(P(X <= c))``;
2. for each pair of items, the correlation ``rho`` maximising the bivariate-normal
   likelihood of the pairwise-complete contingency table with the thresholds fixed,
   ``log L(rho) = sum_ij n_ij log P_ij(rho)``, where ``P_ij`` is the bivariate normal
   probability of cell ``(i, j)``. Cells whose model probability is 0 are left out, as
   psych does.

psych's two regimes are kept. When every item reaches the same highest category
("global" thresholds, the usual Likert case) the marginal thresholds are used and no
continuity correction is applied. When items differ in their number of categories, psych
switches to pair-wise thresholds: empty rows and columns of the pair's table are dropped,
empty cells are set to ``correct / N`` (``correct=0.5`` adds half a count) and the
thresholds come from that table's margins. Finally, as psych does, a matrix that is not
positive definite is smoothed (``psych::cor.smooth``: eigenvalues below 1e-12 set to 1e-10,
rescaled to sum to p, and the result rescaled to a correlation matrix).

The bivariate normal probabilities use Genz's (2004) algorithm (Gauss-Legendre
quadrature of Plackett's identity, with Drezner & Wesolowsky's expansion for |rho| > .925);
the maximisation is a golden-section search over (-1, 1), vectorised over all pairs.

References: Olsson, U. (1979). Maximum likelihood estimation of the polychoric correlation
coefficient. Psychometrika, 44, 443-460. Genz, A. (2004). Numerical computation of
rectangular bivariate and trivariate normal and t probabilities. Statistics and Computing,
14, 251-260. Revelle, W. (2022). psych: Procedures for Psychological, Psychometric, and
Personality Research (version 2.2.9), ``polychoric``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from ..errors import PeerscaleError
from .data import Summarised, check_items, table_text  # the same table checks as alpha's

MAX_CATEGORIES = 8  # psych::polychoric(max.cat = 8)
_BIG = 12.0  # stands in for an infinite threshold; Phi(-12) < 1e-32
_GL = {n: np.polynomial.legendre.leggauss(n) for n in (6, 12, 20)}
_GL_X, _GL_W = _GL[20]


@dataclass(repr=False)
class PolychoricResult(Summarised):
    """Polychoric correlation matrix with the thresholds it was estimated from.

    ``rho`` is p x p, ``thresholds[k]`` holds item k's ``m - 1`` marginal thresholds
    (``±inf`` for categories nobody used), ``n`` the pairwise-complete counts,
    ``categories`` the response codes spanned (global minimum to maximum), ``smoothed``
    whether ``cor.smooth`` had to be applied, ``global_thresholds`` which of psych's two
    regimes was used and ``corrected_pairs`` in how many item pairs the continuity
    correction filled empty cells (always 0 in the global regime; psych's warning counts
    the same pairs).
    """

    rho: np.ndarray
    thresholds: list[np.ndarray]
    columns: list
    n: np.ndarray
    categories: np.ndarray
    smoothed: bool = False
    global_thresholds: bool = True
    corrected_pairs: int = 0
    n_obs: int = 0

    def to_frame(self) -> pd.DataFrame:
        """The polychoric correlation matrix, labelled."""
        return pd.DataFrame(self.rho, index=self.columns, columns=self.columns)

    as_frame = to_frame  # the earlier name

    def summary(self) -> str:
        """As ``print(psych::polychoric(x))``: the correlations and each item's thresholds."""
        tau = pd.DataFrame([list(t) for t in self.thresholds], index=self.columns)
        tau.columns = [f"tau{j + 1}" for j in range(tau.shape[1])]
        return (f"Polychoric correlations ({len(self.columns)} items, n = {self.n_obs}"
                + (", smoothed to be positive definite" if self.smoothed else "") + ")\n"
                + table_text(self.to_frame()) + "\n\n with tau of\n" + table_text(tau))


# --------------------------------------------------------------------- bivariate normal

def _bvn_upper(h: np.ndarray, k: np.ndarray, r: np.ndarray) -> np.ndarray:
    """P(X > h, Y > k) for standard bivariate normal with correlation r (Genz 2004, BVND).

    Arrays broadcast together; r must lie strictly inside (-1, 1).
    """
    h, k, r = np.broadcast_arrays(np.asarray(h, float), np.asarray(k, float), np.asarray(r, float))
    out = np.empty(h.shape)
    hk = h * k
    low = np.abs(r) < 0.925
    with np.errstate(all="ignore"):
        # Genz's node counts: 6 for |r| < .3, 12 for |r| < .75, 20 up to .925
        absr = np.abs(r)
        for sel, (gx, gw) in ((absr < 0.3, _GL[6]), ((absr >= 0.3) & (absr < 0.75), _GL[12]),
                              ((absr >= 0.75) & low, _GL[20])):
            if not sel.any():
                continue
            hl, kl, rl, hkl = h[sel], k[sel], r[sel], hk[sel]
            hs = (hl * hl + kl * kl) / 2.0
            asr = np.arcsin(rl)
            sn = np.sin(asr[..., None] * (1.0 + gx) / 2.0)
            terms = np.exp((sn * hkl[..., None] - hs[..., None]) / (1.0 - sn * sn))
            out[sel] = (terms @ gw) * asr / (4.0 * np.pi) + ndtr(-hl) * ndtr(-kl)
        high = ~low
        if high.any():
            hh, kk, rr, hkh = h[high], k[high].copy(), r[high], hk[high].copy()
            neg = rr < 0
            kk[neg] = -kk[neg]
            hkh[neg] = -hkh[neg]
            as_ = (1.0 - rr) * (1.0 + rr)
            a = np.sqrt(as_)
            bs = (hh - kk) ** 2
            c = (4.0 - hkh) / 8.0
            d = (12.0 - hkh) / 16.0
            bvn = a * np.exp(-(bs / as_ + hkh) / 2.0) * (
                1.0 - c * (bs - as_) * (1.0 - d * bs / 5.0) / 3.0 + c * d * as_ * as_ / 5.0)
            b = np.sqrt(bs)
            tail = np.exp(-hkh / 2.0) * np.sqrt(2.0 * np.pi) * ndtr(-b / a) * b * (
                1.0 - c * bs * (1.0 - d * bs / 5.0) / 3.0)
            bvn = bvn - np.where(hkh > -160.0, tail, 0.0)
            a2 = a / 2.0
            xs = (a2[..., None] * (_GL_X + 1.0)) ** 2
            rs = np.sqrt(1.0 - xs)
            expo = -(bs[..., None] / xs + hkh[..., None]) / 2.0
            inner = np.exp(expo) * (np.exp(-hkh[..., None] * (1.0 - rs) / (2.0 * (1.0 + rs))) / rs
                                    - (1.0 + c[..., None] * xs * (1.0 + d[..., None] * xs)))
            inner = np.where(expo > -100.0, inner, 0.0)
            bvn = -(bvn + a2 * (inner @ _GL_W)) / (2.0 * np.pi)
            pos_val = bvn + ndtr(-np.maximum(hh, kk))
            neg_val = -bvn + np.where(kk > hh, ndtr(kk) - ndtr(hh), 0.0)
            out[high] = np.where(neg, neg_val, pos_val)
    return np.clip(out, 0.0, 1.0)


def bivariate_normal_cdf(h, k, r) -> np.ndarray:
    """P(X <= h, Y <= k) for a standard bivariate normal with correlation r, |r| < 1."""
    return _bvn_upper(-np.asarray(h, float), -np.asarray(k, float), r)


def _cell_probabilities(rc: np.ndarray, cc: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Cell probabilities for a batch of tables.

    rc: (B, R-1) row thresholds, cc: (B, C-1) column thresholds (finite, ±_BIG for
    infinities), r: (B,). Returns (B, R, C).
    """
    B = rc.shape[0]
    rows = np.concatenate([np.full((B, 1), -np.inf), rc, np.full((B, 1), np.inf)], axis=1)
    cols = np.concatenate([np.full((B, 1), -np.inf), cc, np.full((B, 1), np.inf)], axis=1)
    F = np.zeros((B, rows.shape[1], cols.shape[1]))
    F[:, -1, 1:] = ndtr(cols[:, 1:])
    F[:, 1:, -1] = ndtr(rows[:, 1:])
    F[:, -1, -1] = 1.0
    inner = bivariate_normal_cdf(rc[:, :, None], cc[:, None, :], r[:, None, None])
    F[:, 1:-1, 1:-1] = inner
    return F[:, 1:, 1:] - F[:, :-1, 1:] - F[:, 1:, :-1] + F[:, :-1, :-1]


def _neg_loglik(rc, cc, tab, r):
    P = _cell_probabilities(rc, cc, r)
    with np.errstate(divide="ignore", invalid="ignore"):
        lp = np.where(P > 0, np.log(np.where(P > 0, P, 1.0)), 0.0)
    return -(tab * lp).sum(axis=(1, 2))


def _max_likelihood_rho(rc, cc, tab, tol: float = 1e-10) -> np.ndarray:
    """Golden-section search of the likelihood over rho in (-1, 1), one per table."""
    B = tab.shape[0]
    g = (np.sqrt(5.0) - 1.0) / 2.0
    lo = np.full(B, -1.0 + 1e-9)
    hi = np.full(B, 1.0 - 1e-9)
    x1 = hi - g * (hi - lo)
    x2 = lo + g * (hi - lo)
    f1 = _neg_loglik(rc, cc, tab, x1)
    f2 = _neg_loglik(rc, cc, tab, x2)
    for _ in range(200):
        if np.max(hi - lo) <= tol:
            break
        left = f1 < f2  # the minimum lies in [lo, x2]
        hi = np.where(left, x2, hi)
        lo = np.where(left, lo, x1)
        new_x = np.where(left, hi - g * (hi - lo), lo + g * (hi - lo))
        f_new = _neg_loglik(rc, cc, tab, new_x)
        x1, f1, x2, f2 = (np.where(left, new_x, x2), np.where(left, f_new, f2),
                          np.where(left, x1, new_x), np.where(left, f1, f_new))
    return (lo + hi) / 2.0


# ------------------------------------------------------------------------ data handling

def _as_codes(data) -> tuple[np.ndarray, list]:

    x, columns = check_items(data, "polychoric correlations")
    finite = np.isfinite(x)
    if not finite.any():
        raise PeerscaleError("no answered items: every value is missing")
    nonint = finite & (x != np.round(np.where(finite, x, 0.0)))
    if nonint.any():
        r, c = np.argwhere(nonint)[0]
        raise PeerscaleError("polychoric correlations need whole-number response codes",
                             column=str(columns[c]), row=int(r) + 1, value=float(x[r, c]))
    return x, columns


def polychoric_matrix(data: pd.DataFrame | np.ndarray, *, correct: float = 0.5) -> PolychoricResult:
    """Polychoric correlation matrix of ordinal items, pairwise complete (psych 2.2.9 defaults).

    Parameters
    ----------
    data : pandas.DataFrame or numpy.ndarray
        One column per item, whole-number codes, NaN = missing; at most 8 distinct codes from
        the lowest to the highest (psych's ``max.cat``).
    correct : float, default 0.5
        Continuity correction for empty cells, used only when items do not share the same
        highest category (psych's non-global regime); 0 disables it.

    Returns
    -------
    PolychoricResult
        ``rho`` (p × p; ``to_frame()``), ``thresholds`` (one array per item), ``columns``, the
        pairwise ``n`` and whether the matrix had to be ``smoothed``.

    Notes
    -----
    Two-step estimator (Olsson 1979): thresholds from each item's margins, then per pair the
    ``rho`` maximising ``Σ n_ij log P_ij(rho)`` with bivariate normal cell probabilities (Genz 2004).
    Raises :class:`~peerscale.errors.PeerscaleError` for non-numeric or non-integer codes, an item
    with no variance, more than 8 categories, or a pair never answered together.

    Examples
    --------
    As ``psych::polychoric(x)$rho``:

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> f = rng.normal(size=(300, 1))
    >>> x = pd.DataFrame(np.clip(np.round(3 + f + rng.normal(size=(300, 4))), 1, 5), columns=list("abcd"))
    >>> from peerscale.psychometrics import polychoric_matrix
    >>> polychoric_matrix(x).to_frame().shape
    (4, 4)
    """
    if correct < 0:
        raise PeerscaleError(f"correct must be 0 or more, got {correct}")
    x, columns = _as_codes(data)
    n_obs, p = x.shape
    with np.errstate(invalid="ignore"):
        sd = np.nanstd(x, axis=0)
    bad = [columns[j] for j in range(p) if not np.isfinite(sd[j]) or sd[j] <= 0]
    if bad:
        raise PeerscaleError(f"item {bad[0]!r} has no variance (every answer is the same, or none)",
                             column=str(bad[0]), hint="leave it out of the polychoric analysis")
    m = int(np.nanmax(x) - np.nanmin(x)) + 1
    if m > MAX_CATEGORIES:
        raise PeerscaleError(f"items span {m} response categories; polychoric correlations are "
                             f"for at most {MAX_CATEGORIES}", hint="use Pearson correlations")
    from .moments import ItemMoments

    return polychoric_from_moments(ItemMoments.from_array(x, columns, joint=True, max_codes=None), correct=correct)


def polychoric_from_moments(stats, *, correct: float = 0.5) -> PolychoricResult:
    """:func:`polychoric_matrix` from the merged frequency and contingency tables of
    :class:`~peerscale.psychometrics.moments.ItemMoments` (``joint=True``), e.g. of a file read
    in chunks or a Dask reduction: the same estimate as from the rows in memory.

    Parameters
    ----------
    stats : ItemMoments
        Statistics of the items with contingency tables.
    correct : float, default 0.5
        As in :func:`polychoric_matrix`.

    Returns
    -------
    PolychoricResult

    Examples
    --------
    >>> import numpy as np
    >>> from peerscale.psychometrics.moments import ItemMoments
    >>> x = np.random.default_rng(1).integers(1, 5, size=(300, 3)).astype(float)
    >>> halves = ItemMoments.from_array(x[:150], joint=True).merge(ItemMoments.from_array(x[150:], joint=True))
    >>> bool(np.allclose(polychoric_from_moments(halves).rho, polychoric_matrix(x).rho, atol=1e-12))
    True
    """
    if correct < 0:
        raise PeerscaleError(f"correct must be 0 or more, got {correct}")
    columns = list(stats.columns)
    p = len(columns)
    if p < 2:
        raise PeerscaleError(f"polychoric correlations needs at least two items, got {p}")
    answered_n = stats.counts_answered()
    flat = stats.no_variance()
    for j, c in enumerate(columns):
        if answered_n[j] < 2:
            raise PeerscaleError("item has fewer than two answers", column=c,
                                 hint="drop the item or check the column mapping")
        if flat[j]:
            raise PeerscaleError(f"item {c!r} has no variance (every answer is the same, or none)",
                                 column=c, hint="leave it out of the polychoric analysis")
    values, joint0 = stats.contingency()
    nonint = values != np.round(values)
    if nonint.any():
        raise PeerscaleError("polychoric correlations need whole-number response codes",
                             value=float(values[nonint][0]))
    gmin = values.min()
    m = int(values.max() - gmin) + 1
    if m > MAX_CATEGORIES:
        raise PeerscaleError(f"items span {m} response categories; polychoric correlations are "
                             f"for at most {MAX_CATEGORIES}", hint="use Pearson correlations")
    pos = (values - gmin).astype(int)
    r_ = np.arange(p)
    joint = np.zeros((p, m, p, m))
    joint[np.ix_(r_, pos, r_, pos)] = joint0
    n_obs = int(stats.n_rows)
    freq = joint[r_, :, r_, :].diagonal(axis1=1, axis2=2)  # (p, m): each item's own answers
    item_max = np.array([np.flatnonzero(freq[j]).max() for j in range(p)])
    global_thr = bool(np.all(item_max == item_max[0]))
    with np.errstate(divide="ignore", invalid="ignore"):
        cum = np.cumsum(freq, axis=1)[:, :-1] / freq.sum(axis=1, keepdims=True)
        tau = ndtri(cum)  # (p, m-1), ±inf for unused extreme categories
    thresholds = [tau[j].copy() for j in range(p)]

    ii, jj = np.tril_indices(p, -1)
    tabs = joint[ii, :, jj, :]
    n_pair = tabs.sum(axis=(1, 2))
    n_mat = np.diag(answered_n).astype(float)
    n_mat[ii, jj] = n_mat[jj, ii] = n_pair
    if (n_pair == 0).any():
        k = int(np.argmax(n_pair == 0))
        raise PeerscaleError(f"items {columns[ii[k]]!r} and {columns[jj[k]]!r} are never answered together",
                             hint="pairwise correlations need some respondents who answered both")

    fixed = 0
    if global_thr:
        tab = tabs / n_pair[:, None, None]
        rc = np.clip(tau[ii], -_BIG, _BIG)
        cc = np.clip(tau[jj], -_BIG, _BIG)
        rho_pairs = _max_likelihood_rho(rc, cc, tab)
    else:
        rc = np.full((len(ii), m - 1), _BIG)
        cc = np.full((len(ii), m - 1), _BIG)
        tab = np.zeros_like(tabs)
        ok = np.ones(len(ii), bool)
        for b in range(len(ii)):
            t = tabs[b] / n_pair[b]
            t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]
            if correct > 0 and (t == 0).any():
                fixed += 1
                t = np.where(t == 0, correct / n_pair[b], t)
            if min(t.shape) < 2:
                ok[b] = False
                continue
            r_, c_ = t.shape
            tab[b, :r_, :c_] = t
            rc[b, : r_ - 1] = ndtri(np.clip(np.cumsum(t.sum(axis=1))[:-1], 0, 1))
            cc[b, : c_ - 1] = ndtri(np.clip(np.cumsum(t.sum(axis=0))[:-1], 0, 1))
        rc = np.clip(rc, -_BIG, _BIG)
        cc = np.clip(cc, -_BIG, _BIG)
        rho_pairs = np.full(len(ii), np.nan)
        if ok.any():
            rho_pairs[ok] = _max_likelihood_rho(rc[ok], cc[ok], tab[ok])
        if not ok.all():
            k = int(np.argmin(ok))
            raise PeerscaleError(f"items {columns[ii[k]]!r} and {columns[jj[k]]!r}: among respondents who "
                                 "answered both, one of them has no variance",
                                 hint="the polychoric correlation of this pair is undefined")

    rho = np.eye(p)
    rho[ii, jj] = rho[jj, ii] = rho_pairs
    rho, smoothed = smooth_correlation(rho)
    return PolychoricResult(rho=rho, thresholds=thresholds, columns=columns, n=n_mat,
                            categories=np.arange(m) + gmin, smoothed=smoothed,
                            global_thresholds=global_thr, corrected_pairs=fixed, n_obs=n_obs)


def smooth_correlation(r: np.ndarray, eig_tol: float = 1e-12) -> tuple[np.ndarray, bool]:
    """Make a correlation matrix positive definite as ``psych::cor.smooth`` does.

    Parameters
    ----------
    r : numpy.ndarray
        A correlation matrix.
    eig_tol : float, default 1e-12
        Eigenvalues below it are replaced.

    Returns
    -------
    (numpy.ndarray, bool)
        The matrix, and whether it was changed.

    Notes
    -----
    If the smallest eigenvalue is below machine epsilon, eigenvalues under ``eig_tol`` are set to
    ``100 * eig_tol``, all are rescaled to sum to p, the matrix is rebuilt and rescaled to unit
    diagonal.

    Examples
    --------
    As ``psych::cor.smooth(R)``:

    >>> import numpy as np
    >>> from peerscale.psychometrics import smooth_correlation
    >>> r = np.array([[1, .9, -.9], [.9, 1, .9], [-.9, .9, 1]])
    >>> smoothed, changed = smooth_correlation(r)
    >>> changed, bool(np.linalg.eigvalsh(smoothed).min() > 0)
    (True, True)
    """
    vals, vecs = np.linalg.eigh(r)
    if vals.min() >= np.finfo(float).eps:
        return r, False
    vals = np.where(vals < eig_tol, 100 * eig_tol, vals)
    vals = vals * r.shape[0] / vals.sum()
    s = (vecs * vals) @ vecs.T
    d = np.sqrt(np.diag(s))
    s = s / np.outer(d, d)
    np.fill_diagonal(s, 1.0)
    return s, True
