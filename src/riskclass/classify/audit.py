"""Audit of sealed months: the manifest of a record, verification, reproduction.

A record's manifest names every file of the record with its SHA-256, the hashes of the inputs the
indicator snapshot was built from (validated tables, feedback files), the model (its content
address in the model store, registered version and file hashes), the hash of the classification
parameters and of the indicator catalog, the hash of the riskclass code, package versions, and the
record it compared against (last month's current revision). The ledger line of the record holds the
manifest's hash, the hash of the line before it and an HMAC under the auditor's key.

What each check detects (the threat model, also in docs/operations.md):

- ``verify`` (no key): any change to a record file, a manifest, a stored model, the derived history,
  or any ledger line other than a consistent rewrite of the last lines; truncation of the ledger
  below the head committed to git (``reports/records_head.json``).
- ``verify`` with the key: also a consistent rewrite of the latest record, its manifest and its
  ledger line (the HMAC cannot be recomputed without the key).
- ``reproduce``: that the stored classes follow from the stored inputs, model, parameters and code —
  e.g. a record whose files, manifest and ledger were all regenerated from altered classes would
  pass a keyless verify but not a reproduction.
"""

from __future__ import annotations

import json
import platform
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path

import pandas as pd

from riskclass import contract, domains
from riskclass.classify.outputs import OUTPUT_FILES, write_outputs, write_stability
from riskclass.indicators import load_catalog
from riskclass.inspections import feedback_files
from riskclass.io import sha256_file
from riskclass.model.risk_model import RiskModel
from riskclass.monitor.stability import STABILITY_FILE
from riskclass.records.anchor import anchor_matches, audit_keys
from riskclass.records.store import MANIFEST, Record, RecordStore, canonical_sha, files_sha

PACKAGES = ("pandas", "numpy", "pyarrow", "duckdb", "catboost", "scikit-learn", "mlflow")


@dataclass
class AuditResult:
    problems: list[str] = field(default_factory=list)  # each one fails the audit
    notes: list[str] = field(default_factory=list)  # worth knowing, not a failure


@cache
def code_sha256() -> str:
    """Hash of the riskclass package's source and resources (the code that classified a month)."""
    root = Path(__file__).resolve().parents[1]  # src/riskclass
    files = sorted(
        f
        for f in root.rglob("*")
        if f.is_file() and "__pycache__" not in f.parts and f.suffix in (".py", ".yaml", ".csv")
    )
    return canonical_sha({f.relative_to(root).as_posix(): sha256_file(f) for f in files})


def package_versions() -> dict[str, str]:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {"python": platform.python_version(), **{name: version(name) for name in PACKAGES}}


def package_drift(recorded: dict[str, str]) -> list[str]:
    """``name old→new`` for every package whose installed version differs from the recorded one."""
    installed = package_versions()
    return [f"{k} {v}→{installed.get(k)}" for k, v in recorded.items() if installed.get(k) != v]


def input_files(p: dict) -> dict[str, Path]:
    """The files the month's indicator snapshot is built from."""
    validated = Path(p["features"]["validated_dir"])
    files = {f"validated/{t.name}.parquet": validated / f"{t.name}.parquet" for t in contract.TABLES}
    files.update({f"feedback/{f.name}": f for f in feedback_files(Path(p["features"]["feedback_dir"]))})
    return {name: path for name, path in files.items() if path.exists()}


def build_manifest(
    folder: Path,
    *,
    month: str,
    revision: int,
    kind: str,
    reason: str,
    inputs: dict[str, str],
    model: dict,
    params: dict,
    catalog_sha256: str,
    previous: Record | None,
    domain_sources: dict[str, str] | None = None,
) -> dict:
    """The manifest of the record being written in ``folder`` (every other file must be in place);
    ``domain_sources``: hashes of the validated files the domain inputs were read from (records with domain grades).
    """
    manifest = {
        "record": {"month": month, "revision": revision, "kind": kind, "reason": reason},
        "files": files_sha(folder),
        "inputs": inputs,
        "model": model,
        "params_sha256": canonical_sha(params),
        "catalog_sha256": catalog_sha256,
        "code_sha256": code_sha256(),
        "packages": package_versions(),
        "previous": (
            {
                "month": previous.month,
                "revision": previous.revision,
                "manifest_sha256": sha256_file(previous.path / MANIFEST),
            }
            if previous
            else None
        ),
    }
    if domain_sources is not None:
        manifest["domain_sources"] = domain_sources
    return manifest


def write_manifest(folder: Path, manifest: dict) -> None:
    (Path(folder) / MANIFEST).write_bytes(
        (json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")
    )


# -- verify ------------------------------------------------------------------------------------------
def _check_chain(store: RecordStore, result: AuditResult, head: Path | None) -> None:
    entries = store.ledger()
    keys = audit_keys()
    previous = None
    unanchored = 0
    for i, entry in enumerate(entries, start=1):
        body = {k: v for k, v in entry.items() if k not in ("entry_sha256", "anchor")}
        label = f"ledger line {i} ({entry.get('month')} r{entry.get('revision')})"
        if entry.get("seq") != i:
            result.problems.append(f"{label}: sequence number {entry.get('seq')} where {i} was expected")
        if canonical_sha(body) != entry.get("entry_sha256"):
            result.problems.append(f"{label}: its content does not match its own hash (the line was edited)")
        if entry.get("previous_entry_sha256") != previous:
            result.problems.append(f"{label}: does not name the line before it (chain broken)")
        previous = entry.get("entry_sha256")
        if entry.get("anchor") is None:
            unanchored += 1
        elif keys and not anchor_matches(entry["entry_sha256"], entry["anchor"], keys):
            result.problems.append(f"{label}: its HMAC does not verify under the audit key (line forged or rewritten)")
    if unanchored:
        result.notes.append(
            f"{unanchored} ledger line(s) were sealed without an audit key: a consistent rewrite of the latest "
            "record would not be detected (configure RISKCLASS_AUDIT_KEY_FILE, docs/operations.md)"
        )
    if entries and not keys and unanchored < len(entries):
        result.notes.append("no audit key configured here: HMAC anchors were not checked")
    if head is not None and head.exists():
        recorded = json.loads(head.read_text(encoding="utf-8"))
        seq = int(recorded.get("seq", 0))
        if seq > len(entries):
            result.problems.append(
                f"{head} names ledger line {seq}, but the ledger has only {len(entries)} (truncated)"
            )
        elif seq and entries[seq - 1].get("entry_sha256") != recorded.get("entry_sha256"):
            result.problems.append(f"ledger line {seq} differs from the head committed in {head} (rewritten)")


def _check_record(store: RecordStore, record: Record, result: AuditResult) -> None:
    label = record.label
    if not record.path.is_dir():
        result.problems.append(f"{label}: record folder {record.path} is missing")
        return
    manifest_path = record.path / MANIFEST
    if not manifest_path.exists():
        result.problems.append(f"{label}: manifest missing")
        return
    if sha256_file(manifest_path) != record.entry["manifest_sha256"]:
        result.problems.append(f"{label}: manifest differs from the one the ledger sealed")
    manifest = record.manifest
    rec = manifest.get("record", {})
    if (rec.get("month"), rec.get("revision")) != (record.month, record.revision):
        result.problems.append(f"{label}: manifest names {rec.get('month')} r{rec.get('revision')}")
    actual = {k: v for k, v in files_sha(record.path).items() if k != MANIFEST}
    for name, expected in manifest["files"].items():
        if name not in actual:
            result.problems.append(f"{label}: file {name} is missing")
        elif actual[name] != expected:
            result.problems.append(f"{label}: file {name} differs from the manifest")
    for name in sorted(set(actual) - set(manifest["files"])):
        result.problems.append(f"{label}: file {name} is not part of the sealed record")
    if "params.json" in actual:
        params = json.loads((record.path / "params.json").read_text(encoding="utf-8"))
        if canonical_sha(params) != manifest["params_sha256"]:
            result.problems.append(f"{label}: parameters differ from the hash in the manifest")
    if (
        "indicators.yaml" in actual
        and load_catalog(record.path / "indicators.yaml").sha256 != manifest["catalog_sha256"]
    ):
        result.problems.append(f"{label}: indicator catalog differs from the hash in the manifest")
    model = manifest["model"]
    model_dir = store.model_path(model["id"])
    if not model_dir.is_dir():
        result.problems.append(f"{label}: model {model['id']} (v{model['version']}) is missing from the model store")
    else:
        stored = files_sha(model_dir)
        if stored != model["files"]:
            result.problems.append(f"{label}: model {model['id']} files differ from those that classified the month")
        meta = json.loads((model_dir / "model.json").read_text(encoding="utf-8")) if "model.json" in stored else {}
        if str(meta.get("info", {}).get("registered_version", "")) != str(model["version"]):
            result.problems.append(f"{label}: manifest says model v{model['version']}, the stored model says otherwise")
    if "classes.parquet" in actual:
        versions = set(pd.read_parquet(record.classes_path, columns=["model_version"])["model_version"])
        if versions - {str(model["version"])}:
            result.problems.append(
                f"{label}: classes carry model version(s) {sorted(versions)}, not v{model['version']}"
            )
    drift = package_drift(manifest["packages"])
    if drift:
        result.notes.append(
            f"{label}: packages differ from the record's ({', '.join(drift)}); a reproduction may differ"
        )


def _check_history(store: RecordStore, result: AuditResult) -> None:
    entries = store.ledger()
    if not entries:
        return
    if not store.history_path.exists():
        result.problems.append(f"{store.history_path}: missing (derived history)")
        return
    if sha256_file(store.history_path) != entries[-1]["history_sha256"]:
        result.problems.append(f"{store.history_path}: differs from the history the ledger sealed last")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            store.write_history(Path(tmp) / "h.parquet")
        except (OSError, ValueError, KeyError) as exc:  # a record the ledger names is unreadable or gone
            result.problems.append(f"history cannot be derived from the records the ledger names ({exc})")
            return
        if sha256_file(Path(tmp) / "h.parquet") != entries[-1]["history_sha256"]:
            result.problems.append("history derived from the records differs from the sealed history")


def verify(p: dict, month: str | None = None, revision: int | None = None, every: bool = False) -> AuditResult:
    """Check the chain, the history and the record(s): ``month`` (current or given revision), or every record."""
    store = RecordStore(p["classify"]["records_dir"])
    result = AuditResult()
    if not store.ledger():
        result.problems.append(f"{store.root}: no sealed records")
        return result
    _check_chain(store, result, Path(p["classify"]["head_file"]))
    _check_history(store, result)
    if every:
        targets = store.records()
    elif month is not None:
        targets = [store.record(month, revision)]
    else:
        targets = [store.record(m) for m in store.sealed_months()]
    for record in targets:
        _check_record(store, record, result)
    if month is not None and not every:
        current = input_files(p)
        recorded = targets[0].manifest["inputs"]
        moved = [n for n, path in current.items() if n in recorded and sha256_file(path) != recorded[n]]
        if moved:
            result.notes.append(
                f"{targets[0].label}: {len(moved)} input file(s) changed since it was sealed (e.g. {moved[0]}); "
                "expected after a new snapshot — the record keeps its own indicator snapshot"
            )
    return result


# -- reproduce ---------------------------------------------------------------------------------------
def reproduce(p: dict, month: str, revision: int | None = None) -> AuditResult:
    """Recompute a record's outputs from its own inputs, model, parameters and catalog in a scratch folder.

    Compares every output byte for byte; when bytes differ, names what differs from the time of
    sealing (input, model, code, package versions). Never writes into the store.
    """
    store = RecordStore(p["classify"]["records_dir"])
    record = store.record(month, revision)
    manifest = record.manifest
    result = AuditResult()
    causes = []
    if sha256_file(record.features_path) != manifest["files"]["features.parquet"]:
        causes.append("input: the record's indicator snapshot changed since sealing")
    model_dir = store.model_path(manifest["model"]["id"])
    if not model_dir.is_dir() or files_sha(model_dir) != manifest["model"]["files"]:
        causes.append(f"model: the stored model {manifest['model']['id']} differs from the one that classified")
    if code_sha256() != manifest["code_sha256"]:
        causes.append("code: the riskclass package differs from the one that sealed the record")
    changed = package_drift(manifest["packages"])
    if changed:
        causes.append("package versions: " + ", ".join(changed))
    previous, prev = None, None
    if manifest["previous"]:
        prev = store.record(manifest["previous"]["month"], manifest["previous"]["revision"])
        if sha256_file(prev.path / MANIFEST) != manifest["previous"]["manifest_sha256"]:
            causes.append(f"input: the previous month's record {prev.label} changed since sealing")
        previous = pd.read_parquet(prev.classes_path)
    params = json.loads((record.path / "params.json").read_text(encoding="utf-8"))
    catalog = load_catalog(record.path / "indicators.yaml")
    with tempfile.TemporaryDirectory(prefix="riskclass-reproduce-") as tmp:
        try:
            model = RiskModel.load(model_dir)
            features = record.features_path  # read in chunks and columns, as the classification read it
            write_outputs(Path(tmp), features, model, params, month, catalog, previous)
            if STABILITY_FILE in manifest["files"]:
                write_stability(Path(tmp), month, features, model, params, prev)
        except Exception as exc:  # a corrupted model or input: report what failed and why, do not crash
            result.problems.append(f"{record.label}: the month could not be recomputed ({type(exc).__name__}: {exc})")
        else:
            names = [*OUTPUT_FILES, STABILITY_FILE] if STABILITY_FILE in manifest["files"] else OUTPUT_FILES
            if domains.GRADES_FILE in manifest["files"]:  # sealed with domain grades: regrade from its own inputs
                for name in (domains.INPUTS_FILE, domains.TABLES_FILE):
                    shutil.copyfile(record.path / name, Path(tmp) / name)
                domains.write_grades(Path(tmp), month)
                names = [*names, domains.GRADES_FILE, domains.SUMMARY_FILE]
            for name in names:
                if sha256_file(Path(tmp) / name) != manifest["files"][name]:
                    result.problems.append(f"{record.label}: recomputed {name} differs from the sealed one")
    if result.problems:
        result.problems.extend(f"cause — {c}" for c in causes)
        if not causes:
            result.problems.append("cause — none found: same inputs, model, code and packages gave other bytes")
    else:
        result.notes.extend(f"(no effect on the bytes) {c}" for c in causes)
    _rebuild_indicators(p, record, catalog, result)
    _rebuild_domain_inputs(p, record, result)
    return result


def _rebuild_domain_inputs(p: dict, record: Record, result: AuditResult) -> None:
    """Where the domain sources and the indicator snapshot are those the record read, rebuild its domain inputs."""
    recorded = record.manifest.get("domain_sources")
    if recorded is None:  # sealed before the domain graders existed
        return
    validated = Path(p["features"]["validated_dir"])
    current = domains.source_files(validated)
    if set(current) != set(recorded) or any(sha256_file(current[n]) != h for n, h in recorded.items()):
        result.notes.append(
            f"{record.label}: the domain sources have moved on since sealing; domain inputs used as stored"
        )
        return
    features = pd.read_parquet(record.features_path)
    with tempfile.TemporaryDirectory(prefix="riskclass-reproduce-") as tmp:
        domains.seal_inputs(Path(tmp), validated, record.month, features)
        if sha256_file(Path(tmp) / domains.INPUTS_FILE) != record.manifest["files"][domains.INPUTS_FILE]:
            result.problems.append(f"{record.label}: domain inputs rebuilt from the same validated data differ")


def _rebuild_indicators(p: dict, record: Record, catalog, result: AuditResult) -> None:
    """Where the validated data is still the one the record read, rebuild its indicator snapshot too."""
    from riskclass.indicators.builder import build_one

    recorded = record.manifest["inputs"]
    current = input_files(p)
    same = set(current) == set(recorded) and all(sha256_file(current[n]) == h for n, h in recorded.items())
    if not same:
        result.notes.append(
            f"{record.label}: the validated data has moved on since sealing; its indicator snapshot was used as "
            "stored (its hash is sealed) and not rebuilt"
        )
        return
    fp = p["features"]
    with tempfile.TemporaryDirectory(prefix="riskclass-reproduce-") as tmp:
        path = build_one(
            Path(fp["validated_dir"]),
            catalog,
            record.month,
            Path(tmp),
            memory_limit=fp["memory_limit"],
            threads=fp["threads"],
            slice_entities=fp["slice_entities"],
            feedback_dir=Path(fp["feedback_dir"]),
        )
        if sha256_file(path) != record.manifest["files"]["features.parquet"]:
            result.problems.append(f"{record.label}: indicators rebuilt from the same validated data differ")
