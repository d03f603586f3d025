"""Seconds from a fresh clone to a ready notebook with ``make demo``, and for a second run.

Clones this repository (its committed HEAD) into a temporary folder, runs ``make demo`` there with
free ports, and measures until it prints "Demo ready" — printed once the dev server is up, the
demo data seeded, the worker running and JupyterLab answering. Then Ctrl-C (SIGINT to the
foreground process group, as a terminal sends it), and ``make demo`` again on the kept data.
The first run installs into a fresh ``.venv`` from pip's cache (warm on this machine).

    .venv/bin/python benchmarks/bench_demo.py
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from demo_process import _demo_port_block, wait_port_free  # noqa: E402
from rig import free_port  # noqa: E402


def run_make_demo(clone: Path, port: int, lab_port: int) -> tuple[float, float, str]:
    """``make demo`` until ready, then Ctrl-C; returns (seconds to ready, seconds to stop, log)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "VIRTUAL_ENV"))}
    env["DISPLAY"] = ""  # headless: print the URL, open no browser
    started = time.monotonic()
    proc = subprocess.Popen(
        ["make", "demo", f"PORT={port}", f"LAB_PORT={lab_port}"],
        cwd=clone,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "Demo ready" in line:
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    while not ready.wait(0.05):
        if proc.poll() is not None:
            reader.join(5)
            raise SystemExit(f"make demo exited ({proc.returncode}):\n{''.join(lines)}")
    to_ready = time.monotonic() - started
    time.sleep(1)  # let it print the banner
    stop_started = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(120)
    to_stop = time.monotonic() - stop_started
    reader.join(5)
    wait_port_free(port)
    return to_ready, to_stop, "".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="wb-demo-bench-") as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True, text=True
        ).stdout.strip()
        port, lab_port = _demo_port_block(), free_port()
        first, first_stop, log1 = run_make_demo(clone, port, lab_port)
        second, second_stop, log2 = run_make_demo(clone, port, lab_port)
    seeded = next((line.strip() for line in log1.splitlines() if "Seeded in" in line), "?")
    print(f"commit {head}; load average before {load_before}, after {os.getloadavg()}")
    print("| run | seconds to a ready notebook | seconds to stop after Ctrl-C |")
    print("|---|---:|---:|")
    print(f"| fresh clone (install, server, seeding, Lab) | {first:.1f} | {first_stop:.1f} |")
    print(f"| second `make demo` (data kept) | {second:.1f} | {second_stop:.1f} |")
    print(f"first run: {seeded}")
    assert "Demo data already there" in log2, log2


if __name__ == "__main__":
    main()
