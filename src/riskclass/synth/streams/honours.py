"""Honours (守合同重信用, A-grade taxpayer …): low-risk, non-violating enterprises; expire after 1–3 years."""

from __future__ import annotations

import numpy as np

from riskclass.synth.state import CityState

_KINDS = np.array(
    ["contract_credit", "a_taxpayer", "famous_brand", "quality_award", "high_tech_cert", "other"], dtype=object
)


def honours(s: CityState, alive: np.ndarray, rel: np.ndarray, t: int) -> None:
    rng, cal, year, n = s.rng, s.cal, s.cal.year(t), s.reg.n
    p = s.ev["honour_rate"] * np.exp(-rel) * (s.etype == "enterprise") * ~s.is_shell
    idx = np.flatnonzero(alive & (rng.random(n) < p) & ~s.V)
    award = cal.random_day(rng, t, len(idx))
    s.logs["honours"].add(
        honour_id=s.ids("hon", len(idx), "RY{year}{seq:06d}", year),
        entity=idx,
        honour_type=_KINDS[rng.choice(len(_KINDS), len(idx), p=[0.3, 0.35, 0.1, 0.05, 0.1, 0.1])],
        award_date=award,
        expiry_date=award + rng.choice([365, 730, 1095], len(idx)).astype("timedelta64[D]"),
    )
