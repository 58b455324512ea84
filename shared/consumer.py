"""The consuming half of the reliability kernel: batch → one transaction → commit offsets.

For each batch of records:
1. decode every record against the contract; what cannot be read becomes a dead letter;
2. in ONE database transaction: record the event ids in the inbox (duplicates are
   skipped), apply the new events through the service's application (shared/application.py:
   one batch handler per event type, one unit of work per batch: state + outbox rows), and
   write dead letters as outbox rows (so they too are published exactly when it commits);
3. the caller commits the Kafka offsets only after that commit.

Transient failures (database or network) retry the whole batch with exponential
backoff; when the budget is spent the batch is handed back un-acknowledged, so the
offsets are never committed past it. Anything else that fails the batch (a handler's
refusal, a row the database will not store, an output too large to publish) is a
permanent failure of one event: the batch is re-run event by event, each event's
inbox row, state, audit rows and outbox rows inside its own savepoint, and only the
failing event goes to `<topic>.dlq`. A dead-lettered event is therefore never in the
inbox: redriving its original bytes applies it once.

A record larger than `max_record_bytes` is dead-lettered `too-large` without being
parsed. A dead letter too large to publish keeps its original bytes in
`dead_letter_bodies` and publishes a reference with a truncated preview.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
import structlog
from pydantic import ValidationError

from shared import metrics, topics, tracing
from shared.application import Application, UnitOfWork, per_event
from shared.checks import Check, Refusal
from shared.clock import Clock, RealClock
from shared.db import Conn
from shared.events import Envelope, parse_event
from shared.inbox import claim_new
from shared.outbox import DEFAULT_MAX_OUTPUT_BYTES, OutboxRow, OutputTooLarge, Tx, headers_json
from shared.producers import check_producer
from shared.topics import dlq_topic

log = structlog.get_logger(__name__)

Handler = Callable[[Tx, Envelope], Awaitable[None]]


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # includes ConnectionError: the database or broker went away
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
)
# PostgreSQL errors that a retry can cure, by SQLSTATE: connection (08), transaction rollback such as
# serialization failure or deadlock (40), insufficient resources (53), operator intervention such as
# a restart (57), lock not available (55P03), read-only or idle-in-transaction conditions (25006, 25P03).
TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "57")
TRANSIENT_SQLSTATES = frozenset({"55P03", "25006", "25P03"})


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the same work later may succeed."""
    if isinstance(exc, TRANSIENT_ERRORS):
        return True
    state = getattr(exc, "sqlstate", None)
    return isinstance(exc, asyncpg.PostgresError) and isinstance(state, str) and (
        state[:2] in TRANSIENT_SQLSTATE_CLASSES or state in TRANSIENT_SQLSTATES
    )  # fmt: skip


DEFAULT_MAX_RECORD_BYTES = 256 * 1024
DLQ_PREVIEW_BYTES = 4096
LOG_APPEND_TIME = 1  # aiokafka's timestamp_type when the broker stamped the record itself

# Topics hospitals write: whatever `received_at` a hospital puts in its envelope is replaced by BPJS's own
# receipt time, or a hospital could backdate a late resubmission or dispute.
HOSPITAL_INPUT_TOPICS = frozenset(t for t, who in topics.ALLOWED_PRODUCERS.items() if topics.HOSPITAL in who)


class Record(Protocol):
    """What the kernel reads of a Kafka record (aiokafka's ConsumerRecord has these)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


@dataclass(frozen=True, slots=True)
class RecordView:
    """A record as the contract sees it: the topic without the deployment's prefix."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]
    timestamp: int | None = None
    timestamp_type: int = 0


def unprefixed(record: Record, prefix: str) -> Record:
    """Strip the topic prefix (KAFKA_TOPIC_PREFIX) so handlers and DLQ naming see contract topics."""
    if not prefix or not record.topic.startswith(prefix):
        return record
    return RecordView(
        record.topic[len(prefix) :], record.partition, record.offset, record.key, record.value, record.headers,
        getattr(record, "timestamp", None), getattr(record, "timestamp_type", 0),
    )  # fmt: skip


def receipt_time(record: Record, clock: Clock) -> datetime:
    """When BPJS received `record`: the broker's append time where the topic has it, else now.

    Broker time is real time, so it is only used on the real clock (a simulated clock runs days in minutes).
    """
    stamp = getattr(record, "timestamp", None)
    if isinstance(clock, RealClock) and getattr(record, "timestamp_type", 0) == LOG_APPEND_TIME and stamp:
        return datetime.fromtimestamp(stamp / 1000, UTC)
    return clock.now()


def stamp_receipt(event: Envelope, record: Record, clock: Clock) -> Envelope:
    """The event with `received_at` set where the first BPJS service must set it."""
    if event.received_at is not None and record.topic not in HOSPITAL_INPUT_TOPICS:
        return event
    return event.model_copy(update={"received_at": receipt_time(record, clock)})


class PermanentError(Exception):
    """A handler's refusal that no retry can fix; the event goes to the DLQ with `code`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class DeadLetter:
    record: Record
    error: str
    reason: str


@dataclass(frozen=True)
class BatchResult:
    applied: int
    duplicates: int
    dead_letters: int


def _dlq_headers(letter: DeadLetter, consumer: str) -> tuple[tuple[str, bytes], ...]:
    rec = letter.record
    return (
        ("dlq.error", letter.error.encode()),
        ("dlq.reason", letter.reason[:4000].encode("utf-8", "backslashreplace")),
        ("dlq.consumer", consumer.encode()),
        ("dlq.source.topic", rec.topic.encode()),
        ("dlq.source.partition", str(rec.partition).encode()),
        ("dlq.source.offset", str(rec.offset).encode()),
    )


HEADERS_ESCAPED_HEADER = "dlq.headers-escaped"


def _sendable_headers(headers: Sequence[tuple[str, bytes]]) -> tuple[list[tuple[str, bytes]], bool]:
    """The original headers as a producer can send them, and whether a name had to be escaped.

    A header name that was not UTF-8 arrives decoded with `surrogateescape` (shared/kafka_compat.py); no
    producer can encode it, so its bytes are written as text instead, the undecodable ones as `\\xff`.
    """
    out: list[tuple[str, bytes]] = []
    escaped = False
    for name, value in headers:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            try:
                name = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            except UnicodeEncodeError:  # a lone surrogate no decoder made: escape the character itself
                name = name.encode("utf-8", "backslashreplace").decode("utf-8")
            escaped = True
        out.append((name, value))
    return out, escaped


def dead_letter_row(letter: DeadLetter, consumer: str) -> OutboxRow:
    """The DLQ record: the original key, bytes and headers, plus headers naming the error.

    Header names that were not UTF-8 are sent escaped, marked by `dlq.headers-escaped: 1`, so the dead
    letter is publishable (the relay would otherwise fail on it every round).
    """
    rec = letter.record
    original, escaped = _sendable_headers(tuple(rec.headers or ()))
    marker = ((HEADERS_ESCAPED_HEADER, b"1"),) if escaped else ()
    headers = (*original, *_dlq_headers(letter, consumer), *marker)
    return OutboxRow(dlq_topic(rec.topic), rec.key, rec.value or b"", headers)


def dead_letter_reference_row(letter: DeadLetter, consumer: str, schema: str, body_id: int) -> OutboxRow:
    """The DLQ record of a letter too large to publish: a reference to its bytes in PostgreSQL and a preview."""
    rec = letter.record
    value = rec.value or b""
    key = rec.key if rec.key is None or len(rec.key) <= 1024 else rec.key[:256]
    headers = (
        *_dlq_headers(letter, consumer),
        ("dlq.body-ref", str(body_id).encode()),
        ("dlq.body-schema", schema.encode()),
        ("dlq.body-bytes", str(len(value)).encode()),
    )
    return OutboxRow(dlq_topic(rec.topic), key, value[:DLQ_PREVIEW_BYTES], headers)


async def keep_dead_letter_body(conn: Conn, letter: DeadLetter, consumer: str) -> int:
    """Store the original record of a too-large dead letter; the id goes in its DLQ record."""
    rec = letter.record
    body_id: int = await conn.fetchval(
        """INSERT INTO dead_letter_bodies (consumer, source_topic, source_partition, source_offset, key, body, headers)
           VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) RETURNING id""",
        consumer, rec.topic, rec.partition, rec.offset, rec.key, rec.value or b"",
        headers_json(tuple(rec.headers or ())),
    )  # fmt: skip
    return body_id


def decode(
    record: Record,
    accepted: Mapping[str, tuple[type[Envelope], ...]],
    *,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
) -> Envelope | DeadLetter:
    """Parse a record into an event of a type this topic carries, or say why not."""
    if record.value is None or record.value == b"":
        return DeadLetter(record, "empty", "record has no value")
    if len(record.value) > max_record_bytes:
        # Not parsed at all: a hostile size must cost neither the parser's time nor its memory.
        return DeadLetter(
            record, "too-large",
            f"(record): {len(record.value)} bytes exceeds the limit of {max_record_bytes} (KAFKA_MAX_RECORD_BYTES)",
        )  # fmt: skip
    try:
        event = parse_event(record.value)
    except ValidationError as exc:
        return DeadLetter(record, "schema", _describe(exc))
    if record.key != event.key.encode():
        # The key decides the partition, and so the order of one claim's events: a producer that keys
        # by anything else would have its events applied out of order.
        got = record.key.decode("utf-8", "backslashreplace") if record.key is not None else None
        return DeadLetter(record, "wrong-key", f"key must be {event.key!r} ({type(event).__name__}.key), got {got!r}")
    allowed = accepted.get(record.topic, ())
    if not isinstance(event, allowed):
        names = ", ".join(t.__name__ for t in allowed) or "nothing"
        return DeadLetter(
            record, "wrong-topic", f"{type(event).__name__} is not accepted on {record.topic} (accepts {names})"
        )
    return event


def _describe(exc: ValidationError) -> str:
    """Name every field and rule that failed, e.g. `payload.claim.tgl_masuk: Input should be a valid date`."""
    parts = []
    for err in exc.errors(include_url=False)[:20]:
        # A hostile document can make a field name itself huge (an extra key of 300,000 characters).
        loc = ".".join(_short(str(p)) for p in err["loc"]) or "(document)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else f"{text[:limit]}…({len(text)} chars)"


class BatchProcessor:
    """Applies batches of records for one consumer, exactly once per event, inside one transaction."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str,
        consumer: str,
        accepted: Mapping[str, tuple[type[Envelope], ...]],
        handler: Application[Any] | Handler,
        *,
        retry_attempts: int = 5,
        retry_base_delay_s: float = 0.2,
        topic_prefix: str = "",
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Clock | None = None,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
        checks: Sequence[Check] = (),
        tracing: tracing.Tracing | None = None,
    ) -> None:
        self.pool = pool
        self.schema = schema
        self.consumer = consumer
        self.accepted = accepted
        # The service's use cases; a bare per-event handler (kernel tests) is wrapped into the same shape.
        self.app: Application[Any] = (
            handler if isinstance(handler, Application) else per_event(consumer, accepted, handler)
        )
        self.app.check_complete(accepted)
        self.retry_attempts = retry_attempts
        self.retry_base_delay_s = retry_base_delay_s
        self.topic_prefix = topic_prefix
        self._sleep = sleep
        self.clock: Clock = clock or RealClock()
        self.max_record_bytes = max_record_bytes
        self.max_output_bytes = max_output_bytes
        # The producer check always runs: it is the kernel's own defence, not a service's choice.
        self.checks = (check_producer, *checks)
        self.tracing = tracing  # None: off (a CONSUMER span per event when on; shared/tracing.py)

    async def process(self, records: Sequence[Record]) -> BatchResult:
        """Apply a batch; raises only when transient failures outlast the retry budget."""
        decoded: list[tuple[Record, Envelope]] = []
        letters: list[DeadLetter] = []
        for raw in records:
            rec = unprefixed(raw, self.topic_prefix)
            item = decode(rec, self.accepted, max_record_bytes=self.max_record_bytes)
            refusal = None if isinstance(item, DeadLetter) else self._refusal(rec, item)
            if isinstance(item, DeadLetter):
                letters.append(item)
            elif refusal is not None:
                log.warning("event refused, sent to DLQ", error=refusal.code, reason=refusal.reason[:1000])
                letters.append(DeadLetter(rec, refusal.code, refusal.reason))
            else:
                decoded.append((rec, stamp_receipt(item, rec, self.clock)))
        isolate = False
        attempt = 0
        trace = self.tracing.batch(decoded, self.consumer) if self.tracing is not None else None
        while True:
            try:
                return await self._apply(decoded, letters, isolate=isolate, trace=trace)
            except Exception as exc:
                if not is_transient(exc):
                    if isolate:
                        raise  # even event by event: only the dead letters themselves can be failing
                    # One event broke the batch (a refusal, a value PostgreSQL will not store, an output
                    # too large): find it by re-running event by event, each in its own savepoint.
                    log.warning("batch failed, re-running event by event", consumer=self.consumer, error=repr(exc))
                    metrics.BATCHES_ISOLATED.labels(self.consumer).inc()
                    isolate = True
                    continue
                attempt += 1
                metrics.TRANSIENT_RETRIES.labels(self.consumer).inc()
                if attempt >= self.retry_attempts:
                    log.error("transient failure outlasted retries", consumer=self.consumer, error=repr(exc))
                    raise
                delay = self.retry_base_delay_s * 2 ** (attempt - 1)
                log.warning("transient failure, retrying", consumer=self.consumer, error=repr(exc), delay=delay)
                await self._sleep(delay)

    def _refusal(self, rec: Record, event: Envelope) -> Refusal | None:
        for check in self.checks:
            refusal = check(rec, event)
            if refusal is not None:
                return refusal
        return None

    async def _apply(
        self, decoded: list[tuple[Record, Envelope]], letters: list[DeadLetter], *, isolate: bool,
        trace: tracing.BatchTrace | None = None,
    ) -> BatchResult:  # fmt: skip
        async with self.pool.acquire() as conn, conn.transaction():
            tx = Tx(conn, self.schema, self.max_output_bytes, trace=tracing.TxTrace(trace) if trace else None)
            if isolate:
                applied, duplicates, failed = await self._apply_each(tx, decoded)
            else:
                applied, duplicates, failed = await self._apply_all(tx, decoded)
            await tx.flush()
            for letter in (*letters, *failed):
                tx.emit_row(await self._dead_letter(conn, letter))
            await tx.flush()
            if trace is not None:
                await trace.remember(conn)
        if trace is not None:  # committed: the spans end (an unended span of a failed attempt is never sent)
            trace.end({ev.event_id: f.error for f in failed for rec, ev in decoded if rec is f.record})
        self._count(letters, failed, applied, duplicates)
        return BatchResult(len(applied), duplicates, len(letters) + len(failed))

    async def _apply_all(
        self, tx: Tx, decoded: list[tuple[Record, Envelope]]
    ) -> tuple[list[Record], int, list[DeadLetter]]:
        """The fast path: one inbox insert, the batch's use cases in one unit of work; any failure aborts."""
        new = await claim_new(tx.conn, self.consumer, [(ev.event_id, rec.topic) for rec, ev in decoded])
        applied: list[Record] = []
        events: list[Envelope] = []
        seen: set[Any] = set()
        for rec, ev in decoded:
            if ev.event_id not in new or ev.event_id in seen:
                continue
            seen.add(ev.event_id)
            events.append(ev)
            applied.append(rec)
        await self._prepare(tx, events)
        uow = self.app.unit_of_work(tx)
        with structlog.contextvars.bound_contextvars(batch_events=len(events)):
            await self.app.handle(uow, events)
        await uow.flush()
        return applied, len(decoded) - len(applied), []

    async def _apply_each(
        self, tx: Tx, decoded: list[tuple[Record, Envelope]]
    ) -> tuple[list[Record], int, list[DeadLetter]]:
        """Event by event: inbox row, a fresh unit of work and every row it writes inside the event's savepoint."""
        applied: list[Record] = []
        failed: list[DeadLetter] = []
        duplicates = 0
        await self._prepare(tx, [ev for _, ev in decoded], tolerant=True)
        for rec, ev in decoded:
            mark = tx.mark()
            with _event_context(ev):
                try:
                    async with tx.conn.transaction():  # a savepoint: undo only this event
                        if not await claim_new(tx.conn, self.consumer, [(ev.event_id, rec.topic)]):
                            duplicates += 1
                            continue
                        uow: UnitOfWork = self.app.unit_of_work(tx)
                        await self.app.handle(uow, [ev])
                        await uow.flush()
                        await tx.flush()  # the event's audit and outbox rows, inside its savepoint
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    tx.rollback_to(mark)
                    code = exc.code if isinstance(exc, PermanentError | OutputTooLarge) else "handler-error"
                    log.warning("event refused, sent to DLQ", error=code, reason=str(exc)[:1000])
                    failed.append(DeadLetter(rec, code, f"{type(exc).__name__}: {exc}"))
                    continue
            applied.append(rec)
        return applied, duplicates, failed

    async def _prepare(self, tx: Tx, events: list[Envelope], *, tolerant: bool = False) -> None:
        """The application's optional `prepare(tx, events)`: e.g. take the batch's locks up front, in one order.

        Event by event (`tolerant`), a hook that fails for good is skipped in its own savepoint: one hostile
        event must not keep the others of its batch from being applied.
        """
        hook = self.app.prepare
        if hook is None or not events:
            return
        if not tolerant:
            await hook(tx, events)
            return
        try:
            async with tx.conn.transaction():
                await hook(tx, events)
        except Exception as exc:
            if is_transient(exc):
                raise
            log.warning("prepare failed; the events are applied without it", error=repr(exc)[:500])

    async def _dead_letter(self, conn: Conn, letter: DeadLetter) -> OutboxRow:
        row = dead_letter_row(letter, self.consumer)
        if row.size <= self.max_output_bytes:
            return row
        body_id = await keep_dead_letter_body(conn, letter, self.consumer)
        return dead_letter_reference_row(letter, self.consumer, self.schema, body_id)

    def _count(
        self, letters: list[DeadLetter], failed: list[DeadLetter], applied: list[Record], duplicates: int
    ) -> None:
        if duplicates:
            metrics.INBOX_DUPLICATES.labels(self.consumer).inc(duplicates)
        for letter in (*letters, *failed):
            metrics.DLQ_MESSAGES.labels(self.consumer, letter.record.topic, letter.error).inc()
        if applied:
            metrics.EVENTS_APPLIED.labels(self.consumer, "all").inc(len(applied))
        redriven = sum(1 for rec in applied if any(k == REDRIVE_ID_HEADER for k, _ in rec.headers or ()))
        if redriven:
            metrics.DLQ_REDRIVEN_APPLIED.labels(self.consumer).inc(redriven)


REDRIVE_ID_HEADER = "redrive.id"


def _event_context(ev: Envelope) -> Any:
    return structlog.contextvars.bound_contextvars(
        claim_id=ev.claim_id, correlation_id=str(ev.correlation_id), event_id=str(ev.event_id)
    )
