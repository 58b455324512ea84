"""A capitation run on an in-memory unit of work: every line booked at once, a facility paid once a month."""

from __future__ import annotations

from datetime import date

import pytest

from services.payments.application.capitation import release_capitation
from shared.consumer import PermanentError
from shared.events import CapitationLine, CapitationPaid
from tests.unit.payments.fakes import FakeUnitOfWork
from tests.unit.payments.payment_events import APPROVER, MAKER, approval, capitation, config

CONFIG = config()
# A puskesmas, 12,000 members / 3 doctors = 4,000 <= 5,000, with a dentist: Rp9,000; KBK 4/4/4 -> 100 %.
# 12,000 x 9,000 = 108,000,000; local government: 60 % service fee 64,800,000, operations 43,200,000.
PUSKESMAS = CapitationLine(
    kode_faskes="0301P001", facility_type="puskesmas", registered_members=12_000, doctors=3, has_dentist=True,
    contact_rate_per_mille=162.5, non_specialist_referral_pct=1.4, controlled_prolanis_pct=6.2,
)  # fmt: skip
# A private doctor, 3,001 members, no dentist: Rp13,000, KBK not assessed -> 100 %: 39,013,000, no split.
DOCTOR = CapitationLine(
    kode_faskes="0301D003", facility_type="dokter_praktik", registered_members=3_001, doctors=1, has_dentist=False
)


async def test_an_approved_run_pays_every_line_once_with_its_ledger_entry() -> None:
    uow = FakeUnitOfWork()
    request = capitation("CAP-2026-03", PUSKESMAS, DOCTOR)
    await release_capitation(CONFIG, uow, request, approval(request))
    await release_capitation(CONFIG, uow, request, approval(request))  # the run id again: nothing more
    paid = [e.payload for e in uow.of_type(CapitationPaid)]
    assert [(p.kode_faskes, p.amount, p.service_fee_part, p.operations_part) for p in paid] == [
        ("0301P001", 108_000_000, 64_800_000, 43_200_000), ("0301D003", 39_013_000, None, None),
    ]  # fmt: skip
    assert {(p.due_on, p.requested_by, p.approved_by) for p in paid} == {(date(2026, 3, 16), MAKER, APPROVER)}
    assert [p.ledger_entry_ids for p in paid] == [["LE-CAP-CAP-2026-03-0301P001"], ["LE-CAP-CAP-2026-03-0301D003"]]
    assert uow.capitation.runs == {"CAP-2026-03": 147_013_000}
    assert uow.ledger.balances() == {"expense:capitation:fktp": 147_013_000, "asset:cash:bpjs": -147_013_000}


async def test_a_second_run_for_a_facility_already_paid_this_month_is_refused_whole() -> None:
    uow = FakeUnitOfWork()
    first = capitation("CAP-2026-03", PUSKESMAS)
    await release_capitation(CONFIG, uow, first, approval(first))
    second = capitation("CAP-2026-03-again", DOCTOR, PUSKESMAS)
    with pytest.raises(PermanentError) as refused:
        await release_capitation(CONFIG, uow, second, approval(second))
    assert (refused.value.code, str(refused.value)) == (
        "capitation-already-paid", "0301P001 already has 2026-03 capitation (run CAP-2026-03)",
    )  # fmt: skip


async def test_a_facility_twice_in_one_run_is_refused() -> None:
    request = capitation("CAP-2026-03", PUSKESMAS, PUSKESMAS)
    with pytest.raises(PermanentError) as refused:
        await release_capitation(CONFIG, FakeUnitOfWork(), request, approval(request))
    assert str(refused.value) == "0301P001 already has 2026-03 capitation (run CAP-2026-03)"
