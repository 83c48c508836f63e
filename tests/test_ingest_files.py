"""File-level behaviour of ingest: encodings, headers, formats, bad files, immutability, reconciliation."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from riskclass import contract
from riskclass.ingest import IngestError, RawFileError, ingest
from riskclass.io import sha256_file

from conftest import valid_rows, write_snapshot


def _ingest(raw, out):
    return ingest(raw, out, show_progress=False)


def test_gb18030_chinese_header_title_row_and_bom(tmp_path):
    raw = write_snapshot(tmp_path / "raw")
    table = contract.table("penalties")
    frame = pd.DataFrame(valid_rows()["penalties"])
    frame.columns = [c.label for c in table.columns]
    with open(raw / "penalties.csv", "w", encoding="gb18030", newline="") as fh:
        fh.write("行政处罚信息公示（导出）\n")
        frame.to_csv(fh, index=False, lineterminator="\n")
    frame = pd.DataFrame(valid_rows()["complaints"])
    frame.to_csv(raw / "complaints.csv", index=False, encoding="utf-8-sig", lineterminator="\n")
    report = _ingest(raw, tmp_path / "out")
    assert report["tables"]["penalties"]["encoding"] == "gb18030"
    assert report["tables"]["penalties"]["header_line"] == 2
    assert report["tables"]["complaints"]["encoding"] == "utf-8-sig"
    assert report["totals"]["quarantined"] == 0
    penalties = pd.read_parquet(tmp_path / "out" / "penalties.parquet")
    assert penalties["authority"].iloc[0] == "赤坎区市场监督管理局"


def test_parquet_input(tmp_path):
    raw = write_snapshot(tmp_path / "raw")
    (raw / "changes.csv").unlink()
    pd.DataFrame(valid_rows()["changes"]).to_parquet(raw / "changes.parquet", index=False)
    report = _ingest(raw, tmp_path / "out")
    assert report["tables"]["changes"]["encoding"] == "parquet"
    assert report["tables"]["changes"]["accepted"] == 1


def test_bad_value_in_title_row_file_reports_the_visible_line(tmp_path):
    raw = write_snapshot(tmp_path / "raw")
    rows = valid_rows()["honours"]
    rows[0]["honour_type"] = "??"
    with open(raw / "honours.csv", "w", encoding="utf-8") as fh:
        fh.write("荣誉信息\n")
        pd.DataFrame(rows).to_csv(fh, index=False, lineterminator="\n")
    _ingest(raw, tmp_path / "out")
    q = pd.read_parquet(tmp_path / "out" / "quarantine.parquet")
    assert q["row"].tolist() == [3]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("missing_file", "missing: the contract needs table 'licences'"),
        ("missing_column", "missing required column(s): issue_date (发证日期)"),
        ("bad_encoding", "unreadable encoding"),
        ("no_header", "no header row"),
        ("truncated", "the file ends inside a quoted field — it was cut"),
        ("declared_rows", "snapshot.json declares 5 rows"),
        ("ambiguous", "ambiguous"),
        ("bad_parquet", "unreadable Parquet"),
    ],
)
def test_broken_file_fails_naming_file_and_problem(tmp_path, damage, message):
    raw = write_snapshot(tmp_path / "raw")
    path = raw / "licences.csv"
    if damage == "missing_file":
        path.unlink()
    elif damage == "missing_column":
        pd.read_csv(path, dtype=str).drop(columns="issue_date").to_csv(path, index=False)
    elif damage == "bad_encoding":
        path.write_bytes(path.read_bytes() + b"\x80\xff\xfe\n")
    elif damage == "no_header":
        path.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    elif damage == "truncated":  # cut inside a quoted field (a cut elsewhere quarantines the last record)
        text = path.read_text(encoding="utf-8")
        path.write_text(text + 'L2,91440802123456789F,"food_bus', encoding="utf-8")
    elif damage == "declared_rows":
        (raw / "snapshot.json").write_text(
            json.dumps({"snapshot_date": "2026-10-31", "tables": {"licences": {"rows": 5}}})
        )
    elif damage == "ambiguous":
        pd.DataFrame(valid_rows()["licences"]).to_parquet(raw / "licences.parquet")
    elif damage == "bad_parquet":
        path.unlink()
        (raw / "licences.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(RawFileError) as err:
        _ingest(raw, tmp_path / "out")
    assert "licences." in str(err.value)
    assert message in str(err.value)
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_snapshot_date_is_required(tmp_path):
    raw = write_snapshot(tmp_path / "raw", manifest=False)
    with pytest.raises(IngestError, match="no snapshot date"):
        _ingest(raw, tmp_path / "out")
    report = ingest(raw, tmp_path / "out", snapshot_date="2026-10-31", show_progress=False)
    assert report["snapshot_date"] == "2026-10-31"


def test_raw_files_are_never_modified_and_outputs_replace_atomically(tmp_path, small_city):
    before = {p.name: sha256_file(p) for p in (small_city / "raw").iterdir()}
    out = tmp_path / "out"
    _ingest(small_city / "raw", out)
    first = {p.name: sha256_file(p) for p in out.iterdir()}
    _ingest(small_city / "raw", out)
    assert {p.name: sha256_file(p) for p in (small_city / "raw").iterdir()} == before
    assert {p.name: sha256_file(p) for p in out.iterdir()} == first  # deterministic, and replaced whole


def test_counts_reconcile_for_every_table(small_city_ingested):
    out, report = small_city_ingested
    quarantine = pd.read_parquet(out / "quarantine.parquet")
    for name, t in report["tables"].items():
        accepted = pd.read_parquet(out / f"{name}.parquet")
        quarantined_rows = quarantine[quarantine["table"] == name]["row"].nunique()
        assert t["accepted"] == len(accepted)
        assert t["quarantined"] == quarantined_rows
        assert t["read"] == len(accepted) + quarantined_rows
    assert report["totals"]["reconciled"]


# --- worker processes --------------------------------------------------------------------------------------------


def test_worker_processes_write_the_same_bytes_as_one_process(tmp_path, small_city):
    ingest(small_city / "raw", tmp_path / "one", show_progress=False, workers=1)
    ingest(small_city / "raw", tmp_path / "two", show_progress=False, workers=2, parallel_min_bytes=0)
    one = {p.name: sha256_file(p) for p in (tmp_path / "one").iterdir()}
    assert one == {p.name: sha256_file(p) for p in (tmp_path / "two").iterdir()}
    assert "quarantine.parquet" in one and len(one) == len(contract.ALL_TABLES) + 3


def test_worker_failures_are_reported_as_one_process_reports_them(tmp_path, small_city):
    raw = tmp_path / "raw"
    raw.mkdir()
    for path in (small_city / "raw").iterdir():
        (raw / path.name).write_bytes(path.read_bytes())
    for name in ("complaints", "licences"):  # two tables validated by workers, in the contract's order
        lines = (raw / f"{name}.csv").read_bytes().split(b"\n")
        (raw / f"{name}.csv").write_bytes(b"\n".join([lines[0], b'1,"2', *lines[1:]]))  # a quote never closed
    errors = []
    for workers in (1, 2):
        with pytest.raises(RawFileError) as err:
            ingest(raw, tmp_path / "out", show_progress=False, workers=workers, parallel_min_bytes=0)
        errors.append(str(err.value))
        assert not (tmp_path / "out").exists()
    assert errors[0] == errors[1] and "licences.csv" in errors[0] and "never closes" in errors[0]
    # the registry itself failing: the waiting workers are told to stop, nothing hangs
    (raw / "entities.csv").write_bytes(b"uscc\n")
    with pytest.raises(RawFileError, match=r"entities\.csv"):
        ingest(raw, tmp_path / "out", show_progress=False, workers=2, parallel_min_bytes=0)
