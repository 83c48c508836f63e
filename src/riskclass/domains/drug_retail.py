"""Drug retail (药品零售, Xiangtan): pharmacies grouped by licensed scope, graded by the scope group's grade for the
general class, moved up by dynamic records; currently on the serious-violation list → the top grade."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskclass.domains.base import PointsTable, graded, raise_grade, score
from riskclass.domains.sources import Sources, attach

# the broadest scope an entity holds decides its group
_SCOPE_ORDER = {"class_1": 1, "class_2": 2, "class_3": 3}


def inputs(src: Sources, table: PointsTable) -> pd.DataFrame:
    lic = src.in_effect("drug_retail_licences", "issue_date", ("expiry_date", "revoked_date"))
    if not len(lic):
        return pd.DataFrame()
    lic = lic.assign(order=lic["scope"].map(_SCOPE_ORDER)).sort_values(["uscc", "order"], kind="stable")
    lic = lic.drop_duplicates("uscc", keep="last")
    rows = pd.DataFrame({"uscc": lic["uscc"].to_numpy(), "group": lic["scope"].astype(str).to_numpy()})
    w = table.window_months
    i = src.events("pharmacy_inspections", "inspection_date", w)
    attach(rows, "non_compliant_inspections", src.count(i, i["result"] == "non_compliant"))
    attach(rows, "serious_defects", i.groupby("uscc")["serious_defects"].sum())
    attach(rows, "drug_penalties", src.penalties("drug_safety", w))
    attach(rows, "substantiated_complaints", src.substantiated_within(w))
    attach(rows, "serious_listed", src.general.get("serious_listed", pd.Series(dtype=float)))
    return rows


def grade(rows: pd.DataFrame, table: PointsTable) -> pd.DataFrame:
    scored = score(table, rows)
    base = np.array(
        [table.matrix[g][c] for g, c in zip(rows["group"], rows["general_class"], strict=True)], dtype=object
    )
    steps = np.zeros(len(rows), dtype=int)
    for at_least, up in table.escalate or []:
        steps = np.where(scored["points"].to_numpy() >= at_least, up, steps)
    points_grade = raise_grade(base, steps)
    group_reason = [
        f"经营范围{g[-1]}类、通用信用{c}类→{b}"
        for g, c, b in zip(rows["group"], rows["general_class"], base, strict=True)
    ]
    reasons = [f"{a}；{r}" if r else a for a, r in zip(group_reason, scored["reasons"], strict=True)]
    return graded(rows, table, scored["points"], points_grade, reasons)
