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


@app.command("contract-doc")
def contract_doc(out: Path = typer.Option(Path("docs/data-contract.md"), help="where to write the document")) -> None:
    """Regenerate docs/data-contract.md from the contract declarations."""
    from riskclass.contract_doc import render

    out.write_text(render(), encoding="utf-8")
    console.print(f"wrote {out}")


if __name__ == "__main__":
    app()
