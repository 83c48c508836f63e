"""Every validation rule with a failing example, on a tiny hand-made snapshot."""

from __future__ import annotations

import pandas as pd
import pytest

from riskclass import contract, uscc
from riskclass.ingest import ingest
from riskclass.ingest.rules import RULES, Findings, check_column, parse_dates, pseudonymise_person_columns
from riskclass.personal import Pseudonymiser, redact_quarantine, redact_value

from conftest import ENT_A, IND_B, PERSON, valid_rows, write_snapshot

ID_NUMBER = "440802199001011238"  # a valid resident identity number (GB 11643 check digit, birth date)


def run(tmp_path, rows):
    raw = write_snapshot(tmp_path / "raw", rows)
    report = ingest(raw, tmp_path / "out", show_progress=False)
    quarantine = pd.read_parquet(tmp_path / "out" / "quarantine.parquet")
    return report, quarantine


def test_valid_snapshot_is_fully_accepted(tmp_path):
    report, quarantine = run(tmp_path, valid_rows())
    assert report["totals"]["quarantined"] == 0, quarantine.to_dict("records")
    assert report["totals"]["accepted"] == report["totals"]["read"] == 18
    entities = pd.read_parquet(tmp_path / "out" / "entities.parquet")
    # labels and codes normalise to codes; dates in three styles parse
    assert entities["entity_type"].tolist() == ["enterprise", "individual", "cooperative"]
    assert entities["established_date"].dt.strftime("%Y-%m-%d").tolist() == ["2015-03-02", "2019-05-06", "2012-07-01"]
    assert entities["food_licensed"].tolist() == [False, True, False]


# (table, row index, column, bad value, expected rule) — each row breaks exactly one rule
CASES = [
    ("entities", 0, "name", "", "required"),
    ("entities", 0, "uscc", "9144080212345678", "uscc_format"),
    ("entities", 0, "uscc", "91440802123456789f", "uscc_format"),
    ("entities", 0, "uscc", "91440802123456789G", "uscc_check"),
    ("entities", 1, "entity_type", "enterprise", "uscc_type_mismatch"),
    ("entities", 0, "org_form", "farmers_cooperative", "org_form_mismatch"),
    ("entities", 0, "status", "停业", "unknown_code"),
    ("entities", 0, "industry_code", "F6220", "unknown_industry"),
    ("entities", 0, "industry_code", "X1234", "unknown_industry"),
    ("entities", 0, "division_code", "110101", "unknown_division"),
    ("entities", 0, "established_date", "2023-02-30", "invalid_date"),
    ("entities", 0, "established_date", "2027-01-01", "future_date"),
    ("entities", 2, "status_date", "2010-01-01", "end_before_start"),
    ("entities", 0, "registered_capital", "abc", "not_a_number"),
    ("entities", 0, "employees", "3.5", "not_an_integer"),
    ("entities", 0, "is_high_tech", "maybe", "not_a_boolean"),
    ("entities", 0, "registered_capital", "-100", "negative_amount"),
    ("entities", 2, "status_date", "", "conditionally_required"),
    ("roles", 0, "person_key", "张三", "pseudonym_format"),
    ("roles", 0, "person_key", "440802199001011234", "pseudonym_format"),
    ("roles", 1, "share", "1.4", "out_of_range"),
    ("roles", 0, "person_key", "", "conditionally_required"),
    ("changes", 0, "uscc", "91110000600037341L", "unknown_entity"),
    ("penalties", 0, "fine_amount", "-2", "negative_amount"),
    ("penalties", 0, "decision_date", "2025年13月1日", "invalid_date"),
    ("inspections", 0, "result_code", "Z", "unknown_code"),
    ("inspections", 0, "inclusion_prob", "0", "out_of_range"),
    ("inspections", 0, "inclusion_prob", "", "conditionally_required"),
    ("licences", 0, "revoked_date", "2018-01-01", "end_before_start"),
    ("abnormal_listings", 0, "removal_reason", "", "conditionally_required"),
    ("abnormal_listings", 0, "reason_code", "5", "unknown_code"),
    ("complaints", 0, "closed_date", "2025-07-01", "end_before_start"),
    # GB 32100 as the standard defines it
    ("entities", 0, "uscc", "X1440802MA4W12345F", "uscc_department"),
    ("entities", 0, "uscc", "94440802MA4W12345T", "uscc_department"),
    ("entities", 0, "uscc", "000000000000000000", "uscc_placeholder"),
    ("entities", 0, "uscc", "无", "uscc_placeholder"),
    ("penalties", 0, "authority_uscc", "123456789012345678", "uscc_placeholder"),
    ("entities", 0, "uscc", "9.14401E+17", "uscc_spreadsheet_mangled"),
    ("roles", 1, "holder_uscc", "9.111E+17", "uscc_spreadsheet_mangled"),
    ("entities", 0, "uscc", ID_NUMBER, "resident_id_not_uscc"),
    ("roles", 1, "holder_uscc", ID_NUMBER, "resident_id_not_uscc"),
    ("penalties", 0, "authority_uscc", ID_NUMBER, "resident_id_not_uscc"),
]


@pytest.mark.parametrize(("table", "index", "column", "value", "rule"), CASES)
def test_rule_quarantines_the_row(tmp_path, table, index, column, value, rule):
    rows = valid_rows()
    rows[table][index][column] = value
    report, quarantine = run(tmp_path, rows)
    hits = quarantine[(quarantine["table"] == table) & (quarantine["rule"] == rule)]
    assert len(hits) >= 1, quarantine[["table", "rule", "column"]].to_dict("records")
    hit = hits.iloc[0]
    assert hit["file"] == f"{table}.csv"
    assert hit["row"] == index + 2  # header is line 1
    if hit["column"] == column:  # cross-column rules flag the other column of the pair
        # the clear value, or its redacted form once ingest redacts the quarantine (personal.redact_quarantine)
        assert hit["value"] in (value, redact_value(contract.table(table), column, value))
    assert f'"{column}"' in hit["record"]  # the whole original row is kept
    t = report["tables"][table]
    assert t["quarantined"] >= 1 and t["read"] == t["accepted"] + t["quarantined"]


def test_every_rule_has_a_failing_example():
    covered = {case[-1] for case in CASES} | {"duplicate_key", "unknown_entity"}
    covered |= {"unknown_reference"}  # tests/test_planning_inputs.py
    covered |= {"not_in_plan", "plan_mismatch", "before_plan_start"}  # tests/test_plan_feedback.py
    assert covered == set(RULES)


def test_duplicate_key_keeps_first_and_names_it(tmp_path):
    rows = valid_rows()
    rows["complaints"].append(dict(rows["complaints"][0]))
    report, quarantine = run(tmp_path, rows)
    dup = quarantine[quarantine["rule"] == "duplicate_key"]
    assert dup["row"].tolist() == [3]
    assert "row 2" in dup["message"].iloc[0]
    assert report["tables"]["complaints"]["accepted"] == 1


def test_reference_to_quarantined_entity_says_so(tmp_path):
    rows = valid_rows()
    rows["entities"][1]["division_code"] = "999999"  # the individual business is quarantined …
    report, quarantine = run(tmp_path, rows)
    cascade = quarantine[(quarantine["rule"] == "unknown_entity") & (quarantine["table"] == "complaints")]
    assert len(cascade) == 1  # … and so is its complaint, with the reason
    assert "entities.csv row 3" in cascade["message"].iloc[0]
    assert report["totals"]["reconciled"]


def test_a_line_with_too_few_fields_is_quarantined(tmp_path):
    raw = write_snapshot(tmp_path / "raw")
    path = raw / "honours.csv"
    path.write_text(path.read_text(encoding="utf-8") + f"RY2,{ENT_A},a_taxpayer\n", encoding="utf-8")
    ingest(raw, tmp_path / "out", show_progress=False)
    quarantine = pd.read_parquet(tmp_path / "out" / "quarantine.parquet")
    assert "field_count" in set(quarantine["rule"])


def test_one_row_with_several_problems_is_counted_once(tmp_path):
    rows = valid_rows()
    rows["penalties"][0].update(fine_amount="-1", decision_date="bad", penalty_category="??")
    report, quarantine = run(tmp_path, rows)
    assert set(quarantine["rule"]) == {"negative_amount", "invalid_date", "unknown_code"}
    assert report["tables"]["penalties"]["quarantined"] == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-12-11", "2020-12-11"),
        ("2020/12/11", "2020-12-11"),
        ("2020年12月17日", "2020-12-17"),
        ("2020/1/5", "2020-01-05"),
        ("20201211", "2020-12-11"),
        ("2020-02-30", None),
        ("12/11/2020", None),
        ("", None),
    ],
)
def test_parse_dates(text, expected):
    value = parse_dates(pd.Series([text], dtype=object)).iloc[0]
    assert (None if pd.isna(value) else value.strftime("%Y-%m-%d")) == expected


def test_natural_person_keys_never_accept_identity_numbers(tmp_path):
    rows = valid_rows()
    rows["penalties"][0]["legal_rep_key"] = "440802199001011234"
    _, quarantine = run(tmp_path, rows)
    assert quarantine["rule"].tolist() == ["pseudonym_format"]
    assert PERSON not in quarantine["value"].tolist()
    assert IND_B  # fixture sanity


def test_gb32100_letters_and_other_departments_are_accepted(tmp_path):
    rows = valid_rows()
    rows["roles"][1]["holder_uscc"] = "N2440802MA4W12345K"  # a village collective as shareholder (N 农业 / 2)
    rows["penalties"][0]["authority_uscc"] = "11440800MA4W12345F"  # an authority (1 机构编制 / 1 机关)
    report, quarantine = run(tmp_path, rows)
    assert report["totals"]["quarantined"] == 0, quarantine.to_dict("records")


def test_uscc_class_must_match_the_entity_type(tmp_path):
    rows = valid_rows()
    rows["entities"][0]["uscc"] = "N1440802MA4W12345N"  # valid GB 32100 code, but no enterprise (91)
    _, quarantine = run(tmp_path, rows)
    hits = quarantine[(quarantine["table"] == "entities") & (quarantine["row"] == 2)]
    assert hits["rule"].tolist() == ["uscc_type_mismatch"]


def test_every_uscc_outcome_is_a_documented_rule():
    assert {rule for rule in uscc.OUTCOMES if rule} <= set(RULES)


def test_resident_id_quarantine_redacts_to_no_clear_id(tmp_path):
    rows = valid_rows()
    rows["entities"][0]["uscc"] = ID_NUMBER
    rows["roles"][0]["person_key"] = "11010519491231002X"
    rows["penalties"][0]["facts"] = "当事人身份证440802199001011238，电话13812345678"
    rows["penalties"][0]["fine_amount"] = "-1"  # quarantines the row that carries the text
    _, quarantine = run(tmp_path, rows)
    assert "resident_id_not_uscc" in set(quarantine["rule"])
    redacted = redact_quarantine(None, quarantine, None)
    dump = redacted.astype(str).to_csv()
    for clear in (ID_NUMBER, "11010519491231002X", "13812345678"):
        assert clear not in dump
    assert "4408**********1238" in dump


def test_pseudonymisation_before_validation(tmp_path):
    key = tmp_path / "key"
    key.write_bytes(b"0123456789abcdef0123456789abcdef")
    pseudonymiser = Pseudonymiser.from_file(key)
    table = contract.table("roles")
    text = pd.DataFrame([{c: "" for c in table.column_names} for _ in range(4)])
    text["person_key"] = ["440802199001011238", "张三", PERSON, "not a person"]
    out, counts = pseudonymise_person_columns(table, text, pseudonymiser)
    assert counts == {"person_key": 2}
    assert text["person_key"].iloc[0] == "440802199001011238"  # the input is left alone
    assert out["person_key"].tolist()[2:] == [PERSON, "not a person"]
    assert out["person_key"].iloc[0] == pseudonymiser.pseudonym("440802199001011238")
    found = Findings()
    check_column(table.column("person_key"), out["person_key"], pd.Timestamp("2026-10-31"), found)
    assert found.rules == ["pseudonym_format"] and found.rows[0].tolist() == [3]
    # without a key nothing changes and the contract refuses names and ID numbers as before
    same, none = pseudonymise_person_columns(table, text, None)
    assert same is text and none == {}
