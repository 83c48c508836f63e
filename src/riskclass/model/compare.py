"""Side-by-side comparison of two registered model versions for reviewers."""

from __future__ import annotations

import html

import pandas as pd

from riskclass.indicators import load_month
from riskclass.model import registry
from riskclass.model.scoring import CLASSES

_METRICS = [
    "oot_auc",
    "oot_ks",
    "oot_pr_auc",
    "oot_brier",
    "scorecard_oot_auc",
    "random_draws_ipw_auc",
    "truth_model_auc",
    "truth_oracle_auc",
] + [f"class_{c}_{k}" for c in CLASSES for k in ("share", "event_rate")]


def compare(p: dict, a: str, b: str, month: str) -> dict:
    rp = p["registry"]
    ma, mb = registry.load_version(rp, a), registry.load_version(rp, b)
    frame = load_month(p["features"]["out_dir"], month)
    ca, cb = ma.risk_class(frame), mb.risk_class(frame)
    migration = pd.crosstab(pd.Series(ca, name=f"v{a}"), pd.Series(cb, name=f"v{b}")).reindex(
        index=list(CLASSES), columns=list(CLASSES), fill_value=0
    )
    qa, qb = registry.version_metrics(rp, a), registry.version_metrics(rp, b)
    metrics = pd.DataFrame(
        {f"v{a}": [qa.get(m) for m in _METRICS], f"v{b}": [qb.get(m) for m in _METRICS]}, index=_METRICS
    )
    ia, ib = ma.importance(), mb.importance()
    imp = pd.DataFrame({f"v{a}": ia, f"v{b}": ib}).fillna(0)
    imp["difference"] = imp[f"v{b}"] - imp[f"v{a}"]
    imp = imp.reindex(imp["difference"].abs().sort_values(ascending=False).index).head(20)
    return {
        "month": month,
        "metrics": metrics,
        "migration": migration,
        "importance": imp,
        "same_class_share": float((ca == cb).mean()),
    }


def to_html(result: dict, a: str, b: str) -> str:
    title = f"模型版本对比 v{a} vs v{b}（{result['month']}）"
    return f"""<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em}}
table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}</style></head><body>
<h1>{html.escape(title)}</h1>
<h2>验证指标 Metrics (out of time)</h2>{result["metrics"].to_html(float_format=lambda x: f"{x:.4f}")}
<h2>分类迁移矩阵 Class migration on {html.escape(result["month"])}</h2>
<p>同类占比 same class: {result["same_class_share"]:.1%}（行：v{a}，列：v{b}）</p>{result["migration"].to_html()}
<h2>指标重要性变化 Importance differences (top 20)</h2>{result["importance"].to_html(float_format=lambda x: f"{x:.2f}")}
</body></html>
"""
