"""CatBoost's regularisation chosen honestly: time-ordered cross-validation inside the training window.

The out-of-time month (``model.valid_month``) is what the gates and the promotion judge, so it never
chooses the settings. The search is given the training frame only (as-of months ``train_from…train_to``),
and of that only the rows the final booster fits on: the calibration entities stay out as well.

**Folds (expanding window).** Fold k validates on one of the last ``folds`` training months, V_k, and trains
on every training month up to V_k − ``gap_months`` − 1::

    folds 2, gap 1, training months 2024-06…2024-10:   fold 1  trains on 06, 07       validates on 09
                                                        fold 2  trains on 06, 07, 08   validates on 10

Two leaks are closed:

- *entity*: every entity appears in every month, and 12-month label windows overlap, so one adverse event
  labels an entity both in a fold's training months and in its validation month. A model that recognises
  the entity (its near-identical indicator row) is rewarded for memorising, which favours deep, weakly
  regularised settings. Each fold therefore validates on a share of entities (a salted USCC hash, a
  different cut per fold) none of whose rows it trains on.
- *time*: the gap keeps the fold's last training as-of date a month away from its validation as-of date.
  Their label windows still overlap (unavoidable in a window shorter than the label horizon); the entity
  cut is what keeps the same events off both sides.

**Selection.** Each candidate (a combination of the grid) is fitted on every fold for ``max_iterations``
trees, with the fold's validation rows as CatBoost's eval_set: that yields the AUC after every iteration
with no extra fit. The fold curves are averaged; the candidate's iteration count is the argmax of that mean
curve and its score the mean AUC there. The best score wins (grid order breaks exact ties). The metric is
AUC, not logloss: probabilities are recalibrated afterwards (Platt) and the gates and classes judge the
ranking, while logloss would also charge every candidate for the difference between the event rates of the
training and validation months, which the calibration corrects anyway. All candidates are scored on the
same rows, so their differences are paired comparisons, far less noisy than each AUC on its own.

**Cost.** The fold pools are built once and shared by every candidate, and the search uses a fixed entity
sample (``sample_entity_share``, by hash). The final model is refit on every training row with the chosen
settings (``train.fit_risk_model``). Everything is deterministic: hashes, grid order, CatBoost's seed.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from riskclass.indicators.catalog import Catalog
from riskclass.model.dataset import calibration_mask, entity_hash, feature_columns
from riskclass.model.risk_model import make_pool
from riskclass.model.train import make_booster, monotone_directions

METRIC = "AUC"
CURVE_STEP = 10  # the mean curves in validation.json keep every 10th iteration (MLflow keeps all of them)


@dataclass(frozen=True)
class Fold:
    number: int
    train_months: tuple[str, ...]
    valid_month: str
    train_rows: np.ndarray  # positions in the frame given to ``time_folds``
    valid_rows: np.ndarray

    def describe(self, label: np.ndarray) -> dict:
        return {
            "fold": self.number,
            "train_months": list(self.train_months),
            "valid_month": self.valid_month,
            "train_rows": len(self.train_rows),
            "valid_rows": len(self.valid_rows),
            "train_event_rate": round(float(label[self.train_rows].mean()), 4),
            "valid_event_rate": round(float(label[self.valid_rows].mean()), 4),
        }


def time_folds(frame: pd.DataFrame, tuning: dict) -> list[Fold]:
    """Expanding-window folds over the as-of months of ``frame`` (columns ``uscc``, ``as_of``, ``label``)."""
    month = frame["as_of"].dt.to_period("M").to_numpy()
    months = sorted(set(month))
    n_folds, gap = tuning["folds"], tuning["gap_months"]
    if len(months) < n_folds + gap + 1:
        raise ValueError(
            f"{len(months)} training months cannot hold {n_folds} folds with a {gap}-month gap "
            f"(at least {n_folds + gap + 1} needed)"
        )
    uscc = frame["uscc"]
    sampled = entity_hash(uscc, "tuning-sample:") < tuning["sample_entity_share"]
    label = frame["label"].to_numpy()
    folds = []
    for number, valid in enumerate(months[-n_folds:], start=1):
        last_train = valid - (gap + 1)
        validated = entity_hash(uscc, f"tuning-fold-{number}:") < tuning["valid_entity_share"]
        fold = Fold(
            number,
            tuple(str(m) for m in months if m <= last_train),
            str(valid),
            np.flatnonzero(sampled & ~validated & (month <= last_train)),
            np.flatnonzero(sampled & validated & (month == valid)),
        )
        for side, rows in (("training", fold.train_rows), ("validation", fold.valid_rows)):
            if len(np.unique(label[rows])) < 2:
                raise ValueError(
                    f"tuning fold {number} ({fold.valid_month}): its {side} rows ({len(rows)}) do not hold both "
                    "outcomes; raise model.tuning.sample_entity_share or valid_entity_share"
                )
        folds.append(fold)
    return folds


def candidates(grid: dict) -> list[dict]:
    """Every combination of the grid, in grid order (depth slowest, rsm fastest)."""
    return [
        {"depth": d, "l2_leaf_reg": l2, "rsm": r}
        for d, l2, r in itertools.product(grid["depth"], grid["l2_leaf_reg"], grid["rsm"])
    ]


@dataclass
class Search:
    folds: list[dict]
    table: pd.DataFrame  # one row per candidate, grid order
    chosen: dict  # depth, l2_leaf_reg, rsm, iterations: the settings of the final fit
    auc_curves: list[np.ndarray]  # per candidate: (folds × iterations) validation AUC after each iteration
    fit_seconds: list[float] = field(default_factory=list)  # per candidate (timing: MLflow only, never a report)

    @property
    def chosen_candidate(self) -> int:
        return int(self.table.loc[self.table["chosen"], "candidate"].iloc[0])

    def to_dict(self) -> dict:
        """For validation.json and the model card: deterministic (no timings)."""
        return {
            "metric": METRIC,
            "selection": "fold-mean out-of-fold AUC; iterations = argmax of the fold-mean AUC curve",
            "folds": self.folds,
            "candidates": self.table.to_dict("records"),
            "chosen": self.chosen,
            "chosen_candidate": self.chosen_candidate,
            "curve_step": CURVE_STEP,
            "mean_auc_curves": {
                str(i): [round(float(x), 5) for x in curve.mean(axis=0)[CURVE_STEP - 1 :: CURVE_STEP]]
                for i, curve in enumerate(self.auc_curves, start=1)
            },
        }

    def mlflow_runs(self) -> list[dict]:
        """One nested MLflow run per candidate: its settings, fold figures and AUC curves (every iteration)."""
        runs = []
        for row, curve, seconds in zip(self.table.to_dict("records"), self.auc_curves, self.fit_seconds, strict=True):
            # own keys: a curve logged under a summary metric's name would replace it by its last step's value
            curves = {"cv_auc_by_iteration": curve.mean(axis=0)}
            curves.update({f"fold_{k}_auc_by_iteration": c for k, c in enumerate(curve, start=1)})
            runs.append(
                {
                    "name": f"cv candidate {row['candidate']}",
                    "params": {k: row[k] for k in ("depth", "l2_leaf_reg", "rsm")},
                    "metrics": {
                        **{k: v for k, v in row.items() if k not in ("depth", "l2_leaf_reg", "rsm", "chosen")},
                        "chosen": float(row["chosen"]),
                        "fit_seconds": seconds,
                    },
                    "curves": curves,
                }
            )
        return runs


def select_settings(train: pd.DataFrame, catalog: Catalog, mp: dict) -> Search:
    """Search ``model.tuning.grid`` by time-ordered CV on ``train`` (the training window) and return the winner."""
    tuning = mp["tuning"]
    rows = train[~calibration_mask(train["uscc"], mp["calibration_share"])].reset_index(drop=True)
    folds = time_folds(rows, tuning)
    numeric, categorical = feature_columns(catalog)
    directions = monotone_directions(catalog)
    label = rows["label"].to_numpy()
    pools = [
        (
            make_pool(rows.iloc[f.train_rows], numeric, categorical, label[f.train_rows]),
            make_pool(rows.iloc[f.valid_rows], numeric, categorical, label[f.valid_rows]),
        )
        for f in folds
    ]
    records, curves, seconds = [], [], []
    for number, candidate in enumerate(candidates(tuning["grid"]), start=1):
        settings = {**candidate, "iterations": tuning["max_iterations"]}
        auc = np.empty((len(folds), tuning["max_iterations"]))
        logloss = np.empty_like(auc)
        started = time.perf_counter()
        for k, (fit_pool, eval_pool) in enumerate(pools):
            # use_best_model off: the fold model itself is discarded, only its eval curve is kept
            booster = make_booster(directions, mp["catboost"], settings, eval_metric=METRIC, use_best_model=False)
            booster.fit(fit_pool, eval_set=eval_pool)
            evals = booster.get_evals_result()["validation"]
            auc[k], logloss[k] = evals[METRIC], evals["Logloss"]
        seconds.append(round(time.perf_counter() - started, 1))
        mean = auc.mean(axis=0)
        best = int(np.argmax(mean))  # the first maximum: the fewest trees among equals
        record = {
            "candidate": number,
            **candidate,
            "iterations": best + 1,
            "cv_auc": float(mean[best]),
            "cv_logloss": float(logloss[:, best].mean()),
            # the curve still rose at the last tree: more iterations might do better (raise max_iterations)
            "at_cap": best + 1 == tuning["max_iterations"],
        }
        for k in range(len(folds)):
            record[f"fold_{k + 1}_auc"] = float(auc[k, best])
            record[f"fold_{k + 1}_best_iteration"] = int(np.argmax(auc[k])) + 1
        records.append(record)
        curves.append(auc)
    table = pd.DataFrame(records)
    winner = int(table["cv_auc"].to_numpy().argmax())  # the first maximum: grid order breaks ties
    table["chosen"] = table.index == winner
    chosen = {k: table.loc[winner, k] for k in ("depth", "l2_leaf_reg", "rsm", "iterations")}
    chosen = {k: (v.item() if hasattr(v, "item") else v) for k, v in chosen.items()}  # plain int / float
    return Search([f.describe(label) for f in folds], table, chosen, curves, seconds)
