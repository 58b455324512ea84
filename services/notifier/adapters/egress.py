"""Outgoing webhook connections that can only reach checked addresses (SSRF and DNS-rebinding guard).

The name in a subscription URL is resolved once per connection, every address it resolves
to is checked (domain/destinations.py), and the TCP connection goes to a checked address,
never to the name again: a DNS answer that changes between the check and the connect
(rebinding) cannot steer the request to 169.254.169.254 or localhost.

How, with httpx: httpcore opens connections through a *network backend*
(`connect_tcp(host, port, ...)`). `GuardedBackend` is that backend: it resolves with the
injectable resolver, checks, then lets httpcore's own AnyIO backend connect to the checked
IP literal. Everything above the socket still sees the URL's name, so the `Host` header,
TLS SNI and certificate hostname verification are those of the name (connection pooling
is per name too). httpx 0.28 does not take a network backend, so `GuardedTransport` is
httpx's own transport with its connection pool rebuilt around the backend (httpx is
pinned; tests/integration/notifier/test_notifier_egress.py fails if that stops working).
Proxies from the environment are ignored (`trust_env=False`): a proxy would connect on
our behalf to addresses we never checked.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import typing
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import httpcore
import httpx

from services.notifier.domain.destinations import (
    AllowEntry,
    address_allowed,
    check_destination,
    name_allowed,
    parse_address,
)

# host name -> every address it resolves to (IP literals as text). Tests pass their own map.
Resolver = Callable[[str], Awaitable[list[str]]]
DEFAULT_PORTS = {"http": 80, "https": 443}


async def system_resolver(host: str) -> list[str]:
    """The addresses the system resolver gives for `host`, each once, in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    found: list[str] = []
    for *_, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in found:
            found.append(address)
    return found


class DestinationRefused(Exception):
    """A webhook destination that may not be connected to; the message says which rule refused it."""


@dataclass(frozen=True)
class Egress:
    """Resolves and checks webhook destinations against the operator's allow-list."""

    allow: tuple[AllowEntry, ...] = ()
    resolver: Resolver = system_resolver

    async def checked_addresses(self, host: str, port: int) -> list[str]:
        """The addresses `host` resolves to now, every one allowed; else DestinationRefused."""
        literal = parse_address(host)
        if literal is not None:
            found = [str(literal)]
        else:
            try:
                found = await self.resolver(host)
            except OSError as exc:  # socket.gaierror: no such name, or the resolver is away
                raise DestinationRefused(f"{host} does not resolve ({exc})") from None
        refusal = check_destination(host, port, found, self.allow)
        if refusal is not None:
            raise DestinationRefused(str(refusal))
        return found

    async def check_url(self, url: str) -> None:
        """Subscription time: the URL's host resolves only to allowed addresses (else DestinationRefused)."""
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise DestinationRefused(f"not a URL ({exc})") from None
        port = parsed.port or DEFAULT_PORTS.get(parsed.scheme, 0)
        host = parsed.raw_host.decode("ascii")
        found = await self.checked_addresses(host, port)
        if parsed.scheme == "http" and not self._allow_listed(host, port, found):
            # The payload names patients' claims and the signature proves nothing to an eavesdropper:
            # clear text only to a receiver the operator named (an internal one on a trusted network).
            raise DestinationRefused(
                f"plain http:// to {host} would send claim data unencrypted; use https://, "
                "or allow-list an internal receiver (NOTIFIER_WEBHOOK_ALLOW)"
            )

    def _allow_listed(self, host: str, port: int, addresses: list[str]) -> bool:
        if name_allowed(host, port, self.allow):
            return True
        ips = [parse_address(a) for a in addresses]
        return bool(ips) and all(ip is not None and address_allowed(ip, port, self.allow) for ip in ips)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's AnyIO backend, connecting only to addresses `Egress` checked a moment before."""

    def __init__(self, egress: Egress) -> None:
        self._egress = egress
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface: it bounds the connect
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._egress.checked_addresses(host, port)
        failure: Exception | None = None
        for address in addresses:  # every one checked; the first that answers is used
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # checked_addresses never returns an empty list
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise DestinationRefused("webhooks are never sent over a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport whose every connection goes through `GuardedBackend`."""

    def __init__(
        self, egress: Egress, *, verify: ssl.SSLContext | bool = True, limits: httpx.Limits | None = None
    ) -> None:
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        super().__init__(verify=verify, trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(egress),
        )


def guarded_client(egress: Egress, timeout_s: float, *, verify: ssl.SSLContext | bool = True) -> httpx.AsyncClient:
    """The webhook client: no redirects, no proxies from the environment, checked connections only."""
    return httpx.AsyncClient(
        transport=GuardedTransport(egress, verify=verify),
        timeout=timeout_s,
        follow_redirects=False,
        trust_env=False,
    )
