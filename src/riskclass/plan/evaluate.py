"""Problem rates estimated from random draws, by inverse-probability weighting.

Targeted checks find more problems than random ones, so the raw share of problems among checks says
little about a class. A random draw records each unit's inclusion probability π; weighting each checked
unit by 1/π estimates what checking the whole class would have found. The Hájek (ratio) estimator

    p̂ = Σ y/π / Σ 1/π

and its linearised standard error  √(Σ (1 − π) (y − p̂)² / π²) / Σ 1/π  (units with π = 1 carry no
sampling variance). Problems are rare in low-risk classes, where a normal interval p̂ ± 1.96·SE covers
badly (the plug-in SE collapses when the few low-probability checks find nothing), so the reported
interval is Wilson's at the design's effective sample size (``wilson_interval``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskclass import codes
from riskclass.plan import strata

Z95 = 1.959963984540054


def ipw_rates(sample: pd.DataFrame, by: str | list[str], outcome: str = "problem") -> pd.DataFrame:
    """Per group: checks, estimated population size, IPW rate with 95 % CI, and the naive share."""
    by = [by] if isinstance(by, str) else list(by)
    if sample["inclusion_prob"].isna().any() or (sample["inclusion_prob"] <= 0).any():
        raise ValueError("IPW needs an inclusion probability in (0, 1] for every checked unit")
    rows = []
    for key, g in sample.groupby(by, sort=True, observed=True):
        pi = g["inclusion_prob"].to_numpy(dtype=float)
        y = g[outcome].to_numpy(dtype=float)
        w = 1.0 / pi
        n_hat = w.sum()
        rate = float((w * y).sum() / n_hat)
        var = float(((1.0 - pi) * (w * (y - rate)) ** 2).sum() / n_hat**2)
        se = var**0.5
        low, high = wilson_interval(rate, pi)
        rows.append(
            {
                **dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)),
                "checks": len(g),
                "population_est": round(float(n_hat), 1),
                "rate": rate,
                "se": se,
                "ci_low": low,
                "ci_high": high,
                "naive_rate": float(y.mean()),
            }
        )
    return pd.DataFrame(rows)


def wilson_interval(rate: float, pi: np.ndarray) -> tuple[float, float]:
    """95 % Wilson interval at the design's effective sample size.

    The effective size is Kish's (Σw)²/Σw² — what the unequal weights leave of the n checks — divided
    by (1 − n/N̂) for the share of the population checked. Unlike a plug-in of the estimated variance it
    does not collapse when a class's low-probability checks happen to find no problem. A census (every
    π = 1) has no sampling error.
    """
    if (pi >= 1).all():
        return rate, rate
    w = 1.0 / pi
    return wilson_bounds(rate, w.sum() ** 2 / (w**2).sum() / (1.0 - min(len(pi) / w.sum(), 0.99)))


def wilson_bounds(rate: float, n_eff: float) -> tuple[float, float]:
    """95 % Wilson interval of a proportion ``rate`` observed on ``n_eff`` (effective) independent units."""
    z2 = Z95**2
    centre = (rate + z2 / (2 * n_eff)) / (1 + z2 / n_eff)
    half = Z95 / (1 + z2 / n_eff) * np.sqrt(rate * (1 - rate) / n_eff + z2 / (4 * n_eff**2))
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))


def random_checks_with_classes(inspections: pd.DataFrame, class_history: pd.DataFrame) -> pd.DataFrame:
    """Random-draw inspections joined to the entity's class in the month before the check."""
    drawn = inspections[inspections["draw_type"].isin(["undirected", "directed"])].copy()
    drawn["month"] = (drawn["inspection_date"].dt.to_period("M") - 1).astype(str)
    drawn["problem"] = codes.found_problem(drawn["result_code"])
    out = drawn.merge(class_history[["uscc", "month", "class"]], on=["uscc", "month"], how="inner")
    return out.assign(inclusion_prob=out["inclusion_prob"].astype(float))


def history_strata(history: pd.DataFrame, subbands: dict[str, int]) -> pd.DataFrame:
    """Each entity's stratum in each month of the class history: its class and its score sub-band, with the
    sub-band edges of that month's own scores (as the plan drawn from that month's classes cut them). Rows keep
    the history's index and order."""
    frames = []
    positional = history.reset_index(drop=True)  # the caller's index may repeat (months concatenated)
    for _month, g in positional.groupby("month", sort=True):
        _, labels = strata.assign(g[strata.RISK_COLUMN].to_numpy(), g["class"].to_numpy(), subbands)
        frames.append(g[["uscc", "month", "class"]].assign(stratum=labels))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ("uscc", "month", "class", "stratum")})
    out = pd.concat(frames).sort_index()
    out.index = history.index
    return out


def random_checks_with_strata(inspections: pd.DataFrame, labelled: pd.DataFrame) -> pd.DataFrame:
    """Random-draw inspections with the entity's class and stratum in the month before the check
    (``labelled``: uscc, month, class, stratum — ``history_strata`` of the sealed records)."""
    joined = random_checks_with_classes(inspections, labelled)
    return joined.merge(labelled[["uscc", "month", "stratum"]], on=["uscc", "month"], how="left")


def estimates_table(rates: pd.DataFrame) -> list[dict]:
    """JSON-ready rows with rounded figures."""
    out = rates.copy()
    for c in ("rate", "se", "ci_low", "ci_high", "naive_rate"):
        out[c] = out[c].round(4)
    return out.to_dict(orient="records")
