"""Run real services in-process against the real stack, each test on its own topics and schema."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

from aiokafka import ConsumerRecord

from deploy.local import Stack, create_topics
from shared.events import Envelope, parse_event
from shared.runtime import ServiceRuntime, ServiceSpec
from shared.settings import (
    BrokerSettings,
    DatabaseSettings,
    OperatorSettings,
    PolicySettings,
    ServiceSettings,
    Settings,
)
from shared.topics import all_topics
from tests.support.kafka import consumed_all, group_members, produce, read_all
from tests.support.operators import operators


@dataclass(frozen=True)
class Lane:
    """One test's isolated world on the shared stack: a topic prefix and a schema suffix."""

    stack: Stack
    prefix: str
    suffix: str

    def settings(self, policy: PolicySettings | None = None, **broker: object) -> Settings:
        return Settings(
            broker=BrokerSettings(
                bootstrap_servers=self.stack.bootstrap_servers,
                topic_prefix=self.prefix,
                session_timeout_ms=6000,
                **broker,  # type: ignore[arg-type]
            ),
            database=DatabaseSettings(database_url=self.stack.database_url),
            policy=policy or PolicySettings(),
            service=ServiceSettings(retry_base_delay_s=0.01),
            operators=OperatorSettings(registry_file=operators().registry_file),  # the test operators' keys
        )

    def isolate(self, spec: ServiceSpec) -> ServiceSpec:
        """The spec with this lane's schema and consumer-group names."""
        return replace(
            spec,
            schema=f"{spec.schema}_{self.suffix}",
            consumes=[replace(c, name=f"{c.name}-{self.suffix}") for c in spec.consumes],
        )

    async def publish(self, events: Sequence[Envelope]) -> None:
        """Publish contract events onto this lane's topics, keyed as producers do."""
        by_topic: dict[str, list[Envelope]] = {}
        for e in events:
            by_topic.setdefault(e.topic, []).append(e)
        for topic, items in by_topic.items():
            await produce(self.stack.bootstrap_servers, self.prefix + topic, items)

    async def records(self, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
        """Everything on one of this lane's topics."""
        return await read_all(self.stack.bootstrap_servers, self.prefix + topic)

    async def events(self, topic: str) -> list[Envelope]:
        """Every event on one of this lane's topics, decoded."""
        return [parse_event(r.value) for r in await self.records(topic)]

    async def consumed(self, spec: ServiceSpec) -> bool:
        """Whether every consumer group of `spec` (an isolated spec) committed past everything on its topics."""
        for c in spec.consumes:
            topics = [self.prefix + t for t in c.accepted]
            if not await consumed_all(self.stack.bootstrap_servers, self.prefix + c.name, topics):
                return False
        return True

    async def instances_joined(self, spec: ServiceSpec, instances: int) -> bool:
        """Whether every consumer group of `spec` (isolated) is stable with `instances` members."""
        for c in spec.consumes:
            try:
                state = await group_members(self.stack.bootstrap_servers, self.prefix + c.name)
            except Exception:  # the coordinator does not know the group yet
                return False
            if state != ("Stable", instances):
                return False
        return True


async def new_lane(stack: Stack) -> Lane:
    """A fresh prefix with every contract topic created under it."""
    suffix = uuid.uuid4().hex[:8]
    lane = Lane(stack, f"t{suffix}.", suffix)
    await create_topics(stack.bootstrap_servers, [replace(t, partitions=min(t.partitions, 3)) for t in all_topics()],
                        prefix=lane.prefix)  # fmt: skip
    return lane


@dataclass
class WorkTally:
    """What one in-process instance applied, from the results of the batches it committed."""

    applied: int = 0
    batches: int = 0


def tally_work(runtime: ServiceRuntime) -> WorkTally:
    """Count, from now on, the events this instance applies (so a test can tell two instances apart)."""
    tally = WorkTally()
    for processor in runtime.processors.values():
        apply = processor.process

        async def counted(records: Any, apply: Any = apply) -> Any:
            result = await apply(records)
            tally.applied += result.applied
            tally.batches += 1
            return result

        processor.process = counted  # type: ignore[method-assign]
    return tally


@asynccontextmanager
async def running(spec: ServiceSpec, settings: Settings) -> AsyncIterator[ServiceRuntime]:
    """A service as it runs in production (migrations, relay, consumers, background tasks), in-process."""
    runtime = ServiceRuntime(spec, settings)
    await runtime.start()
    await runtime.broker.start()
    try:
        yield runtime
    finally:
        await runtime.broker.stop()
        await runtime.stop()
