"""The warning catalog (``warnings.yaml``): loading and validation.

Each warning is a declarative all-of condition over one month's sealed record: its indicator snapshot
(``features.parquet``), its classes and scores next to those of earlier months (``record`` fields) and the
red / yellow / green score of the entity's registration address (``address`` fields). Loading fails with a
message naming the warning (or the address-scoring entry) and the field when something is missing,
unknown or malformed — in particular an indicator code the indicator catalog does not have.

Condition language (one clause = one dict; a warning fires when every clause holds)::

    {indicator: REL.REP.portfolio, min: 5}         an indicator of the month's snapshot
    {record: class_steps_worse, min: 2}            a field of the records (RECORD_FIELDS)
    {address: colour, eq: red}                     a field of the address scoring (ADDRESS_FIELDS)

with one or more of ``min`` (≥), ``max`` (≤) and ``eq`` (=). A missing value (no record last month, no
address score) never satisfies a clause.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from riskclass.indicators.catalog import Catalog

REQUIRED_FIELDS = ("code", "name_zh", "name_en", "severity", "condition", "evidence")
SEVERITIES = {"高": "high", "中": "medium", "低": "low"}
COMPARATORS = ("min", "max", "eq")
SOURCES = ("indicator", "record", "address")
# record fields: this month's class and score next to last month's and those of three months before
RECORD_FIELDS = {
    "score": "本月风险分值",
    "probability": "本月违法概率（模型）",
    "class": "本月风险类别",
    "class_rank": "本月风险类别序号（A=0 … D=3）",
    "score_prev": "上月风险分值",
    "class_prev": "上月风险类别",
    "class_steps_worse": "较上月风险类别变差级数",
    "score_change": "较上月风险分值变化",
    "score_3m_ago": "3个月前风险分值",
    "score_change_3m": "近3个月风险分值变化",
}
# address fields: the scoring of the entity's registration address (per address, see address_scoring)
ADDRESS_BASE_FIELDS = {
    "key": "住所编码",
    "entities": "同址登记主体数",
    "score": "集中登记地风险分（0–100）",
    "colour": "集中登记地颜色（red/yellow/green）",
}
COLOURS = ("red", "yellow", "green")
_CODE = re.compile(r"^EW\.[A-Z]+\.[a-z0-9_]+$")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class WarningCatalogError(ValueError):
    pass


@dataclass(frozen=True)
class Clause:
    source: str  # indicator | record | address
    field: str
    min: float | None = None
    max: float | None = None
    eq: float | str | None = None

    @property
    def column(self) -> str:
        """The column of the month's evaluation frame holding the value (see early_warning.fire)."""
        return column_name(self.source, self.field)


@dataclass(frozen=True)
class Warning:
    code: str
    name_zh: str
    name_en: str
    severity: str  # 高 / 中 / 低
    severity_en: str
    condition: tuple[Clause, ...]
    evidence: tuple[str, ...]  # column names of the evaluation frame

    @property
    def needs_address(self) -> bool:
        return any(c.source == "address" for c in self.condition)


@dataclass(frozen=True)
class AddressComponent:
    id: str
    name_zh: str
    weight: float
    condition: tuple[Clause, ...]  # indicator clauses only: the share of the address's entities meeting them


@dataclass(frozen=True)
class AddressScoring:
    min_entities: int
    components: tuple[AddressComponent, ...]
    red: float  # score ≥ red → red
    yellow: float  # score ≥ yellow → yellow, else green


@dataclass(frozen=True)
class WarningCatalog:
    version: int
    address_scoring: AddressScoring
    warnings: tuple[Warning, ...]
    sha256: str
    path: str

    @property
    def codes(self) -> list[str]:
        return [w.code for w in self.warnings]

    def get(self, code: str) -> Warning:
        for w in self.warnings:
            if w.code == code:
                return w
        raise KeyError(f"{code!r} is not a warning of {self.path} (codes: {', '.join(self.codes)})")

    def indicators(self) -> list[str]:
        """Every indicator a condition, an evidence field or the address scoring reads."""
        clauses = [c for w in self.warnings for c in w.condition]
        clauses += [c for comp in self.address_scoring.components for c in comp.condition]
        names = {c.field for c in clauses if c.source == "indicator"}
        names |= {e for w in self.warnings for e in w.evidence if "." in e and not e.startswith("address.")}
        return sorted(names)


def column_name(source: str, field: str) -> str:
    """Indicators keep their code; record fields their name; address fields are prefixed ``address.``."""
    return f"address.{field}" if source == "address" else field


def _fail(path: Path, where: str, problem: str) -> WarningCatalogError:
    return WarningCatalogError(f"{path}: {where}: {problem}")


def _clause(path: Path, where: str, raw, indicator_codes: set[str], address_fields: set[str], sources) -> Clause:
    if not isinstance(raw, dict):
        raise _fail(path, where, f"a clause must be a mapping like {{indicator: CODE, min: 1}}, not {raw!r}")
    named = [s for s in sources if s in raw]
    if len(named) != 1:
        raise _fail(path, where, f"a clause names exactly one of {list(sources)}: {raw}")
    source = named[0]
    field = raw[source]
    unknown_keys = set(raw) - {source, *COMPARATORS}
    if unknown_keys:
        raise _fail(path, where, f"unknown key(s) {sorted(unknown_keys)} in clause {raw}; allowed: {COMPARATORS}")
    bounds = {k: raw[k] for k in COMPARATORS if k in raw}
    if not bounds:
        raise _fail(path, where, f"clause {raw} needs min, max or eq")
    for k in ("min", "max"):
        if k in bounds and (isinstance(bounds[k], bool) or not isinstance(bounds[k], int | float)):
            raise _fail(path, where, f"{k} must be a number in clause {raw}")
    if source == "indicator" and field not in indicator_codes:
        raise _fail(path, where, f"unknown indicator {field!r} (not in the indicator catalog)")
    if source == "record" and field not in RECORD_FIELDS:
        raise _fail(path, where, f"unknown record field {field!r}; known: {sorted(RECORD_FIELDS)}")
    if source == "address" and field not in address_fields:
        raise _fail(path, where, f"unknown address field {field!r}; known: {sorted(address_fields)}")
    if source == "address" and field == "colour" and bounds.get("eq") not in COLOURS:
        raise _fail(path, where, f"address colour is compared with eq: one of {COLOURS}")
    return Clause(source, field, bounds.get("min"), bounds.get("max"), bounds.get("eq"))


def _condition(path: Path, where: str, raw, indicator_codes, address_fields, sources) -> tuple[Clause, ...]:
    if not isinstance(raw, list) or not raw:
        raise _fail(path, where, "condition must be a non-empty list of clauses (all must hold)")
    return tuple(_clause(path, where, c, indicator_codes, address_fields, sources) for c in raw)


def _address_scoring(path: Path, raw, indicator_codes: set[str]) -> AddressScoring:
    where = "address_scoring"
    if not isinstance(raw, dict):
        raise _fail(path, where, "missing section (min_entities, components, colours)")
    for field in ("min_entities", "components", "colours"):
        if field not in raw:
            raise _fail(path, where, f"missing field '{field}'")
    components, seen = [], set()
    for i, item in enumerate(raw["components"]):
        cwhere = f"address_scoring component #{i + 1} ({item.get('id', '?')})"
        for field in ("id", "name_zh", "weight", "condition"):
            if field not in item:
                raise _fail(path, cwhere, f"missing field '{field}'")
        if not _ID.match(str(item["id"])) or item["id"] in seen or item["id"] in ADDRESS_BASE_FIELDS:
            raise _fail(path, cwhere, "id must be unique, lower_snake_case and not one of key/entities/score/colour")
        seen.add(item["id"])
        if not isinstance(item["weight"], int | float) or item["weight"] <= 0:
            raise _fail(path, cwhere, "weight must be a positive number")
        condition = _condition(path, cwhere, item["condition"], indicator_codes, set(), ("indicator",))
        components.append(AddressComponent(item["id"], item["name_zh"], float(item["weight"]), condition))
    if not components:
        raise _fail(path, where, "needs at least one component")
    colours = raw["colours"]
    if not isinstance(colours, dict) or set(colours) != {"red", "yellow"}:
        raise _fail(path, where, "colours must give the lowest red and yellow scores: {red: …, yellow: …}")
    if not 0 <= colours["yellow"] <= colours["red"] <= 100:
        raise _fail(path, where, "colours need 0 ≤ yellow ≤ red ≤ 100 (the score is 0–100)")
    if not isinstance(raw["min_entities"], int) or raw["min_entities"] < 2:
        raise _fail(path, where, "min_entities must be an integer of at least 2")
    return AddressScoring(int(raw["min_entities"]), tuple(components), float(colours["red"]), float(colours["yellow"]))


def address_fields(scoring: AddressScoring) -> set[str]:
    return set(ADDRESS_BASE_FIELDS) | {c.id for c in scoring.components}


def load_warning_catalog(path: Path | str, indicators: Catalog) -> WarningCatalog:
    """Load and validate ``warnings.yaml`` against the indicator catalog ``indicators``."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WarningCatalogError(f"{path}: warning catalog not found") from None
    except yaml.YAMLError as exc:
        raise WarningCatalogError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise _fail(path, "catalog", "must be a mapping with version, address_scoring and warnings")
    for section in ("version", "address_scoring", "warnings"):
        if section not in raw:
            raise _fail(path, "catalog", f"missing section '{section}'")
    unknown_sections = set(raw) - {"version", "address_scoring", "warnings"}
    if unknown_sections:
        raise _fail(path, "catalog", f"unknown section(s) {sorted(unknown_sections)}")
    codes = set(indicators.codes)
    scoring = _address_scoring(path, raw["address_scoring"], codes)
    addr = address_fields(scoring)
    evidence_names = codes | set(RECORD_FIELDS) | {column_name("address", f) for f in addr}
    warnings, seen = [], set()
    for i, item in enumerate(raw["warnings"] or []):
        where = f"warning #{i + 1} ({item.get('code', '?') if isinstance(item, dict) else '?'})"
        if not isinstance(item, dict):
            raise _fail(path, where, "must be a mapping")
        missing = [f for f in REQUIRED_FIELDS if item.get(f) in (None, "", [])]
        if missing:
            raise _fail(path, where, f"missing field(s) {missing}")
        unknown_keys = set(item) - set(REQUIRED_FIELDS)
        if unknown_keys:
            raise _fail(path, where, f"unknown field(s) {sorted(unknown_keys)}")
        code = item["code"]
        if not _CODE.match(code):
            raise _fail(path, where, "code must look like EW.GROUP.name (e.g. EW.REL.one_person_many)")
        if code in seen:
            raise _fail(path, where, "duplicate code")
        seen.add(code)
        if item["severity"] not in SEVERITIES:
            raise _fail(path, where, f"severity must be one of {list(SEVERITIES)}, not {item['severity']!r}")
        condition = _condition(path, where, item["condition"], codes, addr, SOURCES)
        evidence = item["evidence"]
        if not isinstance(evidence, list) or len(set(evidence)) != len(evidence):
            raise _fail(path, where, "evidence must be a list of distinct field names")
        bad = [e for e in evidence if e not in evidence_names]
        if bad:
            raise _fail(
                path,
                where,
                f"unknown evidence field(s) {bad}: an indicator code, a record field {sorted(RECORD_FIELDS)} "
                f"or an address field {sorted(column_name('address', f) for f in addr)}",
            )
        warnings.append(
            Warning(
                code=code,
                name_zh=item["name_zh"],
                name_en=item["name_en"],
                severity=item["severity"],
                severity_en=SEVERITIES[item["severity"]],
                condition=condition,
                evidence=tuple(evidence),
            )
        )
    if not warnings:
        raise _fail(path, "catalog", "declares no warning")
    canonical = json.dumps(raw, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return WarningCatalog(
        version=int(raw["version"]),
        address_scoring=scoring,
        warnings=tuple(warnings),
        sha256=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        path=str(path),
    )
