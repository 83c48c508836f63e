"""Open every report of a checkout the way a reader on the offline intranet does, and print what each shows.

Run after ``make run`` on a fresh clone (not collected by pytest; tests/test_reports_offline.py reuses it)::

    python tests/check_reports.py [reports_dir]

Each ``reports/*.html`` is checked for code cells and network loads (``riskclass.reporting.check_offline``), then
opened in headless Chromium with the network cut off (``riskclass.reporting.render``): the page must show Chinese
text, and a notebook report (``NN_name.html``) at least one chart (an ``<img>`` with an embedded PNG). The manager
reports of ``REPORT_NOTEBOOKS`` must all be there. Exit status 1 when any check fails, 2 without a browser.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from riskclass.reporting import browser, external_references, has_code_cells, render

# the notebooks whose executed copies managers read, each exported as reports/<name>.html by its dvc stage
REPORT_NOTEBOOKS = ("30_validate", "40_classify", "50_policy", "60_monitor", "61_backtest", "62_warnings", "63_regions")
NOTEBOOK_REPORT = re.compile(r"^\d\d_")
MIN_CHINESE_CHARS = 20  # a page of headings and labels has hundreds; fewer means the text did not come through
_CJK = re.compile(r"[\u4e00-\u9fff]")
_CHART = re.compile(r"""<img\b[^>]*\bsrc\s*=\s*["']data:image/png;base64,""", re.IGNORECASE)
_HIDDEN = re.compile(r"<(script|style)\b.*?</\1>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


@dataclass
class ReportCheck:
    path: Path
    size_kb: int = 0
    code_cells: bool = False
    external: int = 0
    chinese_chars: int = 0
    charts: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def visible_text(dom: str) -> str:
    """The page's text without markup, scripts and style sheets (what a reader sees)."""
    return _TAG.sub(" ", _HIDDEN.sub(" ", dom))


def inspect_report(path: Path | str, needs_chart: bool | None = None) -> ReportCheck:
    """Check one exported report; ``needs_chart`` defaults to True for notebook reports (NN_name.html)."""
    path = Path(path)
    html = path.read_text(encoding="utf-8")
    check = ReportCheck(path, size_kb=round(path.stat().st_size / 1024))
    check.code_cells = has_code_cells(html)
    check.external = len(external_references(html))
    if check.code_cells:
        check.problems.append("shows code cells")
    if check.external:
        check.problems.append(f"loads from the network: {external_references(html)[0]!r}")
    dom = render(path)  # network cut off: what the intranet reader gets
    check.chinese_chars = len(_CJK.findall(visible_text(dom)))
    check.charts = len(_CHART.findall(dom))
    if check.chinese_chars < MIN_CHINESE_CHARS:
        check.problems.append(f"only {check.chinese_chars} Chinese characters shown (at least {MIN_CHINESE_CHARS})")
    if (NOTEBOOK_REPORT.match(path.name) is not None if needs_chart is None else needs_chart) and not check.charts:
        check.problems.append("no chart (no <img> with an embedded PNG) in the rendered page")
    return check


def check_dir(reports: Path) -> tuple[list[ReportCheck], list[str]]:
    """Every top-level HTML report under ``reports`` checked, and the manager reports that are missing."""
    checks = [inspect_report(path) for path in sorted(reports.glob("*.html"))]
    missing = [f"{name}.html" for name in REPORT_NOTEBOOKS if not (reports / f"{name}.html").exists()]
    return checks, missing


def table(checks: list[ReportCheck], missing: list[str]) -> str:
    head = f"{'report':<28}{'KB':>7}{'中文字数':>9}{'charts':>8}{'code':>6}{'net':>5}  result"
    rows = [head, "-" * len(head)]
    for c in checks:
        verdict = "ok" if c.ok else "FAIL: " + "; ".join(c.problems)
        rows.append(
            f"{c.path.name:<28}{c.size_kb:>7}{c.chinese_chars:>13}{c.charts:>8}"
            f"{'yes' if c.code_cells else 'no':>6}{c.external:>5}  {verdict}"
        )
    rows += [
        f"{name:<28}{'':>7}{'':>13}{'':>8}{'':>6}{'':>5}  FAIL: missing (its dvc stage exports it)" for name in missing
    ]
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    reports = Path(argv[1]) if len(argv) > 1 else Path("reports")
    if browser() is None:
        print("no headless Chromium on PATH: install Debian's chromium-headless-shell (make install does)")
        return 2
    if not reports.is_dir():
        print(f"{reports}: no such folder (run from the repository root after make run)")
        return 1
    checks, missing = check_dir(reports)
    print(table(checks, missing))
    failed = sum(not c.ok for c in checks) + len(missing)
    print(f"\n{len(checks)} report(s) checked offline in {browser()}: " + (f"{failed} FAILED" if failed else "all ok"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
