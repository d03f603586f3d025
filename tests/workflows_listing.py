"""Workflows the listing tests run (imports only temporalio: the SDK sandbox re-imports it).

``ListingWorkflow`` does what its ``Job`` says: complete, fail, wait (until cancelled,
terminated or timed out), continue as new once, start a child and wait for it, or sit with a
pending activity and a pending child (for ``describe``). ``TrivialWorkflow`` just returns; the
restart test starts hundreds of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

NOBODY_QUEUE = "wb-listing-nobody-polls-this"  # a task queue no worker polls


@dataclass
class Job:
    mode: str  # complete | fail | wait | continue | parent | pending
    child_id: str = ""
    run: int = 1


@activity.defn
async def always_fails(order: str) -> str:
    raise ApplicationError(f"card declined for {order}")


@workflow.defn
class ListingWorkflow:
    @workflow.run
    async def run(self, job: Job) -> str:
        if job.mode == "complete":
            return "done"
        if job.mode == "fail":
            raise ApplicationError("order rejected", non_retryable=True)
        if job.mode == "continue":
            if job.run == 1:
                workflow.continue_as_new(Job(mode="continue", run=2))
            return "second run"
        if job.mode == "parent":
            return await workflow.execute_child_workflow(
                ListingWorkflow.run, Job(mode="complete"), id=job.child_id
            )
        if job.mode == "pending":
            await workflow.start_child_workflow(
                ListingWorkflow.run, Job(mode="wait"), id=job.child_id, task_queue=NOBODY_QUEUE
            )
            workflow.start_activity(
                always_fails,
                "order-7",
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1),
                    backoff_coefficient=1.0,
                    maximum_interval=timedelta(seconds=1),
                ),
            )
        await workflow.wait_condition(lambda: False)  # until cancelled/terminated/timed out
        return "unreachable"


@workflow.defn
class TrivialWorkflow:
    @workflow.run
    async def run(self, n: int) -> int:
        return n
