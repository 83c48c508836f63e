"""Back-testing of sealed months (monitor/backtest.py) on a hand-built world whose rates, AUC and IPW estimates are
known: 4 × 40 entities, probability 5 / 10 / 20 / 40 % by class A–D, two vintages sealed with a partly elapsed
window (2026-03: 7 of 12 months; 2026-09: 1 month) and one (2026-10) with none, snapshot 2026-10-31."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from riskclass.cli import app
from riskclass.io import write_parquet
from riskclass.monitor.backtest import backtest, elapsed_months, prorated, write_report
from riskclass.records import RecordStore
from riskclass.records.store import MANIFEST, files_sha

from conftest import ROOT

CLASSES = "ABCD"
PROB = {"A": 0.05, "B": 0.10, "C": 0.20, "D": 0.40}
PER_CLASS = 40
Z = 1.959963984540054
# vintage 2026-03 (window 2026-04 … 2026-10): entities penalised per class; 2026-09 (window 2026-10): in October
PENALISED = {"A": 2, "B": 4, "C": 8, "D": 16}
OCTOBER = {"A": 0, "B": 1, "C": 2, "D": 4}
# undirected random checks in May 2026, per class: problems among 5 checks at π = 0.5 and among 5 at π = 0.25
PROBLEMS = {"A": (1, 0), "B": (0, 1), "C": (2, 1), "D": (3, 3)}
# ground truth: entities violating in July 2026 (window of 2026-03) and in October 2026 (window of 2026-09)
VIOLATING_JULY = {"A": 4, "B": 8, "C": 12, "D": 20}
VIOLATING_OCTOBER = {"A": 1, "B": 2, "C": 3, "D": 4}


def uscc(c: str, i: int) -> str:
    return f"U{c}{i:02d}"


def seal(store: RecordStore, month: str) -> None:
    folder = store.new_staging(month)
    entities = [(c, i) for c in CLASSES for i in range(PER_CLASS)]
    frame = pd.DataFrame(
        {
            "uscc": [uscc(c, i) for c, i in entities],
            "month": month,
            "score": [{"A": 100, "B": 300, "C": 600, "D": 800}[c] for c, _ in entities],
            "class": [c for c, _ in entities],
            "model_class": [c for c, _ in entities],
            "override": "",
            "reason_1": "",
            "reason_2": "",
            "reason_3": "",
            "model_version": "1",
            "probability": [PROB[c] for c, _ in entities],
        }
    )
    write_parquet(frame, folder / "classes.parquet")
    manifest = {"record": {"month": month, "revision": store.next_revision(month)}, "files": files_sha(folder)}
    (folder / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    store.seal(month, folder, "monthly", "", "test")


def build_world(
    tmp_path: Path, params: dict, penalised=PENALISED, problems=PROBLEMS, months=("2026-03", "2026-09", "2026-10")
):
    validated, truth, records = tmp_path / "validated", tmp_path / "truth", tmp_path / "records"
    validated.mkdir()
    truth.mkdir()
    (validated / "report.json").write_text(json.dumps({"snapshot_date": "2026-10-31"}), encoding="utf-8")
    pen = [(uscc(c, i), "2026-06-15") for c in CLASSES for i in range(penalised[c])]
    pen += [(uscc(c, i), "2026-10-10") for c in CLASSES for i in range(OCTOBER[c])]
    pen += [(uscc("A", 39), "2026-03-31"), (uscc("A", 38), "2026-11-05")]  # at the window start; after the snapshot
    write_parquet(
        pd.DataFrame(pen, columns=["uscc", "decision_date"]).astype({"decision_date": "datetime64[ms]"}),
        validated / "penalties.parquet",
    )
    checks = []
    for c in CLASSES:
        for group, (pi, found) in enumerate(zip((0.5, 0.25), problems[c], strict=True)):
            for j in range(5):
                checks.append(
                    (
                        uscc(c, 20 + 5 * group + j),
                        f"I{c}{group}{j}",
                        "2026-05-10",
                        "undirected",
                        pi,
                        "D" if j < found else "1",
                    )
                )
    checks.append((uscc("A", 0), "IX1", "2026-05-11", "directed", 0.9, "D"))  # a targeted check: not in the IPW view
    insp = pd.DataFrame(
        checks, columns=["uscc", "inspection_id", "inspection_date", "draw_type", "inclusion_prob", "result_code"]
    ).astype({"inspection_date": "datetime64[ms]"})
    write_parquet(insp, validated / "inspections.parquet")
    rows = []
    for c in CLASSES:
        for i in range(PER_CLASS):
            for m in ("2026-03", "2026-07", "2026-09", "2026-10", "2026-11"):
                bad = (m == "2026-07" and i < VIOLATING_JULY[c]) or (m == "2026-10" and i < VIOLATING_OCTOBER[c])
                rows.append((uscc(c, i), m, 0.0, bad or m == "2026-11"))  # November: after the snapshot
    write_parquet(
        pd.DataFrame(rows, columns=["uscc", "month", "risk_logit", "violating"]), truth / "entity_month.parquet"
    )
    store = RecordStore(records)
    for m in months:
        seal(store, m)
    p = copy.deepcopy(params)
    p["classify"]["records_dir"] = str(records)
    p["features"]["validated_dir"] = str(validated)
    p["model"]["truth_dir"] = str(truth)
    p["labels"]["events"] = {e: e == "penalty" for e in p["labels"]["events"]}
    p["backtest"].update(min_per_class=5, calibration_bins=4, min_elapsed_months_auc=6, auc_views=["observed"])
    p["gates"]["min_auc_oot"] = 0.65
    return p


def wilson(k: int, n: int) -> tuple[float, float]:
    rate = k / n
    centre = (rate + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z / (1 + Z**2 / n) * np.sqrt(rate * (1 - rate) / n + Z**2 / (4 * n**2))
    return centre - half, centre + half


def pairwise_auc(y, p, w=None) -> float:
    """Mann–Whitney: the weighted share of (event, non-event) pairs ordered right, ties counting one half."""
    y, p = np.asarray(y), np.asarray(p)
    w = np.ones(len(y)) if w is None else np.asarray(w)
    pos, neg = y == 1, y == 0
    diff = p[pos][:, None] - p[neg][None, :]
    pair_w = w[pos][:, None] * w[neg][None, :]
    return float((((diff > 0) + 0.5 * (diff == 0)) * pair_w).sum() / pair_w.sum())


def rows(result: dict, key: str, **where) -> list[dict]:
    return [r for r in result[key] if all(r[k] == v for k, v in where.items())]


def one(result: dict, key: str, **where) -> dict:
    found = rows(result, key, **where)
    assert len(found) == 1, (where, found)
    return found[0]


def test_elapsed_months_counts_whole_months_up_to_the_snapshot():
    snap = pd.Timestamp("2026-10-31").date()
    assert elapsed_months("2026-03", snap, 12) == 7
    assert elapsed_months("2026-10", snap, 12) == 0
    assert elapsed_months("2024-01", snap, 12) == 12  # closed: capped at the horizon
    assert elapsed_months("2026-03", pd.Timestamp("2026-10-30").date(), 12) == 6  # October not whole yet


def test_backtest_reproduces_known_rates_auc_and_ipw(tmp_path, params):
    result = backtest(build_world(tmp_path, params))
    assert [r["vintage"] for r in result["skipped"]] == ["2026-10"]
    assert sorted({(r["vintage"], r["elapsed_months"]) for r in result["vintages"]}) == [("2026-03", 7), ("2026-09", 1)]
    # observed: 2, 4, 8, 16 of 40 penalised in the window; Wilson intervals on n = 40
    for c in CLASSES:
        r = one(result, "class_rates", vintage="2026-03", view="observed", **{"class": c})
        assert (r["n"], r["events"], r["rate"]) == (40, PENALISED[c], PENALISED[c] / 40)
        low, high = wilson(PENALISED[c], 40)
        assert r["ci_low"] == pytest.approx(low, abs=1e-6) and r["ci_high"] == pytest.approx(high, abs=1e-6)
        assert r["predicted"] == pytest.approx(1 - (1 - PROB[c]) ** (7 / 12), abs=1e-6)
    obs = one(result, "vintages", vintage="2026-03", view="observed")
    y = [int(i < PENALISED[c]) for c in CLASSES for i in range(PER_CLASS)]
    p = [PROB[c] for c in CLASSES for _ in range(PER_CLASS)]
    assert obs["auc"] == pytest.approx(pairwise_auc(y, p), abs=1e-6)
    assert (obs["n"], obs["events"], obs["event_rate"]) == (160, 30, 30 / 160)
    assert obs["predicted_rate"] == pytest.approx(np.mean(prorated(np.array(p), 7, 12)), abs=1e-6)
    assert obs["order"] == "ok" and obs["auc_status"] == "ok" and not obs["window_closed"]
    # IPW: Hájek rate Σ y/π / Σ 1/π over the 10 undirected checks of each class (the directed one left out)
    for c in CLASSES:
        r = one(result, "class_rates", vintage="2026-03", view="ipw", **{"class": c})
        at_half, at_quarter = PROBLEMS[c]
        assert r["n"] == 10 and r["events"] == at_half + at_quarter
        assert r["rate"] == pytest.approx((2 * at_half + 4 * at_quarter) / (5 * 2 + 5 * 4), abs=1e-6)
        assert r["population_est"] == 30.0
    ipw = one(result, "vintages", vintage="2026-03", view="ipw")
    yi, pi, wi = [], [], []
    for c in CLASSES:
        for weight, found in zip((2.0, 4.0), PROBLEMS[c], strict=True):
            yi += [int(j < found) for j in range(5)]
            pi += [PROB[c]] * 5
            wi += [weight] * 5
    assert ipw["n"] == 40 and ipw["auc"] == pytest.approx(pairwise_auc(yi, pi, wi), abs=1e-6)
    assert ipw["order"] == "ok"
    # truth: violating in July or October (the October violators are among July's), not in November
    for c in CLASSES:
        r = one(result, "class_rates", vintage="2026-03", view="truth", **{"class": c})
        assert (r["n"], r["events"], r["rate"]) == (40, VIOLATING_JULY[c], VIOLATING_JULY[c] / 40)
    assert [a for a in result["alerts"] if a["level"] == "alert"] == []


def test_partial_window_uses_only_events_up_to_the_snapshot(tmp_path, params):
    result = backtest(build_world(tmp_path, params))
    # 2026-09 has one elapsed month: October's penalties only, not June's, nothing after the snapshot
    for c in CLASSES:
        r = one(result, "class_rates", vintage="2026-09", view="observed", **{"class": c})
        assert r["events"] == OCTOBER[c]
        t = one(result, "class_rates", vintage="2026-09", view="truth", **{"class": c})
        assert t["events"] == VIOLATING_OCTOBER[c]  # November's violations are not read
    assert one(result, "vintages", vintage="2026-09", view="observed")["window_end"] == "2026-10-31"
    # the penalty of UA38 on 2026-11-05 and of UA39 on 2026-03-31 (the window's open start) count nowhere
    assert one(result, "class_rates", vintage="2026-03", view="observed", **{"class": "A"})["events"] == 2
    # no random check in October: the IPW view of 2026-09 is insufficient, a notice and not an alert
    assert one(result, "vintages", vintage="2026-09", view="ipw")["order"] == "insufficient"
    notice = one(result, "alerts", vintage="2026-09", view="ipw")
    assert notice["level"] == "insufficient" and "样本不足" in notice["message_zh"]


def test_alert_when_the_observed_class_order_breaks(tmp_path, params):
    result = backtest(build_world(tmp_path, params, penalised={**PENALISED, "B": 1}))
    alert = one(result, "alerts", level="alert")
    assert (alert["vintage"], alert["view"], alert["rule"]) == ("2026-03", "observed", "class_order")
    assert "A<B<C<D" in alert["message_en"] and "严格递增" in alert["message_zh"]
    assert result["summary"]["alerts"] == 1


def test_alert_when_the_ipw_class_order_breaks(tmp_path, params):
    result = backtest(build_world(tmp_path, params, problems={**PROBLEMS, "D": (0, 0)}))
    alert = one(result, "alerts", level="alert")
    assert (alert["vintage"], alert["view"], alert["rule"]) == ("2026-03", "ipw", "class_order")


def test_auc_alert_only_for_windows_elapsed_enough(tmp_path, params):
    p = build_world(tmp_path, params)
    p["gates"]["min_auc_oot"] = 0.99
    alerts = [a for a in backtest(p)["alerts"] if a["rule"] == "auc_below_gate"]
    assert [(a["vintage"], a["view"]) for a in alerts] == [("2026-03", "observed")]  # 2026-09: 1 month, not judged
    assert "低于准入门槛 0.99" in alerts[0]["message_zh"]
    p["backtest"]["min_elapsed_months_auc"] = 1
    alerts = [a for a in backtest(p)["alerts"] if a["rule"] == "auc_below_gate"]
    assert [(a["vintage"], a["view"]) for a in alerts] == [("2026-03", "observed"), ("2026-09", "observed")]


def test_one_sealed_month_gives_an_empty_result_with_a_message(tmp_path, params):
    result = backtest(build_world(tmp_path, params, months=("2026-10",)))
    assert result["vintages"] == [] and result["alerts"] == [] and result["class_rates"] == []
    assert "nothing to back-test" in result["summary"]["message"] and result["summary"]["vintages_skipped"] == 1


def test_cli_writes_identical_bytes_and_honours_the_last_month(tmp_path, params, monkeypatch):
    p = build_world(tmp_path, params)
    (tmp_path / "params.yaml").write_text(json.dumps(p, ensure_ascii=False), encoding="utf-8")  # JSON is YAML
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    outs = []
    for name in ("a.json", "b.json"):
        res = runner.invoke(app, ["backtest", "--params", "params.yaml", "--out", name])
        assert res.exit_code == 0, res.output
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1]
    res = runner.invoke(app, ["backtest", "--params", "params.yaml", "--out", "c.json", "--month", "2026-08"])
    assert res.exit_code == 0, res.output
    assert {r["vintage"] for r in json.loads((tmp_path / "c.json").read_text())["vintages"]} == {"2026-03"}
    res = runner.invoke(app, ["backtest", "--params", "params.yaml", "--month", "2026-13"])
    assert res.exit_code == 2 and "YYYY-MM" in res.output


def test_report_opens_offline_with_chinese_text_and_charts(tmp_path, params):
    from riskclass.reporting import browser, check_offline, export_notebook, render

    if browser() is None:
        pytest.skip("no headless Chromium on this machine")
    papermill = pytest.importorskip("papermill")
    json_path = write_report(backtest(build_world(tmp_path, params)), tmp_path / "backtest.json")
    executed = tmp_path / "61_backtest.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "61_backtest.ipynb"),
        str(executed),
        parameters={"backtest_path": str(json_path)},
        kernel_name="riskclass",
        cwd=str(ROOT),
        progress_bar=False,
    )
    html = export_notebook(executed, tmp_path / "61_backtest.html")
    text = html.read_text(encoding="utf-8")
    check_offline(text, html)  # no network loads, no code cells
    assert "<script src=" not in text
    dom = render(html)
    assert "分类回测报告" in dom and "警报" in dom and "各类事件率" in dom
    assert dom.count("<img") >= 5  # rates per view (3), AUC, calibration
    assert "enter_repo_root" not in dom
