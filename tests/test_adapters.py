"""National export forms: each adapter on hand-made files in the national forms (no real data)."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io

import pandas as pd
import pytest
from stdnum.cn.uscc import calc_check_digit

from riskclass import contract
from riskclass.ingest import adapters, matching, validate_table
from riskclass.ingest.reader import RawFileError, read_raw

from conftest import SNAPSHOT, valid_rows, write_snapshot


def _uscc(prefix: str, division: str, body: str) -> str:
    remainder = 11 - sum(int(c) * w for c, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    partial = prefix + division + body + {10: "X", 11: "0"}.get(remainder, str(remainder))
    return partial + calc_check_digit(partial)


A = _uscc("91", "440802", "12340001")  # 湛江市甲乙贸易有限公司
B = _uscc("91", "440803", "12340002")  # 湛江市丙丁科技股份有限公司
C = _uscc("92", "440803", "12340003")  # 霞山区（ＡＢ）小吃店
AUTHORITY = _uscc("11", "440802", "00440802")
SOURCE = _uscc("11", "440800", "00440800")
REG_A = "440802123400011"
NAMES = {A: "湛江市甲乙贸易有限公司", B: "湛江市丙丁科技股份有限公司", C: "霞山区（ＡＢ）小吃店"}
SNAP = pd.Timestamp(SNAPSHOT)

PENALTIES = contract.table("penalties")
ABNORMAL = contract.table("abnormal_listings")
INSPECTIONS = contract.table("inspections")
NATIONAL = [c.label for c in contract.ADAPTERS_BY_ID["xzcf_national"].layout]
SHORT = [c.label for c in contract.ADAPTERS_BY_ID["xzcf_short"].layout]


@pytest.fixture
def registry() -> matching.RegistryIndex:
    frame = pd.DataFrame({"uscc": list(NAMES), "name": list(NAMES.values()), "reg_no": [REG_A, "", ""]})
    return matching.RegistryIndex(frame, contract.NAME_VARIANTS)


def _validate(table, adapted):
    registry = {"accepted": set(NAMES), "file": "entities.csv", "quarantined_rows": {}}
    accepted, quarantine, summary, _ = validate_table(table, adapted, SNAP, registry, {})
    return accepted, quarantine, summary


def _national_row(name, code1, decision_no, date, *, reg_no="/", category="罚款", fine="0.5", rep="张某某"):
    values = dict.fromkeys(NATIONAL, "/")
    values.update(
        {
            "行政相对人名称": name,
            "行政相对人类别": "法人及非法人组织",
            "行政相对人代码1(统一社会信用代码)": code1,
            "行政相对人代码2(工商注册号)": reg_no,
            "法定代表人": rep,
            "法定代表人证件类型": "身份证",
            "行政处罚决定书文号": decision_no,
            "违法行为类型": "虚假宣传",
            "违法事实": "经查，当事人发布虚假广告",
            "处罚依据": "《中华人民共和国广告法》第五十五条",
            "处罚类别": category,
            "处罚内容": "罚款人民币伍仟元",
            "罚款金额（万元）": fine,
            "处罚决定日期": date,
            "公示截止期": "2028年12月17日",
            "处罚机关": "赤坎区市场监督管理局",
            "处罚机关统一社会信用代码": AUTHORITY,
            "数据来源单位": "湛江市市场监督管理局",
            "数据来源单位统一社会信用代码": SOURCE,
        }
    )
    return [values[label] for label in NATIONAL]


def _national_rows() -> list[list[str]]:
    rows = [
        _national_row(NAMES[A], A, "湛赤市监罚〔2024〕1号", "2024/12/11"),
        _national_row(NAMES[B], B, "湛赤市监罚〔2024〕2号", "2024年12月17日", category="罚款；没收违法所得"),
        _national_row(NAMES[A], A, "湛赤市监罚〔2024〕3号", "2019-12-31 00:00:00"),  # shifted right below
        _national_row(NAMES[B], B, "湛赤市监罚〔2024〕4号", "2024-10-01"),  # shifted left below
        # one decision for two entities (a joint case): the number repeats across entities
        _national_row(NAMES[A], A, "湛赤市监罚〔2024〕5号", "2024-11-05"),
        _national_row(NAMES[C], C, "湛赤市监罚〔2024〕5号", "2024-11-05", rep="李某"),
        _national_row(NAMES[C], C, "湛赤市监罚〔2024〕6号", "2024-11-06", category="行政拘留"),
    ]
    at = NATIONAL.index("处罚机关")
    rows[2] = [*rows[2][: at + 1], "", *rows[2][at + 1 :]]  # an extra delimiter after 处罚机关
    rows[3] = rows[3][: at + 1] + rows[3][at + 2 :]  # 处罚机关统一社会信用代码 missing
    return rows


def _write_csv(path, header, rows, *, title=None, encoding="utf-8", trailing=False):
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if title:
        buf.write(title + "\n")
    if header is not None:
        writer.writerow(header + ([""] if trailing else []))
    for row in rows:
        writer.writerow(row + ([""] if trailing else []))
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


@pytest.fixture
def national_csv(tmp_path):
    return _write_csv(
        tmp_path / "penalties.csv",
        NATIONAL,
        _national_rows(),
        title="湛江市行政处罚信息公示（双公示）",
        encoding="gb18030",
        trailing=True,
    )


def test_national_27_column_form(national_csv, registry):
    adapter = adapters.detect(national_csv, PENALTIES)
    assert adapter.id == "xzcf_national" and len(adapter.layout) == 27
    f = adapters.read_adapted(national_csv, PENALTIES, adapter, registry)
    frame = f.frame
    assert f.encoding == "gb18030" and f.header_line == 2
    assert f.row_numbers().tolist() == [3, 4, 5, 6, 7, 8, 9]  # physical lines: title 1, header 2
    # `/` is empty; codes, dates (three styles, a time of day cut), categories mapped
    assert frame["licence_revoked"].eq("").all() and frame["effect_end_date"].eq("").all()
    assert frame["decision_date"].tolist()[:3] == ["2024/12/11", "2024年12月17日", "2019-12-31"]
    assert frame["violation_type"].eq("false_advertising").all()
    assert frame["penalty_category"].tolist() == ["fine", "confiscation", "fine", "fine", "fine", "fine", "行政拘留"]
    # both shifted rows realigned
    assert frame["authority"].eq("赤坎区市场监督管理局").all()
    assert frame["data_source"].eq("湛江市市场监督管理局").all()
    assert frame["authority_uscc"].tolist() == [AUTHORITY, AUTHORITY, AUTHORITY, "", AUTHORITY, AUTHORITY, AUTHORITY]
    notes = " ".join(f.repairs)
    for expected in (
        "trailing unnamed column",
        "title row",
        "shifted one column to the right on 1 row",
        "shifted one column to the left on 1 row",
        "time of day cut",
        "joint decisions",
    ):
        assert expected in notes, expected
    # the legal representative's name never enters: not in the contract, masked in the raw line
    assert frame["legal_rep_key"].eq("").all()
    assert not any("张某某" in line or "李某" in line for line in f.raw_lines(range(len(frame))))
    assert "***" in f.raw_lines([0])[0] and "湛赤市监罚〔2024〕1号" in f.raw_lines([0])[0]

    accepted, quarantine, summary = _validate(PENALTIES, f)
    assert summary["read"] == 7 and summary["reconciled"]
    # decision 5 names two entities and both are accepted; 行政拘留 is refused, never guessed
    assert (accepted["decision_no"] == "湛赤市监罚〔2024〕5号").sum() == 2
    assert quarantine[["row", "column", "rule", "value"]].values.tolist() == [
        [9, "penalty_category", "unknown_code", "行政拘留"]
    ]
    assert accepted["decision_date"].dt.strftime("%Y-%m-%d").tolist()[:3] == ["2024-12-11", "2024-12-17", "2019-12-31"]
    assert accepted["fine_amount"].tolist()[0] == 0.5


def test_a_file_without_a_header_is_recognised_by_its_columns(tmp_path, national_csv, registry):
    path = _write_csv(tmp_path / "headerless.csv", None, _national_rows(), encoding="gb18030", trailing=True)
    adapter = adapters.detect(path, PENALTIES)
    assert adapter.id == "xzcf_national"
    headerless = adapters.read_adapted(path, PENALTIES, adapter, registry)
    headed = adapters.read_adapted(national_csv, PENALTIES, adapter, registry)
    pd.testing.assert_frame_equal(headerless.frame, headed.frame)
    assert headerless.header_line == 0 and headerless.row_numbers().tolist() == list(range(1, 8))
    assert any("no header" in r for r in headerless.repairs)


def test_xlsx_under_a_csv_name(tmp_path, registry):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["行政处罚信息公示"])
    sheet.append(NATIONAL)
    first = _national_row(NAMES[A], A, "湛赤市监罚〔2024〕1号", "")
    mangled = _national_row("湛江市某某有限公司", "", "湛赤市监罚〔2024〕2号", "")
    for row, when in ((first, dt.datetime(2024, 12, 11)), (mangled, dt.datetime(2024, 12, 12, 9, 30))):
        cells = [None if v == "/" else v for v in row]
        cells[NATIONAL.index("处罚决定日期")] = when
        cells[NATIONAL.index("罚款金额（万元）")] = 0.5
        sheet.append(cells)
    # an all-digit USCC typed into a cell: Excel keeps 15 significant digits and shows 9.14408E+17
    sheet.cell(row=4, column=NATIONAL.index("行政相对人代码1(统一社会信用代码)") + 1, value=914408021234000000)
    path = tmp_path / "penalties.csv"
    book.save(path)
    assert adapters.file_kind(path) == "xlsx"
    f = adapters.read_adapted(path, PENALTIES, adapters.detect(path, PENALTIES), registry)
    assert f.encoding == "xlsx" and f.header_line == 2 and f.row_numbers().tolist() == [3, 4]
    assert f.frame["decision_date"].tolist() == ["2024-12-11", "2024-12-12"]
    assert f.frame["fine_amount"].tolist() == ["0.5", "0.5"]
    assert f.frame["uscc"].tolist() == [A, "9.14408E+17"]  # the contract's USCC rule refuses the mangled code
    assert f.link_method.tolist() == ["uscc", "uscc"]


def test_xls_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "penalties.csv"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    with pytest.raises(RawFileError, match=r"convert to \.xlsx or CSV"):
        adapters.detect(path, PENALTIES)


def test_short_form_keeps_pseudonymous_keys_and_converts_yuan(tmp_path, registry):
    header = [c if c != "罚款金额（万元）" else "罚款金额（元）" for c in SHORT]
    full = dict(zip(NATIONAL, _national_row(NAMES[A], A, "湛赤市监罚〔2024〕1号", "2024-12-11"), strict=True))
    full["统一社会信用代码"] = A
    full["罚款金额（元）"] = "5,000"
    rows = [[full[c] for c in header], [full[c] for c in header]]
    rows[1][header.index("法定代表人")] = "P0123456789ABCDEF"
    rows[1][header.index("行政处罚决定书文号")] = "湛赤市监罚〔2024〕2号"
    path = _write_csv(tmp_path / "penalties.csv", header, rows, encoding="utf-8-sig")
    adapter = adapters.detect(path, PENALTIES)
    assert adapter.id == "xzcf_short"
    f = adapters.read_adapted(path, PENALTIES, adapter, registry)
    assert f.frame["legal_rep_key"].tolist() == ["", "P0123456789ABCDEF"]
    assert f.frame["fine_amount"].tolist() == ["0.5", "0.5"]
    assert f.encoding == "utf-8-sig"
    # with a pseudonymisation step, a name becomes a key; what it cannot pseudonymise is dropped
    step = lambda names: names.map({"张某某": "P00000000000000AA"})  # noqa: E731
    keyed = adapters.read_adapted(path, PENALTIES, adapter, registry, pseudonymise=step)
    assert keyed.frame["legal_rep_key"].tolist() == ["P00000000000000AA", "P0123456789ABCDEF"]
    assert "张某某" not in keyed.raw_lines([0])[0]


def test_contract_files_are_left_to_the_contract_reader(tmp_path):
    raw = write_snapshot(tmp_path / "raw")
    assert adapters.detect(raw / "penalties.csv", PENALTIES) is None  # English names
    assert adapters.detect(raw / "abnormal_listings.csv", ABNORMAL) is None
    assert adapters.detect(raw / "inspections.csv", INSPECTIONS) is None
    # the contract's Chinese labels are the short 双公示 form: read through it, the same text comes out
    frame = pd.DataFrame(valid_rows()["penalties"])
    frame.columns = [c.label for c in PENALTIES.columns]
    path = tmp_path / "zh.csv"
    with open(path, "w", encoding="gb18030", newline="") as fh:
        fh.write("行政处罚信息公示（导出）\n")
        frame.to_csv(fh, index=False, lineterminator="\n")
    assert adapters.detect(path, PENALTIES).id == "xzcf_short"
    adapted = adapters.read_adapted(path, PENALTIES)
    plain = read_raw(path, PENALTIES)
    expected = plain.frame.copy()
    expected["penalty_category"] = "fine"  # the label 罚款, as its code
    pd.testing.assert_frame_equal(adapted.frame, expected)
    assert adapted.row_numbers().tolist() == plain.row_numbers().tolist() == [3]


def test_declared_row_count_and_unrealignable_rows(national_csv, tmp_path, registry):
    with pytest.raises(RawFileError, match="declares 9 rows, the file has 7"):
        adapters.read_adapted(national_csv, PENALTIES, None, registry, expected_rows=9)
    rows = _national_rows()[:2]
    rows[1] = [*rows[1], "多余", "字段"]  # two extra fields: no single realignment explains them
    path = _write_csv(tmp_path / "p.csv", NATIONAL, rows, encoding="gb18030")
    f = adapters.read_adapted(path, PENALTIES, None, registry)
    _, quarantine, summary = _validate(PENALTIES, f)
    assert quarantine["rule"].tolist() == ["field_count"] and quarantine["row"].tolist() == [3]
    assert summary["reconciled"]


# ---------------------------------------------------------------------------------------------------------------
# 经营异常名录


def test_name_only_abnormal_list(tmp_path, registry):
    rows = [
        ["1", "湛江市甲乙贸易有限责任公司"],  # 有限责任公司 = 有限公司
        ["2", "湛江市丙丁科技股份有限公司"],
        ["3", "湛江市丙丁科技股份有限公司"],  # the same listing twice in the list
        ["4", C],  # a USCC where the name should be
        ["5", "9.14408E+17"],  # a spreadsheet ate the code
        ["6", "湛江市不存在有限公司"],
    ]
    title = "湛江市市场监督管理局2024年7月5日列入经营异常名录企业名单（未按规定期限公示年度报告）"
    path = _write_csv(tmp_path / "abnormal_listings.csv", ["序号", "企业名称"], rows, title=title)
    adapter = adapters.detect(path, ABNORMAL)
    assert adapter.id == "abnormal_gsxt"
    f = adapters.read_adapted(path, ABNORMAL, adapter, registry)
    frame = f.frame
    assert frame["list_date"].eq("2024-07-05").all() and frame["reason_code"].eq("1").all()  # from the title
    assert frame["uscc"].tolist()[:4] == [A, B, B, C]
    assert f.link_method.tolist() == ["name", "name", "name", "uscc", "", ""]
    assert frame["listing_id"].str.startswith("GEN-").all()
    assert frame["listing_id"][1] == frame["listing_id"][2] != frame["listing_id"][0]
    _, quarantine, summary = _validate(ABNORMAL, f)
    got = quarantine[quarantine["rule"] != "required"][["row", "rule"]].values.tolist()  # (uscc is empty there)
    assert got == [[5, "duplicate_key"], [7, "uscc_spreadsheet_mangled"], [8, "name_not_found"]]
    assert summary["read"] == 6 and summary["accepted"] == 3
    assert "9.14408E+17" in quarantine.loc[quarantine["rule"] == "uscc_spreadsheet_mangled", "message"].iloc[0]


def test_name_only_list_without_date_or_reason_is_refused(tmp_path, registry):
    path = _write_csv(tmp_path / "abnormal_listings.csv", ["序号", "企业名称"], [["1", NAMES[A]]])
    with pytest.raises(RawFileError, match="list_date"):
        adapters.read_adapted(path, ABNORMAL, None, registry)
    f = adapters.read_adapted(path, ABNORMAL, None, registry, context={"list_date": "2024-07-05", "reason_code": "4"})
    assert f.frame[["uscc", "list_date", "reason_code"]].values.tolist() == [[A, "2024-07-05", "4"]]


def test_published_abnormal_list_with_codes_reasons_and_removals(tmp_path, registry):
    header = ["序号", "企业名称", "统一社会信用代码/注册号", "列入经营异常名录原因", "列入日期", "作出决定机关",
              "移出经营异常名录原因", "移出日期"]  # fmt: skip
    rows = [
        ["1", "某名称", REG_A, "未按照《企业信息公示暂行条例》第八条规定的期限公示年度报告的", "2023-07-05",
         "湛江市市场监督管理局", "补报未报年份的年度报告并公示", "2023-09-01"],
        ["2", NAMES[B], B, "通过登记的住所或者经营场所无法联系的", "2024年3月1日", "湛江市市场监督管理局", "/", "/"],
        ["3", NAMES[C], C, "其他原因", "2024-03-01", "湛江市市场监督管理局", "", ""],
    ]  # fmt: skip
    path = _write_csv(tmp_path / "abnormal_listings.csv", header, rows)
    f = adapters.read_adapted(path, ABNORMAL, None, registry)
    assert f.frame["uscc"].tolist() == [A, B, C]
    assert f.link_method.tolist() == ["reg_no", "uscc", "uscc"]  # the 注册号 names entity A
    assert f.frame["reason_code"].tolist() == ["1", "4", "其他原因"]
    assert f.frame["removal_reason"].tolist() == ["report_filed", "", ""]
    _, quarantine, _ = _validate(ABNORMAL, f)
    assert quarantine[["row", "column", "rule"]].values.tolist() == [[4, "reason_code", "unknown_code"]]


# ---------------------------------------------------------------------------------------------------------------
# published 双随机 results


RESULTS = ["未发现问题", "发现问题", "无法开展检查", "合格", "不合格", "已不存在", "待复查"]


def _results_file(tmp_path):
    header = ["序号", "任务名称", "主体名称", "抽查机关", "抽查时间", "抽查结果"]
    names = [NAMES[A], NAMES[B], NAMES[C], NAMES[A], NAMES[B], NAMES[C], NAMES[A]]
    rows = [
        [str(i + 1), "2024年第二批双随机抽查", name, "赤坎区市场监督管理局", f"2024-05-{i + 10} 10:30:00", result]
        for i, (name, result) in enumerate(zip(names, RESULTS, strict=True))
    ]
    return _write_csv(tmp_path / "inspections.csv", header, rows, encoding="utf-8-sig")


def test_published_results_map_to_result_codes(tmp_path, registry):
    path = _results_file(tmp_path)
    assert adapters.detect(path, INSPECTIONS).id == "ssj_published"
    with pytest.raises(RawFileError, match="item_type"):  # the form does not say how the entity was drawn
        adapters.read_adapted(path, INSPECTIONS, None, registry)
    context = {"item_type": "general", "draw_type": "undirected", "inclusion_prob": "0.03"}
    f = adapters.read_adapted(path, INSPECTIONS, None, registry, context=context)
    assert f.frame["result_code"].tolist() == ["1", "A", "无法开展检查", "1", "A", "7", "待复查"]
    assert f.frame["inspection_date"].tolist()[0] == "2024-05-10"
    assert f.frame["disposition"].tolist() == ["none", "", "", "none", "", "", ""]  # only where implied
    assert f.frame["inspection_id"].str.startswith("GEN-").all() and f.frame["inspection_id"].is_unique
    assert f.link_method.eq("name").all()
    notes = " ".join(f.repairs)
    assert "无法开展检查" in notes and "refused" in notes
    _, quarantine, summary = _validate(INSPECTIONS, f)
    unknown = quarantine[quarantine["rule"] == "unknown_code"]
    assert unknown["value"].tolist() == ["无法开展检查", "待复查"]
    assert set(quarantine.loc[quarantine["rule"] == "required", "column"]) == {"disposition"}
    assert summary["accepted"] == 2  # the two 未发现问题 / 合格 rows


def test_results_context_fills_the_follow_up(tmp_path, registry):
    context = {"item_type": "key", "draw_type": "directed", "inclusion_prob": "0.1", "disposition": "correct"}
    f = adapters.read_adapted(_results_file(tmp_path), INSPECTIONS, None, registry, context=context)
    assert f.frame["disposition"].tolist() == ["none", "correct", "correct", "none", "correct", "correct", "correct"]
    accepted, quarantine, _ = _validate(INSPECTIONS, f)
    assert len(accepted) == 5 and set(quarantine["rule"]) == {"unknown_code"}


# ---------------------------------------------------------------------------------------------------------------
# the synthetic city in national forms


def test_synthetic_city_national_forms_read_back_like_the_contract_forms(tmp_path, params):
    from riskclass.synth import generate

    plain = copy.deepcopy(params["synth"])  # the same city in the contract's forms, whatever params.yaml says
    for name in ("penalties", "abnormal_listings"):
        for key in ("form", "null_marker", "name_only_share", "reg_no_share", "shifted_share"):
            plain["formats"].get(name, {}).pop(key, None)
    national = copy.deepcopy(plain)
    national["formats"]["penalties"].update(
        form="xzcf_national", null_marker="/", name_only_share=0.2, reg_no_share=0.5, shifted_share=0.2
    )
    national["formats"]["abnormal_listings"] = {"header": "zh", "form": "abnormal_gsxt", "name_only_share": 0.3}
    kwargs = dict(entities=800, months=24, seed=5, city=params["city"], show_progress=False)
    generate(tmp_path / "contract", synth_params=plain, **kwargs)
    summary = generate(tmp_path / "national", synth_params=national, **kwargs)
    quirks = summary["national_forms"]
    assert quirks["penalties"]["name_only"] > 0 and quirks["penalties"]["shifted_left"] > 0
    assert quirks["penalties"]["shifted_right"] > 0 and quirks["abnormal_listings"]["name_only"] > 0

    entities = contract.table("entities")
    raw = read_raw(tmp_path / "national/raw/entities.csv", entities)
    accepted_entities, _, _, _ = validate_table(entities, raw, SNAP, None)
    assert (accepted_entities["reg_no"].fillna("").str.len().isin([0, 15])).all()
    index = matching.RegistryIndex(accepted_entities, contract.NAME_VARIANTS)
    registry = {"accepted": set(accepted_entities["uscc"]), "file": "entities.csv", "quarantined_rows": {}}
    for table, form in ((PENALTIES, "xzcf_national"), (ABNORMAL, "abnormal_gsxt")):
        path = tmp_path / "national/raw" / f"{table.name}.csv"
        assert adapters.detect(path, table).id == form
        adapted = adapters.read_adapted(path, table, None, index)
        assert adapted.match_report["match_rate_without_uscc"] == 1.0
        plain = read_raw(tmp_path / "contract/raw" / f"{table.name}.csv", table)
        got, q_got, _, _ = validate_table(table, adapted, SNAP, registry, {})
        want, q_want, _, _ = validate_table(table, plain, SNAP, registry, {})
        assert q_got["row"].tolist() == q_want["row"].tolist() and q_got["rule"].tolist() == q_want["rule"].tolist()
        if table.name == "penalties":  # the left-shifted rows lost 处罚机关统一社会信用代码 in the file
            changed = (got["authority_uscc"].fillna("") != want["authority_uscc"].fillna("")).sum()
            assert changed <= quirks["penalties"]["shifted_left"]
            got, want = got.drop(columns="authority_uscc"), want.drop(columns="authority_uscc")
        pd.testing.assert_frame_equal(got, want, check_dtype=False)
