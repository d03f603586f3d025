"""A TLS (optionally mutual-TLS) relay in front of a plaintext server, like a real frontend.

An asyncio server in a background thread (its own event loop) accepts TCP on 127.0.0.1, does the
TLS handshake with Python's ``ssl`` (server cert for ``tls-sample``, ALPN ``h2``, and with
``require_client_cert=True`` ``CERT_REQUIRED`` against the rig CA), then pipes bytes both ways to
the upstream plaintext address. A failed handshake only closes that connection; the reason is
recorded in ``handshake_errors`` (e.g. ``"SSLError: [SSL: PEER_DID_NOT_RETURN_A_CERTIFICATE] ..."``,
``"SSLCertVerificationError: ... certificate has expired ..."``, or ``"EOFError: ..."`` when the
*client* gave up, e.g. because it did not trust the server cert or its name).

The handshake runs over memory BIOs rather than asyncio's SSL transport, because the latter drops
the TLS alert on failure (clients would only see "Socket closed"/"Connection reset"). With the
alert flushed, grpcio reports what a real frontend causes: with TLS 1.3 (the default) a missing,
untrusted or expired client cert all read ``Unwrap failed (TSI_DATA_CORRUPTED)``; capped at TLS 1.2
(``maximum_version=ssl.TLSVersion.TLSv1_2``) they read ``SSLV3_ALERT_HANDSHAKE_FAILURE``,
``TLSV1_ALERT_UNKNOWN_CA`` and ``SSLV3_ALERT_CERTIFICATE_EXPIRED``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import ssl
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from .certs import TestCerts

__all__ = ["TlsFront"]

log = logging.getLogger(__name__)


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


class TlsFront:
    """TLS terminator relaying to ``upstream`` ("host:port", plaintext).

    Attributes for assertions: ``handshakes`` (successful handshake count), ``handshake_errors``
    (list of "ExcType: message" strings, one per failed handshake), ``peer_subjects`` (client
    certificate subjects seen, e.g. ``"organizationName=...,commonName=wb-client"``),
    ``upstream_errors`` (failures to reach ``upstream``, e.g. while the dev server is down).
    """

    def __init__(
        self,
        upstream: str,
        certs: TestCerts,
        *,
        require_client_cert: bool = True,
        client_ca: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        minimum_version: ssl.TLSVersion | None = None,
        maximum_version: ssl.TLSVersion | None = None,
        handshake_timeout: float = 10.0,
    ) -> None:
        self.upstream = upstream
        self.certs = certs
        self.require_client_cert = require_client_cert
        self.host = host
        self.port = port
        self.handshake_timeout = handshake_timeout
        self.handshakes = 0
        self.handshake_errors: list[str] = []
        self.upstream_errors: list[str] = []
        self.peer_subjects: list[str] = []

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(certs.server_cert), str(certs.server_key))
        if require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cafile=str(client_ca or certs.ca_cert))
        else:
            ctx.verify_mode = ssl.CERT_NONE
        if minimum_version is not None:
            ctx.minimum_version = minimum_version
        if maximum_version is not None:
            ctx.maximum_version = maximum_version
        ctx.set_alpn_protocols(["h2"])
        self.ssl_context = ctx

        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    # ------------------------------------------------------------------ public API
    @property
    def address(self) -> str:
        if not self.port:
            raise RuntimeError("TlsFront is not started")
        return f"{self.host}:{self.port}"

    @property
    def server_name(self) -> str:
        """The name clients must use as ``grpc.ssl_target_name_override``."""
        return self.certs.server_name

    def start(self) -> TlsFront:
        if self._thread is not None:
            return self
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(self._exception_handler)
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="tls-front", daemon=True)
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(self._listen(), loop)
        try:
            fut.result(timeout=10)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
                fut.result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        if not loop.is_running():
            loop.close()
        self._loop = None
        self._thread = None
        self._server = None

    def drop_connections(self) -> None:
        """Abort every relayed connection (the listener keeps accepting new ones)."""
        if self._loop is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._abort_all(), self._loop)
        fut.result(timeout=10)

    def __enter__(self) -> TlsFront:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        mode = "mTLS" if self.require_client_cert else "TLS"
        return f"<TlsFront {mode} {self.port and self.address} -> {self.upstream}>"

    # ------------------------------------------------------------------ loop side
    def _exception_handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # Keep the test output quiet: handshake/connection noise is expected here.
        log.debug("tls front: %s", context.get("message"), exc_info=context.get("exception"))

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._on_connect, self.host, self.port, reuse_address=True
        )
        sock = self._server.sockets[0]
        self.port = int(sock.getsockname()[1])

    async def _abort_all(self) -> None:
        for w in list(self._writers):
            with contextlib.suppress(Exception):
                w.transport.abort()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._abort_all()
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        task = asyncio.ensure_future(self._handle(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> _TlsConn:
        """Server-side handshake driven through memory BIOs over the plain stream.

        Unlike asyncio's own SSL transport, this flushes OpenSSL's alert (e.g. "certificate
        required", "bad certificate", "certificate expired") to the client before closing, the
        way a real frontend does.
        """
        conn = _TlsConn(self.ssl_context, reader, writer)
        while True:
            try:
                conn.sslobj.do_handshake()
            except ssl.SSLWantReadError:
                await conn.flush()
                data = await reader.read(65536)
                if not data:
                    raise EOFError("client closed the connection during the handshake") from None
                conn.incoming.write(data)
                continue
            except ssl.SSLError:
                await conn.close_after_alert()
                raise
            await conn.flush()
            return conn

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_writer: asyncio.StreamWriter | None = None
        try:
            try:
                conn = await asyncio.wait_for(
                    self._handshake(reader, writer), self.handshake_timeout
                )
            except (ssl.SSLError, OSError, asyncio.TimeoutError, EOFError) as e:
                msg = f"{type(e).__name__}: {e}"
                self.handshake_errors.append(msg)
                log.debug("tls front handshake failed: %s", msg)
                return
            self.handshakes += 1
            cert = conn.sslobj.getpeercert()
            if cert:
                subject = ",".join(f"{k}={v}" for rdn in cert.get("subject", ()) for (k, v) in rdn)
                self.peer_subjects.append(subject)
            host, port = _split(self.upstream)
            try:
                up_reader, up_writer = await asyncio.open_connection(host, port)
            except OSError as e:
                self.upstream_errors.append(f"{type(e).__name__}: {e}")
                return
            self._writers.add(up_writer)
            a = asyncio.ensure_future(self._client_to_upstream(conn, up_writer))
            b = asyncio.ensure_future(self._upstream_to_client(up_reader, conn))
            try:
                await asyncio.wait({a, b}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                a.cancel()
                b.cancel()
                await asyncio.gather(a, b, return_exceptions=True)
        except asyncio.CancelledError:
            pass
        finally:
            for w in (writer, up_writer):
                if w is None:
                    continue
                self._writers.discard(w)
                with contextlib.suppress(Exception):
                    w.transport.abort()

    @staticmethod
    async def _client_to_upstream(conn: _TlsConn, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError, ssl.SSLError, EOFError):
            while True:
                data = await conn.read()
                if not data:
                    return
                dst.write(data)
                await dst.drain()

    @staticmethod
    async def _upstream_to_client(src: asyncio.StreamReader, conn: _TlsConn) -> None:
        with contextlib.suppress(ConnectionError, OSError, ssl.SSLError):
            while True:
                data = await src.read(65536)
                if not data:
                    return
                await conn.write(data)


class _TlsConn:
    """An ``ssl.SSLObject`` over memory BIOs, fed from / flushed to a plain asyncio stream."""

    def __init__(
        self, ctx: ssl.SSLContext, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.sslobj = ctx.wrap_bio(self.incoming, self.outgoing, server_side=True)

    async def flush(self) -> None:
        data = self.outgoing.read()
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def read(self) -> bytes:
        """Next decrypted chunk; b"" at end of stream (close_notify or TCP EOF)."""
        while True:
            try:
                data = self.sslobj.read(65536)
            except ssl.SSLWantReadError:
                await self.flush()
                raw = await self.reader.read(65536)
                if not raw:
                    return b""
                self.incoming.write(raw)
                continue
            except ssl.SSLZeroReturnError:
                return b""
            await self.flush()  # e.g. TLS 1.3 session tickets / key updates
            return data

    async def write(self, data: bytes) -> None:
        self.sslobj.write(data)
        await self.flush()

    async def close_after_alert(self) -> None:
        """Send the pending alert, half-close, and let the client read it before closing.

        Closing at once with unread client bytes in the kernel buffer would send a TCP RST that
        can overtake the alert; so shut down our side and drain until the client hangs up.
        """
        with contextlib.suppress(Exception):
            await self.flush()
            if self.writer.can_write_eof():
                self.writer.write_eof()

            async def drain_input() -> None:
                while await self.reader.read(65536):
                    pass

            await asyncio.wait_for(drain_input(), timeout=2.0)
