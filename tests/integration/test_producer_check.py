"""Forged events on the real stack: an outside client that reached the broker can neither make money nor
speak for another hospital (issue: a ClaimVerified written straight to claims.verified became a payable)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from services.grouper.service import SPEC as GROUPER
from services.payments.service import SPEC as PAYMENTS
from shared import db
from shared.events import ClaimVerified, ClaimVerifiedPayload
from tests.support.factories import submitted
from tests.support.kafka import eventually
from tests.support.services import Lane, running

pytestmark = pytest.mark.integration


def verified(n: int, producer: str) -> ClaimVerified:
    return ClaimVerified(
        occurred_at=datetime.now(UTC), claim_id=f"FORGE-{n}", correlation_id=uuid.uuid4(), producer=producer,
        payload=ClaimVerifiedPayload(
            revision=0, nomor_sep=f"0301R0010326V{n:06d}", kode_rs="0301R001", verification_seq=0,
            verified_on=date(2026, 3, 2), claimed_amount=2_000_000_000, approved_amount=2_000_000_000,
        ),
    )  # fmt: skip


async def letters(lane: Lane, topic: str) -> list[dict[str, bytes]]:
    """The dead letters of `topic`, once the relay has published one (it publishes after the commit)."""
    await eventually(lambda: lane.records(topic + ".dlq"))
    return [dict(r.headers) for r in await lane.records(topic + ".dlq")]


async def test_a_forged_verified_claim_creates_no_payable(lane: Lane) -> None:
    spec = lane.isolate(PAYMENTS)
    forged, genuine = verified(1, "hospital:0301R001"), verified(2, "verifier")
    async with running(spec, lane.settings()):
        await lane.publish([forged, genuine])
        await eventually(lambda: lane.consumed(spec))
    pool = await db.create_pool(lane.stack.database_url, spec.schema)
    try:
        claims = [r["claim_id"] for r in await pool.fetch("SELECT claim_id FROM payables ORDER BY claim_id")]
    finally:
        await pool.close()
    assert claims == ["FORGE-2"]
    [letter] = await letters(lane, "claims.verified")
    assert letter["dlq.error"] == b"unauthorized-producer"
    assert letter["dlq.reason"] == (
        b"producer: 'hospital:0301R001' may not produce on claims.verified (allowed: verifier)"
    )


async def test_a_claim_sent_in_another_hospitals_name_is_dead_lettered(lane: Lane) -> None:
    spec = lane.isolate(GROUPER)
    own = submitted("OWN-1")
    impostor = submitted("IMPOSTOR-1").model_copy(update={"producer": "hospital:0902R002"})
    async with running(spec, lane.settings()):
        await lane.publish([impostor, own])
        await eventually(lambda: lane.consumed(spec))
    answered = {e.claim_id for t in ("claims.grouped", "claims.rejected") for e in await lane.events(t)}
    assert answered == {"OWN-1"}
    [letter] = await letters(lane, "claims.submitted")
    assert letter["dlq.error"] == b"unauthorized-producer"
    assert letter["dlq.reason"] == b"producer: hospital '0902R002' may not send for kode_rs '0301R001'"
