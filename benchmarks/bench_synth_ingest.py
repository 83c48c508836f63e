"""Benchmark: synthetic city generation and ingest — wall time, peak memory, rows per table.

    python benchmarks/bench_synth_ingest.py --entities 1000000 [--months 36] [--workdir /tmp/bench]
        [--keep] [--reuse] [--workers N] [--synth-only [--synth-workers N] [--city DIR]]

``--reuse`` ingests a city kept by an earlier ``--keep`` run (its synth figures are carried over from the
previous result file); ``--workers`` is passed to ``riskclass ingest`` (default: params.yaml ingest.workers).
``--synth-only`` measures the generation alone (``--synth-workers`` is passed to ``riskclass synth``, default
params.yaml synth.workers) into benchmarks/results/synth_<N>.json, and keeps the city (in ``--city`` if given).

Each step runs as its own process (the real CLI) while a poller records peak RSS. Results go to
benchmarks/results/synth_ingest_<N>.json; docs/benchmarks.md reports them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from riskclass.params import load_params

from measure import machine, measure


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entities", type=int, default=50_000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/riskclass-bench"))
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("--reuse", action="store_true", help="ingest the city an earlier --keep run left in --workdir")
    ap.add_argument("--workers", type=int, default=None, help="ingest worker processes [params.yaml]")
    ap.add_argument("--synth-only", action="store_true", help="measure the generation only and keep the city")
    ap.add_argument("--synth-workers", type=int, default=None, help="synth worker processes [params.yaml]")
    ap.add_argument("--city", type=Path, default=None, help="where the city goes [WORKDIR/city_N]")
    args = ap.parse_args()
    os.chdir(Path(__file__).resolve().parents[1])  # the CLI runs from the repository root
    exe = str(Path(sys.executable).with_name("riskclass"))
    work = args.city or args.workdir / f"city_{args.entities}"
    if args.synth_only:
        return synth_only(exe, work, args)
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
    report = json.loads((work / "validated" / "report.json").read_text(encoding="utf-8"))
    result = {
        **_city(args, work, synth),
        "ingest": ingest,
        "ingest_workers": args.workers or load_params()["ingest"]["workers"],
        "quarantined": {k: v["quarantined"] for k, v in report["tables"].items()},
        "totals": report["totals"],
    }
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


def _city(args, work: Path, synth: dict) -> dict:
    """What a result says of the city: size, machine, synth figures, raw size and rows per table."""
    summary = json.loads((work / "summary.json").read_text(encoding="utf-8"))
    return {
        "entities": args.entities,
        "months": args.months,
        "machine": machine(),
        "synth": synth,
        "raw_mb": round(sum(f.stat().st_size for f in (work / "raw").iterdir()) / 2**20, 1),
        "rows": {k: v["rows"] for k, v in summary["tables"].items()},
        "rows_total": sum(v["rows"] for v in summary["tables"].values()),
    }


def synth_only(exe: str, work: Path, args) -> None:
    """Generate a city (kept), measured; record time, peak RSS of the process tree and rows."""
    workers = ["--workers", str(args.synth_workers)] if args.synth_workers else []
    cmd = [exe, "synth", "--out", str(work), "--entities", str(args.entities), "--months", str(args.months)]
    synth = measure([*cmd, *workers])
    synth.pop("output")
    summary = json.loads((work / "summary.json").read_text(encoding="utf-8"))
    result = {
        **_city(args, work, synth),
        "shards": summary["generator"].get("shards", 1),
        "synth_workers": args.synth_workers or load_params()["synth"]["workers"],
    }
    out = Path(__file__).parent / "results" / f"synth_{args.entities}.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
