"""peerscale: draft item banks, scoring rules and psychometrics for the peerness-based
relationship in one-on-one youth peer support (Walker et al., 2024)."""

__version__ = "0.1.0"

from .errors import PeerscaleError  # noqa: E402
from .spec import (Instrument, adhoc_instrument, bundled_instruments, item_pairs,  # noqa: E402
                   load_instrument)

__all__ = ["PeerscaleError", "Instrument", "adhoc_instrument", "bundled_instruments", "item_pairs", "load_instrument",
           "score", "score_data", "keyed_items", "__version__"]


def __getattr__(name):
    # scoring pulls in pandas; keep `import peerscale` light until it is needed
    if name in ("score", "score_data", "keyed_items"):
        from . import scoring
        return getattr(scoring, name)
    raise AttributeError(name)
