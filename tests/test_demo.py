"""``workbench demo`` (what ``make demo`` runs): seeded once, resumed after a kill, not duplicated,
stopped by Ctrl-C; busy ports named; the demo codec is what the workbench reads."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
import urllib.request
from pathlib import Path

import pytest
from demo_process import DemoProcess, wait_port_free
from rig import free_port, port_is_free
from temporalio.api.common.v1 import Payload
from temporalio.converter import default as default_converter

import workbench
import workbench.demo
from workbench import codecs
from workbench.demo.sdk_codec import COMPRESS_ABOVE, DemoPayloadCodec
from workbench.demo.seed import MARKER, OLD_KEY_ORDERS, ORDER_COUNT


def _count(address: str, query: str) -> int:
    with workbench.connect(address=address, env={}) as s:
        return s.count(query)


def test_killed_seeding_is_completed_not_duplicated_and_the_data_is_reused(
    tmp_path: Path, dev_address: str
) -> None:
    data = tmp_path / "demo"
    first = DemoProcess(data, "--no-schedule")
    try:
        first.wait_for("Seeding the demo data")
        deadline = time.monotonic() + 60
        while _count(first.address, "WorkflowType='OrderWorkflow'") < 10:
            assert time.monotonic() < deadline, first.output
            time.sleep(0.2)
        first.kill()  # killed mid-seeding: no Ctrl-C, no cleanup
    finally:
        first.kill()
    assert not (data / MARKER).exists()
    wait_port_free(first.port)

    second = DemoProcess(data, "--no-schedule", port=first.port)
    try:
        second.wait_for("Demo ready", timeout=150)
        out = second.output
        assert "Seeded in" in out and "already there from an interrupted seeding" in out, out
        existing = int(out.split("runs started, ")[1].split(" already")[0])
        assert existing >= 10, out
        with workbench.connect(address=second.address, env={}) as s:
            orders = s.workflows("WorkflowType='OrderWorkflow'", progress=False)
            shipments = s.count("WorkflowType='ShipmentWorkflow'")
            syncs = s.workflows("WorkflowType='InventorySyncWorkflow'", progress=False)
        # Every order once, one run each, all closed; a shipment per completed order.
        assert len(orders) == ORDER_COUNT
        assert orders.workflow_id.is_unique
        assert set(orders.status.astype(str)) <= {"Completed", "Failed"}
        assert shipments == (orders.status == "Completed").sum()
        # Inventory syncs: 4 warehouses, 3 runs each chained by continue-as-new.
        assert syncs.groupby("workflow_id").size().to_dict() == {
            f"inventory-sync-{r}": 3 for r in ("ap-south", "eu-west", "us-east", "us-west")
        }
        marker = json.loads((data / MARKER).read_text())
        assert marker["orders"] == ORDER_COUNT
        assert second.interrupt() == 0
        assert "Stopped." in second.output
    finally:
        second.kill()
    wait_port_free(second.port)

    # Third run, as `make demo` runs it: with JupyterLab, and the schedule.
    lab_port = free_port()
    third = DemoProcess(data, "--lab-port", str(lab_port), "--no-browser", port=first.port)
    try:
        third.wait_for("Demo ready", timeout=120)
        out = third.output
        assert "Demo data already there" in out
        assert "Seeding" not in out
        assert f"Temporal dev server  {third.address}" in out
        assert f"TEMPORAL_ADDRESS={third.address}" in out
        with workbench.demo.connect(env={"TEMPORAL_ADDRESS": third.address}) as s:
            assert s.count("WorkflowType='OrderWorkflow'") >= ORDER_COUNT
            # The schedule starts a new order at once, then every 20 s.
            deadline = time.monotonic() + 60
            while s.count("TemporalScheduledById='demo-new-orders'") == 0:
                assert time.monotonic() < deadline, "the schedule started no order"
                time.sleep(0.5)
        url = re.search(r"JupyterLab +(http://\S+)", out)
        assert url is not None, out
        assert url.group(1).startswith(
            f"http://127.0.0.1:{lab_port}/lab/tree/notebooks/00-start-here.ipynb?token="
        )
        token = url.group(1).split("token=")[1]
        status = f"http://127.0.0.1:{lab_port}/api/status?token={token}"
        with urllib.request.urlopen(status, timeout=10) as resp:
            assert resp.status == 200
        assert third.interrupt() == 0
    finally:
        third.kill()
    # Ctrl-C stopped what it started (JupyterLab and the dev server) and nothing else.
    wait_port_free(first.port)
    assert port_is_free(lab_port, reuse_addr=True)
    with workbench.connect(address=dev_address, env={}) as other:
        assert other.server_info.namespace.name == "default"


def test_a_busy_port_is_named_with_the_way_to_choose_another(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        demo = DemoProcess(tmp_path, port=port)
        try:
            assert demo.proc.wait(30) == 2
        finally:
            demo.kill()
    out = demo.output
    assert f"port {port} on 127.0.0.1 is already in use" in out
    assert "make demo PORT=" in out and "--port" in out
    assert "Traceback" not in out
    assert not (tmp_path / "temporal.db").exists()  # nothing was started


def test_connect_without_a_demo_server_says_how_to_start_it() -> None:
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(workbench.demo.DemoNotRunning) as info:
        workbench.demo.connect(env={"TEMPORAL_ADDRESS": address})
    message = str(info.value)
    assert f"no demo server answers at {address}" in message
    assert "make demo" in message
    # Jupyter shows the message alone, not a stack of frames.
    assert info.value._render_traceback_() == [f"DemoNotRunning: {message}"]


def test_the_demo_worker_codec_writes_what_the_workbench_chain_reads() -> None:
    converter = default_converter().payload_converter
    small, large = converter.to_payloads([{"sku": "MUG-04"}, "x" * (COMPRESS_ABOVE * 4)])
    old = asyncio.run(DemoPayloadCodec(workbench.demo.OLD_KEY_ID).encode([small, large]))
    new = asyncio.run(DemoPayloadCodec().encode([small]))
    decoded = workbench.demo.codec().decode([*old, *new])
    assert [d.encodings for d in decoded] == [
        ("binary/encrypted", "json/plain"),
        ("binary/encrypted", "binary/zlib", "json/plain"),
        ("binary/encrypted", "json/plain"),
    ]
    assert [d.key_id for d in decoded] == ["demo-key-2025", "demo-key-2025", "demo-key-2026"]
    assert [d.payload for d in decoded] == [small, large, small]
    # The spelling of the chain reads it too, and a ring without the old key says so.
    chain = codecs.Chain(codecs.AesGcm(workbench.demo.keys()), codecs.Zlib())
    assert chain.decode(old)[1].payload == large
    only_new = codecs.Chain(
        codecs.AesGcm({"demo-key-2026": workbench.demo.DEMO_KEYS["demo-key-2026"]}), codecs.Zlib()
    )
    error = only_new.decode(old)[0].error
    assert error is not None and "unknown encryption key id 'demo-key-2025'" in error
    roundtrip = asyncio.run(DemoPayloadCodec().decode([*old, *new]))
    assert roundtrip == [small, large, small]
    assert isinstance(old[0], Payload) and OLD_KEY_ORDERS < ORDER_COUNT


def test_a_malformed_demo_wait_is_named() -> None:
    env = {"TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}", "WORKBENCH_DEMO_WAIT": "soon"}
    with pytest.raises(workbench.SettingsError, match="WORKBENCH_DEMO_WAIT='soon' is not a number"):
        workbench.demo.connect(env=env)
