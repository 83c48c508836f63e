"""Scoring a month on Spark: ``classify.outputs.classify_part`` on each Arrow partition of the indicators.

Every per-entity figure of a month (probability, score, model class, overrides, final class, reasons) is computed
by the local function, unchanged, on each partition (``mapInArrow``); each row depends on its own indicators and the
model alone (the reasons' contributions come from the model's leaf tables, model/leafshap.py), so any partitioning
gives the rows the local path gives, and the driver puts them back in USCC order. What needs
the whole month (the previous month's comparison, the summary, the report, stability) stays on the driver, in
``write_outputs``. The model travels to the executors inside the partition function (cloudpickle: CatBoost's
model, the calibration and the score mapping).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from riskclass.classify.outputs import CLASSIFY_CHUNK, CONTRIBUTIONS, RESULT_COLUMNS, classify_frame, classify_part
from riskclass.model.risk_model import RiskModel

RESULT_SCHEMA = pa.schema(
    [(c, pa.int64() if c == "score" else pa.float64() if c == "probability" else pa.string()) for c in RESULT_COLUMNS]
)


def spark_classifier(spark, partitions: int | None = None):
    """A drop-in for ``classify_frame`` (``write_outputs(…, classifier=…)``) that scores on ``spark``."""

    def classify(frame: pd.DataFrame, model: RiskModel, params: dict, month: str, catalog) -> pd.DataFrame:
        return classify_on_spark(spark, frame, model, params, month, catalog, partitions)

    return classify


def classify_on_spark(
    spark, frame, model: RiskModel, params: dict, month: str, catalog, partitions: int | None = None
) -> pd.DataFrame:
    """``classify_frame``'s result, computed partition by partition. ``frame``: a pandas frame or the path of a
    month file (read by the executors themselves: on a cluster it lies on storage they share), in USCC order.
    ``partitions``: how many (default: one per ``CLASSIFY_CHUNK`` entities)."""
    if params.get("contributions") != CONTRIBUTIONS:
        # a record sealed before the leaf tables: its reasons came from CatBoost in fixed slices of the whole month
        return classify_frame(frame, model, params, month, catalog)
    if isinstance(frame, str | Path):
        rows = pq.ParquetFile(frame).metadata.num_rows
        df = spark.read.parquet(Path(frame).resolve().as_uri())
    else:
        rows = len(frame)
        df = spark.createDataFrame(frame)
    names = df.columns
    # indicator codes contain dots, which Spark reads as struct fields: positional names inside Spark
    df = df.toDF(*[f"c{i}" for i in range(len(names))]).repartition(partitions or max(1, -(-rows // CLASSIFY_CHUNK)))

    def score_partition(batches):
        for batch in batches:
            part = pa.Table.from_batches([batch]).rename_columns(names).to_pandas()
            out = classify_part(part, model, params, month, catalog)
            yield pa.RecordBatch.from_pandas(out, schema=RESULT_SCHEMA, preserve_index=False)

    table = df.mapInArrow(score_partition, _ddl(RESULT_SCHEMA)).toArrow()
    result = table.cast(RESULT_SCHEMA).to_pandas()
    return result.sort_values("uscc", kind="stable").reset_index(drop=True)


def _ddl(schema: pa.Schema) -> str:
    kinds = {pa.int64(): "BIGINT", pa.float64(): "DOUBLE", pa.string(): "STRING"}
    return ", ".join(f"`{f.name}` {kinds[f.type]}" for f in schema)
