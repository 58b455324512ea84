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
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka import errors as kafka_errors

from shared import metrics, tracing
from shared.db import Conn, advisory_key, quote_ident
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
    traceparent: str | None = None  # the W3C trace context the event continues (shared/tracing.py)
    tracestate: str | None = None

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
    columns = [[r.topic for r in rows], [r.key for r in rows], [r.value for r in rows],
               [_headers_json(r.headers) for r in rows], [r.event_id for r in rows]]  # fmt: skip
    if any(r.traceparent for r in rows):  # tracing off: the statement is the one it always was
        await conn.execute(
            """INSERT INTO outbox (topic, key, value, headers, event_id, traceparent, tracestate)
               SELECT t, k, v, h::jsonb, e::uuid, p, s FROM unnest($1::text[], $2::bytea[], $3::bytea[],
                      $4::text[], $5::text[], $6::text[], $7::text[]) AS u(t, k, v, h, e, p, s)""",
            *columns, [r.traceparent for r in rows], [r.tracestate for r in rows],
        )  # fmt: skip
    else:
        await conn.execute(
            """INSERT INTO outbox (topic, key, value, headers, event_id)
               SELECT t, k, v, h::jsonb, e::uuid
               FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::text[], $5::text[]) AS u(t, k, v, h, e)""",
            *columns,
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
    # Which trace each event continues (shared/tracing.py); None while tracing is off.
    trace: tracing.TxTrace | None = field(default_factory=tracing.for_transaction)

    def emit(self, event: Envelope) -> None:
        """Publish `event` if, and only if, this transaction commits; refuse it now if it cannot fit."""
        row = OutboxRow.for_event(event)
        if row.size > self.max_output_bytes:
            raise OutputTooLarge(row.topic, row.size, self.max_output_bytes)
        self.pending.append(row if self.trace is None else self.trace.stamp(row, event))

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
        if self.trace is not None:
            rows_out = await self.trace.resolve(self.conn, rows_out)
        await write_rows(self.conn, self.schema, rows_out)


# ---------------------------------------------------------------------------------------------------------
# The relay. What the broker (or the producer, before sending) refuses for good for one row: sending the
# same bytes to the same topic again cannot succeed, so the row is quarantined and the relay goes on.
# Anything else (broker down, timeouts, leader elections, an error not listed) is transient: the round is
# retried with backoff and nothing after the failed row overtakes it; /health/live reports a relay that
# stops making progress, so an unforeseen refusal that keeps failing is seen, not silent.
class UnreadableRow(Exception):
    """An outbox row the relay cannot turn into a record (its stored headers do not decode)."""


PERMANENT_REFUSALS: tuple[type[BaseException], ...] = (
    UnreadableRow,
    UnicodeEncodeError,  # a header name the producer cannot encode (kept losslessly, so not valid UTF-8)
    kafka_errors.MessageSizeTooLargeError,  # over the producer's max_request_size or the broker's message.max.bytes
    kafka_errors.RecordListTooLargeError,
    kafka_errors.RecordTooLargeError,
    kafka_errors.InvalidTopicError,
    kafka_errors.UnknownTopicOrPartitionError,  # from send(): the metadata wait (request_timeout_ms) is spent
    kafka_errors.TopicAuthorizationFailedError,
    kafka_errors.CorruptRecordException,
    kafka_errors.InvalidTimestampError,
    kafka_errors.UnsupportedForMessageFormatError,
    kafka_errors.PolicyViolationError,
)
# Kafka's rule for topic names; checked before sending, because the producer would otherwise wait out
# request_timeout_ms on metadata for a name the broker can never create.
LEGAL_TOPIC = re.compile(r"[a-zA-Z0-9._-]{1,249}")

# The leader's PostgreSQL session. The relay's leadership is a session advisory lock: it ends when the
# server ends the session, so the server must notice a half-open connection (relay host gone, network cut)
# quickly. Keepalives: after 10 s of silence the server probes every 5 s and drops the session after 3
# unanswered probes (25 s); data it sends unacknowledged for 20 s (tcp_user_timeout) also ends it. Where a
# middlebox answers the probes for a peer that is gone, the idle timeouts end it: a healthy relay is never
# idle for long (the leader runs a round at least every poll interval, a standby every 2 s, a backoff
# waits at most 30 s) and a round holds its transaction about 50 s at most (sends start within
# SEND_BUDGET_S, one of them may wait the producer's 40 s request timeout for metadata, acknowledgements
# are awaited until ROUND_BUDGET_S). So a lost leader's lock is free within a minute and a standby leads
# 2 s later. The statement timeout ends a hung statement: no relay statement takes seconds.
LEADER_SESSION = {
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "3",
    "tcp_user_timeout": "20000",
    "statement_timeout": "15s",
    "idle_session_timeout": "60s",
    "idle_in_transaction_session_timeout": "60s",
}
# Client side, the relay sends a statement at least every poll interval (a standby every 2 s), so a dead
# server is noticed by this timeout on the statement; socket keepalives would add nothing.
COMMAND_TIMEOUT_S = 20.0  # a query the server never answers fails, and the relay stands down
STANDBY_POLL_S = 2.0
SEND_BUDGET_S = 10.0  # a round starts no new send after this (the rest waits for the next round)
ROUND_BUDGET_S = 40.0  # nor waits for acknowledgements past this (what is unacknowledged is sent again)
BACKOFF_FIRST_S, BACKOFF_MAX_S = 0.5, 30.0

_SELECT_PUBLISHABLE = """
SELECT id, topic, key, value, headers::text AS headers, traceparent, tracestate FROM outbox o
WHERE sent_at IS NULL AND failed_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM outbox q
                  WHERE q.sent_at IS NULL AND q.failed_at IS NOT NULL
                    AND q.topic = o.topic AND q.key = o.key AND q.id < o.id)
ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED"""

_STATS = """
SELECT (SELECT count(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL) AS backlog,
       (SELECT count(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NOT NULL) AS quarantined,
       (SELECT extract(epoch FROM now() - created_at) FROM outbox
         WHERE sent_at IS NULL AND failed_at IS NULL ORDER BY id LIMIT 1) AS oldest_age_s"""


def backoff_s(failures: int) -> float:
    """Delay before the next try after `failures` failed ones in a row: 0.5 s doubling, at most 30 s."""
    return float(min(BACKOFF_FIRST_S * 2 ** max(failures - 1, 0), BACKOFF_MAX_S))


def is_permanent_refusal(exc: BaseException) -> bool:
    """Whether the broker (or the producer) refuses this one row for good."""
    return isinstance(exc, PERMANENT_REFUSALS)


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


@dataclass
class RoundResult:
    """What one relay round did: rows acknowledged, rows quarantined, and the transient failure if any."""

    fetched: int = 0
    published: int = 0
    quarantined: int = 0
    transient: BaseException | None = None

    @property
    def progressed(self) -> bool:
        """Caught up, or moved at least one row on (published or set aside)."""
        return self.fetched == 0 or self.published + self.quarantined > 0


@dataclass
class _Outcomes:
    """Per row id: None when acknowledged, else the exception that stopped it; rows absent were not tried."""

    by_id: dict[int, BaseException | None] = field(default_factory=dict)
    answered_by_broker: set[int] = field(default_factory=set)  # refusals the broker sent (batch-wide)

    def acked(self) -> list[int]:
        return sorted(i for i, e in self.by_id.items() if e is None)

    def failed(self) -> dict[int, BaseException]:
        return {i: e for i, e in sorted(self.by_id.items()) if e is not None}


class OutboxRelay:
    """Publishes a schema's outbox rows to the broker, in id order, marking them after the ack.

    A row the broker refuses for good (PERMANENT_REFUSALS) is quarantined (`failed_at`, `error`) and the
    round goes on with the later rows, so one row never stops the relay. Per-claim order: the later rows of
    a quarantined row's topic and key are held back until the row is retried (`claimsctl outbox retry`),
    then go out after it. Holding is the rule because publishing them would make the consumers apply a
    claim's events out of order with no way back (a pended notice after the verification, say); the hold
    costs only that claim on that topic, every other row keeps flowing. (topic, key) is exactly what Kafka
    orders by, so a quarantined dead letter never holds the claim's real events on another topic.
    """

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
        # Monotonic time of the last progress while this relay leads or tries to: kept across a lost
        # session (a relay that keeps failing to publish is stalled), cleared while another one leads.
        self._progress_at: float | None = None
        self._standing_by = False
        self._reconnects = 0  # failed sessions in a row without progress, for the backoff
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

    def stalled_for(self, now: float | None = None) -> float | None:
        """Seconds since this relay, leading or failing to, last caught up or moved a row on.

        None while another instance's relay leads (a standby waits, it is not stalled) and before it
        ever led.
        """
        if self._standing_by or self._progress_at is None:
            return None
        return (time.monotonic() if now is None else now) - self._progress_at

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._lead_and_publish()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the relay must outlive a database or broker outage
                self.is_leader = False
                self._reconnects += 1
                delay = backoff_s(self._reconnects)
                log.warning("outbox relay error, reconnecting", schema=self._schema, error=repr(exc), retry_in_s=delay)
                await asyncio.sleep(delay)

    async def _lead_and_publish(self) -> None:
        conn = await leader_session(self._dsn, self._schema)
        try:
            lock = advisory_key(f"relay:{self._schema}")
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock):
                self._standing_by, self._progress_at = True, None
                await asyncio.sleep(STANDBY_POLL_S)  # another instance's relay leads: stand by
            self._standing_by = False
            self._progress_at = self._progress_at or time.monotonic()
            self.is_leader = True
            log.info("outbox relay leads", schema=self._schema)
            await conn.add_listener(notify_channel(self._schema), self._on_notify)
            failures = 0
            while not self._stopping:
                result = await self.publish_round(conn)
                if result.transient is not None:
                    failures += 1
                    delay = backoff_s(failures)
                    log.warning("outbox relay: broker failed, retrying", schema=self._schema,
                                error=repr(result.transient), retry_in_s=delay)  # fmt: skip
                    await asyncio.sleep(delay)
                    continue
                failures = 0
                if result.fetched < self._batch:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._poll)
        finally:
            self.is_leader = False
            try:
                await conn.close(timeout=5)  # on a dead connection the goodbye never arrives: do not wait
            except Exception:
                conn.terminate()

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def publish_once(self, conn: Conn) -> int:
        """One round; the number of rows published (see `publish_round`)."""
        return (await self.publish_round(conn)).published

    async def publish_round(self, conn: Conn) -> RoundResult:
        """Publish up to `batch` rows, mark the acknowledged ones sent and quarantine what is refused for good.

        The outbox gauges are recomputed afterwards with a separate query, also when the round failed.
        """
        try:
            result = await self._round(conn)
        except Exception:
            await self._refresh_gauges(conn)
            raise
        if result.progressed:
            self._progress_at = time.monotonic()
            self._reconnects = 0
        if result.published:
            metrics.OUTBOX_PUBLISHED.labels(self._schema).inc(result.published)
        if result.quarantined:
            metrics.OUTBOX_RELAY_ERRORS.labels(self._schema, "permanent").inc(result.quarantined)
        if result.transient is not None:
            metrics.OUTBOX_RELAY_ERRORS.labels(self._schema, "transient").inc()
        await self._refresh_gauges(conn)
        return result

    async def _round(self, conn: Conn) -> RoundResult:
        async with conn.transaction():
            rows = await conn.fetch(_SELECT_PUBLISHABLE, self._batch)
            if not rows:
                return RoundResult()
            deadline = time.monotonic() + ROUND_BUDGET_S
            outcomes = await self._send(rows, deadline)
            await self._isolate_refused(rows, outcomes, deadline)
            acked, failed = outcomes.acked(), outcomes.failed()
            if self._after_publish is not None and acked:
                self._after_publish(acked)
            await conn.execute("UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])", acked)
            if failed:
                await conn.execute(
                    """UPDATE outbox o SET attempts = o.attempts + 1, error = u.error,
                              failed_at = CASE WHEN u.permanent THEN now() END
                       FROM unnest($1::bigint[], $2::text[], $3::bool[]) AS u(id, error, permanent)
                       WHERE o.id = u.id""",
                    list(failed),
                    [_error_text(e) for e in failed.values()],
                    [is_permanent_refusal(e) for e in failed.values()],
                )
        quarantined = {i: e for i, e in failed.items() if is_permanent_refusal(e)}
        for row_id, exc in quarantined.items():
            log.error("outbox row quarantined: the broker refuses it", schema=self._schema, outbox_id=row_id,
                      error=_error_text(exc))  # fmt: skip
        transient = next((e for e in failed.values() if not is_permanent_refusal(e)), None)
        return RoundResult(len(rows), len(acked), len(quarantined), transient)

    async def _send(self, rows: Sequence[asyncpg.Record], deadline: float) -> _Outcomes:
        """Send rows in id order; a row whose (topic, key) already failed this round is not sent (held)."""
        outcomes = _Outcomes()
        futures: dict[int, asyncio.Future[Any]] = {}
        held: set[tuple[str, bytes]] = set()
        refused_topics: dict[str, BaseException] = {}
        send_until = deadline - (ROUND_BUDGET_S - SEND_BUDGET_S)
        for r in rows:
            ordering = (r["topic"], r["key"])
            if r["key"] is not None and ordering in held:
                continue
            if time.monotonic() > send_until:
                break
            sent = refused_topics.get(r["topic"]) or topic_refusal(r["topic"]) or await self._send_one(r)
            if isinstance(sent, asyncio.Future):
                futures[r["id"]] = sent
                continue
            exc = outcomes.by_id[r["id"]] = sent
            if r["key"] is not None:
                held.add(ordering)
            if not is_permanent_refusal(exc):
                break  # transient: nothing after it is sent, so nothing overtakes it
            if isinstance(exc, (kafka_errors.InvalidTopicError, kafka_errors.UnknownTopicOrPartitionError)):
                refused_topics[r["topic"]] = exc  # the topic's other rows need not wait out the metadata again
        await _collect(futures, outcomes, deadline)
        return outcomes

    async def _send_one(self, r: asyncpg.Record) -> asyncio.Future[Any] | BaseException:
        """Hand one row to the producer: the future of its acknowledgement, or why it was not sent."""
        try:
            headers = record_headers(r)
        except (ValueError, TypeError) as e:
            return UnreadableRow(f"headers: {e!r}")
        try:
            fut: asyncio.Future[Any] = await self._producer.send(
                self._prefix + r["topic"], r["value"], key=r["key"], headers=headers
            )
        except Exception as e:  # refused before sending (size, topic), or the buffer is full
            return e
        return fut

    async def _isolate_refused(self, rows: Sequence[asyncpg.Record], outcomes: _Outcomes, deadline: float) -> None:
        """The broker refuses a whole batch for one bad record: send each refused row alone, in id order.

        A row the producer refused itself never shared a batch and is not sent again. Only a row refused
        again on its own is quarantined; the others of its batch are published now. Left as a limit: a
        later row of the same key in a later batch may have been accepted meanwhile. The producer refuses
        an oversized record itself, before it shares a batch, as long as its max_request_size (1 MiB) is
        not above the broker's message.max.bytes (Kafka's default is 1 MiB + 12 bytes), so this path is
        for refusals the producer cannot foresee.
        """
        by_id = {r["id"]: r for r in rows}
        for row_id, exc in outcomes.failed().items():
            if not is_permanent_refusal(exc) or row_id not in outcomes.answered_by_broker:
                continue
            r = by_id[row_id]
            try:
                async with asyncio.timeout(max(deadline - time.monotonic(), 0.001)):
                    fut = await self._producer.send(
                        self._prefix + r["topic"], r["value"], key=r["key"], headers=record_headers(r)
                    )
                    await fut
                outcomes.by_id[row_id] = None
            except Exception as again:
                outcomes.by_id[row_id] = again

    async def _refresh_gauges(self, conn: Conn) -> None:
        """Backlog, quarantined rows and the oldest waiting row's age, in one short query."""
        try:
            stats = await conn.fetchrow(_STATS)
        except Exception as exc:  # the gauges keep their last values while the database is away
            log.debug("outbox gauges not refreshed", schema=self._schema, error=repr(exc))
            return
        assert stats is not None
        metrics.OUTBOX_BACKLOG.labels(self._schema).set(stats["backlog"])
        metrics.OUTBOX_QUARANTINED.labels(self._schema).set(stats["quarantined"])
        metrics.OUTBOX_OLDEST_AGE.labels(self._schema).set(float(stats["oldest_age_s"] or 0))


def record_headers(r: Any) -> list[Header]:
    """A row's record headers: the stored ones, then the trace context it carries (if any)."""
    return [*_headers_from_json(r["headers"]), *tracing.headers_of(r.get("traceparent"), r.get("tracestate"))]


async def leader_session(dsn: str, schema: str) -> asyncpg.Connection:
    """The relay's own connection: keepalives and timeouts of LEADER_SESSION, named in pg_stat_activity."""
    conn: asyncpg.Connection = await asyncpg.connect(
        dsn,
        command_timeout=COMMAND_TIMEOUT_S,
        server_settings={
            "search_path": f"{quote_ident(schema)},public",
            "application_name": f"relay:{schema}",  # whose session holds the relay lock
            **LEADER_SESSION,
        },
    )
    return conn


def topic_refusal(topic: str) -> BaseException | None:
    """The refusal of a topic name Kafka cannot have (checked before sending), else None."""
    if LEGAL_TOPIC.fullmatch(topic) and topic not in (".", ".."):
        return None
    refusal: BaseException = kafka_errors.InvalidTopicError(
        f"topic {topic!r} is not a legal Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)"
    )
    return refusal


async def _collect(futures: dict[int, asyncio.Future[Any]], outcomes: _Outcomes, deadline: float) -> None:
    """Wait for the broker's answers until `deadline`."""
    if not futures:
        return
    await asyncio.wait(futures.values(), timeout=max(deadline - time.monotonic(), 0.001))
    for row_id, fut in futures.items():
        if not fut.done():
            outcomes.by_id[row_id] = TimeoutError(f"no acknowledgement within {ROUND_BUDGET_S:.0f} s")
            continue
        exc = fut.exception()
        if exc is not None:
            outcomes.answered_by_broker.add(row_id)
        outcomes.by_id[row_id] = exc


async def purge_sent(conn: Conn, older_than_days: int = 7) -> int:
    """Delete rows published more than `older_than_days` ago (quarantined rows stay until retried and sent)."""
    status: str = await conn.execute(
        "DELETE FROM outbox WHERE sent_at < now() - make_interval(days => $1)", older_than_days
    )
    return int(status.split()[-1])
