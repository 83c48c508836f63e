"""A year of operation on the small city: twelve monthly runs with a promotion, a missed month back-filled
and a revision; at the end every record verifies and reproduces, and nothing written earlier changed."""

from __future__ import annotations

from riskclass.classify.audit import reproduce, verify
from riskclass.periods import months_between
from riskclass.records import RecordStore
from riskclass.synth.operation import run_year

from conftest import promote_variant, trained_world


def test_a_year_of_operation(small_city, small_city_ingested, params, tmp_path):
    p = trained_world(small_city, small_city_ingested[0], params, tmp_path)
    log = run_year(
        p,
        "2025-11",
        "2026-10",
        small_city / "truth",
        promote=lambda: promote_variant(p),
        promote_at="2026-04",
        skip="2026-02",
        backfill_at="2026-08",
        revise="2026-05",
        revise_at="2026-07",
    )
    assert log.changed == []  # no file sealed or drawn earlier changed a byte at any step
    store = RecordStore(p["classify"]["records_dir"])
    assert store.sealed_months() == months_between("2025-11", "2026-10")
    kinds = {(e["month"], e["revision"]): e["kind"] for e in store.ledger()}
    assert kinds[("2026-02", 1)] == "backfill" and kinds[("2026-05", 2)] == "revision" and len(kinds) == 13
    versions = {r.label: r.manifest["model"]["version"] for r in store.records()}
    assert versions["2026-03 r1"] == "7" and versions["2026-04 r1"] == "8" and versions["2026-05 r2"] == "8"
    assert len(list(store.models_dir.iterdir())) == 2
    assert verify(p, every=True).problems == []
    for record in store.records():
        assert reproduce(p, record.month, record.revision).problems == [], record.label
    checked = [m for m in log.months if m["classified"]]
    assert len(checked) == 11 and all(m["checks"] > 0 for m in checked)
