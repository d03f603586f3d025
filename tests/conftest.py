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


# -- panels: encrypted workflows run by a real worker ------------------------------------------

UI_KEY_ID = "ui-key-1"
UI_KEY = bytes(range(32))  # a fixed test key: the browser test types it into the panel
UI_TASK_QUEUE = "wb-ui-tests"
UI_RUNS = 24
UI_FAILED = 6


@pytest.fixture(scope="session")
def ui_data(dev_server: DevServer) -> dict[str, Any]:
    """``UI_RUNS`` ShopWorkflow runs (``UI_FAILED`` of them failed) with AES-GCM(zlib) payloads,
    written by a real worker; returns their ids and the key."""
    import asyncio
    import dataclasses
    import time
    import uuid

    from codec_samples import SampleChain, SampleEncryptionCodec, SampleZlibCodec
    from temporalio.client import Client, WorkflowFailureError
    from temporalio.converter import DataConverter
    from temporalio.worker import Worker
    from workflows_ui import ShopOrder, ShopWorkflow, shop_charge

    tag = uuid.uuid4().hex[:6]
    codec = SampleChain(SampleZlibCodec(), SampleEncryptionCodec({UI_KEY_ID: UI_KEY}))
    converter = dataclasses.replace(DataConverter.default, payload_codec=codec)

    async def run() -> list[str]:
        client = await Client.connect(dev_server.address, data_converter=converter)
        ids = []
        async with Worker(
            client, task_queue=UI_TASK_QUEUE, workflows=[ShopWorkflow], activities=[shop_charge]
        ):
            handles = []
            for i in range(UI_RUNS):
                wid = f"ui-order-{tag}-{i:03d}"
                order = ShopOrder(f"o-{i}", f"customer-{i}", 10.0 + i, fail=i < UI_FAILED)
                handles.append(
                    await client.start_workflow(
                        ShopWorkflow.run, order, id=wid, task_queue=UI_TASK_QUEUE
                    )
                )
                ids.append(wid)
            for h in handles:
                with contextlib.suppress(WorkflowFailureError):
                    await asyncio.wait_for(h.result(), 60)
        return ids

    ids = asyncio.run(run())
    # Visibility is eventually consistent: wait until the listing shows every run closed.
    import workbench

    with workbench.connect(address=dev_server.address, namespace="default", env={}) as s:
        deadline = time.monotonic() + 60
        query = f"WorkflowType='ShopWorkflow' AND WorkflowId STARTS_WITH 'ui-order-{tag}'"
        while s.count(query + " AND ExecutionStatus != 'Running'") < UI_RUNS:
            if time.monotonic() > deadline:
                raise RuntimeError("the listing never showed every ShopWorkflow run closed")
            time.sleep(0.2)
    return {
        "ids": ids,
        "tag": tag,
        "query": query,
        "key_id": UI_KEY_ID,
        "key": UI_KEY,
        "address": dev_server.address,
    }
