"""Reporting periods: months as ``YYYY-MM`` strings, their arithmetic, and the window a month must lie in.

The month a run is for is always an explicit input (command line, papermill parameter or the
machine-written ``period.yaml``); nothing here reads the clock.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pandas as pd

_MONTH = re.compile(r"(19|20|21)\d\d-(0[1-9]|1[0-2])")


class PeriodError(ValueError):
    """A month that is malformed or outside the window the data supports."""


def is_month(value) -> bool:
    """A real month written YYYY-MM (years 1900–2199)."""
    return isinstance(value, str) and _MONTH.fullmatch(value) is not None


def check_month(month: str, what: str = "month") -> str:
    """Return ``month`` if it is a real YYYY-MM month, else raise naming ``what``."""
    if not is_month(month):
        raise PeriodError(f"{what} must be a month written YYYY-MM (e.g. 2026-10), not {month!r}")
    return month


def month_end(month: str) -> date:
    """'2026-10' → 2026-10-31."""
    return pd.Period(check_month(month), freq="M").end_time.date()


def add_months(month: str, k: int) -> str:
    """The month ``k`` months after ``month`` (before it for negative ``k``)."""
    return str(pd.Period(check_month(month), freq="M") + k)


def previous_month(month: str) -> str:
    return add_months(month, -1)


def next_month(month: str) -> str:
    return add_months(month, 1)


def months_between(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` inclusive."""
    start, end = pd.Period(check_month(first), freq="M"), pd.Period(check_month(last), freq="M")
    if start > end:
        raise PeriodError(f"the first month {first} is after the last month {last}")
    return [str(p) for p in pd.period_range(start, end, freq="M")]


def snapshot_date(validated_dir: Path) -> date:
    """The snapshot date of the validated data (from ingest's report.json)."""
    path = Path(validated_dir) / "report.json"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no validated snapshot (run `riskclass ingest` first)")
    return date.fromisoformat(json.loads(path.read_text(encoding="utf-8"))["snapshot_date"][:10])


def check_in_window(month: str, first_month: str, snapshot: date) -> str:
    """Refuse months before the data window (``classify.first_month``) or not complete in the snapshot."""
    check_month(month)
    if month < first_month:
        raise PeriodError(
            f"month {month} is before the data window, which starts at {first_month} (params classify.first_month)"
        )
    if month_end(month) > snapshot:
        raise PeriodError(
            f"month {month} ends on {month_end(month)}, after the data snapshot of {snapshot}: "
            "a month is classified only once the snapshot covers it whole"
        )
    return month
