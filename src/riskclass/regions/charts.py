"""Charts of the regional analysis (notebooks/63_regions.ipynb) and the county charts of the monthly class report.

Each function takes the tables ``riskclass regions`` wrote (``data/regions/<M>/``) or a month's classes and
returns a matplotlib ``Figure`` (None when there is nothing to draw). Call ``riskclass.reporting.use_cjk_font()``
first: the labels are Chinese.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskclass import codes
from riskclass.classify.charts import shares_by
from riskclass.codes import CLASSES
from riskclass.maps import county_map, diverging_norm
from riskclass.regions.levels import LEVELS_BY_NAME, composition

COUNTY_NAMES = codes.labels("divisions")
SECTION_NAMES = codes.labels("industry_sections")
ESTIMATES_ZH = {"event_raw": "原始事件率 raw", "event_shrunk": "收缩估计 shrunk"}
MAP_MIN_SPAN = 0.02  # counties within 2 points of the city look alike on the maps


def _close(fig):
    import matplotlib.pyplot as plt

    fig.tight_layout()
    plt.close(fig)
    return fig


def level(cells: pd.DataFrame, name: str) -> pd.DataFrame:
    return cells[cells["level"] == name].reset_index(drop=True)


def county_section_heatmap(
    cells: pd.DataFrame, value: str, reference: float, min_entities: int, title: str, fmt: str = "{:.0%}"
):
    """Counties (rows) × industry sections (columns) coloured by ``value`` around the city's ``reference``;
    cells with fewer than ``min_entities`` entities are greyed (their figure is written small)."""
    import matplotlib.pyplot as plt

    t = level(cells, "county_section")
    if t.empty:
        return None
    grid = t.pivot(index="district", columns="section", values=value).sort_index().sort_index(axis=1)
    size = t.pivot(index="district", columns="section", values="entities").reindex_like(grid).fillna(0)
    norm = diverging_norm(grid.to_numpy(dtype=float).ravel(), reference, MAP_MIN_SPAN)
    shown = grid.where(size >= min_entities)
    fig, ax = plt.subplots(figsize=(1.2 + 0.62 * grid.shape[1], 1.6 + 0.5 * grid.shape[0]))
    image = ax.imshow(shown.to_numpy(dtype=float), cmap="RdYlGn_r", norm=norm, aspect="auto")
    ax.imshow(np.where(size.to_numpy() < min_entities, 1.0, np.nan), cmap="Greys", vmin=0, vmax=5, aspect="auto")
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            v = grid.iat[i, j]
            if np.isnan(v):
                continue
            small = size.iat[i, j] < min_entities
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=6 if small else 7.5,
                    color="#888888" if small else "black")  # fmt: skip
    ax.set_xticks(range(grid.shape[1]), [f"{s} {SECTION_NAMES.get(s, s)[:4]}" for s in grid.columns], rotation=60,
                  ha="right", fontsize=8)  # fmt: skip
    ax.set_yticks(range(grid.shape[0]), [COUNTY_NAMES.get(d, d) for d in grid.index])
    ax.set_title(title)
    fig.colorbar(image, ax=ax, shrink=0.7, format=lambda v, _: fmt.format(v))
    return _close(fig)


def hot_spot_intervals(cells: pd.DataFrame, city_rate: float, min_entities: int, n: int = 15):
    """The ``n`` county × section cells with the highest shrunk event rate: credible interval, shrunk estimate
    (dot) and raw rate (ring) — a small cell's raw rate far out on its own is what shrinkage discounts."""
    import matplotlib.pyplot as plt

    t = level(cells, "county_section")
    t = t[t["entities"] >= min_entities].sort_values(["event_shrunk", "cell"], ascending=[False, True]).head(n)
    if t.empty:
        return None
    y = np.arange(len(t))[::-1]
    fig, ax = plt.subplots(figsize=(9, 0.38 * len(t) + 1.4))
    ax.hlines(y, t["event_low"], t["event_high"], color="#c0392b", linewidth=3, alpha=0.45, label="90% 可信区间")
    ax.plot(t["event_shrunk"], y, "o", color="#c0392b", label="收缩估计 shrunk")
    ax.plot(t["event_raw"], y, "o", mfc="none", color="black", label="原始比率 raw")
    ax.axvline(city_rate, color="grey", linestyle="--", label=f"全市 city {city_rate:.1%}")
    ax.set_yticks(y, [f"{r.name_zh}（{int(r.entities):,}）" for r in t.itertuples()], fontsize=8)
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_xlabel("12个月内不良监管事件发生率 adverse-event rate")
    ax.set_title("高风险区域（区县×行业门类）：收缩估计及其区间（括号内为主体数）")
    ax.legend(fontsize=8, loc="lower right")
    return _close(fig)


def county_maps(cells: pd.DataFrame, city_rate: float, city_share_cd: float, tiles: dict | None):
    """Two county maps: the shrunk event rate and this month's share of classes C + D, each against the city."""
    t = level(cells, "county")
    rate = county_map(
        dict(zip(t["district"], t["event_shrunk"], strict=True)), COUNTY_NAMES, "各县（市、区）不良事件率（收缩估计）",
        tiles, legend="事件率（黑线为全市）", reference=city_rate, min_span=MAP_MIN_SPAN,
    )  # fmt: skip
    share = share_cd_map(dict(zip(t["district"], t["share_CD"], strict=True)), city_share_cd, tiles)
    return rate, share


def share_cd_map(values: dict[str, float], city_share_cd: float, tiles: dict | None, month: str = ""):
    title = f"{month} 各县（市、区）C、D类占比".strip()
    return county_map(
        values, COUNTY_NAMES, title, tiles, legend="C+D类占比（黑线为全市）", reference=city_share_cd,
        min_span=MAP_MIN_SPAN,
    )  # fmt: skip


def class_share_bars(cells: pd.DataFrame, level_name: str, title: str):
    """100 % stacked class bars per cell of a level (this month's composition)."""
    t = level(cells, level_name)
    t = t[t["entities"] > 0]
    if t.empty:
        return None
    rows = {r.name_zh: {c: round(getattr(r, f"share_{c}") * r.entities) for c in CLASSES} for r in t.itertuples()}
    return shares_by(rows, {}, title)


def trend_lines(trends: pd.DataFrame, slopes: pd.DataFrame, worst: int = 6):
    """Share of C + D per month: every county (left) and the county × section cells worsening fastest (right)."""
    import matplotlib.pyplot as plt

    if trends["month"].nunique() < 2:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.2), sharey=False)
    for _, g in trends[trends["level"] == "county"].groupby("cell", sort=True):
        left.plot(g["month"], g["share_CD"], marker=".", label=g["name_zh"].iloc[0])
    left.set_title("各县（市、区）C、D类占比走势")
    top = slopes[(slopes["level"] == "county_section") & (slopes["entities"] >= 30)].head(worst)
    for r in top.itertuples():
        g = trends[(trends["level"] == "county_section") & (trends["cell"] == r.cell)]
        right.plot(g["month"], g["share_CD"], marker=".", label=f"{r.name_zh}（{r.slope_share_CD * 100:+.1f}点/月）")
    right.set_title(f"恶化最快的{len(top)}个区县×行业（近期斜率）")
    for ax in (left, right):
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        ax.tick_params(axis="x", rotation=45, labelsize=8)
        ax.legend(fontsize=7, ncol=1 if ax is right else 2)
        ax.grid(alpha=0.3)
    return _close(fig)


def address_bars(addresses: pd.DataFrame):
    """Cluster-registration addresses (一址多照) per county, by warning colour."""
    import matplotlib.pyplot as plt

    if addresses.empty:
        return None
    t = addresses.set_index("district")
    fig, ax = plt.subplots(figsize=(9, 3.6))
    x = np.arange(len(t))
    bottom = np.zeros(len(t))
    for colour, zh, hex_ in (("red", "红", "#c0392b"), ("yellow", "黄", "#f1c40f"), ("green", "绿", "#27ae60")):
        ax.bar(x, t[colour], bottom=bottom, color=hex_, label=f"{zh} {colour}")
        bottom += t[colour].to_numpy()
    ax.set_xticks(x, [COUNTY_NAMES.get(d, d) for d in t.index])
    ax.set_ylabel("地址数")
    ax.set_title("一址多照集群地址（按预警颜色）")
    ax.legend(fontsize=8)
    return _close(fig)


def validation_scatter(cells: pd.DataFrame, truth: str, small_below: int, title_truth: str):
    """Synthetic city only: each county × section cell's raw and shrunk rate against its true risk; small cells
    (< ``small_below`` entities in the outcome vintage) in orange. None without the truth."""
    import matplotlib.pyplot as plt
    from scipy.stats import spearmanr

    t = level(cells, "county_section").dropna(subset=[truth, "event_raw"])
    if t.empty:
        return None
    small = t["vintage_entities"] < small_below
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharex=True, sharey=True)
    for ax, est in zip(axes, ("event_raw", "event_shrunk"), strict=True):
        size = 8 + 60 * np.sqrt(t["vintage_entities"] / t["vintage_entities"].max())
        ax.scatter(t.loc[~small, truth], t.loc[~small, est], s=size[~small], alpha=0.6, label=f"≥{small_below}户")
        ax.scatter(t.loc[small, truth], t.loc[small, est], s=size[small], alpha=0.8, color="tab:orange",
                   label=f"小单元 <{small_below}户")  # fmt: skip
        rho_all = spearmanr(t[truth], t[est]).statistic
        rho_small = spearmanr(t.loc[small, truth], t.loc[small, est]).statistic if small.sum() > 2 else float("nan")
        ax.set_title(f"{ESTIMATES_ZH[est]}：秩相关 全部 {rho_all:.2f}，小单元 {rho_small:.2f}")
        ax.set_xlabel(f"真实风险 true risk（{title_truth}）")
        ax.xaxis.set_major_formatter(lambda v, _: f"{v:.1%}")
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("估计的不良事件率 estimated event rate")
    return _close(fig)


def class_report_charts(classes: pd.DataFrame, tiles: dict | None, min_entities: int, month: str):
    """For the monthly class report: the county map and the county × section heat map of the share of C + D
    (``classes``: a month's classes with district, section, class and score)."""
    city = float(classes["class"].isin(CLASSES[2:]).mean())
    county = composition(classes, LEVELS_BY_NAME["county"])
    crossed = composition(classes, LEVELS_BY_NAME["county_section"]).assign(level="county_section")
    title = f"{month} 区县×行业门类 C、D类占比（颜色以全市 {city:.1%} 为中点；灰色为不足 {min_entities} 户的单元）"
    return (
        share_cd_map(dict(zip(county["district"], county["share_CD"], strict=True)), city, tiles, month),
        county_section_heatmap(crossed, "share_CD", city, min_entities, title),
    )
