"""Payment runs and VEDIKA corrections on an in-memory unit of work: oldest first, paid once, ledger balanced."""

from __future__ import annotations

from datetime import date

import pytest

from services.payments.application.corrections import release_correction
from services.payments.application.payables import verified
from services.payments.application.runs import RunOrder, execute_run, release_run
from shared.consumer import PermanentError
from shared.events import ClaimPaid
from tests.unit.payments.fakes import FakeUnitOfWork
from tests.unit.payments.payment_events import APPROVER, MAKER, approval, config, correction, run_request
from tests.unit.payments.payment_events import verified as claim

CONFIG = config()


async def three_payables() -> FakeUnitOfWork:
    """A (12,000,000, due 25 Feb), B (7,654,321, due 26 Feb) late on 2 Mar 2026; C (500,000, due 17 Mar)."""
    uow = FakeUnitOfWork()
    await verified(CONFIG, uow, [
        claim("C-C", date(2026, 2, 24), 500_000), claim("C-B", date(2026, 2, 3), 7_654_321),
        claim("C-A", date(2026, 2, 2), 12_000_000),
    ])  # fmt: skip
    return uow


async def test_short_funds_pay_oldest_due_first_and_stop_at_the_first_payable_they_cannot_cover() -> None:
    uow = await three_payables()
    request = run_request("R-SHORT", 19_684_526)
    # A with 5 days' penalty (120,000 x 5/30 = 20,000) is 12,020,000; 7,664,526 is left, one rupiah short
    # of B with its penalty (7,664,527). C would fit, but a run never skips to a younger payable.
    await release_run(CONFIG, uow, request, approval(request))
    (paid,) = uow.of_type(ClaimPaid)
    assert (paid.claim_id, paid.payload.penalty, paid.payload.total_paid, paid.payload.days_late) == (
        "C-A", 20_000, 12_020_000, 5,
    )  # fmt: skip
    assert (paid.payload.payment_id, paid.payload.ledger_entry_ids) == (
        "PAY-000000001", ["LE-PAY-000000001-payment", "LE-PAY-000000001-penalty"],
    )  # fmt: skip
    assert (paid.payload.requested_by, paid.payload.approved_by) == (MAKER, APPROVER)
    assert paid.payload.paid_on == date(2026, 3, 2)
    totals = uow.runs.totals["R-SHORT"]
    assert (totals.paid_count, totals.paid_total, totals.remaining) == (1, 12_020_000, 7_664_526)
    assert uow.runs.serialised == 1
    assert uow.ledger.balances() == {
        "expense:claims:fkrtl": 20_154_321, "liability:payable:0301R001": -8_154_321,
        "asset:cash:bpjs": -12_020_000, "expense:late-penalty": 20_000,
    }  # fmt: skip


async def test_a_run_id_pays_once_and_the_same_id_with_other_funds_is_refused() -> None:
    uow = await three_payables()
    order = RunOrder("R-1", 100_000_000, MAKER, APPROVER, None)
    assert await execute_run(CONFIG, uow, order) is True
    assert await execute_run(CONFIG, uow, order) is False
    assert [p.payable_id for p in uow.runs.payments] == [3, 2, 1]  # A, B, C: oldest due first
    with pytest.raises(PermanentError) as refused:
        await execute_run(CONFIG, uow, RunOrder("R-1", 1, MAKER, APPROVER, None))
    assert refused.value.code == "conflicting-funds"
    assert len(uow.of_type(ClaimPaid)) == 3
    assert sum(uow.ledger.balances().values()) == 0
    assert uow.ledger.balances()["liability:payable:0301R001"] == 0


async def test_a_correction_is_booked_once_within_what_was_paid_and_netted_from_the_next_payment() -> None:
    uow = FakeUnitOfWork()
    await verified(CONFIG, uow, [claim("C-A", date(2026, 2, 23), 10_000_000)])
    await execute_run(CONFIG, uow, RunOrder("R-1", 10_000_000, MAKER, APPROVER, None))
    first = correction("C-A", "VEDIKA-1", 6_000_000)
    await release_correction(CONFIG, uow, first, approval(first))
    await release_correction(CONFIG, uow, first, approval(first))  # the same correction again: booked once
    (entry,) = [e for e in uow.ledger.entries if e.posting.kind == "adjustment"]
    assert (entry.entry_id, entry.posting.debit, entry.posting.credit, entry.posting.amount) == (
        "LE-CORR-VEDIKA-1", "asset:receivable:0301R001", "expense:claims:fkrtl", 6_000_000,
    )  # fmt: skip
    assert entry.memo == f"VEDIKA VEDIKA-1 by {MAKER}, approved by {APPROVER}: LOS not supported"
    second = correction("C-A", "VEDIKA-2", 6_000_000)
    with pytest.raises(PermanentError) as refused:
        await release_correction(CONFIG, uow, second, approval(second))
    assert refused.value.code == "correction-exceeds-paid"
    assert str(refused.value) == (
        "recover_amount 6000000 plus 6000000 already recovered by earlier corrections of claim_id C-A seq 0 "
        "exceeds the amount paid 10000000"
    )
    # The next payable of the hospital (5,000,000, due 16 Mar: on time) is wholly netted: no cash needed.
    await verified(CONFIG, uow, [claim("C-D", date(2026, 2, 23), 5_000_000)])
    await execute_run(CONFIG, uow, RunOrder("R-2", 0, MAKER, APPROVER, None))
    paid = {e.claim_id: e.payload for e in uow.of_type(ClaimPaid)}
    assert (paid["C-D"].recovered_amount, paid["C-D"].net_paid) == (5_000_000, 0)
    assert uow.ledger.balances()["asset:receivable:0301R001"] == 1_000_000


async def test_a_correction_of_an_unpaid_claim_is_refused() -> None:
    uow = FakeUnitOfWork()
    await verified(CONFIG, uow, [claim("C-A", date(2026, 2, 23), 10_000_000)])
    request = correction("C-A", "VEDIKA-1", 1)
    with pytest.raises(PermanentError) as refused:
        await release_correction(CONFIG, uow, request, approval(request))
    assert (refused.value.code, str(refused.value)) == (
        "correction-not-paid", "claim_id C-A seq 0: no paid payable to correct",
    )  # fmt: skip
