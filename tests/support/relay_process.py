"""One service instance's outbox relay as its own process, for the leader-kill test.

`python -m tests.support.relay_process` with DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS and RELAY_SCHEMA.
With RELAY_DIE_WHEN=<path>: once that file exists, the relay kills itself with SIGKILL in its next
round, after the broker acknowledged the rows and before they are marked sent (the worst moment).
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from aiokafka import AIOKafkaProducer

from shared.kafka_security import client_options
from shared.outbox import OutboxRelay


async def main() -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"], acks="all", linger_ms=2, **client_options()
    )
    await producer.start()
    marker = os.environ.get("RELAY_DIE_WHEN")

    def hook(_ids: list[int]) -> None:
        if marker and Path(marker).exists():
            os.kill(os.getpid(), signal.SIGKILL)

    relay = OutboxRelay(
        os.environ["DATABASE_URL"],
        os.environ["RELAY_SCHEMA"],
        producer,
        batch=int(os.environ.get("RELAY_BATCH", "20")),
        after_publish=hook,
    )
    relay.start()
    await asyncio.Event().wait()  # until SIGTERM or SIGKILL


if __name__ == "__main__":
    asyncio.run(main())
