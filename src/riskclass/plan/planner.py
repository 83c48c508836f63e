"""Building a 双随机 plan from one month's classes and scores (see docs/inspection-planning.md).

The ratios, floors and overall minimum of ``params.yaml`` are annual; each plan draws 1/``plans_per_year``
of them. For each active item of the random-check list, the entities it applies to are split into strata:
their class and, within it, their score sub-band (``D1`` … ``D3``, plan/strata.py). With ``allocation:
ratios`` every stratum draws its class's ratio; with ``optimised`` the checks each item gets are shared
among its strata by a linear programme on the strata's problem rates, estimated by IPW from earlier random
checks. Every non-empty stratum keeps at least its floor (never below one check, so nobody is exempt), each
item draws at least the overall minimum, and the directed draws add their filters' ratios. Entities checked
within their class's cool-off are left out of every draw. Where ``plan.entity_types`` is configured, every item's
strata are split by entity type (enterprise 91…, individual business 92…, cooperative 93…): a type draws its
``ratio_scale`` × the class ratios and floors, uplifted (the class proportions kept) until the type reaches its
``annual_share`` of the entities the item applies to; for enterprises never below ``min_overall_ratio`` (the
legal 3 % a year). Without ``plan.entity_types`` every type shares one set of strata, as before. When the
draws exceed the capacity (batch size, or inspectors × capacity / officers per check), everything above the
floors shrinks by one common share; when even the floors do not fit, the plan is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from riskclass.codes import CLASSES, ENTITY_TYPES
from riskclass.plan import strata
from riskclass.plan.assign import assign_inspectors, available
from riskclass.plan.draw import (
    class_allocation,
    combined_probability,
    derive_seed,
    draw_n,
    fit_capacity,
    hash_keys,
)
from riskclass.triggers.kinds import KINDS as TRIGGER_KINDS


class PlanError(Exception):
    """A plan that cannot be drawn as parameterised (the message says what to change)."""


@dataclass
class PlanInputs:
    month: str  # the plan month
    classes_month: str
    # uscc, name, score, class, district, section, entity_type, food, drug, special_equipment, …; with trigger-based
    # supervision also on_roster (bool: no general random item) and triggered_by (fired trigger kinds, "" none)
    entities: pd.DataFrame
    items: pd.DataFrame
    inspectors: pd.DataFrame
    conflicts: pd.DataFrame
    inspections: pd.DataFrame  # every inspection record known (for the cool-off)
    sources: dict[str, str] = field(default_factory=dict)  # input file → sha256
    # the items a triggered check is planned under, the first that applies to the entity (params triggers.check_items)
    triggered_items: list[str] = field(default_factory=list)


@dataclass
class Plan:
    plan_id: str
    seed_text: str
    seed: str
    start: pd.Timestamp
    due: pd.Timestamp
    checks: pd.DataFrame  # one row per (entity, item) drawn, with inspectors
    frame: pd.DataFrame  # every (entity, item) candidate with its inclusion probability
    strata: pd.DataFrame  # every draw: stratum, N, ratios, floor, target, drawn n, probability
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


def validate_plan_params(pp: dict, indicator_codes: set[str], warning_codes: set[str] | None = None) -> None:
    """Ratios, floors and directed draws, checked before any data is read (the warning codes a directed draw
    names are checked once their flags are loaded: ``warning_codes``; plan/inputs.py checks them on reading)."""
    for item_type, ratios in pp["ratios"].items():
        for k in CLASSES:
            r, f = ratios.get(k), pp["floors"].get(k)
            if r is None or f is None:
                raise PlanError(f"params plan.ratios.{item_type} and plan.floors need every class A–D (missing {k})")
            if not 0 < f <= 1 or not 0 < r <= 1:
                raise PlanError(f"plan ratio/floor for class {k} must lie in (0, 1]: nobody is exempt (不免抽)")
            if r < f:
                raise PlanError(f"plan.ratios.{item_type}.{k} = {r} is below the floor plan.floors.{k} = {f}")
    for t, spec in (pp.get("entity_types") or {}).items():
        scale = float(spec.get("ratio_scale", 1.0))
        if any(r * scale > 1 for ratios in pp["ratios"].values() for r in ratios.values()):
            raise PlanError(f"plan.entity_types.{t}.ratio_scale = {scale} takes a class ratio above 1")
        if t == "enterprise" and float(spec.get("annual_share", 1.0)) < float(pp["min_overall_ratio"]):
            raise PlanError(
                f"plan.entity_types.enterprise.annual_share = {spec['annual_share']} is below the legal floor "
                f"plan.min_overall_ratio = {pp['min_overall_ratio']} (enterprises: at least 3 % a year)"
            )
    ids = [str(d["id"]) for d in pp.get("directed", [])]
    if len(set(ids)) != len(ids) or any("/" in i or ";" in i for i in ids):
        raise PlanError(f"plan.directed ids must be unique and free of '/' and ';' (they name draws): {ids}")
    for d in pp.get("directed", []):
        for cond in d.get("where", []):
            if cond["indicator"] not in indicator_codes:
                raise PlanError(f"directed draw {d['id']}: unknown indicator {cond['indicator']!r}")
        if d.get("warning") and warning_codes is not None and d["warning"] not in warning_codes:
            raise PlanError(f"directed draw {d['id']}: warning {d['warning']!r} is not among the loaded warning flags")


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
    """A directed draw's population: indicator thresholds, a warning code (its 0/1 flag column, plan/inputs.py)
    and lists of classes, districts, types, sections."""
    ok = np.ones(len(entities), dtype=bool)
    if spec.get("warning"):
        ok &= entities[spec["warning"]].to_numpy(dtype=float) >= 1
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


def roster_excluded(entities: pd.DataFrame, item_type: str) -> np.ndarray:
    """Entities on the trigger-supervision roster, left out of every random draw (undirected and directed) of a
    general item; key items still draw them (不免抽)."""
    if item_type != "general" or "on_roster" not in entities.columns:
        return np.zeros(len(entities), dtype=bool)
    return entities["on_roster"].to_numpy(dtype=bool)


def triggered_checks(
    e: pd.DataFrame, items: pd.DataFrame, item_ids: list[str], room: int, drawn: pd.DataFrame, seed: str
) -> tuple[pd.DataFrame | None, dict]:
    """The triggered checks (draw type ``triggered``) of the entities on which a trigger fired, at most ``room``.

    Each goes under the first of ``item_ids`` that applies to the entity (``applicable``: type, section, domain);
    an entity none applies to is counted, not checked. Not a random draw: no inclusion probability (NaN), so IPW
    estimates never use them. An entity the random draws already check under its item needs no second check. When
    the room is short, legal requirements and case leads go first (the trigger order of ``triggers.kinds.KINDS``),
    then a seeded random order. The room is reserved before the draw, so an entity found already drawn leaves its
    reserved check unused (one or two a month)."""
    if "triggered_by" not in e.columns or not item_ids:
        return None, {}
    missing = [i for i in item_ids if i not in items.index]
    if missing:
        raise PlanError(f"triggers.check_items {missing} are not active items of the list")
    fired = e[e["triggered_by"] != ""]
    item_of = pd.Series("", index=fired.index, dtype=object)
    for item_id in reversed(item_ids):  # the first listed item that applies wins
        item_of[applicable(fired, items.loc[item_id])] = item_id
    no_item = (item_of == "").to_numpy()
    fired, item_of = fired[~no_item], item_of[~no_item]
    drawn_pairs = set(zip(drawn["uscc"], drawn["item_id"], strict=True))
    already = np.array([(u, i) in drawn_pairs for u, i in zip(fired["uscc"], item_of, strict=True)], dtype=bool)
    due, due_item = fired[~already], item_of[~already]
    first_kind = due["triggered_by"].str.split(";").str[0].map({k: i for i, k in enumerate(TRIGGER_KINDS)})
    order = pd.DataFrame({"kind": first_kind.to_numpy(), "key": hash_keys(seed, "triggered", due["uscc"].to_numpy())})
    ranked = np.lexsort((order["key"].to_numpy(), order["kind"].to_numpy()))
    scheduled = due.iloc[ranked].iloc[: max(room, 0)]
    out = scheduled[["uscc", "class", "stratum", "district", "entity_type", "triggered_by"]].copy()
    out.insert(1, "item_id", due_item.iloc[ranked].iloc[: max(room, 0)].to_numpy())
    out["p_undirected"] = np.nan
    out["p_directed"] = np.nan
    out["inclusion_prob"] = np.nan
    out["draw_type"] = "triggered"
    out["directed_by"] = ""
    counts = {
        "entities_triggered": len(fired) + int(no_item.sum()),
        "no_applicable_item": int(no_item.sum()),
        "already_drawn": int(already.sum()),
        "scheduled": len(scheduled),
        "deferred": len(due) - len(scheduled),
    }
    return out.reset_index(drop=True), counts


def type_groups(pp: dict, entities: pd.DataFrame) -> list[tuple[str, np.ndarray, float, float]]:
    """The entity-type groups every item's strata are split by: (type, members, ratio scale, annual minimum share).
    One group of everybody ("", scale 1, ``min_overall_ratio``) when ``plan.entity_types`` is not configured; else
    one per type, a type not listed keeping scale 1 and ``min_overall_ratio``; enterprises never below it."""
    configured = pp.get("entity_types")
    if not configured:
        return [("", np.ones(len(entities), dtype=bool), 1.0, float(pp["min_overall_ratio"]))]
    groups = []
    for t in ENTITY_TYPES:
        spec = configured.get(t, {})
        share = float(spec.get("annual_share", pp["min_overall_ratio"]))
        minimum = max(share, float(pp["min_overall_ratio"])) if t == "enterprise" else share
        members = (entities["entity_type"] == t).to_numpy()
        groups.append((t, members, float(spec.get("ratio_scale", 1.0)), minimum))
    return groups


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


def _strata(inputs: PlanInputs, pp: dict, cooled: np.ndarray, labels: np.ndarray) -> tuple[pd.DataFrame, dict, dict]:
    """Every draw of the plan with its population size, per-plan ratio, floor and target (before capacity):
    one per item × stratum (class and score sub-band) and one per directed draw; each draw's members as a mask
    over its item's applicable entities (not the whole city: a large city has hundreds of draws)."""
    e = inputs.entities
    ppy = int(pp["plans_per_year"])
    names = strata.stratum_names(pp["subbands"])
    in_stratum = {name: labels == name for name in names}
    floors = np.array([pp["floors"][strata.stratum_class(name)] for name in names])
    groups = type_groups(pp, e)
    rows, members, item_masks = [], {}, {}
    for _, item in inputs.items.iterrows():
        base = applicable(e, item)
        item_masks[item["item_id"]] = base
        candidates = base & ~cooled & ~roster_excluded(e, item["item_type"])
        annual = np.array([pp["ratios"][item["item_type"]][strata.stratum_class(name)] for name in names])
        for etype, in_type, scale, minimum in groups:
            masks = {name: candidates & in_type & in_stratum[name] for name in names}
            sizes = np.array([masks[name].sum() for name in names])
            floor_n, target, scaled, min_share = class_allocation(
                sizes,
                strata.per_plan(annual * scale, ppy),
                strata.per_plan(floors * scale, ppy),
                strata.per_plan(minimum, ppy),
            )
            prefix = f"{item['item_id']}/{etype}" if etype else item["item_id"]
            for name, n_pop, lo, tgt, r in zip(names, sizes, floor_n, target, annual * scale, strict=True):
                draw_id = f"{prefix}/{name}"
                members[draw_id] = masks[name][base]
                rows.append(
                    {
                        "draw_id": draw_id,
                        "item_id": item["item_id"],
                        "item_type": item["item_type"],
                        "draw_type": "undirected",
                        "entity_type": etype,
                        "class": strata.stratum_class(name),
                        "stratum": name,
                        "N": int(n_pop),
                        "annual_ratio": float(r),
                        "ratio": strata.per_plan(float(r), ppy),
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
            members[draw_id] = (candidates & directed_filter(e, d))[base]
            n_pop = int(members[draw_id].sum())
            ratio = strata.per_plan(float(d["ratio"]), ppy)
            tgt = min(n_pop, max(int(n_pop > 0), math.floor(ratio * n_pop + 0.5)))
            rows.append(
                {
                    "draw_id": draw_id,
                    "item_id": item["item_id"],
                    "item_type": item["item_type"],
                    "draw_type": "directed",
                    "entity_type": "",
                    "class": "",
                    "stratum": "",
                    "N": n_pop,
                    "annual_ratio": float(d["ratio"]),
                    "ratio": ratio,
                    "floor": 0,
                    "target": tgt,
                    "uplift": 1.0,
                    "min_share": 0.0,
                }
            )
    return pd.DataFrame(rows), members, item_masks


def stratum_rates_usable(pp: dict, table: pd.DataFrame, rates: pd.DataFrame | None) -> tuple[pd.Series | None, str]:
    """The IPW problem rate of every non-empty stratum of the plan, or None and why not: each such stratum
    needs at least ``optimiser_min_checks`` earlier random checks."""
    if rates is None or rates.empty:
        return None, "no earlier random checks with a known class and score (the month before each check)"
    needed = sorted(set(table.loc[(table["draw_type"] == "undirected") & (table["N"] > 0), "stratum"]))
    known = rates.set_index("stratum")
    least = int(pp["optimiser_min_checks"])
    short = {k: int(known["checks"].get(k, 0)) for k in needed if known["checks"].get(k, 0) < least}
    if short:
        counts = ", ".join(f"{k} {n}" for k, n in short.items())
        return None, f"too few earlier random checks in strata {counts} (plan.optimiser_min_checks = {least})"
    return known["rate"], ""


def optimise_allocation(pp: dict, table: pd.DataFrame, rate: pd.Series) -> np.ndarray:
    """Counts of the undirected strata when each item's checks (as the ratios and the capacity fit gave them)
    are shared among its strata by ``strata.optimise_ratios``: most expected findings under the floors (never
    lowered) and ``optimiser_caps`` (annual, per class), so item totals and the capacity stay as they were."""
    ppy = int(pp["plans_per_year"])
    counts = table["n"].to_numpy().copy()
    undirected = table["draw_type"] == "undirected"
    for _, rows in table[undirected].groupby(["item_id", "entity_type"], sort=True):  # type shares kept
        sizes = rows["N"].to_numpy()
        floors = np.where(sizes > 0, rows["floor"].to_numpy() / np.maximum(sizes, 1), 0.0)
        caps = strata.per_plan(rows["class"].map(pp["optimiser_caps"]).to_numpy(dtype=float), ppy)
        caps = np.maximum(caps, floors)
        budget = int(rows["n"].sum())
        rates = rows["stratum"].map(rate).fillna(0.0).to_numpy(dtype=float)  # 0 only where N = 0
        ratios = strata.optimise_ratios(sizes, rates, budget, floors, caps)
        counts[table.index.get_indexer(rows.index)] = strata.apportion(ratios, sizes, floors, caps, budget)
    return counts


def _draw_item(
    e: pd.DataFrame,
    item_id: str,
    item_rows: pd.DataFrame,
    base: np.ndarray,
    members: dict,
    cooled: np.ndarray,
    excluded: np.ndarray,
    seed: str,
) -> pd.DataFrame:
    """Every candidate of one item with the probability of each of its draws, combined, and the result."""
    uscc = e["uscc"].to_numpy()[base]
    n_rows = len(uscc)
    und_p, und_drawn = np.zeros(n_rows), np.zeros(n_rows, dtype=bool)
    dir_ps, dir_drawn, dir_hits = [], np.zeros(n_rows, dtype=bool), []
    for s in item_rows.itertuples():
        m = members[s.draw_id]
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
    sub = e.loc[base, ["uscc", "class", "stratum", "district", "entity_type"]].reset_index(drop=True)
    sub.insert(1, "item_id", item_id)
    sub["cooled_off"] = cooled[base]
    sub["on_roster"] = excluded[base]  # inclusion probability 0 by design (trigger-based supervision)
    sub["p_undirected"] = und_p
    sub["p_directed"] = directed_p
    sub["inclusion_prob"] = combined_probability([und_p, directed_p])
    sub["drawn"] = und_drawn | dir_drawn
    sub["draw_type"] = np.select([und_drawn, dir_drawn], ["undirected", "directed"], "")
    sub["directed_by"] = dir_ids
    return sub


def make_plan(
    inputs: PlanInputs,
    pp: dict,
    plan_id: str,
    draw_key: bytes | None = None,
    stratum_rates: pd.DataFrame | None = None,
) -> Plan:
    """Draw the plan. ``stratum_rates`` (``evaluate.ipw_rates`` by ``stratum`` over earlier random checks) feed
    the optimised allocation and nothing else; without enough of them the plan keeps the ratios and says why."""
    validate_plan_params(pp, set(inputs.entities.columns), set(inputs.entities.columns))
    validate_items(pp, inputs.items)
    e = inputs.entities.sort_values("uscc", ignore_index=True)
    risk = strata.RISK_COLUMN
    if risk not in e.columns or e[risk].isna().any():
        raise PlanError(f"the classes need a {risk} for every entity: the strata are score sub-bands within each class")
    edges, labels = strata.assign(e[risk].to_numpy(), e["class"].to_numpy(), pp["subbands"])
    e = e.assign(stratum=labels)
    inputs = replace(inputs, entities=e)  # a stable order for every draw, without touching the caller's
    start, due = plan_dates(pp, inputs.month)
    seed_text, seed = derive_seed(plan_id, str(start.date()), str(pp.get("published_value", "")), draw_key)
    cooled = cooled_off(inputs, pp, start)
    table, members, item_masks = _strata(inputs, pp, cooled, labels)

    capacity = check_capacity(pp, inputs, start, due)
    floor_n, target, min_share = (table[c].to_numpy() for c in ("floor", "target", "min_share"))
    needed = int(fit_capacity(floor_n, target, min_share, 0)[0].sum()) if len(table) else 0
    if needed > capacity:
        raise PlanError(
            f"the floors need {needed} checks but the capacity is {capacity} "
            f"(plan.max_checks {pp['max_checks']}; available inspectors' capacity / {pp['inspectors_per_check']}): "
            "add inspectors or raise the batch size; floors are not lowered silently"
        )
    # triggered checks are owed: they come first, within what the floors leave (never below the floors)
    n_triggered = int((e["triggered_by"] != "").sum()) if "triggered_by" in e.columns else 0
    room = min(n_triggered, capacity - needed)
    table["n"], share = fit_capacity(floor_n, target, min_share, capacity - room)
    rate, why = stratum_rates_usable(pp, table, stratum_rates)
    table["rate_estimate"] = table["stratum"].map(rate) if rate is not None else np.nan
    used = "optimised" if pp["allocation"] == "optimised" and rate is not None else "ratios"
    if used == "optimised":
        table["n"] = optimise_allocation(pp, table, rate)
    table["probability"] = np.where(table["N"] > 0, table["n"] / table["N"].clip(lower=1), 0.0)

    frame = pd.concat(
        [
            _draw_item(
                e,
                item_id,
                item_rows,
                item_masks[item_id],
                members,
                cooled,
                roster_excluded(e, item_rows["item_type"].iloc[0]),
                seed,
            )
            for item_id, item_rows in table.groupby("item_id", sort=True)
        ],
        ignore_index=True,
    )

    items = inputs.items.set_index("item_id")
    drawn = frame[frame["drawn"]].drop(columns=["drawn", "cooled_off", "on_roster"])
    triggered, trigger_counts = triggered_checks(e, items, inputs.triggered_items, room, drawn, seed)
    if triggered is not None:
        drawn = pd.concat([drawn.assign(triggered_by=""), triggered], ignore_index=True)
    checks = drawn.merge(
        e.drop(columns=["class", "stratum", "district", "entity_type", "triggered_by"], errors="ignore"),
        on="uscc",
        how="left",
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
        "plans_per_year": int(pp["plans_per_year"]),
        "capacity": capacity,
        "floor_checks": needed,
        "shrink_share": round(float(share), 6),
        "checks": len(checks),
        "entities_checked": int(checks["uscc"].nunique()),
        "population": len(e),
        "allocation": {
            "requested": pp["allocation"],
            "used": used,
            "fallback_reason": why if used != pp["allocation"] else "",
        },
        "subband_edges": edges,
        "cooled_off": int(cooled.sum()),
        "trigger_supervision": {
            "on_roster": int(e["on_roster"].sum()) if "on_roster" in e.columns else 0,
            "general_item_rows_excluded": int(frame["on_roster"].sum()),
            "triggered_check_items": list(inputs.triggered_items),
            **{
                "entities_triggered": 0,
                "no_applicable_item": 0,
                "already_drawn": 0,
                "scheduled": 0,
                "deferred": 0,
                **trigger_counts,
            },
        },
        "cooled_off_by_class": {k: int((cooled & (e["class"] == k).to_numpy()).sum()) for k in CLASSES},
        "entity_types": pp.get("entity_types") or {},
        "unassigned": int((checks["unassigned_reason"] != "").sum()),
        "sources": inputs.sources,
    }
    return Plan(plan_id, seed_text, seed, start, due, checks, frame, table, loads, summary)
