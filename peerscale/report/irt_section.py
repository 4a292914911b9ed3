"""The report's item response theory section: for every scale with a frozen ``irt:`` bank,
the distribution of theta in the data, the bank's test information and SE across theta
(figure), and the EAP sum-score conversion table for paper forms."""

from __future__ import annotations

import numpy as np

from .blocks import Figure, Para, Section, Table, f2


def collect_irt(result, instrument, mask) -> list[dict]:
    """Numbers for the section (empty when the instrument has no irt: block)."""
    from ..irt.model import Grid
    from ..irt.result import information_frame, sum_table

    out = []
    for name, bank in instrument.irt.items():
        a, d, n_cat = bank.arrays()
        theta = np.round(np.arange(-4, 4.001, 0.1), 10)
        info = information_frame(a, d, bank.link, bank.item_ids, theta)
        cats = [list(i.categories) for i in bank.items]
        table = sum_table(a, d, n_cat, bank.link, cats, Grid.make(bank.points, *bank.range), bank.mean, bank.sd ** 2)
        col = result.scores.get(f"{name}_theta")
        th = np.asarray(col, dtype=float)[mask] if col is not None else np.array([])
        th = th[np.isfinite(th)]
        out.append({"scale": name, "model": bank.model, "link": bank.link, "method": bank.method,
                    "n_items": len(bank.items), "calibration": dict(bank.calibration),
                    "theta": theta.tolist(), "test": info["test"].tolist(), "se": info["se"].tolist(),
                    "n_scored": int(th.size), "mean": float(th.mean()) if th.size else None,
                    "sd": float(th.std(ddof=1)) if th.size > 1 else None,
                    "table": table[["raw_sum", "theta", "se", "t", "t_se"]].to_dict("records")})
    return out


def irt_section(r) -> Section:
    blocks = [Para("Theta scores come from frozen item parameters (the scoring file's irt: block), not from "
                   "this sample: any subset of a scale's items gives a score with its own standard error. "
                   "T = 50 + 10 theta on the calibration sample's metric.", "lead")]
    for s in r.irt:
        cal = s["calibration"]
        blocks.append(Para(f"**{s['scale']}**: {s['model']} model ({s['link']} link), {s['n_items']} items, "
                           f"{s['method']} scores; calibrated on {cal.get('n', '?')} respondents"
                           f"{', ' + str(cal['sample']) if cal.get('sample') else ''}"
                           f"{', ' + str(cal['date']) if cal.get('date') else ''}. In these data {s['n_scored']} "
                           f"respondents were scored, theta mean {f2(s['mean'])}, SD {f2(s['sd'])}."))
        i = int(np.argmax(s["test"]))
        desc = (f"Test information of {s['scale']} peaks at {s['test'][i]:.2f} at theta {s['theta'][i]:.1f} "
                f"(SE {s['se'][i]:.2f}); at theta -2 it is {s['test'][20]:.2f} and at +2 {s['test'][60]:.2f}.")
        blocks.append(Figure("irt_information", {"theta": s["theta"], "test": s["test"], "se": s["se"],
                                                 "scale": s["scale"]},
                             f"{s['scale']}: test information and SE", desc,
                             f"Test information (solid) and the SE of theta (dashed) for {s['scale']}.",
                             f"irt-{s['scale']}"))
        blocks.append(Table(f"{s['scale']}: EAP theta and T for each summed score (complete form)",
                            ["raw sum", "theta", "SE", "T", "T SE"],
                            [[f"{row['raw_sum']:g}", f2(row["theta"]), f2(row["se"]), f"{row['t']:.1f}",
                              f"{row['t_se']:.1f}"] for row in s["table"]], {0, 1, 2, 3, 4}))
    return Section("irt", "Item response theory", blocks)
