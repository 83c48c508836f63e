"""Compute every catalog indicator for every market entity alive at a month end.

One GROUP BY query per source evaluates all of that source's indicators at once; the results are
left-joined to the population (entities established on or before the date and not closed by it),
with each indicator's declared default where an entity has no row. Panel mode stages the validated
tables once and evaluates many month ends on them.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import tempfile
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from riskclass.indicators.catalog import Catalog, Indicator
from riskclass.indicators.sources import connect, create_asof_views, stage
from riskclass.io import ROW_GROUP, ParquetColumns, RowGroupWriter, atomic_file, write_json
from riskclass.periods import month_end

_EPOCH = date(1970, 1, 1)


def day_number(d: date) -> int:
    return (d - _EPOCH).days


def due_year(as_of: date) -> int:
    """Latest report year whose 30 June filing deadline has passed on ``as_of``."""
    return as_of.year - 1 if (as_of.month, as_of.day) >= (6, 30) else as_of.year - 2


def render_sql(ind: Indicator, as_of: date) -> str:
    return ind.sql.replace("{as_of}", str(day_number(as_of))).replace("{due_year}", str(due_year(as_of)))


def _quote(code: str) -> str:
    return '"' + code.replace('"', '""') + '"'


def asof_query(
    catalog: Catalog, as_of: date, uscc_range: tuple[str | None, str | None] | None = None
) -> tuple[list[tuple[str, list[Indicator]]], str]:
    """The month's indicator query over the as-of views (DuckDB SQL, the one definition both engines run):
    the per-source sub-queries with their indicators, and the full query (population, defaults, order).

    ``uscc_range`` (low inclusive, high exclusive, ``None`` open) restricts the population and every source's
    aggregate to one slice of USCCs; the slices of a month in USCC order give the month's rows in order."""
    where = _range_predicate(uscc_range)
    subs, joins, selects = [], [], []
    for i, (source, indicators) in enumerate(catalog.by_source().items()):
        cols = ", ".join(f"{render_sql(ind, as_of)} AS {_quote(ind.code)}" for ind in indicators)
        if source == "entities":
            sub = f"SELECT uscc, {cols} FROM v_entities{where}"
        else:
            sub = f"SELECT uscc, {cols} FROM v_{source}{where} GROUP BY uscc"
        subs.append((sub, indicators))
        joins.append(f"LEFT JOIN ({sub}) s{i} ON s{i}.uscc = p.uscc")
        for ind in indicators:
            default = f"'{ind.default}'" if ind.is_categorical else f"CAST({float(ind.default)!r} AS DOUBLE)"
            value = f"s{i}.{_quote(ind.code)}"
            # rounding pins the last bits that parallel floating-point aggregation may vary between runs
            typed = f"CAST({value} AS VARCHAR)" if ind.is_categorical else f"ROUND(CAST({value} AS DOUBLE), 10)"
            selects.append((ind.code, f"COALESCE({typed}, {default}) AS {_quote(ind.code)}"))
    order = {code: k for k, code in enumerate(catalog.codes)}
    selects.sort(key=lambda item: order[item[0]])
    sql = (
        f"SELECT p.uscc, CAST(DATE '{as_of.isoformat()}' AS TIMESTAMP) AS as_of, "
        f"{', '.join(s for _, s in selects)} FROM (SELECT uscc FROM v_entities{where}) p "
        f"{' '.join(joins)} ORDER BY p.uscc"
    )
    return subs, sql


def _range_predicate(uscc_range: tuple[str | None, str | None] | None) -> str:
    if uscc_range is None:
        return ""
    low, high = uscc_range
    terms = ([f"uscc >= {_literal(low)}"] if low is not None else []) + (
        [f"uscc < {_literal(high)}"] if high is not None else []
    )
    return f" WHERE {' AND '.join(terms)}" if terms else ""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def output_schema(catalog: Catalog) -> pa.Schema:
    """The Arrow schema of a month file: ``uscc``, ``as_of``, then every indicator (DOUBLE, categorical as text)."""
    return pa.schema(
        [("uscc", pa.string()), ("as_of", pa.timestamp("us"))]
        + [(i.code, pa.string() if i.is_categorical else pa.float64()) for i in catalog.indicators]
    )


def compute_asof(con: duckdb.DuckDBPyConnection, catalog: Catalog, as_of: date) -> pa.Table:
    """All indicators as of one date, on already-staged tables, as Arrow (no pandas copy). Rows sorted by USCC."""
    _prepare(con, catalog, as_of)
    return _whole_month(con, catalog, as_of)


def _whole_month(con: duckdb.DuckDBPyConnection, catalog: Catalog, as_of: date) -> pa.Table:
    table = con.sql(asof_query(catalog, as_of)[1]).to_arrow_table()  # con.execute(...) would copy the rows again
    # the row order is part of the output's bytes: enforce it here rather than trust the result stream
    return table.sort_by("uscc")


def _prepare(con: duckdb.DuckDBPyConnection, catalog: Catalog, as_of: date) -> None:
    create_asof_views(con, day_number(as_of))
    for sub, indicators in asof_query(catalog, as_of)[0]:
        _check_compiles(con, sub, indicators, as_of)


def slice_ranges(con: duckdb.DuckDBPyConnection, slice_entities: int) -> list[tuple[str | None, str | None]]:
    """USCC ranges of at most ``slice_entities`` entities alive on the views' date, in USCC order, covering all."""
    usccs = con.sql("SELECT uscc FROM v_entities ORDER BY uscc").to_arrow_table().column("uscc")
    bounds = [None] + [usccs[k].as_py() for k in range(slice_entities, len(usccs), slice_entities)] + [None]
    return list(itertools.pairwise(bounds))


MONTH_OPTIONS = {"compression": "zstd"}  # how month files have always been written (pyarrow's other defaults)
MONTH_ROW_GROUP = ROW_GROUP


def write_asof(
    con: duckdb.DuckDBPyConnection, catalog: Catalog, as_of: date, path: Path, slice_entities: int | None = None
) -> int:
    """Write the month file at ``path`` from the query's result stream, a row group at a time: the month never sits
    in memory whole (at 5 M entities it is ≈ 5 GB, more than DuckDB's memory limit). With ``slice_entities`` the
    month is computed one USCC slice after another, so every join and aggregate holds one slice (a 5 M city's
    single query passes 10 GB). The same bytes as ``pq.write_table(compute_asof(...))``; rows that do not arrive
    in USCC order fall back to that. Returns the rows."""
    _prepare(con, catalog, as_of)
    ranges = slice_ranges(con, slice_entities) if slice_entities else [(None, None)]
    if len(ranges) > 1:
        _materialise_shared(con)
    writer, rows, last = RowGroupWriter(path, MONTH_ROW_GROUP, **MONTH_OPTIONS), 0, None
    try:
        for uscc_range in ranges:
            sql = asof_query(catalog, as_of, uscc_range)[1]
            for batch in con.sql(sql).fetch_arrow_reader(batch_size=MONTH_ROW_GROUP):
                if batch.num_rows == 0:
                    continue
                uscc = batch.column("uscc")
                if (last is not None and uscc[0].as_py() <= last) or not _increasing(uscc):
                    raise _OutOfOrder
                last = uscc[-1].as_py()
                writer.write(pa.Table.from_batches([batch]).replace_schema_metadata(None))
                rows += batch.num_rows
        if not writer.close():  # no row at all: as before
            raise _OutOfOrder
    except _OutOfOrder:
        writer.abort()
        table = _whole_month(con, catalog, as_of)
        write_month_table(table, path)
        return table.num_rows
    return rows


def write_month_table(table: pa.Table, path: Path) -> None:
    pq.write_table(table.replace_schema_metadata(None), path, **MONTH_OPTIONS)


# as-of views every slice reads whole (related entities lie anywhere in the city): computed once per month
SHARED_VIEWS = ("v_all_entities", "v_state")


def _materialise_shared(con: duckdb.DuckDBPyConnection) -> None:
    for view in SHARED_VIEWS:
        con.execute(f"CREATE OR REPLACE TEMP TABLE month_{view} AS SELECT * FROM {view}")
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM month_{view}")


def _increasing(values: pa.Array) -> bool:
    return len(values) < 2 or pc.all(pc.less(values.slice(0, len(values) - 1), values.slice(1))).as_py()


class _OutOfOrder(Exception):
    pass


class DuckDBEngine:
    """The default engine of ``build``: an in-process DuckDB connection (riskclass.spark has the other one).

    An engine stages the validated tables once (``stage``) and computes one month as an Arrow table in the
    month file's layout (``compute``), or streams it to a file in USCC slices of ``slice_entities`` (``write``).
    """

    def __init__(self, memory_limit: str = "4GB", threads: int = 2, slice_entities: int | None = None):
        # where DuckDB keeps the staged tables and spills what passes the memory limit. Staged in a database file,
        # the tables are compressed and paged by DuckDB's buffer manager (a 5 M city's tables: 0.8 GB on disk,
        # 3.7 GB in an in-memory database, which left no room under a 4 GB limit for the month's query).
        self.spill = Path(tempfile.mkdtemp(prefix="riskclass-duckdb-"))
        self.con = connect(memory_limit, threads, self.spill / "staged.duckdb")
        self.con.execute(f"SET temp_directory = '{self.spill.as_posix()}'")
        self.slice_entities = slice_entities

    def stage(self, validated_dir: Path, feedback_dir: Path | None = None) -> None:
        stage(self.con, Path(validated_dir), feedback_dir)

    def compute(self, catalog: Catalog, as_of: date) -> pa.Table:
        return compute_asof(self.con, catalog, as_of)

    def write(self, catalog: Catalog, as_of: date, path: Path) -> int:
        return write_asof(self.con, catalog, as_of, path, self.slice_entities)

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self.spill, ignore_errors=True)


def _check_compiles(con, sub: str, indicators: list[Indicator], as_of: date) -> None:
    """Name the failing indicator when a source query does not compile."""
    try:
        con.execute(f"EXPLAIN {sub}")
    except duckdb.Error:
        for ind in indicators:
            single = sub.split(" FROM ")[-1]
            try:
                con.execute(f"EXPLAIN SELECT uscc, {render_sql(ind, as_of)} FROM {single}")
            except duckdb.Error as exc:
                raise ValueError(f"indicator {ind.code}: definition does not compile: {exc}") from None
        raise


def build(
    validated_dir: Path,
    catalog: Catalog,
    months: Iterable[str],
    out_dir: Path,
    *,
    memory_limit: str = "4GB",
    threads: int = 2,
    slice_entities: int | None = None,
    progress=None,
    feedback_dir: Path | None = None,
    engine=None,
) -> dict:
    """Build ``out_dir/<month>.parquet`` for each of ``months``; return the merged manifest.

    Only the requested months are written, each atomically (scratch file, then ``os.replace``), so
    an interrupted build leaves every month either old or new, and the months not asked for stay in
    place untouched: ``riskclass features --month M`` never deletes the rest of the training panel.
    ``out_dir/manifest.json`` records every month present in ``out_dir`` (rebuilt entries updated,
    the others kept) and is rewritten atomically after each month. ``engine``: DuckDB unless given
    (``riskclass.spark.SparkEngine``); an engine passed in is left open.
    """
    months = sorted(set(months))
    for month in months:
        month_end(month)  # refuse a malformed month before any work
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = {
        "catalog_sha256": catalog.sha256,
        "catalog_version": catalog.version,
        "indicators": len(catalog.indicators),
        "validated_dir": str(validated_dir),
        "months": _manifest_months(out_dir),
    }
    own = engine is None
    engine = engine or DuckDBEngine(memory_limit, threads, slice_entities)
    try:
        engine.stage(Path(validated_dir), feedback_dir)
        task = progress.add_task("building indicators", total=len(months)) if progress else None
        for month in months:
            with atomic_file(out_dir / f"{month}.parquet") as tmp:
                rows = write_month(engine, catalog, month_end(month), tmp)
            manifest["months"][month] = {
                "as_of": str(month_end(month)),
                "entities": rows,
                "catalog_sha256": catalog.sha256,
                "validated_dir": str(validated_dir),
            }
            with atomic_file(out_dir / MANIFEST) as tmp:
                write_json(manifest, tmp)
            if progress:
                progress.advance(task)
    finally:
        if own:
            engine.close()
    return manifest


MANIFEST = "manifest.json"
_MONTH_FILE = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def _manifest_months(out_dir: Path) -> dict:
    """The recorded entries of the months whose files are present in ``out_dir``.

    A month file without an entry (written by ``build_one`` or an older build) is listed with what its
    file tells: its as-of date and row count, without a catalog hash, since that is not known.
    """
    recorded = {}
    path = out_dir / MANIFEST
    if path.exists():
        try:
            recorded = json.loads(path.read_text(encoding="utf-8")).get("months", {})
        except (ValueError, AttributeError):
            recorded = {}
    months = {}
    for file in sorted(out_dir.glob("*.parquet")):
        month = file.stem
        if not _MONTH_FILE.fullmatch(month):
            continue
        as_of = month_end(month)
        entry = recorded.get(month)
        if not isinstance(entry, dict):
            entry = {"as_of": str(as_of), "entities": pq.ParquetFile(file).metadata.num_rows}
        months[month] = entry
    return months


def build_one(
    validated_dir: Path,
    catalog: Catalog,
    month: str,
    out_dir: Path,
    *,
    memory_limit: str = "4GB",
    threads: int = 2,
    slice_entities: int | None = None,
    feedback_dir: Path | None = None,
    engine=None,
) -> Path:
    """Build one month into ``out_dir/<month>.parquet`` atomically, leaving other months in place (``engine``: as
    in ``build``)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    own = engine is None
    engine = engine or DuckDBEngine(memory_limit, threads, slice_entities)
    target = out_dir / f"{month}.parquet"
    try:
        engine.stage(Path(validated_dir), feedback_dir)
        with atomic_file(target) as tmp:
            write_month(engine, catalog, month_end(month), tmp)
    finally:
        if own:
            engine.close()
    return target


def write_month(engine, catalog: Catalog, as_of: date, path: Path) -> int:
    """The month file at ``path`` from ``engine``: streamed where the engine can (DuckDB), else from its table."""
    if hasattr(engine, "write"):
        return engine.write(catalog, as_of, path)
    table = engine.compute(catalog, as_of)
    write_month_table(table, path)
    return table.num_rows


def month_path(features_dir: Path, month: str) -> Path:
    path = Path(features_dir) / f"{month}.parquet"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no indicators for {month} (run `riskclass features --month {month}`)")
    return path


def load_month(features_dir: Path, month: str) -> pd.DataFrame:
    return pd.read_parquet(month_path(features_dir, month))


def month_columns(features_dir: Path, month: str) -> ParquetColumns:
    """The month's indicators read one column at a time (``load_month`` reads the whole frame)."""
    return ParquetColumns(month_path(features_dir, month))
