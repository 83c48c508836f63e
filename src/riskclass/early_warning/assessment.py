"""Measuring each warning: how often it fires and how often an adverse outcome follows.

For every sealed month M whose following ``warnings.horizon_months`` are wholly observed by the data snapshot,
the population is the month's classified entities. Per warning code, pooled over those months (entity-months):

* fired — entity-months with the warning; entities — distinct entities among them;
* precision — share of fired entity-months with an adverse outcome in (end of M, end of M + horizon]: the event
  definition of training labels (``riskclass.model.labels.adverse_events`` with ``labels.events``);
* base rate — the same share over the whole population; lift = precision / base rate;
* the same against the synthetic city's ground truth (``labels.truth_outcomes``: the entity truly violated in
  the window), when it exists.

A code whose observed lift is below ``warnings.weak_lift`` (or that never fired) is marked weak. The observed
outcome depends on inspections, which follow the classes: a warning that correlates with the class gets some of
its observed lift from being inspected more — the truth columns do not have this bias.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from riskclass.early_warning.catalog import WarningCatalog
from riskclass.early_warning.fire import WarningError, warnings_path
from riskclass.io import json_ready, write_json
from riskclass.model.labels import adverse_events, label_window, truth_outcomes
from riskclass.periods import snapshot_date
from riskclass.records import RecordStore

MEASURE_COLUMNS = [
    "code",
    "name_zh",
    "severity",
    "fired",
    "entities",
    "precision",
    "base_rate",
    "lift",
    "truth_fired",
    "truth_precision",
    "truth_base_rate",
    "truth_lift",
    "weak",
]


def observable_months(months: list[str], horizon: int, snapshot: pd.Timestamp) -> list[str]:
    """The months whose whole outcome window ends on or before the snapshot date."""
    return [m for m in months if label_window(m, horizon)[1] <= snapshot]


def _rate(values: pd.Series) -> float:
    return float(values.mean()) if len(values) else float("nan")


def measure(fired: pd.DataFrame, population: pd.DataFrame, catalog: WarningCatalog, weak_lift: float) -> pd.DataFrame:
    """Per code of ``catalog``: counts, precision, base rate and lift, observed and against the truth.

    ``fired``: uscc, month, code (the warnings of the measured months). ``population``: uscc, month, observed
    (0/1) and truth (0/1, NaN where unknown) — one row per classified entity-month.
    """
    keyed = population.set_index(["uscc", "month"])
    base = _rate(keyed["observed"])
    truth_known = keyed["truth"].dropna()
    truth_base = _rate(truth_known)
    rows = []
    for w in catalog.warnings:
        hits = fired.loc[fired["code"] == w.code, ["uscc", "month"]].drop_duplicates()
        idx = pd.MultiIndex.from_frame(hits)
        missing = idx.difference(keyed.index)
        if len(missing):
            raise WarningError(
                f"{w.code}: fired for {len(missing)} entity-month(s) outside the population, e.g. {missing[0]}"
            )
        outcome = keyed.loc[idx]
        truth = outcome["truth"].dropna()
        precision, truth_precision = _rate(outcome["observed"]), _rate(truth)
        lift = precision / base if base > 0 else float("nan")
        truth_lift = truth_precision / truth_base if truth_base > 0 else float("nan")
        rows.append(
            {
                "code": w.code,
                "name_zh": w.name_zh,
                "severity": w.severity,
                "fired": len(hits),
                "entities": int(hits["uscc"].nunique()),
                "precision": precision,
                "base_rate": base,
                "lift": lift,
                "truth_fired": len(truth),
                "truth_precision": truth_precision,
                "truth_base_rate": truth_base,
                "truth_lift": truth_lift,
                "weak": bool(not lift >= weak_lift),  # NaN (never fired) is weak too
            }
        )
    return pd.DataFrame(rows, columns=MEASURE_COLUMNS)


def month_population(p: dict, month: str, snapshot: pd.Timestamp) -> pd.DataFrame:
    """The classified entities of sealed ``month`` with their observed and true outcomes in the horizon."""
    horizon = int(p["warnings"]["horizon_months"])
    record = RecordStore(p["classify"]["records_dir"]).record(month)
    uscc = pd.read_parquet(record.classes_path, columns=["uscc"])["uscc"]
    adverse = adverse_events(Path(p["features"]["validated_dir"]), month, horizon, p["labels"]["events"], snapshot)
    truth = truth_outcomes(Path(p["model"]["truth_dir"]), month, horizon)
    violated = truth["violated"] if truth is not None else pd.Series(dtype=float)
    return pd.DataFrame(
        {
            "uscc": uscc.to_numpy(dtype=object),
            "month": month,
            "observed": uscc.isin(adverse.index).astype(int).to_numpy(),
            "truth": uscc.map(violated).astype(float).to_numpy(),
        }
    )


def read_warnings(p: dict, month: str, columns: list[str] | None = None) -> pd.DataFrame:
    path = warnings_path(p["warnings"]["out_dir"], month)
    if not path.exists():
        raise WarningError(f"{path}: no warnings for {month} — run `riskclass warnings --month {month}` first")
    return pd.read_parquet(path, columns=columns)


def assess(p: dict, catalog: WarningCatalog) -> dict:
    """The measurement on every observable sealed month; an empty result with a reason when there is none."""
    horizon = int(p["warnings"]["horizon_months"])
    snapshot = pd.Timestamp(snapshot_date(Path(p["features"]["validated_dir"])))
    sealed = RecordStore(p["classify"]["records_dir"]).sealed_months()
    months = observable_months(sealed, horizon, snapshot)
    result = {
        "horizon_months": horizon,
        "weak_lift": float(p["warnings"]["weak_lift"]),
        "snapshot_date": str(snapshot.date()),
        "sealed_months": sealed,
        "months": months,
        "catalog_sha256": catalog.sha256,
    }
    if not months:
        result["note"] = (
            f"no sealed month has its {horizon} following months observed by the snapshot of {snapshot.date()} "
            f"(sealed: {', '.join(sealed) or 'none'}): nothing can be measured yet"
        )
        result["codes"] = {}
        return result
    fired = pd.concat([read_warnings(p, m, ["uscc", "month", "code"]) for m in months], ignore_index=True)
    population = pd.concat([month_population(p, m, snapshot) for m in months], ignore_index=True)
    table = measure(fired, population, catalog, float(p["warnings"]["weak_lift"]))
    result["population_entity_months"] = len(population)
    result["truth_available"] = bool(population["truth"].notna().any())
    result["codes"] = {row.pop("code"): json_ready(row, 4) for row in table.to_dict(orient="records")}
    return result


def table_of(result: dict) -> pd.DataFrame:
    """The JSON's per-code measurements as a table (for the notebook and docs)."""
    if not result.get("codes"):
        return pd.DataFrame(columns=MEASURE_COLUMNS)
    return pd.DataFrame([{"code": c, **v} for c, v in result["codes"].items()], columns=MEASURE_COLUMNS)


def monthly_counts(p: dict, catalog: WarningCatalog) -> pd.DataFrame:
    """Warnings fired per month and code, for every sealed month that has its file (months × codes)."""
    months = [
        m
        for m in RecordStore(p["classify"]["records_dir"]).sealed_months()
        if warnings_path(p["warnings"]["out_dir"], m).exists()
    ]
    counts = {m: read_warnings(p, m, ["code"])["code"].value_counts() for m in months}
    table = pd.DataFrame({m: c.reindex(catalog.codes).fillna(0).astype(int) for m, c in counts.items()})
    return table.T if len(months) else pd.DataFrame(columns=catalog.codes)


def write_assessment(p: dict, catalog: WarningCatalog) -> dict:
    """``assess`` and write it to ``warnings.metrics`` (deterministic JSON: sorted keys, no timestamps)."""
    result = assess(p, catalog)
    path = Path(p["warnings"]["metrics"])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(result, path)
    return result
