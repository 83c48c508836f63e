"""The closed-loop policy replay: hand-counted findings, the coupled world, capacity, floors, cool-off, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plan_fixture import inspectors
from replay_fixture import (
    NO_CHECKS,
    classes_frame,
    population_world,
    replay_params,
    sigmoid,
    simulate_truth,
    truth_frame,
    usccs,
)
from riskclass.plan.policy import (
    POLICIES,
    check_world_model,
    compare_policies,
    cooled,
    keep_ratios,
    monthly_capacity,
    next_world,
    ratio_counts,
    summarise_comparison,
)
from riskclass.plan.strata import cooled_off

MONTHS = ["2026-01", "2026-02"]
CLASS_MONTHS = ["2025-11", "2025-12", "2026-01"]
FOREVER = -30.0  # risk logit of an entity that never starts violating by itself (sigmoid ≈ 1e-13)


def found(runs: pd.DataFrame, loop: str) -> pd.DataFrame:
    return runs[runs["loop"] == loop].pivot_table(index="month", columns="policy", values="found", aggfunc="sum")


def test_closed_loop_hand_count_recheck_of_a_stopped_violator_finds_nothing():
    """Ten entities, every one checked every month (capacity 10), detection and stop probability 1.

    Month 1: entities 0–3 violate and are found (4). Month 2: the truth keeps them violating (they were never
    stopped there), but every policy stopped them and r = −30 keeps them clean; entity 4 starts violating in
    both worlds (it entered clean): 1 finding. Closed loop 5 in 20 checks; open loop 4 + 5 = 9."""
    uscc = usccs(10)
    cls = np.array(list("AABBCCDDDD"))
    r = np.full((2, 10), FOREVER)
    r[1, 4] = 0.0
    violating = np.zeros((2, 10), dtype=bool)
    violating[:, :4] = True
    violating[1, 4] = True
    prob = sigmoid(r)
    prob[:, :4] = 1.0  # violating before month 1 and, in the truth, still violating after it
    truth = truth_frame(uscc, MONTHS, r, prob, violating)
    out = compare_policies(
        classes_frame(uscc, cls, CLASS_MONTHS),
        truth,
        NO_CHECKS,
        MONTHS,
        replay_params(),
        {m: 10 for m in MONTHS},
        detection_prob=1.0,
        stop_prob=1.0,
        reps=3,
        seed=7,
    )
    runs = out["runs"]
    assert (runs["checks"] == 10).all()
    closed, opened = found(runs, "closed") / 3, found(runs, "open") / 3
    for policy in POLICIES:
        assert closed.loc["2026-01", policy] == 4 and opened.loc["2026-01", policy] == 4
        assert closed.loc["2026-02", policy] == 1, policy  # the four stopped violators are clean
        assert opened.loc["2026-02", policy] == 5, policy  # open loop would find them again
    s = summarise_comparison(runs).set_index("policy")
    assert np.allclose(s["found_per_100"], 25.0) and np.allclose(s["open_loop_found_per_100"], 45.0)
    assert np.allclose(s["stopped_per_month"], 2.5)
    # the policy worlds hold 4 + 1 violators, the truth 4 + 5
    closed_runs = runs[runs["loop"] == "closed"]
    assert closed_runs.groupby("month")["violators"].mean().tolist() == [4, 1]
    assert closed_runs.groupby("month")["violators_truth"].mean().tolist() == [4, 5]


def test_optimisers_hand_count_they_fill_the_violating_class_then_find_it_stopped():
    """90 clean A, 10 D violating for good (unless stopped); capacity 12, floors 1 %, detection and stop 1.

    The city's earlier random checks found problems in D only, so both optimisers put the floors into A (one
    check per stratum) and the rest, all 10, into D: 10 findings in month 1, none in month 2 — every violator
    is stopped. The open loop finds 10 again in month 2."""
    n_a, n_d = 90, 10
    uscc = usccs(n_a + n_d)
    cls = np.array(["A"] * n_a + ["D"] * n_d)
    r = np.full((2, n_a + n_d), FOREVER)
    violating = np.zeros((2, n_a + n_d), dtype=bool)
    violating[:, n_a:] = True
    prob = sigmoid(r)
    prob[:, n_a:] = 1.0
    history = pd.DataFrame(
        {
            "uscc": np.r_[uscc[:5], uscc[n_a : n_a + 5]],
            "draw_type": "undirected",
            "inclusion_prob": 0.5,
            "inspection_date": pd.Timestamp("2025-12-10"),
            "result_code": ["1"] * 5 + ["D"] * 5,
        }
    ).astype({"inspection_date": "datetime64[ms]"})
    policies = ("class_optimiser", "strata_optimiser", "strata_oracle")
    out = compare_policies(
        classes_frame(uscc, cls, CLASS_MONTHS),
        truth_frame(uscc, MONTHS, r, prob, violating),
        history,
        MONTHS,
        replay_params(),
        {m: 12 for m in MONTHS},
        detection_prob=1.0,
        stop_prob=1.0,
        reps=2,
        seed=3,
        policies=policies,
    )
    runs = out["runs"]
    closed, opened = found(runs, "closed") / 2, found(runs, "open") / 2
    for policy in policies:
        assert closed.loc["2026-01", policy] == 10 and closed.loc["2026-02", policy] == 0, policy
        assert opened.loc["2026-02", policy] == 10, policy
    c = runs[(runs["loop"] == "closed") & (runs["month"] == "2026-01")]
    assert (c["n_D"] == 10).all() and (c["n_A"] == 2).all()


def test_coupled_world_has_the_generators_law_and_is_never_more_violating_than_the_truth():
    """A policy that checks a fixed half of the entities a month, replayed by coupling to a truth in which the city
    checks 5 %, against the policy world simulated directly with the generator's rule (city checks included):
    the same number of violators each month within Monte-Carlo error, and never above the truth entity by
    entity. Following the truth (ignoring the stops) or forgetting the persistence would both fail."""
    rng = np.random.default_rng(4)
    months, n, persistence, det, stop = 6, 40_000, 3.2, 0.85, 0.6
    r = rng.normal(-3.0, 1.0, n) + rng.normal(0, 0.3, (months, n))
    city = rng.random((months, n)) < 0.05
    policy_checks = rng.random((months, n)) < 0.5
    prob, truth = simulate_truth(r, persistence, rng, city_checks=city, detection_prob=det, stop_prob=stop)
    coupled = truth[0].copy()
    direct = truth[0].copy()
    gaps = []
    for t in range(months - 1):
        assert not (coupled & ~truth[t]).any()
        stopped = policy_checks[t] & (rng.random(n) < det) & (rng.random(n) < stop)
        coupled = next_world(coupled & ~stopped, truth[t + 1], keep_ratios(r[t + 1], prob[t + 1]), rng.random(n))
        # the direct simulation: the policy's and the city's checks both act on the policy world
        d_stop = (policy_checks[t] & (rng.random(n) < det) & (rng.random(n) < stop)) | (
            city[t] & (rng.random(n) < det) & (rng.random(n) < stop)
        )
        direct = rng.random(n) < sigmoid(r[t + 1] + persistence * (direct & ~d_stop))
        se = np.sqrt(2 * direct.mean() * (1 - direct.mean()) / n)
        gaps.append((coupled.mean() - direct.mean()) / se)
        assert truth[t + 1].mean() - coupled.mean() > 5 * se  # the policy's stops matter here
    assert np.abs(gaps).max() < 4, gaps


def test_keep_ratio_is_one_where_the_truth_entered_clean():
    r = np.array([-2.0, -2.0, 1.0, 8.0])
    p = np.array([sigmoid(-2.0), sigmoid(1.2), sigmoid(4.2), sigmoid(11.2)], dtype=np.float32)
    k = keep_ratios(r, p)
    assert k[0] == 1.0
    assert np.isclose(k[1], sigmoid(-2.0) / sigmoid(1.2), rtol=1e-6) and k[1] < 1
    assert np.isclose(k[2], sigmoid(1.0) / sigmoid(4.2), rtol=1e-6)
    assert 0 < k[3] <= 1


def test_world_model_check_accepts_the_generator_and_refuses_a_mismatch():
    rng = np.random.default_rng(1)
    uscc = usccs(3_000)
    r = rng.normal(-2.5, 1, (4, 3_000))
    prob, state = simulate_truth(r, 3.2, rng, city_checks=rng.random((4, 3_000)) < 0.1)
    truth = truth_frame(uscc, ["2026-01", "2026-02", "2026-03", "2026-04"], r, prob, state)
    info = check_world_model(truth, 3.2)
    assert info["inconsistent_share"] == 0 and info["violations_ended_by_city_checks"] > 0
    with pytest.raises(ValueError, match="does not hold"):
        check_world_model(truth, 2.0)
    bad = truth.copy()
    bad["violation_prob"] = np.float32(0.1)  # a risk not recorded in risk_logit
    with pytest.raises(ValueError, match="does not hold"):
        check_world_model(bad, 3.2)


def test_capacity_comes_from_the_directory_and_every_policy_makes_exactly_that_many_checks():
    pp = replay_params(cooloff_months={"A": 12, "B": 6, "C": 6, "D": 6}, plans_per_year=12)
    directory = inspectors(10, capacity=40)  # 10 × 40 / 2 officers a check = 200
    directory.loc[0, "available_from"] = pd.Timestamp("2026-02-10")  # on leave into the first plans' windows
    classes, truth, history, months = population_world()
    capacity = monthly_capacity(pp, directory, months)
    # the plan window of month M runs 60 days from its first: the inspector is missing from Jan and Feb's plans
    assert capacity == {"2026-01": 180, "2026-02": 180, "2026-03": 200, "2026-04": 200}
    assert monthly_capacity({**pp, "max_checks": 150}, directory, months)["2026-04"] == 150
    out = compare_policies(
        classes, truth, history, months, pp, capacity, detection_prob=0.85, stop_prob=0.6, reps=2, seed=1
    )
    runs = out["runs"]
    assert (runs["checks"] == runs["month"].map(capacity)).all()
    assert (runs["capacity"] == runs["month"].map(capacity)).all()
    assert runs.groupby(["loop", "rep", "month"])["checks"].nunique().eq(1).all()


def test_floors_are_kept_by_every_policy_and_the_optimisers_differentiate():
    pp = replay_params(floors={"A": 0.02, "B": 0.02, "C": 0.02, "D": 0.02})
    classes, truth, history, months = population_world()
    out = compare_policies(
        classes,
        truth,
        history,
        months,
        pp,
        {m: 400 for m in months},
        detection_prob=0.85,
        stop_prob=0.6,
        reps=3,
        seed=5,
    )
    runs = out["runs"]
    for k in "ABCD":  # at least ceil(2 % of the class) checks in every class, computed here independently
        assert (runs[f"n_{k}"] >= np.ceil(0.02 * runs[f"N_{k}"] - 1e-9)).all(), k
    assert runs["floors_kept"].all()
    floor_a = np.ceil(0.02 * runs["N_A"] - 1e-9)
    opt = runs["policy"] == "class_optimiser"
    assert (runs.loc[opt, "n_A"] == floor_a[opt]).all()  # A, the class least at risk, is left at its floor
    opt = runs["policy"] == "strata_optimiser"
    assert (runs.loc[opt, "n_A"] <= floor_a[opt] + 2).all()  # each of A's two sub-bands at its own floor
    strata = out["strata"]
    assert (strata.loc[strata["policy"] == "strata_optimiser", ["A1", "A2", "B1", "B2"]] >= 1).all().all()


def test_replay_is_deterministic_for_a_seed():
    classes, truth, history, months = population_world(n=3_000, months=3)
    pp = replay_params(cooloff_months={"A": 12, "B": 1, "C": 1, "D": 1})

    def run(seed):
        return compare_policies(
            classes,
            truth,
            history,
            months,
            pp,
            {m: 150 for m in months},
            detection_prob=0.85,
            stop_prob=0.6,
            reps=2,
            seed=seed,
        )

    a, b, c = run(11), run(11), run(12)
    pd.testing.assert_frame_equal(a["runs"], b["runs"])
    pd.testing.assert_frame_equal(a["strata"], b["strata"])
    pd.testing.assert_frame_equal(summarise_comparison(a["runs"]), summarise_comparison(b["runs"]))
    assert not a["runs"]["found"].equals(c["runs"]["found"])


def test_cool_off_applies_to_each_policys_own_checks():
    """Ten D entities, capacity 10, cool-off one month: everyone in month 1, nobody in month 2, everyone in 3."""
    uscc = usccs(10)
    months = ["2026-01", "2026-02", "2026-03"]
    r = np.full((3, 10), FOREVER)
    truth = truth_frame(uscc, months, r, sigmoid(r), np.zeros((3, 10), dtype=bool))
    out = compare_policies(
        classes_frame(uscc, np.array(["D"] * 10), ["2025-12", *months[:-1]]),
        truth,
        NO_CHECKS,
        months,
        replay_params(cooloff_months={"A": 0, "B": 0, "C": 0, "D": 1}),
        {m: 10 for m in months},
        detection_prob=1.0,
        stop_prob=1.0,
        reps=1,
        seed=0,
    )
    checks = out["runs"].pivot_table(index="month", columns=["loop", "policy"], values="checks")
    assert (checks.loc["2026-01"] == 10).all() and (checks.loc["2026-02"] == 0).all()
    assert (checks.loc["2026-03"] == 10).all()


def test_month_cool_off_matches_the_planners_rule():
    rng = np.random.default_rng(0)
    n, t = 2_000, 20
    classes = rng.choice(list("ABCD"), n)
    last = np.where(rng.random(n) < 0.2, -(10**6), rng.integers(0, t, n))
    months = {"A": 12, "B": 6, "C": 1, "D": 0}
    base = pd.Period("2025-01", freq="M")
    start = (base + t).start_time
    dates = np.array(
        [
            pd.NaT if m < 0 else (base + int(m)).start_time + pd.Timedelta(days=int(d))
            for m, d in zip(last, rng.integers(0, 28, n), strict=True)
        ]
    )
    expected = cooled_off(classes, dates, start, months)
    codes = pd.Series(classes).map({k: i for i, k in enumerate("ABCD")}).to_numpy()
    got = cooled(t - last, codes, np.array([months[k] for k in "ABCD"]))
    assert (got == expected).all() and got.any()


def test_parameter_ratios_scale_to_the_capacity_keeping_floors():
    pp = replay_params(plans_per_year=12)
    sizes = np.array([24_000, 8_000, 4_000, 2_000])
    # per plan: A 20, B 20, C 33.3, D 50 (ratios / 12) → about 123 checks; capacity 300 scales them up ~2.4×
    counts = ratio_counts(sizes, pp, 300)
    assert counts.sum() == 300
    assert np.allclose(counts / counts.sum(), np.array([20, 20, 33, 50]) / 123, atol=0.01)
    small = ratio_counts(sizes, pp, 60)  # below the ratios: everything above the floors shrinks
    floors = np.ceil(0.01 / 12 * sizes)
    assert small.sum() == 60 and (small >= floors).all() and small[0] == floors[0] and small[3] > small[1]
    assert ratio_counts(np.array([5, 0, 0, 3]), pp, 300).tolist() == [5, 0, 0, 3]  # never above a class's size
    with pytest.raises(ValueError, match="floors need 33 checks"):
        ratio_counts(sizes, pp, 30)


def test_the_findings_chart_shows_the_pooled_rate_of_each_policy():
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from riskclass.plan.policy import findings_chart
    from riskclass.reporting import use_cjk_font

    runs = pd.DataFrame(
        [
            {"loop": loop, "policy": pol, "month": m, "found": f, "checks": 100}
            for loop in ("closed", "open")
            for pol, founds in (("random", (8, 10)), ("class_ratios", (15, 17)))
            for m, f in zip(("2026-09", "2026-10"), founds, strict=True)
        ]
    )
    use_cjk_font()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing Chinese glyph warns
        fig = findings_chart(runs)
        fig.canvas.draw()
    bars = [patch.get_width() for patch in fig.axes[0].patches]
    assert bars == [9.0, 16.0]  # (8 + 10) / 200 and (15 + 17) / 200 per 100 checks
    assert [line.get_ydata().tolist() for line in fig.axes[1].get_lines()] == [[8.0, 10.0], [15.0, 17.0]]
