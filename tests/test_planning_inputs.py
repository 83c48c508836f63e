"""The 一单两库 inputs in the data contract: item list, inspector directory, declared conflicts."""

from __future__ import annotations

import pandas as pd

from riskclass import contract
from riskclass.ingest import ingest

from conftest import ENT_A, IND_B, valid_rows, write_snapshot

ITEMS = [
    dict(
        item_id="GEN-01",
        item_name="企业公示信息检查",
        item_type="一般检查事项",
        department="credit",
        qualification="general",
        entity_types="enterprise；农民专业合作社",
        industry_sections="",
        domain="",
        basis="",
        active="是",
    ),
    dict(
        item_id="KEY-01",
        item_name="食品安全检查",
        item_type="key",
        department="food",
        qualification="food",
        entity_types="",
        industry_sections="F，住宿和餐饮业；农、林、牧、渔业",
        domain="食品",
        basis="《食品安全法》",
        active="true",
    ),
    dict(
        item_id="BAD-01",
        item_name="坏事项",
        item_type="general",
        department="credit",
        qualification="general",
        entity_types="enterprise;robot",
        industry_sections="",
        domain="",
        basis="",
        active="true",
    ),
]
INSPECTORS = [
    dict(
        inspector_id="4408000001",
        department="credit",
        qualifications="general",
        available_from="",
        available_to="",
        capacity="40",
        active="true",
    ),
    dict(
        inspector_id="4408000002",
        department="food",
        qualifications="食品安全执法;general",
        available_from="2026-12-01",
        available_to="2027-03-01",
        capacity="30",
        active="true",
    ),
    dict(
        inspector_id="4408000003",
        department="food",
        qualifications="food",
        available_from="2027-01-01",
        available_to="2026-01-01",
        capacity="0",
        active="true",
    ),
]
CONFLICTS = [
    dict(conflict_id="HB1", inspector_id="4408000001", uscc=ENT_A, reason="kinship", declared_date="2026-03-01"),
    dict(conflict_id="HB2", inspector_id="4408000003", uscc=IND_B, reason="business", declared_date="2026-03-01"),
    dict(conflict_id="HB3", inspector_id="4408009999", uscc=IND_B, reason="other", declared_date="2026-03-01"),
]


def test_planning_tables_are_optional_in_a_snapshot(tmp_path):
    report = ingest(write_snapshot(tmp_path / "raw"), tmp_path / "out", show_progress=False)
    # the planning tables, and the professional domains' registers and checks (docs/domains.md)
    professional = [t.name for t in contract.PROFESSIONAL_TABLES]
    assert report["not_supplied"] == sorted(["check_items", "inspector_conflicts", "inspectors", *professional])
    assert not (tmp_path / "out" / "check_items.parquet").exists()


def test_planning_tables_are_validated_with_reasons_and_reconciled(tmp_path):
    rows = {**valid_rows(), "check_items": ITEMS, "inspectors": INSPECTORS, "inspector_conflicts": CONFLICTS}
    report = ingest(write_snapshot(tmp_path / "raw", rows), tmp_path / "out", show_progress=False)
    assert report["not_supplied"] == sorted(t.name for t in contract.PROFESSIONAL_TABLES)
    for name in ("check_items", "inspectors", "inspector_conflicts"):
        t = report["tables"][name]
        assert t["read"] == t["accepted"] + t["quarantined"]
    items = pd.read_parquet(tmp_path / "out" / "check_items.parquet").set_index("item_id")
    # code sets accept labels and any separator, and are stored as sorted codes
    assert items.loc["GEN-01", "entity_types"] == "cooperative;enterprise"
    assert items.loc["KEY-01", "industry_sections"] == "A;F;H" and items.loc["KEY-01", "domain"] == "food"
    assert items.loc["GEN-01", "item_type"] == "general"
    q = pd.read_parquet(tmp_path / "out" / "quarantine.parquet")
    by_table = q.groupby("table")["rule"].apply(set).to_dict()
    assert by_table["check_items"] == {"unknown_code"}  # "robot" is no entity type
    # inspector 3: availability window reversed and a capacity below 1
    assert by_table["inspectors"] == {"end_before_start", "out_of_range"}
    # a conflict of an unknown (or quarantined) inspector cannot be checked, so it is quarantined, not lost
    assert by_table["inspector_conflicts"] == {"unknown_reference"}
    assert set(q.loc[q["table"] == "inspector_conflicts", "value"]) == {"4408000003", "4408009999"}
    officers = pd.read_parquet(tmp_path / "out" / "inspectors.parquet").set_index("inspector_id")
    assert officers.loc["4408000002", "qualifications"] == "food;general"


def test_a_quarantined_conflict_declaration_still_binds(tmp_path):
    from riskclass.plan.inputs import quarantined_conflicts

    broken = dict(CONFLICTS[0], conflict_id="HB9", uscc=IND_B, reason="不想查")  # unknown reason code
    rows = {**valid_rows(), "check_items": ITEMS, "inspectors": INSPECTORS, "inspector_conflicts": [*CONFLICTS, broken]}
    ingest(write_snapshot(tmp_path / "raw", rows), tmp_path / "out", show_progress=False)
    accepted = pd.read_parquet(tmp_path / "out" / "inspector_conflicts.parquet")
    assert "HB9" not in set(accepted["conflict_id"])
    pairs = set(map(tuple, quarantined_conflicts(tmp_path / "out").to_numpy()))
    assert ("4408000001", IND_B) in pairs
