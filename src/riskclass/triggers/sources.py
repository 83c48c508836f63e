"""What fires a trigger in month M, and what removes an entity from the roster — only events dated within M
(the serious-violation list: listed by the month end), so the roster of M never depends on later data.

Trigger kinds (domain.md §6; each can be switched off in ``params.yaml`` ``triggers.kinds``):

- ``complaint``  a complaint or report (投诉举报) found substantiated, dated by its closing (when it is known);
- ``warning``    an early warning (预警) of M whose code is in ``triggers.warning_codes`` (data/warnings/<M>.parquet)
                 and that the entity did not have in M − 1 (a lasting state triggers once);
- ``case_lead``  an inspection of M whose disposition transferred a case lead (移送案件线索);
- ``legal``      a check a law or a superior authority requires (法律法规规定): a manual list the bureau keeps,
                 ``triggers.legal_file`` (CSV: uscc, basis, requested_date [, note]; validated, refused whole);
- ``worsening``  the class of M at least ``worsening_min_steps`` classes worse than the class of M − 1 (分类等级下降).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from riskclass import uscc as uscc_codes
from riskclass.codes import CLASSES
from riskclass.exports import read_csv
from riskclass.triggers.kinds import KIND_ZH, KINDS

TRIGGER_COLUMNS = ["uscc", "month", "kind", "kind_zh", "event_date", "evidence"]
LEGAL_COLUMNS = ("uscc", "basis", "requested_date")
RANK = {c: i for i, c in enumerate(CLASSES)}


class TriggerError(ValueError):
    """The roster or its triggers cannot be computed as asked (the message names the file, row or month)."""


def window(month: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day of the month (inclusive)."""
    period = pd.Period(month, freq="M")
    return period.start_time.normalize(), period.end_time.normalize()


def _within(dates: pd.Series, month: str) -> np.ndarray:
    start, end = window(month)
    d = pd.to_datetime(dates)
    return ((d >= start) & (d <= end)).fillna(False).to_numpy(dtype=bool)


def _rows(frame: pd.DataFrame, kind: str, date_column: str | None, evidence: pd.Series | str, month: str):
    end = window(month)[1]
    dates = pd.to_datetime(frame[date_column]) if date_column else pd.Series(end, index=frame.index)
    return pd.DataFrame(
        {
            "uscc": frame["uscc"].to_numpy(dtype=object),
            "kind": kind,
            "event_date": dates.dt.strftime("%Y-%m-%d").to_numpy(dtype=object),
            "evidence": (evidence if isinstance(evidence, pd.Series) else pd.Series(evidence, index=frame.index))
            .astype(str)
            .to_numpy(dtype=object),
        }
    )


def serious_listed(serious: pd.DataFrame, month: str) -> set[str]:
    """Entities on the serious-violation list at the month end, or listed during the month."""
    start, end = window(month)
    listed = pd.to_datetime(serious["list_date"])
    removed = pd.to_datetime(serious["removal_date"])
    on = (listed <= end) & (removed.isna() | (removed > end))
    return set(serious.loc[(on | ((listed >= start) & (listed <= end))).to_numpy(), "uscc"])


def read_legal_list(path: Path | str) -> pd.DataFrame:
    """The bureau's list of checks required by law (``triggers.legal_file``); an absent file is an empty list.

    Every row must carry a valid USCC, a legal basis and a ``requested_date`` YYYY-MM-DD; one bad row refuses
    the file (a required check silently dropped would be worse than a refused run)."""
    path = Path(path)
    if not path.exists():
        return pd.DataFrame({c: pd.Series(dtype=object) for c in LEGAL_COLUMNS})
    frame = read_csv(path)
    missing = [c for c in LEGAL_COLUMNS if c not in frame.columns]
    if missing:
        raise TriggerError(f"{path}: columns {missing} missing (uscc, basis, requested_date [, note])")
    frame["uscc"] = frame["uscc"].str.strip()
    problems = []
    bad_code = uscc_codes.outcomes(frame["uscc"]) != uscc_codes.OK
    dates = pd.to_datetime(frame["requested_date"].str.strip(), format="%Y-%m-%d", errors="coerce")
    for i in np.flatnonzero(bad_code | dates.isna().to_numpy() | (frame["basis"].str.strip() == "").to_numpy()):
        row = frame.iloc[i]
        problems.append(
            f"{path}: row {i + 2}: uscc {row['uscc']!r}, basis {row['basis']!r}, date {row['requested_date']!r}"
        )
    if problems:
        raise TriggerError(
            "legal-requirement list refused (valid USCC, a basis and YYYY-MM-DD needed):\n" + "\n".join(problems)
        )
    return frame.assign(requested_date=dates)


def fire_triggers(
    month: str,
    subjects: set[str],
    tp: dict,
    *,
    complaints: pd.DataFrame,
    warnings: pd.DataFrame,
    inspections: pd.DataFrame,
    legal: pd.DataFrame,
    classes: pd.DataFrame,
    previous_classes: pd.DataFrame | None,
) -> pd.DataFrame:
    """One row per trigger of ``month`` on a ``subjects`` entity (the previous roster), sorted by uscc, kind."""
    on = tp["kinds"]
    parts = []
    if on["complaint"]:
        c = complaints[
            complaints["substantiated"].fillna(False).astype(bool).to_numpy()
            & _within(complaints["closed_date"], month)
        ]
        parts.append(_rows(c, "complaint", "closed_date", c["complaint_id"], month))
    if on["warning"]:
        w = warnings[warnings["code"].isin(tp["warning_codes"])]
        parts.append(_rows(w, "warning", None, w["code"], month))
    if on["case_lead"]:
        i = inspections[
            (inspections["disposition"] == "case_lead").to_numpy() & _within(inspections["inspection_date"], month)
        ]
        parts.append(_rows(i, "case_lead", "inspection_date", i["inspection_id"], month))
    if on["legal"]:
        lg = legal[_within(legal["requested_date"], month)]
        parts.append(_rows(lg, "legal", "requested_date", lg["basis"], month))
    if on["worsening"] and previous_classes is not None:
        both = classes[["uscc", "class"]].merge(previous_classes[["uscc", "class"]], on="uscc", suffixes=("", "_prev"))
        steps = both["class"].map(RANK) - both["class_prev"].map(RANK)
        worse = both[steps >= int(tp["worsening_min_steps"])]
        parts.append(_rows(worse, "worsening", None, worse["class_prev"] + "→" + worse["class"], month))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=TRIGGER_COLUMNS)
    out = out[out["uscc"].isin(subjects)].copy()
    out["month"] = month
    out["kind_zh"] = out["kind"].map(KIND_ZH)
    out = out.sort_values(["uscc", "kind", "event_date", "evidence"], ignore_index=True)
    return out[TRIGGER_COLUMNS].drop_duplicates(ignore_index=True)


def triggered_entities(triggers: pd.DataFrame) -> pd.DataFrame:
    """One row per entity with a fired trigger: uscc and ``triggered_by`` (its kinds, in KINDS order, ';'-joined)."""
    if triggers.empty:
        return pd.DataFrame({"uscc": pd.Series(dtype=object), "triggered_by": pd.Series(dtype=object)})
    order = {k: i for i, k in enumerate(KINDS)}
    kinds = triggers.drop_duplicates(["uscc", "kind"]).assign(o=lambda d: d["kind"].map(order))
    kinds = kinds.sort_values(["uscc", "o"])
    return kinds.groupby("uscc", sort=True)["kind"].agg(";".join).rename("triggered_by").reset_index()
