"""Trigger-based supervision: roster enrolment, grace period, removal, each trigger kind, and the plan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import plan_fixture as fx
from riskclass.plan.planner import make_plan
from riskclass.triggers.kinds import KINDS
from riskclass.triggers.roster import categories_of, update_roster
from riskclass.triggers.sources import TriggerError, fire_triggers, read_legal_list, serious_listed

TP = {
    "grace_months": 12,
    "on_grace_end": "renew_if_clean",
    "reenrol_wait_months": 6,
    "kinds": dict.fromkeys(KINDS, True),
    "worsening_min_steps": 1,
    "warning_codes": ["EW.CMP.surge"],
}
CATEGORIES = [
    {"id": "high_tech", "name_zh": "高新技术企业", "flag": "is_high_tech"},
    {"id": "digital", "name_zh": "软件", "industries": ["I65", "M73"]},
]


def registry() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "uscc": ["u1", "u2", "u3", "u4", "u5", "u6"],
            "is_high_tech": [True, False, False, True, False, True],
            "industry_code": ["C3911", "I6510", "F5211", "M7310", "I6420", "I6510"],
        }
    )


def classes(**cls) -> pd.DataFrame:
    return pd.DataFrame({"uscc": list(cls), "class": list(cls.values())})


def test_categories_flag_or_industry_first_listed_wins():
    cat = categories_of(registry(), CATEGORIES)
    assert cat.to_dict() == {
        "u1": "high_tech",
        "u2": "digital",
        "u3": "",
        "u4": "high_tech",
        "u5": "",
        "u6": "high_tech",
    }


def test_enrolment_takes_a_and_b_in_a_category_only():
    cat = categories_of(registry(), CATEGORIES)
    rows = update_roster(
        "2026-01", None, classes(u1="A", u2="B", u3="A", u4="C", u5="A", u6="A"), cat, {"u6"}, set(), TP
    )
    # u3, u5: no category; u4: class C; u6: on the serious-violation list
    assert rows["uscc"].tolist() == ["u1", "u2"]
    assert (rows["status"] == "enrolled").all()
    assert rows["grace_end"].tolist() == ["2027-01", "2027-01"]
    assert rows["category"].tolist() == ["high_tech", "digital"]


def _member(uscc: str, grace_end: str, triggers: int = 0) -> dict:
    return {
        "uscc": uscc,
        "month": "2026-05",
        "category": "high_tech",
        "status": "member",
        "class": "A",
        "enrolled_month": "2025-06",
        "grace_end": grace_end,
        "triggers_in_grace": triggers,
        "barred_until": "",
    }


def test_removal_on_serious_violation_class_c_d_and_deregistration_with_reasons():
    cat = pd.Series({"u1": "high_tech", "u2": "high_tech", "u3": "high_tech", "u4": "high_tech"})
    prev = pd.DataFrame([_member(u, "2026-12") for u in ("u1", "u2", "u3", "u4")])
    rows = update_roster("2026-06", prev, classes(u1="A", u2="D", u3="B"), cat, {"u1"}, set(), TP).set_index("uscc")
    assert rows.loc["u1", ["status", "reason"]].tolist() == ["removed", "serious_violation"]
    assert rows.loc["u2", ["status", "reason"]].tolist() == ["removed", "class_c_d"]
    assert rows.loc["u3", "status"] == "member"
    assert rows.loc["u4", ["status", "reason"]].tolist() == ["removed", "not_classified"]
    assert rows.loc["u1", "barred_until"] == "2026-12"  # reenrol_wait_months = 6
    assert rows.loc["u1", "reason_zh"] == "列入严重违法失信名单"
    # back to A next month, the removed entity waits; after the wait it is enrolled again
    later = update_roster("2026-07", rows.reset_index(), classes(u1="A", u2="A", u3="B"), cat, set(), set(), TP)
    assert later.set_index("uscc").loc[["u1", "u2"], "status"].tolist() == ["barred", "barred"]
    again = update_roster("2026-12", later, classes(u1="A", u2="A", u3="B"), cat, set(), set(), TP).set_index("uscc")
    assert again.loc[["u1", "u2"], "status"].tolist() == ["enrolled", "enrolled"]


def test_grace_end_renews_a_clean_member_and_returns_a_triggered_one_to_ordinary_draws():
    cat = pd.Series({"u1": "high_tech", "u2": "high_tech", "u3": "high_tech", "u4": "high_tech"})
    prev = pd.DataFrame(
        [_member("u1", "2026-06"), _member("u2", "2026-06", 1), _member("u3", "2026-06"), _member("u4", "2026-07")]
    )
    cls = classes(u1="A", u2="B", u3="A", u4="A")
    rows = update_roster("2026-06", prev, cls, cat, set(), {"u3"}, TP).set_index("uscc")
    assert rows.loc["u1", ["status", "grace_end", "triggers_in_grace"]].tolist() == ["renewed", "2027-06", 0]
    assert rows.loc["u2", ["status", "reason", "barred_until"]].tolist() == [
        "grace_ended",
        "grace_triggered",
        "2026-12",
    ]
    assert rows.loc["u3", ["status", "triggers_in_grace"]].tolist() == ["grace_ended", 1]  # fired this month
    assert rows.loc["u4", ["status", "triggers_in_grace"]].tolist() == ["member", 0]
    exit_all = update_roster("2026-06", prev, cls, cat, set(), set(), {**TP, "on_grace_end": "exit"})
    assert exit_all.set_index("uscc").loc["u1", ["status", "reason"]].tolist() == ["grace_ended", "grace_exit"]


def test_serious_listing_counts_when_listed_by_the_month_end_or_during_the_month():
    serious = pd.DataFrame(
        {
            "uscc": ["on", "lifted_in_month", "later", "lifted_before"],
            "list_date": pd.to_datetime(["2025-01-05", "2026-06-03", "2026-07-01", "2024-01-01"]),
            "removal_date": pd.to_datetime([None, "2026-06-20", None, "2026-05-31"]),
        }
    )
    assert serious_listed(serious, "2026-06") == {"on", "lifted_in_month"}


def _sources(month_day: str = "2026-06-15") -> dict:
    day = pd.Timestamp(month_day)
    return {
        "complaints": pd.DataFrame(
            {
                "complaint_id": ["T1", "T2", "T3", "T4"],
                "uscc": ["s1", "s1", "s2", "x"],
                "substantiated": [True, False, True, True],
                "closed_date": [day, day, day + pd.Timedelta(days=30), day],  # T3: closed next month
            }
        ),
        "warnings": pd.DataFrame({"uscc": ["s2", "s3"], "code": ["EW.CMP.surge", "EW.FIN.all_zero"]}),
        "inspections": pd.DataFrame(
            {
                "inspection_id": ["J1", "J2"],
                "uscc": ["s3", "s4"],
                "disposition": ["case_lead", "correct"],
                "inspection_date": [day, day],
            }
        ),
        "legal": pd.DataFrame({"uscc": ["s4"], "basis": ["《产品质量法》第十五条"], "requested_date": [day]}),
        "classes": classes(s1="A", s2="A", s3="B", s4="A", s5="B", x="B"),
        "previous_classes": classes(s1="A", s2="B", s3="B", s4="A", s5="A", x="A"),
    }


def test_each_trigger_kind_fires_on_roster_members_within_the_month_only():
    subjects = {"s1", "s2", "s3", "s4", "s5"}
    t = fire_triggers("2026-06", subjects, TP, **_sources())
    got = sorted(zip(t["uscc"], t["kind"], t["evidence"], strict=True))
    assert got == [
        ("s1", "complaint", "T1"),  # T2 not substantiated
        ("s2", "warning", "EW.CMP.surge"),  # s2's complaint T3 closed after the month: not known yet
        ("s3", "case_lead", "J1"),  # s3's warning code does not trigger
        ("s4", "legal", "《产品质量法》第十五条"),  # s4's inspection: corrected, no case lead
        ("s5", "worsening", "A→B"),  # s2 improved (B→A): no trigger; x is not on the roster
    ]
    off = fire_triggers("2026-06", subjects, {**TP, "kinds": {**TP["kinds"], "worsening": False}}, **_sources())
    assert "worsening" not in set(off["kind"])
    two = fire_triggers("2026-06", subjects, {**TP, "worsening_min_steps": 2}, **_sources())
    assert "worsening" not in set(two["kind"])  # s5 fell one step only
    src = _sources()
    src["classes"].loc[src["classes"]["uscc"] == "s5", "class"] = "C"
    fell = fire_triggers("2026-06", subjects, {**TP, "worsening_min_steps": 2}, **src)
    assert fell.loc[fell["kind"] == "worsening", ["uscc", "evidence"]].values.tolist() == [["s5", "A→C"]]


def test_legal_list_validated_whole(tmp_path):
    good = tmp_path / "legal.csv"
    good.write_text("uscc,basis,requested_date\n91440802123456789F,《特种设备安全法》,2026-06-02\n", encoding="utf-8")
    assert read_legal_list(good)["requested_date"].iloc[0] == pd.Timestamp("2026-06-02")
    assert read_legal_list(tmp_path / "absent.csv").empty
    bad = tmp_path / "bad.csv"
    bad.write_text("uscc,basis,requested_date\n91440802123456789F,x,2026-06-02\n91440802123456789X,x,2026-6-2\n")
    with pytest.raises(TriggerError, match="row 3"):
        read_legal_list(bad)


def _roster_inputs(n_triggered_each: int = 2, officers: int = fx.INSPECTORS):
    e = fx.population(4000, seed=3)
    rng = np.random.default_rng(5)
    e["on_roster"] = e["class"].isin(["A", "B"]).to_numpy() & (rng.random(len(e)) < 0.3)
    e["triggered_by"] = ""
    roster = np.flatnonzero(e["on_roster"].to_numpy())
    for j, kind in enumerate(KINDS):
        e.loc[roster[j * n_triggered_each : (j + 1) * n_triggered_each], "triggered_by"] = kind
    inputs = fx.inputs(entities=e, officers=fx.inspectors(officers))
    inputs.triggered_items = ["GEN"]
    return inputs, e


def test_roster_entities_have_no_general_random_check_but_key_items_and_triggers_still_apply():
    inputs, e = _roster_inputs()
    plan = make_plan(inputs, fx.plan_params(), "P")
    roster = set(e.loc[e["on_roster"], "uscc"])
    c, f = plan.checks, plan.frame
    random_general = c[(c["item_id"] == "GEN") & (c["draw_type"] != "triggered")]
    assert not random_general["uscc"].isin(roster).any()
    assert c.loc[c["item_id"] == "FOOD", "uscc"].isin(roster).any()  # 不免抽: key items still draw them
    gen = f[f["item_id"] == "GEN"]
    assert gen["on_roster"].sum() == len(roster)  # recorded, with probability 0
    assert (gen.loc[gen["on_roster"], "inclusion_prob"] == 0).all()
    assert (gen.loc[~gen["on_roster"] & ~gen["cooled_off"], "inclusion_prob"] > 0).all()
    assert not f.loc[f["item_id"] == "FOOD", "on_roster"].any()
    triggered = c[c["draw_type"] == "triggered"]
    assert sorted(triggered["triggered_by"]) == sorted(np.repeat(KINDS, 2))  # each kind schedules a check
    assert (triggered["item_id"] == "GEN").all() and triggered["inclusion_prob"].isna().all()
    assert plan.summary["trigger_supervision"]["scheduled"] == 10
    # the general strata are drawn from everyone else: their sizes leave the roster out (nobody is cooled off here)
    s = plan.strata
    assert s.loc[(s["item_id"] == "GEN") & (s["draw_type"] == "undirected"), "N"].sum() == len(e) - len(roster)
    assert s.loc[(s["item_id"] == "FOOD") & (s["draw_type"] == "undirected"), "N"].sum() == e["food"].sum()


def test_triggered_checks_fit_the_capacity_legal_first():
    inputs, _ = _roster_inputs(n_triggered_each=20, officers=60)
    pp = fx.plan_params(max_checks=0)
    floors = make_plan(inputs, {**pp, "max_checks": 100_000}, "P").summary["floor_checks"]
    plan = make_plan(inputs, {**pp, "max_checks": floors + 30}, "P")
    ts = plan.summary["trigger_supervision"]
    assert ts["scheduled"] == 30 and ts["deferred"] == 70
    kinds = plan.checks.loc[plan.checks["draw_type"] == "triggered", "triggered_by"].value_counts()
    assert kinds.to_dict() == {"legal": 20, "case_lead": 10}
    assert len(plan.checks) == floors + 30


def test_checks_made_on_the_roster_count_the_month_members_by_kind():
    from riskclass.triggers.run import checks_on_roster

    previous = pd.DataFrame({"uscc": ["m1", "m2", "gone"], "status": ["member", "enrolled", "removed"]})
    inspections = pd.DataFrame(
        {
            "uscc": ["m1", "m1", "m2", "m2", "gone", "m1"],
            "draw_type": ["triggered", "undirected", "directed", "undirected", "undirected", "undirected"],
            "item_type": ["general", "general", "general", "key", "general", "general"],
            "inspection_date": pd.to_datetime(
                ["2026-06-02", "2026-06-30", "2026-06-10", "2026-06-11", "2026-06-12", "2026-07-01"]
            ),
        }
    )
    got = checks_on_roster(inspections, previous, "2026-06")
    assert got == {"triggered": 1, "random_general": 2, "random_key": 1}
    assert checks_on_roster(inspections, None, "2026-06") == {"triggered": 0, "random_general": 0, "random_key": 0}


def test_a_triggered_check_goes_under_the_first_listed_item_that_applies_to_the_entity():
    from riskclass import contract

    inputs, e = _roster_inputs()
    cols = contract.table("check_items").column_names
    only = {
        "GEN-ENT": ("GEN-ENT", "企业公示信息检查", "general", "credit", "general", "enterprise;cooperative"),
        "GEN-IND": ("GEN-IND", "个体工商户公示信息检查", "general", "credit", "general", "individual"),
    }
    extra = pd.DataFrame([(*v, None, None, None, True) for v in only.values()], columns=cols)
    inputs.items = pd.concat([inputs.items, extra], ignore_index=True)
    inputs.triggered_items = ["GEN-ENT", "GEN-IND"]
    plan = make_plan(inputs, fx.plan_params(), "P")
    triggered = plan.checks[plan.checks["draw_type"] == "triggered"].merge(e[["uscc", "entity_type"]], on="uscc")
    assert len(triggered) == 10 and set(triggered["entity_type_y"]) >= {"enterprise", "individual"}
    expected = triggered["entity_type_y"].map(lambda t: "GEN-IND" if t == "individual" else "GEN-ENT")
    assert (triggered["item_id"] == expected).all()
    # an entity no listed item applies to is counted, not checked
    inputs.triggered_items = ["GEN-IND"]
    summary = make_plan(inputs, fx.plan_params(), "P").summary["trigger_supervision"]
    fired_individual = int((e.loc[e["triggered_by"] != "", "entity_type"] == "individual").sum())
    assert summary["scheduled"] == fired_individual and summary["no_applicable_item"] == 10 - fired_individual
