"""Events in the console: create and edit an event (owners and managers); the list itself is ``home``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from boxoffice.checkin.lists import ensure_default_list
from boxoffice.errors import InvalidInput
from boxoffice.events import service as events
from boxoffice.events.models import Event
from boxoffice.web.console.access import ConsoleRoute, Member, OwnerOrManager, _box
from boxoffice.web.console.event_form import NEW_EVENT_VALUES, STATUS_LABELS, event_input, event_values, zone_names
from boxoffice.web.console.forms import ConsoleForm
from boxoffice.web.console.render import render

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)


def _form_page(request: Request, form: ConsoleForm, *, event: Event | None = None, status: int = 200) -> Response:
    context = {
        "form": form,
        "event": event,
        "zones": zone_names(),
        "statuses": STATUS_LABELS,
        "server_hold": _box(request).settings.hold_minutes,
    }
    return render(request, "console/event_form.html", context, status=status)


@router.get("/manage/events/new")
async def new_event(request: Request, member: OwnerOrManager) -> Response:
    return _form_page(request, ConsoleForm(dict(NEW_EVENT_VALUES)))


@router.post("/manage/events/new")
async def create_event(request: Request, member: OwnerOrManager) -> Response:
    form = await ConsoleForm.read(request)
    try:
        person = await events.get_person(_box(request).db, member.organizer_id)
        data = event_input(form, creating=True)
        event = await events.create_event(_box(request).db, person.email, data)
        await ensure_default_list(_box(request).db, event.id)  # its door list from the start
    except InvalidInput as exc:
        form.add_errors(exc.errors)
        return _form_page(request, form.shown(), status=422)
    return RedirectResponse(f"/manage/events/{event.id}?done=created", status_code=303)


async def _event(request: Request, member: Member, event_id: str) -> Event:
    return await events.get_event(_box(request).db, event_id[:64], organizer_id=member.organizer_id)


@router.get("/manage/events/{event_id}/edit")
async def edit_event(request: Request, event_id: str, member: OwnerOrManager) -> Response:
    event = await _event(request, member, event_id)
    return _form_page(request, ConsoleForm(event_values(event)), event=event)


@router.post("/manage/events/{event_id}/edit")
async def update_event(request: Request, event_id: str, member: OwnerOrManager) -> Response:
    event = await _event(request, member, event_id)
    form = await ConsoleForm.read(request)
    try:
        data = event_input(form, creating=False)
        await events.update_event(_box(request).db, event.id, data, organizer_id=member.organizer_id)
    except InvalidInput as exc:
        form.add_errors(exc.errors)
        return _form_page(request, form.shown(), event=event, status=422)
    return RedirectResponse(f"/manage/events/{event.id}?done=saved", status_code=303)
