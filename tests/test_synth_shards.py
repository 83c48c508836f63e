"""A large synthetic city is generated as shards: the same bytes whatever the number of worker processes, ids
unique across shards, files that ingest reads with every quarantined row one the corruption log names."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from riskclass import contract
from riskclass.ingest import ingest
from riskclass.io import sha256_file
from riskclass.synth import generate, shard_sizes
from riskclass.synth.shard import STRIDE, Shard

# 24 months: with a window that starts in May (18 months) the generator makes a few duplicate annual reports
# (same entity and year) that the log does not name, sharded or not
ENTITIES, SHARD, MONTHS = 6000, 2000, 24


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def cities(tmp_path_factory, params) -> dict[int, Path]:
    """The same 3-shard city generated in this process (1 worker) and in 2 spawned workers."""
    root = tmp_path_factory.mktemp("sharded")
    sp = {**params["synth"], "shard_entities": SHARD}
    out = {}
    for workers in (1, 2):
        out[workers] = root / f"w{workers}"
        generate(
            out[workers],
            entities=ENTITIES,
            months=MONTHS,
            seed=3,
            synth_params=sp,
            city=params["city"],
            show_progress=False,
            workers=workers,
        )
    return out


@pytest.fixture(scope="module")
def ingested(cities, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("sharded_validated") / "validated"
    return out, ingest(cities[1] / "raw", out, show_progress=False)


def test_shard_sizes():
    assert shard_sizes(50_000, 500_000) == [50_000]
    assert shard_sizes(500_000, 500_000) == [500_000]
    assert shard_sizes(5_000_000, 500_000) == [500_000] * 10
    assert shard_sizes(1_000_001, 500_000) == [333_334, 333_334, 333_333]
    assert shard_sizes(ENTITIES, SHARD) == [2000, 2000, 2000]


def test_shard_ranges_are_disjoint():
    shards = [Shard(k, 3) for k in range(3)]
    assert [s.uscc_bodies for s in shards] == [(0, 33_333_333), (33_333_333, 66_666_666), (66_666_666, 99_999_999)]
    assert [s.first(10, "x") for s in shards] == [0, STRIDE, 2 * STRIDE]
    with pytest.raises(ValueError, match="exceed"):
        shards[1].first(STRIDE + 1, "complaints")
    assert Shard().first(STRIDE + 1, "complaints") == 0  # a city in one piece has no neighbour to collide with


def test_same_bytes_with_one_or_two_workers(cities):
    one, two = _hashes(cities[1]), _hashes(cities[2])
    assert one == two
    assert not any(name.startswith(".shards") for name in one)  # the parts are gone


def test_summary_counts_the_whole_city(cities, params):
    summary = json.loads((cities[1] / "summary.json").read_text(encoding="utf-8"))
    assert summary["generator"] == {"entities": ENTITIES, "months": MONTHS, "seed": 3, "shards": 3}
    truth = pd.read_parquet(cities[1] / "truth" / "entities.parquet")
    assert len(truth) == ENTITIES and truth["uscc"].is_unique
    log = pd.read_csv(cities[1] / "truth" / "corruptions.csv")
    duplicates = log[(log["table"] == "entities") & (log["kind"] == "duplicate")]
    assert summary["tables"]["entities"]["rows"] == ENTITIES + len(duplicates)
    # the planning inputs are sized to the whole city, not to a shard: 70 officers per 10,000 entities
    assert summary["tables"]["inspectors"]["rows"] == round(ENTITIES / 10_000 * 70)
    for name, t in summary["tables"].items():
        with open(cities[1] / "raw" / t["file"], encoding=t["encoding"], newline="") as fh:
            lines = fh.read().count("\n")
        title = bool({**params["synth"]["formats"]["default"], **params["synth"]["formats"].get(name, {})}["title_row"])
        assert lines == t["rows"] + 1 + title, name  # one header (and title row) for the whole file
        assert t["corrupted"] == int((log["table"] == name).sum())
    # every shard contributed to the joined tables: the three ranges of licence ids all occur
    licences = pd.read_csv(cities[1] / "raw" / "licences.csv", dtype=str)
    numbers = licences["licence_id"].str[2:].astype(int)
    assert sorted((numbers // STRIDE).unique()) == [0, 1, 2]


def test_sharded_city_ingests_with_only_logged_rows_quarantined(cities, ingested):
    out, report = ingested
    assert report["totals"]["reconciled"]
    quarantine = pd.read_parquet(out / "quarantine.parquet")
    injected = pd.read_csv(cities[1] / "truth" / "corruptions.csv", dtype={"row": int})
    injected_rows = set(zip(injected["file"], injected["row"], strict=True))
    direct = quarantine[~quarantine["rule"].isin(["unknown_entity", "unknown_reference"])]
    # an id shared by two shards would be quarantined as a duplicate key that the log does not name
    assert set(zip(direct["file"], direct["row"], strict=True)) <= injected_rows
    assert injected_rows <= set(zip(quarantine["file"], quarantine["row"], strict=True))
    for table in contract.ALL_TABLES:
        if table.key and (out / f"{table.name}.parquet").exists():
            accepted = pd.read_parquet(out / f"{table.name}.parquet", columns=list(table.key))
            assert not accepted.duplicated().any(), table.name
    entities = pd.read_parquet(out / "entities.parquet")
    assert entities["uscc"].str[8:16].astype(int).floordiv(33_333_333).nunique() == 3  # codes from every shard
