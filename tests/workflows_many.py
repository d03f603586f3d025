"""Small order workflows for the many-histories tests and benchmark.

Imports only temporalio (the SDK sandbox re-imports this module). ``ManyOrderWorkflow`` runs one
activity and either completes or fails with an application error carrying details: about a dozen
events and five payloads per run, all encrypted by the client's codec.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.exceptions import ApplicationError


@activity.defn
async def price(order: dict[str, Any]) -> dict[str, Any]:
    return {
        "order_id": order["order_id"],
        "customer": order["customer"],
        "total": round(order["amount"] * 1.2, 2),
    }


@workflow.defn
class ManyOrderWorkflow:
    @workflow.run
    async def run(self, order: dict[str, Any]) -> dict[str, Any]:
        priced = await workflow.execute_activity(
            price, order, start_to_close_timeout=timedelta(seconds=30)
        )
        if order.get("fail"):
            raise ApplicationError(
                "order rejected", {"card": order.get("card", "")}, type="Rejected"
            )
        return priced


@workflow.defn
class SignalsWorkflow:
    """Waits for ``count`` signals named ``item``, then returns how many it got."""

    def __init__(self) -> None:
        self._items = 0

    @workflow.signal
    def item(self, value: dict[str, Any]) -> None:
        self._items += 1

    @workflow.run
    async def run(self, count: int) -> int:
        await workflow.wait_condition(lambda: self._items >= count)
        return self._items
