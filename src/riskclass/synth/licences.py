"""Licence histories: domain licences issued at establishment, renewed every five years, ended at exit."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskclass import contract
from riskclass.synth.calendar import Calendar
from riskclass.synth.city import Registry

_VALIDITY = np.timedelta64(5 * 365, "D")


def _primary_licence_types(reg: Registry) -> list[tuple[np.ndarray, str]]:
    c = reg.cols
    sections = np.array([x[:3] for x in c["industry_code"]], dtype=object)
    manufacturing_food = np.isin(sections, ["C13", "C14", "C15"])
    drug_production = c["industry_code"] == "C2740"
    return [
        (c["food_licensed"] & manufacturing_food, "food_production"),
        (c["food_licensed"] & ~manufacturing_food, "food_business"),
        (c["drug_licensed"] & drug_production, "drug_production"),
        (c["drug_licensed"] & ~drug_production, "drug_retail"),
        (c["special_equipment"], "special_equipment_use"),
    ]


def licence_records(rng: np.random.Generator, reg: Registry, sim, cal: Calendar) -> pd.DataFrame:
    c = reg.cols
    snapshot = cal.snapshot_date
    other = rng.random(reg.n) < 0.12
    frames = []
    for mask, kind in [*_primary_licence_types(reg), (other, "other")]:
        idx = np.flatnonzero(mask)
        issue = c["established_date"][idx] + rng.integers(0, 60, len(idx)).astype("timedelta64[D]")
        end = np.where(sim.exited[idx], sim.status_date[idx], snapshot + np.timedelta64(1, "D"))
        keep = issue < end
        idx, issue, end = idx[keep], issue[keep], end[keep]
        renew_p = np.clip(0.97 - 0.1 * (reg.base_risk[idx] - reg.base_risk.mean()), 0.5, 0.99)
        while len(idx):
            expiry = issue + _VALIDITY
            revoked = np.where(expiry > end, end, np.datetime64("NaT", "D"))
            revoked[revoked > snapshot] = np.datetime64("NaT", "D")
            frames.append(
                pd.DataFrame(
                    {
                        "entity": idx,
                        "licence_type": kind,
                        "issue_date": issue,
                        "expiry_date": expiry,
                        "revoked_date": revoked,
                    }
                )
            )
            go_on = (expiry < end) & (rng.random(len(idx)) < renew_p)
            idx, issue, end, renew_p = idx[go_on], expiry[go_on] - np.timedelta64(30, "D"), end[go_on], renew_p[go_on]
    out = pd.concat(frames, ignore_index=True).sort_values(["issue_date", "entity"], kind="stable")
    out = out.reset_index(drop=True)
    first = reg.shard.first(len(out), "licences")
    out.insert(0, "licence_id", [f"XK{first + i:09d}" for i in range(1, len(out) + 1)])
    out.insert(1, "uscc", c["uscc"][out.pop("entity").to_numpy()])
    return out[contract.table("licences").column_names]
