"""The waiting list on the buyer pages: joining a sold-out ticket type from the event page
(``POST /e/{event_id}/waiting-list``), and leaving through the link in the emails
(``/waiting-list/{entry_id}/leave?token=``: a page with a button, since mail scanners open links)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from boxoffice.errors import Conflict, ErrorCode, InvalidInput, NotFound, SalesClosed, TooManyRequests
from boxoffice.ticketing import tokens, waitlist
from boxoffice.ticketing.ticket_types import list_ticket_types
from boxoffice.web.pages.event import _public_event, _render_event, _too_many
from boxoffice.web.pages.forms import MAX_FORM_VALUE, CheckoutForm, whole_number
from boxoffice.web.pages.render import PRIVATE_HEADERS, PageRoute, _box, _event_not_found, _message, _render
from boxoffice.web.pages.words import say
from boxoffice.web.ratelimit import admit_order

router = APIRouter(include_in_schema=False, route_class=PageRoute)

# the join form's fields, by the field names the service's errors use
_TARGETS = {"email": "wl-email", "name": "wl-name", "quantity": "wl-quantity", "ticket_id": "wl-ticket"}


@router.post("/e/{event_id}/waiting-list", response_class=HTMLResponse)
async def join(request: Request, event_id: str) -> Response:
    box = _box(request)
    event = await _public_event(box, event_id)
    if event is None:
        return _event_not_found(request)
    raw = await request.form()
    form = CheckoutForm({k: v[:MAX_FORM_VALUE] for k, v in raw.items() if isinstance(v, str)})
    try:
        await admit_order(request, box.order_limiter, box.settings.secret_bytes)
    except TooManyRequests as exc:
        return await _too_many(request, event, form, exc)
    types = {tt.id: tt for tt in await list_ticket_types(box.db, event.id)}
    tt = types.get(form.values.get("wl_ticket", ""))
    title = tt.title if tt is not None else ""
    quantity = whole_number(form.values.get("wl_quantity", "").strip() or "1")
    if quantity is None or quantity < 1:
        form.add(say(ErrorCode.NOT_INTEGER, "quantity", title=title), "wl-quantity")
        return await _render_event(request, event, form, 422)
    try:
        view = await waitlist.join(
            box.db,
            event.id,
            email=form.values.get("wl_email", ""),
            name=form.values.get("wl_name", ""),
            ticket_type_id=form.values.get("wl_ticket", ""),
            quantity=quantity,
            max_quantity=box.settings.max_quantity_per_line,
        )
    except InvalidInput as exc:
        for error in exc.errors:
            form.add(
                say(error.code, error.field, title=title, amounts=error.amounts), _TARGETS.get(error.field, "wl-email")
            )
        return await _render_event(request, event, form, 422)
    except SalesClosed as exc:
        for error in exc.field_errors():
            form.add(say(error.code, error.field, title=title), "wl-ticket")
        return await _render_event(request, event, form, 409)
    except Conflict:
        form.add(f"{title or 'These tickets'} can be bought now: choose them above", "wl-ticket")
        return await _render_event(request, event, form, 409)
    entry = view.entry
    kind = "ticket" if entry.quantity == 1 else "tickets"
    place = f" You are number {view.position} in line." if view.position else ""
    already = "" if view.created else " (this address was on the list already)"
    return _message(
        request,
        201 if view.created else 200,
        "You are on the waiting list",
        f"We will email {entry.email}{already} when {entry.quantity} {title} {kind} can be offered to you, with a "
        f"code that holds them for a while.{place} The email has a link to leave the list.",
        link=(f"/e/{event.id}", f"Back to {event.title}"),
    )


def _entry_not_found(request: Request) -> Response:
    return _message(
        request,
        404,
        "Not on a waiting list",
        "We could not find this waiting-list entry. Please use the link from your email.",
    )


async def _entry_for(request: Request, entry_id: str, token: str) -> waitlist.EntryView | None:
    box = _box(request)
    if not token or len(token) > 200 or not tokens.entry_token_opens(entry_id, token, box.settings.signing_keys):
        return None
    try:
        return await waitlist.get_entry(box.db, entry_id[:64])
    except NotFound:
        return None


@router.get("/waiting-list/{entry_id}/leave", response_class=HTMLResponse)
async def leave_page(request: Request, entry_id: str, token: str = "") -> Response:
    view = await _entry_for(request, entry_id, token)
    if view is None:
        return _entry_not_found(request)
    return _render(
        request,
        "leave.html",
        {"entry": view.entry, "token": token, "active": view.entry.status in ("waiting", "offered")},
        headers=PRIVATE_HEADERS,
    )


@router.post("/waiting-list/{entry_id}/leave", response_class=HTMLResponse)
async def leave(request: Request, entry_id: str) -> Response:
    raw = await request.form()
    token = raw.get("token")
    view = await _entry_for(request, entry_id, token if isinstance(token, str) else "")
    if view is None:
        return _entry_not_found(request)
    await waitlist.leave(_box(request).db, view.entry.id)
    return _message(
        request,
        200,
        "You have left the waiting list",
        "You will get no more emails about these tickets; any offer you held goes to the next person in line.",
        link=(f"/e/{view.entry.event_id}", "Back to the event"),
    )
