"""TLS material: read, parse and check certificates and keys *before* grpcio sees them.

grpcio aborts the whole process (and with it a Jupyter kernel) when it is given a client
certificate without its key, and with TLS 1.3 it reports a missing, expired or untrusted
client certificate alike as ``TSI_DATA_CORRUPTED``. So everything that can be checked locally is
checked here, with a message naming the setting at fault.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from .errors import TLSMaterialError
from .settings import TLSSettings

__all__ = ["TLSMaterial", "load_tls_material", "peer_certificate_name"]

_PUBLIC = serialization.PublicFormat.SubjectPublicKeyInfo


@dataclass(frozen=True, repr=False)
class TLSMaterial:
    """PEM bytes ready for ``grpc.ssl_channel_credentials`` (already checked)."""

    ca_cert: bytes | None = None
    client_cert: bytes | None = None
    client_key: bytes | None = field(default=None)

    def __repr__(self) -> str:
        return (
            f"TLSMaterial(ca_cert={'set' if self.ca_cert else None}, "
            f"client_cert={'set' if self.client_cert else None}, "
            f"client_key={'<redacted>' if self.client_key else None})"
        )


def _read(setting: str, path: str | None, data: bytes | None) -> tuple[bytes | None, str]:
    """The bytes of a PEM source and how to name it in a message."""
    if data is not None:
        return data, f"tls.{setting}_data"
    if path is None:
        return None, ""
    where = f"tls.{setting}_path {path!r}"
    p = Path(path).expanduser()
    try:
        return p.read_bytes(), where
    except FileNotFoundError:
        raise TLSMaterialError(
            f"{where}: no such file; check the path.", setting=f"tls.{setting}_path"
        ) from None
    except IsADirectoryError:
        raise TLSMaterialError(
            f"{where} is a directory; give the path of the PEM file.",
            setting=f"tls.{setting}_path",
        ) from None
    except OSError as e:
        raise TLSMaterialError(
            f"{where} cannot be read ({e.strerror}); check its permissions.",
            setting=f"tls.{setting}_path",
        ) from None


def _certificates(setting: str, where: str, pem: bytes) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError:
        certs = []
    if not certs:
        raise TLSMaterialError(
            f"{where} is not a PEM certificate (expected a '-----BEGIN CERTIFICATE-----' "
            "block); check that you gave the certificate and not another file.",
            setting=f"tls.{setting}",
        )
    return certs


def _private_key(where: str, pem: bytes) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        raise TLSMaterialError(
            f"{where} is an encrypted private key; give an unencrypted PEM key "
            "(e.g. 'openssl pkey -in key.pem -out key-plain.pem').",
            setting="tls.client_key",
        ) from None
    except (ValueError, Exception):
        # The parser's own words may quote the key material: never include them.
        raise TLSMaterialError(
            f"{where} is not a PEM private key (expected a '-----BEGIN ... PRIVATE KEY-----' "
            "block); check that you gave the key and not another file.",
            setting="tls.client_key",
        ) from None


def load_tls_material(tls: TLSSettings, *, now: dt.datetime | None = None) -> TLSMaterial:
    """Read and check the TLS material of ``tls``.

    Checks: each file exists and is PEM; a client certificate comes with its key and the other
    way round; the key belongs to the certificate; the client certificate is valid now.

    Raises:
        TLSMaterialError: Naming the setting at fault and what to do.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    ca, ca_where = _read("ca_cert", tls.ca_cert_path, tls.ca_cert_data)
    if ca is not None:
        _certificates("ca_cert", ca_where, ca)

    cert, cert_where = _read("client_cert", tls.client_cert_path, tls.client_cert_data)
    key, key_where = _read("client_key", tls.client_key_path, tls.client_key_data)
    if cert is not None and key is None:
        raise TLSMaterialError(
            f"{cert_where} is set but no client key is; mutual TLS needs both. Set "
            "tls.client_key_path (TEMPORAL_TLS_CLIENT_KEY_PATH) to the certificate's key.",
            setting="tls.client_key_path",
        )
    if key is not None and cert is None:
        raise TLSMaterialError(
            f"{key_where} is set but no client certificate is; mutual TLS needs both. Set "
            "tls.client_cert_path (TEMPORAL_TLS_CLIENT_CERT_PATH) to the key's certificate.",
            setting="tls.client_cert_path",
        )
    if cert is not None and key is not None:
        leaf = _certificates("client_cert", cert_where, cert)[0]
        private_key = _private_key(key_where, key)
        if private_key.public_key().public_bytes(
            serialization.Encoding.DER, _PUBLIC
        ) != leaf.public_key().public_bytes(serialization.Encoding.DER, _PUBLIC):
            raise TLSMaterialError(
                f"{key_where} does not belong to the certificate in {cert_where} (their public "
                "keys differ); give the key that was issued with this certificate.",
                setting="tls.client_key",
            )
        subject = leaf.subject.rfc4514_string() or "(no subject)"
        if leaf.not_valid_after_utc < now:
            raise TLSMaterialError(
                f"client certificate {subject!r} in {cert_where} expired on "
                f"{leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC; the server will refuse it. "
                "Get a renewed certificate.",
                setting="tls.client_cert",
            )
        if leaf.not_valid_before_utc > now:
            raise TLSMaterialError(
                f"client certificate {subject!r} in {cert_where} is not valid before "
                f"{leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC; check the clock or the "
                "certificate.",
                setting="tls.client_cert",
            )
    return TLSMaterial(ca_cert=ca, client_cert=cert, client_key=key)


def peer_certificate_name(address: str, timeout: float) -> str | None:
    """The first DNS name (else the common name) of the certificate the server presents.

    Used for ``disable_host_verification``: grpcio cannot skip the name check, so the
    workbench verifies the chain against the name the server's certificate actually carries.
    """
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    try:
        with (
            socket.create_connection((host, int(port)), timeout=timeout) as sock,
            ctx.wrap_socket(sock, server_hostname=host) as tls_sock,
        ):
            der = tls_sock.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None
    if not der:
        return None
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = san.value.get_values_for_type(x509.DNSName)
        if names:
            return names[0]
    except x509.ExtensionNotFound:
        pass
    cns = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    return str(cns[0].value) if cns else None


def probe_speaks_tls(address: str, timeout: float) -> bool | None:
    """Whether the server at ``address`` answers a TLS ClientHello (``None``: can't tell).

    Tells "plaintext sent to a TLS port" apart from other closed connections.
    """
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2"])
    try:
        with (
            socket.create_connection((host, int(port)), timeout=timeout) as sock,
            ctx.wrap_socket(sock, server_hostname=host),
        ):
            return True
    except ssl.SSLError as e:
        # A TLS alert from the peer means it speaks TLS (e.g. it wanted a client cert).
        return "ALERT" in str(e).upper() or None
    except OSError:
        return None
