"""Request and response bodies of the REST API, and every rule a request body must follow, stated in the OpenAPI
schema as the server enforces it.

Requests are strict: unknown fields, fractional numbers for integers, numbers or naive values for date-times and
oversized strings are refused with 422 naming the field. JSON has one number type, so an integral number written
``3.0`` is the integer 3 (as JSON Schema's ``integer`` says); every integer field is bounded far below 2**53, where
a JSON number is exact. Each string rule is a ``pattern`` of the schema (ECMA-262 syntax, read as "the value
contains a match", every pattern here anchored), checked by the server with the same expression.

Rules no JSON Schema can state (one field against another, or against stored state) are in the descriptions; the
server answers 422 for them too (see ``schemathesis.toml``). The rules of single fields are in ``web/api/fields.py``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StrictBool,
    field_validator,
)
from pydantic.config import JsonDict, JsonValue
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from boxoffice.errors import ErrorCode
from boxoffice.web.api.fields import (
    Amount,
    Currency,
    DateTime,
    Description,
    Email,
    EventCurrency,
    HoldMinutes,
    Name,
    NoNul,
    OfferMinutes,
    PerOrder,
    Position,
    PositiveAmount,
    Quantity,
    TimeZone,
    Title,
    VoucherCode,
)


class Strict(BaseModel):
    """A request body: unknown fields refused. ``NOT_NULL`` fields may be left out but not sent as null (the schema
    says so: their type has no null)."""

    model_config = ConfigDict(extra="forbid")
    NOT_NULL: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        out = handler(schema)
        target = handler.resolve_ref_schema(out)
        for name in cls.NOT_NULL:
            field = target["properties"][name]
            branches = [b for b in field.pop("anyOf", []) if b != {"type": "null"}]
            if branches:
                field.update(branches[0])
            if field.get("default", 0) is None:
                del field["default"]
        return out


def _not_null(value: object) -> object:
    if value is None:
        raise PydanticCustomError("not_null", "may be left out but not null")
    return value


class EventCreate(Strict):
    """An event: ``ends_at`` must be after ``starts_at`` (a rule between two fields, answered with 422)."""

    title: Title
    description: Description = ""
    starts_at: DateTime
    ends_at: DateTime
    timezone: TimeZone = "UTC"
    currency: EventCurrency | None = None
    hold_minutes: HoldMinutes | None = None
    waiting_list_offer_minutes: OfferMinutes | None = None


class EventPatch(Strict):
    """The fields to change; after the change ``ends_at`` must be after ``starts_at`` (the stored value of the one
    not sent counts: a rule no schema states, answered with 422). A null is the same as leaving the field out."""

    title: Title | None = None
    description: Description | None = None
    starts_at: DateTime | None = None
    ends_at: DateTime | None = None
    timezone: TimeZone | None = None
    status: Literal["draft", "published", "canceled"] | None = None
    currency: EventCurrency | None = None
    hold_minutes: HoldMinutes | None = Field(default=None, description="Null: back to the server's hold.")
    waiting_list_offer_minutes: OfferMinutes | None = None


class EventOut(BaseModel):
    id: str
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    status: str
    currency: str | None
    hold_minutes: int | None = None
    waiting_list_offer_minutes: int = 1440
    created_at: datetime


class TierIn(Strict):
    price_cents: Amount
    up_to: Quantity | None = None
    until: DateTime | None = None


_NOT_NULL_TICKET = ("title", "quantity", "pricing_model", "currency", "tippable", "position", "hidden", "waiting_list")


def _model_is(*models: str) -> JsonDict:
    return {"required": ["pricing_model"], "properties": {"pricing_model": {"enum": list(models)}}}


_NULL: JsonDict = {"type": "null"}
# What the pricing model asks of the other fields, as far as one request shows it.
_PRICING_RULES: list[JsonValue] = [
    # the legacy price_cents is a fixed price
    {"if": _model_is("flexible", "dynamic"), "then": {"properties": {"price_cents": _NULL}}},
    # price tiers are for dynamic tickets only
    {"if": _model_is("fixed", "flexible"), "then": {"properties": {"price_tiers": _NULL}}},
]
_CREATE_RULES: list[JsonValue] = [
    *_PRICING_RULES,
    # no pricing_model is a fixed price: base_price_cents (or the legacy price_cents) is required
    {
        "if": {"anyOf": [{"not": {"required": ["pricing_model"]}}, _model_is("fixed")]},
        "then": {
            "properties": {"price_tiers": _NULL},
            "anyOf": [
                {"required": ["base_price_cents"], "properties": {"base_price_cents": {"type": "integer"}}},
                {"required": ["price_cents"], "properties": {"price_cents": {"type": "integer"}}},
            ],
        },
    },
    # a dynamic ticket has its tiers
    {
        "if": _model_is("dynamic"),
        "then": {"required": ["price_tiers"], "properties": {"price_tiers": {"type": "array"}}},
    },
]
_TICKET_RULES_TEXT = (
    "Rules between fields, answered with 422 and not in the schema: `ends_at` after `starts_at`; for `flexible`, "
    "`suggested_price_cents` >= `minimum_price_cents`; `price_cents` (legacy) equal to `base_price_cents` when both "
    "are sent; price tiers ordered (`up_to` and `until` increasing), every tier but the last with `up_to` or "
    "`until`, the last with neither."
)


class TicketFields(Strict):
    __doc__ = (
        "The fields to change. The pricing model's rules apply to the ticket type as it will be (its stored fields "
        "count), so a change the stored fields contradict is answered with 422. " + _TICKET_RULES_TEXT
    )
    model_config = ConfigDict(json_schema_extra={"allOf": _PRICING_RULES})
    NOT_NULL = _NOT_NULL_TICKET

    title: Title | None = None
    description: Annotated[str, Field(max_length=5000), NoNul] | None = None
    pricing_model: Literal["fixed", "flexible", "dynamic"] | None = None
    base_price_cents: Amount | None = None
    minimum_price_cents: Amount | None = None
    suggested_price_cents: Amount | None = None
    price_tiers: Annotated[list[TierIn], Field(min_length=1, max_length=20)] | None = None
    currency: Currency | None = None
    quantity: Quantity | None = None
    starts_at: DateTime | None = None
    ends_at: DateTime | None = None
    tippable: StrictBool | None = None
    max_per_order: PerOrder | None = None
    position: Position | None = None
    price_cents: Amount | None = Field(default=None, description="Legacy: a fixed price (same as base_price_cents).")
    hidden: StrictBool | None = Field(default=None, description="Shown and sold only with a code that unlocks it.")
    waiting_list: StrictBool | None = Field(default=None, description="Buyers may join a waiting list when sold out.")

    _not_null = field_validator(*_NOT_NULL_TICKET, mode="before")(_not_null)


class TicketCreate(TicketFields):
    __doc__ = (
        "A ticket type: `fixed` (the default) needs `base_price_cents` (or the legacy `price_cents`), `dynamic` "
        "needs `price_tiers`, and only `dynamic` has tiers. " + _TICKET_RULES_TEXT
    )
    model_config = ConfigDict(json_schema_extra={"allOf": _CREATE_RULES})

    title: Title
    quantity: Quantity


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
    hidden: bool = False
    waiting_list: bool = True
    reserved: int = Field(default=0, description="Set aside for vouchers and the waiting list.")
    undiscounted_price_cents: int | None = Field(
        default=None, description="With `?voucher=` when the code applies: the price without it (`price_cents` has it)."
    )
    voucher_applies: bool | None = Field(default=None, description="With `?voucher=`: whether the code applies.")


class LineIn(Strict):
    ticket_id: Annotated[str, Field(min_length=1, max_length=64), NoNul]
    quantity: PerOrder
    price_cents: Amount | None = Field(
        default=None, description="Flexible tickets only: the buyer's price, at least the ticket's minimum."
    )


class OrderCreate(Strict):
    """An order. Rules that depend on the tickets, answered with 422 and not in the schema: every line's ticket is
    one of this event's; `price_cents` only for a flexible ticket (or equal to a fixed ticket's price), at least its
    minimum; `tip_cents` only when a ticket is tippable; one currency; a total of zero or at least the currency's
    minimum charge and at most 99999999; no more than a ticket's `max_per_order`."""

    email: Email
    name: Name = ""
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=100)]
    tip_cents: Amount | None = None
    voucher: VoucherCode | None = Field(
        default=None,
        description="A voucher or access code of the event, any case (unknown or not applicable: 422; expired, "
        "not valid yet or used up: 409).",
    )


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
    voucher: str | None = Field(default=None, description="The code the order was priced with.")


class OrderCreated(OrderOut):
    token: str = Field(description="The order's access token: send it as 'Authorization: Bearer <token>'.")


class OrganizerOrderOut(OrderOut):
    failure_reason: str | None
    stripe_payment_intent_id: str | None
    pricing_snapshot: dict[str, Any]


class CheckoutOut(BaseModel):
    checkout_url: str


class RefundIn(Strict):
    """Without ``amount_cents``, a full refund; with it, at most what is left to refund (422 past that)."""

    amount_cents: PositiveAmount | None = None


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
    order_id: str | None = Field(description="The order the email is about (none for a waiting-list email).")
    waiting_list_entry_id: str | None = None
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
