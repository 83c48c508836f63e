"""Labels on the hand-made city (tests/indicator_fixture.py), as-of 2024-12 with a 12-month horizon."""

from __future__ import annotations

import pandas as pd
import pytest

from riskclass.ingest import ingest
from riskclass.model.labels import adverse_events, label_window, labels_for, random_draw_outcomes

from conftest import write_snapshot
from indicator_fixture import A, B, D, rows

ALL = {
    "inspection_problem": True,
    "abnormal_listing": True,
    "penalty": True,
    "serious_listing": True,
    "revocation": True,
}


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    root = tmp_path_factory.mktemp("labels")
    ingest(write_snapshot(root / "raw", rows()), root / "validated", show_progress=False)
    return root / "validated"


def test_window_is_after_the_as_of_date():
    start, end = label_window("2024-12", 12)
    assert (start, end) == (pd.Timestamp("2024-12-31"), pd.Timestamp("2025-12-31"))


def test_events_in_the_window_by_type(validated):
    ev = adverse_events(validated, "2024-12", 12, ALL)
    # A in 2025: P1 penalty, AB2 listing, I3 'E' (problem found, corrected). E: revoked 2025-03-01, SV1 listed.
    assert ev.loc[A].to_dict() == {
        "inspection_problem": 1,
        "abnormal_listing": 1,
        "penalty": 1,
        "serious_listing": 0,
        "revocation": 0,
    }
    assert ev.loc["91440881323456789K", "revocation"] == 1
    assert ev.loc["91440881323456789K", "serious_listing"] == 1
    assert ev.loc[D, "penalty"] == 1 and B not in ev.index


def test_events_are_switchable(validated):
    only_revocation = {k: k == "revocation" for k in ALL}
    pop = pd.Series([A, B, D])
    assert labels_for(pop, validated, "2024-12", 12, only_revocation).tolist() == [0, 0, 0]
    assert labels_for(pop, validated, "2024-12", 12, ALL).tolist() == [1, 0, 1]
    with pytest.raises(ValueError, match="no label event"):
        labels_for(pop, validated, "2024-12", 12, {k: False for k in ALL})


def test_unobservable_window_is_refused(validated):
    with pytest.raises(ValueError, match="not yet observable"):
        adverse_events(validated, "2026-01", 12, ALL, snapshot_date=pd.Timestamp("2026-10-31"))


def test_random_draw_sample_uses_undirected_checks_only(validated):
    # window 2022-12-31 … 2023-12-31: I1 (undirected, '1', p 0.0025); I5 is before it
    draws = random_draw_outcomes(validated, "2022-12", 12)
    assert draws.to_dict("records") == [{"uscc": A, "problem": 0, "weight": pytest.approx(400.0)}]
    # window 2025-12-31 … 2026-12-31: I4 undirected, 'C' found a problem
    assert random_draw_outcomes(validated, "2025-12", 12)["problem"].tolist() == [1]
