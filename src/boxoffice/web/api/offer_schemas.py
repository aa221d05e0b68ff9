"""Request and response bodies of the voucher and waiting-list API (``web/api/offers.py``), with the rules a request
must follow stated in the OpenAPI schema as the server enforces them (the conventions of ``web/api/schemas.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, field_validator, model_validator
from pydantic_core import PydanticCustomError

from boxoffice.ticketing import voucher_uses
from boxoffice.ticketing import vouchers as rules
from boxoffice.web.api.described import about
from boxoffice.web.api.fields import Amount, DateTime, Email, Matches, Name, NoNul, PerOrder, PositiveAmount, Quantity
from boxoffice.web.api.fields import _integral as integral
from boxoffice.web.api.schemas import Strict, TicketOut, _not_null

Code = Annotated[
    str,
    Field(min_length=3, max_length=64),
    Matches(rules.CODE_PATTERN, "must be 3 to 64 letters, digits, '-' or '_', starting with a letter or digit"),
    Field(description="Unique in the event whatever its case (buyers may type it in any case)."),
]
Prefix = Annotated[str, Field(max_length=20), Matches(rules.PREFIX_PATTERN, "must be letters, digits, '-' or '_'")]
Percent = Annotated[StrictInt, Field(ge=1, le=100), BeforeValidator(integral)]
Count = Annotated[StrictInt, Field(ge=1, le=rules.MAX_GENERATED), BeforeValidator(integral)]
Reserve = Annotated[StrictInt, Field(ge=0, le=rules.MAX_RESERVE), BeforeValidator(integral)]
TicketId = Annotated[str, Field(min_length=1, max_length=64), NoNul]
TicketIds = Annotated[list[TicketId], Field(max_length=100)]
Note = Annotated[str, Field(max_length=500), NoNul]


# What the fields mean, in the request and response bodies alike.
_EXAMPLE_IDS = {
    "voucher": "vch_3f9a0c2b7d1e4a5b6c7d",
    "event": "ev_b9aea6add483ac60e4eb",
    "ticket": "tt_41c7e2f09a6b3d58e210",
    "crew": "tt_8e2d4c6a0b1f3e5d7c9a",
    "batch": "vb_0d9c8b7a6f5e4d3c2b1a",
    "entry": "wle_6a5b4c3d2e1f0a9b8c7d",
}
_CODE = "The code buyers type (any case), unique in the event whatever its case."
_DISCOUNT = (
    "What the code takes off: exactly one of `percent` (off each ticket), `amount_cents` (off each ticket) and "
    "`price_cents` (a fixed price per ticket). Null: no discount (an access code that only unlocks)."
)
_TICKET_IDS = (
    "The ticket types it applies to besides those it unlocks; null: every one that is not hidden (none when it "
    "unlocks some)."
)
_UNLOCKS = "Hidden ticket types it makes visible and buyable (an access code); empty: none."
_MAX_USES = "Tickets it can be used for, counted across orders (pending and paid); null: no limit."
_MAX_PER_ORDER = "Tickets one order can take with it; null: no limit."
_VALID_FROM = "It works from then on (inclusive), RFC 3339 with an offset; null: at once."
_VALID_UNTIL = "It works until then (exclusive), RFC 3339 with an offset; null: no end."
_RESERVE = (
    "Tickets set aside for the code's holders, out of public availability (one ticket type: exactly one in "
    "`ticket_ids` and `unlocks` together); 0: none."
)
_NOTE = "A note for the organizer's team; buyers never see it (at most 500 characters)."
_STATUS = (
    "`waiting` (in line), `offered` (holds an offer), `converted` (bought with it), `left` (left the list), "
    "`expired` (its offer lapsed unused and passed on)."
)
_POSITION = "1: the next to get an offer; null once it no longer waits."
_QUANTITY = "The tickets the entry waits for (an offer holds that many)."


class DiscountIn(Strict):
    """Exactly one of: ``percent`` off each ticket, ``amount_cents`` off each ticket, or a fixed ``price_cents`` per
    ticket (``{"price_cents": 0}``: free). A ticket never costs less than zero nor more than without the voucher; a
    pay-what-you-want ticket's minimum holds unless the voucher sets the price."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})
    NOT_NULL = ("percent", "amount_cents", "price_cents")

    percent: Percent | None = about(
        "Percent off each ticket's price, rounded down to the minor unit.", 20, default=None
    )
    amount_cents: PositiveAmount | None = about(
        "An amount off each ticket (minor units of the event's currency), down to zero at most.", 500, default=None
    )
    price_cents: Amount | None = about(
        "Each ticket's price with the code (minor units; 0: free), never above its own price.", 0, default=None
    )

    _not_null = field_validator(*NOT_NULL, mode="before")(_not_null)

    @model_validator(mode="after")
    def _exactly_one(self) -> DiscountIn:
        if len(self.model_fields_set) != 1:
            raise PydanticCustomError("discount_one", "give exactly one of percent, amount_cents and price_cents")
        return self


_VOUCHER_RULES = (
    "Rules between fields or against stored state, answered with 422 and not in the schema: `valid_until` after "
    "`valid_from`; `reserve` at most `max_uses`, and with a reservation exactly one ticket type in `ticket_ids` and "
    "`unlocks` together; every ticket type one of the event's; a code not already used in the event (any case). "
    "Setting tickets aside needs that many the public could buy (409 otherwise)."
)


class VoucherFields(Strict):
    __doc__ = "The fields to change (null: no discount, every ticket type, no limit, no date). " + _VOUCHER_RULES
    NOT_NULL: ClassVar[tuple[str, ...]] = ("code", "unlocks", "reserve", "note")

    code: Code | None = about(_CODE, "MEMBERS20", default=None)
    discount: DiscountIn | None = about(_DISCOUNT, {"percent": 20}, default=None)
    ticket_ids: TicketIds | None = about(_TICKET_IDS, [_EXAMPLE_IDS["ticket"]], default=None)
    unlocks: TicketIds | None = about(_UNLOCKS, [_EXAMPLE_IDS["crew"]], default=None)
    max_uses: Quantity | None = about(_MAX_USES, 100, default=None)
    max_per_order: PerOrder | None = about(_MAX_PER_ORDER, 4, default=None)
    valid_from: DateTime | None = about(_VALID_FROM, "2027-05-01T00:00:00Z", default=None)
    valid_until: DateTime | None = about(_VALID_UNTIL, "2027-06-12T17:00:00Z", default=None)
    reserve: Reserve | None = about(_RESERVE, 0, default=None)
    note: Annotated[str, Field(max_length=500), NoNul] | None = about(
        _NOTE, "For the members' newsletter", default=None
    )

    _not_null = field_validator(*NOT_NULL, mode="before")(_not_null)


class VoucherCreate(VoucherFields):
    __doc__ = (
        "A voucher: its `code`, or `count` codes generated with a `prefix` (the same terms each; exported with GET "
        "`.../vouchers.csv?batch_id=`). " + _VOUCHER_RULES
    )
    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["code"]}, {"required": ["count"]}]})
    NOT_NULL = (*VoucherFields.NOT_NULL, "count", "prefix")

    count: Count | None = about(
        f"Instead of `code`: generate this many random codes (1 to {rules.MAX_GENERATED}), each with these terms.",
        50,
        default=None,
    )
    prefix: Prefix | None = about(
        "With `count`: the generated codes start with it (up to 20 letters, digits, '-' or '_').", "VIP-", default=None
    )

    _not_null_create = field_validator("count", "prefix", mode="before")(_not_null)

    @model_validator(mode="after")
    def _code_or_count(self) -> VoucherCreate:
        if ("code" in self.model_fields_set) == ("count" in self.model_fields_set):
            raise PydanticCustomError("code_or_count", "give either code or count (to generate codes)")
        if "prefix" in self.model_fields_set and "count" not in self.model_fields_set:
            raise PydanticCustomError("code_or_count", "prefix goes with count")
        return self


# Whole request bodies, as the OpenAPI document shows them.
VOUCHER_EXAMPLES: dict[str, Any] = {
    "discount": {
        "summary": "20 % off for members",
        "description": "One code, 20 % off every visible ticket type, for up to 100 tickets.",
        "value": {"code": "MEMBERS20", "discount": {"percent": 20}, "max_uses": 100},
    },
    "generated": {
        "summary": "50 generated single-use codes",
        "description": "Fifty random codes starting with VIP-, each free for one ticket; GET the `csv_url` answered.",
        "value": {"count": 50, "prefix": "VIP-", "discount": {"price_cents": 0}, "max_uses": 1},
    },
    "access": {
        "summary": "An access code for a hidden ticket type",
        "description": "CREW unlocks the hidden Crew ticket type, free, with 10 tickets set aside for its holders.",
        "value": {
            "code": "CREW",
            "unlocks": [_EXAMPLE_IDS["crew"]],
            "discount": {"price_cents": 0},
            "max_uses": 10,
            "reserve": 10,
        },
    },
}


class VoucherOut(BaseModel):
    id: str = about("The voucher's id.", _EXAMPLE_IDS["voucher"])
    event_id: str = about("The event it belongs to.", _EXAMPLE_IDS["event"])
    kind: str = about("`voucher`, or `waitlist` for a waiting-list offer's code.", "voucher")
    code: str = about(_CODE, "MEMBERS20")
    batch_id: str | None = about("The batch of codes generated together (`count`); null: a code given.", None)
    discount: dict[str, int] | None = about(_DISCOUNT, {"percent": 20})
    ticket_ids: list[str] | None = about(_TICKET_IDS, None)
    unlocks: list[str] = about(_UNLOCKS, [])
    max_uses: int | None = about(_MAX_USES, 100)
    uses: int = about("Tickets taken with it, in pending and paid orders.", 12)
    remaining: int | None = about("Uses left (null: no limit).", 88)
    max_per_order: int | None = about(_MAX_PER_ORDER, None)
    valid_from: datetime | None = about(_VALID_FROM, None)
    valid_until: datetime | None = about(_VALID_UNTIL, "2027-06-12T17:00:00Z")
    reserve: int = about(_RESERVE, 0)
    reserved_left: int = about("Tickets still set aside for the code's holders.", 0)
    reserved_ticket_id: str | None = about("The ticket type its reservation sets aside (null: none).", None)
    note: str = about(_NOTE, "For the members' newsletter")
    created_at: datetime = about("When it was created (UTC).", "2027-03-01T10:00:00Z")
    updated_at: datetime = about("When it was last changed (UTC).", "2027-03-02T08:30:00Z")


_VOUCHER_EXAMPLE: dict[str, Any] = {
    "id": _EXAMPLE_IDS["voucher"],
    "event_id": _EXAMPLE_IDS["event"],
    "kind": "voucher",
    "code": "MEMBERS20",
    "batch_id": None,
    "discount": {"percent": 20},
    "ticket_ids": None,
    "unlocks": [],
    "max_uses": 100,
    "uses": 0,
    "remaining": 100,
    "max_per_order": None,
    "valid_from": None,
    "valid_until": None,
    "reserve": 0,
    "reserved_left": 0,
    "reserved_ticket_id": None,
    "note": "",
    "created_at": "2027-03-01T10:00:00Z",
    "updated_at": "2027-03-01T10:00:00Z",
}


class VouchersCreated(BaseModel):
    vouchers: list[VoucherOut] = about("The vouchers created: one, or `count` of them.", [_VOUCHER_EXAMPLE])
    batch_id: str | None = about("Codes generated together (`count`); null for one code given.", None)
    csv_url: str | None = about(
        "The generated codes as CSV (GET with the API key), as "
        f"`/api/v1/events/{_EXAMPLE_IDS['event']}/vouchers.csv?batch_id={_EXAMPLE_IDS['batch']}`; null for one "
        "code given.",
        None,
    )


class WaitingListJoin(Strict):
    """Join a sold-out ticket type's waiting list (409 while it is on sale, or when its list is off)."""

    email: Email = about("Where the confirmation and the offer are sent.", "ada@example.com")
    name: Name = about("The person's name, as the organizer sees it (may be empty).", "Ada Lovelace", default="")
    ticket_id: TicketId = about("The sold-out ticket type to wait for.", _EXAMPLE_IDS["ticket"])
    quantity: PerOrder = about(_QUANTITY + " At most the ticket type's `max_per_order` (default 1).", 2, default=1)


class WaitingEntryOut(BaseModel):
    id: str = about("The entry's id (in the link to leave the list).", _EXAMPLE_IDS["entry"])
    event_id: str = about("The event.", _EXAMPLE_IDS["event"])
    ticket_id: str = about("The ticket type it waits for.", _EXAMPLE_IDS["ticket"])
    quantity: int = about(_QUANTITY, 2)
    status: str = about(_STATUS, "waiting")
    position: int | None = about(_POSITION, 3)
    created_at: datetime = about("When the person joined (UTC); the list's order.", "2027-05-20T14:02:11Z")


class OrganizerWaitingEntryOut(WaitingEntryOut):
    email: str = about("The person's email address.", "ada@example.com")
    name: str = about("The person's name (may be empty).", "Ada Lovelace")
    offer_code: str | None = about("Its current or last offer's single-use code; null: never offered.", None)
    offered_at: datetime | None = about("When its current or last offer was sent (UTC); null: never.", None)
    offer_expires_at: datetime | None = about("When that offer ends unused (UTC); null: never offered.", None)
    order_id: str | None = about("The order that bought the offer's tickets (`converted`); null: none.", None)
    left_at: datetime | None = about("When the person left the list (UTC); null: did not.", None)


def voucher_out(v: Any) -> VoucherOut:
    return VoucherOut(
        id=v.id,
        event_id=v.event_id,
        kind=v.kind,
        code=v.code,
        batch_id=v.batch_id,
        discount=v.discount,
        ticket_ids=v.ticket_type_ids,
        unlocks=list(v.unlocks or []),
        max_uses=v.max_uses,
        uses=v.uses_taken,
        remaining=None if v.max_uses is None else max(v.max_uses - v.uses_taken, 0),
        max_per_order=v.max_per_order,
        valid_from=v.valid_from,
        valid_until=v.valid_until,
        reserve=v.reserve,
        reserved_left=v.reserved_left,
        reserved_ticket_id=v.reserved_ticket_type_id,
        note=v.note,
        created_at=v.created_at,
        updated_at=v.updated_at,
    )


def entry_out(view: Any) -> WaitingEntryOut:
    e = view.entry
    return WaitingEntryOut(
        id=e.id,
        event_id=e.event_id,
        ticket_id=e.ticket_type_id,
        quantity=e.quantity,
        status=e.status,
        position=view.position,
        created_at=e.created_at,
    )


def organizer_entry_out(view: Any) -> OrganizerWaitingEntryOut:
    e = view.entry
    return OrganizerWaitingEntryOut(
        **entry_out(view).model_dump(),
        email=e.email,
        name=e.name,
        offer_code=view.code,
        offered_at=e.offered_at,
        offer_expires_at=e.offer_expires_at,
        order_id=e.order_id,
        left_at=e.left_at,
    )


def with_holder(ticket: TicketOut, voucher: Any, now: datetime) -> TicketOut:
    """A listed ticket type as the holder of ``voucher`` sees it: its price with the code, the tickets set aside for
    the code among those they can buy."""
    seen = voucher_uses.holder_ticket(
        voucher, ticket, available=ticket.available, price_cents=ticket.price_cents, now=now
    )
    state = ticket.sales_state
    if state in ("on_sale", "sold_out"):
        state = "on_sale" if seen.available > 0 else "sold_out"
    return ticket.model_copy(
        update={
            "price_cents": seen.price_cents,
            "undiscounted_price_cents": ticket.price_cents if seen.applies else None,
            "voucher_applies": seen.applies,
            "available": seen.available,
            "sales_state": state,
        }
    )
