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
from riskclass.synth.shard import WHOLE, Shard
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
    first = sim.reg.shard.first(len(all_rows), "roles")
    all_rows.insert(0, "role_id", [f"R{first + i:09d}" for i in range(1, len(all_rows) + 1)])
    return all_rows[contract.table("roles").column_names]


def _listings(sim: CitySimulation, uscc: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    years = sim.l_date.astype("datetime64[Y]").astype(int) + 1970
    order = np.lexsort((sim.l_entity, sim.l_date))
    first = sim.reg.shard.first(len(order), "abnormal listings")
    abnormal = pd.DataFrame(
        {
            "listing_id": [f"湛市监异〔{years[i]}〕{first + k + 1}号" for k, i in enumerate(order)],
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
    accept (registry rows not corrupted), and the normalised names of those (``accepted_names``: the caller turns
    them into ``name_counts``, over the whole city)."""
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
        "accepted_names": normalise_names(accepted["name"], NAME_VARIANTS),
        "prefecture": str(city.get("prefecture", "440800")),
    }


def generate(
    out: Path,
    *,
    entities: int,
    months: int,
    seed: int,
    synth_params: dict,
    city: dict,
    show_progress: bool = True,
    workers: int | None = None,
) -> dict:
    """Generate a synthetic city into ``out/raw`` and ``out/truth``; return the summary written to the manifest.

    A city of more than ``synth.shard_entities`` entities is generated as independent shards in ``workers``
    processes (synth/sharded.py, default ``synth.workers``); a smaller one in one piece, as always.
    """
    sp = dict(synth_params)
    sizes = shard_sizes(entities, sp["shard_entities"])
    if len(sizes) > 1:
        from riskclass.synth.sharded import generate_sharded

        return generate_sharded(Path(out), sizes, months, seed, sp, city, workers or sp["workers"], show_progress)
    with atomic_directory(Path(out)) as scratch:
        (scratch / "raw").mkdir()
        (scratch / "truth").mkdir()
        part = build_part(scratch, WHOLE, entities, months, seed, sp, city, show_progress)
        summary = finish(scratch, [part], entities, months, seed, sp, city)
    return summary


def shard_sizes(entities: int, shard_entities: int) -> list[int]:
    """Entities per shard: as few shards of at most ``shard_entities`` as possible, sizes differing by one at most."""
    k = max(1, -(-entities // shard_entities))
    return [entities // k + (i < entities % k) for i in range(k)]


def _export_table(name: str, frame: pd.DataFrame, sp: dict, snapshot, rng) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A table rendered as text with its corrupted rows and their log (records numbered within ``frame``)."""
    table = contract.table(name)
    fmt = table_format(sp, name)
    return corrupt(render(frame, table, fmt), table, fmt, sp["corruption_rate"], snapshot, rng)


def table_format(sp: dict, name: str) -> dict:
    return {**sp["formats"]["default"], **sp["formats"].get(name, {})}


def _write_contract_form(name: str, text: pd.DataFrame, sp: dict, raw: Path) -> str:
    return write_table(text, contract.table(name), table_format(sp, name), raw / name)


def write_national_part(part: dict, name: str, registry: dict, seed: int, shard: Shard, raw: Path) -> None:
    """Write a national-form table of one part (its text and log kept in ``part``); its quirks draw from their own
    stream, so the records do not depend on them. ``registry['name_counts']`` must count the whole city's names."""
    table = contract.table(name)
    entry = part["tables"][name]
    form_rng = shard.rng(seed, 7, contract.ALL_TABLES.index(table))
    fmt = table_format(part["sp"], name)
    file_name, expected, quirks = write_national(
        entry.pop("text"), table, fmt, raw / name, entry["log"], registry, form_rng
    )
    entry["log"] = pd.concat([entry["log"], expected], ignore_index=True).sort_values("record", kind="stable")
    entry["file"], entry["quirks"] = file_name, {"form": fmt["form"], **quirks}


def build_part(
    root: Path, shard: Shard, n: int, months: int, seed: int, sp: dict, city: dict, show_progress: bool = False
) -> dict:
    """Simulate ``n`` entities as ``shard`` and write its tables under ``root/raw`` and truth under ``root/truth``.

    The planning inputs are left to ``finish`` (they belong to the whole city). National-form tables are written
    here only for the whole city in one piece; a shard keeps their text in the returned part (their name matching
    needs the whole city's names). Returns, per table, the file, the row count and the corruption log (records
    numbered within the part), plus what ``finish`` needs: the alive entities and the accepted names.
    """
    cal = Calendar(months=months, end_month=str(sp["end_month"]))
    rng = shard.rng(seed)
    with Progress(disable=not show_progress, transient=True) as progress:
        reg = build_registry(rng, n, sp, city, cal, shard)
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
    # the professional domains draw from their own streams after the simulation, so nothing above depends on them
    prof, domain_truth = professional_tables(seed, reg, sim, cal, tables["licences"], sp["professional"])
    tables.update(prof)
    prof_rng = shard.rng(seed, 8)

    snapshot = cal.snapshot_date
    part: dict = {
        "sp": sp,
        "tables": {},
        "alive": entities_df.loc[entities_df["status"] == "active", "uscc"].to_numpy(),
    }
    for table in contract.ALL_TABLES:
        if table in contract.PLANNING_TABLES:
            continue
        name = table.name
        frame = tables.pop(name)
        text, log = _export_table(name, frame, sp, snapshot, rng if table in contract.TABLES else prof_rng)
        if name == "entities":
            registry = _export_registry(frame, text, log, city)
            if shard.sharded:  # the whole city's counts come later (sharded.py)
                part["accepted_names"] = registry.pop("accepted_names")
            else:
                registry["name_counts"] = registry.pop("accepted_names").value_counts().to_dict()
        entry = {"rows": len(text), "log": log}
        part["tables"][name] = entry
        if table_format(sp, name).get("form", "contract") == "contract":
            entry["file"] = _write_contract_form(name, text, sp, root / "raw")
        else:
            entry["text"] = text
            if not shard.sharded:
                write_national_part(part, name, registry, seed, shard, root / "raw")
    if shard.sharded:
        part["registry"] = registry
    _write_truth(root / "truth", sim, reg, cal, domain_truth)
    return part


def _write_truth(truth: Path, sim: CitySimulation, reg, cal: Calendar, domain_truth: pd.DataFrame) -> None:
    uscc = reg.cols["uscc"]
    tm = sim.truth.frame(["entity", "month", "risk_logit", "violation_prob", "violating"])
    labels = np.array([cal.label(t) for t in range(cal.months)], dtype=object)
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
        pd.DataFrame({"uscc": uscc, "shell_cluster": reg.shell_cluster, "base_risk": reg.base_risk.astype(np.float32)}),
        truth / "entities.parquet",
    )
    write_parquet(domain_truth, truth / "domain_month.parquet")


def finish(
    root: Path,
    parts: list[dict],
    entities: int,
    months: int,
    seed: int,
    sp: dict,
    city: dict,
    extra: dict | None = None,
) -> dict:
    """The city-wide part: planning inputs (their own stream, sized to the whole city), ``snapshot.json``, the
    corruption log (records of each table numbered across the parts, in the order their files hold them) and
    ``summary.json``. The parts' files must already be in ``root/raw`` (one part) or joined there (shards)."""
    cal = Calendar(months=months, end_month=str(sp["end_month"]))
    snapshot = cal.snapshot_date
    raw = root / "raw"
    summary: dict = {
        "snapshot_date": str(snapshot),
        "first_month": cal.label(0),
        "last_month": cal.label(months - 1),
        "generator": {"entities": entities, "months": months, "seed": seed, **(extra or {})},
        "tables": {},
    }
    # the planning inputs draw from their own stream, so the enterprise tables do not depend on them
    plan_rng = np.random.default_rng([seed, 6])
    planning = {"check_items": check_items()}
    planning["inspectors"] = inspectors(plan_rng, entities, sp["planning"], snapshot)
    alive = np.concatenate([p["alive"] for p in parts])
    planning["inspector_conflicts"] = conflicts(plan_rng, planning["inspectors"], alive, sp["planning"], snapshot)
    logs = []
    for table in contract.ALL_TABLES:
        name = table.name
        fmt = table_format(sp, name)
        if table in contract.PLANNING_TABLES:
            text, log = _export_table(name, planning[name], sp, snapshot, plan_rng)
            entries = [{"rows": len(text), "log": log, "file": _write_contract_form(name, text, sp, raw)}]
        else:
            entries = [p["tables"][name] for p in parts]
        rows_before = np.cumsum([0] + [e["rows"] for e in entries])
        log = pd.concat(
            [e["log"].assign(record=e["log"]["record"] + rows_before[k]) for k, e in enumerate(entries)],
            ignore_index=True,
        )
        offset = 1 + int(bool(fmt.get("title_row"))) if fmt["file_format"] == "csv" else 0
        file_name = entries[0]["file"]
        log.insert(0, "file", file_name)
        log.insert(0, "table", name)
        log["row"] = log["record"] + 1 + offset
        logs.append(log)
        if "quirks" in entries[0]:
            quirks = {
                k: v if k == "form" else sum(e["quirks"][k] for e in entries) for k, v in entries[0]["quirks"].items()
            }
            summary.setdefault("national_forms", {})[name] = quirks
        summary["tables"][name] = {
            "file": file_name,
            "rows": int(rows_before[-1]),
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
    pd.concat(logs, ignore_index=True).to_csv(root / "truth" / "corruptions.csv", index=False, lineterminator="\n")
    write_json(summary, root / "summary.json")
    return summary
