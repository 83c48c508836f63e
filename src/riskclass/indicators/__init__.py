"""Indicator system (指标体系): catalog, point-in-time builder, monthly report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from riskclass.indicators.builder import build, load_month, month_columns
from riskclass.indicators.catalog import Catalog, CatalogError, load_catalog
from riskclass.indicators.report import summarise, to_html
from riskclass.io import write_json
from riskclass.periods import months_between

__all__ = ["Catalog", "CatalogError", "build", "load_catalog", "load_month", "months_between", "run"]


def run(
    fp: dict,
    month: str,
    panel_from: str | None = None,
    reports_dir: Path = Path("reports"),
    progress=None,
    engine=None,
) -> tuple[dict, pd.DataFrame]:
    """Build indicators for ``panel_from``…``month`` and write the month's report.

    Only those months are (re)written; other months already in ``fp["out_dir"]`` stay in place.
    ``fp`` is the ``features`` section of params.yaml. Returns the build manifest (every month present
    in the folder) and the summary. ``engine``: DuckDB unless given (``riskclass.spark.SparkEngine``).
    """
    catalog = load_catalog(fp["catalog"])
    months = months_between(panel_from or month, month)
    manifest = build(
        Path(fp["validated_dir"]),
        catalog,
        months,
        Path(fp["out_dir"]),
        memory_limit=fp["memory_limit"],
        threads=fp["threads"],
        slice_entities=fp["slice_entities"],
        progress=progress,
        feedback_dir=Path(fp["feedback_dir"]),
        engine=engine,
    )
    columns = month_columns(Path(fp["out_dir"]), month)  # a column at a time: the month may not fit as a frame
    summary = summarise(columns, catalog)
    reports_dir.mkdir(parents=True, exist_ok=True)
    (reports_dir / "indicator_report.html").write_text(to_html(summary, month, catalog, len(columns)), encoding="utf-8")
    write_json(
        {
            "month": month,
            "entities": len(columns),
            "indicators": len(catalog.indicators),
            "catalog_sha256": catalog.sha256,
            "mean_coverage": round(float(summary["coverage"].mean()), 4),
            "indicators_all_default": int((summary["coverage"] == 0).sum()),
            "max_missing_share": round(float(summary["missing_share"].max()), 4),
        },
        reports_dir / "indicator_summary.json",
    )
    return manifest, summary
