"""The grouper's use cases: each submitted revision is answered once, grouped and priced or rejected.

One handler per consumed event type (`application()` builds the table the runtime checks). A batch of
submissions costs one read of earlier answers and one insert of new ones, whatever its size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog

from services.grouper.adapters.repository import Answer, Answers
from services.grouper.adapters.unit_of_work import GrouperUnitOfWork
from services.grouper.domain.engine import Grouped, group_claim
from services.grouper.domain.reasons import reason
from services.grouper.domain.tables import GrouperTables
from services.grouper.metrics import ANSWERS, RESENT
from services.grouper.settings import GrouperSettings
from shared.application import Application
from shared.clock import Clock
from shared.envelopes import follow_up
from shared.events import (
    ClaimGrouped,
    ClaimGroupedPayload,
    ClaimRejected,
    ClaimRejectedPayload,
    ClaimSubmitted,
    Envelope,
    Reason,
)
from shared.receipt import business_date, received_instant
from shared.settings import PolicySettings

log = structlog.get_logger(__name__)
PRODUCER = "grouper"


class UnitOfWorkLike(Protocol):
    """What the use cases need of a unit of work (GrouperUnitOfWork, or a fake in unit tests)."""

    @property
    def answers(self) -> Answers: ...
    def emit(self, event: Envelope) -> None: ...


def revision_reused(revision: int) -> Reason:
    """A revision number sent again with different content."""
    return reason("G-REVISION-REUSED", "revision", value=revision)


def content_hash(event: ClaimSubmitted) -> str:
    """The revision's claim data, fingerprinted: the same revision resent is the same claim."""
    return hashlib.sha256(event.payload.claim.model_dump_json().encode()).hexdigest()


@dataclass(frozen=True)
class Grouper:
    """Groups and prices each submitted revision once."""

    tables: GrouperTables
    policy: PolicySettings
    settings: GrouperSettings
    clock: Clock

    async def submitted(self, uow: UnitOfWorkLike, events: Sequence[ClaimSubmitted]) -> None:
        """Answer a batch of submissions: earlier answers read once, each revision answered at most once."""
        answered = await uow.answers.hashes((e.claim_id, e.payload.revision) for e in events)
        for event in events:
            key = (event.claim_id, event.payload.revision)
            digest = content_hash(event)
            previous = answered.get(key)
            if previous == digest:
                RESENT.inc()
                log.info("revision resent, already answered", claim_id=event.claim_id, revision=key[1])
                continue
            if previous is not None:
                self._reject(uow, event, [revision_reused(key[1])], refusal=True)  # the first answer stands
                continue
            uow.answers.add(self.answer(uow, event, digest))
            answered[key] = digest  # the same revision again later in this batch is a resend

    def answer(self, uow: UnitOfWorkLike, event: ClaimSubmitted, digest: str) -> Answer:
        """Group one new revision; emit its outcome and return the answer to remember."""
        # submitted_on is the day BPJS received the claim (`received_at`: the broker's append time, else
        # the first BPJS consumer's clock), never the date the sender wrote nor the day this consumer got
        # round to it: a resubmission received at 23:59 on its last day and grouped at 00:30 is on time.
        p = event.payload
        received = received_instant(event, self.clock)
        if event.received_at is None:  # built in-process: we are the first BPJS service to see it
            event = event.model_copy(update={"received_at": received})
        outcome = group_claim(
            p.claim, self.tables, sub_acute_from_day=self.policy.sub_acute_from_day,
            chronic_from_day=self.policy.chronic_from_day,
            upgrade_above_class1_percent=self.settings.upgrade_above_class1_percent,
            executive_outpatient_max=self.settings.executive_outpatient_max,
        )  # fmt: skip
        if isinstance(outcome, Grouped):
            r = outcome.result
            payload = ClaimGroupedPayload(
                revision=p.revision, submitted_on=business_date(received, self.policy.business_timezone),
                claim=p.claim, grouping=r,
            )  # fmt: skip
            uow.emit(follow_up(ClaimGrouped, event, payload, producer=PRODUCER, clock=self.clock))
            ANSWERS.labels("grouped").inc()
            return Answer(
                event.claim_id, p.revision, digest, "grouped", r.cbg_code, r.total_tarif, [],
                r.tariff_table_version, event.event_id,
            )  # fmt: skip
        self._reject(uow, event, outcome.reasons)
        codes = [x.code for x in outcome.reasons]
        return Answer(
            event.claim_id, p.revision, digest, "rejected", outcome.error_group, None, codes, None, event.event_id
        )

    def _reject(
        self, uow: UnitOfWorkLike, event: ClaimSubmitted, reasons: list[Reason], *, refusal: bool = False
    ) -> None:
        p = event.payload
        payload = ClaimRejectedPayload(
            revision=p.revision, stage="grouper", nomor_sep=p.claim.nomor_sep, kode_rs=p.claim.kode_rs,
            rejected_on=self.clock.today(), reasons=reasons, refusal=refusal,
        )  # fmt: skip
        uow.emit(follow_up(ClaimRejected, event, payload, producer=PRODUCER, clock=self.clock))
        ANSWERS.labels("rejected").inc()


def application(grouper: Grouper) -> Application[GrouperUnitOfWork]:
    """The grouper consumer's use cases, one per event type it consumes."""
    return Application("grouper", {ClaimSubmitted: grouper.submitted}, GrouperUnitOfWork)
