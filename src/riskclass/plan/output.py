"""Writing a plan: an internal working copy with the classes, and the publishable list without them.

Classes are internal (不评价、不惩戒、不公开、不免抽), while 双随机、一公开 publishes who is checked and what
was found. So ``<out>/<plan_id>/`` is split in two:

``internal/`` (folder 0700, files 0600; 内部资料 不得公开 — never leaves the bureau):

- ``README_内部资料_不得公开.txt``  what the folder is and that nothing in it may be published
- ``plan_internal.csv``      one row per check: entity, class, item, draw type, directed filter, inclusion
                             probability, inspectors, dates (UTF-8 with BOM); what every reader of the plan uses
- ``plan_internal.xlsx``     the same in Chinese with the summary, strata, workloads and the seed; every sheet
                             name starts with 内部 and every printed page is headed 内部资料 不得公开
- ``inclusion.parquet``      every candidate (entity × item) with its class and inclusion probability
- ``strata.csv``             every draw: population N, floor, target, drawn n, probability
- ``summary.json``           counts per class, district, item and entity type (with each type's annual share per
                             item against ``plan.entity_types``); expected findings; seed; input hashes

``publish/`` (what may go to the inspection platform and be published):

- ``plan_public.csv`` / ``.xlsx``  one row per check: plan id, check id, entity (USCC, name), item (id, name),
                             department, inspectors' certificate ids, start and due dates — sorted by check id
- ``results_template.csv``   what the platform returns (``riskclass results ingest``)

No publishable column carries, or lets anyone compute, a class: see :data:`PUBLIC_COLUMNS` and
docs/inspection-planning.md. After results are ingested, ``riskclass.plan.results`` writes the results
announcement (:func:`public_results`) to ``<feedback_dir>/<plan_id>/publish/results_public.csv`` (the plan
folder itself is never written to after the draw).

Every CSV and Excel file is written by :mod:`riskclass.exports` (cells neutralised against formula injection,
formula/URL conversion off). Same inputs → identical bytes (the Excel files' dates are pinned to the plan date).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from riskclass import codes, contract
from riskclass.exports import read_csv, write_csv, write_excel
from riskclass.io import atomic_directory, write_parquet
from riskclass.plan.assign import inspector_columns
from riskclass.plan.planner import Plan

# The internal working copy (plan_internal.csv and its Excel sheet): everything, class included
PLAN_COLUMNS = {
    "plan_id": "抽查计划编号",
    "check_id": "检查任务编号",
    "uscc": "统一社会信用代码",
    "name": "名称",
    "district": "行政区划代码",
    "entity_type": "主体类型",
    "class": "信用风险分类",
    "stratum": "评分子档",
    "item_id": "事项编号",
    "item_name": "抽查事项",
    "item_type": "事项类别",
    "department": "实施部门",
    "draw_type": "抽取方式",
    "directed_by": "定向条件",
    "triggered_by": "触发原因",
    "inclusion_prob": "入样概率",
    # inspector_1 … inspector_k (k = plan.inspectors_per_check) follow, as 执法人员1 … 执法人员k
    "start_date": "开始日期",
    "due_date": "完成期限",
    "unassigned_reason": "未派员原因",
}
RESULT_TEMPLATE = contract.RESULTS_TABLE.column_names  # what `riskclass results ingest` reads back

# What may leave the bureau, one row per check. Why each column is safe (docs/inspection-planning.md):
# the plan id and dates are the same for every row; the check id numbers the checks in the order
# (department, item, district, USCC) — no class, stratum or draw in it; entity and item are what
# 双随机、一公开 publishes; inspectors are assigned at random among the qualified, whatever the class.
# Left out on purpose: class, inclusion probability (it gives the class away), draw type and directed filter
# (a directed filter names a risk signal, and directed rows differ in class mix), item type, district,
# unassigned reason, and the seed (with the seed, the hash ranks of the drawn USCCs point at their class strata).
_WHO_AND_WHAT = {  # what 双随机、一公开 publishes of every check
    "plan_id": "抽查计划编号",
    "check_id": "检查任务编号",
    "uscc": "统一社会信用代码",
    "name": "名称",
    "item_id": "事项编号",
    "item_name": "抽查事项",
    "department": "实施部门",
    "department_name": "实施部门名称",
}
PUBLIC_COLUMNS = {
    **_WHO_AND_WHAT,
    # inspector_1 … inspector_k follow, as 执法人员1 … 执法人员k (certificate numbers: the platform dispatches them)
    "start_date": "开始日期",
    "due_date": "完成期限",
}
RESULT_COLUMNS = {
    **_WHO_AND_WHAT,
    "inspection_date": "检查日期",
    "result": "检查结果",  # the label only: the platform's result codes A, B, C, D would read like class letters
}

INTERNAL_DIR, PUBLISH_DIR = "internal", "publish"
INTERNAL_MARK = "内部资料 不得公开"
INTERNAL_SHEET_PREFIX = "内部-"
INTERNAL_README = f"{INTERNAL_DIR}/README_内部资料_不得公开.txt"
INTERNAL_PLAN = f"{INTERNAL_DIR}/plan_internal.csv"
INTERNAL_XLSX = f"{INTERNAL_DIR}/plan_internal.xlsx"
INCLUSION = f"{INTERNAL_DIR}/inclusion.parquet"
STRATA = f"{INTERNAL_DIR}/strata.csv"
SUMMARY = f"{INTERNAL_DIR}/summary.json"
PROFESSIONAL_ITEMS = f"{INTERNAL_DIR}/professional_items.csv"  # minimum-frequency items of the domain grades
PUBLIC_PLAN = f"{PUBLISH_DIR}/plan_public.csv"
PUBLIC_XLSX = f"{PUBLISH_DIR}/plan_public.xlsx"
RESULTS_TEMPLATE = f"{PUBLISH_DIR}/results_template.csv"
RESULTS_PUBLIC = f"{PUBLISH_DIR}/results_public.csv"  # under <feedback_dir>/<plan_id>/, written by results ingest
LEGACY_SUMMARY, LEGACY_PLAN = "summary.json", "plan.csv"  # a plan folder written before the split
INTERNAL_DIR_MODE, INTERNAL_FILE_MODE = 0o700, 0o600

README_TEXT = f"""{INTERNAL_MARK}
INTERNAL — NOT FOR PUBLICATION

本文件夹是抽查计划的内部工作底稿，含企业信用风险分类结果及可推知分类的信息（分类、入样概率、分层抽样、
定向抽取条件、随机种子）。信用风险分类结果不评价、不惩戒、不公开、不免抽：本文件夹中的任何文件不得上传
抽查平台、不得公示、不得对外提供。对外使用的文件在 ../{PUBLISH_DIR}/ 中。

This folder is the plan's internal working copy. It holds the entities' credit-risk classes and what gives
them away (inclusion probabilities, strata, directed-draw filters, the seed). Nothing here may go to the
inspection platform, be published or leave the bureau. What may leave is in ../{PUBLISH_DIR}/.

plan_internal.csv    每项检查：分类、抽取方式、定向条件、入样概率、执法人员、日期 / every check with its class
plan_internal.xlsx   同上及汇总、分层抽样、工作量、随机种子 / the same with summary, strata, workloads, seed
inclusion.parquet    全部候选对象及其分类和入样概率 / every candidate with its class and inclusion probability
strata.csv           每一抽取层 / every draw (stratum)
summary.json         按分类等汇总 / counts per class, district, item; seed; input hashes
"""


def expected_findings(plan: Plan, rates: pd.DataFrame | None, stratum_rates: pd.DataFrame | None = None) -> dict:
    """Checks per class × the class's IPW problem rate from earlier random checks, and the same per stratum
    (class and score sub-band) where the strata have estimates."""
    if rates is None or rates.empty:
        return {"total": None, "why": "no earlier random checks with classes to estimate problem rates from"}
    total, by_class, basis = _findings(plan.checks["class"], rates.set_index("class"))
    out = {"total": total, "by_class": by_class, "rate_basis": basis}
    if stratum_rates is not None and not stratum_rates.empty:
        total, by_stratum, basis = _findings(plan.checks["stratum"], stratum_rates.set_index("stratum"))
        out.update({"total_by_stratum": total, "by_stratum": by_stratum, "stratum_rate_basis": basis})
    return out


def _findings(groups: pd.Series, rates: pd.DataFrame) -> tuple[float, dict, dict]:
    """(total, checks per group × the group's estimated rate, the rates used); groups without an estimate are
    left out."""
    checks = groups.value_counts()
    groups = sorted(set(checks.index) | set(rates.index))
    per = {str(g): round(float(checks.get(g, 0) * rates["rate"].get(g, float("nan"))), 1) for g in groups}
    known = {g: v for g, v in per.items() if v == v}
    basis = {str(g): {"rate": round(float(r["rate"]), 4), "checks": int(r["checks"])} for g, r in rates.iterrows()}
    return round(sum(known.values()), 1), known, basis


def summarise(plan: Plan, rates: pd.DataFrame | None, stratum_rates: pd.DataFrame | None = None) -> dict:
    c, f = plan.checks, plan.frame
    counts = lambda col: {str(k): int(v) for k, v in c[col].value_counts().sort_index().items()}  # noqa: E731
    candidates = f[~f["cooled_off"]]
    busy = plan.loads["assigned"] > 0
    realised = (
        plan.strata[plan.strata["draw_type"] == "undirected"]
        .groupby(["item_id", "class"])[["N", "n"]]
        .sum()
        .assign(ratio=lambda d: (d["n"] / d["N"].clip(lower=1)).round(6))
    )
    return {
        **plan.summary,
        "by_class": counts("class"),
        "by_stratum": counts("stratum"),
        "by_district": counts("district"),
        "by_item": counts("item_id"),
        "by_draw_type": counts("draw_type"),
        "candidates_by_class": {str(k): int(v) for k, v in candidates.groupby("class").size().items()},
        "candidates_by_stratum": {str(k): int(v) for k, v in candidates.groupby("stratum").size().items()},
        "realised_ratio": {f"{i}/{k}": r for (i, k), r in realised["ratio"].items()},
        "by_entity_type": by_entity_type(plan),
        "inspector_load": {
            "assigned_inspectors": int(busy.sum()),
            "min": int(plan.loads.loc[busy, "assigned"].min()) if busy.any() else 0,
            "max": int(plan.loads["assigned"].max()) if len(plan.loads) else 0,
        },
        "staffing_by_qualification": staffing(plan),
        "expected_findings": expected_findings(plan, rates, stratum_rates),
    }


def by_entity_type(plan: Plan) -> dict:
    """Per entity type: population, checks and entities checked, and per item the candidates the item applies to,
    its undirected checks and the annual share they make (checks × plans per year / population the item applies
    to) next to the configured one (``plan.entity_types``; directed checks come on top)."""
    e = plan.frame.drop_duplicates("uscc").set_index("uscc")["entity_type"]
    c, ppy = plan.checks, int(plan.summary["plans_per_year"])
    configured = plan.summary.get("entity_types") or {}
    out = {}
    for t in sorted(set(e)):
        per_item = {}
        for item_id, rows in plan.frame[plan.frame["entity_type"] == t].groupby("item_id", sort=True):
            n = int((rows["draw_type"] == "undirected").sum())
            per_item[str(item_id)] = {
                "population": len(rows),
                "undirected_checks": n,
                "annual_share": round(n * ppy / max(len(rows), 1), 6),
                "configured_share": configured.get(t, {}).get("annual_share"),
            }
        out[str(t)] = {
            "population": int((e == t).sum()),
            "checks": int((c["entity_type"] == t).sum()),
            "entities_checked": int(c.loc[c["entity_type"] == t, "uscc"].nunique()),
            "by_item": per_item,
        }
    return out


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


def plan_columns(checks: pd.DataFrame) -> dict[str, str]:
    """Column → Chinese header of the internal plan (``plan_internal.csv``/``.xlsx``), with one column per
    assigned inspector."""
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
    if "entity_type" in out.columns:
        out["entity_type"] = out["entity_type"].map(codes.labels("entity_types")).fillna(out["entity_type"])
    return out.rename(columns=plan_columns(frame))


def public_plan(checks: pd.DataFrame) -> pd.DataFrame:
    """The publishable list: :data:`PUBLIC_COLUMNS` (with the inspector columns), sorted by check id."""
    out = checks.assign(department_name=checks["department"].map(codes.labels("departments")))
    return out[public_columns(checks)].sort_values("check_id", kind="stable", ignore_index=True)


def public_columns(checks: pd.DataFrame) -> list[str]:
    officers = inspector_columns(checks)
    out = []
    for name in PUBLIC_COLUMNS:
        if name == "start_date":
            out += officers
        out.append(name)
    return out


def _public_chinese(public: pd.DataFrame) -> pd.DataFrame:
    labels = {**PUBLIC_COLUMNS, **{c: f"执法人员{c.split('_')[1]}" for c in inspector_columns(public)}}
    return public.drop(columns="department").rename(columns={"department_name": "department"}).rename(columns=labels)


def public_results(records: pd.DataFrame, checks: pd.DataFrame) -> pd.DataFrame:
    """The results announcement (一公开): one row per accepted result — entity, item, department, inspection
    date and result (its Chinese label; the platform's codes A–D would look like class letters) — sorted by
    check id. ``records`` are the feedback records (``inspection_id`` = check id), ``checks`` the internal
    plan; nothing but :data:`RESULT_COLUMNS` is taken from it."""
    plan = checks.set_index("check_id")
    ids = records["inspection_id"].astype(str)
    rows = plan.loc[ids]
    out = pd.DataFrame(
        {
            "plan_id": rows["plan_id"].to_numpy(),
            "check_id": ids.to_numpy(),
            "uscc": records["uscc"].to_numpy(),
            "name": rows["name"].to_numpy(),
            "item_id": rows["item_id"].to_numpy(),
            "item_name": rows["item_name"].to_numpy(),
            "department": rows["department"].to_numpy(),
            "department_name": rows["department"].map(codes.labels("departments")).to_numpy(),
            "inspection_date": pd.to_datetime(records["inspection_date"]).dt.strftime("%Y-%m-%d").to_numpy(),
            "result": records["result_code"].map(codes.labels("inspection_results")).to_numpy(),
        },
        columns=list(RESULT_COLUMNS),
    )
    return out.sort_values("check_id", kind="stable", ignore_index=True)


def internal_files(plan_dir: Path) -> tuple[Path, Path] | None:
    """(summary.json, internal plan CSV) of a drawn plan folder, or None when ``plan_dir`` holds no plan.

    A folder written before the internal/publish split (``summary.json`` and ``plan.csv`` at the top) is
    still read, so the results of older plans can be ingested and their cool-off keeps working."""
    plan_dir = Path(plan_dir)
    for summary, plan in ((SUMMARY, INTERNAL_PLAN), (LEGACY_SUMMARY, LEGACY_PLAN)):
        if (plan_dir / summary).exists() and (plan_dir / plan).exists():
            return plan_dir / summary, plan_dir / plan
    return None


def read_internal_plan(path: Path) -> pd.DataFrame:
    """The internal plan CSV as text (empty cells ""), with the export's neutralising quotes removed."""
    return read_csv(path)


def write_plan(plan: Plan, summary: dict, out_dir: Path, professional: pd.DataFrame | None = None) -> Path:
    """Write the plan's folder; ``professional``: the month's professional items (plan/frequencies.py), if any."""
    target = Path(out_dir) / plan.plan_id
    checks = plan.checks[list(plan_columns(plan.checks))]
    summary_rows = pd.DataFrame(
        [("类别 " + k, v) for k, v in summary["by_class"].items()]
        + [("子档 " + k, v) for k, v in summary["by_stratum"].items()]
        + [("事项 " + k, v) for k, v in summary["by_item"].items()]
        + [
            ("主体类型 " + codes.labels("entity_types").get(k, k), v["checks"])
            for k, v in summary["by_entity_type"].items()
        ]
        + [("区县 " + codes.labels("divisions").get(k, k), v) for k, v in summary["by_district"].items()],
        columns=["分组", "检查户次"],
    )
    params_rows = pd.DataFrame(
        [
            (k, summary[k] if isinstance(summary[k], str) else json.dumps(summary[k], ensure_ascii=False))
            for k in (
                "plan_id",
                "seed_text",
                "seed",
                "start_date",
                "due_date",
                "plans_per_year",
                "capacity",
                "shrink_share",
                "checks",
                "allocation",
                "subband_edges",
            )
        ],
        columns=["参数", "值"],
    )
    public = public_plan(plan.checks)
    public_info = pd.DataFrame(
        [
            ("抽查计划编号", plan.plan_id),
            ("开始日期", summary["start_date"]),
            ("完成期限", summary["due_date"]),
            ("检查户次", str(len(public))),
            ("抽查对象户数", str(public["uscc"].nunique())),
        ],
        columns=["项目", "内容"],
    )
    with atomic_directory(target) as scratch:
        internal, publish = scratch / INTERNAL_DIR, scratch / PUBLISH_DIR
        internal.mkdir(mode=INTERNAL_DIR_MODE)
        os.chmod(internal, INTERNAL_DIR_MODE)  # whatever the umask
        publish.mkdir()
        (scratch / INTERNAL_README).write_text(README_TEXT, encoding="utf-8")
        write_csv(checks, scratch / INTERNAL_PLAN)
        write_excel(
            {
                INTERNAL_SHEET_PREFIX + name: frame
                for name, frame in (
                    ("抽查计划", _chinese(checks)),
                    ("汇总", summary_rows),
                    ("分层抽样", plan.strata),
                    ("执法人员工作量", plan.loads),
                    ("参数与随机种子", params_rows),
                )
            },
            scratch / INTERNAL_XLSX,
            created=plan.start,
            title=INTERNAL_MARK,
            print_header=INTERNAL_MARK,
        )
        if professional is not None:
            write_csv(professional, scratch / PROFESSIONAL_ITEMS)
        write_parquet(plan.frame, scratch / INCLUSION)
        write_csv(plan.strata, scratch / STRATA)
        (scratch / SUMMARY).write_text(
            json.dumps(summary, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        for f in internal.iterdir():
            os.chmod(f, INTERNAL_FILE_MODE)

        write_csv(public, scratch / PUBLIC_PLAN)
        write_excel(
            {"抽查计划": _public_chinese(public), "计划信息": public_info},
            scratch / PUBLIC_XLSX,
            created=plan.start,
            title=f"{plan.plan_id} 双随机抽查计划",
        )
        template = public[["check_id", "uscc"]].reindex(columns=RESULT_TEMPLATE, fill_value="")
        write_csv(template, scratch / RESULTS_TEMPLATE)
    return target
