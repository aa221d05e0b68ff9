"""An event's live dashboard (owners and managers): per ticket type sold, held, available and revenue; gross, tips,
refunds and net; sales over time (server-drawn SVG); the latest orders; checked in and total per check-in list.
``console-live.js`` listens to ``/manage/events/{id}/stream``: the event's topic (the same as the public
availability stream) and its orders' status changes (``event_sales_topic``: ``order.*``, which carry the refunds that
move no ticket), on whose messages it swaps in ``/manage/events/{id}/live`` (the figures alone), and the topics of
the event's check-in lists, after whose messages the stream sends ``checkin.counts`` (the counts of every list, at
most once a second) for the script to write into the check-in table."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from boxoffice import money
from boxoffice.accounts.roles import Role
from boxoffice.checkin import status as checkin_status
from boxoffice.checkin.rules import Scanner
from boxoffice.errors import InvalidInput, InvalidTransition
from boxoffice.events import service as events
from boxoffice.events.models import Event
from boxoffice.ticketing.reports import dashboard
from boxoffice.topics import checkin_list_topic, event_sales_topic, event_topic
from boxoffice.web.api.streams import _stream
from boxoffice.web.console.access import ConsoleRoute, Member, OwnerOrManager, _box, member_still_valid
from boxoffice.web.console.chart import sales_chart
from boxoffice.web.console.forms import ConsoleForm
from boxoffice.web.console.render import message_page, render
from boxoffice.web.pages.render import _when

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)

NOTICES = {
    "created": "Event created. Add its ticket types below.",
    "saved": "Event saved.",
    "ticket-created": "Ticket type created.",
    "ticket-saved": "Ticket type saved.",
    "ticket-moved": "Ticket type moved: buyers see the ticket types in this order.",
    "published": "Event published: buyers can see it and buy tickets.",
    "paused": "Sales paused: the page stays visible, checkout is closed until you resume.",
    "resumed": "Sales resumed.",
}
# The quick status actions the dashboard offers for each status (events.rules.STATUS_ACTIONS), with their words.
STATUS_BUTTONS: dict[str, list[tuple[str, str]]] = {
    "draft": [("publish", "Publish")],
    "published": [("pause", "Pause sales")],
    "sales_paused": [("resume", "Resume sales")],
}
DONE = {"publish": "published", "pause": "paused", "resume": "resumed"}
COUNTS_EVERY = 1.0  # seconds: the check-in counts are sent again at most this often while check-ins come in


async def owned_event(request: Request, member: Member, event_id: str) -> Event:
    """The member's organizer's event; another organizer's, or none, is NotFound (the route class's 404 page)."""
    return await events.get_event(_box(request).db, event_id[:64], organizer_id=member.organizer_id)


async def _figures(request: Request, event: Event) -> dict[str, Any]:
    board = await dashboard(_box(request).db, event)
    currency = event.currency or "usd"

    def fmt(cents: int) -> str:
        return money.format_money(cents, currency)

    return {
        "event": event,
        "when": _when(event),
        "board": board,
        "fmt": fmt,
        "chart": sales_chart(board.chart, currency),
        "status_buttons": STATUS_BUTTONS.get(event.status, []),
    }


@router.get("/manage/events/{event_id}")
async def dashboard_page(
    request: Request,
    event_id: str,
    member: OwnerOrManager,
    done: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    event = await owned_event(request, member, event_id)
    context = await _figures(request, event)
    checkins = await checkin_status.event_counts(_box(request).db, event.id, _organizer(member, event))
    return render(
        request, "console/dashboard.html", {**context, "checkins": checkins, "notice": NOTICES.get(done or "")}
    )


def _organizer(member: Member, event: Event) -> Scanner:
    """The dashboard reads the check-in counts as the event's organizer (an owner or manager: the route's rule)."""
    return Scanner(organizer_id=member.organizer_id, event_id=event.id, can_manage=True)


@router.post("/manage/events/{event_id}/status")
async def change_status(request: Request, event_id: str, member: OwnerOrManager) -> Response:
    """Publish, pause or resume (a button on the dashboard); a stale button changes nothing and says why."""
    event = await owned_event(request, member, event_id)
    action = (await ConsoleForm.read(request)).get("action")
    try:
        await events.change_status(_box(request).db, event.id, action, organizer_id=member.organizer_id)
    except (InvalidTransition, InvalidInput):
        return message_page(
            request,
            409,
            "Nothing was changed",
            "The event's status changed since this page was shown. Reload its dashboard to see what you can do now.",
            link=(f"/manage/events/{event.id}", "Back to the dashboard"),
        )
    return RedirectResponse(f"/manage/events/{event.id}?done={DONE[action]}", status_code=303)


@router.get("/manage/events/{event_id}/live")
async def dashboard_figures(request: Request, event_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    return render(request, "console/_dashboard_figures.html", await _figures(request, event))


@router.get("/manage/events/{event_id}/stream")
async def dashboard_stream(request: Request, event_id: str, member: OwnerOrManager) -> Response:
    event = await owned_event(request, member, event_id)
    db, scanner = _box(request).db, _organizer(member, event)
    counted = await checkin_status.event_counts(db, event.id, scanner)

    async def snapshot() -> list[dict[str, Any]]:
        counts = [
            {"id": st.list_id, "checked_in": st.checked_in, "duplicates": st.duplicates, "total": st.total}
            for _, st in await checkin_status.event_counts(db, event.id, scanner)
        ]
        return [{"type": "hello", "event_id": event.id}, {"type": "checkin.counts", "lists": counts}]

    topics = (event_topic(event.id), event_sales_topic(event.id), *(checkin_list_topic(lst.id) for lst, _ in counted))
    # the stream ends once this session no longer works for an owner or manager of the event's organizer
    still_valid = member_still_valid(request, member, Role.OWNER, Role.MANAGER)
    return _stream(request, _box(request), topics, snapshot, settle=COUNTS_EVERY, is_valid=still_valid)
