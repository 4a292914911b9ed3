"""Model and item fit: M2* with RMSEA and SRMSR, S-X2 item fit, local dependence (LD X2 and Q3).

Definitions follow mirt (Chalmers 2012), so the numbers can be checked against it:

* **M2\\*** (Maydeu-Olivares & Joe 2006; Cai & Hansen 2013): first moments ``E[X_j]`` and
  cross-products ``E[X_j X_k]`` (j < k) of the 0-based category scores, sample values from
  the respondents who answered each item / pair, model values over the grid (61 points on
  [-6, 6]). ``M2 = e' C e`` with ``e = sqrt(N_r) (p - pi)`` and
  ``C = Dc (Dc' Xi Dc)^-1 Dc'`` (``Dc`` the orthogonal complement of the moment Jacobian with
  respect to the item parameters, ``Xi`` the model-implied moment covariance), rescaled by
  ``sqrt(N_r / N)`` for pairwise counts; df = moments - free parameters.
  ``RMSEA = sqrt(max(M2/df - 1, 0) / (N - 1))``. For binary items M2* is M2.
* **S-X2** (Orlando & Thissen 2000): for each item, respondents are grouped by summed score
  (the two extreme scores dropped); expected category proportions given the summed score come
  from the Lord–Wingersky recursion. Sparse cells are pooled with mirt's rules (expected counts
  below 1); ``df = cells - groups - item parameters - free latent parameters``. Needs
  complete responses: rows with a missing answer are left out (stated).
* **LD X2** (Chen & Thissen 1997): for each item pair, observed vs model-expected
  ``K_j x K_k`` table among respondents who answered both; signed Cramér's V (sign of the
  gamma difference) as a standardised effect; df = (K_j - 1)(K_k - 1).
* **Q3** (Yen 1984): correlations of the residuals ``x - E[x | theta_EAP]``.
"""

from __future__ import annotations

import numpy as np

from .model import Grid, category_probs, cumulative, expected_score


def _pairs(J):
    return np.triu_indices(J, 1)


def _m2_impl(codes, a, d, n_cat, link="logistic", *, free_a=True, n_latent_free=0, grid: Grid | None = None,
       mean=0.0, var=1.0, equal_a=False):
    """M2* statistic, df, p-value, RMSEA and SRMSR (see the module notes)."""
    from scipy import stats

    grid = grid or Grid.make(61)
    theta = grid.nodes
    w = np.exp(grid.log_weights(mean, var))
    codes = np.asarray(codes)
    n, J = codes.shape
    ans = codes >= 0
    x = np.where(ans, codes, 0).astype(float)
    N = ans.sum(axis=0).astype(float)
    cN = ans.T.astype(float) @ ans.astype(float)
    cross = x.T @ x
    iu, ju = _pairs(J)
    means = x.sum(axis=0) / N
    p = np.concatenate([means, cross[iu, ju] / cN[iu, ju]])
    Nstar = np.concatenate([N, cN[iu, ju]])
    P = category_probs(a, d, theta, link)  # J K Q
    k = np.arange(P.shape[1])
    E = np.einsum("k,jkq->qj", k.astype(float), P)
    E2 = np.einsum("k,jkq->qj", (k * k).astype(float), P)
    V = E2 - E * E
    e1 = w @ E
    e2 = (w[:, None] * E[:, iu] * E[:, ju]).sum(axis=0)
    e = np.concatenate([e1, e2])
    # derivatives of E[X_j | theta] with respect to (a_j, d_j1..): Q x J x Kmax
    _, _, f = cumulative(a, d, theta, link)
    dE = np.zeros((len(theta), J, P.shape[1]))
    dE[:, :, 0] = (f.sum(axis=1) * theta).T
    dE[:, :, 1:] = np.transpose(f, (2, 0, 1))
    cols = []  # (item, param index) of the free item parameters
    for j in range(J):
        if free_a and not equal_a:
            cols.append((j, 0))
        for m in range(1, int(n_cat[j])):
            cols.append((j, m))
    M = J + len(iu)
    nq = len(cols) + (1 if equal_a and free_a else 0)
    delta = np.zeros((M, nq))
    pair_index = {}
    for r, (i, j) in enumerate(zip(iu, ju)):
        pair_index[(i, j)] = pair_index[(j, i)] = J + r
    off = 1 if equal_a and free_a else 0
    for c, (j, m) in enumerate(cols):
        dj = dE[:, j, m]
        delta[j, off + c] = w @ dj
        for kk in range(J):
            if kk != j:
                delta[pair_index[(j, kk)], off + c] = (w * dj) @ E[:, kk]
    if equal_a and free_a:
        for j in range(J):
            dj = dE[:, j, 0]
            delta[j, 0] += w @ dj
            for kk in range(J):
                if kk != j:
                    delta[pair_index[(j, kk)], 0] += (w * dj) @ E[:, kk]
    A = np.concatenate([E, E[:, iu] * E[:, ju]], axis=1)  # Q x M
    Xi = (A * w[:, None]).T @ A
    for i in range(J):
        others = [kk for kk in range(J) if kk != i]
        idx = np.array([i] + [pair_index[(i, kk)] for kk in others])
        rest = np.concatenate([np.ones((len(theta), 1)), E[:, others]], axis=1)
        Xi[np.ix_(idx, idx)] += (rest * (w * V[:, i])[:, None]).T @ rest
    dpair = J + np.arange(len(iu))
    Xi[dpair, dpair] += (w[:, None] * V[:, iu] * V[:, ju]).sum(axis=0)
    Xi -= np.outer(e, e)
    q, _ = np.linalg.qr(delta, mode="complete")
    if delta.shape[1] + 1 > q.shape[1]:
        return {"M2": np.nan, "df": 0, "p": np.nan, "RMSEA": np.nan, "SRMSR": np.nan}
    dc = q[:, delta.shape[1]:]
    C = dc @ np.linalg.solve(dc.T @ Xi @ dc, dc.T)
    ratio = Nstar / n
    C *= np.sqrt(np.outer(ratio, ratio))
    resid = np.sqrt(Nstar) * (p - e)
    stat = float(abs(resid @ C @ resid))
    df = int(M - (nq + n_latent_free))
    pval = float(stats.chi2.sf(stat, df)) if df > 0 else np.nan
    rmsea = float(np.sqrt(max(stat / df - 1, 0) / (n - 1))) if df > 0 else np.nan
    # SRMSR: observed vs model correlations of the item scores
    cov_obs = cross / cN - np.outer(means, means)
    Em = np.zeros((J, J))
    Em[iu, ju] = e2
    Em = Em + Em.T
    Em[np.arange(J), np.arange(J)] = w @ E2
    cov_mod = Em - np.outer(e1, e1)
    R = cov_obs / np.sqrt(np.outer(np.diag(cov_obs), np.diag(cov_obs)))
    Km = cov_mod / np.sqrt(np.outer(np.diag(cov_mod), np.diag(cov_mod)))
    srmsr = float(np.sqrt(np.mean((R[iu, ju] - Km[iu, ju]) ** 2))) if len(iu) else np.nan
    return {"M2": stat, "df": df, "p": pval, "RMSEA": rmsea, "SRMSR": srmsr}


# ---------------------------------------------------------------------------------- S-X2

def _collapse(O: np.ndarray, E: np.ndarray, mincell: float = 1.0):
    """Pool sparse S-X2 cells as mirt's ``collapseCells`` does (rows = summed scores)."""
    O = O.astype(float).copy()
    E = E.astype(float).copy()
    nanrows = np.flatnonzero(np.isnan(E).any(axis=1))
    E = np.nan_to_num(E)
    if len(nanrows):
        half = len(nanrows) // 2
        up = np.arange(nanrows[0], nanrows[max(half - 1, 0)] + 1) if half else np.array([], int)
        low = np.arange(nanrows[half], nanrows[-1] + 1)
        keep = np.ones(len(E), bool)
        if len(up):
            t = up.max() + 1
            E[t] += E[up].sum(axis=0)
            O[t] += O[up].sum(axis=0)
            keep[up] = False
        if len(low):
            t = low.min() - 1
            E[t] += E[low].sum(axis=0)
            O[t] += O[low].sum(axis=0)
            keep[low] = False
        E, O = E[keep], O[keep]
    if len(O) == 0:
        return O, E
    nz = O.sum(axis=1) != 0
    O, E = O[nz], E[nz]
    L = E < mincell
    drop = []
    for j in range(len(O) - 1):
        if O[j].sum() == 1:
            drop.append(j)
            O[j + 1] += O[j]
            E[j + 1] += E[j]
    if drop:
        O = np.delete(O, drop, axis=0)
        E = np.delete(E, drop, axis=0)
    if len(O) > 1 and O[-1].sum() == 1:
        O[-2] += O[-1]
        E[-2] += E[-1]
        O, E = O[:-1], E[:-1]
    ncol = E.shape[1]
    if ncol > 2:
        for j in range(len(E)):
            if j >= len(L) or not L[j].any():
                continue
            te, to = list(E[j]), list(O[j])
            while len(te) > 2:
                m = min(te)
                whc = max(i for i, v in enumerate(te) if v == m)
                if whc == 0:
                    te[1] += te[0]
                    to[1] += to[0]
                elif whc == len(te) - 1:
                    te[-2] += te[-1]
                    to[-2] += to[-1]
                else:
                    pick = whc - 1 if min(te[whc - 1], te[whc + 1]) == te[whc - 1] else whc + 1
                    te[pick] += te[whc]
                    to[pick] += to[whc]
                del te[whc], to[whc]
                if all(v >= mincell for v in te):
                    break
            E[j] = te + [np.nan] * (ncol - len(te))
            O[j] = to + [0.0] * (ncol - len(to))
    E = np.nan_to_num(E)
    if E.shape[1] > 2:
        while True:
            pick = E.sum(axis=0) < mincell * np.ceil(len(E) * 0.1)
            if not pick[-1] or E.shape[1] == 2:
                break
            O[:, -2] += O[:, -1]
            E[:, -2] += E[:, -1]
            O, E = O[:, :-1], E[:, :-1]
    dropcol = np.zeros(E.shape[1], bool)
    for j in range(E.shape[1] - 1, 0, -1):
        if (E[:, j] > 0).mean() < 0.05:
            dropcol[j] = True
            E[:, j - 1] += E[:, j]
            O[:, j - 1] += O[:, j]
    E, O = E[:, ~dropcol], O[:, ~dropcol]
    while E.ndim == 2 and E.shape[0] > 1 and E.shape[1] > 1:
        L = (E < mincell) & (E != 0)
        if not L.any():
            break
        whc = int(np.flatnonzero(L.any(axis=1))[0])
        if whc == 0:
            E[1] += E[0]
            O[1] += O[0]
            E, O = E[1:], O[1:]
        elif whc == len(E) - 1:
            E[-2] += E[-1]
            O[-2] += O[-1]
            E, O = E[:-1], O[:-1]
        else:
            up = O[whc - 1].sum() <= O[whc + 1].sum()
            pick = whc - 1 if up else whc + 1
            E[pick] += E[whc]
            O[pick] += O[whc]
            E, O = np.delete(E, whc, axis=0), np.delete(O, whc, axis=0)
    E = np.where(E == 0, np.nan, E)
    return O, E


def _sx2_impl(codes, a, d, n_cat, link="logistic", *, n_item_par=None, n_latent_free=0, grid: Grid | None = None,
        mean=0.0, var=1.0, mincell: float = 1.0):
    """S-X2 per item: dict of arrays S_X2, df, p, RMSEA and the number of complete rows used."""
    from scipy import stats

    from .scores import sum_score_likelihood

    grid = grid or Grid.make(61)
    theta = grid.nodes
    w = np.exp(grid.log_weights(mean, var))
    codes = np.asarray(codes)
    complete = (codes >= 0).all(axis=1)
    X = codes[complete].astype(int)
    n, J = X.shape
    n_cat = np.asarray(n_cat)
    S = int((n_cat - 1).sum())
    total = X.sum(axis=1)
    Nk = np.bincount(total, minlength=S + 1)[1:S].astype(float)
    P = category_probs(a, d, theta, link)
    Ltot = sum_score_likelihood(a, d, n_cat, link, theta) @ w  # P(S = s)
    out_x2 = np.full(J, np.nan)
    out_df = np.zeros(J, dtype=int)
    n_item_par = np.full(J, 0) if n_item_par is None else np.asarray(n_item_par)
    for i in range(J):
        K = int(n_cat[i])
        O = np.zeros((S + 1, K))
        np.add.at(O, (total, X[:, i]), 1)
        rest = sum_score_likelihood(a, d, n_cat, link, theta, [j for j in range(J) if j != i])
        E = np.full((S + 1, K), np.nan)
        for k in range(K):
            E[k:k + rest.shape[0], k] = (rest * (P[i, k] * w)) .sum(axis=1) / Ltot[k:k + rest.shape[0]]
        O, E = O[1:S], E[1:S] * Nk[:, None]
        if n == 0:
            continue
        Oc, Ec = _collapse(O, E, mincell)
        ok = ~np.isnan(Ec)
        if Ec.size == 0:
            continue
        out_x2[i] = float(np.nansum(np.where(ok, (Oc - np.nan_to_num(Ec)) ** 2 / np.where(ok, Ec, 1), 0)))
        out_df[i] = int(ok.sum() - Ec.shape[0] - n_item_par[i] - n_latent_free)
    out_df = np.maximum(out_df, 0)
    out_x2 = np.where(out_df == 0, np.nan, out_x2)
    with np.errstate(invalid="ignore"):
        pv = np.where(out_df > 0, stats.chi2.sf(out_x2, np.maximum(out_df, 1)), np.nan)
        rmsea = np.where((out_df > 0) & (out_x2 / np.maximum(out_df, 1) - 1 > 0),
                         np.sqrt(np.maximum(out_x2 / np.maximum(out_df, 1) - 1, 0) / max(n - 1, 1)), 0.0)
    rmsea = np.where(out_df > 0, rmsea, np.nan)
    return {"S_X2": out_x2, "df": out_df, "p": pv, "RMSEA": rmsea, "n": int(n)}


# ---------------------------------------------------------------------------------- LD

def _gamma(tab: np.ndarray) -> float:
    """Goodman–Kruskal gamma of a two-way ordinal table."""
    conc = disc = 0.0
    r, c = tab.shape
    for i in range(r):
        for j in range(c):
            conc += tab[i, j] * tab[i + 1:, j + 1:].sum()
            disc += tab[i, j] * tab[i + 1:, :j].sum()
    return (conc - disc) / (conc + disc) if conc + disc > 0 else np.nan


def _ld_x2_impl(codes, a, d, n_cat, link="logistic", *, grid: Grid | None = None, mean=0.0, var=1.0):
    """Chen–Thissen LD X2 for every item pair: (X2, df, p, signed Cramér's V) as J x J arrays
    (upper triangle filled)."""
    from scipy import stats

    grid = grid or Grid.make(61)
    w = np.exp(grid.log_weights(mean, var))
    P = category_probs(a, d, grid.nodes, link)
    codes = np.asarray(codes)
    J = codes.shape[1]
    x2 = np.full((J, J), np.nan)
    df = np.full((J, J), np.nan)
    v = np.full((J, J), np.nan)
    for i, j in zip(*_pairs(J)):
        both = (codes[:, i] >= 0) & (codes[:, j] >= 0)
        Ki, Kj = int(n_cat[i]), int(n_cat[j])
        tab = np.zeros((Ki, Kj))
        np.add.at(tab, (codes[both, i], codes[both, j]), 1)
        NN = tab.sum()
        Etab = NN * np.einsum("kq,mq,q->km", P[i, :Ki], P[j, :Kj], w)
        s = _gamma(tab) - _gamma(Etab)
        if not np.isfinite(s):
            continue
        s = 1.0 if s == 0 else s
        stat = float(((tab - Etab) ** 2 / Etab).sum())
        x2[i, j] = stat
        df[i, j] = (Ki - 1) * (Kj - 1)
        v[i, j] = np.sign(s) * np.sqrt(abs(stat) / (NN * (min(Ki, Kj) - 1)))
    with np.errstate(invalid="ignore"):
        p = stats.chi2.sf(x2, df)
    return x2, df, p, v


def q3(codes, a, d, n_cat, theta, link="logistic") -> np.ndarray:
    """Yen's Q3: correlations of x_ij - E[X_j | theta_i] over respondents who answered both."""
    codes = np.asarray(codes)
    J = codes.shape[1]
    E = expected_score(a, d, np.asarray(theta, float), link).T  # n x J
    res = np.where(codes >= 0, codes - E, np.nan)
    out = np.eye(J)
    for i, j in zip(*_pairs(J)):
        ok = ~np.isnan(res[:, i]) & ~np.isnan(res[:, j]) & np.isfinite(theta)
        if ok.sum() > 2:
            out[i, j] = out[j, i] = np.corrcoef(res[ok, i], res[ok, j])[0, 1]
        else:
            out[i, j] = out[j, i] = np.nan
    return out



def _quiet(fn):
    """Small samples leave empty cells (0/0): the statistics are NaN there, without warnings."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return fn(*args, **kwargs)
    return wrapper


m2 = _quiet(_m2_impl)
sx2 = _quiet(_sx2_impl)
ld_x2 = _quiet(_ld_x2_impl)
