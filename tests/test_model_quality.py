"""The quality measurement against the truth: relabelling by each row's own window, and the three AUCs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskclass.model.dataset import Split
from riskclass.model.quality import city_quality, with_true_labels

BANDS = {"A": 0, "B": 200, "C": 500, "D": 750}
SCORE = {"anchor_probability": 0.24, "pdo": 300}


def _truth(tmp_path, months: list[str], violating: dict[tuple[str, str], bool], risk: dict[str, float]):
    rows = [
        {"uscc": u, "month": m, "risk_logit": risk[u], "violating": violating.get((u, m), False)}
        for u in risk
        for m in months
    ]
    path = tmp_path / "truth"
    path.mkdir()
    pd.DataFrame(rows).to_parquet(path / "entity_month.parquet")
    return path


def _frame(usccs, month, x, label):
    return pd.DataFrame({"uscc": usccs, "as_of": pd.Timestamp(month) + pd.offsets.MonthEnd(0), "x": x, "label": label})


def test_true_labels_come_from_each_rows_own_window(tmp_path):
    months = [str(p) for p in pd.period_range("2024-01", "2024-06", freq="M")]
    # U1 violates only in 2024-03: inside the 2-month window of 2024-01 (Feb–Mar), outside that of 2024-03 (Apr–May)
    truth = _truth(tmp_path, months, {("U1", "2024-03"): True, ("U2", "2024-05"): True}, {"U1": 0.0, "U2": 1.0})
    train = pd.concat(
        [_frame(["U1", "U2"], "2024-01", [0, 1], [0, 0]), _frame(["U1", "U2"], "2024-03", [0, 1], [1, 1])]
    )
    split = Split(
        train.reset_index(drop=True), _frame(["U1", "U2"], "2024-03", [0, 1], [0, 0]), ["2024-01", "2024-03"], "2024-03"
    )
    relabelled = with_true_labels(split, truth, horizon_months=2)
    assert relabelled.train["label"].tolist() == [1, 0, 0, 1]  # observed labels ignored, true windows used
    assert relabelled.valid["label"].tolist() == [0, 1]
    assert split.train["label"].tolist() == [0, 0, 1, 1]  # the caller's split is left as it was


class _ColumnModel:
    """Stands in for RiskModel: the probability is a sigmoid of one column."""

    def __init__(self, column):
        self.column = column

    def probability(self, frame):
        return 1 / (1 + np.exp(-frame[self.column].to_numpy(dtype=float)))


def test_city_quality_compares_model_ceiling_and_oracle_on_the_true_outcome(tmp_path):
    rng = np.random.default_rng(3)
    n, months = 4000, ["2024-01", "2024-02", "2024-03"]
    usccs = [f"U{i:05d}" for i in range(n)]
    risk = rng.normal(0, 1.5, n)
    violated = rng.random(n) < 1 / (1 + np.exp(-risk))
    truth = _truth(
        tmp_path,
        months,
        {(u, "2024-02"): bool(v) for u, v in zip(usccs, violated, strict=True)},
        dict(zip(usccs, risk, strict=True)),
    )
    seen = risk + rng.normal(0, 1.0, n)  # what the indicators see of the risk
    frame = _frame(usccs, "2024-01", seen, (violated & (rng.random(n) < 0.3)).astype(int))  # observed: 30 % found
    frame["noisy"] = seen + rng.normal(0, 2.0, n)
    split = Split(frame, frame.copy(), ["2024-01"], "2024-01")

    def fit(train):  # a "training procedure" whose result depends on the labels it is given
        return _ColumnModel("x" if train["label"].mean() > 0.3 else "noisy")

    q = city_quality(split, truth, 1, fit, SCORE, BANDS)
    assert q["true_event_rate"] == pytest.approx(violated.mean(), abs=1e-4)
    assert q["auc_ceiling_truth"] > q["auc_model_truth"]  # the true labels buy the cleaner model here
    assert q["auc_oracle_truth"] > q["auc_ceiling_truth"]  # the latent risk beats what indicators see
    assert q["model_over_ceiling"] == pytest.approx(q["auc_model_truth"] / q["auc_ceiling_truth"], abs=1e-3)
    assert len(q["class_rates_true"]) == 4
