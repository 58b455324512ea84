"""Test helpers that talk to the real broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from deploy.local import create_topics
from shared.events import Envelope, encode_event
from shared.kafka_read import read_topic
from shared.kafka_security import client_options
from shared.topics import TopicSpec, dlq_topic


async def make_topics(bootstrap: str, *names: str, partitions: int = 3) -> None:
    """Create test topics and their dead-letter topics."""
    specs = [TopicSpec(n, partitions, 1) for n in names] + [TopicSpec(dlq_topic(n), 1, 1) for n in names]
    await create_topics(bootstrap, specs)


async def produce(bootstrap: str, topic: str, items: Sequence[Envelope | tuple[bytes | None, bytes]]) -> None:
    """Publish events (keyed by claim) or raw (key, value) pairs, waiting for every ack."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, **client_options())
    await producer.start()
    try:
        futures = []
        for item in items:
            if isinstance(item, Envelope):
                futures.append(await producer.send(topic, encode_event(item), key=item.key.encode()))
            else:
                futures.append(await producer.send(topic, item[1], key=item[0]))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record currently on `topic`, read from the beginning without a group."""
    return await read_topic(bootstrap, topic)


async def committed_offsets(
    bootstrap: str, group: str, partitions: Sequence[TopicPartition] | None = None
) -> dict[TopicPartition, int]:
    """What the group has committed (-1 where it has committed nothing).

    Name the partitions: the local broker (tansu) closes the connection when asked for "all of them".
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options())
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(group, partitions=list(partitions) if partitions else None)
        return {tp: meta.offset for tp, meta in found.items()}
    finally:
        await admin.close()


async def end_offsets(bootstrap: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
    """The offset after the last record of every partition of `topics`, right now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **client_options())
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # the client only knows topics it was asked about
        parts = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        return dict(await consumer.end_offsets(parts)) if parts else {}
    finally:
        await consumer.stop()


async def consumed_all(bootstrap: str, group: str, topics: Sequence[str]) -> bool:
    """True once `group` has committed past every record now on `topics`.

    A consumer commits only after its database transaction, so every record up to here, a
    duplicate the inbox skipped included, has been handled: what a test may assert after it.
    """
    ends = {tp: end for tp, end in (await end_offsets(bootstrap, topics)).items() if end > 0}
    if not ends:
        return True
    committed = await committed_offsets(bootstrap, group, list(ends))
    return all(committed.get(tp, -1) >= end for tp, end in ends.items())


async def group_members(bootstrap: str, group: str) -> tuple[str, int]:
    """The group's state (e.g. `Stable`) and how many members it has, as its coordinator sees them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options())
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    described = response.groups[0]  # (error_code, group, state, protocol_type, protocol, members)
    return str(described[2]), len(described[5])


async def eventually(check: object, within: float = 30.0, interval: float = 0.1) -> None:
    """Poll an async predicate until true (waiting on a condition, not sleeping a fixed time)."""
    deadline = time.monotonic() + within
    last = None
    while time.monotonic() < deadline:
        last = await check()  # type: ignore[operator]
        if last:
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {within} s (last value {last!r})")
