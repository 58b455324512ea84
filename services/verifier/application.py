"""The verifier's use cases: one batch handler per consumed event type, over a unit of work.

A run of N grouped claims costs a constant number of round trips: the SEP locks and the claim rows in
the verifier's one lock order, the claims read together, their contexts (member records, other
episodes, same-SEP verifications) read together, then one upsert, one history insert and one outbox
insert. Deadlines are judged on receipt time, never on when this consumer got round to an event: a
hospital's input is dated by `received_at` (when it reached BPJS), an operator's command by its
`occurred_at` (when the operator acted). See README "Deadlines judged on receipt time".
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import structlog

from services.verifier import metrics
from services.verifier.adapters.claims import ClaimRow, ContextKey, Contexts
from services.verifier.adapters.locks import take_batch_locks
from services.verifier.adapters.unit_of_work import VerifierUnitOfWork
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
from shared.application import Application
from shared.calendar import get_calendar
from shared.clock import DEFAULT_BUSINESS_TIMEZONE, Clock
from shared.consumer import PermanentError
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
from shared.receipt import received_on
from shared.settings import PolicySettings

log = structlog.get_logger(__name__)
PRODUCER = "verifier"
BUSINESS_ZONE = ZoneInfo(DEFAULT_BUSINESS_TIMEZONE)


class Claims(Protocol):
    """The claim repository as the use cases see it (SqlClaims; an in-memory fake in unit tests)."""

    async def lock_seps(self, seps: Iterable[str]) -> None: ...
    async def load(self, claim_ids: Sequence[str]) -> None: ...
    def get(self, claim_id: str) -> ClaimStatus | None: ...
    async def one(self, claim_id: str) -> ClaimStatus | None: ...
    def save(self, row: ClaimRow) -> None: ...
    async def contexts(self, keys: Sequence[ContextKey]) -> Contexts: ...
    async def verified_with_same_sep(self, nomor_sep: str, claim_id: str) -> list[str]: ...
    async def flush(self) -> None: ...


class History(Protocol):
    def append(
        self, claim_id: str, at: datetime, kind: str, detail: dict[str, Any], *,
        event_type: str | None = None, event_id: uuid.UUID | None = None,
    ) -> None: ...  # fmt: skip


class Participants(Protocol):
    async def add(self, events: Sequence[ParticipantChanged]) -> None: ...


class UnitOfWorkLike(Protocol):
    """What the use cases need of a unit of work."""

    @property
    def claims(self) -> Claims: ...
    @property
    def history(self) -> History: ...
    @property
    def participants(self) -> Participants: ...
    def emit(self, event: Envelope) -> None: ...


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
    """The verifier's use cases and what they share: policy, clock, business zone, allowed command skew."""

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

    # ------------------------------------------------------------------------------------- use cases

    async def grouped(self, uow: UnitOfWorkLike, events: Sequence[ClaimGrouped]) -> None:
        """Verify a batch of grouped revisions: claims and contexts read once, decided in order."""
        # Two claims with one SEP may sit in different partitions (and instances): the SEP's lock (taken
        # in `prepare`, the verifier's one lock order) serialises them; within the batch, the contexts see
        # every earlier decision, so the second is a duplicate exactly as if the first were committed.
        await uow.claims.lock_seps(e.payload.claim.nomor_sep for e in events)
        await uow.claims.load([e.claim_id for e in events])
        keys = [ContextKey(e.claim_id, e.payload.claim.nomor_kartu, e.payload.claim.nomor_sep) for e in events]
        contexts = await uow.claims.contexts(keys)
        today = self.clock.today()
        for event, key in zip(events, keys, strict=True):
            p = event.payload
            status = uow.claims.get(event.claim_id) or ClaimStatus(event.claim_id)
            context = contexts.of(key)
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
            self._record_in(uow, event)
            uow.history.append(
                event.claim_id, self.clock.now(), "finding",
                {"outcome": str(decision.outcome), "findings": [_finding(f) for f in decision.findings]},
            )  # fmt: skip
            result = receive_grouped(status, Grouped.from_payload(p), decision, today, get_calendar(), self.policy)
            self._settle(uow, event, status, result, revision=p.revision, grouped=event)
        await uow.claims.flush()  # a later run of this batch reads claims from the table

    async def disputed(self, uow: UnitOfWorkLike, events: Sequence[ClaimDisputed]) -> None:
        # The window is judged on the day BPJS received the dispute, not the date the hospital wrote on it.
        await uow.claims.load([e.claim_id for e in events])
        for event in events:
            p = event.payload
            status = uow.claims.get(event.claim_id)
            if status is not None and (p.kode_rs, p.nomor_sep) != (status.kode_rs, status.nomor_sep):
                field = "kode_rs" if p.kode_rs != status.kode_rs else "nomor_sep"
                self._record_in(uow, event)
                self._refuse(
                    uow, event, status, rule_reason("V-DISPUTE-MISMATCH", field=field), revision=status.revision
                )
                continue
            await self._command(uow, event, FileDispute(self.received_on(event), p.requested_amount))
        await uow.claims.flush()

    async def review(self, uow: UnitOfWorkLike, events: Sequence[ReviewDecisionRequested]) -> None:
        # Dated by when the reviewer decided: consumed after midnight, it still verifies (and starts the
        # payment clock) or pends on the day it was made. Operators' commands are few: one at a time.
        for event in events:
            decided_on = self.acted_on(event)
            verdict = ReviewVerdict.from_payload(event.payload, decided_on)
            status = await uow.claims.one(event.claim_id)
            if status is not None and verdict.outcome in ("verify", "adjust"):
                blocking = await duplicate_sep(uow, status)
                if blocking:  # the SEP was verified in another claim meanwhile: not payable twice
                    decision = Decision(Outcome.REJECT, blocking, (), 0)
                    await self._command(uow, event, Decide(decision, decided_on))
                    continue
            await self._command(uow, event, verdict)
        await uow.claims.flush()

    async def ruling(self, uow: UnitOfWorkLike, events: Sequence[DisputeResolutionRequested]) -> None:
        for event in events:
            await self._command(uow, event, ResolveDispute.from_payload(event.payload, self.acted_on(event)))
        await uow.claims.flush()

    async def participant_changed(self, uow: UnitOfWorkLike, events: Sequence[ParticipantChanged]) -> None:
        """Project membership changes (one insert for the run, before any later run's checks read them)."""
        await uow.participants.add(events)

    async def sweep(self, uow: UnitOfWorkLike, claim_id: str, on: date, correlation_id: uuid.UUID | None) -> bool:
        """The daily sweep of one (loaded) claim; whether it moved or emitted something."""
        status = uow.claims.get(claim_id)
        if status is None:
            return False
        blocking = await duplicate_sep(uow, status) if status.state in UNDECIDED else ()
        result = apply(status, Sweep(on, blocking), get_calendar(), self.policy)
        assert isinstance(result, Transition)  # a sweep is never refused
        if result.status == status and not result.outputs:
            return False
        corr = correlation_id or uuid.uuid4()
        uow.claims.save(ClaimRow(result.status, corr))
        for out in result.outputs:
            self.emit(uow, out, claim_id, correlation_id=corr)
        return True

    # ---------------------------------------------------------------------------------------- helpers

    async def _command(self, uow: UnitOfWorkLike, event: Envelope, cmd: Command) -> None:
        assert event.claim_id is not None
        status = await uow.claims.one(event.claim_id)
        self._record_in(uow, event)
        if status is None:
            self._refuse(uow, event, None, unknown_claim(event.claim_id), revision=0)
            return
        self._settle(uow, event, status, apply(status, cmd, get_calendar(), self.policy), revision=status.revision)

    def _settle(
        self,
        uow: UnitOfWorkLike,
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
            self._refuse(uow, event, before, result.reason, revision=revision)
            return
        review = [o for o in result.outputs if isinstance(o, ReviewRequestedOut)]
        claim = grouped.payload.claim if grouped else None
        uow.claims.save(
            ClaimRow(
                result.status,
                event.correlation_id,
                nomor_kartu=claim.nomor_kartu if claim else "",
                cmg=grouped.payload.grouping.cmg if grouped else None,
                jenis_rawat=claim.jenis_rawat if claim else None,
                tgl_pulang=claim.tgl_pulang if claim else None,
                tgl_masuk=claim.tgl_masuk if claim else None,
                review_reasons=[r.model_dump() for r in review[0].reasons] if review else None,
                grouped_event_id=grouped.event_id if grouped else None,
            )
        )
        for out in result.outputs:
            self.emit(uow, out, event.claim_id, cause=event)
        metrics.STATES.labels(str(result.status.state)).inc()

    def _refuse(
        self, uow: UnitOfWorkLike, event: Envelope, before: ClaimStatus | None, why: Reason, *, revision: int
    ) -> None:
        """An illegal move. Hospitals' events get a claims.rejected naming the rule; operators' commands
        go to the command topic's DLQ with the rule (the CLI checks first, so this is rare)."""
        assert event.claim_id is not None
        if isinstance(event, ReviewDecisionRequested | DisputeResolutionRequested):
            raise PermanentError(why.code, f"{why.message_en} ({why.code})")
        uow.history.append(event.claim_id, self.clock.now(), "refused", why.model_dump())
        payload = ClaimRejectedPayload(
            revision=revision,
            stage="verifier",
            nomor_sep=before.nomor_sep if before else _sep_of(event),
            kode_rs=before.kode_rs if before else _rs_of(event),
            rejected_on=self.clock.today(),
            reasons=[why],
            refusal=before is not None,  # the claim keeps its state; only this event is refused
        )
        uow.emit(follow_up(ClaimRejected, event, payload, producer=PRODUCER, clock=self.clock))
        metrics.REFUSED.labels(why.code).inc()

    def emit(
        self,
        uow: UnitOfWorkLike,
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
            uow.history.append(claim_id, self.clock.now(), "review", {"reasons": reasons})
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
        uow.emit(event)
        uow.history.append(
            claim_id, self.clock.now(), "out", payload.model_dump(mode="json"),
            event_type=type(event).__name__, event_id=event.event_id,
        )  # fmt: skip

    def _record_in(self, uow: UnitOfWorkLike, event: Envelope) -> None:
        assert event.claim_id is not None
        detail: dict[str, Any]
        if isinstance(event, ClaimGrouped):  # the claim itself is on the broker; keep the grouping and revision
            detail = {"revision": event.payload.revision, "grouping": event.payload.grouping.model_dump(mode="json")}
        else:
            payload: Any = getattr(event, "payload", None)
            detail = payload.model_dump(mode="json") if payload is not None else {}
        uow.history.append(
            event.claim_id, self.clock.now(), "in", detail, event_type=type(event).__name__, event_id=event.event_id
        )


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


async def duplicate_sep(uow: UnitOfWorkLike, status: ClaimStatus) -> tuple[Reason, ...]:
    """Under the SEP's lock (taken in the lock order up front): why this claim may not be verified, if its
    SEP is verified in another claim."""
    others = await uow.claims.verified_with_same_sep(status.nomor_sep, status.claim_id)
    if not others:
        return ()
    return (rule_reason("V-DUP-SEP", field="nomor_sep", detail=name_some(others)),)


def make_verifier(policy: PolicySettings, clock: Clock, settings: VerifierSettings | None = None) -> Verifier:
    """The use cases' shared state from the deployment's settings."""
    settings = settings or get_verifier_settings()
    return Verifier(
        verification_policy(policy),
        clock,
        ZoneInfo(policy.business_timezone),
        timedelta(seconds=settings.command_max_future_s),
    )


def application(verifier: Verifier) -> Application[VerifierUnitOfWork]:
    """The verifier consumer's use cases, one per event type it consumes."""
    return Application(
        "verifier",
        {
            ClaimGrouped: verifier.grouped,
            ClaimDisputed: verifier.disputed,
            ReviewDecisionRequested: verifier.review,
            DisputeResolutionRequested: verifier.ruling,
            ParticipantChanged: verifier.participant_changed,
        },
        VerifierUnitOfWork,
        prepare=take_batch_locks,
    )
