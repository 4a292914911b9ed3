"""Run the exported scoring rules where they run (PSPP, Rscript, a REDCap calc evaluator) and
compare every score with peerscale's. Used by tests/test_rules_export.py and by
benchmarks/rules_export_parity.py (which records the largest deviations)."""

from __future__ import annotations

import csv
import io
import math
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd

from conftest import ROOT
from peerscale.rules_export import describe, export_text
from peerscale.scoring import score_data

TOL = 1e-9
EXAMPLES = [ROOT / "examples" / "youth_export.csv", ROOT / "examples" / "worker_export.csv"]


# --------------------------------------------------------------------------- data

def example_rows(inst) -> pd.DataFrame | None:
    """The bundled example export holding all of the instrument's items (types as read)."""
    items = inst.scale_items()
    for path in EXAMPLES:
        df = pd.read_csv(path, dtype={"record_id": str})
        if all(i in df.columns for i in items):
            ids = [c for c in ("record_id", "redcap_event_name") if c in df.columns]
            return df[ids + items]
    return None


def make_responses(inst, n: int, seed: int, *, labels: bool = False, invalid: bool = False) -> pd.DataFrame:
    """Answers with blanks, numeric and text missing codes, reverse-keyed items and rows with too
    few answers (answer rates from 100% down to 0%); optionally labels and text as a label-mode
    or hand-typed export has them, and values that are not answers. Columns are numbers unless
    they hold text (a text missing code, labels, a typo)."""
    rng = np.random.default_rng(seed)
    rate = rng.choice([1, 1, 1, 0.95, 0.9, 0.8, 0.75, 0.6, 0.5, 0.3, 0.1, 0], n)
    cols: dict[str, object] = {"record_id": [f"R{seed}-{i:04d}" for i in range(n)]}
    if "wave" in inst.id_columns:
        cols["wave"] = rng.choice(["baseline", "6 months"], n)
    for iid in inst.scale_items():
        rs = inst.items[iid].response_scale
        if rs.codes:
            codes = np.fromiter(rs.codes, dtype=float)
            values = codes[rng.integers(len(codes), size=n)]
        else:
            values = np.round(rng.uniform(rs.min, rs.max, n) * 4) / 4
        col = values.astype(object)
        missing = [None] + list(rs.missing)
        gone = rng.random(n) >= rate
        col[gone] = [missing[k] for k in rng.integers(len(missing), size=int(gone.sum()))]
        if labels:
            for j in np.flatnonzero(rng.random(n) < 0.3):
                v = col[j]
                if v is None:
                    continue
                if isinstance(v, float) and v in rs.codes:
                    col[j] = (rs.codes[v], f"  {rs.codes[v].upper()} ", f"{v:.1f}")[rng.integers(3)]
                elif v in rs.missing:
                    col[j] = rs.missing[v]
        if invalid:
            for j in np.flatnonzero(rng.random(n) < 0.02):
                v = [7.0, 0.0, 2.5, -3.0, 6.5, 99.5, "n/a?"][rng.integers(7 if labels else 6)]
                if not isinstance(v, str) and (v in rs.codes if rs.codes else rs.min <= v <= rs.max):
                    v = 99.5
                col[j] = v
        series = pd.Series(col, dtype=object)
        numeric = pd.to_numeric(series, errors="coerce")
        cols[iid] = numeric if (numeric.notna() | series.isna()).all() else series
    return pd.DataFrame(cols)


def peerscale_scores(inst, data: pd.DataFrame, **kw) -> pd.DataFrame:
    return score_data(data, inst, **kw).scores


# --------------------------------------------------------------------------- comparison

def compare(inst, expected: pd.DataFrame, got: pd.DataFrame, what: str) -> float:
    """Assert every score column equal (numbers to 1e-9, counts and bands exactly); return the
    largest absolute difference seen."""
    rules = describe(inst)
    worst = 0.0
    assert len(got) == len(expected), f"{what}: {len(got)} rows, expected {len(expected)}"
    for s in rules.scores:
        for col, role in s.columns():
            assert col in got.columns, f"{what}: column {col} missing"
            e, g = expected[col], got[col]
            if role == "band":
                e_txt = e.astype(object).where(e.notna(), None).tolist()
                g_txt = [None if (v is None or (isinstance(v, float) and math.isnan(v)) or v == "") else str(v)
                         for v in g.tolist()]
                bad = [j for j, (a, b) in enumerate(zip(e_txt, g_txt)) if a != b]
                assert not bad, f"{what}: {col} row {bad[0] + 1}: {g_txt[bad[0]]!r}, peerscale {e_txt[bad[0]]!r}"
                continue
            a = pd.to_numeric(e, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            b = pd.to_numeric(g, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            nan_a, nan_b = np.isnan(a), np.isnan(b)
            if (nan_a != nan_b).any():
                j = int(np.flatnonzero(nan_a != nan_b)[0])
                raise AssertionError(f"{what}: {col} row {j + 1}: {b[j]!r}, peerscale {a[j]!r}")
            if (~nan_a).any():
                diff = float(np.max(np.abs(a[~nan_a] - b[~nan_a])))
                tol = 0 if role == "n" else TOL
                assert diff <= tol, f"{what}: {col} differs by {diff:g}"
                worst = max(worst, diff)
    return worst


# --------------------------------------------------------------------------- PSPP

def pspp_scores(inst, data: pd.DataFrame, tmp: Path) -> pd.DataFrame:
    """Run the exported .sps in PSPP (batch mode) on ``data`` saved as .sav (items numeric, as
    SPSS holds them: text such as UNK becomes system-missing); bands as their value labels."""
    import pyreadstat

    from peerscale.io import write_table

    rules = describe(inst)
    (tmp / "rules.sps").write_text(export_text(inst, "spss"), encoding="utf-8")
    frame = data[["record_id"]].astype(str).copy()
    for iid in rules.items:
        frame[iid] = pd.to_numeric(data[iid].astype(object).where(data[iid].notna(), None), errors="coerce")
    write_table(frame, tmp / "in.sav", force=True)
    # PSPP in batch mode with its extensions off (-x compatible); the rules inserted once as
    # batch syntax and once as interactive syntax (SPSS Statistics' syntax window), same result
    driver = "".join(f"GET FILE='{tmp / 'in.sav'}'.\nINSERT FILE='{tmp / 'rules.sps'}' SYNTAX={mode} ERROR=STOP.\n"
                     f"SAVE OUTFILE='{tmp / f'out_{mode}.sav'}'.\n" for mode in ("BATCH", "INTERACTIVE"))
    (tmp / "run.sps").write_text(driver)
    proc = subprocess.run(["pspp", "-b", "-x", "compatible", str(tmp / "run.sps"), "-o", str(tmp / "pspp.txt")],
                          capture_output=True, text=True, timeout=120)
    log = proc.stdout + proc.stderr + (tmp / "pspp.txt").read_text(errors="replace")
    assert proc.returncode == 0 and "error" not in log.lower() and "warning" not in log.lower(), log[-3000:]
    out, meta = pyreadstat.read_sav(str(tmp / "out_BATCH.sav"), user_missing=False)
    interactive, _meta = pyreadstat.read_sav(str(tmp / "out_INTERACTIVE.sav"), user_missing=False)
    assert out.equals(interactive)
    for s in rules.scores:
        for col, role in s.columns():
            assert meta.column_names_to_labels[col] == s.column_label(role)[:255], col
        if s.bands is not None:
            labels = meta.variable_value_labels[f"{s.name}_band"]
            out[f"{s.name}_band"] = [None if v != v else labels[v] for v in out[f"{s.name}_band"]]
    return out


# --------------------------------------------------------------------------- R

R_DRIVER = r'''
source("{rules}")
for (case in c({cases})) {{
  parts <- strsplit(case, ":")[[1]]
  d <- read.csv(paste0(parts[1], ".csv"))
  codes <- if (length(parts) > 2) strsplit(parts[3], ",")[[1]] else character(0)
  res <- tryCatch(suppressWarnings({fn}(d, on_invalid = parts[2], missing_codes = codes)),
                  error = function(e) conditionMessage(e))
  if (is.character(res)) {{
    writeLines(res, paste0(parts[1], ".error.txt"))
  }} else {{
    for (col in names(res)) if (is.double(res[[col]])) {{
      res[[col]] <- ifelse(is.na(res[[col]]), NA, sprintf("%.17g", res[[col]]))
    }}
    write.csv(res, paste0(parts[1], ".out.csv"), row.names = FALSE, na = "")
  }}
}}
'''


def r_scores(inst, cases: dict[str, tuple], tmp: Path) -> dict[str, pd.DataFrame | str]:
    """Source the exported R script and call ``score_<name>(read.csv(...), on_invalid,
    missing_codes)`` per case ``name: (data, on_invalid[, project missing codes])`` in one
    Rscript run; a data frame per case, or the error message when it stopped."""
    rules = describe(inst)
    (tmp / "rules.R").write_text(export_text(inst, "r"), encoding="utf-8")
    for name, (data, *_rest) in cases.items():
        data.to_csv(tmp / f"{name}.csv", index=False)
    driver = R_DRIVER.format(rules="rules.R", fn=rules.function_name, cases=", ".join(
        f'"{n}:{":".join([c[1]] + ([",".join(c[2])] if len(c) > 2 else []))}"' for n, c in cases.items()))
    (tmp / "driver.R").write_text(driver)
    proc = subprocess.run(["Rscript", "--vanilla", "driver.R"], cwd=tmp, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out: dict[str, pd.DataFrame | str] = {}
    for name in cases:
        err = tmp / f"{name}.error.txt"
        out[name] = err.read_text().strip() if err.exists() else pd.read_csv(
            tmp / f"{name}.out.csv", dtype=str, keep_default_na=False)
    return out


# --------------------------------------------------------------------------- REDCap

def redcap_scores(inst, data: pd.DataFrame, project_missing=()) -> pd.DataFrame:
    """Evaluate the dictionary's calc fields (tests/redcap_calc.py) on each record of ``data``
    (raw codes, as a REDCap project holds them); band codes mapped to their labels."""
    from redcap_calc import run_calcs

    from peerscale.io.dictionary import build_dictionary, redcap_field_name
    from peerscale.rules_export import redcap_names

    rules = describe(inst)
    from redcap_calc import parse

    fields = [(f.field_name, parse(f.select_choices_or_calculations))
              for f in build_dictionary(inst, with_calc=True).fields if f.field_type == "calc"]
    names = redcap_names(rules)
    items = {iid: redcap_field_name(iid) for iid in rules.items}
    rows = []
    for rec in data[list(items)].itertuples(index=False, name=None):
        values = run_calcs(fields, dict(zip(items.values(), rec)), project_missing)
        rows.append({col: values.get(names[col][0], "") for col in rules.column_names()})
    out = pd.DataFrame(rows, columns=rules.column_names())
    for s in rules.scores:
        if s.bands is not None:
            labels = [c[0] for c in s.bands.cuts]
            out[f"{s.name}_band"] = [None if v == "" else labels[int(v) - 1] for v in out[f"{s.name}_band"]]
        if s.norms is not None and not s.norms.has_se:
            out[f"{s.name}_t_se"] = ""   # no calc field for an SE the table does not give
    return out


def read_import_file(path) -> tuple[list[str], list[dict]]:
    text = Path(path).read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    return header, [dict(zip(header, row)) for row in reader]
