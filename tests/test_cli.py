"""`workbench demo` — what `make demo` runs — starts a real dev server a user can connect to."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from rig import free_port_block

import workbench


def test_demo_starts_a_server_prints_how_to_connect_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port_block(3)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workbench.cli",
            "demo",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        text = "".join(lines)
        address = f"127.0.0.1:{port}"
        assert f"running at {address}" in text, text
        snippet = re.search(r"workbench\.connect\(address=\"([^\"]+)\"", text)
        assert snippet is not None and snippet.group(1) == address
        with workbench.connect(address=address, env={}) as s:
            assert s.server_info.namespace.name == "default"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert (tmp_path / "temporal.db").exists()  # data is kept for the next `make demo`
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
