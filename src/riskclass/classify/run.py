"""The monthly classification run: classify one month into a new sealed record.

``classify_month`` holds the store's lock, checks the period, builds the month's indicators, scores
every entity with the champion (copied into the records' model store), writes classes, report,
parameters, catalog, stability (monitor/stability.py) and manifest into a staging folder and seals
it (records/store.py). A month already sealed is never recomputed by a plain run: the run reports the
sealed record and changes
nothing, so re-running the pipeline, a promotion or a new snapshot leaves history intact. A
deliberate re-classification is a ``revision`` (a new revision of a sealed month, with a reason); a
month earlier than the latest sealed one is a ``backfill`` (with a reason).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from riskclass import domains
from riskclass.classify.audit import build_manifest, input_files, write_manifest
from riskclass.classify.outputs import used_params, write_outputs, write_stability
from riskclass.indicators import load_catalog
from riskclass.indicators.builder import build_one
from riskclass.io import sha256_file
from riskclass.model.risk_model import RiskModel
from riskclass.periods import add_months, check_in_window, previous_month, snapshot_date
from riskclass.records import Record, RecordError, RecordStore, exclusive


@dataclass
class Outcome:
    record: Record
    sealed_now: bool  # False: the month was already sealed and nothing was written
    summary: dict


def store_for(p: dict) -> RecordStore:
    return RecordStore(p["classify"]["records_dir"])


def check_request(store: RecordStore, month: str, kind: str, reason: str) -> Record | None:
    """Refuse what a run of ``kind`` may not do to ``month``; return the sealed record when nothing is to be done."""
    existing = store.current(month)
    latest = store.latest_month()
    if kind in ("revision", "backfill") and not reason.strip():
        raise RecordError(f"a {kind} needs a reason (--reason): it is recorded in the ledger and the manifest")
    if kind == "revision":
        if existing is None:
            raise RecordError(f"{month} has no sealed record to revise; classify it first")
        return None
    if existing is not None:
        if kind == "backfill":
            raise RecordError(f"{month} is sealed already ({existing.label}): a correction is a revision (--revise)")
        return existing
    if kind == "backfill":
        if latest is None or month > latest:
            raise RecordError(f"{month} is not earlier than the latest sealed month ({latest}): classify it normally")
        return None
    if latest is not None and month < latest:
        raise RecordError(
            f"{month} is earlier than the latest sealed month {latest}: classifying it is a back-fill "
            f"(riskclass classify --month {month} --backfill --reason …), recorded as such"
        )
    return None


def classify_month(
    p: dict, month: str, kind: str = "monthly", reason: str = "", by: str = "pipeline", engine=None, classifier=None
) -> Outcome:
    """Seal ``month`` (or a revision / back-fill of it); a sealed month is left as it is by a plain run.

    ``engine`` builds the indicators (``builder.build``; DuckDB unless given) and ``classifier`` scores them
    (``classify_frame`` unless given): ``riskclass classify --engine spark`` passes Spark's, which give the same
    record.
    """
    store = store_for(p)
    with exclusive(store.root, f"classify {month} ({kind})"):
        store.root.mkdir(parents=True, exist_ok=True)
        store.recover()
        fp, cp = p["features"], p["classify"]
        check_in_window(month, cp["first_month"], snapshot_date(Path(fp["validated_dir"])))
        existing = check_request(store, month, kind, reason)
        if existing is not None:
            return Outcome(existing, False, json.loads((existing.path / "report.json").read_text(encoding="utf-8")))
        staging = store.new_staging(month)
        try:
            summary, record = _classify_into(p, store, month, kind, reason, by, staging, engine, classifier)
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # gone after a successful seal (renamed) or a failure
        write_head(store, Path(cp["head_file"]))
        return Outcome(record, True, summary)


def classify_with_history(p: dict, month: str) -> list[Outcome]:
    """The pipeline's classification of ``month``: on an empty store the ``classify.initial_history_months``
    months ending at ``month`` are sealed first, oldest first (not before ``classify.first_month``), so that the
    month-over-month comparisons, monitoring and back-testing have a history from the first run on.

    Each month is an ordinary monthly record (its indicators as of its own month end, from today's snapshot);
    the ledger says why they were sealed together. Once the store holds a month this is ``classify_month``.
    """
    store = store_for(p)
    months = [month]
    if not store.sealed_months():
        history = [add_months(month, -k) for k in range(p["classify"]["initial_history_months"] - 1, -1, -1)]
        months = [m for m in history[:-1] if m >= p["classify"]["first_month"]] + [month]
    reason = f"initial history: the first run of an empty store seals {months[0]}…{month}" if len(months) > 1 else ""
    return [classify_month(p, m, "monthly", reason if m != month else "") for m in months]


def _classify_into(
    p: dict, store: RecordStore, month: str, kind: str, reason: str, by: str, staging: Path, engine, classifier
) -> tuple[dict, Record]:
    fp, cp = p["features"], p["classify"]
    catalog_path = Path(fp["catalog"])
    catalog = load_catalog(catalog_path)
    model_id, model_files = store.store_model(Path(cp["model_dir"]))
    model = RiskModel.load(store.model_path(model_id))
    if model.catalog_sha256 != catalog.sha256:
        raise ValueError(
            f"the champion in {cp['model_dir']} was trained on indicator catalog {model.catalog_sha256[:12]}, "
            f"not the current {catalog.sha256[:12]}: retrain or restore the catalog"
        )
    inputs = {name: sha256_file(path) for name, path in input_files(p).items()}
    built = build_one(
        Path(fp["validated_dir"]),
        catalog,
        month,
        staging / "indicators",
        memory_limit=fp["memory_limit"],
        threads=fp["threads"],
        slice_entities=fp["slice_entities"],
        feedback_dir=Path(fp["feedback_dir"]),
        engine=engine,
    )
    built.rename(staging / "features.parquet")
    (staging / "indicators").rmdir()
    shutil.copyfile(catalog_path, staging / "indicators.yaml")
    previous = store.current(previous_month(month))
    params = used_params(p)
    features = staging / "features.parquet"  # read in chunks and columns: a large month does not fit as a frame
    summary = write_outputs(
        staging,
        features,
        model,
        params,
        month,
        catalog,
        pd.read_parquet(previous.classes_path) if previous else None,
        **({"classifier": classifier} if classifier else {}),
    )
    write_stability(staging, month, features, model, params, previous)
    domain_sources = _domain_grades(staging, Path(fp["validated_dir"]), month, features)
    revision = store.next_revision(month)
    manifest = build_manifest(
        staging,
        month=month,
        revision=revision,
        kind=kind,
        reason=reason,
        inputs=inputs,
        model={
            "id": model_id,
            "name": p["registry"]["model_name"],
            "version": str(model.info.get("registered_version", "")),
            "files": model_files,
        },
        params=params,
        catalog_sha256=catalog.sha256,
        previous=previous,
        domain_sources=domain_sources,
    )
    write_manifest(staging, manifest)
    return summary, store.seal(month, staging, kind, reason, by)


def _domain_grades(staging: Path, validated: Path, month: str, features: Path) -> dict[str, str]:
    """通用+专业: seal the month's domain inputs and grades (from the same snapshot and the classes just computed);
    return the hashes of the validated files they were read from."""
    domains.seal_inputs(staging, validated, month, features)
    domains.write_grades(staging, month)
    return {name: sha256_file(path) for name, path in domains.source_files(validated).items()}


def write_head(store: RecordStore, path: Path) -> None:
    """The ledger's last line, for the scheduled run to commit to git (an anchor outside the data)."""
    entries = store.ledger()
    if not entries:
        return
    last = entries[-1]
    head = {k: last[k] for k in ("seq", "month", "revision", "entry_sha256", "anchor")}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(head, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def entity_history(p: dict, uscc: str) -> pd.DataFrame:
    store = store_for(p)
    h = pd.read_parquet(store.history_path) if store.history_path.exists() else store.history_frame()
    return h[h["uscc"] == uscc].sort_values("month").reset_index(drop=True)
