"""File I/O shared by every stage: deterministic Parquet, atomic directory replacement, JSON, permissions.

Permission policy (docs/operations.md, "Confidentiality"): every file the system writes is readable by
its owner and group only (0640) and every folder 0750; outputs that may hold personal data or must not
leave the bureau — the quarantine, a plan's internal working copy — are owner-only (0600 / 0700). The
entry points (the CLI, the notebooks) set the umask 027 so that files written by libraries follow it
too; the helpers below set the mode explicitly, whatever the umask.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

FILE_MODE, DIR_MODE = 0o640, 0o750
PRIVATE_FILE_MODE, PRIVATE_DIR_MODE = 0o600, 0o700
UMASK = 0o027


def apply_umask() -> None:
    """The entry points' umask: files the libraries create become 0640 and folders 0750."""
    os.umask(UMASK)


def restrict_tree(root: Path, private: bool = False) -> None:
    """Apply the policy to every folder and file under ``root`` (private: owner-only)."""
    root = Path(root)
    file_mode, dir_mode = (PRIVATE_FILE_MODE, PRIVATE_DIR_MODE) if private else (FILE_MODE, DIR_MODE)
    root.chmod(dir_mode if root.is_dir() else file_mode)
    for path in root.rglob("*") if root.is_dir() else []:
        path.chmod(dir_mode if path.is_dir() else file_mode)


PARQUET_OPTIONS = {"compression": "zstd", "use_dictionary": True, "write_statistics": True}


def _arrow(frame: pd.DataFrame) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.replace_schema_metadata(None)  # pandas metadata embeds library versions only


def write_parquet(frame: pd.DataFrame, path: Path, private: bool = False) -> None:
    """Write a frame byte-for-byte reproducibly (no pandas index, fixed compression, no timestamps)."""
    pq.write_table(_arrow(frame), path, **PARQUET_OPTIONS)
    Path(path).chmod(PRIVATE_FILE_MODE if private else FILE_MODE)


ROW_GROUP = 1024 * 1024  # pyarrow's default row group size: what one write_table of the whole table uses


class RowGroupWriter:
    """One Parquet file written from a stream of Arrow tables in row groups of ``row_group`` rows cut across them:
    the bytes one ``pq.write_table`` of their concatenation gives (the same options), without holding it whole."""

    def __init__(self, path: Path, row_group: int = ROW_GROUP, **options):
        self.path, self.row_group, self.options = Path(path), row_group, options or PARQUET_OPTIONS
        self.pending: list[pa.Table] = []
        self.rows = 0
        self.writer: pq.ParquetWriter | None = None

    def write(self, table: pa.Table) -> None:
        self.pending.append(table)
        self.rows += table.num_rows
        while self.rows >= self.row_group:
            self._flush()

    def close(self) -> bool:
        """Write what is left; True when the file was written (False: no row came, no file)."""
        if self.rows:
            self._flush()
        if self.writer is None:
            return False
        self.writer.close()
        return True

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def _flush(self) -> None:
        block = pa.concat_tables(self.pending)
        head, rest = block.slice(0, self.row_group), block.slice(self.row_group)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, head.schema, **self.options)
        self.writer.write_table(head.combine_chunks(), row_group_size=self.row_group)
        self.pending, self.rows = [rest], rest.num_rows


class ParquetParts:
    """One Parquet file written frame by frame (a large table validated in chunks), with ``write_parquet``'s
    options; only the Arrow form of a part is kept, and only until the column types are known.

    A single part gives exactly the bytes of ``write_parquet``. With several, each part becomes its own row
    group(s), and a column empty in the first parts (Arrow type null) takes the type a later part gives it:
    parts are held back until every column has a type (or the file is closed).
    """

    def __init__(self, path: Path, private: bool = False):
        self.path, self.private = Path(path), private
        self.pending: list[pa.Table] = []
        self.writer: pq.ParquetWriter | None = None

    def write(self, frame: pd.DataFrame) -> None:
        table = _arrow(frame)
        if not table.num_rows and (self.pending or self.writer is not None):
            return  # no empty row group; an empty first part stays only while no rows come
        self.pending = [t for t in self.pending if t.num_rows]
        if self.writer is not None:
            self.writer.write_table(table.cast(self.writer.schema))
            return
        self.pending.append(table)
        if len(self.pending) > 1:
            schema = pa.unify_schemas([t.schema for t in self.pending])
            if not any(pa.types.is_null(f.type) for f in schema):
                self._open(schema)

    def _open(self, schema: pa.Schema) -> None:
        self.writer = pq.ParquetWriter(self.path, schema, **PARQUET_OPTIONS)
        for table in self.pending:
            self.writer.write_table(table.cast(schema))
        self.pending = []

    def close(self) -> None:
        if self.writer is None and len(self.pending) == 1:
            pq.write_table(self.pending[0], self.path, **PARQUET_OPTIONS)
        else:
            if self.writer is None:
                self._open(pa.unify_schemas([t.schema for t in self.pending]))
            self.writer.close()
        self.pending, self.writer = [], None
        self.path.chmod(PRIVATE_FILE_MODE if self.private else FILE_MODE)


def read_present(source: pd.DataFrame | Path, columns) -> pd.DataFrame:
    """Those of ``columns`` that ``source`` has (a frame, or a Parquet file of which only they are read), in the
    order given, each once."""
    wanted = list(dict.fromkeys(columns))
    if isinstance(source, pd.DataFrame):
        return source[[c for c in wanted if c in source.columns]]
    present = set(pq.read_schema(source).names)
    return pd.read_parquet(source, columns=[c for c in wanted if c in present])


class ParquetColumns:
    """A Parquet file's columns as pandas Series, read one at a time when asked for: a month of a 5 M-entity city
    is ≈ 5 GB as one frame, one of its columns 40 MB."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.rows = pq.ParquetFile(self.path).metadata.num_rows

    def __getitem__(self, column: str) -> pd.Series:
        return pd.read_parquet(self.path, columns=[column])[column]

    def __len__(self) -> int:
        return self.rows


def json_ready(obj, digits: int):
    """``obj`` with floats rounded to ``digits``, NaN as None and numpy scalars as plain values, recursively
    (figures written as JSON come out as the same bytes on every run)."""
    import math

    import numpy as np

    if isinstance(obj, dict):
        return {k: json_ready(v, digits) for k, v in obj.items()}
    if isinstance(obj, list):
        return [json_ready(v, digits) for v in obj]
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return None if math.isnan(obj) else round(float(obj), digits)
    return obj


def write_json(obj: object, path: Path) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    Path(path).chmod(FILE_MODE)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def atomic_file(target: Path, private: bool = False) -> Iterator[Path]:
    """Yield a scratch path beside ``target`` that replaces it only if the block completes."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    Path(tmp).chmod(PRIVATE_FILE_MODE if private else FILE_MODE)  # mkstemp creates 0600 whatever the umask
    os.replace(tmp, target)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)


def atomic_parquet(frame: pd.DataFrame, path: Path) -> None:
    with atomic_file(path) as tmp:
        write_parquet(frame, tmp)


@contextmanager
def atomic_directory(target: Path, private: bool = False) -> Iterator[Path]:
    """Yield a scratch directory that replaces ``target`` only if the block completes.

    An interrupted stage therefore leaves the previous output intact.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield scratch
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    scratch.chmod(PRIVATE_DIR_MODE if private else DIR_MODE)  # mkdtemp creates 0700 whatever the umask
    backup = target.with_name(f".{target.name}.old")
    if backup.exists():
        shutil.rmtree(backup)
    if target.exists():
        os.replace(target, backup)
    os.replace(scratch, target)
    shutil.rmtree(backup, ignore_errors=True)
