"""Personal data at the boundary: ID numbers, names and phones recognised, masked and pseudonymised."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from riskclass import contract, personal
from riskclass.personal import (
    HASH_FIELD,
    Pseudonymiser,
    PseudonymKeyError,
    find_names,
    find_resident_ids,
    looks_like_name,
    mask_free_text_columns,
    mask_id,
    mask_name,
    mask_phone,
    mask_text,
    old_resident_id_ok,
    redact_for_quarantine,
    redact_quarantine,
    resident_id_ok,
)

from conftest import ROOT

ID = "440802199001011238"  # valid: province 44, born 1990-01-01, check digit 8
ID_X = "11010519491231002X"
OLD_ID = "440802900101123"  # the same person's 15-digit number


def _key(tmp_path, name="key", content=b"0123456789abcdef0123456789abcdef"):
    path = tmp_path / name
    path.write_bytes(content)
    return path


# --------------------------------------------------------------------------------------------------------------
# GB 11643


def _with_check(first17: str) -> str:
    return first17 + personal.id_check_digit(first17)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (ID, True),
        (ID_X, True),
        ("11010519491231002x", True),  # lower-case x is still an ID
        ("440802199001011234", False),  # check digit
        (_with_check("44080219900230123"), False),  # 30 February, right check digit
        (_with_check("44080218991231123"), False),  # born before 1900
        (_with_check("44080220991231123"), False),  # born in the future
        (_with_check("99080219900101123"), False),  # no province 99
        ("91440802123456789F", False),
        ("4408021990010112", False),
        ("", False),
    ],
)
def test_resident_id_check_digit_and_date(value, ok):
    assert resident_id_ok(value) is ok


def test_loose_test_ignores_the_check_digit_only():
    assert resident_id_ok("440802199001011234", check_digit=False)
    assert not resident_id_ok("440802199002301234", check_digit=False)
    assert resident_id_ok(ID, today=dt.date(1990, 1, 1)) and not resident_id_ok(ID, today=dt.date(1989, 12, 31))


def test_old_fifteen_digit_numbers():
    assert old_resident_id_ok(OLD_ID)
    assert personal.upgrade_old_id(OLD_ID) == ID
    assert not old_resident_id_ok("440800000012345")  # a 注册号: no month 00


def test_find_resident_ids_is_the_vectorised_test():
    rng = np.random.default_rng(1)
    values = []
    for _ in range(3000):
        first17 = f"{rng.choice([11, 44, 51, 99]):02d}0802{rng.integers(1895, 2030)}{rng.integers(0, 14):02d}"
        first17 += f"{rng.integers(0, 33):02d}{rng.integers(0, 1000):03d}"
        last = personal.id_check_digit(first17) if rng.random() < 0.7 else str(rng.integers(0, 10))
        values.append(first17 + last)
    values += [ID_X.lower(), OLD_ID, "", None, "91440802123456789F", "４４０８０２１９９００１０１１２３８"]
    series = pd.Series(values, dtype=object)
    strict = find_resident_ids(series)
    assert strict.tolist() == [isinstance(v, str) and resident_id_ok(v) for v in values]
    loose = find_resident_ids(series, check_digit=False, old=True)
    expected = [isinstance(v, str) and (resident_id_ok(v, check_digit=False) or old_resident_id_ok(v)) for v in values]
    assert loose.tolist() == expected
    assert strict.sum() > 500


# --------------------------------------------------------------------------------------------------------------
# masking


def test_masks():
    assert mask_id("440802199001013211") == "4408**********3211"
    assert mask_id(OLD_ID) == "4408*******1123"
    assert mask_name("张三") == "张**" and mask_name("张三丰") == "张**"
    assert mask_name("欧阳娜娜") == "欧阳**" and mask_name("买买提·艾力") == "买**"
    assert mask_phone("13812345678") == "138****5678"


def test_mask_text_ids_and_phones():
    text = (
        f"当事人身份证号{ID}，旧证{OLD_ID}，另一人{ID_X}；电话13812345678、+86 139-1234-5678，"
        "全角４４０８０２１９９００１０１１２３８；空格分隔 440802 19900101 1238"
    )
    masked = mask_text(text)
    for clear in (ID, OLD_ID, ID_X, "13812345678", "139-1234-5678", "１９９００１０１", "19900101 1238"):
        assert clear not in masked
    assert "4408**********1238" in masked and "138****5678" in masked and "+86 139****5678" in masked
    assert "1101**********002X" in masked and "4408*******1123" in masked


@pytest.mark.parametrize(
    "text",
    [
        "统一社会信用代码91440802123456789F",
        "统一社会信用代码123502001549897397",  # all digits, but no birth date
        "注册号440800000012345",
        "银行卡6222021234567890123",  # 19 digits
        "罚款1.5万元，案号（2024）粤0802执1号",
        "",
    ],
)
def test_mask_text_leaves_other_numbers(text):
    assert mask_text(text) == text


def test_mask_text_series_equals_the_scalar_version():
    values = pd.Series([f"身份证{ID}", "无", None, "电话 13812345678", "", f"{OLD_ID}", "处罚2024年"] * 100)
    masked = mask_text(values)
    assert masked.tolist() == [mask_text(v) for v in values]
    assert values.iloc[0] == f"身份证{ID}"  # the input is left alone


def test_names():
    for name in ("张三", "张三丰", "欧阳娜娜", "买买提·艾力", "王建中", "张 三"):
        assert looks_like_name(name), name
    for other in ("霞山区鑫达餐饮店", "张记", "王家铺", "不详", "无", "湛江市鑫达贸易有限公司", "P0123456789ABCDEF"):
        assert not looks_like_name(other), other
    values = pd.Series(["张三", "霞山区鑫达餐饮店", None, "欧阳娜娜", "张记", "买买提·艾力", "张 三"])
    assert find_names(values).tolist() == [looks_like_name(v) if v else False for v in values]


# --------------------------------------------------------------------------------------------------------------
# keyed pseudonyms


def test_without_a_key_there_is_no_pseudonymiser(monkeypatch):
    monkeypatch.delenv(personal.KEY_ENV, raising=False)
    assert Pseudonymiser.from_env() is None
    monkeypatch.setenv(personal.KEY_ENV, "  ")
    assert Pseudonymiser.from_env() is None


def test_pseudonyms_are_stable_for_one_key_and_differ_for_another(tmp_path, monkeypatch):
    monkeypatch.setenv(personal.KEY_ENV, str(_key(tmp_path)))
    one = Pseudonymiser.from_env()
    again = Pseudonymiser.from_file(_key(tmp_path))
    other = Pseudonymiser.from_file(_key(tmp_path, "other", b"another key of at least sixteen bytes"))
    p = one.pseudonym(ID)
    assert personal.PSEUDONYM.fullmatch(p)
    assert p == again.pseudonym(ID) != other.pseudonym(ID)
    assert p == "P" + one.keyed_hash(ID)[:16].upper() and len(one.keyed_hash(ID)) == 64
    # the same person written differently: full-width, spaced, lower-case x, the old 15-digit number
    assert one.pseudonym("４４０８０２１９９００１０１１２３８") == p
    assert one.pseudonym("440802 19900101 1238") == p
    assert one.pseudonym(OLD_ID) == p
    assert one.pseudonym(ID_X.lower()) == one.pseudonym(ID_X)
    assert one.pseudonym("张 三") == one.pseudonym("张三") != one.pseudonym("张四")
    assert "0123456789abcdef" not in repr(one)


def test_key_file_rules(tmp_path, monkeypatch):
    with pytest.raises(PseudonymKeyError, match="outside the repository"):
        Pseudonymiser.from_file(ROOT / "secrets" / "pseudonym.key")  # refused before it is even read
    monkeypatch.chdir(ROOT)
    with pytest.raises(PseudonymKeyError, match="outside the repository"):
        Pseudonymiser.from_file("data/pseudonym.key")
    with pytest.raises(PseudonymKeyError, match="at least 16 bytes"):
        Pseudonymiser.from_file(_key(tmp_path, "short", b"too short\n"))
    monkeypatch.setenv(personal.KEY_ENV, str(tmp_path / "missing"))
    with pytest.raises(PseudonymKeyError, match="not a readable file"):
        Pseudonymiser.from_env()


def test_pseudonymise_series(tmp_path):
    ps = Pseudonymiser.from_file(_key(tmp_path))
    values = pd.Series([ID, "张三", "P0123456789ABCDEF", "", None, "440802199001011234", "abc"], dtype=object)
    out = ps.pseudonymise_series(values)
    assert out.tolist()[:5] == [ps.pseudonym(ID), ps.pseudonym("张三"), "P0123456789ABCDEF", "", None]
    assert out.tolist()[5:] == ["440802199001011234", "abc"]  # a wrong check digit is no ID: refused later


# --------------------------------------------------------------------------------------------------------------
# tables


def _record(table: contract.Table, **values) -> dict:
    return {c: values.get(c, "") for c in table.column_names}


def test_redact_for_quarantine_keeps_no_clear_value(tmp_path):
    ps = Pseudonymiser.from_file(_key(tmp_path))
    penalties = contract.table("penalties")
    record = _record(
        penalties,
        decision_no="湛市监处罚〔2025〕1号",
        entity_name="张三",
        uscc=ID,
        legal_rep_key="李四",
        facts=f"当事人身份证{ID_X}，电话13812345678",
        authority_uscc="440802199001011234",  # a mistyped ID number is still masked
        fine_amount="-1",
    )
    for pseudonymiser in (ps, None):
        out = redact_for_quarantine(penalties, record, pseudonymiser)
        dump = json.dumps(out, ensure_ascii=False)
        for clear in (ID, ID_X, "13812345678", "张三", "李四", "440802199001011234"):
            assert clear not in dump, clear
        assert out["uscc"] == "4408**********1238" and out["entity_name"] == "张**" and out["legal_rep_key"] == "李**"
        assert out["decision_no"] == record["decision_no"] and out["fine_amount"] == "-1"
    hashed = redact_for_quarantine(penalties, record, ps)[HASH_FIELD]
    assert set(hashed) == {"uscc", "entity_name", "legal_rep_key", "facts", "authority_uscc"}
    assert hashed["uscc"] == ps.keyed_hash(ID)
    assert HASH_FIELD not in redact_for_quarantine(penalties, record, None)


def test_individual_business_names_are_masked_only_when_they_are_a_persons_name():
    entities = contract.table("entities")
    bare = _record(entities, name="张三", entity_type="个体工商户")
    shop = _record(entities, name="霞山区鑫达餐饮店", entity_type="individual")
    firm = _record(entities, name="张三", entity_type="enterprise")
    assert redact_for_quarantine(entities, bare, None)["name"] == "张**"
    assert redact_for_quarantine(entities, shop, None)["name"] == "霞山区鑫达餐饮店"
    assert redact_for_quarantine(entities, firm, None)["name"] == "张三"


def test_redact_quarantine_frame(tmp_path):
    ps = Pseudonymiser.from_file(_key(tmp_path))
    roles = contract.table("roles")
    record = json.dumps(_record(roles, role_id="R1", person_key=ID, holder_uscc=ID_X), ensure_ascii=False)
    quarantine = pd.DataFrame(
        {
            "table": ["roles", "roles"],
            "file": "roles.csv",
            "row": [2, 2],
            "column": ["person_key", "holder_uscc"],
            "rule": ["pseudonym_format", "resident_id_not_uscc"],
            "value": [ID, ID_X],
            "message": ["…", "…"],
            "record": [record, record],
            "raw_line": [f"R1,{ID},{ID_X}", f"R1,{ID},{ID_X}"],
        }
    )
    for table in (roles, None):
        out = redact_quarantine(table, quarantine, ps)
        dump = out.to_csv()
        assert ID not in dump and ID_X not in dump
        assert out["value"].tolist() == ["4408**********1238", "1101**********002X"]
        assert out["raw_line"].iloc[0] == "R1,4408**********1238,1101**********002X"
        assert json.loads(out["record"].iloc[0])[HASH_FIELD]["person_key"] == ps.keyed_hash(ID)
    assert quarantine["value"].iloc[0] == ID  # the input frame is left alone
    assert redact_quarantine(roles, quarantine.iloc[:0], ps).empty


def test_mask_free_text_columns_of_accepted_rows():
    penalties = contract.table("penalties")
    typed = pd.DataFrame(
        [
            _record(penalties, entity_name="张三", facts=f"身份证{ID}，电话13812345678", basis="《广告法》第五十五条"),
            _record(penalties, entity_name="湛江市鑫达贸易有限公司", facts=None, basis=None),
        ]
    )
    out, counts = mask_free_text_columns(penalties, typed)
    assert out["facts"].iloc[0] == "身份证4408**********1238，电话138****5678"
    assert out["entity_name"].tolist() == ["张**", "湛江市鑫达贸易有限公司"]
    assert out["basis"].iloc[0] == "《广告法》第五十五条"
    assert counts["facts"] == 1 and counts["entity_name"] == 1 and counts["basis"] == 0
    assert typed["facts"].iloc[0].startswith(f"身份证{ID}")  # the input is left alone

    entities = contract.table("entities")
    typed = pd.DataFrame(
        [
            _record(entities, name="张三", entity_type="individual"),
            _record(entities, name="李四", entity_type="enterprise"),
            _record(entities, name="霞山区鑫达餐饮店", entity_type="individual"),
        ]
    )
    out, counts = mask_free_text_columns(entities, typed)
    assert out["name"].tolist() == ["张**", "李四", "霞山区鑫达餐饮店"] and counts == {"name": 1}


def test_raw_line_behind_a_pseudonymised_record_keeps_no_clear_name(tmp_path):
    """Records are built from the pseudonymised frame; the raw line still has the clear value."""
    ps = Pseudonymiser.from_file(_key(tmp_path))
    roles = contract.table("roles")
    record = _record(roles, role_id="R1", role="广告", person_key=ps.pseudonym("张三"), start_date="bad")
    quarantine = pd.DataFrame(
        {
            "table": ["roles"],
            "file": "roles.csv",
            "row": [2],
            "column": ["start_date"],
            "rule": ["invalid_date"],
            "value": ["bad"],
            "message": ["not a calendar date"],
            "record": [json.dumps(record, ensure_ascii=False)],
            "raw_line": ["R1,,广告,natural_person, 张三 ,,,bad,"],
        }
    )
    out = redact_quarantine(roles, quarantine, ps)
    assert out["raw_line"].iloc[0] == "R1,,广告,natural_person, 张** ,,,bad,"  # 广告 is a kept value, not a name
    assert json.loads(out["record"].iloc[0])["person_key"] == ps.pseudonym("张三")


def test_a_persons_name_is_masked_in_the_rest_of_its_row():
    penalties = contract.table("penalties")
    record = _record(penalties, legal_rep_key="张三", facts="当事人张三未按规定公示", fine_amount="-1")
    out = redact_for_quarantine(penalties, record, None)
    assert out["legal_rep_key"] == "张**" and out["facts"] == "当事人张**未按规定公示"
    # accepted rows: the name was pseudonymised before validation; the frame as read tells which name it was
    as_read = pd.DataFrame([_record(penalties, legal_rep_key="张三", facts="当事人张三未按规定公示")])
    typed = as_read.assign(legal_rep_key="P0123456789ABCDEF")
    masked, counts = mask_free_text_columns(penalties, typed, as_read)
    assert masked["facts"].iloc[0] == "当事人张**未按规定公示" and counts["facts"] == 1
    assert mask_free_text_columns(penalties, typed)[0]["facts"].iloc[0] == "当事人张三未按规定公示"
