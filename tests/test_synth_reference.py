"""The synthetic city's output is pinned: a small city generated with a recorded configuration must give the
recorded bytes, file by file, so that a refactoring of the generator (or a new stream added to it) cannot
change a table that already exists.

The reference (tests/data/synth_reference_sha256.json) holds the configuration and the sha256 of every table
file and truth file, and of each table's rows of the corruption log (the log itself, summary.json and
snapshot.json list every table, so they change whenever a table is added). Files not listed are not checked.
Re-record it only for a deliberate change of the generated data, with the reason in the commit:
``python tests/test_synth_reference.py``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from riskclass.io import sha256_file
from riskclass.synth import generate

REFERENCE = Path(__file__).with_name("data") / "synth_reference_sha256.json"
# summary, snapshot and corruption log name every table; the log is checked table by table instead
_AGGREGATE = {"summary.json", "raw/snapshot.json", "truth/corruptions.csv"}


def _merged(base: dict, recorded: dict) -> dict:
    """``recorded`` over ``base``, recursively: keys added to params.yaml since the recording keep their value."""
    out = dict(base)
    for key, value in recorded.items():
        out[key] = _merged(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return out


def _generate(out: Path, config: dict, params: dict) -> None:
    generate(
        out,
        entities=config["entities"],
        months=config["months"],
        seed=config["seed"],
        synth_params=_merged(params["synth"], config["synth"]),
        city=_merged(params["city"], config["city"]),
        show_progress=False,
    )


def _digests(out: Path) -> dict[str, str]:
    files = {
        str(f.relative_to(out)): sha256_file(f)
        for f in sorted(out.rglob("*"))
        if f.is_file() and str(f.relative_to(out)) not in _AGGREGATE
    }
    log = pd.read_csv(out / "truth" / "corruptions.csv", dtype=str, keep_default_na=False)
    for table, rows in log.groupby("table", sort=True):
        text = rows.to_csv(index=False, lineterminator="\n").encode("utf-8")
        files[f"truth/corruptions.csv[{table}]"] = hashlib.sha256(text).hexdigest()
    return files


def test_recorded_city_is_byte_identical(tmp_path, params):
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    _generate(tmp_path / "city", reference["config"], params)
    got = _digests(tmp_path / "city")
    changed = {name: (want, got.get(name)) for name, want in reference["sha256"].items() if got.get(name) != want}
    assert not changed, f"generated files differ from the reference: {sorted(changed)}"


def test_reference_covers_every_table_and_stream():
    """The recorded city is small but exercises every stream: no listed table is empty."""
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    rows = reference["rows"]
    assert {"changes", "annual_reports", "equity_actions", "penalties", "dishonest_debtors", "credit_repairs"} <= set(
        rows
    )
    assert {"inspections", "complaints", "public_opinion", "honours", "abnormal_listings", "serious_violations"} <= set(
        rows
    )
    assert {"roles", "licences", "check_items", "inspectors", "inspector_conflicts", "entities"} <= set(rows)
    assert min(rows.values()) > 0
    assert len(reference["sha256"]) >= len(rows) + 2  # every table file and both truth parquets


if __name__ == "__main__":  # record the reference with the current code
    import tempfile

    from riskclass.params import load_params

    p = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
    config = {"entities": 4000, "months": 24, "seed": 20261027, "synth": p["synth"], "city": p["city"]}
    with tempfile.TemporaryDirectory() as tmp:
        _generate(Path(tmp) / "city", config, p)
        summary = json.loads((Path(tmp) / "city" / "summary.json").read_text(encoding="utf-8"))
        record = {
            "config": config,
            "rows": {name: t["rows"] for name, t in summary["tables"].items()},
            "sha256": _digests(Path(tmp) / "city"),
        }
    REFERENCE.parent.mkdir(exist_ok=True)
    REFERENCE.write_text(json.dumps(record, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{REFERENCE}: {len(record['sha256'])} digests; rows {record['rows']}")
