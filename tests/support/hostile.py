"""Hostile input for the e2e tests: what each topic's consumers accept, every string field of an
event type (found from the contract's models, so a field added later is poisoned too), and
poisoned copies of the worked examples, each under its own claim id so only the check under
test can catch it."""

from __future__ import annotations

import asyncio
import copy
import json
import types
import typing
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer, ConsumerRecord
from pydantic import BaseModel

from shared.events import EVENT_TYPES, Envelope, event_type_name
from shared.runtime import ServiceSpec
from shared.services import SERVICES
from tests.support.factories import example

Path = tuple[str | int, ...]

# C0 controls a hostile producer may slip into text (NUL broke PostgreSQL's text columns), and DEL.
CONTROL_CHARACTERS = {"NUL": "\x00", "SOH": "\x01", "ESC": "\x1b", "DEL": "\x7f"}
DEEP = 10_000  # levels of nesting: far beyond any parser's default recursion limit


@dataclass(frozen=True)
class ConsumedTopic:
    """A topic some service consumes: the event types its consumers accept and their consumer groups."""

    topic: str
    types: tuple[type[Envelope], ...]
    groups: tuple[str, ...]


def consumed_topics(isolate: Callable[[ServiceSpec], ServiceSpec]) -> dict[str, ConsumedTopic]:
    """Every consumed topic, from the service specs (`consumes[].accepted`), with this lane's group names."""
    found: dict[str, ConsumedTopic] = {}
    for spec in SERVICES():
        for consumes in isolate(spec).consumes:
            for topic, accepted in consumes.accepted.items():
                seen = found.get(topic, ConsumedTopic(topic, (), ()))
                kinds = seen.types + tuple(t for t in accepted if t not in seen.types)
                found[topic] = ConsumedTopic(topic, kinds, (*seen.groups, consumes.name))
    return found


def string_paths(model: type[BaseModel], prefix: Path = ()) -> Iterator[Path]:
    """The path of every `str` field of `model`, nested models and list items included (index 0)."""
    for name, info in model.model_fields.items():
        yield from _paths_of(info.annotation, (*prefix, name))


def _paths_of(annotation: Any, path: Path) -> Iterator[Path]:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        yield from _paths_of(args[0], path)
    elif isinstance(annotation, type) and issubclass(annotation, str):
        yield path
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield from string_paths(annotation, path)
    elif origin is list:
        yield from _paths_of(args[0], (*path, 0))
    elif origin in (typing.Union, types.UnionType):
        for arg in args:
            if arg is not type(None):
                yield from _paths_of(arg, path)
    # Literal, int, date, UUID ...: not free text


def dotted(path: Path) -> str:
    """The field as the contract's refusals name it, e.g. `payload.claim.diagnosa.0`."""
    return ".".join(str(p) for p in path)


def fresh(event_type: type[Envelope], key: str) -> dict[str, Any]:
    """The worked example of `event_type` as a new event (own event id) whose Kafka key is `key`."""
    doc = example(event_type_name(event_type))
    doc["event_id"] = str(uuid.uuid4())
    doc["correlation_id"] = str(uuid.uuid4())
    # Made now, as a live sender would: the services run on the real clock and refuse stale commands.
    doc["occurred_at"] = datetime.now(UTC).isoformat()
    set_key(doc, key)
    return doc


def set_key(doc: dict[str, Any], key: str) -> None:
    """Make `key` the event's key: its claim id, or the card / facility / run id for events without a claim."""
    if doc.get("claim_id") is not None:
        doc["claim_id"] = key
    elif doc["event_type"] == "ParticipantChanged":
        doc["payload"]["nomor_kartu"] = key
    elif doc["event_type"] == "FundsAllocated":
        doc["payload"]["allocation_id"] = key
    elif doc["event_type"] == "CapitationPaid":  # keyed by facility
        doc["payload"]["kode_faskes"] = key
    else:  # runs are keyed by run id
        doc["payload"]["run_id"] = key


# An item for each list that is empty in its worked example, and a value for each optional model the
# example leaves out, so that a field inside them can be poisoned too.
FILLERS: dict[str, Any] = {
    "payload.claim.special_cmg": "YY01",
    "payload.claim.documents.0.supports": "E11.9",
    "payload.grouping.special_cmg": {"code": "YY01", "kind": "prosthesis", "description": "Prostesis", "tarif": 0},
    "payload.missing": "informed_consent",
    "payload.adjustments": {
        "reason": {"code": "V-ADJ-LOS", "field": "tgl_pulang", "message_id": "Penyesuaian", "message_en": "Adjusted"},
        "amount": 0,
    },
    "signature": {"key_id": "operator-1", "value": "c2lnbmF0dXJl"},
    "payload.grouping.severity_basis": {"code": "E11.9", "level": "CC"},
}


def poisoned(doc: dict[str, Any], path: Path, text: Callable[[str], str]) -> dict[str, Any]:
    """A copy of `doc` whose string at `path` is `text(old)` (`old` is "x" where the example has none)."""
    doc = copy.deepcopy(doc)
    node: Any = doc
    for i, step in enumerate(path):
        if i == len(path) - 1:
            old = node[step] if isinstance(node, list) or node.get(step) is not None else "x"
            node[step] = text(old)
            break
        if isinstance(node, dict) and node.get(step) is None:
            node[step] = _filler(path[: i + 1])
        if isinstance(path[i + 1], int) and node[step] == []:
            node[step].append(_filler(path[: i + 1]))
        node = node[step]
    return doc


def _filler(where: Path) -> Any:
    name = dotted(where)
    assert name in FILLERS, f"{name} is empty in the worked example: add a value to FILLERS"
    return copy.deepcopy(FILLERS[name])


def with_control(char: str) -> Callable[[str], str]:
    """The old text with `char` after its first character (short: no length rule can catch it first)."""
    return lambda old: old[:1] + char + old[1:]


def required_payload_field(event_type: type[Envelope]) -> str:
    """A payload field the contract requires (dropping it must be refused)."""
    payload = event_type.model_fields["payload"].annotation
    assert isinstance(payload, type) and issubclass(payload, BaseModel)
    return next(name for name, info in payload.model_fields.items() if info.is_required())


def encoded(doc: dict[str, Any]) -> bytes:
    """The wire form of a document (compact JSON, UTF-8; control characters escaped as JSON allows)."""
    return json.dumps(doc, separators=(",", ":")).encode()


def padded_to(doc: dict[str, Any], path: Path, size: int) -> bytes:
    """`doc` with the string at `path` lengthened so that the record is exactly `size` bytes."""
    base = encoded(poisoned(doc, path, lambda _old: ""))
    pad = size - len(base)
    assert pad > 0, f"{size} bytes is less than the document itself ({len(base)})"
    value = encoded(poisoned(doc, path, lambda _old: "x" * pad))
    assert len(value) == size
    return value


def nested_at(doc: dict[str, Any], path: Path, depth: int) -> bytes:
    """`doc` with the value at `path` replaced by a list nested `depth` levels deep."""
    marker = f"@@nest-{uuid.uuid4().hex}@@"
    raw = encoded(poisoned(doc, path, lambda _old: marker))
    return raw.replace(f'"{marker}"'.encode(), b"[" * depth + b"]" * depth)


def invalid_utf8_at(doc: dict[str, Any], path: Path) -> bytes:
    """`doc` with bytes that are not UTF-8 (a lone continuation byte, an overlong NUL) inside a string."""
    marker = f"@@utf8-{uuid.uuid4().hex}@@"
    raw = encoded(poisoned(doc, path, lambda old: old + marker))
    return raw.replace(marker.encode(), b"\x80\xc0\x80\xff")


async def inbox_ids(database_url: str, schema: str, consumer: str) -> set[str]:
    """The event ids a consumer has applied (the kernel records nothing for a dead-lettered event)."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(f'SELECT event_id FROM "{schema}".inbox WHERE consumer = $1', consumer)
    finally:
        await conn.close()
    return {str(r["event_id"]) for r in rows}


@dataclass(frozen=True)
class Piece:
    """One hostile record and the dead letter every consumer group of its topic must make of it."""

    label: str  # what it is, for failure messages
    topic: str
    key: bytes | None
    value: bytes | None
    error: str  # the `dlq.error` expected
    names: str | None = None  # text `dlq.reason` must contain (the field and the rule)


def dead_letter_problems(
    letters: Sequence[ConsumerRecord[bytes, bytes]], pieces: Sequence[Piece], groups: Sequence[str]
) -> list[str]:
    """Everything wrong with one topic's dead letters: each piece once per group, its own bytes and reason.

    A piece is told apart by its key and bytes (a tombstone, having no bytes, is kept as an empty value).
    """
    by_id = {(p.key, p.value or b""): p for p in pieces}
    assert len(by_id) == len(pieces), "two pieces with the same key and bytes cannot be told apart"
    problems = []
    seen = Counter(((r.key, r.value), dict(r.headers).get("dlq.consumer", b"").decode()) for r in letters)
    want = Counter(((p.key, p.value or b""), g) for p in pieces for g in groups)
    for (ident, group), n in (seen - want).items():
        problems.append(f"{_label(by_id, ident)}: dead-lettered {n} time(s) too many by {group!r}")
    for (ident, group), n in (want - seen).items():
        problems.append(f"{_label(by_id, ident)}: missing {n} dead letter(s) from {group!r}")
    for r in letters:
        piece = by_id.get((r.key, r.value))
        if piece is None:
            continue  # reported above, without its original bytes to match
        headers = dict(r.headers)
        error, reason = headers.get("dlq.error", b"").decode(), headers.get("dlq.reason", b"").decode()
        if error != piece.error:
            problems.append(f"{piece.label}: dlq.error {error!r}, expected {piece.error!r} ({reason[:300]})")
        if piece.names is not None and piece.names not in reason:
            problems.append(f"{piece.label}: dlq.reason does not name {piece.names!r}: {reason[:300]}")
        if headers.get("dlq.source.topic") != piece.topic.encode():
            problems.append(f"{piece.label}: dlq.source.topic {headers.get('dlq.source.topic')!r}")
    return problems


def _label(by_id: dict[tuple[bytes | None, bytes], Piece], ident: tuple[bytes | None, bytes | None]) -> str:
    piece = by_id.get((ident[0], ident[1] or b""))
    return piece.label if piece is not None else f"unexpected record keyed {ident[0]!r}: {(ident[1] or b'')[:120]!r}"


async def produce_raw(
    bootstrap: str, topic: str, items: Sequence[tuple[bytes | None, bytes | None]], max_request_size: int = 2_000_000
) -> None:
    """Publish raw (key, value) records, a value of None (a tombstone) and records up to 2 MB included."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_request_size=max_request_size)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in items]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def event_class(name: str) -> type[Envelope]:
    """The contract's class for an `event_type`."""
    return next(t for t in EVENT_TYPES if event_type_name(t) == name)
