"""The model card (one per registered version): data window, indicators, metrics, known limits."""

from __future__ import annotations

from riskclass.indicators.catalog import Catalog
from riskclass.model.risk_model import RiskModel


def _fmt(x) -> str:
    return "—" if x is None else f"{x:.3f}"


def _row(label: str, m: dict) -> str:
    return f"| {label} | {_fmt(m['auc'])} | {_fmt(m['ks'])} | {_fmt(m['pr_auc'])} | {_fmt(m['brier'])} |"


def model_card(model: RiskModel, catalog: Catalog, v: dict, data_version: dict) -> str:
    info = model.info
    oot, sc = v["oot"], v["scorecard_oot"]
    lines = [
        "# 模型卡 Model card — 企业信用风险分类模型",
        "",
        "## Purpose",
        "Scores every market entity's risk of an adverse regulatory outcome within "
        f"{info.get('horizon_months')} months, for internal supervision only (不评价、不惩戒、不公开、不免抽).",
        "",
        "## Data",
        f"- training as-of months: {', '.join(info.get('train_months', []))}; "
        f"out-of-time validation: {info.get('valid_month')}",
        f"- training rows: {info.get('train_rows')} (+ {info.get('calibration_rows')} held out for calibration), "
        f"event rate {info.get('train_event_rate')}",
        f"- label events: {', '.join(k for k, on in info.get('label_events', {}).items() if on)}",
        f"- indicator catalog: version {catalog.version}, sha256 {catalog.sha256}",
        *[f"- data `{k}`: md5 {h}" for k, h in data_version.items()],
        "",
        "## Model",
        f"- CatBoost, {len(model.numeric)} numeric + {len(model.categorical)} categorical indicators, "
        f"{len(model.directions)} monotone constraints from the catalog's directions",
        f"- settings chosen by time-ordered cross-validation inside the training window: {_settings(info)}",
        "- Platt calibration on held-out entities; score = 500 + pdo·log2(odds / anchor odds), clipped to 0–1000; "
        f"anchor probability {model.score_params['anchor_probability']}, pdo {model.score_params['pdo']}; "
        f"bands {model.score_params['bands']}",
        "",
        "## Out-of-time metrics",
        "| model | AUC | KS | PR-AUC | Brier |",
        "|---|---|---|---|---|",
        _row("CatBoost (this model)", oot),
        _row("WOE scorecard baseline", sc),
        f"| random draws, IPW | {_fmt(v['random_draws_ipw']['auc'])} | {_fmt(v['random_draws_ipw']['ks'])} | "
        f"{_fmt(v['random_draws_ipw']['pr_auc'])} | {_fmt(v['random_draws_ipw']['brier'])} |",
    ]
    if "truth_model" in v:
        lines += [
            f"| ground truth: this model | {_fmt(v['truth_model']['auc'])} | {_fmt(v['truth_model']['ks'])} | "
            f"{_fmt(v['truth_model']['pr_auc'])} | {_fmt(v['truth_model']['brier'])} |",
            f"| ground truth: oracle (latent risk) | {_fmt(v['truth_oracle']['auc'])} | "
            f"{_fmt(v['truth_oracle']['ks'])} | {_fmt(v['truth_oracle']['pr_auc'])} | — |",
        ]
    lines += ["", "## Classes (out of time)", "| class | share | event rate |", "|---|---|---|"]
    lines += [f"| {r['class']} | {r['share']:.1%} | {_fmt(r['event_rate'])} |" for r in v["class_table"]]
    if "tuning" in v:
        lines += ["", *tuning_section(v["tuning"])]
    if "promotion_gate" in v:
        lines += ["", *promotion_gate_section(v["promotion_gate"], preview=True)]
    lines += [
        "",
        "## Checks",
        f"- event rates rise strictly A→D: {v['class_rates_increasing']}",
        f"- declared directions respected: {v['monotone_ok']}",
        f"- reloaded model scores identically: {v.get('reload_identical')}",
        f"- gate failures: {v.get('gate_failures') or 'none'}",
        "",
        "## Known limits",
        "- Labels are observed outcomes: inspections follow risk, so the labelled sample over-represents "
        "risky entities; the random-draw IPW row is the unbiased check, and it rests on few inspections.",
        "- Registry attributes other than status and capital are snapshot values (see docs/indicator-builder.md).",
        "- Trained and validated on the synthetic city unless stated otherwise.",
        "",
    ]
    return "\n".join(lines)


def _settings(info: dict) -> str:
    s = info.get("catboost_settings")
    if not s:
        return "—"
    return f"depth {s['depth']}, l2_leaf_reg {s['l2_leaf_reg']}, rsm {s['rsm']}, {s['iterations']} iterations"


def tuning_section(t: dict) -> list[str]:
    """The settings search: folds, every candidate with its fold figures, the choice."""
    lines = [
        "## Settings search (time-ordered cross-validation, training window only)",
        f"Selection: {t['selection']}. Each fold validates on entities it never trained on; the out-of-time "
        "month takes no part.",
        "",
        "| fold | trains on | validates on | training rows | validation rows | validation event rate |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {f['fold']} | {f['train_months'][0]}…{f['train_months'][-1]} | {f['valid_month']} | {f['train_rows']} | "
        f"{f['valid_rows']} | {f['valid_event_rate']:.3f} |"
        for f in t["folds"]
    ]
    folds = [f["fold"] for f in t["folds"]]
    lines += [
        "",
        "| candidate | depth | l2_leaf_reg | rsm | iterations | CV AUC | "
        + " | ".join(f"fold {k} AUC" for k in folds)
        + " | CV logloss | |",
        "|---|---|---|---|---|---|" + "---|" * len(folds) + "---|---|",
    ]
    for r in t["candidates"]:
        lines.append(
            f"| {r['candidate']} | {r['depth']} | {r['l2_leaf_reg']} | {r['rsm']} | {r['iterations']} | "
            f"{r['cv_auc']:.4f} | " + " | ".join(f"{r[f'fold_{k}_auc']:.4f}" for k in folds) + f" | "
            f"{r['cv_logloss']:.4f} | {'**chosen**' if r['chosen'] else ''} |"
        )
    capped = [str(r["candidate"]) for r in t["candidates"] if r.get("at_cap")]
    if capped:
        lines.append(
            f"\nCandidates {', '.join(capped)} were still improving at model.tuning.max_iterations: "
            "their best iteration count may lie beyond it."
        )
    c = t["chosen"]
    lines.append(
        f"\nChosen: depth {c['depth']}, l2_leaf_reg {c['l2_leaf_reg']}, rsm {c['rsm']}, {c['iterations']} iterations "
        "(refit on the whole training window)."
    )
    return lines


def _gate_row(label: str, f: dict | None) -> str:
    if not f:
        return f"| {label} | — | — | — | — | — | — |"
    if "unscorable" in f:
        return f"| {label} | {f['unscorable']} | | | | | |"
    return (
        f"| {label} ({f.get('name', '')}) | {_fmt(f['auc'])} | {_fmt(f['ks'])} | {_fmt(f['brier'])} | {f['rows']} | "
        f"{_fmt(f.get('stored_auc'))} | {_fmt(f.get('stored_ks'))} |"
    )


def promotion_gate_section(g: dict, preview: bool) -> list[str]:
    """Champion and challenger on the same out-of-time window (``gate.compare``), and the decision."""
    head = "## Promotion gate" + (" (preview at training time)" if preview else "")
    w = g.get("window") or {}
    lines = [head]
    if preview:
        lines.append(
            "Both models scored now on this run's out-of-time window with the same data, labels and code. "
            "`riskclass model promote` decides, recomputing these figures on the data of its day "
            "(reports/promotion.md, the alias history)."
        )
    if w:
        lines.append(
            f"Window: as-of {w['valid_month']}, labels in {w['label_window']} ({', '.join(w['label_events'])}), "
            f"snapshot {w['snapshot_date']}; {w['rows']} rows, {w['events']} events, rows sha256 "
            f"{w['rows_sha256'][:16]}…"
        )
    if not (g.get("challenger") or g.get("champion")):
        if g.get("champion_version") is not None:
            lines.append(f"No comparison with the champion v{g['champion_version']} was needed to decide.")
        elif g.get("decision") == "bootstrap":
            lines.append("No champion yet: the first model that passes every gate becomes champion (bootstrap).")
        else:
            lines.append("No champion to compare with.")
    else:
        lines += [
            "",
            "| model | AUC | KS | Brier | rows | stored AUC | stored KS |",
            "|---|---|---|---|---|---|---|",
            _gate_row("challenger", g.get("challenger")),
            _gate_row("champion", g.get("champion")),
            "",
            "Stored figures were measured when each model was trained, on the data of that day; the gate compares "
            "the fresh ones (the challenger must beat the champion on AUC and KS).",
        ]
    verdict = {"promoted": "promoted", "refused": "refused", "bootstrap": "bootstrap"}[g["decision"]]
    lines.append(f"\nDecision{' if promoted now' if preview else ''}: **{verdict}**")
    lines += [f"- {r}" for r in g.get("refusals", [])]
    return lines


def promotion_report(record: dict) -> str:
    """reports/promotion.md: the latest `riskclass model promote` decision as a reviewer reads it."""
    g = {
        **(record.get("gate") or {}),
        "decision": record["decision"],
        "refusals": record.get("refusals", []),
        "champion_version": record.get("champion_version"),
    }
    lines = [
        f"# 模型晋升决定 Promotion decision — v{record['candidate_version']}",
        "",
        f"- time: {record['time']}; by: {record['by']}; reason given: {record['reason']}",
        f"- champion before: v{record.get('previous_version')}; champion after: v{record.get('version')}",
        "- recorded in the alias history (`riskclass model history`) and on the candidate's MLflow run",
        "",
        *promotion_gate_section(g, preview=False),
        "",
    ]
    return "\n".join(lines)
