"""Evidently drift reports (HTML for people). Every Evidently call of the project is in this module: its API
has changed several times, and the figures the project keeps and decides on are its own (stability.py).

A report compares a month's sampled rows with a reference's: the model's top indicators (drift per column,
PSI), the score (PSI) and the class (PSI on the class shares). Rows are sampled with a fixed seed after
sorting by USCC, so the same inputs sample the same rows.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from riskclass.monitor.stability import SCORE

CLASS = "class"


def sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """At most ``rows`` rows of ``frame``, the same ones for the same input (the HTML embeds the data)."""
    frame = frame.sort_values("uscc").reset_index(drop=True)
    return frame if len(frame) <= rows else frame.sample(rows, random_state=seed).sort_values("uscc")


def drift_report(
    current: pd.DataFrame,
    reference: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    path: Path,
    title: str,
) -> dict[str, float]:
    """Write the Evidently report of ``current`` against ``reference`` to ``path``; return Evidently's PSI per
    column (the indicators in ``numeric`` / ``categorical``, the score and the class)."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset

    numeric, categorical = [*numeric, SCORE], [*categorical, CLASS]
    columns = numeric + categorical
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)

    def dataset(frame: pd.DataFrame) -> Dataset:
        data = frame[columns].copy()
        for c in categorical:
            data[c] = data[c].astype(str)
        return Dataset.from_pandas(data, data_definition=definition)

    report = Report(
        [
            ValueDrift(column=SCORE, method="psi"),
            ValueDrift(column=CLASS, method="psi"),
            DataDriftPreset(columns=columns, method="psi"),
        ],
        metadata={"title": title},
    )
    snapshot = report.run(current_data=dataset(current), reference_data=dataset(reference))
    path.parent.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(path))
    values = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift") and isinstance(metric["value"], (int, float)):
            values[config["column"]] = round(float(metric["value"]), 6)
    return dict(sorted(values.items()))
