"""The grouper's handler: a submitted claim is answered once per revision, grouped or rejected."""

from __future__ import annotations

import hashlib

import structlog
from prometheus_client import Counter

from services.grouper.domain.engine import Grouped, group_claim
from services.grouper.domain.reasons import reason
from services.grouper.domain.tables import GrouperTables
from services.grouper.settings import GrouperSettings
from shared.clock import Clock
from shared.consumer import Handler, PermanentError
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
from shared.outbox import Tx
from shared.receipt import business_date, received_instant
from shared.settings import PolicySettings

log = structlog.get_logger(__name__)
PRODUCER = "grouper"
ANSWERS = Counter("grouper_answers", "Claims answered", ["outcome"])
RESENT = Counter("grouper_resent_revisions", "Revisions received again with the same content (answered once)")


def revision_reused(revision: int) -> Reason:
    """A revision number sent again with different content."""
    return reason("G-REVISION-REUSED", "revision", value=revision)


class Grouper:
    """Groups and prices each submitted revision once."""

    def __init__(self, tables: GrouperTables, policy: PolicySettings, settings: GrouperSettings, clock: Clock):
        self.tables = tables
        self.policy = policy
        self.settings = settings
        self.clock = clock

    async def on_submitted(self, tx: Tx, event: ClaimSubmitted) -> None:
        # submitted_on is the day BPJS received the claim (`received_at`: the broker's append time, else
        # the first BPJS consumer's clock), never the date the sender wrote nor the day this consumer got
        # round to it: a resubmission received at 23:59 on its last day and grouped at 00:30 is on time.
        p = event.payload
        received = received_instant(event, self.clock)
        if event.received_at is None:  # built in-process: we are the first BPJS service to see it
            event = event.model_copy(update={"received_at": received})
        digest = hashlib.sha256(p.claim.model_dump_json().encode()).hexdigest()
        previous = await tx.conn.fetchval(
            "SELECT content_hash FROM groupings WHERE claim_id = $1 AND revision = $2", event.claim_id, p.revision
        )
        if previous == digest:
            RESENT.inc()
            log.info("revision resent, already answered", revision=p.revision)
            return
        if previous is not None:
            self._reject(tx, event, [revision_reused(p.revision)], refusal=True)  # the first answer stands
            return
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
            tx.emit(follow_up(ClaimGrouped, event, payload, producer=PRODUCER, clock=self.clock))
            await self._remember(tx, event, digest, "grouped", r.cbg_code, r.total_tarif, [], r.tariff_table_version)
            ANSWERS.labels("grouped").inc()
        else:
            self._reject(tx, event, outcome.reasons)
            codes = [x.code for x in outcome.reasons]
            await self._remember(tx, event, digest, "rejected", outcome.error_group, None, codes, None)

    def _reject(self, tx: Tx, event: ClaimSubmitted, reasons: list[Reason], *, refusal: bool = False) -> None:
        p = event.payload
        payload = ClaimRejectedPayload(
            revision=p.revision, stage="grouper", nomor_sep=p.claim.nomor_sep, kode_rs=p.claim.kode_rs,
            rejected_on=self.clock.today(), reasons=reasons, refusal=refusal,
        )  # fmt: skip
        tx.emit(follow_up(ClaimRejected, event, payload, producer=PRODUCER, clock=self.clock))
        ANSWERS.labels("rejected").inc()

    async def _remember(
        self, tx: Tx, event: ClaimSubmitted, digest: str, outcome: str, cbg: str | None, total: int | None,
        codes: list[str], version: str | None,
    ) -> None:  # fmt: skip
        await tx.conn.execute(
            """INSERT INTO groupings (claim_id, revision, content_hash, outcome, cbg_code, total_tarif, reason_codes,
                                      tariff_table_version, event_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
            event.claim_id, event.payload.revision, digest, outcome, cbg, total, codes, version, event.event_id,
        )  # fmt: skip


def make_handler(grouper: Grouper) -> Handler:
    """The grouper consumer's handler."""

    async def handle(tx: Tx, event: Envelope) -> None:
        if not isinstance(event, ClaimSubmitted):
            raise PermanentError("unexpected-event", f"grouper does not handle {type(event).__name__}")
        await grouper.on_submitted(tx, event)

    return handle
