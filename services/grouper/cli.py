"""`claimsctl group` and `claimsctl tariffs import`: the grouper's operator commands.

Exit codes of `group`: 0 grouped, 1 rejected, 2 unreadable file.
Exit codes of `tariffs import`: 0 imported, 1 invalid rows (nothing written), 2 unreadable file.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from services.grouper.domain import (
    Grouped,
    GroupingOutcome,
    ImportReport,
    Rejected,
    group_claim,
    import_tariff_csv,
    load_grouper_tables,
)
from services.grouper.domain.tables import TARIFF_DIR
from shared.events import ClaimData, ClaimSubmitted, ClaimSubmittedPayload, GroupingResult
from shared.settings import PolicySettings

EXIT_GROUPED, EXIT_REJECTED, EXIT_UNREADABLE = 0, 1, 2

app = typer.Typer(help="INA-CBG grouper: group a claim file, import tariff tables.", no_args_is_help=True)
tariffs_app = typer.Typer(help="Versioned INA-CBG tariff tables.", no_args_is_help=True)
console = Console()


def read_claim(path: Path) -> ClaimData:
    """A ClaimSubmitted event, a ClaimSubmitted payload or a bare ClaimData, from a JSON file."""
    obj: Any = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(obj, dict) and "event_type" in obj:
        return ClaimSubmitted.model_validate(obj).payload.claim
    if isinstance(obj, dict) and "claim" in obj:
        return ClaimSubmittedPayload.model_validate(obj).claim
    return ClaimData.model_validate(obj)


def outcome_json(outcome: GroupingOutcome) -> dict[str, Any]:
    """The `--json` form of an outcome."""
    if isinstance(outcome, Grouped):
        return {"outcome": "grouped", "grouping": outcome.result.model_dump(mode="json")}
    reasons = [r.model_dump(mode="json") for r in outcome.reasons]
    return {"outcome": "rejected", "error_group": outcome.error_group, "reasons": reasons}


def grouped_table(result: GroupingResult) -> Table:
    """A two-column view of a grouping result."""
    table = Table(title=f"{result.cbg_code}  {result.cbg_description}", show_header=False)
    rows = [
        ("CMG / case type / severity", f"{result.cmg} / {result.case_type} / {result.severity}"),
        ("tarif kelas (claimed class)", f"{result.tarif_kelas:,}"),
        *((f"tarif kelas {t.kelas}", f"{t.tarif:,}") for t in result.tarif_alt),
        *((f"special CMG {s.code} ({s.kind})", f"{s.tarif:,}  {s.description}") for s in result.special_cmg),
        ("total tarif INA-CBG", f"{result.total_tarif:,}"),
        ("tarif RS", f"{result.tarif_rs_total:,}"),
        ("tariff gap (RS - INA-CBG)", f"{result.tariff_gap:,}"),
        ("upgrade cost share", "-" if result.upgrade_cost_share is None else f"{result.upgrade_cost_share:,}"),
        ("grouper / tariff table", f"{result.grouper_version} / {result.tariff_table_version}"),
    ]
    for label, value in rows:
        table.add_row(label, value)
    return table


def rejected_table(outcome: Rejected) -> Table:
    """One row per reason."""
    title = f"Rejected: error group {outcome.error_group}" if outcome.error_group else "Rejected"
    table = Table("code", "field", "message", "pesan", title=title)
    for r in outcome.reasons:
        table.add_row(r.code, r.field or "", r.message_en, r.message_id)
    return table


def group(
    file: Annotated[Path, typer.Argument(help="ClaimSubmitted event JSON or bare ClaimData JSON")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """Group one claim file and print the result or every rejection reason."""
    try:
        claim = read_claim(file)
    except (OSError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        console.print(f"[red]cannot read {file}:[/red] {exc}")
        raise typer.Exit(EXIT_UNREADABLE) from exc
    policy = PolicySettings()
    outcome = group_claim(
        claim,
        load_grouper_tables(),
        sub_acute_from_day=policy.sub_acute_from_day,
        chronic_from_day=policy.chronic_from_day,
    )
    if as_json:
        typer.echo(json.dumps(outcome_json(outcome), ensure_ascii=False, indent=2))
    else:
        console.print(grouped_table(outcome.result) if isinstance(outcome, Grouped) else rejected_table(outcome))
    raise typer.Exit(EXIT_GROUPED if isinstance(outcome, Grouped) else EXIT_REJECTED)


def print_import_report(report: ImportReport) -> None:
    """Every bad row, or what was written."""
    if report.errors:
        table = Table("line", "column", "rule", "problem", title=f"{len(report.errors)} problems: nothing written")
        for e in report.errors:
            table.add_row("" if e.line is None else str(e.line), e.column or "", e.rule, e.message)
        console.print(table)
        return
    console.print(f"imported {report.version}: {report.rows} rows, {report.codes} codes")
    for path in report.written:
        console.print(f"  wrote {path}")
    if report.not_covered:
        shown = ", ".join(report.not_covered[:5])
        console.print(f"[yellow]warning:[/yellow] {len(report.not_covered)} groupable CBGs lack a tariff, e.g. {shown}")


@tariffs_app.command("import")
def import_tariffs(
    file: Annotated[
        Path, typer.Argument(help="Tariff CSV: code,regional,kelas_rs,tarif_kelas_1,tarif_kelas_2,tarif_kelas_3")
    ],
    version: Annotated[str, typer.Option("--version", help="Version name, e.g. PMK3-2023")],
    effective_from: Annotated[
        datetime, typer.Option("--effective-from", formats=["%Y-%m-%d"], help="First day (YYYY-MM-DD)")
    ],
    effective_to: Annotated[
        datetime | None, typer.Option("--effective-to", formats=["%Y-%m-%d"], help="Last day; omit for open-ended")
    ] = None,
    dest: Annotated[Path, typer.Option("--dest", help="Tariff table directory")] = TARIFF_DIR,
    label: Annotated[str, typer.Option("--label", help="Free text stored in the manifest")] = "",
) -> None:
    """Validate every row of a tariff CSV and install it as a new version (all or nothing)."""
    tables = load_grouper_tables()
    to_day: date | None = effective_to.date() if effective_to else None
    try:
        report = import_tariff_csv(
            file, version, effective_from.date(), to_day, dest, label=label,
            tariff_classes=tables.tariff_classes(), expected_codes=tables.producible_cbgs(),
        )  # fmt: skip
    except (OSError, UnicodeDecodeError) as exc:
        console.print(f"[red]cannot read {file}:[/red] {exc}")
        raise typer.Exit(EXIT_UNREADABLE) from exc
    print_import_report(report)
    raise typer.Exit(0 if report.ok else 1)


def register(root: typer.Typer) -> None:
    """Mount `group` and `tariffs` on the `claimsctl` root app."""
    root.command("group")(group)
    root.add_typer(tariffs_app, name="tariffs")


register(app)
