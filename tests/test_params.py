"""params.yaml is loaded once, typed and checked: each bad value is refused with its key path and what is allowed."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path

import pytest
import yaml

from riskclass.params import ParamsError, check_month, load_params

REPO_PARAMS = Path(__file__).parents[1] / "params.yaml"
DELETE = object()
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@cache
def _repo_params() -> dict:
    return yaml.safe_load(REPO_PARAMS.read_text(encoding="utf-8"))


def _write(tmp_path: Path, changes: dict) -> Path:
    """A copy of the repository's params.yaml with ``{"dotted.key.path": value or DELETE}`` applied."""
    params = copy.deepcopy(_repo_params())
    for key, value in changes.items():
        *parents, last = [int(k) if k.isdigit() and len(k) < 3 else k for k in key.split(".")]
        node = params
        for k in parents:
            node = node[k]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.dump(params, Dumper=_DUMPER, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _refused(tmp_path: Path, changes: dict) -> str:
    path = _write(tmp_path, changes)
    with pytest.raises(ParamsError) as info:
        load_params(path)
    return str(info.value).replace(f"{path}: ", "params.yaml: ")


def test_repository_params_load_unchanged():
    with open(REPO_PARAMS, encoding="utf-8") as fh:
        expected = yaml.safe_load(fh)
    loaded = load_params(REPO_PARAMS)
    assert loaded == expected
    assert list(loaded) == list(expected)  # section order kept
    assert list(loaded["city"]["district_shares"]) == list(expected["city"]["district_shares"])
    assert isinstance(loaded["city"]["prefecture"], str) and isinstance(loaded["features"]["panel_from"], str)
    assert all(isinstance(k, str) for k in loaded["city"]["district_shares"])


RULES = [
    # labels, classify, plan
    ({"labels.horizon_months": -3}, "labels.horizon_months = -3: must be at least 1"),
    ({"classify.reasons": 4}, "classify.reasons = 4: must lie in [0, 3] (the contract keeps three reason columns)"),
    ({"classify.reasons": -1}, "classify.reasons = -1: must lie in [0, 3]"),
    ({"plan.due_days": 0}, "plan.due_days = 0: must be at least 1"),
    ({"plan.cooloff_months.A": -1}, "plan.cooloff_months.A = -1: must be at least 0"),
    ({"plan.cooloff_months.E": 6}, "plan.cooloff_months.E = 6: unknown key; allowed keys are A, B, C, D"),
    ({"plan.subbands.D": 5}, "plan.subbands.D = 5: must lie in [2, 4]"),
    ({"plan.subbands.B": 1}, "plan.subbands.B = 1: must lie in [2, 4]"),
    ({"plan.plans_per_year": 0}, "plan.plans_per_year = 0: must be at least 1"),
    ({"model.calibration_share": 1}, "model.calibration_share = 1: must lie in (0, 1)"),
    ({"model.calibration_share": 0.0}, "model.calibration_share = 0.0: must lie in (0, 1)"),
    (
        {"plan.inspectors_per_check": 0},
        "plan.inspectors_per_check = 0: must be at least 2 (at least two enforcement officers per check)",
    ),
    # score
    ({"score.bands.D": DELETE}, "score.bands.D: missing"),
    ({"score.bands.E": 900}, "score.bands.E = 900: unknown key; allowed keys are A, B, C, D"),
    ({"score.bands.A": 10}, "score.bands.A = 10: must be 0 (scores start at 0)"),
    ({"score.bands.C": 200}, "score.bands.C = 200: must be above score.bands.B = 200 (bands increase strictly A→D)"),
    ({"score.bands.D": 1200}, "score.bands.D = 1200: must lie in [0, 1000]"),
    ({"score.pdo": 0}, "score.pdo = 0: must be greater than 0"),
    ({"score.anchor_probability": 1.0}, "score.anchor_probability = 1.0: must lie in (0, 1)"),
    # plan ratios, floors, caps
    ({"plan.ratios.general.C": 0}, "plan.ratios.general.C = 0: must lie in (0, 1]"),
    ({"plan.ratios.key.D": 1.5}, "plan.ratios.key.D = 1.5: must lie in (0, 1]"),
    ({"plan.ratios.key.B": DELETE}, "plan.ratios.key.B: missing"),
    ({"plan.floors.A": 0}, "plan.floors.A = 0: must lie in (0, 1] (no class is exempt: 不免抽)"),
    ({"plan.floors.B": 0.05}, "plan.ratios.general.B = 0.03: must be at least the floor plan.floors.B = 0.05 (不免抽)"),
    ({"plan.optimiser_caps.C": 1.2}, "plan.optimiser_caps.C = 1.2: must lie in (0, 1]"),
    ({"plan.optimiser_caps.D": 0}, "plan.optimiser_caps.D = 0: must lie in (0, 1]"),
    # months and their order
    ({"features.month": "2026-13"}, "features.month = '2026-13': must be a real month written YYYY-MM"),
    ({"features.panel_from": "2024-6"}, "features.panel_from = '2024-6': must be a real month written YYYY-MM"),
    ({"model.train_from": "June 2024"}, "model.train_from = 'June 2024': must be a real month"),
    ({"synth.end_month": 202610}, "synth.end_month = 202610: must be a real month"),
    ({"classify.first_month": "2023-00"}, "classify.first_month = '2023-00': must be a real month"),
    ({"model.valid_month": "2025-1O"}, "model.valid_month = '2025-1O': must be a real month"),
    ({"model.train_to": "2024-05"}, "model.train_to = '2024-05': must not be before model.train_from = '2024-06'"),
    ({"model.train_to": "2025-10"}, "model.valid_month = '2025-10': must be after model.train_to = '2025-10'"),
    ({"features.panel_from": "2024-07"}, "model.train_from = '2024-06': must not be before features.panel_from"),
    ({"features.month": "2025-09"}, "model.valid_month = '2025-10': must not be after features.month = '2025-09'"),
    ({"features.panel_from": "2026-11"}, "features.panel_from = '2026-11': must not be after features.month"),
    ({"labels.horizon_months": 13}, "model.train_to = '2024-10': its 13-month label window (labels.horizon_months)"),
    # shares and probabilities
    ({"synth.entity_type_shares.individual": 0.6}, "synth.entity_type_shares = {"),
    ({"synth.entity_type_shares.individual": 0.6}, "shares must sum to 1 (±1e-6), they sum to 0.925"),
    ({"synth.entity_type_shares.company": 0.1}, "synth.entity_type_shares.company = 0.1: unknown key; allowed keys"),
    ({"city.district_shares.440802": 0.2}, "shares must sum to 1 (±1e-6), they sum to 1.06"),
    ({"city.district_shares.440802": -0.14}, "city.district_shares.440802 = -0.14: must be at least 0"),
    ({"city.district_shares.440101": 0.0}, "city.district_shares.440101 = 0.0: not a division of 440800; allowed"),
    ({"synth.org_form_shares.enterprise.llc": 0.5}, "synth.org_form_shares.enterprise = {"),
    ({"synth.org_form_shares.enterprise.llc": 0.5}, "they sum to 0.95"),
    ({"synth.section_shares.individual.F": -0.5}, "synth.section_shares.individual.F = -0.5: must be at least 0"),
    ({"synth.section_shares.cooperative.A": 0}, "synth.section_shares.cooperative = {'A': 0}: weights must not"),
    ({"synth.section_shares.enterprise.Z": 0.1}, "synth.section_shares.enterprise.Z = 0.1: unknown key"),
    ({"synth.corruption_rate": 1.5}, "synth.corruption_rate = 1.5: must lie in [0, 1]"),
    ({"synth.events.penalty_rate.clean": -0.1}, "synth.events.penalty_rate.clean = -0.1: must lie in [0, 1]"),
    ({"synth.inspections.detection_prob": 2}, "synth.inspections.detection_prob = 2: must lie in [0, 1]"),
    ({"synth.risk.detected_stop_prob": -1}, "synth.risk.detected_stop_prob = -1: must lie in [0, 1]"),
    # counts
    ({"synth.entities": 0}, "synth.entities = 0: must be at least 1"),
    ({"synth.entities": 1.5}, "synth.entities = 1.5: must be an integer"),
    ({"synth.entities": "50000"}, "synth.entities = '50000': must be an integer"),
    ({"synth.months": 0}, "synth.months = 0: must be at least 1"),
    ({"model.tuning.max_iterations": 0}, "model.tuning.max_iterations = 0: must be at least 1"),
    ({"model.tuning.grid.depth": [6, 17]}, "model.tuning.grid.depth[1] = 17: must lie in [1, 16] (CatBoost allows"),
    ({"model.tuning.grid.depth": [0]}, "model.tuning.grid.depth[0] = 0: must lie in [1, 16]"),
    ({"model.catboost.thread_count": 0}, "model.catboost.thread_count = 0: must be at least 1"),
    ({"features.threads": 0}, "features.threads = 0: must be at least 1"),
    ({"synth.planning.capacity": [50, 30]}, "synth.planning.capacity = [50, 30]: must be [low, high] with low ≤ high"),
    ({"synth.shell_cluster_size": [5]}, "synth.shell_cluster_size = [5]: must have 2 items"),
    # memory limit
    ({"features.memory_limit": "4 gigabytes"}, "features.memory_limit = '4 gigabytes': must be a size like 4GB"),
    ({"features.memory_limit": 4}, "features.memory_limit = 4: must be a string"),
    ({"features.memory_limit": "0GB"}, "features.memory_limit = '0GB': must be a size like 4GB or 512MB"),
    # overrides
    ({"classify.overrides.0.min_class": DELETE}, "classify.overrides[0].min_class: missing"),
    ({"classify.overrides.1.min_class": "E"}, "classify.overrides[1].min_class = 'E': allowed values are A, B, C, D"),
    ({"classify.overrides.2.min_value": "1"}, "classify.overrides[2].min_value = '1': must be a number"),
    ({"classify.overrides.3.id": "serious_violation"}, "classify.overrides[3].id = 'serious_violation': duplicate id"),
    ({"classify.overrides.0.indicator": "listed"}, "classify.overrides[0].indicator = 'listed': must be an indicator"),
    ({"classify.overrides.0.name_zh": DELETE}, "classify.overrides[0].name_zh: missing"),
    # directed draws
    ({"plan.directed.1.id": "no_reports"}, "plan.directed[1].id = 'no_reports': duplicate id (also item [0])"),
    ({"plan.directed.0.id": "a/b"}, "plan.directed[0].id = 'a/b': must be letters, digits"),
    ({"plan.directed.0.ratio": 0}, "plan.directed[0].ratio = 0: must lie in (0, 1]"),
    ({"plan.directed.1.where": [{"indicator": "REL.ADDR.cluster", "mn": 1}]}, "plan.directed[1].where[0].mn = 1"),
    ({"plan.directed.1.where": [{"indicator": "REL.ADDR.cluster"}]}, "plan.directed[1].where[0]: needs min or max"),
    ({"plan.directed.1.where": [{"indicator": "REL.ADDR.cluster", "min": 2, "max": 1}]}, "where[0].max = 1: must be"),
    ({"plan.directed.2.classes": ["D", "X"]}, "plan.directed[2].classes[1] = 'X': allowed values are A, B, C, D"),
    # plan id, registry, gates
    ({"plan.id_format": "SSJ-{division}"}, "plan.id_format = 'SSJ-{division}': must contain {month}"),
    ({"plan.id_format": "SSJ-{month}-{batch}"}, "may only use the fields {division} and {month}"),
    ({"registry.tracking_uri": "mlruns"}, "registry.tracking_uri = 'mlruns': must be a URI starting with sqlite:///"),
    ({"gates.min_auc_oot": 0.4}, "gates.min_auc_oot = 0.4: must lie in [0.5, 1]"),
    ({"gates.max_brier_oot": 1.5}, "gates.max_brier_oot = 1.5: must lie in [0, 1]"),
    ({"gates.min_ks_oot": -0.1}, "gates.min_ks_oot = -0.1: must lie in [0, 1]"),
    # classify keys that no longer exist
    ({"classify.month": "2026-10"}, "classify.month = '2026-10': unknown key; allowed keys are records_dir"),
    ({"classify.out_dir": "data/classes"}, "classify.out_dir = 'data/classes': unknown key"),
    # strict types: no silent coercion
    ({"labels.events.penalty": "yes"}, "labels.events.penalty = 'yes': must be true or false"),
    ({"gates.reload_identical": 1}, "gates.reload_identical = 1: must be true or false"),
    ({"model.catboost.learning_rate": "0.06"}, "model.catboost.learning_rate = '0.06': must be a number"),
    ({"synth.corruption_rate": True}, "synth.corruption_rate = True: must be a number"),
    ({"city.prefecture": 440800}, "city.prefecture = 440800: must be a string (quote it)"),
    ({"city.district_shares": {440802: 1.0}}, "city.district_shares.440802 = 1.0: the key must be a string (quote it)"),
    ({"city.district_shares": {"4408": 1.0}}, "district_shares.4408 = 1.0: the key must be a six-digit GB/T 2260 code"),
    ({"plan.published_value": 123}, "plan.published_value = 123: must be a string (quote it)"),
    ({"labels.events": dict.fromkeys(_repo_params()["labels"]["events"], False)}, "labels.events: at least one"),
    ({"synth.formats.default.encoding": "latin-1"}, "synth.formats.default.encoding = 'latin-1': allowed values are"),
    (
        {"synth.formats.penalty": {"header": "zh"}},
        "synth.formats.penalty = {'header': 'zh'}: unknown table; allowed values are default, entities,",
    ),
    ({"synth.formats.default.title_row": DELETE}, "synth.formats.default.title_row: missing"),
    ({"plan": DELETE}, "params.yaml: plan: missing"),
]


@pytest.mark.parametrize(("changes", "message"), RULES, ids=[next(iter(c)) for c, _ in RULES])
def test_bad_value_is_refused_naming_key_and_allowed_values(tmp_path, changes, message):
    assert message in _refused(tmp_path, changes)


def test_unknown_key_is_refused_naming_it(tmp_path):
    text = _refused(tmp_path, {"plan.due_dayz": 61})
    assert "params.yaml: plan.due_dayz = 61: unknown key (did you mean due_days?); allowed keys are out_dir," in text


def test_boolean_written_as_yaml_yes_is_fine(tmp_path):
    path = _write(tmp_path, {})
    path.write_text(path.read_text(encoding="utf-8").replace("penalty: true", "penalty: yes"), encoding="utf-8")
    assert load_params(path)["labels"]["events"]["penalty"] is True


def test_every_problem_is_reported_in_one_message(tmp_path):
    changes = {
        "plan.inspectors_per_check": 1,
        "plan.allocation": "best",
        "score.pdo": -5,
        "model.tuning.grid.depth": [20],
        "city.prefecture": 440800,
        "classify.month": "2026-10",
    }
    lines = _refused(tmp_path, changes).splitlines()
    assert lines == [
        "params.yaml: city.prefecture = 440800: must be a string (quote it)",
        "params.yaml: plan.allocation = 'best': allowed values are ratios, optimised",
        "params.yaml: plan.inspectors_per_check = 1: must be at least 2 (at least two enforcement officers per check)",
        "params.yaml: model.tuning.grid.depth[0] = 20: must lie in [1, 16] (CatBoost allows depth 1–16)",
        "params.yaml: score.pdo = -5: must be greater than 0",
        "params.yaml: classify.month = '2026-10': unknown key; allowed keys are records_dir, first_month, head_file, "
        "model_dir, reasons, initial_history_months, overrides",
    ]


def test_missing_file_and_broken_yaml(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere\.yaml: parameters file not found"):
        load_params(tmp_path / "nowhere.yaml")
    path = tmp_path / "params.yaml"
    path.write_text("city:\n  name: x\n  prefecture: [440800\nsynth: {}\n", encoding="utf-8")
    with pytest.raises(ParamsError, match=r"params.yaml: line 4, column 6: not valid YAML"):
        load_params(path)
    path.write_text("plan:\n  due_days: 60\n  due_days: 61\n", encoding="utf-8")
    with pytest.raises(ParamsError, match=r"params.yaml: line 3, column 3: not valid YAML: duplicate key 'due_days'"):
        load_params(path)
    path.write_text("- just a list\n", encoding="utf-8")
    with pytest.raises(ParamsError, match="must be a mapping of sections"):
        load_params(path)


@pytest.mark.parametrize("month", ["2026-10", "1999-01", "2100-12"])
def test_check_month_accepts_real_months(month):
    assert check_month(month, "features.month") == month


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "26-10", "2026-1", "2026-10-01", 202610, None])
def test_check_month_refuses_naming_the_key(month):
    with pytest.raises(ParamsError, match=r"^features\.month = .*: must be a real month written YYYY-MM"):
        check_month(month, "features.month")
