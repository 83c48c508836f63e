"""The abnormal-operation list (经营异常名录) and the serious-violation list (严重违法失信名单).

Abnormal listings are parallel arrays on the state (``l_*``): other streams list (``add_listings``: annual
reports, inspections) and lift (``remove_listings``: late filing, exits); this module lists the unreachable,
lifts listings resolved otherwise, and moves listings three years unresolved to the serious list.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskclass.synth.state import DAY, NAT, CityState


def add_listings(s: CityState, idx: np.ndarray, reason: np.ndarray, dates: np.ndarray) -> None:
    s.l_entity = np.r_[s.l_entity, idx]
    s.l_reason = np.r_[s.l_reason, reason]
    s.l_date = np.r_[s.l_date, dates]
    s.l_open = np.r_[s.l_open, np.ones(len(idx), dtype=bool)]
    s.l_removal_date = np.r_[s.l_removal_date, np.full(len(idx), NAT)]
    s.l_removal_reason = np.r_[s.l_removal_reason, np.full(len(idx), None, dtype=object)]


def remove_listings(s: CityState, mask: np.ndarray, dates: np.ndarray, reason: str) -> None:
    s.l_open[mask] = False
    s.l_removal_date[mask] = s.clip(np.maximum(dates, s.l_date[mask]))
    s.l_removal_reason[mask] = reason


def open_reason(s: CityState, reason: str) -> np.ndarray:
    """Entities with an open listing for ``reason``."""
    out = np.zeros(s.reg.n, dtype=bool)
    out[s.l_entity[s.l_open & (s.l_reason == reason)]] = True
    return out


def escalate(s: CityState, before: np.datetime64) -> None:
    """Listed three years without resolving → serious-violation list (严重违法失信名单)."""
    due = s.l_date + np.timedelta64(3 * 365 + 1, "D")
    hit = s.l_open & (due <= before)
    if not hit.any():
        return
    ent, dates = s.l_entity[hit], due[hit]
    remove_listings(s, hit, dates, "expired_to_serious")
    first = ~pd.Series(ent).duplicated().to_numpy() & ~s.serious_open[ent]
    ent, dates = ent[first], dates[first]
    s.serious_open[ent] = True
    years = dates.astype("datetime64[Y]").astype(int) + 1970
    for y in np.unique(years):
        m = years == y
        s.serious.add(
            entity=ent[m],
            reason=np.full(m.sum(), "abnormal_3y", dtype=object),
            list_date=dates[m],
            listing_id=s.ids("ser", int(m.sum()), "湛市监严〔{year}〕{seq}号", y),
        )


def listings(s: CityState, alive: np.ndarray, t: int) -> None:
    """The month's unreachable listings (reason 4), listings resolved other than by filing a report, escalation."""
    rng, cal, n = s.rng, s.cal, s.reg.n
    rate = np.where(s.is_shell, s.ev["unreachable_rate"]["shell"], s.ev["unreachable_rate"]["other"])
    idx = np.flatnonzero(alive & ~open_reason(s, "4") & (rng.random(n) < rate))
    add_listings(s, idx, np.full(len(idx), "4", dtype=object), cal.random_day(rng, t, len(idx)))
    month_end = cal.month_start[t] + np.timedelta64(int(cal.month_days[t]) - 1, "D")
    p_fix = np.select([s.l_reason == "4", np.isin(s.l_reason, ["2", "3"])], [0.03, 0.1], 0.0)
    p_fix = np.where(s.is_shell[s.l_entity], p_fix / 6, p_fix)
    fix = s.l_open & (s.l_date < cal.month_start[t]) & (rng.random(len(s.l_open)) < p_fix)
    reasons = {"4": "reachable", "2": "info_disclosed", "3": "info_corrected"}
    for code, why in reasons.items():
        m = fix & (s.l_reason == code)
        remove_listings(s, m, cal.random_day(rng, t, int(m.sum())), why)
    escalate(s, before=month_end + DAY)
