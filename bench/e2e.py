"""Benchmark: claims through all four services on the local stack, end to end (submitted -> paid).

One run, on a fresh local stack, each service a separate process (`python -m services.<name>.app`):

1. raw broker ceiling: plain aiokafka forwarders over four hops (`bench/raw_ceiling.py`), N messages;
2. the services start; every member card is seeded (ParticipantChanged) and projected;
3. throughput: N clean claims offered as fast as possible; payment runs every 0.5 s;
   claims/s = claims paid / (last paid event seen - first claim offered);
4. latency: `--latency-claims` claims offered at `--rate` per second; p50 / p95 / p99 per stage from
   the events' occurred_at (submitted -> grouped -> verified -> paid) and from when each arrived;
5. scale: `--history-claims` claims already decided and paid are bulk-loaded (COPY, `bench/history.py`)
   into every table that grows with them, VACUUM ANALYZEd, and the throughput run is repeated with
   fresh claims: with history / empty tables;
6. two verifier instances in one consumer group: each instance's share of the claims (its own
   `events_applied_total` counter) and that every claim was verified and paid exactly once.

Peak RSS of every process is sampled every 0.5 s through the whole run; the services' logs are searched
for DeadlockDetectedError at the end. The figures, the goals (met or missed, measured / target), and
the machine go to bench/results/e2e.json; the chart to bench/results/e2e.png. `--profile verifier`
(repeatable) records a py-spy flame graph of that service during the throughput phase to
bench/results/profile-<service>.svg.

Run: .venv/bin/python -m bench.e2e [--claims 20000] [--history-claims 1000000]   (or `make bench`)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file (`python bench/e2e.py`): make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
import psutil  # type: ignore[import-untyped,unused-ignore]  # no stubs pinned
from aiokafka import AIOKafkaProducer

from bench import history
from bench.common import (
    MB,
    RESULTS,
    Observer,
    Proc,
    Processes,
    fresh_stack,
    machine_facts,
    make_producer,
    offer,
    profiling,
    scrape,
    stop_on_sigterm,
    summary_ms,
    wait_ready,
    write_json,
)
from bench.raw_ceiling import measure as measure_raw_ceiling
from deploy.local import create_topics
from services.simulator.scenario import Kind, claim_for, hospital_code, member_for
from shared import topics
from shared.clock import RealClock
from shared.events import (
    ClaimSubmitted,
    ClaimSubmittedPayload,
    Envelope,
    ParticipantChanged,
    PaymentRunRequested,
    PaymentRunRequestedPayload,
    encode_event,
)
from shared.operators import OperatorSigner, approval_of, generate_registry

SERVICES = ("grouper", "verifier", "payments", "notifier")
HOSPITALS = 20
RUN_INTERVAL_S = 0.5  # a payment run this often: bounds the verified -> paid stage
WATCHED = (
    topics.CLAIMS_GROUPED,
    topics.CLAIMS_VERIFIED,
    topics.CLAIMS_PAID,
    topics.CLAIMS_REJECTED,
    topics.CLAIMS_PENDED,
)

# Issue 14's goals, on the 2-core machine.
GOAL_SHARE_OF_CEILING = 0.25  # end-to-end claims/s against the raw four-hop broker ceiling of the same run
GOAL_CLAIMS_PER_S = 1000
GOAL_CPU_MS_PER_CLAIM = 1.0  # all processes: services, PostgreSQL, broker, the bench itself
GOAL_P99_VERIFIED_MS = 500
GOAL_HISTORY_RATIO = 0.8  # throughput with history stored / on empty tables
GOAL_RSS_MB = 200
GOAL_SHARE = (0.35, 0.65)
DEADLOCK = "DeadlockDetectedError"


# --------------------------------------------------------------------------- the claims


@dataclass(frozen=True)
class Batch:
    """The claims of one phase: ids, submissions (occurred_at set when sent) and their members."""

    name: str
    claim_ids: list[str]
    submissions: list[ClaimSubmitted]
    members: list[ParticipantChanged]


def make_batch(name: str, first: int, count: int, seed: int) -> Batch:
    """`count` clean claims (each its own member, SEP and card) numbered from `first`."""
    rng = random.Random(seed)
    clock = RealClock()
    today = clock.today()
    now = clock.now()
    ids, subs, members = [], [], []
    for i in range(first, first + count):
        kode_rs = hospital_code(i % HOSPITALS)
        card = f"{2000000000000 + i:013d}"
        discharged = today - timedelta(days=1 + i % 5)
        sep = f"{kode_rs}{discharged:%m%y}V{i:06d}"
        claim = claim_for(rng, kode_rs, card, sep, discharged, Kind.CLEAN)
        claim_id = f"BENCH-{name}-{i:07d}"
        ids.append(claim_id)
        subs.append(
            ClaimSubmitted(
                occurred_at=now,
                claim_id=claim_id,
                correlation_id=uuid.uuid4(),
                producer=f"hospital:{kode_rs}",
                payload=ClaimSubmittedPayload(revision=0, claim=claim),
            )
        )
        members.append(
            ParticipantChanged(
                occurred_at=now,
                correlation_id=uuid.uuid4(),
                producer="membership",
                claim_id=None,
                payload=member_for(card, i, inactive=False),
            )
        )
    return Batch(name, ids, subs, members)


def fresh(event: Envelope) -> tuple[str, bytes, bytes]:
    """(topic, key, bytes) with occurred_at = now: the instant the hospital sends it."""
    sent = event.model_copy(update={"occurred_at": datetime.now(UTC)})
    return sent.topic, sent.key.encode(), encode_event(sent)


class LazyItems(Sequence[tuple[str, bytes, bytes]]):
    """Events encoded only when the offer loop reaches them (so occurred_at is the send instant)."""

    def __init__(self, events: Sequence[Envelope]) -> None:
        self.events = events

    def __len__(self) -> int:
        return len(self.events)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [fresh(e) for e in self.events[i]]
        return fresh(self.events[i])


# --------------------------------------------------------------------------- the run


class PaymentRuns:
    """Finance: a PaymentRunRequested (funds 10^15, unique run id) every RUN_INTERVAL_S while running."""

    def __init__(self, producer: AIOKafkaProducer, tag: str) -> None:
        self.producer = producer
        self.tag = tag
        self.sent = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        maker, approver = STAFF[FINANCE_MAKER], STAFF[FINANCE_APPROVER]
        while True:
            self.sent += 1
            command = maker.sign(PaymentRunRequested(
                occurred_at=datetime.now(UTC), correlation_id=uuid.uuid4(), producer=maker.producer,
                claim_id=None,
                payload=PaymentRunRequestedPayload(
                    run_id=f"BENCH-{self.tag}-{self.sent:05d}", funds=10**15, requested_by=maker.operator_id
                ),
            ))  # fmt: skip
            approval = approver.sign(approval_of(command, approver.operator_id, datetime.now(UTC)))  # four eyes
            for event in (command, approval):
                await self.producer.send(event.topic, encode_event(event), key=event.key.encode())
            await asyncio.sleep(RUN_INTERVAL_S)


FINANCE_MAKER, FINANCE_APPROVER = "bench.finance-maker", "bench.finance-approver"
STAFF: dict[str, OperatorSigner] = {}  # filled by `operators_for_this_run`


def operators_for_this_run(folder: Path) -> None:
    """Finance's two signers, and the registry the service processes trust (OPERATORS_REGISTRY_FILE)."""
    path = folder / "operators.toml"
    people = {FINANCE_MAKER: ("finance_maker",), FINANCE_APPROVER: ("finance_approver",)}
    STAFF.update(
        generate_registry(path, people, "bench", "Generated for one benchmark run", datetime(2000, 1, 1, tzinfo=UTC))
    )
    os.environ["OPERATORS_REGISTRY_FILE"] = str(path)  # the service processes inherit the environment


async def wait_projected(dsn: str, want: int, within: float = 300) -> float:
    """Until the verifier's eligibility projection holds `want` members; returns the seconds taken."""
    start = time.monotonic()
    conn = await asyncpg.connect(dsn)
    try:
        while time.monotonic() - start < within:
            n = await conn.fetchval("SELECT count(*) FROM verifier.participants")
            if n >= want:
                return time.monotonic() - start
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
    raise TimeoutError(f"participants not projected within {within} s")


async def table_stats(dsn: str, top: int = 12) -> list[dict[str, Any]]:
    """The tables PostgreSQL read most rows from by sequential scans (work that grows with history)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            """SELECT schemaname || '.' || relname AS "table", n_live_tup AS live_rows, seq_scan, seq_tup_read,
                      idx_scan, n_tup_ins AS inserted, n_tup_upd AS updated, n_dead_tup AS dead_rows
               FROM pg_stat_user_tables ORDER BY seq_tup_read DESC LIMIT $1""",
            top,
        )
    finally:
        await conn.close()
    return [dict(r) for r in rows]


async def wait_idle(procs: Processes, labels: Sequence[str], cores: float = 0.1, within: float = 120) -> float:
    """Until the named processes together use less than `cores` of CPU over a second (backlogs drained)."""
    start = time.monotonic()
    watched = [procs.by_label(label) for label in labels]
    while time.monotonic() - start < within:
        before = sum(p.cpu_seconds() for p in watched)
        await asyncio.sleep(1.0)
        if sum(p.cpu_seconds() for p in watched) - before < cores:
            return time.monotonic() - start
    return time.monotonic() - start


async def wait_outcomes(obs: Observer, batch: Batch, within: float, stall: float = 60) -> bool:
    """Until every claim of the batch is paid (or answered rejected/pended); False on timeout or stall."""
    deadline = time.monotonic() + within
    last_progress, last_count = time.monotonic(), -1
    while time.monotonic() < deadline:
        done = sum(
            obs.count(t, batch.claim_ids) for t in (topics.CLAIMS_PAID, topics.CLAIMS_REJECTED, topics.CLAIMS_PENDED)
        )
        if done >= len(batch.claim_ids):
            return True
        progress = sum(obs.count(t, batch.claim_ids) for t in WATCHED)
        if progress != last_count:
            last_count, last_progress = progress, time.monotonic()
        elif time.monotonic() - last_progress > stall:
            return False
        await asyncio.sleep(0.2)
    return False


def stage_latencies(obs: Observer, batch: Batch, sent_at: Sequence[float]) -> dict[str, dict[str, float | int]]:
    """Per stage, from occurred_at; plus submitted -> verified/paid as seen arriving on the topic."""
    grouped = obs.first[topics.CLAIMS_GROUPED]
    verified = obs.first[topics.CLAIMS_VERIFIED]
    paid = obs.first[topics.CLAIMS_PAID]
    stages: dict[str, list[float]] = {
        "submitted_to_grouped": [],
        "grouped_to_verified": [],
        "verified_to_paid": [],
        "submitted_to_verified": [],
        "submitted_to_verified_observed": [],
        "submitted_to_paid_observed": [],
        # Where the time goes: from an event's occurred_at (written to the outbox) until it is seen on its
        # topic (outbox relay + broker + this observer), and from a grouped event being on its topic until
        # the verifier handled it (the verifier's fetch + its backlog + its handling).
        "grouped_visible_after": [],
        "verified_visible_after": [],
        "paid_visible_after": [],
        "grouped_seen_to_verified": [],
    }
    for claim_id, submitted in zip(batch.claim_ids, sent_at, strict=True):
        g, v, p = grouped.get(claim_id), verified.get(claim_id), paid.get(claim_id)
        if g:
            stages["submitted_to_grouped"].append(g.occurred - submitted)
        if g:
            stages["grouped_visible_after"].append(g.received - g.occurred)
        if v:
            stages["verified_visible_after"].append(v.received - v.occurred)
        if p:
            stages["paid_visible_after"].append(p.received - p.occurred)
        if g and v:
            stages["grouped_to_verified"].append(v.occurred - g.occurred)
            stages["grouped_seen_to_verified"].append(v.occurred - g.received)
        if v:
            stages["submitted_to_verified"].append(v.occurred - submitted)
            stages["submitted_to_verified_observed"].append(v.received - submitted)
        if v and p:
            stages["verified_to_paid"].append(p.occurred - v.occurred)
        if p:
            stages["submitted_to_paid_observed"].append(p.received - submitted)
    return {name: summary_ms(values) for name, values in stages.items()}


def stage_rates(obs: Observer, batch: Batch, start: float) -> dict[str, float | None]:
    """Claims/s reaching each output topic: count / (last arrival - first offer)."""
    out: dict[str, float | None] = {}
    for topic, label in (
        (topics.CLAIMS_GROUPED, "grouped"),
        (topics.CLAIMS_VERIFIED, "verified"),
        (topics.CLAIMS_PAID, "paid"),
    ):
        arrivals = [obs.first[topic][c].received for c in batch.claim_ids if c in obs.first[topic]]
        out[label] = round(len(arrivals) / (max(arrivals) - start), 1) if arrivals else None
    return out


def bottleneck(rates: dict[str, float | None], offered: float | None) -> str | None:
    """The stage whose rate falls furthest below the rate of the stage feeding it (the first stage is
    compared with the offered rate only when claims were offered at a fixed rate, not all at once)."""
    worst, worst_ratio, upstream = None, 1.0, offered
    for stage, rate in rates.items():
        if not rate:
            return stage
        if upstream and rate / upstream < worst_ratio:
            worst, worst_ratio = stage, rate / upstream
        upstream = rate
    return worst


def outcome_counts(obs: Observer, batch: Batch) -> dict[str, int]:
    return {t.removeprefix("claims."): obs.count(t, batch.claim_ids) for t in WATCHED}


async def run_phase(
    procs: Processes,
    obs: Observer,
    producer: AIOKafkaProducer,
    batch: Batch,
    *,
    rate: float | None,
    within: float,
    profile: Sequence[str] = (),
    profile_seconds: int = 20,
    profile_format: str = "flamegraph",
) -> dict[str, Any]:
    """Offer the batch, run payments until every claim is answered, and measure."""
    if not batch.claim_ids:
        raise ValueError(f"phase {batch.name} has no claims (skip it instead)")
    runs = PaymentRuns(producer, batch.name)
    procs.mark(f"{batch.name}-start")
    runs.start()
    profilers = contextlib.ExitStack()
    try:
        offering = asyncio.create_task(offer(producer, LazyItems(batch.submissions), rate))
        if profile:
            await asyncio.sleep(2.0)  # past the first batches
            for name in profile:
                ext = "svg" if profile_format == "flamegraph" else "txt"
                out = RESULTS / f"profile-{name}.{ext}"
                profilers.enter_context(profiling(procs.by_label(name).pid, out, profile_seconds, profile_format))
        start, offered, sent_at = await offering
        complete = await wait_outcomes(obs, batch, within)
    finally:
        await runs.stop()
        profilers.close()
    await wait_idle(procs, [p.label for p in procs.procs if p.label in SERVICES or p.label.startswith("verifier")])
    ended = time.time()
    procs.mark(f"{batch.name}-end")  # after the backlogs (the notifier's too) drained: all the work of the batch
    paid = [obs.first[topics.CLAIMS_PAID][c].received for c in batch.claim_ids if c in obs.first[topics.CLAIMS_PAID]]
    seconds = (max(paid) - start) if paid else None
    cpu = {k: v for k, v in procs.cpu_between(f"{batch.name}-start", f"{batch.name}-end").items() if v}
    cpu_total = sum(cpu.values())
    cores = os.cpu_count() or 1
    claims = len(batch.claim_ids)
    return {
        "claims": len(batch.claim_ids),
        "complete": complete,
        "offered_rate_target": rate,
        "offer_seconds": round(offered - start, 3),
        "offered_claims_per_s": round(claims / (offered - start), 1) if offered > start else None,
        "outcomes": outcome_counts(obs, batch),
        "seconds_to_last_paid": round(seconds, 3) if seconds else None,
        "claims_per_s": round(len(paid) / seconds, 1) if seconds else None,
        "stage_claims_per_s": stage_rates(obs, batch, start),
        "payment_runs_sent": runs.sent,
        "latency": stage_latencies(obs, batch, sent_at),
        "cpu_seconds": cpu,
        "cpu_seconds_outside_benchmark": procs.cpu_outside(f"{batch.name}-start", f"{batch.name}-end"),
        "cpu_ms_per_claim": {k: round(v * 1000 / claims, 2) for k, v in cpu.items()},
        "cpu_ms_per_claim_all_processes": round(cpu_total * 1000 / claims, 2),
        # If every process could use every core all the time, this is the most the machine could do:
        "cpu_bound_ceiling_claims_per_s": round(cores * claims / cpu_total) if cpu_total else None,
        "cpu_utilisation_of_all_cores": round(cpu_total / ((ended - start) * cores), 3) if ended > start else None,
        "bottleneck_stage": bottleneck(stage_rates(obs, batch, start), rate),
        "rejection_samples": obs.samples[topics.CLAIMS_REJECTED][:2],
    }


async def applied(proc: Proc) -> tuple[int, int]:
    """(events applied, redelivered events the inbox skipped) by this instance: its own kernel counters."""
    applied = await scrape(proc, "events_applied_total")
    skipped = await scrape(proc, "inbox_duplicates_total")
    return int(sum(applied.values())), int(sum(skipped.values()))


async def two_instances(
    procs: Processes, obs: Observer, producer: AIOKafkaProducer, batch: Batch, within: float
) -> dict[str, Any]:
    """A second verifier joins the group; each instance's share of the batch and the totals."""
    first = procs.by_label("verifier")
    second = procs.start_service("verifier", instance=2)
    await wait_ready(second)
    await asyncio.sleep(8)  # the rebalance: the first instance rejoins on its next heartbeat
    await wait_idle(procs, ["verifier", "verifier-2"])
    before = {p.label: await applied(p) for p in (first, second)}
    duplicates_before = dict(obs.duplicates)
    phase = await run_phase(procs, obs, producer, batch, rate=None, within=within)
    await wait_idle(procs, list(SERVICES))
    after = {p.label: await applied(p) for p in (first, second)}
    handled = {label: after[label][0] - before[label][0] for label in after}
    skipped = {label: after[label][1] - before[label][1] for label in after}
    total = sum(handled.values())
    shares = {label: round(n / total, 3) if total else None for label, n in handled.items()}
    verified = obs.count(topics.CLAIMS_VERIFIED, batch.claim_ids)
    paid = obs.count(topics.CLAIMS_PAID, batch.claim_ids)
    dup = {t: obs.duplicates[t] - duplicates_before[t] for t in (topics.CLAIMS_VERIFIED, topics.CLAIMS_PAID)}
    return {
        "claims": len(batch.claim_ids),
        "handled_per_instance": handled,
        "share_per_instance": shares,
        "handled_total": total,
        "redeliveries_skipped_by_inbox": skipped,
        "verified_once": verified,
        "paid_once": paid,
        "duplicate_events": dup,
        "totals_unchanged": total == len(batch.claim_ids) == verified == paid and not any(dup.values()),
        "verified_claims_per_s": phase["stage_claims_per_s"]["verified"],
        "phase": phase,
    }


def is_service(label: str) -> bool:
    """A service process (`verifier`, or a second instance `verifier-2`)."""
    return label.split("-")[0] in SERVICES


async def scale_phase(
    procs: Processes,
    obs: Observer,
    producer: AIOKafkaProducer,
    dsn: str,
    batch: Batch,
    args: argparse.Namespace,
    template: str,
    seeded: int,
) -> dict[str, Any]:
    """Load `--history-claims` paid claims (clones of `template`), let the machine settle, and repeat the
    throughput run with fresh claims (`batch`)."""
    n = args.history_claims
    print(f"scale: bulk-loading {n:,} historical claims (COPY), then {len(batch.claim_ids)} claims at once", flush=True)
    procs.mark("history-load-start")
    rss_before = psutil.Process().memory_info().rss
    plan = history.Plan(claims=n, seeded=seeded, hospitals=HOSPITALS)
    load = await history.load(dsn, template, plan, log=lambda line: print(line, flush=True))
    procs.mark("history-load-end")
    load["bench_rss_mb"] = {
        "before": round(rss_before / MB, 1),
        "after": round(psutil.Process().memory_info().rss / MB, 1),
    }
    load["cpu_seconds"] = {k: v for k, v in procs.cpu_between("history-load-start", "history-load-end").items() if v}
    print(
        f"  loaded {load['rows_total']:,} rows in {load['load_seconds']} s (COPY {load['copy_seconds']} s, "
        f"VACUUM ANALYZE {load['vacuum_analyze_seconds']} s, CHECKPOINT {load['checkpoint_seconds']} s)",
        flush=True,
    )
    settled = await wait_idle(procs, [*SERVICES, "postgres"], cores=0.3, within=180)
    phase = await run_phase(procs, obs, producer, batch, rate=None, within=args.timeout)
    print(f"  {phase['claims_per_s']} claims/s with history; stages {phase['stage_claims_per_s']}", flush=True)
    return {"history_claims": n, "load": load, "settled_seconds": round(settled, 1), "throughput": phase}


def goal(
    name: str, target: str, measured: Any, ratio: float | None, met: bool | None, missed_by: str | None
) -> dict[str, Any]:
    """One goal: met is None when its phase did not run; ratio is measured / target."""
    return {
        "goal": name, "target": target, "measured": measured,
        "ratio": None if ratio is None else round(ratio, 3), "met": met,
        "missed_by": "not measured (phase skipped or failed)" if met is None else None if met else missed_by,
    }  # fmt: skip


def goals(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal of issue 14: target, measured, measured / target, met, and by how much it was missed."""
    out: list[dict[str, Any]] = []
    tput = result.get("throughput") or {}
    cps = tput.get("claims_per_s")
    raw = (result.get("raw_ceiling") or {}).get("messages_per_s")
    share = cps / raw if cps and raw else None
    out.append(goal(
        f"end-to-end claims/s >= {GOAL_SHARE_OF_CEILING:.0%} of the raw four-hop ceiling of the same run",
        f">= {GOAL_SHARE_OF_CEILING} x {raw} messages/s = {GOAL_SHARE_OF_CEILING * (raw or 0):.0f} claims/s",
        None if share is None else round(share, 4), None if share is None else share / GOAL_SHARE_OF_CEILING,
        None if share is None else share >= GOAL_SHARE_OF_CEILING,
        f"{GOAL_SHARE_OF_CEILING * (raw or 0) - (cps or 0):.0f} claims/s "
        f"({cps} claims/s is {share or 0:.1%} of the ceiling)",
    ))  # fmt: skip
    out.append(goal(
        "end-to-end claims/s (submitted -> paid)", f">= {GOAL_CLAIMS_PER_S}", cps,
        None if cps is None else cps / GOAL_CLAIMS_PER_S, None if cps is None else cps >= GOAL_CLAIMS_PER_S,
        f"{GOAL_CLAIMS_PER_S - (cps or 0):.0f} claims/s (reached {(cps or 0) / GOAL_CLAIMS_PER_S:.0%} of the goal)",
    ))  # fmt: skip
    cpu = tput.get("cpu_ms_per_claim_all_processes")
    out.append(goal(
        "CPU per claim, all processes (services, PostgreSQL, broker, bench)", f"<= {GOAL_CPU_MS_PER_CLAIM} ms",
        cpu, None if cpu is None else cpu / GOAL_CPU_MS_PER_CLAIM,
        None if cpu is None else cpu <= GOAL_CPU_MS_PER_CLAIM,
        f"{(cpu or 0) - GOAL_CPU_MS_PER_CLAIM:.2f} ms per claim",
    ))  # fmt: skip
    lat = result.get("latency_at_rate")
    p99 = lat["latency"]["submitted_to_verified_observed"].get("p99_ms", float("inf")) if lat else None
    out.append(goal(
        f"p99 submitted -> verified at {lat['offered_rate_target'] if lat else 200:.0f} claims/s offered",
        f"< {GOAL_P99_VERIFIED_MS} ms", p99, None if p99 is None else p99 / GOAL_P99_VERIFIED_MS,
        None if p99 is None else p99 < GOAL_P99_VERIFIED_MS, f"{(p99 or 0) - GOAL_P99_VERIFIED_MS:.0f} ms",
    ))  # fmt: skip
    deadlocks = result.get("deadlocks_in_logs")
    total = sum(deadlocks.values()) if deadlocks is not None else None
    out.append(goal(
        f"no {DEADLOCK} in any service's log", "0 log lines", deadlocks, None,
        None if total is None else total == 0,
        f"{total} log lines: " + ", ".join(f"{k} {v}" for k, v in (deadlocks or {}).items() if v),
    ))  # fmt: skip
    scale = result.get("scale") or {}
    ratio = scale.get("ratio_to_empty")
    full = (scale.get("throughput") or {}).get("claims_per_s") or 0.0
    out.append(goal(
        f"throughput with {scale.get('history_claims', 0):,} claims stored within 20 % of the empty-table figure",
        f">= {GOAL_HISTORY_RATIO} x {cps} claims/s", None if ratio is None else ratio,
        None if ratio is None else ratio / GOAL_HISTORY_RATIO, None if ratio is None else ratio >= GOAL_HISTORY_RATIO,
        f"{GOAL_HISTORY_RATIO * (cps or 0) - full:.0f} claims/s ({full} claims/s with history, {ratio or 0:.0%} of "
        f"{cps} on empty tables)",
    ))  # fmt: skip
    for label, mb in result.get("rss_peak_mb", {}).items():
        out.append(goal(
            f"{label} peak RSS", f"< {GOAL_RSS_MB} MB", mb, mb / GOAL_RSS_MB, mb < GOAL_RSS_MB,
            f"{mb - GOAL_RSS_MB:.0f} MB",
        ))  # fmt: skip
    two = result.get("two_instances")
    shares = [s for s in two["share_per_instance"].values() if s is not None] if two else []
    ok = len(shares) == 2 and all(GOAL_SHARE[0] <= s <= GOAL_SHARE[1] for s in shares)
    out.append(goal(
        "two verifier instances: each handles 35-65 % of the claims", "35 % .. 65 % each",
        two["share_per_instance"] if two else None, min(shares) / GOAL_SHARE[0] if shares else None,
        ok if two else None, "share outside 35-65 %",
    ))  # fmt: skip
    out.append(goal(
        "two verifier instances: totals unchanged (each claim verified and paid exactly once)",
        f"exactly once, {two['claims'] if two else 0} claims",
        {k: two[k] for k in ("handled_total", "verified_once", "paid_once")} if two else None,
        min(two["verified_once"], two["paid_once"]) / two["claims"] if two and two.get("claims") else None,
        two["totals_unchanged"] if two else None, "see two_instances",
    ))  # fmt: skip
    return out


def goal_line(g: dict[str, Any]) -> str:
    """`[met] name: measured (target ..., measured/target 0.53)`, and by how much it was missed."""
    status = "not measured" if g["met"] is None else "met" if g["met"] else "MISSED"
    ratio = f", measured/target {g['ratio']}" if g.get("ratio") is not None else ""
    missed = f", missed by {g['missed_by']}" if g["missed_by"] and g["met"] is not None else ""
    return f"  [{status}] {g['goal']}: {g['measured']} (target {g['target']}{ratio}){missed}"


def deadlocks_in_logs(procs: Processes) -> dict[str, int]:
    """Per service process: how many lines of its log (stdout and stderr) mention DeadlockDetectedError."""
    return {p.label: p.log_lines_with(DEADLOCK) for p in procs.procs if p.log_path is not None}


async def postgres_durability(dsn: str) -> dict[str, str]:
    """The server's crash-safety settings, recorded with the figures (the bench runs on durable PostgreSQL)."""
    conn = await asyncpg.connect(dsn)
    try:
        names = ("fsync", "synchronous_commit", "full_page_writes")
        return {name: await conn.fetchval(f"SHOW {name}") for name in names}
    finally:
        await conn.close()


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"benchmark": "e2e", "machine": machine_facts(), "config": vars(args).copy()}
    run_start = time.monotonic()
    main = make_batch("tput", 0, args.claims, seed=1)
    cursor = args.claims
    latency = make_batch("lat", cursor, args.latency_claims, seed=2)
    cursor += args.latency_claims
    extra: dict[float, Batch] = {}
    for k, rate in enumerate(args.extra_rate if args.extra_rate_claims else ()):  # 0 claims: no extra rates
        extra[rate] = make_batch(f"lat{rate:g}", cursor, args.extra_rate_claims, seed=10 + k)
        cursor += args.extra_rate_claims
    with_history = make_batch("hist", cursor, args.claims if args.history_claims else 0, seed=4)
    cursor += len(with_history.claim_ids)
    scaled = make_batch("two", cursor, args.two_instance_claims, seed=3)
    stack = fresh_stack()
    procs = Processes(stack)
    result["stack"] = stack.kind
    failed = True
    keys = tempfile.TemporaryDirectory(prefix="jkn-bench-operators-")
    operators_for_this_run(Path(keys.name))
    try:
        await create_topics(stack.bootstrap_servers)
        result["postgres"] = await postgres_durability(stack.database_url)
        print(f"stack ({stack.kind}) up; raw broker ceiling over 4 hops, {args.claims} messages", flush=True)
        raw_messages = [(key, value) for _, key, value in LazyItems(main.submissions)]
        result["raw_ceiling"] = await measure_raw_ceiling(procs, stack.bootstrap_servers, raw_messages, "e2e")
        print(f"  raw ceiling: {result['raw_ceiling']['messages_per_s']} messages/s", flush=True)
        del raw_messages

        services = {name: procs.start_service(name) for name in SERVICES}
        for proc in services.values():
            await wait_ready(proc)
        obs = Observer(stack.bootstrap_servers, WATCHED)
        await obs.start()
        producer = make_producer(stack.bootstrap_servers)
        await producer.start()
        try:
            members = [m for b in (main, latency, *extra.values(), with_history, scaled) for m in b.members]
            await offer(producer, LazyItems(members))
            seeded = await wait_projected(stack.database_url, len(members))
            result["participants"] = {"count": len(members), "projected_seconds": round(seeded, 1)}
            print(f"services up; {len(members)} members projected in {seeded:.1f} s", flush=True)
            await wait_idle(procs, list(SERVICES))
            procs.mark("idle-start")  # what the system costs doing nothing (consumers polling the broker)
            await asyncio.sleep(5)
            procs.mark("idle-end")
            idle = procs.cpu_between("idle-start", "idle-end")
            result["idle_cpu_cores"] = {k: round(v / 5, 3) for k, v in idle.items() if v}

            print(f"throughput: {args.claims} claims offered at once", flush=True)
            result["throughput"] = await run_phase(
                procs, obs, producer, main, rate=None, within=args.timeout, profile=args.profile,
                profile_seconds=args.profile_seconds, profile_format=args.profile_format,
            )  # fmt: skip
            raw = result["raw_ceiling"]["messages_per_s"]
            cps = result["throughput"]["claims_per_s"]
            result["ratio_to_raw_ceiling"] = round(cps / raw, 4) if cps and raw else None
            print(f"  {cps} claims/s end to end; stages {result['throughput']['stage_claims_per_s']}", flush=True)
            await wait_idle(procs, list(SERVICES))

            if latency.claim_ids:
                print(f"latency: {args.latency_claims} claims at {args.rate:.0f}/s", flush=True)
                result["latency_at_rate"] = await run_phase(
                    procs, obs, producer, latency, rate=args.rate, within=args.timeout
                )
                print(
                    f"  submitted->verified {result['latency_at_rate']['latency']['submitted_to_verified_observed']}",
                    flush=True,
                )
                await wait_idle(procs, list(SERVICES))

            for rate, batch in extra.items():  # e.g. the national month-end peak (under 100/s)
                print(f"latency: {len(batch.claim_ids)} claims at {rate:g}/s", flush=True)
                phase = await run_phase(procs, obs, producer, batch, rate=rate, within=args.timeout)
                result.setdefault("latency_at_other_rates", {})[f"{rate:g}"] = phase
                print(f"  submitted->verified {phase['latency']['submitted_to_verified_observed']}", flush=True)
                await wait_idle(procs, list(SERVICES))

            if with_history.claim_ids:
                paid = obs.first[topics.CLAIMS_PAID]
                template = next((c for c in main.claim_ids if c in paid), None)
                if template is None:
                    raise RuntimeError("scale phase: no claim of the throughput run was paid to clone")
                result["scale"] = await scale_phase(
                    procs, obs, producer, stack.database_url, with_history, args, template, seeded=len(members)
                )
                empty = result["throughput"]["claims_per_s"]
                full = result["scale"]["throughput"]["claims_per_s"]
                result["scale"]["ratio_to_empty"] = round(full / empty, 3) if full and empty else None
                await wait_idle(procs, list(SERVICES))

            if args.two_instance_claims:
                print(f"two verifier instances: {args.two_instance_claims} claims", flush=True)
                result["two_instances"] = await two_instances(procs, obs, producer, scaled, args.timeout)
                print(f"  shares {result['two_instances']['share_per_instance']}", flush=True)
            result["duplicate_events_seen"] = dict(obs.duplicates)
            result["postgres_tables"] = await table_stats(stack.database_url)
        finally:
            await producer.stop()
            await obs.stop()
        result["rss_peak_mb"] = {p.label: round(p.peak_rss / MB, 1) for p in procs.procs if is_service(p.label)}
        result["rss_peak_mb_other"] = {
            p.label: round(p.peak_rss / MB, 1)
            for p in [*procs.procs, *procs.infra]
            if not is_service(p.label) and p.peak_rss
        }
        result["bench_max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        failed = False
    finally:
        with contextlib.suppress(Exception):  # after a failure too: whatever the logs hold so far
            result["deadlocks_in_logs"] = deadlocks_in_logs(procs)
        found = any(result.get("deadlocks_in_logs", {}).values())
        procs.stop_all(keep_logs=failed or found)  # the logs are kept when they show a deadlock
        stack.stop()
        keys.cleanup()
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["goals"] = goals(result)
    result["wall_seconds"] = round(time.monotonic() - run_start, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=20_000, help="claims in the throughput run (and raw messages)")
    parser.add_argument("--rate", type=float, default=200.0, help="offered claims/s in the latency run")
    parser.add_argument("--latency-claims", type=int, default=4_000, help="0: skip the latency run")
    parser.add_argument(
        "--extra-rate", type=float, action="append", default=None, help="another latency run at this rate (default 100)"
    )
    parser.add_argument("--extra-rate-claims", type=int, default=2_000, help="0: skip the extra-rate runs")
    parser.add_argument(
        "--history-claims", type=int, default=1_000_000,
        help="paid claims bulk-loaded before the throughput run is repeated (0: skip the scale phase)",
    )  # fmt: skip
    parser.add_argument("--two-instance-claims", type=int, default=4_000, help="0: skip the two-instance run")
    parser.add_argument("--timeout", type=float, default=240.0, help="longest wait for one phase's claims")
    parser.add_argument("--profile", action="append", default=[], choices=SERVICES, help="py-spy this service")
    parser.add_argument("--profile-seconds", type=int, default=20)
    parser.add_argument("--profile-format", default="flamegraph", choices=("flamegraph", "raw", "speedscope"))
    parser.add_argument("--output", type=Path, default=RESULTS / "e2e.json")
    args = parser.parse_args()
    if args.claims < 1:
        parser.error("--claims must be at least 1 (the throughput run is what the others compare with)")
    stop_on_sigterm()
    if args.extra_rate is None:
        args.extra_rate = [100.0]
    args.extra_rate = [r for r in args.extra_rate if r > 0]  # --extra-rate 0: none
    try:
        result = asyncio.run(bench(args))
    except KeyboardInterrupt:
        print("interrupted: every process the benchmark started was stopped", file=sys.stderr)
        raise SystemExit(130) from None
    result["config"]["output"] = str(args.output)
    write_json(args.output, result)
    from bench import chart  # matplotlib only here: the rest is importable (and testable) without it

    chart.draw(result, args.output.with_suffix(".png"))
    print(f"wrote {args.output} and {args.output.with_suffix('.png')}")
    for g in result["goals"]:
        print(goal_line(g))


if __name__ == "__main__":
    main()
