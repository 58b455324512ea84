"""Junk on every consumed topic: every consumer group keeps up and dead-letters each piece once, with the
exact error, the field and rule it broke, and the original bytes; a valid claim is still paid afterwards.

The corpus has two parts, sent together in ONE run of the four services (starting them is most of the cost):
- explicit: every mutation below applied to the worked example of every event type each topic carries,
  plus raw pieces (no value, empty, not UTF-8, deep nesting) on every topic, a valid event of a type the
  topic does not carry, and a valid event under a wrong key;
- generated: Hypothesis draws GENERATED more pieces (control characters at random places of random string
  fields, random bytes, random oversize, random invalid UTF-8, random nesting depths). `@given` only builds
  bytes here, so it runs in milliseconds; it is derandomized so that a failure is reproducible.

Every piece is keyed by its own claim id (card or run id where the event has none): the key check passes,
so only the check under test can catch it, and the key tells the piece apart on the dead-letter topic.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from deploy.local import Stack
from services.simulator.harness import services
from shared.events import Envelope, encode_event, event_type_name, parse_event_obj
from shared.services import SERVICES
from shared.topics import dlq_topic
from tests.support.hostile import (
    CONTROL_CHARACTERS,
    DEEP,
    ConsumedTopic,
    Path,
    Piece,
    consumed_topics,
    dead_letter_problems,
    dotted,
    encoded,
    event_class,
    fresh,
    inbox_ids,
    invalid_utf8_at,
    nested_at,
    padded_to,
    poisoned,
    produce_raw,
    required_payload_field,
    string_paths,
    with_control,
)
from tests.support.kafka import eventually
from tests.support.operators import approved
from tests.support.services import Lane, new_lane

LIMIT = 262_144  # KAFKA_MAX_RECORD_BYTES, its default: the services run with it
GENERATED = 30
TOO_LARGE = "exceeds the limit of 262144 (KAFKA_MAX_RECORD_BYTES)"


@dataclass(frozen=True)
class Target:
    """An event type on a topic that carries it, and the key of the next piece made from it."""

    topic: str
    event_type: type[Envelope]
    key: str

    @property
    def name(self) -> str:
        return event_type_name(self.event_type)

    def doc(self) -> dict[str, Any]:
        doc = fresh(self.event_type, self.key)
        parse_event_obj(doc)  # valid as it stands: the mutation alone is what a consumer must catch
        return doc

    def piece(self, how: str, value: bytes | None, error: str, names: str | None = None) -> Piece:
        return Piece(f"{self.name} on {self.topic}: {how}", self.topic, self.key.encode(), value, error, names)

    def at(self, path: tuple[str | int, ...]) -> str:
        """How the contract names a field of this event type in a refusal."""
        return f"{self.name}.{dotted(path)}:"


def mutations(topic: str, kind: type[Envelope], keys: Iterator[str]) -> Iterator[Piece]:
    """Every near-valid variant of `kind`'s worked example, each under its own key, with the dead letter
    it must become."""
    strings = list(string_paths(kind))

    def each(how: str, change: Callable[[dict[str, Any]], bytes], error: str, names: str | None) -> Piece:
        t = Target(topic, kind, next(keys))
        return t.piece(how, change(t.doc()), error, names)

    def at(path: tuple[str | int, ...]) -> str:
        return f"{event_type_name(kind)}.{dotted(path)}:"  # how the contract names a field in a refusal

    dropped = required_payload_field(kind)
    yield each("drop-field", lambda d: encoded(_without(d, dropped)), "schema", at(("payload", dropped)))
    yield each("extra-field", lambda d: encoded(_with(d, "surplus", 1)), "schema", at(("payload", "surplus")))
    first = next(iter(example_payload(kind)))
    yield each("wrong-type", lambda d: encoded(_with(d, first, {"nested": [1]})), "schema", at(("payload", first)))
    yield each("bad-uuid", lambda d: encoded({**d, "event_id": "not-a-uuid"}), "schema", at(("event_id",)))
    naive = "2026-03-02T10:00:00"
    yield each("naive-time", lambda d: encoded({**d, "occurred_at": naive}), "schema", at(("occurred_at",)))
    yield each("version-2", lambda d: encoded({**d, "schema_version": 2}), "schema", at(("schema_version",)))
    yield each("unknown-type", lambda d: encoded({**d, "event_type": "ClaimNope"}), "schema", "'ClaimNope'")
    for i, (name, char) in enumerate(CONTROL_CHARACTERS.items()):
        where = strings[(i * 7) % len(strings)]  # a different field for each character

        def control(d: dict[str, Any], where: Path = where, char: str = char) -> bytes:
            return encoded(poisoned(d, where, with_control(char)))

        yield each(f"{name} in {dotted(where)}", control, "schema", at(where))
    path = strings[-1]
    # Longer than any field may be, yet far under the record limit: the contract's length rule catches it.
    overlong = encoded_with(path, "y" * 20_000)
    yield each(f"20,000 characters in {dotted(path)}", overlong, "schema", at(path))
    huge = encoded_with(path, "z" * 300_000)
    yield each(f"300,000 characters in {dotted(path)}", huge, "too-large", TOO_LARGE)
    yield each(f"invalid UTF-8 in {dotted(path)}", lambda d: invalid_utf8_at(d, path), "schema", "(document)")
    yield each(f"{DEEP} levels in {dotted(path)}", lambda d: nested_at(d, path, DEEP), "schema", "(document)")
    # The limit itself: a record of exactly LIMIT bytes is parsed (and refused for its field's length) ...
    yield each("exactly at the limit", lambda d: padded_to(d, path, LIMIT), "schema", at(path))
    # ... one byte more is not parsed at all.
    yield each("one byte over the limit", lambda d: padded_to(d, path, LIMIT + 1), "too-large", TOO_LARGE)


def encoded_with(path: Path, text: str) -> Callable[[dict[str, Any]], bytes]:
    return lambda d: encoded(poisoned(d, path, lambda _old: text))


def example_payload(kind: type[Envelope]) -> dict[str, Any]:
    payload: dict[str, Any] = fresh(kind, "1")["payload"]
    return payload


def _with(doc: dict[str, Any], field: str, value: object) -> dict[str, Any]:
    return {**doc, "payload": {**doc["payload"], field: value}}


def _without(doc: dict[str, Any], field: str) -> dict[str, Any]:
    return {**doc, "payload": {k: v for k, v in doc["payload"].items() if k != field}}


def raw_pieces() -> Iterator[tuple[str, bytes | None, str, str]]:
    """(how, value, error, named) for junk that is not an event at all; each gets its own key."""
    yield "no value (tombstone)", None, "empty", "no value"
    yield "empty value", b"", "empty", "no value"
    yield "not UTF-8", b"\xff\xfe\x00 not json", "schema", "(document)"
    yield f"{DEEP} levels of [", b"[" * DEEP, "schema", "(document)"
    yield "JSON null", b"null", "schema", "(document)"
    yield "an object of nothing", b"{}", "schema", "(document)"


def explicit_corpus(topics: dict[str, ConsumedTopic], keys: Iterator[str]) -> list[Piece]:
    pieces: list[Piece] = []
    names = sorted(topics)
    for topic in names:
        for kind in topics[topic].types:
            pieces += mutations(topic, kind, keys)
            # A valid event under a key other than its own: its order could not be kept.
            t = Target(topic, kind, next(keys))
            doc = t.doc()
            pieces.append(Piece(f"{t.name} on {topic}: wrong key", topic, f"not-{t.key}".encode(), encoded(doc),
                                "wrong-key", f"key must be {t.key!r}"))  # fmt: skip
            # A valid event, rightly keyed, on a topic that does not carry its type.
            elsewhere = next(n for n in names[names.index(topic) + 1 :] + names if kind not in topics[n].types)
            t = Target(elsewhere, kind, next(keys))
            pieces.append(t.piece(f"valid {t.name} sent to {elsewhere}", encoded(t.doc()), "wrong-topic",
                                  f"{t.name} is not accepted on {elsewhere}"))  # fmt: skip
        for how, value, error, named in raw_pieces():
            pieces.append(Piece(f"{how} on {topic}", topic, next(keys).encode(), value, error, named))
    return pieces


# What generated control characters may be: every C0 control and DEL, but not tab, LF and CR, which free
# text (notes, reasons) may carry; the explicit corpus and test_hostile_input cover the rest field by field.
REFUSED_CONTROLS = [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"] + ["\x7f"]
# Printable text around a control character: nothing in it may be refused by itself.
PLAIN = st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "Zs"]), max_size=3)


def generated_corpus(topics: dict[str, ConsumedTopic], keys: Iterator[str]) -> list[Piece]:
    """GENERATED pieces drawn by Hypothesis (bytes only: they are all sent in the one e2e run)."""
    targets = [(topic, kind) for topic in sorted(topics) for kind in topics[topic].types]
    found: list[Piece] = []

    @st.composite
    def target(draw: st.DrawFn) -> tuple[Target, tuple[str | int, ...]]:
        topic, kind = draw(st.sampled_from(targets))
        return Target(topic, kind, next(keys)), draw(st.sampled_from(list(string_paths(kind))))

    @st.composite
    def control_character(draw: st.DrawFn) -> Piece:
        t, path = draw(target())
        before, char, after = draw(PLAIN), draw(st.sampled_from(REFUSED_CONTROLS)), draw(PLAIN)
        value = encoded(poisoned(t.doc(), path, lambda old: before + char + after + old))
        return t.piece(f"U+{ord(char):04X} in {dotted(path)} ({before!r}, {after!r})", value, "schema", t.at(path))

    @st.composite
    def oversize(draw: st.DrawFn) -> Piece:
        t, path = draw(target())
        size = draw(st.integers(LIMIT + 1, LIMIT + 200_000))
        return t.piece(f"{size} bytes via {dotted(path)}", padded_to(t.doc(), path, size), "too-large", TOO_LARGE)

    @st.composite
    def invalid_utf8(draw: st.DrawFn) -> Piece:
        t, path = draw(target())
        bad = draw(st.binary(min_size=1, max_size=8).filter(_not_utf8))
        marker = f"@@{uuid.uuid4().hex}@@"
        value = encoded(poisoned(t.doc(), path, lambda old: old + marker)).replace(marker.encode(), bad)
        return t.piece(f"bytes {bad!r} in {dotted(path)}", value, "schema", "(document)")

    @st.composite
    def nesting(draw: st.DrawFn) -> Piece:
        t, path = draw(target())
        depth = draw(st.integers(1_000, 20_000))
        return t.piece(f"{depth} levels in {dotted(path)}", nested_at(t.doc(), path, depth), "schema", "(document)")

    @st.composite
    def random_bytes(draw: st.DrawFn) -> Piece:
        topic, _ = draw(st.sampled_from(targets))
        value = draw(st.binary(min_size=1, max_size=300))  # never a valid event: a schema refusal
        return Piece(f"random bytes {value[:40]!r} on {topic}", topic, next(keys).encode(), value, "schema")

    @settings(max_examples=GENERATED, database=None, derandomize=True, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.one_of(control_character(), oversize(), invalid_utf8(), nesting(), random_bytes()))
    def collect(piece: Piece) -> None:
        found.append(piece)

    collect()
    return found


def _not_utf8(raw: bytes) -> bool:
    try:
        raw.decode()
    except UnicodeDecodeError:
        return True
    return False


def test_junk_on_every_consumed_topic_is_dead_lettered_once_per_group_with_its_exact_error(stack: Stack) -> None:
    asyncio.run(_run(stack))


async def _run(stack: Stack) -> None:
    lane = await new_lane(stack)
    topics = consumed_topics(lane.isolate)
    keys = (f"{lane_digits(lane)}{n:06d}" for n in itertools.count())
    pieces = explicit_corpus(topics, keys) + generated_corpus(topics, keys)
    assert len(pieces) > 300 and {p.topic for p in pieces} == set(topics)
    async with services(lane.settings(max_record_bytes=LIMIT), lane.isolate):
        for topic in topics:
            mine = [p for p in pieces if p.topic == topic]
            await produce_raw(stack.bootstrap_servers, lane.prefix + topic, [(p.key, p.value) for p in mine])
        for spec in SERVICES():  # every consumer group has committed past all of it
            await eventually(lambda spec=spec: lane.consumed(lane.isolate(spec)), within=120, interval=0.5)
        await _a_valid_claim_is_still_paid(lane)
        problems = []
        for topic, consumed in topics.items():
            letters = await lane.records(dlq_topic(topic))
            problems += dead_letter_problems(letters, [p for p in pieces if p.topic == topic], consumed.groups)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:60])


def lane_digits(lane: Lane) -> str:
    """Seven digits of this lane: keys are 13 digits, valid as a claim id, a card number and a run id."""
    return f"{int(lane.suffix, 16) % 10**7:07d}"


async def _a_valid_claim_is_still_paid(lane: Lane) -> None:
    """After the junk, an eligible member's claim is grouped, verified and paid."""
    member = fresh(event_class("ParticipantChanged"), f"{lane_digits(lane)}999999")
    verifier = next(lane.isolate(s) for s in SERVICES() if s.name == "verifier")
    await produce_raw(lane.stack.bootstrap_servers, lane.prefix + "participants.changed",
                      [(member["payload"]["nomor_kartu"].encode(), encoded(member))])  # fmt: skip
    await eventually(lambda: _applied(lane, verifier.schema, verifier.consumes[0].name, member["event_id"]))
    claim = fresh(event_class("ClaimSubmitted"), f"SENTINEL-{lane.suffix}")
    claim["payload"]["claim"]["nomor_kartu"] = member["payload"]["nomor_kartu"]
    await produce_raw(lane.stack.bootstrap_servers, lane.prefix + "claims.submitted",
                      [(claim["claim_id"].encode(), encoded(claim))])  # fmt: skip
    await eventually(lambda: _has(lane, "claims.verified", claim["claim_id"]), within=60)
    request = parse_event_obj(fresh(event_class("PaymentRunRequested"), f"RUN-{lane.suffix}"))
    run = approved(request)  # signed by a finance maker, approved by a second operator (four eyes)
    await produce_raw(lane.stack.bootstrap_servers, lane.prefix + "payments.commands",
                      [(e.key.encode(), encode_event(e)) for e in run])  # fmt: skip
    await eventually(lambda: _has(lane, "claims.paid", claim["claim_id"]), within=60)


async def _applied(lane: Lane, schema: str, consumer: str, event_id: str) -> bool:
    return event_id in await inbox_ids(lane.stack.database_url, schema, consumer)


async def _has(lane: Lane, topic: str, claim_id: str) -> bool:
    # The topic also holds the junk sent to it, each piece under its own key: look for the claim's key.
    return any(r.key == claim_id.encode() for r in await lane.records(topic))
