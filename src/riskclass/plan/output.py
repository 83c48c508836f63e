"""Writing a plan: CSV and Excel for the inspection platform, the draw's audit files and a summary.

``<out>/<plan_id>/``:

- ``plan.csv``               one row per check (entity × item) with inspectors and dates (UTF-8 with BOM)
- ``plan.xlsx``              the same in Chinese, with the summary, strata, workloads and the seed
- ``inclusion.parquet``      every candidate (entity × item) with its inclusion probability and whether drawn
- ``strata.csv``             every draw: population N, floor, target, drawn n, probability
- ``results_template.csv``   what the platform returns (`riskclass results ingest`)
- ``summary.json``           counts per class, district and item; expected findings; seed; input hashes

Same inputs → identical bytes (the Excel file's timestamps are pinned to the plan date).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from riskclass import codes, contract
from riskclass.codes import CLASSES
from riskclass.io import atomic_directory, write_parquet
from riskclass.plan.assign import inspector_columns
from riskclass.plan.planner import Plan

PLAN_COLUMNS = {
    "plan_id": "抽查计划编号",
    "check_id": "检查任务编号",
    "uscc": "统一社会信用代码",
    "name": "名称",
    "district": "行政区划代码",
    "class": "信用风险分类",
    "item_id": "事项编号",
    "item_name": "抽查事项",
    "item_type": "事项类别",
    "department": "实施部门",
    "draw_type": "抽取方式",
    "directed_by": "定向条件",
    "inclusion_prob": "入样概率",
    # inspector_1 … inspector_k (k = plan.inspectors_per_check) follow, as 执法人员1 … 执法人员k
    "start_date": "开始日期",
    "due_date": "完成期限",
    "unassigned_reason": "未派员原因",
}
RESULT_TEMPLATE = contract.RESULTS_TABLE.column_names  # what `riskclass results ingest` reads back


def expected_findings(plan: Plan, rates: pd.DataFrame | None) -> dict:
    """Checks per class × the class's IPW problem rate from earlier random checks."""
    if rates is None or rates.empty:
        return {"total": None, "why": "no earlier random checks with classes to estimate problem rates from"}
    by_class = plan.checks["class"].value_counts()
    rate = rates.set_index("class")["rate"]
    per_class = {k: round(float(by_class.get(k, 0) * rate.get(k, float("nan"))), 1) for k in CLASSES}
    known = {k: v for k, v in per_class.items() if v == v}
    return {
        "total": round(sum(known.values()), 1),
        "by_class": known,
        "rate_basis": {
            r["class"]: {"rate": round(r["rate"], 4), "checks": r["checks"]} for r in rates.to_dict("records")
        },
    }


def summarise(plan: Plan, rates: pd.DataFrame | None) -> dict:
    c, f = plan.checks, plan.frame
    counts = lambda col: {str(k): int(v) for k, v in c[col].value_counts().sort_index().items()}  # noqa: E731
    population = f[~f["cooled_off"]].groupby("class").size()
    busy = plan.loads["assigned"] > 0
    realised = (
        plan.strata[plan.strata["draw_type"] == "undirected"]
        .groupby(["item_id", "class"])[["N", "n"]]
        .sum()
        .assign(ratio=lambda d: (d["n"] / d["N"].clip(lower=1)).round(4))
    )
    return {
        **plan.summary,
        "by_class": counts("class"),
        "by_district": counts("district"),
        "by_item": counts("item_id"),
        "by_draw_type": counts("draw_type"),
        "candidates_by_class": {str(k): int(v) for k, v in population.items()},
        "realised_ratio": {f"{i}/{k}": r for (i, k), r in realised["ratio"].items()},
        "inspector_load": {
            "assigned_inspectors": int(busy.sum()),
            "min": int(plan.loads.loc[busy, "assigned"].min()) if busy.any() else 0,
            "max": int(plan.loads["assigned"].max()) if len(plan.loads) else 0,
        },
        "staffing_by_qualification": staffing(plan),
        "expected_findings": expected_findings(plan, rates),
    }


def staffing(plan: Plan) -> dict:
    """Per qualification the plan needs: officer-slots demanded and the capacity of available officers
    holding it. An officer with several qualifications counts under each, so a qualification short here
    is what to staff first; one that looks covered may still compete for shared officers."""
    per_check = len(inspector_columns(plan.checks))
    needed = plan.checks["qualification"].value_counts() * per_check
    loads = plan.loads[plan.loads["available"]]
    out = {}
    for q, slots in needed.sort_index().items():
        holders = loads["qualifications"].str.split(";").apply(lambda held, q=q: q in held)
        out[q] = {"slots_needed": int(slots), "capacity_available": int(loads.loc[holders, "capacity"].sum())}
    return out


def _xlsx_bytes(sheets: dict[str, pd.DataFrame], when: pd.Timestamp) -> bytes:
    """An .xlsx whose bytes depend only on the data: XlsxWriter pins the zip timestamps, and the document
    dates are set to ``when`` (the plan's start) instead of the clock."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="xlsxwriter") as writer:
        writer.book.set_properties({"created": when.to_pydatetime(), "author": "riskclass"})
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
    return buffer.getvalue()


def plan_columns(checks: pd.DataFrame) -> dict[str, str]:
    """Column → Chinese header of the published plan, with one column per assigned inspector."""
    officers = inspector_columns(checks)
    out = {}
    for name, label in PLAN_COLUMNS.items():
        if name == "start_date":
            out.update({c: f"执法人员{c.split('_')[1]}" for c in officers})
        if name in checks.columns:
            out[name] = label
    return out


def _chinese(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["item_type"] = out["item_type"].map(codes.labels("inspection_item_types"))
    out["department"] = out["department"].map(codes.labels("departments"))
    out["draw_type"] = out["draw_type"].map(codes.labels("draw_types"))
    out["district"] = out["district"].map(codes.labels("divisions")).fillna(out["district"])
    return out.rename(columns=plan_columns(frame))


def write_plan(plan: Plan, summary: dict, out_dir: Path) -> Path:
    target = Path(out_dir) / plan.plan_id
    checks = plan.checks[list(plan_columns(plan.checks))]
    summary_rows = pd.DataFrame(
        [("类别 " + k, v) for k, v in summary["by_class"].items()]
        + [("事项 " + k, v) for k, v in summary["by_item"].items()]
        + [("区县 " + codes.labels("divisions").get(k, k), v) for k, v in summary["by_district"].items()],
        columns=["分组", "检查户次"],
    )
    params_rows = pd.DataFrame(
        [
            (k, str(summary[k]))
            for k in ("plan_id", "seed_text", "seed", "start_date", "due_date", "capacity", "checks")
        ],
        columns=["参数", "值"],
    )
    with atomic_directory(target) as scratch:
        checks.to_csv(scratch / "plan.csv", index=False, encoding="utf-8-sig", lineterminator="\n")
        (scratch / "plan.xlsx").write_bytes(
            _xlsx_bytes(
                {
                    "抽查计划": _chinese(checks),
                    "汇总": summary_rows,
                    "分层抽样": plan.strata,
                    "执法人员工作量": plan.loads,
                    "参数与随机种子": params_rows,
                },
                plan.start,
            )
        )
        write_parquet(plan.frame, scratch / "inclusion.parquet")
        plan.strata.to_csv(scratch / "strata.csv", index=False, lineterminator="\n")
        template = plan.checks[["check_id", "uscc"]].reindex(columns=RESULT_TEMPLATE, fill_value="")
        template.to_csv(scratch / "results_template.csv", index=False, encoding="utf-8-sig", lineterminator="\n")
        (scratch / "summary.json").write_text(
            json.dumps(summary, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
    return target
