"""Risk reminders (信用风险提示) on a six-entity city (tests/reminder_fixture.py), month 2026-09."""

from __future__ import annotations

import copy
import json
import typing
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

import riskclass.reminders as reminders
from reminder_fixture import FORMULA_NAME, MONTH, A, B, C, D, E, F, write_raw
from riskclass import params as params_module
from riskclass.exports import read_csv
from riskclass.indicators import load_catalog
from riskclass.indicators.builder import build_one
from riskclass.ingest import ingest
from riskclass.params import ParamsError, validate_params
from riskclass.reminders import (
    CSV_COLUMNS,
    ITEMS,
    ForbiddenText,
    ReminderError,
    build_reminders,
    load_templates,
    run_reminders,
)
from riskclass.reminders.guard import check_html, check_text, violations, visible_text
from riskclass.reporting import browser, check_offline, render

from conftest import ROOT

EVERY_RECORD_ITEM = set(ITEMS) - {"early_warning"}


@pytest.fixture(scope="module")
def world(tmp_path_factory, params):
    """Validated tables, the month's indicators and a stand-in for its sealed record, and params pointing there."""
    root = tmp_path_factory.mktemp("reminders")
    validated = root / "validated"
    ingest(write_raw(root / "raw"), validated, show_progress=False)
    features = build_one(validated, load_catalog(ROOT / "indicators.yaml"), MONTH, root / "features")
    entities = pd.read_parquet(validated / "entities.parquet", columns=["uscc", "division_code"])
    classes = root / "classes.parquet"
    # the reminders read only uscc and district from the classes: class and score must not matter
    entities.rename(columns={"division_code": "district"}).assign(score=999, **{"class": "D"}).to_parquet(classes)
    record = SimpleNamespace(classes_path=classes, features_path=features)
    p = copy.deepcopy(params)
    p["features"] |= {"validated_dir": str(validated), "feedback_dir": str(root / "feedback")}
    p["reminders"] |= {
        "out_dir": str(root / "out"),
        "summary": str(root / "reminders.json"),
    }
    p["warnings"] |= {"out_dir": str(root / "warnings")}
    return p, record, root


@pytest.fixture
def sealed(world, monkeypatch):
    p, record, _ = world
    monkeypatch.setattr(reminders, "_sealed_record", lambda _p, _m: record)
    return p


def items_of(rem) -> dict[str, set[str]]:
    return rem.items.groupby("uscc")["item"].agg(set).to_dict()


def warnings_frame(*rows: tuple[str, str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [dict(uscc=u, month=MONTH, code=c, name_zh=n, severity="medium", evidence=ev) for u, c, n, ev in rows]
    )


# --- item types: firing and not firing ---------------------------------------------------------------------------


def test_every_item_fires_on_its_case_and_not_on_resolved_records(sealed):
    found = items_of(build_reminders(sealed, MONTH))
    assert found[A] == EVERY_RECORD_ITEM  # every record-based item fires on A
    assert D not in found and C not in found  # resolved records (removed, repaired, renewed, moved) fire nothing
    assert found[B] == {"all_zero_financials"}
    assert found[F] == {"licence_expiring"}  # established 2026: no report due yet


def test_point_in_time_no_lookahead(sealed):
    """E: removed from the list and filed its report only in October, penalised in October: on 2026-09-30 it is
    still listed and its report missing, and the penalty does not exist yet."""
    rem = build_reminders(sealed, MONTH)
    assert items_of(rem)[E] == {"abnormal_listed", "annual_report_overdue"}
    text = rem.items.loc[(rem.items["uscc"] == E) & (rem.items["item"] == "abnormal_listed"), "finding"].item()
    assert "通过登记的住所或者经营场所无法联系" in text and "2026年5月10日" in text


def test_items_carry_the_entitys_own_facts(sealed):
    rem = build_reminders(sealed, MONTH)
    a = rem.items[rem.items["uscc"] == A].set_index("item")
    assert "2025年度报告" in a.loc["annual_report_overdue", "finding"]
    assert "2026年6月30日" in a.loc["annual_report_overdue", "finding"]
    assert "2026年10月30日" in a.loc["annual_report_overdue", "by"]  # month end + act_within_days (30)
    assert "ABN-A1" in a.loc["abnormal_listed", "finding"]
    assert "补报未报年度的年度报告" in a.loc["abnormal_listed", "action"]
    assert "2029年7月10日" in a.loc["abnormal_listed", "by"]  # 3 years after listing → serious list
    assert "2026年3月1日" in a.loc["serious_violation", "by"]  # repair from 1 year after listing
    assert "湛赤市监罚〔2026〕1号" in a.loc["penalty_in_publicity", "finding"]
    assert "2027年3月1日" in a.loc["penalty_in_publicity", "by"]
    assert "2026年5月1日" in a.loc["address_unreachable", "finding"]
    assert "JY-A1" in a.loc["licence_expired", "finding"]
    assert "食品经营许可证" in a.loc["licence_expiring", "finding"]
    assert "2026年10月21日" in a.loc["licence_expiring", "by"]  # 30 days before 2026-11-20
    assert "2024年度" in a.loc["all_zero_financials", "finding"]


def test_items_switched_off_in_params_do_not_fire(sealed):
    p = copy.deepcopy(sealed)
    p["reminders"]["items"] = ["licence_expiring"]
    rem = build_reminders(p, MONTH)
    assert set(rem.items["item"]) == {"licence_expiring"}
    assert set(rem.items["uscc"]) == {A, F}


def test_expiry_horizon_is_a_parameter(sealed):
    p = copy.deepcopy(sealed)
    p["reminders"]["expiry_horizon_days"] = 30  # A's licence expires 51 days after the month end, F's after 20
    assert set(build_reminders(p, MONTH).items.query("item == 'licence_expiring'")["uscc"]) == {F}


SURGE = '{"SOC.CMP.count_1y":12,"SOC.CMP.count_3m":8,"SOC.CMP.growth":1.5}'


def test_told_warnings_are_worded_for_the_entity_and_internal_ones_never_reach_it(sealed):
    frame = warnings_frame(
        (C, "EW.CMP.surge", "投诉举报激增", SURGE),
        (D, "EW.REL.one_person_many", "一人多企", '{"REL.REP.portfolio":12}'),  # internal: never told
        (D, "EW.SCORE.jump", "风险分值较上月大幅上升", '{"score":705,"score_change":300,"class":"C"}'),
        ("91440802999999999X", "EW.CMP.surge", "投诉举报激增", SURGE),  # not an entity of the month
    )
    rem = build_reminders(sealed, MONTH, warnings=frame)
    warned = rem.items[rem.items["item"] == "early_warning"]
    assert list(warned["uscc"]) == [C]
    assert warned["title"].item() == "投诉举报明显增多"
    assert warned["finding"].item() == "经核查，近3个月收到涉及贵单位的投诉举报8件（近1年共12件），明显多于此前。"
    assert "SOC." not in warned["finding"].item() and "{" not in warned["finding"].item()
    assert D not in set(warned["uscc"])
    assert rem.warnings["unknown_entities"] == 1
    assert build_reminders(sealed, MONTH).warnings["present"] is False  # no file, no frame: reminders without them


def test_a_told_warning_without_the_evidence_its_wording_needs_is_refused(sealed):
    frame = warnings_frame((C, "EW.CMP.surge", "投诉举报激增", '{"SOC.CMP.count_3m":8}'))
    with pytest.raises(
        ReminderError, match=r"EW\.CMP\.surge of 93440881123456789N: its evidence has no SOC_CMP_count_1y"
    ):
        build_reminders(sealed, MONTH, warnings=frame)


def test_warnings_file_is_read_when_present_and_checked(sealed):
    p = copy.deepcopy(sealed)
    folder = Path(p["warnings"]["out_dir"])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{MONTH}.parquet"
    try:
        warnings_frame((C, "EW.CMP.surge", "投诉举报激增", SURGE)).to_parquet(path)
        assert C in set(build_reminders(p, MONTH).items["uscc"])
        warnings_frame((C, "X", "投诉举报异常增长", "")).assign(month="2026-08").to_parquet(path)
        with pytest.raises(ReminderError, match=r"2026-09\.parquet: row 0: month '2026-08'"):
            build_reminders(p, MONTH)
    finally:
        path.unlink(missing_ok=True)


# --- a reminder never mentions the classification ----------------------------------------------------------------

FORBIDDEN = [
    "贵单位信用风险分类为C类",
    "经评定为A类企业",
    "贵单位属于D级",
    "本月评分812分",
    "分值较高",
    "信用风险等级：较高",
    "贵单位风险等级上升",
    "贵单位信用风险较高",
    "列为高风险主体",
    "risk score 812",
    "credit class C",
    "class D",
]
ALLOWED = [
    "贵单位的食品经营许可证（编号：JY-A1）将于2026年11月20日到期。",
    "决定书文号：湛赤市监罚〔2026〕1号",
    "统一社会信用代码：91440802123456789F",
    "请登录国家企业信用信息公示系统（www.gsxt.gov.cn）补报2025年度报告并公示",
]


@pytest.mark.parametrize("text", FORBIDDEN)
def test_guard_refuses_every_mention_of_the_classification(text):
    assert violations(text)
    with pytest.raises(ForbiddenText, match="must not mention the classification"):
        check_text(text, "test")


@pytest.mark.parametrize("text", ALLOWED)
def test_guard_lets_ordinary_reminder_text_through(text):
    assert violations(text) == []


def test_every_real_template_passes_the_guard():
    spec = load_templates()  # raises on any forbidden word or unknown placeholder
    assert set(spec["items"]) == set(ITEMS)


def test_a_template_that_mentions_the_class_is_refused(monkeypatch):
    spec = copy.deepcopy(reminders._resource())
    spec["items"]["all_zero_financials"]["finding"] += "贵单位本月被评为C类。"
    monkeypatch.setattr(reminders, "_resource", lambda: spec)
    with pytest.raises(ForbiddenText, match=r"items\.all_zero_financials\.finding.*C类"):
        load_templates()


def test_a_template_with_an_unknown_placeholder_is_refused(monkeypatch):
    spec = copy.deepcopy(reminders._resource())
    spec["items"]["licence_expired"]["by"] = "请于{score}前办理"
    monkeypatch.setattr(reminders, "_resource", lambda: spec)
    with pytest.raises(ReminderError, match=r"licence_expired\.by uses \['score'\]"):
        load_templates()


def test_a_warning_wording_that_mentions_the_class_is_refused(monkeypatch):
    spec = copy.deepcopy(reminders._resource())
    spec["items"]["early_warning"]["warnings"]["EW.CLS.two_steps_worse"] = {
        "title": "分类下降",
        "finding": "贵单位的信用风险分类由B类降为C类",
    }
    monkeypatch.setattr(reminders, "_resource", lambda: spec)
    with pytest.raises(ForbiddenText, match=r"EW\.CLS\.two_steps_worse"):
        load_templates()


# --- outputs -----------------------------------------------------------------------------------------------------


def test_outputs_per_district_reconcile_and_say_nothing_of_the_class(sealed):
    summary, target = run_reminders(sealed, MONTH)
    rem = build_reminders(sealed, MONTH)
    assert sorted(p.name for p in target.iterdir()) == [
        f"{d}.{ext}" for d in ("440802", "440803", "440881") for ext in ("csv", "html")
    ]
    total = 0
    for district, counts in summary["by_district"].items():
        rows = read_csv(target / f"{district}.csv")
        assert list(rows.columns) == list(CSV_COLUMNS.values())
        expected = rem.items.loc[rem.items["district"] == district, "uscc"]
        assert sorted(rows["统一社会信用代码"]) == sorted(expected.unique())  # entities with items = rows written
        assert counts["reminders"] == len(rows)
        assert counts["items"] == rows["提示事项数"].astype(int).sum() == len(expected)
        html = (target / f"{district}.html").read_text(encoding="utf-8")
        check_offline(html, district)
        assert html.count('<section class="letter"') == len(rows)
        names = set(rows["名称"])
        seen = visible_text(html)
        for name in names:
            seen = seen.replace(name, "")
        check_html(seen, district)  # the whole page as a reader sees it
        for cell in rows.drop(columns=["名称"]).to_numpy().ravel():
            check_text(cell, district)
        total += len(rows)
    assert total == summary["reminders"] == 4  # A, B, E, F; C and D have nothing to fix
    assert summary["items"] == len(rem.items) == len(EVERY_RECORD_ITEM) + 1 + 2 + 1  # A, B, E, F
    assert summary["by_item"]["licence_expiring"] == {"title": "行政许可即将到期", "reminders": 2, "items": 2}
    assert json.loads(Path(sealed["reminders"]["summary"]).read_text(encoding="utf-8")) == summary


def test_csv_is_spreadsheet_safe_for_a_name_starting_with_equals(sealed):
    _, target = run_reminders(sealed, MONTH)
    raw = (target / "440803.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM (riskclass.exports)
    cells = pd.read_csv(target / "440803.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert "'" + FORMULA_NAME in set(cells["名称"])  # a spreadsheet shows it as text, never evaluates it
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells.to_numpy().ravel())
    assert FORMULA_NAME in set(read_csv(target / "440803.csv")["名称"])  # and it reads back exactly


def test_same_inputs_give_identical_bytes(sealed, tmp_path):
    first = copy.deepcopy(sealed)
    second = copy.deepcopy(sealed)
    second["reminders"] |= {"out_dir": str(tmp_path / "again"), "summary": str(tmp_path / "again.json")}
    _, one = run_reminders(first, MONTH)
    _, two = run_reminders(second, MONTH)
    for path in sorted(one.iterdir()):
        assert path.read_bytes() == (two / path.name).read_bytes(), path.name
    assert Path(first["reminders"]["summary"]).read_bytes() == Path(second["reminders"]["summary"]).read_bytes()


def test_a_month_not_sealed_is_refused_with_the_sealed_months(world, tmp_path):
    p = copy.deepcopy(world[0])
    p["classify"]["records_dir"] = str(tmp_path / "records")
    with pytest.raises(ReminderError, match=r"2026-09 is not sealed \(no month is sealed yet\); run `riskclass"):
        build_reminders(p, MONTH)


def test_params_list_exactly_the_known_items(params):
    assert set(typing.get_args(params_module.ReminderItem)) == set(ITEMS)
    bad = copy.deepcopy(params)
    bad["reminders"]["items"] = ["annual_report_overdue", "class_letter"]
    with pytest.raises(ParamsError, match=r"reminders\.items"):
        validate_params(bad)


# --- a real browser ----------------------------------------------------------------------------------------------


@pytest.mark.skipif(browser() is None, reason="no headless Chromium (make install adds chromium-headless-shell)")
def test_letters_render_offline_in_chromium_one_per_entity(sealed, tmp_path):
    _, target = run_reminders(sealed, MONTH)
    dom = render(target / "440802.html", screenshot=tmp_path / "letters.png", width=900, height=1200)
    assert dom.count('class="letter"') == 1  # A only: D has nothing to fix
    assert "信用风险提示函" in dom and "赤坎区甲贸易有限公司" in dom and "行政处罚信息公示中" in dom
    assert "湛江市（合成）市场监督管理局（赤坎区）" in dom
    assert (tmp_path / "letters.png").stat().st_size > 10_000
    dom = render(target / "440803.html")
    assert dom.count('class="letter"') == 2 and "霞山区鑫达餐饮店" in dom
