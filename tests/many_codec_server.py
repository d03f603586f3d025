"""A small codec server for tests: decrypts the samples' AES-GCM payloads over HTTP, the way a
user's codec server does (``POST /decode`` with ``{"payloads": [...]}``), counts the requests and
payloads it gets, and can be told to fail some requests. Independent of the package under test."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload


class CodecServer:
    """Serves ``/decode`` on 127.0.0.1 (a free port). ``fail_every=n`` answers every n-th
    request with HTTP 503."""

    def __init__(self, keys: Mapping[str, bytes], *, fail_every: int = 0) -> None:
        self.ciphers = {k: AESGCM(v) for k, v in keys.items()}
        self.fail_every = fail_every
        self.requests = 0
        self.batch_sizes: list[int] = []
        self.failed_batches = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer._lock:
                    outer.requests += 1
                    number = outer.requests
                items = json.loads(body)["payloads"]
                with outer._lock:
                    outer.batch_sizes.append(len(items))
                if outer.fail_every and number % outer.fail_every == 0:
                    with outer._lock:
                        outer.failed_batches += 1
                    self._answer(503, b'{"error": "codec backend overloaded"}')
                    return
                out = [outer.decode_one(item) for item in items]
                self._answer(200, json.dumps({"payloads": out}).encode())

            def _answer(self, status: int, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def decode_one(self, item: dict[str, Any]) -> dict[str, Any]:
        meta = {k: base64.b64decode(v) for k, v in item.get("metadata", {}).items()}
        if meta.get("encoding") != b"binary/encrypted":
            return item
        cipher = self.ciphers[meta["encryption-key-id"].decode()]
        data = base64.b64decode(item["data"])
        inner = Payload.FromString(cipher.decrypt(data[:12], data[12:], None))
        return {
            "metadata": {k: base64.b64encode(v).decode() for k, v in inner.metadata.items()},
            "data": base64.b64encode(inner.data).decode(),
        }

    def start(self) -> CodecServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
