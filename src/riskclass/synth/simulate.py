"""Monthly simulation of the synthetic city: latent risk, true violations, and the event streams in order.

Per entity i and month t (logit scale):

    r[i,t] = base[i] + young · (age at t < 2 years) + a[i,t] + contagion · (share of related entities violating at t-1)
             + penalty_history · log(1 + penalties so far)
    a[i,t] = ρ · a[i,t-1] + ε,   ε ~ N(0, σ²)                       (slow drift)
    P(violating[i,t]) = sigmoid(r[i,t] + persistence · violating[i,t-1])

Violations exist whether or not anyone looks. Complaints, penalties, listings, debtor records,
changes and honours are drawn from r and the violation state; inspections reveal the state only
for the entities drawn, under a 双随机 policy whose inclusion probabilities are recorded.

The shared state is synth/state.py; each stream is a module of synth/streams/. This module owns the latent
risk and the violation chain, and the order of the streams within a month (the order of the random draws).
"""

from __future__ import annotations

import numpy as np
from rich.progress import Progress

from riskclass.synth.calendar import Calendar
from riskclass.synth.city import Registry
from riskclass.synth.state import EVENT_TABLES, NAT, CityState, sigmoid
from riskclass.synth.streams import (
    debtors,
    honours,
    inspections,
    listings,
    penalties,
    public,
    registry,
    repairs,
    reports,
)

__all__ = ["EVENT_TABLES", "NAT", "CitySimulation"]

_GENERAL_TYPES = np.array(
    [
        "registration",
        "false_advertising",
        "product_quality",
        "consumer_rights",
        "price",
        "unlicensed",
        "trademark",
        "other",
    ],
    dtype=object,
)


def _violation_type(rng, n, food, drug, special, sections, shell) -> np.ndarray:
    out = _GENERAL_TYPES[rng.choice(len(_GENERAL_TYPES), n, p=[0.32, 0.14, 0.14, 0.16, 0.08, 0.06, 0.05, 0.05])]
    u = rng.random(n)
    out[food & (u < 0.5)] = "food_safety"
    out[drug & (u < 0.5)] = "drug_safety"
    out[special & ~food & ~drug & (u < 0.35)] = "special_equipment"
    out[~np.isin(sections, ["C", "F"]) & (out == "product_quality")] = "consumer_rights"
    out[shell] = "registration"
    return out


class CitySimulation(CityState):
    """The city's state plus its monthly dynamics: ``run`` initialises, then steps month by month."""

    def __init__(self, reg: Registry, sp: dict, cal: Calendar, rng: np.random.Generator):
        super().__init__(reg, sp, cal, rng)
        n = reg.n
        # degree in the relation graph, for the share of related entities violating
        inc = reg.relation_incidence
        self.inc, self.inc_t = inc, inc.T.tocsr()
        self.k = np.asarray(inc.sum(axis=1)).ravel()
        self.deg = np.asarray(inc @ (self.inc_t @ np.ones(n))).ravel() - self.k
        ar_sd = self.risk["ar_sd"] / np.sqrt(1 - self.risk["ar_rho"] ** 2)
        self.a = ar_sd * rng.standard_normal(n)  # the drift starts from its stationary distribution

    # ------------------------------------------------------------------ latent risk and violations
    def _related_violating_share(self) -> np.ndarray:
        v = self.V.astype(float)
        s = np.asarray(self.inc @ (self.inc_t @ v)).ravel() - self.k * v
        return np.divide(s, self.deg, out=np.zeros_like(s), where=self.deg > 0)

    def _risk(self, t: int) -> np.ndarray:
        """Latent risk in month ``t``; the young-entity effect uses each entity's age in that month."""
        young = (t - self.established_t) < 24
        return (
            self.reg.base_risk
            + self.risk["young_effect"] * young
            + self.a
            + self.risk["contagion"] * self._related_violating_share()
            + self.risk["penalty_history"] * np.log1p(self.n_pen)
        )

    def _vtypes(self, idx: np.ndarray) -> np.ndarray:
        c = self.reg.cols
        return _violation_type(
            self.rng,
            len(idx),
            c["food_licensed"][idx],
            c["drug_licensed"][idx],
            c["special_equipment"][idx],
            self.sections[idx],
            self.is_shell[idx],
        )

    # ------------------------------------------------------------------ initial state
    def initialise(self) -> None:
        rng, cal = self.rng, self.cal
        alive0 = (self.established_t <= -6) & ~self.exited
        for _ in range(12):  # burn the violation chain in to its stationary state
            p = sigmoid(self._risk(-1) + self.risk["persistence"] * self.V)
            self.V = alive0 & (rng.random(self.reg.n) < p)
        self.vtype[self.V] = self._vtypes(np.flatnonzero(self.V))
        # standing abnormal listings carried into the window (some old enough to escalate in it)
        weight = np.exp(self.reg.base_risk - self.reg.base_risk[alive0].mean())
        p = np.clip(self.ev["pre_window_abnormal_share"] * weight, 0, 0.9) * alive0
        idx = np.flatnonzero(rng.random(self.reg.n) < p)
        age_days = rng.integers(40, 5 * 365, len(idx))
        list_date = cal.window_start - age_days.astype("timedelta64[D]")
        est = self.reg.cols["established_date"][idx]
        ok = list_date > est + 365
        idx, list_date = idx[ok], list_date[ok]
        reason = np.where(rng.random(len(idx)) < 0.75, "1", "4").astype(object)
        listings.add_listings(self, idx, reason, list_date)
        self.missing_years[idx[reason == "1"]] |= 1 << (cal.year(0) - 1 - self.base_year)
        listings.escalate(self, before=cal.window_start)

    # ------------------------------------------------------------------ one month
    def step(self, t: int) -> None:
        n = self.reg.n
        alive = (self.established_t <= t) & ~self.exited
        r = self._risk(t)
        rel = r - self.risk["intercept"]
        p = sigmoid(r + self.risk["persistence"] * self.V)
        prev = self.V
        self.V = alive & (self.rng.random(n) < p)
        onset = self.V & ~prev
        self.vtype[onset] = self._vtypes(np.flatnonzero(onset))
        ia = np.flatnonzero(alive)
        self.truth.add(
            entity=ia,
            month=np.full(len(ia), t, dtype=np.int16),
            risk_logit=r[ia].astype(np.float32),
            violation_prob=p[ia].astype(np.float32),
            violating=self.V[ia],
        )
        self.a = self.risk["ar_rho"] * self.a + self.risk["ar_sd"] * self.rng.standard_normal(n)

        # the streams, in the order of their random draws (changing it changes every later number)
        public.complaints(self, alive, rel, t)
        public.public_opinion(self, alive, rel, t)
        penalties.penalties(self, alive, t)
        new_debtors = debtors.dishonest_debtors(self, alive, rel, t)
        registry.changes(self, alive, rel, t)
        debtors.equity_actions(self, alive, rel, new_debtors, t)
        honours.honours(self, alive, rel, t)
        reports.annual_reports(self, alive, rel, t)
        listings.listings(self, alive, t)
        inspections.inspections(self, alive, t)
        repairs.credit_repairs(self, t)
        registry.exits(self, alive, rel, t)

    # ------------------------------------------------------------------ driver
    def run(self, progress: Progress | None = None) -> None:
        self.initialise()
        task = progress.add_task("simulating months", total=self.cal.months) if progress else None
        for t in range(self.cal.months):
            self.step(t)
            if progress:
                progress.advance(task)
        self.check_numbering()
