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
from riskclass.plan import strata
from riskclass.plan.draw import derive_seed, draw_n
from riskclass.plan.evaluate import history_strata, ipw_rates, random_checks_with_strata
from riskclass.plan.output import summarise, write_plan
from riskclass.plan.planner import make_plan
from riskclass.plan.policy import compare_policies, summarise_comparison
from riskclass.plan.results import evaluate_plan, ingest_results
from riskclass.plan.strata import apportion, optimise_ratios

from conftest import ROOT, write_snapshot
from indicator_fixture import AS_OF_MONTH, A, rows

PLAN_ID = "SSJ-440800-2026-11"


def redraws(plan, item: str, reps: int) -> list[np.ndarray]:
    """The plan's draws of one item repeated under ``reps`` other seeds (the same strata, sizes and n):
    per repetition, a mask over the item's candidates in ``plan.frame`` order."""
    frame = plan.frame[plan.frame["item_id"] == item].reset_index(drop=True)
    uscc = frame["uscc"].to_numpy()
    pools = {}
    for s in plan.strata[plan.strata["item_id"] == item].to_dict("records"):
        if s["draw_type"] == "undirected":
            pools[s["draw_id"]] = (np.flatnonzero((frame["stratum"] == s["stratum"]).to_numpy()), int(s["n"]))
        else:
            pools[s["draw_id"]] = (np.flatnonzero(frame["p_directed"].to_numpy() > 0), int(s["n"]))
    out = []
    for r in range(reps):
        seed = derive_seed(PLAN_ID, "2026-11-01", str(r))[1]
        drawn = np.zeros(len(frame), dtype=bool)
        for draw_id, (pool, n) in pools.items():
            drawn[pool[draw_n(seed, draw_id, uscc[pool], n)]] = True
        out.append(drawn)
    return out


def test_ipw_estimates_are_unbiased_where_the_naive_share_is_not():
    """Directed draws oversample flagged entities, which have more problems: the naive share of problems
    among checks overstates every class; the IPW estimate does not, and its intervals cover."""
    e = population(6_000, seed=5)
    rng = np.random.default_rng(11)
    base = e["class"].map({"A": 0.03, "B": 0.08, "C": 0.15, "D": 0.30}).to_numpy()
    e["problem"] = rng.random(len(e)) < np.where(e["FLAG"] == 1, 0.6, base)
    plan = make_plan(inputs(e), plan_params(), PLAN_ID)
    frame = plan.frame[plan.frame["item_id"] == "GEN"].reset_index(drop=True).merge(e[["uscc", "problem"]], on="uscc")
    truth = frame.groupby("class")["problem"].mean()
    est = pd.concat(
        ipw_rates(frame[drawn], "class").assign(rep=r) for r, drawn in enumerate(redraws(plan, "GEN", 300))
    ).set_index("class")
    for k in "ABCD":
        e_k = est.loc[k]
        mc_se = e_k["rate"].std() / np.sqrt(len(e_k))
        assert abs(e_k["rate"].mean() - truth[k]) < 4 * mc_se + 1e-3, (k, e_k["rate"].mean(), truth[k])
        covered = ((e_k["ci_low"] <= truth[k]) & (truth[k] <= e_k["ci_high"])).mean()
        assert 0.88 <= covered <= 0.995, (k, covered)
    naive_bias = est.groupby(level=0)["naive_rate"].mean() - truth
    assert (naive_bias.loc[["A", "B"]] > 0.02).all()  # the naive share would mislead: the test can fail


STRATUM_RATES = {"A1": 0.02, "A2": 0.05, "B1": 0.06, "B2": 0.12, "C1": 0.15, "C2": 0.25, "D1": 0.3, "D2": 0.5}


def test_ipw_stratum_rates_are_unbiased_under_the_plans_unequal_probabilities():
    """A population with known problem rates per stratum (class × score sub-band), drawn again and again by an
    optimised plan — sub-bands of one class drawn at different rates, flagged entities (more problems) also by a
    directed draw: the IPW rate of every stratum, and of every class, is right on average; the naive share is not."""
    e = population(6_000, seed=6)
    edges = strata.subband_edges(e["probability"], e["class"], plan_params()["subbands"])
    e["stratum"] = strata.subband_labels(e["probability"], e["class"], edges)
    rng = np.random.default_rng(12)
    e["problem"] = rng.random(len(e)) < np.where(e["FLAG"] == 1, 0.7, e["stratum"].map(STRATUM_RATES))
    rates = pd.DataFrame({"stratum": list(STRATUM_RATES), "checks": 100, "rate": list(STRATUM_RATES.values())})
    pp = plan_params(allocation="optimised", optimiser_caps={"A": 1.0, "B": 1.0, "C": 1.0, "D": 0.4})
    plan = make_plan(inputs(e.drop(columns=["stratum", "problem"])), pp, PLAN_ID, stratum_rates=rates)
    assert plan.summary["allocation"]["used"] == "optimised"
    frame = plan.frame[plan.frame["item_id"] == "GEN"].reset_index(drop=True).merge(e[["uscc", "problem"]], on="uscc")
    p = frame.groupby("stratum")["p_undirected"].first()
    assert p["C2"] > 5 * p["C1"] and p["D2"] >= p["D1"] > p["C2"]  # unequal within a class
    truth = {by: frame.groupby(by)["problem"].mean() for by in ("stratum", "class")}
    runs = redraws(plan, "GEN", 200)
    for by in ("stratum", "class"):
        est = pd.concat(ipw_rates(frame[drawn], by) for drawn in runs).set_index(by)
        for g, t in truth[by].items():
            mean, naive = est.loc[g, "rate"].mean(), est.loc[g, "naive_rate"].mean()
            mc_se = est.loc[g, "rate"].std() / np.sqrt(len(runs))
            assert abs(mean - t) < 4 * mc_se + 1e-3, (by, g, mean, t)
            if (
                g[0] in "AB"
            ):  # rare problems, many flagged entities drawn by the directed filter: the naive share misleads
                naive_se = est.loc[g, "naive_rate"].std() / np.sqrt(len(runs))
                assert naive - t > max(0.02, 4 * naive_se), (by, g, naive, t)


def test_earlier_checks_are_placed_in_the_stratum_of_the_month_before():
    """An earlier check's stratum is its class and score sub-band in the sealed record of the month before the
    check, with that month's own sub-band edges."""
    rng = np.random.default_rng(3)
    n = 400
    uscc = np.array([f"U{i:04d}" for i in range(n)], dtype=object)
    classes = np.where(np.arange(n) < 300, "A", "D")
    history = pd.concat(
        [
            pd.DataFrame({"uscc": uscc, "month": "2026-08", "class": classes, "probability": rng.random(n) / 10}),
            pd.DataFrame({"uscc": uscc, "month": "2026-09", "class": classes, "probability": rng.random(n) / 2}),
        ]
    )
    subbands = {"A": 2, "B": 3, "C": 3, "D": 3}
    checks = pd.DataFrame(
        {
            "uscc": uscc[[0, 1, 350, 0]],
            "draw_type": ["undirected", "directed", "undirected", "triggered"],
            "inclusion_prob": [0.1, 0.2, 0.3, None],
            "inspection_date": pd.to_datetime(["2026-09-10", "2026-10-03", "2026-10-20", "2026-10-20"]),
            "result_code": ["1", "B", "1", "B"],
        }
    )
    joined = random_checks_with_strata(checks, history_strata(history, subbands)).set_index("uscc")
    assert len(joined) == 3  # the triggered check is no random draw
    for u, month in ((uscc[0], "2026-08"), (uscc[1], "2026-09"), (uscc[350], "2026-09")):
        h = history[history["month"] == month]
        edges = strata.subband_edges(h["probability"].to_numpy(), h["class"].to_numpy(), subbands)
        row = h[h["uscc"] == u]
        expected = strata.subband_labels(row["probability"].to_numpy(), row["class"].to_numpy(), edges)[0]
        assert joined.loc[u, "stratum"] == expected and joined.loc[u, "month"] == month


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
