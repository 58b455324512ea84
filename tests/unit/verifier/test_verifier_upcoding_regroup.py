"""The upcoding correction on a real grouping: only unsupported CC/MCC codes come out, priced from the table.

The grouping comes from the grouper's engine (the event the verifier receives); expected amounts are the
sample table's figures worked out by hand (see tests/unit/grouper/test_grouper_severity_obstetric_neonatal.py):
O-6-10 caesarean, BP, region 1, class 2: I 6,912,000, II 10,368,000, III 15,206,400.
"""

from __future__ import annotations

from datetime import date

from services.grouper.domain import Grouped, group_claim
from services.verifier.domain.integrity import severity_findings
from shared.events import ClaimData, DocumentRef, GroupingResult
from tests.unit.grouper.grouper_claim_factory import TABLES, make_claim


def caesarean(diagnoses: list[str], supported: list[str]) -> tuple[ClaimData, GroupingResult]:
    docs = [
        DocumentRef(doc_type="resume_medis", ref="R-1"),
        DocumentRef(doc_type="supporting_result", ref="L-1", supports=supported),
    ]
    claim = make_claim(diagnosa=diagnoses, procedure=["74.1"], gender=2, tgl_lahir=date(1995, 1, 1), documents=docs)
    outcome = group_claim(claim, TABLES)
    assert isinstance(outcome, Grouped), outcome
    return claim, outcome.result


def test_an_unsupported_severe_pre_eclampsia_regroups_a_caesarean_to_severity_i() -> None:
    claim, grouping = caesarean(["O82.0", "O14.1"], supported=[])
    assert grouping.cbg_code == "O-6-10-III"
    [found] = severity_findings(claim, grouping)
    assert found.amount == 8_294_400  # 15,206,400 (III) - 6,912,000 (I)


def test_a_supported_cc_keeps_severity_ii_when_the_mcc_is_unsupported() -> None:
    claim, grouping = caesarean(["O82.0", "O14.1", "O72.1"], supported=["O72.1"])
    [found] = severity_findings(claim, grouping)
    assert found.amount == 4_838_400  # 15,206,400 (III) - 10,368,000 (II)


def test_an_unsupported_diagnosis_that_is_no_cc_is_not_corrected() -> None:
    claim, grouping = caesarean(["O82.0", "O14.1", "Z30.2"], supported=["O14.1"])
    assert grouping.severity == "III"
    assert severity_findings(claim, grouping) == []
