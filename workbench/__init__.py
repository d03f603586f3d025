"""Temporal Workbench: explore a Temporal cluster from Python and Jupyter.

>>> import workbench
>>> s = workbench.connect()                       # env / temporal.toml / localhost:7233
>>> s.server_info.server_version

``import workbench`` stays light: it does not import ipywidgets (the panels live in
``workbench.ui``), so workers and the workflow sandbox can import it.
"""

from __future__ import annotations

import os as _os

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
    "connect",
    "read_export",
]
