"""Benchmark: drawing a 双随机 plan for a large city (and the month's classification it needs).

    python benchmarks/bench_plan.py --validated /tmp/bench1m/validated --month 2026-10

Runs in a child process (peak RSS sampled for the whole child). If the validated snapshot has no
planning tables (snapshots from before they existed), the synthetic item list and inspector directory
are generated for the city's size with the default parameters and written next to symlinks of the
validated tables. The batch size (``plan.max_checks``, sized for the default city) is lifted, so the
inspectors' capacity is what binds. Then: indicators of the month, classification with reasons (as the monthly job),
and the plan for the month after — draw, inspector assignment, CSV/Excel/summary — timed separately.
Results: benchmarks/results/plan_<entities>.json and docs/benchmarks.md.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

from measure import validated_month_main

ROOT = Path(__file__).resolve().parents[1]


def _with_planning_tables(validated: Path, work: Path, p: dict) -> Path:
    import numpy as np
    import pandas as pd

    from riskclass.io import write_parquet
    from riskclass.synth.planning import check_items, conflicts, inspectors

    if (validated / "check_items.parquet").exists():
        return validated
    out = work / "validated"
    out.mkdir()
    for f in validated.glob("*.parquet"):
        (out / f.name).symlink_to(f.resolve())
    entities = pd.read_parquet(validated / "entities.parquet", columns=["uscc", "status"])
    rng = np.random.default_rng([p["synth"]["seed"], 6])
    snapshot = np.datetime64(json.loads((validated / "report.json").read_text())["snapshot_date"])
    officers = inspectors(rng, len(entities), p["synth"]["planning"], snapshot)
    alive = entities.loc[entities["status"] == "active", "uscc"].to_numpy()
    write_parquet(check_items(), out / "check_items.parquet")
    write_parquet(officers, out / "inspectors.parquet")
    write_parquet(
        conflicts(rng, officers, alive, p["synth"]["planning"], snapshot), out / "inspector_conflicts.parquet"
    )
    return out


def run(validated: Path, month: str, work: Path) -> dict:

    from riskclass.classify.run import classify_month
    from riskclass.params import load_params
    from riskclass.periods import next_month
    from riskclass.plan import run_plan

    p = copy.deepcopy(load_params(ROOT / "params.yaml"))
    validated = _with_planning_tables(validated, work, p)
    p["features"].update(
        validated_dir=str(validated), catalog=str(ROOT / "indicators.yaml"), feedback_dir=str(work / "feedback")
    )
    p["classify"].update(
        records_dir=str(work / "records"),
        head_file=str(work / "records_head.json"),
        model_dir=str(ROOT / p["classify"]["model_dir"]),
    )
    p["plan"]["out_dir"] = str(work / "plans")
    p["plan"]["max_checks"] = 10**7  # the default batch size is for the 50 k city; let inspector capacity bind
    p["triggers"]["enabled"] = False  # the draw alone: no roster history is built for the benchmark month
    t = time.perf_counter()
    classify_month(p, month)
    classify_s = round(time.perf_counter() - t, 1)
    plan_month = next_month(month)
    t = time.perf_counter()
    plan, summary, path = run_plan(p, plan_month)
    plan_s = round(time.perf_counter() - t, 1)
    return {
        "month": month,
        "entities": summary["population"],
        "indicators_and_classify_s": classify_s,
        "plan_s": plan_s,
        "checks": summary["checks"],
        "candidates": len(plan.frame),
        "inspectors": len(plan.loads),
        "unassigned": summary["unassigned"],
        "shrink_share": summary["shrink_share"],
        "plan_files_mb": round(sum(f.stat().st_size for f in path.iterdir()) / 1e6, 1),
    }


def main() -> None:
    validated_month_main(__file__, __doc__, run, "plan")


if __name__ == "__main__":
    main()
