"""Point-in-time: records dated after the as-of date change no indicator (property test)."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskclass import contract
from riskclass.indicators import build, load_catalog, load_month
from riskclass.indicators.sources import EVENT_DAY
from riskclass.io import sha256_file, write_parquet
from riskclass.periods import month_end

from conftest import ROOT

AS_OF = "2025-06"


def _date_col(day_name: str) -> str:
    return day_name[: -len("_day")] + "_date"


def perturb_future(tables: dict[str, pd.DataFrame], as_of: pd.Timestamp, seed: int) -> dict[str, pd.DataFrame]:
    """Another world that agrees with this one up to ``as_of`` and differs after it.

    Future records are deleted, re-dated and altered, new future records and entities appear, and
    things that were still open on the date end later or never. Capital changes stay consistent
    with the registry (a new latest change updates the registry value), as in any real history.
    """
    rng = np.random.default_rng(seed)
    later = lambda n: as_of + pd.to_timedelta(rng.integers(1, 500, n), unit="D")  # noqa: E731
    out = {}
    for table in contract.TABLES:
        df = tables[table.name].copy()
        event = _date_col(EVENT_DAY[table.name])
        future = (df[event] > as_of).to_numpy()
        if table.name != "entities":
            # delete about half of the future records (capital changes excepted, see above)
            protected = (
                df["change_type"].isin(["capital_up", "capital_down"]).to_numpy()
                if table.name == "changes"
                else np.zeros(len(df), bool)
            )
            drop = future & ~protected & (rng.random(len(df)) < 0.5)
            df = df[~drop].reset_index(drop=True)
            future = (df[event] > as_of).to_numpy()
            movable = future & ~(
                df["change_type"].isin(["capital_up", "capital_down"]).to_numpy()
                if table.name == "changes"
                else np.zeros(len(df), bool)
            )
            df.loc[movable, event] = later(int(movable.sum()))
            # scramble the attributes of future records among themselves
            for col in table.columns:
                if col.kind in ("code", "float", "bool", "text") and col.name not in table.key and movable.sum() > 1:
                    df.loc[movable, col.name] = rng.permutation(df.loc[movable, col.name].to_numpy())
            # new future records: copies of random rows, re-keyed and dated after the date
            if len(df) and table.name not in ("changes", "annual_reports"):
                new = df.sample(n=min(len(df), 50), random_state=seed).copy()
                new[event] = later(len(new))
                key = table.key[0]
                new[key] = [f"FUTURE-{table.name}-{seed}-{i}" for i in range(len(new))]
                df = pd.concat([df, new], ignore_index=True)
        # end dates still open (or ending later) on the date: end at another later date, or never
        for col in table.columns:
            if col.kind == "date" and not col.future_ok and col.name != event:
                open_on_date = (df[event] <= as_of) & (df[col.name].isna() | (df[col.name] > as_of))
                ends = open_on_date & (rng.random(len(df)) < 0.5)
                df.loc[ends, col.name] = later(int(ends.sum()))
        out[table.name] = df
    ent = out["entities"]
    active = ent["status_date"].isna() & (ent["established_date"] <= as_of)
    closing = active & (rng.random(len(ent)) < 0.1)
    ent.loc[closing, "status"] = rng.choice(["deregistered", "revoked"], int(closing.sum()))
    ent.loc[closing, "status_date"] = later(int(closing.sum()))
    newcomers = ent.sample(n=20, random_state=seed).copy()
    newcomers["uscc"] = [f"9144080200000{i:04d}X" for i in range(20)]
    newcomers["established_date"] = later(20)
    out["entities"] = pd.concat([ent, newcomers], ignore_index=True)
    # a consistent new latest capital change for some entities
    changes = out["changes"]
    latest = changes.groupby("uscc")["change_date"].max()
    movers = ent[ent["status_date"].isna()].sample(n=30, random_state=seed)["uscc"]
    when = pd.Series(later(len(movers)), index=movers.to_numpy())
    when = np.maximum(when, latest.reindex(when.index).fillna(as_of) + pd.Timedelta(days=1))
    before = ent.set_index("uscc").loc[movers, "registered_capital"].to_numpy()
    new_changes = pd.DataFrame(
        {
            "change_id": [f"FUT-CAP-{seed}-{i}" for i in range(len(movers))],
            "uscc": movers.to_numpy(),
            "change_type": "capital_up",
            "change_date": when.to_numpy(),
            "capital_before": before,
            "capital_after": before * 3,
        }
    )
    out["changes"] = pd.concat([changes, new_changes], ignore_index=True)
    out["entities"].loc[out["entities"]["uscc"].isin(movers), "registered_capital"] = out["entities"]["uscc"].map(
        dict(zip(movers, before * 3, strict=True))
    )
    return out


def _write(tables: dict[str, pd.DataFrame], directory) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        write_parquet(frame, directory / f"{name}.parquet")


@pytest.fixture(scope="module")
def baseline(small_city_ingested, tmp_path_factory):
    validated, _ = small_city_ingested
    tables = {t.name: pd.read_parquet(validated / f"{t.name}.parquet") for t in contract.TABLES}
    catalog = load_catalog(ROOT / "indicators.yaml")
    out = tmp_path_factory.mktemp("features_base")
    build(validated, catalog, [AS_OF, "2026-10"], out)
    return tables, catalog, load_month(out, AS_OF), load_month(out, "2026-10")


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=10_000))
def test_future_records_change_no_indicator(baseline, tmp_path, seed):
    tables, catalog, before, later_before = baseline
    as_of = pd.Timestamp(month_end(AS_OF))
    world = perturb_future(tables, as_of, seed)
    work = tmp_path / f"w{seed}"
    _write(world, work / "validated")
    build(work / "validated", catalog, [AS_OF, "2026-10"], work / "features")
    after = load_month(work / "features", AS_OF)
    pd.testing.assert_frame_equal(before, after, check_exact=False, rtol=1e-12)
    # the perturbation is material: at a later date, the two worlds differ
    assert not load_month(work / "features", "2026-10").equals(later_before)
    shutil.rmtree(work)


def test_same_inputs_give_identical_bytes(small_city_ingested, tmp_path):
    validated, _ = small_city_ingested
    catalog = load_catalog(ROOT / "indicators.yaml")
    build(validated, catalog, [AS_OF], tmp_path / "a")
    build(validated, catalog, [AS_OF], tmp_path / "b")
    for name in (f"{AS_OF}.parquet", "manifest.json"):
        assert sha256_file(tmp_path / "a" / name) == sha256_file(tmp_path / "b" / name)
