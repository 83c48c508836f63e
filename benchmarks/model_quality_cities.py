"""Model quality on three synthetic cities: the model's AUC against the truth, the observable ceiling's, the oracle's.

    python benchmarks/model_quality_cities.py [--workdir /tmp/riskclass-quality] [--cities default,seed2,seed3]

The default city is the one `make run` builds (its data/ is reused when present); the two others are
generated with other seeds and perturbed risk effects (``CITIES`` below), then ingested and given the
same indicator panel. On each, the model is fitted exactly as the train stage fits it, and again on the
true outcomes (the observable ceiling; riskclass.model.quality). Results go to
benchmarks/results/model_quality_cities.json; docs/model.md reports them.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from pathlib import Path

import numpy as np

from riskclass.indicators import load_catalog
from riskclass.indicators import run as build_features
from riskclass.ingest import ingest
from riskclass.model.dataset import out_of_time_split
from riskclass.model.pipeline import fit_with_search, snapshot_date
from riskclass.model.quality import city_quality
from riskclass.params import load_params
from riskclass.synth import generate

SECTIONS = "ABCDEFGHIJKLMNOPQR"


def _shuffled_sections(effects: dict, seed: int) -> dict:
    """The same section effects given to other sections: which industries are risky changes."""
    values = [effects[s] for s in SECTIONS]
    order = np.random.default_rng(seed).permutation(len(values))
    return {s: values[i] for s, i in zip(SECTIONS, order, strict=True)}


def _seed2(risk: dict) -> dict:
    return {
        **risk,
        "section_effect": _shuffled_sections(risk["section_effect"], 2),
        "shell_effect": 1.6,
        "contagion": 1.8,
        "young_effect": 0.8,
        "huge_capital_zero_staff_effect": 0.4,
        "unobserved_sd": 0.5,
    }


def _seed3(risk: dict) -> dict:
    return {
        **risk,
        "section_effect": _shuffled_sections(risk["section_effect"], 3),
        "intercept": -3.1,
        "persistence": 2.6,
        "penalty_history": 0.6,
        "type_effect": {"enterprise": 0.0, "individual": 0.2, "cooperative": -0.1},
        "high_tech_effect": -0.2,
        "ar_sd": 0.18,
    }


# name → (seed, how the risk effects differ from params.yaml)
CITIES = {"default": (None, None), "seed2": (20270202, _seed2), "seed3": (20270303, _seed3)}


def city_params(p: dict, name: str, workdir: Path) -> dict:
    seed, perturb = CITIES[name]
    if seed is None:
        return p
    q = copy.deepcopy(p)
    root = workdir / name
    q["synth"].update(seed=seed, out_dir=str(root / "synth"), risk=perturb(q["synth"]["risk"]))
    q["ingest"].update(raw_dir=str(root / "synth" / "raw"), out_dir=str(root / "validated"))
    q["features"].update(validated_dir=str(root / "validated"), out_dir=str(root / "features"))
    q["features"]["feedback_dir"] = str(root / "feedback")  # none: the city's own plans do not exist
    q["model"].update(
        features_dir=str(root / "features"), validated_dir=str(root / "validated"), truth_dir=str(root / "synth/truth")
    )
    return q


def build_city(q: dict, workdir: Path, name: str) -> dict:
    """Generate, ingest and build the indicator panel of one city (skipped where already built)."""
    timings = {}
    sp, fp = q["synth"], q["features"]
    if not (Path(sp["out_dir"]) / "truth" / "entity_month.parquet").exists():
        t = time.perf_counter()
        generate(
            Path(sp["out_dir"]),
            entities=sp["entities"],
            months=sp["months"],
            seed=sp["seed"],
            synth_params=sp,
            city=q["city"],
            show_progress=False,
        )
        timings["synth_s"] = round(time.perf_counter() - t, 1)
    if not (Path(q["ingest"]["out_dir"]) / "report.json").exists():
        t = time.perf_counter()
        ingest(Path(q["ingest"]["raw_dir"]), Path(q["ingest"]["out_dir"]), show_progress=False)
        timings["ingest_s"] = round(time.perf_counter() - t, 1)
    last = Path(fp["out_dir"]) / f"{fp['month']}.parquet"
    if not last.exists():
        t = time.perf_counter()
        Path(fp["feedback_dir"]).mkdir(parents=True, exist_ok=True)
        build_features(fp, fp["month"], fp["panel_from"], reports_dir=workdir / name / "reports")
        timings["features_s"] = round(time.perf_counter() - t, 1)
    return timings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/riskclass-quality"))
    ap.add_argument("--cities", default=",".join(CITIES))
    args = ap.parse_args()
    os.chdir(Path(__file__).resolve().parents[1])
    p = load_params("params.yaml")
    catalog = load_catalog(p["features"]["catalog"])
    score_params = {"anchor_probability": p["score"]["anchor_probability"], "pdo": p["score"]["pdo"]}
    results = {}
    for name in args.cities.split(","):
        q = city_params(p, name, args.workdir)
        timings = build_city(q, args.workdir, name) if name != "default" else {}
        mp, lp = q["model"], q["labels"]
        split = out_of_time_split(mp, lp, snapshot_date(Path(mp["validated_dir"])))
        t = time.perf_counter()
        figures = city_quality(
            split,
            Path(mp["truth_dir"]),
            lp["horizon_months"],
            lambda train, mp=mp: fit_with_search(train, catalog, mp, {**score_params, "bands": p["score"]["bands"]})[0],
            score_params,
            p["score"]["bands"],
        )
        timings["fit_both_s"] = round(time.perf_counter() - t, 1)
        seed, _ = CITIES[name]
        results[name] = {"seed": q["synth"]["seed"], "perturbed": seed is not None, **figures, "timings": timings}
        print(name, json.dumps(results[name], ensure_ascii=False))
    out = Path("benchmarks/results/model_quality_cities.json")
    previous = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    previous.update(results)
    out.write_text(json.dumps(previous, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
