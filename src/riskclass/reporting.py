"""Reports for people: Chinese labels in charts, notebooks exported without code and without the internet.

Managers and inspectors read the executed notebooks as HTML on an intranet that reaches no CDN, so an
exported report carries no code cells and loads no script, style sheet or font from outside the file
(``export_notebook`` refuses to write one that would). Charts are matplotlib PNGs embedded in the page;
``use_cjk_font`` picks an installed font with Chinese glyphs (Debian ``fonts-noto-cjk``, installed by
``make install``), since matplotlib's default font draws Chinese as empty boxes.
"""

from __future__ import annotations

import re
from pathlib import Path

# families with Chinese glyphs, preferred first (Noto from fonts-noto-cjk; the others on Windows / macOS desks)
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Serif CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
)
# one colour per class in every chart, A (low risk) green … D (high) red
CLASS_COLOURS = {"A": "#2e7d32", "B": "#1f6fb4", "C": "#f08c00", "D": "#c62828"}
HTML_FONT_STACK = '"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif'
TEMPLATE_DIR = Path(__file__).parent / "resources" / "nbconvert"
# a reference that makes a browser fetch something: a script, style sheet, image, frame or CSS import
_EXTERNAL = re.compile(
    r"""<(?:script|link|img|iframe|source|embed)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//"""
    r"""|@import\s+(?:url\()?\s*["']?(?:https?:)?//"""
    r"""|\bimport\s*\(\s*["'](?:https?:)?//""",
    re.IGNORECASE,
)
_CODE_CELL = re.compile(
    r'<div\b[^>]*\bclass="[^"]*\b(?:jp-CodeMirrorEditor|jp-InputArea-editor|hl-ipython3|input_area)\b[^"]*"'
)


class ReportError(RuntimeError):
    """A report would not serve an offline reader (the message names the file and the reason)."""


def cjk_font() -> str | None:
    """The first installed font family with Chinese glyphs, or None."""
    from matplotlib import font_manager

    def first() -> str | None:
        installed = {f.name for f in font_manager.fontManager.ttflist}
        return next((name for name in CJK_FONTS if name in installed), None)

    found = first()
    if found is None:  # matplotlib caches the font list: add fonts installed since it was written
        known = {f.fname for f in font_manager.fontManager.ttflist}
        for path in font_manager.findSystemFonts():
            if path not in known and any(k in path for k in ("CJK", "cjk", "wqy", "SourceHan", "msyh", "simhei")):
                font_manager.fontManager.addfont(path)
        found = first()
    return found


def use_cjk_font() -> str:
    """Make matplotlib draw Chinese labels; return the family used (ReportError when none is installed)."""
    import matplotlib

    family = cjk_font()
    if family is None:
        raise ReportError(
            "no font with Chinese glyphs is installed, so chart labels would render as boxes: "
            "install Debian's fonts-noto-cjk (make install does, as root) or another of " + ", ".join(CJK_FONTS)
        )
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["font.sans-serif"] = [family, "DejaVu Sans"]
    matplotlib.rcParams["axes.unicode_minus"] = False  # the CJK fonts lack U+2212
    return family


def external_references(html: str) -> list[str]:
    """The snippets of ``html`` that would make a browser fetch something from the network."""
    return [html[m.start() : m.start() + 120] for m in _EXTERNAL.finditer(html)]


def has_code_cells(html: str) -> bool:
    return bool(_CODE_CELL.search(html))


def check_offline(html: str, where: str | Path) -> None:
    """ReportError naming ``where`` if the page would fetch anything from the network or shows code."""
    external = external_references(html)
    if external:
        raise ReportError(f"{where}: loads from the network, which the intranet cannot reach: {external[0]!r}")
    if has_code_cells(html):
        raise ReportError(f"{where}: shows code cells; a report for readers carries only text, tables and charts")


def export_notebook(ipynb: Path | str, html: Path | str | None = None, title: str | None = None) -> Path:
    """Export an executed notebook as a reader's report: no code cells, prompts or network loads."""
    from nbconvert import HTMLExporter

    ipynb = Path(ipynb)
    html = Path(html) if html else ipynb.with_suffix(".html")
    exporter = HTMLExporter(
        template_name="offline",
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    resources = {"metadata": {"name": title or ipynb.stem}}
    body, _ = exporter.from_filename(str(ipynb), resources=resources)
    body = body.replace("<html>", '<html lang="zh-CN">', 1)
    body = body.replace("</head>", f"<style>body{{font-family:{HTML_FONT_STACK}}}</style>\n</head>", 1)
    check_offline(body, html)
    html.parent.mkdir(parents=True, exist_ok=True)
    html.write_text(body, encoding="utf-8")
    return html


# -- a real browser, offline ---------------------------------------------------------------------
BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")


def browser() -> str | None:
    """The headless Chromium on PATH (Debian's chromium-headless-shell, installed by make install), or None."""
    import shutil

    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def render(html: Path | str, screenshot: Path | str | None = None, width: int = 1200, height: int = 1600) -> str:
    """Open ``html`` in headless Chromium with the network cut off; return the DOM after its scripts ran.

    Every host name resolves to nothing, so a page that still needed the internet shows it (missing charts,
    empty widgets). With ``screenshot`` a PNG of the first ``width`` × ``height`` pixels is written too.
    """
    import subprocess

    exe = browser()
    if exe is None:
        raise ReportError("no headless Chromium on PATH: install Debian's chromium-headless-shell (make install does)")
    url = Path(html).resolve().as_uri()
    base = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: nothing outside the file can load
        "--virtual-time-budget=15000",  # let the page's own scripts (Evidently's charts) finish
        f"--window-size={width},{height}",
    ]
    dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, timeout=180, check=True)
    if screenshot is not None:
        subprocess.run(
            [*base, f"--screenshot={Path(screenshot).resolve()}", url], capture_output=True, timeout=180, check=True
        )
    return dom.stdout.decode("utf-8", errors="replace")
