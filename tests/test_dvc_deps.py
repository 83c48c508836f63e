"""dvc.yaml declares, for every stage, every riskclass module the stage imports (directly or not), so that
a change to any of them re-runs the stage and nothing is reproduced with stale code."""

from __future__ import annotations

import ast
import re

import nbformat
import pytest
import yaml

from conftest import ROOT

SRC = ROOT / "src"
# what each stage runs: the module its command calls, or the notebook it executes
ENTRY = {
    "synth": ["riskclass.synth"],
    "ingest": ["riskclass.ingest"],
    "features": ["notebooks/10_indicators.ipynb"],
    "train": ["notebooks/20_train.ipynb"],
    "validate": ["notebooks/30_validate.ipynb", "riskclass.model.registry", "riskclass.reporting"],
    "champion": ["riskclass.model.pipeline"],
    "classify": ["notebooks/40_classify.ipynb"],
    "warnings": ["riskclass.early_warning.fire", "notebooks/62_warnings.ipynb", "riskclass.reporting"],
    "roster": ["riskclass.triggers.run"],
    "plan": ["riskclass.plan", "riskclass.plan.planner"],
    "policy": ["notebooks/50_policy.ipynb", "riskclass.reporting"],
    "backtest": ["riskclass.monitor.backtest", "notebooks/61_backtest.ipynb", "riskclass.reporting"],
    "reminders": ["riskclass.reminders"],
    "monitor": ["riskclass.monitor.run", "notebooks/60_monitor.ipynb", "riskclass.reporting"],
    "regions": ["riskclass.regions.run", "notebooks/63_regions.ipynb", "riskclass.reporting"],
}


def module_file(name: str):
    base = SRC / name.replace(".", "/")
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def imports_of(tree: ast.AST) -> set[str]:
    """riskclass modules named by the imports in ``tree`` (at any depth, including inside functions)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("riskclass")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("riskclass"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if module_file(f"{node.module}.{a.name}")}
    return {m for m in found if module_file(m)}


def closure(roots: set[str]) -> set[str]:
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(2, len(parts)) if module_file(".".join(parts[:i]))]  # packages
        todo += sorted(imports_of(ast.parse(module_file(name).read_text(encoding="utf-8"))))
    return seen


def entry_modules(entry: str) -> set[str]:
    if not entry.endswith(".ipynb"):
        return {entry}
    nb = nbformat.read(ROOT / entry, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return imports_of(ast.parse(re.sub(r"^[!%].*$", "", code, flags=re.M)))


def resolved_deps(stage: dict, variables: dict) -> list[str]:
    def render(text: str) -> str:
        return re.sub(r"\$\{([^}]+)\}", lambda m: str(_lookup(variables, m.group(1))), text)

    return [render(d if isinstance(d, str) else next(iter(d))) for d in stage.get("deps", [])]


def _lookup(variables: dict, dotted: str):
    value = variables
    for part in dotted.split("."):
        value = value[part]
    return value


@pytest.mark.parametrize("stage_name", sorted(ENTRY))
def test_every_imported_module_is_a_declared_dependency(stage_name):
    pipeline = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    variables = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    for extra in pipeline.get("vars", []):
        variables.update(yaml.safe_load((ROOT / extra).read_text(encoding="utf-8")))
    deps = resolved_deps(pipeline["stages"][stage_name], variables)
    roots = set().union(*(entry_modules(e) for e in ENTRY[stage_name]))
    missing = []
    for name in sorted(closure(roots)):
        path = module_file(name).relative_to(ROOT).as_posix()
        if not any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps):
            missing.append(path)
    if any(d == "src/riskclass/codes.py" for d in deps):  # it reads its code lists at run time
        missing += [] if "src/riskclass/resources/codes.yaml" in deps else ["src/riskclass/resources/codes.yaml"]
    assert not missing, f"stage {stage_name} imports modules dvc.yaml does not list as deps: {missing}"


def test_every_stage_has_an_entry_here():
    pipeline = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    assert set(pipeline["stages"]) == set(ENTRY)
