"""Benchmark: signed claim submissions per second through the hospital gateway to `claims.submitted`.

On a fresh local stack (durable PostgreSQL), the gateway runs as its own process (`python -m
services.gateway.app`). Hospitals registered in its schema send `POST /v1/claims` (each a new SEP, signed
over the body, `CONCURRENCY` requests in flight over keep-alive connections); every 202 means the claim
and its outbox row were committed. Measured: requests per second accepted, each request's latency (p50,
p99), and claims per second *published* (202s until the relay has put the last one on claims.submitted,
counted on the broker). Writes bench/results/gateway.json.

Run: .venv/bin/python -m bench.gateway [--claims 3000 --concurrency 32]   (or `make bench-gateway`)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from cryptography.fernet import Fernet

from deploy.local import free_port, start_stack
from services.gateway.adapters import repository
from services.gateway.adapters.sealing import SecretBox
from services.gateway.domain.signature import sign
from services.gateway.service import SPEC
from shared import db, topics

RESULT_FILE = Path(__file__).resolve().parent / "results" / "gateway.json"
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "events" / "ClaimSubmitted.json"
HOSPITALS = [f"03{n:02d}R001" for n in range(1, 5)]
WARM_UP = 200


async def register(dsn: str, box: SecretBox) -> dict[str, str]:
    """One credential per hospital: {kode_rs: secret}."""
    await db.migrate(dsn, SPEC.schema, SPEC.migrations)  # type: ignore[arg-type]
    pool = await db.create_pool(dsn, SPEC.schema, max_size=1)
    secrets = {}
    try:
        async with pool.acquire() as conn:
            for kode_rs in HOSPITALS:
                secrets[kode_rs] = f"bench-secret-{kode_rs}"
                row = repository.HospitalRow(kode_rs, "hospital", kode_rs, kode_rs, "BP", 1, 10_000.0, 10_000)
                await repository.add_hospital(conn, row, box.seal(secrets[kode_rs]))
    finally:
        await pool.close()
    return secrets


def bodies(n: int) -> list[tuple[str, bytes]]:
    """(kode_rs, body) of n distinct claims, spread over the hospitals."""
    claim = json.loads(EXAMPLE.read_text())["payload"]["claim"]
    out = []
    for i in range(n):
        kode_rs = HOSPITALS[i % len(HOSPITALS)]
        out.append((kode_rs, json.dumps(claim | {"kode_rs": kode_rs, "nomor_sep": f"{kode_rs}1126V{i:06d}"}).encode()))
    return out


class Published:
    """Reads claims.submitted from the beginning and counts the distinct claims on it (what consumers see)."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.keys: set[bytes] = set()

    async def start(self) -> None:
        await self.consumer.start()
        await self.consumer._client.force_metadata_update()
        parts = [TopicPartition(topics.CLAIMS_SUBMITTED, p)
                 for p in sorted(self.consumer.partitions_for_topic(topics.CLAIMS_SUBMITTED) or ())]  # fmt: skip
        self.consumer.assign(parts)
        await self.consumer.seek_to_beginning(*parts)

    async def until(self, count: int) -> None:
        """Wait until `count` distinct claims were read."""
        deadline = time.monotonic() + 300
        while len(self.keys) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(self.keys)} of {count} claims on claims.submitted after 300 s")
            for records in (await self.consumer.getmany(timeout_ms=100)).values():
                self.keys.update(r.key for r in records if r.key is not None)

    async def stop(self) -> None:
        await self.consumer.stop()


async def drive(url: str, secrets: dict[str, str], work: list[tuple[str, bytes]], concurrency: int) -> list[float]:
    """Send every request, `concurrency` at a time; each one's latency in seconds (all must be 202)."""
    latencies: list[float] = []
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for item in work:
        queue.put_nowait(item)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:

        async def worker() -> None:
            while not queue.empty():
                kode_rs, body = queue.get_nowait()
                ts = str(int(time.time()))
                headers = {"X-cons-id": kode_rs, "X-timestamp": ts, "Content-Type": "application/json",
                           "X-signature": sign(secrets[kode_rs], kode_rs, ts, body)}  # fmt: skip
                started = time.perf_counter()
                r = await http.post("/v1/claims", content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                if r.status_code != 202:
                    raise RuntimeError(f"{r.status_code} {r.text[:300]}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("the gateway exited while starting")
            try:
                if (await http.get(f"{url}/health/ready", timeout=2)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the gateway did not become ready")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(url: str, bootstrap: str, secrets: dict[str, str], claims: int, concurrency: int) -> dict[str, Any]:
    work = bodies(claims + WARM_UP)
    seen = Published(bootstrap)
    await seen.start()
    try:
        await drive(url, secrets, work[:WARM_UP], concurrency)  # warm-up: connections, credential cache, pool
        await seen.until(WARM_UP)
        started = time.perf_counter()
        done: dict[str, float] = {}

        async def timed(name: str, work: Awaitable[Any]) -> Any:
            result = await work
            done[name] = time.perf_counter() - started
            return result

        latencies, _ = await asyncio.gather(timed("accepted", drive(url, secrets, work[WARM_UP:], concurrency)),
                                            timed("published", seen.until(claims + WARM_UP)))  # fmt: skip
        accepted_s, published_s = done["accepted"], done["published"]
    finally:
        await seen.stop()
    return {
        "accepted_per_s": round(claims / accepted_s, 1),
        "published_per_s": round(claims / published_s, 1),
        "latency_ms": {
            "p50": round(statistics.median(latencies) * 1000, 2),
            "p99": round(percentile(latencies, 0.99) * 1000, 2),
            "max": round(max(latencies) * 1000, 2),
        },
    }


def run(claims: int, concurrency: int) -> dict[str, Any]:
    """A fresh durable stack, the gateway as its own process, then the measurement."""
    stack = start_stack(durable=True)
    key = Fernet.generate_key().decode()
    proc = None
    try:
        secrets = asyncio.run(register(stack.database_url, SecretBox([key])))
        port = free_port()
        env = {**os.environ, **stack.env(), "GATEWAY_SECRETS_KEY": key, "SERVICE_HTTP_PORT": str(port),
               "SERVICE_LOG_LEVEL": "WARNING", "DB_POOL_MAX": "10"}  # fmt: skip
        proc = subprocess.Popen([sys.executable, "-m", "services.gateway.app"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        asyncio.run(wait_ready(url, proc))
        figures = asyncio.run(measure(url, stack.bootstrap_servers, secrets, claims, concurrency))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        stack.stop()
    return {
        "benchmark": "gateway",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "stack": stack.kind},
        "claims": claims,
        "concurrency": concurrency,
        **figures,
        "what": "POST /v1/claims, signed, each a new SEP, from 4 hospitals: 202 after the claim and its outbox row "
        "committed (durable PostgreSQL); published = on claims.submitted, counted on the broker; one gateway process",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    result = run(args.claims, args.concurrency)
    RESULT_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULT_FILE.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
