import numpy as np
import pytest

from riskclass.model.scoring import PlattCalibrator, classes_from_scores, score_from_probability

BANDS = {"A": 0, "B": 200, "C": 500, "D": 750}


def test_score_mapping_anchor_pdo_clip_and_monotone():
    assert score_from_probability(np.array([0.25]), 0.25, 90)[0] == 500
    # doubling the odds adds pdo points
    odds = 1 / 3 * 2
    assert score_from_probability(np.array([odds / (1 + odds)]), 0.25, 90)[0] == 590
    s = score_from_probability(np.array([1e-12, 1 - 1e-12]), 0.25, 90)
    assert s.tolist() == [0, 1000]
    p = np.linspace(0.001, 0.999, 500)
    assert np.all(np.diff(score_from_probability(p, 0.25, 90)) >= 0)
    assert score_from_probability(p, 0.25, 90).dtype == np.int64


@pytest.mark.parametrize(
    ("score", "cls"), [(0, "A"), (199, "A"), (200, "B"), (499, "B"), (500, "C"), (749, "C"), (750, "D"), (1000, "D")]
)
def test_class_bands_are_half_open(score, cls):
    assert classes_from_scores(np.array([score]), BANDS)[0] == cls


def test_bands_must_increase():
    with pytest.raises(ValueError, match="increase"):
        classes_from_scores(np.array([1]), {"A": 0, "B": 500, "C": 300, "D": 750})


def test_platt_calibration_is_monotone_and_refuses_reversed_rankings():
    rng = np.random.default_rng(0)
    logit = rng.normal(size=5000)
    y = (rng.random(5000) < 1 / (1 + np.exp(-(2 * logit - 1)))).astype(int)
    cal = PlattCalibrator().fit(logit, y)
    assert cal.coef_ == pytest.approx(2, abs=0.2) and cal.intercept_ == pytest.approx(-1, abs=0.15)
    assert np.all(np.diff(cal.predict(np.sort(logit))) >= 0)
    assert PlattCalibrator.from_dict(cal.to_dict()).predict(logit) == pytest.approx(cal.predict(logit))
    with pytest.raises(ValueError, match="backwards"):
        PlattCalibrator().fit(-logit, y)
