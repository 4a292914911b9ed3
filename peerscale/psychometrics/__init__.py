"""Psychometrics with R parity: reliability, item analysis, EFA and CFA.

Submodules are imported on demand (``from peerscale.psychometrics import reliability``);
nothing heavy is imported here so that the CLI stays fast.
"""
