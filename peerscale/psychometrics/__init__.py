"""Psychometrics with R parity: reliability, item analysis, EFA and CFA.

Every public function is available here, each matching an R call (psych 2.2.9, lavaan 0.6-14,
semTools 0.5-6); results have ``.to_frame()`` and print as a short readable summary::

    >>> from peerscale.psychometrics import cronbach_alpha, omega, fit_efa, fit_cfa, fit_measures

=====================================  ==========================================
``cronbach_alpha(x)``                  ``psych::alpha(x)``
``alpha_from_correlation(R)``          ``psych::alpha(R)``
``ordinal_alpha(x)``                   ``psych::alpha(psych::polychoric(x)$rho)``
``feldt_ci(alpha, n, k)``              ``psych::alpha.ci(alpha, n, k)``
``omega(x, n_factors)``                ``psych::omega(x, nfactors)``
``item_analysis(x, keys)``             ``psych::describe`` + ``psych::alpha`` item statistics
``polychoric_matrix(x)``               ``psych::polychoric(x)``
``fit_efa(x, n_factors)``              ``psych::fa(x, nfactors)``
``parallel_analysis(x)``               ``psych::fa.parallel(x)``
``kmo(x)``, ``bartlett_sphericity(x)`` ``psych::KMO``, ``psych::cortest.bartlett``
``icc(long, ...)``, ``icc_wide(x)``    ``psych::ICC`` (via pingouin)
``fit_cfa(model, data)``               ``lavaan::cfa(model, data)``
``fit_measures(fit)``                  ``lavaan::fitMeasures(fit)``
``standardized_solution(fit)``         ``lavaan::standardizedSolution(fit)``
``modification_indices(fit)``          ``lavaan::modindices(fit)``
``residual_correlations(fit)``         ``lavaan::residuals(fit, type = "cor")``
``measurement_invariance(...)``        ``semTools::measurementInvariance``
``compare_models(a, b)``               ``lavaan::lavTestLRT(a, b)``
=====================================  ==========================================

Importing this package loads NumPy, pandas and SciPy (the command line imports it only for
the analysis commands).
"""

from .efa import EFAResult, fit_efa, rotate
from .factorability import BartlettResult, KMOResult, bartlett_sphericity, kmo
from .icc import ICCResult, icc, icc_wide
from .itemstats import ItemAnalysis, item_analysis, kurtosis, skewness
from .omega import OmegaResult, omega
from .parallel import ParallelResult, parallel_analysis
from .polychoric import PolychoricResult, polychoric_matrix, smooth_correlation
from .reliability import AlphaResult, MatrixAlpha, alpha_from_correlation, cronbach_alpha, feldt_ci, ordinal_alpha
# the CFA engine (its modules are being split along lavaan's steps; these names stay)
from .cfa import CFAResult, fit_cfa, modification_indices, residual_correlations, standardized_solution  # noqa: E402, I001
from .fit import fit_measures  # noqa: E402
from .invariance import compare_models, measurement_invariance  # noqa: E402
from .lavaan_syntax import parse_model  # noqa: E402

__all__ = [
    "cronbach_alpha", "alpha_from_correlation", "ordinal_alpha", "feldt_ci", "AlphaResult", "MatrixAlpha",
    "omega", "OmegaResult", "item_analysis", "ItemAnalysis", "skewness", "kurtosis",
    "polychoric_matrix", "smooth_correlation", "PolychoricResult", "fit_efa", "rotate", "EFAResult",
    "parallel_analysis", "ParallelResult", "kmo", "bartlett_sphericity", "KMOResult", "BartlettResult",
    "icc", "icc_wide", "ICCResult", "fit_cfa", "CFAResult", "fit_measures", "standardized_solution",
    "modification_indices", "residual_correlations", "measurement_invariance", "compare_models", "parse_model",
]
