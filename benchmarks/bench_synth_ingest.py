"""Benchmark: synthetic city generation and ingest — wall time, peak memory, rows per table.

    python benchmarks/bench_synth_ingest.py --entities 1000000 [--months 36] [--workdir /tmp/bench]
        [--keep] [--reuse] [--workers N]

``--reuse`` ingests a city kept by an earlier ``--keep`` run (its synth figures are carried over from the
previous result file); ``--workers`` is passed to ``riskclass ingest`` (default: params.yaml ingest.workers).

Each step runs as its own process (the real CLI) while a poller records peak RSS. Results go to
benchmarks/results/synth_ingest_<N>.json; docs/benchmarks.md reports them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
from pathlib import Path

import psutil

from riskclass.params import load_params

from measure import measure


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entities", type=int, default=50_000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/riskclass-bench"))
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("--reuse", action="store_true", help="ingest the city an earlier --keep run left in --workdir")
    ap.add_argument("--workers", type=int, default=None, help="ingest worker processes [params.yaml]")
    args = ap.parse_args()
    os.chdir(Path(__file__).resolve().parents[1])  # the CLI runs from the repository root
    exe = str(Path(sys.executable).with_name("riskclass"))
    work = args.workdir / f"city_{args.entities}"
    out = Path(__file__).parent / "results" / f"synth_ingest_{args.entities}.json"
    if args.reuse:
        synth = json.loads(out.read_text(encoding="utf-8"))["synth"]
    else:
        cmd = [exe, "synth", "--out", str(work), "--entities", str(args.entities), "--months", str(args.months)]
        synth = measure(cmd)
        synth.pop("output")
    workers = ["--workers", str(args.workers)] if args.workers else []
    ingest = measure([exe, "ingest", "--raw", str(work / "raw"), "--out", str(work / "validated"), *workers])
    ingest.pop("output")
    summary = json.loads((work / "summary.json").read_text(encoding="utf-8"))
    report = json.loads((work / "validated" / "report.json").read_text(encoding="utf-8"))
    raw_bytes = sum(f.stat().st_size for f in (work / "raw").iterdir())
    result = {
        "entities": args.entities,
        "months": args.months,
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30),
            "python": platform.python_version(),
        },
        "synth": synth,
        "ingest": ingest,
        "ingest_workers": args.workers or load_params()["ingest"]["workers"],
        "raw_mb": round(raw_bytes / 2**20, 1),
        "rows": {k: v["rows"] for k, v in summary["tables"].items()},
        "rows_total": sum(v["rows"] for v in summary["tables"].values()),
        "quarantined": {k: v["quarantined"] for k, v in report["tables"].items()},
        "totals": report["totals"],
    }
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
