"""The monthly classification: every market entity alive at the month end gets a score, a class A–D
(before and after overrides), the override that fired, its top reasons and the model version.

Outputs under ``classify.out_dir`` (kept across months):

- ``<YYYY-MM>.parquet``         the month's classes (one row per entity, sorted by USCC);
- ``history.parquet``          every month classified so far (what was this entity's class, and why);
- ``reports/<YYYY-MM>.json``   summary: shares, transitions, overrides, by district / section / type;
- ``reports/<YYYY-MM>.html``   the readable report (Chinese);
- ``manifests/<YYYY-MM>.json`` the audit manifest, chained to the previous month's (see audit.py).

Every file is written to a scratch name and renamed into place, so an interrupted run leaves the
previous results intact; the same inputs, code and model give identical bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from riskclass.classify.overrides import apply_overrides, validate_rules
from riskclass.classify.reasons import top_reasons
from riskclass.classify.report import render_html, summarise
from riskclass.indicators import load_catalog, load_month
from riskclass.indicators.builder import build_one
from riskclass.io import atomic_parquet, atomic_write_bytes
from riskclass.model.risk_model import RiskModel
from riskclass.model.scoring import CLASSES

REASON_CHUNK = 100_000
RESULT_COLUMNS = [
    "uscc",
    "month",
    "score",
    "probability",
    "model_class",
    "class",
    "override",
    "reason_1",
    "reason_2",
    "reason_3",
    "reason_codes",
    "model_version",
    "district",
    "section",
    "entity_type",
]


def assign_classes(frame: pd.DataFrame, model: RiskModel, overrides: list[dict]):
    """Score and class one month's indicators: (probability, score, model class, final class, override)."""
    prob, score, model_class = model.scored(frame)
    final, fired = apply_overrides(frame, model_class, overrides)
    return prob, score, model_class, final, fired


def classify_frame(frame: pd.DataFrame, model: RiskModel, p: dict, month: str, catalog) -> pd.DataFrame:
    cp = p["classify"]
    validate_rules(cp["overrides"], set(catalog.codes))
    prob, score, model_class, final, fired = assign_classes(frame, model, cp["overrides"])
    # SHAP values are n × indicators doubles: compute them in slices to bound memory
    reasons = pd.concat(
        [
            top_reasons(model.contributions(part), part, catalog, cp["reasons"])
            for part in (frame.iloc[i : i + REASON_CHUNK] for i in range(0, len(frame), REASON_CHUNK))
        ]
    )
    entity_type = np.select(
        [frame["BAS.TYPE.enterprise"] == 1, frame["BAS.TYPE.individual"] == 1],
        ["enterprise", "individual"],
        "cooperative",
    )
    out = pd.DataFrame(
        {
            "uscc": frame["uscc"].to_numpy(),
            "month": month,
            "score": score,
            "probability": np.round(prob, 8),
            "model_class": model_class,
            "class": final,
            "override": fired,
            **{c: reasons[c].to_numpy() for c in reasons.columns},
            "model_version": str(model.info.get("registered_version", "")),
            "district": frame["BAS.IND.division"].to_numpy(),
            "section": frame["BAS.IND.section"].to_numpy(),
            "entity_type": entity_type,
        }
    )
    for j in range(cp["reasons"] + 1, 4):  # the contract keeps three reason columns
        out[f"reason_{j}"] = ""
    return out[RESULT_COLUMNS].sort_values("uscc").reset_index(drop=True)


def previous_month(month: str) -> str:
    return str(pd.Period(month, freq="M") - 1)


def next_month(month: str) -> str:
    return str(pd.Period(month, freq="M") + 1)


def classify_month(p: dict, month: str, out_dir: Path | None = None, model_dir: Path | None = None) -> dict:
    """Classify ``month`` and write its results, summary, report and manifest; return the summary."""
    from riskclass.classify.audit import write_manifest

    cp = p["classify"]
    out_dir = Path(out_dir or cp["out_dir"])
    model_dir = Path(model_dir or cp["model_dir"])
    catalog = load_catalog(p["features"]["catalog"])
    model = RiskModel.load(model_dir)
    if model.catalog_sha256 != catalog.sha256:
        raise ValueError(
            f"the model in {model_dir} was trained on indicator catalog {model.catalog_sha256[:12]}, "
            f"not the current {catalog.sha256[:12]}: retrain or restore the catalog"
        )
    features_dir = Path(cp["features_dir"])
    build_one(
        Path(p["features"]["validated_dir"]),
        catalog,
        month,
        features_dir,
        memory_limit=p["features"]["memory_limit"],
        threads=p["features"]["threads"],
        feedback_dir=Path(p["features"]["feedback_dir"]),
    )
    frame = load_month(features_dir, month)
    result = classify_frame(frame, model, p, month, catalog)
    prev_path = out_dir / f"{previous_month(month)}.parquet"
    previous = pd.read_parquet(prev_path) if prev_path.exists() else None
    summary = summarise(result, previous, cp["overrides"], {i.code: i.name_zh for i in catalog.indicators})

    atomic_parquet(result, out_dir / f"{month}.parquet")
    atomic_write_bytes(
        out_dir / "reports" / f"{month}.json",
        (json.dumps(summary, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8"),
    )
    atomic_write_bytes(out_dir / "reports" / f"{month}.html", render_html(summary).encode("utf-8"))
    update_history(out_dir)
    write_manifest(p, month, out_dir, model_dir, catalog)
    return summary


def update_history(out_dir: Path) -> None:
    """history.parquet = every month file, concatenated in month order (derived, rebuilt each run)."""
    months = sorted(f.stem for f in out_dir.glob("[0-9][0-9][0-9][0-9]-[0-9][0-9].parquet"))
    frames = [
        pd.read_parquet(
            out_dir / f"{m}.parquet",
            columns=[
                "uscc",
                "month",
                "score",
                "class",
                "model_class",
                "override",
                "reason_1",
                "reason_2",
                "reason_3",
                "model_version",
            ],
        )
        for m in months
    ]
    if frames:
        atomic_parquet(pd.concat(frames, ignore_index=True), out_dir / "history.parquet")


def entity_history(out_dir: Path, uscc: str) -> pd.DataFrame:
    h = pd.read_parquet(Path(out_dir) / "history.parquet")
    return h[h["uscc"] == uscc].sort_values("month").reset_index(drop=True)


__all__ = ["CLASSES", "classify_month", "entity_history"]
