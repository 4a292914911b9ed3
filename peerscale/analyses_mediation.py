"""``peerscale.mediation``: the theory-of-change model on scored exports.

Finds which instrument (and which file) each of X, M and Y comes from, scores them, links the
forms (same rows of one export; across files by dyad or respondent id; across waves by
respondent id for the baseline outcome), states every row that could not be linked or used,
and fits :func:`peerscale.psychometrics.mediation.fit_mediation`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import PeerscaleError

ROLE_PARAMS = {"x": "x", "m": "m", "y": "y"}


def _split_role(spec: str, instrument, role: str) -> tuple[str | None, str]:
    if not isinstance(spec, str) or not spec.strip():
        raise PeerscaleError(f"`{role}` must name a scale, e.g. act_total", value=spec)
    spec = spec.strip()
    if ":" in spec and instrument is None:
        inst, _, scale = spec.partition(":")
        return inst.strip(), scale.strip()
    return (str(instrument) if instrument is not None else None), spec


def _is_responses(obj) -> bool:
    """A :class:`~peerscale.responses.Responses` (duck-typed: this module does not import
    responses, which imports it)."""
    return hasattr(obj, "_base") and hasattr(obj, "score") and hasattr(obj, "instrument")


class _Sources:
    """The inputs: paths (read per instrument when needed) or Responses objects."""

    def __init__(self, sources, read_options, reader):
        if isinstance(sources, (str, Path, pd.DataFrame)) or _is_responses(sources):
            sources = [sources]
        self.reader = reader
        self.items = list(sources)
        if not self.items:
            raise PeerscaleError("give at least one export")
        self.read_options = read_options
        self._columns: dict[int, list] = {}
        self._bundled = None
        self._read: dict[tuple, object] = {}
        self.notes: list[str] = []

    def bundled(self) -> list:
        """The bundled instruments, loaded once per analysis (their YAML is slow to parse)."""
        if self._bundled is None:
            from .spec import bundled_instruments

            self._bundled = list(bundled_instruments())
        return self._bundled

    def name(self, k) -> str:
        s = self.items[k]
        if _is_responses(s):
            return s.source or f"input {k + 1}"
        return str(s) if not isinstance(s, pd.DataFrame) else f"data frame {k + 1}"

    def columns(self, k) -> list:
        if k not in self._columns:
            s = self.items[k]
            if _is_responses(s):
                cols = [str(c) for c in s.data.columns]
            elif isinstance(s, pd.DataFrame):
                cols = [str(c) for c in s.columns]
            else:
                from .io import read_table

                cols = [str(c) for c in read_table(s, check_duplicates=False).data.columns]
            self._columns[k] = cols
        return self._columns[k]

    def has_items(self, k, inst, scale) -> bool:
        s = self.items[k]
        if _is_responses(s) and s.instrument.name == inst.name:
            return scale.name in [x.name for x in s.instrument.scales]
        from .io.table import item_columns

        have = set(item_columns(self.columns(k), inst).values())
        return any(i in have for i in scale.items)

    def _partner_options(self, k, opts):
        """Read options of a second or later file: design columns given once for every file
        (flags, a dict) that this file lacks are left out with a note, as ``dyads`` and
        ``report --partner`` do: a worker export often has no wave column (every row of it is
        then used). The id column that links the files is still required (checked later)."""
        design = opts.get("design")
        if not isinstance(design, dict):
            return opts
        columns = set(self.columns(k))
        drop = {role: col for role, col in design.items()
                if role in ("wave", "worker", "respondent", "group") and isinstance(col, str) and col not in columns}
        if not drop:
            return opts
        name = Path(self.name(k)).name
        for role, col in drop.items():
            note = (f"{name} has no {role} column {col!r}"
                    + (": every row of it is used (one wave)" if role == "wave" else ": not used for this file"))
            if note not in self.notes:
                self.notes.append(note)
        kept = {r: c for r, c in design.items() if r not in drop}
        if "waves" in kept and "wave" in drop:
            kept.pop("waves")
        return {**opts, "design": kept or None}

    def responses(self, k, inst):
        s = self.items[k]
        if _is_responses(s):
            if s.instrument.name == inst.name:
                return s
            # another form in the same export: read it with this export's design
            opts = {"design": s.design, **self.read_options}
            s = s.source if s.source is not None else s.data
        else:
            opts = self.read_options
            if k > 0:
                opts = self._partner_options(k, opts)
        key = (k, inst.name)
        if key not in self._read:
            self._read[key] = self.reader(s, inst, **opts)
        return self._read[key]


def _resolve(sources: _Sources, role, inst_name, scale_name):
    """(source index, Responses) of the one instrument in the inputs that defines
    ``scale_name`` (restricted to ``inst_name`` when given)."""
    from .spec import load_instrument

    if inst_name is not None:
        try:
            candidates = [load_instrument(inst_name)]
        except PeerscaleError as exc:
            raise PeerscaleError(f"unknown instrument {inst_name!r} for `{role}`", value=inst_name,
                                 hint=exc.hint or "use a bundled name (peerscale instruments) or a scoring file") from None
    else:
        candidates = list(sources.bundled())
        for s in sources.items:
            if _is_responses(s) and all(c.name != s.instrument.name for c in candidates):
                candidates.append(s.instrument)
    found, defined_by = [], []
    for inst in candidates:
        scale = next((sc for sc in inst.scales if sc.name == scale_name), None)
        if scale is None:
            continue
        defined_by.append(inst.name)
        for k in range(len(sources.items)):
            if sources.has_items(k, inst, scale):
                found.append((k, inst))
    if not found:
        if not defined_by:
            names = sorted({sc.name for inst in candidates for sc in inst.scales})
            raise PeerscaleError(f"unknown scale {scale_name!r} for `{role}`", value=scale_name,
                                 hint="scales of the instruments: " + ", ".join(names[:40]))
        raise PeerscaleError(f"scale {scale_name!r} (of {', '.join(defined_by)}) has none of its items in the "
                             "input(s)", value=scale_name,
                             hint=f"give the export that holds that form, or the instrument with `{role}_instrument`")
    if len(found) > 1:
        which = ", ".join(f"{inst.name} in {sources.name(k)}" for k, inst in found)
        raise PeerscaleError(f"scale {scale_name!r} for `{role}` is in more than one form: {which}",
                             value=scale_name,
                             hint=f"say which with `{role}_instrument='NAME'` (or `{role}='NAME:{scale_name}'`)")
    k, inst = found[0]
    r = sources.responses(k, inst)
    if scale_name not in [sc.name for sc in r.instrument.scales]:
        why = r.skipped_scales.get(scale_name, "its items are not all in the data")
        raise PeerscaleError(f"scale {scale_name!r} of {inst.name} cannot be scored from {sources.name(k)}: {why}",
                             value=scale_name)
    return k, r


def _wave_rows(r, wave_name):
    """Positions of ``r``'s rows at ``wave_name`` (None: every row in scope)."""
    rows = r.rows.copy()
    if wave_name is not None and r.design.wave:
        vals = r._base.wave_values()
        rows &= (vals == wave_name).fillna(False).to_numpy(dtype=bool)
    return np.flatnonzero(rows)


def _indicators(r, scale, latent, prefix) -> list[str]:
    """The indicators of ``scale`` as a latent variable: its keyed items, or with
    ``latent="subscales"`` the scores of a composite's subscales (parcels), named
    ``prefix.subscale``."""
    sc = r.instrument.scale(scale)
    if latent == "subscales" and sc.composite and sc.of_scales:
        return [f"{prefix}.{sub}" for sub in sc.of_scales]
    return list(sc.items)


def _role_frame(r, scale, pos, latent, prefix=None):
    """Score (and the latent indicators) of ``scale`` at export rows ``pos``, indexed by position."""
    scores = _scores(r)
    out = pd.DataFrame({scale: scores[scale].to_numpy(dtype=float)[pos]}, index=pos)
    if latent:
        prefix = prefix or scale
        ind = _indicators(r, scale, latent, prefix)
        if ind[0].startswith(prefix + "."):
            subs = [i.split(".", 1)[1] for i in ind]
            part = pd.DataFrame(scores[subs].to_numpy(dtype=float)[pos], columns=ind, index=pos)
        else:
            part = r.items(keyed=True).loc[pos, ind]
        out = out.join(part)
    return out


def _scores(r):
    cache = getattr(r, "_mediation_scores", None)
    if cache is None:
        res = r.score()
        cache = res.scores
        if len(cache) != r._base.n:  # pragma: no cover - score() keeps one row per export row
            raise PeerscaleError("internal error: scores do not line up with the export")
        r._mediation_scores = cache
    return cache


def mediation(source, x: str, m: str, y: str, *, reader=None, x_instrument=None, m_instrument=None, y_instrument=None,
              covariates=(), baseline: bool = False, latent: bool = False, cluster=None, wave=None,
              link: str | None = None, missing: str = "listwise", bootstrap: int = 0, seed: int | None = None,
              workers: int | None = None, level: float = 0.95, quiet: bool = True, **read_options):
    """Does the relationship carry the effect of the activities on the outcomes?

    Scores X, M and Y from the exports and fits the mediation model
    ``M ~ a*X; Y ~ b*M + c*X; indirect := a*b; total := c + a*b`` as ``lavaan::sem()``
    (see :func:`peerscale.psychometrics.mediation.fit_mediation`).

    Parameters
    ----------
    source : path, DataFrame or :class:`~peerscale.responses.Responses`, or a list of them
        One export holding all three forms (e.g. the youth export with act-y, pbr-y and
        out-y), or several exports linked by id.
    x, m, y : str
        Scale names (``"act_total"``, ``"pbr_core"``, ``"out_total"``), or
        ``"instrument:scale"`` (``"pbr-p:pbr_core"``).
    x_instrument, m_instrument, y_instrument : str, optional
        The instrument of a role when the scale name is in several forms.
    covariates : list of str
        Columns of the exports used as covariates in both regressions.
    baseline : bool
        Two waves: X and M at the first wave (or ``wave``), Y at the next wave, with Y at the
        first wave as a covariate (``y_t2 ~ b*m_t1 + c*x_t1 + y_t1``). Rows are linked by
        respondent id.
    latent : bool or {"items", "subscales"}
        Each construct a latent factor of its keyed items (``True`` or ``"items"``), or, with
        ``"subscales"``, a composite scale a factor of its subscale scores (parcels: e.g.
        pbr_core of its six dimension scores; a scale without subscales keeps its items).
    cluster : str or True, optional
        Column of cluster ids for cluster-robust SEs (lavaan's ``cluster=``); ``True``: the
        design's worker column.
    wave : str, optional
        The wave to analyse (default: the first in study order).
    link : str, optional
        The id column that links records across files (default: the design's dyad column
        when every file has it, else the respondent column).
    missing, bootstrap, seed, workers, level, quiet
        As :func:`~peerscale.psychometrics.mediation.fit_mediation`.
    reader : callable
        :func:`peerscale.read` (passed by :func:`peerscale.responses.mediation`).
    read_options
        Passed to :func:`peerscale.read` (``map``, ``design``, ``missing_codes``...).

    Returns
    -------
    MediationResult
        ``.paths``, ``.indirect``, ``.total``, ``.n``, ``.n_excluded``/``.excluded``,
        ``.to_frame()``, ``.summary()``, ``.to_dict()``.

    Notes
    -----
    Missing data: listwise by default (``missing="fiml"``: full-information ML). Rows that
    could not be linked across files, rows without the needed wave and rows missing a model
    variable are all counted in ``excluded``; none is dropped silently.

    Examples
    --------
    >>> import peerscale
    >>> from peerscale.examples import path
    >>> res = peerscale.mediation(path("youth_export.csv"), x="act_total", m="pbr_core", y="out_total")
    >>> sorted(res.paths)
    ['a', 'b', 'c_prime']
    """
    from .design import id_text
    from .psychometrics.mediation import fit_mediation

    if latent not in (False, True, None, "items", "subscales"):
        raise PeerscaleError(f"`latent` must be items or subscales, got {latent!r}", value=latent)
    latent = "items" if latent is True else (latent or False)

    if reader is None:
        raise PeerscaleError("internal: call peerscale.mediation (it passes peerscale.read)")
    sources = _Sources(source, read_options, reader)
    specs = {"x": _split_role(x, x_instrument, "x"), "m": _split_role(m, m_instrument, "m"),
             "y": _split_role(y, y_instrument, "y")}
    roles = {}
    for role, (inst_name, scale) in specs.items():
        roles[role] = (*_resolve(sources, role, inst_name, scale), scale)
    names = [roles[k][2] for k in ("x", "m", "y")]
    if len(set(names)) < 3:  # same scale name from two forms (e.g. pbr_core of pbr-y and pbr-p)
        names = [f"{roles[k][1].instrument.name}:{roles[k][2]}" if names.count(roles[k][2]) > 1 else roles[k][2]
                 for k in ("x", "m", "y")]
    col = dict(zip(("x", "m", "y"), [n.replace("-", "_").replace(":", "__") for n in names]))
    rs = {k: roles[k][1] for k in roles}
    first = rs["x"]
    waves = first.waves if first.design.wave else []
    wave_name = None
    if waves:
        if wave in (None, "first"):
            wave_name = waves[0]
        elif wave == "all":
            if baseline:
                raise PeerscaleError("`baseline` links two waves; give `wave` as the first of them, not 'all'")
            wave_name = None
        else:
            # as Responses.wave(): the name, 1 for 1.0, the value label (SPSS 'Baseline'), letter case
            wave_name = first._base.wave_name(wave, waves)
            if wave_name is None:
                raise PeerscaleError(f"`wave` {wave!r} is not a wave of the data", value=wave,
                                     hint="waves: " + ", ".join(first._base.wave_labels(waves)))
    elif wave not in (None, "first", "all"):
        raise PeerscaleError(f"`wave` {wave!r}: the data have no wave column", value=wave)
    next_wave = None
    if baseline:
        if len(waves) < 2:
            raise PeerscaleError("`baseline` needs two waves, and the data have "
                                 + (f"only {waves[0]!r}" if waves else "no wave column"),
                                 hint="name the wave column in study.yaml (wave:, waves:), or leave out --baseline")
        k = waves.index(wave_name)
        if k + 1 >= len(waves):
            raise PeerscaleError(f"`baseline`: wave {wave_name!r} is the last wave; there is no later outcome",
                                 hint="choose an earlier --wave")
        next_wave = waves[k + 1]
    if latent:
        seen = {}
        for k in ("x", "m", "y"):
            for i in _indicators(rs[k], roles[k][2], latent, col[k]):
                if i in seen:
                    raise PeerscaleError(f"`{seen[i]}` and `{k}` share the item {i!r}: a construct cannot be "
                                         "measured by the items of another with latent variables", column=i,
                                         hint="choose scales with separate items (e.g. not a composite and one of "
                                              "its own subscales)")
                seen[i] = k
    src = {k: roles[k][0] for k in roles}
    same = len(set(src.values())) == 1
    # -- the linking key -------------------------------------------------------------------------
    bases = {}
    for role in ("x", "m", "y"):
        bases.setdefault(src[role], rs[role])
    if link is None and not same:
        dy = [r.design.dyad for r in bases.values()]
        resp = [r.design.respondent for r in bases.values()]
        if all(dy) and len(set(dy)) == 1 and all(dy[0] in r.data.columns for r in bases.values()):
            link = dy[0]
        elif all(resp) and len(set(resp)) == 1:
            link = resp[0]
        else:
            raise PeerscaleError("the forms come from different files and no common id column links them",
                                 hint="set dyad: (or respondent:) in study.yaml for every file, or give `link` (--link)")
    person = first.design.respondent
    if baseline and not person:
        raise PeerscaleError("`baseline` links each person's two waves, and the data have no respondent id column",
                             hint="set respondent: in study.yaml")
    frames, excluded, sources_used = {}, {}, {}
    extra_notes = list(sources.notes)
    for key, r in bases.items():
        pos = _wave_rows(r, wave_name)
        if wave_name is not None and r.design.wave:
            # rows whose wave cell is blank are in no wave: count them rather than lose them
            vals = r._base.wave_values()
            blank_wave = int((r.rows & vals.isna().to_numpy()).sum())
            if blank_wave and same:
                excluded[f"no wave ({r.design.wave})"] = blank_wave
            elif blank_wave:  # across files the record is counted once, as unmatched: say why here
                extra_notes.append(f"{blank_wave} row(s) of {Path(str(r.source)).name} have no wave in column "
                                   f"{r.design.wave!r}: in no wave, so not linked")
        f = pd.DataFrame(index=pos)
        for role in ("x", "m", "y"):
            if src[role] == key:
                part = _role_frame(rs[role], roles[role][2], pos, latent, col[role])
                f = f.join(part.rename(columns={roles[role][2]: col[role]}))
        lk = link if not same else None
        if lk is not None:
            if lk not in r.data.columns:
                raise PeerscaleError(f"the id column {lk!r} is not in {r.source}", column=lk, file=r.source)
            ids = id_text(r.data[lk]).to_numpy()[pos]  # '007', 7 and 7.0 link (as dyads, change, nesting)
            f.index = pd.Index(ids, name=lk)
            where = pd.Series(pos, index=f.index)
            blank = f.index.isna()
            if blank.any():
                excluded[f"no {lk} in {Path(str(r.source)).name}"] = int(blank.sum())
                f, where = f[~blank], where[~blank]
            dup = f.index[f.index.duplicated()]
            if len(dup):
                raise PeerscaleError(f"{lk} {dup[0]!r} appears on more than one row of {r.source}"
                                     + (f" at wave {wave_name!r}" if wave_name else ""), column=lk, file=r.source,
                                     value=dup[0], hint="each record must appear once per wave to be linked")
        else:
            where = pd.Series(pos, index=pos)
        frames[key] = (r, f, where)
        for role in ("x", "m", "y"):
            if src[role] == key:
                sources_used[rs[role].instrument.name] = rs[role].source
    # join
    keys = list(frames)
    merged = frames[keys[0]][1]
    if len(keys) > 1:
        all_ids = merged.index
        for kk in keys[1:]:
            all_ids = all_ids.union(frames[kk][1].index)
        for kk in keys:
            r, f, _ = frames[kk]
            missing_here = int((~all_ids.isin(f.index)).sum())
            if missing_here:
                excluded[f"no matching record in {Path(str(r.source)).name} (by {link})"] = missing_here
        common = frames[keys[0]][1].index
        for kk in keys[1:]:
            common = common.intersection(frames[kk][1].index)
        if len(common) == 0:
            raise PeerscaleError(f"no {link} matches between the files: " + ", ".join(
                str(frames[kk][0].source) for kk in keys), column=link,
                hint="check that the files use the same ids (e.g. D001 in both), and the wave")
        merged = pd.concat([frames[kk][1].loc[common] for kk in keys], axis=1)
    # row-level extras: cluster, covariates (from the first file that has them), baseline
    anchor_r = rs["x"]
    cluster_col = None
    if cluster is True:
        cluster_col = anchor_r.design.worker
        if not cluster_col:
            raise PeerscaleError("`cluster`: the design has no worker column",
                                 hint="give the column (--cluster COLUMN), or set worker: in study.yaml")
    elif cluster:
        cluster_col = str(cluster)
    extra_cols = ([cluster_col] if cluster_col else []) + list(covariates)
    for c in extra_cols:
        holder = next((frames[kk] for kk in keys if c in frames[kk][0].data.columns), None)
        if holder is None:
            what = "cluster column" if c == cluster_col else "covariate"
            raise PeerscaleError(f"{what} {c!r} is not in the data", column=c,
                                 hint="columns are: " + ", ".join(map(str, anchor_r.data.columns[:15])) + " ...")
        r, _, where = holder
        pos = where.loc[merged.index].to_numpy()
        merged[c] = r.data[c].to_numpy()[pos]
    base_col = None
    if baseline:
        yr = rs["y"]
        ycol = col["y"]
        base_col = f"{ycol}_{wave_name}"
        pos1 = frames[src['y']][2].loc[merged.index].to_numpy()
        pid = id_text(yr.data[person]).to_numpy()
        p2 = _wave_rows(yr, next_wave)
        ids2 = pd.Series(p2, index=pd.Index(pid[p2]))
        if ids2.index.duplicated().any():
            d = ids2.index[ids2.index.duplicated()][0]
            raise PeerscaleError(f"{person} {d!r} appears on more than one row at wave {next_wave!r}",
                                 column=person, value=d)
        y2 = _role_frame(yr, roles["y"][2], p2, latent, col["y"])
        y2.index = pd.Index(pid[p2])
        who = pd.Index(pid[pos1])
        if latent:
            raise PeerscaleError("`baseline` with `latent` is not supported: the outcome at two waves would need "
                                 "a longitudinal measurement model", hint="use --baseline on observed scores")
        merged[base_col] = merged[ycol].to_numpy()
        found = who.isin(y2.index)
        n_no_t2 = int((~found).sum())
        if n_no_t2:
            excluded[f"no {next_wave} record"] = n_no_t2
        if not found.any():
            raise PeerscaleError(f"no respondent has a {next_wave!r} record for {roles['y'][2]}",
                                 hint="the baseline model needs the outcome at the later wave")
        merged = merged[found]
        merged[ycol] = y2.loc[who[found], roles["y"][2]].to_numpy()
        notes_wave = f"X and M at {wave_name}; Y at {next_wave}, adjusted for Y at {wave_name}"
    else:
        notes_wave = f"all at {wave_name}" if wave_name else "every row (waves pooled)" if waves else ""
    n_before = len(merged) + sum(excluded.values())
    latent_items = None
    if latent:
        latent_items = {col[k]: _indicators(rs[k], roles[k][2], latent, col[k]) for k in ("x", "m", "y")}
    res = fit_mediation(merged.reset_index(drop=True), col["x"], col["m"], col["y"], covariates=list(covariates),
                        baseline=base_col, latent=latent_items, cluster=cluster_col, missing=missing,
                        bootstrap=bootstrap, seed=seed, workers=workers, level=level, quiet=quiet)
    res.excluded = {**excluded, **res.excluded}
    res.notes = extra_notes + list(res.notes)
    res.n_excluded = n_before - res.n
    res.sources = {"files": {k: str(v) for k, v in sources_used.items()},
                   "instruments": {k: rs[k].instrument.name for k in ("x", "m", "y")},
                   "scales": {k: roles[k][2] for k in ("x", "m", "y")},
                   "wave": wave_name, "outcome_wave": next_wave, "link": link if not same else "same rows",
                   "design": notes_wave}
    return res
