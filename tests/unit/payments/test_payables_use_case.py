"""Verified claims become payables, a batch at a time, with an in-memory unit of work."""

from __future__ import annotations

from datetime import date

import pytest

from services.payments.application.payables import verified
from shared.consumer import PermanentError
from tests.unit.payments.fakes import FakeUnitOfWork
from tests.unit.payments.payment_events import again, config
from tests.unit.payments.payment_events import verified as claim

CONFIG = config()
# 25 Feb 2026 + 15 working days (the Idul Fitri weeks 18-24 Mar skipped) = 25 Mar; an upheld dispute verified
# on 20 Apr 2026 would be due 12 May on its own 15 working days (1 May is a holiday).
MAIN_ON, MAIN_DUE = date(2026, 2, 25), date(2026, 3, 25)
UPHELD_ON, OWN_DUE = date(2026, 4, 20), date(2026, 5, 12)


async def test_a_batch_of_verified_claims_makes_one_payable_each_with_one_insert_and_no_read() -> None:
    events = [claim(f"C-{i}", date(2026, 2, 23), 1_000_000 * (i + 1)) for i in range(5)]
    uow = FakeUnitOfWork()
    await verified(CONFIG, uow, events)
    # 23 Feb 2026 + 15 working days: 24-27 Feb, 2-6, 9-13 and 16 Mar.
    assert uow.payables.due() == {(f"C-{i}", 0): date(2026, 3, 16) for i in range(5)}
    assert (uow.payables.inserts, uow.payables.reads) == (1, 0)
    assert [(e.entry_id, e.posting.amount) for e in uow.ledger.entries] == [
        ("LE-1-payable", 1_000_000), ("LE-2-payable", 2_000_000), ("LE-3-payable", 3_000_000),
        ("LE-4-payable", 4_000_000), ("LE-5-payable", 5_000_000),
    ]  # fmt: skip
    assert uow.ledger.balances() == {"expense:claims:fkrtl": 15_000_000, "liability:payable:0301R001": -15_000_000}
    assert uow.emitted == []


async def test_a_supplementary_verification_is_due_on_the_main_ones_date_read_once_for_the_batch() -> None:
    uow = FakeUnitOfWork()
    await verified(CONFIG, uow, [claim("C-1", MAIN_ON, 20_000_000), claim("C-2", MAIN_ON, 6_000_000)])
    await verified(CONFIG, uow, [claim("C-1", UPHELD_ON, 10_000_000, seq=1), claim("C-2", UPHELD_ON, 3_000_000, seq=1)])
    assert uow.payables.due() == {
        ("C-1", 0): MAIN_DUE, ("C-1", 1): MAIN_DUE, ("C-2", 0): MAIN_DUE, ("C-2", 1): MAIN_DUE,
    }  # fmt: skip
    assert uow.payables.reads == 1  # the main due dates of both, in one read


@pytest.mark.parametrize("main_first", [True, False])
async def test_a_supplementary_in_the_same_batch_as_its_main_is_due_on_the_main_ones_date(main_first: bool) -> None:
    main, supplementary = claim("C-1", MAIN_ON, 20_000_000), claim("C-1", UPHELD_ON, 10_000_000, seq=1)
    uow = FakeUnitOfWork()
    await verified(CONFIG, uow, [main, supplementary] if main_first else [supplementary, main])
    assert uow.payables.due() == {("C-1", 0): MAIN_DUE, ("C-1", 1): MAIN_DUE}


async def test_a_supplementary_before_its_main_keeps_its_own_date_until_the_main_arrives() -> None:
    uow = FakeUnitOfWork()
    await verified(CONFIG, uow, [claim("C-1", UPHELD_ON, 3_000_000, seq=1)])
    assert uow.payables.due() == {("C-1", 1): OWN_DUE}
    await verified(CONFIG, uow, [claim("C-1", MAIN_ON, 6_000_000)])
    assert uow.payables.due() == {("C-1", 1): MAIN_DUE, ("C-1", 0): MAIN_DUE}  # moved back


async def test_with_the_dispute_setting_off_a_supplementary_keeps_its_own_date() -> None:
    uow = FakeUnitOfWork()
    off = config(dispute_due_from_original=False)
    await verified(off, uow, [claim("C-1", MAIN_ON, 20_000_000), claim("C-1", UPHELD_ON, 10_000_000, seq=1)])
    assert uow.payables.due() == {("C-1", 0): MAIN_DUE, ("C-1", 1): OWN_DUE}
    assert uow.payables.reads == 0


async def test_a_replay_in_a_later_batch_or_the_same_one_makes_nothing_more() -> None:
    first = claim("C-1", MAIN_ON, 20_000_000)
    uow = FakeUnitOfWork()
    await verified(CONFIG, uow, [first, again(first)])
    await verified(CONFIG, uow, [again(first)])
    assert list(uow.payables.due()) == [("C-1", 0)]
    assert [e.entry_id for e in uow.ledger.entries] == ["LE-1-payable"]


async def test_a_replay_that_changes_the_amount_is_refused_by_name() -> None:
    first = claim("C-1", MAIN_ON, 20_000_000)
    uow = FakeUnitOfWork()
    await verified(CONFIG, uow, [first])
    with pytest.raises(PermanentError) as refused:
        await verified(CONFIG, uow, [claim("C-2", MAIN_ON, 1_000), again(first, approved_amount=1)])
    assert refused.value.code == "conflicting-approved_amount"
    assert str(refused.value) == (
        "claim C-1 verification 0: approved_amount is 1, but 20000000 was recorded under the same key"
    )


@pytest.mark.parametrize(
    ("change", "code"),
    [({"verified_on": date(2026, 2, 26)}, "conflicting-verified_on"), ({"kode_rs": "0302R002"}, "conflicting-kode_rs")],
)
async def test_a_conflicting_replay_in_the_same_batch_is_refused(change: dict[str, object], code: str) -> None:
    first = claim("C-1", MAIN_ON, 20_000_000)
    with pytest.raises(PermanentError) as refused:
        await verified(CONFIG, FakeUnitOfWork(), [first, again(first, **change)])
    assert refused.value.code == code
