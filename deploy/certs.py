"""`python -m deploy.certs`: the Compose broker's certificates, made by the `kafka-certs` init service.

A private CA (kept in its own volume, never mounted into the broker or the services) signs the
broker's certificate for the names clients connect to (`kafka` inside Compose, `localhost` and
127.0.0.1 from the host). Kafka reads the key and chain as one PEM file (ssl.keystore.type=PEM);
clients verify the broker against `ca.pem` (KAFKA_SSL_CAFILE). Run at every `up`: existing
certificates are kept while they are valid for more than RENEW_BEFORE_DAYS, so restarts change
nothing; delete the volumes (or pass --renew) to issue new ones.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
SERVER_DAYS = 397  # what public CAs allow; renewed automatically RENEW_BEFORE_DAYS before the end
RENEW_BEFORE_DAYS = 30
DEFAULT_NAMES = ("kafka", "localhost", "127.0.0.1")
BROKER_UID = 1000  # the apache/kafka image's user (appuser)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JKN claims"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])  # fmt: skip


def _subject_alt_names(names: Sequence[str]) -> list[x509.GeneralName]:
    found: list[x509.GeneralName] = []
    for name in names:
        try:
            found.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            found.append(x509.DNSName(name))
    return found


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    # Unencrypted PKCS#8: what Kafka's PEM keystore reads without ssl.key.password.
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_ca(
    now: dt.datetime, common_name: str = "JKN claims Kafka CA"
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed CA that may sign server certificates only (path length 0)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_server(
    ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, names: Sequence[str], now: dt.datetime
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The broker's certificate for `names` (DNS names or IP addresses), signed by the CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(_subject_alt_names(names)), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _still_valid(path: Path, now: dt.datetime) -> bool:
    if not path.exists():
        return False
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return cert.not_valid_after_utc - now > dt.timedelta(days=RENEW_BEFORE_DAYS)


def _write(path: Path, data: bytes, mode: int, owner: int | None = None) -> None:
    path.write_bytes(data)
    os.chmod(path, mode)
    if owner is not None and os.geteuid() == 0:
        os.chown(path, owner, owner)


def ensure(ca_dir: Path, tls_dir: Path, trust_dir: Path, names: Sequence[str], renew: bool = False) -> list[str]:
    """Keep or issue the CA (ca_dir), the broker's key+chain (tls_dir) and the CA certificate (trust_dir).

    Returns what was issued (empty: everything was still valid)."""
    now = dt.datetime.now(dt.UTC)
    issued: list[str] = []
    for d in (ca_dir, tls_dir, trust_dir):
        d.mkdir(parents=True, exist_ok=True)
    ca_key_path, ca_path = ca_dir / "ca.key", ca_dir / "ca.pem"
    if renew or not _still_valid(ca_path, now) or not ca_key_path.exists():
        ca_key, ca = make_ca(now)
        _write(ca_key_path, _key_pem(ca_key), 0o600)
        _write(ca_path, ca.public_bytes(serialization.Encoding.PEM), 0o644)
        issued.append("ca")
        renew = True  # a new CA: the server certificate must be signed again
    else:
        loaded = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        ca_key, ca = loaded, x509.load_pem_x509_certificate(ca_path.read_bytes())
    server_path = tls_dir / "server.pem"
    if renew or not _still_valid(tls_dir / "server.crt", now):
        key, cert = make_server(ca_key, ca, names, now)
        chain = cert.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
        _write(server_path, _key_pem(key) + chain, 0o600, owner=BROKER_UID)  # key + chain: Kafka's PEM keystore
        _write(tls_dir / "server.crt", cert.public_bytes(serialization.Encoding.PEM), 0o644, owner=BROKER_UID)
        issued.append("server")
    _write(trust_dir / "ca.pem", ca.public_bytes(serialization.Encoding.PEM), 0o644)
    return issued


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.certs", description="Issue the broker's certificates.")
    parser.add_argument("--ca-dir", type=Path, default=Path("/certs/ca"), help="the CA's key and certificate")
    parser.add_argument("--tls-dir", type=Path, default=Path("/certs/broker"), help="the broker's key and chain")
    parser.add_argument("--trust-dir", type=Path, default=Path("/certs/trust"), help="ca.pem for the clients")
    parser.add_argument("--name", action="append", help=f"a name on the certificate (default: {DEFAULT_NAMES})")
    parser.add_argument("--renew", action="store_true", help="issue a new CA and broker certificate now")
    args = parser.parse_args(argv)
    issued = ensure(args.ca_dir, args.tls_dir, args.trust_dir, args.name or DEFAULT_NAMES, renew=args.renew)
    print(f"certificates: {'issued ' + ', '.join(issued) if issued else 'still valid, kept'}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
