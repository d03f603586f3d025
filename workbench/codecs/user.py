"""A user's own ``temporalio.converter.PayloadCodec``, driven from synchronous code.

``PayloadCodec.encode``/``decode`` are coroutines. A Jupyter kernel already runs an event loop
on its main thread, where ``asyncio.run`` fails and ``nest_asyncio`` would patch the user's
loop. So the coroutines run on a private loop in one daemon thread, started on first use and
shared by every ``UserCodec``; the calling thread just waits for the result.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import os
import threading
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from temporalio.api.common.v1 import Payload

from ..errors import CodecError
from .base import Codec, DecodeFailure, claims_non_default

__all__ = ["UserCodec", "run_coroutine"]

T = TypeVar("T")

# Before 3.11, a future's timeout is not the builtin TimeoutError.
_TIMEOUTS = (TimeoutError, concurrent.futures.TimeoutError)


class _Expired(TimeoutError):
    """Workbench's own wait ran out (as opposed to a ``TimeoutError`` the coroutine raised,
    e.g. from a key service it calls, which is that codec's failure like any other)."""


class _LoopThread:
    """One event loop in one daemon thread, created lazily (and again after a fork)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid() or not self._thread_alive():
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                thread = threading.Thread(target=serve, name="workbench-codec-loop", daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread, self._pid = loop, thread, os.getpid()
            return self._loop

    def _thread_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None) -> T:
        loop = self.loop()
        if threading.current_thread() is self._thread:
            coro.close()
            raise CodecError(
                "a codec called workbench's synchronous API from inside its own coroutine; "
                "that would wait on itself forever"
            )
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return future.result(timeout)
        except _TIMEOUTS:
            # result() raises TimeoutError both when the wait runs out and when the coroutine
            # itself raised one: only an unfinished future is our timeout. A finished one
            # (also one that finished just now) gives its own outcome.
            if future.done():
                return future.result()
            future.cancel()
            raise _Expired(f"no result within {timeout} s") from None


_LOOP = _LoopThread()


def run_coroutine(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coro`` on workbench's private event-loop thread and return its result.

    Safe to call from a thread whose own loop is running (a Jupyter cell): that loop is neither
    used nor patched.

    Raises:
        TimeoutError: ``timeout`` seconds passed (the coroutine is cancelled).
        Exception: Whatever the coroutine raised.
    """
    return _LOOP.run(coro, timeout)


async def _call(method: Callable[[list[Payload]], Any], payloads: list[Payload]) -> Any:
    """Call a codec method; PayloadCodec methods are coroutines, a plain one is accepted too."""
    result = method(payloads)
    if inspect.isawaitable(result):
        result = await result
    return result


class UserCodec(Codec):
    """Wraps any ``temporalio.converter.PayloadCodec`` (async ``encode``/``decode``).

    It claims every payload the default converter cannot read; payloads the codec hands back
    unchanged are reported as not decoded (samples' codecs pass through encodings they do not
    know). When a batch raises, each payload is retried alone so that only the bad ones fail.

    Args:
        codec: The user's ``PayloadCodec`` (the one given to their ``DataConverter``).
        timeout: Seconds one ``decode``/``encode`` call may take.
        name: Name shown in messages (the codec's class name if omitted).

    Raises:
        CodecError: ``codec`` has no async ``encode``/``decode``.
    """

    passes_through = True

    def __init__(self, codec: Any, *, timeout: float = 60.0, name: str | None = None) -> None:
        for method in ("encode", "decode"):
            if not callable(getattr(codec, method, None)):
                raise CodecError(
                    f"UserCodec needs a temporalio.converter.PayloadCodec (async encode and "
                    f"decode methods); {type(codec).__name__} has no {method}()"
                )
        self.codec = codec
        """The wrapped ``PayloadCodec``."""
        self.timeout = timeout
        self.name = name or type(codec).__name__

    def __repr__(self) -> str:
        return f"UserCodec({self.name})"

    def claims_encoding(self, encoding: bytes | None) -> bool:
        """Claims every encoding the default converter does not read."""
        return claims_non_default(encoding)

    def decode(self, payloads: Sequence[Payload]) -> list[Payload | DecodeFailure]:
        """Run the codec's ``decode`` on the batch (one payload at a time if the batch fails)."""
        if not payloads:
            return []
        batch = list(payloads)
        try:
            result = run_coroutine(_call(self.codec.decode, batch), self.timeout)
        except _Expired:
            return [self._timeout()] * len(batch)
        except Exception:  # the codec's own error, TimeoutError included: find the bad ones
            return self._one_by_one(batch)
        if not isinstance(result, list) or len(result) != len(batch):
            got = len(result) if isinstance(result, list) else type(result).__name__
            return [
                DecodeFailure(
                    f"{self.name}.decode returned {got} payloads for the {len(batch)} given; "
                    "a PayloadCodec must return one payload per input"
                )
            ] * len(batch)
        return list(result)

    def _one_by_one(self, batch: list[Payload]) -> list[Payload | DecodeFailure]:
        decode = self.codec.decode

        async def each() -> list[Any]:
            return await asyncio.gather(
                *(_call(decode, [p]) for p in batch), return_exceptions=True
            )

        try:
            results = run_coroutine(each(), self.timeout)
        except _Expired:
            return [self._timeout()] * len(batch)
        out: list[Payload | DecodeFailure] = []
        for result in results:
            if isinstance(result, BaseException):
                text = f"{self.name}.decode failed: {type(result).__name__}: {result}"
                out.append(DecodeFailure(text[:500]))
            elif isinstance(result, list) and len(result) == 1:
                out.append(result[0])
            else:
                out.append(DecodeFailure(f"{self.name}.decode did not return one payload"))
        return out

    def _timeout(self) -> DecodeFailure:
        return DecodeFailure(
            f"{self.name}.decode did not finish within {self.timeout:g} s; raise timeout= on "
            "codecs.UserCodec"
        )

    def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Run the codec's ``encode`` on the batch.

        Raises:
            CodecError: The codec raised, timed out or returned a different count.
        """
        try:
            result = run_coroutine(_call(self.codec.encode, list(payloads)), self.timeout)
        except _Expired:
            raise CodecError(
                f"{self.name}.encode did not finish within {self.timeout:g} s"
            ) from None
        except Exception as err:
            raise CodecError(f"{self.name}.encode failed: {type(err).__name__}: {err}") from err
        if len(result) != len(payloads):
            raise CodecError(
                f"{self.name}.encode returned {len(result)} payloads for {len(payloads)}"
            )
        return list(result)
