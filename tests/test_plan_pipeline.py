"""The loop on a real (small) synthetic city: classes → plan → results → next month's indicators."""

from __future__ import annotations

import copy
import shutil

import pandas as pd
import pytest

from riskclass.classify.run import classify_month
from riskclass.io import sha256_file
from riskclass.plan import PlanError, run_plan, verify_plan
from riskclass.plan.results import ingest_results
from riskclass.records import RecordStore
from riskclass.synth.results import simulate_results

from conftest import classified_world


@pytest.fixture(scope="module")
def loop(small_city, small_city_ingested, params, tmp_path_factory):
    p, root = classified_world(small_city, small_city_ingested[0], params, tmp_path_factory.mktemp("loop"))
    plan, summary, path = run_plan(p, "2026-10")
    return p, root, plan, summary, path


def test_plan_on_the_city_draws_alive_applicable_entities_and_verifies(loop):
    p, _root, plan, summary, path = loop
    classes = pd.read_parquet(RecordStore(p["classify"]["records_dir"]).current("2026-09").classes_path)
    classes = classes.set_index("uscc")
    c = plan.checks
    assert c["uscc"].isin(classes.index).all()
    assert (c["class"].to_numpy() == classes.loc[c["uscc"], "class"].to_numpy()).all()
    validated = p["features"]["validated_dir"]
    entities = pd.read_parquet(f"{validated}/entities.parquet").set_index("uscc")
    food_checks = c[c["item_id"] == "SSJ-KEY-01"]
    assert entities.loc[food_checks["uscc"], "food_licensed"].all()
    individual_item = c[c["item_id"] == "SSJ-GEN-02"]
    assert (entities.loc[individual_item["uscc"], "entity_type"] == "individual").all()
    conflicts = pd.read_parquet(f"{validated}/inspector_conflicts.parquet")
    declared = set(zip(conflicts["inspector_id"], conflicts["uscc"], strict=True))
    for col in ("inspector_1", "inspector_2"):
        assert not any((o, u) in declared for o, u in zip(c[col], c["uscc"], strict=True))
    assert summary["checks"] == len(c) <= summary["capacity"]
    assert verify_plan(p, "2026-10", path) == {}


def test_missing_planning_inputs_are_named(loop, tmp_path):
    p = copy.deepcopy(loop[0])
    validated = tmp_path / "validated"
    validated.mkdir()
    for f in ("entities.parquet", "inspections.parquet"):  # a snapshot without the planning tables
        shutil.copy(f"{loop[0]['features']['validated_dir']}/{f}", validated / f)
    p["features"]["validated_dir"] = str(validated)
    with pytest.raises(PlanError, match=r"check_items\.parquet: not supplied"):
        run_plan(p, "2026-10", tmp_path / "plans")


def test_results_come_back_and_the_next_month_sees_them(loop, small_city, tmp_path):
    p, root, plan, _summary, path = loop
    items = pd.read_parquet(f"{p['features']['validated_dir']}/check_items.parquet")
    results_file = tmp_path / "results.csv"
    simulate_results(path, small_city / "truth", items, p["synth"]["inspections"], results_file, faulty=3)
    report = ingest_results(results_file, path, root / "feedback", received="2026-11-30")
    assert report["read"] == len(plan.checks) == report["accepted"] + report["quarantined"]
    assert report["quarantined"] >= 2
    store = RecordStore(p["classify"]["records_dir"])
    classify_month(p, "2026-10")
    features = pd.read_parquet(store.current("2026-10").features_path).set_index("uscc")
    before = pd.read_parquet(store.current("2026-09").features_path).set_index("uscc")
    records = pd.read_parquet(root / "feedback" / f"{plan.plan_id}.parquet")
    checked = features.index.intersection(records["uscc"].unique())  # some close during the plan month
    assert len(checked) > 0.9 * records["uscc"].nunique()
    gained = features.loc[checked, "SUP.INSP.count_3y"] - before.loc[checked, "SUP.INSP.count_3y"]
    assert (gained >= 1).mean() > 0.95  # the new checks are counted (old ones may leave the 3-year window)
    manifest = store.current("2026-10").manifest
    assert f"feedback/{plan.plan_id}.parquet" in manifest["inputs"]
    # a used plan is a record: the same draw may be re-derived, a different one may not replace it
    assert verify_plan(p, "2026-10", path) == {}
    changed = copy.deepcopy(p)
    changed["plan"]["published_value"] = "07 11 19"
    before = {f: sha256_file(f) for f in path.rglob("*") if f.is_file()}
    kept, _summary, _path = run_plan(changed, "2026-10")  # a drafted plan is kept unless replacing is asked
    assert kept.status == "kept" and "internal/plan_internal.csv" in kept.differs
    assert {f: sha256_file(f) for f in path.rglob("*") if f.is_file()} == before
    with pytest.raises(PlanError, match="immutable"):
        run_plan(changed, "2026-10", replace=True)
    assert run_plan(p, "2026-10")[0].status == "unchanged"
