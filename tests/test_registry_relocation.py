"""The MLflow store follows a copied checkout, and bad version references fail with RegistryError."""

from __future__ import annotations

import copy
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from catboost import CatBoostClassifier

from riskclass.io import write_parquet
from riskclass.model import registry
from riskclass.model.compare import compare, to_html
from riskclass.model.registry import RegistryError
from riskclass.model.risk_model import RiskModel
from riskclass.model.scoring import PlattCalibrator

MONTH = "2026-10"


@pytest.fixture
def rp(params) -> dict:
    """The registry section of params.yaml: relative paths, resolved against the working directory."""
    section = copy.deepcopy(params["registry"])
    for key in ("artifact_root", "alias_history"):
        assert not Path(section[key]).is_absolute(), key
    assert section["tracking_uri"].startswith("sqlite:///") and not section["tracking_uri"].startswith("sqlite:////")
    return section


def frame(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})


def tiny_model(directory: Path, seed: int = 0) -> RiskModel:
    """A real (if tiny) RiskModel saved to ``directory``: a few CatBoost trees on 60 rows."""
    x = frame()
    y = (x["x1"] + 0.5 * x["x2"] + np.random.default_rng(seed).normal(scale=0.5, size=len(x)) > 0).astype(int)
    booster = CatBoostClassifier(
        iterations=5, depth=2, random_seed=seed, thread_count=1, verbose=False, allow_writing_files=False
    )
    booster.fit(x, y)
    model = RiskModel(
        booster,
        PlattCalibrator.from_dict({"coef": 1.0, "intercept": -1.0}),
        ["x1", "x2"],
        [],
        {"anchor_probability": 0.24, "pdo": 300, "bands": {"A": 0, "B": 200, "C": 500, "D": 750}},
        "0" * 64,
    )
    model.save(directory)
    return model


def register(rp: dict, model_dir: Path, auc: float = 0.7) -> str:
    _run, version = registry.log_and_register(rp, model_dir, {"model": {"depth": 2}}, {"oot_auc": auc}, {}, [])
    return version


def locations(db: Path) -> list[str]:
    """Every artifact location recorded in the store (model sources that are models:/ URIs excluded)."""
    con = sqlite3.connect(db)
    try:
        out = []
        for table, column in registry._LOCATION_COLUMNS:
            if column in {r[1] for r in con.execute(f"PRAGMA table_info({table})")}:
                out += [
                    v for (v,) in con.execute(f"SELECT {column} FROM {table}") if v and ("://" in v or v[:1] == "/")
                ]
        return [v for v in out if not v.startswith("models:/")]
    finally:
        con.close()


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def under(location: str, folder: Path) -> bool:
    return location.startswith((folder.as_uri() + "/", str(folder) + "/"))


def test_copied_checkout_reads_and_writes_only_its_own_store(rp, tmp_path, monkeypatch):
    a, b = tmp_path / "A", tmp_path / "A 副本"  # a name that file URIs percent-encode
    a.mkdir()
    monkeypatch.chdir(a)
    original = tiny_model(a / "models" / "challenger")
    assert register(rp, Path("models/challenger")) == "1"
    registry.set_alias(rp, registry.CHAMPION, "1", "tester", "first")
    assert all(under(loc, a) for loc in locations(a / "mlruns" / "mlflow.db"))

    shutil.copytree(a, b)
    shutil.rmtree(a)  # anything that still points at A now fails or recreates A
    monkeypatch.chdir(b)

    x = frame(200, seed=1)
    loaded = registry.load_version(rp, "1")
    assert np.array_equal(loaded.score(x), original.score(x))
    assert np.array_equal(registry.load_version(rp, "champion").score(x), original.score(x))
    second = tiny_model(b / "models" / "challenger", seed=3)
    assert register(rp, Path("models/challenger")) == "2"
    registry.set_alias(rp, registry.CHALLENGER, "2", "tester", "second")
    assert np.array_equal(registry.load_version(rp, "challenger").score(x), second.score(x))
    pyfunc = registry.load_pyfunc(rp, "challenger")
    assert np.array_equal(pyfunc.predict(x)["score"].to_numpy(), second.score(x))
    (b / "note.html").write_text("<p>report</p>", encoding="utf-8")
    registry.attach(rp, "2", b / "note.html")

    assert not a.exists(), "something was written into the original checkout"
    recorded = locations(b / "mlruns" / "mlflow.db")
    assert recorded and all(under(loc, b) for loc in recorded), recorded
    models = sorted((b / "mlruns" / "artifacts" / "models").iterdir())
    assert len(models) == 2 and all((m / "artifacts" / "MLmodel").is_file() for m in models)
    assert any((b / "mlruns" / "artifacts").glob("*/artifacts/note.html"))


def test_original_is_untouched_by_its_copy_and_relocation_is_idempotent(rp, tmp_path, monkeypatch):
    a, b = tmp_path / "A", tmp_path / "B"
    a.mkdir()
    monkeypatch.chdir(a)
    tiny_model(a / "models" / "challenger")
    register(rp, Path("models/challenger"))
    shutil.copytree(a, b)
    before = tree(a)

    monkeypatch.chdir(b)
    register(rp, Path("models/challenger"))
    registry.set_alias(rp, registry.CHAMPION, "2", "tester", "in the copy")
    assert tree(a) == before
    assert registry.relocate(b / "mlruns" / "mlflow.db", rp["experiment"], rp["artifact_root"]) is False  # in B

    monkeypatch.chdir(a)  # the original keeps its own store, with only its own version
    assert registry.resolve_version(rp, "1") == "1"
    with pytest.raises(RegistryError, match=r"model version 2 is not registered \(registered: 1\)"):
        registry.resolve_version(rp, "2")
    assert all(under(loc, a) for loc in locations(a / "mlruns" / "mlflow.db"))


def test_changed_artifact_root_without_the_files_is_refused(rp, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tiny_model(tmp_path / "m")
    register(rp, Path("m"))
    db = tmp_path / "mlruns" / "mlflow.db"
    before = locations(db)
    moved = {**rp, "artifact_root": "elsewhere/artifacts"}
    with pytest.raises(RegistryError, match="holds none of the 1 recorded model folders"):
        registry.setup(moved)
    assert locations(db) == before  # the refused rewrite changed nothing
    assert registry.load_version(rp, "1").features == ["x1", "x2"]


def test_missing_artifacts_raise_registry_error(rp, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tiny_model(tmp_path / "m")
    register(rp, Path("m"))
    register(rp, Path("m"))
    uri = registry.setup(rp).get_model_version_download_uri(rp["model_name"], "1")
    shutil.rmtree(registry._local_path(uri))
    with pytest.raises(RegistryError, match="its artifacts cannot be read from file://"):
        registry.load_version(rp, "1")
    assert registry.load_version(rp, "2").features == ["x1", "x2"]


def test_relocation_moves_the_artifact_root_within_a_checkout(rp, tmp_path, monkeypatch):
    """Moving the artifacts folder and the parameter together is a relocation too."""
    monkeypatch.chdir(tmp_path)
    model = tiny_model(tmp_path / "m")
    register(rp, Path("m"))
    shutil.move(tmp_path / rp["artifact_root"], tmp_path / "store")
    moved = {**rp, "artifact_root": "store"}
    assert np.array_equal(registry.load_version(moved, "1").score(frame()), model.score(frame()))
    assert all(under(loc, tmp_path) for loc in locations(tmp_path / "mlruns" / "mlflow.db"))


def test_checkout_prefixes():
    rel = Path("mlruns/artifacts")
    prefixes = registry._checkout_prefixes
    assert prefixes(Path("/a/x/mlruns/artifacts"), Path("/b/mlruns/artifacts"), rel) == (Path("/a/x"), Path("/b"))
    # an artifact root moved within the checkout, or given absolute: only the roots are swapped
    assert prefixes(Path("/a/art"), Path("/a/store"), Path("store")) == (Path("/a/art"), Path("/a/store"))
    assert prefixes(Path("/a/m/artifacts"), Path("/a/n/artifacts"), Path("n/artifacts")) == (
        Path("/a/m/artifacts"),
        Path("/a/n/artifacts"),
    )
    assert prefixes(Path("/a/art"), Path("/b/art"), Path("/b/art")) == (Path("/a/art"), Path("/b/art"))
    assert prefixes(Path("/mlruns/artifacts"), Path("/b/mlruns/artifacts"), rel) == (
        Path("/mlruns/artifacts"),
        Path("/b/mlruns/artifacts"),
    )


# --- version references ---


@pytest.fixture
def two_versions(rp, tmp_path, monkeypatch) -> dict:
    """Versions 1 and 2 registered, only 'champion' set (→ 1); indicators of MONTH for the compare."""
    monkeypatch.chdir(tmp_path)
    tiny_model(tmp_path / "m1")
    tiny_model(tmp_path / "m2", seed=5)
    register(rp, Path("m1"), auc=0.70)
    register(rp, Path("m2"), auc=0.72)
    registry.set_alias(rp, registry.CHAMPION, "1", "tester", "first")
    (tmp_path / "features").mkdir()
    write_parquet(frame(100, seed=9), tmp_path / "features" / f"{MONTH}.parquet")
    return {"registry": rp, "features": {"out_dir": "features"}}


def test_versions_resolve_by_number_or_alias(two_versions):
    rp = two_versions["registry"]
    assert [registry.resolve_version(rp, r) for r in ("1", "2", "v2", " 2 ", 1, "champion", "CHAMPION")] == [
        "1",
        "2",
        "2",
        "2",
        "1",
        "1",
        "1",
    ]
    assert registry.resolve_version(rp, "latest") == "2"  # MLflow's reserved alias for the highest version
    assert registry.version_metrics(rp, "champion")["oot_auc"] == pytest.approx(0.70)
    assert registry.registered_versions(rp) == [1, 2]


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("99", r"model version 99 is not registered \(registered: 1–2\)"),
        ("v0", r"model version 0 is not registered \(registered: 1–2\)"),
        ("challenger", r"alias 'challenger' is not set \(aliases set: champion → v1\)"),
        ("no such thing", r"alias 'no such thing' is not set"),
        ("", "no model version given"),
    ],
)
def test_unknown_references_raise_registry_error(two_versions, ref, message):
    rp = two_versions["registry"]
    with pytest.raises(RegistryError, match=message):
        registry.resolve_version(rp, ref)
    with pytest.raises(RegistryError, match=message):
        registry.load_version(rp, ref)
    with pytest.raises(RegistryError, match=message):
        registry.version_metrics(rp, ref)
    with pytest.raises(RegistryError, match=message):
        registry.set_alias(rp, registry.CHALLENGER, ref, "tester", "bad reference")
    assert registry.alias_version(rp, registry.CHALLENGER) is None


def test_empty_registry_says_so(rp, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RegistryError, match=r"model version 1 is not registered \(no version of riskclass-risk"):
        registry.resolve_version(rp, "1")
    with pytest.raises(RegistryError, match=r"alias 'champion' is not set \(no version of riskclass-risk"):
        registry.load_version(rp, "champion")


def test_compare_accepts_aliases_and_refuses_unknown_versions(two_versions):
    p = two_versions
    result = compare(p, "champion", "2", MONTH)
    assert result["versions"] == ("1", "2")
    assert result["labels"] == ("v1 (champion)", "v2")
    assert list(result["metrics"].columns) == ["v1 (champion)", "v2"]
    assert result["metrics"].loc["oot_auc"].tolist() == pytest.approx([0.70, 0.72])
    assert int(result["migration"].to_numpy().sum()) == 100
    page = to_html(result, "champion", "2")
    assert "v1 (champion) vs v2" in page

    same = compare(p, "1", "champion", MONTH)
    assert same["same_class_share"] == 1.0 and same["labels"] == ("v1", "v1 (champion)")
    twice = compare(p, "1", "1", MONTH)
    assert twice["labels"] == ("v1 [A]", "v1 [B]") and twice["same_class_share"] == 1.0

    with pytest.raises(RegistryError, match="alias 'challenger' is not set"):
        compare(p, "champion", "challenger", MONTH)
    with pytest.raises(RegistryError, match=r"model version 99 is not registered \(registered: 1–2\)"):
        compare(p, "99", "1", MONTH)


def test_version_ranges():
    assert registry._ranges([1, 2, 3, 5, 7, 8]) == "1–3, 5, 7–8"
    assert registry._ranges([4]) == "4"
    assert registry._ranges([]) == ""
