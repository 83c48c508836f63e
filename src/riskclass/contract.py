"""The data contract: one table per source, declared once.

Ingest validates against these declarations, the synthetic city emits them, and
``docs/data-contract.md`` is rendered from them (``riskclass contract-doc``), so the three never
drift apart. Column kinds:

- ``uscc``       统一社会信用代码, checked by python-stdnum (GB 32100-2015)
- ``pseudonym``  a pseudonymous person key ``P`` + 16 hex digits; real names or ID numbers are refused
- ``key``        an identifier string (record ids, address keys)
- ``text``       free text
- ``code``       a value of a code list in ``resources/codes.yaml`` (code or its Chinese label accepted)
- ``code_set``   several values of a code list separated by ``;``, ``；``, ``,`` or ``，`` (not ``、``, which
                 occurs inside labels); stored sorted, ``;``-joined
- ``industry``   GB/T 4754-2017 code: section letter + 2–4 digits of a division in that section
- ``division``   GB/T 2260 six-digit division code known to the system
- ``date``       a calendar date (2020-12-11, 2020/12/11, 2020年12月11日 or 20201211)
- ``float``/``int`` numbers; ``bool`` true/false, 1/0, 是/否, Y/N
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    label: str  # Chinese header, accepted as an alias in raw files
    required: bool = True
    codes: str | None = None  # code list name for kind == "code"
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    future_ok: bool = False  # dates that may lie after the snapshot (expiry, publicity end)
    doc: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    label: str
    family: str
    doc: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    date_order: tuple[tuple[str, str], ...] = ()  # (earlier, later) pairs
    # (column, condition column, values): column is required when condition column is in values
    required_when: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    references_entities: bool = True  # `uscc` must name an accepted entity
    # (column, table, key column): the value must name an accepted row of another table read before
    references: tuple[tuple[str, str, str], ...] = ()
    optional_file: bool = False  # a snapshot may omit the file (the report says so)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _uscc(doc: str = "market entity the record belongs to") -> Column:
    return Column("uscc", "uscc", "统一社会信用代码", doc=doc)


_AMOUNT = {"kind": "float", "min": 0.0}

TABLES: tuple[Table, ...] = (
    Table(
        "entities",
        "市场主体登记信息",
        "basic",
        "Registry of market entities: enterprises (USCC 91), individual businesses (92), farmers' "
        "cooperatives (93), including closed ones with their closing date.",
        (
            _uscc("identifies the entity; positions 1–2 must match entity_type"),
            Column("name", "text", "名称"),
            Column("entity_type", "code", "市场主体类型", codes="entity_types"),
            Column("org_form", "code", "组织形式", codes="org_forms", doc="must belong to entity_type"),
            Column("industry_code", "industry", "行业代码", doc="GB/T 4754-2017, e.g. F5212"),
            Column("division_code", "division", "行政区划代码", doc="county-level unit of the address"),
            Column("registered_capital", label="注册资本（万元）", **_AMOUNT),
            Column("paid_in_capital", label="实缴资本（万元）", required=False, **_AMOUNT),
            Column("established_date", "date", "成立日期"),
            Column("status", "code", "登记状态", codes="entity_status"),
            Column(
                "status_date",
                "date",
                "状态日期",
                required=False,
                doc="date of revocation, deregistration or move; required unless active",
            ),
            Column("address_key", "key", "住所地址键", doc="pseudonymous key of the registered address"),
            Column("employees", "int", "从业人数", required=False, min=0),
            Column("is_high_tech", "bool", "高新技术企业"),
            Column("is_new_economy", "bool", "新产业新业态新模式"),
            Column("food_licensed", "bool", "食品领域"),
            Column("drug_licensed", "bool", "药品领域"),
            Column("special_equipment", "bool", "特种设备领域"),
        ),
        key=("uscc",),
        date_order=(("established_date", "status_date"),),
        required_when=(("status_date", "status", ("revoked", "deregistered", "moved_out")),),
        references_entities=False,
    ),
    Table(
        "roles",
        "法定代表人及股东",
        "relationship",
        "Legal representatives and shareholders of each entity over time. Natural persons appear "
        "only as pseudonymous keys; corporate holders by their USCC.",
        (
            Column("role_id", "key", "记录编号"),
            _uscc(),
            Column("role", "code", "角色", codes="role_types"),
            Column("holder_type", "code", "主体类型", codes="holder_types"),
            Column("person_key", "pseudonym", "自然人假名键", required=False),
            Column("holder_uscc", "uscc", "出资企业统一社会信用代码", required=False),
            Column("share", "float", "出资比例", required=False, min=0.0, max=1.0),
            Column("start_date", "date", "起始日期"),
            Column("end_date", "date", "终止日期", required=False),
        ),
        key=("role_id",),
        date_order=(("start_date", "end_date"),),
        required_when=(
            ("person_key", "holder_type", ("natural_person",)),
            ("holder_uscc", "holder_type", ("enterprise",)),
        ),
    ),
    Table(
        "changes",
        "登记事项变更",
        "dynamic",
        "Registration changes: legal representative, address, scope, name, capital up or down.",
        (
            Column("change_id", "key", "变更记录编号"),
            _uscc(),
            Column("change_type", "code", "变更事项", codes="change_types"),
            Column("change_date", "date", "变更日期"),
            Column("capital_before", label="变更前注册资本（万元）", required=False, **_AMOUNT),
            Column("capital_after", label="变更后注册资本（万元）", required=False, **_AMOUNT),
        ),
        key=("change_id",),
    ),
    Table(
        "annual_reports",
        "企业年度报告",
        "dynamic",
        "Annual reports (年报) as filed; a report not filed has no row. Amounts in 万元.",
        (
            _uscc(),
            Column("report_year", "int", "报告年度", min=1990),
            Column("filing_date", "date", "公示日期"),
            Column("revenue", label="营业总收入（万元）", required=False, **_AMOUNT),
            Column("total_assets", label="资产总额（万元）", required=False, **_AMOUNT),
            Column("total_liabilities", label="负债总额（万元）", required=False, **_AMOUNT),
            Column("net_profit", "float", "净利润（万元）", required=False),
            Column("tax_paid", label="纳税总额（万元）", required=False, **_AMOUNT),
            Column("insured_employees", "int", "参保人数", required=False, min=0),
            Column("all_zero", "bool", "财务数据全为零"),
        ),
        key=("uscc", "report_year"),
    ),
    Table(
        "licences",
        "行政许可",
        "dynamic",
        "Administrative licences with issue, expiry and revocation dates.",
        (
            Column("licence_id", "key", "许可证编号"),
            _uscc(),
            Column("licence_type", "code", "许可类别", codes="licence_types"),
            Column("issue_date", "date", "发证日期"),
            Column("expiry_date", "date", "有效期至", required=False, future_ok=True),
            Column("revoked_date", "date", "注销或吊销日期", required=False),
        ),
        key=("licence_id",),
        date_order=(("issue_date", "expiry_date"), ("issue_date", "revoked_date")),
    ),
    Table(
        "equity_actions",
        "股权出质与冻结",
        "dynamic",
        "Equity pledges (出质) and judicial freezes (冻结); effect ends at end_date.",
        (
            Column("action_id", "key", "登记编号"),
            _uscc(),
            Column("action_type", "code", "类型", codes="equity_action_types"),
            Column("start_date", "date", "登记日期"),
            Column("end_date", "date", "解除日期", required=False),
            Column("amount", label="数额（万元）", required=False, **_AMOUNT),
        ),
        key=("action_id",),
        date_order=(("start_date", "end_date"),),
    ),
    Table(
        "penalties",
        "行政处罚",
        "supervision",
        "Administrative penalties in the national 双公示 format (行政处罚). Effect ends at "
        "publicity_end_date unless a credit repair ends it earlier.",
        (
            Column("decision_no", "key", "行政处罚决定书文号"),
            Column("entity_name", "text", "行政相对人名称", required=False),
            _uscc(),
            Column("legal_rep_key", "pseudonym", "法定代表人", required=False),
            Column("violation_type", "code", "违法行为类型", codes="violation_types"),
            Column("facts", "text", "违法事实", required=False),
            Column("basis", "text", "处罚依据", required=False),
            Column("penalty_category", "code", "处罚类别", codes="penalty_categories"),
            Column("content", "text", "处罚内容", required=False),
            Column("fine_amount", label="罚款金额（万元）", required=False, **_AMOUNT),
            Column("confiscation_amount", label="没收违法所得、没收非法财物的金额（万元）", required=False, **_AMOUNT),
            Column("licence_revoked", "text", "暂扣或吊销证照名称及编号", required=False),
            Column("decision_date", "date", "处罚决定日期"),
            Column("effect_end_date", "date", "处罚有效期", required=False, future_ok=True),
            Column("publicity_end_date", "date", "公示截止期", required=False, future_ok=True),
            Column("authority", "text", "处罚机关"),
            Column("authority_uscc", "uscc", "处罚机关统一社会信用代码", required=False),
            Column("data_source", "text", "数据来源单位", required=False),
        ),
        key=("decision_no",),
        date_order=(("decision_date", "publicity_end_date"), ("decision_date", "effect_end_date")),
    ),
    Table(
        "abnormal_listings",
        "经营异常名录",
        "supervision",
        "Listings on the abnormal-operation list with the statutory reason, and removals.",
        (
            Column("listing_id", "key", "列入决定书文号"),
            _uscc(),
            Column("reason_code", "code", "列入原因", codes="abnormal_reasons"),
            Column("list_date", "date", "列入日期"),
            Column("removal_date", "date", "移出日期", required=False),
            Column("removal_reason", "code", "移出原因", required=False, codes="abnormal_removal_reasons"),
        ),
        key=("listing_id",),
        date_order=(("list_date", "removal_date"),),
        required_when=(("removal_reason", "removal_date", ("*",)),),
    ),
    Table(
        "serious_violations",
        "严重违法失信名单",
        "supervision",
        "Listings on the serious illegal and dishonest list (严重违法失信名单), and removals.",
        (
            Column("listing_id", "key", "列入决定书文号"),
            _uscc(),
            Column("reason", "code", "列入原因", codes="serious_reasons"),
            Column("list_date", "date", "列入日期"),
            Column("removal_date", "date", "移出日期", required=False),
            Column("removal_reason", "code", "移出原因", required=False, codes="serious_removal_reasons"),
        ),
        key=("listing_id",),
        date_order=(("list_date", "removal_date"),),
        required_when=(("removal_reason", "removal_date", ("*",)),),
    ),
    Table(
        "dishonest_debtors",
        "失信被执行人",
        "supervision",
        "Court-published dishonest judgement debtors (失信被执行人) and their removal.",
        (
            Column("case_no", "key", "案号"),
            _uscc(),
            Column("court", "text", "执行法院"),
            Column("publish_date", "date", "发布日期"),
            Column("removal_date", "date", "移除日期", required=False),
            Column("amount", label="执行标的（万元）", required=False, **_AMOUNT),
        ),
        key=("case_no",),
        date_order=(("publish_date", "removal_date"),),
    ),
    Table(
        "credit_repairs",
        "信用修复",
        "supervision",
        "Credit repairs (信用修复): end the effect of a penalty's publicity or a listing early.",
        (
            Column("repair_id", "key", "修复记录编号"),
            _uscc(),
            Column("target", "code", "修复对象", codes="repair_targets"),
            Column("target_id", "key", "修复对象记录编号"),
            Column("repair_date", "date", "修复日期"),
        ),
        key=("repair_id",),
    ),
    Table(
        "inspections",
        "双随机抽查结果",
        "supervision",
        "双随机、一公开 inspection results with the platform's result codes, how the entity was drawn "
        "and its inclusion probability (for inverse-probability weighting).",
        (
            Column("inspection_id", "key", "检查记录编号"),
            _uscc(),
            Column("task_id", "key", "抽查任务编号"),
            Column("item_type", "code", "检查事项类别", codes="inspection_item_types"),
            Column("draw_type", "code", "抽取方式", codes="draw_types"),
            Column(
                "inclusion_prob",
                "float",
                "入样概率",
                required=False,
                min=0.0,
                max=1.0,
                min_exclusive=True,
                doc="required for undirected and directed draws",
            ),
            Column("inspection_date", "date", "检查日期"),
            Column("result_code", "code", "检查结果", codes="inspection_results"),
            Column("disposition", "code", "后续处置", codes="inspection_dispositions"),
        ),
        key=("inspection_id",),
        required_when=(("inclusion_prob", "draw_type", ("undirected", "directed")),),
    ),
    Table(
        "complaints",
        "投诉举报",
        "social",
        "Complaints and reports received through 12315 / 12345 and other channels.",
        (
            Column("complaint_id", "key", "投诉举报编号"),
            _uscc(),
            Column("channel", "code", "渠道", codes="complaint_channels"),
            Column("kind", "code", "类别", codes="complaint_kinds"),
            Column("received_date", "date", "登记日期"),
            Column("substantiated", "bool", "是否属实", required=False),
            Column("closed_date", "date", "办结日期", required=False),
        ),
        key=("complaint_id",),
        date_order=(("received_date", "closed_date"),),
    ),
    Table(
        "public_opinion",
        "负面舆情",
        "social",
        "Negative public-opinion items about an entity.",
        (
            Column("item_id", "key", "舆情编号"),
            _uscc(),
            Column("publish_date", "date", "发布日期"),
            Column("severity", "code", "严重程度", codes="opinion_severities"),
            Column("source", "text", "来源", required=False),
        ),
        key=("item_id",),
    ),
    Table(
        "honours",
        "荣誉与认证",
        "social",
        "Honours, awards and certifications (守合同重信用, A级纳税人, 质量奖 ...).",
        (
            Column("honour_id", "key", "荣誉编号"),
            _uscc(),
            Column("honour_type", "code", "荣誉类别", codes="honour_types"),
            Column("award_date", "date", "授予日期"),
            Column("expiry_date", "date", "有效期至", required=False, future_ok=True),
        ),
        key=("honour_id",),
        date_order=(("award_date", "expiry_date"),),
    ),
)

# 一单两库: the random-check item list and the inspector directory (with declared conflicts), which
# 双随机 planning reads. They travel in the raw snapshot but are optional there: the enterprise
# tables are validated without them, and `riskclass plan` refuses to run if they were not supplied.
PLANNING_TABLES: tuple[Table, ...] = (
    Table(
        "check_items",
        "随机抽查事项清单",
        "planning",
        "The random-check item list: each item, whether it is a general or a key item, the entities it "
        "applies to, the department that runs it and the qualification an inspector needs for it.",
        (
            Column("item_id", "key", "事项编号"),
            Column("item_name", "text", "抽查事项名称"),
            Column("item_type", "code", "事项类别", codes="inspection_item_types"),
            Column("department", "code", "实施部门", codes="departments"),
            Column("qualification", "code", "所需执法资格", codes="qualifications"),
            Column(
                "entity_types",
                "code_set",
                "适用主体类型",
                required=False,
                codes="entity_types",
                doc="empty: every entity type",
            ),
            Column(
                "industry_sections",
                "code_set",
                "适用行业门类",
                required=False,
                codes="industry_sections",
                doc="empty: every industry",
            ),
            Column(
                "domain",
                "code",
                "专业领域",
                required=False,
                codes="supervision_domains",
                doc="the item applies only to entities licensed in this domain (通用+专业)",
            ),
            Column("basis", "text", "检查依据", required=False),
            Column("active", "bool", "是否启用"),
        ),
        key=("item_id",),
        references_entities=False,
        optional_file=True,
    ),
    Table(
        "inspectors",
        "执法检查人员名录库",
        "planning",
        "The inspector directory: enforcement officers by their certificate number (no names), their "
        "department, qualifications, availability window and the most checks they take per plan.",
        (
            Column("inspector_id", "key", "执法证号"),
            Column("department", "code", "所属部门", codes="departments"),
            Column("qualifications", "code_set", "执法资格", codes="qualifications"),
            Column(
                "available_from", "date", "可派期起", required=False, future_ok=True, doc="empty: available already"
            ),
            Column("available_to", "date", "可派期止", required=False, future_ok=True, doc="empty: open-ended"),
            Column("capacity", "int", "每批次最多检查户数", min=1),
            Column("active", "bool", "在岗"),
        ),
        key=("inspector_id",),
        date_order=(("available_from", "available_to"),),
        references_entities=False,
        optional_file=True,
    ),
    Table(
        "inspector_conflicts",
        "执法人员回避声明",
        "planning",
        "Declared conflicts of interest: an inspector must never be assigned to check this entity.",
        (
            Column("conflict_id", "key", "声明编号"),
            Column("inspector_id", "key", "执法证号"),
            _uscc("the entity the inspector must not inspect"),
            Column("reason", "code", "回避事由", codes="conflict_reasons"),
            Column("declared_date", "date", "声明日期"),
        ),
        key=("conflict_id",),
        references=(("inspector_id", "inspectors", "inspector_id"),),
        optional_file=True,
    ),
)

ALL_TABLES: tuple[Table, ...] = TABLES + PLANNING_TABLES

# What the inspection platform returns for one of our plans (`riskclass results ingest`); accepted rows
# become `inspections` records with the draw and inclusion probability the plan recorded.
RESULTS_TABLE = Table(
    "inspection_results",
    "双随机抽查结果反馈",
    "planning",
    "Results of the checks of one plan, one row per check id of the plan (its results_template.csv). "
    "Not part of a snapshot: each file is ingested against its plan.",
    (
        Column("check_id", "key", "检查任务编号", doc="a check id of the plan"),
        _uscc("must be the entity the plan drew for this check"),
        Column("inspection_date", "date", "检查日期", doc="on or after the plan's start date"),
        Column("result_code", "code", "检查结果", codes="inspection_results"),
        Column("disposition", "code", "后续处置", codes="inspection_dispositions"),
    ),
    key=("check_id",),
    references_entities=False,
)
TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in (*ALL_TABLES, RESULTS_TABLE)}

FAMILIES = {
    "basic": "企业基础属性信息",
    "dynamic": "企业动态信息",
    "supervision": "监管信息",
    "relationship": "关联关系信息",
    "social": "社会评价信息",
    "planning": "双随机抽查配置（一单两库）",
}


def table(name: str) -> Table:
    try:
        return TABLES_BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown table {name!r}; the contract has {sorted(TABLES_BY_NAME)}") from None
