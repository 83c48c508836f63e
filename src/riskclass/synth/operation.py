"""A year of operation on the synthetic city: the monthly routine run month after month, as a bureau would.

For each month M: classify M into a sealed record, draw the 双随机 plan for M+1 from M's classes,
let the synthetic city carry the checks out (ground truth of M+1), ingest the results, move on. On
the way, the events a real year brings: a promotion (``promote_at``: before classifying that month,
the ``promote`` callback replaces the champion export), a missed month classified later as a
back-fill (``skip``/``backfill_at``), and a correction of an earlier month as a revision
(``revise``/``revise_at``). After every step the hashes of every file written earlier are compared
with the hashes they had when written: nothing sealed or drawn may change. Synthetic city only (the
results come from the ground truth); used by the slow test and by ``benchmarks/bench_year.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from riskclass.classify.run import classify_month
from riskclass.early_warning.fire import run_warnings
from riskclass.io import sha256_file
from riskclass.periods import months_between, next_month
from riskclass.plan import run_plan
from riskclass.plan.results import ingest_results
from riskclass.synth.results import simulate_results
from riskclass.triggers.run import run_roster


@dataclass
class YearLog:
    months: list[dict] = field(default_factory=list)  # one row per month: checks, findings, timings
    events: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # files written earlier whose bytes changed (must stay empty)
    seconds: float = 0.0


def _tree(*roots: Path) -> dict[str, str]:
    out = {}
    for root in roots:
        if Path(root).exists():
            out.update({str(f): sha256_file(f) for f in sorted(Path(root).rglob("*")) if f.is_file()})
    return out


def _frozen(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Files that existed before and changed or vanished (the derived history and the appended ledger excluded)."""
    return [f for f, h in before.items() if after.get(f) != h and not f.endswith(("history.parquet", "ledger.jsonl"))]


def promote_recalibrated(model_dir: Path, shift: float = 0.4) -> str:
    """Stand-in for a promotion: replace the champion export with a recalibrated copy under the next version.

    It scores differently (every probability shifted by ``shift`` on the logit scale), which is all the
    sequence needs: the months classified after it must carry the new version, those before must not move.
    """
    from riskclass.io import atomic_directory
    from riskclass.model.risk_model import RiskModel

    model = RiskModel.load(Path(model_dir))
    model.calibrator.intercept_ += shift
    model.info["registered_version"] = str(int(model.info.get("registered_version") or 0) + 1)
    with atomic_directory(Path(model_dir)) as scratch:
        model.save(scratch)
    return f"v{model.info['registered_version']}"


def run_year(
    p: dict,
    first: str,
    last: str,
    truth_dir: Path,
    *,
    promote: Callable[[], str] | None = None,
    promote_at: str | None = None,
    skip: str | None = None,
    backfill_at: str | None = None,
    revise: str | None = None,
    revise_at: str | None = None,
) -> YearLog:
    log = YearLog()
    started = time.perf_counter()
    records, plans = Path(p["classify"]["records_dir"]), Path(p["plan"]["out_dir"])
    feedback = Path(p["features"]["feedback_dir"])
    validated = Path(p["features"]["validated_dir"])
    items = pd.read_parquet(validated / "check_items.parquet")
    for month in months_between(first, last):
        row: dict = {"month": month}
        before = _tree(records, plans)
        t0 = time.perf_counter()
        if promote is not None and month == promote_at:
            log.events.append(f"{month}: promoted {promote()} before classifying")
        if month == backfill_at and skip:
            classify_month(p, skip, "backfill", f"the {skip} run was missed; classified in {month}", "operator")
            log.events.append(f"{month}: back-filled {skip}")
        if month == revise_at and revise:
            outcome = classify_month(p, revise, "revision", f"late results corrected in {month}", "operator")
            log.events.append(f"{month}: revised {revise} → r{outcome.record.revision}")
        if month == skip:
            log.events.append(f"{month}: run missed")
            log.months.append({**row, "classified": False})
            continue
        outcome = classify_month(p, month)
        row.update(classified=True, classify_s=round(time.perf_counter() - t0, 2), entities=outcome.summary["entities"])
        row.update({f"class_{k}": v for k, v in outcome.summary["classes"].items()})
        t1 = time.perf_counter()
        plan_month = next_month(month)
        run_warnings(p, month)  # as the pipeline does (stage warnings): directed draws may name a warning
        if p["triggers"]["enabled"]:
            run_roster(p, month)  # stage roster: the plan leaves the roster out of general items
        _, summary, plan_dir = run_plan(p, plan_month)
        results = Path(plan_dir).with_name(f"{Path(plan_dir).name}.results.csv")
        simulate_results(plan_dir, truth_dir, items, p["synth"]["inspections"], results)
        received = str(pd.Period(plan_month, freq="M").end_time.date() + pd.Timedelta(days=31))
        report = ingest_results(results, plan_dir, feedback, received=received)
        results.unlink()
        row.update(
            plan=summary["plan_id"],
            checks=report["accepted"],
            findings=report["problems_found"],
            findings_per_100=round(100 * report["problems_found"] / max(report["accepted"], 1), 2),
            plan_s=round(time.perf_counter() - t1, 2),
        )
        log.months.append(row)
        log.changed += _frozen(before, _tree(records, plans))
    log.seconds = round(time.perf_counter() - started, 1)
    return log
