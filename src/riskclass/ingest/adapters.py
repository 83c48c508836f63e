"""Adapters: national export forms → the contract's columns, with the provenance of every row.

Real exports do not come in the contract's columns. The forms are declared in ``riskclass.contract``
(``ADAPTERS``: columns in order, the contract column or identity each one feeds, value maps, null markers);
this module reads them:

``detect(path, table) -> Adapter | None``
    Recognises a national form of ``table`` from its header (the adapter whose signature columns are all
    there, up to three title rows above it) or, for a file without a header, from the number of fields and
    the content of the columns that have a pattern (USCCs, dates). ``None``: the file is in the contract's
    own columns (English names), or no form fits — the contract reader then reads it (or refuses it).
    Excel workbooks under a ``.csv`` name are recognised by their magic bytes: ``.xlsx`` (zip) is read,
    ``.xls`` (OLE) is refused with "convert to .xlsx or CSV" (reading it would need ``xlrd``).

``adapt(path, adapter, ...) -> (frame, Provenance)``
    The file as text in the contract's columns (one row per record, nothing dropped) and, per row, the
    physical line (CSV) or sheet row (Excel), the raw line, the identity found (USCC, 注册号, name) for
    ``matching.link``, plus the repairs made (null markers, time of day cut from dates, shifted trailing
    columns realigned, values mapped, personal data dropped) as notes.

``read_adapted(path, table, adapter, registry, ...) -> AdaptedFile``
    adapt + link + generated keys: an object ``ingest.validate_table`` takes like a ``reader.RawFile``:
    ``frame``, ``row_numbers()`` (physical lines), ``raw_lines(positions)``, ``findings`` (rows the adapter
    or matching refuses: ``field_count``, ``no_final_newline``, ``name_not_found``, ``name_ambiguous``,
    ``uscc_spreadsheet_mangled``, ``unknown_entity``) and ``repairs`` (what was done, for the report).

CSV records are found by ``integrity.scan_records`` on the bytes (the same independent scan the reader uses),
so a record's line and raw text are the reader's; every non-blank record after the header is one output row.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from riskclass import arrowtext, codes
from riskclass.contract import (
    ADAPTERS_BY_ID,
    MANGLED_LIKE,
    MULTI_VALUE_ORDER,
    NULL_MARKERS,
    OPEN_ENDED_DATES,
    REFUSED_VALUES,
    USCC_LIKE,
    VALUE_KEYWORDS,
    VALUE_MAPS,
    Adapter,
    SourceColumn,
    Table,
    adapters_for,
)
from riskclass.ingest import integrity
from riskclass.ingest.reader import RawFileError, check_declared_sha256

__all__ = ["AdaptedFile", "Provenance", "adapt", "detect", "file_kind", "read_adapted"]

XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0"
MAX_TITLE_ROWS = 3
SNIFF_RECORDS = 60  # records looked at to recognise a header-less file
MASK = "***"  # replaces personal data in raw lines

_PSEUDONYM = re.compile(r"P[0-9A-F]{16}")
_CODE_LIKE = re.compile(USCC_LIKE)
_USCC_SHAPE = re.compile(r"[0-9A-Z]{18}")
_REG_NO_SHAPE = re.compile(r"\d{13}|\d{15}")
_MANGLED = re.compile(MANGLED_LIKE)
_AMOUNT_SEPARATORS = re.compile(r"[,，\s]")
_AMOUNT_SEPARATORS_RE2 = "[,，" + arrowtext.WHITESPACE_CLASS[1:]  # the same characters for RE2 (\s spelt out)
_TIME_OF_DAY = re.compile(r"^(.*?\d)\s*(?:T|\s)\s*\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?$")
_TITLE_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_VALUE_PUNCT = re.compile(r"[\s，,、；;。.]")
_MULTI_SPLIT = re.compile(r"[；;，,]")
_NULLS = frozenset(NULL_MARKERS)


# ---------------------------------------------------------------------------------------------------------------
# reading records


def file_kind(path: Path) -> str:
    """ "parquet", "xlsx", "xls" or "csv" — by the magic bytes, whatever the file is called."""
    path = Path(path)
    if path.suffix == ".parquet":
        return "parquet"
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head == XLSX_MAGIC:
        return "xlsx"
    if head == XLS_MAGIC:
        return "xls"
    return "csv"


@dataclass
class _Records:
    rows: list[list[str]]  # every non-blank record, fields as text
    lines: list[int]  # first physical line (CSV) or sheet row (Excel) of each record
    raw: list[str]  # the record as it stands in the file (CSV text without the newline; Excel cells as CSV)
    encoding: str  # the text encoding, or "xlsx"
    terminated: bool = True  # the last line ends with a line break
    sha256: str = ""
    blank_lines: int = 0


def _read_csv(path: Path, limit: int | None = None) -> _Records:
    buf = Path(path).read_bytes()
    try:
        encoding = integrity.decide_encoding(buf)
        scan = integrity.scan_records(buf, encoding)
    except integrity.Refusal as exc:
        raise RawFileError(path, str(exc)) from None
    blank = integrity.blank_records(buf, scan)
    content = np.flatnonzero(~blank)
    if limit is not None:
        content = content[:limit]
    raw = [integrity.record_text(buf, scan, int(i), encoding) for i in content]
    try:
        rows = list(csv.reader(raw)) if raw else []
    except csv.Error as exc:
        raise RawFileError(path, f"a record the byte scan found cannot be parsed as CSV ({exc})") from None
    if len(rows) != len(raw):  # each text is one balanced record (the scan refuses anything else)
        raise RawFileError(path, f"{len(raw):,} records found on the bytes, {len(rows):,} parsed")
    return _Records(
        rows,
        [int(x) for x in scan.lines[content]],
        raw,
        encoding,
        terminated=bool(scan.terminated),
        sha256=integrity.sha256(buf),
        blank_lines=int(blank.sum()),
    )


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.strftime("%Y-%m-%d")
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, int | float):
        if abs(value) >= 1e15:  # beyond Excel's 15 significant digits: shown (and lost) as 9.14408E+17
            return f"{value:.5E}".replace("E+0", "E+")
        if float(value).is_integer():
            return str(int(value))
        return f"{value:.15g}"
    return str(value)


def _csv_line(cells: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(cells)
    return buf.getvalue()


def _read_xlsx(path: Path, limit: int | None = None) -> _Records:
    from openpyxl import load_workbook

    try:  # from bytes: openpyxl refuses a path that does not end in .xlsx
        workbook = load_workbook(io.BytesIO(Path(path).read_bytes()), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several types for damaged files
        raise RawFileError(path, f"unreadable Excel workbook ({type(exc).__name__}: {exc})") from None
    try:
        sheet = workbook.worksheets[0]
        rows, lines, raw = [], [], []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_cell_text(v) for v in values]
            while cells and cells[-1] == "":
                cells.pop()
            if not any(c.strip() for c in cells):
                continue
            rows.append(cells)
            lines.append(number)
            raw.append(_csv_line(cells))
            if limit is not None and len(rows) >= limit:
                break
    finally:
        workbook.close()
    return _Records(rows, lines, raw, "xlsx", sha256=integrity.sha256(Path(path).read_bytes()))


def _read_records(path: Path, limit: int | None = None) -> _Records:
    kind = file_kind(path)
    if kind == "xls":
        raise RawFileError(
            path,
            "an Excel 97-2003 workbook (.xls) under a .csv name: it cannot be read here (no xlrd); "
            "convert to .xlsx or CSV",
        )
    if kind == "xlsx":
        return _read_xlsx(path, limit)
    return _read_csv(path, limit)


# ---------------------------------------------------------------------------------------------------------------
# recognising a form


def header_key(text: str) -> str:
    """Headers compare after NFKC, without spaces, underscores, brackets and colons."""
    text = unicodedata.normalize("NFKC", str(text))
    return re.sub(r"[\s_()\[\]【】〔〕:：]", "", text)


def _header_lookup(adapter: Adapter) -> dict[str, SourceColumn]:
    lookup = {}
    for col in adapter.columns:
        for h in col.headers():
            lookup.setdefault(header_key(h), col)
    return lookup


def _match_header(cells: list[str], adapter: Adapter) -> dict[int, SourceColumn]:
    lookup = _header_lookup(adapter)
    return {i: lookup[header_key(c)] for i, c in enumerate(cells) if c.strip() and header_key(c) in lookup}


def _signature_present(matched: dict[int, SourceColumn], adapter: Adapter) -> bool:
    labels = {c.label for c in matched.values()}
    return all(s in labels for s in adapter.signature)


def _find_header(records: _Records, adapters: tuple[Adapter, ...]) -> tuple[Adapter, int, dict] | None:
    """(adapter, record index of the header, matched columns) for the first header row any adapter knows."""
    for i, cells in enumerate(records.rows[: MAX_TITLE_ROWS + 1]):
        best = None
        for adapter in adapters:
            matched = _match_header(cells, adapter)
            if _signature_present(matched, adapter) and (best is None or len(matched) > len(best[2])):
                best = (adapter, i, matched)
        if best:
            return best
    return None


def _contract_header(records: _Records, table: Table) -> bool:
    names = {c.name for c in table.columns} | {header_key(c.label) for c in table.columns}
    for cells in records.rows[:2]:
        hits = {c.strip() for c in cells if c.strip() in names} | {
            header_key(c) for c in cells if header_key(c) in names
        }
        if len(hits) >= max(2, len(table.columns) // 2):
            return True
    return False


def _is_null(value: str) -> bool:
    v = value.strip()
    return v == "" or v in _NULLS


def _fits_layout(rows: list[list[str]], adapter: Adapter) -> bool:
    """A header-less file fits a form: its field count (± a shifted row), and ≥ 90 % of the filled cells of
    each patterned column outside the realigned block match the pattern."""
    layout = adapter.layout
    if not rows:
        return False
    counts = pd.Series([len(r) for r in rows])
    mode = int(counts.mode().iloc[0])
    if mode not in (len(layout), len(layout) + 1) or counts.between(len(layout) - 1, len(layout) + 2).mean() < 0.9:
        return False
    checked = 0
    for pos, col in enumerate(layout):
        if not col.pattern or col.label in adapter.realign:
            continue
        regex = re.compile(col.pattern)
        values = [r[pos].strip() for r in rows if len(r) > pos and not _is_null(r[pos])]
        if not values:
            continue
        checked += 1
        if sum(bool(regex.fullmatch(v)) for v in values) < 0.9 * len(values):
            return False
    return checked >= 1


def _title_rows(records: _Records, upto: int) -> list[str]:
    return [" ".join(c.strip() for c in records.rows[i] if c.strip()) for i in range(upto)]


def _leading_titles(records: _Records) -> int:
    """Records at the top with a single filled cell (title rows above a header-less file)."""
    n = 0
    while n < min(MAX_TITLE_ROWS, len(records.rows)) and sum(bool(c.strip()) for c in records.rows[n]) == 1:
        n += 1
    return n


def detect(path: Path, table: Table) -> Adapter | None:
    """The national form of ``table`` that ``path`` is in, or None (the contract's own columns, or unknown)."""
    path = Path(path)
    kind = file_kind(path)
    if kind == "parquet":
        return None
    adapters = adapters_for(table.name)
    try:
        records = _read_records(path, limit=SNIFF_RECORDS)  # refuses .xls
    except RawFileError:
        if kind != "csv":
            raise
        return None  # a damaged CSV: the contract reader refuses it naming the line (integrity.py)
    if not adapters:
        if kind == "xlsx":
            raise RawFileError(path, f"an Excel workbook (.xlsx) under a .csv name: save '{table.name}' as CSV")
        return None
    found = _find_header(records, adapters)
    if found:
        return found[0]
    if kind == "csv" and _contract_header(records, table):
        return None
    skip = _leading_titles(records)
    for adapter in adapters:
        if _fits_layout(records.rows[skip:], adapter):
            return adapter
    if kind == "xlsx":
        raise RawFileError(
            path,
            f"an Excel workbook (.xlsx) under a .csv name in no known form of '{table.name}' "
            f"(forms: {', '.join(a.id for a in adapters)}); save it as CSV in the contract's columns",
        )
    return None


# ---------------------------------------------------------------------------------------------------------------
# values


def _value_key(value: str) -> str:
    return _VALUE_PUNCT.sub("", unicodedata.normalize("NFKC", value))


def _value_lookup(list_name: str) -> dict[str, str]:
    lookup = {}
    for code, label in codes.labels(list_name).items():
        lookup[_value_key(code)] = code
        lookup[_value_key(label)] = code
    for value, code in VALUE_MAPS.get(list_name, {}).items():
        lookup[_value_key(value)] = code
    return lookup


def _map_one(value: str, list_name: str, lookup: dict[str, str]) -> str | None:
    key = _value_key(value)
    if key in lookup:
        return lookup[key]
    order = MULTI_VALUE_ORDER.get(list_name)
    if order:
        mapped = []
        for part in (p for p in _MULTI_SPLIT.split(value) if p.strip()):
            code = lookup.get(_value_key(part))
            if code is None:  # 罚款、没收违法所得: split on 、 only when the whole part is no label
                subs = [lookup.get(_value_key(s)) for s in part.split("、") if s.strip()]
                if not subs or any(s is None for s in subs):
                    return None
                mapped += subs
            else:
                mapped.append(code)
        if mapped:
            return min(mapped, key=lambda c: order.index(c) if c in order else len(order))
    keywords = VALUE_KEYWORDS.get(list_name)
    if keywords:
        hits = [code for code, words in keywords.items() if any(w in value for w in words)]
        if len(hits) == 1:
            return hits[0]
    return None


def map_values(text: pd.Series, list_name: str) -> tuple[pd.Series, dict[str, int], dict[str, int]]:
    """Translate national wordings to codes; return (values, mapped wordings → count, unmapped → count).

    Unmapped values are passed on unchanged, so the contract's ``unknown_code`` rule quarantines them.
    """
    lookup = _value_lookup(list_name)
    out = text.copy()
    mapped_counts, unmapped_counts = {}, {}
    filled = text != ""
    for value, count in text[filled].value_counts().items():
        code = _map_one(value, list_name, lookup)
        if code is None:
            unmapped_counts[value] = int(count)
            continue
        if code != value:
            out[text == value] = code
            if value not in codes.labels(list_name).values():
                mapped_counts[value] = int(count)
    return out, mapped_counts, unmapped_counts


def _normalise_dates(text: pd.Series) -> tuple[pd.Series, int]:
    """Cut a time of day (2019-12-31 00:00:00 → 2019-12-31); the contract parses the date styles."""
    cut = arrowtext.python_where(text, ":", lambda v: _TIME_OF_DAY.sub(r"\1", v))  # no time without a colon
    return cut, int((cut != text).sum())


def _normalise_amounts(text: pd.Series, scale: float | None) -> tuple[pd.Series, int]:
    cleaned = arrowtext.python_where(text, _AMOUNT_SEPARATORS_RE2, lambda v: _AMOUNT_SEPARATORS.sub("", v))
    if scale is None:
        return cleaned, 0
    numbers = pd.to_numeric(cleaned, errors="coerce")
    ok = numbers.notna()
    scaled = cleaned.copy()
    scaled[ok] = [f"{v:.10g}" for v in (numbers[ok] * scale).round(10)]
    return scaled, int(ok.sum())


# ---------------------------------------------------------------------------------------------------------------
# realigning rows shifted by one field


def _block_fits(values: list[str], code_positions: list[bool]) -> bool:
    for v, is_code in zip(values, code_positions, strict=True):
        v = v.strip()
        if _is_null(v):
            continue
        if bool(_CODE_LIKE.fullmatch(v)) != is_code:
            return False
    return True


def _realign(fields: list[str], start: int, n_named: int, code_positions: list[bool]) -> tuple[list[str], str]:
    """Realign the trailing block [start, n_named) of one record. Returns (fields, what was done)."""
    width = n_named - start
    block = (fields[start:n_named] + [""] * width)[:width]
    extra = fields[n_named:]
    overflow = bool(extra) and bool(extra[0].strip()) and not any(e.strip() for e in extra[1:])
    if any(e.strip() for e in extra[1:]):
        return fields, "unrealigned"
    if not overflow and _block_fits(block, code_positions):
        return fields, ""
    candidates = []
    if overflow:  # one field too many: drop an empty field inside the block
        wide = [*block, extra[0]]
        for k in range(len(wide) - 1):
            if _is_null(wide[k]):
                cand = wide[:k] + wide[k + 1 :]
                if _block_fits(cand, code_positions):
                    candidates.append(tuple(cand))
    elif _is_null(block[-1]):  # one field missing: insert an empty one
        for k in range(width):
            cand = [*block[:k], "", *block[k:-1]]
            if _block_fits(cand, code_positions):
                candidates.append(tuple(cand))
    distinct = set(candidates)
    if len(distinct) == 1:
        fixed = list(candidates[0])
        return fields[:start] + fixed + [""] * max(0, len(fields) - n_named - 1), "right" if overflow else "left"
    return fields, "unrealigned" if overflow else ""


# ---------------------------------------------------------------------------------------------------------------
# adapting a file


@dataclass
class Finding:
    """Rows (positions) a rule quarantines; the shape ``validate_table`` reads from ``raw.findings``."""

    rows: np.ndarray
    column: str  # contract column, or "" for the whole record
    rule: str
    message: str | np.ndarray


@dataclass
class Provenance:
    """Where every output row came from, and what the adapter did."""

    adapter: str
    path: Path
    encoding: str  # the text encoding, or "xlsx"
    header_line: int  # physical line / sheet row of the header; 0 when the file has none
    title_lines: list[str]
    lines: np.ndarray  # per output row: physical line (CSV, first line of the record) or sheet row (Excel)
    raw_lines: list[str]  # per output row: the record as in the file, personal data masked
    identity: pd.DataFrame  # per output row: uscc, reg_no, name as found, for matching.link
    issues: list[tuple[int, str, str, str]] = field(default_factory=list)  # (position, column, rule, message)
    notes: list[str] = field(default_factory=list)  # repairs and observations, one sentence each
    repairs: dict[str, int] = field(default_factory=dict)  # counts by kind
    ignored_columns: list[str] = field(default_factory=list)
    missing_optional: list[str] = field(default_factory=list)
    sha256: str = ""
    blank_lines: int = 0


def _required_sources(table: Table, adapter: Adapter, present: set[str], context: dict) -> list[str]:
    """Required contract columns nothing can fill: not in the file, the context or a title row, nor derived."""
    fillable = set(present) | set(context) | {"uscc"}
    if adapter.generated_key:
        fillable.add(adapter.generated_key[0])
    fillable |= {d[0] for d in adapter.derived}
    return [c.name for c in table.columns if c.required and c.name not in fillable]


def _title_context(adapter: Adapter, titles: list[str]) -> dict[str, str]:
    """list_date / reason_code stated in a title row (名单 announcements): a date, and one reason's keywords."""
    out: dict[str, str] = {}
    text = " ".join(titles)
    if not text:
        return out
    if "list_date" in adapter.context:
        m = _TITLE_DATE.search(text)
        if m:
            out["list_date"] = f"{int(m.group(1)):04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"
    if "reason_code" in adapter.context:
        code = _map_one(text, "abnormal_reasons", {})
        if code:
            out["reason_code"] = code
    return out


def _locate_columns(path: Path, records: _Records, adapter: Adapter, notes: list[str]) -> dict:
    """Header (or the form's layout for a header-less file), title rows, and the matched columns."""
    found = _find_header(records, (adapter,))
    if found:
        _, index, matched = found
        header = records.rows[index]
        n_named = len(header)
        while n_named and not header[n_named - 1].strip():
            n_named -= 1
        if n_named < len(header):
            notes.append(f"{len(header) - n_named} trailing unnamed column(s) dropped")
        return {
            "matched": matched,
            "first": index + 1,
            "header_line": records.lines[index],
            "titles": _title_rows(records, index),
            "n_named": n_named,
            "ignored": [header[i] for i in range(n_named) if i not in matched],
        }
    skip = _leading_titles(records)
    if not _fits_layout(records.rows[skip:], adapter):
        raise RawFileError(
            path, f"not in the form {adapter.id} ({adapter.label}): no header, and the columns do not fit"
        )
    notes.append(f"no header: columns taken in the order of the form {adapter.id} ({len(adapter.layout)} columns)")
    return {
        "matched": dict(enumerate(adapter.layout)),
        "first": skip,
        "header_line": 0,
        "titles": _title_rows(records, skip),
        "n_named": len(adapter.layout),
        "ignored": [],
    }


def _realign_rows(rows, matched, n_named, adapter, notes, repairs) -> tuple[list[int], np.ndarray]:
    """Realign rows whose trailing block is shifted by one field; return (unrealigned rows, realigned mask)."""
    realigned = np.zeros(len(rows), dtype=bool)
    block = sorted(p for p, c in matched.items() if c.label in adapter.realign)
    if not block or block != list(range(block[0], n_named)):
        return [i for i, r in enumerate(rows) if any(f.strip() for f in r[n_named:])], realigned
    code_positions = [matched[p].pattern == USCC_LIKE for p in block]
    shifted: dict[str, list[int]] = {"right": [], "left": [], "unrealigned": []}
    for i, r in enumerate(rows):
        fixed, what = _realign(r, block[0], n_named, code_positions)
        if what:
            shifted[what].append(i)
            if what in ("right", "left"):
                rows[i] = fixed
                realigned[i] = True
    labels = " / ".join(matched[p].label for p in block)
    for what, side in (("right", "right"), ("left", "left")):
        if shifted[what]:
            repairs[f"realigned_{what}"] = len(shifted[what])
            notes.append(f"{labels}: shifted one column to the {side} on {len(shifted[what])} row(s), realigned")
    return shifted["unrealigned"], realigned


def _personal(values: pd.Series, col: SourceColumn, pseudonymise, notes, repairs) -> tuple[pd.Series, np.ndarray]:
    """Keep pseudonymous keys; names and ID numbers are pseudonymised (if a step is given) or dropped."""
    keep = arrowtext.regex_mask(values, f"^(?:{_PSEUDONYM.pattern})?$")
    dropped = ~keep
    if not dropped.any():
        return values, dropped
    values = values.copy()
    if col.target and pseudonymise is not None:
        keys = pd.Series(pseudonymise(values[dropped]).to_numpy(), dtype=object).fillna("").astype(str)
        keyed = arrowtext.regex_mask(keys, f"^{_PSEUDONYM.pattern}$")
        values[dropped] = np.where(keyed, keys, "")  # what the step could not pseudonymise is dropped
        notes.append(
            f"{col.label}: {int(keyed.sum())} value(s) pseudonymised, {int((~keyed).sum())} dropped as personal "
            "data; masked in the raw line"
        )
    else:
        values[dropped] = ""
        notes.append(f"{col.label}: {int(dropped.sum())} value(s) dropped as personal data, masked in the raw line")
    repairs[f"personal_data_{col.label}"] = int(dropped.sum())
    return values, dropped


def _convert(values: pd.Series, col: SourceColumn, contract_col, adapter: Adapter, notes, repairs) -> pd.Series:
    """Dates without time of day, amounts in 万元, national wordings as codes."""
    if contract_col.kind == "date":
        if col.target in adapter.open_ended:
            open_ended = values.isin(OPEN_ENDED_DATES)
            if open_ended.any():
                values = values.where(~open_ended, "")
                notes.append(f"{col.label}: {int(open_ended.sum())} open-ended value(s) (长期/永久) read as no end")
        values, cut = _normalise_dates(values)
        if cut:
            repairs[f"time_of_day_cut_{col.target}"] = cut
            notes.append(f"{col.label}: time of day cut from {cut} date(s)")
    elif contract_col.kind in ("float", "int"):
        values, scaled = _normalise_amounts(values, col.scale)
        if scaled:
            notes.append(f"{col.label}: {scaled} amount(s) converted to 万元 (× {col.scale:g})")
    elif contract_col.kind in ("code", "code_set") and (col.values or contract_col.codes):
        list_name = col.values or contract_col.codes
        values, mapped, unmapped = map_values(values, list_name)
        if mapped:
            repairs[f"mapped_{col.target}"] = sum(mapped.values())
            shown = ", ".join(f"{k} ({v})" for k, v in list(mapped.items())[:8])
            notes.append(f"{col.label}: national wordings mapped to codes: {shown}")
        refused = REFUSED_VALUES.get(list_name, {})
        for value, count in unmapped.items():
            why = f"refused: {refused[value]}" if value in refused else "no mapping"
            notes.append(f"{col.label}: '{value}' on {count} row(s) not mapped ({why}), quarantined as unknown_code")
    return values


def adapt(
    path: Path,
    adapter: Adapter | str,
    table: Table | None = None,
    *,
    expected_rows: int | None = None,
    expected_sha256: str | None = None,
    context: dict[str, str] | None = None,
    pseudonymise: Callable[[pd.Series], pd.Series] | None = None,
) -> tuple[pd.DataFrame, Provenance]:
    """Read ``path`` in the national form ``adapter``; return its rows in the contract's columns and the provenance.

    ``context``: values for contract columns the form does not carry, for the whole file (published results:
    ``{"draw_type": "undirected", "item_type": "general", "inclusion_prob": "0.03"}``; a list of names:
    ``{"list_date": "2024-07-05", "reason_code": "1"}``); they fill empty cells only.
    ``pseudonymise``: turns legal representatives' names into pseudonymous keys; without it they are dropped.
    """
    from riskclass.contract import table as contract_table

    path = Path(path)
    adapter = ADAPTERS_BY_ID[adapter] if isinstance(adapter, str) else adapter
    table = table or contract_table(adapter.table)
    context = {k: str(v) for k, v in (context or {}).items()}
    for column in context:
        if column not in table.column_names:
            raise ValueError(f"context column {column!r} is not a column of {table.name}")
    records = _read_records(path)
    check_declared_sha256(path, records.sha256, expected_sha256)
    notes: list[str] = []
    repairs: dict[str, int] = {}
    where = _locate_columns(path, records, adapter, notes)
    matched, n_named, titles = where["matched"], where["n_named"], where["titles"]
    if titles:
        notes.append(f"{len(titles)} title row(s) above the data: {' / '.join(titles)}")
    twice: dict[str, list[str]] = {}
    for col in matched.values():
        if col.target:
            twice.setdefault(col.target, []).append(col.label)
    twice = {t: labels for t, labels in twice.items() if len(labels) > 1}
    if twice:
        raise RawFileError(path, f"column given twice: {twice}")

    rows = records.rows[where["first"] :]
    lines = np.array(records.lines[where["first"] :], dtype=np.int64)
    raw_lines = list(records.raw[where["first"] :])
    n = len(rows)
    if expected_rows is not None and n != expected_rows:
        raise RawFileError(path, f"truncated or padded: snapshot.json declares {expected_rows} rows, the file has {n}")

    issues: list[tuple[int, str, str, str]] = []
    counts = [len(r) for r in rows]
    unrealigned, realigned = _realign_rows(rows, matched, n_named, adapter, notes, repairs)
    for i in unrealigned:
        issues.append((i, "", "field_count", f"{counts[i]} fields where the form has {n_named}; not realigned"))
    short = [i for i, c in enumerate(counts) if c < n_named and not realigned[i]]
    for i in short:
        issues.append(
            (i, "", "field_count", f"{counts[i]} fields where the header has {n_named}; the raw line is kept")
        )
    if n and not records.terminated:
        issues.append(
            (
                n - 1,
                "",
                "no_final_newline",
                "the last line has no line break: the file may have been cut inside this record",
            )
        )

    # the source columns as text, null markers read as empty
    width = max([n_named, *(len(r) for r in rows)])
    grid = [r + [""] * (width - len(r)) for r in rows]
    source: dict[int, pd.Series] = {}
    marks: dict[str, int] = {}
    for pos in matched:
        raw = arrowtext.strip(pd.Series([g[pos] for g in grid], dtype=object))
        is_null = raw.isin(_NULLS)
        for mark, count in raw[is_null].value_counts().items():
            marks[mark] = marks.get(mark, 0) + int(count)
        source[pos] = raw.where(~is_null, "")
    if marks:
        repairs["null_markers"] = sum(marks.values())
        shown = ", ".join(f"'{k}' × {v}" for k, v in marks.items())
        notes.append(f"{sum(marks.values())} cell(s) holding a null marker read as empty ({shown})")

    frame = pd.DataFrame({c.name: pd.Series([""] * n, dtype=object) for c in table.columns})
    identity = pd.DataFrame({"uscc": [""] * n, "reg_no": [""] * n, "name": [""] * n}, dtype=object)
    present: set[str] = set()
    masked: list[tuple[int, np.ndarray]] = []
    for pos, col in matched.items():
        values = source[pos]
        if col.identity in ("name", "reg_no"):
            identity[col.identity] = values.to_numpy()
        elif col.identity == "code":  # USCC or 注册号 in one column: 注册号 (and mangled codes) go to matching
            is_reg = arrowtext.regex_mask(values, r"^[\pN+\-.,Ee]+$")  # candidates: Python's \d is any Nd digit
            is_reg[is_reg] = [
                bool(_REG_NO_SHAPE.fullmatch(v) or _MANGLED.fullmatch(v)) for v in values.to_numpy(dtype=object)[is_reg]
            ]
            identity.loc[is_reg, "reg_no"] = values[is_reg].to_numpy()
            values = values.where(~is_reg, "")
            if is_reg.any():
                notes.append(f"{col.label}: {int(is_reg.sum())} value(s) are 注册号 or mangled codes, used for linking")
        if col.personal:
            values, dropped = _personal(values, col, pseudonymise, notes, repairs)
            if dropped.any():
                masked.append((pos, dropped))
        if not col.target:
            if not col.identity and not col.personal:
                notes.append(f"column {col.label} not carried into the contract: {col.why or 'not in the contract'}")
            continue
        present.add(col.target)
        values = _convert(values, col, table.column(col.target), adapter, notes, repairs)
        frame[col.target] = values.to_numpy()
        if col.identity in ("uscc", "code"):
            identity["uscc"] = values.to_numpy()

    # columns the form lacks: values implied by another column, then the caller's context, then a title row
    for column, from_column, pairs in adapter.derived:
        derived = frame[from_column].map(dict(pairs))
        fill = ((frame[column] == "") & derived.notna()).to_numpy()
        if fill.any():
            frame.loc[fill, column] = derived[fill].to_numpy()
            notes.append(f"{column} derived from {from_column} on {int(fill.sum())} row(s) ({dict(pairs)})")
    title_context = _title_context(adapter, titles)
    for column, value in {**title_context, **context}.items():
        empty = (frame[column] == "").to_numpy()
        if empty.any():
            frame.loc[empty, column] = value
            origin = "the caller's context" if column in context else "the title row"
            notes.append(f"{column} = {value} from {origin} on {int(empty.sum())} row(s)")
    unfillable = _required_sources(table, adapter, present, {**title_context, **context})
    if unfillable:
        labels = ", ".join(f"{c} ({table.column(c).label})" for c in unfillable)
        raise RawFileError(
            path,
            f"the form {adapter.id} carries no {labels} and nothing states it: give it for the file (context) "
            "or export the column",
        )

    # raw lines with personal data masked
    if masked:
        rows_masked = sorted({int(i) for _, mask in masked for i in np.flatnonzero(mask)})
        for i in rows_masked:
            cells = list(grid[i][: max(counts[i], n_named)])
            for pos, mask in masked:
                if mask[i]:
                    cells[pos] = MASK
            raw_lines[i] = _csv_line(cells)
        notes.append(f"personal data masked ({MASK}) in the raw lines of {len(rows_masked)} row(s)")

    provenance = Provenance(
        adapter=adapter.id,
        path=path,
        encoding=records.encoding,
        header_line=where["header_line"],
        title_lines=titles,
        lines=lines,
        raw_lines=raw_lines,
        identity=identity,
        issues=issues,
        notes=notes,
        repairs=repairs,
        ignored_columns=where["ignored"],
        missing_optional=[c.name for c in table.columns if not c.required and c.name not in present],
        sha256=records.sha256,
        blank_lines=records.blank_lines,
    )
    return frame, provenance


# ---------------------------------------------------------------------------------------------------------------
# generated keys and the object ingest validates


def generate_keys(frame: pd.DataFrame, adapter: Adapter, names: pd.Series) -> int:
    """Fill an empty key (列入决定书文号, 检查记录编号) from the declared columns, after linking; return how many.

    The id is ``GEN-`` + 16 hex digits of SHA-1 over the columns (the linked USCC, else the normalised name),
    so the same record gets the same id in every export and a repeated record repeats its id.
    """
    if not adapter.generated_key:
        return 0
    key, *parts = adapter.generated_key
    empty = (frame[key] == "").to_numpy()
    if not empty.any():
        return 0
    from riskclass.contract import NAME_VARIANTS
    from riskclass.ingest.matching import normalise_names

    who = frame["uscc"].where(frame["uscc"] != "", normalise_names(names.reset_index(drop=True), NAME_VARIANTS))
    joined = pd.Series([""] * len(frame), dtype=object)
    for i, part in enumerate(parts):
        value = (who if part == "uscc" else frame[part]).astype(str)
        joined = value if i == 0 else joined + "|" + value
    frame.loc[empty, key] = [f"GEN-{hashlib.sha1(s.encode('utf-8')).hexdigest()[:16].upper()}" for s in joined[empty]]
    return int(empty.sum())


@dataclass
class AdaptedFile:
    """A file read through an adapter, in the shape ``ingest.validate_table`` takes (like ``reader.RawFile``)."""

    path: Path
    frame: pd.DataFrame  # every contract column, values as stripped text ("" = empty)
    encoding: str  # the text encoding, or "xlsx"
    header_line: int
    provenance: Provenance
    link_method: pd.Series  # per row: uscc / reg_no / name, "" when not linked
    match_report: dict | None
    findings: list[Finding] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    missing_optional: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)  # the adapter's notes, one sentence each (report.json)
    sha256: str = ""
    declared_rows: int | None = None
    scanned_records: int | None = None
    blank_lines: int = 0

    def row_numbers(self) -> pd.Series:
        """The physical line (CSV; the header is its own line) or the sheet row (Excel) of every row."""
        return pd.Series(self.provenance.lines, dtype="int64")

    def raw_lines(self, positions) -> list[str]:
        """The record as it stands in the file (Excel: its cells as a CSV line), personal data masked."""
        return [self.provenance.raw_lines[int(p)] for p in positions]

    def summary(self) -> dict:
        """What to add to the table's entry of report.json."""
        p = self.provenance
        return {
            "adapter": p.adapter,
            "title_lines": p.title_lines,
            "repairs_by_kind": p.repairs,
            "link_methods": {k: int(v) for k, v in self.link_method.value_counts().sort_index().items() if k},
            "match": self.match_report,
        }


def _findings(issues: list[tuple[int, str, str, str]]) -> list[Finding]:
    grouped: dict[tuple[str, str], tuple[list[int], list[str]]] = {}
    for position, column, rule, message in issues:
        rows, messages = grouped.setdefault((column, rule), ([], []))
        rows.append(position)
        messages.append(message)
    return [
        Finding(np.asarray(rows, dtype=np.int64), column, rule, np.asarray(messages, dtype=object))
        for (column, rule), (rows, messages) in grouped.items()
    ]


def read_adapted(
    path: Path,
    table: Table,
    adapter: Adapter | None = None,
    registry=None,
    *,
    expected_rows: int | None = None,
    expected_sha256: str | None = None,
    context: dict[str, str] | None = None,
    pseudonymise: Callable[[pd.Series], pd.Series] | None = None,
) -> AdaptedFile:
    """adapt → link to the registry → generated keys.

    ``registry``: a ``matching.RegistryIndex`` (built once per ingest from the accepted entities and the
    quarantined registry rows) or the accepted entities frame; ``None`` links nothing (no entities yet). A
    function returning one is called only after the file is read (a worker reads before the registry arrives).
    """
    from riskclass.contract import NAME_VARIANTS
    from riskclass.ingest import matching

    path = Path(path)
    adapter = adapter or detect(path, table)
    if adapter is None:
        raise RawFileError(path, f"in no national form of '{table.name}'")
    frame, prov = adapt(
        path,
        adapter,
        table,
        expected_rows=expected_rows,
        expected_sha256=expected_sha256,
        context=context,
        pseudonymise=pseudonymise,
    )
    issues = list(prov.issues)
    report = None
    registry = registry() if callable(registry) else registry
    if registry is not None:
        linked, unmatched, report = matching.link(prov.identity, registry, NAME_VARIANTS)
        frame["uscc"] = linked["uscc"].to_numpy()
        link_method = linked["link_method"]
        issues += [(row, "uscc", rule, message) for row, rule, message in unmatched]
        counts = report["linked"]
        prov.notes.append(
            f"linked to the registry: {counts['uscc']} by USCC, {counts['reg_no']} by 注册号, {counts['name']} by name"
            + (f"; not linked: {report['unmatched']}" if report["unmatched"] else "")
        )
    else:
        link_method = pd.Series(np.where(frame["uscc"] != "", "uscc", ""), dtype=object)
    generated = generate_keys(frame, adapter, prov.identity["name"])
    if generated:
        key, *parts = adapter.generated_key
        prov.notes.append(f"{key} missing: generated (GEN-…) on {generated} row(s) from {', '.join(parts)}")
        prov.repairs[f"generated_{key}"] = generated
    if "decision_no" in frame and len(frame):
        named = frame[(frame["decision_no"] != "") & (frame["uscc"] != "")]
        reused = named.groupby("decision_no")["uscc"].nunique()
        if (reused > 1).any():
            prov.notes.append(f"{int((reused > 1).sum())} decision number(s) name several entities (joint decisions)")
    for column in frame.columns:
        frame[column] = arrowtext.strip(frame[column].astype(str))
    return AdaptedFile(
        path=path,
        frame=frame.reset_index(drop=True),
        encoding=prov.encoding,
        header_line=prov.header_line,
        provenance=prov,
        link_method=pd.Series(link_method, dtype=object).reset_index(drop=True),
        match_report=report,
        findings=_findings(issues),
        ignored_columns=prov.ignored_columns,
        missing_optional=prov.missing_optional,
        repairs=[f"{adapter.id}: {note}" for note in prov.notes],
        sha256=prov.sha256,
        declared_rows=expected_rows,
        scanned_records=len(frame) if prov.encoding != "xlsx" else None,
        blank_lines=prov.blank_lines,
    )
