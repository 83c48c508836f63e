"""Labels: an adverse regulatory outcome within the horizon after an as-of month end.

The label window of as-of date d is (d, end of month d + horizon]. Events (each switchable in
params.yaml `labels.events`): an inspection that found a problem, a new abnormal listing, an
administrative penalty, a serious-violation listing, a revocation.

Selection bias: inspection outcomes exist only for inspected entities, and inspections follow
observable risk. ``random_draw_outcomes`` returns the unbiased sample: entities drawn by an
undirected (不定向) random draw in the window, whether that check found a problem, and the inverse
of the recorded inclusion probability as the weight.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from riskclass import codes
from riskclass.periods import month_end

EVENT_SOURCES = {
    # event: (table, date column, extra filter)
    "inspection_problem": (
        "inspections",
        "inspection_date",
        lambda df: codes.found_problem(df["result_code"]),
    ),
    "abnormal_listing": ("abnormal_listings", "list_date", None),
    "penalty": ("penalties", "decision_date", None),
    "serious_listing": ("serious_violations", "list_date", None),
    "revocation": ("entities", "status_date", lambda df: df["status"] == "revoked"),
}


def label_window(month: str, horizon_months: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp(month_end(month))
    end = pd.Timestamp(month_end(str(pd.Period(month, freq="M") + horizon_months)))
    return start, end


def _read(validated_dir: Path, table: str, columns: list[str]) -> pd.DataFrame:
    return pd.read_parquet(Path(validated_dir) / f"{table}.parquet", columns=columns)


def adverse_events(
    validated_dir: Path,
    month: str,
    horizon_months: int,
    events: dict[str, bool],
    snapshot_date: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Per entity with any enabled adverse event in the window: one column per event (counts)."""
    start, end = label_window(month, horizon_months)
    if snapshot_date is not None and end > snapshot_date:
        raise ValueError(
            f"the {horizon_months}-month label window of {month} ends {end.date()}, after the "
            f"snapshot date {snapshot_date.date()}: its labels are not yet observable"
        )
    unknown = set(events) - set(EVENT_SOURCES)
    if unknown:
        raise ValueError(f"unknown label events {sorted(unknown)}; known: {sorted(EVENT_SOURCES)}")
    parts = []
    for event, enabled in events.items():
        if not enabled:
            continue
        table, date_col, extra = EVENT_SOURCES[event]
        cols = (
            ["uscc", date_col]
            + (["result_code"] if table == "inspections" else [])
            + (["status"] if table == "entities" else [])
        )
        df = _read(validated_dir, table, cols)
        mask = (df[date_col] > start) & (df[date_col] <= end)
        if extra is not None:
            mask &= extra(df)
        parts.append(df.loc[mask].groupby("uscc").size().rename(event))
    if not parts:
        raise ValueError("no label event is enabled in params.yaml labels.events")
    return pd.concat(parts, axis=1).fillna(0).astype(int)


def labels_for(
    population: pd.Series,
    validated_dir: Path,
    month: str,
    horizon_months: int,
    events: dict[str, bool],
    snapshot_date: pd.Timestamp | None = None,
) -> pd.Series:
    """0/1 label for each USCC of ``population`` (the entities alive at the as-of date)."""
    adverse = adverse_events(validated_dir, month, horizon_months, events, snapshot_date)
    return population.isin(adverse.index).astype(int).rename("label")


def random_draw_outcomes(validated_dir: Path, month: str, horizon_months: int) -> pd.DataFrame:
    """Entities checked by an undirected random draw in the window: outcome and IPW weight.

    One row per entity (its first such check in the window): ``problem`` (0/1), ``weight`` =
    1 / inclusion probability of that draw.
    """
    start, end = label_window(month, horizon_months)
    insp = _read(
        validated_dir,
        "inspections",
        ["uscc", "inspection_id", "inspection_date", "draw_type", "inclusion_prob", "result_code"],
    )
    insp = insp[
        (insp["draw_type"] == "undirected")
        & (insp["inspection_date"] > start)
        & (insp["inspection_date"] <= end)
        & insp["inclusion_prob"].notna()
    ]
    insp = insp.sort_values(["uscc", "inspection_date", "inspection_id"]).drop_duplicates("uscc")
    return pd.DataFrame(
        {
            "uscc": insp["uscc"].to_numpy(),
            "problem": codes.found_problem(insp["result_code"]).astype(int).to_numpy(),
            "weight": (1.0 / insp["inclusion_prob"]).to_numpy(),
        }
    )


def truth_outcomes(truth_dir: Path, month: str, horizon_months: int) -> pd.DataFrame | None:
    """Synthetic city only: per entity, whether it truly violated at any time in the window, and the
    oracle score (its latent risk at the as-of month). ``None`` when no ground truth exists."""
    path = Path(truth_dir) / "entity_month.parquet"
    if not path.exists():
        return None
    truth = pd.read_parquet(path, columns=["uscc", "month", "risk_logit", "violating"])
    first = pd.Period(month, freq="M")
    window = {str(first + k) for k in range(1, horizon_months + 1)}
    violated = truth[truth["month"].isin(window)].groupby("uscc")["violating"].any().astype(int)
    oracle = truth[truth["month"] == month].set_index("uscc")["risk_logit"]
    return pd.DataFrame({"violated": violated, "oracle": oracle}).dropna()
