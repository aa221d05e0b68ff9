"""Buyer pages: server-rendered, accessible, working without JavaScript except for live updates."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import segno
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from boxoffice import money
from boxoffice.container import Boxoffice
from boxoffice.errors import InvalidInput, NotFound, SalesClosed, SoldOut
from boxoffice.events import service as events
from boxoffice.events.models import Event
from boxoffice.notifications.codes import sign_ticket_code
from boxoffice.payments.gateway import StripeFailure
from boxoffice.ticketing import service as ticketing
from boxoffice.ticketing.models import Order

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["money"] = money.format_money
router = APIRouter(include_in_schema=False)
STATUS_TEXT = {
    "pending": "Awaiting payment",
    "confirmed": "Confirmed",
    "canceled": "Canceled",
    "expired": "Expired",
    "failed": "Payment failed",
    "refunded": "Refunded",
    "partially_refunded": "Partially refunded",
}


@dataclass(frozen=True)
class Problem:
    message: str
    anchor: str | None = None


def _box(request: Request) -> Boxoffice:
    box: Boxoffice = request.app.state.box
    return box


def _when(event: Event) -> str:
    zone = ZoneInfo(event.timezone)
    start, end = event.starts_at.astimezone(zone), event.ends_at.astimezone(zone)
    same_day = start.date() == end.date()
    tail = end.strftime("%H:%M") if same_day else end.strftime("%A %d %B %Y, %H:%M")
    return f"{start.strftime('%A %d %B %Y, %H:%M')} to {tail} ({event.timezone})"


def _major(minor: int | None, currency: str) -> str:
    if minor is None:
        return ""
    exp = money.exponent(currency)
    return f"{Decimal(minor) / (10**exp):.{exp}f}" if exp else str(minor)


def _to_minor(text: str, currency: str) -> int | None:
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        value = Decimal(text) * (10 ** money.exponent(currency))
    except InvalidOperation:
        raise ValueError("Please enter an amount such as 12.50") from None
    if value != value.to_integral_value() or value < 0 or value > money.MAXIMUM_AMOUNT:
        raise ValueError("Please enter a valid amount")
    return int(value)


async def _render_event(
    request: Request,
    event_id: str,
    *,
    form: dict[str, str] | None = None,
    errors: list[Problem] | None = None,
    status: int = 200,
) -> HTMLResponse:
    box = _box(request)
    event = await events.get_event(box.db, event_id)
    avail = {a.ticket_type_id: a for a in await ticketing.availability(box.db, event_id)}
    tickets = []
    for tt in await ticketing.list_ticket_types(box.db, event_id):
        a = avail[tt.id]
        if a.sales_state not in ("on_sale", "sold_out"):
            continue
        tickets.append(
            {
                "id": tt.id,
                "title": tt.title,
                "description": tt.description,
                "pricing_model": tt.pricing_model,
                "currency": tt.currency,
                "price_cents": a.price_cents,
                "minimum_price_cents": tt.minimum_price_cents,
                "suggested_major": _major(tt.suggested_price_cents or tt.minimum_price_cents, tt.currency),
                "available": a.available,
                "max_qty": min(a.available, tt.max_per_order or box.settings.max_quantity_per_line),
                "tippable": tt.tippable,
            }
        )
    currency = tickets[0]["currency"] if tickets else "usd"
    return templates.TemplateResponse(
        request,
        "event.html",
        {
            "event": event,
            "when": _when(event),
            "tickets": tickets,
            "tippable": any(t["tippable"] for t in tickets),
            "currency": currency,
            "exponent": money.exponent(str(currency)),
            "form": form or {},
            "errors": errors or [],
            "sandbox": box.stripe.is_sandbox,
        },
        status_code=status,
    )


@router.get("/e/{event_id}", response_class=HTMLResponse)
async def event_page(request: Request, event_id: str) -> Response:
    try:
        return await _render_event(request, event_id)
    except NotFound:
        return _message(request, 404, "Event not found", "We could not find this event.")


def _friendly(exc: InvalidInput) -> list[Problem]:
    problems = []
    for error in exc.errors:
        anchor = None
        if error.field.startswith("lines[") and "]" in error.field:
            problems.append(Problem(f"{error.message[0].upper()}{error.message[1:]}", None))
            continue
        if error.field in ("email", "name", "tip_cents"):
            anchor = {"tip_cents": "tip"}.get(error.field, error.field)
        label = {"email": "Email", "name": "Name", "tip_cents": "Tip"}.get(error.field, "")
        problems.append(Problem(f"{label + ': ' if label else ''}{error.message}", anchor))
    return problems


@router.post("/e/{event_id}/checkout", response_class=HTMLResponse)
async def checkout(request: Request, event_id: str) -> Response:
    box = _box(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    try:
        types = {tt.id: tt for tt in await ticketing.list_ticket_types(box.db, event_id)}
    except NotFound:
        return _message(request, 404, "Event not found", "We could not find this event.")
    problems: list[Problem] = []
    lines: list[ticketing.LineRequest] = []
    line_titles: list[str] = []
    currency = next(iter(types.values())).currency if types else "usd"
    for tt_id, tt in types.items():
        raw_qty = form.get(f"qty_{tt_id}", "0").strip() or "0"
        if not raw_qty.isdigit():
            problems.append(Problem(f"{tt.title}: please enter a whole number of tickets", f"qty-{tt_id}"))
            continue
        qty = int(raw_qty)
        if qty == 0:
            continue
        price = None
        if tt.pricing_model == "flexible":
            try:
                price = _to_minor(form.get(f"price_{tt_id}", ""), tt.currency)
            except ValueError as exc:
                problems.append(Problem(f"{tt.title}: {exc}", f"price-{tt_id}"))
                continue
        lines.append(ticketing.LineRequest(tt_id, qty, price))
        line_titles.append(tt.title)
    tip = None
    try:
        tip = _to_minor(form.get("tip", ""), currency)
    except ValueError as exc:
        problems.append(Problem(f"Tip: {exc}", "tip"))
    if not lines and not problems:
        problems.append(Problem("Please choose at least one ticket."))
    if problems:
        return await _render_event(request, event_id, form=form, errors=problems, status=422)
    request_ = ticketing.OrderRequest(
        event_id=event_id, email=form.get("email", ""), name=form.get("name", ""), lines=lines, tip_cents=tip
    )
    try:
        order = await box.payments.reserve(request_)
    except SoldOut as exc:
        title = types[exc.ticket_type_id].title if exc.ticket_type_id in types else "these tickets"
        text = f"Only {exc.available} tickets left for {title}." if exc.available else f"{title} is sold out."
        return await _render_event(request, event_id, form=form, errors=[Problem(text)], status=409)
    except SalesClosed as exc:
        return await _render_event(
            request, event_id, form=form, errors=[Problem(exc.detail.capitalize() + ".")], status=409
        )
    except InvalidInput as exc:
        friendly = []
        for error in exc.errors:
            if error.field.startswith("lines[") and ".price_cents" in error.field:
                index = int(error.field[6 : error.field.index("]")])
                friendly.append(
                    Problem(f"{line_titles[index]}: your price {error.message}", f"price-{lines[index].ticket_type_id}")
                )
            elif error.field.startswith("lines[") and ".quantity" in error.field:
                index = int(error.field[6 : error.field.index("]")])
                friendly.append(Problem(f"{line_titles[index]}: {error.message}", f"qty-{lines[index].ticket_type_id}"))
            else:
                friendly.extend(_friendly(InvalidInput(error)))
        return await _render_event(request, event_id, form=form, errors=friendly, status=422)
    if order.status != "pending":
        return RedirectResponse(_order_path(order), status_code=303)
    try:
        url = await box.payments.start_checkout(order)
    except StripeFailure:
        return RedirectResponse(_order_path(order) + "&checkout=unavailable", status_code=303)
    return RedirectResponse(url, status_code=303)


def _order_path(order: Order) -> str:
    return f"/orders/{order.id}?token={quote(order.access_token)}"


def _message(request: Request, status: int, heading: str, message: str, link: str | None = None) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "message.html",
        {
            "heading": heading,
            "message": message,
            "link": link,
            "link_text": "Back",
            "sandbox": _box(request).stripe.is_sandbox,
        },
        status_code=status,
    )


NOTICES = {
    "canceled": "Checkout was canceled. Your tickets are still held for a while: continue to payment or release them.",
    "unavailable": "Payments are unavailable right now. Your tickets are held; please try again in a minute.",
}


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def order_page(request: Request, order_id: str, token: str = "") -> Response:
    box = _box(request)
    try:
        order = await ticketing.get_order_with_token(box.db, order_id, token[:200])
    except NotFound:
        return _invalid_link(request)
    event = await events.get_event(box.db, order.event_id)
    notice = NOTICES.get(request.query_params.get("checkout", ""))
    if request.query_params.get("session_id") and order.status == "pending":
        notice = "Payment received: we are confirming your order. This page updates by itself."
    tickets: list[dict[str, Any]] = []
    if order.status in ("confirmed", "partially_refunded"):
        titles = {line.id: line.title for line in order.lines}
        for t in await ticketing.list_tickets(box.db, order.id):
            if t.status != "valid":
                continue
            code = sign_ticket_code(t.id, box.settings.secret_bytes)
            tickets.append(
                {
                    "title": titles.get(t.order_line_id, ""),
                    "code": code,
                    "qr": segno.make(code, error="m").svg_inline(scale=4),
                }
            )
    expires = order.expires_at.astimezone(ZoneInfo(event.timezone)).strftime("%H:%M on %d %B %Y")
    return templates.TemplateResponse(
        request,
        "order.html",
        {
            "order": order,
            "event": event,
            "when": _when(event),
            "token": token,
            "status_text": STATUS_TEXT.get(order.status, order.status),
            "tickets": tickets,
            "notice": notice,
            "expires": expires,
            "sandbox": box.stripe.is_sandbox,
        },
    )


async def _order_from_form(request: Request, order_id: str) -> Order | None:
    token = str((await request.form()).get("token", ""))
    try:
        return await ticketing.get_order_with_token(_box(request).db, order_id, token[:200])
    except NotFound:
        return None


def _invalid_link(request: Request) -> HTMLResponse:
    return _message(request, 404, "Order not found", "This order link is not valid.")


@router.post("/orders/{order_id}/checkout")
async def resume_checkout(request: Request, order_id: str) -> Response:
    order = await _order_from_form(request, order_id)
    if order is None:
        return _invalid_link(request)
    if order.status != "pending":
        return RedirectResponse(_order_path(order), status_code=303)
    try:
        return RedirectResponse(await _box(request).payments.start_checkout(order.id), status_code=303)
    except StripeFailure:
        return RedirectResponse(_order_path(order) + "&checkout=unavailable", status_code=303)


@router.post("/orders/{order_id}/cancel")
async def cancel(request: Request, order_id: str) -> Response:
    order = await _order_from_form(request, order_id)
    if order is None:
        return _invalid_link(request)
    await _box(request).payments.cancel_pending(order.id)
    return RedirectResponse(_order_path(order), status_code=303)
