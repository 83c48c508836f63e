"""MLflow tracking and registry: runs, the registered model, aliases with a full history, promotion.

Tracking lives in SQLite (``mlruns/mlflow.db``) with artifacts under ``mlruns/artifacts``. MLflow
keeps only the current holder of an alias; every alias move is also appended to
``mlruns/alias_history.jsonl`` (who, when, why, from which version to which) and tagged on the
model version, so the history survives and can be audited. Promotion decisions are lines of the same
file, refusals included (``record_refusal``): the file is only ever appended to, and in every line
``version`` / ``previous_version`` are the alias's holder after / before the event.

**The store is relocatable.** MLflow writes absolute artifact URIs into the SQLite database (the
experiment's artifact location, each run's artifact URI, each logged model's location and each model
version's storage location). A copied checkout (``cp -r``) would therefore read and write the
*original* checkout's ``mlruns/``. ``setup`` prevents this on every call, before MLflow opens the
database: it reads the experiment's recorded artifact location and, if that is not the current
``registry.artifact_root`` (resolved against the working directory, i.e. the repository root),
rewrites the recorded checkout prefix to the current one in every location column of the database
(plain SQL through ``sqlite3`` in one ``BEGIN IMMEDIATE`` transaction; MLflow has no API for it).
With the usual relative ``artifact_root`` (``mlruns/artifacts``) the prefix swapped is the checkout
folder itself (``/old/checkout`` → ``/new/checkout``), so the Default experiment's ``mlruns/0``
moves too; otherwise it is the artifact root alone. The rewrite is refused with a ``RegistryError``
when the current root holds none of the recorded model folders: that is a changed ``artifact_root``
without the files, not a copy, and silently pointing the registry at an empty folder would lose
every model. Relative locations were not chosen because MLflow resolves them to absolute ones when
it creates experiments and runs.

Versions are referred to by number (``3`` or ``v3``) or by alias (``champion``, ``challenger``);
``resolve_version`` turns either into a registered version number or raises ``RegistryError`` with
a message meant for the command line.
"""

from __future__ import annotations

import getpass
import json
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException

from riskclass.model.risk_model import RiskModel

CHAMPION, CHALLENGER = "champion", "challenger"

# every column in which MLflow 3 records an artifact location (those absent from a schema are skipped)
_LOCATION_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "source"),
    ("model_versions", "storage_location"),
    ("workspaces", "default_artifact_root"),
)


class RegistryError(Exception):
    """A registry reference or state that cannot be used; the message is meant for the user."""


class RiskPyfunc(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper: indicators in, probability / score / class out."""

    def load_context(self, context):
        self.model = RiskModel.load(Path(context.artifacts["model_dir"]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "probability": self.model.probability(model_input),
                "score": self.model.score(model_input),
                "class": self.model.risk_class(model_input),
            }
        )


def setup(rp: dict) -> MlflowClient:
    """Point MLflow at this checkout's store (relocating a copied store first) and return a client."""
    uri = rp["tracking_uri"]
    root = Path(rp["artifact_root"]).resolve()
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///") :]).resolve()
        db.parent.mkdir(parents=True, exist_ok=True)
        relocate(db, rp["experiment"], rp["artifact_root"])
        # absolute, so that a process that changes folder (or a test with two checkouts) never reuses
        # MLflow's cached store of another checkout for the same relative URI
        uri = f"sqlite:///{db}"
    mlflow.set_tracking_uri(uri)
    if mlflow.get_experiment_by_name(rp["experiment"]) is None:
        root.mkdir(parents=True, exist_ok=True)
        mlflow.create_experiment(rp["experiment"], artifact_location=root.as_uri())
    mlflow.set_experiment(rp["experiment"])
    return MlflowClient()


def _local_path(location: str) -> Path | None:
    """The local folder of an artifact location (``file://`` URI or absolute path); None for anything else."""
    if location.startswith("file:"):
        return Path(unquote(urlparse(location).path))
    if location.startswith("/"):
        return Path(location)
    return None


def _checkout_prefixes(recorded: Path, current: Path, artifact_root: Path) -> tuple[Path, Path]:
    """The prefixes to swap: for a relative ``artifact_root`` that both roots end with, the checkouts
    (/A/mlruns/artifacts, /B/mlruns/artifacts → /A, /B); otherwise the two roots themselves."""
    tail = artifact_root.parts
    n = len(tail)
    if (
        n
        and not artifact_root.is_absolute()
        and ".." not in tail
        and recorded.parts[-n:] == tail
        and current.parts[-n:] == tail
        and min(len(recorded.parts), len(current.parts)) > n + 1  # never swap the filesystem root
    ):
        return Path(*recorded.parts[:-n]), Path(*current.parts[:-n])
    return recorded, current


def relocate(db: Path, experiment: str, artifact_root: Path | str) -> bool:
    """Rewrite the artifact locations recorded in ``db`` to lie under ``artifact_root`` (see the module docstring).

    ``artifact_root`` is the ``registry.artifact_root`` parameter, resolved against the working directory.
    Returns True when something was rewritten. Does nothing when the database or the experiment does
    not exist yet, when the locations already lie under ``artifact_root`` or are not local files.
    """
    if not Path(db).is_file():
        return False
    root = Path(artifact_root).resolve()
    con = sqlite3.connect(db, timeout=60, isolation_level=None)
    try:
        if not _table_columns(con, "experiments"):
            return False
        row = con.execute("SELECT artifact_location FROM experiments WHERE name = ?", (experiment,)).fetchone()
        if row is None or not row[0] or _local_path(row[0]) in (None, root):
            return False
        con.execute("BEGIN IMMEDIATE")  # one writer; a concurrent setup sees the result
        try:
            changed = _rewrite(con, experiment, root, Path(artifact_root))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return changed
    finally:
        con.close()


def _table_columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in con.execute(f"PRAGMA table_info({table})")}


def _rewrite(con: sqlite3.Connection, experiment: str, root: Path, artifact_root: Path) -> bool:
    row = con.execute(
        "SELECT experiment_id, artifact_location FROM experiments WHERE name = ?", (experiment,)
    ).fetchone()
    recorded = _local_path(row[1])
    if recorded is None or recorded == root:  # another process relocated it meanwhile
        return False
    models = []
    if {"artifact_location", "experiment_id"} <= _table_columns(con, "logged_models"):
        models = [
            _local_path(loc)
            for (loc,) in con.execute("SELECT artifact_location FROM logged_models WHERE experiment_id = ?", (row[0],))
        ]
    relative = [m.relative_to(recorded) for m in models if m is not None and m.is_relative_to(recorded)]
    if relative and not any((root / r).exists() for r in relative):
        raise RegistryError(
            f"the MLflow database records its artifacts under {recorded}, but registry.artifact_root is {root}, "
            f"which holds none of the {len(relative)} recorded model folders (e.g. {relative[0]}). Copy or move "
            "the artifacts folder together with the database, or set registry.artifact_root back."
        )
    old, new = _checkout_prefixes(recorded, root, artifact_root)
    mappings = [(old.as_uri(), new.as_uri()), (str(old), str(new))]
    for table, column in _LOCATION_COLUMNS:
        if column not in _table_columns(con, table):
            continue
        for before, after in mappings:
            con.execute(
                f"UPDATE {table} SET {column} = ? || substr({column}, length(?) + 1) "
                f"WHERE {column} = ? OR substr({column}, 1, length(?) + 1) = ? || '/'",
                (after, before, before, before, before),
            )
    return True


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _log_nested(client: MlflowClient, child: dict) -> None:
    """A nested run (one search candidate): params, metrics, and curves logged step by step."""
    with mlflow.start_run(run_name=child["name"], nested=True) as run:
        mlflow.log_params({k: str(v) for k, v in child.get("params", {}).items()})
        mlflow.log_metrics({k: float(v) for k, v in child.get("metrics", {}).items() if v is not None})
        stamp = int(time.time() * 1000)
        points = [
            Metric(key, float(value), stamp, step)
            for key, curve in child.get("curves", {}).items()
            for step, value in enumerate(curve, start=1)
        ]
        for i in range(0, len(points), 1000):  # MLflow takes at most 1000 metrics per batch
            client.log_batch(run.info.run_id, metrics=points[i : i + 1000])


def log_and_register(
    rp: dict,
    model_dir: Path,
    params: dict,
    metrics: dict,
    tags: dict,
    artifacts: list[Path],
    children: list[dict] | None = None,
    texts: dict[str, str] | None = None,
) -> tuple[str, str]:
    """Log a training run and register its model; returns (run_id, version).

    ``children``: nested runs under it (``{"name", "params", "metrics", "curves": {key: values by step}}``),
    e.g. one per candidate of the settings search; ``texts``: artifact path → text (a table as CSV).
    """
    client = setup(rp)
    with mlflow.start_run(run_name=f"train {tags.get('valid_month', '')}") as run:
        mlflow.log_params({k: str(v)[:500] for k, v in _flatten(params).items()})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None})
        mlflow.set_tags(tags)
        for path in artifacts:
            if Path(path).exists():
                mlflow.log_artifact(str(path))
        for artifact_file, text in (texts or {}).items():
            mlflow.log_text(text, artifact_file)
        for child in children or []:
            _log_nested(client, child)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=RiskPyfunc(),
            artifacts={"model_dir": str(model_dir)},
            pip_requirements=["riskclass", "catboost", "pandas", "numpy", "scikit-learn"],
        )
    try:
        client.get_registered_model(rp["model_name"])
    except MlflowException:
        client.create_registered_model(rp["model_name"], description="企业信用风险分类模型 (riskclass)")
    version = client.create_model_version(rp["model_name"], info.model_uri, run_id=run.info.run_id, tags=tags)
    return run.info.run_id, str(version.version)


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 5, 7, 8] → '1–3, 5, 7–8'."""
    out, start = [], None
    for i, n in enumerate(numbers):
        if start is None:
            start = n
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            out.append(str(n) if n == start else f"{start}–{n}")
            start = None
    return ", ".join(out)


def registered_versions(rp: dict, client: MlflowClient | None = None) -> list[int]:
    client = client or setup(rp)
    try:
        found = client.search_model_versions(f"name = '{rp['model_name']}'")
    except MlflowException:
        return []
    return sorted(int(mv.version) for mv in found)


def resolve_version(rp: dict, version_or_alias: str | int) -> str:
    """The registered version number behind ``'3'``, ``'v3'`` or an alias (``'champion'``, ``'challenger'``).

    Raises ``RegistryError`` naming the registered versions, or the aliases that are set, when the
    reference does not exist.
    """
    ref = str(version_or_alias if version_or_alias is not None else "").strip()
    if not ref:
        raise RegistryError("no model version given: pass a version number or an alias (champion, challenger)")
    client = setup(rp)
    name = rp["model_name"]
    number = ref[1:] if ref[:1] in "vV" and ref[1:].isdigit() else ref
    if number.isdigit():
        versions = registered_versions(rp, client)
        if int(number) not in versions:
            known = f"registered: {_ranges(versions)}" if versions else f"no version of {name} is registered yet"
            raise RegistryError(f"model version {int(number)} is not registered ({known})")
        return str(int(number))
    try:
        return str(client.get_model_version_by_alias(name, ref.lower()).version)
    except MlflowException:
        pass
    try:
        aliases = dict(client.get_registered_model(name).aliases)
    except MlflowException:
        aliases = {}
    if aliases:
        known = "aliases set: " + ", ".join(f"{a} → v{v}" for a, v in sorted(aliases.items()))
    elif registered_versions(rp, client):
        known = "no alias is set"
    else:
        known = f"no version of {name} is registered yet"
    raise RegistryError(f"alias '{ref}' is not set ({known})")


def alias_version(rp: dict, alias: str) -> str | None:
    client = setup(rp)
    try:
        return str(client.get_model_version_by_alias(rp["model_name"], alias).version)
    except MlflowException:
        return None


def _record(
    rp: dict, alias: str, version: str | None, previous: str | None, by: str | None, reason: str, **rest
) -> dict:
    """One alias-history event, appended (the file is never rewritten). ``version`` / ``previous_version`` say
    where the alias points after / before the event, so replaying the file gives the alias timeline."""
    record = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": rp["model_name"],
        "event": "alias_set",
        "alias": alias,
        "version": version,
        "previous_version": previous,
        "by": by or getpass.getuser(),
        "reason": reason,
        **rest,
    }
    history = Path(rp["alias_history"])
    history.parent.mkdir(parents=True, exist_ok=True)
    with open(history, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
    return record


def set_alias(rp: dict, alias: str, version: str, by: str | None, reason: str, details: dict | None = None) -> dict:
    """Move an alias and append the move to the history file and the version's tags.

    ``details`` are added to the history record (a promotion's gate figures); ``event`` says what moved the
    alias (``alias_set`` unless the details say ``promotion``).
    """
    version = resolve_version(rp, version)
    client = setup(rp)
    previous = alias_version(rp, alias)
    client.set_registered_model_alias(rp["model_name"], alias, version)
    record = _record(rp, alias, version, previous, by, reason, **(details or {}))
    client.set_model_version_tag(rp["model_name"], version, f"alias.{alias}.set", f"{record['time']} by {record['by']}")
    return record


def record_refusal(rp: dict, alias: str, candidate: str, by: str | None, reason: str, details: dict) -> dict:
    """Append a refused move of ``alias`` to ``candidate`` to the history; the alias stays where it is (its
    ``version`` and ``previous_version`` are the holder's; the refused version is ``candidate_version``).
    The refusal is also tagged on the candidate version.
    """
    client = setup(rp)
    holder = alias_version(rp, alias)
    refusal = {"event": "promotion_refused", "candidate_version": candidate, **details}
    record = _record(rp, alias, holder, holder, by, reason, **refusal)
    client.set_model_version_tag(
        rp["model_name"], candidate, f"alias.{alias}.refused", f"{record['time']} by {record['by']}"
    )
    return record


def log_decision(rp: dict, version: str, record: dict) -> None:
    """Attach a promotion decision (promoted or refused, with its figures) to the version's training run."""
    client = setup(rp)
    run_id = client.get_model_version(rp["model_name"], version).run_id
    stamp = record["time"].replace(":", "").replace("+0000", "Z")
    client.log_text(
        run_id,
        json.dumps(record, ensure_ascii=False, indent=2, sort_keys=True),
        f"promotion/{stamp}-{record.get('decision', record['event'])}.json",
    )


def alias_history(rp: dict) -> list[dict]:
    """Every line of the history: alias moves (``alias_set``, ``promotion``) and refusals (``promotion_refused``)."""
    path = Path(rp["alias_history"])
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def history_summary(record: dict) -> str:
    """One line for ``riskclass model history``: what a promotion decided and on which figures."""
    event = record.get("event", "alias_set")
    if event == "alias_set":
        return ""
    gate = record.get("gate") or {}
    ch, cp, window = gate.get("challenger") or {}, gate.get("champion") or {}, gate.get("window") or {}
    figures = ""
    if ch.get("auc") is not None and cp.get("auc") is not None:
        figures = (
            f" (AUC {ch['auc']:.4f} vs {cp['auc']:.4f}, KS {ch['ks']:.4f} vs {cp['ks']:.4f} "
            f"on {window.get('valid_month')}, {window.get('rows')} rows)"
        )
    if event == "promotion":
        return f"promoted v{record['version']}{figures}"
    refusals = "; ".join(record.get("refusals", []))
    return f"refused v{record.get('candidate_version')}{figures}: {refusals}"


def version_metrics(rp: dict, version_or_alias: str) -> dict:
    """The metrics of the training run behind a version or alias."""
    version = resolve_version(rp, version_or_alias)
    client = setup(rp)
    mv = client.get_model_version(rp["model_name"], version)
    return dict(client.get_run(mv.run_id).data.metrics)


def load_version(rp: dict, version_or_alias: str) -> RiskModel:
    """The RiskModel behind a registered version ('3') or alias ('champion')."""
    version = resolve_version(rp, version_or_alias)
    try:
        local = Path(mlflow.artifacts.download_artifacts(f"models:/{rp['model_name']}/{version}"))
    except (MlflowException, OSError) as exc:
        where = setup(rp).get_model_version_download_uri(rp["model_name"], version)
        raise RegistryError(f"model version {version}: its artifacts cannot be read from {where}: {exc}") from None
    # pyfunc keeps the model directory under artifacts/<its original folder name>
    meta = next((local / "artifacts").glob("*/model.json"), None)
    if meta is None:
        raise RegistryError(f"model version {version}: no riskclass model directory inside {local}")
    return RiskModel.load(meta.parent)


def load_pyfunc(rp: dict, version_or_alias: str):
    version = resolve_version(rp, version_or_alias)
    return mlflow.pyfunc.load_model(f"models:/{rp['model_name']}/{version}")


def attach(rp: dict, version_or_alias: str, path: Path) -> None:
    version = resolve_version(rp, version_or_alias)
    client = setup(rp)
    run_id = client.get_model_version(rp["model_name"], version).run_id
    client.log_artifact(run_id, str(path))
