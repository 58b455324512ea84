"""What the broker remembers of the payments: claims.paid from an offset on, and what a rebuilt payment needs.

Read by assignment (no consumer group), from named partitions: the local broker (tansu) drops the
connection when asked for every partition's committed offsets at once, and a group's offsets would say
nothing about what this database holds anyway.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from services.payments.adapters.payables import PayableKey
from shared import kafka_compat, topics
from shared.events import CapitationPaid, ClaimPaid, ClaimVerified, Envelope, PaymentRunRequested, parse_event
from shared.kafka_read import read_topic

log = structlog.get_logger(__name__)


class History(Protocol):
    """What else the broker holds that a rebuilt payment needs (read only when one needs it)."""

    async def verifications(self, keys: Collection[PayableKey]) -> dict[PayableKey, ClaimVerified]:
        """The verification each payable was created from, where `claims.verified` still has it."""
        ...

    async def run_requests(self, run_ids: Collection[str]) -> dict[str, PaymentRunRequested]:
        """The request of each run (its funds), where `payments.commands` still has it."""
        ...


E = TypeVar("E", bound=Envelope)


@dataclass(frozen=True)
class Read(Generic[E]):
    """The events of one type read from a topic, in partition order, and where the next read may start."""

    events: list[E]
    following: dict[int, int]
    skipped: int = 0  # records that are not the service's events of that type (nothing else may write the topic)
    starts: dict[int, int] = field(default_factory=dict)


async def read_from(
    bootstrap: str, topic: str, starts: Mapping[int, int] | None, options: Mapping[str, Any]
) -> tuple[list[Any], dict[int, int], dict[int, int]]:
    """The records of `topic` from `starts` (partition -> offset; None: the beginning) to its end now.

    A start beyond a partition's end means the topic is not the one the offset was taken on (a new
    local broker starts empty): that partition is read from its beginning, as is one whose start
    the broker no longer holds (retention). Returns the records, the starts used and, per partition,
    the offset after the last record read (where the next read may start).
    """
    kafka_compat.install()  # a header name that is not UTF-8 is read, not raised on every fetch
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **options)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # the client only knows topics it was asked about
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not parts:
            return [], {}, {}
        consumer.assign(parts)
        first = await consumer.beginning_offsets(parts)
        end = await consumer.end_offsets(parts)
        used: dict[int, int] = {}
        for tp in parts:
            wanted = (starts or {}).get(tp.partition, first[tp])
            used[tp.partition] = first[tp] if not first[tp] <= wanted <= end[tp] else wanted
            consumer.seek(tp, used[tp.partition])
        out: list[Any] = []
        # Where the next read starts: past every record read. Not the end offset alone: the local broker
        # (tansu) reports one past the base offset of a partition's last batch, short of its last record.
        following = {tp.partition: max(used[tp.partition], end[tp]) for tp in parts}

        async def behind() -> bool:
            return any([await consumer.position(tp) < end[tp] for tp in parts])

        while await behind():
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    out.append(r)
                    following[r.partition] = max(following[r.partition], r.offset + 1)
        return out, used, following
    finally:
        await consumer.stop()


def decoded(records: list[Any]) -> tuple[list[Envelope], int]:
    """The events of `records`; the count of those that are not events of the contract."""
    events: list[Envelope] = []
    skipped = 0
    for record in records:
        try:
            events.append(parse_event(record.value))
        except (ValidationError, ValueError, TypeError):
            skipped += 1
    return events, skipped


class KafkaHistory:
    """The payments topics of one deployment (its topic prefix), read with the service's broker settings."""

    def __init__(self, bootstrap: str, prefix: str, options: Mapping[str, Any]) -> None:
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.options = options

    @property
    def paid_topic(self) -> str:
        return self.prefix + topics.CLAIMS_PAID

    @property
    def capitation_topic(self) -> str:
        return self.prefix + topics.CAPITATION_PAID

    async def paid(self, starts: Mapping[int, int] | None) -> Read[ClaimPaid]:
        """ClaimPaid events from `starts` on (None: every one the topic still holds)."""
        return await self._read(self.paid_topic, ClaimPaid, starts)

    async def capitation(self, starts: Mapping[int, int] | None) -> Read[CapitationPaid]:
        """CapitationPaid events from `starts` on (None: every one the topic still holds)."""
        return await self._read(self.capitation_topic, CapitationPaid, starts)

    async def _read(self, topic: str, kind: type[E], starts: Mapping[int, int] | None) -> Read[E]:
        records, used, following = await read_from(self.bootstrap, topic, starts, self.options)
        events, skipped = decoded(records)
        mine = [e for e in events if isinstance(e, kind) and e.producer == "payments"]
        skipped += len(events) - len(mine)
        if skipped:
            log.warning("records that are not the service's own events, ignored", topic=topic, skipped=skipped)
        return Read(mine, following, skipped, used)

    async def verifications(self, keys: Collection[PayableKey]) -> dict[PayableKey, ClaimVerified]:
        wanted = set(keys)
        found: dict[PayableKey, ClaimVerified] = {}
        events, _ = decoded(await read_topic(self.bootstrap, self.prefix + topics.CLAIMS_VERIFIED))
        for e in events:
            if isinstance(e, ClaimVerified) and e.claim_id is not None:
                key = (e.claim_id, e.payload.verification_seq)
                if key in wanted:
                    found.setdefault(key, e)
        return found

    async def run_requests(self, run_ids: Collection[str]) -> dict[str, PaymentRunRequested]:
        wanted = set(run_ids)
        found: dict[str, PaymentRunRequested] = {}
        events, _ = decoded(await read_topic(self.bootstrap, self.prefix + topics.PAYMENTS_COMMANDS))
        for e in events:
            if isinstance(e, PaymentRunRequested) and e.payload.run_id in wanted:
                found.setdefault(e.payload.run_id, e)
        return found
