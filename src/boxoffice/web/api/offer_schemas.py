"""Request and response bodies of the voucher and waiting-list API (``web/api/offers.py``), with the rules a request
must follow stated in the OpenAPI schema as the server enforces them (the conventions of ``web/api/schemas.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, field_validator, model_validator
from pydantic_core import PydanticCustomError

from boxoffice.ticketing import voucher_uses
from boxoffice.ticketing import vouchers as rules
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


class DiscountIn(Strict):
    """Exactly one of: ``percent`` off each ticket, ``amount_cents`` off each ticket, or a fixed ``price_cents`` per
    ticket (``{"price_cents": 0}``: free). A ticket never costs less than zero nor more than without the voucher; a
    pay-what-you-want ticket's minimum holds unless the voucher sets the price."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})
    NOT_NULL = ("percent", "amount_cents", "price_cents")

    percent: Percent | None = None
    amount_cents: PositiveAmount | None = None
    price_cents: Amount | None = None

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

    code: Code | None = None
    discount: DiscountIn | None = None
    ticket_ids: TicketIds | None = Field(
        default=None,
        description="The ticket types it applies to besides those it unlocks; null: every one that is not hidden "
        "(none when it unlocks some).",
    )
    unlocks: TicketIds | None = Field(default=None, description="Hidden ticket types it makes visible and buyable.")
    max_uses: Quantity | None = Field(default=None, description="Tickets it can be used for, across orders.")
    max_per_order: PerOrder | None = Field(default=None, description="Tickets one order can take with it.")
    valid_from: DateTime | None = None
    valid_until: DateTime | None = None
    reserve: Reserve | None = Field(
        default=None, description="Tickets set aside for the code's holders, out of public availability."
    )
    note: Annotated[str, Field(max_length=500), NoNul] | None = None

    _not_null = field_validator(*NOT_NULL, mode="before")(_not_null)


class VoucherCreate(VoucherFields):
    __doc__ = (
        "A voucher: its `code`, or `count` codes generated with a `prefix` (the same terms each; exported with GET "
        "`.../vouchers.csv?batch_id=`). " + _VOUCHER_RULES
    )
    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["code"]}, {"required": ["count"]}]})
    NOT_NULL = (*VoucherFields.NOT_NULL, "count", "prefix")

    count: Count | None = None
    prefix: Prefix | None = None

    _not_null_create = field_validator("count", "prefix", mode="before")(_not_null)

    @model_validator(mode="after")
    def _code_or_count(self) -> VoucherCreate:
        if ("code" in self.model_fields_set) == ("count" in self.model_fields_set):
            raise PydanticCustomError("code_or_count", "give either code or count (to generate codes)")
        if "prefix" in self.model_fields_set and "count" not in self.model_fields_set:
            raise PydanticCustomError("code_or_count", "prefix goes with count")
        return self


class VoucherOut(BaseModel):
    id: str
    event_id: str
    kind: str = Field(description="`voucher`, or `waitlist` for a waiting-list offer's code.")
    code: str
    batch_id: str | None
    discount: dict[str, int] | None
    ticket_ids: list[str] | None
    unlocks: list[str]
    max_uses: int | None
    uses: int = Field(description="Tickets taken with it, in pending and paid orders.")
    remaining: int | None = Field(description="Uses left (null: no limit).")
    max_per_order: int | None
    valid_from: datetime | None
    valid_until: datetime | None
    reserve: int
    reserved_left: int = Field(description="Tickets still set aside for the code's holders.")
    reserved_ticket_id: str | None
    note: str
    created_at: datetime
    updated_at: datetime


class VouchersCreated(BaseModel):
    vouchers: list[VoucherOut]
    batch_id: str | None = Field(description="Codes generated together (`count`).")
    csv_url: str | None = Field(description="The generated codes as CSV.")


class WaitingListJoin(Strict):
    """Join a sold-out ticket type's waiting list (409 while it is on sale, or when its list is off)."""

    email: Email
    name: Name = ""
    ticket_id: TicketId
    quantity: PerOrder = 1


class WaitingEntryOut(BaseModel):
    id: str
    event_id: str
    ticket_id: str
    quantity: int
    status: str = Field(description="`waiting`, `offered`, `converted`, `left` or `expired`.")
    position: int | None = Field(description="1: the next to get an offer; null once it no longer waits.")
    created_at: datetime


class OrganizerWaitingEntryOut(WaitingEntryOut):
    email: str
    name: str
    offer_code: str | None
    offered_at: datetime | None
    offer_expires_at: datetime | None
    order_id: str | None = Field(description="The order that bought the offer's tickets.")
    left_at: datetime | None


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
