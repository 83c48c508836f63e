"""Reports for readers on an offline intranet: no code cells, nothing fetched from the network, Chinese text and
charts rendered — checked in a real headless Chromium with the network cut off."""

from __future__ import annotations

import base64
import io
import json
import os
import warnings
from pathlib import Path

import nbformat
import pytest
import yaml

from check_reports import REPORT_NOTEBOOKS, inspect_report
from riskclass.io import sha256_file
from riskclass.records import RecordStore
from riskclass.reporting import ReportError, browser, check_offline, export_notebook, render, use_cjk_font

from conftest import classified_world

ROOT = Path(__file__).resolve().parents[1]

CODE = "secret_code_line = compute_everything()"


def needs_browser():
    if browser() is None:
        if os.environ.get("CI"):
            pytest.fail("no headless Chromium: `make install` installs chromium-headless-shell")
        pytest.skip("no headless Chromium on this machine (make install adds it)")


def chart_png() -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    use_cjk_font()
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.bar(["A", "B", "C", "D"], [1, 2, 3, 4])
    ax.set_title("各类别事件率")
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph … missing from font(s)" when a glyph is missing
        fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def executed_notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 月度监测报告 — monitoring"),
        nbformat.v4.new_code_cell(
            CODE,
            outputs=[
                nbformat.v4.new_output("stream", name="stdout", text="稳定 stable\n"),
                nbformat.v4.new_output("display_data", data={"image/png": chart_png(), "text/plain": "<Figure>"}),
            ],
            execution_count=1,
        ),
    ]
    path = tmp_path / "report.ipynb"
    nbformat.write(nb, path)
    return path


def test_a_chinese_chart_finds_its_glyphs():
    assert use_cjk_font()
    chart_png()  # raises on a missing-glyph warning


def test_export_drops_code_and_network_loads_and_keeps_text_and_charts(tmp_path):
    html = export_notebook(executed_notebook(tmp_path)).read_text(encoding="utf-8")
    assert CODE not in html and "compute_everything" not in html
    assert "月度监测报告" in html and "稳定 stable" in html and "data:image/png;base64," in html
    check_offline(html, "exported")  # does not raise
    assert "cdnjs" not in html and "require.min.js" not in html and "mathjax" not in html.lower()


@pytest.mark.parametrize(
    "snippet",
    [
        '<script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js"></script>',
        '<link rel="stylesheet" href="//fonts.googleapis.com/css?family=Roboto">',
        "<style>@import url('https://example.org/x.css');</style>",
        '<script type="module">const m = await import("https://cdn.jsdelivr.net/npm/mermaid.esm.mjs")</script>',
        '<div class="jp-CodeMirrorEditor jp-Editor jp-InputArea-editor"><pre>x = 1</pre></div>',
    ],
)
def test_a_page_that_needs_the_network_or_shows_code_is_refused(snippet):
    with pytest.raises(ReportError, match=r"page\.html"):
        check_offline(f"<html><body>{snippet}</body></html>", "page.html")


def test_the_exported_report_opens_offline_in_chromium(tmp_path):
    needs_browser()
    html = export_notebook(executed_notebook(tmp_path))
    dom = render(html, screenshot=tmp_path / "shot.png")
    assert "月度监测报告" in dom and "稳定 stable" in dom
    assert dom.count("<img") >= 1 and "data:image/png;base64," in dom
    assert (tmp_path / "shot.png").stat().st_size > 10_000


# -- every manager report: exported by its stage, and readable offline -----------------------------------------


@pytest.mark.parametrize("name", REPORT_NOTEBOOKS)
def test_every_manager_report_is_exported_by_its_stage(name):
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    found = [s for s in stages.values() if f"notebooks/{name}.ipynb" in s["cmd"]]
    assert len(found) == 1, f"no single dvc stage runs notebooks/{name}.ipynb"
    stage = found[0]
    assert f"riskclass report-export reports/{name}.ipynb" in stage["cmd"]
    outs = {k: v for o in stage["outs"] for k, v in (o.items() if isinstance(o, dict) else [(o, {})])}
    assert outs.get(f"reports/{name}.html") == {"cache": False}
    assert {"src/riskclass/reporting.py", "src/riskclass/resources/nbconvert"} <= set(stage["deps"])


@pytest.fixture(scope="module")
def classify_world(small_city, small_city_ingested, params, tmp_path_factory):
    """The small city classified for 2026-08 (no month before it) and 2026-09, and a params file pointing at it."""
    root = tmp_path_factory.mktemp("report40")
    p, _ = classified_world(small_city, small_city_ingested[0], params, root)
    (root / "params.yaml").write_text(json.dumps(p, ensure_ascii=False), encoding="utf-8")  # JSON is YAML
    return p, root


def record_bytes(p: dict) -> dict[str, str]:
    records = Path(p["classify"]["records_dir"])
    return {str(f.relative_to(records)): sha256_file(f) for f in sorted(records.rglob("*")) if f.is_file()}


def run_classify_report(root: Path, month: str) -> Path:
    papermill = pytest.importorskip("papermill")
    executed = root / f"40_classify_{month}.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "40_classify.ipynb"),
        str(executed),
        parameters={"month": month, "params_path": str(root / "params.yaml")},
        kernel_name="riskclass",
        cwd=str(ROOT),
        progress_bar=False,
    )
    return export_notebook(executed, root / f"40_classify_{month}.html")


@pytest.fixture(scope="module")
def classify_report(classify_world):
    """reports/40_classify.html of 2026-09 as the classify stage writes it (the month is sealed: only read)."""
    p, root = classify_world
    before = record_bytes(p)
    html = run_classify_report(root, "2026-09")
    assert record_bytes(p) == before, "the report wrote into the sealed records"
    return html


@pytest.fixture(scope="module")
def regions_report(classify_world):
    """reports/63_regions.html of 2026-09 as the regions stage writes it: `riskclass regions`, then the notebook.
    The small world has two sealed months, so its outcome vintage is 2026-08 with 2 months elapsed."""
    from riskclass.regions.run import run

    p, root = classify_world
    p = json.loads(json.dumps(p))
    p["regions"].update(
        vintage_lag_months=1,
        min_elapsed_months=1,
        out_dir=str(root / "regions"),
        metrics=str(root / "regions.json"),
    )
    (root / "params_regions.yaml").write_text(json.dumps(p, ensure_ascii=False), encoding="utf-8")
    result = run(p, "2026-09")
    assert result["summary"]["vintage"] == "2026-08" and result["summary"]["elapsed_months"] == 2
    papermill = pytest.importorskip("papermill")
    executed = root / "63_regions.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "63_regions.ipynb"),
        str(executed),
        parameters={"month": "2026-09", "params_path": str(root / "params_regions.yaml")},
        kernel_name="riskclass",
        cwd=str(ROOT),
        progress_bar=False,
    )
    return export_notebook(executed, root / "63_regions.html")


def test_class_charts_match_the_sealed_summary(classify_world):
    import matplotlib

    matplotlib.use("Agg")
    from riskclass.classify import charts
    from riskclass.regions import charts as region_charts

    use_cjk_font()
    p, _ = classify_world
    store = RecordStore(p["classify"]["records_dir"])
    view = charts.read_month(store.current("2026-09"))
    s = view.summary
    head = charts.headline(s)
    assert sum(head["shares"].values()) == pytest.approx(1.0)
    matrix = charts.transition_matrix(s)
    stayed = matrix.sum().sum()
    assert head["worse"] + head["better"] + sum(matrix.at[c, c] for c in "ABCD") == stayed
    assert matrix.sum(axis=0).sum() + head["new"] == s["entities"]  # every entity of this month is in a column
    overrides = charts.override_table(view)
    assert dict(zip([r["id"] for r in view.override_rules], overrides["合计"], strict=True)) == s["overrides"]
    assert view.bands == p["score"]["bands"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing Chinese glyph warns
        figures = [
            charts.class_shares(s),
            charts.score_distribution(view.classes, view.bands),
            charts.shares_by_district(s),
            charts.shares_by_entity_type(s),
            charts.transition_heatmap(s),
            charts.top_reasons_chart(s),
            *region_charts.class_report_charts(view.classes, p["regions"]["tiles"], 30, "2026-09"),
        ]
    assert all(f is not None and f.axes for f in figures)
    # the bars of the class chart are the sealed counts (final classes first)
    heights = [round(b.get_height()) for b in figures[0].axes[0].patches[:4]]
    assert heights == [s["classes"][c] for c in "ABCD"]
    # 通用+专业: the domain grades sealed with the month, drawn as they are sealed
    assert view.domains and set(view.domains) <= {"food", "drug_retail", "special_equipment"}
    table = charts.domain_table(view)
    assert table["主体数"].tolist() == [view.domains[d]["entities"] for d in sorted(view.domains)]
    assert (table[[f"{c} 级" for c in "ABCD"]].sum(axis=1) == table["主体数"]).all()
    assert charts.domain_grade_shares(view) is not None
    # one sealed month before it: nothing to compare, and the report says so instead of failing
    first = charts.read_month(store.current("2026-08")).summary
    assert charts.transition_heatmap(first) is None and "change_points" not in charts.headline(first)


def test_the_class_report_of_a_first_month_says_there_is_nothing_to_compare(classify_world):
    needs_browser()
    _p, root = classify_world
    dom = render(run_classify_report(root, "2026-08"))
    assert "无上月分类记录" in dom and "类别迁移" in dom
    assert dom.count("data:image/png") >= 5


@pytest.mark.parametrize("name", REPORT_NOTEBOOKS)
def test_every_manager_report_reads_offline(name, request):
    """No code cells, no network loads, Chinese text and at least one chart, opened in Chromium offline.

    40_classify and 63_regions are executed here from a fixture (61_backtest in test_backtest.py); the others need
    the pipeline's data and are checked on a checkout's reports/ (after make run; tests/check_reports.py)."""
    needs_browser()
    if name == "40_classify":
        html = request.getfixturevalue("classify_report")
    elif name == "63_regions":
        html = request.getfixturevalue("regions_report")
    else:
        html = ROOT / "reports" / f"{name}.html"
        if not html.exists():
            pytest.skip(f"reports/{name}.html is not built in this checkout (make run; tests/check_reports.py)")
    check = inspect_report(html, needs_chart=True)
    assert check.ok, f"{html}: {check.problems}"
    assert not check.code_cells and check.external == 0 and check.charts >= 1
    if name == "40_classify":
        dom = render(html)
        assert "月度企业信用风险分类报告" in dom and "类别迁移" in dom and "各县（市、区）" in dom
        # shares, scores, districts (bars, county map, county × section heat map), entity types, transitions,
        # overrides, reasons, domain grades
        assert check.charts >= 10
        assert "C、D类占比" in dom and "专业领域分级" in dom and "严重违法失信直接定D" in dom
        assert "classify_with_history" not in dom and "enter_repo_root" not in dom
    if name == "63_regions":
        dom = render(html)
        assert "区域与行业风险分析" in dom and "定向抽查建议" in dom and "region_" in dom
        # two county maps, the heat map, hot spots, class shares by county and by section at least
        assert check.charts >= 6
        assert "enter_repo_root" not in dom and "load_params" not in dom
