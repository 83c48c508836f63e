"""Turn simulated state into raw files in the data contract, the way real exports look.

Each table is rendered to text (dates in the table's style, Chinese or English headers), a
configurable share of rows is corrupted like real exports are, and the files are written with the
table's encoding. What was corrupted is logged to the ground-truth folder, never to the raw one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskclass import codes
from riskclass.contract import Table
from riskclass.ingest.rules import parse_dates
from riskclass.uscc import corrupt_check_character

_BOOL_TEXT = {"en": ("true", "false"), "zh": ("是", "否")}


def format_dates(values: pd.Series, style: str) -> pd.Series:
    d = pd.to_datetime(values)
    if style == "iso":
        out = d.dt.strftime("%Y-%m-%d")
    elif style == "slash":
        out = d.dt.strftime("%Y/%m/%d")
    elif style == "zh":
        parts = [d.dt.year, d.dt.month, d.dt.day]
        y, m, day = (p.astype("Int64").astype("string") for p in parts)
        out = y + "年" + m + "月" + day + "日"
    else:
        raise ValueError(f"unknown date_style {style!r}; use iso, slash or zh")
    return out.astype(object).where(d.notna(), "")


def render(frame: pd.DataFrame, table: Table, fmt: dict) -> pd.DataFrame:
    """All values as text, in contract column order."""
    out = {}
    for col in table.columns:
        s = frame[col.name]
        if col.kind == "date":
            out[col.name] = format_dates(s, fmt["date_style"])
        elif col.kind == "bool":
            yes, no = _BOOL_TEXT[fmt["header"]]
            out[col.name] = s.map(lambda v, yes=yes, no=no: "" if pd.isna(v) else (yes if v else no)).astype(object)
        elif col.kind == "int":
            out[col.name] = s.map(lambda v: "" if pd.isna(v) else str(int(v))).astype(object)
        elif col.kind == "float":
            out[col.name] = s.map(lambda v: "" if pd.isna(v) else repr(float(v))).astype(object)
        elif col.kind == "code" and fmt["header"] == "zh":  # Chinese exports carry labels, not codes
            names = codes.labels(col.codes)
            out[col.name] = s.map(lambda v, names=names: "" if v is None else names.get(str(v), str(v)))
        else:
            out[col.name] = s.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    return pd.DataFrame(out)


def _corruption_kinds(table: Table) -> list[tuple[str, str | None]]:
    kinds: list[tuple[str, str | None]] = [("duplicate", None)]
    if "uscc" in table.column_names:
        kinds.append(("uscc_check", "uscc"))
    for col in table.columns:
        if col.kind == "code":
            kinds.append(("unknown_code", col.name))
        if col.kind == "industry":
            kinds.append(("unknown_industry", col.name))
        if col.kind == "date" and col.required:
            kinds.append(("impossible_date", col.name))
            if not col.future_ok:
                kinds.append(("future_date", col.name))
        if col.kind == "float" and col.min == 0.0 and col.required:
            kinds.append(("negative_amount", col.name))
        if col.required and col.kind in ("text", "key") and col.name not in table.key:
            kinds.append(("missing_required", col.name))
    for start, end in table.date_order:
        if table.column(start).required:
            kinds.append(("end_before_start", end))
    return kinds


def corrupt(
    text: pd.DataFrame, table: Table, fmt: dict, rate: float, snapshot: np.datetime64, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Corrupt about ``rate`` of the rows; return the new frame and a log of (record, kind, column)."""
    n = len(text)
    k = int(rng.binomial(n, rate)) if n else 0
    if k == 0:
        return text, pd.DataFrame(columns=["record", "kind", "column"])
    kinds = _corruption_kinds(table)
    rows = np.sort(rng.choice(n, k, replace=False))
    chosen = [kinds[i] for i in rng.integers(0, len(kinds), k)]
    text = text.copy()
    date_fmt = {"iso": "{y}-{m:02d}-{d:02d}", "slash": "{y}/{m:02d}/{d:02d}", "zh": "{y}年{m}月{d}日"}[
        fmt["date_style"]
    ]
    future = pd.Timestamp(snapshot) + pd.Timedelta(days=400)
    dup_rows = []
    for row, (kind, col) in zip(rows, chosen, strict=True):
        if kind == "duplicate":
            dup_rows.append(row)
        elif kind == "uscc_check":
            value = text.at[row, col]
            text.at[row, col] = corrupt_check_character(value) if len(value) == 18 else "91" + value
        elif kind == "unknown_code":
            text.at[row, col] = "ZZ9"
        elif kind == "unknown_industry":
            text.at[row, col] = "Z9999"
        elif kind == "impossible_date":
            text.at[row, col] = date_fmt.format(y=2023, m=2, d=30)
        elif kind == "future_date":
            text.at[row, col] = date_fmt.format(y=future.year, m=future.month, d=future.day)
        elif kind == "negative_amount":
            text.at[row, col] = "-" + (text.at[row, col] or "5.0")
        elif kind == "missing_required":
            text.at[row, col] = ""
        elif kind == "end_before_start":
            start = next(s for s, e in table.date_order if e == col)
            start_value = parse_dates(text.loc[[row], start]).iloc[0]
            earlier = start_value - pd.Timedelta(days=10)
            text.at[row, col] = date_fmt.format(y=earlier.year, m=earlier.month, d=earlier.day)
    # duplicates are inserted right after their original, shifting later records
    order = np.sort(np.r_[np.arange(n), np.array(dup_rows, dtype=int)])
    text = text.iloc[order].reset_index(drop=True)
    first_pos = np.searchsorted(order, rows)  # position of each chosen original after insertion
    is_dup = np.array([kind == "duplicate" for kind, _ in chosen])
    log = pd.DataFrame(
        {"record": first_pos + is_dup, "kind": [kind for kind, _ in chosen], "column": [col for _, col in chosen]}
    )
    return text, log


def write_table(text: pd.DataFrame, table: Table, fmt: dict, path_stem) -> str:
    """Write one raw file; return its file name."""
    header = [c.label for c in table.columns] if fmt["header"] == "zh" else table.column_names
    out = text.copy()
    out.columns = header
    if fmt["file_format"] == "parquet":
        from riskclass.io import write_parquet

        path = path_stem.with_suffix(".parquet")
        write_parquet(out, path)
        return path.name
    path = path_stem.with_suffix(".csv")
    with open(path, "w", encoding=fmt["encoding"], newline="") as fh:
        if fmt.get("title_row"):
            fh.write(f"{table.label}（导出）\n")
        out.to_csv(fh, index=False, lineterminator="\n")
    return path.name
