"""A hand-made city of six entities for the risk reminders; month 2026-09 (as of 2026-09-30, report year 2025 due).

- A (enterprise, 赤坎区): every item fires — 2025 report missing, 2024 report all zero, abnormal listing (reason 1),
  serious-violation listing, penalty in publicity, unreachable at the latest check, licence expired, licence
  expiring within the horizon.
- D (enterprise, 赤坎区): the same kinds of records, each resolved — reports filed, listings removed, the penalty's
  publicity ended or repaired, address changed after the unreachable check, expired licence renewed, the next
  expiry beyond the horizon. Nothing fires.
- E (enterprise, 廉江市): point in time. Listed in May and removed only in October (still listed on 2026-09-30);
  its 2025 report filed in October (still missing on 2026-09-30); a penalty decided in October (unknown).
- F (enterprise, 霞山区): established 2026 (no report due yet), named like a spreadsheet formula; its licence
  expires within the horizon.
- B (individual business, 霞山区): its latest report (2025) has all-zero financials.
- C (cooperative, 廉江市): nothing to remind.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from riskclass import contract

import indicator_fixture
from indicator_fixture import A, B, C, D, E, F

MONTH = "2026-09"
SNAPSHOT = "2026-10-31"
FORMULA_NAME = '=HYPERLINK("http://x.example/","点击")科技有限公司'

# the indicator fixture's entities and registry defaults, with an industry and a capital of their own
_ENTITY = {**indicator_fixture._ENTITY, "industry_code": "F5199", "registered_capital": "100"}


def _report(uscc: str, year: int, filed: str, zero: bool = False) -> dict:
    money = "0" if zero else "100"
    return dict(
        uscc=uscc,
        report_year=str(year),
        filing_date=filed,
        revenue=money,
        total_assets=money,
        total_liabilities=money,
        net_profit=money,
        tax_paid=money,
        insured_employees="0" if zero else "5",
        all_zero="true" if zero else "false",
    )


def _inspection(iid: str, uscc: str, day: str, code: str) -> dict:
    return dict(
        inspection_id=iid,
        uscc=uscc,
        task_id="T1",
        item_type="general",
        draw_type="undirected",
        inclusion_prob="0.03",
        inspection_date=day,
        result_code=code,
        disposition="correct" if code != "1" else "none",
    )


def _penalty(no: str, uscc: str, decided: str, publicity_end: str) -> dict:
    return dict(
        decision_no=no,
        uscc=uscc,
        violation_type="false_advertising",
        penalty_category="fine",
        fine_amount="1",
        decision_date=decided,
        publicity_end_date=publicity_end,
        authority="赤坎区市场监督管理局",
    )


def rows() -> dict[str, list[dict]]:
    data = {
        "entities": [
            {
                **_ENTITY,
                "uscc": A,
                "name": "赤坎区甲贸易有限公司",
                "established_date": "2015-03-02",
                "address_key": "K1",
            },
            {
                **_ENTITY,
                "uscc": D,
                "name": "赤坎区丁贸易有限公司",
                "established_date": "2015-03-02",
                "address_key": "K2",
            },
            {
                **_ENTITY,
                "uscc": E,
                "name": "廉江市戊商行有限公司",
                "division_code": "440881",
                "established_date": "2016-01-01",
                "address_key": "K3",
            },
            {
                **_ENTITY,
                "uscc": F,
                "name": FORMULA_NAME,
                "division_code": "440803",
                "industry_code": "I6513",
                "established_date": "2026-03-01",
                "address_key": "K4",
            },
            {
                **_ENTITY,
                "uscc": B,
                "name": "霞山区鑫达餐饮店",
                "entity_type": "individual",
                "org_form": "individual_business",
                "industry_code": "H6220",
                "division_code": "440803",
                "registered_capital": "5",
                "established_date": "2019-05-06",
                "address_key": "K5",
            },
            {
                **_ENTITY,
                "uscc": C,
                "name": "廉江市丙种植专业合作社",
                "entity_type": "cooperative",
                "org_form": "farmers_cooperative",
                "industry_code": "A0111",
                "division_code": "440881",
                "established_date": "2012-07-01",
                "address_key": "K6",
            },
        ],
        "annual_reports": [
            _report(A, 2024, "2025-05-01", zero=True),
            _report(D, 2024, "2025-05-01"),
            _report(D, 2025, "2026-05-01"),
            _report(E, 2024, "2025-05-01"),
            _report(E, 2025, "2026-10-05"),  # after the month end
            _report(B, 2024, "2025-04-01"),
            _report(B, 2025, "2026-04-01", zero=True),
            _report(C, 2024, "2025-04-01"),
            _report(C, 2025, "2026-04-01"),
        ],
        "abnormal_listings": [
            dict(listing_id="ABN-A1", uscc=A, reason_code="1", list_date="2026-07-10"),
            dict(
                listing_id="ABN-D1",
                uscc=D,
                reason_code="1",
                list_date="2025-07-10",
                removal_date="2025-09-01",
                removal_reason="report_filed",
            ),
            dict(
                listing_id="ABN-E1",
                uscc=E,
                reason_code="4",
                list_date="2026-05-10",
                removal_date="2026-10-15",
                removal_reason="reachable",
            ),
        ],
        "serious_violations": [
            dict(listing_id="SER-A1", uscc=A, reason="major_violation", list_date="2025-03-01"),
            dict(
                listing_id="SER-D1",
                uscc=D,
                reason="major_violation",
                list_date="2024-03-01",
                removal_date="2025-06-01",
                removal_reason="credit_repair",
            ),
        ],
        "penalties": [
            _penalty("湛赤市监罚〔2026〕1号", A, "2026-03-01", "2027-03-01"),
            _penalty("湛赤市监罚〔2025〕7号", D, "2025-03-01", "2026-03-01"),  # publicity over
            _penalty("湛赤市监罚〔2026〕9号", D, "2026-02-01", "2027-02-01"),  # repaired below
            _penalty("湛廉市监罚〔2026〕3号", E, "2026-10-10", "2027-10-10"),  # after the month end
        ],
        "credit_repairs": [
            dict(
                repair_id="REP-D1",
                uscc=D,
                target="penalty",
                target_id="湛赤市监罚〔2026〕9号",
                repair_date="2026-06-01",
            ),
        ],
        "inspections": [
            _inspection("I-A1", A, "2026-05-01", "6"),
            _inspection("I-D1", D, "2026-02-01", "6"),
        ],
        "changes": [dict(change_id="CH-D1", uscc=D, change_type="address", change_date="2026-03-01")],
        "licences": [
            dict(licence_id="JY-A1", uscc=A, licence_type="other", issue_date="2021-01-01", expiry_date="2026-01-01"),
            dict(
                licence_id="JY-A2",
                uscc=A,
                licence_type="food_business",
                issue_date="2021-11-20",
                expiry_date="2026-11-20",
            ),
            dict(licence_id="JY-D1", uscc=D, licence_type="other", issue_date="2020-01-01", expiry_date="2025-01-01"),
            dict(licence_id="JY-D2", uscc=D, licence_type="other", issue_date="2025-01-05", expiry_date="2030-01-05"),
            dict(
                licence_id="JY-D3",
                uscc=D,
                licence_type="food_business",
                issue_date="2022-06-01",
                expiry_date="2027-06-01",
            ),
            dict(
                licence_id="JY-F1",
                uscc=F,
                licence_type="food_business",
                issue_date="2026-03-05",
                expiry_date="2026-10-20",
            ),
        ],
    }
    return {
        t.name: [{c: r.get(c, "") for c in t.column_names} for r in data.get(t.name, [])]
        for t in contract.TABLES
        if t.name in data or not t.optional_file
    }


def write_raw(raw_dir: Path) -> Path:
    """The raw snapshot: one CSV per table (a header even when empty) and snapshot.json."""
    import json

    raw_dir.mkdir(parents=True, exist_ok=True)
    for name, records in rows().items():
        frame = pd.DataFrame(records, columns=contract.table(name).column_names)
        frame.to_csv(raw_dir / f"{name}.csv", index=False, lineterminator="\n")
    (raw_dir / "snapshot.json").write_text(json.dumps({"snapshot_date": SNAPSHOT}), encoding="utf-8")
    return raw_dir
