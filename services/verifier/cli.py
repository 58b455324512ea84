"""`claimsctl review | dispute | claim | participants`: the verifiers' daily commands.

Decisions and rulings are commands published to `verifier.commands` (the service applies,
deduplicates and audits them); lists and timelines are read through the verifier's repository.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_args

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from services.verifier.adapters import repository as repo
from services.verifier.service import SPEC
from shared import db
from shared.cli_operators import KeyOption, OperatorOption, operator_signer
from shared.clock import get_clock
from shared.events import (
    DisputeResolutionRequested,
    DisputeResolutionRequestedPayload,
    ParticipantChanged,
    ParticipantChangedPayload,
    ReviewDecisionRequested,
    ReviewDecisionRequestedPayload,
)
from shared.operators import OperatorSigner

review_app = typer.Typer(help="Claims held for a human reviewer.", no_args_is_help=True)
dispute_app = typer.Typer(help="Disputes filed by hospitals.", no_args_is_help=True)
claim_app = typer.Typer(help="One claim's timeline.", no_args_is_help=True)
participants_app = typer.Typer(help="The eligibility projection.", no_args_is_help=True)
console = Console()
T = TypeVar("T")


def _read(query: Callable[[db.Conn], Awaitable[T]]) -> T:
    """A read-only repository query on this service's schema."""
    from shared.cli import read_view

    return read_view(SPEC.schema, query)


def _state(claim_id: str) -> str | None:
    return _read(lambda conn: repo.state_of(conn, claim_id))


def _publish(event: Any) -> None:
    from shared.cli import publish

    publish(event)
    typer.echo(json.dumps({"published": event.topic, "event_id": str(event.event_id), "claim_id": event.claim_id}))


@review_app.command("list")
def review_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Claims waiting for a reviewer, oldest first, with why the rules held them."""
    rows = _read(repo.review_queue)
    if as_json:
        typer.echo(json.dumps(rows, default=str, indent=2))
        return
    table = Table("claim", "SEP", "hospital", "submitted", "claimed (Rp)", "held because")
    for r in rows:
        why = "; ".join(f"{x['code']}: {x['message_en']}" for x in r["review_reasons"])
        table.add_row(r["claim_id"], r["nomor_sep"], r["kode_rs"], r["submitted_on"], f"{r['claimed_amount']:,}", why)
    console.print(table)


@review_app.command("decide")
def review_decide(
    claim_id: str,
    outcome: Annotated[str, typer.Option(help="verify | adjust | pend | reject")],
    note: Annotated[str, typer.Option(help="Why")] = "",
    amount: Annotated[int | None, typer.Option(help="Approved amount, for adjust")] = None,
    missing: Annotated[list[str] | None, typer.Option(help="Missing document type, for pend (repeatable)")] = None,
    operator: OperatorOption = None,
    key: KeyOption = None,
) -> None:
    """Decide a claim held for review (signed by the reviewer: --operator/--key; audited under that name)."""
    state = _state(claim_id)
    if state != "in_review":
        typer.echo(
            f"error: claim {claim_id} is {state or 'unknown'}, not in review (rule V-STATE-NOT-IN-REVIEW)", err=True
        )
        raise typer.Exit(1)
    signer = operator_signer(operator, key)
    try:
        payload = ReviewDecisionRequestedPayload(
            outcome=outcome,
            reviewer=signer.operator_id,
            note=note,
            approved_amount=amount,
            missing=missing or [],
        )
    except ValidationError as exc:
        typer.echo(f"error: {exc.errors(include_url=False)[0]['loc'][0]}: {exc.errors()[0]['msg']}", err=True)
        raise typer.Exit(1) from exc
    if outcome == "adjust" and amount is None:
        typer.echo("error: --amount is required for adjust", err=True)
        raise typer.Exit(1)
    _publish(_command(ReviewDecisionRequested, claim_id, payload, signer))


@dispute_app.command("resolve")
def dispute_resolve(
    claim_id: str,
    outcome: Annotated[str, typer.Option(help="upheld | partial | denied")],
    note: Annotated[str, typer.Option(help="Why (recorded and sent to the hospital)")],
    amount: Annotated[int | None, typer.Option(help="Supplementary amount (required for partial)")] = None,
    operator: OperatorOption = None,
    key: KeyOption = None,
) -> None:
    """Rule on a disputed claim (signed by a TKMKB member); a hospital that wins gets a supplementary verification."""
    state = _state(claim_id)
    if state != "disputed":
        typer.echo(f"error: claim {claim_id} is {state or 'unknown'}, not disputed (rule V-DISPUTE-NOT-OPEN)", err=True)
        raise typer.Exit(1)
    if outcome == "partial" and amount is None:
        typer.echo("error: --amount is required for partial", err=True)
        raise typer.Exit(1)
    signer = operator_signer(operator, key)
    try:
        payload = DisputeResolutionRequestedPayload(
            outcome=outcome,
            amount=amount,
            reviewer=signer.operator_id,
            note=note,
        )
    except ValidationError as exc:
        typer.echo(f"error: {exc.errors(include_url=False)[0]['loc'][0]}: {exc.errors()[0]['msg']}", err=True)
        raise typer.Exit(1) from exc
    _publish(_command(DisputeResolutionRequested, claim_id, payload, signer))


def _command(cls: Any, claim_id: str, payload: Any, signer: OperatorSigner) -> Any:
    return signer.sign(
        cls(
            # The instant the operator acts dates the decision (README "Deadlines judged on receipt time"),
            # on the deployment's clock so a fixed or simulated deployment agrees with the verifier.
            occurred_at=get_clock().now(),
            claim_id=claim_id,
            correlation_id=uuid.uuid4(),
            producer=signer.producer,
            payload=payload,
        )
    )


@claim_app.command("show")
def claim_show(claim_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The claim's timeline: every event in and out, rule results, decisions and rulings."""
    rows = _read(lambda conn: repo.timeline(conn, claim_id))
    if not rows:
        typer.echo(f"error: no history for claim {claim_id}", err=True)
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(rows, default=str, indent=2))
        return
    table = Table("at (UTC)", "kind", "event", "detail")
    for r in rows:
        table.add_row(str(r["at"])[:19], r["kind"], r["event_type"] or "", json.dumps(r["detail"], default=str)[:160])
    console.print(table)


PARTICIPANT_COLUMNS = (
    "nomor_kartu",
    "nik",
    "status",
    "status_reason",
    "kelas_hak",
    "member_type",
    "valid_from",
    "valid_to",
)
OPTIONAL_PARTICIPANT_COLUMNS = ("member_category",)  # pemda, ppu_phk or empty: who may not upgrade


def parse_participants(text: str) -> tuple[list[ParticipantChangedPayload], list[str]]:
    """Rows of a participants CSV; every bad row is reported with its line number and field."""
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in PARTICIPANT_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        return [], [f"line 1: missing column(s) {', '.join(missing)}"]
    rows: list[ParticipantChangedPayload] = []
    errors: list[str] = []
    for line, raw in enumerate(reader, start=2):
        known = (*PARTICIPANT_COLUMNS, *OPTIONAL_PARTICIPANT_COLUMNS)
        clean: dict[str, object] = {k: (v.strip() or None) for k, v in raw.items() if k in known}
        kelas = clean.get("kelas_hak")
        if isinstance(kelas, str) and kelas.isdigit():
            clean["kelas_hak"] = int(kelas)  # a CSV's "2" is the class 2 of the contract's value set (1, 2, 3)
        try:
            rows.append(ParticipantChangedPayload.model_validate(clean))
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                errors.append(f"line {line}: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}")
    return rows, errors


# What each column means, shown by `claimsctl participants import --help`; the value sets come from the
# ParticipantChangedPayload contract (shared/events.py), so the help cannot promise values the import refuses.
PARTICIPANT_COLUMN_MEANINGS = {
    "nomor_kartu": "JKN card number (required)",
    "nik": "national identity number, 16 digits (required)",
    "status": "{values} (required)",
    "status_reason": "why not active, e.g. arrears; empty if none",
    "kelas_hak": "care class entitlement, {values}; 1 is the highest (required)",
    "member_type": "{values} (required); PBI subsidised, PPU wage earner, PBPU self-paying, BP non-worker",
    "valid_from": "first day of this record, YYYY-MM-DD (required)",
    "valid_to": "last day, inclusive, YYYY-MM-DD; empty: open-ended",
    "member_category": "optional column: {values}, or empty for neither; pemda = registered by a local "
    "government, ppu_phk = laid-off PPU member in continued coverage (both barred from class upgrades)",
}
PARTICIPANT_EXAMPLE_ROW = "0001234567890,3171012345678901,active,,3,PBI,2020-01-01,,"


def _allowed_values(column: str) -> str:
    """The contract's value set for a column, e.g. `active | inactive | suspended`."""
    annotation = ParticipantChangedPayload.model_fields[column].annotation
    literal = next((a for a in get_args(annotation) if get_args(a)), annotation)  # `Literal[...] | None`
    return " | ".join(str(v) for v in get_args(literal))


def participants_import_help() -> str:
    """The import's help: what it does, then one line per CSV column and an example line."""
    lines = [
        f"{c}: {m.format(values=_allowed_values(c)) if '{values}' in m else m}"
        for c, m in PARTICIPANT_COLUMN_MEANINGS.items()
    ]
    header = ",".join((*PARTICIPANT_COLUMNS, *OPTIONAL_PARTICIPANT_COLUMNS))
    return (
        "Publish a membership CSV as participants.changed events (all rows valid, or none published).\n\n"
        "The first line names the columns (any order; no comment lines), one member's validity period a row:\n\n"
        "\b\n" + "\n".join(lines) + "\n\n"
        "\b\nExample (examples/participants.csv):\n" + header + "\n" + PARTICIPANT_EXAMPLE_ROW
    )


@participants_app.command("import", help=participants_import_help())
def participants_import(file: Path) -> None:
    """Publish a membership CSV as participants.changed events (all rows valid, or none published)."""
    rows, errors = parse_participants(file.read_text())
    for e in errors:
        typer.echo(f"error: {file}:{e.removeprefix('line ')}", err=True)
    if errors:
        typer.echo(f"{len(errors)} problem(s): nothing imported", err=True)
        raise typer.Exit(1)
    from shared.cli import publish_many

    publish_many(
        [
            ParticipantChanged(
                occurred_at=datetime.now(UTC), correlation_id=uuid.uuid4(), producer="claimsctl", payload=p
            )
            for p in rows
        ]
    )
    typer.echo(json.dumps({"published": "participants.changed", "rows": len(rows), "as_of": date.today().isoformat()}))


def register(root: typer.Typer) -> None:
    """Mount the verifier's commands under `claimsctl`."""
    root.add_typer(review_app, name="review")
    root.add_typer(dispute_app, name="dispute")
    root.add_typer(claim_app, name="claim")
    root.add_typer(participants_app, name="participants")
