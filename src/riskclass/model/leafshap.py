"""Exact SHAP contributions of a CatBoost model of oblivious trees, by table lookup: the reasons of every entity.

Path-dependent SHAP gives each tree's contributions as a function of the leaf an entity falls into and nothing
else: in an oblivious tree a leaf fixes the side of every split. So each tree has a table — leaf × the features it
splits on — computed once per model, and an entity's contributions are the sum over trees of its leaves' rows.
CatBoost finds the leaves (``calc_leaf_indexes``, as fast as a prediction); the sum is a few thousand vector gathers
per chunk of entities, instead of CatBoost's ``ShapValues``, which took most of the monthly classification's time.

Each table is the Shapley formula itself over the tree's features (at most its depth: ≤ 64 coalitions), with
``v(S)`` the path-dependent expectation (Lundberg et al. 2018, Algorithm 1): splits on features in ``S`` follow the
entity's side, the others split in the proportions of the leaf weights along the path. Two deliberate differences
from CatBoost's ``ShapValues`` (docs/model.md, "Reasons"):

- the leaf weights are the training counts plus one (``PSEUDO_COUNT``) for every leaf. CatBoost instead adds the
  leaf counts of whatever batch of entities it is given when a model has leaves that no training row reached, so
  its values for one entity change with the batch it is scored in — with chunks or Spark partitions, reasons would
  depend on which other entities shared the chunk. Here they depend on the model and the entity alone;
- the values are the exact Shapley values of that ``v``: CatBoost's TreeSHAP drops the branches of zero weight from
  its path bookkeeping, which moves its values away from the Shapley values by up to a few hundredths.

tests/test_leafshap.py checks the tables against a brute-force Shapley computation and the additivity (contributions
sum to the raw score minus the expected value).
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable
from itertools import combinations
from pathlib import Path

import numpy as np

PSEUDO_COUNT = 1.0  # added to every leaf's training weight (a leaf no training row reached still has a cover)


class LeafShap:
    """Contribution tables of every tree of a fitted CatBoost model (oblivious trees, one output dimension)."""

    def __init__(self, booster, n_features: int):
        self.booster = booster
        self.n_features = n_features
        trees, flat, (scale, bias) = _model_json(booster)
        self.scale = float(scale)
        # per feature, in tree order (the order of the sums): (tree, that feature's column of the tree's table)
        columns: dict[int, list[tuple[int, np.ndarray]]] = {}
        mean = float(bias[0]) if isinstance(bias, list) else float(bias)
        for t, tree in enumerate(trees):
            features = [flat(split) for split in tree["splits"]]
            weights = np.asarray(tree["leaf_weights"], dtype=float) + PSEUDO_COUNT
            values = np.asarray(tree["leaf_values"], dtype=float) * self.scale
            table, players = tree_table(features, values, weights)
            mean += float(values @ weights / weights.sum())
            for j, f in enumerate(players):
                columns.setdefault(f, []).append((t, np.ascontiguousarray(table[:, j])))
        self.expected_value = mean  # the raw log-odds before any contribution: raw = expected + Σ contributions
        self._columns = sorted(columns.items())

    def contributions(self, pool) -> np.ndarray:
        """n × features contributions to the raw log-odds of the entities of ``pool`` (a CatBoost Pool)."""
        leaves = np.asarray(self.booster.calc_leaf_indexes(pool), dtype=np.intp)
        out = np.empty((leaves.shape[0], self.n_features), dtype=float)
        for start in range(0, len(leaves), _ROWS):
            by_tree = np.ascontiguousarray(leaves[start : start + _ROWS].T)  # each tree's leaves contiguous
            sums = np.zeros((self.n_features, by_tree.shape[1]))
            for f, uses in self._columns:
                column = sums[f]
                for t, values in uses:  # a 64-entry table read along the entities: stays in cache
                    column += values.take(by_tree[t])
            out[start : start + _ROWS] = sums.T
        return out


_ROWS = 50_000  # entities per pass


def _model_json(booster) -> tuple[list[dict], Callable[[dict], int], list]:
    """The model's trees, a function giving the flat feature index a split is on, and its [scale, [bias]]."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.json"
        booster.save_model(str(path), format="json")
        model = json.loads(path.read_text(encoding="utf-8"))
    info = model["features_info"]
    if info.get("one_hot_features"):
        raise ValueError("LeafShap does not handle one-hot categorical splits")
    # CatBoost numbers the binary splits: every float feature's borders in order, then every CTR's borders
    split_feature: list[int] = []
    for f in info.get("float_features", []):
        split_feature += [f["flat_feature_index"]] * len(f.get("borders", []))
    cat_flat = {f["feature_index"]: f["flat_feature_index"] for f in info.get("categorical_features", [])}
    for ctr in info.get("ctrs", []):
        cats = {e["cat_feature_index"] for e in ctr["elements"] if "cat_feature_index" in e}
        if len(cats) != 1:
            raise ValueError("LeafShap needs CTRs of one categorical feature each (max_ctr_complexity = 1)")
        split_feature += [cat_flat[cats.pop()]] * len(ctr["borders"])

    def flat(split: dict) -> int:
        if split["split_type"] not in ("FloatFeature", "OnlineCtr"):
            raise ValueError(f"LeafShap does not handle {split['split_type']} splits")
        return split_feature[split["split_index"]]

    if any(len(t["leaf_values"]) != 2 ** len(t["splits"]) for t in model["oblivious_trees"]):
        raise ValueError("LeafShap handles one-dimensional models of oblivious trees only")
    return model["oblivious_trees"], flat, model.get("scale_and_bias", [1.0, [0.0]])


def tree_table(features: list[int], values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """(leaves × players table, players) of one oblivious tree whose split ``d`` is on feature ``features[d]``.

    Leaf ``l`` lies on the side ``(l >> d) & 1`` of split ``d``; the last split is the root (CatBoost's order: a
    node's children differ in the lowest bit of the splits still to come). ``players``: the distinct features, in
    first-use order.
    """
    depth = len(features)
    n_leaves = 1 << depth
    leaves = np.arange(n_leaves)
    players = list(dict.fromkeys(features))
    masks = [sum(1 << d for d in range(depth) if features[d] == f) for f in players]
    # cover ratio of each leaf's path at each split: weight below the split on the leaf's side / weight above it
    ratio = np.ones((depth, n_leaves))
    everything = n_leaves - 1
    for d in range(depth):
        above = everything ^ ((1 << (d + 1)) - 1)  # the splits taken before split d: d + 1 … depth − 1
        below = above | (1 << d)
        w_above = _prefix_weight(weights, leaves, above)
        w_below = _prefix_weight(weights, leaves, below)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio[d] = np.where(w_above > 0, w_below / w_above, 0.0)
    k = len(players)
    value_of: dict[int, np.ndarray] = {}
    for size in range(k + 1):
        for subset in combinations(range(k), size):
            forced = 0
            for i in subset:
                forced |= masks[i]
            free = [d for d in range(depth) if not (forced >> d) & 1]
            r = values * np.prod(ratio[free], axis=0) if free else values.copy()
            agree = ((leaves[:, None] ^ leaves[None, :]) & forced) == 0  # [entity leaf b, leaf l]
            value_of[_bits(subset)] = agree @ r
    table = np.zeros((n_leaves, k))
    for i in range(k):
        others = [j for j in range(k) if j != i]
        for size in range(k):
            weight = math.factorial(size) * math.factorial(k - size - 1) / math.factorial(k)
            for subset in combinations(others, size):
                s = _bits(subset)
                table[:, i] += weight * (value_of[s | (1 << i)] - value_of[s])
    return table, players


def _bits(subset) -> int:
    out = 0
    for i in subset:
        out |= 1 << i
    return out


def _prefix_weight(weights: np.ndarray, leaves: np.ndarray, prefix_mask: int) -> np.ndarray:
    """For each leaf, the total weight of the leaves that agree with it on the splits in ``prefix_mask``."""
    keys = leaves & prefix_mask
    totals = np.bincount(keys, weights=weights, minlength=len(leaves))
    return totals[keys]
