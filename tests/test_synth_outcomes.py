"""The one inspection-outcome model of the synthetic city (synth/outcomes.py), shared by the simulated
history and by the results of a plan carried out."""

from __future__ import annotations

import numpy as np

from riskclass.synth.outcomes import RESULT_BY_TYPE, dispositions, inspection_outcome

VIOLATING = np.array([True, True, True, False, False])
VTYPE = np.array(["food_safety", "registration", "price", "other", "other"], dtype=object)


def test_found_violations_are_coded_by_their_type_and_clean_checks_pass():
    spec = {"detection_prob": 1.0, "not_operating_prob": 0.0, "closed_prob": 0.0}
    result, detected = inspection_outcome(np.random.default_rng(1), VIOLATING, VTYPE, spec)
    assert detected.tolist() == [True, True, True, False, False]
    assert result[0] in RESULT_BY_TYPE["food_safety"][0]
    assert result[1] in RESULT_BY_TYPE["registration"][0]
    assert result[2] in RESULT_BY_TYPE["default"][0]  # a type without its own codes
    assert result[3:].tolist() == ["1", "1"]


def test_undetected_violations_pass_and_clean_entities_may_be_not_operating():
    spec = {"detection_prob": 0.0, "not_operating_prob": 1.0, "closed_prob": 0.0}
    result, detected = inspection_outcome(np.random.default_rng(1), VIOLATING, VTYPE, spec)
    assert not detected.any()
    # a violating entity missed by the inspector is recorded as passing, never as not operating
    assert result.tolist() == ["1", "1", "1", "F", "F"]
    spec = {"detection_prob": 0.0, "not_operating_prob": 0.0, "closed_prob": 1.0}
    assert inspection_outcome(np.random.default_rng(1), VIOLATING, VTYPE, spec)[0].tolist() == ["1"] * 3 + ["7"] * 2


def test_dispositions_default_to_an_order_to_correct():
    codes = np.array(["1", "F", "6", "8", "3", "B", "D"], dtype=object)
    expected = ["none", "routine", "routine", "case_lead", "notify", "correct", "correct"]
    assert dispositions(codes).tolist() == expected
