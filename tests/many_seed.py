"""Seed encrypted order runs with a real ``temporalio`` worker (for the many-histories tests).

:func:`seed_orders` starts ``ManyOrderWorkflow`` runs tagged with one ``WbKeyword`` value, each
encrypted with the samples' AES-GCM codec, waits until they are closed and listed by visibility,
and returns what was seeded (ids, expected values) so tests can compare.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import threading
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from codec_samples import SampleEncryptionCodec
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.converter import DataConverter
from temporalio.worker import Worker
from workflows_many import ManyOrderWorkflow, SignalsWorkflow, price

T = TypeVar("T")

KEY_ID = "many-key"
# Random per test session; a benchmark that seeds in one process and reads in another sets it.
KEY = bytes.fromhex(os.environ["WB_MANY_KEY"]) if os.environ.get("WB_MANY_KEY") else os.urandom(32)
CUSTOMERS = ("Ada", "Bob", "Cy")
WB_KEYWORD = SearchAttributeKey.for_keyword("WbKeyword")


class LoopThread:
    """An asyncio loop in a thread, for the SDK's client and worker."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Awaitable[T], timeout: float = 180.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def order(n: int, *, fail: bool) -> dict[str, Any]:
    return {
        "order_id": f"o-{n}",
        "customer": CUSTOMERS[n % len(CUSTOMERS)],
        "amount": float(10 + n),
        "card": f"4111-1111-0000-{n:04d}",
        "fail": fail,
    }


@dataclass
class Seeded:
    address: str
    tag: str
    query: str
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # workflow id -> input
    run_ids: dict[str, str] = field(default_factory=dict)  # workflow id -> run id
    failed: set[str] = field(default_factory=set)


def converter() -> DataConverter:
    return dataclasses.replace(
        DataConverter.default, payload_codec=SampleEncryptionCodec({KEY_ID: KEY})
    )


async def _seed(address: str, count: int, fail_every: int, tag: str, start: int = 0) -> Seeded:
    client = await Client.connect(address, namespace="default", data_converter=converter())
    task_queue = f"wb-many-{tag}"
    seeded = Seeded(address, tag, f"WbKeyword='{tag}'")
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[ManyOrderWorkflow, SignalsWorkflow],
        activities=[price],
        max_concurrent_workflow_tasks=20,
    ):
        handles = []
        for n in range(start, start + count):
            fail = fail_every > 0 and n % fail_every == fail_every - 1
            wid = f"{tag}-{n:04d}"
            seeded.orders[wid] = order(n, fail=fail)
            if fail:
                seeded.failed.add(wid)
            handles.append(
                await client.start_workflow(
                    ManyOrderWorkflow.run,
                    seeded.orders[wid],
                    id=wid,
                    task_queue=task_queue,
                    search_attributes=TypedSearchAttributes([SearchAttributePair(WB_KEYWORD, tag)]),
                )
            )
        for handle in handles:
            seeded.run_ids[handle.id] = handle.result_run_id or ""
            with contextlib.suppress(WorkflowFailureError):
                await handle.result()
    deadline = time.monotonic() + 60
    while (
        await client.count_workflows(f"{seeded.query} AND ExecutionStatus!='Running'")
    ).count < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{count} runs tagged {tag} not listed after 60 s")
        await asyncio.sleep(0.1)
    return seeded


def seed_orders(
    address: str,
    count: int,
    *,
    fail_every: int = 4,
    tag: str | None = None,
    start: int = 0,
    timeout: float = 180.0,
) -> Seeded:
    """Run ``count`` encrypted order workflows (every ``fail_every``-th fails; numbered from
    ``start``) and wait until visibility lists them all as closed."""
    loop = LoopThread()
    try:
        tag = tag or f"many-{uuid.uuid4().hex[:8]}"
        return loop.run(_seed(address, count, fail_every, tag, start), timeout=timeout)
    finally:
        loop.close()


async def _signals(address: str, workflow_id: str, count: int, payload: dict[str, Any]) -> str:
    client = await Client.connect(address, namespace="default", data_converter=converter())
    task_queue = f"wb-signals-{uuid.uuid4().hex[:6]}"
    async with Worker(client, task_queue=task_queue, workflows=[SignalsWorkflow]):
        handle = await client.start_workflow(
            SignalsWorkflow.run, count, id=workflow_id, task_queue=task_queue
        )
        for k in range(count):
            await handle.signal(SignalsWorkflow.item, {**payload, "k": k})
        await handle.result()
        return handle.result_run_id or ""


def seed_signals(address: str, workflow_id: str, count: int) -> str:
    """One run holding ``count`` encrypted signals; returns its run id."""
    loop = LoopThread()
    try:
        return loop.run(_signals(address, workflow_id, count, {"customer": "Ada"}))
    finally:
        loop.close()


_CACHE: dict[tuple[str, str], Seeded] = {}


def shared_orders(address: str) -> Seeded:
    """The session's one batch of 24 order runs (6 failed), seeded on first use."""
    key = (address, "orders")
    if key not in _CACHE:
        _CACHE[key] = seed_orders(address, 24, fail_every=4)
    return _CACHE[key]
