"""Transactional outbox: events are rows written with the state change, published by a relay.

The relay wakes on LISTEN/NOTIFY (and polls as a fallback), takes unsent rows with
`FOR UPDATE SKIP LOCKED`, publishes them, waits for the broker's acknowledgement and
only then marks them sent. A crash between publish and mark means the rows are
published again: consumers deduplicate by `event_id` (the inbox).

One relay per service schema is active at a time (a PostgreSQL advisory lock): a
second instance's relay stands by, so events of one claim are never published out
of order by two relays racing.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer

from shared import metrics
from shared.db import Conn, advisory_key
from shared.events import Envelope, encode_event

log = structlog.get_logger(__name__)

Header = tuple[str, bytes]

# aiokafka's default max_request_size is 1 MiB for a whole produce request: a row must stay below it with
# room for the record's framing, or the broker refuses it and (before quarantine) the relay would spin on it.
DEFAULT_MAX_OUTPUT_BYTES = 1_000_000


class OutputTooLarge(Exception):
    """An outgoing row that the broker would refuse; raised when it is written, not when it is sent."""

    code = "output-too-large"

    def __init__(self, topic: str, size: int, limit: int) -> None:
        super().__init__(
            f"the {topic} record this event produces would be {size} bytes; the limit is {limit} "
            "(KAFKA_MAX_OUTPUT_BYTES)"
        )
        self.size = size


@dataclass(frozen=True)
class OutboxRow:
    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[Header, ...] = ()
    event_id: str | None = None

    @property
    def size(self) -> int:
        """Bytes the record takes on the wire, near enough: key, value and headers."""
        return len(self.key or b"") + len(self.value) + sum(len(k) + len(v or b"") for k, v in self.headers)

    @classmethod
    def for_event(cls, event: Envelope) -> OutboxRow:
        """The row that publishes `event` on its topic, keyed by claim (or card) number."""
        headers = (("event_type", str(getattr(event, "event_type", "")).encode()),)
        return cls(event.topic, event.key.encode(), encode_event(event), headers, str(event.event_id))


def headers_json(headers: Sequence[Header]) -> str:
    """Headers as jsonb text (base64 names and values: any bytes survive)."""
    return _headers_json(headers)


def _headers_json(headers: Sequence[Header]) -> str:
    # Headers may hold any bytes (a dead letter keeps the original's, NUL included, which jsonb refuses
    # in text): keys and values travel base64-encoded.
    return json.dumps([[_b64(k.encode("utf-8", "surrogateescape")), _b64(v or b"")] for k, v in headers])


def _headers_from_json(raw: str) -> list[Header]:
    return [(base64.b64decode(k).decode("utf-8", "surrogateescape"), base64.b64decode(v)) for k, v in json.loads(raw)]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def notify_channel(schema: str) -> str:
    """The NOTIFY channel a schema's relay listens on."""
    return f"outbox_{schema}"


async def write_rows(conn: Conn, schema: str, rows: Sequence[OutboxRow]) -> None:
    """Insert outbox rows in the caller's transaction (one round trip) and wake the relay on commit."""
    if not rows:
        return
    await conn.execute(
        """INSERT INTO outbox (topic, key, value, headers, event_id)
           SELECT t, k, v, h::jsonb, e::uuid
           FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::text[], $5::text[]) AS u(t, k, v, h, e)""",
        [r.topic for r in rows],
        [r.key for r in rows],
        [r.value for r in rows],
        [_headers_json(r.headers) for r in rows],
        [r.event_id for r in rows],
    )
    await conn.execute("SELECT pg_notify($1, '')", notify_channel(schema))


RowWriter = Callable[[Conn, list[tuple[Any, ...]]], Awaitable[None]]


@dataclass
class Tx:
    """A unit of work: one database transaction, the events it will publish, and rows written in bulk.

    `buffer` lets a handler queue rows (an audit trail, say) that are written with one statement per
    batch at `flush` instead of one round trip per event.
    """

    conn: Conn
    schema: str
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    pending: list[OutboxRow] = field(default_factory=list)
    buffered: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    writers: dict[str, RowWriter] = field(default_factory=dict)

    def emit(self, event: Envelope) -> None:
        """Publish `event` if, and only if, this transaction commits; refuse it now if it cannot fit."""
        row = OutboxRow.for_event(event)
        if row.size > self.max_output_bytes:
            raise OutputTooLarge(row.topic, row.size, self.max_output_bytes)
        self.pending.append(row)

    def emit_row(self, row: OutboxRow) -> None:
        """Publish a raw row (dead letters keep the original bytes; the kernel sizes them itself)."""
        self.pending.append(row)

    def buffer(self, name: str, row: tuple[Any, ...], writer: RowWriter) -> None:
        """Queue a row for `writer`, which gets every queued row of `name` at flush."""
        self.buffered.setdefault(name, []).append(row)
        self.writers[name] = writer

    def mark(self) -> tuple[int, dict[str, int]]:
        """Where the queues stand, to undo one event's part with `rollback_to`."""
        return len(self.pending), {k: len(v) for k, v in self.buffered.items()}

    def rollback_to(self, mark: tuple[int, dict[str, int]]) -> None:
        """Forget what was queued after `mark` (its savepoint was rolled back)."""
        del self.pending[mark[0] :]
        for name, rows in self.buffered.items():
            del rows[mark[1].get(name, 0) :]

    async def flush(self) -> None:
        """Write the queued rows and the outbox; call before commit."""
        for name, rows in self.buffered.items():
            if rows:
                await self.writers[name](self.conn, rows)
        self.buffered = {}
        rows_out, self.pending = self.pending, []
        await write_rows(self.conn, self.schema, rows_out)


class OutboxRelay:
    """Publishes a schema's outbox rows to the broker, in id order, marking them after the ack."""

    def __init__(
        self,
        dsn: str,
        schema: str,
        producer: AIOKafkaProducer,
        *,
        batch: int = 500,
        poll_interval_s: float = 1.0,
        after_publish: Callable[[list[int]], None] | None = None,
        topic_prefix: str = "",
    ) -> None:
        self._dsn = dsn
        self._schema = schema
        self._producer = producer
        self._batch = batch
        self._poll = poll_interval_s
        self._after_publish = after_publish  # fault injection point for the crash tests
        self._prefix = topic_prefix  # rows hold contract topic names; the deployment's prefix is added here
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.is_leader = False

    def start(self) -> None:
        """Run the relay in the background."""
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self._schema}")

    async def stop(self) -> None:
        """Stop after the current round (rows in flight are either marked or republished later)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._lead_and_publish()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the relay must outlive a database or broker outage
                self.is_leader = False
                log.warning("outbox relay error, retrying", schema=self._schema, error=repr(exc))
                await asyncio.sleep(1.0)

    async def _lead_and_publish(self) -> None:
        conn: asyncpg.Connection = await asyncpg.connect(
            self._dsn, server_settings={"search_path": f'"{self._schema}",public'}
        )
        try:
            lock = advisory_key(f"relay:{self._schema}")
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock):  # noqa: ASYNC110
                await asyncio.sleep(2.0)  # another instance's relay leads: stand by
            self.is_leader = True
            await conn.add_listener(notify_channel(self._schema), self._on_notify)
            while not self._stopping:
                published = await self.publish_once(conn)
                if published < self._batch:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._poll)
        finally:
            self.is_leader = False
            with contextlib.suppress(Exception):
                await conn.close()

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def publish_once(self, conn: Conn) -> int:
        """One round: publish up to `batch` unsent rows and mark them sent after the broker's ack."""
        async with conn.transaction():
            rows = await conn.fetch(
                """SELECT id, topic, key, value, headers::text AS headers FROM outbox
                   WHERE sent_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED""",
                self._batch,
            )
            if not rows:
                metrics.OUTBOX_BACKLOG.labels(self._schema).set(0)
                return 0
            futures = [
                await self._producer.send(
                    self._prefix + r["topic"], r["value"], key=r["key"], headers=_headers_from_json(r["headers"])
                )
                for r in rows
            ]
            await asyncio.gather(*futures)  # every row acknowledged by the broker
            ids = [r["id"] for r in rows]
            if self._after_publish is not None:
                self._after_publish(ids)
            await conn.execute("UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])", ids)
        metrics.OUTBOX_PUBLISHED.labels(self._schema).inc(len(rows))
        backlog = await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        metrics.OUTBOX_BACKLOG.labels(self._schema).set(backlog)
        return len(rows)


async def purge_sent(conn: Conn, older_than_days: int = 7) -> int:
    """Delete rows published more than `older_than_days` ago (the broker and the state keep the history)."""
    status: str = await conn.execute(
        "DELETE FROM outbox WHERE sent_at < now() - make_interval(days => $1)", older_than_days
    )
    return int(status.split()[-1])
