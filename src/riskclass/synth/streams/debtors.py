"""Court-driven records: dishonest judgement debtors, and the equity freezes (often following a new debtor
record) and pledges of enterprises."""

from __future__ import annotations

import numpy as np

from riskclass import codes
from riskclass.synth.state import NAT, CityState


def dishonest_debtors(s: CityState, alive: np.ndarray, rel: np.ndarray, t: int) -> np.ndarray:
    """New debtor records (a risk-driven hazard) and the end of expired ones; returns who became a debtor."""
    new = alive & ~s.debtor_open & (s.rng.random(s.reg.n) < s.ev["debtor_rate"] * np.exp(0.8 * rel))
    _debtors(s, np.flatnonzero(new), t)
    ended = s.debtor_open & (s.debtor_end_t <= t)
    s.debtor_open[ended] = False
    return new


def _debtors(s: CityState, idx: np.ndarray, t: int) -> None:
    if not len(idx):
        return
    rng, cal, year = s.rng, s.cal, s.cal.year(t)
    duration = 1 + rng.geometric(1 / 14, len(idx))
    s.debtor_open[idx] = True
    s.debtor_end_t[idx] = t + duration
    published = cal.random_day(rng, t, len(idx))
    removal = published + (duration * 30).astype("timedelta64[D]")
    removal[removal > cal.snapshot_date] = NAT
    divisions = s.reg.cols["division_code"][idx]
    court = np.array([f"（{year}）粤{d[2:]}执{rng.integers(100, 9999)}号" for d in divisions], dtype=object)
    first = s.seq["dd"]
    s.logs["dishonest_debtors"].add(
        case_no=np.array(
            [f"{c[:-1]}之{i}号" for c, i in zip(court, range(first, first + len(idx)), strict=True)], dtype=object
        ),
        entity=idx,
        court=np.array([f"{codes.labels('divisions')[d]}人民法院" for d in divisions], dtype=object),
        publish_date=published,
        removal_date=removal,
        amount=np.round(np.exp(np.log(20) + 1.5 * rng.standard_normal(len(idx))), 2),
    )
    s.seq["dd"] += len(idx)


def equity_actions(s: CityState, alive: np.ndarray, rel: np.ndarray, new_debtors: np.ndarray, t: int) -> None:
    rng, cal, year, n = s.rng, s.cal, s.cal.year(t), s.reg.n
    ent_ok = alive & (s.etype == "enterprise")
    pledge = ent_ok & (rng.random(n) < s.ev["pledge_rate"])
    freeze = ent_ok & (
        (rng.random(n) < s.ev["freeze_rate"] * np.exp(0.8 * rel)) | (new_debtors & (rng.random(n) < 0.4))
    )
    for kind, mask in (("pledge", pledge), ("freeze", freeze)):
        idx = np.flatnonzero(mask)
        start = cal.random_day(rng, t, len(idx))
        end = start + rng.integers(90, 3 * 365, len(idx)).astype("timedelta64[D]")
        end[end > cal.snapshot_date] = NAT
        s.logs["equity_actions"].add(
            action_id=s.ids("eq", len(idx), "GQ{year}{seq:07d}", year),
            entity=idx,
            action_type=np.full(len(idx), kind, dtype=object),
            start_date=start,
            end_date=end,
            amount=np.round(s.capital[idx] * rng.uniform(0.05, 0.6, len(idx)), 2),
        )
