"""Exports are safe to open in a spreadsheet: text cells that a spreadsheet would evaluate are neutralised with a
leading quote (OWASP), Excel files are written with formula/URL conversion off, numbers stay numbers, bytes are
deterministic — for the module itself and for every file a plan and its results ingest write."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from plan_fixture import inputs, items, plan_params, population
from riskclass.exports import DANGEROUS, csv_bytes, neutralise, read_csv, restore, write_csv, write_excel
from riskclass.plan.output import summarise, write_plan
from riskclass.plan.planner import make_plan
from riskclass.plan.results import ingest_results, load_plan

PLAN_ID = "SSJ-440800-2026-11"
ATTACKS = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1"]


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "text": [*ATTACKS, "-5", "'=already quoted", "'plain quote", "安全的名称", "", None],
            "number": [-5, -1.5, 0, 3, -7, 2, -5, 1, 2, 3, 4, 5],
            "when": pd.to_datetime(["2026-11-01"] * 12),
            "=cmd": "ok",
        }
    )


def test_every_dangerous_start_is_prefixed_and_nothing_else_changes():
    df = frame()
    out = neutralise(df)
    expected = [
        *("'" + a for a in ATTACKS),
        "'-5",  # text that looks like a number is text: prefixed (the documented choice)
        "''=already quoted",  # one more quote, so that restore() is exact
        "'plain quote",
        "安全的名称",
        "",
        None,
    ]
    assert out["text"].tolist() == expected
    assert list(out.columns) == ["text", "number", "when", "'=cmd"]  # column names too
    # numbers, negative ones included, and dates are untouched, dtype and all
    assert out["number"].dtype == df["number"].dtype and out["number"].equals(df["number"])
    assert out["when"].equals(df["when"])
    assert df["text"].iloc[0] == ATTACKS[0] and list(df.columns)[-1] == "=cmd"  # the input is not modified


def test_neutralise_handles_string_categorical_and_mixed_columns_and_restores_exactly():
    df = pd.DataFrame(
        {
            "s": pd.array(["=a", None, "b", "'+c"], dtype="string"),
            "cat": pd.Categorical(["-x", "y", "-x", "@z"]),
            "mixed": ["=m", -3, None, 2.5],
            "flag": [True, False, True, False],
        }
    )
    out = neutralise(df)
    assert out["s"].tolist()[0] == "'=a" and out["s"].dtype == df["s"].dtype and out["s"].tolist()[3] == "''+c"
    assert out["cat"].tolist() == ["'-x", "y", "'-x", "'@z"] and isinstance(out["cat"].dtype, pd.CategoricalDtype)
    assert out["mixed"].tolist()[:2] == ["'=m", -3]  # the number -3 in an object column is a number: untouched
    assert out["flag"].equals(df["flag"])
    back = restore(out)
    for col in df:
        assert back[col].equals(df[col]), col


def test_neutralise_is_vectorised_on_a_million_rows():
    n = 1_000_000
    names = np.where(np.arange(n) % 100 == 0, "=cmd|' /C calc'!A0", "湛江市某某贸易有限公司").astype(object)
    df = pd.DataFrame(
        {"name": names, "uscc": np.arange(n).astype(str).astype(object), "x": np.random.default_rng(0).normal(size=n)}
    )
    started = time.perf_counter()
    out = neutralise(df)
    seconds = time.perf_counter() - started
    assert out["name"].str.startswith("'=").sum() == n // 100
    assert seconds < 10, seconds  # ≈ 0.3 s on the project machine; a per-cell Python loop would take far longer


def test_csv_round_trip_bom_line_ends_and_deterministic_bytes(tmp_path):
    df = frame()
    write_csv(df, tmp_path / "a.csv")
    write_csv(df, tmp_path / "b.csv")
    data = (tmp_path / "a.csv").read_bytes()
    assert data == (tmp_path / "b.csv").read_bytes() == csv_bytes(df)
    assert data.startswith("\ufeff".encode()) and b"\r\n" not in data.replace(b'"\r', b"")
    raw = pd.read_csv(tmp_path / "a.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
    for cell in [*raw["text"], *raw.columns]:  # what a spreadsheet sees: nothing it would evaluate
        assert cell[:1] not in DANGEROUS, cell
    assert raw["text"].iloc[0] == "'" + ATTACKS[0] and raw["number"].iloc[0] == "-5.0"  # numbers: raw
    assert len(raw) == len(df) and raw["text"].iloc[5] == "'\r=1+1"  # a CR inside a cell does not break the row
    back = read_csv(tmp_path / "a.csv")
    assert back["text"].tolist() == [*df["text"].iloc[:-1], ""] and list(back.columns) == list(df.columns)
    write_csv(df, tmp_path / "plain.csv", bom=False)
    assert not (tmp_path / "plain.csv").read_bytes().startswith("\ufeff".encode())


def _cells(path: Path):
    book = openpyxl.load_workbook(path)
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.hyperlink is None, (path, ws.title, cell.coordinate)  # strings_to_urls is off
                yield cell


def _assert_no_formula(path: Path) -> int:
    n = 0
    for cell in _cells(path):
        assert cell.data_type != "f", (path, cell.coordinate, cell.value)
        if isinstance(cell.value, str):
            assert cell.value[:1] not in DANGEROUS, (path, cell.coordinate, cell.value)
        n += 1
    return n


def test_excel_has_no_formula_no_link_numbers_stay_numbers_and_bytes_are_deterministic(tmp_path):
    df = frame().assign(link="http://example.com/?q=1")
    write_excel({"表": df}, tmp_path / "a.xlsx", created=pd.Timestamp("2026-11-01"))
    write_excel({"表": df}, tmp_path / "b.xlsx", created=pd.Timestamp("2026-11-01"))
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()
    assert _assert_no_formula(tmp_path / "a.xlsx") > 0
    ws = openpyxl.load_workbook(tmp_path / "a.xlsx")["表"]
    assert ws["A2"].value == "'" + ATTACKS[0] and ws["A2"].data_type == "s"
    assert ws["B2"].value == -5 and ws["B2"].data_type == "n"  # a negative number is a number
    assert ws["D1"].value == "'=cmd"


@pytest.fixture(scope="module")
def hostile_plan(tmp_path_factory):
    """A plan whose entity and item names are formula attacks."""
    e = population(4_000)
    e["name"] = [ATTACKS[i % len(ATTACKS)] if i % 3 == 0 else f"主体{i}" for i in range(len(e))]
    it = items()
    it["item_name"] = ["+1+1", '=HYPERLINK("http://x","y")']
    plan = make_plan(replace(inputs(e), items=it), plan_params(), PLAN_ID)
    path = write_plan(plan, summarise(plan, None), tmp_path_factory.mktemp("plans"))
    return plan, path


def test_plan_files_carry_attacks_as_text_only(hostile_plan):
    plan, path = hostile_plan
    assert plan.checks["name"].isin(ATTACKS).sum() > 50
    for xlsx in sorted(path.rglob("*.xlsx")):
        assert _assert_no_formula(xlsx) > 0, xlsx
    public = openpyxl.load_workbook(path / "publish/plan_public.xlsx")["抽查计划"]
    values = {c.value for row in public.iter_rows(min_row=2) for c in row}
    assert '\'=HYPERLINK("http://x","y")' in values and "'+1+1" in values
    for csv in sorted(path.rglob("*.csv")):
        raw = pd.read_csv(csv, dtype=str, encoding="utf-8-sig", keep_default_na=False)
        for col in raw:
            assert not raw[col].str[:1].isin(DANGEROUS).any(), (csv.name, col)
    # what the pipeline reads back is the original text
    _, checks = load_plan(path)
    assert checks["name"].tolist() == plan.checks["name"].tolist()
    assert checks["item_name"].tolist() == plan.checks["item_name"].tolist()


def test_results_quarantine_and_announcement_are_neutralised(hostile_plan, tmp_path):
    plan, path = hostile_plan
    c = plan.checks
    results = pd.DataFrame(
        {
            "check_id": c["check_id"],
            "uscc": c["uscc"],
            "inspection_date": "2026-11-20",
            "result_code": "1",
            "disposition": "none",
        }
    )
    results.loc[0, "check_id"] = '=HYPERLINK("http://x","y")'  # not in the plan: quarantined with its value
    results.loc[1, "result_code"] = "@SUM(A1)"  # unknown code
    file = tmp_path / "results.csv"
    results.to_csv(file, index=False)
    feedback = tmp_path / "feedback"
    report = ingest_results(file, path, feedback, received="2026-12-31")
    assert report["quarantined"] == 2
    quarantine = pd.read_csv(
        feedback / PLAN_ID / "quarantine.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False
    )
    assert set(quarantine["value"]) == {'\'=HYPERLINK("http://x","y")', "'@SUM(A1)"}
    announcement = feedback / PLAN_ID / "publish/results_public.csv"
    for csv in (feedback / PLAN_ID / "quarantine.csv", announcement):
        raw = pd.read_csv(csv, dtype=str, encoding="utf-8-sig", keep_default_na=False)
        for col in raw:
            assert not raw[col].str[:1].isin(DANGEROUS).any(), (csv.name, col)
    public = read_csv(announcement)
    assert len(public) == report["accepted"] and public["name"].isin(ATTACKS).any()
