"""The application layer's one shape, shared by every service (after cosmicpython's handlers / unit of work).

A service's `application.py` builds an `Application`: a table `{EventType: handler}` with one use case per
event or command type. A handler takes the service's unit of work and a *batch* of events of its type and
does its I/O per batch: it loads what the batch needs in one query per table (`= ANY($1)`), decides with
the pure domain, and leaves the writes to the unit of work's repositories, which write them at `flush`
with one multi-row statement per table. The kernel (shared/consumer.py) keeps its guarantees around it:
the inbox, the outbox, the dead letters, and the event-by-event fallback, where each event gets a fresh
unit of work inside its own savepoint.

The runtime refuses to start a consumer whose table does not name exactly the event types it accepts, so
a new event type cannot be consumed without a use case, nor a use case left behind for a type dropped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from shared.events import Envelope
from shared.outbox import Tx


class UnitOfWork:
    """One batch's work (or, event by event, one event's): its transaction, what it publishes, its repositories.

    Services subclass it with their repositories as attributes and write their pending rows in `flush`;
    unit tests use a fake with in-memory repositories of the same names.
    """

    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def emit(self, event: Envelope) -> None:
        """Publish `event` if, and only if, this unit of work commits."""
        self.tx.emit(event)

    async def flush(self) -> None:
        """Write what the repositories hold (the kernel then writes the outbox and commits)."""


U = TypeVar("U", bound=UnitOfWork)
BatchHandler = Callable[[U, Sequence[Any]], Awaitable[None]]
# Taken once before a batch's handlers: e.g. every lock the batch needs, in the service's one lock order.
Prepare = Callable[[Tx, Sequence[Envelope]], Awaitable[None]]


class IncompleteApplication(RuntimeError):
    """A consumer's handler table does not match the event types it accepts."""


@dataclass(frozen=True)
class Application(Generic[U]):
    """A consumer's use cases: one batch handler per event type, and how to open a unit of work."""

    name: str
    handlers: Mapping[type[Envelope], BatchHandler[U]]
    unit_of_work: Callable[[Tx], U]
    prepare: Prepare | None = None

    def check_complete(self, accepted: Mapping[str, tuple[type[Envelope], ...]]) -> None:
        """Refuse to start unless every accepted event type has a handler and every handler a type."""
        consumed = {t for types in accepted.values() for t in types}
        missing = sorted(t.__name__ for t in consumed - self.handlers.keys())
        extra = sorted(t.__name__ for t in self.handlers.keys() - consumed)
        if missing or extra:
            raise IncompleteApplication(
                f"{self.name}: no handler for {', '.join(missing) or '-'}; "
                f"handlers for types not consumed: {', '.join(extra) or '-'}"
            )

    async def handle(self, uow: U, events: Sequence[Envelope]) -> None:
        """Apply `events` in their order: each run of one type goes to its handler as one batch."""
        for run in runs(events):
            await self.handlers[type(run[0])](uow, run)


def runs(events: Sequence[Envelope]) -> Iterator[Sequence[Envelope]]:
    """The events cut into maximal runs of consecutive events of one type, order kept.

    Batching only consecutive events keeps every claim's events in their partition order (a review
    decision between two revisions of the same claim is applied between them).
    """
    start = 0
    for i in range(1, len(events) + 1):
        if i == len(events) or type(events[i]) is not type(events[start]):
            yield events[start:i]
            start = i


PerEvent = Callable[[Tx, Envelope], Awaitable[None]]


def per_event(name: str, accepted: Mapping[str, tuple[type[Envelope], ...]], handle: PerEvent) -> Application[Any]:
    """An application whose every accepted type is applied one event at a time by `handle` (kernel tests)."""

    async def each(uow: UnitOfWork, events: Sequence[Envelope]) -> None:
        for event in events:
            await handle(uow.tx, event)

    prepare = getattr(handle, "before_batch", None)
    types = {t for ts in accepted.values() for t in ts}
    return Application(name, dict.fromkeys(types, each), UnitOfWork, prepare)
