"""Benchmark: all catalog indicators for one as-of month, and DuckDB vs a plain pandas implementation.

    python benchmarks/bench_features.py --validated /tmp/bench1m/validated --month 2026-10

Three measured runs, each in its own process (peak RSS sampled): the full catalog with the DuckDB
builder; a representative subset of 8 indicators with the DuckDB builder; the same subset written
as straightforward pandas. The subset results are compared value by value. Results go to
benchmarks/results/features_<entities>.json and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from measure import measure

ROOT = Path(__file__).resolve().parents[1]
SUBSET = [
    "BAS.AGE.years",
    "SUP.PEN.count_3y",
    "SUP.PEN.fines_3y",
    "SUP.ABN.listed_now",
    "SOC.CMP.count_1y",
    "DYN.CHG.legal_rep_1y",
    "SUP.INSP.problems_3y",
    "DYN.AR.latest_filed",
]


def run_duckdb(validated: Path, month: str, out: Path, subset: bool, memory_limit: str) -> None:
    from riskclass.indicators import build, load_catalog

    catalog = load_catalog(ROOT / "indicators.yaml")
    if subset:
        catalog = dataclasses.replace(catalog, indicators=tuple(i for i in catalog.indicators if i.code in SUBSET))
    start = time.perf_counter()
    build(validated, catalog, [month], out, memory_limit=memory_limit, threads=2)
    print(json.dumps({"compute_seconds": round(time.perf_counter() - start, 1)}))


def run_pandas(validated: Path, month: str, out: Path) -> None:
    """The subset, written the way one would without a catalog: load, filter by date, group, join."""
    from riskclass import codes
    from riskclass.indicators.builder import due_year
    from riskclass.periods import month_end

    start = time.perf_counter()
    as_of = pd.Timestamp(month_end(month))
    d1, d3 = as_of - pd.Timedelta(days=365), as_of - pd.Timedelta(days=1095)
    read = lambda name, cols: pd.read_parquet(validated / f"{name}.parquet", columns=cols)  # noqa: E731
    ent = read("entities", ["uscc", "established_date", "status_date"])
    ent = ent[(ent["established_date"] <= as_of) & (ent["status_date"].isna() | (ent["status_date"] > as_of))]
    out_frame = pd.DataFrame({"uscc": ent["uscc"].to_numpy()})
    out_frame["BAS.AGE.years"] = ((as_of - ent["established_date"]).dt.days / 365.25).to_numpy()
    pen = read("penalties", ["uscc", "decision_date", "fine_amount", "confiscation_amount"])
    pen = pen[(pen["decision_date"] <= as_of) & (pen["decision_date"] > d3)]
    pen = pen.assign(money=pen["fine_amount"].fillna(0) + pen["confiscation_amount"].fillna(0))
    by = pen.groupby("uscc").agg(n=("money", "size"), money=("money", "sum"))
    out_frame["SUP.PEN.count_3y"] = out_frame["uscc"].map(by["n"]).fillna(0)
    out_frame["SUP.PEN.fines_3y"] = out_frame["uscc"].map(by["money"]).fillna(0)
    ab = read("abnormal_listings", ["uscc", "list_date", "removal_date"])
    open_now = ab[(ab["list_date"] <= as_of) & (ab["removal_date"].isna() | (ab["removal_date"] > as_of))]
    out_frame["SUP.ABN.listed_now"] = out_frame["uscc"].isin(set(open_now["uscc"])).astype(float)
    cmp_ = read("complaints", ["uscc", "received_date"])
    cmp_ = cmp_[(cmp_["received_date"] <= as_of) & (cmp_["received_date"] > d1)]
    out_frame["SOC.CMP.count_1y"] = out_frame["uscc"].map(cmp_.groupby("uscc").size()).fillna(0)
    chg = read("changes", ["uscc", "change_type", "change_date"])
    chg = chg[(chg["change_type"] == "legal_rep") & (chg["change_date"] <= as_of) & (chg["change_date"] > d1)]
    out_frame["DYN.CHG.legal_rep_1y"] = out_frame["uscc"].map(chg.groupby("uscc").size()).fillna(0)
    insp = read("inspections", ["uscc", "inspection_date", "result_code"])
    insp = insp[
        (insp["inspection_date"] <= as_of)
        & (insp["inspection_date"] > d3)
        & insp["result_code"].isin(codes.inspection_problem_codes())
    ]
    out_frame["SUP.INSP.problems_3y"] = out_frame["uscc"].map(insp.groupby("uscc").size()).fillna(0)
    ar = read("annual_reports", ["uscc", "report_year", "filing_date"])
    ar = ar[(ar["filing_date"] <= as_of) & (ar["report_year"] == due_year(as_of.date()))]
    out_frame["DYN.AR.latest_filed"] = out_frame["uscc"].isin(set(ar["uscc"])).astype(float)
    out_frame = out_frame.sort_values("uscc").reset_index(drop=True)
    out.mkdir(parents=True, exist_ok=True)
    out_frame.to_parquet(out / f"{month}.parquet", index=False)
    print(json.dumps({"compute_seconds": round(time.perf_counter() - start, 1)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--validated", type=Path, required=True)
    ap.add_argument("--month", default="2026-10")
    ap.add_argument("--memory-limit", default="4GB")
    ap.add_argument("--mode", choices=["all", "duckdb-full", "duckdb-subset", "pandas-subset"], default="all")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if args.mode == "duckdb-full":
        return run_duckdb(args.validated, args.month, args.out, subset=False, memory_limit=args.memory_limit)
    if args.mode == "duckdb-subset":
        return run_duckdb(args.validated, args.month, args.out, subset=True, memory_limit=args.memory_limit)
    if args.mode == "pandas-subset":
        return run_pandas(args.validated, args.month, args.out)

    work = Path(tempfile.mkdtemp(prefix="bench-features-"))
    results = {}
    for mode in ("duckdb-full", "duckdb-subset", "pandas-subset"):
        m = measure(
            [
                sys.executable,
                __file__,
                "--mode",
                mode,
                "--validated",
                str(args.validated),
                "--month",
                args.month,
                "--out",
                str(work / mode),
                "--memory-limit",
                args.memory_limit,
            ]
        )
        m.update(json.loads(m.pop("output").strip().splitlines()[-1]))
        results[mode] = m
        print(mode, m, flush=True)
    full = pd.read_parquet(work / "duckdb-full" / f"{args.month}.parquet")
    duck = pd.read_parquet(work / "duckdb-subset" / f"{args.month}.parquet")
    pand = pd.read_parquet(work / "pandas-subset" / f"{args.month}.parquet")
    assert list(duck["uscc"]) == list(pand["uscc"]), "populations differ"
    max_diff = max(float(np.max(np.abs(duck[c].to_numpy() - pand[c].to_numpy()))) for c in SUBSET)
    report = {
        "month": args.month,
        "entities": len(full),
        "indicators": full.shape[1] - 2,
        "machine": {"cpus": os.cpu_count(), "memory_limit": args.memory_limit},
        "duckdb_full": results["duckdb-full"],
        "duckdb_subset": results["duckdb-subset"],
        "pandas_subset": results["pandas-subset"],
        "subset": SUBSET,
        "subset_max_abs_difference": max_diff,
        "pandas_over_duckdb_subset_compute": round(
            results["pandas-subset"]["compute_seconds"] / max(results["duckdb-subset"]["compute_seconds"], 0.1), 2
        ),
    }
    shutil.rmtree(work, ignore_errors=True)
    out = Path(__file__).parent / "results" / f"features_{len(full)}.json"
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
