"""The professional domains of the synthetic city (通用+专业): food, drug-retail and special-equipment registers
and their checks, drawn after the main simulation from its final state and truth, on their own random stream
(so the general tables do not change).

A domain's true risk in month t is the probability that a check of the entity finds a problem there:

    true_risk[i,t] = sigmoid(intercept + risk_slope · (r[i,t] − mean r) + violation_lift · domain_violating[i,t])

where r is the simulation's risk logit and ``domain_violating`` its violation state when the entity's violation
type belongs to the domain (food_safety, drug_safety, special_equipment). The simulation keeps the violation
type of an entity's latest episode only, so earlier episodes of another type count as the latest one's — an
approximation the truth file shares, so graders are measured against what generated the records.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskclass.domains.base import points_table
from riskclass.synth.calendar import Calendar
from riskclass.synth.city import Registry
from riskclass.synth.shard import Shard

NAT = np.datetime64("NaT", "D")
VIOLATION_TYPE = {"food": "food_safety", "drug_retail": "drug_safety", "special_equipment": "special_equipment"}

# the synthetic bureau's practice: main food category by business kind, and the static level of each
FOOD_CATEGORIES = {
    "production": {
        "grain": 0.2,
        "meat": 0.15,
        "dairy": 0.05,
        "beverages": 0.15,
        "condiments": 0.15,
        "snacks": 0.2,
        "health_food": 0.05,
        "infant_formula": 0.03,
        "special_medical": 0.02,
    },
    "catering": {"meals": 1.0},
    "sales": {"prepackaged": 0.7, "bulk": 0.2, "health_food": 0.07, "infant_formula": 0.03},
}
SPECIAL_FOODS = ("health_food", "infant_formula", "special_medical")
STATIC_LEVEL = {
    "production": {"dairy": "4", "meat": "3", "snacks": "3", "beverages": "2", "grain": "2", "condiments": "2"},
    "catering": {"meals": "3"},
    "sales": {"prepackaged": "1", "bulk": "2"},
}
DRUG_SCOPES = {"class_1": 0.25, "class_2": 0.55, "class_3": 0.2}
# equipment type mix by the user's industry section
EQUIPMENT_MIX = {
    "industrial": (
        "BCDE",
        {"boiler": 0.2, "pressure_vessel": 0.35, "pressure_pipe": 0.1, "lifting": 0.25, "field_vehicle": 0.1},
    ),
    "venue": ("FHKLPQR", {"elevator": 0.8, "boiler": 0.1, "pressure_vessel": 0.05, "amusement": 0.05}),
    "other": ("", {"elevator": 0.4, "pressure_vessel": 0.3, "lifting": 0.15, "field_vehicle": 0.15}),
}
PUBLIC_VENUE_SECTIONS = "FHPQR"


def _pick(rng: np.random.Generator, shares: dict, n: int) -> np.ndarray:
    keys = np.array(list(shares), dtype=object)
    p = np.array(list(shares.values()), dtype=float)
    return keys[rng.choice(len(keys), n, p=p / p.sum())]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _days(cal: Calendar, rng: np.random.Generator, month: np.ndarray) -> np.ndarray:
    """A random day within each month index."""
    u = rng.random(len(month))
    return cal.month_start[month] + (u * cal.month_days[month]).astype(int).astype("timedelta64[D]")


def _numbered(frame: pd.DataFrame, date_col: str, id_col: str, fmt: str, shard: Shard) -> pd.DataFrame:
    """Rows ordered by date and entity, numbered per year with ``fmt`` (``{year}``, ``{seq}``) in the shard's range."""
    frame = frame.sort_values([date_col, "entity"], kind="stable").reset_index(drop=True)
    years = frame[date_col].to_numpy().astype("datetime64[Y]").astype(int) + 1970
    seq = frame.groupby(years).cumcount().to_numpy() + 1 + shard.first(len(frame), id_col)
    frame.insert(0, id_col, [fmt.format(year=y, seq=s) for y, s in zip(years, seq, strict=True)])
    return frame


class _Months:
    """The truth rows of one domain's entities: entity, month, true risk, domain violation."""

    def __init__(self, truth: pd.DataFrame, members: np.ndarray, vtype: np.ndarray, domain: str, cr: dict, mean_r):
        rows = truth[members[truth["entity"].to_numpy()]]
        self.entity = rows["entity"].to_numpy(dtype=np.int64)
        self.month = rows["month"].to_numpy(dtype=int)
        self.violating = rows["violating"].to_numpy(dtype=bool) & (vtype[self.entity] == VIOLATION_TYPE[domain])
        r = rows["risk_logit"].to_numpy(dtype=float) - mean_r
        self.risk = _sigmoid(cr["intercept"] + cr["risk_slope"] * r + cr["violation_lift"] * self.violating)

    def events(self, rng: np.random.Generator, rate: float) -> np.ndarray:
        """Row index of each check drawn at ``rate`` per entity and month."""
        return np.repeat(np.arange(len(self.entity)), rng.poisson(rate, len(self.entity)))


def _licences(licences: pd.DataFrame, uscc_index: dict, types: list[str]) -> pd.DataFrame:
    rows = licences[licences["licence_type"].isin(types)].copy()
    rows["entity"] = rows["uscc"].map(uscc_index).to_numpy(dtype=np.int64)
    return rows


def _food(rng, reg: Registry, cal, licences, uscc_index, months: _Months, pp) -> dict[str, pd.DataFrame]:
    lic = _licences(licences, uscc_index, ["food_production", "food_business"])
    holders = np.unique(lic["entity"].to_numpy())
    sections = np.array([x[0] for x in reg.cols["industry_code"][holders]], dtype=object)
    produces = np.isin(holders, lic.loc[lic["licence_type"] == "food_production", "entity"].to_numpy())
    kind = np.where(produces, "production", np.where(sections == "H", "catering", "sales")).astype(object)
    category = np.empty(len(holders), dtype=object)
    for k, shares in FOOD_CATEGORIES.items():
        m = kind == k
        category[m] = _pick(rng, shares, int(m.sum()))
    special = np.isin(category, SPECIAL_FOODS)
    level = np.array(
        [STATIC_LEVEL[k].get(c, "4" if s else "2") for k, c, s in zip(kind, category, special, strict=True)]
    )
    # special foods sold (not made) sit one level below their production: Ⅲ
    level[special & (kind == "sales")] = "3"
    pos = {e: k for k, e in enumerate(holders)}
    at = lic["entity"].map(pos).to_numpy()
    food_licences = pd.DataFrame(
        {
            "licence_id": lic["licence_id"].to_numpy(),
            "uscc": lic["uscc"].to_numpy(),
            "business_kind": kind[at],
            "food_category": category[at],
            "special_food": special[at],
            "static_risk_level": level[at],
            "issue_date": lic["issue_date"].to_numpy(),
            "expiry_date": lic["expiry_date"].to_numpy(),
            "revoked_date": lic["revoked_date"].to_numpy(),
        }
    )
    cat_of = dict(zip(holders, category, strict=True))
    uscc = reg.cols["uscc"]

    s = months.events(rng, pp["food_sampling_rate"])
    sampling = pd.DataFrame(
        {
            "entity": months.entity[s],
            "sample_date": _days(cal, rng, months.month[s]),
            "food_category": [cat_of[e] for e in months.entity[s]],
            "result": np.where(rng.random(len(s)) < months.risk[s], "unqualified", "qualified").astype(object),
        }
    )
    sampling = _numbered(sampling, "sample_date", "sample_id", "CJ{year}{seq:07d}", reg.shard)
    sampling.insert(1, "uscc", uscc[sampling.pop("entity").to_numpy()])

    k = months.events(rng, pp["food_inspection_rate"])
    inspections = _compliance(rng, cal, months, k, pp["basically_compliant_share"])
    inspections = _numbered(inspections, "inspection_date", "inspection_id", "SPJC{year}{seq:07d}", reg.shard)
    inspections.insert(1, "uscc", uscc[inspections.pop("entity").to_numpy()])
    return {"food_licences": food_licences, "food_sampling": sampling, "food_inspections": inspections}


def _compliance(rng, cal, months: _Months, k: np.ndarray, basic_share: float) -> pd.DataFrame:
    u = rng.random(len(k))
    result = np.select(
        [u < months.risk[k], u < months.risk[k] + basic_share], ["non_compliant", "basically_compliant"], "compliant"
    )
    return pd.DataFrame(
        {
            "entity": months.entity[k],
            "inspection_date": _days(cal, rng, months.month[k]),
            "result": result.astype(object),
        }
    )


def _drug(rng, reg: Registry, cal, licences, uscc_index, months: _Months, pp) -> dict[str, pd.DataFrame]:
    lic = _licences(licences, uscc_index, ["drug_retail"])
    holders = np.unique(lic["entity"].to_numpy())
    scope = dict(zip(holders, _pick(rng, DRUG_SCOPES, len(holders)), strict=True))
    drug_licences = pd.DataFrame(
        {
            "licence_id": lic["licence_id"].to_numpy(),
            "uscc": lic["uscc"].to_numpy(),
            "scope": lic["entity"].map(scope).to_numpy(),
            "issue_date": lic["issue_date"].to_numpy(),
            "expiry_date": lic["expiry_date"].to_numpy(),
            "revoked_date": lic["revoked_date"].to_numpy(),
        }
    )
    k = months.events(rng, pp["pharmacy_inspection_rate"])
    inspections = _compliance(rng, cal, months, k, pp["basically_compliant_share"])
    bad = inspections["result"].to_numpy() == "non_compliant"
    inspections["serious_defects"] = np.where(bad, 1 + rng.poisson(0.5, len(inspections)), 0)
    inspections = _numbered(inspections, "inspection_date", "inspection_id", "YPJC{year}{seq:07d}", reg.shard)
    inspections.insert(1, "uscc", reg.cols["uscc"][inspections.pop("entity").to_numpy()])
    return {"drug_retail_licences": drug_licences, "pharmacy_inspections": inspections}


def _equipment(rng, reg: Registry, sim, cal: Calendar, months: _Months, pp) -> dict[str, pd.DataFrame]:
    c = reg.cols
    users = np.flatnonzero(c["special_equipment"])
    sections = np.array([x[0] for x in c["industry_code"][users]], dtype=object)
    public = np.isin(sections, list(PUBLIC_VENUE_SECTIONS)) & (rng.random(len(users)) < pp["public_venue_share"])
    per_user = 1 + rng.poisson(pp["equipment_per_user"], len(users))
    unit_user = np.repeat(np.arange(len(users)), per_user)
    n = len(unit_user)
    etype = np.empty(n, dtype=object)
    unit_section = sections[unit_user]
    assigned = np.zeros(n, dtype=bool)
    for letters, shares in EQUIPMENT_MIX.values():
        m = ~assigned & (np.isin(unit_section, list(letters)) if letters else True)
        etype[m] = _pick(rng, shares, int(m.sum()))
        assigned |= m
    entity = users[unit_user]
    snapshot = cal.snapshot_date
    est = c["established_date"][entity]
    end = np.where(sim.exited[entity], sim.status_date[entity], snapshot + np.timedelta64(1, "D"))
    span = np.maximum((end - est).astype(int), 1)
    register = est + (rng.random(n) * np.minimum(span, 3 * 365)).astype(int).astype("timedelta64[D]")
    keep = register < end
    unit_user, entity, etype, register, end = unit_user[keep], entity[keep], etype[keep], register[keep], end[keep]
    n = len(entity)
    reg_year = register.astype("datetime64[Y]").astype(int) + 1970
    made = reg_year - rng.integers(0, 3, n)
    retired = np.where(end <= snapshot, end, NAT)

    interval = points_table("special_equipment").inspection_interval_months
    months_between = np.array([interval[t] for t in etype], dtype=int)
    # month index of the last periodic inspection and of the next one due; units registered before the window
    # had their last inspection at a random point of the interval before it
    reg_t = cal.month_index(register)
    last_t = np.where(reg_t < 0, -rng.integers(1, months_between + 1), reg_t)
    due_t = last_t + months_between
    before = np.flatnonzero(reg_t < 0)
    first = (cal.window_start.astype("datetime64[M]") + last_t[before]).astype("datetime64[D]")
    first = first + rng.integers(0, 28, len(before)).astype("timedelta64[D]")
    rows = [pd.DataFrame({"unit": before, "inspection_date": first, "result": "pass"})]
    rows[0] = rows[0][first > register[before]]

    risk = np.full((cal.months, reg.n), np.nan)
    risk[months.month, months.entity] = months.risk
    ret_t = np.where(np.isnat(retired), cal.months, cal.month_index(retired))
    accidents = []
    for t in range(cal.months):
        active = (reg_t <= t) & (ret_t > t) & ~np.isnan(risk[t, entity])
        p = np.nan_to_num(risk[t, entity])
        overdue = active & (due_t < t)
        # accidents follow the user's true risk, five times as often on a unit overdue for inspection
        lam = pp["accident_rate"] * (1 + 9 * p) * np.where(overdue, 5.0, 1.0)
        hit = np.flatnonzero(active & (rng.random(n) < lam))
        accidents.append(pd.DataFrame({"unit": hit, "accident_date": _days(cal, rng, np.full(len(hit), t))}))
        due = np.flatnonzero(active & (due_t <= t))
        done = due[rng.random(len(due)) < pp["equipment_on_time_prob"] * (1 - p[due])]
        if not len(done):
            continue
        u = rng.random(len(done))
        result = np.select([u < p[done] * 0.3, u < p[done]], ["fail", "pass_after_fix"], "pass").astype(object)
        rows.append(
            pd.DataFrame({"unit": done, "inspection_date": _days(cal, rng, np.full(len(done), t)), "result": result})
        )
        # a failed unit is re-inspected within three months; otherwise the next falls due after the interval
        due_t[done] = np.where(result == "fail", t + 3, t + months_between[done])

    units = pd.DataFrame({"unit": np.arange(n), "entity": entity, "register_date": register})
    units = units.sort_values(["register_date", "entity", "unit"], kind="stable").reset_index(drop=True)
    first = reg.shard.first(n, "equipment")
    units["equipment_id"] = [f"TS{first + i:08d}" for i in range(1, n + 1)]
    eq_id = units.set_index("unit")["equipment_id"].reindex(np.arange(n)).to_numpy()
    uscc = c["uscc"]
    register_frame = pd.DataFrame(
        {
            "equipment_id": units["equipment_id"],
            "uscc": uscc[units["entity"].to_numpy()],
            "equipment_type": etype[units["unit"]],
            "manufacture_year": made[units["unit"]],
            "register_date": units["register_date"],
            "public_venue": public[unit_user[units["unit"]]],
            "retired_date": retired[units["unit"]],
        }
    )

    def _events(frames: list[pd.DataFrame], date_col: str, id_col: str, fmt: str) -> pd.DataFrame:
        ev = pd.concat(frames, ignore_index=True)
        ev["entity"] = entity[ev["unit"].to_numpy()]
        ev = _numbered(ev, date_col, id_col, fmt, reg.shard)
        ev.insert(1, "equipment_id", eq_id[ev["unit"].to_numpy()])
        ev.insert(2, "uscc", uscc[ev.pop("entity").to_numpy()])
        return ev.drop(columns="unit")

    inspections = _events(rows, "inspection_date", "inspection_id", "JY{year}{seq:07d}")
    acc = _events(accidents, "accident_date", "accident_id", "SG{year}{seq:05d}")
    acc["level"] = _pick(rng, {"general": 0.9, "larger": 0.09, "major": 0.01}, len(acc))
    return {"special_equipment": register_frame, "equipment_inspections": inspections, "equipment_accidents": acc}


def generate(seed: int, reg: Registry, sim, cal: Calendar, licences: pd.DataFrame, pp: dict):
    """The professional tables (contract.PROFESSIONAL_TABLES) and the domain truth (uscc, domain, month,
    domain_violating, true_risk), from the simulation's final state on the stream ``[seed, 9]``."""
    rng = reg.shard.rng(seed, 9)
    truth = sim.truth.frame(["entity", "month", "risk_logit", "violating"])
    mean_r = float(truth["risk_logit"].mean())
    uscc_index = {u: i for i, u in enumerate(reg.cols["uscc"])}
    lic_entities = licences["uscc"].map(uscc_index).to_numpy(dtype=np.int64)
    members = {}
    for domain, types in (("food", ["food_production", "food_business"]), ("drug_retail", ["drug_retail"])):
        m = np.zeros(reg.n, dtype=bool)
        m[lic_entities[licences["licence_type"].isin(types).to_numpy()]] = True
        members[domain] = m
    members["special_equipment"] = reg.cols["special_equipment"].astype(bool)
    cr = pp["check_risk"]
    months = {d: _Months(truth, members[d], sim.vtype, d, cr[d], mean_r) for d in members}
    tables = {}
    tables.update(_food(rng, reg, cal, licences, uscc_index, months["food"], pp))
    tables.update(_drug(rng, reg, cal, licences, uscc_index, months["drug_retail"], pp))
    tables.update(_equipment(rng, reg, sim, cal, months["special_equipment"], pp))
    labels = np.array([cal.label(t) for t in range(cal.months)], dtype=object)
    domain_truth = pd.concat(
        [
            pd.DataFrame(
                {
                    "uscc": reg.cols["uscc"][m.entity],
                    "domain": d,
                    "month": labels[m.month],
                    "domain_violating": m.violating,
                    "true_risk": m.risk.astype(np.float32),
                }
            )
            for d, m in months.items()
        ],
        ignore_index=True,
    )
    return tables, domain_truth
