"""Test PKI generated with ``cryptography`` (EC P-256, PEM files).

The server certificate is for the DNS name ``tls-sample`` ONLY (no ``localhost``, no IP SAN), so a
client connecting to 127.0.0.1 must use a server-name override (``grpc.ssl_target_name_override``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["SERVER_NAME", "TestCerts", "generate_certs"]

SERVER_NAME = "tls-sample"


@dataclass(frozen=True)
class TestCerts:
    """Paths of the generated PEM files (all in ``directory``)."""

    __test__ = False  # not a pytest test class

    directory: Path
    server_name: str  # the only name in the server cert: "tls-sample"
    ca_cert: Path  # CA trusted by the TLS fronts (and to be trusted by clients)
    ca_key: Path
    server_cert: Path  # CN/SAN DNS:tls-sample, signed by ca_cert
    server_key: Path
    client_cert: Path  # valid client cert, signed by ca_cert
    client_key: Path
    expired_client_cert: Path  # signed by ca_cert, not_valid_after in the past
    expired_client_key: Path
    other_ca_cert: Path  # an unrelated CA (not trusted by the fronts)
    other_ca_key: Path
    untrusted_client_cert: Path  # client cert signed by other_ca_cert
    untrusted_client_key: Path
    mismatched_key: Path  # a valid PEM EC key that belongs to no certificate
    not_pem: Path  # garbage bytes, not PEM at all


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return path


def _write_cert(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Temporal Workbench tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _ca(cn: str, now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    name = _name(cn)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    cn: str,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    *,
    server: bool,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False
        )
    return builder.sign(ca_key, hashes.SHA256()), key


def generate_certs(directory: str | Path, server_name: str = SERVER_NAME) -> TestCerts:
    """Write the whole test PKI into ``directory`` (created if needed) and return the paths."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    valid = {"not_before": now - dt.timedelta(days=1), "not_after": now + dt.timedelta(days=365)}

    ca_cert, ca_key = _ca("Workbench Test CA", now)
    other_ca_cert, other_ca_key = _ca("Workbench Other (untrusted) CA", now)
    server_cert, server_key = _leaf(server_name, ca_cert, ca_key, server=True, **valid)
    client_cert, client_key = _leaf("wb-client", ca_cert, ca_key, server=False, **valid)
    expired_cert, expired_key = _leaf(
        "wb-expired-client",
        ca_cert,
        ca_key,
        server=False,
        not_before=now - dt.timedelta(days=30),
        not_after=now - dt.timedelta(days=1),
    )
    untrusted_cert, untrusted_key = _leaf(
        "wb-untrusted-client", other_ca_cert, other_ca_key, server=False, **valid
    )

    not_pem = d / "not-pem.txt"
    not_pem.write_bytes(b"this is not a certificate\x00\xff\xfe garbage \n" * 4)

    return TestCerts(
        directory=d,
        server_name=server_name,
        ca_cert=_write_cert(d / "ca.pem", ca_cert),
        ca_key=_write_key(d / "ca.key", ca_key),
        server_cert=_write_cert(d / "server.pem", server_cert),
        server_key=_write_key(d / "server.key", server_key),
        client_cert=_write_cert(d / "client.pem", client_cert),
        client_key=_write_key(d / "client.key", client_key),
        expired_client_cert=_write_cert(d / "expired-client.pem", expired_cert),
        expired_client_key=_write_key(d / "expired-client.key", expired_key),
        other_ca_cert=_write_cert(d / "other-ca.pem", other_ca_cert),
        other_ca_key=_write_key(d / "other-ca.key", other_ca_key),
        untrusted_client_cert=_write_cert(d / "untrusted-client.pem", untrusted_cert),
        untrusted_client_key=_write_key(d / "untrusted-client.key", untrusted_key),
        mismatched_key=_write_key(d / "mismatched.key", _key()),
        not_pem=not_pem,
    )
