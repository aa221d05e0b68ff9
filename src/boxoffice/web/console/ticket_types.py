"""Ticket types in the console (owners and managers): create and edit all three pricing models through the same
service as the API (``ticketing.ticket_types``: the same checks and error codes), with a preview of what a buyer
pays: a "Preview" button (no JavaScript needed) and ``.../ticket-types/preview``, which ``ticket-preview.js``
calls as the form changes. Order on the buyer page, in the API and here: ``ticket_types.SHOWN_ORDER`` (``position``,
lowest first); the dashboard's Up and Down buttons (``.../move``) swap a ticket type with its neighbour."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from boxoffice.errors import InvalidInput, NotFound
from boxoffice.events.models import Event
from boxoffice.ticketing import ticket_types as service
from boxoffice.ticketing.models import TicketType
from boxoffice.web.console.access import ConsoleRoute, OwnerOrManager, _box
from boxoffice.web.console.dashboard import owned_event
from boxoffice.web.console.forms import ConsoleForm
from boxoffice.web.console.render import message_page, render
from boxoffice.web.console.ticket_type_form import (
    MAX_TIERS,
    Preview,
    add_service_errors,
    preview,
    ticket_fields,
    ticket_values,
)

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)
STEPS = {"up": -1, "down": 1}
MODELS = [
    ("fixed", "Fixed price"),
    ("flexible", "Pay what you want (a minimum, a suggested price)"),
    ("dynamic", "Tiers (the price changes with tickets sold or with dates)"),
]


def _page(
    request: Request,
    event: Event,
    form: ConsoleForm,
    *,
    ticket: TicketType | None = None,
    shown: Preview | None = None,
    status: int = 200,
) -> Response:
    context = {
        "event": event,
        "form": form,
        "ticket": ticket,
        "models": MODELS,
        "tiers": range(MAX_TIERS),
        "preview": shown,
        "currency": (event.currency or "usd").upper(),
    }
    return render(request, "console/ticket_type_form.html", context, status=status)


async def _submit(request: Request, event: Event, ticket: TicketType | None, member_org: str) -> Response:
    form = await ConsoleForm.read(request)
    currency = event.currency or "usd"
    try:
        fields = ticket_fields(form, event)
        if form.get("action") == "preview":
            shown = preview(fields, event, sold=ticket.sold_count if ticket else 0)
            return _page(request, event, form.shown(), ticket=ticket, shown=shown)
        if ticket is None:
            await service.create_ticket_type(_box(request).db, event.id, fields, organizer_id=member_org)
            done = "ticket-created"
        else:
            fields.pop("currency")
            await service.update_ticket_type(_box(request).db, ticket.id, fields, organizer_id=member_org)
            done = "ticket-saved"
    except InvalidInput as exc:
        add_service_errors(form, exc.errors, currency)
        return _page(request, event, form.shown(), ticket=ticket, status=422)
    return RedirectResponse(f"/manage/events/{event.id}?done={done}", status_code=303)


@router.get("/manage/events/{event_id}/ticket-types/new")
async def new_ticket_type(request: Request, event_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    return _page(request, event, ConsoleForm({"pricing_model": "fixed", "quantity": "100", "position": "0"}))


@router.post("/manage/events/{event_id}/ticket-types/new")
async def create_ticket_type(request: Request, event_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    return await _submit(request, event, None, member.organizer_id)


async def _ticket(request: Request, event: Event, ticket_id: str, organizer_id: str) -> TicketType:
    ticket = await service.get_ticket_type(_box(request).db, ticket_id[:64], organizer_id=organizer_id)
    if ticket.event_id != event.id:
        raise NotFound("ticket type not found")
    return ticket


@router.get("/manage/events/{event_id}/ticket-types/{ticket_id}/edit")
async def edit_ticket_type(request: Request, event_id: str, ticket_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    ticket = await _ticket(request, event, ticket_id, member.organizer_id)
    return _page(request, event, ConsoleForm(ticket_values(ticket, event)), ticket=ticket)


@router.post("/manage/events/{event_id}/ticket-types/{ticket_id}/edit")
async def update_ticket_type(request: Request, event_id: str, ticket_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    ticket = await _ticket(request, event, ticket_id, member.organizer_id)
    return await _submit(request, event, ticket, member.organizer_id)


@router.post("/manage/events/{event_id}/ticket-types/{ticket_id}/move")
async def move_ticket_type(request: Request, event_id: str, ticket_id: str, member: OwnerOrManager) -> Response:
    """Up or down one place (a button beside each ticket type on the dashboard); anything else changes nothing."""
    event = await owned_event(request, member, event_id)
    ticket = await _ticket(request, event, ticket_id, member.organizer_id)
    step = STEPS.get(str((await ConsoleForm.read(request)).get("direction")))
    if step is None:
        return message_page(
            request,
            422,
            "Nothing was changed",
            "Choose Up or Down beside a ticket type.",
            link=(f"/manage/events/{event.id}", "Back to the dashboard"),
        )
    await service.move_ticket_type(_box(request).db, ticket.id, step, organizer_id=member.organizer_id)
    return RedirectResponse(f"/manage/events/{event.id}?done=ticket-moved#types-heading", status_code=303)


@router.post("/manage/events/{event_id}/ticket-types/preview")
async def preview_fragment(request: Request, event_id: str, member: OwnerOrManager) -> Response:
    """The preview alone (for the form's script): the table, or the problems in words."""
    event = await owned_event(request, member, event_id)
    form = await ConsoleForm.read(request)
    shown: Preview | None = None
    try:
        shown = preview(ticket_fields(form, event), event)
    except InvalidInput as exc:
        add_service_errors(form, exc.errors, event.currency or "usd")
    return render(request, "console/_ticket_preview.html", {"preview": shown, "form": form})
