"""What hospitals and finance see: every answer on the output topics, by claim."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared import topics
from shared.events import Envelope, parse_event
from shared.kafka_security import client_options

WATCHED = (
    topics.CLAIMS_GROUPED,
    topics.CLAIMS_REJECTED,
    topics.CLAIMS_PENDED,
    topics.CLAIMS_VERIFIED,
    topics.CLAIMS_DISPUTE_RESOLVED,
    topics.CLAIMS_PAID,
)


class Observer:
    """Reads the output topics from the beginning into memory (a test's and the simulator's eyes)."""

    def __init__(self, bootstrap: str, prefix: str = "") -> None:
        self.prefix = prefix
        self.consumer = AIOKafkaConsumer(
            *(prefix + t for t in WATCHED), bootstrap_servers=bootstrap, auto_offset_reset="earliest",
            enable_auto_commit=False, group_id=None, **client_options(),
        )  # fmt: skip
        self.by_claim: dict[str, list[Envelope]] = defaultdict(list)
        self.by_topic: dict[str, list[Envelope]] = defaultdict(list)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Subscribe and start reading."""
        await self.consumer.start()
        self._task = asyncio.create_task(self._read())

    async def stop(self) -> None:
        """Stop reading."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.consumer.stop()

    async def _read(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for rec in records:
                    event = parse_event(rec.value)
                    self.by_topic[rec.topic.removeprefix(self.prefix)].append(event)
                    if event.claim_id:
                        self.by_claim[event.claim_id].append(event)

    async def caught_up(self) -> bool:
        """Whether everything on the watched topics so far has been read."""
        parts = list(self.consumer.assignment())
        if not parts:
            return False
        ends = await self.consumer.end_offsets(parts)
        positions = [await self.consumer.position(tp) for tp in parts]
        return all(pos >= ends[tp] for tp, pos in zip(parts, positions, strict=True))

    def count(self, topic: str) -> int:
        """Events seen on a contract topic."""
        return len(self.by_topic[topic])

    def partitions(self) -> set[TopicPartition]:
        """What this observer reads."""
        return set(self.consumer.assignment())
