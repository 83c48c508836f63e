"""Monthly classification summary and the HTML report (Chinese labels)."""

from __future__ import annotations

import html

import pandas as pd

from riskclass import codes
from riskclass.codes import CLASSES

CLASS_NAMES = {"A": "A 信用风险低", "B": "B 信用风险一般", "C": "C 信用风险较高", "D": "D 信用风险高"}
TYPE_NAMES = {"enterprise": "企业", "individual": "个体工商户", "cooperative": "农民专业合作社"}


def _shares(frame: pd.DataFrame, by: str) -> dict:
    tab = pd.crosstab(frame[by], frame["class"]).reindex(columns=list(CLASSES), fill_value=0)
    return {str(k): {c: int(v) for c, v in row.items()} for k, row in tab.iterrows()}


def summarise(
    result: pd.DataFrame, previous: pd.DataFrame | None, overrides: list[dict], indicator_names: dict[str, str]
) -> dict:
    counts = result["class"].value_counts().reindex(list(CLASSES), fill_value=0)
    model_counts = result["model_class"].value_counts().reindex(list(CLASSES), fill_value=0)
    summary = {
        "month": str(result["month"].iloc[0]) if len(result) else "",
        "entities": len(result),
        "model_version": str(result["model_version"].iloc[0]) if len(result) else "",
        "classes": {c: int(v) for c, v in counts.items()},
        "model_classes": {c: int(v) for c, v in model_counts.items()},
        "overrides": {r["id"]: int((result["override"] == r["id"]).sum()) for r in overrides},
        "override_names": {r["id"]: r["name_zh"] for r in overrides},
        "by_district": _shares(result, "district"),
        "by_section": _shares(result, "section"),
        "by_entity_type": _shares(result, "entity_type"),
        "top_reasons": {
            code: {"name": indicator_names.get(code, code), "entities": int(n)}
            for code, n in result["reason_codes"]
            .str.split(";")
            .explode()
            .loc[lambda x: x != ""]
            .value_counts()
            .head(10)
            .items()
        },
    }
    if previous is not None:
        merged = (
            previous[["uscc", "class"]]
            .merge(result[["uscc", "class"]], on="uscc", how="outer", suffixes=("_prev", "_now"))
            .fillna("—")
        )
        tab = pd.crosstab(merged["class_prev"], merged["class_now"])
        keys = [*CLASSES, "—"]
        tab = tab.reindex(index=keys, columns=keys, fill_value=0)
        summary["previous_month"] = str(previous["month"].iloc[0])
        summary["transitions"] = {r: {c: int(tab.at[r, c]) for c in keys} for r in keys}
    return summary


def _table(rows: dict, row_label: str, names: dict | None = None) -> str:
    head = "".join(f"<th>{html.escape(CLASS_NAMES[c])}</th>" for c in CLASSES)
    body = []
    for key, counts in rows.items():
        total = sum(counts.values()) or 1
        cells = "".join(f"<td>{counts[c]:,}（{counts[c] / total:.1%}）</td>" for c in CLASSES)
        label = names.get(key, key) if names else key
        body.append(f"<tr><td>{html.escape(str(label))}</td>{cells}<td>{total:,}</td></tr>")
    return f"<table><tr><th>{html.escape(row_label)}</th>{head}<th>合计</th></tr>{''.join(body)}</table>"


def render_html(s: dict) -> str:
    divisions = codes.labels("divisions")
    sections = {k: v["name"] for k, v in codes.code_lists()["industry_sections"].items()}
    title = f"企业信用风险分类结果 {s['month']}"
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>市场主体数：{s['entities']:,}；模型版本：v{html.escape(s['model_version'])}。"
        "分类结果仅供内部监管使用，不对外公开（不评价、不惩戒、不公开、不免抽）。</p>",
        "<h2>分类结果总体分布</h2>",
        _table({"调整后": s["classes"], "模型原始": s["model_classes"]}, "口径"),
        "<h2>规则调整（override）</h2><table><tr><th>规则</th><th>触发调整的主体数</th></tr>"
        + "".join(
            f"<tr><td>{html.escape(s['override_names'][k])}</td><td>{v:,}</td></tr>" for k, v in s["overrides"].items()
        )
        + "</table>",
    ]
    if "transitions" in s:
        keys = [*CLASSES, "—"]
        head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
        rows = "".join(
            f"<tr><th>{html.escape(r)}</th>" + "".join(f"<td>{s['transitions'][r][c]:,}</td>" for c in keys) + "</tr>"
            for r in keys
        )
        parts.append(
            f"<h2>与上月（{html.escape(s['previous_month'])}）相比的类别迁移</h2>"
            f"<p>行：上月类别；列：本月类别；“—”表示新增或退出。</p><table><tr><th></th>{head}</tr>{rows}</table>"
        )
    parts += [
        "<h2>按县（市、区）</h2>",
        _table(s["by_district"], "县（市、区）", divisions),
        "<h2>按行业门类</h2>",
        _table(s["by_section"], "行业门类", {k: f"{k} {v}" for k, v in sections.items()}),
        "<h2>按主体类型</h2>",
        _table(s["by_entity_type"], "主体类型", TYPE_NAMES),
        "<h2>最常见的风险原因</h2><table><tr><th>指标</th><th>主体数</th></tr>"
        + "".join(
            f"<tr><td>{html.escape(v['name'])}</td><td>{v['entities']:,}</td></tr>" for v in s["top_reasons"].values()
        )
        + "</table>",
    ]
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f'<title>{html.escape(title)}</title><style>body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",'
        "sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #ccc;"
        "padding:3px 8px;text-align:right}th{background:#eef}</style></head><body>"
        + "".join(parts)
        + "</body></html>\n"
    )
