"""Planning an order: the request (``OrderRequest``/``LineRequest``), its checks against the sale, its priced lines.

Both reservation paths (``reserve`` and ``reserve_pg``) make the same plan: the request is checked on its own
(``_check_request``), then against the event and ticket types read (``_check_plan``, pure), its lines are priced, and
the order to write is built with its pricing snapshot (``_new_order``). Nothing here writes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, select

from boxoffice.attendees.rules import AttendeeInput
from boxoffice.db import Database, as_loaded
from boxoffice.errors import ErrorCode, FieldError, InvalidInput, NotFound, SalesClosed, SalesPaused
from boxoffice.events import service as events
from boxoffice.events.models import Event
from boxoffice.ids import new_id
from boxoffice.ticketing import pricing as pricing_rules
from boxoffice.ticketing import vouchers as voucher_rules
from boxoffice.ticketing.inventory import _Taking
from boxoffice.ticketing.models import Order, OrderLine, OrderStatus, TicketType
from boxoffice.ticketing.rules import pricing_from_row
from boxoffice.ticketing.voucher_models import Voucher
from boxoffice.ticketing.voucher_uses import PlannedVoucher, read_voucher

DEFAULT_HOLD = timedelta(minutes=30)
MAX_LINES = 20
MAX_LINE_QUANTITY = 50
# An event's own hold (``events.hold_minutes``): shorter than Stripe's 30-minute Checkout minimum, so its Checkout
# Session is closed when the hold ends (payments.closures).
EVENT_HOLD_MINUTES = (5, 30)


def hold_for(event: Event, default: timedelta) -> timedelta:
    """How long an order of ``event`` holds its tickets: the event's ``hold_minutes`` when set, else ``default``."""
    return timedelta(minutes=event.hold_minutes) if event.hold_minutes else default


@dataclass(frozen=True)
class LineRequest:
    ticket_type_id: str
    quantity: int
    price_cents: int | None = None
    attendees: Sequence[AttendeeInput] = ()  # at most one per ticket (attendees.rules)


@dataclass(frozen=True)
class OrderRequest:
    event_id: str
    email: str
    lines: Sequence[LineRequest]
    name: str = ""
    tip_cents: int | None = None
    # ticketing.tokens.idempotency_ref of the request's Idempotency-Key, and the fingerprint of its body
    idempotency_key: str | None = None
    fingerprint: str | None = None
    client_key: str | None = None  # a keyed hash of the client's address (web.clients.address_key), for the caps
    answers: Mapping[str, object] | None = None  # to the event's per-order questions, by question id
    voucher: str | None = None  # a voucher or access code of the event (any case)


def _check_request(request: OrderRequest, max_lines: int, max_quantity: int) -> None:
    errors: list[FieldError] = []
    try:
        events.normalize_email(request.email)
    except InvalidInput as exc:
        errors.extend(exc.errors)
    try:
        events.clean_name(request.name)
    except InvalidInput as exc:
        errors.extend(exc.errors)
    if not request.lines:
        errors.append(FieldError("lines", "an order needs at least one line", code=ErrorCode.REQUIRED))
    elif len(request.lines) > max_lines:
        errors.append(
            FieldError(
                "lines",
                f"an order may have at most {max_lines} lines",
                (("maximum", max_lines),),
                code=ErrorCode.OVER_LIMIT,
            )
        )
    per_type: dict[str, int] = defaultdict(int)  # lines of one ticket type count together against max_quantity
    for i, line in enumerate(request.lines[:max_lines]):
        q = line.quantity
        if not isinstance(q, int) or isinstance(q, bool):
            errors.append(FieldError(f"lines[{i}].quantity", "must be an integer >= 1", code=ErrorCode.NOT_INTEGER))
        elif q < 1:
            errors.append(
                FieldError(
                    f"lines[{i}].quantity", "must be an integer >= 1", (("minimum", 1),), code=ErrorCode.BELOW_MINIMUM
                )
            )
        elif q > max_quantity:
            errors.append(
                FieldError(
                    f"lines[{i}].quantity",
                    f"must be at most {max_quantity}",
                    (("maximum", max_quantity),),
                    code=ErrorCode.OVER_LIMIT,
                )
            )
        elif isinstance(line.ticket_type_id, str):
            before = per_type[line.ticket_type_id]
            per_type[line.ticket_type_id] = before + q
            if before <= max_quantity < before + q:
                errors.append(
                    FieldError(
                        f"lines[{i}].quantity",
                        f"must be at most {max_quantity} in all for one ticket type (its lines count together)",
                        (("maximum", max_quantity),),
                        code=ErrorCode.OVER_LIMIT,
                    )
                )
        if not isinstance(line.ticket_type_id, str) or not line.ticket_type_id:
            errors.append(FieldError(f"lines[{i}].ticket_id", "is required", code=ErrorCode.REQUIRED))
    tip = request.tip_cents
    if tip is not None and (not isinstance(tip, int) or isinstance(tip, bool)):
        errors.append(FieldError("tip_cents", "must be an integer >= 0", code=ErrorCode.NOT_INTEGER))
    elif tip is not None and tip < 0:
        errors.append(
            FieldError("tip_cents", "must be an integer >= 0", (("minimum_cents", 0),), code=ErrorCode.BELOW_MINIMUM)
        )
    if errors:
        raise InvalidInput(errors)


@dataclass
class _Plan:
    """A checked reservation request: the event, its requested ticket types, the chosen prices per line."""

    event: Event
    found: dict[str, TicketType]
    takings: dict[str, _Taking]
    chosen: list[int | None]
    voucher: PlannedVoucher | None = None
    # per line, the unit prices without the voucher (set by ``_price_lines``)
    undiscounted: list[tuple[int, ...]] = field(default_factory=list)

    @property
    def positional(self) -> bool:
        return any(t.ticket_type.pricing_model == "dynamic" for t in self.takings.values())


Sale = tuple[Event, dict[str, TicketType]]


async def _read_sale(db: Database, request: OrderRequest) -> Sale:
    """The event and the requested ticket types (on sale), in one query."""
    ids = sorted({line.ticket_type_id for line in request.lines})
    async with db.read() as session:
        rows = (
            await session.execute(
                select(Event, TicketType)
                .outerjoin(
                    TicketType,
                    and_(TicketType.event_id == Event.id, TicketType.id.in_(ids), TicketType.deleted_at.is_(None)),
                )
                .where(Event.id == request.event_id)
            )
        ).all()
    if not rows:
        raise NotFound("event not found")
    return rows[0][0], {tt.id: tt for _, tt in rows if tt is not None}


async def _load_plan(db: Database, request: OrderRequest, now: datetime) -> _Plan:
    event, found = await _read_sale(db, request)
    voucher = await read_voucher(db, event.id, request.voucher) if request.voucher else None
    return _check_plan(request, event, found, now, voucher)


def _check_plan(
    request: OrderRequest, event: Event, found: dict[str, TicketType], now: datetime, voucher: Voucher | None = None
) -> _Plan:
    """Check the request against the event, its ticket types and the voucher read for its code (pure)."""
    if not events.is_public(event):
        raise NotFound("event not found")  # the public cannot tell a draft from an unknown id
    if event.status == "sales_paused":
        raise SalesPaused("ticket sales for this event are paused; try again later", field="event_id")
    if event.status != "published":
        raise SalesClosed("this event is not on sale", field="event_id", reason=ErrorCode.NOT_ON_SALE)
    takings: dict[str, _Taking] = {}
    chosen: list[int | None] = []
    errors: list[FieldError] = []
    terms = voucher_rules.terms_from_row(voucher) if voucher is not None else None
    if request.voucher is not None and voucher is None:
        errors.append(FieldError("voucher", "no such code for this event", code=ErrorCode.VOUCHER_UNKNOWN))
    for i, line in enumerate(request.lines):
        tt = found.get(line.ticket_type_id)
        if tt is not None and tt.hidden and (terms is None or tt.id not in terms.unlocks):
            tt = None  # a hidden ticket type is on sale only with a code that unlocks it
        if tt is None:
            errors.append(
                FieldError(
                    f"lines[{i}].ticket_id", "no such ticket type on sale for this event", code=ErrorCode.NOT_FOUND
                )
            )
            chosen.append(None)
            continue
        try:
            chosen.append(
                pricing_rules.chosen_unit_price(pricing_from_row(tt), line.price_cents, f"lines[{i}].price_cents")
            )
        except InvalidInput as exc:
            errors.extend(exc.errors)
            chosen.append(None)
        taking = takings.setdefault(tt.id, _Taking(tt))
        taking.quantity += line.quantity
        taking.line_indexes.append(i)
    for taking in takings.values():
        limit = taking.ticket_type.max_per_order
        if limit is not None and taking.quantity > limit:
            errors.append(
                FieldError(
                    f"lines[{taking.line_indexes[-1]}].quantity",
                    f"at most {limit} of this ticket per order",
                    (("maximum", limit),),
                    code=ErrorCode.OVER_LIMIT,
                )
            )
    if len({t.ticket_type.currency for t in takings.values()}) > 1:
        errors.append(
            FieldError("lines", "all tickets of one order must be in the same currency", code=ErrorCode.MIXED_CURRENCY)
        )
    if errors:
        raise InvalidInput(errors)
    for taking in takings.values():
        tt = taking.ticket_type
        first = taking.line_indexes[0]
        if tt.starts_at is not None and now < tt.starts_at:
            raise SalesClosed(
                f"sales for {tt.title} have not started yet",
                field=f"lines[{first}].ticket_id",
                reason=ErrorCode.NOT_STARTED,
            )
        if now >= (tt.ends_at or event.ends_at):
            raise SalesClosed(
                f"sales for {tt.title} have ended", field=f"lines[{first}].ticket_id", reason=ErrorCode.SALES_ENDED
            )
    planned = None
    if voucher is not None and terms is not None:
        planned = _plan_voucher(request, found, voucher, terms, now)
    return _Plan(event, found, takings, chosen, planned)


def _plan_voucher(
    request: OrderRequest,
    found: Mapping[str, TicketType],
    voucher: Voucher,
    terms: voucher_rules.VoucherTerms,
    now: datetime,
) -> PlannedVoucher:
    """Which of the order's lines the voucher applies to, checked against its rules (validity, per-order limit,
    uses left as read: the reservation's locked update decides)."""
    applies = [
        voucher_rules.applies_to(terms, line.ticket_type_id, hidden=found[line.ticket_type_id].hidden)
        for line in request.lines
    ]
    applicable = sum(line.quantity for line, a in zip(request.lines, applies, strict=True) if a)
    voucher_rules.check_use(terms, applicable, now)
    reservable: dict[str, int] = {}
    for line, a in zip(request.lines, applies, strict=True):
        if a and line.ticket_type_id == voucher.reserved_ticket_type_id:
            reservable[line.ticket_type_id] = reservable.get(line.ticket_type_id, 0) + line.quantity
    return PlannedVoucher(voucher, terms, applies, applicable, reservable)


def _price_lines(
    request: OrderRequest, plan: _Plan, taken_before: dict[str, int], now: datetime
) -> tuple[list[pricing_rules.PricedLine], pricing_rules.Totals]:
    priced: list[pricing_rules.PricedLine] = []
    plan.undiscounted = []
    for i, line in enumerate(request.lines):
        tt = plan.found[line.ticket_type_id]
        pricing = pricing_from_row(tt)
        prices = pricing_rules.unit_prices(
            pricing,
            line.quantity,
            chosen=line.price_cents,
            taken_before=taken_before[tt.id],
            now=now,
            field=f"lines[{i}].price_cents",
        )
        taken_before[tt.id] += line.quantity
        plan.undiscounted.append(prices)
        if plan.voucher is not None and plan.voucher.applies[i]:
            prices = voucher_rules.unit_prices(pricing, prices, plan.voucher.discount)
        priced.append(pricing_rules.PricedLine(tt.currency, prices, tippable=tt.tippable))
    return priced, pricing_rules.order_totals(priced, request.tip_cents or 0)


def _new_order(
    request: OrderRequest,
    plan: _Plan,
    person_id: str,
    priced: Sequence[pricing_rules.PricedLine],
    totals: pricing_rules.Totals,
    now: datetime,
    hold: timedelta,
    *,
    as_written: bool = False,
) -> Order:
    """The order to write, with its lines. ``as_written``: built as if read back from the database (``as_loaded``:
    no attribute events, no history), for an order that a statement writes and no session will flush."""
    order_id = new_id("ord")
    values = {
        "id": order_id,
        "event_id": plan.event.id,
        "person_id": person_id,
        "email": request.email.strip(),
        "name": events.clean_name(request.name),
        "client_key": request.client_key,
        "status": OrderStatus.PENDING,
        "currency": totals.currency,
        "subtotal_cents": totals.subtotal_cents,
        "tip_cents": totals.tip_cents,
        "total_cents": totals.total_cents,
        "refunded_cents": 0,
        "idempotency_key": request.idempotency_key,
        "request_fingerprint": request.fingerprint,
        "expires_at": now + hold,
        "checkout_attempt": 0,
        "created_at": now,
        "updated_at": now,
        "pricing_snapshot": _snapshot(request, plan.event, plan.found, plan.chosen, priced, totals, now, plan),
    }
    lines = [
        {
            "id": new_id("ol"),
            "order_id": order_id,
            "ticket_type_id": line.ticket_type_id,
            "position": i,
            "title": plan.found[line.ticket_type_id].title,
            "quantity": line.quantity,
            "unit_price_cents": priced_line.unit_prices[0],
            "unit_prices": list(priced_line.unit_prices),
            "line_total_cents": priced_line.total_cents,
        }
        for i, (line, priced_line) in enumerate(zip(request.lines, priced, strict=True))
    ]
    if as_written:
        return as_loaded(Order, values, lines=[as_loaded(OrderLine, line) for line in lines])
    order = Order(**values)
    order.lines = [OrderLine(**line) for line in lines]
    return order


def _created_payload(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.id,
        "event_id": order.event_id,
        "status": OrderStatus.PENDING,
        "total_cents": order.total_cents,
    }


def _snapshot(
    request: OrderRequest,
    event: Event,
    found: Mapping[str, TicketType],
    chosen: Sequence[int | None],
    priced: Sequence[pricing_rules.PricedLine],
    totals: pricing_rules.Totals,
    now: datetime,
    plan: _Plan | None = None,
) -> dict[str, Any]:
    lines = []
    for i, (line, choice, prices) in enumerate(zip(request.lines, chosen, priced, strict=True)):
        tt = found[line.ticket_type_id]
        lines.append(
            {
                "ticket_type_id": tt.id,
                "title": tt.title,
                "description": tt.description,
                "pricing_model": tt.pricing_model,
                "base_price_cents": tt.base_price_cents,
                "minimum_price_cents": tt.minimum_price_cents,
                "suggested_price_cents": tt.suggested_price_cents,
                "price_tiers": tt.price_tiers,
                "requested_price_cents": line.price_cents,
                "chosen_price_cents": choice,
                "quantity": line.quantity,
                "unit_prices": list(prices.unit_prices),
                **_voucher_line(plan, i, prices),
            }
        )
    out = {
        "priced_at": now.isoformat(),
        "event_title": event.title,
        "currency": totals.currency,
        "lines": lines,
        "tip_cents": totals.tip_cents,
        "subtotal_cents": totals.subtotal_cents,
        "total_cents": totals.total_cents,
    }
    if plan is not None and plan.voucher is not None:
        v = plan.voucher.voucher
        out["voucher"] = {"id": v.id, "code": v.code, "kind": v.kind, "discount": v.discount}
    return out


def _voucher_line(plan: _Plan | None, index: int, prices: pricing_rules.PricedLine) -> dict[str, Any]:
    """A line's voucher in the pricing snapshot: its code, the unit prices without it, the discount it gave."""
    if plan is None or plan.voucher is None or not plan.voucher.applies[index]:
        return {}
    before = plan.undiscounted[index]
    return {
        "voucher_code": plan.voucher.voucher.code,
        "undiscounted_unit_prices": list(before),
        "discount_cents": sum(before) - prices.total_cents,
    }
