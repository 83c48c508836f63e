"""Benchmark: a year of operation on the default synthetic city (docs/operations.md, "A year of operation").

    python benchmarks/bench_year.py [--first 2025-11 --last 2026-10]

Runs in a measured child on the checkout's validated snapshot, champion and ground truth, with its own
scratch record store, plans and feedback (the checkout's data/records is not touched): twelve monthly
runs — classify M, draw the plan for M+1, the synthetic city carries it out, ingest the results — with a
promotion in month 6, the month-4 run missed and back-filled in month 10, and month 7 revised in month 9.
Then every record is verified and reproduced. Records the run time and the findings per 100 checks
month by month in benchmarks/results/year_<entities>.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from measure import run_child_and_record

ROOT = Path(__file__).resolve().parents[1]


def run(first: str, last: str, work: Path) -> dict:
    from riskclass.classify.audit import reproduce, verify
    from riskclass.params import load_params
    from riskclass.periods import months_between
    from riskclass.records import RecordStore
    from riskclass.synth.operation import promote_recalibrated, run_year

    p = copy.deepcopy(load_params(ROOT / "params.yaml"))
    shutil.copytree(ROOT / p["classify"]["model_dir"], work / "champion")
    p["features"].update(
        validated_dir=str(ROOT / p["features"]["validated_dir"]),
        catalog=str(ROOT / "indicators.yaml"),
        feedback_dir=str(work / "feedback"),
    )
    p["classify"].update(
        records_dir=str(work / "records"), head_file=str(work / "head.json"), model_dir=str(work / "champion")
    )
    p["plan"]["out_dir"] = str(work / "plans")
    p["triggers"].update(out_dir=str(work / "roster"), metrics=str(work / "roster.json"))
    months = months_between(first, last)
    log = run_year(
        p,
        first,
        last,
        ROOT / p["synth"]["out_dir"] / "truth",
        promote=lambda: promote_recalibrated(work / "champion"),
        promote_at=months[5],
        skip=months[3],
        backfill_at=months[9],
        revise=months[6],
        revise_at=months[8],
    )
    t = time.perf_counter()
    store = RecordStore(p["classify"]["records_dir"])
    problems = verify(p, every=True).problems
    for record in store.records():
        problems += reproduce(p, record.month, record.revision).problems
    audit_s = round(time.perf_counter() - t, 1)
    return {
        "entities": max(m.get("entities", 0) for m in log.months),
        "months": log.months,
        "events": log.events,
        "records": len(store.records()),
        "files_changed_after_writing": log.changed,
        "audit_problems": problems,
        "year_s": log.seconds,
        "verify_and_reproduce_all_s": audit_s,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--first", default="2025-11")
    ap.add_argument("--last", default="2026-10")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(run(args.first, args.last, Path(tmp)), ensure_ascii=False))
        return
    result = run_child_and_record(
        __file__, ["--first", args.first, "--last", args.last], lambda r: f"year_{r['entities']}.json"
    )
    sys.exit(1 if result["audit_problems"] or result["files_changed_after_writing"] else 0)


if __name__ == "__main__":
    main()
