"""Benchmark: the monthly classification of a large city, with reasons.

    python benchmarks/bench_classify.py --validated /tmp/bench1m/validated --month 2026-10

Runs in a child process (peak RSS sampled): builds the month's indicators (timed separately),
then classifies every entity with the champion in models/champion — indicators again, score, classes,
overrides, SHAP-based reasons — and seals the record: classes, indicator snapshot, report, manifest (timed). Results:
benchmarks/results/classify_<entities>.json and docs/benchmarks.md.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

from measure import validated_month_main

ROOT = Path(__file__).resolve().parents[1]


def run(validated: Path, month: str, work: Path) -> dict:
    import pandas as pd

    from riskclass.classify.run import classify_month
    from riskclass.indicators import load_catalog
    from riskclass.indicators.builder import build_one
    from riskclass.params import load_params

    p = copy.deepcopy(load_params(ROOT / "params.yaml"))
    p["features"].update(validated_dir=str(validated), catalog=str(ROOT / "indicators.yaml"))
    p["classify"].update(
        records_dir=str(work / "records"),
        head_file=str(work / "records_head.json"),
        model_dir=str(ROOT / p["classify"]["model_dir"]),
    )
    t = time.perf_counter()
    build_one(validated, load_catalog(ROOT / "indicators.yaml"), month, work / "monthly")
    indicators_s = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    outcome = classify_month(p, month)
    summary = outcome.summary
    classify_s = round(time.perf_counter() - t, 1)
    rows = len(pd.read_parquet(outcome.record.classes_path, columns=["uscc"]))
    return {
        "month": month,
        "entities": rows,
        "indicators_s": indicators_s,
        "classify_with_reasons_s": classify_s,
        "classes": summary["classes"],
    }


def main() -> None:
    validated_month_main(__file__, __doc__, run, "classify")


if __name__ == "__main__":
    main()
