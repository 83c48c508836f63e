"""双随机 inspection planning, inspector assignment and the feedback loop (docs/inspection-planning.md)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from riskclass.indicators import load_catalog
from riskclass.io import sha256_file
from riskclass.plan.assign import inspector_columns
from riskclass.plan.evaluate import ipw_rates, random_checks_with_classes
from riskclass.plan.inputs import load_inputs
from riskclass.plan.output import summarise, write_plan
from riskclass.plan.planner import Plan, PlanError, make_plan, plan_id_for, validate_plan_params

__all__ = ["Plan", "PlanError", "class_problem_rates", "run_plan", "verify_plan"]


def class_problem_rates(inspections: pd.DataFrame, history_path: Path) -> pd.DataFrame | None:
    """IPW problem rate per class from every earlier random check whose month-before class is known."""
    if not Path(history_path).exists():
        return None
    joined = random_checks_with_classes(inspections, pd.read_parquet(history_path, columns=["uscc", "month", "class"]))
    return ipw_rates(joined, "class") if len(joined) else None


def run_plan(p: dict, month: str, out_dir: Path | None = None) -> tuple[Plan, dict, Path]:
    pp = p["plan"]
    validate_plan_params(pp, set(load_catalog(p["features"]["catalog"]).codes))
    inputs = load_inputs(p, month)
    plan = make_plan(inputs, pp, plan_id_for(pp, month, p["city"]["prefecture"]))
    rates = class_problem_rates(inputs.inspections, Path(p["classify"]["out_dir"]) / "history.parquet")
    summary = summarise(plan, rates)
    out_dir = Path(out_dir or pp["out_dir"])
    _refuse_to_rewrite_used_plan(out_dir / plan.plan_id, plan, Path(p["features"]["feedback_dir"]))
    path = write_plan(plan, summary, out_dir)
    return plan, summary, path


def _refuse_to_rewrite_used_plan(plan_dir: Path, plan: Plan, feedback_dir: Path) -> None:
    """A plan whose results came back is a record: a different draw may not replace it."""
    published = plan_dir / "plan.csv"
    if not published.exists() or not (feedback_dir / f"{plan.plan_id}.parquet").exists():
        return
    key = ["check_id", "uscc", "item_id", *inspector_columns(plan.checks)]
    before = pd.read_csv(published, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    after = plan.checks[key].fillna("").astype(str).reset_index(drop=True)
    before = before[key] if set(key) <= set(before.columns) else before
    if not before.equals(after):
        raise PlanError(
            f"{plan_dir}: results of this plan were ingested ({feedback_dir / plan.plan_id}.parquet) and the "
            "re-drawn plan differs; a used plan is immutable — restore its inputs or give the new plan another id"
        )


def verify_plan(p: dict, month: str, plan_dir: Path) -> dict[str, tuple[str, str]]:
    """Re-derive the plan from its inputs and published seed; return files whose bytes differ."""
    with tempfile.TemporaryDirectory() as tmp:
        _, _, again = run_plan(p, month, Path(tmp))
        differ = {}
        for fresh in sorted(again.iterdir()):
            published = Path(plan_dir) / fresh.name
            theirs, ours = (sha256_file(published) if published.exists() else "missing"), sha256_file(fresh)
            if theirs != ours:
                differ[fresh.name] = (theirs, ours)
        return differ
