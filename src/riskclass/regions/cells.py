"""Cells of the city — counties, industry sections and divisions, entity types and county × section — and
their figures: counts, class shares, mean score (the analysed month), event rates (the outcome vintage),
problem rates of random checks (IPW) and, in the synthetic city, the true risk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from riskclass import codes
from riskclass.codes import CLASSES
from riskclass.model.labels import labels_for, random_draw_outcomes
from riskclass.plan.evaluate import ipw_rates
from riskclass.regions.shrinkage import shrink_cells


@dataclass(frozen=True)
class Level:
    name: str  # identifier used in the tables
    keys: tuple[str, ...]  # entity columns defining a cell
    parent: tuple[str, ...] | None  # None: the city; else the levels whose rates make the prior mean
    name_zh: str


LEVELS = (
    Level("county", ("district",), None, "区县"),
    Level("section", ("section",), None, "行业门类"),
    Level("division", ("division",), None, "行业大类"),
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


def with_division(classes: pd.DataFrame, validated_dir: Path) -> pd.DataFrame:
    """The classes with the GB/T 4754 division (two digits, from the validated registry; '' when unknown)."""
    ent = pd.read_parquet(Path(validated_dir) / "entities.parquet", columns=["uscc", "industry_code"])
    out = classes.merge(ent, on="uscc", how="left")
    # an industry code is the section letter and 2–4 digits: the division is the first two digits
    division = out["industry_code"].fillna("").astype(str).str[1:3]
    return out.drop(columns="industry_code").assign(division=division)


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


def vintage_units(
    classes: pd.DataFrame, validated_dir: Path, vintage: str, elapsed: int, events: dict, snapshot
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The vintage's entities with their observed label ``y`` (adverse event in the elapsed window) and the
    random-draw checks of the window (``problem``, ``inclusion_prob``) — as the back-test reads them."""
    units = classes.assign(
        y=labels_for(classes["uscc"], validated_dir, vintage, elapsed, events, pd.Timestamp(snapshot)).to_numpy()
    )
    draws = random_draw_outcomes(validated_dir, vintage, elapsed)
    checks = units.drop(columns="y").merge(draws, on="uscc").assign(inclusion_prob=lambda d: 1.0 / d["weight"])
    return units, checks


def true_risk(truth_dir: Path, vintage: str, elapsed: int) -> pd.Series | None:
    """Synthetic city only: per entity, its mean true monthly violation probability over the elapsed window."""
    path = Path(truth_dir) / "entity_month.parquet"
    if not path.exists():
        return None
    first = pd.Period(vintage, freq="M")
    window = [str(first + k) for k in range(1, elapsed + 1)]
    t = pd.read_parquet(path, columns=["uscc", "month", "violation_prob"], filters=[("month", "in", window)])
    return t.groupby("uscc")["violation_prob"].mean().rename("true_prob")


def _ipw_by_cell(checks: pd.DataFrame) -> pd.DataFrame:
    """Hájek problem rate per cell and its Kish effective number of checks."""
    if checks.empty:
        return pd.DataFrame(columns=["cell", "checks", "ipw_rate", "ipw_n_eff"]).set_index("cell")
    rates = ipw_rates(checks, "cell").set_index("cell")
    w = 1.0 / checks["inclusion_prob"]
    n_eff = (w.groupby(checks["cell"]).sum() ** 2) / (w**2).groupby(checks["cell"]).sum()
    return pd.DataFrame({"checks": rates["checks"], "ipw_rate": rates["rate"], "ipw_n_eff": n_eff})


def level_table(
    level: Level,
    month_frame: pd.DataFrame,
    units: pd.DataFrame,
    checks: pd.DataFrame,
    truth: pd.Series | None,
    parents: dict[str, pd.DataFrame],
    level_ci: float,
    rho_min: float,
) -> tuple[pd.DataFrame, dict]:
    """One level's cells: composition (month), raw and shrunk event and problem rates (vintage), true risk."""
    comp = composition(month_frame, level).set_index("cell")
    u = units.assign(cell=cell_key(units, level))
    rates = u.groupby("cell").agg(vintage_entities=("y", "size"), events=("y", "sum"))
    for k in level.keys:
        rates[k] = u.groupby("cell")[k].first()
    ipw = _ipw_by_cell(checks.assign(cell=cell_key(checks, level)))
    table = rates.join(ipw, how="left")
    table["checks"] = table["checks"].fillna(0).astype(int)
    table["ipw_n_eff"] = table["ipw_n_eff"].fillna(0.0)
    table["ipw_x"] = table["ipw_rate"].fillna(0.0) * table["ipw_n_eff"]
    if truth is not None:
        table["true_risk"] = u.merge(truth, left_on="uscc", right_index=True).groupby("cell")["true_prob"].mean()
    table = table.reset_index()
    city_rate = float(units["y"].mean())
    city_ipw = _city_ipw(checks)
    if level.parent is None:
        event_parent, ipw_parent = city_rate, city_ipw
    else:
        event_parent = _main_effects(table, level.parent, parents, "event_raw", city_rate)
        ipw_parent = _main_effects(table, level.parent, parents, "ipw_shrunk", city_ipw)
    table, m_event = shrink_cells(table, "events", "vintage_entities", event_parent, level_ci, rho_min, "event_")
    table, m_ipw = shrink_cells(table, "ipw_x", "ipw_n_eff", ipw_parent, level_ci, rho_min, "ipw_")
    table = table.drop(columns=["ipw_raw"]).rename(columns={"ipw_rate": "ipw_raw"})
    keys = list(level.keys)
    table = comp.reset_index(drop=True).merge(table.drop(columns="cell"), on=keys, how="outer", sort=True)
    table["entities"] = table["entities"].fillna(0).astype(int)
    table.insert(0, "level", level.name)
    table.insert(1, "cell", cell_key(table, level))
    table.insert(2, "name_zh", cell_label(table, level))
    return table.sort_values("cell", kind="stable").reset_index(drop=True), {
        "event_prior_strength": m_event,
        "ipw_prior_strength": m_ipw,
    }


def _main_effects(table: pd.DataFrame, levels: tuple[str, ...], parents: dict, column: str, city: float) -> pd.Series:
    """city × Π (parent rate / city) per cell: the rate if the parents' effects combined independently."""
    rate = pd.Series(city, index=table.index)
    for name in levels:
        par = parents[name].assign(_k=cell_key(parents[name], LEVELS_BY_NAME[name])).set_index("_k")[column]
        rate = rate * (cell_key(table, LEVELS_BY_NAME[name]).map(par).fillna(city) / city)
    return rate.clip(1e-6, 1 - 1e-6)


def _city_ipw(checks: pd.DataFrame) -> float:
    if checks.empty:
        return float("nan")
    w = 1.0 / checks["inclusion_prob"]
    return float((w * checks["problem"]).sum() / w.sum())


def all_levels(
    month_frame: pd.DataFrame,
    units: pd.DataFrame,
    checks: pd.DataFrame,
    truth: pd.Series | None,
    level_ci: float,
    rho_min: float,
) -> tuple[pd.DataFrame, dict]:
    """Every level's table stacked (a level's parent is computed before it) and each level's prior strengths."""
    tables, priors = {}, {}
    for level in LEVELS:
        tables[level.name], priors[level.name] = level_table(
            level, month_frame, units, checks, truth, tables, level_ci, rho_min
        )
    stacked = pd.concat(tables.values(), ignore_index=True)
    for k in ("district", "section", "division", "entity_type"):
        stacked[k] = stacked[k].astype("string")
    return stacked, priors


def spearman(table: pd.DataFrame, estimate: str, small_below: int) -> dict:
    """Rank correlation of an estimate with the true risk, all cells and cells under ``small_below`` entities."""
    from scipy.stats import spearmanr

    def rho(t: pd.DataFrame) -> float | None:
        t = t.dropna(subset=[estimate, "true_risk"])
        if len(t) < 3 or t[estimate].nunique() < 2:
            return None
        return float(spearmanr(t[estimate], t["true_risk"]).statistic)

    small = table[table["vintage_entities"] < small_below]
    return {"all": rho(table), "small": rho(small), "n_all": len(table), "n_small": len(small)}
