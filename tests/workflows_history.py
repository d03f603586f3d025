"""Workflows, activities and interceptors whose histories the history tests decode.

Imports only temporalio (the SDK sandbox re-imports this module). ``OrderWorkflow`` touches
every kind of payload a history holds: workflow input, memo, search attributes, headers,
activity inputs and results, a retried activity (its last failure), a local activity (marker),
a signal, an update, child workflows (one completes, one fails), continue-as-new, and in its
second run a failure whose causes go three levels deep. ``HeartbeatWorkflow`` has an activity
time out on its heartbeat. ``BenchWorkflow`` writes a big history for the benchmark.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import Interceptor as ClientInterceptor
from temporalio.client import OutboundInterceptor as ClientOutbound
from temporalio.client import SignalWorkflowInput, StartWorkflowInput, StartWorkflowUpdateInput
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError
from temporalio.worker import (
    Interceptor as WorkerInterceptor,
)
from temporalio.worker import (
    StartActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

TRACE_HEADER = "x-trace"
TRACE_VALUE = "trace-7f3a"
FLAKY_FAILURES = 2  # the flaky activity fails this many attempts, then succeeds
WB_KEYWORD = SearchAttributeKey.for_keyword("WbKeyword")


def trace_payload() -> Payload:
    # Built by hand: the header is a raw Payload, and the client's codec encodes it
    # (header_codec_behavior=CODEC).
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{TRACE_VALUE}"'.encode())


def _with_trace(headers: Mapping[str, Payload]) -> dict[str, Payload]:
    return {**headers, TRACE_HEADER: trace_payload()}


# -- activities -------------------------------------------------------------------------------


@activity.defn
async def charge(order: dict[str, Any]) -> dict[str, Any]:
    return {"order_id": order["order_id"], "charged": order["amount"], "currency": "EUR"}


@activity.defn
async def flaky(n: int) -> str:
    attempt = activity.info().attempt
    if attempt <= FLAKY_FAILURES:
        raise RuntimeError(f"flaky attempt {attempt}")
    return f"ok {n} after {attempt}"


@activity.defn
async def add_tax(amount: float) -> float:
    return round(amount * 1.2, 2)


@activity.defn
async def decline(order_id: str) -> None:
    try:
        raise ValueError(f"card of {order_id} expired")
    except ValueError as err:
        raise ApplicationError(
            "charge declined",
            {"order_id": order_id, "code": 42},
            type="Declined",
            non_retryable=True,
        ) from err


@activity.defn
async def echo(item: dict[str, Any]) -> dict[str, Any]:
    return {"order_id": item["order_id"], "status": "done", "total": item["amount"]}


def bench_item(n: int) -> dict[str, Any]:
    """An activity input of ~150 bytes of JSON, like an order."""
    return {
        "order_id": f"order-{n:08d}",
        "customer_id": f"cust-{(n * 7919) % 1_000_000:06d}",
        "amount": round(1 + (n * 37) % 5000 + 0.25, 2),
        "currency": ("USD", "EUR", "GBP")[n % 3],
        "items": [{"sku": f"SKU-{(n + k) % 997:04d}", "qty": 1 + k} for k in range(2)],
    }


# -- workflows --------------------------------------------------------------------------------


@workflow.defn
class ChildWorkflow:
    @workflow.run
    async def run(self, item: dict[str, Any]) -> dict[str, Any]:
        if item.get("fail"):
            raise ApplicationError("child rejected item", item, type="ChildRejected")
        return {"sku": item["sku"], "reserved": True}


@workflow.defn
class OrderWorkflow:
    def __init__(self) -> None:
        self._approval: dict[str, Any] | None = None
        self._discount = 0.0

    @workflow.signal
    async def approve(self, by: str, note: dict[str, Any]) -> None:
        self._approval = {"by": by, "note": note}

    @workflow.update
    async def set_discount(self, pct: float) -> dict[str, Any]:
        self._discount = pct
        return {"discount": pct, "accepted": True}

    @workflow.query
    def stage(self) -> str:
        return "waiting" if self._approval is None or not self._discount else "running"

    @workflow.run
    async def run(self, order: dict[str, Any]) -> dict[str, Any]:
        wid = workflow.info().workflow_id
        timeout = timedelta(seconds=30)
        if order.get("stage", 1) == 1:
            charged = await workflow.execute_activity(charge, order, start_to_close_timeout=timeout)
            fine = await workflow.execute_activity(
                flaky,
                7,
                start_to_close_timeout=timeout,
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(milliseconds=50), backoff_coefficient=1.0
                ),
            )
            taxed = await workflow.execute_local_activity(
                add_tax, order["amount"], start_to_close_timeout=timeout
            )
            workflow.upsert_search_attributes([WB_KEYWORD.value_set("approved-wait")])
            await workflow.wait_condition(lambda: self._approval is not None and self._discount > 0)
            child = await workflow.execute_child_workflow(
                ChildWorkflow.run, {"sku": "A-1"}, id=f"{wid}-child"
            )
            with contextlib.suppress(ChildWorkflowError):
                await workflow.execute_child_workflow(
                    ChildWorkflow.run, {"sku": "B-2", "fail": True}, id=f"{wid}-child-fail"
                )
            workflow.continue_as_new(
                {
                    **order,
                    "stage": 2,
                    "carry": {
                        "charged": charged,
                        "flaky": fine,
                        "taxed": taxed,
                        "child": child,
                        "approval": self._approval,
                        "discount": self._discount,
                    },
                }
            )
        try:
            await workflow.execute_activity(
                decline, order["order_id"], start_to_close_timeout=timeout
            )
        except ActivityError as err:
            raise ApplicationError(
                "order failed", {"order_id": order["order_id"]}, type="OrderFailed"
            ) from err
        return {"unreachable": True}


@activity.defn
async def beats_then_stalls() -> None:
    activity.heartbeat({"last": "beat-1"})
    await asyncio.sleep(3)  # past the heartbeat timeout


@workflow.defn
class HeartbeatWorkflow:
    """An activity that heartbeats once, then times out on its heartbeat timeout."""

    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.execute_activity(
                beats_then_stalls,
                heartbeat_timeout=timedelta(seconds=1),
                start_to_close_timeout=timedelta(seconds=20),
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
        except ActivityError:
            return "timed out"
        return "finished"


@workflow.defn
class BenchWorkflow:
    """``count`` activities in batches of ``batch``: about 4 events per activity."""

    @workflow.run
    async def run(self, count: int, batch: int) -> int:
        done = 0
        while done < count:
            size = min(batch, count - done)
            await asyncio.gather(
                *(
                    workflow.execute_activity(
                        echo, bench_item(done + i), start_to_close_timeout=timedelta(seconds=60)
                    )
                    for i in range(size)
                )
            )
            done += size
        return done


# -- interceptors: put a trace header on starts, signals, updates and activities -------------


class _ClientOut(ClientOutbound):
    async def start_workflow(self, input: StartWorkflowInput) -> Any:
        input.headers = _with_trace(input.headers)
        return await super().start_workflow(input)

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        input.headers = _with_trace(input.headers)
        await super().signal_workflow(input)

    async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> Any:
        input.headers = _with_trace(input.headers)
        return await super().start_workflow_update(input)


class _WorkflowOut(WorkflowOutboundInterceptor):
    def start_activity(self, input: StartActivityInput) -> Any:
        input.headers = _with_trace(input.headers)
        return super().start_activity(input)


class _WorkflowIn(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_WorkflowOut(outbound))


class TraceInterceptor(ClientInterceptor, WorkerInterceptor):
    """Adds the ``x-trace`` header on the client side and to every activity a workflow runs."""

    def intercept_client(self, next: ClientOutbound) -> ClientOutbound:
        return _ClientOut(next)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _WorkflowIn
