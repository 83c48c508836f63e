"""Loading the catalog validates it; the shipped catalog meets the published system's size."""

from __future__ import annotations

from collections import Counter

import pytest
import yaml

from riskclass.indicators import CatalogError, load_catalog
from riskclass.indicators.doc import render

from conftest import ROOT


def test_shipped_catalog_size_and_families():
    catalog = load_catalog(ROOT / "indicators.yaml")
    assert len(catalog.indicators) >= 80
    assert len({i.group for i in catalog.indicators}) >= 22
    families = Counter(i.family for i in catalog.indicators)
    assert set(families) == {"BAS", "DYN", "SUP", "REL", "SOC"} and min(families.values()) >= 10
    assert all(i.name_zh and i.name_en for i in catalog.indicators)
    assert len(catalog.sha256) == 64


def test_catalog_hash_changes_with_a_definition():
    base = yaml.safe_load((ROOT / "indicators.yaml").read_text(encoding="utf-8"))
    first = load_catalog(ROOT / "indicators.yaml").sha256
    base["indicators"][0]["sql"] += " + 0"
    path = ROOT / "tests" / "_tmp_catalog.yaml"
    try:
        path.write_text(yaml.safe_dump(base, allow_unicode=True), encoding="utf-8")
        assert load_catalog(path).sha256 != first
    finally:
        path.unlink()


def _broken(tmp_path, mutate) -> str:
    raw = yaml.safe_load((ROOT / "indicators.yaml").read_text(encoding="utf-8"))
    mutate(raw)
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogError) as err:
        load_catalog(path)
    return str(err.value)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c["indicators"][3].update(source="nonexistent"), "unknown source table 'nonexistent'"),
        (lambda c: c["indicators"][3].update(sql="capital + no_such_column"), "unknown column(s) ['no_such_column']"),
        (lambda c: c["indicators"].append(dict(c["indicators"][0])), "duplicate code"),
        (lambda c: c["indicators"][5].pop("unit"), "missing field(s) ['unit']"),
        (lambda c: c["indicators"][5].update(direction="sideways"), "direction must be one of"),
        (lambda c: c["indicators"][5].update(code="XXX.NOPE.thing"), "unknown group 'XXX.NOPE'"),
        (lambda c: c["indicators"][5].update(code="bad code"), "code must look like"),
        (lambda c: c.pop("groups"), "missing section 'groups'"),
        (lambda c: c["indicators"][5].update(colour="red"), "unknown field(s) ['colour']"),
    ],
)
def test_invalid_catalog_is_refused_with_a_clear_message(tmp_path, mutate, message):
    text = _broken(tmp_path, mutate)
    assert message in text


def test_indicator_doc_is_current():
    assert (ROOT / "docs" / "indicators.md").read_text(encoding="utf-8") == render(
        load_catalog(ROOT / "indicators.yaml")
    ), "docs/indicators.md is stale: run `riskclass indicators-doc`"
