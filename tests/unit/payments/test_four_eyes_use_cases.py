"""Four eyes on an in-memory unit of work: money commands are held, and released only by another approver."""

from __future__ import annotations

from datetime import date

import pytest

from services.payments.adapters.runs import Allocation
from services.payments.application import RELEASES, application
from services.payments.application.capitation import hold_capitation
from services.payments.application.four_eyes import approve, hold
from services.payments.application.payables import verified
from shared.consumer import PermanentError
from shared.events import (
    ApprovalGranted,
    CapitationLine,
    CapitationRunRequested,
    ClaimPaid,
    ClaimVerified,
    FundsAllocated,
    PaymentCorrectionRequested,
    PaymentRunRequested,
)
from shared.operators import HELD_COMMANDS, UNAUTHORIZED
from tests.unit.payments.fakes import FakeUnitOfWork
from tests.unit.payments.payment_events import (
    APPROVER,
    MAKER,
    RUN_DAY,
    allocation,
    approval,
    capitation,
    config,
    run_request,
)
from tests.unit.payments.payment_events import verified as claim

CONFIG = config()


async def two_payables() -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    # Due 12 and 13 Mar 2026: on time on 2 Mar, paid in this order.
    await verified(
        CONFIG, uow, [claim("C-1", date(2026, 2, 19), 4_000_000), claim("C-2", date(2026, 2, 20), 3_000_000)]
    )
    return uow


async def test_a_run_request_is_held_and_pays_nothing_until_approved() -> None:
    uow = await two_payables()
    await hold(CONFIG, uow, [run_request("R-1", 10_000_000)])
    held = uow.held.rows[("payment_run", "R-1")]
    assert (held.requested_by, held.approved_by, held.command["payload"]["funds"]) == (MAKER, None, 10_000_000)
    assert uow.emitted == [] and uow.runs.payments == []


async def test_the_same_request_again_is_absorbed_and_a_different_one_under_its_id_refused() -> None:
    uow = FakeUnitOfWork()
    request = run_request("R-1", 10_000_000)
    await hold(CONFIG, uow, [request])
    await hold(CONFIG, uow, [run_request("R-1", 10_000_000)])  # a new event, the same request
    with pytest.raises(PermanentError) as refused:
        await hold(CONFIG, uow, [run_request("R-2", 1), run_request("R-1", 1)])
    assert refused.value.code == "conflicting-funds"
    assert str(refused.value) == (
        f"payment_run R-1: payload.funds is 1, but 10000000 was requested under the same id by {MAKER}; use a new id"
    )


async def test_a_different_request_under_one_id_in_the_same_batch_is_refused() -> None:
    with pytest.raises(PermanentError) as refused:
        await hold(CONFIG, FakeUnitOfWork(), [run_request("R-1", 10_000_000), run_request("R-1", 9_000_000)])
    assert refused.value.code == "conflicting-funds"


async def test_the_requester_may_not_approve_their_own_run_and_it_stays_held() -> None:
    uow = await two_payables()
    request = run_request("R-1", 10_000_000)
    await hold(CONFIG, uow, [request])
    with pytest.raises(PermanentError) as refused:
        await approve(CONFIG, RELEASES, uow, [approval(request, by=MAKER)])
    assert refused.value.code == UNAUTHORIZED
    assert str(refused.value) == (
        f"payload.approved_by: {MAKER} requested payment_run R-1 and may not approve it; "
        "a different finance_approver must (rule FOUR-EYES)"
    )
    assert uow.held.rows[("payment_run", "R-1")].approved_by is None
    assert uow.emitted == []


async def test_another_approver_releases_the_run_once_however_often_it_is_approved() -> None:
    uow = await two_payables()
    request = run_request("R-1", 10_000_000)
    await hold(CONFIG, uow, [request])
    first = approval(request)
    await approve(CONFIG, RELEASES, uow, [first, approval(request), approval(request, by="finance.approver2")])
    await approve(CONFIG, RELEASES, uow, [approval(request)])
    paid = uow.of_type(ClaimPaid)
    assert [(e.claim_id, e.payload.total_paid) for e in paid] == [("C-1", 4_000_000), ("C-2", 3_000_000)]
    assert {(e.payload.requested_by, e.payload.approved_by, e.causation_id) for e in paid} == {
        (MAKER, APPROVER, first.event_id)
    }
    assert uow.held.rows[("payment_run", "R-1")].approved_by == APPROVER
    assert [a.event_id for a in uow.held.approvals] == [first.event_id]
    assert uow.held.locks == 2  # one read of the held requests per batch of approvals


async def test_an_approval_of_nothing_held_is_refused() -> None:
    with pytest.raises(PermanentError) as refused:
        await approve(CONFIG, RELEASES, FakeUnitOfWork(), [approval(run_request("R-NONE", 1))])
    assert (refused.value.code, str(refused.value)) == (
        "approval-unknown-subject", "payload.subject_id: no payment_run R-NONE is held for approval",
    )  # fmt: skip


async def test_an_approved_allocation_is_recorded_with_both_names() -> None:
    uow = FakeUnitOfWork()
    request = allocation("ALLOC-1", 7_500_000)
    await hold(CONFIG, uow, [request])
    await approve(CONFIG, RELEASES, uow, [approval(request)])
    assert uow.allocations.added == [Allocation("ALLOC-1", RUN_DAY, 7_500_000, MAKER, APPROVER)]


async def test_a_capitation_request_with_one_kbk_indicator_of_three_is_refused_on_arrival_not_held() -> None:
    line = CapitationLine(
        kode_faskes="0301P001", facility_type="puskesmas", registered_members=1000, doctors=1, has_dentist=False,
        contact_rate_per_mille=160.0,
    )  # fmt: skip
    uow = FakeUnitOfWork()
    with pytest.raises(PermanentError) as refused:
        await hold_capitation(CONFIG, uow, [capitation("CAP-BAD", line)])
    assert (refused.value.code, str(refused.value)) == (
        "capitation-indicators", "0301P001: give all three KBK indicators or none",
    )  # fmt: skip
    assert uow.held.rows == {}


def test_the_table_names_every_consumed_type_and_the_release_table_every_held_command() -> None:
    app = application(CONFIG)
    assert set(app.handlers) == {
        ClaimVerified, PaymentRunRequested, PaymentCorrectionRequested, CapitationRunRequested, FundsAllocated,
        ApprovalGranted,
    }  # fmt: skip
    assert {t.__name__ for t in RELEASES} == set(HELD_COMMANDS)
