"""The study design around a population model (:class:`Design`), shared by the generator and
model files."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Design:
    """The study around the population model (all optional but ``n`` and ``forms``)."""

    n: int
    forms: list
    dyad_forms: list = field(default_factory=list)
    waves: int = 1
    events: list | None = None
    redcap: bool = False
    follow_up: float = 1.0
    stability: float = 0.6
    gain: dict = field(default_factory=dict)        # bank (or "*") -> latent SD units per wave
    workers: int = 0
    icc: dict = field(default_factory=dict)         # bank (or "*") -> share of latent variance
    min_caseload: int = 2
    returned: float = 1.0
    agreement: dict = field(default_factory=dict)   # bank (or "*") -> worker/young person latent r
    leniency: float = 0.0
    shift: dict = field(default_factory=dict)       # bank (or "*") -> worker shift, SD units
    record_column: str = "record_id"
    record_prefix: str = "R"
    event_column: str | None = None
    worker_column: str = "worker_id"
    worker_prefix: str = "W"
    dyad_column: str = "dyad_id"
    dyad_prefix: str = "D"
    mcar: float | tuple = 0.0                       # rate, or (a, b) of a Beta propensity per respondent
    page_skip: float = 0.0
    not_opened: float = 0.0
    unverified: float = 0.0
    not_relevant: float | None = None               # overrides the population blocks' rate
    irt: bool = False
    latent: object = None                           # model.Latent (second-order structure), optional
