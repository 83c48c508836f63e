"""Credit repair (信用修复): serious listings after at least a year, minor penalties (warning, fine) after three
months."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskclass.synth.state import CityState


def credit_repairs(s: CityState, t: int) -> None:
    rng, cal, year = s.rng, s.cal, s.cal.year(t)
    ser = s.serious
    if len(ser):
        ent = ser.column("entity")
        listed = ser.column("list_date")
        ids = ser.column("listing_id")
        old_enough = listed <= cal.month_start[t] - np.timedelta64(365, "D")
        hit = s.serious_open[ent] & old_enough & (rng.random(len(ent)) < s.ev["repair_serious_prob"])
        hit &= ~pd.Series(ent).duplicated(keep="last").to_numpy()
        if hit.any():
            dates = cal.random_day(rng, t, int(hit.sum()))
            s.serious_open[ent[hit]] = False
            s.repaired_serious.update(dict(zip(ids[hit], dates, strict=True)))
            s.logs["credit_repairs"].add(
                repair_id=s.ids("cr", int(hit.sum()), "XF{year}{seq:06d}", year),
                entity=ent[hit],
                target=np.full(int(hit.sum()), "serious", dtype=object),
                target_id=ids[hit],
                repair_date=dates,
            )
    pen = s.logs["penalties"]
    if len(pen):
        ent = pen.column("entity")
        decided = pen.column("decision_date")
        cats = pen.column("penalty_category")
        ids = pen.column("decision_no")
        done = s.repaired_penalties
        eligible = np.isin(cats, ["warning", "fine"]) & (decided <= cal.month_start[t] - np.timedelta64(90, "D"))
        eligible &= ~np.isin(ids, list(done)) if done else True
        hit = eligible & (rng.random(len(ent)) < s.ev["repair_penalty_prob"])
        if hit.any():
            s.repaired_penalties = done | set(ids[hit])
            s.logs["credit_repairs"].add(
                repair_id=s.ids("cr", int(hit.sum()), "XF{year}{seq:06d}", year),
                entity=ent[hit],
                target=np.full(int(hit.sum()), "penalty", dtype=object),
                target_id=ids[hit],
                repair_date=cal.random_day(rng, t, int(hit.sum())),
            )
