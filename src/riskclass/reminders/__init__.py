"""Risk reminders (信用风险提示) to market entities: for a sealed month, what each entity should put right.

For every entity of the month's sealed record that has something to fix, the concrete items — annual report
overdue, abnormal-operation listing and how to be removed, serious-violation listing and credit repair,
penalty in publicity, unreachable address, licence expired or about to expire, all-zero annual-report
financials, and the month's early warnings when present — each with the entity's own facts, what to do and
by when (facts.py finds them; resources/reminders.yaml words them). A reminder never mentions the
classification, a class or a score (guard.py refuses to write one that does).

Outputs, per district office (county code of the entity's registration):

- ``<out_dir>/<M>/<county>.csv``   one row per entity with reminders (spreadsheet-safe, riskclass.exports)
- ``<out_dir>/<M>/<county>.html``  printable letters in Chinese, one per entity and page, self-contained
- ``<summary>`` (reports/reminders.json)  reminders and items per district and item type

Same inputs → identical bytes. See docs/risk-reminders.md.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import pandas as pd
import yaml

from riskclass.exports import csv_bytes
from riskclass.io import atomic_directory, atomic_write_bytes, write_json
from riskclass.periods import check_month, month_end
from riskclass.personal import mask_text
from riskclass.records import RecordStore
from riskclass.reminders import facts
from riskclass.reminders.facts import FACTS, ITEMS, ReminderError, Sources, zh_date
from riskclass.reminders.guard import ForbiddenText, check_text
from riskclass.reminders.letters import district_names, letters_html

__all__ = [
    "CSV_COLUMNS",
    "ITEMS",
    "ForbiddenText",
    "ReminderError",
    "Reminders",
    "build_reminders",
    "load_templates",
    "render_items",
    "run_reminders",
    "summarise",
    "write_reminders",
]

TEXT_FIELDS = ("title", "finding", "action", "by")
# the CSV per district: one row per entity with reminders (English names in code, Chinese in the file)
CSV_COLUMNS = {
    "letter_no": "提示函编号",
    "uscc": "统一社会信用代码",
    "name": "名称",
    "district": "区县代码",
    "district_name": "区县",
    "items": "提示事项数",
    "titles": "提示事项",
    "content": "提示内容",
}


@dataclass
class Reminders:
    month: str
    as_of: str  # the month end, 2026年10月31日
    population: pd.DataFrame  # uscc, district, name: every entity of the sealed month
    items: pd.DataFrame  # one row per (entity, item): uscc, district, name, item, seq, title, finding, action, by
    consistency: dict  # per item: records without indicator (left out), indicator without record
    warnings: dict  # the optional early-warnings input: file, present, rows used / excluded / unknown


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@cache
def _resource() -> dict:
    text = resources.files("riskclass").joinpath("resources/reminders.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def load_templates() -> dict:
    """resources/reminders.yaml, checked: every item present with its four texts, placeholders only from the
    item's facts, and no text that mentions the classification (guard.py)."""
    spec = _resource()
    where = "riskclass/resources/reminders.yaml"
    items = spec.get("items", {})
    if set(items) != set(ITEMS):
        raise ReminderError(f"{where}: items must be exactly {list(ITEMS)}; found {list(items)}")
    for item, texts in items.items():
        allowed = {*FACTS[item], "by"}
        for field in TEXT_FIELDS:
            template = texts.get(field)
            if not isinstance(template, str) or not template.strip():
                raise ReminderError(f"{where}: items.{item}.{field} is missing or empty")
            unknown = _placeholders(template) - allowed
            if unknown:
                raise ReminderError(
                    f"{where}: items.{item}.{field} uses {sorted(unknown)}; the item provides {sorted(allowed)}"
                )
            check_text(template, f"{where}: items.{item}.{field}")
        for code, remedy in texts.get("remedies", {}).items():
            check_text(remedy, f"{where}: items.{item}.remedies.{code}")
    for code, wording in items["early_warning"].get("warnings", {}).items():
        for field in ("title", "finding"):
            if not isinstance(wording.get(field), str) or not wording[field].strip():
                raise ReminderError(f"{where}: items.early_warning.warnings.{code}.{field} is missing or empty")
            check_text(wording[field], f"{where}: items.early_warning.warnings.{code}.{field}")
    for key, text in _letter_texts(spec["letter"]).items():
        check_text(text, f"{where}: letter.{key}")
    return spec


def _letter_texts(letter: dict) -> dict[str, str]:
    flat = {k: v for k, v in letter.items() if isinstance(v, str)}
    flat |= {f"labels.{k}": v for k, v in letter.get("labels", {}).items()}
    return flat


def _fill(template: str, rows: pd.DataFrame) -> list[str]:
    """``template`` filled from each row (only the placeholders it uses)."""
    names = sorted(_placeholders(template))
    if not names:
        return [template] * len(rows)
    columns = [rows[n].astype(str).to_numpy() for n in names]
    return [template.format_map(dict(zip(names, values, strict=True))) for values in zip(*columns, strict=True)]


def render_items(item: str, found: pd.DataFrame, texts: dict) -> pd.DataFrame:
    """One row per fact row: uscc, item, key and the four filled texts, each checked by the guard."""
    out = pd.DataFrame({"uscc": found["uscc"].astype(str).to_numpy(), "item": item, "key": found["key"].to_numpy()})
    for field in TEXT_FIELDS:
        out[field] = _fill(texts[field], found)
    for row in out.itertuples(index=False):
        for field in TEXT_FIELDS:
            check_text(getattr(row, field), f"reminder {row.uscc} item {item} ({field})")
    return out


def _population(record, validated_dir: Path) -> pd.DataFrame:
    classes = pd.read_parquet(record.classes_path, columns=["uscc", "district"])
    names = pd.read_parquet(Path(validated_dir) / "entities.parquet", columns=["uscc", "name"])
    population = classes.merge(names, on="uscc", how="left")
    population["name"] = mask_text(population["name"].fillna("").astype(str))  # an ID or phone typed into a name
    population["district"] = population["district"].astype(str)
    return population.sort_values("uscc", ignore_index=True)


def _sealed_record(p: dict, month: str):
    store = RecordStore(p["classify"]["records_dir"])
    record = store.current(month)
    if record is None:
        sealed = store.sealed_months()
        have = f"sealed months: {sealed[0]} … {sealed[-1]} ({len(sealed)})" if sealed else "no month is sealed yet"
        raise ReminderError(
            f"{p['classify']['records_dir']}: {month} is not sealed ({have}); run `riskclass classify --month {month}`"
        )
    return record


def build_reminders(p: dict, month: str, warnings: pd.DataFrame | None = None) -> Reminders:
    """Every reminder item of ``month`` for the entities of its sealed record.

    ``warnings``: the month's early warnings (uscc, month, code, name_zh, severity, evidence); by default read
    from ``<warnings.out_dir>/<month>.parquet`` (the warnings stage) when that file exists.
    """
    rp, fp = p["reminders"], p["features"]
    month = check_month(month, "month")
    spec = load_templates()
    unknown = sorted(set(rp["items"]) - set(ITEMS))
    if unknown:
        raise ReminderError(f"params.yaml: reminders.items: unknown items {unknown}; known: {list(ITEMS)}")
    record = _sealed_record(p, month)
    population = _population(record, Path(fp["validated_dir"]))
    features = pd.read_parquet(record.features_path, columns=["uscc", *facts.gate_indicators()])
    features = population[["uscc"]].merge(features, on="uscc", how="left").fillna(0)
    as_of = month_end(month)
    by = zh_date(pd.Timestamp(as_of) + pd.Timedelta(days=int(rp["act_within_days"])))

    warnings_path = Path(p["warnings"]["out_dir"]) / f"{month}.parquet"
    warnings_info = {"file": warnings_path.as_posix(), "present": warnings is not None or warnings_path.exists()}
    if warnings is None:
        warnings = facts.read_warnings(warnings_path, month)
    if warnings is not None:
        known = warnings["uscc"].astype(str).isin(population["uscc"])
        warnings_info |= {"rows": int(known.sum()), "unknown_entities": int((~known).sum())}
        warnings = warnings[known]

    src = Sources(fp["validated_dir"], fp.get("feedback_dir"), as_of, fp["memory_limit"], fp["threads"])
    try:
        templates = spec["items"]
        finders = {
            "annual_report_overdue": lambda: facts.annual_report_overdue(src, rp, by),
            "abnormal_listed": lambda: facts.abnormal_listed(
                src, rp, by, {str(k): v for k, v in templates["abnormal_listed"]["remedies"].items()}
            ),
            "serious_violation": lambda: facts.serious_violation(src, rp),
            "penalty_in_publicity": lambda: facts.penalty_in_publicity(src, rp).assign(
                authority=lambda f: mask_text(f["authority"].fillna("").astype(str))
            ),
            "address_unreachable": lambda: facts.address_unreachable(src, rp, by),
            "licence_expired": lambda: facts.licence_expired(src, rp, by),
            "licence_expiring": lambda: facts.licence_expiring(src, rp),
            "all_zero_financials": lambda: facts.all_zero_financials(src, rp, by),
            "early_warning": lambda: facts.early_warning(warnings, by, templates["early_warning"].get("warnings", {})),
        }
        frames, consistency = [], {}
        for seq, item in enumerate(ITEMS):
            if item not in rp["items"]:
                continue
            found = finders[item]()
            found = found[found["uscc"].isin(population["uscc"])]
            gated = features.loc[facts.gate_mask(features, item), "uscc"]
            confirmed = found["uscc"].isin(gated)
            if item in facts.GATES:
                consistency[item] = {
                    "records_without_indicator": int(found.loc[~confirmed, "uscc"].nunique()),
                    "indicator_without_record": int((~gated.isin(found["uscc"])).sum()),
                }
            rendered = render_items(item, found[confirmed], templates[item])
            frames.append(rendered.assign(seq=seq))
    finally:
        src.close()
    columns = ["uscc", "item", "key", *TEXT_FIELDS, "seq"]
    items = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    items = items.merge(population, on="uscc", how="left")
    items = items.sort_values(["district", "uscc", "seq", "key"], ignore_index=True)
    return Reminders(month, zh_date(as_of), population, items, consistency, warnings_info)


def entity_rows(rem: Reminders, district: str) -> pd.DataFrame:
    """One row per entity of ``district`` with reminders, in USCC order, numbered within the district."""
    items = rem.items[rem.items["district"] == district]
    if items.empty:
        return pd.DataFrame(columns=list(CSV_COLUMNS))
    numbered = items.assign(n=items.groupby("uscc").cumcount() + 1)
    numbered["line"] = (
        numbered["n"].astype(str) + ". " + numbered["title"] + "：" + numbered["finding"] + numbered["action"]
    )
    numbered["line"] = numbered["line"] + numbered["by"]
    grouped = numbered.groupby("uscc", sort=True)
    rows = pd.DataFrame(
        {
            "uscc": grouped["uscc"].first(),
            "name": grouped["name"].first(),
            "district": district,
            "district_name": district_names().get(district, district),
            "items": grouped.size(),
            "titles": grouped["title"].agg("；".join),
            "content": grouped["line"].agg("\n".join),
        }
    ).reset_index(drop=True)
    rows.insert(0, "letter_no", [f"{rem.month}-{district}-{i:05d}" for i in range(1, len(rows) + 1)])
    return rows[list(CSV_COLUMNS)]


def summarise(rem: Reminders, p: dict) -> dict:
    """Counts for reports/reminders.json: reminders (entities) and items per district and per item type."""
    templates = _resource()["items"]
    items = rem.items
    districts = sorted(set(rem.population["district"]))
    names = district_names()
    by_district = {
        d: {
            "name": names.get(d, d),
            "entities": int((rem.population["district"] == d).sum()),
            "reminders": int(items.loc[items["district"] == d, "uscc"].nunique()),
            "items": int((items["district"] == d).sum()),
        }
        for d in districts
    }
    by_item = {
        item: {
            "title": templates[item].get("name", templates[item]["title"]),
            "reminders": int(items.loc[items["item"] == item, "uscc"].nunique()),
            "items": int((items["item"] == item).sum()),
        }
        for item in ITEMS
        if item in p["reminders"]["items"]
    }
    per_entity = items.groupby("uscc").size().value_counts().sort_index()
    return {
        "month": rem.month,
        "as_of": rem.as_of,
        "entities": len(rem.population),
        "reminders": int(items["uscc"].nunique()),
        "items": len(items),
        "reminder_share": round(items["uscc"].nunique() / max(len(rem.population), 1), 4),
        "items_per_reminder": {str(int(k)): int(v) for k, v in per_entity.items()},
        "by_district": by_district,
        "by_item": by_item,
        "consistency": rem.consistency,
        "warnings": rem.warnings,
    }


def write_reminders(rem: Reminders, p: dict, out_dir: Path | None = None) -> Path:
    """Write ``<out_dir>/<M>/<county>.csv`` and ``.html`` for every district of the month (atomically, the month's
    folder replaced as a whole). Every CSV cell and the visible text of every letter pass the guard first."""
    rp = p["reminders"]
    target = Path(out_dir or rp["out_dir"]) / rem.month
    spec = load_templates()
    files: dict[str, bytes] = {}
    for district in sorted(set(rem.population["district"])):
        rows = entity_rows(rem, district)
        for row in rows.itertuples(index=False):
            # the entity's own name is its own (a shop may be called 高分…); everything else is checked
            check_text(row.content + row.titles, f"{target / district}.csv: {row.uscc}")
        files[f"{district}.csv"] = csv_bytes(rows.rename(columns=CSV_COLUMNS))
        html = letters_html(rem, district, rows, spec["letter"], p)
        files[f"{district}.html"] = html.encode("utf-8")
    with atomic_directory(target) as scratch:
        for name, data in files.items():
            atomic_write_bytes(scratch / name, data)
    return target


def run_reminders(p: dict, month: str, warnings: pd.DataFrame | None = None) -> tuple[dict, Path]:
    """Build, write and summarise ``month``'s reminders; the summary goes to ``reminders.summary``."""
    rem = build_reminders(p, month, warnings)
    target = write_reminders(rem, p)
    summary = summarise(rem, p)
    summary_path = Path(p["reminders"]["summary"])
    summary_path.parent.mkdir(parents=True, exist_ok=True)
    write_json(summary, summary_path)
    return summary, target
