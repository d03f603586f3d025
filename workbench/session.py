"""Session: the plain-Python facade that notebooks, panels and the codec server share.

A session is one connection to one namespace. Every method returns plain Python or pandas
objects; nothing here imports ipywidgets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import pandas as pd

from .cluster import ServerInfo, namespaces_frame
from .connection import Connection
from .settings import ConnectionSettings, TLSSettings

__all__ = ["Session", "connect"]


class Session:
    """A connection to one namespace of a Temporal cluster, checked when it is made.

    Build one with :func:`workbench.connect`. Use it as a context manager, or call
    :meth:`close`, to release the channel.
    """

    def __init__(self, settings: ConnectionSettings, *, check: bool = True) -> None:
        """Open a channel for ``settings`` and, unless ``check=False``, verify it.

        The check calls ``GetSystemInfo`` and then ``DescribeNamespace`` on the chosen
        namespace; it does not need ``ListNamespaces``, which namespace-scoped credentials
        cannot call.

        Raises:
            SettingsError: Bad settings or TLS material (nothing was dialled).
            ConnectError: The server could not be reached (TLSError, AuthError, ConnectTimeout).
            NamespaceNotFound: The namespace does not exist.
        """
        self.settings = settings
        self.connection = Connection(settings)
        self._server_info: ServerInfo | None = None
        if check:
            try:
                self._server_info = self._fetch_server_info()
            except BaseException:
                self.connection.close()
                raise

    def __repr__(self) -> str:
        return f"Session({self.settings.address!r}, namespace={self.settings.namespace!r})"

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fetch_server_info(self) -> ServerInfo:
        system = self.connection.system_info()
        namespace = self.connection.describe_namespace()
        return ServerInfo.from_proto(self.settings.address, system, namespace)

    @property
    def namespace(self) -> str:
        """The namespace this session works in."""
        return self.settings.namespace

    @property
    def server_info(self) -> ServerInfo:
        """Server version, capabilities and the namespace's description (fetched once)."""
        if self._server_info is None:
            self._server_info = self._fetch_server_info()
        return self._server_info

    def namespaces(self) -> pd.DataFrame:
        """All namespaces, one row each, where the credentials allow listing them.

        Raises:
            AuthError: The credentials may not list namespaces.
        """
        return namespaces_frame(self.connection)

    def close(self) -> None:
        """Close the connection. The session cannot be used afterwards."""
        self.connection.close()


def connect(
    address: str | None = None,
    namespace: str | None = None,
    *,
    tls: TLSSettings | bool | None = None,
    api_key: str | None = None,
    profile: str | None = None,
    config_file: str | os.PathLike[str] | None = None,
    grpc_meta: Mapping[str, str] | None = None,
    connect_timeout: float | None = None,
    rpc_timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> Session:
    """Connect to a Temporal cluster and return a checked :class:`Session`.

    Settings not given here come from the environment (``TEMPORAL_ADDRESS``, ...), then from
    the config profile (``TEMPORAL_PROFILE``/``profile=`` in ``temporal.toml``), then default to
    ``localhost:7233`` and namespace ``default`` — as the ``temporal`` CLI does.

    Args:
        address: ``host:port`` of the frontend.
        namespace: Namespace to work in.
        tls: ``True``/``False``, or :class:`TLSSettings` (CA, client cert and key,
            server-name override).
        api_key: Temporal Cloud API key (sent as a bearer token; turns TLS on).
        profile: Profile of the config file to load.
        config_file: Config file to read instead of the default one.
        grpc_meta: Extra gRPC metadata for every call.
        connect_timeout: Seconds to wait for the server when connecting (default 10).
        rpc_timeout: Seconds each call may take (default 60).
        env: Environment to read instead of ``os.environ`` (``{}`` ignores it).
        **kwargs: Other :class:`ConnectionSettings` fields (``codec_endpoint``, ``codec_auth``).

    Raises:
        SettingsError: A setting is malformed, a profile is missing, TLS material is bad.
        ConnectError: The server could not be reached; subclasses say why (``TLSError``,
            ``AuthError``, ``ConnectTimeout``).
        NamespaceNotFound: The namespace does not exist on the server.
    """
    settings = ConnectionSettings.load(
        profile=profile,
        config_file=config_file,
        env=env,
        address=address,
        namespace=namespace,
        tls=tls,
        api_key=api_key,
        grpc_meta=grpc_meta,
        connect_timeout=connect_timeout,
        rpc_timeout=rpc_timeout,
        **kwargs,
    )
    return Session(settings)
