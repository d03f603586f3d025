"""Temporal Workbench: explore a Temporal cluster from Python and Jupyter.

>>> import workbench
>>> s = workbench.connect()                       # env / temporal.toml / localhost:7233
>>> s.server_info.server_version

``import workbench`` stays light: it does not import ipywidgets (the panels live in
``workbench.ui``), so workers and the workflow sandbox can import it.
"""

from __future__ import annotations

import os as _os
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

# grpc's C core reads its log level once, when grpc is first imported, and writes handshake
# failures straight to the process's stderr, which ipykernel copies into notebook outputs. Set it
# before anything below imports grpc (temporalio's stubs do). Users can still opt in with
# GRPC_VERBOSITY=DEBUG; a grpc imported before workbench keeps its own setting.
_os.environ.setdefault("GRPC_VERBOSITY", "NONE")

__version__ = "0.1.0"

from .cluster import NamespaceInfo, ServerInfo
from .errors import (
    ArgumentError,
    AuthError,
    CodecError,
    ConnectError,
    ConnectTimeout,
    DecodeError,
    HistoryFormatError,
    NamespaceNotFound,
    NotFound,
    ProfileNotFound,
    QueryError,
    RPCError,
    SettingsError,
    TLSError,
    TLSMaterialError,
    WorkbenchError,
)
from .export import ExportFormatError, ExportProblem, read_export
from .history import History, HistoryInterrupted
from .many import Histories
from .session import Session, connect
from .settings import ConnectionSettings, TLSSettings
from .workflows import ListingInterrupted, WorkflowDescription

if _TYPE_CHECKING:
    from .server import CodecReport, CodecServer


def serve_codec(codec: _Any = None, **options: _Any) -> CodecServer:
    """Serve a codec to the Temporal Web UI and CLI in the background (needs the ``server``
    extra, aiohttp); see :func:`workbench.server.serve_codec` for the options."""
    from .server import serve_codec as serve

    return serve(codec, **options)


def check_codec_server(url: str, **options: _Any) -> CodecReport:
    """Check a codec server as the Web UI and CLI call it; see
    :func:`workbench.server.check_codec_server` for the options."""
    from .server import check_codec_server as check

    return check(url, **options)


__all__ = [
    "ArgumentError",
    "AuthError",
    "CodecError",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionSettings",
    "DecodeError",
    "ExportFormatError",
    "ExportProblem",
    "Histories",
    "History",
    "HistoryFormatError",
    "HistoryInterrupted",
    "ListingInterrupted",
    "NamespaceInfo",
    "NamespaceNotFound",
    "NotFound",
    "ProfileNotFound",
    "QueryError",
    "RPCError",
    "ServerInfo",
    "Session",
    "SettingsError",
    "TLSError",
    "TLSMaterialError",
    "TLSSettings",
    "WorkbenchError",
    "WorkflowDescription",
    "__version__",
    "check_codec_server",
    "connect",
    "read_export",
    "serve_codec",
]
