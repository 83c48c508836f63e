"""Reading raw files of the contract: encodings by evidence, header aliases, title rows, record integrity.

Every problem with a whole file raises ``RawFileError`` naming the file and the problem; problems
with single records or values are left to the rules, which quarantine the record.

A CSV file is read once into memory and looked at twice: ``integrity.scan_records`` finds its
records on the bytes (quote-aware, independent of any parser), then Arrow's multi-threaded CSV parser
reads the data records, grouped by the number of fields the scan found in them, and must return
exactly those records, or the file is refused naming the first line where they differ. Values are
trimmed in Arrow (the characters ``str.strip()`` removes) before they become Python strings.

Record-level findings (wrong field count, NUL byte, oversized field, a last line without
line break) quarantine single records with their original raw line; blank lines are skipped and
counted; a trailing delimiter on every row is dropped with the repair stated in the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from riskclass import arrowtext
from riskclass.contract import Table
from riskclass.ingest import integrity
from riskclass.ingest.integrity import MAX_FIELD_CHARS, Refusal, Scan

ENCODINGS = ("utf-8-sig", "utf-8", "gb18030")
_SAMPLE_CHECKS = 64  # parsed rows whose first field is compared with the scanned record's, besides the count
_PARSE_BLOCK = 1 << 22  # bytes per block of the Arrow parser (raised for a group holding a longer record)


class RawFileError(Exception):
    """A raw file that cannot be read as a table of the contract."""

    def __init__(self, path: Path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = path, problem

    def __reduce__(self):  # raised in a worker process, it crosses back to the parent by pickling
        return (RawFileError, (self.path, self.problem))


@dataclass
class RecordFinding:
    """Records (row positions) a rule quarantines before any value is checked."""

    rows: np.ndarray
    column: str  # contract column, or "" for the whole record
    rule: str
    message: str | np.ndarray


@dataclass
class RawFile:
    path: Path
    frame: pd.DataFrame  # every contract column, values as stripped text ("" = empty)
    encoding: str | None
    header_line: int  # 1-based line of the header (2 when a title row precedes it)
    ignored_columns: list[str] = field(default_factory=list)
    missing_optional: list[str] = field(default_factory=list)
    lines: np.ndarray | None = None  # physical line where each row's record starts (CSV)
    findings: list[RecordFinding] = field(default_factory=list)
    blank_lines: int = 0
    repairs: list[str] = field(default_factory=list)
    sha256: str = ""
    declared_rows: int | None = None
    scanned_records: int | None = None  # the independent count of the byte scan (CSV)
    _buf: bytes | None = None
    _scan: Scan | None = None
    _records: np.ndarray | None = None  # scan record index of each row

    def row_numbers(self) -> pd.Series:
        """The row number a person sees: the file line where the record starts for CSV, the row for Parquet."""
        if self.lines is not None:
            return pd.Series(self.lines, dtype="int64")
        return pd.Series(range(1, 1 + len(self.frame)), dtype="int64")

    def raw_lines(self, positions) -> list[str]:
        """The exact text of each row's record in the file ("" for Parquet, whose ``record`` is the row)."""
        if self._buf is None:
            return ["" for _ in positions]
        return [integrity.record_text(self._buf, self._scan, int(self._records[p]), self.encoding) for p in positions]


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
    """UTF-8 with BOM, UTF-8 or GB18030 decided over the whole file; UTF-16 and Big5 refused with the evidence."""
    try:
        return integrity.decide_encoding(Path(path).read_bytes())
    except Refusal as exc:
        raise RawFileError(path, str(exc)) from None


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


def _finish(
    path: Path, raw: pd.DataFrame, table: Table, encoding: str | None, header_line: int, stripped: bool = False
) -> RawFile:
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
    frame = frame[table.column_names]
    if not stripped:
        frame = frame.apply(arrowtext.strip)
    ignored = [c for c in raw.columns if c not in mapping]
    return RawFile(path, frame.reset_index(drop=True), encoding, header_line, ignored, missing)


def _unique_names(names: list[str]) -> list[str]:
    """Header names made unique the way pandas does (a repeated name gets .1, .2 ...)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            new = f"{name}.{seen[name]}"
            while new in seen:
                seen[name] += 1
                new = f"{name}.{seen[name]}"
            seen[new] = 0
            out.append(new)
        else:
            seen[name] = 0
            out.append(name)
    return out


def _record_bytes(buf: bytes, scan: Scan, records: np.ndarray, encoding: str) -> bytes:
    """The bytes of ``records`` (scan indices, ascending) with their line breaks, as UTF-8 for the parser."""
    runs = np.flatnonzero(np.diff(records) != 1) + 1  # consecutive records are one slice of the buffer
    firsts, lasts = records[np.r_[0, runs]], records[np.r_[runs - 1, len(records) - 1]]
    ends = np.minimum(scan.ends[lasts] + 1, len(buf))
    if len(firsts) == 1:
        data = memoryview(buf)[int(scan.starts[firsts[0]]) : int(ends[0])]
    else:
        data = b"".join(buf[int(a) : int(b)] for a, b in zip(scan.starts[firsts], ends, strict=True))
    if encoding == "gb18030":  # the parser reads UTF-8 only
        return bytes(data).decode("gb18030").encode("utf-8")
    return data


def _parse_group(data, fields: int, keep: int, quoted_line_breaks: bool, longest: int) -> tuple[pa.Table, int]:
    """Arrow's reading of records that all have ``fields`` fields: the first ``keep`` columns as untrimmed text,
    and how many records the parser read (rows it finds malformed are counted, not returned)."""
    malformed = 0

    def count_malformed(row) -> str:
        nonlocal malformed
        malformed += 1
        return "skip"

    names = [str(i) for i in range(fields)]
    block = max(_PARSE_BLOCK, 2 * longest + 2)  # a record must fit in a block
    table = pacsv.read_csv(
        pa.py_buffer(data),
        read_options=pacsv.ReadOptions(column_names=names, block_size=block, use_threads=True),
        parse_options=pacsv.ParseOptions(
            delimiter=",",
            quote_char='"',
            double_quote=True,
            escape_char=False,
            newlines_in_values=quoted_line_breaks,
            ignore_empty_lines=False,
            invalid_row_handler=count_malformed,
        ),
        convert_options=pacsv.ConvertOptions(
            include_columns=names[: min(fields, keep)],
            column_types={n: pa.string() for n in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            null_values=[],
            check_utf8=True,
        ),
    )
    return table, table.num_rows + malformed


def _parse(path: Path, buf: bytes, scan: Scan, records: np.ndarray, encoding: str, keep: int) -> dict[int, np.ndarray]:
    """The parser's reading of the data records: ``keep`` columns of trimmed text, one row per record.

    Records go to the parser grouped by the number of fields the scan counted in them, so a record with
    too many or too few fields can neither shift its neighbours nor be dropped: each group must come back
    as exactly its records (``_verify``). Fields a short record lacks are empty; fields beyond ``keep``
    are not kept.
    """
    n = len(records)
    columns: dict[int, np.ndarray] = {}
    fields = scan.fields[records]
    sizes = scan.ends[records] - scan.starts[records]
    for width in np.unique(fields):
        group = np.flatnonzero(fields == width)
        data = _record_bytes(buf, scan, records[group], encoding)
        try:
            table, read = _parse_group(data, int(width), keep, scan.quoted_line_breaks > 0, int(sizes[group].max()))
        except pa.ArrowInvalid as exc:
            raise RawFileError(path, f"the CSV parser cannot read the records the byte scan finds ({exc})") from None
        _verify(path, buf, scan, records[group], read, table.column(0), encoding)
        for i in range(min(int(width), keep)):
            values = arrowtext.to_objects(arrowtext.trim(table.column(i)))
            if len(group) == n:
                columns[i] = values
            else:
                columns.setdefault(i, np.full(n, "", dtype=object))[group] = values
    return {i: columns[i] if i in columns else np.full(n, "", dtype=object) for i in range(keep)}


def check_declared_sha256(path: Path, digest: str, expected_sha256: str | None) -> None:
    """Refuse a file whose SHA-256 differs from the one snapshot.json declares for it."""
    if expected_sha256 is not None and digest != expected_sha256.lower():
        raise RawFileError(
            path,
            f"checksum mismatch: snapshot.json declares sha256 {expected_sha256.lower()}, the file has {digest} "
            "(changed or cut in transfer)",
        )


def read_csv(path: Path, table: Table, expected_rows: int | None = None, expected_sha256: str | None = None) -> RawFile:
    """The whole file as one ``RawFile``."""
    layout = open_csv(path, table, expected_rows, expected_sha256)
    return layout.chunk(0, layout.rows)


def open_csv(path: Path, table: Table, expected_rows: int | None = None, expected_sha256: str | None = None) -> CsvFile:
    """The file checked as a whole (checksum, encoding, byte scan, header, declared rows, row shape), its records
    still unparsed: ``chunk(lo, hi)`` parses records ``lo``–``hi`` into a ``RawFile``, so a large file can be
    validated a bounded number of records at a time."""
    buf = Path(path).read_bytes()
    digest = integrity.sha256(buf)
    check_declared_sha256(path, digest, expected_sha256)
    try:
        encoding = integrity.decide_encoding(buf)
        scan = integrity.scan_records(buf, encoding)
        return _layout(path, table, buf, scan, encoding, digest, expected_rows)
    except Refusal as exc:
        raise RawFileError(path, str(exc)) from None


@dataclass
class CsvFile:
    """A CSV file of the contract found on the bytes: its data records and what holds for all of them."""

    path: Path
    table: Table
    buf: bytes
    scan: Scan
    encoding: str
    sha256: str
    declared_rows: int | None
    header_line: int
    records: np.ndarray  # scan indices of the data records (blank lines left out)
    blank_lines: int
    names: list[str]  # header names kept (made unique)
    width: int  # fields a conforming record has
    keep: int
    repairs: list[str]
    conform: np.ndarray  # per data record: has the file's row shape
    parse_buf: bytes  # ``buf`` with NUL bytes replaced for the parser

    @property
    def rows(self) -> int:
        return len(self.records)

    def chunk(self, lo: int, hi: int) -> RawFile:
        """Data records ``lo``–``hi`` (positions among the data records) as a ``RawFile`` whose row positions
        start at 0; findings on the whole file (blank lines, repairs, the byte scan's count) are repeated."""
        try:
            return self._chunk(lo, hi)
        except Refusal as exc:
            raise RawFileError(self.path, str(exc)) from None

    def _chunk(self, lo: int, hi: int) -> RawFile:
        path, buf, scan, names, repairs = self.path, self.buf, self.scan, self.names, self.repairs
        records = self.records[lo:hi]
        n = len(records)
        fields = scan.fields[records]
        trailing = integrity.trailing_empty(buf, scan, records)
        if n:
            columns = _parse(path, self.parse_buf, scan, records, self.encoding, self.keep)
            parsed = pd.DataFrame({name: columns[i] for i, name in enumerate(names)})
        else:
            parsed = pd.DataFrame({c: pd.Series([], dtype=object) for c in names})

        findings: list[RecordFinding] = []

        bad_shape = np.flatnonzero(~self.conform[lo:hi])
        if len(bad_shape):
            expected = self.width - 1 if repairs else self.width
            got = fields[bad_shape] - (trailing[bad_shape] & bool(repairs))
            messages = np.array(
                [
                    f"{g} fields where the header has {expected}"
                    + (" (after the trailing delimiter of this file)" if repairs else "")
                    + "; the raw line is kept"
                    for g in got
                ],
                dtype=object,
            )
            findings.append(RecordFinding(bad_shape, "", "field_count", messages))

        nul_records = np.unique(scan.record_of(scan.nul)) if len(scan.nul) else np.zeros(0, dtype=np.int64)
        if len(nul_records):
            rows, columns, messages = [], [], []
            for r in nul_records:
                p = int(np.searchsorted(records, r))
                if p == n or records[p] != r:
                    continue  # a NUL in the title or header row (not a record), or in another chunk
                offset = int(scan.nul[np.searchsorted(scan.nul, scan.starts[r])])
                k = integrity.field_index(buf, scan, int(r), offset)
                col = names[k] if k < len(names) else ""
                rows.append(p)
                columns.append(col)
                where = f"field {k + 1}" + (f" ({col})" if col else "")
                messages.append(f"NUL byte in {where}; shown as \\x00, the value is kept whole")
                for c in parsed.columns:  # show the NUL, not the stand-in the parser read
                    v = parsed.at[p, c]
                    if "\x1a" in v:
                        parsed.at[p, c] = v.replace("\x1a", "\\x00")
            for col in dict.fromkeys(columns):
                sel = [i for i, c in enumerate(columns) if c == col]
                chosen = np.array([messages[i] for i in sel], dtype=object)
                findings.append(RecordFinding(np.array([rows[i] for i in sel]), col, "nul_byte", chosen))

        long_rows = np.flatnonzero(scan.ends[records] - scan.starts[records] > MAX_FIELD_CHARS)  # bytes >= characters
        for p in long_rows:
            for c in parsed.columns:
                v = parsed.at[p, c]
                if len(v) > MAX_FIELD_CHARS:
                    parsed.at[p, c] = v[:200] + f"… ({len(v):,} characters; the whole record is in raw_line)"
                    findings.append(
                        RecordFinding(
                            np.array([p]),
                            c,
                            "oversized_field",
                            f"field {c} has {len(v):,} characters, more than the limit of {MAX_FIELD_CHARS:,}",
                        )
                    )

        if n and not scan.terminated and records[-1] == len(scan.starts) - 1:
            findings.append(
                RecordFinding(
                    np.array([n - 1]),
                    "",
                    "no_final_newline",
                    "the last line has no line break: the file may have been cut inside this record",
                )
            )

        result = _finish(path, parsed, self.table, self.encoding, self.header_line, stripped=True)
        mapping = _match_header(list(parsed.columns), self.table)[0]
        for f in findings:  # findings name the contract column when the field is one, else the whole record ("")
            f.column = mapping.get(f.column, "")
        result.lines = scan.lines[records].astype(np.int64)
        result.findings = findings
        result.blank_lines = self.blank_lines
        result.repairs = repairs
        result.sha256 = self.sha256
        result.declared_rows = self.declared_rows
        result.scanned_records = self.rows
        result._buf, result._scan, result._records = buf, scan, records
        return result


def _layout(
    path: Path, table: Table, buf: bytes, scan: Scan, encoding: str, digest: str, expected_rows: int | None
) -> CsvFile:
    blank = integrity.blank_records(buf, scan)
    content = np.flatnonzero(~blank)
    if not len(content):
        raise RawFileError(path, "empty file")
    header = None
    for i in content[:2]:  # the header, or a title row and then the header
        text = integrity.record_text(buf, scan, int(i), encoding)
        names = integrity.split_record(text) if text.strip() else []
        if _match_header(names, table)[1] >= max(2, len(table.columns) // 2):
            header = int(i)
            break
    if header is None:
        raise RawFileError(
            path,
            f"no header row with the columns of '{table.name}' in the first two lines "
            f"(expected names like {table.column_names[:3]} or {[c.label for c in table.columns[:3]]})",
        )
    header_line = int(scan.lines[header])
    records = content[content > header]  # data records, blank lines left out
    n = len(records)
    blank_lines = int(blank[header + 1 :].sum())
    if expected_rows is not None and n != expected_rows:
        raise RawFileError(path, f"truncated or padded: snapshot.json declares {expected_rows} rows, the file has {n}")

    names = integrity.split_record(integrity.record_text(buf, scan, header, encoding))
    fields = scan.fields[records]
    trailing = integrity.trailing_empty(buf, scan, records)
    width, keep, repairs = _row_shape(names, fields, trailing, n)
    names = _unique_names(names[:keep])
    conform = (fields == width) & trailing if repairs else fields == width

    # NUL bytes: the parser would cut the value at them; replace them (same length) and quarantine the record
    parse_buf = buf.replace(b"\x00", b"\x1a") if len(scan.nul) else buf  # SUB: never part of a UTF-8/GB18030 char
    return CsvFile(
        path,
        table,
        buf,
        scan,
        encoding,
        digest,
        expected_rows,
        header_line,
        records,
        blank_lines,
        names,
        width,
        keep,
        repairs,
        conform,
        parse_buf,
    )


def _row_shape(names: list[str], fields: np.ndarray, trailing: np.ndarray, n: int) -> tuple[int, int, list[str]]:
    """Fields a data record should have, header names to keep, and the repair of a trailing delimiter.

    A trailing delimiter is the file's convention when more than half of the records end with an
    empty extra field: then that field is dropped (and the repair stated), instead of shifting every
    column or quarantining every record. Records that do not follow the convention are quarantined.
    """
    h = len(names)
    if not n:
        return h, h, []
    if h >= 2 and not names[-1].strip():  # the header ends with a delimiter too
        rows = int(((fields == h) & trailing).sum())
        if 2 * rows > n:
            return h, h - 1, [f"trailing delimiter on the header and on {rows:,} rows dropped (an empty last field)"]
    rows = int(((fields == h + 1) & trailing).sum())
    if 2 * rows > n:
        reason = f"the header has {h} fields, the rows {h + 1} with an empty last field"
        return h + 1, h, [f"trailing delimiter on {rows:,} rows dropped ({reason})"]
    return h, h, []


def _verify(
    path: Path, buf: bytes, scan: Scan, records: np.ndarray, read: int, firsts: pa.ChunkedArray, encoding: str
) -> None:
    """The parser must have read exactly the scanned ``records``: same count, same first field at samples.

    ``read`` counts every record the parser found (also those it found malformed), ``firsts`` holds the first
    field of the rows it returned.
    """
    n = len(records)
    same = read == n == len(firsts)
    if same:
        sample = np.unique(np.linspace(0, n - 1, min(n, _SAMPLE_CHECKS)).astype(np.int64))
        same = all(_first_field(buf, scan, int(records[p]), encoding) == firsts[int(p)].as_py() for p in sample)
    if same:
        return
    parsed = firsts.to_pylist()
    first = _first_difference(buf, scan, records, parsed, encoding)
    if first == 0:
        where = f"they differ from the first of these records, on line {int(scan.lines[records[0]])}"
    else:
        before = int(records[first - 1])
        where = (
            f"they part after the record starting on line {int(scan.lines[before])} "
            f"{integrity.excerpt(buf, int(scan.starts[before]), encoding)}: "
        )
        where += (
            f"the scan's next record starts on line {int(scan.lines[records[first]])}"
            if first < n
            else "the scan finds no further record"
        )
        if first < len(parsed):
            where += f", the parser's next row begins {str(parsed[first])[:40]!r}"
    hint = ""
    if scan.first_suspect_quote is not None:
        q = scan.first_suspect_quote
        hint = (
            f"; a quote RFC 4180 does not allow there stands on line {integrity.line_of(buf, q)} "
            f"{integrity.excerpt(buf, q, encoding)}"
        )
    width = int(scan.fields[records[0]])
    raise RawFileError(
        path,
        f"the CSV parser read {read:,} records where a byte scan of the file finds {n:,} records of {width} fields; "
        f"{where}{hint}. The records cannot be trusted (a stray quote or a damaged line?)",
    )


def _first_field(buf: bytes, scan: Scan, i: int, encoding: str) -> str:
    text = integrity.record_text(buf, scan, i, encoding).replace("\x00", "\x1a")
    values = integrity.split_record(text)
    return values[0] if values else ""


def _first_difference(buf: bytes, scan: Scan, records: np.ndarray, parsed: list[str], encoding: str) -> int:
    """The first record whose first field the parser read differently (only when refusing)."""
    for p, r in enumerate(records):
        if p >= len(parsed) or _first_field(buf, scan, int(r), encoding) != parsed[p]:
            return p
    return len(records)


def read_parquet(
    path: Path, table: Table, expected_rows: int | None = None, expected_sha256: str | None = None
) -> RawFile:
    digest = integrity.sha256(Path(path).read_bytes())
    check_declared_sha256(path, digest, expected_sha256)
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
    result = _finish(path, raw, table, None, 0)
    result.sha256, result.declared_rows = digest, expected_rows
    return result


def read_raw(path: Path, table: Table, expected_rows: int | None = None, expected_sha256: str | None = None) -> RawFile:
    if path.suffix == ".parquet":
        return read_parquet(path, table, expected_rows, expected_sha256)
    return read_csv(path, table, expected_rows, expected_sha256)
