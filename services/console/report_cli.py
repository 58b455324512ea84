"""`claimsctl report`: the console's analytics as files: the table as CSV and the chart as PNG (or SVG).

Reads the console's read model (schema `console`), the same figures the /analytics pages show.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from services.console.domain import analytics

report_app = typer.Typer(
    help="Analytics from the console's read model as CSV and PNG: tariff gap, top diagnoses, pending rate, "
    "payment timeliness, capitation.",
    no_args_is_help=True,
)

MonthOption = Annotated[str | None, typer.Option("--month", help="YYYY-MM (default: every month)")]
CsvOption = Annotated[Path | None, typer.Option("--csv", help="Write the table here (default: print it)")]
PngOption = Annotated[Path | None, typer.Option("--png", help="Write the chart here as PNG")]
SvgOption = Annotated[Path | None, typer.Option("--svg", help="Write the chart here as SVG")]
LangOption = Annotated[str, typer.Option("--lang", help="id (Bahasa Indonesia) or en")]
HospitalOption = Annotated[str | None, typer.Option("--hospital", help="Only this hospital (kode PPK)")]
SchemaOption = Annotated[str, typer.Option("--schema", help="The console's database schema")]


def register(root: typer.Typer) -> None:
    """Mount `claimsctl report` on the root command."""
    root.add_typer(report_app, name="report")


def _month(text: str | None) -> date | None:
    try:
        return analytics.parse_month(text)
    except ValueError as exc:
        typer.echo(f"error: --month: {text!r} is not YYYY-MM", err=True)
        raise typer.Exit(2) from exc


def run_report(
    kind: str, month: str | None, csv: Path | None, png: Path | None, svg: Path | None, lang: str,
    hospital: str | None, schema: str,
) -> None:  # fmt: skip
    """Build the report from the read model and write what was asked for."""
    from services.console.application.analytics import build_report, render_chart, title, to_csv
    from shared.cli import read_view

    if lang not in ("id", "en"):
        typer.echo("error: --lang: id or en", err=True)
        raise typer.Exit(2)
    at = _month(month)
    report = read_view(schema, lambda conn: build_report(kind, conn, at, hospital))
    table = to_csv(report, lang)
    if csv is None:
        typer.echo(table, nl=False)
    else:
        csv.write_text(table, encoding="utf-8")
    if png is not None:
        png.write_bytes(render_chart(report, lang, "png"))
    if svg is not None:
        svg.write_bytes(render_chart(report, lang, "svg"))
    written = [str(p) for p in (csv, png, svg) if p is not None]
    if written:
        typer.echo(f"{title(report, lang)}: {len(report.rows)} row(s) -> {', '.join(written)}", err=True)


def _command(kind: str) -> None:
    def command(
        month: MonthOption = None, csv: CsvOption = None, png: PngOption = None, svg: SvgOption = None,
        lang: LangOption = "id", hospital: HospitalOption = None, schema: SchemaOption = "console",
    ) -> None:  # fmt: skip
        run_report(kind, month, csv, png, svg, lang, hospital, schema)

    command.__doc__ = analytics.label(kind, "en") + "."
    report_app.command(kind)(command)


for _kind in analytics.REPORTS:
    _command(_kind)
