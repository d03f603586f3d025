"""Temporal's Python encryption sample's codec server, rebuilt from its description.

samples-python ``encryption/codec_server.py``: an aiohttp app whose ``/encode`` and ``/decode``
parse the body with protobuf's ``json_format``, run the sample's ``EncryptionCodec``, and print
the answer with ``json_format.MessageToJson``; CORS only for ``http://localhost:8233`` (origin
compared exactly, ``POST`` and ``content-type,x-namespace`` allowed) and an ``OPTIONS`` route on
``/decode`` only. It is the peer of the benchmark and a patient of the codec doctor's tests.
Nothing here imports ``workbench``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from functools import partial

from aiohttp import hdrs, web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import PayloadCodec

SAMPLE_ORIGIN = "http://localhost:8233"


def build_codec_server(codec: PayloadCodec, origin: str = SAMPLE_ORIGIN) -> web.Application:
    async def cors_options(req: web.Request) -> web.Response:
        resp = web.Response()
        if req.headers.get(hdrs.ORIGIN) == origin:
            resp.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
            resp.headers[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = "POST"
            resp.headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = "content-type,x-namespace"
        return resp

    async def apply(
        fn: Callable[[Sequence[Payload]], Awaitable[list[Payload]]], req: web.Request
    ) -> web.Response:
        assert req.content_type == "application/json"
        payloads = json_format.Parse(await req.read(), Payloads())
        payloads = Payloads(payloads=await fn(payloads.payloads))
        resp = await cors_options(req)
        resp.content_type = "application/json"
        resp.text = json_format.MessageToJson(payloads)
        return resp

    app = web.Application()
    app.add_routes(
        [
            web.post("/encode", partial(apply, codec.encode)),
            web.post("/decode", partial(apply, codec.decode)),
            web.options("/decode", cors_options),
        ]
    )
    return app


class BackgroundApp:
    """An aiohttp app served on 127.0.0.1 from a thread with its own loop (for tests)."""

    def __init__(self, app: web.Application, port: int = 0) -> None:
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False)
        ready = threading.Event()

        async def start() -> None:
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", port).start()

        def serve() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(start())
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        if not ready.wait(15):
            raise RuntimeError("sample codec server did not start")
        self.port = int(self.runner.addresses[0][1])
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
