"""Run ``workbench demo`` (what ``make demo`` runs) as a real subprocess, for the tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from rig import free_port_block

REPO = Path(__file__).resolve().parent.parent


class DemoProcess:
    """``python -m workbench.cli demo --no-lab ...`` with its output collected line by line."""

    def __init__(self, data_dir: Path, *extra: str, port: int | None = None) -> None:
        self.port = port or _demo_port_block()
        self.address = f"127.0.0.1:{self.port}"
        self.data_dir = data_dir
        cmd = [
            sys.executable,
            "-m",
            "workbench.cli",
            "demo",
            "--port",
            str(self.port),
            "--data-dir",
            str(data_dir),
            *extra,
        ]
        if "--lab-port" not in extra:
            cmd.append("--no-lab")
        env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=REPO,  # JupyterLab's root: the repository, holding notebooks/
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if self.proc.poll() is not None:
                self._reader.join(5)
                if text in self.output:
                    return
                raise AssertionError(f"demo exited ({self.proc.returncode}):\n{self.output}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not printed within {timeout} s:\n{self.output}")
            time.sleep(0.1)

    def interrupt(self, timeout: float = 60.0) -> int:
        """Ctrl-C, as a terminal sends it; returns the exit code."""
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._reader.join(5)


def _demo_port_block() -> int:
    """A gRPC port P with P..P+2 and the Web UI's P+1000 free."""
    from rig import port_is_free

    for _ in range(100):
        port = free_port_block(3)
        if port + 1000 <= 65535 and port_is_free(port + 1000):
            return port
    raise RuntimeError("no free port block for the demo")


def wait_port_free(port: int, timeout: float = 30.0) -> None:
    """Wait until the demo's ports (gRPC, HTTP, metrics, Web UI) are all free again."""
    from rig import port_is_free

    deadline = time.monotonic() + timeout
    for p in (port, port + 1, port + 2, port + 1000):
        while not port_is_free(p, reuse_addr=True):
            if time.monotonic() > deadline:
                raise AssertionError(f"port {p} still taken {timeout} s after the demo stopped")
            time.sleep(0.1)
