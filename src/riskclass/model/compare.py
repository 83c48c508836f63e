"""Side-by-side comparison of two registered model versions for reviewers.

Either side may be a version number or an alias; both are resolved first, so a reference that does
not exist raises ``registry.RegistryError`` before anything is loaded.
"""

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


def _label(ref: str, version: str) -> str:
    """'v3' for a number, 'v3 (champion)' for an alias."""
    ref = str(ref).strip()
    return f"v{version}" if ref.lstrip("vV").isdigit() else f"v{version} ({ref})"


def compare(p: dict, a: str, b: str, month: str) -> dict:
    rp = p["registry"]
    va, vb = registry.resolve_version(rp, a), registry.resolve_version(rp, b)
    la, lb = _label(a, va), _label(b, vb)
    if la == lb:  # the same version twice: keep the two sides apart in every table
        la, lb = f"{la} [A]", f"{lb} [B]"
    ma, mb = registry.load_version(rp, va), registry.load_version(rp, vb)
    frame = load_month(p["features"]["out_dir"], month)
    ca, cb = ma.risk_class(frame), mb.risk_class(frame)
    migration = pd.crosstab(pd.Series(ca, name=la), pd.Series(cb, name=lb)).reindex(
        index=list(CLASSES), columns=list(CLASSES), fill_value=0
    )
    qa, qb = registry.version_metrics(rp, va), registry.version_metrics(rp, vb)
    metrics = pd.DataFrame({la: [qa.get(m) for m in _METRICS], lb: [qb.get(m) for m in _METRICS]}, index=_METRICS)
    ia, ib = ma.importance(), mb.importance()
    imp = pd.DataFrame({la: ia, lb: ib}).fillna(0)
    imp["difference"] = imp[lb] - imp[la]
    imp = imp.reindex(imp["difference"].abs().sort_values(ascending=False).index).head(20)
    return {
        "month": month,
        "versions": (va, vb),
        "labels": (la, lb),
        "metrics": metrics,
        "migration": migration,
        "importance": imp,
        "same_class_share": float((ca == cb).mean()),
    }


def to_html(result: dict, a: str, b: str) -> str:
    la, lb = result.get("labels", (f"v{a}", f"v{b}"))
    title = f"模型版本对比 {la} vs {lb}（{result['month']}）"
    return f"""<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em}}
table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}</style></head><body>
<h1>{html.escape(title)}</h1>
<h2>验证指标 Metrics (out of time)</h2>{result["metrics"].to_html(float_format=lambda x: f"{x:.4f}")}
<h2>分类迁移矩阵 Class migration on {html.escape(result["month"])}</h2>
<p>同类占比 same class: {result["same_class_share"]:.1%}（行：{html.escape(la)}，列：{html.escape(lb)}）</p>
{result["migration"].to_html()}
<h2>指标重要性变化 Importance differences (top 20)</h2>{result["importance"].to_html(float_format=lambda x: f"{x:.2f}")}
</body></html>
"""
