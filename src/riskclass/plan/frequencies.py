"""Minimum check frequencies of the domain grades as professional plan items (通用+专业, domain.md §5).

Each domain grade has a minimum number of checks per year (``min_checks_per_year`` of its points table: food
A once in two years, B once, C twice, D three times; special-equipment D every user). An entity's checks are
spread evenly over the calendar year from an offset month fixed by a hash of its USCC and domain, so the
schedule is the same whichever month it is computed in: with n checks a year they fall in months
offset, offset + 12/n, …; "once in two years" falls in the offset month of the years of the entity's parity.
Special-equipment users always key-inspected (public venues, recent accidents, many complaints) get at least
one check a year whatever their grade.

A plan month's professional items are the entities scheduled in it; the plan summary reports the year's
required checks, how many the schedule places (compliance), and the officer capacity the items need.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from riskclass.codes import CLASSES
from riskclass.domains.base import points_table

QUALIFICATION = {"food": "food", "drug_retail": "drug", "special_equipment": "special_equipment"}
ITEM_COLUMNS = ["uscc", "domain", "grade", "always_key", "checks_per_year", "check_no", "month", "item_name"]


def _offsets(uscc: pd.Series, domain: pd.Series) -> np.ndarray:
    """A stable month offset 0–11 and a year parity bit per entity and domain (from SHA-256, not Python's hash)."""
    keys = (uscc.astype(str) + "|" + domain.astype(str)).to_numpy()
    return np.array([int.from_bytes(hashlib.sha256(k.encode()).digest()[:4], "big") for k in keys], dtype=np.int64)


def checks_per_year(
    grades: pd.DataFrame, year: int, tables: dict | None = None, offsets: np.ndarray | None = None
) -> pd.Series:
    """Minimum checks in ``year`` for each row of ``grades`` (uscc, domain, grade, always_key); ``offsets``: the
    rows' :func:`_offsets` when the caller has them already (one SHA-256 per row: the slow part in a large city)."""
    tables = tables or {}
    out = np.zeros(len(grades), dtype=int)
    h = _offsets(grades["uscc"], grades["domain"]) if offsets is None else offsets
    for d, rows in grades.groupby("domain", sort=False).groups.items():
        table = tables.get(d) or points_table(d)
        idx = grades.index.get_indexer(rows)
        mins = table.min_checks_per_year
        for g in CLASSES:
            m = idx[(grades.loc[rows, "grade"] == g).to_numpy()]
            value = mins[g]
            if value == "full":  # full coverage: every entity of the grade, once a year
                out[m] = 1
            elif value < 1:  # once in 1/value years: the entities whose parity matches the year
                period = round(1 / value)
                out[m] = (((h[m] >> 8) + year) % period == 0).astype(int)
            else:
                out[m] = int(value)
    key = grades["always_key"].fillna(False).astype(bool).to_numpy()
    out[key] = np.maximum(out[key], 1)
    return pd.Series(out, index=grades.index)


def schedule(
    grades: pd.DataFrame, year: int, tables: dict | None = None, offsets: np.ndarray | None = None
) -> pd.DataFrame:
    """Every check of ``year``: one row per entity, domain and check number with its calendar month (1–12)."""
    h = _offsets(grades["uscc"], grades["domain"]) if offsets is None else offsets
    n = checks_per_year(grades, year, tables, h)
    rows = grades.loc[n.index[n > 0]].assign(checks_per_year=n[n > 0])
    rep = rows.loc[rows.index.repeat(rows["checks_per_year"])].copy()
    rep["check_no"] = rep.groupby(level=0).cumcount() + 1
    offset = np.repeat(h[(n > 0).to_numpy()], rows["checks_per_year"].to_numpy()) % 12  # each row's, repeated
    step = 12 // rep["checks_per_year"].clip(lower=1).to_numpy()
    rep["month"] = (offset + (rep["check_no"].to_numpy() - 1) * step) % 12 + 1
    labels = {d: points_table(d).label for d in QUALIFICATION}
    rep["item_name"] = [
        f"{labels[d]}风险分级{g}级 第{k}/{c}次"
        for d, g, k, c in zip(rep["domain"], rep["grade"], rep["check_no"], rep["checks_per_year"], strict=True)
    ]
    rep = rep.reset_index(drop=True)[ITEM_COLUMNS]
    return rep.sort_values(["month", "domain", "uscc", "check_no"], kind="stable").reset_index(drop=True)


def month_items(grades: pd.DataFrame, plan_month: str, tables: dict | None = None) -> pd.DataFrame:
    """The professional items of one plan month (``YYYY-MM``)."""
    year, month = int(plan_month[:4]), int(plan_month[5:7])
    items = schedule(grades, year, tables)
    return items[items["month"] == month].reset_index(drop=True)


def summary(
    grades: pd.DataFrame, plan_month: str, loads: pd.DataFrame | None, per_check: int, tables: dict | None = None
) -> dict:
    """Frequency compliance of the year's schedule and the capacity the plan month's items need.

    ``loads``: the officers of the plan (qualifications, capacity, available), as planned by the draw.
    """
    year = int(plan_month[:4])
    h = _offsets(grades["uscc"], grades["domain"])
    sched = schedule(grades, year, tables, h)
    required = checks_per_year(grades, year, tables, h)
    items = sched[sched["month"] == int(plan_month[5:7])]
    out: dict = {"year": year, "domains": {}}
    for d, g in grades.assign(required=required).groupby("domain", sort=True):
        s = sched[sched["domain"] == d]
        placed = s.groupby(["uscc"]).size().reindex(g["uscc"], fill_value=0).to_numpy()
        per_month = s["month"].value_counts().reindex(range(1, 13), fill_value=0)
        need = int(len(items[items["domain"] == d]) * per_check)
        qual = QUALIFICATION[d]
        cap = left = 0
        if loads is not None and len(loads):
            avail = loads[loads["available"]]
            holds = avail["qualifications"].str.split(";").apply(lambda q, qual=qual: qual in q)
            cap = int(avail.loc[holds, "capacity"].sum())
            # what the random draws of the same plan leave of it (an officer counts under each qualification held)
            left = int((avail.loc[holds, "capacity"] - avail.loc[holds, "assigned"]).clip(lower=0).sum())
        out["domains"][d] = {
            "entities": len(g),
            "required_checks_year": int(g["required"].sum()),
            "scheduled_checks_year": len(s),
            "compliance": round(float((placed >= g["required"].to_numpy()).mean()) if len(g) else 1.0, 4),
            "required_by_grade": {k: int(v) for k, v in g.groupby("grade")["required"].sum().items()},
            "checks_this_month": int((items["domain"] == d).sum()),
            "peak_month_checks": int(per_month.max()),
            "officer_slots_needed": need,
            "qualified_capacity": cap,
            "qualified_capacity_left": left,
            "capacity_sufficient": bool(need <= left),
            # the share of this month's items the qualified officers left after the random draws could staff:
            # the schedule's compliance assumes every item is made, this says how many can be
            "staffable_share_this_month": round(min(1.0, left / need), 4) if need else 1.0,
        }
    return out
