"""Shared fixtures: a small synthetic city (generated once per session) and a hand-made raw snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from riskclass.ingest import ingest
from riskclass.params import load_params
from riskclass.synth import generate

ROOT = Path(__file__).resolve().parents[1]

ENT_A = "91440802123456789F"  # enterprise
IND_B = "92440803123456789T"  # individual business
COOP_C = "93440881123456789N"  # farmers' cooperative
PERSON = "P0123456789ABCDEF"
SNAPSHOT = "2026-10-31"


@pytest.fixture(scope="session")
def params() -> dict:
    return load_params(ROOT / "params.yaml")


@pytest.fixture(scope="session")
def small_city(tmp_path_factory, params) -> Path:
    """3,000 entities over 36 months: big enough for realistic shares, small enough for seconds.

    Its 21 officers take 10–15 checks per plan instead of the default city's 1–3: a monthly plan keeps at least
    one check in every non-empty item × stratum (不免抽, about 90 here), more than a town this size could staff
    at the default rates (it would plan less often). Only the inspector directory changes (its own random stream).
    """
    out = tmp_path_factory.mktemp("city") / "city"
    sp = {**params["synth"], "planning": {**params["synth"]["planning"], "capacity": [10, 15]}}
    generate(out, entities=3000, months=36, seed=7, synth_params=sp, city=params["city"], show_progress=False)
    return out


@pytest.fixture(scope="session")
def small_city_ingested(small_city, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("validated") / "validated"
    report = ingest(small_city / "raw", out, show_progress=False)
    return out, report


def valid_rows() -> dict[str, list[dict]]:
    """One small, fully valid raw snapshot covering every table of the contract."""
    return {
        "entities": [
            dict(
                uscc=ENT_A,
                name="湛江市鑫达贸易有限公司",
                entity_type="enterprise",
                org_form="llc",
                industry_code="F5199",
                division_code="440802",
                registered_capital="100",
                paid_in_capital="20",
                established_date="2015-03-02",
                status="active",
                status_date="",
                address_key="A440802000001",
                employees="12",
                is_high_tech="false",
                is_new_economy="false",
                food_licensed="false",
                drug_licensed="false",
                special_equipment="false",
            ),
            dict(
                uscc=IND_B,
                name="霞山区鑫达餐饮店",
                entity_type="个体工商户",
                org_form="individual_business",
                industry_code="H6220",
                division_code="440803",
                registered_capital="5",
                paid_in_capital="",
                established_date="2019/05/06",
                status="active",
                status_date="",
                address_key="A440803000002",
                employees="2",
                is_high_tech="否",
                is_new_economy="否",
                food_licensed="是",
                drug_licensed="否",
                special_equipment="否",
            ),
            dict(
                uscc=COOP_C,
                name="廉江市鑫达农业专业合作社",
                entity_type="cooperative",
                org_form="farmers_cooperative",
                industry_code="A0111",
                division_code="440881",
                registered_capital="50",
                paid_in_capital="",
                established_date="2012年7月1日",
                status="deregistered",
                status_date="2024-02-01",
                address_key="A440881000003",
                employees="8",
                is_high_tech="false",
                is_new_economy="false",
                food_licensed="false",
                drug_licensed="false",
                special_equipment="false",
            ),
        ],
        "roles": [
            dict(
                role_id="R1",
                uscc=ENT_A,
                role="legal_rep",
                holder_type="natural_person",
                person_key=PERSON,
                holder_uscc="",
                share="",
                start_date="2015-03-02",
                end_date="",
            ),
            dict(
                role_id="R2",
                uscc=ENT_A,
                role="shareholder",
                holder_type="enterprise",
                person_key="",
                holder_uscc="91110108551385082Q",
                share="0.4",
                start_date="2015-03-02",
                end_date="",
            ),
        ],
        "changes": [
            dict(
                change_id="C1",
                uscc=ENT_A,
                change_type="capital_up",
                change_date="2020-01-05",
                capital_before="50",
                capital_after="100",
            )
        ],
        "annual_reports": [
            dict(
                uscc=ENT_A,
                report_year="2024",
                filing_date="2025-05-20",
                revenue="300",
                total_assets="500",
                total_liabilities="200",
                net_profit="12.5",
                tax_paid="9",
                insured_employees="10",
                all_zero="false",
            )
        ],
        "licences": [
            dict(
                licence_id="L1",
                uscc=IND_B,
                licence_type="food_business",
                issue_date="2019-05-10",
                expiry_date="2029-05-09",
                revoked_date="",
            )
        ],
        "equity_actions": [
            dict(
                action_id="E1",
                uscc=ENT_A,
                action_type="pledge",
                start_date="2022-01-01",
                end_date="2023-01-01",
                amount="30",
            )
        ],
        "penalties": [
            dict(
                decision_no="湛市监处罚〔2025〕1号",
                entity_name="湛江市鑫达贸易有限公司",
                uscc=ENT_A,
                legal_rep_key=PERSON,
                violation_type="false_advertising",
                facts="",
                basis="",
                penalty_category="fine",
                content="罚款",
                fine_amount="1.5",
                confiscation_amount="0",
                licence_revoked="",
                decision_date="2025-06-01",
                effect_end_date="",
                publicity_end_date="2028-06-01",
                authority="赤坎区市场监督管理局",
                authority_uscc="",
                data_source="",
            )
        ],
        "abnormal_listings": [
            dict(
                listing_id="AB1",
                uscc=ENT_A,
                reason_code="1",
                list_date="2024-07-05",
                removal_date="2024-09-01",
                removal_reason="report_filed",
            )
        ],
        "serious_violations": [
            dict(
                listing_id="SV1",
                uscc=ENT_A,
                reason="abnormal_3y",
                list_date="2023-07-05",
                removal_date="",
                removal_reason="",
            )
        ],
        "dishonest_debtors": [
            dict(
                case_no="（2024）粤0802执1号",
                uscc=ENT_A,
                court="赤坎区人民法院",
                publish_date="2024-03-01",
                removal_date="",
                amount="20",
            )
        ],
        "credit_repairs": [
            dict(
                repair_id="CR1",
                uscc=ENT_A,
                target="penalty",
                target_id="湛市监处罚〔2025〕1号",
                repair_date="2025-10-01",
            )
        ],
        "inspections": [
            dict(
                inspection_id="JC1",
                uscc=ENT_A,
                task_id="T1",
                item_type="general",
                draw_type="undirected",
                inclusion_prob="0.0025",
                inspection_date="2025-04-03",
                result_code="1",
                disposition="none",
            )
        ],
        "complaints": [
            dict(
                complaint_id="TS1",
                uscc=IND_B,
                channel="12315",
                kind="complaint",
                received_date="2025-08-01",
                substantiated="true",
                closed_date="2025-08-20",
            )
        ],
        "public_opinion": [dict(item_id="YQ1", uscc=IND_B, publish_date="2025-09-09", severity="low", source="")],
        "honours": [
            dict(
                honour_id="RY1", uscc=ENT_A, honour_type="a_taxpayer", award_date="2025-04-01", expiry_date="2026-04-01"
            )
        ],
    }


def write_snapshot(raw_dir: Path, rows: dict[str, list[dict]] | None = None, manifest: bool = True) -> Path:
    rows = valid_rows() if rows is None else rows
    raw_dir.mkdir(parents=True, exist_ok=True)
    for name, records in rows.items():
        pd.DataFrame(records).to_csv(raw_dir / f"{name}.csv", index=False, lineterminator="\n")
    if manifest:
        (raw_dir / "snapshot.json").write_text(json.dumps({"snapshot_date": SNAPSHOT}), encoding="utf-8")
    return raw_dir


def classified_world(small_city: Path, validated: Path, params: dict, root: Path) -> tuple[dict, Path]:
    """A champion trained on the small city, sealed records for 2026-08 and 2026-09, and parameters pointing
    at scratch folders under ``root`` (records in ``root/records``)."""
    from riskclass.classify.run import classify_month
    from riskclass.early_warning.fire import run_warnings
    from riskclass.triggers.run import run_roster

    p = trained_world(small_city, validated, params, root)
    classify_month(p, "2026-08")
    classify_month(p, "2026-09")
    run_warnings(p, "2026-09")  # a plan's directed draws may name a warning of the classes month (stage warnings)
    run_roster(p, "2026-09")  # trigger-based supervision: the plan leaves the roster out of general items
    return p, root


def promote_variant(p: dict) -> str:
    """Stand-in for a promotion: the champion export becomes another version that scores differently."""
    from riskclass.synth.operation import promote_recalibrated

    return promote_recalibrated(Path(p["classify"]["model_dir"]))


def scratch_registry(p: dict, root: Path) -> None:
    """Point ``p``'s MLflow registry, alias history and champion export at ``root`` (one store per test)."""
    p["registry"].update(
        tracking_uri=f"sqlite:///{root}/mlruns/mlflow.db",
        artifact_root=str(root / "mlruns/art"),
        alias_history=str(root / "mlruns/alias_history.jsonl"),
        champion_dir=str(root / "champion"),
    )


def trained_world(small_city: Path, validated: Path, params: dict, root: Path) -> dict:
    """A champion (v7) trained on the small city and parameters pointing at scratch folders under ``root``."""
    import copy

    from riskclass.indicators import build, load_catalog, months_between
    from riskclass.model.dataset import out_of_time_split
    from riskclass.model.pipeline import snapshot_date
    from riskclass.model.train import fit_risk_model

    catalog = load_catalog(ROOT / "indicators.yaml")
    build(validated, catalog, [*months_between("2024-06", "2024-10"), "2025-10"], root / "features")
    p = copy.deepcopy(params)
    p["features"].update(
        out_dir=str(root / "features"),
        validated_dir=str(validated),
        catalog=str(ROOT / "indicators.yaml"),
        feedback_dir=str(root / "feedback"),
    )
    p["model"].update(
        features_dir=str(root / "features"), validated_dir=str(validated), truth_dir=str(small_city / "truth")
    )
    split = out_of_time_split(p["model"], p["labels"], snapshot_date(validated))
    model = fit_risk_model(
        split.train,
        catalog,
        p["model"],
        {"anchor_probability": 0.24, "pdo": 300, "bands": p["score"]["bands"]},
        {"depth": 6, "l2_leaf_reg": 5, "rsm": 1.0, "iterations": 40},  # fixed: no settings search in a fixture
    )
    model.info["registered_version"] = "7"
    model.save(root / "champion")
    p["classify"].update(
        records_dir=str(root / "records"), model_dir=str(root / "champion"), head_file=str(root / "head.json")
    )
    p["plan"]["out_dir"] = str(root / "plans")
    p["warnings"].update(
        catalog=str(ROOT / "warnings.yaml"), out_dir=str(root / "warnings"), metrics=str(root / "warnings_eval.json")
    )
    p["triggers"].update(
        out_dir=str(root / "roster"), metrics=str(root / "roster.json"), legal_file=str(root / "legal_requirements.csv")
    )
    return p


@pytest.fixture(scope="session")
def spark(params):
    """One Spark session (local[2]) for every Spark test: starting the JVM takes 20–30 s."""
    from riskclass.spark import SparkUnavailable, session

    try:
        return session(params["spark"], app_name="riskclass-tests")
    except SparkUnavailable as exc:
        pytest.skip(str(exc))
