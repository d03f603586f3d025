"""A local mutual-TLS front for the Connect tutorial, so it runs anywhere without a cloud account.

:func:`start_mtls_front` writes a small PKI (a CA, a server certificate for
:data:`SERVER_NAME` only, a client certificate, and an unrelated CA to show the wrong-CA mistake)
and starts a TLS relay in front of the plaintext demo server that demands a client certificate
signed by that CA, as Temporal Cloud and a self-hosted frontend with mTLS do. Tutorial use only:
the keys are generated fresh, unencrypted, in the folder given.

    front = start_mtls_front("127.0.0.1:7233", "certs")
    front.address, front.server_name, front.paths.ca_cert
    front.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["SERVER_NAME", "MtlsFront", "MtlsPaths", "start_mtls_front", "write_pki"]

SERVER_NAME = "temporal.demo.internal"
"""The only name in the server certificate: connecting to 127.0.0.1 needs a server-name
override, as connecting to a cluster through a tunnel or a load balancer often does."""


@dataclass(frozen=True)
class MtlsPaths:
    """PEM files written by :func:`write_pki`."""

    ca_cert: Path
    """The CA that signed the server and client certificates: the one to trust."""
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca_cert: Path
    """An unrelated CA: trusting it instead of ``ca_cert`` is the wrong-CA mistake."""


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Temporal Workbench demo"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    usage: x509.ObjectIdentifier | None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    issuer_name, issuer_key = issuer or (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=usage is None, path_length=None), critical=True)
    )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if usage == ExtendedKeyUsageOID.SERVER_AUTH:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, item: x509.Certificate | ec.EllipticCurvePrivateKey) -> Path:
    if isinstance(item, x509.Certificate):
        path.write_bytes(item.public_bytes(serialization.Encoding.PEM))
    else:
        path.write_bytes(
            item.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        path.chmod(0o600)
    return path


def write_pki(directory: str | Path, server_name: str = SERVER_NAME) -> MtlsPaths:
    """Write a fresh CA, server and client certificates (EC P-256, PEM) into ``directory``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ca_key, other_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = _cert("Workbench demo CA", ca_key, None, None)
    other = _cert("Some other CA", other_key, None, None)
    server_key, client_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    server = _cert(server_name, server_key, (ca.subject, ca_key), ExtendedKeyUsageOID.SERVER_AUTH)
    client = _cert("demo-client", client_key, (ca.subject, ca_key), ExtendedKeyUsageOID.CLIENT_AUTH)
    return MtlsPaths(
        ca_cert=_write(d / "ca.pem", ca),
        server_cert=_write(d / "server.pem", server),
        server_key=_write(d / "server.key", server_key),
        client_cert=_write(d / "client.pem", client),
        client_key=_write(d / "client.key", client_key),
        other_ca_cert=_write(d / "other-ca.pem", other),
    )


class MtlsFront:
    """A TLS relay on 127.0.0.1 demanding a client certificate, piping to a plaintext server.

    Args:
        upstream: ``host:port`` of the plaintext server (the demo's dev server).
        paths: The PKI from :func:`write_pki`.
    """

    def __init__(self, upstream: str, paths: MtlsPaths) -> None:
        self.upstream = upstream
        self.paths = paths
        self.server_name = SERVER_NAME
        self.port = 0
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(paths.server_cert), str(paths.server_key))
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=str(paths.ca_cert))
        ctx.set_alpn_protocols(["h2"])
        self._ctx = ctx
        self._loop = asyncio.new_event_loop()
        # Failed handshakes are the tutorial's point, not noise for the notebook's output.
        self._loop.set_exception_handler(lambda loop, context: None)
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>`` to connect to."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> MtlsFront:
        """Listen on a free port of 127.0.0.1."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0, ssl=self._ctx)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, _, port = self.upstream.rpartition(":")
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ssl.SSLError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def stop(self) -> None:
        """Close the listener and stop the relay's thread."""

        async def close() -> None:
            if self._server is not None:
                self._server.close()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> MtlsFront:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<MtlsFront {self.address} -> {self.upstream}, server name {self.server_name!r}>"


def start_mtls_front(upstream: str, directory: str | Path) -> MtlsFront:
    """Write a PKI into ``directory`` and start a mutual-TLS front before ``upstream``."""
    return MtlsFront(upstream, write_pki(directory)).start()
