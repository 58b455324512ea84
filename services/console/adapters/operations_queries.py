"""The operations page's reads: deadlines from the console's read model; the other schemas' and the broker's
operational data through what claimsctl already uses (shared/cli_outbox.py, shared/dlq.py, the verifier's
BrokerProgress), read-only except the audited DLQ redrive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from services.console.domain.operations import Deadline, GroupLag, OutboxBacklog, OverduePayable, lag_of
from shared import cli_outbox, dlq
from shared.db import Conn, quote_ident
from shared.settings import Settings


async def deadlines(conn: Conn, today: date, until: date, limit: int = 200) -> list[Deadline]:
    """Open pends by their resubmission date, undecided claims by their deemed-complete date and unpaid
    payables by their due date, each up to `until` (the partial indexes keep each to the open rows)."""
    rows = await conn.fetch(
        """(SELECT 'resubmit' AS kind, claim_id, kode_rs, resubmit_by AS due, NULL::bigint AS amount, NULL::int AS seq
              FROM analytics_claims WHERE status = 'pended' AND resubmit_by BETWEEN $1 AND $2
              ORDER BY resubmit_by LIMIT $3)
           UNION ALL
           (SELECT 'deemed_complete', claim_id, kode_rs, deemed_complete_on, grouped_tarif, NULL
              FROM analytics_claims WHERE status IN ('submitted', 'grouped') AND deemed_complete_on BETWEEN $1 AND $2
              ORDER BY deemed_complete_on LIMIT $3)
           UNION ALL
           (SELECT 'payment_due', claim_id, kode_rs, due_on, amount, verification_seq
              FROM analytics_payables WHERE paid_on IS NULL AND due_on BETWEEN $1 AND $2
              ORDER BY due_on LIMIT $3)""",
        today, until, limit,
    )  # fmt: skip
    return [Deadline(r["kind"], r["claim_id"], r["kode_rs"], r["due"], r["amount"], r["seq"]) for r in rows]


async def overdue_payables(conn: Conn, today: date, limit: int = 200) -> list[OverduePayable]:
    """Unpaid payables past their due date, the longest overdue first."""
    rows = await conn.fetch(
        """SELECT claim_id, verification_seq, kode_rs, coalesce(amount, 0) AS amount, due_on, overdue_as_of,
                  accrued_penalty
           FROM analytics_payables WHERE paid_on IS NULL AND due_on < $1 ORDER BY due_on, claim_id LIMIT $2""",
        today, limit,
    )  # fmt: skip
    return [
        OverduePayable(r["claim_id"], r["verification_seq"], r["kode_rs"], int(r["amount"]), r["due_on"],
                       r["overdue_as_of"], r["accrued_penalty"])
        for r in rows
    ]  # fmt: skip


async def outbox_backlog(conn: Conn, services: Sequence[tuple[str, str]]) -> list[OutboxBacklog]:
    """Per (service, schema): rows waiting for the relay, rows quarantined (claimsctl outbox failed's own
    query), and how long the oldest has waited. A schema that cannot be read says so instead of failing."""
    found = []
    for service, schema in services:
        try:
            async with conn.transaction():
                await conn.execute(f"SET LOCAL search_path TO {quote_ident(schema)}")
                row = await conn.fetchrow(
                    """SELECT count(*) AS waiting,
                              extract(epoch FROM now() - min(created_at)) AS oldest
                       FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"""
                )
                quarantined = await cli_outbox.quarantined(conn)
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError, asyncpg.InsufficientPrivilegeError) as exc:
            found.append(OutboxBacklog(service, schema, None, None, None, type(exc).__name__))
            continue
        assert row is not None
        oldest = float(row["oldest"]) if row["oldest"] is not None else None
        found.append(OutboxBacklog(service, schema, int(row["waiting"]), len(quarantined), oldest))
    return found


@dataclass(frozen=True)
class NotificationFailure:
    delivery_id: int
    event_type: str
    claim_id: str | None
    audience: str
    kode_rs: str | None
    channel: str
    target: str
    status: str
    attempts: int
    last_error: str | None
    created_at: Any


async def notification_failures(conn: Conn, notifier_schema: str, limit: int = 50) -> list[NotificationFailure]:
    """Deliveries the notifier gave up on (dead) or is retrying after a failure, newest first."""
    s = quote_ident(notifier_schema)
    try:
        rows = await conn.fetch(
            f"""SELECT d.id, d.event_type, d.claim_id, s.audience, s.kode_rs, d.channel, s.target, d.status,
                       d.attempts, d.last_error, d.created_at
                FROM {s}.deliveries d JOIN {s}.subscriptions s ON s.id = d.subscription_id
                WHERE d.status = 'dead' OR (d.status = 'pending' AND d.attempts > 0 AND d.last_error IS NOT NULL)
                ORDER BY d.created_at DESC, d.id DESC LIMIT $1""",
            limit,
        )
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError, asyncpg.InsufficientPrivilegeError):
        return []
    return [NotificationFailure(*r.values()) for r in rows]


# --------------------------------------------------------------------------- broker


async def consumer_lag(bootstrap: str, prefix: str, groups: Sequence[tuple[str, str, Sequence[str]]]) -> list[GroupLag]:
    """Per (service, group, topics): records behind. Partitions are named in the offsets request (the local
    broker, tansu, drops the connection on an all-partitions committed-offsets request)."""
    from services.verifier.adapters.progress import BrokerProgress

    progress = BrokerProgress(bootstrap, prefix)
    found = []
    for service, group, topics in groups:
        try:
            end = await progress.end_offsets(topics)
            committed = await progress.committed(group, list(end))
        except Exception as exc:  # a topic missing, the broker unreachable: shown, never the page's failure
            found.append(GroupLag(service, group, None, error=f"{type(exc).__name__}: {exc}"[:200]))
            continue
        lag, behind = lag_of(end, committed)
        found.append(GroupLag(service, group, lag, behind))
    return found


async def dead_letters(bootstrap: str, prefix: str, dsn: str) -> tuple[list[dlq.DlqRecord], dict[str, dlq.PastRedrive]]:
    """Every dead letter on the contract's DLQ topics and the past redrive of each (claimsctl dlq list's data)."""
    letters = await dlq.read_letters(bootstrap, prefix, dlq.contract_dlq_topics())
    conn = await dlq.connect_audit(dsn, migrate=False)  # reading creates nothing
    try:
        return letters, await dlq.past_redrives(conn, letters)
    finally:
        await conn.close()


async def redrive(
    settings: Settings, bootstrap: str, dsn: str, letter_ids: Sequence[str], by: str
) -> dlq.RedriveOperation:
    """Redrive the named dead letters with shared/dlq.py's `redrive`, audited in `ops.dlq_redrives` exactly as
    `claimsctl dlq redrive` is (each at most once, the audit row and the publish in one transaction)."""
    from shared.runtime import make_producer

    prefix = settings.broker.topic_prefix
    wanted = set(letter_ids)
    letters = [x for x in await dlq.read_letters(bootstrap, prefix, dlq.contract_dlq_topics()) if x.id in wanted]
    op = dlq.RedriveOperation(by=by, prefix=prefix, dry_run=False)
    conn = await dlq.connect_audit(dsn, migrate=False)  # the console's role may not create tables in `ops`
    try:
        if not await conn.fetchval(f"SELECT to_regclass('{dlq.AUDIT_SCHEMA}.dlq_redrives') IS NOT NULL"):
            await dlq.migrate_audit(conn)  # a local stack where `claimsctl migrate` never ran (its owner runs it)
    except BaseException:
        await conn.close()
        raise
    producer = make_producer(bootstrap, _as_redrive_tool(settings))
    await producer.start()
    try:
        await dlq.redrive(conn, producer, op, letters)
    finally:
        await producer.stop()
        await conn.close()
    return op


def _as_redrive_tool(settings: Settings) -> Settings:
    """The broker settings a redrive publishes with: the redrive tool's principal when the console has it."""
    from services.console.settings import get_console_settings

    console = get_console_settings()
    if not console.redrive_sasl_username:
        return settings
    broker = settings.broker.model_copy(
        update={"sasl_username": console.redrive_sasl_username, "sasl_password": console.redrive_sasl_password}
    )
    return settings.model_copy(update={"broker": broker})
