"""The study design: who answered (respondent), when (wave), with whom (worker, dyad) and in
which group, as columns of an export.

Peer support data have a shape: young people answer at several waves, several young people
share one worker, and a young person and their worker rate the same relationship. A
:class:`Design` names the columns that carry that shape. It comes from, in order of
precedence,

1. what the caller gives (``peerscale.read(..., design=...)``; on the command line
   ``--respondent-column``, ``--wave-column``, ``--worker-column``, ``--dyad-column``,
   ``--group-column``),
2. a ``study.yaml`` file beside the export (see :func:`Design.from_file`),
3. defaults: the wave column is REDCap's ``redcap_event_name`` when the export has it; the
   respondent is REDCap's record id, else the first of the instrument's id columns present
   (e.g. ``record_id``) that is not a wave or REDCap bookkeeping column.

A ``study.yaml`` holds any of these keys (all optional)::

    respondent: record_id
    wave: redcap_event_name
    waves: [baseline_arm_1, followup_arm_1]   # the order of the waves (default: as they first appear)
    worker: worker_id
    dyad: dyad_id
    group: site

Validation analyses use one wave by default (the first), so that each respondent counts once;
see :meth:`peerscale.responses.Responses.wave`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

from .errors import PeerscaleError

STUDY_FILES = ("study.yaml", "study.yml")
ROLES = ("respondent", "wave", "worker", "dyad", "group")
WAVE_DEFAULTS = ("redcap_event_name",)


@dataclass(frozen=True)
class Design:
    """Columns naming the respondent, the wave, the worker, the dyad and the group.

    Parameters
    ----------
    respondent, wave, worker, dyad, group : str, optional
        Column names. ``None`` leaves the role to the ``study.yaml`` file or the defaults.
    waves : tuple of str, optional
        The waves in study order (default: the order in which they first appear in the data).
    source : str, optional
        Where the design came from (a ``study.yaml`` path), for messages.

    Examples
    --------
    >>> from peerscale.design import Design
    >>> Design(wave="visit", worker="worker_id").roles()
    {'wave': 'visit', 'worker': 'worker_id'}
    """

    respondent: str | None = None
    wave: str | None = None
    worker: str | None = None
    dyad: str | None = None
    group: str | None = None
    waves: tuple[str, ...] | None = None
    source: str | None = None
    file_roles: frozenset = frozenset()  # roles (and "waves") set by the study file, for messages

    # ------------------------------------------------------------------ building

    @classmethod
    def from_file(cls, path: str | Path) -> "Design":
        """Read a ``study.yaml`` (keys ``respondent``, ``wave``, ``waves``, ``worker``,
        ``dyad``, ``group``; see the module docstring)."""
        from .spec import _read_yaml  # the instrument files' YAML reader (YAML 1.2 booleans)

        path = Path(path)
        doc = _read_yaml(path)
        if doc is None:
            return cls(source=str(path))
        if not isinstance(doc, dict):
            raise PeerscaleError("a study file is a mapping of keys (respondent, wave, waves, worker, dyad, group)",
                                 file=str(path))
        if "design" in doc and isinstance(doc["design"], dict) and len(doc) == 1:
            doc = doc["design"]
        allowed = set(ROLES) | {"waves"}
        unknown = [k for k in doc if k not in allowed]
        if unknown:
            raise PeerscaleError(f"unknown key {unknown[0]!r}", file=str(path), key=str(unknown[0]),
                                 hint="allowed keys: " + ", ".join(sorted(allowed)))
        values: dict = {}
        for role in ROLES:
            v = doc.get(role)
            if v is None:
                continue
            if not isinstance(v, (str, int)) or isinstance(v, bool) or not str(v).strip():
                raise PeerscaleError(f"expected a column name, got {v!r}", file=str(path), key=role)
            values[role] = str(v).strip()
        if doc.get("waves") is not None:
            waves = doc["waves"]
            if not isinstance(waves, list) or not waves or any(isinstance(w, (dict, list)) for w in waves):
                raise PeerscaleError("expected a list of wave names, e.g. [baseline_arm_1, followup_arm_1]",
                                     file=str(path), key="waves")
            names = [str(w).strip() for w in waves]
            doubled = sorted({w for w in names if names.count(w) > 1})
            if doubled:
                raise PeerscaleError(f"wave {doubled[0]!r} is listed twice", file=str(path), key="waves")
            values["waves"] = tuple(names)
        return cls(**values, source=str(path), file_roles=frozenset(values))

    @classmethod
    def beside(cls, source: str | Path) -> "Design | None":
        """The ``study.yaml`` (or ``study.yml``) in the export's folder, if there is one."""
        folder = Path(source).expanduser().parent
        for name in STUDY_FILES:
            candidate = folder / name
            if candidate.is_file():
                return cls.from_file(candidate)
        return None

    @classmethod
    def coerce(cls, design) -> "Design":
        """A :class:`Design` from a Design, a mapping of roles, a ``study.yaml`` path or None."""
        if design is None:
            return cls()
        if isinstance(design, Design):
            return design
        if isinstance(design, dict):
            allowed = set(ROLES) | {"waves"}
            unknown = [k for k in design if k not in allowed]
            if unknown:
                raise PeerscaleError(f"`design` has an unknown role {unknown[0]!r}",
                                     hint="roles: " + ", ".join(sorted(allowed)))
            values = {k: v for k, v in design.items() if v is not None}
            if "waves" in values:
                values["waves"] = tuple(str(w) for w in values["waves"])
            return cls(**values)
        if isinstance(design, (str, Path)):
            return cls.from_file(design)
        raise PeerscaleError(f"`design` must be a Design, a dict of roles or a study.yaml path, "
                             f"got {type(design).__name__}")

    def updated(self, other: "Design") -> "Design":
        """This design with every role ``other`` sets replaced by ``other``'s."""
        changes = {f.name: getattr(other, f.name) for f in fields(other)
                   if f.name not in ("source", "file_roles") and getattr(other, f.name) is not None}
        out = replace(self, **changes, file_roles=self.file_roles - set(changes))
        if changes and other.source is None and self.source is not None:
            return replace(out, source=f"{self.source}, overridden by options")
        return out

    # ------------------------------------------------------------------ using

    def roles(self) -> dict[str, str]:
        """``{role: column}`` for the roles that are set."""
        return {r: getattr(self, r) for r in ROLES if getattr(self, r) is not None}

    def columns(self) -> list[str]:
        """The design's columns, respondent first, without repeats."""
        return list(dict.fromkeys(self.roles().values()))

    def resolve(self, columns, *, respondent_candidates=(), wave_candidates=WAVE_DEFAULTS,
                file: str | None = None) -> "Design":
        """Fill the defaults from the data's ``columns`` and check every named column exists.

        ``respondent_candidates``: id columns in order of preference (REDCap's record id, the
        instrument's ``id_columns``); the first present that is not the wave column and not a
        ``redcap_*`` bookkeeping column becomes the respondent. ``wave_candidates``: columns
        that are the wave when present (REDCap's event column).
        """
        cols = {str(c) for c in columns}
        for role, col in self.roles().items():
            if col not in cols:
                hint = "columns are: " + ", ".join(sorted(cols)[:20])
                if role in self.file_roles:
                    raise PeerscaleError(f"the {role} column {col!r} is not in the data ({file or 'a DataFrame'})",
                                         file=self.source, key=role, hint=hint)
                raise PeerscaleError(f"the design's {role} column {col!r} (`design.{role}`) is not in the data",
                                     file=file, hint=hint)
        wave = self.wave or next((c for c in wave_candidates if c and c in cols), None)
        respondent = self.respondent
        if respondent is None:
            respondent = next((c for c in respondent_candidates if c in cols and c != wave
                               and not str(c).startswith("redcap_") and c not in wave_candidates), None)
        if self.wave and respondent == self.wave:
            raise PeerscaleError(f"column {respondent!r} cannot be both the respondent and the wave", file=file,
                                 key="design.wave")
        return replace(self, wave=wave, respondent=respondent)

    def describe(self) -> str:
        roles = self.roles()
        if not roles:
            return "no design columns"
        return ", ".join(f"{r} = {c}" for r, c in roles.items())


def id_text(series, *, keep_leading_zeros: bool = False):
    """An identifier column as comparable text (pandas ``string``; blank -> missing).

    The same id is spelled differently by different tools: a numeric column read from SPSS,
    Stata or Excel, or a CSV column with a blank cell, holds ``7.0``; another export or a
    spreadsheet that kept the text holds ``"007"`` or ``" 7 "``. Whitespace is stripped and
    whole numbers lose their ``.0`` (``7.0`` -> ``"7"``); unless ``keep_leading_zeros`` numeric
    ids also lose their leading zeros (``"007"`` -> ``"7"``), so that two files link whichever
    tool wrote them. Text ids (``"Y007"``) are kept as they are; letter case is kept.

    >>> import pandas as pd
    >>> id_text(pd.Series([7.0, None, 12.5])).tolist()
    ['7', <NA>, '12.5']
    >>> id_text(pd.Series(["007", " 7", "Y007", ""])).tolist()
    ['7', '7', 'Y007', <NA>]
    """
    import pandas as pd

    if series.dtype.kind == "f":
        text = pd.Series([None if v != v else (str(int(v)) if float(v).is_integer() else repr(float(v)))
                          for v in series.tolist()], index=series.index, dtype="string")
    else:
        text = series.astype("string").str.strip()
        text = text.str.replace(r"^([+-]?\d+)\.0*$", r"\1", regex=True)  # "7.0" written by a numeric column
    if not keep_leading_zeros:
        text = text.str.replace(r"^0+(?=\d)", "", regex=True)
    return text.mask(text == "")
