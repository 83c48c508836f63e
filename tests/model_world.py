"""A tiny synthetic world for the model tests: indicator panels and label events from a chosen relation.

The real pipeline (``pipeline.train``, ``promote``) runs on it unchanged: every indicator of the catalog is a
column of the panels (most of them constant), and the labels come from ``penalties.parquet`` and
``inspections.parquet`` in a validated folder, through ``labels.labels_for`` like the city's. The relation is
chosen per world: the risk of an entity is driven by one indicator (``driver``) with a given ``strength``, so
"the city changes" is a second world whose risk is driven by another indicator. Seconds to build and to fit.

Labels: a training-month label is one event per entity dated 2025-02-15, inside the 12-month window of every
training as-of month 2024-06…2024-10 and outside the validation window; a validation label is an event dated
2026-03-15, inside only the 2025-10 window. So training and validation labels are drawn independently.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd

from riskclass.indicators import load_catalog

from conftest import ROOT, scratch_registry

TRAIN_MONTHS = ["2024-06", "2024-07", "2024-08", "2024-09", "2024-10"]
VALID_MONTH = "2025-10"
CATALOG = ROOT / "indicators.yaml"


def drivers() -> list[str]:
    """Numeric indicators declared 'risk goes up with it' (the model constrains them monotone increasing)."""
    catalog = load_catalog(CATALOG)
    return [
        i.code
        for i in catalog.indicators
        if i.direction == "up" and not i.is_categorical and not i.code.startswith("BAS.TYPE.")
    ]


def build_world(root: Path, driver: str, strength: float, entities: int = 1500, seed: int = 0) -> Path:
    """Write ``root/features/<month>.parquet`` and ``root/validated/`` for a world driven by ``driver``."""
    rng = np.random.default_rng(seed)
    catalog = load_catalog(CATALOG)
    uscc = np.array([f"91440800{i:09d}X" for i in range(entities)])
    # every entity carries two candidate drivers; only ``driver`` moves its risk in this world
    latent = {code: rng.normal(size=entities) for code in drivers()[:2]}
    if driver not in latent:
        raise ValueError(f"driver must be one of {sorted(latent)}")
    logit = -1.6 + strength * latent[driver]
    enterprise = (rng.random(entities) < 0.4).astype(float)

    def panel(month: str) -> pd.DataFrame:
        columns = {"uscc": uscc, "as_of": pd.Timestamp(month) + pd.offsets.MonthEnd(0)}
        for i in catalog.indicators:
            columns[i.code] = 0.0
        for code, x in latent.items():
            columns[code] = x + rng.normal(scale=0.1, size=entities)  # indicators move a little month to month
        columns["BAS.TYPE.enterprise"] = enterprise
        columns["BAS.TYPE.individual"] = 1.0 - enterprise
        columns["BAS.IND.section"] = rng.choice(["F", "G", "H"], size=entities)
        columns["BAS.IND.division"] = rng.choice(["440802", "440803"], size=entities)
        return pd.DataFrame(columns)

    features = root / "features"
    features.mkdir(parents=True, exist_ok=True)
    for month in [*TRAIN_MONTHS, VALID_MONTH]:
        panel(month).to_parquet(features / f"{month}.parquet", index=False)

    p = 1 / (1 + np.exp(-logit))
    train_label = rng.random(entities) < p
    valid_label = rng.random(entities) < p
    validated = root / "validated"
    validated.mkdir(parents=True, exist_ok=True)
    penalties = pd.DataFrame(
        {
            "uscc": np.concatenate([uscc[train_label], uscc[valid_label]]),
            "decision_date": pd.to_datetime(["2025-02-15"] * train_label.sum() + ["2026-03-15"] * valid_label.sum()),
        }
    )
    penalties.to_parquet(validated / "penalties.parquet", index=False)
    # undirected random checks in the validation window (the IPW evaluation): a problem where labelled
    drawn = rng.random(entities) < 0.3
    pd.DataFrame(
        {
            "inspection_id": [f"JC{i}" for i in range(drawn.sum())],
            "uscc": uscc[drawn],
            "inspection_date": pd.to_datetime(["2026-01-20"] * drawn.sum()),
            "draw_type": "undirected",
            "inclusion_prob": 0.3,
            "result_code": np.where(valid_label[drawn], "2", "1"),
        }
    ).to_parquet(validated / "inspections.parquet", index=False)
    no_dates = pd.Series([], dtype="datetime64[ms]")
    for table, date in (("abnormal_listings", "list_date"), ("serious_violations", "list_date")):
        pd.DataFrame({"uscc": pd.Series([], dtype=object), date: no_dates}).to_parquet(validated / f"{table}.parquet")
    pd.DataFrame(
        {"uscc": pd.Series([], dtype=object), "status_date": no_dates, "status": pd.Series([], dtype=object)}
    ).to_parquet(validated / "entities.parquet")
    (validated / "report.json").write_text(json.dumps({"snapshot_date": "2026-10-31"}), encoding="utf-8")
    return root


def world_params(params: dict, world: Path, store: Path) -> dict:
    """params.yaml pointed at ``world`` (data) and ``store`` (registry, exports), with a small, quick search."""
    p = copy.deepcopy(params)
    p["features"].update(catalog=str(CATALOG), out_dir=str(world / "features"))
    p["model"].update(
        features_dir=str(world / "features"),
        validated_dir=str(world / "validated"),
        truth_dir=str(world / "no-truth"),
        out_dir=str(store / "challenger"),
        train_from=TRAIN_MONTHS[0],
        train_to=TRAIN_MONTHS[-1],
        valid_month=VALID_MONTH,
    )
    p["model"]["tuning"].update(
        max_iterations=40,
        sample_entity_share=1.0,
        valid_entity_share=0.4,
        grid={"depth": [2, 3], "l2_leaf_reg": [3], "rsm": [1.0]},
    )
    p["gates"].update(min_auc_oot=0.55, min_ks_oot=0.05, max_brier_oot=0.3, class_rates_strictly_increasing=False)
    scratch_registry(p, store)
    return p


def use_world(p: dict, world: Path) -> dict:
    """The same parameters after the city changed: data from ``world``, registry and exports unchanged."""
    q = copy.deepcopy(p)
    q["model"].update(features_dir=str(world / "features"), validated_dir=str(world / "validated"))
    q["features"]["out_dir"] = str(world / "features")
    return q


def train_in_changed_city(params: dict, root: Path) -> dict:
    """The issue's story, end to end on two tiny worlds.

    A champion is trained where risk follows one indicator strongly (its stored out-of-time AUC is high);
    then the city changes — risk now follows another indicator, more weakly — and a challenger is retrained
    on the new data (its stored AUC is lower than the champion's). The challenger is promoted, then the old
    champion is put forward again and refused. Returns everything the tests look at; the frames each
    ``select_settings`` call received are kept to check that the search saw the training window only.
    """
    import pytest

    from riskclass.model import pipeline, tuning

    seen = []

    def spy(train, catalog, mp):
        seen.append(train[["uscc", "as_of"]].copy())
        return tuning.select_settings(train, catalog, mp)

    first_driver, second_driver = drivers()[:2]
    old = build_world(root / "old", first_driver, strength=2.5, seed=1)
    new = build_world(root / "new", second_driver, strength=1.2, seed=2)
    p_old = world_params(params, old, root / "store")
    p_new = use_world(p_old, new)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "select_settings", spy)
        first = pipeline.train(p_old, root / "reports-old")
        second = pipeline.train(p_new, root / "reports-new")
    history = Path(p_new["registry"]["alias_history"])
    before_promotion = history.read_text(encoding="utf-8")
    try:
        promoted = pipeline.promote(p_new, None, "tester", "the city changed", root / "reports")
    except pipeline.PromotionRefused as exc:  # kept, so that the test saying it must be promoted fails legibly
        promoted = exc
    before_refusal = history.read_text(encoding="utf-8")
    with pytest.raises(pipeline.PromotionRefused) as refused:
        pipeline.promote(p_new, "1", "tester", "roll back to the old champion", root / "reports")
    return {
        "p": p_new,
        "root": root,
        "first": first,
        "second": second,
        "promoted": promoted,
        "refused": refused.value,
        "history_before_promotion": before_promotion,
        "history_before_refusal": before_refusal,
        "history_after": history.read_text(encoding="utf-8"),
        "search_frames": seen,
    }
