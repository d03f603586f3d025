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
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from codec_samples import SampleEncryptionCodec
from rig import DevServer, free_port
from sample_codec_server import BackgroundApp, build_codec_server
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.worker import Worker
from workflows_history import ChildWorkflow

import workbench
from workbench import codecs
from workbench.codecs.config import load_codec_file
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
        workflow = f"{self.workflow_id}/{self.run_id}"
        return f"{self.ui_origin}/namespaces/default/workflows/{workflow}/history"


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


# -- plain HTTP, as the clients send it -------------------------------------------------------


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


# -- the real temporal CLI --------------------------------------------------------------------


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


# -- the real Web UI in Chromium --------------------------------------------------------------

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


def test_web_ui_decrypts_shows_the_codec_error_when_cors_is_wrong_and_takes_ui_instructions(
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
            if not DOC_IMAGE.exists():  # the README's picture: kept once, not rewritten per run
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
            # What ui_instructions() says to enter, entered in the UI's own settings dialog: a
            # browser setting that overrides the cluster's (still misconfigured) endpoint.
            with workbench.serve_codec(chain(), origins=[world.ui_origin]) as srv:
                told = dict(line.split(": ", 1) for line in srv.ui_instructions().splitlines())
                # The top bar's Codec Server button ("...is configured" when the cluster has one).
                page.locator('[data-testid^="data-encoder-status"]').click()
                page.get_by_text("Use my browser setting and ignore Cluster-level setting").click()
                page.get_by_placeholder("Paste your endpoint here").fill(
                    told["Codec Server browser endpoint"]
                )
                assert told["Pass the user access token"].startswith("off")
                page.get_by_role("button", name="Apply").click()
                page.goto(world.page)
                text = _page_text(page, SECRET_SKU)
                page.screenshot(path=str(ARTIFACTS / "web-ui-browser-setting.png"), full_page=True)
                assert SECRET_SKU in text, text[:2000]
                assert srv.stats.payloads >= 1
        finally:
            browser.close()


# -- the protocol, as the clients spell it ----------------------------------------------------


def test_both_spellings_int64_forms_empty_body_unknown_fields_count_and_order(
    server: CodecServer,
) -> None:
    sealed = as_json(encrypted({"n": 1}))[0]
    stranger = as_json(encrypted({"n": 2}, key_id="key-z"))[0]  # a key this server lacks
    plain = item("json/plain", b'"plain"')
    external = {
        **item("json/plain", b"7"),
        "external_payloads": [{"size_bytes": "12"}, {"size_bytes": 30}],  # Go's spelling
        "someFieldFromTheFuture": {"x": 1},
    }
    body = {"payloads": [sealed, stranger, plain, {"metadata": {}}, external], "extra": True}
    answer = call(server.url, "POST", "/decode", json.dumps(body).encode(), JSON)
    assert answer.status == 200, answer.body
    out = answer.json()["payloads"]
    assert len(out) == 5
    assert value_of(out[0]) == {"n": 1}
    assert out[1] == stranger  # undecodable: back unchanged, never dropped
    assert value_of(out[2]) == "plain"
    assert out[3] == {"metadata": {}, "data": ""}
    assert value_of(out[4]) == 7
    assert [int(x["sizeBytes"]) for x in out[4]["externalPayloads"]] == [12, 30]
    assert server.stats.undecodable == 1
    # The CLI's empty list, and the UI's camelCase with the query string it adds.
    assert call(server.url, "POST", "/decode", b"{}", JSON).json() == {"payloads": []}
    camel = {"payloads": [{**plain, "externalPayloads": [{"sizeBytes": "5"}]}]}
    answer = call(
        server.url, "POST", "//decode?preserveStorageRefs=true", json.dumps(camel).encode(), JSON
    )
    assert answer.status == 200 and value_of(answer.json()["payloads"][0]) == "plain"


def test_encode_then_decode_round_trip_reads_back_in_the_samples_codec(
    server: CodecServer,
) -> None:
    body = json.dumps({"payloads": [item("json/plain", b'{"a":1}')]}).encode()
    answer = call(server.url, "POST", "/default/encode", body, {**JSON, "X-Namespace": "default"})
    assert answer.status == 200
    (sealed,) = answer.json()["payloads"]
    assert base64.b64decode(sealed["metadata"]["encoding"]) == b"binary/encrypted"
    payload = Payload(
        metadata={k: base64.b64decode(v) for k, v in sealed["metadata"].items()},
        data=base64.b64decode(sealed["data"]),
    )
    (inner,) = asyncio.run(sample_codec().decode([payload]))
    assert inner.data == b'{"a":1}'


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "reason"),
    [
        ("POST", "/decode", b"not json", JSON, 400, "not JSON"),
        ("POST", "/decode", b"[1, 2]", JSON, 400, "JSON object"),
        ("POST", "/decode", b'{"payloads": {"a": 1}}', JSON, 400, "not a list"),
        ("POST", "/decode", b'{"payloads": [{"data": "%%%"}]}', JSON, 400, "base64"),
        ("POST", "/decode", b'{"payloads": [{"metadata": {"encoding": 5}}]}', JSON, 400, "base64"),
        ("POST", "/decode", b"{}", {"Content-Type": "text/plain"}, 400, "content type"),
        ("POST", "/decode", b"{}", {}, 400, "content type"),
        ("POST", "/decod", b"{}", JSON, 404, "not found"),
        ("POST", "/", b"{}", JSON, 404, "not found"),
        ("GET", "/decode", None, {}, 405, "not allowed"),
        ("PUT", "/encode", b"{}", JSON, 405, "not allowed"),
    ],
)
def test_bad_requests_get_a_reason_and_the_server_keeps_serving(
    server: CodecServer,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
    status: int,
    reason: str,
) -> None:
    origin = {"Origin": "https://cloud.temporal.io"}
    answer = call(server.url, method, path, body, {**headers, **origin})
    assert answer.status == status
    assert reason in answer.body.decode()
    # CORS headers on errors too, or the browser hides the reason.
    assert answer.headers["access-control-allow-origin"] == "https://cloud.temporal.io"
    good = json.dumps({"payloads": as_json(encrypted("still here"))}).encode()
    again = call(server.url, "POST", "/decode", good, JSON)
    assert again.status == 200 and value_of(again.json()["payloads"][0]) == "still here"


def test_a_path_cannot_forge_a_log_line(
    server: CodecServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="workbench.server")
    call(
        server.url,
        "POST",
        "/x%0Afake%20line/decode",
        b"{}",
        {**JSON, "Authorization": "Bearer zz-1"},
    )
    (line,) = [r.getMessage() for r in caplog.records if r.name == "workbench.server"]
    assert "\n" not in line and "POST /x%0Afake%20line/decode 200" in line
    assert "namespace=x\\nfake line" in line  # the namespace read from the path, escaped
    assert "zz-1" not in line


def test_body_limit_413_and_settable() -> None:
    with workbench.serve_codec(chain(), max_body=64 * 1024) as srv:
        big = json.dumps({"payloads": [item("json/plain", b"x" * 100_000)]}).encode()
        assert call(srv.url, "POST", "/decode", big, JSON).status == 413
        small = json.dumps({"payloads": [item("json/plain", b"1")]}).encode()
        assert call(srv.url, "POST", "/decode", small, JSON).status == 200
        assert srv.stats.errors == {"too_large": 1}


def test_preflights_for_allowed_unknown_and_any_origin(server: CodecServer) -> None:
    ask = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
    }
    for path in ("/decode", "/encode", "/orders/decode", "/anything"):
        answer = call(server.url, "OPTIONS", path, None, {**ask, "Origin": "http://localhost:8233"})
        assert answer.status == 204
        h = answer.headers
        assert h["access-control-allow-origin"] == "http://localhost:8233"
        assert h["access-control-allow-credentials"] == "true"
        assert h["vary"] == "Origin"
        assert h["access-control-allow-methods"] == "POST, OPTIONS"
        assert h["access-control-allow-headers"] == (
            "content-type, x-namespace, authorization, authorization-extras"
        )
        assert "access-control-allow-private-network" not in h
    private = call(
        server.url,
        "OPTIONS",
        "/decode",
        None,
        {
            **ask,
            "Origin": "https://cloud.temporal.io",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert private.headers["access-control-allow-private-network"] == "true"
    unknown = call(
        server.url, "OPTIONS", "/decode", None, {**ask, "Origin": "https://evil.example"}
    )
    assert unknown.status == 403
    assert "access-control-allow-origin" not in unknown.headers
    assert "--origin https://evil.example" in unknown.body.decode()
    post = call(server.url, "POST", "/decode", b"{}", {**JSON, "Origin": "https://evil.example"})
    assert post.status == 403
    with workbench.serve_codec(chain(), origins="*") as anyone:
        answer = call(
            anyone.url, "OPTIONS", "/decode", None, {**ask, "Origin": "https://x.example"}
        )
        assert answer.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in answer.headers


def test_auth_constant_value_401_without_echo_and_preflight_passes() -> None:
    with workbench.serve_codec(chain(), auth=[TOKEN, "Bearer second-token-99"]) as srv:
        body = json.dumps({"payloads": [item("json/plain", b"1")]}).encode()
        assert call(srv.url, "POST", "/decode", body, JSON).status == 401
        wrong = call(srv.url, "POST", "/decode", body, {**JSON, "Authorization": "Bearer guess-1"})
        assert wrong.status == 401 and b"guess" not in wrong.body
        for token in (TOKEN, "Bearer second-token-99"):
            ok = call(srv.url, "POST", "/decode", body, {**JSON, "Authorization": token})
            assert ok.status == 200
        preflight = call(
            srv.url,
            "OPTIONS",
            "/decode",
            None,
            {"Origin": "http://localhost:8233", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status == 204
        assert "wb-codec-token" not in repr(srv) and "wb-codec-token" not in srv._repr_html_()


def test_namespaces_by_header_or_path_unknown_is_404() -> None:
    other = codecs.Chain(codecs.AesGcm({"key-z": OTHER_KEY}))
    with workbench.serve_codec(namespaces={"default": chain(), "orders": other}) as srv:
        mine = json.dumps({"payloads": as_json(encrypted("a"))}).encode()
        theirs = json.dumps({"payloads": as_json(encrypted("b", key_id="key-z"))}).encode()
        by_path = call(srv.url, "POST", "/orders/decode", theirs, JSON)
        assert value_of(by_path.json()["payloads"][0]) == "b"
        by_header = call(srv.url, "POST", "/decode", mine, {**JSON, "X-Namespace": "default"})
        assert value_of(by_header.json()["payloads"][0]) == "a"
        unknown = call(srv.url, "POST", "/decode", mine, {**JSON, "X-Namespace": "billing"})
        assert unknown.status == 404 and "'billing'" in unknown.body.decode()
        assert call(srv.url, "POST", "/decode", mine, JSON).status == 404


def test_decode_only_safe_bind_and_bad_settings() -> None:
    with workbench.serve_codec(chain(), decode_only=True) as srv:
        body = json.dumps({"payloads": [item("json/plain", b"1")]}).encode()
        assert call(srv.url, "POST", "/encode", body, JSON).status == 403
        assert call(srv.url, "POST", "/decode", body, JSON).status == 200
    with pytest.raises(workbench.SettingsError, match="without auth"):
        workbench.serve_codec(chain(), host="0.0.0.0")
    with pytest.raises(workbench.SettingsError, match="not a browser origin"):
        workbench.serve_codec(chain(), origins=["localhost:8233/ui"])
    with (
        workbench.serve_codec(chain()) as srv,
        pytest.raises(workbench.SettingsError, match="port"),
    ):
        workbench.serve_codec(chain(), port=srv.port)
    with pytest.raises(workbench.CodecError, match="codec="):
        workbench.serve_codec(42)
    srv = workbench.serve_codec(chain())
    srv.stop()
    srv.stop()  # idempotent
    with pytest.raises(OSError):
        call(srv.url, "POST", "/decode", b"{}", JSON)


# -- the codec doctor -------------------------------------------------------------------------


def test_doctor_passes_our_server_and_exits_zero(server: CodecServer) -> None:
    report = workbench.check_codec_server(server.url, origin="http://localhost:8233")
    assert report.ok, str(report)
    statuses = {c.name: c.status for c in report.checks}
    assert statuses["preflight /decode"] == statuses["preflight /encode"] == "ok"
    assert statuses["round trip"] == statuses["count and order"] == statuses["CLI body"] == "ok"
    assert statuses["bad body"] == "ok"
    assert "<table>" in report._repr_html_()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "workbench.cli",
            "check-codec",
            server.url,
            "--origin",
            "https://cloud.temporal.io",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Result: OK" in done.stdout


def test_doctor_names_the_python_samples_missing_options_encode() -> None:
    sample = BackgroundApp(build_codec_server(sample_codec()))
    try:
        report = workbench.check_codec_server(sample.url, origin="http://localhost:8233")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "workbench.cli",
                "check-codec",
                sample.url,
                "--origin",
                "http://localhost:8233",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        sample.stop()
    assert not report.ok
    by_name = {c.name: c for c in report.checks}
    assert by_name["preflight /encode"].status == "fail"
    assert "405" in by_name["preflight /encode"].detail
    assert "OPTIONS on /decode only" in by_name["preflight /encode"].detail
    # Its /decode preflight works but lacks what the UI's token and credentials need.
    assert by_name["preflight /decode"].status == "warn"
    assert "Vary: Origin" in by_name["preflight /decode"].detail
    assert by_name["round trip"].status == "ok"  # its codec itself is right
    assert by_name["bad body"].status == "warn"  # an assert: 500 for a body that is not JSON
    assert done.returncode == 1 and "preflight /encode" in done.stdout


def test_doctor_names_each_cors_mistake_of_a_misconfigured_server() -> None:
    from aiohttp import web

    async def sloppy(request: web.Request) -> web.Response:
        # CORS for the wrong origin, a header missing, and no CORS on POST answers.
        headers = {
            "Access-Control-Allow-Origin": "http://localhost:8080",
            "Access-Control-Allow-Methods": "GET",
            "Access-Control-Allow-Headers": "content-type",
        }
        if request.method == "OPTIONS":
            return web.Response(status=204, headers=headers)
        return web.json_response({"payloads": []})  # drops every payload

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", sloppy)
    bad = BackgroundApp(app)
    try:
        report = workbench.check_codec_server(
            bad.url, origin="https://cloud.temporal.io", auth=TOKEN
        )
    finally:
        bad.stop()
    text = str(report)
    assert not report.ok
    assert (
        "Access-Control-Allow-Origin is 'http://localhost:8080', not 'https://cloud.temporal.io'"
        in text
    )
    assert "Access-Control-Allow-Methods (GET) lacks POST" in text
    assert (
        "Access-Control-Allow-Headers lacks x-namespace, authorization, authorization-extras"
        in text
    )
    assert "no Access-Control-Allow-Private-Network" in text
    assert "returned 0 payload(s) for 3 sent" in text
    assert "does not check it" in text  # accepted a request without Authorization
    assert "https:// endpoints only" in text
    assert "wb-codec-token" not in text and "wb-codec-token" not in report._repr_html_()
    unreachable = workbench.check_codec_server(f"http://127.0.0.1:{free_port()}")
    assert not unreachable.ok and [c.name for c in unreachable.problems] == ["reachable"]


# -- codec files and the shell command --------------------------------------------------------


def test_codec_file_key_ring_from_env_file_and_text_with_namespaces(tmp_path: Path) -> None:
    (tmp_path / "b.key").write_bytes(OTHER_KEY)
    keys = tmp_path / "keys.toml"
    keys.write_text(
        f"""
compression = "zlib"
[encryption]
encrypt_key_id = "key-a"
[encryption.keys]
key-a = {{ env = "WB_TEST_KEY_A" }}
key-hex = "{os.urandom(32).hex()}"

[namespaces.orders.encryption.keys]
key-z = {{ file = "b.key" }}

[namespaces.legacy.remote]
endpoint = "https://codec.example.com/{{namespace}}"
auth = {{ env = "WB_TEST_CODEC_AUTH" }}
"""
    )
    env = {
        "WB_TEST_KEY_A": base64.b64encode(KEY).decode(),
        "WB_TEST_CODEC_AUTH": "Bearer remote-secret-42",
    }
    loaded = load_codec_file(keys, env=env)
    assert set(loaded) == {None, "orders", "legacy"}
    (remote,) = loaded["legacy"].codecs
    assert isinstance(remote, codecs.Remote) and remote.endpoint.endswith("/{namespace}")
    assert "remote-secret" not in repr(loaded["legacy"])
    assert [c.name for c in loaded[None].codecs] == ["aes-gcm", "zlib"]
    decoded = loaded["orders"].decode(encrypted("z", key_id="key-z"))
    assert decoded[0].ok and decoded[0].payload.data == b'"z"'
    # encode compresses then encrypts with key-a; the chain reads its own output
    (sealed,) = loaded[None].encode(DataConverter.default.payload_converter.to_payloads(["v"]))
    assert sealed.metadata["encryption-key-id"] == b"key-a"


@pytest.mark.parametrize(
    ("content", "env", "expected"),
    [
        (
            '[encryption.keys]\nk1 = { env = "NOPE" }',
            {},
            r"\[encryption\]: key 'k1': environment variable NOPE is not set",
        ),
        ('[encryption.keys]\nk1 = "c2hvcnQ="', {}, r"\[encryption\]: key 'k1' is neither 64 hex"),
        (
            '[encryption.keys]\nk1 = { file = "missing.key" }',
            {},
            r"\[encryption\]: cannot read the key file of encryption key 'k1'",
        ),
        (
            '[namespaces.pay.encryption]\nencrypt_key_id = "x"\nkeys = { k1 = { env = "K" } }',
            {"K": "0" * 64},
            r"\[namespaces.pay\] \[encryption\]: encrypt_key_id 'x' is not in",
        ),
        ('compression = "lz4"', {}, r"top level: compression = 'lz4'"),
        ('colour = "blue"', {}, r"top level: unknown setting\(s\) colour"),
        ("", {}, "defines no codec"),
        ("[encryption", {}, "not valid TOML"),
        (
            '[remote]\nendpoint = "ftp://x"',
            {},
            r"\[remote\]: codec endpoint 'ftp://x' is not an http",
        ),
        ('[remote]\nendpoint = "http://x"\ntimeout = "soon"', {}, r"\[remote\]: timeout = 'soon'"),
    ],
)
def test_codec_file_errors_name_file_section_and_key_id_never_the_key(
    tmp_path: Path, content: str, env: dict[str, str], expected: str
) -> None:
    keys = tmp_path / "keys.toml"
    keys.write_text(content)
    with pytest.raises(workbench.SettingsError, match=expected) as caught:
        load_codec_file(keys, env=env)
    assert str(keys) in str(caught.value)
    assert "0" * 64 not in str(caught.value) and "c2hvcnQ" not in str(caught.value)


def _wait_for_port(port: int, process: subprocess.Popen[str], timeout: float = 30.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"serve-codec did not listen on {port}")


def test_serve_codec_command_with_key_file_auth_env_and_two_workers(tmp_path: Path) -> None:
    keys = tmp_path / "keys.toml"
    keys.write_text('[encryption.keys]\nkey-a = { env = "WB_TEST_KEY_A" }\n')
    port = free_port()
    env = {**os.environ, "WB_TEST_KEY_A": KEY.hex(), "WB_TEST_AUTH": TOKEN}
    argv = [
        sys.executable,
        "-m",
        "workbench.cli",
        "serve-codec",
        "--port",
        str(port),
        "--key-file",
        str(keys),
        "--auth-env",
        "WB_TEST_AUTH",
        "--origin",
        "http://localhost:8233",
        "--workers",
        "2",
    ]
    process = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        _wait_for_port(port, process)
        url = f"http://127.0.0.1:{port}"
        body = json.dumps({"payloads": as_json(encrypted({"from": "shell"}))}).encode()
        for _ in range(8):  # connections are spread over both workers
            answer = call(url, "POST", "/decode", body, {**JSON, "Authorization": TOKEN})
            assert answer.status == 200 and value_of(answer.json()["payloads"][0]) == {
                "from": "shell"
            }
        assert call(url, "POST", "/decode", body, JSON).status == 401
        report = workbench.check_codec_server(url, origin="http://localhost:8233", auth=TOKEN)
        assert report.ok, str(report)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "2 worker(s)" in output and "POST /decode 200" in output
    assert KEY.hex() not in output and "wb-codec-token" not in output
    # A bad setting is reported before anything listens, with the exit status 2.
    refused = subprocess.run(
        [*argv[:4], "--host", "0.0.0.0", "--key-file", str(keys)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "without auth" in refused.stderr
    missing = subprocess.run(
        [*argv[:4], "--key-file", str(keys)],
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "WB_TEST_KEY_A is not set" in missing.stderr


def test_tls_serves_https_and_refuses_a_key_that_does_not_match(certs: Any) -> None:
    import ssl
    import urllib.request

    with workbench.serve_codec(
        chain(),
        tls_cert=certs.server_cert,
        tls_key=certs.server_key,
        auth=TOKEN,
        origins=["https://cloud.temporal.io"],
    ) as srv:
        assert srv.url.startswith("https://")
        assert "Pass the user access token: on" in srv.ui_instructions()
        context = ssl.create_default_context(cafile=str(certs.ca_cert))
        context.check_hostname = False  # the cert names tls-sample, we dial 127.0.0.1
        request = urllib.request.Request(
            srv.url + "/decode",
            data=json.dumps({"payloads": as_json(encrypted("over tls"))}).encode(),
            headers={**JSON, "Authorization": TOKEN},
        )
        with urllib.request.urlopen(request, context=context, timeout=30) as answer:
            assert value_of(json.load(answer)["payloads"][0]) == "over tls"
        report = workbench.check_codec_server(
            srv.url, origin="https://cloud.temporal.io", auth=TOKEN, ssl_context=context
        )
        assert report.ok, str(report)
        assert "https" not in {c.name for c in report.checks}  # no https warning
    with pytest.raises(workbench.SettingsError, match="key must match"):
        workbench.serve_codec(chain(), tls_cert=certs.server_cert, tls_key=certs.mismatched_key)


# -- a bounded load ---------------------------------------------------------------------------


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_64_clients_for_10_seconds_no_errors_flat_memory(server: CodecServer) -> None:
    import aiohttp

    body = json.dumps({"payloads": as_json(encrypted({"order": "o-1", "amount": 20.5}))}).encode()
    failures: list[str] = []
    rss: list[float] = []
    done = 0

    async def client(session: aiohttp.ClientSession, until: float) -> None:
        nonlocal done
        while time.monotonic() < until:
            async with session.post(
                server.url + "/default/decode",
                data=body,
                headers={**JSON, "Origin": "http://localhost:8233"},
            ) as answer:
                payload = await answer.read()
                if answer.status != 200 or b"binary/encrypted" in payload:
                    failures.append(f"{answer.status} {payload[:80]!r}")
            done += 1

    async def load() -> None:
        start = time.monotonic()
        connector = aiohttp.TCPConnector(limit=64)
        async with aiohttp.ClientSession(connector=connector) as session:
            tasks = [asyncio.ensure_future(client(session, start + 10)) for _ in range(64)]
            for second in range(10):
                await asyncio.sleep(max(0.0, start + second + 1 - time.monotonic()))
                rss.append(_rss_mib())
            await asyncio.gather(*tasks)

    asyncio.run(load())
    assert not failures, failures[:5]
    assert done > 1000 and not server.stats.errors
    assert server.stats.requests == done
    # Flat: after the first seconds (warm-up, buffers), memory stops growing.
    assert max(rss[3:]) - rss[2] < 20, rss


# -- in a notebook ----------------------------------------------------------------------------


def test_session_serve_codec_inside_a_running_loop_like_a_kernel(world: UiWorld) -> None:
    """A Jupyter kernel runs its own asyncio loop: the server must start and answer from a
    cell (synchronous code on that loop's thread) and leave that loop alone."""
    import aiohttp

    body = json.dumps({"payloads": as_json(encrypted("from a cell"))}).encode()

    async def cell() -> Any:
        with workbench.connect(world.dev.address, "default", env={}, codec=chain()) as s:
            srv = s.serve_codec(origins=["http://localhost:8233"])
            try:
                shown = srv._repr_html_()
                assert srv.url in shown and "Codec Server browser endpoint" in shown
                async with (
                    aiohttp.ClientSession() as session,
                    session.post(srv.url + "/decode", data=body, headers=JSON) as answer,
                ):
                    return json.loads(await answer.read())
            finally:
                srv.stop()

    answer = asyncio.run(cell())
    assert value_of(answer["payloads"][0]) == "from a cell"


def test_a_server_left_running_is_stopped_at_interpreter_exit() -> None:
    script = "import workbench\nsrv = workbench.serve_codec(None)\nprint(srv.url, flush=True)\n"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("http://127.0.0.1:")
