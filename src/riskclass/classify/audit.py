"""Audit manifests: one per classified month, chained by hash; verification and reproduction.

A manifest records the git commit, the hashes of every input (validated tables and the month's
indicators), the model (registry version, alias, hashes of its files), the hashes of the parameters
and the indicator catalog, package versions, the hashes of every output, and the hash of the
previous month's manifest. Changing any stored output, input, model file or earlier manifest is
therefore detectable (`riskclass audit verify`), and a month can be recomputed and compared byte
for byte (`riskclass audit reproduce`). Manifests carry no timestamps: the same inputs, code and
model give the same manifest.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import platform
import shutil
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path

from riskclass import contract
from riskclass.inspections import feedback_files
from riskclass.io import atomic_write_bytes, sha256_file

PACKAGES = ("riskclass", "pandas", "numpy", "pyarrow", "duckdb", "catboost", "scikit-learn", "mlflow")


def _canonical_sha(obj) -> str:
    return hashlib.sha256(
        json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def manifest_dir(out_dir: Path) -> Path:
    return Path(out_dir) / "manifests"


def output_files(out_dir: Path, month: str) -> dict[str, Path]:
    return {
        f"{month}.parquet": out_dir / f"{month}.parquet",
        f"reports/{month}.json": out_dir / "reports" / f"{month}.json",
        f"reports/{month}.html": out_dir / "reports" / f"{month}.html",
    }


def input_files(p: dict, month: str) -> dict[str, Path]:
    files = {f"features/{month}.parquet": Path(p["classify"]["features_dir"]) / f"{month}.parquet"}
    validated = Path(p["features"]["validated_dir"])
    files.update({f"validated/{t.name}.parquet": validated / f"{t.name}.parquet" for t in contract.TABLES})
    files.update({f"feedback/{f.name}": f for f in feedback_files(Path(p["features"]["feedback_dir"]))})
    return files


def relevant_params(p: dict) -> dict:
    return {"classify": {k: v for k, v in p["classify"].items() if k != "out_dir"}, "score": p["score"]}


def _previous_manifest(out_dir: Path, month: str) -> tuple[str | None, str | None]:
    earlier = sorted(f for f in manifest_dir(out_dir).glob("*.json") if f.stem < month)
    if not earlier:
        return None, None
    return earlier[-1].stem, sha256_file(earlier[-1])


def build_manifest(p: dict, month: str, out_dir: Path, model_dir: Path, catalog) -> dict:
    model_meta = json.loads((model_dir / "model.json").read_text(encoding="utf-8"))
    prev_month, prev_sha = _previous_manifest(out_dir, month)
    return {
        "month": month,
        "git_commit": _git("rev-parse", "HEAD"),
        "inputs": {name: sha256_file(path) for name, path in input_files(p, month).items()},
        "model": {
            "name": p["registry"]["model_name"],
            "alias": "champion",
            "version": str(model_meta.get("info", {}).get("registered_version", "")),
            "files": {f.name: sha256_file(f) for f in sorted(model_dir.iterdir()) if f.is_file()},
        },
        "params_sha256": _canonical_sha(relevant_params(p)),
        "catalog_sha256": catalog.sha256,
        "packages": {"python": platform.python_version(), **{name: _version(name) for name in PACKAGES}},
        "outputs": {name: sha256_file(path) for name, path in output_files(out_dir, month).items()},
        "previous": {"month": prev_month, "manifest_sha256": prev_sha},
    }


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def write_manifest(p: dict, month: str, out_dir: Path, model_dir: Path, catalog) -> Path:
    manifest = build_manifest(p, month, out_dir, model_dir, catalog)
    path = manifest_dir(out_dir) / f"{month}.json"
    atomic_write_bytes(path, (json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode())
    return path


def verify(p: dict, month: str, out_dir: Path | None = None) -> list[str]:
    """Differences between the stored month and its manifest, and breaks in the manifest chain."""
    out_dir = Path(out_dir or p["classify"]["out_dir"])
    path = manifest_dir(out_dir) / f"{month}.json"
    if not path.exists():
        return [f"no manifest for {month} at {path}"]
    manifest = json.loads(path.read_text(encoding="utf-8"))
    problems = []
    for name, expected in manifest["outputs"].items():
        f = out_dir / name
        if not f.exists():
            problems.append(f"output {name}: missing")
        elif sha256_file(f) != expected:
            problems.append(f"output {name}: content differs from the manifest")
    for name, expected in manifest["inputs"].items():
        f = input_files(p, month).get(name)
        if f is None or not f.exists():
            problems.append(f"input {name}: missing")
        elif sha256_file(f) != expected:
            problems.append(f"input {name}: content differs from the manifest")
    model_dir = Path(p["classify"]["model_dir"])
    for name, expected in manifest["model"]["files"].items():
        f = model_dir / name
        if not f.exists() or sha256_file(f) != expected:
            problems.append(
                f"model file {name}: differs from the one that classified {month} (v{manifest['model']['version']})"
            )
    # the chain: every manifest up to this month must name its predecessor's exact bytes
    chain = sorted(f for f in manifest_dir(out_dir).glob("*.json") if f.stem <= month)
    for earlier, later in itertools.pairwise(chain):
        recorded = json.loads(later.read_text(encoding="utf-8"))["previous"]
        if recorded["month"] != earlier.stem or recorded["manifest_sha256"] != sha256_file(earlier):
            problems.append(f"manifest chain broken: {later.stem} does not match the manifest of {earlier.stem}")
    return problems


def reproduce(p: dict, month: str, out_dir: Path | None = None) -> list[str]:
    """Recompute ``month`` in a scratch directory and compare every output byte for byte."""
    from riskclass.classify.run import classify_month, previous_month

    out_dir = Path(out_dir or p["classify"]["out_dir"])
    manifest = json.loads((manifest_dir(out_dir) / f"{month}.json").read_text(encoding="utf-8"))
    problems = []
    if _canonical_sha(relevant_params(p)) != manifest["params_sha256"]:
        problems.append("params.yaml (classify, score) differ from those recorded; reproducing with the current ones")
    with tempfile.TemporaryDirectory(prefix="riskclass-reproduce-") as tmp:
        scratch = Path(tmp)
        prev = out_dir / f"{previous_month(month)}.parquet"
        if prev.exists():  # transitions need last month's stored classes
            shutil.copy2(prev, scratch / prev.name)
        classify_month(p, month, out_dir=scratch)
        for name, expected in manifest["outputs"].items():
            got = sha256_file(scratch / name)
            if got != expected:
                problems.append(f"output {name}: recomputed bytes differ from the stored month")
    return problems
