"""`riskclass monitor --month M`: the month's verdict, its Evidently reports and ``reports/monitoring.json``.

The verdict of a month is the one sealed in its record (``stability.json``, written while classifying). A
record sealed before monitoring existed has none: its stability is computed here from the record alone
(its indicator snapshot, scores and stored model) with today's ``monitor`` parameters, and marked so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from riskclass import codes
from riskclass.indicators import load_month, months_between
from riskclass.io import read_present, write_json
from riskclass.model.risk_model import RiskModel
from riskclass.model.scoring import classes_from_scores
from riskclass.monitor import drift
from riskclass.monitor.stability import COMPARISONS, SCORE, STABILITY_FILE, month_stability, sealed_month_frames
from riskclass.periods import previous_month
from riskclass.records import Record, RecordError, RecordStore

SHIFTED_EXIT = 10  # `riskclass monitor` / `riskclass run`: the month's verdict is "shifted" (docs/operations.md)
SCHEMA = 1


@dataclass
class MonthView:
    record: Record
    model: RiskModel
    stability: dict
    sealed: bool  # stability.json is part of the sealed record (else computed now)


def _model(store: RecordStore, record: Record) -> RiskModel:
    return RiskModel.load(store.model_path(record.manifest["model"]["id"]))


def view(store: RecordStore, record: Record, mp: dict) -> MonthView:
    """The stability of a sealed month: as sealed, or computed now from the record for older records."""
    model = _model(store, record)
    path = record.path / STABILITY_FILE
    if path.exists():
        return MonthView(record, model, json.loads(path.read_text(encoding="utf-8")), True)
    before = sealed_month_frames(store.current(previous_month(record.month)))
    _month, features, scores = sealed_month_frames(record)
    stability = month_stability(record.month, features, scores, model, model.profile, mp, before)
    return MonthView(record, model, stability, False)


def monitor_params(p: dict) -> dict:
    m = p["monitor"]
    return {**m["profile"], **m["stability"]}


def top_indicators(stability: dict, n: int) -> list[str]:
    importance = stability["importance"]
    return sorted(importance, key=lambda k: (-importance[k], k))[:n]


def month_entry(v: MonthView, top: int) -> dict:
    s = v.stability
    classes = read_present(v.record.classes_path, ["class", SCORE, "entity_type"])
    shares = classes["class"].value_counts(normalize=True)
    basis = s.get("basis")
    psi = s["against"].get(basis, {}).get("psi", {}) if basis else {}
    return {
        "month": v.record.month,
        "revision": v.record.revision,
        "stability_source": "record" if v.sealed else "computed (record sealed before monitoring)",
        "basis": basis,
        "decided_by": s.get("decided_by"),
        "verdict": s.get("verdict"),
        "score_psi": s.get("score_psi"),
        "weighted_csi": s.get("weighted_csi"),
        **{f"score_psi_{k}": s["against"].get(k, {}).get("psi", {}).get(SCORE) for k in COMPARISONS},
        **{f"weighted_csi_{k}": s["against"].get(k, {}).get("weighted_csi") for k in COMPARISONS},
        **{f"verdict_{k}": s["against"].get(k, {}).get("verdict") for k in COMPARISONS},
        "responsible": [r["indicator"] for r in s.get("responsible", [])],
        "indicator_psi": {k: psi[k] for k in top_indicators(s, top) if k in psi},
        "class_shares": {c: round(float(shares.get(c, 0.0)), 6) for c in "ABCD"},
        "by_entity_type": by_entity_type(classes),
    }


def by_entity_type(classes: pd.DataFrame) -> dict:
    """Per entity type of a month's classes: entities, mean score and class shares (empty without a type)."""
    if "entity_type" not in classes.columns:
        return {}
    out = {}
    for t, d in classes.groupby("entity_type", sort=True):
        shares = d["class"].value_counts(normalize=True)
        out[str(t)] = {
            "n": len(d),
            "mean_score": round(float(d[SCORE].mean()), 2),
            "class_shares": {c: round(float(shares.get(c, 0.0)), 6) for c in "ABCD"},
        }
    return out


def monitoring_summary(p: dict) -> dict:
    """Every sealed month's verdict, score PSI, top indicators' PSI, class shares, and per entity type the
    entities, mean score and class shares (monitoring.json)."""
    store = RecordStore(p["classify"]["records_dir"])
    mp = monitor_params(p)
    top = p["monitor"]["reports"]["top_indicators"]
    months = [month_entry(view(store, store.current(m), mp), top) for m in store.sealed_months()]
    latest = months[-1] if months else None
    return {
        "schema": SCHEMA,
        "thresholds": {k: mp[k] for k in ("watch", "shifted", "responsible_min")},
        "latest": latest
        and {
            "month": latest["month"],
            "verdict": latest["verdict"],
            "shifted": float(latest["verdict"] == "shifted"),
            "score_psi": latest["score_psi"],
            "weighted_csi": latest["weighted_csi"],
        },
        "months": months,
    }


def _frame(record: Record, features: pd.DataFrame | None = None) -> pd.DataFrame:
    features = pd.read_parquet(record.features_path) if features is None else features
    classes = pd.read_parquet(record.classes_path, columns=["uscc", "score", "class"])
    return features.merge(classes, on="uscc", how="inner", validate="one_to_one")


def training_reference(p: dict, record: Record, model: RiskModel) -> pd.DataFrame | None:
    """Rows of the model's training window from ``model.features_dir`` (scored and classed with the record's
    bands), or None when those indicator files are gone."""
    window = (model.profile or {}).get("window") or {}
    months = model.info.get("train_months") or months_between(
        window.get("from", p["model"]["train_from"]), window.get("to", p["model"]["train_to"])
    )
    folder = Path(p["model"]["features_dir"])
    if not all((folder / f"{m}.parquet").exists() for m in months):
        return None
    rp = p["monitor"]["reports"]
    frame = pd.concat([load_month(folder, m) for m in months], ignore_index=True)
    frame = drift.sample(frame, rp["sample_rows"], rp["seed"])
    frame[SCORE] = model.score(frame)
    sealed = json.loads((record.path / "params.json").read_text(encoding="utf-8"))
    types = codes.entity_types_of(frame)
    frame["class"] = classes_from_scores(frame[SCORE].to_numpy(), sealed["bands"], types, sealed.get("bands_by_type"))
    return frame


def write_reports(p: dict, v: MonthView, store: RecordStore) -> list[Path]:
    """The Evidently HTML of the month against its training window and against the previous sealed month."""
    rp = p["monitor"]["reports"]
    out_dir = Path(rp["dir"])
    top = top_indicators(v.stability, rp["top_indicators"])
    numeric = [c for c in top if c in v.model.numeric]
    categorical = [c for c in top if c in v.model.categorical]
    current = drift.sample(_frame(v.record), rp["sample_rows"], rp["seed"])
    month = v.record.month
    written = []
    reference = training_reference(p, v.record, v.model)
    if reference is not None:
        path = out_dir / f"{month}_vs_training.html"
        drift.drift_report(current, reference, numeric, categorical, path, f"{month} 对比训练期 vs training window")
        written.append(path)
    previous = store.current(previous_month(month))
    if previous is not None:
        path = out_dir / f"{month}_vs_previous.html"
        before = drift.sample(_frame(previous), rp["sample_rows"], rp["seed"])
        drift.drift_report(current, before, numeric, categorical, path, f"{month} 对比上月 vs {previous.month}")
        written.append(path)
    return written


def monitor(p: dict, month: str) -> tuple[MonthView, list[Path], dict]:
    """Reports for ``month`` and ``monitoring.json``; (the month's view, HTML files written, summary)."""
    store = RecordStore(p["classify"]["records_dir"])
    record = store.current(month)
    if record is None:
        sealed = ", ".join(store.sealed_months()) or "none"
        raise RecordError(f"{month} has no sealed record in {store.root} (sealed months: {sealed}): classify it first")
    v = view(store, record, monitor_params(p))
    written = write_reports(p, v, store)
    summary = monitoring_summary(p)
    write_json(summary, Path(p["monitor"]["reports"]["metrics"]))
    return v, written, summary


def sealed_verdict(p: dict, month: str) -> str | None:
    """The verdict sealed in ``month``'s record (None: no record, or sealed before monitoring)."""
    record = RecordStore(p["classify"]["records_dir"]).current(month)
    path = record.path / STABILITY_FILE if record else None
    return json.loads(path.read_text(encoding="utf-8")).get("verdict") if path and path.exists() else None
