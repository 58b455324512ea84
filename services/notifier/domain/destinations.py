"""Where a webhook may be sent: public addresses only, unless the operator's allow-list names the receiver.

A subscription URL is refused when its host is, or resolves to, an address inside the
system or the provider's network: loopback, private (RFC 1918), link-local (the cloud
metadata service at 169.254.169.254), CGNAT, multicast, unspecified, reserved, IPv6 ULA
and link-local, and IPv4-mapped/NAT64/6to4 IPv6 forms of any of those. The same check runs
when the subscription is made and again on every connection (DNS rebinding), against every
address the name resolves to. Pure: resolving and connecting live in adapters/egress.py.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
ALLOW_SETTING = "NOTIFIER_WEBHOOK_ALLOW"

# (network, what it is): checked in order, so the most telling name wins in a refusal.
_V4_FORBIDDEN: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified ('this network')"),
    ("127.0.0.0/8", "loopback"),
    ("10.0.0.0/8", "private"),
    ("172.16.0.0/12", "private"),
    ("192.168.0.0/16", "private"),
    ("169.254.0.0/16", "link-local (cloud metadata)"),
    ("100.64.0.0/10", "CGNAT (shared address space)"),
    ("224.0.0.0/4", "multicast"),
    ("255.255.255.255/32", "broadcast"),
    ("240.0.0.0/4", "reserved"),
    ("192.0.0.0/24", "reserved (IETF protocol assignments)"),
    ("198.18.0.0/15", "reserved (benchmarking)"),
    ("192.0.2.0/24", "reserved (documentation)"),
    ("198.51.100.0/24", "reserved (documentation)"),
    ("203.0.113.0/24", "reserved (documentation)"),
)
_V6_FORBIDDEN: tuple[tuple[str, str], ...] = (
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("fc00::/7", "IPv6 unique local (private)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated private)"),
    ("ff00::/8", "multicast"),
    ("::/96", "reserved (IPv4-compatible)"),
    ("100::/64", "reserved (discard)"),
    ("2001:db8::/32", "reserved (documentation)"),
)
_V4_TABLE = tuple((ipaddress.IPv4Network(n), why) for n, why in _V4_FORBIDDEN)
_V6_TABLE = tuple((ipaddress.IPv6Network(n), why) for n, why in _V6_FORBIDDEN)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def parse_address(text: str) -> IPAddress | None:
    """An IP address literal (IPv6 with or without brackets or a zone), else None (a name)."""
    candidate = text.strip().removeprefix("[").removesuffix("]")
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        return None


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped ::ffff:a.b.c.d, NAT64, 6to4), if any."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def forbidden_because(ip: IPAddress) -> str | None:
    """Why a webhook may not go to `ip`, e.g. "a loopback address (127.0.0.0/8)"; None: a public address."""
    inner = embedded_ipv4(ip)
    if inner is not None:
        why = forbidden_because(inner)
        return f"{why}, written as IPv6" if why else None
    table = _V4_TABLE if isinstance(ip, ipaddress.IPv4Address) else _V6_TABLE
    for network, what in table:
        if ip in network:
            article = "an" if what[0] in "aeiou" else "a"
            return f"{article} {what} address ({network})"
    if not ip.is_global:  # whatever else IANA lists as not globally reachable
        return "an address IANA lists as not globally reachable"
    return None


@dataclass(frozen=True)
class AllowEntry:
    """One operator allow-list entry: a host name, an address or a CIDR block, optionally with a port."""

    name: str | None = None
    network: IPNetwork | None = None
    port: int | None = None

    def __str__(self) -> str:
        where = self.name or str(self.network)
        return f"{where}:{self.port}" if self.port is not None else where


def parse_allow_list(text: str) -> tuple[AllowEntry, ...]:
    """`host[:port]`, `a.b.c.d[:port]`, `[v6][:port]` or a CIDR, comma- or space-separated.

    Raises ValueError naming the bad entry (a typo must not silently allow nothing or everything).
    """
    entries = []
    for raw in text.replace(",", " ").split():
        entries.append(_parse_entry(raw))
    return tuple(entries)


def _parse_entry(raw: str) -> AllowEntry:
    host, port = _split_port(raw)
    if "/" in host:
        try:
            network = ipaddress.ip_network(host, strict=False)
        except ValueError as exc:
            raise ValueError(f"{ALLOW_SETTING}: {raw!r} is not a CIDR block ({exc})") from None
        if network.prefixlen == 0:
            raise ValueError(f"{ALLOW_SETTING}: {raw!r} would allow every address; name the receivers")
        return AllowEntry(network=network, port=port)
    ip = parse_address(host)
    if ip is not None:
        return AllowEntry(network=ipaddress.ip_network(ip), port=port)
    name = host.lower().rstrip(".")
    if not name or any(c in name for c in "@?#\\*") or name.startswith("-"):
        raise ValueError(f"{ALLOW_SETTING}: {raw!r} is not a host name, address or CIDR block")
    return AllowEntry(name=name, port=port)


def _split_port(raw: str) -> tuple[str, int | None]:
    if raw.startswith("["):  # [v6] or [v6]:port
        end = raw.find("]")
        if end < 0:
            raise ValueError(f"{ALLOW_SETTING}: {raw!r} lacks its closing ']'")
        rest = raw[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError(f"{ALLOW_SETTING}: {raw!r} has text after ']' that is not ':port'")
        return raw[1:end], _port(raw, rest[1:]) if rest else None
    if raw.count(":") == 1:  # host:port (a bare IPv6 address has several colons)
        host, port = raw.split(":")
        return host, _port(raw, port)
    return raw, None


def _port(raw: str, text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{ALLOW_SETTING}: {raw!r} has a bad port {text!r}")
    return int(text)


@dataclass(frozen=True)
class Refusal:
    """Why a destination is refused, for the operator (CLI) or the delivery log."""

    reason: str

    def __str__(self) -> str:
        return self.reason


def _port_matches(entry: AllowEntry, port: int) -> bool:
    return entry.port is None or entry.port == port


def name_allowed(host: str, port: int, allow: Sequence[AllowEntry]) -> bool:
    """Does the allow-list name this host (and port)? Then its addresses are the operator's call."""
    wanted = host.lower().rstrip(".")
    return any(e.name == wanted and _port_matches(e, port) for e in allow)


def address_allowed(ip: IPAddress, port: int, allow: Sequence[AllowEntry]) -> bool:
    inner = embedded_ipv4(ip)
    for entry in allow:
        if entry.network is None or not _port_matches(entry, port):
            continue
        if ip.version == entry.network.version and ip in entry.network:
            return True
        if inner is not None and entry.network.version == 4 and inner in entry.network:
            return True
    return False


def check_destination(host: str, port: int, addresses: Sequence[str], allow: Sequence[AllowEntry]) -> Refusal | None:
    """None when a webhook to `host:port` may go to every one of `addresses`; else why not.

    Every address is checked (a name with one public and one private address is refused:
    the connection could land on either).
    """
    if not addresses:
        return Refusal(f"{host} resolves to no address")
    if name_allowed(host, port, allow):
        return None
    for text in addresses:
        ip = parse_address(text)
        if ip is None:
            return Refusal(f"{host} resolved to {text!r}, which is not an IP address")
        why = forbidden_because(ip)
        if why is not None and not address_allowed(ip, port, allow):
            shown = host if parse_address(host) is not None else f"{host} resolves to {ip}, which"
            return Refusal(
                f"{shown} is {why}: refused unless {ALLOW_SETTING} names it "
                f"(e.g. {ALLOW_SETTING}={_suggest(host, ip, port)})"
            )
    return None


def _suggest(host: str, ip: IPAddress, port: int) -> str:
    if parse_address(host) is None:
        return f"{host}:{port}"
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"
