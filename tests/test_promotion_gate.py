"""The promotion gate scores champion and challenger afresh on one window; the city-change case of the issue."""

from __future__ import annotations

import copy
import json

import pytest

from model_world import TRAIN_MONTHS, VALID_MONTH, train_in_changed_city
from riskclass.model import evaluate, gate, registry
from riskclass.model.dataset import labelled_month
from riskclass.model.pipeline import snapshot_date
from riskclass.model.risk_model import RiskModel


@pytest.fixture(scope="module")
def city(params, tmp_path_factory):
    return train_in_changed_city(params, tmp_path_factory.mktemp("changed-city"))


def test_stored_figures_favour_the_old_champion(city):
    """The situation of the issue: compared on stored figures, the challenger would be refused."""
    assert (city["first"]["version"], city["second"]["version"]) == ("1", "2")
    assert city["first"]["gates_passed"] == city["second"]["gates_passed"] == 1.0
    assert city["first"]["oot_auc"] > city["second"]["oot_auc"] + 0.05
    assert city["first"]["oot_ks"] > city["second"]["oot_ks"]


def test_retrained_challenger_better_on_the_new_data_is_promoted(city):
    p, record = city["p"], city["promoted"]
    assert isinstance(record, dict), f"the retrained challenger was refused: {record}"
    assert record["decision"] == "promoted" and record["event"] == "promotion" and record["refusals"] == []
    assert registry.alias_version(p["registry"], "champion") == "2"
    ch, cp = record["gate"]["challenger"], record["gate"]["champion"]
    assert (ch["name"], cp["name"]) == ("v2", "v1")
    assert ch["auc"] > cp["auc"] and ch["ks"] > cp["ks"]  # fresh: the challenger wins …
    assert cp["stored_auc"] > ch["stored_auc"]  # … although its stored AUC is the lower one
    assert cp["auc"] < cp["stored_auc"] - 0.1  # the champion's great stored AUC does not hold on today's data


def test_both_models_are_scored_on_the_same_rows_of_the_same_window(city):
    p, record = city["p"], city["promoted"]
    window, ch, cp = record["gate"]["window"], record["gate"]["challenger"], record["gate"]["champion"]
    assert window["valid_month"] == VALID_MONTH == ch["valid_month"]
    assert ch["rows"] == cp["rows"] == window["rows"]
    assert ch["rows_sha256"] == cp["rows_sha256"] == window["rows_sha256"]
    # recompute independently from the registry's models and today's labels: the recorded figures are these
    frame = labelled_month(p["model"], p["labels"], VALID_MONTH, snapshot_date(p["model"]["validated_dir"]))
    assert gate.rows_fingerprint(frame) == window["rows_sha256"] and int(frame["label"].sum()) == window["events"]
    for side, version in (("challenger", "2"), ("champion", "1")):
        m = registry.load_version(p["registry"], version)
        fresh = evaluate.discrimination(frame["label"].to_numpy(), m.probability(frame))
        for k in ("auc", "ks", "brier"):
            assert record["gate"][side][k] == pytest.approx(fresh[k], abs=1e-12), (side, k)


def test_refusal_is_recorded_and_the_history_only_grows(city):
    rp = city["p"]["registry"]
    assert "does not beat champion v2" in str(city["refused"])
    assert registry.alias_version(rp, "champion") == "2"  # refused: the alias stayed
    # append-only: each step kept every earlier line byte for byte and added one
    before, middle, after = city["history_before_promotion"], city["history_before_refusal"], city["history_after"]
    assert middle.startswith(before) and after.startswith(middle)
    assert len(after.splitlines()) == len(middle.splitlines()) + 1 == len(before.splitlines()) + 2
    last = json.loads(after.splitlines()[-1])
    assert last["event"] == "promotion_refused" and last["decision"] == "refused"
    # the alias state after the event stays readable from (alias, version): the champion is still v2
    assert (last["alias"], last["version"], last["previous_version"], last["candidate_version"]) == (
        "champion",
        "2",
        "2",
        "1",
    )
    assert last["by"] == "tester" and last["reason"] == "roll back to the old champion"
    assert last["gate"]["challenger"]["name"] == "v1" and last["gate"]["champion"]["name"] == "v2"
    assert last["gate"]["challenger"]["auc"] < last["gate"]["champion"]["auc"]
    assert last["refusals"] and all(
        "does not beat champion v2" in r or r.startswith("fresh out-of-time") for r in last["refusals"]
    )
    # v1 passed the gate minimums when it was trained, not on today's data: that is a refusal of its own
    assert (
        f"fresh out-of-time ({VALID_MONTH}) AUC {round(last['gate']['challenger']['auc'], 4)} < 0.55"
        in last["refusals"]
    )
    assert registry.history_summary(last).startswith("refused v1 (AUC ")
    assert registry.history_summary(city["promoted"]).startswith("promoted v2 (AUC ")
    # replaying the history gives the alias timeline
    champion = None
    for r in registry.alias_history(rp):
        if r["alias"] == "champion":
            assert r["previous_version"] == champion
            champion = r["version"]
    assert champion == "2"


def test_decisions_reach_the_reviewer(city):
    root = city["root"]
    report = json.loads((root / "reports" / "promotion.json").read_text(encoding="utf-8"))
    assert report["decision"] == "refused" and report["candidate_version"] == "1"  # the latest decision
    md = (root / "reports" / "promotion.md").read_text(encoding="utf-8")
    assert "## Promotion gate" in md and "**refused**" in md and "does not beat champion v2" in md
    # both decisions are attached to the candidates' MLflow runs
    from mlflow import MlflowClient

    registry.setup(city["p"]["registry"])
    client = MlflowClient()
    for version, decision in (("2", "promoted"), ("1", "refused")):
        run_id = client.get_model_version(city["p"]["registry"]["model_name"], version).run_id
        names = [a.path for a in client.list_artifacts(run_id, "promotion")]
        assert any(n.endswith(f"-{decision}.json") for n in names), (version, names)


def test_training_previews_the_gate_on_its_own_window(city):
    """The train stage compares the new run with today's champion the same way, for the model card."""
    root = city["root"]
    v = json.loads((root / "reports-new" / "validation.json").read_text(encoding="utf-8"))
    preview = v["promotion_gate"]
    assert preview["champion_version"] == "1" and preview["decision"] == "promoted"
    assert preview["challenger"]["auc"] == pytest.approx(v["oot"]["auc"])  # the same rows as its validation
    assert preview["champion"]["auc"] == pytest.approx(city["promoted"]["gate"]["champion"]["auc"])
    card = (root / "reports-new" / "model_card.md").read_text(encoding="utf-8")
    assert "## Promotion gate (preview at training time)" in card and "| champion (v1) |" in card
    first = json.loads((root / "reports-old" / "validation.json").read_text(encoding="utf-8"))
    assert first["promotion_gate"]["decision"] == "bootstrap" and first["promotion_gate"]["champion"] is None


def test_a_model_that_saw_the_window_outcomes_cannot_take_part(city):
    p = city["p"]
    window = gate.window_for(p, VALID_MONTH)
    model = RiskModel.load(p["model"]["out_dir"])
    assert gate.fairness_problems("v2", model, window) == []
    model.info["train_months"] = ["2024-11"]  # labels to 2025-11-30, past the window's as-of date 2025-10-31
    [problem] = gate.fairness_problems("v9", model, window)
    assert "v9 was trained on labels up to 2025-11-30" in problem
    result = gate.compare(window, ("v2", RiskModel.load(p["model"]["out_dir"]), {}), ("v9", model, {}))
    assert any("has seen the outcomes" in r for r in result["refusals"])


def test_a_champion_the_current_indicators_cannot_score_does_not_block(city):
    p = city["p"]
    window = gate.window_for(p, VALID_MONTH)
    challenger = RiskModel.load(p["model"]["out_dir"])
    champion = RiskModel.load(p["model"]["out_dir"])
    champion.numeric = [*champion.numeric, "SUP.GONE.indicator"]
    result = gate.compare(window, ("v2", challenger, {}), ("v1", champion, {}))
    assert "SUP.GONE.indicator" in result["champion"]["unscorable"] and result["refusals"] == []


def test_training_hands_the_search_the_training_window_only(city):
    """What `train` gave the settings search: the training months' rows, never the validation month."""
    p = city["p"]
    split_train = labelled_month(p["model"], p["labels"], TRAIN_MONTHS[0], snapshot_date(p["model"]["validated_dir"]))
    assert len(city["search_frames"]) == 2  # one search per training run
    for frame in city["search_frames"]:
        assert set(frame["as_of"].dt.strftime("%Y-%m")) == set(TRAIN_MONTHS)
        assert len(frame) == len(TRAIN_MONTHS) * len(split_train)
    v = json.loads((city["root"] / "reports-new" / "validation.json").read_text(encoding="utf-8"))
    assert {f["valid_month"] for f in v["tuning"]["folds"]} == {"2024-09", "2024-10"}
    assert v["tuning"]["chosen"] == city["second"]["settings"]


def test_the_search_is_in_mlflow_one_nested_run_per_candidate(city):
    from mlflow import MlflowClient

    rp = city["p"]["registry"]
    registry.setup(rp)
    client = MlflowClient()
    run_id = client.get_model_version(rp["model_name"], "2").run_id
    run = client.get_run(run_id)
    chosen = city["second"]["settings"]
    assert {k: run.data.params[f"chosen.{k}"] for k in chosen} == {k: str(x) for k, x in chosen.items()}
    assert "tuning/cv_table.csv" in [a.path for a in client.list_artifacts(run_id, "tuning")]
    v = json.loads((city["root"] / "reports-new" / "validation.json").read_text(encoding="utf-8"))
    table = {r["candidate"]: r for r in v["tuning"]["candidates"]}
    children = client.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run_id}'")
    assert len(children) == len(table) == 2
    for child in children:
        row = table[int(child.data.metrics["candidate"])]
        assert child.data.params["depth"] == str(row["depth"])
        assert child.data.metrics["cv_auc"] == pytest.approx(row["cv_auc"])  # the summary, not a curve's last step
        assert child.data.metrics["iterations"] == row["iterations"]
        assert child.data.metrics["chosen"] == float(row["chosen"])
        curve = client.get_metric_history(child.info.run_id, "cv_auc_by_iteration")
        assert len(curve) == city["p"]["model"]["tuning"]["max_iterations"]
        assert max(m.value for m in curve) == pytest.approx(row["cv_auc"])


def test_a_window_the_current_data_cannot_build_is_a_recorded_refusal(city, tmp_path):
    from riskclass.model.pipeline import PromotionRefused, promote

    p = copy.deepcopy(city["p"])
    p["model"]["features_dir"] = str(tmp_path / "no-features")  # the panel no longer holds the month
    with pytest.raises(PromotionRefused, match="the comparison window 2025-10 cannot be built from the current data"):
        promote(p, "1", "tester", "after the panel was rebuilt", tmp_path / "reports")
    last = registry.alias_history(p["registry"])[-1]
    assert last["event"] == "promotion_refused" and last["candidate_version"] == "1" and last["gate"] is None
    assert registry.alias_version(p["registry"], "champion") == "2"
