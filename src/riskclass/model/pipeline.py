"""Training and promotion as the DVC stages and the CLI run them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from riskclass import codes, periods
from riskclass.exports import write_csv
from riskclass.indicators import load_catalog
from riskclass.io import atomic_directory, write_json
from riskclass.model import evaluate, gate, registry
from riskclass.model.card import model_card, promotion_report
from riskclass.model.dataset import out_of_time_split
from riskclass.model.labels import random_draw_outcomes, truth_outcomes
from riskclass.model.risk_model import RiskModel
from riskclass.model.scoring import classes_from_scores, score_from_probability
from riskclass.model.train import fit_risk_model, fit_scorecard, scorecard_points, scorecard_probability
from riskclass.model.tuning import Search, select_settings
from riskclass.monitor.stability import build_profile


class PromotionRefused(Exception):
    pass


def snapshot_date(validated_dir: Path) -> pd.Timestamp:
    """The validated snapshot's date as a Timestamp (the model's label windows are pandas periods)."""
    return pd.Timestamp(periods.snapshot_date(validated_dir))


def data_version(inputs: list[str], lock_path: Path = Path("dvc.lock")) -> dict:
    """DVC hashes (from the last `dvc repro`) of the data outputs that contain the given input paths."""
    if not lock_path.exists():
        return {}
    import yaml

    lock = yaml.safe_load(lock_path.read_text(encoding="utf-8"))
    out = {}
    for stage in lock.get("stages", {}).values():
        for o in stage.get("outs", []):
            path = o.get("path", "")
            if any(str(i) == path or str(i).startswith(path + "/") for i in inputs):
                out[path] = o.get("md5")
    return out


def validate(model: RiskModel, card, split, p: dict) -> dict:
    """Every validation figure of the model card and the gates, as plain JSON-able data."""
    mp, lp = p["model"], p["labels"]
    valid = split.valid
    prob = model.probability(valid)
    types = codes.entity_types_of(valid)
    classes = classes_from_scores(score_from_probability(prob, **_sp(p)), p["score"]["bands"], types, _bt(p))
    y = valid["label"].to_numpy()
    result = {
        "oot": evaluate.discrimination(y, prob),
        "scorecard_oot": evaluate.discrimination(y, scorecard_probability(card, valid)),
        "class_table": evaluate.class_table(y, classes).reset_index().to_dict("records"),
        "calibration": evaluate.calibration_table(y, prob).reset_index().to_dict("records"),
        "lift": evaluate.lift_table(y, prob).reset_index().astype({"decile": int}).to_dict("records"),
    }
    result["class_rates_increasing"] = evaluate.strictly_increasing([r["event_rate"] for r in result["class_table"]])
    # stability: the same metrics month by month (in-sample months, then out of time)
    stab = []
    for month, d in split.train.groupby(split.train["as_of"].dt.strftime("%Y-%m")):
        stab.append({"month": month, "sample": "train", **evaluate.discrimination(d["label"], model.probability(d))})
    stab.append({"month": split.valid_month, "sample": "oot", **result["oot"]})
    result["stability"] = stab
    frame = valid.assign(
        p=prob,
        district=valid["BAS.IND.division"],
        section=valid["BAS.IND.section"],
        entity_type=types,
    )
    # calibration per entity type out of time; a type "off" gets its own calibration at the next training
    result["calibration_by_type"] = evaluate.calibration_by_group(y, prob, types, mp["type_calibration"])
    result["segments"] = {
        seg: evaluate.by_segment(frame, "label", "p", seg).to_dict("records")
        for seg in ("district", "section", "entity_type")
    }
    # the unbiased sample: undirected random draws in the label window, weighted by 1 / inclusion probability
    draws = random_draw_outcomes(Path(mp["validated_dir"]), split.valid_month, lp["horizon_months"])
    draws = draws.merge(frame[["uscc", "p"]], on="uscc")
    result["random_draws_ipw"] = evaluate.discrimination(draws["problem"], draws["p"], draws["weight"])
    # synthetic city: the truth and the oracle
    truth = truth_outcomes(Path(mp["truth_dir"]), split.valid_month, lp["horizon_months"])
    if truth is not None:
        t = frame[["uscc", "p", "entity_type"]].merge(truth, left_on="uscc", right_index=True)
        result["truth_model"] = evaluate.discrimination(t["violated"], t["p"])
        result["truth_oracle"] = evaluate.discrimination(t["violated"], 1 / (1 + np.exp(-t["oracle"])))
        result["truth_scorecard"] = evaluate.discrimination(
            t["violated"], scorecard_probability(card, valid.set_index("uscc").loc[t["uscc"]].reset_index())
        )
        truth_classes = classes_from_scores(
            score_from_probability(t["p"], **_sp(p)), p["score"]["bands"], t["entity_type"], _bt(p)
        )
        result["truth_class_table"] = (
            evaluate.class_table(t["violated"], truth_classes).reset_index().to_dict("records")
        )
    result["monotonicity_violations"] = evaluate.monotonicity_violations(model, valid)
    result["monotone_ok"] = sum(result["monotonicity_violations"].values()) == 0
    return result


def _bt(p: dict) -> dict | None:
    """The entity types' own class bands (params ``score.bands_by_type``), if any."""
    return p["score"].get("bands_by_type")


def _sp(p: dict) -> dict:
    return {"anchor_probability": p["score"]["anchor_probability"], "pdo": p["score"]["pdo"]}


def minimum_failures(oot: dict, gates: dict, what: str = "out-of-time") -> list[str]:
    """The AUC, KS and Brier minimums of the gates on one set of out-of-time figures."""
    failures = []
    if oot["auc"] is None or oot["auc"] < gates["min_auc_oot"]:
        failures.append(f"{what} AUC {oot['auc']} < {gates['min_auc_oot']}")
    if oot["ks"] is None or oot["ks"] < gates["min_ks_oot"]:
        failures.append(f"{what} KS {oot['ks']} < {gates['min_ks_oot']}")
    if oot["brier"] is None or oot["brier"] > gates["max_brier_oot"]:
        failures.append(f"{what} Brier {oot['brier']} > {gates['max_brier_oot']}")
    return failures


def gate_failures(v: dict, gates: dict) -> list[str]:
    failures = minimum_failures(v["oot"], gates)
    if gates["class_rates_strictly_increasing"] and not v["class_rates_increasing"]:
        failures.append("event rates do not rise strictly from A to D")
    if gates["monotone_constraints_respected"] and not v["monotone_ok"]:
        failures.append("the fitted model breaks a declared direction")
    if gates["reload_identical"] and not v.get("reload_identical", False):
        failures.append("the reloaded model does not score identically")
    return failures


def flat_metrics(v: dict) -> dict:
    out = {}
    for block in ("oot", "scorecard_oot", "random_draws_ipw", "truth_model", "truth_oracle", "truth_scorecard"):
        for k in ("auc", "ks", "pr_auc", "brier", "event_rate"):
            if block in v and v[block].get(k) is not None:
                out[f"{block}_{k}"] = v[block][k]
    for row in v["class_table"]:
        out[f"class_{row['class']}_share"] = row["share"]
        if row["event_rate"] is not None:
            out[f"class_{row['class']}_event_rate"] = row["event_rate"]
    out["gates_passed"] = float(not v["gate_failures"])
    return out


def fit_with_search(train: pd.DataFrame, catalog, mp: dict, score_params: dict) -> tuple[RiskModel, Search]:
    """The train stage's procedure: settings chosen by time-ordered CV on ``train``, then refit on all of it."""
    search = select_settings(train, catalog, mp)
    return fit_risk_model(train, catalog, mp, score_params, search.chosen), search


def train(p: dict, reports_dir: Path = Path("reports")) -> dict:
    """Choose the settings (time-ordered CV inside the training window), fit, validate, export (DVC), register
    (MLflow, alias challenger); bootstrap a champion if none."""
    mp, rp = p["model"], p["registry"]
    catalog = load_catalog(p["features"]["catalog"])
    snapshot = snapshot_date(Path(mp["validated_dir"]))
    split = out_of_time_split(mp, p["labels"], snapshot)
    # only the training window goes in: the validation month never chooses the settings
    model, search = fit_with_search(split.train, catalog, mp, {**_sp(p), "bands": p["score"]["bands"]})
    model.info.update(
        {
            "train_months": split.train_months,
            "valid_month": split.valid_month,
            "horizon_months": p["labels"]["horizon_months"],
            "label_events": p["labels"]["events"],
        }
    )
    # the reference profile monitoring compares every classified month with (monitor/stability.py)
    model.profile = build_profile(
        model,
        split.train,
        p["monitor"]["profile"],
        {"from": split.train_months[0], "to": split.train_months[-1]},
        validation=(split.valid, {"from": split.valid_month, "to": split.valid_month}),
    )
    card = fit_scorecard(split.train, catalog, mp)
    v = validate(model, card, split, p)
    v["tuning"] = search.to_dict()

    out_dir = Path(mp["out_dir"])
    with atomic_directory(out_dir) as scratch:
        model.save(scratch)
    reloaded = RiskModel.load(out_dir)
    v["reload_identical"] = bool(np.array_equal(reloaded.score(split.valid), model.score(split.valid)))
    v["gate_failures"] = gate_failures(v, p["gates"])
    # what the promotion gate would decide against today's champion, on this run's own window
    window = gate.Window(split.valid_month, split.valid, p["labels"]["horizon_months"], p["labels"]["events"], snapshot)
    v["promotion_gate"] = gate_preview(rp, model, v, window)

    reports_dir.mkdir(parents=True, exist_ok=True)
    write_json(v, reports_dir / "validation.json")
    write_csv(scorecard_points(card), reports_dir / "scorecard_points.csv")
    versions = data_version([mp["validated_dir"], mp["features_dir"], mp["truth_dir"]])
    card_path = reports_dir / "model_card.md"
    card_path.write_text(
        model_card(model, catalog, v, versions),
        encoding="utf-8",
    )
    metrics = flat_metrics(v)

    tags = {
        "catalog_sha256": catalog.sha256,
        "valid_month": split.valid_month,
        "train_months": f"{split.train_months[0]}..{split.train_months[-1]}",
        **{f"data.{k}": str(h) for k, h in versions.items()},
    }
    _run_id, version = registry.log_and_register(
        rp,
        out_dir,
        {**{k: p[k] for k in ("labels", "model", "score", "gates")}, "chosen": search.chosen},
        metrics,
        tags,
        [card_path, reports_dir / "validation.json", reports_dir / "scorecard_points.csv"],
        children=search.mlflow_runs(),
        texts={"tuning/cv_table.csv": search.table.to_csv(index=False)},
    )
    # the registry copy must score exactly like the exported one
    from_registry = registry.load_version(rp, version)
    v["reload_identical"] = v["reload_identical"] and bool(
        np.array_equal(from_registry.score(split.valid), model.score(split.valid))
    )
    v["gate_failures"] = gate_failures(v, p["gates"])
    metrics = flat_metrics(v)
    registry.set_alias(rp, registry.CHALLENGER, version, "pipeline", "latest training run")
    if registry.alias_version(rp, registry.CHAMPION) is None and not v["gate_failures"]:
        registry.set_alias(rp, registry.CHAMPION, version, "pipeline", "bootstrap: no champion yet, gates passed")
    if v["promotion_gate"]["challenger"] is not None:
        v["promotion_gate"]["challenger"]["name"] = f"v{version}"
    # no run id in the metrics file: it is a DVC metric, and the run is found from the version
    summary = {
        "version": version,
        **{k: round(x, 4) for k, x in metrics.items()},
        "gate_failures": v["gate_failures"],
        "settings": search.chosen,
    }
    write_json(v, reports_dir / "validation.json")
    write_json(summary, reports_dir / "model_metrics.json")
    return summary


def gate_preview(rp: dict, model: RiskModel, v: dict, window: gate.Window) -> dict:
    """At training time: this run against today's champion on this run's out-of-time window (same rows, same
    code as ``promote``). A preview for the model card; ``promote`` decides, on the data of its own day."""
    champion = registry.alias_version(rp, registry.CHAMPION)
    stored = {"oot_auc": v["oot"]["auc"], "oot_ks": v["oot"]["ks"]}
    if champion is None:
        return {
            "champion_version": None,
            "window": window.describe(),
            "challenger": None,
            "champion": None,
            "refusals": [],
            "decision": "bootstrap" if not v["gate_failures"] else "refused",
        }
    comparison = gate.compare(
        window,
        ("this run", model, stored),
        (f"v{champion}", registry.load_version(rp, champion), registry.version_metrics(rp, champion)),
    )
    refusals = ["it does not pass the validation gates"] * bool(v["gate_failures"]) + comparison["refusals"]
    return {
        "champion_version": champion,
        **comparison,
        "refusals": refusals,
        "decision": "refused" if refusals else "promoted",
    }


def promote(p: dict, version: str | None, by: str | None, reason: str, reports_dir: Path = Path("reports")) -> dict:
    """Make ``version`` (default: the challenger) the champion if it passed its gates and beats the champion
    on fresh figures: both scored on the challenger's out-of-time window with today's data, labels and code.

    Promoted or refused, the decision and both models' figures are appended to the alias history, attached
    to the candidate's MLflow run and written to ``reports/promotion.json`` and ``reports/promotion.md``.
    A refusal raises ``PromotionRefused`` after it has been recorded.
    """
    rp = p["registry"]
    version = registry.resolve_version(rp, version) if version else registry.alias_version(rp, registry.CHALLENGER)
    if version is None:
        raise PromotionRefused("no challenger to promote")
    stored = registry.version_metrics(rp, version)
    refusals = []
    if stored.get("gates_passed", 0.0) < 1.0:
        refusals.append("it did not pass the validation gates (see its validation.json)")
    champion = registry.alias_version(rp, registry.CHAMPION)
    comparison = None
    if champion == version:
        refusals.append(f"version {version} is already the champion")
    elif champion is not None:
        candidate = registry.load_version(rp, version)
        month = candidate.info.get("valid_month") or p["model"]["valid_month"]
        try:
            window = gate.window_for(p, month)
        except (FileNotFoundError, ValueError) as exc:  # no indicators for the month, or labels not yet observable
            refusals.append(f"the comparison window {month} cannot be built from the current data: {exc}")
        else:
            comparison = gate.compare(
                window,
                (f"v{version}", candidate, stored),
                (f"v{champion}", registry.load_version(rp, champion), registry.version_metrics(rp, champion)),
            )
            refusals += comparison["refusals"]
            # the gate minimums hold on today's figures too, not only on those stored at training
            fresh = {
                k: None if comparison["challenger"][k] is None else round(comparison["challenger"][k], 4)
                for k in ("auc", "ks", "brier")
            }
            refusals += minimum_failures(fresh, p["gates"], f"fresh out-of-time ({month})")
    decision = {
        "decision": "refused" if refusals else "promoted",
        "candidate_version": version,
        "champion_version": champion,
        "refusals": refusals,
        "gate": comparison and {k: comparison[k] for k in ("window", "challenger", "champion")},
    }
    if refusals:
        record = registry.record_refusal(rp, registry.CHAMPION, version, by, reason, decision)
    else:
        record = registry.set_alias(rp, registry.CHAMPION, version, by, reason, {"event": "promotion", **decision})
    registry.log_decision(rp, version, record)
    write_promotion_report(record, reports_dir)
    if refusals:
        raise PromotionRefused(f"version {version} not promoted: " + "; ".join(refusals))
    return record


def write_promotion_report(record: dict, reports_dir: Path) -> None:
    """The latest promotion decision for reviewers: the history record as JSON and as a markdown section.

    Not the model card: that is an output of the `train` stage, and changing it would make DVC retrain.
    """
    reports_dir.mkdir(parents=True, exist_ok=True)
    write_json(record, reports_dir / "promotion.json")
    (reports_dir / "promotion.md").write_text(promotion_report(record), encoding="utf-8")


def export_champion(p: dict) -> str:
    """Copy the champion's model directory out of MLflow into the DVC-tracked ``champion_dir``."""
    rp = p["registry"]
    version = registry.alias_version(rp, registry.CHAMPION)
    if version is None:
        raise PromotionRefused("no champion yet: promote a challenger first (`riskclass model promote`)")
    model = registry.load_version(rp, registry.CHAMPION)
    model.info["registered_version"] = version
    with atomic_directory(Path(rp["champion_dir"])) as scratch:
        model.save(scratch)
    return version
