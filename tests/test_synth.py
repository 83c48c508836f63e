"""The synthetic city: determinism, validity of every clean row, realism and honesty."""

from __future__ import annotations

import numpy as np
import pandas as pd
from stdnum.cn import uscc as stdnum_uscc

from riskclass import codes, contract
from riskclass.io import sha256_file
from riskclass.synth import generate


def _hashes(root):
    return {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_arguments_give_byte_identical_output(tmp_path, params):
    kwargs = dict(
        entities=600, months=14, seed=11, synth_params=params["synth"], city=params["city"], show_progress=False
    )
    generate(tmp_path / "a", **kwargs)
    generate(tmp_path / "b", **kwargs)
    assert _hashes(tmp_path / "a") == _hashes(tmp_path / "b")
    generate(tmp_path / "c", **{**kwargs, "seed": 12})
    assert _hashes(tmp_path / "a")["raw/entities.csv"] != _hashes(tmp_path / "c")["raw/entities.csv"]


def test_every_quarantined_row_was_corrupted_on_purpose(small_city, small_city_ingested):
    """Clean rows all pass ingest; every injected corruption is caught; cascades come from bad entities."""
    out, report = small_city_ingested
    quarantine = pd.read_parquet(out / "quarantine.parquet")
    injected = pd.read_csv(small_city / "truth" / "corruptions.csv", dtype={"row": int})
    injected_rows = set(zip(injected["file"], injected["row"], strict=True))
    # cascades: rows naming an entity, or a register row (equipment), that was itself quarantined
    direct = quarantine[~quarantine["rule"].isin(["unknown_entity", "unknown_reference"])]
    assert set(zip(direct["file"], direct["row"], strict=True)) <= injected_rows
    caught = set(zip(quarantine["file"], quarantine["row"], strict=True))
    assert injected_rows <= caught
    # cascades: events of entities whose registry row was corrupted, and only those
    real = set(pd.read_parquet(small_city / "truth" / "entities.parquet")["uscc"])
    accepted = set(pd.read_parquet(out / "entities.parquet")["uscc"])
    lost = real - accepted
    assert len(lost) <= (injected["table"] == "entities").sum()
    cascade = quarantine[quarantine["rule"] == "unknown_entity"]
    assert set(cascade["value"]) <= lost
    units = set(pd.read_parquet(out / "special_equipment.parquet")["equipment_id"])
    assert not set(quarantine.loc[quarantine["rule"] == "unknown_reference", "value"]) & units
    assert len(injected) > 0 and report["totals"]["reconciled"]


def test_clean_identifiers_codes_and_dates_are_valid(small_city_ingested, params):
    out, _ = small_city_ingested
    entities = pd.read_parquet(out / "entities.parquet")
    assert entities["uscc"].map(stdnum_uscc.is_valid).all()
    assert entities["uscc"].is_unique
    prefixes = entities["uscc"].str[:2].map({"91": "enterprise", "92": "individual", "93": "cooperative"})
    assert (prefixes == entities["entity_type"]).all()
    assert entities["division_code"].isin(list(params["city"]["district_shares"])).all()
    assert set(entities["industry_code"]) <= set(codes.code_lists()["industry_classes"])
    snapshot = pd.Timestamp(params["synth"]["end_month"]).to_period("M").end_time.normalize()
    assert (entities["established_date"] <= snapshot).all()
    closed = entities["status"] != "active"
    assert entities.loc[closed, "status_date"].notna().all()
    assert (entities.loc[closed, "status_date"] >= entities.loc[closed, "established_date"]).all()


def test_realistic_mix_and_structure(small_city_ingested, params):
    out, _ = small_city_ingested
    e = pd.read_parquet(out / "entities.parquet")
    shares = e["entity_type"].value_counts(normalize=True)
    for etype, target in params["synth"]["entity_type_shares"].items():
        assert abs(shares.get(etype, 0) - target) < 0.03, (etype, shares.to_dict())
    ind = e[e["entity_type"] == "individual"]
    assert ind["industry_code"].str[0].isin(["F", "H", "O"]).mean() > 0.7  # individual businesses: F, H, O
    cap = e.loc[e["entity_type"] == "enterprise", "registered_capital"]
    assert cap.quantile(0.99) / cap.median() > 20  # heavy-tailed capital
    assert e["established_date"].dt.year.nunique() > 20
    roles = pd.read_parquet(out / "roles.parquet")
    reps = roles[(roles["role"] == "legal_rep") & roles["end_date"].isna()]
    assert reps.groupby("person_key")["uscc"].nunique().max() >= 5  # 一人多企
    assert e.groupby("address_key")["uscc"].nunique().max() >= 10  # 一址多照
    assert (roles["holder_type"] == "enterprise").any()  # corporate shareholders


def test_inspections_reveal_truth_with_realistic_frequencies(small_city, small_city_ingested):
    out, _ = small_city_ingested
    insp = pd.read_parquet(out / "inspections.parquet")
    random_draws = insp[insp["draw_type"] == "undirected"]
    share_clean = (random_draws["result_code"] == "1").mean()
    assert 0.75 < share_clean < 0.93, share_clean  # ~85 % 未发现问题 under plain random draws
    assert random_draws["inclusion_prob"].between(0, 1, inclusive="right").all()
    assert insp.loc[insp["draw_type"] == "triggered", "inclusion_prob"].isna().all()
    # results agree with the hidden truth: problems are found mostly where violations are
    truth = pd.read_parquet(small_city / "truth" / "entity_month.parquet")
    insp["month"] = insp["inspection_date"].dt.strftime("%Y-%m")
    joined = insp.merge(truth, on=["uscc", "month"], how="left")
    problem = joined["result_code"].isin(codes.inspection_problem_codes())
    assert joined.loc[problem, "violating"].mean() > 0.95
    assert joined.loc[joined["violating"] == True, "result_code"].ne("1").mean() > 0.7  # noqa: E712
    # the truth stays out of the raw snapshot
    expected = {f"{t.name}.csv" for t in contract.ALL_TABLES} | {"snapshot.json"}
    assert {p.name for p in (small_city / "raw").iterdir()} == expected


def test_violations_exist_unseen_and_risk_drives_events(small_city, small_city_ingested):
    out, _ = small_city_ingested
    truth = pd.read_parquet(small_city / "truth" / "entity_month.parquet")
    prevalence = truth["violating"].mean()
    assert 0.05 < prevalence < 0.25
    insp = pd.read_parquet(out / "inspections.parquet")
    violators = set(truth.loc[truth["violating"], "uscc"])
    assert len(violators - set(insp["uscc"])) > 0.5 * len(violators)  # most violators are never inspected
    per_entity = truth.groupby("uscc")["risk_logit"].mean()
    complaints = pd.read_parquet(out / "complaints.parquet").groupby("uscc").size()
    high = per_entity[per_entity > per_entity.quantile(0.9)].index
    low = per_entity[per_entity < per_entity.quantile(0.5)].index
    rate = lambda idx: complaints.reindex(idx).fillna(0).mean()  # noqa: E731
    assert rate(high) > 2 * rate(low)


def test_statutory_dynamics(small_city_ingested):
    out, _ = small_city_ingested
    listings = pd.read_parquet(out / "abnormal_listings.parquet")
    assert set(listings["reason_code"]) >= {"1", "4"}
    reason1 = listings[listings["reason_code"] == "1"]
    assert (reason1["list_date"].dt.month == 7).mean() > 0.9  # listed after the 30 June deadline
    serious = pd.read_parquet(out / "serious_violations.parquet")
    escalated = serious[serious["reason"] == "abnormal_3y"]
    assert len(escalated) > 0
    first_listing = listings.groupby("uscc")["list_date"].min()
    gap = (escalated["list_date"] - escalated["uscc"].map(first_listing)).dt.days
    assert (gap >= 3 * 365).all()
    e = pd.read_parquet(out / "entities.parquet")
    assert {"revoked", "deregistered"} <= set(e["status"])
    assert np.isin(["2024", "2025"], pd.read_parquet(out / "annual_reports.parquet")["report_year"].astype(str)).all()


def test_young_entity_effect_uses_the_age_in_each_month(params):
    """The young-entity risk effect belongs to the month simulated, not to the age at the snapshot: an entity
    carries it exactly while it is younger than two years, so training months see it too."""
    from riskclass.synth.calendar import Calendar
    from riskclass.synth.city import build_registry
    from riskclass.synth.simulate import CitySimulation

    sp = params["synth"]
    cal = Calendar(months=36, end_month=str(sp["end_month"]))
    rng = np.random.default_rng(7)
    sim = CitySimulation(build_registry(rng, 3000, sp, params["city"], cal), sp, cal, rng)
    effect = sp["risk"]["young_effect"]
    for t in (0, 12, 35):
        # the only term of the latent risk that changes between two months with the same state is the age effect
        age = t - sim.established_t
        expected = effect * ((age < 24).astype(float) - (age + 1 < 24).astype(float))
        np.testing.assert_allclose(sim._risk(t) - sim._risk(t + 1), expected, atol=1e-12)
    young_at_start = (sim.established_t > -24) & (sim.established_t <= 0)
    young_at_end = (sim.established_t > 35 - 24) & (sim.established_t <= 35)
    # entities young at the start of the window (training months) exist, and differ from those young at its end
    assert young_at_start.sum() > 100 and young_at_end.sum() > 100
    assert (young_at_start & ~young_at_end).sum() > 100
