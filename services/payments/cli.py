"""`claimsctl payments | capitation`: finance's daily commands.

Runs are commands on `payments.commands` (applied once per run id by the service); reports are
read through the payments repository.
"""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from services.payments.adapters import repository as repo
from services.payments.domain.capitation import FktpRow, parse_members_csv
from services.payments.service import SPEC
from shared import db
from shared.cli_operators import KeyOption, OperatorOption, operator_signer
from shared.clock import get_clock
from shared.events import (
    CapitationLine,
    CapitationRunRequested,
    CapitationRunRequestedPayload,
    FundsAllocated,
    FundsAllocatedPayload,
    PaymentCorrectionRequested,
    PaymentCorrectionRequestedPayload,
    PaymentRunRequested,
    PaymentRunRequestedPayload,
    parse_event_obj,
)
from shared.operators import approval_of

payments_app = typer.Typer(help="Payment runs and reconciliation.", no_args_is_help=True)
capitation_app = typer.Typer(help="FKTP capitation.", no_args_is_help=True)
console = Console()
T = TypeVar("T")


def _read(query: Callable[[db.Conn], Awaitable[T]]) -> T:
    """A read-only repository query on this service's schema."""
    from shared.cli import read_view

    return read_view(SPEC.schema, query)


@payments_app.command("run")
def payments_run(
    funds: Annotated[int, typer.Option(help="Rupiah available to this run")],
    run_id: Annotated[str | None, typer.Option(help="Idempotency key (default RUN-<timestamp>)")] = None,
    operator: OperatorOption = None,
    key: KeyOption = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the run's summary once approved (0: don't)")] = 0,
) -> None:
    """Request a run (finance maker): held until another finance operator runs `payments approve`."""
    from shared.cli import publish

    if funds < 0:
        typer.echo("error: --funds must be >= 0", err=True)
        raise typer.Exit(1)
    signer = operator_signer(operator, key)
    run_id = run_id or f"RUN-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    command = signer.sign(
        PaymentRunRequested(
            occurred_at=get_clock().now(),
            correlation_id=uuid.uuid4(),
            producer=signer.producer,
            payload=PaymentRunRequestedPayload(run_id=run_id, funds=funds, requested_by=signer.operator_id),
        )
    )
    publish(command)
    next_step = f"claimsctl payments approve payment_run {run_id} (by another finance_approver)"
    typer.echo(json.dumps({"published": command.topic, "run_id": run_id, "requested_by": signer.operator_id,
                           "next": next_step}))  # fmt: skip
    _wait_for_run(run_id, wait)


def _wait_for_run(run_id: str, wait: float) -> None:
    deadline = time.monotonic() + wait
    while wait and time.monotonic() < deadline:
        summary = _read(lambda conn: repo.run_summary(conn, run_id))
        if summary is not None:
            typer.echo(json.dumps(summary, default=str))
            return
        time.sleep(0.5)
    if wait:
        typer.echo(f"run {run_id} not applied yet: is the payments service running?", err=True)
        raise typer.Exit(3)


@payments_app.command("correct")
def payments_correct(
    claim_id: str,
    recover: Annotated[int, typer.Option(help="Rupiah the hospital owes back (post-payment review, VEDIKA)")],
    reason: Annotated[str, typer.Option(help="The finding")],
    correction_id: Annotated[str, typer.Option(help="Idempotency key, e.g. the VEDIKA case number")],
    seq: Annotated[int, typer.Option(help="Which payment of the claim (0 main, 1.. supplementary)")] = 0,
    operator: OperatorOption = None,
    key: KeyOption = None,
) -> None:
    """Request a post-payment correction (VEDIKA): booked as a new ledger entry once a finance approver approves."""
    from shared.cli import publish

    if recover <= 0:
        typer.echo("error: --recover must be > 0 rupiah", err=True)
        raise typer.Exit(1)
    signer = operator_signer(operator, key)
    command = signer.sign(PaymentCorrectionRequested(
        occurred_at=get_clock().now(), claim_id=claim_id, correlation_id=uuid.uuid4(), producer=signer.producer,
        payload=PaymentCorrectionRequestedPayload(
            correction_id=correction_id, verification_seq=seq, recover_amount=recover, reason=reason,
            requested_by=signer.operator_id,
        ),
    ))  # fmt: skip
    publish(command)
    typer.echo(json.dumps({"published": command.topic, "correction_id": correction_id, "claim_id": claim_id}))


def _month_bounds(month: str) -> tuple[date, date]:
    first = date.fromisoformat(f"{month}-01")
    nxt = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, nxt - timedelta(days=1)


async def hospital_report(conn: db.Conn, kode_rs: str, month: str) -> dict[str, Any]:
    """Reconciliation of one hospital for one month, and every line.

    What BPJS owes: opening + verified - paid = closing, where a payment settles its amount partly in cash
    and partly by netting a VEDIKA recovery. What the hospital owes back: opening receivable + corrections
    booked - recovered = closing receivable.
    """
    first, last = _month_bounds(month)
    lines = await repo.hospital_month(conn, kode_rs, first, last)
    opening = await repo.outstanding_as_of(conn, kode_rs, first - timedelta(days=1))
    closing = await repo.outstanding_as_of(conn, kode_rs, last)
    booked = sum(r["amount"] for r in lines if first <= r["verified_on"] <= last)
    paid = [r for r in lines if r["paid_on"] is not None and first <= r["paid_on"] <= last]
    owed_back_opening = await repo.receivable_as_of(conn, kode_rs, first - timedelta(days=1))
    owed_back_closing = await repo.receivable_as_of(conn, kode_rs, last)
    corrections, recovered = await repo.receivable_moves(conn, kode_rs, first, last)
    summary = {
        "kode_rs": kode_rs,
        "month": month,
        "opening_outstanding": opening,
        "verified_amount": booked,
        "paid_amount": sum(r["amount"] for r in paid),
        "penalty_paid": sum(r["penalty"] for r in paid),
        "paid_late": sum(1 for r in paid if r["days_late"] > 0),
        "closing_outstanding": closing,
        "recovered_amount": recovered,
        "net_cash_paid": sum(r["total_paid"] - r["recovered"] for r in paid),
        "opening_receivable": owed_back_opening,
        "corrections_booked": corrections,
        "closing_receivable": owed_back_closing,
        "reconciles": opening + booked - sum(r["amount"] for r in paid) == closing
        and owed_back_opening + corrections - recovered == owed_back_closing
        and recovered == sum(r["recovered"] for r in paid),
    }
    return {"summary": summary, "lines": lines}


@payments_app.command("report")
def payments_report(
    hospital: Annotated[str, typer.Option(help="Hospital code (kode PPK)")],
    month: Annotated[str, typer.Option(help="YYYY-MM")],
    fmt: Annotated[str, typer.Option("--format", help="csv | json")] = "json",
) -> None:
    """Per-hospital reconciliation for a month: what was verified, paid, penalised and is still owed."""
    try:
        _month_bounds(month)
    except ValueError as exc:
        typer.echo(f"error: --month {month!r}: expected YYYY-MM", err=True)
        raise typer.Exit(1) from exc
    report = _read(lambda conn: hospital_report(conn, hospital, month))
    if fmt == "json":
        typer.echo(json.dumps(report, default=str, indent=2))
        return
    if fmt != "csv":
        typer.echo("error: --format must be csv or json", err=True)
        raise typer.Exit(1)
    out = io.StringIO()
    columns = ["claim_id", "nomor_sep", "verification_seq", "amount", "verified_on", "due_on", "paid_on",
               "penalty", "total_paid", "recovered", "days_late", "penalty_method", "run_id", "payment_id"]  # fmt: skip
    writer = csv.DictWriter(out, columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(report["lines"])
    out.write("\n" + ",".join(f"{k}={v}" for k, v in report["summary"].items()) + "\n")
    typer.echo(out.getvalue(), nl=False)


def capitation_lines(rows: list[FktpRow]) -> list[CapitationLine]:
    """Command lines from parsed rows (indicators as decimals)."""
    out = []
    for r in rows:
        ind = r.indicators
        out.append(
            CapitationLine(
                kode_faskes=r.kode_faskes, facility_type=r.facility_type, registered_members=r.registered_members,
                doctors=r.doctors, has_dentist=r.has_dentist, ownership=r.ownership,
                contact_rate_per_mille=float(ind.contact_rate_per_mille) if ind else None,
                non_specialist_referral_pct=float(ind.non_specialist_referral_pct) if ind else None,
                controlled_prolanis_pct=float(ind.controlled_prolanis_pct) if ind else None,
            )
        )  # fmt: skip
    return out


def merge_performance(members: str, performance: str | None) -> tuple[str, list[str]]:
    """The members file with the performance file's KBK columns joined in by kode_faskes."""
    perf_rows: dict[str, dict[str, str]] = {}
    errors: list[str] = []
    if performance:
        for line, row in enumerate(csv.DictReader(io.StringIO(performance)), start=2):
            kode = (row.get("kode_faskes") or "").strip().upper()
            if not kode:
                errors.append(f"performance line {line}: kode_faskes: required")
            elif kode in perf_rows:
                errors.append(f"performance line {line}: kode_faskes: duplicate {kode}")
            perf_rows[kode] = row
    reader = csv.DictReader(io.StringIO(members))
    indicators = ["contact_rate_per_mille", "non_specialist_referral_pct", "controlled_prolanis_pct"]
    fields = [f for f in (reader.fieldnames or []) if f not in indicators] + indicators
    out = io.StringIO()
    writer = csv.DictWriter(out, fields, lineterminator="\n")
    writer.writeheader()
    for row in reader:
        perf = perf_rows.get((row.get("kode_faskes") or "").strip().upper(), {})
        writer.writerow({**{f: row.get(f, "") for f in fields}, **{k: perf.get(k, row.get(k, "")) for k in indicators}})
    return out.getvalue(), errors


@capitation_app.command("run")
def capitation_run(
    month: Annotated[str, typer.Option(help="YYYY-MM")],
    members: Annotated[
        Path, typer.Option(help="CSV: kode_faskes,facility_type,registered_members,doctors,has_dentist")
    ],
    performance: Annotated[Path | None, typer.Option(help="CSV: kode_faskes + the three KBK indicators")] = None,
    run_id: Annotated[str | None, typer.Option(help="Idempotency key (default CAP-<month>)")] = None,
    operator: OperatorOption = None,
    key: KeyOption = None,
) -> None:
    """Request capitation for every FKTP in the files (all rows valid, or nothing); paid once approved."""
    from shared.cli import publish

    signer = operator_signer(operator, key)

    merged, errors = merge_performance(members.read_text(), performance.read_text() if performance else None)
    rows, row_errors = parse_members_csv(merged)
    errors += [f"{members.name} {e}" for e in map(str, row_errors)]
    for e in errors:
        typer.echo(f"error: {e}", err=True)
    if errors or not rows:
        typer.echo(f"{len(errors)} problem(s): nothing paid", err=True)
        raise typer.Exit(1)
    command = signer.sign(
        CapitationRunRequested(
            occurred_at=get_clock().now(),
            correlation_id=uuid.uuid4(),
            producer=signer.producer,
            payload=CapitationRunRequestedPayload(
                run_id=run_id or f"CAP-{month}", month=month, lines=capitation_lines(rows),
                requested_by=signer.operator_id,
            ),
        )
    )  # fmt: skip
    publish(command)
    table = Table("facilities", "run id", "month")
    table.add_row(str(len(rows)), command.payload.run_id, month)
    console.print(table)


@payments_app.command("allocate")
def payments_allocate(
    business_date: Annotated[
        str, typer.Option("--date", help="YYYY-MM-DD: the working day whose scheduled run spends it")
    ],
    amount: Annotated[int, typer.Option(help="Rupiah the scheduled run of that day may pay at most")],
    allocation_id: Annotated[str | None, typer.Option(help="Idempotency key (default ALLOC-<date>)")] = None,
    operator: OperatorOption = None,
    key: KeyOption = None,
) -> None:
    """Allocate funds for a day's scheduled run (finance maker); spendable once another operator approves."""
    from shared.cli import publish

    try:
        day = date.fromisoformat(business_date)
    except ValueError as exc:
        typer.echo(f"error: --date {business_date!r}: expected YYYY-MM-DD", err=True)
        raise typer.Exit(1) from exc
    if amount < 0:
        typer.echo("error: --amount must be >= 0", err=True)
        raise typer.Exit(1)
    signer = operator_signer(operator, key)
    allocation_id = allocation_id or f"ALLOC-{day.isoformat()}"
    command = signer.sign(
        FundsAllocated(
            occurred_at=get_clock().now(), correlation_id=uuid.uuid4(), producer=signer.producer,
            payload=FundsAllocatedPayload(
                allocation_id=allocation_id, business_date=day, amount=amount, allocated_by=signer.operator_id
            ),
        )
    )  # fmt: skip
    publish(command)
    typer.echo(json.dumps({"published": command.topic, "allocation_id": allocation_id,
                           "next": f"claimsctl payments approve funds_allocation {allocation_id}"}))  # fmt: skip


@payments_app.command("approve")
def payments_approve(
    subject_kind: Annotated[
        str, typer.Argument(help="payment_run | payment_correction | capitation_run | funds_allocation")
    ],
    subject_id: Annotated[str, typer.Argument(help="The run id, correction id or allocation id")],
    operator: OperatorOption = None,
    key: KeyOption = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for a payment run's summary (0: don't)")] = 30,
) -> None:
    """Approve a request another operator made (finance approver; approving your own is refused)."""
    from shared.cli import publish

    held = _read(lambda conn: repo.held_command(conn, subject_kind, subject_id))
    if held is None:
        typer.echo(f"error: no {subject_kind} {subject_id} is held for approval (claimsctl payments held)", err=True)
        raise typer.Exit(1)
    signer = operator_signer(operator, key)
    if held.requested_by == signer.operator_id:
        typer.echo(f"error: {signer.operator_id} requested {subject_kind} {subject_id}; another operator must "
                   "approve it (rule FOUR-EYES)", err=True)  # fmt: skip
        raise typer.Exit(1)
    approval = signer.sign(approval_of(parse_event_obj(held.command), signer.operator_id, get_clock().now()))
    publish(approval)
    typer.echo(json.dumps({"published": approval.topic, "approved": subject_id, "requested_by": held.requested_by,
                           "approved_by": signer.operator_id}))  # fmt: skip
    if subject_kind == "payment_run":
        _wait_for_run(subject_id, wait)


@payments_app.command("held")
def payments_held(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Requests waiting for a second operator's approval, oldest first."""
    rows = _read(repo.pending_approvals)
    if as_json:
        typer.echo(json.dumps(rows, default=str, indent=2))
        return
    table = Table("kind", "id", "requested by", "requested at (UTC)")
    for r in rows:
        table.add_row(r["subject_kind"], r["subject_id"], r["requested_by"], str(r["requested_at"])[:19])
    console.print(table)


def register(root: typer.Typer) -> None:
    """Mount the payments commands under `claimsctl`."""
    root.add_typer(payments_app, name="payments")
    root.add_typer(capitation_app, name="capitation")
