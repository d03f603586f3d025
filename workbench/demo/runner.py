"""``workbench demo``: dev server, demo data, worker, schedule and JupyterLab, stopped together.

Everything it starts, and only that, is stopped on Ctrl-C (or SIGTERM): the schedule is paused,
the worker shut down, JupyterLab and the dev server terminated. The data folder stays, so the
next run starts in seconds; delete it to start over.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib.util
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ..devserver import _CLI_ENV_STRIP, DevServer, _pdeathsig_preexec, port_is_free
from ..errors import WorkbenchError

__all__ = ["DemoError", "DemoOptions", "run"]

T = TypeVar("T")

START_NOTEBOOK = "notebooks/00-start-here.ipynb"


class DemoError(WorkbenchError):
    """The demo cannot start: a port is taken, JupyterLab is missing, a process died."""


@dataclass
class DemoOptions:
    """How ``workbench demo`` runs (the command's flags)."""

    port: int = 7233
    """gRPC port of the dev server; it also takes the next two (HTTP API, metrics)."""
    ui_port: int | None = None
    """Port of the Temporal Web UI (default ``port + 1000``: 8233 for 7233)."""
    ui_public_path: str | None = None
    """Base path the Web UI is served under (behind a proxy, e.g. on Binder)."""
    data_dir: Path = field(default_factory=lambda: Path(".demo"))
    """The dev server's SQLite file, its log, JupyterLab's log and the seeding marker."""
    namespace: str = "default"
    lab: bool = True
    """Start JupyterLab on the start-here notebook."""
    lab_port: int = 8888
    open_browser: bool | None = None
    """Open a browser tab (default: when a display is available)."""
    root_dir: Path = field(default_factory=Path.cwd)
    """JupyterLab's root folder (the repository, holding ``notebooks/``)."""
    schedule: bool = True
    """Keep a schedule starting a new order every 20 s while the demo runs."""


class _LoopThread:
    """An asyncio loop in a daemon thread: the SDK's client and worker live there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()  # Ctrl-C while waiting: stop the coroutine too
            raise

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


def check_ports(opts: DemoOptions) -> None:
    """Refuse to start when a port the demo needs is taken, naming it and the way out.

    Raises:
        DemoError: The port, what uses it in the demo, and the ``make demo`` variable to change.
    """
    ui_port = opts.ui_port if opts.ui_port is not None else opts.port + 1000
    wanted = [
        (opts.port, "gRPC", "PORT"),
        (opts.port + 1, "HTTP API (PORT+1)", "PORT"),
        (opts.port + 2, "metrics (PORT+2)", "PORT"),
        (ui_port, "Web UI (PORT+1000)", "PORT"),
    ]
    if opts.lab:
        wanted.append((opts.lab_port, "JupyterLab", "LAB_PORT"))
    for port, role, variable in wanted:
        if not port_is_free(port, reuse_addr=True):
            example = 7300 if variable == "PORT" else 8890
            flag = "--port" if variable == "PORT" else "--lab-port"
            raise DemoError(
                f"port {port} on 127.0.0.1 is already in use; the demo needs it for its "
                f"{role}. Another `make demo` or Temporal dev server may be running: stop it, or "
                f"choose other ports: make demo {variable}={example} "
                f"(workbench demo {flag} {example})"
            )


def _has_display() -> bool:
    if sys.platform != "linux":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def demo_environment(address: str, namespace: str, ui_url: str | None) -> dict[str, str]:
    """The environment JupyterLab (and so each notebook's kernel) gets: the demo's address,
    and none of the caller's other TEMPORAL_* settings (a profile or API key would win)."""
    env = {k: v for k, v in os.environ.items() if k not in _CLI_ENV_STRIP}
    env["TEMPORAL_ADDRESS"] = address
    env["TEMPORAL_NAMESPACE"] = namespace
    if ui_url:
        env["WORKBENCH_DEMO_UI"] = ui_url
    env.setdefault("JUPYTER_PLATFORM_DIRS", "1")
    return env


class _Lab:
    """A JupyterLab server process with a token of ours, logging into the data folder."""

    def __init__(self, opts: DemoOptions, env: dict[str, str]) -> None:
        if importlib.util.find_spec("jupyterlab") is None:
            raise DemoError(
                "JupyterLab is not installed: run `make demo` (it installs the demo extra), or "
                "pip install 'temporal-workbench[demo]', or pass --no-lab to skip it"
            )
        self.port = opts.lab_port
        self._token = secrets.token_hex(16)
        root = opts.root_dir.resolve()
        notebook = root / START_NOTEBOOK
        self.path = f"lab/tree/{START_NOTEBOOK}" if notebook.is_file() else "lab"
        self.log_file = opts.data_dir / "jupyterlab.log"
        browser = _has_display() if opts.open_browser is None else opts.open_browser
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={root}",
            f"--ServerApp.open_browser={browser}",
            f"--IdentityProvider.token={self._token}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--ServerApp.allow_root=True")  # containers often run as root
        if notebook.is_file():
            cmd.append(str(notebook))
        self._log = open(self.log_file, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=root,
            start_new_session=True,  # Ctrl-C is ours to handle: Jupyter would ask "y/n?"
            preexec_fn=_pdeathsig_preexec(),
        )

    @property
    def url(self) -> str:
        """The start-here notebook's URL, with the login token."""
        return f"http://127.0.0.1:{self.port}/{self.path}?token={self._token}"

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        status = f"http://127.0.0.1:{self.port}/api/status?token={self._token}"
        while True:
            if self.proc.poll() is not None:
                raise DemoError(
                    f"JupyterLab exited (rc={self.proc.returncode}); see {self.log_file}"
                )
            try:
                with urllib.request.urlopen(status, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise DemoError(
                    f"JupyterLab did not answer within {timeout:.0f} s; see {self.log_file}"
                )
            time.sleep(0.25)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


def run(opts: DemoOptions, out: Callable[[str], None] = print) -> int:
    """Run the demo until Ctrl-C or SIGTERM; stop everything it started. Returns an exit code.

    Raises:
        DemoError: A port is taken or JupyterLab is missing (checked before starting anything).
    """
    from workbench_demo.workflows import SEARCH_ATTRIBUTES

    from .seed import connect_client, is_seeded, pause_schedule, seed, start_schedule, worker

    check_ports(opts)
    data_dir = opts.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    opts.data_dir = data_dir
    ui_port = opts.ui_port if opts.ui_port is not None else opts.port + 1000
    server = DevServer(
        port=opts.port,
        data_dir=data_dir,
        search_attributes=SEARCH_ATTRIBUTES,
        namespaces=[opts.namespace],
        ui_port=ui_port,
        ui_public_path=opts.ui_public_path,
    )
    loop = _LoopThread()
    client: Any = None
    demo_worker: Any = None
    lab: _Lab | None = None
    # SIGTERM (a process manager, Binder) stops the demo as Ctrl-C does.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        out(f"Starting the Temporal dev server on {server.host}:{opts.port} (data in {data_dir})")
        server.start()
        address = server.address
        if is_seeded(data_dir):
            out(f"Demo data already there (delete {data_dir} to start over).")
        else:
            out("Seeding the demo data (a few hundred workflow runs, once) ...")
            started = time.monotonic()
            counts = loop.run(seed(address, opts.namespace, data_dir, log=out))
            out(
                f"Seeded in {time.monotonic() - started:.1f} s: {counts['started']} runs started, "
                f"{counts['existing']} already there from an interrupted seeding."
            )
        client = loop.run(connect_client(address, opts.namespace))
        demo_worker = loop.run(_async(worker, client))  # a Worker is built inside its loop
        worker_run = loop.submit(demo_worker.run())
        if opts.schedule:
            loop.run(start_schedule(client))
        ui_url = f"http://127.0.0.1:{ui_port}{(opts.ui_public_path or '').rstrip('/')}"
        if opts.lab:
            lab = _Lab(opts, demo_environment(address, opts.namespace, ui_url))
            lab.wait_ready()
        out(_banner(address, opts, ui_url, lab))
        while server.running and not worker_run.done():
            if lab is not None and lab.proc.poll() is not None:
                out(f"JupyterLab exited; see {lab.log_file}.")
                return 1
            time.sleep(0.5)
        if not server.running:
            out(f"The dev server exited; see {server.log_file}.")
        else:
            out(f"The worker stopped: {worker_run.exception()!r}")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        if threading.current_thread() is threading.main_thread():
            # A second Ctrl-C must not cut the cleanup short (each step has its own timeout).
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        out("\nStopping the demo ...")
        if client is not None and opts.schedule and server.running:
            with contextlib.suppress(Exception):
                loop.run(pause_schedule(client), timeout=5)
        if demo_worker is not None:
            with contextlib.suppress(Exception):
                loop.run(demo_worker.shutdown(), timeout=10)
        if lab is not None:
            lab.stop()
        server.stop()
        loop.close()
        out("Stopped.")


async def _async(fn: Callable[..., T], *args: Any) -> T:
    return fn(*args)


def _banner(address: str, opts: DemoOptions, ui_url: str, lab: _Lab | None) -> str:
    lines = [
        "",
        "Demo ready.",
        f"  Temporal dev server  {address}  (namespace {opts.namespace!r})",
        f"  Temporal Web UI      {ui_url}",
        "  Worker               task queue 'demo-orders'"
        + (", a new order every 20 s" if opts.schedule else ""),
    ]
    if lab is not None:
        lines.append(f"  JupyterLab           {lab.url}")
    lines += [
        "",
        "From any Python:",
        "    import workbench.demo",
        f"    s = workbench.demo.connect()     # TEMPORAL_ADDRESS={address}",
        "",
        "Press Ctrl-C to stop everything the demo started.",
    ]
    return "\n".join(lines)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
