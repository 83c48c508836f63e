"""Linking records without a USCC to the registry: every outcome of matching.link."""

from __future__ import annotations

import pandas as pd
import pytest
from stdnum.cn.uscc import calc_check_digit

from riskclass import contract
from riskclass.ingest import matching


def _uscc(prefix: str, division: str, body: str) -> str:
    remainder = 11 - sum(int(c) * w for c, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    partial = prefix + division + body + {10: "X", 11: "0"}.get(remainder, str(remainder))
    return partial + calc_check_digit(partial)


A = _uscc("91", "440802", "22340001")
B = _uscc("91", "440803", "22340002")
C = _uscc("92", "440803", "22340003")
D1 = _uscc("91", "440804", "22340004")
D2 = _uscc("91", "440811", "22340005")
E = _uscc("93", "440881", "22340006")
REG_A, REG_E = "440802223400011", "440881223400061"
REGISTRY = pd.DataFrame(
    {
        "uscc": [A, B, C, D1, D2, E],
        "name": [
            "湛江市甲乙贸易有限公司",
            "湛江市丙丁科技股份有限公司",
            "霞山区ＡＢ（小吃）店",
            "湛江市戊己餐饮有限公司",
            "湛江市戊己餐饮有限责任公司",  # the same name after normalisation as D1
            "廉江市庚辛农业专业合作社",
        ],
        "reg_no": [REG_A, "", "", "", "", REG_E],
    }
)


@pytest.fixture(scope="module")
def index() -> matching.RegistryIndex:
    return matching.RegistryIndex(REGISTRY, contract.NAME_VARIANTS)


def _link(index, rows):
    frame = pd.DataFrame(rows, columns=["uscc", "reg_no", "name"])
    return matching.link(frame, index)


def test_normalisation_full_width_brackets_spaces_and_legal_forms():
    norm = lambda s: matching.normalise_name(s, contract.NAME_VARIANTS)  # noqa: E731
    assert norm("湛江市 甲乙贸易有限责任公司") == norm("湛江市甲乙贸易有限公司")
    assert norm("湛江市丙丁科技股份公司") == norm("湛江市丙丁科技股份有限公司")
    assert norm("霞山区ab(小吃)店") == norm("霞山区ＡＢ（小吃）店") == "霞山区ab小吃店"
    assert norm("湛江市\u3000甲乙贸易有限公司") == norm("湛江市甲乙贸易有限公司")
    assert norm("湛江市甲乙贸易有限公司") != norm("湛江市甲乙贸易股份有限公司")  # a different legal form


def test_each_method_and_its_report(index):
    linked, unmatched, report = _link(
        index,
        [
            [A, "", "湛江市甲乙贸易有限公司"],  # uscc
            ["", REG_E, ""],  # reg_no alone
            ["", "", "湛江市 甲乙贸易有限责任公司"],  # name, legal-form variant and a space
            ["", "", "霞山区ab(小吃)店"],  # name, half-width brackets and letters
            ["", "", "湛江市丙丁科技股份公司"],  # name, 股份公司 = 股份有限公司
        ],
    )
    assert linked["uscc"].tolist() == [A, E, A, C, B]
    assert linked["link_method"].tolist() == ["uscc", "reg_no", "name", "name", "name"]
    assert unmatched == []
    assert report["linked"] == {"uscc": 1, "reg_no": 1, "name": 3}
    assert report["attempted_without_uscc"] == 4 and report["match_rate_without_uscc"] == 1.0


def test_a_given_uscc_is_never_overridden(index):
    unknown = _uscc("91", "440802", "99990001")
    linked, unmatched, report = _link(
        index, [[unknown, "", "湛江市甲乙贸易有限公司"], [B, "", "湛江市甲乙贸易有限公司"]]
    )
    assert linked["uscc"].tolist() == [unknown, B]  # the contract's rules judge it (unknown_entity)
    assert linked["link_method"].tolist() == ["uscc", "uscc"] and unmatched == []
    assert report["uscc_name_disagree"] == 2 and report["uscc_in_registry"] == 1  # both names point at A


def test_ambiguous_name_lists_the_candidates(index):
    linked, unmatched, report = _link(index, [["", "", "湛江市戊己餐饮有限公司"]])
    assert linked["link_method"].tolist() == [""] and linked["uscc"].tolist() == [""]
    ((row, rule, message),) = unmatched
    assert (row, rule) == (0, "name_ambiguous")
    assert D1 in message and D2 in message and "2 registry entities" in message
    assert report["unmatched"] == {"name_ambiguous": 1}


def test_name_not_found_and_unknown_reg_no(index):
    linked, unmatched, report = _link(
        index,
        [
            ["", "", "湛江市不存在有限公司"],
            ["", "440899000000001", ""],  # an unknown 注册号 and no name
            ["", "440899000000002", "湛江市甲乙贸易有限公司"],  # an unknown 注册号 falls back to the name
        ],
    )
    assert [(r, rule) for r, rule, _ in unmatched] == [(0, "name_not_found"), (1, "name_not_found")]
    assert "湛江市不存在有限公司" in unmatched[0][2] and "440899000000001" in unmatched[1][2]
    assert linked["uscc"].tolist() == ["", "", A] and linked["link_method"].tolist() == ["", "", "name"]
    assert report["reg_no_fell_back_to_name"] == 1


def test_codes_in_the_name_column(index):
    linked, unmatched, report = _link(
        index,
        [
            ["", "", A],  # a USCC written where the name should be
            ["", "", REG_E],  # a 注册号 there
            ["", "", "9.14408E+17"],  # a USCC a spreadsheet turned into a number
            ["", "4.40802E+14", "湛江市甲乙贸易有限公司"],  # a mangled 注册号: refused, not guessed from the name
            ["", "", "914408022234000000.0"],
        ],
    )
    assert linked["uscc"].tolist()[:2] == [A, E]
    assert linked["link_method"].tolist() == ["uscc", "reg_no", "", "", ""]
    assert [(r, rule) for r, rule, _ in unmatched] == [
        (2, "uscc_spreadsheet_mangled"),
        (3, "uscc_spreadsheet_mangled"),
        (4, "uscc_spreadsheet_mangled"),
    ]
    assert "9.14408E+17" in unmatched[0][2] and "4.40802E+14" in unmatched[1][2]
    assert report["uscc_taken_from_name"] == 1 and report["reg_no_taken_from_name"] == 1


def test_names_of_quarantined_registry_rows():
    quarantined = pd.DataFrame(
        {
            "uscc": [_uscc("91", "440883", "22340007"), "91440883BROKEN0000"],
            "name": ["吴川市壬癸实业有限公司", "吴川市子丑实业有限公司"],
            "reg_no": ["", ""],
            "row": [7, 9],
        }
    )
    index = matching.RegistryIndex(REGISTRY, contract.NAME_VARIANTS, quarantined=quarantined)
    linked, unmatched, report = _link(index, [["", "", "吴川市壬癸实业有限公司"], ["", "", "吴川市子丑实业有限公司"]])
    # a valid code: linked, so the contract's unknown_entity names the quarantined registry line
    assert linked["uscc"].tolist()[0] == quarantined["uscc"][0]
    assert report["linked_to_quarantined_registry_rows"] == 1
    ((row, rule, message),) = unmatched
    assert (row, rule) == (1, "unknown_entity") and "entities.csv line 9" in message


def test_a_registry_frame_works_as_well_as_an_index():
    linked, unmatched, _ = matching.link(
        pd.DataFrame({"name": ["湛江市甲乙贸易有限责任公司"]}), REGISTRY, contract.NAME_VARIANTS
    )
    assert linked["uscc"].tolist() == [A] and unmatched == []


def test_empty_frame(index):
    linked, unmatched, report = matching.link(pd.DataFrame({"uscc": [], "name": []}), index)
    assert len(linked) == 0 and unmatched == [] and report["rows"] == 0
