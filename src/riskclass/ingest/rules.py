"""Validation rules of the data contract, vectorised over whole columns.

Each rule yields (row positions, column, rule id, message). A row with any violation is
quarantined whole; every violation of that row is reported. Rule ids are stable and documented in
docs/data-contract.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskclass import arrowtext, codes, uscc
from riskclass.contract import Column, Table
from riskclass.personal import Pseudonymiser, replace_column

RULES = {
    "required": "a required value is empty",
    "uscc_format": "not an 18-character USCC in canonical form (GB 32100 alphabet, upper case, no spaces; "
    "positions 3–8 a division code)",
    "uscc_department": "USCC positions 1–2 are not a registering department and institution type of GB 32100 "
    "(table: riskclass.uscc.DEPARTMENTS)",
    "uscc_check": "the USCC check character does not match (GB 32100-2015)",
    "uscc_placeholder": "a placeholder, not a code (无, 0, all zeros, one repeated character, 123456789012345678 …)",
    "uscc_spreadsheet_mangled": "a code a spreadsheet turned into a number (9.14408E+17, or its last digits "
    "rounded to 000): its digits are lost; re-export the column as text",
    "resident_id_not_uscc": "a resident identity number (GB 11643), not a USCC: personal data is never accepted "
    "as a code",
    "uscc_type_mismatch": "USCC positions 1–2 do not match the entity type "
    "(91 enterprise, 92 individual, 93 cooperative)",
    "org_form_mismatch": "the organisational form does not belong to the entity type",
    "pseudonym_format": "a person key must be pseudonymous (P + 16 hex digits); names and ID numbers are refused",
    "unknown_code": "the value is neither a code nor a label of its code list",
    "unknown_industry": "not a GB/T 4754-2017 code (section letter + digits of a division in that section)",
    "unknown_division": "not a GB/T 2260 division code known to the system",
    "invalid_date": "not a calendar date",
    "future_date": "the date lies after the snapshot date",
    "end_before_start": "an end date lies before its start date",
    "not_a_number": "not a number",
    "not_an_integer": "not a whole number",
    "not_a_boolean": "not a yes/no value (true/false, 1/0, 是/否, Y/N)",
    "negative_amount": "an amount that must not be negative is negative",
    "out_of_range": "the number lies outside its allowed range",
    "conditionally_required": "a value required by another column's value is empty",
    "unknown_entity": "the USCC names no accepted entity of the registry",
    "unknown_reference": "the value names no accepted row of the table it refers to",
    "duplicate_key": "the key repeats an earlier accepted row",
    "not_in_plan": "the check id is not a check of this plan",
    "plan_mismatch": "the USCC is not the entity the plan drew for this check",
    "before_plan_start": "the inspection date lies before the plan's start date",
}

_PSEUDONYM = re.compile(r"^P[0-9A-F]{16}$")
_BOOL = {
    "true": True,
    "false": False,
    "1": True,
    "0": False,
    "是": True,
    "否": False,
    "y": True,
    "n": False,
    "yes": True,
    "no": False,
    "t": True,
    "f": False,
}


@dataclass
class Findings:
    """Violations found in one table, as parallel lists (row position, column, rule, message)."""

    rows: list[np.ndarray] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    messages: list[str | np.ndarray] = field(default_factory=list)

    def add(self, mask_or_rows: np.ndarray, column: str, rule: str, message: str | np.ndarray | None = None) -> None:
        rows = np.flatnonzero(mask_or_rows) if mask_or_rows.dtype == bool else mask_or_rows
        if len(rows):
            self.rows.append(rows)
            self.columns.append(column)
            self.rules.append(rule)
            self.messages.append(RULES[rule] if message is None else message)

    def bad_mask(self, n: int) -> np.ndarray:
        bad = np.zeros(n, dtype=bool)
        for rows in self.rows:
            bad[rows] = True
        return bad

    def frame(self, text: pd.DataFrame) -> pd.DataFrame:
        parts = []
        for rows, column, rule, message in zip(self.rows, self.columns, self.rules, self.messages, strict=True):
            parts.append(
                pd.DataFrame(
                    {
                        "position": rows,
                        "column": column,
                        "rule": rule,
                        "value": text[column].to_numpy()[rows] if column in text else "",
                        "message": message,
                    }
                )
            )
        if not parts:
            return pd.DataFrame(columns=["position", "column", "rule", "value", "message"])
        return pd.concat(parts, ignore_index=True)


def parse_dates(text: pd.Series, empty: np.ndarray | None = None) -> pd.Series:
    """2020-12-11, 2020/12/11, 2020年12月11日 (digits may be unpadded) or 20201211 → datetime64; else NaT.
    ``empty``: ``text == ""``, if the caller has it."""
    fast = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")  # the common case, in one pass
    slow = fast.isna() & ~(empty if empty is not None else (text == "").to_numpy())
    if slow.any():
        fast[slow] = _parse_other_dates(text[slow])
    return fast


_DATE_REWRITES = (  # RE2, in order: separators to '-', 20201211 split, one-digit month and day padded
    (r"[年月/.]", "-"),
    (r"日", ""),
    (r"^([0-9]{4})([0-9]{2})([0-9]{2})$", r"\1-\2-\3"),
    (r"^([0-9]{4})-([0-9])-", r"\1-0\2-"),
    (r"^([0-9]{4}-[0-9]{2})-([0-9])$", r"\1-0\2"),
)


def _parse_other_dates(text: pd.Series) -> pd.Series:
    arr = arrowtext.to_arrow(text)
    for pattern, replacement in _DATE_REWRITES:
        arr = pc.replace_substring_regex(arr, pattern, replacement)
    iso = pc.if_else(pc.match_substring_regex(arr, r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), arr, None)
    return pd.to_datetime(pd.Series(arrowtext.to_objects(iso), index=text.index), format="%Y-%m-%d", errors="coerce")


# Plain decimals (at most 15 significant digits) Arrow parses to the same float as pandas; the rest go to pandas
_PLAIN_NUMBER = r"^[+-]?[0-9]{1,9}(\.[0-9]{1,6})?$"


def parse_numbers(text: pd.Series, empty: np.ndarray | None = None) -> pd.Series:
    """``pd.to_numeric`` of the text without thousands separators (1,234.5), as float64; NaN where not a number.
    ``empty``: ``text == ""``, if the caller has it."""
    arr = arrowtext.to_arrow(text)
    plain = pc.match_substring_regex(arr, _PLAIN_NUMBER).fill_null(False)
    numbers = pc.cast(pc.if_else(plain, arr, None), pa.float64()).to_numpy(zero_copy_only=False)
    empty = empty if empty is not None else (text == "").to_numpy()
    rest = np.flatnonzero(~plain.to_numpy(zero_copy_only=False) & ~empty)
    if len(rest):
        other = arrowtext.remove(text.iloc[rest], ",")
        numbers[rest] = pd.to_numeric(other, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return pd.Series(numbers, index=text.index)


def _code_lookup(list_name: str) -> dict[str, str]:
    lookup = {}
    for code, label in codes.labels(list_name).items():
        lookup[code] = code
        lookup[label] = code
    return lookup


_SET_SEPARATORS = re.compile(r"[;；,，]")  # not 、: it occurs inside labels (农、林、牧、渔业)


def _canonical_code_set(value: str, lookup: dict[str, str]) -> str | None:
    """'individual；企业' → 'enterprise;individual'; None when any element is unknown."""
    elements = [e.strip() for e in _SET_SEPARATORS.split(value) if e.strip()]
    mapped = [lookup.get(e) for e in elements]
    if not mapped or any(m is None for m in mapped):
        return None
    return ";".join(sorted(set(mapped)))


def check_column(col: Column, text: pd.Series, snapshot: pd.Timestamp, found: Findings) -> pd.Series:
    """Apply the column's rules; return the parsed (typed) values, NA where empty or invalid."""
    empty = (text == "").to_numpy()
    if col.required:
        found.add(empty, col.name, "required")
    present = ~empty
    kind = col.kind
    if kind == "uscc":
        outcome = uscc.outcomes(text)
        for index, rule in enumerate(uscc.OUTCOMES):
            if index == uscc.OK:
                continue
            bad = present & (outcome == index)
            message = None
            if index == uscc.DEPARTMENT and bad.any():
                message = np.array(
                    [f"positions 1–2 '{v[:2]}' are not a GB 32100 department + institution type" for v in text[bad]],
                    dtype=object,
                )
            found.add(bad, col.name, rule, message)
        return text.where(present & (outcome == uscc.OK), None).astype(object)
    if kind == "pseudonym":
        ok = arrowtext.regex_mask(text, _PSEUDONYM.pattern)
        found.add(present & ~ok, col.name, "pseudonym_format")
        return text.where(present, None).astype(object)
    if kind == "code":
        mapped = text.map(_code_lookup(col.codes))
        found.add(
            present & mapped.isna().to_numpy(),
            col.name,
            "unknown_code",
            f"not in code list '{col.codes}' ({', '.join(list(codes.labels(col.codes))[:8])} …)",
        )
        return mapped.astype(object).where(mapped.notna(), None)
    if kind == "code_set":
        lookup = _code_lookup(col.codes)
        canonical = {value: _canonical_code_set(value, lookup) for value in pd.unique(text[present])}
        mapped = text.map(canonical)
        found.add(
            present & mapped.isna().to_numpy(),
            col.name,
            "unknown_code",
            f"an element is not in code list '{col.codes}' ({', '.join(list(codes.labels(col.codes))[:8])} …)",
        )
        return mapped.astype(object).where(mapped.notna(), None)
    if kind == "industry":
        ok = codes.valid_industry_codes(text)
        found.add(present & ~ok, col.name, "unknown_industry")
        return text.where(present, None).astype(object)
    if kind == "division":
        ok = text.isin(list(codes.code_lists()["divisions"])).to_numpy()
        found.add(present & ~ok, col.name, "unknown_division")
        return text.where(present, None).astype(object)
    if kind == "date":
        parsed = parse_dates(text, empty)
        bad = present & parsed.isna().to_numpy()
        found.add(bad, col.name, "invalid_date")
        if not col.future_ok:
            found.add(
                (parsed > snapshot).to_numpy(),
                col.name,
                "future_date",
                f"the date lies after the snapshot date {snapshot.date()}",
            )
        return parsed.astype("datetime64[ms]")
    if kind in ("float", "int"):
        number = parse_numbers(text, empty)
        found.add(present & number.isna().to_numpy(), col.name, "not_a_number")
        if kind == "int":
            found.add((number.notna() & (number != number.round())).to_numpy(), col.name, "not_an_integer")
        low = (number < col.min) | ((number == col.min) & col.min_exclusive) if col.min is not None else False
        high = number > col.max if col.max is not None else False
        low = np.asarray(low, dtype=bool)
        if col.min == 0.0 and not col.min_exclusive:
            found.add(low, col.name, "negative_amount")
        else:
            found.add(low, col.name, "out_of_range", f"below the minimum {col.min}")
        found.add(np.asarray(high, dtype=bool), col.name, "out_of_range", f"above the maximum {col.max}")
        if kind == "int":
            return number.where(number == number.round()).astype("Int64")
        return number.astype("float64")
    if kind == "bool":
        mapped = text.str.lower().map(_BOOL)
        found.add(present & mapped.isna().to_numpy(), col.name, "not_a_boolean")
        return mapped.astype("boolean")
    return text.where(present, None).astype(object)


def pseudonymise_person_columns(
    table: Table, text: pd.DataFrame, pseudonymiser: Pseudonymiser | None
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Before validation: in ``pseudonym`` columns, resident ID numbers (valid check digit) and personal names
    become their keyed pseudonyms; returns (text frame, replacements per person column).

    Without a pseudonymiser nothing changes and ``pseudonym_format`` refuses such values, as always. With one,
    what is neither a pseudonymous key nor a recognised ID/name is still refused. The input is not modified.
    """
    if pseudonymiser is None:
        return text, {}
    out, counts = text, {}
    for col in table.columns:
        if col.kind != "pseudonym" or col.name not in text:
            continue
        before = text[col.name]
        after = pseudonymiser.pseudonymise_series(before)
        out = replace_column(out, text, col.name, before, after, counts)
    return out, counts


def check_table_rules(table: Table, typed: pd.DataFrame, text: pd.DataFrame, found: Findings) -> None:
    """Rules across columns of one row."""
    if table.name == "entities":
        prefixes = {k: v["uscc_prefix"] for k, v in codes.code_lists()["entity_types"].items()}
        expected = typed["entity_type"].map(prefixes)
        mismatch = typed["uscc"].notna() & expected.notna() & (typed["uscc"].str[:2] != expected)
        found.add(mismatch.to_numpy(dtype=bool), "uscc", "uscc_type_mismatch")
        form_type = {k: v["entity_type"] for k, v in codes.code_lists()["org_forms"].items()}
        bad_form = (
            typed["org_form"].notna()
            & typed["entity_type"].notna()
            & (typed["org_form"].map(form_type) != typed["entity_type"])
        )
        found.add(bad_form.to_numpy(dtype=bool), "org_form", "org_form_mismatch")
    for start, end in table.date_order:
        before = (typed[end] < typed[start]).fillna(False).to_numpy(dtype=bool)
        found.add(before, end, "end_before_start", f"{end} lies before {start}")
    for column, condition, values in table.required_when:
        cond = text[condition] != "" if values == ("*",) else typed[condition].isin(values)
        missing = cond.to_numpy(dtype=bool) & (text[column] == "").to_numpy()
        found.add(
            missing,
            column,
            "conditionally_required",
            f"{column} is required when {condition} is " + ("given" if values == ("*",) else "/".join(values)),
        )


def members(values: pd.Series, keys: arrowtext.KeySet | set) -> np.ndarray:
    """Which values are among ``keys``. A KeySet keeps its hashes between calls, so the registry's million codes
    are hashed once for every table, not once per table as ``Series.isin(set)`` does."""
    if isinstance(keys, arrowtext.KeySet):
        return keys.contains(values)
    return values.isin(keys).to_numpy(dtype=bool)


def check_references(
    typed: pd.DataFrame,
    accepted: arrowtext.KeySet | set,
    quarantined_rows: dict[str, int],
    registry_file: str,
    found: Findings,
) -> None:
    codes_ = typed["uscc"]
    unknown = codes_.notna().to_numpy(dtype=bool) & ~members(codes_, accepted)
    rows = np.flatnonzero(unknown)
    if not len(rows):
        return
    messages = np.array(
        [
            f"its registry row was quarantined ({registry_file} row {quarantined_rows[c]})"
            if c in quarantined_rows
            else RULES["unknown_entity"]
            for c in codes_.to_numpy()[rows]
        ],
        dtype=object,
    )
    found.add(rows, "uscc", "unknown_entity", messages)


def check_table_references(table: Table, typed: pd.DataFrame, accepted_keys: dict[str, set], found: Findings) -> None:
    """Columns that must name an accepted row of another table (e.g. a conflict's inspector)."""
    for column, other, key in table.references:
        known = accepted_keys.get(other, set())
        missing = typed[column].notna().to_numpy(dtype=bool) & ~members(typed[column], known)
        found.add(
            missing,
            column,
            "unknown_reference",
            f"no accepted row of '{other}' has this {key}",
        )


@dataclass
class SeenKeys:
    """The keys of the rows accepted so far in a table validated chunk by chunk, with each one's row number (one
    ``arrowtext.HashedKeys`` per chunk: compact, searched without rehashing), so that a key repeating one of an
    earlier chunk is a duplicate exactly as in a check of the whole table."""

    blocks: list[arrowtext.HashedKeys] = field(default_factory=list)

    def first_rows(self, keys: pa.Array) -> np.ndarray:
        """The row number of the earlier row with each key, -1 where none."""
        out = np.full(len(keys), -1, dtype=np.int64)
        if not self.blocks:
            return out
        hashes = arrowtext.key_hashes(keys)
        for block in self.blocks:  # a key is in one block at most (only new keys are added)
            at = block.find(keys, hashes)
            found = at >= 0
            out[found] = block.payload[at[found]]
        return out

    def add(self, keys: pa.Array, rows: np.ndarray) -> None:
        if len(keys):
            self.blocks.append(arrowtext.HashedKeys(keys, np.asarray(rows, dtype=np.int64)))


def _key_text(keys: pd.DataFrame) -> pa.Array:
    """One text per key, equal exactly when the key's values are: each value but the last prefixed with its
    length (so no separator inside a value can make two keys alike)."""
    columns = [arrowtext.to_arrow(keys[c]) for c in keys.columns]
    parts = []
    for column in columns[:-1]:
        parts += [pc.cast(pc.utf8_length(column), pa.string()), column]
    return pc.binary_join_element_wise(*parts, columns[-1], ":") if parts else columns[-1]


def check_duplicates(
    table: Table,
    text: pd.DataFrame,
    bad: np.ndarray,
    row_numbers: np.ndarray,
    found: Findings,
    seen: SeenKeys | None = None,
) -> None:
    """Among rows that pass every other rule, the first occurrence of a key wins (``seen``: the keys of earlier
    chunks of the table, to which this chunk's first occurrences are added)."""
    candidates = np.flatnonzero(~bad)
    keys = text.iloc[candidates][list(table.key)]
    earlier = np.full(len(candidates), -1, dtype=np.int64)  # row number of an earlier chunk's row with the key
    joined = None
    if seen is not None:
        joined = _key_text(keys)
        earlier = seen.first_rows(joined)
    group = keys.groupby(list(table.key), sort=False, dropna=False).ngroup().to_numpy()  # 0, 1, ... as first seen
    first_of_group = np.unique(group, return_index=True)[1]
    new = (first_of_group[group] == np.arange(len(group))) & (earlier < 0)
    if seen is not None:
        seen.add(joined.filter(pa.array(new)), row_numbers[candidates[new]])
    dup = ~new
    if not dup.any():
        return
    first_row = np.where(earlier >= 0, earlier, row_numbers[candidates[first_of_group[group]]])
    rows = candidates[dup]
    key_values = keys.to_numpy(dtype=object)[dup]
    found.add(
        rows,
        table.key[0],
        "duplicate_key",
        np.array(
            [f"same key {tuple(k)} as row {f}" for k, f in zip(key_values, first_row[dup], strict=True)],
            dtype=object,
        ),
    )
