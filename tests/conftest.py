"""Session fixtures: a real Temporal dev server and the fronts placed before it.

Fixtures (all session-scoped unless noted):

- ``dev_server``: :class:`rig.DevServer`, started once; custom search attributes
  ``rig.DEV_SEARCH_ATTRIBUTES`` (WbKeyword, WbText, WbInt, WbDouble, WbBool, WbDatetime,
  WbKeywordList) and the extra namespace ``orders``.
- ``dev_address``: ``"127.0.0.1:<port>"`` of ``dev_server``.
- ``certs``: :class:`rig.TestCerts` (PEM paths; the server cert names only ``tls-sample``).
- ``mtls_front``: :class:`rig.TlsFront` demanding a client cert signed by ``certs.ca_cert``.
- ``mtls_front_tls12``: same, capped at TLS 1.2 (client-cert failures then surface as precise
  alerts in grpc's details instead of TLS 1.3's ``TSI_DATA_CORRUPTED``).
- ``tls_front_noclient``: :class:`rig.TlsFront`, server-side TLS only.
- ``apikey_front``: :class:`rig.ApiKeyFront` (plaintext) expecting ``Bearer wb-test-key-123``.
- ``apikey_tls_front``: the same over TLS (server name ``tls-sample``, no client cert).
- ``silent_server``: :class:`rig.SilentServer` (accepts TCP, never answers).
- ``make_dev_server`` (function scope): factory ``make_dev_server(**DevServer kwargs)`` for
  private servers a test may stop/kill/restart; all are stopped at the end of the test.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rig import (
    API_KEY,
    DEV_NAMESPACES,
    DEV_SEARCH_ATTRIBUTES,
    ApiKeyFront,
    DevServer,
    SilentServer,
    TestCerts,
    TlsFront,
    generate_certs,
)


@pytest.fixture(scope="session")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    server = DevServer(
        data_dir=tmp_path_factory.mktemp("devserver"),
        search_attributes=DEV_SEARCH_ATTRIBUTES,
        namespaces=DEV_NAMESPACES,
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def dev_address(dev_server: DevServer) -> str:
    return dev_server.address


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> TestCerts:
    return generate_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def mtls_front(dev_address: str, certs: TestCerts) -> Iterator[TlsFront]:
    front = TlsFront(dev_address, certs, require_client_cert=True)
    try:
        front.start()
        yield front
    finally:
        front.stop()


@pytest.fixture(scope="session")
def mtls_front_tls12(dev_address: str, certs: TestCerts) -> Iterator[TlsFront]:
    front = TlsFront(
        dev_address, certs, require_client_cert=True, maximum_version=ssl.TLSVersion.TLSv1_2
    )
    try:
        front.start()
        yield front
    finally:
        front.stop()


@pytest.fixture(scope="session")
def tls_front_noclient(dev_address: str, certs: TestCerts) -> Iterator[TlsFront]:
    front = TlsFront(dev_address, certs, require_client_cert=False)
    try:
        front.start()
        yield front
    finally:
        front.stop()


@pytest.fixture(scope="session")
def apikey_front(dev_address: str) -> Iterator[ApiKeyFront]:
    front = ApiKeyFront(dev_address, API_KEY)
    try:
        front.start()
        yield front
    finally:
        front.stop()


@pytest.fixture(scope="session")
def scoped_apikey_front(dev_address: str) -> Iterator[ApiKeyFront]:
    """An API-key front whose key is namespace-scoped: ListNamespaces is denied."""
    front = ApiKeyFront(dev_address, API_KEY, deny_methods=("ListNamespaces",))
    try:
        front.start()
        yield front
    finally:
        front.stop()


@pytest.fixture(scope="session")
def apikey_tls_front(dev_address: str, certs: TestCerts) -> Iterator[ApiKeyFront]:
    front = ApiKeyFront(dev_address, API_KEY, certs=certs)
    try:
        front.start()
        yield front
    finally:
        front.stop()


@pytest.fixture(scope="session")
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_dev_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., DevServer]]:
    started: list[DevServer] = []

    def make(**kwargs: Any) -> DevServer:
        kwargs.setdefault("data_dir", tmp_path_factory.mktemp("devserver-extra"))
        server = DevServer(**kwargs)
        started.append(server)
        return server.start()

    try:
        yield make
    finally:
        for server in reversed(started):
            with contextlib.suppress(Exception):
                server.stop()
