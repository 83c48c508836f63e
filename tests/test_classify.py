"""The monthly classification as a sequence of sealed records: overrides, reasons, history, re-runs,
promotions, revisions, back-fills, periods, the lock, and what audit verify / reproduce catch."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskclass.classify.audit import reproduce, verify
from riskclass.classify.overrides import apply_overrides, validate_rules
from riskclass.classify.run import classify_month, classify_with_history, entity_history
from riskclass.io import sha256_file, write_parquet
from riskclass.periods import PeriodError
from riskclass.records import LockHeld, RecordError, RecordStore, exclusive
from riskclass.records.store import canonical_sha

from conftest import classified_world, promote_variant

RULES = [
    {"id": "serious", "name_zh": "严重", "indicator": "x", "min_value": 1, "min_class": "D"},
    {"id": "abnormal", "name_zh": "异常", "indicator": "y", "min_value": 1, "min_class": "C"},
]


def test_overrides_raise_never_lower_and_name_the_rule():
    frame = pd.DataFrame({"x": [0, 1, 0, 1, 0], "y": [0, 1, 1, 0, 1]})
    final, fired = apply_overrides(frame, np.array(["A", "B", "B", "D", "D"], dtype=object), RULES)
    assert final.tolist() == ["A", "D", "C", "D", "D"]
    assert fired.tolist() == ["", "serious", "abnormal", "", ""]  # a D stays D, and no rule is credited


def test_override_rules_are_validated():
    with pytest.raises(ValueError, match="unknown indicator"):
        validate_rules(RULES, {"x"})
    with pytest.raises(ValueError, match="min_class"):
        validate_rules([{**RULES[0], "min_class": "E"}], {"x"})


@pytest.fixture(scope="module")
def world(small_city, small_city_ingested, params, tmp_path_factory):
    """A champion trained on the small city, sealed 2026-08 and 2026-09, parameters pointing at scratch folders."""
    return classified_world(small_city, small_city_ingested[0], params, tmp_path_factory.mktemp("classify"))


@pytest.fixture
def fork(world, tmp_path):
    """A private copy of the world (store, model, feedback) for tests that add records."""
    p, root = world
    new = tmp_path / "world"
    shutil.copytree(root, new, ignore=shutil.ignore_patterns("features"))
    q = copy.deepcopy(p)
    q["classify"].update(
        records_dir=str(new / "records"), model_dir=str(new / "champion"), head_file=str(new / "head.json")
    )
    q["features"]["feedback_dir"] = str(new / "feedback")
    q["plan"]["out_dir"] = str(new / "plans")
    return q, new


def tree(root: Path) -> dict[str, str]:
    return {f.relative_to(root).as_posix(): sha256_file(f) for f in sorted(root.rglob("*")) if f.is_file()}


def store_of(p: dict) -> RecordStore:
    return RecordStore(p["classify"]["records_dir"])


def test_every_entity_gets_score_classes_reasons_and_version(world):
    p, _root = world
    record = store_of(p).current("2026-09")
    out = pd.read_parquet(record.classes_path)
    features = pd.read_parquet(record.features_path)
    assert out["uscc"].tolist() == sorted(features["uscc"])
    assert out["score"].between(0, 1000).all() and set(out["class"]) <= set("ABCD")
    assert (out["model_version"] == "7").all()
    bands = p["score"]["bands"]
    model_class = np.select(
        [out["score"] >= bands["D"], out["score"] >= bands["C"], out["score"] >= bands["B"]], ["D", "C", "B"], "A"
    )
    assert (out["model_class"] == model_class).all()
    raised = out["override"] != ""
    assert (out.loc[raised, "class"] > out.loc[raised, "model_class"]).all()
    assert (out.loc[~raised, "class"] == out.loc[~raised, "model_class"]).all()
    serious = features.set_index("uscc").loc[out["uscc"], "SUP.SER.listed_now"].to_numpy() == 1
    assert (out.loc[serious, "class"] == "D").all()
    assert out["reason_1"].str.contains(" = ").mean() > 0.9  # Chinese name = value (+contribution)
    assert sorted(f.name for f in record.path.iterdir()) == sorted(
        [
            "classes.parquet",
            "domain_grades.parquet",
            "domain_inputs.parquet",
            "domain_summary.json",
            "domain_tables.json",
            "features.parquet",
            "indicators.yaml",
            "manifest.json",
            "params.json",
            "report.html",
            "report.json",
            "stability.json",
        ]
    )


def test_history_and_transitions(world):
    p, _root = world
    record = store_of(p).current("2026-09")
    summary = json.loads((record.path / "report.json").read_text(encoding="utf-8"))
    assert summary["previous_month"] == "2026-08"
    moved = sum(sum(row.values()) for row in summary["transitions"].values())
    aug = pd.read_parquet(store_of(p).current("2026-08").classes_path)
    sep = pd.read_parquet(record.classes_path)
    assert moved == len(set(aug["uscc"]) | set(sep["uscc"]))
    someone = sep["uscc"].iloc[0]
    h = entity_history(p, someone)
    assert h["month"].tolist() in (["2026-08", "2026-09"], ["2026-09"])
    assert (h["revision"] == 1).all()
    html = (record.path / "report.html").read_text(encoding="utf-8")
    assert "企业信用风险分类结果" in html and "不对外公开" in html


def test_a_rerun_of_a_sealed_month_changes_nothing_and_it_verifies_and_reproduces(world):
    p, _root = world
    store = store_of(p)
    before = tree(store.root)
    outcome = classify_month(p, "2026-09")
    assert not outcome.sealed_now and outcome.record.revision == 1
    assert tree(store.root) == before
    result = verify(p, "2026-09")
    assert result.problems == []
    assert reproduce(p, "2026-09").problems == []


def test_a_promotion_affects_the_next_month_only_unless_a_revision_is_asked(fork):
    p, _root = fork
    store = store_of(p)
    before = tree(store.months_dir)
    promote_variant(p)
    assert not classify_month(p, "2026-09").sealed_now  # the sealed month is not re-classified
    outcome = classify_month(p, "2026-10")
    assert outcome.sealed_now and outcome.record.manifest["model"]["version"] == "8"
    assert set(pd.read_parquet(outcome.record.classes_path)["model_version"]) == {"8"}
    revised = classify_month(p, "2026-09", "revision", "re-classified with v8 at the director's request", "auditor")
    assert revised.record.revision == 2 and revised.record.entry["by"] == "auditor"
    after = tree(store.months_dir)
    assert {k: after[k] for k in before} == before  # nothing written earlier changed a byte
    assert len(list(store.models_dir.iterdir())) == 2  # both models kept
    history = entity_history(p, pd.read_parquet(revised.record.classes_path)["uscc"].iloc[0])
    assert history.set_index("month").loc["2026-09", "revision"] == 2
    result = verify(p, every=True)
    assert result.problems == []
    for month, revision in [("2026-09", 1), ("2026-09", 2), ("2026-10", 1)]:
        assert reproduce(p, month, revision).problems == []
    with pytest.raises(RecordError, match="needs a reason"):
        classify_month(p, "2026-09", "revision", "")


def test_periods_are_checked(fork):
    p, _root = fork
    with pytest.raises(PeriodError, match="after the data snapshot"):
        classify_month(p, "2027-05")
    with pytest.raises(PeriodError, match="before the data window"):
        classify_month(p, "2019-01")
    with pytest.raises(PeriodError, match="YYYY-MM"):
        classify_month(p, "2026-13")
    with pytest.raises(RecordError, match="back-fill"):
        classify_month(p, "2026-05")
    assert store_of(p).sealed_months() == ["2026-08", "2026-09"]
    outcome = classify_month(p, "2026-05", "backfill", "the May run was missed")
    assert outcome.record.entry["kind"] == "backfill" and outcome.record.manifest["previous"] is None
    assert store_of(p).sealed_months() == ["2026-05", "2026-08", "2026-09"]
    assert verify(p, every=True).problems == []


def test_a_second_writer_changes_nothing(fork):
    p, _root = fork
    store = store_of(p)
    before = tree(store.root)
    with exclusive(store.root, "another classify"), pytest.raises(LockHeld, match="another classify"):
        classify_month(p, "2026-10")
    assert tree(store.root) == before


def test_an_interrupted_run_leaves_no_record_and_a_rerun_completes(fork, monkeypatch):
    p, _root = fork
    store = store_of(p)
    before = tree(store.root)
    import riskclass.classify.run as run_module

    def power_cut(*args, **kwargs):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(run_module, "build_manifest", power_cut)
    with pytest.raises(KeyboardInterrupt):
        classify_month(p, "2026-10")
    monkeypatch.undo()
    assert tree(store.root) == before
    assert classify_month(p, "2026-10").sealed_now
    assert verify(p).problems == []


def test_the_score_bands_come_from_params_and_take_effect_for_the_next_month(fork):
    p, _root = fork
    q = copy.deepcopy(p)
    q["score"]["bands"] = {"A": 0, "B": 100, "C": 400, "D": 700}
    record = classify_month(q, "2026-10").record
    out = pd.read_parquet(record.classes_path)
    assert json.loads((record.path / "params.json").read_text(encoding="utf-8"))["bands"] == q["score"]["bands"]
    expected = np.select([out["score"] >= 700, out["score"] >= 400, out["score"] >= 100], ["D", "C", "B"], "A")
    assert (out["model_class"] == expected).all()
    sealed = pd.read_parquet(store_of(p).current("2026-09").classes_path)
    assert (
        sealed["model_class"]
        .eq(np.select([sealed["score"] >= 750, sealed["score"] >= 500, sealed["score"] >= 200], ["D", "C", "B"], "A"))
        .all()
    )
    q["score"]["pdo"] = 250
    with pytest.raises(ValueError, match=r"score\.pdo"):
        classify_month(q, "2026-10", "revision", "new pdo")


def test_bands_per_entity_type_are_sealed_applied_and_reproduced(fork):
    p, _root = fork
    q = copy.deepcopy(p)
    q["score"]["bands_by_type"] = {"individual": {"A": 0, "B": 300, "C": 600, "D": 850}}
    record = classify_month(q, "2026-10").record
    used = json.loads((record.path / "params.json").read_text(encoding="utf-8"))
    assert used["bands_by_type"] == q["score"]["bands_by_type"] and used["bands"] == q["score"]["bands"]
    out = pd.read_parquet(record.classes_path)
    own = out["entity_type"] == "individual"
    general = np.select([out["score"] >= 750, out["score"] >= 500, out["score"] >= 200], ["D", "C", "B"], "A")
    individual = np.select([out["score"] >= 850, out["score"] >= 600, out["score"] >= 300], ["D", "C", "B"], "A")
    assert own.any() and (~own).any()
    assert (out["model_class"] == np.where(own, individual, general)).all()
    assert (out.loc[own, "model_class"] != general[own.to_numpy()]).any()  # the type's bands made a difference
    assert reproduce(p, "2026-10").problems == []  # from the sealed params.json, whatever params.yaml says now


def _rewrite(path: Path, edit) -> None:
    frame = pd.read_parquet(path)
    edit(frame)
    write_parquet(frame, path)


def test_verify_names_each_kind_of_tampering(fork):
    p, _root = fork
    store = store_of(p)
    record = store.current("2026-09")

    def caught(path: Path, change, expect: str):
        original = path.read_bytes()
        try:
            change(path)
            problems = verify(p, "2026-09").problems
            assert any(expect in x for x in problems), problems
        finally:
            path.write_bytes(original)
        assert verify(p, "2026-09").problems == []

    def flip_first_class(path: Path) -> None:
        _rewrite(path, lambda f: f.loc.__setitem__((0, "class"), "A" if f.loc[0, "class"] != "A" else "B"))

    def replace(old: bytes, new: bytes):
        return lambda path: path.write_bytes(path.read_bytes().replace(old, new))

    caught(record.classes_path, flip_first_class, "file classes.parquet differs")
    caught(store.history_path, flip_first_class, "history")
    caught(record.path / "params.json", replace(b'"reasons"', b'"reasons_"'), "params.json differs")
    caught(record.path / "manifest.json", replace(b'"version": "7"', b'"version": "9"'), "manifest differs")
    model_json = store.model_path(record.manifest["model"]["id"]) / "model.json"
    caught(model_json, replace(b"}", b"} "), "files differ")
    caught(store.ledger_path, replace(b"2026-08", b"2026-07"), "ledger")


def _consistent_rewrite_of_latest(store: RecordStore) -> None:
    """What an insider with write access but no key can do: alter the latest month and re-seal every hash."""
    record = store.current("2026-09")
    _rewrite(record.classes_path, lambda f: f.loc.__setitem__((slice(None), "class"), "A"))
    manifest = record.manifest
    manifest["files"]["classes.parquet"] = sha256_file(record.classes_path)
    (record.path / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    entries = store.ledger()
    last = entries[-1]
    last["manifest_sha256"] = sha256_file(record.path / "manifest.json")
    write_parquet(store.history_frame(), store.history_path)
    last["history_sha256"] = sha256_file(store.history_path)
    last["entry_sha256"] = canonical_sha({k: v for k, v in last.items() if k not in ("entry_sha256", "anchor")})
    store.ledger_path.write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in entries), encoding="utf-8")


def test_a_consistent_rewrite_of_the_latest_month_is_caught_by_the_key_and_by_reproduce(
    small_city, small_city_ingested, params, tmp_path, monkeypatch
):
    key = tmp_path / "keys" / "audit.key"
    key.parent.mkdir()
    key.write_text("0123456789abcdef0123456789abcdef", encoding="utf-8")
    monkeypatch.setenv("RISKCLASS_AUDIT_KEY_FILE", str(key))
    p, _root = classified_world(small_city, small_city_ingested[0], params, tmp_path / "w")
    store = store_of(p)
    assert verify(p).problems == [] and all(e["anchor"] for e in store.ledger())
    _consistent_rewrite_of_latest(store)
    assert any("HMAC" in x for x in verify(p).problems)
    monkeypatch.delenv("RISKCLASS_AUDIT_KEY_FILE")  # without the key only the head and reproduce can tell
    Path(p["classify"]["head_file"]).unlink()
    keyless = verify(p)
    assert keyless.problems == [] and any("no audit key" in n for n in keyless.notes)
    assert any("classes.parquet differs" in x for x in reproduce(p, "2026-09").problems)


def test_a_truncated_ledger_is_caught_by_the_committed_head(fork):
    p, _root = fork
    store = store_of(p)
    lines = store.ledger_path.read_text(encoding="utf-8").splitlines(keepends=True)
    store.ledger_path.write_text("".join(lines[:-1]), encoding="utf-8")
    problems = verify(p).problems
    assert any("truncated" in x for x in problems), problems


def test_reproduce_after_later_months_and_new_data_names_the_model_when_it_is_corrupted(fork):
    p, _root = fork
    promote_variant(p)
    classify_month(p, "2026-10")
    (Path(p["features"]["feedback_dir"])).mkdir(parents=True, exist_ok=True)
    result = reproduce(p, "2026-08")
    assert result.problems == []
    store = store_of(p)
    model_file = store.model_path(store.current("2026-08").manifest["model"]["id"]) / "model.cbm"
    model_file.write_bytes(model_file.read_bytes()[:-64] + b"\0" * 64)
    problems = reproduce(p, "2026-08").problems
    assert problems and any("cause — model" in x for x in problems), problems
    with pytest.raises(RecordError, match="no sealed record for 2026-06"):
        reproduce(p, "2026-06")


def test_the_first_run_of_an_empty_store_seals_the_initial_history_in_month_order(fork):
    p, root = fork
    q = copy.deepcopy(p)
    q["classify"].update(
        records_dir=str(root / "fresh"), head_file=str(root / "fresh_head.json"), initial_history_months=3
    )
    outcomes = classify_with_history(q, "2026-09")
    store = store_of(q)
    assert [o.record.label for o in outcomes] == ["2026-07 r1", "2026-08 r1", "2026-09 r1"]
    assert [e["month"] for e in store.ledger()] == ["2026-07", "2026-08", "2026-09"]
    assert all(e["kind"] == "monthly" for e in store.ledger())
    assert "initial history" in store.ledger()[0]["reason"] and store.ledger()[-1]["reason"] == ""
    assert store.record("2026-08").manifest["previous"]["month"] == "2026-07"  # each compares with the one before
    # a store that holds a month seals only the month asked for, and a sealed month is left as it is
    assert [o.sealed_now for o in classify_with_history(q, "2026-09")] == [False]
    assert len(store.ledger()) == 3
    # the history never reaches before the data window
    r = copy.deepcopy(q)
    r["classify"].update(records_dir=str(root / "short"), head_file=str(root / "short_head.json"))
    r["classify"].update(first_month="2026-09", initial_history_months=12)
    assert [o.record.month for o in classify_with_history(r, "2026-09")] == ["2026-09"]


def test_domain_grades_are_sealed_with_the_classes_and_reproduced_from_the_record(fork):
    """通用+专业: each month's record carries the domain grades computed with its classes; the audit regrades them
    from the record's own inputs and points tables; the plan turns them into professional items."""
    from riskclass.plan import run_plan

    p, _root = fork
    record = store_of(p).current("2026-09")
    grades = pd.read_parquet(record.path / "domain_grades.parquet")
    classes = pd.read_parquet(record.classes_path).set_index("uscc")
    assert set(grades["domain"]) == {"food", "drug_retail", "special_equipment"}
    assert (grades["general_class"].to_numpy() == classes.loc[grades["uscc"], "class"].to_numpy()).all()
    assert (grades.loc[grades["override"] != "", "grade"] == "D").all()
    assert grades["reasons"].str.contains(r"\+\d").mean() > 0.9  # which points were scored
    assert "validated/food_licences.parquet" in record.manifest["domain_sources"]
    assert reproduce(p, "2026-09").problems == []
    # a grade altered and every hash re-sealed is caught by the regrade
    path = record.path / "domain_grades.parquet"
    _rewrite(path, lambda f: f.loc.__setitem__((slice(None), "grade"), "A"))
    manifest = record.manifest
    manifest["files"]["domain_grades.parquet"] = sha256_file(path)
    (record.path / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    assert any("domain_grades.parquet differs" in x for x in reproduce(p, "2026-09").problems)
    # the next plan schedules the minimum frequencies of the grades sealed with its classes month
    _plan, summary, plan_dir = run_plan(p, "2026-10")
    items = pd.read_csv(plan_dir / "internal" / "professional_items.csv", encoding="utf-8-sig", dtype=str)
    assert set(items["month"]) == {"10"} and items["uscc"].isin(grades["uscc"]).all()
    assert summary["professional"]["domains"]["food"]["compliance"] == 1.0


def test_a_record_sealed_without_domain_grades_verifies_and_reproduces(fork, monkeypatch):
    """Records sealed before the domain graders existed have none of their files: nothing fails on them."""
    import riskclass.classify.run as run_module

    p, _root = fork
    monkeypatch.setattr(run_module, "_domain_grades", lambda *args: None)
    classify_month(p, "2026-10")
    record = store_of(p).current("2026-10")
    assert not (record.path / "domain_grades.parquet").exists() and "domain_sources" not in record.manifest
    assert verify(p, "2026-10").problems == [] and reproduce(p, "2026-10").problems == []


def test_classes_from_the_snapshot_file_in_chunks_are_those_of_the_whole_frame(world, monkeypatch):
    """A large month is classified from its Parquet file a chunk at a time; chunk edges change no row."""
    from riskclass.classify import outputs
    from riskclass.indicators import load_catalog
    from riskclass.model.risk_model import RiskModel

    p, _root = world
    store = store_of(p)
    record = store.current("2026-09")
    params = json.loads((record.path / "params.json").read_text(encoding="utf-8"))
    model = RiskModel.load(store.model_path(record.manifest["model"]["id"]))
    catalog = load_catalog(record.path / "indicators.yaml")
    whole = outputs.classify_frame(pd.read_parquet(record.features_path), model, params, "2026-09", catalog)
    monkeypatch.setattr(outputs, "CLASSIFY_CHUNK", 173)  # chunks that cut the file's row groups anywhere
    chunked = outputs.classify_frame(record.features_path, model, params, "2026-09", catalog)
    pd.testing.assert_frame_equal(chunked, whole)
    pd.testing.assert_frame_equal(chunked, pd.read_parquet(record.classes_path))
