"""Point-in-time reads of the validated tables for the domain graders: records dated on or before the month end."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from riskclass import contract
from riskclass.io import read_present
from riskclass.periods import add_months, month_end

# validated tables the graders read (besides the month's indicator snapshot)
SOURCE_TABLES = (
    "food_licences",
    "food_sampling",
    "food_inspections",
    "drug_retail_licences",
    "pharmacy_inspections",
    "special_equipment",
    "equipment_inspections",
    "equipment_accidents",
    "penalties",
    "complaints",
)
# general indicators of the month's snapshot the graders use
FEATURES = {
    "serious_listed": "SUP.SER.listed_now",
    "abnormal_listed": "SUP.ABN.listed_now",
    "report_filed": "DYN.AR.latest_filed",
    "report_not_due": "DYN.AR.not_yet_due",
    "age_years": "BAS.AGE.years",
    "employees": "BAS.SCALE.employees",
}


class Sources:
    def __init__(self, validated_dir: Path, month: str, features: pd.DataFrame | Path):
        """``features``: the month's indicator snapshot, or the path of its Parquet file (only its few columns
        used here are read)."""
        self.dir, self.month = Path(validated_dir), month
        self.end = np.datetime64(month_end(month), "D")
        general = read_present(features, ["uscc", *FEATURES.values()]).rename(
            columns={v: k for k, v in FEATURES.items()}
        )
        self.general = general.set_index("uscc")

    def since(self, months: int) -> np.datetime64:
        """First day counted by a window of ``months`` months ending at the month end."""
        return np.datetime64(month_end(add_months(self.month, -months)), "D") + np.timedelta64(1, "D")

    def table(self, name: str) -> pd.DataFrame:
        """A validated table; an empty one with the contract's columns when the snapshot did not supply it."""
        path = self.dir / f"{name}.parquet"
        if path.exists():
            return pd.read_parquet(path)
        return pd.DataFrame({c: pd.Series(dtype=object) for c in contract.table(name).column_names})

    def events(self, name: str, date_col: str, months: int) -> pd.DataFrame:
        """Rows of ``name`` dated within the last ``months`` months up to the month end (empty if absent)."""
        t = self.table(name)
        d = t[date_col].to_numpy().astype("datetime64[D]")
        return t[(d <= self.end) & (d >= self.since(months))]

    def in_effect(self, name: str, start: str, ends: tuple[str, ...]) -> pd.DataFrame:
        """Rows started on or before the month end and not ended by it (any of ``ends``)."""
        t = self.table(name)
        keep = t[start].to_numpy().astype("datetime64[D]") <= self.end
        for col in ends:
            e = t[col].to_numpy().astype("datetime64[D]")
            keep &= np.isnat(e) | (e >= self.end)
        return t[keep]

    def count(self, frame: pd.DataFrame, mask=None) -> pd.Series:
        """Rows per uscc (of ``frame`` where ``mask``)."""
        f = frame if mask is None else frame[np.asarray(mask, dtype=bool)]
        return f.groupby("uscc").size()

    @cached_property
    def substantiated(self) -> pd.DataFrame:
        c = self.events("complaints", "received_date", 24)
        return c[c["substantiated"].fillna(False).astype(bool)]

    def substantiated_within(self, months: int) -> pd.Series:
        c = self.substantiated
        return self.count(c, c["received_date"].to_numpy().astype("datetime64[D]") >= self.since(months))

    def penalties(self, violation_type: str, months: int) -> pd.Series:
        p = self.events("penalties", "decision_date", months)
        return self.count(p, p["violation_type"] == violation_type)


def attach(rows: pd.DataFrame, name: str, counts: pd.Series) -> None:
    """Set column ``name`` of ``rows`` (indexed by uscc order) from per-uscc counts, 0 where absent."""
    rows[name] = rows["uscc"].map(counts).fillna(0).astype(float).to_numpy()
