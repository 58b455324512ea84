"""Claim integrity: duplicate SEP, readmission (fragmentation), length of stay, severity upcoding, expiry."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from services.verifier.domain.deadlines import add_months, is_expired_submission
from services.verifier.domain.documents import supported
from services.verifier.domain.policy import VerificationPolicy
from services.verifier.domain.rulebook import Finding, finding
from services.verifier.domain.tables import los_range, severity_ratio
from shared.events import ClaimData, GroupingResult

INPATIENT = 1


@dataclass(frozen=True)
class Episode:
    """One of the participant's earlier claims, as the verifier recorded it."""

    claim_id: str
    jenis_rawat: int
    tgl_pulang: date
    cmg: str
    tgl_masuk: date | None = None  # None: recorded before admissions were kept (no overlap check)
    nomor_sep: str = ""


def duplicate_sep_findings(claim_id: str, claim: ClaimData, verified_with_sep: Collection[str]) -> list[Finding]:
    """Another claim with the same SEP already verified (or paid) makes this one a duplicate."""
    others = sorted(set(verified_with_sep) - {claim_id})
    if not others:
        return []
    return [finding("V-DUP-SEP", field="nomor_sep", detail=f"{claim.nomor_sep}: {name_some(others)}")]


def name_some(claim_ids: Collection[str], limit: int = 5) -> str:
    """The first `limit` claim ids and how many more: a reason must fit its bounded message however many."""
    ordered = sorted(claim_ids)
    shown = ", ".join(ordered[:limit])
    return shown if len(ordered) <= limit else f"{shown} (+{len(ordered) - limit} more)"


def readmission_findings(
    claim_id: str,
    claim: ClaimData,
    grouping: GroupingResult,
    episodes: Sequence[Episode],
    policy: VerificationPolicy,
) -> list[Finding]:
    """An inpatient readmission in the same CMG within the window may be one episode split in two."""
    if claim.jenis_rawat != INPATIENT:
        return []
    earlier = [
        e
        for e in episodes
        if e.claim_id != claim_id
        and e.jenis_rawat == INPATIENT
        and e.cmg == grouping.cmg
        and 0 <= (claim.tgl_masuk - e.tgl_pulang).days <= policy.readmission_days
    ]
    if not earlier:
        return []
    detail = ", ".join(f"{e.claim_id} {e.tgl_pulang.isoformat()}" for e in earlier)
    return [finding("V-READMIT", field="tgl_masuk", detail=f"CMG {grouping.cmg}: {detail}")]


def los_findings(claim: ClaimData, grouping: GroupingResult) -> list[Finding]:
    """An inpatient stay outside the expected range of its CMG and case type goes to a reviewer."""
    if claim.jenis_rawat != INPATIENT:
        return []  # outpatient care is one day by definition
    expected = los_range(grouping.cmg, grouping.case_type)
    los = claim.length_of_stay
    if expected.min_days <= los <= expected.max_days:
        return []
    detail = f"{los} / {expected.min_days}-{expected.max_days}"
    return [finding("V-LOS-RANGE", field="tgl_pulang", detail=detail)]


def severity_ii_estimate(grouping: GroupingResult) -> int:
    """Severity II base tariff estimated from the grouped severity III one (data/severity_ratios.csv)."""
    estimate = Decimal(grouping.tarif_kelas) * severity_ratio(grouping.cmg)
    return int(estimate.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def severity_findings(
    claim: ClaimData, grouping: GroupingResult, severity_ii_tarif: int | None = None
) -> list[Finding]:
    """Severity III with an unsupported secondary diagnosis: adjust the base tariff to severity II.

    The grouper decides which secondary diagnosis drives severity and the verifier cannot regroup,
    so any unsupported secondary fires. The amount is the base tariff minus the severity II tariff:
    given by the caller when known, else estimated by ratio (special CMG top-ups are unaffected).
    """
    if grouping.severity != "III":
        return []
    unsupported = [code for code in claim.diagnosa[1:] if not supported(code, claim.documents)]
    if not unsupported:
        return []
    basis = "given" if severity_ii_tarif is not None else "estimated"
    tarif_ii = severity_ii_tarif if severity_ii_tarif is not None else severity_ii_estimate(grouping)
    amount = min(max(grouping.tarif_kelas - tarif_ii, 0), grouping.tarif_kelas)
    if amount == 0:
        return []  # nothing to correct
    detail = f"{', '.join(unsupported)}; II {tarif_ii} {basis}"
    return [finding("V-SEVERITY-UNSUPPORTED", field="diagnosa", detail=detail, amount=amount)]


def expiry_findings(claim: ClaimData, first_submitted_on: date, policy: VerificationPolicy) -> list[Finding]:
    """A claim first submitted later than the expiry window after discharge is not payable."""
    if not is_expired_submission(claim.tgl_pulang, first_submitted_on, policy):
        return []
    limit = add_months(claim.tgl_pulang, policy.claim_expiry_months)
    detail = f"{claim.tgl_pulang} + {policy.claim_expiry_months} months = {limit} < {first_submitted_on}"
    return [finding("V-CLAIM-EXPIRED", field="tgl_pulang", detail=detail)]
