"""Reading a topic's current records from the beginning, without a consumer group (tools and tests)."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared import kafka_compat
from shared.kafka_security import client_options


async def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every record now on `topic`, in partition order (aiokafka ConsumerRecords)."""
    kafka_compat.install()  # a header name that is not UTF-8 is read, not raised on every fetch
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **client_options())
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # the client only knows topics it was asked about
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not parts:
            return []
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        out: list[Any] = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < end[tp] for tp in parts])

        while await behind():
            for records in (await consumer.getmany(timeout_ms=500)).values():
                out.extend(records)
        return out
    finally:
        await consumer.stop()
