"""Plays a `Plan` against the running services, day by day on a clock it moves.

The driver is every actor around the backbone: the membership system, twenty hospitals
(submitting, resubmitting, disputing), reviewers and the dispute team, and finance (payment
runs). It waits for the system to be quiescent after each step: every service has applied
everything published to it and published everything it wrote.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import structlog
from aiokafka import AIOKafkaProducer

from services.payments.entrypoints.monitor import check_deadlines
from services.simulator.observer import Observer
from services.simulator.scenario import Kind, Plan, PlannedClaim
from services.verifier.entrypoints.sweeper import sweep_day
from shared.clock import FixedClock
from shared.events import (
    ApprovalGranted,
    ClaimDisputed,
    ClaimDisputedPayload,
    ClaimSubmitted,
    ClaimSubmittedPayload,
    ClaimVerified,
    DisputeResolutionRequested,
    DisputeResolutionRequestedPayload,
    Envelope,
    ParticipantChanged,
    PaymentRunRequested,
    PaymentRunRequestedPayload,
    ReviewDecisionRequested,
    ReviewDecisionRequestedPayload,
    encode_event,
)
from shared.kafka_security import client_options
from shared.operators import OperatorSigner, approval_of
from shared.runtime import ServiceRuntime

log = structlog.get_logger(__name__)
JAKARTA = ZoneInfo("Asia/Jakarta")

# BPJS staff in a simulation, each with the one role they act in; their keys are made per simulation.
REVIEWER, DISPUTE_PANEL, FINANCE_MAKER, FINANCE_APPROVER = (
    "sim.verifikator",
    "sim.tkmkb",
    "sim.finance-maker",
    "sim.finance-approver",
)
SIMULATION_STAFF: dict[str, tuple[str, ...]] = {
    REVIEWER: ("reviewer",),
    DISPUTE_PANEL: ("dispute_panel",),
    FINANCE_MAKER: ("finance_maker",),
    FINANCE_APPROVER: ("finance_approver",),
}


class Simulation:
    """One simulated month on in-process services sharing `clock`."""

    def __init__(
        self,
        plan: Plan,
        runtimes: dict[str, ServiceRuntime],
        clock: FixedClock,
        bootstrap: str,
        prefix: str = "",
        *,
        operators: Mapping[str, OperatorSigner],
        speed: float = 0.0,
    ) -> None:
        self.plan = plan
        self.operators = operators  # the staff who sign commands (SIMULATION_STAFF)
        self.runtimes = runtimes
        self.clock = clock
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.speed = speed  # simulated seconds per real second at most (0: as fast as the system answers)
        self.observer = Observer(bootstrap, prefix)
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, **client_options())
        self.published: dict[str, int] = {"grouper": 0, "verifier": 0, "payments": 0}
        self.junk_sent: dict[str, int] = {}

    async def run(self) -> None:
        """Every day of the plan, then the final payment run; the observer keeps everything seen."""
        await self.producer.start()
        await self.observer.start()
        try:
            for day in range(self.plan.last_day + 1):
                started = time.monotonic()
                await self.day(day)
                if self.speed:
                    await asyncio.sleep(max(0.0, 86_400 / self.speed - (time.monotonic() - started)))
        finally:
            await self.producer.stop()

    async def close(self) -> None:
        """Stop observing."""
        await self.observer.stop()

    async def day(self, day: int) -> None:
        """Morning sweeps of yesterday, the day's submissions and actions, then the payment run if any."""
        today = self.plan.date_of(day)
        self.clock.set(datetime.combine(today, clock_time(9, 0), JAKARTA).astimezone(UTC))
        verifier, payments = self.runtimes["verifier"].ctx, self.runtimes["payments"].ctx
        assert verifier is not None and payments is not None
        if day > 0:
            await sweep_day(verifier, self.plan.date_of(day - 1))
            await check_deadlines(payments, today, 3)
        else:
            await self.publish([self._member(p) for p in self.plan.participants], "verifier")
            await self.quiet()
            await self.send_junk()
        await self.publish([self._submission(c, 0) for c in self.plan.on(day)], "grouper")
        await self.publish(self._follow_ups(day), "")
        await self.quiet()
        for run in (r for r in self.plan.runs if r.day == day):
            command, approval = self._payment_run(run.run_id, run.funds)
            await self.publish([command, approval], "payments")  # four eyes: held, then released
            await self.quiet()

    def _payment_run(self, run_id: str, funds: int) -> tuple[PaymentRunRequested, ApprovalGranted]:
        """Finance's run: requested by the maker, approved by the approver (four eyes)."""
        maker, approver = self.operators[FINANCE_MAKER], self.operators[FINANCE_APPROVER]
        payload = PaymentRunRequestedPayload(run_id=run_id, funds=funds, requested_by=maker.operator_id)
        command = maker.sign(
            PaymentRunRequested(
                occurred_at=self.clock.now(), correlation_id=uuid.uuid4(), producer=maker.producer, payload=payload
            )
        )
        return command, approver.sign(approval_of(command, approver.operator_id, self.clock.now()))

    def _follow_ups(self, day: int) -> list[Envelope]:
        """What hospitals and BPJS staff do today about earlier claims."""
        out: list[Envelope] = []
        for c in self.plan.claims:
            after = day - c.day
            if c.kind == Kind.PEND_RESUBMIT and after == 2:
                out.append(self._submission(c, 1))
                self.published["grouper"] += 1
            elif c.kind in (Kind.ADJUST_UPHELD, Kind.ADJUST_DENIED) and after == 1:
                out.append(self._dispute(c))
                self.published["verifier"] += 1
            elif c.kind in (Kind.ADJUST_UPHELD, Kind.ADJUST_DENIED) and after == 2:
                out.append(self._ruling(c))
                self.published["verifier"] += 1
            elif c.kind == Kind.HELD_REVIEWED and after == 1:
                out.append(self._review(c))
                self.published["verifier"] += 1
        return out

    async def publish(self, events: Sequence[Envelope], consumer: str) -> None:
        """Publish and count what the consumer service must apply."""
        futures = [await self.producer.send(self.prefix + e.topic, encode_event(e), key=e.key.encode()) for e in events]
        await asyncio.gather(*futures)
        if consumer:
            self.published[consumer] += len(events)

    async def send_junk(self) -> None:
        """Bytes no contract accepts, onto consumed topics: each must end on that topic's DLQ."""
        for topic, messages in self.plan.junk.items():
            for raw in messages:
                await self.producer.send_and_wait(self.prefix + topic, raw, key=b"junk")
            self.junk_sent[topic] = self.junk_sent.get(topic, 0) + len(messages)

    async def quiet(self, within: float = 300.0) -> None:
        """Wait until every service applied what it was sent and published what it wrote."""
        deadline = time.monotonic() + within
        stable = 0
        while time.monotonic() < deadline:
            stable = stable + 1 if await self._is_quiet() else 0
            if stable >= 2:
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"the system did not settle within {within} s: {await self._progress()}")

    async def _is_quiet(self) -> bool:
        progress = await self._progress()
        return all(applied >= expected for applied, expected, _ in progress.values()) and all(
            unsent == 0 for _, _, unsent in progress.values()
        ) and await self.observer.caught_up()  # fmt: skip

    async def _progress(self) -> dict[str, tuple[int, int, int]]:
        """Per service: (events applied, events it must apply, outbox rows unsent)."""
        expected = {
            "grouper": self.published["grouper"],
            # The verifier applies every grouped claim plus what the driver sent it.
            "verifier": self.observer.count("claims.grouped") + self.published["verifier"],
            # Payments applies every verification plus the run commands.
            "payments": self.observer.count("claims.verified") + self.published["payments"],
        }
        out: dict[str, tuple[int, int, int]] = {}
        for name, want in expected.items():
            ctx = self.runtimes[name].ctx
            assert ctx is not None
            applied = int(await ctx.pool.fetchval("SELECT count(*) FROM inbox"))
            unsent = int(await ctx.pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
            out[name] = (applied, want, unsent)
        return out

    # ----------------------------------------------------------------------------- the actors' events

    def _member(self, payload: object) -> ParticipantChanged:
        return ParticipantChanged(
            occurred_at=self.clock.now(), correlation_id=uuid.uuid4(), producer="membership",
            payload=payload,
        )  # fmt: skip

    def _submission(self, c: PlannedClaim, revision: int) -> ClaimSubmitted:
        claim = c.claim if revision == 0 else c.resubmission()
        return ClaimSubmitted(
            occurred_at=self.clock.now(), claim_id=c.claim_id, correlation_id=_correlation(c),
            producer=f"hospital:{claim.kode_rs}", payload=ClaimSubmittedPayload(revision=revision, claim=claim),
        )  # fmt: skip

    def _dispute(self, c: PlannedClaim) -> ClaimDisputed:
        verified = [e for e in self.observer.by_claim[c.claim_id] if isinstance(e, ClaimVerified)]
        requested = verified[0].payload.claimed_amount if verified else 0
        payload = ClaimDisputedPayload(
            nomor_sep=c.claim.nomor_sep, kode_rs=c.claim.kode_rs, disputed_on=self.clock.today(),
            requested_amount=requested, reason="Hasil laboratorium pendukung diagnosis sekunder terlampir",
        )  # fmt: skip
        return ClaimDisputed(
            occurred_at=self.clock.now(), claim_id=c.claim_id, correlation_id=_correlation(c),
            producer=f"hospital:{c.claim.kode_rs}", payload=payload,
        )  # fmt: skip

    def _ruling(self, c: PlannedClaim) -> DisputeResolutionRequested:
        upheld = c.kind == Kind.ADJUST_UPHELD
        panel = self.operators[DISPUTE_PANEL]
        payload = DisputeResolutionRequestedPayload(
            outcome="upheld" if upheld else "denied", reviewer=panel.operator_id,
            note="Didukung hasil lab" if upheld else "Tidak ada dokumen pendukung baru",
        )  # fmt: skip
        return panel.sign(
            DisputeResolutionRequested(
                occurred_at=self.clock.now(), claim_id=c.claim_id, correlation_id=_correlation(c),
                producer=panel.producer, payload=payload,
            )
        )  # fmt: skip

    def _review(self, c: PlannedClaim) -> ReviewDecisionRequested:
        reviewer = self.operators[REVIEWER]
        payload = ReviewDecisionRequestedPayload(
            outcome="verify", reviewer=reviewer.operator_id, note="Lama rawat sesuai resume medis"
        )
        return reviewer.sign(
            ReviewDecisionRequested(
                occurred_at=self.clock.now(), claim_id=c.claim_id, correlation_id=_correlation(c),
                producer=reviewer.producer, payload=payload,
            )
        )  # fmt: skip


def _correlation(c: PlannedClaim) -> uuid.UUID:
    """One correlation id per claim journey, stable across runs."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"jkn-sim:{c.claim_id}")
