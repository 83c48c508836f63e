"""Small worlds for the closed-loop policy replay: classes with scores, a truth that follows the generator's
violation dynamics, the city's random checks and plan parameters (no pipeline needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from plan_fixture import plan_params

NO_CHECKS = pd.DataFrame(
    {
        "uscc": pd.Series([], dtype=object),
        "draw_type": pd.Series([], dtype=object),
        "inclusion_prob": pd.Series([], dtype=float),
        "inspection_date": pd.Series([], dtype="datetime64[ms]"),
        "result_code": pd.Series([], dtype=object),
    }
)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def replay_params(**changes) -> dict:
    """Plan parameters of one plan a year (the ratios apply per plan as written), no cool-off, two sub-bands."""
    pp = plan_params(
        plans_per_year=1,
        cooloff_months={"A": 0, "B": 0, "C": 0, "D": 0},
        subbands={"A": 2, "B": 2, "C": 2, "D": 2},
    )
    pp.update(changes)
    return pp


def usccs(n: int) -> np.ndarray:
    return np.array([f"U{i:07d}" for i in range(n)], dtype=object)


def classes_frame(uscc: np.ndarray, classes: np.ndarray, months: list[str], scores=None) -> pd.DataFrame:
    """The same class (and probability) for every month; it defaults to the entity's position (all distinct)."""
    scores = np.arange(len(uscc), dtype=float) if scores is None else np.asarray(scores, dtype=float)
    return pd.concat(
        [pd.DataFrame({"uscc": uscc, "month": m, "class": classes, "probability": scores}) for m in months],
        ignore_index=True,
    )


def truth_frame(uscc: np.ndarray, months: list[str], risk_logit, violation_prob, violating) -> pd.DataFrame:
    """Truth rows from (months × entities) arrays."""
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "uscc": uscc,
                    "month": m,
                    "risk_logit": np.asarray(risk_logit[t], dtype=np.float32),
                    "violation_prob": np.asarray(violation_prob[t], dtype=np.float32),
                    "violating": np.asarray(violating[t], dtype=bool),
                }
            )
            for t, m in enumerate(months)
        ],
        ignore_index=True,
    )


def simulate_truth(
    risk_logit: np.ndarray,
    persistence: float,
    rng: np.random.Generator,
    *,
    city_checks: np.ndarray | None = None,
    detection_prob: float = 0.85,
    stop_prob: float = 0.6,
) -> tuple[np.ndarray, np.ndarray]:
    """The generator's chain for (months × entities) risk logits: P(violating[t]) = sigmoid(r[t] + persistence ·
    violating after the checks of t−1); the city's checks (a boolean array of the same shape) find a violator
    with ``detection_prob`` and end the violation with ``stop_prob``. Returns (violation_prob, violating)."""
    months, n = risk_logit.shape
    prob, state = np.zeros((months, n)), np.zeros((months, n), dtype=bool)
    after = np.zeros(n, dtype=bool)
    for _ in range(12):  # burn in
        after = rng.random(n) < sigmoid(risk_logit[0] + persistence * after)
    for t in range(months):
        prob[t] = sigmoid(risk_logit[t] + persistence * after)
        state[t] = rng.random(n) < prob[t]
        after = state[t].copy()
        if city_checks is not None:
            after &= ~(city_checks[t] & (rng.random(n) < detection_prob) & (rng.random(n) < stop_prob))
    return prob, state


def population_world(n: int = 6_000, months: int = 4, seed: int = 2):
    """Classes that separate risk, a truth from the generator's chain, earlier random checks of the city."""
    rng = np.random.default_rng(seed)
    cls = rng.choice(list("ABCD"), n, p=[0.6, 0.25, 0.1, 0.05])
    base = pd.Series(cls).map({"A": -4.0, "B": -3.2, "C": -2.5, "D": -1.8}).to_numpy()
    score = pd.Series(cls).map({"A": 0, "B": 200, "C": 500, "D": 750}).to_numpy() + rng.random(n) * 100
    base = base + (score % 100) / 100  # the score ranks risk within a class as well
    r = base + rng.normal(0, 0.2, (months, n))
    prob, state = simulate_truth(r, 3.2, rng)
    uscc = usccs(n)
    inspect = [str(p) for p in pd.period_range("2026-01", periods=months, freq="M")]
    classes = classes_frame(
        uscc, cls, [str(p) for p in pd.period_range("2025-10", "2026-01", freq="M")] + inspect[1:-1]
    )
    classes.loc[:, "probability"] = np.tile(score, len(classes) // n)
    sample = rng.random(n) < 0.1
    history = pd.DataFrame(
        {
            "uscc": uscc[sample],
            "draw_type": "undirected",
            "inclusion_prob": 0.1,
            "inspection_date": pd.Timestamp("2025-12-15"),
            "result_code": np.where(rng.random(sample.sum()) < sigmoid(base[sample] + 1.0), "D", "1"),
        }
    ).astype({"inspection_date": "datetime64[ms]"})
    return classes, truth_frame(uscc, inspect, r, prob, state), history, inspect
