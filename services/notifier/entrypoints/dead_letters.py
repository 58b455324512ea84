"""Operators hear of every record that lands on a dead-letter topic.

DLQ records are the original (unreadable) bytes plus error headers, not contract events,
so the kernel's consumer cannot decode them: this task reads them with its own consumer
group, records each (topic, partition, offset, broker timestamp) once, plans an operator
alert per operators' subscription in the same transaction, and commits the offsets only
after that transaction commits. A failed round rewinds to the first record of the batch.

Dead letters are hostile by nature: odd bytes in keys, header names and values and bodies are
stored and told escaped (shared/escaping.py), and one record that cannot be stored as it is
is stored in a minimal form instead, so it never blocks the records after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.notifier import metrics
from services.notifier.adapters import repository
from services.notifier.application import plan
from services.notifier.domain.notices import DeadLetterArrival
from shared import kafka_compat
from shared.clock import Clock
from shared.consumer import is_transient
from shared.db import Conn, Pool
from shared.escaping import escape_bytes, escape_text
from shared.kafka_security import client_options

log = structlog.get_logger(__name__)


async def watch_dead_letters(
    pool: Pool, schema: str, clock: Clock, bootstrap: str, topics: Sequence[str], group: str, *,
    session_timeout_ms: int = 10_000, retry_delay_s: float = 1.0,
) -> None:  # fmt: skip
    """Consume every DLQ topic until cancelled."""
    kafka_compat.install()  # a header name that is not UTF-8 must not stall the watcher
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        **client_options(),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=max(session_timeout_ms // 4, 500),
    )
    await consumer.start()
    try:
        while True:
            batch: dict[Any, list[Any]] = await consumer.getmany(timeout_ms=1000, max_records=500)
            records = [r for rs in batch.values() for r in rs]
            if not records:
                continue
            try:
                told = await record_arrivals(pool, schema, clock, records)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # not committed: read the same records again
                log.warning("DLQ records not recorded, will retry", error=repr(exc))
                for tp, rs in batch.items():
                    consumer.seek(TopicPartition(tp.topic, tp.partition), rs[0].offset)
                await asyncio.sleep(retry_delay_s)
                continue
            await consumer.commit()
            log.info("dead letters seen", records=len(records), alerts=told)
    finally:
        await consumer.stop()


async def record_arrivals(pool: Pool, schema: str, clock: Clock, records: Sequence[Any]) -> int:
    """Record each DLQ record once and plan the operators' alerts, in one transaction.

    Each record has its own savepoint: one that cannot be stored as it is (a bug, a value the database
    refuses) is stored in a minimal form instead, so it is still told and never holds up the next
    record. Transient failures (the database went away) fail the whole batch, to be read again.
    """
    now = clock.now()
    told = 0
    async with pool.acquire() as conn, conn.transaction():
        for rec in records:
            try:
                async with conn.transaction():  # a savepoint: undo only this record
                    told += await _record_one(conn, schema, _arrival(rec, now), now)
            except Exception as exc:
                if is_transient(exc):
                    raise
                log.error("DLQ record not storable as it is, storing a minimal form", topic=rec.topic,
                          partition=rec.partition, offset=rec.offset, error=repr(exc)[:1000])  # fmt: skip
                async with conn.transaction():
                    told += await _record_one(conn, schema, _minimal(rec, now, exc), now)
    return told


async def _record_one(conn: Conn, schema: str, arrival: DeadLetterArrival, now: datetime) -> int:
    if not await repository.record_dlq_arrival(conn, arrival):
        return 0  # seen before: a redelivery
    told = await plan(conn, schema, arrival, now)
    metrics.DLQ_ARRIVALS.labels(arrival.topic).inc()  # counted once planned: a record stored minimally counts once
    log.error("record dead-lettered", topic=arrival.topic, offset=arrival.offset, error=arrival.header("dlq.error"),
              consumer=arrival.header("dlq.consumer"), claim_id=arrival.key)  # fmt: skip
    return told


def _arrival(rec: Any, now: datetime) -> DeadLetterArrival:
    return DeadLetterArrival.from_record(
        rec.topic, rec.partition, rec.offset, _timestamp(rec), rec.key, rec.value, rec.headers, now
    )


def _minimal(rec: Any, now: datetime, exc: BaseException) -> DeadLetterArrival:
    """What is always storable: the coordinates, the kernel's error headers (escaped, short), no body."""
    kept = [(k, v) for k, v in (rec.headers or ()) if k in ("dlq.error", "dlq.consumer", "dlq.source.topic")]
    safe = [(escape_text(str(k), 40), escape_bytes(v, 200).encode()) for k, v in kept]
    reason = f"the notifier could not store this record as it is ({type(exc).__name__}); see its log"
    return DeadLetterArrival.from_record(
        escape_text(str(rec.topic), 300), int(rec.partition), int(rec.offset), _timestamp(rec), None, None,
        [*safe, ("dlq.reason", reason.encode())], now,
    )  # fmt: skip


def _timestamp(rec: Any) -> int:
    ts = getattr(rec, "timestamp", None)
    return ts if isinstance(ts, int) else -1
