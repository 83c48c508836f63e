"""Column-wise accumulation of generated records (one list of arrays per column, joined once)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd


class EventLog:
    def __init__(self) -> None:
        self._columns: dict[str, list[np.ndarray]] = defaultdict(list)
        self._rows = 0

    def add(self, **columns: object) -> None:
        lengths = {len(v) for v in columns.values() if isinstance(v, np.ndarray)}
        if not lengths:
            raise ValueError("EventLog.add needs at least one array column")
        (n,) = lengths
        if n == 0:
            return
        missing = set(self._columns) - set(columns)
        if self._rows and missing:
            raise ValueError(f"columns missing from add(): {sorted(missing)}")
        for name, value in columns.items():
            arr = value if isinstance(value, np.ndarray) else np.full(n, value, dtype=object)
            self._columns[name].append(arr)
        self._rows += n

    def __len__(self) -> int:
        return self._rows

    def column(self, name: str) -> np.ndarray:
        """One column of every record added so far (the log must not be empty)."""
        return np.concatenate(self._columns[name])

    def frame(self, columns: list[str]) -> pd.DataFrame:
        if not self._rows:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        # columns never added (filled later by the caller) come back empty
        return pd.DataFrame(
            {
                c: np.concatenate(self._columns[c]) if c in self._columns else np.full(self._rows, None, dtype=object)
                for c in columns
            }
        )
