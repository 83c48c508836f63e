"""The feedback loop: inspection results of one plan come back, are validated, and become records.

``ingest_results(file, plan_dir, feedback_dir)`` validates the platform's results file like any raw
table of the contract (encodings, Chinese headers, code lists, dates) and against its plan: the check
id must be one of the plan's, the USCC the entity drawn for it, the date not before the plan started.
Accepted rows become ``inspections`` records — with the plan's item type, draw type and inclusion
probability — in ``<feedback_dir>/<plan_id>.parquet``, which the next month's indicators, the next
plan's cool-off and the evaluation read. Rejected rows go to ``<feedback_dir>/<plan_id>/quarantine.csv``
with file, row, column, rule and the original record, next to ``report.json`` (read = accepted +
quarantined, always) and the evaluation; the results announcement (一公开: entity, item, department, date,
result — no class) goes to ``<feedback_dir>/<plan_id>/publish/results_public.csv``. The plan is read from its
internal copy (``internal/``); the plan directory itself is never written to.
The results file of a plan is cumulative: ingesting a newer one replaces the plan's records.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from riskclass import codes, contract
from riskclass.exports import write_csv
from riskclass.ingest import validate_table
from riskclass.ingest.reader import read_raw
from riskclass.io import atomic_parquet, atomic_write_bytes, write_parquet
from riskclass.plan.evaluate import estimates_table, ipw_rates
from riskclass.plan.output import RESULTS_PUBLIC, internal_files, public_results, read_internal_plan


class ResultsError(Exception):
    pass


def load_plan(plan_dir: Path) -> tuple[dict, pd.DataFrame]:
    plan_dir = Path(plan_dir)
    stored = internal_files(plan_dir)
    if stored is None:
        raise ResultsError(
            f"{plan_dir}: not a plan directory (internal/summary.json and internal/plan_internal.csv expected)"
        )
    summary = json.loads(stored[0].read_text(encoding="utf-8"))
    checks = read_internal_plan(stored[1])
    # empty for a triggered check: not a random draw, no inclusion probability
    checks["inclusion_prob"] = pd.to_numeric(checks["inclusion_prob"].replace("", np.nan))
    return summary, checks


def _plan_rules(checks: pd.DataFrame, start: pd.Timestamp):
    planned = dict(zip(checks["check_id"], checks["uscc"], strict=True))

    def rules(typed: pd.DataFrame, found) -> None:
        ids = typed["check_id"]
        known = ids.isin(planned).to_numpy()
        found.add(ids.notna().to_numpy() & ~known, "check_id", "not_in_plan")
        expected = ids.map(planned)
        mismatch = known & typed["uscc"].notna().to_numpy() & (typed["uscc"] != expected).to_numpy()
        found.add(
            mismatch,
            "uscc",
            "plan_mismatch",
            np.array([f"the plan drew {e} for this check" for e in expected[mismatch]], dtype=object),
        )
        early = (typed["inspection_date"] < start).fillna(False).to_numpy(dtype=bool)
        found.add(early, "inspection_date", "before_plan_start", f"the plan started on {start.date()}")

    return rules


def ingest_results(results_file: Path, plan_dir: Path, feedback_dir: Path, received: str | None = None) -> dict:
    """Validate one plan's results file; write its feedback records; return the reconciled report."""
    plan_dir, results_file = Path(plan_dir), Path(results_file)
    summary, checks = load_plan(plan_dir)
    plan_id, start = summary["plan_id"], pd.Timestamp(summary["start_date"])
    received_on = pd.Timestamp(received) if received else pd.Timestamp.today().normalize()
    table = contract.RESULTS_TABLE
    raw = read_raw(results_file, table)
    accepted, quarantine, report, _ = validate_table(
        table, raw, received_on, None, extra_rules=_plan_rules(checks, start)
    )
    plan_rows = checks.set_index("check_id").loc[accepted["check_id"]]
    records = pd.DataFrame(
        {
            "inspection_id": accepted["check_id"].to_numpy(),
            "uscc": accepted["uscc"].to_numpy(),
            "task_id": (plan_id + "/" + plan_rows["item_id"]).to_numpy(),
            "item_type": plan_rows["item_type"].to_numpy(),
            "draw_type": plan_rows["draw_type"].to_numpy(),
            "inclusion_prob": plan_rows["inclusion_prob"].to_numpy(dtype=float),
            "inspection_date": accepted["inspection_date"].to_numpy(),
            "result_code": accepted["result_code"].to_numpy(),
            "disposition": accepted["disposition"].to_numpy(),
        }
    ).sort_values("inspection_id", ignore_index=True)
    atomic_parquet(records, Path(feedback_dir) / f"{plan_id}.parquet")
    out = Path(feedback_dir) / plan_id
    out.mkdir(parents=True, exist_ok=True)
    write_csv(quarantine, out / "quarantine.csv", private=True)
    write_csv(public_results(records, checks), out / RESULTS_PUBLIC)
    report.update(
        {
            "plan_id": plan_id,
            "received": str(received_on.date()),
            "planned_checks": len(checks),
            "outstanding_checks": int(len(checks) - len(records)),
            "checks_after_due_date": int((records["inspection_date"] > pd.Timestamp(summary["due_date"])).sum()),
            "problems_found": int(codes.found_problem(records["result_code"]).sum()),
            "feedback_file": str(Path(feedback_dir) / f"{plan_id}.parquet"),
        }
    )
    if records.empty:  # an evaluation of earlier results would no longer describe this plan's records
        for stale in ("evaluation.json", "evaluation.parquet"):
            (out / stale).unlink(missing_ok=True)
    atomic_write_bytes(
        out / "report.json",
        (json.dumps(report, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8"),
    )
    return report


def evaluate_plan(plan_dir: Path, feedback_dir: Path) -> pd.DataFrame:
    """Problem rate per class (and per item type) from a plan's returned results, IPW with 95 % CIs."""
    summary, checks = load_plan(plan_dir)
    path = Path(feedback_dir) / f"{summary['plan_id']}.parquet"
    if not path.exists():
        raise ResultsError(f"{path}: no results ingested for plan {summary['plan_id']} yet")
    results = pd.read_parquet(path, columns=["inspection_id", "result_code"])
    joined = results.merge(
        checks[["check_id", "class", "item_type", "inclusion_prob"]], left_on="inspection_id", right_on="check_id"
    )
    joined["problem"] = codes.found_problem(joined["result_code"])
    joined = joined[joined["inclusion_prob"].notna()]  # random draws only: a triggered check has no probability
    by_class = ipw_rates(joined, "class").assign(item_type="all")
    by_type = ipw_rates(joined, ["class", "item_type"])
    table = pd.concat([by_class, by_type], ignore_index=True)
    write_parquet(table, Path(feedback_dir) / summary["plan_id"] / "evaluation.parquet")
    atomic_write_bytes(
        Path(feedback_dir) / summary["plan_id"] / "evaluation.json",
        (json.dumps(estimates_table(table), ensure_ascii=False, indent=2) + "\n").encode("utf-8"),
    )
    return table
