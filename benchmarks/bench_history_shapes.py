"""``bench_history.py --shapes``: issue 14's single-history figures, in one run.

(a) fetch + decode against raw fetch on two shapes: the activity history of
    ``bench_history.py`` (AES-GCM payloads) and one run of 10,000 signals each carrying an
    AES-GCM(zlib) payload (``_signals_seed.py``);
(b) ``History.from_json`` of each shape's JSON file against
    ``temporalio.client.WorkflowHistory.from_json`` of the same file;
(c) the largest history the server allows (``--largest`` signals, about 51,000 events), fetched
    and decoded in a fresh process: events/s against the 10k history's, and peak memory growth
    against the history's protobuf size.

Servers keep their data in ``benchmarks/.data/`` (seeded once, in subprocesses).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from _results import write_section
from _signals_seed import KEY, KEY_ID, SIGNALS_WORKFLOW_ID
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    GetWorkflowExecutionHistoryRequest,
    WorkflowServiceStub,
)
from temporalio.client import WorkflowHistory

import workbench
from workbench import History, codecs
from workbench.devserver import BENCHMARK_DYNAMIC_CONFIG, DevServer

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
LARGEST_ID = "bench-history-largest"
SIGNAL_CONFIG = {**BENCHMARK_DYNAMIC_CONFIG, "history.maximumSignalsPerExecution": 100000}
_META = (("temporal-namespace", "default"),)


def _raw(stub: WorkflowServiceStub, wid: str, rid: str) -> int:
    token = b""
    keep = []
    while True:
        resp = stub.GetWorkflowExecutionHistory(
            GetWorkflowExecutionHistoryRequest(
                namespace="default",
                execution=WorkflowExecution(workflow_id=wid, run_id=rid),
                next_page_token=token,
            ),
            metadata=_META,
            timeout=120,
        )
        keep.append(resp)
        token = resp.next_page_token
        if not token:
            return sum(len(r.history.events) for r in keep)


def _signals_server(data: Path, wid: str, count: int) -> tuple[DevServer, str]:
    server = DevServer(data_dir=data, dynamic_config=SIGNAL_CONFIG).start()
    with grpc.insecure_channel(server.address) as channel:
        stub = WorkflowServiceStub(channel)
        try:
            d = stub.DescribeWorkflowExecution(
                DescribeWorkflowExecutionRequest(
                    namespace="default", execution=WorkflowExecution(workflow_id=wid)
                )
            )
            done = d.workflow_execution_info.status == 2
        except grpc.RpcError:
            done = False
        if not done:
            print(f"seeding {wid}: {count} signals (once) ...", flush=True)
            seed = Path(__file__).with_name("_signals_seed.py")
            subprocess.run([sys.executable, str(seed), server.address, str(count), wid], check=True)
        d = stub.DescribeWorkflowExecution(
            DescribeWorkflowExecutionRequest(
                namespace="default", execution=WorkflowExecution(workflow_id=wid)
            )
        )
    return server, d.workflow_execution_info.execution.run_id


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _shape(
    address: str, wid: str, rid: str, chain: codecs.Chain, runs: int, folder: Path
) -> dict[str, Any]:
    """raw vs s.history interleaved, then from_json vs temporalio's, on one history."""
    channel = grpc.insecure_channel(
        address, options=[("grpc.max_receive_message_length", 512 * 1024 * 1024)]
    )
    stub = WorkflowServiceStub(channel)
    with workbench.connect(address, "default", env={}, codec=chain) as s:
        h = s.history(wid, run_id=rid)
        assert h.payloads.error.isna().all(), h
        events, payloads = len(h.events), len(h.payloads)
        path = folder / f"{wid}.json"
        h.to_json(path, indent=None)
        del h
        assert _raw(stub, wid, rid) == events
        times: dict[str, list[float]] = {"raw": [], "workbench": [], "sdk_json": [], "wb_json": []}
        for _ in range(runs):
            times["raw"].append(_timed(lambda: _raw(stub, wid, rid)))
            times["workbench"].append(_timed(lambda: s.history(wid, run_id=rid)))
        for _ in range(runs):
            times["sdk_json"].append(
                _timed(lambda: WorkflowHistory.from_json(wid, path.read_text(encoding="utf-8")))
            )
            times["wb_json"].append(_timed(lambda: History.from_json(path, codec=chain)))
        back = History.from_json(path, codec=chain)
        sdk = WorkflowHistory.from_json(wid, path.read_text(encoding="utf-8"))
        assert list(back.raw.events) == list(sdk.events)  # the same history, exactly
    channel.close()
    return {"events": events, "payloads": payloads, "times": times, "bytes": path.stat().st_size}


def _memory(address: str, wid: str) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("bench_history.py")),
            "--memory",
            address,
            wid,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def shapes_main(args: Any, open_server: Any, raw_fetch: Any, activity_wid: str) -> None:
    load_before = os.getloadavg()
    data = ROOT / "benchmarks" / ".data"
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server, run_id = open_server(args.activities)
        try:
            results["activities"] = _shape(
                server.address,
                activity_wid,
                run_id,
                codecs.Chain(codecs.AesGcm({KEY_ID: KEY})),
                args.runs,
                folder,
            )
        finally:
            server.stop()
        zchain = codecs.Chain(codecs.AesGcm({KEY_ID: KEY}), codecs.Zlib())
        server, run_id = _signals_server(data / "signals", SIGNALS_WORKFLOW_ID, 10_000)
        try:
            results["signals"] = _shape(
                server.address, SIGNALS_WORKFLOW_ID, run_id, zchain, args.runs, folder
            )
            results["signals_memory"] = _memory(server.address, SIGNALS_WORKFLOW_ID)
        finally:
            server.stop()
        server, run_id = _signals_server(data / "signals-big", LARGEST_ID, 46_000)
        try:
            results["largest"] = [_memory(server.address, LARGEST_ID) for _ in range(2)]
        finally:
            server.stop()
    report = _report(results, args, load_before, os.getloadavg())
    print(report)
    if not args.no_write:
        _write_section(report)


def _report(
    results: dict[str, Any], args: Any, before: tuple[float, ...], after: tuple[float, ...]
) -> str:
    lines = [
        "## One history, issue 14 (two shapes, JSON, the largest history)",
        "",
        f"Medians of {args.runs} interleaved runs per shape, one process; raw fetch is grpcio "
        "paging at the server's default page size, protos only.",
        "",
        "| shape | events | payloads | raw fetch s | `s.history()` s | fetch+decode vs raw | "
        "temporalio `from_json` s | `History.from_json` s | from_json ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ratios = {}
    for key, label in (
        ("activities", "activities, AES-GCM"),
        ("signals", "10,000 signals, AES-GCM(zlib)"),
    ):
        r = results[key]
        med = {k: statistics.median(v) for k, v in r["times"].items()}
        vs_raw = med["raw"] / med["workbench"]
        json_ratio = med["sdk_json"] / med["wb_json"]
        ratios[key] = (vs_raw, json_ratio)
        lines.append(
            f"| {label} | {r['events']:,} | {r['payloads']:,} | {med['raw']:.3f} | "
            f"{med['workbench']:.3f} | **{vs_raw:.2f}x** | {med['sdk_json']:.3f} | "
            f"{med['wb_json']:.3f} | **{json_ratio:.2f}x** |"
        )
    small = results["signals_memory"]
    big = min(results["largest"], key=lambda m: m["seconds"])
    small_eps = small["events"] / small["seconds"]
    big_eps = big["events"] / big["seconds"]
    growth = big["peak_rss"] - big["rss_before"]
    lines += [
        "",
        "- Targets: fetch+decode ≥ 0.85x raw on both shapes → "
        + ", ".join(
            f"{k} {v[0]:.2f}x ({'met' if v[0] >= 0.85 else 'NOT met'})" for k, v in ratios.items()
        )
        + "; `History.from_json` ≥ 3x temporalio's → "
        + ", ".join(
            f"{k} {v[1]:.2f}x ({'met' if v[1] >= 3 else 'NOT met'})" for k, v in ratios.items()
        )
        + " (`History.from_json` also decodes every payload and builds both frames; the "
        "results are checked equal, event for event).",
        f"- Largest history: **{big['events']:,} events** ({big['payloads']:,} payloads, "
        f"{big['proto_bytes'] / 1e6:.1f} MB as protobuf) fetched and decoded in a fresh process "
        f"in {big['seconds']:.2f} s = {big_eps:,.0f} events/s, against {small_eps:,.0f} events/s "
        f"for the 10k history measured the same way (**{big_eps / small_eps:.2f}x**). Peak RSS "
        f"grew by {growth / 1e6:.0f} MB = **{growth / big['proto_bytes']:.2f}x** the protobuf size "
        f"(target ≤ 3x: {'met' if growth <= 3 * big['proto_bytes'] else 'NOT met'}).",
        f"- Machine: {os.cpu_count()} CPUs, shared with other engineers; load average "
        f"{', '.join(f'{x:.2f}' for x in before)} before, "
        f"{', '.join(f'{x:.2f}' for x in after)} after. Python {platform.python_version()}.",
        "",
        "Command: `.venv/bin/python benchmarks/bench_history.py --shapes"
        + (f" --runs {args.runs}" if args.runs != 7 else "")
        + "`",
        "",
    ]
    return "\n".join(lines)


def _verdict(name: str, ratio: float, target: float) -> str:
    return f"{name} {ratio:.2f}x ({'met' if ratio >= target else 'NOT met'})"


def _write_section(section: str) -> None:
    write_section(section, RESULTS)
