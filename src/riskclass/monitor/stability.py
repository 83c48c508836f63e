"""Stability of a month's scores and indicators: PSI of the score, CSI per indicator, a verdict.

The *reference profile* (``profile.json`` in a model export, written at training) holds, for the score and
every model indicator, the bins fitted on the training window and the training rows' proportions in them,
and the proportions of the out-of-time validation month on the same bins (the population the model was
validated and accepted on: the ``validation`` baseline). A month's stability is then computed from the month's
sealed record (indicator snapshot and scores) and its stored model alone. Without a profile (an older export)
the month is compared with the previous sealed month only, on bins fitted to that month, and the result says so.

The verdict is the worse of two readings: against the basis (``monitor.stability.basis``, by default the
validation baseline: drift since the model was accepted) and against the previous sealed month (a sudden
break, such as a feed that stopped). Drift between the training window and the validation month was known
when the model was accepted; the comparison with the training window is reported every month beside them.

Bins (``fit_bins``):

- numeric indicators with at most ``n_bins`` distinct values: one bin per value (right-closed edges at the
  values), otherwise quantile bins of the reference rows (edges at data values; ties merge bins);
- categorical indicators: one bin per reference category plus one for categories never seen in it;
- always a last bin for missing values and placeholders (``monitor.placeholders``, e.g. 9999 for
  "never happened" day counts), so a change in how many entities lack a value shows as a shift.

PSI = Σ (cur − ref) · ln(cur / ref) over the bins, an empty bin counted as ``epsilon`` on either side
(the usual handling, as in Evidently's ``psi`` test). CSI is the same formula on one indicator's bins.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from riskclass.io import ParquetColumns

STABILITY_FILE = "stability.json"
SCORE = "score"
READINGS = ("stable", "watch", "shifted")
READING_ZH = {"stable": "稳定", "watch": "关注", "shifted": "偏移"}
PROFILE_VERSION = 2
COMPARISONS = ("training", "validation", "previous")
COMPARISON_ZH = {"training": "训练期", "validation": "验证期（准入时）", "previous": "上月"}


# -- bins ---------------------------------------------------------------------------------------------
def _is_missing(values: pd.Series, placeholders: list[float]) -> np.ndarray:
    missing = values.isna().to_numpy()
    if placeholders and pd.api.types.is_numeric_dtype(values):
        missing |= values.isin(placeholders).to_numpy()
    if not pd.api.types.is_numeric_dtype(values):
        missing |= (values.astype(str) == "").to_numpy()
    return missing


def fit_bins(values: pd.Series, kind: str, n_bins: int, placeholders: list[float]) -> dict:
    """The bins of one column fitted on reference ``values`` (``kind``: numeric or categorical)."""
    if kind not in ("numeric", "categorical"):
        raise ValueError(f"bin kind must be numeric or categorical, not {kind!r}")
    if n_bins < 2:
        raise ValueError(f"monitor.n_bins must be at least 2, not {n_bins}")
    present = values[~_is_missing(values, placeholders)]
    if kind == "categorical":
        return {"kind": "categorical", "categories": sorted(present.astype(str).unique().tolist())}
    x = np.sort(present.to_numpy(dtype=float))
    distinct = np.unique(x)
    if len(distinct) <= n_bins:
        edges = distinct[:-1]  # (-inf, v0], (v0, v1], …, (v_{k-2}, +inf): one bin per reference value
    else:
        # edges at data values ("inverted_cdf"), so a value with a large point mass stays in one bin
        edges = np.unique(np.quantile(x, np.arange(1, n_bins) / n_bins, method="inverted_cdf"))
        edges = edges[edges < distinct[-1]]  # no empty top bin
    return {
        "kind": "numeric",
        "edges": [float(e) for e in edges],
        "placeholders": [float(v) for v in placeholders],
    }


def bin_labels(bins: dict) -> list[str]:
    """Readable names of the bins, in order (the last one is missing/placeholder)."""
    if bins["kind"] == "categorical":
        return [*bins["categories"], "其他 other", "缺失 missing"]
    edges = bins["edges"]
    if not edges:
        return ["全部 all", "缺失/占位 missing"]
    lows = ["-inf", *[f"{e:g}" for e in edges]]
    highs = [*[f"{e:g}" for e in edges], "+inf"]
    return [f"({lo}, {hi}]" for lo, hi in zip(lows, highs, strict=True)] + ["缺失/占位 missing"]


def proportions(values: pd.Series, bins: dict) -> np.ndarray:
    """Share of ``values`` in each bin (sums to 1; empty input gives zeros)."""
    n = len(values)
    if bins["kind"] == "categorical":
        missing = _is_missing(values, [])
        codes = values.astype(str)
        index = {c: i for i, c in enumerate(bins["categories"])}
        other = len(index)
        pos = np.where(missing, other + 1, codes.map(index).fillna(other).to_numpy(dtype=float)).astype(int)
        size = other + 2
    else:
        missing = _is_missing(values, bins.get("placeholders", []))
        x = values.to_numpy(dtype=float)
        edges = np.asarray(bins["edges"], dtype=float)
        pos = np.where(missing, len(edges) + 1, np.searchsorted(edges, np.nan_to_num(x), side="left"))
        size = len(edges) + 2
    counts = np.bincount(pos, minlength=size).astype(float)
    return counts / n if n else counts


def psi(reference: np.ndarray, current: np.ndarray, epsilon: float) -> float:
    """Population stability index of two bin-share vectors; an empty bin counts as ``epsilon``."""
    ref = np.where(np.asarray(reference, dtype=float) == 0, epsilon, reference)
    cur = np.where(np.asarray(current, dtype=float) == 0, epsilon, current)
    if ref.shape != cur.shape:
        raise ValueError(f"PSI needs the same bins on both sides ({ref.shape} vs {cur.shape})")
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def reading(value: float | None, mp: dict) -> str | None:
    """stable < ``watch`` ≤ watch ≤ ``shifted`` < shifted."""
    if value is None:
        return None
    if value < mp["watch"]:
        return "stable"
    return "watch" if value <= mp["shifted"] else "shifted"


# -- the reference profile ------------------------------------------------------------------------------
def column_kinds(model) -> dict[str, str]:
    kinds = {SCORE: "numeric", **dict.fromkeys(model.numeric, "numeric")}
    return {**kinds, **dict.fromkeys(model.categorical, "categorical")}


def _scored(model, frame: pd.DataFrame) -> pd.DataFrame:
    data = frame[model.features].copy()
    data[SCORE] = model.score(frame)
    return data


def _shares(values: pd.Series, bins: dict) -> list[float]:
    return [round(float(s), 10) for s in proportions(values, bins)]


def build_profile(
    model, frame: pd.DataFrame, mp: dict, window: dict, validation: tuple[pd.DataFrame, dict] | None = None
) -> dict:
    """The reference profile of ``model`` from its training rows ``frame`` (indicators; scored here), with the
    ``validation`` baseline — (rows of the out-of-time month, its window) — on the same bins."""
    data = _scored(model, frame)
    columns = {}
    for column, kind in column_kinds(model).items():
        bins = fit_bins(data[column], kind, mp["n_bins"], mp["placeholders"] if column != SCORE else [])
        columns[column] = {**bins, "reference": _shares(data[column], bins)}
    profile = {"version": PROFILE_VERSION, "window": window, "rows": len(frame), "columns": columns}
    if validation is not None:
        rows, valid_window = validation
        valid = _scored(model, rows)
        profile["baselines"] = {
            "validation": {
                "window": valid_window,
                "rows": len(rows),
                "shares": {column: _shares(valid[column], bins) for column, bins in columns.items()},
            }
        }
    return profile


# -- one month ---------------------------------------------------------------------------------------
def importance_shares(model) -> dict[str, float]:
    """The model's reliance on each indicator (CatBoost PredictionValuesChange, as shares summing to 1)."""
    imp = model.importance()
    total = float(imp.sum()) or 1.0
    return {k: float(v) / total for k, v in imp.items()}


class MonthColumns:
    """A month's indicator columns with its scores aligned by USCC, read one column at a time: no merged copy of
    the snapshot (at 5 M entities one copy is ≈ 5 GB). ``features`` is the snapshot as a frame, or the path of its
    Parquet file, whose columns are then read when asked for."""

    def __init__(self, features: pd.DataFrame | Path, scores: pd.DataFrame):
        self.features = features if isinstance(features, pd.DataFrame) else ParquetColumns(features)
        uscc = self._read("uscc")
        if len(uscc) == len(scores) and np.array_equal(uscc.to_numpy(), scores["uscc"].to_numpy()):
            aligned = scores[SCORE].to_numpy()
        else:
            merged = pd.DataFrame({"uscc": uscc.to_numpy()}).merge(
                scores[["uscc", SCORE]], on="uscc", how="left", validate="one_to_one"
            )
            aligned = merged[SCORE].to_numpy()
        self.score = pd.Series(aligned)
        if self.score.isna().any():
            raise ValueError(f"{int(self.score.isna().sum())} entities of the indicator snapshot have no score")

    def _read(self, column: str) -> pd.Series:
        if isinstance(self.features, pd.DataFrame):
            return self.features[column].reset_index(drop=True)
        return self.features[column]

    def __getitem__(self, column: str) -> pd.Series:
        return self.score if column == SCORE else self._read(column)

    def __len__(self) -> int:
        return len(self.score)


def compare(
    current: pd.DataFrame,
    reference: pd.DataFrame | None,
    model,
    profile: dict | None,
    mp: dict,
    baseline: str | None = None,
) -> dict:
    """PSI per column of ``current`` against the profile's training shares (``reference`` None), its
    ``baseline`` shares, or ``reference`` rows; binned by the profile's bins when there is one, else by bins
    fitted to ``reference``."""
    out = {}
    for column, kind in column_kinds(model).items():
        if profile is not None:
            bins = profile["columns"][column]
        else:
            bins = fit_bins(reference[column], kind, mp["n_bins"], mp["placeholders"] if column != SCORE else [])
        if reference is not None:
            ref = proportions(reference[column], bins)
        elif baseline is not None:
            ref = np.asarray(profile["baselines"][baseline]["shares"][column])
        else:
            ref = np.asarray(bins["reference"])
        out[column] = round(psi(ref, proportions(current[column], bins), mp["epsilon"]), 6)
    return out


def verdict(score_psi: float, csi: dict[str, float], weights: dict[str, float], mp: dict) -> dict:
    """The month's reading from the score PSI and the indicators' CSI weighted by the model's reliance on them.

    The indicators' reading is their importance-weighted CSI, Σ share_j · CSI_j (shares sum to 1): an
    indicator the model hardly uses hardly counts, many small shifts in indicators it uses add up. The verdict
    is the worse of the score's reading and that one (same thresholds). Responsible: the indicators whose own
    CSI reads watch or shifted and whose share · CSI is at least ``responsible_min``, largest first.
    """
    contribution = {k: weights.get(k, 0.0) * v for k, v in csi.items()}
    weighted = round(sum(contribution.values()), 6)
    responsible = sorted(
        (k for k in csi if reading(csi[k], mp) != "stable" and contribution[k] >= mp["responsible_min"]),
        key=lambda k: (-contribution[k], k),
    )
    worst = max(reading(score_psi, mp), reading(weighted, mp), key=READINGS.index)
    return {
        "verdict": worst,
        "verdict_zh": READING_ZH[worst],
        "score_reading": reading(score_psi, mp),
        "weighted_csi": weighted,
        "indicator_reading": reading(weighted, mp),
        "responsible": [
            {
                "indicator": k,
                "csi": csi[k],
                "importance": round(weights.get(k, 0.0), 6),
                "contribution": round(contribution[k], 6),
                "reading": reading(csi[k], mp),
            }
            for k in responsible
        ],
    }


def sealed_month_frames(record) -> tuple[str, Path, pd.DataFrame] | None:
    """(month, path of the indicator snapshot, scores) of a sealed record — the ``previous`` of
    ``month_stability`` (None for no record); the snapshot's columns are read one at a time."""
    if record is None:
        return None
    return (record.month, record.features_path, pd.read_parquet(record.classes_path, columns=["uscc", SCORE]))


def month_stability(
    month: str,
    features: pd.DataFrame | Path,
    scores: pd.DataFrame,
    model,
    profile: dict | None,
    mp: dict,
    previous: tuple[str, pd.DataFrame | Path, pd.DataFrame] | None,
) -> dict:
    """The stability of ``month``: ``features`` (indicator snapshot), ``scores`` (uscc, score) and the model that
    scored it; ``previous`` = (month, features, scores) of the previous sealed month, or None.

    Compared with every reference there is: the training window and the validation baseline (from the profile)
    and the previous month. Each comparison has its reading; the month's verdict is the worse of the basis
    (``mp["basis"]``, falling back to the training window when the profile has no such baseline) and the previous
    month. Without a profile the previous month is the only comparison, and the result says so.
    """
    current = MonthColumns(features, scores)
    weights = importance_shares(model)
    against = {}
    if profile is not None:
        against["training"] = {"window": profile["window"], "psi": compare(current, None, model, profile, mp)}
        for name, baseline in sorted(profile.get("baselines", {}).items()):
            against[name] = {"window": baseline["window"], "psi": compare(current, None, model, profile, mp, name)}
    if previous is not None:
        prev_month, prev_features, prev_scores = previous
        against["previous"] = {
            "month": prev_month,
            "psi": compare(current, MonthColumns(prev_features, prev_scores), model, profile, mp),
        }
    for comparison in against.values():
        values = comparison["psi"]
        comparison["score_psi"] = values[SCORE]
        comparison.update(verdict(values[SCORE], {k: v for k, v in values.items() if k != SCORE}, weights, mp))
    basis = mp["basis"] if mp["basis"] in against else "training" if "training" in against else None
    basis = basis or ("previous" if "previous" in against else None)
    out = {
        "month": month,
        "rows": len(current),
        "basis": basis,
        "basis_zh": COMPARISON_ZH.get(basis),
        "thresholds": {k: mp[k] for k in ("watch", "shifted", "responsible_min", "epsilon")},
        "importance": {k: round(v, 6) for k, v in weights.items()},
        "against": against,
    }
    if basis is None:
        out.update(
            verdict=None,
            verdict_zh="无可比较",
            note="no reference profile in the model export and no previous sealed month: nothing to compare with",
        )
        return out
    # the verdict: the basis, or the previous month when that reads worse (a sudden break)
    deciding = basis
    if "previous" in against and READINGS.index(against["previous"]["verdict"]) > READINGS.index(
        against[basis]["verdict"]
    ):
        deciding = "previous"
    decided = against[deciding]
    out.update(
        decided_by=deciding,
        score_psi=against[basis]["score_psi"],
        weighted_csi=against[basis]["weighted_csi"],
        verdict=decided["verdict"],
        verdict_zh=decided["verdict_zh"],
        responsible=[{**r, "against": deciding} for r in decided["responsible"]],
    )
    if basis == "previous":
        out["note"] = "the model export has no reference profile: compared with the previous sealed month only"
    elif basis != mp["basis"]:
        out["note"] = f"the model export has no {mp['basis']} baseline: the training window is the basis"
    return out
