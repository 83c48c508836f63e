"""Panel builds write only the months asked for: the rest of the panel and its manifest entries stay."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from riskclass.indicators import build, builder, load_catalog
from riskclass.ingest import ingest

from conftest import ROOT, write_snapshot
from indicator_fixture import rows

MONTHS = ["2025-10", "2025-11", "2025-12"]


@pytest.fixture(scope="module")
def validated(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("panel_city")
    raw = write_snapshot(root / "raw", rows())
    report = ingest(raw, root / "validated", show_progress=False)
    assert report["totals"]["quarantined"] == 0
    return root / "validated"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(ROOT / "indicators.yaml")


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and inode of every file: an unchanged inode proves the file was not rewritten."""
    return {p.name: (p.read_bytes(), p.stat().st_ino) for p in sorted(folder.iterdir())}


def manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def test_rebuilding_one_month_keeps_the_others(validated, catalog, tmp_path):
    out = tmp_path / "features"
    first = build(validated, catalog, MONTHS, out)
    assert sorted(first["months"]) == MONTHS
    before = snapshot(out)
    assert set(before) == {f"{m}.parquet" for m in MONTHS} | {"manifest.json"}

    again = build(validated, catalog, ["2025-11"], out)

    after = snapshot(out)
    assert set(after) == set(before)  # nothing deleted, no scratch file left behind
    for month in ("2025-10", "2025-12"):
        assert after[f"{month}.parquet"] == before[f"{month}.parquet"], month  # same bytes, same file
    rebuilt_bytes, rebuilt_inode = after["2025-11.parquet"]
    assert rebuilt_bytes == before["2025-11.parquet"][0]  # deterministic
    assert rebuilt_inode != before["2025-11.parquet"][1]  # but really rewritten (atomically, a new file)
    recorded = manifest(out)
    assert sorted(recorded["months"]) == MONTHS
    assert recorded == again
    assert recorded["months"] == first["months"]
    assert recorded["months"]["2025-10"]["as_of"] == "2025-10-31"
    assert all(e["entities"] > 0 and e["catalog_sha256"] == catalog.sha256 for e in recorded["months"].values())


def test_manifest_bytes_are_deterministic(validated, catalog, tmp_path):
    build(validated, catalog, MONTHS, tmp_path / "a")
    build(validated, catalog, MONTHS[:2], tmp_path / "b")
    build(validated, catalog, MONTHS[2:], tmp_path / "b")
    assert snapshot(tmp_path / "a").keys() == snapshot(tmp_path / "b").keys()
    for name in snapshot(tmp_path / "a"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_month_without_a_manifest_entry_is_listed(validated, catalog, tmp_path):
    out = tmp_path / "features"
    builder.build_one(validated, catalog, "2025-10", out)  # writes no manifest
    (out / "notes.parquet").write_bytes(b"not a month")  # not month files: ignored
    (out / "2025.parquet").write_bytes(b"not a month either")
    recorded = build(validated, catalog, ["2025-12"], out)
    assert sorted(recorded["months"]) == ["2025-10", "2025-12"]
    assert recorded["months"]["2025-10"]["as_of"] == "2025-10-31"
    assert recorded["months"]["2025-10"]["entities"] == recorded["months"]["2025-12"]["entities"]
    assert "catalog_sha256" not in recorded["months"]["2025-10"]  # unknown, so not claimed


def test_months_deleted_by_hand_leave_the_manifest(validated, catalog, tmp_path):
    out = tmp_path / "features"
    build(validated, catalog, MONTHS, out)
    (out / "2025-10.parquet").unlink()
    recorded = build(validated, catalog, ["2025-12"], out)
    assert sorted(recorded["months"]) == ["2025-11", "2025-12"]


def test_interrupted_build_leaves_every_month_old_or_new(validated, catalog, tmp_path, monkeypatch):
    out = tmp_path / "features"
    build(validated, catalog, MONTHS, out)
    before = snapshot(out)
    real = builder.write_asof  # the month file is streamed from DuckDB's result
    calls = []

    def failing(con, cat, as_of, path, slice_entities=None):
        calls.append(as_of)
        if len(calls) == 2:
            # the scratch file is written, then the run dies before the rename
            real(con, cat, as_of, path, slice_entities)
            raise RuntimeError("interrupted")
        return real(con, cat, as_of, path, slice_entities)

    monkeypatch.setattr(builder, "write_asof", failing)
    with pytest.raises(RuntimeError, match="interrupted"):
        build(validated, catalog, MONTHS, out)
    after = snapshot(out)
    assert set(after) == set(before)  # no scratch file, nothing missing
    assert after["2025-11.parquet"] == before["2025-11.parquet"]
    assert after["2025-12.parquet"] == before["2025-12.parquet"]
    assert sorted(manifest(out)["months"]) == MONTHS


def test_malformed_month_is_refused_before_any_write(validated, catalog, tmp_path):
    out = tmp_path / "features"
    build(validated, catalog, MONTHS[:1], out)
    before = snapshot(out)
    with pytest.raises(ValueError, match="YYYY-MM"):
        build(validated, catalog, ["2025-12", "2025-13x"], out)
    assert snapshot(out) == before
    assert not any(name.startswith(".") for name in os.listdir(out))


def test_a_month_computed_in_uscc_slices_has_the_bytes_of_one_query(small_city_ingested, catalog, tmp_path):
    """Large cities compute a month a slice of USCCs at a time; relationships cross slices (a shared address,
    a legal representative of entities in other slices), so every aggregate must still see the whole city."""
    validated, _ = small_city_ingested
    whole = builder.build_one(validated, catalog, "2025-12", tmp_path / "whole")
    sliced = builder.build_one(validated, catalog, "2025-12", tmp_path / "sliced", slice_entities=317)
    assert sliced.read_bytes() == whole.read_bytes()

    engine = builder.DuckDBEngine(slice_entities=317)
    try:
        engine.stage(validated)
        builder.create_asof_views(engine.con, builder.day_number(builder.month_end("2025-12")))
        ranges = builder.slice_ranges(engine.con, 317)
        sizes = [
            engine.con.sql(f"SELECT count(*) FROM v_entities{builder._range_predicate(r)}").fetchall()[0][0]
            for r in ranges
        ]
    finally:
        engine.close()
    assert len(ranges) > 5 and max(sizes) <= 317 and sum(sizes) == pq.ParquetFile(whole).metadata.num_rows
    assert ranges[0][0] is None and ranges[-1][1] is None
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))  # contiguous, no gap or overlap
