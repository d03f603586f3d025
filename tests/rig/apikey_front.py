"""A grpcio front that demands ``authorization: Bearer <key>`` and forwards to the dev server.

Every unary-unary method is relayed as raw bytes to ``upstream`` over a plaintext channel with the
incoming metadata (minus ``authorization`` and transport headers). A missing or wrong key is
answered with ``UNAUTHENTICATED`` / ``"invalid API key"`` without contacting upstream. Upstream
errors are relayed with their original status code, details and trailing metadata (so
``grpc-status-details-bin`` with Temporal's typed failure survives).

Serves plaintext, or TLS (server cert for ``tls-sample``, no client cert) when given ``certs``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent import futures
from types import TracebackType
from typing import Any

import grpc

from .certs import TestCerts

__all__ = ["ApiKeyFront"]

_IDENTITY = None  # grpcio passes bytes through when (de)serializers are None

# Like a real frontend, do not choke on big history pages (grpcio's default limit is 4 MiB).
_MSG_OPTIONS = [
    ("grpc.max_receive_message_length", 128 * 1024 * 1024),
    ("grpc.max_send_message_length", 128 * 1024 * 1024),
]

# Metadata that must not be copied onto the outgoing call.
_DROP_KEYS = {"authorization", "user-agent", "te", "content-type", "host"}


def _forwardable(md: Sequence[tuple[str, Any]] | None) -> list[tuple[str, Any]]:
    out = []
    for k, v in md or ():
        lk = k.lower()
        if lk in _DROP_KEYS or lk.startswith(":") or lk.startswith("grpc-"):
            continue
        out.append((lk, v))
    return out


class _Handler(grpc.GenericRpcHandler):
    def __init__(self, front: ApiKeyFront) -> None:
        self.front = front

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        method: str = handler_call_details.method  # type: ignore[attr-defined]
        front = self.front

        def relay(request: bytes, context: grpc.ServicerContext) -> bytes:
            return front._relay(method, request, context)

        return grpc.unary_unary_rpc_method_handler(
            relay, request_deserializer=_IDENTITY, response_serializer=_IDENTITY
        )


class ApiKeyFront:
    """API-key checking gRPC relay.

    Attributes for assertions: ``last_metadata`` (dict of the last call's metadata, lower-case
    keys, including ``authorization``), ``last_method`` (e.g.
    ``"/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo"``), ``calls`` (list of
    ``(method, metadata_dict)``), ``rejected`` (count of UNAUTHENTICATED answers).
    """

    def __init__(
        self,
        upstream: str,
        api_key: str = "wb-test-key-123",
        *,
        certs: TestCerts | None = None,
        host: str = "127.0.0.1",
        max_workers: int = 16,
        message: str = "invalid API key",
        deny_methods: tuple[str, ...] = (),
    ) -> None:
        self.upstream = upstream
        self.api_key = api_key
        self.certs = certs
        self.host = host
        self.port = 0
        self.max_workers = max_workers
        self.message = message
        # Methods answered PERMISSION_DENIED even with the right key, as for namespace-scoped
        # credentials (e.g. "ListNamespaces").
        self.deny_methods = deny_methods
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.rejected = 0
        self._lock = threading.Lock()
        self._server: grpc.Server | None = None
        self._channel: grpc.Channel | None = None

    @property
    def tls(self) -> bool:
        return self.certs is not None

    @property
    def address(self) -> str:
        if not self.port:
            raise RuntimeError("ApiKeyFront is not started")
        return f"{self.host}:{self.port}"

    @property
    def server_name(self) -> str | None:
        """With TLS: the name clients must use as ``grpc.ssl_target_name_override``."""
        return self.certs.server_name if self.certs is not None else None

    @property
    def last_metadata(self) -> dict[str, Any]:
        with self._lock:
            return dict(self.calls[-1][1]) if self.calls else {}

    @property
    def last_method(self) -> str | None:
        with self._lock:
            return self.calls[-1][0] if self.calls else None

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.rejected = 0

    def start(self) -> ApiKeyFront:
        if self._server is not None:
            return self
        self._channel = grpc.insecure_channel(self.upstream, options=_MSG_OPTIONS)
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="apikey"),
            handlers=[_Handler(self)],
            options=[("grpc.so_reuseport", 0), *_MSG_OPTIONS],
        )
        bind = f"{self.host}:0"
        if self.certs is not None:
            creds = grpc.ssl_server_credentials(
                [(self.certs.server_key.read_bytes(), self.certs.server_cert.read_bytes())],
                root_certificates=None,
                require_client_auth=False,
            )
            self.port = server.add_secure_port(bind, creds)
        else:
            self.port = server.add_insecure_port(bind)
        if not self.port:
            raise RuntimeError("ApiKeyFront could not bind a port")
        server.start()
        self._server = server
        return self

    def stop(self, grace: float | None = None) -> None:
        if self._server is not None:
            self._server.stop(grace).wait(timeout=10)
            self._server = None
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def __enter__(self) -> ApiKeyFront:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        mode = "TLS" if self.tls else "plaintext"
        return f"<ApiKeyFront {mode} {self.port and self.address} -> {self.upstream}>"

    # ------------------------------------------------------------------ relay
    def _relay(self, method: str, request: bytes, context: grpc.ServicerContext) -> bytes:
        md = list(context.invocation_metadata() or ())
        md_dict: dict[str, Any] = {}
        for k, v in md:
            md_dict[k.lower()] = v
        with self._lock:
            self.calls.append((method, md_dict))
        if md_dict.get("authorization") != f"Bearer {self.api_key}":
            with self._lock:
                self.rejected += 1
            context.abort(grpc.StatusCode.UNAUTHENTICATED, self.message)
        if method.rsplit("/", 1)[-1] in self.deny_methods:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "Request unauthorized.")
        channel = self._channel
        if channel is None:
            context.abort(grpc.StatusCode.UNAVAILABLE, "api key front is stopping")
        call = channel.unary_unary(  # type: ignore[union-attr]
            method, request_serializer=_IDENTITY, response_deserializer=_IDENTITY
        )
        remaining = context.time_remaining()
        timeout = remaining if remaining is not None and remaining < 1e6 else None
        try:
            response, upstream_call = call.with_call(
                request, timeout=timeout, metadata=_forwardable(md)
            )
        except grpc.RpcError as e:
            trailing = e.trailing_metadata() if hasattr(e, "trailing_metadata") else None  # type: ignore[attr-defined]
            if trailing:
                context.set_trailing_metadata(tuple(trailing))
            context.abort(e.code(), e.details() or "")  # type: ignore[attr-defined]
        initial = upstream_call.initial_metadata()
        if initial:
            context.send_initial_metadata(tuple(_forwardable(initial)))
        trailing = upstream_call.trailing_metadata()
        if trailing:
            context.set_trailing_metadata(tuple(_forwardable(trailing)))
        return response  # type: ignore[no-any-return]
