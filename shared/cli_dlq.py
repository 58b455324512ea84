"""`claimsctl dlq`: list, show and redrive dead letters (logic in shared/dlq.py).

Everything printed from a dead letter (keys, header names and values, bodies) is untrusted:
it goes through shared/escaping.py, so no byte can act on the operator's terminal.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from shared import dlq
from shared.escaping import escape_bytes, escape_text
from shared.settings import get_settings

app = typer.Typer(help="Dead letters: list, show, and redrive them once each after a fix.", no_args_is_help=True)

TopicOption = Annotated[
    str | None, typer.Option("--topic", help="Source topic or its DLQ, e.g. claims.submitted (default: all)")
]
ErrorOption = Annotated[str | None, typer.Option("--error", help="Only this dlq.error, e.g. handler-error")]
ConsumerOption = Annotated[str | None, typer.Option("--consumer", help="Only letters of this dlq.consumer")]
SinceOption = Annotated[
    str | None, typer.Option("--since", help="Dead-lettered at or after: ISO date/time (UTC default) or 2h, 7d")
]


def register(root: typer.Typer) -> None:
    """Mount `claimsctl dlq` on the root command."""
    root.add_typer(app, name="dlq")


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _selection(error: str | None, consumer: str | None, since: str | None) -> dlq.Selection:
    try:
        at = dlq.parse_since(since, datetime.now(UTC)) if since else None
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    return dlq.Selection(error=error, consumer=consumer, since=at)


def _endpoints() -> tuple[str, str]:
    from shared.cli import endpoints

    return endpoints()


async def _read(bootstrap: str, topic: str | None) -> list[dlq.DlqRecord]:
    topics = [dlq.dlq_name(topic)] if topic else dlq.contract_dlq_topics()
    return await dlq.read_letters(bootstrap, get_settings().broker.topic_prefix, topics)


async def _past(dsn: str, letters: list[dlq.DlqRecord]) -> dict[str, dlq.PastRedrive]:
    conn = await dlq.connect_audit(dsn, migrate=False)  # reading creates nothing
    try:
        return await dlq.past_redrives(conn, letters)
    finally:
        await conn.close()


# --------------------------------------------------------------------------- list


@app.command("list")
def list_letters(
    topic: TopicOption = None,
    error: ErrorOption = None,
    consumer: ConsumerOption = None,
    since: SinceOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show the latest N that match")] = 50,
) -> None:
    """Dead letters, oldest first: id, when, source topic/partition/offset, consumer, error, event, reason."""
    select = _selection(error, consumer, since)
    bootstrap, dsn = _endpoints()

    async def run() -> tuple[list[dlq.DlqRecord], dict[str, dlq.PastRedrive]]:
        letters = [x for x in await _read(bootstrap, topic) if select(x)][-limit:]
        return letters, await _past(dsn, letters)

    letters, past = asyncio.run(run())
    if not letters:
        typer.echo("no dead letters match")
        return
    typer.echo(f"{'ID':<34} {'DEAD-LETTERED (UTC)':<20} {'SOURCE':<34} {'CONSUMER':<16} {'ERROR':<16} "
               f"{'EVENT_ID':<36} {'REDRIVEN':<8} REASON")  # fmt: skip
    for x in letters:
        typer.echo(_line(x, past.get(x.id)))


def _line(x: dlq.DlqRecord, past: dlq.PastRedrive | None) -> str:
    event = "(body in PostgreSQL)" if x.header(dlq.BODY_REF) is not None else str(x.event_id or "-")
    reason = escape_bytes(x.header("dlq.reason"), 80) or "-"
    return (
        f"{escape_text(x.id, 60):<34} {x.at.strftime('%Y-%m-%d %H:%M:%S'):<20} {escape_text(x.source, 80):<34} "
        f"{escape_text(x.consumer or '-', 40):<16} {escape_text(x.error or '-', 40):<16} {event:<36} "
        f"{'yes' if past else 'no':<8} {reason}"
    )


# --------------------------------------------------------------------------- show


@app.command()
def show(
    letter_id: Annotated[str, typer.Argument(metavar="ID", help="TOPIC.dlq:OFFSET, or TOPIC.dlq then OFFSET")],
    offset: Annotated[int | None, typer.Argument(help="The DLQ offset, when ID is a topic")] = None,
    preview_bytes: Annotated[int, typer.Option("--bytes", min=1, help="Show at most this much of the body")] = 2048,
) -> None:
    """One dead letter: every header (escaped), the key, the body preview, and its redrives."""
    try:
        topic, partition, at_offset = dlq.parse_id(letter_id, offset)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    bootstrap, dsn = _endpoints()

    async def run() -> tuple[dlq.DlqRecord | None, dict[str, dlq.PastRedrive]]:
        found = [x for x in await _read(bootstrap, topic) if (x.partition, x.offset) == (partition, at_offset)]
        return (found[0], await _past(dsn, found)) if found else (None, {})

    letter, past = asyncio.run(run())
    if letter is None:
        raise _fail(f"ID: no dead letter {letter_id}{'' if offset is None else f' {offset}'} on the broker", 1)
    for line in _details(letter, past.get(letter.id), preview_bytes):
        typer.echo(line)


def _details(x: dlq.DlqRecord, past: dlq.PastRedrive | None, preview_bytes: int) -> list[str]:
    lines = [
        f"id:            {escape_text(x.id)}",
        f"dlq:           {escape_text(x.topic)} partition {x.partition} offset {x.offset}",
        f"dead-lettered: {x.at.isoformat()}",
        f"source:        {escape_text(x.source)}",
        f"consumer:      {escape_text(x.consumer or '-')}",
        f"error:         {escape_text(x.error or '-')}",
        f"event_id:      {x.event_id or '-'}",
        f"key:           {escape_bytes(x.key) if x.key is not None else '(none)'}",
        f"redriven:      {_redriven(past)}",
        f"headers ({len(x.headers)}):",
    ]
    lines += [f"  {escape_text(k, 200)} = {escape_bytes(v, preview_bytes)}" for k, v in x.headers]
    if x.header(dlq.BODY_REF) is not None:
        lines.append(
            f"body:          kept in PostgreSQL ({escape_bytes(x.header(dlq.BODY_SCHEMA), 80)}.dead_letter_bodies id "
            f"{escape_bytes(x.header(dlq.BODY_REF), 40)}); the record carries a preview of {len(x.value)} bytes:"
        )
    else:
        lines.append(f"body ({len(x.value)} bytes):")
    lines.append("  " + escape_bytes(x.value, preview_bytes, keep="\n").replace("\n", "\n  "))
    return lines


def _redriven(past: dlq.PastRedrive | None) -> str:
    if past is None:
        return "no"
    return f"by {escape_text(past.by, 80)} at {past.at.isoformat()} (redrive {past.redrive_id})"


# --------------------------------------------------------------------------- redrive


@app.command()
def redrive(
    topic: Annotated[str, typer.Option("--topic", help="Source topic or its DLQ, e.g. claims.submitted")],
    error: ErrorOption = None,
    consumer: ConsumerOption = None,
    since: SinceOption = None,
    offsets: Annotated[
        list[int] | None, typer.Option("--offset", help="Only this DLQ offset (repeat for several)")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be republished; publish nothing")] = False,
    by: Annotated[str | None, typer.Option("--by", help="The operator (default: $USER), recorded in the audit")] = None,
) -> None:
    """Republish matching dead letters' ORIGINAL bytes and key to their source topic, each at most once, audited."""
    select = _selection(error, consumer, since)
    operator = by or os.environ.get("USER") or os.environ.get("LOGNAME")
    if not operator:
        raise _fail("--by: name the operator (no $USER to default to)")
    bootstrap, dsn = _endpoints()
    settings = get_settings()
    op = dlq.RedriveOperation(by=operator, prefix=settings.broker.topic_prefix, dry_run=dry_run)

    async def run() -> None:
        from shared.runtime import make_producer

        letters = [x for x in await _read(bootstrap, topic) if select(x) and (not offsets or x.offset in offsets)]
        conn = await dlq.connect_audit(dsn)
        producer = make_producer(bootstrap, settings)
        await producer.start()
        try:
            await dlq.redrive(conn, producer, op, letters)
        finally:
            await producer.stop()
            await conn.close()

    asyncio.run(run())
    for o in op.outcomes:
        typer.echo(_outcome_line(o, op))
    counts = op.counts()
    typer.echo(json.dumps({"redrive_id": str(op.redrive_id), "by": op.by, "at": op.at.isoformat(),
                           "topic": dlq.dlq_name(topic), "dry_run": dry_run, **counts}))  # fmt: skip
    if counts["failed"]:
        raise typer.Exit(1)


def _outcome_line(o: dlq.LetterOutcome, op: dlq.RedriveOperation) -> str:
    target = op.prefix + o.letter.source_topic
    words: dict[str, str] = {
        "redriven": f"redriven to {target}",
        "would-redrive": f"would redrive to {target}",
        "already-redriven": "already redriven",
        "skipped": "skipped",
        "failed": "FAILED",
    }
    detail: Any = f": {escape_text(o.detail, 300)}" if o.detail else ""
    return f"{escape_text(o.letter.id)} {words[o.outcome]} (event {o.event_id or '-'}){detail}"
