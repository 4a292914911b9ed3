"""An instrument's own factor structures as lavaan model syntax, written once for the ``cfa``
command, the report and :meth:`peerscale.responses.Responses.cfa`.

- ``"correlated"``: one factor per dimension scale, factors correlated (the first loading of
  each factor fixed to 1, lavaan's default);
- ``"one-factor"``: one factor ``g`` over all their items;
- ``"bifactor"``: ``g`` plus one specific factor per scale, all orthogonal, factor variances
  fixed to 1 (``std_lv=True, orthogonal=True``).

The dimension scales are those of the instrument's first composite built from scales (pbr-y's
six core dimensions in ``pbr_core``) when every one of them is scored, else every
non-composite scale.
"""

from __future__ import annotations

from .errors import PeerscaleError

STRUCTURES = ("correlated", "one-factor", "bifactor")


def dimension_scales(instrument, scales=None) -> list:
    """The dimension (non-composite) scales a structure models; see the module docstring."""
    if scales is not None:
        chosen = [instrument.scale(n) for n in scales]
    else:
        names = {s.name for s in instrument.scales}
        composite = next((s for s in instrument.scales if s.composite and s.of_scales
                          and all(p in names for p in s.of_scales)), None)
        chosen = ([instrument.scale(n) for n in composite.of_scales] if composite
                  else [s for s in instrument.scales if not s.composite])
    chosen = [s for s in chosen if not s.composite]
    if not chosen:
        raise PeerscaleError(f"instrument {instrument.name!r} has no dimension scales to model")
    return chosen


def instrument_structure(instrument, structure: str = "correlated", scales=None) -> tuple[str, dict]:
    """``(lavaan syntax, fit options)`` of one of the instrument's :data:`STRUCTURES`.

    Parameters
    ----------
    instrument : Instrument
    structure : {"correlated", "one-factor", "bifactor"}
    scales : list of str, optional
        The dimension scales to model (default: see the module docstring).

    Returns
    -------
    (str, dict)
        The model in lavaan syntax (one statement per line) and the options
        :func:`peerscale.psychometrics.cfa.fit_cfa` needs for it (``std_lv``, ``orthogonal``).

    Examples
    --------
    >>> import peerscale
    >>> from peerscale.structures import instrument_structure
    >>> text, options = instrument_structure(peerscale.load_instrument("pbr-y"), "bifactor")
    >>> text.splitlines()[1][:40], options
    ('share =~ pbr_y_share_01 + pbr_y_share_02', {'std_lv': True, 'orthogonal': True})
    """
    if structure not in STRUCTURES:
        raise PeerscaleError(f"unknown `structure` {structure!r}", value=structure,
                             hint=f"use one of {', '.join(STRUCTURES)}")
    chosen = dimension_scales(instrument, scales)
    items = [i for s in chosen for i in s.items]
    if structure == "one-factor":
        return f"g =~ {' + '.join(items)}", {}
    if len(chosen) < 2 and structure != "correlated":
        raise PeerscaleError("a bifactor model needs at least two dimension scales")
    lines = [f"{s.name} =~ {' + '.join(s.items)}" for s in chosen]
    if structure == "correlated":
        return "\n".join(lines), {}
    return "\n".join([f"g =~ {' + '.join(items)}"] + lines), {"std_lv": True, "orthogonal": True}
