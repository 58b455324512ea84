"""Hospital actions on a claim already in the pipeline: filing a dispute (ClaimDisputed, the verifier's event).

Like the intake, a use case runs on one unit of work: the ClaimDisputed goes into the outbox of the same
transaction as the view that shows it, so a 202 means it is durable and the relay publishes it. A dispute sent
again with the same content gets its first answer (kept in the view), never a second event; with an
Idempotency-Key any retry does (entrypoints).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from services.gateway.application.intake import UnitOfWorkLike
from services.gateway.domain import monitor
from services.gateway.domain.principal import Caller
from services.gateway.domain.replies import Problem, Reply
from services.gateway.metrics import DISPUTES, RETRIES
from shared.clock import Clock
from shared.envelopes import originate
from shared.events import (
    ClaimDisputed,
    ClaimDisputedPayload,
    Contract,
    DocumentRef,
    NonNegativeRupiah,
    RequiredFreeText,
)


class DisputeRequest(Contract):
    """POST /v1/claims/{claim_id}/dispute: what the hospital asks for and why (the contract's own types)."""

    requested_amount: NonNegativeRupiah = Field(description="The amount the hospital believes is due in total")
    reason: RequiredFreeText
    documents: list[DocumentRef] = Field(default_factory=list, max_length=50)


def not_found(claim_id: str) -> Problem:
    return Problem(404, "not-found", "No such claim", f"no claim {claim_id[:64]} for this credential")


@dataclass(frozen=True)
class Actions:
    clock: Clock

    async def dispute(
        self, uow: UnitOfWorkLike, caller: Caller, claim_id: str, request: DisputeRequest, body_hash: str
    ) -> Reply:
        """File the claim's one dispute: a ClaimDisputed for the verifier, or a problem naming the rule."""
        if caller.role != "hospital":
            raise Problem(403, "forbidden", "Operators do not dispute claims",
                          "A dispute comes from the hospital's credential.")  # fmt: skip
        await uow.lock_claims([claim_id])
        view = (await uow.views.load([claim_id]))[claim_id]
        if view is None or not caller.may_see(view.kode_rs, view.nomor_sep):
            raise not_found(claim_id)  # another hospital's: as if it did not exist
        filed = view.dispute_filed
        if filed is not None and filed.get("body_hash") == body_hash:
            RETRIES.labels("dispute").inc()
            return Reply(202, _answer(view, filed["event_id"]))
        refused = monitor.dispute_refusal(view, self.clock.today())
        if refused is not None:
            rule, why = refused
            raise Problem(409, rule, "Claim not disputable", why,
                          ({"field": "claim_id", "rule": rule, "message": why},))  # fmt: skip
        payload = ClaimDisputedPayload(nomor_sep=view.nomor_sep, kode_rs=view.kode_rs, disputed_on=self.clock.today(),
                                       requested_amount=request.requested_amount, reason=request.reason,
                                       documents=request.documents)  # fmt: skip
        draft = await uow.drafts.get(view.nomor_sep)
        event = originate(ClaimDisputed, payload, producer=caller.producer, clock=self.clock, claim_id=claim_id,
                          correlation_id=draft.correlation_id if draft else None)  # fmt: skip
        uow.emit(event)
        uow.views.put(monitor.disputed(view, payload, str(event.event_id), body_hash))
        DISPUTES.inc()
        return Reply(202, _answer(view, str(event.event_id)))


def _answer(view: monitor.ClaimView, event_id: str) -> dict[str, str]:
    return {"claim_id": view.claim_id, "nomor_sep": view.nomor_sep, "status": "disputed", "event_id": event_id,
            "href": f"/v1/claims/{view.claim_id}"}  # fmt: skip
