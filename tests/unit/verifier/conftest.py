"""Fixtures for the verifier's domain tests: a Mon-Fri calendar, a clean claim, its grouping, a member."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest

from services.verifier.domain import (
    ClaimState,
    ClaimStatus,
    Command,
    Decide,
    FileDispute,
    Grouped,
    Participant,
    ResolveDispute,
    StartReview,
    Sweep,
    Transition,
    VerificationPolicy,
    apply,
    decide,
)
from services.verifier.domain.rulebook import finding
from shared.events import ClaimData, DocumentRef, GroupingResult, TariffByClass, TarifRS

MONDAY = date(2026, 3, 2)  # a Monday; fake calendar has no holidays


class MonFriCalendar:
    """Working days are Monday to Friday, nothing else."""

    def is_working_day(self, d: date) -> bool:
        return d.weekday() < 5

    def add_working_days(self, start: date, n: int) -> date:
        day = start
        while n > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                n -= 1
        return day

    def working_days_between(self, a: date, b: date) -> int:
        return sum(1 for k in range(1, (b - a).days + 1) if self.is_working_day(a + timedelta(days=k)))


@pytest.fixture
def cal() -> MonFriCalendar:
    return MonFriCalendar()


@pytest.fixture
def policy() -> VerificationPolicy:
    return VerificationPolicy()


@pytest.fixture
def claim() -> ClaimData:
    """A clean inpatient pneumonia claim: every document present, nothing for a rule to find."""
    return ClaimData(
        nomor_sep="0301R0010326V000001",
        nomor_kartu="0001234567890",
        kode_rs="0301R001",
        kelas_rs="B",
        regional_tarif=1,
        tgl_lahir=date(1970, 5, 17),
        gender=1,
        tgl_masuk=MONDAY,
        tgl_pulang=MONDAY + timedelta(days=4),
        jenis_rawat=1,
        kelas_rawat=3,
        diagnosa=["J18.9"],
        tarif_rs=TarifRS(kamar=2_000_000, obat=1_500_000),
        coder_nik="3171010101700001",
        documents=[
            DocumentRef(doc_type="resume_medis", ref="RM-1", supports=["J18.9"]),
            DocumentRef(doc_type="radiology_result", ref="RAD-1", supports=["J18.9"]),
        ],
    )


@pytest.fixture
def grouping() -> GroupingResult:
    return GroupingResult(
        cbg_code="J-4-16-I",
        cbg_description="Simple pneumonia and whooping cough, mild",
        cmg="J",
        case_type=4,
        severity="I",
        tarif_kelas=4_000_000,
        tarif_alt=[TariffByClass(kelas=3, tarif=4_000_000)],
        total_tarif=4_000_000,
        tarif_rs_total=3_500_000,
        tariff_gap=-500_000,
        grouper_version="test",
        tariff_table_version="sample",
    )


@pytest.fixture
def member() -> Participant:
    """An active PPU member entitled to class 3 since 2020, open-ended."""
    return Participant("0001234567890", "3171010101700002", "active", 3, "PPU", date(2020, 1, 1))


# --------------------------------------------------------------------------- state machine

SEP = "0301R0010326V000001"
KODE_RS = "0301R001"
CLAIMED = 4_000_000
ADJUSTMENT = 1_200_000

VERIFY = decide([], CLAIMED)
ADJUST = decide([finding("V-SEVERITY-UNSUPPORTED", amount=ADJUSTMENT)], CLAIMED)
PEND = decide([finding("V-DOC-RESUME")], CLAIMED)
REJECT = decide([finding("V-DUP-SEP")], CLAIMED)
REVIEW = decide([finding("V-LOS-RANGE")], CLAIMED)


def grouped_revision(revision: int = 0, on: date = MONDAY, claimed: int = CLAIMED) -> Grouped:
    return Grouped(revision, on, SEP, KODE_RS, claimed)


# How each state is reached from a first submission on Monday 2 March 2026 (decisions the same day):
# pended -> resubmit_by Wed 11 March; adjusted or rejected -> dispute_by Fri 20 March.
_PATHS: dict[ClaimState, tuple[ClaimState | None, Command | None]] = {
    ClaimState.RECEIVED: (None, None),
    ClaimState.GROUPED: (ClaimState.RECEIVED, grouped_revision()),
    ClaimState.IN_REVIEW: (ClaimState.GROUPED, StartReview(MONDAY)),
    ClaimState.VERIFIED: (ClaimState.IN_REVIEW, Decide(VERIFY, MONDAY)),
    ClaimState.VERIFIED_ADJUSTED: (ClaimState.IN_REVIEW, Decide(ADJUST, MONDAY)),
    ClaimState.PENDED: (ClaimState.IN_REVIEW, Decide(PEND, MONDAY)),
    ClaimState.RESUBMITTED: (ClaimState.PENDED, grouped_revision(1, date(2026, 3, 11))),
    ClaimState.PEND_EXPIRED: (ClaimState.PENDED, Sweep(date(2026, 3, 12))),
    ClaimState.REJECTED: (ClaimState.IN_REVIEW, Decide(REJECT, MONDAY)),
    ClaimState.DISPUTED: (ClaimState.VERIFIED_ADJUSTED, FileDispute(date(2026, 3, 20), CLAIMED)),
    ClaimState.DISPUTE_RESOLVED: (ClaimState.DISPUTED, ResolveDispute("denied", date(2026, 4, 1), "tkmkb", "-")),
}


@pytest.fixture
def reach(cal: MonFriCalendar, policy: VerificationPolicy) -> Callable[[ClaimState], ClaimStatus]:
    """The status of claim C-1 brought to a state through legal commands only."""

    def _reach(state: ClaimState) -> ClaimStatus:
        before, cmd = _PATHS[state]
        if before is None or cmd is None:
            return ClaimStatus("C-1")
        result = apply(_reach(before), cmd, cal, policy)
        assert isinstance(result, Transition), result
        assert result.status.state == state
        return result.status

    return _reach
