"""Per-entity reasons: the indicators that pushed the score up most, with Chinese names and values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskclass.indicators.catalog import Catalog


def top_reasons(contributions: pd.DataFrame, frame: pd.DataFrame, catalog: Catalog, k: int) -> pd.DataFrame:
    """Columns reason_1..k ("名称 = 值 (+贡献)") and reason_codes ("code;code;…").

    Only positive contributions count as reasons (what made the entity riskier than average);
    ties break by catalog order, so the result is deterministic.
    """
    names = {i.code: i.name_zh for i in catalog.indicators}
    cols = np.array(contributions.columns, dtype=object)
    values = contributions.to_numpy()
    order = _top_k(values, k)
    contrib = np.take_along_axis(values, order, axis=1)
    n = len(values)
    out = {}
    for j in range(k):
        rows = np.flatnonzero(contrib[:, j] > 0)
        picked = order[rows, j]
        shown_values = _values_at(frame, cols, rows, picked)
        texts = [
            f"{names[code]} = {v if isinstance(v, str) else f'{float(v):g}'} (+{c:.2f})"
            for code, v, c in zip(cols[picked], shown_values, contrib[rows, j], strict=True)
        ]
        shown = np.full(n, "", dtype=object)
        shown[rows] = texts
        out[f"reason_{j + 1}"] = shown
    positive = contrib > 0
    codes_matrix = cols[order]
    out["reason_codes"] = [
        ";".join(c for c, ok in zip(row, pos, strict=True) if ok)
        for row, pos in zip(codes_matrix, positive, strict=True)
    ]
    return pd.DataFrame(out, index=frame.index)


def _top_k(values: np.ndarray, k: int) -> np.ndarray:
    """The column indices of each row's ``k`` largest values, largest first, the lower column first among equal
    values: what a stable argsort of ``-values`` gives, by ``k`` passes of argmax instead of a sort of every row."""
    work = values.copy()
    order = np.empty((len(values), min(k, values.shape[1])), dtype=np.int64)
    rows = np.arange(len(values))
    for j in range(order.shape[1]):
        order[:, j] = np.argmax(work, axis=1)  # the first index among equal maxima
        work[rows, order[:, j]] = -np.inf
    return order


def _values_at(frame: pd.DataFrame, cols: np.ndarray, rows: np.ndarray, picked: np.ndarray) -> np.ndarray:
    """``frame[cols[picked[i]]]`` at row ``rows[i]`` for every i, read one indicator column at a time."""
    out = np.empty(len(rows), dtype=object)
    for column in np.unique(picked):
        hit = picked == column
        out[hit] = frame[cols[column]].to_numpy()[rows[hit]]
    return out
