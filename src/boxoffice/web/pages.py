"""Buyer pages: the event page with its checkout form, and the order page with its tickets.

Server-rendered and accessible; everything works without JavaScript except the live updates (availability and
order status arrive over the SSE streams of ``/api/v1``). The pages depend on no other part of the JSON API.
Errors are shown on the page in words a buyer understands, never as a problem document or a stack trace.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import segno
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException

from boxoffice import money
from boxoffice.clock import utcnow
from boxoffice.container import Boxoffice
from boxoffice.errors import Conflict, FieldError, InvalidInput, NotFound, SalesClosed, SoldOut, TooManyRequests
from boxoffice.events import service as events
from boxoffice.events.models import Event
from boxoffice.notifications.codes import sign_ticket_code
from boxoffice.payments.gateway import StripeFailure
from boxoffice.ticketing.models import Order, TicketType
from boxoffice.ticketing.orders import get_order_with_token, list_tickets
from boxoffice.ticketing.plan import LineRequest, OrderRequest
from boxoffice.ticketing.ticket_types import availability, list_ticket_types
from boxoffice.web.api.deps import order_cookie
from boxoffice.web.ratelimit import admit_order

log = logging.getLogger("boxoffice.pages")

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["money"] = money.format_money

MAX_FORM_VALUE = 500  # longer values are cut before they are echoed back into the page
SANDBOX_BANNER = "Test mode: payments go to the local Stripe sandbox; no real money moves"
STATUS_TEXT = {
    "pending": "Awaiting payment",
    "confirmed": "Confirmed",
    "canceled": "Canceled",
    "expired": "Expired",
    "failed": "Payment failed",
    "refunded": "Refunded",
    "partially_refunded": "Partially refunded",
}
HAS_TICKETS = ("confirmed", "partially_refunded")
PRIVATE_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


# ---------------------------------------------------------------------------------------------------------------
# Shared page plumbing


def _box(request: Request) -> Boxoffice:
    box: Boxoffice = request.app.state.box
    return box


@lru_cache(maxsize=16)
def _static_version(name: str, mtime_ns: int) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """``/static/<name>?v=<content hash>``: browsers cache the file until it changes."""
    path = STATIC / name
    try:
        return f"/static/{name}?v={_static_version(name, path.stat().st_mtime_ns)}"
    except OSError:
        return f"/static/{name}"


templates.env.globals["static_url"] = static_url


class PageRoute(APIRoute):
    """A page route: an unexpected error becomes a page in words (logged), not a problem document."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPException:
                raise
            except Exception:
                log.exception("page failed", extra={"path": request.url.path})
                return _trouble(request)

        return guarded


router = APIRouter(include_in_schema=False, route_class=PageRoute)


def _render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    box = _box(request)
    response: HTMLResponse = templates.TemplateResponse(
        request,
        template,
        {"sandbox": box.stripe.is_sandbox, "sandbox_banner": SANDBOX_BANNER, **context},
        status_code=status,
        headers=dict(headers or {}),
    )
    return response


def _message(
    request: Request, status: int, heading: str, message: str, *, link: tuple[str, str] | None = None
) -> Response:
    return _render(request, "message.html", {"heading": heading, "message": message, "link": link}, status=status)


def _event_not_found(request: Request) -> Response:
    return _message(request, 404, "Event not found", "We could not find this event. Please check the link.")


def _order_not_found(request: Request) -> Response:
    return _message(
        request,
        404,
        "Order not found",
        "We could not find this order. Please use the link from your confirmation email or the checkout page.",
    )


def _trouble(request: Request) -> Response:
    return _message(
        request,
        500,
        "Something went wrong",
        "Something went wrong on our side and nothing was charged. Please try again in a minute.",
    )


def _zone(event: Event) -> ZoneInfo:
    try:
        return ZoneInfo(event.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _day(value: datetime) -> str:
    return f"{value.strftime('%A')} {value.day} {value.strftime('%B %Y')}"


def _when(event: Event) -> str:
    """The event's dates in its own time zone: ``Saturday 14 March 2026, 19:00 to 23:00 CET (Europe/Berlin)``."""
    zone = _zone(event)
    start, end = event.starts_at.astimezone(zone), event.ends_at.astimezone(zone)
    if start.date() == end.date():
        span = f"{_day(start)}, {start:%H:%M} to {end:%H:%M} {end.tzname()}"
    else:
        span = f"{_day(start)}, {start:%H:%M} {start.tzname()} to {_day(end)}, {end:%H:%M} {end.tzname()}"
    return f"{span} ({zone.key})"


def _moment(value: datetime, event: Event) -> str:
    local = value.astimezone(_zone(event))
    return f"{local:%H:%M} {local.tzname()} on {_day(local)}"


# ---------------------------------------------------------------------------------------------------------------
# Amounts typed by buyers


def major_units(minor: int | None, currency: str) -> str:
    """``2000, "usd"`` -> ``"20.00"``; ``1500, "jpy"`` -> ``"1500"`` (what a price field shows)."""
    if minor is None:
        return ""
    exp = money.exponent(currency)
    return f"{Decimal(minor) / (10**exp):.{exp}f}" if exp else str(minor)


class AmountError(ValueError):
    pass


_PLAIN_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")


def whole_number(text: str) -> int | None:
    """``"12"`` -> ``12``; ``None`` unless the text is ASCII digits only (``str.isdigit`` also takes ``"²"``,
    which ``int`` refuses, and full-width digits, which it takes)."""
    return int(text) if text.isascii() and text.isdigit() else None


def parse_amount(text: str, currency: str) -> int | None:
    """A typed amount in minor units; ``None`` when empty. Accepts ``12.50``, ``12,50``, ``$12.50``, ``1,500``."""
    value = "".join(text.split()).lstrip("$€£¥₩₹").strip()
    if value.lower().endswith(currency.lower()):
        value = value[: -len(currency)]
    if not value:
        return None
    exp = money.exponent(currency)
    if "," in value and "." in value:
        value = value.replace(",", "")
    elif "," in value:
        head, _, tail = value.rpartition(",")
        value = f"{head}.{tail}" if exp and len(tail) <= exp and "," not in head else value.replace(",", "")
    negative = value.startswith("-")
    if not _PLAIN_NUMBER.fullmatch(value.removeprefix("-")):
        raise AmountError("not a number")  # ASCII digits only: no full-width digits, "²", "1e3", "1_000", "NaN"
    if negative:
        raise AmountError("negative")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise AmountError("not a number") from None
    minor = amount * (10**exp)
    if minor != minor.to_integral_value():
        raise AmountError("too many decimals")
    if minor > money.MAXIMUM_AMOUNT:
        raise AmountError("too large")
    return int(minor)


def _amount_problem(kind: str, what: str, currency: str) -> str:
    example = "1500" if money.exponent(currency) == 0 else "12.50"
    if kind == "negative":
        return f"Please enter an amount of zero or more for {what}"
    if kind == "too large":
        return f"Please enter a smaller amount for {what}"
    if kind == "too many decimals" and money.exponent(currency) == 0:
        return f"Please enter {what} in whole {currency.upper()}, without decimals"
    return f"Please enter {what} as an amount such as {example}"


# ---------------------------------------------------------------------------------------------------------------
# Event page


@dataclass
class TicketView:
    id: str
    title: str
    description: str
    pricing_model: str
    currency: str
    price_cents: int
    minimum_cents: int
    suggested_major: str
    suggested_text: str
    available: int
    max_qty: int
    per_order: int
    tippable: bool
    state: str
    opens: str = ""

    @property
    def buyable(self) -> bool:
        return self.state == "on_sale"

    @property
    def price_text(self) -> str:
        if self.pricing_model == "flexible":
            if self.minimum_cents:
                return f"Pay what you want, at least {money.format_money(self.minimum_cents, self.currency)}"
            return "Pay what you want"
        if self.price_cents == 0:
            return "Free"
        price = money.format_money(self.price_cents, self.currency)
        return f"{price} now; the price rises as tickets sell" if self.pricing_model == "dynamic" else price

    @property
    def left_text(self) -> str:
        if self.state == "not_started":
            return f"On sale from {self.opens}"
        return f"{self.available} left" if self.available > 0 else "Sold out"


@dataclass
class FormProblem:
    message: str
    target: str | None = None  # the id of the field at fault


@dataclass
class CheckoutForm:
    values: dict[str, str] = field(default_factory=dict)
    problems: list[FormProblem] = field(default_factory=list)

    def add(self, message: str, target: str | None = None) -> None:
        if all(p.message != message for p in self.problems):
            self.problems.append(FormProblem(message, target))

    def field_errors(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for p in self.problems:
            if p.target:
                out.setdefault(p.target, []).append(p.message)
        return out


async def _event_context(box: Boxoffice, event: Event) -> dict[str, Any]:
    now = utcnow()
    avail = {a.ticket_type_id: a for a in await availability(box.db, event.id, now=now)}
    tickets: list[TicketView] = []
    for tt in await list_ticket_types(box.db, event.id):
        a = avail.get(tt.id)
        if a is None or a.sales_state == "ended":
            continue
        limit = min(box.settings.max_quantity_per_line, tt.max_per_order or box.settings.max_quantity_per_line)
        tickets.append(
            TicketView(
                id=tt.id,
                title=tt.title,
                description=tt.description,
                pricing_model=tt.pricing_model,
                currency=tt.currency,
                price_cents=a.price_cents,
                minimum_cents=tt.minimum_price_cents or 0,
                suggested_major=major_units(
                    tt.suggested_price_cents if tt.suggested_price_cents is not None else tt.minimum_price_cents,
                    tt.currency,
                ),
                suggested_text=(
                    money.format_money(tt.suggested_price_cents, tt.currency)
                    if tt.suggested_price_cents is not None
                    else ""
                ),
                available=a.available,
                max_qty=max(min(limit, a.available), 0),
                per_order=limit,
                tippable=tt.tippable,
                state=a.sales_state,
                opens=_moment(tt.starts_at, event) if tt.starts_at else "",
            )
        )
    currency = tickets[0].currency if tickets else "usd"
    exp = money.exponent(currency)
    zero = "0" + ("." + "0" * exp if exp else "")
    return {
        "event": event,
        "when": _when(event),
        "description": [p.strip() for p in (event.description or "").split("\n\n") if p.strip()],
        "tickets": tickets,
        "on_sale": any(t.buyable for t in tickets),
        "currency": currency,
        "exponent": exp,
        "money_pattern": money.format_money(0, currency).replace(zero, "{n}", 1),
    }


async def _render_event(
    request: Request, event: Event, form: CheckoutForm | None = None, status: int = 200
) -> Response:
    form = form or CheckoutForm()
    context = await _event_context(_box(request), event)
    context.update({"form": form.values, "problems": form.problems, "field_errors": form.field_errors()})
    return _render(request, "event.html", context, status=status)


async def _public_event(box: Boxoffice, event_id: str) -> Event | None:
    try:
        return await events.get_public_event(box.db, event_id[:64])
    except NotFound:
        return None


@router.get("/e/{event_id}", response_class=HTMLResponse)
async def event_page(request: Request, event_id: str) -> Response:
    event = await _public_event(_box(request), event_id)
    if event is None:
        return _event_not_found(request)
    return await _render_event(request, event)


def _tickets_word(n: int) -> str:
    return "ticket" if n == 1 else "tickets"


def _read_lines(
    form: CheckoutForm, types: Sequence[TicketType], max_line: int
) -> tuple[list[LineRequest], list[TicketType], int]:
    """The order lines and tip the buyer asked for; problems are added to ``form``."""
    lines: list[LineRequest] = []
    chosen: list[TicketType] = []
    tip_total = 0
    for tt in types:
        raw_qty = form.values.get(f"qty_{tt.id}", "").strip() or "0"
        raw_tip = form.values.get(f"tip_{tt.id}", "") if tt.tippable else ""
        qty = whole_number(raw_qty)
        if qty is None:
            form.add(f"Please enter a whole number of tickets for {tt.title}", f"qty-{tt.id}")
            continue
        tip: int | None = None
        try:
            tip = parse_amount(raw_tip, tt.currency)
        except AmountError as exc:
            form.add(_amount_problem(str(exc), f"the tip for {tt.title}", tt.currency), f"tip-{tt.id}")
        if qty == 0:
            if tip:
                form.add(f"Please choose at least one {tt.title} ticket to add a tip to it", f"qty-{tt.id}")
            continue
        limit = min(max_line, tt.max_per_order or max_line)
        if qty > limit:
            form.add(f"You can buy at most {limit} {tt.title} {_tickets_word(limit)} per order", f"qty-{tt.id}")
            continue
        price: int | None = None
        if tt.pricing_model == "flexible":
            try:
                price = parse_amount(form.values.get(f"price_{tt.id}", ""), tt.currency)
            except AmountError as exc:
                form.add(_amount_problem(str(exc), f"your price for {tt.title}", tt.currency), f"price-{tt.id}")
                continue
            if price is None:
                form.add(f"Please enter your price for {tt.title}", f"price-{tt.id}")
                continue
            minimum = tt.minimum_price_cents or 0
            if price < minimum:
                form.add(
                    f"Please enter at least {money.format_money(minimum, tt.currency)} for {tt.title}",
                    f"price-{tt.id}",
                )
                continue
        lines.append(LineRequest(tt.id, qty, price))
        chosen.append(tt)
        tip_total += tip or 0
    return lines, chosen, tip_total


def _check_buyer(form: CheckoutForm) -> None:
    try:
        events.normalize_email(form.values.get("email", ""))
    except InvalidInput as exc:
        for error in exc.errors:
            form.add(_buyer_message(error), "email")
    try:
        events.clean_name(form.values.get("name", ""))
    except InvalidInput as exc:
        for error in exc.errors:
            form.add(_buyer_message(error), "name")


def _buyer_message(error: FieldError) -> str:
    if error.field == "email":
        if "required" in error.message:
            return "Please enter your email address: your tickets are sent there"
        if "at most" in error.message:
            return "Please enter a shorter email address"
        return "Please enter a valid email address, such as name@example.com"
    if error.field == "name":
        if "at most" in error.message:
            return f"Please shorten your name to {events.MAX_NAME} characters"
        return "Please remove special characters from your name"
    return error.message[:1].upper() + error.message[1:]


def _line_index(field_name: str) -> int | None:
    if field_name.startswith("lines[") and "]" in field_name:
        digits = field_name[6 : field_name.index("]")]
        return whole_number(digits)
    return None


def _service_problems(form: CheckoutForm, exc: InvalidInput, chosen: Sequence[TicketType], max_line: int) -> None:
    """Reserve's field errors, in words, pointed at the field of the page they are about."""
    for error in exc.errors:
        index = _line_index(error.field)
        tt = chosen[index] if index is not None and index < len(chosen) else None
        if tt is not None and error.field.endswith(".price_cents"):
            if "minimum" in error.message:
                minimum = money.format_money(tt.minimum_price_cents or 0, tt.currency)
                form.add(f"Please enter at least {minimum} for {tt.title}", f"price-{tt.id}")
            else:
                form.add(f"Please check your price for {tt.title}", f"price-{tt.id}")
        elif tt is not None and error.field.endswith(".quantity"):
            limit = min(max_line, tt.max_per_order or max_line)
            form.add(f"You can buy at most {limit} {tt.title} {_tickets_word(limit)} per order", f"qty-{tt.id}")
        elif tt is not None:
            form.add(f"{tt.title} is not on sale", f"qty-{tt.id}")
        elif error.field in ("email", "name"):
            form.add(_buyer_message(error), error.field)
        elif error.field == "tip_cents":
            target = next((f"tip-{t.id}" for t in chosen if t.tippable), None)
            form.add("Tips can only be added to tickets that accept them", target)
        elif "same currency" in error.message:
            form.add("Tickets in different currencies must be bought in separate orders")
        else:
            form.add(_buyer_message(error).rstrip(".") + ".")


def _sold_out_message(exc: SoldOut, title: str) -> str:
    if exc.available > 0:
        return f"Only {exc.available} {_tickets_word(exc.available)} left for {title}"
    return f"{title} is sold out"


_TOO_MANY = {
    "rate": "Too many orders were placed from your network just now.",
    "held-per-email": "This email address already has tickets on hold for this event: "
    "please complete or cancel that order first.",
    "held-per-address": "Too many tickets are on hold from your network for this event right now.",
    "free-orders-per-email": "This email address has already received several free orders for this event today.",
}


async def _too_many(request: Request, event: Event, form: CheckoutForm, exc: TooManyRequests) -> Response:
    minutes = max(round(exc.retry_after / 60), 1)
    wait = f"Please try again in {minutes} minute{'s' if minutes != 1 else ''}."
    form.add(f"{_TOO_MANY.get(exc.limit, 'Too many orders.')} {wait}", "email" if "email" in exc.limit else None)
    response = await _render_event(request, event, form, 429)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


@router.post("/e/{event_id}/checkout", response_class=HTMLResponse)
async def checkout(request: Request, event_id: str) -> Response:
    box = _box(request)
    event = await _public_event(box, event_id)
    if event is None:
        return _event_not_found(request)
    raw = await request.form()
    form = CheckoutForm({k: v[:MAX_FORM_VALUE] for k, v in raw.items() if isinstance(v, str)})
    try:
        client_key = await admit_order(request, box.order_limiter, box.settings.secret_bytes)
    except TooManyRequests as exc:
        return await _too_many(request, event, form, exc)
    types = await list_ticket_types(box.db, event.id)
    max_line = box.settings.max_quantity_per_line
    lines, chosen, tip = _read_lines(form, types, max_line)
    _check_buyer(form)
    if not lines and not form.problems:
        form.add("Please choose at least one ticket", next((f"qty-{t.id}" for t in types), None))
    if form.problems:
        return await _render_event(request, event, form, 422)
    order_request = OrderRequest(
        event_id=event.id,
        email=form.values.get("email", "").strip(),
        name=form.values.get("name", "").strip(),
        lines=lines,
        tip_cents=tip or None,
        client_key=client_key,
    )
    titles = {tt.id: tt.title for tt in types}
    try:
        placed = await box.payments.place_order(order_request)
    except SoldOut as exc:
        form.add(_sold_out_message(exc, titles.get(exc.ticket_type_id, "these tickets")), f"qty-{exc.ticket_type_id}")
        return await _render_event(request, event, form, 409)
    except SalesClosed as exc:
        index = _line_index(exc.field or "")
        target = f"qty-{chosen[index].id}" if index is not None and index < len(chosen) else None
        form.add(exc.detail[:1].upper() + exc.detail[1:], target)
        return await _render_event(request, event, form, 409)
    except InvalidInput as exc:
        _service_problems(form, exc, chosen, max_line)
        return await _render_event(request, event, form, 422)
    except TooManyRequests as exc:
        return await _too_many(request, event, form, exc)
    except StripeFailure:
        log.warning("checkout could not be started", extra={"event_id": event.id})
        form.add("We could not start the payment right now and nothing was charged. Please try again in a minute.")
        return await _render_event(request, event, form, 503)
    response = RedirectResponse(placed.checkout_url or order_path(placed.order), status_code=303)
    return _remember_order(request, response, placed.order, box.payments.order_token(placed.order))


# ---------------------------------------------------------------------------------------------------------------
# Order page


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
    svg: str = segno.make(code, error="m", micro=False).svg_inline(
        scale=4, light="#fff", svgclass="qr-code", omitsize=True
    )
    return svg


def _status_message(
    order: Order, event: Event, *, paid: bool, hold_ended: bool, canceled_checkout: bool, unavailable: bool
) -> str:
    if order.status == "pending":
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
    if order.status == "confirmed":
        return f"Your order is confirmed. Your tickets are below, and we have emailed them to {order.email}."
    if order.status == "canceled":
        return "This order was canceled and its tickets were released."
    if order.status == "expired":
        return "This order expired before it was paid, and its tickets were released. Nothing was charged."
    if order.status == "failed":
        return "The payment did not go through, so the tickets were released. Nothing was charged."
    refunded = money.format_money(order.refunded_cents, order.currency)
    if order.status == "partially_refunded":
        return f"{refunded} of this order was refunded. Your tickets are below."
    return f"This order was refunded ({refunded}). Its tickets are no longer valid."


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def order_page(request: Request, order_id: str, token: str = "") -> Response:
    box = _box(request)
    order = await _order_for(request, order_id, token or request.cookies.get(order_cookie(order_id)))
    if order is None:
        return _order_not_found(request)
    if token:  # keep it in the cookie, out of the address bar
        rest = {k: v for k, v in request.query_params.items() if k != "token"}
        return _remember_order(request, RedirectResponse(order_path(order, **rest), status_code=303), order, token)
    event = await events.get_event(box.db, order.event_id)
    query = request.query_params
    tickets: list[dict[str, str]] = []
    if order.status in HAS_TICKETS:
        titles = {line.id: line.title for line in order.lines}
        for i, t in enumerate(await list_tickets(box.db, order.id), start=1):
            if t.status != "valid":
                continue
            code = sign_ticket_code(t.id, box.settings.secret_bytes)
            tickets.append(
                {
                    "number": str(i),
                    "title": titles.get(t.order_line_id, "Ticket"),
                    "price": money.format_money(t.unit_price_cents, order.currency),
                    "code": code,
                    "qr": _qr(code),
                }
            )
    session_id = query.get("session_id")
    paid = bool(session_id) and session_id == order.stripe_checkout_session_id
    hold_ended = order.status == "pending" and order.expires_at <= utcnow()
    context = {
        "order": order,
        "event": event,
        "when": _when(event),
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
            order.status == "pending" and not paid and not hold_ended and not order.stripe_payment_intent_id
        ),
        "canceled_checkout": query.get("checkout") == "canceled" and order.status == "pending" and not paid,
        "tickets": tickets,
    }
    return _render(request, "order.html", context, headers=PRIVATE_HEADERS)


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
    if order.status != "pending":
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
