"""Benchmark: one month's indicators and scores on both engines (DuckDB / local, and Spark local[N]).

    python benchmarks/bench_spark.py --validated data/validated --month 2026-10

Four measured child processes (wall time, peak RSS of the process tree: Spark's JVM is a child):
indicators with DuckDB, indicators with Spark (session start timed separately, the file compared byte for byte
with DuckDB's), scoring with ``classify_frame`` and with ``classify_on_spark`` (the champion in models/champion;
scores, classes, overrides and reasons compared). Results: benchmarks/results/spark_<entities>.json, docs/spark.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from measure import measure

ROOT = Path(__file__).resolve().parents[1]


def child(step: str, validated: Path, month: str, work: Path) -> dict:
    import pandas as pd

    from riskclass.classify.outputs import classify_frame, used_params
    from riskclass.indicators import build, load_catalog
    from riskclass.model.risk_model import RiskModel
    from riskclass.params import load_params

    p = load_params(ROOT / "params.yaml")
    catalog = load_catalog(ROOT / "indicators.yaml")
    out: dict = {"step": step}
    spark = None
    if step.endswith("spark"):
        from riskclass.spark import session

        t = time.perf_counter()
        spark = session(p["spark"])
        out["session_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    if step.startswith("features"):
        engine = None
        if spark is not None:
            from riskclass.spark.features import SparkEngine

            engine = SparkEngine(spark)
        build(validated, catalog, [month], work / step, engine=engine)
        out["seconds"] = round(time.perf_counter() - t, 1)
        out["entities"] = len(pd.read_parquet(work / step / f"{month}.parquet", columns=["uscc"]))
        if spark is not None:
            same = (work / step / f"{month}.parquet").read_bytes() == (
                work / "features_duckdb" / f"{month}.parquet"
            ).read_bytes()
            out["same_bytes_as_duckdb"] = same
    else:
        model = RiskModel.load(ROOT / p["classify"]["model_dir"])
        params = used_params(p)
        path = work / "features_duckdb" / f"{month}.parquet"
        if spark is None:
            result = classify_frame(pd.read_parquet(path), model, params, month, catalog)
        else:
            from riskclass.spark.scoring import classify_on_spark

            result = classify_on_spark(spark, path, model, params, month, catalog)
        out["seconds"] = round(time.perf_counter() - t, 1)
        out["entities"] = len(result)
        result.to_parquet(work / f"{step}.parquet")
        if spark is not None:
            local = pd.read_parquet(work / "scoring_local.parquet")
            out["same_as_local"] = bool(result.equals(local))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--validated", type=Path, required=True)
    ap.add_argument("--month", default="2026-10")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.validated.resolve(), args.month, args.work)), flush=True)
        os._exit(0)  # measured: skip interpreter teardown (DuckDB's threads once aborted it after the work was done)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for step in ("features_duckdb", "features_spark", "scoring_local", "scoring_spark"):
            cmd = [sys.executable, __file__, "--validated", str(args.validated), "--month", args.month]
            m = measure([*cmd, "--child", step, "--work", tmp])
            results[step] = {
                **json.loads(m.pop("output").strip().splitlines()[-1]),
                "total_s": m["seconds"],
                "peak_rss_gb": m["peak_rss_gb"],
            }
            print(json.dumps(results[step]), flush=True)
    import pyspark

    entities = results["features_duckdb"]["entities"]
    record = {
        "month": args.month,
        "entities": entities,
        "cores": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "pyspark": pyspark.__version__,
        **results,
    }
    out = Path(__file__).resolve().parent / "results" / f"spark_{entities}.json"
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
