"""Person scores from item parameters: EAP, MAP, ML and EAP for sum scores.

Every method works on any subset of items per person (response-pattern scoring): missing
answers simply leave the likelihood. Formulas (``L_i(theta) = prod_j P_j(x_ij | theta)``,
prior ``N(mean, var)``):

* EAP: ``sum_q theta_q L_i(theta_q) w_q / sum_q L_i(theta_q) w_q`` over an equally spaced grid
  (default 121 points on [-6, 6], mirt's ``fscores`` default), with the posterior SD as SE.
* MAP: the mode of ``log L_i(theta) - (theta - mean)^2 / (2 var)`` by Newton steps from the
  EAP; SE = ``1 / sqrt(-d2/dtheta2)`` at the mode.
* ML: the maximum of ``log L_i``; a person whose every answer is the lowest (highest)
  category has no finite maximum: -inf (+inf) with SE inf, as mirt.
* EAPsum: Lord & Wingersky (1984) recursion for ``P(S = s | theta)``, then EAP of theta given
  the summed score. Persons are scored with the table of the items they answered.

Large data are scored in chunks (``chunk`` rows at a time), so memory stays bounded.
"""

from __future__ import annotations

import numpy as np

from .model import FLOOR, Grid, category_probs, theta_derivatives

CHUNK = 20000
EAP_CHUNK = 1024  # rows per EAP block: the indicators and log-likelihoods stay in a core's L2 cache


def _flat_logp(a, d, link, theta, n_cat):
    P = category_probs(a, d, theta, link)
    J, K, Q = P.shape
    valid = (np.arange(K)[None, :] < n_cat[:, None]).ravel()
    return np.log(np.maximum(P, FLOOR)).reshape(-1, Q)[valid]


def _onehot(codes: np.ndarray, offsets: np.ndarray, width: int) -> np.ndarray:
    n = codes.shape[0]
    Y = np.zeros((n, width))
    r, j = np.nonzero(codes >= 0)
    Y[r, offsets[j] + codes[r, j]] = 1.0
    return Y


def eap(codes, a, d, n_cat, link="logistic", *, grid: Grid | None = None, mean=0.0, var=1.0,
        chunk: int = EAP_CHUNK, progress=None, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """EAP and posterior SD for each row of ``codes`` (n x J, -1 = missing). Rows with no
    answer get NaN.

    Per chunk of rows the pattern log-likelihoods ``log L_i(theta_q)`` are one matrix product:
    the rows' answers as indicators (one per item: its category, or a shared all-zero column
    when missing) times the table of log category probabilities. Each table row (item,
    category) is shifted by its maximum over the nodes, which leaves every posterior unchanged
    (each answered item adds exactly one row) and keeps the sums small where the posterior
    lies, so that the product and the exponentials can run in single precision (``dtype``,
    default float32; float64 for the reference): the EAPs then agree with float64 to about
    1e-7. The posterior moments are accumulated in double."""
    grid = grid or Grid.make(121)
    theta = grid.nodes
    n_cat = np.asarray(n_cat)
    logp = _flat_logp(a, d, link, theta, n_cat)
    logp = logp - logp.max(axis=1, keepdims=True)
    table = np.vstack([logp, np.zeros((1, len(theta)))]).astype(dtype)  # last row: missing
    log_prior = grid.log_weights(mean, var).astype(dtype)
    offsets = np.concatenate([[0], np.cumsum(n_cat)])
    width = int(offsets[-1]) + 1
    n, J = codes.shape
    est = np.full(n, np.nan)
    sd = np.full(n, np.nan)
    moments = np.column_stack([np.ones_like(theta), theta, theta * theta])
    m_max = min(chunk, n)
    Y = np.zeros((m_max, width), dtype=dtype)
    base = (np.arange(m_max) * width)[:, None]
    item_off = offsets[:-1][None, :].astype(np.int64)
    for start in range(0, n, chunk):
        c = codes[start:start + chunk]
        m = len(c)
        ans = c >= 0
        Yc = Y[:m]
        Yc.fill(0)
        col = np.where(ans, item_off + c, width - 1)
        col += base[:m]
        Yc.reshape(-1)[col.ravel()] = 1
        LL = Yc @ table
        LL += log_prior
        LL -= LL.max(axis=1, keepdims=True)
        np.exp(LL, out=LL)
        mom = LL.astype(np.float64, copy=False) @ moments
        m1 = mom[:, 1] / mom[:, 0]
        m2 = mom[:, 2] / mom[:, 0]
        some = ans.any(axis=1)
        est[start:start + m] = np.where(some, m1, np.nan)
        sd[start:start + m] = np.where(some, np.sqrt(np.maximum(m2 - m1 * m1, 0.0)), np.nan)
        if progress is not None:
            progress(m)
    return est, sd


def _loglik_derivs(codes, a, d, link, theta):
    """First and second derivatives of log L_i at theta_i (one theta per row) and log L_i."""
    P, d1, d2 = theta_derivatives(a, d, theta, link)  # J x K x n
    J = len(a)
    n = codes.shape[0]
    ans = codes >= 0
    k = np.where(ans, codes, 0).T  # J x n
    jj = np.arange(J)[:, None]
    nn = np.arange(n)[None, :]
    p = np.maximum(P[jj, k, nn], FLOOR)
    g1 = d1[jj, k, nn] / p
    g2 = d2[jj, k, nn] / p - g1 * g1
    m = ans.T
    return (np.where(m, g1, 0).sum(axis=0), np.where(m, g2, 0).sum(axis=0),
            np.where(m, np.log(p), 0).sum(axis=0))


def modal(codes, a, d, n_cat, link="logistic", *, prior: bool = True, mean=0.0, var=1.0, start=None,
          chunk: int = CHUNK, max_iter: int = 100, tol: float = 1e-8):
    """MAP (``prior=True``) or ML estimates and SEs by safeguarded Newton steps."""
    n = codes.shape[0]
    est = np.full(n, np.nan)
    se = np.full(n, np.nan)
    n_cat = np.asarray(n_cat)
    for s0 in range(0, n, chunk):
        c = codes[s0:s0 + chunk]
        ans = c >= 0
        some = ans.any(axis=1)
        th = np.zeros(len(c)) if start is None else np.nan_to_num(np.asarray(start[s0:s0 + chunk], float))
        if not prior:
            lowest = np.all(~ans | (c == 0), axis=1) & some
            highest = np.all(~ans | (c == (n_cat - 1)[None, :]), axis=1) & some
        else:
            lowest = highest = np.zeros(len(c), bool)
        active = some & ~lowest & ~highest
        for _ in range(max_iter):
            if not active.any():
                break
            idx = np.flatnonzero(active)
            g, h, _ = _loglik_derivs(c[idx], a, d, link, th[idx])
            if prior:
                g = g - (th[idx] - mean) / var
                h = h - 1.0 / var
            step = np.where(h < 0, -g / np.where(h < 0, h, -1.0), np.sign(g) * 0.5)
            step = np.clip(step, -1.0, 1.0)
            th[idx] = np.clip(th[idx] + step, -30, 30)
            done = np.abs(step) < tol
            active[idx[done]] = False
        _, h, _ = _loglik_derivs(c, a, d, link, th)
        if prior:
            h = h - 1.0 / var
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.where(h < 0, 1.0 / np.sqrt(-h), np.inf)
        th = np.where(some, th, np.nan)
        s = np.where(some, s, np.nan)
        th = np.where(lowest, -np.inf, np.where(highest, np.inf, th))
        s = np.where(lowest | highest, np.inf, s)
        est[s0:s0 + chunk] = th
        se[s0:s0 + chunk] = s
    return est, se


def sum_score_likelihood(a, d, n_cat, link, theta, items=None) -> np.ndarray:
    """Lord–Wingersky: P(S = s | theta_q) for the summed 0-based category scores of ``items``
    (default all): array (max sum + 1) x Q."""
    P = category_probs(a, d, theta, link)
    items = range(len(a)) if items is None else items
    L = np.ones((1, len(theta)))
    for j in items:
        K = int(n_cat[j])
        new = np.zeros((L.shape[0] + K - 1, len(theta)))
        for k in range(K):
            new[k:k + L.shape[0]] += L * P[j, k]
        L = new
    return L


def eapsum_table(a, d, n_cat, link="logistic", *, grid: Grid | None = None, mean=0.0, var=1.0, items=None):
    """(sum scores 0.., EAP, posterior SD, P(S = s)) for the items (0-based sums)."""
    grid = grid or Grid.make(121)
    L = sum_score_likelihood(a, d, n_cat, link, grid.nodes, items)
    w = np.exp(grid.log_weights(mean, var))
    joint = L * w
    ps = joint.sum(axis=1)
    m1 = joint @ grid.nodes / ps
    m2 = joint @ grid.nodes ** 2 / ps
    return np.arange(L.shape[0]), m1, np.sqrt(np.maximum(m2 - m1 * m1, 0)), ps


def eapsum(codes, a, d, n_cat, link="logistic", *, grid=None, mean=0.0, var=1.0):
    """EAP for each person's summed score over the items that person answered."""
    n, J = codes.shape
    est = np.full(n, np.nan)
    sd = np.full(n, np.nan)
    ans = codes >= 0
    keys, inv = np.unique(ans, axis=0, return_inverse=True)
    inv = inv.ravel()
    sums = np.where(ans, codes, 0).sum(axis=1)
    for g, key in enumerate(keys):
        if not key.any():
            continue
        rows = inv == g
        s, m, sdv, _ = eapsum_table(a, d, n_cat, link, grid=grid, mean=mean, var=var, items=np.flatnonzero(key))
        est[rows] = m[sums[rows]]
        sd[rows] = sdv[sums[rows]]
    return est, sd
