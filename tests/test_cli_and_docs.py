from __future__ import annotations

from typer.testing import CliRunner

from riskclass.cli import app
from riskclass.contract_doc import render

from conftest import ROOT, write_snapshot

runner = CliRunner()


def test_help_lists_subcommands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("synth", "ingest", "contract-doc"):
        assert command in result.output


def test_ingest_cli_reports_a_broken_file_without_traceback(tmp_path):
    raw = write_snapshot(tmp_path / "raw")
    (raw / "penalties.csv").write_text("x,y\n1,2\n", encoding="utf-8")
    result = runner.invoke(app, ["ingest", "--raw", str(raw), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "penalties.csv" in result.output and "Traceback" not in result.output


def test_ingest_cli_writes_metrics_report(tmp_path):
    raw = write_snapshot(tmp_path / "raw")
    result = runner.invoke(
        app, ["ingest", "--raw", str(raw), "--out", str(tmp_path / "out"), "--report", str(tmp_path / "m.json")]
    )
    assert result.exit_code == 0, result.output
    assert '"reconciled": true' in (tmp_path / "m.json").read_text(encoding="utf-8")


def test_data_contract_doc_is_current():
    assert (ROOT / "docs" / "data-contract.md").read_text(encoding="utf-8") == render(), (
        "docs/data-contract.md is stale: run `riskclass contract-doc`"
    )


def test_features_cli_names_a_bad_month(tmp_path):
    result = runner.invoke(app, ["features", "--as-of", "2026-13", "--reports", str(tmp_path)])
    assert result.exit_code == 2
    assert "YYYY-MM" in result.output
