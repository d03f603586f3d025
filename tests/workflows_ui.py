"""Workflows whose encrypted histories the panel tests read (imports only temporalio).

``ShopWorkflow`` charges an order through an activity, waits for a signal when asked to, and
fails for orders marked to fail: enough for listings with several statuses and histories with
inputs, results, failures and signals, all encrypted by the worker's codec.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError


@dataclass
class ShopOrder:
    order_id: str
    customer: str
    amount: float
    fail: bool = False


@activity.defn
async def shop_charge(order: ShopOrder) -> dict[str, Any]:
    if order.fail:
        raise ApplicationError(f"card of {order.customer} declined", non_retryable=True)
    return {"order_id": order.order_id, "charged": order.amount, "card": "4111-1111-1111-1111"}


@workflow.defn
class ShopWorkflow:
    @workflow.run
    async def run(self, order: ShopOrder) -> dict[str, Any]:
        receipt = await workflow.execute_activity(
            shop_charge,
            order,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )
        return {"status": "shipped", "receipt": receipt}
