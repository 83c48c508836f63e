"""Ingest: raw snapshot → validated Parquet tables + quarantine + reconciled report.

Nothing is dropped silently: for every table, read = accepted + quarantined, where read is the number
of records a byte scan finds in the file independently of the CSV parser (see ``integrity``), and
every quarantined row is kept with its file, physical line, column, rule, value, the whole original
record and its raw line exactly as it stands in the file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import multiprocessing
import os
import pickle
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from rich.progress import Progress

from riskclass import arrowtext, contract
from riskclass.exports import write_csv
from riskclass.ingest import adapters, matching
from riskclass.ingest.reader import RawFileError, find_file, open_csv, read_raw
from riskclass.ingest.rules import (
    Findings,
    SeenKeys,
    check_column,
    check_duplicates,
    check_references,
    check_table_references,
    check_table_rules,
    pseudonymise_person_columns,
)
from riskclass.io import ParquetParts, atomic_directory, write_json, write_parquet
from riskclass.personal import Pseudonymiser, PseudonymKeyError, mask_free_text_columns, redact_quarantine

__all__ = ["IngestError", "RawFileError", "ingest", "validate_table"]

QUARANTINE_COLUMNS = ["table", "file", "row", "column", "rule", "value", "message", "record", "raw_line"]


class IngestError(Exception):
    pass


def _snapshot_manifest(raw_dir: Path) -> dict:
    path = raw_dir / "snapshot.json"
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RawFileError(path, f"not valid JSON ({exc})") from None


def _declared(raw_dir: Path, manifest: dict) -> dict[str, dict]:
    """Per table the row count and SHA-256 an exporting system declares in snapshot.json (both optional)."""
    path = raw_dir / "snapshot.json"
    tables = manifest.get("tables", {})
    if not isinstance(tables, dict):
        raise RawFileError(path, '\'tables\' must map table names to {"rows": N, "sha256": "..."}')
    out = {}
    for name, entry in tables.items():
        entry = entry if isinstance(entry, dict) else {}
        rows, digest = entry.get("rows"), entry.get("sha256")
        if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or rows < 0):
            raise RawFileError(path, f"tables.{name}.rows must be a whole number ≥ 0, not {rows!r}")
        if digest is not None and not (
            isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdefABCDEF" for c in digest)
        ):
            raise RawFileError(path, f"tables.{name}.sha256 must be 64 hexadecimal digits, not {digest!r}")
        out[name] = {"rows": rows, "sha256": digest}
    return out


def validate_table(
    table: contract.Table,
    raw,
    snapshot: pd.Timestamp,
    registry: dict | Callable[[], dict | None] | None,
    accepted_keys: dict | Callable[[], dict] | None = None,
    extra_rules: Callable[[pd.DataFrame, Findings], None] | None = None,
    pseudonymiser: Pseudonymiser | None = None,
    seen: SeenKeys | None = None,
):
    """Validate one raw table. Returns (accepted typed frame, quarantine frame, summary dict, detail).

    ``registry`` and ``accepted_keys`` may be given as functions: they are called only when the table refers
    to them, after every rule of its own columns (a worker process checks those before the registry arrives).
    ``extra_rules(typed, found)`` adds checks a caller knows of (e.g. results against their plan). ``raw`` may be
    one chunk of a table's records: ``seen`` then holds the accepted keys of the chunks before it.
    """
    clear = raw.frame  # as read: quarantine records are built from it, then redacted
    text, pseudonymised = pseudonymise_person_columns(table, clear, pseudonymiser)
    n = len(text)
    found = Findings()
    for finding in getattr(raw, "findings", []):  # record-level rules found on the raw bytes (reader.RawFile)
        found.add(finding.rows, finding.column, finding.rule, finding.message)
    typed = pd.DataFrame({col.name: check_column(col, text[col.name], snapshot, found) for col in table.columns})
    check_table_rules(table, typed, text, found)
    registry = registry() if callable(registry) and table.references_entities else registry
    if table.references_entities and registry is not None:
        check_references(typed, registry["accepted"], registry["quarantined_rows"], registry["file"], found)
    if table.references:
        keys = accepted_keys() if callable(accepted_keys) else accepted_keys
        check_table_references(table, typed, keys or {}, found)
    if extra_rules is not None:
        extra_rules(typed, found)
    row_numbers = raw.row_numbers().to_numpy()
    check_duplicates(table, text, found.bad_mask(n), row_numbers, found, seen)
    bad = found.bad_mask(n)

    violations = found.frame(text)
    quarantine = pd.DataFrame(columns=QUARANTINE_COLUMNS)
    if len(violations):
        violations = violations.sort_values(["position", "column", "rule"], kind="stable")
        positions = violations["position"].to_numpy()
        unique = np.unique(positions)
        originals = clear.iloc[unique].to_dict("records")
        records = {p: json.dumps(r, ensure_ascii=False) for p, r in zip(unique, originals, strict=True)}
        lines = raw.raw_lines(unique) if hasattr(raw, "raw_lines") else [""] * len(unique)
        raw_lines = dict(zip(unique, lines, strict=True))
        quarantine = pd.DataFrame(
            {
                "table": table.name,
                "file": raw.path.name,
                "row": row_numbers[positions],
                "column": violations["column"].to_numpy(),
                "rule": violations["rule"].to_numpy(),
                "value": violations["value"].astype(str).to_numpy(),
                "message": violations["message"].to_numpy(),
                "record": [records[p] for p in positions],
                "raw_line": [raw_lines[p] for p in positions],
            }
        )
        quarantine = redact_quarantine(table, quarantine, pseudonymiser)
    accepted = typed[~bad].reset_index(drop=True)
    summary = {
        "file": raw.path.name,
        "encoding": raw.encoding or "parquet",
        "header_line": raw.header_line,
        "read": n,
        "accepted": int((~bad).sum()),
        "quarantined": int(bad.sum()),
        "violations_by_rule": {k: int(v) for k, v in quarantine["rule"].value_counts().sort_index().items()},
        "ignored_columns": raw.ignored_columns,
        "missing_optional_columns": raw.missing_optional,
        "sha256": getattr(raw, "sha256", ""),
        "declared_rows": getattr(raw, "declared_rows", None),
        "scanned_records": getattr(raw, "scanned_records", None),  # the byte scan's count (CSV) = the parser's
        "blank_lines_skipped": getattr(raw, "blank_lines", 0),
        "repairs": list(getattr(raw, "repairs", [])),
        "pseudonymised": pseudonymised,
    }
    summary["reconciled"] = summary["read"] == summary["accepted"] + summary["quarantined"]
    return accepted, quarantine, summary, {"bad": bad, "typed": typed, "row_numbers": row_numbers}


@dataclass
class _Shared:
    """What validating a table needs from the tables validated before it (and what a worker process receives)."""

    snapshot: pd.Timestamp
    pseudonymiser: Pseudonymiser | None
    chunk_rows: int = 0  # a CSV file of more records is validated this many records at a time (0: never)
    registry: dict | None = None  # accepted USCCs (an arrowtext.KeySet), quarantined registry rows, the registry file
    names: matching.RegistryIndex | None = None  # the registry's names and 注册号, for records without a USCC
    names_file: Path | None = None  # ... or where they are pickled (handed to workers: loaded only if needed)
    accepted_keys: dict = field(default_factory=dict)  # table → accepted keys, for references between tables

    def name_index(self) -> matching.RegistryIndex | None:
        if self.names is None and self.names_file is not None:
            self.names = pickle.loads(self.names_file.read_bytes())
        return self.names


@dataclass
class _TableResult:
    summary: dict
    quarantine: pd.DataFrame
    keys: arrowtext.KeySet | None  # the accepted keys (single-column keys only), for tables that reference this one


def _form(table: contract.Table, path: Path) -> adapters.Adapter | None:
    """The national form ``path`` is in, or None for the contract's own columns."""
    if contract.adapters_for(table.name) or adapters.file_kind(path) in ("xls", "xlsx"):
        return adapters.detect(path, table)
    return None


def _read_table(table: contract.Table, path: Path, declared: dict, form, shared: _Shared) -> Iterator:
    """The raw table in chunks of records: one chunk, unless a CSV file in the contract's columns has more than
    ``shared.chunk_rows`` records. Records of a national form are linked to the registry once read."""
    if form is None and path.suffix != ".parquet" and shared.chunk_rows:
        layout = open_csv(path, table, declared.get("rows"), declared.get("sha256"))
        step = shared.chunk_rows if layout.rows > shared.chunk_rows else max(layout.rows, 1)
        return (layout.chunk(lo, min(lo + step, layout.rows)) for lo in range(0, max(layout.rows, 1), step))
    if form is None:
        return iter([read_raw(path, table, declared.get("rows"), declared.get("sha256"))])
    return iter(
        [
            adapters.read_adapted(
                path,
                table,
                form,
                lambda: shared.name_index(),  # a worker waits for the registry only once the file is read
                expected_rows=declared.get("rows"),
                expected_sha256=declared.get("sha256"),
                pseudonymise=shared.pseudonymiser.pseudonymise_series if shared.pseudonymiser else None,
            )
        ]
    )


_SUMMED = ("read", "accepted", "quarantined")
_SUMMED_COUNTS = ("violations_by_rule", "pseudonymised", "masked_free_text")


def _add_summary(total: dict | None, part: dict) -> dict:
    """The summary of a table from those of its chunks (counts added; the rest holds for the whole file)."""
    if total is None:
        return part
    out = dict(total)
    for key in _SUMMED:
        out[key] = total[key] + part[key]
    for key in _SUMMED_COUNTS:
        counts = dict(total[key])
        for name, count in part[key].items():
            counts[name] = counts.get(name, 0) + count
        out[key] = dict(sorted(counts.items()))
    out["reconciled"] = out["read"] == out["accepted"] + out["quarantined"]
    return out


class _RegistryParts:
    """What the registry (``entities``) hands to later tables, gathered chunk by chunk: the accepted USCCs, names
    and 注册号 as read (kept as Arrow), the quarantined registry rows."""

    COLUMNS = ("uscc", "name", "reg_no")

    def __init__(self) -> None:
        self.accepted: list[pa.Table] = []
        self.quarantined: list[pd.DataFrame] = []
        self.quarantined_rows: dict[str, int] = {}

    def add(self, raw, accepted: pd.DataFrame, detail: dict) -> None:
        bad, typed = detail["bad"], detail["typed"]
        self.accepted.append(pa.Table.from_pandas(accepted[list(self.COLUMNS)], preserve_index=False))
        self.quarantined.append(raw.frame[bad].assign(row=detail["row_numbers"][bad]))
        quarantined_codes = typed["uscc"][bad].dropna()
        rows = detail["row_numbers"][bad][typed["uscc"][bad].notna()]
        self.quarantined_rows.update(zip(quarantined_codes, rows, strict=True))

    def finish(self, shared: _Shared, registry_file: str) -> None:
        accepted = pa.concat_tables(self.accepted, promote_options="default")
        self.accepted = []
        shared.names = matching.RegistryIndex(  # from the names as read, before any masking
            accepted,
            contract.NAME_VARIANTS,
            quarantined=pd.concat(self.quarantined, ignore_index=True),
            registry_file=registry_file,
        )
        shared.registry = {
            "accepted": shared.names.usccs,  # the accepted USCCs
            "file": registry_file,
            "quarantined_rows": self.quarantined_rows,
        }


def _finish_table(
    table: contract.Table, chunks: Iterator, form, shared: _Shared, scratch: Path, keep_keys: bool = False
) -> _TableResult:
    """Validate and write one table, chunk by chunk; for ``entities`` also build the registry into ``shared``.
    ``keep_keys``: return the accepted keys (another table references this one)."""
    seen = SeenKeys()
    out = ParquetParts(scratch / f"{table.name}.parquet")
    registry = _RegistryParts() if table.name == "entities" else None
    summary, quarantines, keys, registry_file = None, [], [], ""
    for raw in chunks:
        registry_file = raw.path.name
        accepted, quarantine, part, detail = validate_table(
            table,
            raw,
            shared.snapshot,
            lambda: shared.registry,
            lambda: shared.accepted_keys,
            pseudonymiser=shared.pseudonymiser,
            seen=seen,
        )
        if form is not None:
            part.update(raw.summary())
        if keep_keys and len(table.key) == 1:
            keys.append(arrowtext.to_arrow(accepted[table.key[0]]))
        if registry is not None:
            registry.add(raw, accepted, detail)
        as_read = raw.frame[~detail["bad"]].reset_index(drop=True)  # the same rows, before pseudonymisation
        accepted, part["masked_free_text"] = mask_free_text_columns(table, accepted, as_read)
        out.write(accepted)
        summary = _add_summary(summary, part)
        if len(quarantine):
            quarantines.append(quarantine)
        del accepted, quarantine, detail, as_read, raw, part
        gc.collect()  # a chunk's frames are held by reference cycles: free them before the next chunk is read
    out.close()
    if registry is not None:
        registry.finish(shared, registry_file)
    quarantine = pd.concat(quarantines, ignore_index=True) if quarantines else pd.DataFrame(columns=QUARANTINE_COLUMNS)
    return _TableResult(summary, quarantine, arrowtext.KeySet(pa.chunked_array(keys, pa.string())) if keys else None)


def _ingest_table(
    table: contract.Table, path: Path, declared: dict, shared: _Shared, scratch: Path, keep_keys: bool = False
) -> _TableResult:
    form = _form(table, path)
    return _finish_table(table, _read_table(table, path, declared, form, shared), form, shared, scratch, keep_keys)


WORKER_NICENESS = 10
_WORKER: dict = {}  # in a worker process: the handover queue, the output folder, what is known from the start


def _start_worker(
    handover, scratch: Path, snapshot: pd.Timestamp, pseudonymiser: Pseudonymiser | None, chunk_rows: int
) -> None:
    # below the parent's priority: while the parent validates the registry (on which every worker waits), the
    # workers' work ahead takes only the CPU time the parent leaves
    os.nice(WORKER_NICENESS)
    _WORKER.update(handover=handover, scratch=scratch, shared=_Pending(snapshot, pseudonymiser, chunk_rows))


class _Pending:
    """A worker's ``_Shared`` before the parent's handover: the snapshot and the pseudonymiser at once; the
    registry, the name index and the accepted keys are waited for the first time one of them is used. So a
    worker reads a file and checks its own columns while the parent still validates the registry."""

    def __init__(self, snapshot: pd.Timestamp, pseudonymiser: Pseudonymiser | None, chunk_rows: int):
        self.snapshot, self.pseudonymiser, self.chunk_rows = snapshot, pseudonymiser, chunk_rows

    def __getattr__(self, name: str):  # only for what __init__ did not set
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_handed_over(), name)


def _handed_over() -> _Shared:
    """What the tables validated before hand over (pickled once by the parent); waits for it the first time."""
    if "handed_over" not in _WORKER and not _WORKER.get("stopped"):
        state = _WORKER["handover"].get()
        if state is None:
            _WORKER["stopped"] = True
        else:
            _WORKER["handed_over"] = pickle.loads(state)
    if _WORKER.get("stopped"):
        raise IngestError("ingest stopped before this table (a table before it failed)")
    return _WORKER["handed_over"]


def _ingest_in_worker(name: str, path: Path, declared: dict) -> _TableResult:
    return _ingest_table(contract.table(name), path, declared, _WORKER["shared"], _WORKER["scratch"])


@contextlib.contextmanager
def _stop_workers_on_error(handover, workers: int):
    """Workers wait for the registry; if it never comes (a table before failed), tell them to stop. A copy no
    worker took (one failed before asking) must not keep this process from exiting: its queue is not joined."""
    state = {"sent": False}
    try:
        yield state
    finally:
        if not state["sent"]:
            for _ in range(workers):
                handover.put(None)
        handover.cancel_join_thread()
        handover.close()


def _work_order(tables: list[contract.Table], paths: dict[str, Path], workers: int) -> list[contract.Table]:
    """Longest first (bytes; national forms × 3, as they are read row by row), so the workers end together; but
    first the largest files in the contract's own columns: everything up to their references (reading, column
    rules) is done before the registry arrives, which keeps the workers busy while the parent validates it."""
    cost = {t.name: paths[t.name].stat().st_size * (3 if contract.adapters_for(t.name) else 1) for t in tables}
    order = sorted(tables, key=lambda t: -cost[t.name])
    early = [t for t in order if not contract.adapters_for(t.name)][:workers]
    return early + [t for t in order if t not in early]


def _in_order(tables: list[contract.Table]) -> tuple[list[contract.Table], list[contract.Table]]:
    """(tables to validate first, one after the other: the registry and every table another one references;
    the rest, which depend only on those and may be validated in any order)."""
    referenced = {"entities"} | {other for t in tables for _, other, _ in t.references}
    return [t for t in tables if t.name in referenced], [t for t in tables if t.name not in referenced]


def ingest(
    raw_dir: Path,
    out_dir: Path,
    snapshot_date: str | None = None,
    show_progress: bool = True,
    workers: int = 1,
    parallel_min_bytes: int = 0,
    chunk_rows: int = 0,
) -> dict:
    """Validate a raw snapshot directory into ``out_dir``. Raw files are only read, never written.

    With ``workers`` > 1 and at least ``parallel_min_bytes`` of raw files, the tables after the registry (and
    the tables others reference) are validated by that many worker processes. The outputs are the same bytes
    whatever the number of workers: each table is validated alone and the results are assembled in the
    contract's order.

    With ``chunk_rows`` > 0, a CSV file in the contract's columns with more records than that is validated and
    written that many records at a time, so memory stays bounded whatever the size of the city: the same rows
    are accepted and quarantined with the same findings (duplicate keys and references are checked against
    every earlier chunk); its Parquet file then has one row group per chunk.
    """
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    if not raw_dir.is_dir():
        raise IngestError(f"{raw_dir}: raw snapshot directory not found")
    manifest = _snapshot_manifest(raw_dir)
    snapshot_date = snapshot_date or manifest.get("snapshot_date")
    if not snapshot_date:
        raise IngestError(f"{raw_dir}: no snapshot date: give --snapshot-date or a snapshot.json with 'snapshot_date'")
    snapshot = pd.Timestamp(snapshot_date)
    try:
        pseudonymiser = Pseudonymiser.from_env()
    except PseudonymKeyError as exc:
        raise IngestError(str(exc)) from None
    declared = _declared(raw_dir, manifest)

    # fail fast on missing files; optional (planning) tables may be absent, and the report says so
    paths = {t.name: find_file(raw_dir, t, optional=t.optional_file) for t in contract.ALL_TABLES}
    report: dict = {
        "snapshot_date": str(snapshot.date()),
        "raw_dir": str(raw_dir),
        "tables": {},
        "not_supplied": sorted(name for name, path in paths.items() if path is None),
        "warnings": [
            f"{name}: no declared row count — a file cut at a line break cannot be detected"
            for name, path in paths.items()
            if path is not None and path.suffix == ".csv" and declared.get(name, {}).get("rows") is None
        ],
        "repairs": [],
    }
    supplied = [t for t in contract.ALL_TABLES if paths[t.name] is not None]
    first, rest = _in_order(supplied)
    size = sum(paths[t.name].stat().st_size for t in supplied)
    pool_size = min(workers, len(rest)) if size >= parallel_min_bytes else 1
    shared = _Shared(snapshot, pseudonymiser, chunk_rows)
    referenced = {other for t in supplied for _, other, _ in t.references}
    results: dict[str, _TableResult | BaseException] = {}
    with contextlib.ExitStack() as stack:
        scratch = stack.enter_context(atomic_directory(out_dir))
        progress = stack.enter_context(Progress(disable=not show_progress, transient=True))
        task = progress.add_task("validating tables", total=len(supplied))
        futures = {}
        if pool_size > 1:  # started now, so the workers start Python while the registry is validated
            handover_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="riskclass-ingest-")))
            context = multiprocessing.get_context("spawn")  # a clean interpreter: no inherited threads or locks
            handover = context.Queue()
            pool = stack.enter_context(
                ProcessPoolExecutor(
                    pool_size,
                    context,
                    initializer=_start_worker,
                    initargs=(handover, scratch, snapshot, pseudonymiser, chunk_rows),
                )
            )
            stack.callback(pool.shutdown, wait=True, cancel_futures=True)  # on failure, no table not yet begun
            stopped = stack.enter_context(_stop_workers_on_error(handover, pool_size))
            for t in _work_order(rest, paths, pool_size):
                futures[pool.submit(_ingest_in_worker, t.name, paths[t.name], declared.get(t.name, {}))] = t.name
        for table in first if futures else first + rest:
            try:
                results[table.name] = _ingest_table(
                    table, paths[table.name], declared.get(table.name, {}), shared, scratch, table.name in referenced
                )
            except (RawFileError, IngestError) as exc:
                results[table.name] = exc
                break  # nothing after a failed registry; the first failure in the contract's order is reported
            if results[table.name].keys is not None:
                shared.accepted_keys[table.name] = results[table.name].keys
            progress.advance(task)
        if futures and not any(isinstance(r, BaseException) for r in results.values()):
            # the name index (millions of Python strings at a large city) only for a worker that reads a national
            # form: from a file, loaded on first use; the parent validates nothing after the registry, so drops it
            names_file = handover_dir / "registry_names.pickle"
            with open(names_file, "wb") as fh:
                pickle.dump(shared.names, fh, protocol=pickle.HIGHEST_PROTOCOL)
            names_file.chmod(0o600)  # names as read, personal ones included
            state = pickle.dumps(
                dataclasses.replace(shared, names=None, names_file=names_file), protocol=pickle.HIGHEST_PROTOCOL
            )
            shared.names = None
            for _ in range(pool_size):
                handover.put(state)
            stopped["sent"] = True
            for future in as_completed(futures):
                results[futures[future]] = future.exception() or future.result()
                progress.advance(task)
        for table in supplied:  # the first failure in the contract's order, whatever finished first
            if isinstance(results.get(table.name), BaseException):
                raise results[table.name]
        quarantines = []
        for table in supplied:
            result = results[table.name]
            report["tables"][table.name] = result.summary
            report["repairs"] += [f"{table.name}: {r}" for r in result.summary["repairs"]]
            quarantines.append(result.quarantine)
        all_q = pd.concat(
            [q for q in quarantines if len(q)] or [pd.DataFrame(columns=QUARANTINE_COLUMNS)], ignore_index=True
        )
        all_q["row"] = all_q["row"].astype("int64")
        # the quarantine holds masked personal data and raw lines: owner-only (io.py permission policy)
        write_parquet(all_q, scratch / "quarantine.parquet", private=True)
        write_csv(all_q, scratch / "quarantine.csv", private=True)
        totals = {k: sum(t[k] for t in report["tables"].values()) for k in ("read", "accepted", "quarantined")}
        totals["reconciled"] = (
            all(t["reconciled"] for t in report["tables"].values())
            and totals["read"] == totals["accepted"] + totals["quarantined"]
        )
        report["totals"] = totals
        if not totals["reconciled"]:  # cannot happen by construction; refuse to publish if it ever does
            raise IngestError("counts do not reconcile: read != accepted + quarantined")
        write_json(report, scratch / "report.json")
    return report
