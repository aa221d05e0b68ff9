"""Request and response bodies of the REST API, and every rule a request body must follow, stated in the OpenAPI
schema as the server enforces it.

Requests are strict: unknown fields, fractional numbers for integers, numbers or naive values for date-times and
oversized strings are refused with 422 naming the field. JSON has one number type, so an integral number written
``3.0`` is the integer 3 (as JSON Schema's ``integer`` says); every integer field is bounded far below 2**53, where
a JSON number is exact. Each string rule is a ``pattern`` of the schema (ECMA-262 syntax, read as "the value
contains a match", every pattern here anchored), checked by the server with the same expression.

Rules no JSON Schema can state (one field against another, or against stored state) are in the descriptions; the
server answers 422 for them too (see ``schemathesis.toml``). The rules of single fields are in ``web/api/fields.py``.

Every field of every body has a description and an example (``about``): the OpenAPI document is the API's manual,
which is why this module is longer than most (tests/web/api/test_openapi_docs.py holds it to that)."""

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
    EVENT_CURRENCY,
    Amount,
    Currency,
    DateTime,
    Description,
    Email,
    EventCurrency,
    EventDateTime,
    ImageUrl,
    Name,
    NoNul,
    PerOrder,
    Position,
    PositiveAmount,
    Quantity,
    TimeZone,
    Title,
    VenueAddress,
    VenueName,
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


def about(description: str, example: object, **field: Any) -> Any:
    """A field's description and example, as the OpenAPI document shows them (every field has both)."""
    return Field(description=description, examples=[example], **field)


# What the event fields mean, for the event's request and response bodies alike.
_TITLE = "The event's name, as buyers see it."
_DESCRIPTION = "What buyers read about the event; a blank line starts a new paragraph on its page."
_WHEN = (
    "An RFC 3339 date-time with its offset (`2027-06-12T19:00:00+02:00`, `2027-06-12T17:00:00Z`), or a wall-clock "
    "time without one (`2027-06-12T19:00:00`), read in the event's `timezone`: the one this request gives, else "
    "(on a change) the stored one; a new event given a wall-clock time needs `timezone` in the same request. A "
    "wall-clock time the clocks skip there (daylight saving time starts) or that happens twice (it ends) is refused "
    "with 422 (`nonexistent_time`, `ambiguous_time`). Stored and answered in UTC."
)
_STARTS = "When the event starts. " + _WHEN
_ENDS = "When the event ends, after `starts_at` (a rule between two fields, answered with 422). " + _WHEN
_TIMEZONE = (
    "The event's IANA time zone: its page, emails and calendar file show its times in it, and wall-clock "
    "`starts_at`/`ends_at` are read in it. A new event without one is in UTC. Changing it keeps the stored instants."
)
_STATUS = (
    "`draft`: only its organizer sees it (to buyers, its page and public endpoints answer 404 as for an unknown "
    "id); `published`: on sale; `sales_paused`: its page and tickets are visible but nothing can be reserved (409 "
    "`sales-paused`, words on the page) until it is published again; `canceled`: its page says so and nothing is "
    "sold. A new event without a status is `published`."
)
_VENUE_NAME = (
    "Where the event takes place: the venue's name (one line). Shown on the event and order pages, in the "
    "confirmation email and as `LOCATION` in its calendar file. Empty: not said."
)
_VENUE_ADDRESS = "The venue's address as buyers should read it; line breaks are kept. Empty: not said."
_IMAGE_URL = "An https URL of an image shown at the top of the event's page (buyers' browsers load it from there)."
_STATUSES = Literal["draft", "published", "sales_paused", "canceled"]
_EVENT_NOT_NULL = ("timezone", "status", "venue_name", "venue_address", "image_url")


class EventCreate(Strict):
    """An event: ``ends_at`` must be after ``starts_at``, and a wall-clock time needs ``timezone`` and must exist
    (once) there (rules between fields, answered with 422)."""

    NOT_NULL = _EVENT_NOT_NULL

    title: Title = about(_TITLE, "Jazz on the Roof")
    description: Description = about(_DESCRIPTION, "Live jazz on the roof terrace.\n\nDoors open at 18:30.", default="")
    starts_at: EventDateTime = about(_STARTS, "2027-06-12T19:00:00+02:00")
    ends_at: EventDateTime = about(_ENDS, "2027-06-12T23:00:00+02:00")
    timezone: TimeZone | None = about(_TIMEZONE, "Europe/Berlin", default=None)
    currency: EventCurrency | None = about(EVENT_CURRENCY, "eur", default=None)
    status: _STATUSES | None = about(_STATUS, "published", default=None)
    venue_name: VenueName | None = about(_VENUE_NAME, "Rooftop Hall", default=None)
    venue_address: VenueAddress | None = about(_VENUE_ADDRESS, "Alexanderplatz 1\n10178 Berlin", default=None)
    image_url: ImageUrl | None = about(
        _IMAGE_URL + " Empty: none.", "https://images.example.com/jazz-on-the-roof.jpg", default=None
    )

    _not_null = field_validator(*_EVENT_NOT_NULL, mode="before")(_not_null)


class EventPatch(Strict):
    """The fields to change; after the change ``ends_at`` must be after ``starts_at`` (the stored value of the one
    not sent counts: a rule no schema states, answered with 422). A null is the same as leaving the field out."""

    title: Title | None = about(_TITLE, "Jazz on the Roof (second night)", default=None)
    description: Description | None = about(_DESCRIPTION, "Second night: same band, new songs.", default=None)
    starts_at: EventDateTime | None = about(_STARTS, "2027-06-13T19:00:00", default=None)
    ends_at: EventDateTime | None = about(_ENDS, "2027-06-13T23:00:00", default=None)
    timezone: TimeZone | None = about(_TIMEZONE, "Europe/Berlin", default=None)
    status: _STATUSES | None = about(_STATUS, "sales_paused", default=None)
    currency: EventCurrency | None = about(EVENT_CURRENCY, "eur", default=None)
    venue_name: VenueName | None = about(_VENUE_NAME, "Rooftop Hall", default=None)
    venue_address: VenueAddress | None = about(_VENUE_ADDRESS, "Alexanderplatz 1\n10178 Berlin", default=None)
    image_url: ImageUrl | None = about(
        _IMAGE_URL + " An empty string removes it.", "https://images.example.com/jazz-second-night.jpg", default=None
    )


class EventOut(BaseModel):
    id: str = about("The event's id: its page is `/e/{id}`.", "ev_b9aea6add483ac60e4eb")
    title: str = about(_TITLE, "Jazz on the Roof")
    description: str = about(_DESCRIPTION, "Live jazz on the roof terrace.\n\nDoors open at 18:30.")
    starts_at: datetime = about(
        "When the event starts, in UTC (`timezone` says how to show it).", "2027-06-12T17:00:00Z"
    )
    ends_at: datetime = about("When the event ends, in UTC.", "2027-06-12T21:00:00Z")
    timezone: str = about(_TIMEZONE, "Europe/Berlin")
    status: str = about(_STATUS, "published")
    currency: str | None = about(
        "The event's one currency (lowercase ISO 4217); null until it is set or its first ticket type sets it.", "eur"
    )
    venue_name: str = about(_VENUE_NAME, "Rooftop Hall")
    venue_address: str = about(_VENUE_ADDRESS, "Alexanderplatz 1\n10178 Berlin")
    image_url: str | None = about(_IMAGE_URL + " Null: none.", "https://images.example.com/jazz-on-the-roof.jpg")
    created_at: datetime = about("When the event was created, in UTC.", "2027-01-15T10:30:00Z")


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


class TierIn(Strict):
    """One step of a dynamic price: its price holds until `up_to` tickets are sold in all or until `until`, whichever
    comes first; the last tier has neither and holds to the end."""

    price_cents: Amount = about("The price of each ticket sold in this tier (minor units of the currency).", 1500)
    up_to: Quantity | None = about(
        "The tier holds while at most this many tickets are sold or held in all (the tier's last ticket number).",
        50,
        default=None,
    )
    until: DateTime | None = about(
        "The tier holds until this moment (RFC 3339 with an offset).", "2027-05-01T00:00:00Z", default=None
    )


_NOT_NULL_TICKET = ("title", "quantity", "pricing_model", "currency", "tippable", "position")


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


_TICKET_TITLE = "The ticket type's name, as buyers see it."
_PRICING_MODEL = (
    "How the price is set. `fixed`: one price, `base_price_cents`. `flexible` (pay what you want): the buyer "
    "chooses, at least `minimum_price_cents`, with `suggested_price_cents` filled in for them. `dynamic`: the price "
    "climbs in `price_tiers` as tickets sell or dates pass."
)
_TIERS = (
    "`dynamic` only: the price steps, in order. Each holds until its `up_to` (tickets sold or held in all) or its "
    "`until` (a moment), whichever comes first; the last has neither."
)
_TIERS_EXAMPLE = [
    {"price_cents": 1500, "up_to": 50},
    {"price_cents": 2000, "up_to": 150, "until": "2027-05-01T00:00:00Z"},
    {"price_cents": 2500},
]
# What the three pricing models look like, as whole request bodies (the OpenAPI document shows them as examples).
TICKET_EXAMPLES: dict[str, dict[str, Any]] = {
    "fixed": {
        "summary": "Fixed price",
        "description": "One price for every ticket.",
        "value": {"title": "General admission", "quantity": 200, "pricing_model": "fixed", "base_price_cents": 2500},
    },
    "flexible": {
        "summary": "Pay what you want",
        "description": "The buyer chooses a price of at least the minimum; the suggested one is filled in.",
        "value": {
            "title": "Supporter",
            "quantity": 50,
            "pricing_model": "flexible",
            "minimum_price_cents": 500,
            "suggested_price_cents": 2000,
            "tippable": True,
        },
    },
    "dynamic": {
        "summary": "Price tiers",
        "description": "15.00 for the first 50 tickets, then 20.00 up to the 150th or until 1 May, then 25.00.",
        "value": {"title": "Early bird", "quantity": 300, "pricing_model": "dynamic", "price_tiers": _TIERS_EXAMPLE},
    },
}


class TicketFields(Strict):
    __doc__ = (
        "The fields to change. The pricing model's rules apply to the ticket type as it will be (its stored fields "
        "count), so a change the stored fields contradict is answered with 422. " + _TICKET_RULES_TEXT
    )
    model_config = ConfigDict(
        json_schema_extra={"allOf": _PRICING_RULES, "examples": [{"quantity": 250}, {"base_price_cents": 3000}]}
    )
    NOT_NULL = _NOT_NULL_TICKET

    title: Title | None = about(_TICKET_TITLE, "General admission", default=None)
    description: Annotated[str, Field(max_length=5000), NoNul] | None = about(
        "What buyers read about this ticket type.", "Entry for one person, standing.", default=None
    )
    pricing_model: Literal["fixed", "flexible", "dynamic"] | None = about(_PRICING_MODEL, "fixed", default=None)
    base_price_cents: Amount | None = about(
        "`fixed` only: the price of one ticket (minor units of `currency`; 0 is free).", 2500, default=None
    )
    minimum_price_cents: Amount | None = about(
        "`flexible` only: the least a buyer may pay for one ticket (default 0).", 500, default=None
    )
    suggested_price_cents: Amount | None = about(
        "`flexible` only: the price filled in for the buyer, at least the minimum.", 2000, default=None
    )
    price_tiers: Annotated[list[TierIn], Field(min_length=1, max_length=20)] | None = about(
        _TIERS, _TIERS_EXAMPLE, default=None
    )
    currency: Currency | None = about(
        "The ticket's currency, the event's one (ISO 4217, lower or upper case; default the event's, else usd).",
        "eur",
        default=None,
    )
    quantity: Quantity | None = about("How many tickets of this type can be sold in all.", 200, default=None)
    starts_at: DateTime | None = about(
        "When its sales start (RFC 3339 with an offset); default: at once.", "2027-03-01T09:00:00Z", default=None
    )
    ends_at: DateTime | None = about(
        "When its sales end (RFC 3339 with an offset); default: when the event ends.",
        "2027-06-12T17:00:00Z",
        default=None,
    )
    tippable: StrictBool | None = about(
        "Whether buyers may add a tip to an order with this ticket (default false).", False, default=None
    )
    max_per_order: PerOrder | None = about(
        "At most this many of this ticket in one order (default: the server's cap per line).", 10, default=None
    )
    position: Position | None = about(
        "Where it is listed on the event's page (lower first; default 0).", 0, default=None
    )
    price_cents: Amount | None = about("Legacy: a fixed price (the same as `base_price_cents`).", 2500, default=None)

    _not_null = field_validator(*_NOT_NULL_TICKET, mode="before")(_not_null)


class TicketCreate(TicketFields):
    __doc__ = (
        "A ticket type: `fixed` (the default) needs `base_price_cents` (or the legacy `price_cents`), `dynamic` "
        "needs `price_tiers`, and only `dynamic` has tiers. " + _TICKET_RULES_TEXT
    )
    model_config = ConfigDict(
        json_schema_extra={"allOf": _CREATE_RULES, "examples": [e["value"] for e in TICKET_EXAMPLES.values()]}
    )

    title: Title = about(_TICKET_TITLE, "General admission")
    quantity: Quantity = about("How many tickets of this type can be sold in all.", 200)


class TicketOut(BaseModel):
    id: str = about("The ticket type's id (`ticket_id` in an order's lines).", "tt_41c7e2f09a6b3d58e210")
    event_id: str = about("The event it belongs to.", "ev_b9aea6add483ac60e4eb")
    title: str = about(_TICKET_TITLE, "General admission")
    description: str = about("What buyers read about this ticket type.", "Entry for one person, standing.")
    pricing_model: str = about(_PRICING_MODEL, "flexible")
    base_price_cents: int | None = about("`fixed`: the price of one ticket; null otherwise.", None)
    minimum_price_cents: int | None = about("`flexible`: the least a buyer may pay; null otherwise.", 500)
    suggested_price_cents: int | None = about("`flexible`: the price filled in for the buyer, or null.", 2000)
    price_tiers: list[dict[str, Any]] | None = about(_TIERS + " Null unless `dynamic`; `until` in UTC.", _TIERS_EXAMPLE)
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


class LineIn(Strict):
    ticket_id: Annotated[str, Field(min_length=1, max_length=64), NoNul] = about(
        "The ticket type to buy (one of this event's).", "tt_41c7e2f09a6b3d58e210"
    )
    quantity: PerOrder = about("How many tickets of it.", 2)
    price_cents: Amount | None = about(
        "Flexible tickets only: the buyer's price per ticket, at least the ticket's minimum.", 2000, default=None
    )


class OrderCreate(Strict):
    """An order. Rules that depend on the tickets, answered with 422 and not in the schema: every line's ticket is
    one of this event's; `price_cents` only for a flexible ticket (or equal to a fixed ticket's price), at least its
    minimum; `tip_cents` only when a ticket is tippable; one currency; a total of zero or at least the currency's
    minimum charge and at most 99999999; no more than a ticket's `max_per_order`. The event must be on sale: a draft
    answers 404, paused sales 409 `sales-paused`, a canceled event 409 `sales-closed`."""

    email: Email = about("The buyer's email address: the tickets are sent there.", "ada@example.com")
    name: Name = about("The buyer's name (optional).", "Ada Lovelace", default="")
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=100)] = about(
        "What to buy: one line per ticket type.", [{"ticket_id": "tt_41c7e2f09a6b3d58e210", "quantity": 2}]
    )
    tip_cents: Amount | None = about(
        "A tip for the organizer, added once to the order (only with a tippable ticket).", 300, default=None
    )


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


class RefundIn(Strict):
    """Without ``amount_cents``, a full refund; with it, at most what is left to refund (422 past that)."""

    amount_cents: PositiveAmount | None = about(
        "How much to refund (minor units); leave out for all that is left.", 1500, default=None
    )


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
    order_id: str = about("The order it is about.", "ord_5f0c2a9e7b31d4c86a0f")
    kind: str = about("`confirmation`, `refund` or `payment_failed`.", "confirmation")
    to_email: str = about("Who it is sent to.", "ada@example.com")
    status: str = about("`pending`, `sent` or `failed` (its last try failed).", "sent")
    attempts: int = about("How many times it was tried.", 1)
    last_error: str | None = about("What the last failed try said, or null.", None)
    created_at: datetime = about("When it was queued (UTC).", "2027-03-01T10:02:30Z")
    sent_at: datetime | None = about("When it was sent (UTC), or null.", "2027-03-01T10:02:31Z")


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
