"""Back-testing: how the classes of each sealed month held up as the outcomes of its label window arrive.

A *vintage* is a sealed month's current revision: its entities, classes and stored calibrated probability.
Its label window is (end of the month, end of the month + ``labels.horizon_months``]; by the validated
snapshot date only the first ``k`` whole months of it have elapsed (k of 12). Every figure below uses only
events dated inside those k months, so nothing after the snapshot is read (``labels.adverse_events`` refuses
a window that ends after it).

Three views of each vintage, side by side (one row per vintage × view):

``observed``
    Every classified entity; the outcome is the training label — any enabled adverse event
    (``labels.events``) in the elapsed part of the window. Selection-biased: inspections follow the classes,
    so the classes with more checks show more problems.
``ipw``
    The unbiased view: entities checked by an undirected (不定向) random draw in the elapsed window, whether
    the check found a problem, each weighted by 1 / its inclusion probability (``random_draw_outcomes``,
    Hájek rates and Wilson intervals of ``plan.evaluate.ipw_rates``). A class with fewer than
    ``backtest.min_per_class`` checks is *insufficient*: its order is not judged.
``truth``
    The synthetic city only (when ``model.truth_dir`` exists): whether the entity truly violated in a
    month of the elapsed window (``truth_outcomes``).

Every view is also split by entity type (``by_entity_type``: n, events, event rate, AUC, and in the observed
view the predicted rate), since individual businesses and cooperatives are classed by the same model.

Calibration is shown for the observed view only, the one whose event is the model's label. A partly
elapsed window cannot be compared with the 12-month probability p, so the prediction is pro-rated under a
constant monthly hazard: p_k = 1 − (1 − p)^(k / horizon) (exact for closed windows, k = horizon).

Alerts (observed and IPW views separately): the class event rates are not strictly increasing A < B < C < D;
the realised AUC is below the promotion gate ``gates.min_auc_oot`` once at least
``backtest.min_elapsed_months_auc`` months have elapsed (shorter windows are too noisy to judge), in the views
``backtest.auc_views`` names — by default the observed one only, since the gate was set on the observed label (a
problem found by a random check is another event, with a lower AUC already at validation). Too few random
checks in a class give an *insufficient* notice, not an alert.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from riskclass.codes import CLASSES
from riskclass.io import atomic_write_bytes, json_ready, read_present
from riskclass.model import evaluate
from riskclass.model.labels import labels_for, random_draw_outcomes, truth_outcomes
from riskclass.periods import check_month, month_end, snapshot_date
from riskclass.plan.evaluate import ipw_rates, wilson_bounds
from riskclass.records import RecordStore

VIEWS = ("observed", "ipw", "truth")
VIEW_NAMES = {
    "observed": "观测（全部实体，含定向检查）observed",
    "ipw": "随机抽查加权（无偏）IPW random draws",
    "truth": "真实违法（仅合成城市）ground truth",
}
ALERT_VIEWS = ("observed", "ipw")  # the truth exists only in the synthetic city: shown, never alarmed on
ORDER_OK, ORDER_BROKEN, ORDER_INSUFFICIENT = "ok", "broken", "insufficient"
AUC_OK, AUC_BELOW, AUC_NOT_JUDGED = "ok", "below_gate", "not_judged"
DIGITS = 6  # rounding of every figure in the JSON: identical bytes on every run


@dataclass(frozen=True)
class Settings:
    """What one back-test run needs from params.yaml (``from_params``)."""

    validated_dir: Path
    truth_dir: Path
    horizon: int
    events: dict
    min_auc: float
    min_elapsed_months_auc: int
    min_per_class: int
    calibration_bins: int
    auc_views: tuple[str, ...] = ("observed",)

    @classmethod
    def from_params(cls, p: dict) -> Settings:
        bp = p["backtest"]
        return cls(
            validated_dir=Path(p["features"]["validated_dir"]),
            truth_dir=Path(p["model"]["truth_dir"]),
            horizon=int(p["labels"]["horizon_months"]),
            events=dict(p["labels"]["events"]),
            min_auc=float(p["gates"]["min_auc_oot"]),
            min_elapsed_months_auc=int(bp["min_elapsed_months_auc"]),
            min_per_class=int(bp["min_per_class"]),
            calibration_bins=int(bp["calibration_bins"]),
            auc_views=tuple(bp["auc_views"]),
        )


def elapsed_months(month: str, snapshot, horizon: int) -> int:
    """Whole months of ``month``'s label window that end on or before the snapshot date (0 … horizon)."""
    first = pd.Period(check_month(month), freq="M")
    last_whole = pd.Period(snapshot, freq="M")
    if month_end(str(last_whole)) > snapshot:  # a snapshot inside a month covers only the months before it
        last_whole -= 1
    return max(0, min(horizon, (last_whole - first).n))


def prorated(probability: np.ndarray, elapsed: int, horizon: int) -> np.ndarray:
    """The probability of an event within the first ``elapsed`` months, at a constant monthly hazard."""
    return 1.0 - (1.0 - np.asarray(probability, dtype=float)) ** (elapsed / horizon)


# -- one vintage -----------------------------------------------------------------------------------------------
def outcomes(classes: pd.DataFrame, month: str, elapsed: int, s: Settings, snapshot) -> dict[str, pd.DataFrame]:
    """Per view, the vintage's units with outcome ``y`` and weight ``w`` (plus class and probability)."""
    base = classes[[c for c in ("uscc", "class", "probability", "entity_type") if c in classes.columns]]
    y = labels_for(base["uscc"], s.validated_dir, month, elapsed, s.events, pd.Timestamp(snapshot))
    views = {"observed": base.assign(y=y.to_numpy(), w=1.0)}
    draws = random_draw_outcomes(s.validated_dir, month, elapsed)
    views["ipw"] = base.merge(draws, on="uscc").rename(columns={"problem": "y", "weight": "w"})
    truth = truth_outcomes(s.truth_dir, month, elapsed)
    if truth is not None:
        views["truth"] = base.merge(truth["violated"].rename("y"), left_on="uscc", right_index=True).assign(w=1.0)
    return {v: f.sort_values("uscc", kind="stable").reset_index(drop=True) for v, f in views.items()}


def class_rates(view: str, frame: pd.DataFrame, elapsed: int, horizon: int) -> pd.DataFrame:
    """Event rate with 95 % interval per class A–D (IPW for the random draws, Wilson on n otherwise)."""
    if view == "ipw" and len(frame):
        est = ipw_rates(frame.assign(inclusion_prob=1.0 / frame["w"], problem=frame["y"]), "class").set_index("class")
    rows = []
    for c in CLASSES:
        d = frame[frame["class"] == c]
        row = {"class": c, "n": len(d), "events": int(d["y"].sum()), "rate": None, "ci_low": None, "ci_high": None}
        if len(d):
            if view == "ipw":
                e = est.loc[c]
                row.update(rate=e["rate"], ci_low=e["ci_low"], ci_high=e["ci_high"], population_est=e["population_est"])
            else:
                rate = float(d["y"].mean())
                low, high = wilson_bounds(rate, len(d))
                row.update(rate=rate, ci_low=low, ci_high=high)
            if view == "observed":
                row["predicted"] = float(prorated(d["probability"], elapsed, horizon).mean())
        rows.append(row)
    return pd.DataFrame(rows)


def type_rates(month: str, elapsed: int, horizon: int, views: dict[str, pd.DataFrame]) -> list[dict]:
    """Per view × entity type (企业 / 个体工商户 / 农民专业合作社): n, events, event rate (IPW-weighted for the random
    draws), AUC and, in the observed view, the pro-rated predicted rate. Empty for records without a type."""
    rows = []
    for view, f in views.items():
        if "entity_type" not in f.columns:
            continue
        for t, d in f.groupby("entity_type", sort=True):
            w = d["w"].to_numpy() if view == "ipw" else None
            m = evaluate.discrimination(d["y"].to_numpy(), d["probability"].to_numpy(), w)
            predicted = float(prorated(d["probability"], elapsed, horizon).mean()) if view == "observed" else None
            rows.append(
                {
                    "vintage": month,
                    "elapsed_months": elapsed,
                    "view": view,
                    "entity_type": str(t),
                    "n": len(d),
                    "events": int(d["y"].sum()),
                    "event_rate": float(np.average(d["y"], weights=w)),
                    "auc": m["auc"],
                    "predicted_rate": predicted,
                }
            )
    return rows


def order_status(rates: pd.DataFrame, min_per_class: int) -> str:
    if (rates["n"] < min_per_class).any():
        return ORDER_INSUFFICIENT
    return ORDER_OK if evaluate.strictly_increasing(rates["rate"].tolist()) else ORDER_BROKEN


def backtest_vintage(
    classes: pd.DataFrame, month: str, revision: int, elapsed: int, s: Settings, views: dict[str, pd.DataFrame]
) -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    """Rows of the vintage table, the class-rate table, the calibration table and the alerts of one vintage."""
    versions = ",".join(sorted(classes["model_version"].astype(str).unique()))
    head = {
        "vintage": month,
        "revision": revision,
        "model_version": versions,
        "elapsed_months": elapsed,
        "horizon_months": s.horizon,
        "window_closed": elapsed == s.horizon,
        "window_end": str(month_end(str(pd.Period(month, freq="M") + elapsed))),
    }
    rows, class_rows, calibration, alerts = [], [], [], []
    for view in VIEWS:
        if view not in views:
            continue
        f = views[view]
        weights = None if view != "ipw" else f["w"].to_numpy()
        m = evaluate.discrimination(f["y"].to_numpy(), f["probability"].to_numpy(), weights) if len(f) else {}
        rates = class_rates(view, f, elapsed, s.horizon)
        predicted = float(prorated(f["probability"], elapsed, s.horizon).mean()) if len(f) else None
        order = order_status(rates, s.min_per_class)
        judged = elapsed >= s.min_elapsed_months_auc and m.get("auc") is not None
        auc_status = AUC_NOT_JUDGED if not judged else AUC_OK if m["auc"] >= s.min_auc else AUC_BELOW
        row = {
            **head,
            "view": view,
            "n": len(f),
            "events": int(f["y"].sum()),
            "event_rate": m.get("event_rate"),
            "auc": m.get("auc"),
            "ks": m.get("ks"),
            "predicted_rate": predicted if view == "observed" else None,
            "order": order,
            "auc_status": auc_status,
            **{f"rate_{r['class']}": r["rate"] for r in rates.to_dict("records")},
        }
        rows.append(row)
        class_rows += [
            {"vintage": month, "elapsed_months": elapsed, "view": view, **r} for r in rates.to_dict("records")
        ]
        if view == "observed" and len(f) >= s.calibration_bins:
            table = evaluate.calibration_table(
                f["y"].to_numpy(), prorated(f["probability"], elapsed, s.horizon), bins=s.calibration_bins
            )
            calibration += [
                {"vintage": month, "elapsed_months": elapsed, "bin": int(b), **r}
                for b, r in zip(table.index, table.to_dict("records"), strict=True)
            ]
        if view in ALERT_VIEWS:
            alerts += _alerts(row, rates, s)
    return rows, class_rows, calibration, alerts


def _pct(value) -> str:
    return "—" if value is None else f"{value:.1%}"


def _within_noise(rates: pd.DataFrame) -> bool:
    """True when every adjacent pair out of order has overlapping 95 % intervals."""
    r = rates.to_dict("records")
    pairs = [(a, b) for a, b in itertools.pairwise(r) if not b["rate"] > a["rate"]]
    return all(b["ci_high"] >= a["ci_low"] for a, b in pairs)


def _alerts(row: dict, rates: pd.DataFrame, s: Settings) -> list[dict]:
    vintage, k, view = row["vintage"], row["elapsed_months"], row["view"]
    where_zh = f"{vintage} 批次（标签窗口已过 {k}/{s.horizon} 个月）{VIEW_NAMES[view].split(' ')[0]}"
    where_en = f"vintage {vintage} ({k} of {s.horizon} months elapsed), {view} view"
    shown = "、".join(f"{r['class']} {_pct(r['rate'])}" for r in rates.to_dict("records"))
    out = []
    if row["order"] == ORDER_BROKEN:
        noise = _within_noise(rates)
        note_zh = "；相邻类别置信区间重叠，可能是抽样波动" if noise else "；置信区间不重叠"
        note_en = (
            "; the intervals of the classes out of order overlap: possibly chance"
            if noise
            else ("; the intervals do not overlap")
        )
        out.append(
            {
                "vintage": vintage,
                "view": view,
                "rule": "class_order",
                "level": "alert",
                "message_zh": f"{where_zh}：各类事件率未按 A<B<C<D 严格递增（{shown}）{note_zh}",
                "message_en": f"{where_en}: class event rates are not strictly increasing A<B<C<D ({shown}){note_en}",
            }
        )
    elif row["order"] == ORDER_INSUFFICIENT:
        few = ", ".join(f"{r['class']} {r['n']}" for r in rates.to_dict("records") if r["n"] < s.min_per_class)
        out.append(
            {
                "vintage": vintage,
                "view": view,
                "rule": "class_order",
                "level": "insufficient",
                "message_zh": f"{where_zh}：样本不足（每类至少需 {s.min_per_class} 个：{few}），暂不判断类别顺序",
                "message_en": f"{where_en}: insufficient (fewer than {s.min_per_class} per class: {few}); "
                "the class order is not judged",
            }
        )
    if row["auc_status"] == AUC_BELOW and view in s.auc_views:
        out.append(
            {
                "vintage": vintage,
                "view": view,
                "rule": "auc_below_gate",
                "level": "alert",
                "message_zh": f"{where_zh}：实际 AUC {row['auc']:.3f} 低于准入门槛 {s.min_auc}",
                "message_en": f"{where_en}: realised AUC {row['auc']:.3f} is below the promotion gate {s.min_auc}",
            }
        )
    return out


# -- every vintage ----------------------------------------------------------------------------------------------
def backtest(p: dict, last_month: str | None = None) -> dict:
    """Back-test every sealed month (current revision) up to ``last_month``: the JSON-ready result."""
    s = Settings.from_params(p)
    snapshot = snapshot_date(s.validated_dir)
    store = RecordStore(p["classify"]["records_dir"])
    months = [m for m in store.sealed_months() if last_month is None or m <= check_month(last_month, "--month")]
    rows, class_rows, calibration, alerts, skipped, by_type = [], [], [], [], [], []
    for month in months:
        k = elapsed_months(month, snapshot, s.horizon)
        if k == 0:
            skipped.append(
                {
                    "vintage": month,
                    "reason_zh": f"快照日 {snapshot} 时标签窗口尚未经过完整月份，暂无结果可检验",
                    "reason_en": f"no whole month of its label window has elapsed by the snapshot of {snapshot}",
                }
            )
            continue
        record = store.current(month)
        columns = ["uscc", "class", "probability", "model_version", "entity_type"]
        classes = read_present(record.classes_path, columns)
        views = outcomes(classes, month, k, s, snapshot)
        r, c, cal, a = backtest_vintage(classes, month, record.revision, k, s, views)
        by_type += type_rates(month, k, s.horizon, views)
        rows += r
        class_rows += c
        calibration += cal
        alerts += a
    return json_ready(
        {
            "snapshot_date": str(snapshot),
            "horizon_months": s.horizon,
            "gate_min_auc": s.min_auc,
            "settings": {
                "auc_views": list(s.auc_views),
                "min_elapsed_months_auc": s.min_elapsed_months_auc,
                "min_per_class": s.min_per_class,
                "calibration_bins": s.calibration_bins,
            },
            "summary": summary(rows, alerts, months, skipped),
            "vintages": rows,
            "class_rates": class_rows,
            "calibration": calibration,
            "by_entity_type": by_type,
            "alerts": alerts,
            "skipped": skipped,
        },
        DIGITS,
    )


def summary(rows: list[dict], alerts: list[dict], months: list[str], skipped: list[dict]) -> dict:
    """Scalars for `dvc metrics show` and a one-line message for people."""
    judged = [r for r in rows if r["auc_status"] != AUC_NOT_JUDGED]
    n_alerts = sum(a["level"] == "alert" for a in alerts)
    tested = len({r["vintage"] for r in rows})
    if rows:
        message_zh = f"已回测 {tested} 个批次，{n_alerts} 条警报"
        message = f"{tested} vintage(s) back-tested, {n_alerts} alert(s)"
    elif months:
        message_zh = "已封存月份的标签窗口都尚未经过完整月份：暂无可回测的批次"
        message = "no sealed month has an elapsed label window yet: nothing to back-test"
    else:
        message_zh = "记录库中没有已封存的月份：暂无可回测的批次"
        message = "no sealed month in the record store: nothing to back-test"
    out = {
        "sealed_months": len(months),
        "vintages_tested": tested,
        "vintages_skipped": len(skipped),
        "alerts": n_alerts,
        "insufficient": sum(a["level"] == "insufficient" for a in alerts),
        "message_zh": message_zh,
        "message": message,
    }
    for view in VIEWS:
        aucs = [r["auc"] for r in judged if r["view"] == view]
        if aucs:
            out[f"min_judged_auc_{view}"] = min(aucs)
    return out


def write_report(result: dict, path: Path) -> Path:
    """The result as indented UTF-8 JSON (a DVC metrics file; same result → same bytes)."""
    text = json.dumps(result, ensure_ascii=False, indent=1) + "\n"
    atomic_write_bytes(Path(path), text.encode("utf-8"))
    return Path(path)


def tables(result: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The vintage, class-rate, calibration and alert tables of a result (for the notebook and the CLI)."""
    return tuple(pd.DataFrame(result[k]) for k in ("vintages", "class_rates", "calibration", "alerts"))
