"""What an inspection of the synthetic city finds: one outcome model for the simulated history
(streams/inspections.py) and for the results of a plan carried out (results.py).

A truly violating entity is found with ``detection_prob``; a clean one is sometimes not operating (code F) or
closed (code 7), otherwise it passes (code 1); a finding's result code is drawn by the violation type.
"""

from __future__ import annotations

import numpy as np

# result code of a detected violation, by violation type: (codes, probabilities)
RESULT_BY_TYPE = {
    "registration": (["B", "C", "6", "D", "E", "8"], [0.35, 0.12, 0.25, 0.13, 0.13, 0.02]),
    "food_safety": (["3", "E", "D"], [0.65, 0.3, 0.05]),
    "drug_safety": (["3", "E"], [0.7, 0.3]),
    "special_equipment": (["4", "E", "5"], [0.6, 0.3, 0.1]),
    "product_quality": (["4", "E", "D"], [0.6, 0.3, 0.1]),
    "default": (["D", "5", "E", "G", "B"], [0.45, 0.15, 0.3, 0.03, 0.07]),
}
DISPOSITION = {
    "1": "none",
    "F": "routine",
    "7": "routine",
    "6": "routine",
    "E": "correct",
    "8": "case_lead",
    "3": "notify",
    "4": "notify",
    "5": "notify",
    "G": "notify",
}


def inspection_outcome(
    rng: np.random.Generator, violating: np.ndarray, vtype: np.ndarray, spec: dict
) -> tuple[np.ndarray, np.ndarray]:
    """Result code of each check and whether it found the violation. ``vtype`` is the violation type a finding
    is coded by (read only where found); ``spec`` is ``synth.inspections``."""
    n = len(violating)
    detected = violating & (rng.random(n) < spec["detection_prob"])
    result = np.full(n, "1", dtype=object)
    u = rng.random(n)
    not_operating, closed = spec["not_operating_prob"], spec["closed_prob"]
    result[~violating & (u < not_operating)] = "F"
    result[~violating & (u >= not_operating) & (u < not_operating + closed)] = "7"
    for kind in np.unique(vtype[detected]):
        m = detected & (vtype == kind)
        options, probs = RESULT_BY_TYPE.get(kind, RESULT_BY_TYPE["default"])
        result[m] = np.array(options, dtype=object)[rng.choice(len(options), int(m.sum()), p=probs)]
    return result, detected


def dispositions(result: np.ndarray) -> np.ndarray:
    """Disposition of each result code (problems without a listed disposition are ordered corrected)."""
    return np.array([DISPOSITION.get(code, "correct") for code in result], dtype=object)
