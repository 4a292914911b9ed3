"""The one error type for user mistakes (bad files, bad specs, bad data, bad options).

The CLI prints ``str(error)`` as a single message on stderr and exits with status 1;
anything else that escapes is a bug in peerscale.
"""

from __future__ import annotations

import re

MAX_SHOWN = 80  # characters of a value shown in a message


def plain(value) -> str:
    """A value as a person reads it in a message: ``-99`` (not ``np.float64(-99.0)``), ``2.5``,
    ``'UNK'`` (text quoted, so spaces show), long text cut with ``…``."""
    if hasattr(value, "item") and type(value).__module__ == "numpy":
        try:
            value = value.item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        text = value if len(value) <= MAX_SHOWN else value[:MAX_SHOWN] + "…"
        return repr(text)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(plain(v) for v in value) + "]"
    text = str(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "…"


_NAME = re.compile(r"^[^\W\d][\w.]{0,63}$")


def columns_hint(columns, limit: int = 20) -> str:
    """``columns are: a, b, c (and 4 more)`` listing only names that look like variable names, so
    a hint never echoes a line of a file that is not a data file (``/etc/shadow`` read as CSV)."""
    names = [str(c) for c in columns]
    shown = [n for n in names if _NAME.match(n)]
    if not shown:
        return "the file's header holds no column names like item ids: is this the data file?"
    more = len(names) - min(len(shown), limit)
    return "columns are: " + ", ".join(shown[:limit]) + (f" (and {more} more)" if more > 0 else "")


class PeerscaleError(Exception):
    """A problem the user can fix: says where (file, key, row, column, value) and what to do.

    ``row`` is 1-based as a person counts data rows (the header is not a row).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        row: int | str | None = None,
        column: str | None = None,
        value: object = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = None if file is None else str(file)
        self.key = key
        self.row = row
        self.column = column
        self.value = value
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.key:
            where.append(f"at {self.key}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        if self.value is not None:
            where.append(f"value {plain(self.value)}")
        text = (", ".join(where) + ": " if where else "") + self.message
        if self.hint:
            text += f"\n  What to do: {self.hint}"
        return text


class PeerscaleWarning(UserWarning):
    """Something worth telling the user that loses no data (e.g. a cp1252 file was decoded)."""
