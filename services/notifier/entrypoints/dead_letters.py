"""Operators hear of every record that lands on a dead-letter topic.

DLQ records are the original (unreadable) bytes plus error headers, not contract events,
so the kernel's consumer cannot decode them: this task reads them with its own consumer
group, records each (topic, partition, offset, broker timestamp) once, plans an operator
alert per operators' subscription in the same transaction, and commits the offsets only
after that transaction commits. A failed round rewinds to the first record of the batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from services.notifier.adapters import metrics, repository
from services.notifier.domain.notices import DeadLetterArrival
from services.notifier.planning import plan
from shared.clock import Clock
from shared.db import Pool

log = structlog.get_logger(__name__)


async def watch_dead_letters(
    pool: Pool, schema: str, clock: Clock, bootstrap: str, topics: Sequence[str], group: str, *,
    session_timeout_ms: int = 10_000, retry_delay_s: float = 1.0,
) -> None:  # fmt: skip
    """Consume every DLQ topic until cancelled."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
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
    """Record each DLQ record once and plan the operators' alerts, in one transaction."""
    now = clock.now()
    told = 0
    async with pool.acquire() as conn, conn.transaction():
        for rec in records:
            arrival = DeadLetterArrival.from_record(
                rec.topic, rec.partition, rec.offset, rec.timestamp, rec.key, rec.value, rec.headers, now
            )
            if not await repository.record_dlq_arrival(conn, arrival):
                continue
            metrics.DLQ_ARRIVALS.labels(rec.topic).inc()
            log.error("record dead-lettered", topic=rec.topic, offset=rec.offset, error=arrival.header("dlq.error"),
                      consumer=arrival.header("dlq.consumer"), claim_id=arrival.key)  # fmt: skip
            told += await plan(conn, schema, arrival, now)
    return told
