"""Signals from the public: complaints and reports (12315 / 12345) and negative public opinion."""

from __future__ import annotations

import numpy as np

from riskclass.synth.state import NAT, CityState


def complaints(s: CityState, alive: np.ndarray, rel: np.ndarray, t: int) -> None:
    """Poisson by section, rising with risk and violation; fills this month's slot of the complaint ring."""
    rng, cal, ev, n, year = s.rng, s.cal, s.ev, s.reg.n, s.cal.year(t)
    base = np.array([ev["complaint_rate"].get(x, ev["complaint_rate"]["default"]) for x in "ABCDEFGHIJKLMNOPQR"])
    sec_idx = np.frombuffer("".join(s.sections).encode(), dtype=np.uint8) - ord("A")
    lam = base[sec_idx] * np.exp(ev["complaint_risk_slope"] * rel) * (1 + (ev["complaint_violation_mult"] - 1) * s.V)
    k = rng.poisson(lam * alive)
    ent = np.repeat(np.arange(n), k)
    sub_p = np.where(s.V[ent], ev["substantiated_prob"]["violating"], ev["substantiated_prob"]["clean"])
    substantiated = rng.random(len(ent)) < sub_p
    received = cal.random_day(rng, t, len(ent))
    closed = received + rng.integers(3, 60, len(ent)).astype("timedelta64[D]")
    closed[closed > cal.snapshot_date] = NAT
    s.logs["complaints"].add(
        complaint_id=s.ids("cmp", len(ent), "TS{year}{seq:08d}", year),
        entity=ent,
        channel=np.array(["12315", "12345", "other"], dtype=object)[rng.choice(3, len(ent), p=[0.7, 0.25, 0.05])],
        kind=np.where(rng.random(len(ent)) < 0.8, "complaint", "report").astype(object),
        received_date=received,
        substantiated=substantiated,
        closed_date=closed,
    )
    ring = t % 12
    s.subst[ring] = 0
    s.any_complaint[ring] = 0
    np.add.at(s.subst[ring], ent[substantiated], 1)
    np.add.at(s.any_complaint[ring], ent, 1)


def public_opinion(s: CityState, alive: np.ndarray, rel: np.ndarray, t: int) -> None:
    rng, cal, n, year = s.rng, s.cal, s.reg.n, s.cal.year(t)
    k = rng.poisson(s.ev["opinion_rate"] * np.exp(rel) * (1 + 2 * s.V) * alive)
    ent = np.repeat(np.arange(n), k)
    s.logs["public_opinion"].add(
        item_id=s.ids("op", len(ent), "YQ{year}{seq:07d}", year),
        entity=ent,
        publish_date=cal.random_day(rng, t, len(ent)),
        severity=np.array(["low", "medium", "high"], dtype=object)[rng.choice(3, len(ent), p=[0.6, 0.3, 0.1])],
        source=np.array(["网络媒体", "社交平台", "报刊"], dtype=object)[rng.integers(0, 3, len(ent))],
    )
