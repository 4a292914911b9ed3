"""Bytes of a text file, decoded: UTF-8 (with or without BOM), UTF-16 with BOM, else cp1252 or
latin-1 with a warning. Shared by the delimited-text, JSON-lines, SPSS-syntax and REDCap
dictionary readers."""

from __future__ import annotations

from pathlib import Path

from ..errors import PeerscaleError


def read_bytes(path: str | Path, what: str = "data file", limit: int | None = None) -> bytes:
    """The bytes of a file, standard input (``-``) or a pipe, checked first: a directory, a
    device or a socket is refused, a pipe read with a first-byte timeout, ``limit`` enforced
    (see :mod:`.source`)."""
    from .source import read_bytes as _read

    return _read(path, what, limit)


def decode(data: bytes, encoding: str | None, file: str, warnings: list[str]) -> bytes:
    """Return ``data`` as UTF-8 bytes without BOM; record a warning when a fallback is used."""
    if encoding:
        enc = encoding.lower().replace("_", "-")
        if enc in ("utf-8", "utf8", "utf-8-sig"):
            data = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise PeerscaleError(f"not valid UTF-8 (byte {exc.start})", file=file,
                                     hint="give the right `encoding`, e.g. cp1252") from None
            return data
        try:
            return data.decode(encoding).encode("utf-8")
        except LookupError:
            raise PeerscaleError(f"unknown encoding {encoding!r}", file=file,
                                 hint="e.g. utf-8, cp1252, latin-1, utf-16") from None
        except UnicodeDecodeError as exc:
            raise PeerscaleError(f"cannot be decoded as {encoding} (byte {exc.start})", file=file) from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            raise PeerscaleError("starts with a UTF-16 byte-order mark but is not valid UTF-16", file=file) from None
    if b"\x00" in data[:65536]:
        raise PeerscaleError("holds NUL bytes: this is a binary file, not delimited text", file=file,
                             hint="give the file its real extension (.sav, .dta, .xlsx, .parquet) or `input_format`")
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        for enc in ("cp1252", "latin-1"):
            try:
                text = data.decode(enc)
            except UnicodeDecodeError:
                continue
            warnings.append(f"{file}: not valid UTF-8 (first bad byte on line {line}); decoded as {enc}")
            return text.encode("utf-8")
    raise AssertionError("latin-1 decodes any byte string")  # pragma: no cover
