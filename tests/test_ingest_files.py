"""File-level behaviour of ingest: encodings, headers, formats, bad files, immutability, reconciliation."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
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


# --- large tables in chunks --------------------------------------------------------------------------------------


def _tables(out):
    return {p.name: pd.read_parquet(p) for p in sorted(out.glob("*.parquet"))}


def test_chunked_validation_gives_the_same_rows_findings_and_counts(tmp_path, small_city, small_city_ingested):
    """Every CSV table of the small city validated 997 records at a time (two workers): the same accepted rows
    and types, the same quarantine (also across chunk boundaries: duplicate keys, references), the same report."""
    whole, whole_report = small_city_ingested
    chunked = tmp_path / "chunked"
    report = ingest(small_city / "raw", chunked, show_progress=False, workers=2, parallel_min_bytes=0, chunk_rows=997)
    assert report == {**whole_report, "raw_dir": report["raw_dir"]}
    expected, got = _tables(whole), _tables(chunked)
    assert expected.keys() == got.keys()
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(got[name], frame, check_exact=True, obj=name)
    assert (chunked / "quarantine.csv").read_bytes() == (whole / "quarantine.csv").read_bytes()
    assert report["tables"]["roles"]["read"] > 3 * 997  # chunked indeed: one row group per chunk
    assert pq.ParquetFile(chunked / "roles.parquet").metadata.num_row_groups > 1
    assert pq.ParquetFile(whole / "roles.parquet").metadata.num_row_groups == 1
    # the same bytes with one process
    one = tmp_path / "one"
    ingest(small_city / "raw", one, show_progress=False, workers=1, chunk_rows=997)
    assert {p.name: sha256_file(p) for p in one.iterdir()} == {p.name: sha256_file(p) for p in chunked.iterdir()}


def test_duplicate_keys_across_chunks_and_a_column_empty_in_the_first_chunk(tmp_path):
    rows = valid_rows()
    change = rows["changes"][0]
    rows["changes"] = [
        change,
        {**change, "change_id": "C2", "change_date": "2020-02-30"},  # not a date: quarantined
        {**change, "change_id": "C2", "change_date": "2020-03-01"},  # C2's first accepted row
        {**change, "capital_after": "120"},  # repeats C1 (line 2), two chunks before
        {**change, "change_id": "C2"},  # repeats C2 (line 4), in the chunk before
    ]
    rows["entities"][0]["reg_no"] = ""  # empty in the first chunk, given in the second
    rows["entities"][1]["reg_no"] = "440802000012345"
    raw = write_snapshot(tmp_path / "raw", rows)
    outs = {}
    for chunk_rows in (0, 1, 2):
        outs[chunk_rows] = out = tmp_path / f"out{chunk_rows}"
        report = ingest(raw, out, show_progress=False, chunk_rows=chunk_rows)
        assert report["tables"]["changes"] | {"read": 5, "accepted": 2, "quarantined": 3} == report["tables"]["changes"]
        q = pd.read_parquet(out / "quarantine.parquet")
        q = q[q["table"] == "changes"]
        assert q["row"].tolist() == [3, 5, 6]
        assert q["rule"].tolist() == ["invalid_date", "duplicate_key", "duplicate_key"]
        assert q["message"].tolist()[1:] == ["same key ('C1',) as row 2", "same key ('C2',) as row 4"]
        entities = pq.read_table(out / "entities.parquet")
        assert entities.schema.field("reg_no").type == pa.string()
        assert entities.column("reg_no").to_pylist() == [None, "440802000012345", None]
    assert pq.ParquetFile(outs[1] / "changes.parquet").metadata.num_row_groups == 2  # one per chunk with a row
    for chunk_rows in (1, 2):
        assert _tables(outs[chunk_rows]).keys() == _tables(outs[0]).keys()
        for name, frame in _tables(outs[0]).items():
            pd.testing.assert_frame_equal(_tables(outs[chunk_rows])[name], frame, check_exact=True, obj=name)
