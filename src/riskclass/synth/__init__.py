"""The synthetic city: a realistic, deterministic stand-in for a bureau's raw data snapshot.

``generate(...)`` writes ``OUT/raw`` (files in the data contract, with realistic export quirks and
corrupted rows) and ``OUT/truth`` (latent risk, true violation state and the corruption log, which no
model input may read). Same arguments → byte-identical files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from rich.progress import Progress

from riskclass import contract
from riskclass.io import atomic_directory, write_json, write_parquet
from riskclass.synth.calendar import Calendar
from riskclass.synth.city import build_registry
from riskclass.synth.export import (
    authority_codes,
    corrupt,
    registration_numbers,
    render,
    write_national,
    write_table,
)
from riskclass.synth.licences import licence_records
from riskclass.synth.planning import check_items, conflicts, inspectors
from riskclass.synth.professional import generate as professional_tables
from riskclass.synth.simulate import EVENT_TABLES, NAT, CitySimulation


def _frame(sim: CitySimulation, name: str, uscc: np.ndarray) -> pd.DataFrame:
    table = contract.table(name)
    cols = [c for c in table.column_names if c != "uscc"] + ["entity"]
    frame = sim.logs[name].frame(cols)
    frame.insert(0, "uscc", uscc[frame.pop("entity").to_numpy(dtype=np.int64)] if len(frame) else [])
    return frame[table.column_names]


def _roles(sim: CitySimulation, uscc: np.ndarray) -> pd.DataFrame:
    roles = sim.reg.roles
    changes = sim.role_changes.frame(["entity", "old", "new", "date"])
    new_rows = pd.DataFrame(
        {
            "uscc": uscc[changes["entity"].to_numpy(dtype=np.int64)] if len(changes) else [],
            "role": "legal_rep",
            "holder_type": "natural_person",
            "person_key": changes["new"],
            "holder_uscc": None,
            "share": np.nan,
            "start_date": changes["date"],
            "end_date": NAT,
        }
    )
    all_rows = pd.concat([roles, new_rows], ignore_index=True)
    reps = all_rows["role"] == "legal_rep"
    ordered = all_rows[reps].sort_values(["uscc", "start_date"], kind="stable")
    next_start = ordered.groupby("uscc")["start_date"].shift(-1)
    all_rows.loc[ordered.index, "end_date"] = next_start
    all_rows = all_rows.sort_values(["uscc", "role", "start_date"], kind="stable").reset_index(drop=True)
    all_rows.insert(0, "role_id", [f"R{i:09d}" for i in range(1, len(all_rows) + 1)])
    return all_rows[contract.table("roles").column_names]


def _listings(sim: CitySimulation, uscc: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    years = sim.l_date.astype("datetime64[Y]").astype(int) + 1970
    order = np.lexsort((sim.l_entity, sim.l_date))
    abnormal = pd.DataFrame(
        {
            "listing_id": [f"湛市监异〔{years[i]}〕{k + 1}号" for k, i in enumerate(order)],
            "uscc": uscc[sim.l_entity[order]],
            "reason_code": sim.l_reason[order],
            "list_date": sim.l_date[order],
            "removal_date": sim.l_removal_date[order],
            "removal_reason": sim.l_removal_reason[order],
        }
    )
    ser = sim.serious.frame(["entity", "reason", "list_date", "listing_id"])
    repaired = sim.repaired_serious
    serious = pd.DataFrame(
        {
            "listing_id": ser["listing_id"],
            "uscc": uscc[ser["entity"].to_numpy(dtype=np.int64)] if len(ser) else [],
            "reason": ser["reason"],
            "list_date": ser["list_date"],
            "removal_date": [repaired.get(i, NAT) for i in ser["listing_id"]],
            "removal_reason": ["credit_repair" if i in repaired else None for i in ser["listing_id"]],
        }
    )
    return abnormal, serious


def _export_registry(entities: pd.DataFrame, text: pd.DataFrame, log: pd.DataFrame, city: dict) -> dict:
    """What the national forms need of the registry: names and 注册号 by USCC, and which entities ingest will
    accept (registry rows not corrupted), with how many of those share each normalised name."""
    from riskclass.contract import NAME_VARIANTS
    from riskclass.ingest.matching import normalise_names

    logged = np.zeros(len(text), dtype=bool)
    logged[log["record"].to_numpy(dtype=np.int64)] = True
    clean = set(entities["uscc"]) & set(text.loc[~logged, "uscc"])
    names = dict(zip(entities["uscc"], entities["name"], strict=True))
    accepted = entities[entities["uscc"].isin(clean)]
    return {
        "clean": clean,
        "names": names,
        "reg_nos": dict(zip(entities["uscc"], entities["reg_no"], strict=True)),
        "name_counts": normalise_names(accepted["name"], NAME_VARIANTS).value_counts().to_dict(),
        "prefecture": str(city.get("prefecture", "440800")),
    }


def generate(
    out: Path, *, entities: int, months: int, seed: int, synth_params: dict, city: dict, show_progress: bool = True
) -> dict:
    """Generate a synthetic city into ``out/raw`` and ``out/truth``; return the summary written to the manifest."""
    sp = dict(synth_params)
    cal = Calendar(months=months, end_month=str(sp["end_month"]))
    rng = np.random.default_rng(seed)
    with Progress(disable=not show_progress, transient=True) as progress:
        reg = build_registry(rng, entities, sp, city, cal)
        sim = CitySimulation(reg, sp, cal, rng)
        sim.run(progress)
    uscc = reg.cols["uscc"]

    entities_df = pd.DataFrame(reg.cols)
    entities_df["status"], entities_df["status_date"] = sim.status, sim.status_date
    entities_df["registered_capital"] = sim.capital
    entities_df["reg_no"] = registration_numbers(entities_df["uscc"], entities_df["established_date"])
    abnormal, serious = _listings(sim, uscc)
    tables = {
        "entities": entities_df.sort_values("uscc").reset_index(drop=True),
        "roles": _roles(sim, uscc),
        "licences": licence_records(rng, reg, sim, cal),
        "abnormal_listings": abnormal,
        "serious_violations": serious,
    }
    for name in EVENT_TABLES:
        tables[name] = _frame(sim, name, uscc)
    tables["penalties"]["entity_name"] = tables["penalties"]["uscc"].map(dict(zip(uscc, reg.cols["name"], strict=True)))
    tables["penalties"]["authority_uscc"] = authority_codes(tables["penalties"]["authority"])

    snapshot = cal.snapshot_date
    summary: dict = {
        "snapshot_date": str(snapshot),
        "first_month": cal.label(0),
        "last_month": cal.label(months - 1),
        "generator": {"entities": entities, "months": months, "seed": seed},
        "tables": {},
    }
    with atomic_directory(Path(out)) as scratch:
        raw, truth = scratch / "raw", scratch / "truth"
        raw.mkdir()
        truth.mkdir()
        logs = []
        # the planning inputs draw from their own stream, so the enterprise tables do not depend on them
        plan_rng = np.random.default_rng([seed, 6])
        tables["check_items"] = check_items()
        tables["inspectors"] = inspectors(plan_rng, entities, sp["planning"], snapshot)
        alive = entities_df.loc[entities_df["status"] == "active", "uscc"].to_numpy()
        tables["inspector_conflicts"] = conflicts(plan_rng, tables["inspectors"], alive, sp["planning"], snapshot)
        # the professional domains draw from their own streams after the simulation, so nothing above depends on them
        prof, domain_truth = professional_tables(seed, reg, sim, cal, tables["licences"], sp["professional"])
        tables.update(prof)
        prof_rng = np.random.default_rng([seed, 8])
        for table in contract.ALL_TABLES:
            fmt = {**sp["formats"]["default"], **sp["formats"].get(table.name, {})}
            text = render(tables[table.name], table, fmt)
            table_rng = (
                rng if table in contract.TABLES else prof_rng if table in contract.PROFESSIONAL_TABLES else plan_rng
            )
            text, log = corrupt(text, table, fmt, sp["corruption_rate"], snapshot, table_rng)
            if table.name == "entities":
                registry = _export_registry(tables["entities"], text, log, city)
            if fmt.get("form", "contract") == "contract":
                file_name = write_table(text, table, fmt, raw / table.name)
            else:  # a national form: its quirks draw from their own stream, so the records do not depend on them
                form_rng = np.random.default_rng([seed, 7, contract.ALL_TABLES.index(table)])
                file_name, expected, quirks = write_national(
                    text, table, fmt, raw / table.name, log, registry, form_rng
                )
                log = pd.concat([log, expected], ignore_index=True).sort_values("record", kind="stable")
                summary.setdefault("national_forms", {})[table.name] = {"form": fmt["form"], **quirks}
            offset = 1 + int(bool(fmt.get("title_row"))) if fmt["file_format"] == "csv" else 0
            log.insert(0, "file", file_name)
            log.insert(0, "table", table.name)
            log["row"] = log["record"] + 1 + offset
            logs.append(log)
            summary["tables"][table.name] = {
                "file": file_name,
                "rows": len(text),
                "encoding": fmt["encoding"],
                "corrupted": len(log),
            }
        write_json(
            {
                "snapshot_date": summary["snapshot_date"],
                "city": city.get("name", ""),
                "first_month": summary["first_month"],
                "last_month": summary["last_month"],
                "tables": {k: {"file": v["file"], "rows": v["rows"]} for k, v in summary["tables"].items()},
            },
            raw / "snapshot.json",
        )
        pd.concat(logs, ignore_index=True).to_csv(truth / "corruptions.csv", index=False, lineterminator="\n")
        tm = sim.truth.frame(["entity", "month", "risk_logit", "violation_prob", "violating"])
        labels = np.array([cal.label(t) for t in range(months)], dtype=object)
        write_parquet(
            pd.DataFrame(
                {
                    "uscc": uscc[tm["entity"].to_numpy(dtype=np.int64)],
                    "month": labels[tm["month"].to_numpy(dtype=int)],
                    "risk_logit": tm["risk_logit"],
                    "violation_prob": tm["violation_prob"],
                    "violating": tm["violating"],
                }
            ),
            truth / "entity_month.parquet",
        )
        write_parquet(
            pd.DataFrame(
                {"uscc": uscc, "shell_cluster": reg.shell_cluster, "base_risk": reg.base_risk.astype(np.float32)}
            ),
            truth / "entities.parquet",
        )
        write_parquet(domain_truth, truth / "domain_month.parquet")
        write_json(summary, scratch / "summary.json")
    return summary
