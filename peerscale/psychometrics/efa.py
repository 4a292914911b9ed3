"""Exploratory factor analysis as ``psych::fa`` (psych 2.2.9): extraction and rotation.

Extraction (``method``), all on the correlation matrix R (p items, k factors):

- ``"minres"`` (psych's default ``fm="minres"``): unweighted least squares. Minimise the
  sum of squared *off-diagonal* residuals ``sum_{i<j} (R - ΛΛ')_ij^2`` over the uniquenesses
  ψ, where Λ holds the first k eigenvectors of ``R - diag(ψ)`` scaled by the square roots of
  their eigenvalues; starting from ψ = 1 − SMC, bounded to [0.005, max(SMC, 1)] as psych.
- ``"ml"``: maximum likelihood (Lawley & Maxwell 1971; the ``factanal``/psych objective)
  ``F(ψ) = -Σ_{j>k} (log θ_j − θ_j) − k + p`` with θ the eigenvalues of ``ψ^{-1/2} R ψ^{-1/2}``
  and ``Λ = ψ^{1/2} V_k (Θ_k − I)^{1/2}``.
- ``"pa"``: iterated principal axis: communalities start at the SMCs and are replaced by
  ``diag(ΛΛ')`` until their sum changes by less than 0.001 (at most 50 iterations), as psych.

Rotation (``rotation``): ``"oblimin"`` (quartimin, γ = 0) and ``"geomin"`` (δ = 0.01) by
gradient projection (Jennrich 2002; GPArotation's ``GPFoblq``, no row normalisation),
``"varimax"`` (Kaiser 1958, Kaiser-normalised as ``stats::varimax``), ``"promax"`` (psych's
``kaiser(rotate="Promax")``: Kaiser-normalised varimax then power 4; Hendrickson & White
1964), or ``None``/``"none"``. Afterwards, as psych, every factor is signed so its loadings
sum positive and factors are sorted by decreasing variance explained ``diag(Φ Λ'Λ)``.

Reference: Revelle, W. (2022) psych: Procedures for Psychological, Psychometric, and
Personality Research, version 2.2.9, function ``fa``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize

from ..errors import PeerscaleError
from .blas import single_threaded_blas
from .data import Summarised, fmt, smc, table_text

METHODS = ("minres", "ml", "pa")
ROTATIONS = ("oblimin", "geomin", "promax", "varimax", "none")


@dataclass(repr=False)
class EFAResult(Summarised):
    """A fitted EFA. ``loadings`` is the p×k pattern matrix, ``phi`` the k×k factor
    correlations (identity for orthogonal rotations or none), ``communalities`` ``h2 = diag(ΛΦΛ')``,
    ``uniquenesses`` ``1 − h2``; ``variance_explained`` is a DataFrame with rows
    ``ss_loadings`` (``diag(ΦΛ'Λ)``), ``proportion`` (÷ p) and ``cumulative``."""

    loadings: np.ndarray
    phi: np.ndarray
    communalities: np.ndarray
    uniquenesses: np.ndarray
    variance_explained: pd.DataFrame
    columns: list[str]
    method: str
    rotation: str
    n_obs: int | None
    correlation: np.ndarray
    structure: np.ndarray
    eigenvalues: np.ndarray
    converged: bool
    pair_counts: np.ndarray | None = None  # pairwise n (psych's np.obs), from item data only

    @property
    def n_factors(self) -> int:
        return self.loadings.shape[1]

    def loadings_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.loadings, index=self.columns,
                            columns=[f"F{i + 1}" for i in range(self.n_factors)])

    def fit_measures(self) -> dict:
        """Goodness of fit as psych's ``fa.stats`` reports it (see :func:`_fit_measures`)."""
        return _fit_measures(self)

    def to_frame(self) -> pd.DataFrame:
        """Pattern loadings with ``h2`` and ``u2``, one row per item (psych's loadings table)."""
        frame = self.loadings_frame()
        frame["h2"] = self.communalities
        frame["u2"] = self.uniquenesses
        return frame

    def summary(self) -> str:
        """As ``print(psych::fa(...))``: loadings, variance accounted for, factor correlations, fit."""
        lines = [f"Factor analysis: {self.n_factors} factor(s), {self.method} extraction, {self.rotation} rotation"
                 + (f", n = {self.n_obs}" if self.n_obs else "") + ("" if self.converged else " (did NOT converge)"),
                 table_text(self.to_frame()), "", table_text(self.variance_explained)]
        if self.n_factors > 1 and not np.allclose(self.phi, np.eye(self.n_factors)):
            names = [f"F{i + 1}" for i in range(self.n_factors)]
            lines += ["", "With factor correlations of", table_text(pd.DataFrame(self.phi, index=names, columns=names))]
        fit = self.fit_measures()
        if "chisq" in fit:
            lines += ["", f"chisq({fmt(fit['df'], 0)}) = {fmt(fit['chisq'])}, p = {fmt(fit.get('pvalue'), 3)}; "
                          f"TLI = {fmt(fit.get('tli'), 3)}; RMSEA = {fmt(fit.get('rmsea'), 3)}; RMSR = {fmt(fit['rms'])}"]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# input
# ---------------------------------------------------------------------------------------

def _is_correlation(a: np.ndarray) -> bool:
    return (a.ndim == 2 and a.shape[0] == a.shape[1] and np.allclose(a, a.T, atol=1e-10)
            and np.allclose(np.diag(a), 1.0, atol=1e-8))


def correlation_input(data_or_corr, n_obs: int | None = None) -> tuple[np.ndarray, list[str], int | None]:
    """Return ``(R, columns, n_obs)`` from a data frame (pairwise-complete Pearson, psych's
    default ``use="pairwise"``), a correlation matrix (DataFrame or ndarray with unit
    diagonal), or a polychoric result (any object with ``.rho`` and ``.columns``)."""
    if hasattr(data_or_corr, "rho") and hasattr(data_or_corr, "columns"):
        r = np.array(data_or_corr.rho, dtype=float)
        return r, [str(c) for c in data_or_corr.columns], n_obs
    if isinstance(data_or_corr, pd.DataFrame):
        values = data_or_corr.to_numpy(dtype=float, copy=True)
        cols = [str(c) for c in data_or_corr.columns]
        if _is_correlation(values) and [str(i) for i in data_or_corr.index] == cols:
            return values, cols, n_obs
        if values.shape[1] < 2:
            raise PeerscaleError("factor analysis needs at least two items",
                                 hint="pass more item columns")
        bad = [c for c, ok in zip(cols, np.isfinite(values).sum(axis=0) > 1) if not ok]
        if bad:
            raise PeerscaleError("item has fewer than two answers", column=bad[0],
                                 hint="drop the item or check the column mapping")
        r = data_or_corr.astype(float).corr(method="pearson", min_periods=2).to_numpy(copy=True)
        if not np.isfinite(r).all():
            i, j = np.argwhere(~np.isfinite(r))[0]
            raise PeerscaleError(f"correlation of {cols[i]!r} and {cols[j]!r} is undefined "
                                 "(no variance or no pairs answered together)", column=cols[i],
                                 hint="drop constant items or items nobody answered together")
        if n_obs is None:
            n_obs = int(values.shape[0])  # psych: n.obs = nrow(data)
        return r, cols, n_obs
    a = np.asarray(data_or_corr, dtype=float)
    if a.ndim != 2:
        raise PeerscaleError("expected a data matrix or a correlation matrix")
    cols = [f"V{i + 1}" for i in range(a.shape[1])]
    if _is_correlation(a):
        return a.copy(), cols, n_obs
    return correlation_input(pd.DataFrame(a, columns=cols), n_obs)


# ---------------------------------------------------------------------------------------
# extraction
# ---------------------------------------------------------------------------------------

def _top_eig(a: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    vals, vecs = np.linalg.eigh(a)
    order = np.argsort(vals)[::-1]
    return vals[order], vecs[:, order[:k]]


def _minres_loadings(psi, r, k):
    vals, vecs = _top_eig(r - np.diag(psi), k)
    return vecs * np.sqrt(np.maximum(vals[:k], 0.0))


def _minres_objective(psi, r, k):
    lam = _minres_loadings(psi, r, k)
    res = r - lam @ lam.T
    f = 0.5 * np.sum(res ** 2) - 0.5 * np.sum(np.diag(res) ** 2)
    return f


def _minres_gradient(psi, r, k):
    # psych's FAgr.minres: diag(ΛΛ' + ψ − R). Zero exactly at the ULS solution.
    lam = _minres_loadings(psi, r, k)
    return np.einsum("ij,ij->i", lam, lam) + psi - np.diag(r)


def _ml_objective(psi, r, k):
    sc = 1.0 / np.sqrt(psi)
    theta = np.linalg.eigvalsh(r * np.outer(sc, sc))[::-1][k:]
    return -(np.sum(np.log(theta) - theta) - k + r.shape[0])


def _ml_loadings(psi, r, k):
    sc = 1.0 / np.sqrt(psi)
    vals, vecs = _top_eig(r * np.outer(sc, sc), k)
    lam = vecs * np.sqrt(np.maximum(vals[:k] - 1.0, 0.0))
    return np.sqrt(psi)[:, None] * lam


def _ml_gradient(psi, r, k):
    lam = _ml_loadings(psi, r, k)
    g = np.einsum("ij,ij->i", lam, lam) + psi - np.diag(r)
    return g / psi ** 2


def _fit_psi(r, k, method):
    s = smc(r)
    start = np.diag(r) - s
    upper = max(float(s.max()), 1.0)
    fun, grad = ((_ml_objective, _ml_gradient) if method == "ml"
                 else (_minres_objective, _minres_gradient))
    res = optimize.minimize(fun, start, args=(r, k), jac=grad, method="L-BFGS-B",
                            bounds=[(0.005, upper)] * len(start),
                            options={"maxiter": 5000, "ftol": 1e-14, "gtol": 1e-9})
    psi = res.x
    lam = _ml_loadings(psi, r, k) if method == "ml" else _minres_loadings(psi, r, k)
    return lam, bool(res.success)


def _fit_pa(r, k, min_err=0.001, max_iter=50):
    rm = r.copy()
    np.fill_diagonal(rm, smc(r))
    comm = float(np.trace(rm))
    converged = False
    for _ in range(max_iter):
        vals, vecs = _top_eig(rm, k)
        lam = vecs * np.sqrt(np.maximum(vals[:k], 0.0))
        new = np.einsum("ij,ij->i", lam, lam)
        comm1 = float(new.sum())
        np.fill_diagonal(rm, new)
        if abs(comm - comm1) < min_err:
            converged = True
            break
        comm = comm1
    return lam, converged


def extract(r: np.ndarray, n_factors: int, method: str = "minres") -> tuple[np.ndarray, bool]:
    """Unrotated loadings (p×k) and whether the fit converged; see the module docstring."""
    if method == "pa":
        lam, ok = _fit_pa(r, n_factors)
    elif method in ("minres", "ml"):
        lam, ok = _fit_psi(r, n_factors, method)
    else:
        raise PeerscaleError(f"unknown extraction method {method!r}", value=method,
                             hint=f"use one of {', '.join(METHODS)}")
    signs = np.sign(lam.sum(axis=0))
    signs[signs == 0] = 1
    return lam * signs, ok


# ---------------------------------------------------------------------------------------
# rotation
# ---------------------------------------------------------------------------------------

def _vgq_oblimin(lam, gamma=0.0):
    k = lam.shape[1]
    x = (lam ** 2) @ (1.0 - np.eye(k))
    if gamma != 0:
        p = lam.shape[0]
        x = (np.eye(p) - gamma / p) @ x
    return lam * x, float(np.sum(lam ** 2 * x) / 4.0)


def _vgq_geomin(lam, delta=0.01):
    k = lam.shape[1]
    l2 = lam ** 2 + delta
    pro = np.exp(np.log(l2).sum(axis=1) / k)
    return (2.0 / k) * (lam / l2) * pro[:, None], float(pro.sum())


def gpa_oblique(a: np.ndarray, criterion, eps: float = 1e-5, max_iter: int = 1000):
    """Oblique gradient-projection rotation (Jennrich 2002), the algorithm of GPArotation's
    ``GPFoblq`` started from the identity. Returns ``(pattern, phi, converged)`` with
    ``pattern = A T'^{-1}`` and ``phi = T'T``."""
    k = a.shape[1]
    t = np.eye(k)
    lam = a @ np.linalg.inv(t).T
    gq, f = criterion(lam)
    g = -(lam.T @ gq @ np.linalg.inv(t)).T
    al = 1.0
    converged = False
    for _ in range(max_iter + 1):
        gp = g - t @ np.diag(np.sum(t * g, axis=0))
        s = np.sqrt(np.sum(gp ** 2))
        if s < eps:
            converged = True
            break
        al *= 2.0
        for _ in range(11):
            x = t - al * gp
            tt = x / np.sqrt(np.sum(x ** 2, axis=0))
            lam = a @ np.linalg.inv(tt).T
            gq_t, f_t = criterion(lam)
            if f - f_t > 0.5 * s ** 2 * al:
                break
            al /= 2.0
        t = tt
        f = f_t
        g = -(lam.T @ gq_t @ np.linalg.inv(t)).T
    return lam, t.T @ t, converged


def varimax(a: np.ndarray, normalize: bool = True, eps: float = 1e-5, max_iter: int = 1000):
    """Varimax (Kaiser 1958) by the SVD iteration of ``stats::varimax``; returns
    ``(loadings, rotation_matrix)``."""
    p, k = a.shape
    if k < 2:
        return a.copy(), np.eye(k)
    x = a.copy()
    if normalize:
        sc = np.sqrt(np.sum(x ** 2, axis=1))
        x = x / sc[:, None]
    tm = np.eye(k)
    d = 0.0
    for _ in range(max_iter):
        z = x @ tm
        b = x.T @ (z ** 3 - z @ np.diag(np.sum(z ** 2, axis=0)) / p)
        u, sv, vt = np.linalg.svd(b)
        tm = u @ vt
        dpast = d
        d = float(np.sum(sv))
        if d < dpast * (1 + eps):
            break
    z = x @ tm
    if normalize:
        z = z * sc[:, None]
    return z, tm


def promax(a: np.ndarray, m: int = 4):
    """psych's ``kaiser(f, rotate="Promax")``: rows scaled to unit communality, varimax,
    target ``Q = L|L|^{m-1}``, least-squares transformation rescaled so the factors have unit
    variance, rows scaled back. Returns ``(pattern, phi)``."""
    h = np.sqrt(np.sum(a ** 2, axis=1))
    w = a / h[:, None]
    x, rot = varimax(w)
    q = x * np.abs(x) ** (m - 1)
    u, *_ = np.linalg.lstsq(x, q, rcond=None)
    d = np.diag(np.linalg.inv(u.T @ u))
    u = u @ np.diag(np.sqrt(d))
    z = x @ u
    u_full = rot @ u
    ui = np.linalg.inv(u_full)
    return z * h[:, None], ui @ ui.T


def rotate(a: np.ndarray, rotation: str | None) -> tuple[np.ndarray, np.ndarray, bool]:
    """Rotate unrotated loadings.

    Parameters
    ----------
    a : numpy.ndarray
        p × k unrotated loadings.
    rotation : {"oblimin", "geomin", "promax", "varimax", "none"} or None

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, bool)
        Pattern loadings, factor correlations (identity for orthogonal rotations) and whether
        the rotation converged.

    Examples
    --------
    As ``GPArotation::oblimin(a)`` (``$loadings``, ``$Phi``):

    >>> import numpy as np
    >>> from peerscale.psychometrics import rotate
    >>> a = np.array([[.7, .3], [.6, .4], [.3, .6], [.2, .7]])
    >>> pattern, phi, ok = rotate(a, "oblimin")
    >>> pattern.shape, ok
    ((4, 2), True)
    """
    k = a.shape[1]
    rotation = "none" if rotation is None else rotation
    if rotation not in ROTATIONS:
        raise PeerscaleError(f"unknown rotation {rotation!r}", value=rotation,
                             hint=f"use one of {', '.join(ROTATIONS)}")
    if k < 2 or rotation == "none":
        return a.copy(), np.eye(k), True
    if rotation == "oblimin":
        return gpa_oblique(a, _vgq_oblimin)
    if rotation == "geomin":
        return gpa_oblique(a, _vgq_geomin)
    if rotation == "varimax":
        lam, _ = varimax(a)
        return lam, np.eye(k), True
    lam, phi = promax(a)
    return lam, phi, True


# ---------------------------------------------------------------------------------------
# the whole analysis
# ---------------------------------------------------------------------------------------

def fit_efa(data_or_corr, n_factors: int, *, method: str = "minres", rotation: str | None = "oblimin",
            n_obs: int | None = None) -> EFAResult:
    """Exploratory factor analysis: extraction, rotation, sorting and signs as psych.

    Parameters
    ----------
    data_or_corr : pandas.DataFrame, array-like or PolychoricResult
        Item responses (pairwise Pearson correlations, as psych's ``use = "pairwise"``), a
        correlation matrix, or a :func:`~peerscale.psychometrics.polychoric.polychoric_matrix`
        result (ordinal EFA).
    n_factors : int
        Number of factors (fewer than the items).
    method : {"minres", "ml", "pa"}, default "minres"
        Extraction (psych's ``fm``).
    rotation : {"oblimin", "geomin", "promax", "varimax", "none"}, default "oblimin"
    n_obs : int, optional
        Number of observations when a matrix is given (for the fit statistics).

    Returns
    -------
    EFAResult
        Pattern ``loadings`` (``to_frame()`` adds h2 and u2), factor correlations ``phi``,
        ``communalities``, ``variance_explained`` and ``fit_measures()`` (psych's ``fa.stats``).

    Notes
    -----
    minres minimises the off-diagonal residuals ``Σ_{i<j} (R − ΛΛ')²_ij``; ml the likelihood
    discrepancy; pa iterates communalities from the SMCs. Oblique rotations by gradient
    projection (GPArotation's ``GPFoblq``). See the module docstring.

    References
    ----------
    Revelle, W. (2022). psych 2.2.9, ``fa``. Jennrich, R. I. (2002). Psychometrika, 67, 7-19.

    Examples
    --------
    As ``psych::fa(x, nfactors = 2, fm = "minres", rotate = "oblimin")``:

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(2)
    >>> f = rng.normal(size=(400, 2))
    >>> x = pd.DataFrame(np.column_stack([f[:, [0]] + rng.normal(size=(400, 3)), f[:, [1]] + rng.normal(size=(400, 3))]),
    ...                  columns=["a1", "a2", "a3", "b1", "b2", "b3"])
    >>> from peerscale.psychometrics import fit_efa
    >>> res = fit_efa(x, 2)
    >>> res.to_frame().shape, round(float(res.phi[0, 1]), 1)
    ((6, 4), 0.0)
    """
    r, cols, n_obs = correlation_input(data_or_corr, n_obs)
    p = r.shape[0]
    if not isinstance(n_factors, (int, np.integer)) or n_factors < 1:
        raise PeerscaleError("number of factors must be a positive whole number", value=n_factors)
    if n_factors >= p:
        raise PeerscaleError(f"{n_factors} factors need more than {p} items", value=n_factors,
                             hint="extract fewer factors or analyse more items")
    if method not in METHODS:
        raise PeerscaleError(f"unknown extraction method {method!r}", value=method,
                             hint=f"use one of {', '.join(METHODS)}")
    eig = np.linalg.eigvalsh(r)
    if eig.min() < -1e-8:
        raise PeerscaleError("the correlation matrix is not positive semi-definite "
                             "(pairwise missing data or polychoric estimates can cause this)",
                             hint="use listwise deletion, or smooth the matrix before the EFA")
    with single_threaded_blas():
        unrotated, ok = extract(r, int(n_factors), method)
        lam, phi, rot_ok = rotate(unrotated, rotation)
    signs = np.sign(lam.sum(axis=0))
    signs[signs == 0] = 1
    lam = lam * signs
    phi = phi * np.outer(signs, signs)
    ss = np.diag(phi @ lam.T @ lam)
    order = np.argsort(-ss, kind="stable")
    lam, phi, ss = lam[:, order], phi[np.ix_(order, order)], ss[order]
    h2 = np.einsum("ij,jk,ik->i", lam, phi, lam)
    ve = pd.DataFrame([ss, ss / p, np.cumsum(ss) / p],
                      index=["ss_loadings", "proportion", "cumulative"],
                      columns=[f"F{i + 1}" for i in range(lam.shape[1])])
    return EFAResult(loadings=lam, phi=phi, communalities=h2, uniquenesses=1.0 - h2,
                     variance_explained=ve, columns=cols, method=method,
                     rotation="none" if rotation is None else rotation, n_obs=n_obs,
                     correlation=r, structure=lam @ phi, eigenvalues=eig[::-1],
                     converged=bool(ok and rot_ok), pair_counts=_pair_counts(data_or_corr, r))


def _pair_counts(data_or_corr, r: np.ndarray) -> np.ndarray | None:
    """Pairwise complete counts of item data (psych's ``pairwiseCount``), None for a
    correlation-matrix input (then psych, too, has no ``np.obs``)."""
    if not isinstance(data_or_corr, pd.DataFrame) or data_or_corr.shape[1] != r.shape[0]:
        return None
    values = data_or_corr.to_numpy(dtype=float, copy=True)
    if _is_correlation(values) and values.shape[0] == values.shape[1]:
        return None
    answered = np.isfinite(values).astype(float)
    return answered.T @ answered


def _fit_measures(res: EFAResult) -> dict:
    """Goodness of fit of an EFA as psych's ``fa.stats`` reports it (any extraction), with
    p items, k factors, N = ``n_obs`` and the model ``M = ΛΦΛ'`` with unit diagonal:

    - ``objective = tr(M⁻¹R) − log|M⁻¹R| − p`` and ``chisq = objective · (N − 1 − (2p + 5)/6 − 2k/3)``
      (Bartlett's correction), ``df = p(p−1)/2 − pk + k(k−1)/2``;
    - ``TLI = (M0 − Mm)/(M0 − 1/ν)`` with ``Mm = objective/df``, ``M0 = F0·2/(p(p−1))``,
      ``F0 = tr R − log|R| − p``, ν the correction factor above;
    - ``RMSEA = √max(chisq/(df·N) − 1/(N − 1), 0)`` and its 90% interval from the noncentral χ²
      with ``√(λ/((N − 1)·df))``; ``BIC = chisq − df·log N``;
    - ``rms`` and ``crms``: root mean square off-diagonal residual, over p(p−1) and over 2·df;
      from item data each squared residual is weighted by its pairwise n (psych's ``np.obs``):
      ``rms = √(Σ n_ij e_ij² / (n_h p(p−1)))``, ``crms = √(Σ n_ij e_ij² / (2 n_h df))`` with
      ``n_h`` the harmonic mean of all pairwise n (equal to the unweighted form without missing
      answers).

    psych smooths non-positive-definite matrices first; here such a model is reported as
    undefined (NaN) instead."""
    from scipy import optimize, special

    r = res.correlation
    p, k = res.loadings.shape
    n = res.n_obs
    model = res.loadings @ res.phi @ res.loadings.T
    resid = r - model
    off = ~np.eye(p, dtype=bool)
    counts = res.pair_counts
    if counts is None:
        rstar_off, nh = float(np.sum(resid[off] ** 2)), 1.0
    else:
        rstar_off = float(np.sum(resid[off] ** 2 * counts[off]))
        nh = float(counts.size / np.sum(1.0 / counts)) if (counts > 0).all() else np.nan
    df = p * (p - 1) / 2 - p * k + k * (k - 1) / 2
    out = {"df": df, "rms": float(np.sqrt(rstar_off / (nh * p * (p - 1)))),
           "crms": float(np.sqrt(rstar_off / (2 * nh * df))) if df > 0 else np.nan}
    m = model.copy()
    np.fill_diagonal(m, np.diag(r))
    try:
        mr = np.linalg.solve(m, r)
        sign, logdet = np.linalg.slogdet(mr)
        objective = float(np.trace(mr) - logdet - p) if sign > 0 else np.nan
    except np.linalg.LinAlgError:
        objective = np.nan
    out["objective"] = objective
    if n is None or not np.isfinite(objective):
        return out
    nu = (n - 1) - (2 * p + 5) / 6 - 2 * k / 3
    chisq = max(objective * nu, 0.0)
    f0 = float(np.trace(r) - np.linalg.slogdet(r)[1] - p)
    m0 = f0 * 2 / (p * (p - 1))
    out.update(chisq=chisq, pvalue=float(special.chdtrc(df, chisq)) if df > 0 else np.nan,
               null_chisq=f0 * ((n - 1) - (2 * p + 5) / 6), null_df=p * (p - 1) / 2,
               tli=(m0 - objective / df) / (m0 - 1 / nu) if df > 0 else np.nan)
    if df > 0:
        rmsea = float(np.sqrt(max(chisq / (df * n) - 1 / (n - 1), 0.0)))
        top = max(n, chisq) + 2 * n

        def bound(prob):
            g = lambda lam: special.chndtr(chisq, df, lam) - prob if lam > 0 else special.chdtr(df, chisq) - prob  # noqa: E731
            if g(0.0) <= 0:
                return 0.0
            return float(np.sqrt(optimize.brentq(g, 0.0, top, xtol=1e-12) / (n - 1) / df))

        out.update(rmsea=rmsea, rmsea_ci=[bound(0.95), bound(0.05)], bic=chisq - df * np.log(n))
    return out

