"""Charts of a sealed month for the monthly class report (notebooks/40_classify.ipynb).

Everything here reads what a record already holds — its ``report.json`` summary, ``classes.parquet`` and
``params.json`` (the bands and override rules used for that month) — and never writes into it. Each chart
function takes the summary or the classes and returns a matplotlib ``Figure`` (``None`` when the month has
nothing to draw, e.g. no previous month to compare with), so the notebook only displays them. Call
``riskclass.reporting.use_cjk_font()`` before drawing: the labels are Chinese.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from riskclass import codes
from riskclass.classify.report import CLASS_NAMES, TYPE_NAMES
from riskclass.codes import CLASSES
from riskclass.records import Record
from riskclass.reporting import CLASS_COLOURS

# one colour per class wherever a class is drawn: green (low risk) → blue → orange → red (high risk)
NEW_OR_GONE = "—"  # the summary's key for entities new this month (row) or gone since last month (column)
SCORE_BIN_WIDTH = 20  # points per histogram bar on the 0–1000 score (50 bars)
# row shares on the diagonal are ~95 %: a power scale keeps the few per cent that move visible
TRANSITION_GAMMA = 0.35
TALL_BAR_RATIO = 3  # a score bar this many times the next tallest is cut off, its count written on it


@dataclass(frozen=True)
class MonthView:
    """What the report shows of one sealed month (read-only copies of the record's files)."""

    month: str
    summary: dict  # report.json
    classes: pd.DataFrame  # classes.parquet: uscc, score, model_class, class, override, district, section, entity_type
    bands: dict[str, float]  # params.json: lower score bound of each class
    override_rules: list[dict]  # params.json: id, name_zh, min_class …
    domains: dict | None = None  # domain_summary.json (通用+专业 grades); None for a record sealed without them
    domain_labels: dict[str, str] | None = None  # domain_tables.json: the Chinese name of each domain


def read_month(record: Record) -> MonthView:
    """The summary, classes and parameters sealed in ``record`` (nothing is recomputed)."""
    summary = json.loads((record.path / "report.json").read_text(encoding="utf-8"))
    used = json.loads((record.path / "params.json").read_text(encoding="utf-8"))
    columns = ["uscc", "score", "model_class", "class", "override", "district", "section", "entity_type"]
    classes = pd.read_parquet(record.classes_path, columns=columns)
    domains, labels = None, None
    if (record.path / "domain_summary.json").exists():
        domains = json.loads((record.path / "domain_summary.json").read_text(encoding="utf-8"))["domains"]
        tables = json.loads((record.path / "domain_tables.json").read_text(encoding="utf-8"))
        labels = {d: t.get("label", d) for d, t in tables.items()}
    return MonthView(record.month, summary, classes, dict(used["bands"]), list(used["overrides"]), domains, labels)


def _figure(width: float, height: float):
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def _close(fig):
    """Detach the figure from pyplot so a notebook shows it once (as the returned object), not twice."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    plt.close(fig)
    return fig


def headline(summary: dict) -> dict:
    """Key figures of the month: entities, share per class and change of each share since last month (points)."""
    total = summary["entities"] or 1
    shares = {c: summary["classes"][c] / total for c in CLASSES}
    out = {"month": summary["month"], "entities": summary["entities"], "shares": shares}
    if "transitions" in summary:
        t = summary["transitions"]
        before = {c: sum(t[c].values()) for c in CLASSES}
        before_total = sum(before.values()) or 1
        out["previous_month"] = summary["previous_month"]
        out["change_points"] = {c: 100 * (shares[c] - before[c] / before_total) for c in CLASSES}
        out["worse"] = sum(t[r][c] for i, r in enumerate(CLASSES) for c in CLASSES[i + 1 :])
        out["better"] = sum(t[r][c] for i, r in enumerate(CLASSES) for c in CLASSES[:i])
        out["new"] = sum(t[NEW_OR_GONE][c] for c in CLASSES)
        out["gone"] = sum(t[r][NEW_OR_GONE] for r in CLASSES)
    return out


def class_shares(summary: dict):
    """Bars of entities per class after the override rules, beside the model's own classes."""
    fig, ax = _figure(8, 3.8)
    x = np.arange(len(CLASSES))
    total = summary["entities"] or 1
    final = [summary["classes"][c] for c in CLASSES]
    model = [summary["model_classes"][c] for c in CLASSES]
    colours = [CLASS_COLOURS[c] for c in CLASSES]
    bars = ax.bar(x - 0.2, final, width=0.4, color=colours, label="调整后 final")
    ax.bar(x + 0.2, model, width=0.4, color=colours, alpha=0.35, hatch="//", edgecolor="white", label="模型原始 model")
    for bar, n in zip(bars, final, strict=True):
        ax.annotate(f"{n:,}\n{n / total:.1%}", (bar.get_x() + bar.get_width() / 2, n), ha="center", va="bottom")
    ax.set_xticks(x, [CLASS_NAMES[c] for c in CLASSES])
    ax.set_ylabel("市场主体数")
    ax.set_ylim(0, max(*final, *model, 1) * 1.25)
    ax.set_title(f"{summary['month']} 各类别主体数（共 {summary['entities']:,} 户）")
    ax.legend(loc="upper right")
    return _close(fig)


def score_distribution(classes: pd.DataFrame, bands: dict[str, float], bin_width: int = SCORE_BIN_WIDTH):
    """Histogram of the risk score (0–1000), each bar coloured by its model class, with the band edges marked."""
    fig, ax = _figure(10, 3.8)
    scores = classes["score"].astype(float)
    top = max(1000.0, float(scores.max()) if len(scores) else 0.0)
    edges = np.arange(0, top + bin_width, bin_width)
    lower = [float(bands[c]) for c in CLASSES]
    upper = [*lower[1:], np.inf]
    for c, lo, hi in zip(CLASSES, lower, upper, strict=True):
        part = scores[(scores >= lo) & (scores < hi)]
        ax.hist(part, bins=edges, color=CLASS_COLOURS[c], label=f"{CLASS_NAMES[c]}（≥{lo:g}）")
    # scores are clipped at 0 and 1000, so the end bars can dwarf the rest: cut the axis and write their counts
    counts, _ = np.histogram(scores, bins=edges)
    ordered = np.sort(counts)
    if len(ordered) > 1 and ordered[-1] > TALL_BAR_RATIO * max(ordered[-2], 1):
        cap = ordered[-2] * 1.3
        ax.set_ylim(0, cap)
        for i in np.flatnonzero(counts > cap):
            ax.annotate(f"↑{counts[i]:,}", (edges[i], cap), xytext=(2, -14), textcoords="offset points", fontsize=8,
                        bbox={"fc": "white", "ec": "none", "alpha": 0.8})  # fmt: skip
    for c, lo in zip(CLASSES[1:], lower[1:], strict=True):
        ax.axvline(lo, color="black", linestyle="--", linewidth=1)
        ax.annotate(f"{c} {lo:g}", (lo, 1), xycoords=("data", "axes fraction"), xytext=(3, -12),
                    textcoords="offset points")  # fmt: skip
    ax.set_xlim(0, top)
    ax.set_xlabel("风险分值 risk score（越高风险越大）")
    ax.set_ylabel("市场主体数")
    ax.set_title("风险分值分布与分类界限（模型原始类别，规则调整前）")
    ax.legend(fontsize=8)
    return _close(fig)


def shares_by(rows: dict[str, dict[str, int]], names: dict[str, str], title: str):
    """100 % stacked bars of the class shares of each group (district, entity type …), labelled with its size."""
    from matplotlib.ticker import PercentFormatter

    groups = list(rows)
    height = 0.45 * len(groups) + 1.6
    fig, ax = _figure(10, height)
    totals = {g: sum(rows[g].values()) or 1 for g in groups}
    y = np.arange(len(groups))[::-1]  # first group on top
    left = np.zeros(len(groups))
    for c in CLASSES:
        share = np.array([rows[g][c] / totals[g] for g in groups])
        ax.barh(y, share, left=left, color=CLASS_COLOURS[c], label=CLASS_NAMES[c])
        for yi, lo, s in zip(y, left, share, strict=True):
            if s >= 0.06:  # a narrower segment has no room for its label
                ax.text(lo + s / 2, yi, f"{s:.0%}", ha="center", va="center", color="white", fontsize=8)
        left += share
    ax.set_yticks(y, [f"{names.get(g, g)}（{sum(rows[g].values()):,}）" for g in groups])
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_title(title)
    ax.legend(ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.12 if len(groups) > 4 else -0.25), fontsize=8)
    return _close(fig)


def shares_by_district(summary: dict):
    return shares_by(summary["by_district"], codes.labels("divisions"), "各县（市、区）类别构成（括号内为主体数）")


def shares_by_entity_type(summary: dict):
    return shares_by(summary["by_entity_type"], TYPE_NAMES, "各类主体（企业 / 个体工商户 / 农民专业合作社）类别构成")


def transition_matrix(summary: dict) -> pd.DataFrame | None:
    """Entities by last month's class (rows) and this month's (columns), A–D only; None without a previous month."""
    if "transitions" not in summary:
        return None
    t = summary["transitions"]
    return pd.DataFrame([[t[r][c] for c in CLASSES] for r in CLASSES], index=list(CLASSES), columns=list(CLASSES))


def transition_heatmap(summary: dict):
    """Heat map of the A–D × A–D move matrix: colour = share of last month's class, text = entities and share."""
    from matplotlib.colors import PowerNorm
    from matplotlib.ticker import PercentFormatter

    matrix = transition_matrix(summary)
    if matrix is None:
        return None
    shares = matrix.div(matrix.sum(axis=1).replace(0, 1), axis=0)
    fig, ax = _figure(6.5, 5.2)
    image = ax.imshow(shares.to_numpy(), cmap="Blues", norm=PowerNorm(TRANSITION_GAMMA, vmin=0, vmax=1))
    for i, r in enumerate(CLASSES):
        for j, c in enumerate(CLASSES):
            dark = shares.at[r, c] > 0.3
            ax.text(j, i, f"{matrix.at[r, c]:,}\n{shares.at[r, c]:.1%}", ha="center", va="center", fontsize=9,
                    color="white" if dark else "black")  # fmt: skip
    ax.set_xticks(range(len(CLASSES)), [f"本月 {c}" for c in CLASSES])
    ax.set_yticks(range(len(CLASSES)), [f"上月 {c}" for c in CLASSES])
    ax.set_title(f"类别迁移：{summary['previous_month']} → {summary['month']}（颜色为占上月该类的比例）")
    fig.colorbar(image, ax=ax, format=PercentFormatter(1.0, decimals=0), shrink=0.8)
    return _close(fig)


def override_table(view: MonthView) -> pd.DataFrame:
    """Per override rule: the class it sets at least, and how many entities it raised from each model class."""
    raised = view.classes[view.classes["override"] != ""]
    tab = pd.crosstab(raised["override"], raised["model_class"]).reindex(columns=list(CLASSES), fill_value=0)
    rows = []
    for rule in view.override_rules:
        counts = tab.loc[rule["id"]] if rule["id"] in tab.index else pd.Series(0, index=list(CLASSES))
        rows.append({"规则": rule["name_zh"], "至少调整为": rule["min_class"],
                     **{f"原为 {c}": int(counts[c]) for c in CLASSES}, "合计": int(counts.sum())})  # fmt: skip
    return pd.DataFrame(rows)


def overrides_chart(view: MonthView):
    """Horizontal bars: entities each override rule raised, split by the model class they were raised from."""
    table = override_table(view)
    if table.empty or not table["合计"].any():
        return None
    table = table.sort_values("合计", kind="stable")
    fig, ax = _figure(10, 0.5 * len(table) + 1.6)
    y = np.arange(len(table))
    left = np.zeros(len(table))
    for c in CLASSES:
        n = table[f"原为 {c}"].to_numpy()
        if n.any():
            ax.barh(y, n, left=left, color=CLASS_COLOURS[c], label=f"模型原为 {c}")
            left += n
    for yi, total in zip(y, table["合计"], strict=True):
        ax.annotate(f"{total:,}", (total, yi), xytext=(3, 0), textcoords="offset points", va="center")
    ax.set_yticks(y, [f"{r}（→≥{m}）" for r, m in zip(table["规则"], table["至少调整为"], strict=True)])
    ax.set_xlim(0, max(float(left.max()), 1) * 1.15)
    ax.set_xlabel("被规则调高类别的主体数")
    ax.set_title("规则调整（override）：按模型原始类别")
    ax.legend(fontsize=8, loc="lower right")
    return _close(fig)


def top_reasons_chart(summary: dict):
    """Horizontal bars of the indicators most often among an entity's top reasons for a higher score."""
    reasons = summary.get("top_reasons") or {}
    if not reasons:
        return None
    items = sorted(reasons.items(), key=lambda kv: (kv[1]["entities"], kv[0]))
    fig, ax = _figure(10, 0.45 * len(items) + 1.4)
    y = np.arange(len(items))
    counts = [v["entities"] for _, v in items]
    ax.barh(y, counts, color="#5b6c8f")
    total = summary["entities"] or 1
    for yi, n in zip(y, counts, strict=True):
        ax.annotate(f"{n:,}（{n / total:.0%}）", (n, yi), xytext=(3, 0), textcoords="offset points", va="center")
    ax.set_yticks(y, [f"{v['name']}  {code}" for code, v in items], fontsize=8)
    ax.set_xlim(0, max(counts) * 1.2)
    ax.set_xlabel("列为前几位风险原因的主体数")
    ax.set_title("最常见的风险原因（推高分值的指标）")
    return _close(fig)


def domain_grade_shares(view: MonthView):
    """通用+专业: 100 % bars of each professional domain's grades A–D (food, drug retail, special equipment), or
    None for a record sealed without domain grades."""
    if not view.domains:
        return None
    rows = {d: dict(view.domains[d]["counts"]) for d in sorted(view.domains) if view.domains[d]["entities"]}
    if not rows:
        return None
    names = {d: (view.domain_labels or {}).get(d, d) for d in rows}
    return shares_by(rows, names, f"{view.month} 专业领域风险分级（食品 / 药品零售 / 特种设备；括号内为主体数）")


def domain_table(view: MonthView) -> pd.DataFrame | None:
    """Per domain: entities graded, grade counts, grades set by the serious-violation list, always-key users."""
    if not view.domains:
        return None
    rows = []
    for d in sorted(view.domains):
        s = view.domains[d]
        rows.append(
            {
                "领域": (view.domain_labels or {}).get(d, d),
                "主体数": s["entities"],
                **{f"{c} 级": s["counts"].get(c, 0) for c in CLASSES},
                "严重违法失信直接定D": s.get("overrides", 0),
                "重点监管对象": s.get("always_key", 0),
            }
        )
    return pd.DataFrame(rows)
