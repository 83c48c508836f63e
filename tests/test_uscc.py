import numpy as np
import pandas as pd
import pytest
from stdnum.cn import uscc as stdnum_uscc

from riskclass import uscc


def test_generated_codes_are_valid_unique_and_typed():
    rng = np.random.default_rng(0)
    prefixes = np.array(["91", "92", "93"] * 500, dtype=object)
    divisions = np.array(["440802"] * 1500, dtype=object)
    out = uscc.generate(rng, prefixes, divisions)
    assert all(stdnum_uscc.is_valid(c) for c in out)
    assert len(set(out)) == len(out)
    assert [c[:2] for c in out[:3]] == ["91", "92", "93"]


def test_check_results_on_real_and_broken_codes():
    values = pd.Series(
        [
            "91110108551385082Q",
            "91110000600037341L",
            uscc.corrupt_check_character("91110108551385082Q"),
            "9111010855138508",
            "91110108551385082q",
            "",
            "9111010855138508IQ",
        ]
    )
    fmt, chk = uscc.check_results(values)
    assert fmt.tolist() == [True, True, True, False, False, False, False]
    assert chk.tolist() == [True, True, False, False, False, False, False]


# --------------------------------------------------------------------------------------------------------------
# GB 32100 as the standard defines it (riskclass.uscc.outcome / outcomes)


def _code(first17: str) -> str:
    return first17 + uscc.calc_check_character(first17)


def _rule(value: str) -> str:
    return uscc.OUTCOMES[uscc.outcome(value)] or "ok"


def test_check_character_is_python_stdnums():
    rng = np.random.default_rng(5)
    for _ in range(5000):
        first17 = "".join(rng.choice(list("0123456789"), 8)) + "".join(rng.choice(list(uscc.ALPHABET), 9))
        assert uscc.calc_check_character(first17) == stdnum_uscc.calc_check_digit(first17)


def test_the_gb32100_table():
    assert sorted(uscc.DEPARTMENTS) == ["1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "N", "Y"]
    assert len(uscc.PREFIXES) == 36
    assert uscc.DEPARTMENTS["9"][1] == {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"}
    assert uscc.DEPARTMENTS["N"][1]["1"] == "组级集体经济组织"
    assert "Y1" in uscc.PREFIXES and "Y9" not in uscc.PREFIXES and "94" not in uscc.PREFIXES


@pytest.mark.parametrize("prefix", sorted(uscc.PREFIXES))
def test_every_department_and_type_of_the_table_is_accepted(prefix):
    code = _code(f"{prefix}440802MA4W12345")
    assert _rule(code) == "ok", code
    assert uscc.describe(code)  # named in the table
    assert prefix in uscc.PREFIXES


def test_letters_in_position_1_that_python_stdnum_refuses():
    for code in ("N1440802MA4W12345N", "A1440802MA4W123453", "Y1440802MA4W12345E"):
        assert _rule(code) == "ok"
        assert not stdnum_uscc.is_valid(code)  # stdnum wants digits in positions 1–8
    assert uscc.describe("N2440802MA4W12345K") == "N 农业 / 2 村级集体经济组织"


@pytest.mark.parametrize("prefix", ["94", "99", "90", "B1", "Y2", "A2", "N4", "00", "18", "54", "K1"])
def test_unknown_department_or_type_is_refused(prefix):
    assert _rule(_code(f"{prefix}440802MA4W12345")) == "uscc_department"


def test_division_positions_3_to_8():
    assert _rule("911000000000192465") == "ok"  # national level (100000)
    assert _rule(_code("91990000MA4W12345")) == "uscc_format"  # no province 99
    assert _rule(_code("914408A2MA4W12345")) == "uscc_format"  # letters in the division


@pytest.mark.parametrize(
    "value",
    [
        "000000000000000000",
        "00000000000000000X",
        "111111111111111111",
        "XXXXXXXXXXXXXXXXXX",
        "123456789012345678",
        "987654321098765432",
        "012345678901234567",
        "91440802000000000X",  # organisation code one repeated character
        "无",
        "0",
        "/",
        "-",
        "NULL",
    ],
)
def test_placeholders_have_their_own_rule(value):
    assert _rule(value) == "uscc_placeholder"


@pytest.mark.parametrize(
    "value",
    ["9.111E+17", "9.14401E+17", "9,14401E+17", "9.144080212345678e+17", "914408021234567000.0", "9E+17"],
)
def test_spreadsheet_mangling_has_its_own_rule(value):
    assert _rule(value) == "uscc_spreadsheet_mangled"


def test_digits_rounded_to_000_by_a_spreadsheet():
    rounded = "914408021234567000"
    assert uscc.calc_check_character(rounded[:17]) != rounded[17]
    assert _rule(rounded) == "uscc_spreadsheet_mangled"
    # a real code may end in 000 when its check character is right; a lone E between digits is a real code too
    assert _rule(_code("91440802123456700")) in ("ok", "uscc_spreadsheet_mangled")
    real_e = _code("914408021234567E8")
    assert _rule(real_e) == "ok"


def test_resident_id_is_never_a_uscc_even_when_the_check_character_fits():
    assert _rule("440802199001011238") == "resident_id_not_uscc"
    assert _rule("11010519491231002X") == "resident_id_not_uscc"
    # an ID whose digits also pass GB 32100 (11 = 机构编制/机关, 110105 a division, USCC check fits)
    both = next(
        f"11010519900101{s:03d}" + uscc.calc_check_character(f"11010519900101{s:03d}")
        for s in range(1000)
        if uscc.calc_check_character(f"11010519900101{s:03d}") == _id_check(f"11010519900101{s:03d}")
    )
    assert stdnum_uscc.is_valid(both)
    assert _rule(both) == "resident_id_not_uscc"
    # all-digit codes that are no ID (check digit or birth date wrong) are judged as codes
    assert _rule("123502001549897397") == "ok"  # a real 事业单位 code: year 0015 is no birth date
    assert _rule("440802199001011234") != "resident_id_not_uscc"  # ID check digit wrong


def _id_check(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights, strict=True)) % 11]


def test_real_codes_and_the_gb11714_decision():
    for code in ("91110108551385082Q", "91110000600037341L", "91350200776049653A", "91230184MA1BUFLT44"):
        assert _rule(code) == "ok" and uscc.org_code_ok(code[8:17])
    # the organisation-code check (positions 9–17) is not enforced: the fixtures' codes fail it and are accepted
    assert not uscc.org_code_ok("91440802123456789F"[8:17])
    assert _rule("91440802123456789F") == "ok"


def test_vectorised_outcomes_equal_the_scalar_ones():
    rng = np.random.default_rng(9)
    n = 20_000
    prefixes = rng.choice(np.array(["91", "92", "93", "12", "N1", "Y1", "X1", "00", "95"], dtype=object), n)
    divisions = rng.choice(np.array(["440802", "110119", "100000", "990000"], dtype=object), n)
    values = list(uscc.generate(rng, prefixes, divisions))
    for i in range(0, n, 3):  # one wrong character
        v = list(values[i])
        v[rng.integers(0, 18)] = uscc.ALPHABET[rng.integers(0, 31)]
        values[i] = "".join(v)
    for i in range(1, n, 11):
        values[i] = values[i][:15] + "000"
    for i in range(2, n, 13):  # resident ID numbers
        born = f"{rng.integers(1930, 2020)}0{rng.integers(1, 10)}1{rng.integers(0, 9)}"
        first17 = f"{rng.choice([11, 12, 44, 51]):02d}0105{born}{rng.integers(100, 999)}"
        values[i] = first17 + _id_check(first17)
    values += [
        "",
        "无",
        "9.14401E+17",
        "９１４４",
        "91440802123456789f",
        "000000000000000000",
        "４４０８０２１９９００１０１１２３８",
    ]
    series = pd.Series(values, dtype=object)
    uscc.outcome.cache_clear()
    vectorised = uscc.outcomes(series)
    scalar = np.array([uscc.outcome(v) for v in values])
    assert (vectorised == scalar).all()
    assert set(vectorised) >= {uscc.OK, uscc.CHECK, uscc.RESIDENT_ID, uscc.MANGLED, uscc.DEPARTMENT, uscc.FORMAT}


def test_outcomes_of_missing_and_non_text_values():
    out = uscc.outcomes(pd.Series(["91110108551385082Q", None, np.nan, 914401], dtype=object))
    assert [uscc.OUTCOMES[i] for i in out] == ["", "uscc_format", "uscc_format", "uscc_format"]
    _, valid = uscc.check_results(pd.Series(["91110108551385082Q", "000000000000000000"], dtype="string"))
    assert valid.tolist() == [True, False]


def test_synthetic_codes_never_collide_with_resident_ids():
    rng = np.random.default_rng(20261027)
    n = 100_000
    prefixes = rng.choice(np.array(["91", "92", "93"], dtype=object), n)
    divisions = rng.choice(np.array(["440802", "440803", "440804", "440811", "440881"], dtype=object), n)
    codes = pd.Series(uscc.generate(rng, prefixes, divisions))
    out = uscc.outcomes(codes)
    assert (out == uscc.OK).all()  # never a placeholder either (no organisation code 00000000)
