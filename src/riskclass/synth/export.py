"""Turn simulated state into raw files in the data contract, the way real exports look.

Each table is rendered to text (dates in the table's style, Chinese or English headers), a
configurable share of rows is corrupted like real exports are, and the files are written with the
table's encoding. What was corrupted is logged to the ground-truth folder, never to the raw one.
"""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd

from riskclass import codes
from riskclass.contract import Table
from riskclass.ingest.rules import parse_dates
from riskclass.uscc import corrupt_check_character

_BOOL_TEXT = {"en": ("true", "false"), "zh": ("是", "否")}


def format_dates(values: pd.Series, style: str) -> pd.Series:
    d = pd.to_datetime(values)
    if style in ("iso", "slash"):  # numpy writes days as YYYY-MM-DD, far faster than strftime (years 1000–9999)
        days = d.to_numpy(dtype="datetime64[D]").astype(str)
        out = pd.Series(np.char.replace(days, "-", "/") if style == "slash" else days, index=d.index)
    elif style == "zh":
        parts = [d.dt.year, d.dt.month, d.dt.day]
        y, m, day = (p.astype("Int64").astype("string") for p in parts)
        out = y + "年" + m + "月" + day + "日"
    else:
        raise ValueError(f"unknown date_style {style!r}; use iso, slash or zh")
    return out.astype(object).where(d.notna(), "")


def _present(s: pd.Series, convert) -> pd.Series:
    """``convert`` of every value present, "" where ``pd.isna`` (one vectorised test, then a plain loop)."""
    present = ~s.isna().to_numpy()
    out = np.full(len(s), "", dtype=object)
    out[present] = [convert(v) for v in s.to_numpy(dtype=object)[present]]
    return pd.Series(out, index=s.index, dtype=object)


def render(frame: pd.DataFrame, table: Table, fmt: dict) -> pd.DataFrame:
    """All values as text, in contract column order."""
    out = {}
    for col in table.columns:
        s = frame[col.name]
        if col.kind == "date":
            out[col.name] = format_dates(s, fmt["date_style"])
        elif col.kind == "bool":
            yes, no = _BOOL_TEXT[fmt["header"]]
            out[col.name] = _present(s, lambda v, yes=yes, no=no: yes if v else no)
        elif col.kind == "int":
            out[col.name] = _present(s, lambda v: str(int(v)))
        elif col.kind == "float":
            out[col.name] = _present(s, lambda v: repr(float(v)))
        elif col.kind == "code" and fmt["header"] == "zh":  # Chinese exports carry labels, not codes
            names = codes.labels(col.codes)
            values = ["" if v is None else names.get(str(v), str(v)) for v in s.tolist()]
            out[col.name] = pd.Series(values, index=s.index, dtype=object)
        elif pd.api.types.infer_dtype(s, skipna=False) == "string":  # text already, nothing missing
            out[col.name] = s.astype(object)
        else:
            values = ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in s.tolist()]
            out[col.name] = pd.Series(values, index=s.index, dtype=object)
    return pd.DataFrame(out)


def _corruption_kinds(table: Table) -> list[tuple[str, str | None]]:
    kinds: list[tuple[str, str | None]] = [("duplicate", None)]
    if "uscc" in table.column_names:
        kinds.append(("uscc_check", "uscc"))
    for col in table.columns:
        if col.kind == "code":
            kinds.append(("unknown_code", col.name))
        if col.kind == "industry":
            kinds.append(("unknown_industry", col.name))
        if col.kind == "date" and col.required:
            kinds.append(("impossible_date", col.name))
            if not col.future_ok:
                kinds.append(("future_date", col.name))
        if col.kind == "float" and col.min == 0.0 and col.required:
            kinds.append(("negative_amount", col.name))
        if col.required and col.kind in ("text", "key") and col.name not in table.key:
            kinds.append(("missing_required", col.name))
    for start, end in table.date_order:
        if table.column(start).required:
            kinds.append(("end_before_start", end))
    return kinds


def corrupt(
    text: pd.DataFrame, table: Table, fmt: dict, rate: float, snapshot: np.datetime64, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Corrupt about ``rate`` of the rows; return the new frame and a log of (record, kind, column)."""
    n = len(text)
    k = int(rng.binomial(n, rate)) if n else 0
    if k == 0:
        return text, pd.DataFrame(columns=["record", "kind", "column"])
    kinds = _corruption_kinds(table)
    rows = np.sort(rng.choice(n, k, replace=False))
    chosen = [kinds[i] for i in rng.integers(0, len(kinds), k)]
    text = text.copy()
    date_fmt = {"iso": "{y}-{m:02d}-{d:02d}", "slash": "{y}/{m:02d}/{d:02d}", "zh": "{y}年{m}月{d}日"}[
        fmt["date_style"]
    ]
    future = pd.Timestamp(snapshot) + pd.Timedelta(days=400)
    dup_rows = []
    for row, (kind, col) in zip(rows, chosen, strict=True):
        if kind == "duplicate":
            dup_rows.append(row)
        elif kind == "uscc_check":
            value = text.at[row, col]
            text.at[row, col] = corrupt_check_character(value) if len(value) == 18 else "91" + value
        elif kind == "unknown_code":
            text.at[row, col] = "ZZ9"
        elif kind == "unknown_industry":
            text.at[row, col] = "Z9999"
        elif kind == "impossible_date":
            text.at[row, col] = date_fmt.format(y=2023, m=2, d=30)
        elif kind == "future_date":
            text.at[row, col] = date_fmt.format(y=future.year, m=future.month, d=future.day)
        elif kind == "negative_amount":
            text.at[row, col] = "-" + (text.at[row, col] or "5.0")
        elif kind == "missing_required":
            text.at[row, col] = ""
        elif kind == "end_before_start":
            start = next(s for s, e in table.date_order if e == col)
            start_value = parse_dates(text.loc[[row], start]).iloc[0]
            earlier = start_value - pd.Timedelta(days=10)
            text.at[row, col] = date_fmt.format(y=earlier.year, m=earlier.month, d=earlier.day)
    # duplicates are inserted right after their original, shifting later records
    order = np.sort(np.r_[np.arange(n), np.array(dup_rows, dtype=int)])
    text = text.iloc[order].reset_index(drop=True)
    first_pos = np.searchsorted(order, rows)  # position of each chosen original after insertion
    is_dup = np.array([kind == "duplicate" for kind, _ in chosen])
    log = pd.DataFrame(
        {"record": first_pos + is_dup, "kind": [kind for kind, _ in chosen], "column": [col for _, col in chosen]}
    )
    return text, log


def write_table(text: pd.DataFrame, table: Table, fmt: dict, path_stem) -> str:
    """Write one raw file; return its file name."""
    header = [c.label for c in table.columns] if fmt["header"] == "zh" else table.column_names
    out = text.copy()
    out.columns = header
    if fmt["file_format"] == "parquet":
        from riskclass.io import write_parquet

        path = path_stem.with_suffix(".parquet")
        write_parquet(out, path)
        return path.name
    path = path_stem.with_suffix(".csv")
    with open(path, "w", encoding=fmt["encoding"], newline="") as fh:
        if fmt.get("title_row"):
            fh.write(f"{table.label}（导出）\n")
        out.to_csv(fh, index=False, lineterminator="\n")
    return path.name


# ---------------------------------------------------------------------------------------------------------------
# National export forms (contract.ADAPTERS): the same records, written the way national systems export them


# GSXT writes the statutory clause, not the code (the adapter maps it back by keywords)
_GSXT_REASONS = {
    "1": "未按照《企业信息公示暂行条例》第八条规定的期限公示年度报告的",
    "2": "未在市场监督管理部门依照《企业信息公示暂行条例》第十条规定责令的期限内公示有关企业信息的",
    "3": "公示企业信息隐瞒真实情况、弄虚作假的",
    "4": "通过登记的住所或者经营场所无法联系的",
}
_CITY_AUTHORITY = "湛江市市场监督管理局"


def registration_numbers(uscc: pd.Series, established: pd.Series, reform: str = "2015-10-01") -> pd.Series:
    """工商注册号 of entities registered before the USCC reform (三证合一, 1 Oct 2015), else empty.

    15 digits: the registering division (USCC positions 3–8), the organisation-code body (positions 9–16)
    and an ISO 7064 MOD 11,10 check digit, so it is unique wherever the USCC is.
    """
    from stdnum.iso7064 import mod_11_10

    old = (pd.to_datetime(established) < pd.Timestamp(reform)).to_numpy()
    out = np.full(len(uscc), "", dtype=object)
    for i in np.flatnonzero(old):
        body = uscc.iat[i][2:8] + uscc.iat[i][8:16]
        out[i] = body + mod_11_10.calc_check_digit(body)
    return pd.Series(out, index=uscc.index, dtype=object)


def organ_uscc(division: str) -> str:
    """A valid USCC for the market-regulation bureau of a division (机关: 11 + division + organisation code)."""
    from riskclass.uscc import calc_check_character

    body = f"00{division}"
    remainder = 11 - sum(int(c) * w for c, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    partial = f"11{division}{body}{ {10: 'X', 11: '0'}.get(remainder, str(remainder)) }"
    return partial + calc_check_character(partial)


def authority_codes(authorities: pd.Series) -> pd.Series:
    """处罚机关统一社会信用代码 for '<division name>市场监督管理局' (empty for other names)."""
    by_name = {f"{name}市场监督管理局": code for code, name in codes.labels("divisions").items()}
    table = {a: organ_uscc(by_name[a]) for a in pd.unique(authorities.dropna()) if a in by_name}
    return authorities.map(table).astype(object).where(authorities.map(table).notna(), None)


def _choose(rng: np.random.Generator, eligible: np.ndarray, share: float) -> np.ndarray:
    """A random ``share`` of the eligible rows (positions), drawn from the form's own stream."""
    k = int(rng.binomial(len(eligible), share)) if len(eligible) and share > 0 else 0
    return np.sort(rng.choice(eligible, k, replace=False)) if k else np.zeros(0, dtype=np.int64)


def write_national(
    text: pd.DataFrame,
    table: Table,
    fmt: dict,
    path_stem,
    log: pd.DataFrame,
    registry: dict,
    rng: np.random.Generator,
) -> tuple[str, pd.DataFrame, dict]:
    """Write ``text`` (contract columns, already corrupted) in the national form ``fmt['form']``.

    Format quirks that the adapter repairs or matching resolves are drawn only among rows that are not
    corrupted and whose entity's registry row is clean (``registry['clean']``), so every quarantined row
    stays one the corruption log names: name-only rows, rows identified by 注册号 alone, rows shifted by one
    field in the trailing columns. A name-only row whose normalised name several clean registry entities
    share would be quarantined as ``name_ambiguous``: it is logged (kind ``name_ambiguous``).
    Returns (file name, log of the added expected quarantines, counts of each quirk).
    """
    from riskclass.contract import ADAPTERS_BY_ID, NAME_VARIANTS
    from riskclass.ingest.matching import normalise_names

    adapter = ADAPTERS_BY_ID[fmt["form"]]
    n = len(text)
    null = fmt.get("null_marker") or ""
    corrupted = np.zeros(n, dtype=bool)
    corrupted[log["record"].to_numpy(dtype=np.int64)] = True
    code = text["uscc"]
    clean = ~corrupted & code.isin(registry["clean"]).to_numpy()
    names = code.map(registry["names"]).fillna("").astype(object)
    reg_nos = code.map(registry["reg_nos"]).fillna("").astype(object)

    with_reg = np.flatnonzero(clean & (reg_nos != "").to_numpy())
    by_reg = _choose(rng, with_reg, fmt.get("reg_no_share") or 0.0)
    rest = np.setdiff1d(np.flatnonzero(clean), by_reg)
    by_name = _choose(rng, rest, fmt.get("name_only_share") or 0.0)
    keys = normalise_names(names.iloc[by_name], NAME_VARIANTS)
    ambiguous = by_name[keys.map(registry["name_counts"]).fillna(0).to_numpy() > 1]
    can_shift = bool(adapter.realign)
    shifted = _choose(rng, np.flatnonzero(clean), fmt.get("shifted_share") or 0.0) if can_shift else by_reg[:0]
    left = shifted[rng.random(len(shifted)) < 0.5]

    cols = {}
    if adapter.id == "xzcf_national":
        entity_kind = np.where(code.str[:2] == "92", "个体工商户", "法人及非法人组织")
        c1 = code.copy()
        c2 = pd.Series([""] * n, dtype=object)
        c1.iloc[by_reg], c2.iloc[by_reg] = "", reg_nos.iloc[by_reg].to_numpy()
        c1.iloc[by_name] = ""
        org = code.where(code.str.len() == 18, "").str[8:17]
        org.iloc[by_name] = ""
        cols = {
            "行政相对人名称": text["entity_name"],
            "行政相对人类别": entity_kind,
            "行政相对人代码1(统一社会信用代码)": c1,
            "行政相对人代码2(工商注册号)": c2,
            "行政相对人代码3(组织机构代码)": org,
            "法定代表人": text["legal_rep_key"],  # the synthetic city is pseudonymised: keys, never names
            "行政处罚决定书文号": text["decision_no"],
            "违法行为类型": text["violation_type"],
            "违法事实": text["facts"],
            "处罚依据": text["basis"],
            "处罚类别": text["penalty_category"],
            "处罚内容": text["content"],
            "罚款金额（万元）": text["fine_amount"],
            "没收违法所得、没收非法财物的金额（万元）": text["confiscation_amount"],
            "暂扣或吊销证照名称及编号": text["licence_revoked"],
            "处罚决定日期": text["decision_date"],
            "处罚有效期": text["effect_end_date"],
            "公示截止期": text["publicity_end_date"],
            "处罚机关": text["authority"],
            "处罚机关统一社会信用代码": text["authority_uscc"],
            "数据来源单位": text["data_source"],
            "数据来源单位统一社会信用代码": np.where(
                text["data_source"] == _CITY_AUTHORITY, organ_uscc(registry["prefecture"]), ""
            ),
        }
    elif adapter.id == "abnormal_gsxt":
        c = code.copy()
        c.iloc[by_reg] = reg_nos.iloc[by_reg].to_numpy()
        c.iloc[by_name] = ""
        to_code = {**{v: k for k, v in codes.labels("abnormal_reasons").items()}, **{k: k for k in _GSXT_REASONS}}
        reason_text = text["reason_code"].map(to_code).map(_GSXT_REASONS).fillna(text["reason_code"])
        removed = text["removal_date"] != ""
        cols = {
            "序号": pd.Series(range(1, n + 1)).astype(str),
            "企业名称": names,
            "统一社会信用代码": c,
            "列入决定书文号": text["listing_id"],
            "列入经营异常名录原因": reason_text,
            "列入日期": text["list_date"],
            "作出决定机关": pd.Series([_CITY_AUTHORITY] * n, dtype=object),
            "移出经营异常名录原因": text["removal_reason"],
            "移出日期": text["removal_date"],
            "作出决定机关（移出）": pd.Series(np.where(removed, _CITY_AUTHORITY, ""), dtype=object),
        }
    else:
        raise ValueError(f"the synthetic city cannot write the form {adapter.id}")
    labels = [c.label for c in adapter.layout]
    out = pd.DataFrame(
        {label: pd.Series(cols.get(label, [""] * n)).fillna("").astype(str).to_numpy() for label in labels}
    )
    out = out.where(out != "", null) if null else out
    rows = out.to_numpy(dtype=object).tolist()

    trailing = adapter.id == "xzcf_national"  # national 双公示 exports end every line with a delimiter
    realign = [labels.index(label) for label in adapter.realign if label in labels]
    lefts = set(left.tolist())
    for i in shifted:
        first = realign[0]
        if i in lefts:  # 处罚机关统一社会信用代码 missing: everything after it one field left
            rows[i] = rows[i][: first + 1] + rows[i][first + 2 :]
        else:  # an extra empty field after 处罚机关: everything after it one field right
            rows[i] = [*rows[i][: first + 1], "", *rows[i][first + 1 :]]

    path = path_stem.with_suffix(".csv")
    with open(path, "w", encoding=fmt["encoding"], newline="") as fh:
        if fmt.get("title_row"):
            fh.write(f"{adapter.label}（导出）\n")
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(labels + ([""] if trailing else []))
        for row in rows:
            writer.writerow(row + ([""] if trailing else []))
    expected = pd.DataFrame({"record": ambiguous, "kind": "name_ambiguous", "column": "uscc"})
    counts = {
        "name_only": len(by_name),
        "reg_no_only": len(by_reg),
        "shifted_right": len(shifted) - len(left),
        "shifted_left": len(left),
        "name_ambiguous": len(ambiguous),
    }
    return path.name, expected, counts
