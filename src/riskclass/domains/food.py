"""Food (食品生产经营风险分级): static level + dynamic records + general credit class → points → bands A–D;
currently on the serious-violation list → the top grade directly."""

from __future__ import annotations

import pandas as pd

from riskclass.domains.base import PointsTable, band, graded, score
from riskclass.domains.sources import Sources, attach


def inputs(src: Sources, table: PointsTable) -> pd.DataFrame:
    lic = src.in_effect("food_licences", "issue_date", ("expiry_date", "revoked_date"))
    if not len(lic):
        return pd.DataFrame()
    # an entity with several licences in effect is graded at its highest static level
    lic = lic.sort_values(["uscc", "static_risk_level"], kind="stable").drop_duplicates("uscc", keep="last")
    rows = pd.DataFrame({"uscc": lic["uscc"].to_numpy(), "group": lic["static_risk_level"].astype(str).to_numpy()})
    w = table.window_months
    s = src.events("food_sampling", "sample_date", w)
    attach(rows, "unqualified_samples", src.count(s, s["result"] == "unqualified"))
    i = src.events("food_inspections", "inspection_date", w)
    attach(rows, "non_compliant_inspections", src.count(i, i["result"] == "non_compliant"))
    attach(rows, "basically_compliant_inspections", src.count(i, i["result"] == "basically_compliant"))
    attach(rows, "food_penalties", src.penalties("food_safety", w))
    attach(rows, "substantiated_complaints", src.substantiated_within(w))
    attach(rows, "serious_listed", src.general.get("serious_listed", pd.Series(dtype=float)))
    return rows


def grade(rows: pd.DataFrame, table: PointsTable) -> pd.DataFrame:
    values = rows.assign(static_level=rows["group"])
    scored = score(table, values)
    points_grade = band(table, scored["points"].to_numpy())
    return graded(rows, table, scored["points"], points_grade, scored["reasons"])
