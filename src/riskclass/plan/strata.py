"""Sampling strata of a plan and how checks are shared among them.

Within each risk class the score is split into ``subbands`` equal-count sub-bands (``D1`` the lowest
scores of class D … ``D3`` the highest), so a class draw can favour the riskier part of its class while
every sub-band keeps a known, positive inclusion probability (no stratum is exempt: 不免抽). Sub-band
edges are quantiles of the month's own scores in that class: deterministic, independent of row order
(ties fall in one sub-band), and comparable month to month by rank.

``optimise_ratios`` shares a capacity among strata to maximise expected findings given estimated problem
rates (a linear programme under floors and caps); ``apportion`` turns ratios into whole counts;
``cooled_off`` is the 无事不扰 rule: an entity checked within its class's cool-off is not drawn.
``per_plan`` turns the annual ratios of ``params.yaml`` into the share one plan draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linprog

from riskclass.codes import CLASSES

# The sub-bands cut the calibrated probability, not the 0–1000 score it maps to: the integer score clips at 0
# and 1000, and in some months over half of class A scores 0, which would leave a class one tied sub-band.
RISK_COLUMN = "probability"


def subband_edges(scores: np.ndarray, classes: np.ndarray, subbands: dict[str, int]) -> dict[str, list[float]]:
    """Inner score edges per class: an entity of class k is in sub-band 1 + (number of edges ≤ its score)."""
    scores, classes = np.asarray(scores, dtype=float), np.asarray(classes)
    edges = {}
    for k in CLASSES:
        s = scores[classes == k]
        m = int(subbands[k])
        if len(s) == 0 or m <= 1:
            edges[k] = []
            continue
        # "higher": an edge is an observed score, and entities tied at it all go to the upper sub-band
        cuts = np.quantile(s, [j / m for j in range(1, m)], method="higher")
        edges[k] = [float(c) for c in np.unique(cuts) if c > s.min()]
    return edges


def subband_labels(scores: np.ndarray, classes: np.ndarray, edges: dict[str, list[float]]) -> np.ndarray:
    """Stratum label per entity: its class followed by its sub-band number (``A1`` … ``D4``)."""
    scores, classes = np.asarray(scores, dtype=float), np.asarray(classes).astype(str)
    band = np.ones(len(scores), dtype=np.int64)
    for k, cuts in edges.items():
        m = classes == k
        if cuts and m.any():
            band[m] += np.searchsorted(np.asarray(cuts, dtype=float), scores[m], side="right")
    return np.char.add(classes, band.astype(str)).astype(object)


def assign(risk: np.ndarray, classes: np.ndarray, subbands: dict[str, int]) -> tuple[dict, np.ndarray]:
    """One month's sub-band edges (from its own values) and every entity's stratum label."""
    edges = subband_edges(risk, classes, subbands)
    return edges, subband_labels(risk, classes, edges)


def stratum_names(subbands: dict[str, int]) -> list[str]:
    """Every possible stratum label in order (A1, A2, B1, …)."""
    return [f"{k}{j}" for k in CLASSES for j in range(1, int(subbands[k]) + 1)]


def stratum_class(stratum: str) -> str:
    """The class a stratum label belongs to (``D3`` → ``D``)."""
    return stratum[:1]


def per_plan(annual, plans_per_year: int):
    """The share one plan draws of an annual ratio (a number, an array or a {class: ratio} mapping): the
    ratios, floors, caps and the overall minimum of ``params.yaml`` are per year, spread over the year's plans."""
    if isinstance(annual, dict):
        return {k: v / int(plans_per_year) for k, v in annual.items()}
    return annual / int(plans_per_year)


def optimise_ratios(
    sizes: np.ndarray, rates: np.ndarray, capacity: int, floors: np.ndarray, caps: np.ndarray
) -> np.ndarray:
    """Ratios per stratum maximising expected findings Σ rₖ·Nₖ·pₖ subject to Σ rₖ·Nₖ ≤ capacity and
    floorₖ ≤ rₖ ≤ capₖ (a linear programme, solved by HiGHS). Raises if the floors exceed the capacity."""
    sizes = np.asarray(sizes, dtype=float)
    floors, caps = np.asarray(floors, dtype=float), np.asarray(caps, dtype=float)
    if (floors * sizes).sum() > capacity + 1e-9:
        raise ValueError(f"the floors need {(floors * sizes).sum():.0f} checks, more than the capacity {capacity}")
    bounds = [(f, c) if n > 0 else (f, f) for f, c, n in zip(floors, caps, sizes, strict=True)]
    res = linprog(
        c=-(sizes * np.asarray(rates, dtype=float)),
        A_ub=sizes[None, :],
        b_ub=[float(capacity)],
        bounds=bounds,
        method="highs",
    )
    if not res.success:
        raise ValueError(f"ratio optimisation failed: {res.message}")
    return np.round(res.x, 6)


def apportion(ratios: np.ndarray, sizes: np.ndarray, floors: np.ndarray, caps: np.ndarray, total: int) -> np.ndarray:
    """Whole counts per stratum near ratios × sizes, within [ceil(floor·N), floor(cap·N)], summing to ``total``
    where the bounds allow (largest remainders first)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    lo = np.minimum(sizes, np.ceil(floors * sizes - 1e-9).astype(np.int64))
    hi = np.maximum(lo, np.minimum(sizes, np.floor(caps * sizes + 1e-9).astype(np.int64)))
    exact = ratios * sizes
    counts = np.clip(np.floor(exact + 1e-9).astype(np.int64), lo, hi)
    order = np.argsort(-(exact - np.floor(exact + 1e-9)), kind="stable")
    while counts.sum() < total and (counts < hi).any():
        for k in order:
            if counts.sum() < total and counts[k] < hi[k]:
                counts[k] += 1
    while counts.sum() > total and (counts > lo).any():
        for k in order[::-1]:
            if counts.sum() > total and counts[k] > lo[k]:
                counts[k] -= 1
    return counts


def cooled_off(classes: np.ndarray, last_check: np.ndarray, start: pd.Timestamp, months: dict[str, int]) -> np.ndarray:
    """True where an entity's last check (NaT: never) lies within its class's cool-off before ``start``."""
    last = pd.to_datetime(pd.Series(last_check))
    classes = pd.Series(np.asarray(classes).astype(str))
    since = classes.map({k: start - pd.DateOffset(months=int(m)) for k, m in months.items()})
    return ((last >= since) & (last < start)).to_numpy()
