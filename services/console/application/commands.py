"""Operators' actions as signed commands, each written to the console's outbox with its audit row.

The command is signed server-side with the signed-in operator's own key (opened from its seal for this one
command), named in the payload as the actor, dated by the deployment's clock (as claimsctl dates it), and
committed with the `actions` row that lets the page follow it: the relay publishes it to the owning
service's command topic, and it is never lost between the click and the broker.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from services.console.adapters.repository import SqlActions
from services.console.metrics import COMMANDS
from shared.clock import Clock
from shared.events import (
    DisputeResolutionRequested,
    DisputeResolutionRequestedPayload,
    Envelope,
    PaymentCorrectionRequested,
    PaymentCorrectionRequestedPayload,
    PaymentRunRequested,
    PaymentRunRequestedPayload,
    ReviewDecisionRequested,
    ReviewDecisionRequestedPayload,
    parse_event_obj,
)
from shared.operators import OperatorSigner, approval_of


class UnitOfWorkLike(Protocol):
    actions: SqlActions

    def emit(self, event: Envelope) -> None: ...


@dataclass(frozen=True)
class Commands:
    clock: Clock

    async def _issue(
        self, uow: UnitOfWorkLike, signer: OperatorSigner, event: Envelope, kind: str, subject: str,
        detail: dict[str, Any],
    ) -> int:  # fmt: skip
        signed = signer.sign(event)
        uow.emit(signed)
        COMMANDS.labels(type(signed).__name__).inc()
        return await uow.actions.record(
            signed.event_id, signer.operator_id, kind, subject, type(signed).__name__, detail
        )

    async def review(
        self, uow: UnitOfWorkLike, signer: OperatorSigner, claim_id: str, outcome: str, note: str,
        amount: int | None, missing: list[str],
    ) -> int:  # fmt: skip
        payload = ReviewDecisionRequestedPayload.model_validate(
            {"outcome": outcome, "reviewer": signer.operator_id, "note": note,
             "approved_amount": amount if outcome == "adjust" else None,
             "missing": missing if outcome == "pend" else []}
        )  # fmt: skip
        event = ReviewDecisionRequested(occurred_at=self.clock.now(), claim_id=claim_id, correlation_id=uuid.uuid4(),
                                        producer=signer.producer, payload=payload)  # fmt: skip
        return await self._issue(uow, signer, event, "review", claim_id, {"outcome": outcome})

    async def ruling(
        self, uow: UnitOfWorkLike, signer: OperatorSigner, claim_id: str, outcome: str, note: str, amount: int | None
    ) -> int:
        payload = DisputeResolutionRequestedPayload.model_validate(
            {"outcome": outcome, "amount": amount if outcome == "partial" else None,
             "reviewer": signer.operator_id, "note": note}
        )  # fmt: skip
        event = DisputeResolutionRequested(
            occurred_at=self.clock.now(),
            claim_id=claim_id,
            correlation_id=uuid.uuid4(),
            producer=signer.producer,
            payload=payload,
        )
        return await self._issue(uow, signer, event, "ruling", claim_id, {"outcome": outcome})

    async def run(self, uow: UnitOfWorkLike, signer: OperatorSigner, run_id: str, funds: int) -> int:
        payload = PaymentRunRequestedPayload(run_id=run_id, funds=funds, requested_by=signer.operator_id)
        event = PaymentRunRequested(occurred_at=self.clock.now(), correlation_id=uuid.uuid4(),
                                    producer=signer.producer, payload=payload)  # fmt: skip
        return await self._issue(uow, signer, event, "run", run_id, {"funds": funds})

    async def approval(
        self, uow: UnitOfWorkLike, signer: OperatorSigner, held_command: dict[str, Any], subject_kind: str,
        subject_id: str,
    ) -> int:  # fmt: skip
        approval = approval_of(parse_event_obj(held_command), signer.operator_id, self.clock.now())
        return await self._issue(uow, signer, approval, "approval", subject_id, {"subject_kind": subject_kind})

    async def correction(
        self, uow: UnitOfWorkLike, signer: OperatorSigner, claim_id: str, correction_id: str, seq: int,
        recover: int, reason: str,
    ) -> int:  # fmt: skip
        payload = PaymentCorrectionRequestedPayload(
            correction_id=correction_id, verification_seq=seq, recover_amount=recover, reason=reason,
            requested_by=signer.operator_id,
        )  # fmt: skip
        event = PaymentCorrectionRequested(
            occurred_at=self.clock.now(),
            claim_id=claim_id,
            correlation_id=uuid.uuid4(),
            producer=signer.producer,
            payload=payload,
        )
        return await self._issue(uow, signer, event, "correction", correction_id, {"claim_id": claim_id})
