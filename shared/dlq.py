"""Dead letters for operators: read them, select them, and redrive them once each.

A dead letter is a record on `<topic>.dlq`: the original key, bytes and headers plus the kernel's
`dlq.*` headers (shared/consumer.py). Redriving republishes the ORIGINAL bytes and key to the
source topic, keeping the original non-`dlq.*` headers and adding `redrive.id`, `redrive.by`,
`redrive.at` and `redrive.dlq.offset`. A dead-lettered event is not recorded in the consumer's
inbox, so the redriven copy (same `event_id`) is applied once; one that was applied meanwhile
(the hospital resent it) is skipped by the inbox.

Every redrive is audited in claimsctl's own schema `ops` (table `dlq_redrives`, migrations in
shared/ops_migrations/): the CLI never writes a service's tables. A dead letter is redriven at
most once: the audit row and the publish happen in one transaction (a unique index on the dead
letter's coordinates), so a second redrive, or a second operator racing the first, skips it as
"already redriven". Publish-then-commit is the safe order: a crash after the broker's ack but
before the commit leaves the letter unaudited, and redriving it again is absorbed by the inbox.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import asyncpg

from shared.db import advisory_key, ensure_schema, migration_files, quote_ident
from shared.topics import DLQ_SUFFIX, all_topics

Header = tuple[str, bytes]

AUDIT_SCHEMA = "ops"
AUDIT_MIGRATIONS = Path(__file__).resolve().parent / "ops_migrations"
BODY_REF = "dlq.body-ref"
BODY_SCHEMA = "dlq.body-schema"
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class DlqRecord:
    """One dead letter as read from the broker (`topic` is the broker's name, prefix included)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
    headers: tuple[Header, ...]
    prefix: str = ""

    @property
    def dlq_topic(self) -> str:
        """The contract name of the dead-letter topic (without KAFKA_TOPIC_PREFIX)."""
        return self.topic[len(self.prefix) :] if self.prefix and self.topic.startswith(self.prefix) else self.topic

    @property
    def id(self) -> str:
        """What operators type: `claims.submitted.dlq:12` (`topic:partition:offset` off partition 0)."""
        if self.partition == 0:
            return f"{self.dlq_topic}:{self.offset}"
        return f"{self.dlq_topic}:{self.partition}:{self.offset}"

    @property
    def source_topic(self) -> str:
        """Where the record came from: always the DLQ's own source, never what a header claims."""
        return self.dlq_topic.removesuffix(DLQ_SUFFIX)

    @property
    def at(self) -> datetime:
        """When it was dead-lettered (the broker's timestamp)."""
        return datetime.fromtimestamp(max(self.timestamp_ms, 0) / 1000, UTC)

    def header(self, name: str) -> bytes | None:
        """The last value of header `name` (the kernel's are appended after the original's)."""
        found = None
        for k, v in self.headers:
            if k == name:
                found = v
        return found

    def text(self, name: str) -> str | None:
        """A header as text (invalid UTF-8 shown escaped), or None when absent."""
        raw = self.header(name)
        return None if raw is None else raw.decode("utf-8", "backslashreplace")

    @property
    def error(self) -> str | None:
        return self.text("dlq.error")

    @property
    def consumer(self) -> str | None:
        return self.text("dlq.consumer")

    @property
    def source(self) -> str:
        """`topic/partition/offset` as the kernel recorded them."""
        parts = (self.text("dlq.source.topic"), self.text("dlq.source.partition"), self.text("dlq.source.offset"))
        return "/".join(p if p is not None else "?" for p in parts)

    @property
    def event_id(self) -> uuid.UUID | None:
        """The event's id, when the body is JSON with a valid `event_id` (a preview of a big one is not)."""
        return event_id_of(self.value)

    @property
    def body_ref(self) -> tuple[str, int] | None:
        """(schema, id) of a body kept in PostgreSQL because it was too large for the DLQ record."""
        ref, schema = self.text(BODY_REF), self.text(BODY_SCHEMA)
        if ref is None:
            return None
        if schema is None or not _SCHEMA_NAME.match(schema) or not ref.strip().isdigit():
            raise ValueError(f"{BODY_REF}={ref!r}, {BODY_SCHEMA}={schema!r}: not a dead_letter_bodies reference")
        return schema, int(ref)


def event_id_of(value: bytes | None) -> uuid.UUID | None:
    """`event_id` of a JSON event, or None for anything else (junk, deep nesting, a preview)."""
    try:
        doc = json.loads(value or b"")
        return uuid.UUID(str(doc["event_id"])) if isinstance(doc, dict) and "event_id" in doc else None
    except (ValueError, TypeError, RecursionError, UnicodeDecodeError):
        return None


def dlq_name(topic: str) -> str:
    """`claims.submitted` or `claims.submitted.dlq` → `claims.submitted.dlq`."""
    return topic if topic.endswith(DLQ_SUFFIX) else topic + DLQ_SUFFIX


def contract_dlq_topics() -> list[str]:
    """Every dead-letter topic of the contract."""
    return [t.name for t in all_topics() if t.name.endswith(DLQ_SUFFIX)]


async def read_letters(bootstrap: str, prefix: str, topics: Sequence[str]) -> list[DlqRecord]:
    """Every record now on the given DLQ topics (contract names), oldest first per topic, with one consumer."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    names = [prefix + dlq_name(t) for t in topics]
    from shared.kafka_security import client_options

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **client_options())
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # the client only knows topics it was asked about
        parts = [TopicPartition(t, p) for t in names for p in sorted(consumer.partitions_for_topic(t) or ())]
        if not parts:
            return []
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        # Read until each position passes the end offset seen at the start (not filtered by it: the local
        # broker reports the end of a multi-record batch as its first offset + 1).
        end = await consumer.end_offsets(parts)
        found: list[DlqRecord] = []
        while [tp for tp in parts if await consumer.position(tp) < end[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += [
                    DlqRecord(r.topic, r.partition, r.offset, r.timestamp, r.key, r.value or b"",
                              tuple(r.headers or ()), prefix)
                    for r in records
                ]  # fmt: skip
        order = {name: i for i, name in enumerate(names)}
        return sorted(found, key=lambda x: (order[x.topic], x.partition, x.offset))
    finally:
        await consumer.stop()


@dataclass(frozen=True)
class Selection:
    """Which dead letters an operator means: by error code, consumer and age."""

    error: str | None = None
    consumer: str | None = None
    since: datetime | None = None

    def __call__(self, letter: DlqRecord) -> bool:
        return (
            (self.error is None or letter.error == self.error)
            and (self.consumer is None or letter.consumer == self.consumer)
            and (self.since is None or letter.at >= self.since)
        )


_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime) -> datetime:
    """`--since`: an ISO instant or date (UTC when no zone is given), or an age such as `90m`, `2h`, `7d`."""
    if m := _DURATION.match(text.strip()):
        return now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"--since: {text!r} is neither an ISO date/time nor an age like 2h or 7d") from exc
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def parse_id(text: str, offset: int | None = None) -> tuple[str, int, int]:
    """`claims.submitted.dlq:12`, `…dlq:0:12`, or a topic plus OFFSET → (dlq topic, partition, offset)."""
    parts = text.split(":")
    try:
        if offset is not None and len(parts) == 1:
            return dlq_name(parts[0]), 0, offset
        if offset is None and len(parts) == 2:
            return dlq_name(parts[0]), 0, int(parts[1])
        if offset is None and len(parts) == 3:
            return dlq_name(parts[0]), int(parts[1]), int(parts[2])
    except ValueError:
        pass
    raise ValueError(f"ID: {text!r} must be TOPIC.dlq:OFFSET (or TOPIC.dlq OFFSET)")


# --------------------------------------------------------------------------- the audit (schema ops)


async def migrate_audit(conn: asyncpg.Connection[Any]) -> list[str]:
    """Create claimsctl's audit schema and apply its numbered migrations once (serialised across operators)."""
    schema = quote_ident(AUDIT_SCHEMA)
    await conn.execute("SELECT pg_advisory_lock($1)", advisory_key(f"migrate:{AUDIT_SCHEMA}"))
    try:
        await ensure_schema(conn, AUDIT_SCHEMA)  # made by the admin; as its owner jkn_claimsctl (shared/db_roles.py)
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (id text PRIMARY KEY, applied_at timestamptz "
            "DEFAULT now())"
        )
        done = {r["id"] for r in await conn.fetch(f"SELECT id FROM {schema}.schema_migrations")}
        applied: list[str] = []
        for mid, path in migration_files(AUDIT_MIGRATIONS):
            if mid not in done:
                async with conn.transaction():
                    await conn.execute(path.read_text())
                    await conn.execute(f"INSERT INTO {schema}.schema_migrations (id) VALUES ($1)", mid)
                applied.append(mid)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", advisory_key(f"migrate:{AUDIT_SCHEMA}"))


async def apply_audit_migrations(dsn: str) -> list[str]:
    """`claimsctl migrate`: the audit schema too, so an operator's role need not create it."""
    conn: asyncpg.Connection[Any] = await asyncpg.connect(dsn, server_settings={"search_path": AUDIT_SCHEMA})
    try:
        return await migrate_audit(conn)
    finally:
        await conn.close()


async def connect_audit(dsn: str, *, migrate: bool = True) -> asyncpg.Connection[Any]:
    """A connection on the audit schema; migrated first unless only reading."""
    conn: asyncpg.Connection[Any] = await asyncpg.connect(dsn, server_settings={"search_path": AUDIT_SCHEMA})
    try:
        if migrate:
            await migrate_audit(conn)
    except BaseException:
        await conn.close()
        raise
    return conn


@dataclass(frozen=True)
class PastRedrive:
    redrive_id: uuid.UUID
    by: str
    at: datetime


async def past_redrives(conn: asyncpg.Connection[Any], letters: Sequence[DlqRecord]) -> dict[str, PastRedrive]:
    """The (non-dry) redrive of each letter that has one, by letter id (none before the first redrive)."""
    if not letters or not await conn.fetchval(f"SELECT to_regclass('{AUDIT_SCHEMA}.dlq_redrives') IS NOT NULL"):
        return {}
    rows = await conn.fetch(
        """SELECT d.dlq_topic, d.dlq_partition, d.dlq_offset, d.dlq_timestamp_ms, d.redrive_id, d.redriven_by,
                  d.redriven_at
           FROM dlq_redrives d
           JOIN unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[]) AS u(t, p, o, ts)
             ON d.dlq_topic = u.t AND d.dlq_partition = u.p AND d.dlq_offset = u.o AND d.dlq_timestamp_ms = u.ts
           WHERE NOT d.dry_run""",
        [x.topic for x in letters],
        [x.partition for x in letters],
        [x.offset for x in letters],
        [x.timestamp_ms for x in letters],
    )
    by_coords = {(r["dlq_topic"], r["dlq_partition"], r["dlq_offset"], r["dlq_timestamp_ms"]): r for r in rows}
    found: dict[str, PastRedrive] = {}
    for x in letters:
        r = by_coords.get((x.topic, x.partition, x.offset, x.timestamp_ms))
        if r is not None:
            found[x.id] = PastRedrive(r["redrive_id"], r["redriven_by"], r["redriven_at"])
    return found


async def _audit(conn: asyncpg.Connection[Any], op: RedriveOperation, letter: DlqRecord, event_id: uuid.UUID | None,
                 *, dry_run: bool) -> bool:  # fmt: skip
    """Record one letter of a redrive; False when it was redriven already (the unique index said so)."""
    found = await conn.fetchval(
        """INSERT INTO dlq_redrives (redrive_id, dlq_topic, dlq_partition, dlq_offset, dlq_timestamp_ms, source_topic,
                                     event_id, error, consumer, redriven_by, redriven_at, dry_run)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (dlq_topic, dlq_partition, dlq_offset, dlq_timestamp_ms) WHERE NOT dry_run DO NOTHING
           RETURNING 1""",
        op.redrive_id,
        letter.topic,
        letter.partition,
        letter.offset,
        letter.timestamp_ms,
        op.prefix + letter.source_topic,
        event_id,
        _db_text(letter.error),
        _db_text(letter.consumer),
        _db_text(op.by),
        op.at,
        dry_run,
    )
    return found is not None


def _db_text(value: str | None) -> str | None:
    """PostgreSQL text refuses NUL: keep it visible as an escape."""
    return None if value is None else value.replace("\x00", "\\x00")[:500]


# --------------------------------------------------------------------------- redriving


@dataclass(frozen=True)
class Original:
    """The record as it first arrived: what a redrive publishes."""

    key: bytes | None
    value: bytes
    headers: tuple[Header, ...]


def original_headers(headers: Sequence[Header]) -> tuple[Header, ...]:
    """The sender's own headers: without the kernel's `dlq.*` and any earlier redrive's `redrive.*`."""
    return tuple((k, v) for k, v in headers if not k.startswith(("dlq.", "redrive.")))


async def fetch_body(conn: asyncpg.Connection[Any], schema: str, body_id: int) -> Original | None:
    """The original of a too-large dead letter, from the service's `dead_letter_bodies` (read only)."""
    row = await conn.fetchrow(
        f"SELECT key, body, headers::text AS headers FROM {quote_ident(schema)}.dead_letter_bodies WHERE id = $1",
        body_id,
    )
    if row is None:
        return None
    return Original(row["key"], row["body"], original_headers(_headers_from_json(row["headers"])))


def _headers_from_json(raw: str | None) -> list[Header]:
    """Headers stored as the outbox stores them: a JSON list of [base64 name, base64 value]."""
    pairs = json.loads(raw or "[]")
    return [(base64.b64decode(k).decode("utf-8", "surrogateescape"), base64.b64decode(v)) for k, v in pairs]


Outcome = Literal["redriven", "would-redrive", "already-redriven", "skipped", "failed"]


@dataclass(frozen=True)
class LetterOutcome:
    letter: DlqRecord
    outcome: Outcome
    detail: str = ""
    event_id: uuid.UUID | None = None


@dataclass
class RedriveOperation:
    """One `claimsctl dlq redrive`: who, when, and what became of each selected dead letter."""

    by: str
    prefix: str
    dry_run: bool
    redrive_id: uuid.UUID = field(default_factory=uuid.uuid4)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    outcomes: list[LetterOutcome] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        found = {k: 0 for k in ("redriven", "would-redrive", "already-redriven", "skipped", "failed")}
        for o in self.outcomes:
            found[o.outcome] += 1
        return found

    def redrive_headers(self, letter: DlqRecord, original: Original) -> list[Header]:
        """The original headers plus the ones naming this redrive."""
        return [
            *original.headers,
            ("redrive.id", str(self.redrive_id).encode()),
            ("redrive.by", self.by.encode("utf-8", "backslashreplace")),
            ("redrive.at", self.at.isoformat().encode()),
            ("redrive.dlq.offset", str(letter.offset).encode()),
        ]


async def redrive(
    conn: asyncpg.Connection[Any], producer: Any, op: RedriveOperation, letters: Sequence[DlqRecord]
) -> RedriveOperation:
    """Republish each letter's original once, auditing each in the same transaction as its publish."""
    past = await past_redrives(conn, letters)
    sent: dict[tuple[str, str], str] = {}  # (source topic, source coordinates) → letter id republished in this run
    for letter in letters:
        done = past.get(letter.id)
        if done is not None:
            detail = f"by {done.by} at {done.at.isoformat()} (redrive {done.redrive_id})"
            op.outcomes.append(LetterOutcome(letter, "already-redriven", detail, letter.event_id))
            continue
        op.outcomes.append(await _redrive_one(conn, producer, op, letter, sent))
    return op


async def _redrive_one(
    conn: asyncpg.Connection[Any], producer: Any, op: RedriveOperation, letter: DlqRecord,
    sent: dict[tuple[str, str], str],
) -> LetterOutcome:  # fmt: skip
    claimed = letter.text("dlq.source.topic")
    if claimed is not None and claimed != letter.source_topic:
        # The DLQ is a topic like any other: never let a header choose where operator action publishes.
        return LetterOutcome(letter, "skipped", f"dlq.source.topic {claimed!r} is not {letter.source_topic!r}")
    try:
        original = await _original(conn, letter)
    except (ValueError, asyncpg.PostgresError) as exc:
        return LetterOutcome(letter, "skipped", f"original bytes unavailable: {exc}")
    if original is None:
        return LetterOutcome(letter, "skipped", f"{BODY_REF}: no such row in dead_letter_bodies")
    event_id = event_id_of(original.value)
    twin = sent.get((letter.source_topic, letter.source))
    try:
        async with conn.transaction():
            if not await _audit(conn, op, letter, event_id, dry_run=op.dry_run):
                return LetterOutcome(letter, "already-redriven", "by another redrive meanwhile", event_id)
            if op.dry_run:
                return LetterOutcome(letter, "would-redrive", "", event_id)
            if twin is not None and "?" not in letter.source:
                # Two consumers dead-lettered the same record: it is republished once (each consumer's inbox
                # would absorb the second copy anyway, but one copy is what the operator means).
                return LetterOutcome(letter, "redriven", f"same record as {twin}", event_id)
            await producer.send_and_wait(
                op.prefix + letter.source_topic, original.value, key=original.key,
                headers=op.redrive_headers(letter, original),
            )  # fmt: skip
    except Exception as exc:
        # Not published or not audited (the transaction rolled back): this letter can be redriven again later,
        # and one letter the broker or the database refuses never stops the next.
        return LetterOutcome(letter, "failed", repr(exc), event_id)
    sent[(letter.source_topic, letter.source)] = letter.id
    return LetterOutcome(letter, "redriven", "", event_id)


async def _original(conn: asyncpg.Connection[Any], letter: DlqRecord) -> Original | None:
    ref = letter.body_ref
    if ref is None:
        return Original(letter.key, letter.value, original_headers(letter.headers))
    found = await fetch_body(conn, *ref)
    if found is None:
        return None
    # The stored row keeps the original headers; older rows without them fall back to the DLQ record's.
    return found if found.headers else Original(found.key, found.value, original_headers(letter.headers))
