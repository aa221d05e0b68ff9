"""The REST API's request bodies, and every rule a request body must follow, stated in the OpenAPI schema as the
server enforces it (the response bodies are in ``web/api/replies.py``, named here too).

Requests are strict: unknown fields, fractional numbers for integers, numbers for date-times and oversized strings
are refused with 422 naming the field; a date-time has its offset, except an event's own start and end, which may be
a wall-clock time in the event's time zone. JSON has one number type, so an integral number written ``3.0`` is the
integer 3 (as JSON Schema's ``integer`` says); every integer field is bounded far below 2**53, where a JSON number
is exact. Each string rule is a ``pattern`` of the schema (ECMA-262 syntax, read as "the value contains a match",
every pattern here anchored), checked by the server with the same expression.

Rules no JSON Schema can state (one field against another, or against stored state) are in the descriptions; the
server answers 422 for them too (see ``schemathesis.toml``). The rules of single fields are in ``web/api/fields.py``,
what each field means (``about``: a description and an example for every field) in ``web/api/described.py``."""

from __future__ import annotations

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

from boxoffice.web.api.answer_fields import Answers, AttendeeIn
from boxoffice.web.api.described import (
    EVENT_DESCRIPTION,
    EVENT_ENDS,
    EVENT_STARTS,
    EVENT_STATUS,
    EVENT_TIMEZONE,
    EVENT_TITLE,
    HOLD_MINUTES,
    IMAGE_URL,
    OFFER_MINUTES,
    PRICING_MODEL,
    TICKET_TITLE,
    TIERS,
    TIERS_EXAMPLE,
    VENUE_ADDRESS,
    VENUE_NAME,
    about,
)
from boxoffice.web.api.fields import (
    EVENT_CURRENCY,
    Amount,
    Currency,
    DateTime,
    Description,
    Email,
    EventCurrency,
    EventDateTime,
    HoldMinutes,
    ImageUrl,
    Name,
    NoNul,
    OfferMinutes,
    PerOrder,
    Position,
    PositiveAmount,
    Quantity,
    TimeZone,
    Title,
    VenueAddress,
    VenueName,
    VoucherCode,
)
from boxoffice.web.api.replies import (
    CheckoutOut,
    EmailOut,
    EventOut,
    EventPage,
    EventSummary,
    FieldProblem,
    IssuedTicket,
    LineOut,
    OrderCreated,
    OrderOut,
    OrganizerOrderOut,
    ParticipantOut,
    Problem,
    RefundOut,
    TicketOut,
)

# The response bodies live in ``replies.py``; they are named here too, so that routes use one module (``s.EventOut``).
__all__ = [
    "TICKET_EXAMPLES",
    "CheckoutOut",
    "EmailOut",
    "EventCreate",
    "EventOut",
    "EventPage",
    "EventPatch",
    "EventSummary",
    "FieldProblem",
    "IssuedTicket",
    "LineIn",
    "LineOut",
    "OrderCreate",
    "OrderCreated",
    "OrderOut",
    "OrganizerOrderOut",
    "ParticipantOut",
    "Problem",
    "RefundIn",
    "RefundOut",
    "Strict",
    "TicketCreate",
    "TicketFields",
    "TicketOut",
    "TierIn",
]


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


_STATUSES = Literal["draft", "published", "sales_paused", "canceled"]
_EVENT_NOT_NULL = ("timezone", "status", "venue_name", "venue_address", "image_url")


class EventCreate(Strict):
    """An event: ``ends_at`` must be after ``starts_at``, and a wall-clock time needs ``timezone`` and must exist
    (once) there (rules between fields, answered with 422)."""

    NOT_NULL = _EVENT_NOT_NULL

    title: Title = about(EVENT_TITLE, "Jazz on the Roof")
    description: Description = about(
        EVENT_DESCRIPTION, "Live jazz on the roof terrace.\n\nDoors open at 18:30.", default=""
    )
    starts_at: EventDateTime = about(EVENT_STARTS, "2027-06-12T19:00:00+02:00")
    ends_at: EventDateTime = about(EVENT_ENDS, "2027-06-12T23:00:00+02:00")
    timezone: TimeZone | None = about(EVENT_TIMEZONE, "Europe/Berlin", default=None)
    currency: EventCurrency | None = about(EVENT_CURRENCY, "eur", default=None)
    status: _STATUSES | None = about(EVENT_STATUS, "published", default=None)
    venue_name: VenueName | None = about(VENUE_NAME, "Rooftop Hall", default=None)
    venue_address: VenueAddress | None = about(VENUE_ADDRESS, "Alexanderplatz 1\n10178 Berlin", default=None)
    image_url: ImageUrl | None = about(
        IMAGE_URL + " Empty: none.", "https://images.example.com/jazz-on-the-roof.jpg", default=None
    )
    hold_minutes: HoldMinutes | None = about(HOLD_MINUTES, 10, default=None)
    waiting_list_offer_minutes: OfferMinutes | None = about(OFFER_MINUTES, 1440, default=None)

    _not_null = field_validator(*_EVENT_NOT_NULL, mode="before")(_not_null)


class EventPatch(Strict):
    """The fields to change; after the change ``ends_at`` must be after ``starts_at`` (the stored value of the one
    not sent counts: a rule no schema states, answered with 422). A null is the same as leaving the field out."""

    title: Title | None = about(EVENT_TITLE, "Jazz on the Roof (second night)", default=None)
    description: Description | None = about(EVENT_DESCRIPTION, "Second night: same band, new songs.", default=None)
    starts_at: EventDateTime | None = about(EVENT_STARTS, "2027-06-13T19:00:00", default=None)
    ends_at: EventDateTime | None = about(EVENT_ENDS, "2027-06-13T23:00:00", default=None)
    timezone: TimeZone | None = about(EVENT_TIMEZONE, "Europe/Berlin", default=None)
    status: _STATUSES | None = about(EVENT_STATUS, "sales_paused", default=None)
    currency: EventCurrency | None = about(EVENT_CURRENCY, "eur", default=None)
    venue_name: VenueName | None = about(VENUE_NAME, "Rooftop Hall", default=None)
    venue_address: VenueAddress | None = about(VENUE_ADDRESS, "Alexanderplatz 1\n10178 Berlin", default=None)
    image_url: ImageUrl | None = about(
        IMAGE_URL + " An empty string removes it.", "https://images.example.com/jazz-second-night.jpg", default=None
    )
    hold_minutes: HoldMinutes | None = about(HOLD_MINUTES + " Null: back to the server's hold.", 15, default=None)
    waiting_list_offer_minutes: OfferMinutes | None = about(OFFER_MINUTES, 720, default=None)


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
        "value": {"title": "Early bird", "quantity": 300, "pricing_model": "dynamic", "price_tiers": TIERS_EXAMPLE},
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

    title: Title | None = about(TICKET_TITLE, "General admission", default=None)
    description: Annotated[str, Field(max_length=5000), NoNul] | None = about(
        "What buyers read about this ticket type.", "Entry for one person, standing.", default=None
    )
    pricing_model: Literal["fixed", "flexible", "dynamic"] | None = about(PRICING_MODEL, "fixed", default=None)
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
        TIERS, TIERS_EXAMPLE, default=None
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
    hidden: StrictBool | None = about(
        "Shown and sold only with a voucher that unlocks it (default false).", False, default=None
    )
    waiting_list: StrictBool | None = about(
        "Whether buyers may join a waiting list when it is sold out (default true).", True, default=None
    )

    _not_null = field_validator(*_NOT_NULL_TICKET, mode="before")(_not_null)


class TicketCreate(TicketFields):
    __doc__ = (
        "A ticket type: `fixed` (the default) needs `base_price_cents` (or the legacy `price_cents`), `dynamic` "
        "needs `price_tiers`, and only `dynamic` has tiers. " + _TICKET_RULES_TEXT
    )
    model_config = ConfigDict(
        json_schema_extra={"allOf": _CREATE_RULES, "examples": [e["value"] for e in TICKET_EXAMPLES.values()]}
    )

    title: Title = about(TICKET_TITLE, "General admission")
    quantity: Quantity = about("How many tickets of this type can be sold in all.", 200)


class LineIn(Strict):
    ticket_id: Annotated[str, Field(min_length=1, max_length=64), NoNul] = about(
        "The ticket type to buy (one of this event's).", "tt_41c7e2f09a6b3d58e210"
    )
    quantity: PerOrder = about("How many tickets of it.", 2)
    price_cents: Amount | None = about(
        "Flexible tickets only: the buyer's price per ticket, at least the ticket's minimum.", 2000, default=None
    )
    attendees: Annotated[list[AttendeeIn], Field(max_length=1000)] | None = about(
        "At most one per ticket, in the line's order: who each ticket is for, with the per-ticket answers.",
        [{"name": "Grace Hopper", "email": "grace@example.com", "answers": {"q_5f0c2a9e7b31d4c86a0f": "vegan"}}],
        default=None,
    )


class OrderCreate(Strict):
    """An order. Rules that depend on the tickets, answered with 422 and not in the schema: every line's ticket is
    one of this event's; `price_cents` only for a flexible ticket (or equal to a fixed ticket's price), at least its
    minimum; `tip_cents` only when a ticket is tippable; one currency; a total of zero or at least the currency's
    minimum charge and at most 99999999; no more than a ticket's `max_per_order`; attendees and answers as the
    event asks them (GET /api/v1/events/{event_id}/questions: at most one attendee per ticket, names and emails as
    `attendee_details` says, each answer of its question's kind, required ones given). The event must be on sale: a
    draft answers 404, paused sales 409 `sales-paused`, a canceled event 409 `sales-closed`."""

    email: Email = about("The buyer's email address: the tickets are sent there.", "ada@example.com")
    name: Name = about("The buyer's name (optional).", "Ada Lovelace", default="")
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=100)] = about(
        "What to buy: one line per ticket type.", [{"ticket_id": "tt_41c7e2f09a6b3d58e210", "quantity": 2}]
    )
    tip_cents: Amount | None = about(
        "A tip for the organizer, added once to the order (only with a tippable ticket).", 300, default=None
    )
    answers: Answers | None = about(
        "Answers to the event's per-order questions, by question id.", {"q_5f0c2a9e7b31d4c86a0f": "yes"}, default=None
    )
    voucher: VoucherCode | None = about(
        "A voucher or access code of the event, any case (unknown or not applicable: 422; expired, not valid yet or "
        "used up: 409).",
        "SPONSOR-2027",
        default=None,
    )


class RefundIn(Strict):
    """Without ``amount_cents``, a full refund; with it, at most what is left to refund (422 past that)."""

    amount_cents: PositiveAmount | None = about(
        "How much to refund (minor units); leave out for all that is left.", 1500, default=None
    )
