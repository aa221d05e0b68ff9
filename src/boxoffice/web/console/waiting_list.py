"""An event's waiting lists (owners and managers), over ``ticketing.waitlist`` and ``ticketing.waitlist_offers`` as
the API uses them: per ticket type its entries in the order they joined (place, name, email, quantity, joined,
state), their offers (sent, expires, bought, expired and passed on, left), the conversions (offers that became paid
orders) and the counts; "send an offer now" to the next entry or a chosen one (``offer_by_hand``); the list switched
off or on per ticket type (``ticket_types.update_ticket_type``, the API's ``waiting_list`` flag).

Switched off with people waiting (the choice, said on the page): nobody new can join; the tickets held back for the
list go on sale at once, and tickets that come back later go to the public; the entries stay in their order without
offers (an offer can still be sent by hand); offers already sent hold until they are used or expire. Switched on
again, the entries still waiting get the next tickets that come back, in order."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from boxoffice.errors import Conflict, NotFound, SoldOut
from boxoffice.events.models import Event
from boxoffice.ticketing import ticket_types as ticket_service
from boxoffice.ticketing import waitlist, waitlist_offers
from boxoffice.ticketing.models import TicketType
from boxoffice.ticketing.waitlist import EntryView
from boxoffice.web.console.access import ConsoleRoute, OwnerOrManager, _box
from boxoffice.web.console.dashboard import owned_event
from boxoffice.web.console.forms import ConsoleForm
from boxoffice.web.console.render import message_page, render
from boxoffice.web.console.voucher_form import shown_time

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)
NOTICES = {
    "offered": "Offer sent: an email with its code is on its way.",
    "on": "Waiting list switched on: tickets that come back go to the people waiting first.",
    "off": "Waiting list switched off: nobody new can join and returned tickets go on sale.",
}
STATES = {
    "waiting": "waiting",
    "offered": "offer sent",
    "converted": "bought",
    "left": "left the list",
    "expired": "offer expired, passed on",
}


@dataclass
class ListView:
    """One ticket type's waiting list as the page shows it."""

    ticket: TicketType
    entries: list[EntryView] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    tickets_waiting: int = 0  # tickets the waiting entries ask for

    @property
    def next_entry(self) -> EntryView | None:
        return next((v for v in self.entries if v.position == 1), None)

    @property
    def offers(self) -> int:
        return sum(1 for v in self.entries if v.entry.offered_at is not None)


def _views(tickets: list[TicketType], entries: list[EntryView]) -> list[ListView]:
    lists = {tt.id: ListView(tt) for tt in tickets}
    for view in entries:
        shown = lists.get(view.entry.ticket_type_id)
        if shown is None:
            continue  # a deleted ticket type's list
        shown.entries.append(view)
        shown.counts[view.entry.status] += 1
        if view.entry.status == "waiting":
            shown.tickets_waiting += view.entry.quantity
    return list(lists.values())


def _duration(minutes: int) -> str:
    """``1440`` -> ``24 hours``, ``90`` -> ``90 minutes``."""
    if minutes % 60:
        return f"{minutes} minutes"
    return "1 hour" if minutes == 60 else f"{minutes // 60} hours"


async def _page(
    request: Request, event: Event, *, notice: str | None = None, problem: str | None = None, status: int = 200
) -> Response:
    db = _box(request).db
    tickets = await ticket_service.list_ticket_types(db, event.id)
    lists = _views(tickets, await waitlist.list_entries(db, event.id))

    def when(value: datetime | None) -> str:
        return shown_time(value, event.timezone)

    context = {
        "event": event,
        "lists": lists,
        "states": STATES,
        "when": when,
        "notice": notice,
        "problem": problem,
        "offer_time": _duration(event.waiting_list_offer_minutes),
    }
    return render(request, "console/waiting_list.html", context, status=status)


@router.get("/manage/events/{event_id}/waiting-list")
async def waiting_list_page(
    request: Request, event_id: str, member: OwnerOrManager, done: Annotated[str, Query(max_length=32)] = ""
) -> Response:
    event = await owned_event(request, member, event_id)
    return await _page(request, event, notice=NOTICES.get(done))


@router.post("/manage/events/{event_id}/waiting-list/offer")
async def send_offer(request: Request, event_id: str, member: OwnerOrManager) -> Response:
    """Send the chosen entry (the next one, from its list's button) its offer now, whatever its place."""
    event = await owned_event(request, member, event_id)
    form = await ConsoleForm.read(request)
    db = _box(request).db
    entry = await waitlist.get_entry(db, form.get("entry_id")[:64], organizer_id=member.organizer_id)
    if entry.entry.event_id != event.id:
        raise NotFound("waiting-list entry not found")
    try:
        await waitlist_offers.offer_by_hand(db, entry.entry.id, organizer_id=member.organizer_id)
    except SoldOut as exc:
        problem = (
            f"Not enough tickets to offer {entry.entry.quantity}: only {exc.available} can be offered now. "
            "Raise the ticket type's quantity, or wait for tickets to come back."
        )
        return await _page(request, event, problem=problem, status=409)
    except Conflict:
        problem = "This entry has an offer already, bought, or left the list: only a waiting entry, or one whose "
        problem += "offer expired, can be sent one. The page shows it as it is now."
        return await _page(request, event, problem=problem, status=409)
    return RedirectResponse(f"/manage/events/{event.id}/waiting-list?done=offered", status_code=303)


@router.post("/manage/events/{event_id}/waiting-list/switch")
async def switch(request: Request, event_id: str, member: OwnerOrManager) -> Response:
    """Switch a ticket type's waiting list on or off (what happens to the people waiting: the module's docstring)."""
    event = await owned_event(request, member, event_id)
    form = await ConsoleForm.read(request)
    db = _box(request).db
    ticket = await ticket_service.get_ticket_type(db, form.get("ticket_id")[:64], organizer_id=member.organizer_id)
    if ticket.event_id != event.id:
        raise NotFound("ticket type not found")
    if form.get("to") not in ("on", "off"):
        return message_page(request, 400, "Nothing was changed", "Please use the page's buttons to switch the list.")
    on = form.get("to") == "on"
    await ticket_service.update_ticket_type(db, ticket.id, {"waiting_list": on}, organizer_id=member.organizer_id)
    return RedirectResponse(f"/manage/events/{event.id}/waiting-list?done={'on' if on else 'off'}", status_code=303)
