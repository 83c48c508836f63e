"""Scoring a month on Spark: ``classify.outputs.classify_frame`` on each Arrow partition of the indicators.

Every per-entity figure of a month (probability, score, model class, overrides, final class, reasons) depends on
the entity's own row only, so the local function runs unchanged on each partition (``mapInArrow``) and the
driver puts the rows back in USCC order. What needs the whole month (the previous month's comparison, the
summary, the report, stability) stays on the driver, in ``write_outputs``. The model travels to the executors
inside the partition function (cloudpickle: CatBoost's model, the calibration and the score mapping).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from riskclass.classify.outputs import RESULT_COLUMNS, classify_frame
from riskclass.model.risk_model import RiskModel

_TEXT = [c for c in RESULT_COLUMNS if c not in ("score", "probability")]
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
    month file (read by the executors themselves: on a cluster it lies on storage they share)."""
    if isinstance(frame, str | Path):
        df = spark.read.parquet(Path(frame).resolve().as_uri())
    else:
        df = spark.createDataFrame(frame)
    names = df.columns
    # indicator codes contain dots, which Spark reads as struct fields: positional names inside Spark
    df = df.toDF(*[f"c{i}" for i in range(len(names))])
    df = df.repartition(partitions or spark.sparkContext.defaultParallelism)

    def score_partition(batches):
        for batch in batches:
            part = batch.rename_columns(names).to_pandas()
            if part.empty:
                continue
            out = classify_frame(part, model, params, month, catalog)
            yield pa.RecordBatch.from_pandas(out, schema=RESULT_SCHEMA, preserve_index=False)

    table = df.mapInArrow(score_partition, _ddl(RESULT_SCHEMA)).toArrow()
    result = table.cast(RESULT_SCHEMA).to_pandas()
    return result.sort_values("uscc").reset_index(drop=True)


def _ddl(schema: pa.Schema) -> str:
    kinds = {pa.int64(): "BIGINT", pa.float64(): "DOUBLE", pa.string(): "STRING"}
    return ", ".join(f"`{f.name}` {kinds[f.type]}" for f in schema)
