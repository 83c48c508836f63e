"""From model output to a calibrated probability, a risk score 0–1000 and a class A–D.

- ``PlattCalibrator``: a logistic fit of the outcome on the model's raw log-odds (strictly
  monotone, so it never reorders entities), fitted on held-out rows.
- ``score_from_probability``: 500 at the anchor probability, ``pdo`` points per doubling of the
  odds, clipped to [0, 1000] and rounded: deterministic and higher = riskier (domain.md §3).
- ``classes_from_scores``: the bands of params.yaml (default Henan: A [0,200), B [200,500),
  C [500,750), D [750,1000]); an entity type may have its own bands (``score.bands_by_type``).
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from riskclass.codes import CLASSES


class PlattCalibrator:
    """sklearn-style: parameters in ``__init__``, learned ``coef_``/``intercept_`` in ``fit``."""

    def __init__(self, c: float = 1e6):
        self.c = c

    def fit(self, raw_logit: np.ndarray, y: np.ndarray) -> PlattCalibrator:
        lr = LogisticRegression(C=self.c, solver="lbfgs", max_iter=1000)
        lr.fit(np.asarray(raw_logit, dtype=float).reshape(-1, 1), np.asarray(y, dtype=int))
        self.coef_ = float(lr.coef_[0, 0])
        self.intercept_ = float(lr.intercept_[0])
        if self.coef_ <= 0:
            raise ValueError("calibration slope is not positive: the model ranks entities backwards on held-out data")
        return self

    def predict(self, raw_logit: np.ndarray) -> np.ndarray:
        z = self.coef_ * np.asarray(raw_logit, dtype=float) + self.intercept_
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self) -> dict:
        return {"coef": self.coef_, "intercept": self.intercept_}

    @classmethod
    def from_dict(cls, d: dict) -> PlattCalibrator:
        cal = cls()
        cal.coef_, cal.intercept_ = float(d["coef"]), float(d["intercept"])
        return cal


def score_from_probability(p: np.ndarray, anchor_probability: float, pdo: float) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-9, 1 - 1e-9)
    anchor_odds = anchor_probability / (1 - anchor_probability)
    raw = 500 + pdo * np.log2((p / (1 - p)) / anchor_odds)
    return np.clip(np.rint(raw), 0, 1000).astype(np.int64)


def classes_from_scores(scores: np.ndarray, bands: dict[str, float], types=None, bands_by_type: dict | None = None):
    """Class of each score: the highest class whose lower bound the score reaches. With ``types`` (each row's
    entity type) and ``bands_by_type`` (type → bands, params ``score.bands_by_type``), a row of a configured type
    is classed on its type's bands, every other row on ``bands``."""
    out = _classes(scores, bands)
    if types is not None and bands_by_type:
        types = np.asarray(types).astype(str)
        for t, own in sorted(bands_by_type.items()):
            m = types == t
            out[m] = _classes(np.asarray(scores)[m], own)
    return out


def _classes(scores: np.ndarray, bands: dict[str, float]) -> np.ndarray:
    lows = [bands[c] for c in CLASSES]
    if lows != sorted(lows) or lows[0] != 0:
        raise ValueError(f"score bands must start at 0 and increase A→D, got {bands}")
    idx = np.searchsorted(np.asarray(lows[1:], dtype=float), np.asarray(scores, dtype=float), side="right")
    return np.asarray(CLASSES, dtype=object)[idx]
