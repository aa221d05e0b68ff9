"""The event page and its checkout form (``/e/{event_id}``, ``/e/{event_id}/checkout``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from boxoffice import money
from boxoffice.attendees.models import Question
from boxoffice.attendees.questions import list_questions
from boxoffice.attendees.rules import COUNTRIES
from boxoffice.clock import utcnow
from boxoffice.container import Boxoffice
from boxoffice.errors import (
    ErrorCode,
    FieldError,
    InvalidInput,
    NotFound,
    SalesClosed,
    SoldOut,
    TooManyRequests,
    VoucherUnavailable,
)
from boxoffice.events import service as events
from boxoffice.events.models import Event
from boxoffice.payments.gateway import StripeFailure
from boxoffice.ticketing import attendance
from boxoffice.ticketing.models import TicketType
from boxoffice.ticketing.plan import OrderRequest
from boxoffice.ticketing.pricing import price_step
from boxoffice.ticketing.rules import pricing_from_row
from boxoffice.ticketing.ticket_types import Availability, list_ticket_types, shown_with_availability
from boxoffice.web.pages import codes
from boxoffice.web.pages.forms import (
    _TOO_MANY,
    MAX_FORM_VALUE,
    CheckoutForm,
    _check_buyer,
    _read_lines,
    _service_problems,
    major_units,
)
from boxoffice.web.pages.kept_pages import KeptPages
from boxoffice.web.pages.order import _remember_order, order_path
from boxoffice.web.pages.questions import DetailsForm, details_form, is_details_error
from boxoffice.web.pages.render import PageRoute, _box, _event_not_found, _moment, _render, _when, _where
from boxoffice.web.pages.words import say
from boxoffice.web.ratelimit import admit_order

log = logging.getLogger("boxoffice.pages")

router = APIRouter(include_in_schema=False, route_class=PageRoute)


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
    step_text: str = ""  # dynamic prices: the price now and what comes next
    waiting_list: bool = False  # sold out: buyers may join its waiting list
    code_note: str = ""  # with a code: what it does to this ticket
    code_held: int = 0  # with a code: tickets set aside for it, among those left

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
        if self.step_text:
            return self.step_text
        return money.format_money(self.price_cents, self.currency)

    @property
    def left_text(self) -> str:
        if self.state == "not_started":
            return f"On sale from {self.opens}"
        return f"{self.available} left" if self.available > 0 else "Sold out"


async def _event_context(box: Boxoffice, event: Event, code: str | None = None) -> dict[str, Any]:
    now = utcnow()
    holder, code_error = await codes.read_code(box, event, code, now)
    tickets: list[TicketView] = []
    for tt, a in (await shown_with_availability(box.db, event.id, now=now))[1]:
        if a.sales_state == "ended" or not codes.shown(holder, tt):
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
                step_text=_step_text(tt, a, event, now) if tt.pricing_model == "dynamic" else "",
                waiting_list=tt.waiting_list,
            )
        )
        if holder is not None:
            codes.apply_code(tickets[-1], holder, tt, a, now)
    currency = tickets[0].currency if tickets else "usd"
    exp = money.exponent(currency)
    zero = "0" + ("." + "0" * exp if exp else "")
    return {
        "event": event,
        "when": _when(event),
        "where": _where(event),
        "paused": event.status == "sales_paused",
        "description": [p.strip() for p in (event.description or "").split("\n\n") if p.strip()],
        "tickets": tickets,
        "on_sale": any(t.buyable for t in tickets),
        # one tip for the whole order, offered when a ticket on sale accepts tips
        "tippable": any(t.tippable and t.buyable for t in tickets),
        "tippable_titles": " or ".join(t.title for t in tickets if t.tippable and t.buyable),
        "currency": currency,
        "exponent": exp,
        "money_pattern": money.format_money(0, currency).replace(zero, "{n}", 1),
        "voucher_code": holder.code if holder is not None else (code or "").strip()[: codes.MAX_CODE],
        "voucher_applied": holder is not None,
        "code_error": code_error,
        "waiting": [t for t in tickets if t.state == "sold_out" and t.waiting_list],
    }


def _step_text(tt: TicketType, a: Availability, event: Event, now: datetime) -> str:
    """``EUR 15.00 for the next 12 tickets, then EUR 20.00``: where a dynamic price stands and what comes next."""
    step = price_step(pricing_from_row(tt).tiers, a.sold + a.held, now)
    price = money.format_money(step.price_cents, tt.currency)
    if step.next_price_cents is None:
        return price
    then = money.format_money(step.next_price_cents, tt.currency)
    units = step.units if step.units is not None and step.units < a.available else None
    until = _moment(step.until, event) if step.until is not None else None
    if units is not None and until is not None:
        return f"{price} for the next {units} {_tickets(units)} or until {until}, then {then}"
    if units is not None:
        return f"{price} for the next {units} {_tickets(units)}, then {then}"
    if until is not None:
        return f"{price} until {until}, then {then}"
    return price  # the step outlasts what is left: this is the price of every ticket still on sale


def _tickets(n: int) -> str:
    return "ticket" if n == 1 else "tickets"


async def _render_event(
    request: Request,
    event: Event,
    form: CheckoutForm | None = None,
    status: int = 200,
    details: DetailsForm | None = None,
) -> Response:
    form = form or CheckoutForm()
    context = await _event_context(_box(request), event, form.values.get("voucher"))
    if context["code_error"] is not None and not any(p.target == "voucher" for p in form.problems):
        error = context["code_error"]
        form.add(say(error.code, error.field, amounts=error.amounts), "voucher")
        status = max(status, 409 if error.code in codes.REFUSED_LATER else 422)
    context.update(
        {
            "form": form.values,
            "problems": form.problems,
            "field_errors": form.field_errors(),
            "details": details,
            "countries": COUNTRIES,
        }
    )
    return _render(request, "event.html", context, status=status)


async def _public_event(box: Boxoffice, event_id: str) -> Event | None:
    try:
        return await events.get_public_event(box.db, event_id[:64])
    except NotFound:
        return None


@router.get("/e/{event_id}", response_class=HTMLResponse)
async def event_page(request: Request, event_id: str, voucher: str = "") -> Response:
    async def render() -> Response:
        event = await _public_event(_box(request), event_id)
        if event is None:
            return _event_not_found(request)
        return await _render_event(
            request, event, CheckoutForm({"voucher": voucher[:MAX_FORM_VALUE]} if voucher else {})
        )

    if voucher:  # a code's prices and unlocked tickets: this buyer's page, rendered for them
        return await render()
    kept: KeptPages = request.app.state.event_pages
    return await kept.page(event_id[:64], render)


def _no_field(exc: SoldOut | SalesClosed, chosen: list[TicketType]) -> FieldError:
    """The field error of a refusal that names no field: a sold out ticket type's line, else the whole order."""
    if isinstance(exc, SalesClosed):
        return FieldError("lines", exc.detail, code=exc.reason)
    index = next((i for i, tt in enumerate(chosen) if tt.id == exc.ticket_type_id), None)
    field = "lines" if index is None else f"lines[{index}].quantity"
    return FieldError(field, exc.detail, (("available", exc.available),), code=ErrorCode.SOLD_OUT)


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
    lines, chosen, tip = _read_lines(form, types)
    _check_buyer(form)
    if not lines and not form.problems:
        form.add("Please choose at least one ticket", next((f"qty-{t.id}" for t in types), None))
    if form.problems:
        return await _render_event(request, event, form, 422)
    details: DetailsForm | None = None
    asked: list[Question] = []
    answers = None
    if attendance.asks_anything(event):
        # Who each ticket is for and the event's questions: asked on the page once the tickets are chosen
        # (the inputs depend on the quantities), then sent with the order.
        asked = await list_questions(box.db, event.id)
        details = details_form(
            raw,
            event.attendee_details,
            asked,
            [(line.ticket_type_id, tt.title, line.quantity) for line, tt in zip(lines, chosen, strict=True)],
        )
        if not (details.order_questions or details.tickets):
            details = None  # nothing is asked about these tickets: sold in one step
        elif raw.get("details_step") != "1":
            return await _render_event(request, event, form, 200, details)
    if details is not None:
        lines = [replace(line, attendees=given) for line, given in zip(lines, details.attendees, strict=True)]
        answers = details.answers
    order_request = OrderRequest(
        event_id=event.id,
        email=form.values.get("email", "").strip(),
        name=form.values.get("name", "").strip(),
        lines=lines,
        tip_cents=tip or None,
        client_key=client_key,
        answers=answers,
        voucher=form.values.get("voucher", "").strip() or None,
    )
    try:
        placed = await box.payments.place_order(order_request)
    except (SoldOut, SalesClosed) as exc:
        _service_problems(form, exc.field_errors() or [_no_field(exc, chosen)], chosen)
        return await _render_event(request, event, form, 409, details)
    except InvalidInput as exc:
        _service_problems(form, [e for e in exc.errors if not is_details_error(e)], chosen)
        if details is not None:
            for words, target in details.problems([e for e in exc.errors if is_details_error(e)], asked):
                form.add(words, target)
        return await _render_event(request, event, form, 422, details)
    except VoucherUnavailable as exc:
        _service_problems(form, exc.field_errors(), chosen)
        return await _render_event(request, event, form, 409, details)
    except TooManyRequests as exc:
        return await _too_many(request, event, form, exc)
    except StripeFailure:
        log.warning("checkout could not be started", extra={"event_id": event.id})
        form.add("We could not start the payment right now and nothing was charged. Please try again in a minute.")
        return await _render_event(request, event, form, 503)
    response = RedirectResponse(placed.checkout_url or order_path(placed.order), status_code=303)
    return _remember_order(request, response, placed.order, box.payments.order_token(placed.order))
