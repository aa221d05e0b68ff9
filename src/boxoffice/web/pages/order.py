"""The order page and its actions (``/orders/{order_id}``, its checkout and cancel buttons), opened with the
order's token (a cookie once the page was opened with it)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from boxoffice import money
from boxoffice.clock import utcnow
from boxoffice.errors import Conflict, NotFound
from boxoffice.events import service as events
from boxoffice.events.models import Event
from boxoffice.notifications.codes import ticket_code
from boxoffice.payments.gateway import StripeFailure
from boxoffice.ticketing.models import SOLD_STATUSES, Order, OrderStatus
from boxoffice.ticketing.orders import get_order_with_token, list_tickets
from boxoffice.web.api.deps import order_cookie
from boxoffice.web.pages.forms import CheckoutForm
from boxoffice.web.pages.questions import attendee_context
from boxoffice.web.pages.render import (
    PRIVATE_HEADERS,
    PageRoute,
    _box,
    _moment,
    _order_not_found,
    _render,
    _when,
    _where,
)

log = logging.getLogger("boxoffice.pages")

router = APIRouter(include_in_schema=False, route_class=PageRoute)


STATUS_TEXT: dict[str, str] = {
    OrderStatus.PENDING: "Awaiting payment",
    OrderStatus.CONFIRMED: "Confirmed",
    OrderStatus.CANCELED: "Canceled",
    OrderStatus.EXPIRED: "Expired",
    OrderStatus.FAILED: "Payment failed",
    OrderStatus.REFUNDED: "Refunded",
    OrderStatus.PARTIALLY_REFUNDED: "Partially refunded",
}


# The order page keeps the order's token in a cookie: a link that carries it (?token=, from an email or Stripe's
# return) is answered by setting the cookie and redirecting to the same page without it, so the token leaves the
# address bar, the history and every later request line; the page's forms and its live stream send the cookie.
ORDER_COOKIE_SECONDS = 90 * 24 * 3600


def order_path(order: Order, **params: str) -> str:
    query = "&".join(f"{k}={quote(v)}" for k, v in params.items())
    return f"/orders/{order.id}" + (f"?{query}" if query else "")


def _remember_order(request: Request, response: Response, order: Order, token: str) -> Response:
    response.set_cookie(
        order_cookie(order.id),
        token,
        max_age=ORDER_COOKIE_SECONDS,
        path="/",
        secure=_box(request).settings.env == "production",
        httponly=True,
        samesite="lax",
    )
    return response


def _order_token(request: Request, order_id: str) -> str | None:
    return request.query_params.get("token") or request.cookies.get(order_cookie(order_id))


async def _order_for(request: Request, order_id: str, token: str | None) -> Order | None:
    if not token:
        return None
    box = _box(request)
    try:
        return await get_order_with_token(box.db, order_id[:64], token[:200], box.settings.signing_keys)
    except NotFound:
        return None


def _qr(code: str) -> str:
    import segno  # here: a web worker loads segno on its first QR code, not at start

    svg: str = segno.make(code, error="m", micro=False).svg_inline(
        scale=4, light="#fff", svgclass="qr-code", omitsize=True
    )
    return svg


def _status_message(
    order: Order, event: Event, *, paid: bool, hold_ended: bool, canceled_checkout: bool, unavailable: bool
) -> str:
    if order.status == OrderStatus.PENDING:
        if order.stripe_payment_intent_id:  # a bank debit or another delayed method: no money has arrived yet
            return (
                "Your payment is processing: bank payments can take a few days to clear. Your tickets are held "
                f"until {_moment(order.expires_at, event)}, and we will email {order.email} as soon as it clears "
                "(or if it fails)."
            )
        if paid:
            return "Thank you: we are confirming your payment with the payment provider…"
        if hold_ended:
            return "The time to pay for this order has ended; its tickets are being released. Nothing was charged."
        until = _moment(order.expires_at, event)
        if canceled_checkout:
            return f"Checkout canceled. Your tickets are held until {until}: resume checkout or release them."
        if unavailable:
            return f"Payments are unavailable right now. Your tickets are held until {until}; please try again shortly."
        return f"Your tickets are held until {until} while you pay."
    if order.status == OrderStatus.CONFIRMED:
        return f"Your order is confirmed. Your tickets are below, and we have emailed them to {order.email}."
    if order.status == OrderStatus.CANCELED:
        return "This order was canceled and its tickets were released."
    if order.status == OrderStatus.EXPIRED:
        return "This order expired before it was paid, and its tickets were released. Nothing was charged."
    if order.status == OrderStatus.FAILED:
        return "The payment did not go through, so the tickets were released. Nothing was charged."
    refunded = money.format_money(order.refunded_cents, order.currency)
    if order.status == OrderStatus.PARTIALLY_REFUNDED:
        return f"{refunded} of this order was refunded. Your tickets are below."
    return f"This order was refunded ({refunded}). Its tickets are no longer valid."


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def order_page(request: Request, order_id: str, token: str = "") -> Response:
    order = await _order_for(request, order_id, token or request.cookies.get(order_cookie(order_id)))
    if order is None:
        return _order_not_found(request)
    if token:  # keep it in the cookie, out of the address bar
        rest = {k: v for k, v in request.query_params.items() if k != "token"}
        return _remember_order(request, RedirectResponse(order_path(order, **rest), status_code=303), order, token)
    return await render_order(request, order)


async def render_order(
    request: Request, order: Order, *, form: CheckoutForm | None = None, status: int = 200
) -> Response:
    """The order page; ``form``: a self-service form sent with problems (shown with the values typed)."""
    box = _box(request)
    event = await events.get_event(box.db, order.event_id)
    query = request.query_params
    tickets: list[dict[str, Any]] = []
    if order.status in SOLD_STATUSES:
        titles = {line.id: line.title for line in order.lines}
        for i, t in enumerate(await list_tickets(box.db, order.id), start=1):
            if t.status != "valid":
                continue
            code = ticket_code(t.id, t.code_version, box.settings.secret_bytes)
            tickets.append(
                {
                    "id": t.id,
                    "ticket_type_id": t.ticket_type_id,
                    "number": str(i),
                    "title": titles.get(t.order_line_id, "Ticket"),
                    "price": money.format_money(t.unit_price_cents, order.currency),
                    "code": code,
                    "qr": _qr(code),
                }
            )
    session_id = query.get("session_id")
    paid = bool(session_id) and session_id == order.stripe_checkout_session_id
    hold_ended = order.status == OrderStatus.PENDING and order.expires_at <= utcnow()
    context = {
        "order": order,
        "event": event,
        "when": _when(event),
        "where": _where(event),
        "stream_url": f"/api/v1/orders/{order.id}/stream",
        "status_text": STATUS_TEXT.get(order.status, order.status.replace("_", " ").capitalize()),
        "status_message": _status_message(
            order,
            event,
            paid=paid,
            hold_ended=hold_ended,
            canceled_checkout=query.get("checkout") == "canceled",
            unavailable=query.get("checkout") == "unavailable",
        ),
        "show_actions": (
            order.status == OrderStatus.PENDING and not paid and not hold_ended and not order.stripe_payment_intent_id
        ),
        "canceled_checkout": query.get("checkout") == "canceled" and order.status == OrderStatus.PENDING and not paid,
        "tickets": tickets,
        **await attendee_context(box, order, event, tickets, form, query),
    }
    return _render(request, "order.html", context, status=status, headers=PRIVATE_HEADERS)


async def _posted_token(request: Request, order_id: str) -> str | None:
    token = _order_token(request, order_id)
    if token:
        return token
    value = (await request.form()).get("token")
    return value if isinstance(value, str) else None


@router.post("/orders/{order_id}/checkout")
async def resume_checkout(request: Request, order_id: str) -> Response:
    order = await _order_for(request, order_id, await _posted_token(request, order_id))
    if order is None:
        return _order_not_found(request)
    if order.status != OrderStatus.PENDING:
        return RedirectResponse(order_path(order), status_code=303)
    try:
        url = await _box(request).payments.start_checkout(order.id)
    except Conflict:
        return RedirectResponse(order_path(order), status_code=303)
    except StripeFailure:
        log.warning("checkout could not be resumed", extra={"order_id": order.id})
        return RedirectResponse(order_path(order, checkout="unavailable"), status_code=303)
    return RedirectResponse(url, status_code=303)


@router.post("/orders/{order_id}/cancel")
async def cancel_order(request: Request, order_id: str) -> Response:
    order = await _order_for(request, order_id, await _posted_token(request, order_id))
    if order is None:
        return _order_not_found(request)
    await _box(request).payments.cancel_pending(order.id)
    return RedirectResponse(order_path(order), status_code=303)
