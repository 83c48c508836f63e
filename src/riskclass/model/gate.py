"""The promotion gate: champion and challenger scored afresh on one out-of-time window.

The metrics stored with a registered version were measured when it was trained, on the data of that day.
After the city changes (a new snapshot, corrected records, a changed label definition) the champion's stored
figures no longer say how it ranks entities today, so comparing them with a new challenger's is unfair in
either direction. At promotion time both models are therefore scored on the **same window, the same data
and the same code**: the challenger's out-of-time validation month, its indicators from the current
feature panel, labelled by the current ``labels`` parameters from the current validated snapshot
(``dataset.labelled_month``, the function the training split uses). The challenger must beat the champion
on both AUC and KS there; Brier, the row count and a fingerprint of the rows (USCC and label, in order) are
recorded for both, so an auditor can see that the figures come from identical rows.

A comparison is only fair if neither model has seen the window's outcomes: a model whose training label
windows end after the window's as-of date is refused as a party to it (``fairness_problems``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from riskclass import periods
from riskclass.model import evaluate
from riskclass.model.dataset import labelled_month
from riskclass.model.labels import label_window
from riskclass.model.risk_model import RiskModel

COMPARED = ("auc", "ks")  # the challenger must beat the champion on each


@dataclass
class Window:
    """The out-of-time window both models are scored on: one as-of month of indicators with labels."""

    month: str
    frame: pd.DataFrame  # uscc, indicators…, label
    horizon_months: int
    label_events: dict[str, bool]
    snapshot_date: pd.Timestamp | None

    def describe(self) -> dict:
        start, end = label_window(self.month, self.horizon_months)
        return {
            "valid_month": self.month,
            "label_window": f"({start.date()}, {end.date()}]",
            "horizon_months": self.horizon_months,
            "label_events": [e for e, on in self.label_events.items() if on],
            "snapshot_date": None if self.snapshot_date is None else str(self.snapshot_date.date()),
            "rows": len(self.frame),
            "events": int(self.frame["label"].sum()),
            "rows_sha256": rows_fingerprint(self.frame),
        }


def rows_fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of the scored rows (USCC and label, in order): equal fingerprints mean identical rows."""
    text = "\n".join(frame["uscc"].astype(str) + "," + frame["label"].astype(int).astype(str))
    return hashlib.sha256(text.encode()).hexdigest()


def window_for(p: dict, month: str) -> Window:
    """The window of ``month`` from the current parameters, feature panel and validated snapshot."""
    mp, lp = p["model"], p["labels"]
    snapshot = pd.Timestamp(periods.snapshot_date(Path(mp["validated_dir"])))
    return Window(month, labelled_month(mp, lp, month, snapshot), lp["horizon_months"], lp["events"], snapshot)


def fairness_problems(name: str, model: RiskModel, window: Window) -> list[str]:
    """Why ``model`` may not take part in a comparison on ``window``: it has seen the window's outcomes."""
    months, horizon = model.info.get("train_months"), model.info.get("horizon_months")
    if not months or not horizon:
        return []
    _, trained_until = label_window(months[-1], horizon)
    as_of, _ = label_window(window.month, window.horizon_months)
    if trained_until > as_of:
        return [
            f"{name} was trained on labels up to {trained_until.date()}, after the window's as-of date "
            f"{as_of.date()}: it has seen the outcomes it would be judged on"
        ]
    return []


def figures(model: RiskModel, window: Window) -> dict:
    """AUC, KS, Brier of ``model`` on the window's rows, with the rows' count and fingerprint."""
    frame = window.frame
    missing = [f for f in model.features if f not in frame.columns]
    if missing:
        raise KeyError(f"the {window.month} indicators lack {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}")
    m = evaluate.discrimination(frame["label"].to_numpy(), model.probability(frame))
    return {
        "auc": m["auc"],
        "ks": m["ks"],
        "brier": m["brier"],
        "rows": m["n"],
        "event_rate": m["event_rate"],
        "rows_sha256": rows_fingerprint(frame),
        "train_months": model.info.get("train_months"),
        "valid_month": model.info.get("valid_month"),
    }


def compare(
    window: Window,
    challenger: tuple[str, RiskModel, dict],
    champion: tuple[str, RiskModel, dict],
) -> dict:
    """Score both models on ``window``; ``refusals`` lists why the challenger may not replace the champion.

    Each side is (label, model, stored metrics); the label names it in messages (``v3`` or ``this run``).
    A champion that cannot be scored on the current indicators (a catalog change removed one it uses) cannot
    classify the coming months either: it is recorded as such and does not block the challenger.
    """
    (ch_name, ch_model, ch_stored), (cp_name, cp_model, cp_stored) = challenger, champion
    refusals = fairness_problems(f"challenger {ch_name}", ch_model, window)
    refusals += fairness_problems(f"champion {cp_name}", cp_model, window)
    ch = figures(ch_model, window)
    try:
        cp = figures(cp_model, window)
    except KeyError as exc:
        cp = {"unscorable": f"champion {cp_name} cannot be scored on the current indicators: {exc.args[0]}"}
    for side, fig, stored in ((ch_name, ch, ch_stored), (cp_name, cp, cp_stored)):
        fig["name"] = side
        fig["stored_auc"], fig["stored_ks"] = stored.get("oot_auc"), stored.get("oot_ks")
    if "unscorable" not in cp:
        for m in COMPARED:
            mine, theirs = ch[m], cp[m]
            if mine is None or (theirs is not None and not mine > theirs):
                refusals.append(
                    f"fresh out-of-time {m.upper()} {_f(mine)} does not beat champion {cp_name} ({_f(theirs)}) "
                    f"on the same window ({window.month}, {len(window.frame)} rows)"
                )
    return {"window": window.describe(), "challenger": ch, "champion": cp, "refusals": refusals}


def _f(x) -> str:
    return "—" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.4f}"
