"""Benchmark: claims per second of the running grouper service through the broker.

On a fresh local stack, the grouper runs as its own process (`python -m services.grouper.app`:
migrations, inbox/outbox in PostgreSQL, batches of KAFKA_MAX_BATCH). The same deterministic claims
as the engine benchmark (`bench/grouper_engine.py`: random valid codes, some rejected) are offered
on claims.submitted as fast as possible after a warm-up; claims/s = answers (claims.grouped +
claims.rejected) / (last answer seen - first claim offered). Also: the grouper's CPU per claim, its
peak RSS, and the ratio to the pure engine's figure (bench/results/grouper-engine.json, when present).
Writes bench/results/grouper-service.json.

Run: .venv/bin/python -m bench.grouper_service [--claims 20000]   (or `make bench-grouper`)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file (`python bench/grouper_service.py`): make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    MB,
    RESULTS,
    Observer,
    Processes,
    fresh_stack,
    machine_facts,
    make_producer,
    offer,
    profiling,
    stop_on_sigterm,
    wait_ready,
    write_json,
)
from bench.grouper_engine import RESULT_FILE as ENGINE_RESULT
from bench.grouper_engine import generate
from deploy.local import create_topics
from services.grouper.domain import load_grouper_tables
from shared import topics
from shared.events import ClaimData, ClaimSubmitted, ClaimSubmittedPayload, encode_event

RESULT_FILE = RESULTS / "grouper-service.json"
ANSWERS = (topics.CLAIMS_GROUPED, topics.CLAIMS_REJECTED)


def submissions(claims: list[ClaimData], prefix: str) -> list[tuple[str, bytes, bytes]]:
    """(topic, key, bytes) of revision 0 of each claim."""
    out = []
    for i, claim in enumerate(claims):
        event = ClaimSubmitted(
            occurred_at=datetime.now(UTC),
            claim_id=f"{prefix}-{i:07d}",
            correlation_id=uuid.uuid4(),
            producer=f"hospital:{claim.kode_rs}",
            payload=ClaimSubmittedPayload(revision=0, claim=claim),
        )
        out.append((event.topic, event.key.encode(), encode_event(event)))
    return out


async def answered(obs: Observer, claim_ids: list[str], within: float, stall: float = 30) -> bool:
    """Until every claim has a grouped or rejected answer; False on timeout or a stall."""
    deadline = time.monotonic() + within
    last, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = sum(obs.count(t, claim_ids) for t in ANSWERS)
        if n >= len(claim_ids):
            return True
        if n != last:
            last, last_change = n, time.monotonic()
        elif time.monotonic() - last_change > stall:
            return False
        await asyncio.sleep(0.1)
    return False


def engine_figure() -> dict[str, Any] | None:
    """The pure engine's last result, if `bench/grouper_engine.py` has been run."""
    if not ENGINE_RESULT.exists():
        return None
    data: dict[str, Any] = json.loads(ENGINE_RESULT.read_text(encoding="utf-8"))
    return {k: data.get(k) for k in ("claims_per_s", "claims", "date", "load_average_at_start")}


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"benchmark": "grouper-service", "machine": machine_facts(), "config": vars(args).copy()}
    tables = load_grouper_tables()
    warm = submissions(generate(tables, args.warmup, seed=7), "GSB-WARM")
    claims = generate(tables, args.claims)
    del tables
    items = submissions(claims, "GSB")
    claim_ids = [f"GSB-{i:07d}" for i in range(len(claims))]
    stack = fresh_stack()
    procs = Processes(stack)
    result["stack"] = stack.kind
    failed = True
    try:
        await create_topics(stack.bootstrap_servers)
        grouper = procs.start_service("grouper")
        await wait_ready(grouper)
        obs = Observer(stack.bootstrap_servers, ANSWERS)
        await obs.start()
        producer = make_producer(stack.bootstrap_servers)
        await producer.start()
        try:
            await offer(producer, warm)
            if not await answered(obs, [f"GSB-WARM-{i:07d}" for i in range(len(warm))], args.timeout):
                raise RuntimeError(f"the grouper did not answer the warm-up:\n{grouper.log_tail()}")
            procs.mark("start")
            with contextlib.ExitStack() as profilers:
                if args.profile:  # py-spy the grouper while the measured claims flow
                    ext = "svg" if args.profile_format == "flamegraph" else "txt"
                    out = RESULTS / f"profile-grouper-service.{ext}"
                    profilers.enter_context(profiling(grouper.pid, out, 15, args.profile_format))
                start, offered, _ = await offer(producer, items)
                complete = await answered(obs, claim_ids, args.timeout)
            procs.mark("end")
        finally:
            await producer.stop()
            await obs.stop()
        failed = False
    finally:
        procs.stop_all(keep_logs=failed)
        stack.stop()
    arrivals = [obs.first[t][c].received for t in ANSWERS for c in claim_ids if c in obs.first[t]]
    seconds = max(arrivals) - start if arrivals else None
    cpu = procs.cpu_between("start", "end")
    outcomes = Counter({t.removeprefix("claims."): obs.count(t, claim_ids) for t in ANSWERS})
    claims_per_s = round(len(arrivals) / seconds, 1) if seconds else None
    grouper_cpu_ms = cpu.get("grouper", 0.0) * 1000 / max(len(arrivals), 1)
    engine = engine_figure()
    result.update({
        "claims": len(claim_ids),
        "complete": complete,
        "outcomes": dict(outcomes),
        "offer_seconds": round(offered - start, 3),
        "seconds": round(seconds, 3) if seconds else None,
        "claims_per_s": claims_per_s,
        "cpu_seconds": cpu,
        "cpu_seconds_outside_benchmark": procs.cpu_outside("start", "end"),
        "grouper_cpu_ms_per_claim": round(grouper_cpu_ms, 3),
        "grouper_claims_per_cpu_s": round(1000 / grouper_cpu_ms) if grouper_cpu_ms else None,
        "grouper_peak_rss_mb": round(procs.by_label("grouper").peak_rss / MB, 1),
        "engine": engine,
        "ratio_to_engine": round(claims_per_s / engine["claims_per_s"], 4)
        if engine and claims_per_s and engine.get("claims_per_s") else None,
        "duplicate_answers": sum(obs.duplicates.values()),
    })  # fmt: skip
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--profile", action="store_true", help="py-spy the grouper for 15 s of the run")
    parser.add_argument("--profile-format", default="flamegraph", choices=("flamegraph", "raw", "speedscope"))
    parser.add_argument("--output", type=Path, default=RESULT_FILE)
    args = parser.parse_args()
    stop_on_sigterm()
    try:
        result = asyncio.run(bench(args))
    except KeyboardInterrupt:
        print("interrupted: every process the benchmark started was stopped", file=sys.stderr)
        raise SystemExit(130) from None
    result["config"]["output"] = str(args.output)
    write_json(args.output, result)
    print(json.dumps({k: v for k, v in result.items() if k not in ("config", "machine")}, indent=2))


if __name__ == "__main__":
    main()
