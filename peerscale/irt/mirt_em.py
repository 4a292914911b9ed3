"""The EM path of R's mirt, cycle for cycle: ``fit_irt(..., mirt_compatible=True)``.

mirt's default EM (``mirt(data, 1)``, method ``"EM"``, mirt 1.43) stops *before* the maximum:
its M-step is not solved, only improved, and it stops on a parameter change of ``1e-4``. Its
published estimates are therefore the point where that particular path stops, and a program
that finds the maximum differs from them by the distance still to go along the flattest
direction of the likelihood (Science: item Future by 1.1e-2, at a log-likelihood 1.2e-4 below
the maximum). This module follows the same path so that the estimates agree digit for digit:

1. Start values (as :meth:`EMEngine.start`): slope ``0.5 * 1.702``, intercepts
   ``d_k = 1.702 * z(P(X >= k)) / sqrt(1 - 0.5^2)`` with proportions over all rows.
2. Quadrature: the engine's grid (mirt: 61 equally spaced nodes on [-6, 6]) with normal
   weights normalised to sum 1.
3. E-step: expected category counts ``r_jkq`` and node counts; log-likelihood ``LL_c`` of the
   cycle's parameters. Category probabilities are mirt's: ``z`` clipped to ±35,
   ``P(X = k)`` clamped to [1e-20, 1 - 1e-20], and an item whose thresholds are out of order
   has probability 0 (so a step there is rejected).
4. M-step: one BFGS run (R's ``optim(method = "BFGS")``, Nash's variable-metric algorithm:
   identity start metric, backtracking by 0.2 with acceptance constant 1e-4, relative
   tolerance ``sqrt(machine eps)`` on the objective) over all free item parameters at once,
   from the current values, on ``-sum_jkq r_jkq log P_jk(theta_q)`` with analytic gradients
   (a graded item divides by ``max(P, 1e-10)``, a binary one by ``P``). Its iteration limit
   is ``max(ceil(50 * rate), 15)`` where ``rate = exp(LL_{c-1} - LL_c)`` when the
   log-likelihood rose (0.4 before the second cycle).
5. Stop when no parameter moved by ``tol`` (1e-4) in the M-step; otherwise, every third cycle
   when ``rate > 0.01``, Ramsay's (1975) extrapolation of the item parameters:
   ``x <- (1 - k) x_new + k x_old`` with ``k = max(1 - |dx| / |dx - dx_prev|, -5)``.
6. The reported log-likelihood is a last E-step at the final parameters.

Models with a free latent variance (Rasch) are not covered: mirt bounds the variance below by
1e-4 and so switches its M-step to ``nlminb`` (the PORT library), a different optimiser whose
path is not reproduced here; those models are fitted to the maximum.

References
----------
Ramsay, J. O. (1975). Solving implicit equations in psychometric data analysis.
Psychometrika, 40, 337-360. Nash, J. C. (1990). Compact Numerical Methods for Computers,
2nd ed., Algorithm 21. Chalmers, R. P. (2012). mirt. J. Stat. Softw. 48(6).
"""

from __future__ import annotations

import numpy as np

from .em import EMEngine, EMResult

Z_MAX = 35.0  # mirt clips the linear predictor here
P_MIN = 1e-20  # and clamps category probabilities to [P_MIN, 1 - P_MIN]
DIV_MIN = 1e-10  # the graded gradient divides by max(P, DIV_MIN) (binary items: by P itself)
BIG = 1e100  # objective value of an impossible point (thresholds out of order)
M_RATE_START = 0.4


class _Problem:
    """The free item parameters of one engine as a flat vector, item by item (``a_j`` if
    free, then ``d_j1 .. d_j,K-1``), as mirt orders them."""

    def __init__(self, eng: EMEngine):
        if eng.link != "logistic":
            raise ValueError("the mirt-compatible EM path exists for the logistic link only")
        if eng.equal_a or eng.G != 1 or eng.free_mean.any() or eng.free_var.any():
            raise ValueError("the mirt-compatible EM path covers one group with a fixed N(0, 1) trait and "
                             "item-specific slopes")
        self.eng = eng
        J, Kmax = eng.J, eng.Kmax
        free = eng.free.copy()  # J x Kmax: column 0 the slope, 1.. the intercepts
        self.item_slots = np.flatnonzero(free.ravel())  # positions in the J x Kmax parameter table
        self.binary = eng.n_cat == 2
        self.valid = np.arange(Kmax)[None, :] < eng.n_cat[:, None]  # J x Kmax categories
        self.theta = eng.theta

    # ------------------------------------------------------------------ vector <-> arrays
    def pack(self, a, d) -> np.ndarray:
        return np.column_stack([a, np.where(np.isfinite(d), d, 0.0)]).ravel()[self.item_slots]

    def unpack(self, x, a0, d0):
        J, Kmax = self.eng.J, self.eng.Kmax
        table = np.column_stack([a0, np.where(np.isfinite(d0), d0, 0.0)]).ravel()
        table[self.item_slots] = x
        table = table.reshape(J, Kmax)
        return table[:, 0].copy(), np.where(np.isfinite(d0), table[:, 1:], -np.inf)

    # ------------------------------------------------------------------ mirt's trace lines
    def cumulative(self, a, d):
        """P(X >= k), k = 0..Kmax (1 first, 0 past each item's top): J x (Kmax+1) x Q."""
        z = a[:, None, None] * self.theta[None, None, :] + d[:, :, None]
        with np.errstate(invalid="ignore"):
            z = np.clip(z, -Z_MAX, Z_MAX)
        star = 1.0 / (1.0 + np.exp(-z))
        star[~np.isfinite(d)] = 0.0  # padded thresholds
        J, _, Q = star.shape
        return np.concatenate([np.ones((J, 1, Q)), star, np.zeros((J, 1, Q))], axis=1)

    def ordered(self, d) -> np.ndarray:
        fin = np.isfinite(d[:, 1:])
        return np.all(~fin | (d[:, 1:] < d[:, :-1]), axis=1)

    def probs(self, a, d) -> np.ndarray:
        """Category probabilities as mirt computes them: J x Kmax x Q (0 for padded
        categories and for every category of an item with disordered thresholds)."""
        star = self.cumulative(a, d)
        P = np.clip(star[:, :-1] - star[:, 1:], P_MIN, 1.0 - P_MIN)
        P = np.where(self.valid[:, :, None], P, 0.0)
        P[~self.ordered(d)] = 0.0
        return P

    # ------------------------------------------------------------------ E-step
    def estep(self, a, d):
        eng = self.eng
        Q = len(self.theta)
        P = self.probs(a, d)
        with np.errstate(divide="ignore"):
            logP = np.log(P).reshape(-1, Q)[eng.valid]
        return eng.estep_logp(logP, np.zeros(1), np.ones(1))

    # ------------------------------------------------------------------ M-step objective
    def objective(self, x, base, r) -> float:
        a, d = self.unpack(x, *base)
        if not np.all(self.ordered(d)):
            return BIG
        P = self.probs(a, d)
        use = r > 0
        ll = float(np.sum(r[use] * np.log(P[use])))
        return -ll if np.isfinite(ll) else BIG

    def gradient(self, x, base, r) -> np.ndarray:
        a, d = self.unpack(x, *base)
        star = self.cumulative(a, d)
        PQ = star * (1.0 - star)
        P = star[:, :-1] - star[:, 1:]
        P = np.where(self.binary[:, None, None], P, np.maximum(P, DIV_MIN))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(r > 0, r / P, 0.0)  # J x Kmax x Q
        J, Kmax = self.eng.J, self.eng.Kmax
        g = np.zeros((J, Kmax))
        g[:, 0] = np.einsum("jkq,jkq,q->j", ratio, PQ[:, :-1] - PQ[:, 1:], self.theta)
        g[:, 1:] = np.einsum("jkq,jkq->jk", PQ[:, 1:-1], ratio[:, 1:] - ratio[:, :-1])
        return -g.ravel()[self.item_slots]


def bfgs(x0, fn, gr, maxit: int, reltol: float = float(np.sqrt(np.finfo(float).eps)),
         abstol: float = -np.inf) -> tuple[np.ndarray, float, int, int]:
    """Minimise ``fn`` from ``x0`` by the variable-metric (BFGS) method of R's
    ``optim(method = "BFGS")`` (Nash 1990, Algorithm 21): the inverse-Hessian estimate starts
    as the identity and is reset when a step fails to give curvature, when a search fails, and
    after ``2n`` updates; the line search backtracks by a factor 0.2 until the decrease is at
    least 1e-4 of the linear prediction; the run stops when a step changes the objective by at
    most ``reltol * (|f| + reltol)``, when no coordinate changes (compared as ``10 + x``), or
    after ``maxit`` gradient evaluations.

    Returns the minimiser, its objective value and the numbers of objective and gradient
    evaluations (R's ``par``, ``value`` and ``counts``)."""
    step_reduction, accept, rel_test = 0.2, 1e-4, 10.0
    x = np.array(x0, dtype=float)
    n = len(x)
    f = fn(x)
    if not np.isfinite(f):
        raise FloatingPointError("the M-step objective is not finite at the start values")
    fmin = f
    g = gr(x)
    fcount = 1
    iters = 1
    grads = 1
    last_reset = grads
    H = np.eye(n)
    while True:
        if last_reset == grads:
            H = np.eye(n)
        x_old, g_old = x.copy(), g.copy()
        direction = -H @ g
        slope = float(direction @ g)
        if slope < 0.0:  # downhill
            step = 1.0
            while True:
                x = x_old + step * direction
                unchanged = int(np.count_nonzero(rel_test + x_old == rel_test + x))
                if unchanged < n:
                    f = fn(x)
                    fcount += 1
                    ok = np.isfinite(f) and f <= fmin + slope * step * accept
                    if not ok:
                        step *= step_reduction
                else:
                    ok = False
                if unchanged == n or ok:
                    break
            enough = f > abstol and abs(f - fmin) > reltol * (abs(fmin) + reltol)
            if not enough:
                unchanged = n
                fmin = f
            if unchanged < n:  # progress: update the metric
                fmin = f
                g = gr(x)
                grads += 1
                iters += 1
                s = step * direction
                y = g - g_old
                sy = float(s @ y)
                if sy > 0:
                    Hy = H @ y
                    factor = 1.0 + float(Hy @ y) / sy
                    H = H + (factor * np.outer(s, s) - np.outer(Hy, s) - np.outer(s, Hy)) / sy
                else:
                    last_reset = grads
            elif last_reset < grads:  # no progress: restart from steepest descent
                unchanged = 0
                last_reset = grads
        else:  # uphill: reset unless just reset
            unchanged = 0
            if last_reset == grads:
                unchanged = n
            else:
                last_reset = grads
        if iters >= maxit:
            break
        if grads - last_reset > 2 * n:
            last_reset = grads
        if unchanged == n and last_reset == grads:
            break
    return x, fmin, fcount, grads


def fit_mirt_path(eng: EMEngine, a, d, *, tol: float = 1e-4, max_cycles: int = 500,
                  progress=None) -> EMResult:
    """EM cycles as mirt's ``EM.group`` with its defaults (BFGS M-step, Ramsay acceleration),
    from the given start values, for one group with a N(0, 1) trait; see the module docstring."""
    prob = _Problem(eng)
    base = (np.asarray(a, float), np.asarray(d, float))
    x = prob.pack(*base)
    rate = M_RATE_START
    lls: list[float] = []
    before = before2 = x.copy()
    converged = False
    cycle = 0
    for cycle in range(1, max_cycles + 1):
        ll, r, _, _ = prob.estep(*prob.unpack(x, *base))
        lls.append(ll)
        if cycle > 1:
            rise = lls[-1] - lls[-2]
            if rise > 0:
                rate = float(np.exp(-rise)) if np.isfinite(rise) else 1e-6
        before2, before = before, x.copy()
        maxit = max(int(np.ceil(rate * 50)), 15)
        x, _, _, _ = bfgs(x, lambda v: prob.objective(v, base, r), lambda v: prob.gradient(v, base, r), maxit)
        change = float(np.max(np.abs(x - before))) if len(x) else 0.0
        if progress is not None:
            progress(cycle, change)
        if change < tol:
            converged = True
            break
        if cycle % 3 == 0 and rate > 0.01:
            step, prev = x - before, before - before2
            curv = step - prev
            den = float(curv @ curv)
            if den > 0:
                k = max(1.0 - np.sqrt(float(step @ step) / den), -5.0)
                x = (1 - k) * x + k * before
    a, d = prob.unpack(x, *base)
    ll, _, _, _ = prob.estep(a, d)
    return EMResult(a, d, np.zeros(1), np.ones(1), ll, cycle, converged, eng.n_free())
