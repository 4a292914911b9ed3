"""Marginal maximum likelihood by Bock–Aitkin EM over a fixed quadrature grid, as mirt.

E-step: for every distinct response pattern (and group) the log-likelihood at each node is
``Y @ log P`` with ``Y`` the pattern's one-hot category indicators (missing answers have no
indicator, so they drop out of the likelihood: no listwise deletion); posterior weights give
expected category counts ``r_jkq = sum_i f_i pi_iq [x_ij = k]`` and expected counts per group.
M-step: for every item at once, Fisher-scoring steps on ``sum_kq r_jkq log P_jk(theta_q)``
(concave for logistic and probit cumulative links), with step halving that keeps thresholds
ordered; group means and variances (where free) are the posterior moments.

EM iterations are accelerated with SQUAREM (Varadhan & Roland 2008, scheme S3) with a
monotone fallback to the plain EM step; the fixed point is the same maximum.

Standard errors: the observed information of the marginal likelihood by Oakes' (1999)
identity, computed as the central-difference Jacobian of the exact observed-data score
(Fisher's identity: the complete-data gradient at the posterior of the same parameters), as
mirt's ``SE.type = "Oakes"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .model import FLOOR, Grid, category_probs, prob_derivatives


@dataclass
class EMResult:
    a: np.ndarray
    d: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    loglik: float
    iterations: int
    converged: bool
    n_par: int
    cov: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)


class EMEngine:
    """One calibration problem: response patterns, groups, which parameters are free."""

    def __init__(self, codes: np.ndarray, n_cat: np.ndarray, *, group: np.ndarray | None = None,
                 link: str = "logistic", grid: Grid | None = None, fixed_a: np.ndarray | None = None,
                 free_mean=None, free_var=None, equal_a: bool = False):
        codes = np.asarray(codes, dtype=np.int16)
        n, J = codes.shape
        self.J = J
        self.n_cat = np.asarray(n_cat, dtype=np.int64)
        self.Kmax = int(self.n_cat.max())
        self.link = link
        self.grid = grid or Grid.make()
        self.theta = self.grid.nodes
        group = np.zeros(n, dtype=np.int64) if group is None else np.asarray(group, dtype=np.int64)
        self.G = int(group.max()) + 1
        key = np.column_stack([codes.astype(np.int32), group.astype(np.int32)])
        uniq, counts = np.unique(key, axis=0, return_counts=True)
        self.patterns = uniq[:, :J].astype(np.int16)
        self.pgroup = uniq[:, J].astype(np.int64)
        self.freq = counts.astype(float)
        self.n = n
        self.n_group = np.bincount(group, minlength=self.G).astype(float)
        self.offsets = np.concatenate([[0], np.cumsum(self.n_cat)])
        self.Y = self.onehot(self.patterns)
        valid = np.arange(self.Kmax)[None, :] < self.n_cat[:, None]  # J x Kmax
        self.valid = valid.ravel()
        self.fixed_a = np.zeros(J, bool) if fixed_a is None else np.asarray(fixed_a, bool)
        self.equal_a = equal_a  # one slope shared by every item (1PL with free slope)
        free = np.zeros((J, self.Kmax), dtype=bool)
        free[:, 0] = ~self.fixed_a
        free[:, 1:] = valid[:, 1:]
        self.free = free
        self.free_mean = np.zeros(self.G, bool) if free_mean is None else np.asarray(free_mean, bool)
        self.free_var = np.zeros(self.G, bool) if free_var is None else np.asarray(free_var, bool)
        self.gmat = np.zeros((len(self.pgroup), self.G))
        self.gmat[np.arange(len(self.pgroup)), self.pgroup] = 1.0

    # ------------------------------------------------------------------ structure
    def onehot(self, codes: np.ndarray) -> np.ndarray:
        n = codes.shape[0]
        Y = np.zeros((n, int(self.offsets[-1])))
        r, j = np.nonzero(codes >= 0)
        Y[r, self.offsets[j] + codes[r, j]] = 1.0
        return Y

    def start(self, codes: np.ndarray, n_total: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """mirt's start values: loading 0.5 on the normal-ogive metric, i.e. a = 0.5 * 1.702
        (0.5 with the probit link), and d_k = z(P(X >= k)) / sqrt(1 - 0.5^2) on the same
        metric, with proportions over all ``n_total`` rows (default: the rows of ``codes``;
        mirt counts rows without any answer too). The Rasch slope stays at 1."""
        scale = 1.702 if self.link == "logistic" else 1.0
        from scipy.special import ndtri

        n = codes.shape[0] if n_total is None else int(n_total)
        d = np.full((self.J, self.Kmax - 1), -np.inf)
        for j in range(self.J):
            col = codes[:, j]
            K = self.n_cat[j]
            below = np.cumsum(np.bincount(col[col >= 0], minlength=K)[:K - 1]) / n
            with np.errstate(divide="ignore", invalid="ignore"):
                z = ndtri(1 - below) * scale / np.sqrt(0.75)
            if not np.all(np.isfinite(z)) or np.any(np.diff(z) >= 0):
                z = np.linspace(2, -2, K - 1)
            d[j, :K - 1] = z
        a = np.where(self.fixed_a, 1.0, 0.5 * scale)
        return a, d

    def n_free(self) -> int:
        items = int(self.free[:, 1:].sum()) + (1 if self.equal_a and (~self.fixed_a).any() else int((~self.fixed_a).sum()))
        return items + int(self.free_mean.sum() + self.free_var.sum())

    # ------------------------------------------------------------------ packing
    def pack(self, a, d, mean, var) -> np.ndarray:
        parts = [a[:1] if self.equal_a and (~self.fixed_a).any() else a[~self.fixed_a], d[self.free[:, 1:]],
                 mean[self.free_mean], var[self.free_var]]
        return np.concatenate(parts)

    def unpack(self, x, a0, d0, mean0, var0):
        a, d, mean, var = a0.copy(), d0.copy(), mean0.copy(), var0.copy()
        i = 0
        if self.equal_a and (~self.fixed_a).any():
            a[~self.fixed_a] = x[0]
            i = 1
        else:
            k = int((~self.fixed_a).sum())
            a[~self.fixed_a] = x[i:i + k]
            i += k
        k = int(self.free[:, 1:].sum())
        d[self.free[:, 1:]] = x[i:i + k]
        i += k
        k = int(self.free_mean.sum())
        mean[self.free_mean] = x[i:i + k]
        i += k
        var[self.free_var] = x[i:]
        return a, d, mean, var

    # ------------------------------------------------------------------ E-step
    def estep(self, a, d, mean, var, want_post=False):
        P = category_probs(a, d, self.theta, self.link)
        Q = len(self.theta)
        logP = np.log(np.maximum(P, FLOOR)).reshape(-1, Q)[self.valid]
        return self.estep_logp(logP, mean, var, want_post)

    def estep_logp(self, logP, mean, var, want_post=False):
        """The E-step from log category probabilities (valid categories x nodes)."""
        Q = len(self.theta)
        LL = self.Y @ logP
        logw = np.stack([self.grid.log_weights(mean[g], var[g]) for g in range(self.G)])
        LL += logw[self.pgroup]
        m = LL.max(axis=1, keepdims=True)
        E = np.exp(LL - m)
        s = E.sum(axis=1, keepdims=True)
        loglik = float(self.freq @ (m[:, 0] + np.log(s[:, 0])))
        post = E / s
        wpost = post * self.freq[:, None]
        rflat = self.Y.T @ wpost
        r = np.zeros((self.J * self.Kmax, Q))
        r[self.valid] = rflat
        Ng = self.gmat.T @ wpost
        return loglik, r.reshape(self.J, self.Kmax, Q), Ng, (post if want_post else None)

    # ------------------------------------------------------------------ M-step
    def _objective(self, a, d, r):
        P = category_probs(a, d, self.theta, self.link)
        with np.errstate(divide="ignore"):
            lp = np.where(r > 0, np.log(np.maximum(P, FLOOR)), 0.0)
        return (r * lp).sum(axis=(1, 2))

    def item_gradient(self, a, d, r, info=False):
        P, dP = prob_derivatives(a, d, self.theta, self.link)
        pos = P > 0
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            ratio = np.where(pos, r / np.where(pos, P, 1.0), 0.0)
        grad = np.einsum("jkq,jkpq->jp", ratio, dP)
        if not info:
            return grad
        n = r.sum(axis=1)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            wts = np.where(pos, n[:, None, :] / np.where(pos, P, 1.0), 0.0)
        inf = np.einsum("jkq,jkpq,jkrq->jpr", wts, dP, dP)
        return grad, inf

    def mstep_items(self, a, d, r, steps: int = 25):
        for _ in range(steps):
            grad, info = self.item_gradient(a, d, r, info=True)
            free = self.free
            grad = np.where(free, grad, 0.0)
            mask = free[:, :, None] & free[:, None, :]
            info = np.where(mask, info, 0.0)
            idx = np.arange(self.Kmax)
            info[:, idx, idx] = np.where(free, info[:, idx, idx], 1.0)
            if self.equal_a and (~self.fixed_a).any():
                step = self._equal_a_step(grad, info)
            else:
                try:
                    step = np.linalg.solve(info, grad[..., None])[..., 0]
                except np.linalg.LinAlgError:
                    step = grad / np.maximum(np.abs(np.diagonal(info, axis1=1, axis2=2)), 1e-8)
            obj0 = self._objective(a, d, r)
            t = np.ones(self.J)
            for _h in range(30):
                a1 = a + t * step[:, 0]
                d1 = d + t[:, None] * np.where(np.isfinite(d), step[:, 1:], 0.0)
                ordered = np.all(~(d1[:, 1:] > d1[:, :-1] - 1e-8) | ~np.isfinite(d1[:, 1:]), axis=1)
                obj1 = self._objective(a1, d1, r)
                bad = ~ordered | ~(obj1 >= obj0 - 1e-10 * np.abs(obj0)) | ~np.isfinite(obj1)
                if self.equal_a and bad.any():
                    bad[:] = True
                if not bad.any():
                    break
                t = np.where(bad, t * 0.5, t)
            else:
                a1 = np.where(bad, a, a1)
                d1 = np.where(bad[:, None], d, d1)
            a, d = a1, d1
            if np.max(np.abs(t[:, None] * step)) < 1e-9:
                break
        return a, d

    def _equal_a_step(self, grad, info):
        """Newton step when one slope is shared: the joint system couples items only through a."""
        J, K = self.J, self.Kmax
        free_a = ~self.fixed_a
        npar = 1 + (K - 1) * J
        H = np.zeros((npar, npar))
        g = np.zeros(npar)
        g[0] = grad[free_a, 0].sum()
        H[0, 0] = info[free_a, 0, 0].sum()
        for j in range(J):
            sl = slice(1 + j * (K - 1), 1 + (j + 1) * (K - 1))
            g[sl] = grad[j, 1:]
            H[sl, sl] = info[j, 1:, 1:]
            if free_a[j]:
                H[0, sl] = info[j, 0, 1:]
                H[sl, 0] = info[j, 1:, 0]
        s = np.linalg.solve(H, g)
        step = np.zeros((J, K))
        step[free_a, 0] = s[0]
        step[:, 1:] = s[1:].reshape(J, K - 1)
        return step

    def mstep_latent(self, Ng, mean, var):
        mean, var = mean.copy(), var.copy()
        tot = Ng.sum(axis=1)
        for g in range(self.G):
            if tot[g] <= 0:
                continue
            if self.free_mean[g]:
                mean[g] = float(Ng[g] @ self.theta / tot[g])
            if self.free_var[g]:
                var[g] = max(float(Ng[g] @ (self.theta - mean[g]) ** 2 / tot[g]), 1e-4)
        return mean, var

    def em_map(self, x, base):
        a, d, mean, var = self.unpack(x, *base)
        ll, r, Ng, _ = self.estep(a, d, mean, var)
        a, d = self.mstep_items(a, d, r)
        mean, var = self.mstep_latent(Ng, mean, var)
        return self.pack(a, d, mean, var), ll, (a, d, mean, var)

    def _valid(self, x, base) -> bool:
        a, d, mean, var = self.unpack(x, *base)
        if not np.all(np.isfinite(x)) or np.any(var <= 0):
            return False
        fin = np.isfinite(d[:, 1:])
        return bool(np.all(~fin | (d[:, 1:] < d[:, :-1])))

    # ------------------------------------------------------------------ fit
    def fit(self, a, d, mean, var, *, tol: float = 1e-4, max_iter: int = 2000, progress=None,
            accelerate: str = "ramsay") -> EMResult:
        """EM cycles until the largest change of any parameter in one cycle is below ``tol``.

        ``accelerate="ramsay"``: every third cycle the item parameters are extrapolated along
        the last step (Ramsay 1975), mirt's acceleration rule; the M-steps here are solved to
        convergence, so this does not stop where mirt stops (for mirt's own path see
        :mod:`peerscale.irt.mirt_em`). ``"squarem"``: SQUAREM (Varadhan & Roland 2008) with a
        monotone fallback, to converge tightly to the maximum. ``"none"``: plain EM.
        """
        base = (a, d, mean, var)
        x = self.pack(a, d, mean, var)
        n_item = len(x) - int(self.free_mean.sum() + self.free_var.sum())
        converged = False
        it = 0
        prev_step = None
        ll_prev = None
        mrate = 0.4
        while it < max_iter:
            if accelerate == "squarem":
                x1, ll0, base = self.em_map(x, base)
                x2, ll1, base2 = self.em_map(x1, base)
                it += 2
                r = x1 - x
                v = x2 - x1 - r
                nv = np.sqrt(v @ v)
                alpha = min(-np.sqrt(r @ r) / nv if nv > 0 else -1.0, -1.0)
                xnew = None
                for _ in range(10):
                    xp = x - 2 * alpha * r + alpha * alpha * v
                    if self._valid(xp, base2):
                        xs, llp, bs = self.em_map(xp, base2)
                        it += 1
                        if np.isfinite(llp) and llp >= ll1 - 1e-8 and self._valid(xs, bs):
                            xnew, base = xs, bs
                            break
                    if alpha >= -1.0 + 1e-12:
                        break
                    alpha = max((alpha - 1.0) / 2.0, -1.0) if alpha < -1.0 else -1.0
                if xnew is None:
                    xnew, base = x2, base2
                change = np.max(np.abs(xnew - x)) if len(x) else 0.0
                x = xnew
            else:
                x1, ll, base = self.em_map(x, base)
                it += 1
                if ll_prev is not None and ll - ll_prev > 0:
                    mrate = float(np.exp(ll_prev - ll))
                ll_prev = ll
                step = x1 - x
                change = np.max(np.abs(step)) if len(x) else 0.0
                if change < tol:
                    x = x1
                    converged = True
                    if progress is not None:
                        progress(it, change)
                    break
                if accelerate == "ramsay" and it % 3 == 0 and prev_step is not None and mrate > 0.01:
                    d2 = step - prev_step
                    den = d2 @ d2
                    if den > 0:
                        acc = max(1.0 - np.sqrt((step @ step) / den), -5.0)
                        xa = x1.copy()
                        xa[:n_item] = (1 - acc) * x1[:n_item] + acc * x[:n_item]
                        if self._valid(xa, base):
                            x1 = xa
                prev_step = x1 - x
                x = x1
            if progress is not None:
                progress(it, change)
            if accelerate == "squarem" and change < tol:
                converged = True
                break
        a, d, mean, var = self.unpack(x, *base)
        ll, _, _, _ = self.estep(a, d, mean, var)
        return EMResult(a, d, mean, var, ll, it, converged, self.n_free())

    # ------------------------------------------------------------------ standard errors
    def score(self, x, base, LL0=None) -> np.ndarray:
        """Observed-data score (gradient of the marginal log-likelihood) at packed x.

        ``LL0``: the pattern log-likelihoods (without the prior) at ``base``; when given, only
        the columns of items whose parameters differ from ``base`` are recomputed."""
        a, d, mean, var = self.unpack(x, *base)
        if LL0 is None:
            _, r, Ng, _ = self.estep(a, d, mean, var)
        else:
            a0, d0 = base[0], base[1]
            changed = np.flatnonzero((a != a0) | np.any((d != d0) & np.isfinite(d), axis=1))
            LL = LL0.copy()
            Q = len(self.theta)
            for j in changed:
                cols = slice(self.offsets[j], self.offsets[j + 1])
                K = self.n_cat[j]
                new = np.log(np.maximum(category_probs(a[j:j + 1], d[j:j + 1], self.theta, self.link)[0, :K], FLOOR))
                old = np.log(np.maximum(category_probs(a0[j:j + 1], d0[j:j + 1], self.theta, self.link)[0, :K], FLOOR))
                LL += self.Y[:, cols] @ (new - old).reshape(K, Q)
            logw = np.stack([self.grid.log_weights(mean[g], var[g]) for g in range(self.G)])
            LL += logw[self.pgroup]
            LL -= LL.max(axis=1, keepdims=True)
            np.exp(LL, out=LL)
            LL /= LL.sum(axis=1, keepdims=True)
            wpost = LL * self.freq[:, None]
            r = np.zeros((self.J * self.Kmax, Q))
            r[self.valid] = self.Y.T @ wpost
            r = r.reshape(self.J, self.Kmax, Q)
            Ng = self.gmat.T @ wpost
        g = self.item_gradient(a, d, r)
        gm = np.array([(Ng[k] @ (self.theta - mean[k])) / var[k] for k in range(self.G)])
        gv = np.array([Ng[k] @ ((self.theta - mean[k]) ** 2 / (2 * var[k] ** 2) - 1 / (2 * var[k]))
                       for k in range(self.G)])
        ga = g[:, 0]
        if self.equal_a and (~self.fixed_a).any():
            ga_part = np.array([ga[~self.fixed_a].sum()])
        else:
            ga_part = ga[~self.fixed_a]
        return np.concatenate([ga_part, g[:, 1:][self.free[:, 1:]], gm[self.free_mean], gv[self.free_var]])

    def observed_information(self, res: EMResult, central: bool | None = None) -> np.ndarray:
        """Negative Jacobian of the observed score (Oakes 1999), by finite differences: central
        for up to 60 parameters, forward (relative error about 1e-5) above that."""
        base = (res.a, res.d, res.mean, res.var)
        x = self.pack(*base)
        P = len(x)
        central = P <= 60 if central is None else central
        Q = len(self.theta)
        logP = np.log(np.maximum(category_probs(res.a, res.d, self.theta, self.link), FLOOR)).reshape(-1, Q)[self.valid]
        LL0 = self.Y @ logP
        s0 = None if central else self.score(x, base, LL0)
        H = np.zeros((P, P))
        for p in range(P):
            h = 1e-5 * max(1.0, abs(x[p]))
            xp = x.copy()
            xp[p] += h
            if central:
                xm = x.copy()
                xm[p] -= h
                H[:, p] = (self.score(xp, base, LL0) - self.score(xm, base, LL0)) / (2 * h)
            else:
                H[:, p] = (self.score(xp, base, LL0) - s0) / h
        return -(H + H.T) / 2
