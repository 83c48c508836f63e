"""The professional domains' data: synthetic registers and checks on their own random stream (the general tables
stay byte-identical), their truth, and ingest of the new contract tables."""

from __future__ import annotations

import copy

import pandas as pd

from riskclass import contract
from riskclass.ingest import ingest
from riskclass.io import sha256_file
from riskclass.synth import generate

from conftest import ENT_A, IND_B, valid_rows, write_snapshot

PROFESSIONAL = {t.name for t in contract.PROFESSIONAL_TABLES}


def test_the_general_tables_do_not_depend_on_the_professional_domains(tmp_path, params):
    """Changing every professional parameter changes the professional tables only: the general raw files, the
    planning tables and the general truth keep their bytes, and the corruption log its general rows."""
    kwargs = dict(entities=800, months=14, seed=11, city=params["city"], show_progress=False)
    sp = params["synth"]
    other = copy.deepcopy(sp)
    other["professional"].update(food_sampling_rate=0.2, food_inspection_rate=0.3, equipment_per_user=4.0)
    other["professional"]["check_risk"]["food"]["intercept"] = -1.0
    generate(tmp_path / "a", synth_params=sp, **kwargs)
    generate(tmp_path / "b", synth_params=other, **kwargs)
    general = [t.name for t in contract.ALL_TABLES if t.name not in PROFESSIONAL]
    for name in general:
        a, b = (sha256_file(tmp_path / x / "raw" / f"{name}.csv") for x in "ab")
        assert a == b, name
    for name in ("entities.parquet", "entity_month.parquet"):
        assert sha256_file(tmp_path / "a" / "truth" / name) == sha256_file(tmp_path / "b" / "truth" / name)
    logs = [pd.read_csv(tmp_path / x / "truth" / "corruptions.csv", dtype=str) for x in "ab"]
    kept = [log[~log["table"].isin(PROFESSIONAL)].reset_index(drop=True) for log in logs]
    pd.testing.assert_frame_equal(kept[0], kept[1])
    for name in ("food_sampling", "special_equipment", "domain_month"):
        folder = "truth" if name == "domain_month" else "raw"
        ext = "parquet" if name == "domain_month" else "csv"
        a, b = (sha256_file(tmp_path / x / folder / f"{name}.{ext}") for x in "ab")
        assert a != b, name


def test_professional_tables_follow_the_licences_and_the_domain_truth(small_city, small_city_ingested):
    validated, report = small_city_ingested
    for name in PROFESSIONAL:
        assert report["tables"][name]["accepted"] > 0, name
    licences = pd.read_parquet(validated / "licences.parquet")
    food = pd.read_parquet(validated / "food_licences.parquet")
    # a food licence is a food licence of the general licence table, with its dates
    both = food.merge(licences, on="licence_id", suffixes=("", "_general"))
    assert len(both) > 0.97 * len(food)  # the rest: one of the two rows was corrupted and quarantined
    assert both["licence_type"].isin(["food_production", "food_business"]).all()
    assert (both["issue_date"] == both["issue_date_general"]).mean() > 0.99
    # special foods are at level Ⅲ or Ⅳ, and every level occurs
    assert food.loc[food["special_food"], "static_risk_level"].isin(["3", "4"]).all()
    assert set(food["static_risk_level"]) == {"1", "2", "3", "4"}
    # checks fail more often where the domain's true risk is high (the truth the graders are measured against)
    truth = pd.read_parquet(small_city / "truth" / "domain_month.parquet")
    insp = pd.read_parquet(validated / "food_inspections.parquet")
    insp["month"] = insp["inspection_date"].dt.strftime("%Y-%m")
    joined = insp.merge(truth[truth["domain"] == "food"], on=["uscc", "month"], how="inner")
    assert len(joined) > 0.95 * len(insp)
    bad = joined["result"] == "non_compliant"
    assert bad[joined["domain_violating"]].mean() > 3 * bad[~joined["domain_violating"]].mean()
    assert abs(bad.mean() - joined["true_risk"].mean()) < 0.03
    # periodic inspections: units overdue exist but are a minority; public venues only in F, H, P, Q, R
    units = pd.read_parquet(validated / "special_equipment.parquet")
    entities = pd.read_parquet(validated / "entities.parquet").set_index("uscc")
    sections = entities.loc[units.loc[units["public_venue"], "uscc"], "industry_code"].str[0]
    assert set(sections) <= set("FHPQR")
    assert set(units["equipment_type"]) >= {"elevator", "boiler", "pressure_vessel"}


def _professional_rows() -> dict[str, list[dict]]:
    rows = valid_rows()
    rows["food_licences"] = [
        dict(
            licence_id="L1",
            uscc=IND_B,
            business_kind="餐饮服务",  # a label is accepted for its code
            food_category="meals",
            special_food="否",
            static_risk_level="Ⅲ级",
            issue_date="2019-05-10",
            expiry_date="2029-05-09",
            revoked_date="",
        )
    ]
    rows["food_sampling"] = [
        dict(sample_id="CJ1", uscc=IND_B, sample_date="2026-03-02", food_category="meals", result="不合格")
    ]
    rows["drug_retail_licences"] = [
        dict(licence_id="Y1", uscc=ENT_A, scope="class_2", issue_date="2020-01-01", expiry_date="", revoked_date="")
    ]
    rows["pharmacy_inspections"] = [
        dict(inspection_id="YP1", uscc=ENT_A, inspection_date="2026-02-02", result="基本符合", serious_defects=0)
    ]
    rows["special_equipment"] = [
        dict(
            equipment_id="T1",
            uscc=ENT_A,
            equipment_type="电梯",
            manufacture_year=2015,
            register_date="2016-01-04",
            public_venue="是",
            retired_date="",
        )
    ]
    rows["equipment_inspections"] = [
        dict(inspection_id="J1", equipment_id="T1", uscc=ENT_A, inspection_date="2026-01-05", result="pass"),
        dict(inspection_id="J2", equipment_id="T9", uscc=ENT_A, inspection_date="2026-01-05", result="pass"),
    ]
    return rows


def test_ingest_validates_the_professional_tables_like_the_others(tmp_path):
    rows = _professional_rows()
    rows["drug_retail_licences"].append(dict(rows["drug_retail_licences"][0], licence_id="Y2", scope="class_4"))
    rows["food_sampling"].append(dict(rows["food_sampling"][0], sample_id="CJ2", uscc="91440802123456780X"))
    report = ingest(write_snapshot(tmp_path / "raw", rows), tmp_path / "out", show_progress=False)
    quarantine = pd.read_parquet(tmp_path / "out" / "quarantine.parquet")
    found = {(r.table, r.rule) for r in quarantine.itertuples()}
    assert found == {
        ("drug_retail_licences", "unknown_code"),  # no such scope
        ("food_sampling", "uscc_check"),  # a wrong check character
        ("equipment_inspections", "unknown_reference"),  # T9 is not in the register
    }
    food = pd.read_parquet(tmp_path / "out" / "food_licences.parquet")
    assert food[["business_kind", "static_risk_level", "special_food"]].to_dict("records") == [
        {"business_kind": "catering", "static_risk_level": "3", "special_food": False}
    ]
    units = pd.read_parquet(tmp_path / "out" / "special_equipment.parquet")
    assert units["equipment_type"].tolist() == ["elevator"] and units["public_venue"].tolist() == [True]
    assert report["totals"]["reconciled"]
