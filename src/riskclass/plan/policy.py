"""Closed-loop comparison of inspection policies on the synthetic city (docs/policy-evaluation.md).

``compare_policies`` replays past inspection months. Each month, the classes and scores of the month
before (the champion applied to that month's indicators) and the month's staffed capacity drive one
draw per policy, and the synthetic ground truth says who was violating. Every policy is replayed on
**its own world**: a check on a violating entity finds it with the detection probability, a finding
ends the violation with the stop probability, and the world moves on from there — a violator that was
stopped stays clean until the generator's dynamics make it violate again, so re-checking it finds
nothing. The policies:

- ``random``            plain random sampling (不定向) of the entities not cooled off;
- ``class_ratios``      the annual class ratios of ``params.yaml`` per plan (``plan.ratios.general`` /
                        ``plans_per_year``, floors and overall minimum), scaled to the capacity;
- ``class_optimiser``   a linear programme over the four classes on IPW class problem rates;
- ``strata_optimiser``  the same over class × score sub-band strata on IPW stratum problem rates;
- ``strata_oracle``     the stratum LP fed the true violation rates of its own world (a reference).

All policies make the same number of checks a month (the city's capacity, from the inspector directory),
keep the floors (no class is exempt) and apply the cool-off per class to their own check history. IPW
estimates use only what the bureau could know before the month: the city's historical random checks
and the policy's own earlier checks, each with its inclusion probability.

**World model.** The truth records, per entity-month, ``risk_logit`` r and ``violation_prob`` p; the
generator draws violating[t+1] with probability sigmoid(r[t+1] + persistence · violating after the
checks of t). A policy world is coupled to the truth: where its state after month t's checks equals the
truth's, it follows the truth at t+1; where the policy stopped a violation the truth kept, it violates
at t+1 only if the truth does and u < sigmoid(r[t+1]) / p[t+1] (the monotone coupling: the right
marginal, and never more violating than the truth). ``open_loop`` replays the same policies with a
stop probability of 0, which is the truth itself: the upper bound a replay that ignores the effect
of its own checks reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from riskclass.classify.outputs import assign_classes
from riskclass.codes import CLASSES
from riskclass.indicators import load_month
from riskclass.periods import months_between, previous_month
from riskclass.plan.draw import class_allocation
from riskclass.plan.evaluate import history_strata, ipw_rates, random_checks_with_strata
from riskclass.plan.planner import PlanInputs, check_capacity, plan_dates
from riskclass.plan.strata import apportion, optimise_ratios, stratum_names

POLICIES = ("random", "class_ratios", "class_optimiser", "strata_optimiser", "strata_oracle")
POLICY_LABELS = {
    "random": "不定向随机抽取",
    "class_ratios": "按分类比例抽取（参数年度比例）",
    "class_optimiser": "分类优化比例（IPW估计问题率）",
    "strata_optimiser": "分类×分数子档优化（IPW估计问题率）",
    "strata_oracle": "分类×分数子档优化（真实违法率，参照上限）",
}
NEVER = -(10**6)  # month index of "never checked"
# a truth entity-month whose violation_prob equals sigmoid(risk_logit) to this relative tolerance entered the
# month clean (no persistence bonus): float32 storage leaves ~1e-7; the persistence bonus moves it far more
CLEAN_TOL = 1e-5


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------------------------------------------------------
# inputs: classes with scores, capacity, the truth world


def monthly_classes(
    features_dir: Path, months: list[str], model, overrides: list[dict], bands: dict, bands_by_type: dict | None = None
) -> pd.DataFrame:
    """Class, probability and score of every entity for each month, as the monthly run would have assigned them
    (no reasons; an entity type with its own bands classed on them)."""
    frames = []
    for month in months:
        frame = load_month(features_dir, month)
        probability, score, _, final, _ = assign_classes(frame, model, overrides, bands, bands_by_type)
        frames.append(
            pd.DataFrame(
                {
                    "uscc": frame["uscc"].to_numpy(),
                    "month": month,
                    "class": final,
                    "probability": probability,
                    "score": score,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def monthly_capacity(pp: dict, inspectors: pd.DataFrame, months: list[str]) -> dict[str, int]:
    """Checks each month's plan can staff: the planner's rule (available inspectors over the plan window,
    their capacity / officers per check, at most the batch size) on the inspector directory."""
    empty = pd.DataFrame()
    out = {}
    for month in months:
        start, due = plan_dates(pp, month)
        inputs = PlanInputs(month, previous_month(month), empty, empty, inspectors, empty, empty)
        out[month] = int(check_capacity(pp, inputs, start, due))
    return out


def check_world_model(truth: pd.DataFrame, persistence: float) -> dict:
    """Check that the truth follows the dynamics the replay assumes, and count what it says.

    For an entity alive in consecutive months, violation_prob[t+1] must be sigmoid(r[t+1]) (it entered
    t+1 clean) or sigmoid(r[t+1] + persistence) (still violating after the checks of t); it must be the
    former when the entity was not violating at t. Raises ValueError naming the share that is neither —
    a generator whose risk is not in ``risk_logit`` would make every policy world wrong.
    """
    t = truth.sort_values(["uscc", "month"], ignore_index=True)
    t["m"] = t["month"].str[:4].astype(int) * 12 + t["month"].str[5:7].astype(int)
    nxt = t.groupby("uscc", sort=False)[["m", "risk_logit", "violation_prob"]].shift(-1)
    consecutive = (nxt["m"] - t["m"] == 1).to_numpy()
    r = nxt.loc[consecutive, "risk_logit"].to_numpy(dtype=float)
    p = nxt.loc[consecutive, "violation_prob"].to_numpy(dtype=float)
    was = t.loc[consecutive, "violating"].to_numpy(dtype=bool)
    clean = np.isclose(p, _sigmoid(r), rtol=CLEAN_TOL, atol=1e-7)
    persisting = np.isclose(p, _sigmoid(r + persistence), rtol=CLEAN_TOL, atol=1e-7)
    bad = ~(clean | persisting) | (~was & ~clean)
    if bad.mean() > 1e-3:
        raise ValueError(
            f"the truth does not follow violation_prob = sigmoid(risk_logit + persistence · violating) for "
            f"{bad.mean():.2%} of entity-months (persistence {persistence}): the closed-loop replay's world model "
            "does not hold for this generator"
        )
    return {
        "entity_months_checked": int(consecutive.sum()),
        "inconsistent_share": float(bad.mean()),
        "violations_ended_by_city_checks": int((was & clean & ~persisting).sum()),
    }


def keep_ratios(risk_logit: np.ndarray, violation_prob: np.ndarray) -> np.ndarray:
    """Per entity of month t+1: P(violating | clean after t) / P(violating in the truth) = sigmoid(r) / p.

    1 where the truth itself entered t+1 clean (p = sigmoid(r): nothing to correct), below 1 where it entered
    still violating (p = sigmoid(r + persistence)) — there a policy world that stopped the violation violates
    only if the truth does and a uniform draw falls below this ratio."""
    p_clean = _sigmoid(np.asarray(risk_logit, dtype=float))
    p_true = np.asarray(violation_prob, dtype=float)
    entered_clean = np.isclose(p_true, p_clean, rtol=CLEAN_TOL, atol=1e-7)
    return np.where(entered_clean, 1.0, np.minimum(1.0, p_clean / np.maximum(p_true, 1e-300)))


def next_world(after_checks: np.ndarray, truth_next: np.ndarray, keep: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A policy world's state at t+1 from its state after the checks of t, coupled to the truth at t+1.

    Where the policy world is violating after its checks, the truth is too (the worlds never diverge upwards)
    and it follows the truth; where it is clean, it violates only if the truth does and ``u < keep``
    (``keep_ratios``): the generator's probability sigmoid(r) for an entity entering the month clean, and
    the truth's own draw wherever the truth entered clean as well (keep = 1)."""
    return truth_next & (after_checks | (u < keep))


def cooled(since: np.ndarray, classes: np.ndarray, cooloff: np.ndarray) -> np.ndarray:
    """无事不扰 in whole plan months: checked 1 … cool-off months before (``strata.cooled_off`` for checks dated
    within their plan month: a check in month t−m is within m months of month t's start)."""
    return (since >= 1) & (since <= cooloff[classes])


@dataclass
class _Month:
    month: str
    pop: np.ndarray  # universe index of each entity classified in the month before
    cls: np.ndarray  # its class code (0 … 3)
    stratum: np.ndarray  # its stratum code (index into the stratum names)
    violating: np.ndarray  # truth state on the universe (False where not alive)
    keep_ratio: np.ndarray | None  # sigmoid(r[t+1]) / violation_prob[t+1]: 1 where the truth entered t+1 clean
    known: pd.DataFrame  # the city's random checks known before the month, with class and stratum


def _truth_months(truth: pd.DataFrame, months: list[str], universe: pd.Index) -> dict[str, pd.DataFrame]:
    out = {}
    for month, m in truth.groupby("month", sort=False):
        pos = universe.get_indexer(m["uscc"])
        if (pos < 0).any():
            raise ValueError(f"truth rows of {month} for entities outside the replay universe")
        out[month] = m.assign(pos=pos)
    missing = [m for m in months if m not in out]
    if missing:
        raise ValueError(f"the truth has no rows for inspection months {missing}")
    return out


def _world(
    classes: pd.DataFrame, truth: pd.DataFrame, inspections: pd.DataFrame, months: list[str], pp: dict
) -> tuple[list[_Month], pd.Index, list[str]]:
    names = stratum_names(pp["subbands"])
    classes = classes.reset_index(drop=True)
    classes["stratum"] = history_strata(classes, pp["subbands"])["stratum"]
    universe = pd.Index(pd.unique(pd.concat([classes["uscc"], truth.loc[truth["month"].isin(months), "uscc"]])))
    truth = truth[truth["month"].isin(months)]
    by_month = _truth_months(truth, months, universe)
    hist = random_checks_with_strata(inspections, classes)  # classes carry their strata already
    hist = hist[["inspection_date", "class", "stratum", "inclusion_prob", "problem"]].sort_values(
        "inspection_date", kind="stable", ignore_index=True
    )
    class_months = dict(tuple(classes.groupby("month", sort=False)))
    world = []
    for i, month in enumerate(months):
        before = class_months.get(previous_month(month), classes.iloc[:0])
        if before.empty:
            raise ValueError(f"no classes for {previous_month(month)}, the month before inspection month {month}")
        violating = np.zeros(len(universe), dtype=bool)
        tm = by_month[month]
        violating[tm["pos"].to_numpy()] = tm["violating"].to_numpy(dtype=bool)
        keep = None
        if i + 1 < len(months):
            nm = by_month[months[i + 1]]
            keep = np.ones(len(universe))
            keep[nm["pos"].to_numpy()] = keep_ratios(nm["risk_logit"].to_numpy(), nm["violation_prob"].to_numpy())
        start = pd.Period(month, freq="M").start_time
        world.append(
            _Month(
                month=month,
                pop=universe.get_indexer(before["uscc"]),
                cls=before["class"].map({k: j for j, k in enumerate(CLASSES)}).to_numpy(dtype=np.int64),
                stratum=before["stratum"].map({s: j for j, s in enumerate(names)}).to_numpy(dtype=np.int64),
                violating=violating,
                keep_ratio=keep,
                known=hist[hist["inspection_date"] < start],
            )
        )
    return world, universe, names


# ---------------------------------------------------------------------------------------------------------------
# allocations


def ratio_counts(sizes: np.ndarray, pp: dict, capacity: int) -> np.ndarray:
    """Checks per class under the parameter ratios of one plan (annual / plans_per_year, with floors and the
    overall minimum, as the planner draws a general item), scaled by one common factor to the capacity
    (never below a floor, never above a class's size)."""
    ppy = int(pp["plans_per_year"])
    sizes = np.asarray(sizes, dtype=np.int64)
    ratios = np.array([pp["ratios"]["general"][k] for k in CLASSES]) / ppy
    floors = np.array([pp["floors"][k] for k in CLASSES]) / ppy
    floor_n, target, _, _ = class_allocation(sizes, ratios, floors, pp["min_overall_ratio"] / ppy)
    total = min(int(capacity), int(sizes.sum()))
    if floor_n.sum() > total:  # as the planner, which refuses such a plan: floors are never lowered silently
        raise ValueError(f"the floors need {floor_n.sum()} checks, more than the capacity {total}")

    def scaled(s: float) -> np.ndarray:
        return np.clip(s * target, floor_n, sizes).astype(float)

    lo, hi = 0.0, 1.0
    while scaled(hi).sum() < total and hi < 1e9:
        hi *= 2
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if scaled(mid).sum() < total else (lo, mid)
    exact = scaled(hi)
    safe = np.maximum(sizes, 1)
    return apportion(exact / safe, sizes, floor_n / safe, np.ones(len(sizes)), total)


def lp_counts(sizes: np.ndarray, rates: np.ndarray, capacity: int, floors: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """Checks per stratum maximising expected findings under floors and caps (``optimise_ratios``, apportioned)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    total = min(int(capacity), int(np.floor(caps * sizes + 1e-9).sum()))
    ratios = optimise_ratios(sizes, rates, total, floors, caps)
    return apportion(ratios, sizes, floors, caps, total)


def estimated_rates(known: pd.DataFrame, by: str, names: list[str]) -> np.ndarray:
    """IPW (Hájek) problem rate per group name; a group without checks falls back to its class's rate, then to
    the overall rate (the LP needs a number for every stratum; no stratum goes below its floor either way)."""
    if known.empty:
        return np.zeros(len(names))
    est = ipw_rates(known, by).set_index(by)["rate"]
    out = np.array([est.get(n, np.nan) for n in names], dtype=float)
    if np.isnan(out).any():
        w = 1.0 / known["inclusion_prob"].to_numpy(dtype=float)
        overall = float((w * known["problem"].to_numpy(dtype=float)).sum() / w.sum())
        by_class = ipw_rates(known, "class").set_index("class")["rate"] if by != "class" else est
        fill = np.array([by_class.get(n[0], overall) for n in names])
        out = np.where(np.isnan(out), fill, out)
    return out


def draw_groups(groups: np.ndarray, eligible: np.ndarray, keys: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Positions drawn: in each group, the ``counts[g]`` eligible members with the smallest keys (keys in [0, 1);
    a simple random sample without replacement when the keys are uniform)."""
    idx = np.flatnonzero(eligible)
    g = groups[idx]
    order = np.argsort(g + keys[idx])  # keys lie in [0, 1): group first, then key
    g_sorted = g[order]
    starts = np.searchsorted(g_sorted, np.arange(len(counts)))
    rank = np.arange(len(order)) - starts[g_sorted]
    return np.sort(idx[order[rank < counts[g_sorted]]])


# ---------------------------------------------------------------------------------------------------------------
# the replay


@dataclass
class _Policy:
    violating: np.ndarray | None  # its world's state this month (None: the truth's, before its first month)
    last: np.ndarray  # replay month index of each entity's last check by this policy
    own: list[pd.DataFrame]  # its earlier checks with class, stratum, inclusion probability and result


def _allocate(name, state, wm, eligible, capacity, pp, names, stratum_class, violating):
    """(group of every population member, checks per group, group sizes) for one policy and month."""
    ppy = int(pp["plans_per_year"])
    floors = np.array([pp["floors"][k] for k in CLASSES]) / ppy
    caps = np.array([pp["optimiser_caps"][k] for k in CLASSES], dtype=float)
    if name == "random":
        groups = np.zeros(len(wm.pop), dtype=np.int64)
        sizes = np.array([eligible.sum()])
        return groups, np.minimum(sizes, capacity), sizes
    if name in ("class_ratios", "class_optimiser"):
        sizes = np.bincount(wm.cls[eligible], minlength=len(CLASSES))
        if name == "class_ratios":
            return wm.cls, ratio_counts(sizes, pp, capacity), sizes
        known = pd.concat([wm.known, *state.own], ignore_index=True)
        rates = estimated_rates(known, "class", list(CLASSES))
        return wm.cls, lp_counts(sizes, rates, capacity, floors, caps), sizes
    sizes = np.bincount(wm.stratum[eligible], minlength=len(names))
    if name == "strata_optimiser":
        known = pd.concat([wm.known, *state.own], ignore_index=True)
        rates = estimated_rates(known, "stratum", names)
    else:  # strata_oracle: the true violation rate of each stratum in this policy's world
        v = np.bincount(wm.stratum[eligible], weights=violating[wm.pop][eligible], minlength=len(names))
        rates = v / np.maximum(sizes, 1)
    counts = lp_counts(sizes, rates, capacity, floors[stratum_class], caps[stratum_class])
    return wm.stratum, counts, sizes


def _replay(world, names, n_universe, pp, capacity, policies, *, detection_prob, stop_prob, reps, seed, loop):
    cooloff = np.array([int(pp["cooloff_months"][k]) for k in CLASSES])
    ppy = int(pp["plans_per_year"])
    floors = np.array([pp["floors"][k] for k in CLASSES]) / ppy
    stratum_class = np.array([CLASSES.index(s[0]) for s in names])
    rows, strata_rows = [], []
    for rep in range(reps):
        states = {p: _Policy(None, np.full(n_universe, NEVER, dtype=np.int64), []) for p in policies}
        for t, wm in enumerate(world):
            # one stream per (seed, rep, month), the same for every policy and for both loops: each entity has
            # the same draw key, detection, stop and world draws under every policy (common random numbers)
            u_key, u_det, u_stop, u_world = np.random.default_rng([seed, rep, t]).random((4, n_universe))
            cap = int(capacity[wm.month])
            pop_sizes = np.bincount(wm.cls, minlength=len(CLASSES))
            for name in policies:
                st = states[name]
                violating = wm.violating if st.violating is None else st.violating
                eligible = ~cooled(t - st.last[wm.pop], wm.cls, cooloff)
                groups, counts, sizes = _allocate(name, st, wm, eligible, cap, pp, names, stratum_class, violating)
                drawn = draw_groups(groups, eligible, u_key[wm.pop], counts)
                who = wm.pop[drawn]
                reached = violating[who]
                found = reached & (u_det[who] < detection_prob)
                stop = found & (u_stop[who] < stop_prob)
                g = groups[drawn]
                st.own.append(
                    pd.DataFrame(
                        {
                            "class": np.asarray(CLASSES)[wm.cls[drawn]],
                            "stratum": np.asarray(names, dtype=object)[wm.stratum[drawn]],
                            "inclusion_prob": counts[g] / sizes[g],
                            "problem": found,
                        }
                    )
                )
                st.last[who] = t
                per_class = np.bincount(wm.cls[drawn], minlength=len(CLASSES))
                eligible_class = np.bincount(wm.cls[eligible], minlength=len(CLASSES))
                floor_n = np.ceil(np.round(floors * eligible_class, 9)).astype(np.int64)
                rows.append(
                    {
                        "loop": loop,
                        "rep": rep,
                        "month": wm.month,
                        "policy": name,
                        "capacity": cap,
                        "checks": len(drawn),
                        "population": len(wm.pop),
                        "eligible": int(eligible.sum()),
                        "violators": int(violating[wm.pop].sum()),
                        "violators_truth": int(wm.violating[wm.pop].sum()),
                        "violators_reached": int(reached.sum()),
                        "found": int(found.sum()),
                        "stopped": int(stop.sum()),
                        "floors_kept": bool((per_class >= np.minimum(floor_n, eligible_class)).all()),
                        **{f"n_{k}": int(c) for k, c in zip(CLASSES, per_class, strict=True)},
                        **{f"N_{k}": int(c) for k, c in zip(CLASSES, pop_sizes, strict=True)},
                    }
                )
                strata_rows.append(np.bincount(wm.stratum[drawn], minlength=len(names)))
                if wm.keep_ratio is not None:  # the world moves on to the next month
                    after = violating.copy()
                    after[who[stop]] = False
                    st.violating = next_world(after, world[t + 1].violating, wm.keep_ratio, u_world)
    out = pd.DataFrame(rows)
    strata = pd.DataFrame(np.vstack(strata_rows), columns=names) if strata_rows else pd.DataFrame(columns=names)
    return out, pd.concat([out[["loop", "rep", "month", "policy"]], strata], axis=1)


def compare_policies(
    classes: pd.DataFrame,
    truth: pd.DataFrame,
    inspections: pd.DataFrame,
    months: list[str],
    pp: dict,
    capacity: dict[str, int],
    *,
    detection_prob: float,
    stop_prob: float,
    reps: int,
    seed: int,
    policies: tuple[str, ...] = POLICIES,
    open_loop: bool = True,
) -> dict[str, pd.DataFrame]:
    """Replay ``policies`` over the inspection ``months``, closed loop (and open loop, as an upper bound).

    ``classes``: uscc, month, class, score for every month before an inspection month (and the warm-up months
    whose random checks inform the estimates); ``truth``: uscc, month, risk_logit, violation_prob, violating
    for the inspection months; ``inspections``: the city's records (random ones carry inclusion probabilities);
    ``capacity``: checks per inspection month (``monthly_capacity``).

    Returns ``runs`` (one row per loop, replication, month and policy: checks, violators in the policy's world
    and in the truth, violators reached, found, stopped, floors kept, checks and population per class) and
    ``strata`` (checks per stratum, same rows).
    """
    unknown = set(policies) - set(POLICIES)
    if unknown:
        raise ValueError(f"unknown policies {sorted(unknown)}; known: {', '.join(POLICIES)}")
    missing = [m for m in months if m not in capacity]
    if missing:
        raise ValueError(f"no capacity for inspection months {missing}")
    world, universe, names = _world(classes, truth, inspections, months, pp)
    kwargs = {"detection_prob": detection_prob, "reps": reps, "seed": seed}
    runs, strata = _replay(
        world, names, len(universe), pp, capacity, policies, stop_prob=stop_prob, loop="closed", **kwargs
    )
    if open_loop:
        o_runs, o_strata = _replay(
            world, names, len(universe), pp, capacity, policies, stop_prob=0.0, loop="open", **kwargs
        )
        runs, strata = pd.concat([runs, o_runs], ignore_index=True), pd.concat([strata, o_strata], ignore_index=True)
    return {"runs": runs, "strata": strata}


# ---------------------------------------------------------------------------------------------------------------
# summaries


def _per_100(frame: pd.DataFrame) -> pd.Series:
    return 100 * frame["found"] / frame["checks"].clip(lower=1)


def summarise_comparison(runs: pd.DataFrame) -> pd.DataFrame:
    """Per policy, closed loop: findings per 100 checks (all months and replications pooled) with the standard
    error over replications, gains over plain random sampling and over the parameter ratios, share of the
    world's violators reached, checks and capacity per month, violators per month in the policy's world and
    in the truth, floors kept; and the open-loop findings per 100 checks (an upper bound, not a result)."""
    out = []
    for loop, frame in runs.groupby("loop", sort=False):
        by_rep = frame.groupby(["policy", "rep"], sort=False)[["found", "checks"]].sum()
        rep_rate = 100 * by_rep["found"] / by_rep["checks"].clip(lower=1)
        g = frame.groupby("policy", sort=False)
        s = pd.DataFrame(
            {
                "found_per_100": 100 * g["found"].sum() / g["checks"].sum().clip(lower=1),
                "found_per_100_se": rep_rate.groupby(level=0, sort=False).std(ddof=1)
                / np.sqrt(rep_rate.groupby(level=0, sort=False).size()),
                "share_of_violators_reached": g["violators_reached"].sum() / g["violators"].sum().clip(lower=1),
                "checks_per_month": g["checks"].mean(),
                "capacity_per_month": g["capacity"].mean(),
                "violators_per_month": g["violators"].mean(),
                "violators_truth_per_month": g["violators_truth"].mean(),
                "stopped_per_month": g["stopped"].mean(),
                "floors_kept_share": g["floors_kept"].mean(),
            }
        )
        s.columns = [c if loop == "closed" else f"open_loop_{c}" for c in s.columns]
        out.append(s)
    summary = pd.concat(out, axis=1)
    summary = summary[[c for c in summary.columns if not c.startswith("open_loop_") or c == "open_loop_found_per_100"]]
    if "random" in summary.index:
        summary.insert(2, "gain_vs_random", summary["found_per_100"] / summary.loc["random", "found_per_100"])
    if "class_ratios" in summary.index:
        summary.insert(
            3, "gain_vs_class_ratios", summary["found_per_100"] / summary.loc["class_ratios", "found_per_100"]
        )
    summary.insert(0, "label", [POLICY_LABELS[p] for p in summary.index])
    return summary.rename_axis("policy").reset_index()


def monthly_table(runs: pd.DataFrame, loop: str = "closed") -> pd.DataFrame:
    """Findings per 100 checks per month and policy (replications pooled)."""
    g = runs[runs["loop"] == loop].groupby(["month", "policy"], sort=False)[["found", "checks"]].sum()
    return (100 * g["found"] / g["checks"].clip(lower=1)).unstack("policy")


def findings_chart(runs: pd.DataFrame):
    """A figure for readers: findings per 100 checks per policy over the replayed months (closed loop, with the
    open-loop upper bound marked) and month by month. Call ``riskclass.reporting.use_cjk_font`` first."""
    import matplotlib.pyplot as plt

    pooled = {}
    for loop in ("closed", "open"):
        g = runs[runs["loop"] == loop].groupby("policy", sort=False)[["found", "checks"]].sum()
        pooled[loop] = 100 * g["found"] / g["checks"].clip(lower=1)
    policies = list(pooled["closed"].index)
    labels = [POLICY_LABELS.get(k, k) for k in policies]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [1, 1.3]})
    y = range(len(policies))
    left.barh(y, pooled["closed"].to_numpy(), color="#4477aa", label="闭环 closed loop")
    if len(pooled["open"]):
        left.scatter(
            pooled["open"].reindex(policies).to_numpy(),
            y,
            marker="|",
            s=200,
            color="#cc3311",
            label="开环上限 open-loop upper bound",
            zorder=3,
        )
    for i, v in zip(y, pooled["closed"].to_numpy(), strict=True):
        left.text(v, i, f" {v:.1f}", va="center", fontsize=8)
    left.set_yticks(list(y), labels, fontsize=8)
    left.invert_yaxis()
    left.set_xlabel("每百次检查发现问题数 findings per 100 checks")
    left.set_title("各策略发现率（全部回放月份）")
    left.legend(fontsize=7, loc="lower right")
    monthly = monthly_table(runs)
    for k in policies:
        right.plot(monthly.index, monthly[k], marker="o", markersize=3, label=POLICY_LABELS.get(k, k))
    right.set_ylabel("每百次检查发现问题数")
    right.set_title("逐月发现率（闭环）")
    right.tick_params(axis="x", rotation=45, labelsize=8)
    right.legend(fontsize=7)
    fig.tight_layout()
    return fig


def allocation_table(runs: pd.DataFrame, strata: pd.DataFrame, loop: str = "closed") -> pd.DataFrame:
    """Share of each policy's checks that went to each stratum (all months and replications)."""
    m = strata[strata["loop"] == loop].drop(columns=["loop", "rep", "month"]).groupby("policy", sort=False).sum()
    return m.div(m.sum(axis=1), axis=0)


# ---------------------------------------------------------------------------------------------------------------
# the stage


def run_comparison(p: dict, last_month: str | None = None, inspectors: pd.DataFrame | None = None) -> dict:
    """The closed-loop policy comparison on the synthetic city for ``policy.months`` inspection months ending at
    ``last_month`` (default ``features.month``). Classes are assigned from ``plan.policy_warmup_months`` months
    before the first month's classes, so the optimisers have earlier random checks to estimate rates from.
    The capacity comes from the validated inspector directory (``inspectors`` replaces it for a what-if)."""
    from riskclass.inspections import load_inspections
    from riskclass.model.risk_model import RiskModel

    pp, fp, pol, sp = p["plan"], p["features"], p["policy"], p["synth"]
    last_month = last_month or fp["month"]
    first_month = str(pd.Period(last_month, freq="M") - (int(pol["months"]) - 1))
    months = months_between(first_month, last_month)
    class_from = str(pd.Period(previous_month(first_month), freq="M") - int(pp["policy_warmup_months"]))
    model = RiskModel.load(Path(p["classify"]["model_dir"]))
    classes = monthly_classes(
        Path(fp["out_dir"]),
        months_between(class_from, previous_month(last_month)),
        model,
        p["classify"]["overrides"],
        p["score"]["bands"],
        p["score"].get("bands_by_type"),
    )
    truth_months = months_between(previous_month(first_month), last_month)
    truth = pd.read_parquet(
        Path(p["model"]["truth_dir"]) / "entity_month.parquet",
        columns=["uscc", "month", "risk_logit", "violation_prob", "violating"],
        filters=[("month", "in", truth_months)],
    )
    world_check = check_world_model(truth, sp["risk"]["persistence"])
    validated = Path(fp["validated_dir"])
    if inspectors is None:
        inspectors = pd.read_parquet(validated / "inspectors.parquet")
    capacity = monthly_capacity(pp, inspectors, months)
    inspections = load_inspections(validated)
    out = compare_policies(
        classes,
        truth[truth["month"].isin(months)],
        inspections,
        months,
        pp,
        capacity,
        detection_prob=sp["inspections"]["detection_prob"],
        stop_prob=sp["risk"]["detected_stop_prob"],
        reps=int(pol["reps"]),
        seed=int(pol["seed"]),
    )
    return {
        **out,
        "summary": summarise_comparison(out["runs"]),
        "capacity": capacity,
        "months": months,
        "world_check": world_check,
        "classes": classes,
    }


def metrics(result: dict, p: dict) -> dict:
    """The JSON metric of the stage (reports/policy_comparison.json): closed-loop figures per policy, the open-loop
    upper bound labelled as such, and the capacity."""
    s = result["summary"].set_index("policy")
    cap = pd.Series(result["capacity"])

    def per_policy(column: str, digits: int) -> dict:
        return {k: round(float(v), digits) for k, v in s[column].items()}

    return {
        "months": f"{result['months'][0]}..{result['months'][-1]}",
        "reps": int(p["policy"]["reps"]),
        "seed": int(p["policy"]["seed"]),
        "loop": "closed: a finding stops the violation with synth.risk.detected_stop_prob in the policy's own world",
        "capacity_per_month": {"mean": round(float(cap.mean()), 1), "min": int(cap.min()), "max": int(cap.max())},
        "checks_a_year_per_entity": round(entities_checked_per_year(result["runs"]), 4),
        "checks_per_month": per_policy("checks_per_month", 1),
        "found_per_100": per_policy("found_per_100", 3),
        "found_per_100_se": per_policy("found_per_100_se", 3),
        "gain_vs_random": per_policy("gain_vs_random", 4),
        "share_of_violators_reached": per_policy("share_of_violators_reached", 4),
        "violators_per_month": per_policy("violators_per_month", 1),
        "floors_kept_share": per_policy("floors_kept_share", 4),
        "open_loop_found_per_100_upper_bound": per_policy("open_loop_found_per_100", 3),
        "world_check": result["world_check"],
    }


def entities_checked_per_year(runs: pd.DataFrame) -> float:
    """Mean checks per month × 12 over the mean population: the share of entities a year the capacity reaches."""
    closed = runs[runs["loop"] == "closed"]
    return float(12 * closed["checks"].mean() / closed["population"].mean()) if len(closed) else math.nan
