"""MLflow tracking and registry: runs, the registered model, aliases with a full history, promotion.

Tracking lives in SQLite (``mlruns/mlflow.db``) with artifacts under ``mlruns/artifacts``. MLflow
keeps only the current holder of an alias; every alias move is also appended to
``models/alias_history.jsonl`` (who, when, why, from which version to which) and tagged on the
model version, so the history survives and can be audited.
"""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from riskclass.model.risk_model import RiskModel

CHAMPION, CHALLENGER = "champion", "challenger"


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
    uri = rp["tracking_uri"]
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    if mlflow.get_experiment_by_name(rp["experiment"]) is None:
        root = Path(rp["artifact_root"]).resolve()
        root.mkdir(parents=True, exist_ok=True)
        mlflow.create_experiment(rp["experiment"], artifact_location=root.as_uri())
    mlflow.set_experiment(rp["experiment"])
    return MlflowClient()


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def log_and_register(
    rp: dict, model_dir: Path, params: dict, metrics: dict, tags: dict, artifacts: list[Path]
) -> tuple[str, str]:
    """Log a training run and register its model; returns (run_id, version)."""
    client = setup(rp)
    with mlflow.start_run(run_name=f"train {tags.get('valid_month', '')}") as run:
        mlflow.log_params({k: str(v)[:500] for k, v in _flatten(params).items()})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None})
        mlflow.set_tags(tags)
        for path in artifacts:
            if Path(path).exists():
                mlflow.log_artifact(str(path))
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


def alias_version(rp: dict, alias: str) -> str | None:
    client = setup(rp)
    try:
        return str(client.get_model_version_by_alias(rp["model_name"], alias).version)
    except MlflowException:
        return None


def set_alias(rp: dict, alias: str, version: str, by: str | None, reason: str) -> dict:
    """Move an alias and append the move to the history file and the version's tags."""
    client = setup(rp)
    previous = alias_version(rp, alias)
    client.set_registered_model_alias(rp["model_name"], alias, version)
    record = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": rp["model_name"],
        "alias": alias,
        "version": version,
        "previous_version": previous,
        "by": by or getpass.getuser(),
        "reason": reason,
    }
    history = Path(rp["alias_history"])
    history.parent.mkdir(parents=True, exist_ok=True)
    with open(history, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
    client.set_model_version_tag(rp["model_name"], version, f"alias.{alias}.set", f"{record['time']} by {record['by']}")
    return record


def alias_history(rp: dict) -> list[dict]:
    path = Path(rp["alias_history"])
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def version_metrics(rp: dict, version: str) -> dict:
    client = setup(rp)
    mv = client.get_model_version(rp["model_name"], version)
    return dict(client.get_run(mv.run_id).data.metrics)


def load_version(rp: dict, version_or_alias: str) -> RiskModel:
    """The RiskModel behind a registered version ('3') or alias ('champion')."""
    setup(rp)
    ref = f"@{version_or_alias}" if not str(version_or_alias).isdigit() else f"/{version_or_alias}"
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{rp['model_name']}{ref}"))
    # pyfunc keeps the model directory under artifacts/<its original folder name>
    meta = next((local / "artifacts").glob("*/model.json"), None)
    if meta is None:
        raise FileNotFoundError(f"no riskclass model directory inside {local}")
    return RiskModel.load(meta.parent)


def load_pyfunc(rp: dict, version_or_alias: str):
    setup(rp)
    ref = f"@{version_or_alias}" if not str(version_or_alias).isdigit() else f"/{version_or_alias}"
    return mlflow.pyfunc.load_model(f"models:/{rp['model_name']}{ref}")


def attach(rp: dict, version: str, path: Path) -> None:
    client = setup(rp)
    run_id = client.get_model_version(rp["model_name"], version).run_id
    client.log_artifact(run_id, str(path))
