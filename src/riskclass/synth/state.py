"""The entity state the synthetic city's event streams share, and which stream owns each part of it.

Every array is indexed by entity (position in the registry). A stream reads any of it but writes only what it
owns; the few writes across owners are listed with the attribute. The latent risk and the violation chain are
owned by the driver (simulate.py); each event stream lives in ``synth/streams/``.
"""

from __future__ import annotations

import numpy as np

from riskclass.synth.calendar import Calendar
from riskclass.synth.city import Registry
from riskclass.synth.events import EventLog

NAT = np.datetime64("NaT", "D")
DAY = np.timedelta64(1, "D")
# tables whose rows the monthly simulation emits as events (the rest are built from final state)
EVENT_TABLES = (
    "changes",
    "annual_reports",
    "equity_actions",
    "penalties",
    "dishonest_debtors",
    "credit_repairs",
    "inspections",
    "complaints",
    "public_opinion",
    "honours",
)
# record-id sequences (one counter per kind of record, numbered across the whole window)
_SEQUENCES = ("pen", "abn", "ser", "dd", "cr", "jc", "cmp", "op", "hon", "chg", "eq", "lic", "role")


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class CityState:
    """What the monthly streams share. One random generator for all of them: the order of the draws is the
    order of the streams in ``CitySimulation.step``, so moving a draw changes every later number."""

    def __init__(self, reg: Registry, sp: dict, cal: Calendar, rng: np.random.Generator):
        self.reg, self.sp, self.cal, self.rng = reg, sp, cal, rng
        self.risk, self.ev, self.insp = sp["risk"], sp["events"], sp["inspections"]
        n = reg.n
        c = reg.cols
        # fixed attributes (registry)
        self.sections = np.array([x[0] for x in c["industry_code"]], dtype=object)
        self.etype = c["entity_type"]
        self.is_shell = reg.shell_cluster >= 0
        self.established_t = reg.established_t
        # violation chain — simulate.py (inspections end some violations: detected_stop_prob)
        self.V = np.zeros(n, dtype=bool)
        self.vtype = np.full(n, "other", dtype=object)
        self.a = np.zeros(n)  # AR(1) drift of the latent risk
        # registry lifecycle — streams/registry.py (changes, revocation and deregistration)
        self.exited = reg.closed_before_window.copy()
        self.status = c["status"].copy()
        self.status_date = c["status_date"].copy()
        self.capital = c["registered_capital"].astype(float).copy()
        self.legal_rep = reg.legal_rep.copy()
        # penalties — streams/penalties.py (inspections set pending_penalty_t for the cases they transfer)
        self.n_pen = np.zeros(n)
        self.last_pen_t = np.full(n, -999)
        self.pending_penalty_t = np.full(n, -1)  # month a case transferred by an inspection is decided
        # complaints — streams/public.py
        self.subst = np.zeros((12, n), dtype=np.int8)  # substantiated complaints, ring buffer by month
        self.any_complaint = np.zeros((12, n), dtype=np.int8)
        # annual reports — streams/reports.py (simulate.py marks the reports missing before the window)
        self.missing_years = np.zeros(n, dtype=np.int64)  # bit k set: report for year base_year + k not filed
        self.base_year = cal.year(0) - 5
        # dishonest debtors — streams/debtors.py
        self.debtor_open = np.zeros(n, dtype=bool)
        self.debtor_end_t = np.full(n, 10**6)
        # abnormal-operation and serious-violation lists — streams/listings.py (credit repairs close serious ones)
        self.serious_open = np.zeros(n, dtype=bool)
        self.l_entity = np.zeros(0, dtype=np.int64)  # abnormal listings as parallel arrays (few relative to n)
        self.l_reason = np.zeros(0, dtype=object)
        self.l_date = np.zeros(0, dtype="datetime64[D]")
        self.l_open = np.zeros(0, dtype=bool)
        self.l_removal_date = np.zeros(0, dtype="datetime64[D]")
        self.l_removal_reason = np.zeros(0, dtype=object)
        self.serious = EventLog()
        # credit repairs — streams/repairs.py
        self.repaired_serious: dict[str, np.datetime64] = {}  # serious listing id → credit-repair date
        self.repaired_penalties: set[str] = set()
        # emitted records: each event table by the stream of that name; role changes by streams/registry.py;
        # the monthly truth by simulate.py
        self.logs = {name: EventLog() for name in EVENT_TABLES}
        self.role_changes = EventLog()
        self.truth = EventLog()
        # a shard of a large city numbers its records in its own range (synth/shard.py)
        self.seq = dict.fromkeys(_SEQUENCES, reg.shard.base)

    def ids(self, key: str, n: int, fmt: str, year: int) -> np.ndarray:
        """The next ``n`` record ids of sequence ``key``, formatted with the year."""
        start = self.seq[key]
        self.seq[key] += n
        return np.array([fmt.format(year=year, seq=s) for s in range(start + 1, start + n + 1)], dtype=object)

    def check_numbering(self) -> None:
        """Refuse a shard whose records outgrew its range of numbers (they would collide with the next shard's)."""
        for key, last in self.seq.items():
            self.reg.shard.first(last - self.reg.shard.base, f"records of sequence {key!r}")

    def clip(self, dates: np.ndarray) -> np.ndarray:
        """Dates after the snapshot are not known yet: clip them to it."""
        return np.minimum(dates, self.cal.snapshot_date)
