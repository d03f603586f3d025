"""Codec server speed: ``workbench serve-codec`` against Temporal's Python sample's server.

Peer: the aiohttp codec server of samples-python ``encryption/`` (protobuf ``json_format``
parse, the sample's AES-GCM ``EncryptionCodec``, ``json_format.MessageToJson``), rebuilt in
``tests/sample_codec_server.py``, with the same key. Both servers run as their own processes
(``workbench serve-codec --key-file``, with its default per-request log line written to
/dev/null; the sample with aiohttp's default access log), and this process is the client.
Interleaved runs; medians.

  (1) 1,000 payloads per request (order-like JSON, ~150 B each, encrypted), one request after
      another: payloads/s.
  (2) The Web UI's pattern: one payload per request over 16 concurrent connections for
      ``--seconds``: requests/s, p50/p99 latency.
  (3) The CLI's pattern: ``temporal workflow show -o json --codec-endpoint`` on the encrypted
      history of ``bench_history.py`` (10,763 events, seeded once): events/s through ours, the
      peer, and the CLI without a codec.
  (4) ``--workers 2``: patterns (1) with 4 concurrent clients and (2), against ``--workers 1``.

Usage::

    .venv/bin/python benchmarks/bench_codec_server.py [--runs 3] [--seconds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import aiohttp  # noqa: E402
from bench_history import KEY, KEY_ID, WORKFLOW_ID, open_server  # noqa: E402
from codec_samples import SampleEncryptionCodec  # noqa: E402
from temporalio.converter import DataConverter  # noqa: E402
from workflows_history import bench_item  # noqa: E402

from workbench.devserver import free_port  # noqa: E402

LOG: list[str] = os.environ.get("BENCH_OURS_ARGS", "").split()

PEER_MAIN = """
import os, sys
sys.path.insert(0, sys.argv[2])
from aiohttp import web
from codec_samples import SampleEncryptionCodec
from sample_codec_server import build_codec_server
codec = SampleEncryptionCodec({os.environ["BENCH_KEY_ID"]: bytes.fromhex(os.environ["BENCH_KEY"])})
web.run_app(build_codec_server(codec), host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


def _wait(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


class Server:
    def __init__(self, name: str, argv: list[str], port: int, env: dict[str, str]) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait(port, self.process)

    def cpu(self) -> float:
        """CPU seconds the server process has used (user + system): unlike wall time, barely
        moved by other work on a shared machine."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def start_ours(workers: int, key_file: Path, env: dict[str, str]) -> Server:
    port = free_port()
    argv = [
        sys.executable, "-m", "workbench.cli", "serve-codec", "--port", str(port),
        "--key-file", str(key_file), "--origin", "http://localhost:8233",
        "--workers", str(workers), *LOG,
    ]  # fmt: skip
    server = Server(f"ours x{workers}", argv, port, env)
    if workers > 1:
        time.sleep(2)  # the spawned workers import and bind after the first one
    return server


def start_peer(env: dict[str, str]) -> Server:
    port = free_port()
    argv = [sys.executable, "-c", PEER_MAIN, str(port), str(ROOT / "tests")]
    return Server("sample", argv, port, env)


def bodies() -> tuple[bytes, bytes]:
    codec = SampleEncryptionCodec({KEY_ID: KEY})
    convert = DataConverter.default.payload_converter
    plain = [convert.to_payloads([bench_item(i)])[0] for i in range(1000)]
    sealed = asyncio.run(codec.encode(plain))

    def body(payloads: list[Any]) -> bytes:
        import base64

        items = [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                "data": base64.b64encode(p.data).decode(),
            }
            for p in payloads
        ]
        return json.dumps({"payloads": items}).encode()

    return body(sealed), body(sealed[:1])


HEADERS = {"Content-Type": "application/json", "X-Namespace": "default"}


async def _batches(url: str, body: bytes, requests: int, clients: int) -> float:
    """Seconds for ``clients`` clients sending ``requests`` 1,000-payload bodies in all."""
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        todo = list(range(requests))

        async def client() -> None:
            while todo:
                todo.pop()
                async with session.post(url + "/decode", data=body, headers=HEADERS) as r:
                    data = await r.read()
                    assert r.status == 200 and b"binary/encrypted" not in data, r.status

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return time.perf_counter() - start


async def _ui(url: str, body: bytes, seconds: float, clients: int = 16) -> dict[str, float]:
    latencies: list[float] = []
    headers = {**HEADERS, "Origin": "http://localhost:8233"}
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        until = start + seconds

        async def client() -> None:
            while time.perf_counter() < until:
                t0 = time.perf_counter()
                async with session.post(
                    url + "/decode?preserveStorageRefs=true", data=body, headers=headers
                ) as r:
                    await r.read()
                    assert r.status == 200, r.status
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2] * 1000,
        "p99": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def _cli(binary: str, address: str, run_id: str, endpoint: str | None) -> tuple[float, int]:
    cmd = [binary, "workflow", "show", "-w", WORKFLOW_ID, "-r", run_id, "-o", "json"]
    cmd += ["--address", address]
    if endpoint:
        cmd += ["--codec-endpoint", endpoint]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, check=True, timeout=600).stdout
    seconds = time.perf_counter() - t0
    doc = json.loads(out)
    if endpoint:
        assert b"YmluYXJ5L2VuY3J5cHRlZA" not in out  # "binary/encrypted" in base64: all decoded
    return seconds, len(doc["events"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--requests", type=int, default=20, help="1,000-payload requests a run")
    parser.add_argument("--activities", type=int, default=3400)
    parser.add_argument("--no-cli", action="store_true")
    args = parser.parse_args()

    env = {**os.environ, "BENCH_KEY": KEY.hex(), "BENCH_KEY_ID": KEY_ID}
    tmp = Path(tempfile.mkdtemp(prefix="bench-codec-"))
    key_file = tmp / "keys.toml"
    key_file.write_text(f'[encryption.keys]\n{KEY_ID} = {{ env = "BENCH_KEY" }}\n')
    big, one = bodies()
    load_before = os.getloadavg()
    results: dict[str, list[Any]] = {}

    def record(name: str, value: Any) -> None:
        results.setdefault(name, []).append(value)

    servers = {
        "ours": start_ours(1, key_file, env),
        "peer": start_peer(env),
        "ours2": start_ours(2, key_file, env),
    }
    try:
        for server in servers.values():  # warm up: imports, first connections
            asyncio.run(_batches(server.url, big, 2, 1))
            asyncio.run(_ui(server.url, one, 0.5))
        for run in range(args.runs):
            for name in ("ours", "peer"):
                server = servers[name]
                cpu = server.cpu()
                record(f"batch_{name}", asyncio.run(_batches(server.url, big, args.requests, 1)))
                record(f"batchcpu_{name}", server.cpu() - cpu)
                cpu = server.cpu()
                ui = asyncio.run(_ui(server.url, one, args.seconds))
                ui["cpu_per_request"] = (server.cpu() - cpu) / (ui["rps"] * args.seconds)
                record(f"ui_{name}", ui)
            for name in ("ours", "ours2"):
                url = servers[name].url
                record(f"batch4_{name}", asyncio.run(_batches(url, big, args.requests, 4)))
                if name == "ours2":
                    record("ui_ours2", asyncio.run(_ui(url, one, args.seconds)))
            print(f"run {run + 1}/{args.runs} done", flush=True)
        cli: dict[str, list[float]] = {}
        events = 0
        if not args.no_cli:
            dev, run_id = open_server(args.activities)
            try:
                binary = dev.binary
                for _ in range(args.runs):
                    for name, endpoint in (
                        ("none", None),
                        ("ours", servers["ours"].url + "/{namespace}"),
                        ("peer", servers["peer"].url),
                    ):
                        server = servers.get(name)
                        cpu = server.cpu() if server else 0.0
                        seconds, events = _cli(binary, dev.address, run_id, endpoint)
                        cli.setdefault(name, []).append(seconds)
                        if server:
                            cli.setdefault(f"cpu_{name}", []).append(server.cpu() - cpu)
            finally:
                dev.stop()
    finally:
        for server in servers.values():
            server.stop()
    load_after = os.getloadavg()
    print(_report(results, cli, events, args, load_before, load_after))
    os._exit(0)  # the temporalio runtime's threads (sdk-python#300)


def _median(values: list[Any], key: Callable[[Any], float] = float) -> float:
    return statistics.median(key(v) for v in values)


def _report(
    results: dict[str, list[Any]],
    cli: dict[str, list[float]],
    events: int,
    args: argparse.Namespace,
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> str:
    payloads = args.requests * 1000
    batch = {n: payloads / _median(results[f"batch_{n}"]) for n in ("ours", "peer")}
    batch4 = {n: payloads / _median(results[f"batch4_{n}"]) for n in ("ours", "ours2")}
    ui = {
        n: {k: _median(results[f"ui_{n}"], lambda r, k=k: r[k]) for k in ("rps", "p50", "p99")}
        for n in ("ours", "peer", "ours2")
    }
    batch_cpu = {n: _median(results[f"batchcpu_{n}"]) / payloads * 1e6 for n in ("ours", "peer")}
    ui_cpu = {
        n: _median(results[f"ui_{n}"], lambda r: r["cpu_per_request"]) * 1e6
        for n in ("ours", "peer")
    }
    lines = [
        "| pattern | ours | sample server (peer) | ours / peer |",
        "|---|---:|---:|---:|",
        f"| (1) 1,000 payloads per request, payloads/s | {batch['ours']:,.0f} | "
        f"{batch['peer']:,.0f} | **{batch['ours'] / batch['peer']:.2f}x** |",
        f"| (2) UI: 1 payload per request, 16 connections, requests/s | {ui['ours']['rps']:,.0f} | "
        f"{ui['peer']['rps']:,.0f} | **{ui['ours']['rps'] / ui['peer']['rps']:.2f}x** |",
        f"| (2) p50 / p99 latency, ms | {ui['ours']['p50']:.1f} / {ui['ours']['p99']:.1f} | "
        f"{ui['peer']['p50']:.1f} / {ui['peer']['p99']:.1f} | |",
        f"| (1) server CPU per payload, µs | {batch_cpu['ours']:.1f} | {batch_cpu['peer']:.1f} | "
        f"**{batch_cpu['peer'] / batch_cpu['ours']:.2f}x** less |",
        f"| (2) server CPU per request, µs | {ui_cpu['ours']:.0f} | {ui_cpu['peer']:.0f} | "
        f"**{ui_cpu['peer'] / ui_cpu['ours']:.2f}x** less |",
    ]
    if cli:
        eps = {n: events / statistics.median(cli[n]) for n in ("none", "ours", "peer")}
        lines.append(
            f"| (3) CLI `workflow show -o json --codec-endpoint`, {events:,} events, events/s | "
            f"{eps['ours']:,.0f} | {eps['peer']:,.0f} | **{eps['ours'] / eps['peer']:.2f}x** |"
        )
        lines.append(
            f"| (3) the CLI without a codec (fetch and print only), events/s | {eps['none']:,.0f} "
            "| | |"
        )
        cli_cpu = {n: statistics.median(cli[f"cpu_{n}"]) for n in ("ours", "peer")}
        lines.append(
            f"| (3) server CPU per CLI run, s | {cli_cpu['ours']:.2f} | {cli_cpu['peer']:.2f} | "
            f"**{cli_cpu['peer'] / max(cli_cpu['ours'], 1e-9):.2f}x** less |"
        )
    lines += [
        "",
        "| `--workers` | (1) with 4 clients, payloads/s | (2) requests/s | (2) p50 / p99 ms |",
        "|---|---:|---:|---:|",
        f"| 1 | {batch4['ours']:,.0f} | {ui['ours']['rps']:,.0f} | "
        f"{ui['ours']['p50']:.1f} / {ui['ours']['p99']:.1f} |",
        f"| 2 | {batch4['ours2']:,.0f} ({batch4['ours2'] / batch4['ours']:.2f}x) | "
        f"{ui['ours2']['rps']:,.0f} ({ui['ours2']['rps'] / ui['ours']['rps']:.2f}x) | "
        f"{ui['ours2']['p50']:.1f} / {ui['ours2']['p99']:.1f} |",
        "",
        "All runs (s or values): "
        + "; ".join(
            f"{k} "
            + ", ".join(f"{v['rps']:.0f}rps" if isinstance(v, dict) else f"{v:.3f}" for v in values)
            for k, values in {**results, **{f"cli_{k}": v for k, v in cli.items()}}.items()
        ),
        f"Machine: {os.cpu_count()} CPUs, shared; load average "
        f"{', '.join(f'{x:.2f}' for x in load_before)} before, "
        f"{', '.join(f'{x:.2f}' for x in load_after)} after. Python {platform.python_version()}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
