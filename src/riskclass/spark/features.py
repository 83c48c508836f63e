"""The indicator builder's engine on Spark: the same staging, as-of views and month query as DuckDB's, translated.

Nothing here defines an indicator or a view: ``sources.stage_select``, ``sources.asof_views`` and
``builder.asof_query`` produce the DuckDB SQL both engines run, ``dialect.to_spark`` translates it. The month
comes back as Arrow in the month file's schema (``builder.output_schema``) and sorted by USCC, so
``builder.build`` writes it exactly as it writes DuckDB's.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa

from riskclass import contract
from riskclass.indicators.builder import asof_query, day_number, output_schema
from riskclass.indicators.catalog import Catalog
from riskclass.indicators.sources import asof_views, stage_select, validated_path
from riskclass.inspections import feedback_files, load_inspections
from riskclass.spark.dialect import register_functions, to_spark

# views several sources read (the population, every entity's state on the date): computed once per month, not
# once per reader (Spark, unlike DuckDB, would re-run their windows and joins in each sub-query)
REUSED_VIEWS = ("v_all_entities", "v_entities", "v_state")


class SparkEngine:
    """``builder.build(…, engine=SparkEngine(spark))``: stage once, then one month per ``compute``."""

    def __init__(self, spark):
        self.spark = spark
        self._cached = []
        register_functions(spark)

    def stage(self, validated_dir: Path, feedback_dir: Path | None = None) -> None:
        """Every validated table as a cached ``stg_<table>`` view (the staging query of sources.py, translated)."""
        spark = self.spark
        for table in contract.TABLES:
            path = validated_path(validated_dir, table)
            if table.name == "inspections" and feedback_files(feedback_dir):
                # validated inspections plus accepted plan results, read the same way as for DuckDB
                raw = spark.createDataFrame(load_inspections(validated_dir, feedback_dir))
            else:
                raw = spark.read.parquet(path.resolve().as_uri())
            raw.createOrReplaceTempView(f"raw_{table.name}")
            staged = spark.sql(to_spark(stage_select(table, f"raw_{table.name}"))).cache()
            staged.createOrReplaceTempView(f"stg_{table.name}")
            self._cached.append(staged)

    def compute(self, catalog: Catalog, as_of: date) -> pa.Table:
        month_cache = []
        for name, select in asof_views(day_number(as_of)):
            view = self.spark.sql(to_spark(select))
            if name in REUSED_VIEWS:
                view = view.cache()
                month_cache.append(view)
            view.createOrReplaceTempView(name)
        _subs, sql = asof_query(catalog, as_of)
        try:
            table = self.spark.sql(to_spark(sql)).toArrow()
        finally:
            for view in month_cache:
                view.unpersist()
        # the month file's exact types (Spark's TIMESTAMP_NTZ is Arrow's timestamp[us]), then the row order
        return table.cast(output_schema(catalog)).sort_by("uscc")

    def close(self) -> None:
        """Release the cached tables; the session stays (one JVM serves every build of the process)."""
        for frame in self._cached:
            frame.unpersist()
        self._cached = []
