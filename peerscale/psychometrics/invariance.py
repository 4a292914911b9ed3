"""Comparing nested models and multigroup measurement invariance.

- :func:`compare_models` is ``lavaan::lavTestLRT``: models sorted by df, each compared with
  the previous (less constrained) one by the χ² difference ``ΔT = T_1 − T_0`` on
  ``Δdf = df_1 − df_0``, with ``RMSEA_Δ = √G·√(max(ΔT − Δdf, 0)/(N·Δdf))``. For MLR the
  difference is Satorra & Bentler's (2001) scaled difference as lavaan's default
  ``method="satorra.bentler.2001"``: ``c_Δ = (df_1 c_1 − df_0 c_0)/Δdf``, ``ΔT = (T_1 − T_0)/c_Δ``.
- :func:`measurement_invariance` fits configural (same pattern), metric (equal loadings)
  and scalar (equal loadings and intercepts; latent means free beyond the first group)
  models across the groups of a column, as ``semTools::measurementInvariance`` does with
  lavaan's ``group.equal``, and reports each step's fit, the χ² difference test against the
  previous step and ΔCFI, ΔRMSEA (Cheung & Rensvold 2002 suggest ΔCFI ≤ −.01 signals
  non-invariance; Chen 2007 adds ΔRMSEA ≥ .015).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from .cfa import CFAResult, fit_cfa
from .fit import fit_measures

LEVELS = {"configural": (), "metric": ("loadings",), "scalar": ("loadings", "intercepts")}


def compare_models(*fits: CFAResult, names: list[str] | None = None) -> pd.DataFrame:
    """χ² difference tests between nested models (see module docstring)."""
    if len(fits) < 2:
        raise ValueError("compare at least two models")
    if any(f.estimator == "DWLS" for f in fits):
        from ..errors import PeerscaleError
        raise PeerscaleError("χ² difference tests of DWLS (WLSMV) fits need lavaan's DIFFTEST-type "
                             "adjustment, which peerscale does not implement",
                             hint="compare ordinal models by their fit indices, or use ML/MLR")
    names = names or [f"model{i + 1}" for i in range(len(fits))]
    order = sorted(range(len(fits)), key=lambda i: fits[i].df)
    rows = []
    prev = None
    for i in order:
        f = fits[i]
        fm = fit_measures(f)
        row = {"model": names[i], "df": f.df, "aic": fm["aic"], "bic": fm["bic"],
               "chisq": f.chisq, "chisq_diff": np.nan, "df_diff": np.nan,
               "pvalue": np.nan, "rmsea_diff": np.nan}
        if prev is not None:
            ddf = f.df - prev.df
            dt = f.chisq - prev.chisq
            if f.estimator == "MLR" and prev.estimator == "MLR" and ddf > 0:
                c1, c0 = f.scaling["c"], prev.scaling["c"]
                cd = (f.df * c1 - prev.df * c0) / ddf
                dt = dt / cd
                row["scaling_diff"] = cd
            if ddf > 0:
                row.update(chisq_diff=dt, df_diff=ddf, pvalue=float(special.chdtrc(ddf, dt)),
                           rmsea_diff=float(np.sqrt(max(dt - ddf, 0) / (f.n * ddf))
                                            * np.sqrt(f.spec.n_groups)))
        rows.append(row)
        prev = f
    return pd.DataFrame(rows).set_index("model")


def measurement_invariance(model, data: pd.DataFrame, group: str, *, estimator: str = "ML",
                           levels=("configural", "metric", "scalar"), std_lv: bool = False,
                           orthogonal: bool = False, missing: str = "listwise",
                           ) -> tuple[pd.DataFrame, dict[str, CFAResult]]:
    """Fit the invariance sequence and return ``(table, fits)``; the table has one row per
    level with npar, chisq, df, pvalue, cfi, tli, rmsea (+ CI), srmr, aic, bic and, from
    the second level on, ``chisq_diff``, ``df_diff``, ``pvalue_diff``, ``delta_cfi`` and
    ``delta_rmsea`` against the previous level. With MLR, chisq/cfi/rmsea are the scaled
    (``*_scaled``) versions and the difference test is Satorra–Bentler scaled."""
    unknown = [lv for lv in levels if lv not in LEVELS]
    if unknown:
        from ..errors import PeerscaleError
        raise PeerscaleError(f"unknown invariance level {unknown[0]!r}",
                             hint=f"use {', '.join(LEVELS)}")
    fits = {lv: fit_cfa(model, data, group=group, estimator=estimator, std_lv=std_lv, missing=missing,
                        orthogonal=orthogonal, group_equal=LEVELS[lv]) for lv in levels}
    robust = estimator.upper() == "MLR"
    rows = []
    for k, lv in enumerate(levels):
        fm = fit_measures(fits[lv])
        sfx = "_scaled" if robust else ""
        row = {"level": lv, "npar": fm["npar"], "chisq": fm["chisq" + sfx], "df": fm["df"],
               "pvalue": fm["pvalue" + sfx], "cfi": fm["cfi" + sfx], "tli": fm["tli" + sfx],
               "rmsea": fm["rmsea" + sfx], "rmsea_ci_lower": fm["rmsea_ci" + sfx][0],
               "rmsea_ci_upper": fm["rmsea_ci" + sfx][1], "srmr": fm["srmr"],
               "aic": fm["aic"], "bic": fm["bic"]}
        if k > 0:
            cmp = compare_models(fits[levels[k - 1]], fits[lv], names=[levels[k - 1], lv])
            last = cmp.loc[lv]
            row.update(chisq_diff=last["chisq_diff"], df_diff=last["df_diff"],
                       pvalue_diff=last["pvalue"],
                       delta_cfi=row["cfi"] - rows[-1]["cfi"],
                       delta_rmsea=row["rmsea"] - rows[-1]["rmsea"])
        rows.append(row)
    return pd.DataFrame(rows).set_index("level"), fits
