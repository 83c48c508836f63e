"""Synthetic 双随机 planning inputs: the random-check item list and the inspector directory.

The item list follows the shape of SAMR's 随机抽查事项清单 (general disclosure and registration items
for every entity, key items for the professional domains); the directory has inspectors by
department with qualifications, leave windows, per-plan capacities and declared conflicts. Inspector
ids are certificate-number-like keys: the directory carries no names.

An officer's capacity is the number of random checks they take in one monthly plan. Random checks are a
small part of the work (complaints, cases, licensing and special campaigns take most of it), so it is in
the low single digits: on the default city (350 officers, 1–3 checks each, two officers per check) a plan
can staff about 325 checks, about what the city inspects in a month.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskclass import contract

# item_id, name, type, department, qualification, entity types, industry sections, domain, basis
CHECK_ITEMS = [
    (
        "SSJ-GEN-01",
        "企业公示信息情况检查",
        "general",
        "credit",
        "general",
        "enterprise;cooperative",
        "",
        "",
        "《企业信息公示暂行条例》",
    ),
    (
        "SSJ-GEN-02",
        "个体工商户公示信息情况检查",
        "general",
        "credit",
        "general",
        "individual",
        "",
        "",
        "《个体工商户条例》",
    ),
    (
        "SSJ-GEN-03",
        "登记事项（住所、注册资本实缴）检查",
        "general",
        "registration",
        "general",
        "enterprise",
        "",
        "",
        "《市场主体登记管理条例》",
    ),
    ("SSJ-GEN-04", "广告发布行为检查", "general", "advertising", "advertising", "", "L;M", "", "《广告法》"),
    ("SSJ-KEY-01", "食品经营者落实食品安全主体责任检查", "key", "food", "food", "", "", "food", "《食品安全法》"),
    ("SSJ-KEY-02", "药品经营质量管理规范执行情况检查", "key", "drug", "drug", "", "", "drug", "《药品管理法》"),
    (
        "SSJ-KEY-03",
        "特种设备使用单位安全管理检查",
        "key",
        "special_equipment",
        "special_equipment",
        "",
        "",
        "special_equipment",
        "《特种设备安全法》",
    ),
    (
        "SSJ-KEY-04",
        "工业产品生产许可证获证企业检查",
        "key",
        "quality",
        "product_quality",
        "enterprise",
        "C",
        "",
        "《工业产品生产许可证管理条例》",
    ),
]

# department → (share of inspectors, its own qualification)
_DEPARTMENTS = {
    "credit": (0.22, "general"),
    "registration": (0.08, "general"),
    "food": (0.28, "food"),
    "drug": (0.08, "drug"),
    "special_equipment": (0.09, "special_equipment"),
    "quality": (0.09, "product_quality"),
    "advertising": (0.06, "advertising"),
    "enforcement": (0.10, "general"),
}


def check_items() -> pd.DataFrame:
    columns = [c for c in contract.table("check_items").column_names if c != "active"]
    frame = pd.DataFrame(CHECK_ITEMS, columns=columns).replace("", None)
    frame["active"] = True
    return frame


def inspectors(rng: np.random.Generator, entities: int, spec: dict, snapshot: np.datetime64) -> pd.DataFrame:
    n = max(len(_DEPARTMENTS) * 2, round(entities / 10_000 * spec["per_10k_entities"]))
    depts = list(_DEPARTMENTS)
    shares = np.array([_DEPARTMENTS[d][0] for d in depts])
    dept = np.array(depts, dtype=object)[rng.choice(len(depts), n, p=shares / shares.sum())]
    # every department has at least two officers, so each of its checks can be staffed
    dept[: 2 * len(depts)] = np.repeat(depts, 2)
    own = np.array([_DEPARTMENTS[d][1] for d in dept], dtype=object)
    quals = []
    for q in own:
        held = {"general", q}
        if rng.random() < spec["second_qualification_share"]:
            held.add(str(rng.choice(["food", "drug", "special_equipment", "product_quality", "advertising"])))
        quals.append(";".join(sorted(held)))
    snap = pd.Timestamp(snapshot)
    on_leave = rng.random(n) < spec["on_leave_share"]
    leave_start = snap + pd.to_timedelta(rng.integers(1, 40, n), unit="D")
    leave_end = leave_start + pd.to_timedelta(rng.integers(20, 90, n), unit="D")
    lo, hi = spec["capacity"]
    return pd.DataFrame(
        {
            "inspector_id": [f"4408{i:06d}" for i in rng.choice(10**6, n, replace=False)],
            "department": dept,
            "qualifications": quals,
            # officers on leave are available again after it; the others are available now
            "available_from": pd.Series(leave_end.where(on_leave)).dt.normalize().astype("datetime64[ms]"),
            "available_to": pd.Series(pd.NaT, index=range(n), dtype="datetime64[ms]"),
            "capacity": rng.integers(lo, hi + 1, n),
            "active": rng.random(n) >= spec["inactive_share"],
        }
    ).sort_values("inspector_id", ignore_index=True)


def conflicts(
    rng: np.random.Generator, officers: pd.DataFrame, uscc: np.ndarray, spec: dict, snapshot: np.datetime64
) -> pd.DataFrame:
    counts = rng.poisson(spec["conflicts_per_inspector"], len(officers))
    inspector = np.repeat(officers["inspector_id"].to_numpy(), counts)
    k = len(inspector)
    reasons = np.array(["kinship", "employment", "shareholding", "business", "other"], dtype=object)
    days = rng.integers(30, 3 * 365, k).astype("timedelta64[D]")
    frame = pd.DataFrame(
        {
            "conflict_id": [f"HB{i + 1:07d}" for i in range(k)],
            "inspector_id": inspector,
            "uscc": uscc[rng.integers(0, len(uscc), k)],
            "reason": reasons[rng.choice(len(reasons), k, p=[0.35, 0.25, 0.1, 0.2, 0.1])],
            "declared_date": (np.datetime64(snapshot, "D") - days).astype("datetime64[ms]"),
        }
    )
    return frame.drop_duplicates(["inspector_id", "uscc"], ignore_index=True)
