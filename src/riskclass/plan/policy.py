"""Comparing inspection policies on the synthetic city, and choosing class ratios by optimisation.

``compare_policies`` replays past months: each month's classes (the champion applied to the indicators
of the month before) drive a draw of the disclosure item, and the ground truth says which drawn
entities were violating. Policies share the same number of checks each month — the number the
parameterised class ratios give — so they differ only in *whom* they check:

- ``random``          plain random sampling (不定向 over everyone);
- ``differentiated``  the class ratios of ``params.yaml`` (plan.ratios.general, floors, overall minimum);
- ``optimised``       the ratios ``optimise_ratios`` picks from problem rates estimated (IPW) from the
                      random checks *before* the month — what a bureau could actually know;
- ``optimised_true``  the same optimiser fed the true violation rates (an upper bound, for reference).

Counts of violators reached are drawn exactly (hypergeometric within each class) and detections
binomially, ``reps`` times per month.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from riskclass.classify.outputs import assign_classes
from riskclass.codes import CLASSES
from riskclass.indicators import load_month
from riskclass.periods import previous_month
from riskclass.plan.draw import class_allocation
from riskclass.plan.evaluate import ipw_rates, random_checks_with_classes
from riskclass.plan.strata import apportion, optimise_ratios

POLICY_LABELS = {
    "random": "不定向随机抽取",
    "differentiated": "按分类差异化抽取（参数比例）",
    "optimised": "优化比例（IPW估计问题率）",
    "optimised_true": "优化比例（真实违法率，上限参照）",
}


def monthly_classes(features_dir: Path, months: list[str], model, overrides: list[dict], bands: dict) -> pd.DataFrame:
    """Class of every entity for each month, as the monthly run would have assigned it (no reasons)."""
    frames = []
    for month in months:
        frame = load_month(features_dir, month)
        _, _, _, final, _ = assign_classes(frame, model, overrides, bands)
        frames.append(pd.DataFrame({"uscc": frame["uscc"].to_numpy(), "month": month, "class": final}))
    return pd.concat(frames, ignore_index=True)


def compare_policies(
    classes: pd.DataFrame,
    truth: pd.DataFrame,
    inspections: pd.DataFrame,
    months: list[str],
    pp: dict,
    *,
    detection_prob: float,
    reps: int = 200,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per inspection month and policy: checks, violators reached, findings per 100 checks, share of
    violators reached (means over ``reps``); and the ratios each policy used."""
    rng = np.random.default_rng(seed)
    ratios_default = np.array([pp["ratios"]["general"][k] for k in CLASSES])
    floors = np.array([pp["floors"][k] for k in CLASSES])
    caps = np.array([pp["optimiser_caps"][k] for k in CLASSES])
    rows, ratio_rows = [], []
    checks = random_checks_with_classes(inspections, classes)
    for month in months:
        cls = classes[classes["month"] == previous_month(month)][["uscc", "class"]]
        state = truth[truth["month"] == month][["uscc", "violating"]]
        pop = cls.merge(state, on="uscc", how="inner")
        sizes = np.array([(pop["class"] == k).sum() for k in CLASSES])
        violators = np.array([((pop["class"] == k) & pop["violating"]).sum() for k in CLASSES])
        default_counts = class_allocation(sizes, ratios_default, floors, pp["min_overall_ratio"])[1]
        capacity = int(default_counts.sum())
        known = checks[checks["inspection_date"] < pd.Period(month, freq="M").start_time]
        est = ipw_rates(known, "class").set_index("class")["rate"] if len(known) else pd.Series(dtype=float)
        est_rates = np.array([est.get(k, np.nan) for k in CLASSES])
        est_rates = np.where(
            np.isnan(est_rates), np.nanmean(est_rates) if np.isfinite(est_rates).any() else 0, est_rates
        )
        true_rates = violators / np.maximum(sizes, 1)
        policies = {
            "differentiated": default_counts,
            "optimised": apportion(
                optimise_ratios(sizes, est_rates, capacity, floors, caps), sizes, floors, caps, capacity
            ),
            "optimised_true": apportion(
                optimise_ratios(sizes, true_rates, capacity, floors, caps), sizes, floors, caps, capacity
            ),
        }
        for name, counts in policies.items():
            ratio_rows.append(
                {
                    "month": month,
                    "policy": name,
                    **{k: c / max(s, 1) for k, c, s in zip(CLASSES, counts, sizes, strict=True)},
                }
            )
        total_v = int(violators.sum())
        draws = {"random": rng.hypergeometric(total_v, int(sizes.sum()) - total_v, capacity, size=reps)}
        for name, counts in policies.items():
            draws[name] = sum(
                rng.hypergeometric(int(v), int(s - v), int(c), size=reps) if c else np.zeros(reps, dtype=np.int64)
                for v, s, c in zip(violators, sizes, counts, strict=True)
            )
        for name, reached in draws.items():
            found = rng.binomial(reached, detection_prob)
            rows.append(
                {
                    "month": month,
                    "policy": name,
                    "checks": capacity,
                    "population": int(sizes.sum()),
                    "violators": total_v,
                    "violators_reached": float(reached.mean()),
                    "found_per_100": float(100 * found.mean() / capacity),
                    "share_of_violators_reached": float(reached.mean() / max(total_v, 1)),
                }
            )
    return pd.DataFrame(rows), pd.DataFrame(ratio_rows)


def summarise_comparison(results: pd.DataFrame) -> pd.DataFrame:
    """Means over months per policy, with the gain over plain random sampling and over the parameter ratios."""
    out = results.groupby("policy", sort=False)[
        ["checks", "violators", "violators_reached", "found_per_100", "share_of_violators_reached"]
    ].mean()
    out["gain_vs_random"] = out["found_per_100"] / out.loc["random", "found_per_100"] - 1
    out["gain_vs_differentiated"] = out["found_per_100"] / out.loc["differentiated", "found_per_100"] - 1
    out.insert(0, "label", [POLICY_LABELS[p] for p in out.index])
    return out.reset_index()


def run_comparison(p: dict, first_month: str, last_month: str, reps: int, seed: int) -> dict:
    """The policy comparison on the synthetic city for inspection months ``first_month``…``last_month``.

    Classes are assigned from the month before each inspection month back to ``warmup`` months
    earlier, so the optimiser has earlier random checks to estimate class problem rates from.
    """
    from riskclass.indicators import months_between
    from riskclass.inspections import load_inspections
    from riskclass.model.risk_model import RiskModel

    pp, fp = p["plan"], p["features"]
    months = months_between(first_month, last_month)
    class_from = str(pd.Period(previous_month(first_month), freq="M") - int(pp["policy_warmup_months"]))
    model = RiskModel.load(Path(p["classify"]["model_dir"]))
    classes = monthly_classes(
        Path(fp["out_dir"]),
        months_between(class_from, previous_month(last_month)),
        model,
        p["classify"]["overrides"],
        p["score"]["bands"],
    )
    truth = pd.read_parquet(
        Path(p["synth"]["out_dir"]) / "truth" / "entity_month.parquet", columns=["uscc", "month", "violating"]
    )
    inspections = load_inspections(Path(fp["validated_dir"]))
    results, ratios = compare_policies(
        classes,
        truth,
        inspections,
        months,
        pp,
        detection_prob=p["synth"]["inspections"]["detection_prob"],
        reps=reps,
        seed=seed,
    )
    summary = summarise_comparison(results)
    return {"monthly": results, "ratios": ratios, "summary": summary, "classes": classes}
