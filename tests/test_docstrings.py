"""The docstrings' examples run and print what they say; every public psychometrics function
documents its parameters and returns in numpydoc style and names the R call it matches."""

from __future__ import annotations

import doctest
import importlib
import inspect

import pytest

FAST = ["peerscale.design", "peerscale.structures", "peerscale.examples", "peerscale.responses",
        "peerscale.psychometrics.reliability", "peerscale.psychometrics.omega", "peerscale.psychometrics.itemstats",
        "peerscale.psychometrics.polychoric", "peerscale.psychometrics.efa", "peerscale.psychometrics.parallel",
        "peerscale.psychometrics.factorability", "peerscale.psychometrics.icc", "peerscale.psychometrics.moments",
        "peerscale.chunked", "peerscale.api", "peerscale.simulation.generate"]
# issue 11 owns the CFA engine's modules and their docstrings
OURS = {"cronbach_alpha", "alpha_from_correlation", "ordinal_alpha", "feldt_ci", "omega", "item_analysis",
        "skewness", "kurtosis", "polychoric_matrix", "smooth_correlation", "fit_efa", "rotate",
        "parallel_analysis", "kmo", "bartlett_sphericity", "icc", "icc_wide"}


def _run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed"
    return result


@pytest.mark.parametrize("name", FAST)
def test_docstring_examples_run(name):
    _run(name)


@pytest.mark.slow
def test_analyses_docstring_examples_run():
    assert _run("peerscale.analyses").attempted >= 10


@pytest.mark.parametrize("name", sorted(OURS))
def test_public_functions_are_documented_with_the_r_call(name):
    import peerscale.psychometrics as ps

    doc = inspect.getdoc(getattr(ps, name))
    for section in ("Parameters", "Returns", "Examples"):
        assert f"{section}\n{'-' * len(section)}" in doc, (name, section)
    examples = doc.split("Examples\n--------", 1)[1]
    assert ("psych::" in examples or "GPArotation::" in examples or "cov(" in examples) and ">>>" in examples, name
