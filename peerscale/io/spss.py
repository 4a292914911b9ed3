"""SPSS ``.sav``/``.zsav``, Stata ``.dta`` and SAS ``.sas7bdat`` through pyreadstat, and
REDCap's "export to SPSS" pair (a ``.sps`` syntax file plus its header-less CSV).

User-missing values are read *as values* (pyreadstat ``user_missing=True``) and listed in
``Table.missing_values`` with their reason (the value label if there is one), so the scoring
engine can count them as missing with the reason kept instead of silently losing them.
Discrete codes are listed as declared; for a missing *range* the codes found in the data
within the range are listed.
"""

from __future__ import annotations

import re
from pathlib import Path, PureWindowsPath

from ..errors import PeerscaleError
from .table import Table, is_id_name, item_columns


def read_stat_file(path: Path, fmt: str, *, instrument=None, missing_codes: dict | None = None,
                   encoding: str | None = None) -> Table:
    """Read .sav/.zsav/.dta/.sas7bdat with labels, user-missing codes and the file label."""
    import pyreadstat

    reader = {"sav": pyreadstat.read_sav, "zsav": pyreadstat.read_sav, "dta": pyreadstat.read_dta,
              "sas7bdat": pyreadstat.read_sas7bdat}[fmt]
    kwargs = {"user_missing": True} if fmt in ("sav", "zsav", "dta") else {}
    if encoding:
        kwargs["encoding"] = encoding
    names = {"sav": "SPSS", "zsav": "SPSS", "dta": "Stata", "sas7bdat": "SAS"}
    try:
        df, meta = reader(str(path), **kwargs)
    except Exception as exc:  # pyreadstat.ReadstatError and friends: truncated or not this format
        detail = str(exc).strip() or type(exc).__name__
        raise PeerscaleError(f"cannot be read as a {names[fmt]} file ({detail})", file=str(path),
                             hint="the file may be truncated, damaged, or another format with the wrong extension") from None
    return stat_table(df, meta, path, fmt, instrument, missing_codes)


def stat_table(df, meta, path, fmt: str, instrument=None, missing_codes: dict | None = None) -> Table:
    """The :class:`Table` of rows pyreadstat read (the whole file, or one chunk of
    ``pyreadstat.read_file_in_chunks``) with their labels and user-missing codes."""
    table = Table(data=df, path=str(path), format=fmt, file_label=(meta.file_label or None))
    labels = meta.column_names_to_labels or {}
    table.variable_labels = {c: l for c, l in labels.items() if l}
    for col, vl in (meta.variable_value_labels or {}).items():
        numeric = df[col].dtype.kind in "biuf" if col in df.columns else True
        table.value_labels[col] = {(_num(k) if numeric else k): str(v) for k, v in vl.items()}
    _user_missing(table, meta)
    if df.shape[1] == 0:
        raise PeerscaleError("the file has no variables", file=str(path))
    if len(df) == 0:
        raise PeerscaleError("the file has variables but no cases (rows)", file=str(path))
    from .redcap import _as_id_text
    items = item_columns(df.columns, instrument)
    for col in df.columns:
        if col not in items and is_id_name(col) and df[col].dtype.kind in "iuf":
            df[col] = _as_id_text(df[col])
        elif df[col].dtype.kind not in "biufcmM" and col not in items:
            df[col] = df[col].where(df[col].notna() & (df[col].astype(str) != ""))
    from .items import finish_items
    finish_items(table, instrument, {str(k): str(v) for k, v in (missing_codes or {}).items()})
    return table


def _num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return v


def _user_missing(table: Table, meta) -> None:
    df = table.data
    for col, ranges in (getattr(meta, "missing_ranges", None) or {}).items():
        if col not in df.columns:
            continue
        labels = table.value_labels.get(col, {})
        entry = table.missing_values.setdefault(col, {})
        for r in ranges:
            lo, hi = r.get("lo"), r.get("hi")
            if lo == hi:
                key = _num(lo) if df[col].dtype.kind in "biuf" else lo
                entry[key] = labels.get(key, "user-missing")
            elif df[col].dtype.kind in "biuf":
                s = df[col]
                for v in sorted(set(s[(s >= lo) & (s <= hi)].dropna().tolist())):
                    entry[float(v)] = labels.get(float(v), f"user-missing (range {lo:g} to {hi:g})")
        if not entry:
            del table.missing_values[col]
    for col, codes in (getattr(meta, "missing_user_values", None) or {}).items():  # Stata .a-.z, SAS
        if col in df.columns:
            entry = table.missing_values.setdefault(col, {})
            labels = table.value_labels.get(col, {})
            for code in codes:
                entry[code] = labels.get(code, f"missing .{code}")


# --------------------------------------------------------------------------- REDCap .sps + CSV

def _sps_commands(text: str) -> list[str]:
    """Split SPSS syntax into commands (a command ends with '.' at the end of a line), comments dropped."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    commands, current, quote = [], [], None
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (stripped.startswith("*") or stripped.upper().startswith("COMMENT")):
            continue
        current.append(line)
        # find a terminating period outside quotes at the end of the line
        for ch in line:
            if quote:
                if ch == quote:
                    quote = None
            elif ch in "'\"":
                quote = ch
        if not quote and stripped.endswith("."):
            commands.append("\n".join(current).strip()[:-1])
            current = []
    if current:
        commands.append("\n".join(current).strip())
    return [c for c in commands if c.strip()]


_TOKEN = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|\([^)]*\)|/|=|[^\s/=()'"]+""")


def _tokens(command: str) -> list[str]:
    return _TOKEN.findall(command)


def _unquote(tok: str) -> str:
    if len(tok) >= 2 and tok[0] == tok[-1] and tok[0] in "'\"":
        return tok[1:-1].replace(tok[0] * 2, tok[0])
    return tok


def _is_quoted(tok: str) -> bool:
    return len(tok) >= 2 and tok[0] == tok[-1] and tok[0] in "'\""


def parse_sps(text: str) -> dict:
    """Parse the parts of REDCap's SPSS syntax that matter: file handles, DATA LIST variables
    and formats, VARIABLE LABELS, VALUE LABELS and MISSING VALUES. Other commands are ignored."""
    out = {"handles": {}, "data_file": None, "variables": [], "formats": {}, "delimiter": ",",
           "variable_labels": {}, "value_labels": {}, "missing": {}}
    for cmd in _sps_commands(text):
        toks = _tokens(cmd)
        if not toks:
            continue
        head = " ".join(t.upper() for t in toks[:2])
        if head == "FILE HANDLE" and len(toks) > 2:
            name = toks[2].upper()
            rest = toks[3:]
            for i, t in enumerate(rest):
                if t.upper() == "NAME" and i + 2 < len(rest) and rest[i + 1] == "=":
                    out["handles"][name] = _unquote(rest[i + 2])
        elif toks[0].upper() == "DATA" and len(toks) > 1 and toks[1].upper() == "LIST":
            _parse_data_list(toks[2:], out)
        elif toks[0].upper() in ("VARIABLE", "VAR") and len(toks) > 1 and toks[1].upper() in ("LABEL", "LABELS"):
            for group in _slash_groups(toks[2:]):
                if len(group) >= 2 and _is_quoted(group[-1]):
                    for name in group[:-1]:
                        out["variable_labels"][name] = _unquote(group[-1])
        elif toks[0].upper() in ("VALUE", "ADD") and len(toks) > 1 and toks[1].upper() in ("LABELS", "LABEL"):
            for group in _slash_groups(toks[2:]):
                names = []
                i = 0
                while i < len(group) and not _is_quoted(group[i]) and not re.match(r"^-?[\d.]+$", group[i]):
                    names.append(group[i])
                    i += 1
                pairs = group[i:]
                labels = {}
                for code, label in zip(pairs[0::2], pairs[1::2]):
                    labels[_unquote(code)] = _unquote(label)
                for name in names:
                    out["value_labels"].setdefault(name, {}).update(labels)
        elif toks[0].upper() == "MISSING" and len(toks) > 1 and toks[1].upper() == "VALUES":
            names = []
            for t in toks[2:]:
                if t == "/":
                    continue
                if t.startswith("("):
                    values = [_unquote(v.strip()) for v in re.split(r",|\s+(?=(?:[^']*'[^']*')*[^']*$)", t[1:-1]) if v.strip()]
                    for name in names:
                        out["missing"][name] = values
                    names = []
                else:
                    names.append(t)
    return out


def _slash_groups(tokens: list[str]) -> list[list[str]]:
    groups, cur = [], []
    for t in tokens:
        if t == "/":
            if cur:
                groups.append(cur)
            cur = []
        else:
            cur.append(t)
    if cur:
        groups.append(cur)
    return groups


def _parse_data_list(toks: list[str], out: dict) -> None:
    i = 0
    while i < len(toks) and toks[i] != "/":
        t = toks[i]
        if t.upper() == "FILE" and i + 2 < len(toks) and toks[i + 1] == "=":
            target = toks[i + 2]
            out["data_file"] = _unquote(target) if _is_quoted(target) else out["handles"].get(target.upper(), target)
            i += 3
            continue
        if t.startswith("(") and "'" in t or t.startswith('("'):
            inner = _unquote(t[1:-1].strip())
            if inner in (",", ";", "\t", "TAB"):
                out["delimiter"] = "\t" if inner == "TAB" else inner
        i += 1
    pending: list[str] = []
    for t in toks[i:]:
        if t == "/":
            continue
        if t.startswith("("):
            fmt = t[1:-1].strip().upper()
            for name in pending:
                out["variables"].append(name)
                out["formats"][name] = fmt
            pending = []
        else:
            pending.append(t)
    for name in pending:
        out["variables"].append(name)
        out["formats"][name] = "F8"


def _find_data_file(sps: Path, named: str | None) -> Path:
    candidates = []
    if named and named != "data_place_holder_name":
        p = Path(named)
        candidates += [p, sps.parent / p]
        base = PureWindowsPath(named).name if "\\" in named else p.name
        candidates.append(sps.parent / base)
    stem = sps.stem
    if "_SPSS_" in stem:
        candidates += [sps.parent / (stem.replace("_SPSS_", "_DATA_NOHDRS_") + ext) for ext in (".csv", ".CSV")]
    for c in candidates:
        if c.is_file():
            return c
    nohdrs = sorted(sps.parent.glob("*_DATA_NOHDRS_*.[cC][sS][vV]"))
    if len(nohdrs) == 1:
        return nohdrs[0]
    raise PeerscaleError(
        f"cannot find the data file this SPSS syntax reads ({named or 'no FILE HANDLE / DATA LIST FILE'})",
        file=str(sps), hint="put REDCap's <Project>_DATA_NOHDRS_<date>.csv beside the .sps file, "
                            "or edit the FILE HANDLE line to name it")


def read_redcap_sps(path: Path, *, instrument=None, missing_codes: dict | None = None,
                    encoding: str | None = None) -> Table:
    """Read REDCap's SPSS export: parse the ``.sps`` syntax, then read the header-less CSV it
    names (or the ``*_DATA_NOHDRS_*.csv`` beside it) with the variable names, labels and
    value labels the syntax defines."""
    from .csv import read_delimited
    from .text import decode, read_bytes

    warnings: list[str] = []
    text = decode(read_bytes(path), encoding, str(path), warnings).decode("utf-8")
    spec = parse_sps(text)
    if not spec["variables"]:
        raise PeerscaleError("no DATA LIST with variable names found in this SPSS syntax file", file=str(path),
                             hint="give REDCap's SPSS syntax file (.sps) unchanged, or read the CSV export instead")
    data_file = _find_data_file(path, spec["data_file"])
    text_cols = [v for v, f in spec["formats"].items() if f.startswith("A") or "DATE" in f or f.startswith("TIME")]
    table = read_delimited(data_file, instrument=instrument, missing_codes=missing_codes, encoding=encoding,
                           delimiter=spec["delimiter"], column_names=spec["variables"], fmt="redcap-sps",
                           text_columns=text_cols)
    table.path = str(path)
    table.sources = [str(path), str(data_file)]
    table.warnings = warnings + table.warnings + [f"{path}: read data from {data_file}"]
    df = table.data
    table.variable_labels.update({k: v for k, v in spec["variable_labels"].items() if k in df.columns and v})
    for col, labels in spec["value_labels"].items():
        if col not in df.columns:
            continue
        numeric = df[col].dtype.kind in "biuf"
        table.value_labels[col] = {(_num(k) if numeric else k): v for k, v in labels.items()}
    for col, values in spec["missing"].items():
        if col in df.columns:
            numeric = df[col].dtype.kind in "biuf"
            entry = table.missing_values.setdefault(col, {})
            for v in values:
                key = _num(v) if numeric else v
                entry[key] = table.value_labels.get(col, {}).get(key, "user-missing")
    return table
