"""The facts behind each reminder item, point in time at a month end.

Each item is found twice, and both must agree:

- the sealed month's **indicators** (the record's features.parquet) say whether the entity has the problem
  (:data:`GATES`: the same values the month was classified on);
- the **validated tables**, seen through the indicator builder's as-of views (riskclass.indicators.sources:
  rows dated after the month end are invisible, later removals and repairs unknown), give the details a letter
  needs: which report year, which listing and why, which decision, which licence, which dates.

A record found without its indicator (the snapshot changed since the month was sealed) is left out, and an
indicator without a record is counted; both counts go to the summary (``consistency``).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from riskclass import codes
from riskclass.indicators.builder import day_number, due_year
from riskclass.indicators.sources import connect, create_asof_views, stage

_EPOCH = date(1970, 1, 1)

# item → conditions on the sealed indicators, (indicator, min, max), all of which must hold
GATES: dict[str, list[tuple[str, float | None, float | None]]] = {
    "annual_report_overdue": [("DYN.AR.latest_filed", None, 0), ("DYN.AR.not_yet_due", None, 0)],
    "abnormal_listed": [("SUP.ABN.listed_now", 1, None)],
    "serious_violation": [("SUP.SER.listed_now", 1, None)],
    "penalty_in_publicity": [("SUP.PEN.in_publicity", 1, None)],
    "address_unreachable": [("SUP.INSP.unreachable_3y", 1, None)],
    "licence_expired": [("DYN.LIC.expired", 1, None)],
    "all_zero_financials": [("DYN.FIN.all_zero", 1, None)],
}
# the placeholders each item's texts may use (besides {by}, which every item has)
FACTS: dict[str, tuple[str, ...]] = {
    "annual_report_overdue": ("years", "year", "deadline"),
    "abnormal_listed": ("list_date", "reason", "listing_id", "remedy", "serious_date"),
    "serious_violation": ("list_date", "reason", "listing_id", "repair_from", "removal_date"),
    "penalty_in_publicity": ("decision_no", "decision_date", "authority", "violation", "category", "publicity_end"),
    "address_unreachable": ("inspection_date",),
    "licence_expired": ("licence_type", "licence_id", "expiry_date"),
    "licence_expiring": ("licence_type", "licence_id", "expiry_date", "lead_days", "apply_by"),
    "all_zero_financials": ("report_year",),
    "early_warning": ("warning", "evidence"),
}
ITEMS: tuple[str, ...] = tuple(FACTS)
WARNING_COLUMNS = ("uscc", "month", "code", "name_zh", "severity", "evidence")


class ReminderError(ValueError):
    """Input the reminders cannot be built from; the message names the file, row and rule."""


def zh_date(day: int | date | None) -> str:
    """A day number (days since 1970-01-01) or date as 2026年10月31日."""
    if day is None or (not isinstance(day, date) and pd.isna(day)):
        return ""
    d = day if isinstance(day, date) else _EPOCH + timedelta(days=int(day))
    return f"{d.year}年{d.month}月{d.day}日"


def add_years(day: int, years: int) -> int:
    """The same calendar day ``years`` later (29 February → 28 February), as a day number."""
    d = _EPOCH + timedelta(days=int(day))
    try:
        moved = d.replace(year=d.year + years)
    except ValueError:
        moved = d.replace(year=d.year + years, day=28)
    return day_number(moved)


class Sources:
    """The validated tables staged once in DuckDB, with as-of views for one month end."""

    def __init__(self, validated_dir: Path, feedback_dir: Path | None, as_of: date, memory_limit: str, threads: int):
        self.as_of = as_of
        self.day = day_number(as_of)
        self.due_year = due_year(as_of)
        self.con: duckdb.DuckDBPyConnection = connect(memory_limit, threads)
        stage(self.con, Path(validated_dir), Path(feedback_dir) if feedback_dir else None)
        create_asof_views(self.con, self.day)

    def sql(self, query: str) -> pd.DataFrame:
        return self.con.execute(query).df()

    def close(self) -> None:
        self.con.close()


def annual_report_overdue(src: Sources, rp: dict, by: str) -> pd.DataFrame:
    """Report years among the last ``annual_report_years`` due ones (from the year after establishment… the
    latest due year) with no report filed by the month end."""
    first = src.due_year - int(rp["annual_report_years"]) + 1
    frame = src.sql(f"""
        WITH years AS (SELECT UNNEST(range({first}, {src.due_year + 1})) AS report_year),
        due AS (
            SELECT e.uscc, y.report_year FROM v_entities e JOIN years y ON y.report_year >= e.established_year
        )
        SELECT d.uscc, d.report_year FROM due d
        LEFT JOIN v_annual_reports r ON r.uscc = d.uscc AND r.report_year = d.report_year
        WHERE r.uscc IS NULL
    """)
    if frame.empty:
        return _empty("annual_report_overdue")
    grouped = frame.sort_values(["uscc", "report_year"]).groupby("uscc", sort=True)["report_year"]
    out = pd.DataFrame({"uscc": grouped.first().index})
    out["years"] = grouped.apply(lambda ys: "、".join(f"{int(y)}" for y in ys)).to_numpy()  # 2024、2025
    out["year"] = str(src.due_year)
    out["deadline"] = zh_date(date(src.due_year + 1, 6, 30))
    out["by"] = by
    out["key"] = ""
    return out


def abnormal_listed(src: Sources, rp: dict, by: str, remedies: dict[str, str]) -> pd.DataFrame:
    frame = src.sql("""
        SELECT uscc, listing_id, reason_code, list_day FROM v_abnormal_listings WHERE removal_day IS NULL
    """)
    reasons = codes.labels("abnormal_reasons")
    frame["reason_code"] = frame["reason_code"].astype(str)
    unknown = sorted(set(frame["reason_code"]) - set(remedies))
    if unknown:
        raise ReminderError(f"abnormal_listings: reason codes {unknown} have no remedy text in reminders.yaml")
    return pd.DataFrame(
        {
            "uscc": frame["uscc"],
            "list_date": frame["list_day"].map(zh_date),
            "reason": frame["reason_code"].map(reasons),
            "listing_id": frame["listing_id"],
            "remedy": frame["reason_code"].map(remedies),
            "serious_date": frame["list_day"].map(lambda d: zh_date(add_years(d, 3))),
            "by": by,
            "key": frame["list_day"].map(lambda d: f"{int(d):06d}") + frame["listing_id"],
        }
    )


def serious_violation(src: Sources, rp: dict) -> pd.DataFrame:
    frame = src.sql("SELECT uscc, listing_id, reason, list_day FROM v_serious_violations WHERE removal_day IS NULL")
    reasons = codes.labels("serious_reasons")
    return pd.DataFrame(
        {
            "uscc": frame["uscc"],
            "list_date": frame["list_day"].map(zh_date),
            "reason": frame["reason"].map(reasons),
            "listing_id": frame["listing_id"],
            "repair_from": frame["list_day"].map(lambda d: zh_date(add_years(d, 1))),
            "removal_date": frame["list_day"].map(lambda d: zh_date(add_years(d, 3))),
            "by": "",
            "key": frame["list_day"].map(lambda d: f"{int(d):06d}") + frame["listing_id"],
        }
    )


def penalty_in_publicity(src: Sources, rp: dict) -> pd.DataFrame:
    """Penalties whose publicity has not ended by the month end, nor been ended by a credit repair (the
    definition of SUP.PEN.in_publicity)."""
    frame = src.sql(f"""
        SELECT uscc, decision_no, decision_day, authority, violation_type, penalty_category, publicity_end_day
        FROM v_penalties
        WHERE (publicity_end_day IS NULL OR publicity_end_day > {src.day}) AND repaired_day IS NULL
    """)
    return pd.DataFrame(
        {
            "uscc": frame["uscc"],
            "decision_no": frame["decision_no"],
            "decision_date": frame["decision_day"].map(zh_date),
            "authority": frame["authority"],
            "violation": frame["violation_type"].map(codes.labels("violation_types")),
            "category": frame["penalty_category"].map(codes.labels("penalty_categories")),
            "publicity_end": frame["publicity_end_day"].map(lambda d: zh_date(d) or "决定机关公告的公示截止日"),
            "by": "",
            "key": frame["decision_day"].map(lambda d: f"{int(d):06d}") + frame["decision_no"],
        }
    )


def address_unreachable(src: Sources, rp: dict, by: str) -> pd.DataFrame:
    """The entity's latest check within the look-back found it unreachable at its registered address, it has
    not changed its address since, and it is not on the abnormal list for it (that item says what to do)."""
    frame = src.sql(f"""
        SELECT i.uscc, i.inspection_day FROM v_inspections i
        WHERE i.latest AND i.result_code = '6' AND i.inspection_day > {src.day} - {int(rp["unreachable_lookback_days"])}
          AND NOT EXISTS (SELECT 1 FROM v_changes c WHERE c.uscc = i.uscc AND c.change_type = 'address'
                          AND c.change_day >= i.inspection_day)
          AND NOT EXISTS (SELECT 1 FROM v_abnormal_listings a WHERE a.uscc = i.uscc AND a.removal_day IS NULL
                          AND CAST(a.reason_code AS VARCHAR) = '4')
    """)
    return pd.DataFrame(
        {"uscc": frame["uscc"], "inspection_date": frame["inspection_day"].map(zh_date), "by": by, "key": ""}
    )


def _licences(src: Sources, where: str) -> pd.DataFrame:
    return src.sql(f"""
        SELECT uscc, licence_id, licence_type, expiry_day FROM v_licences
        WHERE revoked_day IS NULL AND NOT renewed AND expiry_day IS NOT NULL AND {where}
    """)


def _licence_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "uscc": frame["uscc"],
            "licence_type": frame["licence_type"].map(codes.labels("licence_types")),
            "licence_id": frame["licence_id"],
            "expiry_date": frame["expiry_day"].map(zh_date),
            "key": frame["expiry_day"].map(lambda d: f"{int(d):06d}") + frame["licence_id"],
        }
    )


def licence_expired(src: Sources, rp: dict, by: str) -> pd.DataFrame:
    """Expired on or before the month end with no later licence of the type (the DYN.LIC.expired definition)."""
    out = _licence_frame(_licences(src, f"expiry_day <= {src.day}"))
    out["by"] = by
    return out


def licence_expiring(src: Sources, rp: dict) -> pd.DataFrame:
    """Expiring within ``expiry_horizon_days`` after the month end, not yet renewed."""
    horizon, lead = int(rp["expiry_horizon_days"]), int(rp["renewal_lead_days"])
    frame = _licences(src, f"expiry_day > {src.day} AND expiry_day <= {src.day + horizon}")
    out = _licence_frame(frame)
    out["lead_days"] = str(lead)
    # the application is due `lead` days before expiry, but never before the letter can arrive
    out["apply_by"] = frame["expiry_day"].map(lambda d: zh_date(max(int(d) - lead, src.day + 1)))
    out["by"] = ""
    return out


def all_zero_financials(src: Sources, rp: dict, by: str) -> pd.DataFrame:
    """The latest report filed by the month end has all-zero financials (the DYN.FIN.all_zero definition)."""
    frame = src.sql("SELECT uscc, report_year FROM v_annual_reports WHERE latest AND all_zero")
    return pd.DataFrame({"uscc": frame["uscc"], "report_year": frame["report_year"].astype(int).astype(str)}).assign(
        by=by, key=""
    )


def read_warnings(path: Path, month: str) -> pd.DataFrame | None:
    """The month's early warnings (optional input: None when the file does not exist)."""
    path = Path(path)
    if not path.exists():
        return None
    frame = pd.read_parquet(path)
    missing = [c for c in WARNING_COLUMNS if c not in frame.columns]
    if missing:
        raise ReminderError(f"{path}: missing columns {missing} (expected {list(WARNING_COLUMNS)})")
    for col in ("uscc", "code", "name_zh"):
        empty = frame[col].isna() | (frame[col].astype(str).str.strip() == "")
        if empty.any():
            row = int(empty.to_numpy().nonzero()[0][0])
            raise ReminderError(f"{path}: row {row}: {col} is empty (every warning names an entity and a code)")
    other = frame["month"].astype(str) != month
    if other.any():
        row = int(other.to_numpy().nonzero()[0][0])
        raise ReminderError(f"{path}: row {row}: month {frame['month'].iloc[row]!r} is not {month!r}")
    return frame.reset_index(drop=True)


def _evidence_value(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def early_warning(warnings: pd.DataFrame | None, by: str, wordings: dict[str, dict]) -> pd.DataFrame:
    """The warnings an entity is told of (codes with a wording in reminders.yaml), in that wording, filled from
    the warning's evidence (a JSON object of indicator → value); every other code is internal and left out."""
    if warnings is None or warnings.empty:
        return _empty("early_warning")
    told = warnings[warnings["code"].astype(str).isin(wordings)]
    rows = []
    for row in told.itertuples(index=False):
        wording = wordings[row.code]
        try:
            evidence = json.loads(row.evidence) if str(row.evidence or "").strip() else {}
        except json.JSONDecodeError:
            raise ReminderError(f"warning {row.code} of {row.uscc}: evidence is not a JSON object") from None
        fields = {k.replace(".", "_"): _evidence_value(v) for k, v in evidence.items()}
        try:
            finding = wording["finding"].format_map(fields)
        except KeyError as exc:
            raise ReminderError(
                f"warning {row.code} of {row.uscc}: its evidence has no {exc.args[0]} (reminders.yaml wording; "
                f"evidence fields: {sorted(fields)})"
            ) from None
        rows.append(
            {
                "uscc": str(row.uscc),
                "warning": wording["title"],
                "evidence": finding,
                "by": by,
                "key": f"{row.code}|{finding}",
            }
        )
    return pd.DataFrame(rows) if rows else _empty("early_warning")


def _empty(item: str) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in ("uscc", *FACTS[item], "by", "key")})


def gate_mask(features: pd.DataFrame, item: str) -> pd.Series:
    """Entities (rows of ``features``) whose sealed indicators show the item; all True for ungated items."""
    mask = pd.Series(True, index=features.index)
    for indicator, low, high in GATES.get(item, []):
        if indicator not in features.columns:
            raise ReminderError(f"features.parquet: indicator {indicator} missing (it gates the item {item})")
        values = features[indicator].astype(float)
        if low is not None:
            mask &= values >= low
        if high is not None:
            mask &= values <= high
    return mask


def gate_indicators() -> list[str]:
    return sorted({ind for conditions in GATES.values() for ind, _, _ in conditions})
