"""Command line: ``riskclass --help``."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table as RichTable

from riskclass.params import load_params

app = typer.Typer(
    help="riskclass — enterprise credit-risk classification (企业信用风险分类) for a market-regulation bureau.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True, soft_wrap=True)  # never break file paths in messages


@app.command()
def synth(
    out: Path = typer.Option(..., help="output directory (raw/ and truth/ are written inside)"),
    entities: int = typer.Option(None, help="number of market entities [params.yaml synth.entities]"),
    months: int = typer.Option(None, help="months of history [params.yaml synth.months]"),
    seed: int = typer.Option(None, help="random seed [params.yaml synth.seed]"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
) -> None:
    """Generate the synthetic city (合成城市): raw snapshot plus separate ground truth."""
    from riskclass.synth import generate

    p = load_params(params)
    sp = p["synth"]
    summary = generate(
        out,
        entities=entities or sp["entities"],
        months=months or sp["months"],
        seed=sp["seed"] if seed is None else seed,
        synth_params=sp,
        city=p["city"],
        show_progress=sys.stderr.isatty(),
    )
    table = RichTable(title=f"synthetic city → {out} (snapshot {summary['snapshot_date']})")
    for col in ("table", "rows", "corrupted", "encoding"):
        table.add_column(col)
    for name, t in summary["tables"].items():
        table.add_row(name, str(t["rows"]), str(t["corrupted"]), t["encoding"])
    console.print(table)


@app.command()
def ingest(
    raw: Path = typer.Option(..., help="raw snapshot directory (files in the data contract)"),
    out: Path = typer.Option(..., help="output directory for validated tables, quarantine and report"),
    snapshot_date: str = typer.Option(None, help="snapshot date YYYY-MM-DD (default: raw/snapshot.json)"),
    report: Path = typer.Option(None, help="also write the JSON report here (a DVC metrics file)"),
) -> None:
    """Validate a raw snapshot: accepted tables, quarantine with reasons, reconciled counts."""
    from riskclass.ingest import IngestError, RawFileError
    from riskclass.ingest import ingest as run_ingest

    try:
        result = run_ingest(raw, out, snapshot_date, show_progress=sys.stderr.isatty())
    except (RawFileError, IngestError) as exc:
        console.print(f"[bold red]ingest failed:[/] {exc}")
        raise typer.Exit(code=2) from None
    if report:
        from riskclass.io import write_json

        report.parent.mkdir(parents=True, exist_ok=True)
        write_json(
            {
                "snapshot_date": result["snapshot_date"],
                "totals": result["totals"],
                "tables": {
                    k: {m: v[m] for m in ("read", "accepted", "quarantined")} for k, v in result["tables"].items()
                },
            },
            report,
        )
    table = RichTable(title=f"ingest {raw} → {out} (snapshot {result['snapshot_date']})")
    for col in ("table", "read", "accepted", "quarantined", "main rules"):
        table.add_column(col)
    for name, t in result["tables"].items():
        rules = ", ".join(f"{k} {v}" for k, v in sorted(t["violations_by_rule"].items(), key=lambda kv: -kv[1])[:3])
        table.add_row(name, str(t["read"]), str(t["accepted"]), str(t["quarantined"]), rules)
    tot = result["totals"]
    table.add_row(
        "total",
        str(tot["read"]),
        str(tot["accepted"]),
        str(tot["quarantined"]),
        "reconciled" if tot["reconciled"] else "NOT RECONCILED",
    )
    console.print(table)


@app.command()
def features(
    month: str = typer.Option(
        None, "--month", "--as-of", help="as-of month YYYY-MM (indicators at its last day) [params features.month]"
    ),
    panel_from: str = typer.Option(None, "--from", help="first month of a panel; builds every month up to --month"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
    reports: Path = typer.Option(Path("reports"), help="where the monthly indicator report is written"),
) -> None:
    """Compute every catalog indicator for every market entity as of month end (point in time)."""
    from rich.progress import Progress

    from riskclass.indicators import CatalogError, run

    fp = load_params(params)["features"]
    month = month or str(fp["month"])
    try:
        with Progress(disable=not sys.stderr.isatty(), transient=True) as progress:
            manifest, summary = run(fp, month, panel_from, reports, progress=progress)
    except (CatalogError, FileNotFoundError, ValueError) as exc:
        console.print(f"[bold red]features failed:[/] {exc}")
        raise typer.Exit(code=2) from None
    console.print(
        f"{len(manifest['months'])} month(s) × {manifest['indicators']} indicators → {fp['out_dir']} "
        f"(catalog {manifest['catalog_sha256'][:12]}); {month}: {manifest['months'][month]['entities']:,} "
        f"entities, {int((summary['coverage'] == 0).sum())} indicator(s) at their default for every entity; "
        f"report {reports / 'indicator_report.html'}"
    )


@app.command("indicators-doc")
def indicators_doc(
    catalog: Path = typer.Option(Path("indicators.yaml"), help="indicator catalog"),
    out: Path = typer.Option(Path("docs/indicators.md"), help="where to write the document"),
) -> None:
    """Regenerate docs/indicators.md (the indicator system for reviewers) from the catalog."""
    from riskclass.indicators import load_catalog
    from riskclass.indicators.doc import render

    out.write_text(render(load_catalog(catalog)), encoding="utf-8")
    console.print(f"wrote {out}")


model_app = typer.Typer(
    help="Train, register, promote and compare risk models (MLflow registry).", no_args_is_help=True
)
app.add_typer(model_app, name="model")


@model_app.command("train")
def model_train(params: Path = typer.Option(Path("params.yaml"), help="parameters file")) -> None:
    """Fit, validate and register a challenger (bootstraps the champion when there is none)."""
    from riskclass.model.pipeline import train

    summary = train(load_params(params))
    console.print({k: summary[k] for k in ("version", "oot_auc", "scorecard_oot_auc", "gate_failures") if k in summary})


@model_app.command("promote")
def model_promote(
    reason: str = typer.Option(..., help="why this version should classify the coming months (recorded)"),
    version: str = typer.Option(None, help="registered version [default: the challenger]"),
    by: str = typer.Option(None, help="who promotes [default: the login name]"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
) -> None:
    """Make a version the champion — refused unless it passes the gates and beats the champion."""
    from riskclass.model.pipeline import PromotionRefused, promote

    try:
        record = promote(load_params(params), version, by, reason)
    except PromotionRefused as exc:
        console.print(f"[bold red]refused:[/] {exc}")
        raise typer.Exit(code=3) from None
    console.print(
        f"champion is now v{record['version']} (was v{record['previous_version']}); "
        "run `dvc repro champion` to export it"
    )


@model_app.command("export-champion")
def model_export_champion(params: Path = typer.Option(Path("params.yaml"), help="parameters file")) -> None:
    """Export the champion from the registry to the DVC-tracked model directory."""
    from riskclass.model.pipeline import PromotionRefused, export_champion

    p = load_params(params)
    try:
        version = export_champion(p)
    except PromotionRefused as exc:
        console.print(f"[bold red]no champion:[/] {exc}")
        raise typer.Exit(code=3) from None
    console.print(f"exported champion v{version} → {p['registry']['champion_dir']}")


@model_app.command("history")
def model_history(params: Path = typer.Option(Path("params.yaml"), help="parameters file")) -> None:
    """Every alias move: when, who, why, from which version to which."""
    from riskclass.model.registry import alias_history

    table = RichTable(title="alias history")
    for col in ("time", "alias", "version", "previous", "by", "reason"):
        table.add_column(col)
    for r in alias_history(load_params(params)["registry"]):
        table.add_row(r["time"], r["alias"], r["version"], str(r["previous_version"]), r["by"], r["reason"])
    console.print(table)


@model_app.command("compare")
def model_compare(
    a: str = typer.Argument(..., help="version (or alias) A"),
    b: str = typer.Argument(..., help="version (or alias) B"),
    month: str = typer.Option(None, help="month whose indicators both versions classify [features.month]"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
    out: Path = typer.Option(None, help="HTML report [reports/compare_vA_vB.html]"),
) -> None:
    """Side-by-side report: metrics, class migration matrix on one month, importance differences."""
    from riskclass.model.compare import compare, to_html

    p = load_params(params)
    month = month or str(p["features"]["month"])
    result = compare(p, a, b, month)
    out = out or Path("reports") / f"compare_v{a}_v{b}.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(to_html(result, a, b), encoding="utf-8")
    console.print(result["metrics"].to_string())
    console.print(result["migration"].to_string())
    console.print(f"same class: {result['same_class_share']:.1%}; report {out}")


@model_app.command("attach")
def model_attach(
    file: Path = typer.Argument(..., help="file to log to the challenger's MLflow run (e.g. the validation report)"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
) -> None:
    """Log a report file as an artifact of the challenger's training run."""
    from riskclass.model import registry

    rp = load_params(params)["registry"]
    version = registry.alias_version(rp, registry.CHALLENGER)
    if version is None:
        console.print("[bold red]no challenger registered[/]")
        raise typer.Exit(code=3)
    registry.attach(rp, version, file)
    console.print(f"attached {file} to the run of v{version}")


@app.command()
def classify(
    month: str = typer.Option(None, help="month YYYY-MM to classify [params classify.month]"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
) -> None:
    """Classify every market entity for one month with the champion (no DVC; see `run`)."""
    from riskclass.classify.run import classify_month

    p = load_params(params)
    month = month or str(p["classify"]["month"])
    try:
        summary = classify_month(p, month)
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[bold red]classification failed:[/] {exc}")
        raise typer.Exit(code=2) from None
    console.print(
        f"{month}: {summary['entities']:,} entities; classes {summary['classes']}; "
        f"overrides {summary['overrides']}; report {p['classify']['out_dir']}/reports/{month}.html"
    )


@app.command()
def run(
    month: str = typer.Option(..., help="month YYYY-MM to classify (explicit: never derived from today)"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
) -> None:
    """The scheduled monthly job: set classify.month in params.yaml, `dvc repro` the classes and next month's plan."""
    import subprocess

    from riskclass.indicators.builder import month_end

    try:
        month_end(month)
    except ValueError as exc:
        console.print(f"[bold red]{exc}[/]")
        raise typer.Exit(code=2) from None
    set_classify_month(params, month)
    dvc = str(Path(sys.executable).with_name("dvc"))
    result = subprocess.run([dvc, "repro", "plan"], check=False)  # classify, then draft next month's plan
    raise typer.Exit(code=result.returncode)


def set_classify_month(params: Path, month: str) -> None:
    """Rewrite the one `month:` line of the classify section, keeping the file's comments."""
    lines = params.read_text(encoding="utf-8").splitlines(keepends=True)
    in_classify = False
    for i, line in enumerate(lines):
        if not line.startswith(" ") and line.strip():
            in_classify = line.startswith("classify:")
        elif in_classify and line.lstrip().startswith("month:"):
            indent = line[: len(line) - len(line.lstrip())]
            comment = line[line.index("#") :] if "#" in line else "\n"
            lines[i] = f'{indent}month: "{month}"' + (f"  {comment}" if "#" in line else comment)
            params.write_text("".join(lines), encoding="utf-8")
            return
    raise ValueError(f"{params}: no classify.month line to set")


@app.command()
def plan(
    month: str = typer.Option(None, help="plan month YYYY-MM (draws on the classes of the month before)"),
    classes_month: str = typer.Option(None, help="or: the classified month; the plan is for the month after"),
    out: Path = typer.Option(None, help="output directory; the plan goes to OUT/<plan_id>/ [params plan.out_dir]"),
    verify: bool = typer.Option(False, help="re-derive the plan from its inputs and seed and compare with OUT"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
) -> None:
    """Draw a 双随机 plan: objects per class and item, directed draws, random inspector assignment."""
    from riskclass.classify.run import next_month
    from riskclass.indicators.builder import month_end
    from riskclass.plan import PlanError, run_plan, verify_plan
    from riskclass.plan.planner import plan_id_for

    p = load_params(params)
    if bool(month) == bool(classes_month):
        console.print("[bold red]give exactly one of --month (the plan month) or --classes-month[/]")
        raise typer.Exit(code=2)
    try:
        month = month or next_month(classes_month)
        month_end(month)
        out = Path(out or p["plan"]["out_dir"])
        if verify:
            plan_dir = out / plan_id_for(p["plan"], month, p["city"]["prefecture"])
            differ = verify_plan(p, month, plan_dir)
            if differ:
                for name, (theirs, fresh) in differ.items():
                    console.print(f"[bold red]{plan_dir / name}[/]: {theirs[:12]} ≠ re-derived {fresh[:12]}")
                raise typer.Exit(code=1)
            console.print(f"{plan_dir}: every file re-derived byte for byte from its inputs and published seed")
            return
        _, summary, path = run_plan(p, month, out)
    except (PlanError, FileNotFoundError, ValueError) as exc:
        console.print(f"[bold red]planning failed:[/] {exc}")
        raise typer.Exit(code=2) from None
    console.print(
        f"{summary['plan_id']}: {summary['checks']:,} checks of {summary['entities_checked']:,} entities "
        f"(by class {summary['by_class']}); seed {summary['seed']} from '{summary['seed_text']}'; "
        f"{summary['unassigned']} unassigned → {path}"
    )


results_app = typer.Typer(help="The feedback loop: inspection results of a plan.", no_args_is_help=True)
app.add_typer(results_app, name="results")


@results_app.command("ingest")
def results_ingest(
    file: Path = typer.Argument(..., help="results file from the inspection platform (CSV or Parquet)"),
    plan_dir: Path = typer.Option(..., help="the plan's directory (data/plans/<plan_id>)"),
    received: str = typer.Option(None, help="date the file was received, YYYY-MM-DD [today]; later dates are refused"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
) -> None:
    """Validate a plan's results; accepted rows become inspection records the indicators see."""
    from riskclass.ingest.reader import RawFileError
    from riskclass.plan.results import ResultsError, evaluate_plan, ingest_results

    p = load_params(params)
    feedback = Path(p["features"]["feedback_dir"])
    try:
        report = ingest_results(file, plan_dir, feedback, received)
        evaluation = evaluate_plan(plan_dir, feedback) if report["accepted"] else None
    except (RawFileError, ResultsError) as exc:
        console.print(f"[bold red]results ingest failed:[/] {exc}")
        raise typer.Exit(code=2) from None
    console.print(
        f"{report['plan_id']}: read {report['read']}, accepted {report['accepted']}, quarantined "
        f"{report['quarantined']} ({report['violations_by_rule']}); {report['outstanding_checks']} checks "
        f"outstanding; {report['problems_found']} problems found → {report['feedback_file']}"
    )
    if evaluation is not None:
        _print_rates(evaluation[evaluation["item_type"] == "all"], f"{report['plan_id']} problem rate by class (IPW)")


def _print_rates(rates, title: str) -> None:
    table = RichTable(title=title)
    for col in ("class", "checks", "rate", "ci_low", "ci_high", "naive_rate"):
        table.add_column(col)
    for r in rates.to_dict("records"):
        table.add_row(
            r["class"], str(r["checks"]), *(f"{r[c]:.3f}" for c in ("rate", "ci_low", "ci_high", "naive_rate"))
        )
    Console().print(table)


@results_app.command("simulate")
def results_simulate(
    plan_dir: Path = typer.Option(..., help="the plan's directory"),
    out: Path = typer.Option(..., help="results CSV to write"),
    faulty: int = typer.Option(0, help="rows to make faulty, to exercise the quarantine"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
) -> None:
    """Synthetic city only: the results the plan's checks would return, from the ground truth."""
    import pandas as pd

    from riskclass.synth.results import simulate_results

    p = load_params(params)
    items = pd.read_parquet(Path(p["features"]["validated_dir"]) / "check_items.parquet")
    frame = simulate_results(
        plan_dir, Path(p["synth"]["out_dir"]) / "truth", items, p["synth"]["inspections"], out, faulty
    )
    console.print(f"{out}: {len(frame):,} results")


audit_app = typer.Typer(help="Verify and reproduce classified months (audit manifests).", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


def _report_audit(problems: list[str], ok_message: str) -> None:
    for problem in problems:
        console.print(f"[bold red]✗[/] {problem}")
    if problems:
        raise typer.Exit(code=1)
    console.print(f"[green]✓[/] {ok_message}")


@audit_app.command("verify")
def audit_verify(
    month: str = typer.Option(..., help="month YYYY-MM"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
) -> None:
    """Exit non-zero, naming what differs, if an output, input, model file or earlier manifest changed."""
    from riskclass.classify.audit import verify

    _report_audit(verify(load_params(params), month), f"{month}: outputs, inputs, model and manifest chain match")


@audit_app.command("reproduce")
def audit_reproduce(
    month: str = typer.Option(..., help="month YYYY-MM"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
) -> None:
    """Recompute a month in a scratch directory and compare its outputs byte for byte."""
    from riskclass.classify.audit import reproduce

    _report_audit(
        reproduce(load_params(params), month), f"{month}: recomputed outputs are byte-identical to the stored ones"
    )


@app.command("history")
def history(
    uscc: str = typer.Argument(..., help="统一社会信用代码 of the entity"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
) -> None:
    """An entity's class in each classified month, and why."""
    from riskclass.classify.run import entity_history

    h = entity_history(Path(load_params(params)["classify"]["out_dir"]), uscc)
    if h.empty:
        console.print(f"no classification recorded for {uscc}")
        raise typer.Exit(code=1)
    table = RichTable(title=f"{uscc}")
    for col in ("month", "score", "class", "model_class", "override", "reason_1", "model_version"):
        table.add_column(col)
    for r in h.to_dict("records"):
        table.add_row(
            r["month"],
            str(r["score"]),
            r["class"],
            r["model_class"],
            r["override"] or "—",
            r["reason_1"],
            f"v{r['model_version']}",
        )
    console.print(table)


@app.command("contract-doc")
def contract_doc(out: Path = typer.Option(Path("docs/data-contract.md"), help="where to write the document")) -> None:
    """Regenerate docs/data-contract.md from the contract declarations."""
    from riskclass.contract_doc import render

    out.write_text(render(), encoding="utf-8")
    console.print(f"wrote {out}")


if __name__ == "__main__":
    app()
