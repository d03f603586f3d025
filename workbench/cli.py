"""``workbench`` command line: ``workbench demo`` starts a local dev server to explore."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from .devserver import DevServer, port_block_is_free

    data_dir = Path(args.data_dir).resolve()
    port = args.port
    if port is None:
        port = 7233 if port_block_is_free(7233, 3) else None
    server = DevServer(port=port, data_dir=data_dir, namespaces=["default"])
    print(f"Starting a local Temporal dev server (data in {data_dir}) ...", flush=True)
    server.start()
    print(
        f"""
Temporal dev server running at {server.address} (namespace 'default').
Its log: {server.log_file}

Connect from Python or Jupyter (e.g. `.venv/bin/python`):

    import workbench
    s = workbench.connect(address="{server.address}", namespace="default")
    s.server_info
    s.namespaces()

or set TEMPORAL_ADDRESS={server.address} and call workbench.connect().
Press Ctrl-C to stop the server.""",
        flush=True,
    )
    # SIGTERM (e.g. from a process manager) stops the server as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda signum, frame: _raise_interrupt())
    try:
        while server.running:
            time.sleep(0.5)
        print("The dev server exited; see its log.", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        print("\nStopping the dev server ...", flush=True)
        server.stop()
    return 0


def _raise_interrupt() -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``workbench`` command."""
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="start a local Temporal dev server to explore")
    demo.add_argument("--port", type=int, default=None, help="gRPC port (default 7233 if free)")
    demo.add_argument(
        "--data-dir", default=".demo", help="where the server keeps its SQLite file (.demo)"
    )
    demo.set_defaults(func=_demo)
    from .server._cli import add_commands

    add_commands(sub)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
