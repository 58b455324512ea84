"""Claim integrity: duplicate SEP, readmission (fragmentation), length of stay, severity upcoding, expiry."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from services.verifier.domain.deadlines import add_months, is_expired_submission
from services.verifier.domain.documents import supported
from services.verifier.domain.policy import VerificationPolicy
from services.verifier.domain.rulebook import Finding, finding
from services.verifier.domain.tables import los_range
from shared.events import ClaimData, GroupingResult, SeverityBasis

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


def corrected_severity(basis: Sequence[SeverityBasis]) -> Literal["I", "II", "III"]:
    """The severity the grouper's own rule gives for these CC/MCC secondaries: the highest level, none I."""
    levels = {b.level for b in basis}
    return "III" if "MCC" in levels else "II" if "CC" in levels else "I"


def severity_findings(claim: ClaimData, grouping: GroupingResult) -> list[Finding]:
    """A severity raised by a CC/MCC the documents do not support: regroup without it, priced from the table.

    Only the secondaries the grouper says raised severity (`severity_basis`) are looked at: an unsupported
    diagnosis that is not a CC/MCC changes nothing. The corrected severity is the highest level among the
    supported ones; the amount is the base tariff minus the same group's tariff at that severity for the
    claimed class (`tarif_by_severity`, from the grouper's tariff table); special CMG top-ups are unaffected.
    Without those figures (an event from an older grouper) nothing can be regrouped and nothing is corrected.
    """
    unsupported = [b for b in grouping.severity_basis if not supported(b.code, claim.documents)]
    if not unsupported:
        return []
    corrected = corrected_severity([b for b in grouping.severity_basis if b not in unsupported])
    tarif = {t.severity: t.tarif for t in grouping.tarif_by_severity}.get(corrected)
    if corrected == grouping.severity or tarif is None:
        return []  # a supported code of the same level keeps the severity; or no figure to price it with
    amount = min(max(grouping.tarif_kelas - tarif, 0), grouping.tarif_kelas)
    if amount == 0:
        return []  # nothing to correct
    codes = ", ".join(f"{b.code} {b.level}" for b in unsupported)
    detail = f"{codes}; {grouping.severity} -> {corrected}, {tarif} ({grouping.tariff_table_version})"
    return [finding("V-SEVERITY-UNSUPPORTED", field="diagnosa", detail=detail, amount=amount)]


def expiry_findings(claim: ClaimData, first_submitted_on: date, policy: VerificationPolicy) -> list[Finding]:
    """A claim first submitted later than the expiry window after discharge is not payable."""
    if not is_expired_submission(claim.tgl_pulang, first_submitted_on, policy):
        return []
    limit = add_months(claim.tgl_pulang, policy.claim_expiry_months)
    detail = f"{claim.tgl_pulang} + {policy.claim_expiry_months} months = {limit} < {first_submitted_on}"
    return [finding("V-CLAIM-EXPIRED", field="tgl_pulang", detail=detail)]
