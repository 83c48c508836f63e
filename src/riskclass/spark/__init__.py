"""Apache Spark engine (docs/spark.md): the session, and the same indicators and scores as the local path.

- ``session(sp)``: a SparkSession from params.yaml ``spark`` (master, driver memory, shuffle partitions, Arrow
  batch size), workers on the running interpreter (``PYSPARK_PYTHON``), no UI, errors-only logs, UTC session time.
  A missing or too old Java is one line (``SparkUnavailable``), found before any JVM is started.
- ``riskclass.spark.dialect``: DuckDB SQL → Spark SQL (sqlglot) with the rewrite rules the semantics need.
- ``riskclass.spark.features.SparkEngine``: the indicator builder's engine on Spark (``builder.build(engine=…)``).
- ``riskclass.spark.scoring.spark_classifier``: scoring and classes of a month in Arrow partitions
  (``classify.outputs.classify_frame`` per partition).

Nothing of the DuckDB path imports this package: the DVC stages run without Spark.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

JAVA_MESSAGE = "riskclass: Spark needs a Java 17+ runtime: sudo apt-get install openjdk-17-jre-headless"
MIN_JAVA = 17


class SparkUnavailable(RuntimeError):
    """Spark cannot start here (no Java 17+); the message is the one line to show."""


def java_executable() -> str | None:
    """The java Spark's launcher would use: ``$JAVA_HOME/bin/java`` when JAVA_HOME is set, else ``java`` on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None
    return shutil.which("java")


def java_major(version_output: str) -> int | None:
    """Major version in ``java -version`` output: ``"17.0.15"`` → 17, ``"1.8.0_292"`` → 8."""
    m = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def check_java() -> None:
    """Raise SparkUnavailable (one line) unless a Java 17+ runtime is there; never starts a JVM of Spark's."""
    java = java_executable()
    if java is None:
        raise SparkUnavailable(JAVA_MESSAGE)
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        raise SparkUnavailable(JAVA_MESSAGE) from None
    major = java_major(out.stderr + out.stdout)
    if major is None or major < MIN_JAVA:
        raise SparkUnavailable(JAVA_MESSAGE)


def session_conf(sp: dict) -> dict[str, str]:
    """The Spark configuration of a riskclass session from params.yaml ``spark``."""
    log4j = resources.files("riskclass") / "resources" / "spark" / "log4j2.properties"
    java_opts = f"-Dlog4j.configurationFile=file:{Path(str(log4j)).as_posix()}"
    return {
        "spark.master": sp["master"],
        "spark.driver.memory": sp["driver_memory"],
        "spark.sql.shuffle.partitions": str(sp["shuffle_partitions"]),
        "spark.sql.execution.arrow.maxRecordsPerBatch": str(sp["arrow_batch_size"]),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # dates are day numbers counted in UTC, as DuckDB does; timestamps without zone stay without zone
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
        "spark.driver.extraJavaOptions": java_opts,
        "spark.executor.extraJavaOptions": java_opts,
    }


def session(sp: dict, app_name: str = "riskclass"):
    """The SparkSession for params.yaml ``spark`` (an existing one is reused: one JVM per process).

    Under ``spark-submit`` the submit command's master, driver memory and Python (``spark.pyspark.python``) are
    kept; params.yaml gives the rest.
    """
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ  # under spark-submit: the JVM runs, its options decide
    conf = session_conf(sp)
    if submitted:
        for key in ("spark.master", "spark.driver.memory", "spark.driver.extraJavaOptions"):
            conf.pop(key)
    else:
        check_java()
        # without it the workers start the system python, which has neither pyarrow nor riskclass
        os.environ["PYSPARK_PYTHON"] = sys.executable
        os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
