"""The one error type for user mistakes (bad files, bad specs, bad data, bad options).

The CLI prints ``str(error)`` as a single message on stderr and exits with status 1;
anything else that escapes is a bug in peerscale.
"""

from __future__ import annotations


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
            where.append(f"value {self.value!r}")
        text = (", ".join(where) + ": " if where else "") + self.message
        if self.hint:
            text += f"\n  What to do: {self.hint}"
        return text


class PeerscaleWarning(UserWarning):
    """Something worth telling the user that loses no data (e.g. a cp1252 file was decoded)."""
