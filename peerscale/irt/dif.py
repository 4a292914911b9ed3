"""Differential item functioning for two or more groups.

**Ordinal logistic regression, in the lordif manner** (Choi, Gibbons & Crane 2011): for each
item, three proportional-odds models of the item response on the IRT trait estimate,
``M1: theta``, ``M2: theta + group``, ``M3: theta + group + theta x group``. Likelihood-ratio
chi-squares: ``chi12`` (uniform DIF, df G-1), ``chi13`` (total DIF, df 2(G-1)), ``chi23``
(non-uniform DIF, df G-1); pseudo-R2 changes R2_12, R2_13, R2_23 (McFadden by default; Cox &
Snell and Nagelkerke also reported); beta change ``|b1(M1) - b1(M2)| / |b1(M1)|``. An item is
flagged by the chosen criterion: ``chisqr`` (any of the three p-values below ``alpha``,
default 0.01), ``r2`` (any R2 change at least ``r2_change``, default 0.02) or ``beta`` (beta
change at least ``beta_change``, default 0.1). Iterative purification: theta is re-estimated
(EAP) from a graded response model in which the flagged items have group-specific parameters
(each flagged item becomes one item per group, answered only by that group) and the other
items are anchors; repeated until the flagged set no longer changes (at most ``max_iter``).

**IRT likelihood-ratio test** (Thissen, Steinberg & Wainer 1993; mirt's ``DIF``): multigroup
graded response model, first group N(0, 1), the other groups' means and variances free.
Without anchors every other item anchors the studied one: the LR statistic compares the
model with the studied item's parameters free across groups against the model with all items
equal ("drop" scheme). With anchors, non-anchor items are free in the baseline and each is
tested by constraining it equal ("add" scheme). df = the item's parameters x (G - 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import PeerscaleError
from . import scores as _scores
from .data import as_matrix, prepare
from .em import EMEngine

CRITERIA = ("chisqr", "r2", "beta")


@dataclass
class DIFResult:
    table: pd.DataFrame
    flagged: list[str]
    method: str
    criterion: str
    groups: list
    iterations: int = 0
    anchors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        return self.table

    def summary(self) -> str:
        head = (f"DIF ({self.method}), groups {', '.join(map(str, self.groups))}; criterion {self.criterion}"
                f"{f', {self.iterations} purification iteration(s)' if self.iterations else ''}\n"
                f"flagged: {', '.join(self.flagged) if self.flagged else 'none'}\n")
        return head + self.table.to_string(float_format=lambda v: f"{v:.4f}")

    def __repr__(self):
        return self.summary()


# ---------------------------------------------------------------------------- ordinal regression

def _ologit(y: np.ndarray, X: np.ndarray, K: int, max_iter: int = 100, tol: float = 1e-9):
    """Proportional-odds logistic regression ``P(Y >= k) = F(alpha_k + X beta)`` by Fisher
    scoring; returns (log-likelihood, alpha, beta)."""
    n, p = X.shape
    alpha = np.array([np.log(max((y >= k).mean(), 1e-6) / max(1 - (y >= k).mean(), 1e-6)) for k in range(1, K)])
    beta = np.zeros(p)

    def parts(alpha, beta):
        eta = alpha[None, :] + (X @ beta)[:, None]  # n x K-1
        F = 1 / (1 + np.exp(-eta))
        f = F * (1 - F)
        Fs = np.concatenate([np.ones((n, 1)), F, np.zeros((n, 1))], axis=1)
        fs = np.concatenate([np.zeros((n, 1)), f, np.zeros((n, 1))], axis=1)
        return Fs, fs

    def loglik(alpha, beta):
        Fs, _ = parts(alpha, beta)
        P = Fs[np.arange(n), y] - Fs[np.arange(n), y + 1]
        return float(np.log(np.maximum(P, 1e-300)).sum())

    ll = loglik(alpha, beta)
    for _ in range(max_iter):
        Fs, fs = parts(alpha, beta)
        npar = K - 1 + p
        info = np.zeros((npar, npar))
        grad = np.zeros(npar)
        for c in range(K):
            Pc = np.maximum(Fs[:, c] - Fs[:, c + 1], 1e-300)
            D = np.zeros((n, npar))
            if c >= 1:
                D[:, c - 1] += fs[:, c]
            if c + 1 <= K - 1:
                D[:, c] -= fs[:, c + 1]
            D[:, K - 1:] = X * (fs[:, c] - fs[:, c + 1])[:, None]
            info += D.T @ (D / Pc[:, None])
            hit = y == c
            grad += (D[hit] / Pc[hit, None]).sum(axis=0)
        try:
            step = np.linalg.solve(info + 1e-10 * np.eye(npar), grad)
        except np.linalg.LinAlgError:
            break
        t = 1.0
        for _h in range(30):
            a1, b1 = alpha + t * step[:K - 1], beta + t * step[K - 1:]
            if np.all(np.diff(a1) < 0) or K == 2:
                ll1 = loglik(a1, b1)
                if ll1 >= ll - 1e-10:
                    break
            t /= 2
        else:
            break
        alpha, beta, ll_old, ll = a1, b1, ll, ll1
        if np.max(np.abs(t * step)) < tol or abs(ll - ll_old) < 1e-12:
            break
    return ll, alpha, beta


def _pseudo_r2(ll, ll0, n):
    cs = 1 - np.exp(2 * (ll0 - ll) / n)
    return {"mcfadden": 1 - ll / ll0, "coxsnell": cs, "nagelkerke": cs / (1 - np.exp(2 * ll0 / n))}


def _lordif_item(y, theta, g, G, K):
    from scipy import stats

    ok = (y >= 0) & np.isfinite(theta)
    y, th, g = y[ok], theta[ok], g[ok]
    n = len(y)
    present = np.unique(y)
    remap = np.full(K, -1)
    remap[present] = np.arange(len(present))
    y = remap[y]
    K = len(present)
    dummies = np.column_stack([(g == k).astype(float) for k in range(1, G)]) if G > 1 else np.zeros((n, 0))
    X1 = th[:, None]
    X2 = np.column_stack([X1, dummies])
    X3 = np.column_stack([X2, dummies * th[:, None]])
    ll0, _, _ = _ologit(y, np.zeros((n, 0)), K)
    ll1, _, b1 = _ologit(y, X1, K)
    ll2, _, b2 = _ologit(y, X2, K)
    ll3, _, _ = _ologit(y, X3, K)
    r = {m: _pseudo_r2(ll, ll0, n) for m, ll in ((1, ll1), (2, ll2), (3, ll3))}
    chi12, chi13, chi23 = 2 * (ll2 - ll1), 2 * (ll3 - ll1), 2 * (ll3 - ll2)
    out = {"n": n, "chi12": chi12, "df12": G - 1, "p12": stats.chi2.sf(chi12, G - 1),
           "chi13": chi13, "df13": 2 * (G - 1), "p13": stats.chi2.sf(chi13, 2 * (G - 1)),
           "chi23": chi23, "df23": G - 1, "p23": stats.chi2.sf(chi23, G - 1),
           "beta1": b1[0], "beta_change": abs(b1[0] - b2[0]) / abs(b1[0]) if b1[0] != 0 else np.nan}
    for kind in ("mcfadden", "nagelkerke", "coxsnell"):
        out[f"R2_12_{kind}"] = r[2][kind] - r[1][kind]
        out[f"R2_13_{kind}"] = r[3][kind] - r[1][kind]
        out[f"R2_23_{kind}"] = r[3][kind] - r[2][kind]
    return out


def _split(codes, n_cat, g, G, split_items, compact: bool = False):
    """Flagged items become one column per group (answered only by that group).

    ``compact``: a group's column keeps only the categories that group used (renumbered), and
    is left out when the group used a single category: for estimating theta, where a category
    nobody in the group chose has no threshold to estimate."""
    cols, ncs, owners = [], [], []
    for j in range(codes.shape[1]):
        if j in split_items:
            for k in range(G):
                col = np.where(g == k, codes[:, j], -1)
                K = n_cat[j]
                if compact:
                    used = np.unique(col[col >= 0])
                    if len(used) < 2:
                        continue
                    remap = np.full(K, -1)
                    remap[used] = np.arange(len(used))
                    col = np.where(col >= 0, remap[np.maximum(col, 0)], -1)
                    K = len(used)
                cols.append(col)
                ncs.append(K)
                owners.append((j, k))
        else:
            cols.append(codes[:, j])
            ncs.append(n_cat[j])
            owners.append((j, None))
    return np.column_stack(cols).astype(np.int16), np.array(ncs), owners


def _group_usage(data, g, labels):
    """Per item: the number of its categories each group used, and a description of the
    groups that left some unused ({item: (counts per group, text)} for those items only)."""
    out = {}
    for j in range(len(data.item_ids)):
        counts, parts = [], []
        for k, lab in enumerate(labels):
            col = data.codes[g == k, j]
            used = np.unique(col[col >= 0])
            counts.append(len(used))
            if len(used) < data.n_cat[j]:
                names = ["/".join(_code(c) for c in data.categories[j][int(u)]) for u in used]
                parts.append(f"group {lab} used " + (f"only {', '.join(names)} ({len(used)} of {data.n_cat[j]} "
                                                     "categories)" if names else "none of its categories"))
        if parts:
            out[j] = (counts, "; ".join(parts))
    return out


def _code(c) -> str:
    return str(int(c)) if float(c).is_integer() else f"{c:g}"


def _prepare_groups(frame, group, items, declared):
    x, ids = as_matrix(frame, items)
    group = pd.Series(np.asarray(group, dtype=object))
    if len(group) != x.shape[0]:
        raise PeerscaleError(f"the group column has {len(group)} values for {x.shape[0]} respondents")
    known = group.notna().to_numpy() & (group.astype("string").str.strip() != "").fillna(False).to_numpy()
    labels = sorted(pd.unique(group[known]), key=str)
    if len(labels) < 2:
        raise PeerscaleError(f"DIF needs at least two groups; the group column has {len(labels)}",
                             hint="check --group names a column that splits the respondents")
    x = x[known]
    g_all = pd.Categorical(group[known], categories=labels).codes.astype(np.int64)
    data = prepare(x, ids, declared=declared)
    g = g_all[data.rows]
    counts = np.bincount(g, minlength=len(labels))
    if counts.min() < 10:
        small = [f"{lab} ({c})" for lab, c in zip(labels, counts) if c < 10]
        listed = ", ".join(small[:8]) + (f" and {len(small) - 8} more" if len(small) > 8 else "")
        raise PeerscaleError(f"{len(small)} of the {len(labels)} groups have fewer than 10 respondents with answers, "
                             f"too few for DIF: {listed}",
                             hint="group by a column with fewer, larger groups, or leave the small groups out "
                                  "(set their group value empty)")
    return data, g, labels, int((~known).sum())


def dif_lordif(frame, group, items=None, *, declared: dict | None = None, criterion: str = "chisqr",
               alpha: float = 0.01, r2_change: float = 0.02, pseudo_r2: str = "mcfadden",
               beta_change: float = 0.1, max_iter: int = 10, progress=None) -> DIFResult:
    """lordif-style ordinal logistic regression DIF with iterative purification (see module notes).

    Examples
    --------
    >>> dif_lordif(df, df["sex"])      # lordif(resp.data, group, criterion = "Chisqr", alpha = 0.01)  # doctest: +SKIP
    """
    from ..psychometrics.blas import single_threaded_blas

    if criterion not in CRITERIA:
        raise PeerscaleError(f"criterion must be one of {', '.join(CRITERIA)}, got {criterion!r}")
    if pseudo_r2 not in ("mcfadden", "nagelkerke", "coxsnell"):
        raise PeerscaleError("pseudo_r2 must be 'mcfadden', 'nagelkerke' or 'coxsnell'")
    with single_threaded_blas():
        data, g, labels, dropped = _prepare_groups(frame, group, items, declared)
        G = len(labels)
        J = len(data.item_ids)
        flagged: set[int] = set()
        history = []
        rows = None
        it = 0
        for it in range(1, max_iter + 1):
            codes, ncat, _ = _split(data.codes, data.n_cat, g, G, flagged, compact=True)
            eng = EMEngine(codes, ncat)
            a0, d0 = eng.start(codes)
            res = eng.fit(a0, d0, np.zeros(1), np.ones(1), tol=1e-5, accelerate="squarem")
            theta, _ = _scores.eap(codes, res.a, res.d, ncat)
            rows = [_lordif_item(data.codes[:, j], theta, g, G, int(data.n_cat[j])) for j in range(J)]
            new = set()
            for j, r in enumerate(rows):
                if criterion == "chisqr":
                    hit = min(r["p12"], r["p13"], r["p23"]) < alpha
                elif criterion == "r2":
                    hit = max(r[f"R2_12_{pseudo_r2}"], r[f"R2_13_{pseudo_r2}"], r[f"R2_23_{pseudo_r2}"]) >= r2_change
                else:
                    hit = r["beta_change"] >= beta_change
                if hit:
                    new.add(j)
            history.append(sorted(new))
            if progress is not None:
                progress(it)
            if new == flagged:
                break
            flagged = new
    table = pd.DataFrame(rows, index=pd.Index(data.item_ids, name="item"))
    table.insert(0, "flag", [j in flagged for j in range(J)])
    why = []
    for j, r in enumerate(rows):
        reasons = []
        if min(r["p12"], r["p13"], r["p23"]) < alpha:
            reasons.append("chisqr")
        if max(r[f"R2_12_{pseudo_r2}"], r[f"R2_13_{pseudo_r2}"], r[f"R2_23_{pseudo_r2}"]) >= r2_change:
            reasons.append("r2")
        if r["beta_change"] >= beta_change:
            reasons.append("beta")
        why.append(",".join(reasons))
    table.insert(1, "meets", why)
    notes = [f"criterion {criterion}: " + {"chisqr": f"any of p12, p13, p23 < {alpha:g}",
                                           "r2": f"a {pseudo_r2} R2 change >= {r2_change:g}",
                                           "beta": f"beta change >= {beta_change:g}"}[criterion]]
    if dropped:
        notes.append(f"{dropped} respondent(s) without a group were left out")
    if history and len(history) >= 2 and history[-1] != history[-2]:
        notes.append(f"purification stopped after {max_iter} iterations without settling")
    return DIFResult(table, [data.item_ids[j] for j in sorted(flagged)], "ordinal logistic regression (lordif)",
                     criterion, list(labels), it, notes=notes)


# ---------------------------------------------------------------------------- IRT LR test

def _mg_fit(codes, ncat, g, G, start=None):
    eng = EMEngine(codes, ncat, group=g, free_mean=np.arange(G) > 0, free_var=np.arange(G) > 0)
    if start is None:
        a, d = eng.start(codes)
        mean, var = np.zeros(G), np.ones(G)
    else:
        a, d, mean, var = start
    return eng.fit(a, d, mean, var, tol=1e-5, accelerate="squarem")


def _expand_start(res, owners_old, owners_new, n_cat):
    """Start values for one column layout (``owners_new``: (item, group or None) per column,
    ``n_cat`` its categories) from a fit with another layout: each column starts from the same
    item's column for the same group, else its common column (a column with fewer categories
    than its source takes the source's first thresholds)."""
    where = {o: c for c, o in enumerate(owners_old)}
    any_col = {}
    for c, (j, _) in enumerate(owners_old):
        any_col.setdefault(j, c)
    n_cat = np.asarray(n_cat)
    a = np.ones(len(owners_new))
    d = np.full((len(owners_new), int(n_cat.max()) - 1), -np.inf)
    for col, (j, k) in enumerate(owners_new):
        s = where.get((j, k), where.get((j, None), any_col[j]))
        a[col] = res.a[s]
        need = int(n_cat[col]) - 1
        have = res.d[s][np.isfinite(res.d[s])]
        if len(have) >= need:
            d[col, :need] = have[:need]
        elif len(have):
            d[col, :need] = np.concatenate([have, have[-1] - np.arange(1, need - len(have) + 1)])
        else:
            d[col, :need] = np.linspace(1, -1, need)
    return a, d, res.mean.copy(), res.var.copy()


def dif_lrt(frame, group, items=None, *, anchors=None, declared: dict | None = None, alpha: float = 0.01,
            progress=None) -> DIFResult:
    """IRT likelihood-ratio DIF test with a multigroup graded response model (see module notes).

    Examples
    --------
    >>> dif_lrt(df, df["site"], anchors=["A1", "A2"])   # mirt: DIF(multipleGroup(...), scheme = "add")  # doctest: +SKIP
    """
    from scipy import stats

    from ..psychometrics.blas import single_threaded_blas

    with single_threaded_blas():
        data, g, labels, dropped = _prepare_groups(frame, group, items, declared)
        G = len(labels)
        ids = data.item_ids
        J = len(ids)
        anchors = list(anchors or [])
        unknown = [a for a in anchors if a not in ids]
        if unknown:
            raise PeerscaleError(f"anchor item(s) {', '.join(unknown)} are not among the items analysed")
        anchor_idx = {ids.index(a) for a in anchors}
        studied = [j for j in range(J) if j not in anchor_idx]
        if not studied:
            raise PeerscaleError("every item is an anchor: nothing left to test")
        usage = {j: u for j, u in _group_usage(data, g, labels).items() if j in studied}
        untested = sorted(j for j, (counts, _) in usage.items() if min(counts) < 2)
        studied = [j for j in studied if j not in untested]
        if not studied:
            raise PeerscaleError("no item can be tested: " + "; ".join(f"{ids[j]}: {usage[j][1]}" for j in untested),
                                 hint="an item that a group answered with a single category (or not at all) has no "
                                      "group-specific parameters; merge sparse categories or use the lordif method")
        # a category a group left unused: the free model's threshold for it sits at its bound, so
        # that group's column keeps only the categories it used (the supremum of the likelihood)
        df_of = {j: (sum(usage[j][0]) if j in usage else int(data.n_cat[j]) * G) - int(data.n_cat[j]) for j in studied}

        def split(items):
            return _split(data.codes, data.n_cat, g, G, items, compact=True)

        rows = []
        free = set(untested)  # never tested, and free across groups in every fit: no anchor
        if anchors:
            codes, ncat, base_owners = split(set(studied) | free)
            base = _mg_fit(codes, ncat, g, G)
            for j in studied:
                codes, ncat, owners = split((set(studied) | free) - {j})
                r = _mg_fit(codes, ncat, g, G, _expand_start(base, base_owners, owners, ncat))
                rows.append((j, 2 * (base.loglik - r.loglik)))
                if progress is not None:
                    progress(1)
        else:
            codes, ncat, base_owners = split(free)
            base = _mg_fit(codes, ncat, g, G)
            for j in studied:
                codes, ncat, owners = split(free | {j})
                r = _mg_fit(codes, ncat, g, G, _expand_start(base, base_owners, owners, ncat))
                rows.append((j, 2 * (r.loglik - base.loglik)))
                if progress is not None:
                    progress(1)
    out = []
    for j, stat in rows + [(j, np.nan) for j in untested]:
        df = df_of.get(j, int(data.n_cat[j]) * (G - 1))
        stat = max(stat, 0.0) if np.isfinite(stat) else np.nan
        p = float(stats.chi2.sf(stat, df)) if np.isfinite(stat) else np.nan
        out.append({"item": ids[j], "flag": bool(p < alpha), "X2": stat, "df": df, "p": p})
    table = pd.DataFrame(out).set_index("item").reindex([i for i in ids if i in {r["item"] for r in out}])
    notes = [f"items flagged when p < {alpha:g}; reference group {labels[0]} N(0, 1), other groups' mean and "
             f"variance estimated: " + ", ".join(f"{lab}: mean {base.mean[k]:.3f}, var {base.var[k]:.3f}"
                                                 for k, lab in enumerate(labels))]
    for j in untested:
        notes.append(f"{ids[j]} not tested: {usage[j][1]}, so its group-specific parameters cannot all be "
                     "estimated; it is free across groups in every fit (never an anchor), with no parameters for "
                     "a group that used one category")
    for j in studied:
        if j in usage:
            notes.append(f"{ids[j]}: {usage[j][1]}; the free model has no threshold for an unused category "
                         f"(its likelihood is the bound it tends to), so df = {df_of[j]} instead of "
                         f"{int(data.n_cat[j]) * (G - 1)}")
    if dropped:
        notes.append(f"{dropped} respondent(s) without a group were left out")
    scheme = "add (anchors fixed, each studied item constrained in turn)" if anchors else \
        "drop (all other items anchor the studied one)"
    return DIFResult(table, [r for r in table.index[table["flag"]]], f"IRT likelihood ratio, {scheme}",
                     f"p < {alpha:g}", list(labels), anchors=anchors, notes=notes)

