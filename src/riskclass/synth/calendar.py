"""Month grid of the synthetic city: month index t = 0 … M-1, the last month ending at the snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd


def _read_only(values: np.ndarray) -> np.ndarray:
    values.setflags(write=False)
    return values


@dataclass(frozen=True)
class Calendar:
    months: int
    end_month: str  # "YYYY-MM"

    # computed once: the streams ask for them in every month (read-only, so a caller cannot change the grid)
    @cached_property
    def periods(self) -> pd.PeriodIndex:
        end = pd.Period(self.end_month, freq="M")
        return pd.period_range(end - (self.months - 1), end, freq="M")

    @cached_property
    def month_start(self) -> np.ndarray:
        return _read_only(self.periods.to_timestamp(how="start").values.astype("datetime64[D]"))

    @cached_property
    def month_days(self) -> np.ndarray:
        return _read_only(self.periods.days_in_month.to_numpy())

    @property
    def snapshot_date(self) -> np.datetime64:
        return self.periods[-1].to_timestamp(how="end").to_datetime64().astype("datetime64[D]")

    @property
    def window_start(self) -> np.datetime64:
        return self.month_start[0]

    def calendar_month(self, t: int) -> int:
        return int(self.periods[t].month)

    def year(self, t: int) -> int:
        return int(self.periods[t].year)

    def label(self, t: int) -> str:
        return str(self.periods[t])

    def random_day(self, rng: np.random.Generator, t: int, n: int) -> np.ndarray:
        """n random dates within month t."""
        return self.month_start[t] + rng.integers(0, self.month_days[t], n).astype("timedelta64[D]")

    def month_index(self, dates: np.ndarray) -> np.ndarray:
        """Month index of each date (negative before the window)."""
        d = dates.astype("datetime64[M]")
        return (d - self.month_start[0].astype("datetime64[M]")).astype(int)
