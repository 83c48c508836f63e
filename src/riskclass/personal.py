"""Natural persons' data at the ingest boundary: recognise, mask and pseudonymise.

Natural persons may appear in the data only as pseudonymous keys (``P`` + 16 hex digits). This module gives
ingest what it needs to keep it that way:

- recognition: ``resident_id_ok`` / ``old_resident_id_ok`` (GB 11643 citizen identity numbers, 18 and 15 digits),
  ``find_resident_ids`` (vectorised), ``looks_like_name`` / ``find_names`` (Chinese personal names, a heuristic);
- masking: ``mask_id`` (4408**********3211), ``mask_name`` (张**), ``mask_phone`` (138****5678) and ``mask_text``
  (every ID number and mainland mobile number inside free text; a str or a whole Series);
- keyed pseudonyms: ``Pseudonymiser`` (HMAC-SHA256 under a key kept outside the repository, in the file named
  by ``RISKCLASS_PSEUDONYM_KEY_FILE``): ``pseudonym`` (``P`` + 16 hex) and ``keyed_hash`` (64 hex);
- table level: ``mask_free_text_columns`` (accepted rows) and ``redact_for_quarantine`` / ``redact_quarantine``
  (quarantine records keep masked values and, with a key, keyed hashes — never the clear value).

Decisions:

- Whole-value ID tests come in two strengths. Strict (``resident_id_ok``: province code, plausible birth date
  and the GB 11643 check digit) decides what is *treated as a person's ID* (refused as a USCC, pseudonymised).
  Loose (province code and plausible birth date, check digit not required) decides what is *masked*: a
  mistyped ID number is still personal data.
- 15-digit numbers are read as old (pre-1999) ID numbers only in free text and person columns: 15-digit
  工商注册号 have the same shape, so a 15-digit value of an identifier column is left alone.
- Names of individual businesses (``entities.name`` where ``entity_type`` is ``individual``) are often just the
  operator's name. A name that looks like a bare personal name (2–4 Han characters starting with a common
  surname and not ending in a business word such as 店/行/部/厂, or a transliterated name with ·) is masked to
  张** in accepted rows and in the quarantine; a business name (霞山区鑫达餐饮店) is kept. ``penalties.entity_name``
  (行政相对人名称) gets the same treatment for every entity type, since a penalty may name a person.
- Names are recognised by a heuristic (surname list); a rare surname is missed. In person columns that fails
  safe: a value that is neither a pseudonymous key nor a recognised ID/name is refused by the contract.
- Names pseudonymise to one key per written name: two people called 张伟 share it. Use ID numbers when the
  source has them. ``mask_name`` always writes two stars, so the mask does not reveal the name's length.
- Quarantine raw lines are redacted too: the clear values the record's redaction changed are replaced, and
  any field that is an ID number or a name the record no longer holds in clear (it was pseudonymised) is
  masked. Records should be built from the frame as read, before pseudonymisation, so the keyed hash in the
  record is the hash of the clear value.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import hmac
import io
import json
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from riskclass.arrowtext import regex_mask, to_arrow
from riskclass.contract import Column, Table
from riskclass.contract import table as contract_table
from riskclass.keys import MIN_KEY_BYTES, KeyFileError, read_key

KEY_ENV = "RISKCLASS_PSEUDONYM_KEY_FILE"
HASH_FIELD = "_keyed_hash"  # added to a redacted quarantine record: {column: keyed hash of the clear value}
PSEUDONYM = re.compile(r"P[0-9A-F]{16}")

# GB/T 2260 province-level codes (the first two digits of a division code and of an ID number)
PROVINCES: frozenset[str] = frozenset(
    str(p) for p in (*range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47), *range(50, 55), *range(61, 66))
) | {"71", "81", "82"}
# 83: residence permits of residents from Taiwan use 830000 (81 Hong Kong, 82 Macao)
ID_PROVINCES: frozenset[str] = PROVINCES | {"83"}
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = "10X98765432"
_ID_PROVINCE_OK = np.zeros(100, dtype=bool)
_ID_PROVINCE_OK[[int(p) for p in ID_PROVINCES]] = True

# Common surnames (百家姓 and the frequent ones outside it, Guangdong's included) and compound surnames.
SURNAMES = frozenset(
    "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜戚谢邹喻柏水窦章云苏潘葛奚范彭郎鲁韦昌马"
    "苗凤花方俞任袁柳酆鲍史唐费廉岑薛雷贺倪汤滕殷罗毕郝邬安常乐于时傅皮卞齐康伍余元卜顾孟平黄和穆萧尹姚邵湛汪"
    "祁毛禹狄米贝明臧计伏成戴谈宋茅庞熊纪舒屈项祝董梁杜阮蓝闵席季麻强贾路娄危江童颜郭梅盛林刁钟徐邱骆高夏蔡田"
    "樊胡凌霍虞万支柯昝管卢莫经房裘缪干解应宗丁宣贲邓郁单杭洪包诸左石崔吉钮龚程嵇邢滑裴陆荣翁荀羊於惠甄曲家封"
    "芮羿储靳汲邴糜松井段富巫乌焦巴弓牧隗山谷车侯宓蓬全郗班仰秋仲伊宫宁仇栾暴甘钭厉戎祖武符刘景詹束龙叶幸司韶"
    "郜黎蓟薄印宿白怀蒲邰从鄂索咸籍赖卓蔺屠蒙池乔阴郁胥能苍双闻莘党翟谭贡劳逄姬申扶堵冉宰郦雍却璩桑桂濮牛寿通"
    "边扈燕冀郏浦尚农温别庄晏柴瞿阎充慕连茹习宦艾鱼容向古易慎戈廖庾终暨居衡步都耿满弘匡国文寇广禄阙东欧殳沃利"
    "蔚越夔隆师巩厍聂晁勾敖融冷訾辛阚那简饶空曾毋沙乜养鞠须丰巢关蒯相查后荆红游竺权逯盖益桓公覃麦冼邝植练招官"
    "岳帅付肖骆谌揭涂兰粟"
)
_COMPOUND = "欧阳司马上官诸葛东方皇甫尉迟公孙慕容令狐司徒夏侯长孙宇文轩辕端木南宫独孤百里呼延西门澹台"
COMPOUND_SURNAMES = frozenset(_COMPOUND[i : i + 2] for i in range(0, len(_COMPOUND), 2))
# a name ending in one of these is a business name (张记, 王家铺), not a person's
# (given names end in 轩, 堂, 园, 业, 中 … often: those are not in the list)
BUSINESS_ENDINGS = frozenset("店行铺部厂坊馆社室所场站号记吧屋档摊厅仓库院市货司廊烤面粉茶酒药菜肉烟鞋")
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_NAME_DOTS = "·・•‧･."

# --------------------------------------------------------------------------------------------------------------
# resident identity numbers (GB 11643)


def id_check_digit(first17: str) -> str:
    """GB 11643 check digit (0-9 or X) of 17 digits."""
    return _ID_CHECK[sum(int(c) * int(w) for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def _plausible_date(year: int, month: int, day: int, today: _dt.date | None = None) -> bool:
    try:
        born = _dt.date(year, month, day)
    except ValueError:
        return False
    return born.year >= 1900 and born <= (today or _dt.date.today())


def resident_id_ok(value: str, *, check_digit: bool = True, today: _dt.date | None = None) -> bool:
    """An 18-character GB 11643 identity number: a province code at positions 1–2 (of the region code at 1–6),
    a plausible birth date YYYYMMDD at 7–14 (1900 … today) and, unless ``check_digit=False``, the check digit
    (0-9 or X, lower-case x accepted) at 18. Only ASCII digits: normalise full-width input first."""
    if not isinstance(value, str) or len(value) != 18 or not value[:17].isascii() or not value[:17].isdigit():
        return False
    last = value[17].upper()
    if value[:2] not in ID_PROVINCES or last not in _ID_CHECK:
        return False
    if check_digit and id_check_digit(value[:17]) != last:
        return False
    return _plausible_date(int(value[6:10]), int(value[10:12]), int(value[12:14]), today)


def old_resident_id_ok(value: str, today: _dt.date | None = None) -> bool:
    """A 15-digit identity number (issued until 1999): province code, plausible birth date 19YYMMDD at 7–12."""
    if not isinstance(value, str) or len(value) != 15 or not value.isascii() or not value.isdigit():
        return False
    return value[:2] in ID_PROVINCES and _plausible_date(
        1900 + int(value[6:8]), int(value[8:10]), int(value[10:12]), today
    )


def upgrade_old_id(value: str) -> str:
    """The 18-digit form of a 15-digit ID number (century 19 inserted, check digit appended)."""
    first17 = value[:6] + "19" + value[6:]
    return first17 + id_check_digit(first17)


def find_resident_ids(
    values: pd.Series, *, check_digit: bool = True, old: bool = False, today: _dt.date | None = None
) -> np.ndarray:
    """Vectorised ``resident_id_ok`` (and ``old_resident_id_ok`` when ``old``): True where the whole value is one.

    Values must already be stripped; ASCII digits only. A regex pass in Arrow finds the candidates, numpy
    checks their check digit, province and birth date.
    """
    values = pd.Series(values).reset_index(drop=True)
    pattern = r"^[0-9]{17}[0-9Xx]$" + (r"|^[0-9]{15}$" if old else "")
    candidates = np.flatnonzero(regex_mask(values, pattern))
    out = np.zeros(len(values), dtype=bool)
    if not len(candidates):
        return out
    texts = values.to_numpy(dtype=object)[candidates]
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    limit = np.datetime64(today or _dt.date.today(), "D")
    for length in (18, 15):
        pick = lengths == length
        if not pick.any():
            continue
        chars = np.frombuffer("".join(texts[pick]).upper().encode("ascii"), dtype=np.uint8).reshape(-1, length)
        digits = chars.astype(np.int64) - 48
        if length == 18:
            year = digits[:, 6:10] @ [1000, 100, 10, 1]
            month, day = digits[:, 10:12] @ [10, 1], digits[:, 12:14] @ [10, 1]
            ok = np.ones(len(digits), dtype=bool)
            if check_digit:
                expected = np.frombuffer(_ID_CHECK.encode(), dtype=np.uint8)[(digits[:, :17] @ _ID_WEIGHTS) % 11]
                ok = expected == chars[:, 17]
        else:
            year = 1900 + digits[:, 6:8] @ [10, 1]
            month, day = digits[:, 8:10] @ [10, 1], digits[:, 10:12] @ [10, 1]
            ok = np.ones(len(digits), dtype=bool)
        ok &= _ID_PROVINCE_OK[digits[:, :2] @ [10, 1]]
        born = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": day}), errors="coerce")
        born = born.to_numpy(dtype="datetime64[D]")
        ok &= ~np.isnat(born) & (born >= np.datetime64("1900-01-01")) & (born <= limit)
        out[candidates[pick]] = ok
    return out


# --------------------------------------------------------------------------------------------------------------
# names

_SINGLE_NAME = re.compile(rf"[{''.join(sorted(SURNAMES))}][{_HAN}]{{1,3}}")
_COMPOUND_NAME = re.compile(rf"(?:{'|'.join(sorted(COMPOUND_SURNAMES))})[{_HAN}]{{1,2}}")
_DOTTED_NAME = re.compile(rf"[{_HAN}]{{1,12}}(?:[{_NAME_DOTS}][{_HAN}]{{1,12}}){{1,3}}")
_RE2_HAN = r"\x{3400}-\x{4dbf}\x{4e00}-\x{9fff}\x{f900}-\x{faff}"
_RE2_NAME = (
    rf"^(?:[{''.join(sorted(SURNAMES))}][{_RE2_HAN}]{{1,3}}"
    rf"|(?:{'|'.join(sorted(COMPOUND_SURNAMES))})[{_RE2_HAN}]{{1,2}}"
    rf"|[{_RE2_HAN}]{{1,12}}(?:[{_NAME_DOTS}][{_RE2_HAN}]{{1,12}}){{1,3}})$"
)
_RE2_BUSINESS_END = rf"[{''.join(sorted(BUSINESS_ENDINGS))}]$"


def _squeeze(value: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", value))


def looks_like_name(value: str) -> bool:
    """A Chinese personal name: 2–4 Han characters starting with a common surname (or 3–4 with a compound one)
    and not ending in a business word, or a transliterated name with a middle dot (买买提·艾力). Spaces and
    full-width forms are ignored. A heuristic: rare surnames are missed."""
    if not isinstance(value, str):
        return False
    v = _squeeze(value)
    if not v or v[-1] in BUSINESS_ENDINGS:
        return False
    return bool(_SINGLE_NAME.fullmatch(v) or _COMPOUND_NAME.fullmatch(v) or _DOTTED_NAME.fullmatch(v))


def find_names(values: pd.Series) -> np.ndarray:
    """Vectorised ``looks_like_name``."""
    values = pd.Series(values).reset_index(drop=True)
    arr = pc.utf8_normalize(to_arrow(values), "NFKC")
    arr = pc.replace_substring_regex(arr, r"\s+", "")
    name = pc.match_substring_regex(arr, _RE2_NAME).fill_null(False)
    business = pc.match_substring_regex(arr, _RE2_BUSINESS_END).fill_null(False)
    return pc.and_(name, pc.invert(business)).to_numpy(zero_copy_only=False).astype(bool)


# --------------------------------------------------------------------------------------------------------------
# masking


def mask_id(value: str) -> str:
    """Keep the first 4 and the last 4 characters: 440802199001013211 → 4408**********3211 (15 digits alike)."""
    v = re.sub(r"[\s\-]", "", str(value))
    if len(v) <= 8:
        return "*" * len(v)
    return v[:4] + "*" * (len(v) - 8) + v[-4:]


def mask_name(value: str) -> str:
    """Keep the surname, hide the rest and its length: 张三丰 → 张**, 欧阳娜娜 → 欧阳**, 买买提·艾力 → 买**."""
    v = _squeeze(str(value))
    if not v:
        return v
    surname = v[:2] if v[:2] in COMPOUND_SURNAMES else v[0]
    return surname + "**"


def mask_phone(value: str) -> str:
    """Keep the first 3 and the last 4 digits: 13812345678 → 138****5678."""
    digits = re.sub(r"\D", "", str(value))
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 7 else "*" * len(digits)


def mask_person_value(value: str) -> str:
    """Mask a value of a person column that is not a pseudonymous key: digit-like → ``mask_id``, else ``mask_name``."""
    v = _squeeze(str(value))
    return mask_id(v) if sum(c.isdigit() for c in v) >= 6 else mask_name(v)


# IDs: 18 characters (optionally spaced 6-8-4) or 15 digits, not inside a longer run of digits. \d is Unicode,
# so full-width digits count too.
_ID18 = r"(?<!\d)(\d{6})[ \-]?(\d{8})[ \-]?(\d{3}[\dXxＸｘ])(?![\dXxＸｘ])"
_ID_IN_TEXT = re.compile(_ID18 + r"|(?<!\d)(\d{15})(?!\d)")
_ID18_IN_TEXT = re.compile(_ID18)  # identifier columns: 15-digit numbers there are 工商注册号
_PHONE_IN_TEXT = re.compile(r"(?<!\d)((?:\+?86[ \-]?)?)([1１][3-9３-９]\d)[ \-]?(\d{4})[ \-]?(\d{4})(?!\d)")
_TEXT_CANDIDATE = r"\p{Nd}{3}[ -]?\p{Nd}{4}[ -]?\p{Nd}{4}"  # RE2 prefilter: 11+ digits, maybe spaced


def _decimal_digits(text: str) -> int:
    """How many decimal digits ``text`` holds after NFKC (what ``_digits`` and the patterns below can see)."""
    return sum(map(str.isdecimal, unicodedata.normalize("NFKC", text)))


def _digits(text: str) -> str:
    """NFKC, every decimal digit as ASCII, letters upper case (full-width ４４０８… → 4408…)."""
    return "".join(str(int(c)) if c.isdecimal() else c.upper() for c in unicodedata.normalize("NFKC", text))


def _mask_id_match(match: re.Match) -> str:
    if match.lastindex == 4:
        digits = _digits(match.group(4))
        ok = old_resident_id_ok(digits)
    else:
        digits = _digits(match.group(1) + match.group(2) + match.group(3))
        ok = resident_id_ok(digits, check_digit=False)
    return mask_id(digits) if ok else match.group(0)


def _mask_phone_match(match: re.Match) -> str:
    return match.group(1) + mask_phone(match.group(2) + match.group(3) + match.group(4))


def _mask_text_one(text: str, old: bool = True) -> str:
    ids = _ID_IN_TEXT if old else _ID18_IN_TEXT
    return _PHONE_IN_TEXT.sub(_mask_phone_match, ids.sub(_mask_id_match, text))


def mask_text(text):
    """Mask every resident ID number (18 characters, or 15 digits) and mainland mobile number (1[3-9] + 9 digits,
    +86 allowed) inside free text. ``text`` is a str (returns a str) or a Series (returns a new Series; only
    values an Arrow regex pass flags as candidates are rewritten, so 1 M rows take well under a second).
    An 18-character number is masked when its province and birth date are plausible, whatever its check digit."""
    if isinstance(text, pd.Series):
        out = text.copy()
        rows = np.flatnonzero(regex_mask(text, _TEXT_CANDIDATE))
        if len(rows):
            values = text.to_numpy(dtype=object)[rows]
            out.iloc[rows] = [_mask_text_one(v) for v in values]
        return out
    if not isinstance(text, str) or not text:
        return text
    return _mask_text_one(text)


# --------------------------------------------------------------------------------------------------------------
# keyed pseudonyms


class PseudonymKeyError(KeyFileError):
    pass


def normalise_person(value: str) -> str:
    """The form a person's identifier is hashed in: NFKC; ID numbers without spaces or hyphens, upper-case X,
    15-digit ones in their 18-digit form; names without spaces, middle dots as ·."""
    v = unicodedata.normalize("NFKC", str(value)).strip()
    compact = re.sub(r"[\s\-]", "", v)
    if re.fullmatch(r"[0-9]{17}[0-9Xx]", compact):
        return compact.upper()
    if re.fullmatch(r"[0-9]{15}", compact) and old_resident_id_ok(compact):
        return upgrade_old_id(compact)
    v = re.sub(r"\s+", "", v)
    if re.search(f"[{_HAN}]", v):
        v = re.sub(f"[{_NAME_DOTS}]", "·", v)
    return v


@dataclass(frozen=True)
class Pseudonymiser:
    """Keyed pseudonyms: HMAC-SHA256 of the normalised identifier under a secret key.

    Without the key a pseudonym cannot be reversed or recomputed from a guessed ID number; with it the same
    person always gets the same key, so records link. Rotating the key changes every pseudonym.
    """

    key: bytes = field(repr=False)
    source: str = ""  # where the key came from (never the key itself)

    def __post_init__(self) -> None:
        if not isinstance(self.key, bytes) or len(self.key) < MIN_KEY_BYTES:
            raise PseudonymKeyError(f"a pseudonymisation key needs at least {MIN_KEY_BYTES} bytes")

    @classmethod
    def from_env(cls) -> Pseudonymiser | None:
        """The key of the file named by ``RISKCLASS_PSEUDONYM_KEY_FILE``; None when the variable is unset or empty.

        A file that is missing, inside the repository or shorter than 16 bytes raises ``PseudonymKeyError``:
        a configured key that cannot be used must not silently turn pseudonymisation off."""
        value = os.environ.get(KEY_ENV, "").strip()
        return cls.from_file(Path(value)) if value else None

    @classmethod
    def from_file(cls, path: Path | str) -> Pseudonymiser:
        try:
            return cls(read_key(Path(path), KEY_ENV, "pseudonymisation key"), str(path))
        except KeyFileError as exc:
            raise PseudonymKeyError(str(exc)) from None

    def keyed_hash(self, value: str) -> str:
        """HMAC-SHA256 (64 hex digits) of the normalised value."""
        return hmac.new(self.key, normalise_person(value).encode("utf-8"), hashlib.sha256).hexdigest()

    def pseudonym(self, value: str) -> str:
        """``P`` + the first 16 hex digits (upper case) of ``keyed_hash``: the contract's person-key format."""
        return "P" + self.keyed_hash(value)[:16].upper()

    def pseudonymise_series(self, values: pd.Series) -> pd.Series:
        """Resident ID numbers (valid check digit) and personal names → pseudonyms; pseudonymous keys, empty
        values and anything else unchanged (the contract then refuses what is left). A callable for
        ``ingest.adapters`` (``pseudonymise=``) as well."""
        values = pd.Series(values)
        todo = np.flatnonzero(~regex_mask(values, r"^P[0-9A-F]{16}$|^$") & values.notna().to_numpy())
        if not len(todo):
            return values
        candidates = values.iloc[todo]
        mapping = {}
        for v in pd.unique(candidates):
            person = person_identifier(v)
            if person is not None:
                mapping[v] = self.pseudonym(person)
        if not mapping:
            return values
        out = values.copy()
        out.iloc[todo] = candidates.map(lambda v: mapping.get(v, v)).to_numpy(dtype=object)
        return out


def person_identifier(value: str) -> str | None:
    """The normalised ID number (valid check digit; 15-digit ones upgraded) or name in ``value``, else None."""
    if not isinstance(value, str):
        return None
    normal = normalise_person(value)
    if resident_id_ok(normal):
        return normal
    if looks_like_name(normal):
        return normal
    return None


# --------------------------------------------------------------------------------------------------------------
# tables: accepted rows and quarantine records

# Columns that may hold a natural person's name: (table, column) → entity types it applies to (None: every row)
NAME_COLUMNS: dict[tuple[str, str], frozenset[str] | None] = {
    ("entities", "name"): frozenset({"individual", "个体工商户"}),
    ("penalties", "entity_name"): None,
}


def _applies(table: Table, column: str, entity_type: str | None) -> bool:
    key = (table.name, column)
    if key not in NAME_COLUMNS:
        return False
    types = NAME_COLUMNS[key]
    return types is None or entity_type in types


def mask_free_text_columns(
    table: Table, typed: pd.DataFrame, as_read: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Mask personal data in the free-text columns of accepted rows: ID and mobile numbers inside every ``text``
    column, and bare personal names in ``NAME_COLUMNS``. Returns (frame, values changed per text column).

    ``as_read``: the same rows as read (before pseudonymisation), if the caller has them: a name that stood in a
    person column of a row (e.g. 法定代表人 张三, now a pseudonymous key) is then also masked wherever it occurs
    in that row's free text (当事人张三… → 当事人张**)."""
    out, counts = typed, {}
    known = _names_in_person_columns(table, as_read) if as_read is not None else {}
    for col in table.columns:
        if col.kind != "text" or col.name not in typed:
            continue
        before = typed[col.name]
        after = mask_text(before)
        if (table.name, col.name) in NAME_COLUMNS:
            types = NAME_COLUMNS[(table.name, col.name)]
            applies = np.ones(len(typed), dtype=bool)
            if types is not None:
                applies = typed["entity_type"].isin(types).to_numpy(dtype=bool) if "entity_type" in typed else ~applies
            rows = np.flatnonzero(applies)
            rows = rows[find_names(after.iloc[rows])] if len(rows) else rows
            if len(rows):
                after = after.copy()
                after.iloc[rows] = [mask_name(v) for v in after.to_numpy(dtype=object)[rows]]
        if known:
            after = after.copy()
            for row, names in known.items():
                value = after.iloc[row]
                if isinstance(value, str):
                    after.iloc[row] = _replace_all(value, names)
        out = replace_column(out, typed, col.name, before, after, counts)
    return out, counts


def replace_column(
    out: pd.DataFrame, original: pd.DataFrame, name: str, before: pd.Series, after: pd.Series, counts: dict
) -> pd.DataFrame:
    """``out`` with column ``name`` set to ``after`` when it differs from ``before`` (copied once, so ``original``
    is never modified); the number of changed values goes to ``counts[name]``."""
    changed = int((before.to_numpy(dtype=object) != after.to_numpy(dtype=object)).sum())
    counts[name] = changed
    if changed:
        out = out.copy() if out is original else out
        out[name] = after
    return out


def _names_in_person_columns(table: Table, as_read: pd.DataFrame) -> dict[int, dict[str, str]]:
    """{row position: {clear name: masked name}} for the names written in the person columns of ``as_read``."""
    known: dict[int, dict[str, str]] = {}
    for col in table.columns:
        if col.kind != "pseudonym" or col.name not in as_read:
            continue
        values = as_read[col.name].reset_index(drop=True)
        for row in np.flatnonzero(find_names(values)):
            name = _squeeze(values.iloc[row])
            known.setdefault(int(row), {})[name] = mask_name(name)
    return known


def _replace_all(text: str, replacements: dict[str, str]) -> str:
    for clear in sorted(replacements, key=len, reverse=True):
        text = text.replace(clear, replacements[clear])
    return text


def _column(table: Table, name: str) -> Column | None:
    return next((c for c in table.columns if c.name == name), None)


def redact_value(table: Table, column: str, value, entity_type: str | None = None):
    """What the quarantine may show of one raw value.

    Person columns: a pseudonymous key as it is, anything else masked. Any column: a whole value that is an
    ID number (loose test; 15 digits only in text and person columns) → ``mask_id``. Name columns
    (``NAME_COLUMNS``): a bare personal name → ``mask_name``. Otherwise IDs and mobile numbers inside the text
    are masked (``mask_text``)."""
    if not isinstance(value, str) or not value:
        return value
    col = _column(table, column)
    kind = col.kind if col is not None else "text"
    if kind == "pseudonym":
        return value if PSEUDONYM.fullmatch(value) else mask_person_value(value)
    applies = _applies(table, column, entity_type)
    if not applies and _decimal_digits(value) < 11:  # no ID (15+ digits) nor mobile number (11) can be inside
        return value
    compact = re.sub(r"[\s\-]", "", _digits(value))
    if resident_id_ok(compact, check_digit=False) or (kind == "text" and old_resident_id_ok(compact)):
        return mask_id(compact)
    if applies and looks_like_name(value):
        return mask_name(value)
    return _mask_text_one(value, old=kind == "text")


def redact_for_quarantine(table: Table, record: dict, pseudonymiser: Pseudonymiser | None) -> dict:
    """The quarantine's copy of one original row: every value through ``redact_value``, and the names that stand
    in the row's person columns (or its bare-name columns) masked wherever else they occur in the row; with a
    key, the keyed hash of each clear value that was changed under ``HASH_FIELD`` ({column: hash}), so a key
    holder can still match the row to a person or a source record."""
    entity_type = record.get("entity_type") if table.name == "entities" else None
    out = {column: redact_value(table, column, value, entity_type) for column, value in record.items()}
    names = {
        _squeeze(value): out[column]
        for column, value in record.items()
        if isinstance(value, str) and out[column] != value and looks_like_name(value)
    }
    if names:
        out = {k: _replace_all(v, names) if isinstance(v, str) else v for k, v in out.items()}
    hashes = {}
    if pseudonymiser is not None:
        hashes = {k: pseudonymiser.keyed_hash(v) for k, v in record.items() if isinstance(v, str) and out[k] != v}
    if hashes:
        out[HASH_FIELD] = hashes
    return out


def redact_quarantine(
    table: Table | None, quarantine: pd.DataFrame, pseudonymiser: Pseudonymiser | None
) -> pd.DataFrame:
    """``redact_for_quarantine`` over a quarantine frame: rewrites ``record`` (JSON of the original row),
    ``value`` (the offending value, redacted as its column), ``raw_line`` (every clear value the record's
    redaction changed is replaced by its masked form, then ``mask_text``) and ``message`` (``mask_text``).
    ``table`` None: each row's table is taken from the frame's ``table`` column. Each distinct record is
    redacted once."""
    if not len(quarantine):
        return quarantine
    q = quarantine.copy()
    tables = [table] * len(q) if table is not None else [contract_table(t) for t in q["table"].astype(str).to_numpy()]
    cache: dict[tuple[str, str], tuple[str, dict, dict]] = {}
    records, values, lines = [], [], []
    has_line = "raw_line" in q
    raw_lines = q["raw_line"].to_numpy(dtype=object) if has_line else [None] * len(q)
    for t, record, column, value, line in zip(
        tables,
        q["record"].to_numpy(dtype=object),
        q["column"].to_numpy(dtype=object),
        q["value"].to_numpy(dtype=object),
        raw_lines,
        strict=True,
    ):
        key = (t.name, record)
        if key not in cache:
            original = json.loads(record) if isinstance(record, str) and record else {}
            redacted = redact_for_quarantine(t, original, pseudonymiser)
            cache[key] = (json.dumps(redacted, ensure_ascii=False), original, redacted)
        text, original, redacted = cache[key]
        records.append(text if original else record)
        if column in original and original[column] == value:
            values.append(redacted[column])
        else:
            entity_type = original.get("entity_type") if t.name == "entities" else None
            values.append(redact_value(t, str(column), value, entity_type))
        if has_line:
            lines.append(_redact_line(line, original, redacted))
    q["record"] = records
    q["value"] = values
    if has_line:
        q["raw_line"] = lines
    if "message" in q:
        messages = q["message"].to_numpy(dtype=object)
        masked = {m: _mask_text_one(m, old=False) for m in set(messages) if isinstance(m, str)}
        q["message"] = [masked.get(m, m) if isinstance(m, str) else m for m in messages]
    return q


def _redact_line(line, original: dict, redacted: dict):
    """A raw line as the quarantine may show it: the clear values the record's redaction changed are replaced by
    their masked forms; then any field that is a person's ID number or name and is not a value the redaction
    kept (e.g. the clear value behind a pseudonymised one) is masked; then IDs and phones in what is left."""
    if not isinstance(line, str) or not line:
        return line
    changed = sorted(
        ((v, redacted[k]) for k, v in original.items() if isinstance(v, str) and v and redacted.get(k) != v),
        key=lambda pair: -len(pair[0]),
    )
    for clear, masked in changed:
        line = line.replace(clear, masked)
    kept = {v for k, v in original.items() if isinstance(v, str) and redacted.get(k) == v}
    try:
        fields = next(csv.reader(io.StringIO(line)), [])
    except csv.Error:
        fields = []
    for f in sorted({f.strip() for f in fields}, key=len, reverse=True):
        if not f or f in kept or (f.isascii() and _decimal_digits(f) < 15):  # ASCII: no name, and too few digits
            continue
        if person_identifier(f) is not None:
            line = line.replace(f, mask_person_value(f))
    return _mask_text_one(line, old=False)  # 15-digit old IDs were handled above, through their column
