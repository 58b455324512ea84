"""Reconciliation on an in-memory unit of work: a database restored from an older backup gets back every payment
claims.paid shows, as it was made, and a run afterwards pays nothing twice."""

from __future__ import annotations

import copy
from collections.abc import Collection
from datetime import date

import pytest

from services.payments.adapters.payables import PayableKey
from services.payments.adapters.reconcile import PayableState
from services.payments.application.capitation import release_capitation
from services.payments.application.config import Config
from services.payments.application.gate import RUNS_WAITING, ReconciliationGate, ReconciliationPending
from services.payments.application.payables import verified
from services.payments.application.reconcile import Reconciled, reconcile, reconcile_capitation
from services.payments.application.runs import RunOrder, execute_run, release_run
from shared.consumer import PermanentError
from shared.events import CapitationLine, CapitationPaid, ClaimPaid, ClaimVerified, PaymentRunRequested
from tests.unit.payments.fakes import FakeUnitOfWork
from tests.unit.payments.payment_events import APPROVER, MAKER, approval, capitation, config, run_request
from tests.unit.payments.payment_events import verified as claim

CONFIG = config()


class FakeStore:
    """The reconciliation reads, answered from the fake unit of work's rows."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    async def known_payments(self, payment_ids: Collection[str]) -> set[str]:
        return {p.payment_id for p in self.uow.runs.payments} & set(payment_ids)

    async def payables(self, keys: Collection[PayableKey]) -> dict[PayableKey, PayableState]:
        return {k: PayableState(s.row, s.payment_id) for k, s in self.uow.payables.rows.items() if k in set(keys)}

    async def known_runs(self, run_ids: Collection[str]) -> set[str]:
        return set(self.uow.runs.funds) & set(run_ids)

    async def advance_payment_numbers(self, at_least: int) -> None:
        self.uow.runs.numbers = max(self.uow.runs.numbers, at_least)

    async def capitation_paid(self, keys: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
        return {(p.month, p.kode_faskes) for p in self.uow.capitation.payments} & set(keys)

    async def known_capitation_runs(self, run_ids: Collection[str]) -> set[str]:
        return set(self.uow.capitation.runs) & set(run_ids)


class FakeHistory:
    """claims.verified and payments.commands as the broker still holds them."""

    def __init__(self, verifications: list[ClaimVerified], requests: list[PaymentRunRequested]) -> None:
        self.verified = {(v.claim_id or "", v.payload.verification_seq): v for v in verifications}
        self.requests = {r.payload.run_id: r for r in requests}
        self.reads = 0

    async def verifications(self, keys: Collection[PayableKey]) -> dict[PayableKey, ClaimVerified]:
        self.reads += 1
        return {k: v for k, v in self.verified.items() if k in set(keys)}

    async def run_requests(self, run_ids: Collection[str]) -> dict[str, PaymentRunRequested]:
        self.reads += 1
        return {k: r for k, r in self.requests.items() if k in set(run_ids)}


def ledger_rows(uow: FakeUnitOfWork) -> list[tuple[object, ...]]:
    return sorted(
        (e.entry_id, e.posting, e.booked_on, e.claim_id, e.payable_id, e.run_id, e.memo) for e in uow.ledger.entries
    )


async def test_a_restored_database_gets_back_the_payments_made_after_its_backup_and_pays_nothing_twice() -> None:
    live = FakeUnitOfWork()
    await verified(CONFIG, live, [claim("C-A", date(2026, 2, 2), 12_000_000), claim("C-B", date(2026, 2, 3), 7_654_321),
                                  claim("C-C", date(2026, 2, 24), 500_000)])  # fmt: skip
    first = run_request("R-1", 12_020_000)  # pays A with its 5 days' penalty (20,000), nothing else
    await release_run(CONFIG, live, first, approval(first))
    backup = copy.deepcopy(live)  # the backup: A paid, B and C open, D not verified yet
    late_verification = claim("C-D", date(2026, 2, 25), 3_000_000)
    await verified(CONFIG, live, [late_verification])
    second = run_request("R-2", 50_000_000)  # pays B (late: 10,206 penalty), C and D
    await release_run(CONFIG, live, second, approval(second))
    paid = live.of_type(ClaimPaid)
    assert [e.payload.payment_id for e in paid] == ["PAY-000000001", "PAY-000000002", "PAY-000000003",
                                                    "PAY-000000004"]  # fmt: skip

    restored = backup
    history = FakeHistory([late_verification], [second])
    result = await reconcile(restored, FakeStore(restored), history, paid)

    assert result == Reconciled(read=4, payments_rebuilt=3, payables_rebuilt=1, runs_rebuilt=1, conflicts=0)
    assert restored.runs.payments == live.runs.payments  # same ids, payables, amounts, penalties, dates, runs
    assert {k: s.payment_id for k, s in restored.payables.rows.items()} == {
        ("C-A", 0): "PAY-000000001", ("C-B", 0): "PAY-000000002", ("C-C", 0): "PAY-000000003",
        ("C-D", 0): "PAY-000000004",
    }  # fmt: skip
    assert ledger_rows(restored) == ledger_rows(live)  # the same entries, ids and memos included
    assert restored.ledger.balances() == live.ledger.balances() == {
        "expense:claims:fkrtl": 23_154_321, "liability:payable:0301R001": 0, "asset:cash:bpjs": -23_184_527,
        "expense:late-penalty": 30_206,
    }  # fmt: skip
    assert restored.runs.funds == {"R-1": 12_020_000, "R-2": 50_000_000}  # R-2's funds from its request
    totals = restored.runs.totals["R-2"]
    assert (totals.paid_count, totals.paid_total, totals.remaining) == (3, 11_164_527, 38_835_473)
    assert restored.emitted == live.emitted[:1]  # nothing published again: the events are on the topic

    again = run_request("R-3", 50_000_000)
    await release_run(CONFIG, restored, again, approval(again))
    assert restored.runs.totals["R-3"].paid_count == 0, "everything was paid before the restore's run"
    await release_run(CONFIG, restored, second, approval(second))  # R-2 requested again: applied once already
    assert len(restored.runs.payments) == 4
    await verified(CONFIG, restored, [claim("C-E", date(2026, 3, 2), 1_000_000)])
    new = run_request("R-4", 1_000_000)
    await release_run(CONFIG, restored, new, approval(new))
    (fresh,) = restored.of_type(ClaimPaid)[1:]
    assert fresh.payload.payment_id == "PAY-000000005", "a new payment never reuses a number the topic shows"


async def test_reconciling_again_rebuilds_nothing_and_a_republished_event_counts_once() -> None:
    live = FakeUnitOfWork()
    await verified(CONFIG, live, [claim("C-A", date(2026, 2, 23), 1_000_000)])
    backup = copy.deepcopy(live)
    await execute_run(CONFIG, live, RunOrder("R-1", 1_000_000, MAKER, APPROVER, None))
    (event,) = live.of_type(ClaimPaid)
    history = FakeHistory([], [])
    first = await reconcile(backup, FakeStore(backup), history, [event, event])  # relayed twice after a crash
    second = await reconcile(backup, FakeStore(backup), history, [event, event])
    assert (first.payments_rebuilt, first.runs_rebuilt, second.payments_rebuilt, second.runs_rebuilt) == (1, 1, 0, 0)
    assert len(backup.runs.payments) == 1
    assert backup.ledger.balances() == live.ledger.balances()
    # No request on payments.commands (a scheduled run's funds are an allocation): funds are what it spent.
    assert (backup.runs.funds["R-1"], backup.runs.totals["R-1"].remaining) == (1_000_000, 0)


async def test_a_payable_verified_after_the_backup_and_past_the_verification_topics_retention_is_rebuilt() -> None:
    live = FakeUnitOfWork()
    backup = copy.deepcopy(live)  # empty: the claim was verified and paid after it
    await verified(CONFIG, live, [claim("C-A", date(2026, 2, 23), 2_000_000)])
    await execute_run(CONFIG, live, RunOrder("R-1", 2_000_000, MAKER, APPROVER, None))
    (event,) = live.of_type(ClaimPaid)
    result = await reconcile(backup, FakeStore(backup), FakeHistory([], []), [event])
    assert (result.payments_rebuilt, result.payables_rebuilt) == (1, 1)
    ((key, stored),) = backup.payables.rows.items()
    assert (key, stored.payment_id, stored.row.amount, stored.row.due_on) == (
        ("C-A", 0), "PAY-000000001", 2_000_000, event.payload.due_on,
    )  # fmt: skip
    assert stored.row.verified_on == date(2026, 3, 2), "bounded by the payment date when the verification is gone"
    assert backup.ledger.balances() == {
        "expense:claims:fkrtl": 2_000_000, "liability:payable:0301R001": 0, "asset:cash:bpjs": -2_000_000,
    }  # fmt: skip


async def test_a_payable_the_database_has_paid_under_another_id_is_left_as_it_is() -> None:
    live = FakeUnitOfWork()
    await verified(CONFIG, live, [claim("C-A", date(2026, 2, 23), 1_000_000)])
    other = copy.deepcopy(live)
    await execute_run(CONFIG, live, RunOrder("R-1", 1_000_000, MAKER, APPROVER, None))
    other.runs.numbers = 7  # a database that paid the same payable under PAY-000000008 (paid twice, once)
    await execute_run(CONFIG, other, RunOrder("R-OTHER", 1_000_000, MAKER, APPROVER, None))
    result = await reconcile(other, FakeStore(other), FakeHistory([], []), live.of_type(ClaimPaid))
    assert (result.payments_rebuilt, result.conflicts) == (0, 1)
    assert [p.payment_id for p in other.runs.payments] == ["PAY-000000008"]


async def test_a_run_is_refused_and_kept_waiting_until_the_gate_opens() -> None:
    uow = FakeUnitOfWork()
    await verified(CONFIG, uow, [claim("C-A", date(2026, 2, 23), 1_000_000)])
    gate = ReconciliationGate(reconciled=False)
    closed = Config(CONFIG.policy, CONFIG.settings, CONFIG.clock, gate)
    request = run_request("R-1", 1_000_000)
    waiting = RUNS_WAITING._value.get()
    with pytest.raises(ReconciliationPending):  # transient: the consumer retries it, never commits past it
        await release_run(closed, uow, request, approval(request))
    assert (uow.runs.funds, uow.runs.payments, uow.emitted, uow.runs.serialised) == ({}, [], [], 0)
    assert RUNS_WAITING._value.get() == waiting + 1
    gate.open()
    await release_run(closed, uow, request, approval(request))
    assert [p.payment_id for p in uow.runs.payments] == ["PAY-000000001"]


PUSKESMAS = CapitationLine(
    kode_faskes="0301P001", facility_type="puskesmas", registered_members=12_000, doctors=3, has_dentist=True,
    contact_rate_per_mille=162.5, non_specialist_referral_pct=1.4, controlled_prolanis_pct=6.2,
)  # fmt: skip
DOCTOR = CapitationLine(
    kode_faskes="0301D003", facility_type="dokter_praktik", registered_members=3_001, doctors=1, has_dentist=False
)


async def test_a_capitation_run_after_the_backup_is_rebuilt_and_never_paid_again() -> None:
    live = FakeUnitOfWork()
    restored = copy.deepcopy(live)  # the backup: before the month's capitation run
    request = capitation("CAP-2026-03", PUSKESMAS, DOCTOR)
    await release_capitation(CONFIG, live, request, approval(request))
    assert await reconcile_capitation(restored, FakeStore(restored), live.of_type(CapitationPaid)) == 2
    assert restored.capitation.payments == live.capitation.payments  # amounts and the split's detail
    assert ledger_rows(restored) == ledger_rows(live)
    assert restored.capitation.runs == {"CAP-2026-03": 147_013_000}
    assert await reconcile_capitation(restored, FakeStore(restored), live.of_type(CapitationPaid)) == 0
    await release_capitation(CONFIG, restored, request, approval(request))  # replayed: its run id was applied
    again = capitation("CAP-2026-03-b", DOCTOR)  # a new run id for a facility paid this month: refused
    with pytest.raises(PermanentError) as refused:
        await release_capitation(CONFIG, restored, again, approval(again))
    assert refused.value.code == "capitation-already-paid"
    assert (restored.emitted, len(restored.capitation.payments)) == ([], 2)


async def test_a_capitation_run_waits_for_the_gate_too() -> None:
    uow = FakeUnitOfWork()
    closed = Config(CONFIG.policy, CONFIG.settings, CONFIG.clock, ReconciliationGate(reconciled=False))
    request = capitation("CAP-2026-03", DOCTOR)
    with pytest.raises(ReconciliationPending):
        await release_capitation(closed, uow, request, approval(request))
    assert (uow.capitation.runs, uow.capitation.payments) == ({}, [])
