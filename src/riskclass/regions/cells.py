"""Cells of the city — counties, industry sections and divisions, entity types and county × section — and
their figures: counts, class shares, mean score (the analysed month), event rates (the outcome vintage),
problem rates of random checks (IPW) and, in the synthetic city, the true risk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from riskclass.model.labels import labels_for, random_draw_outcomes
from riskclass.plan.evaluate import ipw_rates
from riskclass.regions.levels import LEVELS, LEVELS_BY_NAME, Level, cell_key, cell_label, composition
from riskclass.regions.shrinkage import shrink_cells


def with_division(classes: pd.DataFrame, validated_dir: Path) -> pd.DataFrame:
    """The classes with the GB/T 4754 division (two digits, from the validated registry; '' when unknown)."""
    ent = pd.read_parquet(Path(validated_dir) / "entities.parquet", columns=["uscc", "industry_code"])
    out = classes.merge(ent, on="uscc", how="left")
    # an industry code is the section letter and 2–4 digits: the division is the first two digits
    division = out["industry_code"].fillna("").astype(str).str[1:3]
    return out.drop(columns="industry_code").assign(division=division)


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


# the synthetic city's true risk of a cell, three ways (docs/regions.md "Validation against the truth"):
TRUTHS = {
    # primary: the entity's latent monthly risk of starting a violation, sigmoid(r[i,t]), over the window — what a
    # cell's inspections will face, without the window's realized violation episodes
    "latent": "true_latent",
    # the time-invariant part: sigmoid(base risk) — section, type, capital, shell and unobserved effects
    "structural": "true_structural",
    # the realized violation probability of the window (persistence of the violations that happened included):
    # the same realization the observed events come from, so it favours the raw rate
    "realized": "true_realized",
}


def true_risk(truth_dir: Path, vintage: str, elapsed: int) -> pd.DataFrame | None:
    """Synthetic city only: per entity (index uscc), the true risks of ``TRUTHS`` over the elapsed window."""
    path = Path(truth_dir) / "entity_month.parquet"
    if not path.exists():
        return None
    first = pd.Period(vintage, freq="M")
    window = [str(first + k) for k in range(1, elapsed + 1)]
    t = pd.read_parquet(
        path, columns=["uscc", "month", "risk_logit", "violation_prob"], filters=[("month", "in", window)]
    )
    t = t.assign(latent=1.0 / (1.0 + np.exp(-t["risk_logit"].astype(float))))
    out = t.groupby("uscc").agg(true_latent=("latent", "mean"), true_realized=("violation_prob", "mean"))
    base = pd.read_parquet(Path(truth_dir) / "entities.parquet", columns=["uscc", "base_risk"]).set_index("uscc")
    out["true_structural"] = 1.0 / (1.0 + np.exp(-base["base_risk"].astype(float).reindex(out.index)))
    return out[list(TRUTHS.values())]


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
    truth: pd.DataFrame | None,
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
        true_means = u.merge(truth, left_on="uscc", right_index=True).groupby("cell")[list(TRUTHS.values())].mean()
        table = table.join(true_means)
    table = table.reset_index()
    city_rate = float(units["y"].mean())
    city_ipw, city_n_eff = _city_ipw(checks)
    if level.parent is None:
        event_parent, event_n, ipw_parent, ipw_n = city_rate, len(units), city_ipw, city_n_eff
    else:
        event_parent, event_n = _main_effects(table, level.parent, parents, "event_raw", "vintage_entities", city_rate)
        ipw_parent, ipw_n = _main_effects(table, level.parent, parents, "ipw_shrunk", "ipw_n_eff", city_ipw)
    table, m_event = shrink_cells(
        table, "events", "vintage_entities", event_parent, level_ci, rho_min, "event_", parent_n=event_n
    )
    table, m_ipw = shrink_cells(table, "ipw_x", "ipw_n_eff", ipw_parent, level_ci, rho_min, "ipw_", parent_n=ipw_n)
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


def _main_effects(
    table: pd.DataFrame, levels: tuple[str, ...], parents: dict, column: str, size: str, city: float
) -> tuple[pd.Series, pd.Series]:
    """city × Π (parent rate / city) per cell — the rate if the parents' effects combined independently — and the
    observations behind it (the smallest parent's ``size``: the least certain factor bounds the prior's strength)."""
    rate = pd.Series(city, index=table.index)
    behind = pd.Series(np.inf, index=table.index)
    for name in levels:
        par = parents[name].assign(_k=cell_key(parents[name], LEVELS_BY_NAME[name])).set_index("_k")
        key = cell_key(table, LEVELS_BY_NAME[name])
        rate = rate * (key.map(par[column]).fillna(city) / city)
        behind = np.minimum(behind, key.map(par[size]).fillna(0.0).astype(float))
    return rate.clip(1e-6, 1 - 1e-6), behind


def _city_ipw(checks: pd.DataFrame) -> tuple[float, float]:
    """The city's Hájek problem rate of random checks and its Kish effective number of checks."""
    if checks.empty:
        return float("nan"), 0.0
    w = 1.0 / checks["inclusion_prob"]
    return float((w * checks["problem"]).sum() / w.sum()), float(w.sum() ** 2 / (w**2).sum())


def all_levels(
    month_frame: pd.DataFrame,
    units: pd.DataFrame,
    checks: pd.DataFrame,
    truth: pd.DataFrame | None,
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


def spearman(table: pd.DataFrame, estimate: str, small_below: int, truth: str) -> dict:
    """Rank correlation of an estimate with a true risk, all cells and cells under ``small_below`` entities."""
    from scipy.stats import spearmanr

    def rho(t: pd.DataFrame) -> float | None:
        t = t.dropna(subset=[estimate, truth])
        if len(t) < 3 or t[estimate].nunique() < 2:
            return None
        return float(spearmanr(t[estimate], t[truth]).statistic)

    small = table[table["vintage_entities"] < small_below]
    return {"all": rho(table), "small": rho(small), "n_all": len(table), "n_small": len(small)}
