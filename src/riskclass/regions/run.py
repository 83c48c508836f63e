"""``riskclass regions --month M``: where risk concentrates, for directed (定向) and special (专项) inspections.

The analysed month M gives the cells' composition (entities, classes, scores) and the trends; the event rates
come from an earlier *outcome vintage* V whose label window has (mostly) elapsed by the validated snapshot: the
sealed month nearest to M − ``regions.vintage_lag_months`` with at least ``regions.min_elapsed_months`` whole
months of outcomes (docs/regions.md). Outputs: ``data/regions/<M>/`` tables (parquet + spreadsheet-safe CSV),
``directed_recommendations.yaml`` and the metrics file ``reports/regions.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

from riskclass import exports
from riskclass.early_warning.fire import ADDRESS_DIR, load_addresses
from riskclass.io import atomic_write_bytes, json_ready, write_parquet
from riskclass.monitor.backtest import DIGITS, elapsed_months
from riskclass.periods import check_month, snapshot_date
from riskclass.records import RecordStore
from riskclass.regions import cells as C
from riskclass.regions import recommend as R
from riskclass.regions.levels import LEVELS

TABLES = ("cells", "trends", "trend_slopes", "addresses", "hot_spots", "special")


class RegionsError(ValueError):
    """The analysis cannot run on these inputs (the message says which and why)."""


def choose_vintage(
    months: list[str], month: str, lag: int, snapshot, horizon: int, min_elapsed: int
) -> tuple[str, int]:
    """The sealed month nearest to ``month − lag`` (ties: the earlier) with ≥ ``min_elapsed`` elapsed months."""
    target = pd.Period(month, freq="M") - lag
    ok = [(m, elapsed_months(m, snapshot, horizon)) for m in months if m <= month]
    ok = [(m, k) for m, k in ok if k >= min_elapsed]
    if not ok:
        raise RegionsError(
            f"no sealed month up to {month} has {min_elapsed} whole months of outcomes by the snapshot {snapshot} "
            f"(sealed: {', '.join(months) or 'none'}); event rates need an older vintage — seal the history first "
            f"(riskclass classify --backfill) or lower regions.min_elapsed_months"
        )
    return min(ok, key=lambda mk: (abs((pd.Period(mk[0], freq="M") - target).n), mk[0]))


def analyse(p: dict, month: str) -> dict:
    """Every table and figure of the analysis of ``month`` (nothing written)."""
    rp = p["regions"]
    month = check_month(month, "--month")
    store = RecordStore(p["classify"]["records_dir"])
    months = store.sealed_months()
    if month not in months:
        raise RegionsError(f"{month} is not a sealed month of {p['classify']['records_dir']} (sealed: {months})")
    validated = Path(p["features"]["validated_dir"])
    snapshot = snapshot_date(validated)
    horizon = int(p["labels"]["horizon_months"])
    vintage, k = choose_vintage(months, month, rp["vintage_lag_months"], snapshot, horizon, rp["min_elapsed_months"])
    cols = ["uscc", "score", "class", "district", "section", "entity_type"]
    now = C.with_division(pd.read_parquet(store.current(month).classes_path, columns=cols), validated)
    then = C.with_division(pd.read_parquet(store.current(vintage).classes_path, columns=cols), validated)
    units, checks = C.vintage_units(then, validated, vintage, k, dict(p["labels"]["events"]), snapshot)
    truth = C.true_risk(Path(p["model"]["truth_dir"]), vintage, k)
    cells, priors = C.all_levels(now, units, checks, truth, rp["credible_level"], 1.0 / (rp["max_prior_strength"] + 1))
    city_rate = float(units["y"].mean())

    history = store.history_frame(columns=["uscc", "month", "score", "class", "district", "section"])
    trend_months = [m for m in months if m <= month]
    monthly, slopes = R.trends(history, trend_months, rp["trend_months"])
    addr_path = Path(p["warnings"]["out_dir"]) / ADDRESS_DIR / f"{month}.parquet"
    if not addr_path.exists():
        raise RegionsError(f"{addr_path}: missing — run `riskclass warnings --month {month}` first (stage warnings)")
    addresses = R.address_colours(pd.read_parquet(addr_path), load_addresses(validated), now)

    spots = R.hot_spots(cells, "county_section", rp["rank_on"], rp["min_entities"], rp["top_n"])
    candidates = R.hot_spots(cells, "county_section", rp["rank_on"], rp["min_entities"], rp["directed"]["max_entries"])
    directed = R.directed_entries(candidates, city_rate, rp["directed"])
    special = R.special_list(cells, rp["special"]["levels"], rp["min_entities"], rp["special"]["max_entries"])

    validation = None
    if truth is not None:
        estimates = (("raw", "event_raw"), ("shrunk", "event_shrunk"))
        every = cells.drop_duplicates(["level", "cell"])
        validation = {
            name: {
                **{
                    lv.name: {
                        est: C.spearman(cells[cells["level"] == lv.name], col, rp["small_cell_entities"], column)
                        for est, col in estimates
                    }
                    for lv in LEVELS
                },
                "all_levels": {
                    est: C.spearman(every, col, rp["small_cell_entities"], column) for est, col in estimates
                },
            }
            for name, column in C.TRUTHS.items()
        }
    summary = {
        "month": month,
        "vintage": vintage,
        "elapsed_months": k,
        "horizon_months": horizon,
        "snapshot_date": str(snapshot),
        "city_event_rate": city_rate,
        "rank_on": rp["rank_on"],
        "prior_strength": priors,
        "rank_correlation": validation,
        "top_hot_spots": [
            {
                "cell": r.cell,
                "name_zh": r.name_zh,
                "entities": int(r.entities),
                "event_raw": r.event_raw,
                "event_shrunk": r.event_shrunk,
                "event_low": r.event_low,
                "event_high": r.event_high,
                "findings_per_100": 100 * r.ipw_shrunk,
            }
            for r in spots.itertuples(index=False)
        ],
        "directed_entries": len(directed),
        "worsening_cells": int((slopes["slope_share_CD"] > 0).sum()) if len(slopes) else 0,
        "trend_note": None if len(trend_months) >= 2 else "only one sealed month: no trend (needs two or more)",
    }
    return {
        "summary": json_ready(summary, DIGITS),
        "tables": {
            "cells": cells,
            "trends": monthly,
            "trend_slopes": slopes,
            "addresses": addresses,
            "hot_spots": spots,
            "special": special,
        },
        "directed": directed,
    }


def directed_yaml(directed: list[dict], summary: dict) -> str:
    """The entries as a block to paste under ``plan.directed`` in params.yaml."""
    head = (
        f"# 定向抽查建议 directed-draw recommendations for {summary['month']} (riskclass regions); outcome vintage "
        f"{summary['vintage']} ({summary['elapsed_months']} months elapsed).\n"
        "# Paste under plan.directed in params.yaml after review; the planner draws at random within each filter.\n"
    )
    body = yaml.safe_dump(directed, allow_unicode=True, sort_keys=False, default_flow_style=None, width=200)
    return head + (body if directed else "[]\n")


def write(result: dict, out_dir: Path, metrics: Path) -> Path:
    """The tables (parquet + CSV), the YAML of directed entries and the metrics JSON; same result → same bytes."""
    month_dir = Path(out_dir) / result["summary"]["month"]
    month_dir.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        frame = result["tables"][name]
        write_parquet(frame, month_dir / f"{name}.parquet")
        exports.write_csv(frame, month_dir / f"{name}.csv")
    atomic_write_bytes(
        month_dir / "directed_recommendations.yaml", directed_yaml(result["directed"], result["summary"]).encode()
    )
    metrics = Path(metrics)
    metrics.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(metrics, (json.dumps(result["summary"], ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
    return month_dir


def run(p: dict, month: str) -> dict:
    result = analyse(p, month)
    write(result, Path(p["regions"]["out_dir"]), Path(p["regions"]["metrics"]))
    return result
