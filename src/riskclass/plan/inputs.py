"""Loading what a plan is drawn from: the month's classes, indicators, item list, inspectors, inspections."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from riskclass.early_warning.fire import warnings_path
from riskclass.inspections import load_inspections
from riskclass.io import sha256_file
from riskclass.periods import previous_month
from riskclass.plan import strata
from riskclass.plan.planner import PlanError, PlanInputs, plan_dates
from riskclass.records import RecordStore
from riskclass.triggers.roster import ON_ROSTER
from riskclass.triggers.run import read_month, roster_path, triggers_path
from riskclass.triggers.sources import triggered_entities

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


def warning_flags(p: dict, classes_month: str, uscc: pd.Series) -> tuple[pd.DataFrame, dict[str, str]]:
    """One 0/1 column per warning code a directed draw names: the entity has that warning in the classes month.

    Read from the classes month's warnings file (stage ``warnings``); its manifest lists the catalog's codes, so a
    code the catalog does not have is refused rather than drawing from nobody."""
    codes = sorted({d["warning"] for d in p["plan"].get("directed", []) if d.get("warning")})
    if not codes:
        return pd.DataFrame(index=uscc.index), {}
    path = warnings_path(p["warnings"]["out_dir"], classes_month)
    manifest_path = path.with_suffix(".json")
    if not path.exists() or not manifest_path.exists():
        raise PlanError(
            f"{path}: missing — directed draws by warning ({', '.join(codes)}) need the warnings of {classes_month} "
            f"(riskclass warnings --month {classes_month})"
        )
    known = set(json.loads(manifest_path.read_text(encoding="utf-8"))["counts"])
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise PlanError(f"plan.directed names warning code(s) {unknown} that {path} (warnings.yaml) does not have")
    fired = pd.read_parquet(path, columns=["uscc", "code"])
    flags = pd.DataFrame({c: uscc.isin(fired.loc[fired["code"] == c, "uscc"]).astype(float) for c in codes})
    return flags, {str(path): sha256_file(path)}


def roster_flags(p: dict, classes_month: str, uscc: pd.Series) -> tuple[pd.DataFrame, dict[str, str]]:
    """``on_roster`` and ``triggered_by`` per entity from the roster of the classes month (stage ``roster``).

    With trigger-based supervision on, a missing roster is refused: drawing roster entities into general items
    (or forgetting their triggers) silently would break the bureau's commitment either way."""
    if not p["triggers"]["enabled"]:
        return pd.DataFrame(index=uscc.index), {}
    out_dir = p["triggers"]["out_dir"]
    stored = read_month(out_dir, classes_month)
    if stored is None:
        raise PlanError(
            f"{roster_path(out_dir, classes_month)}: missing — trigger-based supervision (triggers.enabled) needs "
            f"the roster of {classes_month} (riskclass roster --month {classes_month})"
        )
    rows, triggers = stored
    fired = triggered_entities(triggers).set_index("uscc")["triggered_by"]
    flags = pd.DataFrame(
        {
            "on_roster": uscc.isin(rows.loc[rows["status"].isin(ON_ROSTER), "uscc"]).to_numpy(),
            "triggered_by": uscc.map(fired).fillna("").to_numpy(dtype=object),
        },
        index=uscc.index,
    )
    paths = [roster_path(out_dir, classes_month), triggers_path(out_dir, classes_month)]
    return flags, {str(path): sha256_file(path) for path in paths}


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
    flags, warning_sources = warning_flags(p, classes_month, entities["uscc"])
    roster, roster_sources = roster_flags(p, classes_month, entities["uscc"])
    entities = pd.concat([entities, flags, roster], axis=1)
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
    sources.update(warning_sources)
    sources.update(roster_sources)
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
        triggered_items=list(p["triggers"]["check_items"]) if p["triggers"]["enabled"] else [],
    )


def frame_sha256(frame: pd.DataFrame) -> str:
    """Content hash of a frame (row order included), independent of the files it came from."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes() + ",".join(frame.columns).encode()).hexdigest()
