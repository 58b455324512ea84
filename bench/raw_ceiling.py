"""The raw broker ceiling: plain aiokafka forwarders over four hops, no database, no contract.

A producer writes N messages (real ClaimSubmitted bytes, so the same size) to hop0; forwarder k
(a separate process, consumer group `raw-fwd-k`) reads hop(k-1) in batches, produces each record
to hop(k) with the services' producer settings (acks=all, linger 2 ms), waits for the
acknowledgements and commits; a reader counts hop4. Messages/s = N / (last arrival on hop4 -
first send). It is what the services could reach if handling an event cost nothing.

`python -m bench.raw_ceiling forward --bootstrap B --src hop0 --dst hop1 --group g --count N`
is one forwarder (started by `measure`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.common import Processes
from deploy.local import create_topics
from shared.kafka_security import client_options
from shared.topics import TopicSpec

HOPS = 4
PARTITIONS = 12  # as the contract topics


async def forward(bootstrap: str, src: str, dst: str, group: str, count: int) -> None:
    """Consume src, produce to dst, commit after the acknowledgements; stop after `count` records."""
    consumer = AIOKafkaConsumer(
        src, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, auto_offset_reset="earliest",
        max_poll_records=500, **client_options(),
    )  # fmt: skip
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=2, max_batch_size=256 * 1024, **client_options()
    )
    await consumer.start()
    await producer.start()
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)  # joins the group; nothing is produced before "ready"
        print("ready", flush=True)
        done = 0
        while done < count:
            batch = await consumer.getmany(timeout_ms=100, max_records=500)
            futures = [
                await producer.send(dst, rec.value, key=rec.key) for records in batch.values() for rec in records
            ]
            if futures:
                await asyncio.gather(*futures)
                await consumer.commit()
                done += len(futures)
    finally:
        await producer.stop()
        await consumer.stop()


async def _read_ready(procs: Processes, labels: Sequence[str], within: float = 60) -> None:
    for label in labels:
        popen = procs.by_label(label).popen
        assert popen is not None and popen.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(popen.stdout.readline), within)
        if line.strip() != b"ready":
            raise RuntimeError(f"{label} did not start: {line!r}")


async def measure(
    procs: Processes, bootstrap: str, messages: Sequence[tuple[bytes, bytes]], tag: str
) -> dict[str, object]:
    """Send `messages` (key, value) through four forwarder processes; messages/s end to end."""
    topics = [f"bench.raw.{tag}.hop{k}" for k in range(HOPS + 1)]
    await create_topics(bootstrap, [TopicSpec(t, PARTITIONS, 1) for t in topics])
    count = len(messages)
    labels = []
    for k in range(1, HOPS + 1):
        label = f"raw-forwarder-{k}"
        procs.start_helper(
            label,
            [sys.executable, "-m", "bench.raw_ceiling", "forward", "--bootstrap", bootstrap, "--src", topics[k - 1],
             "--dst", topics[k], "--group", f"raw-fwd-{tag}-{k}", "--count", str(count)],
        )  # fmt: skip
        labels.append(label)
    reader = AIOKafkaConsumer(
        topics[-1],
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **client_options(),
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=256 * 1024, **client_options()
    )
    await reader.start()
    await producer.start()
    try:
        await _read_ready(procs, labels)
        procs.mark("raw-start")
        start = time.time()
        futures = [await producer.send(topics[0], value, key=key) for key, value in messages]
        await asyncio.gather(*futures)
        produced = time.time()
        seen, last = 0, start
        deadline = time.monotonic() + max(120.0, count / 200)
        while seen < count and time.monotonic() < deadline:
            batch = await reader.getmany(timeout_ms=200, max_records=5000)
            n = sum(len(r) for r in batch.values())
            if n:
                seen += n
                last = time.time()
        procs.mark("raw-end")
    finally:
        await producer.stop()
        await reader.stop()
        for label in labels:
            procs.stop(procs.by_label(label), timeout=5)
    elapsed = last - start
    return {
        "messages": count,
        "delivered": seen,
        "hops": HOPS,
        "message_bytes": round(sum(len(v) for _, v in messages) / max(count, 1)),
        "produce_seconds": round(produced - start, 3),
        "seconds": round(elapsed, 3),
        "messages_per_s": round(seen / elapsed) if elapsed > 0 else None,
        "cpu_seconds": procs.cpu_between("raw-start", "raw-end"),
        "cpu_seconds_outside_benchmark": procs.cpu_outside("raw-start", "raw-end"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    fwd = sub.add_parser("forward")
    fwd.add_argument("--bootstrap", required=True)
    fwd.add_argument("--src", required=True)
    fwd.add_argument("--dst", required=True)
    fwd.add_argument("--group", required=True)
    fwd.add_argument("--count", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(forward(args.bootstrap, args.src, args.dst, args.group, args.count))


if __name__ == "__main__":
    main()
