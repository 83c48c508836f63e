"""Administrative penalties: detected violations, complaint-driven cases and cases transferred by inspections."""

from __future__ import annotations

import numpy as np

from riskclass import codes
from riskclass.synth.state import NAT, CityState


def penalties(s: CityState, alive: np.ndarray, t: int) -> None:
    rng, ev, n = s.rng, s.ev, s.reg.n
    pr = np.where(s.V, ev["penalty_rate"]["violating"], ev["penalty_rate"]["clean"])
    pr = pr + ev["penalty_after_complaint"] * (s.subst[t % 12] > 0) * s.V
    due = s.pending_penalty_t == t
    pen = alive & ((rng.random(n) < pr) | due)
    s.pending_penalty_t[due] = -1
    _penalise(s, np.flatnonzero(pen), t)


def _penalise(s: CityState, idx: np.ndarray, t: int) -> None:
    if not len(idx):
        return
    rng, cal, year = s.rng, s.cal, s.cal.year(t)
    vt = np.where(s.V[idx], s.vtype[idx], "registration").astype(object)
    cat = np.array(["fine", "warning", "confiscation", "suspension", "licence_revocation", "other"], dtype=object)[
        rng.choice(6, len(idx), p=[0.68, 0.16, 0.08, 0.04, 0.015, 0.025])
    ]
    fine = np.where(
        np.isin(cat, ["fine", "confiscation", "suspension"]),
        np.round(np.exp(np.log(0.5) + 1.3 * rng.standard_normal(len(idx))), 4),
        0.0,
    )
    confiscation = np.where(cat == "confiscation", np.round(fine * rng.random(len(idx)), 4), 0.0)
    decided = cal.random_day(rng, t, len(idx))
    effect = np.where(cat == "suspension", decided + rng.integers(30, 180, len(idx)).astype("timedelta64[D]"), NAT)
    labels = codes.labels("violation_types")
    s.logs["penalties"].add(
        decision_no=s.ids("pen", len(idx), "湛市监处罚〔{year}〕{seq}号", year),
        entity=idx,
        legal_rep_key=s.legal_rep[idx],
        violation_type=vt,
        facts=np.array([f"经查，当事人存在{labels[v]}行为" for v in vt], dtype=object),
        basis=np.full(len(idx), "《中华人民共和国行政处罚法》及相关法律法规", dtype=object),
        penalty_category=cat,
        content=np.array([codes.labels("penalty_categories")[c] for c in cat], dtype=object),
        fine_amount=fine,
        confiscation_amount=confiscation,
        licence_revoked=np.where(cat == "licence_revocation", "许可证", None).astype(object),
        decision_date=decided,
        effect_end_date=effect,
        publicity_end_date=decided + np.timedelta64(3 * 365, "D"),
        authority=np.array(
            [f"{codes.labels('divisions')[d]}市场监督管理局" for d in s.reg.cols["division_code"][idx]],
            dtype=object,
        ),
        data_source=np.full(len(idx), "湛江市市场监督管理局", dtype=object),
    )
    s.n_pen[idx] += 1
    s.last_pen_t[idx] = t
