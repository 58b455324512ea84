"""The gateway killed between the commit and the publish: the claim is published once after the restart.

The test holds the schema's relay lock, as a second gateway instance's relay would, so the first process's
relay stands by and cannot publish; the claim is then committed (200), the process is killed with SIGKILL,
the lock is let go, and a new process publishes what the first one committed: exactly one ClaimSubmitted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
import httpx
import pytest
from cryptography.fernet import Fernet

from deploy.local import Stack, free_port
from services.gateway.adapters.sealing import SecretBox
from services.gateway.service import SPEC
from shared import db
from shared.events import ClaimSubmitted
from tests.support.gateway import Client, register
from tests.support.kafka import eventually
from tests.support.services import new_lane

pytestmark = pytest.mark.integration
SEP = "0301R0011126V424242"


@contextmanager
def gateway_process(env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.gateway_process"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


async def ready(url: str) -> bool:
    try:
        async with httpx.AsyncClient() as http:
            return (await http.get(f"{url}/health/ready", timeout=2)).status_code == 200
    except httpx.HTTPError:
        return False


async def test_a_claim_committed_before_a_crash_is_published_once_after_the_restart(stack: Stack) -> None:
    lane = await new_lane(stack)
    schema = f"{SPEC.schema}_{lane.suffix}"
    key = Fernet.generate_key().decode()
    await db.migrate(stack.database_url, schema, SPEC.migrations)  # type: ignore[arg-type]
    hospital = await register(stack.database_url, schema, SecretBox([key]), "cons-crash", "0301R001")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": stack.database_url, "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
           "KAFKA_TOPIC_PREFIX": lane.prefix, "GATEWAY_SECRETS_KEY": key, "SERVICE_HTTP_PORT": str(port),
           "LANE_SUFFIX": lane.suffix, "SERVICE_LOG_LEVEL": "WARNING",
           "KAFKA_SESSION_TIMEOUT_MS": "6000"}  # fmt: skip
    standby: asyncpg.Connection = await asyncpg.connect(stack.database_url)
    await standby.execute("SELECT pg_advisory_lock($1)", db.advisory_key(f"relay:{schema}"))
    pool = await db.create_pool(stack.database_url, schema, max_size=1)
    try:
        with gateway_process(env) as first:
            await eventually(lambda: ready(url), within=60)
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                client = Client(http, hospital)
                patient = {"nomor_kartu": "0001234567890", "nomor_sep": SEP, "nomor_rm": "1", "nama_pasien": "X",
                           "tgl_lahir": "1968-04-02 00:00:00", "gender": "1"}  # fmt: skip
                created = await client.eklaim("new_claim", patient)
                assert created.status_code == 200, created.text
                data = {"tgl_masuk": "2026-11-02 08:00:00", "tgl_pulang": "2026-11-05 10:00:00", "jenis_rawat": "1",
                        "kelas_rawat": "3", "diagnosa": "K35.9", "procedure": "47.09", "coder_nik": "1",
                        "tarif_rs": {"kamar": "800000", "prosedur_bedah": "2750000"}}  # fmt: skip
                assert (await client.eklaim("set_claim_data", data, nomor_sep=SEP)).status_code == 200
                final = await client.eklaim("claim_final", {"nomor_sep": SEP, "coder_nik": "1"})
                assert final.status_code == 200, final.text
            unsent = await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
            assert unsent == 1  # committed, not published
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        assert await lane.events("claims.submitted") == []
        await standby.close()  # the lock goes with the session, as a dead instance's would
        with gateway_process(env):
            await eventually(lambda: ready(url), within=60)

            async def published() -> bool:
                return int(await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")) == 0

            await eventually(published, within=60)
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                again = await Client(http, hospital).eklaim("claim_final", {"nomor_sep": SEP, "coder_nik": "1"})
            assert (again.status_code, again.json()) == (200, final.json())
    finally:
        await pool.close()
        if not standby.is_closed():
            await standby.close()
    events = await lane.events("claims.submitted")
    assert [(type(e), e.claim_id, e.event_id) for e in events] == [
        (ClaimSubmitted, SEP, events[0].event_id)]  # fmt: skip
    assert str(events[0].event_id) == final.json()["response"]["event_id"]
