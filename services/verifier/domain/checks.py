"""Running every verification rule on one grouped claim revision."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

from services.verifier.domain import documents, eligibility, integrity, newborn, overlap
from services.verifier.domain.decision import Decision, decide
from services.verifier.domain.eligibility import Participant
from services.verifier.domain.integrity import Episode
from services.verifier.domain.policy import VerificationPolicy
from services.verifier.domain.rulebook import Finding
from shared.events import ClaimData, GroupingResult


@dataclass(frozen=True)
class ClaimCheck:
    """Everything the rules look at, gathered by the adapter for one claim revision.

    first_submitted_on: revision 0's submission date (expiry counts from the first submission);
    participant_history: the records of the claim's card (and its NIK, if the projection links them);
    earlier_episodes: the participant's other claims; verified_with_same_sep: ids of claims with this
    SEP that already have a verification.
    """

    claim_id: str
    claim: ClaimData
    grouping: GroupingResult
    first_submitted_on: date
    participant_history: Sequence[Participant] = ()
    earlier_episodes: Sequence[Episode] = ()
    verified_with_same_sep: Collection[str] = ()


def run_checks(check: ClaimCheck, policy: VerificationPolicy) -> tuple[Finding, ...]:
    """Every rule's findings, in rule-table order."""
    claim, grouping = check.claim, check.grouping
    return (
        *eligibility.eligibility_findings(claim, check.participant_history),
        *eligibility.sep_hospital_findings(claim),
        *newborn.healthy_newborn_findings(claim),
        *overlap.overlap_findings(check.claim_id, claim, check.earlier_episodes),
        *documents.resume_findings(claim),
        *documents.consent_findings(claim),
        *documents.support_findings(claim),
        *documents.referral_findings(claim),
        *integrity.duplicate_sep_findings(check.claim_id, claim, check.verified_with_same_sep),
        *integrity.readmission_findings(check.claim_id, claim, grouping, check.earlier_episodes, policy),
        *integrity.los_findings(claim, grouping),
        *integrity.severity_findings(claim, grouping),
        *integrity.expiry_findings(claim, check.first_submitted_on, policy),
    )


def verify(check: ClaimCheck, policy: VerificationPolicy) -> Decision:
    """The rules' decision on a claim revision; the claimed amount is the grouped total tariff."""
    return decide(run_checks(check, policy), check.grouping.total_tarif)
