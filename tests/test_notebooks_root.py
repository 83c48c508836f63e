"""Notebooks run from JupyterLab (kernel started in notebooks/) as from papermill (started at the root)."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import nbformat
import pytest
import yaml

from riskclass.paths import MARKERS, NotInRepository, enter_repo_root, repo_root

from conftest import ROOT

NOTEBOOKS = ["10_indicators", "20_train", "30_validate", "40_classify", "50_policy", "61_backtest", "63_regions"]


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)


def code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def parameters_index(cells: list) -> int:
    tagged = [i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged `parameters`"
    return tagged[0]


def calls_enter_repo_root(stmt: ast.stmt) -> bool:
    value = stmt.value if isinstance(stmt, ast.Expr | ast.Assign) else None
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "enter_repo_root"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_parameters_cell_comes_first_and_only_assigns_literals(name):
    cells = code_cells(read(name))
    assert parameters_index(cells) == 0, "no code may run before the parameters cell"
    for stmt in ast.parse(cells[0].source).body:
        assert isinstance(stmt, ast.Assign), ast.unparse(stmt)
        ast.literal_eval(stmt.value)  # papermill replaces literals; nothing here may read a path


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_first_cell_after_parameters_enters_the_repository_root(name):
    cells = code_cells(read(name))
    body = ast.parse(cells[parameters_index(cells) + 1].source).body
    imports = [s for s in body if isinstance(s, ast.Import | ast.ImportFrom)]
    first = next(s for s in body if not isinstance(s, ast.Import | ast.ImportFrom))
    assert calls_enter_repo_root(first), f"first statement is {ast.unparse(first)!r}, not enter_repo_root()"
    assert body.index(first) == len(imports), "only imports may come before enter_repo_root()"
    assert any(isinstance(s, ast.ImportFrom) and s.module == "riskclass.paths" for s in imports)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_without_outputs(name):
    nb = read(name)
    nbformat.validate(nb)
    for cell in code_cells(nb):
        assert cell.outputs == [] and cell.execution_count is None, cell.id
    assert all(c.get("id") for c in nb.cells)
    assert nb.metadata["kernelspec"]["name"] == "riskclass"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_kernel_started_in_notebooks_folder_reaches_the_root(name, monkeypatch):
    """What JupyterLab does: run the parameters cell and the next one with notebooks/ as working folder."""
    monkeypatch.chdir(ROOT / "notebooks")
    cells = code_cells(read(name))
    i = parameters_index(cells)
    namespace: dict = {}
    exec(cells[i].source, namespace)
    exec(cells[i + 1].source, namespace)
    assert Path.cwd() == ROOT.resolve()
    assert namespace["root"] == ROOT.resolve()


def params_features() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))["features"]


def indicators_setup(injected: str = "") -> dict:
    """Execute 10_indicators up to (not including) the build: parameters, papermill's injection, the root, the
    fallback to params.yaml."""
    cells = code_cells(read("10_indicators"))
    i = parameters_index(cells)
    namespace: dict = {}
    exec(cells[i].source + "\n" + injected, namespace)
    exec(cells[i + 1].source, namespace)
    body = ast.parse(cells[i + 2].source).body
    builds = [k for k, s in enumerate(body) if "run(" in ast.unparse(s)]
    assert builds, "the cell that builds the panel calls run(...)"
    exec(compile(ast.Module(body=body[: builds[0]], type_ignores=[]), "10_indicators", "exec"), namespace)
    return namespace


def test_indicator_defaults_cannot_drift_from_params():
    cells = code_cells(read("10_indicators"))
    defaults = {}
    for stmt in ast.parse(cells[parameters_index(cells)].source).body:
        defaults[stmt.targets[0].id] = ast.literal_eval(stmt.value)
    fp = params_features()
    for key in ("month", "panel_from"):
        assert defaults[key] in (None, str(fp[key])), f"{key}: default {defaults[key]!r} differs from params.yaml"


def test_indicator_parameters_fall_back_to_params(monkeypatch):
    monkeypatch.chdir(ROOT / "notebooks")
    fp = params_features()
    ns = indicators_setup()
    assert (ns["month"], ns["panel_from"]) == (str(fp["month"]), str(fp["panel_from"]))
    ns = indicators_setup('month = "2026-09"\npanel_from = "2026-01"\n')  # papermill -p / a user's edit wins
    assert (ns["month"], ns["panel_from"]) == ("2026-09", "2026-01")


# --- enter_repo_root itself ---


def make_repo(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for marker in MARKERS:
        (folder / marker).write_text("", encoding="utf-8")
    return folder


def test_enter_repo_root_from_a_subfolder(tmp_path, monkeypatch):
    repo = make_repo(tmp_path / "repo")
    deep = repo / "notebooks" / "drafts"
    deep.mkdir(parents=True)
    (repo / "notebooks" / "params.yaml").write_text("", encoding="utf-8")  # one marker alone is not a root
    monkeypatch.chdir(deep)
    assert enter_repo_root() == repo.resolve()
    assert Path.cwd() == repo.resolve()
    assert repo_root(deep) == repo.resolve()


def test_enter_repo_root_takes_the_nearest_repository(tmp_path, monkeypatch):
    outer = make_repo(tmp_path / "outer")
    inner = make_repo(outer / "copies" / "inner")
    (inner / "notebooks").mkdir()
    monkeypatch.chdir(inner / "notebooks")
    assert enter_repo_root() == inner.resolve()


def test_enter_repo_root_outside_a_repository(tmp_path, monkeypatch):
    if any(all((p / m).is_file() for m in MARKERS) for p in tmp_path.resolve().parents):
        pytest.skip("the temporary folder lies inside a repository")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "params.yaml").write_text("", encoding="utf-8")
    monkeypatch.chdir(elsewhere)
    with pytest.raises(NotInRepository, match="not inside a riskclass repository") as info:
        enter_repo_root()
    message = str(info.value)
    assert str(elsewhere.resolve()) in message and "params.yaml and dvc.yaml" in message
    assert isinstance(info.value, FileNotFoundError)
    assert Path.cwd() == elsewhere.resolve()  # a failed call leaves the working folder alone
    assert os.getcwd() == str(elsewhere.resolve())
