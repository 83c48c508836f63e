"""统一社会信用代码 (GB 32100-2015): validation as the standard defines it, and generation for the synthetic city.

Structure of the 18 characters (alphabet ``0-9 A-H J-N P Q R T U W X Y``, no I O S V Z):

- position 1      registering department (登记管理部门代码) and
- position 2      institution type (机构类别代码): only the pairs of ``DEPARTMENTS`` below exist;
- positions 3–8   the registering authority's administrative division (GB/T 2260, six digits);
- positions 9–17  the subject identifier (主体标识码, the GB 11714 organisation code: 8 characters + check);
- position 18     the check character over positions 1–17 (GB/T 17710, modulus 31; the same calculation as
                  python-stdnum's ``stdnum.cn.uscc.calc_check_digit``, which the tests use as the reference).

The GB 11714 check of positions 9–17 is computed (``org_code_ok``) but NOT enforced. GB 32100 validators
in use (python-stdnum, Hutool's CreditCodeUtil) do not check it, and it would add almost nothing: the
position-18 character is a modulus-31 check over positions 1–17 whose weights are all non-zero mod 31, so
it already catches every single wrong character and every swap of neighbours in positions 9–17. Enforcing
it would refuse codes that GB 32100 itself accepts (the project's hand-made fixtures are such codes);
positions 9–17 filled with one repeated character are refused by the placeholder rule.

Every raw value gets exactly one outcome (``OUTCOMES``), computed once per distinct value (cached), because
every table repeats the registry's codes. The order matters and is documented in ``outcome``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from operator import mul

import numpy as np
import pandas as pd

from riskclass.personal import ID_PROVINCES, PROVINCES, resident_id_ok

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_GB11714_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

# GB 32100-2015's table of registering departments (登记管理部门代码) and institution types (机构类别代码) as it is
# reproduced today, A (中央军委改革和编制办公室) and N (农业) included. Source: the public explanation "统一社会信用代码
# 解析登记管理部门和机构类别" (blog.csdn.net/lh1424573495/article/details/108776492; the same text at
# osuse.cn/post/10002590.html and ddrv.cn/?p=726373); not checked against the standard's own text. python-stdnum
# documents the structure but not the table, and accepts only digits in positions 1–8 (it refuses A/N/Y codes).
DEPARTMENTS: dict[str, tuple[str, dict[str, str]]] = {
    "1": ("机构编制", {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"}),
    "2": ("外交", {"1": "外国常住新闻机构", "9": "其他"}),
    "3": (
        "司法行政",
        {
            "1": "律师执业机构",
            "2": "公证处",
            "3": "基层法律服务所",
            "4": "司法鉴定机构",
            "5": "仲裁委员会",
            "9": "其他",
        },
    ),
    "4": ("文化", {"1": "外国在华文化中心", "9": "其他"}),
    "5": ("民政", {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"}),
    "6": (
        "旅游",
        {"1": "外国旅游部门常驻代表机构", "2": "港澳台地区旅游部门常驻内地（大陆）代表机构", "9": "其他"},
    ),
    "7": ("宗教", {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"}),
    "8": ("工会", {"1": "基层工会", "9": "其他"}),
    "9": ("工商（市场监督管理）", {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"}),
    "A": ("中央军委改革和编制办公室", {"1": "军队事业单位", "9": "其他"}),
    "N": ("农业", {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织", "9": "其他"}),
    "Y": ("其他", {"1": "其他（不再具体划分机构类别）"}),
}
PREFIXES: frozenset[str] = frozenset(d + t for d, (_, types) in DEPARTMENTS.items() for t in types)

# Registering authorities sit in a GB/T 2260 province (personal.PROVINCES); 10 is the national level (100000,
# e.g. codes issued by SAMR itself) and 66 is accepted as a precaution for the Xinjiang Production and
# Construction Corps' registers (not a GB/T 2260 province).
_DIVISION_PREFIXES = PROVINCES | {"10", "66"}
# one outcome per value, in the order they are tested; "" = a valid USCC
OUTCOMES: tuple[str, ...] = (
    "",
    "uscc_spreadsheet_mangled",
    "resident_id_not_uscc",
    "uscc_placeholder",
    "uscc_format",
    "uscc_department",
    "uscc_check",
)
OK, MANGLED, RESIDENT_ID, PLACEHOLDER, FORMAT, DEPARTMENT, CHECK = range(len(OUTCOMES))

_CANONICAL = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}")
# 9.14401E+17, 9,14401E+17, 9.144010212345678e+17, 914401021234567000.0: a spreadsheet turned the code into a number
# (a real code never holds "+", "." or ","; a lone E between digits can be a real code: 914408021234567E89)
_SCIENTIFIC = re.compile(
    r"[+-]?[0-9]+(?:[.,][0-9]*)?[Ee]\+[0-9]+|[+-]?[0-9]+[.,][0-9]*[Ee][+-]?[0-9]+|[0-9]{15,18}[.,]0+"
)
_NULL_MARKERS = frozenset(
    {"0", "无", "暂无", "不详", "未知", "空", "/", "\\", "-", "--", "—", "——", "*", "null", "none", "nan", "n/a", "na"}
)
_SEQUENCES = frozenset(
    "".join(str((start + step * i) % 10) for i in range(17)) for start in range(10) for step in (1, -1)
)


def calc_check_character(first17: str) -> str:
    """The GB 32100 check character of 17 characters of the alphabet (as python-stdnum computes it)."""
    return ALPHABET[-sum(map(mul, map(_VALUE.__getitem__, first17), _WEIGHTS)) % 31]


def org_code_ok(code9: str) -> bool:
    """GB 11714 check of an organisation code (8 characters + check character; letters count 10–35)."""
    if len(code9) != 9 or not code9[:8].isascii() or not code9[:8].isalnum():
        return False
    total = sum(int(c, 36) * w for c, w in zip(code9[:8].upper(), _GB11714_WEIGHTS, strict=True))
    return code9[8] == {10: "X", 11: "0"}.get(11 - total % 11, str(11 - total % 11))


def is_placeholder(value: str) -> bool:
    """Values that stand for "no code": 无, 0, all zeros, one repeated character, 123456789012345678 …"""
    if len(value) != 18:
        return value.lower() in _NULL_MARKERS
    first17 = value[:17]
    return first17.count(value[0]) == 17 or value[8:17].count(value[8]) == 9 or first17 in _SEQUENCES


@lru_cache(maxsize=2_000_000)
def outcome(value: str) -> int:
    """Index into ``OUTCOMES`` for one raw value (cached: every table repeats the registry's codes).

    Tested in this order, the first that applies wins:
    1. ``uscc_spreadsheet_mangled``: scientific notation (9.14401E+17) or a float rendering (….0);
    2. ``resident_id_not_uscc``: a valid resident identity number, even if it would also pass as a USCC
       (positions 1–2 of an ID are a province code, several of which are department+type pairs too);
    3. ``uscc_placeholder``: see ``is_placeholder``;
    4. ``uscc_format``: not 18 characters of the alphabet in canonical form (upper case, no spaces), or
       positions 3–8 not a six-digit division code of a province;
    5. ``uscc_department``: positions 1–2 are not a department and institution type of ``DEPARTMENTS``;
    6. ``uscc_check``: the check character does not match; if the value is all digits and ends in 000 it is
       reported as ``uscc_spreadsheet_mangled`` instead (a spreadsheet keeps 15 significant digits).
    """
    if ("." in value or "+" in value or "," in value) and _SCIENTIFIC.fullmatch(value):
        return MANGLED
    if resident_id_ok(value):
        return RESIDENT_ID
    if is_placeholder(value):
        return PLACEHOLDER
    if not _CANONICAL.fullmatch(value) or value[2:4] not in _DIVISION_PREFIXES:
        return FORMAT
    if value[:2] not in PREFIXES:
        return DEPARTMENT
    if calc_check_character(value[:17]) != value[17]:
        return MANGLED if value.endswith("000") and value.isdigit() else CHECK
    return OK


def outcomes(values: pd.Series) -> np.ndarray:
    """``outcome`` of every value (int8 indices into ``OUTCOMES``); missing values count as ``uscc_format``.

    Each distinct value is judged once: the usual ones (18 characters of the alphabet) with numpy over the
    distinct values, the rest one by one through the cached ``outcome``. Both give the same answer (tested).
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    uniques = np.asarray(uniques, dtype=object)
    if pd.api.types.infer_dtype(uniques, skipna=False) not in ("string", "empty"):
        uniques = np.array([str(v) for v in uniques], dtype=object)
    per_unique = _outcomes_of_distinct(uniques)
    out = np.full(len(codes), FORMAT, dtype=np.int8)
    known = codes >= 0
    out[known] = per_unique[codes[known]]
    return out


_LOOKUP = np.full(256, -1, dtype=np.int16)  # byte → alphabet value (-1: not in the alphabet)
_LOOKUP[np.frombuffer(ALPHABET.encode(), dtype=np.uint8)] = np.arange(len(ALPHABET))
_PAIR_OK = np.zeros((31, 31), dtype=bool)  # (value of position 1, value of position 2) in PREFIXES
for _prefix in PREFIXES:
    _PAIR_OK[_VALUE[_prefix[0]], _VALUE[_prefix[1]]] = True
_DIVISION_OK = np.zeros(100, dtype=bool)
_DIVISION_OK[[int(p) for p in _DIVISION_PREFIXES]] = True
_ID_PROVINCE_OK = np.zeros(100, dtype=bool)
_ID_PROVINCE_OK[[int(p) for p in ID_PROVINCES]] = True


def _outcomes_of_distinct(uniques: np.ndarray) -> np.ndarray:
    result = np.empty(len(uniques), dtype=np.int8)
    lengths = np.fromiter(map(len, uniques), dtype=np.int64, count=len(uniques))
    fast = np.flatnonzero(lengths == 18)
    raw = "".join(uniques[fast]).encode("utf-8", "surrogatepass")
    if len(raw) != 18 * len(fast):  # some 18-character value is not ASCII: judge those one by one
        ascii_ = np.fromiter((v.isascii() for v in uniques[fast]), dtype=bool, count=len(fast))
        fast = fast[ascii_]
        raw = "".join(uniques[fast]).encode("ascii")
    chars = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 18)
    values = _LOOKUP[chars]
    in_alphabet = (values >= 0).all(axis=1)
    fast, chars, values = fast[in_alphabet], chars[in_alphabet], values[in_alphabet]
    slow = np.ones(len(uniques), dtype=bool)
    slow[fast] = False
    result[slow] = [outcome(v) for v in uniques[slow]]
    if not len(fast):
        return result

    digits17 = (values[:, :17] < 10).all(axis=1)
    first2 = values[:, 0] * 10 + values[:, 1]
    # resident identity numbers need a province prefix and 17 digits: rare here, judged one by one
    maybe_id = digits17 & _ID_PROVINCE_OK[np.where(digits17, first2, 0)]
    resident = np.zeros(len(fast), dtype=bool)
    resident[maybe_id] = [resident_id_ok(v) for v in uniques[fast[maybe_id]]]
    steps = np.diff(values[:, :17], axis=1) % 10
    placeholder = (
        (chars[:, :17] == chars[:, :1]).all(axis=1)
        | (chars[:, 8:17] == chars[:, 8:9]).all(axis=1)
        | (digits17 & ((steps == 1).all(axis=1) | (steps == 9).all(axis=1)))
    )
    division_digits = (values[:, 2:8] < 10).all(axis=1)
    division = division_digits & _DIVISION_OK[np.where(division_digits, values[:, 2] * 10 + values[:, 3], 0)]
    department = _PAIR_OK[values[:, 0], values[:, 1]]
    check = (-(values[:, :17] @ np.array(_WEIGHTS))) % 31 == values[:, 17]
    mangled = digits17 & (values[:, 17] < 10) & (chars[:, 15:18] == ord("0")).all(axis=1)
    result[fast] = np.select(
        [resident, placeholder, ~division, ~department, check, mangled],
        [RESIDENT_ID, PLACEHOLDER, FORMAT, DEPARTMENT, OK, MANGLED],
        default=CHECK,
    )
    return result


def check_results(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(format_ok, valid) per value, for callers that only need the two flags.

    ``format_ok``: structurally a USCC whose only possible fault is the check character; ``valid``: accepted.
    """
    result = outcomes(values)
    return (result == OK) | (result == CHECK), result == OK


def describe(value: str) -> str:
    """'9 工商（市场监督管理） / 1 企业' for a code's positions 1–2 (empty when they are not in the table)."""
    department = DEPARTMENTS.get(value[:1])
    if department is None or value[1:2] not in department[1]:
        return ""
    return f"{value[0]} {department[0]} / {value[1]} {department[1][value[1]]}"


def generate(
    rng: np.random.Generator, prefixes: np.ndarray, divisions: np.ndarray, bodies_from: tuple[int, int] = (0, 10**8)
) -> np.ndarray:
    """Unique, valid USCCs: prefix (91/92/93) + registering division + organisation code + check.

    The organisation code is 8 random digits (unique across the batch, never 00000000, which would be a
    placeholder) plus its GB 11714 check character; the final check character is GB 32100's. ``bodies_from``
    (low, high) restricts the 8 digits to ``low ≤ body < high``: the shards of a large city take disjoint
    ranges, so their codes cannot collide.
    """
    n = len(prefixes)
    low, high = bodies_from
    bodies = low + rng.choice(high - low, size=n, replace=False)
    if n and (bodies == 0).any():  # keep the random stream (and every existing city) unchanged otherwise
        taken = set(bodies.tolist())
        bodies[bodies == 0] = next(b for b in range(1, high) if b not in taken)
    out = np.empty(n, dtype=object)
    for i in range(n):
        body = f"{bodies[i]:08d}"
        partial = f"{prefixes[i]}{divisions[i]}{body}{_org_code_check(body)}"
        out[i] = partial + calc_check_character(partial)
    return out


def _org_code_check(body: str) -> str:
    """GB 11714 organisation-code check character for an 8-digit body."""
    remainder = 11 - sum(int(c) * w for c, w in zip(body, _GB11714_WEIGHTS, strict=True)) % 11
    return {10: "X", 11: "0"}.get(remainder, str(remainder))


def corrupt_check_character(value: str) -> str:
    """The same code with a wrong check character (a typical transcription error)."""
    current = ALPHABET.index(value[-1])
    return value[:-1] + ALPHABET[(current + 7) % len(ALPHABET)]
