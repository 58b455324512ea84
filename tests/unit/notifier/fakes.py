"""An in-memory unit of work for the notifier's planning use case (no database)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from services.notifier.domain.model import PlannedDelivery, Subscription


class FakeSubscriptions:
    """Stored subscriptions, answered as the SQL repository selects them: operators' and the hospitals' asked for."""

    def __init__(self, stored: Iterable[Subscription] = ()) -> None:
        self.stored = sorted(stored, key=lambda s: s.id)
        self.reads = 0
        self.asked: list[set[str | None]] = []

    async def candidates(self, kode_rs: Iterable[str | None]) -> list[Subscription]:
        self.reads += 1
        wanted = set(kode_rs)
        self.asked.append(wanted)
        return [s for s in self.stored if s.active and (s.audience == "operators" or s.kode_rs in wanted)]


class FakeDeliveries:
    def __init__(self) -> None:
        self.added: list[tuple[PlannedDelivery, datetime]] = []

    def add(self, delivery: PlannedDelivery, now: datetime) -> None:
        self.added.append((delivery, now))


class FakeUnitOfWork:
    def __init__(self, stored: Iterable[Subscription] = ()) -> None:
        self.subscriptions = FakeSubscriptions(stored)
        self.deliveries = FakeDeliveries()
