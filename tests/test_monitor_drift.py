"""The Evidently drift report: written with the given rows, its own PSI figures, opens offline in Chromium."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskclass.monitor.drift import drift_report, sample
from riskclass.reporting import browser, check_offline, render


def frame(seed: int, n: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "uscc": [f"U{i:07d}" for i in range(n)],
            "used": rng.normal(shift, 1.0, n),
            "section": rng.choice(list("FGL"), n),
            "score": rng.integers(0, 1000, n),
            "class": rng.choice(list("ABCD"), n),
        }
    )


def test_sampling_is_deterministic_and_bounded():
    f = frame(1, 500)
    assert sample(f, 100, 7)["uscc"].tolist() == sample(f.sample(frac=1, random_state=3), 100, 7)["uscc"].tolist()
    assert len(sample(f, 100, 7)) == 100 and len(sample(f, 1000, 7)) == 500


def test_the_report_names_the_drifted_column_and_opens_offline(tmp_path):
    path = tmp_path / "2026-09_vs_previous.html"
    values = drift_report(frame(2, 800, shift=1.0), frame(3, 800), ["used"], ["section"], path, "2026-09 对比上月")
    assert set(values) == {"used", "section", "score", "class"}
    assert values["used"] > 0.25 > values["section"]  # Evidently's PSI per column: the shifted one stands out
    html = path.read_text(encoding="utf-8")
    check_offline(html, path)  # no script, style sheet or font from the network
    if browser() is None:
        pytest.skip("no headless Chromium on this machine")
    dom = render(path)
    assert "used" in dom and "section" in dom  # the per-column drift table was drawn by the page's own scripts
    assert "<svg" in dom or "<canvas" in dom  # and its charts
