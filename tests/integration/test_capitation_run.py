"""A capitation run over a 1,000-FKTP sample through the payments service: hand-checked rows, once only."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime

import pytest

from deploy.local import Stack
from services.payments.cli import capitation_lines, merge_performance
from services.payments.domain.capitation import parse_members_csv
from services.payments.service import SPEC
from shared import db
from shared.events import CapitationPaid, CapitationRunRequested, CapitationRunRequestedPayload
from tests.support.kafka import eventually
from tests.support.operators import approved, sign
from tests.support.services import new_lane, running

pytestmark = pytest.mark.integration

MEMBERS_HEADER = "kode_faskes,facility_type,registered_members,doctors,has_dentist\n"
PERF_HEADER = "kode_faskes,contact_rate_per_mille,non_specialist_referral_pct,controlled_prolanis_pct\n"
HAND_CHECKED = {
    # puskesmas, 12,000 members / 3 doctors = 4,000 <= 5,000, dentist: Rp9,000; KBK 4/4/4 -> score 4 -> 100 %
    # 12,000 x 9,000 = 108,000,000; 60 % service fee 64,800,000; operations 43,200,000
    "0301P001": ("puskesmas,12000,3,yes", "162.5,1.4,6.2", 108_000_000, 64_800_000, 43_200_000),
    # klinik pratama, 8,000 / 1 = 8,000 <= 10,000, no dentist: Rp11,500; KBK 3/3/4:
    # 0.4x3 + 0.5x3 + 0.1x4 = 3.1 -> 95 %; 8,000 x 11,500 = 92,000,000 x 95 % = 87,400,000; private: no 60/40 split
    "0301K002": ("klinik_pratama,8000,1,no", "140,2.2,5", 87_400_000, None, None),
    # dokter praktik, 3,001 / 1 <= 5,000, no dentist: Rp13,000; KBK not assessed -> 100 %
    # 3,001 x 13,000 = 39,013,000; a private doctor: no 60/40 split
    "0301D003": ("dokter_praktik,3001,1,no", None, 39_013_000, None, None),
    # puskesmas, 30,000 / 2 = 15,000 > 10,000, no dentist: Rp3,600; KBK 0/0/0 -> 90 %
    # 30,000 x 3,600 = 108,000,000 x 90 % = 97,200,000 -> 58,320,000 / 38,880,000
    "0301P004": ("puskesmas,30000,2,no", "100,4,1", 97_200_000, 58_320_000, 38_880_000),
}


def sample_files() -> tuple[str, str]:
    """1,000 FKTPs: the four hand-checked ones and 996 generated with a fixed seed."""
    rng = random.Random(2026)
    members, perf = [MEMBERS_HEADER], [PERF_HEADER]
    for kode, (row, kbk, *_) in HAND_CHECKED.items():
        members.append(f"{kode},{row}\n")
        if kbk:
            perf.append(f"{kode},{kbk}\n")
    kinds = ["puskesmas", "klinik_pratama", "dokter_praktik", "dokter_gigi"]
    for i in range(996):
        kode = f"09{i:04d}XX"
        members.append(
            f"{kode},{rng.choice(kinds)},{rng.randint(500, 40000)},{rng.randint(1, 6)},{rng.choice(['yes', 'no'])}\n"
        )
        perf.append(f"{kode},{rng.uniform(80, 200):.1f},{rng.uniform(0, 5):.2f},{rng.uniform(0, 9):.1f}\n")
    return "".join(members), "".join(perf)


def command(run_id: str, lines: list) -> CapitationRunRequested:  # type: ignore[type-arg]
    return CapitationRunRequested(
        occurred_at=datetime.now(UTC),
        correlation_id=uuid.uuid4(),
        producer="test",
        payload=CapitationRunRequestedPayload(run_id=run_id, month="2026-03", lines=lines, requested_by="test"),
    )


async def test_capitation_over_1000_fktps_gives_the_hand_checked_totals_once(stack: Stack) -> None:
    merged, errors = merge_performance(*sample_files())
    rows, row_errors = parse_members_csv(merged)
    assert errors == [] and row_errors == []
    assert len(rows) == 1000
    lines = capitation_lines(rows)

    lane = await new_lane(stack)
    spec = lane.isolate(SPEC)
    async with running(spec, lane.settings()):
        pool = await db.create_pool(stack.database_url, spec.schema)
        try:
            await lane.publish(approved(command("CAP-2026-03", lines)))  # maker, then approver

            async def paid() -> bool:
                return int(await pool.fetchval("SELECT count(*) FROM capitation_payments")) == 1000

            await eventually(paid, within=60)
            # The same run again, and another run for the same month: neither pays anyone twice.
            again = sign(command("CAP-2026-03", lines))
            await lane.publish([again, *approved(command("CAP-2026-03-again", lines[:10]))])

            async def refused() -> bool:
                return len(await lane.records("payments.commands.dlq")) == 1

            async def handled_again() -> bool:
                return bool(await pool.fetchval("SELECT true FROM inbox WHERE event_id = $1", again.event_id))

            async def published() -> bool:
                return int(await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")) == 0

            await eventually(refused)
            await eventually(handled_again)  # the repeated run id was consumed, not just still on the topic
            await eventually(lambda: lane.consumed(spec))
            await eventually(published)  # anything it wrote would now be on capitation.paid
            entries = int(await pool.fetchval("SELECT count(*) FROM ledger_entries WHERE kind = 'capitation'"))
            total = int(await pool.fetchval("SELECT sum(amount) FROM capitation_payments"))
        finally:
            await pool.close()
    assert entries == 1000
    events = {e.payload.kode_faskes: e for e in await lane.events("capitation.paid") if isinstance(e, CapitationPaid)}
    assert len(events) == 1000
    assert {(e.payload.requested_by, e.payload.approved_by) for e in events.values()} == {
        ("test.maker", "test.approver")
    }
    assert sum(e.payload.amount for e in events.values()) == total
    for kode, (*_, amount, fee, operations) in HAND_CHECKED.items():
        p = events[kode].payload
        assert (p.amount, p.service_fee_part, p.operations_part) == (amount, fee, operations), kode
        assert p.due_on == date(2026, 3, 16)  # the 15th is a Sunday
    (letter,) = await lane.records("payments.commands.dlq")
    assert dict(letter.headers)["dlq.error"] == b"capitation-already-paid"
