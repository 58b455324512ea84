"""An in-memory unit of work for the verifier's use cases (no database)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from services.verifier.adapters.claims import ClaimRow, ContextKey, Contexts
from services.verifier.domain import ClaimStatus, Participant
from shared.events import Envelope, ParticipantChanged


class FakeClaims:
    def __init__(self, members: Iterable[Participant] = ()) -> None:
        self.rows: dict[str, ClaimRow] = {}  # what is "committed"
        self.pending: dict[str, ClaimRow] = {}
        self.members = list(members)
        self.reads = {"load": 0, "contexts": 0}
        self._contexts: Contexts | None = None

    async def lock_seps(self, seps: Iterable[str]) -> None:
        list(seps)

    async def load(self, claim_ids: Sequence[str]) -> None:
        self.reads["load"] += 1

    def get(self, claim_id: str) -> ClaimStatus | None:
        row = self.pending.get(claim_id) or self.rows.get(claim_id)
        return row.status if row else None

    async def one(self, claim_id: str) -> ClaimStatus | None:
        return self.get(claim_id)

    def save(self, row: ClaimRow) -> None:
        claim_id = row.status.claim_id
        earlier = self.pending.get(claim_id) or self.rows.get(claim_id)
        self.pending[claim_id] = earlier.then(row) if earlier else row
        if self._contexts is not None:
            self._contexts.saved(self.pending[claim_id])

    async def contexts(self, keys: Sequence[ContextKey]) -> Contexts:
        self.reads["contexts"] += 1
        ctx = Contexts()
        for m in self.members:
            ctx.members[m.nomor_kartu].append(m)
        for row in (*self.rows.values(), *self.pending.values()):
            ctx.saved(row)
        self._contexts = ctx
        return ctx

    async def verified_with_same_sep(self, nomor_sep: str, claim_id: str) -> list[str]:
        rows = {**self.rows, **self.pending}
        return sorted(c for c, r in rows.items() if r.status.nomor_sep == nomor_sep and c != claim_id
                      and r.status.has_verification)  # fmt: skip

    async def flush(self) -> None:
        self.rows.update(self.pending)
        self.pending = {}


class FakeHistory:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, str | None]] = []  # claim_id, kind, event type

    def append(
        self, claim_id: str, at: datetime, kind: str, detail: dict[str, Any], *,
        event_type: str | None = None, event_id: uuid.UUID | None = None,
    ) -> None:  # fmt: skip
        self.lines.append((claim_id, kind, event_type))


class FakeParticipants:
    def __init__(self, claims: FakeClaims) -> None:
        self.claims = claims

    async def add(self, events: Sequence[ParticipantChanged]) -> None:
        self.claims.members.extend(Participant.from_payload(e.payload) for e in events)


class FakeUnitOfWork:
    def __init__(self, members: Iterable[Participant] = ()) -> None:
        self.claims = FakeClaims(members)
        self.history = FakeHistory()
        self.participants = FakeParticipants(self.claims)
        self.emitted: list[Envelope] = []

    def emit(self, event: Envelope) -> None:
        self.emitted.append(event)
