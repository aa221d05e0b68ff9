"""Request and response bodies of the REST API. Requests are strict: unknown fields, floats for amounts, naive
datetimes and oversized strings are refused with 422 naming the field."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictInt

from boxoffice.errors import ErrorCode
from boxoffice.money import MAXIMUM_AMOUNT

Amount = Annotated[StrictInt, Field(ge=0, le=MAXIMUM_AMOUNT)]
Title = Annotated[str, Field(min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=20_000)]


EventCurrency = Annotated[
    str,
    Field(
        min_length=3,
        max_length=3,
        description="The event's one currency (ISO 4217): its ticket types are priced in it. Unset: the first "
        "ticket type's currency. Changeable only while the event has no ticket types.",
        examples=["eur"],
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventCreate(Strict):
    title: Title
    description: Description = ""
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = "UTC"
    currency: EventCurrency | None = None


class EventPatch(Strict):
    title: Title | None = None
    description: Description | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    timezone: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    status: Literal["draft", "published", "canceled"] | None = None
    currency: EventCurrency | None = None


class EventOut(BaseModel):
    id: str
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    status: str
    currency: str | None
    created_at: datetime


class TierIn(Strict):
    price_cents: Amount
    up_to: Annotated[StrictInt, Field(ge=1, le=1_000_000)] | None = None
    until: AwareDatetime | None = None


class TicketFields(Strict):
    title: Title | None = None
    description: Annotated[str, Field(max_length=5000)] | None = None
    pricing_model: Literal["fixed", "flexible", "dynamic"] | None = None
    base_price_cents: Amount | None = None
    minimum_price_cents: Amount | None = None
    suggested_price_cents: Amount | None = None
    price_tiers: Annotated[list[TierIn], Field(max_length=20)] | None = None
    currency: Annotated[str, Field(min_length=3, max_length=3)] | None = None
    quantity: Annotated[StrictInt, Field(ge=1, le=1_000_000)] | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    tippable: StrictBool | None = None
    max_per_order: Annotated[StrictInt, Field(ge=1, le=1000)] | None = None
    position: Annotated[StrictInt, Field(ge=-1000, le=1000)] | None = None
    price_cents: Amount | None = Field(default=None, description="Legacy: a fixed price (same as base_price_cents).")


class TicketCreate(TicketFields):
    title: Title
    quantity: Annotated[StrictInt, Field(ge=1, le=1_000_000)]


class TicketOut(BaseModel):
    id: str
    event_id: str
    title: str
    description: str
    pricing_model: str
    base_price_cents: int | None
    minimum_price_cents: int | None
    suggested_price_cents: int | None
    price_tiers: list[dict[str, Any]] | None
    currency: str
    price_cents: int = Field(description="What the next unit costs now (flexible: the suggested price).")
    tippable: bool
    max_per_order: int | None
    starts_at: datetime | None
    ends_at: datetime | None
    quantity: int
    sold: int
    held: int
    available: int
    sales_state: str


class LineIn(Strict):
    ticket_id: Annotated[str, Field(min_length=1, max_length=64)]
    quantity: Annotated[StrictInt, Field(ge=1, le=1000)]
    price_cents: Amount | None = None


class OrderCreate(Strict):
    email: Annotated[str, Field(min_length=3, max_length=320)]
    name: Annotated[str, Field(max_length=200)] = ""
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=100)]
    tip_cents: Amount | None = None


class LineOut(BaseModel):
    ticket_id: str
    title: str
    quantity: int
    unit_price_cents: int
    unit_prices: list[int]
    line_total_cents: int


class IssuedTicket(BaseModel):
    id: str
    ticket_id: str
    code: str
    status: str


class OrderOut(BaseModel):
    id: str
    event_id: str
    status: str
    email: str
    name: str
    currency: str
    subtotal_cents: int
    tip_cents: int
    total_cents: int
    refunded_cents: int
    lines: list[LineOut]
    tickets: list[IssuedTicket]
    expires_at: datetime
    created_at: datetime
    confirmed_at: datetime | None
    checkout_url: str | None


class OrderCreated(OrderOut):
    token: str = Field(description="The order's access token: send it as 'Authorization: Bearer <token>'.")


class OrganizerOrderOut(OrderOut):
    failure_reason: str | None
    stripe_payment_intent_id: str | None
    pricing_snapshot: dict[str, Any]


class CheckoutOut(BaseModel):
    checkout_url: str


class RefundIn(Strict):
    amount_cents: Annotated[StrictInt, Field(ge=1, le=MAXIMUM_AMOUNT)] | None = None


class RefundOut(BaseModel):
    order_id: str
    refund_id: str
    amount_cents: int
    status: str


class ParticipantOut(BaseModel):
    id: str
    email: str
    name: str
    role: str
    status: str
    source: str
    metadata: dict[str, Any]
    created_at: datetime


class EmailOut(BaseModel):
    id: str
    order_id: str
    kind: str
    to_email: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class FieldProblem(BaseModel):
    """One field at fault. ``code`` is the stable key to map to words (``detail`` is English for people and may
    change); the amounts a rule quotes are given beside it as integers (``minimum_cents``, ``maximum``,
    ``expected_cents``, ``remaining_cents``, ``available``...)."""

    field: str
    pointer: str
    code: ErrorCode = Field(description="What kind of rule the field broke: a stable, machine-readable key.")
    detail: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = None
    limit: str | None = Field(default=None, description="429 only: which limit said no")
    retry_after: int | None = Field(default=None, description="429 only: seconds to wait (also in Retry-After)")
