"""Synthetic inspection results for a plan: what the platform would return if the plan were carried out.

Each check finds a problem when the entity is truly violating (ground truth of the plan month, or of the
latest simulated month for a plan beyond the simulation)
and the inspector detects it; the outcome is drawn by the same function as the simulated history
(synth/outcomes.py). Optionally a few rows are made faulty (unknown result code, wrong entity, unplanned
check) to exercise the quarantine.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from riskclass.synth.outcomes import dispositions, inspection_outcome

# the violation type a check of each qualification looks for
_TYPE_BY_QUALIFICATION = {
    "food": "food_safety",
    "drug": "drug_safety",
    "special_equipment": "special_equipment",
    "product_quality": "product_quality",
    "general": "registration",
}


def simulate_results(
    plan_dir: Path, truth_dir: Path, items: pd.DataFrame, inspections_spec: dict, out_file: Path, faulty: int = 0
) -> pd.DataFrame:
    checks = pd.read_csv(
        Path(plan_dir) / "publish/plan_public.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False
    )
    truth = pd.read_parquet(Path(truth_dir) / "entity_month.parquet", columns=["uscc", "month", "violating"])
    plan_month = str(checks["start_date"].iloc[0])[:7] if len(checks) else ""
    month = plan_month if plan_month in set(truth["month"]) else truth["month"].max()
    latest = truth[truth["month"] == month].set_index("uscc")["violating"]
    plan_id = checks["plan_id"].iloc[0] if len(checks) else ""
    rng = np.random.default_rng(int(hashlib.sha256(plan_id.encode("utf-8")).hexdigest()[:16], 16))
    n = len(checks)
    violating = checks["uscc"].map(latest).fillna(False).to_numpy(dtype=bool)
    qualification = checks["item_id"].map(items.set_index("item_id")["qualification"]).to_numpy()
    vtype = np.array([_TYPE_BY_QUALIFICATION.get(q, "default") for q in qualification], dtype=object)
    result, _ = inspection_outcome(rng, violating, vtype, inspections_spec)
    start = pd.Timestamp(checks["start_date"].iloc[0]) if n else pd.Timestamp("1970-01-01")
    dates = start + pd.to_timedelta(rng.integers(0, 28, n), unit="D")
    out = pd.DataFrame(
        {
            "check_id": checks["check_id"],
            "uscc": checks["uscc"],
            "inspection_date": dates.strftime("%Y-%m-%d"),
            "result_code": result,
            "disposition": dispositions(result),
        }
    )
    if faulty:
        rows = rng.choice(n, min(faulty, n), replace=False)
        for j, row in enumerate(rows):
            kind = j % 3
            if kind == 0:
                out.loc[row, "result_code"] = "Z"
            elif kind == 1:
                out.loc[row, "uscc"] = out.loc[(row + 1) % n, "uscc"]
            else:
                out.loc[row, "check_id"] = out.loc[row, "check_id"] + "X"
    out.to_csv(out_file, index=False, encoding="utf-8-sig", lineterminator="\n")
    return out
