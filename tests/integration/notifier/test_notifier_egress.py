"""Webhook destinations against the real notifier, database and a loopback receiver: refused before any
connection unless allow-listed, checked when subscribing and again when connecting (DNS rebinding).

Names are mapped by an injected resolver (no DNS). Public addresses are only ever checked: the guard
below fails any test in which the notifier would open a connection to anything but loopback.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpcore
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from deploy.local import free_port
from services.notifier import application
from services.notifier.adapters.egress import Egress, guarded_client
from services.notifier.adapters.sealing import SecretBox
from services.notifier.domain.destinations import parse_allow_list
from services.notifier.domain.routing import with_defaults
from tests.integration.notifier.notifier_support import (
    CLOCK,
    SECRET,
    SECRETS_KEY,
    Notifier,
    Receiver,
    documented_verifier,
    event,
    kode_rs,
    signed_headers,
    webhook,
)
from tests.support.kafka import eventually

pytestmark = pytest.mark.integration

PUBLIC = "93.184.215.14"  # checked, never connected to
LOOPBACK = {"127.0.0.1", "::1"}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every TCP connection the notifier opens, asserted to be to loopback (the workplace forbids the rest)."""
    opened: list[str] = []
    real = httpcore.AnyIOBackend.connect_tcp

    async def guarded(self: httpcore.AnyIOBackend, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        assert host in LOOPBACK, f"the notifier tried to connect to {host}:{port}"
        opened.append(f"{host}:{port}")
        return await real(self, host, port, *args, **kwargs)

    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", guarded)
    yield opened


class Names:
    """An injectable resolver: host name -> addresses, changeable while the notifier runs."""

    def __init__(self, names: dict[str, list[str]] | None = None) -> None:
        self.names = dict(names or {})
        self.asked: list[str] = []

    async def __call__(self, host: str) -> list[str]:
        self.asked.append(host)
        if host not in self.names:
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        return list(self.names[host])


async def check(url: str, allow: str = "", names: dict[str, list[str]] | None = None) -> str | None:
    request = webhook("0301R001", url)
    return await application.destination_problem(request, Egress(parse_allow_list(allow), Names(names)))


async def test_metadata_loopback_and_names_resolving_to_private_addresses_are_refused_at_subscription() -> None:
    port = free_port()
    metadata = await check("http://169.254.169.254/latest/meta-data/")
    assert metadata is not None
    assert "169.254.169.254 is a link-local (cloud metadata) address (169.254.0.0/16)" in metadata
    assert metadata.startswith("webhook URL 'http://169.254.169.254/latest/meta-data/': ")
    loopback = await check(f"http://127.0.0.1:{port}/hook")
    assert loopback is not None and "127.0.0.1 is a loopback address (127.0.0.0/8)" in loopback
    assert f"NOTIFIER_WEBHOOK_ALLOW=127.0.0.1:{port}" in loopback  # what the operator would add
    private = await check("https://simrs.rs-0301.test/hook", names={"simrs.rs-0301.test": ["10.0.0.5"]})
    assert private is not None
    assert "simrs.rs-0301.test resolves to 10.0.0.5, which is a private address (10.0.0.0/8)" in private
    localhost = await check(f"http://localhost:{port}/", names={"localhost": ["127.0.0.1", "::1"]})
    assert localhost is not None and "loopback" in localhost
    unknown = await check("https://nowhere.rs.test/hook")
    assert unknown is not None and "nowhere.rs.test does not resolve" in unknown
    # A public address is accepted (and, here, only checked), over https only.
    assert await check("https://simrs.rs-0302.test/hook", names={"simrs.rs-0302.test": [PUBLIC]}) is None
    clear = await check("http://simrs.rs-0302.test/hook", names={"simrs.rs-0302.test": [PUBLIC]})
    assert clear is not None and "plain http:// to simrs.rs-0302.test would send claim data unencrypted" in clear
    # Another loopback port than the allow-listed one stays refused.
    assert await check(f"http://127.0.0.1:{port + 1}/", allow=f"127.0.0.1:{port}") is not None


async def test_an_allow_listed_receiver_gets_signed_deliveries_under_its_name(
    notifier: Notifier, receiver: Receiver, loopback_only: list[str]
) -> None:
    rs = kode_rs()
    names = Names({"simrs.rs-0301.test": ["127.0.0.1"]})
    config = notifier.tuned(webhook_allow=f"127.0.0.1:{receiver.port}")  # exactly this receiver
    url = f"http://simrs.rs-0301.test:{receiver.port}/jkn/notify"
    pended = event("ClaimPended", rs)
    async with notifier.running(config, resolver=names) as runtime:
        assert runtime.ctx is not None
        pool = runtime.ctx.pool
        outcome = await _subscribe(pool, webhook(rs, url), Egress(config.allow_list(), names))
        assert outcome.problems == () and outcome.subscription_id is not None
        await notifier.publish(pended)
        await eventually(lambda: _status(pool, pended.event_id, "delivered"), within=20)
    (got,) = receiver.to("/jkn/notify")
    assert got.headers["host"] == f"simrs.rs-0301.test:{receiver.port}"  # connected to the IP, Host kept
    assert documented_verifier()(SECRET, signed_headers(got), got.body)
    assert loopback_only == [f"127.0.0.1:{receiver.port}"]
    assert names.asked.count("simrs.rs-0301.test") == 2  # once to subscribe, once more to connect


async def test_a_name_rebound_to_a_private_address_after_subscribing_is_refused_before_connecting(
    notifier: Notifier, receiver: Receiver, loopback_only: list[str]
) -> None:
    rs = kode_rs()
    names = Names({"hook.rs-0303.test": [PUBLIC]})
    url = f"https://hook.rs-0303.test:{receiver.port}/hook"  # public: https is required
    paid = event("ClaimPaid", rs)
    async with notifier.running(resolver=names) as runtime:
        assert runtime.ctx is not None
        pool = runtime.ctx.pool
        outcome = await _subscribe(pool, webhook(rs, url), Egress(notifier.config.allow_list(), names))
        assert outcome.subscription_id is not None  # public when subscribing
        names.names["hook.rs-0303.test"] = ["10.0.0.5"]  # the attacker's DNS answers differently now
        await notifier.publish(paid)
        await eventually(lambda: _status(pool, paid.event_id, "dead"), within=20)
        attempts = await pool.fetch(
            "SELECT a.status_code, a.outcome, a.error FROM delivery_attempts a "
            "JOIN deliveries d ON d.id = a.delivery_id WHERE d.event_id = $1",
            paid.event_id,
        )
        dead = await pool.fetchval("SELECT reason FROM dead_letters WHERE event_id = $1", paid.event_id)
    assert [(a["status_code"], a["outcome"]) for a in attempts] == [(None, "failed")]  # final at once, no retry
    expected = (
        "destination refused before connecting: hook.rs-0303.test resolves to 10.0.0.5, "
        "which is a private address (10.0.0.0/8)"
    )
    assert attempts[0]["error"].startswith(expected)
    assert expected in dead
    assert loopback_only == [] and receiver.requests == []  # nothing was sent anywhere


async def test_tls_to_a_name_goes_to_the_checked_address_with_the_names_sni_host_and_certificate(
    tmp_path: Path, loopback_only: list[str]
) -> None:
    cert_pem = _self_signed("simrs.rs-0304.test", tmp_path)
    seen_sni: list[str | None] = []
    seen_host: list[str] = []
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")

    def remember_sni(_sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, _ctx: ssl.SSLContext) -> None:
        seen_sni.append(name)

    server_ctx.sni_callback = remember_sni

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            seen_host.extend(h.split(":", 1)[1].strip() for h in head if h.lower().startswith("host:"))
            writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    names = Names({"simrs.rs-0304.test": ["127.0.0.1"], "other.rs-0304.test": ["127.0.0.1"]})
    egress = Egress(parse_allow_list(f"127.0.0.1:{port}"), names)
    trust = ssl.create_default_context(cadata=cert_pem)
    try:
        async with guarded_client(egress, 5.0, verify=trust) as client:
            answered = await client.post(f"https://simrs.rs-0304.test:{port}/hook", content=b"{}")
            assert answered.status_code == 204
            with pytest.raises(
                httpx.ConnectError, match="Hostname mismatch"
            ):  # the certificate is checked against the name
                await client.post(f"https://other.rs-0304.test:{port}/hook", content=b"{}")
    finally:
        server.close()
        await server.wait_closed()
    assert seen_sni[0] == "simrs.rs-0304.test"  # SNI: the URL's name, though the socket went to 127.0.0.1
    assert seen_host == [f"simrs.rs-0304.test:{port}"]
    assert loopback_only == [f"127.0.0.1:{port}", f"127.0.0.1:{port}"]


def _self_signed(name: str, where: Path) -> str:
    """A certificate for `name` only (and its key), written to where/cert.pem and where/key.pem."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    (where / "cert.pem").write_text(pem)
    (where / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return pem


async def _subscribe(pool: asyncpg.Pool, request: Any, egress: Egress) -> application.Outcome:
    async with pool.acquire() as conn, conn.transaction():
        return await application.subscribe(
            conn, with_defaults(request), egress=egress, box=SecretBox([SECRETS_KEY]), now=CLOCK.now()
        )


async def _status(pool: asyncpg.Pool, event_id: object, status: str) -> bool:
    return bool(await pool.fetchval("SELECT status FROM deliveries WHERE event_id = $1", event_id) == status)
