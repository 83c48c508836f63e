"""The indicator catalog (``indicators.yaml``): loading, validation, hashing.

Loading fails with a message naming the indicator and the problem when a field is missing, a
code is duplicated or malformed, a group or source is unknown, or a definition names a column
its source does not have.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from riskclass.indicators.sources import SOURCE_COLUMNS

REQUIRED_FIELDS = ("code", "name_zh", "name_en", "source", "sql", "unit", "direction", "effect", "default")
DIRECTIONS = ("up", "down", "none")
PLACEHOLDERS = ("{as_of}", "{due_year}")
_CODE = re.compile(r"^[A-Z]{3}\.[A-Z]+\.[a-z0-9_]+$")
_SQL_WORDS = {
    "case",
    "when",
    "then",
    "else",
    "end",
    "and",
    "or",
    "not",
    "in",
    "is",
    "null",
    "as",
    "count",
    "sum",
    "max",
    "min",
    "avg",
    "coalesce",
    "nullif",
    "ln",
    "abs",
    "least",
    "greatest",
    "distinct",
    "true",
    "false",
    "between",
    "like",
    "cast",
    "double",
    "integer",
    "varchar",
}


class CatalogError(ValueError):
    pass


@dataclass(frozen=True)
class Indicator:
    code: str
    name_zh: str
    name_en: str
    family: str
    group: str
    source: str
    sql: str
    unit: str
    direction: str
    effect: str
    default: float | str

    @property
    def is_categorical(self) -> bool:
        return isinstance(self.default, str)


@dataclass(frozen=True)
class Catalog:
    version: int
    families: dict[str, dict]
    groups: dict[str, dict]
    indicators: tuple[Indicator, ...]
    sha256: str
    path: str

    def by_source(self) -> dict[str, list[Indicator]]:
        out: dict[str, list[Indicator]] = {}
        for ind in self.indicators:
            out.setdefault(ind.source, []).append(ind)
        return out

    @property
    def codes(self) -> list[str]:
        return [i.code for i in self.indicators]


def _referenced_columns(sql: str) -> set[str]:
    text = re.sub(r"'[^']*'", " ", sql)
    for placeholder in PLACEHOLDERS:
        text = text.replace(placeholder, " 0 ")
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    return {w for w in words if w.lower() not in _SQL_WORDS}


def _fail(path: Path, where: str, problem: str) -> CatalogError:
    return CatalogError(f"{path}: {where}: {problem}")


def load_catalog(path: Path | str = "indicators.yaml") -> Catalog:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(f"{path}: indicator catalog not found") from None
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: not valid YAML ({exc})") from None
    for section in ("version", "families", "groups", "indicators"):
        if section not in raw:
            raise _fail(path, "catalog", f"missing section '{section}'")
    families, groups = raw["families"], raw["groups"]
    for gcode, group in groups.items():
        if gcode.split(".")[0] not in families:
            raise _fail(path, f"group {gcode}", f"unknown family '{gcode.split('.')[0]}'")
        for field in ("name_zh", "name_en"):
            if not group.get(field):
                raise _fail(path, f"group {gcode}", f"missing field '{field}'")
    seen: set[str] = set()
    indicators = []
    for i, item in enumerate(raw["indicators"]):
        where = f"indicator #{i + 1} ({item.get('code', '?')})"
        missing = [f for f in REQUIRED_FIELDS if f not in item or item[f] is None]
        if missing:
            raise _fail(path, where, f"missing field(s) {missing}")
        code = item["code"]
        if not _CODE.match(code):
            raise _fail(path, where, "code must look like FAM.GROUP.name (e.g. SUP.PEN.count_3y)")
        if code in seen:
            raise _fail(path, where, "duplicate code")
        seen.add(code)
        group = code.rsplit(".", 1)[0]
        if group not in groups:
            raise _fail(path, where, f"unknown group '{group}'")
        if item["direction"] not in DIRECTIONS:
            raise _fail(path, where, f"direction must be one of {DIRECTIONS}, not {item['direction']!r}")
        source = item["source"]
        if source not in SOURCE_COLUMNS:
            raise _fail(path, where, f"unknown source table '{source}'; known: {sorted(SOURCE_COLUMNS)}")
        unknown = _referenced_columns(item["sql"]) - SOURCE_COLUMNS[source]
        if unknown:
            raise _fail(path, where, f"unknown column(s) {sorted(unknown)} in source '{source}'")
        unknown_keys = set(item) - set(REQUIRED_FIELDS)
        if unknown_keys:
            raise _fail(path, where, f"unknown field(s) {sorted(unknown_keys)}")
        indicators.append(
            Indicator(
                code=code,
                name_zh=item["name_zh"],
                name_en=item["name_en"],
                family=code.split(".")[0],
                group=group,
                source=source,
                sql=item["sql"],
                unit=str(item["unit"]),
                direction=item["direction"],
                effect=str(item["effect"]),
                default=item["default"],
            )
        )
    canonical = json.dumps(raw, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return Catalog(
        version=int(raw["version"]),
        families=families,
        groups=groups,
        indicators=tuple(indicators),
        sha256=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        path=str(path),
    )
