"""``fit_grm`` / ``fit_irt`` → :class:`IRTResult`, and scoring from a frozen bank."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import PeerscaleError
from . import fit as _fit
from . import scores as _scores
from .bank import BankItem, IRTBank
from .data import ItemData, as_matrix, prepare, recode
from .em import EMEngine
from .model import LINKS, Grid, category_probs, item_information

MODELS = ("graded", "2pl", "rasch")
SCORE_METHODS = ("EAP", "MAP", "ML", "EAPsum")


@dataclass
class IRTResult:
    """A calibrated unidimensional IRT model (slope-intercept parameters as mirt's ``coef()``).

    Attributes: ``item_ids``, ``model``, ``link``, ``a``, ``d`` (J x (Kmax-1), ``-inf`` padded),
    ``n_cat``, ``categories`` (raw codes per category), ``se_a``, ``se_d``, ``cov`` (parameter
    covariance, Oakes observed information), ``loglik``, ``aic``, ``bic``, ``n`` (respondents
    used), ``n_par``, ``latent_mean``, ``latent_var``, ``iterations``, ``converged``, ``grid``,
    ``mirt_compatible`` (True when the estimates follow mirt's EM path and stopping point
    rather than the maximum; see :mod:`peerscale.irt.mirt_em`).
    """

    item_ids: list[str]
    model: str
    link: str
    a: np.ndarray
    d: np.ndarray
    n_cat: np.ndarray
    categories: list
    loglik: float
    n: int
    n_par: int
    latent_mean: float
    latent_var: float
    iterations: int
    converged: bool
    grid: Grid
    data: ItemData
    se_a: np.ndarray | None = None
    se_d: np.ndarray | None = None
    se_var: float | None = None
    cov: np.ndarray | None = None
    se_method: str = ""
    notes: list[str] = field(default_factory=list)
    tol: float = 1e-6
    mirt_compatible: bool = False
    _index: dict = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ summaries
    @property
    def aic(self) -> float:
        return -2 * self.loglik + 2 * self.n_par

    @property
    def bic(self) -> float:
        return -2 * self.loglik + np.log(self.n) * self.n_par

    @property
    def b(self) -> np.ndarray:
        """IRT thresholds b_k = -d_k / a."""
        return -self.d / self.a[:, None]

    def to_frame(self, parameterization: str = "slope-intercept", se: bool = True) -> pd.DataFrame:
        """One row per item: ``a, d1..`` (slope-intercept, as mirt ``coef(simplify=TRUE)``) or
        ``a, b1..`` (``"irt"``, as ``coef(IRTpars=TRUE)``), with SEs (delta method for b)."""
        if parameterization not in ("slope-intercept", "irt"):
            raise PeerscaleError("parameterization must be 'slope-intercept' or 'irt'")
        K1 = self.d.shape[1]
        irt = parameterization == "irt"
        out = {"a": self.a}
        vals = self.b if irt else self.d
        name = "b" if irt else "d"
        for k in range(K1):
            out[f"{name}{k + 1}"] = np.where(np.isfinite(self.d[:, k]), vals[:, k], np.nan)
        if se and self.se_a is not None:
            out["a_se"] = self.se_a
            for k in range(K1):
                sd = self.se_d[:, k]
                if irt:
                    va, vd, cad = self._var_parts(k)
                    a, d = self.a, self.d[:, k]
                    with np.errstate(invalid="ignore"):
                        sd = np.sqrt(vd / a ** 2 + d ** 2 * va / a ** 4 - 2 * d * cad / a ** 3)
                out[f"{name}{k + 1}_se"] = np.where(np.isfinite(self.d[:, k]), sd, np.nan)
        frame = pd.DataFrame(out, index=pd.Index(self.item_ids, name="item"))
        frame.insert(0, "categories", self.n_cat)
        return frame

    def _var_parts(self, k):
        """var(a_j), var(d_jk), cov(a_j, d_jk) from the covariance matrix."""
        J = len(self.a)
        va, vd, cad = np.zeros(J), np.full(J, np.nan), np.zeros(J)
        if self.cov is None:
            return va, vd, cad
        for j in range(J):
            ia, idk = self._index.get((j, 0)), self._index.get((j, k + 1))
            if idk is None:
                continue
            vd[j] = self.cov[idk, idk]
            if ia is not None:
                va[j] = self.cov[ia, ia]
                cad[j] = self.cov[ia, idk]
        return va, vd, cad

    def summary(self) -> str:
        """A short printable summary (as mirt's print and coef)."""
        head = (f"{self._model_name()} ({self.link} link), {len(self.item_ids)} items, {self.n} respondents"
                f"{f' ({self.data.n_empty} with no answers left out)' if self.data.n_empty else ''}\n"
                f"log-likelihood {self.loglik:.3f}, AIC {self.aic:.2f}, BIC {self.bic:.2f}, {self.n_par} parameters; "
                f"EM{' (mirt path)' if self.mirt_compatible else ''} "
                f"{'converged' if self.converged else 'NOT converged'} in {self.iterations} cycles "
                f"({len(self.grid.nodes)} nodes on [{self.grid.nodes[0]:g}, {self.grid.nodes[-1]:g}])\n")
        if self.model == "rasch":
            head += f"latent variance {self.latent_var:.4f}" + (f" (SE {self.se_var:.4f})" if self.se_var else "") + "\n"
        frame = self.to_frame()
        body = frame.to_string(float_format=lambda v: f"{v:.3f}")
        tail = f"\nSEs: {self.se_method}" if self.se_method else ""
        notes = "".join(f"\nnote: {n}" for n in self.notes)
        return head + body + tail + notes

    def _model_name(self):
        return {"graded": "Graded response model", "2pl": "2PL model", "rasch": "Rasch model"}[self.model]

    def __repr__(self):
        return self.summary()

    # ------------------------------------------------------------------ scores
    def _codes_for(self, data):
        if data is None:
            codes = np.full((self.data.n_input, len(self.item_ids)), -1, dtype=np.int16)
            codes[self.data.rows] = self.data.codes
            return codes
        x, _ = as_matrix(data, self.item_ids)
        return recode(x, self.item_ids, self.categories)

    def scores(self, data=None, method: str = "EAP", *, points: int = 121, theta_range=(-6.0, 6.0),
               t_scores: bool = True) -> pd.DataFrame:
        """Person scores: ``theta``, ``se`` (and ``t``, ``t_se`` = 50 + 10 theta, 10 se).

        ``data``: a frame with the item columns (raw codes; default: the calibration data, all
        input rows in input order, rows without answers NaN). ``method``: EAP (posterior mean
        and SD over ``points`` nodes on ``theta_range``, mirt's fscores default 121 on [-6, 6]),
        MAP, ML (+-inf for all-extreme patterns), EAPsum (EAP of the summed score over the
        items each person answered).
        """
        from ..psychometrics.blas import single_threaded_blas

        codes = self._codes_for(data)
        with single_threaded_blas():
            return _score_codes(codes, self.a, self.d, self.n_cat, self.link, method, Grid.make(points, *theta_range),
                                self.latent_mean, self.latent_var, t_scores,
                                index=None if data is None or isinstance(data, np.ndarray) else data.index)

    def sum_score_table(self, *, points: int = 121, theta_range=(-6.0, 6.0)) -> pd.DataFrame:
        """EAP for every summed score of the full form (0-based and in raw codes), SE, and
        the observed and expected numbers of respondents (complete responses), as mirt's
        ``fscores(method = "EAPsum", full.scores = FALSE)``."""
        return sum_table(self.a, self.d, self.n_cat, self.link, self.categories, Grid.make(points, *theta_range),
                         self.latent_mean, self.latent_var, self.data.codes)

    # ------------------------------------------------------------------ information and curves
    def information(self, theta) -> pd.DataFrame:
        """Item information at ``theta`` (columns per item), the test information and its SE
        (1 / sqrt(test information + prior information 1/var is NOT added: the ML metric))."""
        return information_frame(self.a, self.d, self.link, self.item_ids, theta)

    def curves(self, theta) -> pd.DataFrame:
        """Category response curves: long frame item, category (raw codes), theta, probability."""
        return curves_frame(self.a, self.d, self.n_cat, self.link, self.item_ids, self.categories, theta)

    # ------------------------------------------------------------------ fit
    def _fit_grid(self):
        return Grid.make(61, -6, 6)

    def m2(self) -> dict:
        """M2* limited-information fit with RMSEA and SRMSR (see :mod:`peerscale.irt.fit`)."""
        return _fit.m2(self.data.codes, self.a, self.d, self.n_cat, self.link, free_a=self.model != "rasch",
                       n_latent_free=1 if self.model == "rasch" else 0, grid=self._fit_grid(),
                       mean=self.latent_mean, var=self.latent_var)

    def itemfit(self) -> pd.DataFrame:
        """S-X2 item fit (complete responses)."""
        npar = (self.n_cat - 1) + (0 if self.model == "rasch" else 1)
        r = _fit.sx2(self.data.codes, self.a, self.d, self.n_cat, self.link, n_item_par=npar,
                     n_latent_free=1 if self.model == "rasch" else 0, grid=self._fit_grid(),
                     mean=self.latent_mean, var=self.latent_var)
        return pd.DataFrame({"S_X2": r["S_X2"], "df": r["df"], "RMSEA": r["RMSEA"], "p": r["p"], "n": r["n"]},
                            index=pd.Index(self.item_ids, name="item"))

    def local_dependence(self) -> pd.DataFrame:
        """Per item pair: LD X2 (Chen & Thissen), df, p, signed Cramér's V, and Yen's Q3
        (residual correlation given EAP scores)."""
        x2, df, p, v = _fit.ld_x2(self.data.codes, self.a, self.d, self.n_cat, self.link, grid=self._fit_grid(),
                                  mean=self.latent_mean, var=self.latent_var)
        th, _ = _scores.eap(self.data.codes, self.a, self.d, self.n_cat, self.link, mean=self.latent_mean,
                            var=self.latent_var)
        q = _fit.q3(self.data.codes, self.a, self.d, self.n_cat, th, self.link)
        rows = []
        J = len(self.item_ids)
        for i in range(J):
            for j in range(i + 1, J):
                rows.append({"item1": self.item_ids[i], "item2": self.item_ids[j], "LD_X2": x2[i, j],
                             "df": df[i, j], "p": p[i, j], "cramer_v": v[i, j], "Q3": q[i, j]})
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ bank
    def to_bank(self, scale: str, *, sample: str = "", method: str = "EAP", date: str | None = None) -> IRTBank:
        """Freeze the parameters as an :class:`~peerscale.irt.bank.IRTBank` for a scoring file."""
        from .. import __version__

        items = tuple(BankItem(iid, float(self.a[j]), tuple(float(x) for x in self.d[j, :self.n_cat[j] - 1]),
                               tuple(tuple(float(c) for c in g) for g in self.categories[j]))
                      for j, iid in enumerate(self.item_ids))
        cal = {"n": int(self.n), "date": date or _dt.date.today().isoformat(), "sample": sample,
               "software": f"peerscale {__version__}", "loglik": round(float(self.loglik), 4),
               "converged": bool(self.converged),
               "estimation": f"Bock-Aitkin EM, {len(self.grid.nodes)} nodes on [{self.grid.nodes[0]:g}, "
                             f"{self.grid.nodes[-1]:g}], tolerance {self.tol:g}"
                             + (", mirt's EM path (BFGS M-steps, Ramsay acceleration)" if self.mirt_compatible else "")}
        if self.notes:
            cal["notes"] = list(self.notes)
        sd = float(np.sqrt(self.latent_var))
        return IRTBank(scale, self.model, self.link, items, float(self.latent_mean), sd, method, 121, (-6.0, 6.0), cal)


# ---------------------------------------------------------------------- shared helpers

def information_frame(a, d, link, item_ids, theta) -> pd.DataFrame:
    theta = np.atleast_1d(np.asarray(theta, dtype=float))
    info = item_information(a, d, theta, link)
    frame = pd.DataFrame(info.T, columns=item_ids)
    frame.insert(0, "theta", theta)
    test = info.sum(axis=0)
    frame["test"] = test
    with np.errstate(divide="ignore"):
        frame["se"] = 1.0 / np.sqrt(test)
    return frame


def curves_frame(a, d, n_cat, link, item_ids, categories, theta) -> pd.DataFrame:
    theta = np.atleast_1d(np.asarray(theta, dtype=float))
    P = category_probs(a, d, theta, link)
    rows = []
    for j, iid in enumerate(item_ids):
        for k in range(int(n_cat[j])):
            label = "/".join(_fmt_code(c) for c in categories[j][k])
            rows.append(pd.DataFrame({"item": iid, "category": label, "theta": theta, "probability": P[j, k]}))
    return pd.concat(rows, ignore_index=True)


def _fmt_code(c) -> str:
    return str(int(c)) if float(c).is_integer() else f"{c:g}"


def sum_table(a, d, n_cat, link, categories, grid, mean, var, codes=None) -> pd.DataFrame:
    s, m, sd, ps = _scores.eapsum_table(a, d, n_cat, link, grid=grid, mean=mean, var=var)
    offset = sum(min(min(g) for g in cats) for cats in categories)
    frame = pd.DataFrame({"sum": s, "raw_sum": s + offset, "theta": m, "se": sd, "t": 50 + 10 * m, "t_se": 10 * sd})
    if codes is not None:
        complete = (codes >= 0).all(axis=1)
        tot = codes[complete].sum(axis=1)
        frame["observed"] = np.bincount(tot, minlength=len(s))[:len(s)]
        frame["expected"] = ps * complete.sum()
    return frame


def _score_codes(codes, a, d, n_cat, link, method, grid, mean, var, t_scores=True, index=None) -> pd.DataFrame:
    if method not in SCORE_METHODS:
        raise PeerscaleError(f"method must be one of {', '.join(SCORE_METHODS)}, got {method!r}")
    if method == "EAP":
        th, se = _scores.eap(codes, a, d, n_cat, link, grid=grid, mean=mean, var=var)
    elif method == "EAPsum":
        th, se = _scores.eapsum(codes, a, d, n_cat, link, grid=grid, mean=mean, var=var)
    else:
        start, _ = _scores.eap(codes, a, d, n_cat, link, grid=grid, mean=mean, var=var)
        th, se = _scores.modal(codes, a, d, n_cat, link, prior=method == "MAP", mean=mean, var=var, start=start)
    out = pd.DataFrame({"theta": th, "se": se}, index=index)
    out["n_answered"] = (codes >= 0).sum(axis=1)
    if t_scores:
        out["t"] = 50 + 10 * th
        out["t_se"] = 10 * se
    return out


def score_bank(data, bank: IRTBank, **kwargs) -> pd.DataFrame:
    """Score ``data`` from a frozen bank: see :func:`_score_bank`."""
    from ..psychometrics.blas import single_threaded_blas

    with single_threaded_blas():
        return _score_bank(data, bank, **kwargs)


def _score_bank(data, bank: IRTBank, *, method: str | None = None, min_answered: int = 1,
               file: str | None = None, allow_absent: bool = False) -> pd.DataFrame:
    """Score ``data`` (raw item codes, one column per bank item) from frozen parameters.

    Returns ``theta``, ``se``, ``t``, ``t_se``, ``n_answered``; rows that answered fewer than
    ``min_answered`` bank items get NaN. A bank item missing from the data is an error unless
    ``allow_absent`` (then it counts as unanswered for everyone).
    """
    ids = bank.item_ids
    cols = list(getattr(data, "columns", []))
    absent = [i for i in ids if i not in cols]
    if absent and (not allow_absent or len(absent) == len(ids)):
        listed = ", ".join(absent[:10]) + (f" and {len(absent) - 10} more" if len(absent) > 10 else "")
        raise PeerscaleError(f"{len(absent)} of the {len(ids)} items of the {bank.scale!r} IRT bank are not columns "
                             f"of the data: {listed}", file=file,
                             hint="map export columns to item ids (--map COLUMN=ITEM), or score a short form with "
                                  "only the items it has (`allow_absent`)")
    present = [i for i in ids if i in cols]
    xp, _ = as_matrix(data, present)
    cats = {i.id: list(i.categories) for i in bank.items}
    codes = recode(xp, present, [cats[i] for i in present], file=file)
    if absent:  # a short form: the bank's other items are unanswered by everyone
        full = np.full((len(codes), len(ids)), -1, dtype=codes.dtype)
        full[:, [ids.index(i) for i in present]] = codes
        codes = full
    a, d, n_cat = bank.arrays()
    method = method or bank.method
    out = _score_codes(codes, a, d, n_cat, bank.link, method, Grid.make(bank.points, *bank.range), bank.mean,
                       bank.sd ** 2, index=getattr(data, "index", None))
    few = out["n_answered"].to_numpy() < min_answered
    out.loc[few, ["theta", "se", "t", "t_se"]] = np.nan
    return out


# ---------------------------------------------------------------------- fitting

def fit_irt(frame, items=None, **kwargs) -> IRTResult:
    from ..psychometrics.blas import single_threaded_blas

    with single_threaded_blas():
        return _fit_irt(frame, items, **kwargs)


def _fit_irt(frame, items=None, *, model: str = "graded", link: str = "logistic", declared: dict | None = None,
            collapse: bool = False, quadpts: int = 61, theta_range=(-6.0, 6.0), tol: float | None = None,
            max_iter: int | None = None, accelerate: str = "squarem", mirt_compatible: bool = False,
            se: bool = True, progress=None, file: str | None = None) -> IRTResult:
    """Calibrate a unidimensional IRT model by marginal maximum likelihood.

    Parameters
    ----------
    frame : DataFrame or ndarray
        Respondents x items, whole-number category codes, NaN = not answered (kept: missing
        answers leave the likelihood, no listwise deletion).
    items : list of str, optional
        Columns to use (default: all).
    model : {"graded", "2pl", "rasch"}
        Samejima's graded response model (binary items: the 2PL); ``"2pl"`` requires binary
        items; ``"rasch"``: every slope 1, the latent variance estimated (mirt's ``Rasch``).
    link : {"logistic", "probit"}
        Logistic (mirt's default) or normal-ogive cumulative link.
    declared : dict, optional
        Per item, its codes in category order (low to high trait). Default: codes observed.
    collapse : bool
        Merge declared categories nobody chose into the adjacent category (else an error).
    quadpts, theta_range : int, (float, float)
        EM quadrature grid: ``quadpts`` equally spaced nodes with N(0, 1) weights (mirt: 61 on
        [-6, 6]).
    tol, max_iter, accelerate
        EM stops when no parameter changes by more than ``tol`` (default 1e-6) in one
        accelerated cycle (``"squarem"``, default; ``"ramsay"``; ``"none"``), at most
        ``max_iter`` (5000) cycles: the maximum of the likelihood to about 1e-6.
    mirt_compatible : bool
        Follow R mirt's own EM path instead (BFGS M-steps that are not solved to convergence,
        Ramsay acceleration, stop at a change below ``tol`` = 1e-4, at most 500 cycles; see
        :mod:`peerscale.irt.mirt_em`), so that the estimates equal ``mirt(data, 1)`` to
        about 1e-7 rather than the maximum, which can lie 1e-2 away along a flat direction of
        the likelihood (Science: item Future). Logistic link only; ``accelerate`` is ignored.
    se : bool
        Standard errors from the Oakes observed information.

    Returns
    -------
    IRTResult

    Notes
    -----
    ``P(X >= k | theta) = F(a theta + d_k)``; ``b_k = -d_k / a``. ``theta ~ N(0, 1)`` on the
    grid (Rasch: ``N(0, sigma^2)``, sigma^2 estimated). The marginal log-likelihood is
    ``sum_i log sum_q w_q prod_j P_j(x_ij | theta_q)``; AIC = -2 logL + 2p, BIC = -2 logL + p log N.

    References
    ----------
    Samejima (1969); Bock & Aitkin (1981); Oakes (1999); Chalmers (2012), mirt, J. Stat. Softw. 48(6).

    Examples
    --------
    >>> res = fit_irt(science)            # mirt(Science, 1)      # doctest: +SKIP
    >>> res.to_frame()                    # coef(mod, simplify=TRUE)   # doctest: +SKIP
    """
    model = str(model).lower()
    if model not in MODELS:
        raise PeerscaleError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    if link not in LINKS:
        raise PeerscaleError(f"link must be 'logistic' or 'probit', got {link!r}")
    x, ids = as_matrix(frame, items)
    if len(set(ids)) != len(ids):
        raise PeerscaleError("item names must be unique")
    if len(ids) < 2:
        raise PeerscaleError(f"IRT calibration needs at least two items, got {len(ids)}")
    data = prepare(x, ids, declared=declared, collapse=collapse, file=file)
    if model == "2pl" and (data.n_cat != 2).any():
        bad = [i for i, k in zip(ids, data.n_cat) if k != 2]
        raise PeerscaleError(f"the 2PL model needs binary items; {', '.join(bad[:5])} have more categories",
                             hint="use model='graded' (the graded response model is the 2PL for binary items)")
    if mirt_compatible and link != "logistic":
        raise PeerscaleError("`mirt_compatible` follows mirt's logistic model; use `link='logistic'` "
                             "(the probit model is not one of mirt's item types)")
    if mirt_compatible and model == "rasch":
        raise PeerscaleError("`mirt_compatible` does not cover the Rasch model: mirt estimates its latent variance "
                             "with a different optimiser (nlminb), whose path is not reproduced",
                             hint="fit the Rasch model to its maximum without `mirt_compatible`; it agrees with mirt "
                                  "to 2e-3")
    if tol is None:
        tol = 1e-4 if mirt_compatible else 1e-6
    if max_iter is None:
        max_iter = 500 if mirt_compatible else 5000
    if not (np.isfinite(tol) and tol > 0):
        raise PeerscaleError(f"`tol` must be a positive number, got {tol!r}")
    if int(max_iter) < 1:
        raise PeerscaleError(f"`max_iter` must be at least 1, got {max_iter!r}")
    grid = Grid.make(quadpts, *theta_range)
    rasch = model == "rasch"
    eng = EMEngine(data.codes, data.n_cat, link=link, grid=grid, fixed_a=np.full(len(ids), rasch),
                   free_var=np.array([rasch]))
    n_resp, n_par = len(data.rows), eng.n_free()
    if n_resp <= n_par:
        raise PeerscaleError(f"{n_resp} respondents with answers for {n_par} item parameters: too few to calibrate",
                             file=file, hint="IRT calibration needs many more respondents than parameters (a few "
                                             "hundred for a graded model); collect more data, or use fewer items or "
                                             "categories")
    if mirt_compatible:
        from .mirt_em import fit_mirt_path

        a, d = eng.start(data.codes, n_total=data.n_input)
        res = fit_mirt_path(eng, a, d, tol=tol, max_cycles=int(max_iter), progress=progress)
    else:
        a, d = eng.start(data.codes)
        res = eng.fit(a, d, np.zeros(1), np.ones(1), tol=tol, max_iter=int(max_iter), progress=progress,
                      accelerate=accelerate)
    notes = list(data.notes)
    if n_resp < 5 * n_par:
        notes.append(f"{n_resp} respondents for {n_par} parameters (fewer than 5 per parameter): estimates, standard "
                     "errors and fit statistics are unstable")
    if mirt_compatible:
        notes.append(f"estimates follow mirt's EM path (BFGS M-steps, Ramsay acceleration, tolerance {tol:g}): "
                     "they equal mirt's, which stop short of the maximum")
    if not res.converged:
        notes.append(f"EM did not converge in {max_iter} cycles (tolerance {tol:g}); estimates are provisional")
    out = IRTResult(ids, model, link, res.a, res.d, data.n_cat, data.categories, res.loglik, len(data.rows),
                    res.n_par, float(res.mean[0]), float(res.var[0]), res.iterations, res.converged, grid, data,
                    notes=notes, tol=tol, mirt_compatible=mirt_compatible)
    out._index = _param_index(eng)
    if se:
        _add_se(out, eng, res)
    return out


def _param_index(eng: EMEngine) -> dict:
    idx, i = {}, 0
    for j in range(eng.J):
        if not eng.fixed_a[j]:
            idx[(j, 0)] = i
            i += 1
    for j in range(eng.J):
        for m in range(1, eng.Kmax):
            if eng.free[j, m]:
                idx[(j, m)] = i
                i += 1
    return idx


def _add_se(out: IRTResult, eng: EMEngine, res):
    info = eng.observed_information(res)
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        out.notes.append("the information matrix is singular: no standard errors")
        return
    diag = np.diag(cov)
    if np.any(diag <= 0):
        out.notes.append("the information matrix is not positive definite: some standard errors are missing")
    se = np.sqrt(np.where(diag > 0, diag, np.nan))
    out.cov = cov
    out.se_a = np.array([se[out._index[(j, 0)]] if (j, 0) in out._index else 0.0 for j in range(eng.J)])
    out.se_d = np.full(out.d.shape, np.nan)
    for (j, m), i in out._index.items():
        if m > 0:
            out.se_d[j, m - 1] = se[i]
    if eng.free_var.any():
        out.se_var = float(se[-1])
    out.se_method = ("Oakes (1999) observed information: central-difference Jacobian of the exact observed-data "
                     "score (as mirt SE.type = 'Oakes')")


fit_irt.__doc__ = _fit_irt.__doc__
score_bank.__doc__ = _score_bank.__doc__


def fit_grm(frame, items=None, **kwargs) -> IRTResult:
    """Graded response model (Samejima 1969), as ``mirt(data, 1, itemtype = "graded")``.
    Keyword arguments as :func:`fit_irt`."""
    kwargs.setdefault("model", "graded")
    return fit_irt(frame, items, **kwargs)
