"""Individual businesses and cooperatives: per-type plan ratios, per-type class bands, calibration per entity type
and the per-type calibration step (docs/inspection-planning.md, docs/model.md)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from catboost import CatBoostClassifier

import plan_fixture as pf
from riskclass.classify.outputs import used_params
from riskclass.model import evaluate
from riskclass.model.risk_model import RiskModel
from riskclass.model.scoring import PlattCalibrator, classes_from_scores
from riskclass.model.train import calibrate_types
from riskclass.plan.output import by_entity_type
from riskclass.plan.planner import PlanError, make_plan, type_groups, validate_plan_params

TYPES = {
    "enterprise": {"ratio_scale": 1.0, "annual_share": 0.04},
    "individual": {"ratio_scale": 0.25, "annual_share": 0.01},
}
CP = {"bins": 10, "bootstrap": 200, "min_n": 200, "max_ece_excess": 0.02, "seed": 7}


# --- planner: ratios per entity type ---------------------------------------------------------------------------


def _plan(**changes):
    pp = pf.plan_params(directed=[], **changes)
    return make_plan(pf.inputs(), pp, "SSJ-T-2026-11"), pp


def test_unconfigured_types_keep_one_population():
    plan, _ = _plan()
    und = plan.strata[plan.strata["draw_type"] == "undirected"]
    assert set(und["entity_type"]) == {""}
    assert set(und.loc[und["item_id"] == "GEN", "draw_id"]) == {f"GEN/{k}{j}" for k in "ABCD" for j in (1, 2)}


def test_ratio_per_type_is_honoured_by_the_planner():
    plan, _ = _plan(entity_types=TYPES)
    e = pf.population()
    und = plan.strata[(plan.strata["draw_type"] == "undirected") & (plan.strata["item_id"] == "GEN")]
    ind, ent = und[und["entity_type"] == "individual"], und[und["entity_type"] == "enterprise"]
    # the individual strata draw a quarter of the class ratios (general: A 1 %, D 30 %)
    assert ind.loc[ind["stratum"] == "A1", "annual_ratio"].item() == pytest.approx(0.0025)
    assert ind.loc[ind["stratum"] == "D2", "annual_ratio"].item() == pytest.approx(0.075)
    assert ent.loc[ent["stratum"] == "D2", "annual_ratio"].item() == pytest.approx(0.30)
    n_ind, n_ent = (int((e["entity_type"] == t).sum()) for t in ("individual", "enterprise"))
    assert ind["N"].sum() == n_ind and ent["N"].sum() == n_ent  # one plan a year, nobody cooled off
    # each type reaches its annual share of the item (uplift rounds each stratum up: at most one extra per stratum)
    for rows, share, n in ((ind, 0.01, n_ind), (ent, 0.04, n_ent)):
        assert math.ceil(share * n) <= rows["n"].sum() <= math.ceil(share * n) + len(rows)
    # the class differentiation is kept inside a type: D drawn at a higher rate than A
    p = ind.set_index("stratum")["probability"]
    assert p["D2"] > p["C2"] > p["B2"] > p["A2"] > 0
    summary = by_entity_type(plan)
    gen = summary["individual"]["by_item"]["GEN"]
    assert gen["population"] == n_ind and gen["configured_share"] == 0.01
    assert gen["annual_share"] == pytest.approx(gen["undirected_checks"] / n_ind, abs=1e-6)
    assert summary["individual"]["checks"] + summary["enterprise"]["checks"] == len(plan.checks)


def test_enterprises_never_below_the_legal_floor():
    pp = pf.plan_params(entity_types={"enterprise": {"ratio_scale": 1.0, "annual_share": 0.02}})
    with pytest.raises(PlanError, match="legal floor"):
        validate_plan_params(pp, {"FLAG"})
    groups = {
        t: (scale, minimum)
        for t, _, scale, minimum in type_groups(pf.plan_params(entity_types=TYPES), pf.population(50))
    }
    assert groups == {"enterprise": (1.0, 0.04), "individual": (0.25, 0.01), "cooperative": (1.0, 0.03)}


def test_a_scale_that_takes_a_ratio_above_one_is_refused():
    pp = pf.plan_params(entity_types={"individual": {"ratio_scale": 2.0, "annual_share": 0.01}})  # key D 1.0 × 2
    with pytest.raises(PlanError, match="above 1"):
        validate_plan_params(pp, {"FLAG"})


# --- class bands per entity type ---------------------------------------------------------------------------------

GENERAL = {"A": 0, "B": 200, "C": 500, "D": 750}


def test_bands_per_type_apply_only_where_configured():
    scores = np.array([150, 220, 220, 600, 760, 760])
    types = np.array(["enterprise", "enterprise", "individual", "individual", "cooperative", "individual"])
    own = {"individual": {"A": 0, "B": 250, "C": 550, "D": 800}}
    assert list(classes_from_scores(scores, GENERAL)) == ["A", "B", "B", "C", "D", "D"]
    assert list(classes_from_scores(scores, GENERAL, types, own)) == ["A", "B", "A", "C", "D", "C"]
    assert list(classes_from_scores(scores, GENERAL, types, None)) == ["A", "B", "B", "C", "D", "D"]


def test_the_record_parameters_name_the_bands_per_type_only_when_configured(params):
    assert "bands_by_type" not in used_params(params)  # unconfigured: a record's params.json as before
    own = {"individual": {"A": 0, "B": 250, "C": 550, "D": 800}}
    changed = {**params, "score": {**params["score"], "bands_by_type": own}}
    assert used_params(changed)["bands_by_type"] == own


# --- calibration per entity type ---------------------------------------------------------------------------------


def test_expected_calibration_error_by_hand():
    # two bins: (.1, .2) predicted .15, observed 0 → gap .15 × 2 rows; (.7, .8) predicted .75, observed 1 → .25 × 2
    assert evaluate.expected_calibration_error([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.8], bins=2) == pytest.approx(0.2)
    assert evaluate.expected_calibration_error([0, 1, 0, 1], [0.5] * 4, bins=2) == pytest.approx(0.0)


def test_calibration_by_group_flags_the_type_that_is_off():
    rng = np.random.default_rng(3)
    n = 4000
    p = rng.uniform(0.02, 0.5, n)
    groups = np.where(np.arange(n) < n // 2, "enterprise", "individual")
    y = rng.random(n) < np.where(groups == "individual", np.minimum(1, 1.8 * p), p)  # individuals: 1.8× the risk
    figures = evaluate.calibration_by_group(y, p, groups, CP)
    ent, ind = figures["enterprise"], figures["individual"]
    assert not ent["off"] and ind["off"]
    assert ent["n"] == ind["n"] == n // 2
    assert ind["observed"] == pytest.approx(y[groups == "individual"].mean())
    assert ind["predicted"] == pytest.approx(p[groups == "individual"].mean())
    assert ind["observed_over_predicted"] > 1.5
    assert ent["ece_low"] <= ent["ece"] <= ent["ece_high"] and ind["ece_excess"] > CP["max_ece_excess"]
    assert ind["ece_p"] < 0.05 and ent["ece_excess"] < CP["max_ece_excess"]
    assert len(ind["table"]) == CP["bins"]
    # a small group is never flagged, however it looks
    small = evaluate.calibration_by_group(y[:150], np.full(150, 0.9), np.full(150, "cooperative"), CP)
    assert small["cooperative"]["ece"] > 0.4 and not small["cooperative"]["off"]
    # seeded: the same figures twice
    assert evaluate.calibration_by_group(y, p, groups, CP) == figures


def _type_frame(n: int, rng) -> pd.DataFrame:
    kind = rng.choice(["enterprise", "individual", "cooperative"], n, p=[0.75, 0.15, 0.1])
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "BAS.TYPE.enterprise": (kind == "enterprise").astype(float),
            "BAS.TYPE.individual": (kind == "individual").astype(float),
            "BAS.TYPE.cooperative": (kind == "cooperative").astype(float),
        }
    )


def test_an_off_type_gets_its_own_calibration_saved_and_used(tmp_path):
    rng = np.random.default_rng(11)
    frame = _type_frame(8000, rng)
    individual = frame["BAS.TYPE.individual"].to_numpy() == 1
    logit = -1.5 + frame["x"].to_numpy() + np.where(individual, 1.5, 0.0)  # individuals riskier than the model says
    frame["label"] = (rng.random(len(frame)) < 1 / (1 + np.exp(-logit))).astype(int)
    booster = CatBoostClassifier(iterations=5, depth=2, verbose=False, random_seed=0, allow_writing_files=False)
    booster.fit(frame[["x"]], frame["label"])
    model = RiskModel(booster, PlattCalibrator(), ["x"], [], {"anchor_probability": 0.24, "pdo": 300}, "sha")
    raw = -1.5 + frame["x"].to_numpy()  # the "model" knows x only
    # the general step as if learnt where the model is right (enterprises, cooperatives): individuals are off
    model.calibrator.fit(raw[~individual], frame["label"].to_numpy()[~individual])

    off = calibrate_types(model, raw, frame, CP)
    assert off == ["individual"] and set(model.type_calibrators) == {"individual"}
    p = model.calibrated(raw, frame)
    before = model.calibrator.predict(raw)
    y = frame["label"].to_numpy()
    gap = lambda q, m: abs(q[m].mean() - y[m].mean())  # noqa: E731
    assert gap(p, individual) < 0.01 < gap(before, individual)
    np.testing.assert_array_equal(p[~individual], before[~individual])  # the other types keep the general step

    model.save(tmp_path / "m")
    again = RiskModel.load(tmp_path / "m")
    assert set(again.type_calibrators) == {"individual"}
    np.testing.assert_allclose(again.calibrated(raw, frame), p)


def test_no_off_type_leaves_the_export_as_it_was(tmp_path):
    rng = np.random.default_rng(12)
    frame = _type_frame(3000, rng)
    raw = -1.5 + frame["x"].to_numpy()
    frame["label"] = (rng.random(len(frame)) < 1 / (1 + np.exp(-raw))).astype(int)
    model = RiskModel(None, PlattCalibrator().fit(raw, frame["label"]), ["x"], [], {}, "sha")
    assert calibrate_types(model, raw, frame, CP) == []
    assert model.type_calibrators == {} and "calibrated_types" not in model.info


# --- reports split by entity type ---------------------------------------------------------------------------------


def test_backtest_rates_per_entity_type_by_hand():
    from riskclass.monitor.backtest import type_rates

    observed = pd.DataFrame(
        {
            "entity_type": ["enterprise"] * 4 + ["individual"] * 2,
            "y": [1, 0, 0, 1, 0, 1],
            "probability": [0.8, 0.2, 0.1, 0.6, 0.3, 0.5],
            "w": 1.0,
        }
    )
    ipw = pd.DataFrame({"entity_type": ["individual"] * 2, "y": [1, 0], "probability": [0.4, 0.2], "w": [3.0, 1.0]})
    rows = {(r["view"], r["entity_type"]): r for r in type_rates("2026-01", 12, 12, {"observed": observed, "ipw": ipw})}
    ent = rows["observed", "enterprise"]
    assert (ent["n"], ent["events"], ent["event_rate"], ent["auc"]) == (4, 2, 0.5, 1.0)
    assert ent["predicted_rate"] == pytest.approx(0.425)  # window closed: the 12-month probability itself
    assert rows["observed", "individual"]["event_rate"] == 0.5
    assert rows["ipw", "individual"]["event_rate"] == pytest.approx(0.75)  # weights 3 : 1
    assert rows["ipw", "individual"]["predicted_rate"] is None
    assert type_rates("2026-01", 12, 12, {"observed": observed.drop(columns="entity_type")}) == []


def test_monitoring_split_by_entity_type_by_hand():
    from riskclass.monitor.run import by_entity_type as monitor_by_type

    classes = pd.DataFrame(
        {
            "class": ["A", "A", "C", "D", "B"],
            "score": [100, 150, 600, 800, 300],
            "entity_type": ["individual", "individual", "individual", "enterprise", "enterprise"],
        }
    )
    out = monitor_by_type(classes)
    assert out["individual"] == {
        "n": 3,
        "mean_score": 283.33,
        "class_shares": {"A": 0.666667, "B": 0.0, "C": 0.333333, "D": 0.0},
    }
    assert out["enterprise"]["class_shares"] == {"A": 0.0, "B": 0.5, "C": 0.0, "D": 0.5}
    assert monitor_by_type(classes.drop(columns="entity_type")) == {}


def test_the_training_check_counts_each_entity_once():
    """Five months of the same entities with the same outcomes look like five times the evidence if each row counts;
    the check reads each entity's latest month, so a noise-level gap stays noise."""
    rng = np.random.default_rng(5)
    one = _type_frame(600, rng)
    raw = -1.5 + one["x"].to_numpy()
    one["label"] = (rng.random(len(one)) < 1 / (1 + np.exp(-raw))).astype(int)
    one["uscc"] = [f"E{i}" for i in range(len(one))]
    months = pd.concat([one.assign(as_of=pd.Timestamp(f"2024-0{m}-30")) for m in range(5, 10)], ignore_index=True)
    raw5 = np.tile(raw, 5)
    cp = {**CP, "max_ece_excess": 0.0}  # any significant gap counts: only the sample size decides
    flat = RiskModel(None, PlattCalibrator().fit(raw, one["label"]), ["x"], [], {}, "sha")  # calibrated on its rows
    assert calibrate_types(flat, raw5, months.drop(columns="as_of"), cp)  # every row counted: wrongly "off"
    model = RiskModel(None, PlattCalibrator().fit(raw, one["label"]), ["x"], [], {}, "sha")
    assert calibrate_types(model, raw5, months, cp) == []
