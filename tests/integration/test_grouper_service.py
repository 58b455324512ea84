"""The grouper on the real broker: every submission answered once, in order per claim."""

from __future__ import annotations

import uuid
from collections import defaultdict

import pytest

from deploy.local import Stack
from services.grouper.service import SPEC
from shared import db
from shared.events import ClaimGrouped, ClaimRejected, ClaimSubmitted, Envelope, parse_event_obj
from tests.support.factories import example
from tests.support.kafka import eventually
from tests.support.services import new_lane, running

pytestmark = pytest.mark.integration


def submission(claim_id: str, revision: int, *, bad: bool = False) -> ClaimSubmitted:
    doc = example("ClaimSubmitted")
    doc.update(event_id=str(uuid.uuid4()), claim_id=claim_id, correlation_id=str(uuid.uuid4()))
    doc["payload"]["revision"] = revision
    claim = doc["payload"]["claim"]
    claim["tarif_rs"]["obat"] += revision * 1000  # each revision is a different claim content
    if bad:
        claim["diagnosa"] = ["K35.9", "Z99.99"]  # an unknown ICD-10 code
    event = parse_event_obj(doc)
    assert isinstance(event, ClaimSubmitted)
    return event


async def test_a_thousand_claims_in_a_thousand_answers_out_in_order(stack: Stack) -> None:
    lane = await new_lane(stack)
    spec = lane.isolate(SPEC)
    claims = [f"G-{lane.suffix}-{i}" for i in range(250)]
    submissions = [submission(c, rev, bad=(i % 10 == 0 and rev == 1)) for rev in range(4) for i, c in enumerate(claims)]
    async with running(spec, lane.settings()):
        pool = await db.create_pool(stack.database_url, spec.schema)
        try:
            await lane.publish(submissions)

            async def answered() -> bool:
                return int(await pool.fetchval("SELECT count(*) FROM groupings")) == 1000

            await eventually(answered, within=90)
            await lane.publish(submissions[:50])  # resent: answered already, nothing new
            reused = submission(claims[1], 0).model_dump(mode="json")  # revision 0 again, different bill
            reused["payload"]["claim"]["tarif_rs"]["obat"] += 1
            await lane.publish([parse_event_obj(reused)])

            async def drained() -> bool:
                inbox = int(await pool.fetchval("SELECT count(*) FROM inbox"))
                unsent = int(await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
                return inbox == 1001 and unsent == 0

            # The 50 resent submissions keep their event ids, so the inbox does not grow with them:
            # wait until the grouper committed past them (and the reused revision) before counting.
            await eventually(lambda: lane.consumed(spec), within=60)
            await eventually(drained)
        finally:
            await pool.close()
    grouped: list[Envelope] = await lane.events("claims.grouped")
    rejected: list[Envelope] = await lane.events("claims.rejected")
    assert len(grouped) + len(rejected) == 1001
    (refused,) = [
        r for r in rejected if isinstance(r, ClaimRejected) and r.payload.reasons[0].code == "G-REVISION-REUSED"
    ]
    assert refused.claim_id == claims[1] and refused.payload.reasons[0].field == "revision"
    assert refused.payload.refusal is True
    rejected = [r for r in rejected if r is not refused]
    assert len(rejected) == 25
    for r in rejected:
        assert isinstance(r, ClaimRejected)
        assert [x.code for x in r.payload.reasons] == ["G-ICD10-UNKNOWN"]
        assert r.payload.reasons[0].field == "diagnosa[1]"
    revisions: dict[str, list[int]] = defaultdict(list)
    for g in grouped:
        assert isinstance(g, ClaimGrouped)
        revisions[g.claim_id].append(g.payload.revision)
        assert g.payload.grouping.tariff_table_version.startswith("SAMPLE")
    assert set(revisions) == set(claims)
    for claim_id, seen in revisions.items():
        assert seen == sorted(seen), f"{claim_id} answered out of order: {seen}"
