"""An online shop: orders paid, reserved, shipped (in a child workflow) and invoiced.

Imports only ``temporalio`` and the standard library (the workflow sandbox re-imports it).

What the demo data shows, and where it comes from:

- retries: ``reserve_stock`` against a flaky warehouse API fails its first attempts for some
  orders; ``charge_payment`` against a flaky payment gateway likewise;
- failures with causes: a gateway that stays down (retries exhausted: ``GatewayTimeout``), a
  declined card (``PaymentDeclined``, not retryable) and an item out of stock (``OutOfStock``,
  refunded, then the order fails as ``OrderCancelled``);
- a signal (``approve``) and a query (``status``) on orders above :data:`APPROVAL_LIMIT`, which
  wait for a manager's approval with a timer as their deadline;
- a timer (the cooling-off period before shipping), a child workflow (``ShipmentWorkflow``), a
  large result (the invoice, compressed by the codec), continue-as-new
  (``InventorySyncWorkflow``, one run per page), custom search attributes and a memo.

Activities sleep a few milliseconds, derived from the order id, so latencies vary but seeding
stays fast.
"""

from __future__ import annotations

import asyncio
import random
import zlib
from datetime import datetime, timedelta, timezone
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ApplicationErrorCategory,
    ChildWorkflowError,
)

TASK_QUEUE = "demo-orders"
APPROVAL_LIMIT = 800.0
"""Orders above this total wait for an ``approve`` signal (or their approval timer)."""

SEARCH_ATTRIBUTES: dict[str, str] = {
    "CustomerId": "Keyword",
    "Region": "Keyword",
    "OrderTotal": "Double",
    "OrderDate": "Datetime",
    "OrderStage": "Keyword",
}
"""Custom search attributes the demo server registers (name -> type)."""

CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
REGION = SearchAttributeKey.for_keyword("Region")
ORDER_TOTAL = SearchAttributeKey.for_float("OrderTotal")
ORDER_DATE = SearchAttributeKey.for_datetime("OrderDate")
ORDER_STAGE = SearchAttributeKey.for_keyword("OrderStage")

REGIONS = ("eu-west", "us-east", "us-west", "ap-south")
CATALOG = {
    "LAMP-01": 39.9,
    "DESK-02": 349.0,
    "CHAIR-03": 189.5,
    "MUG-04": 12.0,
    "BOOK-05": 24.9,
    "SOFA-06": 899.0,
    "RUG-07": 129.0,
    "PLANT-08": 19.5,
}
# The demo's failures are expected ones: BENIGN keeps the worker from logging each as a warning
# with its traceback (the history records them all the same).
BENIGN = ApplicationErrorCategory.BENIGN
FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Linus")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton")


def make_order(rng: random.Random, order_id: str, order_date: datetime) -> dict[str, Any]:
    """A random order, with its fate (flaky or failing dependencies) drawn from ``rng``."""
    items: list[dict[str, Any]] = [
        {"sku": sku, "qty": rng.randint(1, 3), "price": CATALOG[sku]}
        for sku in rng.sample(sorted(CATALOG), rng.randint(1, 4))
    ]
    if rng.random() < 0.15:  # a bulk order: a long item list makes a large invoice
        items += [
            {"sku": f"SPARE-{k:03d}", "qty": rng.randint(1, 9), "price": 1.5} for k in range(120)
        ]
    total = round(sum(i["qty"] * i["price"] for i in items), 2)
    customer = rng.randrange(40)
    fate = rng.random()
    return {
        "order_id": order_id,
        "customer_id": f"cust-{customer:03d}",
        "customer_name": f"{FIRST_NAMES[customer % 8]} {LAST_NAMES[customer % 7]}",
        "region": REGIONS[customer % len(REGIONS)],
        "order_date": order_date.astimezone(timezone.utc).isoformat(),
        "items": items,
        "total": total,
        "card": "declined" if fate < 0.05 else "ok",
        "gateway": "down" if 0.05 <= fate < 0.10 else "flaky" if fate < 0.25 else "ok",
        "stock": "out" if 0.25 <= fate < 0.30 else "flaky" if 0.30 <= fate < 0.50 else "ok",
    }


def _pause(key: str, low_ms: int, high_ms: int) -> float:
    """A latency in seconds, the same for the same key on every run."""
    return (low_ms + zlib.crc32(key.encode()) % (high_ms - low_ms)) / 1000


# -- activities -------------------------------------------------------------------------------


@activity.defn
async def charge_payment(order: dict[str, Any]) -> dict[str, Any]:
    """Charge the customer's card through the payment gateway."""
    attempt = activity.info().attempt
    await asyncio.sleep(_pause(f"pay-{order['order_id']}-{attempt}", 5, 60))
    if order["card"] == "declined":
        raise ApplicationError(
            "card declined by issuer",
            {"order_id": order["order_id"], "reason": "insufficient funds"},
            type="PaymentDeclined",
            non_retryable=True,
            category=BENIGN,
        )
    if order["gateway"] == "down" or (order["gateway"] == "flaky" and attempt < 3):
        raise ApplicationError(
            f"payment gateway timed out (attempt {attempt})", type="GatewayTimeout", category=BENIGN
        )
    return {
        "payment_id": f"pay-{zlib.crc32(order['order_id'].encode()):08x}",
        "amount": order["total"],
        "currency": "EUR",
        "card": "visa **** 4242",
    }


@activity.defn
async def reserve_stock(order: dict[str, Any]) -> dict[str, Any]:
    """Reserve the items in the warehouse of the order's region."""
    attempt = activity.info().attempt
    await asyncio.sleep(_pause(f"stock-{order['order_id']}-{attempt}", 5, 40))
    if order["stock"] == "flaky" and attempt <= 2:
        raise ApplicationError(
            f"warehouse API {order['region']}: connection reset",
            type="WarehouseUnavailable",
            category=BENIGN,
        )
    if order["stock"] == "out":
        sku = order["items"][0]["sku"]
        raise ApplicationError(
            f"{sku} is out of stock",
            {"sku": sku, "warehouse": order["region"]},
            type="OutOfStock",
            non_retryable=True,
            category=BENIGN,
        )
    return {"reservation_id": f"res-{order['order_id']}", "warehouse": order["region"]}


@activity.defn
async def refund_payment(payment: dict[str, Any]) -> dict[str, Any]:
    """Give the money back (the compensation of a cancelled order)."""
    await asyncio.sleep(_pause(f"refund-{payment['payment_id']}", 5, 30))
    return {"refunded": payment["amount"], "payment_id": payment["payment_id"]}


@activity.defn
async def ship_parcel(shipment: dict[str, Any]) -> dict[str, Any]:
    """Hand the parcel to the carrier."""
    await asyncio.sleep(_pause(f"ship-{shipment['order_id']}", 10, 80))
    carrier = ("DHL", "UPS", "La Poste")[zlib.crc32(shipment["order_id"].encode()) % 3]
    return {"carrier": carrier, "tracking": f"TRK{zlib.crc32(shipment['order_id'].encode())}"}


@activity.defn
async def render_invoice(order: dict[str, Any]) -> str:
    """The invoice as text: one line per item (a bulk order's is several KiB)."""
    await asyncio.sleep(_pause(f"invoice-{order['order_id']}", 5, 50))
    lines = [f"INVOICE {order['order_id']} for {order['customer_name']}"]
    lines += [
        f"{i['sku']:<10} x{i['qty']:<3} {i['price']:>9.2f} EUR  {i['qty'] * i['price']:>10.2f} EUR"
        for i in order["items"]
    ]
    lines.append(f"TOTAL {order['total']:.2f} EUR")
    return "\n".join(lines)


@activity.defn
async def sync_inventory_page(state: dict[str, Any]) -> int:
    """Copy one page of a warehouse's inventory into the shop's catalog."""
    await asyncio.sleep(_pause(f"sync-{state['warehouse']}-{state['page']}", 5, 40))
    return 50 + zlib.crc32(f"{state['warehouse']}{state['page']}".encode()) % 50


# -- workflows --------------------------------------------------------------------------------


@workflow.defn
class ShipmentWorkflow:
    """Ship one order (a child of ``OrderWorkflow``)."""

    @workflow.run
    async def run(self, shipment: dict[str, Any]) -> dict[str, Any]:
        return await workflow.execute_activity(
            ship_parcel, shipment, start_to_close_timeout=timedelta(seconds=30)
        )


@workflow.defn
class OrderWorkflow:
    """Pay, reserve, wait out the cooling-off timer, ship (child workflow), invoice."""

    def __init__(self) -> None:
        self._stage = "received"
        self._approval: dict[str, Any] | None = None

    @workflow.signal
    def approve(self, by: str) -> None:
        """A manager approves an order above the approval limit."""
        self._approval = {"by": by, "at": workflow.now().isoformat()}

    @workflow.query
    def status(self) -> str:
        """Where the order is: received, awaiting-approval, paying, reserving, ..."""
        return self._stage

    def _enter(self, stage: str) -> None:
        self._stage = stage
        workflow.upsert_search_attributes([ORDER_STAGE.value_set(stage)])

    @workflow.run
    async def run(self, order: dict[str, Any] | None = None) -> dict[str, Any]:
        if order is None:  # started by the schedule: a fresh random order
            info = workflow.info()
            order = make_order(workflow.random(), info.workflow_id, workflow.now())
        workflow.upsert_search_attributes(
            [
                CUSTOMER_ID.value_set(order["customer_id"]),
                REGION.value_set(order["region"]),
                ORDER_TOTAL.value_set(order["total"]),
                ORDER_DATE.value_set(datetime.fromisoformat(order["order_date"])),
                ORDER_STAGE.value_set("received"),
            ]
        )
        if order["total"] > APPROVAL_LIMIT:
            self._enter("awaiting-approval")
            try:
                await workflow.wait_condition(
                    lambda: self._approval is not None, timeout=timedelta(seconds=1)
                )
            except asyncio.TimeoutError:
                self._approval = {"by": "auto-approval (timer)", "at": workflow.now().isoformat()}

        self._enter("paying")
        try:
            payment = await workflow.execute_activity(
                charge_payment,
                order,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(milliseconds=100),
                    backoff_coefficient=1.5,
                    maximum_attempts=4,
                ),
            )
        except ActivityError as err:
            self._enter("payment-failed")
            raise ApplicationError(
                f"order {order['order_id']}: payment failed",
                {"order_id": order["order_id"], "total": order["total"]},
                type="PaymentFailed",
            ) from err

        self._enter("reserving")
        try:
            reservation = await workflow.execute_activity(
                reserve_stock,
                order,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(milliseconds=50), backoff_coefficient=2.0
                ),
            )
        except ActivityError as err:
            self._enter("refunding")
            await workflow.execute_activity(
                refund_payment, payment, start_to_close_timeout=timedelta(seconds=10)
            )
            self._enter("cancelled")
            raise ApplicationError(
                f"order {order['order_id']} cancelled and refunded",
                {"order_id": order["order_id"], "refunded": payment["amount"]},
                type="OrderCancelled",
            ) from err

        self._enter("cooling-off")
        await workflow.sleep(timedelta(milliseconds=300))

        self._enter("shipping")
        try:
            parcel = await workflow.execute_child_workflow(
                ShipmentWorkflow.run,
                {
                    "order_id": order["order_id"],
                    "region": order["region"],
                    "items": len(order["items"]),
                },
                id=f"{workflow.info().workflow_id}-shipment",
            )
        except ChildWorkflowError as err:
            raise ApplicationError("shipment failed", type="ShipmentFailed") from err

        invoice = await workflow.execute_activity(
            render_invoice, order, start_to_close_timeout=timedelta(seconds=10)
        )
        self._enter("completed")
        return {
            "order_id": order["order_id"],
            "payment": payment,
            "reservation": reservation,
            "parcel": parcel,
            "approval": self._approval,
            "invoice": invoice,
        }


@workflow.defn
class InventorySyncWorkflow:
    """Sync a warehouse's inventory page by page: one run per page, chained by continue-as-new."""

    @workflow.run
    async def run(self, state: dict[str, Any]) -> dict[str, Any]:
        synced = await workflow.execute_activity(
            sync_inventory_page, state, start_to_close_timeout=timedelta(seconds=10)
        )
        state = {**state, "synced": state.get("synced", 0) + synced}
        if state["page"] + 1 < state["pages"]:
            workflow.continue_as_new({**state, "page": state["page"] + 1})
        return state


WORKFLOWS = [OrderWorkflow, ShipmentWorkflow, InventorySyncWorkflow]
ACTIVITIES = [
    charge_payment,
    reserve_stock,
    refund_payment,
    ship_parcel,
    render_invoice,
    sync_inventory_page,
]
