"""How far consumer groups have got on the broker: end offsets of topics and a group's committed offsets."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.verifier.domain.timing import Partition
from shared.kafka_security import client_options


class BrokerProgress:
    """Reads offsets only: it never joins a group, so it cannot take partitions from a consumer."""

    def __init__(self, bootstrap: str, topic_prefix: str = "") -> None:
        self.bootstrap = bootstrap
        self.prefix = topic_prefix

    async def end_offsets(self, topics: Sequence[str]) -> dict[Partition, int]:
        """The log end offset of every partition of `topics` (unprefixed names) now."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, **client_options())
        await consumer.start()
        try:
            await consumer._client.force_metadata_update()  # the client only knows topics it was asked about
            parts = [
                TopicPartition(self.prefix + t, p) for t in topics for p in sorted(consumer.partitions_for_topic(
                    self.prefix + t) or ())
            ]  # fmt: skip
            missing = [t for t in topics if not any(tp.topic == self.prefix + t for tp in parts)]
            if missing:  # a topic we cannot see could hold anything: never report it as caught up
                raise LookupError(f"topics not on the broker: {', '.join(missing)}")
            ends = await consumer.end_offsets(parts)
            return {(tp.topic[len(self.prefix) :], tp.partition): int(offset) for tp, offset in ends.items()}
        finally:
            await consumer.stop()

    async def committed(self, group: str, partitions: Sequence[Partition]) -> dict[Partition, int]:
        """What consumer group `group` (unprefixed, as in the service spec) has committed; -1 where nothing."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, **client_options())
        await admin.start()
        try:
            # Partitions named explicitly: the local broker cannot answer an "all partitions" fetch.
            asked = [TopicPartition(self.prefix + t, p) for t, p in partitions]
            found = await admin.list_consumer_group_offsets(self.prefix + group, partitions=asked)
            return {(tp.topic[len(self.prefix) :], tp.partition): int(meta.offset) for tp, meta in found.items()}
        finally:
            await admin.close()
