"""The cells of the regional analysis — counties, industry sections and divisions, entity types and county ×
section — how a cell is keyed and named, and a month's composition of each cell (no outcomes: the monthly class
report uses this too)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from riskclass import codes
from riskclass.codes import CLASSES


@dataclass(frozen=True)
class Level:
    name: str  # identifier used in the tables
    keys: tuple[str, ...]  # entity columns defining a cell
    parent: tuple[str, ...] | None  # None: the city; else the levels whose rates make the prior mean
    name_zh: str


LEVELS = (
    Level("county", ("district",), None, "区县"),
    Level("section", ("section",), None, "行业门类"),
    # a division is shrunk toward its own section (it belongs to exactly one)
    Level("division", ("section", "division"), ("section",), "行业大类"),
    Level("entity_type", ("entity_type",), None, "主体类型"),
    # the prior mean is the product of the county's and the section's rates over the city's (both main effects,
    # independence): only the county × section interaction is shrunk (docs/regions.md)
    Level("county_section", ("district", "section"), ("county", "section"), "区县×行业门类"),
)
LEVELS_BY_NAME = {lv.name: lv for lv in LEVELS}


def cell_names() -> dict[str, dict[str, str]]:
    """Chinese names of the codes in each key column."""
    return {
        "district": codes.labels("divisions"),
        "section": codes.labels("industry_sections"),
        "entity_type": codes.labels("entity_types"),
        "division": {},
    }


def cell_key(frame: pd.DataFrame, level: Level) -> pd.Series:
    return frame[list(level.keys)].astype(str).agg("×".join, axis=1)


def cell_label(frame: pd.DataFrame, level: Level) -> pd.Series:
    names = cell_names()
    parts = [frame[k].astype(str).map(lambda v, k=k: names[k].get(v, v)) for k in level.keys]
    out = parts[0]
    for part in parts[1:]:
        out = out + "·" + part
    return out


def composition(month_frame: pd.DataFrame, level: Level) -> pd.DataFrame:
    """Per cell of the analysed month: entities, class shares, share of C + D, mean score."""
    f = month_frame.assign(cell=cell_key(month_frame, level))
    g = f.groupby("cell", sort=True)
    out = g[list(level.keys)].first()
    out["entities"] = g.size()
    shares = pd.crosstab(f["cell"], f["class"], normalize="index").reindex(columns=list(CLASSES), fill_value=0.0)
    for c in CLASSES:
        out[f"share_{c}"] = shares[c]
    out["share_CD"] = out["share_C"] + out["share_D"]
    out["mean_score"] = g["score"].mean()
    return out.reset_index()
