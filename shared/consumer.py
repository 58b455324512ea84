"""The consuming half of the reliability kernel: batch → one transaction → commit offsets.

For each batch of records:
1. decode every record against the contract; what cannot be read becomes a dead letter;
2. in ONE database transaction: record the event ids in the inbox (duplicates are
   skipped), apply each new event through the service's handler (state + outbox
   rows), and write dead letters as outbox rows (so they too are published exactly
   when the transaction commits);
3. the caller commits the Kafka offsets only after that commit.

Transient failures (database or network) retry the whole batch with exponential
backoff; when the budget is spent the batch is handed back un-acknowledged, so the
offsets are never committed past it. A handler that fails for any other reason is a
permanent failure of that one event: the batch is re-run with a savepoint per event,
the failing event goes to `<topic>.dlq` with the error, and the rest are applied.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
import structlog
from pydantic import ValidationError

from shared import metrics
from shared.events import Envelope, parse_event
from shared.inbox import claim_new
from shared.outbox import OutboxRow, Tx
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


def unprefixed(record: Record, prefix: str) -> Record:
    """Strip the topic prefix (KAFKA_TOPIC_PREFIX) so handlers and DLQ naming see contract topics."""
    if not prefix or not record.topic.startswith(prefix):
        return record
    return RecordView(
        record.topic[len(prefix) :], record.partition, record.offset, record.key, record.value, record.headers
    )


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


class _IsolateEvents(Exception):
    """A handler failed permanently in batch mode: re-run with a savepoint per event."""


def dead_letter_row(letter: DeadLetter, consumer: str) -> OutboxRow:
    """The DLQ record: the original key, bytes and headers, plus headers naming the error."""
    rec = letter.record
    headers = (
        *tuple(rec.headers or ()),
        ("dlq.error", letter.error.encode()),
        ("dlq.reason", letter.reason[:4000].encode()),
        ("dlq.consumer", consumer.encode()),
        ("dlq.source.topic", rec.topic.encode()),
        ("dlq.source.partition", str(rec.partition).encode()),
        ("dlq.source.offset", str(rec.offset).encode()),
    )
    return OutboxRow(dlq_topic(rec.topic), rec.key, rec.value or b"", headers)


def decode(record: Record, accepted: Mapping[str, tuple[type[Envelope], ...]]) -> Envelope | DeadLetter:
    """Parse a record into an event of a type this topic carries, or say why not."""
    if record.value is None:
        return DeadLetter(record, "empty", "record has no value")
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
        loc = ".".join(str(p) for p in err["loc"]) or "(document)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


class BatchProcessor:
    """Applies batches of records for one consumer, exactly once per event, inside one transaction."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str,
        consumer: str,
        accepted: Mapping[str, tuple[type[Envelope], ...]],
        handler: Handler,
        *,
        retry_attempts: int = 5,
        retry_base_delay_s: float = 0.2,
        topic_prefix: str = "",
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.pool = pool
        self.schema = schema
        self.consumer = consumer
        self.accepted = accepted
        self.handler = handler
        self.retry_attempts = retry_attempts
        self.retry_base_delay_s = retry_base_delay_s
        self.topic_prefix = topic_prefix
        self._sleep = sleep

    async def process(self, records: Sequence[Record]) -> BatchResult:
        """Apply a batch; raises only when transient failures outlast the retry budget."""
        decoded: list[tuple[Record, Envelope]] = []
        letters: list[DeadLetter] = []
        for raw in records:
            rec = unprefixed(raw, self.topic_prefix)
            item = decode(rec, self.accepted)
            if isinstance(item, DeadLetter):
                letters.append(item)
            else:
                decoded.append((rec, item))
        isolate = False
        attempt = 0
        while True:
            try:
                return await self._apply(decoded, letters, isolate=isolate)
            except _IsolateEvents:
                isolate = True
            except Exception as exc:
                if not is_transient(exc):
                    raise
                attempt += 1
                metrics.TRANSIENT_RETRIES.labels(self.consumer).inc()
                if attempt >= self.retry_attempts:
                    log.error("transient failure outlasted retries", consumer=self.consumer, error=repr(exc))
                    raise
                delay = self.retry_base_delay_s * 2 ** (attempt - 1)
                log.warning("transient failure, retrying", consumer=self.consumer, error=repr(exc), delay=delay)
                await self._sleep(delay)

    async def _apply(
        self, decoded: list[tuple[Record, Envelope]], letters: list[DeadLetter], *, isolate: bool
    ) -> BatchResult:
        failed: list[DeadLetter] = []
        applied = 0
        async with self.pool.acquire() as conn, conn.transaction():
            tx = Tx(conn, self.schema)
            new = await claim_new(conn, self.consumer, [(ev.event_id, rec.topic) for rec, ev in decoded])
            seen: set[Any] = set()
            for rec, ev in decoded:
                if ev.event_id not in new or ev.event_id in seen:
                    continue
                seen.add(ev.event_id)
                letter = await self._apply_one(tx, rec, ev, isolate=isolate)
                if letter is None:
                    applied += 1
                else:
                    failed.append(letter)
            for letter in (*letters, *failed):
                tx.emit_row(dead_letter_row(letter, self.consumer))
            await tx.flush()
        self._count(decoded, letters, failed, applied, duplicates=len(decoded) - len(seen))
        return BatchResult(applied, len(decoded) - len(seen), len(letters) + len(failed))

    async def _apply_one(self, tx: Tx, rec: Record, ev: Envelope, *, isolate: bool) -> DeadLetter | None:
        with structlog.contextvars.bound_contextvars(
            claim_id=ev.claim_id, correlation_id=str(ev.correlation_id), event_id=str(ev.event_id)
        ):
            if not isolate:
                try:
                    await self.handler(tx, ev)
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    raise _IsolateEvents from exc
                return None
            mark = tx.mark()
            try:
                async with tx.conn.transaction():  # a savepoint: undo only this event
                    await self.handler(tx, ev)
            except Exception as exc:
                if is_transient(exc):
                    raise
                tx.rollback_to(mark)
                code = exc.code if isinstance(exc, PermanentError) else "handler-error"
                log.warning("event refused, sent to DLQ", error=code, reason=str(exc))
                return DeadLetter(rec, code, f"{type(exc).__name__}: {exc}")
            return None

    def _count(
        self,
        decoded: list[tuple[Record, Envelope]],
        letters: list[DeadLetter],
        failed: list[DeadLetter],
        applied: int,
        duplicates: int,
    ) -> None:
        if duplicates:
            metrics.INBOX_DUPLICATES.labels(self.consumer).inc(duplicates)
        for letter in (*letters, *failed):
            metrics.DLQ_MESSAGES.labels(self.consumer, letter.record.topic, letter.error).inc()
        if applied:
            metrics.EVENTS_APPLIED.labels(self.consumer, "all").inc(applied)
