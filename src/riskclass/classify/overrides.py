"""Explicit override rules (params.yaml `classify.overrides`): each sets a minimum class."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskclass.codes import CLASSES

_RANK = {c: i for i, c in enumerate(CLASSES)}


def validate_rules(rules: list[dict], indicator_codes: set[str]) -> None:
    seen = set()
    for r in rules:
        for field in ("id", "name_zh", "indicator", "min_value", "min_class"):
            if field not in r:
                raise ValueError(f"override rule {r.get('id', '?')}: missing field '{field}'")
        if r["id"] in seen:
            raise ValueError(f"override rule {r['id']}: duplicate id")
        seen.add(r["id"])
        if r["indicator"] not in indicator_codes:
            raise ValueError(f"override rule {r['id']}: unknown indicator {r['indicator']}")
        if r["min_class"] not in _RANK:
            raise ValueError(f"override rule {r['id']}: min_class must be one of {CLASSES}")


def apply_overrides(frame: pd.DataFrame, model_class: np.ndarray, rules: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(final class, id of the rule that set it or '') per entity.

    A rule fires when its indicator reaches ``min_value``; it raises the class to ``min_class`` if
    the class is lower. Where several rules raise the class, the one with the highest class wins,
    and among equals the first listed.
    """
    rank = np.array([_RANK[c] for c in model_class])
    final = rank.copy()
    fired = np.full(len(rank), "", dtype=object)
    for rule in rules:
        hit = frame[rule["indicator"]].to_numpy(dtype=float) >= float(rule["min_value"])
        target = _RANK[rule["min_class"]]
        raise_it = hit & (target > final)
        final[raise_it] = target
        fired[raise_it] = rule["id"]
    return np.asarray(CLASSES, dtype=object)[final], fired
