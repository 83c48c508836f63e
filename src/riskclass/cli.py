"""Command line: ``riskclass --help``."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table as RichTable

app = typer.Typer(
    help="riskclass — enterprise credit-risk classification (企业信用风险分类) for a market-regulation bureau.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True, soft_wrap=True)  # never break file paths in messages


@app.callback()
def _in_repository(ctx: typer.Context) -> None:
    """Commands read params.yaml and write data relative to the repository root: refuse to run elsewhere."""
    from riskclass.io import apply_umask
    from riskclass.paths import NotInRepository, repo_root

    apply_umask()  # the permission policy for every file a command writes (io.py)
    if ctx.invoked_subcommand in ("contract-doc",) or Path("params.yaml").exists():
        return
    try:
        root = repo_root()
    except NotInRepository as exc:
        console.print(f"[bold red]{exc}[/]")
        raise typer.Exit(code=2) from None
    console.print(f"[bold red]run riskclass from the repository root:[/] cd {root}")
    raise typer.Exit(code=2)


def load_params(path: Path = Path("params.yaml")) -> dict:
    """params.yaml, validated; a bad file ends the command with the named problems (exit 2)."""
    from riskclass.params import load_params as load

    try:
        return load(path)
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[bold red]parameters refused:[/]\n{exc}")
        raise typer.Exit(code=2) from None


@app.command()
def synth(
    out: Path = typer.Option(..., help="output directory (raw/ and truth/ are written inside)"),
    entities: int = typer.Option(None, help="number of market entities [params.yaml synth.entities]"),
    months: int = typer.Option(None, help="months of history [params.yaml synth.months]"),
    seed: int = typer.Option(None, help="random seed [params.yaml synth.seed]"),
    workers: int = typer.Option(
        None, min=1, help="processes for a city of several shards (synth.shard_entities) [params.yaml synth.workers]"
    ),
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
        workers=workers,
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
    workers: int = typer.Option(None, min=1, help="worker processes [params.yaml ingest.workers]"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
) -> None:
    """Validate a raw snapshot: accepted tables, quarantine with reasons, reconciled counts."""
    from riskclass.ingest import IngestError, RawFileError
    from riskclass.ingest import ingest as run_ingest

    settings = load_params(params)["ingest"]

    if snapshot_date is not None:
        from datetime import date

        try:
            date.fromisoformat(snapshot_date)
        except ValueError:
            console.print(f"[bold red]--snapshot-date must be a real date YYYY-MM-DD, not {snapshot_date!r}[/]")
            raise typer.Exit(code=2) from None
    try:
        result = run_ingest(
            raw,
            out,
            snapshot_date,
            show_progress=sys.stderr.isatty(),
            workers=workers or settings["workers"],
            parallel_min_bytes=int(settings["parallel_min_mb"] * 2**20),
            chunk_rows=settings["chunk_rows"],
        )
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
    for warning in result.get("warnings", []):
        console.print(f"[yellow]warning:[/] {warning}")
    if result.get("repairs"):
        console.print(f"{len(result['repairs'])} repair(s) made and recorded in {out / 'report.json'} (key 'repairs')")


@app.command()
def features(
    month: str = typer.Option(
        None, "--month", "--as-of", help="as-of month YYYY-MM (indicators at its last day) [params features.month]"
    ),
    panel_from: str = typer.Option(None, "--from", help="first month of a panel; builds every month up to --month"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
    reports: Path = typer.Option(Path("reports"), help="where the monthly indicator report is written"),
    engine: str = typer.Option("duckdb", help="duckdb (in process) or spark (params.yaml spark; docs/spark.md)"),
) -> None:
    """Compute every catalog indicator for every market entity as of month end (point in time)."""
    from rich.progress import Progress

    from riskclass.indicators import CatalogError, run

    p = load_params(params)
    fp = p["features"]
    month = month or str(fp["month"])
    spark_engine = _engines(p, engine)[0]
    try:
        with Progress(disable=not sys.stderr.isatty(), transient=True) as progress:
            manifest, summary = run(fp, month, panel_from, reports, progress=progress, engine=spark_engine)
    except (CatalogError, FileNotFoundError, ValueError) as exc:
        console.print(f"[bold red]features failed:[/] {exc}")
        raise typer.Exit(code=2) from None
    console.print(
        f"{len(manifest['months'])} month(s) × {manifest['indicators']} indicators → {fp['out_dir']} "
        f"(catalog {manifest['catalog_sha256'][:12]}); {month}: {manifest['months'][month]['entities']:,} "
        f"entities, {int((summary['coverage'] == 0).sum())} indicator(s) at their default for every entity; "
        f"report {reports / 'indicator_report.html'}"
    )


def _engines(p: dict, engine: str):
    """(indicator engine, classifier) for ``--engine``: (None, None) is the local path; Spark's start a session.
    No Java 17+: one line and exit 2, before any JVM starts."""
    if engine == "duckdb":
        return None, None
    if engine != "spark":
        console.print(f"[bold red]--engine must be duckdb or spark, not {engine!r}[/]")
        raise typer.Exit(code=2)
    from riskclass.spark import SparkUnavailable, session
    from riskclass.spark.features import SparkEngine
    from riskclass.spark.scoring import spark_classifier

    try:
        spark = session(p["spark"])
    except SparkUnavailable as exc:
        console.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(code=2) from None
    return SparkEngine(spark), spark_classifier(spark)


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


@contextmanager
def _registry_refusals():
    """A bad version or alias, a refused promotion: a named message and exit 3, never a traceback."""
    from riskclass.model.pipeline import PromotionRefused
    from riskclass.model.registry import RegistryError

    try:
        yield
    except (RegistryError, PromotionRefused) as exc:
        console.print(f"[bold red]refused:[/] {exc}")
        raise typer.Exit(code=3) from None


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
    from riskclass.model.pipeline import promote

    p = load_params(params)
    with _registry_refusals():
        record = promote(p, version, by, reason)
    console.print(
        f"champion is now v{record['version']} (was v{record['previous_version']}); "
        "run `dvc repro champion` to export it"
    )


@model_app.command("export-champion")
def model_export_champion(params: Path = typer.Option(Path("params.yaml"), help="parameters file")) -> None:
    """Export the champion from the registry to the DVC-tracked model directory."""
    from riskclass.model.pipeline import export_champion

    p = load_params(params)
    with _registry_refusals():
        version = export_champion(p)
    console.print(f"exported champion v{version} → {p['registry']['champion_dir']}")


@model_app.command("history")
def model_history(params: Path = typer.Option(Path("params.yaml"), help="parameters file")) -> None:
    """Every alias move and promotion decision (refusals too): when, who, why, on which figures."""
    from riskclass.model.registry import alias_history, history_summary

    table = RichTable(title="alias history")
    for col in ("time", "alias", "version", "previous", "by", "reason", "decision"):
        table.add_column(col)
    for r in alias_history(load_params(params)["registry"]):
        table.add_row(
            r["time"],
            r["alias"],
            str(r["version"]),
            str(r["previous_version"]),
            r["by"],
            r["reason"],
            history_summary(r),
        )
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
    from riskclass.periods import PeriodError, check_month

    p = load_params(params)
    try:
        month = check_month(month, "--month") if month else str(p["features"]["month"])
    except PeriodError as exc:
        console.print(f"[bold red]{exc}[/]")
        raise typer.Exit(code=2) from None
    with _registry_refusals():
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
    with _registry_refusals():
        registry.attach(rp, version, file)
    console.print(f"attached {file} to the run of v{version}")


@app.command()
def classify(
    month: str = typer.Option(..., help="month YYYY-MM to classify (explicit: never derived from today)"),
    revise: bool = typer.Option(False, help="seal a new revision of an already sealed month (a correction)"),
    backfill: bool = typer.Option(False, help="classify a month earlier than the latest sealed one"),
    reason: str = typer.Option("", help="why (required with --revise and --backfill; recorded in the ledger)"),
    by: str = typer.Option(None, help="who asks for it [the login name]"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
    engine: str = typer.Option(
        "duckdb", help="duckdb (local) or spark: indicators and scores on Spark, the same record (docs/spark.md)"
    ),
) -> None:
    """Classify every market entity for one month with the champion into a sealed record (no DVC; see `run`)."""
    import getpass

    from riskclass.classify.run import classify_month
    from riskclass.records import LockHeld, RecordError

    if revise and backfill:
        console.print("[bold red]--revise and --backfill exclude each other[/]")
        raise typer.Exit(code=2)
    p = load_params(params)
    kind = "revision" if revise else "backfill" if backfill else "monthly"
    spark_engine, spark_classifier = _engines(p, engine)
    try:
        outcome = classify_month(
            p, month, kind, reason, by or getpass.getuser(), engine=spark_engine, classifier=spark_classifier
        )
    except LockHeld as exc:
        console.print(f"[bold red]{exc}[/]")
        raise typer.Exit(code=4) from None
    except (FileNotFoundError, ValueError, RecordError) as exc:
        console.print(f"[bold red]classification refused:[/] {exc}")
        raise typer.Exit(code=2) from None
    record, summary = outcome.record, outcome.summary
    if not outcome.sealed_now:
        console.print(
            f"{month} is sealed already ({record.label}, model v{summary['model_version']}); nothing changed. "
            "A promoted model classifies the coming months; to re-classify this one: --revise --reason …"
        )
        return
    console.print(
        f"{record.label} sealed: {summary['entities']:,} entities; classes {summary['classes']}; "
        f"overrides {summary['overrides']}; report {record.path / 'report.html'}"
    )


PERIOD_FILE = Path("period.yaml")
# `riskclass run` reproduces these and what they need
MONTHLY_STAGES = ("plan", "monitor", "backtest", "regions", "reminders")


@app.command()
def monitor(
    month: str = typer.Option(..., help="sealed month YYYY-MM to report on"),
    no_alert: bool = typer.Option(False, "--no-alert", help="exit 0 even when the month is shifted (DVC stage)"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
) -> None:
    """Stability of a sealed month: its verdict, Evidently drift reports and reports/monitoring.json.

    Exit code 10 when the month's verdict is shifted (docs/monitoring.md), unless --no-alert.
    """
    from riskclass.monitor.run import SHIFTED_EXIT, monitor
    from riskclass.periods import PeriodError, check_month
    from riskclass.records import RecordError

    p = load_params(params)
    try:
        check_month(month, "--month")
        v, written, _summary = monitor(p, month)
    except (PeriodError, RecordError, FileNotFoundError) as exc:
        console.print(f"[bold red]monitor refused:[/] {exc}")
        raise typer.Exit(code=2) from None
    s = v.stability
    for path in written:
        console.print(f"report: {path}")
    console.print(f"summary: {p['monitor']['reports']['metrics']}")
    if s.get("verdict") is None:
        console.print(f"{month}: no verdict — {s.get('note')}")
        return
    names = {
        "training": "the training window",
        "validation": "the validation month (accepted on)",
        "previous": "the previous sealed month",
    }
    console.print(
        f"{month}: verdict [bold]{s['verdict']}[/] ({s['verdict_zh']}), decided against {names[s['decided_by']]}"
        + ("" if v.sealed else " (computed now: the record predates monitoring)")
    )
    for name, c in s["against"].items():
        console.print(
            f"  against {names[name]}: {c['verdict']}; score PSI {c['score_psi']:.3f}, "
            f"importance-weighted indicator CSI {c['weighted_csi']:.3f}" + (" (basis)" if name == s["basis"] else "")
        )
    if s.get("note"):
        console.print(f"note: {s['note']}")
    for r in s["responsible"]:
        console.print(f"  {r['indicator']}: CSI {r['csi']:.3f} ({r['reading']}), importance {r['importance']:.3f}")
    if s["verdict"] == "shifted" and not no_alert:
        raise typer.Exit(code=SHIFTED_EXIT)


@app.command()
def run(
    month: str = typer.Option(..., help="month YYYY-MM to classify (explicit: never derived from today)"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
) -> None:
    """The scheduled monthly job: record the month in period.yaml, `dvc repro` its classes, warnings, monitoring,
    back-test, regional analysis, reminders and next month's plan (exit code 10: classes written, the month's
    verdict is shifted)."""
    import os
    import subprocess

    from riskclass.classify.run import check_request, store_for
    from riskclass.periods import PeriodError, check_in_window, check_month, snapshot_date
    from riskclass.records import LockHeld, RecordError, exclusive
    from riskclass.records.lock import TOKEN_ENV

    p = load_params(params)
    store = store_for(p)
    try:
        check_month(month, "--month")
        with exclusive(store.root, f"riskclass run --month {month}") as token:
            validated = Path(p["features"]["validated_dir"])
            if (validated / "report.json").exists():  # a fresh checkout has no snapshot yet: the stage checks
                check_in_window(month, p["classify"]["first_month"], snapshot_date(validated))
            check_request(store, month, "monthly", "")
            write_period(PERIOD_FILE, month)
            dvc = str(Path(sys.executable).with_name("dvc"))
            env = {**os.environ, TOKEN_ENV: token}
            # classify, warnings and next month's plan; the month's monitoring, back-test and reminders
            result = subprocess.run([dvc, "repro", *MONTHLY_STAGES], check=False, env=env)
    except LockHeld as exc:
        console.print(f"[bold red]{exc}[/]")
        raise typer.Exit(code=4) from None
    except (PeriodError, RecordError, FileNotFoundError) as exc:
        console.print(f"[bold red]run refused:[/] {exc}")
        raise typer.Exit(code=2) from None
    if result.returncode == 0:
        from riskclass.monitor.run import SHIFTED_EXIT, sealed_verdict

        # the classes are sealed and the plan drawn regardless; the exit code tells the scheduler to look
        if sealed_verdict(p, month) == "shifted":
            console.print(f"[bold yellow]{month}: verdict shifted (偏移); see riskclass monitor --month {month}[/]")
            raise typer.Exit(code=SHIFTED_EXIT)
    raise typer.Exit(code=result.returncode)


def write_period(path: Path, month: str) -> None:
    """The machine-written run file DVC reads the month from (atomically replaced; params.yaml is never edited)."""
    from riskclass.io import atomic_write_bytes

    text = (
        "# Written by `riskclass run --month …`; do not edit by hand. The month the classify and plan stages are for.\n"
        f'month: "{month}"\n'
    )
    atomic_write_bytes(path, text.encode("utf-8"))


@app.command()
def plan(
    month: str = typer.Option(None, help="plan month YYYY-MM (draws on the classes of the month before)"),
    classes_month: str = typer.Option(None, help="or: the classified month; the plan is for the month after"),
    out: Path = typer.Option(None, help="output directory; the plan goes to OUT/<plan_id>/ [params plan.out_dir]"),
    verify: bool = typer.Option(False, help="re-derive the plan from its inputs and seed and compare with OUT"),
    replace: bool = typer.Option(False, help="replace a drafted plan that a re-draw would change (before results)"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
) -> None:
    """Draw a 双随机 plan: objects per class and item, directed draws, random inspector assignment."""
    from riskclass.periods import check_month, next_month
    from riskclass.plan import PlanError, run_plan, verify_plan
    from riskclass.plan.planner import plan_id_for

    p = load_params(params)
    if bool(month) == bool(classes_month):
        console.print("[bold red]give exactly one of --month (the plan month) or --classes-month[/]")
        raise typer.Exit(code=2)
    try:
        month = check_month(month, "--month") if month else next_month(check_month(classes_month, "--classes-month"))
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
        drawn, summary, path = run_plan(p, month, out, replace)
    except (PlanError, FileNotFoundError, ValueError) as exc:
        console.print(f"[bold red]planning failed:[/] {exc}")
        raise typer.Exit(code=2) from None
    if drawn.status == "kept":
        console.print(
            f"[yellow]{path} was drafted already and is kept[/]: a re-draw from today's inputs would change "
            f"{', '.join(drawn.differs)}. It may have gone to the inspection platform; replace it only on purpose "
            "(--replace, refused once results came back)"
        )
        return
    console.print(
        f"{summary['plan_id']}: {summary['checks']:,} checks of {summary['entities_checked']:,} entities "
        f"(by class {summary['by_class']}); seed {summary['seed']} from '{summary['seed_text']}'; "
        f"{summary['unassigned']} unassigned → {path}"
    )
    if not summary.get("seed_keyed"):
        console.print(
            "[yellow]the draw is not keyed[/] (no RISKCLASS_DRAW_KEY_FILE): anyone holding the published list could "
            "re-derive the seed and read each checked entity's class stratum off its hash rank "
            "(docs/inspection-planning.md)"
        )


@app.command()
def reminders(
    month: str = typer.Option(..., help="sealed month YYYY-MM whose reminders to write (explicit: never from today)"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
) -> None:
    """Risk reminders (信用风险提示) to entities: per district a CSV and printable letters; never the class."""
    from riskclass.periods import PeriodError
    from riskclass.reminders import ForbiddenText, ReminderError, run_reminders
    from riskclass.reporting import ReportError

    p = load_params(params)
    try:
        summary, target = run_reminders(p, month)
    except (ReminderError, ForbiddenText, ReportError, PeriodError, FileNotFoundError) as exc:
        console.print(f"[bold red]reminders refused:[/] {exc}")
        raise typer.Exit(code=2) from None
    table = RichTable(title=f"{month}: {summary['reminders']:,} reminders, {summary['items']:,} items → {target}")
    for col in ("district", "entities", "reminders", "items"):
        table.add_column(col)
    for code, d in summary["by_district"].items():
        table.add_row(f"{code} {d['name']}", f"{d['entities']:,}", f"{d['reminders']:,}", f"{d['items']:,}")
    console.print(table)
    if not summary["warnings"]["present"]:
        console.print(f"no early warnings for {month} ({summary['warnings']['file']}): reminders without them")


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


def _report_audit(run, ok_message: str) -> None:
    """Print an audit's problems (exit 1) and notes; a refused request (no such record, bad month) exits 2."""
    from riskclass.periods import PeriodError
    from riskclass.records import RecordError

    try:
        result = run()
    except (RecordError, PeriodError, FileNotFoundError) as exc:
        console.print(f"[bold red]audit refused:[/] {exc}")
        raise typer.Exit(code=2) from None
    for note in result.notes:
        console.print(f"[yellow]•[/] {note}")
    for problem in result.problems:
        console.print(f"[bold red]✗[/] {problem}")
    if result.problems:
        raise typer.Exit(code=1)
    console.print(f"[green]✓[/] {ok_message}")


@audit_app.command("verify")
def audit_verify(
    month: str = typer.Option(None, help="month YYYY-MM [every sealed month's current revision]"),
    revision: int = typer.Option(None, help="revision of the month [its current one]"),
    every: bool = typer.Option(False, "--all", help="every record ever sealed, old revisions included"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
) -> None:
    """Exit 1, naming what differs, if a record file, manifest, model, the history or the ledger chain changed."""
    from riskclass.classify.audit import verify
    from riskclass.periods import check_month

    p = load_params(params)
    what = "every record" if every else f"{month}" + (f" r{revision}" if revision else "") if month else "every month"
    _report_audit(
        lambda: verify(p, check_month(month, "--month") if month else None, revision, every),
        f"{what}: record files, manifests, models, history and the ledger chain match",
    )


@audit_app.command("reproduce")
def audit_reproduce(
    month: str = typer.Option(..., help="month YYYY-MM"),
    revision: int = typer.Option(None, help="revision of the month [its current one]"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
) -> None:
    """Recompute a sealed month from its own inputs and model in a scratch folder; compare byte for byte."""
    from riskclass.classify.audit import reproduce
    from riskclass.periods import check_month

    p = load_params(params)
    _report_audit(
        lambda: reproduce(p, check_month(month, "--month"), revision),
        f"{month}: recomputed outputs are byte-identical to the sealed ones",
    )


@app.command("history")
def history(
    uscc: str = typer.Argument(..., help="统一社会信用代码 of the entity"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
) -> None:
    """An entity's class in each classified month (current revisions), and why."""
    from riskclass.classify.run import entity_history

    h = entity_history(load_params(params), uscc)
    if h.empty:
        console.print(f"no classification recorded for {uscc}")
        raise typer.Exit(code=1)
    table = RichTable(title=f"{uscc}")
    for col in ("month", "rev", "score", "class", "model_class", "override", "reason_1", "model_version"):
        table.add_column(col)
    for r in h.to_dict("records"):
        table.add_row(
            r["month"],
            f"r{r['revision']}",
            str(r["score"]),
            r["class"],
            r["model_class"],
            r["override"] or "—",
            r["reason_1"],
            f"v{r['model_version']}",
        )
    console.print(table)


@app.command("backtest")
def backtest_cmd(
    month: str = typer.Option(None, help="last vintage (sealed month YYYY-MM) to back-test [every sealed month]"),
    out: Path = typer.Option(Path("reports/backtest.json"), help="JSON result (a DVC metrics file)"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
) -> None:
    """How the classes of each sealed month held up as its label window elapses: AUC, KS, class rates, alerts."""
    from riskclass.monitor.backtest import backtest, write_report
    from riskclass.records import RecordError

    p = load_params(params)
    try:
        result = backtest(p, month)
    except (FileNotFoundError, ValueError, RecordError) as exc:
        console.print(f"[bold red]back-test refused:[/] {exc}")
        raise typer.Exit(code=2) from None
    write_report(result, out)
    table = RichTable(title=f"回测 back-test (snapshot {result['snapshot_date']})")
    for col in ("vintage", "k", "view", "n", "events", "rate", "AUC", "KS", "A", "B", "C", "D", "order"):
        table.add_column(col)

    def pct(v):
        return "—" if v is None else f"{v:.1%}"

    for r in result["vintages"]:
        table.add_row(
            r["vintage"],
            f"{r['elapsed_months']}/{r['horizon_months']}",
            r["view"],
            f"{r['n']:,}",
            str(r["events"]),
            pct(r["event_rate"]),
            "—" if r["auc"] is None else f"{r['auc']:.3f}" + (" ✗" if r["auc_status"] == "below_gate" else ""),
            "—" if r["ks"] is None else f"{r['ks']:.3f}",
            *(pct(r[f"rate_{c}"]) for c in "ABCD"),
            r["order"],
        )
    Console(width=None if sys.stdout.isatty() else 140).print(table)  # a log file keeps whole columns
    for a in result["alerts"]:
        colour = "bold red" if a["level"] == "alert" else "yellow"
        console.print(f"[{colour}]{a['level']}:[/] {a['message_zh']}\n  {a['message_en']}")
    console.print(f"{result['summary']['message_zh']} / {result['summary']['message']} → {out}")


@app.command("warnings")
def warnings_cmd(
    month: str = typer.Option(..., help="sealed month YYYY-MM; earlier sealed months without warnings are done too"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
) -> None:
    """Fire the early-warning catalog (warnings.yaml) on sealed months → data/warnings/<M>.parquet."""
    from riskclass.early_warning.catalog import WarningCatalogError
    from riskclass.early_warning.fire import WarningError, run_warnings
    from riskclass.indicators import CatalogError

    p = load_params(params)
    try:
        done = run_warnings(p, month)
    except (WarningError, WarningCatalogError, CatalogError, FileNotFoundError, ValueError) as exc:
        console.print(f"[bold red]warnings refused:[/] {exc}")
        raise typer.Exit(code=2) from None
    for m in done:
        fired = sum(m["counts"].values())
        console.print(
            f"{m['month']}: {m['status']}; {fired:,} warnings on {m['entities']:,} entities; "
            f"addresses red/yellow/green {m['addresses']['red']}/{m['addresses']['yellow']}/{m['addresses']['green']}"
            + (
                ""
                if m["history"]["previous_month"]
                else " (no sealed previous month: class/score-change warnings cannot fire)"
            )
        )


@app.command("roster")
def roster_cmd(
    month: str = typer.Option(..., help="sealed month YYYY-MM; earlier sealed months without a roster are made too"),
    replace: bool = typer.Option(False, help="rewrite stored months a recomputation would change (recorded)"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
) -> None:
    """Trigger-based supervision (触发式监管): the roster of month M and the triggers fired → data/roster/."""
    from riskclass.records import RecordError
    from riskclass.triggers.run import run_roster
    from riskclass.triggers.sources import TriggerError

    p = load_params(params)
    if not p["triggers"]["enabled"]:
        console.print("triggers.enabled is false: no roster")
        return
    try:
        done = run_roster(p, month, replace)
    except (TriggerError, RecordError, FileNotFoundError, ValueError) as exc:
        console.print(f"[bold red]roster refused:[/] {exc}")
        raise typer.Exit(code=2) from None
    for m in done:
        kinds = ", ".join(f"{k} {v}" for k, v in m["triggers_by_kind"].items() if v)
        line = (
            f"{m['month']}: {m['status']}; roster {m['roster']:,} (+{m['enrolled']} enrolled, "
            f"-{m['removed']} removed, {m['grace_ended']} grace ended); triggers {m['triggers_fired']}"
            + (f" ({kinds})" if kinds else "")
            + f" on {m['entities_triggered']} entities"
        )
        console.print(
            f"[yellow]{line}[/]: kept, a recomputation would change {m['differs']}" if m["status"] == "kept" else line
        )


@app.command("regions")
def regions_cmd(
    month: str = typer.Option(..., help="sealed month YYYY-MM to analyse"),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
) -> None:
    """Regional and industry risk: shrunk cell rates, trends, hot spots, directed and special recommendations."""
    from riskclass.records import RecordError
    from riskclass.regions.run import RegionsError, run

    p = load_params(params)
    try:
        result = run(p, month)
    except (RegionsError, RecordError, FileNotFoundError, ValueError) as exc:
        console.print(f"[bold red]regions refused:[/] {exc}")
        raise typer.Exit(code=2) from None
    s = result["summary"]
    console.print(
        f"{s['month']}: outcome vintage {s['vintage']} ({s['elapsed_months']}/{s['horizon_months']} months elapsed), "
        f"city event rate {s['city_event_rate']:.1%}; {s['directed_entries']} directed entries"
    )
    for i, h in enumerate(s["top_hot_spots"], 1):
        console.print(
            f"  {i}. {h['name_zh']} ({h['cell']}, {h['entities']:,} entities): shrunk {h['event_shrunk']:.1%} "
            f"[{h['event_low']:.1%}, {h['event_high']:.1%}], raw {h['event_raw']:.1%}"
        )
    if s["trend_note"]:
        console.print(f"[yellow]{s['trend_note']}[/]")
    console.print(f"→ {p['regions']['out_dir']}/{s['month']}/, {p['regions']['metrics']}")


@app.command("contract-doc")
def contract_doc(out: Path = typer.Option(Path("docs/data-contract.md"), help="where to write the document")) -> None:
    """Regenerate docs/data-contract.md from the contract declarations."""
    from riskclass.contract_doc import render

    out.write_text(render(), encoding="utf-8")
    console.print(f"wrote {out}")


@app.command("report-export")
def report_export(
    notebook: Path = typer.Argument(..., help="an executed notebook (reports/NN_name.ipynb)"),
    out: Path = typer.Option(None, help="the HTML to write [the notebook's path with .html]"),
) -> None:
    """Export an executed notebook as a report for readers: no code cells, nothing loaded from the network."""
    from riskclass.reporting import ReportError, export_notebook

    try:
        path = export_notebook(notebook, out)
    except (ReportError, FileNotFoundError) as exc:
        console.print(f"[bold red]report refused:[/] {exc}")
        raise typer.Exit(code=2) from None
    console.print(f"wrote {path}")


if __name__ == "__main__":
    app()
