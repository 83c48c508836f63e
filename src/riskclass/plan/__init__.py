"""双随机 inspection planning, inspector assignment and the feedback loop (docs/inspection-planning.md)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd

from riskclass import domains
from riskclass.indicators import load_catalog
from riskclass.io import sha256_file
from riskclass.keys import current_key
from riskclass.plan import frequencies, strata
from riskclass.plan.assign import inspector_columns
from riskclass.plan.draw import DRAW_KEY_ENV
from riskclass.plan.evaluate import history_strata, ipw_rates, random_checks_with_strata
from riskclass.plan.inputs import load_inputs
from riskclass.plan.output import internal_files, read_internal_plan, summarise, write_plan
from riskclass.plan.planner import Plan, PlanError, make_plan, plan_id_for, validate_plan_params
from riskclass.records import RecordStore

__all__ = ["Plan", "PlanError", "problem_rates", "run_plan", "verify_plan"]


def problem_rates(
    inspections: pd.DataFrame, store: RecordStore, subbands: dict[str, int]
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """IPW problem rates per class and per stratum (class and score sub-band) from every earlier random check
    whose class and score in the month before the check are known (the sealed records' current revisions).

    A stratum's sub-band edges come from its month's own scores, so each month is read whole, one at a time,
    and only the checked entities' rows are kept: the history of every month together is never in memory."""
    months = sorted((inspections["inspection_date"].dt.to_period("M") - 1).astype(str).unique())  # before each check
    checked = inspections["uscc"].unique()
    labelled = []
    for month in months:
        record = store.current(month)
        if record is None:
            continue
        classes = pd.read_parquet(record.classes_path, columns=["uscc", "month", strata.RISK_COLUMN, "class"])
        month_strata = history_strata(classes, subbands)
        labelled.append(month_strata[month_strata["uscc"].isin(checked)])
    if not labelled:
        return None, None
    joined = random_checks_with_strata(inspections, pd.concat(labelled, ignore_index=True))
    if joined.empty:
        return None, None
    return ipw_rates(joined, "class"), ipw_rates(joined, "stratum")


def run_plan(p: dict, month: str, out_dir: Path | None = None, replace: bool = False) -> tuple[Plan, dict, Path]:
    """Draw the plan for ``month`` into ``out_dir/<plan_id>``; return (plan, summary, its folder).

    A drafted plan may already have gone to the inspection platform, so it is never replaced silently:
    when the folder holds a draft that differs from this draw, it is kept (``plan.status == "kept"``,
    the stored summary is returned) unless ``replace`` is asked, and a plan whose results were ingested
    is never replaced by a different draw.
    """
    pp = p["plan"]
    validate_plan_params(pp, set(load_catalog(p["features"]["catalog"]).codes))
    inputs = load_inputs(p, month)
    store = RecordStore(p["classify"]["records_dir"])
    class_rates, stratum_rates = problem_rates(inputs.inspections, store, pp["subbands"])
    plan_id = plan_id_for(pp, month, p["city"]["prefecture"])
    plan = make_plan(inputs, pp, plan_id, current_key(DRAW_KEY_ENV), stratum_rates=stratum_rates)
    summary = summarise(plan, class_rates, stratum_rates)
    professional = _professional_items(store, inputs.classes_month, month, plan, summary, pp)
    out_dir = Path(out_dir or pp["out_dir"])
    plan_dir = out_dir / plan.plan_id
    stored = internal_files(plan_dir)
    if stored is not None:
        with tempfile.TemporaryDirectory() as tmp:
            plan.differs = sorted(_differing_files(write_plan(plan, summary, Path(tmp), professional), plan_dir))
        if not plan.differs:
            plan.status = "unchanged"
            return plan, summary, plan_dir
        if not replace:
            plan.status = "kept"
            return plan, json.loads(stored[0].read_text(encoding="utf-8")), plan_dir
        _refuse_to_rewrite_used_plan(plan_dir, plan, Path(p["features"]["feedback_dir"]))
    path = write_plan(plan, summary, out_dir, professional)
    return plan, summary, path


def _professional_items(
    store: RecordStore, classes_month: str, month: str, plan: Plan, summary: dict, pp: dict
) -> pd.DataFrame | None:
    """The plan month's minimum-frequency items of the domain grades sealed with the classes month (none for a
    record sealed before the domain graders); their compliance and capacity go into ``summary``."""
    record = store.current(classes_month)
    path = record.path / domains.GRADES_FILE if record else None
    if path is None or not path.exists():
        return None
    grades = pd.read_parquet(path)
    summary["professional"] = frequencies.summary(grades, month, plan.loads, pp["inspectors_per_check"])
    return frequencies.month_items(grades, month)


def _differing_files(fresh_dir: Path, published_dir: Path) -> dict[str, tuple[str, str]]:
    """Files of a fresh draw whose bytes differ from the published folder's: relative path (``internal/…``,
    ``publish/…``) → (published, fresh)."""
    differ = {}
    for fresh in sorted(f for f in Path(fresh_dir).rglob("*") if f.is_file()):
        name = fresh.relative_to(fresh_dir).as_posix()
        published = Path(published_dir) / name
        theirs, ours = (sha256_file(published) if published.is_file() else "missing"), sha256_file(fresh)
        if theirs != ours:
            differ[name] = (theirs, ours)
    return differ


def _refuse_to_rewrite_used_plan(plan_dir: Path, plan: Plan, feedback_dir: Path) -> None:
    """A plan whose results came back is a record: a different draw may not replace it."""
    stored = internal_files(plan_dir)
    if stored is None or not (feedback_dir / f"{plan.plan_id}.parquet").exists():
        return
    key = ["check_id", "uscc", "item_id", *inspector_columns(plan.checks)]
    before = read_internal_plan(stored[1])
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
        return _differing_files(again, plan_dir)
