"""Ingest: raw snapshot → validated Parquet tables + quarantine + reconciled report.

Nothing is dropped silently: for every table, read = accepted + quarantined, and every quarantined
row is kept with its file, row number, column, rule, value and the whole original record.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from rich.progress import Progress

from riskclass import contract
from riskclass.ingest.reader import RawFileError, find_file, read_raw
from riskclass.ingest.rules import (
    Findings,
    check_column,
    check_duplicates,
    check_references,
    check_table_references,
    check_table_rules,
)
from riskclass.io import atomic_directory, write_json, write_parquet

__all__ = ["IngestError", "RawFileError", "ingest", "validate_table"]

QUARANTINE_COLUMNS = ["table", "file", "row", "column", "rule", "value", "message", "record"]


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


def validate_table(
    table: contract.Table,
    raw,
    snapshot: pd.Timestamp,
    registry: dict | None,
    accepted_keys: dict | None = None,
    extra_rules: Callable[[pd.DataFrame, Findings], None] | None = None,
):
    """Validate one raw table. Returns (accepted typed frame, quarantine frame, summary dict, detail).

    ``extra_rules(typed, found)`` adds checks a caller knows of (e.g. results against their plan).
    """
    text = raw.frame
    n = len(text)
    found = Findings()
    if raw.short_rows is not None:
        found.add(raw.short_rows.to_numpy(dtype=bool), table.column_names[-1], "too_few_fields")
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
        records = {p: json.dumps(text.iloc[p].to_dict(), ensure_ascii=False) for p in np.unique(positions)}
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
            }
        )
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
    declared_rows = {k: v.get("rows") for k, v in manifest.get("tables", {}).items()}

    # fail fast on missing files; optional (planning) tables may be absent, and the report says so
    paths = {t.name: find_file(raw_dir, t, optional=t.optional_file) for t in contract.ALL_TABLES}
    report: dict = {
        "snapshot_date": str(snapshot.date()),
        "raw_dir": str(raw_dir),
        "tables": {},
        "not_supplied": sorted(name for name, path in paths.items() if path is None),
    }
    quarantines = []
    registry = None
    accepted_keys: dict[str, set] = {}
    supplied = [t for t in contract.ALL_TABLES if paths[t.name] is not None]
    with atomic_directory(out_dir) as scratch, Progress(disable=not show_progress, transient=True) as progress:
        task = progress.add_task("validating tables", total=len(supplied))
        for table in supplied:  # entities first and inspectors before conflicts: later tables reference them
            raw = read_raw(paths[table.name], table, declared_rows.get(table.name))
            accepted, quarantine, summary, detail = validate_table(table, raw, snapshot, registry, accepted_keys)
            accepted_keys[table.name] = set(accepted[table.key[0]]) if len(table.key) == 1 else set()
            if table.name == "entities":
                bad, typed = detail["bad"], detail["typed"]
                quarantined_codes = typed["uscc"][bad].dropna()
                registry = {
                    "accepted": set(accepted["uscc"]),
                    "file": raw.path.name,
                    "quarantined_rows": dict(
                        zip(quarantined_codes, detail["row_numbers"][bad][typed["uscc"][bad].notna()], strict=True)
                    ),
                }
            write_parquet(accepted, scratch / f"{table.name}.parquet")
            quarantines.append(quarantine)
            report["tables"][table.name] = summary
            progress.advance(task)
        all_q = pd.concat(
            [q for q in quarantines if len(q)] or [pd.DataFrame(columns=QUARANTINE_COLUMNS)], ignore_index=True
        )
        all_q["row"] = all_q["row"].astype("int64")
        write_parquet(all_q, scratch / "quarantine.parquet")
        all_q.to_csv(scratch / "quarantine.csv", index=False, encoding="utf-8-sig", lineterminator="\n")
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
