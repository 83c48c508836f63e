"""A made-up population, item list and inspector directory for planner tests (no pipeline needed)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from riskclass import contract, uscc
from riskclass.plan.planner import PlanInputs

CLASS_SHARES = {"A": 0.62, "B": 0.24, "C": 0.09, "D": 0.05}
SCORE_BANDS = {"A": (0, 200), "B": (200, 500), "C": (500, 750), "D": (750, 1001)}  # Henan bands, integer scores
INSPECTORS = 60

PLAN_PARAMS = {
    "out_dir": "unused",
    "id_format": "SSJ-{division}-{month}",
    "published_value": "",
    "start_day": 1,
    "due_days": 60,
    "ratios": {
        "general": {"A": 0.01, "B": 0.03, "C": 0.10, "D": 0.30},
        "key": {"A": 0.03, "B": 0.10, "C": 0.30, "D": 1.0},
    },
    "floors": {"A": 0.01, "B": 0.01, "C": 0.01, "D": 0.01},
    "min_overall_ratio": 0.03,
    "plans_per_year": 1,
    "subbands": {"A": 2, "B": 2, "C": 2, "D": 2},
    "allocation": "ratios",
    "optimiser_min_checks": 30,
    "cooloff_months": {"A": 12, "B": 0, "C": 0, "D": 0},
    "max_checks": 100_000,
    "inspectors_per_check": 2,
    "optimiser_caps": {"A": 1.0, "B": 1.0, "C": 1.0, "D": 1.0},
    "directed": [
        {"id": "flagged", "name_zh": "标记", "item": "GEN", "ratio": 0.5, "where": [{"indicator": "FLAG", "min": 1}]}
    ],
}


def probability_of(score) -> np.ndarray:
    """The calibrated probability behind a score (default score params: 500 at 0.24, 300 points per doubling)."""
    odds = 0.24 / 0.76 * 2.0 ** ((np.asarray(score, dtype=float) - 500) / 300)
    return odds / (1 + odds)


def plan_params(**changes) -> dict:
    pp = copy.deepcopy(PLAN_PARAMS)
    pp.update(changes)
    return pp


def population(n: int = 20_000, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    classes = rng.choice(list(CLASS_SHARES), n, p=list(CLASS_SHARES.values()))
    individual = rng.random(n) < 0.6
    codes = uscc.generate(rng, np.where(individual, "92", "91"), np.full(n, "440802"))
    low, high = (np.array([SCORE_BANDS[k][j] for k in classes]) for j in (0, 1))
    score = rng.integers(low, high)
    return pd.DataFrame(
        {
            "uscc": codes,
            "name": [f"主体{i}" for i in range(n)],
            "score": score,
            "probability": probability_of(score + rng.random(n)),  # unclipped and untied, as in the records
            "class": classes,
            "district": rng.choice(["440802", "440803", "440881"], n),
            "section": rng.choice(list("CFHL"), n),
            "entity_type": np.where(individual, "individual", "enterprise"),
            "food": rng.random(n) < 0.15,
            "drug": False,
            "special_equipment": False,
            "FLAG": (rng.random(n) < 0.04).astype(float),
        }
    )


def items() -> pd.DataFrame:
    return pd.DataFrame(
        [
            ("GEN", "公示信息检查", "general", "credit", "general", None, None, None, None, True),
            ("FOOD", "食品安全检查", "key", "food", "food", None, None, "food", None, True),
        ],
        columns=contract.table("check_items").column_names,
    )


def inspectors(n: int = INSPECTORS, capacity: int = 100) -> pd.DataFrame:
    food = np.arange(n) % 3 == 0
    return pd.DataFrame(
        {
            "inspector_id": [f"4408{i:06d}" for i in range(n)],
            "department": np.where(food, "food", "credit"),
            "qualifications": np.where(food, "food;general", "general"),
            "available_from": pd.Series([pd.NaT] * n, dtype="datetime64[ms]"),
            "available_to": pd.Series([pd.NaT] * n, dtype="datetime64[ms]"),
            "capacity": np.full(n, capacity),
            "active": True,
        }
    )


def no_inspections() -> pd.DataFrame:
    return pd.DataFrame({"uscc": pd.Series(dtype=object), "inspection_date": pd.Series(dtype="datetime64[ms]")})


def inputs(
    entities: pd.DataFrame | None = None,
    officers: pd.DataFrame | None = None,
    conflicts: pd.DataFrame | None = None,
    inspections: pd.DataFrame | None = None,
) -> PlanInputs:
    return PlanInputs(
        month="2026-11",
        classes_month="2026-10",
        entities=population() if entities is None else entities,
        items=items(),
        inspectors=inspectors() if officers is None else officers,
        conflicts=pd.DataFrame({"inspector_id": [], "uscc": []}) if conflicts is None else conflicts,
        inspections=no_inspections() if inspections is None else inspections,
    )
