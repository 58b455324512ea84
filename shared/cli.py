"""`claimsctl`: the operators' and integrators' command line. Services add their own subcommands."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError

from shared.db import Conn
from shared.events import ClaimData, ClaimSubmitted, ClaimSubmittedPayload, Envelope, encode_event, parse_event_obj
from shared.settings import get_settings

T = TypeVar("T")

app = typer.Typer(help="JKN claims backbone: submit, watch and operate.", no_args_is_help=True)


def endpoints() -> tuple[str, str]:
    from shared.runtime import resolve_endpoints

    try:
        return resolve_endpoints(get_settings())
    except RuntimeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _field_errors(exc: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: {e['msg']}" for e in exc.errors(include_url=False)]


def load_event(doc: Any, *, revision: int, claim_id: str | None) -> Envelope:
    """A contract event from a JSON document: a whole event, or a bare claim wrapped as ClaimSubmitted."""
    if isinstance(doc, dict) and "event_type" in doc:
        return parse_event_obj(doc)
    claim = ClaimData.model_validate(doc)
    return ClaimSubmitted(
        occurred_at=datetime.now(UTC),
        claim_id=claim_id or f"{claim.kode_rs}-{claim.nomor_sep}-r{revision}",
        correlation_id=uuid.uuid4(),
        producer=f"hospital:{claim.kode_rs}",
        payload=ClaimSubmittedPayload(revision=revision, claim=claim),
    )


@app.command()
def submit(
    file: Annotated[Path, typer.Argument(help="An event JSON, or a bare claim (ClaimData) JSON")],
    revision: Annotated[int, typer.Option(help="For a bare claim: 0 first submission, n resubmission")] = 0,
    claim_id: Annotated[str | None, typer.Option(help="For a bare claim: the claim id (default from SEP)")] = None,
    dry_run: Annotated[bool, typer.Option(help="Validate only, publish nothing")] = False,
) -> None:
    """Validate FILE against the event contract and publish it (key = claim id)."""
    try:
        doc = json.loads(file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        typer.echo(f"error: cannot read {file}: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        event = load_event(doc, revision=revision, claim_id=claim_id)
    except ValidationError as exc:
        typer.echo(f"error: {file} is not a valid event:", err=True)
        for line in _field_errors(exc):
            typer.echo(f"  {line}", err=True)
        raise typer.Exit(1) from exc
    if dry_run:
        typer.echo(f"valid {type(event).__name__} for claim {event.claim_id}")
        return
    publish(event)
    typer.echo(json.dumps({"published": event.topic, "event_id": str(event.event_id), "claim_id": event.claim_id}))


def read_view(schema: str, query: Callable[[Conn], Awaitable[T]]) -> T:
    """Run a read-only repository query on a service's own schema (the CLI never writes a service's tables)."""
    from shared import db

    _, dsn = endpoints()

    async def run() -> T:
        pool = await db.create_pool(dsn, schema, max_size=1)
        try:
            async with pool.acquire() as conn:
                return await query(conn)
        finally:
            await pool.close()

    return asyncio.run(run())


def publish(event: Envelope) -> None:
    """Publish one event (or command) and wait for the broker's acknowledgement."""
    publish_many([event])


def publish_many(events: list[Envelope]) -> None:
    """Publish events in order, each keyed as the contract says, and wait for every acknowledgement."""
    bootstrap, _ = endpoints()
    asyncio.run(_publish(bootstrap, get_settings().broker.topic_prefix, events))


async def _publish(bootstrap: str, prefix: str, events: list[Envelope]) -> None:
    from aiokafka import AIOKafkaProducer

    from shared.kafka_security import client_options

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, **client_options())
    await producer.start()
    try:
        futures = [await producer.send(prefix + e.topic, encode_event(e), key=e.key.encode()) for e in events]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


@app.command()
def tail(
    topic: Annotated[str, typer.Argument(help="Topic to follow, e.g. claims.grouped or claims.submitted.dlq")],
    from_beginning: Annotated[bool, typer.Option(help="Start at the oldest record")] = False,
    max_records: Annotated[int, typer.Option("--max", help="Stop after this many (0: follow forever)")] = 0,
    idle_timeout: Annotated[float, typer.Option(help="Stop after this many idle seconds (0: never)")] = 0,
) -> None:
    """Print records of TOPIC as JSON lines as they arrive (dead letters with their error headers)."""
    bootstrap, _ = endpoints()
    topic = get_settings().broker.topic_prefix + topic
    asyncio.run(_tail(bootstrap, topic, from_beginning, max_records, idle_timeout))


async def _tail(bootstrap: str, topic: str, from_beginning: bool, max_records: int, idle_timeout: float) -> None:
    from aiokafka import AIOKafkaConsumer

    from shared.kafka_security import client_options

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        **client_options(),
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    seen = 0
    idle = 0.0
    try:
        while not max_records or seen < max_records:
            batch = await consumer.getmany(timeout_ms=500)
            records = [r for rs in batch.values() for r in rs]
            idle = 0.0 if records else idle + 0.5
            if idle_timeout and idle >= idle_timeout:
                return
            for rec in records:
                typer.echo(_render(rec))
                seen += 1
                if max_records and seen >= max_records:
                    return
    finally:
        await consumer.stop()


def _render(rec: Any) -> str:
    try:
        value: Any = json.loads(rec.value)
    except (TypeError, ValueError):
        value = (rec.value or b"").decode("utf-8", "backslashreplace")
    headers = {k: v.decode("utf-8", "backslashreplace") for k, v in rec.headers or ()}
    return json.dumps(
        {"topic": rec.topic, "partition": rec.partition, "offset": rec.offset,
         "key": (rec.key or b"").decode("utf-8", "backslashreplace"), "headers": headers, "value": value},
        ensure_ascii=False,
    )  # fmt: skip


@app.command()
def migrate() -> None:
    """Apply every service's migrations (also done by each service at start-up)."""
    from shared import db
    from shared.services import SERVICES

    _, dsn = endpoints()
    for spec in SERVICES():
        applied = asyncio.run(db.migrate(dsn, spec.schema, *([spec.migrations] if spec.migrations else [])))
        typer.echo(f"{spec.name}: {len(applied)} migration(s) applied")
    from shared.dlq import apply_audit_migrations

    typer.echo(f"claimsctl audit (schema ops): {len(asyncio.run(apply_audit_migrations(dsn)))} migration(s) applied")


def _register_services() -> None:
    """Mount each service's own subcommands (a service without a CLI is skipped)."""
    import importlib

    for name in ("grouper", "verifier", "payments", "notifier", "gateway", "console", "simulator"):
        try:
            module = importlib.import_module(f"services.{name}.cli")
        except ModuleNotFoundError:
            continue
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_services()

from shared import cli_dlq  # noqa: E402  (imports this module's endpoints() lazily)

cli_dlq.register(app)

from shared.cli_outbox import outbox_app  # noqa: E402

app.add_typer(outbox_app, name="outbox")

from shared.cli_db import db_app  # noqa: E402

app.add_typer(db_app, name="db")

from shared import cli_operators  # noqa: E402

cli_operators.register(app)

from shared import cli_backup  # noqa: E402

cli_backup.register(app)  # claimsctl backup / restore

from services.console.report_cli import report_app  # noqa: E402

app.add_typer(report_app, name="report")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="claimsctl")


if __name__ == "__main__":
    main()
