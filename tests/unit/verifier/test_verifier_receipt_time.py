"""Deadlines judged on receipt time: what a hospital sent or an operator decided before midnight is on time.

The claim of conftest: submitted and pended Monday 2 March 2026, so resubmit_by is Wednesday 11 March
(7 working days); adjusted Monday 2 March, so dispute_by is Friday 20 March (14 working days).
Times are Jakarta time (UTC+7): 23:59 WIB on 11 March is 16:59 UTC.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from services.verifier.application import Verifier
from services.verifier.domain import (
    Calendar,
    ClaimState,
    ClaimStatus,
    DisputeResolvedOut,
    FileDispute,
    Grouped,
    IllegalTransition,
    ResolveDispute,
    ReviewVerdict,
    Transition,
    VerificationPolicy,
    VerifiedOut,
    apply,
)
from services.verifier.domain.timing import acted_on, cut_off
from shared.clock import FixedClock
from shared.events import ClaimDisputed, ClaimDisputedPayload, Reason
from shared.receipt import received_on

JAKARTA = ZoneInfo("Asia/Jakarta")
Reach = Callable[[ClaimState], ClaimStatus]
SEP, KODE_RS, CLAIMED = "0301R0010326V000001", "0301R001", 4_000_000
FIVE_MINUTES = timedelta(minutes=5)


def wib(day: int, hour: int, minute: int, month: int = 3) -> datetime:
    """An instant in March 2026, Jakarta time."""
    return datetime(2026, month, day, hour, minute, tzinfo=JAKARTA)


def disputed(received_at: datetime | None) -> ClaimDisputed:
    return ClaimDisputed(
        occurred_at=wib(20, 23, 0),
        received_at=received_at,
        claim_id="C-1",
        correlation_id=uuid.uuid4(),
        producer="hospital:0301R001",
        payload=ClaimDisputedPayload(
            nomor_sep=SEP, kode_rs=KODE_RS, disputed_on=date(2026, 3, 20), requested_amount=CLAIMED, reason="lab"
        ),
    )


# --------------------------------------------------------------------------- a hospital's resubmission


def test_a_resubmission_received_at_2359_on_the_last_day_and_processed_at_0030_is_on_time(
    reach: Reach, cal: Calendar, policy: VerificationPolicy
) -> None:
    pended = reach(ClaimState.PENDED)
    assert pended.resubmit_by == date(2026, 3, 11)
    processing = FixedClock(wib(12, 0, 30))  # the consumer gets to it the next morning
    event = disputed(wib(11, 23, 59))  # any hospital input: the envelope's received_at dates it
    submitted_on = received_on(event, processing, JAKARTA)
    assert submitted_on == date(2026, 3, 11)
    result = apply(pended, Grouped(1, submitted_on, SEP, KODE_RS, CLAIMED), cal, policy)
    assert isinstance(result, Transition)
    assert result.status.state == ClaimState.RESUBMITTED


def test_a_resubmission_received_at_0001_the_next_day_is_late(
    reach: Reach, cal: Calendar, policy: VerificationPolicy
) -> None:
    pended = reach(ClaimState.PENDED)
    submitted_on = received_on(disputed(wib(12, 0, 1)), FixedClock(wib(12, 0, 30)), JAKARTA)
    assert submitted_on == date(2026, 3, 12)
    result = apply(pended, Grouped(1, submitted_on, SEP, KODE_RS, CLAIMED), cal, policy)
    assert isinstance(result, IllegalTransition)
    assert result.reason.code == "V-STATE-RESUBMIT-LATE"
    assert result.reason.field == "submitted_on"
    assert result.reason.message_en.endswith("(2026-03-12 > 2026-03-11)")


def test_without_received_at_the_input_is_dated_by_the_clock_that_first_sees_it() -> None:
    assert received_on(disputed(None), FixedClock(wib(12, 0, 30)), JAKARTA) == date(2026, 3, 12)


def test_the_business_date_of_received_at_is_the_jakarta_date_not_the_utc_one() -> None:
    # 06:30 WIB on 12 March is still 11 March in UTC (23:30).
    event = disputed(datetime(2026, 3, 11, 23, 30, tzinfo=UTC))
    assert received_on(event, FixedClock(wib(12, 9, 0)), JAKARTA) == date(2026, 3, 12)


# --------------------------------------------------------------------------- a hospital's dispute


def test_a_dispute_received_before_midnight_on_dispute_by_and_consumed_after_is_on_time(
    reach: Reach, cal: Calendar, policy: VerificationPolicy
) -> None:
    adjusted = reach(ClaimState.VERIFIED_ADJUSTED)
    assert adjusted.dispute_by == date(2026, 3, 20)
    verifier = Verifier(policy, FixedClock(wib(21, 0, 30)), JAKARTA)
    on_time = verifier.received_on(disputed(wib(20, 23, 59)))
    result = apply(adjusted, FileDispute(on_time, CLAIMED), cal, policy)
    assert isinstance(result, Transition)
    assert result.status.state == ClaimState.DISPUTED
    late = verifier.received_on(disputed(wib(21, 0, 1)))
    refused = apply(adjusted, FileDispute(late, CLAIMED), cal, policy)
    assert isinstance(refused, IllegalTransition)
    assert (refused.reason.code, refused.reason.field) == ("V-DISPUTE-LATE", "disputed_on")


# --------------------------------------------------------------------------- an operator's decision


def test_a_review_decision_made_before_midnight_and_consumed_after_verifies_on_the_earlier_day(
    reach: Reach, cal: Calendar, policy: VerificationPolicy
) -> None:
    in_review = reach(ClaimState.IN_REVIEW)
    made = wib(5, 23, 50)  # Thursday 5 March, 23:50 WIB
    consumed = wib(6, 0, 30)
    decided_on = acted_on(made, consumed, JAKARTA, FIVE_MINUTES)
    assert decided_on == date(2026, 3, 5)
    assert isinstance(decided_on, date)
    result = apply(in_review, ReviewVerdict("verify", "dr. A", decided_on), cal, policy)
    assert isinstance(result, Transition)
    (verified,) = result.outputs
    assert isinstance(verified, VerifiedOut)
    assert verified.verified_on == date(2026, 3, 5)  # the payment clock starts Thursday, not Friday


def test_a_review_decision_on_the_last_day_of_the_window_consumed_the_next_day_is_not_late(
    reach: Reach, cal: Calendar, policy: VerificationPolicy
) -> None:
    in_review = reach(ClaimState.IN_REVIEW)  # submitted Mon 2 March: the window ends Thu 12 March
    decided_on = acted_on(wib(12, 23, 58), wib(13, 1, 0), JAKARTA, FIVE_MINUTES)
    assert isinstance(decided_on, date)
    result = apply(in_review, ReviewVerdict("pend", "dr. A", decided_on, missing=("resume_medis",)), cal, policy)
    assert isinstance(result, Transition)
    assert result.status.state == ClaimState.PENDED
    assert result.status.pended_on == date(2026, 3, 12)
    assert result.status.resubmit_by == date(2026, 3, 23)  # 7 working days after Thu 12 March


def test_a_dispute_ruling_is_dated_by_when_the_team_ruled(
    reach: Reach, cal: Calendar, policy: VerificationPolicy
) -> None:
    disputed_claim = reach(ClaimState.DISPUTED)
    resolved_on = acted_on(wib(31, 23, 59), wib(1, 0, 10, month=4), JAKARTA, FIVE_MINUTES)
    assert resolved_on == date(2026, 3, 31)
    assert isinstance(resolved_on, date)
    result = apply(disputed_claim, ResolveDispute("upheld", resolved_on, "tkmkb", "lab"), cal, policy)
    assert isinstance(result, Transition)
    resolved, supplementary = result.outputs
    assert isinstance(resolved, DisputeResolvedOut)
    assert resolved.resolved_on == date(2026, 3, 31)
    assert isinstance(supplementary, VerifiedOut)
    assert supplementary.verified_on == date(2026, 3, 31)


def test_a_command_dated_beyond_the_allowed_skew_into_the_future_is_refused_naming_occurred_at() -> None:
    now = wib(5, 10, 0)
    refused = acted_on(wib(5, 10, 6), now, JAKARTA, FIVE_MINUTES)
    assert isinstance(refused, Reason)
    assert refused.code == "V-CMD-FUTURE"
    assert refused.field == "occurred_at"
    assert "+ 300 s" in refused.message_en
    assert acted_on(wib(5, 10, 4), now, JAKARTA, FIVE_MINUTES) == date(2026, 3, 5)  # within the skew


# --------------------------------------------------------------------------- the sweep's cut-off


def test_the_cut_off_of_a_day_is_midnight_at_its_end_in_jakarta() -> None:
    assert cut_off(date(2026, 3, 11), JAKARTA) == datetime(2026, 3, 11, 17, 0, tzinfo=UTC)
