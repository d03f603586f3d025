"""Seed the demo data once, idempotently, and keep a schedule starting new orders.

Every seeded workflow has a deterministic id (``order-0000`` ...), started with
``REJECT_DUPLICATE``: a seeding interrupted half-way (the demo killed) is completed by the next
run, which skips the ids already there and waits for the runs still open. A marker file in the
data folder, written last, says the seeding is complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.converter import default as default_converter
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError
from temporalio.worker import Worker

from workbench_demo.workflows import (
    ACTIVITIES,
    APPROVAL_LIMIT,
    REGIONS,
    TASK_QUEUE,
    WORKFLOWS,
    InventorySyncWorkflow,
    OrderWorkflow,
    make_order,
)

from .keys import CURRENT_KEY_ID, OLD_KEY_ID
from .sdk_codec import DemoPayloadCodec

__all__ = [
    "MARKER",
    "OLD_KEY_ORDERS",
    "ORDER_COUNT",
    "SCHEDULE_ID",
    "SEED_VERSION",
    "connect_client",
    "is_seeded",
    "order_id",
    "pause_schedule",
    "seed",
    "start_schedule",
    "worker",
]

SEED_VERSION = 1
MARKER = "seeded.json"
ORDER_COUNT = 150
"""Seeded orders (each successful one also runs a ``ShipmentWorkflow`` child)."""
OLD_KEY_ORDERS = 50
"""The first orders, seeded under the old key id (key rotation)."""
SYNC_PAGES = 3
"""Runs per inventory sync (one warehouse per region), chained by continue-as-new."""
DAYS = 14
"""Seeded orders carry an ``OrderDate`` spread over this many days before the seeding."""
SCHEDULE_ID = "demo-new-orders"
SCHEDULE_EVERY = timedelta(seconds=20)


def order_id(index: int) -> str:
    """The workflow id of seeded order ``index``."""
    return f"order-{index:04d}"


def seeded_order(index: int, today: datetime) -> dict[str, Any]:
    """Seeded order ``index``: the same order (and fate) on every seeding."""
    rng = random.Random(f"workbench-demo-order-{index}")
    day = DAYS - 1 - index * DAYS // ORDER_COUNT  # the oldest orders first
    when = today - timedelta(days=day) + timedelta(seconds=rng.randrange(8 * 3600, 20 * 3600))
    return make_order(rng, order_id(index), when)


async def connect_client(address: str, namespace: str, key_id: str = CURRENT_KEY_ID) -> Client:
    """A client whose payloads are encrypted (and large ones compressed) under ``key_id``."""
    converter = dataclasses.replace(default_converter(), payload_codec=DemoPayloadCodec(key_id))
    return await Client.connect(address, namespace=namespace, data_converter=converter)


def worker(client: Client) -> Worker:
    """The demo's worker: every demo workflow and activity, on :data:`TASK_QUEUE`."""
    return Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=WORKFLOWS,
        activities=ACTIVITIES,
        max_concurrent_activities=200,
    )


def is_seeded(data_dir: Path) -> bool:
    """True if a seeding of this version completed in ``data_dir``."""
    try:
        return int(json.loads((data_dir / MARKER).read_text())["version"]) == SEED_VERSION
    except (OSError, ValueError, KeyError, TypeError):
        return False


async def seed(
    address: str,
    namespace: str,
    data_dir: Path,
    *,
    log: Callable[[str], None] = print,
) -> dict[str, int]:
    """Start whatever of the demo data is missing, wait for it to finish, write the marker.

    Returns:
        Counts: ``started`` (new runs started now), ``existing`` (ids already there),
        ``completed`` and ``failed`` orders.
    """
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    counts = {"started": 0, "existing": 0, "completed": 0, "failed": 0}
    phases = (
        (OLD_KEY_ID, range(OLD_KEY_ORDERS), False),
        (CURRENT_KEY_ID, range(OLD_KEY_ORDERS, ORDER_COUNT), True),
    )
    for key_id, indices, with_sync in phases:
        client = await connect_client(address, namespace, key_id)
        async with worker(client):
            handles = await asyncio.gather(
                *(_start_order(client, i, today, counts) for i in indices)
            )
            if with_sync:
                handles += await asyncio.gather(
                    *(_start_sync(client, region, counts) for region in REGIONS)
                )
            for outcome in await asyncio.gather(*(_outcome(h) for h in handles)):
                counts[outcome] += 1
        log(
            f"  {len(indices)} orders under key id {key_id!r}: "
            f"{counts['completed']} completed, {counts['failed']} failed so far"
        )
    (data_dir / MARKER).write_text(
        json.dumps({"version": SEED_VERSION, "orders": ORDER_COUNT, **counts}) + "\n"
    )
    return counts


async def _start_order(
    client: Client, index: int, today: datetime, counts: dict[str, int]
) -> WorkflowHandle[Any, Any]:
    order = seeded_order(index, today)
    wid = order_id(index)
    try:
        handle = await client.start_workflow(
            OrderWorkflow.run,
            order,
            id=wid,
            task_queue=TASK_QUEUE,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            memo={
                "customer": {"id": order["customer_id"], "name": order["customer_name"]},
                "channel": ("web", "mobile", "phone")[index % 3],
                "items": len(order["items"]),
            },
        )
    except WorkflowAlreadyStartedError:
        counts["existing"] += 1
        return client.get_workflow_handle(wid)
    counts["started"] += 1
    # Two orders in three above the limit are approved by a manager's signal; the others wait
    # out their approval timer.
    if order["total"] > APPROVAL_LIMIT and index % 3:
        await handle.signal(OrderWorkflow.approve, f"manager-{index % 4}")
    return handle


async def _start_sync(
    client: Client, region: str, counts: dict[str, int]
) -> WorkflowHandle[Any, Any]:
    wid = f"inventory-sync-{region}"
    try:
        handle = await client.start_workflow(
            InventorySyncWorkflow.run,
            {"warehouse": region, "page": 0, "pages": SYNC_PAGES},
            id=wid,
            task_queue=TASK_QUEUE,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        counts["existing"] += 1
        return client.get_workflow_handle(wid)
    counts["started"] += 1
    return handle


async def _outcome(handle: WorkflowHandle[Any, Any]) -> str:
    try:
        await handle.result()
    except WorkflowFailureError:
        return "failed"
    return "completed"


async def start_schedule(client: Client) -> None:
    """Create the schedule that starts a new random order every 20 s, or unpause it."""
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            OrderWorkflow.run,
            id="live-order",
            task_queue=TASK_QUEUE,
            memo={"channel": "schedule"},
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=SCHEDULE_EVERY)]),
        # No burst of catch-up orders after the demo was stopped for a while.
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.ALLOW_ALL, catchup_window=timedelta(seconds=10)
        ),
        state=ScheduleState(note="workbench demo: new orders while the demo runs"),
    )
    try:
        await client.create_schedule(SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:
        await client.get_schedule_handle(SCHEDULE_ID).unpause(note="workbench demo started")


async def pause_schedule(client: Client) -> None:
    """Pause the schedule (the demo is stopping: no worker will run its orders)."""
    # The server may already be gone: then nothing will start anyway.
    with contextlib.suppress(RPCError):
        await client.get_schedule_handle(SCHEDULE_ID).pause(note="workbench demo stopped")
