"""Linking records without a USCC to the registry: by 注册号, then by normalised name.

``link(frame, registry, variants) -> (linked, unmatched, report)``

- ``frame``: one row per record with the identity found in the file: ``uscc``, ``reg_no``, ``name`` (text,
  "" when absent; missing columns count as empty).
- ``registry``: the accepted ``entities`` (``uscc``, ``name``, optional ``reg_no``) or a prebuilt
  ``RegistryIndex`` (build it once per ingest: 1 M entities take a few seconds).
- ``variants``: legal-form wordings that name the same form (``contract.NAME_VARIANTS``).

A USCC given in the record is never overridden: it is kept as it is (method ``uscc``) and the contract's
rules judge it (format, check character, a spreadsheet's 9.14408E+17, unknown entity). A USCC written in the
name column is taken as the code. Otherwise the 注册号 is looked up, then the name: NFKC (full-width →
half-width), no spaces or brackets, Latin letters lower case, legal-form variants to one wording. An exact,
unique match links the record (``link_method`` ``reg_no`` / ``name``); several entities with the name →
``name_ambiguous`` with their USCCs, none → ``name_not_found``; a code a spreadsheet turned into a number
(in the name or 注册号 column) → ``uscc_spreadsheet_mangled``. When ``quarantined`` registry rows are given, a
name or 注册号 found only among them links to that row's USCC (the contract's ``unknown_entity`` rule then
names the quarantined registry line) or, when that USCC is itself invalid, is reported as ``unknown_entity``.

``linked``: ``uscc`` (the code to validate) and ``link_method`` per row, in the frame's order.
``unmatched``: ``(row position, rule, message)``. ``report``: counts per method and per rule.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskclass import arrowtext
from riskclass import uscc as uscc_codes
from riskclass.contract import MANGLED_LIKE

__all__ = ["RegistryIndex", "link", "normalise_name", "normalise_names"]

MAX_CANDIDATES = 10
_STRIP = re.compile(r"[\s()（）\[\]【】〔〕]")
_USCC_SHAPE = re.compile(r"[0-9A-Z]{18}")
_REG_NO_SHAPE = re.compile(r"\d{13}|\d{15}")
_MANGLED = re.compile(MANGLED_LIKE)


def _variant_pairs(variants) -> list[tuple[str, str]]:
    pairs = [
        (
            _STRIP.sub("", unicodedata.normalize("NFKC", v)).lower(),
            _STRIP.sub("", unicodedata.normalize("NFKC", c)).lower(),
        )
        for v, c in variants
    ]
    return sorted(pairs, key=lambda p: -len(p[0]))  # longest first: 股份有限公司 before 有限公司


def _per_unique(values: pd.Series, function) -> np.ndarray:
    """``function`` applied once per distinct value (names repeat; one Python pass instead of several)."""
    text = values.fillna("").astype(str).to_numpy(dtype=object)
    codes, uniques = pd.factorize(text)
    if not len(uniques):
        return np.full(len(text), "", dtype=object)
    return np.array([function(u) for u in uniques], dtype=object)[codes]


def normalise_name(name: str, variants=()) -> str:
    """NFKC (full-width → half-width), no spaces or brackets, lower case, legal-form variants replaced."""
    return normalise_names(pd.Series([name], dtype=object), variants).iloc[0]


_RE2_STRIP = "[()（）\\[\\]【】〔〕" + arrowtext.WHITESPACE_CLASS[1:]  # _STRIP for RE2 (Python's \s spelt out)


def normalise_names(names: pd.Series, variants=()) -> pd.Series:
    """``normalise_name`` of every value, in Arrow (missing values as "")."""
    return pd.Series(arrowtext.to_objects(_normalised(names, variants)), index=names.index, dtype=object)


def _normalised(names: pd.Series | pa.Array, variants=()) -> pa.Array:
    value = pc.utf8_lower(pc.replace_substring_regex(_nfkc(names), _RE2_STRIP, ""))
    for variant, canonical in _variant_pairs(variants):  # longest first, as str.replace one after the other
        value = pc.replace_substring(value, variant, canonical)
    return value


def _text(values: pd.Series | pa.Array | pa.ChunkedArray) -> pa.Array:
    """The values as an Arrow text array, missing values as ""."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return pc.fill_null(values.cast(pa.string()), "")
    return arrowtext.to_arrow(values.fillna("").astype(str))


def _nfkc(values: pd.Series | pa.Array):
    """The values as an Arrow array in NFKC (missing values as "")."""
    return pc.utf8_normalize(_text(values), "NFKC")


def _spaceless(values: pd.Series | pa.Array) -> pa.Array:
    return pc.replace_substring_regex(_nfkc(values), arrowtext.WHITESPACE_CLASS, "")


def _without_spaces(values: pd.Series) -> pd.Series:
    """NFKC, without whitespace (codes and names as compared)."""
    return pd.Series(arrowtext.to_objects(_spaceless(values)), index=values.index, dtype=object)


def _name_parts(names: pd.Series, variants) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(cleaned text, shape, normalised name) of every name."""
    names = names.reset_index(drop=True)
    clean = _without_spaces(names)
    return clean, pd.Series(_per_unique(clean, _shape), dtype=object), normalise_names(names, variants)


def _clean_codes(codes: pd.Series) -> pd.Series:
    """Codes compared after NFKC, without spaces."""
    return _without_spaces(codes)


def _shape(value: str) -> str:
    """What a name or code cell holds when it is a code: "uscc", "reg_no", "mangled", or ""."""
    if not value or not value[0].isascii() or not (value[0].isalnum() or value[0] in "+-"):
        return ""  # names start with a Chinese character: no regex needed
    if _MANGLED.fullmatch(value):
        return "mangled"
    if _USCC_SHAPE.fullmatch(value):
        return "uscc"
    if _REG_NO_SHAPE.fullmatch(value):
        return "reg_no"
    return ""


class _Lookup:
    """Key → USCC for keys one registry entity has, and key → USCCs for keys several share. Kept as Arrow text
    (a few bytes per key, no Python strings: the registry of a large city is handed to worker processes)."""

    def __init__(self, keys: pa.Array, codes: pa.Array):
        pairs = pa.table({"key": _text(keys), "uscc": _text(codes)})
        pairs = pairs.filter(pc.not_equal(pairs["key"], "")).group_by(["key", "uscc"], use_threads=False)
        pairs = pairs.aggregate([])  # distinct (key, USCC) pairs
        counts = pairs.group_by("key", use_threads=False).aggregate([("uscc", "count")])
        shared = counts.filter(pc.greater(counts["uscc_count"], 1))["key"]
        single = pc.invert(pc.is_in(pairs["key"], value_set=shared.combine_chunks()))
        self.index = pairs["key"].filter(single).combine_chunks()
        self.codes = pairs["uscc"].filter(single).combine_chunks()
        several = pairs.filter(pc.invert(single)).to_pandas().sort_values(["key", "uscc"])
        self.multiple: dict[str, list[str]] = several.groupby("key")["uscc"].agg(list).to_dict() if len(several) else {}

    def unique(self, keys: pd.Series) -> pd.Series:
        """The one USCC of each key, None where none or several."""
        at = pc.index_in(arrowtext.to_arrow(keys), value_set=self.index)
        return pd.Series(arrowtext.to_objects(self.codes.take(at)), index=keys.index, dtype=object)

    def several(self, keys: pd.Series) -> pd.Series:
        return keys.isin(self.multiple.keys()) if self.multiple else pd.Series(False, index=keys.index)


class RegistryIndex:
    """Names and 注册号 of the accepted registry (and, optionally, of its quarantined rows) for lookups."""

    def __init__(
        self,
        registry: pd.DataFrame | pa.Table,
        variants=(),
        quarantined: pd.DataFrame | None = None,
        registry_file: str = "entities.csv",
    ):
        self.variants = tuple(variants)
        self.registry_file = registry_file
        codes = _text(_column(registry, "uscc"))
        self.usccs = arrowtext.KeySet(codes)
        self.names = _Lookup(_normalised(_column(registry, "name"), self.variants), codes)
        self.reg_nos = _Lookup(_spaceless(_column(registry, "reg_no")), codes)
        self.quarantined = None
        if quarantined is not None and len(quarantined):
            q = quarantined.reset_index(drop=True)
            q_codes = q["uscc"].fillna("").astype(str)
            rows = q["row"].astype("int64") if "row" in q else pd.Series(range(1, len(q) + 1))
            self.quarantined = {
                "names": _Lookup(_normalised(q["name"], self.variants), _text(q_codes)),
                "reg_nos": _Lookup(_spaceless(_column(q, "reg_no")), _text(q_codes)),
                "row_of": dict(zip(q_codes, rows, strict=True)),
            }


def _column(frame: pd.DataFrame | pa.Table, name: str) -> pd.Series | pa.Array:
    """A column of the registry, as text; all "" when it has no such column."""
    if isinstance(frame, pa.Table):
        return frame.column(name).combine_chunks() if name in frame.column_names else pa.nulls(len(frame), pa.string())
    return frame[name].reset_index(drop=True) if name in frame else pd.Series([""] * len(frame), dtype=object)


def _series(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series([""] * len(frame), dtype=object)
    return arrowtext.strip(frame[column].fillna("").astype(str)).reset_index(drop=True)


def _candidates_message(what: str, value: str, usccs: list[str]) -> str:
    shown = ", ".join(usccs[:MAX_CANDIDATES]) + (" …" if len(usccs) > MAX_CANDIDATES else "")
    return f"{what} '{value}' matches {len(usccs)} registry entities: {shown}"


def link(
    frame: pd.DataFrame,
    registry: pd.DataFrame | RegistryIndex,
    variants=(),
    *,
    quarantined: pd.DataFrame | None = None,
    registry_file: str = "entities.csv",
) -> tuple[pd.DataFrame, list[tuple[int, str, str]], dict]:
    """Link every record to a registry USCC; see the module docstring."""
    index = (
        registry
        if isinstance(registry, RegistryIndex)
        else RegistryIndex(registry, variants, quarantined=quarantined, registry_file=registry_file)
    )
    n = len(frame)
    code = _series(frame, "uscc")
    reg_no = _clean_codes(_series(frame, "reg_no"))
    name = _series(frame, "name")
    name_clean, name_shape, keys = _name_parts(name, index.variants)
    reg_shape = pd.Series(_per_unique(reg_no, _shape), dtype=object)
    out = code.copy()
    method = pd.Series(np.where(code != "", "uscc", ""), dtype=object)
    rule = pd.Series([""] * n, dtype=object)
    message = pd.Series([""] * n, dtype=object)
    report: dict = {"rows": n}

    # a code written where the name (or the 注册号) should be
    no_code = code == ""
    from_name = no_code & (name_shape == "uscc")
    from_reg = no_code & ~from_name & (reg_shape == "uscc")
    out[from_name], out[from_reg] = name_clean[from_name], reg_no[from_reg]
    method[from_name | from_reg] = "uscc"
    report["uscc_taken_from_name"] = int(from_name.sum())
    report["uscc_taken_from_reg_no"] = int(from_reg.sum())
    name_reg = no_code & (reg_no == "") & (name_shape == "reg_no")
    reg_no = reg_no.where(~name_reg, name_clean)
    reg_shape = reg_shape.where(~name_reg, "reg_no")
    report["reg_no_taken_from_name"] = int(name_reg.sum())
    pending = no_code & ~from_name & ~from_reg

    mangled_reg = pending & (reg_shape == "mangled")
    mangled_name = pending & ~mangled_reg & (reg_no == "") & (name_shape == "mangled")
    for mask, where, values in ((mangled_reg, "注册号/代码", reg_no), (mangled_name, "名称", name)):
        rule[mask] = "uscc_spreadsheet_mangled"
        message[mask] = [
            f"the {where} column holds '{v}', a code a spreadsheet turned into a number: its digits are lost; "
            "export the column as text"
            for v in values[mask]
        ]
    pending &= ~(mangled_reg | mangled_name)

    # 注册号
    by_reg = pending & (reg_no != "")
    reg_unique = index.reg_nos.unique(reg_no)
    hit = by_reg & reg_unique.notna()
    out[hit], method[hit] = reg_unique[hit], "reg_no"
    reg_multi = by_reg & index.reg_nos.several(reg_no)
    # an unknown or ambiguous 注册号 falls back to the name; without a name it is reported here
    pending &= ~hit
    no_name = keys == ""
    multi_no_name = reg_multi & no_name
    rule[multi_no_name] = "name_ambiguous"
    message[multi_no_name] = [
        _candidates_message("注册号", v, index.reg_nos.multiple[v]) for v in reg_no[multi_no_name]
    ]
    unknown_no_name = by_reg & ~hit & ~reg_multi & no_name
    rule[unknown_no_name] = "name_not_found"
    message[unknown_no_name] = [
        f"注册号 '{v}' names no registry entity and the record has no name" for v in reg_no[unknown_no_name]
    ]
    report["reg_no_fell_back_to_name"] = int((by_reg & ~hit & ~no_name).sum())
    pending &= ~no_name

    # name
    name_unique = index.names.unique(keys)
    hit = pending & name_unique.notna()
    out[hit], method[hit] = name_unique[hit], "name"
    ambiguous = pending & index.names.several(keys)
    rule[ambiguous] = "name_ambiguous"
    message[ambiguous] = [
        _candidates_message("名称", v, index.names.multiple[k])
        for v, k in zip(name[ambiguous], keys[ambiguous], strict=True)
    ]
    missing = pending & ~hit & ~ambiguous

    # not in the accepted registry: perhaps a quarantined registry row
    report["linked_to_quarantined_registry_rows"] = 0
    if index.quarantined is not None and missing.any():
        q = index.quarantined
        q_code = q["names"].unique(keys)
        q_code = q_code.where(q_code.notna(), q["reg_nos"].unique(reg_no))
        found = missing & q_code.notna()
        if found.any():
            valid = pd.Series(False, index=q_code.index)
            valid[found] = uscc_codes.check_results(q_code[found].astype(str))[1]  # (format_ok, valid)
            usable = found & valid
            out[usable], method[usable] = q_code[usable], "name"
            report["linked_to_quarantined_registry_rows"] = int(usable.sum())
            broken = found & ~valid
            rule[broken] = "unknown_entity"
            where = index.registry_file
            message[broken] = [
                f"名称 '{v}' matches the registry row quarantined at {where} line {q['row_of'].get(c, '?')}"
                for v, c in zip(name[broken], q_code[broken], strict=True)
            ]
            missing &= ~found
    rule[missing] = "name_not_found"
    message[missing] = [
        f"名称 '{v}'" + (f" (注册号 '{r}')" if r else "") + " names no registry entity, also after normalisation"
        for v, r in zip(name[missing], reg_no[missing], strict=True)
    ]

    # a USCC given in the record whose name points at another entity: counted, never overridden
    given = (code != "") & (keys != "")
    other = index.names.unique(keys.where(given, ""))
    report["uscc_name_disagree"] = int((given & other.notna() & (other != code)).sum())

    bad = rule != ""
    unmatched = [(int(i), rule.iat[i], message.iat[i]) for i in np.flatnonzero(bad.to_numpy())]
    out[bad] = code[bad]
    method[bad] = ""
    counts = method[method != ""].value_counts()
    report["linked"] = {m: int(counts.get(m, 0)) for m in ("uscc", "reg_no", "name")}
    report["uscc_in_registry"] = int(((method == "uscc").to_numpy() & index.usccs.contains(out)).sum())
    report["unmatched"] = {k: int(v) for k, v in rule[bad].value_counts().sort_index().items()}
    report["no_identity"] = int(((code == "") & (reg_no == "") & (name == "")).sum())
    attempted = int((pending | by_reg | mangled_reg | mangled_name).sum())
    linked_without_code = report["linked"]["reg_no"] + report["linked"]["name"]
    report["attempted_without_uscc"] = attempted
    report["match_rate_without_uscc"] = round(linked_without_code / attempted, 6) if attempted else None
    linked = pd.DataFrame({"uscc": out.to_numpy(), "link_method": method.to_numpy()})
    return linked, unmatched, report
