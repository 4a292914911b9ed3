"""Simulate data from an instrument's population model, and plan a validation study by Monte Carlo.

:func:`simulate` (``peerscale.simulate``) draws answers from the ``population:`` block of a
scoring file or a model file; :func:`plan` (``peerscale.plan``) fits the analysis to many such
samples per sample size and reports convergence, fit, bias, coverage and power.
"""

from __future__ import annotations

__all__ = ["simulate", "simulate_study", "plan"]


def __getattr__(name):
    import importlib

    if name in ("simulate", "simulate_study", "Design", "Study"):
        return getattr(importlib.import_module(".generate", __name__), name)
    if name in ("plan", "PlanResult"):
        return getattr(importlib.import_module(".plan", __name__), name)
    raise AttributeError(name)
