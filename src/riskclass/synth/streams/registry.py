"""Registry lifecycle: registration changes (capital, legal representative …) and exits (revocation of
long-listed entities, deregistration)."""

from __future__ import annotations

import numpy as np

from riskclass.synth.city import person_keys
from riskclass.synth.state import DAY, CityState
from riskclass.synth.streams.listings import remove_listings


def changes(s: CityState, alive: np.ndarray, rel: np.ndarray, t: int) -> None:
    rng, cal, year, n = s.rng, s.cal, s.cal.year(t), s.reg.n
    for ctype, rate in s.ev["change_rates"].items():
        slope = -0.3 if ctype == "capital_up" else 0.3
        mult = 4.0 if ctype in ("legal_rep", "address") else 1.0
        p = rate * np.exp(slope * rel) * np.where(s.is_shell, mult, 1.0)
        if ctype in ("capital_up", "capital_down", "shareholder", "name"):
            p = p * (s.etype != "individual")
        idx = np.flatnonzero(alive & (rng.random(n) < p))
        if not len(idx):
            continue
        dates = cal.random_day(rng, t, len(idx))
        before = after = np.full(len(idx), np.nan)
        if ctype.startswith("capital"):
            factor = rng.uniform(1.5, 5.0, len(idx)) if ctype == "capital_up" else rng.uniform(0.1, 0.7, len(idx))
            before = s.capital[idx].copy()
            after = np.round(before * factor, 2)
            s.capital[idx] = after
        if ctype == "legal_rep":
            new_people = person_keys(rng, len(idx))
            s.role_changes.add(entity=idx, old=s.legal_rep[idx], new=new_people, date=dates)
            s.legal_rep[idx] = new_people
        s.logs["changes"].add(
            change_id=s.ids("chg", len(idx), "BG{year}{seq:08d}", year),
            entity=idx,
            change_type=np.full(len(idx), ctype, dtype=object),
            change_date=dates,
            capital_before=before,
            capital_after=after,
        )


def exits(s: CityState, alive: np.ndarray, rel: np.ndarray, t: int) -> None:
    """Revocation after two years listed, deregistration by type and risk; an exit lifts open listings."""
    rng, cal, n = s.rng, s.cal, s.reg.n
    listed_since = np.full(n, 10**6)
    open_l = s.l_open
    if open_l.any():
        first_t = cal.month_index(s.l_date[open_l])
        np.minimum.at(listed_since, s.l_entity[open_l], first_t)
    revoke = alive & (t - listed_since >= 24) & (rng.random(n) < s.ev["revocation_rate_long_abnormal"])
    rate = np.array([s.ev["exit_rate"][e] for e in ("enterprise", "individual", "cooperative")])
    type_idx = np.select([s.etype == "enterprise", s.etype == "individual"], [0, 1], 2)
    dereg = alive & ~revoke & (rng.random(n) < rate[type_idx] * np.exp(0.3 * rel))
    dereg &= s.established_t < t  # nobody closes in the month it opens
    for status, mask in (("revoked", revoke), ("deregistered", dereg)):
        idx = np.flatnonzero(mask)
        dates = np.maximum(cal.random_day(rng, t, len(idx)), s.reg.cols["established_date"][idx] + DAY)
        dates = s.clip(dates)
        s.status[idx], s.status_date[idx] = status, dates
        s.exited[idx] = True
        hit = s.l_open & np.isin(s.l_entity, idx)
        when = dict(zip(idx, dates, strict=True))
        remove_listings(s, hit, np.array([when[e] for e in s.l_entity[hit]], dtype="datetime64[D]"), "deregistered")
