"""Disputes: who may dispute, when, once; rulings and the supplementary verification they produce."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from services.verifier.domain import (
    Calendar,
    ClaimState,
    ClaimStatus,
    DisputeResolvedOut,
    FileDispute,
    IllegalTransition,
    ResolveDispute,
    Result,
    Transition,
    VerificationPolicy,
    VerifiedOut,
    apply,
)
from shared.events import ClaimDisputedPayload, DisputeResolutionRequestedPayload

Reach = Callable[[ClaimState], ClaimStatus]
SEP, KODE_RS, CLAIMED, ADJUSTMENT = "0301R0010326V000001", "0301R001", 4_000_000, 1_200_000
DISPUTE_BY = date(2026, 3, 20)  # decided Mon 2 March + 14 working days
RULED_ON = date(2026, 4, 1)


def legal(result: Result) -> Transition:
    assert isinstance(result, Transition), result
    return result


def refused(result: Result, code: str) -> None:
    assert isinstance(result, IllegalTransition), result
    assert result.reason.code == code


def ruling(outcome: str, amount: int | None = None) -> ResolveDispute:
    return ResolveDispute(outcome, RULED_ON, "tkmkb-1", "ruling note", amount)  # type: ignore[arg-type]


def disputed(reach: Reach, state: ClaimState, cal: Calendar, policy: VerificationPolicy) -> ClaimStatus:
    return legal(apply(reach(state), FileDispute(DISPUTE_BY, CLAIMED), cal, policy)).status


# --------------------------------------------------------------------------- filing


@pytest.mark.parametrize("state", [ClaimState.VERIFIED_ADJUSTED, ClaimState.REJECTED])
@pytest.mark.parametrize("filed_on", [date(2026, 3, 3), DISPUTE_BY])
def test_adjusted_or_rejected_claim_may_be_disputed_in_time(
    reach: Reach, cal: Calendar, policy: VerificationPolicy, state: ClaimState, filed_on: date
) -> None:
    t = legal(apply(reach(state), FileDispute(filed_on, 3_500_000), cal, policy))
    assert (t.status.state, t.status.disputed, t.status.requested_amount, t.outputs) == (
        ClaimState.DISPUTED,
        True,
        3_500_000,
        (),
    )


@pytest.mark.parametrize("state", [ClaimState.VERIFIED_ADJUSTED, ClaimState.REJECTED])
def test_dispute_after_the_window_is_refused(
    reach: Reach, cal: Calendar, policy: VerificationPolicy, state: ClaimState
) -> None:
    refused(apply(reach(state), FileDispute(date(2026, 3, 23), CLAIMED), cal, policy), "V-DISPUTE-LATE")


@pytest.mark.parametrize(
    "state",
    [
        ClaimState.VERIFIED,  # verified in full: nothing to dispute
        ClaimState.PEND_EXPIRED,  # the hospital missed its own deadline
        ClaimState.RECEIVED,
        ClaimState.GROUPED,
        ClaimState.IN_REVIEW,
        ClaimState.PENDED,
        ClaimState.RESUBMITTED,
    ],
)
def test_claims_without_a_disputable_decision_are_refused(
    reach: Reach, cal: Calendar, policy: VerificationPolicy, state: ClaimState
) -> None:
    refused(apply(reach(state), FileDispute(date(2026, 3, 3), CLAIMED), cal, policy), "V-DISPUTE-NOT-DISPUTABLE")


@pytest.mark.parametrize("state", [ClaimState.DISPUTED, ClaimState.DISPUTE_RESOLVED])
def test_a_second_dispute_is_refused(
    reach: Reach, cal: Calendar, policy: VerificationPolicy, state: ClaimState
) -> None:
    refused(apply(reach(state), FileDispute(date(2026, 3, 3), CLAIMED), cal, policy), "V-DISPUTE-REPEATED")


def test_dispute_command_from_the_contract_payload() -> None:
    payload = ClaimDisputedPayload(
        nomor_sep=SEP, kode_rs=KODE_RS, disputed_on=date(2026, 3, 10), requested_amount=CLAIMED, reason="lengkap"
    )
    assert FileDispute.from_payload(payload) == FileDispute(date(2026, 3, 10), CLAIMED)


# --------------------------------------------------------------------------- rulings


@pytest.mark.parametrize(
    ("cmd", "supplementary"),
    [
        (ruling("upheld"), ADJUSTMENT),  # the adjustment in full
        (ruling("upheld", 1_000_000), 1_000_000),  # the amount given
        (ruling("upheld", ADJUSTMENT), ADJUSTMENT),
        (ruling("partial", 1), 1),
        (ruling("partial", ADJUSTMENT - 1), ADJUSTMENT - 1),
    ],
)
def test_hospital_wins_a_supplementary_verification(
    reach: Reach, cal: Calendar, policy: VerificationPolicy, cmd: ResolveDispute, supplementary: int
) -> None:
    status = disputed(reach, ClaimState.VERIFIED_ADJUSTED, cal, policy)
    t = legal(apply(status, cmd, cal, policy))
    assert t.status.state == ClaimState.DISPUTE_RESOLVED
    assert (t.status.verification_seq, t.status.approved_amount) == (1, CLAIMED - ADJUSTMENT + supplementary)
    assert t.outputs == (
        DisputeResolvedOut(SEP, KODE_RS, cmd.outcome, supplementary, RULED_ON, "tkmkb-1", "ruling note"),
        VerifiedOut(0, SEP, KODE_RS, 1, RULED_ON, CLAIMED, supplementary),
    )


def test_upheld_rejection_pays_the_whole_claim_as_the_first_verification(
    reach: Reach, cal: Calendar, policy: VerificationPolicy
) -> None:
    t = legal(apply(disputed(reach, ClaimState.REJECTED, cal, policy), ruling("upheld"), cal, policy))
    assert t.outputs[1] == VerifiedOut(0, SEP, KODE_RS, 0, RULED_ON, CLAIMED, CLAIMED)
    assert t.status.approved_amount == CLAIMED


@pytest.mark.parametrize("amount", [None, 0])
def test_denied_dispute_pays_nothing_more(
    reach: Reach, cal: Calendar, policy: VerificationPolicy, amount: int | None
) -> None:
    status = disputed(reach, ClaimState.VERIFIED_ADJUSTED, cal, policy)
    t = legal(apply(status, ruling("denied", amount), cal, policy))
    assert t.outputs == (DisputeResolvedOut(SEP, KODE_RS, "denied", 0, RULED_ON, "tkmkb-1", "ruling note"),)
    assert (t.status.state, t.status.verification_seq, t.status.approved_amount) == (
        ClaimState.DISPUTE_RESOLVED,
        0,
        CLAIMED - ADJUSTMENT,
    )


@pytest.mark.parametrize(
    "cmd",
    [
        ruling("upheld", 0),
        ruling("upheld", ADJUSTMENT + 1),
        ruling("partial"),
        ruling("partial", 0),
        ruling("partial", ADJUSTMENT),  # that is upheld, not partial
        ruling("denied", 5),
    ],
)
def test_amount_not_fitting_the_outcome_is_refused(
    reach: Reach, cal: Calendar, policy: VerificationPolicy, cmd: ResolveDispute
) -> None:
    status = disputed(reach, ClaimState.VERIFIED_ADJUSTED, cal, policy)
    refused(apply(status, cmd, cal, policy), "V-DISPUTE-AMOUNT")


@pytest.mark.parametrize(
    "state",
    [ClaimState.VERIFIED_ADJUSTED, ClaimState.REJECTED, ClaimState.VERIFIED, ClaimState.DISPUTE_RESOLVED],
)
def test_ruling_without_an_open_dispute_is_refused(
    reach: Reach, cal: Calendar, policy: VerificationPolicy, state: ClaimState
) -> None:
    refused(apply(reach(state), ruling("upheld"), cal, policy), "V-DISPUTE-NOT-OPEN")


def test_ruling_command_from_the_contract_payload() -> None:
    payload = DisputeResolutionRequestedPayload(outcome="partial", amount=500_000, reviewer="tkmkb-1", note="sebagian")
    assert ResolveDispute.from_payload(payload, RULED_ON) == ResolveDispute(
        "partial", RULED_ON, "tkmkb-1", "sebagian", 500_000
    )
