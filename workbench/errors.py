"""The exception tree of Temporal Workbench.

Every failure a user can act on is raised as a :class:`WorkbenchError` subclass whose message
names the setting or value at fault and what to do about it. Transport errors from grpcio are
translated once, in :mod:`workbench.connection`; a raw ``grpc.RpcError`` never reaches a user.

Messages never contain secrets (API keys, private keys, encryption keys): see
:func:`workbench._redact.redact`.

::

    WorkbenchError
    ├── ArgumentError            an argument of a call is malformed (a limit, an empty id)
    ├── SettingsError            a setting is missing, malformed or contradictory
    │   ├── ProfileNotFound      the requested temporal.toml profile does not exist
    │   └── TLSMaterialError     a certificate or key cannot be read, parsed, or does not fit
    ├── ConnectError             the server could not be reached or did not answer
    │   ├── ConnectTimeout       the server accepted the connection but never answered
    │   ├── TLSError             the TLS handshake failed (CA, server name, client certificate)
    │   └── AuthError            the server refused the credentials (API key, permissions)
    ├── NamespaceNotFound        the namespace does not exist on this server
    ├── NotFound                 a workflow, run or other object does not exist
    ├── QueryError               the server rejected a visibility query
    ├── RPCError                 any other server error, with its gRPC status
    ├── HistoryFormatError       a history file or JSON text is not a workflow history
    └── CodecError               a codec is misconfigured
        └── DecodeError          one payload could not be decoded
"""

from __future__ import annotations

__all__ = [
    "ArgumentError",
    "AuthError",
    "CodecError",
    "ConnectError",
    "ConnectTimeout",
    "DecodeError",
    "HistoryFormatError",
    "NamespaceNotFound",
    "NotFound",
    "ProfileNotFound",
    "QueryError",
    "RPCError",
    "SettingsError",
    "TLSError",
    "TLSMaterialError",
    "WorkbenchError",
]


class WorkbenchError(Exception):
    """Base class of every error the workbench raises on purpose.

    Attributes:
        message: The human-readable explanation (also ``str(error)``).
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ArgumentError(WorkbenchError, ValueError):
    """An argument of a call is missing, malformed or out of range (a ``limit`` that is not an
    integer, an empty workflow id, a query a call cannot take).

    Attributes:
        argument: The name of the argument at fault (e.g. ``"limit"``).
    """

    def __init__(self, message: str, *, argument: str) -> None:
        super().__init__(message)
        self.argument = argument


class SettingsError(WorkbenchError, ValueError):
    """A connection setting is missing, malformed or contradictory.

    Attributes:
        setting: The name of the setting at fault (e.g. ``"tls.client_key_path"``), if known.
    """

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


class ProfileNotFound(SettingsError):
    """The temporal.toml profile that was asked for does not exist."""

    def __init__(self, message: str, *, profile: str, config_file: str | None) -> None:
        super().__init__(message, setting="profile")
        self.profile = profile
        self.config_file = config_file


class TLSMaterialError(SettingsError):
    """A certificate or private key cannot be read or parsed, or does not fit its pair.

    Raised *before* any connection is attempted: grpcio aborts the whole process (and so a
    Jupyter kernel) on some of these mistakes, so they are caught here first.
    """


class ConnectError(WorkbenchError, ConnectionError):
    """The server could not be reached, or the connection failed.

    Attributes:
        address: The ``host:port`` that was dialled.
        grpc_code: The gRPC status code name (e.g. ``"UNAVAILABLE"``), if a call was made.
        details: The transport's own words, for bug reports (never contains secrets).
    """

    def __init__(
        self,
        message: str,
        *,
        address: str | None = None,
        grpc_code: str | None = None,
        details: str | None = None,
    ) -> None:
        super().__init__(message)
        self.address = address
        self.grpc_code = grpc_code
        self.details = details


class ConnectTimeout(ConnectError, TimeoutError):
    """The server accepted the connection (or the call) but did not answer in time."""


class TLSError(ConnectError):
    """The TLS handshake failed: untrusted server certificate, wrong server name, a client
    certificate the server refused, or TLS spoken to a plaintext port (or the reverse)."""


class AuthError(ConnectError):
    """The server refused the credentials (``UNAUTHENTICATED`` or ``PERMISSION_DENIED``)."""


class NamespaceNotFound(WorkbenchError, LookupError):
    """The namespace does not exist on the server.

    Attributes:
        namespace: The namespace that was asked for.
    """

    def __init__(self, message: str, *, namespace: str) -> None:
        super().__init__(message)
        self.namespace = namespace


class NotFound(WorkbenchError, LookupError):
    """A workflow execution, run or other object does not exist.

    Attributes:
        workflow_id: The workflow id that was asked for, if any.
        run_id: The run id that was asked for, if any.
    """

    def __init__(
        self, message: str, *, workflow_id: str | None = None, run_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.workflow_id = workflow_id
        self.run_id = run_id


class QueryError(WorkbenchError, ValueError):
    """The server rejected a visibility query.

    Attributes:
        query: The query as sent.
        server_message: The server's own words about what is wrong.
    """

    def __init__(self, message: str, *, query: str, server_message: str) -> None:
        super().__init__(message)
        self.query = query
        self.server_message = server_message


class RPCError(WorkbenchError):
    """Any other error a server call returned.

    Attributes:
        method: The WorkflowService method called.
        grpc_code: The gRPC status code name.
        details: The server's message.
    """

    def __init__(self, message: str, *, method: str, grpc_code: str, details: str) -> None:
        super().__init__(message)
        self.method = method
        self.grpc_code = grpc_code
        self.details = details


class HistoryFormatError(WorkbenchError, ValueError):
    """A history file or JSON text cannot be read as a workflow history.

    Attributes:
        source: The file name, or ``"<text>"``/``"<dict>"`` for in-memory JSON.
    """

    def __init__(self, message: str, *, source: str) -> None:
        super().__init__(message)
        self.source = source


class CodecError(WorkbenchError):
    """A codec is misconfigured (bad key, unreachable codec server at setup, …)."""


class DecodeError(CodecError):
    """One payload could not be decoded.

    History decoding never raises this to the user: it is recorded in the ``error`` column of
    the payload's row and the rest of the history decodes.
    """


def as_sentence(text: str) -> str:
    """A server's words ended by one period (they often end in one already), to quote them in a
    message that goes on."""
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."
