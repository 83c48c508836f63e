"""The roster of one month from the month's classes, the registry and the previous month's roster (pure frames).

Timeline: the roster of M is made at the end of M, from the sealed classes of M; it governs the plan of M + 1
(drawn on the classes of M). So during M the members of the roster of M − 1 are under trigger-only supervision,
and the triggers of M fire for them (``sources.fire_triggers``).

One row per entity the roster has to remember, with its ``status`` in M:

- ``enrolled`` (纳入) / ``member`` (在册) / ``renewed`` (续期): on the roster of M;
- ``removed`` (移出): left this month — listed as seriously illegal and dishonest, fell to C or D, no longer
  classified (deregistered, revoked) or no longer in a category;
- ``grace_ended`` (包容期满): the grace period ended this month with triggers fired during it (see below);
- ``barred`` (暂不纳入): removed or grace-ended earlier, not re-enrolled before ``barred_until``.

When the grace period ends (``grace_end`` = enrolment month + ``grace_months``), with ``on_grace_end:
renew_if_clean`` an entity on which no trigger fired during the period starts another one (it stayed A/B in
its category and gave no cause to look), and one with a trigger returns to ordinary differentiated draws; with
``exit`` everyone returns to ordinary draws. Entities that leave are not re-enrolled for
``reenrol_wait_months``, so leaving the roster is not undone the next month by the same A/B class.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskclass.periods import add_months

ON_ROSTER = ("enrolled", "member", "renewed")
OFF_ROSTER = ("removed", "grace_ended", "barred")
STATUS_ZH = {
    "enrolled": "纳入",
    "member": "在册",
    "renewed": "包容期续期",
    "removed": "移出",
    "grace_ended": "包容期满转常规监管",
    "barred": "暂不纳入",
}
REASON_ZH = {
    "eligible": "A/B类且属于新经济类别",
    "serious_violation": "列入严重违法失信名单",
    "class_c_d": "信用风险分类降为C/D类",
    "not_classified": "本月未参与分类（注销、吊销等）",
    "left_category": "不再属于新经济类别",
    "grace_clean": "包容期内未触发检查，续期",
    "grace_triggered": "包容期内曾触发检查",
    "grace_exit": "包容期满",
    "waiting": "移出后等待期内",
}
ROSTER_COLUMNS = [
    "uscc",
    "month",
    "category",
    "status",
    "status_zh",
    "reason",
    "reason_zh",
    "class",
    "enrolled_month",
    "grace_end",
    "triggers_in_grace",
    "barred_until",
]


def categories_of(registry: pd.DataFrame, categories: list[dict]) -> pd.Series:
    """uscc → the first configured category the entity belongs to ("" for none). A category is a registry flag
    (``flag``: a boolean column such as ``is_high_tech``) or GB/T 4754 industry-code prefixes (``industries``)."""
    out = pd.Series("", index=registry["uscc"].to_numpy(), dtype=object)
    for c in reversed(categories):  # the first listed wins
        hit = np.zeros(len(registry), dtype=bool)
        if c.get("flag"):
            hit |= registry[c["flag"]].fillna(False).to_numpy(dtype=bool)
        if c.get("industries"):
            code = registry["industry_code"].fillna("").astype(str)
            hit |= code.str.startswith(tuple(c["industries"])).to_numpy()
        out[hit] = c["id"]
    return out


def update_roster(
    month: str,
    previous: pd.DataFrame | None,
    classes: pd.DataFrame,
    category: pd.Series,
    serious: set[str],
    fired: set[str],
    tp: dict,
) -> pd.DataFrame:
    """The roster rows of ``month``.

    ``previous``: the rows of the month before (None for the first month); ``classes``: uscc, class of the month's
    sealed record; ``category``: uscc → category ("" none); ``serious``: entities on the serious-violation list by
    the month end; ``fired``: members of the previous roster on which a trigger fired during the month."""
    cls = classes.set_index("uscc")["class"]
    cat = category.reindex(cls.index).fillna("")
    rows: list[dict] = []
    prev = previous if previous is not None else pd.DataFrame(columns=ROSTER_COLUMNS)
    members = prev[prev["status"].isin(ON_ROSTER)]
    waiting = prev[prev["status"].isin(OFF_ROSTER) & (prev["barred_until"] > month)]
    wait_until = add_months(month, int(tp["reenrol_wait_months"]))
    for r in members.itertuples(index=False):
        k = cls.get(r.uscc)
        base = {"uscc": r.uscc, "category": r.category, "class": k or "", "enrolled_month": r.enrolled_month}
        triggers = int(r.triggers_in_grace) + (r.uscc in fired)
        why = (
            "not_classified"
            if k is None
            else "serious_violation"
            if r.uscc in serious
            else "class_c_d"
            if k in ("C", "D")
            else "left_category"
            if not cat.get(r.uscc)
            else ""
        )
        if why:
            rows.append(
                {**base, "status": "removed", "reason": why, "grace_end": r.grace_end, "barred_until": wait_until}
            )
        elif r.grace_end <= month:
            renew = tp["on_grace_end"] == "renew_if_clean" and triggers == 0
            if renew:
                grace_end = add_months(month, int(tp["grace_months"]))
                rows.append({**base, "status": "renewed", "reason": "grace_clean", "grace_end": grace_end})
                triggers = 0
            else:
                reason = "grace_triggered" if tp["on_grace_end"] == "renew_if_clean" else "grace_exit"
                rows.append({**base, "status": "grace_ended", "reason": reason, "grace_end": r.grace_end})
                rows[-1]["barred_until"] = wait_until
        else:
            rows.append({**base, "status": "member", "reason": "eligible", "grace_end": r.grace_end})
        rows[-1]["triggers_in_grace"] = triggers
    known = set(members["uscc"])
    for r in waiting.itertuples(index=False):
        known.add(r.uscc)
        rows.append(
            {
                "uscc": r.uscc,
                "category": r.category,
                "class": cls.get(r.uscc, ""),
                "status": "barred",
                "reason": "waiting",
                "enrolled_month": r.enrolled_month,
                "grace_end": r.grace_end,
                "triggers_in_grace": int(r.triggers_in_grace),
                "barred_until": r.barred_until,
            }
        )
    eligible = cls.index[cls.isin(["A", "B"]).to_numpy() & (cat != "").to_numpy()]
    grace_end = add_months(month, int(tp["grace_months"]))
    for u in eligible:
        if u in known or u in serious:
            continue
        rows.append(
            {
                "uscc": u,
                "category": cat[u],
                "class": cls[u],
                "status": "enrolled",
                "reason": "eligible",
                "enrolled_month": month,
                "grace_end": grace_end,
                "triggers_in_grace": 0,
            }
        )
    out = pd.DataFrame(rows, columns=ROSTER_COLUMNS)
    out["month"] = month
    out["barred_until"] = out["barred_until"].fillna("")
    out["status_zh"] = out["status"].map(STATUS_ZH)
    out["reason_zh"] = out["reason"].map(REASON_ZH)
    out["triggers_in_grace"] = out["triggers_in_grace"].astype("int64")
    return out.sort_values("uscc", ignore_index=True)[ROSTER_COLUMNS]


def on_roster(rows: pd.DataFrame) -> pd.Series:
    return rows["status"].isin(ON_ROSTER)
