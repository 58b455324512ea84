"""Which webhook destinations are refused, and what the operator's allow-list lets through (pure rules)."""

from __future__ import annotations

import pytest

from services.notifier.domain.destinations import check_destination, parse_allow_list

PUBLIC_V4 = "93.184.215.14"  # only ever checked here, never connected to
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


@pytest.mark.parametrize(
    ("address", "named"),
    [
        ("169.254.169.254", "link-local (cloud metadata) address (169.254.0.0/16)"),
        ("127.0.0.1", "loopback address (127.0.0.0/8)"),
        ("127.8.9.10", "loopback address (127.0.0.0/8)"),
        ("10.0.0.5", "private address (10.0.0.0/8)"),
        ("172.20.1.1", "private address (172.16.0.0/12)"),
        ("192.168.1.10", "private address (192.168.0.0/16)"),
        ("100.64.0.1", "CGNAT (shared address space) address (100.64.0.0/10)"),
        ("224.0.0.251", "multicast address (224.0.0.0/4)"),
        ("0.0.0.0", "unspecified ('this network') address (0.0.0.0/8)"),
        ("240.1.2.3", "reserved address (240.0.0.0/4)"),
        ("255.255.255.255", "broadcast address (255.255.255.255/32)"),
        ("::1", "loopback address (::1/128)"),
        ("::", "unspecified address (::/128)"),
        ("fd12:3456::1", "IPv6 unique local (private) address (fc00::/7)"),
        ("fe80::1", "link-local address (fe80::/10)"),
        ("ff02::1", "multicast address (ff00::/8)"),
        ("::ffff:127.0.0.1", "loopback address (127.0.0.0/8), written as IPv6"),
        ("::ffff:169.254.169.254", "link-local (cloud metadata) address (169.254.0.0/16), written as IPv6"),
        ("64:ff9b::a00:5", "private address (10.0.0.0/8), written as IPv6"),  # NAT64 of 10.0.0.5
    ],
)
def test_an_address_inside_the_network_is_refused_and_the_rule_named(address: str, named: str) -> None:
    refusal = check_destination(address, 443, [address], ())
    assert refusal is not None
    assert named in str(refusal)
    assert "NOTIFIER_WEBHOOK_ALLOW" in str(refusal)


def test_public_addresses_are_accepted() -> None:
    assert check_destination(PUBLIC_V4, 443, [PUBLIC_V4], ()) is None
    assert check_destination("simrs.rs.example", 443, [PUBLIC_V4, PUBLIC_V6], ()) is None
    assert check_destination("x", 443, [f"::ffff:{PUBLIC_V4}"], ()) is None


def test_a_name_is_refused_when_any_of_its_addresses_is_private() -> None:
    refusal = check_destination("simrs.rs.example", 443, [PUBLIC_V4, "10.0.0.5"], ())
    assert str(refusal).startswith("simrs.rs.example resolves to 10.0.0.5, which is a private address (10.0.0.0/8)")
    assert check_destination("nowhere.example", 443, [], ()) is not None


def test_the_allow_list_names_receivers_by_address_and_port_name_or_block() -> None:
    allow = parse_allow_list("127.0.0.1:8443, simrs.internal.example 10.20.0.0/16, [::1]:9000")
    assert check_destination("127.0.0.1", 8443, ["127.0.0.1"], allow) is None
    assert check_destination("127.0.0.1", 8444, ["127.0.0.1"], allow) is not None  # another port of loopback
    assert check_destination("localhost", 8443, ["127.0.0.1"], allow) is None  # the address is what is allowed
    assert check_destination("SimRS.Internal.Example.", 80, ["10.99.0.1"], allow) is None  # named: any port
    assert check_destination("hook.other.example", 80, ["10.20.3.4"], allow) is None  # inside the block
    assert check_destination("hook.other.example", 80, ["10.21.0.1"], allow) is not None
    assert check_destination("::1", 9000, ["::1"], allow) is None
    assert check_destination("x", 80, ["::ffff:10.20.3.4"], allow) is None  # the mapped form of an allowed one
    assert check_destination("169.254.169.254", 80, ["169.254.169.254"], allow) is not None


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        ("10.0.0.0/33", "not a CIDR block"),
        ("0.0.0.0/0", "would allow every address"),
        ("127.0.0.1:99999", "bad port"),
        ("[::1", "closing ']'"),
        ("*.example", "not a host name"),
    ],
)
def test_a_malformed_allow_list_entry_is_refused_naming_it(entry: str, complaint: str) -> None:
    with pytest.raises(ValueError, match="NOTIFIER_WEBHOOK_ALLOW") as raised:
        parse_allow_list(f"127.0.0.1:8080, {entry}")
    assert complaint in str(raised.value) and repr(entry) in str(raised.value)
