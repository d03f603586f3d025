"""The codec server's HTTP face: an aiohttp application around codec chains.

One catch-all route: the operation is the path's last segment (``/decode``, ``/encode``), so
the server answers under ``/{namespace}/`` prefixes and doubled slashes, as the protocol asks.
Every answer -- errors included -- carries the CORS headers, or the browser hides the reason.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from aiohttp import web
from temporalio.api.common.v1 import Payload

from .._gc import gc_paused
from ..codecs import Chain
from ..errors import CodecError
from ._protocol import BadBody, dump_payloads, parse_payloads

__all__ = ["CodecServerStats", "ServerConfig", "build_app"]

log = logging.getLogger("workbench.server")

ALLOW_METHODS = "POST, OPTIONS"
ALLOW_HEADERS = "content-type, x-namespace, authorization, authorization-extras"
DEFAULT_MAX_BODY = 8 * 1024 * 1024
OPERATIONS = frozenset(("decode", "encode"))
GC_PAUSE_BODY = 16 * 1024
"""Bodies above this size are decoded with the cyclic collector paused (see ``apply``)."""


@dataclass(frozen=True)
class ServerConfig:
    """What a codec server serves and whom it lets in."""

    codecs: Mapping[str | None, Chain]
    """Chain per namespace; the ``None`` entry serves any namespace not listed."""
    origins: tuple[str, ...] = ()
    """Browser origins allowed by CORS (exact ``scheme://host:port``); ``"*"`` allows any
    origin, without credentials."""
    auth: tuple[str, ...] = field(default=(), repr=False)
    """Accepted ``Authorization`` values (empty: no auth)."""
    decode_only: bool = False
    """Refuse ``/encode``."""
    max_body: int = DEFAULT_MAX_BODY
    """Largest request body in bytes (413 above)."""


@dataclass(frozen=True)
class CodecServerStats:
    """Counters of a codec server since it started (a snapshot).

    Attributes:
        requests: Requests answered, preflights included.
        payloads: Payloads received in ``/decode`` and ``/encode`` bodies.
        undecodable: Payloads ``/decode`` gave back unchanged because the chain could not
            decode them (the UI then shows them raw).
        errors: Error answers by kind: ``bad_request``, ``unauthorized``, ``forbidden_origin``,
            ``too_large``, ``not_found``, ``unknown_namespace``, ``method_not_allowed``,
            ``encode_disabled``, ``encode_failed``.
    """

    requests: int = 0
    payloads: int = 0
    undecodable: int = 0
    errors: Mapping[str, int] = field(default_factory=dict)


class _Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.payloads = 0
        self.undecodable = 0
        self.errors: Counter[str] = Counter()

    def snapshot(self) -> CodecServerStats:
        with self.lock:
            return CodecServerStats(
                self.requests, self.payloads, self.undecodable, dict(self.errors)
            )


class _Refused(Exception):
    """An error answer: status, kind (for the stats) and a short reason."""

    def __init__(self, status: int, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.kind = kind
        self.reason = reason


def _segments(raw_path: str) -> list[str]:
    path = raw_path.split("?", 1)[0]
    return [urllib.parse.unquote(s) for s in path.split("/") if s]


def _printable(text: str) -> str:
    """``text`` with control characters escaped (a namespace read from the path is decoded)."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def decode_unchanged_on_error(
    chain: Chain, payloads: Sequence[Payload]
) -> tuple[list[Payload], int]:
    """Decode with ``chain`` the way a codec server must answer: one payload per input, in
    order; a payload the chain cannot decode comes back as it came (never dropped).

    Returns:
        The answer's payloads and how many came back undecoded.
    """
    if chain.is_default:
        return list(payloads), 0
    # readable=None: a codec server peels the codec layers and leaves whatever encoding is
    # inside to the client's converter, even one only that client's converter reads.
    decoded, _ = chain._decode(payloads, readable=None)
    out: list[Payload] = []
    failed = 0
    for original, d in zip(payloads, decoded, strict=True):
        if d.error is None:
            out.append(d.payload)
        else:
            out.append(original)
            # A payload without any encoding was never a codec's: passed on, not a failure.
            failed += "encoding" in original.metadata
    return out, failed


class _Handler:
    def __init__(
        self,
        config: ServerConfig,
        counters: _Counters,
        access_log: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.counters = counters
        self.access_log = access_log
        self.any_origin = "*" in config.origins
        self.origins = frozenset(o.rstrip("/") for o in config.origins if o != "*")
        self.auth = [a.encode() for a in config.auth]

    # -- CORS ------------------------------------------------------------------------------
    def origin_allowed(self, origin: str | None) -> bool:
        return origin is not None and (self.any_origin or origin in self.origins)

    def cors_headers(self, request: web.Request) -> dict[str, str]:
        headers = {"Vary": "Origin"}
        origin = request.headers.get("Origin")
        if origin is not None and origin in self.origins:
            # Credentials only with an exact origin: browsers refuse them with "*" anyway.
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Allow-Credentials"] = "true"
        elif origin is not None and self.any_origin:
            headers["Access-Control-Allow-Origin"] = "*"
        return headers

    def preflight(self, request: web.Request) -> web.Response:
        origin = request.headers.get("Origin")
        headers = self.cors_headers(request)
        if origin is not None and not self.origin_allowed(origin):
            raise _Refused(
                403,
                "forbidden_origin",
                f"origin {origin} is not allowed; start the codec server with --origin {origin}",
            )
        headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
        headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        headers["Access-Control-Max-Age"] = "600"
        if request.headers.get("Access-Control-Request-Private-Network", "").lower() == "true":
            # Chrome's Private Network Access: a public page (cloud.temporal.io) calling a
            # server on localhost or a private address asks first.
            headers["Access-Control-Allow-Private-Network"] = "true"
        return web.Response(status=204, headers=headers)

    # -- auth --------------------------------------------------------------------------------
    def authorized(self, request: web.Request) -> bool:
        if not self.auth:
            return True
        given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
        ok = False
        for accepted in self.auth:  # no early exit: the time does not tell which one matched
            ok |= hmac.compare_digest(given, accepted)
        return ok

    def chain_for(self, request: web.Request, segments: list[str]) -> tuple[str | None, Chain]:
        namespace = request.headers.get("X-Namespace") or (
            segments[-2] if len(segments) >= 2 else None
        )
        codecs = self.config.codecs
        if namespace is not None and namespace in codecs:
            return namespace, codecs[namespace]
        if None in codecs:
            return namespace, codecs[None]
        if namespace is None:
            raise _Refused(
                404,
                "unknown_namespace",
                "no namespace given (send X-Namespace or use /{namespace}/decode) and this "
                "server has no default codec",
            )
        raise _Refused(
            404,
            "unknown_namespace",
            f"unknown namespace {namespace!r}: this server has codecs for "
            f"{', '.join(repr(n) for n in sorted(n for n in codecs if n is not None))}",
        )

    # -- the route ---------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        segments = _segments(request.raw_path)
        namespace: str | None = request.headers.get("X-Namespace")
        count = 0
        try:
            if request.method == "OPTIONS":
                response: web.StreamResponse = self.preflight(request)
            else:
                op = segments[-1] if segments else ""
                if op not in OPERATIONS:
                    raise _Refused(404, "not_found", "not found: POST to .../decode or .../encode")
                if request.method != "POST":
                    raise _Refused(
                        405, "method_not_allowed", f"{request.method} not allowed: use POST"
                    )
                origin = request.headers.get("Origin")
                if origin is not None and not self.origin_allowed(origin):
                    raise _Refused(
                        403,
                        "forbidden_origin",
                        f"origin {origin} is not allowed; start the codec server with "
                        f"--origin {origin}",
                    )
                if not self.authorized(request):
                    raise _Refused(401, "unauthorized", "missing or wrong Authorization")
                if op == "encode" and self.config.decode_only:
                    raise _Refused(403, "encode_disabled", "/encode is turned off (decode only)")
                namespace, chain = self.chain_for(request, segments)
                if request.content_type != "application/json":
                    raise _Refused(
                        400,
                        "bad_request",
                        f"wrong content type {request.content_type!r}: send application/json",
                    )
                length = request.content_length
                if length is not None and length > self.config.max_body:
                    raise self.too_large()
                try:
                    body = await request.read()
                except web.HTTPRequestEntityTooLarge:
                    raise self.too_large() from None
                response, count = await self.apply(op, chain, body)
        except _Refused as refused:
            with self.counters.lock:
                self.counters.errors[refused.kind] += 1
            response = web.Response(status=refused.status, text=refused.reason + "\n")
            if refused.status == 405:
                response.headers["Allow"] = ALLOW_METHODS
        except Exception as err:  # a bug of ours or of a user's codec: answer, keep serving
            with self.counters.lock:
                self.counters.errors["internal"] += 1
            # The type only: a codec's message might quote what it was decoding.
            log.error(
                "internal error %s on %s %s",
                type(err).__name__,
                request.method,
                request.raw_path.split("?", 1)[0],
            )
            response = web.Response(status=500, text=f"internal error ({type(err).__name__})\n")
        response.headers.update(self.cors_headers(request))
        with self.counters.lock:
            self.counters.requests += 1
            self.counters.payloads += count
        # Never the body, the query string or any header value but Origin and X-Namespace;
        # the path as sent (still percent-encoded: a decoded %0A would forge a log line).
        if self.access_log is not None or log.isEnabledFor(logging.INFO):
            line = (
                f"{request.method} {request.raw_path.split('?', 1)[0]} {response.status} "
                f"payloads={count} {(time.perf_counter() - started) * 1000:.1f}ms "
                f"origin={request.headers.get('Origin', '-')} "
                f"namespace={_printable(namespace or '-')}"
            )
            if self.access_log is not None:
                self.access_log(line)
            else:
                log.info("%s", line)
        return response

    def too_large(self) -> _Refused:
        return _Refused(
            413,
            "too_large",
            f"body larger than {self.config.max_body} bytes (raise the server's max_body)",
        )

    async def apply(self, op: str, chain: Chain, body: bytes) -> tuple[web.Response, int]:
        count = 0

        def run() -> bytes:
            nonlocal count
            try:
                payloads = parse_payloads(body)
            except BadBody as err:
                raise _Refused(400, "bad_request", str(err)) from None
            count = len(payloads)
            if op == "decode":
                out, failed = decode_unchanged_on_error(chain, payloads)
                if failed:
                    with self.counters.lock:
                        self.counters.undecodable += failed
                return dump_payloads(out)
            return dump_payloads(chain.encode(payloads))

        try:
            if chain.pauses_gc:
                # CPU only: a thread would add a hop and gain nothing (GIL). The collector
                # pauses meanwhile: parsing makes thousands of objects that form no cycles.
                with gc_paused(len(body) > GC_PAUSE_BODY):
                    answer = run()
            else:
                # A codec server or a user's coroutine codec waits on I/O: keep the loop free.
                answer = await asyncio.get_running_loop().run_in_executor(None, run)
        except CodecError as err:
            raise _Refused(500, "encode_failed", f"{op} failed: {err.message}") from None
        return web.Response(body=answer, content_type="application/json"), count


def build_app(
    config: ServerConfig,
    counters: _Counters | None = None,
    access_log: Callable[[str], None] | None = None,
) -> web.Application:
    """The aiohttp application of a codec server.

    Args:
        config: What it serves.
        counters: Where its stats are counted.
        access_log: Takes the line of each request; ``None``: the ``workbench.server`` logger
            at INFO (skipped cheaply when nobody listens, as in a default notebook kernel).
    """
    handler = _Handler(config, counters or _Counters(), access_log)
    # client_max_size: aiohttp stops reading a body past it (413), even a chunked one.
    app = web.Application(client_max_size=config.max_body)
    # [\s\S]: every path, even one whose decoded form holds a newline (%0A), reaches the
    # handler (and gets its CORS headers), not aiohttp's bare 404.
    app.router.add_route("*", r"/{tail:[\s\S]*}", handler.handle)
    return app
