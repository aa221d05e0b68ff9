"""The REST API: organizer endpoints (API key), public and buyer endpoints (order token). An organizer's events
themselves are in ``web/api/events.py``, the live streams in ``web/api/streams.py``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from boxoffice.accounts import service as accounts
from boxoffice.attendees.details import OrderDetails
from boxoffice.attendees.rules import AttendeeInput
from boxoffice.clock import utcnow
from boxoffice.errors import Conflict, NotFound, Unauthorized
from boxoffice.events import service as events
from boxoffice.events.models import Event
from boxoffice.notifications.codes import ticket_code
from boxoffice.notifications.delivery import list_emails
from boxoffice.payments.gateway import StripeKeyRejected, StripeUnavailable
from boxoffice.ticketing import attendance, tokens, voucher_uses
from boxoffice.ticketing import orders as lifecycle
from boxoffice.ticketing.models import SOLD_STATUSES, Order, OrderStatus, TicketType
from boxoffice.ticketing.plan import LineRequest, OrderRequest
from boxoffice.ticketing.ticket_types import (
    Availability,
    create_ticket_type,
    delete_ticket_type,
    get_ticket_type,
    shown_with_availability,
    update_ticket_type,
)
from boxoffice.web.api import schemas as s
from boxoffice.web.api.answer_fields import details_fields
from boxoffice.web.api.deps import Box, BuyerOrder, Credentials, Organizer, order_for_token, order_token_of
from boxoffice.web.api.offer_schemas import with_holder
from boxoffice.web.problems import boxoffice_problem
from boxoffice.web.ratelimit import admit_order

PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": s.Problem, "content": {"application/problem+json": {}}, "description": text}
    for code, text in {
        400: "Malformed request (the body is not valid JSON)",
        401: "Missing or invalid credentials",
        404: "Not found, or not yours",
        409: "Sold out or a wrong state",
        413: "Body too large",
        422: "Invalid input; errors[] names the fields",
        503: "Payment provider or database unavailable; retry later",
    }.items()
}
router = APIRouter(prefix="/api/v1", responses=PROBLEMS)
JSON = "application/json"


# -- views -------------------------------------------------------------------------------------------------------


async def tickets_out(box: Box, event_id: str, only: str | None = None, *, public: bool = False) -> list[s.TicketOut]:
    """The event's ticket types (``only`` one of them) as shown, with their availability, read together. ``public``:
    a draft is as absent as an unknown event (``events.get_public_event``'s words)."""
    event: Event | None
    try:
        event, shown = await shown_with_availability(box.db, event_id)
    except NotFound:
        if not public:
            raise
        event, shown = None, []
    if public:
        events.as_public(event)  # a draft answers as an unknown id does
    return [ticket_out(tt, a) for tt, a in shown if only is None or tt.id == only]


def ticket_out(tt: TicketType, a: Availability) -> s.TicketOut:
    return s.TicketOut(
        id=tt.id,
        event_id=tt.event_id,
        title=tt.title,
        description=tt.description,
        pricing_model=tt.pricing_model,
        base_price_cents=tt.base_price_cents,
        minimum_price_cents=tt.minimum_price_cents,
        suggested_price_cents=tt.suggested_price_cents,
        price_tiers=tt.price_tiers,
        currency=tt.currency,
        price_cents=a.price_cents,
        tippable=tt.tippable,
        max_per_order=tt.max_per_order,
        starts_at=tt.starts_at,
        ends_at=tt.ends_at,
        quantity=a.quantity,
        sold=a.sold,
        held=a.held,
        available=a.available,
        sales_state=a.sales_state,
        hidden=tt.hidden,
        waiting_list=tt.waiting_list,
        reserved=a.reserved,
    )


async def order_fields(box: Box, order: Order, details: OrderDetails | None = None) -> dict[str, Any]:
    """The order as the API answers it; ``details`` when known (an order that gave none has none), else read."""
    tickets = await lifecycle.list_tickets(box.db, order.id) if order.status in SOLD_STATUSES else []
    if details is None:
        details = await attendance.order_details(box.db, order.id)
    return {
        "id": order.id,
        "event_id": order.event_id,
        "status": order.status,
        "email": order.email,
        "name": order.name,
        "currency": order.currency,
        "subtotal_cents": order.subtotal_cents,
        "tip_cents": order.tip_cents,
        "total_cents": order.total_cents,
        "refunded_cents": order.refunded_cents,
        "lines": [
            s.LineOut(
                ticket_id=line.ticket_type_id,
                title=line.title,
                quantity=line.quantity,
                unit_price_cents=line.unit_price_cents,
                unit_prices=[int(p) for p in line.unit_prices],
                line_total_cents=line.line_total_cents,
            )
            for line in order.lines
        ],
        "tickets": [
            s.IssuedTicket(
                id=t.id,
                ticket_id=t.ticket_type_id,
                code=ticket_code(t.id, t.code_version, box.settings.secret_bytes),
                status=t.status,
            )
            for t in tickets
        ],
        "expires_at": order.expires_at,
        "created_at": order.created_at,
        "confirmed_at": order.confirmed_at,
        "checkout_url": order.checkout_url if order.status == OrderStatus.PENDING else None,
        **details_fields(order, details),
        "voucher": ((order.pricing_snapshot or {}).get("voucher") or {}).get("code"),
    }


async def organizer_order(box: Box, order: Order, details: OrderDetails | None = None) -> s.OrganizerOrderOut:
    return s.OrganizerOrderOut(
        **await order_fields(box, order, details),
        failure_reason=order.failure_reason,
        stripe_payment_intent_id=order.stripe_payment_intent_id,
        pricing_snapshot=order.pricing_snapshot,
    )


async def own_event(box: Box, organizer: Organizer, event_id: str) -> Event:
    return await events.get_event(box.db, event_id, organizer_id=organizer.id)


# -- public and buyers ---------------------------------------------------------------------------------------------


@router.get(
    "/events/{event_id}/tickets", response_model=list[s.TicketOut], tags=["buyers"], summary="Ticket types on sale"
)
async def public_tickets(
    event_id: str,
    box: Box,
    voucher: Annotated[
        str | None,
        Query(max_length=64, description="A voucher or access code: its prices and the hidden tickets it unlocks."),
    ] = None,
) -> list[s.TicketOut]:
    shown = await tickets_out(box, event_id, public=True)
    holder = await voucher_uses.voucher_for_holder(box.db, event_id, voucher, utcnow()) if voucher else None
    out = []
    for t in shown:
        if t.hidden and (holder is None or t.id not in (holder.unlocks or [])):
            continue
        t = with_holder(t, holder, utcnow()) if holder is not None else t
        if t.sales_state in ("on_sale", "sold_out", "paused"):
            out.append(t)
    return out


@router.post(
    "/events/{event_id}/orders",
    status_code=201,
    response_model=s.OrderCreated,
    tags=["buyers"],
    summary="Reserve tickets and start checkout",
    responses={
        429: {
            "model": s.Problem,
            "content": {"application/problem+json": {}},
            "description": "Too many orders from this address, or the buyer holds too many tickets (see limit)",
        }
    },
)
async def create_order(
    event_id: str,
    body: s.OrderCreate,
    request: Request,
    box: Box,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)] = None,
) -> Response:
    """Holds the tickets and answers with the order and its ``checkout_url`` (none for a free order, which is
    confirmed at once).

    With an ``Idempotency-Key`` (use a random UUID per order) the key identifies the order for good: a retry with
    the same key and the same body gets that order (with its token) in its current state, its checkout resumed if it
    was never started, whatever happened to the first request; the same key with another body is refused (422); a
    retry while the first request is still starting the checkout answers 409 with ``Retry-After``."""
    client_key = await admit_order(request, box.order_limiter, box.settings.secret_bytes)
    fingerprint = tokens.fingerprint(await request.body()) if idempotency_key is not None else None
    order_request = OrderRequest(
        event_id=event_id,
        email=body.email,
        name=body.name,
        tip_cents=body.tip_cents,
        lines=[
            LineRequest(
                line.ticket_id,
                line.quantity,
                line.price_cents,
                [AttendeeInput(a.name, a.email, a.answers) for a in line.attendees or ()],
            )
            for line in body.lines
        ],
        answers=body.answers,
        voucher=body.voucher,
        idempotency_key=tokens.idempotency_ref(f"orders:{event_id}", idempotency_key) if idempotency_key else None,
        fingerprint=fingerprint,
        client_key=client_key,
    )
    placed = await box.payments.reserve_once_per_key(order_request)
    order = placed.order
    headers = {"Idempotent-Replayed": "true"} if placed.replayed else None
    if order.status == OrderStatus.PENDING:
        try:
            await box.payments.start_checkout(order)
        except (StripeKeyRejected, StripeUnavailable) as exc:
            problem = boxoffice_problem(exc)
            current = await lifecycle.get_order(box.db, order.id)
            if current.status != OrderStatus.PENDING:
                raise
            # The tickets stay held: the buyer can retry checkout with the order's token.
            payload = jsonable_encoder(
                {
                    **_problem_body(problem),
                    "order_id": order.id,
                    "token": box.payments.order_token(order),
                    "retry": f"/api/v1/orders/{order.id}/checkout",
                }
            )
            retry = {"Retry-After": problem.headers.get("retry-after", "5")}
            return JSONResponse(
                payload, status_code=503, media_type=problem.media_type, headers={**(headers or {}), **retry}
            )
    # an order that gave no attendee nor answer has none stored: nothing to read back (the flash-sale path)
    given = None if attendance.carries_details(order_request) else OrderDetails()
    created = s.OrderCreated(**await order_fields(box, order, given), token=box.payments.order_token(order))
    # encoded once, by pydantic's serializer straight to JSON bytes (no dict of JSON values, no json.dumps)
    return Response(created.__pydantic_serializer__.to_json(created), status_code=201, headers=headers, media_type=JSON)


def _problem_body(response: JSONResponse) -> dict[str, Any]:
    import json

    body: dict[str, Any] = json.loads(bytes(response.body))
    return body


@router.get("/orders/{order_id}", response_model=s.OrderOut, tags=["buyers"], summary="An order (with its token)")
async def get_order(order: BuyerOrder, box: Box) -> s.OrderOut:
    """The order's token in ``Authorization: Bearer``, the order page's cookie or ``?token=``."""
    return s.OrderOut(**await order_fields(box, order))


@router.post("/orders/{order_id}/cancel", response_model=s.OrderOut, tags=["buyers"], summary="Cancel a pending order")
async def cancel_order(
    order_id: str,
    request: Request,
    box: Box,
    credentials: Credentials,
    token: Annotated[str | None, Query(max_length=200)] = None,
) -> s.OrderOut:
    """Releases a pending order's tickets: by its buyer (the order's token) or its organizer (an API key). A paid
    order is not canceled but refunded: 409 with the refund endpoint in ``refund``."""
    raw = order_token_of(request, order_id, credentials) or token
    by_organizer = await _organizer_order(box, order_id, raw)
    order = by_organizer or await order_for_token(box, order_id, raw)
    if order.status in SOLD_STATUSES and by_organizer is not None:
        raise Conflict(
            f"order {order.id} is paid ({order.status}): a paid order is refunded, not canceled; "
            f"POST /api/v1/orders/{order.id}/refunds (a full refund releases its tickets)",
            refund=f"/api/v1/orders/{order.id}/refunds",
        )
    if order.status in SOLD_STATUSES:
        raise Conflict(f"order {order.id} is paid: ask the organizer for a refund")
    result = await box.payments.cancel_pending(order.id)
    if not result.changed:
        raise Conflict(f"order {order.id} is {result.status}; only a pending order can be canceled")
    return s.OrderOut(**await order_fields(box, result.order))


@router.post("/orders/{order_id}/checkout", response_model=s.CheckoutOut, tags=["buyers"], summary="Resume checkout")
async def resume_checkout(order: BuyerOrder, box: Box) -> s.CheckoutOut:
    return s.CheckoutOut(checkout_url=await box.payments.start_checkout(order.id))


# -- organizer: events -------------------------------------------------------------------------------------------


@router.get("/events/{event_id}/orders", response_model=list[s.OrganizerOrderOut], tags=["organizer"], summary="Orders")
async def event_orders(
    event_id: str,
    box: Box,
    organizer: Organizer,
    status: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[s.OrganizerOrderOut]:
    await own_event(box, organizer, event_id)
    orders = await lifecycle.list_orders(box.db, event_id, status=status, limit=limit, offset=offset)
    details = await attendance.details_of_orders(box.db, [order.id for order in orders])
    return [await organizer_order(box, order, details[order.id]) for order in orders]


@router.get(
    "/events/{event_id}/participants", response_model=list[s.ParticipantOut], tags=["organizer"], summary="Participants"
)
async def event_participants(
    event_id: str, box: Box, organizer: Organizer, role: Annotated[str | None, Query(max_length=32)] = None
) -> list[s.ParticipantOut]:
    await own_event(box, organizer, event_id)
    return [
        s.ParticipantOut(
            id=p.id,
            email=person.email,
            name=person.name,
            role=p.role,
            status=p.status,
            source=p.source,
            metadata=p.meta,
            created_at=p.created_at,
        )
        for p, person in await events.list_participants(box.db, event_id, role=role)
    ]


@router.get("/events/{event_id}/emails", response_model=list[s.EmailOut], tags=["organizer"], summary="Buyer emails")
async def event_emails(
    event_id: str, box: Box, organizer: Organizer, status: Annotated[str | None, Query(max_length=16)] = None
) -> list[s.EmailOut]:
    """Emails sent to buyers; ``status=failed`` lists those that failed their last try."""
    await own_event(box, organizer, event_id)
    return [
        s.EmailOut.model_validate(e, from_attributes=True) for e in await list_emails(box.db, event_id, status=status)
    ]


# -- organizer: ticket types -------------------------------------------------------------------------------------


@router.post(
    "/events/{event_id}/tickets",
    status_code=201,
    response_model=s.TicketOut,
    tags=["organizer"],
    summary="Add a ticket type",
)
async def create_ticket(
    event_id: str,
    body: Annotated[s.TicketCreate, Body(openapi_examples=s.TICKET_EXAMPLES)],
    box: Box,
    organizer: Organizer,
) -> s.TicketOut:
    tt = await create_ticket_type(box.db, event_id, body.model_dump(exclude_unset=True), organizer_id=organizer.id)
    return (await tickets_out(box, event_id, only=tt.id))[0]


@router.get("/tickets/{ticket_id}", response_model=s.TicketOut, tags=["organizer"], summary="Get a ticket type")
async def get_ticket(ticket_id: str, box: Box, organizer: Organizer) -> s.TicketOut:
    tt = await get_ticket_type(box.db, ticket_id, organizer_id=organizer.id)
    return (await tickets_out(box, tt.event_id, only=tt.id))[0]


@router.patch("/tickets/{ticket_id}", response_model=s.TicketOut, tags=["organizer"], summary="Change a ticket type")
async def patch_ticket(ticket_id: str, body: s.TicketFields, box: Box, organizer: Organizer) -> s.TicketOut:
    tt = await update_ticket_type(box.db, ticket_id, body.model_dump(exclude_unset=True), organizer_id=organizer.id)
    return (await tickets_out(box, tt.event_id, only=tt.id))[0]


@router.delete("/tickets/{ticket_id}", status_code=204, tags=["organizer"], summary="Delete (or hide) a ticket type")
async def delete_ticket(ticket_id: str, box: Box, organizer: Organizer) -> Response:
    await delete_ticket_type(box.db, ticket_id, organizer_id=organizer.id)
    return Response(status_code=204)


@router.post(
    "/orders/{order_id}/refunds",
    status_code=202,
    response_model=s.RefundOut,
    tags=["organizer"],
    summary="Refund an order",
)
async def refund_order(
    order_id: str,
    body: s.RefundIn,
    request: Request,
    box: Box,
    organizer: Organizer,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)] = None,
) -> s.RefundOut:
    """Full refund without ``amount_cents``. Every request is a refund of its own (two partial refunds refund
    twice), checked against what is left after the refunds already asked; send an ``Idempotency-Key`` to make a
    retried request the same refund. The order's status follows Stripe's ``charge.refunded`` webhook."""
    refund = await box.payments.refund(
        order_id,
        body.amount_cents,
        organizer_id=organizer.id,
        idempotency_key=tokens.idempotency_ref(f"refunds:{order_id}", idempotency_key) if idempotency_key else None,
        fingerprint=tokens.fingerprint(await request.body()) if idempotency_key else None,
    )
    return s.RefundOut(
        order_id=refund.order_id, refund_id=refund.refund_id, amount_cents=refund.amount_cents, status=refund.status
    )


async def _organizer_order(box: Box, order_id: str, raw: str | None) -> Order | None:
    """The order when ``raw`` is an API key of the order's organizer; None when it is no API key at all (an order
    token then); 404 for another organizer's order."""
    if not raw or not raw.startswith(accounts.KEY_PREFIX):
        return None
    try:
        organizer = await accounts.authenticate(box.db, raw)
    except Unauthorized:
        return None  # not a key after all: an order token that happens to start like one
    return await lifecycle.get_order(box.db, order_id, organizer_id=organizer.id)
