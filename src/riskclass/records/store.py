"""The record store: one sealed, immutable record per classified month and revision, and the ledger.

Layout under ``classify.records_dir`` (default ``data/records``)::

    months/<YYYY-MM>/r<N>/   one sealed record: classes, indicator snapshot, report, parameters,
                             indicator catalog and manifest (see classify/audit.py for its content)
    models/<model id>/       every model export that ever classified a month (content-addressed)
    ledger.jsonl             one line per sealed record, in sealing order, each naming the hash of the
                             line before it (a hash chain) and, when an audit key is configured, an HMAC
    history.parquet          derived: the current revision of every month, concatenated in month order
    .staging/                scratch folders of runs in progress (removed by the next writer)

A record is written into a staging folder, renamed into ``months/`` and then committed by rewriting
the ledger with one more line (one ``os.replace``). Readers trust only records the ledger names, so a
kill at any instant leaves either the old store or the new one; the next writer removes the leftovers
(``recover``). Nothing in a sealed record is ever rewritten: a correction is a new revision.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from riskclass.io import FILE_MODE, ROW_GROUP, RowGroupWriter, restrict_tree, sha256_file, write_parquet
from riskclass.records.anchor import audit_key, sign

MANIFEST = "manifest.json"
HISTORY_COLUMNS = [
    "uscc",
    "month",
    "score",
    "class",
    "model_class",
    "override",
    "reason_1",
    "reason_2",
    "reason_3",
    "model_version",
]
KILL_ENV = "RISKCLASS_TEST_KILL_AT"  # tests only: die (os._exit) at a named commit point
KINDS = ("monthly", "revision", "backfill")


class RecordError(RuntimeError):
    """The store refuses an operation or finds itself inconsistent (the message says what and where)."""


def canonical_sha(obj) -> str:
    return hashlib.sha256(
        json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    ).hexdigest()


def files_sha(folder: Path) -> dict[str, str]:
    """SHA-256 of every file directly inside ``folder``, by name."""
    return {f.name: sha256_file(f) for f in sorted(Path(folder).iterdir()) if f.is_file()}


def _checkpoint(name: str) -> None:
    if os.environ.get(KILL_ENV) == name:
        os._exit(137)


def _fsync_replace(tmp: Path, target: Path) -> None:
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)


@dataclass(frozen=True)
class Record:
    month: str
    revision: int
    path: Path
    entry: dict  # its ledger line

    @property
    def manifest(self) -> dict:
        return json.loads((self.path / MANIFEST).read_text(encoding="utf-8"))

    @property
    def classes_path(self) -> Path:
        return self.path / "classes.parquet"

    @property
    def features_path(self) -> Path:
        return self.path / "features.parquet"

    @property
    def label(self) -> str:
        return f"{self.month} r{self.revision}"


class RecordStore:
    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.months_dir = self.root / "months"
        self.models_dir = self.root / "models"
        self.ledger_path = self.root / "ledger.jsonl"
        self.history_path = self.root / "history.parquet"
        self.staging_dir = self.root / ".staging"

    # -- reading ---------------------------------------------------------------------------------
    def ledger(self) -> list[dict]:
        if not self.ledger_path.exists():
            return []
        lines = self.ledger_path.read_text(encoding="utf-8").splitlines()
        try:
            return [json.loads(line) for line in lines if line.strip()]
        except json.JSONDecodeError as exc:
            raise RecordError(f"{self.ledger_path}: a line is not valid JSON ({exc})") from None

    def _current_entries(self, entries: list[dict] | None = None) -> dict[str, dict]:
        current: dict[str, dict] = {}
        for entry in self.ledger() if entries is None else entries:
            current[entry["month"]] = entry  # later lines are later revisions
        return current

    def _record(self, entry: dict) -> Record:
        return Record(entry["month"], int(entry["revision"]), self.root / entry["path"], entry)

    def sealed_months(self) -> list[str]:
        return sorted(self._current_entries())

    def latest_month(self) -> str | None:
        months = self.sealed_months()
        return months[-1] if months else None

    def current(self, month: str) -> Record | None:
        entry = self._current_entries().get(month)
        return self._record(entry) if entry else None

    def record(self, month: str, revision: int | None = None) -> Record:
        """The named revision of ``month`` (default: its current one); RecordError if it was never sealed."""
        entries = [e for e in self.ledger() if e["month"] == month]
        if revision is not None:
            entries = [e for e in entries if int(e["revision"]) == int(revision)]
        if not entries:
            sealed = ", ".join(self.sealed_months()) or "none"
            what = f"{month} revision {revision}" if revision is not None else month
            raise RecordError(f"no sealed record for {what} in {self.root} (sealed months: {sealed})")
        return self._record(entries[-1])

    def revisions(self, month: str) -> list[Record]:
        return [self._record(e) for e in self.ledger() if e["month"] == month]

    def records(self) -> list[Record]:
        return [self._record(e) for e in self.ledger()]

    def model_path(self, model_id: str) -> Path:
        return self.models_dir / model_id

    # -- derived history -------------------------------------------------------------------------
    def history_frame(self, entries: list[dict] | None = None, columns: list[str] = HISTORY_COLUMNS) -> pd.DataFrame:
        """The current revision of every sealed month, in month order (what `riskclass history` reads; other
        ``columns`` of the classes files for other readers — history.parquet keeps HISTORY_COLUMNS)."""
        frames = []
        for _month, entry in sorted(self._current_entries(entries).items()):
            frame = pd.read_parquet(self.root / entry["path"] / "classes.parquet", columns=columns)
            frame.insert(2, "revision", int(entry["revision"]))
            frames.append(frame)
        if not frames:
            return pd.DataFrame(columns=[*columns[:2], "revision", *columns[2:]])
        return pd.concat(frames, ignore_index=True)

    def write_history(self, path: Path, entries: list[dict] | None = None, row_group: int = ROW_GROUP) -> None:
        """Write the history (``history_frame``'s rows) to ``path`` one month at a time: in Arrow, never all months
        as one frame (a year of a 5 M-entity city's reasons would not fit in memory), in row groups of
        ``row_group`` rows cut across months — the bytes ``write_parquet(history_frame())`` gives."""
        writer = RowGroupWriter(path, row_group)
        try:
            for _month, entry in sorted(self._current_entries(entries).items()):
                table = pq.read_table(self.root / entry["path"] / "classes.parquet", columns=HISTORY_COLUMNS)
                table = table.add_column(2, "revision", pa.array([int(entry["revision"])] * table.num_rows, pa.int64()))
                writer.write(table)
            written = writer.close()
        except BaseException:
            writer.abort()
            raise
        if not written:  # no month, or months without a row: the empty frame as before
            write_parquet(self.history_frame(entries), path)
        Path(path).chmod(FILE_MODE)

    def _write_history(self, entries: list[dict] | None = None) -> tuple[Path, str]:
        fd, tmp = tempfile.mkstemp(prefix=".history.", dir=self.root)
        os.close(fd)
        self.write_history(Path(tmp), entries)
        return Path(tmp), sha256_file(Path(tmp))

    # -- writing (the caller holds the lock: riskclass.records.lock.exclusive) --------------------
    def recover(self) -> list[str]:
        """Remove what an interrupted writer left behind and rebuild a stale derived history."""
        notes = []
        if self.staging_dir.exists():
            for leftover in sorted(self.staging_dir.iterdir()):
                shutil.rmtree(leftover, ignore_errors=True)
                notes.append(f"removed the scratch folder of an interrupted run: {leftover.name}")
        for tmp in sorted(self.root.glob(".history.*")) + sorted(self.root.glob(".ledger.*")):
            tmp.unlink(missing_ok=True)
        committed = {e["path"] for e in self.ledger()}
        for folder in sorted(self.months_dir.glob("*/r*")) if self.months_dir.exists() else []:
            rel = folder.relative_to(self.root).as_posix()
            if rel not in committed:
                shutil.rmtree(folder)
                notes.append(f"removed {rel}: renamed into place but never committed to the ledger")
        entries = self.ledger()
        if entries and (
            not self.history_path.exists() or sha256_file(self.history_path) != entries[-1]["history_sha256"]
        ):
            tmp, digest = self._write_history()
            if digest != entries[-1]["history_sha256"]:
                tmp.unlink()
                raise RecordError(
                    f"{self.history_path}: rebuilt from the records it does not match the ledger "
                    f"({digest[:12]} ≠ {entries[-1]['history_sha256'][:12]}): the store was altered; "
                    "run `riskclass audit verify`"
                )
            os.replace(tmp, self.history_path)
            notes.append("rebuilt history.parquet, which an interrupted run had not replaced")
        return notes

    def new_staging(self, month: str) -> Path:
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{month}-", dir=self.staging_dir))

    def next_revision(self, month: str) -> int:
        return len(self.revisions(month)) + 1

    def store_model(self, model_dir: Path) -> tuple[str, dict[str, str]]:
        """Copy a model export into the content-addressed model store (once); return (model id, file hashes)."""
        files = files_sha(model_dir)
        if not files:
            raise RecordError(
                f"{model_dir}: no model files (run `dvc repro champion` or `riskclass model export-champion`)"
            )
        model_id = canonical_sha(files)[:20]
        target = self.model_path(model_id)
        if target.exists():
            if files_sha(target) != files:
                raise RecordError(f"{target}: the stored model's files differ from their content address (altered)")
            return model_id, files
        self.models_dir.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{model_id}.", dir=self.models_dir))
        for name in files:
            shutil.copy2(Path(model_dir) / name, scratch / name)
        restrict_tree(scratch)
        os.replace(scratch, target)
        return model_id, files

    def seal(self, month: str, staging: Path, kind: str, reason: str, by: str) -> Record:
        """Commit a complete staging folder as the next revision of ``month``."""
        if kind not in KINDS:
            raise RecordError(f"record kind must be one of {', '.join(KINDS)}, not {kind!r}")
        manifest = json.loads((staging / MANIFEST).read_text(encoding="utf-8"))
        present = {k: v for k, v in files_sha(staging).items() if k != MANIFEST}
        if manifest.get("files") != present:
            raise RecordError(f"{staging}: the manifest does not cover exactly the record's files")
        revision = self.next_revision(month)
        if manifest["record"]["revision"] != revision or manifest["record"]["month"] != month:
            raise RecordError(f"{staging}: manifest names {manifest['record']}, expected {month} r{revision}")
        _checkpoint("staged")
        rel = f"months/{month}/r{revision}"
        (self.months_dir / month).mkdir(parents=True, exist_ok=True)
        restrict_tree(staging)  # the permission policy (io.py): 0750 folders, 0640 files
        os.rename(staging, self.root / rel)  # the target does not exist: we hold the lock and recovered
        _checkpoint("renamed")
        entries = self.ledger()
        # the history as it will be once this record is committed: written before the commit, replaced after
        history_tmp, history_sha = self._write_history([*entries, {"month": month, "revision": revision, "path": rel}])
        entry = {
            "seq": len(entries) + 1,
            "month": month,
            "revision": revision,
            "kind": kind,
            "reason": reason,
            "by": by,
            "path": rel,
            "manifest_sha256": sha256_file(self.root / rel / MANIFEST),
            "history_sha256": history_sha,
            "previous_entry_sha256": entries[-1]["entry_sha256"] if entries else None,
        }
        entry["entry_sha256"] = canonical_sha(entry)
        key = audit_key()
        entry["anchor"] = sign(key, entry["entry_sha256"]) if key else None
        fd, tmp = tempfile.mkstemp(prefix=".ledger.", dir=self.root)
        with os.fdopen(fd, "wb") as fh:
            old = self.ledger_path.read_bytes() if self.ledger_path.exists() else b""
            fh.write(old + (json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
        Path(tmp).chmod(FILE_MODE)
        _fsync_replace(Path(tmp), self.ledger_path)  # the commit point
        _checkpoint("committed")
        os.replace(history_tmp, self.history_path)
        _checkpoint("history")
        return self._record(entry)
