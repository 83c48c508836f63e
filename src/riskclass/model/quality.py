"""Model quality against what is achievable (synthetic cities only: it needs the ground truth).

Three AUCs on the out-of-time month, all against the *true* outcome (a violation at any time in the
label window, whether anyone saw it or not):

- **model**: the model as trained, on observed regulatory outcomes (labels.py);
- **observable ceiling**: the same indicators and the same training procedure, fed the true outcomes
  instead — the best this indicator system can do, so ``model / ceiling`` measures what the noisy,
  selectively observed labels cost. Quality claims use this ratio;
- **oracle**: the latent risk itself (which no indicator sees fully) — ``model / oracle`` says how much
  of the risk the indicators can see at all.

Plus the class event rates A–D of the model's score bands, observed and true: they must rise strictly.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from riskclass.model import evaluate
from riskclass.model.dataset import Split
from riskclass.model.labels import truth_outcomes
from riskclass.model.risk_model import RiskModel
from riskclass.model.scoring import classes_from_scores, score_from_probability


def with_true_labels(split: Split, truth_dir: Path, horizon_months: int) -> Split:
    """The same rows with the label replaced by the true outcome of each row's own window."""

    def relabel(frame: pd.DataFrame, months: list[str]) -> pd.DataFrame:
        parts = []
        for month in months:
            rows = frame[frame["as_of"].dt.strftime("%Y-%m") == month]
            truth = truth_outcomes(truth_dir, month, horizon_months)
            if truth is None:
                raise FileNotFoundError(f"{truth_dir}: no ground truth (only synthetic cities have one)")
            violated = rows["uscc"].map(truth["violated"])
            if violated.isna().any():
                raise ValueError(f"{int(violated.isna().sum())} rows of {month} have no ground truth")
            parts.append(rows.assign(label=violated.astype(int).to_numpy()))
        return pd.concat(parts).loc[frame.index]

    return Split(
        relabel(split.train, split.train_months),
        relabel(split.valid, [split.valid_month]),
        split.train_months,
        split.valid_month,
    )


def class_rates(y: np.ndarray, prob: np.ndarray, score_params: dict, bands: dict) -> list[float | None]:
    classes = classes_from_scores(score_from_probability(prob, **score_params), bands)
    return [None if r is None else round(r, 4) for r in evaluate.class_table(y, classes)["event_rate"]]


def city_quality(
    split: Split,
    truth_dir: Path,
    horizon_months: int,
    fit: Callable[[pd.DataFrame], RiskModel],
    score_params: dict,
    bands: dict,
) -> dict:
    """Model, ceiling and oracle AUC against the truth on the validation month, their ratios, class rates."""
    true_split = with_true_labels(split, truth_dir, horizon_months)
    model = fit(split.train)
    ceiling = fit(true_split.train)
    valid, truth_y = split.valid, true_split.valid["label"].to_numpy()
    oracle = truth_outcomes(truth_dir, split.valid_month, horizon_months)["oracle"]
    p_model = model.probability(valid)
    auc = {
        "model": evaluate.discrimination(truth_y, p_model)["auc"],
        "ceiling": evaluate.discrimination(truth_y, ceiling.probability(valid))["auc"],
        "oracle": evaluate.discrimination(truth_y, valid["uscc"].map(oracle).to_numpy())["auc"],
    }
    observed = class_rates(valid["label"].to_numpy(), p_model, score_params, bands)
    true = class_rates(truth_y, p_model, score_params, bands)
    return {
        "valid_month": split.valid_month,
        "rows_train": len(split.train),
        "rows_valid": len(valid),
        "observed_event_rate": round(float(valid["label"].mean()), 4),
        "true_event_rate": round(float(truth_y.mean()), 4),
        "auc_model_observed": round(evaluate.discrimination(valid["label"], p_model)["auc"], 4),
        **{f"auc_{k}_truth": round(v, 4) for k, v in auc.items()},
        "model_over_ceiling": round(auc["model"] / auc["ceiling"], 4),
        "model_over_oracle": round(auc["model"] / auc["oracle"], 4),
        "class_rates_observed": observed,
        "class_rates_true": true,
        "classes_increasing_observed": evaluate.strictly_increasing(observed),
        "classes_increasing_true": evaluate.strictly_increasing(true),
    }
