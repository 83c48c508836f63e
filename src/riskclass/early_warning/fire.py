"""Firing the warning catalog for a sealed month → ``<out_dir>/<M>.parquet``.

Inputs, all read-only: the sealed record of M (``features.parquet``: the indicator snapshot; ``classes.parquet``:
class and score), the records of M − 1 and M − 3 (the ``record`` fields; missing → those clauses never hold)
and the registry's ``address_key`` per entity (validated ``entities.parquet``, the same address the REL.ADDR
indicators group on). Nothing is ever written into a record.

Outputs per month (all deterministic: sorted rows, no timestamps):

* ``<M>.parquet`` — one row per entity × fired warning: uscc, month, code, name_zh, severity, severity_en,
  evidence (JSON object of the catalog's evidence fields, in catalog order), score, class;
  sorted by uscc, code.
* ``addresses/<M>.parquet`` — one row per scored address (≥ ``min_entities`` entities): its entities, component
  shares, score 0–100 and colour; sorted by score (highest first), then address.
* ``<M>.json`` — the inputs' fingerprint and the count per code. A month whose file exists with the same
  fingerprint is left as it is; when an input changed (a revision of a record, an edited catalog, another
  address table) the month is recomputed and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from riskclass.codes import CLASSES
from riskclass.early_warning.catalog import (
    RECORD_FIELDS,
    AddressScoring,
    Clause,
    WarningCatalog,
    column_name,
    load_warning_catalog,
)
from riskclass.indicators.catalog import load_catalog
from riskclass.io import atomic_file, read_present, write_json, write_parquet
from riskclass.periods import add_months, check_month, previous_month
from riskclass.records import RecordStore

CLASS_RANK = {c: rank for rank, c in enumerate(CLASSES)}  # A = 0 … D = 3
OUTPUT_COLUMNS = ["uscc", "month", "code", "name_zh", "severity", "severity_en", "evidence", "score", "class"]
ADDRESS_DIR = "addresses"


class WarningError(ValueError):
    """Warnings cannot be computed as asked (the message names the month, file or rule)."""


def clause_holds(frame: pd.DataFrame, clause: Clause) -> np.ndarray:
    """Rows of ``frame`` where the clause holds; a missing value never does."""
    if clause.column not in frame.columns:
        raise WarningError(f"clause on {clause.source} {clause.field!r}: no column {clause.column!r} in the month")
    values = frame[clause.column]
    ok = values.notna().to_numpy()
    if clause.eq is not None:
        ok &= (values == clause.eq).fillna(False).to_numpy(dtype=bool)
    numeric = pd.to_numeric(values, errors="coerce") if clause.min is not None or clause.max is not None else None
    if clause.min is not None:
        ok &= (numeric >= clause.min).fillna(False).to_numpy(dtype=bool)
    if clause.max is not None:
        ok &= (numeric <= clause.max).fillna(False).to_numpy(dtype=bool)
    return ok


def all_hold(frame: pd.DataFrame, clauses) -> np.ndarray:
    ok = np.ones(len(frame), dtype=bool)
    for clause in clauses:
        ok &= clause_holds(frame, clause)
    return ok


def score_addresses(frame: pd.DataFrame, scoring: AddressScoring) -> pd.DataFrame:
    """Red / yellow / green per address with at least ``min_entities`` of the month's entities.

    ``frame``: one row per entity with ``address_key`` and the components' indicators. Score = 100 × the
    weighted mean of the components' shares (each the share of the address's entities meeting its clauses).
    """
    keyed = frame[frame["address_key"].notna()]
    shares = pd.DataFrame({c.id: all_hold(keyed, c.condition).astype(float) for c in scoring.components})
    shares["address_key"] = keyed["address_key"].to_numpy()
    grouped = shares.groupby("address_key", sort=True)
    table = grouped.mean()
    table.insert(0, "entities", grouped.size())
    table = table[table["entities"] >= scoring.min_entities]
    weights = np.array([c.weight for c in scoring.components])
    score = 100.0 * (table[[c.id for c in scoring.components]].to_numpy() @ weights) / weights.sum()
    table["score"] = np.round(score, 2)
    table["colour"] = np.select(
        [table["score"] >= scoring.red, table["score"] >= scoring.yellow], ["red", "yellow"], "green"
    )
    table = table.reset_index().rename(columns={"address_key": "key"})
    for c in scoring.components:
        table[c.id] = table[c.id].round(4)
    table = table.sort_values(["score", "key"], ascending=[False, True], ignore_index=True)
    return table[["key", "entities", *[c.id for c in scoring.components], "score", "colour"]]


def _record_fields(classes: pd.DataFrame, prev: pd.DataFrame | None, back3: pd.DataFrame | None) -> pd.DataFrame:
    out = classes[["uscc", "score", "probability", "class"]].copy()
    out["class_rank"] = out["class"].map(CLASS_RANK).astype(float)
    prev = prev if prev is not None else pd.DataFrame(columns=["uscc", "score", "class"])
    back3 = back3 if back3 is not None else pd.DataFrame(columns=["uscc", "score"])
    out = out.merge(
        prev[["uscc", "score", "class"]].rename(columns={"score": "score_prev", "class": "class_prev"}),
        on="uscc",
        how="left",
    ).merge(back3[["uscc", "score"]].rename(columns={"score": "score_3m_ago"}), on="uscc", how="left")
    out["class_steps_worse"] = out["class_rank"] - out["class_prev"].map(CLASS_RANK).astype(float)
    out["score_change"] = out["score"] - pd.to_numeric(out["score_prev"], errors="coerce")
    out["score_change_3m"] = out["score"] - pd.to_numeric(out["score_3m_ago"], errors="coerce")
    assert set(out.columns) - {"uscc"} == set(RECORD_FIELDS)
    return out


def month_frame(
    catalog: WarningCatalog,
    features: pd.DataFrame,
    classes: pd.DataFrame,
    prev: pd.DataFrame | None,
    back3: pd.DataFrame | None,
    addresses: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The evaluation frame (one row per classified entity; columns as the catalog names them) and the address
    table. ``addresses``: uscc → address_key."""
    indicators = catalog.indicators()
    missing = sorted(set(indicators) - set(features.columns))
    if missing:
        raise WarningError(f"the month's indicator snapshot lacks indicator(s) {missing} that warnings.yaml uses")
    frame = _record_fields(classes, prev, back3).merge(features[["uscc", *indicators]], on="uscc", how="left")
    frame = frame.merge(addresses[["uscc", "address_key"]], on="uscc", how="left")
    table = score_addresses(frame, catalog.address_scoring)
    by_key = table.assign(address_key=table["key"]).set_index("address_key")
    for field in table.columns:
        frame[column_name("address", field)] = frame["address_key"].map(by_key[field])
    return frame.sort_values("uscc", ignore_index=True), table


def _json_value(value):
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return int(value) if value.is_integer() else round(value, 4)
    return value


def evidence_json(frame: pd.DataFrame, fields: tuple[str, ...]) -> list[str]:
    """One JSON object per row: the evidence fields in catalog order, numbers rounded to 4 decimals."""
    columns = [frame[f].tolist() for f in fields]
    return (
        [
            json.dumps(
                {f: _json_value(v) for f, v in zip(fields, row, strict=True)}, ensure_ascii=False, separators=(",", ":")
            )
            for row in zip(*columns, strict=True)
        ]
        if len(frame)
        else []
    )


def fire(catalog: WarningCatalog, frame: pd.DataFrame, month: str) -> pd.DataFrame:
    """One row per entity × fired warning, sorted by uscc and code."""
    parts = []
    for w in catalog.warnings:
        hit = frame[all_hold(frame, w.condition)]
        parts.append(
            pd.DataFrame(
                {
                    "uscc": hit["uscc"].to_numpy(dtype=object),
                    "month": month,
                    "code": w.code,
                    "name_zh": w.name_zh,
                    "severity": w.severity,
                    "severity_en": w.severity_en,
                    "evidence": evidence_json(hit, w.evidence),
                    "score": hit["score"].to_numpy(dtype="int64"),
                    "class": hit["class"].to_numpy(dtype=object),
                }
            )
        )
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=OUTPUT_COLUMNS)
    return out.sort_values(["uscc", "code"], ignore_index=True)[OUTPUT_COLUMNS]


def _read_classes(record) -> pd.DataFrame | None:
    if record is None:
        return None
    return pd.read_parquet(record.classes_path, columns=["uscc", "score", "probability", "class"])


def load_addresses(validated_dir: Path) -> pd.DataFrame:
    path = Path(validated_dir) / "entities.parquet"
    if not path.exists():
        raise WarningError(f"{path}: not found — the address of each entity comes from the validated registry")
    return pd.read_parquet(path, columns=["uscc", "address_key"])


def _fingerprint(catalog: WarningCatalog, records: dict, addresses: pd.DataFrame) -> dict:
    hashed = pd.util.hash_pandas_object(addresses.sort_values("uscc", ignore_index=True), index=False)
    return {
        "catalog_sha256": catalog.sha256,
        "records": {k: (r.entry["manifest_sha256"] if r is not None else None) for k, r in records.items()},
        "addresses_sha256": hashlib.sha256(hashed.to_numpy().tobytes()).hexdigest(),
    }


def warnings_path(out_dir: Path | str, month: str) -> Path:
    return Path(out_dir) / f"{month}.parquet"


def compute_month(p: dict, month: str, catalog: WarningCatalog | None = None, addresses=None) -> dict:
    """Fire the catalog for sealed ``month``; write its files unless they exist with the same inputs.

    Returns the month's summary (``status``: written / unchanged, counts per code)."""
    check_month(month)
    wp = p["warnings"]
    store = RecordStore(p["classify"]["records_dir"])
    record = store.current(month)
    if record is None:
        sealed = ", ".join(store.sealed_months()) or "none"
        raise WarningError(f"{month} is not sealed in {store.root} (sealed: {sealed}); run riskclass classify first")
    catalog = catalog or load_warning_catalog(wp["catalog"], load_catalog(p["features"]["catalog"]))
    addresses = addresses if addresses is not None else load_addresses(Path(p["features"]["validated_dir"]))
    records = {
        "month": record,
        "previous": store.current(previous_month(month)),
        "three_back": store.current(add_months(month, -3)),
    }
    fingerprint = _fingerprint(catalog, records, addresses)
    out_dir = Path(wp["out_dir"])
    target, manifest_path = warnings_path(out_dir, month), out_dir / f"{month}.json"
    if target.exists() and manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("inputs") == fingerprint:
            return {**manifest, "status": "unchanged"}
    # only the indicators the catalog uses (month_frame names any the snapshot lacks): a large month is GBs whole
    features = read_present(record.features_path, ["uscc", *catalog.indicators()])
    frame, table = month_frame(
        catalog,
        features,
        _read_classes(record),
        _read_classes(records["previous"]),
        _read_classes(records["three_back"]),
        addresses,
    )
    fired = fire(catalog, frame, month)
    counts = fired["code"].value_counts()
    manifest = {
        "month": month,
        "entities": len(frame),
        "inputs": fingerprint,
        "history": {
            "previous_month": records["previous"].month if records["previous"] else None,
            "three_months_back": records["three_back"].month if records["three_back"] else None,
        },
        "counts": {code: int(counts.get(code, 0)) for code in catalog.codes},
        "addresses": {c: int((table["colour"] == c).sum()) for c in ("red", "yellow", "green")},
    }
    (out_dir / ADDRESS_DIR).mkdir(parents=True, exist_ok=True)
    with atomic_file(out_dir / ADDRESS_DIR / f"{month}.parquet") as tmp:
        write_parquet(table.assign(month=month), tmp)
    with atomic_file(target) as tmp:
        write_parquet(fired, tmp)
    with atomic_file(manifest_path) as tmp:  # last: a month is complete once its manifest names its inputs
        write_json(manifest, tmp)
    return {**manifest, "status": "written"}


def run_warnings(p: dict, month: str) -> list[dict]:
    """``month`` and every earlier sealed month whose files are missing or whose inputs changed."""
    check_month(month)
    store = RecordStore(p["classify"]["records_dir"])
    if store.current(month) is None:
        sealed = ", ".join(store.sealed_months()) or "none"
        raise WarningError(f"{month} is not sealed in {store.root} (sealed: {sealed}); run riskclass classify first")
    catalog = load_warning_catalog(p["warnings"]["catalog"], load_catalog(p["features"]["catalog"]))
    addresses = load_addresses(Path(p["features"]["validated_dir"]))
    months = [m for m in store.sealed_months() if m <= month]
    return [compute_month(p, m, catalog, addresses) for m in months]
