"""``workbench serve-codec`` and ``workbench check-codec``: the codec server and its doctor
from a shell. Keys come from a codec file (``--key-file``) and the auth value from the
environment (``--auth-env``), never from the command line, which ``ps`` shows to everyone."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from ..errors import WorkbenchError

__all__ = ["add_commands"]


@dataclass(frozen=True)
class _Options:
    """What one worker process needs to serve (picklable: workers rebuild their codecs)."""

    key_file: str | None
    host: str
    port: int
    origins: tuple[str, ...]
    auth_env: str | None
    decode_only: bool
    max_body: int
    tls_cert: str | None
    tls_key: str | None
    allow_unauthenticated: bool
    reuse_port: bool
    log_level: str = "info"


def _build(options: _Options, *, serving: bool = True) -> tuple[Any, Any]:
    """The aiohttp application and TLS context of ``options`` (raises WorkbenchError)."""
    from ..codecs import Chain
    from ..codecs.config import load_codec_file
    from ..errors import SettingsError
    from ._app import build_app
    from ._runner import make_config, tls_context

    codecs: dict[str | None, Chain] = (
        load_codec_file(options.key_file) if options.key_file else {None: Chain()}
    )
    auth = None
    if options.auth_env:
        auth = os.environ.get(options.auth_env)
        if not auth:
            raise SettingsError(
                f"--auth-env {options.auth_env}: that environment variable is not set or empty",
                setting="--auth-env",
            )
    default = codecs.pop(None, None)
    named = {name: chain for name, chain in codecs.items() if name is not None}
    config = make_config(
        default,
        host=options.host,
        origins=options.origins,
        auth=auth,
        namespaces=named or None,
        decode_only=options.decode_only,
        max_body=options.max_body,
        allow_unauthenticated=options.allow_unauthenticated,
    )
    access_log = _AccessLog() if serving and options.log_level in ("debug", "info") else None
    return build_app(config, access_log=access_log), tls_context(options.tls_cert, options.tls_key)


def _serve_one(options: _Options) -> None:
    from aiohttp import web

    app, ssl_context = _build(options)
    web.run_app(
        app,
        host=options.host,
        port=options.port,
        ssl_context=ssl_context,
        reuse_port=options.reuse_port,
        access_log=None,
        print=None,
        handle_signals=True,
    )


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()), format="%(asctime)s [%(process)d] %(message)s"
    )


class _AccessLog:
    """The per-request lines on stderr, cheaply: Python's logging spends ~50 µs of CPU on a
    line (a fifth of a one-payload request), this a few. Lines are written in batches, at
    most :data:`LOG_FLUSH_SECONDS` late, and at exit."""

    def __init__(self) -> None:
        self.pending: list[str] = []
        self.pid = os.getpid()
        self.second = -1
        self.stamp = ""
        threading.Thread(target=self._flush_now_and_then, name="access-log", daemon=True).start()
        atexit.register(self.flush)

    def __call__(self, line: str) -> None:
        now = time.time()
        if int(now) != self.second:
            self.second = int(now)
            self.stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
        self.pending.append(f"{self.stamp} [{self.pid}] {line}\n")

    def flush(self) -> None:
        # Swap, then write: append() from the serving thread never waits on the write.
        pending, self.pending = self.pending, []
        if pending:
            sys.stderr.write("".join(pending))
            sys.stderr.flush()

    def _flush_now_and_then(self) -> None:
        while True:
            time.sleep(LOG_FLUSH_SECONDS)
            self.flush()


LOG_FLUSH_SECONDS = 0.5


def _worker(options: _Options) -> None:
    _setup_logging(options.log_level)
    with contextlib.suppress(KeyboardInterrupt):
        _serve_one(options)


def _serve(args: argparse.Namespace) -> int:
    _setup_logging(args.log_level)
    if args.workers < 1:
        print("workbench serve-codec: --workers must be at least 1", file=sys.stderr)
        return 2
    port = args.port
    if port == 0:  # a free port chosen here, so that it can be printed and shared by workers
        from ..devserver import free_port

        port = free_port(args.host)
    options = _Options(
        key_file=args.key_file,
        host=args.host,
        port=port,
        origins=tuple(args.origin or ()),
        auth_env=args.auth_env,
        decode_only=args.decode_only,
        max_body=args.max_body,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        allow_unauthenticated=args.allow_unauthenticated,
        reuse_port=args.workers > 1,
        log_level=args.log_level,
    )
    try:
        _build(options, serving=False)  # check everything once, before any worker starts
    except WorkbenchError as err:
        print(f"workbench serve-codec: {err.message}", file=sys.stderr)
        return 2
    scheme = "https" if args.tls_cert else "http"
    print(
        f"Codec server on {scheme}://{options.host}:{port} ({args.workers} worker(s)); origins: "
        f"{', '.join(options.origins) or 'none'}; auth: {'on' if args.auth_env else 'off'}",
        flush=True,
    )
    # Workers are separate processes sharing the port (SO_REUSEPORT): the kernel spreads the
    # connections, and each process decodes on its own core.
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_worker, args=(options,), daemon=True)
        for _ in range(args.workers - 1)
    ]
    for process in workers:
        process.start()
    signal.signal(signal.SIGTERM, lambda signum, frame: _raise_interrupt())
    try:
        _serve_one(options)
    except KeyboardInterrupt:
        pass
    except OSError as err:
        print(f"workbench serve-codec: cannot serve on port {port}: {err}", file=sys.stderr)
        return 1
    finally:
        for process in workers:
            process.terminate()
        for process in workers:
            process.join(10)
    return 0


def _raise_interrupt() -> None:
    raise KeyboardInterrupt


def _check(args: argparse.Namespace) -> int:
    from .doctor import check_codec_server

    auth = None
    if args.auth_env:
        auth = os.environ.get(args.auth_env)
        if not auth:
            print(f"workbench check-codec: {args.auth_env} is not set", file=sys.stderr)
            return 2
    ssl_context = None
    if args.ca_cert:
        import ssl

        ssl_context = ssl.create_default_context(cafile=args.ca_cert)
    report = check_codec_server(
        args.url,
        origin=args.origin,
        namespace=args.namespace,
        auth=auth,
        timeout=args.timeout,
        ssl_context=ssl_context,
    )
    print(report)
    return 0 if report.ok else 1


def add_commands(sub: Any) -> None:
    """Add ``serve-codec`` and ``check-codec`` to the ``workbench`` command's subparsers."""
    serve = sub.add_parser(
        "serve-codec",
        help="serve a codec (keys from a file) to the Temporal Web UI and CLI",
        description=__doc__,
    )
    serve.add_argument("--key-file", help="codec file (TOML; see the README's 'Codec server')")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8081, help="TCP port (8081)")
    serve.add_argument(
        "--origin",
        action="append",
        help="browser origin allowed (repeatable), e.g. http://localhost:8233",
    )
    serve.add_argument(
        "--auth-env", metavar="VAR", help="require the Authorization value held in $VAR"
    )
    serve.add_argument("--tls-cert", help="PEM certificate chain: serve https")
    serve.add_argument("--tls-key", help="PEM private key of --tls-cert")
    serve.add_argument("--workers", type=int, default=1, help="processes sharing the port (1)")
    serve.add_argument("--decode-only", action="store_true", help="refuse /encode")
    serve.add_argument(
        "--max-body", type=int, default=8 * 1024 * 1024, help="largest body in bytes (8 MiB)"
    )
    serve.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        help="allow a non-loopback --host without --auth-env (a proxy in front checks)",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="info logs one line per request (never payloads or credentials); warning: errors only",
    )
    serve.set_defaults(func=_serve)
    check = sub.add_parser(
        "check-codec", help="check a codec server as the Web UI and the CLI call it"
    )
    check.add_argument("url", help="the codec endpoint ({namespace} is replaced)")
    check.add_argument("--origin", help="the Web UI's origin, e.g. https://cloud.temporal.io")
    check.add_argument("--namespace", default="default", help="sent as X-Namespace (default)")
    check.add_argument("--auth-env", metavar="VAR", help="send the Authorization value in $VAR")
    check.add_argument("--ca-cert", help="PEM CA bundle for an https endpoint")
    check.add_argument("--timeout", type=float, default=10.0, help="seconds per request (10)")
    check.set_defaults(func=_check)
