"""The bundled synthetic example exports, found through the installed package (not the
repository), so examples run from any directory::

    >>> import peerscale
    >>> from peerscale.examples import path
    >>> peerscale.read(path("youth_export.csv"), "pbr-y").n_rows
    562

Files: ``youth_export.csv`` (young people, two waves: pbr-y, act-y, out-y),
``worker_export.csv`` (their workers at baseline: pbr-p, act-p) and ``study.yaml`` (the
design both share). SYNTHETIC DATA: no real person is behind any row.
"""

from __future__ import annotations

from pathlib import Path

from .errors import PeerscaleError


def folder() -> Path:
    """The folder of the example files (``peerscale/example_data`` when installed, the
    repository's ``examples/`` in a source tree)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "example_data", here.parent / "examples"):
        if (candidate / "youth_export.csv").is_file():
            return candidate
    raise PeerscaleError(f"the bundled example files were not found beside {here}", hint="reinstall peerscale")


def files() -> list[str]:
    """The names of the example files."""
    return sorted(p.name for p in folder().iterdir() if p.suffix in (".csv", ".yaml"))


def path(name: str = "youth_export.csv") -> str:
    """The full path of a bundled example file, e.g. ``path("youth_export.csv")``."""
    p = folder() / name
    if not p.is_file() or name not in files():
        raise PeerscaleError(f"no example file called {name!r}", hint="files: " + ", ".join(files()))
    return str(p)
