"""Domain graders (通用+专业, domain.md §5): food, drug retail and special equipment, one module each.

Each month the classify run computes, from the same validated snapshot as the general classes, the
point-in-time indicator values of every licensed entity in each domain (``domain_inputs.parquet``,
sealed like the indicator snapshot), then grades them with the month's general class
(``domain_grades.parquet``, sealed too; ``riskclass audit reproduce`` recomputes it from the sealed
inputs and classes). Points tables: ``resources/domains/<domain>.yaml`` (:mod:`riskclass.domains.base`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from riskclass.domains import drug_retail, food, special_equipment
from riskclass.domains.base import DOMAINS, PointsTable, parse_table, points_table
from riskclass.domains.sources import SOURCE_TABLES, Sources
from riskclass.io import write_parquet

MODULES = {"food": food, "drug_retail": drug_retail, "special_equipment": special_equipment}
INPUTS_FILE = "domain_inputs.parquet"
GRADES_FILE = "domain_grades.parquet"
GRADE_COLUMNS = [
    "uscc",
    "month",
    "domain",
    "group",
    "general_class",
    "points",
    "points_grade",
    "grade",
    "override",
    "always_key",
    "key_reasons",
    "reasons",
]


def build_inputs(validated_dir: Path, month: str, features: pd.DataFrame | Path) -> pd.DataFrame:
    """Every domain's indicator values for ``month``: one row per licensed entity and domain, from records
    known by the month end; the general-indicator parts come from the month's indicator snapshot."""
    src = Sources(Path(validated_dir), month, features)
    parts = [MODULES[d].inputs(src, points_table(d)).assign(domain=d) for d in DOMAINS]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({"uscc": pd.Series(dtype=object), "domain": pd.Series(dtype=object)})
    out = pd.concat(parts, ignore_index=True)
    lead = ["uscc", "domain", "group"]
    out = out[lead + sorted(c for c in out.columns if c not in lead)]
    return out.sort_values(["domain", "uscc"], kind="stable").reset_index(drop=True)


def grade(
    inputs: pd.DataFrame, classes: pd.DataFrame, month: str, tables: dict[str, PointsTable] | None = None
) -> pd.DataFrame:
    """Each entity's grade per domain from its inputs and the month's general class (``classes``: uscc, class),
    with ``tables`` (default: the packaged points tables)."""
    tables = tables or {d: points_table(d) for d in DOMAINS}
    general = dict(zip(classes["uscc"], classes["class"], strict=True))
    parts = []
    for d in DOMAINS:
        rows = inputs[inputs["domain"] == d].reset_index(drop=True)
        if not len(rows):
            continue
        rows = rows.assign(general_class=rows["uscc"].map(general))
        rows = rows[rows["general_class"].notna()].reset_index(drop=True)  # graded only with a general class
        parts.append(MODULES[d].grade(rows, tables[d]).assign(domain=d, month=month))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in GRADE_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    out["always_key"] = out["always_key"].astype(bool)
    out["points"] = out["points"].astype(float)
    return out[GRADE_COLUMNS].sort_values(["domain", "uscc"], kind="stable").reset_index(drop=True)


def shares(grades: pd.DataFrame) -> dict:
    """Grade counts and shares per domain, and how many are always key-inspected (for the month's summary)."""
    out = {}
    for d, g in grades.groupby("domain", sort=True):
        counts = g["grade"].value_counts().reindex(list("ABCD"), fill_value=0)
        out[d] = {
            "entities": len(g),
            "counts": {k: int(v) for k, v in counts.items()},
            "shares": {k: round(float(v) / max(len(g), 1), 4) for k, v in counts.items()},
            "overrides": int((g["override"] != "").sum()),
            "always_key": int(g["always_key"].sum()),
        }
    return out


__all__ = ["DOMAINS", "GRADES_FILE", "INPUTS_FILE", "SOURCE_TABLES", "build_inputs", "grade", "np", "shares"]


TABLES_FILE = "domain_tables.json"
SUMMARY_FILE = "domain_summary.json"
RECORD_FILES = (INPUTS_FILE, TABLES_FILE, GRADES_FILE, SUMMARY_FILE)


def _json_bytes(obj) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def source_files(validated_dir: Path) -> dict[str, Path]:
    """The validated files the domain inputs are read from (hashed into the record's manifest)."""
    files = {f"validated/{t}.parquet": Path(validated_dir) / f"{t}.parquet" for t in SOURCE_TABLES}
    return {k: v for k, v in files.items() if v.exists()}


def seal_inputs(folder: Path, validated_dir: Path, month: str, features: pd.DataFrame | Path) -> None:
    """Write the month's domain inputs and the points tables in force into a record being staged."""
    write_parquet(build_inputs(validated_dir, month, features), Path(folder) / INPUTS_FILE)
    tables = {d: points_table(d).model_dump(mode="json") for d in DOMAINS}
    (Path(folder) / TABLES_FILE).write_bytes(_json_bytes(tables))


def write_grades(folder: Path, month: str) -> dict:
    """Grade the month from the record's own domain inputs, points tables and classes (all in ``folder``):
    ``domain_grades.parquet`` and ``domain_summary.json``. The audit's reproduction calls the same code."""
    folder = Path(folder)
    stored = json.loads((folder / TABLES_FILE).read_text(encoding="utf-8"))
    tables = {d: parse_table(spec, f"{folder / TABLES_FILE}:{d}") for d, spec in stored.items()}
    inputs = pd.read_parquet(folder / INPUTS_FILE)
    classes = pd.read_parquet(folder / "classes.parquet", columns=["uscc", "class"])
    grades = grade(inputs, classes, month, tables)
    write_parquet(grades, folder / GRADES_FILE)
    summary = {"month": month, "domains": shares(grades)}
    (folder / SUMMARY_FILE).write_bytes(_json_bytes(summary))
    return summary
