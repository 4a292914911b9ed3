"""Item response theory: graded response model, 2PL and Rasch calibration by marginal maximum
likelihood (Bock–Aitkin EM, as R's mirt), person scores (EAP, MAP, ML, EAPsum), information,
model and item fit, DIF, and frozen item banks for scoring.

>>> from peerscale.irt import fit_grm                      # doctest: +SKIP
>>> res = fit_grm(df)                                     # doctest: +SKIP
>>> res.to_frame(); res.scores(method="EAP"); res.information([-2, 0, 2])   # doctest: +SKIP

Calibration finds the maximum of the likelihood; ``fit_irt(..., mirt_compatible=True)``
instead follows R mirt's own EM path and stopping point (:mod:`peerscale.irt.mirt_em`), which
reproduces ``mirt(data, 1)``'s published estimates to 5e-8.

Importing this package is cheap; NumPy and SciPy load on first use.
"""

from __future__ import annotations

__all__ = ["fit_grm", "fit_irt", "IRTResult", "score_bank", "dif_lordif", "dif_lrt", "DIFResult",
           "IRTBank", "BankItem"]


def __getattr__(name):
    if name in ("fit_grm", "fit_irt", "IRTResult"):
        from . import result
        return getattr(result, name)
    if name == "score_bank":
        from .result import score_bank
        return score_bank
    if name in ("dif_lordif", "dif_lrt", "DIFResult"):
        from . import dif
        return getattr(dif, name)
    if name in ("IRTBank", "BankItem"):
        from . import bank
        return getattr(bank, name)
    raise AttributeError(name)
