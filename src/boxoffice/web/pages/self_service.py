"""The order page's self-service forms (the order's token, from its cookie): change the order's answers, change a
ticket's attendee, hand a ticket to someone else. Each answers with a redirect to the order page saying what was
done, or the order page again with the problems in words at their fields."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from boxoffice.attendees.questions import list_questions
from boxoffice.errors import ChangesClosed, Conflict, FieldError, InvalidInput, NotFound
from boxoffice.ticketing import self_service
from boxoffice.ticketing.models import Order, Ticket
from boxoffice.ticketing.orders import list_tickets
from boxoffice.web.pages.forms import MAX_FORM_VALUE, CheckoutForm
from boxoffice.web.pages.order import _order_for, _posted_token, order_path, render_order
from boxoffice.web.pages.questions import details_problem, question_fields, read_answers
from boxoffice.web.pages.render import PageRoute, _box, _order_not_found
from boxoffice.web.pages.words import say

router = APIRouter(include_in_schema=False, route_class=PageRoute)

CLOSED = "Changes to this order's tickets have ended (the event has started, or the organizer's cut-off has passed)."
NOT_PAID = "The tickets of this order can be changed once it is paid."


async def _refused(request: Request, order: Order, form: CheckoutForm, exc: Exception) -> Response:
    if isinstance(exc, ChangesClosed):
        form.add(CLOSED)
        return await render_order(request, order, form=form, status=409)
    if isinstance(exc, NotFound):
        form.add("We could not find this ticket in your order.")
        return await render_order(request, order, form=form, status=404)
    form.add(NOT_PAID if order.status == "pending" else "This ticket can no longer be changed.")
    return await render_order(request, order, form=form, status=409)


async def _problems(
    request: Request, order: Order, form: CheckoutForm, errors: list[FieldError], prefix: str, who: str
) -> Response:
    labels = {q.id: q for q in await list_questions(_box(request).db, order.event_id, include_deleted=True)}
    for error in errors:
        if error.field in ("name", "email"):
            kind = "transfer_email" if error.field == "email" and prefix.startswith("h_") else f"attendee_{error.field}"
            what = f"the {'name' if error.field == 'name' else 'email address'} of {who}"
            form.add(
                say(error.code, kind, what=what, amounts=error.amounts), f"{prefix}{error.field}".replace("_", "-")
            )
        else:
            words, target = details_problem(error, labels=labels, line_prefixes=[], order_prefix=prefix)
            form.add(words, target)
    return await render_order(request, order, form=form, status=422)


async def _open(request: Request, order_id: str) -> tuple[Order | None, Any]:
    order = await _order_for(request, order_id, await _posted_token(request, order_id))
    return order, await request.form()


@router.post("/orders/{order_id}/answers")
async def change_answers(request: Request, order_id: str) -> Response:
    order, raw = await _open(request, order_id)
    if order is None:
        return _order_not_found(request)
    questions = await list_questions(_box(request).db, order.event_id)
    fields = question_fields(
        questions, scope="order", ticket_type_ids=[line.ticket_type_id for line in order.lines], prefix="", values={}
    )
    given = read_answers(raw, fields)
    form = CheckoutForm()
    try:
        await self_service.change_order_answers(
            _box(request).db, order.id, {f.question_id: given.get(f.question_id) for f in fields}
        )
    except InvalidInput as exc:
        return await _problems(request, order, form, exc.errors, "", "your order")
    except (Conflict, NotFound) as exc:
        return await _refused(request, order, form, exc)
    return RedirectResponse(order_path(order, changed="answers"), status_code=303)


@router.post("/orders/{order_id}/tickets/{ticket_id}")
async def change_ticket(request: Request, order_id: str, ticket_id: str) -> Response:
    order, raw = await _open(request, order_id)
    if order is None:
        return _order_not_found(request)
    ticket_id = ticket_id[:64]
    prefix = f"e_{ticket_id}_"
    tickets = {t.id: t for t in await _tickets(request, order)}
    if ticket_id not in tickets:
        return await _refused(request, order, CheckoutForm(), NotFound("ticket"))
    questions = await list_questions(_box(request).db, order.event_id)
    fields = question_fields(
        questions, scope="ticket", ticket_type_ids=[tickets[ticket_id].ticket_type_id], prefix=prefix, values={}
    )
    given = read_answers(raw, fields)
    name = raw.get(f"{prefix}name")
    form = CheckoutForm()
    try:
        await self_service.change_attendee(
            _box(request).db,
            order.id,
            ticket_id,
            name=name[:MAX_FORM_VALUE] if isinstance(name, str) else self_service.UNSET,
            answers={f.question_id: given.get(f.question_id) for f in fields},
        )
    except InvalidInput as exc:
        return await _problems(request, order, form, exc.errors, prefix, "the ticket's holder")
    except (Conflict, NotFound) as exc:
        return await _refused(request, order, form, exc)
    return RedirectResponse(order_path(order, changed="ticket"), status_code=303)


@router.post("/orders/{order_id}/tickets/{ticket_id}/transfer")
async def transfer(request: Request, order_id: str, ticket_id: str) -> Response:
    order, raw = await _open(request, order_id)
    if order is None:
        return _order_not_found(request)
    ticket_id = ticket_id[:64]
    prefix = f"h_{ticket_id}_"
    values = {k: v[:MAX_FORM_VALUE] for k, v in raw.items() if isinstance(v, str) and k.startswith(prefix)}
    form = CheckoutForm(values)
    try:
        await self_service.transfer_ticket(
            _box(request).db,
            order.id,
            ticket_id,
            name=values.get(f"{prefix}name", ""),
            email=values.get(f"{prefix}email", ""),
        )
    except InvalidInput as exc:
        return await _problems(request, order, form, exc.errors, prefix, "the ticket's new holder")
    except (Conflict, NotFound) as exc:
        return await _refused(request, order, form, exc)
    return RedirectResponse(order_path(order, handed=ticket_id), status_code=303)


async def _tickets(request: Request, order: Order) -> list[Ticket]:
    return await list_tickets(_box(request).db, order.id)
