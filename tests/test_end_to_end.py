"""Heavier end-to-end check through the real command line (`make test-slow`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXE = str(Path(sys.executable).with_name("riskclass"))


@pytest.mark.slow
def test_cli_synth_then_ingest_on_a_20k_city(tmp_path):
    subprocess.run(
        [EXE, "synth", "--out", str(tmp_path / "city"), "--entities", "20000", "--months", "36"],
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    subprocess.run([EXE, "ingest", "--raw", str(tmp_path / "city" / "raw"), "--out", str(tmp_path / "val")], check=True)
    report = json.loads((tmp_path / "val" / "report.json").read_text(encoding="utf-8"))
    assert report["totals"]["reconciled"]
    share = report["totals"]["quarantined"] / report["totals"]["read"]
    assert 0.002 < share < 0.03  # ~0.5 % corrupted plus the records of corrupted entities
