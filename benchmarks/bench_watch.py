"""Benchmark: the month's watching stages on the checkout's sealed records (docs/benchmarks.md).

    python benchmarks/bench_watch.py [--month 2026-10]

Times each command on its own, with its peak memory, reading the checkout's sealed records, validated
snapshot, indicator panel and truth and writing into a scratch folder (nothing in the checkout changes):
``riskclass warnings`` (every sealed month without warnings, from scratch), ``riskclass monitor`` (the
month's Evidently reports and monitoring.json over every sealed month), ``riskclass backtest`` (every
sealed month) and ``riskclass reminders``. Records benchmarks/results/watch_<entities>.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from measure import measure

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from riskclass.params import load_params
    from riskclass.records import RecordStore

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--month", default=None, help="the month [period.yaml's]")
    args = ap.parse_args()
    month = args.month or yaml.safe_load((ROOT / "period.yaml").read_text(encoding="utf-8"))["month"]
    p = copy.deepcopy(load_params(ROOT / "params.yaml"))
    store = RecordStore(ROOT / p["classify"]["records_dir"])
    record = store.current(month)
    if record is None:
        sys.exit(f"{month} is not sealed in {store.root}: run the pipeline first (make run)")
    riskclass = str(Path(sys.executable).with_name("riskclass"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for section, key in (
            ("features", "validated_dir"),
            ("features", "feedback_dir"),
            ("features", "catalog"),
            ("model", "features_dir"),
            ("model", "truth_dir"),
            ("classify", "records_dir"),
        ):
            p[section][key] = str(ROOT / p[section][key])
        p["warnings"].update(out_dir=str(work / "warnings"), metrics=str(work / "warnings_eval.json"))
        p["warnings"]["catalog"] = str(ROOT / p["warnings"]["catalog"])
        p["monitor"]["reports"].update(dir=str(work / "monitoring"), metrics=str(work / "monitoring.json"))
        p["reminders"].update(out_dir=str(work / "reminders"), summary=str(work / "reminders.json"))
        params = work / "params.yaml"
        params.write_text(yaml.safe_dump(p, allow_unicode=True, sort_keys=False), encoding="utf-8")
        common = ["--params", str(params)]
        steps = {
            "warnings": [riskclass, "warnings", "--month", month, *common],
            "monitor": [riskclass, "monitor", "--month", month, "--no-alert", *common],
            "backtest": [riskclass, "backtest", "--month", month, "--out", str(work / "backtest.json"), *common],
            "reminders": [riskclass, "reminders", "--month", month, *common],
        }
        result = {
            "month": month,
            "entities": len(pd.read_parquet(record.classes_path, columns=["uscc"])),
            "sealed_months": len(store.sealed_months()),
            "steps": {},
        }
        for name, cmd in steps.items():
            m = measure(cmd)
            result["steps"][name] = {"seconds": m["seconds"], "peak_rss_gb": m["peak_rss_gb"]}
            print(f"{name}: {m['seconds']} s, {m['peak_rss_gb']} GB", flush=True)
        shutil.rmtree(work / "monitoring", ignore_errors=True)
    out = ROOT / "benchmarks" / "results" / f"watch_{result['entities']}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
