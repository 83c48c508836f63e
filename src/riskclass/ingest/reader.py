"""Reading raw files of the contract: encoding detection, header aliases, title rows, truncation.

Every problem with a whole file raises ``RawFileError`` naming the file and the problem; problems
with single values are left to the rules, which quarantine the row.
"""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from riskclass.contract import Table

ENCODINGS = ("utf-8-sig", "utf-8", "gb18030")


class RawFileError(Exception):
    """A raw file that cannot be read as a table of the contract."""

    def __init__(self, path: Path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = path, problem


@dataclass
class RawFile:
    path: Path
    frame: pd.DataFrame  # every contract column, values as stripped text ("" = empty)
    encoding: str | None
    header_line: int  # 1-based line of the header (2 when a title row precedes it)
    ignored_columns: list[str] = field(default_factory=list)
    missing_optional: list[str] = field(default_factory=list)
    short_rows: pd.Series | None = None  # rows with fewer fields than the header

    def row_numbers(self) -> pd.Series:
        """The row number a person sees: the file line for CSV (header = line 1), the row for Parquet."""
        first = self.header_line + 1 if self.encoding else 1
        return pd.Series(range(first, first + len(self.frame)))


def find_file(raw_dir: Path, table: Table, optional: bool = False) -> Path | None:
    candidates = [raw_dir / f"{table.name}.{ext}" for ext in ("csv", "parquet")]
    found = [p for p in candidates if p.exists()]
    if not found and optional:
        return None
    if not found:
        raise RawFileError(
            raw_dir / f"{table.name}.csv",
            f"missing: the contract needs table '{table.name}' "
            f"({table.label}) as {table.name}.csv or {table.name}.parquet",
        )
    if len(found) > 1:
        raise RawFileError(found[0], f"ambiguous: both {found[0].name} and {found[1].name} exist")
    return found[0]


def detect_encoding(path: Path) -> str:
    """UTF-8 with BOM, UTF-8 or GB18030, checked over the whole file in chunks."""
    with open(path, "rb") as fh:
        head = fh.read(3)
    if head == codecs.BOM_UTF8:
        return "utf-8-sig"
    errors = []
    for encoding in ("utf-8", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        offset = 0
        try:
            with open(path, "rb") as fh:
                for chunk in iter(lambda fh=fh: fh.read(1 << 22), b""):
                    decoder.decode(chunk)
                    offset += len(chunk)
                decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError as exc:
            errors.append(f"{encoding} fails at byte {offset + exc.start}")
    raise RawFileError(path, "unreadable encoding: not UTF-8, UTF-8 with BOM or GB18030 (" + "; ".join(errors) + ")")


def _header_map(table: Table) -> dict[str, str]:
    aliases = {}
    for col in table.columns:
        aliases[col.name] = col.name
        aliases[col.label] = col.name
    return aliases


def _match_header(names: list[str], table: Table) -> tuple[dict[str, str], int]:
    aliases = _header_map(table)
    mapping = {n: aliases[n.strip()] for n in names if n.strip() in aliases}
    return mapping, len(set(mapping.values()))


def _finish(path: Path, raw: pd.DataFrame, table: Table, encoding: str | None, header_line: int) -> RawFile:
    mapping, _ = _match_header(list(raw.columns), table)
    duplicated = [c for c in set(mapping.values()) if list(mapping.values()).count(c) > 1]
    if duplicated:
        raise RawFileError(path, f"column given twice (English and Chinese header?): {sorted(duplicated)}")
    missing = [c.name for c in table.columns if c.name not in mapping.values()]
    missing_required = [f"{c} ({table.column(c).label})" for c in missing if table.column(c).required]
    if missing_required:
        raise RawFileError(path, f"missing required column(s): {', '.join(missing_required)}")
    frame = raw.rename(columns=mapping)[[c for c in table.column_names if c not in missing]]
    for c in missing:
        frame[c] = ""
    frame = frame[table.column_names].apply(lambda s: s.str.strip())
    ignored = [c for c in raw.columns if c not in mapping]
    return RawFile(path, frame.reset_index(drop=True), encoding, header_line, ignored, missing)


def read_csv(path: Path, table: Table, expected_rows: int | None = None) -> RawFile:
    encoding = detect_encoding(path)
    with open(path, encoding=encoding, newline="") as fh:
        first_lines = [fh.readline() for _ in range(2)]
    header_line = 0
    for i, line in enumerate(first_lines):
        names = next(csv.reader([line]), []) if line.strip() else []
        if _match_header([str(n) for n in names], table)[1] >= max(2, len(table.columns) // 2):
            header_line = i + 1
            break
    if not header_line:
        raise RawFileError(
            path,
            f"no header row with the columns of '{table.name}' in the first two lines "
            f"(expected names like {table.column_names[:3]} or {[c.label for c in table.columns[:3]]})",
        )
    try:
        raw = pd.read_csv(
            path, encoding=encoding, dtype=str, keep_default_na=False, skiprows=header_line - 1, skip_blank_lines=True
        )
    except pd.errors.ParserError as exc:
        raise RawFileError(path, f"malformed CSV: {exc}") from None
    except pd.errors.EmptyDataError:
        raise RawFileError(path, "empty file") from None
    short = _check_truncation(path, raw, expected_rows, encoding, header_line)
    result = _finish(path, raw.fillna(""), table, encoding, header_line)
    result.short_rows = short
    return result


def _short_records(path: Path, encoding: str, header_line: int, n_columns: int) -> pd.Series:
    """True for each data record with fewer fields than the header (pandas pads those silently)."""
    with open(path, encoding=encoding, newline="") as fh:
        for _ in range(header_line):
            fh.readline()
        counts = [len(rec) for rec in csv.reader(fh) if rec]
    return pd.Series(counts, dtype="int64") < n_columns


def _check_truncation(
    path: Path, raw: pd.DataFrame, expected_rows: int | None, encoding: str, header_line: int
) -> pd.Series:
    """Fail on a truncated file; return the rows that have fewer fields than the header."""
    if expected_rows is not None and len(raw) != expected_rows:
        raise RawFileError(
            path, f"truncated or padded: snapshot.json declares {expected_rows} rows, the file has {len(raw)}"
        )
    short = _short_records(path, encoding, header_line, len(raw.columns))
    if len(short) != len(raw):  # cannot happen for well-formed CSV; refuse rather than mis-number rows
        raise RawFileError(path, f"inconsistent record count ({len(short)} by field count, {len(raw)} parsed)")
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        fh.seek(max(0, fh.tell() - 1))
        ends_with_newline = fh.read(1) in (b"\n", b"")
    if len(raw) and not ends_with_newline and short.iloc[-1]:
        raise RawFileError(path, f"truncated: the last record (data row {len(raw)}) stops mid-line")
    return short.reset_index(drop=True)


def read_parquet(path: Path, table: Table, expected_rows: int | None = None) -> RawFile:
    try:
        arrow = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise RawFileError(path, f"unreadable Parquet file ({type(exc).__name__}: {exc})") from None
    raw = arrow.to_pandas()
    for col in raw.columns:
        s = raw[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            raw[col] = s.dt.strftime("%Y-%m-%d").fillna("")
        elif pd.api.types.is_bool_dtype(s):
            raw[col] = s.map({True: "true", False: "false"}).fillna("")
        else:
            raw[col] = s.map(lambda v: "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v))
    if expected_rows is not None and len(raw) != expected_rows:
        raise RawFileError(
            path, f"truncated or padded: snapshot.json declares {expected_rows} rows, the file has {len(raw)}"
        )
    return _finish(path, raw, table, None, 0)


def read_raw(path: Path, table: Table, expected_rows: int | None = None) -> RawFile:
    if path.suffix == ".parquet":
        return read_parquet(path, table, expected_rows)
    return read_csv(path, table, expected_rows)
