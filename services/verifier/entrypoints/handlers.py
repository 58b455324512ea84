"""Thin handlers: load the claim, ask the domain, save the status and emit its outputs (one transaction)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from services.verifier import metrics
from services.verifier.adapters import repository as repo
from services.verifier.domain import (
    ClaimCheck,
    ClaimStatus,
    Command,
    Decide,
    Decision,
    DisputeResolvedOut,
    FileDispute,
    Grouped,
    IllegalTransition,
    Output,
    PendedOut,
    RejectedOut,
    ReminderOut,
    ResolveDispute,
    Result,
    ReviewRequestedOut,
    ReviewVerdict,
    Sweep,
    Transition,
    VerificationPolicy,
    VerifiedOut,
    apply,
    payload_fields,
    receive_grouped,
    verify,
)
from services.verifier.domain.integrity import name_some
from services.verifier.domain.rulebook import Outcome
from services.verifier.domain.rulebook import reason as rule_reason
from services.verifier.domain.states import UNDECIDED
from services.verifier.domain.timing import acted_on
from services.verifier.settings import VerifierSettings, get_verifier_settings
from shared.calendar import get_calendar
from shared.clock import DEFAULT_BUSINESS_TIMEZONE, Clock
from shared.consumer import Handler, PermanentError, is_transient
from shared.envelopes import follow_up, originate
from shared.events import (
    ClaimDeadlineReminder,
    ClaimDeadlineReminderPayload,
    ClaimDisputed,
    ClaimDisputeResolved,
    ClaimDisputeResolvedPayload,
    ClaimGrouped,
    ClaimPended,
    ClaimPendedPayload,
    ClaimRejected,
    ClaimRejectedPayload,
    ClaimVerified,
    ClaimVerifiedPayload,
    DisputeResolutionRequested,
    Envelope,
    ParticipantChanged,
    Reason,
    ReviewDecisionRequested,
)
from shared.outbox import Tx
from shared.receipt import received_on
from shared.settings import PolicySettings

log = structlog.get_logger(__name__)
PRODUCER = "verifier"
BUSINESS_ZONE = ZoneInfo(DEFAULT_BUSINESS_TIMEZONE)


def verification_policy(p: PolicySettings) -> VerificationPolicy:
    """The domain's policy from the deployment's settings."""
    return VerificationPolicy(
        completeness_days=p.completeness_days,
        completeness_day_unit=p.completeness_day_unit,
        resubmit_working_days=p.pending_resubmit_working_days,
        dispute_working_days=p.dispute_working_days,
        claim_expiry_months=p.claim_expiry_months,
    )


def unknown_claim(claim_id: str) -> Reason:
    """The refusal for an event about a claim the verifier has never grouped."""
    return rule_reason("V-STATE-UNKNOWN-CLAIM", field="claim_id", detail=claim_id)


@dataclass(frozen=True)
class Verifier:
    """What every handler needs: policy, clock, the business zone, and how far ahead a command may be.

    Deadlines are judged on receipt time, never on when this consumer got round to an event: a
    hospital's input is dated by `received_at` (when it reached BPJS), an operator's command by its
    `occurred_at` (when the operator acted). See README "Deadlines judged on receipt time".
    """

    policy: VerificationPolicy
    clock: Clock
    zone: tzinfo = BUSINESS_ZONE
    command_max_future: timedelta = timedelta(minutes=5)

    def received_on(self, event: Envelope) -> date:
        """The business date BPJS received the hospital's input `event` stems from."""
        return received_on(event, self.clock, self.zone)

    def acted_on(self, event: ReviewDecisionRequested | DisputeResolutionRequested) -> date:
        """The business date the operator made the command; refused (to the DLQ) when it claims the future."""
        day = acted_on(event.occurred_at, self.clock.now(), self.zone, self.command_max_future)
        if isinstance(day, Reason):
            metrics.REFUSED.labels(day.code).inc()
            raise PermanentError(day.code, f"{day.message_en} ({day.code}, field {day.field})")
        return day

    async def on_grouped(self, tx: Tx, event: ClaimGrouped) -> None:
        p = event.payload
        # Two claims with one SEP may sit in different partitions (and instances): serialise them on the
        # SEP so the second always sees the first's verification (duplicate SEP), never both verified.
        await tx.conn.execute("SELECT pg_advisory_xact_lock($1)", repo.sep_lock_key(p.claim.nomor_sep))
        status = await repo.load_claim(tx.conn, event.claim_id) or ClaimStatus(event.claim_id)
        context = await repo.claim_context(tx.conn, p.claim.nomor_kartu, p.claim.nomor_sep, event.claim_id)
        check = ClaimCheck(
            claim_id=event.claim_id,
            claim=p.claim,
            grouping=p.grouping,
            first_submitted_on=status.first_submitted_on or p.submitted_on,
            participant_history=context.participants,
            earlier_episodes=context.episodes,
            verified_with_same_sep=context.verified_same_sep,
        )
        decision = verify(check, self.policy)
        await self._record_in(tx, event)
        repo.record(
            tx, event.claim_id, self.clock.now(), "finding",
            {"outcome": str(decision.outcome), "findings": [_finding(f) for f in decision.findings]},
        )  # fmt: skip
        today = self.clock.today()
        result = receive_grouped(status, Grouped.from_payload(p), decision, today, get_calendar(), self.policy)
        await self._settle(tx, event, status, result, revision=p.revision, grouped=event)

    async def on_disputed(self, tx: Tx, event: ClaimDisputed) -> None:
        # The window is judged on the day BPJS received the dispute, not the date the hospital wrote on it.
        p = event.payload
        status = await repo.load_claim(tx.conn, event.claim_id)
        if status is not None and (p.kode_rs, p.nomor_sep) != (status.kode_rs, status.nomor_sep):
            field = "kode_rs" if p.kode_rs != status.kode_rs else "nomor_sep"
            await self._record_in(tx, event)
            await self._refuse(
                tx, event, status, rule_reason("V-DISPUTE-MISMATCH", field=field), revision=status.revision
            )
            return
        # Judged on the day BPJS received it (received_at), not the day this consumer processed it.
        await self._command(tx, event, FileDispute(self.received_on(event), p.requested_amount))

    async def on_review(self, tx: Tx, event: ReviewDecisionRequested) -> None:
        # Dated by when the reviewer decided: consumed after midnight, it still verifies (and starts the
        # payment clock) or pends on the day it was made.
        decided_on = self.acted_on(event)
        verdict = ReviewVerdict.from_payload(event.payload, decided_on)
        status = await repo.load_claim(tx.conn, event.claim_id)
        if status is not None and verdict.outcome in ("verify", "adjust"):
            blocking = await duplicate_sep(tx, status)
            if blocking:  # the SEP was verified in another claim meanwhile: not payable twice
                decision = Decision(Outcome.REJECT, blocking, (), 0)
                await self._command(tx, event, Decide(decision, decided_on))
                return
        await self._command(tx, event, verdict)

    async def on_ruling(self, tx: Tx, event: DisputeResolutionRequested) -> None:
        await self._command(tx, event, ResolveDispute.from_payload(event.payload, self.acted_on(event)))

    async def _command(self, tx: Tx, event: Envelope, cmd: Command) -> None:
        assert event.claim_id is not None
        status = await repo.load_claim(tx.conn, event.claim_id)
        await self._record_in(tx, event)
        if status is None:
            await self._refuse(tx, event, None, unknown_claim(event.claim_id), revision=0)
            return
        await self._settle(tx, event, status, apply(status, cmd, get_calendar(), self.policy), revision=status.revision)

    async def _settle(
        self,
        tx: Tx,
        event: Envelope,
        before: ClaimStatus | None,
        result: Result,
        *,
        revision: int,
        grouped: ClaimGrouped | None = None,
    ) -> None:
        """Save a legal move and emit its outputs; answer an illegal one with the rule that refuses it."""
        assert event.claim_id is not None
        if isinstance(result, IllegalTransition):
            await self._refuse(tx, event, before, result.reason, revision=revision)
            return
        review = [o for o in result.outputs if isinstance(o, ReviewRequestedOut)]
        await repo.save_claim(
            tx.conn,
            result.status,
            correlation_id=event.correlation_id,
            grouped=grouped.payload if grouped else None,
            grouped_event_id=grouped.event_id if grouped else None,
            review_reasons=[r.model_dump() for r in review[0].reasons] if review else None,
        )
        for out in result.outputs:
            self.emit(tx, out, event.claim_id, cause=event)
        metrics.STATES.labels(str(result.status.state)).inc()

    async def _refuse(self, tx: Tx, event: Envelope, before: ClaimStatus | None, why: Reason, *, revision: int) -> None:
        """An illegal move. Hospitals' events get a claims.rejected naming the rule; operators' commands
        go to the command topic's DLQ with the rule (the CLI checks first, so this is rare)."""
        assert event.claim_id is not None
        if isinstance(event, ReviewDecisionRequested | DisputeResolutionRequested):
            raise PermanentError(why.code, f"{why.message_en} ({why.code})")
        repo.record(tx, event.claim_id, self.clock.now(), "refused", why.model_dump())
        payload = ClaimRejectedPayload(
            revision=revision,
            stage="verifier",
            nomor_sep=before.nomor_sep if before else _sep_of(event),
            kode_rs=before.kode_rs if before else _rs_of(event),
            rejected_on=self.clock.today(),
            reasons=[why],
            refusal=before is not None,  # the claim keeps its state; only this event is refused
        )
        tx.emit(follow_up(ClaimRejected, event, payload, producer=PRODUCER, clock=self.clock))
        metrics.REFUSED.labels(why.code).inc()

    def emit(
        self,
        tx: Tx,
        out: Output,
        claim_id: str,
        *,
        cause: Envelope | None = None,
        correlation_id: uuid.UUID | None = None,
    ) -> None:
        """One domain output as its contract event (or, for a hold, an audit line), with its audit line.

        With a `cause` the event follows it (same correlation, causation = its id); without one
        (the daily sweep) it starts from the claim's own correlation id.
        """
        if isinstance(out, ReviewRequestedOut):
            reasons = [r.model_dump() for r in out.reasons]
            repo.record(tx, claim_id, self.clock.now(), "review", {"reasons": reasons})
            return
        cls, payload_cls = _PAYLOADS[type(out)]
        payload = payload_cls.model_validate(payload_fields(out))
        event = (
            follow_up(cls, cause, payload, producer=PRODUCER, clock=self.clock)
            if cause is not None
            else originate(
                cls, payload, producer=PRODUCER, clock=self.clock, claim_id=claim_id, correlation_id=correlation_id
            )
        )
        tx.emit(event)
        repo.record(
            tx, claim_id, self.clock.now(), "out", payload.model_dump(mode="json"),
            event_type=type(event).__name__, event_id=event.event_id,
        )  # fmt: skip

    async def _record_in(self, tx: Tx, event: Envelope) -> None:
        assert event.claim_id is not None
        detail: dict[str, Any]
        if isinstance(event, ClaimGrouped):  # the claim itself is on the broker; keep the grouping and revision
            detail = {"revision": event.payload.revision, "grouping": event.payload.grouping.model_dump(mode="json")}
        else:
            payload: Any = getattr(event, "payload", None)
            detail = payload.model_dump(mode="json") if payload is not None else {}
        repo.record(
            tx, event.claim_id, self.clock.now(), "in", detail,
            event_type=type(event).__name__, event_id=event.event_id,
        )  # fmt: skip


_PAYLOADS: dict[type, tuple[type[Envelope], type[Any]]] = {
    VerifiedOut: (ClaimVerified, ClaimVerifiedPayload),
    PendedOut: (ClaimPended, ClaimPendedPayload),
    RejectedOut: (ClaimRejected, ClaimRejectedPayload),
    DisputeResolvedOut: (ClaimDisputeResolved, ClaimDisputeResolvedPayload),
    ReminderOut: (ClaimDeadlineReminder, ClaimDeadlineReminderPayload),
}


def _finding(f: Any) -> dict[str, Any]:
    return {"code": f.reason.code, "outcome": str(f.outcome), "field": f.reason.field, "en": f.reason.message_en}


def _sep_of(event: Envelope) -> str:
    return str(getattr(getattr(event, "payload", None), "nomor_sep", ""))


def _rs_of(event: Envelope) -> str:
    return str(getattr(getattr(event, "payload", None), "kode_rs", ""))


async def sweep_claim(
    tx: Tx, verifier: Verifier, claim_id: str, on: date, correlation_id: uuid.UUID | None
) -> ClaimStatus | None:
    """The daily sweep for one claim; returns the new status when it moved or emitted something."""
    status = await repo.load_claim(tx.conn, claim_id)
    if status is None:
        return None
    blocking = await duplicate_sep(tx, status) if status.state in UNDECIDED else ()
    result = apply(status, Sweep(on, blocking), get_calendar(), verifier.policy)
    assert isinstance(result, Transition)  # a sweep is never refused
    if result.status == status and not result.outputs:
        return None
    corr = correlation_id or uuid.uuid4()
    await repo.save_claim(tx.conn, result.status, correlation_id=corr)
    for out in result.outputs:
        verifier.emit(tx, out, claim_id, correlation_id=corr)
    return result.status


async def duplicate_sep(tx: Tx, status: ClaimStatus) -> tuple[Reason, ...]:
    """Under the SEP's lock: the reason this claim may not be verified, if its SEP is verified elsewhere."""
    await tx.conn.execute("SELECT pg_advisory_xact_lock($1)", repo.sep_lock_key(status.nomor_sep))
    others = await repo.verified_with_same_sep(tx.conn, status.nomor_sep, status.claim_id)
    if not others:
        return ()
    return (rule_reason("V-DUP-SEP", field="nomor_sep", detail=name_some(others)),)


def make_verifier(policy: PolicySettings, clock: Clock, settings: VerifierSettings | None = None) -> Verifier:
    """The handlers' shared state from the deployment's settings."""
    settings = settings or get_verifier_settings()
    return Verifier(
        verification_policy(policy),
        clock,
        ZoneInfo(policy.business_timezone),
        timedelta(seconds=settings.command_max_future_s),
    )


@dataclass(frozen=True)
class VerifierHandler:
    """The verifier's consumer: grouped claims, disputes, reviewers' and dispute team's commands, members.

    `before_batch` (called by the kernel before a batch's handlers) takes every lock the batch will need
    in the verifier's one lock order (repo.lock_in_order), which the sweeper follows too: without it a
    batch took SEP and claim locks in offset order and deadlocked with the sweeper's claim_id order.
    """

    verifier: Verifier

    async def before_batch(self, tx: Tx, events: Sequence[Envelope]) -> None:
        claim_ids = [e.claim_id for e in events if e.claim_id is not None and not isinstance(e, ParticipantChanged)]
        if not claim_ids:
            return
        seps = {e.payload.claim.nomor_sep for e in events if isinstance(e, ClaimGrouped)}
        reviewed = [e.claim_id for e in events if isinstance(e, ReviewDecisionRequested) and e.claim_id]
        try:
            async with tx.conn.transaction():  # a savepoint: hostile values must not fail the whole batch here
                if reviewed:
                    seps.update((await repo.seps_of(tx.conn, reviewed)).values())
                await repo.lock_in_order(tx.conn, seps, claim_ids)
        except Exception as exc:
            if is_transient(exc):
                raise
            # The handlers refuse the offending event themselves; the locks are then taken event by event.
            log.warning("batch locks not taken up front", error=repr(exc)[:500])

    async def __call__(self, tx: Tx, event: Envelope) -> None:
        verifier = self.verifier
        if isinstance(event, ClaimGrouped):
            await verifier.on_grouped(tx, event)
        elif isinstance(event, ClaimDisputed):
            await verifier.on_disputed(tx, event)
        elif isinstance(event, ReviewDecisionRequested):
            await verifier.on_review(tx, event)
        elif isinstance(event, DisputeResolutionRequested):
            await verifier.on_ruling(tx, event)
        elif isinstance(event, ParticipantChanged):
            await repo.add_participant(tx.conn, event.event_id, event.payload)
        else:
            raise PermanentError("unexpected-event", f"verifier does not handle {type(event).__name__}")


def make_handler(policy: PolicySettings, clock: Clock) -> Handler:
    """The verifier's consumer (see VerifierHandler)."""
    return VerifierHandler(make_verifier(policy, clock))
