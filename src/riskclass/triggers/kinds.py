"""The trigger kinds (a module of its own: the planner needs their order, not the sources' readers)."""

KINDS = ("legal", "case_lead", "complaint", "warning", "worsening")  # also the order a short plan schedules them
KIND_ZH = {
    "legal": "法律法规规定",
    "case_lead": "移送案件线索",
    "complaint": "投诉举报属实",
    "warning": "大数据预警",
    "worsening": "信用风险分类等级下降",
}
