"""What a session knows of the cluster: server info, namespaces."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd
from temporalio.api.enums.v1 import ArchivalState, NamespaceState
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceResponse,
    GetSystemInfoResponse,
    ListNamespacesRequest,
)

from ._enums import enum_labels
from .errors import AuthError

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["NAMESPACE_COLUMNS", "NamespaceInfo", "ServerInfo", "namespaces_frame"]

NAMESPACE_COLUMNS = [
    "name",
    "id",
    "state",
    "description",
    "owner_email",
    "retention",
    "is_global",
    "active_cluster",
    "clusters",
    "history_archival",
    "visibility_archival",
]


def _duration(d: Any) -> dt.timedelta | None:
    if d.seconds == 0 and d.nanos == 0:
        return None
    return dt.timedelta(seconds=d.seconds, microseconds=d.nanos // 1000)


@dataclass(frozen=True)
class NamespaceInfo:
    """A namespace as ``DescribeNamespace`` / ``ListNamespaces`` describe it."""

    name: str
    """The namespace name."""
    id: str
    """The namespace's unique id."""
    state: str
    """``Registered``, ``Deprecated`` or ``Deleted``."""
    description: str
    """Free text set by its owner."""
    owner_email: str
    """Owner's e-mail, if set."""
    retention: dt.timedelta | None
    """How long closed workflows are kept."""
    is_global: bool
    """Whether the namespace is replicated across clusters."""
    active_cluster: str
    """The cluster currently active for it."""
    clusters: tuple[str, ...]
    """Clusters it is replicated to."""
    history_archival: str
    """History archival state (``Enabled``/``Disabled``)."""
    visibility_archival: str
    """Visibility archival state."""
    raw: DescribeNamespaceResponse = field(repr=False, compare=False)
    """The response as received (escape hatch)."""

    @classmethod
    def from_proto(cls, r: DescribeNamespaceResponse) -> NamespaceInfo:
        """Build from a ``DescribeNamespaceResponse``."""
        info, config, repl = r.namespace_info, r.config, r.replication_config
        archival = enum_labels(ArchivalState, "ARCHIVAL_STATE_")
        return cls(
            name=info.name,
            id=info.id,
            state=enum_labels(NamespaceState, "NAMESPACE_STATE_").get(info.state, str(info.state)),
            description=info.description,
            owner_email=info.owner_email,
            retention=_duration(config.workflow_execution_retention_ttl),
            is_global=r.is_global_namespace,
            active_cluster=repl.active_cluster_name,
            clusters=tuple(c.cluster_name for c in repl.clusters),
            history_archival=archival.get(config.history_archival_state, ""),
            visibility_archival=archival.get(config.visibility_archival_state, ""),
            raw=r,
        )


@dataclass(frozen=True)
class ServerInfo:
    """What the server said about itself and the session's namespace when connecting."""

    address: str
    """The address connected to."""
    server_version: str
    """The server's version, e.g. ``1.27.2``."""
    capabilities: Mapping[str, bool]
    """The server's capability flags (``GetSystemInfo``), every flag named, true or false."""
    namespace: NamespaceInfo
    """The session's namespace."""
    raw: GetSystemInfoResponse = field(repr=False, compare=False)
    """The ``GetSystemInfo`` response as received (escape hatch)."""

    @classmethod
    def from_proto(
        cls, address: str, system: GetSystemInfoResponse, namespace: DescribeNamespaceResponse
    ) -> ServerInfo:
        """Build from the two responses a connect check gets."""
        caps = system.capabilities
        return cls(
            address=address,
            server_version=system.server_version,
            capabilities={f.name: bool(getattr(caps, f.name)) for f in caps.DESCRIPTOR.fields},
            namespace=NamespaceInfo.from_proto(namespace),
            raw=system,
        )

    def __repr__(self) -> str:
        ns = self.namespace
        return (
            f"ServerInfo({self.address!r}, version={self.server_version!r}, "
            f"namespace={ns.name!r}, retention={ns.retention})"
        )

    def _repr_html_(self) -> str:
        from ._html import server_info_html

        return server_info_html(self)

    def _repr_markdown_(self) -> str:
        ns = self.namespace
        enabled = ", ".join(k for k, v in self.capabilities.items() if v) or "none"
        retention = f"{ns.retention.days} days" if ns.retention else "unset"
        return (
            f"**Temporal {self.server_version or '(version not reported)'}** at "
            f"`{self.address}`  \nnamespace **{ns.name}** ({ns.state}, retention "
            f"{retention})  \ncapabilities: {enabled}"
        )


def namespaces_frame(conn: Connection) -> pd.DataFrame:
    """Every namespace the credentials may list, one row each (columns ``NAMESPACE_COLUMNS``).

    Raises:
        AuthError: The credentials may not list namespaces (e.g. a namespace-scoped API key).
    """

    def denied(details: str) -> AuthError:
        return AuthError(
            f"these credentials may not list namespaces on {conn.settings.address} ({details}). "
            "Namespace-scoped keys and certificates can only see their own namespace: use "
            "session.server_info.namespace instead.",
            address=conn.settings.address,
            grpc_code="PERMISSION_DENIED",
            details=details,
        )

    rows: list[NamespaceInfo] = []
    token = b""
    while True:
        resp = conn.call(
            "ListNamespaces",
            ListNamespacesRequest(page_size=1000, next_page_token=token),
            errors={"PERMISSION_DENIED": denied},
        )
        rows.extend(NamespaceInfo.from_proto(n) for n in resp.namespaces)
        token = resp.next_page_token
        if not token:
            break
    if not rows:
        empty: pd.DataFrame = pd.DataFrame(
            {c: pd.Series(dtype="object") for c in NAMESPACE_COLUMNS}
        )
        return empty
    frame = pd.DataFrame(
        [{c: getattr(ns, c) for c in NAMESPACE_COLUMNS} for ns in rows], columns=NAMESPACE_COLUMNS
    )
    frame["retention"] = pd.to_timedelta(frame["retention"])
    ordered: pd.DataFrame = frame.sort_values("name", ignore_index=True)
    return ordered
