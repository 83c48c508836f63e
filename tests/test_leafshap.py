"""The reasons' contributions by leaf tables (model/leafshap.py): exact Shapley values, additive, batch-independent."""

from __future__ import annotations

from itertools import combinations
from math import factorial

import numpy as np
import pandas as pd
import pytest
from catboost import CatBoostClassifier, Pool

from riskclass.model.leafshap import PSEUDO_COUNT, LeafShap, _model_json


@pytest.fixture(scope="module")
def fitted():
    """A small model with what the champion has: repeated features in a tree, leaves no training row reached
    (monotone constraints give them values) and a categorical feature split by CTRs."""
    rng = np.random.default_rng(7)
    n = 3000
    x = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.exponential(size=n),
            "flag": (rng.random(n) < 0.03).astype(float),
            "c": rng.integers(0, 5, n).astype(float),
            "cat": rng.choice(["甲", "乙", "丙", "丁"], n),
        }
    )
    logit = 1.2 * x["a"] - 0.8 * x["b"] + 2.5 * x["flag"] + 0.3 * x["c"] + (x["cat"] == "乙") * 0.9
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    model = CatBoostClassifier(
        iterations=12,
        depth=4,
        random_seed=1,
        verbose=0,
        allow_writing_files=False,
        thread_count=1,
        max_ctr_complexity=1,
        monotone_constraints={"a": 1, "b": -1, "flag": 1},
    )
    model.fit(Pool(x, y, cat_features=["cat"]))
    return model, x


def _brute_force(model, x: pd.DataFrame) -> np.ndarray:
    """Shapley values by enumerating coalitions, with v(S) by recursion down each tree (root = last split)."""
    trees, flat, (scale, _) = _model_json(model)
    leaves = model.calc_leaf_indexes(Pool(x, cat_features=["cat"]))
    out = np.zeros((len(x), x.shape[1]))
    for t, tree in enumerate(trees):
        feats = [flat(s) for s in tree["splits"]]
        values = np.asarray(tree["leaf_values"]) * scale
        weights = np.asarray(tree["leaf_weights"], dtype=float) + PSEUDO_COUNT
        depth = len(feats)

        def v(coalition, lx, depth=depth, feats=feats, values=values, weights=weights):
            def down(d, node):
                if d < 0:
                    return values[node[0]]
                go = [leaf for leaf in node if (leaf >> d) & 1 == (lx >> d) & 1]
                if feats[d] in coalition:
                    return down(d - 1, go)
                skip = [leaf for leaf in node if leaf not in go]
                total = weights[node].sum()
                return sum(weights[p].sum() / total * down(d - 1, p) for p in (go, skip) if weights[p].sum() > 0)

            return down(depth - 1, list(range(1 << depth)))

        players = sorted(set(feats))
        k = len(players)
        for r in range(len(x)):
            lx = leaves[r, t]
            for f in players:
                others = [g for g in players if g != f]
                for size in range(k):
                    w = factorial(size) * factorial(k - size - 1) / factorial(k)
                    for sub in combinations(others, size):
                        out[r, f] += w * (v(set(sub) | {f}, lx) - v(set(sub), lx))
    return out


def test_tables_are_the_shapley_values_of_the_path_dependent_expectation(fitted):
    model, x = fitted
    rows = x.iloc[:25]
    shap = LeafShap(model, x.shape[1])
    np.testing.assert_allclose(
        shap.contributions(Pool(rows, cat_features=["cat"])), _brute_force(model, rows), atol=1e-12
    )


def test_the_model_has_what_makes_catboost_depend_on_the_batch(fitted):
    """The case the tables exist for: leaves with no training weight. CatBoost then adds the leaf counts of the
    batch it is given, so one entity's values change with the other entities in its batch."""
    model, x = fitted
    trees, _, _ = _model_json(model)
    assert any(w == 0 for tree in trees for w in tree["leaf_weights"])
    alone = model.get_feature_importance(Pool(x.iloc[:5], cat_features=["cat"]), type="ShapValues")[:, :-1]
    together = model.get_feature_importance(Pool(x, cat_features=["cat"]), type="ShapValues")[:5, :-1]
    assert np.abs(alone - together).max() > 1e-6


def test_contributions_depend_on_the_entity_alone_and_add_up_to_the_raw_score(fitted):
    model, x = fitted
    shap = LeafShap(model, x.shape[1])
    whole = shap.contributions(Pool(x, cat_features=["cat"]))
    parts = np.vstack([shap.contributions(Pool(x.iloc[i : i + 7], cat_features=["cat"])) for i in range(0, 70, 7)])
    assert np.array_equal(whole[:70], parts)  # the same bytes whatever the batch
    raw = model.predict(Pool(x, cat_features=["cat"]), prediction_type="RawFormulaVal")
    np.testing.assert_allclose(whole.sum(axis=1) + shap.expected_value, raw, atol=1e-10)
    # close to CatBoost's own values (which differ by the batch weights and the pruned zero-weight branches)
    catboost = model.get_feature_importance(Pool(x, cat_features=["cat"]), type="ShapValues")[:, :-1]
    assert np.corrcoef(whole.ravel(), catboost.ravel())[0, 1] > 0.99


def test_categorical_ctr_splits_are_credited_to_their_feature(fitted):
    model, x = fitted
    trees, flat, _ = _model_json(model)
    ctr = [flat(s) for tree in trees for s in tree["splits"] if s["split_type"] == "OnlineCtr"]
    assert ctr and set(ctr) == {4}
    whole = LeafShap(model, x.shape[1]).contributions(Pool(x, cat_features=["cat"]))
    assert np.abs(whole[:, 4]).max() > 0
