"""双随机 inspections: each month's undirected, directed (by observable tier) and complaint-triggered draws,
their outcome (synth/outcomes.py), the cases they transfer and the listings that follow some findings."""

from __future__ import annotations

import numpy as np

from riskclass.synth.outcomes import dispositions, inspection_outcome
from riskclass.synth.state import CityState
from riskclass.synth.streams.listings import add_listings, open_reason


def inspections(s: CityState, alive: np.ndarray, t: int) -> None:
    rng, cal, insp, n, year = s.rng, s.cal, s.insp, s.reg.n, s.cal.year(t)
    p_u = insp["undirected_annual_ratio"] / 12
    undirected = alive & (rng.random(n) < p_u)
    listed = np.zeros(n, dtype=bool)
    listed[s.l_entity[s.l_open]] = True
    high = listed | s.serious_open | (t - s.last_pen_t <= 12) | (s.subst.sum(axis=0) >= 2)
    medium = ~high & ((s.any_complaint.sum(axis=0) > 0) | (s.missing_years != 0))
    p_d = np.select(
        [high, medium],
        [insp["directed_monthly_prob"]["high"], insp["directed_monthly_prob"]["medium"]],
        insp["directed_monthly_prob"]["low"],
    )
    directed = alive & ~undirected & (rng.random(n) < p_d)
    last = s.subst[(t - 1) % 12] > 0 if t > 0 else np.zeros(n, dtype=bool)
    triggered = alive & ~undirected & ~directed & last & (rng.random(n) < insp["triggered_prob"])
    draw = np.select([undirected, directed, triggered], ["undirected", "directed", "triggered"], "").astype(object)
    idx = np.flatnonzero(draw != "")
    if not len(idx):
        return
    incl = np.select([undirected[idx], directed[idx]], [p_u, p_d[idx]], np.nan)
    c = s.reg.cols
    domain = c["food_licensed"][idx] | c["drug_licensed"][idx] | c["special_equipment"][idx]
    item = np.where(domain & (rng.random(len(idx)) < 0.6), "key", "general").astype(object)
    result, detected = inspection_outcome(rng, s.V[idx], s.vtype[idx], insp)
    shell_found = detected & s.is_shell[idx] & (rng.random(len(idx)) < 0.5)
    result[shell_found] = "6"
    disposition = dispositions(result)
    case = np.isin(result, ["B", "C", "D", "3", "4", "5", "G", "8"]) & (
        rng.random(len(idx)) < s.ev["penalty_after_inspection"]
    )
    disposition[case] = "case_lead"
    s.pending_penalty_t[idx[case]] = t + rng.integers(1, 4, case.sum())
    dates = cal.random_day(rng, t, len(idx))
    s.logs["inspections"].add(
        inspection_id=s.ids("jc", len(idx), "JC{year}{seq:07d}", year),
        entity=idx,
        task_id=np.array(
            [
                f"湛市监双随机〔{year}〕{cal.calendar_month(t):02d}-{it}-{d}"
                for it, d in zip(item, draw[idx], strict=True)
            ],
            dtype=object,
        ),
        item_type=item,
        draw_type=draw[idx],
        inclusion_prob=incl,
        inspection_date=dates,
        result_code=result,
        disposition=disposition,
    )
    # a found problem often ends the violation; statutory listings follow some findings
    stop = detected & (rng.random(len(idx)) < s.risk["detected_stop_prob"])
    s.V[idx[stop]] = False
    for code, reason in (("6", "4"), ("B", "2"), ("C", "3")):
        m = (result == code) & ~open_reason(s, reason)[idx]
        if code != "6":
            m &= rng.random(len(idx)) < 0.5
        when = s.clip(dates[m] + rng.integers(3, 14, int(m.sum())).astype("timedelta64[D]"))
        add_listings(s, idx[m], np.full(int(m.sum()), reason, dtype=object), when)
