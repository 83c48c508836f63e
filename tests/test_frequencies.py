"""Minimum check frequencies of the domain grades scheduled over a year as professional plan items."""

from __future__ import annotations

from itertools import pairwise

import pandas as pd
import pytest

from riskclass.plan import frequencies


def _grades() -> pd.DataFrame:
    rows = [(f"F{i:03d}", "food", "ABCD"[i % 4], False) for i in range(40)]
    rows += [("S1", "special_equipment", "D", False), ("S2", "special_equipment", "A", True)]
    rows += [("S3", "special_equipment", "A", False), ("Y1", "drug_retail", "C", False)]
    return pd.DataFrame(rows, columns=["uscc", "domain", "grade", "always_key"])


def test_minimum_checks_per_year_by_grade():
    g = _grades()
    n26 = frequencies.checks_per_year(g, 2026)
    n27 = frequencies.checks_per_year(g, 2027)
    by = g.assign(n26=n26, n27=n27).set_index("uscc")
    food = by[by["domain"] == "food"]
    # food A: once in two years (exactly one of two consecutive years); B once, C twice, D three times a year
    a = food[food["grade"] == "A"]
    assert ((a["n26"] + a["n27"]) == 1).all() and 0 < a["n26"].sum() < len(a)
    for grade, n in (("B", 1), ("C", 2), ("D", 3)):
        assert (food.loc[food["grade"] == grade, ["n26", "n27"]] == n).all().all()
    # special equipment: D full coverage (once a year); an always-key A user at least once; drug C twice
    assert by.loc["S1", "n26"] == 1 and by.loc["S2", "n26"] == 1 and by.loc["S2", "n27"] == 1
    assert by.loc["S3", "n26"] + by.loc["S3", "n27"] == 1
    assert by.loc["Y1", "n26"] == 2


def test_checks_are_spread_over_the_year_and_the_months_add_up_to_the_schedule():
    g = _grades()
    sched = frequencies.schedule(g, 2026)
    d = sched[(sched["domain"] == "food") & (sched["grade"] == "D")]
    gaps = d.groupby("uscc")["month"].apply(lambda m: sorted(m)).apply(lambda m: [b - a for a, b in pairwise(m)])
    assert all(x == [4, 4] for x in gaps)  # three checks, four months apart
    c = sched[(sched["domain"] == "food") & (sched["grade"] == "C")]
    assert (c.groupby("uscc")["month"].agg(lambda m: max(m) - min(m)) == 6).all()
    months = pd.concat([frequencies.month_items(g, f"2026-{m:02d}") for m in range(1, 13)], ignore_index=True)
    assert len(months) == len(sched) == frequencies.checks_per_year(g, 2026).sum()
    # the same schedule whichever month computes it: an entity's month depends on its USCC, not the order
    shuffled = frequencies.schedule(g.sample(frac=1, random_state=3).reset_index(drop=True), 2026)
    pd.testing.assert_frame_equal(sched, shuffled)
    assert months["item_name"].str.contains("风险分级").all()


def test_the_summary_reports_compliance_and_the_capacity_the_items_need():
    g = _grades()
    month = "2026-03"
    items = frequencies.month_items(g, month)
    loads = pd.DataFrame(
        {
            "qualifications": ["food", "food;general", "special_equipment", "drug"],
            "capacity": [3, 2, 1, 1],
            "assigned": [1, 0, 1, 0],
            "available": [True, True, True, False],
        }
    )
    out = frequencies.summary(g, month, loads, per_check=2)
    food = out["domains"]["food"]
    assert food["compliance"] == 1.0
    assert (
        food["required_checks_year"]
        == food["scheduled_checks_year"]
        == frequencies.schedule(g, 2026).query("domain == 'food'").shape[0]
    )
    assert food["checks_this_month"] == (items["domain"] == "food").sum()
    assert food["officer_slots_needed"] == 2 * food["checks_this_month"]
    assert (food["qualified_capacity"], food["qualified_capacity_left"]) == (5, 4)
    assert food["capacity_sufficient"] == (food["officer_slots_needed"] <= 4)
    assert food["staffable_share_this_month"] == pytest.approx(min(1.0, 4 / food["officer_slots_needed"]), abs=1e-4)
    se = out["domains"]["special_equipment"]
    assert (se["qualified_capacity"], se["qualified_capacity_left"]) == (1, 0)
    assert out["domains"]["drug_retail"]["qualified_capacity"] == 0  # the only drug officer is unavailable
    assert food["required_by_grade"]["C"] == 20 and food["required_by_grade"]["D"] == 30
