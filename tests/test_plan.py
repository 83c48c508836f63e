"""双随机 planning: ratios, floors, cool-off, capacity, inspector assignment, seeds, inclusion probabilities."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd
import pytest

from plan_fixture import inputs, inspectors, plan_params, population
from riskclass.plan import strata
from riskclass.plan.assign import least_loaded
from riskclass.plan.draw import (
    combined_probability,
    derive_seed,
    draw_n,
    fit_capacity,
    hash_keys,
    target_counts,
)
from riskclass.plan.planner import PlanError, make_plan, validate_plan_params

PLAN_ID = "SSJ-440800-2026-11"


@pytest.fixture(scope="module")
def plan():
    return make_plan(inputs(), plan_params(), PLAN_ID)


def test_class_ratios_are_respected_per_item_and_stratum(plan):
    pp = plan_params()
    undirected = plan.strata[plan.strata["draw_type"] == "undirected"]
    item_type = {"GEN": "general", "FOOD": "key"}
    assert set(undirected["stratum"]) == {"A1", "A2", "B1", "B2", "C1", "C2", "D1", "D2"}
    assert (undirected["draw_id"] == undirected["item_id"] + "/" + undirected["stratum"]).all()
    for s in undirected.to_dict("records"):  # every sub-band draws its class's ratio (plans_per_year 1 here)
        ratio = pp["ratios"][item_type[s["item_id"]]][s["class"]]
        assert abs(s["n"] / s["N"] - ratio) <= 1 / s["N"] + 1e-12, (s["draw_id"], s["n"], s["N"], ratio)
    # the plan's checks are exactly the strata draws (an entity in two draws of one item is one check)
    drawn = plan.frame[plan.frame["drawn"]]
    assert len(plan.checks) == len(drawn)
    und = plan.checks[plan.checks["draw_type"] == "undirected"].groupby(["item_id", "stratum"]).size()
    assert (
        und.reindex(pd.MultiIndex.from_frame(undirected[["item_id", "stratum"]]), fill_value=0).to_numpy()
        == undirected["n"].to_numpy()
    ).all()
    # differentiated: a D entity is far more likely to be checked than an A entity
    p = plan.frame[plan.frame["item_id"] == "GEN"].groupby("class")["p_undirected"].mean()
    assert p["D"] > 20 * p["A"]


def test_every_class_is_drawn_even_tiny_ones_nobody_is_exempt():
    e = population(3_000)
    e.loc[e["class"] == "D", "class"] = "C"
    e.loc[e.index[:3], "class"] = "D"  # three D entities in all
    plan = make_plan(inputs(e), plan_params(floors={"A": 0.01, "B": 0.01, "C": 0.01, "D": 0.01}), PLAN_ID)
    und = plan.strata[(plan.strata["draw_type"] == "undirected") & (plan.strata["N"] > 0)]
    assert (und["n"] >= 1).all()
    assert (und["n"] >= np.ceil(0.01 * und["N"])).all()


def test_capacity_shrinks_above_the_floors_only_and_floors_always_hold():
    pp = plan_params(max_checks=1000)
    plan = make_plan(inputs(), pp, PLAN_ID)
    s = plan.strata
    assert s["n"].sum() <= 1000 and plan.summary["shrink_share"] < 1
    und = s[s["draw_type"] == "undirected"]
    assert (und["n"] >= und["floor"]).all() and (und["floor"] >= np.ceil(0.01 * und["N"] - 1e-9)).all()
    for item, g in und.groupby("item_id"):  # the overall minimum per item survives the squeeze
        assert g["n"].sum() >= math.ceil(0.03 * g["N"].sum()), item
    # still differentiated under pressure: D keeps a higher ratio than A
    gen = und[und["item_id"] == "GEN"].groupby("class")[["N", "n"]].sum()
    assert gen.loc["D", "n"] / gen.loc["D", "N"] > gen.loc["A", "n"] / gen.loc["A", "N"]


def test_floors_beyond_capacity_refuse_the_plan_with_the_numbers():
    with pytest.raises(PlanError, match=r"floors need \d+ checks but the capacity is 100"):
        make_plan(inputs(), plan_params(max_checks=100), PLAN_ID)
    # inspector capacity counts too: 4 officers × 10 checks / 2 per check = 20 checks
    with pytest.raises(PlanError, match="capacity is 20"):
        make_plan(inputs(officers=inspectors(4, capacity=10)), plan_params(), PLAN_ID)


def test_parameters_below_floors_or_unknown_indicators_are_refused():
    with pytest.raises(PlanError, match="below the floor"):
        validate_plan_params(plan_params(floors={"A": 0.05, "B": 0.01, "C": 0.01, "D": 0.01}), {"FLAG"})
    with pytest.raises(PlanError, match="unknown indicator"):
        validate_plan_params(plan_params(), {"OTHER"})
    with pytest.raises(PlanError, match="nobody is exempt"):
        validate_plan_params(plan_params(floors={"A": 0.0, "B": 0.01, "C": 0.01, "D": 0.01}), {"FLAG"})
    twice = plan_params()
    twice["directed"] = twice["directed"] * 2  # two draws with one id would share their random keys
    with pytest.raises(PlanError, match="unique"):
        validate_plan_params(twice, {"FLAG"})
    with pytest.raises(PlanError, match="no active item"):
        no_items = inputs()
        no_items.items = no_items.items.iloc[:0]
        make_plan(no_items, plan_params(), PLAN_ID)


def test_class_a_cooloff_excludes_recently_checked_a_only():
    e = population(8_000)
    a = e.loc[e["class"] == "A", "uscc"].to_numpy()
    b = e.loc[e["class"] == "B", "uscc"].to_numpy()
    recent_a, old_a, recent_b = a[:1500], a[1500:3000], b[:800]
    insp = pd.DataFrame(
        {
            "uscc": np.r_[recent_a, old_a, recent_b],
            "inspection_date": pd.to_datetime(
                ["2026-05-10"] * len(recent_a) + ["2025-10-15"] * len(old_a) + ["2026-06-01"] * len(recent_b)
            ).astype("datetime64[ms]"),
        }
    )
    plan = make_plan(inputs(e, inspections=insp), plan_params(), PLAN_ID)
    f = plan.frame
    cooled = f[f["uscc"].isin(recent_a)]
    assert cooled["cooled_off"].all() and (cooled["inclusion_prob"] == 0).all() and not cooled["drawn"].any()
    assert not f[f["uscc"].isin(old_a)]["cooled_off"].any()  # checked 12½ months before the start
    assert not f[f["uscc"].isin(recent_b)]["cooled_off"].any()  # B is not cooled off
    assert f[f["uscc"].isin(old_a)]["drawn"].any() and f[f["uscc"].isin(recent_b)]["drawn"].any()
    assert plan.summary["cooled_off"] == len(recent_a)


def test_inspectors_two_distinct_qualified_balanced_and_within_capacity(plan):
    c = plan.checks
    assert (c["unassigned_reason"] == "").all()
    assert c["inspector_1"].notna().all() and (c["inspector_1"] != c["inspector_2"]).all()
    officers = inspectors().set_index("inspector_id")
    for col in ("inspector_1", "inspector_2"):
        quals = officers.loc[c.loc[c["item_id"] == "FOOD", col], "qualifications"]
        assert quals.str.contains("food").all()
    loads = plan.loads.set_index("inspector_id")["assigned"]
    assert (loads <= officers["capacity"]).all()
    general_only = loads[officers["qualifications"] == "general"]
    assert general_only.max() - general_only.min() <= 1  # balanced within one check


def test_a_conflicted_inspector_is_never_assigned():
    e = population(6_000)
    officers = inspectors(12)
    # every officer declares conflicts with a third of all entities
    rng = np.random.default_rng(3)
    pairs = [(o, u) for o in officers["inspector_id"] for u in e["uscc"][rng.random(len(e)) < 0.33]]
    conflicts = pd.DataFrame(pairs, columns=["inspector_id", "uscc"])
    plan = make_plan(inputs(e, officers=officers, conflicts=conflicts), plan_params(), PLAN_ID)
    declared = set(map(tuple, conflicts.to_numpy()))
    assigned = plan.checks.dropna(subset=["inspector_1"])
    for col in ("inspector_1", "inspector_2"):
        assert not any((o, u) in declared for o, u in zip(assigned[col], assigned["uscc"], strict=True))
    assert len(assigned) > 0.9 * len(plan.checks)


def test_a_check_nobody_can_staff_is_kept_with_the_reason():
    e = population(3_000)
    officers = inspectors(6)
    plan0 = make_plan(inputs(e, officers=officers), plan_params(), PLAN_ID)
    target = plan0.checks.loc[plan0.checks["item_id"] == "GEN", "uscc"].iloc[0]
    conflicts = pd.DataFrame({"inspector_id": officers["inspector_id"][1:], "uscc": target})  # all but one
    plan = make_plan(inputs(e, officers=officers, conflicts=conflicts), plan_params(), PLAN_ID)
    row = plan.checks[plan.checks["uscc"] == target].iloc[0]
    assert row["inspector_1"] is None and "only 1" in row["unassigned_reason"]
    assert plan.summary["unassigned"] >= 1 and len(plan.checks) == len(plan0.checks)


def test_the_published_seed_reproduces_the_plan_and_anyone_can_rederive_a_draw(plan):
    again = make_plan(inputs(), plan_params(), PLAN_ID)
    pd.testing.assert_frame_equal(plan.checks, again.checks)
    other = make_plan(inputs(), plan_params(published_value="08 15 23 31 42"), PLAN_ID)
    assert set(other.checks["uscc"]) != set(plan.checks["uscc"])
    assert plan.summary["seed_text"] == f"{PLAN_ID}|2026-11-01|"
    # re-derivation without riskclass: sha256("<seed>:<draw id>:<uscc>"), the n smallest keys
    seed = hashlib.sha256(plan.summary["seed_text"].encode()).hexdigest()[:16]
    assert seed == plan.seed
    s = plan.strata.set_index("draw_id").loc["GEN/C2"]
    frame = plan.frame[(plan.frame["item_id"] == "GEN") & (plan.frame["stratum"] == "C2")]
    keys = sorted(frame["uscc"], key=lambda u: hashlib.sha256(f"{seed}:GEN/C2:{u}".encode()).hexdigest())
    expected = set(keys[: int(s["n"])])
    got = set(frame.loc[frame["draw_type"] == "undirected", "uscc"])
    assert got == expected


def test_inclusion_probabilities_match_draw_frequencies():
    uscc = population(400)["uscc"].to_numpy()
    hits = np.zeros(len(uscc))
    reps = 2000
    for r in range(reps):
        hits += draw_n(derive_seed("P", str(r))[1], "X/A", uscc, 40)
    freq = hits / reps
    assert abs(freq.mean() - 0.1) < 1e-12  # fixed size: exactly n per draw
    assert np.abs(freq - 0.1).max() < 0.045  # each unit ~ Binomial(2000, 0.1)/2000, sd 0.0067
    # two independent draws of one item combine as 1 − (1 − π₁)(1 − π₂)
    both = np.zeros(len(uscc))
    for r in range(reps):
        s = derive_seed("P", str(r))[1]
        both += draw_n(s, "X/A", uscc, 40) | draw_n(s, "X/directed/d", uscc, 100)
    expected = combined_probability([np.full(len(uscc), 0.1), np.full(len(uscc), 0.25)])
    assert abs(both.mean() / reps - expected[0]) < 0.005


def test_directed_draw_combines_with_the_class_draw(plan):
    f = plan.frame[plan.frame["item_id"] == "GEN"]
    flagged = f["uscc"].isin(population().loc[lambda d: d["FLAG"] == 1, "uscc"])
    assert (f.loc[~flagged, "p_directed"] == 0).all()
    assert np.allclose(f.loc[flagged, "p_directed"], 0.5, atol=0.01)
    expected = 1 - (1 - f["p_undirected"]) * (1 - f["p_directed"])
    assert np.allclose(f["inclusion_prob"], expected)
    assert (plan.checks.loc[plan.checks["draw_type"] == "directed", "directed_by"] == "flagged").all()


def test_target_counts_and_capacity_fit_arithmetic():
    floor_n, target = target_counts(np.array([1000, 300, 7, 0]), np.array([0.01, 0.03, 0.1, 0.3]), np.full(4, 0.01))
    assert floor_n.tolist() == [10, 3, 1, 0] and target.tolist() == [10, 9, 1, 0]
    counts, share = fit_capacity(np.array([10, 3]), np.array([100, 50]), np.zeros(2), 80)
    assert counts.sum() <= 80 and share < 1 and (counts >= [10, 3]).all()


def test_the_overall_minimum_lifts_every_class_by_one_factor():
    e = population(10_000)
    e["class"] = np.where(e["class"] == "D", "B", "A")  # ratios 1 % and 3 %: under 3 % overall
    plan = make_plan(inputs(e), plan_params(directed=[]), PLAN_ID)
    gen = plan.strata[plan.strata["item_id"] == "GEN"]
    assert gen["n"].sum() >= math.ceil(0.03 * gen["N"].sum())
    assert (gen.loc[gen["N"] > 0, "uplift"] > 1).all()
    # still differentiated after the lift
    by_class = gen.groupby("class")[["N", "n"]].sum()
    assert by_class.loc["B", "n"] / by_class.loc["B", "N"] > 2 * by_class.loc["A", "n"] / by_class.loc["A", "N"]


def test_three_inspectors_per_check_are_assigned_and_published(tmp_path):
    from riskclass.plan.output import summarise, write_plan

    plan = make_plan(inputs(population(4_000)), plan_params(inspectors_per_check=3), PLAN_ID)
    c = plan.checks
    trio = c[["inspector_1", "inspector_2", "inspector_3"]]
    assert trio.notna().all().all() and (trio.nunique(axis=1) == 3).all()
    path = write_plan(plan, summarise(plan, None), tmp_path)
    for csv in ("internal/plan_internal.csv", "publish/plan_public.csv"):
        published = pd.read_csv(path / csv, dtype=str)
        assert {"inspector_1", "inspector_2", "inspector_3"} <= set(published.columns)
    assert "执法人员3" in pd.read_excel(path / "internal/plan_internal.xlsx", sheet_name="内部-抽查计划").columns
    assert "执法人员3" in pd.read_excel(path / "publish/plan_public.xlsx", sheet_name="抽查计划").columns


def test_summary_shows_staffing_need_and_supply_per_qualification(plan):
    from riskclass.plan.output import staffing

    s = staffing(plan)
    food_checks = int((plan.checks["item_id"] == "FOOD").sum())
    assert s["food"]["slots_needed"] == 2 * food_checks
    officers = inspectors()
    assert (
        s["food"]["capacity_available"]
        == officers.loc[officers["qualifications"].str.contains("food"), "capacity"].sum()
    )
    assert s["general"]["slots_needed"] == 2 * int((plan.checks["item_id"] == "GEN").sum())


def test_subband_labels_are_deterministic_order_free_and_keep_ties_together():
    rng = np.random.default_rng(4)
    classes = rng.choice(list("ABCD"), 5_000, p=[0.6, 0.25, 0.1, 0.05])
    scores = rng.integers(0, 60, 5_000) * 5  # coarse scores: many ties
    subbands = {"A": 2, "B": 3, "C": 3, "D": 3}
    edges = strata.subband_edges(scores, classes, subbands)
    labels = strata.subband_labels(scores, classes, edges)
    order = rng.permutation(len(scores))
    again = strata.subband_edges(scores[order], classes[order], subbands)
    assert again == edges and (strata.subband_labels(scores[order], classes[order], again) == labels[order]).all()
    frame = pd.DataFrame({"class": classes, "score": scores, "stratum": labels})
    assert (frame.groupby(["class", "score"])["stratum"].nunique() == 1).all()  # a tie never straddles an edge
    assert set(frame["stratum"]) <= set(strata.stratum_names(subbands))
    assert (frame["stratum"].str[0] == frame["class"]).all()
    for k, g in frame.groupby("class"):  # higher sub-band, higher scores; sizes near equal counts
        bands = g.groupby("stratum")["score"].agg(["min", "max", "size"]).sort_index()
        assert (
            len(bands) == subbands[k] and (bands["max"].iloc[:-1].to_numpy() < bands["min"].iloc[1:].to_numpy()).all()
        )
        assert bands["size"].min() > 0.5 * len(g) / subbands[k], (k, bands)
    # a class whose scores are all tied is one sub-band
    flat = strata.subband_edges(np.full(10, 300.0), np.array(["B"] * 10), subbands)
    assert flat["B"] == [] and set(strata.subband_labels(np.full(10, 300.0), np.array(["B"] * 10), flat)) == {"B1"}


def test_inclusion_probabilities_sum_to_the_planned_checks(plan):
    """Σπ over the candidates of a draw is exactly its n: per stratum, per directed draw and per item."""
    f, s = plan.frame, plan.strata
    for row in s.to_dict("records"):
        cand = f[(f["item_id"] == row["item_id"]) & ~f["cooled_off"]]
        if row["draw_type"] == "undirected":
            total = cand.loc[cand["stratum"] == row["stratum"], "p_undirected"].sum()
        else:
            total = cand["p_directed"].sum()
        assert abs(total - row["n"]) < 1e-6, (row["draw_id"], total, row["n"])
    for item, g in f.groupby("item_id"):
        und = s[(s["item_id"] == item) & (s["draw_type"] == "undirected")]
        assert abs(g["p_undirected"].sum() - und["n"].sum()) < 1e-6
        drawn = g[g["drawn"]]
        assert (drawn["inclusion_prob"] > 0).all() and len(drawn) <= g["inclusion_prob"].sum() + 4 * np.sqrt(len(g))
    assert (f.loc[~f["cooled_off"], "inclusion_prob"] > 0).all()  # every stratum keeps a positive probability


def test_each_plan_draws_its_share_of_the_annual_ratios():
    e = population(20_000)
    e.loc[e.index[:2], "class"] = "D"
    e.loc[e.index[:2], "probability"] = 0.999  # two D entities on top: a tiny D2 stratum
    yearly = make_plan(inputs(e), plan_params(), PLAN_ID)
    monthly = make_plan(inputs(e), plan_params(plans_per_year=12), PLAN_ID)
    assert monthly.summary["plans_per_year"] == 12
    pp = plan_params()
    item_type = {"GEN": "general", "FOOD": "key"}
    und = monthly.strata[monthly.strata["draw_type"] == "undirected"]
    for s in und.to_dict("records"):
        annual = pp["ratios"][item_type[s["item_id"]]][s["class"]]
        assert s["annual_ratio"] == annual and abs(s["ratio"] - annual / 12) < 1e-12
        expected = max(math.ceil(0.01 / 12 * s["N"] - 1e-9), math.floor(annual / 12 * s["N"] + 0.5))
        assert s["n"] == min(s["N"], expected), (s["draw_id"], s["n"], expected)
        assert s["N"] == 0 or s["n"] >= 1  # 不免抽: every non-empty stratum in every plan
    assert (und["uplift"] == 1).all()  # the class ratios give more than 3 %/12 overall
    directed = monthly.strata.set_index("draw_id").loc["GEN/directed/flagged"]
    assert directed["n"] == math.floor(0.5 / 12 * directed["N"] + 0.5)
    ratio = monthly.strata["n"].sum() / yearly.strata["n"].sum()
    assert 1 / 12 < ratio < 1 / 12 + 0.02  # a twelfth, plus the rounding up of the floors


def _rates(values: dict[str, float], checks: int = 100) -> pd.DataFrame:
    return pd.DataFrame({"stratum": list(values), "checks": checks, "rate": list(values.values())})


RATES = {"A1": 0.01, "A2": 0.02, "B1": 0.03, "B2": 0.05, "C1": 0.08, "C2": 0.12, "D1": 0.2, "D2": 0.4}


def test_optimised_allocation_keeps_floors_caps_and_capacity_and_favours_the_riskier_stratum():
    caps = {"A": 1.0, "B": 1.0, "C": 1.0, "D": 0.5}
    pp = plan_params(allocation="optimised", optimiser_caps=caps, max_checks=1500)
    ratios = make_plan(inputs(), plan_params(max_checks=1500), PLAN_ID)
    plan = make_plan(inputs(), pp, PLAN_ID, stratum_rates=_rates(RATES))
    assert plan.summary["allocation"] == {"requested": "optimised", "used": "optimised", "fallback_reason": ""}
    s = plan.strata
    assert s["n"].sum() <= plan.summary["capacity"] == 1500
    und = s[s["draw_type"] == "undirected"]
    assert (und["n"] >= und["floor"]).all() and (und.loc[und["N"] > 0, "n"] >= 1).all()
    assert (und["n"] <= np.floor(und["class"].map(caps) * und["N"] + 1e-9)).all()
    # each item makes the checks the ratios and the capacity gave it; the optimiser only decides whom
    pd.testing.assert_series_equal(
        und.groupby("item_id")["n"].sum(),
        ratios.strata[ratios.strata["draw_type"] == "undirected"].groupby("item_id")["n"].sum(),
    )
    assert (
        s.loc[s["draw_type"] == "directed", "n"].to_numpy() == ratios.strata.query("draw_type == 'directed'")["n"]
    ).all()
    gen = und[und["item_id"] == "GEN"].set_index("stratum")
    p = gen["n"] / gen["N"]
    assert p["D2"] == pytest.approx(0.5, abs=1 / gen.loc["D2", "N"])  # the richest stratum fills up to its cap
    assert p["D2"] >= p["D1"] >= p["C2"] > p["A2"]
    assert (gen.loc[["A1", "A2"], "n"] == gen.loc[["A1", "A2"], "floor"]).all()  # the poorest stay at their floors
    assert np.allclose(gen["rate_estimate"], gen.index.map(RATES))
    # the inclusion probabilities follow the optimised counts
    f = plan.frame[(plan.frame["item_id"] == "GEN") & (plan.frame["stratum"] == "D2")]
    assert np.allclose(f["p_undirected"], p["D2"])


def test_optimised_allocation_falls_back_to_the_ratios_and_says_why():
    pp = plan_params(allocation="optimised")
    ratios = make_plan(inputs(), plan_params(), PLAN_ID)
    none = make_plan(inputs(), pp, PLAN_ID)
    assert none.summary["allocation"]["used"] == "ratios"
    assert "no earlier random checks" in none.summary["allocation"]["fallback_reason"]
    assert none.strata["n"].tolist() == ratios.strata["n"].tolist()
    thin = _rates(RATES, checks=100).assign(checks=lambda d: np.where(d["stratum"] == "C2", 12, 100))
    few = make_plan(inputs(), pp, PLAN_ID, stratum_rates=thin.drop(index=0))  # A1 has none at all
    reason = few.summary["allocation"]["fallback_reason"]
    assert (
        few.summary["allocation"]["used"] == "ratios" and "A1 0, C2 12" in reason and "optimiser_min_checks" in reason
    )
    assert ratios.summary["allocation"] == {"requested": "ratios", "used": "ratios", "fallback_reason": ""}


def test_cooloff_applies_per_class_and_is_counted_per_class():
    e = population(8_000)
    recent = pd.concat([e[e["class"] == k].head(200) for k in "ABCD"])
    insp = pd.DataFrame(
        {"uscc": recent["uscc"], "inspection_date": pd.Timestamp("2026-07-15")}  # 3½ months before the plan
    ).astype({"inspection_date": "datetime64[ms]"})
    months = {"A": 12, "B": 6, "C": 3, "D": 0}
    plan = make_plan(inputs(e, inspections=insp), plan_params(cooloff_months=months), PLAN_ID)
    by_class = recent["class"].value_counts()
    assert plan.summary["cooled_off_by_class"] == {"A": by_class["A"], "B": by_class["B"], "C": 0, "D": 0}
    assert plan.summary["cooled_off"] == by_class["A"] + by_class["B"]
    f = plan.frame[plan.frame["uscc"].isin(recent["uscc"])]
    assert (f["cooled_off"] == f["class"].isin(["A", "B"])).all()


def test_general_checks_do_not_use_up_the_specialists_first():
    """4 food officers (who may also take general checks) and 4 general-only officers, 2 checks each: 4 food and
    4 general checks fit exactly, but only if the food checks are staffed before the general ones take food
    officers. Whatever the random order, nothing stays unassigned."""
    from riskclass.plan.assign import assign_inspectors

    officers = inspectors(8, capacity=2).assign(
        qualifications=["food;general"] * 4 + ["general"] * 4, department=["food"] * 4 + ["credit"] * 4
    )
    for seed in ("0123456789abcdef", "fedcba9876543210", "00000000000000ff"):
        checks = pd.DataFrame(
            {
                "check_id": [f"C{i}" for i in range(8)],
                "uscc": [f"U{i}" for i in range(8)],
                "item_id": ["GEN", "FOOD"] * 4,
            }
        )
        out, _ = assign_inspectors(
            checks,
            {"GEN": "general", "FOOD": "food"},
            officers,
            pd.DataFrame({"inspector_id": [], "uscc": []}),
            start=pd.Timestamp("2026-11-01"),
            due=pd.Timestamp("2026-12-31"),
            seed=seed,
            per_check=2,
        )
        assert (out["unassigned_reason"] == "").all(), seed
        food = out[checks["item_id"] == "FOOD"]
        assert set(food["inspector_1"]) | set(food["inspector_2"]) <= set(officers["inspector_id"][:4])


def test_hash_keys_are_the_first_15_hex_digits_of_the_sha256():
    # the published definition (docs/inspection-planning.md): anyone can re-derive a key from the seed and the USCC
    uscc = np.array(["91440800MA4UJ9XK1A", "92440802L12345678X"], dtype=object)
    expected = [int(hashlib.sha256(f"0123456789abcdef:SSJ-GEN-01/B2:{u}".encode()).hexdigest()[:15], 16) for u in uscc]
    assert hash_keys("0123456789abcdef", "SSJ-GEN-01/B2", uscc).tolist() == expected


def test_least_loaded_picks_what_a_full_sort_by_load_then_tie_picks():
    loads = np.array([1, 0, 0, 2, 0])
    tie = np.array([0.5, 0.9, 0.1, 0.0, 0.1])
    # load 0 first (positions 1, 2, 4), lowest tie first; equal ties go by position, as a stable sort
    assert sorted(least_loaded(loads, tie, 1)) == [2]
    assert sorted(least_loaded(loads, tie, 2)) == [2, 4]
    assert sorted(least_loaded(loads, tie, 3)) == [1, 2, 4]
    assert sorted(least_loaded(loads, tie, 4)) == [0, 1, 2, 4]  # then the next load level
    rng = np.random.default_rng(3)
    for _ in range(500):
        n = int(rng.integers(1, 30))
        k = int(rng.integers(1, n + 1))
        loads, tie = rng.integers(0, 4, n), np.round(rng.random(n), 1)  # rounded: equal ties happen
        assert sorted(least_loaded(loads, tie, k)) == sorted(np.lexsort((tie, loads))[:k])
