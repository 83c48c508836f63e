"""Every indicator against values worked out by hand on a six-entity city (tests/indicator_fixture.py)."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from riskclass.indicators import build, load_catalog, load_month
from riskclass.indicators.builder import due_year
from riskclass.ingest import ingest
from riskclass.periods import month_end

from conftest import ROOT, write_snapshot
from indicator_fixture import AS_OF_MONTH, A, B, C, D, E, F, rows

X = date(2025, 12, 31)


def days(d: date) -> int:
    return (X - d).days


# Entity A: every indicator. Comments give the records that make the value.
EXPECTED_A = {
    "BAS.AGE.years": days(date(2015, 3, 2)) / 365.25,
    "BAS.AGE.new_1y": 0,
    "BAS.AGE.new_3y": 0,
    "BAS.CAP.registered": 100,  # C1 raised it to 100 in 2020; the cut to 60 (C7) comes after the date
    "BAS.CAP.log_registered": math.log(101),
    "BAS.CAP.paid_in_ratio": 0.2,
    "BAS.CAP.paid_in_zero": 0,
    "BAS.CAP.tiny": 0,
    "BAS.CAP.huge_no_staff": 0,
    "BAS.TYPE.enterprise": 1,
    "BAS.TYPE.individual": 0,
    "BAS.TYPE.cooperative": 0,
    "BAS.TYPE.branch": 0,
    "BAS.TYPE.sole_or_partnership": 0,
    "BAS.TYPE.single_person_llc": 0,
    "BAS.TYPE.foreign": 0,
    "BAS.TYPE.state": 0,
    "BAS.SCALE.employees": 12,
    "BAS.SCALE.no_staff": 0,
    "BAS.IND.section": "F",
    "BAS.IND.consumer_facing": 1,
    "BAS.IND.high_concern": 0,
    "BAS.IND.division": "440802",
    "BAS.DOM.food": 0,
    "BAS.DOM.drug": 0,
    "BAS.DOM.special_equipment": 0,
    "BAS.TAG.high_tech": 0,
    "BAS.TAG.new_economy": 0,
    "BAS.HOLD.shareholders": 2,  # R2 (P1, 60 %) and R3 (D, 40 %)
    "BAS.HOLD.corporate_shareholders": 1,
    "BAS.HOLD.state_or_foreign": 0,
    "BAS.HOLD.max_share": 0.6,
    "BAS.HOLD.rep_is_holder": 1,  # P1 is legal rep (R1, ends only in 2026) and shareholder (R2)
    "DYN.CHG.legal_rep_1y": 0,
    "DYN.CHG.legal_rep_3y": 1,  # C5 2024-06-01; C10 is after the date
    "DYN.CHG.address_1y": 1,
    "DYN.CHG.address_3y": 1,
    "DYN.CHG.scope_1y": 1,
    "DYN.CHG.name_3y": 1,
    "DYN.CHG.capital_down_3y": 0,
    "DYN.CHG.capital_up_3y": 0,
    "DYN.CHG.capital_large_change_3y": 0,
    "DYN.CHG.shareholder_1y": 1,
    "DYN.CHG.all_1y": 3,  # C3, C4, C8
    "DYN.AR.latest_filed": 1,
    "DYN.AR.latest_on_time": 1,  # 2024 report filed 2025-04-20
    "DYN.AR.late_3y": 1,  # 2023 report filed 2024-08-15
    "DYN.AR.filed_3y": 3,
    "DYN.AR.days_since_filing": days(date(2025, 4, 20)),
    "DYN.AR.not_yet_due": 0,  # established 2015: reports are due
    "DYN.FIN.revenue": 300,
    "DYN.FIN.log_revenue": math.log(301),
    "DYN.FIN.revenue_growth": 300 / 250 - 1,
    "DYN.FIN.loss": 1,
    "DYN.FIN.debt_ratio": 0.4,
    "DYN.FIN.no_tax": 1,
    "DYN.FIN.all_zero": 0,
    "DYN.FIN.all_zero_3y": 0,
    "DYN.FIN.insured_employees": 10,  # the all-zero 2025 report is filed in 2026
    "DYN.LIC.valid": 1,  # L4 (its revocation is after the date)
    "DYN.LIC.expired": 1,  # L2 expired 2025-12-01, not renewed (L3 is issued after the date)
    "DYN.LIC.revoked_3y": 1,  # L5 revoked 2024-03-01
    "DYN.LIC.domain_valid": 1,
    "DYN.EQ.pledges_active": 1,
    "DYN.EQ.freezes_active": 1,
    "DYN.EQ.freezes_3y": 1,  # E3; E2 released 2026
    "SUP.ABN.listed_now": 1,  # AB2 removed only in 2026
    "SUP.ABN.reason_no_report": 0,
    "SUP.ABN.reason_no_disclosure": 0,
    "SUP.ABN.reason_false_info": 0,
    "SUP.ABN.reason_unreachable": 1,
    "SUP.ABN.times_3y": 2,
    "SUP.ABN.days_listed": days(date(2025, 8, 10)),
    "SUP.ABN.removed_1y": 0,
    "SUP.SER.listed_now": 0,
    "SUP.SER.ever": 0,
    "SUP.SER.repaired": 0,  # SV2 is after the date
    "SUP.DD.now": 0,
    "SUP.DD.cases_3y": 0,
    "SUP.DD.amount_now": 0,  # DD2 is after the date
    "SUP.PEN.count_1y": 1,
    "SUP.PEN.count_3y": 2,
    "SUP.PEN.fines_3y": 1.5,  # P1, P2; P4 after the date
    "SUP.PEN.in_publicity": 1,  # P1 (its repair CR2 comes after the date); P2 repaired by CR1
    "SUP.PEN.heavy_3y": 1,
    "SUP.PEN.safety_3y": 1,
    "SUP.PEN.days_since_last": days(date(2025, 6, 1)),
    "SUP.PEN.repaired_3y": 1,
    "SUP.INSP.count_3y": 3,
    "SUP.INSP.problems_3y": 2,
    "SUP.INSP.problem_rate_3y": 2 / 3,  # I1 '1', I2 '6', I3 'E'
    "SUP.INSP.unreachable_3y": 1,
    "SUP.INSP.false_disclosure_3y": 0,
    "SUP.INSP.non_cooperation_3y": 0,
    "SUP.INSP.corrected_3y": 1,
    "SUP.INSP.clean_3y": 1,
    "SUP.INSP.last_problem": 1,
    "SUP.INSP.not_operating_3y": 0,
    "REL.REP.portfolio": 1,  # P1 also leads C (closed) and E (revoked); F only from 2026
    "REL.REP.portfolio_closed_share": 1.0,
    "REL.REP.portfolio_abnormal_share": 0.5,  # E is abnormal-listed
    "REL.ADDR.entities": 2,
    "REL.ADDR.cluster": 0,  # A and D at ADDR1 (F arrives in 2026)
    "REL.ADDR.abnormal_share": 0,  # D's listing AB4 is after the date
    "REL.NET.count": 3,  # C, E (representative), D (address)
    "REL.NET.abnormal_share": 1 / 3,
    "REL.NET.penalised_share": 1 / 3,
    "REL.NET.revoked_share": 1 / 3,
    "REL.NET.debtor_share": 1 / 3,
    "REL.NET.serious_any": 1,  # E, D (P5), E, D (DD1), E (SV1)
    "REL.INV.outbound": 0,
    "REL.INV.outbound_risky_share": 0,
    "REL.INV.holder_risky": 0,
    "SOC.CMP.count_1y": 3,
    "SOC.CMP.count_3m": 2,
    "SOC.CMP.growth": 2 / 3 - 1 / 9,
    "SOC.CMP.substantiated_1y": 1,  # CP1; CP2 is closed (and judged) only in 2026
    "SOC.CMP.reports_1y": 1,
    "SOC.CMP.count_3y": 4,
    "SOC.OPN.count_1y": 2,
    "SOC.OPN.severe_1y": 1,
    "SOC.OPN.count_3m": 1,
    "SOC.HON.valid": 1,
    "SOC.HON.a_taxpayer": 1,
    "SOC.HON.contract_credit": 0,
    "SOC.HON.ever_3y": 1,
}
EXPECTED_D = {
    "BAS.AGE.years": days(date(2025, 6, 1)) / 365.25,
    "BAS.AGE.new_1y": 1,
    "BAS.AGE.new_3y": 1,
    "BAS.CAP.registered": 5000,
    "BAS.CAP.paid_in_ratio": 0,
    "BAS.CAP.paid_in_zero": 1,
    "BAS.CAP.huge_no_staff": 1,
    "BAS.SCALE.no_staff": 1,
    "BAS.IND.section": "L",
    "BAS.IND.consumer_facing": 0,
    "BAS.HOLD.shareholders": 0,
    "DYN.CHG.capital_up_3y": 1,
    "DYN.CHG.capital_large_change_3y": 1,
    "DYN.CHG.all_1y": 1,
    "DYN.AR.latest_filed": 0,
    "DYN.AR.filed_3y": 0,
    "DYN.AR.days_since_filing": 9999,
    "DYN.AR.not_yet_due": 1,  # established June 2025: its first report (2025) is due only by 30 June 2026
    "SUP.ABN.listed_now": 0,
    "SUP.DD.now": 1,
    "SUP.DD.amount_now": 20,
    "SUP.DD.cases_3y": 1,
    "SUP.PEN.count_1y": 1,
    "SUP.PEN.in_publicity": 1,
    "REL.ADDR.entities": 2,
    "REL.NET.count": 1,
    "REL.NET.abnormal_share": 1.0,  # A is abnormal-listed
    "REL.INV.outbound": 1,
    "REL.INV.outbound_risky_share": 1.0,
    "REL.REP.portfolio": 1,
    "REL.REP.portfolio_closed_share": 0,
}
EXPECTED_B = {
    "BAS.TYPE.individual": 1,
    "BAS.DOM.food": 1,
    "BAS.IND.section": "H",
    "BAS.CAP.paid_in_zero": 0,
    "BAS.CAP.paid_in_ratio": 0,
    "SOC.CMP.count_1y": 0,
    "DYN.AR.days_since_filing": 9999,
    "DYN.AR.not_yet_due": 0,  # established 2019 and never filed: due, not "not yet due"
    "SUP.PEN.days_since_last": 9999,
    "REL.ADDR.entities": 1,
    "REL.REP.portfolio": 1,
    "REL.NET.count": 0,
    "BAS.HOLD.max_share": 0,
}


@pytest.fixture(scope="module")
def fixture_indicators(tmp_path_factory) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("indicator_city")
    raw = write_snapshot(root / "raw", rows())
    report = ingest(raw, root / "validated", show_progress=False)
    assert report["totals"]["quarantined"] == 0
    build(root / "validated", load_catalog(ROOT / "indicators.yaml"), [AS_OF_MONTH], root / "features")
    frame = load_month(root / "features", AS_OF_MONTH).set_index("uscc")
    frame.attrs["validated"] = root / "validated"
    return frame


def test_the_month_file_is_streamed_with_the_bytes_of_one_table(fixture_indicators, tmp_path, monkeypatch):
    """A 5 M-entity month does not fit DuckDB's memory limit as one result: it is written a row group at a time
    from the query's stream, and must keep the bytes one table gave (here with groups of 2 rows)."""
    import pyarrow.parquet as pq

    import riskclass.indicators.builder as builder
    from riskclass.periods import month_end

    monkeypatch.setattr(builder, "MONTH_ROW_GROUP", 2)
    catalog = load_catalog(ROOT / "indicators.yaml")
    engine = builder.DuckDBEngine()
    try:
        engine.stage(fixture_indicators.attrs["validated"])
        table = engine.compute(catalog, month_end(AS_OF_MONTH))
        assert table.num_rows > 2
        pq.write_table(
            table.replace_schema_metadata(None), tmp_path / "one.parquet", compression="zstd", row_group_size=2
        )
        rows = engine.write(catalog, month_end(AS_OF_MONTH), tmp_path / "streamed.parquet")
    finally:
        engine.close()
    assert rows == table.num_rows
    assert (tmp_path / "one.parquet").read_bytes() == (tmp_path / "streamed.parquet").read_bytes()
    assert not engine.spill.exists()  # DuckDB's spill folder goes with the engine


def test_every_indicator_has_a_hand_worked_expectation():
    assert set(EXPECTED_A) == set(load_catalog(ROOT / "indicators.yaml").codes)


def test_population_is_the_entities_alive_on_the_date(fixture_indicators):
    assert list(fixture_indicators.index) == [A, D, B]  # sorted; C closed, E revoked, F not yet established
    assert not {C, E, F} & set(fixture_indicators.index)


CASES = (
    [(A, c, v) for c, v in EXPECTED_A.items()]
    + [(D, c, v) for c, v in EXPECTED_D.items()]
    + [(B, c, v) for c, v in EXPECTED_B.items()]
)


@pytest.mark.parametrize(("entity", "code", "expected"), CASES, ids=[f"{e[-4:]}-{c}" for e, c, _ in CASES])
def test_indicator_value(fixture_indicators, entity, code, expected):
    value = fixture_indicators.at[entity, code]
    if isinstance(expected, str):
        assert value == expected
    else:
        assert value == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_due_year_and_month_end():
    assert month_end("2025-12") == date(2025, 12, 31)
    assert month_end("2024-02") == date(2024, 2, 29)
    assert due_year(date(2025, 6, 29)) == 2023 and due_year(date(2025, 6, 30)) == 2024
    with pytest.raises(ValueError, match="YYYY-MM"):
        month_end("2025/13")
