"""Scoring a month on Spark: ``classify.outputs.classify_frame`` on each Arrow partition of the indicators.

Every per-entity figure of a month (probability, score, model class, overrides, final class, reasons) is computed
by the local function, unchanged, on each partition (``mapInArrow``: partitions are the local path's slices of
``REASON_CHUNK`` rows, see ``classify_on_spark``), and the driver puts the rows back in USCC order. What needs
the whole month (the previous month's comparison, the summary, the report, stability) stays on the driver, in
``write_outputs``. The model travels to the executors inside the partition function (cloudpickle: CatBoost's
model, the calibration and the score mapping).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from riskclass.classify.outputs import REASON_CHUNK, RESULT_COLUMNS, classify_frame
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
    month file (read by the executors themselves: on a cluster it lies on storage they share), in USCC order.

    CatBoost's SHAP contributions (the reasons) depend on which rows are computed together, and the local path
    computes them in slices of ``REASON_CHUNK`` rows of the month in USCC order: each partition here holds whole
    slices, the same ones, in the same order, so the reasons come out the same. (Scores and classes do not depend
    on it.) Parallelism is therefore one task per slice.
    """
    from pyspark.sql import functions as F

    if isinstance(frame, str | Path):
        usccs = pq.read_table(frame, columns=["uscc"])["uscc"].to_pylist()
        df = spark.read.parquet(Path(frame).resolve().as_uri())
    else:
        usccs = frame["uscc"].tolist()
        df = spark.createDataFrame(frame)
    if usccs != sorted(usccs):
        raise ValueError("the month's indicators must be in USCC order (as the builder writes them)")
    names = df.columns
    # indicator codes contain dots, which Spark reads as struct fields: positional names inside Spark
    df = df.toDF(*[f"c{i}" for i in range(len(names))])
    key = f"c{names.index('uscc')}"
    chunk = F.lit(0)
    for first in usccs[REASON_CHUNK::REASON_CHUNK]:  # the first USCC of each later slice
        chunk = chunk + F.when(F.col(key) >= F.lit(first), 1).otherwise(0)
    slices = -(-len(usccs) // REASON_CHUNK)
    df = df.withColumn("slice", chunk).repartition(partitions or slices, "slice").sortWithinPartitions("slice", key)

    def score_partition(batches):
        batches = list(batches)
        if not batches:
            return
        table = pa.Table.from_batches(batches)
        for k in sorted(set(table["slice"].to_pylist())):
            part = table.filter(pc.equal(table["slice"], k)).drop_columns(["slice"]).rename_columns(names)
            out = classify_frame(part.to_pandas(), model, params, month, catalog)
            yield pa.RecordBatch.from_pandas(out, schema=RESULT_SCHEMA, preserve_index=False)

    table = df.mapInArrow(score_partition, _ddl(RESULT_SCHEMA)).toArrow()
    result = table.cast(RESULT_SCHEMA).to_pandas()
    return result.sort_values("uscc").reset_index(drop=True)


def _ddl(schema: pa.Schema) -> str:
    kinds = {pa.int64(): "BIGINT", pa.float64(): "DOUBLE", pa.string(): "STRING"}
    return ", ".join(f"`{f.name}` {kinds[f.type]}" for f in schema)
