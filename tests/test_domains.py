"""Domain graders (通用+专业): points tables, points and bands on hand-computed cases, the serious-violation
override, the always-key special-equipment users, drug scope groups, point-in-time inputs."""

from __future__ import annotations

import pandas as pd
import pytest

from riskclass.domains import build_inputs, grade, shares
from riskclass.domains.base import PointsTableError, band, parse_table, points_table, raise_grade
from riskclass.io import write_parquet

FOOD_ROW = dict(
    unqualified_samples=0.0,
    non_compliant_inspections=0.0,
    basically_compliant_inspections=0.0,
    food_penalties=0.0,
    substantiated_complaints=0.0,
    serious_listed=0.0,
)


def _food(**rows) -> pd.DataFrame:
    return pd.DataFrame([{"uscc": u, "domain": "food", "group": "1", **FOOD_ROW, **r} for u, r in rows.items()])


def _classes(**c) -> pd.DataFrame:
    return pd.DataFrame({"uscc": list(c), "class": list(c.values())})


def test_the_packaged_points_tables_load_and_food_adds_up_to_40_40_20():
    food = points_table("food")
    assert {k: c.max for k, c in food.components.items()} == {"static": 40, "dynamic": 40, "credit": 20}
    assert food.indicator("general_class").points == {"A": 0, "B": 5, "C": 10, "D": 20}
    se = points_table("special_equipment")
    assert len(se.indicators) == 16 and sum(c.max for c in se.components.values()) == 100
    # no indicator can give more than its component allows to show up as more than 100 in total
    assert sum(i.most for i in se.indicators) == 100


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda t: t["indicators"][0].update(component="nowhere"), "unknown component 'nowhere'"),
        (lambda t: t.update(bands={"A": 45, "B": 30, "C": 60}), "increasing upper bounds"),
        (lambda t: t["components"]["static"].update(max=50), "add up to 100 points, they add up to 110"),
        (lambda t: t["indicators"][1].update(kind="flag", points=None), "needs a number of points"),
        (lambda t: t["min_checks_per_year"].pop("A"), "all four grades"),
        (lambda t: t["indicators"][1].update(kind="threshold", steps=[[2, 1]]), "only a count indicator takes a cap"),
    ],
)
def test_a_broken_points_table_is_refused_naming_the_file_and_the_problem(edit, message):
    spec = points_table("food").model_dump(mode="json")
    edit(spec)
    with pytest.raises(PointsTableError, match=r"food\.yaml") as err:
        parse_table(spec, "food.yaml")
    assert message in str(err.value)


def test_bands_are_inclusive_upper_bounds_and_grades_rise_capped_at_d():
    food = points_table("food")
    assert band(food, [0, 30, 30.5, 45, 46, 60, 61, 100]).tolist() == list("AABBCCDD")
    assert raise_grade(pd.Series(list("ABCD")).to_numpy(), [1, 2, 2, 0]).tolist() == list("BDDD")


def test_food_points_bands_and_the_serious_violation_override():
    inputs = _food(
        # Ⅰ 10 + class A 0 = 10 → A
        F1={"group": "1"},
        # Ⅳ 40 + 2 unqualified 20 + 1 penalty 10 + class B 5 = 75 → D
        F2={"group": "4", "unqualified_samples": 2.0, "food_penalties": 1.0},
        # Ⅲ 30 + 1 non-compliant 10 + 3 basically compliant (6, capped) + class C 10 = 56 → C
        F3={"group": "3", "non_compliant_inspections": 1.0, "basically_compliant_inspections": 3.0},
        # Ⅱ 20 + dynamic capped at 40 (20 + 20 + 20 + 6) + class A 0 = 60 → C (60 is C's upper bound)
        F4={
            "group": "2",
            "unqualified_samples": 5.0,
            "non_compliant_inspections": 2.0,
            "food_penalties": 3.0,
            "substantiated_complaints": 9.0,
        },
        # Ⅰ 10 + class A = 10 → A by points, but on the serious-violation list → D
        F5={"serious_listed": 1.0},
    )
    out = grade(inputs, _classes(F1="A", F2="B", F3="C", F4="A", F5="A"), "2026-09").set_index("uscc")
    assert out["points"].to_dict() == {"F1": 10, "F2": 75, "F3": 56, "F4": 60, "F5": 10}
    assert out["points_grade"].to_dict() == {"F1": "A", "F2": "D", "F3": "C", "F4": "C", "F5": "A"}
    assert out["grade"].to_dict() == {"F1": "A", "F2": "D", "F3": "C", "F4": "C", "F5": "D"}
    assert out.loc["F5", "override"] == "列入严重违法失信名单" and out.loc["F1", "override"] == ""
    assert (
        out.loc["F2", "reasons"]
        == "静态风险等级（4）+40；抽检不合格批次（2）+20；食品安全行政处罚（1）+10；通用信用风险分类（B）+5"
    )
    assert (out["month"] == "2026-09").all()


def test_an_entity_without_a_general_class_is_not_graded():
    out = grade(_food(F1={}, F2={}), _classes(F1="B"), "2026-09")
    assert out["uscc"].tolist() == ["F1"]


DRUG_ROW = dict(
    non_compliant_inspections=0.0,
    serious_defects=0.0,
    drug_penalties=0.0,
    substantiated_complaints=0.0,
    serious_listed=0.0,
)


def test_drug_retail_is_grouped_by_scope_then_graded_with_the_general_class():
    rows = {
        "D1": ("class_1", "C", {}),  # 一类 with C → B
        "D2": ("class_3", "A", {}),  # 三类 with A → B
        "D3": ("class_2", "B", {"non_compliant_inspections": 1.0}),  # B, 10 dynamic points → one up: C
        "D4": ("class_2", "B", {"non_compliant_inspections": 1.0, "serious_defects": 2.0}),  # 20 points → D
        "D5": ("class_1", "A", {"serious_listed": 1.0}),  # A by its group, serious list → D
        "D6": ("class_1", "D", {"drug_penalties": 3.0}),  # C, dynamic 20 (capped) → two up, capped at D
    }
    inputs = pd.DataFrame(
        [{"uscc": u, "domain": "drug_retail", "group": g, **DRUG_ROW, **extra} for u, (g, _, extra) in rows.items()]
    )
    out = grade(inputs, _classes(**{u: c for u, (_, c, _) in rows.items()}), "2026-09").set_index("uscc")
    assert out["points"].to_dict() == {"D1": 0, "D2": 0, "D3": 10, "D4": 20, "D5": 0, "D6": 20}
    assert out["grade"].to_dict() == {"D1": "B", "D2": "B", "D3": "C", "D4": "D", "D5": "D", "D6": "D"}
    assert out.loc["D3", "reasons"] == "经营范围2类、通用信用B类→B；监督检查结果不符合（1）+10"


SE_ROW = dict(
    units=1.0,
    oldest_age_years=2.0,
    high_risk_types=0.0,
    overdue_units=0.0,
    overdue_share=0.0,
    failed_inspections=0.0,
    fixed_inspections=0.0,
    abnormal_listed=0.0,
    annual_report_missing=0.0,
    units_per_employee_high=0.0,
    public_venue=0.0,
    young_entity=0.0,
    equipment_penalties=0.0,
    accidents=0.0,
    accidents_key_window=0.0,
    substantiated_complaints=0.0,
    serious_listed=0.0,
)


def test_special_equipment_points_bands_and_always_key_users():
    rows = {
        "S1": ("A", {}),  # nothing: 0 → A, not key
        # 12 units 6 + age 16 6 + boiler 6 + 2 overdue 10 + share ≥ 50 % 5 + 1 failed 4 + class D 8 + accident 10
        # = 55 → D; the accident makes it key
        "S2": (
            "D",
            {
                "units": 12.0,
                "oldest_age_years": 16.0,
                "high_risk_types": 1.0,
                "overdue_units": 2.0,
                "overdue_share": 0.5,
                "failed_inspections": 1.0,
                "accidents": 1.0,
                "accidents_key_window": 1.0,
            },
        ),
        "S3": ("A", {"public_venue": 1.0}),  # 8 → A, but a public-gathering venue: key
        "S4": ("B", {"substantiated_complaints": 3.0, "abnormal_listed": 1.0}),  # 6 + 4 + 2 = 12 → A; 3 complaints: key
        "S5": ("B", {"substantiated_complaints": 2.0, "overdue_units": 1.0, "overdue_share": 0.25}),  # 3+10+2 = 15 → A
        # young 3 + report missing 3 + units > staff 4 + 2 penalties 10 + 2 fixed 3 (cap) + class C 4 = 27 → B
        "S6": (
            "C",
            {
                "young_entity": 1.0,
                "annual_report_missing": 1.0,
                "units_per_employee_high": 1.0,
                "equipment_penalties": 2.0,
                "fixed_inspections": 2.0,
            },
        ),
    }
    inputs = pd.DataFrame(
        [{"uscc": u, "domain": "special_equipment", "group": "", **SE_ROW, **extra} for u, (_, extra) in rows.items()]
    )
    out = grade(inputs, _classes(**{u: c for u, (c, _) in rows.items()}), "2026-09").set_index("uscc")
    assert out["points"].to_dict() == {"S1": 0, "S2": 55, "S3": 8, "S4": 12, "S5": 15, "S6": 27}
    assert out["grade"].to_dict() == {"S1": "A", "S2": "D", "S3": "A", "S4": "A", "S5": "A", "S6": "B"}
    assert out["always_key"].to_dict() == {"S1": False, "S2": True, "S3": True, "S4": True, "S5": False, "S6": False}
    assert out.loc["S2", "key_reasons"] == "近24个月发生事故"
    assert out.loc["S4", "key_reasons"] == "投诉举报属实≥3次"
    summary = shares(out.reset_index().assign(domain="special_equipment"))
    assert summary["special_equipment"]["counts"] == {"A": 4, "B": 1, "C": 0, "D": 1}
    assert summary["special_equipment"]["always_key"] == 3


def test_inputs_count_only_records_known_by_the_month_end(tmp_path):
    """A sample after the month end, a licence issued after it and an inspection older than the window do not
    count; an elevator last inspected 13 months before the month end is overdue (interval 12 months)."""
    d = pd.Timestamp
    write_parquet(
        pd.DataFrame(
            {
                "licence_id": ["L1", "L2"],
                "uscc": ["E1", "E2"],
                "business_kind": ["sales", "sales"],
                "food_category": ["prepackaged", "bulk"],
                "special_food": [False, False],
                "static_risk_level": ["1", "2"],
                "issue_date": [d("2020-01-01"), d("2026-10-01")],
                "expiry_date": [d("2030-01-01"), d("2031-01-01")],
                "revoked_date": [pd.NaT, pd.NaT],
            }
        ),
        tmp_path / "food_licences.parquet",
    )
    write_parquet(
        pd.DataFrame(
            {
                "sample_id": ["S1", "S2", "S3"],
                "uscc": ["E1"] * 3,
                "sample_date": [d("2026-09-30"), d("2026-10-01"), d("2025-09-30")],
                "food_category": ["prepackaged"] * 3,
                "result": ["unqualified"] * 3,
            }
        ),
        tmp_path / "food_sampling.parquet",
    )
    write_parquet(
        pd.DataFrame(
            {
                "equipment_id": ["T1", "T2"],
                "uscc": ["E1", "E1"],
                "equipment_type": ["elevator", "pressure_vessel"],
                "manufacture_year": [2010, 2020],
                "register_date": [d("2012-01-01"), d("2021-01-01")],
                "public_venue": [True, False],
                "retired_date": [pd.NaT, pd.NaT],
            }
        ),
        tmp_path / "special_equipment.parquet",
    )
    write_parquet(
        pd.DataFrame(
            {
                "inspection_id": ["J1", "J2"],
                "equipment_id": ["T1", "T2"],
                "uscc": ["E1", "E1"],
                "inspection_date": [d("2025-08-15"), d("2024-01-10")],
                "result": ["pass", "pass"],
            }
        ),
        tmp_path / "equipment_inspections.parquet",
    )
    features = pd.DataFrame(
        {
            "uscc": ["E1", "E2"],
            "SUP.SER.listed_now": [0.0, 1.0],
            "SUP.ABN.listed_now": [0.0, 0.0],
            "DYN.AR.latest_filed": [1.0, 1.0],
            "DYN.AR.not_yet_due": [0.0, 0.0],
            "BAS.AGE.years": [10.0, 1.0],
            "BAS.SCALE.employees": [20.0, 3.0],
        }
    )
    inputs = build_inputs(tmp_path, "2026-09", features).set_index(["domain", "uscc"])
    assert list(inputs.index) == [("food", "E1"), ("special_equipment", "E1")]  # E2's licence came later
    assert inputs.loc[("food", "E1"), "unqualified_samples"] == 1  # not the October one, not the 2025-09 one
    se = inputs.loc[("special_equipment", "E1")]
    # the elevator fell due 2026-08-01 (12 months after August 2025); the vessel's 36 months run to 2027-01
    assert (se["units"], se["overdue_units"], se["overdue_share"], se["public_venue"]) == (2, 1, 0.5, 1)
    assert se["oldest_age_years"] == 16 and se["high_risk_types"] == 0
