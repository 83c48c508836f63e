"""Early warnings: catalog validation, every rule firing and not firing, deterministic monthly files, the
measurement on a hand-computed fixture, and directed plan draws by warning code."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml

from plan_fixture import inputs, plan_params, population
from riskclass.early_warning.assessment import measure, observable_months
from riskclass.early_warning.catalog import WarningCatalogError, load_warning_catalog
from riskclass.early_warning.fire import compute_month, fire, month_frame, run_warnings, score_addresses
from riskclass.indicators import load_catalog
from riskclass.io import sha256_file
from riskclass.plan.inputs import warning_flags
from riskclass.plan.planner import PlanError, make_plan

from conftest import ROOT

INDICATORS = load_catalog(ROOT / "indicators.yaml")
CATALOG = load_warning_catalog(ROOT / "warnings.yaml", INDICATORS)
TARGET = "91440802000000001X"
# values of a quiet entity: filed its reports, old enough, alone at its address
QUIET = {"DYN.AR.latest_filed": 1, "DYN.AR.filed_3y": 3, "BAS.AGE.years": 8, "REL.ADDR.entities": 1}

# Per warning code: (a case that fires, a case that does not). Each case: indicator values of the target entity
# ("features"), its record this month and in earlier months ("record": score, class, prev = (score, class) or
# None, back3 = score or None), and the colour its address should score ("address": red / yellow / green / None).
CASES = {
    "EW.REL.one_person_many": ({"features": {"REL.REP.portfolio": 5}}, {"features": {"REL.REP.portfolio": 4}}),
    "EW.ADDR.cluster": ({"features": {"REL.ADDR.cluster": 1}}, {"features": {"REL.ADDR.cluster": 0}}),
    "EW.ADDR.cluster_red": ({"address": "red"}, {"address": "yellow"}),
    "EW.ADDR.cluster_yellow": ({"address": "yellow"}, {"address": "green"}),
    "EW.CAP.huge_no_staff": ({"features": {"BAS.CAP.huge_no_staff": 1}}, {"features": {"BAS.CAP.huge_no_staff": 0}}),
    "EW.AR.two_years_missing": (
        {"features": {"DYN.AR.latest_filed": 0, "DYN.AR.filed_3y": 1, "BAS.AGE.years": 3}},
        {"features": {"DYN.AR.latest_filed": 0, "DYN.AR.filed_3y": 1, "BAS.AGE.years": 1.5}},  # not due twice yet
    ),
    "EW.FIN.all_zero": ({"features": {"DYN.FIN.all_zero": 1}}, {"features": {"DYN.FIN.all_zero": 0}}),
    "EW.CHG.frequent": ({"features": {"DYN.CHG.all_1y": 3}}, {"features": {"DYN.CHG.all_1y": 2}}),
    "EW.CHG.legal_rep": ({"features": {"DYN.CHG.legal_rep_1y": 2}}, {"features": {"DYN.CHG.legal_rep_1y": 1}}),
    "EW.EQ.freeze": ({"features": {"DYN.EQ.freezes_active": 1}}, {"features": {"DYN.EQ.freezes_active": 0}}),
    "EW.CMP.surge": (
        {"features": {"SOC.CMP.count_3m": 3, "SOC.CMP.growth": 1.0}},
        {"features": {"SOC.CMP.count_3m": 3, "SOC.CMP.growth": 0.0}},  # many, but no more than before
    ),
    "EW.OPN.surge": ({"features": {"SOC.OPN.count_3m": 1}}, {"features": {"SOC.OPN.count_3m": 0}}),
    "EW.CLS.two_steps_worse": (
        {"record": {"score": 600, "class": "C", "prev": (100, "A")}},
        {"record": {"score": 600, "class": "C", "prev": (300, "B")}},
    ),
    "EW.SCORE.jump": (
        {"record": {"score": 450, "class": "B", "prev": (250, "B")}},
        {"record": {"score": 450, "class": "B", "prev": None}},  # no record last month: a missing value never holds
    ),
    "EW.MOD.score_trend_3m": (
        {"record": {"score": 520, "class": "C", "back3": 300}},
        {"record": {"score": 480, "class": "B", "back3": 300}},  # rose as much, but still B
    ),
}


def _world(case: dict):
    """A month with the target entity and, for an address case, eleven neighbours at its address."""
    record = {"score": 100, "class": "A", "prev": (100, "A"), "back3": 100, **case.get("record", {})}
    colour = case.get("address")
    neighbours = 11 if colour else 0
    # red: everyone at the address is on the abnormal list (score 50); yellow: a third of them (≈ 16.7); green: nobody
    abnormal = {"red": 12, "yellow": 4, "green": 0, None: 0}[colour]
    uscc = [TARGET] + [f"9144080200000{i:04d}X" for i in range(2, 2 + neighbours)]
    base = {code: INDICATORS_DEFAULTS.get(code, 0) for code in CATALOG.indicators()}
    rows = []
    for i, u in enumerate(uscc):
        row = {"uscc": u, **base, **QUIET, "SUP.ABN.listed_now": int(i < abnormal)}
        if u == TARGET:
            row.update(case.get("features", {}))
        rows.append(row)
    features = pd.DataFrame(rows)
    classes = pd.DataFrame({"uscc": uscc, "score": 100, "probability": 0.05, "class": "A"})
    classes.loc[0, ["score", "class"]] = [record["score"], record["class"]]
    prev = classes.copy()
    if record["prev"] is None:
        prev = prev.iloc[1:]
    else:
        prev.loc[0, ["score", "class"]] = list(record["prev"])
    back3 = classes.copy()
    if record["back3"] is None:
        back3 = back3.iloc[1:]
    else:
        back3.loc[0, "score"] = record["back3"]
    addresses = pd.DataFrame({"uscc": uscc, "address_key": ["A-T"] * len(uscc) if colour else ["A-T"]})
    return features, classes, prev, back3, addresses


INDICATORS_DEFAULTS = {i.code: i.default for i in INDICATORS.indicators}


def _fires(case: dict, code: str) -> bool:
    frame, _ = month_frame(CATALOG, *_world(case))
    fired = fire(CATALOG, frame, "2026-10")
    return bool(((fired["uscc"] == TARGET) & (fired["code"] == code)).any())


@pytest.mark.parametrize("code", CATALOG.codes)
def test_every_rule_fires_on_its_case_and_not_on_its_counter_case(code):
    assert code in CASES, f"warning {code} has no firing / non-firing case in tests/test_early_warning.py CASES"
    firing, quiet = CASES[code]
    assert _fires(firing, code), f"{code} does not fire on its firing case"
    assert not _fires(quiet, code), f"{code} fires on its non-firing case"


def test_cases_name_only_codes_of_the_catalog():
    assert set(CASES) <= set(CATALOG.codes)


def test_address_scores_and_colours_follow_the_catalog():
    frame, table = month_frame(CATALOG, *_world({"address": "yellow"}))
    assert len(table) == 1 and table.loc[0, "entities"] == 12
    assert table.loc[0, "abnormal"] == pytest.approx(4 / 12, abs=1e-4)
    assert table.loc[0, "score"] == pytest.approx(round(100 * 2 * (4 / 12) / 4, 2))  # abnormal weighs 2 of 4
    assert table.loc[0, "colour"] == "yellow"
    assert (frame["address.colour"] == "yellow").all()
    small = frame.head(5).assign(address_key="A-S")  # below min_entities: not scored at all
    assert score_addresses(small, CATALOG.address_scoring).empty


def test_evidence_is_a_json_object_of_the_declared_fields_in_order():
    frame, _ = month_frame(CATALOG, *_world(CASES["EW.CLS.two_steps_worse"][0]))
    row = fire(CATALOG, frame, "2026-10").query("code == 'EW.CLS.two_steps_worse'").iloc[0]
    evidence = json.loads(row["evidence"])
    assert list(evidence) == list(CATALOG.get("EW.CLS.two_steps_worse").evidence)
    assert evidence == {"class_prev": "A", "class": "C", "score_prev": 100, "score": 600}
    assert row["severity"] == "高" and row["severity_en"] == "high"


# -- catalog validation ---------------------------------------------------------------------------------------
def _load_edited(tmp_path, edit):
    raw = yaml.safe_load((ROOT / "warnings.yaml").read_text(encoding="utf-8"))
    edit(raw)
    path = tmp_path / "warnings.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return load_warning_catalog(path, INDICATORS)


def _first(raw) -> dict:
    return raw["warnings"][0]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda r: _first(r)["condition"].append({"indicator": "REL.REP.nope", "min": 1}),
            r"EW.REL.one_person_many.*unknown indicator 'REL.REP.nope'",
        ),
        (lambda r: _first(r).pop("severity"), r"EW.REL.one_person_many.*missing field\(s\) \['severity'\]"),
        (lambda r: _first(r).update(severity="urgent"), r"EW.REL.one_person_many.*severity must be one of"),
        (lambda r: r["warnings"].append(dict(_first(r))), r"warning #\d+ \(EW.REL.one_person_many\).*duplicate code"),
        (lambda r: _first(r).update(code="REL.one_person_many"), r"code must look like EW.GROUP.name"),
        (lambda r: _first(r).update(condition=[{"indicator": "REL.REP.portfolio"}]), r"needs min, max or eq"),
        (
            lambda r: _first(r).update(condition=[{"record": "score_jump", "min": 1}]),
            r"unknown record field 'score_jump'",
        ),
        (
            lambda r: _first(r).update(condition=[{"address": "colour", "eq": "blue"}]),
            r"address colour is compared with eq",
        ),
        (
            lambda r: _first(r).update(evidence=["REL.REP.portfolio", "phone"]),
            r"unknown evidence field\(s\) \['phone'\]",
        ),
        (lambda r: _first(r).update(extra=1), r"unknown field\(s\) \['extra'\]"),
        (lambda r: r["address_scoring"].update(colours={"red": 10, "yellow": 20}), r"address_scoring.*yellow ≤ red"),
        (
            lambda r: r["address_scoring"]["components"][0]["condition"].append({"indicator": "SOC.X.y", "min": 1}),
            r"address_scoring component #1 \(complaints\).*unknown indicator 'SOC.X.y'",
        ),
    ],
)
def test_catalog_errors_name_the_entry_and_the_field(tmp_path, edit, message):
    with pytest.raises(WarningCatalogError, match=message):
        _load_edited(tmp_path, edit)


# -- the monthly files ------------------------------------------------------------------------------------------
def _seal(root, month: str, world) -> None:
    """A hand-made record store: the ledger names each month's folder with its classes and features."""
    features, classes, *_ = world
    folder = root / "months" / month / "r1"
    folder.mkdir(parents=True)
    classes.to_parquet(folder / "classes.parquet")
    features.to_parquet(folder / "features.parquet")
    entry = {"month": month, "revision": 1, "path": f"months/{month}/r1", "manifest_sha256": f"sha-{month}"}
    with open(root / "ledger.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")


@pytest.fixture
def store(tmp_path):
    world = _world({"address": "red", "features": {"REL.REP.portfolio": 9}})
    records = tmp_path / "records"
    records.mkdir()
    _seal(records, "2026-09", world)
    validated = tmp_path / "validated"
    validated.mkdir()
    world[4].to_parquet(validated / "entities.parquet")
    p = {
        "classify": {"records_dir": str(records)},
        "features": {"catalog": str(ROOT / "indicators.yaml"), "validated_dir": str(validated)},
        "warnings": {"catalog": str(ROOT / "warnings.yaml"), "out_dir": str(tmp_path / "warnings")},
    }
    return p, world


def test_one_sealed_month_gives_a_file_without_history_warnings(store):
    p, _ = store
    (only,) = run_warnings(p, "2026-09")
    assert only["status"] == "written" and only["history"]["previous_month"] is None
    fired = pd.read_parquet(f"{p['warnings']['out_dir']}/2026-09.parquet")
    assert list(fired.columns[:5]) == ["uscc", "month", "code", "name_zh", "severity"]
    assert "EW.REL.one_person_many" in set(fired["code"]) and "EW.ADDR.cluster_red" in set(fired["code"])
    assert not fired["code"].isin(["EW.CLS.two_steps_worse", "EW.SCORE.jump", "EW.MOD.score_trend_3m"]).any()
    assert fired.equals(fired.sort_values(["uscc", "code"], ignore_index=True))


def test_files_are_identical_on_rerun_and_rewritten_only_when_inputs_change(store, tmp_path):
    p, world = store
    out = tmp_path / "warnings"
    compute_month(p, "2026-09")
    first = {f.name: sha256_file(f) for f in sorted(out.rglob("*")) if f.is_file()}
    assert compute_month(p, "2026-09")["status"] == "unchanged"
    for f in out.rglob("*.parquet"):
        f.unlink()
    (out / "2026-09.json").unlink()
    assert compute_month(p, "2026-09")["status"] == "written"
    assert {f.name: sha256_file(f) for f in sorted(out.rglob("*")) if f.is_file()} == first
    # a later month sealed: the earlier month's inputs did not change, the new one is written with its history
    _seal(tmp_path / "records", "2026-10", world)
    statuses = {m["month"]: m["status"] for m in run_warnings(p, "2026-10")}
    assert statuses == {"2026-09": "unchanged", "2026-10": "written"}


def test_an_unsealed_month_is_refused_by_name(store):
    p, _ = store
    with pytest.raises(ValueError, match=r"2026-10 is not sealed .*sealed: 2026-09"):
        run_warnings(p, "2026-10")


# -- measurement ----------------------------------------------------------------------------------------------
def test_measure_on_a_hand_computed_fixture():
    # 10 entity-months; observed outcome for 2 (base 0.2); truth known for 8, violating 4 (base 0.5)
    population = pd.DataFrame(
        {
            "uscc": list("abcdefghij"),
            "month": "2026-01",
            "observed": [1, 1, 0, 0, 0, 0, 0, 0, 0, 0],
            "truth": [1, 1, 1, 0, 1, 0, 0, 0, np.nan, np.nan],
        }
    )
    code = CATALOG.codes[0]
    fired = pd.DataFrame({"uscc": list("abcd"), "month": "2026-01", "code": code})
    table = measure(fired, population, CATALOG, weak_lift=1.5).set_index("code")
    row = table.loc[code]
    assert (row["fired"], row["entities"]) == (4, 4)
    assert row["precision"] == pytest.approx(0.5) and row["base_rate"] == pytest.approx(0.2)
    assert row["lift"] == pytest.approx(2.5) and not row["weak"]
    assert row["truth_precision"] == pytest.approx(0.75) and row["truth_base_rate"] == pytest.approx(0.5)
    assert row["truth_lift"] == pytest.approx(1.5)
    never = table.loc[CATALOG.codes[1]]
    assert never["fired"] == 0 and math.isnan(never["lift"]) and never["weak"]


def test_measure_refuses_warnings_outside_the_population():
    population = pd.DataFrame({"uscc": ["a"], "month": "2026-01", "observed": [0], "truth": [0.0]})
    fired = pd.DataFrame({"uscc": ["z"], "month": "2026-01", "code": CATALOG.codes[0]})
    with pytest.raises(ValueError, match="outside the population"):
        measure(fired, population, CATALOG, 1.5)


def test_only_months_with_a_whole_observed_window_are_measured():
    months = ["2026-03", "2026-04", "2026-05"]
    assert observable_months(months, 6, pd.Timestamp("2026-10-31")) == ["2026-03", "2026-04"]
    assert observable_months(["2026-10"], 6, pd.Timestamp("2026-10-31")) == []


# -- plans --------------------------------------------------------------------------------------------------
def test_a_directed_draw_by_warning_code_draws_only_among_entities_with_it():
    e = population(5_000)
    flagged = np.zeros(len(e))
    flagged[::25] = 1
    e["EW.ADDR.cluster_red"] = flagged
    spec = {"id": "ew_red", "name_zh": "红色", "item": "GEN", "ratio": 0.5, "warning": "EW.ADDR.cluster_red"}
    plan = make_plan(inputs(e), plan_params(directed=[spec]), "SSJ-440800-2026-11")
    f = plan.frame[plan.frame["item_id"] == "GEN"]
    with_warning = e.loc[e["EW.ADDR.cluster_red"] == 1, "uscc"]
    has = f["uscc"].isin(with_warning)
    assert (f.loc[~has, "p_directed"] == 0).all() and (f.loc[has, "p_directed"] > 0).all()
    directed = plan.checks.loc[plan.checks["directed_by"] == "ew_red", "uscc"]
    assert len(directed) > 0 and directed.isin(with_warning).all()
    with pytest.raises(PlanError, match=r"warning 'EW\.CMP\.surge' is not among the loaded warning flags"):
        make_plan(inputs(e), plan_params(directed=[{**spec, "warning": "EW.CMP.surge"}]), "SSJ-440800-2026-11")


def test_warning_flags_read_the_classes_month_file_and_refuse_a_missing_one(tmp_path):
    p = {
        "plan": {"directed": [{"id": "x", "warning": "EW.ADDR.cluster_red"}]},
        "warnings": {"out_dir": str(tmp_path)},
    }
    uscc = pd.Series(["a", "b", "c"])
    with pytest.raises(PlanError, match=r"2026-10.parquet: missing .*riskclass warnings --month 2026-10"):
        warning_flags(p, "2026-10", uscc)
    pd.DataFrame({"uscc": ["b", "c"], "code": ["EW.ADDR.cluster_red", "EW.CMP.surge"]}).to_parquet(
        tmp_path / "2026-10.parquet"
    )
    (tmp_path / "2026-10.json").write_text(json.dumps({"counts": dict.fromkeys(CATALOG.codes, 0)}), encoding="utf-8")
    flags, sources = warning_flags(p, "2026-10", uscc)
    assert flags["EW.ADDR.cluster_red"].tolist() == [0.0, 1.0, 0.0] and len(sources) == 1
    p["plan"]["directed"][0]["warning"] = "EW.NOPE.code"
    with pytest.raises(PlanError, match=r"warning code\(s\) \['EW.NOPE.code'\]"):
        warning_flags(p, "2026-10", uscc)
