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
    cols = list(contributions.columns)
    values = contributions.to_numpy()
    # stable argsort on -contribution keeps catalog order among equal contributions
    order = np.argsort(-values, axis=1, kind="stable")[:, :k]
    out = {}
    codes_matrix = np.array(cols, dtype=object)[order]
    contrib = np.take_along_axis(values, order, axis=1)
    for j in range(k):
        code_j = codes_matrix[:, j]
        shown = []
        for row, (code, c) in enumerate(zip(code_j, contrib[:, j], strict=True)):
            if c <= 0:
                shown.append("")
                continue
            v = frame[code].iat[row]
            value = v if isinstance(v, str) else f"{float(v):g}"
            shown.append(f"{names[code]} = {value} (+{c:.2f})")
        out[f"reason_{j + 1}"] = shown
    positive = contrib > 0
    out["reason_codes"] = [
        ";".join(c for c, ok in zip(row, pos, strict=True) if ok)
        for row, pos in zip(codes_matrix, positive, strict=True)
    ]
    return pd.DataFrame(out, index=frame.index)
