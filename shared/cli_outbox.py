"""`claimsctl outbox`: the rows a relay has quarantined because the broker refused them, and their retry.

The outbox is the kernel's table (every service schema has one), not a service's domain state: clearing a
quarantine only hands the row back to the service's own relay, which publishes it in id order and so
before the rows of the same topic and key it has been holding back.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import asyncpg
import typer

from shared.db import Conn

T = TypeVar("T")

outbox_app = typer.Typer(help="Outbox rows the broker refused (quarantined by the relay), and their retry.")

ServiceOption = Annotated[str | None, typer.Option("--service", help="A service name (grouper, verifier, ...)")]
SchemaOption = Annotated[str | None, typer.Option("--schema", help="A database schema directly, instead of a service")]


def _schemas(service: str | None, schema: str | None) -> list[tuple[str, str]]:
    """(label, schema) pairs to look in: the one asked for, else every service's."""
    from shared.services import SERVICES

    if schema:
        return [(schema, schema)]
    specs = SERVICES()
    if service:
        specs = [s for s in specs if s.name == service]
        if not specs:
            names = ", ".join(s.name for s in SERVICES())
            typer.echo(f"error: --service: no service named {service!r} (known: {names})", err=True)
            raise typer.Exit(2)
    return [(s.name, s.schema) for s in specs]


def _on_schema(schema: str, work: Callable[[Conn], Awaitable[T]]) -> T:
    from shared import db
    from shared.cli import endpoints

    _, dsn = endpoints()

    async def run() -> T:
        pool = await db.create_pool(dsn, schema, max_size=1)
        try:
            async with pool.acquire() as conn:
                return await work(conn)
        finally:
            await pool.close()

    try:
        return asyncio.run(run())
    except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError) as exc:
        typer.echo(f"error: schema {schema!r}: no quarantine-ready outbox ({exc}); run `claimsctl migrate`", err=True)
        raise typer.Exit(2) from exc


async def quarantined(conn: Conn) -> list[dict[str, Any]]:
    """Quarantined rows, oldest first, with what the broker said."""
    rows = await conn.fetch(
        """SELECT id, topic, key, octet_length(value) AS size, attempts, error, failed_at, created_at
           FROM outbox WHERE sent_at IS NULL AND failed_at IS NOT NULL ORDER BY id"""
    )
    return [
        {
            "id": r["id"],
            "topic": r["topic"],
            "key": (r["key"] or b"").decode("utf-8", "backslashreplace"),
            "size": r["size"],
            "attempts": r["attempts"],
            "error": r["error"],
            "failed_at": r["failed_at"].isoformat(),
            "created_at": r["created_at"].isoformat(),
        }
        for r in rows
    ]


async def release(conn: Conn, schema: str, row_id: int, by: str) -> bool:
    """Hand a quarantined row back to the relay (and wake it); False if `row_id` is not quarantined."""
    from shared.outbox import notify_channel

    async with conn.transaction():
        released = await conn.fetchval(
            """UPDATE outbox SET failed_at = NULL, retried_at = now(), retried_by = $2
               WHERE id = $1 AND sent_at IS NULL AND failed_at IS NOT NULL RETURNING id""",
            row_id,
            by,
        )
        await conn.execute("SELECT pg_notify($1, '')", notify_channel(schema))
    return released is not None


@outbox_app.command("failed")
def failed(service: ServiceOption = None, schema: SchemaOption = None) -> None:
    """List quarantined rows as JSON lines: id, topic, key, size, attempts, error, failed_at."""
    for label, name in _schemas(service, schema):
        for row in _on_schema(name, quarantined):
            typer.echo(json.dumps({"service": label, **row}, ensure_ascii=False))


@outbox_app.command("retry")
def retry(
    row_id: Annotated[int, typer.Argument(metavar="ID", help="The row id `claimsctl outbox failed` shows")],
    service: ServiceOption = None,
    schema: SchemaOption = None,
    by: Annotated[str | None, typer.Option(help="Who retries (recorded on the row); default: your login")] = None,
) -> None:
    """Re-send one quarantined row: its relay publishes it next, before the rows held behind it."""
    targets = _schemas(service, schema)
    if len(targets) != 1:
        typer.echo("error: ID is per schema: name the row's --service (or --schema)", err=True)
        raise typer.Exit(2)
    label, name = targets[0]
    who = by or getpass.getuser()
    if not _on_schema(name, lambda conn: release(conn, name, row_id, who)):
        typer.echo(f"error: ID: no quarantined outbox row {row_id} in {label}", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps({"service": label, "id": row_id, "retried_by": who, "status": "handed back to the relay"}))
