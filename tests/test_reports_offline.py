"""Reports for readers on an offline intranet: no code cells, nothing fetched from the network, Chinese text and
charts rendered — checked in a real headless Chromium with the network cut off."""

from __future__ import annotations

import base64
import io
import os
import warnings

import nbformat
import pytest

from riskclass.reporting import ReportError, browser, check_offline, export_notebook, render, use_cjk_font

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
