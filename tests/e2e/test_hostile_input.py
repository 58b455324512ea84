"""Hostile input cannot stop the pipeline (issue 11, must show), on the real broker and database with the
four services running:
- a 600 KB claim and then 100 ordinary claims: every ordinary claim is grouped and verified, the big one is
  in the DLQ as `too-large` (the local tansu broker accepts a 600 KB record, so it is sent as is);
- a NUL, and another control character, in every string field of every consumed event type: no stall, each
  poisoned record is dead-lettered once per consuming group naming the field and the rule, and the valid
  record after it (same key, so behind it in its partition) is applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from deploy.local import Stack
from services.simulator.harness import services
from shared.events import Envelope, encode_event, event_type_name, parse_event_obj
from shared.operators import COMMAND_TOPICS
from shared.runtime import ServiceSpec
from shared.services import SERVICES
from shared.topics import dlq_topic
from tests.support.factories import submitted
from tests.support.hostile import (
    CONTROL_CHARACTERS,
    Piece,
    consumed_topics,
    dead_letter_problems,
    dotted,
    encoded,
    event_class,
    fresh,
    inbox_ids,
    poisoned,
    produce_raw,
    string_paths,
    with_control,
)
from tests.support.kafka import eventually
from tests.support.operators import sign
from tests.support.services import Lane, new_lane

ORDINARY = 100


def spec_of(lane: Lane, name: str) -> ServiceSpec:
    return next(lane.isolate(s) for s in SERVICES() if s.name == name)


def digits(lane: Lane) -> str:
    """Seven digits of this lane: keys are 13 digits, valid as a claim id, a card number and a run id."""
    return f"{int(lane.suffix, 16) % 10**7:07d}"


async def keys_on(lane: Lane, topic: str) -> list[bytes | None]:
    return [r.key for r in await lane.records(topic)]


async def all_applied(lane: Lane, spec: ServiceSpec, event_ids: set[str]) -> bool:
    return event_ids <= await inbox_ids(lane.stack.database_url, spec.schema, spec.consumes[0].name)


def member(card: str) -> Envelope:
    """An active JKN member with this card (the verifier refuses claims of unknown members)."""
    return parse_event_obj(fresh(event_class("ParticipantChanged"), card))


# --------------------------------------------------------------------------- a 600 KB claim, then 100 ordinary


def test_a_600_kb_claim_is_dead_lettered_too_large_and_the_100_ordinary_claims_after_it_are_verified(
    stack: Stack,
) -> None:
    asyncio.run(_big_then_ordinary(stack))


async def _big_then_ordinary(stack: Stack) -> None:
    lane = await new_lane(stack)
    grouper, verifier = spec_of(lane, "grouper"), spec_of(lane, "verifier")
    big = fresh(event_class("ClaimSubmitted"), f"BIG-{lane.suffix}")
    big["payload"]["claim"]["diagnosa"] = ["K" * 300_000, "E" * 300_000]
    big_bytes = encoded(big)
    assert 600_000 < len(big_bytes) < 700_000
    cards = [f"{digits(lane)}{i:06d}" for i in range(ORDINARY)]
    members = [member(card) for card in cards]
    ordinary = [
        submitted(f"ORD-{lane.suffix}-{i:03d}", nomor_sep=f"0301R0011126V{i:06d}", nomor_kartu=card)
        for i, card in enumerate(cards)
    ]
    async with services(lane.settings(), lane.isolate):
        await lane.publish(members)
        await eventually(lambda: all_applied(lane, verifier, {str(m.event_id) for m in members}), within=60)
        await produce_raw(
            stack.bootstrap_servers, lane.prefix + "claims.submitted", [(big["claim_id"].encode(), big_bytes)]
        )
        await lane.publish(ordinary)
        wanted = {c.key.encode() for c in ordinary}
        await eventually(lambda: _all_on(lane, "claims.verified", wanted), within=120, interval=0.5)
        for spec in SERVICES():  # every group reading claims.submitted dead-letters the big one before it goes on
            await eventually(lambda spec=spec: lane.consumed(lane.isolate(spec)), within=60)
        grouped, verified = await keys_on(lane, "claims.grouped"), await keys_on(lane, "claims.verified")
        pended, rejected = await keys_on(lane, "claims.pended"), await keys_on(lane, "claims.rejected")
        letters = await lane.records(dlq_topic("claims.submitted"))
    assert sorted(k for k in grouped if k in wanted) == sorted(wanted), "every ordinary claim is grouped once"
    assert sorted(k for k in verified if k in wanted) == sorted(wanted), "... and verified once"
    assert not wanted & {*pended, *rejected}, "an ordinary claim of an active member is verified, nothing else"
    assert big["claim_id"].encode() not in {*grouped, *rejected}
    # The big one, dead-lettered once by each group reading claims.submitted: the grouper (and the console's
    # analytics read model, where this checkout has it).
    readers = sorted(c.name for s in SERVICES() for c in lane.isolate(s).consumes if "claims.submitted" in c.accepted)
    assert grouper.consumes[0].name in readers
    assert sorted(dict(letter.headers)["dlq.consumer"].decode() for letter in letters) == readers
    for letter in letters:
        headers = dict(letter.headers)
        assert headers["dlq.error"] == b"too-large"
        assert headers["dlq.reason"].decode() == (
            f"(record): {len(big_bytes)} bytes exceeds the limit of 262144 (KAFKA_MAX_RECORD_BYTES)"
        )
        assert letter.key == big["claim_id"].encode() and letter.value == big_bytes  # its original bytes


async def _all_on(lane: Lane, topic: str, keys: set[bytes]) -> bool:
    return keys <= set(await keys_on(lane, topic))


# --------------------------------------------------------------------------- a control character in every field

# A valid record about a claim (or held request) nobody knows reaches its handler, which refuses it by its
# own rule (a dead letter with the rule's code); every other valid follow-up is applied.
REFUSED_BY_RULE = {  # event type: (dlq.error, what dlq.reason says)
    "ReviewDecisionRequested": ("V-STATE-UNKNOWN-CLAIM", "Claim is not known to the verifier (never grouped)"),
    "DisputeResolutionRequested": ("V-STATE-UNKNOWN-CLAIM", "Claim is not known to the verifier (never grouped)"),
    "ApprovalGranted": ("approval-unknown-subject", "is held for approval"),
}
# Identifiers with a shape of their own: that shape rule refuses the control character first.
SHAPE_RULES = {
    "claim_id": "String should match pattern",
    "payload.month": "String should have at most 7 characters",
}
OTHER_CONTROLS = [c for name, c in CONTROL_CHARACTERS.items() if name != "NUL"]


@dataclass(frozen=True)
class FollowUp:
    """The valid record sent right after a field's poisoned records, under the same key."""

    topic: str
    event_type: str
    key: str
    doc: dict[str, Any]

    @property
    def event_id(self) -> str:
        return str(self.doc["event_id"])


def test_a_control_character_in_any_string_field_is_dead_lettered_once_and_the_next_record_is_applied(
    stack: Stack,
) -> None:
    asyncio.run(_control_characters(stack))


async def _control_characters(stack: Stack) -> None:
    lane = await new_lane(stack)
    topics = consumed_topics(lane.isolate)
    serial = itertools.count()
    keys = (f"{digits(lane)}{n:06d}" for n in serial)
    poison: list[Piece] = []
    follow_ups: list[FollowUp] = []
    for topic in sorted(topics):
        for kind in topics[topic].types:
            for i, path in enumerate(string_paths(kind)):
                key = next(keys)
                base = distinct(fresh(kind, key), next(serial))
                poison += poisoned_pieces(topic, kind, key, base, path, OTHER_CONTROLS[i % len(OTHER_CONTROLS)])
                follow = {**base, "event_id": str(uuid.uuid4())}
                if topic in COMMAND_TOPICS:  # an operator's command has effect only when its operator signed it
                    follow = json.loads(encode_event(sign(parse_event_obj(follow))))
                follow_ups.append(FollowUp(topic, event_type_name(kind), key, follow))
    assert len(poison) > 200, "every string field of every consumed type, twice"
    # Claims the verifier is to verify belong to members it knows.
    members = [member(f.doc["payload"]["claim"]["nomor_kartu"]) for f in follow_ups if f.event_type == "ClaimGrouped"]
    refused = [
        Piece(f"valid {f.event_type} after the poisoned ones", f.topic, f.key.encode(), encoded(f.doc),
              *REFUSED_BY_RULE[f.event_type])
        for f in follow_ups if f.event_type in REFUSED_BY_RULE
    ]  # fmt: skip
    verifier = spec_of(lane, "verifier")
    async with services(lane.settings(), lane.isolate):
        await lane.publish(members)
        await eventually(lambda: all_applied(lane, verifier, {str(m.event_id) for m in members}), within=60)
        for topic in sorted(topics):
            records = [(p.key, p.value) for p in poison if p.topic == topic]
            records += [(f.key.encode(), encoded(f.doc)) for f in follow_ups if f.topic == topic]
            # Per key: NUL, other control character, then the valid follow-up (one partition, in this order).
            records.sort(key=lambda r: r[0] or b"")
            await produce_raw(stack.bootstrap_servers, lane.prefix + topic, records)
        for spec in SERVICES():
            await eventually(lambda spec=spec: lane.consumed(lane.isolate(spec)), within=120, interval=0.5)

        async def letter_problems() -> list[str]:
            found: list[str] = []
            for topic, consumed in topics.items():
                mine = [p for p in (*poison, *refused) if p.topic == topic]
                found += dead_letter_problems(await lane.records(dlq_topic(topic)), mine, consumed.groups)
            return found

        # Dead letters are outbox rows, published by each service's relay just after its consumer commits:
        # a group that has consumed everything may still be publishing its last letters, so poll for them.
        problems: list[str] = []

        async def letters_complete() -> bool:
            problems[:] = await letter_problems()
            return not problems

        with contextlib.suppress(AssertionError):  # still wrong after 60 s: the problems are reported below
            await eventually(letters_complete, within=60, interval=0.5)
        problems += await _not_applied(lane, topics, follow_ups)
        problems += await _outputs_missing(lane, follow_ups)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:60])


def distinct(doc: dict[str, Any], n: int) -> dict[str, Any]:
    """Its own SEP, facility, correction or approval subject: no follow-up is refused as a repeat of another."""
    payload = doc["payload"]
    sep = f"0301R0011126V{n:06d}"
    if "nomor_sep" in payload:
        payload["nomor_sep"] = sep
    if "claim" in payload:
        payload["claim"]["nomor_sep"] = sep
        payload["claim"]["nomor_kartu"] = f"{n:013d}"
    for line in payload.get("lines", ()):
        line["kode_faskes"] = f"0301P{n % 1000:03d}"
    if "correction_id" in payload:  # a correction held for approval
        payload["correction_id"] = f"VEDIKA-{n}"
    if "subject_id" in payload:  # an approval of nothing that is held
        payload["subject_id"] = f"NOTHING-HELD-{n}"
    parse_event_obj(doc)  # still valid: only the poison makes it invalid
    return doc


def poisoned_pieces(
    topic: str, kind: type[Envelope], key: str, base: dict[str, Any], path: tuple[str | int, ...], other: str
) -> Iterator[Piece]:
    name, field = event_type_name(kind), dotted(path)
    for char in ("\x00", other):
        doc = {**poisoned(base, path, with_control(char)), "event_id": str(uuid.uuid4())}
        rule = SHAPE_RULES.get(field, f"control character U+{ord(char):04X} at position 1")
        yield Piece(f"{name}.{field} with U+{ord(char):04X}", topic, key.encode(), encoded(doc), "schema",
                    f"{name}.{field}: {rule}")  # fmt: skip


async def _not_applied(lane: Lane, topics: dict[str, Any], follow_ups: list[FollowUp]) -> list[str]:
    """Every valid follow-up not refused by a rule is in the inbox of every group consuming its topic."""
    problems = []
    applied: dict[str, set[str]] = {}
    for spec in SERVICES():
        isolated = lane.isolate(spec)
        for c in isolated.consumes:
            applied[c.name] = await inbox_ids(lane.stack.database_url, isolated.schema, c.name)
    for f in follow_ups:
        for group in topics[f.topic].groups:
            if f.event_type not in REFUSED_BY_RULE and f.event_id not in applied[group]:
                problems.append(f"valid {f.event_type} on {f.topic} after the poisoned ones: not applied by {group}")
    return problems


async def _outputs_missing(lane: Lane, follow_ups: list[FollowUp]) -> list[str]:
    """What a hospital sees of the follow-ups: submitted ones grouped, grouped ones verified, disputes answered."""
    expected = {
        "ClaimSubmitted": "claims.grouped",
        "ClaimGrouped": "claims.verified",
        "ClaimDisputed": "claims.rejected",
    }
    problems = []
    for event_type, topic in expected.items():
        keys = set(await keys_on(lane, topic))
        for f in follow_ups:
            if f.event_type == event_type and f.key.encode() not in keys:
                problems.append(f"valid {event_type} after the poisoned ones: nothing on {topic}")
    for r in await lane.records("claims.rejected"):
        dispute = next((f for f in follow_ups if f.event_type == "ClaimDisputed" and f.key.encode() == r.key), None)
        if dispute is not None and b"V-STATE-UNKNOWN-CLAIM" not in r.value:
            problems.append(f"dispute {dispute.key} answered with {r.value[:200]!r}, expected V-STATE-UNKNOWN-CLAIM")
    return problems
