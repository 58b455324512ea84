"""Junk on every consumed topic: no consumer falls over, every piece lands on the DLQ with a reason."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploy.local import Stack
from services.simulator.harness import services
from shared.kafka_read import read_topic
from shared.services import SERVICES
from shared.topics import dlq_topic
from tests.support.factories import example
from tests.support.kafka import produce
from tests.support.services import new_lane

EVENT_TYPES = [
    "ClaimSubmitted", "ClaimGrouped", "ClaimVerified", "ClaimDisputed", "ParticipantChanged",
    "ReviewDecisionRequested", "PaymentRunRequested",
]  # fmt: skip


def _mutate(doc: dict[str, Any], how: str, key: str) -> dict[str, Any]:
    """One near-valid variant of a valid event."""
    doc = json.loads(json.dumps(doc))
    doc["event_id"] = str(uuid.uuid4())
    payload = doc["payload"]
    if how == "drop-field":
        payload.pop(sorted(payload)[hash(key) % len(payload)])
    elif how == "extra-field":
        payload[key or "x"] = 1
    elif how == "wrong-type":
        first = sorted(payload)[0]
        payload[first] = {"nested": [key]}
    elif how == "bad-uuid":
        doc["event_id"] = key or "not-a-uuid"
    elif how == "naive-time":
        doc["occurred_at"] = "2026-03-02T10:00:00"
    elif how == "unknown-type":
        doc["event_type"] = "Claim" + key
    return doc


near_valid = st.builds(
    lambda t, how, key: json.dumps(_mutate(example(t), how, key)).encode(),
    st.sampled_from(EVENT_TYPES),
    st.sampled_from(["drop-field", "extra-field", "wrong-type", "bad-uuid", "naive-time", "unknown-type"]),
    st.text(alphabet="abcXYZ_", max_size=8),
)
junk = st.lists(st.one_of(st.binary(min_size=0, max_size=300), near_valid), min_size=12, max_size=12, unique=True)


@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck))
@given(pieces=junk)
def test_junk_on_every_consumed_topic_lands_on_its_dlq_with_a_reason(stack: Stack, pieces: list[bytes]) -> None:
    asyncio.run(_run(stack, pieces))


async def _run(stack: Stack, pieces: list[bytes]) -> None:
    lane = await new_lane(stack)
    consumers: dict[str, list[str]] = {}  # topic -> consumer groups reading it
    for spec in SERVICES():
        for c in lane.isolate(spec).consumes:
            for topic in c.accepted:
                consumers.setdefault(topic, []).append(c.name)
    async with services(lane.settings(), lane.isolate):
        for topic in consumers:
            await produce(stack.bootstrap_servers, lane.prefix + topic, [(b"junk", p) for p in pieces])
        for topic, groups in consumers.items():
            want = len(pieces) * len(groups)
            deadline = asyncio.get_running_loop().time() + 60
            while len(await read_topic(stack.bootstrap_servers, lane.prefix + dlq_topic(topic))) < want:
                assert asyncio.get_running_loop().time() < deadline, f"{topic}: junk missing from its DLQ"
                await asyncio.sleep(0.2)
        # Still consuming: a valid claim goes all the way through afterwards.
        claim = example("ClaimSubmitted")
        claim.update(event_id=str(uuid.uuid4()), claim_id=f"J-{lane.suffix}")
        await produce(
            stack.bootstrap_servers,
            lane.prefix + "claims.submitted",
            [(claim["claim_id"].encode(), json.dumps(claim).encode())],
        )
        deadline = asyncio.get_running_loop().time() + 60
        while not [r for r in await read_topic(stack.bootstrap_servers, lane.prefix + "claims.grouped")]:
            assert asyncio.get_running_loop().time() < deadline, "the grouper stopped consuming after junk"
            await asyncio.sleep(0.2)
    for topic, groups in consumers.items():
        letters = await read_topic(stack.bootstrap_servers, lane.prefix + dlq_topic(topic))
        per_group = Counter(dict(r.headers)["dlq.consumer"].decode() for r in letters)
        assert per_group == Counter({g: len(pieces) for g in groups}), topic
        assert Counter(r.value for r in letters) == Counter({p: len(groups) for p in pieces})  # the original bytes
        for r in letters:
            headers = dict(r.headers)
            assert headers["dlq.error"] and headers["dlq.reason"], "a dead letter must say why"
            assert headers["dlq.source.topic"].decode() == topic
