"""Benchmark: training on a sample of a large indicator panel.

    python benchmarks/bench_train.py --validated /tmp/bench1m/validated --first 2023-11 --last 2025-10 \
        --sample 1000000

Steps, each timed: the indicator panel (every as-of month first…last, DuckDB, panel mode), the labels,
a random sample of the panel's rows, CatBoost with the catalog's monotone constraints plus calibration,
and the optbinning scorecard. Peak RSS is sampled over the whole run (it runs in a child process).
Results: benchmarks/results/train_<sample>.json and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from measure import run_child_and_record

ROOT = Path(__file__).resolve().parents[1]


def run(validated: Path, first: str, last: str, sample: int, features_dir: Path) -> dict:
    import pandas as pd

    from riskclass.indicators import build, load_catalog, months_between
    from riskclass.model.labels import labels_for
    from riskclass.model.pipeline import snapshot_date
    from riskclass.model.train import fit_risk_model, fit_scorecard
    from riskclass.params import load_params

    p = load_params(ROOT / "params.yaml")
    catalog = load_catalog(ROOT / "indicators.yaml")
    months = months_between(first, last)
    times = {}
    t = time.perf_counter()
    build(validated, catalog, months, features_dir, memory_limit="4GB", threads=2)
    times["indicator_panel_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    snap = snapshot_date(validated)
    per_month = -(-sample // len(months))  # sample each month, so the full panel never sits in memory
    frames, panel_rows = [], 0
    for m in months:
        f = pd.read_parquet(features_dir / f"{m}.parquet")
        panel_rows += len(f)
        f = f.sample(n=min(per_month, len(f)), random_state=0)
        f["label"] = labels_for(
            f["uscc"], validated, m, p["labels"]["horizon_months"], p["labels"]["events"], snap
        ).to_numpy()
        frames.append(f)
    train = pd.concat(frames, ignore_index=True)
    del frames
    times["labels_and_sample_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    model = fit_risk_model(
        train,
        catalog,
        p["model"],
        {"anchor_probability": 0.24, "pdo": 300, "bands": p["score"]["bands"]},
        # the settings of the recorded results (before model.tuning); the search is timed with the train stage
        {"depth": 6, "l2_leaf_reg": 5, "rsm": 1.0, "iterations": 400},
    )
    times["catboost_fit_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    fit_scorecard(train, catalog, p["model"])
    times["scorecard_fit_s"] = round(time.perf_counter() - t, 1)
    return {
        "months": len(months),
        "panel_rows": panel_rows,
        "sample_rows": len(train),
        "event_rate": round(float(train["label"].mean()), 4),
        "features": len(model.features),
        **times,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--validated", type=Path, required=True)
    ap.add_argument("--first", default="2023-11")
    ap.add_argument("--last", default="2025-10")
    ap.add_argument("--sample", type=int, default=1_000_000)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(run(args.validated, args.first, args.last, args.sample, Path(tmp) / "features")))
        return
    run_child_and_record(
        __file__,
        ["--validated", str(args.validated), "--first", args.first, "--last", args.last, "--sample", str(args.sample)],
        lambda r: f"train_{args.sample}.json",
    )


if __name__ == "__main__":
    main()
