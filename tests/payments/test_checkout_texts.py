"""Checkout line items describe the tickets as the buyer saw them when the order was priced."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from boxoffice.db import Database
from boxoffice.events import service as events
from boxoffice.payments.service import Payments
from boxoffice.ticketing.models import Order
from boxoffice.ticketing.orders import get_order
from boxoffice.ticketing.reserve import reserve
from boxoffice.ticketing.ticket_types import update_ticket_type
from tests.helpers import make_event, make_ticket, order_request


class NoGateway:
    """checkout_params never calls Stripe."""


def payments(db: Database) -> Payments:
    return Payments(db, NoGateway(), public_url="http://shop.test", token_key=b"k", hold=timedelta(minutes=30))  # type: ignore[arg-type]


def descriptions(params: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (item["price_data"]["product_data"]["name"], item["price_data"]["product_data"].get("description", ""))
        for item in params["line_items"]
    ]


async def test_checkout_uses_the_texts_of_the_pricing_snapshot(db: Database) -> None:
    event = await make_event(db, title="Spring Gala")
    tt = await make_ticket(db, event.id, title="Balcony", description="Row A to F")
    order = await reserve(db, order_request(event.id, (tt.id, 1)))
    await update_ticket_type(db, tt.id, {"description": "Changed later"})
    await events.update_event(db, event.id, events.EventInput(title="Renamed"))
    stored = await get_order(db, order.id)
    assert descriptions(await payments(db).checkout_params(stored)) == [("Balcony", "Row A to F")]


async def test_orders_priced_before_the_snapshot_had_texts_read_them_now(db: Database) -> None:
    event = await make_event(db, title="Spring Gala")
    tt = await make_ticket(db, event.id, title="Balcony", description="")
    order = await reserve(db, order_request(event.id, (tt.id, 1)))
    snapshot = dict(order.pricing_snapshot)
    snapshot.pop("event_title")
    snapshot["lines"] = [{k: v for k, v in line.items() if k != "description"} for line in snapshot["lines"]]
    async with db.transaction() as session:
        await session.execute(update(Order).where(Order.id == order.id).values(pricing_snapshot=snapshot))
    await events.update_event(db, event.id, events.EventInput(title="Renamed"))
    stored = await get_order(db, order.id)
    # No ticket description: the event's current title describes the line.
    assert descriptions(await payments(db).checkout_params(stored)) == [("Balcony", "Renamed")]
