"""Where input bytes come from, checked before anything is read.

Every input (data file, scoring file, item bank, ``--map`` file, REDCap dictionary) goes
through :func:`check_input`, which refuses what is not a file to read: a missing path, a
directory, a device (``/dev/zero``, a terminal), a socket. Standard input (``-``, or
``/dev/stdin`` when it is a pipe), pipes and named pipes (FIFOs) are read as streams: in
chunks, with a cap, and with a wait for the first byte (:data:`PIPE_TIMEOUT` seconds) so a
FIFO that nobody writes to is reported instead of hanging.

A regular file is checked against the memory a run can use before it is read
(:func:`check_memory`): reading and scoring a CSV takes about 12 times its size. A file that
cannot fit is refused with its size, the memory available and what to do, instead of ending
in an out-of-memory abort halfway. ``PEERSCALE_MEMORY_CHECK=off`` skips the check.
"""

from __future__ import annotations

import errno
import os
import stat
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import PeerscaleError

STDIN = "-"
PIPE_TIMEOUT = 10.0  # seconds to wait for a pipe's first byte
CHUNK = 1 << 20
# Peak memory of read + score + write, as a multiple of the input's size on disk (measured:
# a 43 MB CSV of 2M rows x 8 columns peaks at 612 MB, of which ~150 MB is the interpreter).
MEMORY_FACTOR = {"csv": 12, "tsv": 12, "redcap-sps": 12, "jsonl": 25, "sav": 6, "dta": 6, "sas7bdat": 6,
                 "zsav": 30, "parquet": 20, "xlsx": 6}  # xlsx: of the uncompressed XML (see unzipped_size)
# Address space a run reserves beyond what it touches (thread stacks and arenas, Arrow's
# pool): counts against a virtual-memory limit (``ulimit -v``) but not against free memory.
# Measured: scoring a 2.4 MB CSV needs 700-800 MB of address space with 336 MB in use when the
# check runs; below that Arrow aborts (std::bad_alloc, exit 134) or cannot start its threads.
VIRTUAL_OVERHEAD = 400 << 20


@dataclass
class Source:
    """A checked input: ``kind`` is "file" or "stream"; ``path`` as the user gave it."""

    path: str
    kind: str
    size: int | None = None  # bytes, regular files only


def human(n: float) -> str:
    """``1.2 GB``, ``340 MB``, ``12 KB`` (powers of 1000, as file managers show sizes)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}".replace(".0 ", " ")
    return f"{int(n)} bytes"


def _stdin_hint(what: str) -> str:
    return f"pipe or redirect the {what} into peerscale, e.g. `peerscale score - -i NAME -o out.csv < export.csv`"


def check_input(path, what: str = "data file") -> Source:
    """Refuse what cannot be read as ``what``; return how to read the rest."""
    text = str(path)
    if text == STDIN:
        try:
            st = os.fstat(0)
        except OSError:
            raise PeerscaleError("standard input is closed", file=STDIN, hint=_stdin_hint(what)) from None
        if os.isatty(0):
            raise PeerscaleError(f"standard input is a terminal, not a {what}", file=STDIN, hint=_stdin_hint(what))
        if stat.S_ISREG(st.st_mode):
            return Source(STDIN, "stream", st.st_size)
        if stat.S_ISDIR(st.st_mode) or stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            raise PeerscaleError(f"standard input is not a {what}", file=STDIN, hint=_stdin_hint(what))
        return Source(STDIN, "stream")
    p = Path(text).expanduser()
    try:
        st = os.stat(p)
    except FileNotFoundError:
        broken = p.is_symlink()
        raise PeerscaleError(f"{what} not found" + (" (a broken symbolic link)" if broken else ""),
                             file=text) from None
    except PermissionError:
        raise PeerscaleError(f"cannot read the {what}: permission denied", file=text) from None
    except OSError as exc:
        raise PeerscaleError(f"cannot read the {what}: {exc.strerror or exc}", file=text) from None
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise PeerscaleError(f"is a directory, not a {what}", file=text)
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        tty = text in ("/dev/stdin", "/dev/fd/0", "/proc/self/fd/0") and os.isatty(0)
        raise PeerscaleError(f"is a device, not a {what}" if not tty else f"standard input is a terminal, not a {what}",
                             file=text, hint=_stdin_hint(what) if tty else f"give the path of a {what}")
    if stat.S_ISSOCK(mode):
        raise PeerscaleError(f"is a socket, not a {what}", file=text)
    if stat.S_ISFIFO(mode):
        return Source(text, "stream")
    if not os.access(p, os.R_OK):
        raise PeerscaleError(f"cannot read the {what}: permission denied", file=text)
    return Source(text, "file", st.st_size)


def _open_stream(src: Source) -> int:
    """A file descriptor for a stream, without blocking (opening a FIFO with no writer would)."""
    if src.path == STDIN:
        return os.dup(0)
    try:
        return os.open(src.path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise PeerscaleError(f"cannot read: {exc.strerror or exc}", file=src.path) from None


def _wait_first_byte(fd: int, src: Source, what: str, timeout: float) -> None:
    import select

    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI | select.POLLHUP)
    if not poller.poll(int(timeout * 1000)):
        kind = "standard input" if src.path == STDIN else "named pipe (FIFO)"
        raise PeerscaleError(f"nothing arrived on this {kind} within {timeout:g} s", file=src.path,
                             hint=f"start the program that writes the {what} first, or save it to a file "
                                  "and give that file")


_STREAMS: dict | None = None  # bytes of the streams read within one stream_cache() block


@contextmanager
def stream_cache():
    """Within this block a stream read twice (e.g. once to recognise the instrument, once to
    read it) gives the same bytes: a pipe can be read only once."""
    global _STREAMS
    outer = _STREAMS is not None
    if not outer:
        _STREAMS = {}
    try:
        yield
    finally:
        if not outer:
            _STREAMS = None


def read_stream(src: Source, what: str, limit: int | None, timeout: float | None = None) -> bytes:
    """All bytes of a pipe, FIFO or standard input, refusing more than ``limit`` bytes."""
    if _STREAMS is not None and src.path in _STREAMS:
        return _STREAMS[src.path]
    data = _read_stream(src, what, limit, timeout)
    if _STREAMS is not None:
        _STREAMS[src.path] = data
    return data


def _read_stream(src: Source, what: str, limit: int | None, timeout: float | None = None) -> bytes:
    import fcntl

    fd = _open_stream(src)
    try:
        _wait_first_byte(fd, src, what, PIPE_TIMEOUT if timeout is None else timeout)
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        parts, total = [], 0
        while True:
            try:
                chunk = os.read(fd, CHUNK)
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                raise PeerscaleError(f"cannot read: {exc.strerror or exc}", file=src.path) from None
            if not chunk:
                break
            parts.append(chunk)
            total += len(chunk)
            if limit is not None and total > limit:
                raise PeerscaleError(f"more than {human(limit)} arrived on this stream, more than a {what} "
                                     "of this kind can be read in the memory available", file=src.path,
                                     hint="save the data to a file and give that file (or split it into parts)")
        return b"".join(parts)
    finally:
        os.close(fd)


def read_bytes(path, what: str = "data file", limit: int | None = None) -> bytes:
    """The bytes of an input (file or stream) after :func:`check_input`; ``limit`` caps the size."""
    src = check_input(path, what)
    if src.kind == "stream":
        return read_stream(src, what, limit)
    if limit is not None and src.size is not None and src.size > limit:
        raise PeerscaleError(f"is {human(src.size)}, larger than any {what} can be ({human(limit)})",
                             file=src.path, hint=f"check that this is the {what} you meant")
    try:
        with open(Path(src.path).expanduser(), "rb") as fh:
            data = fh.read() if limit is None else fh.read(limit + 1)
    except PermissionError:
        raise PeerscaleError(f"cannot read the {what}: permission denied", file=src.path) from None
    except OSError as exc:
        raise PeerscaleError(f"cannot read the {what}: {exc.strerror or exc}", file=src.path) from None
    if limit is not None and len(data) > limit:
        raise PeerscaleError(f"is larger than any {what} can be ({human(limit)})", file=src.path)
    return data


# --------------------------------------------------------------------------- memory

def _meminfo() -> dict[str, int]:
    out = {}
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                parts = rest.split()
                if parts:
                    out[key] = int(parts[0]) * 1024
    except OSError:
        pass
    return out


def _vm_size() -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _cgroup_room() -> int | None:
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit == "max":
            return None
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        return max(0, int(limit) - used)
    except (OSError, ValueError):
        return None


def memory_room() -> tuple[int | None, str, bool]:
    """(bytes this process can still use, what limits it, whether that limit counts address
    space); None when nothing can be measured (not Linux)."""
    candidates: list[tuple[int, str, bool]] = []
    info = _meminfo()
    if "MemAvailable" in info:
        candidates.append((info["MemAvailable"] + info.get("SwapFree", 0), "memory available on this machine", False))
    room = _cgroup_room()
    if room is not None:
        candidates.append((room, "the container's memory limit", False))
    try:
        import resource

        for which, name in ((resource.RLIMIT_AS, "the process's virtual memory limit (ulimit -v)"),
                            (resource.RLIMIT_DATA, "the process's data size limit (ulimit -d)")):
            soft, _hard = resource.getrlimit(which)
            if soft != resource.RLIM_INFINITY:
                used = _vm_size() or 0
                candidates.append((max(0, soft - used), name, True))
    except (ImportError, ValueError, OSError):
        pass
    if not candidates:
        return None, "", False
    return min(candidates, key=lambda c: c[0] - (VIRTUAL_OVERHEAD if c[2] else 0))


def unzipped_size(path) -> int | None:
    """Bytes a zip container (.xlsx) holds once decompressed, from its directory (nothing is
    decompressed): a "zip bomb" of a few MB that inflates to gigabytes shows here."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            return sum(i.file_size for i in zf.infolist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return None


def check_memory(src: Source, fmt: str) -> None:
    """Refuse a file that cannot be read and scored in the memory this run can use."""
    if os.environ.get("PEERSCALE_MEMORY_CHECK", "").lower() in ("off", "0", "no", "false"):
        return
    if src.size is None:
        return
    size = src.size
    if fmt == "xlsx":
        inflated = unzipped_size(Path(src.path).expanduser())
        size = max(size, inflated or 0)
    need = MEMORY_FACTOR.get(fmt, 12) * size
    room, what, virtual = memory_room()
    if room is None:
        return
    budget = room - (VIRTUAL_OVERHEAD if virtual else 0)
    if need <= budget:
        return
    left = f"only {human(budget)} is left" if budget >= 1e6 else "too little is left"
    unpacked = f" ({human(size)} unpacked)" if size != src.size else ""
    raise PeerscaleError(
        f"is {human(src.size)}{unpacked}; reading and scoring it needs about {human(need)} of memory, but {left} "
        f"under {what}", file=src.path,
        hint="split the file into parts (e.g. by site or wave) and run each, or run where more memory is "
             "available (set PEERSCALE_MEMORY_CHECK=off to try anyway)")


def stream_limit(fmt: str | None = None) -> int | None:
    """The most bytes a stream of format ``fmt`` may bring (None: no measurable limit)."""
    if os.environ.get("PEERSCALE_MEMORY_CHECK", "").lower() in ("off", "0", "no", "false"):
        return None
    room, _what, virtual = memory_room()
    if room is None:
        return None
    budget = room - (VIRTUAL_OVERHEAD if virtual else 0)
    return max(budget // MEMORY_FACTOR.get(fmt or "csv", 12), 1 << 20)
