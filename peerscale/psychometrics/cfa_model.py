"""The model step of the CFA/SEM engine: lavaan syntax to a parameter table, as lavaan's
``lavaanify`` does with the defaults of ``lavaan::cfa``/``sem`` (lavaan 0.6-14).

Variables are classified as lavaan does (``lav_partable_vnames``): latent variables are the
left-hand sides of ``=~``; observed indicators, dependent and exogenous observed variables
follow from ``=~`` and ``~``. Default rows are then added: thresholds of ordinal items,
(residual) variances of every non-exogenous variable, covariances among exogenous latent
variables (``auto.cov.lv.x``) and among the purely dependent variables of regressions
(``auto.cov.y``), the fixed-x block of exogenous observed covariates (``fixed.x=TRUE``: fixed
at their sample values), scaling factors (``~*~``) of ordinal items and, with a mean
structure, intercepts and latent means. Their free/fixed status follows lavaan's auto rules
(``auto.fix.first``, ``std.lv``, ``auto.fix.single``, ``orthogonal``, ordinal intercepts 0
and scaling 1, latent means 0, freed beyond the first group when intercepts or thresholds are
equal, ...). Modifiers from the syntax then override.

Equality: lavaan names every row ``lhs op rhs`` (plus ``.g2`` ... in later groups);
``group_equal`` gives the rows of later groups the first group's name, ``group_partial``
takes rows back out, user labels override. Rows sharing a name are equal: if one of them is
fixed all are fixed, else each later row gets a constraint ``.pA. == .pB.`` on the first.
These constraints, the user's ``==``, ``<``, ``>`` and the ``:=`` definitions are kept as
:class:`Constraint` and :class:`Defined` objects over the vector ``x`` of free rows
(lavaan's ``x.free``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import PeerscaleError
from .lavaan_syntax import Expression, Modifier, Term, model_variables, parse_model

GROUP_EQUAL = ("loadings", "intercepts", "thresholds", "means", "residuals", "residual.covariances",
               "lv.variances", "lv.covariances", "regressions")
PARAMETERIZATIONS = ("delta", "theta")


# ---------------------------------------------------------------------------------------
# parameter table
# ---------------------------------------------------------------------------------------

@dataclass
class Param:
    """One row of the parameter table (lavaan's ``parTable``).

    ``mat`` says where the row lives: ``"A"`` (loadings and regressions, ``A[i, j]`` = effect of
    variable j on variable i), ``"S"`` ((co)variances), ``"m"`` (intercepts and means), ``"t"``
    (threshold ``j`` of ordinal observed variable ``i``) or ``"d"`` (scaling factor of ordinal
    variable ``i``). ``free`` indexes the free vector x (-1: fixed at ``value``)."""

    lhs: str
    op: str
    rhs: str
    group: int
    mat: str
    i: int
    j: int
    free: int
    value: float
    label: str | None = None
    plabel: str = ""
    user: bool = False
    exo: bool = False
    start: float = np.nan


@dataclass
class Constraint:
    """``lhs op rhs`` over labels; ``residual(values)`` is ``lhs − rhs`` for ``==`` and ``>``
    and ``rhs − lhs`` for ``<`` (so that ``> 0`` is satisfied). ``pair`` holds the two x
    indices of an equality made by a shared name (always linear)."""

    lhs: str
    op: str
    rhs: str
    origin: str  # "user" or "label"
    pair: tuple[int, int] | None = None
    _lhs: Expression | None = None
    _rhs: Expression | None = None

    def residual(self, values) -> float:
        a, b = self._lhs(values), self._rhs(values)
        return b - a if self.op == "<" else a - b


@dataclass
class Defined:
    """A ``name := expression`` parameter."""

    name: str
    text: str
    expr: Expression


@dataclass
class ModelSpec:
    observed: list[str]
    latent: list[str]
    params: list[Param]
    n_groups: int
    meanstructure: bool
    n_free: int
    ordinal: list[str] = field(default_factory=list)
    exogenous: list[str] = field(default_factory=list)
    parameterization: str = "delta"
    constraints: list[Constraint] = field(default_factory=list)
    defined: list[Defined] = field(default_factory=list)
    nthresholds: dict = field(default_factory=dict)
    std_lv: bool = False

    @property
    def variables(self) -> list[str]:
        return self.observed + self.latent

    @property
    def categorical(self) -> bool:
        return bool(self.ordinal)

    def names(self) -> dict:
        """Every name an expression may use → ``("x", index)`` or ``("c", value)``: user labels
        (the first free row carrying them) and plabels ``.pN.``."""
        out: dict = {}
        for pr in self.params:
            ref = ("x", pr.free) if pr.free >= 0 else ("c", pr.value)
            out[pr.plabel] = ref
            if pr.label and (pr.label not in out or out[pr.label][0] == "c" and ref[0] == "x"):
                out[pr.label] = ref
        return out

    def values(self, x: np.ndarray, names: dict | None = None) -> dict:
        """Values of every label, plabel and defined parameter at x."""
        names = self.names() if names is None else names
        vals = {k: (x[v] if kind == "x" else v) for k, (kind, v) in names.items()}
        for d in self.defined:
            vals[d.name] = d.expr(vals)
        return vals

    def ndat(self) -> int:
        """Number of sample statistics, as lavaan's ``lav_partable_ndat``."""
        p = len(self.observed)
        per = p * (p + 1) // 2 + (p if self.meanstructure else 0)
        nx = len(self.exogenous)
        if nx:
            per -= nx * (nx + 1) // 2 + (nx if self.meanstructure else 0)
        if self.categorical:
            nord = len(self.ordinal)
            per += -2 * nord + sum(self.nthresholds[v] for v in self.ordinal)
        return self.n_groups * per


@dataclass
class _Row:
    lhs: str
    op: str
    rhs: str
    user: bool
    mods: list[Modifier] | None
    group: int = 0
    free: bool = True
    ustart: float = np.nan
    exo: bool = False
    label: str = ""
    start: float = np.nan


# ---------------------------------------------------------------------------------------
# variable classes, as lav_partable_vnames
# ---------------------------------------------------------------------------------------

@dataclass
class VariableSets:
    observed: list[str]
    latent: list[str]
    ov_x: list[str]
    ov_nox: list[str]
    lv_x: list[str]
    lv_y: list[str]
    ov_y: list[str]
    ordinal: list[str]


def variable_sets(terms: list[Term], fixed_x: bool = True, ordered=()) -> VariableSets:
    model = [t for t in terms if not t.is_constraint]
    lv = []
    for t in model:
        if t.op == "=~" and t.lhs not in lv:
            lv.append(t.lhs)
    eqs_y = _unique(t.lhs for t in model if t.op == "~" and t.rhs != "1")
    eqs_x = _unique(t.rhs for t in model if t.op == "~" and t.rhs != "1")
    v_ind = _unique(t.rhs for t in model if t.op == "=~")
    ov_ind = [v for v in v_ind if v not in lv]
    ov_y = [v for v in eqs_y if v not in lv and v not in ov_ind]
    ov_x = [v for v in eqs_x if v not in lv and v not in ov_ind and v not in ov_y]
    named = [v for t in model if t.op == "~~" for v in (t.lhs, t.rhs)]
    named += [t.lhs for t in model if (t.op == "~" and t.rhs == "1") or t.op in ("|", "~*~")]
    extras = _unique(v for v in named if v not in lv)
    observed = ov_ind + ov_y + ov_x + [v for v in extras if v not in ov_ind + ov_y + ov_x]
    if fixed_x:
        # exogenous covariates named in a variance, covariance or intercept become random
        named = {v for t in model if t.op == "~~" for v in (t.lhs, t.rhs)} | \
            {t.lhs for t in model if t.op == "~" and t.rhs == "1"}
        ov_x = [v for v in ov_x if v not in named]
    else:
        ov_x = []
    lv_x = [v for v in lv if v not in v_ind and v not in eqs_y]
    ov_y_auto = [v for v in observed if v in eqs_y and v not in v_ind and v not in eqs_x and v not in lv]
    lv_y = [v for v in lv if v in eqs_y and v not in v_ind and v not in eqs_x]
    ord1 = [t.lhs for t in model if t.op == "|"]
    if ordered is True:
        ord2 = [v for v in observed if v not in ov_x]
    else:
        ord2 = [v for v in (ordered or ()) if v in observed and v not in ov_x]
    ordinal = [v for v in observed if v in set(ord1) | set(ord2)]
    bad = [v for v in ordinal if v in ov_x]
    if bad:
        raise PeerscaleError(f"thresholds are defined for the exogenous variable {bad[0]!r}",
                             hint="ordinal variables must be indicators or dependent variables")
    return VariableSets(observed, lv, ov_x, [v for v in observed if v not in ov_x], lv_x, lv_y, ov_y_auto, ordinal)


def _unique(seq) -> list:
    return list(dict.fromkeys(seq))


# ---------------------------------------------------------------------------------------
# the parameter table
# ---------------------------------------------------------------------------------------

def _normalise_partial(group_partial) -> list[str]:
    if isinstance(group_partial, str):
        group_partial = [group_partial] if group_partial.strip() else []
    out = []
    for g in group_partial or ():
        g = str(g).replace(" ", "")
        if g.endswith("~1"):
            out.append(g)
            continue
        for op in ("=~", "~~", "~*~", "|", "~"):
            if op in g:
                break
        else:
            raise PeerscaleError(f"cannot read the group_partial entry {g!r}",
                                 hint="write it as lavaan does, e.g. 'visual=~x2', 'x1~1', 'x1|t1', 'x1~~x1'")
        out.append(g)
    return out


def build_model(terms: list[Term] | str, *, n_groups: int = 1, std_lv: bool = False,
                orthogonal: bool = False, meanstructure: bool | None = None,
                group_equal=(), group_partial=(), auto_fix_first: bool | None = None,
                fixed_x: bool = True, ordered=(), nthresholds: dict | None = None,
                parameterization: str = "delta") -> ModelSpec:
    """Turn lavaan syntax into a parameter table with ``lavaan::cfa``'s defaults (see the module
    docstring).

    Parameters
    ----------
    terms : lavaan syntax or parsed terms.
    n_groups : number of groups (rows are replicated per group).
    std_lv, orthogonal, meanstructure, group_equal, group_partial, auto_fix_first, fixed_x,
    parameterization : as :func:`~peerscale.psychometrics.cfa.fit_cfa` (lavaan's options).
    ordered : ordinal observed variables (``True``: all of them).
    nthresholds : number of thresholds per ordinal variable (categories − 1).

    Returns
    -------
    ModelSpec
        rows (:class:`Param`), the free vector's size, constraints and defined parameters.

    Examples
    --------
    >>> spec = build_model("f =~ x1 + x2 + x3", n_groups=2, group_equal=("loadings",))  # doctest: +SKIP
    >>> # lavaan: lavaanify(model, ngroups = 2, group.equal = "loadings", auto = TRUE)
    """
    if isinstance(terms, str):
        terms = parse_model(terms)
    if isinstance(group_equal, str):
        group_equal = (group_equal,) if group_equal else ()
    bad = [g for g in group_equal if g not in GROUP_EQUAL]
    if bad:
        raise PeerscaleError(f"unknown group_equal {bad[0]!r}", value=bad[0], hint=f"use {', '.join(GROUP_EQUAL)}")
    if parameterization not in PARAMETERIZATIONS:
        raise PeerscaleError(f"unknown parameterization {parameterization!r}", value=parameterization,
                             hint="use delta or theta")
    partial = _normalise_partial(group_partial)
    auto_fix_first = (not std_lv) if auto_fix_first is None else auto_fix_first
    model = [t for t in terms if not t.is_constraint]
    if not model:
        raise PeerscaleError("the model has no =~, ~ or ~~ statements", hint='write e.g. "F1 =~ x1 + x2 + x3"')
    vs = variable_sets(terms, fixed_x=fixed_x, ordered=ordered)
    observed, lv = vs.observed, vs.latent
    if not observed:
        raise PeerscaleError("the model has no observed variables")
    clash = [v for v in lv if v in observed]
    if clash:
        raise PeerscaleError(f"{clash[0]!r} is used both as a latent and as an observed variable")
    categorical = bool(vs.ordinal)
    if meanstructure is None:
        meanstructure = n_groups > 1 or categorical
    if any(t.op == "~" and t.rhs == "1" for t in model) or categorical:
        meanstructure = True
    order = {v: k for k, v in enumerate(lv + observed)}
    nthresholds = dict(nthresholds or {})
    for v in vs.ordinal:
        user_th = [int(t.rhs[1:]) for t in model if t.op == "|" and t.lhs == v]
        if v not in nthresholds:
            if not user_th:
                raise PeerscaleError(f"the number of thresholds of {v!r} is unknown", column=v)
            nthresholds[v] = max(user_th)
        if user_th and max(user_th) > nthresholds[v]:
            raise PeerscaleError(f"{v!r} has {nthresholds[v]} thresholds in the data but the model names t{max(user_th)}",
                                 column=v)

    # user rows (lavaan's FLAT), covariances in lavaan's canonical order
    user: list[_Row] = []
    seen = set()
    for t in model:
        lhs, op, rhs = t.lhs, ("~1" if t.op == "~" and t.rhs == "1" else t.op), ("" if t.rhs == "1" and t.op == "~" else t.rhs)
        if op == "~~" and lhs != rhs and order[lhs] > order[rhs]:
            lhs, rhs = rhs, lhs
        if op == "=~" and lhs == rhs:
            raise PeerscaleError(f"latent variable {lhs!r} cannot be measured by itself")
        key = (lhs, op, rhs)
        if key in seen:
            raise PeerscaleError(f"duplicate model element: '{lhs} {op} {rhs}'")
        seen.add(key)
        user.append(_Row(lhs, op, rhs, True, t.modifiers))

    # default rows (lav_partable_flat)
    default: list[tuple[str, str, str]] = []
    for v in vs.ordinal:
        default += [(v, "|", f"t{k + 1}") for k in range(nthresholds[v])]
    default += [(v, "~~", v) for v in vs.ov_nox + lv]
    default += [(a, "~~", b) for k, a in enumerate(vs.lv_x) for b in vs.lv_x[k + 1:]]
    lvov_y = vs.lv_y + vs.ov_y
    default += [(a, "~~", b) for k, a in enumerate(lvov_y) for b in lvov_y[k + 1:]]
    nx = vs.ov_x
    default += [(nx[j], "~~", nx[i]) for j in range(len(nx)) for i in range(j, len(nx))]
    default += [(v, "~*~", v) for v in vs.ordinal]
    if meanstructure:
        default += [(v, "~1", "") for v in observed + lv]
    ukeys = {(r.lhs, r.op, r.rhs) for r in user}
    rows = user + [_Row(a, o, b, False, None) for a, o, b in default if (a, o, b) not in ukeys]

    # auto rules (free / ustart), shared by all groups
    first_loading = {}
    for r in rows:
        if r.op == "=~" and r.lhs not in first_loading:
            first_loading[r.lhs] = r
    for r in rows:
        if r.op == "|" and not r.user:
            r.free = True  # auto.th
        if std_lv and r.op == "~~" and r.lhs in lv and r.lhs == r.rhs:
            r.free, r.ustart = False, 1.0
        if auto_fix_first and r.op == "=~" and first_loading[r.lhs] is r:
            r.free, r.ustart = False, 1.0
    # auto.fix.single: a latent variable with one indicator that indicates nothing else
    counts = {}
    for r in rows:
        if r.op == "=~":
            counts.setdefault(r.lhs, []).append(r.rhs)
    inds = [r.rhs for r in rows if r.op == "=~"]
    single = [v[0] for k, v in counts.items() if len(v) == 1 and v[0] != k and inds.count(v[0]) == 1]
    for r in rows:
        if not r.user and r.op == "~~" and r.lhs == r.rhs and r.lhs in single:
            r.free, r.ustart = False, 0.0
        if orthogonal and not r.user and r.op == "~~" and r.lhs != r.rhs and r.lhs in lv and r.rhs in lv:
            r.free, r.ustart = False, 0.0
        if meanstructure and not r.user and r.op == "~1":
            if r.lhs in vs.ordinal or r.lhs in lv:
                r.free, r.ustart = False, 0.0
        if not r.user and r.lhs in nx and (r.op == "~1" or (r.op == "~~" and r.rhs in nx)):
            r.free, r.ustart, r.exo = False, np.nan, True
        if not r.user and r.op == "~~" and r.lhs == r.rhs and r.lhs in vs.ordinal:
            r.free, r.ustart = False, 1.0
        if not r.user and r.op == "~*~":
            r.free, r.ustart = False, 1.0

    # replicate over groups, then the group-specific rules
    table: list[_Row] = []
    for g in range(n_groups):
        for r in rows:
            table.append(_Row(r.lhs, r.op, r.rhs, r.user, r.mods, g, r.free, r.ustart, r.exo))
    for r in table:
        if r.group == 0:
            continue
        if meanstructure and r.op == "~1" and r.lhs in lv and not r.user and \
                ({"intercepts", "thresholds"} & set(group_equal)) and "means" not in group_equal:
            r.free, r.ustart = True, np.nan
        if std_lv and "loadings" in group_equal and "lv.variances" not in group_equal and \
                r.op == "~~" and r.lhs in lv and r.lhs == r.rhs and not r.user:
            r.free, r.ustart = True, np.nan
        if "thresholds" in group_equal and categorical:
            if parameterization == "delta" and r.op == "~*~":
                r.free, r.ustart = True, np.nan
            if parameterization == "theta" and r.op == "~~" and r.lhs == r.rhs and r.lhs in vs.ordinal:
                r.free, r.ustart = True, np.nan

    # modifiers
    for r in table:
        if not r.mods:
            continue
        if len(r.mods) > 1 and len(r.mods) != n_groups:
            raise PeerscaleError(f"'{r.lhs} {r.op} {r.rhs}' has {len(r.mods)} c() modifiers for {n_groups} group(s)",
                                 hint="give one modifier per group")
        m = r.mods[0] if len(r.mods) == 1 else r.mods[r.group]
        if m.fixed is not None:
            r.free, r.ustart = False, m.fixed
        elif m.free:
            r.free, r.ustart = True, np.nan
        if m.start is not None:
            r.start = m.start
            if not r.free:
                r.ustart = m.start
        if m.label:
            r.label = m.label

    # names for equality (lav_partable_labels)
    names = [f"{r.lhs}{r.op}{r.rhs}" + (f".g{r.group + 1}" if r.group > 0 else "") for r in table]
    if n_groups > 1 and group_equal:
        g1 = {}
        for k, r in enumerate(table):
            if r.group == 0 and _equal_kind(r, group_equal, vs, lv) and f"{r.lhs}{r.op}{r.rhs}" not in partial:
                g1[(r.lhs, r.op, r.rhs)] = names[k]
        for k, r in enumerate(table):
            if r.group > 0 and (r.lhs, r.op, r.rhs) in g1:
                names[k] = g1[(r.lhs, r.op, r.rhs)]
    for k, r in enumerate(table):
        if r.label:
            names[k] = r.label
    plabels = [f".p{k + 1}." for k in range(len(table))]
    first_at, dup_order = {}, []
    for k, nm in enumerate(names):
        if nm in first_at:
            if nm not in dup_order:
                dup_order.append(nm)
        else:
            first_at[nm] = k
    eq_pairs: list[tuple[int, int]] = []  # (ref row, other row)
    for nm in dup_order:
        idx = [k for k, n in enumerate(names) if n == nm]
        fixed_rows = [k for k in idx if not table[k].free]
        if fixed_rows:
            value = table[fixed_rows[0]].ustart
            for k in idx:
                table[k].free, table[k].ustart = False, value
            continue
        eq_pairs += [(idx[0], k) for k in idx[1:]]
        for k in idx:
            if not table[k].label:
                table[k].label = plabels[idx[0]]

    # matrix positions and the free vector
    p = len(observed)
    index = {v: k for k, v in enumerate(observed + lv)}
    params: list[Param] = []
    n_free = 0
    for k, r in enumerate(table):
        mat, i, j = _position(r, index, p, vs.ordinal, observed)
        free = -1
        if r.free:
            free, n_free = n_free, n_free + 1
        value = r.ustart if not r.free else np.nan
        params.append(Param(r.lhs, r.op, r.rhs, r.group, mat, i, j, free, value, r.label or None,
                            plabels[k], r.user, r.exo, r.start))

    spec = ModelSpec(observed, lv, params, n_groups, bool(meanstructure), n_free, vs.ordinal, vs.ov_x,
                     parameterization, nthresholds={v: nthresholds[v] for v in vs.ordinal}, std_lv=std_lv)
    spec.constraints = _user_constraints(terms, spec)
    for a, b in eq_pairs:
        ra, rb = params[a], params[b]
        spec.constraints.append(Constraint(ra.plabel, "==", rb.plabel, "label", (ra.free, rb.free),
                                           Expression(ra.plabel), Expression(rb.plabel)))
    spec.defined = [Defined(t.lhs, t.rhs, Expression(t.rhs)) for t in terms if t.op == ":="]
    _check_expression_names(spec)
    return spec


def _equal_kind(r: _Row, group_equal, vs: VariableSets, lv: list[str]) -> bool:
    ge = set(group_equal)
    if r.op == "=~":
        return "loadings" in ge
    if r.op == "~1":
        return ("intercepts" in ge and r.lhs in vs.ov_nox) or ("means" in ge and r.lhs in lv)
    if r.op == "|":
        return "thresholds" in ge and r.lhs in vs.ordinal
    if r.op == "~":
        return "regressions" in ge
    if r.op == "~~":
        if r.lhs in vs.ov_nox:
            return ("residuals" in ge and r.lhs == r.rhs) or ("residual.covariances" in ge and r.lhs != r.rhs)
        if r.lhs in lv:
            return ("lv.variances" in ge and r.lhs == r.rhs) or ("lv.covariances" in ge and r.lhs != r.rhs)
    return False


def _position(r: _Row, index: dict, p: int, ordinal: list[str], observed: list[str]):
    if r.op == "=~":
        return "A", index[r.rhs], index[r.lhs]
    if r.op == "~":
        return "A", index[r.lhs], index[r.rhs]
    if r.op == "~~":
        i, j = sorted((index[r.lhs], index[r.rhs]))
        return "S", j, i
    if r.op == "~1":
        return "m", index[r.lhs], 0
    if r.op == "|":
        return "t", index[r.lhs], int(r.rhs[1:]) - 1
    if r.op == "~*~":
        return "d", index[r.lhs], 0
    raise PeerscaleError(f"unsupported operator {r.op!r}")


def _user_constraints(terms: list[Term], spec: ModelSpec) -> list[Constraint]:
    out = []
    for t in terms:
        if t.op in ("==", "<", ">"):
            out.append(Constraint(t.lhs, t.op, t.rhs, "user", None, Expression(t.lhs), Expression(t.rhs)))
    return out


def _check_expression_names(spec: ModelSpec) -> None:
    known = set(spec.names())
    for d in spec.defined:
        for nm in d.expr.names:
            if nm not in known:
                raise PeerscaleError(f"':=' uses {nm!r}, which is not a parameter label: '{d.name} := {d.text}'",
                                     hint="label the parameter in the model, e.g. 'y ~ a*x'")
        if d.name in known:
            raise PeerscaleError(f"the defined parameter {d.name!r} has the name of a label",
                                 hint="give the ':=' parameter its own name")
        known.add(d.name)
    for c in spec.constraints:
        if c.origin != "user":
            continue
        for nm in c._lhs.names + c._rhs.names:
            if nm not in known:
                raise PeerscaleError(f"the constraint '{c.lhs} {c.op} {c.rhs}' uses {nm!r}, which is not a "
                                     "parameter label", hint="label the parameter in the model, e.g. 'f =~ a*x1'")


__all__ = ["Constraint", "Defined", "GROUP_EQUAL", "ModelSpec", "Param", "build_model", "model_variables",
           "variable_sets"]
