"""The codec server, driven by its real clients: the ``temporal`` CLI and the Web UI in Chromium.

A dev server with its Web UI (``--ui-codec-endpoint`` pointing at our server) holds a workflow
written by a real SDK worker through the samples' AES-GCM codec. The CLI and the browser must
show its plaintext through ``workbench.serve_codec``; the HTTP details (CORS, auth, bad bodies,
limits, both JSON spellings) are checked with plain HTTP requests, as a browser or the Go SDK
sends them.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import http.client
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from codec_samples import SampleEncryptionCodec
from rig import DevServer, free_port
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.worker import Worker
from workflows_history import ChildWorkflow

import workbench
from workbench import codecs
from workbench.server import CodecServer

KEY = os.urandom(32)
OTHER_KEY = os.urandom(32)
SECRET_SKU = "SKU-sealed-4b7e"
TOKEN = "Bearer wb-codec-token-7f3a91"
ARTIFACTS = Path(__file__).parent / "artifacts"
DOC_IMAGE = Path(__file__).parent.parent / "docs" / "img" / "web-ui-decrypted.png"


def chain() -> codecs.Chain:
    return codecs.Chain(codecs.AesGcm({"key-a": KEY}))


def sample_codec() -> SampleEncryptionCodec:
    return SampleEncryptionCodec({"key-a": KEY}, key_id="key-a")


# -- a workflow written through the samples' codec, on a dev server with its Web UI -----------


@dataclass
class UiWorld:
    dev: DevServer
    codec_port: int
    ui_port: int
    workflow_id: str
    run_id: str

    @property
    def ui_origin(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    @property
    def page(self) -> str:
        return f"{self.ui_origin}/namespaces/default/workflows/{self.workflow_id}/{self.run_id}/history"


async def _run_encrypted_workflow(address: str) -> tuple[str, str]:
    converter = dataclasses.replace(DataConverter.default, payload_codec=sample_codec())
    client = await Client.connect(address, namespace="default", data_converter=converter)
    task_queue = f"wb-codec-{uuid.uuid4().hex[:8]}"
    workflow_id = f"sealed-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=task_queue, workflows=[ChildWorkflow]):
        handle = await client.start_workflow(
            ChildWorkflow.run, {"sku": SECRET_SKU}, id=workflow_id, task_queue=task_queue
        )
        assert await handle.result() == {"sku": SECRET_SKU, "reserved": True}
    return workflow_id, handle.result_run_id or ""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiWorld]:
    codec_port = free_port()
    ui_port = free_port()
    dev = DevServer(
        data_dir=tmp_path_factory.mktemp("devserver-ui"),
        ui_port=ui_port,
        ui_codec_endpoint=f"http://127.0.0.1:{codec_port}",
    )
    try:
        dev.start()
        workflow_id, run_id = asyncio.run(_run_encrypted_workflow(dev.address))
        yield UiWorld(dev, codec_port, ui_port, workflow_id, run_id)
    finally:
        dev.stop()


@pytest.fixture
def server() -> Iterator[CodecServer]:
    """Our server for the AES-GCM key, allowing the dev UI's and Cloud's origins."""
    with workbench.serve_codec(
        chain(), origins=["http://localhost:8233", "https://cloud.temporal.io"]
    ) as srv:
        yield srv


# -- plain HTTP, as the clients send it ---------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        response = conn.getresponse()
        return Answer(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        conn.close()


JSON = {"Content-Type": "application/json"}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def item(encoding: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"metadata": {"encoding": b64(encoding.encode())}, "data": b64(data), **extra}


def encrypted(value: Any, key_id: str = "key-a") -> list[Payload]:
    codec = SampleEncryptionCodec({key_id: KEY if key_id == "key-a" else OTHER_KEY})
    plain = DataConverter.default.payload_converter.to_payloads([value])
    return asyncio.run(codec.encode(plain))


def as_json(payloads: list[Payload]) -> list[dict[str, Any]]:
    return [
        {"metadata": {k: b64(v) for k, v in p.metadata.items()}, "data": b64(p.data)}
        for p in payloads
    ]


def value_of(entry: dict[str, Any]) -> Any:
    payload = Payload(
        metadata={k: base64.b64decode(v) for k, v in entry.get("metadata", {}).items()},
        data=base64.b64decode(entry.get("data", "")),
    )
    return DataConverter.default.payload_converter.from_payloads([payload])[0]


# -- the real temporal CLI ------------------------------------------------------------------------


def test_cli_prints_plaintext_through_our_server(
    world: UiWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="workbench.server")
    without = world.dev.cli("workflow", "show", "-w", world.workflow_id, "-o", "json")
    assert SECRET_SKU not in without.stdout  # the history really is encrypted
    with workbench.serve_codec(chain(), auth=TOKEN) as srv:
        shown = world.dev.cli(
            "workflow",
            "show",
            "-w",
            world.workflow_id,
            "-o",
            "json",
            "--codec-endpoint",
            srv.url + "/{namespace}",
            "--codec-auth",
            TOKEN,
        )
        stats = srv.stats
    events = json.loads(shown.stdout)["events"]
    started = events[0]["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0]
    assert base64.b64decode(started["metadata"]["encoding"]) == b"json/plain"
    assert json.loads(base64.b64decode(started["data"])) == {"sku": SECRET_SKU}
    completed = events[-1]["workflowExecutionCompletedEventAttributes"]["result"]["payloads"][0]
    assert json.loads(base64.b64decode(completed["data"])) == {"sku": SECRET_SKU, "reserved": True}
    assert stats.payloads >= 2 and stats.undecodable == 0 and not stats.errors
    # One log line per request: path, status, count, namespace -- never the token or values.
    lines = [r.getMessage() for r in caplog.records if r.name == "workbench.server"]
    assert any("POST /default/decode 200" in x and "namespace=default" in x for x in lines)
    assert not any("wb-codec-token" in x or SECRET_SKU in x for x in lines)


def test_cli_with_a_wrong_token_fails_with_401(world: UiWorld) -> None:
    """The CLI (1.9) retries a failed codec call until its deadline, then prints "context
    deadline exceeded" rather than the status: the 401s are read from the server's side."""
    with workbench.serve_codec(chain(), auth=TOKEN) as srv:
        shown = world.dev.cli(
            "workflow",
            "show",
            "-w",
            world.workflow_id,
            "-o",
            "json",
            "--command-timeout",
            "3s",
            "--codec-endpoint",
            srv.url,
            "--codec-auth",
            "Bearer wrong-token-000",
            check=False,
        )
        stats = srv.stats
    assert shown.returncode != 0
    assert SECRET_SKU not in shown.stdout
    assert stats.requests >= 1 and stats.errors == {"unauthorized": stats.requests}
    assert stats.payloads == 0


# -- the real Web UI in Chromium ----------------------------------------------------------------

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _page_text(page: Any, wanted: str, timeout: float = 45.0) -> str:
    """The page's text once it contains ``wanted`` (or the last text seen at the deadline)."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = page.inner_text("body")
        if wanted in text:
            return text
        page.wait_for_timeout(500)
    return text


def test_web_ui_shows_the_decrypted_input_and_the_codec_error_when_cors_is_wrong(
    world: UiWorld,
) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            with workbench.serve_codec(
                chain(), port=world.codec_port, origins=[world.ui_origin]
            ) as srv:
                page.goto(world.page)
                text = _page_text(page, SECRET_SKU)
                page.screenshot(path=str(ARTIFACTS / "web-ui-decrypted.png"), full_page=True)
                stats = srv.stats
            assert SECRET_SKU in text, text[-2000:]
            assert stats.payloads >= 1 and stats.undecodable == 0
            DOC_IMAGE.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ARTIFACTS / "web-ui-decrypted.png", DOC_IMAGE)
            # The same page with the UI's origin missing from the allowlist: the browser's
            # preflight fails, and the UI says its codec server could not be reached.
            with workbench.serve_codec(
                chain(), port=world.codec_port, origins=["https://cloud.temporal.io"]
            ) as srv:
                page.goto(world.page)
                text = _page_text(page, "Codec Server could not connect")
                page.screenshot(path=str(ARTIFACTS / "web-ui-cors-error.png"), full_page=True)
                refused = srv.stats.errors.get("forbidden_origin", 0)
            assert "Codec Server could not connect" in text, text[:2000]
            assert SECRET_SKU not in text
            assert refused >= 1
        finally:
            browser.close()
