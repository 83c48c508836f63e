"""What a classified month contains, computed from its inputs alone: classes, reasons, summary, report.

Pure with respect to its arguments (an indicator snapshot, a model, the classification parameters,
the indicator catalog and the previous month's classes), so that the monthly run and the audit's
reproduction call the same code and must produce the same bytes.

Record files written here (the manifest is added by the audit module):

- ``classes.parquet``  one row per entity: score, probability, model class, final class, override,
  top reasons, model version, district, section, entity type (sorted by USCC);
- ``report.json`` / ``report.html``  shares, transitions, overrides, by district / section / type;
- ``params.json``  the classification parameters used (score bands, overrides, reasons, stability reading);
- ``stability.json``  PSI of the score and CSI per indicator against the model's reference profile and
  the previous sealed month, and the month's verdict (``write_stability``; monitor/stability.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from riskclass import codes
from riskclass.classify.overrides import apply_overrides, validate_rules
from riskclass.classify.reasons import top_reasons
from riskclass.classify.report import render_html, summarise
from riskclass.io import write_parquet
from riskclass.model.risk_model import RiskModel
from riskclass.model.scoring import classes_from_scores, score_from_probability
from riskclass.monitor.stability import STABILITY_FILE, month_stability, sealed_month_frames
from riskclass.records import Record

REASON_CHUNK = 100_000  # entities per batch of CatBoost's ShapValues in records sealed before the leaf tables
CLASSIFY_CHUNK = 200_000  # entities scored at a time: the model's input copy and the contributions stay bounded
# how the reasons' contributions are computed (params.json of a record; absent: CatBoost's ShapValues in batches)
CONTRIBUTIONS = "leaf-tables"
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
OUTPUT_FILES = ("classes.parquet", "report.json", "report.html", "params.json")


def used_params(p: dict) -> dict:
    """The parameters a classification depends on: recorded in the record and hashed in its manifest."""
    return {
        "reasons": p["classify"]["reasons"],
        "overrides": p["classify"]["overrides"],
        "bands": p["score"]["bands"],
        # bands of the entity types that have their own (absent when none has: older records stay as they were)
        **({"bands_by_type": p["score"]["bands_by_type"]} if p["score"].get("bands_by_type") else {}),
        "anchor_probability": p["score"]["anchor_probability"],
        "pdo": p["score"]["pdo"],
        "contributions": CONTRIBUTIONS,
        # how the month's stability is read (stability.json): bins for a model without a profile, thresholds
        "monitor": {**p["monitor"]["profile"], **p["monitor"]["stability"]},
    }


def check_score_mapping(model: RiskModel, params: dict) -> None:
    """The probability→score mapping belongs to the model; params.yaml must agree or the change waits for a retrain.

    The class bands are a policy and come from params.yaml (recorded per month); a change of anchor
    or pdo would silently change what every score means, so it is refused until a model trained with
    it is promoted.
    """
    for key in ("anchor_probability", "pdo"):
        if float(model.score_params[key]) != float(params[key]):
            raise ValueError(
                f"params score.{key} = {params[key]} but the champion maps scores with {model.score_params[key]}: "
                "a new score mapping takes effect with a model trained on it (retrain and promote), "
                "or restore the value"
            )


def assign_classes(
    frame: pd.DataFrame, model: RiskModel, overrides: list[dict], bands: dict, bands_by_type: dict | None = None
):
    """Score and class one month's indicators: (probability, score, model class, final class, override); an
    entity type listed in ``bands_by_type`` is classed on its own bands."""
    probability = model.probability(frame)
    sp = model.score_params
    score = score_from_probability(probability, sp["anchor_probability"], sp["pdo"])
    model_class = classes_from_scores(score, bands, codes.entity_types_of(frame), bands_by_type)
    final, fired = apply_overrides(frame, model_class, overrides)
    return probability, score, model_class, final, fired


def classify_frame(features: pd.DataFrame | Path, model: RiskModel, params: dict, month: str, catalog) -> pd.DataFrame:
    """The month's classes of the indicator snapshot (sorted by USCC): every column of ``RESULT_COLUMNS``.

    ``features``: the snapshot as a frame, or the path of its Parquet file, then read ``CLASSIFY_CHUNK`` rows at a
    time (a 5 M-entity month is ≈ 5 GB as one frame); each row's result depends on that row alone."""
    validate_rules(params["overrides"], set(catalog.codes))
    if params.get("contributions") != CONTRIBUTIONS:  # a record sealed before the leaf tables: its own batches
        frame = pd.read_parquet(features) if isinstance(features, str | Path) else features
        return _legacy_classify_frame(frame, model, params, month, catalog)
    if isinstance(features, str | Path):
        batches = pq.ParquetFile(features).iter_batches(batch_size=CLASSIFY_CHUNK)
        chunks = (pa.Table.from_batches([b]).to_pandas() for b in batches)
    else:
        chunks = (features.iloc[i : i + CLASSIFY_CHUNK] for i in range(0, len(features), CLASSIFY_CHUNK))
    parts = [classify_part(chunk, model, params, month, catalog) for chunk in chunks]
    if not parts:  # no entity: the empty result with its columns
        empty = pq.read_table(features).to_pandas() if isinstance(features, str | Path) else features
        return classify_part(empty, model, params, month, catalog)
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values("uscc", kind="stable").reset_index(drop=True)


def classify_part(part: pd.DataFrame, model: RiskModel, params: dict, month: str, catalog) -> pd.DataFrame:
    """Classes, overrides and reasons of any subset of a month's entities: each row depends on its own indicators
    and the model alone, so a chunk here and a Spark partition give the rows the whole month gives."""
    prob, score, model_class, final, fired = assign_classes(
        part, model, params["overrides"], params["bands"], params.get("bands_by_type")
    )
    reasons = top_reasons(model.contributions(part), part, catalog, params["reasons"])
    return _result(part, model, params, month, prob, score, model_class, final, fired, reasons)


def _result(frame, model, params, month, prob, score, model_class, final, fired, reasons) -> pd.DataFrame:
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
            "entity_type": codes.entity_types_of(frame),
        }
    )
    for j in range(params["reasons"] + 1, 4):  # the contract keeps three reason columns
        out[f"reason_{j}"] = ""
    return out[RESULT_COLUMNS]


def _legacy_classify_frame(frame: pd.DataFrame, model: RiskModel, params: dict, month: str, catalog) -> pd.DataFrame:
    """How records sealed before the leaf tables were classified (reproduced by the audit byte for byte)."""
    prob, score, model_class, final, fired = assign_classes(
        frame, model, params["overrides"], params["bands"], params.get("bands_by_type")
    )
    reasons = pd.concat(
        [
            top_reasons(model.catboost_contributions(part), part, catalog, params["reasons"])
            for part in (frame.iloc[i : i + REASON_CHUNK] for i in range(0, len(frame), REASON_CHUNK))
        ]
    )
    out = _result(frame, model, params, month, prob, score, model_class, final, fired, reasons)
    return out.sort_values("uscc").reset_index(drop=True)


def write_stability(
    folder: Path, month: str, features: pd.DataFrame | Path, model: RiskModel, params: dict, previous: Record | None
) -> dict | None:
    """Write ``stability.json`` for the classes already in ``folder``; None when ``params`` predate monitoring.

    ``previous``: the previous month's sealed record (its indicator snapshot and scores are compared too).
    """
    if "monitor" not in params:  # a record sealed before monitoring existed: it has no stability.json
        return None
    scores = pd.read_parquet(Path(folder) / "classes.parquet", columns=["uscc", "score"])
    before = sealed_month_frames(previous)
    result = month_stability(month, features, scores, model, model.profile, params["monitor"], before)
    (Path(folder) / STABILITY_FILE).write_bytes(_json_bytes(result))
    return result


def _json_bytes(obj) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def write_outputs(
    folder: Path,
    features: pd.DataFrame | Path,
    model: RiskModel,
    params: dict,
    month: str,
    catalog,
    previous: pd.DataFrame | None,
    classifier=classify_frame,
) -> dict:
    """Write the month's classes, summary, report and parameters into ``folder``; return the summary.

    ``classifier``: ``classify_frame`` or a function with its signature and result that computes it elsewhere
    (``riskclass.spark.scoring.spark_classifier``: the same function on each Spark partition). ``features``: the
    indicator snapshot as a frame or the path of its Parquet file (read in chunks).
    """
    check_score_mapping(model, params)
    result = classifier(features, model, params, month, catalog)
    summary = summarise(result, previous, params["overrides"], {i.code: i.name_zh for i in catalog.indicators})
    folder = Path(folder)
    write_parquet(result, folder / "classes.parquet")
    (folder / "report.json").write_bytes(_json_bytes(summary))
    (folder / "report.html").write_bytes(render_html(summary).encode("utf-8"))
    (folder / "params.json").write_bytes(_json_bytes(params))
    return summary
