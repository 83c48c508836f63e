"""Loading ``params.yaml``: the single source of every tunable number, checked before any work.

Every key of ``params.yaml`` is declared below, one pydantic model per section (``city``, ``synth``,
``ingest``, ``plan``, ``policy``, ``warnings``, ``features``, ``labels``, ``model``, ``score``, ``gates``,
``registry``, ``classify``, ``backtest``, ``reminders``, ``triggers`` …). Each model forbids unknown keys, so a
misspelt key is refused instead of ignored.
Numbers are strict (the string ``"1.5"`` is not a number and ``1`` is not ``true``; an integer is
accepted where a float is expected), months are ``YYYY-MM`` strings and codes (prefecture, districts)
are strings. Rules that span keys (ratio ≥ floor, the order of the training months, shares summing
to one) are model validators.

Functions
---------
load_params(path)
    Read, check and return the parameters as the plain dict ``yaml.safe_load`` gives.
validate_params(params, source)
    The same checks on a dict already in memory.
check_month(value, key)
    ``YYYY-MM`` validator for other modules.

Raises
------
ParamsError
    Every problem found, one per line, naming the key path, the value and what is allowed::

        params.yaml: plan.inspectors_per_check = 0: must be at least 2 (at least two enforcement officers per check)
        params.yaml: plan.allocation = 'best': allowed values are ratios, optimised
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, TypeVar, get_args, get_origin

import annotated_types as at
import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic.fields import FieldInfo

from riskclass import codes
from riskclass.periods import is_month

DEFAULT_PARAMS = Path("params.yaml")


class ParamsError(ValueError):
    """Invalid parameters; the message lists every problem, one per line."""


_NO_VALUE = object()  # a problem about a key that has no value to show (missing, or the whole section)


class _Problems(ValueError):
    """Problems found by a validator, each at a location relative to the validated value."""

    def __init__(self, *problems: tuple[tuple, Any, str]):
        super().__init__("; ".join(p[2] for p in problems))
        self.problems = problems


def _raise(problems: list[tuple[tuple, Any, str]]) -> None:
    if problems:
        raise _Problems(*problems)


# ---------------------------------------------------------------------------------------------------------------
# value types


def _month(value: Any) -> str:
    if not is_month(value):
        raise ValueError("must be a real month written YYYY-MM, e.g. '2026-10' (quoted)")
    return value


def check_month(value: str, key: str) -> str:
    """``value`` if it is a real month ``YYYY-MM``, else ParamsError naming ``key``."""
    try:
        return _month(value)
    except ValueError as exc:
        raise ParamsError(f"{key} = {_show(value)}: {exc}") from None


def _matches(pattern: str, what: str, flags: int = 0):
    regex = re.compile(pattern, flags)

    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise ValueError(f"must be {what}")
        return value

    return AfterValidator(check)


def _sums_to_one(shares: dict) -> dict:
    total = sum(shares.values())
    if abs(total - 1) > 1e-6:
        raise ValueError(f"shares must sum to 1 (±1e-6), they sum to {total:.6g}")
    return shares


def _positive_total(weights: dict) -> dict:
    if not sum(weights.values()) > 0:
        raise ValueError("weights must not all be zero")
    return weights


def _not_in(prefix: tuple, mapping: dict, allowed: list, what: str) -> list[tuple[tuple, Any, str]]:
    """A problem for each key of ``mapping`` that is not ``allowed``."""
    return [
        ((*prefix, k), v, f"{what}; allowed values are {', '.join(allowed)}")
        for k, v in mapping.items()
        if k not in allowed
    ]


def _ordered_pair(pair: list) -> list:
    if pair[0] > pair[1]:
        raise ValueError("must be [low, high] with low ≤ high")
    return pair


Cls = Literal["A", "B", "C", "D"]
EntityType = Literal["enterprise", "individual", "cooperative"]
Section = Literal["A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O", "P", "Q", "R", "S", "T"]
Month = Annotated[str, BeforeValidator(_month)]
Text = Annotated[str, Field(min_length=1)]
Prob = Annotated[float, Field(ge=0, le=1)]
Ratio = Annotated[float, Field(gt=0, le=1)]
NonNeg = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
Count = Annotated[int, Field(ge=1)]
Count0 = Annotated[int, Field(ge=0)]
Shares = Annotated[dict[str, NonNeg], AfterValidator(_sums_to_one)]
IntRange = Annotated[list[Count], Field(min_length=2, max_length=2), AfterValidator(_ordered_pair)]
Division = Annotated[str, _matches(r"\d{6}", "a six-digit GB/T 2260 code")]
Indicator = Annotated[str, _matches(r"[A-Z]{3}\.[A-Z]+\.[a-z0-9_]+", "an indicator code like SUP.ABN.listed_now")]
RuleId = Annotated[str, _matches(r"[A-Za-z0-9_.-]+", "letters, digits, '_', '.' or '-' (it names draws and rules)")]
WarningCode = Annotated[
    str, _matches(r"EW\.[A-Z]+\.[a-z0-9_]+", "a warning code of warnings.yaml like EW.ADDR.cluster_red")
]
V = TypeVar("V")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, protected_namespaces=())


class ByClass(_Model, Generic[V]):
    """One value per risk class, all four (no class is exempt)."""

    A: V
    B: V
    C: V
    D: V


class ByType(_Model, Generic[V]):
    """One value per entity type."""

    enterprise: V
    individual: V
    cooperative: V


class ByViolation(_Model):
    violating: Prob
    clean: Prob


class ByShell(_Model):
    shell: Prob
    other: Prob


def _unique_ids(items: list) -> list:
    seen: dict[str, int] = {}
    problems = []
    for i, item in enumerate(items):
        if item.id in seen:
            problems.append(((i, "id"), item.id, f"duplicate id (also item [{seen[item.id]}])"))
        seen.setdefault(item.id, i)
    _raise(problems)
    return items


# ---------------------------------------------------------------------------------------------------------------
# sections


class City(_Model):
    name: Text
    prefecture: Division
    district_shares: Annotated[dict[Division, NonNeg], AfterValidator(_sums_to_one)]

    @model_validator(mode="after")
    def _districts_of_prefecture(self) -> City:
        divisions = codes.code_lists()["divisions"]
        known = [c for c, d in divisions.items() if d["prefecture"] == self.prefecture]
        if not known:
            _raise([(("prefecture",), self.prefecture, "not a prefecture listed in codes.yaml (divisions)")])
        _raise(_not_in(("district_shares",), self.district_shares, known, f"not a division of {self.prefecture}"))
        return self


class Risk(_Model):
    intercept: float
    unobserved_sd: NonNeg
    ar_rho: float = Field(gt=-1, lt=1, description="AR(1) coefficient: |rho| < 1 keeps the drift stationary")
    ar_sd: NonNeg
    section_effect: dict[Section, float]
    type_effect: ByType[float]
    young_effect: float
    tiny_capital_effect: float
    huge_capital_zero_staff_effect: float
    shell_effect: float
    high_tech_effect: float
    contagion: float
    penalty_history: float
    persistence: float
    detected_stop_prob: Prob


class Events(_Model):
    complaint_rate: dict[Literal[Section, "default"], NonNeg]
    complaint_risk_slope: float
    complaint_violation_mult: NonNeg
    substantiated_prob: ByViolation
    opinion_rate: NonNeg
    penalty_rate: ByViolation
    penalty_after_complaint: Prob
    penalty_after_inspection: Prob
    debtor_rate: Prob
    change_rates: dict[str, Prob]
    pledge_rate: Prob
    freeze_rate: Prob
    honour_rate: Prob
    exit_rate: ByType[Prob]
    revocation_rate_long_abnormal: Prob
    annual_report_on_time_logit: float
    annual_report_risk_slope: float
    annual_report_violation_effect: float
    late_filing_monthly_prob: Prob
    all_zero_prob: ByShell
    unreachable_rate: ByShell
    repair_serious_prob: Prob
    repair_penalty_prob: Prob
    pre_window_abnormal_share: Prob

    @model_validator(mode="after")
    def _known_keys(self) -> Events:
        problems = []
        if "default" not in self.complaint_rate:
            problems.append((("complaint_rate", "default"), _NO_VALUE, "missing (the rate of sections not listed)"))
        problems += _not_in(
            ("change_rates",), self.change_rates, list(codes.code_lists()["change_types"]), "unknown change type"
        )
        _raise(problems)
        return self


class DirectedProb(_Model):
    high: Prob
    medium: Prob
    low: Prob


class Inspections(_Model):
    undirected_annual_ratio: Prob
    directed_monthly_prob: DirectedProb
    triggered_prob: Prob
    detection_prob: Prob
    not_operating_prob: Prob
    closed_prob: Prob

    @model_validator(mode="after")
    def _outcomes(self) -> Inspections:
        if self.not_operating_prob + self.closed_prob > 1:
            _raise([(("closed_prob",), self.closed_prob, "not_operating_prob + closed_prob must be at most 1")])
        return self


class Planning(_Model):
    per_10k_entities: Positive
    capacity: IntRange
    second_qualification_share: Prob
    on_leave_share: Prob
    inactive_share: Prob
    conflicts_per_inspector: NonNeg


class CheckRisk(_Model):
    intercept: float
    risk_slope: NonNeg
    violation_lift: NonNeg


class ProfessionalCheckRisk(_Model):
    food: CheckRisk
    drug_retail: CheckRisk
    special_equipment: CheckRisk


class Professional(_Model):
    """The professional domains of the synthetic city (synth/professional.py)."""

    check_risk: ProfessionalCheckRisk
    food_sampling_rate: NonNeg
    food_inspection_rate: NonNeg
    pharmacy_inspection_rate: NonNeg
    basically_compliant_share: Prob
    equipment_per_user: NonNeg
    public_venue_share: Prob
    equipment_on_time_prob: Prob
    accident_rate: Prob


class HighTech(_Model):
    CIM: Prob  # enterprises of sections C, I and M
    other: Prob


class TableFormat(_Model):
    """A raw export format; for a table, keys left out come from ``default``."""

    # optional keys: the default None is never validated, an explicit null is refused
    file_format: Literal["csv", "parquet"] = None
    encoding: Literal["utf-8", "utf-8-sig", "gb18030"] = None
    header: Literal["en", "zh"] = None
    date_style: Literal["iso", "slash", "zh"] = None
    title_row: bool = None
    # the national export form (contract.ADAPTERS) the table is written in; "contract": the contract's columns
    form: str = None
    null_marker: str = None  # written for empty cells of a national form ("/" in 双公示 exports)
    name_only_share: Prob = None  # national form: share of clean rows identified by name alone (no code)
    reg_no_share: Prob = None  # national form: share of clean rows of pre-2015 entities identified by 注册号 alone
    shifted_share: Prob = None  # national form: share of rows whose trailing columns are shifted by one field


# national forms the synthetic city writes (synth.export.write_national), by table
SYNTH_FORMS = {"penalties": ("xzcf_national",), "abnormal_listings": ("abnormal_gsxt",)}
_NATIONAL_ONLY = ("name_only_share", "reg_no_share", "shifted_share")


def _formats(formats: dict[str, TableFormat]) -> dict[str, TableFormat]:
    from riskclass.contract import TABLES_BY_NAME

    problems = []
    if "default" not in formats:
        problems.append((("default",), _NO_VALUE, "missing (the format of tables not listed)"))
    else:
        problems += [
            (("default", k), _NO_VALUE, "missing (the default format needs every key)")
            for k in TableFormat.model_fields
            if k not in formats["default"].model_fields_set
        ]
    problems += _not_in((), formats, ["default", *TABLES_BY_NAME], "unknown table")
    default = formats.get("default")
    for name, fmt in formats.items():
        merged = {**(default.model_dump(exclude_unset=True) if default else {}), **fmt.model_dump(exclude_unset=True)}
        form = merged.get("form", "contract")
        allowed = ["contract", *SYNTH_FORMS.get(name, ())] if name != "default" else ["contract"]
        if "form" in fmt.model_fields_set and form not in allowed:
            problems.append(
                ((name, "form"), form, f"not a form the synthetic city writes; allowed values are {', '.join(allowed)}")
            )
        if form == "contract":
            national = [k for k in _NATIONAL_ONLY if merged.get(k)]
            if merged.get("null_marker"):
                national.append("null_marker")
            problems += [
                ((name, k), merged[k], "only a national form (form: …) takes it")
                for k in national
                if k in fmt.model_fields_set
            ]
        elif merged.get("file_format") != "csv":
            problems.append(((name, "file_format"), merged.get("file_format"), "a national form is written as csv"))
    _raise(problems)
    return formats


class Synth(_Model):
    out_dir: Text
    entities: Count
    months: Count
    end_month: Month
    seed: Count0
    shard_entities: int = Field(ge=1000, le=5_000_000)
    workers: int = Field(ge=1, le=64)
    corruption_rate: Prob
    entity_type_shares: Annotated[dict[EntityType, NonNeg], AfterValidator(_sums_to_one)]
    # relative weights: the city normalises each row (the rows of params.yaml sum to 1.01 and 1.03)
    section_shares: dict[EntityType, Annotated[dict[Section, NonNeg], AfterValidator(_positive_total)]]
    org_form_shares: dict[EntityType, Shares]
    mean_age_years: ByType[Positive]
    max_age_years: Positive
    cooperative_law_year: int = Field(ge=1900, le=2100)
    pre_window_closed_share: Prob
    capital_median: ByType[Positive]
    capital_log_sd: ByType[NonNeg]
    round_capital_share: Prob
    serial_person_share: Prob
    serial_zipf_a: float = Field(gt=1, description="a Zipf exponent must exceed 1")
    serial_max_portfolio: int = Field(ge=2)
    shared_address_share: Prob
    building_max_tenants: int = Field(ge=2)
    cluster_address_share: Prob
    cluster_addresses_per_10k: NonNeg
    corporate_shareholder_share: Prob
    shell_clusters_per_10k: NonNeg
    shell_cluster_size: IntRange
    high_tech_share: HighTech
    risk: Risk
    events: Events
    inspections: Inspections
    planning: Planning
    professional: Professional
    formats: Annotated[dict[str, TableFormat], AfterValidator(_formats)]

    @model_validator(mode="after")
    def _consistent(self) -> Synth:
        problems = []
        forms = codes.code_lists()["org_forms"]
        for t in (t for t, share in self.entity_type_shares.items() if share > 0):
            if t not in self.section_shares:
                problems.append((("section_shares", t), _NO_VALUE, f"missing (entity_type_shares.{t} > 0)"))
        if "enterprise" not in self.org_form_shares:
            problems.append((("org_form_shares", "enterprise"), _NO_VALUE, "missing"))
        for t, row in self.org_form_shares.items():
            allowed = [f for f, spec in forms.items() if spec["entity_type"] == t]
            problems += _not_in(("org_form_shares", t), row, allowed, f"not an organisational form of {t}")
        if self.shared_address_share + self.cluster_address_share > 1:
            share = self.cluster_address_share
            problems.append((("cluster_address_share",), share, "must be at most 1 - synth.shared_address_share"))
        _raise(problems)
        return self


class Ingest(_Model):
    raw_dir: Text
    out_dir: Text
    workers: int = Field(ge=1, le=64)
    parallel_min_mb: float = Field(ge=0)
    chunk_rows: int = Field(ge=0)  # a larger CSV table is validated this many records at a time (0: whole)


class Condition(_Model):
    indicator: Indicator
    min: float = None  # optional, like max; at least one of the two
    max: float = None

    @model_validator(mode="after")
    def _bounds(self) -> Condition:
        if not {"min", "max"} & self.model_fields_set:
            _raise([((), _NO_VALUE, "needs min or max (or both)")])
        if {"min", "max"} <= self.model_fields_set and self.min > self.max:
            _raise([(("max",), self.max, f"must be at least min = {_num(self.min)}")])
        return self


class Directed(_Model):
    """A directed draw (定向抽取): random within a filter; optional lists narrow the population."""

    id: RuleId
    name_zh: Text
    item: Text
    ratio: Ratio
    where: list[Condition] = None
    warning: WarningCode = None  # draws among the entities with this warning in the classes month (warnings.yaml)
    classes: list[Cls] = None
    districts: list[Division] = None
    entity_types: list[EntityType] = None
    sections: list[Section] = None


def _id_format(value: str) -> str:
    if "{month}" not in value:
        raise ValueError("must contain {month} (one plan per month)")
    try:
        value.format(division="440800", month="2026-11")
    except (KeyError, IndexError, ValueError):
        raise ValueError("may only use the fields {division} and {month}") from None
    return value


class ByItemType(_Model, Generic[V]):
    general: V
    key: V


class PlanEntityType(_Model):
    """How one entity type (USCC 91 / 92 / 93) is drawn: a scale of the class ratios and floors, and the share of
    the type's entities each item draws a year at least (domain.md §4, Henan 2020 by entity type)."""

    ratio_scale: float = Field(gt=0, le=10)
    annual_share: Prob


class Plan(_Model):
    out_dir: Text
    id_format: Annotated[str, AfterValidator(_id_format)]
    published_value: str = None  # optional public random value; quoted, so that leading zeros survive
    start_day: int = Field(ge=1, le=28, description="a day every month has")
    due_days: Count
    ratios: ByItemType[ByClass[Ratio]]
    floors: ByClass[Ratio] = Field(description="no class is exempt: 不免抽")
    min_overall_ratio: Prob
    plans_per_year: Count = Field(description="the ratios and floors are annual; each plan draws 1/plans_per_year")
    subbands: ByClass[Annotated[int, Field(ge=2, le=4)]] = Field(description="score sub-bands per class (strata)")
    allocation: Literal["ratios", "optimised"]
    optimiser_min_checks: Count = Field(description="earlier random checks every stratum needs for the optimiser")
    cooloff_months: ByClass[Count0] = Field(description="无事不扰: not re-drawn within this many months of a check")
    max_checks: Count
    inspectors_per_check: int = Field(ge=2, description="at least two enforcement officers per check")
    optimiser_caps: ByClass[Ratio]
    policy_warmup_months: Count0
    directed: Annotated[list[Directed], AfterValidator(_unique_ids)] = None
    # per entity type: ratio scale and annual share (absent: every type drawn alike, as one population)
    entity_types: dict[EntityType, PlanEntityType] = None

    @model_validator(mode="after")
    def _above_floors(self) -> Plan:
        problems = []
        for k in ("A", "B", "C", "D"):
            floor = getattr(self.floors, k)
            values = {("ratios", t, k): getattr(getattr(self.ratios, t), k) for t in ("general", "key")}
            values["optimiser_caps", k] = getattr(self.optimiser_caps, k)
            message = f"must be at least the floor plan.floors.{k} = {_num(floor)} (不免抽)"
            problems += [(loc, value, message) for loc, value in values.items() if value < floor]
        _raise(problems)
        return self


class Policy(_Model):
    """The closed-loop policy replay on the synthetic city (stage ``policy``, docs/policy-evaluation.md)."""

    months: Count = Field(description="inspection months replayed, ending at features.month")
    reps: Count = Field(description="replications of every month's draws, detections and world")
    seed: Count0


class Warnings(_Model):
    """Early warnings (stage ``warnings``, docs/early-warnings.md)."""

    catalog: Text
    out_dir: Text
    horizon_months: Count = Field(description="evaluation: months after M in which an adverse outcome counts")
    weak_lift: Positive = Field(description="a warning with an observed lift below this is marked weak")
    metrics: Text


class TriggerCategory(_Model):
    """A new-economy category of the roster: a registry flag column, industry-code prefixes, or both."""

    id: Annotated[str, _matches(r"[a-z][a-z0-9_]*", "a lower-case identifier")]
    name_zh: Text
    flag: Literal["is_high_tech", "is_new_economy"] | None = None
    industries: list[Annotated[str, _matches(r"[A-T][0-9]{0,4}", "a GB/T 4754 code prefix, e.g. I65")]] = []

    @model_validator(mode="after")
    def _something(self) -> TriggerCategory:
        if not self.flag and not self.industries:
            raise ValueError("a category needs a flag or industries")
        return self


class TriggerKinds(_Model):
    complaint: bool
    warning: bool
    case_lead: bool
    legal: bool
    worsening: bool


class Triggers(_Model):
    """Trigger-based supervision (stage ``roster``, docs/trigger-supervision.md)."""

    enabled: bool = Field(description="false: no roster; the plan draws everyone as before")
    out_dir: Text
    metrics: Text
    legal_file: Text = Field(description="the bureau's list of checks required by law (CSV)")
    categories: Annotated[list[TriggerCategory], Field(min_length=1)]
    grace_months: Count = Field(description="包容期 in months from enrolment")
    on_grace_end: Literal["renew_if_clean", "exit"]
    reenrol_wait_months: Count0
    kinds: TriggerKinds
    worsening_min_steps: Annotated[int, Field(ge=1, le=3)] = Field(description="1: A→B counts; 2: A→C, B→D")
    warning_codes: list[Text]
    check_items: Annotated[list[Text], Field(min_length=1)] = Field(
        description="items a triggered check is planned under, in order: the first one that applies to the entity"
    )


class Features(_Model):
    validated_dir: Text
    feedback_dir: Text
    out_dir: Text
    catalog: Text
    month: Month
    panel_from: Month
    memory_limit: Annotated[str, _matches(r"0*[1-9]\d*(\.\d+)?\s*[KMGT]i?B", "a size like 4GB or 512MB", re.I)]
    threads: Count
    slice_entities: Count

    @model_validator(mode="after")
    def _order(self) -> Features:
        if self.panel_from > self.month:
            _raise([(("panel_from",), self.panel_from, f"must not be after features.month = {self.month!r}")])
        return self


class Spark(_Model):
    """``riskclass features|classify --engine spark`` (docs/spark.md); under spark-submit, master and driver
    memory come from the submit command."""

    master: Annotated[
        str, _matches(r"(local(\[(\d+|\*)\])?|spark://\S+|yarn|k8s://\S+)", "local[N], spark://…, yarn or k8s://…")
    ]
    driver_memory: Annotated[str, _matches(r"[1-9]\d*[kmgt]", "a JVM size like 2g or 512m")]
    shuffle_partitions: Count
    arrow_batch_size: Count = Field(description="rows per Arrow batch handed to Python (scoring partitions)")


class LabelEvents(_Model):
    inspection_problem: bool
    abnormal_listing: bool
    penalty: bool
    serious_listing: bool
    revocation: bool

    @model_validator(mode="after")
    def _any(self) -> LabelEvents:
        if not any(self.model_dump().values()):
            _raise([((), _NO_VALUE, "at least one event must be true")])
        return self


class Labels(_Model):
    horizon_months: Count
    events: LabelEvents


class CatBoost(_Model):
    """Settings every fit shares; the regularisation (depth, l2_leaf_reg, rsm, iterations) is chosen by ``Tuning``."""

    learning_rate: float = Field(gt=0, le=1)
    random_seed: Count0
    thread_count: Count
    max_ctr_complexity: Count0


def _candidate_values(values: list) -> list:
    if not values:
        raise ValueError("must list at least one candidate value")
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"values must be distinct, {', '.join(map(str, repeated))} repeated")
    return values


def _grid_of(item: Any) -> Any:
    return Annotated[list[item], AfterValidator(_candidate_values)]


class TuningGrid(_Model):
    """Candidate values; every combination is a candidate, taken in this order (which breaks ties)."""

    depth: _grid_of(Annotated[int, Field(ge=1, le=16, description="CatBoost allows depth 1–16")])
    l2_leaf_reg: _grid_of(NonNeg)
    rsm: _grid_of(Annotated[float, Field(gt=0, le=1, description="share of features considered at a split")])


class Tuning(_Model):
    folds: Count
    gap_months: Count0
    valid_entity_share: float = Field(gt=0, lt=1)
    sample_entity_share: Ratio
    max_iterations: Count
    grid: TuningGrid


class Scorecard(_Model):
    max_features: Count
    min_iv: NonNeg


class TypeCalibration(_Model):
    """Calibration per entity type (docs/model.md): the figures of the validation report and the rule that flags
    a type as off, applied out of time in the report and on the calibration rows at training."""

    bins: Count = Field(description="equal-count bins of the prediction for the ECE")
    bootstrap: Count = Field(description="bootstrap resamples for the intervals")
    min_n: Count = Field(description="rows a type needs before it can be flagged")
    max_ece_excess: Prob = Field(description="off: ECE beyond a calibrated model's (and significant) above this")
    seed: Count0


class ModelParams(_Model):
    features_dir: Text
    validated_dir: Text
    truth_dir: Text
    train_from: Month
    train_to: Month
    valid_month: Month
    calibration_share: float = Field(gt=0, lt=1)
    catboost: CatBoost
    tuning: Tuning
    scorecard: Scorecard
    type_calibration: TypeCalibration
    out_dir: Text

    @model_validator(mode="after")
    def _order(self) -> ModelParams:
        if self.train_from > self.train_to:
            _raise([(("train_to",), self.train_to, f"must not be before model.train_from = {self.train_from!r}")])
        if self.train_to >= self.valid_month:
            _raise([(("valid_month",), self.valid_month, f"must be after model.train_to = {self.train_to!r}")])
        # each fold needs at least one training month before its gap and validation month
        months = _month_index(self.train_to) - _month_index(self.train_from) + 1
        needed = self.tuning.folds + self.tuning.gap_months + 1
        if months < needed:
            _raise(
                [
                    (
                        ("tuning", "folds"),
                        self.tuning.folds,
                        f"the training window {self.train_from}…{self.train_to} has {months} months; "
                        f"{self.tuning.folds} folds with a {self.tuning.gap_months}-month gap need at least {needed}",
                    )
                ]
            )
        return self


def _bands(bands: ByClass) -> ByClass:
    lows = [bands.A, bands.B, bands.C, bands.D]
    problems = [(("A",), bands.A, "must be 0 (scores start at 0)")] if bands.A != 0 else []
    problems += [
        ((k,), hi, f"must be above score.bands.{prev} = {_num(lo)} (bands increase strictly A→D)")
        for prev, k, lo, hi in zip("ABC", "BCD", lows[:-1], lows[1:], strict=True)
        if hi <= lo
    ]
    _raise(problems)
    return bands


Bands = Annotated[ByClass[Annotated[float, Field(ge=0, le=1000)]], AfterValidator(_bands)]


class Score(_Model):
    anchor_probability: float = Field(gt=0, lt=1)
    pdo: Positive
    bands: Bands
    bands_by_type: dict[EntityType, Bands] = None  # an entity type's own bands (absent: every type on `bands`)


class Gates(_Model):
    min_auc_oot: float = Field(ge=0.5, le=1)
    min_ks_oot: Prob
    max_brier_oot: Prob
    class_rates_strictly_increasing: bool
    monotone_constraints_respected: bool
    reload_identical: bool


class Registry(_Model):
    tracking_uri: Annotated[str, _matches(r"(sqlite:///|https?://).+", "a URI starting with sqlite:/// or http")]
    artifact_root: Text
    experiment: Text
    model_name: Text
    alias_history: Text
    champion_dir: Text


class Override(_Model):
    id: RuleId
    name_zh: Text
    indicator: Indicator
    min_value: float
    min_class: Cls


class Classify(_Model):
    records_dir: Text
    first_month: Month
    head_file: Text  # the ledger's last line, committed to git as an anchor
    model_dir: Text
    reasons: int = Field(ge=0, le=3, description="the contract keeps three reason columns")
    initial_history_months: int = Field(
        ge=1, le=36, description="the first pipeline run of an empty store seals this many months, ending at its month"
    )
    overrides: Annotated[list[Override], AfterValidator(_unique_ids)]


class Backtest(_Model):
    min_elapsed_months_auc: Count = Field(description="realised AUC is judged against the gate from this many months")
    min_per_class: Count = Field(description="units (random checks for IPW) every class needs to judge the order")
    calibration_bins: Count
    auc_views: Annotated[list[Literal["observed", "ipw", "truth"]], Field(min_length=1)] = Field(
        description="views whose realised AUC is held to gates.min_auc_oot"
    )


ReminderItem = Literal[
    "annual_report_overdue",
    "abnormal_listed",
    "serious_violation",
    "penalty_in_publicity",
    "address_unreachable",
    "licence_expired",
    "licence_expiring",
    "all_zero_financials",
    "early_warning",
]  # riskclass.reminders.facts.ITEMS (tests/test_reminders.py keeps the two equal)


def _sender(value: str) -> str:
    try:
        value.format(city="", district="")
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"may use only the placeholders {{city}} and {{district}} ({exc})") from None
    return value


class Reminders(_Model):
    out_dir: Text
    summary: Text
    items: Annotated[list[ReminderItem], Field(min_length=1)]
    act_within_days: Count
    annual_report_years: Count
    expiry_horizon_days: Count
    renewal_lead_days: Count0
    unreachable_lookback_days: Count
    sender: Annotated[Text, AfterValidator(_sender)]
    contact: Text


class MonitorProfile(_Model):
    n_bins: int = Field(ge=2, description="quantile bins of the training rows per indicator and for the score")
    placeholders: list[float] = Field(description="numeric values meaning 'no value', counted as missing")


class MonitorStability(_Model):
    epsilon: Annotated[float, Field(gt=0, lt=0.01)]
    watch: Positive
    shifted: Positive
    responsible_min: NonNeg
    basis: Literal["validation", "training"] = Field(description="the reference the verdict reads against")

    @model_validator(mode="after")
    def _order(self) -> MonitorStability:
        if self.watch > self.shifted:
            _raise([(("shifted",), self.shifted, f"must not be below monitor.stability.watch = {self.watch}")])
        return self


class MonitorReports(_Model):
    dir: Text
    metrics: Text
    sample_rows: Count
    seed: Count0
    top_indicators: Count


class Monitor(_Model):
    """Stability monitoring of the monthly classes (docs/monitoring.md)."""

    profile: MonitorProfile
    stability: MonitorStability
    reports: MonitorReports


class RegionsDirected(_Model):
    max_entries: Count0
    item: Text
    ratio: Ratio
    min_lift: Positive = Field(description="a recommended cell's shrunk rate is at least this times the city's")


class RegionsSpecial(_Model):
    levels: Annotated[
        list[Literal["county", "section", "division", "entity_type", "county_section"]], Field(min_length=1)
    ]
    max_entries: Count0


class Regions(_Model):
    """Regional and industry risk analysis (stage ``regions``, docs/regions.md)."""

    out_dir: Text
    metrics: Text
    vintage_lag_months: Count0
    min_elapsed_months: Count = Field(description="whole months of the vintage's label window elapsed")
    credible_level: float = Field(gt=0, lt=1)
    max_prior_strength: Count = Field(description="cap of the fitted prior strength M = 1/rho - 1")
    rank_on: Literal["mean", "lower"]
    min_entities: Count0
    small_cell_entities: Count
    top_n: Count
    trend_months: int = Field(ge=2, description="a slope needs two months")
    directed: RegionsDirected
    special: RegionsSpecial
    tiles: dict[Division, Annotated[list[Count0], Field(min_length=2, max_length=2)]]


class Params(_Model):
    """The whole of ``params.yaml``."""

    city: City
    synth: Synth
    ingest: Ingest
    plan: Plan
    policy: Policy
    warnings: Warnings
    triggers: Triggers
    features: Features
    spark: Spark
    labels: Labels
    model: ModelParams
    score: Score
    gates: Gates
    registry: Registry
    classify: Classify
    backtest: Backtest
    reminders: Reminders
    monitor: Monitor
    regions: Regions

    @model_validator(mode="after")
    def _months_chain(self) -> Params:
        f, m, horizon = self.features, self.model, self.labels.horizon_months
        problems = []
        if self.backtest.min_elapsed_months_auc > horizon:
            problems.append(
                (
                    ("backtest", "min_elapsed_months_auc"),
                    self.backtest.min_elapsed_months_auc,
                    f"must be at most labels.horizon_months = {horizon} (no window would ever be judged)",
                )
            )
        if f.panel_from > m.train_from:
            problems.append(
                (("model", "train_from"), m.train_from, f"must not be before features.panel_from = {f.panel_from!r}")
            )
        if m.valid_month > f.month:
            problems.append(
                (("model", "valid_month"), m.valid_month, f"must not be after features.month = {f.month!r}")
            )
        if _month_index(m.train_to) + horizon > _month_index(m.valid_month):
            problems.append(
                (
                    ("model", "train_to"),
                    m.train_to,
                    f"its {horizon}-month label window (labels.horizon_months) ends after model.valid_month = "
                    f"{m.valid_month!r} (leakage across the split)",
                )
            )
        _raise(problems)
        return self


def _month_index(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:7])


# ---------------------------------------------------------------------------------------------------------------
# loading and error messages


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """The loader of ``yaml.safe_load`` (libyaml when present), refusing a key given twice in a mapping.

    ``safe_load`` silently keeps the last of two equal keys; a duplicated key is a typo to report.
    """

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True) if key_node.tag != "tag:yaml.org,2002:merge" else None
            if isinstance(key, str | int | float | bool):
                if key in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep)


def load_params(path: Path | str = DEFAULT_PARAMS) -> dict:
    """The parameters of ``path`` as the plain dict ``yaml.safe_load`` gives, once every key has been checked.

    Raises FileNotFoundError for a missing file and ParamsError (listing every problem) otherwise.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: parameters file not found (run from the repository root or pass --params)")
    try:
        params = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # safe: SafeConstructor
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        raise ParamsError(f"{path}: {where}: not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from None
    return validate_params(params, str(path))


def validate_params(params: Any, source: str = "params.yaml") -> dict:
    """``params`` unchanged if it passes every check of :class:`Params`, else ParamsError."""
    if not isinstance(params, dict):
        raise ParamsError(f"{source}: must be a mapping of sections ({', '.join(Params.model_fields)})")
    try:
        Params.model_validate(params)
    except ValidationError as exc:
        lines = dict.fromkeys(f"{source}: {line}" for e in exc.errors() for line in _explain(e, params))
        raise ParamsError("\n".join(lines)) from None
    return params


def _explain(error: dict, raw: dict) -> list[str]:
    """Lines ``key.path = value: problem`` for one pydantic error."""
    loc, kind, ctx = tuple(error["loc"]), error["type"], error.get("ctx", {})
    if isinstance(ctx.get("error"), _Problems):
        return [  # values as written, not as validated (10, not 10.0)
            _line(loc + sub, value if value is _NO_VALUE else _lookup(raw, loc + sub, value), problem)
            for sub, value, problem in ctx["error"].problems
        ]
    tp, meta, hint = _declared(loc)
    value, is_key = error.get("input", _NO_VALUE), loc[-1:] == ("[key]",)
    if is_key:  # a bad key of a mapping: show its value, and the key as written (440802, not [440802])
        value, loc, hint = _lookup(raw, loc[:-1]), (*loc[:-2], str(loc[-2])), None
    if kind == "missing":
        value, problem = _NO_VALUE, "missing"
    elif kind == "extra_forbidden":
        parent = _declared(loc[:-1])[0]
        allowed = list(parent.model_fields) if isinstance(parent, type) and issubclass(parent, BaseModel) else []
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.8)
        problem = "unknown key" + (f" (did you mean {close[0]}?)" if close else "")
        problem, hint = f"{problem}; allowed keys are {', '.join(allowed)}", None
    elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        problem = _limits(meta) or error["msg"]
    elif kind == "literal_error":
        problem = (
            f"{'unknown key; allowed keys' if is_key else 'allowed values'} are {', '.join(map(str, get_args(tp)))}"
        )
    elif kind in ("too_short", "too_long"):
        sizes = sorted({getattr(m, k) for m in meta for k in ("min_length", "max_length") if hasattr(m, k)})
        problem = f"must have {' to '.join(map(str, sizes))} items"
    elif kind == "value_error":
        problem = str(ctx["error"])
    else:
        problem = _TYPE_PROBLEMS.get(kind, error["msg"])
    if is_key and kind != "literal_error":
        problem = f"the key {problem}"
    return [_line(loc, value, problem + (f" ({hint})" if hint else ""))]


_TYPE_PROBLEMS = {
    "string_type": "must be a string (quote it)",
    "string_too_short": "must not be empty",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "list_type": "must be a list",
}


def _line(loc: tuple, value: Any, problem: str) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "(top level)"
    return f"{path}: {problem}" if value is _NO_VALUE else f"{path} = {_show(value)}: {problem}"


def _num(x: float) -> float | int:
    """A validated number as it was probably written: 200, not 200.0."""
    return int(x) if float(x).is_integer() else x


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _limits(meta: list) -> str | None:
    """``must lie in (0, 1]``, ``must be at least 2``, … from the declared bounds."""
    bounds = [m for m in meta if isinstance(m, at.Gt | at.Ge | at.Lt | at.Le)]
    b = {k: getattr(m, k) for m in bounds for k in ("gt", "ge", "lt", "le") if hasattr(m, k)}
    low = ("(", b["gt"]) if "gt" in b else ("[", b["ge"]) if "ge" in b else None
    high = (b["lt"], ")") if "lt" in b else (b["le"], "]") if "le" in b else None
    if low and high:
        return f"must lie in {low[0]}{low[1]}, {high[0]}{high[1]}"
    if low:
        return f"must be {'greater than' if low[0] == '(' else 'at least'} {low[1]}"
    if high:
        return f"must be {'less than' if high[1] == ')' else 'at most'} {high[0]}"
    return None


def _declared(loc: tuple) -> tuple[Any, list, str | None]:
    """(type, constraints, description) declared for the value at ``loc``, as far as the models tell."""
    tp, meta, hint = _unwrap(Params, [], None)
    i = 0
    while i < len(loc):
        part, origin = loc[i], get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and part in tp.model_fields:
            field = tp.model_fields[part]
            tp, meta, hint = _unwrap(field.annotation, list(field.metadata), field.description or hint)
        elif origin is dict:
            key = i + 1 < len(loc) and loc[i + 1] == "[key]"
            tp, meta, hint = _unwrap(get_args(tp)[0 if key else 1], [], hint)
            i += key
        elif origin is list:
            tp, meta, hint = _unwrap(get_args(tp)[0], [], hint)
        else:
            return None, [], None
        i += 1
    return tp, meta, hint


def _unwrap(tp: Any, meta: list, hint: str | None) -> tuple[Any, list, str | None]:
    """``tp`` without its ``Annotated`` layers, whose constraints and description join ``meta`` and ``hint``."""
    while get_origin(tp) is Annotated:
        tp, *extra = get_args(tp)
        for m in extra:
            if isinstance(m, FieldInfo):
                meta, hint = meta + list(m.metadata), m.description or hint
            else:
                meta = [*meta, m]
    return tp, meta, hint


def _lookup(raw: Any, loc: tuple, default: Any = _NO_VALUE) -> Any:
    for part in loc:
        try:
            raw = raw[part]
        except (KeyError, IndexError, TypeError):
            return default
    return raw
