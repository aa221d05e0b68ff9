"""Check-in in the console, over the ``checkin`` context as the API uses it: an event's check-in lists with their
counts (every role that checks in: owners, managers and door members), each with an "Open the scanner" button; the
lists' create, edit and delete, and a list's recent check-ins (device, by hand, flagged duplicate entries) with an
undo button (owners and managers).

"Open the scanner" mints a scanner token of the member's own, tied to their console session
(``checkin.devices.open_member_scanner``), and redirects to the door page with the list and the token in the
fragment (``/door/#list=..&token=..``), as a paired phone's link does: the door page and the API stay as they are
(``web/api/deps.py:get_scanner`` reads the token), and the console's cookie (path ``/manage``) never has to reach
them. Door devices are ``door_devices``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from boxoffice.accounts.roles import Action, roles_permitted
from boxoffice.checkin import lists, status
from boxoffice.checkin.devices import ConsoleSession, open_member_scanner
from boxoffice.checkin.models import CheckinList
from boxoffice.checkin.rules import Scanner
from boxoffice.checkin.undo import undo_checkin
from boxoffice.errors import Conflict, FieldError, InvalidInput, NotFound
from boxoffice.events.models import Event
from boxoffice.ticketing.models import TicketType
from boxoffice.ticketing.ticket_types import list_ticket_types
from boxoffice.web.console.access import ConsoleRoute, Member, OwnerOrManager, _box, current_session, require
from boxoffice.web.console.dashboard import owned_event
from boxoffice.web.console.event_form import local_text, parse_local, zone_of
from boxoffice.web.console.forms import ConsoleForm
from boxoffice.web.console.render import render

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)

CheckInMember = Annotated[Member, Depends(require(*roles_permitted(Action.CHECK_IN)))]
RECENT = 50  # check-ins shown on a list's page
NOTICES = {
    "created": "Check-in list added.",
    "saved": "Check-in list saved.",
    "deleted": "Check-in list deleted: it takes no more scans; its check-ins are kept.",
    "undone": "Check-in undone: the ticket may enter again.",
}
PROBLEMS = {"undone-already": "That check-in was undone already: nothing changed."}
RENAME = {"name": "list_name", "starts_at": "opens_at", "ends_at": "closes_at"}  # service field -> form field


def member_scanner(member: Member, event_id: str) -> Scanner:
    """A console member at one event's door: owners and managers manage lists and may undo; door members scan."""
    manages = member.role.permits(Action.MANAGE_EVENTS)
    return Scanner(
        organizer_id=member.organizer_id, event_id=event_id, label=member.email, can_undo=manages, can_manage=manages
    )


def _page_url(event_id: str, list_id: str | None = None) -> str:
    base = f"/manage/events/{event_id}/checkin"
    return base if list_id is None else f"{base}/lists/{list_id}"


async def _types(request: Request, event: Event) -> list[TicketType]:
    return await list_ticket_types(_box(request).db, event.id)


def _list_values(lst: CheckinList, event: Event) -> dict[str, str]:
    return {
        "list_name": lst.name,
        "opens_at": local_text(lst.starts_at, event.timezone),
        "closes_at": local_text(lst.ends_at, event.timezone),
    }


async def _form_fields(request: Request, event: Event) -> tuple[ConsoleForm, list[str], dict[str, Any]]:
    """The list form as the service's fields (``InvalidInput`` for a time that cannot be read)."""
    form = await ConsoleForm.read(request, prefix="list-")
    chosen = [v for v in (await request.form()).getlist("ticket_type_ids") if isinstance(v, str)][:200]
    zone = zone_of(event.timezone) or ZoneInfo("UTC")
    errors: list[FieldError] = []
    opens: datetime | None = parse_local(form.get("opens_at"), zone, "opens_at", errors)
    closes: datetime | None = parse_local(form.get("closes_at"), zone, "closes_at", errors)
    if errors:
        form.add_errors(errors)
    fields = {
        "name": form.get("list_name"),
        "ticket_type_ids": chosen or None,
        "starts_at": opens,
        "ends_at": closes,
    }
    return form, chosen, fields


async def _overview(
    request: Request,
    member: Member,
    event: Event,
    *,
    form: ConsoleForm | None = None,
    chosen: list[str] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    scanner = member_scanner(member, event.id)
    counted = await status.event_counts(_box(request).db, event.id, scanner)
    types = await _types(request, event) if scanner.can_manage else []
    titles = {t.id: t.title for t in types}
    context = {
        "event": event,
        "lists": [
            {"list": lst, "status": st, "types": [titles.get(t, t) for t in lst.ticket_type_ids or []]}
            for lst, st in counted
        ],
        "manages": scanner.can_manage,
        "types": types,
        "form": form or ConsoleForm(prefix="list-"),
        "chosen": chosen or [],
        "notice": notice,
        "zone": event.timezone,
    }
    return render(request, "console/checkin.html", context, status=status_code)


@router.get("/manage/events/{event_id}/checkin")
async def checkin_page(
    request: Request, event_id: str, member: CheckInMember, done: Annotated[str, Query(max_length=32)] = ""
) -> Response:
    event = await owned_event(request, member, event_id)
    return await _overview(request, member, event, notice=NOTICES.get(done))


@router.post("/manage/events/{event_id}/checkin/lists")
async def create_list(request: Request, event_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    form, chosen, fields = await _form_fields(request, event)
    if form.ok:
        try:
            await lists.create_list(_box(request).db, event.id, fields, member_scanner(member, event.id))
        except InvalidInput as exc:
            form.add_errors(exc.errors, rename=_renamed(exc.errors))
        else:
            return RedirectResponse(_page_url(event.id) + "?done=created", status_code=303)
    return await _overview(request, member, event, form=form.shown(), chosen=chosen, status_code=422)


def _renamed(errors: list[FieldError]) -> dict[str, str]:
    return {
        e.field: RENAME.get(e.field, "ticket_type_ids" if e.field.startswith("ticket_type_ids") else e.field)
        for e in errors
    }


async def _list_of_event(request: Request, member: Member, event: Event, list_id: str) -> CheckinList:
    lst, _ = await lists.get_list(_box(request).db, list_id[:64], member_scanner(member, event.id))
    return lst


async def _list_page(
    request: Request,
    member: Member,
    event: Event,
    lst: CheckinList,
    *,
    form: ConsoleForm | None = None,
    chosen: list[str] | None = None,
    duplicates_only: bool = False,
    notice: str | None = None,
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    db = _box(request).db
    scanner = member_scanner(member, event.id)
    records = await status.list_checkins(db, lst.id, scanner, duplicate=True if duplicates_only else None, limit=RECENT)
    zone = zone_of(event.timezone) or ZoneInfo("UTC")
    context = {
        "event": event,
        "lst": lst,
        "counts": await status.list_status(db, lst.id, scanner),
        "records": records,
        "local": lambda moment: moment.astimezone(zone).strftime("%-d %b %H:%M:%S"),
        "duplicates_only": duplicates_only,
        "types": await _types(request, event),
        "form": form or ConsoleForm(_list_values(lst, event), prefix="list-"),
        "chosen": chosen if chosen is not None else list(lst.ticket_type_ids or []),
        "notice": notice,
        "problem": problem,
        "zone": event.timezone,
    }
    return render(request, "console/checkin_list.html", context, status=status_code)


@router.get("/manage/events/{event_id}/checkin/lists/{list_id}")
async def list_page(
    request: Request,
    event_id: str,
    list_id: str,
    member: OwnerOrManager,
    duplicates: Annotated[int, Query(ge=0, le=1)] = 0,
    done: Annotated[str, Query(max_length=32)] = "",
    problem: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    event = await owned_event(request, member, event_id)
    lst = await _list_of_event(request, member, event, list_id)
    return await _list_page(
        request,
        member,
        event,
        lst,
        duplicates_only=bool(duplicates),
        notice=NOTICES.get(done),
        problem=PROBLEMS.get(problem),
    )


@router.post("/manage/events/{event_id}/checkin/lists/{list_id}")
async def update_list(request: Request, event_id: str, list_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    lst = await _list_of_event(request, member, event, list_id)
    form, chosen, fields = await _form_fields(request, event)
    if form.ok:
        try:
            await lists.update_list(_box(request).db, lst.id, fields, member_scanner(member, event.id))
        except InvalidInput as exc:
            form.add_errors(exc.errors, rename=_renamed(exc.errors))
        else:
            return RedirectResponse(_page_url(event.id, lst.id) + "?done=saved", status_code=303)
    return await _list_page(request, member, event, lst, form=form.shown(), chosen=chosen, status_code=422)


@router.post("/manage/events/{event_id}/checkin/lists/{list_id}/delete")
async def delete_list(request: Request, event_id: str, list_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    await lists.delete_list(_box(request).db, list_id[:64], member_scanner(member, event.id))
    return RedirectResponse(_page_url(event.id) + "?done=deleted", status_code=303)


@router.post("/manage/events/{event_id}/checkin/checkins/{checkin_id}/undo")
async def undo(request: Request, event_id: str, checkin_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    back = (await ConsoleForm.read(request)).get("list_id")[:64]
    try:
        undone = await undo_checkin(_box(request).db, checkin_id[:64], member_scanner(member, event.id))
    except Conflict:
        if not back:
            raise NotFound("check-in not found") from None
        return RedirectResponse(_page_url(event.id, back) + "?problem=undone-already", status_code=303)
    return RedirectResponse(_page_url(event.id, undone.list_id) + "?done=undone", status_code=303)


@router.post("/manage/events/{event_id}/checkin/lists/{list_id}/scanner")
async def open_scanner(request: Request, event_id: str, list_id: str, member: CheckInMember) -> Response:
    """The door page with a scanner token of this member's own (see the module's docstring)."""
    event = await owned_event(request, member, event_id)
    view = current_session(request)
    if view is None:  # the route class read it: a member always has one
        raise NotFound("no session")
    created = await open_member_scanner(
        _box(request).db,
        list_id[:64],
        member_scanner(member, event.id),
        ConsoleSession(view.user_id, view.session_id, member.email, view.expires_at),
    )
    return RedirectResponse(f"/door/#list={created.device.list_id}&token={created.token}", status_code=303)
