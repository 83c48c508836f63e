"""Monthly indicator report: coverage, missing share and distribution per indicator, Chinese labels."""

from __future__ import annotations

import html

import pandas as pd

from riskclass.indicators.catalog import Catalog
from riskclass.io import ParquetColumns


def summarise(frame: pd.DataFrame | ParquetColumns, catalog: Catalog) -> pd.DataFrame:
    """One row per indicator: labels, coverage (share ≠ default), missing share and quantiles. ``frame``: the month,
    or its file read a column at a time."""
    rows = []
    n = len(frame)
    for ind in catalog.indicators:
        col = frame[ind.code]
        row = {
            "code": ind.code,
            "名称": ind.name_zh,
            "name": ind.name_en,
            "一级指标": catalog.families[ind.family]["name_zh"],
            "二级指标": catalog.groups[ind.group]["name_zh"],
            "单位": ind.unit,
            "风险方向": {"up": "↑ 越高越高风险", "down": "↓ 越高越低风险", "none": "—"}[ind.direction],
            "missing_share": float(col.isna().mean()) if n else 0.0,
            "coverage": float((col != ind.default).mean()) if n else 0.0,
        }
        if ind.is_categorical:
            top = col.value_counts().head(3)
            row["distribution"] = ", ".join(f"{k} {v / n:.0%}" for k, v in top.items()) if n else ""
            row.update({"mean": None, "p50": None, "p90": None, "p99": None, "max": None})
        else:
            q = col.quantile([0.5, 0.9, 0.99]) if n else pd.Series([None] * 3, index=[0.5, 0.9, 0.99])
            row.update(
                {"mean": col.mean(), "p50": q[0.5], "p90": q[0.9], "p99": q[0.99], "max": col.max(), "distribution": ""}
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _number(v) -> str:
    if v is None or pd.isna(v):
        return ""
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def to_html(summary: pd.DataFrame, month: str, catalog: Catalog, entities: int) -> str:
    """A self-contained UTF-8 HTML page (renders Chinese in any browser)."""
    shown = summary.copy()
    for col in ("missing_share", "coverage"):
        shown[col] = shown[col].map(lambda v: f"{v:.1%}")
    for col in ("mean", "p50", "p90", "p99", "max"):
        shown[col] = shown[col].map(_number)
    shown = shown.rename(
        columns={
            "missing_share": "缺失率",
            "coverage": "覆盖率（非默认值占比）",
            "mean": "均值",
            "p50": "中位数",
            "p90": "P90",
            "p99": "P99",
            "max": "最大值",
            "distribution": "分布",
            "code": "指标代码",
            "name": "英文名",
        }
    )
    table = shown.to_html(index=False, escape=True, border=0, classes="ind")
    title = f"企业信用风险分类指标月报 {month}"
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:2em}}
table.ind{{border-collapse:collapse;font-size:13px}} table.ind td,table.ind th{{border:1px solid #ccc;padding:3px 6px}}
table.ind th{{background:#eef;text-align:left}} table.ind td{{text-align:left}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>统计时点：{html.escape(month)} 月末；市场主体数：{entities:,}；指标数：{len(catalog.indicators)}；
指标目录版本：{catalog.version}（SHA-256 {catalog.sha256[:12]}…）。内部资料，不对外公开。</p>
{table}
</body></html>
"""
