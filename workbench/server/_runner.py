"""Running a codec server: in the background of a Python process (a notebook's kernel), or
in the foreground of a shell command with several worker processes.

In the background the server has its own event loop in a daemon thread: a Jupyter kernel
already runs a loop in its main thread, and touching it (``asyncio.run``, ``nest_asyncio``)
would break the kernel. The notebook talks to the server only through thread-safe calls.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import html
import ipaddress
import socket
import ssl
import threading
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path

from aiohttp import web

from ..codecs import Chain, CodecLike, as_chain
from ..errors import SettingsError
from ._app import DEFAULT_MAX_BODY, CodecServerStats, ServerConfig, _Counters, build_app

__all__ = ["CodecServer", "is_loopback", "make_config", "serve_codec", "tls_context"]

_RUNNING: weakref.WeakSet[CodecServer] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    # A kernel shutting down (or a script ending) closes its codec servers' sockets.
    for server in list(_RUNNING):
        with contextlib.suppress(Exception):
            server.stop()


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tls_context(cert: str | Path | None, key: str | Path | None) -> ssl.SSLContext | None:
    """A server TLS context from PEM files, or ``None`` when neither is given.

    Raises:
        SettingsError: Only one of the two is given, or they cannot be loaded (the message
            names the files, never their contents).
    """
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise SettingsError(
            "give both tls_cert and tls_key (the certificate chain and its private key, PEM)",
            setting="tls_cert" if cert is None else "tls_key",
        )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(str(cert), str(key))
    except FileNotFoundError as err:
        raise SettingsError(
            f"TLS file not found: {err.filename}", setting="tls_cert/tls_key"
        ) from None
    except (ssl.SSLError, OSError) as err:
        raise SettingsError(
            f"cannot load the TLS certificate {str(cert)!r} with the key {str(key)!r}: "
            f"{getattr(err, 'reason', None) or err.strerror or type(err).__name__} (both must "
            "be PEM, and the key must match the certificate)",
            setting="tls_cert/tls_key",
        ) from None
    return context


def make_config(
    codec: CodecLike | None,
    *,
    host: str,
    origins: Iterable[str] | str | None,
    auth: str | Iterable[str] | None,
    namespaces: Mapping[str, CodecLike] | None,
    decode_only: bool,
    max_body: int,
    allow_unauthenticated: bool,
) -> ServerConfig:
    """Check the settings of a codec server and gather them.

    Raises:
        SettingsError: A non-loopback bind without auth (unless ``allow_unauthenticated``), an
            origin that is not ``scheme://host[:port]``, or a bad ``max_body``.
    """
    codecs: dict[str | None, Chain] = {}
    if codec is not None or not namespaces:
        codecs[None] = as_chain(codec)
    for name, ns_codec in (namespaces or {}).items():
        codecs[name] = as_chain(ns_codec)
    if isinstance(origins, str):
        origins = [origins]
    checked: list[str] = []
    for origin in origins or ():
        origin = origin.strip().rstrip("/")
        if origin != "*" and (
            "://" not in origin or origin.split("://", 1)[1].count("/") or " " in origin
        ):
            raise SettingsError(
                f"origin {origin!r} is not a browser origin: give scheme://host[:port], e.g. "
                "'http://localhost:8233' (the dev server's UI) or 'https://cloud.temporal.io'",
                setting="origins",
            )
        checked.append(origin)
    if isinstance(auth, str):
        auth = [auth]
    accepted = tuple(a for a in (auth or ()) if a)
    if auth is not None and not accepted:
        raise SettingsError(
            "auth is empty: give the Authorization value to require", setting="auth"
        )
    if not is_loopback(host) and not accepted and not allow_unauthenticated:
        raise SettingsError(
            f"refusing to serve decryption on {host} (reachable from other machines) without "
            "auth: set auth= (--auth-env VAR), or bind 127.0.0.1, or pass "
            "allow_unauthenticated=True (--allow-unauthenticated) if a proxy in front checks",
            setting="host",
        )
    if max_body < 1024:
        raise SettingsError(
            f"max_body must be at least 1024 bytes, got {max_body}", setting="max_body"
        )
    return ServerConfig(
        codecs=codecs,
        origins=tuple(checked),
        auth=accepted,
        decode_only=decode_only,
        max_body=max_body,
    )


class CodecServer:
    """A codec server running in the background of this process (see :func:`serve_codec`).

    Attributes:
        host: The address it is bound to.
        port: Its TCP port.
        origins: Browser origins it allows.
    """

    def __init__(
        self,
        config: ServerConfig,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.origins: tuple[str, ...] = config.origins
        self._config = config
        self._ssl = ssl_context
        self._counters = _Counters()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # -- life cycle --------------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> CodecServer:
        """Start serving (in a daemon thread with its own event loop).

        Raises:
            SettingsError: The port is taken or the address cannot be bound.
        """
        if self.running:
            return self
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        async def start_site() -> None:
            runner = web.AppRunner(
                build_app(self._config, self._counters), access_log=None, handle_signals=False
            )
            await runner.setup()
            site = web.TCPSite(runner, self.host, self.port, ssl_context=self._ssl)
            try:
                await site.start()
            except BaseException:
                await runner.cleanup()
                raise
            self._runner = runner
            self.port = int(runner.addresses[0][1])

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(start_site())
            except BaseException as err:
                failure.append(err)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        thread = threading.Thread(target=serve, name=f"codec-server-{self.port}", daemon=True)
        thread.start()
        if not ready.wait(timeout):
            raise SettingsError(
                f"the codec server did not start within {timeout:g} s", setting="port"
            )
        if failure:
            thread.join(5)
            err = failure[0]
            if isinstance(err, OSError):
                raise SettingsError(
                    f"cannot serve on {self.host}:{self.port}: {err.strerror or err} (choose "
                    "another port, or stop what uses it)",
                    setting="port",
                ) from None
            raise err
        self._loop, self._thread = loop, thread
        _RUNNING.add(self)
        return self

    @property
    def running(self) -> bool:
        """True while the server is serving."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and close the port (idempotent)."""
        loop, thread, runner = self._loop, self._thread, self._runner
        self._loop = self._thread = self._runner = None
        _RUNNING.discard(self)
        if loop is None or thread is None:
            return
        if runner is not None and loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout)
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)

    def __enter__(self) -> CodecServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what users read -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The endpoint to give the Web UI and ``temporal --codec-endpoint``."""
        scheme = "https" if self._ssl is not None else "http"
        host = self.host
        if host in ("0.0.0.0", "::"):
            host = socket.gethostname()
        elif ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{self.port}"

    @property
    def stats(self) -> CodecServerStats:
        """Requests, payloads and errors by kind since the server started."""
        return self._counters.snapshot()

    @property
    def namespaces(self) -> list[str | None]:
        """Namespaces with their own codec (``None``: the default for any other)."""
        return list(self._config.codecs)

    def ui_instructions(self) -> str:
        """What to enter in the Web UI's codec settings (the Codec Server icon of its top bar)
        and in the CLI's flags to use this server, as plain text, one ``label: value`` a line.
        """
        https = self.url.startswith("https://")
        auth = bool(self._config.auth)
        if not https:
            token = "off (the UI sends tokens to https:// endpoints only)"
        elif auth:
            token = "on (this server checks the Authorization header)"
        else:
            token = "off (this server checks no token)"
        origins = ", ".join(self.origins) or "none (browsers are refused: pass origins=)"
        lines = [
            "Web UI: the Codec Server icon (top bar) > Use my browser setting and ignore "
            "Cluster-level setting",
            f"Codec Server browser endpoint: {self.url}",
            f"Pass the user access token: {token}",
            "Include cross-origin credentials: off (on only if a proxy in front needs cookies)",
            f"Open the Web UI at (allowed origins): {origins}",
            f"CLI: temporal workflow show -w ID --codec-endpoint {self.url}"
            + (' --codec-auth "$CODEC_AUTH"' if auth else ""),
        ]
        if auth and not https:
            lines.append(
                "Note: this server requires Authorization but is plain http: the CLI can send "
                "it, the Web UI cannot (serve with TLS)."
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"CodecServer({self.url!r}, {state})\n{self.ui_instructions()}"

    def _repr_html_(self) -> str:
        state = "running" if self.running else "stopped"
        stats = self.stats
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>"
            f"{html.escape(v)}</td></tr>"
            for k, v in (
                line.split(": ", 1) for line in self.ui_instructions().splitlines() if ": " in line
            )
        )
        return (
            f"<div><b>Codec server</b> <code>{html.escape(self.url)}</code> ({state}; "
            f"{stats.requests} requests, {stats.payloads} payloads)<br>"
            "In the Web UI's codec settings:"
            f"<table>{rows}</table></div>"
        )


def serve_codec(
    codec: CodecLike | None = None,
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    origins: Iterable[str] | str | None = ("http://localhost:8233", "http://127.0.0.1:8233"),
    auth: str | Iterable[str] | None = None,
    namespaces: Mapping[str, CodecLike] | None = None,
    decode_only: bool = False,
    max_body: int = DEFAULT_MAX_BODY,
    tls_cert: str | Path | None = None,
    tls_key: str | Path | None = None,
    allow_unauthenticated: bool = False,
) -> CodecServer:
    """Serve a codec to the Temporal Web UI and CLI, in the background of this process.

    >>> srv = workbench.serve_codec(codecs.AesGcm({"key-1": key}), port=8081)
    >>> print(srv.ui_instructions())

    Args:
        codec: The codec for any namespace (a :class:`~workbench.codecs.Chain`, a codec or a
            ``PayloadCodec``); ``None`` with ``namespaces`` serves only those.
        port: TCP port (0: a free one; read :attr:`CodecServer.url`).
        host: Address to bind. Anything but loopback needs ``auth`` (or
            ``allow_unauthenticated``).
        origins: Browser origins allowed to call it (CORS), e.g. ``"https://cloud.temporal.io"``;
            by default the local dev server's UI.
        auth: The ``Authorization`` value(s) to require (``"Bearer <token>"``; what the CLI's
            ``--codec-auth`` sends), compared in constant time.
        namespaces: Codec per namespace (chosen by ``X-Namespace`` or ``/{namespace}/decode``);
            a namespace not listed gets ``codec``, or 404 when ``codec`` is ``None``.
        decode_only: Refuse ``/encode``.
        max_body: Largest request body in bytes.
        tls_cert: PEM certificate chain to serve https (the UI sends tokens only to https).
        tls_key: PEM private key of ``tls_cert``.
        allow_unauthenticated: Allow a non-loopback ``host`` without ``auth``.

    Returns:
        The running :class:`CodecServer` (stop it with ``.stop()``, or use it as a context
        manager; it is stopped at interpreter exit).

    Raises:
        SettingsError: A setting is unsafe or invalid, or the port cannot be bound.
        CodecError: ``codec`` is not a codec.
    """
    config = make_config(
        codec,
        host=host,
        origins=origins,
        auth=auth,
        namespaces=namespaces,
        decode_only=decode_only,
        max_body=max_body,
        allow_unauthenticated=allow_unauthenticated,
    )
    server = CodecServer(config, host=host, port=port, ssl_context=tls_context(tls_cert, tls_key))
    return server.start()
