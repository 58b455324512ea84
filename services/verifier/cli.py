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
from typing import Annotated, Any, TypeVar

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


@participants_app.command("import")
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
