"""Document completeness: resume medis, informed consent, supporting results, referral letter."""

from __future__ import annotations

from collections.abc import Iterable

from services.verifier.domain.rulebook import Finding, finding
from services.verifier.domain.tables import SupportKind, is_invasive, normalize_code, support_requirement
from shared.events import ClaimData, DocumentRef, DocumentType

OUTPATIENT = 2

# A generic supporting_result satisfies either kind: the hospital may file one combined report.
ACCEPTED_RESULTS: dict[SupportKind, frozenset[DocumentType]] = {
    "lab": frozenset({"lab_result", "supporting_result"}),
    "radiology": frozenset({"radiology_result", "supporting_result"}),
    "any": frozenset({"lab_result", "radiology_result", "supporting_result"}),
}


def has_document(claim: ClaimData, doc_type: DocumentType) -> bool:
    """Whether the claim references at least one document of this type."""
    return any(doc.doc_type == doc_type for doc in claim.documents)


def covers(doc: DocumentRef, icd10: str) -> bool:
    """Whether a document's `supports` names the code or a category containing it (E11 covers E11.9)."""
    code = normalize_code(icd10)
    return any(code.startswith(normalize_code(s)) for s in doc.supports if s.strip())


def supported(icd10: str, documents: Iterable[DocumentRef], types: frozenset[DocumentType] | None = None) -> bool:
    """Whether some document (of the given types, or any) supports the diagnosis."""
    return any(covers(doc, icd10) for doc in documents if types is None or doc.doc_type in types)


def resume_findings(claim: ClaimData) -> list[Finding]:
    """Every claim needs the resume medis."""
    return [] if has_document(claim, "resume_medis") else [finding("V-DOC-RESUME", field="documents")]


def consent_findings(claim: ClaimData) -> list[Finding]:
    """An invasive procedure (data/invasive_procedures.csv) needs an informed consent."""
    invasive = [p.code for p in claim.procedure if is_invasive(p.code)]
    if not invasive or has_document(claim, "informed_consent"):
        return []
    return [finding("V-DOC-CONSENT", field="procedure", detail=", ".join(invasive))]


def support_findings(claim: ClaimData) -> list[Finding]:
    """Each diagnosis listed in data/supporting_results.csv needs a result that supports it."""
    found: list[Finding] = []
    for code in dict.fromkeys(claim.diagnosa):  # each code once, in claim order
        need = support_requirement(code)
        if need is not None and not supported(code, claim.documents, ACCEPTED_RESULTS[need.required]):
            found.append(finding("V-DOC-SUPPORT", field="diagnosa", detail=f"{code}: {need.required}"))
    return found


def referral_findings(claim: ClaimData) -> list[Finding]:
    """Non-emergency outpatient care at a hospital needs a referral letter."""
    if claim.jenis_rawat != OUTPATIENT or claim.emergency or has_document(claim, "referral_letter"):
        return []
    return [finding("V-DOC-REFERRAL", field="documents")]
