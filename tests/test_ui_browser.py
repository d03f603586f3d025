"""The Workbench in a real browser: Voilà serves a notebook showing ``Workbench()``; Playwright
drives Debian's Chromium as a person would. Screenshots of each step are kept in
``tests/artifacts/`` (and the README's are copied from there)."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import UI_RUNS
from playwright.sync_api import Browser, Page, expect, sync_playwright
from rig import SlowLink, free_port

ARTIFACTS = Path(__file__).parent / "artifacts"
DOCS_IMG = Path(__file__).parent.parent / "docs" / "img"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

NOTEBOOK_SOURCE = """\
import os
from workbench.ui import Workbench

wb = Workbench()
wb.workflows.page_size = int(os.environ["WB_TEST_PAGE_SIZE"])
wb
"""


def _notebook(path: Path) -> Path:
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "source": NOTEBOOK_SOURCE,
                "outputs": [],
                "execution_count": None,
            }
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb))
    return path


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"voila exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("voila did not listen in time")


@pytest.fixture(scope="module")
def slow_link(ui_data: dict[str, Any]) -> Iterator[SlowLink]:
    # 0.15 s each way: a listing of small pages takes seconds, long enough to press Stop.
    link = SlowLink(ui_data["address"], delay=0.15).start()
    try:
        yield link
    finally:
        link.stop()


@pytest.fixture(scope="module")
def voila_url(tmp_path_factory: pytest.TempPathFactory, slow_link: SlowLink) -> Iterator[str]:
    root = tmp_path_factory.mktemp("voila")
    _notebook(root / "workbench.ipynb")
    port = free_port()
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": slow_link.address,
        "TEMPORAL_NAMESPACE": "default",
        "WB_TEST_PAGE_SIZE": "4",
        "HOME": str(root),  # no temporal.toml of the machine's user
    }
    log = (root / "voila.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voila",
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            "--show_tracebacks=True",
            "workbench.ipynb",
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_port(port, proc)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def tab(page: Page, title: str) -> None:
    page.locator(".wb-tabs > .lm-TabBar .lm-TabBar-tab", has_text=title).first.click()


def test_a_person_connects_decrypts_and_stops(
    browser: Browser, voila_url: str, ui_data: dict[str, Any], slow_link: SlowLink
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(voila_url, timeout=120_000)
    page.wait_for_selector(".wb-workbench", timeout=120_000)

    # 1. Connection: the fields are prefilled from the environment; type the address anyway.
    address = page.locator(".wb-conn-address input")
    expect(address).to_have_value(slow_link.address)
    address.fill("")
    address.fill(slow_link.address)
    address.press("Tab")
    page.locator(".wb-conn-namespace input").fill("default")
    shot(page, "1-connection")
    page.locator("button.wb-conn-connect").click()
    expect(page.locator(".wb-banner")).to_contain_text("namespace default", timeout=60_000)
    tab(page, "Connection")
    expect(page.locator(".wb-conn-status")).to_contain_text("Connected to Temporal")
    expect(page.locator(".wb-conn-status")).to_contain_text("retention")
    shot(page, "2-connected")

    # 2. Converter: AES-GCM with the workers' key id and key, then zlib; Apply.
    tab(page, "Converter")
    page.locator("button.wb-codec-add").click()
    page.locator(".wb-codec-key-id input").first.fill(ui_data["key_id"])
    key_field = page.locator(".wb-codec-key input").first
    key_field.fill(base64.b64encode(ui_data["key"]).decode())
    key_field.press("Tab")
    page.locator(".wb-codec-kind select").select_option(label="zlib compression")
    page.locator("button.wb-codec-add").click()
    expect(page.locator(".wb-codec-entry")).to_have_count(2)
    page.locator(".wb-codec-test-id input").fill(ui_data["ids"][-1])
    page.locator("button.wb-codec-test").click()
    expect(page.locator(".wb-codec-status")).to_contain_text(
        "4 of 4 payloads decoded", timeout=30_000
    )
    expect(page.locator(".wb-codec-result")).to_contain_text("4111-1111-1111-1111")
    shot(page, "3-converter-test")
    page.locator("button.wb-codec-apply").click()
    expect(page.locator(".wb-codec-status")).to_contain_text("Applied", timeout=30_000)
    expect(page.locator(".wb-codec-key input")).to_have_value("")  # key text gone
    shot(page, "3-converter")

    # 3. Workflows: run a query, see the expected row count.
    tab(page, "Workflows")
    query = page.locator(".wb-wf-query input")
    query.fill(ui_data["query"])
    page.locator(".wb-wf-limit input").fill("1000")
    page.locator("button.wb-wf-run").click()
    expect(page.locator(".wb-wf-status")).to_contain_text(f"{UI_RUNS} workflows", timeout=90_000)
    expect(page.locator(".wb-wf-table .wb-table-info")).to_contain_text(f"of {UI_RUNS}")
    rows = page.locator(".wb-wf-table table.dataTable tbody tr")
    expect(rows).to_have_count(min(UI_RUNS, 25))
    shot(page, "4-workflows")

    # 4. Select a completed run: its history opens with decrypted values.
    completed = page.locator(".wb-wf-table table.dataTable tbody tr", has_text="Completed")
    wid = completed.first.locator("td").first.inner_text()
    completed.first.click()
    expect(page.locator(".wb-hist-header")).to_contain_text(wid, timeout=60_000)
    expect(page.locator(".wb-hist-status")).to_contain_text("events")
    page.locator(
        ".wb-hist-table table.dataTable tbody tr", has_text="ActivityTaskCompleted"
    ).click()
    detail = page.locator(".wb-hist-detail")
    expect(detail).to_contain_text("4111-1111-1111-1111", timeout=30_000)
    expect(detail).to_contain_text("binary/encrypted → binary/zlib → json/plain")
    page.set_viewport_size({"width": 1280, "height": 1250})  # the event's payloads in view
    shot(page, "5-history")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.locator(".wb-hist-tabs .lm-TabBar-tab", has_text="Timeline").click()
    page.wait_for_function(
        "() => { const i = document.querySelector('.wb-hist-timeline');"
        " return i && i.naturalWidth > 100; }",
        timeout=30_000,
    )
    shot(page, "6-timeline")

    # 5. Many runs: fetch the listed rows' histories and search inside their decrypted payloads.
    tab(page, "Workflows")
    page.locator(
        ".wb-wf-many .lm-AccordionPanel-title, .wb-wf-many .p-Collapse-header, "
        ".wb-wf-many .jupyter-widget-Collapse-header"
    ).first.click()
    page.locator("button.wb-many-fetch").click()
    expect(page.locator(".wb-many-status")).to_contain_text(
        f"{UI_RUNS} runs fetched", timeout=90_000
    )
    search = page.locator(".wb-many-search-text input")
    search.fill("customer-7")
    search.press("Enter")
    expect(page.locator(".wb-many-status")).to_contain_text("contain 'customer-7'", timeout=30_000)
    expect(page.locator(".wb-many-results table.dataTable tbody tr").first).to_contain_text(
        ui_data["ids"][7]
    )
    shot(page, "6b-many-runs")

    # 6. A long listing (pages of 4 rows over a slow link), stopped: the rows so far stay.
    query.fill("")
    page.locator("button.wb-wf-run").click()
    expect(page.locator(".wb-wf-progress-text")).to_contain_text(
        re.compile(r"[1-9][0-9,]* of"), timeout=60_000
    )
    page.locator("button.wb-wf-stop").click()
    status = page.locator(".wb-wf-status")
    expect(status).to_contain_text("stopped", timeout=5_000)
    text = status.inner_text()
    kept = int(re.search(r"([\d,]+) workflows?", text).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert kept > 0
    shot(page, "7-stopped")
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    for name in ("4-workflows", "5-history"):
        shutil.copy(ARTIFACTS / f"{name}.png", DOCS_IMG / f"panels-{name[2:]}.png")
    page.close()
