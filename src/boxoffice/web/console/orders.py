"""An event's orders (owners and managers): search by email, name, order id or ticket code, filter by status, a
page at a time; an order's lines, payment, refunds, emails and history; refund in full or in part (after a
confirmation page), cancel a pending order, send the confirmation email again. A door member is refused (403)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from boxoffice import money
from boxoffice.errors import Conflict, ErrorCode, InvalidInput, NotFound
from boxoffice.events.models import Event
from boxoffice.notifications.codes import InvalidTicketCode, read_ticket_code
from boxoffice.notifications.models import EmailMessage
from boxoffice.notifications.resend import send_again
from boxoffice.payments.gateway import StripeKeyRejected, StripeRequestRejected, StripeUnavailable
from boxoffice.ticketing import orders as lifecycle
from boxoffice.ticketing import tokens
from boxoffice.ticketing.models import ORDER_STATUSES, Order
from boxoffice.ticketing.order_history import HistoryStep, order_history
from boxoffice.ticketing.order_search import search_orders
from boxoffice.ticketing.refunds import list_refunds
from boxoffice.web.console.access import ConsoleRoute, Member, OwnerOrManager, _box
from boxoffice.web.console.attendees import order_attendees
from boxoffice.web.console.dashboard import owned_event
from boxoffice.web.console.forms import ConsoleForm
from boxoffice.web.console.render import render
from boxoffice.web.console.words import say_field
from boxoffice.web.pages.forms import AmountError, major_units, parse_amount

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)

NOTICES = {
    "refunded": "Refund asked of the payment provider: the order's status follows its answer.",
    "canceled": "Order canceled: its tickets are back on sale.",
    "resent": "The confirmation email is on its way again.",
}
PROBLEMS = {
    "not-pending": "Only a pending order can be canceled: a paid one is refunded.",
    "no-email": "There is no confirmation email to send again yet (the order is not confirmed, or it is being sent).",
}


@router.get("/manage/events/{event_id}/orders")
async def orders_page(
    request: Request,
    event_id: str,
    member: OwnerOrManager,
    q: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query(max_length=32)] = "",
    after: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    event = await owned_event(request, member, event_id)
    box = _box(request)
    text = q.strip()
    ticket_id = None
    if text and not text.startswith("ord_") and "@" not in text and " " not in text and len(text) > 20:
        try:
            ticket_id, _version = read_ticket_code(text, box.settings.secret_bytes, box.settings.previous_secret_bytes)
        except InvalidTicketCode:
            ticket_id = None
    page = await search_orders(box.db, event.id, text=text, ticket_id=ticket_id, status=status or None, cursor=after)
    context = {
        "event": event,
        "page": page,
        "q": text,
        "status": status if status in ORDER_STATUSES else "",
        "statuses": ORDER_STATUSES,
        "fmt": lambda cents: money.format_money(cents, event.currency or "usd"),
    }
    return render(request, "console/orders.html", context)


async def _order(request: Request, member: Member, event: Event, order_id: str) -> Order:
    order = await lifecycle.get_order(_box(request).db, order_id[:64], organizer_id=member.organizer_id)
    if order.event_id != event.id:
        raise NotFound("order not found")
    return order


HISTORY_WORDS = {
    "pending": "created (pending payment)",
    "confirmed": "confirmed (paid)",
    "canceled": "canceled",
    "expired": "expired (the hold ended unpaid)",
    "failed": "payment failed",
    "refunded": "refunded in full",
    "partially_refunded": "refunded in part",
}


def _history(steps: list[HistoryStep], currency: str) -> list[tuple[str, Any]]:
    said = []
    for step in steps:
        label = HISTORY_WORDS.get(step.status, step.status.replace("_", " "))
        if step.status == "partially_refunded":
            label += f": {money.format_money(step.refunded_cents, currency)} refunded so far"
        if step.previous is not None and step.previous not in ("pending", step.status):
            label += f" (was {step.previous.replace('_', ' ')})"
        said.append((label, step.at))
    return said


async def _detail(
    request: Request,
    member: Member,
    event: Event,
    order: Order,
    *,
    refund_form: ConsoleForm | None = None,
    confirm: dict[str, Any] | None = None,
    notice: str | None = None,
    problem: str | None = None,
    status: int = 200,
) -> Response:
    box = _box(request)
    refunds = await list_refunds(box.db, order.id)
    async with box.db.read() as session:
        emails = list(
            (
                await session.scalars(
                    select(EmailMessage).where(EmailMessage.order_id == order.id).order_by(EmailMessage.created_at)
                )
            ).all()
        )
    asked = sum(r.amount_cents for r in refunds if r.status in ("requested", "pending", "succeeded"))
    remaining = order.total_cents - max(order.refunded_cents, asked)
    context = {
        "event": event,
        "order": order,
        "refunds": refunds,
        "emails": emails,
        "history": _history(await order_history(box.db, order), order.currency),
        **await order_attendees(box.db, order),
        "remaining": remaining,
        "can_refund": order.status in ("confirmed", "partially_refunded") and remaining > 0,
        "refund_form": refund_form or ConsoleForm({"amount": major_units(remaining, order.currency)}),
        "confirm": confirm,
        "notice": notice,
        "problem": problem,
        "fmt": lambda cents: money.format_money(cents, order.currency),
    }
    return render(request, "console/order.html", context, status=status)


@router.get("/manage/events/{event_id}/orders/{order_id}")
async def order_page(
    request: Request,
    event_id: str,
    order_id: str,
    member: OwnerOrManager,
    done: Annotated[str | None, Query(max_length=32)] = None,
    problem: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    event = await owned_event(request, member, event_id)
    order = await _order(request, member, event, order_id)
    return await _detail(
        request, member, event, order, notice=NOTICES.get(done or ""), problem=PROBLEMS.get(problem or "")
    )


def _refund_key(order_id: str, key: str) -> str | None:
    return tokens.idempotency_ref(f"console-refunds:{order_id}", key[:64]) if key else None


@router.post("/manage/events/{event_id}/orders/{order_id}/refund")
async def refund_order(request: Request, event_id: str, order_id: str, member: OwnerOrManager) -> Response:
    """First post: the confirmation page (what will be refunded). Second post (``confirmed``): the refund."""
    event = await owned_event(request, member, event_id)
    order = await _order(request, member, event, order_id)
    form = await ConsoleForm.read(request)
    try:
        amount = parse_amount(form.get("amount"), order.currency)
    except AmountError as exc:
        form.add(say_field(exc.code, "amount_cents", exc.amounts, currency=order.currency), "amount")
        return await _detail(request, member, event, order, refund_form=form.shown(), status=422)
    if not form.get("confirmed"):
        if amount is not None and amount <= 0:
            form.add(say_field(ErrorCode.BELOW_MINIMUM, "amount_cents", (("minimum_cents", 1),)), "amount")
        if not form.ok:
            return await _detail(request, member, event, order, refund_form=form.shown(), status=422)
        shown = amount if amount is not None else order.total_cents - order.refunded_cents
        confirm = {
            "amount": major_units(shown, order.currency),
            "words": money.format_money(shown, order.currency),
            "key": secrets.token_urlsafe(16),  # a double submit of the confirmation is the same refund
        }
        return await _detail(request, member, event, order, refund_form=form.shown(), confirm=confirm)
    try:
        await _box(request).payments.refund(
            order.id,
            amount,
            organizer_id=member.organizer_id,
            idempotency_key=_refund_key(order.id, form.get("refund_key")),
        )
    except InvalidInput as exc:
        for error in exc.errors:
            form.add(say_field(error.code, "amount_cents", error.amounts, currency=order.currency), "amount")
        return await _detail(request, member, event, order, refund_form=form.shown(), status=422)
    except Conflict:
        return await _detail(
            request,
            member,
            event,
            order,
            problem="This order cannot be refunded (not paid, or already refunded).",
            status=409,
        )
    except (StripeRequestRejected, StripeUnavailable, StripeKeyRejected):
        return await _detail(
            request,
            member,
            event,
            order,
            problem="The payment provider did not accept the refund now; it is retried automatically if it was "
            "recorded. Check the refunds below before trying again.",
            status=502,
        )
    return RedirectResponse(f"/manage/events/{event.id}/orders/{order.id}?done=refunded", status_code=303)


@router.post("/manage/events/{event_id}/orders/{order_id}/cancel")
async def cancel_order(request: Request, event_id: str, order_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    order = await _order(request, member, event, order_id)
    result = await _box(request).payments.cancel_pending(order.id)
    outcome = "done=canceled" if result.changed else "problem=not-pending"
    return RedirectResponse(f"/manage/events/{event.id}/orders/{order.id}?{outcome}", status_code=303)


@router.post("/manage/events/{event_id}/orders/{order_id}/resend")
async def resend_confirmation(request: Request, event_id: str, order_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    order = await _order(request, member, event, order_id)
    if await send_again(_box(request).db, order.id):
        _box(request).mailer.kick()
        outcome = "done=resent"
    else:
        outcome = "problem=no-email"
    return RedirectResponse(f"/manage/events/{event.id}/orders/{order.id}?{outcome}", status_code=303)
