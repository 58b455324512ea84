"""`python -m deploy.topics`: create every topic of shared/topics.py on the broker, then check they exist.

The compose `topic-init` job runs it before the services start. Partitions and retention come
from the one topic table (`shared.topics.all_topics()`: event topics and their `.dlq`), the same
table that `python -m deploy.gen_topics` turns into Strimzi KafkaTopic resources for Kubernetes.
With KAFKA_TOPIC_PREFIX set, every name gets the prefix, as the services expect.
Topics that already exist are left as they are (raising partitions is an operator's decision:
it moves keys between partitions, see deploy/README.md). It waits for the broker up to `--wait`
seconds, so it may start before Kafka is ready. The topics hospitals write get
message.timestamp.type=LogAppendTime (receipt time dates deadlines); a topic created before that
flag keeps CreateTime until an operator alters it (deploy/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import time
from collections.abc import Sequence

from deploy.local import STACK_ENV, create_topics
from shared.settings import BrokerSettings
from shared.topics import TopicSpec, all_topics

RETRY_DELAY_S = 2.0


def topic_specs(prefix: str = "") -> list[TopicSpec]:
    """The table's topics, named as this deployment's services name them (KAFKA_TOPIC_PREFIX)."""
    return [dataclasses.replace(t, name=prefix + t.name) for t in all_topics()]


def bootstrap_servers(explicit: str | None = None) -> str:
    """--bootstrap, else KAFKA_BOOTSTRAP_SERVERS, else the running local stack's file; '' when none."""
    if explicit:
        return explicit
    configured = BrokerSettings().bootstrap_servers
    if configured:
        return configured
    if STACK_ENV.exists():
        for line in STACK_ENV.read_text().splitlines():
            key, _, value = line.partition("=")
            if key == "KAFKA_BOOTSTRAP_SERVERS":
                return value
    return ""


async def existing_topics(bootstrap: str) -> set[str]:
    """The names of the topics the broker has."""
    from aiokafka.admin import AIOKafkaAdminClient

    from shared.kafka_security import client_options

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options())
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def ensure_topics(bootstrap: str, specs: Sequence[TopicSpec], wait_s: float) -> tuple[list[str], list[str]]:
    """Create the missing topics, retrying until the broker answers; returns (created, already there)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            before = await existing_topics(bootstrap)
            await create_topics(bootstrap, specs)
            after = await existing_topics(bootstrap)
            break
        except Exception as exc:  # broker not up yet, or a concurrent creator won the race
            if time.monotonic() >= deadline:
                raise
            print(f"topics: broker not ready ({exc!r}); retrying", file=sys.stderr, flush=True)
            await asyncio.sleep(RETRY_DELAY_S)
    wanted = [s.name for s in specs]
    missing = [name for name in wanted if name not in after]
    if missing:
        raise RuntimeError(f"topics still missing after creation: {', '.join(missing)}")
    return [n for n in wanted if n not in before], [n for n in wanted if n in before]


def main(argv: Sequence[str] | None = None) -> int:
    """Create the topics; exit 0 when every topic of the table exists."""
    parser = argparse.ArgumentParser(
        prog="python -m deploy.topics", description="Create every topic of shared/topics.py."
    )
    parser.add_argument("--bootstrap", help="host:port list (default: KAFKA_BOOTSTRAP_SERVERS)")
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the broker (default 120)")
    args = parser.parse_args(argv)
    bootstrap = bootstrap_servers(args.bootstrap)
    if not bootstrap:
        print("error: set KAFKA_BOOTSTRAP_SERVERS (or pass --bootstrap)", file=sys.stderr)
        return 2
    specs = topic_specs(BrokerSettings().topic_prefix)
    try:
        created, present = asyncio.run(ensure_topics(bootstrap, specs, args.wait))
    except Exception as exc:
        print(f"error: topics not created on {bootstrap}: {exc!r}", file=sys.stderr)
        return 1
    for spec in specs:
        state = "created" if spec.name in created else "exists"
        stamp = " timestamp=LogAppendTime" if spec.log_append_time else ""
        print(f"{state:<8} {spec.name}  partitions={spec.partitions} retention_days={spec.retention_days}{stamp}")
    print(f"topics: {len(created)} created, {len(present)} already present on {bootstrap}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
