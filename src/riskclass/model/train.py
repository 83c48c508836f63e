"""Fitting: the CatBoost champion candidate (monotone in the catalog's declared directions), its
calibration, and the WOE / logistic scorecard baseline that regulators read."""

from __future__ import annotations

import numpy as np
import pandas as pd
from catboost import CatBoostClassifier

from riskclass import codes
from riskclass.indicators.catalog import Catalog
from riskclass.model.dataset import calibration_mask, feature_columns
from riskclass.model.evaluate import calibration_by_group
from riskclass.model.risk_model import RiskModel
from riskclass.model.scoring import PlattCalibrator

_SIGN = {"up": 1, "down": -1}


def monotone_directions(catalog: Catalog) -> dict[str, int]:
    """+1 / -1 per numeric indicator with a declared direction (categorical ones cannot be constrained)."""
    return {i.code: _SIGN[i.direction] for i in catalog.indicators if i.direction in _SIGN and not i.is_categorical}


# the settings chosen per training run (model.tuning); everything else comes from model.catboost
TUNED_SETTINGS = ("depth", "l2_leaf_reg", "rsm", "iterations")


def make_booster(directions: dict[str, int], catboost_params: dict, settings: dict, **options) -> CatBoostClassifier:
    """The one place a CatBoost model is configured — the search's fold fits and the final fit alike — so the
    catalog's monotone constraints are on in every fit. ``options`` are fit-time extras (an eval metric)."""
    missing = [k for k in TUNED_SETTINGS if k not in settings]
    if missing:
        raise ValueError(f"CatBoost settings lack {', '.join(missing)} (chosen by model.tuning)")
    return CatBoostClassifier(
        loss_function="Logloss",
        verbose=False,
        allow_writing_files=False,
        monotone_constraints=directions,
        **catboost_params,
        **{k: settings[k] for k in TUNED_SETTINGS},
        **options,
    )


def fit_risk_model(train: pd.DataFrame, catalog: Catalog, mp: dict, score_params: dict, settings: dict) -> RiskModel:
    """Fit on every training row except the calibration entities, then calibrate on those.

    ``settings``: depth, l2_leaf_reg, rsm and iterations (``tuning.select_settings`` chooses them).
    """
    numeric, categorical = feature_columns(catalog)
    directions = monotone_directions(catalog)
    held_out = calibration_mask(train["uscc"], mp["calibration_share"])
    fit_rows, cal_rows = train[~held_out], train[held_out]
    booster = make_booster(directions, mp["catboost"], settings)
    model = RiskModel(booster, PlattCalibrator(), numeric, categorical, score_params, catalog.sha256, directions)
    booster.fit(model.pool(fit_rows, fit_rows["label"].to_numpy()))
    raw = model.raw_logit(cal_rows)
    model.calibrator.fit(raw, cal_rows["label"].to_numpy())
    model.info = {
        "train_rows": len(fit_rows),
        "calibration_rows": len(cal_rows),
        "train_event_rate": round(float(train["label"].mean()), 4),
        "catboost_settings": {k: settings[k] for k in TUNED_SETTINGS},
    }
    if mp.get("type_calibration"):
        calibrate_types(model, raw, cal_rows, mp["type_calibration"])
    return model


def calibrate_types(model: RiskModel, raw: np.ndarray, cal_rows: pd.DataFrame, cp: dict) -> list[str]:
    """Give every entity type whose calibration is off on the calibration rows (``evaluate.calibration_by_group``,
    the rule of the validation report) its own Platt step, fitted on all that type's calibration rows; return
    them. The check reads one row per entity (its latest month, ``as_of``; every row when there is no ``as_of``):
    an entity's months are not independent draws, and counting them as such understates the noise."""
    y, types = cal_rows["label"].to_numpy(), codes.entity_types_of(cal_rows)
    last = np.ones(len(cal_rows), dtype=bool)
    if "as_of" in cal_rows.columns:
        last = (cal_rows["as_of"] == cal_rows.groupby("uscc")["as_of"].transform("max")).to_numpy()
    figures = calibration_by_group(y[last], model.calibrator.predict(raw[last]), types[last], cp)
    off = [t for t, f in figures.items() if f["off"]]
    for t in off:
        m = types == t
        model.type_calibrators[t] = PlattCalibrator().fit(raw[m], y[m])
    if off:  # recorded only when it happens, so exports without a per-type step keep their bytes
        model.info["calibrated_types"] = {t: round(figures[t]["ece"], 4) for t in off}
    return off


def fit_scorecard(train: pd.DataFrame, catalog: Catalog, mp: dict):
    """optbinning scorecard: binning with the declared monotone trends, IV selection, logistic regression."""
    from optbinning import BinningProcess, Scorecard
    from sklearn.linear_model import LogisticRegression

    numeric, _ = feature_columns(catalog)
    trend = {"up": "ascending", "down": "descending"}
    fit_params = {
        i.code: {"monotonic_trend": trend.get(i.direction, "auto")} for i in catalog.indicators if i.code in numeric
    }
    sc = mp["scorecard"]
    process = BinningProcess(
        numeric,
        binning_fit_params=fit_params,
        max_n_prebins=10,
        selection_criteria={"iv": {"min": sc["min_iv"], "top": sc["max_features"]}},
    )
    card = Scorecard(
        binning_process=process,
        estimator=LogisticRegression(max_iter=1000),
        scaling_method="min_max",
        scaling_method_params={"min": 0, "max": 1000},
        reverse_scorecard=True,
    )
    card.fit(train[numeric], train["label"].to_numpy())
    return card


def scorecard_points(card) -> pd.DataFrame:
    """The published points table: one row per indicator bin."""
    table = card.table(style="summary")
    return table[["Variable", "Bin", "Points"]]


def scorecard_probability(card, frame: pd.DataFrame) -> np.ndarray:
    return card.predict_proba(frame)[:, 1]
