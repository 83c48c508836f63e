"""Random inspector assignment (随机选派执法检查人员).

Each check gets ``per_check`` officers drawn at random among those who hold the item's
qualification, are active, are available over the whole plan window, have capacity left and have not
declared a conflict with the entity. Among the eligible, the least loaded go first (ties broken at
random), so workloads stay within one check of each other wherever qualifications allow. Checks are
staffed qualification by qualification, the smallest pool first (the capacity of the available officers
holding it), in a random order within each: general checks, which any officer may take, come last and
do not use up the few holders of a professional qualification first. A check that cannot be
staffed is kept in the plan, unassigned, with the reason — never dropped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskclass.plan.draw import hash_keys


def inspector_columns(checks: pd.DataFrame) -> list[str]:
    """The assignment's columns ``inspector_1`` … ``inspector_k``, in order."""
    return sorted((c for c in checks.columns if c.startswith("inspector_")), key=lambda c: int(c.split("_")[1]))


def available(inspectors: pd.DataFrame, start: pd.Timestamp, due: pd.Timestamp) -> np.ndarray:
    frm, to = inspectors["available_from"], inspectors["available_to"]
    ok = inspectors["active"].astype(bool) & (frm.isna() | (frm <= start)) & (to.isna() | (to >= due))
    return ok.to_numpy(dtype=bool)


def least_loaded(loads: np.ndarray, tie: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` smallest (load, tie, position): the set ``np.lexsort((tie, loads))[:k]`` picks,
    found level by level in linear time instead of sorting every candidate (which dominated large plans)."""
    picked, level = [], loads.min()
    while k > 0:
        at = np.flatnonzero(loads == level)
        if len(at) <= k:
            picked.append(at)
            k -= len(at)
            if k:
                level = loads[loads > level].min()
            continue
        t = tie[at]
        cut = np.partition(t, k - 1)[k - 1]  # the k-th smallest tie; equal ties go by position, as a stable sort
        below = at[t < cut]
        picked += [below, at[t == cut][: k - len(below)]]
        k = 0
    return np.concatenate(picked)


def assign_inspectors(
    checks: pd.DataFrame,
    item_qualification: dict[str, str],
    inspectors: pd.DataFrame,
    conflicts: pd.DataFrame,
    *,
    start: pd.Timestamp,
    due: pd.Timestamp,
    seed: str,
    per_check: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (assignments: check_id, inspector_1 … inspector_k, unassigned_reason; loads per inspector)."""
    ids = inspectors["inspector_id"].to_numpy()
    index = {inspector: i for i, inspector in enumerate(ids)}
    held = [set(q.split(";")) for q in inspectors["qualifications"]]
    quals = {q: np.array([q in h for h in held], dtype=bool) for q in set(item_qualification.values())}
    ok = available(inspectors, start, due)
    capacity = inspectors["capacity"].to_numpy(dtype=np.int64)
    load = np.zeros(len(ids), dtype=np.int64)
    conflicted: dict[str, list[int]] = {}
    for inspector, uscc in zip(conflicts["inspector_id"], conflicts["uscc"], strict=True):
        if inspector in index:
            conflicted.setdefault(uscc, []).append(index[inspector])

    rng = np.random.default_rng(int(seed, 16))
    check_uscc, check_qual = checks["uscc"].to_numpy(), checks["item_id"].map(item_qualification).to_numpy()
    pool = {q: int(capacity[held & ok].sum()) for q, held in quals.items()}
    order = np.lexsort(  # the smallest qualification pool first (ties by name), random within
        (
            hash_keys(seed, "assign", checks["check_id"].to_numpy()),
            np.asarray(check_qual, dtype=str),
            np.array([pool[q] for q in check_qual], dtype=np.int64),
        )
    )
    chosen = np.full((len(checks), per_check), None, dtype=object)
    reasons = np.full(len(checks), "", dtype=object)
    open_ = ok & (load < capacity)  # kept up to date as loads grow: one pass per check, not three
    for row in order:
        eligible = quals[check_qual[row]] & open_
        blocked = conflicted.get(check_uscc[row])
        if blocked:
            eligible[blocked] = False
        candidates = np.flatnonzero(eligible)
        tie = rng.random(len(candidates))
        if len(candidates) < per_check:
            reasons[row] = (
                f"only {len(candidates)} qualified, available, non-conflicted inspectors with capacity left "
                f"(needs {per_check})"
            )
            continue
        picked = candidates[least_loaded(load[candidates], tie, per_check)]
        load[picked] += 1
        open_[picked] = load[picked] < capacity[picked]
        chosen[row] = ids[np.sort(picked)]
    assignments = pd.DataFrame({"check_id": checks["check_id"].to_numpy()})
    for j in range(per_check):
        assignments[f"inspector_{j + 1}"] = chosen[:, j]
    assignments["unassigned_reason"] = reasons
    loads = pd.DataFrame(
        {
            "inspector_id": ids,
            "department": inspectors["department"].to_numpy(),
            "qualifications": inspectors["qualifications"].to_numpy(),
            "available": ok,
            "capacity": capacity,
            "assigned": load,
        }
    )
    return assignments, loads
