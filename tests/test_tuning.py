"""CatBoost settings chosen by time-ordered cross-validation inside the training window only."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from model_world import CATALOG, TRAIN_MONTHS, VALID_MONTH, build_world, drivers, world_params
from riskclass.indicators import load_catalog
from riskclass.model import tuning
from riskclass.model.dataset import out_of_time_split
from riskclass.model.pipeline import snapshot_date
from riskclass.model.train import TUNED_SETTINGS, make_booster, monotone_directions
from riskclass.params import ParamsError, validate_params

TUNING = {"folds": 2, "gap_months": 1, "valid_entity_share": 0.4, "sample_entity_share": 0.6}


def panel(entities: int = 400, months=TRAIN_MONTHS, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "uscc": np.tile([f"E{i:05d}" for i in range(entities)], len(months)),
            "as_of": np.repeat([pd.Timestamp(m) + pd.offsets.MonthEnd(0) for m in months], entities),
            "label": rng.integers(0, 2, size=entities * len(months)),
        }
    )


def test_folds_expand_in_time_with_a_gap_and_never_share_an_entity():
    frame = panel()
    folds = tuning.time_folds(frame, TUNING)
    assert [(f.train_months, f.valid_month) for f in folds] == [
        (("2024-06", "2024-07"), "2024-09"),
        (("2024-06", "2024-07", "2024-08"), "2024-10"),
    ]
    month = frame["as_of"].dt.strftime("%Y-%m")
    for f in folds:
        assert set(month.iloc[f.valid_rows]) == {f.valid_month}
        assert set(month.iloc[f.train_rows]) == set(f.train_months)  # every earlier month, none after the gap
        trained = set(frame["uscc"].iloc[f.train_rows])
        validated = set(frame["uscc"].iloc[f.valid_rows])
        assert trained and validated and not trained & validated  # no entity on both sides
    # the folds validate on different entity cuts, and the search sample leaves some entities out
    assert set(frame["uscc"].iloc[folds[0].valid_rows]) != set(frame["uscc"].iloc[folds[1].valid_rows])
    used = set().union(*(set(frame["uscc"].iloc[np.r_[f.train_rows, f.valid_rows]]) for f in folds))
    assert 0.45 * 400 < len(used) < 0.75 * 400
    again = tuning.time_folds(frame.sample(frac=1, random_state=1).sort_index(), TUNING)
    assert all(np.array_equal(a.train_rows, b.train_rows) for a, b in zip(folds, again, strict=True))


def test_folds_need_enough_months():
    with pytest.raises(ValueError, match="5 training months cannot hold 3 folds with a 2-month gap"):
        tuning.time_folds(panel(), {**TUNING, "folds": 3, "gap_months": 2})


def test_candidates_follow_the_grid_order():
    grid = {"depth": [4, 6], "l2_leaf_reg": [3, 10], "rsm": [0.5, 1.0]}
    c = tuning.candidates(grid)
    assert len(c) == 8 and c[0] == {"depth": 4, "l2_leaf_reg": 3, "rsm": 0.5}
    assert c[-1] == {"depth": 6, "l2_leaf_reg": 10, "rsm": 1.0}


@pytest.fixture(scope="module")
def world(params, tmp_path_factory):
    """A tiny world and its training frame (no registry needed)."""
    root = tmp_path_factory.mktemp("tuning-world")
    build_world(root / "w", drivers()[0], strength=1.5, seed=3)
    p = world_params(params, root / "w", root / "store")
    split = out_of_time_split(p["model"], p["labels"], snapshot_date(p["model"]["validated_dir"]))
    return p, split


def test_search_is_deterministic_and_reads_iterations_off_the_mean_curve(world):
    p, split = world
    catalog = load_catalog(CATALOG)
    a = tuning.select_settings(split.train, catalog, p["model"])
    b = tuning.select_settings(split.train, catalog, p["model"])
    pd.testing.assert_frame_equal(a.table, b.table)
    assert a.chosen == b.chosen and a.to_dict() == b.to_dict()
    assert set(a.chosen) == set(TUNED_SETTINGS) and a.chosen["depth"] in (2, 3)
    for row, curve in zip(a.table.to_dict("records"), a.auc_curves, strict=True):
        mean = curve.mean(axis=0)
        assert curve.shape == (2, p["model"]["tuning"]["max_iterations"])  # one fit per fold, every iteration
        assert row["iterations"] == int(np.argmax(mean)) + 1 and row["cv_auc"] == pytest.approx(mean.max())
        assert row["fold_1_auc"] == pytest.approx(curve[0, row["iterations"] - 1])
    best = a.table.loc[a.table["cv_auc"].idxmax()]
    assert bool(best["chosen"]) and a.chosen["iterations"] == best["iterations"]
    assert 0.6 < best["cv_auc"] < 1  # the world's risk follows one indicator: the folds see it


def test_every_fit_of_the_search_keeps_the_monotone_constraints(world, monkeypatch):
    p, split = world
    catalog = load_catalog(CATALOG)
    calls = []

    def recording(directions, catboost_params, settings, **options):
        calls.append(directions)
        return make_booster(directions, catboost_params, settings, **options)

    monkeypatch.setattr(tuning, "make_booster", recording)
    search = tuning.select_settings(split.train, catalog, p["model"])
    assert len(calls) == len(search.table) * 2
    assert all(c == monotone_directions(catalog) and len(c) > 50 for c in calls)
    booster = make_booster(monotone_directions(catalog), p["model"]["catboost"], search.chosen)
    assert booster.get_params()["monotone_constraints"] == monotone_directions(catalog)


def test_search_never_sees_the_validation_month_or_the_calibration_entities(world):
    p, split = world
    catalog = load_catalog(CATALOG)
    assert VALID_MONTH not in set(split.train["as_of"].dt.strftime("%Y-%m"))
    search = tuning.select_settings(split.train, catalog, p["model"])
    months = {m for f in search.folds for m in [*f["train_months"], f["valid_month"]]}
    assert months <= set(TRAIN_MONTHS)
    # changing the validation month's labels cannot change the choice: it is not an input
    flipped = copy.deepcopy(split)
    flipped.valid["label"] = 1 - flipped.valid["label"]
    assert tuning.select_settings(flipped.train, catalog, p["model"]).chosen == search.chosen
    # calibration entities are left out: the folds hold fewer entities than the training window
    used = sum(f["train_rows"] + f["valid_rows"] for f in search.folds)
    assert used < len(split.train)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"folds": 4}, "model.tuning.folds = 4: the training window 2024-06…2024-10 has 5 months; 4 folds with a "),
        ({"gap_months": -1}, "model.tuning.gap_months = -1: must be at least 0"),
        ({"valid_entity_share": 1.0}, "model.tuning.valid_entity_share = 1.0: must lie in (0, 1)"),
        ({"grid": {"depth": [], "l2_leaf_reg": [3], "rsm": [1.0]}}, "model.tuning.grid.depth = []: must list at least"),
        ({"grid": {"depth": [4, 4], "l2_leaf_reg": [3], "rsm": [1.0]}}, "values must be distinct, 4 repeated"),
        ({"grid": {"depth": [4], "l2_leaf_reg": [3], "rsm": [0]}}, "model.tuning.grid.rsm[0] = 0: must lie in (0, 1]"),
        ({"learning_rate": 0.1}, "model.tuning.learning_rate = 0.1: unknown key"),
    ],
)
def test_tuning_parameters_are_checked(params, change, message):
    p = copy.deepcopy(params)
    p["model"]["tuning"].update(change)
    with pytest.raises(ParamsError) as err:
        validate_params(p)
    assert message in str(err.value)


def test_fixed_settings_keys_are_gone_from_catboost(params):
    p = copy.deepcopy(params)
    p["model"]["catboost"]["depth"] = 6
    with pytest.raises(ParamsError, match=r"model\.catboost\.depth = 6: unknown key"):
        validate_params(p)
