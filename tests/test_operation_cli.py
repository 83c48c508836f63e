"""The command line of the monthly routine: the repository root, the period, the lock, bad values named."""

from __future__ import annotations

import copy

import pytest
import yaml
from typer.testing import CliRunner

from riskclass.cli import app, write_period
from riskclass.records import exclusive

from conftest import ROOT

runner = CliRunner()


@pytest.fixture
def params_file(tmp_path, small_city_ingested, params):
    """A params file whose data point at the small city and whose records live in tmp_path."""
    p = copy.deepcopy(params)
    p["features"].update(validated_dir=str(small_city_ingested[0]), feedback_dir=str(tmp_path / "feedback"))
    p["classify"].update(
        records_dir=str(tmp_path / "records"), head_file=str(tmp_path / "head.json"), model_dir=str(tmp_path / "m")
    )
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(p, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_commands_outside_the_repository_say_where_to_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 2 and "not inside a riskclass repository" in result.output
    monkeypatch.chdir(ROOT / "notebooks")
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 2 and f"cd {ROOT}" in result.output


def test_a_bad_snapshot_date_is_named():
    result = runner.invoke(app, ["ingest", "--raw", "x", "--out", "y", "--snapshot-date", "2026-02-30"])
    assert result.exit_code == 2 and "real date YYYY-MM-DD" in result.output and "Traceback" not in result.output


def test_bad_parameters_are_named_before_any_work(tmp_path):
    p = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    p["classify"]["reasons"] = -1
    p["plan"]["due_days"] = -60
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(p, allow_unicode=True), encoding="utf-8")
    result = runner.invoke(app, ["classify", "--month", "2026-09", "--params", str(bad)])
    assert result.exit_code == 2
    assert "classify.reasons = -1" in result.output and "plan.due_days = -60" in result.output


@pytest.mark.parametrize(
    ("month", "message"),
    [("2027-05", "after the data snapshot"), ("2019-01", "before the data window"), ("2026-13", "YYYY-MM")],
)
def test_months_outside_the_data_are_refused(params_file, month, message):
    result = runner.invoke(app, ["classify", "--month", month, "--params", str(params_file)])
    assert result.exit_code == 2 and message in result.output, result.output


def test_audit_of_a_month_never_sealed_is_refused_clearly(params_file):
    for args in (["reproduce", "--month", "2025-01"], ["verify", "--month", "2025-01"]):
        result = runner.invoke(app, ["audit", *args, "--params", str(params_file)])
        assert result.exit_code in (1, 2) and "Traceback" not in result.output
        assert "no sealed record" in result.output, result.output


def test_run_never_edits_params_and_a_second_run_changes_nothing(params_file, tmp_path):
    before = (ROOT / "params.yaml").read_bytes(), (ROOT / "period.yaml").read_bytes()
    records = yaml.safe_load(params_file.read_text(encoding="utf-8"))["classify"]["records_dir"]
    with exclusive(records, "riskclass run --month 2026-09 (first run)"):
        result = runner.invoke(app, ["run", "--month", "2026-08", "--params", str(params_file)])
    assert result.exit_code == 4 and "first run" in result.output and "nothing was changed" in result.output
    result = runner.invoke(app, ["run", "--month", "2027-01", "--params", str(params_file)])
    assert result.exit_code == 2 and "after the data snapshot" in result.output
    assert ((ROOT / "params.yaml").read_bytes(), (ROOT / "period.yaml").read_bytes()) == before
    write_period(tmp_path / "period.yaml", "2026-09")
    assert yaml.safe_load((tmp_path / "period.yaml").read_text(encoding="utf-8")) == {"month": "2026-09"}


@pytest.mark.parametrize(("refs", "message"), [(["champion", "challenger"], "alias"), (["99", "1"], "99")])
def test_model_compare_names_a_bad_reference(params_file, tmp_path, refs, message):
    p = yaml.safe_load(params_file.read_text(encoding="utf-8"))
    p["registry"].update(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", artifact_root=str(tmp_path / "art"))
    params_file.write_text(yaml.safe_dump(p, allow_unicode=True, sort_keys=False), encoding="utf-8")
    result = runner.invoke(app, ["model", "compare", *refs, "--params", str(params_file)])
    assert result.exit_code == 3 and "Traceback" not in result.output, result.output
    assert "refused" in result.output and ("not registered" in result.output or message in result.output)
