"""The monthly classification run: overrides, reasons, history, determinism, audit verify / reproduce."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from riskclass.classify.audit import reproduce, verify
from riskclass.classify.overrides import apply_overrides, validate_rules
from riskclass.classify.run import classify_month, entity_history
from riskclass.cli import set_classify_month
from riskclass.io import sha256_file, write_parquet

from conftest import ROOT, classified_world

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


def test_set_classify_month_keeps_the_rest_of_params(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text((ROOT / "params.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    set_classify_month(path, "2026-07")
    after = path.read_text(encoding="utf-8")
    assert 'month: "2026-07"' in after and "# the month classified" in after
    assert after.count("2026-07") == 1
    assert len(after.splitlines()) == len((ROOT / "params.yaml").read_text(encoding="utf-8").splitlines())


@pytest.fixture(scope="module")
def world(small_city, small_city_ingested, params, tmp_path_factory):
    """A champion trained on the small city, and the parameters pointing at scratch folders."""
    return classified_world(small_city, small_city_ingested[0], params, tmp_path_factory.mktemp("classify"))


def test_every_entity_gets_score_classes_reasons_and_version(world):
    p, root = world
    out = pd.read_parquet(root / "classes" / "2026-10.parquet")
    features = pd.read_parquet(root / "monthly" / "2026-10.parquet")
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


def test_history_and_transitions(world):
    _p, root = world
    summary = json.loads((root / "classes" / "reports" / "2026-10.json").read_text(encoding="utf-8"))
    assert summary["previous_month"] == "2026-09"
    moved = sum(sum(row.values()) for row in summary["transitions"].values())
    sept = pd.read_parquet(root / "classes" / "2026-09.parquet")
    octo = pd.read_parquet(root / "classes" / "2026-10.parquet")
    assert moved == len(set(sept["uscc"]) | set(octo["uscc"]))
    someone = octo["uscc"].iloc[0]
    h = entity_history(root / "classes", someone)
    assert h["month"].tolist() == ["2026-09", "2026-10"] or h["month"].tolist() == ["2026-10"]
    html = (root / "classes" / "reports" / "2026-10.html").read_text(encoding="utf-8")
    assert "企业信用风险分类结果" in html and "不对外公开" in html


def test_same_month_twice_gives_identical_bytes_and_verify_passes(world):
    p, root = world
    files = ["2026-10.parquet", "reports/2026-10.json", "reports/2026-10.html", "manifests/2026-10.json"]
    before = {f: sha256_file(root / "classes" / f) for f in files}
    classify_month(p, "2026-10")
    assert {f: sha256_file(root / "classes" / f) for f in files} == before
    assert verify(p, "2026-10") == []
    assert reproduce(p, "2026-10") == []


def test_verify_names_a_tampered_class(world, tmp_path):
    p, root = world
    path = root / "classes" / "2026-10.parquet"
    original = path.read_bytes()
    try:
        frame = pd.read_parquet(path)
        frame.loc[0, "class"] = "A" if frame.loc[0, "class"] != "A" else "B"  # one value edited
        write_parquet(frame, path)
        problems = verify(p, "2026-10")
        assert problems == ["output 2026-10.parquet: content differs from the manifest"]
    finally:
        path.write_bytes(original)
    assert verify(p, "2026-10") == []


def test_verify_detects_a_broken_chain_and_a_changed_model(world):
    p, root = world
    first = root / "classes" / "manifests" / "2026-09.json"
    original = first.read_bytes()
    try:
        first.write_bytes(original.replace(b'"month": "2026-09"', b'"month": "2026-09" '))
        assert any("chain broken" in x for x in verify(p, "2026-10"))
    finally:
        first.write_bytes(original)
    meta = root / "champion" / "model.json"
    saved = meta.read_bytes()
    try:
        meta.write_bytes(saved + b"\n")
        assert any("model file model.json" in x for x in verify(p, "2026-10"))
    finally:
        meta.write_bytes(saved)


def test_interrupted_run_leaves_previous_results_and_rerun_completes(world, monkeypatch):
    p, root = world
    sept = sha256_file(root / "classes" / "2026-09.parquet")
    import riskclass.classify.run as run_module

    def boom(*args, **kwargs):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(run_module, "update_history", boom)
    with pytest.raises(KeyboardInterrupt):
        classify_month(p, "2026-10")
    monkeypatch.undo()
    assert sha256_file(root / "classes" / "2026-09.parquet") == sept
    assert not [f for f in (root / "classes").rglob(".*")]  # no half-written scratch files left
    pd.read_parquet(root / "classes" / "2026-10.parquet")  # a complete file, old or new, never half-written
    classify_month(p, "2026-10")
    assert verify(p, "2026-10") == []
