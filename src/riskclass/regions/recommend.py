"""Trends of the cells across sealed months, cluster-address colours per county, and the recommendations:
``plan.directed`` entries (定向抽查) for the hottest county × section cells and a special-inspection (专项) list."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskclass.codes import CLASSES
from riskclass.regions.levels import LEVELS_BY_NAME, cell_key, cell_label

TREND_LEVELS = ("county", "section", "county_section")
COLOURS = ("red", "yellow", "green")


def trends(history: pd.DataFrame, months: list[str], last: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per cell and sealed month: entities, mean score, share of C + D; per cell, the slope of the share of C + D
    (per month, least squares) over the ``last`` months. The slopes are empty with fewer than two months."""
    rows = []
    h = history[history["month"].isin(months)].assign(cd=lambda d: d["class"].isin(CLASSES[2:]).astype(float))
    for name in TREND_LEVELS:
        level = LEVELS_BY_NAME[name]
        f = h.assign(cell=cell_key(h, level), name_zh=cell_label(h, level))
        g = f.groupby(["cell", "month"], sort=True)
        t = g.agg(name_zh=("name_zh", "first"), entities=("uscc", "size"), mean_score=("score", "mean"))
        t["share_CD"] = g["cd"].mean()
        rows.append(t.reset_index().assign(level=name))
    monthly = pd.concat(rows, ignore_index=True)[
        ["level", "cell", "name_zh", "month", "entities", "mean_score", "share_CD"]
    ]
    window = sorted(months)[-last:]
    slopes = []
    if len(window) >= 2:
        x = np.arange(len(window), dtype=float)
        for (lv, cell), g in monthly[monthly["month"].isin(window)].groupby(["level", "cell"], sort=True):
            s = g.set_index("month").reindex(window)
            ok = s["share_CD"].notna().to_numpy()
            if ok.sum() < 2:
                continue
            slope_cd = float(np.polyfit(x[ok], s["share_CD"].to_numpy()[ok], 1)[0])
            slope_score = float(np.polyfit(x[ok], s["mean_score"].to_numpy()[ok], 1)[0])
            slopes.append(
                {
                    "level": lv,
                    "cell": cell,
                    "name_zh": g["name_zh"].iloc[0],
                    "months": int(ok.sum()),
                    "entities": int(s["entities"].iloc[-1]) if ok[-1] else 0,
                    "slope_share_CD": slope_cd,
                    "slope_mean_score": slope_score,
                }
            )
    cols = ["level", "cell", "name_zh", "months", "entities", "slope_share_CD", "slope_mean_score"]
    slopes = pd.DataFrame(slopes, columns=cols)
    slopes = slopes.sort_values(["slope_share_CD", "level", "cell"], ascending=[False, True, True], kind="stable")
    return monthly.sort_values(["level", "cell", "month"], kind="stable").reset_index(drop=True), slopes.reset_index(
        drop=True
    )


def address_colours(addresses: pd.DataFrame, entity_address: pd.DataFrame, month_frame: pd.DataFrame) -> pd.DataFrame:
    """Cluster-registration addresses (一址多照) of the month's warnings per county, by colour. An address belongs
    to the county most of its entities are registered in (ties: the smaller code)."""
    located = entity_address.merge(month_frame[["uscc", "district"]], on="uscc")
    counts = located.groupby(["address_key", "district"]).size().rename("n").reset_index()
    counts = counts.sort_values(["address_key", "n", "district"], ascending=[True, False, True], kind="stable")
    county = counts.drop_duplicates("address_key").set_index("address_key")["district"]
    a = addresses.assign(district=addresses["key"].map(county))
    table = pd.crosstab(a["district"], a["colour"]).reindex(columns=list(COLOURS), fill_value=0)
    entities = a.groupby("district")["entities"].sum()
    out = table.assign(addresses=table.sum(axis=1), entities_at_scored=entities).reset_index()
    return out.sort_values("district", kind="stable").reset_index(drop=True)


def hot_spots(cells: pd.DataFrame, level: str, rank_on: str, min_entities: int, n: int) -> pd.DataFrame:
    """The ``n`` cells of a level with the highest shrunk event rate (or its lower bound), ties by cell code."""
    col = {"mean": "event_shrunk", "lower": "event_low"}[rank_on]
    t = cells[(cells["level"] == level) & (cells["entities"] >= min_entities)]
    t = t.sort_values([col, "cell"], ascending=[False, True], kind="stable").head(n)
    return t.reset_index(drop=True)


def directed_entries(spots: pd.DataFrame, city_rate: float, spec: dict) -> list[dict]:
    """``plan.directed`` entries (params.py ``Directed``) for the hot county × section cells whose shrunk event
    rate is at least ``min_lift`` times the city's: a random draw within that county and section."""
    out = []
    for r in spots.itertuples(index=False):
        if r.event_shrunk < spec["min_lift"] * city_rate:
            continue
        out.append(
            {
                "id": f"region_{r.district}_{r.section}",
                "name_zh": f"{r.name_zh}高风险区域定向抽查",
                "item": spec["item"],
                "ratio": float(spec["ratio"]),
                "districts": [str(r.district)],
                "sections": [str(r.section)],
            }
        )
    return out


def special_list(cells: pd.DataFrame, levels: list[str], min_entities: int, n: int) -> pd.DataFrame:
    """Special inspections (专项): the cells where a random check is expected to find the most problems
    (shrunk IPW rate of random checks), with the expected findings per 100 checks and its interval."""
    t = cells[cells["level"].isin(levels) & (cells["entities"] >= min_entities) & cells["ipw_shrunk"].notna()]
    t = t.sort_values(["ipw_shrunk", "level", "cell"], ascending=[False, True, True], kind="stable").head(n)
    return t.assign(
        findings_per_100=100 * t["ipw_shrunk"],
        findings_per_100_low=100 * t["ipw_low"],
        findings_per_100_high=100 * t["ipw_high"],
    ).reset_index(drop=True)
