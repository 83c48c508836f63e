"""Empirical-Bayes shrinkage of cell event rates (beta-binomial, prior fitted by method of moments).

Each cell i has x_i events among n_i entities. Its true rate p_i is drawn from Beta(α_i, β_i) centred on its
parent's rate m_i (the city, or the cell's industry section) with a common strength M = α_i + β_i:
α_i = m_i M, β_i = (1 − m_i) M. Under this model the scaled squared deviation

    z_i = n_i (x_i/n_i − m_i)² / (m_i (1 − m_i))

has expectation 1 + (n_i − 1) ρ, where ρ = 1 / (M + 1) is the intra-cell correlation. The moment estimate is

    ρ̂ = (Σ z_i − (k − g)) / Σ (n_i − 1)

with k cells and g fitted parent means (one degree of freedom each), clipped to [rho_min, 1). The posterior of
p_i is Beta(α_i + x_i, β_i + n_i − x_i): mean (x_i + α_i) / (n_i + M) and an equal-tailed credible interval.
A cell of 12 entities moves almost all the way to its parent; a cell of 5,000 keeps its own rate.

The parent's rate is itself an estimate: a cell's strength is capped at the number of observations behind its
parent (``parent_n``), so a prior is never more certain than the data it came from — without the cap a cell with
no checks would get the parent's rate with an interval a fraction of a point wide.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def prior_strength(x: np.ndarray, n: np.ndarray, m: np.ndarray, groups: int, rho_min: float) -> float:
    """M = α + β of the beta prior, from the cells' events ``x``, sizes ``n`` and parent rates ``m``."""
    x, n, m = (np.asarray(a, dtype=float) for a in (x, n, m))
    keep = (n > 0) & (m > 0) & (m < 1)
    if keep.sum() <= groups or (n[keep] - 1).sum() <= 0:
        return 1.0 / rho_min - 1.0  # too few cells to see any spread: pool completely (as strong as allowed)
    x, n, m = x[keep], n[keep], m[keep]
    z = n * (x / n - m) ** 2 / (m * (1 - m))
    rho = (z.sum() - (len(z) - groups)) / (n - 1).sum()
    rho = min(max(rho, rho_min), 1.0 - 1e-9)
    return 1.0 / rho - 1.0


def shrink(
    x: np.ndarray, n: np.ndarray, m: np.ndarray, strength: float | np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior mean and equal-tailed ``level`` credible interval of each cell's rate (``strength``: M, one for
    all cells or one per cell)."""
    x, n, m = (np.asarray(a, dtype=float) for a in (x, n, m))
    a = m * strength + x
    b = (1 - m) * strength + n - x
    tail = (1 - level) / 2
    return a / (a + b), stats.beta.ppf(tail, a, b), stats.beta.ppf(1 - tail, a, b)


def shrink_cells(
    cells: pd.DataFrame,
    x: str,
    n: str,
    parent: pd.Series | float,
    level: float,
    rho_min: float,
    prefix: str,
    parent_n: pd.Series | float | None = None,
) -> tuple[pd.DataFrame, float]:
    """``cells`` with ``<prefix>raw``, ``<prefix>shrunk``, ``<prefix>low``, ``<prefix>high`` and the prior's M.

    ``parent``: the parent rate per cell (a Series aligned to ``cells``) or one rate for all (the city);
    ``parent_n``: the observations behind it (cap of each cell's strength; None: the cells' total).
    """
    m = np.broadcast_to(np.asarray(parent, dtype=float), (len(cells),))
    groups = 1 if np.ndim(parent) == 0 else int(pd.Series(m).nunique())
    groups = min(groups, max(len(cells) - 1, 1))
    strength = prior_strength(cells[x], cells[n], m, groups, rho_min)
    cap = float(np.nansum(cells[n])) if parent_n is None else np.asarray(parent_n, dtype=float)
    per_cell = np.minimum(strength, np.broadcast_to(cap, (len(cells),)))
    mean, low, high = shrink(cells[x], cells[n], m, per_cell, level)
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = np.where(cells[n] > 0, cells[x] / cells[n].where(cells[n] > 0, 1), np.nan)
    out = cells.assign(
        **{
            f"{prefix}raw": raw,
            f"{prefix}prior": m,
            f"{prefix}strength": per_cell,
            f"{prefix}shrunk": mean,
            f"{prefix}low": low,
            f"{prefix}high": high,
        }
    )
    return out, float(strength)
