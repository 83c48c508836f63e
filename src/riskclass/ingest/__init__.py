"""Ingest: raw snapshot → validated Parquet tables + quarantine + reconciled report.

Nothing is dropped silently: for every table, read = accepted + quarantined, where read is the number
of records a byte scan finds in the file independently of the CSV parser (see ``integrity``), and
every quarantined row is kept with its file, physical line, column, rule, value, the whole original
record and its raw line exactly as it stands in the file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from rich.progress import Progress

from riskclass import contract
from riskclass.exports import write_csv
from riskclass.ingest import adapters, matching
from riskclass.ingest.reader import RawFileError, find_file, read_raw
from riskclass.ingest.rules import (
    Findings,
    check_column,
    check_duplicates,
    check_references,
    check_table_references,
    check_table_rules,
    pseudonymise_person_columns,
)
from riskclass.io import atomic_directory, write_json, write_parquet
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
    registry: dict | None,
    accepted_keys: dict | None = None,
    extra_rules: Callable[[pd.DataFrame, Findings], None] | None = None,
    pseudonymiser: Pseudonymiser | None = None,
):
    """Validate one raw table. Returns (accepted typed frame, quarantine frame, summary dict, detail).

    ``extra_rules(typed, found)`` adds checks a caller knows of (e.g. results against their plan).
    """
    clear = raw.frame  # as read: quarantine records are built from it, then redacted
    text, pseudonymised = pseudonymise_person_columns(table, clear, pseudonymiser)
    n = len(text)
    found = Findings()
    for finding in getattr(raw, "findings", []):  # record-level rules found on the raw bytes (reader.RawFile)
        found.add(finding.rows, finding.column, finding.rule, finding.message)
    typed = pd.DataFrame({col.name: check_column(col, text[col.name], snapshot, found) for col in table.columns})
    check_table_rules(table, typed, text, found)
    if table.references_entities and registry is not None:
        check_references(typed, registry["accepted"], registry["quarantined_rows"], registry["file"], found)
    if table.references:
        check_table_references(table, typed, accepted_keys or {}, found)
    if extra_rules is not None:
        extra_rules(typed, found)
    row_numbers = raw.row_numbers().to_numpy()
    check_duplicates(table, text, found.bad_mask(n), row_numbers, found)
    bad = found.bad_mask(n)

    violations = found.frame(text)
    quarantine = pd.DataFrame(columns=QUARANTINE_COLUMNS)
    if len(violations):
        violations = violations.sort_values(["position", "column", "rule"], kind="stable")
        positions = violations["position"].to_numpy()
        unique = np.unique(positions)
        records = {p: json.dumps(clear.iloc[p].to_dict(), ensure_ascii=False) for p in unique}
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


def ingest(raw_dir: Path, out_dir: Path, snapshot_date: str | None = None, show_progress: bool = True) -> dict:
    """Validate a raw snapshot directory into ``out_dir``. Raw files are only read, never written."""
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
    quarantines = []
    registry = None
    names = None  # the registry's names and 注册号, for records that carry no USCC (built after entities)
    accepted_keys: dict[str, set] = {}
    supplied = [t for t in contract.ALL_TABLES if paths[t.name] is not None]
    with atomic_directory(out_dir) as scratch, Progress(disable=not show_progress, transient=True) as progress:
        task = progress.add_task("validating tables", total=len(supplied))
        for table in supplied:  # entities first and inspectors before conflicts: later tables reference them
            d = declared.get(table.name, {})
            path = paths[table.name]
            adapter = None
            if contract.adapters_for(table.name) or adapters.file_kind(path) in ("xls", "xlsx"):
                adapter = adapters.detect(path, table)  # a national form, or None: the contract's own columns
            if adapter is None:
                raw = read_raw(path, table, d.get("rows"), d.get("sha256"))
            else:
                raw = adapters.read_adapted(
                    path,
                    table,
                    adapter,
                    names,
                    expected_rows=d.get("rows"),
                    expected_sha256=d.get("sha256"),
                    pseudonymise=pseudonymiser.pseudonymise_series if pseudonymiser else None,
                )
            accepted, quarantine, summary, detail = validate_table(
                table, raw, snapshot, registry, accepted_keys, pseudonymiser=pseudonymiser
            )
            if adapter is not None:
                summary.update(raw.summary())
            accepted_keys[table.name] = pd.Index(accepted[table.key[0]]).unique() if len(table.key) == 1 else set()
            if table.name == "entities":
                bad, typed = detail["bad"], detail["typed"]
                quarantined_codes = typed["uscc"][bad].dropna()
                registry = {
                    "accepted": pd.Index(accepted["uscc"]).unique(),  # hashed once for every later table
                    "file": raw.path.name,
                    "quarantined_rows": dict(
                        zip(quarantined_codes, detail["row_numbers"][bad][typed["uscc"][bad].notna()], strict=True)
                    ),
                }
                names = matching.RegistryIndex(  # from the names as read, before any masking
                    accepted,
                    contract.NAME_VARIANTS,
                    quarantined=raw.frame[bad].assign(row=detail["row_numbers"][bad]),
                    registry_file=raw.path.name,
                )
            as_read = raw.frame[~detail["bad"]].reset_index(drop=True)  # the same rows, before pseudonymisation
            accepted, summary["masked_free_text"] = mask_free_text_columns(table, accepted, as_read)
            write_parquet(accepted, scratch / f"{table.name}.parquet")
            quarantines.append(quarantine)
            report["tables"][table.name] = summary
            report["repairs"] += [f"{table.name}: {r}" for r in summary["repairs"]]
            progress.advance(task)
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
