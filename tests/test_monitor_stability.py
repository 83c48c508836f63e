"""Stability monitoring: PSI/CSI, the importance-weighted verdict, stability.json in the sealed record
(reproduced by the audit), and the exit codes of `riskclass monitor`."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from riskclass.monitor.stability import build_profile, fit_bins, month_stability, proportions, psi

from conftest import ROOT

MP = {
    "n_bins": 10,
    "placeholders": [9999.0],
    "epsilon": 1e-4,
    "watch": 0.10,
    "shifted": 0.25,
    "responsible_min": 0.01,
    "basis": "training",
}


class StubModel:
    """The three things stability reads from a model: its indicators, its scores and its importance."""

    def __init__(self):
        self.numeric = ["used", "also_used", "ignored"]
        self.categorical = ["section"]
        self.features = self.numeric + self.categorical

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        return np.round(300 + 100 * frame["used"] + 50 * frame["also_used"]).to_numpy()

    def importance(self) -> pd.Series:
        return pd.Series({"used": 60.0, "also_used": 39.5, "ignored": 0.3, "section": 0.2})


def month(seed: int, n: int = 4000, shift: dict | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    shift = shift or {}
    frame = pd.DataFrame(
        {
            "uscc": [f"U{i:07d}" for i in range(n)],
            "used": rng.normal(shift.get("used", 0.0), 1.0, n),
            "also_used": rng.poisson(2.0, n).astype(float),
            "ignored": rng.normal(shift.get("ignored", 0.0), 1.0, n),
            "section": rng.choice(list("FGL"), n, p=[0.5, 0.3, 0.2]),
        }
    )
    frame.loc[frame.index[: n // 10], "also_used"] = 9999.0  # placeholders: "never happened"
    return frame


def stability_of(frame: pd.DataFrame, profile: dict | None, previous=None) -> dict:
    model = StubModel()
    scores = pd.DataFrame({"uscc": frame["uscc"], "score": model.score(frame)})
    return month_stability("2026-09", frame, scores, model, profile, MP, previous)


@pytest.fixture(scope="module")
def profile() -> dict:
    return build_profile(StubModel(), month(1, 20000), MP, {"from": "2024-06", "to": "2024-10"})


def test_an_unchanged_month_is_stable_and_a_shifted_indicator_is_named(profile):
    same = stability_of(month(2), profile)
    assert same["basis"] == "training" and same["decided_by"] == "training"
    assert same["verdict"] == "stable" and same["responsible"] == []
    moved = stability_of(month(3, shift={"used": 0.8}), profile)
    assert moved["verdict"] == "shifted"
    assert moved["responsible"][0]["indicator"] == "used"
    assert moved["against"]["training"]["psi"]["used"] > MP["shifted"]


def test_an_indicator_the_model_hardly_uses_does_not_alarm(profile):
    result = stability_of(month(4, shift={"ignored": 2.0}), profile)
    assert result["against"]["training"]["psi"]["ignored"] > 1.0  # a big shift …
    assert result["verdict"] == "stable" and result["responsible"] == []  # … of an indicator the model ignores


def test_the_validation_baseline_is_the_basis_and_a_sudden_break_from_last_month_still_alarms():
    """The model was accepted on a validation month already shifted from its training window: that known shift
    is reported but does not alarm; drift since acceptance or a break from last month does."""
    model = StubModel()
    train, accepted = month(11, 20000), month(12, 20000, shift={"used": 0.8})
    profile = build_profile(
        model,
        train,
        MP,
        {"from": "2024-06", "to": "2024-10"},
        validation=(accepted, {"from": "2025-10", "to": "2025-10"}),
    )
    mp = {**MP, "basis": "validation"}

    def stability(frame, previous=None):
        scores = pd.DataFrame({"uscc": frame["uscc"], "score": model.score(frame)})
        return month_stability("2026-09", frame, scores, model, profile, mp, previous)

    def as_previous(frame):
        return ("2026-08", frame, pd.DataFrame({"uscc": frame["uscc"], "score": model.score(frame)}))

    like_accepted = month(13, shift={"used": 0.8})
    calm = stability(like_accepted, as_previous(month(14, shift={"used": 0.8})))
    assert calm["basis"] == "validation" and calm["verdict"] == "stable" and calm["decided_by"] == "validation"
    assert calm["against"]["training"]["verdict"] == "shifted"  # known at acceptance: reported, not alarmed
    assert calm["against"]["training"]["responsible"][0]["indicator"] == "used"
    moved = stability(month(15, shift={"used": 1.6}), as_previous(month(16, shift={"used": 1.6})))
    assert moved["verdict"] == "shifted" and moved["decided_by"] == "validation"  # drift since acceptance
    broken = stability(like_accepted, as_previous(month(17, shift={"used": -0.2})))
    assert broken["against"]["validation"]["verdict"] == "stable"
    assert broken["verdict"] == "shifted" and broken["decided_by"] == "previous"  # a sudden break
    assert broken["responsible"][0] | {"against": "previous"} == broken["responsible"][0]
    older = stability_of(like_accepted, build_profile(model, train, MP, {"from": "2024-06", "to": "2024-10"}))
    assert older["basis"] == "training"  # an export without the baseline: the training window, said so
    older_v = month_stability(
        "2026-09",
        like_accepted,
        pd.DataFrame({"uscc": like_accepted["uscc"], "score": model.score(like_accepted)}),
        model,
        build_profile(model, train, MP, {"from": "2024-06", "to": "2024-10"}),
        mp,
        None,
    )
    assert older_v["basis"] == "training" and "no validation baseline" in older_v["note"]


def test_without_a_profile_the_previous_month_is_the_basis_and_it_says_so():
    prev = month(5)
    model = StubModel()
    previous = ("2026-08", prev, pd.DataFrame({"uscc": prev["uscc"], "score": model.score(prev)}))
    result = stability_of(month(6, shift={"used": 0.8}), None, previous)
    assert result["basis"] == "previous" and "previous sealed month only" in result["note"]
    assert result["verdict"] == "shifted" and result["responsible"][0]["indicator"] == "used"
    alone = stability_of(month(6), None, None)
    assert alone["verdict"] is None and alone["basis"] is None and "nothing to compare" in alone["note"]


def test_bins_keep_placeholders_apart_and_categories_unseen_in_the_reference():
    ref = month(7)
    bins = fit_bins(ref["also_used"], "numeric", 10, [9999.0])
    shares = proportions(ref["also_used"], bins)
    assert shares[-1] == pytest.approx(0.1) and shares.sum() == pytest.approx(1.0)
    cats = fit_bins(ref["section"], "categorical", 10, [])
    new = proportions(pd.Series(["F", "Z", "", "G"]), cats)
    assert new.tolist() == [0.25, 0.25, 0.0, 0.25, 0.25]  # F, G, L, other (Z), missing ("")


def _evidently_psi(ref: pd.Series, cur: pd.Series, categorical: bool) -> float:
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    kind = {"categorical_columns": ["x"]} if categorical else {"numerical_columns": ["x"]}
    definition = DataDefinition(**kind)
    snap = Report([ValueDrift(column="x", method="psi")]).run(
        current_data=Dataset.from_pandas(pd.DataFrame({"x": cur}), data_definition=definition),
        reference_data=Dataset.from_pandas(pd.DataFrame({"x": ref}), data_definition=definition),
    )
    return float(snap.dict()["metrics"][0]["value"])


def test_psi_equals_evidently_on_the_same_bins():
    """Evidently bins a numeric column with > 20 values by Sturges' rule on both samples together, and others
    by value; with those bins given to ``proportions``, our formula and epsilon give Evidently's figure."""
    rng = np.random.default_rng(11)
    ref = pd.Series(rng.normal(0, 1, 3000))
    cur = pd.Series(rng.normal(0.4, 1.3, 2000))
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    # np.histogram's bins are [e_i, e_i+1) (last closed); our edges are right-closed: shift by one ulp
    inner = {"kind": "numeric", "edges": list(np.nextafter(edges[1:-1], -np.inf)), "placeholders": []}
    ours = psi(proportions(ref, inner)[:-1], proportions(cur, inner)[:-1], 1e-4)
    assert ours == pytest.approx(_evidently_psi(ref, cur, False), abs=1e-9)
    # by value, with a category missing from the current month (the epsilon handling)
    ref_c = pd.Series(rng.choice(list("abcd"), 3000, p=[0.4, 0.3, 0.2, 0.1]))
    cur_c = pd.Series(rng.choice(list("abc"), 2000, p=[0.2, 0.3, 0.5]))
    bins = fit_bins(ref_c, "categorical", 10, [])
    ours = psi(proportions(ref_c, bins), proportions(cur_c, bins), 1e-4)
    assert ours == pytest.approx(_evidently_psi(ref_c, cur_c, True), abs=1e-9)


# -- in the sealed record, reproduced, and the exit codes of `riskclass monitor` ------------------------
@pytest.fixture(scope="module")
def world(small_city, small_city_ingested, params, tmp_path_factory):
    from riskclass.classify.run import classify_month
    from riskclass.indicators import load_month, months_between
    from riskclass.model.risk_model import RiskModel

    from conftest import trained_world

    root = tmp_path_factory.mktemp("monitor")
    p = trained_world(small_city, small_city_ingested[0], params, root)
    p["monitor"]["reports"].update(dir=str(root / "monitoring"), metrics=str(root / "monitoring.json"))
    champion = Path(p["classify"]["model_dir"])
    model = RiskModel.load(champion)
    train = pd.concat([load_month(Path(p["model"]["features_dir"]), m) for m in months_between("2024-06", "2024-10")])
    model.profile = build_profile(model, train, p["monitor"]["profile"], {"from": "2024-06", "to": "2024-10"})
    model.save(champion)
    calm, alarmed = copy.deepcopy(p), copy.deepcopy(p)
    calm["monitor"]["stability"].update(watch=50.0, shifted=100.0)  # thresholds no month reaches
    alarmed["monitor"]["stability"].update(watch=1e-9, shifted=2e-9)  # thresholds every month exceeds
    classify_month(calm, "2026-08")
    classify_month(alarmed, "2026-09")
    params_file = root / "params.yaml"
    params_file.write_text(yaml.safe_dump(p, allow_unicode=True), encoding="utf-8")
    return p, params_file


def test_the_verdict_is_sealed_in_the_record_and_reproduced(world):
    from riskclass.classify.audit import reproduce
    from riskclass.records import RecordStore

    p, _ = world
    record = RecordStore(p["classify"]["records_dir"]).current("2026-09")
    stability = json.loads((record.path / "stability.json").read_text(encoding="utf-8"))
    assert "stability.json" in record.manifest["files"]
    assert stability["basis"] == "training" and stability["verdict"] == "shifted"  # a profile without baseline
    assert stability["against"]["previous"]["month"] == "2026-08"
    assert reproduce(p, "2026-09").problems == []
    assert reproduce(p, "2026-08").problems == []


def test_monitor_exits_10_on_a_shifted_month_and_0_on_a_stable_one(world):
    from riskclass.cli import app

    p, params_file = world
    runner = CliRunner()
    stable = runner.invoke(app, ["monitor", "--month", "2026-08", "--params", str(params_file)])
    assert stable.exit_code == 0, stable.output
    assert "stable" in stable.output
    shifted = runner.invoke(app, ["monitor", "--month", "2026-09", "--params", str(params_file)])
    assert shifted.exit_code == 10, shifted.output
    quiet = runner.invoke(app, ["monitor", "--month", "2026-09", "--no-alert", "--params", str(params_file)])
    assert quiet.exit_code == 0
    summary = json.loads(Path(p["monitor"]["reports"]["metrics"]).read_text(encoding="utf-8"))
    assert [m["verdict"] for m in summary["months"]] == ["stable", "shifted"]
    assert summary["latest"]["shifted"] == 1.0
    assert (Path(p["monitor"]["reports"]["dir"]) / "2026-09_vs_previous.html").exists()
    missing = runner.invoke(app, ["monitor", "--month", "2026-10", "--params", str(params_file)])
    assert missing.exit_code == 2 and "no sealed record" in missing.output


def test_the_monitoring_report_opens_offline_with_chinese_text_and_charts(world, tmp_path):
    import os

    import papermill

    from riskclass.monitor.run import monitor
    from riskclass.reporting import browser, check_offline, export_notebook, render

    if browser() is None:
        if os.environ.get("CI"):
            pytest.fail("no headless Chromium: `make install` installs chromium-headless-shell")
        pytest.skip("no headless Chromium on this machine")
    p, _ = world
    monitor(p, "2026-09")  # the Evidently pages and monitoring.json the report reads
    reports_dir = Path(p["monitor"]["reports"]["dir"])
    executed = reports_dir.parent / "60_monitor.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "60_monitor.ipynb"),
        str(executed),
        parameters={"metrics_path": p["monitor"]["reports"]["metrics"], "reports_dir": str(reports_dir)},
        kernel_name="riskclass",
        cwd=str(ROOT),
        progress_bar=False,
    )
    html = export_notebook(executed)
    check_offline(html.read_text(encoding="utf-8"), html)  # no network loads, no code cells
    dom = render(html, screenshot=tmp_path / "monitor.png")
    assert "分类稳定性监测" in dom and "各月结论" in dom and "偏移" in dom
    assert dom.count("<img") >= 3  # the PSI heat map, the score-PSI trend, the class shares
    assert 'href="monitoring/2026-09_vs_previous.html"' in dom  # the Evidently page, beside the report
    assert "enter_repo_root" not in dom
