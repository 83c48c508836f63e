"""Special equipment (特种设备使用单位风险分级, Shandong 2022): 16 indicators on a 100-point scale → bands A–D, plus the
users always key-inspected whatever their grade (public-gathering venues, a recent accident, many verified
complaints); currently on the serious-violation list → the top grade."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskclass.domains.base import PointsTable, band, graded, score
from riskclass.domains.sources import Sources, attach

HIGH_RISK_TYPES = ("boiler", "ropeway", "amusement", "lifting")


def inputs(src: Sources, table: PointsTable) -> pd.DataFrame:
    units = src.in_effect("special_equipment", "register_date", ("retired_date",))
    if not len(units):
        return pd.DataFrame()
    key = table.always_key or {}
    accident_months = int(key.get("accident_months", 24))
    # the next periodic inspection falls due an interval after the last one known (or after registration)
    insp = src.events("equipment_inspections", "inspection_date", 12 * 50)
    last = insp.groupby("equipment_id")["inspection_date"].max()
    base = units["equipment_id"].map(last).fillna(units["register_date"]).to_numpy().astype("datetime64[M]")
    interval = units["equipment_type"].map(table.inspection_interval_months).fillna(12).to_numpy(dtype=int)
    due = (base + interval.astype("timedelta64[M]")).astype("datetime64[D]")
    overdue = due < src.end
    year = int(str(src.end)[:4])
    per = units.assign(
        overdue=overdue,
        age=year - units["manufacture_year"].to_numpy(dtype=float),
        high=units["equipment_type"].isin(HIGH_RISK_TYPES).to_numpy(),
        public=units["public_venue"].fillna(False).astype(bool).to_numpy(),
    ).groupby("uscc", sort=True)
    rows = pd.DataFrame({"uscc": per.size().index.to_numpy(), "group": ""})
    attach(rows, "units", per.size())
    attach(rows, "oldest_age_years", per["age"].max())
    attach(rows, "high_risk_types", per["high"].any())
    attach(rows, "overdue_units", per["overdue"].sum())
    rows["overdue_share"] = rows["overdue_units"] / rows["units"]
    attach(rows, "public_venue", per["public"].any())
    recent = src.events("equipment_inspections", "inspection_date", table.window_months)
    attach(rows, "failed_inspections", src.count(recent, recent["result"] == "fail"))
    attach(rows, "fixed_inspections", src.count(recent, recent["result"] == "pass_after_fix"))
    g = src.general
    attach(rows, "abnormal_listed", g.get("abnormal_listed", pd.Series(dtype=float)))
    missing = (1 - g.get("report_filed", pd.Series(dtype=float))) * (1 - g.get("report_not_due", 0))
    attach(rows, "annual_report_missing", missing.clip(lower=0))
    attach(rows, "young_entity", (g["age_years"] < 2).astype(float) if "age_years" in g else pd.Series(dtype=float))
    attach(rows, "employees", g.get("employees", pd.Series(dtype=float)))
    rows["units_per_employee_high"] = (rows["units"] > rows.pop("employees")).astype(float)
    attach(rows, "equipment_penalties", src.penalties("special_equipment", 24))
    attach(rows, "accidents", src.count(src.events("equipment_accidents", "accident_date", 24)))
    attach(rows, "accidents_key_window", src.count(src.events("equipment_accidents", "accident_date", accident_months)))
    attach(rows, "substantiated_complaints", src.substantiated_within(table.window_months))
    attach(rows, "serious_listed", g.get("serious_listed", pd.Series(dtype=float)))
    return rows


def grade(rows: pd.DataFrame, table: PointsTable) -> pd.DataFrame:
    scored = score(table, rows)
    points_grade = band(table, scored["points"].to_numpy())
    key = table.always_key or {}
    reasons_key = []
    public = rows["public_venue"].to_numpy() > 0
    accident = rows["accidents_key_window"].to_numpy() > 0
    complaints = rows["substantiated_complaints"].to_numpy() >= float(key.get("substantiated_complaints", np.inf))
    for p, a, c in zip(public, accident, complaints, strict=True):
        reasons_key.append(
            "；".join(
                r
                for r, hit in (
                    (str(key.get("public_venue", "公众聚集场所")), p),
                    (f"近{key.get('accident_months', 24)}个月发生事故", a),
                    (f"投诉举报属实≥{key.get('substantiated_complaints')}次", c),
                )
                if hit
            )
        )
    always_key = public | accident | complaints
    return graded(rows, table, scored["points"], points_grade, scored["reasons"], always_key, reasons_key)
