"""The loop on a real (small) synthetic city: classes → plan → results → next month's indicators."""

from __future__ import annotations

import copy
import math
import shutil

import numpy as np
import pandas as pd
import pytest

from plan_fixture import SCORE_BANDS, probability_of
from riskclass import uscc
from riskclass.classify.run import classify_month
from riskclass.io import sha256_file
from riskclass.plan import PlanError, run_plan, verify_plan
from riskclass.plan.planner import PlanInputs, make_plan
from riskclass.plan.results import ingest_results
from riskclass.plan.strata import stratum_names
from riskclass.records import RecordStore
from riskclass.synth import planning
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


def default_city(params: dict, n: int = 39_300, seed: int = 0) -> pd.DataFrame:
    """A population with the default city's mix (entity types and sections of params.yaml; classes, domains and
    directed-draw signals at the shares its 2026-10 record shows)."""
    rng = np.random.default_rng(seed)
    sp = params["synth"]

    def pick(shares: dict, size: int) -> np.ndarray:
        return rng.choice(list(shares), size, p=np.array(list(shares.values())) / sum(shares.values()))

    types = pick(sp["entity_type_shares"], n)
    sections = np.empty(n, dtype=object)
    for t in sorted(set(types)):  # a fixed order: the draws must not depend on the hash seed
        sections[types == t] = pick(sp["section_shares"][t], int((types == t).sum()))
    classes = rng.choice(list(SCORE_BANDS), n, p=[0.60, 0.235, 0.106, 0.059])
    low, high = (np.array([SCORE_BANDS[k][j] for k in classes]) for j in (0, 1))
    districts = pick(params["city"]["district_shares"], n)
    prefix = np.select([types == "enterprise", types == "individual"], ["91", "92"], "93")
    no_reports = rng.random(n) < 0.236
    score = rng.integers(low, high)
    return pd.DataFrame(
        {
            "uscc": uscc.generate(rng, prefix, districts),
            "name": [f"主体{i}" for i in range(n)],
            "score": score,
            "probability": probability_of(score + rng.random(n)),
            "class": classes,
            "district": districts,
            "section": sections,
            "entity_type": types,
            "food": np.isin(sections, ["F", "H"]) & (rng.random(n) < 0.55),  # 31 % of the city, in trade and catering
            "drug": rng.random(n) < 0.036,
            "special_equipment": rng.random(n) < 0.026,
            "DYN.AR.latest_filed": np.where(no_reports, 0.0, 1.0),
            "DYN.AR.filed_3y": np.where(no_reports, 1.0, 3.0),
            "REL.ADDR.cluster": (rng.random(n) < 0.031).astype(float),
            "BAS.CAP.huge_no_staff": (rng.random(n) < 0.008).astype(float),
            "EW.ADDR.cluster_red": (rng.random(n) < 0.008).astype(float),  # the warning flag plan/inputs.py adds
        }
    )


def _default_city_plan(params, pp):
    sp = params["synth"]
    officers = planning.inspectors(
        np.random.default_rng([sp["seed"], 6]), sp["entities"], sp["planning"], np.datetime64("2026-10-31")
    )
    e = default_city(params)
    plan_inputs = PlanInputs(
        month="2026-11",
        classes_month="2026-10",
        entities=e,
        items=planning.check_items(),
        inspectors=officers,
        conflicts=pd.DataFrame({"inspector_id": [], "uscc": []}),
        inspections=pd.DataFrame(
            {"uscc": pd.Series(dtype=object), "inspection_date": pd.Series(dtype="datetime64[ms]")}
        ),
    )
    return e, make_plan(plan_inputs, pp, "SSJ-440800-2026-11")


def test_a_default_city_plan_fits_the_default_directorys_capacity(params):
    """The default parameters on a city like the default one: the synthetic directory (as the synth stage draws
    it for 50,000 entities) staffs about what the city inspects in a month, the strata floors fit in it, the
    monthly share of the annual ratios asks for more, and the common shrink brings the plan down to it. Every
    entity type drawn alike here (no plan.entity_types): with the per-type shares the demand fits (below)."""
    pp = {k: v for k, v in params["plan"].items() if k != "entity_types"}
    e, plan = _default_city_plan(params, pp)
    s = plan.summary
    assert 250 <= s["capacity"] <= 400, s["capacity"]  # ≈ the ~280 inspections a month the simulated city makes
    assert s["floor_checks"] < s["capacity"] and s["shrink_share"] < 1
    # the draws fill the capacity (an entity drawn by its stratum and a directed filter of one item is one check)
    assert 0.97 * s["capacity"] <= plan.strata["n"].sum() <= s["capacity"] and s["checks"] <= s["capacity"]
    und = plan.strata[plan.strata["draw_type"] == "undirected"]
    assert (und["n"] >= und["floor"]).all() and (und.loc[und["N"] > 0, "n"] >= 1).all()
    assert set(und.loc[und["N"] > 0, "stratum"]) == set(stratum_names(params["plan"]["subbands"]))
    # capacity binds in total; a qualification pool can still run short of a few checks (reported, not dropped)
    assert s["unassigned"] <= 0.05 * s["checks"] and (plan.loads["assigned"] <= plan.loads["capacity"]).all()
    by_class = plan.checks.groupby("class").size() / e.groupby("class").size()
    assert by_class["A"] < by_class["B"] < by_class["C"] < by_class["D"]  # still differentiated after the shrink


def test_roster_history_is_not_rewritten_silently_and_the_plan_keeps_the_roster_out_of_general_items(loop):
    from riskclass.triggers.run import read_month, roster_path, run_roster

    p, _root, plan, summary, _path = loop
    out_dir = p["triggers"]["out_dir"]
    rows, _triggers = read_month(out_dir, "2026-09")
    roster = set(rows.loc[rows["status"].isin(["enrolled", "member", "renewed"]), "uscc"])
    assert roster and summary["trigger_supervision"]["on_roster"] == len(roster)
    general = plan.checks[(plan.checks["item_type"] == "general") & (plan.checks["draw_type"] != "triggered")]
    assert not general["uscc"].isin(roster).any()
    triggered = plan.checks[plan.checks["draw_type"] == "triggered"]
    assert len(triggered) == summary["trigger_supervision"]["scheduled"] > 0  # the small city fires some
    assert triggered["inclusion_prob"].isna().all() and (triggered["triggered_by"] != "").all()
    stored = {m: sha256_file(roster_path(out_dir, m)) for m in ("2026-08", "2026-09")}
    assert {m["status"] for m in run_roster(p, "2026-09")} == {"unchanged"}
    changed = copy.deepcopy(p)
    changed["triggers"]["categories"] = changed["triggers"]["categories"][:1]  # fewer categories: another roster
    kept = run_roster(changed, "2026-09")
    assert [m["status"] for m in kept] == ["kept", "kept"] and kept[0]["differs"]
    assert {m: sha256_file(roster_path(out_dir, m)) for m in stored} == stored  # nothing rewritten
    replaced = run_roster(changed, "2026-09", replace=True)
    assert [m["status"] for m in replaced] == ["replaced", "replaced"]
    assert replaced[0]["replaced"][0][roster_path(out_dir, "2026-08").name] == stored["2026-08"]
    run_roster(p, "2026-09", replace=True)  # back to the fixture's roster for the other tests


def test_default_city_plan_per_entity_type(params):
    """The default per-type shares (Henan 2020) on the default-like city: the individual businesses' general item
    draws its 1 % a year and enterprises at least their 4 %, within the capacity and still differentiated."""
    e, plan = _default_city_plan(params, params["plan"])
    s, ppy = plan.summary, params["plan"]["plans_per_year"]
    assert s["checks"] <= s["capacity"]
    und = plan.strata[plan.strata["draw_type"] == "undirected"]
    assert set(und.loc[und["N"] > 0, "entity_type"]) <= {"enterprise", "individual", "cooperative"}
    for (item, etype), rows in und.groupby(["item_id", "entity_type"]):
        if rows["N"].sum() == 0:
            continue
        share = params["plan"]["entity_types"][etype]["annual_share"]
        if etype == "enterprise":
            share = max(share, params["plan"]["min_overall_ratio"])
        # at least the configured share of the candidates (shrink could lower it: here nothing shrinks)
        assert rows["n"].sum() >= math.ceil(round(share / ppy * rows["N"].sum(), 9)), (item, etype)
    gen = und[(und["item_id"] == "SSJ-GEN-02") & (und["entity_type"] == "individual")]
    assert gen["n"].sum() * ppy / gen["N"].sum() == pytest.approx(0.01, abs=0.002)
    by_class = plan.checks.groupby("class").size() / e.groupby("class").size()
    assert by_class["A"] < by_class["B"] < by_class["C"] < by_class["D"]
