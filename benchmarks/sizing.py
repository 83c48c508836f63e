"""Sizing on paper from measured figures: a province (15 M market entities) and a country (180 M).

    python benchmarks/sizing.py            # prints the markdown tables docs/scale.md reports

Reads benchmarks/results/month_1000000.json and month_5000000.json (bench_month.py: each step's wall time, CPU
seconds of the process tree and peak memory on this machine) and the Spark figures (bench_spark.py,
spark_<entities>.json, the largest city measured). Per step it fits cost = fixed + per-entity × entities through the
1 M and 5 M points (CPU seconds and peak memory), and extrapolates:

- one machine of our kind (2 cores, 24 GiB): wall time ≈ the 5 M wall time scaled by entities; the step whose peak
  memory passes 24 GiB first says where one machine ends;
- a Spark cluster: the CPU seconds per entity of the Spark steps (indicators, scoring) measured on ``local[2]``,
  times the entities, spread over the executors' cores at ``EFFICIENCY`` within ``BUDGET_HOURS``; the other steps
  (ingest, plan …) stay per-county or per-province jobs of the one-machine kind, sized by their own per-entity cost.

Every assumption is a constant below, named in the output.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = {"province (15 M)": 15_000_000, "country (180 M)": 180_000_000}
BUDGET_HOURS = 4.0  # the monthly indicators + scoring on the cluster, within one night's window
EFFICIENCY = 0.6  # share of the cluster's core-seconds that does the work (skew, stragglers, shuffles, start-up)
EXECUTOR_CORES, EXECUTOR_MEMORY_GB = 4, 16
ROWS_PER_PARTITION = 200_000  # scoring partitions (CLASSIFY_CHUNK) and indicator output partitions
MACHINE_MEMORY_GB = 24


def _load(name: str) -> dict | None:
    path = RESULTS / name
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def fit(one: float, five: float) -> tuple[float, float]:
    """(fixed, per million entities) through the 1 M and 5 M points."""
    per_m = (five - one) / 4.0
    return one - per_m, per_m


def main() -> None:
    m1, m5 = _load("month_1000000.json"), _load("month_5000000.json")
    if not (m1 and m5):
        raise SystemExit("run benchmarks/bench_month.py at 1 M and 5 M entities first")
    steps = [s for s in m5["steps"] if s in m1["steps"] and "cpu_s" in m5["steps"][s] and "cpu_s" in m1["steps"][s]]
    print(
        "| step | CPU s at 1 M | CPU s at 5 M | CPU µs per entity (fit) | peak GB at 1 M | peak GB at 5 M "
        "| peak GB per M (fit) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    per_entity, memory = {}, {}
    for s in steps:
        a, b = m1["steps"][s], m5["steps"][s]
        _, cpu_per_m = fit(a["cpu_s"], b["cpu_s"])
        mem0, mem_per_m = fit(a["peak_rss_gb"], b["peak_rss_gb"])
        per_entity[s], memory[s] = cpu_per_m, (mem0, mem_per_m)
        print(
            f"| {s} | {a['cpu_s']:.0f} | {b['cpu_s']:.0f} | {cpu_per_m:.0f} | {a['peak_rss_gb']:.2f} | "
            f"{b['peak_rss_gb']:.2f} | {mem_per_m:.2f} |"
        )
    month = [s for s in m5["month_steps"] if s in steps]
    print()
    print("One machine (2 cores, 24 GiB), the month's steps (" + " + ".join(month) + "):")
    print()
    print("| city | wall time (5 M scaled) | CPU time | largest peak (step) | fits 24 GiB |")
    print("|---|---:|---:|---:|---|")
    wall5 = sum(m5["steps"][s]["seconds"] for s in month)
    cpu5 = sum(m5["steps"][s]["cpu_s"] for s in month)
    for label, n in {"5 M (measured)": 5_000_000, **TARGETS}.items():
        scale = n / 5_000_000
        peaks = {s: memory[s][0] + memory[s][1] * n / 1e6 for s in month}
        worst = max(peaks, key=peaks.get)
        print(
            f"| {label} | {wall5 * scale / 60:.0f} min | {cpu5 * scale / 60:.0f} min | {peaks[worst]:.1f} GB "
            f"({worst}) | {'yes' if peaks[worst] <= MACHINE_MEMORY_GB else 'no'} |"
        )
    spark = max((_load(p.name) for p in RESULTS.glob("spark_*.json")), key=lambda r: r["entities"], default=None)
    if spark is None:
        return
    n_spark = spark["entities"]
    cores_local = spark.get("cores", 2)
    spark_s = {
        k: spark[k]["seconds"] * cores_local / n_spark * 1e6 for k in ("features_spark", "scoring_spark") if k in spark
    }  # core-seconds per million entities, local[2] at full use of both cores (an upper bound on the work)
    print()
    print(
        f"Spark cluster (from local[{cores_local}] on {n_spark:,} entities; budget {BUDGET_HOURS:g} h at "
        f"{EFFICIENCY:.0%} efficiency; executors of {EXECUTOR_CORES} cores and {EXECUTOR_MEMORY_GB} GB):"
    )
    print()
    print("| city | core-hours (indicators + scoring) | executors | partitions (200 k rows) | features in memory |")
    print("|---|---:|---:|---:|---:|")
    plans = {}
    for label, n in TARGETS.items():
        core_s = sum(spark_s.values()) * n / 1e6
        cores = core_s / (BUDGET_HOURS * 3600 * EFFICIENCY)
        executors = max(2, math.ceil(cores / EXECUTOR_CORES))
        gb = n * 127 * 8 / 2**30
        plans[label] = (n, core_s, executors)
        print(f"| {label} | {core_s / 3600:.0f} | {executors} | {math.ceil(n / ROWS_PER_PARTITION):,} | {gb:.0f} GB |")
    # the steps that stay per bureau: each city (≤ 5 M entities, the measured size) ingests its own exports and
    # plans its own inspections on a machine of our kind, all cities at once; Spark builds and scores them all
    local = [s for s in month if s != "classify"]
    local_wall = sum(m5["steps"][s]["seconds"] for s in local)
    local_peak = max(m5["steps"][s]["peak_rss_gb"] for s in local)
    print()
    print(
        "The month on a cluster: per-city steps (" + " + ".join(local) + ") on one machine of our kind per city "
        "of ≤ 5 M entities (the 5 M measurement), indicators and scoring on the Spark cluster above:"
    )
    print()
    print("| city | city machines | per-city steps (each) | Spark indicators + scoring | month (wall) |")
    print("|---|---:|---:|---:|---:|")
    for label, (n, core_s, executors) in plans.items():
        machines = math.ceil(n / 5_000_000)
        spark_wall = core_s / (executors * EXECUTOR_CORES * EFFICIENCY)
        print(
            f"| {label} | {machines} × 2 cores, {local_peak:.0f} GB peak | {local_wall / 60:.0f} min | "
            f"{spark_wall / 3600:.1f} h on {executors} × {EXECUTOR_CORES} cores | "
            f"{(local_wall + spark_wall) / 3600:.1f} h |"
        )


if __name__ == "__main__":
    main()
