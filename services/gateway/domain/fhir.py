"""A claim's view as a FHIR R4 ClaimResponse (read-only; no I/O).

Outcome (R4 `remittance-outcome`): `queued` while the claim waits for grouping or verification, `partial`
when it is pended (the missing items are its process notes), `complete` once verified or paid, `error`
when rejected (every reason an `error`). Amounts are IDR `Money`: `total` submitted (the INA-CBG tariff
claimed) and benefit (approved), `payment` with its date once paid, the late-payment penalty as the
payment's adjustment. Reasons keep their stable codes under the system REASONS.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from services.gateway.domain.monitor import STATUS_TEXT, ClaimView, amounts

REASONS: Final = "urn:jkn-claims:reason"
SEP: Final = "urn:jkn-claims:nomor-sep"
CARD: Final = "urn:jkn-claims:nomor-kartu"
PPK: Final = "urn:jkn-claims:kode-ppk"
OUTCOME: Final = {"submitted": "queued", "grouped": "queued", "pended": "partial", "verified": "complete",
                  "paid": "complete", "rejected": "error"}  # fmt: skip
ADJUDICATION: Final = "http://terminology.hl7.org/CodeSystem/adjudication"
PAYMENT_TYPE: Final = "http://terminology.hl7.org/CodeSystem/ex-paymenttype"


def _money(value: int) -> dict[str, Any]:
    return {"value": value, "currency": "IDR"}


def _total(code: str, value: int) -> dict[str, Any]:
    return {"category": {"coding": [{"system": ADJUDICATION, "code": code}]}, "amount": _money(value)}


def claim_response(view: ClaimView, updated_at: datetime) -> dict[str, Any]:
    """The ClaimResponse resource of the claim as the gateway knows it now."""
    status = view.status
    money = amounts(view)
    resource: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": view.claim_id,
        "identifier": [{"system": SEP, "value": view.nomor_sep}],
        "status": "active",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "institutional"}]},
        "use": "claim",
        "patient": {"identifier": {"system": CARD, "value": view.nomor_kartu or "unknown"}},
        "created": updated_at.isoformat(),
        "insurer": {"display": "BPJS Kesehatan"},
        "requestor": {"identifier": {"system": PPK, "value": view.kode_rs}},
        "request": {"identifier": {"system": SEP, "value": view.nomor_sep}},
        "outcome": OUTCOME[status],
        "disposition": STATUS_TEXT[status][1],
    }
    totals = []
    if money["claimed"] is not None:
        totals.append(_total("submitted", money["claimed"]))
    if money["approved"] is not None:
        totals.append(_total("benefit", money["approved"]))
    if totals:
        resource["total"] = totals
    if view.payments:
        paid_on = max(p["paid_on"] for p in view.payments.values())
        payment: dict[str, Any] = {
            "type": {"coding": [{"system": PAYMENT_TYPE, "code": "complete"}]},
            "date": paid_on, "amount": _money(money["paid"] or 0),
        }  # fmt: skip
        if money["penalty"]:
            payment["adjustment"] = _money(money["penalty"])
            payment["adjustmentReason"] = {"text": "Denda keterlambatan pembayaran (late-payment penalty)"}
        resource["payment"] = payment
    if status == "rejected":
        resource["error"] = [{"code": {"coding": [{"system": REASONS, "code": r["code"], "display": r["message_en"]}],
                                       "text": r["message_id"]}} for r in view.reasons]  # fmt: skip
    notes = view.reasons if status == "pended" else [a for v in view.verifications.values() for a in v["adjustments"]]
    if notes:
        resource["processNote"] = [{"number": i, "type": "display", "text": f"{n['code']}: {n['message_id']} / "
                                    f"{n['message_en']}"} for i, n in enumerate(notes, 1)]  # fmt: skip
    return resource


PAYMENT: Final = "urn:jkn-claims:payment-id"
PAYMENT_KIND: Final = "http://terminology.hl7.org/CodeSystem/payment-type"


def _detail(kind: str, view: ClaimView, paid_on: str, value: int) -> dict[str, Any]:
    return {"type": {"coding": [{"system": PAYMENT_KIND, "code": kind}]},
            "request": {"identifier": {"system": SEP, "value": view.nomor_sep}},
            "submitter": {"identifier": {"system": PPK, "value": view.kode_rs}},
            "date": paid_on, "amount": _money(value)}  # fmt: skip


def payment_reconciliations(view: ClaimView, paid_on: str | None = None) -> list[dict[str, Any]]:
    """One PaymentReconciliation per payment of the claim (on `paid_on` only, if given).

    `paymentAmount` is what reached the hospital (net of recoveries); the details split it: the approved
    amount (`payment`), the late-payment penalty and any recovery (`adjustment`, a recovery negative).
    """
    resources = []
    for seq, p in sorted(view.payments.items(), key=lambda item: int(item[0])):
        if paid_on is not None and p["paid_on"] != paid_on:
            continue
        net = p["net_paid"] or p["total_paid"] - p["recovered_amount"]
        details = [_detail("payment", view, p["paid_on"], p["approved_amount"])]
        if p["penalty"]:
            details.append(_detail("adjustment", view, p["paid_on"], p["penalty"]))
        if p["recovered_amount"]:
            details.append(_detail("adjustment", view, p["paid_on"], -p["recovered_amount"]))
        resource: dict[str, Any] = {
            "resourceType": "PaymentReconciliation",
            "id": f"{view.claim_id}-{seq}",
            "identifier": [{"system": PAYMENT, "value": p["payment_id"]}],
            "status": "active",
            "created": p["paid_on"],
            "paymentIssuer": {"display": "BPJS Kesehatan"},
            "requestor": {"identifier": {"system": PPK, "value": view.kode_rs}},
            "outcome": "complete",
            "disposition": f"{STATUS_TEXT['paid'][0]} ({STATUS_TEXT['paid'][1]}), verification {seq}",
            "paymentDate": p["paid_on"],
            "paymentAmount": _money(net),
            "paymentIdentifier": {"system": PAYMENT, "value": p["payment_id"]},
            "detail": details,
        }
        if p["penalty"]:
            late = f"Denda keterlambatan {p['days_late']} hari (late-payment penalty, {p['days_late']} days; "
            resource["processNote"] = [{"type": "display", "text": f"{late}due {p['due_on']})"}]
        resources.append(resource)
    return resources


def search_bundle(resources: list[dict[str, Any]], base: str, self_url: str, next_url: str | None) -> dict[str, Any]:
    """A FHIR `searchset` Bundle of one page of matches (no `total`: pages are of claims, a claim may have
    several payments, and a count of claims is not the count FHIR means)."""
    links = [{"relation": "self", "url": self_url}] + ([{"relation": "next", "url": next_url}] if next_url else [])
    return {"resourceType": "Bundle", "type": "searchset", "link": links,
            "entry": [{"fullUrl": f"{base}/fhir/{r['resourceType']}/{r['id']}", "resource": r,
                       "search": {"mode": "match"}} for r in resources]}  # fmt: skip
