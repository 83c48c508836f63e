"""What leaves the bureau carries no class (不公开): a plan folder splits into ``internal/`` (classes, probabilities,
strata, seed — 0700/0600, marked 内部资料 不得公开) and ``publish/`` (the list the platform and the public get);
nothing in ``publish/`` — column, value, order or id — lets anyone read a class back."""

from __future__ import annotations

import hashlib
import re
import shutil
import stat

import numpy as np
import openpyxl
import pandas as pd
import pytest

from plan_fixture import inputs, plan_params
from riskclass.exports import read_csv
from riskclass.plan.draw import derive_seed, hash_keys
from riskclass.plan.output import RESULT_COLUMNS, summarise, write_plan
from riskclass.plan.planner import make_plan
from riskclass.plan.results import evaluate_plan, ingest_results, load_plan
from riskclass.plan.strata import stratum_names

PLAN_ID = "SSJ-440800-2026-11"
CLASSES = ("A", "B", "C", "D")
# column or sheet names that would say "class" (English or Chinese) or carry what gives it away
CLASS_LIKE = re.compile(
    r"class|score|prob|strat|draw|direct|seed|risk|分类|类别|风险|评分|得分|概率|分层|抽取方式|定向|入样|种子", re.I
)
MARGIN = 0.02  # what a publishable column may add to the base rate, in accuracy


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    plan = make_plan(inputs(), plan_params(), PLAN_ID)  # 20,000 entities, two items, one directed draw
    path = write_plan(plan, summarise(plan, None), tmp_path_factory.mktemp("plans"))
    return plan, path


def published_tables(folder) -> dict[str, pd.DataFrame]:
    """Every table in a publish/ folder: each CSV, and each sheet of each Excel file (all as text)."""
    out = {}
    for f in sorted(folder.rglob("*")):
        if f.suffix == ".csv":
            out[f.name] = read_csv(f)
        elif f.suffix == ".xlsx":
            for sheet, frame in pd.read_excel(f, sheet_name=None, dtype=str).items():
                out[f"{f.name}:{sheet}"] = frame.fillna("")
    assert out, folder
    return out


def with_class(public: pd.DataFrame, plan) -> pd.DataFrame:
    truth = plan.checks.set_index("check_id")["class"]
    return public.assign(_class=public["check_id"].map(truth).to_numpy())


def test_the_plan_folder_is_split_into_internal_and_publish(drawn):
    _, path = drawn
    files = sorted(f.relative_to(path).as_posix() for f in path.rglob("*") if f.is_file())
    assert files == [
        "internal/README_内部资料_不得公开.txt",
        "internal/inclusion.parquet",
        "internal/plan_internal.csv",
        "internal/plan_internal.xlsx",
        "internal/strata.csv",
        "internal/summary.json",
        "publish/plan_public.csv",
        "publish/plan_public.xlsx",
        "publish/results_template.csv",
    ]
    assert "class" in read_csv(path / "internal/plan_internal.csv").columns  # the working copy keeps everything


def test_internal_is_restricted_and_marked(drawn):
    _, path = drawn
    internal = path / "internal"
    assert stat.S_IMODE(internal.stat().st_mode) == 0o700
    for f in internal.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name
    readme = (internal / "README_内部资料_不得公开.txt").read_text(encoding="utf-8")
    assert readme.startswith("内部资料 不得公开") and "../publish/" in readme
    book = openpyxl.load_workbook(internal / "plan_internal.xlsx")
    assert all(name.startswith("内部") for name in book.sheetnames)
    assert book.properties.title == "内部资料 不得公开"
    assert all(ws.oddHeader.center.text == "内部资料 不得公开" for ws in book.worksheets)  # on every printed page


def test_no_publishable_name_or_cell_says_class(drawn):
    plan, path = drawn
    seed_text, seed = plan.seed_text, plan.seed
    for name, table in published_tables(path / "publish").items():
        assert not CLASS_LIKE.search(name), name
        for col in table.columns:
            assert not CLASS_LIKE.search(str(col)), (name, col)
            values = table[col].astype(str)
            assert not values.isin(CLASSES).any(), (name, col)  # no class letter anywhere
            assert not values.str.contains(seed, regex=False).any() and not values.isin([seed_text]).any()
            assert not values.map(lambda v: bool(CLASS_LIKE.search(v))).any(), (name, col)
    public = with_class(read_csv(path / "publish/plan_public.csv"), plan)
    for col in public.columns.drop("_class"):  # no value equals the entity's own class
        assert not (public[col] == public["_class"]).any(), col
    segments = public["check_id"].str.split(r"[-/_.]", regex=True)
    assert not any(c in s for s, c in zip(segments, public["_class"], strict=True))


def test_rows_and_check_ids_follow_department_item_district_uscc_not_class(drawn):
    plan, path = drawn
    public = read_csv(path / "publish/plan_public.csv")
    assert public["check_id"].is_monotonic_increasing and public["check_id"].is_unique
    assert public["check_id"].tolist() == plan.checks["check_id"].tolist()  # one id, internal and public
    # the numbering is the order by (department, item, district, USCC): it has no class or stratum in it
    by_place = plan.checks.sort_values(["department", "item_id", "district", "uscc"], kind="stable")
    assert by_place["check_id"].tolist() == sorted(plan.checks["check_id"])
    assert list(public.columns[:3]) == ["plan_id", "check_id", "uscc"]


def _majority(frame: pd.DataFrame, by: list[str]) -> pd.Series:
    counts = frame.groupby([*by, "_class"], observed=True).size().rename("n").reset_index()
    counts = counts.sort_values([*by, "n", "_class"], ascending=[True] * len(by) + [False, True])
    return counts.drop_duplicates(by).set_index(by)["_class"]


def cv_accuracy(frame: pd.DataFrame, by: list[str], folds: int = 5) -> float:
    """Out-of-fold accuracy of "the majority class of the rows sharing these values" (unseen values: the
    item's majority). Folds split by entity, so an entity drawn for two items cannot vouch for itself."""
    fold = frame["uscc"].map(lambda u: int(hashlib.sha256(u.encode()).hexdigest()[:8], 16) % folds)
    hits = 0
    for f in range(folds):
        train, test = frame[fold != f], frame[fold == f]
        guess = test.join(_majority(train, by).rename("_guess"), on=by)["_guess"]
        guess = guess.fillna(test.join(_majority(train, ["item_id"]).rename("_item"), on="item_id")["_item"])
        hits += int((guess == test["_class"]).sum())
    return hits / len(frame)


def features(public: pd.DataFrame) -> pd.DataFrame:
    """Every publishable column, plus what an analyst would derive from it: the check number, row position,
    USCC parts (entity type, registration authority)."""
    out = public.copy()
    seq = out["check_id"].str.rsplit("-", n=1).str[1].astype(int)
    out["~check_number_decile"] = out.groupby("item_id")["check_id"].transform(
        lambda s: pd.qcut(seq[s.index], 10, labels=False, duplicates="drop")
    )
    out["~row_decile"] = pd.qcut(np.arange(len(out)), 10, labels=False)
    out["~uscc_type"] = out["uscc"].str[:2]
    out["~uscc_authority"] = out["uscc"].str[2:8]
    out["~uscc_check_char"] = out["uscc"].str[-1]
    return out


def test_no_publishable_column_predicts_the_class_better_than_the_base_rate(drawn):
    """The base rate is the majority class of an item's checks: which item an entity was drawn for is what
    双随机 publishes, and general and key items mix classes differently by the published ratios (here 0.35
    against 0.32 for one majority over all checks). Every publishable column — and what can be derived from
    it — must add less than MARGIN to that. The same classifier on the old plan.csv columns shows the test bites."""
    plan, path = drawn
    public = with_class(features(read_csv(path / "publish/plan_public.csv")), plan)
    base = cv_accuracy(public, ["item_id"])
    overall = public["_class"].value_counts(normalize=True).max()
    assert base < overall + 0.06
    gains = {col: cv_accuracy(public, ["item_id", col]) - base for col in public.columns.drop(["_class", "item_id"])}
    assert max(gains.values()) <= MARGIN, {c: round(g, 3) for c, g in gains.items()}
    # power: what plan.csv used to publish gives the class away
    internal = read_csv(path / "internal/plan_internal.csv")
    old = public.merge(internal[["check_id", "inclusion_prob", "draw_type", "directed_by"]], on="check_id")
    for col in ("inclusion_prob", "draw_type", "directed_by"):
        assert cv_accuracy(old, ["item_id", col]) - base > 0.05, col
    assert cv_accuracy(old, ["item_id", "inclusion_prob"]) > 0.9


def class_guess_from_public_seed(public: pd.DataFrame) -> pd.Series:
    """What an outsider can do with the published list alone: recompute the unkeyed seed and read each listed
    entity's class stratum off its hash rank (a drawn entity's key is among the smallest of its stratum)."""
    _, seed = derive_seed(public["plan_id"].iloc[0], public["start_date"].iloc[0], "")  # all public
    pp = plan_params()
    ratios, names = pp["ratios"], stratum_names(pp["subbands"])  # the parameters are no secret either
    item_type = {"GEN": "general", "FOOD": "key"}  # published with the item list
    guess = pd.Series("", index=public.index)
    for item, rows in public.groupby("item_id"):
        u = np.column_stack([hash_keys(seed, f"{item}/{s}", rows["uscc"].to_numpy()) / 2**60 for s in names])
        cut = np.array([max(ratios[item_type[item]][s[0]], 0.03) * 1.05 for s in names])
        inside = u <= cut
        guess[rows.index] = np.where(inside.any(axis=1), np.array([s[0] for s in names])[inside.argmax(axis=1)], "D")
    return guess


def test_an_unkeyed_draw_leaks_classes_through_the_public_seed_and_says_so(drawn):
    plan, path = drawn
    public = with_class(read_csv(path / "publish/plan_public.csv"), plan)
    leaked = (class_guess_from_public_seed(public) == public["_class"]).mean()
    assert leaked > cv_accuracy(public, ["item_id"]) + 0.2  # the threat is real …
    assert plan.summary["seed_keyed"] is False  # … and the plan says it is unkeyed (the CLI warns)


def test_a_keyed_draw_does_not_reveal_classes(tmp_path):
    plan = make_plan(inputs(), plan_params(), PLAN_ID, draw_key=b"bureau-secret-0123456789")
    path = write_plan(plan, summarise(plan, None), tmp_path)
    public = with_class(read_csv(path / "publish/plan_public.csv"), plan)
    assert plan.summary["seed_keyed"] is True
    guessed = (class_guess_from_public_seed(public) == public["_class"]).mean()
    assert guessed <= cv_accuracy(public, ["item_id"]) + MARGIN


def test_results_announcement_has_no_class_and_the_internal_readers_still_work(drawn, tmp_path):
    plan, path = drawn
    template = read_csv(path / "publish/results_template.csv")  # what the platform fills in
    rng = np.random.default_rng(5)
    results = template.assign(
        inspection_date="2026-11-20",
        result_code=rng.choice(["1", "B", "F"], len(template), p=[0.85, 0.1, 0.05]),
        disposition="none",
    )
    file = tmp_path / "results.csv"
    results.to_csv(file, index=False)
    feedback = tmp_path / "feedback"
    report = ingest_results(file, path, feedback, received="2026-12-31")
    assert report["accepted"] == len(plan.checks)
    records = pd.read_parquet(feedback / f"{PLAN_ID}.parquet")  # the IPW weights come from the internal copy
    weights = records.set_index("inspection_id")["inclusion_prob"]
    assert np.allclose(weights, plan.checks.set_index("check_id")["inclusion_prob"].reindex(weights.index))
    assert set(evaluate_plan(path, feedback)["class"]) == set(CLASSES)
    announcement = read_csv(feedback / PLAN_ID / "publish/results_public.csv")
    assert list(announcement.columns) == list(RESULT_COLUMNS)
    assert announcement["check_id"].is_monotonic_increasing and len(announcement) == report["accepted"]
    assert set(announcement["result"]) == {
        "未发现问题",
        "未按规定公示应当公示的信息",
        "未发现开展本次抽查涉及的经营活动",
    }
    public = with_class(announcement, plan)
    for col in announcement.columns:
        assert not CLASS_LIKE.search(col) and not (public[col] == public["_class"]).any(), col
    assert not any(path.rglob("results_public.csv"))  # the plan folder is not written to after the draw


def test_a_plan_folder_from_before_the_split_is_still_read(drawn, tmp_path):
    plan, path = drawn
    legacy = tmp_path / PLAN_ID
    legacy.mkdir()
    shutil.copy(path / "internal/summary.json", legacy / "summary.json")
    plan.checks.to_csv(legacy / "plan.csv", index=False, encoding="utf-8-sig", lineterminator="\n")
    summary, checks = load_plan(legacy)
    assert summary["plan_id"] == PLAN_ID and checks["check_id"].tolist() == plan.checks["check_id"].tolist()
