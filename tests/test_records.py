"""The record store on its own: sealing, revisions, the ledger chain, recovery from a kill at every
commit point, the one-writer lock. Records here are small hand-made folders (no model needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from riskclass.io import sha256_file, write_parquet
from riskclass.records import LockHeld, RecordError, RecordStore, exclusive
from riskclass.records.store import KILL_ENV, MANIFEST, files_sha

SRC = Path(__file__).parents[1] / "src"


def stage(store: RecordStore, month: str, classes: list[str]) -> Path:
    """A minimal complete record in a staging folder: classes and a manifest covering them."""
    folder = store.new_staging(month)
    frame = pd.DataFrame(
        {
            "uscc": [f"U{i}" for i in range(len(classes))],
            "month": month,
            "score": [100 * i for i in range(len(classes))],
            "class": classes,
            "model_class": classes,
            "override": "",
            "reason_1": "",
            "reason_2": "",
            "reason_3": "",
            "model_version": "1",
        }
    )
    write_parquet(frame, folder / "classes.parquet")
    manifest = {"record": {"month": month, "revision": store.next_revision(month)}, "files": files_sha(folder)}
    (folder / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def seal(store: RecordStore, month: str, classes: list[str], kind: str = "monthly", reason: str = ""):
    return store.seal(month, stage(store, month, classes), kind, reason, "test")


def snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}


def test_seal_revise_and_history_follow_the_current_revision(tmp_path):
    store = RecordStore(tmp_path / "records")
    seal(store, "2026-01", ["A", "B"])
    seal(store, "2026-02", ["B", "B"])
    first = snapshot(store.months_dir)
    seal(store, "2026-01", ["C", "B"], "revision", "late correction")
    assert [e["seq"] for e in store.ledger()] == [1, 2, 3]
    assert store.current("2026-01").revision == 2 and store.record("2026-01", 1).revision == 1
    # earlier records are untouched: every file written before is byte-identical
    after = snapshot(store.months_dir)
    assert {k: after[k] for k in first} == first
    history = pd.read_parquet(store.history_path)
    assert history[history["month"] == "2026-01"]["class"].tolist() == ["C", "B"]
    assert history["revision"].tolist() == [2, 2, 1, 1]
    with pytest.raises(RecordError, match="no sealed record for 2026-03"):
        store.record("2026-03")


def test_the_manifest_must_cover_exactly_the_record_files(tmp_path):
    store = RecordStore(tmp_path / "records")
    folder = stage(store, "2026-01", ["A"])
    (folder / "stray.txt").write_text("x", encoding="utf-8")
    with pytest.raises(RecordError, match="does not cover exactly"):
        store.seal("2026-01", folder, "monthly", "", "test")


KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path[:0] = [{src!r}, {tests!r}]
    from pathlib import Path
    from riskclass.records import RecordStore
    from test_records import seal
    store = RecordStore(Path({root!r}))
    seal(store, "2026-02", ["D", "D"])
    """
)


@pytest.mark.parametrize("point", ["staged", "renamed", "committed", "history"])
def test_a_kill_at_any_commit_point_leaves_the_old_store_or_the_new_one(tmp_path, point):
    root = tmp_path / "records"
    store = RecordStore(root)
    seal(store, "2026-01", ["A", "B"])
    before = snapshot(root)
    script = KILL_SCRIPT.format(src=str(SRC), tests=str(Path(__file__).parent), root=str(root))
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ, KILL_ENV: point}, check=False)
    assert proc.returncode == 137  # died at the commit point, like kill -9: no handler ran
    notes = store.recover()
    committed = point in ("committed", "history")
    assert store.sealed_months() == (["2026-01", "2026-02"] if committed else ["2026-01"])
    if not committed:
        assert snapshot(root) == before and notes  # leftovers removed, nothing else changed
    history = pd.read_parquet(store.history_path)
    assert sha256_file(store.history_path) == store.ledger()[-1]["history_sha256"]
    assert sorted(history["month"].unique()) == store.sealed_months()
    assert not list(store.staging_dir.iterdir())


def test_a_second_writer_is_refused_with_the_holder_named(tmp_path):
    root = tmp_path / "records"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import sys, time; sys.path.insert(0, {str(SRC)!r})\n"
            "from riskclass.records import exclusive\n"
            f"with exclusive({str(root)!r}, 'classify 2026-01'):\n"
            "    print('locked', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        refused = rf"pid {holder.pid} .*classify 2026-01.*nothing was changed"
        with pytest.raises(LockHeld, match=refused), exclusive(root, "classify 2026-02"):
            pass
    finally:
        holder.kill()
        holder.wait()
    with exclusive(root, "classify 2026-02"):  # released by the kernel when the holder died
        pass


def test_a_child_with_the_holders_token_proceeds(tmp_path, monkeypatch):
    root = tmp_path / "records"
    with exclusive(root, "riskclass run") as token:
        monkeypatch.setenv("RISKCLASS_LOCK_TOKEN", token)
        with exclusive(root, "classify (child)"):
            pass
        monkeypatch.setenv("RISKCLASS_LOCK_TOKEN", "forged")
        with pytest.raises(LockHeld), exclusive(root, "classify (stranger)"):
            pass


def test_sealed_records_follow_the_permission_policy(tmp_path):
    store = RecordStore(tmp_path / "records")
    record = seal(store, "2026-01", ["A"])
    modes = {p.relative_to(store.root).as_posix(): p.stat().st_mode & 0o777 for p in store.root.rglob("*")}
    assert modes["months/2026-01/r1"] == 0o750 and modes["months/2026-01/r1/classes.parquet"] == 0o640
    assert modes["ledger.jsonl"] == 0o640 and modes["history.parquet"] == 0o640
    assert record.path.stat().st_mode & 0o007 == 0  # nothing for others, whatever the umask


def test_the_history_is_written_month_by_month_with_the_bytes_of_one_frame(tmp_path):
    """At 5 M entities a year of classes with reasons does not fit in memory as one frame: the history is written a
    month at a time, in row groups cut across months, and must keep the bytes the whole frame gave (the ledger
    holds their hash)."""
    store = RecordStore(tmp_path / "records")
    for k, month in enumerate(["2026-01", "2026-02", "2026-03"]):
        seal(store, month, ["A", "B", "C", "D", "B"][: 3 + k % 3] * 7)
    whole = tmp_path / "whole.parquet"
    write_parquet(store.history_frame(), whole)
    assert sha256_file(store.history_path) == sha256_file(whole) == store.ledger()[-1]["history_sha256"]
    table = pa.Table.from_pandas(store.history_frame(), preserve_index=False).replace_schema_metadata(None)
    for row_group in (10, 23, 1000):  # groups that end inside a month, at a month's end and beyond the history
        one = tmp_path / f"one_{row_group}.parquet"
        pq.write_table(table, one, row_group_size=row_group, compression="zstd", use_dictionary=True)
        streamed = tmp_path / f"streamed_{row_group}.parquet"
        store.write_history(streamed, row_group=row_group)
        assert sha256_file(streamed) == sha256_file(one)
