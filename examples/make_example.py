"""Write the bundled synthetic example exports: ``youth_export.csv`` and ``worker_export.csv``.

SYNTHETIC DATA: no real person is behind any row. The files look like REDCap raw exports of a
pilot (codes, not labels; one row per record and event; a ``<form>_complete`` column after each
form) so that ``peerscale score``, the psychometrics and the report can be tried at once::

    peerscale score examples/youth_export.csv --instrument pbr-y -o scores.csv

Design (``numpy.random.default_rng(SEED)``; output is byte-identical on every run):

* 300 young people (``Y001``...) at ``baseline_arm_1``; about 85% also at ``followup_arm_1``.
  Each has one dyad (``D001``...) with one of 40 workers (``W01``...); caseloads are uneven.
  Youth forms: pbr-y, act-y, out-y. Worker file: pbr-p and act-p, one row per dyad at
  baseline (a few workers did not return a rating).
* Responses come from a common-factor model. One latent factor per (bank, dimension) with
  correlations ``PHI``: the six PBR core factors correlate .50-.70, HOPE and CARE correlate
  .75-.85 with TRUST and VALID, activities and outcomes correlate with the relationship
  (activities -> relationship -> outcomes). A worker random effect carries a share ``ICC`` of
  the latent variance (young people nested in workers). Item response
  ``x* = lambda * eta + sqrt(1 - lambda^2) * e`` with lambda ~ U(.55, .80) (U(.50, .70) for
  reverse-keyed items, which usually load lower), cut into the response scale's codes at
  thresholds ``Phi^-1(BetaCDF(j / k))`` plus an item offset, so answers skew positive (mild
  ceiling). Reverse-keyed items (``reverse: true`` in the bank) are generated in keyed
  direction and written reversed, ``(min + max) - y``, as a respondent would answer them.
* Follow-up latent means are higher than baseline (``GAIN``); workers rate the relationship
  higher than young people do (``WORKER_SHIFT``) and agree with them only moderately
  (``WORKER_AGREEMENT``).
* Screening questions (items that other items ``require``, e.g. ``pbr_y_story_01``): answered
  Yes / No / Not sure in the shares ``SCREEN_SHARES``, more often Yes when the latent score of
  the dimension they gate is high; the items that require an answer the screen did not get are
  left blank, as REDCap's branching logic leaves them.
* Messiness: about 2% of answers blank (respondents differ in how much they skip), about 2%
  of forms with a whole page (one dimension's items) skipped, a few forms never opened (all
  items and ``_complete`` blank), and the activity forms' own "not relevant" missing code
  (9 in FREQ5), more often for activities that may not have happened yet. No other codes, so
  the files score with no extra options.

Items, dimensions, reverse flags and response scales are read from the item banks with
:func:`peerscale.load_instrument`, so the generator needs no change when items change; run it
again and commit the new CSVs (``tests/test_example.py`` checks they are current).

Usage: ``python examples/make_example.py [--out DIR]`` (default: this directory).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from scipy.stats import beta, norm

from peerscale import load_instrument

HERE = Path(__file__).resolve().parent
SEED = 20240111
N_YOUTH = 300
N_WORKERS = 40
P_FOLLOWUP = 0.85
P_WORKER_RETURNED = 0.96

YOUTH_FORMS = ("pbr-y", "act-y", "out-y")
WORKER_FORMS = ("pbr-p", "act-p")
ID_COLUMNS = ("record_id", "redcap_event_name", "dyad_id", "worker_id")
EVENTS = ("baseline_arm_1", "followup_arm_1")

# Latent structure, by bank (PBR, ACT, OUT) and dimension code.
CORE_R = (0.50, 0.70)                     # between the six PBR core dimensions
OVERLAP = {("HOPE", "TRUST"): 0.80, ("HOPE", "VALID"): 0.75,
           ("CARE", "VALID"): 0.85, ("CARE", "TRUST"): 0.82, ("CARE", "HOPE"): 0.72}
OPTIONAL_R = 0.60                         # optional and candidate dimensions with the core ones
WITHIN_R = {"ACT": (0.40, 0.60), "OUT": (0.50, 0.65)}
BETWEEN_R = {("ACT", "PBR"): 0.35, ("OUT", "PBR"): 0.40, ("ACT", "OUT"): 0.25}
SAME_CODE_R = {("OUT", "PBR"): 0.55}      # e.g. the HOPE outcome with the HOPE relationship dimension
ICC = {"PBR": 0.05, "ACT": 0.06, "OUT": 0.03}      # worker share of latent variance (young people)
FOLLOWUP_STABILITY = 0.60
GAIN = {"PBR": 0.25, "ACT": 0.15, "OUT": 0.35}     # follow-up minus baseline, latent SD units
WORKER_AGREEMENT = {"PBR": 0.45, "ACT": 0.55}      # worker latent from the young person's
WORKER_LENIENCY = 0.20                             # share of a worker's rating variance due to the worker
WORKER_SHIFT = 0.50                                # workers rate higher

# Shape of the answers of an average item: category j's upper bound is BetaCDF(j / k).
SKEW = {"PBR": (3.0, 1.3), "ACT": (2.0, 1.5), "OUT": (2.4, 1.5)}
LOADING = (0.55, 0.80)
LOADING_REVERSED = (0.50, 0.70)
ITEM_OFFSET_SD = 0.20
BLANK_PROPENSITY = (0.6, 32.0)            # Beta(a, b) per respondent: mean about 1.8% blanks
P_SKIPPED_PAGE = 0.02
P_NOT_OPENED = 0.01
P_UNVERIFIED = 0.03
NOT_RELEVANT_RATE = (0.005, 0.035)          # per activity dimension, doubled for low latent scores
SCREEN_SHARES = (0.72, 0.18, 0.10)          # screening questions: first, second, third code (Yes, No, Not sure)
SCREEN_LOADING = 0.50                       # how far a screen answer follows the gated dimension's latent score


def latent_correlations(factors: list[tuple[str, str]], rng, optional: set) -> np.ndarray:
    """Correlation matrix of the latent factors, made positive definite if needed; ``optional``
    holds the (bank, dimension) pairs the banks mark optional (HOPE, CARE, candidates)."""
    f = len(factors)
    phi = np.eye(f)
    for a in range(f):
        for b in range(a + 1, f):
            (bank_a, dim_a), (bank_b, dim_b) = factors[a], factors[b]
            if bank_a == bank_b == "PBR":
                r = OVERLAP.get((dim_a, dim_b)) or OVERLAP.get((dim_b, dim_a))
                if r is None:
                    r = OPTIONAL_R if {factors[a], factors[b]} & optional else rng.uniform(*CORE_R)
            elif bank_a == bank_b:
                r = rng.uniform(*WITHIN_R.get(bank_a, (0.4, 0.6)))
            else:
                pair = tuple(sorted((bank_a, bank_b)))
                r = BETWEEN_R.get(pair, 0.3)
                if dim_a == dim_b and pair in SAME_CODE_R:
                    r = SAME_CODE_R[pair]
            phi[a, b] = phi[b, a] = r
    values, vectors = np.linalg.eigh(phi)
    if values.min() < 0.05:
        phi = vectors @ np.diag(np.clip(values, 0.05, None)) @ vectors.T
        d = np.sqrt(np.diag(phi))
        phi = phi / np.outer(d, d)
    return phi


def thresholds(k: int, bank: str) -> np.ndarray:
    """k − 1 cut points on the N(0, 1) response scale giving the bank's skewed answer shape."""
    a, b = SKEW.get(bank, (2.0, 2.0))
    return norm.ppf(beta.cdf(np.arange(1, k) / k, a, b))


def form_name(instrument: str) -> str:
    return instrument.replace("-", "_")


def simulate_form(inst, bank: str, eta: np.ndarray, factor_index: dict, rng) -> tuple[list[str], np.ndarray]:
    """Answers (codes as float, NaN = blank) for every item of ``inst``; ``eta`` is n × factors."""
    n = eta.shape[0]
    items = list(inst.items.values())
    out = np.full((n, len(items)), np.nan)
    propensity = rng.beta(*BLANK_PROPENSITY, size=n)
    not_relevant_rate = {}
    gated = {}  # screening item -> the dimension of the first item that requires it
    for item in items:
        if item.requires is not None:
            gated.setdefault(item.requires.item, item.dimension)
    for j, item in enumerate(items):
        rs = item.response_scale
        codes = np.array(sorted(rs.codes))
        if item.id in gated:
            out[:, j] = screen_answers(codes, eta[:, factor_index[(bank, gated[item.id])]], rng)
            out[rng.random(n) < propensity, j] = np.nan
            continue
        lo, hi = LOADING_REVERSED if item.reverse else LOADING
        lam = rng.uniform(lo, hi)
        score = eta[:, factor_index[(bank, item.dimension)]]
        xstar = lam * score + np.sqrt(1 - lam ** 2) * rng.standard_normal(n)
        cuts = thresholds(len(codes), bank) + rng.normal(0, ITEM_OFFSET_SD)
        keyed = codes[np.searchsorted(cuts, xstar)]
        out[:, j] = rs.reverse(keyed) if item.reverse else keyed
        numeric_missing = [float(c) for c in rs.missing if isinstance(c, (int, float))]
        if numeric_missing:
            rate = not_relevant_rate.setdefault(item.dimension, rng.uniform(*NOT_RELEVANT_RATE))
            p = np.where(score < 0, 2 * rate, rate / 2)
            out[rng.random(n) < p, j] = numeric_missing[0]
        out[rng.random(n) < propensity, j] = np.nan
    position = {i.id: j for j, i in enumerate(items)}
    for j, item in enumerate(items):
        if item.requires is not None:  # branching logic: not asked unless the screen allowed it
            shown = np.isin(out[:, position[item.requires.item]], [float(a) for a in item.requires.answers])
            out[~shown, j] = np.nan
    dims = sorted({i.dimension for i in items if i.dimension})
    complete = np.where(rng.random(n) < P_UNVERIFIED, 1.0, 2.0)
    skipped = rng.random(n) < P_SKIPPED_PAGE
    for r in np.flatnonzero(skipped):
        page = dims[rng.integers(len(dims))]
        out[r, [j for j, i in enumerate(items) if i.dimension == page]] = np.nan
    complete[skipped | (np.isnan(out).mean(axis=1) > 0.2)] = 0.0
    never = rng.random(n) < P_NOT_OPENED
    out[never] = np.nan
    complete[never] = np.nan
    return [i.id for i in items] + [f"{form_name(inst.name)}_complete"], np.column_stack([out, complete])


def screen_answers(codes: np.ndarray, score: np.ndarray, rng) -> np.ndarray:
    """Answers to a screening question: codes in the shares ``SCREEN_SHARES`` (first code the
    most likely), the first code more likely for a high latent ``score``."""
    shares = np.array(SCREEN_SHARES[:len(codes)], dtype=float)
    shares /= shares.sum()
    z = SCREEN_LOADING * score + np.sqrt(1 - SCREEN_LOADING ** 2) * rng.standard_normal(len(score))
    cuts = norm.ppf(1 - np.cumsum(shares)[:-1])  # descending: above the first cut -> first code
    return codes[np.searchsorted(-cuts, -z)]


def worker_assignment(rng) -> np.ndarray:
    """Worker index (0-based) of each young person; uneven caseloads, at least two each."""
    weights = rng.gamma(4.0, size=N_WORKERS)
    extra = rng.multinomial(N_YOUTH - 2 * N_WORKERS, weights / weights.sum())
    caseload = extra + 2
    return rng.permutation(np.repeat(np.arange(N_WORKERS), caseload))


def standardised(x: np.ndarray) -> np.ndarray:
    """Mean 0, SD 1: with only 40 workers, keeps the realised worker variance at its target."""
    return (x - x.mean()) / x.std()


def write_csv(path: Path, header: list[str], ids: list[tuple], values: np.ndarray) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for row_ids, row in zip(ids, values):
            w.writerow(list(row_ids) + ["" if np.isnan(v) else str(int(v)) for v in row])


def make_example(out_dir: Path = HERE) -> list[Path]:
    rng = np.random.default_rng(SEED)
    youth = {name: load_instrument(name) for name in YOUTH_FORMS}
    worker = {name: load_instrument(name) for name in WORKER_FORMS}
    everything = {**youth, **worker}
    factors = sorted({(inst.bank, i.dimension) for inst in everything.values() for i in inst.items.values()
                      if i.dimension})
    factor_index = {f: k for k, f in enumerate(factors)}
    optional = {(inst.bank, code) for inst in everything.values() for code, d in inst.dimensions.items()
                if d.get("optional")}
    phi = latent_correlations(factors, rng, optional)
    chol = np.linalg.cholesky(phi)
    bank_of = np.array([bank for bank, _ in factors])
    icc = np.array([ICC.get(b, 0.0) for b in bank_of])
    gain = np.array([GAIN.get(b, 0.0) for b in bank_of])

    def draw(n):
        return rng.standard_normal((n, len(factors))) @ chol.T

    worker_of = worker_assignment(rng)
    worker_effect = standardised(rng.standard_normal(N_WORKERS))[worker_of][:, None]
    trait = draw(N_YOUTH)
    base = np.sqrt(icc) * worker_effect + np.sqrt(1 - icc) * trait
    change = FOLLOWUP_STABILITY * trait + np.sqrt(1 - FOLLOWUP_STABILITY ** 2) * draw(N_YOUTH)
    follow = np.sqrt(icc) * worker_effect + np.sqrt(1 - icc) * change + gain
    has_followup = rng.random(N_YOUTH) < P_FOLLOWUP

    record = [f"Y{i + 1:03d}" for i in range(N_YOUTH)]
    dyad = [f"D{i + 1:03d}" for i in range(N_YOUTH)]
    wid = [f"W{w + 1:02d}" for w in worker_of]

    # youth file: baseline and follow-up rows, interleaved per record as REDCap exports them
    rows = [(i, 0) for i in range(N_YOUTH)] + [(i, 1) for i in np.flatnonzero(has_followup)]
    rows.sort()
    eta = np.vstack([base[i] if e == 0 else follow[i] for i, e in rows])
    header, blocks = list(ID_COLUMNS), []
    for name, inst in youth.items():
        cols, values = simulate_form(inst, inst.bank, eta, factor_index, rng)
        header += cols
        blocks.append(values)
    ids = [(record[i], EVENTS[e], dyad[i], wid[i]) for i, e in rows]
    youth_path = out_dir / "youth_export.csv"
    write_csv(youth_path, header, ids, np.hstack(blocks))

    # worker file: the worker's view of each dyad at baseline
    leniency = standardised(rng.standard_normal(N_WORKERS))[worker_of][:, None]
    agreement = np.array([WORKER_AGREEMENT.get(b, 0.0) for b in bank_of])
    own = agreement * base + np.sqrt(1 - agreement ** 2) * draw(N_YOUTH)
    eta_w = np.sqrt(WORKER_LENIENCY) * leniency + np.sqrt(1 - WORKER_LENIENCY) * own + WORKER_SHIFT
    returned = np.flatnonzero(rng.random(N_YOUTH) < P_WORKER_RETURNED)
    header, blocks = list(ID_COLUMNS), []
    for name, inst in worker.items():
        cols, values = simulate_form(inst, inst.bank, eta_w[returned], factor_index, rng)
        header += cols
        blocks.append(values)
    ids = [(record[i], EVENTS[0], dyad[i], wid[i]) for i in returned]
    worker_path = out_dir / "worker_export.csv"
    write_csv(worker_path, header, ids, np.hstack(blocks))
    return [youth_path, worker_path]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="directory to write the CSV files into")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in make_example(args.out):
        print(path)


if __name__ == "__main__":
    main()
