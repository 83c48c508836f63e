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
# a licence's validity (every licence table): issued, expires (may lie ahead), revoked or cancelled
_LICENCE_VALIDITY = (
    Column("issue_date", "date", "发证日期"),
    Column("expiry_date", "date", "有效期至", required=False, future_ok=True),
    Column("revoked_date", "date", "注销或吊销日期", required=False),
)
_LICENCE_DATE_ORDER = (("issue_date", "expiry_date"), ("issue_date", "revoked_date"))

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
            Column(
                "reg_no",
                "key",
                "工商注册号",
                required=False,
                doc="the 15-digit registration number of entities registered before the USCC reform (2015); "
                "used to link records that carry no USCC",
            ),
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
            *_LICENCE_VALIDITY,
        ),
        key=("licence_id",),
        date_order=_LICENCE_DATE_ORDER,
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
        # one decision may name several entities (joint cases), so the number repeats across entities
        key=("decision_no", "uscc"),
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

# 通用+专业 (domain.md §5): the registers and checks of the professional domains, read by the domain graders
# (riskclass.domains). Optional in a snapshot like the planning tables: the general classes never read them.
PROFESSIONAL_TABLES: tuple[Table, ...] = (
    Table(
        "food_licences",
        "食品生产经营许可",
        "professional",
        "Food production and business licences with the holder's business kind, main food category, whether "
        "it covers special foods (保健食品, 婴幼儿配方食品, 特殊医学用途配方食品) and its static risk level Ⅰ–Ⅳ.",
        (
            Column("licence_id", "key", "许可证编号"),
            _uscc(),
            Column("business_kind", "code", "主体业态", codes="food_business_kinds"),
            Column("food_category", "code", "主要食品类别", codes="food_categories"),
            Column("special_food", "bool", "特殊食品"),
            Column("static_risk_level", "code", "静态风险等级", codes="static_risk_levels"),
            *_LICENCE_VALIDITY,
        ),
        key=("licence_id",),
        date_order=_LICENCE_DATE_ORDER,
        optional_file=True,
    ),
    Table(
        "food_sampling",
        "食品安全抽检",
        "professional",
        "Food safety sampling (食品安全监督抽检): one row per sample with its result 合格 / 不合格.",
        (
            Column("sample_id", "key", "抽样单编号"),
            _uscc("the entity the sample was taken from"),
            Column("sample_date", "date", "抽样日期"),
            Column("food_category", "code", "食品类别", codes="food_categories"),
            Column("result", "code", "检验结论", codes="sampling_results"),
        ),
        key=("sample_id",),
        optional_file=True,
    ),
    Table(
        "food_inspections",
        "食品安全监督检查",
        "professional",
        "Routine food safety inspections (日常监督检查) of licence holders: 符合 / 基本符合 / 不符合.",
        (
            Column("inspection_id", "key", "检查记录编号"),
            _uscc(),
            Column("inspection_date", "date", "检查日期"),
            Column("result", "code", "检查结果", codes="compliance_results"),
        ),
        key=("inspection_id",),
        optional_file=True,
    ),
    Table(
        "drug_retail_licences",
        "药品经营许可（零售）",
        "professional",
        "Retail pharmacy licences with the licensed scope (一类 OTC only, 二类, 三类).",
        (
            Column("licence_id", "key", "许可证编号"),
            _uscc(),
            Column("scope", "code", "经营范围分类", codes="drug_retail_scopes"),
            *_LICENCE_VALIDITY,
        ),
        key=("licence_id",),
        date_order=_LICENCE_DATE_ORDER,
        optional_file=True,
    ),
    Table(
        "pharmacy_inspections",
        "药品零售监督检查",
        "professional",
        "Inspections of retail pharmacies (GSP 监督检查) with the result and the number of serious defects.",
        (
            Column("inspection_id", "key", "检查记录编号"),
            _uscc(),
            Column("inspection_date", "date", "检查日期"),
            Column("result", "code", "检查结果", codes="compliance_results"),
            Column("serious_defects", "int", "严重缺陷项数", min=0),
        ),
        key=("inspection_id",),
        optional_file=True,
    ),
    Table(
        "special_equipment",
        "特种设备使用登记",
        "professional",
        "The special-equipment register: each registered unit, its type, year of manufacture, whether it "
        "serves a public-gathering venue (公众聚集场所) and when it left service.",
        (
            Column("equipment_id", "key", "使用登记证编号"),
            _uscc("the user of the equipment (使用单位)"),
            Column("equipment_type", "code", "设备种类", codes="equipment_types"),
            Column("manufacture_year", "int", "制造年份", min=1950),
            Column("register_date", "date", "登记日期"),
            Column("public_venue", "bool", "公众聚集场所"),
            Column("retired_date", "date", "停用或注销日期", required=False),
        ),
        key=("equipment_id",),
        date_order=(("register_date", "retired_date"),),
        optional_file=True,
    ),
    Table(
        "equipment_inspections",
        "特种设备定期检验",
        "professional",
        "Periodic inspections (定期检验) of registered special equipment; the next one falls due after the "
        "type's interval (domains/special_equipment.yaml), so an overdue inspection is known at any date.",
        (
            Column("inspection_id", "key", "检验报告编号"),
            Column("equipment_id", "key", "使用登记证编号"),
            _uscc(),
            Column("inspection_date", "date", "检验日期"),
            Column("result", "code", "检验结论", codes="equipment_inspection_results"),
        ),
        key=("inspection_id",),
        references=(("equipment_id", "special_equipment", "equipment_id"),),
        optional_file=True,
    ),
    Table(
        "equipment_accidents",
        "特种设备事故",
        "professional",
        "Special-equipment accidents (特种设备事故) by level.",
        (
            Column("accident_id", "key", "事故编号"),
            Column("equipment_id", "key", "使用登记证编号"),
            _uscc(),
            Column("accident_date", "date", "事故日期"),
            Column("level", "code", "事故等级", codes="accident_levels"),
        ),
        key=("accident_id",),
        references=(("equipment_id", "special_equipment", "equipment_id"),),
        optional_file=True,
    ),
)

ALL_TABLES: tuple[Table, ...] = TABLES + PLANNING_TABLES + PROFESSIONAL_TABLES

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
    "professional": "专业领域监管信息（食品、药品、特种设备）",
}


def table(name: str) -> Table:
    try:
        return TABLES_BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown table {name!r}; the contract has {sorted(TABLES_BY_NAME)}") from None


# ---------------------------------------------------------------------------------------------------------------
# National export forms (adapters). Real exports do not come in the contract's columns: the national 双公示
# penalty publicity form, the 经营异常名录 as published on GSXT, and published 双随机 results. Each form is declared
# here as data (its columns in order, the contract column or identity each one feeds, the value maps, the null
# markers); `riskclass.ingest.adapters` recognises a form and turns a file into the contract's columns, and
# `riskclass.ingest.matching` links records that carry no USCC to the registry by 注册号 or by name.


@dataclass(frozen=True)
class SourceColumn:
    """One column of a national form."""

    label: str  # the header as the national form writes it
    target: str | None = None  # contract column it fills (None: not carried into the contract)
    identity: str | None = None  # "name", "uscc", "reg_no" or "code" (USCC or 注册号): used to link the record
    aliases: tuple[str, ...] = ()  # other headers seen for the same column
    values: str | None = None  # code list whose value map (VALUE_MAPS, VALUE_KEYWORDS) translates the values
    scale: float | None = None  # numbers are multiplied by this (元 → 万元: 0.0001)
    pattern: str | None = None  # regex a filled value matches (recognises header-less files, realigns shifts)
    personal: bool = False  # a natural person's data: never carried into the contract, masked in raw lines
    layout: bool = True  # part of the form's column order (False: an alternative header, e.g. an amount in 元)
    why: str = ""  # for a column not carried into the contract: why

    def headers(self) -> tuple[str, ...]:
        return (self.label, *self.aliases)


@dataclass(frozen=True)
class Adapter:
    """A national export form of a contract table."""

    id: str
    table: str
    label: str
    doc: str
    columns: tuple[SourceColumn, ...]
    signature: tuple[str, ...]  # labels of columns that must all be in a header to recognise the form
    realign: tuple[str, ...] = ()  # trailing columns realigned when a row is shifted by one field
    generated_key: tuple[str, ...] = ()  # when the form has no key: contract columns hashed into one (after linking)
    context: tuple[str, ...] = ()  # contract columns the form lacks, which the caller may state for the whole file
    derived: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = ()  # (column, from column, value pairs)
    open_ended: tuple[str, ...] = ()  # date columns where 长期 / 永久 means "no end" (left empty)

    def column(self, label: str) -> SourceColumn:
        return next(c for c in self.columns if c.label == label)

    @property
    def layout(self) -> tuple[SourceColumn, ...]:
        return tuple(c for c in self.columns if c.layout)


# Values meaning "no value" in national exports (after stripping spaces).
NULL_MARKERS: tuple[str, ...] = ("/", "／", "\\", "-", "－", "—", "——", "无", "空", "null", "NULL", "None", "N/A")
OPEN_ENDED_DATES: tuple[str, ...] = ("长期", "长期有效", "永久", "永久有效")

# a code a spreadsheet turned into a number: 9.14408E+17, 9,14408E+17, 914408021234567000.0
MANGLED_LIKE = r"[+-]?\d+(?:[.,]\d*)?[Ee]\+\d+|[+-]?\d+[.,]\d*[Ee][+-]?\d+|\d{15,18}[.,]0+"
USCC_LIKE = r"[0-9A-Z]{18}|" + MANGLED_LIKE  # a USCC, or one a spreadsheet turned into a number
DATE_LIKE = r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?(\s*[T ]?\s*\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?|\d{8}"
REG_NO_LIKE = r"\d{13}|\d{15}|" + MANGLED_LIKE

# Value maps: national wording → contract code, per code list. Codes and the code list's own labels are always
# accepted (the contract's rules do that); values are compared after NFKC, without spaces and ，,、；;。 marks.
# A value found in no map is passed on unchanged, so the contract's `unknown_code` rule quarantines it: a value
# is never guessed. REFUSED_VALUES lists wordings that are deliberately not mapped, with the reason.
VALUE_MAPS: dict[str, dict[str, str]] = {
    # 行政处罚法 (2021) art. 9 groups the penalty kinds in six classes; each wording goes to the contract's category
    "penalty_categories": {
        "警告": "warning",
        "通报批评": "warning",
        "罚款": "fine",
        "没收违法所得": "confiscation",
        "没收非法财物": "confiscation",
        "没收违法所得、没收非法财物": "confiscation",
        "没收违法所得和非法财物": "confiscation",
        "暂扣许可证件": "licence_revocation",
        "降低资质等级": "licence_revocation",
        "吊销许可证件": "licence_revocation",
        "吊销许可证": "licence_revocation",
        "吊销营业执照": "licence_revocation",
        "暂扣执照": "licence_revocation",
        "暂扣或者吊销许可证、暂扣或者吊销执照": "licence_revocation",
        "限制开展生产经营活动": "suspension",
        "责令停产停业": "suspension",
        "责令关闭": "suspension",
        "限制从业": "suspension",
        "其他": "other",
        "其他行政处罚": "other",
    },
    "violation_types": {
        "虚假广告": "false_advertising",
        "无照经营": "unlicensed",
        "无证经营": "unlicensed",
        "价格违法行为": "price",
        "商标侵权行为": "trademark",
        "侵犯注册商标专用权": "trademark",
        "食品安全违法行为": "food_safety",
        "产品质量违法行为": "product_quality",
    },
    # published 双随机 results (domain.md §4); 发现问题 / 不合格 without detail → A 发现问题待后续处理
    "inspection_results": {
        "未发现问题": "1",
        "合格": "1",
        "发现问题": "A",
        "不合格": "A",
        "发现问题待后续处理": "A",
        "发现问题已责令改正": "E",
        "发现问题经责令已改正": "E",
        "已责令改正": "E",
        "未发现开展本次抽查涉及的经营活动": "F",
        "通过登记的住所（经营场所）无法联系": "6",
        "通过登记的住所或者经营场所无法联系": "6",
        "已关闭停业或正在组织清算": "7",
        "已关闭停业": "7",
        # the inspector found the business gone: closed (7), an observation; 注销 (9) is a registry status
        "已不存在": "7",
        "不配合检查情节严重": "8",
        "不配合检查": "8",
        "已注销": "9",
        "已吊销": "10",
        "已被吊销营业执照": "10",
        "已撤销": "11",
        "已迁出": "12",
    },
    "draw_types": {
        "不定向抽查": "undirected",
        "不定向抽取": "undirected",
        "定向抽查": "directed",
        "定向抽取": "directed",
    },
}

# Keyword rules for long statutory wordings (GSXT writes the clause, not the code): a value that no map holds
# is given a code when the keywords of exactly one code occur in it; none or several → passed on unchanged.
VALUE_KEYWORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "abnormal_reasons": {
        "1": ("年度报告", "年报"),
        "2": ("责令的期限内", "责令期限内"),
        "3": ("隐瞒真实情况", "弄虚作假"),
        "4": ("无法联系",),
    },
    "abnormal_removal_reasons": {
        "report_filed": ("补报",),
        "info_disclosed": ("已公示有关企业信息", "已经公示"),
        "info_corrected": ("更正",),
        "reachable": ("恢复正常", "可以联系", "能够联系"),
        "expired_to_serious": ("严重违法失信",),
        "deregistered": ("注销", "吊销"),
    },
}

REFUSED_VALUES: dict[str, dict[str, str]] = {
    "inspection_results": {
        "无法开展检查": "could be 6 (unreachable), 7 (closed), 8 (non-cooperation) or F (no such business): "
        "the published value does not say which",
    },
    "penalty_categories": {"行政拘留": "a penalty on a natural person, not on a market entity"},
}

# When one cell lists several penalty kinds (罚款；没收违法所得), the most severe is kept, in this order.
MULTI_VALUE_ORDER: dict[str, tuple[str, ...]] = {
    "penalty_categories": ("licence_revocation", "suspension", "confiscation", "fine", "warning", "other"),
}

# Legal-form wordings that name the same form (compared after NFKC, without spaces and brackets), longest first.
NAME_VARIANTS: tuple[tuple[str, str], ...] = (
    ("股份有限公司", "股份公司"),
    ("有限责任公司", "有限公司"),
)

_PENALTY_COLUMNS = {
    c.label: c
    for c in (
        SourceColumn("行政相对人名称", "entity_name", identity="name", aliases=("相对人名称", "当事人名称")),
        SourceColumn("行政相对人类别", why="not in the contract (the USCC gives the entity type)"),
        SourceColumn(
            "行政相对人代码1(统一社会信用代码)",
            "uscc",
            identity="uscc",
            aliases=("行政相对人代码_1(统一社会信用代码)", "行政相对人代码1", "行政相对人代码_1"),
            pattern=USCC_LIKE,
        ),
        SourceColumn("统一社会信用代码", "uscc", identity="uscc", pattern=USCC_LIKE),
        SourceColumn(
            "行政相对人代码2(工商注册号)",
            identity="reg_no",
            aliases=("行政相对人代码_2(工商注册号)", "行政相对人代码2", "行政相对人代码_2", "工商注册号", "工商登记码"),
            pattern=REG_NO_LIKE,
            why="used to link the record when it carries no USCC",
        ),
        SourceColumn(
            "行政相对人代码3(组织机构代码)",
            aliases=("行政相对人代码_3(组织机构代码)", "行政相对人代码3", "组织机构代码"),
            why="not used: the USCC contains it",
        ),
        SourceColumn(
            "行政相对人代码4(税务登记号)",
            aliases=("行政相对人代码_4(税务登记号)", "行政相对人代码4", "税务登记号"),
            why="not in the contract",
        ),
        SourceColumn(
            "行政相对人代码5(事业单位证书号)",
            aliases=("行政相对人代码_5(事业单位证书号)", "行政相对人代码5", "事业单位证书号"),
            why="not a market entity",
        ),
        SourceColumn(
            "行政相对人代码6(社会组织登记证号)",
            aliases=("行政相对人代码_6(社会组织登记证号)", "行政相对人代码6", "社会组织登记证号"),
            why="not a market entity",
        ),
        SourceColumn(
            "法定代表人",
            "legal_rep_key",
            aliases=("法定代表人姓名", "法定代表人（负责人）"),
            personal=True,
            why="a name is dropped (kept only when it already is a pseudonymous key, or pseudonymised by a step "
            "the caller gives) and masked in the raw line",
        ),
        SourceColumn("法定代表人证件类型", personal=True, why="dropped, masked in the raw line"),
        SourceColumn("法定代表人证件号码", personal=True, layout=False, why="dropped, masked in the raw line"),
        SourceColumn("行政处罚决定书文号", "decision_no", aliases=("处罚决定书文号", "决定书文号")),
        SourceColumn("违法行为类型", "violation_type", values="violation_types"),
        SourceColumn("违法事实", "facts", aliases=("主要违法事实",)),
        SourceColumn("处罚依据", "basis"),
        SourceColumn("处罚类别", "penalty_category", values="penalty_categories", aliases=("处罚种类",)),
        SourceColumn("处罚内容", "content", aliases=("处罚结果",)),
        SourceColumn("罚款金额（万元）", "fine_amount", aliases=("罚款金额(万元)",)),
        SourceColumn("罚款金额（元）", "fine_amount", scale=0.0001, layout=False),
        SourceColumn("没收违法所得、没收非法财物的金额（万元）", "confiscation_amount"),
        SourceColumn("没收违法所得、没收非法财物的金额（元）", "confiscation_amount", scale=0.0001, layout=False),
        SourceColumn("暂扣或吊销证照名称及编号", "licence_revoked"),
        SourceColumn("处罚决定日期", "decision_date", pattern=DATE_LIKE, aliases=("决定日期", "处罚日期")),
        SourceColumn("处罚有效期", "effect_end_date"),
        SourceColumn("公示截止期", "publicity_end_date", aliases=("公示截止日期",)),
        SourceColumn("处罚机关", "authority", aliases=("作出处罚决定的机关",)),
        SourceColumn("处罚机关统一社会信用代码", "authority_uscc", pattern=USCC_LIKE),
        SourceColumn("数据来源单位", "data_source"),
        SourceColumn(
            "数据来源单位统一社会信用代码", pattern=USCC_LIKE, why="not in the contract (the data-source unit's code)"
        ),
        SourceColumn("备注", why="free remarks, not in the contract"),
    )
}


def _pick(columns: dict[str, SourceColumn], labels: list[str]) -> tuple[SourceColumn, ...]:
    return tuple(columns[label] for label in labels)


_NATIONAL_ORDER = [
    "行政相对人名称",
    "行政相对人类别",
    "行政相对人代码1(统一社会信用代码)",
    "行政相对人代码2(工商注册号)",
    "行政相对人代码3(组织机构代码)",
    "行政相对人代码4(税务登记号)",
    "行政相对人代码5(事业单位证书号)",
    "行政相对人代码6(社会组织登记证号)",
    "法定代表人",
    "法定代表人证件类型",
    "行政处罚决定书文号",
    "违法行为类型",
    "违法事实",
    "处罚依据",
    "处罚类别",
    "处罚内容",
    "罚款金额（万元）",
    "没收违法所得、没收非法财物的金额（万元）",
    "暂扣或吊销证照名称及编号",
    "处罚决定日期",
    "处罚有效期",
    "公示截止期",
    "处罚机关",
    "处罚机关统一社会信用代码",
    "数据来源单位",
    "数据来源单位统一社会信用代码",
    "备注",
]
_SHORT_ORDER = [
    "行政相对人名称",
    "统一社会信用代码",
    "法定代表人",
    "行政处罚决定书文号",
    "违法行为类型",
    "违法事实",
    "处罚依据",
    "处罚类别",
    "处罚内容",
    "罚款金额（万元）",
    "没收违法所得、没收非法财物的金额（万元）",
    "暂扣或吊销证照名称及编号",
    "处罚决定日期",
    "处罚有效期",
    "公示截止期",
    "处罚机关",
    "处罚机关统一社会信用代码",
    "数据来源单位",
]
_ALTERNATIVES = ["法定代表人证件号码", "罚款金额（元）", "没收违法所得、没收非法财物的金额（元）"]

ADAPTERS: tuple[Adapter, ...] = (
    Adapter(
        "xzcf_national",
        "penalties",
        "行政处罚信息（双公示，全国27列格式）",
        "The national 双公示 administrative-penalty form: the counterparty's name and six codes (USCC, 注册号, "
        "organisation code …), the legal representative, the decision and its publicity dates, the deciding "
        "authority and the data-source unit, 27 columns.",
        _pick(_PENALTY_COLUMNS, _NATIONAL_ORDER + _ALTERNATIVES),
        signature=("行政处罚决定书文号", "行政相对人代码1(统一社会信用代码)", "处罚决定日期"),
        realign=("处罚机关", "处罚机关统一社会信用代码", "数据来源单位", "数据来源单位统一社会信用代码", "备注"),
        open_ended=("effect_end_date", "publicity_end_date"),
    ),
    Adapter(
        "xzcf_short",
        "penalties",
        "行政处罚信息（双公示，18列格式）",
        "The short 双公示 penalty form (the contract's Chinese labels in the published order): one USCC column and "
        "the legal representative by name.",
        _pick(_PENALTY_COLUMNS, _SHORT_ORDER + _ALTERNATIVES),
        signature=("行政处罚决定书文号", "统一社会信用代码", "处罚决定日期"),
        realign=("处罚机关", "处罚机关统一社会信用代码", "数据来源单位"),
        open_ended=("effect_end_date", "publicity_end_date"),
    ),
    Adapter(
        "abnormal_gsxt",
        "abnormal_listings",
        "经营异常名录（公示系统格式）",
        "The abnormal-operation list as published: the entity's name, often its USCC or 注册号, the listing "
        "decision, reason, date and authority, and removals; lists of names alone are common. Without a decision "
        "number the listing id is generated from the linked USCC, the listing date and the reason.",
        (
            SourceColumn("序号", why="row counter"),
            SourceColumn(
                "企业名称",
                identity="name",
                aliases=("名称", "市场主体名称", "企业（机构）名称", "主体名称", "个体工商户名称"),
            ),
            SourceColumn(
                "统一社会信用代码",
                "uscc",
                identity="code",
                aliases=("统一社会信用代码/注册号", "统一社会信用代码（注册号）", "注册号"),
                pattern=USCC_LIKE + "|" + REG_NO_LIKE,
            ),
            SourceColumn("列入决定书文号", "listing_id", aliases=("决定书文号", "列入文号")),
            SourceColumn(
                "列入经营异常名录原因", "reason_code", values="abnormal_reasons", aliases=("列入原因", "列入事由")
            ),
            SourceColumn("列入日期", "list_date", pattern=DATE_LIKE, aliases=("列入时间", "列入经营异常名录日期")),
            SourceColumn(
                "作出决定机关",
                aliases=("作出决定机关（列入）", "列入决定机关", "作出列入决定机关"),
                why="not in the contract",
            ),
            SourceColumn(
                "移出经营异常名录原因", "removal_reason", values="abnormal_removal_reasons", aliases=("移出原因",)
            ),
            SourceColumn("移出日期", "removal_date", aliases=("移出时间",)),
            SourceColumn(
                "作出决定机关（移出）", aliases=("移出决定机关", "作出移出决定机关"), why="not in the contract"
            ),
        ),
        signature=("企业名称",),
        generated_key=("listing_id", "uscc", "list_date", "reason_code"),
        context=("list_date", "reason_code"),
    ),
    Adapter(
        "ssj_published",
        "inspections",
        "双随机抽查结果（公示格式）",
        "Published 双随机 results: task, entity name (sometimes its USCC), inspecting authority, time and result. "
        "The form does not say how the entity was drawn, its inclusion probability, the item type or the "
        "follow-up: the caller states them for the file (context) or the rows are quarantined as `required`; "
        "the follow-up of 未发现问题 is 无需后续处理 and of 发现问题已责令改正 责令改正.",
        (
            SourceColumn("序号", why="row counter"),
            SourceColumn("任务名称", "task_id", aliases=("抽查任务名称", "抽查任务")),
            SourceColumn(
                "主体名称", identity="name", aliases=("企业名称", "市场主体名称", "检查对象名称", "被检查对象名称")
            ),
            SourceColumn("统一社会信用代码", "uscc", identity="code", pattern=USCC_LIKE + "|" + REG_NO_LIKE),
            SourceColumn("抽查机关", aliases=("检查机关", "实施机关", "抽查检查机关"), why="not in the contract"),
            SourceColumn(
                "抽查时间",
                "inspection_date",
                pattern=DATE_LIKE,
                aliases=("检查时间", "抽查日期", "检查日期", "抽查完成日期"),
            ),
            SourceColumn("抽查结果", "result_code", values="inspection_results", aliases=("检查结果", "抽查检查结果")),
            SourceColumn("抽查类型", "draw_type", values="draw_types", aliases=("抽取方式",), layout=False),
        ),
        signature=("主体名称", "抽查结果"),
        generated_key=("inspection_id", "task_id", "uscc", "inspection_date"),
        context=("item_type", "draw_type", "inclusion_prob", "disposition"),
        derived=(("disposition", "result_code", (("1", "none"), ("E", "correct"))),),
    ),
)
ADAPTERS_BY_ID: dict[str, Adapter] = {a.id: a for a in ADAPTERS}

# Quarantine rules of adapters and matching (in addition to the validation rules of `ingest.rules`).
ADAPTER_RULES: dict[str, str] = {
    "name_not_found": "no registry entity has this name (after normalisation) or 注册号, and the record has no USCC",
    "name_ambiguous": "several registry entities have this name after normalisation; the message lists their USCCs",
    "uscc_spreadsheet_mangled": "a code a spreadsheet turned into a number (9.14408E+17): its digits are lost",
}


def adapters_for(table_name: str) -> tuple[Adapter, ...]:
    return tuple(a for a in ADAPTERS if a.table == table_name)
