"""Loading what a plan is drawn from: the month's classes, indicators, item list, inspectors, inspections."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from riskclass.inspections import load_inspections
from riskclass.io import sha256_file
from riskclass.periods import previous_month
from riskclass.plan import strata
from riskclass.plan.planner import PlanError, PlanInputs, plan_dates
from riskclass.records import RecordStore

DOMAIN_INDICATORS = {"food": "BAS.DOM.food", "drug": "BAS.DOM.drug", "special_equipment": "BAS.DOM.special_equipment"}


def _planning_table(validated: Path, name: str) -> pd.DataFrame:
    path = validated / f"{name}.parquet"
    if not path.exists():
        raise PlanError(
            f"{path}: not supplied — put {name}.csv in the raw snapshot (see docs/data-contract.md) and re-run ingest"
        )
    return pd.read_parquet(path)


def quarantined_conflicts(validated: Path) -> pd.DataFrame:
    """Conflict declarations that failed validation still bind: a malformed date or reason code does not
    make an inspector fit to inspect the entity. Every quarantined row that names an inspector and an
    entity is honoured as a conflict."""
    path = validated / "quarantine.parquet"
    if not path.exists():
        return pd.DataFrame({"inspector_id": [], "uscc": []}, dtype=object)
    q = pd.read_parquet(path, columns=["table", "record"])
    records = [json.loads(r) for r in q.loc[q["table"] == "inspector_conflicts", "record"].drop_duplicates()]
    pairs = [(r.get("inspector_id", ""), r.get("uscc", "")) for r in records]
    return pd.DataFrame([p for p in pairs if p[0] and p[1]], columns=["inspector_id", "uscc"], dtype=object)


def load_inputs(p: dict, month: str) -> PlanInputs:
    pp, fp = p["plan"], p["features"]
    classes_month = previous_month(month)  # a plan draws on the classes of the month before
    record = RecordStore(p["classify"]["records_dir"]).current(classes_month)
    if record is None:
        raise PlanError(f"a plan for {month} needs the sealed classes of {classes_month} (riskclass classify)")
    classes_path, features_path = record.classes_path, record.features_path
    validated = Path(fp["validated_dir"])
    indicator_columns = sorted(
        set(DOMAIN_INDICATORS.values()) | {c["indicator"] for d in pp.get("directed", []) for c in d.get("where", [])}
    )
    # the probability behind the score: sub-band strata (plan/strata.py)
    columns = ["uscc", "score", strata.RISK_COLUMN, "class", "district", "section", "entity_type"]
    classes = pd.read_parquet(classes_path, columns=columns)
    features = pd.read_parquet(features_path, columns=["uscc", *indicator_columns])
    names = pd.read_parquet(validated / "entities.parquet", columns=["uscc", "name"])
    entities = classes.merge(features, on="uscc", how="left").merge(names, on="uscc", how="left")
    for domain, code in DOMAIN_INDICATORS.items():
        entities[domain] = entities[code].fillna(0).astype(bool)
    items = _planning_table(validated, "check_items")
    items = items[items["active"]].sort_values("item_id", ignore_index=True)
    inspectors = _planning_table(validated, "inspectors").sort_values("inspector_id", ignore_index=True)
    conflicts = pd.concat(
        [_planning_table(validated, "inspector_conflicts")[["inspector_id", "uscc"]], quarantined_conflicts(validated)],
        ignore_index=True,
    ).drop_duplicates(ignore_index=True)
    # only what was known before the plan starts: later results (e.g. this plan's own) change nothing
    start, _ = plan_dates(pp, month)
    inspections = load_inspections(validated, Path(fp["feedback_dir"]))
    inspections = inspections[inspections["inspection_date"] < start].reset_index(drop=True)
    sources = {
        str(path): sha256_file(path)
        for path in [
            classes_path,
            features_path,
            *(validated / f"{t}.parquet" for t in ("check_items", "inspectors", "inspector_conflicts")),
        ]
    }
    sources[f"inspections before {start.date()} (snapshot + feedback)"] = frame_sha256(inspections)
    return PlanInputs(
        month=month,
        classes_month=classes_month,
        entities=entities,
        items=items,
        inspectors=inspectors,
        conflicts=conflicts,
        inspections=inspections,
        sources=sources,
    )


def frame_sha256(frame: pd.DataFrame) -> str:
    """Content hash of a frame (row order included), independent of the files it came from."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes() + ",".join(frame.columns).encode()).hexdigest()
