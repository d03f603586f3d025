"""``workbench`` command line: ``workbench demo`` runs the demo (dev server, data, JupyterLab)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from .demo.runner import DemoError, DemoOptions, run
    from .devserver import DevServerError

    opts = DemoOptions(
        port=args.port,
        ui_port=args.ui_port,
        ui_public_path=args.ui_public_path,
        data_dir=Path(args.data_dir),
        lab=not args.no_lab,
        lab_port=args.lab_port,
        open_browser=False if args.no_browser else None,
        schedule=not args.no_schedule,
    )
    try:
        code = run(opts, out=lambda text: print(text, flush=True))
    except DemoError as err:
        print(f"workbench demo: {err}", file=sys.stderr, flush=True)
        code = 2
    except DevServerError as err:  # its message has the server's log tail
        print(f"workbench demo: the dev server did not start: {err}", file=sys.stderr, flush=True)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    # A process that ran a temporalio Worker can abort at interpreter exit (sdk-python#300);
    # everything is stopped and flushed by now.
    os._exit(code)


def _raise_interrupt() -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``workbench`` command."""
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="start a local Temporal dev server with demo data, its worker and JupyterLab",
    )
    demo.add_argument(
        "--port", type=int, default=7233, help="gRPC port; the next two are used too (7233)"
    )
    demo.add_argument("--ui-port", type=int, default=None, help="Web UI port (PORT+1000)")
    demo.add_argument(
        "--ui-public-path", default=None, help="base path of the Web UI behind a proxy"
    )
    demo.add_argument("--data-dir", default=".demo", help="where the server keeps its data (.demo)")
    demo.add_argument("--no-lab", action="store_true", help="do not start JupyterLab")
    demo.add_argument("--lab-port", type=int, default=8888, help="JupyterLab's port (8888)")
    demo.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    demo.add_argument("--no-schedule", action="store_true", help="no schedule starting new orders")
    demo.set_defaults(func=_demo)
    from .server._cli import add_commands

    add_commands(sub)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
