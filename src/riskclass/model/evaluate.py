"""Validation metrics: discrimination, calibration, lift, class event rates, segments, monotonicity.

Every metric accepts optional sample weights, so the same code serves the plain out-of-time
evaluation, the inverse-probability-weighted evaluation on random draws and the ground truth.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score, roc_curve

from riskclass.model.scoring import CLASSES


def discrimination(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> dict:
    y = np.asarray(y, dtype=int)
    if y.min() == y.max():
        return {"n": len(y), "auc": None, "ks": None, "pr_auc": None, "brier": None, "event_rate": float(y.mean())}
    fpr, tpr, _ = roc_curve(y, p, sample_weight=w)
    return {
        "n": len(y),
        "event_rate": float(np.average(y, weights=w)),
        "auc": float(roc_auc_score(y, p, sample_weight=w)),
        "ks": float(np.max(tpr - fpr)),
        "pr_auc": float(average_precision_score(y, p, sample_weight=w)),
        "brier": float(brier_score_loss(y, np.clip(p, 0, 1), sample_weight=w)) if np.all((p >= 0) & (p <= 1)) else None,
    }


def calibration_table(y, p, w=None, bins: int = 10) -> pd.DataFrame:
    """Mean predicted vs observed rate in equal-count bins of the prediction."""
    df = pd.DataFrame({"y": y, "p": p, "w": 1.0 if w is None else w})
    df["bin"] = pd.qcut(df["p"].rank(method="first"), bins, labels=False)
    g = df.groupby("bin")
    return pd.DataFrame(
        {
            "predicted": g.apply(lambda d: np.average(d["p"], weights=d["w"]), include_groups=False),
            "observed": g.apply(lambda d: np.average(d["y"], weights=d["w"]), include_groups=False),
            "n": g.size(),
        }
    )


def expected_calibration_error(y, p, bins: int = 10) -> float:
    """Σ_b (n_b / n)·|observed_b − predicted_b| over ``bins`` equal-count bins of the prediction (rows ordered by
    prediction, ties by position): the average gap between the rate predicted and the rate observed."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    n = len(y)
    order = np.argsort(p, kind="stable")
    b = np.arange(n) * bins // n  # bin of each row in prediction order
    gap = np.bincount(b, weights=y[order], minlength=bins) - np.bincount(b, weights=p[order], minlength=bins)
    return float(np.abs(gap).sum() / n)


def calibration_by_group(y, p, groups, cp: dict) -> dict:
    """Calibration per group (e.g. entity type) of one sample: n, events, mean predicted, observed rate,
    observed / predicted, ECE (``expected_calibration_error``) and the calibration table, with:

    - ``observed_low/high``, ``ece_low/high``: 95 % bootstrap intervals (``cp["bootstrap"]`` resamples of the
      group's rows, seeded by ``cp["seed"]``; the ECE's is the basic interval 2·ECE − quantiles, because a
      resample's ECE is biased upward by its own noise);
    - ``ece_noise``: the mean ECE a perfectly calibrated model shows on a sample this size (outcomes drawn from the
      predictions, as many draws), ``ece_excess`` = ECE − ``ece_noise``, and ``ece_p``: the share of those draws
      with an ECE at least the observed one (small: the gap is not noise);
    - ``off``: at least ``cp["min_n"]`` rows, ``ece_p`` < 0.05 and ``ece_excess`` > ``cp["max_ece_excess"]``.
    """
    y, p, groups = np.asarray(y, dtype=float), np.asarray(p, dtype=float), np.asarray(groups).astype(str)
    rng = np.random.default_rng(int(cp["seed"]))
    keys = ("observed_low", "observed_high", "ece", "ece_low", "ece_high", "ece_noise", "ece_excess", "ece_p")
    out = {}
    for g in sorted(set(groups)):
        m = groups == g
        yg, pg = y[m], p[m]
        n, bins, reps = len(yg), int(cp["bins"]), int(cp["bootstrap"])
        observed, predicted = float(yg.mean()), float(pg.mean())
        row = {"n": n, "events": int(yg.sum()), "predicted": predicted, "observed": observed}
        row["observed_over_predicted"] = observed / predicted if predicted > 0 else None
        row.update(dict.fromkeys(keys))
        table = []
        if n >= max(bins, 2):
            ece = expected_calibration_error(yg, pg, bins)
            draws = rng.integers(0, n, size=(reps, n))
            q_low, q_high = np.quantile([expected_calibration_error(yg[i], pg[i], bins) for i in draws], [0.025, 0.975])
            noise = np.array([expected_calibration_error(rng.random(n) < pg, pg, bins) for _ in range(reps)])
            row["observed_low"], row["observed_high"] = (
                float(q) for q in np.quantile(yg[draws].mean(axis=1), [0.025, 0.975])
            )
            row.update({"ece": ece, "ece_low": max(0.0, float(2 * ece - q_high)), "ece_high": float(2 * ece - q_low)})
            row.update({"ece_noise": float(noise.mean()), "ece_excess": float(ece - noise.mean())})
            row["ece_p"] = float((noise >= ece).mean())
            table = calibration_table(yg, pg, bins=bins).reset_index().to_dict("records")
        off = (
            n >= int(cp["min_n"])
            and row["ece"] is not None
            and row["ece_p"] < 0.05
            and row["ece_excess"] > float(cp["max_ece_excess"])
        )
        out[str(g)] = {**row, "off": bool(off), "table": table}
    return out


def lift_table(y, p, w=None, bins: int = 10) -> pd.DataFrame:
    """Event rate and lift per decile of the prediction (decile 10 = riskiest)."""
    df = pd.DataFrame({"y": y, "p": p, "w": 1.0 if w is None else w})
    df["decile"] = pd.qcut(df["p"].rank(method="first"), bins, labels=range(1, bins + 1))
    overall = np.average(df["y"], weights=df["w"])
    rates = df.groupby("decile", observed=True).apply(
        lambda d: np.average(d["y"], weights=d["w"]), include_groups=False
    )
    return pd.DataFrame({"event_rate": rates, "lift": rates / overall, "n": df.groupby("decile", observed=True).size()})


def class_table(y, classes, w=None) -> pd.DataFrame:
    """Share of entities and event rate per class A–D."""
    df = pd.DataFrame({"y": y, "c": classes, "w": 1.0 if w is None else w})
    rows = []
    for c in CLASSES:
        d = df[df["c"] == c]
        rows.append(
            {
                "class": c,
                "n": len(d),
                "share": len(d) / len(df) if len(df) else 0.0,
                "event_rate": float(np.average(d["y"], weights=d["w"])) if len(d) else None,
            }
        )
    return pd.DataFrame(rows).set_index("class")


def strictly_increasing(values) -> bool:
    vals = [v for v in values if v is not None and not pd.isna(v)]
    return len(vals) == len(list(values)) and all(b > a for a, b in itertools.pairwise(vals))


def by_segment(frame: pd.DataFrame, y_col: str, p_col: str, segment: str, min_n: int = 200) -> pd.DataFrame:
    rows = []
    for key, d in frame.groupby(segment):
        if len(d) < min_n:
            continue
        m = discrimination(d[y_col].to_numpy(), d[p_col].to_numpy())
        rows.append({segment: key, "n": m["n"], "event_rate": m["event_rate"], "auc": m["auc"]})
    return pd.DataFrame(rows)


def monotonicity_violations(model, frame: pd.DataFrame, sample: int = 300, grid: int = 12, seed: int = 0) -> dict:
    """For each constrained indicator: move it over a grid for sampled entities, count reversals.

    Returns {indicator: number of (entity, step) pairs where the prediction moved against the
    declared direction}. All zeros means every declared direction holds in the fitted model.
    """
    rows = frame.sample(n=min(sample, len(frame)), random_state=seed)
    out = {}
    for feature, sign in model.directions.items():
        values = np.unique(np.quantile(frame[feature].to_numpy(dtype=float), np.linspace(0, 1, grid)))
        if len(values) < 2:
            out[feature] = 0
            continue
        stacked = pd.concat([rows.assign(**{feature: v}) for v in values], ignore_index=True)
        logit = model.raw_logit(stacked).reshape(len(values), len(rows))
        steps = np.diff(logit, axis=0) * sign
        out[feature] = int((steps < -1e-9).sum())
    return out
