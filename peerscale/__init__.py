"""peerscale: draft item banks, scoring rules and psychometrics for the peerness-based
relationship in one-on-one youth peer support (Walker et al., 2024).

Start with :func:`peerscale.read`: it reads an export, maps its columns, chooses the scales
it can score and cleans the answers, and returns :class:`~peerscale.responses.Responses`
with ``.score()``, ``.reliability()``, ``.item_analysis()``, ``.efa()``, ``.cfa()`` and
``.report()``: the same pipeline the command line runs.
"""

from ._version import __version__
from .design import Design
from .errors import PeerscaleError
from .spec import Instrument, adhoc_instrument, bundled_instruments, item_pairs, load_instrument

__all__ = ["read", "Responses", "Design", "PeerscaleError", "Instrument", "adhoc_instrument", "bundled_instruments",
           "item_pairs", "load_instrument", "score", "score_data", "keyed_items", "mediation", "score_file",
           "read_chunked", "simulate", "plan", "__version__"]

_LAZY = {"read": "api", "Responses": "responses", "score": "api", "score_data": "scoring",
         "keyed_items": "scoring", "mediation": "responses", "score_file": "streaming", "read_chunked": "chunked",
         "simulate": "simulation.generate", "plan": "simulation.plan"}
_SUBMODULES = ("analyses", "chunked", "design_analyses", "examples", "io", "psychometrics", "report", "responses",
               "scoring", "simulation", "streaming", "structures")


def __getattr__(name):
    # reading and scoring pull in pandas; keep `import peerscale` light until they are needed
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'peerscale' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
