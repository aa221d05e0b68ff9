"""The REST API's response bodies (its request bodies and their rules are in ``web/api/schemas.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from boxoffice.errors import ErrorCode
from boxoffice.web.api.answer_fields import AttendeeOut
from boxoffice.web.api.described import (
    EVENT_DESCRIPTION,
    EVENT_STATUS,
    EVENT_TIMEZONE,
    EVENT_TITLE,
    IMAGE_URL,
    PRICING_MODEL,
    TICKET_TITLE,
    TIERS,
    TIERS_EXAMPLE,
    VENUE_ADDRESS,
    VENUE_NAME,
    about,
)


class EventOut(BaseModel):
    id: str = about("The event's id: its page is `/e/{id}`.", "ev_b9aea6add483ac60e4eb")
    title: str = about(EVENT_TITLE, "Jazz on the Roof")
    description: str = about(EVENT_DESCRIPTION, "Live jazz on the roof terrace.\n\nDoors open at 18:30.")
    starts_at: datetime = about(
        "When the event starts, in UTC (`timezone` says how to show it).", "2027-06-12T17:00:00Z"
    )
    ends_at: datetime = about("When the event ends, in UTC.", "2027-06-12T21:00:00Z")
    timezone: str = about(EVENT_TIMEZONE, "Europe/Berlin")
    status: str = about(EVENT_STATUS, "published")
    currency: str | None = about(
        "The event's one currency (lowercase ISO 4217); null until it is set or its first ticket type sets it.", "eur"
    )
    venue_name: str = about(VENUE_NAME, "Rooftop Hall")
    venue_address: str = about(VENUE_ADDRESS, "Alexanderplatz 1\n10178 Berlin")
    image_url: str | None = about(IMAGE_URL + " Null: none.", "https://images.example.com/jazz-on-the-roof.jpg")
    created_at: datetime = about("When the event was created, in UTC.", "2027-01-15T10:30:00Z")
    hold_minutes: int | None = about("Its own hold in minutes (5 to 30), or null for the server's.", None, default=None)
    waiting_list_offer_minutes: int = about("How long a waiting-list offer holds its tickets.", 1440, default=1440)


class EventSummary(EventOut):
    """An event in a list, with its sales so far."""

    sold: int = about("Tickets sold (paid orders; a refund that releases tickets takes them off).", 42)
    capacity: int = about(
        "Tickets it can sell in all: the quantities of its ticket types on offer, plus what hidden ones sold.", 200
    )
    gross_cents: int = about(
        "What paid orders came to, tips included, before refunds (minor units of `currency`).", 126000
    )
    refunded_cents: int = about("What was refunded of those orders (minor units of `currency`).", 3000)


class EventPage(BaseModel):
    """One page of the API key's events."""

    items: list[EventSummary] = about("The events of this page, in the order asked for.", [])
    next: str | None = about(
        "The next page (this request's filters and a cursor), or null on the last page. Also in the `Link` header.",
        "/api/v1/events?limit=20&sort=newest&cursor=WyJuZXdlc3QiLCIyMDI3LTAxLTE1VDEwOjMwOjAwKzAwOjAwIiwiZXZfMSJd",
    )


class TicketOut(BaseModel):
    id: str = about("The ticket type's id (`ticket_id` in an order's lines).", "tt_41c7e2f09a6b3d58e210")
    event_id: str = about("The event it belongs to.", "ev_b9aea6add483ac60e4eb")
    title: str = about(TICKET_TITLE, "General admission")
    description: str = about("What buyers read about this ticket type.", "Entry for one person, standing.")
    pricing_model: str = about(PRICING_MODEL, "flexible")
    base_price_cents: int | None = about("`fixed`: the price of one ticket; null otherwise.", None)
    minimum_price_cents: int | None = about("`flexible`: the least a buyer may pay; null otherwise.", 500)
    suggested_price_cents: int | None = about("`flexible`: the price filled in for the buyer, or null.", 2000)
    price_tiers: list[dict[str, Any]] | None = about(TIERS + " Null unless `dynamic`; `until` in UTC.", TIERS_EXAMPLE)
    currency: str = about("The ticket's currency (lowercase ISO 4217).", "eur")
    price_cents: int = about(
        "What the next ticket costs now (flexible: the suggested price, else the minimum; dynamic: the tier in force).",
        2000,
    )
    tippable: bool = about("Whether buyers may add a tip to an order with this ticket.", True)
    max_per_order: int | None = about("At most this many in one order, or null for the server's cap per line.", 10)
    starts_at: datetime | None = about("When its sales start (UTC), or null: at once.", "2027-03-01T09:00:00Z")
    ends_at: datetime | None = about("When its sales end (UTC), or null: when the event ends.", None)
    quantity: int = about("How many can be sold in all.", 50)
    sold: int = about("How many are sold (paid).", 12)
    held: int = about("How many are held by orders being paid for (an expired hold no longer counts).", 2)
    available: int = about("How many can be bought now: quantity - sold - held.", 36)
    sales_state: str = about(
        "`on_sale`, `sold_out`, `not_started` (before `starts_at`), `ended` (after its end, or the event is not on "
        "sale) or `paused` (the event's sales are paused).",
        "on_sale",
    )
    hidden: bool = about("Shown and sold only with a voucher that unlocks it.", False, default=False)
    waiting_list: bool = about("Whether buyers may join a waiting list when it is sold out.", True, default=True)
    reserved: int = about("Set aside for vouchers and the waiting list.", 0, default=0)
    undiscounted_price_cents: int | None = about(
        "With `?voucher=` when the code applies: the price without it (`price_cents` has it).", None, default=None
    )
    voucher_applies: bool | None = about("With `?voucher=`: whether the code applies.", None, default=None)


class LineOut(BaseModel):
    ticket_id: str = about("The ticket type bought.", "tt_41c7e2f09a6b3d58e210")
    title: str = about("The ticket type's title when the order was placed.", "Supporter")
    quantity: int = about("How many tickets.", 2)
    unit_price_cents: int = about("The price of one ticket (dynamic: the first ticket's).", 2000)
    unit_prices: list[int] = about("The price of each ticket of the line, in order (tiers may differ).", [2000, 2000])
    line_total_cents: int = about("What the line comes to.", 4000)


class IssuedTicket(BaseModel):
    id: str = about("The ticket's id.", "tkt_d8e4bf4314185e99baa1")
    ticket_id: str = about("Its ticket type.", "tt_41c7e2f09a6b3d58e210")
    code: str = about(
        "The code shown at the door (also in the QR code of the email).",
        "tkt_d8e4bf4314185e99baa1.WP6GGKTKWA55DEPVIYEY2T7WM353WATO",
    )
    status: str = about("`valid`, or `void` once its order is refunded.", "valid")


class OrderOut(BaseModel):
    id: str = about("The order's id.", "ord_5f0c2a9e7b31d4c86a0f")
    event_id: str = about("The event it is for.", "ev_b9aea6add483ac60e4eb")
    status: str = about(
        "`pending` (held, being paid), `confirmed`, `canceled`, `expired`, `failed`, `partially_refunded` or "
        "`refunded`.",
        "confirmed",
    )
    email: str = about("The buyer's email address.", "ada@example.com")
    name: str = about("The buyer's name.", "Ada Lovelace")
    currency: str = about("The order's currency (lowercase ISO 4217).", "eur")
    subtotal_cents: int = about("The tickets' total.", 4000)
    tip_cents: int = about("The buyer's tip.", 300)
    total_cents: int = about("What the buyer pays: subtotal plus tip.", 4300)
    refunded_cents: int = about("What was refunded so far.", 0)
    lines: list[LineOut] = about(
        "The order's lines.",
        [
            {
                "ticket_id": "tt_41c7e2f09a6b3d58e210",
                "title": "Supporter",
                "quantity": 2,
                "unit_price_cents": 2000,
                "unit_prices": [2000, 2000],
                "line_total_cents": 4000,
            }
        ],
    )
    tickets: list[IssuedTicket] = about(
        "The tickets issued, once the order is paid (empty before).",
        [
            {
                "id": "tkt_d8e4bf4314185e99baa1",
                "ticket_id": "tt_41c7e2f09a6b3d58e210",
                "code": "tkt_d8e4bf4314185e99baa1.WP6GGKTKWA55DEPVIYEY2T7WM353WATO",
                "status": "valid",
            }
        ],
    )
    expires_at: datetime = about("When the hold ends if the order is not paid (UTC).", "2027-03-01T10:15:00Z")
    created_at: datetime = about("When the order was placed (UTC).", "2027-03-01T10:00:00Z")
    confirmed_at: datetime | None = about("When it was paid (UTC), or null.", "2027-03-01T10:02:30Z")
    checkout_url: str | None = about(
        "Where the buyer pays, while the order is pending (null otherwise, and for a free order).",
        "https://checkout.stripe.com/c/pay/cs_test_a1b2c3",
    )
    answers: dict[str, Any] = about(
        "Answers to the event's per-order questions, by question id.",
        {"q_5f0c2a9e7b31d4c86a0f": "yes"},
        default_factory=dict,
    )
    attendees: list[AttendeeOut] = about(
        "The tickets given an attendee or answers (by line and place).",
        [
            {
                "line": 0,
                "unit": 0,
                "ticket_id": None,
                "name": "Grace Hopper",
                "email": "grace@example.com",
                "answers": {},
            }
        ],
        default_factory=list,
    )
    voucher: str | None = about("The voucher code the order was priced with, or null.", "SPONSOR-2027", default=None)


class OrderCreated(OrderOut):
    token: str = about(
        "The order's access token: send it as `Authorization: Bearer <token>`.",
        "ogpifX_uIXzy12TbhzLQ0nRe2yhrwdobkCad3fwh2E8",
    )


class OrganizerOrderOut(OrderOut):
    failure_reason: str | None = about("Why the payment failed or the order ended, or null.", None)
    stripe_payment_intent_id: str | None = about(
        "Stripe's PaymentIntent of the payment, or null.", "pi_3Nf2aB4cD5eF6gH7i"
    )
    pricing_snapshot: dict[str, Any] = about(
        "The prices and rules as they were when the order was placed (what the lines were priced by).",
        {"currency": "eur", "subtotal_cents": 4000, "tip_cents": 300, "total_cents": 4300},
    )


class CheckoutOut(BaseModel):
    checkout_url: str = about("Where the buyer pays.", "https://checkout.stripe.com/c/pay/cs_test_a1b2c3")


class RefundOut(BaseModel):
    order_id: str = about("The order refunded.", "ord_5f0c2a9e7b31d4c86a0f")
    refund_id: str = about("The refund's id.", "rf_0e6a4c2b8d1f3a5c7e9b")
    amount_cents: int = about("How much is refunded.", 1500)
    status: str = about(
        "`requested`, `pending`, `succeeded`, `failed` or `canceled`; the order follows Stripe's webhook.", "pending"
    )


class ParticipantOut(BaseModel):
    id: str = about("The participant's id.", "par_7a3e5c1b9d2f4a6c8e0d")
    email: str = about("Their email address.", "ada@example.com")
    name: str = about("Their name.", "Ada Lovelace")
    role: str = about("`ticket_holder`, `invitee`, `poll_voter` or `organizer`.", "ticket_holder")
    status: str = about(
        "`confirmed_with_order`, `pending`, `accepted`, `declined`, `cancelled` or `interested`.",
        "confirmed_with_order",
    )
    source: str = about("How they came to the event (`order`, `manual`, ...).", "order")
    metadata: dict[str, Any] = about(
        "What else is known (a ticket holder's `order_ids`).", {"order_ids": ["ord_5f0c2a9e7b31d4c86a0f"]}
    )
    created_at: datetime = about("When they became a participant (UTC).", "2027-03-01T10:02:30Z")


class EmailOut(BaseModel):
    id: str = about("The email's id.", "em_2c4e6a8b0d1f3e5a7c9b")
    order_id: str | None = about("The order it is about (null for a waiting-list email).", "ord_5f0c2a9e7b31d4c86a0f")
    kind: str = about("`confirmation`, `refund` or `payment_failed`.", "confirmation")
    to_email: str = about("Who it is sent to.", "ada@example.com")
    status: str = about("`pending`, `sent` or `failed` (its last try failed).", "sent")
    attempts: int = about("How many times it was tried.", 1)
    last_error: str | None = about("What the last failed try said, or null.", None)
    created_at: datetime = about("When it was queued (UTC).", "2027-03-01T10:02:30Z")
    sent_at: datetime | None = about("When it was sent (UTC), or null.", "2027-03-01T10:02:31Z")
    waiting_list_entry_id: str | None = about("The waiting-list entry it is about, or null.", None, default=None)


class FieldProblem(BaseModel):
    """One field at fault. ``code`` is the stable key to map to words (``detail`` is English for people and may
    change); the amounts a rule quotes are given beside it as integers (``minimum_cents``, ``maximum``,
    ``expected_cents``, ``remaining_cents``, ``available``...)."""

    field: str = about("The field at fault, as a path into the request (`lines[0].quantity`).", "lines[0].quantity")
    pointer: str = about("The same as a JSON pointer into the request body.", "#/lines/0/quantity")
    code: ErrorCode = about(
        "What kind of rule the field broke: a stable, machine-readable key.", ErrorCode.OVER_LIMIT.value
    )
    detail: str = about("The rule in English, for people (may change; map `code` to words).", "at most 4 per order")


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = about("What kind of problem: a stable URI per kind.", "https://boxoffice.dev/problems/sales-paused")
    title: str = about("The kind of problem in words.", "Sales paused")
    status: int = about("The HTTP status.", 409)
    detail: str = about("What went wrong this time, for people.", "ticket sales for this event are paused")
    errors: list[FieldProblem] | None = about(
        "The fields at fault (422, and 409 about a field).",
        [{"field": "event_id", "pointer": "#/event_id", "code": "sales_paused", "detail": "sales are paused"}],
        default=None,
    )
    limit: str | None = about("429 only: which limit said no.", "held-per-email", default=None)
    retry_after: int | None = about("429 only: seconds to wait (also in Retry-After).", 60, default=None)
