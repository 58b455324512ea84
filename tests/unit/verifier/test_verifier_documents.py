"""Document completeness rules: resume medis, informed consent, supporting results, referral letter."""

from __future__ import annotations

import pytest

from services.verifier.domain import Outcome
from services.verifier.domain.documents import (
    consent_findings,
    covers,
    referral_findings,
    resume_findings,
    support_findings,
)
from shared.events import ClaimData, DocumentRef, DocumentType, ProcedureEntry


def doc(doc_type: DocumentType, *supports: str) -> DocumentRef:
    return DocumentRef(doc_type=doc_type, ref=f"{doc_type}-1", supports=list(supports))


def with_docs(claim: ClaimData, *docs: DocumentRef, **update: object) -> ClaimData:
    return claim.model_copy(update={"documents": list(docs), **update})


def test_resume_present_passes(claim: ClaimData) -> None:
    assert resume_findings(claim) == []


def test_resume_missing_pends(claim: ClaimData) -> None:
    [found] = resume_findings(with_docs(claim, doc("radiology_result", "J18.9")))
    assert (found.reason.code, found.outcome, found.reason.field) == ("V-DOC-RESUME", Outcome.PEND, "documents")


@pytest.mark.parametrize("code", ["47.09", "4709", "00.66", "99.04", "99.25", "88.44", "96.04", "86.59"])
def test_invasive_procedure_without_consent_pends(claim: ClaimData, code: str) -> None:
    operated = claim.model_copy(update={"procedure": [ProcedureEntry(code=code)]})
    [found] = consent_findings(operated)
    assert (found.reason.code, found.outcome, found.reason.field) == ("V-DOC-CONSENT", Outcome.PEND, "procedure")
    assert code in found.reason.message_en


def test_invasive_procedure_with_consent_passes(claim: ClaimData) -> None:
    operated = claim.model_copy(
        update={
            "procedure": [ProcedureEntry(code="47.09")],
            "documents": [*claim.documents, doc("informed_consent")],
        }
    )
    assert consent_findings(operated) == []


@pytest.mark.parametrize("code", ["89.52", "87.44", "38.93", "57.94", "16.21", "93.39", "00.11"])
def test_non_invasive_procedure_needs_no_consent(claim: ClaimData, code: str) -> None:
    assert consent_findings(claim.model_copy(update={"procedure": [ProcedureEntry(code=code)]})) == []


def test_consent_finding_names_every_invasive_code_once_per_claim(claim: ClaimData) -> None:
    procs = [ProcedureEntry(code="47.09"), ProcedureEntry(code="89.52"), ProcedureEntry(code="99.04")]
    [found] = consent_findings(claim.model_copy(update={"procedure": procs}))
    assert "47.09, 99.04" in found.reason.message_id


def test_diagnosis_with_its_supporting_result_passes(claim: ClaimData) -> None:
    assert support_findings(claim) == []


@pytest.mark.parametrize(
    ("diagnosis", "document"),
    [
        ("E11.9", doc("lab_result", "E11")),  # category covers the code
        ("E11.9", doc("supporting_result", "E11.9")),  # generic result accepted
        ("I21.0", doc("lab_result", "I21.0")),  # `any` kind
        ("I21.0", doc("radiology_result", "I21")),
        ("K35.8", doc("resume_medis")),  # not in the table
        ("N39.1", doc("resume_medis")),  # N390 is listed, N391 is not
    ],
)
def test_required_support_present_or_not_required(claim: ClaimData, diagnosis: str, document: DocumentRef) -> None:
    assert support_findings(with_docs(claim, doc("resume_medis"), document, diagnosa=[diagnosis])) == []


@pytest.mark.parametrize(
    ("diagnosis", "document"),
    [
        ("E11.9", None),  # no result at all
        ("E11.9", doc("radiology_result", "E11.9")),  # wrong kind of result
        ("E11.9", doc("lab_result", "E10")),  # result for another diagnosis
        ("J18.9", doc("lab_result", "J18.9")),  # pneumonia needs radiology
        ("N39.0", doc("resume_medis", "N39.0")),  # the resume is not a result
    ],
)
def test_missing_supporting_result_pends(claim: ClaimData, diagnosis: str, document: DocumentRef | None) -> None:
    docs = [doc("resume_medis")] + ([document] if document else [])
    [found] = support_findings(with_docs(claim, *docs, diagnosa=[diagnosis]))
    assert (found.reason.code, found.outcome, found.reason.field) == ("V-DOC-SUPPORT", Outcome.PEND, "diagnosa")
    assert diagnosis in found.reason.message_en


def test_secondary_diagnoses_need_support_too_each_once(claim: ClaimData) -> None:
    coded = with_docs(claim, doc("radiology_result", "J18.9"), diagnosa=["J18.9", "E11.9", "A90", "E11.9"])
    found = support_findings(coded)
    assert [f.reason.message_en.rsplit("(", 1)[1] for f in found] == ["E11.9: lab)", "A90: lab)"]


def test_blank_supports_entry_covers_nothing() -> None:
    # The contract refuses a blank ICD-10 entry; a document built past it still covers nothing.
    blank = DocumentRef.model_construct(doc_type="lab_result", ref="lab-1", supports=[" "])
    assert not covers(blank, "E11.9")


def test_outpatient_without_referral_pends(claim: ClaimData) -> None:
    [found] = referral_findings(claim.model_copy(update={"jenis_rawat": 2}))
    assert (found.reason.code, found.outcome) == ("V-DOC-REFERRAL", Outcome.PEND)


@pytest.mark.parametrize(
    ("jenis_rawat", "emergency", "referral"),
    [(2, False, True), (2, True, False), (1, False, False)],
)
def test_referral_not_needed_or_present(claim: ClaimData, jenis_rawat: int, emergency: bool, referral: bool) -> None:
    docs = [*claim.documents, doc("referral_letter")] if referral else claim.documents
    visit = claim.model_copy(update={"jenis_rawat": jenis_rawat, "emergency": emergency, "documents": docs})
    assert referral_findings(visit) == []
