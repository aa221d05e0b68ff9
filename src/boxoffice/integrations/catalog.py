"""The webhook event types, which domain events (outbox kinds) they come from, and the payload each one carries.
Pure: no I/O.

To add a type: name it in ``EVENT_TYPES`` and map the domain event that stands for it in ``FROM_DOMAIN``. A domain
event's payload goes out as ``data.object`` as recorded, unless an ``order.*`` kind, whose object is the order (see
``order_object``). Its ``event_id`` (the Boxoffice event) says whose endpoints hear it, and its ``order_id`` (else
its ``ticket_id``) keeps the deliveries of one order in sequence.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

API_VERSION = "2026-12-01"
ALL_TYPES = "*"

EVENT_TYPES: tuple[str, ...] = (
    "order.created",
    "order.confirmed",
    "order.canceled",
    "order.expired",
    "order.refunded",
    "ticket.transferred",
    "checkin.created",
    "waiting_list.offered",
)

# outbox kind -> webhook event type. The check-in and waiting-list kinds are recorded by those contexts once they
# exist; until then no such domain event is ever recorded and these types are only subscribable.
FROM_DOMAIN: dict[str, str] = {
    "order.created": "order.created",
    "order.confirmed": "order.confirmed",
    "order.canceled": "order.canceled",
    "order.expired": "order.expired",
    "order.refunded": "order.refunded",
    "order.partially_refunded": "order.refunded",  # data.object.status tells a partial refund from a full one
    "ticket.transferred": "ticket.transferred",
    "checkin.created": "checkin.created",
    "waiting_list.offered": "waiting_list.offered",
    "waitlist.offered": "waiting_list.offered",  # the kind ticketing.waitlist_offers records
}

# fields of a domain payload that only the outbox needs
_INTERNAL = frozenset({"topics"})


def webhook_type(kind: str) -> str | None:
    """The webhook event type a domain event goes out as, or None when it goes out as none."""
    return FROM_DOMAIN.get(kind)


def subscribed(event_types: Sequence[str], event_type: str) -> bool:
    return ALL_TYPES in event_types or event_type in event_types


def order_key(payload: Mapping[str, Any], fallback: str) -> str:
    """What keeps deliveries in sequence: the order the domain event is about (else its ticket, else itself)."""
    for key in ("order_id", "ticket_id"):
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value[:64]
    return fallback[:64]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def order_object(payload: Mapping[str, Any], order: Any | None) -> dict[str, Any]:
    """The order as it was when the domain event happened: status and amounts refunded from the event, the rest
    (buyer, lines, totals) from the order row, which they never change. Ticket codes are never sent (they admit at
    the door). Without the row (it cannot be read), the event's own fields."""
    out: dict[str, Any] = {
        "id": payload.get("order_id"),
        "object": "order",
        "event_id": payload.get("event_id"),
        "status": payload.get("status"),
    }
    if order is not None:
        out.update(
            {
                "email": order.email,
                "name": order.name,
                "currency": order.currency,
                "subtotal_cents": order.subtotal_cents,
                "tip_cents": order.tip_cents,
                "total_cents": order.total_cents,
                "refunded_cents": order.refunded_cents,
                "lines": [
                    {
                        "ticket_type_id": line.ticket_type_id,
                        "title": line.title,
                        "quantity": line.quantity,
                        "unit_price_cents": line.unit_price_cents,
                        "unit_prices_cents": [int(p) for p in (line.unit_prices or [])],
                        "line_total_cents": line.line_total_cents,
                    }
                    for line in order.lines
                ],
                "created_at": _iso(order.created_at),
            }
        )
    for key in ("email", "currency", "total_cents", "refunded_cents"):
        if key in payload:
            out[key] = payload[key]  # as the event recorded them (a refund's amount at that moment)
    return out


def event_data(kind: str, payload: Mapping[str, Any], order: Any | None = None) -> dict[str, Any]:
    """``data`` of the webhook event for a domain event: ``object`` and, for a change of an order's status,
    ``previous_status``."""
    if kind.startswith("order."):
        data: dict[str, Any] = {"object": order_object(payload, order)}
        if payload.get("previous_status"):
            data["previous_status"] = payload["previous_status"]
        return data
    return {"object": {k: v for k, v in payload.items() if k not in _INTERNAL}}


def event_body(event_id: str, event_type: str, created: datetime, data: Mapping[str, Any]) -> str:
    """The JSON body of a webhook event, made once and sent as these exact bytes by every attempt."""
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "api_version": API_VERSION,
            "created": int(created.timestamp()),
            "data": data,
        },
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
