"""The risk model used for classification: CatBoost + Platt calibration + score mapping.

An entity type whose calibration was off on the calibration rows at training has its own Platt step
(``type_calibrators``, fitted on that type's calibration rows; saved in ``model.json`` under
``calibration_by_type`` only when there is one, so exports without it keep their bytes).

Self-contained on disk (``save``/``load``): ``model.cbm`` (CatBoost's own format),
``model.json`` (features, calibration, score parameters, catalog hash) and, for models trained since
monitoring exists, ``profile.json`` (the training window's reference profile with the validation month's baseline,
monitor/stability.py).
The same directory is the DVC-tracked export and the artifact behind the MLflow registered model, so a month can be
reproduced without the MLflow database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from catboost import CatBoostClassifier, Pool

from riskclass import codes
from riskclass.model.leafshap import LeafShap
from riskclass.model.scoring import PlattCalibrator, classes_from_scores, score_from_probability

MODEL_FILE, META_FILE, PROFILE_FILE = "model.cbm", "model.json", "profile.json"


def make_pool(frame: pd.DataFrame, numeric: list[str], categorical: list[str], label: np.ndarray | None = None) -> Pool:
    """CatBoost's input: the indicators in a fixed order, categorical codes as strings."""
    x = frame[numeric + categorical].copy()
    for c in categorical:
        x[c] = x[c].astype(str)
    return Pool(x, label=label, cat_features=categorical)


@dataclass
class RiskModel:
    booster: CatBoostClassifier
    calibrator: PlattCalibrator
    numeric: list[str]
    categorical: list[str]
    score_params: dict
    catalog_sha256: str
    directions: dict[str, int] = field(default_factory=dict)  # feature → +1 / -1 monotone constraint
    info: dict = field(default_factory=dict)  # training window, sizes … (for the card)
    profile: dict | None = None  # reference bins and shares of the training window (None: an older export)
    type_calibrators: dict[str, PlattCalibrator] = field(default_factory=dict)  # entity type → its own calibration
    _leaf_shap: LeafShap | None = field(default=None, repr=False, compare=False)  # contribution tables, built once

    @property
    def features(self) -> list[str]:
        return self.numeric + self.categorical

    def pool(self, frame: pd.DataFrame, label: np.ndarray | None = None) -> Pool:
        return make_pool(frame, self.numeric, self.categorical, label)

    def raw_logit(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.booster.predict(self.pool(frame), prediction_type="RawFormulaVal"), dtype=float)

    def probability(self, frame: pd.DataFrame) -> np.ndarray:
        return self.calibrated(self.raw_logit(frame), frame)

    def calibrated(self, raw_logit: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities of raw log-odds: the general calibration, or an entity type's own one."""
        out = self.calibrator.predict(raw_logit)
        if self.type_calibrators:
            types = codes.entity_types_of(frame)
            for t, cal in sorted(self.type_calibrators.items()):
                m = types == t
                out[m] = cal.predict(raw_logit[m])
        return out

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        return self.scored(frame)[1]

    def risk_class(self, frame: pd.DataFrame) -> np.ndarray:
        return self.scored(frame)[2]

    def scored(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(probability, score, class) from a single prediction pass."""
        sp = self.score_params
        probability = self.probability(frame)
        score = score_from_probability(probability, sp["anchor_probability"], sp["pdo"])
        return probability, score, classes_from_scores(score, sp["bands"])

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per-entity SHAP contributions to the raw log-odds (with ``leaf_shap().expected_value`` they sum to it):
        exact path-dependent Shapley values by table lookup, a function of the model and the entity alone
        (model/leafshap.py)."""
        values = self.leaf_shap().contributions(self.pool(frame))
        return pd.DataFrame(values, columns=self.features, index=frame.index)

    def catboost_contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """CatBoost's own ``ShapValues`` of ``frame`` as one batch: what records sealed before the leaf tables used
        for their reasons (their values depend on the batch; see model/leafshap.py), kept to reproduce them."""
        shap = self.booster.get_feature_importance(self.pool(frame), type="ShapValues")
        return pd.DataFrame(shap[:, :-1], columns=self.features, index=frame.index)

    def leaf_shap(self) -> LeafShap:
        if self._leaf_shap is None:
            self._leaf_shap = LeafShap(self.booster, len(self.features))
        return self._leaf_shap

    def importance(self) -> pd.Series:
        return pd.Series(self.booster.get_feature_importance(), index=self.features).sort_values(ascending=False)

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        metadata = self.booster.get_metadata()
        for volatile in ("train_finish_time", "model_guid"):  # same inputs must give the same bytes
            if volatile in metadata:
                del metadata[volatile]
        self.booster.save_model(str(directory / MODEL_FILE), format="cbm")
        meta = {
            "numeric": self.numeric,
            "categorical": self.categorical,
            "calibration": self.calibrator.to_dict(),
            "score": self.score_params,
            "catalog_sha256": self.catalog_sha256,
            "directions": self.directions,
            "info": self.info,
        }
        if self.type_calibrators:
            meta["calibration_by_type"] = {t: c.to_dict() for t, c in sorted(self.type_calibrators.items())}
        (directory / META_FILE).write_text(
            json.dumps(meta, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        if self.profile is not None:
            (directory / PROFILE_FILE).write_text(
                json.dumps(self.profile, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
            )

    @classmethod
    def load(cls, directory: Path) -> RiskModel:
        directory = Path(directory)
        meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        booster = CatBoostClassifier()
        booster.load_model(str(directory / MODEL_FILE), format="cbm")
        profile_path = directory / PROFILE_FILE
        profile = json.loads(profile_path.read_text(encoding="utf-8")) if profile_path.exists() else None
        return cls(
            booster,
            PlattCalibrator.from_dict(meta["calibration"]),
            meta["numeric"],
            meta["categorical"],
            meta["score"],
            meta["catalog_sha256"],
            meta.get("directions", {}),
            meta.get("info", {}),
            profile,
            {t: PlattCalibrator.from_dict(d) for t, d in meta.get("calibration_by_type", {}).items()},
        )
