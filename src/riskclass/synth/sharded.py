"""A large synthetic city as independent shards (districts), generated in worker processes and joined.

A city of more than ``synth.shard_entities`` entities is cut into the fewest shards of at most that size. Each
shard is a small city of its own: its entities (spread over all the city's counties, like the whole city), their
people, addresses, shareholders and relation graph, simulated on its own random streams (synth/shard.py) — so
relationships and contagion stay inside a shard, and a shard's output does not depend on which process made it
or on how many there are. Every number a shard gives out lies in its own range (record ids, address keys, USCC
organisation codes), so nothing collides across shards.

1. ``synth.workers`` spawned processes build the shards (one process per shard: memory is that of ``workers``
   shards at a time) and write each table's rows, corrupted, to a part file, with the corruption log numbered
   within the part; the national-form tables wait (their name matching counts names over the whole city).
2. The names every shard's clean registry rows carry are counted over the city; the workers write the
   national-form parts with those counts.
3. The parent joins the parts in shard order (header and title row once, byte for byte otherwise), numbers
   the corruption log across them, generates the city-wide planning inputs (inspectors, conflicts over every
   alive entity) and writes ``snapshot.json`` and ``summary.json`` (``synth.finish``, as for a city in one
   piece) and the truth files, joined.
"""

from __future__ import annotations

import codecs
import multiprocessing
import pickle
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from riskclass import contract
from riskclass.io import FILE_MODE, PARQUET_OPTIONS, atomic_directory
from riskclass.synth import build_part, finish, table_format, write_national_part
from riskclass.synth.shard import Shard

_TRUTH = ("entity_month.parquet", "entities.parquet", "domain_month.parquet")


def generate_sharded(
    out: Path, sizes: list[int], months: int, seed: int, sp: dict, city: dict, workers: int, show_progress: bool
) -> dict:
    """Generate a city of ``sum(sizes)`` entities as ``len(sizes)`` shards into ``out``; return its summary."""
    shard_tables = [t.name for t in contract.ALL_TABLES if t not in contract.PLANNING_TABLES]
    not_csv = [name for name in shard_tables if table_format(sp, name)["file_format"] != "csv"]
    if not_csv:
        raise ValueError(f"a sharded city is written as CSV only; synth.formats asks for Parquet: {not_csv}")
    with atomic_directory(out) as scratch:
        (scratch / "raw").mkdir()
        (scratch / "truth").mkdir()
        dirs = [scratch / ".shards" / f"{k:03d}" for k in range(len(sizes))]
        shards = [Shard(k, len(sizes)) for k in range(len(sizes))]
        tasks = [(d, s, n, months, seed, sp, city) for d, s, n in zip(dirs, shards, sizes, strict=True)]
        parts = _map(_build, tasks, workers, show_progress, "shards")
        counts = pd.concat([p.pop("accepted_names") for p in parts], ignore_index=True).value_counts()
        shared = counts[counts > 1].to_dict()  # only names several entities share matter (name_ambiguous)
        del counts
        tasks = [(d, s, seed, sp, shared, p) for d, s, p in zip(dirs, shards, parts, strict=True)]
        parts = _map(_national, tasks, workers, show_progress, "national forms")
        for name in shard_tables:
            fmt = table_format(sp, name)
            header_lines = 1 + int(bool(fmt.get("title_row")))
            file_name = parts[0]["tables"][name]["file"]
            _join_csv([d / "raw" / file_name for d in dirs], scratch / "raw" / file_name, fmt["encoding"], header_lines)
        for name in _TRUTH:
            _join_parquet([d / "truth" / name for d in dirs], scratch / "truth" / name)
        shutil.rmtree(scratch / ".shards")
        summary = finish(scratch, parts, sum(sizes), months, seed, sp, city, {"shards": len(sizes)})
    return summary


def _map(fn, tasks: list, workers: int, show_progress: bool, what: str) -> list:
    """``fn`` over ``tasks`` in order: in this process for one worker, else in spawned processes (a fresh one per
    task, so a finished shard's memory is given back)."""
    if workers <= 1:
        return [fn(task) for task in tasks]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(workers, len(tasks)), mp_context=context, max_tasks_per_child=1) as pool:
        results = []
        for k, result in enumerate(pool.map(fn, tasks)):
            if show_progress:
                print(f"{what}: {k + 1}/{len(tasks)}", flush=True)
            results.append(result)
        return results


def _build(task: tuple) -> dict:
    """Worker: one shard's tables and truth into its directory; the national-form texts wait in a pickle."""
    root, shard, n, months, seed, sp, city = task
    (root / "raw").mkdir(parents=True)
    (root / "truth").mkdir()
    part = build_part(root, shard, n, months, seed, sp, city)
    texts = {name: entry.pop("text") for name, entry in part["tables"].items() if "text" in entry}
    with open(root / "national.pkl", "wb") as fh:
        pickle.dump({"registry": part.pop("registry"), "texts": texts}, fh, protocol=pickle.HIGHEST_PROTOCOL)
    part.pop("sp")
    return part


def _national(task: tuple) -> dict:
    """Worker: one shard's national-form tables, with the whole city's counts of shared names."""
    root, shard, seed, sp, shared, part = task
    with open(root / "national.pkl", "rb") as fh:
        kept = pickle.load(fh)
    (root / "national.pkl").unlink()
    registry = {**kept["registry"], "name_counts": shared}
    part = {**part, "sp": sp}
    for name, text in kept["texts"].items():
        part["tables"][name]["text"] = text
        write_national_part(part, name, registry, seed, shard, root / "raw")
    part.pop("sp")
    return part


def _join_csv(parts: list[Path], target: Path, encoding: str, header_lines: int) -> None:
    """Parts of one CSV file, in order: the first whole, the others without their BOM, title row and header."""
    with open(target, "wb") as out:
        for k, path in enumerate(parts):
            with open(path, "rb") as fh:
                if k:
                    if encoding == "utf-8-sig" and fh.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:
                        raise ValueError(f"{path}: no byte-order mark")
                    for _ in range(header_lines):
                        fh.readline()
                shutil.copyfileobj(fh, out, 1 << 24)
            path.unlink()
    target.chmod(FILE_MODE)


def _join_parquet(parts: list[Path], target: Path) -> None:
    """Parquet parts as one file, part after part (row groups are streamed: a part at a time in memory), written
    with the options of ``riskclass.io.write_parquet``."""
    schema = next((pq.read_schema(p) for p in parts if pq.ParquetFile(p).metadata.num_rows), pq.read_schema(parts[0]))
    with pq.ParquetWriter(target, schema, **PARQUET_OPTIONS) as writer:
        for path in parts:
            table = pq.read_table(path)
            if table.num_rows:
                writer.write_table(table.cast(schema) if table.schema != schema else table)
            path.unlink()
    target.chmod(FILE_MODE)
