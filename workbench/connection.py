"""The gRPC connection to a Temporal frontend: channel, credentials, metadata, errors.

This is the only module that touches ``grpc`` and the only place a ``grpc.RpcError`` becomes a
:class:`~workbench.errors.WorkbenchError`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any, TypeVar

# workbench/__init__ quiets grpc's C-core log before grpc is first imported.
import grpc
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    DescribeNamespaceResponse,
    GetSystemInfoRequest,
    GetSystemInfoResponse,
    WorkflowServiceStub,
)

from . import __version__
from ._redact import redact
from .errors import (
    AuthError,
    ConnectError,
    ConnectTimeout,
    NamespaceNotFound,
    NotFound,
    RPCError,
    TLSError,
    WorkbenchError,
    as_sentence,
)
from .settings import ConnectionSettings
from .tls import load_tls_material, peer_certificate_name, probe_speaks_tls

__all__ = ["Connection", "ErrorMap"]

T = TypeVar("T")

# Per-call refinements: status code name -> builder of the error to raise from the details.
ErrorMap = Mapping[str, Callable[[str], WorkbenchError]]

MAX_RECEIVE_BYTES = 512 * 1024 * 1024  # histories and big pages exceed grpc's 4 MiB default


class Connection:
    """A grpcio channel to one namespace of a Temporal cluster.

    Calls are synchronous (``call``) or return a future (``call_future``) so that the next page
    of a listing can be fetched while the current one is converted. Both translate every gRPC
    failure into a :class:`~workbench.errors.WorkbenchError`.
    """

    def __init__(self, settings: ConnectionSettings) -> None:
        self.settings = settings
        self._secrets = settings.secrets
        self._metadata = self._build_metadata()
        self._channel = self._build_channel()
        self.stub = WorkflowServiceStub(self._channel)
        self._custom_methods: dict[tuple[str, Any], Any] = {}
        self._closed = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Connection({self.settings!r})"

    # -- construction -------------------------------------------------------------------------

    def _build_metadata(self) -> tuple[tuple[str, str], ...]:
        s = self.settings
        meta = dict(s.grpc_meta)
        if s.api_key and "authorization" not in meta:
            meta["authorization"] = f"Bearer {s.api_key}"
        meta["temporal-namespace"] = s.namespace
        return tuple(meta.items())

    def _build_channel(self) -> grpc.Channel:
        s = self.settings
        options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", MAX_RECEIVE_BYTES),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
            # Every channel gets its own subchannel pool: a new Session after an outage must not
            # inherit the global pool's exponential backoff (which makes it ~9 s late).
            ("grpc.use_local_subchannel_pool", 1),
            # Reconnect soon after an outage (0.2 s, doubling to 2 s). Not the minimum backoff:
            # grpc also makes it the deadline of each connection attempt, and 0.2 s is shorter
            # than a TLS handshake with a server on another continent.
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 2000),
            ("grpc.primary_user_agent", f"temporal-workbench/{__version__}"),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 15_000),
        ]
        if not s.use_tls:
            return grpc.insecure_channel(s.address, options=options)
        tls = s.tls
        material = load_tls_material(tls) if tls is not None else None
        server_name = tls.server_name if tls is not None else None
        if tls is not None and tls.disable_host_verification and not server_name:
            server_name = peer_certificate_name(s.address, s.connect_timeout)
        if server_name:
            options.append(("grpc.ssl_target_name_override", server_name))
        creds = grpc.ssl_channel_credentials(
            root_certificates=material.ca_cert if material else None,
            private_key=material.client_key if material else None,
            certificate_chain=material.client_cert if material else None,
        )
        return grpc.secure_channel(s.address, creds, options=options)

    # -- calls --------------------------------------------------------------------------------

    def call(
        self,
        method: str,
        request: Any,
        *,
        timeout: float | None = None,
        errors: ErrorMap | None = None,
        response_type: Any = None,
    ) -> Any:
        """Call a WorkflowService method and return its response.

        Args:
            method: The stub attribute, e.g. ``"ListWorkflowExecutions"``.
            request: The request message.
            timeout: Seconds; default ``settings.rpc_timeout``.
            errors: Refinements for some status codes (e.g. ``NOT_FOUND`` → ``NotFound`` naming
                the workflow id).
            response_type: A class with ``FromString`` to parse the response with instead of
                the method's response message (a wire-compatible view that parses faster).

        Raises:
            WorkbenchError: Translated from the gRPC failure.
        """
        fn = self._method(method, response_type)

        def call() -> Any:
            try:
                return fn(
                    request,
                    timeout=timeout or self.settings.rpc_timeout,
                    metadata=self._metadata,
                )
            except grpc.RpcError as e:
                raise self.translate(e, method, errors) from None

        return _off_main_thread(call)

    def call_future(
        self,
        method: str,
        request: Any,
        *,
        timeout: float | None = None,
        errors: ErrorMap | None = None,
        response_type: Any = None,
    ) -> Future[Any]:
        """Start a call and return a future whose ``result()`` raises translated errors.

        ``response_type``, if given, is a message class wire-compatible with the method's
        response that the response is parsed into instead (e.g. a view with fewer fields, which
        parses faster).
        """
        fn = self._method(method, response_type)
        out: Future[Any] = Future()

        def done(c: Any) -> None:
            try:
                out.set_result(c.result())
            except grpc.RpcError as e:
                out.set_exception(self.translate(e, method, errors))
            except Exception as e:  # pragma: no cover - cancellation and the like
                out.set_exception(e)

        def start() -> None:
            try:
                call = fn.future(
                    request,
                    timeout=timeout or self.settings.rpc_timeout,
                    metadata=self._metadata,
                )
            except grpc.RpcError as e:  # pragma: no cover - grpc reports errors via the future
                out.set_exception(self.translate(e, method, errors))
                return
            except Exception as e:  # pragma: no cover
                out.set_exception(e)
                return
            call.add_done_callback(done)

        _start_off_main_thread(start)
        return out

    def _method(self, method: str, response_type: Any) -> Any:
        if response_type is None:
            return getattr(self.stub, method)
        key = (method, response_type)
        fn = self._custom_methods.get(key)
        if fn is None:
            fn = self._channel.unary_unary(
                f"/temporal.api.workflowservice.v1.WorkflowService/{method}",
                request_serializer=_serialize,
                response_deserializer=response_type.FromString,
            )
            self._custom_methods[key] = fn
        return fn

    def system_info(self) -> GetSystemInfoResponse:
        """``GetSystemInfo`` with the connect timeout: the first call of a session."""
        result: GetSystemInfoResponse = self.call(
            "GetSystemInfo", GetSystemInfoRequest(), timeout=self.settings.connect_timeout
        )
        return result

    def describe_namespace(self, namespace: str | None = None) -> DescribeNamespaceResponse:
        """``DescribeNamespace`` of the session's (or another) namespace."""
        name = namespace or self.settings.namespace
        result: DescribeNamespaceResponse = self.call(
            "DescribeNamespace",
            DescribeNamespaceRequest(namespace=name),
            timeout=self.settings.connect_timeout,
            errors={"NOT_FOUND": lambda details: _namespace_not_found(name, self.settings)},
        )
        return result

    def close(self) -> None:
        """Close the channel; calls in flight are cancelled."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._channel.close()

    # -- errors -------------------------------------------------------------------------------

    def translate(
        self, error: grpc.RpcError, method: str, errors: ErrorMap | None = None
    ) -> WorkbenchError:
        """Turn a gRPC failure into the most specific WorkbenchError, secrets redacted."""
        code_obj = error.code() if hasattr(error, "code") else None
        code = code_obj.name if code_obj is not None else "UNKNOWN"
        details = redact(
            str(error.details() if hasattr(error, "details") else error), self._secrets
        )
        if errors and code in errors:
            return errors[code](details)
        return _translate(code, details, method, self.settings)


def _serialize(message: Any) -> bytes:
    data: bytes = message.SerializeToString()
    return data


def _namespace_not_found(namespace: str, s: ConnectionSettings) -> NamespaceNotFound:
    return NamespaceNotFound(
        f"namespace {namespace!r} does not exist on {s.address}. Check namespace= "
        "(TEMPORAL_NAMESPACE); for a local dev server create it with "
        f"'temporal operator namespace create --namespace {namespace}' or start the server "
        f"with '--namespace {namespace}'.",
        namespace=namespace,
    )


def _has(details: str, *needles: str) -> bool:
    low = details.lower()
    return any(n.lower() in low for n in needles)


def _translate(code: str, details: str, method: str, s: ConnectionSettings) -> WorkbenchError:
    address = s.address
    kw: dict[str, Any] = {"address": address, "grpc_code": code, "details": details}
    if code == "UNAVAILABLE":
        return _translate_unavailable(details, s, kw)
    if code == "DEADLINE_EXCEEDED":
        if method in ("GetSystemInfo", "DescribeNamespace"):
            return ConnectTimeout(
                f"the server at {address} did not answer within {s.connect_timeout:g} s "
                "(the connection, its TLS handshake or the first call did not complete). Check "
                "that the address is a Temporal frontend (gRPC port, usually 7233), that TLS is "
                "set as the server expects, or raise connect_timeout for a slow or distant link.",
                **kw,
            )
        return ConnectTimeout(
            f"{method} on {address} timed out after {s.rpc_timeout:g} s; the server may be "
            "overloaded. Retry, narrow the request, or raise rpc_timeout.",
            **kw,
        )
    if code == "UNAUTHENTICATED":
        what = "the API key" if s.api_key else "the request (no API key was sent)"
        hint = (
            "Check api_key (TEMPORAL_API_KEY): it may be wrong, expired or revoked."
            if s.api_key
            else "This server needs credentials: set api_key= (TEMPORAL_API_KEY) or a client "
            "certificate."
        )
        return AuthError(f"{address} refused {what}: {as_sentence(details)} {hint}", **kw)
    if code == "PERMISSION_DENIED":
        return AuthError(
            f"{address} denied {method} in namespace {s.namespace!r}: {as_sentence(details)} The "
            "credentials are valid but not allowed this call; check the key's or "
            "certificate's permissions for this namespace.",
            **kw,
        )
    if code == "NOT_FOUND":
        if _has(details, "namespace") and _has(details, "not found"):
            return _namespace_not_found(s.namespace, s)
        return NotFound(f"{method}: not found on {address}: {details}")
    if code == "UNIMPLEMENTED":
        return RPCError(
            f"{address} does not implement {method} ({details}); the server may be too old "
            "for this feature, or the address is not a Temporal frontend.",
            method=method,
            grpc_code=code,
            details=details,
        )
    if code == "RESOURCE_EXHAUSTED" and _has(details, "received message larger"):
        return RPCError(
            f"{method}: a response from {address} is larger than the client accepts "
            f"({details}); ask for smaller pages.",
            method=method,
            grpc_code=code,
            details=details,
        )
    return RPCError(
        f"{method} failed on {address} with {code}: {details}",
        method=method,
        grpc_code=code,
        details=details,
    )


def _translate_unavailable(
    details: str, s: ConnectionSettings, kw: dict[str, Any]
) -> WorkbenchError:
    address = s.address
    host = address.rpartition(":")[0]
    if _has(details, "DNS resolution failed", "Domain name not found", "name resolution"):
        return ConnectError(
            f"host {host!r} of address {address!r} cannot be resolved (no such DNS name). "
            "Check the spelling of address= (TEMPORAL_ADDRESS).",
            **kw,
        )
    if _has(details, "before receiving SETTINGS frame", "connection attempt timed out"):
        return ConnectTimeout(
            f"the server at {address} accepted the connection but did not answer within "
            f"{s.connect_timeout:g} s (no gRPC handshake). Check that the address is a Temporal "
            "frontend (gRPC port, usually 7233), that TLS is set as the server expects, or "
            "raise connect_timeout.",
            **kw,
        )
    if _has(details, "Connection refused"):
        return ConnectError(
            f"nothing is listening at {address} (connection refused). Is the server running, "
            "and is this its gRPC port (7233 by default)? For a local server: "
            "'temporal server start-dev'.",
            **kw,
        )
    if s.use_tls:
        server_name = (s.tls.server_name if s.tls else None) or host
        if _has(details, "WRONG_VERSION_NUMBER", "packet length too long", "record layer failure"):
            return TLSError(
                f"TLS handshake with {address} failed: the server does not speak TLS on this "
                "port (it looks like a plaintext port). Set tls=False (TEMPORAL_TLS=false), or "
                "use the server's TLS port.",
                **kw,
            )
        if _has(details, "Hostname Verification", "not in peer certificate", "peer name"):
            return TLSError(
                f"the server certificate at {address} is not issued for {server_name!r}. If the "
                "certificate names another host (e.g. 'tls-sample'), set "
                "tls.server_name (TEMPORAL_TLS_SERVER_NAME / TEMPORAL_SERVER_NAME_OVERRIDE) to "
                "that name.",
                **kw,
            )
        if _has(details, "CERTIFICATE_VERIFY_FAILED", "certificate verify failed"):
            return TLSError(
                f"the server certificate at {address} is not trusted: it is not signed by the "
                "CA in tls.ca_cert_path (or, without one, by a system root). Set "
                "tls.ca_cert_path (TEMPORAL_TLS_SERVER_CA_CERT_PATH) to the CA that signed the "
                "server's certificate.",
                **kw,
            )
        if _has(details, "Failed to create security handshaker"):
            return TLSError(
                f"grpc could not set up TLS for {address} with the configured certificates and "
                "keys; check that tls.ca_cert, tls.client_cert and tls.client_key are the right "
                "PEM files.",
                **kw,
            )
        if _has(details, "ALERT_CERTIFICATE_EXPIRED"):
            return TLSError(
                f"{address} refused the client certificate as expired; get a renewed one.", **kw
            )
        has_cert = s.tls is not None and s.tls.has_client_cert
        refused = ("TSI_DATA_CORRUPTED", "ALERT_HANDSHAKE_FAILURE", "CERTIFICATE_REQUIRED")
        if not has_cert and _has(details, *refused):
            return TLSError(
                f"{address} refused the TLS connection: the server requires a client "
                "certificate (mutual TLS). Set tls.client_cert_path and tls.client_key_path "
                "(TEMPORAL_TLS_CLIENT_CERT_PATH / TEMPORAL_TLS_CLIENT_KEY_PATH).",
                **kw,
            )
        if has_cert and _has(details, *refused, "ALERT_UNKNOWN_CA", "ALERT_BAD_CERTIFICATE"):
            where = (s.tls.client_cert_path if s.tls else None) or "tls.client_cert_data"
            return TLSError(
                f"{address} refused the client certificate in {where}: it is not signed by a "
                "CA the server trusts, or was revoked (the certificate's dates were checked "
                "and are valid). Use a certificate issued by this server's client CA.",
                **kw,
            )
    elif _has(details, "Socket closed", "Connection reset", "connection closed", "EOF") and (
        probe_speaks_tls(address, min(s.connect_timeout, 5.0))
    ):
        return TLSError(
            f"{address} speaks TLS but the connection was plaintext. Set tls=True "
            "(TEMPORAL_TLS=true) and, for a private CA, tls.ca_cert_path.",
            **kw,
        )
    if _has(details, "http1.x server", "HTTP/1"):
        return ConnectError(
            f"{address} answers HTTP/1, not gRPC: it is a web port (the Web UI's or the HTTP "
            "API's), not the Temporal frontend. Use the frontend's gRPC port (7233 unless "
            f"configured otherwise). The server said: {as_sentence(details)}",
            **kw,
        )
    return ConnectError(
        f"cannot reach the Temporal server at {address}: {as_sentence(details)} Check the "
        "address, that the server is up, and the TLS settings.",
        **kw,
    )


def _off_main_thread(call: Callable[[], T]) -> T:
    """``call()``, run on a helper thread when the caller is the main thread.

    KeyboardInterrupt (Ctrl-C, Jupyter's Stop) is delivered to the main thread; one that lands
    inside grpcio's own Python code can leave the channel's lock held, and every later call on
    the session then hangs. The main thread therefore only waits for the result, which an
    interrupt leaves harmlessly: the abandoned call completes unseen on its thread.
    """
    if threading.current_thread() is not threading.main_thread():
        return call()
    result: Future[T] = Future()

    def run() -> None:
        try:
            value = call()
        except BaseException as e:
            result.set_exception(e)
        else:
            result.set_result(value)

    _start_off_main_thread(run)
    return result.result()


def _start_off_main_thread(start: Callable[[], None]) -> None:
    """Run ``start()`` on a helper thread if the caller is the main thread, else inline (see
    :func:`_off_main_thread` for why)."""
    if threading.current_thread() is threading.main_thread():
        threading.Thread(target=start, name="workbench-call", daemon=True).start()
    else:
        start()
