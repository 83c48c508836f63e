"""The feedback loop and the evaluation: results ingest, IPW unbiasedness, indicators see results, optimiser."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from plan_fixture import inputs, plan_params, population
from replay_fixture import population_world
from riskclass.indicators import build, load_catalog, load_month
from riskclass.ingest import ingest
from riskclass.plan.draw import derive_seed, draw_n
from riskclass.plan.evaluate import ipw_rates
from riskclass.plan.output import summarise, write_plan
from riskclass.plan.planner import make_plan
from riskclass.plan.policy import compare_policies, summarise_comparison
from riskclass.plan.results import evaluate_plan, ingest_results
from riskclass.plan.strata import apportion, optimise_ratios

from conftest import ROOT, write_snapshot
from indicator_fixture import AS_OF_MONTH, A, rows

PLAN_ID = "SSJ-440800-2026-11"


def test_ipw_estimates_are_unbiased_where_the_naive_share_is_not():
    """Directed draws oversample flagged entities, which have more problems: the naive share of problems
    among checks overstates every class; the IPW estimate does not, and its intervals cover."""
    e = population(6_000, seed=5)
    rng = np.random.default_rng(11)
    base = e["class"].map({"A": 0.03, "B": 0.08, "C": 0.15, "D": 0.30}).to_numpy()
    e["problem"] = rng.random(len(e)) < np.where(e["FLAG"] == 1, 0.6, base)
    plan = make_plan(inputs(e), plan_params(), PLAN_ID)
    frame = plan.frame[plan.frame["item_id"] == "GEN"].merge(e[["uscc", "problem"]], on="uscc")
    truth = frame.groupby("class")["problem"].mean()
    strata = plan.strata[plan.strata["item_id"] == "GEN"]
    members = {
        s["draw_id"]: (
            frame["uscc"].to_numpy()[(frame["class"] == s["class"]).to_numpy()]
            if s["draw_type"] == "undirected"
            else frame["uscc"].to_numpy()[frame["p_directed"].to_numpy() > 0]
        )
        for s in strata.to_dict("records")
    }
    estimates = []
    for r in range(300):
        seed = derive_seed(PLAN_ID, "2026-11-01", str(r))[1]
        drawn = set()
        for s in strata.to_dict("records"):
            pool = members[s["draw_id"]]
            drawn |= set(pool[draw_n(seed, s["draw_id"], pool, int(s["n"]))])
        estimates.append(ipw_rates(frame[frame["uscc"].isin(drawn)], "class").assign(rep=r))
    est = pd.concat(estimates).set_index("class")
    for k in "ABCD":
        e_k = est.loc[k]
        mc_se = e_k["rate"].std() / np.sqrt(len(e_k))
        assert abs(e_k["rate"].mean() - truth[k]) < 4 * mc_se + 1e-3, (k, e_k["rate"].mean(), truth[k])
        covered = ((e_k["ci_low"] <= truth[k]) & (truth[k] <= e_k["ci_high"])).mean()
        assert 0.88 <= covered <= 0.995, (k, covered)
    naive_bias = est.groupby(level=0)["naive_rate"].mean() - truth
    assert (naive_bias.loc[["A", "B"]] > 0.02).all()  # the naive share would mislead: the test can fail


def test_optimiser_fills_floors_then_the_richest_class_within_capacity():
    sizes = np.array([10_000, 4_000, 1_000, 500])
    rates = np.array([0.02, 0.08, 0.2, 0.4])
    floors = np.full(4, 0.01)
    r = optimise_ratios(sizes, rates, 800, floors, np.ones(4))
    assert np.isclose((r * sizes).sum(), 800) and (r >= floors - 1e-9).all()
    # floors take 100 + 40 + 10 + 5; D fills up (500), C takes the remaining 150 on top of its floor
    assert np.allclose(r, [0.01, 0.01, 0.16, 1.0])
    capped = optimise_ratios(sizes, rates, 800, floors, np.array([1, 1, 1, 0.5]))
    assert np.allclose(capped, [0.01, 0.01, 0.41, 0.5])
    with pytest.raises(ValueError, match="floors need"):
        optimise_ratios(sizes, rates, 100, floors, np.ones(4))
    counts = apportion(r, sizes, floors, np.ones(4), 800)
    assert counts.sum() == 800 and (counts >= np.ceil(floors * sizes)).all()
    capped_counts = apportion(capped, sizes, floors, np.array([1, 1, 1, 0.5]), 800)
    assert capped_counts.sum() == 800 and capped_counts[3] <= 250


def test_policy_comparison_closed_loop_differentiation_pays_when_classes_separate_risk():
    """At equal capacity, on worlds where the classes (and the scores within them) separate risk: plain random
    finds the population's rate, the parameter ratios more, the optimisers more still, the oracle most; the
    open loop, where a finding stops nothing, never reports less than the closed loop."""
    classes, truth, history, months = population_world(n=12_000, months=4, seed=8)
    pp = plan_params(
        plans_per_year=1,
        subbands={"A": 2, "B": 2, "C": 3, "D": 3},
        cooloff_months={"A": 12, "B": 1, "C": 1, "D": 1},
    )
    out = compare_policies(
        classes,
        truth,
        history,
        months,
        pp,
        {m: 600 for m in months},
        detection_prob=0.85,
        stop_prob=0.6,
        reps=6,
        seed=1,
    )
    runs = out["runs"]
    assert runs.groupby(["loop", "rep", "month"])["checks"].nunique().eq(1).all()  # every policy, the same checks
    s = summarise_comparison(runs).set_index("policy")
    f = s["found_per_100"]
    rate = runs.loc[(runs["loop"] == "closed") & (runs["policy"] == "random"), ["violators", "population"]].sum()
    assert (
        abs(f["random"] - 85 * rate["violators"] / rate["population"]) < 4 * s.loc["random", "found_per_100_se"] + 0.5
    )
    assert f["random"] < f["class_ratios"] < f["class_optimiser"] <= f["strata_optimiser"] + 0.5
    assert f["strata_optimiser"] <= f["strata_oracle"] + 0.5
    assert (s["open_loop_found_per_100"] >= f - 0.3).all()
    assert (s["violators_per_month"] <= s["violators_truth_per_month"]).all()
    assert s.loc["strata_optimiser", "gain_vs_random"] > 1.5


@pytest.fixture()
def written_plan(tmp_path):
    plan = make_plan(inputs(population(4_000)), plan_params(), PLAN_ID)
    path = write_plan(plan, summarise(plan, None), tmp_path / "plans")
    return plan, path


def test_plan_files_are_complete_and_deterministic(written_plan, tmp_path):
    plan, path = written_plan
    names = {f.relative_to(path).as_posix() for f in path.rglob("*") if f.is_file()}
    assert {
        "internal/plan_internal.csv",
        "internal/plan_internal.xlsx",
        "internal/inclusion.parquet",
        "internal/strata.csv",
        "internal/summary.json",
        "publish/plan_public.csv",
        "publish/plan_public.xlsx",
        "publish/results_template.csv",
    } <= names
    plan_b = make_plan(inputs(population(4_000)), plan_params(), PLAN_ID)
    again = write_plan(plan_b, summarise(plan_b, None), tmp_path / "b")
    for name in names:
        assert (path / name).read_bytes() == (again / name).read_bytes(), name
    sheets = pd.read_excel(path / "internal/plan_internal.xlsx", sheet_name=None)
    assert {"内部-抽查计划", "内部-汇总", "内部-分层抽样", "内部-执法人员工作量", "内部-参数与随机种子"} <= set(sheets)
    assert len(sheets["内部-抽查计划"]) == len(plan.checks) and "统一社会信用代码" in sheets["内部-抽查计划"].columns
    public = pd.read_excel(path / "publish/plan_public.xlsx", sheet_name="抽查计划")
    assert len(public) == len(plan.checks) and "统一社会信用代码" in public.columns
    summary = json.loads((path / "internal/summary.json").read_text(encoding="utf-8"))
    assert sum(summary["by_class"].values()) == summary["checks"] == len(plan.checks)


def test_results_ingest_validates_against_the_plan_and_reconciles(written_plan, tmp_path):
    plan, path = written_plan
    checks = plan.checks
    good = pd.DataFrame(
        {
            "检查任务编号": checks["check_id"],
            "统一社会信用代码": checks["uscc"],
            "检查日期": "2026年11月20日",
            "检查结果": np.where(np.arange(len(checks)) % 4 == 0, "未按规定公示应当公示的信息", "未发现问题"),
            "后续处置": "无需后续处理",
        }
    )
    good.iloc[-1, 2] = "2027年1月15日"  # late, but it happened: accepted and counted
    bad = good.iloc[:5].copy()
    bad.iloc[0, 0] = "SSJ-NOT-A-CHECK"  # not_in_plan
    bad.iloc[1, 1] = checks["uscc"].iloc[7] if checks["uscc"].iloc[7] != bad.iloc[1, 1] else checks["uscc"].iloc[8]
    bad.iloc[1, 0] = checks["check_id"].iloc[1]
    bad.iloc[2, 3] = "Z"  # unknown result code
    bad.iloc[3, 2] = "2026年10月20日"  # before the plan's start
    bad.iloc[4, :2] = [checks["check_id"].iloc[10], checks["uscc"].iloc[10]]  # repeats an accepted row
    file = tmp_path / "results.csv"
    with open(file, "w", encoding="gb18030", newline="") as fh:
        fh.write("双随机抽查结果（导出）\n")
        pd.concat([good.iloc[5:], bad]).to_csv(fh, index=False, lineterminator="\n")
    feedback = tmp_path / "feedback"
    report = ingest_results(file, path, feedback, received="2027-01-31")
    assert report["read"] == report["accepted"] + report["quarantined"] == len(checks)
    assert report["violations_by_rule"] == {
        "before_plan_start": 1,
        "duplicate_key": 1,
        "not_in_plan": 1,
        "plan_mismatch": 1,
        "unknown_code": 1,
    }
    q = pd.read_csv(feedback / PLAN_ID / "quarantine.csv", encoding="utf-8-sig")
    assert set(q["file"]) == {"results.csv"} and q["row"].min() > 2  # visible line numbers under the title row
    records = pd.read_parquet(feedback / f"{PLAN_ID}.parquet")
    assert len(records) == report["accepted"]
    merged = records.merge(checks, left_on="inspection_id", right_on="check_id")
    assert np.allclose(merged["inclusion_prob_x"], merged["inclusion_prob_y"])
    assert (merged["draw_type_x"] == merged["draw_type_y"]).all() and set(records["result_code"]) == {"B", "1"}
    assert report["outstanding_checks"] == len(checks) - report["accepted"]
    assert report["checks_after_due_date"] == 1
    table = evaluate_plan(path, feedback)
    overall = table[table["item_type"] == "all"].set_index("class")
    assert set(overall.index) == set("ABCD") and overall["checks"].sum() == report["accepted"]
    # Σ 1/π over a class's checks estimates the class's size (Horvitz–Thompson)
    candidates = plan.frame[~plan.frame["cooled_off"]].groupby("class").size()
    assert ((overall["population_est"] / candidates - 1).abs() < 0.15).all()


def test_next_months_indicators_see_ingested_results(tmp_path):
    raw = write_snapshot(tmp_path / "raw", rows())
    ingest(raw, tmp_path / "validated", show_progress=False)
    catalog = load_catalog(ROOT / "indicators.yaml")
    feedback = tmp_path / "feedback"
    feedback.mkdir()
    record = pd.DataFrame(
        {
            "inspection_id": ["SSJ-1-00001", "SSJ-1-00002"],
            "uscc": [A, A],
            "task_id": ["SSJ-1/GEN", "SSJ-1/GEN"],
            "item_type": ["general", "general"],
            "draw_type": ["undirected", "undirected"],
            "inclusion_prob": [0.1, 0.1],
            "inspection_date": pd.to_datetime(["2025-12-10", "2026-01-05"]).astype("datetime64[ms]"),
            "result_code": ["6", "C"],
            "disposition": ["routine", "correct"],
        }
    )
    record.to_parquet(feedback / "SSJ-1.parquet")
    build(tmp_path / "validated", catalog, [AS_OF_MONTH], tmp_path / "without")
    build(tmp_path / "validated", catalog, [AS_OF_MONTH], tmp_path / "with", feedback_dir=feedback)
    before = load_month(tmp_path / "without", AS_OF_MONTH).set_index("uscc").loc[A]
    after = load_month(tmp_path / "with", AS_OF_MONTH).set_index("uscc").loc[A]
    assert after["SUP.INSP.count_3y"] == before["SUP.INSP.count_3y"] + 1  # the January check is still future
    assert after["SUP.INSP.unreachable_3y"] == before["SUP.INSP.unreachable_3y"] + 1
