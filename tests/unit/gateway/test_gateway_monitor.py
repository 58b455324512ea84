"""The read model's fold: whatever order the topics deliver a claim's events in, the view is the same."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime
from typing import Any

from fhir.resources.R4B.paymentreconciliation import PaymentReconciliation

from services.gateway.domain import fhir, monitor
from shared.events import (
    ClaimGrouped,
    ClaimPaid,
    ClaimPended,
    ClaimRejected,
    ClaimVerified,
    parse_event_obj,
)
from tests.support.factories import example

CLAIM = "C-1"
FOLDS: dict[type, Any] = {ClaimGrouped: monitor.grouped, ClaimPended: monitor.pended, ClaimVerified: monitor.verified,
                          ClaimPaid: monitor.paid, ClaimRejected: monitor.rejected}  # fmt: skip


def event(kind: str, **payload: Any) -> Any:
    doc = example(kind)
    doc.update(event_id=str(uuid.uuid4()), claim_id=CLAIM, occurred_at=datetime.now(UTC).isoformat())
    doc["payload"].update(payload)
    return parse_event_obj(doc)


def folded(events: list[Any]) -> monitor.ClaimView:
    view = monitor.new_view(CLAIM, "0301R001", "0301R0011126V000123")
    for e in events:
        view = FOLDS[type(e)](view, e.payload)
    return view


def test_the_journey_gives_the_same_view_in_every_order() -> None:
    journey = [event("ClaimGrouped"), event("ClaimPended"), event("ClaimGrouped", revision=1),
               event("ClaimVerified", revision=1, dispute_by="2026-12-10"),
               event("ClaimPaid", penalty=5000)]  # fmt: skip
    views = {repr(folded(list(order)).as_json()) for order in itertools.permutations(journey)}
    assert len(views) == 1
    view = folded(journey)
    assert (view.status, view.revision, view.resubmit_by, view.dispute_by) == ("paid", 1, None, "2026-12-10")
    assert monitor.amounts(view)["penalty"] == 5000


def test_a_pended_claim_shows_every_missing_item_and_may_be_resubmitted() -> None:
    view = folded([event("ClaimGrouped"), event("ClaimPended")])
    response = monitor.claim_response(view)
    assert response["status"] == "pended" and response["deadlines"]["resubmit_by"] == "2026-11-19"
    assert [r["code"] for r in response["reasons"]] == ["V-DOC-CONSENT"]
    assert response["status_text"]["en"] == "Pended: complete it and resubmit"
    assert monitor.may_resubmit(view)
    assert not monitor.may_resubmit(folded([event("ClaimGrouped")]))


def test_a_refused_event_leaves_the_claim_as_it_was() -> None:
    refused = event("ClaimRejected", refusal=True)
    view = folded([event("ClaimGrouped"), refused])
    assert view.status == "grouped" and len(view.refusals) == 1


def test_a_supplementary_verification_makes_a_paid_claim_wait_for_its_payment_again() -> None:
    paid0 = folded([event("ClaimGrouped"), event("ClaimVerified"), event("ClaimPaid")])
    assert paid0.status == "paid"
    more = monitor.verified(paid0, event("ClaimVerified", verification_seq=1, approved_amount=100).payload)
    assert more.status == "verified"
    assert monitor.amounts(more)["approved"] == 5_634_100 + 100


def test_the_vclaim_row_carries_numbers_as_strings() -> None:
    view = folded([event("ClaimGrouped"), event("ClaimVerified")])
    row = monitor.vclaim_row(view, 3)
    assert row["biaya"]["bySetujui"] == "5634100" and row["status"] == "Klaim"
    assert row["noSEP"] == "0301R0011126V000123" and row["tglPulang"] == str(date(2026, 11, 6))


def test_a_dispute_is_accepted_once_by_its_deadline_and_only_of_an_adjusted_verification() -> None:
    adjustment = {"amount": 1000, "reason": {"code": "V-ADJ-LOS", "field": "tgl_pulang", "message_id": "Lama rawat "
                                             "dikoreksi", "message_en": "Length of stay corrected"}}  # fmt: skip
    view = folded([event("ClaimGrouped"), event("ClaimVerified", dispute_by="2026-12-10", adjustments=[adjustment])])
    assert monitor.dispute_refusal(view, date(2026, 12, 10)) is None
    assert monitor.dispute_refusal(view, date(2026, 12, 11)) == ("dispute-window", "the window closed on 2026-12-10")
    full = folded([event("ClaimGrouped"), event("ClaimVerified", adjustments=[])])
    assert monitor.dispute_refusal(full, date(2026, 12, 1)) == (
        "disputable", "claim C-1 is verified: only a verification with adjustments or a verifier's rejection can be "
        "disputed")  # fmt: skip
    filed = event("ClaimDisputed")
    view = monitor.disputed(view, filed.payload, str(filed.event_id), "hash")
    assert monitor.dispute_refusal(view, date(2026, 12, 1)) == ("one-dispute", "claim C-1 was disputed already")
    shown = monitor.claim_response(view)["dispute"]
    assert shown["resolution"] is None and shown["filed"]["requested_amount"] == 5_634_100
    assert "body_hash" not in shown["filed"]


def test_a_payment_with_a_recovery_is_a_valid_payment_reconciliation_netting_it() -> None:
    view = folded([event("ClaimGrouped"), event("ClaimVerified"),
                   event("ClaimPaid", approved_amount=1_000_000, penalty=0, total_paid=1_000_000,
                         recovered_amount=200_000, net_paid=800_000)])  # fmt: skip
    (resource,) = fhir.payment_reconciliations(view)
    parsed = PaymentReconciliation.model_validate(resource)
    assert parsed.paymentAmount.value == 800_000
    assert [(d["type"]["coding"][0]["code"], d["amount"]["value"]) for d in resource["detail"]] == [
        ("payment", 1_000_000), ("adjustment", -200_000)]  # fmt: skip
    assert fhir.payment_reconciliations(view, "1999-01-01") == []
