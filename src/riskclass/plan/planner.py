"""Building a 双随机 plan from one month's classes (see docs/inspection-planning.md).

For each active item of the random-check list, the entities it applies to are split by class; each
class draws ``ratio[item type][class]`` of its members (never below the class floor, so nobody is
exempt), each item draws at least ``min_overall_ratio`` of its population, and the directed draws add
their filters' ratios. Class-A entities checked within the cool-off are left out of every draw. When
the draws exceed the capacity (batch size, or inspectors × capacity / officers per check), everything
above the floors shrinks by one common share; when even the floors do not fit, the plan is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from riskclass.codes import CLASSES
from riskclass.plan import strata
from riskclass.plan.assign import assign_inspectors, available
from riskclass.plan.draw import (
    class_allocation,
    combined_probability,
    derive_seed,
    draw_n,
    fit_capacity,
)


class PlanError(Exception):
    """A plan that cannot be drawn as parameterised (the message says what to change)."""


@dataclass
class PlanInputs:
    month: str  # the plan month
    classes_month: str
    entities: pd.DataFrame  # uscc, name, class, district, section, entity_type, food, drug, special_equipment, …
    items: pd.DataFrame
    inspectors: pd.DataFrame
    conflicts: pd.DataFrame
    inspections: pd.DataFrame  # every inspection record known (for the cool-off)
    sources: dict[str, str] = field(default_factory=dict)  # input file → sha256


@dataclass
class Plan:
    plan_id: str
    seed_text: str
    seed: str
    start: pd.Timestamp
    due: pd.Timestamp
    checks: pd.DataFrame  # one row per (entity, item) drawn, with inspectors
    frame: pd.DataFrame  # every (entity, item) candidate with its inclusion probability
    strata: pd.DataFrame  # every draw: N, floor, target, drawn n, probability
    loads: pd.DataFrame
    summary: dict
    # drawn: written now; unchanged: the same draft was there already; kept: a draft that differs from this
    # re-draw was there already and was kept (a drafted plan is only replaced when asked: run_plan(replace=True))
    status: str = "drawn"
    differs: list[str] = field(default_factory=list)


def plan_id_for(pp: dict, month: str, division: str) -> str:
    return pp["id_format"].format(division=division, month=month)


def plan_dates(pp: dict, month: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = pd.Period(month, freq="M").start_time.normalize() + pd.Timedelta(days=int(pp["start_day"]) - 1)
    return start, start + pd.Timedelta(days=int(pp["due_days"]))


def validate_plan_params(pp: dict, indicator_codes: set[str]) -> None:
    """Ratios, floors and directed draws, checked before any data is read."""
    for item_type, ratios in pp["ratios"].items():
        for k in CLASSES:
            r, f = ratios.get(k), pp["floors"].get(k)
            if r is None or f is None:
                raise PlanError(f"params plan.ratios.{item_type} and plan.floors need every class A–D (missing {k})")
            if not 0 < f <= 1 or not 0 < r <= 1:
                raise PlanError(f"plan ratio/floor for class {k} must lie in (0, 1]: nobody is exempt (不免抽)")
            if r < f:
                raise PlanError(f"plan.ratios.{item_type}.{k} = {r} is below the floor plan.floors.{k} = {f}")
    ids = [str(d["id"]) for d in pp.get("directed", [])]
    if len(set(ids)) != len(ids) or any("/" in i or ";" in i for i in ids):
        raise PlanError(f"plan.directed ids must be unique and free of '/' and ';' (they name draws): {ids}")
    for d in pp.get("directed", []):
        for cond in d.get("where", []):
            if cond["indicator"] not in indicator_codes:
                raise PlanError(f"directed draw {d['id']}: unknown indicator {cond['indicator']!r}")


def validate_items(pp: dict, items: pd.DataFrame) -> None:
    if items.empty:
        raise PlanError("the random-check item list has no active item: nothing to plan")
    for d in pp.get("directed", []):
        if d["item"] not in set(items["item_id"]):
            raise PlanError(f"directed draw {d['id']}: item {d['item']!r} is not an active item of the list")


def applicable(entities: pd.DataFrame, item: pd.Series) -> np.ndarray:
    """Entities an item applies to: entity type, industry section and professional domain."""
    ok = np.ones(len(entities), dtype=bool)
    if isinstance(item["entity_types"], str):
        ok &= entities["entity_type"].isin(item["entity_types"].split(";")).to_numpy()
    if isinstance(item["industry_sections"], str):
        ok &= entities["section"].isin(item["industry_sections"].split(";")).to_numpy()
    if isinstance(item["domain"], str):
        ok &= entities[item["domain"]].to_numpy(dtype=bool)
    return ok


def directed_filter(entities: pd.DataFrame, spec: dict) -> np.ndarray:
    """A directed draw's population: indicator thresholds and lists of classes, districts, types, sections."""
    ok = np.ones(len(entities), dtype=bool)
    for cond in spec.get("where", []):
        values = entities[cond["indicator"]].to_numpy(dtype=float)
        if "min" in cond:
            ok &= values >= cond["min"]
        if "max" in cond:
            ok &= values <= cond["max"]
    for key, column in (("classes", "class"), ("districts", "district"), ("entity_types", "entity_type")):
        if spec.get(key):
            ok &= entities[column].astype(str).isin([str(v) for v in spec[key]]).to_numpy()
    if spec.get("sections"):
        ok &= entities["section"].isin(spec["sections"]).to_numpy()
    return ok


def cooled_off(inputs: PlanInputs, pp: dict, start: pd.Timestamp) -> np.ndarray:
    """Entities checked within their class's ``cooloff_months`` before the plan starts (无事不扰)."""
    insp = inputs.inspections
    before = insp.loc[insp["inspection_date"] < start]
    last = before.groupby("uscc")["inspection_date"].max()
    e = inputs.entities
    return strata.cooled_off(e["class"].to_numpy(), e["uscc"].map(last).to_numpy(), start, pp["cooloff_months"])


def check_capacity(pp: dict, inputs: PlanInputs, start: pd.Timestamp, due: pd.Timestamp) -> int:
    ok = available(inputs.inspectors, start, due)
    staffed = int(inputs.inspectors["capacity"].to_numpy()[ok].sum()) // int(pp["inspectors_per_check"])
    return min(int(pp["max_checks"]), staffed)


def _strata(inputs: PlanInputs, pp: dict, cooled: np.ndarray) -> tuple[pd.DataFrame, dict, dict]:
    """Every draw of the plan with its population size, floor and target (before capacity)."""
    e = inputs.entities
    rows, members, item_masks = [], {}, {}
    for _, item in inputs.items.iterrows():
        base = applicable(e, item)
        item_masks[item["item_id"]] = base
        candidates = base & ~cooled
        sizes = np.array([(candidates & (e["class"] == k).to_numpy()).sum() for k in CLASSES])
        ratios = np.array([pp["ratios"][item["item_type"]][k] for k in CLASSES])
        floors = np.array([pp["floors"][k] for k in CLASSES])
        floor_n, target, scaled, min_share = class_allocation(sizes, ratios, floors, pp["min_overall_ratio"])
        for k, n_pop, lo, tgt, r in zip(CLASSES, sizes, floor_n, target, ratios, strict=True):
            draw_id = f"{item['item_id']}/{k}"
            members[draw_id] = candidates & (e["class"] == k).to_numpy()
            rows.append(
                {
                    "draw_id": draw_id,
                    "item_id": item["item_id"],
                    "item_type": item["item_type"],
                    "draw_type": "undirected",
                    "class": k,
                    "N": int(n_pop),
                    "ratio": float(r),
                    "floor": int(lo),
                    "target": int(tgt),
                    "uplift": scaled,
                    "min_share": min_share,
                }
            )
        for d in pp.get("directed", []):
            if d["item"] != item["item_id"]:
                continue
            draw_id = f"{item['item_id']}/directed/{d['id']}"
            members[draw_id] = candidates & directed_filter(e, d)
            n_pop = int(members[draw_id].sum())
            tgt = min(n_pop, max(int(n_pop > 0), math.floor(d["ratio"] * n_pop + 0.5)))
            rows.append(
                {
                    "draw_id": draw_id,
                    "item_id": item["item_id"],
                    "item_type": item["item_type"],
                    "draw_type": "directed",
                    "class": "",
                    "N": n_pop,
                    "ratio": float(d["ratio"]),
                    "floor": 0,
                    "target": tgt,
                    "uplift": 1.0,
                    "min_share": 0.0,
                }
            )
    return pd.DataFrame(rows), members, item_masks


def _draw_item(
    e: pd.DataFrame,
    item_id: str,
    item_rows: pd.DataFrame,
    base: np.ndarray,
    members: dict,
    cooled: np.ndarray,
    seed: str,
) -> pd.DataFrame:
    """Every candidate of one item with the probability of each of its draws, combined, and the result."""
    uscc = e["uscc"].to_numpy()[base]
    n_rows = len(uscc)
    und_p, und_drawn = np.zeros(n_rows), np.zeros(n_rows, dtype=bool)
    dir_ps, dir_drawn, dir_hits = [], np.zeros(n_rows, dtype=bool), []
    for s in item_rows.itertuples():
        m = members[s.draw_id][base]
        drawn = np.zeros(n_rows, dtype=bool)
        drawn[np.flatnonzero(m)] = draw_n(seed, s.draw_id, uscc[m], int(s.n))
        p = np.where(m, s.probability, 0.0)
        if s.draw_type == "undirected":  # each entity is in exactly one class stratum
            und_p += p
            und_drawn |= drawn
        else:
            dir_ps.append(p)
            dir_drawn |= drawn
            dir_hits.append((s.draw_id.rsplit("/", 1)[1], drawn))
    dir_ids = np.full(n_rows, "", dtype=object)
    for j in np.flatnonzero(dir_drawn):
        dir_ids[j] = ";".join(name for name, hit in dir_hits if hit[j])
    directed_p = combined_probability(dir_ps) if dir_ps else np.zeros(n_rows)
    sub = e.loc[base, ["uscc", "class", "district"]].reset_index(drop=True)
    sub.insert(1, "item_id", item_id)
    sub["cooled_off"] = cooled[base]
    sub["p_undirected"] = und_p
    sub["p_directed"] = directed_p
    sub["inclusion_prob"] = combined_probability([und_p, directed_p])
    sub["drawn"] = und_drawn | dir_drawn
    sub["draw_type"] = np.select([und_drawn, dir_drawn], ["undirected", "directed"], "")
    sub["directed_by"] = dir_ids
    return sub


def make_plan(inputs: PlanInputs, pp: dict, plan_id: str, draw_key: bytes | None = None) -> Plan:
    validate_plan_params(pp, set(inputs.entities.columns))
    validate_items(pp, inputs.items)
    e = inputs.entities.sort_values("uscc", ignore_index=True)
    inputs = replace(inputs, entities=e)  # a stable order for every draw, without touching the caller's
    start, due = plan_dates(pp, inputs.month)
    seed_text, seed = derive_seed(plan_id, str(start.date()), str(pp.get("published_value", "")), draw_key)
    cooled = cooled_off(inputs, pp, start)
    strata, members, item_masks = _strata(inputs, pp, cooled)

    capacity = check_capacity(pp, inputs, start, due)
    floor_n, target, min_share = (strata[c].to_numpy() for c in ("floor", "target", "min_share"))
    needed = int(fit_capacity(floor_n, target, min_share, 0)[0].sum()) if len(strata) else 0
    if needed > capacity:
        raise PlanError(
            f"the floors need {needed} checks but the capacity is {capacity} "
            f"(plan.max_checks {pp['max_checks']}; available inspectors' capacity / {pp['inspectors_per_check']}): "
            "add inspectors or raise the batch size; floors are not lowered silently"
        )
    strata["n"], share = fit_capacity(floor_n, target, min_share, capacity)
    strata["probability"] = np.where(strata["N"] > 0, strata["n"] / strata["N"].clip(lower=1), 0.0)

    frame = pd.concat(
        [
            _draw_item(e, item_id, item_rows, item_masks[item_id], members, cooled, seed)
            for item_id, item_rows in strata.groupby("item_id", sort=True)
        ],
        ignore_index=True,
    )

    items = inputs.items.set_index("item_id")
    checks = (
        frame[frame["drawn"]]
        .drop(columns=["drawn", "cooled_off"])
        .merge(e.drop(columns=["class", "district"]), on="uscc", how="left")
    )
    checks["item_name"] = checks["item_id"].map(items["item_name"])
    checks["item_type"] = checks["item_id"].map(items["item_type"])
    checks["department"] = checks["item_id"].map(items["department"])
    checks["qualification"] = checks["item_id"].map(items["qualification"])
    checks = checks.sort_values(["department", "item_id", "district", "uscc"], ignore_index=True)
    width = max(5, len(str(len(checks))))
    checks.insert(0, "check_id", [f"{plan_id}-{i + 1:0{width}d}" for i in range(len(checks))])
    assignments, loads = assign_inspectors(
        checks,
        items["qualification"].to_dict(),
        inputs.inspectors,
        inputs.conflicts,
        start=start,
        due=due,
        seed=seed,
        per_check=int(pp["inspectors_per_check"]),
    )
    checks = checks.merge(assignments, on="check_id", how="left")
    checks["plan_id"] = plan_id
    checks["start_date"] = start.date().isoformat()
    checks["due_date"] = due.date().isoformat()
    summary = {
        "plan_id": plan_id,
        "plan_month": inputs.month,
        "classes_month": inputs.classes_month,
        "seed_text": seed_text,
        "seed": seed,
        "seed_keyed": draw_key is not None,
        "start_date": start.date().isoformat(),
        "due_date": due.date().isoformat(),
        "capacity": capacity,
        "shrink_share": round(float(share), 6),
        "checks": len(checks),
        "entities_checked": int(checks["uscc"].nunique()),
        "population": len(e),
        "cooled_off": int(cooled.sum()),
        "unassigned": int((checks["unassigned_reason"] != "").sum()),
        "sources": inputs.sources,
    }
    return Plan(plan_id, seed_text, seed, start, due, checks, frame, strata, loads, summary)
