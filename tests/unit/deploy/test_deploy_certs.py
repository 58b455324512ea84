"""The Compose broker's certificates (deploy/certs.py, the kafka-certs init service)."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

from cryptography import x509

from deploy.certs import ensure


def _dirs(root: Path) -> tuple[Path, Path, Path]:
    return root / "ca", root / "broker", root / "trust"


def test_the_broker_certificate_names_every_address_clients_use_and_chains_to_the_ca(tmp_path: Path) -> None:
    ca_dir, tls_dir, trust_dir = _dirs(tmp_path)
    assert ensure(ca_dir, tls_dir, trust_dir, ["kafka", "localhost", "127.0.0.1"]) == ["ca", "server"]
    cert = x509.load_pem_x509_certificate((tls_dir / "server.crt").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["kafka", "localhost"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    ca = x509.load_pem_x509_certificate((trust_dir / "ca.pem").read_bytes())
    cert.verify_directly_issued_by(ca)
    pem = (tls_dir / "server.pem").read_text()
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")  # Kafka's PEM keystore: key, then the chain
    assert pem.count("-----BEGIN CERTIFICATE-----") == 2


def test_the_private_keys_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    ca_dir, tls_dir, trust_dir = _dirs(tmp_path)
    ensure(ca_dir, tls_dir, trust_dir, ["kafka"])
    assert stat.S_IMODE((ca_dir / "ca.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((tls_dir / "server.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((trust_dir / "ca.pem").stat().st_mode) == 0o644
    assert not (trust_dir / "ca.key").exists()


def test_a_restart_keeps_valid_certificates_and_renew_issues_new_ones(tmp_path: Path) -> None:
    ca_dir, tls_dir, trust_dir = _dirs(tmp_path)
    ensure(ca_dir, tls_dir, trust_dir, ["kafka"])
    first = (tls_dir / "server.pem").read_bytes()
    assert ensure(ca_dir, tls_dir, trust_dir, ["kafka"]) == []
    assert (tls_dir / "server.pem").read_bytes() == first
    assert ensure(ca_dir, tls_dir, trust_dir, ["kafka"], renew=True) == ["ca", "server"]
    assert (tls_dir / "server.pem").read_bytes() != first
