"""Training and validation data: indicator panels joined to labels, split out of time."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from riskclass.indicators import load_month, months_between
from riskclass.indicators.catalog import Catalog
from riskclass.model.labels import label_window, labels_for


@dataclass
class Split:
    train: pd.DataFrame  # uscc, as_of, indicators…, label
    valid: pd.DataFrame
    train_months: list[str]
    valid_month: str


def feature_columns(catalog: Catalog) -> tuple[list[str], list[str]]:
    """(numeric, categorical) indicator codes, in catalog order."""
    numeric = [i.code for i in catalog.indicators if not i.is_categorical]
    categorical = [i.code for i in catalog.indicators if i.is_categorical]
    return numeric, categorical


def labelled_month(mp: dict, lp: dict, month: str, snapshot_date: pd.Timestamp | None) -> pd.DataFrame:
    frame = load_month(Path(mp["features_dir"]), month)
    frame["label"] = labels_for(
        frame["uscc"], Path(mp["validated_dir"]), month, lp["horizon_months"], lp["events"], snapshot_date
    ).to_numpy()
    return frame


def out_of_time_split(mp: dict, lp: dict, snapshot_date: pd.Timestamp | None = None) -> Split:
    """Training months ``train_from``…``train_to``, validation at ``valid_month``.

    No leakage across the split: every training label window must end on or before the validation
    as-of date, so nothing the model learns from happened after the validation features were taken.
    """
    train_months = months_between(mp["train_from"], mp["train_to"])
    valid_month = str(mp["valid_month"])
    _, last_train_label_end = label_window(train_months[-1], lp["horizon_months"])
    valid_as_of, _ = label_window(valid_month, lp["horizon_months"])
    if last_train_label_end > valid_as_of:
        raise ValueError(
            f"leakage across the split: the label window of {train_months[-1]} ends "
            f"{last_train_label_end.date()}, after the validation as-of date {valid_as_of.date()}"
        )
    train = pd.concat([labelled_month(mp, lp, m, snapshot_date) for m in train_months], ignore_index=True)
    valid = labelled_month(mp, lp, valid_month, snapshot_date)
    return Split(train, valid, train_months, valid_month)


def entity_hash(uscc: pd.Series, salt: str = "") -> np.ndarray:
    """A number in [0, 1] per row from the SHA-256 of ``salt + uscc``: the same entity gets the same number in
    every month, so a cut ``entity_hash(…) < share`` puts all months of an entity on one side. Different salts
    give independent cuts."""
    return uscc.map(lambda u: int(hashlib.sha256((salt + u).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF).to_numpy()


def calibration_mask(uscc: pd.Series, share: float) -> np.ndarray:
    """Deterministic hold-out by entity (all months of an entity fall on the same side)."""
    return entity_hash(uscc) < share
