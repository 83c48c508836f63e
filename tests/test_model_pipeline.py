"""Training, registry, promotion and comparison end to end on the small synthetic city."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from riskclass.indicators import build, load_catalog, load_month, months_between
from riskclass.io import sha256_file
from riskclass.model import registry
from riskclass.model.compare import compare
from riskclass.model.pipeline import PromotionRefused, export_champion, gate_failures, promote, train
from riskclass.model.risk_model import RiskModel

from conftest import ROOT, scratch_registry


@pytest.fixture(scope="module")
def setup(small_city, small_city_ingested, params, tmp_path_factory):
    root = tmp_path_factory.mktemp("model")
    validated, _ = small_city_ingested
    build(
        validated,
        load_catalog(ROOT / "indicators.yaml"),
        [*months_between("2024-06", "2024-10"), "2025-10"],
        root / "features",
    )
    p = copy.deepcopy(params)
    p["features"].update(out_dir=str(root / "features"), catalog=str(ROOT / "indicators.yaml"), month="2025-10")
    p["model"].update(
        features_dir=str(root / "features"),
        validated_dir=str(validated),
        truth_dir=str(small_city / "truth"),
        out_dir=str(root / "challenger"),
    )
    # one candidate: the search still runs its folds and picks the iterations (up to 60) off their curves
    p["model"]["tuning"].update(max_iterations=60, grid={"depth": [6], "l2_leaf_reg": [5], "rsm": [1.0]})
    # 2,000 validation rows: B and C hold a few hundred entities each, too few for their event rates to order
    # reliably; the class-order gate is tested on its own (test_gates)
    p["gates"].update(min_auc_oot=0.55, min_ks_oot=0.05, max_brier_oot=0.3, class_rates_strictly_increasing=False)
    scratch_registry(p, root)
    first = train(p, root / "reports")
    first_hash = sha256_file(root / "challenger" / "model.cbm")
    second = train(p, root / "reports")
    return p, root, first, second, first_hash


def test_training_registers_challenger_and_bootstraps_champion(setup):
    p, _root, first, second, _ = setup
    rp = p["registry"]
    assert (first["version"], second["version"]) == ("1", "2")
    assert registry.alias_version(rp, "challenger") == "2"
    assert registry.alias_version(rp, "champion") == "1"  # bootstrap only when there is no champion
    history = [h for h in registry.alias_history(rp) if h["event"] != "promotion_refused"]
    assert [(h["alias"], h["version"], h["previous_version"]) for h in history] == [
        ("challenger", "1", None),
        ("champion", "1", None),
        ("challenger", "2", "1"),
    ]
    assert all(h["by"] and h["reason"] and h["time"] for h in history)


def test_validation_report_has_every_figure(setup):
    _, root, first, _, _ = setup
    v = json.loads((root / "reports" / "validation.json").read_text(encoding="utf-8"))
    for key in (
        "oot",
        "tuning",
        "promotion_gate",
        "scorecard_oot",
        "random_draws_ipw",
        "truth_model",
        "truth_oracle",
        "class_table",
        "calibration",
        "lift",
        "stability",
        "segments",
        "monotonicity_violations",
    ):
        assert key in v, key
    assert v["monotone_ok"] and v["reload_identical"]
    assert len(v["lift"]) == 10 and len(v["class_table"]) == 4
    assert {s["sample"] for s in v["stability"]} == {"train", "oot"}
    assert 0.5 < first["oot_auc"] <= 1 and first["truth_oracle_auc"] > 0.5
    card = (root / "reports" / "model_card.md").read_text(encoding="utf-8")
    assert "oracle" in card and "Known limits" in card
    assert "## Settings search" in card and "**chosen**" in card and "## Promotion gate" in card
    assert v["tuning"]["chosen"]["depth"] == 6 and 1 <= v["tuning"]["chosen"]["iterations"] <= 60
    assert RiskModel.load(root / "challenger").info["catboost_settings"] == v["tuning"]["chosen"]


def test_training_is_deterministic(setup):
    _, root, first, second, first_hash = setup
    assert sha256_file(root / "challenger" / "model.cbm") == first_hash
    assert first["oot_auc"] == second["oot_auc"]


def test_registry_copy_and_export_score_identically(setup):
    p, root, *_ = setup
    frame = load_month(root / "features", "2025-10")
    exported = RiskModel.load(root / "challenger")
    from_registry = registry.load_version(p["registry"], "2")
    pyfunc = registry.load_pyfunc(p["registry"], "challenger")
    assert np.array_equal(exported.score(frame), from_registry.score(frame))
    assert np.array_equal(pyfunc.predict(frame)["score"].to_numpy(), exported.score(frame))
    export_champion(p)
    assert np.array_equal(
        RiskModel.load(root / "champion").score(frame), registry.load_version(p["registry"], "1").score(frame)
    )


def test_promotion_refused_unless_better(setup):
    p, root, *_ = setup
    # v2 is v1 refitted on the same data: equal fresh figures on the same window do not beat the champion
    with pytest.raises(PromotionRefused, match="does not beat champion v1"):
        promote(p, None, "tester", "same model again", root / "reports")
    refusal = registry.alias_history(p["registry"])[-1]
    assert refusal["gate"]["challenger"]["auc"] == refusal["gate"]["champion"]["auc"]
    with pytest.raises(PromotionRefused, match="already the champion"):
        promote(p, "1", "tester", "no-op", root / "reports")
    assert registry.alias_history(p["registry"])[-1]["gate"] is None  # nothing to compare, still recorded
    assert registry.alias_version(p["registry"], "champion") == "1"


def test_gates():
    v = {
        "oot": {"auc": 0.6, "ks": 0.3, "brier": 0.1},
        "class_rates_increasing": False,
        "monotone_ok": True,
        "reload_identical": True,
    }
    gates = {
        "min_auc_oot": 0.65,
        "min_ks_oot": 0.2,
        "max_brier_oot": 0.2,
        "class_rates_strictly_increasing": True,
        "monotone_constraints_respected": True,
        "reload_identical": True,
    }
    failures = gate_failures(v, gates)
    assert len(failures) == 2 and "AUC" in failures[0] and "A to D" in failures[1]


def test_compare_two_versions(setup):
    p, *_ = setup
    result = compare(p, "1", "2", "2025-10")
    assert result["same_class_share"] == 1.0  # same data, same seed: the same model
    assert int(np.trace(result["migration"].to_numpy())) == int(result["migration"].to_numpy().sum())
    assert result["metrics"].loc["oot_auc"].nunique() == 1
